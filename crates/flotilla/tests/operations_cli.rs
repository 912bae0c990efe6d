//! A sync that waits, seen from the command line: after a commit adds a Pod that never becomes
//! ready to an earlier wave of `apps-dev`, `flotilla app wait --sync` does not return while the
//! sync runs (it names what the sync waits on and times out), `app get` shows the running
//! operation at the new revision, and `flotilla app terminate-op` stops it.

mod cli_support;
use cli_support::*;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Up {
    child: Child,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn app(kubeconfig: &Path, arguments: &[&str]) -> Output {
    flotilla()
        .arg("app")
        .args(arguments)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .expect("run flotilla app")
}

fn application(kubeconfig: &Path, name: &str) -> serde_json::Value {
    let got = app(kubeconfig, &["get", name, "-o", "json"]);
    serde_json::from_slice(&got.stdout).unwrap_or(serde_json::Value::Null)
}

fn git(directory: &Path, arguments: &[&str]) -> String {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git");
    assert!(output.status.success(), "git {arguments:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

const STUCK_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: never-ready\n  annotations:\n    argocd.argoproj.io/sync-wave: \"-1\"\nspec:\n  containers:\n  - name: main\n    image: registry.example.com/never:1\n";

#[test]
fn a_waiting_sync_is_shown_waited_on_and_terminated_from_the_command_line() {
    let root = std::env::temp_dir().join(format!("flotilla-operations-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch");
    let data_dir = root.join(".flotilla");
    let child = flotilla()
        .args(["up", "--repo-poll", "1s", "--simulate-delay-ms", "50"])
        .args(["--sealing-key-bits", "1024"])
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--cluster-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start flotilla up");
    let _up = Up { child };
    let kubeconfig = data_dir.join("cluster/kubeconfig");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !kubeconfig.exists() {
        assert!(Instant::now() < deadline, "no kubeconfig");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The root creates apps-dev; until then `wait` says it does not exist.
    loop {
        let waited = app(
            &kubeconfig,
            &["wait", "apps-dev", "--sync", "--health", "--timeout", "90s"],
        );
        if waited.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "{}", text(&waited));
        std::thread::sleep(Duration::from_millis(200));
    }

    let repository = data_dir.join("example-repo");
    let kustomization = repository.join("environments/dev/apps/kustomization.yaml");
    std::fs::write(
        repository.join("environments/dev/apps/never-ready.yaml"),
        STUCK_POD,
    )
    .expect("write");
    let edited = std::fs::read_to_string(&kustomization)
        .expect("read")
        .replace(
            "- ../../../base/apps\n",
            "- ../../../base/apps\n- never-ready.yaml\n",
        );
    std::fs::write(&kustomization, edited).expect("write");
    git(&repository, &["add", "--all"]);
    git(
        &repository,
        &["commit", "--quiet", "-m", "a pod that never runs"],
    );
    let commit = git(&repository, &["rev-parse", "HEAD"]);

    let deadline = Instant::now() + Duration::from_secs(60);
    let running = loop {
        let current = application(&kubeconfig, "apps-dev");
        if current["status"]["operationState"]["phase"] == "Running" {
            break current;
        }
        assert!(
            Instant::now() < deadline,
            "no running operation: {:#}",
            current["status"]
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        running["status"]["sync"]["revision"],
        serde_json::json!(commit)
    );
    assert_eq!(running["status"]["sync"]["status"], "OutOfSync");

    let waited = app(
        &kubeconfig,
        &["wait", "apps-dev", "--sync", "--timeout", "2s"],
    );
    assert!(
        !waited.status.success(),
        "returned during the sync: {}",
        text(&waited)
    );
    let said = text(&waited);
    assert!(
        said.contains("operation running: waiting for pod/never-ready to become healthy"),
        "{said}"
    );

    let requested = app(&kubeconfig, &["sync", "apps-dev", "--timeout", "2s"]);
    let said = text(&requested);
    assert!(
        !requested.status.success() && !said.contains("is a controller running"),
        "a sync of a waiting Application names what it waits on: {said}"
    );

    let terminated = app(&kubeconfig, &["terminate-op", "apps-dev"]);
    assert!(terminated.status.success(), "{}", text(&terminated));
    assert!(
        String::from_utf8_lossy(&terminated.stdout).contains("terminated by a user"),
        "{}",
        text(&terminated)
    );
    drop(_up);
    let _ = std::fs::remove_dir_all(&root);
}
