//! Benchmark program (not a test) for the API and UI at scale, against the embedded API server
//! in this process:
//!
//! 1. **Application list**: A Applications (default 5,000); the first page (100) of
//!    `/api/v1/applications` and of the `/applications` page, a text search, and a label
//!    selector (which reads the cluster instead of the watch's index), each asked R times,
//!    alternating; medians and p90 of the time to the last byte over loopback (the server's
//!    time: the client only reads).
//! 2. **Resource tree**: one Application of O objects (default 2,000 ConfigMaps): the tree
//!    API and the rendered application page.
//! 3. **In Chromium** (when Debian's chromium and playwright-core are there, as `.ci/run` installs
//!    them; `benches/browser.js`): the list's first page and the tree's page loaded in a headless
//!    tab, navigation start to the load event, and the tab's JavaScript heap and DOM nodes.
//!
//! Anchors (issue 16): Argo CD's list takes 35 s to 2 min at 4,000–8,000 applications; its
//! trees freeze at about 1,500 objects. Goals: the list's first page under 300 ms of server
//! time, the 2,000-object tree interactive within 2 s.
//!
//! `cargo bench -p flotilla-web --bench web -- [--apps A] [--objects O] [--rounds R]`. Writes the
//! table between `<!-- web-bench -->` markers in BENCHMARKS.md.

#[path = "../../../benches/benchmarks_md.rs"]
mod benchmarks_md;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_engine::Cluster;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Stub;

impl flotilla_web::Backend for Stub {
    fn metrics_text(&self) -> String {
        String::new()
    }
    fn refresh(&self, _repositories: Vec<String>) {}
}

fn argument(name: &str, default: usize) -> usize {
    let arguments: Vec<String> = std::env::args().collect();
    arguments
        .iter()
        .position(|argument| argument == name)
        .and_then(|index| arguments.get(index + 1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

const HEALTH: [&str; 4] = ["Healthy", "Healthy", "Progressing", "Degraded"];
const SYNC: [&str; 3] = ["Synced", "Synced", "OutOfSync"];

fn application(index: usize) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": format!("app-{index:05}"), "namespace": "argocd",
            "labels": {"team": format!("team-{}", index % 50)}},
        "spec": {
            "project": format!("project-{}", index % 20),
            "source": {"repoURL": "https://git.example.com/bench/repo.git", "path": format!("apps/app-{index}"), "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": format!("team-{}", index % 50)},
        },
        "status": {
            "sync": {"status": SYNC[index % SYNC.len()], "revision": "0123456789abcdef0123456789abcdef01234567"},
            "health": {"status": HEALTH[index % HEALTH.len()]},
            "resources": (0..5).map(|object| json!({"version": "v1", "kind": "ConfigMap", "namespace": format!("team-{}", index % 50), "name": format!("app-{index}-{object}"), "status": "Synced"})).collect::<Vec<_>>(),
        },
    })
}

fn big_application(objects: usize) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "big", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example.com/bench/repo.git", "path": "big", "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "big"},
        },
        "status": {
            "sync": {"status": "OutOfSync"},
            "health": {"status": "Healthy"},
            "resources": (0..objects).map(|index| {
                let mut entry = json!({"version": "v1", "kind": "ConfigMap", "namespace": "big", "name": format!("object-{index:05}"), "status": "Synced", "health": {"status": "Healthy"}});
                if index % 10 == 0 {
                    entry["status"] = json!("OutOfSync");
                    entry["message"] = json!("`data.index` differs");
                }
                entry
            }).collect::<Vec<_>>(),
        },
    })
}

async fn create_all(cluster: &Cluster, objects: Vec<Value>) {
    let cluster = &cluster;
    futures_util::stream::iter(objects)
        .map(|object| async move {
            let info = cluster
                .resource(
                    object["apiVersion"].as_str().expect("apiVersion"),
                    object["kind"].as_str().expect("kind"),
                )
                .await
                .expect("resource");
            cluster.create(&info, &object).await.expect("create");
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

/// GET `path`; the time to the last byte and the body's length.
async fn get(address: std::net::SocketAddr, path: &str) -> (Duration, usize) {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer admin\r\ncookie: flotilla_token=admin\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let elapsed = started.elapsed();
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{path}: {}",
        String::from_utf8_lossy(&response[..response.len().min(300)])
    );
    (elapsed, response.len())
}

fn percentile(times: &mut [Duration], fraction: f64) -> Duration {
    times.sort();
    let index = ((times.len() as f64 - 1.0) * fraction).round() as usize;
    times[index.min(times.len() - 1)]
}

fn milliseconds(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

fn peak_rss_megabytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: f64 = line["VmHWM:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kilobytes / 1024.0)
}

/// The Chromium rows: `benches/browser.js` loading the list's first page and the tree's page.
fn browser_rows(
    address: std::net::SocketAddr,
    rounds: usize,
    objects: usize,
) -> Result<String, String> {
    let chromium = std::env::var_os("FLOTILLA_CHROMIUM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    let playwright = std::env::var_os("FLOTILLA_PLAYWRIGHT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/playwright"));
    let modules = playwright.join("node_modules");
    if !chromium.exists() || !modules.join("playwright-core").is_dir() {
        return Err(format!(
            "no browser rows: needs `{}` and playwright-core in `{}`",
            chromium.display(),
            modules.display()
        ));
    }
    let pages = json!([
        {"label": "list page (HTML), first page of 100", "path": "/applications?limit=100"},
        {"label": format!("application page (HTML), {objects} objects"), "path": "/applications/argocd/big"},
    ]);
    let output = std::process::Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/browser.js"))
        .env("NODE_PATH", &modules)
        .env("CHROMIUM", &chromium)
        .env("BASE", format!("http://{address}"))
        .env("TOKEN", "admin")
        .env("ROUNDS", rounds.to_string())
        .env("PAGES", pages.to_string())
        .output()
        .map_err(|error| format!("cannot run node: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "the browser run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let results: Vec<Value> = serde_json::from_slice(&output.stdout)
        .map_err(|error| format!("browser.js printed no JSON: {error}"))?;
    let mut rows = String::from(
        "\nIn headless Chromium (Debian's chromium, playwright-core): navigation start to the load event, medians; the tab's JavaScript heap and the page's elements after the last load.\n\n| page | median ms | p90 ms | JS heap MB | elements |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    for result in results {
        let mut times: Vec<Duration> = result["times"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .map(|milliseconds| Duration::from_secs_f64(milliseconds / 1000.0))
            .collect();
        if times.is_empty() {
            continue;
        }
        rows.push_str(&format!(
            "| {} | {} | {} | {:.1} | {} |\n",
            result["label"].as_str().unwrap_or(""),
            milliseconds(percentile(&mut times, 0.5)),
            milliseconds(percentile(&mut times, 0.9)),
            result["heap"].as_f64().unwrap_or(0.0) / 1_048_576.0,
            result["nodes"].as_f64().unwrap_or(0.0)
        ));
    }
    Ok(rows)
}

fn main() {
    let apps = argument("--apps", 5000);
    let objects = argument("--objects", 2000);
    let rounds = argument("--rounds", 30).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let server = flotilla_apiserver::serve(flotilla_apiserver::ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            ..flotilla_apiserver::ServerConfig::default()
        })
        .await
        .expect("the embedded API server starts");
        let connect = || async {
            let (client, url) =
                flotilla_engine::client_from_kubeconfig(Some(&server.kubeconfig_path), None)
                    .await
                    .expect("client");
            Cluster::new("bench", &url, client)
        };
        let cluster = connect().await;
        flotilla_engine::crds::install(&cluster)
            .await
            .expect("CRDs");
        let namespaces: Vec<Value> = ["argocd", "big"]
            .iter()
            .map(|name| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
            .collect();
        create_all(&cluster, namespaces).await;
        create_all(&cluster, vec![big_application(objects)]).await;
        let started = Instant::now();
        create_all(&cluster, (0..apps).map(application).collect()).await;
        let configmaps = (0..objects)
            .map(|index| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("object-{index:05}"), "namespace": "big"}, "data": {"index": index.to_string()}}))
            .collect();
        create_all(&cluster, configmaps).await;
        eprintln!(
            "created {apps} Applications and {objects} objects in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let api = flotilla_web::api::Api {
            cluster: Arc::new(connect().await),
            tokens: flotilla_web::auth::Tokens::new("admin", "reader"),
            control_namespace: "argocd".into(),
        };
        let (address, _task) = flotilla_web::serve_with_api(
            "127.0.0.1:0".parse().expect("address"),
            Arc::new(Stub),
            None,
            api,
            None,
        )
        .await
        .expect("serve");
        // The watch's index holds every Application once the list answers with all of them.
        let ready_by = Instant::now() + Duration::from_secs(120);
        loop {
            let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
            stream
                .write_all(format!("GET /api/v1/applications?limit=1 HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer admin\r\nconnection: close\r\n\r\n").as_bytes())
                .await
                .expect("write");
            let mut response = String::new();
            stream.read_to_string(&mut response).await.expect("read");
            if response.contains(&format!("\"total\":{}", apps + 1)) {
                break;
            }
            assert!(Instant::now() < ready_by, "the index did not fill: {response}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let cases: Vec<(String, String, usize)> = vec![
            (format!("API list, first page of 100 of {}", apps + 1), "/api/v1/applications?limit=100".into(), rounds),
            ("API list, health=Degraded, page 3".into(), "/api/v1/applications?limit=100&health=Degraded&page=3".into(), rounds),
            ("API list, search `app-04`".into(), "/api/v1/applications?limit=100&search=app-04".into(), rounds),
            ("list page (HTML), first page of 100".into(), "/applications?limit=100".into(), rounds),
            ("API list by label selector (reads the cluster)".into(), "/api/v1/applications?limit=100&selector=team%3Dteam-7".into(), rounds.min(10)),
            (format!("API tree, {objects} objects"), "/api/v1/applications/argocd/big/tree".into(), rounds.min(10)),
            (format!("application page (HTML), {objects} objects"), "/applications/argocd/big".into(), rounds.min(10)),
        ];
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
        let mut sizes = vec![0usize; cases.len()];
        let most = cases.iter().map(|case| case.2).max().unwrap_or(1);
        // Alternating, so that a noisy moment hits every case alike.
        for round in 0..most {
            for (index, (_, path, count)) in cases.iter().enumerate() {
                if round < *count {
                    let (elapsed, size) = get(address, path).await;
                    times[index].push(elapsed);
                    sizes[index] = size;
                }
            }
        }
        let mut table = format!(
            "Web API and UI (`cargo bench -p flotilla-web --bench web`): {apps} Applications and one of {objects} objects in the embedded API server, in process; time to the last byte over loopback, {rounds} rounds alternating (10 for the slower cases).\n\n| request | median ms | p90 ms | bytes |\n| --- | ---: | ---: | ---: |\n"
        );
        for (index, (label, _, _)) in cases.iter().enumerate() {
            let median = percentile(&mut times[index], 0.5);
            let p90 = percentile(&mut times[index], 0.9);
            table.push_str(&format!(
                "| {label} | {} | {} | {} |\n",
                milliseconds(median),
                milliseconds(p90),
                sizes[index]
            ));
        }
        match browser_rows(address, rounds.min(10), objects) {
            Ok(rows) => table.push_str(&rows),
            Err(note) => eprintln!("note: {note}"),
        }
        if let Some(peak) = peak_rss_megabytes() {
            table.push_str(&format!(
                "\nPeak RSS of the process (API server, its {apps} Applications and {objects} objects, and the web server): {peak:.0} MB.\n"
            ));
        }
        table.push_str(
            "\nGoals (issue 16): the list's first page in under 300 ms of server time and usable in the browser within 1 s; a 2,000-object tree interactive within 2 s. Anchors: Argo CD's list takes 35 s to 2 min at 4,000–8,000 applications, because it loads every one; its trees freeze at about 1,500 objects. Lists page over the summaries one Application watch keeps (no list of the cluster per request, no full objects); the tree is one list per kind and namespace, rendered on the server as nested lists, with no script work per node.\n",
        );
        print!("{table}");
        benchmarks_md::write("web-bench", &table);
        server.shutdown().await;
    });
}
