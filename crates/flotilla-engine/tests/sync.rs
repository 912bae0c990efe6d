//! End to end against the embedded API server: an automated Application syncs, reports status as
//! Argo CD does, follows commits within one poll, prunes (and keeps `Prune=false` objects), and
//! repairs out-of-band edits and deletions.

mod common;

use common::*;
use serde_json::{json, Value};

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

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n";
const KEEP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\n  annotations:\n    argocd.argoproj.io/sync-options: Prune=false\ndata:\n  a: b\n";
const KUSTOMIZATION: &str = "resources:\n- deployment.yaml\n- configmap.yaml\n- keep.yaml\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automated_sync_follows_git_prunes_and_self_heals() {
    let harness = Harness::start(
        "sync",
        &[
            ("app/kustomization.yaml", KUSTOMIZATION),
            ("app/deployment.yaml", DEPLOYMENT),
            ("app/configmap.yaml", CONFIGMAP),
            ("app/keep.yaml", KEEP),
        ],
    )
    .await;
    let first = harness.head();
    harness
        .apply(&app_manifest("web", "app", "shop", json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]})))
        .await;
    let status = harness
        .wait_app("web", "the first sync", synced_and_healthy)
        .await["status"]
        .clone();
    // Status fields as Argo CD writes them.
    assert_eq!(status["sync"]["revision"], json!(first));
    assert_eq!(status["sync"]["comparedTo"]["source"]["path"], "app");
    assert_eq!(status["operationState"]["phase"], "Succeeded");
    assert_eq!(
        status["operationState"]["syncResult"]["revision"],
        json!(first)
    );
    assert_eq!(status["history"].as_array().map(Vec::len), Some(1));
    assert_eq!(status["history"][0]["revision"], json!(first));
    assert_eq!(status["sourceType"], "Kustomize");
    assert!(status["reconciledAt"].is_string());
    assert_eq!(status["summary"]["images"], json!(["nginx:1.27"]));
    let resources = status["resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 3, "{resources:?}");
    let deployment_status = resources
        .iter()
        .find(|resource| resource["kind"] == "Deployment")
        .expect("deployment entry");
    assert_eq!(deployment_status["group"], "apps");
    assert_eq!(deployment_status["namespace"], "shop");
    assert_eq!(deployment_status["status"], "Synced");
    assert_eq!(deployment_status["health"]["status"], "Healthy");
    let deployment = harness
        .get("apps/v1", "Deployment", Some("shop"), "web")
        .await
        .expect("deployed");
    assert_eq!(
        deployment["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"],
        "web:apps/Deployment:shop/web"
    );
    assert!(deployment["metadata"]["managedFields"]
        .as_array()
        .expect("managed fields")
        .iter()
        .any(|entry| entry["manager"] == "flotilla" && entry["operation"] == "Apply"));

    // A commit that changes the overlay is applied within one poll.
    let second = harness.commit(
        &[(
            "app/deployment.yaml",
            Some(&DEPLOYMENT.replace("replicas: 2", "replicas: 4")),
        )],
        "scale",
    );
    harness
        .wait_object(
            "apps/v1",
            "Deployment",
            Some("shop"),
            "web",
            "the new replica count",
            |object| object.is_some_and(|object| object["spec"]["replicas"] == 4),
        )
        .await;
    harness
        .wait_app("web", "the second revision", |application| {
            application["status"]["sync"]["revision"] == json!(second)
                && synced_and_healthy(application)
        })
        .await;

    // A commit that removes files prunes them, except the Prune=false one.
    let third = harness.commit(
        &[
            ("app/configmap.yaml", None),
            ("app/keep.yaml", None),
            (
                "app/kustomization.yaml",
                Some("resources:\n- deployment.yaml\n"),
            ),
        ],
        "remove",
    );
    harness
        .wait_object(
            "v1",
            "ConfigMap",
            Some("shop"),
            "settings",
            "the pruned ConfigMap to go",
            |object| object.is_none(),
        )
        .await;
    let application = harness
        .wait_app("web", "the third revision", |application| {
            application["status"]["sync"]["revision"] == json!(third)
                && application["status"]["operationState"]["syncResult"]["revision"] == json!(third)
        })
        .await;
    assert!(
        harness
            .get("v1", "ConfigMap", Some("shop"), "keep")
            .await
            .is_some(),
        "Prune=false keeps the object"
    );
    let results = application["status"]["operationState"]["syncResult"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        results
            .iter()
            .any(|result| result["name"] == "keep" && result["status"] == "PruneSkipped"),
        "{results:?}"
    );
    let keep_entry = application["status"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|resource| resource["name"] == "keep")
        .cloned()
        .expect("keep listed");
    assert_eq!(keep_entry["requiresPruning"], true);

    // Out-of-band edits are repaired.
    harness
        .edit(
            "apps/v1",
            "Deployment",
            Some("shop"),
            "web",
            json!({"spec": {"replicas": 9}}),
        )
        .await;
    harness
        .wait_object(
            "apps/v1",
            "Deployment",
            Some("shop"),
            "web",
            "the drift to be repaired",
            |object| object.is_some_and(|object| object["spec"]["replicas"] == 4),
        )
        .await;
    // Deletions are repaired.
    harness
        .delete("apps/v1", "Deployment", Some("shop"), "web")
        .await;
    harness
        .wait_object(
            "apps/v1",
            "Deployment",
            Some("shop"),
            "web",
            "the deleted Deployment to come back",
            |object| object.is_some_and(|object| object["metadata"]["deletionTimestamp"].is_null()),
        )
        .await;
    assert!(
        harness.engine.metrics().drift_repairs() >= 2,
        "drift repairs counted"
    );
    let metrics = harness.engine.metrics_text();
    assert!(
        metrics.contains("flotilla_app_info{namespace=\"argocd\",name=\"web\""),
        "{metrics}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_sync_without_automation_and_out_of_sync_reasons() {
    let harness = Harness::start("manual", &[("app/cm.yaml", CONFIGMAP)]).await;
    harness
        .apply(&app_manifest("manual", "app", "default", Value::Null))
        .await;
    let application = harness
        .wait_app("manual", "an OutOfSync comparison", |application| {
            application["status"]["sync"]["status"] == "OutOfSync"
        })
        .await;
    let entry = &application["status"]["resources"][0];
    assert_eq!(entry["status"], "OutOfSync");
    assert!(
        entry["message"]
            .as_str()
            .is_some_and(|message| message.contains("missing")),
        "{entry}"
    );
    assert_eq!(application["status"]["health"]["status"], "Missing");
    assert!(
        harness
            .get("v1", "ConfigMap", Some("default"), "settings")
            .await
            .is_none(),
        "nothing applied without automation"
    );
    // `flotilla app sync` writes an operation; the controller runs it and clears it.
    let info = harness.info("argoproj.io/v1alpha1", "Application").await;
    harness
        .cluster
        .merge_patch(
            &info,
            Some("argocd"),
            "manual",
            &json!({"operation": {"sync": {"prune": true}, "initiatedBy": {"username": "alice"}}}),
        )
        .await
        .expect("request a sync");
    let application = harness
        .wait_app("manual", "the manual sync", |application| {
            application["status"]["operationState"]["phase"] == "Succeeded"
                && application["operation"].is_null()
        })
        .await;
    assert_eq!(
        application["status"]["history"][0]["initiatedBy"]["username"],
        "alice"
    );
    harness
        .wait_app("manual", "Synced", |application| {
            application["status"]["sync"]["status"] == "Synced"
        })
        .await;
    harness.stop().await;
}

/// A kustomization naming a remote base (`https://…//path?ref=`): the base is fetched through
/// the engine's `--repo-mirror` rewrites, as the Application's own repository is, and its
/// objects are applied with the overlay's changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_base_is_fetched_through_the_repository_mirrors() {
    let base = scratch("remote-base-origin");
    git(&base, &["init", "--quiet", "--initial-branch=main"]);
    write(
        &base,
        "config/kustomization.yaml",
        "resources:\n- configmap.yaml\n",
    );
    write(&base, "config/configmap.yaml", CONFIGMAP);
    git(&base, &["add", "--all"]);
    git(&base, &["commit", "--quiet", "-m", "base"]);
    let base_url = format!("file://{}", base.display());
    let harness = Harness::start_with(
        "remote-base",
        &[(
            "overlay/kustomization.yaml",
            "namePrefix: team-\nresources:\n- https://git.example.com/team/base.git//config?ref=main\n",
        )],
        |config| {
            config
                .repo_mirrors
                .push(("https://git.example.com/team/base.git".into(), base_url));
        },
    )
    .await;
    harness
        .apply(&app_manifest(
            "remote",
            "overlay",
            "default",
            json!({"automated": {"prune": true}}),
        ))
        .await;
    let application = harness
        .wait_app("remote", "the sync of a remote base", synced_and_healthy)
        .await;
    assert_eq!(application["status"]["sourceType"], "Kustomize");
    let configmap = harness
        .get("v1", "ConfigMap", Some("default"), "team-settings")
        .await
        .expect("the remote base's ConfigMap, prefixed by the overlay");
    assert_eq!(configmap["data"]["mode"], "fast");
    harness.stop().await;
}
