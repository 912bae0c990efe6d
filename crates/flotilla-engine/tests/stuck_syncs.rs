//! Syncs that wait, end to end against the embedded API server: an app-of-apps whose wave holds
//! a child Application that can never become healthy (its project forbids its destination)
//! fails that wave with the child's own error instead of waiting out the wave timeout, and goes
//! on applying later commits (the fix, the child's removal, a child deleted by hand); an
//! automated sync waiting on an object that never becomes ready says so in its status and gives
//! way to a newer commit. The wave timeout is ten minutes here, as in production, so a sync that
//! waits it out fails these tests.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const PROJECT: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: team
  namespace: argocd
  annotations:
    argocd.argoproj.io/sync-wave: "-1"
spec:
  sourceRepos: ["*"]
  destinations:
  - server: https://kubernetes.default.svc
    namespace: team-dev
  clusterResourceWhitelist:
  - group: ""
    kind: Namespace
"#;

/// A child Application in wave 0 (`bad`) or wave 1 (the others, so wave 0 is waited on).
fn child(name: &str, namespace: &str) -> String {
    let wave = if name == "bad" { 0 } else { 1 };
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
  annotations:
    argocd.argoproj.io/sync-wave: "{wave}"
spec:
  project: team
  source:
    repoURL: https://git.example.com/team/repo.git
    targetRevision: main
    path: workloads/{name}
  destination:
    server: https://kubernetes.default.svc
    namespace: {namespace}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
    syncOptions: [CreateNamespace=true]
"#
    )
}

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n")
}

fn long_waves(config: &mut flotilla_engine::EngineConfig) {
    config.wave_timeout = Duration::from_secs(600);
}

fn operation_phase(application: &Value) -> &str {
    application["status"]["operationState"]["phase"]
        .as_str()
        .unwrap_or("")
}

fn at_revision(application: &Value, commit: &str) -> bool {
    application["status"]["sync"]["revision"] == commit
        && application["status"]["operationState"]["syncResult"]["revision"] == commit
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_of_apps_with_a_child_that_cannot_become_healthy_keeps_reconciling() {
    let good = child("good", "team-dev");
    let harness = Harness::start_with(
        "stuck-app-of-apps",
        &[
            (
                "apps/kustomization.yaml",
                "resources:\n- project.yaml\n- good.yaml\n",
            ),
            ("apps/project.yaml", PROJECT),
            ("apps/good.yaml", &good),
            (
                "workloads/good/kustomization.yaml",
                "resources:\n- config.yaml\n",
            ),
            ("workloads/good/config.yaml", &config_map("good")),
            (
                "workloads/bad/kustomization.yaml",
                "resources:\n- config.yaml\n",
            ),
            ("workloads/bad/config.yaml", &config_map("bad")),
        ],
        long_waves,
    )
    .await;
    let mut root = app_manifest(
        "root",
        "apps",
        "argocd",
        json!({"automated": {"prune": true, "selfHeal": true}}),
    );
    root["spec"]["source"]["targetRevision"] = json!("main");
    harness.apply(&root).await;
    let first = harness.head();
    harness
        .wait_app("root", "the root synced", |app| {
            synced_and_healthy(app) && at_revision(app, &first)
        })
        .await;
    harness
        .wait_app("good", "the good child synced", synced_and_healthy)
        .await;
    let reconciled_before = harness.application("root").await["status"]["reconciledAt"].clone();

    // A child whose project does not allow its destination.
    let bad_commit = harness.commit(
        &[
            (
                "apps/kustomization.yaml",
                Some("resources:\n- project.yaml\n- good.yaml\n- bad.yaml\n"),
            ),
            ("apps/bad.yaml", Some(&child("bad", "team-prod"))),
        ],
        "a child the project forbids",
    );
    let bad = harness
        .wait_app("bad", "the bad child reports its error", |app| {
            app["status"]["conditions"][0]["type"] == "InvalidSpecError"
        })
        .await;
    assert!(
        bad["status"]["conditions"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("team-prod")),
        "{bad:#}"
    );
    let root_now = harness
        .wait_app("root", "the root's sync fails on the bad child", |app| {
            app["status"]["sync"]["revision"] == bad_commit && operation_phase(app) == "Failed"
        })
        .await;
    let message = root_now["status"]["operationState"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(
        message.contains("application.argoproj.io/bad cannot become healthy")
            && message.contains("InvalidSpecError"),
        "the failure names the child and its error: {message}"
    );
    assert_ne!(
        root_now["status"]["reconciledAt"], reconciled_before,
        "the root's status is current, not the last good one"
    );
    assert_ne!(root_now["status"]["health"]["status"], "Healthy");

    // The fix is applied.
    let fixed = harness.commit(
        &[("apps/bad.yaml", Some(&child("bad", "team-dev")))],
        "the bad child goes to an allowed namespace",
    );
    harness
        .wait_app("bad", "the fixed child synced", synced_and_healthy)
        .await;
    harness
        .wait_app("root", "the root synced the fix", |app| {
            synced_and_healthy(app)
                && at_revision(app, &fixed)
                && operation_phase(app) == "Succeeded"
        })
        .await;

    // Broken again, then removed from Git: the removal is applied (the child is pruned).
    harness.commit(
        &[("apps/bad.yaml", Some(&child("bad", "team-prod")))],
        "broken again",
    );
    harness
        .wait_app("root", "the root's sync fails again", |app| {
            operation_phase(app) == "Failed"
        })
        .await;
    let removed = harness.commit(
        &[
            (
                "apps/kustomization.yaml",
                Some("resources:\n- project.yaml\n- good.yaml\n"),
            ),
            ("apps/bad.yaml", None),
        ],
        "the bad child goes",
    );
    harness
        .wait_object(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "bad",
            "the removed child pruned",
            |object| object.is_none(),
        )
        .await;
    harness
        .wait_app("root", "the root synced the removal", |app| {
            synced_and_healthy(app) && at_revision(app, &removed)
        })
        .await;

    // A child deleted by hand is created again.
    harness
        .delete(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "good",
        )
        .await;
    harness
        .wait_app("good", "the deleted child re-created and synced", |app| {
            synced_and_healthy(app)
        })
        .await;
    harness.stop().await;
}

const STUCK_POD: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: never-ready
  annotations:
    argocd.argoproj.io/sync-wave: "0"
spec:
  containers:
  - name: main
    image: registry.example.com/never:1
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_sync_reports_what_it_waits_on_and_gives_way_to_a_newer_commit() {
    let later = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: later\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\ndata:\n  a: b\n";
    let harness = Harness::start_with(
        "stuck-wave",
        &[
            ("app/kustomization.yaml", "resources:\n- later.yaml\n"),
            ("app/later.yaml", later),
        ],
        long_waves,
    )
    .await;
    harness
        .apply(&app_manifest(
            "waves",
            "app",
            "waiting",
            json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;
    harness
        .wait_app("waves", "the first sync", synced_and_healthy)
        .await;

    // Wave 0 gains a Pod that never runs (nothing schedules bare Pods here).
    let stuck = harness.commit(
        &[
            (
                "app/kustomization.yaml",
                Some("resources:\n- pod.yaml\n- later.yaml\n"),
            ),
            ("app/pod.yaml", Some(STUCK_POD)),
            ("app/later.yaml", Some(&later.replace("a: b", "a: c"))),
        ],
        "a pod that never becomes ready",
    );
    let running = harness
        .wait_app("waves", "the running sync in the status", |app| {
            operation_phase(app) == "Running"
        })
        .await;
    assert_eq!(running["status"]["sync"]["revision"], json!(stuck));
    assert_eq!(running["status"]["sync"]["status"], "OutOfSync");
    let message = running["status"]["operationState"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(
        message.contains("waiting for pod/never-ready to become healthy"),
        "{message}"
    );

    // The next commit drops the Pod: the waiting sync stops and the new one applies it.
    let fixed = harness.commit(
        &[
            ("app/kustomization.yaml", Some("resources:\n- later.yaml\n")),
            ("app/pod.yaml", None),
        ],
        "no pod",
    );
    harness
        .wait_app("waves", "the newer commit synced", |app| {
            synced_and_healthy(app)
                && at_revision(app, &fixed)
                && operation_phase(app) == "Succeeded"
        })
        .await;
    harness
        .wait_object(
            "v1",
            "Pod",
            Some("waiting"),
            "never-ready",
            "pruned",
            |pod| pod.is_none(),
        )
        .await;
    let config = harness
        .get("v1", "ConfigMap", Some("waiting"), "later")
        .await
        .expect("the later wave applied");
    assert_eq!(config["data"]["a"], "c");
    harness.stop().await;
}
