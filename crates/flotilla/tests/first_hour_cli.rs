//! Mistakes of a new user's first hour, run as commands: a command whose reader goes away ends
//! quietly, as Unix tools do (`flotilla build DIR | head -1` on an output larger than a pipe
//! holds neither panics nor prints anything), and `up --repo` with a path that does not exist is
//! refused at start.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let dir = std::env::temp_dir().join(format!("flotilla-pipes-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    let mut kustomization = String::from("configMapGenerator:\n");
    for index in 0..3000 {
        kustomization.push_str(&format!(
            "- name: settings-{index}\n  literals:\n  - key=a-value-long-enough-to-fill-a-pipe-{index}\n"
        ));
    }
    std::fs::write(dir.join("kustomization.yaml"), kustomization).expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .arg("build")
        .arg(&dir)
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run flotilla build");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("first line");
    // The reader (`head -1`) is gone now.
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(first, "apiVersion: v1\n");
    assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
    assert_ne!(output.status.code(), Some(101), "no panic: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn up_refuses_a_repository_path_that_does_not_exist() {
    let output = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["up", "--repo", "/no/such/path", "--data-dir"])
        .arg(std::env::temp_dir().join(format!("flotilla-no-repo-{}", std::process::id())))
        .output()
        .expect("run flotilla up");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}{stderr}");
    assert!(!stdout.contains("flotilla is up"), "{stdout}");
    assert!(
        stderr.contains("`/no/such/path` does not exist"),
        "{stderr}"
    );
}
