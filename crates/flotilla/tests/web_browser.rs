//! The UI in a real browser: `flotilla up` with the bundled example (self-heal waiting
//! `SELF_HEAL_TIMEOUT`, so the page can show an edit OutOfSync before the repair) and a Secret
//! in Git for the diff page to mask, then `tests/browser/ui.js` drives headless Chromium
//! (Debian's `chromium`) through playwright-core (`.ci/run` installs both; FLOTILLA_CHROMIUM
//! and FLOTILLA_PLAYWRIGHT_DIR point elsewhere). Without them the test
//! says so and checks nothing, as the SARIF test does without its schema. Screenshots of each
//! page go to FLOTILLA_SCREENSHOTS when it is set (`docs/` holds the committed ones).

mod web_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use web_support::{request, start_with};

/// How long self-heal waits (`flotilla up --self-heal-timeout`): the page shows the drift
/// OutOfSync meanwhile, then Synced again after the repair.
const SELF_HEAL_TIMEOUT: &str = "3s";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_ui_in_chromium_follows_syncs_and_refuses_read_only_tokens() {
    let chromium = std::env::var_os("FLOTILLA_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let playwright = std::env::var_os("FLOTILLA_PLAYWRIGHT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/playwright"));
    let modules = playwright.join("node_modules");
    let node = Command::new("node").arg("--version").output();
    if !chromium.exists()
        || !modules.join("playwright-core").is_dir()
        || !node.is_ok_and(|output| output.status.success())
    {
        eprintln!(
            "note: skipped: needs `{}`, node and playwright-core in `{}` (.ci/run installs them)",
            chromium.display(),
            modules.display()
        );
        return;
    }
    let root = std::env::temp_dir().join(format!("flotilla-web-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch");
    let (_up, address, admin, _log) =
        start_with(&root, &["--self-heal-timeout", SELF_HEAL_TIMEOUT]);
    let tokens =
        std::fs::read_to_string(root.join(".flotilla/cluster/api-tokens")).expect("tokens");
    let read_only = tokens
        .lines()
        .find_map(|line| line.strip_prefix("read-only="))
        .expect("a read-only token")
        .to_string();
    // The example settled: every Application Synced (the page is then checked as it is).
    let authorization = format!("Bearer {admin}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let page = request(
            &address,
            "GET",
            "/api/v1/applications",
            &[("authorization", authorization.as_str())],
            "",
        )
        .json();
        if page["total"] == 8 && page["counts"]["sync"] == serde_json::json!({"Synced": 8}) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the example did not settle: {page}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // A Secret in Git, for the diff page to mask: committed on a branch of its own, so that the
    // example's Applications (at HEAD) see no new revision; the `secretive` Application
    // (manual) holds it, asked to refresh until its diff names the Secret.
    let repository = root.join(".flotilla/example-repo");
    let git = |arguments: &[&str], index: Option<&Path>, input: Option<&str>| {
        let mut command = Command::new("git");
        command
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
            .args(arguments)
            .current_dir(&repository)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        if let Some(index) = index {
            command.env("GIT_INDEX_FILE", index);
        }
        let mut child = command.spawn().expect("git");
        let mut stdin = child.stdin.take().expect("stdin");
        std::io::Write::write_all(&mut stdin, input.unwrap_or("").as_bytes()).expect("write");
        drop(stdin);
        let output = child.wait_with_output().expect("git");
        assert!(output.status.success(), "git {arguments:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let index = root.join("secret-index");
    let blob = git(
        &["hash-object", "-w", "--stdin"],
        None,
        Some("apiVersion: v1\nkind: Secret\nmetadata:\n  name: demo\nstringData:\n  password: hunter2-in-git\n"),
    );
    git(&["read-tree", "HEAD"], Some(&index), None);
    git(
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("100644,{blob},secret-demo/secret.yaml"),
        ],
        Some(&index),
        None,
    );
    let tree = git(&["write-tree"], Some(&index), None);
    let commit = git(
        &["commit-tree", &tree, "-p", "HEAD", "-m", "a secret"],
        None,
        None,
    );
    git(
        &["update-ref", "refs/heads/secret-demo", &commit],
        None,
        None,
    );
    let secretive = serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "secretive", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://github.com/flotilla-dev/inventory-demo.git",
                "targetRevision": "secret-demo",
                "path": "secret-demo"
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "secretive"},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}
        }
    });
    {
        let mut kubectl = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(root.join(".flotilla/cluster/kubeconfig"))
            .args(["apply", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl");
        std::io::Write::write_all(
            &mut kubectl.stdin.take().expect("stdin"),
            secretive.to_string().as_bytes(),
        )
        .expect("write");
        assert!(kubectl.wait().expect("kubectl").success());
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let refreshed = request(
            &address,
            "POST",
            "/api/v1/applications/argocd/secretive/refresh?hard=true",
            &[("authorization", authorization.as_str())],
            "",
        );
        let diff = request(
            &address,
            "GET",
            "/api/v1/applications/argocd/secretive/diff",
            &[("authorization", authorization.as_str())],
            "",
        );
        if refreshed.status == 202 && diff.status == 200 && diff.json()["hasDifferences"] == true {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no difference for the Secret: {} {}",
            diff.status,
            diff.body
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut command = Command::new("node");
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/ui.js"))
        .env("NODE_PATH", &modules)
        .env("FLOTILLA_URL", format!("http://{address}"))
        .env("FLOTILLA_ADMIN_TOKEN", &admin)
        .env("FLOTILLA_READ_ONLY_TOKEN", &read_only)
        .env(
            "FLOTILLA_KUBECONFIG",
            root.join(".flotilla/cluster/kubeconfig"),
        )
        .env("FLOTILLA_CHROMIUM", &chromium);
    if let Some(directory) = std::env::var_os("FLOTILLA_SCREENSHOTS") {
        command.env("FLOTILLA_SCREENSHOTS", directory);
    }
    let output = command.output().expect("run node");
    // What the script measured (the self-heal's timings), for `--nocapture`.
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "the browser checks failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
