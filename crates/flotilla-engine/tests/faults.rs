//! Hooks, CRDs, projects and bad input, end to end against the embedded API server: a failing
//! hook fails the sync with its message; an object the server refuses fails the dry run of a
//! multi-step sync before anything is written; a CRD and its custom resources sync together; a denied
//! destination is refused with nothing applied; malformed Applications, unknown projects,
//! unreachable repositories and failing renders become conditions while the controller keeps
//! serving other Applications.

mod common;

use common::*;
use serde_json::json;

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n";

fn job(name: &str, hook: &str, fail: bool) -> String {
    let failure = if fail {
        "\n    flotilla.dev/simulate-failure: \"database unreachable\""
    } else {
        ""
    };
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations:\n    argocd.argoproj.io/hook: {hook}\n    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation{failure}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: busybox\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_in_order_and_a_failing_hook_fails_the_sync() {
    let harness = Harness::start(
        "hooks",
        &[
            ("ok/migrate.yaml", &job("migrate", "PreSync", false)),
            ("ok/cm.yaml", CONFIGMAP),
            ("bad/migrate.yaml", &job("migrate-bad", "PreSync", true)),
            ("bad/cm.yaml", &CONFIGMAP.replace("settings", "after-hook")),
        ],
    )
    .await;
    harness
        .apply(&app_manifest(
            "good-hooks",
            "ok",
            "default",
            json!({"automated": {}}),
        ))
        .await;
    let application = harness
        .wait_app("good-hooks", "the sync with a hook", |application| {
            application["status"]["operationState"]["phase"] == "Succeeded"
        })
        .await;
    let results = application["status"]["operationState"]["syncResult"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let hook = results
        .iter()
        .find(|result| result["kind"] == "Job")
        .expect("hook result");
    assert_eq!(hook["hookType"], "PreSync");
    assert_eq!(hook["hookPhase"], "Succeeded");
    assert!(harness
        .get("v1", "ConfigMap", Some("default"), "settings")
        .await
        .is_some());

    harness
        .apply(&app_manifest(
            "bad-hooks",
            "bad",
            "default",
            json!({"automated": {}}),
        ))
        .await;
    let application = harness
        .wait_app("bad-hooks", "the failed sync", |application| {
            application["status"]["operationState"]["phase"] == "Failed"
        })
        .await;
    let message = application["status"]["operationState"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(message.contains("migrate-bad"), "{message}");
    assert!(message.contains("database unreachable"), "{message}");
    assert!(
        harness
            .get("v1", "ConfigMap", Some("default"), "after-hook")
            .await
            .is_none(),
        "nothing after a failed PreSync hook is applied"
    );
    harness.stop().await;
}

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: kafkatopics.kafka.strimzi.io
spec:
  group: kafka.strimzi.io
  names: {kind: KafkaTopic, plural: kafkatopics, singular: kafkatopic, shortNames: [kt]}
  scope: Namespaced
  versions:
  - name: v1beta2
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

const TOPIC: &str = "apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\nmetadata:\n  name: sales\n  labels:\n    strimzi.io/cluster: events\nspec:\n  partitions: 3\n  replicas: 1\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_and_its_custom_resources_sync_together() {
    let harness = Harness::start(
        "crd",
        &[("events/crd.yaml", CRD), ("events/topic.yaml", TOPIC)],
    )
    .await;
    harness
        .apply(&app_manifest(
            "events",
            "events",
            "streams",
            json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;
    let application = harness
        .wait_app("events", "the CRD and topic", synced_and_healthy)
        .await;
    let topic = harness
        .get(
            "kafka.strimzi.io/v1beta2",
            "KafkaTopic",
            Some("streams"),
            "sales",
        )
        .await
        .expect("topic created");
    assert_eq!(topic["spec"]["partitions"], 3);
    let kinds: Vec<&str> = application["status"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|resource| resource["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"CustomResourceDefinition") && kinds.contains(&"KafkaTopic"),
        "{kinds:?}"
    );
    harness.stop().await;
}

/// The topic in wave 1, optionally marked `SkipDryRunOnMissingResource=true`.
fn later_topic(skip_dry_run: bool) -> String {
    let options = if skip_dry_run {
        "\n    argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true"
    } else {
        ""
    };
    format!(
        "apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\nmetadata:\n  name: sales\n  labels:\n    strimzi.io/cluster: events\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"{options}\nspec:\n  partitions: 3\n  replicas: 1\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_dry_run_on_missing_resource_waits_for_a_crd_from_elsewhere() {
    let skipping = later_topic(true);
    let plain = later_topic(false);
    let harness = Harness::start(
        "skip-dry-run",
        &[
            ("skipping/settings.yaml", CONFIGMAP),
            ("skipping/topic.yaml", &skipping),
            ("plain/settings.yaml", CONFIGMAP),
            ("plain/topic.yaml", &plain),
        ],
    )
    .await;
    let policy = json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]});
    harness
        .apply(&app_manifest("plain", "plain", "plain-ns", policy.clone()))
        .await;
    harness
        .apply(&app_manifest("skipping", "skipping", "skipping-ns", policy))
        .await;
    // Without the option an unknown kind refuses the whole Application: nothing is applied.
    harness
        .wait_app("plain", "the unknown kind refused", |application| {
            application["status"]["conditions"]
                .as_array()
                .is_some_and(|conditions| {
                    conditions.iter().any(|condition| {
                        condition["type"] == "ComparisonError"
                            && condition["message"]
                                .as_str()
                                .is_some_and(|message| message.contains("install its CRD"))
                    })
                })
        })
        .await;
    // With it the sync goes ahead: wave 0 is applied while wave 1 waits for its kind.
    harness
        .wait_object(
            "v1",
            "ConfigMap",
            Some("skipping-ns"),
            "settings",
            "wave 0 applied before the CRD exists",
            |object| object.is_some(),
        )
        .await;
    assert!(
        harness
            .get("v1", "ConfigMap", Some("plain-ns"), "settings")
            .await
            .is_none(),
        "the refused Application applied nothing"
    );
    // The CRD arrives from elsewhere (an operator, here the test): the waiting wave applies.
    let crd = flotilla_core::to_json(&flotilla_core::parse_single_document(CRD).expect("CRD"));
    harness.apply(&crd).await;
    harness
        .wait_app(
            "skipping",
            "the topic synced once its CRD exists",
            synced_and_healthy,
        )
        .await;
    let topic = harness
        .get(
            "kafka.strimzi.io/v1beta2",
            "KafkaTopic",
            Some("skipping-ns"),
            "sales",
        )
        .await
        .expect("topic created");
    assert_eq!(topic["spec"]["partitions"], 3);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_are_enforced_and_bad_input_becomes_conditions() {
    let harness = Harness::start(
        "projects",
        &[
            ("app/cm.yaml", CONFIGMAP),
            ("broken/kustomization.yaml", "resources:\n- missing.yaml\n"),
        ],
    )
    .await;
    harness
        .apply(&json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": "team", "namespace": "argocd"},
            "spec": {"sourceRepos": ["*"], "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "team-*"}]}
        }))
        .await;
    let mut denied = app_manifest("denied", "app", "kube-system", json!({"automated": {}}));
    denied["spec"]["project"] = json!("team");
    harness.apply(&denied).await;
    let mut unknown_project = app_manifest("orphan", "app", "team-a", json!({"automated": {}}));
    unknown_project["spec"]["project"] = json!("nobody");
    harness.apply(&unknown_project).await;
    let mut unreachable = app_manifest("unreachable", "app", "default", json!({"automated": {}}));
    unreachable["spec"]["source"]["repoURL"] = json!("file:///nonexistent/repository.git");
    harness.apply(&unreachable).await;
    harness
        .apply(&app_manifest(
            "broken",
            "broken",
            "default",
            json!({"automated": {}}),
        ))
        .await;
    let mut malformed = app_manifest("malformed", "app", "default", json!({"automated": {}}));
    malformed["spec"]["syncPolicy"] = json!({"automated": "yes please"});
    harness.apply(&malformed).await;
    let mut allowed = app_manifest(
        "allowed",
        "app",
        "team-a",
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]}),
    );
    allowed["spec"]["project"] = json!("team");
    harness.apply(&allowed).await;

    let condition = |name: &'static str, fragment: &'static str| {
        let harness = &harness;
        async move {
            let application = harness
                .wait_app(name, fragment, |application| {
                    application["status"]["conditions"]
                        .as_array()
                        .is_some_and(|conditions| {
                            conditions.iter().any(|condition| {
                                condition["message"]
                                    .as_str()
                                    .is_some_and(|message| message.contains(fragment))
                            })
                        })
                })
                .await;
            assert_eq!(application["status"]["sync"]["status"], "Unknown", "{name}");
        }
    };
    condition(
        "denied",
        "do not match any of the allowed destinations in project 'team'",
    )
    .await;
    condition("orphan", "project nobody which does not exist").await;
    condition("unreachable", "unable to resolve").await;
    condition("broken", "missing.yaml").await;
    condition("malformed", "malformed").await;
    assert!(
        harness
            .get("v1", "ConfigMap", Some("kube-system"), "settings")
            .await
            .is_none(),
        "a denied destination gets nothing"
    );
    // The controller keeps serving the valid Application.
    harness
        .wait_app("allowed", "the allowed Application", synced_and_healthy)
        .await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_object_fails_the_dry_run_before_any_wave_is_applied_and_retries() {
    let rejected = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Valid_Name\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\ndata:\n  a: b\n";
    let later = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: later\n  annotations:\n    argocd.argoproj.io/sync-wave: \"2\"\n";
    let harness = Harness::start(
        "rejected",
        &[
            ("app/first.yaml", CONFIGMAP),
            ("app/rejected.yaml", rejected),
            ("app/later.yaml", later),
        ],
    )
    .await;
    let mut manifest = app_manifest(
        "rejected",
        "app",
        "default",
        json!({"automated": {}, "retry": {"limit": 3, "backoff": {"duration": "200ms", "factor": 1}}}),
    );
    manifest["spec"]["syncPolicy"]["retry"] =
        json!({"limit": 3, "backoff": {"duration": "200ms", "factor": 1}});
    harness.apply(&manifest).await;
    let application = harness
        .wait_app(
            "rejected",
            "the sync to fail on the invalid name",
            |application| application["status"]["operationState"]["phase"] == "Failed",
        )
        .await;
    let message = application["status"]["operationState"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(message.contains("Not_A_Valid_Name"), "{message}");
    assert!(message.contains("failed to apply (dry run)"), "{message}");
    let entries = application["status"]["operationState"]["syncResult"]["resources"]
        .as_array()
        .expect("sync result resources");
    assert!(
        entries
            .iter()
            .any(|entry| entry["name"] == "Not_A_Valid_Name" && entry["status"] == "SyncFailed"),
        "{entries:?}"
    );
    // The dry run refused wave 1 before wave 0 was written.
    for name in ["settings", "later"] {
        assert!(
            harness
                .get("v1", "ConfigMap", Some("default"), name)
                .await
                .is_none(),
            "{name} is not applied when a later wave is refused"
        );
    }
    // Retries with backoff, then fixing the file in Git lets the next sync succeed.
    harness
        .wait_app("rejected", "a retry", |application| {
            application["status"]["operationState"]["retryCount"]
                .as_u64()
                .unwrap_or(0)
                >= 1
        })
        .await;
    harness.commit(
        &[(
            "app/rejected.yaml",
            Some(&rejected.replace("Not_A_Valid_Name", "now-valid")),
        )],
        "fix the name",
    );
    harness
        .wait_app("rejected", "the fixed sync", synced_and_healthy)
        .await;
    for name in ["settings", "now-valid", "later"] {
        assert!(harness
            .get("v1", "ConfigMap", Some("default"), name)
            .await
            .is_some());
    }
    harness.stop().await;
}

/// The dry run before a multi-step sync leaves out objects in a namespace the same sync creates
/// (the server would refuse them only because the namespace is not there yet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_skips_objects_in_a_namespace_the_sync_creates() {
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: fresh\n";
    let inside = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: inside\n  namespace: fresh\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\ndata:\n  a: b\n";
    let harness = Harness::start(
        "dry-run-namespace",
        &[
            ("app/namespace.yaml", namespace),
            ("app/inside.yaml", inside),
        ],
    )
    .await;
    harness
        .apply(&app_manifest(
            "fresh",
            "app",
            "default",
            json!({"automated": {}}),
        ))
        .await;
    harness
        .wait_app("fresh", "the sync into a new namespace", synced_and_healthy)
        .await;
    assert!(harness
        .get("v1", "ConfigMap", Some("fresh"), "inside")
        .await
        .is_some());
    harness.stop().await;
}

/// A value of the wrong type (a replica count written as a word) is refused by the server's
/// apply, naming the field; the sync fails with those words and nothing is stored, on the
/// single-step route and on the dry run of a multi-step sync alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_of_the_wrong_type_fails_the_sync_with_the_servers_words() {
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: three\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: main\n        image: nginx\n";
    let later = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: later\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\n";
    let harness = Harness::start(
        "wrong-type",
        &[
            ("single/web.yaml", deployment),
            (
                "waves/web.yaml",
                &deployment.replace("name: web\n", "name: waved\n"),
            ),
            ("waves/later.yaml", later),
        ],
    )
    .await;
    for (application, path, name) in [("single", "single", "web"), ("waves", "waves", "waved")] {
        harness
            .apply(&app_manifest(
                application,
                path,
                "default",
                json!({"automated": {}}),
            ))
            .await;
        let failed = harness
            .wait_app(
                application,
                "the sync to fail on the replica count",
                |app| app["status"]["operationState"]["phase"] == "Failed",
            )
            .await;
        let message = failed["status"]["operationState"]["message"]
            .as_str()
            .unwrap_or("");
        assert!(
            message.contains(".spec.replicas: expected numeric (int or float), got string"),
            "{application}: {message}"
        );
        assert!(
            harness
                .get("apps/v1", "Deployment", Some("default"), name)
                .await
                .is_none(),
            "{application}: the refused Deployment is not stored"
        );
    }
    assert!(
        harness
            .get("v1", "ConfigMap", Some("default"), "later")
            .await
            .is_none(),
        "the refused dry run writes no later wave"
    );
    harness.stop().await;
}
