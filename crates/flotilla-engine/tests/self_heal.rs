//! Self-heal with a timeout (`EngineConfig::self_heal_timeout`, Argo CD's
//! `--self-heal-timeout-seconds`): an out-of-band edit is first reported, the Application and
//! the drifted object OutOfSync, and repaired only once the timeout has passed since the drift
//! was seen; the Application is Synced again after the repair.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"#;

const TIMEOUT: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_reported_out_of_sync_until_the_self_heal_timeout_repairs_it() {
    let harness = Harness::start_with(
        "self-heal",
        &[
            ("app/kustomization.yaml", "resources:\n- deployment.yaml\n"),
            ("app/deployment.yaml", DEPLOYMENT),
        ],
        |config| config.self_heal_timeout = TIMEOUT,
    )
    .await;
    harness
        .apply(&app_manifest(
            "web",
            "app",
            "shop",
            json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;
    // The first sync (a new revision) does not wait.
    let synced = harness
        .wait_app("web", "the first sync", synced_and_healthy)
        .await;
    let first_sync = synced["status"]["operationState"]["startedAt"].clone();

    let edited = Instant::now();
    harness
        .edit(
            "apps/v1",
            "Deployment",
            Some("shop"),
            "web",
            json!({"spec": {"replicas": 9}}),
        )
        .await;
    // Reported first: the Application OutOfSync, naming the drifted Deployment, no sync run yet.
    let drifted = harness
        .wait_app("web", "OutOfSync before the self-heal", |application| {
            application["status"]["sync"]["status"] == "OutOfSync"
        })
        .await;
    let resources = drifted["status"]["resources"]
        .as_array()
        .expect("resources");
    assert!(
        resources
            .iter()
            .any(|resource| resource["kind"] == "Deployment"
                && resource["name"] == "web"
                && resource["status"] == "OutOfSync"),
        "{resources:?}"
    );
    assert_eq!(
        drifted["status"]["operationState"]["startedAt"], first_sync,
        "no sync before the timeout: {}",
        drifted["status"]
    );
    // Then repaired, not before the timeout, and Synced again.
    harness
        .wait_object(
            "apps/v1",
            "Deployment",
            Some("shop"),
            "web",
            "the drift to be repaired",
            |object| object.is_some_and(|object| object["spec"]["replicas"] == 2),
        )
        .await;
    let waited = edited.elapsed();
    assert!(
        waited >= TIMEOUT,
        "repaired {waited:?} after the edit, before the {TIMEOUT:?} timeout"
    );
    let healed = harness
        .wait_app("web", "Synced after the self-heal", |application| {
            synced_and_healthy(application)
                && application["status"]["operationState"]["startedAt"] != first_sync
        })
        .await;
    assert_eq!(
        healed["status"]["operationState"]["operation"]["initiatedBy"]["automated"], true,
        "{}",
        healed["status"]
    );
    assert!(harness.engine.metrics().drift_repairs() >= 1);
    eprintln!("self-heal: repaired {waited:?} after the edit (timeout {TIMEOUT:?})");
    harness.stop().await;
}
