//! What command-line tests share: the binary, free ports, an output printed for a failed
//! assertion, and git run as a test author.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Output};

/// The `flotilla` binary under test.
pub fn flotilla() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A command's exit code and output, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Reads a controller's standard output up to the line announcing its metrics listener:
/// (its address, `host:port`; everything read). `who` names the controller if it ends first.
pub fn metrics_address(reader: &mut impl BufRead, who: &str) -> (String, String) {
    let mut said = String::new();
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).expect("read");
        assert!(read > 0, "{who} ended before serving:\n{said}");
        said.push_str(&line);
        if let Some(rest) = line.strip_prefix("metrics: http://") {
            let address = rest.split('/').next().expect("an address").to_string();
            return (address, said);
        }
    }
}

/// Runs git in `directory` as a test author; its standard output, trimmed (a failure fails the
/// test).
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
        text(&output)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
