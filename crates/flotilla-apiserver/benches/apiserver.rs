//! Benchmark program (not a test): server-side applies per second, list latency with 50,000
//! objects, watch delivery latency (p50/p99) with 100 watchers, and resident memory at 50,000
//! objects. Run with `cargo bench -p flotilla-apiserver --bench apiserver`; prints a table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flotilla_apiserver::{rest, serve, ServerConfig};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(address: std::net::SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(connection);
    sender
}

async fn send(
    sender: &mut Sender,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Bytes) {
    sender.ready().await.expect("ready");
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let code = response.status().as_u16();
    (
        code,
        response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes(),
    )
}

fn resident_megabytes() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kilobytes| kilobytes.parse::<f64>().ok())
        })
        .map(|kilobytes| kilobytes / 1024.0)
        .unwrap_or(f64::NAN)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

/// The allocator the `flotilla` binary uses, so the numbers are the served ones.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let server = serve(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        insecure_http: true,
        ..ServerConfig::default()
    })
    .await
    .expect("server starts");
    let address = server.address;
    let baseline_memory = resident_megabytes();

    // 1. Server-side applies per second: 4 connections, each applying its own objects, then
    //    re-applying them with a changed value.
    let applies_per_connection = 2_500;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for connection in 0..4 {
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(address).await;
            for round in 0..2 {
                for index in 0..applies_per_connection / 2 {
                    let name = format!("apply-{connection}-{index}");
                    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"bench": "apply"}},
                        "data": {"round": round.to_string(), "payload": "x".repeat(64)}});
                    let path = format!("/api/v1/namespaces/default/configmaps/{name}?fieldManager=bench");
                    let (code, _) = send(&mut sender, "PATCH", &path, "application/apply-patch+yaml", serde_json::to_vec(&body).expect("json")).await;
                    assert!(code == 200 || code == 201, "apply failed with {code}");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("apply task");
    }
    let apply_elapsed = started.elapsed();
    let applies = (applies_per_connection * 4) as f64;
    let applies_per_second = applies / apply_elapsed.as_secs_f64();

    // 2. 50,000 objects, then list latency.
    let configmaps = server
        .state()
        .registry
        .lookup("", "v1", "configmaps")
        .expect("configmaps");
    let options = rest::WriteOptions {
        field_manager: Some("bench".to_string()),
        ..rest::WriteOptions::default()
    };
    let fill_started = Instant::now();
    for index in 0..50_000 {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("bulk-{index:05}"), "labels": {"app": "bulk", "shard": (index % 10).to_string()}},
            "data": {"key": format!("value-{index}"), "other": "y".repeat(100)}});
        rest::create(server.state(), &configmaps, Some("bulk"), body, &options).or_else(|error| match error {
            flotilla_apiserver::ApiError::NotFound { .. } => {
                let namespaces = server.state().registry.lookup("", "v1", "namespaces").expect("namespaces");
                rest::create(server.state(), &namespaces, None, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bulk"}}), &options)
            }
            other => Err(other),
        }).expect("bulk create");
    }
    let fill_elapsed = fill_started.elapsed();
    let memory_at_50k = resident_megabytes();
    let mut sender = connect(address).await;
    let mut list_times = Vec::new();
    let mut list_bytes = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let (code, body) = send(
            &mut sender,
            "GET",
            "/api/v1/namespaces/bulk/configmaps",
            "",
            Vec::new(),
        )
        .await;
        assert_eq!(code, 200);
        list_times.push(started.elapsed());
        list_bytes = body.len();
    }
    list_times.sort();
    let mut page_times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (code, _) = send(
            &mut sender,
            "GET",
            "/api/v1/namespaces/bulk/configmaps?limit=500&labelSelector=shard%3D3",
            "",
            Vec::new(),
        )
        .await;
        assert_eq!(code, 200);
        page_times.push(started.elapsed());
    }
    page_times.sort();

    // 3. Watch delivery latency with 100 watchers.
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let events_per_watcher = 200;
    let mut watchers = Vec::new();
    for _ in 0..100 {
        let sent_at = sent_at.clone();
        let latencies = latencies.clone();
        let mut sender = connect(address).await;
        let request = hyper::Request::builder()
            .uri("/api/v1/namespaces/default/configmaps?watch=true&labelSelector=bench%3Dwatch&timeoutSeconds=60")
            .header("host", "127.0.0.1")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = sender.send_request(request).await.expect("watch response");
        let mut body = response.into_body();
        watchers.push(tokio::spawn(async move {
            let _keep = sender;
            let mut buffer = Vec::new();
            let mut seen = 0;
            while seen < events_per_watcher {
                let Some(Ok(frame)) = body.frame().await else {
                    break;
                };
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                buffer.extend_from_slice(&data);
                while let Some(position) = buffer.iter().position(|byte| *byte == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=position).collect();
                    let received = Instant::now();
                    let event: Value = serde_json::from_slice(&line).expect("event");
                    if let Some(name) = event["object"]["metadata"]["name"].as_str() {
                        if let Some(sent) = sent_at.lock().expect("lock").get(name) {
                            latencies.lock().expect("lock").push(received - *sent);
                            seen += 1;
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut writer = connect(address).await;
    for index in 0..events_per_watcher {
        let name = format!("watched-{index}");
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"bench": "watch"}}});
        sent_at.lock().expect("lock").insert(name, Instant::now());
        let (code, _) = send(
            &mut writer,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            serde_json::to_vec(&body).expect("json"),
        )
        .await;
        assert_eq!(code, 201);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for watcher in watchers {
        let _ = tokio::time::timeout(Duration::from_secs(30), watcher).await;
    }
    let mut latencies = latencies.lock().expect("lock").clone();
    latencies.sort();

    println!("| measurement | value | goal |");
    println!("| --- | --- | --- |");
    println!("| server-side applies/s (4 connections, {applies} applies, 2 worker threads incl. client) | {applies_per_second:.0} | >= 5000 |");
    println!(
        "| list 50,000 ConfigMaps ({:.1} MB JSON), median of 5 | {:.1} ms | |",
        list_bytes as f64 / 1e6,
        percentile(&list_times, 0.5).as_secs_f64() * 1000.0
    );
    println!(
        "| list with labelSelector + limit=500 over 50,000, median | {:.1} ms | |",
        percentile(&page_times, 0.5).as_secs_f64() * 1000.0
    );
    println!(
        "| in-process create of 50,000 objects | {:.0} objects/s | |",
        50_000.0 / fill_elapsed.as_secs_f64()
    );
    println!("| watch delivery p50 / p99 (100 watchers, {} events) | {:.2} ms / {:.2} ms | p99 <= 50 ms |", latencies.len(), percentile(&latencies, 0.5).as_secs_f64() * 1000.0, percentile(&latencies, 0.99).as_secs_f64() * 1000.0);
    println!("| resident memory at ~60,000 objects (baseline {baseline_memory:.0} MB) | {memory_at_50k:.0} MB | <= 500 MB |");
    server.shutdown().await;
}
