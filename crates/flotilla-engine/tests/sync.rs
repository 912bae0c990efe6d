//! End to end against the embedded API server: an automated Application syncs, reports status as
//! Argo CD does, follows commits within one poll, prunes (and keeps `Prune=false` objects), and
//! repairs out-of-band edits and deletions.

mod common;

use common::*;
use serde_json::{json, Value};

const DEPLOYMENT: &str = WEB_DEPLOYMENT;

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
    // Counted when the repairing sync ends, which is after its apply brought the object back.
    let deadline = std::time::Instant::now() + DEADLINE;
    while harness.engine.metrics().drift_repairs() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "drift repairs counted: {} of 2",
            harness.engine.metrics().drift_repairs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let metrics = harness.engine.metrics_text();
    assert!(
        metrics.contains("flotilla_app_info{namespace=\"argocd\",name=\"web\""),
        "{metrics}"
    );
    // A stopped engine lets go of its state (its event router once held it for good).
    harness.engine.shutdown();
    let deadline = std::time::Instant::now() + DEADLINE;
    while harness.engine.state_references() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} tasks still hold the engine's state after its shutdown",
            harness.engine.state_references()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
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

/// An object this Application tracks but Git does not name makes it OutOfSync; deleted by
/// hand, it leaves nothing to prune and the status says Synced again at once. Nothing the
/// comparison caches changed (the desired objects and their live versions are the same), so
/// the pass that sees the deletion must still see that the status it wrote is no longer true.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_object_deleted_by_hand_leaves_the_status_in_sync() {
    let harness = Harness::start("stray", &[("app/cm.yaml", CONFIGMAP)]).await;
    harness
        .apply(&app_manifest(
            "stray",
            "app",
            "default",
            json!({"automated": {"prune": false}}),
        ))
        .await;
    harness
        .wait_app("stray", "the first sync", synced_and_healthy)
        .await;
    harness
        .apply(&json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "stray",
                "namespace": "default",
                "annotations": {"argocd.argoproj.io/tracking-id": "stray:/ConfigMap:default/stray"}
            },
            "data": {"a": "b"}
        }))
        .await;
    let requires_pruning = |application: &Value| {
        application["status"]["resources"]
            .as_array()
            .is_some_and(|resources| {
                resources.iter().any(|resource| {
                    resource["name"] == "stray" && resource["requiresPruning"] == true
                })
            })
    };
    let out_of_sync = harness
        .wait_app("stray", "the stray object to prune", |application| {
            application["status"]["sync"]["status"] == "OutOfSync" && requires_pruning(application)
        })
        .await;
    assert_eq!(
        out_of_sync["status"]["operationState"]["phase"], "Succeeded",
        "nothing pruned: the policy does not prune"
    );
    harness
        .delete("v1", "ConfigMap", Some("default"), "stray")
        .await;
    let synced = harness
        .wait_app(
            "stray",
            "Synced once the stray object is gone",
            |application| {
                application["status"]["sync"]["status"] == "Synced"
                    && !requires_pruning(application)
            },
        )
        .await;
    assert_eq!(
        synced["status"]["resources"].as_array().map(Vec::len),
        Some(1)
    );
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

const SIZED_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: sized
spec:
  replicas: 1
  selector:
    matchLabels: {app: sized}
  template:
    metadata:
      labels: {app: sized}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        resources:
          limits: {cpu: 1000m, memory: 1024Mi}
"#;

/// The server stores `1000m` as `"1"` and `1024Mi` as `"1Gi"` (as kube-apiserver does), so a
/// containment comparison alone finds the object out of sync forever. By default a dry-run
/// apply confirms each difference: the rewritten values count as in sync, a foreign label
/// leaves the Application alone (no new sync), and a real edit is still repaired.
/// `ServerSideDiff=true` compares every object that way; `ServerSideDiff=false` shows what the
/// containment comparison alone would say. A dry run the server refuses leaves the difference
/// with the server's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_the_server_rewrites_are_in_sync_after_a_dry_run() {
    let harness = Harness::start("server-diff", &[("app/deployment.yaml", SIZED_DEPLOYMENT)]).await;
    let with_options = |name: &str, options: Option<&str>, self_heal: bool| {
        let mut manifest = app_manifest(
            name,
            "app",
            name,
            json!({"automated": {"prune": true, "selfHeal": self_heal}, "syncOptions": ["CreateNamespace=true"]}),
        );
        if let Some(options) = options {
            manifest["metadata"]["annotations"] =
                json!({"argocd.argoproj.io/compare-options": options});
        }
        manifest
    };
    harness.apply(&with_options("confirmed", None, true)).await;
    harness
        .apply(&with_options(
            "everything",
            Some("ServerSideDiff=true"),
            true,
        ))
        .await;
    harness
        .apply(&with_options(
            "containment",
            Some("ServerSideDiff=false"),
            false,
        ))
        .await;
    harness.apply(&with_options("previewed", None, false)).await;
    let succeeded_and_synced = |application: &Value| {
        synced_and_healthy(application)
            && application["status"]["operationState"]["phase"] == "Succeeded"
    };
    harness
        .wait_app("confirmed", "Synced and Healthy", succeeded_and_synced)
        .await;
    harness
        .wait_app("everything", "Synced and Healthy", succeeded_and_synced)
        .await;
    harness
        .wait_app("previewed", "Synced and Healthy", succeeded_and_synced)
        .await;
    let containment = harness
        .wait_app("containment", "OutOfSync after its sync", |application| {
            application["status"]["operationState"]["phase"] == "Succeeded"
                && application["status"]["sync"]["status"] == "OutOfSync"
        })
        .await;
    let message = containment["status"]["resources"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("resources.limits.cpu") && message.contains("\"1000m\""),
        "{message}"
    );
    let live = harness
        .get("apps/v1", "Deployment", Some("confirmed"), "sized")
        .await
        .expect("deployment");
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"],
        json!({"cpu": "1", "memory": "1Gi"})
    );

    // A label from another manager: compared again, confirmed in sync, no sync started.
    for namespace in ["confirmed", "everything"] {
        let before = harness.engine.metrics().reconciles();
        harness
            .edit(
                "apps/v1",
                "Deployment",
                Some(namespace),
                "sized",
                json!({"metadata": {"labels": {"audit": "done"}}}),
            )
            .await;
        let deadline = std::time::Instant::now() + DEADLINE;
        while harness.engine.metrics().reconciles() <= before || harness.engine.busy() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no reconcile after the edit"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let application = harness.application(namespace).await;
        assert_eq!(
            application["status"]["sync"]["status"], "Synced",
            "{namespace}"
        );
        assert_eq!(
            application["status"]["history"].as_array().map(Vec::len),
            Some(1),
            "{namespace}: no sync after a foreign label"
        );
    }

    // `app diff` shows what a sync would change, from the server's answer: the edited image,
    // not the values the server rewrote.
    harness
        .edit(
            "apps/v1",
            "Deployment",
            Some("previewed"),
            "sized",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:evil", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}}}),
        )
        .await;
    // The preview compares with the engine's watch cache (as `argocd app diff` does with the
    // controller's): once the Application reports the drift (no self-heal), the cache holds
    // the edit.
    harness
        .wait_app("previewed", "the edit seen as drift", |application| {
            application["status"]["sync"]["status"] == "OutOfSync"
        })
        .await;
    let preview = harness
        .engine
        .preview("argocd", "previewed")
        .await
        .expect("preview");
    let entry = &preview.entries[0];
    assert!(!entry.in_sync && entry.predicted.is_some(), "{entry:?}");
    let rendered = preview.render();
    assert!(
        rendered.contains("-      - image: nginx:evil")
            && rendered.contains("+      - image: nginx:1.27"),
        "{rendered}"
    );
    assert!(!rendered.contains("1000m"), "{rendered}");

    // A real edit is still a difference, and self-heal repairs it.
    harness
        .edit(
            "apps/v1",
            "Deployment",
            Some("confirmed"),
            "sized",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:evil"}]}}}}),
        )
        .await;
    harness
        .wait_object(
            "apps/v1",
            "Deployment",
            Some("confirmed"),
            "sized",
            "the image repaired",
            |object| {
                object.is_some_and(|object| {
                    object["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
                })
            },
        )
        .await;
    harness
        .wait_app("confirmed", "a second sync in the history", |application| {
            application["status"]["history"].as_array().map(Vec::len) == Some(2)
                && application["status"]["sync"]["status"] == "Synced"
        })
        .await;

    // A dry run the server refuses leaves the difference standing, with the server's words.
    harness.commit(
        &[(
            "app/deployment.yaml",
            Some(&SIZED_DEPLOYMENT.replace("cpu: 1000m", "cpu: lots")),
        )],
        "a malformed quantity",
    );
    let refused = harness
        .wait_app("confirmed", "the refused dry run reported", |application| {
            application["status"]["resources"][0]["message"]
                .as_str()
                .is_some_and(|message| message.contains("the server refused a dry run"))
        })
        .await;
    let entry = &refused["status"]["resources"][0];
    assert_eq!(entry["status"], "OutOfSync");
    let message = entry["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("\"lots\" in Git") && message.contains("quantities must match"),
        "{message}"
    );
    let comparison_error = refused["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|condition| condition["type"] == "ComparisonError");
    assert!(
        comparison_error.is_some_and(|condition| {
            condition["message"].as_str().is_some_and(|text| {
                text.starts_with("Deployment/sized: the server refused a dry run")
            })
        }),
        "{}",
        refused["status"]["conditions"]
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_errors_name_files_as_the_repository_does() {
    let harness = Harness::start(
        "render-error",
        &[
            ("app/kustomization.yaml", "resources:\n- configmap.yaml\n"),
            ("app/configmap.yaml", CONFIGMAP),
        ],
    )
    .await;
    harness
        .apply(&app_manifest(
            "broken",
            "app",
            "render-error",
            json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;
    harness
        .wait_app("broken", "the first sync", synced_and_healthy)
        .await;
    harness.commit(
        &[(
            "app/kustomization.yaml",
            Some("resources:\n- configmap.yaml\nimages:\n  - name: [bad\n"),
        )],
        "a kustomization that does not parse",
    );
    let application = harness
        .wait_app("broken", "the render error", |app| {
            app["status"]["conditions"][0]["type"] == "ComparisonError"
        })
        .await;
    let message = application["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap_or("");
    assert!(
        message.contains("`app/kustomization.yaml`:4:"),
        "the file as the repository names it, on a line it has: {message}"
    );
    let at = message
        .split("`app/kustomization.yaml`:4:")
        .nth(1)
        .and_then(|rest| rest.split_once(" at "))
        .map(|(_, commit)| commit.chars().take(7).collect::<String>())
        .unwrap_or_default();
    assert!(
        at.len() == 7 && at.chars().all(|character| character.is_ascii_hexdigit()),
        "the commit it was read at follows the position: {message}"
    );
    assert!(!message.contains("snapshots"), "{message}");
    assert_eq!(application["status"]["health"]["status"], "Unknown");
    harness.stop().await;
}
