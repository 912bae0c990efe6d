//! Destinations the Argo CD way: a second cluster registered as a Secret labelled
//! `argocd.argoproj.io/secret-type: cluster` (name, server, config) receives the objects of an
//! Application whose destination names it, while the controller's own cluster gets nothing; an
//! unregistered destination is a clear condition. Deleting an Application with the resources
//! finalizer deletes its objects in that cluster, even when the cluster cannot be looked up at
//! first: the finalizer stays until it can.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use flotilla_apiserver::{serve, RunningServer, ServerConfig};
use flotilla_engine::{Cluster, Engine, EngineConfig};
use serde_json::json;

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: production\n";

/// A second API server, registered with the harness's Argo CD namespace as the cluster
/// `production` (a cluster Secret).
async fn production_cluster(harness: &Harness) -> RunningServer {
    let production = tokio::time::timeout(
        DEADLINE,
        serve(ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            insecure_http: true,
            bookmark_interval: Duration::from_millis(200),
            ..ServerConfig::default()
        }),
    )
    .await
    .expect("in time")
    .expect("second server starts");
    harness
        .apply(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "production-cluster", "namespace": "argocd", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "stringData": {"name": "production", "server": production.url, "config": "{\"tlsClientConfig\": {\"insecure\": false}}"}
        }))
        .await;
    production
}

/// Applies the Application `to-nowhere`, whose destination no cluster Secret defines (with
/// `finalizer`, if any), and waits for the condition saying there is no such cluster.
async fn apply_app_to_nowhere(harness: &Harness, finalizer: Option<&str>) {
    let mut manifest = app_manifest("to-nowhere", "app", "default", json!({"automated": {}}));
    manifest["spec"]["destination"] =
        json!({"server": "https://nowhere.example.com:6443", "namespace": "default"});
    if let Some(finalizer) = finalizer {
        manifest["metadata"]["finalizers"] = json!([finalizer]);
    }
    harness.apply(&manifest).await;
    harness
        .wait_app(
            "to-nowhere",
            "a condition about the unknown cluster",
            |application| {
                application["status"]["conditions"][0]["message"]
                    .as_str()
                    .is_some_and(|message| {
                        message.contains("there are no clusters with this server")
                    })
            },
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_deploy_to_clusters_registered_as_secrets() {
    let harness = Harness::start("clusters", &[("app/cm.yaml", CONFIGMAP)]).await;
    let production = production_cluster(&harness).await;
    let mut by_name = app_manifest("to-production", "app", "default", json!({"automated": {}}));
    by_name["spec"]["destination"] = json!({"name": "production", "namespace": "default"});
    harness.apply(&by_name).await;
    harness
        .wait_app(
            "to-production",
            "the sync to the production cluster",
            synced_and_healthy,
        )
        .await;
    let production_cluster = Cluster::new("production", &production.url, client(&production));
    let info = production_cluster
        .resource("v1", "ConfigMap")
        .await
        .expect("kind");
    let deployed = production_cluster
        .get(&info, Some("default"), "settings")
        .await
        .expect("get");
    assert_eq!(
        deployed.expect("deployed to production")["data"]["mode"],
        "production"
    );
    assert!(
        harness
            .get("v1", "ConfigMap", Some("default"), "settings")
            .await
            .is_none(),
        "the controller's own cluster gets nothing"
    );

    apply_app_to_nowhere(&harness, None).await;
    production.shutdown().await;
    harness.stop().await;
}

/// A client of `server` whose first list of the Argo CD cluster Secrets is answered 503 before
/// the server sees it (a transient failure of the destination lookup, as the engine sees one
/// once the client's own retries, below this wrapper, gave up); `failed` counts it.
fn client_failing_the_cluster_lookup_once(
    server: &RunningServer,
    failed: Arc<AtomicU64>,
) -> kube::Client {
    let inner = client(server);
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let inner = inner.clone();
        let failed = failed.clone();
        async move {
            let query = request.uri().query().unwrap_or("");
            let lookup = request.method() == http::Method::GET
                && request.uri().path().ends_with("/namespaces/argocd/secrets")
                && query.contains("secret-type")
                && !query.contains("watch=");
            if lookup && failed.fetch_add(1, Ordering::SeqCst) == 0 {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "injected fault", "reason": "ServiceUnavailable", "code": 503});
                return Ok::<_, tower::BoxError>(
                    http::Response::builder()
                        .status(503)
                        .header("content-type", "application/json")
                        .body(kube::client::Body::from(status.to_string().into_bytes()))?,
                );
            }
            if lookup {
                failed.fetch_sub(1, Ordering::SeqCst);
            }
            Ok(inner.send(request).await?)
        }
    });
    kube::Client::new(service, "default")
}

/// Argo CD keeps the resources finalizer while the destination cannot be reached and deletes
/// there once it can. An engine that starts after the Application was deleted (so it has
/// nothing remembered, no cache of the remote cluster) fails its first lookup of the cluster
/// Secrets: it must neither delete in the controller's own cluster instead (an object there
/// carries the same tracking id) nor remove the finalizer with the remote objects left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_waits_for_a_destination_it_cannot_look_up() {
    let mut harness = Harness::start("clusters-deletion", &[("app/cm.yaml", CONFIGMAP)]).await;
    let production = production_cluster(&harness).await;
    let mut manifest = app_manifest("to-production", "app", "default", json!({"automated": {}}));
    manifest["spec"]["destination"] = json!({"name": "production", "namespace": "default"});
    manifest["metadata"]["finalizers"] = json!(["resources-finalizer.argocd.argoproj.io"]);
    harness.apply(&manifest).await;
    harness
        .wait_app(
            "to-production",
            "the sync to production",
            synced_and_healthy,
        )
        .await;
    // In the controller's own cluster, an object with the same tracking id.
    harness
        .apply(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "default", "annotations": {"argocd.argoproj.io/tracking-id": "to-production:/ConfigMap:default/settings"}},
            "data": {"mode": "home"}
        }))
        .await;

    harness.engine.shutdown();
    let deadline = std::time::Instant::now() + DEADLINE;
    while harness.engine.state_references() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first engine never stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    harness
        .delete(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "to-production",
        )
        .await;
    let failed = Arc::new(AtomicU64::new(0));
    harness.engine = Engine::start(
        Cluster::new(
            "in-cluster",
            &harness.server.url,
            client_failing_the_cluster_lookup_once(&harness.server, failed.clone()),
        ),
        EngineConfig {
            cache_dir: harness.root.join("cache-restarted"),
            repo_poll: Duration::from_millis(300),
            repo_mirrors: vec![(
                harness.repository_url.clone(),
                format!("file://{}", harness.repository.display()),
            )],
            ..EngineConfig::default()
        },
    )
    .await
    .expect("engine starts");

    harness
        .wait_app("to-production", "the Application deleted", |application| {
            application.is_null()
        })
        .await;
    assert_eq!(
        failed.load(Ordering::SeqCst),
        1,
        "the first lookup of the destination failed"
    );
    let production_cluster = Cluster::new("production", &production.url, client(&production));
    let info = production_cluster
        .resource("v1", "ConfigMap")
        .await
        .expect("kind");
    let remote = production_cluster
        .get(&info, Some("default"), "settings")
        .await
        .expect("get");
    assert!(
        remote.is_none_or(|object| object["metadata"]["deletionTimestamp"].is_string()),
        "the Application's object in its destination is deleted before its finalizer is removed"
    );
    let home = harness
        .get("v1", "ConfigMap", Some("default"), "settings")
        .await
        .expect("the controller's own cluster keeps its object");
    assert_eq!(home["data"]["mode"], "home");
    production.shutdown().await;
    harness.stop().await;
}

/// An Application whose destination no cluster Secret defines has nothing to delete: its
/// finalizer goes (as in Argo CD) and nothing in the controller's own cluster is deleted in
/// that cluster's place, though an object there carries its tracking id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_with_an_undefined_destination_deletes_nothing() {
    let harness = Harness::start("clusters-undefined", &[("app/cm.yaml", CONFIGMAP)]).await;
    // An Application of the controller's own cluster: its ConfigMaps are watched there.
    harness
        .apply(&app_manifest(
            "home",
            "app",
            "default",
            json!({"automated": {}}),
        ))
        .await;
    harness
        .wait_app("home", "the sync at home", synced_and_healthy)
        .await;
    harness
        .apply(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "decoy", "namespace": "default", "annotations": {"argocd.argoproj.io/tracking-id": "to-nowhere:/ConfigMap:default/decoy"}},
            "data": {"mode": "home"}
        }))
        .await;
    apply_app_to_nowhere(&harness, Some("resources-finalizer.argocd.argoproj.io")).await;
    harness
        .delete(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "to-nowhere",
        )
        .await;
    harness
        .wait_app("to-nowhere", "the Application deleted", |application| {
            application.is_null()
        })
        .await;
    let decoy = harness
        .get("v1", "ConfigMap", Some("default"), "decoy")
        .await
        .expect("the controller's own cluster keeps its object");
    assert!(decoy["metadata"]["deletionTimestamp"].is_null(), "{decoy}");
    harness.stop().await;
}
