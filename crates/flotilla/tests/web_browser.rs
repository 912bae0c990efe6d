//! The UI in a real browser: `flotilla up` with the bundled example, then `tests/browser/ui.js`
//! drives headless Chromium (Debian's `chromium`) through playwright-core (`.ci/run` installs
//! both; FLOTILLA_CHROMIUM and FLOTILLA_PLAYWRIGHT_DIR point elsewhere). Without them the test
//! says so and checks nothing, as the SARIF test does without its schema. Screenshots of each
//! page go to FLOTILLA_SCREENSHOTS when it is set (`docs/` holds the committed ones).

mod web_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use web_support::{request, start};

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
    let (_up, address, admin, _log) = start(&root);
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
    assert!(
        output.status.success(),
        "the browser checks failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
