//! A selective sync (`operation.sync.resources`, Argo CD's "sync selected resources"): only the
//! named objects are applied, hooks do not run, and a later full sync applies the rest.

mod common;

use common::*;
use serde_json::json;

fn config(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: value\n")
}

const HOOK: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    argocd.argoproj.io/hook: PreSync\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: busybox\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selective_sync_applies_only_the_named_objects() {
    let harness = Harness::start(
        "selective-sync",
        &[
            (
                "app/kustomization.yaml",
                "resources:\n- first.yaml\n- second.yaml\n- hook.yaml\n",
            ),
            ("app/first.yaml", &config("first")),
            ("app/second.yaml", &config("second")),
            ("app/hook.yaml", HOOK),
        ],
    )
    .await;
    harness
        .apply(&app_manifest(
            "web",
            "app",
            "shop",
            json!({"syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;
    harness
        .wait_app("web", "the first comparison", |application| {
            application["status"]["sync"]["status"] == "OutOfSync"
        })
        .await;
    let info = harness.info("argoproj.io/v1alpha1", "Application").await;
    let request = json!({"operation": {"sync": {"resources": [{"group": "", "kind": "ConfigMap", "name": "first"}]}, "initiatedBy": {"username": "alice"}}});
    harness
        .cluster
        .merge_patch(&info, Some("argocd"), "web", &request)
        .await
        .expect("request a selective sync");
    let application = harness
        .wait_app("web", "the selective sync", |application| {
            application["status"]["operationState"]["phase"] == "Succeeded"
                && application["operation"].is_null()
        })
        .await;
    assert!(
        harness
            .get("v1", "ConfigMap", Some("shop"), "first")
            .await
            .is_some(),
        "the named object is applied"
    );
    assert!(
        harness
            .get("v1", "ConfigMap", Some("shop"), "second")
            .await
            .is_none(),
        "an object not named is left alone"
    );
    assert!(
        harness
            .get("batch/v1", "Job", Some("shop"), "migrate")
            .await
            .is_none(),
        "no hook runs in a selective sync"
    );
    assert_eq!(
        application["status"]["sync"]["status"], "OutOfSync",
        "the rest is still to sync"
    );

    let request = json!({"operation": {"sync": {}, "initiatedBy": {"username": "alice"}}});
    harness
        .cluster
        .merge_patch(&info, Some("argocd"), "web", &request)
        .await
        .expect("request a full sync");
    harness
        .wait_app("web", "the full sync", |application| {
            application["status"]["sync"]["status"] == "Synced"
        })
        .await;
    assert!(harness
        .get("v1", "ConfigMap", Some("shop"), "second")
        .await
        .is_some());
}
