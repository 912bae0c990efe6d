//! An embedded, Kubernetes-compatible API server: a simulated cluster in the spirit of kwok.
//!
//! [`serve`] starts it on a listen address (port 0 for an ephemeral port in tests), over HTTPS
//! with a self-signed CA and a bearer token unless `insecure_http` is set, writes a kubeconfig,
//! and returns a [`RunningServer`] with the bound address and a shutdown handle.
//!
//! Modules: `storage` (objects, resourceVersion, history), `persist` (redb), `registry`
//! (resource table), `rest` (object semantics), `apply` (field ownership, server-side apply),
//! `crd` (custom resources), `auth` (identities, TokenRequests, SelfSubjectRulesReview and
//! SelfSubjectAccessReview from the stored RBAC objects), `authorize` (RBAC enforced on every
//! request), `http` (routing, negotiation,
//! patches), `protobuf` (decoding protobuf request bodies), `watch`, `discovery`,
//! `table` and `printers` (kube's table columns per kind), `scale` (the scale subresource),
//! `select` (selectors), `gc` (garbage collection and namespace deletion), `simulate`
//! (controllers that make workloads ready), `tls`, `kubeconfig`.

pub mod apply;
pub mod auth;
pub mod authorize;
pub mod crd;
pub mod discovery;
pub mod error;
pub mod gc;
pub mod go_text;
pub mod http;
pub mod kubeconfig;
pub mod olm;
pub mod openapi;
pub mod openshift;
pub mod persist;
pub mod printers;
pub mod protobuf;
pub mod quantity;
pub mod registry;
pub mod rest;
pub mod rules;
pub mod scale;
pub mod select;
pub mod simulate;
pub mod storage;
pub mod table;
pub mod tls;
pub mod util;
pub mod validate;
pub mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch as signal;

pub use error::ApiError;

/// How to run the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Keeps the CA, token, kubeconfig and (durably) the objects. Without it the state is in
    /// memory only and the CA and kubeconfig go to a fresh temporary directory, removed by
    /// [`RunningServer::shutdown`].
    pub data_dir: Option<PathBuf>,
    /// Serve plain HTTP without authentication (tests that ask for it only).
    pub insecure_http: bool,
    /// Run the simulation controllers.
    pub simulate: Option<simulate::SimulationConfig>,
    /// Register a schemaless CRD for an unknown kind on first use.
    pub accept_unknown_kinds: bool,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// Serve the OpenShift APIs and run OLM against the embedded catalog (`--openshift`).
    pub openshift: Option<openshift::OpenShiftConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 6443)),
            data_dir: None,
            insecure_http: false,
            simulate: None,
            accept_unknown_kinds: false,
            bookmark_interval: Duration::from_secs(10),
            openshift: None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot create the data directory `{path}`")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot prepare TLS")]
    Tls(#[from] tls::TlsError),
    #[error("cannot open the stored state")]
    Persist(#[from] persist::PersistError),
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A started server.
pub struct RunningServer {
    /// The address actually bound.
    pub address: SocketAddr,
    /// `https://…` or `http://…`.
    pub url: String,
    pub kubeconfig_path: PathBuf,
    pub data_dir: PathBuf,
    /// The bearer token (None over insecure HTTP).
    pub token: Option<String>,
    /// The CA certificate clients trust (None over insecure HTTP).
    pub ca_pem: Option<String>,
    app: Arc<http::App>,
    /// Whether `data_dir` is a temporary directory this server made (removed at shutdown).
    temporary_data_dir: bool,
    shutdown: signal::Sender<bool>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, closes open connections and background tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.accept_task.await;
        if self.temporary_data_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }

    /// The shared state (tests use it to inspect or compact the store).
    pub fn state(&self) -> &rest::ApiState {
        &self.app.api
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), ServeError> {
    std::fs::write(path, text).map_err(|source| ServeError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Starts the server and returns once it is listening.
pub async fn serve(config: ServerConfig) -> Result<RunningServer, ServeError> {
    let (data_dir, persistent) = match &config.data_dir {
        Some(directory) => (directory.clone(), true),
        None => (
            std::env::temp_dir().join(format!("flotilla-apiserver-{}", util::random_hex(8))),
            false,
        ),
    };
    std::fs::create_dir_all(&data_dir).map_err(|source| ServeError::DataDir {
        path: data_dir.clone(),
        source,
    })?;
    let persistence = if persistent {
        Some(persist::Persistence::open(&data_dir.join("state.redb"))?)
    } else {
        None
    };
    let store = storage::Store::new(persistence)?;
    let registry = registry::Registry::new();
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            address: config.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(|source| ServeError::Bind {
        address: config.listen,
        source,
    })?;
    let (token, tls_material) = if config.insecure_http {
        (None, None)
    } else {
        let token_path = data_dir.join("token");
        let token = match std::fs::read_to_string(&token_path) {
            Ok(token) if !token.trim().is_empty() => token.trim().to_string(),
            _ => {
                let token = util::random_hex(32);
                write_file(&token_path, &token)?;
                token
            }
        };
        let hosts = vec![address.ip().to_string()];
        (Some(token), Some(tls::prepare(&data_dir, &hosts)?))
    };
    let scheme = if tls_material.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{address}");
    let kubeconfig_path = data_dir.join("kubeconfig");
    let ca_pem = tls_material
        .as_ref()
        .map(|material| material.ca_pem.clone());
    write_file(
        &kubeconfig_path,
        &kubeconfig::render(&url, ca_pem.as_deref(), token.as_deref()),
    )?;
    let app = Arc::new(http::App {
        api: rest::ApiState {
            registry,
            store,
            accept_unknown_kinds: config.accept_unknown_kinds,
            openshift: config.openshift.clone(),
        },
        token: token.clone(),
        tokens: auth::Tokens::default(),
        bookmark_interval: config.bookmark_interval,
    });
    // CRDs loaded from disk serve their resources again.
    let (definitions, _) = app.api.store.list(crd::CRD_STORAGE_KEY, None);
    for definition in definitions {
        app.api.registry.set_custom(
            definition["spec"]["group"].as_str().unwrap_or_default(),
            definition["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default(),
            crd::resource_types(&definition),
        );
        app.api.registry.set_custom_scales(
            definition["spec"]["group"].as_str().unwrap_or_default(),
            definition["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default(),
            scale::declared_by_definition(&definition),
        );
    }
    ensure_default_namespaces(&app.api);
    if config.openshift.is_some() {
        openshift::install(&app.api);
    }
    let (shutdown, shutdown_receiver) = signal::channel(false);
    gc::start(app.clone(), shutdown_receiver.clone());
    if config.openshift.is_some() {
        openshift::start(app.clone(), shutdown_receiver.clone());
        olm::start(app.clone(), shutdown_receiver.clone());
    }
    if let Some(simulation) = config.simulate.clone() {
        simulate::start(app.clone(), simulation, shutdown_receiver.clone());
    }
    let router = http::router(app.clone());
    let acceptor =
        tls_material.map(|material| tokio_rustls::TlsAcceptor::from(material.server_config));
    let accept_task = tokio::spawn(accept_loop(listener, router, acceptor, shutdown_receiver));
    Ok(RunningServer {
        address,
        url,
        kubeconfig_path,
        data_dir,
        token,
        ca_pem,
        app,
        temporary_data_dir: !persistent,
        shutdown,
        accept_task,
    })
}

fn ensure_default_namespaces(state: &rest::ApiState) {
    let Some(namespaces) = state.registry.lookup("", "v1", "namespaces") else {
        return;
    };
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if state.store.get("/namespaces", "", name).is_none() {
            let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            let options = rest::WriteOptions {
                field_manager: Some("flotilla-apiserver".to_string()),
                ..rest::WriteOptions::default()
            };
            let _ = rest::create(state, &namespaces, None, body, &options);
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: axum::Router,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: signal::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _peer)) = accepted else {
            // Too many open files and the like: back off briefly and keep serving.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let acceptor = acceptor.clone();
        let mut connection_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(router);
            let builder = auto::Builder::new(TokioExecutor::new());
            match acceptor {
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                    let Ok(Ok(tls_stream)) = handshake.await else {
                        return;
                    };
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), service);
                    tokio::select! {
                        _ = connection => {}
                        _ = connection_shutdown.changed() => {}
                    }
                }
                None => {
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = connection => {}
                        _ = connection_shutdown.changed() => {}
                    }
                }
            }
        });
    }
}
