//! What the web tests share: `flotilla up` started on free ports with the bundled example
//! (its web address, the admin token of the login URL it prints, its standard error), and a
//! small HTTP/1.1 client.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

pub fn flotilla() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

pub struct Up {
    child: Child,
    root: PathBuf,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// An HTTP/1.1 answer.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {} {}", self.status, self.body))
    }

    /// A JSON error with this status (`{"error", "status"}`).
    pub fn assert_error(&self, status: u16) {
        assert_eq!(self.status, status, "{}", self.body);
        let body = self.json();
        assert_eq!(body["status"], json!(status), "{body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|error| !error.is_empty()),
            "{body}"
        );
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }
}

pub fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut stream = TcpStream::connect(address).expect("connect");
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    stream.write_all(text.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status");
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// `flotilla up` started; its web address, the admin token of its login URL, and its standard
/// error as it grows.
pub fn start(root: &Path) -> (Up, String, String, Arc<Mutex<String>>) {
    start_with(root, &[])
}

/// `start` with more arguments for `flotilla up`.
pub fn start_with(root: &Path, extra: &[&str]) -> (Up, String, String, Arc<Mutex<String>>) {
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
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flotilla up");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let writer = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            let mut log = writer.lock().expect("log");
            log.push_str(&line);
            log.push('\n');
        }
    });
    let up = Up {
        child,
        root: root.to_path_buf(),
    };
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = String::new();
    for line in lines.by_ref() {
        let line = line.expect("utf-8 output");
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("press Ctrl-C") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let prefix = format!("http://{web_address}/?token=");
    let token = banner
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("ui:")?
                .trim()
                .strip_prefix(&prefix)
        })
        .unwrap_or_else(|| panic!("no login URL in the banner:\n{banner}"))
        .to_string();
    (up, web_address, token, log)
}
