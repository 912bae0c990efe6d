//! Benchmark program (not a test) for issue 17's scale figures, with every part a separate
//! process of the release binary: one `flotilla cluster serve` (in memory) as the API server and
//! `flotilla controller` replicas sharing the Applications through Leases (`--shard-mode auto`,
//! the default).
//!
//! 1. **First full sync**, once with 1 replica and once with 3 (a fresh server each time): a
//!    repository of A directories × N ConfigMaps (one commit, packed), A Applications created
//!    over HTTP; the time from the first create to every Application Synced, Healthy and its
//!    sync Succeeded (as a watch of the Applications held by this program sees them), the CPU of
//!    each process over that time (/proc/<pid>/stat: utime + stime, and for the controllers
//!    cutime + cstime of the git processes they waited for) and each process's peak RSS
//!    (VmHWM).
//! 2. **Failover**, with the 3 replicas settled (every Application Synced and Healthy and owned
//!    by the replica `shard::assign` gives it): SIGKILL one replica (rotating), and time from the
//!    kill to the moment every Application it owned has been written by a survivor — the first
//!    watch event in which its `status.controllerShard` names a survivor while it is Synced,
//!    Healthy and Succeeded (a survivor names itself on its first pass over an Application it
//!    gained, so this is a fresh reconcile by the new owner). The killed Lease's expiry (its
//!    `renewTime` + `leaseDurationSeconds`) splits that time into waiting for the Lease and the
//!    takeover itself. Then the replica is started again under the same identity (a restarted
//!    container of its pod, with its cache directory) and the time until all is settled again
//!    is the rejoin. K kills, p50/p99.
//!
//! `cargo bench -p flotilla --bench scale -- [--apps A] [--objects N] [--kills K]
//! [--lease-duration 15s] [--renew-deadline 10s] [--retry-period 2s] [--settle-limit 300]
//! [--no-write]` (defaults 10000, 20, 20, client-go's Lease timings, which are the controller's
//! own, and 300 s for a takeover or a rejoin to finish before the kills stop). Needs `cargo build --release -p flotilla`
//! first. Writes its table between `<!-- scale-bench -->` markers in BENCHMARKS.md. Reports
//! numbers; asserts nothing about times.

#[path = "../../../benches/benchmarks_md.rs"]
mod benchmarks_md;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

const REPOSITORY: &str = "https://git.example.com/bench/scale.git";
const NAMESPACES: usize = 10;
/// How long a first sync may take before the benchmark gives up on it (and says so).
const PHASE_LIMIT: Duration = Duration::from_secs(3600);

/// How long settling (before a kill, after a restart) and a takeover may take
/// (`--settle-limit`, seconds).
fn settle_limit() -> Duration {
    Duration::from_secs(number("--settle-limit", 300) as u64)
}

fn argument(name: &str) -> Option<String> {
    let arguments: Vec<String> = std::env::args().collect();
    arguments
        .iter()
        .position(|argument| argument == name)
        .and_then(|index| arguments.get(index + 1))
        .cloned()
}

fn number(name: &str, default: usize) -> usize {
    argument(name)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().any(|argument| argument == name)
}

/// `5s`, `500ms` (what the controller's duration flags take).
fn duration_text(text: &str) -> Duration {
    if let Some(millis) = text.strip_suffix("ms") {
        Duration::from_millis(millis.parse().expect("milliseconds"))
    } else {
        let seconds: f64 = text
            .strip_suffix('s')
            .unwrap_or(text)
            .parse()
            .expect("seconds");
        Duration::from_secs_f64(seconds)
    }
}

fn git(directory: &Path, arguments: &[&str]) {
    let status = Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .stdout(Stdio::null())
        .status()
        .expect("git runs");
    assert!(status.success(), "git {arguments:?}");
}

fn app_name(app: usize) -> String {
    format!("app-{app:05}")
}

/// A repository with `apps` directories of `objects` ConfigMaps each, one commit, packed (as a
/// Git host serves it).
fn make_repository(root: &Path, apps: usize, objects: usize) -> PathBuf {
    let repository = root.join("repo");
    for app in 0..apps {
        let name = app_name(app);
        let directory = repository.join(format!("apps/{name}"));
        std::fs::create_dir_all(&directory).expect("mkdir");
        let text: Vec<String> = (0..objects)
            .map(|index| {
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-{index}\ndata:\n  index: \"{index}\"\n  owner: {name}\n")
            })
            .collect();
        std::fs::write(directory.join("configmaps.yaml"), text.join("---\n")).expect("write");
    }
    git(&repository, &["init", "--quiet", "--initial-branch=main"]);
    git(&repository, &["add", "--all"]);
    git(&repository, &["commit", "--quiet", "-m", "bench"]);
    git(&repository, &["repack", "-a", "-d", "--quiet"]);
    repository
}

fn application(app: usize) -> Value {
    let name = app_name(app);
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": REPOSITORY, "path": format!("apps/{name}"), "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": format!("scale-{}", app % NAMESPACES)},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}
        }
    })
}

/// The release binary, copied once into the scratch directory: a rebuild of `target/release`
/// during the run (other work on this machine) must not change what the restarted replicas run.
static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

fn flotilla_binary() -> PathBuf {
    BINARY.get().expect("copied at the start").clone()
}

fn copy_binary(root: &Path) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let built = target.join("release").join("flotilla");
    assert!(
        built.is_file(),
        "build the binary first: cargo build --release -p flotilla"
    );
    let copy = root.join("flotilla");
    std::fs::copy(&built, &copy).expect("copy the binary");
    let _ = BINARY.set(copy);
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 over a plain socket: the server speaks HTTP on loopback and this program needs a
// handful of requests and one watch, without an async runtime.

/// Reads a response's head; its status and whether the body is chunked (else its length, or
/// None for a body that ends with the connection).
fn read_head(reader: &mut impl BufRead) -> std::io::Result<(u16, bool, Option<usize>)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {line:?}")))?;
    let (mut chunked, mut length) = (false, None);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("the head ended early"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    Ok((status, chunked, length))
}

/// One chunk of a chunked body; empty at its end.
fn read_chunk(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(Vec::new());
    }
    let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
        .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
    let mut chunk = vec![0; size];
    reader.read_exact(&mut chunk)?;
    line.clear();
    reader.read_line(&mut line)?;
    Ok(chunk)
}

struct Http {
    address: String,
    connection: Option<BufReader<TcpStream>>,
}

impl Http {
    fn new(address: &str) -> Http {
        Http {
            address: address.to_string(),
            connection: None,
        }
    }

    fn attempt(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        if self.connection.is_none() {
            let stream = TcpStream::connect(&self.address)?;
            stream.set_nodelay(true)?;
            self.connection = Some(BufReader::new(stream));
        }
        let connection = self.connection.as_mut().expect("connected above");
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        let content_type = if method == "PATCH" {
            "application/merge-patch+json"
        } else {
            "application/json"
        };
        write!(
            connection.get_mut(),
            "{method} {path} HTTP/1.1\r\nhost: {}\r\naccept: application/json\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
            self.address,
            body.len()
        )?;
        let (status, chunked, length) = read_head(connection)?;
        let mut response = Vec::new();
        if chunked {
            loop {
                let chunk = read_chunk(connection)?;
                if chunk.is_empty() {
                    break;
                }
                response.extend_from_slice(&chunk);
            }
        } else if let Some(length) = length {
            response.resize(length, 0);
            connection.read_exact(&mut response)?;
        } else {
            connection.read_to_end(&mut response)?;
            self.connection = None;
        }
        Ok((status, response))
    }

    /// A request, tried again on a fresh connection when the kept-alive one was closed.
    fn request(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut last = None;
        for _ in 0..5 {
            match self.attempt(method, path, body) {
                Ok((status, response)) => {
                    return (
                        status,
                        serde_json::from_slice(&response).unwrap_or(Value::Null),
                    )
                }
                Err(error) => {
                    self.connection = None;
                    last = Some(error);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        panic!("{method} {path}: {last:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// What a watch of the Applications shows.

/// One Application as its last watch event showed it.
#[derive(Clone, Default)]
struct AppState {
    owner: String,
    /// Synced, Healthy and its last sync Succeeded.
    ready: bool,
    /// When (owner, ready) became what it is.
    since: Option<Instant>,
}

#[derive(Default)]
struct Watched {
    apps: HashMap<String, AppState>,
    events: u64,
    /// Events that moved a ready Application from one named owner to another.
    moves: u64,
    reconnects: u64,
    /// Set when the fleet is gone: the watch ends instead of connecting again.
    stopped: bool,
}

fn observe(watched: &Mutex<Watched>, object: &Value, at: Instant) {
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let status = &object["status"];
    let owner = status["controllerShard"].as_str().unwrap_or("").to_string();
    let ready = status["sync"]["status"] == "Synced"
        && status["health"]["status"] == "Healthy"
        && status["operationState"]["phase"] == "Succeeded";
    let mut watched = watched
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    watched.events += 1;
    let state = watched.apps.entry(name).or_default();
    if state.owner != owner || state.ready != ready || state.since.is_none() {
        let moved = !state.owner.is_empty() && !owner.is_empty() && state.owner != owner;
        state.owner = owner;
        state.ready = ready;
        state.since = Some(at);
        if moved {
            watched.moves += 1;
        }
    }
}

const APPLICATIONS: &str = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications";

/// Lists the Applications into `watched`; the list's resourceVersion.
fn relist(address: &str, watched: &Mutex<Watched>) -> Option<String> {
    let (status, response) = Http::new(address).attempt("GET", APPLICATIONS, None).ok()?;
    let list: Value = serde_json::from_slice(&response).ok()?;
    if status != 200 {
        eprintln!("list of the Applications answered {status}: {list}");
        return None;
    }
    let at = Instant::now();
    for item in list["items"].as_array().into_iter().flatten() {
        observe(watched, item, at);
    }
    Some(
        list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("0")
            .to_string(),
    )
}

fn stopped(watched: &Mutex<Watched>) -> bool {
    watched
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .stopped
}

/// Watches the Applications for as long as this program runs, from a list, again from the last
/// version seen when a watch ends, and from a new list when that version is gone.
fn watch_applications(address: String, watched: Arc<Mutex<Watched>>) {
    let mut version = None;
    while !stopped(&watched) {
        let Some(from) = version.clone().or_else(|| relist(&address, &watched)) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        version = Some(from.clone());
        let result = (|| -> std::io::Result<()> {
            let stream = TcpStream::connect(&address)?;
            let mut reader = BufReader::with_capacity(1 << 20, stream);
            write!(
                reader.get_mut(),
                "GET {APPLICATIONS}?watch=true&allowWatchBookmarks=true&timeoutSeconds=3600&resourceVersion={from} HTTP/1.1\r\nhost: {address}\r\naccept: application/json\r\n\r\n"
            )?;
            let (status, chunked, _) = read_head(&mut reader)?;
            if status != 200 {
                return Err(std::io::Error::other(format!("watch answered {status}")));
            }
            let mut pending: Vec<u8> = Vec::new();
            loop {
                let chunk = if chunked {
                    read_chunk(&mut reader)?
                } else {
                    let mut buffer = vec![0; 1 << 16];
                    let read = reader.read(&mut buffer)?;
                    buffer.truncate(read);
                    buffer
                };
                if chunk.is_empty() {
                    return Ok(());
                }
                pending.extend_from_slice(&chunk);
                while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let at = Instant::now();
                    let Ok(event) = serde_json::from_slice::<Value>(&line) else {
                        continue;
                    };
                    let object = &event["object"];
                    if event["type"] == "ERROR" {
                        return Err(std::io::Error::other(format!("watch error {object}")));
                    }
                    if let Some(seen) = object["metadata"]["resourceVersion"].as_str() {
                        version = Some(seen.to_string());
                    }
                    if matches!(event["type"].as_str(), Some("ADDED" | "MODIFIED")) {
                        observe(&watched, object, at);
                    }
                }
            }
        })();
        watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .reconnects += 1;
        if let Err(error) = result {
            if error.to_string().contains("watch error") {
                // The version is gone (410) or the watch failed: start again from a list.
                version = None;
            } else {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Processes.

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// CPU seconds of a process: its own (utime + stime) and its waited-for children's (cutime +
/// cstime), from /proc/<pid>/stat (clock ticks, 100 per second).
fn cpu_seconds(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        (ticks(11) + ticks(12)) / 100.0,
        (ticks(13) + ticks(14)) / 100.0,
    )
}

/// A line of /proc/<pid>/status in MB (VmHWM: peak RSS, VmRSS: now).
fn memory_megabytes(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|value| value.parse::<f64>().ok())
        })
        .map(|kilobytes| kilobytes / 1024.0)
        .unwrap_or(0.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

struct Lease {
    duration: String,
    renew: String,
    retry: String,
}

struct Controller {
    name: String,
    metrics: String,
    process: Process,
}

/// One API server, its replicas and the watch of its Applications.
struct Fleet {
    root: PathBuf,
    repository: PathBuf,
    address: String,
    kubeconfig: PathBuf,
    server: Process,
    controllers: Vec<Controller>,
    watched: Arc<Mutex<Watched>>,
    http: Http,
    lease: Arc<Lease>,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .stopped = true;
    }
}

fn start_server(root: &Path) -> (Process, String) {
    let mut child = Command::new(flotilla_binary())
        .args([
            "cluster",
            "serve",
            "--insecure-http",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(
            std::fs::File::create(root.join("server.log"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        .spawn()
        .expect("start flotilla cluster serve");
    let output = child.stdout.take().expect("stdout");
    let process = Process(child);
    let mut reader = BufReader::new(output);
    let mut first = String::new();
    reader.read_line(&mut first).expect("first line");
    let url = first
        .trim()
        .strip_prefix("flotilla cluster serving on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    let address = url
        .strip_prefix("http://")
        .expect("an HTTP address")
        .to_string();
    (process, address)
}

impl Fleet {
    fn start(root: &Path, repository: &Path, lease: Arc<Lease>) -> Fleet {
        std::fs::create_dir_all(root).expect("scratch");
        let (server, address) = start_server(root);
        let kubeconfig = root.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: bench\n  cluster:\n    server: http://{address}\nusers:\n- name: bench\n  user: {{}}\ncontexts:\n- name: bench\n  context:\n    cluster: bench\n    user: bench\ncurrent-context: bench\n"
            ),
        )
        .expect("write kubeconfig");
        Fleet {
            root: root.to_path_buf(),
            repository: repository.to_path_buf(),
            http: Http::new(&address),
            address,
            kubeconfig,
            server,
            controllers: Vec::new(),
            watched: Arc::default(),
            lease,
        }
    }

    fn start_controller(&self, name: &str) -> Controller {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join(format!("{name}.log")))
            .expect("log file");
        let mut child = Command::new(flotilla_binary())
            .arg("controller")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--listen", "127.0.0.1:0"])
            .arg("--repo-mirror")
            .arg(format!("{REPOSITORY}=file://{}", self.repository.display()))
            .arg("--cache-dir")
            .arg(self.root.join(format!("cache-{name}")))
            .args(["--no-sealed-secrets", "--shard-identity", name])
            .args(["--shard-lease-duration", &self.lease.duration])
            .args(["--shard-renew-deadline", &self.lease.renew])
            .args(["--shard-retry-period", &self.lease.retry])
            .env("HOME", &self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start flotilla controller");
        let output = child.stdout.take().expect("stdout");
        let process = Process(child);
        let mut reader = BufReader::new(output);
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

    fn metrics(controller: &Controller) -> String {
        let mut http = Http::new(&controller.metrics);
        match http.attempt("GET", "/metrics", None) {
            Ok((_, body)) => String::from_utf8_lossy(&body).into_owned(),
            Err(_) => String::new(),
        }
    }

    /// Waits until every replica counts all of them as members (before any Application exists:
    /// the metrics are short then).
    fn wait_members(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let count = self.controllers.len();
        loop {
            let all = self.controllers.iter().all(|controller| {
                let prefix = format!("flotilla_shard_members{{shard=\"{}\"}} ", controller.name);
                Self::metrics(controller)
                    .lines()
                    .find_map(|line| line.strip_prefix(&prefix))
                    .and_then(|value| value.trim().parse::<usize>().ok())
                    == Some(count)
            });
            if all {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the replicas never saw each other"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn create(&mut self, path: &str, object: &Value) {
        let (status, answer) = self.http.request("POST", path, Some(object));
        assert!(
            status == 201 || status == 200 || status == 409,
            "POST {path}: {status} {answer}"
        );
    }

    /// The namespaces: `argocd` holds the Applications and the replicas' Leases.
    fn namespaces(&mut self) {
        for namespace in std::iter::once("argocd".to_string())
            .chain((0..NAMESPACES).map(|index| format!("scale-{index}")))
        {
            self.create(
                "/api/v1/namespaces",
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
            );
        }
    }

    /// The Application CRD's readiness, and the watch.
    fn prepare(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, _) = self.http.request("GET", "/apis/argoproj.io/v1alpha1", None);
            if status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "no Application CRD");
            std::thread::sleep(Duration::from_millis(200));
        }
        let address = self.address.clone();
        let watched = self.watched.clone();
        std::thread::spawn(move || watch_applications(address, watched));
    }

    /// (all Applications seen, how many ready, how many ready and owned as `expected` says).
    fn progress(
        &self,
        apps: usize,
        expected: Option<&HashMap<String, String>>,
    ) -> (bool, usize, usize) {
        let watched = self
            .watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let ready = watched.apps.values().filter(|state| state.ready).count();
        let settled = match expected {
            Some(expected) => watched
                .apps
                .iter()
                .filter(|(name, state)| state.ready && expected.get(*name) == Some(&state.owner))
                .count(),
            None => ready,
        };
        (watched.apps.len() >= apps, ready, settled)
    }

    /// What `shard::assign` gives each Application over the current replicas.
    fn expected_owners(&self, apps: usize) -> HashMap<String, String> {
        let keys: Vec<(String, String)> = (0..apps)
            .map(|app| ("argocd".to_string(), app_name(app)))
            .collect();
        let members: Vec<String> = self
            .controllers
            .iter()
            .map(|controller| controller.name.clone())
            .collect();
        flotilla_engine::shard::assign(&keys, &members)
            .into_iter()
            .map(|((_, name), owner)| (name, owner))
            .collect()
    }

    /// Waits until every Application is ready (and owned as assigned, when `settle`); the time
    /// it took from `since`, or None past the limit.
    fn wait(
        &self,
        apps: usize,
        settle: bool,
        since: Instant,
        limit: Duration,
        what: &str,
    ) -> Option<Duration> {
        let expected = settle.then(|| self.expected_owners(apps));
        let mut reported = Instant::now();
        loop {
            let (seen, ready, settled) = self.progress(apps, expected.as_ref());
            if seen && settled >= apps {
                return Some(since.elapsed());
            }
            if since.elapsed() > limit {
                eprintln!("{what}: gave up, {ready} ready, {settled} settled of {apps}");
                return None;
            }
            if reported.elapsed() > Duration::from_secs(15) {
                eprintln!(
                    "  {what}: {:.0} s, {ready} of {apps} ready, {settled} settled, load {}",
                    since.elapsed().as_secs_f64(),
                    load_average()
                );
                reported = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The expiry of a replica's Lease: its renewTime + leaseDurationSeconds.
    fn lease_expiry(&mut self, name: &str) -> Option<SystemTime> {
        let (status, lease) = self.http.request(
            "GET",
            &format!(
                "/apis/coordination.k8s.io/v1/namespaces/argocd/leases/flotilla-controller-{name}"
            ),
            None,
        );
        if status != 200 {
            return None;
        }
        let renewed = lease["spec"]["renewTime"].as_str()?;
        let seconds = flotilla_core::time::parse_rfc3339(renewed)?;
        let digits: String = renewed
            .get(20..)
            .unwrap_or("")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let micros: String = digits.chars().chain("000000".chars()).take(6).collect();
        let duration = lease["spec"]["leaseDurationSeconds"].as_u64()?;
        Some(
            UNIX_EPOCH
                + Duration::from_secs(seconds)
                + Duration::from_micros(micros.parse().unwrap_or(0))
                + Duration::from_secs(duration),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Phases.

struct FirstSync {
    replicas: usize,
    /// Create → all ready.
    all_ready: Option<Duration>,
    /// Create → all ready and owned as assigned.
    settled: Option<Duration>,
    /// Per replica: (name, own CPU s, git children CPU s, peak RSS MB, owned at the end).
    controllers: Vec<(String, f64, f64, f64, usize)>,
    server_cpu: f64,
    server_rss: f64,
    bench_cpu: f64,
    moves: u64,
    events: u64,
}

fn first_sync(fleet: &mut Fleet, apps: usize, replicas: usize) -> FirstSync {
    fleet.namespaces();
    for index in 0..replicas {
        let controller = fleet.start_controller(&format!("replica-{index}"));
        fleet.controllers.push(controller);
    }
    fleet.wait_members();
    fleet.prepare();
    let before: Vec<(f64, f64)> = fleet
        .controllers
        .iter()
        .map(|controller| cpu_seconds(controller.process.pid()))
        .collect();
    let server_before = cpu_seconds(fleet.server.pid()).0;
    let bench_before = cpu_seconds(std::process::id()).0;
    let started = Instant::now();
    for app in 0..apps {
        fleet.create(APPLICATIONS, &application(app));
    }
    eprintln!(
        "  {replicas} replica(s): {apps} Applications created in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let all_ready = fleet.wait(
        apps,
        false,
        started,
        PHASE_LIMIT,
        &format!("{replicas} replica(s), first sync"),
    );
    let controllers = fleet
        .controllers
        .iter()
        .zip(&before)
        .map(|(controller, (own, children))| {
            let (own_after, children_after) = cpu_seconds(controller.process.pid());
            (
                controller.name.clone(),
                own_after - own,
                children_after - children,
                memory_megabytes(controller.process.pid(), "VmHWM:"),
                0,
            )
        })
        .collect();
    let server_cpu = cpu_seconds(fleet.server.pid()).0 - server_before;
    let server_rss = memory_megabytes(fleet.server.pid(), "VmHWM:");
    let bench_cpu = cpu_seconds(std::process::id()).0 - bench_before;
    let settled = if all_ready.is_some() {
        fleet.wait(
            apps,
            true,
            started,
            PHASE_LIMIT,
            &format!("{replicas} replica(s), settling"),
        )
    } else {
        None
    };
    let (moves, events) = {
        let watched = fleet
            .watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (watched.moves, watched.events)
    };
    let mut result = FirstSync {
        replicas,
        all_ready,
        settled,
        controllers,
        server_cpu,
        server_rss,
        bench_cpu,
        moves,
        events,
    };
    let owners = fleet.expected_owners(apps);
    for entry in &mut result.controllers {
        entry.4 = owners.values().filter(|owner| **owner == entry.0).count();
    }
    eprintln!(
        "  {replicas} replica(s): all ready {:?}, settled {:?}, server CPU {:.1} s, RSS {:.0} MB, controllers {:?}",
        result.all_ready, result.settled, result.server_cpu, result.server_rss, result.controllers
    );
    result
}

struct Kill {
    victim: String,
    orphans: usize,
    /// Kill → the Lease's expiry.
    expiry: Option<Duration>,
    /// Kill → the last orphan ready under a survivor.
    failover: Duration,
    /// Kill → the median orphan ready under a survivor.
    median_orphan: Duration,
    /// CPU of the survivors from the kill to the failover's end.
    survivors_cpu: f64,
    /// Restart → settled again.
    rejoin: Option<Duration>,
    /// When the rejoin did not settle: each replica's shard gauges (owned, members) then.
    stuck: Vec<(String, String, String)>,
    /// The largest RSS of a survivor once it took its share over.
    survivor_rss: f64,
}

/// Each replica's RSS now and its peak, in MB, once the kills are over.
fn final_memory(fleet: &Fleet) -> Vec<(String, f64, f64)> {
    fleet
        .controllers
        .iter()
        .map(|controller| {
            (
                controller.name.clone(),
                memory_megabytes(controller.process.pid(), "VmRSS:"),
                memory_megabytes(controller.process.pid(), "VmHWM:"),
            )
        })
        .collect()
}

fn failover(fleet: &mut Fleet, apps: usize, kills: usize) -> Vec<Kill> {
    let mut results = Vec::new();
    for kill in 0..kills {
        if fleet
            .wait(apps, true, Instant::now(), settle_limit(), "before a kill")
            .is_none()
        {
            break;
        }
        let index = kill % fleet.controllers.len();
        let victim = fleet.controllers[index].name.clone();
        let orphans: Vec<String> = {
            let watched = fleet
                .watched
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            watched
                .apps
                .iter()
                .filter(|(_, state)| state.owner == victim)
                .map(|(name, _)| name.clone())
                .collect()
        };
        let survivors_before: Vec<f64> = fleet
            .controllers
            .iter()
            .filter(|controller| controller.name != victim)
            .map(|controller| {
                let (own, children) = cpu_seconds(controller.process.pid());
                own + children
            })
            .collect();
        let killed_wall = SystemTime::now();
        let killed_at = Instant::now();
        let mut dead = fleet.controllers.remove(index);
        let _ = dead.process.0.kill();
        let _ = dead.process.0.wait();
        // Every orphan ready under a survivor, written after the kill.
        let mut reported = Instant::now();
        let times = loop {
            let times: Option<Vec<Duration>> = {
                let watched = fleet
                    .watched
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                orphans
                    .iter()
                    .map(|name| {
                        let state = watched.apps.get(name)?;
                        let since = state.since?;
                        (state.ready
                            && !state.owner.is_empty()
                            && state.owner != victim
                            && since > killed_at)
                            .then(|| since - killed_at)
                    })
                    .collect()
            };
            if let Some(times) = times {
                break Some(times);
            }
            if killed_at.elapsed() > settle_limit() {
                break None;
            }
            if reported.elapsed() > Duration::from_secs(15) {
                eprintln!(
                    "  kill {}: {:.0} s since the kill of {victim}, load {}",
                    kill + 1,
                    killed_at.elapsed().as_secs_f64(),
                    load_average()
                );
                reported = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let Some(mut times) = times else {
            eprintln!(
                "kill {}: {victim}'s Applications were not taken over",
                kill + 1
            );
            break;
        };
        let survivors_cpu: f64 = fleet
            .controllers
            .iter()
            .map(|controller| {
                let (own, children) = cpu_seconds(controller.process.pid());
                own + children
            })
            .sum::<f64>()
            - survivors_before.iter().sum::<f64>();
        let survivor_rss = fleet
            .controllers
            .iter()
            .map(|controller| memory_megabytes(controller.process.pid(), "VmRSS:"))
            .fold(0.0, f64::max);
        times.sort();
        let failover = times.last().copied().unwrap_or_default();
        let median_orphan = times.get(times.len() / 2).copied().unwrap_or_default();
        let expiry = fleet
            .lease_expiry(&victim)
            .and_then(|expiry| expiry.duration_since(killed_wall).ok());
        // Restarted under the same identity, as the container of its pod would be.
        let restarted = Instant::now();
        let controller = fleet.start_controller(&victim);
        fleet.controllers.insert(index, controller);
        let rejoin = fleet.wait(apps, true, restarted, settle_limit(), "rejoin");
        let stuck = if rejoin.is_none() {
            fleet
                .controllers
                .iter()
                .map(|controller| {
                    let metrics = Fleet::metrics(controller);
                    let gauge = |name: &str| {
                        let prefix = format!("{name}{{shard=\"{}\"}} ", controller.name);
                        metrics
                            .lines()
                            .find_map(|line| line.strip_prefix(&prefix))
                            .unwrap_or("?")
                            .trim()
                            .to_string()
                    };
                    (
                        controller.name.clone(),
                        gauge("flotilla_shard_owned_applications"),
                        gauge("flotilla_shard_members"),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        eprintln!(
            "  kill {} of {kills}: {victim} ({} Applications): Lease expired {:?} after the kill, last taken over {:.2} s (median {:.2} s), survivors' CPU {:.1} s; rejoined in {:?}",
            kill + 1,
            orphans.len(),
            expiry,
            failover.as_secs_f64(),
            median_orphan.as_secs_f64(),
            survivors_cpu,
            rejoin
        );
        results.push(Kill {
            victim,
            orphans: orphans.len(),
            expiry,
            failover,
            median_orphan,
            survivors_cpu,
            rejoin,
            stuck,
            survivor_rss,
        });
        if rejoin.is_none() {
            break;
        }
    }
    results
}

// ---------------------------------------------------------------------------------------------
// The table.

fn percentile(values: &[f64], fraction: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn seconds(duration: Option<Duration>) -> String {
    duration
        .map(|duration| format!("{:.1} s", duration.as_secs_f64()))
        .unwrap_or_else(|| "not reached".to_string())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism()
        .map(|cores| cores.get())
        .unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kilobytes| kilobytes.parse::<f64>().ok())
        })
        .map(|kilobytes| kilobytes / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cores} cores ({model}), {memory:.0} GiB")
}

#[allow(clippy::too_many_arguments)]
fn table(
    apps: usize,
    objects: usize,
    kills_asked: usize,
    lease: &Lease,
    runs: &[FirstSync],
    kills: &[Kill],
    memory: &[(String, f64, f64)],
    server_memory: (f64, f64),
    loads: (&str, &str),
    elapsed: Duration,
) -> String {
    let date = flotilla_core::time::now_rfc3339();
    let date = date.get(..10).unwrap_or(&date);
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_default();
    let mut text = format!(
        "## Scale: {apps} Applications × {objects} objects over 1 and 3 replicas, and failover\n\n\
`cargo bench -p flotilla --bench scale -- --apps {apps} --objects {objects} --kills {kills_asked} --lease-duration {} --renew-deadline {} --retry-period {}` \
(the binary built from {commit}), {date}, on {}; load average {} at the start, {} at the end; {:.0} min in all. \
Every part is a separate process of the release binary: one `flotilla cluster serve` (in memory) and `flotilla controller` replicas \
(`--shard-mode auto`, the default, `--workers 8`), each with its own cache directory, reading one packed repository of {apps} directories of {objects} ConfigMaps \
through `--repo-mirror file://…`; the Applications (automated, prune, self-heal; destinations spread over {NAMESPACES} namespaces) are created over HTTP one after the other, \
and this program watches them. A fresh server for each replica count.\n\n",
        lease.duration,
        lease.renew,
        lease.retry,
        machine(),
        loads.0,
        loads.1,
        elapsed.as_secs_f64() / 60.0
    );
    text.push_str("| first full sync |");
    for run in runs {
        text.push_str(&format!(
            " {} replica{} |",
            run.replicas,
            if run.replicas == 1 { "" } else { "s" }
        ));
    }
    text.push('\n');
    text.push_str(&format!("|---|{}\n", "---|".repeat(runs.len())));
    let row = |text: &mut String, label: &str, cell: &dyn Fn(&FirstSync) -> String| {
        text.push_str(&format!("| {label} |"));
        for run in runs {
            text.push_str(&format!(" {} |", cell(run)));
        }
        text.push('\n');
    };
    row(
        &mut text,
        "time from the first create to every Application Synced, Healthy and Succeeded",
        &|run| match run.all_ready {
            Some(time) => format!(
                "{:.1} s = {:.0} apps/s",
                time.as_secs_f64(),
                apps as f64 / time.as_secs_f64()
            ),
            None => "not reached".into(),
        },
    );
    row(
        &mut text,
        "… and each owned by the replica `shard::assign` gives it (owner moves seen on the way)",
        &|run| format!("{} ({} moves)", seconds(run.settled), run.moves),
    );
    row(
        &mut text,
        "CPU of the controllers (their git children), until all Synced",
        &|run| {
            let own: f64 = run.controllers.iter().map(|entry| entry.1).sum();
            let git: f64 = run.controllers.iter().map(|entry| entry.2).sum();
            format!("{own:.1} s ({git:.1} s)")
        },
    );
    row(&mut text, "CPU of the API server", &|run| {
        format!("{:.1} s", run.server_cpu)
    });
    row(
        &mut text,
        "**CPU per Application**: controllers + git + API server (controllers + git alone)",
        &|run| {
            let controllers: f64 = run.controllers.iter().map(|entry| entry.1 + entry.2).sum();
            format!(
                "**{:.1} core-ms** ({:.1} core-ms)",
                (controllers + run.server_cpu) * 1e3 / apps as f64,
                controllers * 1e3 / apps as f64
            )
        },
    );
    row(
        &mut text,
        "peak RSS of each replica (VmHWM), its share",
        &|run| {
            run.controllers
                .iter()
                .map(|entry| format!("{:.0} MB ({})", entry.3, entry.4))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    row(&mut text, "peak RSS of the API server", &|run| {
        format!("{:.0} MB", run.server_rss)
    });
    row(
        &mut text,
        "this program's CPU (the watch; not counted above), watch events",
        &|run| format!("{:.1} s, {}", run.bench_cpu, run.events),
    );
    text.push('\n');
    if kills.is_empty() {
        text.push_str("No failover measured.\n\n");
        return text;
    }
    let durations = |pick: &dyn Fn(&Kill) -> Option<Duration>| -> Vec<f64> {
        kills
            .iter()
            .filter_map(pick)
            .map(|value| value.as_secs_f64())
            .collect()
    };
    let failovers = durations(&|kill| Some(kill.failover));
    let medians = durations(&|kill| Some(kill.median_orphan));
    let expiries = durations(&|kill| kill.expiry);
    let after_expiry: Vec<f64> = kills
        .iter()
        .filter_map(|kill| {
            kill.expiry
                .map(|expiry| kill.failover.as_secs_f64() - expiry.as_secs_f64())
        })
        .collect();
    let rejoins = durations(&|kill| kill.rejoin);
    let orphans: Vec<f64> = kills.iter().map(|kill| kill.orphans as f64).collect();
    let cpu_per_orphan: Vec<f64> = kills
        .iter()
        .map(|kill| kill.survivors_cpu * 1e3 / kill.orphans.max(1) as f64)
        .collect();
    let survivor_rss: Vec<f64> = kills.iter().map(|kill| kill.survivor_rss).collect();
    let victims: BTreeMap<&str, usize> = kills.iter().fold(BTreeMap::new(), |mut counts, kill| {
        *counts.entry(kill.victim.as_str()).or_default() += 1;
        counts
    });
    let lease_seconds = duration_text(&lease.duration).as_secs_f64();
    let retry_seconds = duration_text(&lease.retry).as_secs_f64();
    let p = |values: &[f64]| {
        format!(
            "{:.2} s / {:.2} s",
            percentile(values, 0.5),
            percentile(values, 0.99)
        )
    };
    text.push_str(&format!(
        "| failover, 3 replicas, {} SIGKILLs{} (rotating: {}) | p50 / p99 |\n|---|---|\n",
        kills.len(),
        if kills.len() < kills_asked {
            format!(" of the {kills_asked} asked")
        } else {
            String::new()
        },
        victims
            .iter()
            .map(|(name, count)| format!("{name} ×{count}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    text.push_str(&format!("| **kill → every Application the killed replica owned written by a survivor, Synced and Healthy** | **{}** |\n", p(&failovers)));
    text.push_str(&format!(
        "| kill → the median such Application | {} |\n",
        p(&medians)
    ));
    text.push_str(&format!("| kill → the killed replica's Lease expired (`renewTime` + `leaseDurationSeconds`) | {} |\n", p(&expiries)));
    text.push_str(&format!(
        "| Lease expired → the last Application taken over (the takeover itself) | {} |\n",
        p(&after_expiry)
    ));
    text.push_str(&format!(
        "| Applications the killed replica owned | {:.0} / {:.0} |\n",
        percentile(&orphans, 0.5),
        percentile(&orphans, 0.99)
    ));
    text.push_str(&format!(
        "| survivors' CPU per Application taken over | {:.1} / {:.1} core-ms |\n",
        percentile(&cpu_per_orphan, 0.5),
        percentile(&cpu_per_orphan, 0.99)
    ));
    text.push_str(&format!("| restart of the killed replica (same identity) → all owned as assigned again, Synced and Healthy | {} |\n", p(&rejoins)));
    text.push_str(&format!(
        "| RSS of the larger survivor once it took over (about half of the Applications), first kill → last kill | {:.0} MB → {:.0} MB (highest {:.0} MB) |\n",
        survivor_rss.first().copied().unwrap_or(0.0),
        survivor_rss.last().copied().unwrap_or(0.0),
        survivor_rss.iter().copied().fold(0.0, f64::max)
    ));
    text.push_str(&format!(
        "| each replica's RSS after the last rejoin, now (peak) | {} |\n",
        memory
            .iter()
            .map(|(name, now, peak)| format!("{name} {now:.0} MB ({peak:.0} MB)"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    text.push_str(&format!(
        "| API server RSS after the kills, now (peak) | {:.0} MB ({:.0} MB) |\n\n",
        server_memory.0, server_memory.1
    ));
    let takeover = percentile(&after_expiry, 0.5);
    let defaults =
        (lease_seconds - 15.0).abs() < f64::EPSILON && (retry_seconds - 2.0).abs() < f64::EPSILON;
    text.push_str(&format!(
        "Lease settings: `--shard-lease-duration {}`, `--shard-renew-deadline {}`, `--shard-retry-period {}`{}. \
A dead replica's Lease expires between one lease duration less one retry period and one lease duration after the kill (renewed every retry period); the survivors see it at their next \
renewal (within one retry period) and take its Applications over at once, so only the wait for the Lease depends on these settings (the takeover after the expiry, p50 {takeover:.1} s, does not, \
apart from the detection within one retry period).",
        lease.duration,
        lease.renew,
        lease.retry,
        if defaults { " (client-go's defaults, which are the controller's own)" } else { " (client-go's defaults, the controller's own, are 15 s, 10 s and 2 s)" },
    ));
    if !defaults {
        text.push_str(&format!(
            " With the default 15 s Lease and 2 s retry expect on average 14 s to the expiry and 1 s to notice it ({:.1} s here), about {:.0} s from the kill to the last Application taken over, against the {:.1} s p50 measured here.",
            retry_seconds / 2.0,
            15.0 - retry_seconds / 2.0 + takeover,
            percentile(&failovers, 0.5),
        ));
    }
    text.push_str("\n\n");
    for kill in kills.iter().filter(|kill| kill.rejoin.is_none()) {
        text.push_str(&format!(
            "**The kills stopped at {}**: after {} was restarted, the replicas were not back to every Application owned as assigned, Synced and Healthy within {} s; their shard gauges then (owned Applications, members seen): {}.\n\n",
            kill.victim,
            kill.victim,
            settle_limit().as_secs(),
            kill.stuck
                .iter()
                .map(|(name, owned, members)| format!("{name} {owned} owned, {members} members"))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    text
}

fn main() {
    let apps = number("--apps", 10_000);
    let objects = number("--objects", 20);
    let kills = number("--kills", 20);
    let lease = Arc::new(Lease {
        duration: argument("--lease-duration").unwrap_or_else(|| "15s".into()),
        renew: argument("--renew-deadline").unwrap_or_else(|| "10s".into()),
        retry: argument("--retry-period").unwrap_or_else(|| "2s".into()),
    });
    let begun = Instant::now();
    let load_before = load_average();
    let root = std::env::temp_dir().join(format!("flotilla-scale-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch");
    copy_binary(&root);
    let repository = make_repository(&root, apps, objects);
    eprintln!(
        "repository of {apps} × {objects} ConfigMaps made in {:.1} s",
        begun.elapsed().as_secs_f64()
    );
    let mut runs = Vec::new();
    {
        let mut fleet = Fleet::start(&root.join("one"), &repository, lease.clone());
        runs.push(first_sync(&mut fleet, apps, 1));
    }
    let (results, memory, server_memory) = {
        let mut fleet = Fleet::start(&root.join("three"), &repository, lease.clone());
        let run = first_sync(&mut fleet, apps, 3);
        let reached = run.settled.is_some();
        runs.push(run);
        let results = if reached {
            failover(&mut fleet, apps, kills)
        } else {
            Vec::new()
        };
        let server = fleet.server.pid();
        (
            results,
            final_memory(&fleet),
            (
                memory_megabytes(server, "VmRSS:"),
                memory_megabytes(server, "VmHWM:"),
            ),
        )
    };
    let text = table(
        apps,
        objects,
        kills,
        &lease,
        &runs,
        &results,
        &memory,
        server_memory,
        (&load_before, &load_average()),
        begun.elapsed(),
    );
    print!("{text}");
    if !flag("--no-write") {
        benchmarks_md::write("scale-bench", &text);
    }
    let _ = std::fs::remove_dir_all(&root);
}
