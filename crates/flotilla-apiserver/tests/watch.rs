//! Watch streams and discovery documents.

mod common;

use common::*;
use serde_json::json;

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn watch_from_resource_version_with_bookmarks_and_timeout() {
    let server = start().await;
    let first = send_json(&server, "POST", CONFIGMAPS, &configmap("a", json!({}))).await;
    let version = resource_version(&first.body);

    let mut stream = watch(&server, &format!("{CONFIGMAPS}?watch=true&resourceVersion={version}&allowWatchBookmarks=true&timeoutSeconds=5")).await;
    assert_eq!(stream.code, 200);
    send_json(&server, "POST", CONFIGMAPS, &configmap("b", json!({}))).await;
    send_json(
        &server,
        "POST",
        "/api/v1/namespaces/kube-system/configmaps",
        &configmap("elsewhere", json!({})),
    )
    .await;
    let deleted = request(
        &server,
        "DELETE",
        &format!("{CONFIGMAPS}/a"),
        "",
        Vec::new(),
    )
    .await;
    assert_eq!(deleted.code, 200);

    let added = stream.next_change().await.expect("ADDED");
    assert_eq!(
        (
            added["type"].as_str(),
            added["object"]["metadata"]["name"].as_str()
        ),
        (Some("ADDED"), Some("b"))
    );
    let removed = stream.next_change().await.expect("DELETED");
    assert_eq!(
        (
            removed["type"].as_str(),
            removed["object"]["metadata"]["name"].as_str()
        ),
        (Some("DELETED"), Some("a"))
    );
    // Bookmarks arrive (interval 100 ms in tests) and carry a resourceVersion.
    let bookmark = loop {
        let event = stream.next().await.expect("bookmark");
        if event["type"] == "BOOKMARK" {
            break event;
        }
    };
    assert!(bookmark["object"]["metadata"]["resourceVersion"]
        .as_str()
        .is_some());
    server.shutdown().await;
}

#[tokio::test]
async fn watch_without_version_lists_first_and_closes_at_timeout() {
    let server = start().await;
    send_json(
        &server,
        "POST",
        CONFIGMAPS,
        &configmap("existing", json!({})),
    )
    .await;
    let mut stream = watch(&server, &format!("{CONFIGMAPS}?watch=1&timeoutSeconds=1")).await;
    let initial = stream.next_change().await.expect("initial ADDED");
    assert_eq!(initial["object"]["metadata"]["name"], "existing");
    // The server closes the stream after timeoutSeconds.
    assert!(stream.next_change().await.is_none());

    let mut initial_events = watch(&server, &format!("{CONFIGMAPS}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2")).await;
    let added = initial_events.next().await.expect("ADDED");
    assert_eq!(added["type"], "ADDED");
    let end = initial_events.next().await.expect("BOOKMARK");
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn expired_resource_version_yields_410_inside_the_stream() {
    let server = start().await;
    let created = send_json(&server, "POST", CONFIGMAPS, &configmap("x", json!({}))).await;
    let version = resource_version(&created.body);
    send_json(&server, "POST", CONFIGMAPS, &configmap("y", json!({}))).await;
    server.state().store.compact(version + 1);
    let mut stream = watch(
        &server,
        &format!("{CONFIGMAPS}?watch=true&resourceVersion={version}"),
    )
    .await;
    assert_eq!(stream.code, 200);
    let error = stream.next().await.expect("ERROR event");
    assert_eq!(error["type"], "ERROR");
    assert_eq!(error["object"]["code"], 410);
    assert_eq!(error["object"]["reason"], "Expired");
    assert!(stream.next().await.is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn single_object_and_selector_watches() {
    let server = start().await;
    let mut by_name = watch(
        &server,
        &format!("{CONFIGMAPS}?watch=true&fieldSelector=metadata.name%3Dtarget&timeoutSeconds=5"),
    )
    .await;
    let mut by_label = watch(
        &server,
        "/api/v1/configmaps?watch=true&labelSelector=pick%3Dyes&timeoutSeconds=5",
    )
    .await;
    send_json(&server, "POST", CONFIGMAPS, &configmap("other", json!({}))).await;
    send_json(&server, "POST", CONFIGMAPS, &configmap("target", json!({}))).await;
    let mut labelled = configmap("labelled", json!({}));
    labelled["metadata"]["labels"] = json!({"pick": "yes"});
    send_json(
        &server,
        "POST",
        "/api/v1/namespaces/kube-public/configmaps",
        &labelled,
    )
    .await;
    assert_eq!(
        by_name.next_change().await.expect("event")["object"]["metadata"]["name"],
        "target"
    );
    assert_eq!(
        by_label.next_change().await.expect("event")["object"]["metadata"]["name"],
        "labelled"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn discovery_documents() {
    let server = start().await;
    let version = get(&server, "/version").await;
    assert_eq!(version.body["major"], "1");
    let core = get(&server, "/api").await;
    assert_eq!(core.body["versions"], json!(["v1"]));
    let groups = get(&server, "/apis").await;
    let names: Vec<&str> = groups.body["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|group| group["name"].as_str())
        .collect();
    for expected in [
        "apps",
        "batch",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "policy",
        "storage.k8s.io",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "autoscaling",
        "discovery.k8s.io",
    ] {
        assert!(names.contains(&expected), "{expected} missing");
    }
    let apps = get(&server, "/apis/apps/v1").await;
    let deployments = apps.body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|resource| resource["name"] == "deployments")
        .cloned()
        .expect("deployments");
    assert_eq!(deployments["namespaced"], true);
    assert_eq!(deployments["shortNames"], json!(["deploy"]));
    assert_eq!(deployments["categories"], json!(["all"]));
    let core_resources = get(&server, "/api/v1").await;
    let namespaces = core_resources.body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|resource| resource["name"] == "namespaces")
        .cloned()
        .expect("namespaces");
    assert_eq!(namespaces["namespaced"], false);

    let aggregated = request_with_headers(
        &server,
        "GET",
        "/apis",
        &[(
            "accept",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
        )],
        Vec::new(),
    )
    .await;
    assert_eq!(aggregated.body["kind"], "APIGroupDiscoveryList");
    assert_eq!(aggregated.body["apiVersion"], "apidiscovery.k8s.io/v2");
    let leases = aggregated.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["metadata"]["name"] == "coordination.k8s.io")
        .expect("coordination group");
    assert_eq!(leases["versions"][0]["resources"][0]["resource"], "leases");
    assert_eq!(leases["versions"][0]["resources"][0]["scope"], "Namespaced");

    let openapi = get(&server, "/openapi/v3").await;
    let url = openapi.body["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .expect("apps/v1 document")
        .to_string();
    let document = get(&server, &url).await;
    assert!(
        document.body["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
            .is_object()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn objects_leaving_a_selector_are_deleted_for_the_watch() {
    let server = start().await;
    let mut object = configmap("mover", json!({}));
    object["metadata"]["labels"] = json!({"pick": "yes"});
    let created = send_json(&server, "POST", CONFIGMAPS, &object).await;
    let version = resource_version(&created.body);
    let mut stream = watch(&server, &format!("{CONFIGMAPS}?watch=true&labelSelector=pick%3Dyes&resourceVersion={version}&timeoutSeconds=5")).await;
    let path = format!("{CONFIGMAPS}/mover");
    patch(
        &server,
        &path,
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"pick": "no"}}}),
    )
    .await;
    patch(
        &server,
        &path,
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"pick": "yes"}}}),
    )
    .await;
    assert_eq!(stream.next_change().await.expect("left")["type"], "DELETED");
    assert_eq!(
        stream.next_change().await.expect("entered")["type"],
        "ADDED"
    );
    server.shutdown().await;
}
