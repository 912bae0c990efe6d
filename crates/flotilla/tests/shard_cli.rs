//! Sharding across `flotilla controller` processes (issue 17, item 2): three controllers against
//! one `flotilla cluster serve` share 60 Applications, each owned by exactly one of them (the
//! `flotilla_shard_owned_applications` gauges add up, every status names its owner, `app get`
//! shows it); a fourth joins and takes about a quarter, moving no more than a third; one is
//! killed with SIGKILL and the others take its Applications over within a few lease durations
//! (short test Leases); one stopped with SIGTERM releases its Lease on the way out.
//! Applications are created with kubectl (skipped without it).

mod cli_support;
use cli_support::*;

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const APPLICATIONS: usize = 60;
const LEASE: Duration = Duration::from_secs(4);

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git(directory: &Path, arguments: &[&str]) {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git");
    assert!(
        output.status.success(),
        "git {arguments:?}: {}",
        text(&output)
    );
}

fn kubectl(kubeconfig: &Path, arguments: &[&str], input: Option<&str>) -> Output {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(input.unwrap_or("").as_bytes())
        .expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("kubectl ends")
}

fn applications(kubeconfig: &Path) -> Vec<Value> {
    let listed = kubectl(
        kubeconfig,
        &[
            "get",
            "applications.argoproj.io",
            "-n",
            "argocd",
            "-o",
            "json",
        ],
        None,
    );
    serde_json::from_slice::<Value>(&listed.stdout)
        .ok()
        .and_then(|list| list["items"].as_array().cloned())
        .unwrap_or_default()
}

/// A controller process and the address of its metrics.
struct Controller {
    name: String,
    metrics: String,
    process: Process,
}

fn start_controller(root: &Path, kubeconfig: &Path, repository: &Path, name: &str) -> Controller {
    let mut child = flotilla()
        .arg("controller")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--listen", "127.0.0.1:0", "--repo-poll", "1s"])
        .arg("--repo-mirror")
        .arg(format!(
            "https://git.example.com/team/repo.git=file://{}",
            repository.display()
        ))
        .arg("--cache-dir")
        .arg(root.join(format!("cache-{name}")))
        .args(["--no-sealed-secrets", "--shard-identity", name])
        .args([
            "--shard-lease-duration",
            "4s",
            "--shard-renew-deadline",
            "3s",
        ])
        .args(["--shard-retry-period", "500ms"])
        .env("HOME", root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start flotilla controller");
    let output = child.stdout.take().expect("stdout");
    let process = Process(child);
    let mut reader = std::io::BufReader::new(output);
    let mut said = String::new();
    let metrics = loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).expect("read");
        assert!(read > 0, "controller {name} ended before serving:\n{said}");
        said.push_str(&line);
        if let Some(rest) = line.strip_prefix("metrics: http://") {
            break rest.split('/').next().expect("an address").to_string();
        }
    };
    assert!(
        said.contains(&format!(
            "shard: `{name}` (Lease `flotilla-controller-{name}`"
        )),
        "{said}"
    );
    // Keep reading what it prints, so it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    Controller {
        name: name.to_string(),
        metrics,
        process,
    }
}

fn owned_gauge(controller: &Controller) -> Option<usize> {
    let mut stream = std::net::TcpStream::connect(&controller.metrics).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let prefix = format!(
        "flotilla_shard_owned_applications{{shard=\"{}\"}} ",
        controller.name
    );
    response
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

/// Each Application's owner once all are Synced, each status names one of `controllers` and
/// each controller's gauge counts the Applications naming it.
fn settled(
    kubeconfig: &Path,
    controllers: &[&Controller],
) -> Result<BTreeMap<String, String>, String> {
    let mut owners = BTreeMap::new();
    for application in applications(kubeconfig) {
        let name = application["metadata"]["name"].as_str().unwrap_or("?");
        let status = &application["status"];
        if status["sync"]["status"] != "Synced" {
            return Err(format!("{name} is {}", status["sync"]["status"]));
        }
        let owner = status["controllerShard"].as_str().unwrap_or("");
        if !controllers
            .iter()
            .any(|controller| controller.name == owner)
        {
            return Err(format!("{name} names {owner:?}"));
        }
        owners.insert(name.to_string(), owner.to_string());
    }
    if owners.len() != APPLICATIONS {
        return Err(format!("{} Applications", owners.len()));
    }
    for controller in controllers {
        let counted = owners
            .values()
            .filter(|owner| **owner == controller.name)
            .count();
        let gauge = owned_gauge(controller);
        if gauge != Some(counted) {
            return Err(format!(
                "{}'s gauge says {gauge:?}, {counted} statuses name it",
                controller.name
            ));
        }
    }
    Ok(owners)
}

fn wait_settled(
    kubeconfig: &Path,
    controllers: &[&Controller],
    within: Duration,
    what: &str,
) -> BTreeMap<String, String> {
    let deadline = Instant::now() + within;
    loop {
        match settled(kubeconfig, controllers) {
            Ok(owners) => return owners,
            Err(reason) if Instant::now() > deadline => panic!("{what}: {reason}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[test]
fn controllers_share_applications_and_survive_a_sigkill() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("notice: kubectl not found: the sharding test across processes is skipped");
        return;
    }
    let root: PathBuf =
        std::env::temp_dir().join(format!("flotilla-shard-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let repository = root.join("repo");
    std::fs::create_dir_all(&repository).expect("scratch");
    git(&repository, &["init", "--quiet", "--initial-branch=main"]);
    let mut manifests = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: argocd\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: fleet\n",
    );
    for index in 0..APPLICATIONS {
        let name = format!("app-{index:02}");
        let directory = repository.join("apps").join(&name);
        std::fs::create_dir_all(&directory).expect("directory");
        std::fs::write(
            directory.join("cm.yaml"),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: fleet\ndata:\n  shard: test\n"),
        )
        .expect("write");
        manifests.push_str(&format!(
            "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/team/repo.git\n    path: apps/{name}\n    targetRevision: main\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: fleet\n  syncPolicy:\n    automated: {{}}\n"
        ));
    }
    git(&repository, &["add", "--all"]);
    git(&repository, &["commit", "--quiet", "-m", "fleet"]);

    let mut server = flotilla()
        .args(["cluster", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(root.join("cluster"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start flotilla cluster serve");
    let output = server.stdout.take().expect("stdout");
    let _server = Process(server);
    let mut first = String::new();
    std::io::BufReader::new(output)
        .read_line(&mut first)
        .expect("first line");
    assert!(first.starts_with("flotilla cluster serving on "), "{first}");
    let kubeconfig = root.join("cluster/kubeconfig");

    let a = start_controller(&root, &kubeconfig, &repository, "a");
    let b = start_controller(&root, &kubeconfig, &repository, "b");
    let c = start_controller(&root, &kubeconfig, &repository, "c");
    let applied = kubectl(&kubeconfig, &["apply", "-f", "-"], Some(&manifests));
    assert!(applied.status.success(), "{}", text(&applied));

    let three = wait_settled(
        &kubeconfig,
        &[&a, &b, &c],
        Duration::from_secs(120),
        "three",
    );
    for controller in [&a, &b, &c] {
        let share = three
            .values()
            .filter(|owner| **owner == controller.name)
            .count();
        assert!(
            share >= APPLICATIONS / 5,
            "{} owns {share}",
            controller.name
        );
    }
    let shown = flotilla()
        .args(["app", "get", "app-00", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .expect("app get");
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains(&format!(
            "Controller:    {} (the replica that owns it)",
            three["app-00"]
        )),
        "{}",
        text(&shown)
    );

    let d = start_controller(&root, &kubeconfig, &repository, "d");
    let four = wait_settled(
        &kubeconfig,
        &[&a, &b, &c, &d],
        Duration::from_secs(60),
        "four",
    );
    let taken = four.values().filter(|owner| *owner == "d").count();
    let moved = three
        .iter()
        .filter(|(name, owner)| four.get(*name) != Some(*owner))
        .count();
    assert!(
        (APPLICATIONS * 15 / 100..=APPLICATIONS * 35 / 100).contains(&taken),
        "d took {taken}"
    );
    assert!(moved * 3 <= APPLICATIONS, "{moved} moved (d took {taken})");

    // SIGKILL: c's Lease stays until it expires; then a, b and d take its Applications over.
    let Controller {
        process: mut killed,
        ..
    } = c;
    let killed_at = Instant::now();
    killed.0.kill().expect("SIGKILL");
    let _ = killed.0.wait();
    let survivors = wait_settled(&kubeconfig, &[&a, &b, &d], LEASE * 4, "after the SIGKILL");
    let orphans = four.values().filter(|owner| *owner == "c").count();
    eprintln!(
        "d took {taken} of {APPLICATIONS} ({moved} moved); c's {orphans} taken over in {:?}",
        killed_at.elapsed()
    );
    assert!(survivors.values().all(|owner| owner != "c"));

    // SIGTERM (a pod being stopped): d releases its Lease on the way out, a and b take over.
    let terminated = Command::new("kill")
        .args(["-TERM", &d.process.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lease = kubectl(
            &kubeconfig,
            &[
                "get",
                "lease",
                "-n",
                "argocd",
                "flotilla-controller-d",
                "-o",
                "name",
            ],
            None,
        );
        if String::from_utf8_lossy(&lease.stderr).contains("NotFound") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "d kept its Lease: {}",
            text(&lease)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let two = wait_settled(&kubeconfig, &[&a, &b], LEASE * 4, "after the SIGTERM");
    assert!(two.values().all(|owner| owner == "a" || owner == "b"));
    drop((a, b, d));
    let _ = std::fs::remove_dir_all(&root);
}
