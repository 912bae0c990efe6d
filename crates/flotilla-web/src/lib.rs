//! flotilla-web: the controller's HTTP surface. It owns no business logic: `/metrics` renders
//! the engine's metrics, `/healthz` answers while the process serves, `/readyz` once the engine
//! has started (its caches listed), and `/api/webhook` accepts GitHub-style push events
//! (`X-Hub-Signature-256` HMAC-SHA256 over the body, checked in constant time when a secret is
//! configured) and asks the engine to refresh the pushed repository.
//!
//! With an [`api::Api`] (the cluster and the tokens; [`serve_with_api`]), it also serves the
//! JSON API under `/api/v1` (`api`, over `apps`, which `flotilla app` shares) and the
//! server-rendered UI (`ui`, assets embedded from `assets/`), behind `auth`'s tokens and origin
//! check.

pub mod api;
pub mod apps;
pub mod auth;
pub mod catalog;
pub mod process;
pub mod tls;
pub mod topology;
mod ui;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use hmac::{KeyInit, Mac};

/// What the endpoints need from the engine.
pub trait Backend: Send + Sync + 'static {
    fn metrics_text(&self) -> String;
    /// Refresh the repository a push named (every URL form the payload gives).
    fn refresh(&self, repositories: Vec<String>);
    /// The sealing certificate (`GET /v1/cert.pem`); None when sealed secrets are not handled.
    fn certificate_pem(&self) -> Option<String> {
        None
    }
    /// Whether a SealedSecret (JSON) unseals (`POST /v1/verify`); None when not handled.
    fn verify(&self, _sealed_secret: &serde_json::Value) -> Option<Result<(), String>> {
        None
    }
    /// The SealedSecret re-encrypted for the newest key (`POST /v1/rotate`).
    fn rotate(
        &self,
        _sealed_secret: &serde_json::Value,
    ) -> Option<Result<serde_json::Value, String>> {
        None
    }
    /// What a sync of one Application would change (`apps::preview_data`, for
    /// `GET /api/v1/applications/{namespace}/{name}/diff`), with `object` the details of
    /// `resource` (`Kind/namespace/name`; `apps::preview_object`) when it is given; None when
    /// this backend cannot tell.
    fn preview(&self, _namespace: &str, _name: &str, _resource: Option<String>) -> PreviewFuture {
        Box::pin(async { None })
    }
    /// What the pre-sync gate last said about one Application (`apps::guardrail_data`:
    /// `{"revisions", "findings"}`); None when this backend cannot tell (another replica
    /// reconciles it).
    fn guardrails(&self, _namespace: &str, _name: &str) -> Option<serde_json::Value> {
        None
    }
    /// The repository files (AsyncAPI documents, schemas) of an Application's sources at the
    /// commits of its last sync, as the pre-sync gate reads them
    /// (`flotilla_engine::gate::synced_files`), for the live topology; none when this backend
    /// cannot read them.
    fn synced_files<'a>(&'a self, _application: &'a serde_json::Value) -> SyncedFilesFuture<'a> {
        Box::pin(async { Vec::new() })
    }
}

/// The answer of [`Backend::synced_files`].
pub type SyncedFilesFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Vec<flotilla_engine::gate::SourceFiles>> + Send + 'a>,
>;

/// The answer of [`Backend::preview`].
pub type PreviewFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Option<Result<serde_json::Value, String>>> + Send>,
>;

impl Backend for flotilla_engine::Engine {
    fn preview(&self, namespace: &str, name: &str, resource: Option<String>) -> PreviewFuture {
        let engine = self.clone();
        let (namespace, name) = (namespace.to_string(), name.to_string());
        Box::pin(async move {
            let preview = engine.preview(&namespace, &name).await;
            Some(preview.map(|preview| {
                let mut data = apps::preview_data(&namespace, &name, &preview);
                if let Some(resource) = resource {
                    data["object"] = apps::preview_object(&preview, &resource)
                        .unwrap_or(serde_json::Value::Null);
                }
                data
            }))
        })
    }

    fn metrics_text(&self) -> String {
        flotilla_engine::Engine::metrics_text(self)
    }

    fn guardrails(&self, namespace: &str, name: &str) -> Option<serde_json::Value> {
        // Another replica reconciles it: only that one knows.
        if !self.reconciles(namespace, name) {
            return None;
        }
        Some(apps::guardrail_data(
            self.guardrail_findings(namespace, name).as_ref(),
        ))
    }

    fn synced_files<'a>(&'a self, application: &'a serde_json::Value) -> SyncedFilesFuture<'a> {
        Box::pin(flotilla_engine::Engine::synced_files(self, application))
    }

    fn certificate_pem(&self) -> Option<String> {
        self.unsealer()?.certificate_pem()
    }

    fn verify(&self, sealed_secret: &serde_json::Value) -> Option<Result<(), String>> {
        Some(self.unsealer()?.verify(sealed_secret))
    }

    fn rotate(
        &self,
        sealed_secret: &serde_json::Value,
    ) -> Option<Result<serde_json::Value, String>> {
        Some(self.unsealer()?.reseal(sealed_secret))
    }

    fn refresh(&self, repositories: Vec<String>) {
        let engine = self.clone();
        tokio::spawn(async move {
            for repository in repositories {
                engine.refresh(Some(&repository)).await;
            }
        });
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

struct AppState {
    backend: Arc<dyn Backend>,
    webhook_secret: Option<Vec<u8>>,
}

/// The router (tests serve it on their own listener).
pub fn router(backend: Arc<dyn Backend>, webhook_secret: Option<Vec<u8>>) -> Router {
    let state = Arc::new(AppState {
        backend,
        webhook_secret,
    });
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        // Ready when serving: `flotilla controller` starts the engine (its Application and
        // AppProject caches listed, the CRDs installed) before it serves these endpoints.
        .route("/readyz", get(|| async { "ok" }))
        .route("/api/webhook", post(webhook))
        .route("/v1/cert.pem", get(certificate))
        .route("/v1/verify", post(verify))
        .route("/v1/rotate", post(rotate))
        .with_state(state)
}

/// Serves the router on `address` until the task is dropped; returns the bound address.
pub async fn serve(
    address: SocketAddr,
    backend: Arc<dyn Backend>,
    webhook_secret: Option<Vec<u8>>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), WebError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| WebError::Bind { address, source })?;
    let bound = listener.local_addr().unwrap_or(address);
    let app = router(backend, webhook_secret);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((bound, task))
}

/// The `/api/v1` routes (each one is documented in `assets/openapi.json`).
pub const API_ROUTES: &[&str] = &[
    "/api/v1/openapi.json",
    "/api/v1/session",
    "/api/v1/applications",
    "/api/v1/applications/{namespace}/{name}",
    "/api/v1/applications/{namespace}/{name}/tree",
    "/api/v1/applications/{namespace}/{name}/events",
    "/api/v1/applications/{namespace}/{name}/history",
    "/api/v1/applications/{namespace}/{name}/diff",
    "/api/v1/applications/{namespace}/{name}/resource",
    "/api/v1/applications/{namespace}/{name}/refresh",
    "/api/v1/applications/{namespace}/{name}/sync",
    "/api/v1/applications/{namespace}/{name}/rollback",
    "/api/v1/applications/{namespace}/{name}/guardrails",
    "/api/v1/catalog",
    "/api/v1/catalog/{package}",
    "/api/v1/topology",
    "/api/v1/stream",
];

/// The API and UI routes over `state`.
fn api_router(state: Arc<api::ApiState>) -> Router {
    let [openapi, session, list, one, tree, events, history, diff, resource, refresh, sync, rollback, guardrails, catalog, package, topology, stream] =
        API_ROUTES
    else {
        unreachable!("API_ROUTES names seventeen routes")
    };
    Router::new()
        .route(openapi, get(api::openapi))
        .route(session, get(api::session))
        .route(list, get(api::list_applications))
        .route(one, get(api::get_application))
        .route(tree, get(api::tree))
        .route(events, get(api::events))
        .route(history, get(api::history))
        .route(diff, get(api::diff))
        .route(resource, get(api::resource))
        .route(rollback, post(api::rollback))
        .route(guardrails, get(api::guardrails))
        .route(catalog, get(api::catalog))
        .route(package, get(api::catalog_package))
        .route(topology, get(api::topology))
        .route(refresh, post(api::refresh))
        .route(sync, post(api::sync))
        .route(stream, get(api::stream))
        .merge(ui::routes())
        .with_state(state)
}

/// Answers for paths nothing serves: JSON under `/api/`, text elsewhere.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path().starts_with("/api/") {
        api::ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no endpoint `{}`", uri.path()),
        )
        .into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found\n").into_response()
    }
}

/// [`serve`], plus the JSON API and the UI over `api`, over HTTPS with `tls`; one watch on the
/// cluster's Applications feeds `/api/v1/stream` while the server runs.
pub async fn serve_with_api(
    address: SocketAddr,
    backend: Arc<dyn Backend>,
    webhook_secret: Option<Vec<u8>>,
    api: api::Api,
    tls: Option<&tls::TlsFiles>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), WebError> {
    let acceptor = tls.map(tls::acceptor).transpose()?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| WebError::Bind { address, source })?;
    let bound = listener.local_addr().unwrap_or(address);
    let (changes, _) = tokio::sync::broadcast::channel(1024);
    let index = Arc::new(std::sync::RwLock::new(api::Index::default()));
    let watcher = api::watch_applications(api.cluster.clone(), changes.clone(), index.clone());
    let app = router(backend.clone(), webhook_secret)
        .merge(api_router(Arc::new(api::ApiState {
            secure: acceptor.is_some(),
            api,
            backend: backend.clone(),
            changes,
            index,
        })))
        .fallback(not_found);
    let task = tokio::spawn(async move {
        match acceptor {
            Some(acceptor) => {
                tokio::select! {
                    _ = tls::serve(listener, app, acceptor) => {}
                    _ = watcher => {}
                }
            }
            None => {
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = watcher => {}
                }
            }
        }
    });
    Ok((bound, task))
}

async fn metrics(
    State(state): State<Arc<AppState>>,
) -> ([(&'static str, &'static str); 1], String) {
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        state.backend.metrics_text() + &process::process_metrics(),
    )
}

const NOT_HANDLED: &str = "this controller does not handle sealed secrets (started without them, or a Bitnami controller owns the keys)\n";

async fn certificate(
    State(state): State<Arc<AppState>>,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    match state.backend.certificate_pem() {
        Some(pem) => (
            StatusCode::OK,
            [("content-type", "application/x-pem-file")],
            pem,
        ),
        None => (
            StatusCode::NOT_FOUND,
            [("content-type", "text/plain")],
            NOT_HANDLED.into(),
        ),
    }
}

fn sealed_secret_body(body: &[u8]) -> Result<serde_json::Value, (StatusCode, String)> {
    let text = std::str::from_utf8(body).map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            "the body is not UTF-8\n".to_string(),
        )
    })?;
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        return Ok(value);
    }
    flotilla_core::parse_single_document(text)
        .map(|document| flotilla_core::to_json(&document))
        .map_err(|error| {
            (
                StatusCode::BAD_REQUEST,
                format!("the body is not a SealedSecret in JSON or YAML: {error}\n"),
            )
        })
}

async fn verify(State(state): State<Arc<AppState>>, body: Bytes) -> (StatusCode, String) {
    let sealed_secret = match sealed_secret_body(&body) {
        Ok(value) => value,
        Err(error) => return error,
    };
    match state.backend.verify(&sealed_secret) {
        None => (StatusCode::NOT_FOUND, NOT_HANDLED.into()),
        Some(Ok(())) => (StatusCode::OK, "OK\n".into()),
        Some(Err(message)) => (StatusCode::CONFLICT, format!("{message}\n")),
    }
}

async fn rotate(State(state): State<Arc<AppState>>, body: Bytes) -> (StatusCode, String) {
    let sealed_secret = match sealed_secret_body(&body) {
        Ok(value) => value,
        Err(error) => return error,
    };
    match state.backend.rotate(&sealed_secret) {
        None => (StatusCode::NOT_FOUND, NOT_HANDLED.into()),
        Some(Ok(resealed)) => (
            StatusCode::OK,
            serde_json::to_string_pretty(&resealed).unwrap_or_default(),
        ),
        Some(Err(message)) => (StatusCode::CONFLICT, format!("{message}\n")),
    }
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
pub fn signature_matches(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}

async fn webhook(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    if let Some(secret) = &state.webhook_secret {
        let signature = headers
            .get("x-hub-signature-256")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        if !signature_matches(secret, &body, signature) {
            return (
                StatusCode::UNAUTHORIZED,
                "webhook signature is missing or does not match the configured secret\n".into(),
            );
        }
    }
    let event = headers
        .get("x-github-event")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("push");
    if event == "ping" {
        return (StatusCode::OK, "pong\n".into());
    }
    let payload: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(payload) => payload,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("the webhook body is not JSON: {error}\n"),
            )
        }
    };
    let repository = &payload["repository"];
    let urls: Vec<String> = ["clone_url", "html_url", "ssh_url", "git_url", "url"]
        .iter()
        .filter_map(|field| repository[*field].as_str())
        .map(str::to_string)
        .collect();
    if urls.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "the push event names no repository (repository.clone_url)\n".into(),
        );
    }
    state.backend.refresh(urls.clone());
    (StatusCode::OK, format!("refreshing {}\n", urls[0]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Recorder(Mutex<Vec<String>>);

    impl Backend for Recorder {
        fn metrics_text(&self) -> String {
            "flotilla_drift_repairs_total 0\n".into()
        }
        fn refresh(&self, repositories: Vec<String>) {
            self.0.lock().expect("lock").extend(repositories);
        }
    }

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(body);
        let bytes = mac.finalize().into_bytes();
        format!(
            "sha256={}",
            bytes
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        )
    }

    async fn post(address: SocketAddr, signature: Option<&str>, body: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let mut request = format!(
            "POST /api/webhook HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\nx-github-event: push\r\n",
            body.len()
        );
        if let Some(signature) = signature {
            request.push_str(&format!("x-hub-signature-256: {signature}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
    }

    #[tokio::test]
    async fn webhook_checks_the_signature_and_refreshes() {
        let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
        let (address, _task) = serve(
            "127.0.0.1:0".parse().expect("address"),
            recorder.clone(),
            Some(b"s3cret".to_vec()),
        )
        .await
        .expect("serve");
        let body = r#"{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/org/repo.git"}}"#;
        let unsigned = post(address, None, body).await;
        assert!(unsigned.starts_with("HTTP/1.1 401"), "{unsigned}");
        let wrong = post(address, Some(&sign(b"other", body.as_bytes())), body).await;
        assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
        assert!(recorder.0.lock().expect("lock").is_empty());
        let good = post(address, Some(&sign(b"s3cret", body.as_bytes())), body).await;
        assert!(good.starts_with("HTTP/1.1 200"), "{good}");
        assert_eq!(
            recorder.0.lock().expect("lock").as_slice(),
            ["https://github.com/org/repo.git"]
        );
        let malformed = post(address, Some(&sign(b"s3cret", b"{")), "{").await;
        assert!(malformed.starts_with("HTTP/1.1 400"), "{malformed}");
    }

    #[test]
    fn signatures() {
        assert!(!signature_matches(b"k", b"body", "sha1=00"));
        assert!(!signature_matches(b"k", b"body", "sha256=zz"));
        assert!(!signature_matches(b"k", b"body", "sha256=0"));
    }

    #[tokio::test]
    async fn probes_answer_while_serving() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
        let (address, _task) = serve("127.0.0.1:0".parse().expect("address"), recorder, None)
            .await
            .expect("serve");
        for path in ["/healthz", "/readyz"] {
            let mut stream = tokio::net::TcpStream::connect(address)
                .await
                .expect("connect");
            let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).await.expect("write");
            let mut response = String::new();
            stream.read_to_string(&mut response).await.expect("read");
            assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
            assert!(response.ends_with("ok"), "{path}: {response}");
        }
    }
}
