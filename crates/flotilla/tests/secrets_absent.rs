//! Secret values never leave the Secrets (issue 17, security): a repository holds a Secret and a
//! SealedSecret with known plaintexts; `flotilla up` syncs both (debug logging), the Secret is
//! changed out of band and self-healed, and `flotilla app get`, `app diff`, `/metrics`, the
//! cluster's Events and everything `up` printed are searched for the plaintexts, raw and in
//! base64: none may appear.

mod cli_support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let value = chunk.iter().enumerate().fold(0u32, |value, (index, byte)| {
            value | (u32::from(*byte) << (16 - 8 * index))
        });
        for index in 0..4 {
            if index <= chunk.len() {
                text.push(ALPHABET[(value >> (18 - 6 * index)) as usize & 63] as char);
            } else {
                text.push('=');
            }
        }
    }
    text
}

fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return String::new();
    };
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    );
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

fn kubectl(kubeconfig: &std::path::Path, arguments: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(arguments)
        .output()
        .expect("kubectl runs")
}

#[test]
fn secret_values_appear_in_no_log_event_metric_or_output() {
    let root = std::env::temp_dir().join(format!("flotilla-secrets-absent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let repository = root.join("repo");
    std::fs::create_dir_all(&repository).expect("repository");
    let plain = format!("plain-text-password-{}", std::process::id());
    let sealed_plain = format!("sealed-text-token-{}", std::process::id());
    let healed = format!("out-of-band-value-{}", std::process::id());
    std::fs::write(
        repository.join("secret.yaml"),
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: database\nstringData:\n  password: {plain}\n"
        ),
    )
    .expect("written");
    std::fs::write(
        repository.join("kustomization.yaml"),
        "resources:\n- secret.yaml\n",
    )
    .expect("written");
    git(&repository, &["init", "--quiet", "--initial-branch=main"]);
    git(&repository, &["add", "--all"]);
    git(&repository, &["commit", "--quiet", "-m", "a Secret"]);

    let data_dir = root.join(".flotilla");
    let web = format!("127.0.0.1:{}", free_port());
    let log_path = root.join("up.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let child = flotilla()
        .args([
            "up",
            "--repo-poll",
            "1s",
            "--simulate-delay-ms",
            "50",
            "--sealing-key-bits",
            "1024",
        ])
        .args(["--log-level", "debug"])
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--repo")
        .arg(&repository)
        .args(["--cluster-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--listen", &web])
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("flotilla up");
    let _up = Up(child);
    let kubeconfig = data_dir.join("cluster/kubeconfig");
    let wait_for = |what: &str, check: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    wait_for("the Secret", &|| {
        kubectl(&kubeconfig, &["get", "secret", "-n", "default", "database"])
            .status
            .success()
    });

    // A SealedSecret sealed with the cluster's certificate.
    let mut seal = flotilla()
        .args(["seal", "--cert", &format!("http://{web}/v1/cert.pem")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("seal");
    {
        use std::io::Write;
        let mut input = seal.stdin.take().expect("stdin");
        write!(input, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-token\n  namespace: default\nstringData:\n  token: {sealed_plain}\n").expect("written");
    }
    let sealed = seal.wait_with_output().expect("sealed");
    assert!(sealed.status.success(), "{}", text(&sealed));
    std::fs::write(repository.join("sealed.yaml"), &sealed.stdout).expect("written");
    std::fs::write(
        repository.join("kustomization.yaml"),
        "resources:\n- secret.yaml\n- sealed.yaml\n",
    )
    .expect("written");
    git(&repository, &["add", "--all"]);
    git(&repository, &["commit", "--quiet", "-m", "a SealedSecret"]);
    wait_for("the unsealed Secret", &|| {
        kubectl(
            &kubeconfig,
            &["get", "secret", "-n", "default", "api-token"],
        )
        .status
        .success()
    });

    // Changed out of band: self-heal puts Git's value back.
    let patched = kubectl(
        &kubeconfig,
        &[
            "patch",
            "secret",
            "-n",
            "default",
            "database",
            "--type",
            "merge",
            "-p",
            &format!(
                "{{\"data\":{{\"password\":\"{}\"}}}}",
                base64(healed.as_bytes())
            ),
        ],
    );
    assert!(patched.status.success(), "{}", text(&patched));
    let original = base64(plain.as_bytes());
    wait_for("self-heal", &|| {
        let output = kubectl(
            &kubeconfig,
            &[
                "get",
                "secret",
                "-n",
                "default",
                "database",
                "-o",
                "jsonpath={.data.password}",
            ],
        );
        String::from_utf8_lossy(&output.stdout) == original
    });

    // Everything flotilla says about them.
    let mut said = String::new();
    for arguments in [
        vec!["app", "get", "root"],
        vec!["app", "get", "root", "-o", "json"],
        vec!["app", "diff", "root"],
        vec!["app", "diff", "root", "-o", "json"],
        vec!["app", "history", "root"],
    ] {
        let output = flotilla()
            .args(&arguments)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .output()
            .expect("runs");
        said.push_str(&text(&output));
    }
    said.push_str(&http_get(&web, "/metrics"));
    said.push_str(&String::from_utf8_lossy(
        &kubectl(&kubeconfig, &["get", "events", "-A", "-o", "yaml"]).stdout,
    ));
    said.push_str(&String::from_utf8_lossy(
        &kubectl(&kubeconfig, &["get", "applications", "-A", "-o", "yaml"]).stdout,
    ));
    said.push_str(&std::fs::read_to_string(&log_path).unwrap_or_default());
    assert!(said.len() > 1000, "something was collected: {said}");
    for value in [&plain, &sealed_plain, &healed] {
        for form in [value.clone(), base64(value.as_bytes())] {
            assert!(
                !said.contains(&form),
                "`{form}` appears in flotilla's output, logs, metrics or events"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}
