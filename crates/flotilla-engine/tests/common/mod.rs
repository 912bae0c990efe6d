//! Engine test harness: an in-process embedded API server (plain HTTP, simulation on), a local
//! git repository the test commits to, an engine talking to the server over kube-rs, and
//! polling helpers with a deadline on every wait so a broken engine fails instead of hanging.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use flotilla_apiserver::{serve, RunningServer, ServerConfig};
use flotilla_engine::cluster::ResourceInfo;
use flotilla_engine::{Cluster, Engine, EngineConfig};
use serde_json::{json, Value};

pub const DEADLINE: Duration = Duration::from_secs(30);

/// A two-replica Deployment `web` (nginx), as several tests deploy it.
pub const WEB_DEPLOYMENT: &str = r#"apiVersion: apps/v1
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

pub struct Harness {
    pub server: RunningServer,
    pub engine: Engine,
    pub cluster: Cluster,
    pub root: PathBuf,
    pub repository: PathBuf,
    pub repository_url: String,
}

pub fn scratch(label: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    let directory = std::env::temp_dir().join(format!(
        "flotilla-engine-{label}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

pub fn git(directory: &Path, arguments: &[&str]) -> String {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {arguments:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

pub fn client(server: &RunningServer) -> kube::Client {
    flotilla_engine::client_from_config(kube::Config::new(server.url.parse().expect("server URL")))
        .expect("kube client")
}

impl Harness {
    /// A server, a repository holding `files`, and a running engine.
    pub async fn start(label: &str, files: &[(&str, &str)]) -> Harness {
        Harness::start_with(label, files, |_| {}).await
    }

    pub async fn start_with(
        label: &str,
        files: &[(&str, &str)],
        adjust: impl FnOnce(&mut EngineConfig),
    ) -> Harness {
        Harness::start_prepared(label, files, adjust, &[]).await
    }

    /// Like `start_with`, applying `prepare` (as a user) before the engine starts.
    pub async fn start_prepared(
        label: &str,
        files: &[(&str, &str)],
        adjust: impl FnOnce(&mut EngineConfig),
        prepare: &[Value],
    ) -> Harness {
        Harness::start_serving(label, files, adjust, prepare, |_| {}).await
    }

    /// Like `start_prepared`, with the API server's configuration adjusted by `adjust_server`
    /// (`accept_unknown_kinds`, say).
    pub async fn start_serving(
        label: &str,
        files: &[(&str, &str)],
        adjust: impl FnOnce(&mut EngineConfig),
        prepare: &[Value],
        adjust_server: impl FnOnce(&mut ServerConfig),
    ) -> Harness {
        let root = scratch(label);
        let repository = root.join("repo");
        std::fs::create_dir_all(&repository).expect("repository directory");
        git(&repository, &["init", "--quiet", "--initial-branch=main"]);
        for (path, text) in files {
            write(&repository, path, text);
        }
        git(&repository, &["add", "--all"]);
        git(
            &repository,
            &["commit", "--quiet", "--allow-empty", "-m", "initial"],
        );
        let mut server_config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            insecure_http: true,
            bookmark_interval: Duration::from_millis(200),
            simulate: Some(flotilla_apiserver::simulate::SimulationConfig {
                delay: Duration::from_millis(50),
            }),
            ..ServerConfig::default()
        };
        adjust_server(&mut server_config);
        let server = tokio::time::timeout(DEADLINE, serve(server_config))
            .await
            .expect("server starts in time")
            .expect("server starts");
        let mut config = EngineConfig {
            cache_dir: root.join("cache"),
            repo_poll: Duration::from_millis(300),
            repo_mirrors: vec![(
                "https://git.example.com/team/repo.git".into(),
                format!("file://{}", repository.display()),
            )],
            wave_timeout: Duration::from_secs(20),
            ..EngineConfig::default()
        };
        adjust(&mut config);
        let setup = Cluster::new("setup", &server.url, client(&server));
        for object in prepare {
            let info = setup
                .resource(
                    object["apiVersion"].as_str().expect("apiVersion"),
                    object["kind"].as_str().expect("kind"),
                )
                .await
                .expect("kind");
            setup
                .apply(&info, object, true, false)
                .await
                .expect("prepare");
        }
        let engine = tokio::time::timeout(
            DEADLINE,
            Engine::start(
                Cluster::new("in-cluster", &server.url, client(&server)),
                config,
            ),
        )
        .await
        .expect("engine starts in time")
        .expect("engine starts");
        let cluster = Cluster::new("test", &server.url, client(&server));
        let harness = Harness {
            server,
            engine,
            cluster,
            root,
            repository,
            repository_url: "https://git.example.com/team/repo.git".into(),
        };
        harness
            .apply(
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}),
            )
            .await;
        harness
    }

    /// Writes files into the repository and commits them; returns the commit id.
    pub fn commit(&self, files: &[(&str, Option<&str>)], message: &str) -> String {
        for (path, text) in files {
            match text {
                Some(text) => write(&self.repository, path, text),
                None => {
                    let _ = std::fs::remove_file(self.repository.join(path));
                }
            }
        }
        git(&self.repository, &["add", "--all"]);
        git(&self.repository, &["commit", "--quiet", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        git(&self.repository, &["rev-parse", "HEAD"])
    }

    pub async fn info(&self, api_version: &str, kind: &str) -> ResourceInfo {
        self.cluster.forget_discovery();
        self.cluster
            .resource(api_version, kind)
            .await
            .expect("kind is served")
    }

    /// Server-side apply as a user (`kubectl apply --server-side`, manager `kubectl`).
    pub async fn apply(&self, object: &Value) -> Value {
        let info = self
            .info(
                object["apiVersion"].as_str().expect("apiVersion"),
                object["kind"].as_str().expect("kind"),
            )
            .await;
        let namespace = object["metadata"]["namespace"].as_str();
        let name = object["metadata"]["name"].as_str().expect("name");
        let mut parameters = kube::api::PatchParams::apply("kubectl");
        parameters.force = true;
        let request = kube::core::Request::new(info.collection_path(namespace))
            .patch(name, &parameters, &kube::api::Patch::Apply(object))
            .expect("request");
        self.cluster
            .client
            .request::<Value>(request)
            .await
            .expect("apply")
    }

    /// A merge patch as another client (out-of-band edits).
    pub async fn edit(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        patch: Value,
    ) -> Value {
        let info = self.info(api_version, kind).await;
        let parameters = kube::api::PatchParams {
            field_manager: Some("intruder".into()),
            ..Default::default()
        };
        let request = kube::core::Request::new(info.collection_path(namespace))
            .patch(name, &parameters, &kube::api::Patch::Merge(&patch))
            .expect("request");
        self.cluster
            .client
            .request::<Value>(request)
            .await
            .expect("edit")
    }

    pub async fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let info = self.info(api_version, kind).await;
        self.cluster.get(&info, namespace, name).await.expect("get")
    }

    pub async fn delete(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) {
        let info = self.info(api_version, kind).await;
        self.cluster
            .delete(&info, namespace, name, "background")
            .await
            .expect("delete");
    }

    pub async fn application(&self, name: &str) -> Value {
        self.get("argoproj.io/v1alpha1", "Application", Some("argocd"), name)
            .await
            .unwrap_or(Value::Null)
    }

    /// Polls the Application until `check` holds; panics with the last state after the deadline.
    pub async fn wait_app(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let application = self.application(name).await;
            if check(&application) {
                return application;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; Application:\n{}",
                    serde_json::to_string_pretty(&application["status"]).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls an object until `check` holds (None: absent).
    pub async fn wait_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        what: &str,
        check: impl Fn(Option<&Value>) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let object = self.get(api_version, kind, namespace, name).await;
            if check(object.as_ref()) {
                return object;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; object: {object:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(self) {
        self.engine.shutdown();
        self.server.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub fn write(repository: &Path, path: &str, text: &str) {
    let full = repository.join(path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent).expect("directories");
    }
    std::fs::write(full, text).expect("write");
}

/// An Application of the test repository.
pub fn app_manifest(name: &str, path: &str, namespace: &str, sync_policy: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example.com/team/repo.git", "path": path, "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": sync_policy
        }
    })
}

pub fn synced_and_healthy(application: &Value) -> bool {
    application["status"]["sync"]["status"] == "Synced"
        && application["status"]["health"]["status"] == "Healthy"
}
