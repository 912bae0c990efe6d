//! The real `kubectl`, run against a test server with its kubeconfig, bounded by `timeout`.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::within;

/// Whether `kubectl` is on PATH (tests that need it are skipped with a notice otherwise).
pub fn kubectl_present() -> bool {
    Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|output| output.status.success())
}

pub struct Outcome {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs kubectl (bounded by `timeout`) off the async runtime.
pub async fn kubectl(kubeconfig: &Path, arguments: &[&str], stdin: Option<&str>) -> Outcome {
    let kubeconfig = kubeconfig.to_path_buf();
    let arguments: Vec<String> = arguments
        .iter()
        .map(|argument| argument.to_string())
        .collect();
    let stdin = stdin.map(str::to_string);
    within(tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut command = Command::new("timeout");
        command
            .arg("15")
            .arg("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(kubeconfig.with_file_name("kube-cache"))
            .args(&arguments);
        command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("kubectl starts");
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(text) = &stdin {
                pipe.write_all(text.as_bytes()).expect("write stdin");
            }
        }
        let output = child.wait_with_output().expect("kubectl finishes");
        Outcome {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).to_string(),
        }
    }))
    .await
    .expect("kubectl task")
}

/// Runs kubectl and fails the test unless it succeeds; returns its stdout.
pub async fn expect_ok(kubeconfig: &Path, arguments: &[&str], stdin: Option<&str>) -> String {
    let outcome = kubectl(kubeconfig, arguments, stdin).await;
    assert!(
        outcome.success,
        "kubectl {arguments:?} failed:\n{}\n{}",
        outcome.stdout, outcome.stderr
    );
    outcome.stdout
}

/// Asks kubectl until its stdout satisfies `done` (every 100 ms, at most `attempts` times);
/// returns the last stdout, failing the test with it when it never did.
pub async fn until(
    kubeconfig: &Path,
    arguments: &[&str],
    attempts: usize,
    done: impl Fn(&str) -> bool,
) -> String {
    let mut last = String::new();
    for _ in 0..attempts {
        let outcome = kubectl(kubeconfig, arguments, None).await;
        last = format!("{}{}", outcome.stdout, outcome.stderr);
        if outcome.success && done(&outcome.stdout) {
            return outcome.stdout;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("kubectl {arguments:?} never reached the expected state; last answer:\n{last}");
}
