//! Destinations the Argo CD way: a second cluster registered as a Secret labelled
//! `argocd.argoproj.io/secret-type: cluster` (name, server, config) receives the objects of an
//! Application whose destination names it, while the controller's own cluster gets nothing; an
//! unregistered destination is a clear condition.

mod common;

use std::time::Duration;

use common::*;
use flotilla_apiserver::{serve, ServerConfig};
use flotilla_engine::Cluster;
use serde_json::json;

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: production\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_deploy_to_clusters_registered_as_secrets() {
    let harness = Harness::start("clusters", &[("app/cm.yaml", CONFIGMAP)]).await;
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

    let mut unknown = app_manifest("to-nowhere", "app", "default", json!({"automated": {}}));
    unknown["spec"]["destination"] =
        json!({"server": "https://nowhere.example.com:6443", "namespace": "default"});
    harness.apply(&unknown).await;
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
    production.shutdown().await;
    harness.stop().await;
}
