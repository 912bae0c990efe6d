//! A sync operation that a killed controller left `Running` is resumed, not started again, as
//! Argo CD resumes one (`processRequestedAppOperation`, gitops-engine's `WithInitialState`):
//! the hook it created before the kill (carrying its `startedAt` in
//! `flotilla.dev/sync-operation`) is awaited, not deleted and created again by its
//! `BeforeHookCreation` policy, and the hook it recorded as finished in
//! `status.operationState.syncResult` is not run again. A new operation replaces and runs both.
//!
//! The kill is set up rather than done: the Application arrives with the state a controller
//! killed mid-sync leaves behind (its `operation`, a `Running` operation state recording one
//! hook finished, the other hook created), so the test is deterministic.

mod common;

use common::*;
use serde_json::{json, Value};

const STARTED: &str = "2026-01-01T00:00:00Z";

fn hook(name: &str, policy: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  namespace: resume\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/hook-delete-policy: {policy}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: registry.example.com/{name}:1\n"
    )
}

fn uid(object: &Option<Value>) -> String {
    object
        .as_ref()
        .and_then(|object| object["metadata"]["uid"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_controller_resumes_the_operation_without_running_its_hooks_again() {
    let harness = Harness::start(
        "resumed-sync",
        &[
            (
                "app/kustomization.yaml",
                "resources:\n- config.yaml\n- migrate.yaml\n- seed.yaml\n",
            ),
            (
                "app/config.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: resume\ndata:\n  a: b\n",
            ),
            ("app/migrate.yaml", &hook("migrate", "BeforeHookCreation")),
            // Never deleted by its policy once it succeeds: had it run again, it would be there.
            ("app/seed.yaml", &hook("seed", "HookFailed")),
        ],
    )
    .await;
    harness
        .apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "resume"}}))
        .await;
    // What the killed controller left: the hook `migrate` it created for this operation…
    let migrate = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "migrate",
            "namespace": "resume",
            "annotations": {
                "argocd.argoproj.io/hook": "PreSync",
                "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
                "flotilla.dev/sync-operation": STARTED
            }
        },
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "main", "image": "registry.example.com/migrate:1"}
        ]}}}
    });
    let created = Some(harness.apply(&migrate).await);
    // …and the operation, recorded Running with `seed` finished.
    let operation = json!({"sync": {"prune": true}, "initiatedBy": {"username": "tester"}});
    let mut application = app_manifest("resumed", "app", "resume", json!({}));
    application["operation"] = operation.clone();
    application["status"] = json!({
        "operationState": {
            "operation": operation,
            "phase": "Running",
            "message": "waiting for hook batch/Job/migrate",
            "startedAt": STARTED,
            "syncResult": {
                "revision": harness.head(),
                "resources": [{
                    "group": "batch", "version": "v1", "kind": "Job", "namespace": "resume",
                    "name": "seed", "syncPhase": "PreSync", "hookType": "PreSync",
                    "status": "Synced", "hookPhase": "Succeeded", "message": "job completed"
                }]
            }
        }
    });
    harness.apply(&application).await;

    let done = harness
        .wait_app("resumed", "the resumed operation to finish", |app| {
            app["status"]["operationState"]["phase"] == "Succeeded"
        })
        .await;
    let state = &done["status"]["operationState"];
    assert_eq!(state["startedAt"], STARTED, "{state:#}");
    let hooks: Vec<(&str, &str)> = state["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["hookType"].is_string())
        .map(|entry| {
            (
                entry["name"].as_str().unwrap_or_default(),
                entry["hookPhase"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(hooks.contains(&("seed", "Succeeded")), "{hooks:?}");
    assert!(hooks.contains(&("migrate", "Succeeded")), "{hooks:?}");
    let adopted = harness
        .get("batch/v1", "Job", Some("resume"), "migrate")
        .await;
    assert_eq!(uid(&adopted), uid(&created), "migrate was created again");
    assert!(
        harness
            .get("batch/v1", "Job", Some("resume"), "seed")
            .await
            .is_none(),
        "seed was run again"
    );
    assert!(harness
        .get("v1", "ConfigMap", Some("resume"), "settings")
        .await
        .is_some());

    // A new operation runs both hooks: `migrate` replaced, `seed` created.
    harness
        .edit(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "resumed",
            json!({"operation": {"sync": {"prune": true}, "initiatedBy": {"username": "tester-again"}}}),
        )
        .await;
    harness
        .wait_app("resumed", "the new operation to finish", |app| {
            app["status"]["operationState"]["phase"] == "Succeeded"
                && app["status"]["operationState"]["startedAt"] != STARTED
                && app["operation"].is_null()
        })
        .await;
    let replaced = harness
        .get("batch/v1", "Job", Some("resume"), "migrate")
        .await;
    assert!(replaced.is_some());
    assert_ne!(
        uid(&replaced),
        uid(&created),
        "a new operation replaces the hook"
    );
    assert!(harness
        .get("batch/v1", "Job", Some("resume"), "seed")
        .await
        .is_some());
    harness.stop().await;
}
