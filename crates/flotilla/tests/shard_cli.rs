//! Sharding across `flotilla controller` processes, the HA check of issue 17: three controllers
//! against one `flotilla cluster serve` share 300 Applications (`FLOTILLA_SHARD_APPS` sets
//! another count), each owned by exactly one of them, as consistent hashing with bounded loads
//! assigns them (the `flotilla_shard_owned_applications` gauges add up, every status names its
//! owner, `app get` shows it), all Synced. One is killed with SIGKILL while a new commit comes:
//! the others take its Applications over once its Lease expires and sync the commit. A
//! replacement joins, then a fourth replica, which takes about a quarter and moves no more than
//! a third. Last, one stopped with SIGTERM releases its Lease on the way out.
//!
//! Each controller reaches the server through its own recording proxy (the fault proxy of the
//! engine's tests with its faults off), which notes every write it forwarded and when: no
//! Application is ever written by two replicas at once, and the killed replica's Applications
//! are first written by their new owners after its Lease expired. Applications are created
//! with kubectl (skipped without it). Short test Leases: 4 s, renew deadline 3 s, retry 0.5 s.

mod cli_support;
use cli_support::*;

#[path = "../../flotilla-engine/tests/common/fault_proxy.rs"]
mod fault_proxy;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use fault_proxy::{FaultProxy, LoggedWrite};
use flotilla_engine::shard::{assign, capacity};
use serde_json::Value;

const LEASE: Duration = Duration::from_secs(4);
/// Generous: a 2-core machine runs the server, kubectl and up to four controllers.
const CONVERGE: Duration = Duration::from_secs(180);

/// How many Applications: `FLOTILLA_SHARD_APPS`, 300 by default.
fn application_count() -> usize {
    std::env::var("FLOTILLA_SHARD_APPS")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|count| *count > 0)
        .unwrap_or(300)
}

fn app_name(index: usize) -> String {
    format!("app-{index:03}")
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

/// A Lease's `MicroTime` (`2026-12-05T17:39:30.123456Z`).
fn micro_time(text: &str) -> SystemTime {
    let seconds = flotilla_core::time::parse_rfc3339(text).expect("a timestamp");
    let digits: String = text[20..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let micros: String = digits.chars().chain("000000".chars()).take(6).collect();
    std::time::UNIX_EPOCH
        + Duration::from_secs(seconds)
        + Duration::from_micros(micros.parse().expect("micro-seconds"))
}

/// A controller process, the address of its metrics and the proxy it talks through.
struct Controller {
    name: String,
    metrics: String,
    process: Process,
    proxy: FaultProxy,
}

struct Fleet {
    root: PathBuf,
    repository: PathBuf,
    /// The server's own kubeconfig (kubectl, `app get`).
    kubeconfig: PathBuf,
    server_url: String,
    runtime: tokio::runtime::Runtime,
    applications: usize,
}

impl Fleet {
    fn start_controller(&self, name: &str) -> Controller {
        let proxy = self
            .runtime
            .block_on(FaultProxy::start(&self.server_url, 1));
        let kubeconfig = self.root.join(format!("kubeconfig-{name}"));
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: proxy\n  cluster:\n    server: {}\nusers:\n- name: proxy\n  user: {{}}\ncontexts:\n- name: proxy\n  context:\n    cluster: proxy\n    user: proxy\ncurrent-context: proxy\n",
                proxy.url
            ),
        )
        .expect("write kubeconfig");
        let mut child = flotilla()
            .arg("controller")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--listen", "127.0.0.1:0", "--repo-poll", "1s"])
            .arg("--repo-mirror")
            .arg(format!(
                "https://git.example.com/team/repo.git=file://{}",
                self.repository.display()
            ))
            .arg("--cache-dir")
            .arg(self.root.join(format!("cache-{name}")))
            .args(["--no-sealed-secrets", "--shard-identity", name])
            .args([
                "--shard-lease-duration",
                "4s",
                "--shard-renew-deadline",
                "3s",
            ])
            .args(["--shard-retry-period", "500ms"])
            .env("HOME", &self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start flotilla controller");
        let output = child.stdout.take().expect("stdout");
        let process = Process(child);
        let mut reader = std::io::BufReader::new(output);
        let (metrics, said) = metrics_address(&mut reader, &format!("controller {name}"));
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
            proxy,
        }
    }

    fn commit(&self, version: u32) -> String {
        for index in 0..self.applications {
            let name = app_name(index);
            let directory = self.repository.join("apps").join(&name);
            std::fs::create_dir_all(&directory).expect("directory");
            std::fs::write(
                directory.join("cm.yaml"),
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: fleet\ndata:\n  version: \"{version}\"\n"),
            )
            .expect("write");
        }
        git(&self.repository, &["add", "--all"]);
        git(
            &self.repository,
            &["commit", "--quiet", "-m", &format!("version {version}")],
        );
        git(&self.repository, &["rev-parse", "HEAD"])
    }

    /// Each Application's owner once all are Synced at `revision`: each status names one of
    /// `controllers`, each controller's gauge counts the Applications naming it, and the owners
    /// are what consistent hashing with bounded loads assigns over `controllers`.
    fn settled(
        &self,
        controllers: &[&Controller],
        revision: &str,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut owners = BTreeMap::new();
        for application in applications(&self.kubeconfig) {
            let name = application["metadata"]["name"].as_str().unwrap_or("?");
            let status = &application["status"];
            if status["sync"]["status"] != "Synced" || status["sync"]["revision"] != revision {
                return Err(format!(
                    "{name} is {} at {}",
                    status["sync"]["status"], status["sync"]["revision"]
                ));
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
        if owners.len() != self.applications {
            return Err(format!("{} Applications", owners.len()));
        }
        let mut gauges = 0;
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
            gauges += counted;
        }
        if gauges != self.applications {
            return Err(format!("the gauges add up to {gauges}"));
        }
        let expected = expected_owners(self.applications, controllers);
        if owners != expected {
            let differ = owners
                .iter()
                .filter(|(name, owner)| expected.get(*name) != Some(*owner))
                .count();
            return Err(format!("{differ} owners differ from the assignment"));
        }
        Ok(owners)
    }

    fn wait_settled(
        &self,
        controllers: &[&Controller],
        revision: &str,
        what: &str,
    ) -> BTreeMap<String, String> {
        let deadline = Instant::now() + CONVERGE;
        loop {
            match self.settled(controllers, revision) {
                Ok(owners) => return owners,
                Err(reason) if Instant::now() > deadline => panic!("{what}: {reason}"),
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }

    fn lease(&self, replica: &str) -> Value {
        let got = kubectl(
            &self.kubeconfig,
            &[
                "get",
                "lease",
                "-n",
                "argocd",
                &format!("flotilla-controller-{replica}"),
                "-o",
                "json",
            ],
            None,
        );
        assert!(got.status.success(), "{}", text(&got));
        serde_json::from_slice(&got.stdout).expect("a Lease")
    }
}

/// What consistent hashing with bounded loads assigns over `controllers`.
fn expected_owners(count: usize, controllers: &[&Controller]) -> BTreeMap<String, String> {
    let keys: Vec<(String, String)> = (0..count)
        .map(|index| ("argocd".to_string(), app_name(index)))
        .collect();
    let members: Vec<String> = controllers
        .iter()
        .map(|controller| controller.name.clone())
        .collect();
    assign(&keys, &members)
        .into_iter()
        .map(|((_, name), owner)| (name, owner))
        .collect()
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

/// Replicas' shares: how many Applications each owns.
fn shares(owners: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
    let mut shares = BTreeMap::new();
    for owner in owners.values() {
        *shares.entry(owner.clone()).or_default() += 1;
    }
    shares
}

/// One write about an Application (its status, its ConfigMap) by one replica.
#[derive(Clone, Debug)]
struct AppWrite {
    replica: String,
    application: String,
    write: LoggedWrite,
}

/// The writes about Applications each controller's proxy forwarded.
fn writes(controllers: &[&Controller]) -> Vec<AppWrite> {
    let mut writes = Vec::new();
    for controller in controllers {
        let log = controller
            .proxy
            .stats
            .log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for write in log {
            let segments: Vec<&str> = write.path.split('/').collect();
            let application = segments
                .windows(2)
                .find(|pair| {
                    matches!(pair[0], "applications" | "configmaps") && pair[1].starts_with("app-")
                })
                .map(|pair| pair[1].to_string());
            if let Some(application) = application {
                writes.push(AppWrite {
                    replica: controller.name.clone(),
                    application,
                    write,
                });
            }
        }
    }
    writes
}

/// Writes of different replicas about one Application never overlap in time.
fn assert_no_overlapping_writers(writes: &[AppWrite]) {
    let mut by_application: HashMap<&str, Vec<&AppWrite>> = HashMap::new();
    for write in writes {
        by_application
            .entry(write.application.as_str())
            .or_default()
            .push(write);
    }
    for (application, mut writes) in by_application {
        writes.sort_by_key(|write| write.write.started);
        for (index, earlier) in writes.iter().enumerate() {
            for later in &writes[index + 1..] {
                if later.write.started >= earlier.write.ended {
                    break;
                }
                assert_eq!(
                    earlier.replica, later.replica,
                    "{application} written by two replicas at once: {earlier:?} and {later:?}"
                );
            }
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
    let count = application_count();
    let root: PathBuf =
        std::env::temp_dir().join(format!("flotilla-shard-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let repository = root.join("repo");
    std::fs::create_dir_all(&repository).expect("scratch");
    git(&repository, &["init", "--quiet", "--initial-branch=main"]);

    let mut server = flotilla()
        .args([
            "cluster",
            "serve",
            "--insecure-http",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
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
    let server_url = first
        .trim()
        .strip_prefix("flotilla cluster serving on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let fleet = Fleet {
        kubeconfig: root.join("cluster/kubeconfig"),
        root,
        repository,
        server_url,
        runtime: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the proxies"),
        applications: count,
    };
    let first_commit = fleet.commit(1);
    let mut manifests = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: argocd\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: fleet\n",
    );
    for index in 0..count {
        let name = app_name(index);
        manifests.push_str(&format!(
            "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/team/repo.git\n    path: apps/{name}\n    targetRevision: main\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: fleet\n  syncPolicy:\n    automated: {{}}\n"
        ));
    }

    let a = fleet.start_controller("a");
    let b = fleet.start_controller("b");
    let mut c = fleet.start_controller("c");
    let started = Instant::now();
    let applied = kubectl(&fleet.kubeconfig, &["apply", "-f", "-"], Some(&manifests));
    assert!(applied.status.success(), "{}", text(&applied));

    // Three replicas: each Application owned by exactly one, as assigned, all Synced.
    let three = fleet.wait_settled(&[&a, &b, &c], &first_commit, "three");
    let first_sync = started.elapsed();
    let limit = capacity(count, 3);
    for (replica, share) in shares(&three) {
        assert!(share <= limit, "{replica} owns {share} (capacity {limit})");
    }
    eprintln!(
        "three replicas: {count} Applications Synced in {first_sync:?}, shares {:?} (capacity {limit})",
        shares(&three)
    );
    let shown = flotilla()
        .args(["app", "get", "app-000", "--kubeconfig"])
        .arg(&fleet.kubeconfig)
        .output()
        .expect("app get");
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains(&format!(
            "Controller:    {} (the replica that owns it)",
            three["app-000"]
        )),
        "{}",
        text(&shown)
    );

    // SIGKILL c while a new commit comes: c's Lease stays until it expires; then a and b take
    // its Applications over and sync the commit.
    let killed_at = SystemTime::now();
    c.process.0.kill().expect("SIGKILL");
    let _ = c.process.0.wait();
    let second_commit = fleet.commit(2);
    // A renewal in flight when the kill came lands within a retry period.
    std::thread::sleep(Duration::from_secs(1));
    let renewed = micro_time(
        fleet.lease("c")["spec"]["renewTime"]
            .as_str()
            .expect("renewTime"),
    );
    let expiry = renewed + LEASE;
    let two = fleet.wait_settled(&[&a, &b], &second_commit, "after the SIGKILL");
    let all_writes = writes(&[&a, &b, &c]);
    let orphans: Vec<&String> = three
        .iter()
        .filter(|(_, owner)| *owner == "c")
        .map(|(name, _)| name)
        .collect();
    let mut slowest = Duration::ZERO;
    for name in &orphans {
        let heir = &two[*name];
        let taken_over = all_writes
            .iter()
            .filter(|write| &write.application == *name && &write.replica == heir)
            .filter(|write| write.write.started >= killed_at)
            .map(|write| write.write.ended)
            .min()
            .unwrap_or_else(|| panic!("{name} (was c's) never written by {heir}"));
        let first_heir_write = all_writes
            .iter()
            .filter(|write| &write.application == *name && write.replica != "c")
            .filter(|write| write.write.started >= killed_at)
            .map(|write| write.write.started)
            .min()
            .expect("written");
        assert!(
            first_heir_write >= expiry,
            "{name} written by {heir} {:?} before c's Lease expired",
            expiry.duration_since(first_heir_write).unwrap_or_default()
        );
        slowest = slowest.max(taken_over.duration_since(expiry).unwrap_or_default());
    }
    eprintln!(
        "SIGKILL: c's {} Applications taken over and synced by a and b at most {slowest:?} after its Lease expired ({:?} after the kill; lease {LEASE:?})",
        orphans.len(),
        (expiry + slowest)
            .duration_since(killed_at)
            .unwrap_or_default()
    );

    // A replacement joins (as a Deployment restarts a killed pod), then a fourth replica.
    let e = fleet.start_controller("e");
    let again = fleet.wait_settled(&[&a, &b, &e], &second_commit, "replacement");
    let d = fleet.start_controller("d");
    let four = fleet.wait_settled(&[&a, &b, &e, &d], &second_commit, "four");
    let taken = four.values().filter(|owner| *owner == "d").count();
    let moved = again
        .iter()
        .filter(|(name, owner)| four.get(*name) != Some(*owner))
        .count();
    // d holds at most the capacity of four members, and at least a quarter less the same
    // 25 % slack the capacity allows above it.
    let limit = capacity(count, 4);
    let floor = (count / 4).saturating_sub(limit - count / 4);
    eprintln!(
        "fourth replica: took {taken} of {count} (between {floor} and the capacity {limit}), {moved} moved, shares {:?}",
        shares(&four)
    );
    for (replica, share) in shares(&four) {
        assert!(share <= limit, "{replica} owns {share} (capacity {limit})");
    }
    assert!(
        (floor..=limit).contains(&taken),
        "d took {taken} of {count}"
    );
    assert!(moved * 3 <= count, "{moved} moved (d took {taken})");

    // SIGTERM (a pod being stopped): d releases its Lease on the way out, the others take over.
    let terminated = Command::new("kill")
        .args(["-TERM", &d.process.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lease = kubectl(
            &fleet.kubeconfig,
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
    let three_again = fleet.wait_settled(&[&a, &b, &e], &second_commit, "after the SIGTERM");
    assert_eq!(three_again, again, "the same members, the same assignment");

    let all_writes = writes(&[&a, &b, &c, &d, &e]);
    assert!(
        all_writes
            .iter()
            .any(|write| write.write.path.contains("/configmaps/")),
        "the proxies saw the syncs"
    );
    assert_no_overlapping_writers(&all_writes);
    eprintln!(
        "{} writes about Applications, none overlapping another replica's",
        all_writes.len()
    );
    let root = fleet.root.clone();
    drop((a, b, c, d, e, fleet));
    let _ = std::fs::remove_dir_all(&root);
}
