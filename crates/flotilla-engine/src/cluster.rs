//! One Kubernetes API server the engine talks to: a kube-rs client, a cache of which resource
//! (plural, scope) serves each `apiVersion`/`kind`, and the JSON requests the engine makes
//! (get, list, watch, server-side apply, replace, delete), all over kube-rs's HTTP client, the
//! same path against the embedded API server and a real cluster.
//!
//! Clusters come from a kubeconfig (the controller's own, `in-cluster`) or from Argo CD cluster
//! Secrets (`argocd.argoproj.io/secret-type: cluster`: `name`, `server`, `config` with
//! `bearerToken` and `tlsClientConfig`).
//!
//! The kube-rs client is built here (`client_from_config`) on a lean stack: hyper's pooled
//! HTTP/1.1 client under kube's base-URI, authentication and extra-header layers, without the
//! per-read timers, retry layer and tracing spans of kube's default stack (about 5% of the
//! controller's CPU in a first sync of 50,000 objects). In their place, every request but a
//! watch stream is bounded by `REQUEST_TIMEOUT`, and answers 429, 503 and 504 are asked again
//! (`send_for_text`); any other failure goes back to the engine, which retries the sync with
//! the Application's backoff.
//!
//! Invariant: a discovery miss is never cached, so a kind whose CRD was just established is
//! found on the next lookup.
//!
//! Whether a server registers kinds it does not serve on their first write (flotilla's own API
//! server with `--accept-unknown-kinds`) is detected once per cluster
//! ([`Cluster::accepts_unknown_kinds`]); the engine then writes objects of such kinds at the
//! resource kube's pluralisation names ([`guessed_resource`]) instead of waiting for the kind.
//!
//! Depends on no other module of the engine.

use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;
use std::time::Duration;

use base64::Engine as _;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams};
use kube::core::{ApiResource, Request};
use kube::Client;
use serde_json::Value;

/// The field manager of every write the engine makes.
pub const FIELD_MANAGER: &str = "flotilla";

/// How long a request may wait for the server's answer (a watch: for its response headers).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a request the server answers 429, 503 or 504 is sent again (pauses of 0.1 s
/// doubling to 2 s: about 10 s in all).
const RETRIES_WHEN_BUSY: u32 = 7;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the cluster has no resource for `{api_version}` kind `{kind}`")]
    UnknownKind { api_version: String, kind: String },
    #[error("{0}")]
    Api(String),
    #[error("cannot reach the cluster: {0}")]
    Transport(String),
    #[error("invalid cluster configuration: {0}")]
    Config(String),
}

impl ClusterError {
    fn from_kube(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => ClusterError::Api(status.message.clone()),
            other => ClusterError::Transport(other.to_string()),
        }
    }

    /// The object to create exists already (another replica created it first).
    pub fn is_already_exists(&self) -> bool {
        matches!(self, ClusterError::Api(message) if message.contains("already exists"))
    }

    /// The HTTP status code of an API error, when the server answered.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClusterError::Api(message) if message.contains("not found"))
            || matches!(self, ClusterError::UnknownKind { .. })
    }
}

/// The API group of the resource `Cluster::accepts_unknown_kinds` asks about (served by no
/// server).
pub const UNKNOWN_KIND_PROBE_GROUP: &str = "accept-unknown-kinds.flotilla.dev";

/// The resource a kind the server does not serve yet is written to when the server accepts
/// unknown kinds: its plural as kube-rs guesses it (`KafkaTopic` → `kafkatopics`), namespaced
/// when the object names a namespace. The server registers the kind under that resource.
pub fn guessed_resource(api_version: &str, kind: &str, namespaced: bool) -> ResourceInfo {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ResourceInfo {
        resource: ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(group, version, kind)),
        namespaced,
    }
}

/// Which resource serves a kind, and its scope.
#[derive(Clone, Debug)]
pub struct ResourceInfo {
    pub resource: ApiResource,
    pub namespaced: bool,
}

impl ResourceInfo {
    /// The collection path, in `namespace` for namespaced resources.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let base = if self.resource.group.is_empty() {
            format!("/api/{}", self.resource.version)
        } else {
            format!("/apis/{}/{}", self.resource.group, self.resource.version)
        };
        match namespace.filter(|namespace| self.namespaced && !namespace.is_empty()) {
            Some(namespace) => format!("{base}/namespaces/{namespace}/{}", self.resource.plural),
            None => format!("{base}/{}", self.resource.plural),
        }
    }
}

/// A cluster the engine deploys to.
pub struct Cluster {
    pub name: String,
    pub server: String,
    pub client: Client,
    resources: RwLock<HashMap<(String, String), ResourceInfo>>,
    /// What `accepts_unknown_kinds` found, once it found it.
    accepts_unknown_kinds: RwLock<Option<bool>>,
}

impl Cluster {
    pub fn new(name: &str, server: &str, client: Client) -> Self {
        Cluster {
            name: name.to_string(),
            server: server.to_string(),
            client,
            resources: RwLock::new(HashMap::new()),
            accepts_unknown_kinds: RwLock::new(None),
        }
    }

    /// The resource serving `api_version`/`kind`, from the cache or discovery.
    pub async fn resource(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<ResourceInfo, ClusterError> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self
            .resources
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
        {
            return Ok(found.clone());
        }
        let grouped = api_version.contains('/');
        let discovery = async {
            if grouped {
                self.client.list_api_group_resources(api_version).await
            } else {
                self.client.list_core_api_resources(api_version).await
            }
        };
        let discovery_path = format!("/{}/{api_version}", if grouped { "apis" } else { "api" });
        let list = tokio::time::timeout(REQUEST_TIMEOUT, discovery)
            .await
            .map_err(|_| timed_out(&http::Method::GET, &discovery_path))?;
        let unknown = || ClusterError::UnknownKind {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        };
        let list = match list {
            Ok(list) => list,
            Err(kube::Error::Api(status)) if status.code == 404 => return Err(unknown()),
            Err(error) => return Err(ClusterError::from_kube(error)),
        };
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group.to_string(), version.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        let mut cache = self
            .resources
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for entry in list
            .resources
            .iter()
            .filter(|entry| !entry.name.contains('/'))
        {
            cache.insert(
                (api_version.to_string(), entry.kind.clone()),
                ResourceInfo {
                    resource: ApiResource {
                        group: group.clone(),
                        version: version.clone(),
                        api_version: api_version.to_string(),
                        kind: entry.kind.clone(),
                        plural: entry.name.clone(),
                    },
                    namespaced: entry.namespaced,
                },
            );
        }
        cache.get(&key).cloned().ok_or_else(unknown)
    }

    /// Forgets what discovery said (after a CRD changed).
    pub fn forget_discovery(&self) {
        self.resources
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// Whether the server registers a kind it does not serve on the first write of it, as
    /// flotilla's API server started with `--accept-unknown-kinds` does (it then serves the
    /// kind through a schemaless CustomResourceDefinition).
    ///
    /// No server advertises this, so it is asked once per cluster, without changing anything:
    /// a dry-run apply of an object with an empty kind to a resource no server serves
    /// (`probes` in `UNKNOWN_KIND_PROBE_GROUP`). A server that accepts unknown kinds tries to
    /// register a definition for it, `probes.<group>`, and refuses that definition as invalid
    /// (its kind is required): `CustomResourceDefinition.apiextensions.k8s.io
    /// "probes.<group>" is invalid` (422). Any other server answers that it has no such
    /// resource (404, or 403 where the engine may not write there), and a server that stops
    /// refusing the definition this way reads as one that does not accept unknown kinds (its
    /// Applications then wait for the kind, as on any cluster). A transport failure is not
    /// remembered (false for now, asked again next time).
    pub async fn accepts_unknown_kinds(&self) -> bool {
        if let Some(known) = *self
            .accepts_unknown_kinds
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
        {
            return known;
        }
        let api_version = format!("{UNKNOWN_KIND_PROBE_GROUP}/v1");
        let probe = serde_json::json!({
            "apiVersion": api_version,
            "kind": "",
            "metadata": {"name": "probe"},
        });
        let info = ResourceInfo {
            resource: ApiResource {
                group: UNKNOWN_KIND_PROBE_GROUP.to_string(),
                version: "v1".to_string(),
                api_version,
                kind: String::new(),
                plural: "probes".to_string(),
            },
            namespaced: false,
        };
        // kube-apiserver's words for an invalid object: `<Kind>.<group> "<name>" is invalid`.
        let refused_definition = format!(
            "CustomResourceDefinition.apiextensions.k8s.io \"probes.{UNKNOWN_KIND_PROBE_GROUP}\" is invalid"
        );
        let accepts = match self.apply(&info, &probe, true, true).await {
            Ok(_) => false,
            Err(ClusterError::Api(message)) => message.contains(&refused_definition),
            Err(error) => {
                tracing::debug!(cluster = %self.name, %error, "cannot tell whether the server accepts unknown kinds");
                return false;
            }
        };
        *self
            .accepts_unknown_kinds
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(accepts);
        accepts
    }

    /// Sends a request built with kube's `Request` and reads the answer as JSON.
    pub async fn send(
        &self,
        request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<Value, ClusterError> {
        Ok(self.send_for_text(request).await?.0)
    }

    /// The answer parsed, and as the server sent it. A server that answers 429, 503 or 504
    /// (throttled, starting, overloaded) is asked again after a growing pause, up to
    /// `RETRIES_WHEN_BUSY` times, as kube's default client does.
    async fn send_for_text(
        &self,
        request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<(Value, String), ClusterError> {
        let request = request.map_err(|error| ClusterError::Config(error.to_string()))?;
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let (parts, body) = request.into_parts();
        let mut pause = Duration::from_millis(100);
        let mut attempt = 0;
        let text = loop {
            let request = http::Request::from_parts(parts.clone(), body.clone());
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request_text(request))
                .await
                .map_err(|_| timed_out(&method, &path))?;
            match answer {
                Ok(text) => break text,
                Err(kube::Error::Api(status))
                    if matches!(status.code, 429 | 503 | 504) && attempt < RETRIES_WHEN_BUSY =>
                {
                    attempt += 1;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(error) => return Err(ClusterError::from_kube(error)),
            }
        };
        let value = serde_json::from_str(&text).map_err(|error| {
            ClusterError::Transport(format!("{method} {path}: the answer is not JSON: {error}"))
        })?;
        Ok((value, text))
    }

    pub async fn get(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        let request = Request::new(info.collection_path(namespace)).get(name, &Default::default());
        match self.send(request).await {
            Ok(object) => Ok(Some(object)),
            Err(ClusterError::Api(message)) if message.contains("not found") => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// A list (all namespaces for namespaced resources when `namespace` is None).
    pub async fn list(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        parameters: &ListParams,
    ) -> Result<Value, ClusterError> {
        self.send(Request::new(info.collection_path(namespace)).list(parameters))
            .await
    }

    /// A watch stream of events from `resource_version`, each object read as `T`: `Value`, or
    /// `Box<RawValue>` to look at an event before paying for a full parse.
    pub async fn watch<T>(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        resource_version: &str,
        timeout_seconds: u32,
    ) -> Result<
        impl futures_util::Stream<Item = Result<kube::api::WatchEvent<T>, kube::Error>> + use<T>,
        ClusterError,
    >
    where
        T: Clone + serde::de::DeserializeOwned,
    {
        let parameters = WatchParams::default().timeout(timeout_seconds);
        let request = Request::new(info.collection_path(namespace))
            .watch(&parameters, resource_version)
            .map_err(|error| ClusterError::Config(error.to_string()))?;
        let path = request.uri().path().to_string();
        tokio::time::timeout(REQUEST_TIMEOUT, self.client.request_events::<T>(request))
            .await
            .map_err(|_| timed_out(&http::Method::GET, &path))?
            .map_err(ClusterError::from_kube)
    }

    /// Server-side apply of `object` with the engine's field manager.
    pub async fn apply(
        &self,
        info: &ResourceInfo,
        object: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, ClusterError> {
        Ok(self.apply_for_text(info, object, force, dry_run).await?.0)
    }

    /// `apply`, with the answer also as the server sent it (for the live cache to keep).
    pub async fn apply_for_text(
        &self,
        info: &ResourceInfo,
        object: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<(Value, String), ClusterError> {
        let namespace = object["metadata"]["namespace"].as_str();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let mut parameters = PatchParams::apply(FIELD_MANAGER);
        parameters.force = force;
        parameters.dry_run = dry_run;
        let request = Request::new(info.collection_path(namespace)).patch(
            name,
            &parameters,
            &Patch::Apply(object),
        );
        self.send_for_text(request).await
    }

    /// A merge patch (status writes, annotations).
    pub async fn merge_patch(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ClusterError> {
        let parameters = PatchParams::default();
        let request = Request::new(info.collection_path(namespace)).patch(
            name,
            &parameters,
            &Patch::Merge(patch),
        );
        self.send(request).await
    }

    pub async fn create(&self, info: &ResourceInfo, object: &Value) -> Result<Value, ClusterError> {
        let namespace = object["metadata"]["namespace"].as_str();
        let parameters = PostParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..Default::default()
        };
        let body =
            serde_json::to_vec(object).map_err(|error| ClusterError::Config(error.to_string()))?;
        self.send(Request::new(info.collection_path(namespace)).create(&parameters, body))
            .await
    }

    /// Replaces `object` (the `Replace=true` sync option): create when absent.
    pub async fn replace(
        &self,
        info: &ResourceInfo,
        object: &Value,
    ) -> Result<Value, ClusterError> {
        let namespace = object["metadata"]["namespace"].as_str();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let Some(live) = self.get(info, namespace, name).await? else {
            return self.create(info, object).await;
        };
        let mut replacement = object.clone();
        replacement["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
        let parameters = PostParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..Default::default()
        };
        let body = serde_json::to_vec(&replacement)
            .map_err(|error| ClusterError::Config(error.to_string()))?;
        self.send(Request::new(info.collection_path(namespace)).replace(name, &parameters, body))
            .await
    }

    /// Deletes the object `object` names (apiVersion, kind, namespace, name).
    pub async fn delete_object(
        &self,
        object: &Value,
        propagation: &str,
    ) -> Result<(), ClusterError> {
        let info = self
            .resource(
                object["apiVersion"].as_str().unwrap_or(""),
                object["kind"].as_str().unwrap_or(""),
            )
            .await?;
        self.delete(
            &info,
            object["metadata"]["namespace"].as_str(),
            object["metadata"]["name"].as_str().unwrap_or(""),
            propagation,
        )
        .await
    }

    /// Deletes an object; an absent object is not an error.
    pub async fn delete(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        propagation: &str,
    ) -> Result<(), ClusterError> {
        let parameters = match propagation {
            "background" => DeleteParams::background(),
            "orphan" => DeleteParams::orphan(),
            _ => DeleteParams::foreground(),
        };
        match self
            .send(Request::new(info.collection_path(namespace)).delete(name, &parameters))
            .await
        {
            Ok(_) => Ok(()),
            Err(ClusterError::Api(message)) if message.contains("not found") => Ok(()),
            Err(error) => Err(error),
        }
    }
}

fn timed_out(method: &http::Method, path: &str) -> ClusterError {
    ClusterError::Transport(format!(
        "{method} {path}: the API server did not answer within {} s; check that it is up and \
         not overloaded (the request is given up; an automated sync is retried with backoff)",
        REQUEST_TIMEOUT.as_secs()
    ))
}

/// A kube-rs client for `config` on the lean stack the module documentation describes: TLS
/// (with client certificates and exec identities) and the connect timeout from `config`,
/// bearer, basic or refreshable-token authentication, impersonation headers.
pub fn client_from_config(config: kube::Config) -> Result<Client, ClusterError> {
    use kube::client::ConfigExt;
    let configuration_error = |error: kube::Error| ClusterError::Config(error.to_string());
    if let Some(proxy) = &config.proxy_url {
        return Err(ClusterError::Config(format!(
            "the cluster is to be reached through the proxy `{proxy}` (kubeconfig `proxy-url` or \
             HTTPS_PROXY), which flotilla does not support: reach the API server directly \
             (unset HTTPS_PROXY, or add the server to NO_PROXY)"
        )));
    }
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.enforce_http(false);
    connector.set_nodelay(true);
    connector.set_connect_timeout(config.connect_timeout);
    let connector = config
        .rustls_https_connector_with_connector(connector)
        .map_err(configuration_error)?;
    let http_client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer().map_err(configuration_error)?)
        .layer(config.extra_headers_layer().map_err(configuration_error)?)
        .map_err(tower::BoxError::from)
        .service(http_client);
    Ok(Client::new(service, config.default_namespace))
}

/// List parameters selecting by label.
pub fn list_params_with_labels(selector: &str) -> ListParams {
    ListParams::default().labels(selector)
}

/// A client from a kubeconfig file (or the default one when `path` is None), with `context`.
pub async fn client_from_kubeconfig(
    path: Option<&Path>,
    context: Option<&str>,
) -> Result<(Client, String), ClusterError> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match path {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|error| ClusterError::Config(format!("`{}`: {error}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await
        }
        None => kube::Config::from_kubeconfig(&options).await,
    }
    .map_err(|error| ClusterError::Config(error.to_string()))?;
    let server = config.cluster_url.to_string();
    Ok((client_from_config(config)?, server))
}

/// A cluster from an Argo CD cluster Secret (`data` or `stringData`).
pub fn cluster_from_secret(secret: &Value) -> Result<Cluster, ClusterError> {
    let field = |key: &str| -> Option<String> {
        if let Some(text) = secret["stringData"][key].as_str() {
            return Some(text.to_string());
        }
        let encoded = secret["data"][key].as_str()?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        String::from_utf8(bytes).ok()
    };
    let secret_name = secret["metadata"]["name"].as_str().unwrap_or("?");
    let server = field("server").ok_or_else(|| {
        ClusterError::Config(format!("cluster Secret `{secret_name}` has no `server`"))
    })?;
    let name = field("name").unwrap_or_else(|| server.clone());
    let settings: Value = match field("config") {
        Some(text) => serde_json::from_str(&text).map_err(|error| {
            ClusterError::Config(format!(
                "cluster Secret `{secret_name}`: `config` is not JSON: {error}"
            ))
        })?,
        None => Value::Null,
    };
    let url = server.parse().map_err(|error| {
        ClusterError::Config(format!(
            "cluster Secret `{secret_name}`: server `{server}`: {error}"
        ))
    })?;
    let mut config = kube::Config::new(url);
    if let Some(token) = settings["bearerToken"].as_str() {
        config.auth_info.token = Some(token.to_string().into());
    }
    let tls = &settings["tlsClientConfig"];
    config.accept_invalid_certs = tls["insecure"].as_bool().unwrap_or(false);
    if let Some(server_name) = tls["serverName"].as_str() {
        config.tls_server_name = Some(server_name.to_string());
    }
    if let Some(ca) = tls["caData"].as_str() {
        let pem = base64::engine::general_purpose::STANDARD
            .decode(ca)
            .map_err(|_| {
                ClusterError::Config(format!(
                    "cluster Secret `{secret_name}`: `tlsClientConfig.caData` is not base64"
                ))
            })?;
        config.root_cert = Some(pem_certificates(&pem));
    }
    if let (Some(certificate), Some(key)) = (tls["certData"].as_str(), tls["keyData"].as_str()) {
        config.auth_info.client_certificate_data = Some(certificate.to_string());
        config.auth_info.client_key_data = Some(key.to_string().into());
    }
    Ok(Cluster::new(&name, &server, client_from_config(config)?))
}

/// The DER certificates in a PEM bundle.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pem);
    let mut certificates = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            current = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(body) = current.take() {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(body) {
                    certificates.push(der);
                }
            }
        } else if let Some(body) = current.as_mut() {
            body.push_str(line);
        }
    }
    certificates
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-connection-per-answer HTTP server that gives `answers` in turn (status, body).
    async fn scripted_server(
        answers: Vec<(u16, &'static str)>,
    ) -> (String, tokio::task::JoinHandle<usize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let mut served = 0;
            for (status, body) in answers {
                let Ok((mut stream, _)) = listener.accept().await else {
                    break;
                };
                let mut request = vec![0u8; 8192];
                let _ = stream.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                served += 1;
            }
            served
        });
        (url, task)
    }

    fn cluster(url: &str) -> Cluster {
        let config = kube::Config::new(url.parse().expect("URL"));
        Cluster::new("test", url, client_from_config(config).expect("client"))
    }

    #[tokio::test]
    async fn a_busy_server_is_asked_again_and_other_errors_are_not_retried() {
        let busy = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too many requests","reason":"TooManyRequests","code":429}"#;
        let unavailable = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"starting","reason":"ServiceUnavailable","code":503}"#;
        let object = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"7"}}"#;
        let (url, server) =
            scripted_server(vec![(429, busy), (503, unavailable), (200, object)]).await;
        let info = ResourceInfo {
            resource: ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                plural: "configmaps".into(),
            },
            namespaced: true,
        };
        let answer = cluster(&url)
            .get(&info, Some("default"), "a")
            .await
            .expect("answered on the third attempt");
        assert_eq!(answer.expect("found")["metadata"]["resourceVersion"], "7");
        assert_eq!(server.await.expect("server"), 3);

        let invalid = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"ConfigMap \"A\" is invalid","reason":"Invalid","code":422}"#;
        let (url, server) = scripted_server(vec![(422, invalid), (200, object)]).await;
        let error = cluster(&url)
            .get(&info, Some("default"), "a")
            .await
            .expect_err("a refusal is not retried");
        assert!(error.to_string().contains("is invalid"), "{error}");
        server.abort();
    }

    #[test]
    fn a_proxy_is_refused_with_what_to_do() {
        let mut config = kube::Config::new("https://cluster.example:6443".parse().expect("URL"));
        config.proxy_url = Some("http://proxy.example:3128".parse().expect("proxy URL"));
        let error = client_from_config(config).err().expect("refused");
        let message = error.to_string();
        assert!(
            message.contains("proxy.example:3128") && message.contains("NO_PROXY"),
            "{message}"
        );
    }
}
