//! `flotilla up` and `flotilla app …` as a user runs them: `up` starts the embedded cluster, the
//! controller and the bundled example; the `app` commands list, wait, diff (exit 0 without and 1
//! with differences), sync a new commit, show history, and refuse a rollback while automated
//! sync is on; Ctrl-C stops `up` cleanly.

mod cli_support;
use cli_support::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
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

#[test]
fn up_runs_the_example_and_the_app_commands_operate_it() {
    let root: PathBuf =
        std::env::temp_dir().join(format!("flotilla-up-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch");
    let data_dir = root.join(".flotilla");
    let web_address = format!("127.0.0.1:{}", free_port());
    let mut child = flotilla()
        .args([
            "up",
            "--repo-poll",
            "1h",
            "--simulate-delay-ms",
            "50",
            "--sealing-key-bits",
            "1024",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--cluster-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--listen", &web_address])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start flotilla up");
    let stdout = child.stdout.take().expect("stdout");
    let up = Up { child };
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut banner = String::new();
    for line in lines.by_ref() {
        let line = line.expect("utf-8 output");
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("press Ctrl-C") || Instant::now() > deadline {
            break;
        }
    }
    assert!(banner.contains("flotilla is up"), "{banner}");
    std::thread::spawn(move || for _ in lines {});
    let kubeconfig = data_dir.join("cluster/kubeconfig");
    assert!(
        banner.contains(&kubeconfig.display().to_string()),
        "{banner}"
    );

    let waited = app(&kubeconfig, &["wait", "inventory", "--timeout", "90s"]);
    assert!(waited.status.success(), "{}", text(&waited));
    for name in ["apps-dev", "apps-staging", "kafka-dev", "mq-staging"] {
        let waited = app(
            &kubeconfig,
            &["wait", name, "--sync", "--health", "--timeout", "60s"],
        );
        assert!(waited.status.success(), "{}", text(&waited));
    }
    let listed = app(&kubeconfig, &["list", "-o", "json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON list");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(8));

    let no_difference = app(&kubeconfig, &["diff", "apps-dev"]);
    assert_eq!(
        no_difference.status.code(),
        Some(0),
        "{}",
        text(&no_difference)
    );

    // A commit the poller will not see for an hour: diff shows it, sync applies it.
    let repository = data_dir.join("example-repo");
    let file = repository.join("environments/dev/apps/kustomization.yaml");
    let edited = std::fs::read_to_string(&file).expect("read").replace(
        "SIMULATOR_SALES_PER_SECOND=5",
        "SIMULATOR_SALES_PER_SECOND=50",
    );
    std::fs::write(&file, edited).expect("write");
    git(
        &repository,
        &["commit", "--quiet", "-am", "faster simulator"],
    );
    let commit = git(&repository, &["rev-parse", "HEAD"]);
    let difference = app(&kubeconfig, &["diff", "apps-dev"]);
    assert_eq!(difference.status.code(), Some(1), "{}", text(&difference));
    assert!(
        String::from_utf8_lossy(&difference.stdout).contains("SIMULATOR_SALES_PER_SECOND: \"50\""),
        "{}",
        text(&difference)
    );

    let synced = app(
        &kubeconfig,
        &["sync", "apps-dev", "--prune", "--timeout", "60s"],
    );
    if !synced.status.success() {
        let state = app(&kubeconfig, &["get", "apps-dev", "-o", "json"]);
        panic!("{}\n{}", text(&synced), text(&state));
    }
    assert!(
        String::from_utf8_lossy(&synced.stdout).contains("Succeeded"),
        "{}",
        text(&synced)
    );
    let got = app(&kubeconfig, &["get", "apps-dev", "-o", "json"]);
    let application: serde_json::Value = serde_json::from_slice(&got.stdout).expect("JSON");
    assert_eq!(
        application["status"]["sync"]["revision"],
        serde_json::json!(commit)
    );
    let history = app(&kubeconfig, &["history", "apps-dev", "-o", "json"]);
    let entries: serde_json::Value = serde_json::from_slice(&history.stdout).expect("JSON");
    assert!(
        entries.as_array().is_some_and(|entries| entries.len() >= 2),
        "{entries}"
    );

    // Seal a Secret with the certificate the controller serves, commit it, and sync: the
    // SealedSecret unseals in the cluster (its health follows the Synced condition).
    let secret_file = root.join("db-credentials.yaml");
    std::fs::write(&secret_file, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-credentials\n  namespace: inventory-dev\nstringData:\n  password: s3cret-value\n").expect("write");
    let sealed = flotilla()
        .args([
            "seal",
            "--cert",
            &format!("http://{web_address}/v1/cert.pem"),
        ])
        .arg(&secret_file)
        .output()
        .expect("run flotilla seal");
    assert!(sealed.status.success(), "{}", text(&sealed));
    let sealed_text = String::from_utf8_lossy(&sealed.stdout).to_string();
    assert!(
        sealed_text.contains("kind: SealedSecret") && !sealed_text.contains("s3cret-value"),
        "{sealed_text}"
    );
    std::fs::write(
        repository.join("environments/dev/apps/db-credentials.yaml"),
        &sealed_text,
    )
    .expect("write");
    let kustomization = std::fs::read_to_string(&file).expect("read").replace(
        "- ../../../base/apps\n",
        "- ../../../base/apps\n- db-credentials.yaml\n",
    );
    std::fs::write(&file, kustomization).expect("write");
    git(&repository, &["add", "--all"]);
    git(
        &repository,
        &["commit", "--quiet", "-m", "database credentials"],
    );
    let synced = app(&kubeconfig, &["sync", "apps-dev", "--timeout", "60s"]);
    assert!(synced.status.success(), "{}", text(&synced));
    let waited = app(
        &kubeconfig,
        &["wait", "apps-dev", "--health", "--timeout", "60s"],
    );
    assert!(waited.status.success(), "{}", text(&waited));
    let got = app(&kubeconfig, &["get", "apps-dev", "-o", "json"]);
    let application: serde_json::Value = serde_json::from_slice(&got.stdout).expect("JSON");
    let sealed_entry = application["status"]["resources"]
        .as_array()
        .and_then(|resources| {
            resources
                .iter()
                .find(|resource| resource["kind"] == "SealedSecret")
                .cloned()
        })
        .expect("SealedSecret tracked");
    assert_eq!(
        sealed_entry["health"]["status"], "Healthy",
        "{sealed_entry}"
    );

    // The certificate can also come straight from the cluster's key Secrets.
    let from_cluster = flotilla()
        .args(["seal", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg(&secret_file)
        .output()
        .expect("run flotilla seal");
    assert!(from_cluster.status.success(), "{}", text(&from_cluster));
    assert!(String::from_utf8_lossy(&from_cluster.stdout).contains("kind: SealedSecret"));
    let no_keys = flotilla()
        .args([
            "seal",
            "--controller-namespace",
            "no-keys-here",
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .arg(&secret_file)
        .output()
        .expect("run flotilla seal");
    assert_eq!(no_keys.status.code(), Some(1), "{}", text(&no_keys));
    assert!(
        String::from_utf8_lossy(&no_keys.stderr).contains("service proxy"),
        "{}",
        text(&no_keys)
    );

    // Keys in the cluster: rotate adds a key Secret, list shows both.
    let rotated = flotilla()
        .args(["keys", "rotate", "--bits", "1024", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .expect("run keys rotate");
    assert!(rotated.status.success(), "{}", text(&rotated));
    let listed_keys = flotilla()
        .args(["keys", "list", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .expect("run keys list");
    assert!(listed_keys.status.success(), "{}", text(&listed_keys));
    let key_rows = String::from_utf8_lossy(&listed_keys.stdout)
        .lines()
        .filter(|line| line.starts_with("sealed-secrets-key"))
        .count();
    assert_eq!(key_rows, 2, "{}", text(&listed_keys));
    let exported = flotilla()
        .args(["keys", "export", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .expect("run keys export");
    assert!(exported.status.success(), "{}", text(&exported));
    assert_eq!(
        String::from_utf8_lossy(&exported.stdout)
            .matches("BEGIN CERTIFICATE")
            .count(),
        2,
        "{}",
        text(&exported)
    );

    let rollback = app(&kubeconfig, &["rollback", "apps-dev"]);
    assert_eq!(rollback.status.code(), Some(1), "{}", text(&rollback));
    assert!(
        String::from_utf8_lossy(&rollback.stderr).contains("auto-sync is enabled"),
        "{}",
        text(&rollback)
    );

    let missing = app(&kubeconfig, &["get", "no-such-app"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("not found"),
        "{}",
        text(&missing)
    );

    // Ctrl-C stops it cleanly.
    let mut up = up;
    let pid = up.child.id() as i32;
    // SAFETY: sending SIGINT to our own child process.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = up.child.try_wait().expect("wait") {
            assert!(status.success(), "flotilla up exited with {status:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "flotilla up did not stop on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(&root);
}
