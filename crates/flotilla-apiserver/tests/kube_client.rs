//! End to end through kube-rs (the client the engine uses): discovery, get/list/watch,
//! create/replace/delete, every supported patch type, and server-side apply with a conflict and
//! with force.

mod common;

use common::*;
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::discovery::Discovery;
use kube::{Client, Config};
use serde_json::json;

fn client(server: &flotilla_apiserver::RunningServer) -> Client {
    let config = Config::new(server.url.parse().expect("server URL"));
    Client::try_from(config).expect("kube client")
}

fn api_error(result: Result<ConfigMap, kube::Error>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn kube_rs_end_to_end() {
    let server = start().await;
    let client = client(&server);

    let discovery = within(Discovery::new(client.clone()).run())
        .await
        .expect("legacy discovery");
    assert!(discovery.groups().any(|group| group.name() == "apps"));
    let aggregated = within(Discovery::new(client.clone()).run_aggregated())
        .await
        .expect("aggregated discovery");
    assert!(aggregated
        .groups()
        .any(|group| group.name() == "coordination.k8s.io"));

    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut watch = within(configmaps.watch(&WatchParams::default().timeout(10), "0"))
        .await
        .expect("watch")
        .boxed();

    let object: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "kube"}, "data": {"a": "1"}}))
            .expect("ConfigMap");
    let created = within(configmaps.create(&PostParams::default(), &object))
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    let fetched = within(configmaps.get("kube")).await.expect("get");
    assert_eq!(
        fetched
            .data
            .as_ref()
            .and_then(|data| data.get("a"))
            .map(String::as_str),
        Some("1")
    );
    let listed = within(configmaps.list(&ListParams::default()))
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 1);

    let mut replacement = fetched.clone();
    replacement
        .data
        .get_or_insert_with(Default::default)
        .insert("b".to_string(), "2".to_string());
    let replaced = within(configmaps.replace("kube", &PostParams::default(), &replacement))
        .await
        .expect("replace");
    let stale = within(configmaps.replace("kube", &PostParams::default(), &replacement)).await;
    assert_eq!(api_error(stale).code, 409);
    assert_ne!(
        replaced.metadata.resource_version,
        fetched.metadata.resource_version
    );

    let merged = within(configmaps.patch(
        "kube",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"c": "3"}})),
    ))
    .await
    .expect("merge patch");
    assert_eq!(merged.data.as_ref().map(|data| data.len()), Some(3));
    let operations: json_patch::Patch =
        serde_json::from_value(json!([{"op": "remove", "path": "/data/a"}])).expect("JSON patch");
    let patched = within(configmaps.patch(
        "kube",
        &PatchParams::default(),
        &Patch::Json::<()>(operations),
    ))
    .await
    .expect("JSON patch");
    assert!(patched
        .data
        .as_ref()
        .is_some_and(|data| !data.contains_key("a")));
    let strategic = within(configmaps.patch(
        "kube",
        &PatchParams::default(),
        &Patch::Strategic(json!({"data": {"d": "4"}})),
    ))
    .await
    .expect("strategic merge patch of a built-in kind");
    assert_eq!(
        strategic
            .data
            .as_ref()
            .and_then(|data| data.get("d"))
            .map(String::as_str),
        Some("4")
    );

    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"owner": "one"}});
    within(configmaps.patch(
        "applied",
        &PatchParams::apply("one"),
        &Patch::Apply(&applied),
    ))
    .await
    .expect("apply");
    let contested = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"owner": "two"}});
    let conflict = within(configmaps.patch(
        "applied",
        &PatchParams::apply("two"),
        &Patch::Apply(&contested),
    ))
    .await;
    let status = api_error(conflict);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    let forced = within(configmaps.patch(
        "applied",
        &PatchParams::apply("two").force(),
        &Patch::Apply(&contested),
    ))
    .await
    .expect("forced apply");
    assert_eq!(
        forced
            .data
            .as_ref()
            .and_then(|data| data.get("owner"))
            .map(String::as_str),
        Some("two")
    );
    let managers: Vec<String> = forced
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| entry.manager)
        .collect();
    assert!(managers.contains(&"two".to_string()), "{managers:?}");

    within(configmaps.delete("kube", &DeleteParams::default()))
        .await
        .expect("delete");
    let missing = within(configmaps.get("kube")).await;
    assert_eq!(api_error(missing).code, 404);

    // The watch saw the creation first.
    let first = within(watch.try_next())
        .await
        .expect("watch stream")
        .expect("event");
    match first {
        WatchEvent::Added(object) => assert_eq!(object.metadata.name.as_deref(), Some("kube")),
        other => panic!("expected ADDED, got {other:?}"),
    }
    drop(watch);
    server.shutdown().await;
}
