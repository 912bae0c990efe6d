//! A status write that fails must not leave the status stale: the engine talks to the embedded
//! API server through a client that fails one chosen Application write (500, before the server
//! sees it), the one reporting that drift went away. The pass that failed had already cached its
//! comparison, so its retry finds nothing new to compare; it must still write the status, long
//! before the periodic refresh (`reconciledAt`, 180 s) would.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use flotilla_apiserver::{serve, RunningServer, ServerConfig};
use flotilla_engine::{Cluster, Engine, EngineConfig};
use http_body_util::BodyExt;
use serde_json::json;

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n";

/// Fails one write while armed: the first PATCH of the Application `name` whose body contains
/// `marker`, answered 500 before the server sees it.
#[derive(Default)]
struct OneFailure {
    armed: AtomicBool,
    failed: AtomicU64,
}

fn failing_client(
    server: &RunningServer,
    name: &str,
    marker: &str,
    failure: Arc<OneFailure>,
) -> kube::Client {
    let inner = client(server);
    let path_end = format!("/applications/{name}");
    let marker = marker.to_string();
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let inner = inner.clone();
        let failure = failure.clone();
        let path_end = path_end.clone();
        let marker = marker.clone();
        async move {
            let candidate = request.method() == http::Method::PATCH
                && request.uri().path().ends_with(&path_end)
                && failure.armed.load(Ordering::SeqCst);
            if !candidate {
                return Ok::<_, tower::BoxError>(inner.send(request).await?);
            }
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await?.to_bytes();
            if String::from_utf8_lossy(&bytes).contains(&marker)
                && failure.armed.swap(false, Ordering::SeqCst)
            {
                failure.failed.fetch_add(1, Ordering::SeqCst);
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "injected fault", "reason": "InternalError", "code": 500});
                let answer = http::Response::builder()
                    .status(500)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(status.to_string().into_bytes()))?;
                return Ok(answer);
            }
            Ok(inner
                .send(http::Request::from_parts(
                    parts,
                    kube::client::Body::from(bytes.to_vec()),
                ))
                .await?)
        }
    });
    kube::Client::new(service, "default")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_status_write_is_written_again_though_nothing_else_changed() {
    let root = scratch("status-write");
    let repository = root.join("repo");
    std::fs::create_dir_all(&repository).expect("repository");
    git(&repository, &["init", "--quiet", "--initial-branch=main"]);
    write(&repository, "app/cm.yaml", CONFIGMAP);
    git(&repository, &["add", "--all"]);
    git(&repository, &["commit", "--quiet", "-m", "initial"]);
    let server = serve(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        insecure_http: true,
        bookmark_interval: Duration::from_millis(200),
        ..ServerConfig::default()
    })
    .await
    .expect("server starts");
    let failure = Arc::new(OneFailure::default());
    // The write that says the drift is gone: `sync.status` back to Synced.
    let engine_client = failing_client(
        &server,
        "drifted",
        "\"sync\":{\"status\":\"Synced\"",
        failure.clone(),
    );
    let config = EngineConfig {
        cache_dir: root.join("cache"),
        repo_poll: Duration::from_millis(300),
        repo_mirrors: vec![(
            "https://git.example.com/team/repo.git".into(),
            format!("file://{}", repository.display()),
        )],
        ..EngineConfig::default()
    };
    let engine = Engine::start(
        Cluster::new("in-cluster", &server.url, engine_client),
        config,
    )
    .await
    .expect("engine starts");
    let harness = Observer {
        cluster: Cluster::new("test", &server.url, client(&server)),
    };
    harness
        .apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}))
        .await;
    // Automated without self-heal: drift is reported, never repaired.
    harness
        .apply(&app_manifest(
            "drifted",
            "app",
            "default",
            json!({"automated": {}}),
        ))
        .await;
    harness
        .wait_app("drifted", "the first sync", synced_and_healthy)
        .await;

    harness.edit_mode("slow").await;
    harness
        .wait_app("drifted", "the drift reported", |application| {
            application["status"]["sync"]["status"] == "OutOfSync"
        })
        .await;
    failure.armed.store(true, Ordering::SeqCst);
    harness.edit_mode("fast").await;
    // The write saying Synced fails once; its retry compares nothing new (the failed pass cached
    // the comparison) and must write it all the same.
    harness
        .wait_app("drifted", "the drift's end reported", synced_and_healthy)
        .await;
    assert_eq!(
        failure.failed.load(Ordering::SeqCst),
        1,
        "the status write saying Synced failed once"
    );
    engine.shutdown();
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&root);
}

/// The test's own view of the cluster, straight to the server.
struct Observer {
    cluster: Cluster,
}

impl Observer {
    async fn apply(&self, object: &serde_json::Value) {
        let info = self
            .cluster
            .resource(
                object["apiVersion"].as_str().expect("apiVersion"),
                object["kind"].as_str().expect("kind"),
            )
            .await
            .expect("kind");
        self.cluster
            .apply(&info, object, true, false)
            .await
            .expect("apply");
    }

    /// Changes the ConfigMap out of band (another field manager).
    async fn edit_mode(&self, mode: &str) {
        let info = self
            .cluster
            .resource("v1", "ConfigMap")
            .await
            .expect("kind");
        let parameters = kube::api::PatchParams {
            field_manager: Some("intruder".into()),
            ..Default::default()
        };
        let patch = json!({"data": {"mode": mode}});
        let request = kube::core::Request::new(info.collection_path(Some("default")))
            .patch("settings", &parameters, &kube::api::Patch::Merge(&patch))
            .expect("request");
        self.cluster
            .client
            .request::<serde_json::Value>(request)
            .await
            .expect("edit");
    }

    async fn wait_app(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let info = self
            .cluster
            .resource("argoproj.io/v1alpha1", "Application")
            .await
            .expect("kind");
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            let application = self
                .cluster
                .get(&info, Some("argocd"), name)
                .await
                .expect("get")
                .unwrap_or_default();
            if check(&application) {
                return application;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; status:\n{}",
                serde_json::to_string_pretty(&application["status"]).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
