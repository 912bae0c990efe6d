//! Test harness: start a server on an ephemeral loopback port and talk to it over plain HTTP/1.1,
//! with a timeout on every await so a broken server fails the test instead of hanging it.

#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

pub mod kubectl;

use bytes::Bytes;
use flotilla_apiserver::{serve, RunningServer, ServerConfig};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

pub const STEP: Duration = Duration::from_secs(20);

/// Awaits `future` or fails the test after [`STEP`].
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, future)
        .await
        .expect("step timed out")
}

pub fn config() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().expect("valid address"),
        insecure_http: true,
        bookmark_interval: Duration::from_millis(100),
        ..ServerConfig::default()
    }
}

pub async fn start() -> RunningServer {
    within(serve(config())).await.expect("server starts")
}

pub async fn start_with(config: ServerConfig) -> RunningServer {
    within(serve(config)).await.expect("server starts")
}

pub fn temp_dir(label: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!(
        "flotilla-apiserver-test-{label}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&directory).expect("temp dir");
    directory
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0)
}

/// A response: status code and body (parsed as JSON when it is JSON, else a string value).
pub struct Reply {
    pub code: u16,
    pub body: Value,
    /// The `Warning` headers, as sent.
    pub warnings: Vec<String>,
}

impl Reply {
    pub fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or("")
    }
}

pub async fn request(
    server: &RunningServer,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Reply {
    request_with_headers(
        server,
        method,
        path,
        &[("content-type", content_type)],
        body,
    )
    .await
}

pub async fn request_with_headers(
    server: &RunningServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    within(async {
        let stream = tokio::net::TcpStream::connect(server.address)
            .await
            .expect("connect");
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(connection);
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1");
        for (name, value) in headers {
            if !value.is_empty() {
                builder = builder.header(*name, *value);
            }
        }
        let request = builder.body(Full::new(Bytes::from(body))).expect("request");
        let response = sender.send_request(request).await.expect("response");
        let code = response.status().as_u16();
        let warnings = response
            .headers()
            .get_all("warning")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .map(str::to_string)
            .collect();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).to_string()));
        Reply {
            code,
            body,
            warnings,
        }
    })
    .await
}

pub async fn get(server: &RunningServer, path: &str) -> Reply {
    request(server, "GET", path, "", Vec::new()).await
}

pub async fn send_json(server: &RunningServer, method: &str, path: &str, body: &Value) -> Reply {
    request(
        server,
        method,
        path,
        "application/json",
        serde_json::to_vec(body).expect("json"),
    )
    .await
}

pub async fn patch(server: &RunningServer, path: &str, content_type: &str, body: &Value) -> Reply {
    request(
        server,
        "PATCH",
        path,
        content_type,
        serde_json::to_vec(body).expect("json"),
    )
    .await
}

/// An open watch: read events one line at a time.
pub struct WatchStream {
    body: hyper::body::Incoming,
    buffer: Vec<u8>,
    pub code: u16,
}

impl WatchStream {
    /// The next event, or `None` when the server closed the stream.
    pub async fn next(&mut self) -> Option<Value> {
        within(async {
            loop {
                if let Some(position) = self.buffer.iter().position(|byte| *byte == b'\n') {
                    let line: Vec<u8> = self.buffer.drain(..=position).collect();
                    return Some(serde_json::from_slice(&line).expect("one JSON event per line"));
                }
                match self.body.frame().await {
                    None => return None,
                    Some(Err(_)) => return None,
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            self.buffer.extend_from_slice(&data);
                        }
                    }
                }
            }
        })
        .await
    }

    /// The next event that is not a bookmark.
    pub async fn next_change(&mut self) -> Option<Value> {
        loop {
            let event = self.next().await?;
            if event["type"] != "BOOKMARK" {
                return Some(event);
            }
        }
    }
}

pub async fn watch(server: &RunningServer, path: &str) -> WatchStream {
    within(async {
        let stream = tokio::net::TcpStream::connect(server.address)
            .await
            .expect("connect");
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(connection);
        let request = hyper::Request::builder()
            .uri(path)
            .header("host", "127.0.0.1")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        WatchStream {
            code: response.status().as_u16(),
            body: response.into_body(),
            buffer: Vec::new(),
        }
    })
    .await
}

pub fn configmap(name: &str, data: Value) -> Value {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

pub fn resource_version(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .expect("resourceVersion")
}
