//! What `flotilla up --log-format json` tells an operator: one JSON log line per sync with a
//! timestamp, the Application, revision and objects, and one per drift repair; and what its
//! `/metrics` serves besides the Applications: drift repairs by Application and kind, the build,
//! git fetch durations, and the standard process metrics.

mod cli_support;
use cli_support::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

struct Up {
    child: Child,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next JSON log line `check` accepts, within a minute.
fn wait_for_log(
    lines: &mpsc::Receiver<String>,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = lines.recv_timeout(left) else {
            break;
        };
        let parsed: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("a log line that is not JSON ({error}): {line}"));
        if check(&parsed) {
            return parsed;
        }
        seen.push(line);
    }
    panic!("no log line for {what}; seen:\n{}", seen.join("\n"));
}

fn metrics(address: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the listener");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}

#[test]
fn up_logs_syncs_and_repairs_as_json_and_serves_operational_metrics() {
    let root = std::env::temp_dir().join(format!("flotilla-logs-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch");
    let web_address = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["up", "--log-format", "json", "--repo-poll", "1h"])
        .args(["--simulate-delay-ms", "50", "--sealing-key-bits", "1024"])
        .arg("--data-dir")
        .arg(root.join(".flotilla"))
        .args(["--cluster-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--listen", &web_address])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flotilla up");
    let stderr = child.stderr.take().expect("stderr");
    let _up = Up { child };
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });

    let synced = wait_for_log(&lines, "the root Application's sync", |line| {
        line["fields"]["application"] == "argocd/inventory"
            && line["fields"]["message"] == "automated sync succeeded"
    });
    assert!(
        synced["timestamp"]
            .as_str()
            .is_some_and(|time| time.starts_with("20") && time.ends_with('Z')),
        "{synced}"
    );
    assert_eq!(synced["level"], "INFO", "{synced}");
    assert_eq!(
        synced["fields"]["revision"].as_str().map(str::len),
        Some(8),
        "{synced}"
    );
    let objects = synced["fields"]["objects"].as_str().unwrap_or("");
    assert!(
        objects.contains("AppProject/argocd/inventory")
            && objects.contains("Application/argocd/apps-dev"),
        "{synced}"
    );

    // Drift: a ConfigMap of apps-dev deleted by hand is repaired, and both say so.
    let kubeconfig = root.join(".flotilla/cluster/kubeconfig");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let deleted = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["delete", "configmap", "-n", "inventory-dev", "-l"])
            .arg("app.kubernetes.io/part-of=inventory")
            .output()
            .expect("run kubectl");
        let said = String::from_utf8_lossy(&deleted.stdout).to_string();
        if deleted.status.success() && said.contains("deleted") {
            break;
        }
        assert!(Instant::now() < deadline, "nothing to delete: {said}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let repaired = wait_for_log(&lines, "the drift repair", |line| {
        line["fields"]["message"] == "drift repair succeeded"
            && line["fields"]["application"] == "argocd/apps-dev"
    });
    assert!(
        repaired["fields"]["objects"]
            .as_str()
            .is_some_and(|objects| objects.contains("ConfigMap/inventory-dev/")),
        "{repaired}"
    );

    let served = metrics(&web_address);
    assert!(
        served.contains(
            "flotilla_drift_repairs_total{namespace=\"argocd\",name=\"apps-dev\",kind=\"ConfigMap\"}"
        ),
        "{served}"
    );
    assert!(
        served.contains("flotilla_build_info{version=\""),
        "{served}"
    );
    assert!(
        served
            .lines()
            .find_map(|line| line.strip_prefix("flotilla_git_fetch_duration_seconds_count "))
            .and_then(|count| count.parse::<u64>().ok())
            .is_some_and(|count| count > 0),
        "{served}"
    );
    for name in [
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(served.contains(name), "{name}missing:\n{served}");
    }
    drop(_up);
    let _ = std::fs::remove_dir_all(&root);
}
