//! A test-only HTTP proxy between the engine and the API server that injects faults into a
//! share of the requests: 500 and 503 answers (before the request reaches the server, and after
//! it was applied there: the client sees an error for a write that happened), 429 with
//! `Retry-After`, latency, bodies cut short (the connection dropped mid-answer), and watch
//! streams that close early or go silent for a while. Deterministic for a seed.
//!
//! It counts what passed through: requests, faults by kind, and the writes (PATCH, PUT, POST)
//! that reached the server per object path, so a test can bound the applies per object; and
//! each successful write with when it was sent and answered (`Stats::log`), so a test can see
//! which writers overlapped. With [`FaultProxy::record_bodies`] each logged write keeps its
//! request body, and writes the server never answered (it was killed mid-request) are kept apart
//! in `Stats::unanswered`: they may or may not have been applied.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures_util::StreamExt;
use http_body_util::BodyExt;

/// What a faulty request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// 500 before the server sees the request.
    ServerError,
    /// 503 before the server sees the request.
    Unavailable,
    /// 429 with `Retry-After: 1`.
    TooManyRequests,
    /// Forwarded, applied by the server, then answered 500.
    ErrorAfterApplying,
    /// Forwarded after a delay of 100 to 400 ms.
    Latency,
    /// Forwarded; the answer's body cut in half and the connection dropped.
    Truncated,
    /// A watch forwarded for a short while, then closed.
    WatchClosed,
    /// A watch that forwards nothing for a few seconds, then closes.
    WatchSilent,
}

const REQUEST_FAULTS: [Fault; 6] = [
    Fault::ServerError,
    Fault::Unavailable,
    Fault::TooManyRequests,
    Fault::ErrorAfterApplying,
    Fault::Latency,
    Fault::Truncated,
];

/// What passed through the proxy.
#[derive(Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub faults: Mutex<BTreeMap<Fault, u64>>,
    /// Writes the server received, by object path (collection path and name).
    pub writes: Mutex<BTreeMap<String, u64>>,
    /// Every write the server accepted (dry runs excluded), in the order they were answered.
    pub log: Mutex<Vec<LoggedWrite>>,
    /// Writes forwarded whose answer never came (the connection to the server failed): applied
    /// or not, nobody was told.
    pub unanswered: Mutex<Vec<LoggedWrite>>,
    /// Whether logged writes keep their request bodies.
    pub bodies: std::sync::atomic::AtomicBool,
}

/// One write the server accepted.
#[derive(Clone, Debug)]
pub struct LoggedWrite {
    pub method: String,
    /// The object's path, without the query.
    pub path: String,
    /// When the proxy forwarded it.
    pub started: SystemTime,
    /// When the server's answer reached the proxy (or the connection failed).
    pub ended: SystemTime,
    /// The answer's status code (0: none came).
    pub status: u16,
    /// The request body, when the proxy records bodies.
    pub body: Option<axum::body::Bytes>,
}

struct Shared {
    upstream: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Body,
    >,
    /// Faults per million requests (0 turns them off).
    rate: AtomicU64,
    random: Mutex<u64>,
    stats: Arc<Stats>,
}

impl Shared {
    fn next(&self) -> u64 {
        let mut state = self
            .random
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // xorshift64*
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn count(&self, fault: Fault) {
        *self
            .stats
            .faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(fault)
            .or_default() += 1;
    }
}

/// A running proxy.
pub struct FaultProxy {
    pub url: String,
    pub stats: Arc<Stats>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`), faults off.
    pub async fn start(upstream: &str, seed: u64) -> FaultProxy {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let stats = Arc::new(Stats::default());
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client,
            rate: AtomicU64::new(0),
            random: Mutex::new(seed.max(1)),
            stats: stats.clone(),
        });
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy port");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FaultProxy {
            url,
            stats,
            shared,
            task,
        }
    }

    /// Injects faults into `share` of the requests (0.0 to 1.0).
    pub fn set_rate(&self, share: f64) {
        self.shared.rate.store(
            (share.clamp(0.0, 1.0) * 1_000_000.0) as u64,
            Ordering::SeqCst,
        );
    }

    /// Keeps the request body of each logged write (`LoggedWrite::body`).
    pub fn record_bodies(&self, on: bool) {
        self.stats.bodies.store(on, Ordering::SeqCst);
    }

    pub fn faults(&self) -> BTreeMap<Fault, u64> {
        self.stats
            .faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn status(code: u16, reason: &str) -> Response {
    let body = format!(
        "{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"injected fault: {reason}\",\"reason\":\"{reason}\",\"code\":{code}}}"
    );
    let mut response = Response::builder()
        .status(code)
        .header("content-type", "application/json");
    if code == 429 {
        response = response.header("retry-after", "1");
    }
    response
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Infallible> {
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|value| value.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let watch = path_and_query.contains("watch=true") || path_and_query.contains("watch=1");
    let rate = shared.rate.load(Ordering::SeqCst);
    let roll = shared.next();
    let only = std::env::var("FLOTILLA_FAULT_ONLY").unwrap_or_default();
    let fault =
        (rate > 0 && roll % 1_000_000 < rate && (only.is_empty() || (only == "watch") == watch))
            .then(|| {
                if watch {
                    [
                        Fault::WatchClosed,
                        Fault::WatchSilent,
                        Fault::ServerError,
                        Fault::TooManyRequests,
                    ][(roll >> 20) as usize % 4]
                } else {
                    REQUEST_FAULTS[(roll >> 20) as usize % REQUEST_FAULTS.len()]
                }
            });
    if let Some(fault) = fault {
        shared.count(fault);
        match fault {
            Fault::ServerError => return Ok(status(500, "InternalError")),
            Fault::Unavailable => return Ok(status(503, "ServiceUnavailable")),
            Fault::TooManyRequests => return Ok(status(429, "TooManyRequests")),
            Fault::Latency => {
                tokio::time::sleep(Duration::from_millis(100 + (roll >> 40) % 300)).await;
            }
            _ => {}
        }
    }
    let mut upstream = axum::http::Request::builder()
        .method(parts.method.clone())
        .uri(format!("{}{path_and_query}", shared.upstream));
    for (name, value) in &parts.headers {
        if name != "host" {
            upstream = upstream.header(name, value);
        }
    }
    let kept_body = shared
        .stats
        .bodies
        .load(Ordering::SeqCst)
        .then(|| body.clone());
    let Ok(upstream) = upstream.body(Body::from(body)) else {
        return Ok(status(500, "InternalError"));
    };
    let is_write = matches!(parts.method.as_str(), "PATCH" | "PUT" | "POST");
    let started = SystemTime::now();
    let dry_run = path_and_query.contains("dryRun");
    let logged = (is_write || parts.method == "DELETE") && !dry_run;
    // The write as logged, once its answer (or its lack: status 0) is known.
    let logged_write = |status: u16| LoggedWrite {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        started,
        ended: SystemTime::now(),
        status,
        body: kept_body,
    };
    let answer = match shared.client.request(upstream).await {
        Ok(answer) => answer,
        Err(_) => {
            if logged {
                shared
                    .stats
                    .unanswered
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(logged_write(0));
            }
            return Ok(status(502, "BadGateway"));
        }
    };
    if is_write && answer.status().is_success() {
        *shared
            .stats
            .writes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(parts.uri.path().to_string())
            .or_default() += 1;
    }
    if logged && answer.status().is_success() {
        shared
            .stats
            .log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(logged_write(answer.status().as_u16()));
    }
    let (answer_parts, answer_body) = answer.into_parts();
    match fault {
        Some(Fault::ErrorAfterApplying) => Ok(status(500, "InternalError")),
        Some(Fault::Truncated) => {
            let bytes = answer_body
                .collect()
                .await
                .map(|collected| collected.to_bytes())
                .unwrap_or_default();
            let half = bytes.slice(0..bytes.len() / 2);
            let stream = futures_util::stream::iter(vec![
                Ok::<_, std::io::Error>(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected: connection reset",
                )),
            ]);
            let mut response = Response::from_parts(answer_parts, Body::from_stream(stream));
            response.headers_mut().remove("content-length");
            Ok(response)
        }
        Some(Fault::WatchClosed) => {
            let until =
                tokio::time::Instant::now() + Duration::from_millis(200 + (roll >> 40) % 1500);
            let stream = answer_body
                .into_data_stream()
                .take_until(tokio::time::sleep_until(until));
            Ok(Response::from_parts(
                answer_parts,
                Body::from_stream(stream),
            ))
        }
        Some(Fault::WatchSilent) => {
            // Nothing for a few seconds, then the stream ends (as an idle proxy would end it).
            let silence = Duration::from_millis(1000 + (roll >> 40) % 3000);
            let stream = futures_util::stream::once(async move {
                tokio::time::sleep(silence).await;
                Ok::<_, std::io::Error>(axum::body::Bytes::new())
            });
            drop(answer_body);
            Ok(Response::from_parts(
                answer_parts,
                Body::from_stream(stream),
            ))
        }
        _ => Ok(Response::from_parts(answer_parts, Body::new(answer_body))),
    }
}
