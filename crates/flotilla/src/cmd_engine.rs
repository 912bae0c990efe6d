//! The GitOps commands: `flotilla controller` (run the engine against a cluster), `flotilla app
//! …` (inspect and operate Applications, like the `argocd app` CLI) and the helpers `flotilla up`
//! uses. A thin layer over `flotilla-engine` and `flotilla-web`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use flotilla_engine::cluster::{ClusterError, ResourceInfo};
use flotilla_engine::{Cluster, Engine, EngineConfig};
use flotilla_web::apps::{self, AppError};
use serde_json::{json, Value};

/// Where the controller finds its cluster.
#[derive(Clone, Debug, Args)]
pub struct ClusterArgs {
    /// Kubeconfig file (default: $KUBECONFIG or ~/.kube/config)
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current context)
    #[arg(long, global = true)]
    pub context: Option<String>,
}

/// `flotilla controller`
#[derive(Debug, Args)]
pub struct ControllerArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    /// Refuse to start when the kubeconfig's credentials may do more than the RBAC `flotilla
    /// install` gives the controller (asked with SelfSubjectRulesReviews; each excess listed)
    #[arg(long)]
    pub strict_rbac: bool,
    #[command(flatten)]
    pub logging: crate::logging::LogArgs,
}

/// How `flotilla controller` shares the Applications with other replicas.
#[derive(Clone, Debug, Args)]
pub struct ShardArgs {
    /// `auto`: share the Applications with the other replicas through Leases in the control
    /// namespace; `off`: reconcile every Application (one replica only)
    #[arg(long, value_enum, default_value = "auto")]
    pub shard_mode: ShardMode,
    /// This replica's name among the shards, a DNS label (its Lease is
    /// `flotilla-controller-<identity>`; default: `$POD_NAME`, which the install's Deployment
    /// sets from the pod's name, else hostname-pid)
    #[arg(long, value_name = "IDENTITY")]
    pub shard_identity: Option<String>,
    /// How long a replica's Lease holds after its last renewal
    #[arg(long, default_value = "15s", value_parser = parse_duration_arg)]
    pub shard_lease_duration: Duration,
    /// How long a replica that cannot renew its Lease keeps writing (shorter than the lease)
    #[arg(long, default_value = "10s", value_parser = parse_duration_arg)]
    pub shard_renew_deadline: Duration,
    /// How often the Lease is renewed and the other replicas looked up
    #[arg(long, default_value = "2s", value_parser = parse_duration_arg)]
    pub shard_retry_period: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShardMode {
    Auto,
    Off,
}

impl ShardArgs {
    /// The engine's sharding, None when off.
    pub fn config(&self) -> Result<Option<flotilla_engine::ShardConfig>> {
        if self.shard_mode == ShardMode::Off {
            return Ok(None);
        }
        let identity = match &self.shard_identity {
            Some(identity) => {
                if flotilla_engine::shard::identity_label(identity) != *identity {
                    bail!(
                        "`--shard-identity {identity}` is not a DNS label of at most {} characters\n\nhint: use lower-case letters, digits and `-`",
                        63 - flotilla_engine::shard::LEASE_PREFIX.len()
                    );
                }
                identity.clone()
            }
            None => match std::env::var("POD_NAME") {
                Ok(pod) if !pod.trim().is_empty() => pod_identity(pod.trim()),
                _ => flotilla_engine::shard::default_identity(),
            },
        };
        if self.shard_renew_deadline >= self.shard_lease_duration
            || self.shard_retry_period >= self.shard_renew_deadline
        {
            bail!(
                "`--shard-retry-period` < `--shard-renew-deadline` < `--shard-lease-duration` must hold\n\nhint: a replica that cannot renew must stop writing before its Lease expires for the others"
            );
        }
        Ok(Some(flotilla_engine::ShardConfig {
            identity,
            lease_duration: self.shard_lease_duration,
            renew_deadline: self.shard_renew_deadline,
            retry_period: self.shard_retry_period,
        }))
    }
}

/// A pod's name as a shard identity. A name too long for the Lease's name keeps its end, where
/// a Deployment's pods differ.
fn pod_identity(pod: &str) -> String {
    let limit = 63 - flotilla_engine::shard::LEASE_PREFIX.len();
    let start = pod
        .char_indices()
        .rev()
        .nth(limit.saturating_sub(1))
        .map(|(index, _)| index)
        .unwrap_or(0);
    flotilla_engine::shard::identity_label(&pod[start..])
}

#[derive(Clone, Debug, Args)]
pub struct EngineArgs {
    /// How often repositories are asked for new commits (e.g. 60s, 5m)
    #[arg(long, default_value = "60s", value_parser = parse_duration_arg)]
    pub repo_poll: Duration,
    /// Rewrite repository URLs starting with FROM to start with TO (mirrors, air-gapped use)
    #[arg(long = "repo-mirror", value_name = "FROM=TO")]
    pub repo_mirrors: Vec<String>,
    /// Reconcile only Applications in these namespaces (default: all)
    #[arg(long = "app-namespace", value_name = "NAMESPACE")]
    pub app_namespaces: Vec<String>,
    /// Namespace of projects and cluster Secrets (Argo CD's `argocd`)
    #[arg(long, default_value = "argocd")]
    pub control_namespace: String,
    /// Applications reconciled at once
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// Where /metrics, /healthz and /api/webhook are served
    #[arg(long, default_value = "127.0.0.1:8089")]
    pub listen: SocketAddr,
    /// File holding the push webhook's shared secret (X-Hub-Signature-256 is then required)
    #[arg(long)]
    pub webhook_secret_file: Option<PathBuf>,
    /// Mirrors, snapshots and rendered overrides (default: the user cache directory)
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Leave SealedSecrets alone (a Bitnami controller owns the keys)
    #[arg(long)]
    pub no_sealed_secrets: bool,
    /// Namespace of the sealing keys (the Bitnami controller's namespace)
    #[arg(long, default_value = "kube-system")]
    pub sealed_secrets_namespace: String,
    /// Generate a new sealing key after this long (0 never renews)
    #[arg(long, default_value = "720h", value_parser = parse_duration_arg)]
    pub key_renewal: Duration,
    /// RSA size of generated sealing keys (tests use smaller keys to run fast)
    #[arg(long, default_value_t = 4096, hide = true)]
    pub sealing_key_bits: usize,
    /// Compare every object by a dry-run apply (Argo CD's server-side diff) unless its
    /// Application says `ServerSideDiff=false` (by default a dry run only confirms differences)
    #[arg(long)]
    pub server_side_diff: bool,
    /// How long an out-of-band edit of a self-healing Application waits before it is repaired,
    /// the Application OutOfSync meanwhile (Argo CD's `--self-heal-timeout-seconds`; 0 repairs
    /// at once)
    #[arg(long, default_value = "0s", value_parser = parse_duration_arg)]
    pub self_heal_timeout: Duration,
    /// Argo CD 3.x's self-heal backoff: a repair that follows another within
    /// `--self-heal-backoff-cooldown` waits this long, then `--self-heal-backoff-factor` times
    /// longer each time up to `--self-heal-backoff-cap` (0: no backoff; Argo CD: 2s)
    #[arg(long, default_value = "0s", value_parser = parse_duration_arg)]
    pub self_heal_backoff_timeout: Duration,
    /// How much longer each self-heal in a row waits than the one before
    #[arg(long, default_value_t = 3)]
    pub self_heal_backoff_factor: u32,
    /// The longest wait of the self-heal backoff
    #[arg(long, default_value = "300s", value_parser = parse_duration_arg)]
    pub self_heal_backoff_cap: Duration,
    /// How long without a self-heal before the backoff starts again from no wait
    #[arg(long, default_value = "330s", value_parser = parse_duration_arg)]
    pub self_heal_backoff_cooldown: Duration,
    /// File of the API and UI tokens (admin and read-only), made with mode 0600 when absent
    /// (default: `api-tokens` in the cache directory; `flotilla up` keeps it beside its
    /// kubeconfig)
    #[arg(long, value_name = "FILE")]
    pub api_tokens: Option<PathBuf>,
    /// Keep the API and UI tokens in this Secret of the control namespace instead (made when
    /// absent), so that the replicas of an installed controller share them
    #[arg(long, value_name = "NAME", conflicts_with = "api_tokens")]
    pub api_tokens_secret: Option<String>,
    /// Serve `--listen` over HTTPS with this certificate (PEM, the chain leaf first; with
    /// `--tls-key`)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    flotilla_engine::model::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration such as 30s, 5m or 1h"))
}

impl EngineArgs {
    pub fn config(&self) -> Result<EngineConfig> {
        let mut mirrors = Vec::new();
        for entry in &self.repo_mirrors {
            let (from, to) = entry
                .split_once('=')
                .ok_or_else(|| anyhow!("`--repo-mirror {entry}` is not FROM=TO"))?;
            mirrors.push((from.to_string(), to.to_string()));
        }
        Ok(EngineConfig {
            cache_dir: self
                .cache_dir
                .clone()
                .unwrap_or_else(|| crate::cache_dir().join("engine")),
            repo_poll: self.repo_poll,
            repo_mirrors: mirrors,
            app_namespaces: self.app_namespaces.clone(),
            control_namespace: self.control_namespace.clone(),
            workers: self.workers.max(1),
            sealed_secrets: (!self.no_sealed_secrets).then(|| {
                flotilla_engine::sealed::SealedSecretsConfig {
                    controller_namespace: self.sealed_secrets_namespace.clone(),
                    key_renewal: self.key_renewal,
                    key_bits: self.sealing_key_bits,
                }
            }),
            server_side_diff: self.server_side_diff,
            self_heal_timeout: self.self_heal_timeout,
            self_heal_backoff: (!self.self_heal_backoff_timeout.is_zero()).then(|| {
                flotilla_engine::SelfHealBackoff {
                    timeout: self.self_heal_backoff_timeout,
                    factor: self.self_heal_backoff_factor.max(1),
                    cap: self.self_heal_backoff_cap,
                    cooldown: self.self_heal_backoff_cooldown,
                }
            }),
            ..EngineConfig::default()
        })
    }

    /// Where the API and UI tokens are kept.
    pub fn api_tokens_path(&self) -> PathBuf {
        self.api_tokens.clone().unwrap_or_else(|| {
            self.cache_dir
                .clone()
                .unwrap_or_else(|| crate::cache_dir().join("engine"))
                .join("api-tokens")
        })
    }

    fn webhook_secret(&self) -> Result<Option<Vec<u8>>> {
        match &self.webhook_secret_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the webhook secret `{}`", path.display()))?;
                Ok(Some(text.trim().as_bytes().to_vec()))
            }
            None => Ok(None),
        }
    }
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub async fn connect(cluster: &ClusterArgs) -> Result<Cluster> {
    check_kubeconfig(cluster.kubeconfig.as_deref())?;
    let (client, server) = flotilla_engine::client_from_kubeconfig(
        cluster.kubeconfig.as_deref(),
        cluster.context.as_deref(),
    )
    .await
    .context("cannot load the kubeconfig")?;
    Ok(Cluster::new("in-cluster", &server, client))
}

/// Where `flotilla up` writes its kubeconfig, under its default `--data-dir`.
pub const UP_KUBECONFIG: &str = ".flotilla/cluster/kubeconfig";

/// Refuses a kubeconfig file that does not exist, naming it and where it was looked for (kube
/// reads `--kubeconfig`, else every file in `$KUBECONFIG`, else `~/.kube/config`).
fn check_kubeconfig(explicit: Option<&Path>) -> Result<()> {
    let (paths, from) = match explicit {
        Some(path) => (vec![path.to_path_buf()], ""),
        None => {
            let listed: Vec<PathBuf> = std::env::var_os("KUBECONFIG")
                .map(|value| {
                    std::env::split_paths(&value)
                        .filter(|path| !path.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default();
            if listed.is_empty() {
                let Some(home) = std::env::var_os("HOME") else {
                    return Ok(());
                };
                (
                    vec![PathBuf::from(home).join(".kube/config")],
                    " (the default: neither `--kubeconfig` nor KUBECONFIG is set)",
                )
            } else {
                (listed, " (from KUBECONFIG)")
            }
        }
    };
    let Some(missing) = paths.iter().find(|path| !path.exists()) else {
        return Ok(());
    };
    let up_wrote = Path::new(UP_KUBECONFIG);
    let hint = if up_wrote.is_file() {
        format!("`flotilla up` wrote `{UP_KUBECONFIG}` here: pass `--kubeconfig {UP_KUBECONFIG}` or set KUBECONFIG to it")
    } else {
        format!("pass `--kubeconfig FILE` or set KUBECONFIG; `flotilla up` writes one to `{UP_KUBECONFIG}` in the directory it runs in (`DATA_DIR/cluster/kubeconfig` with `--data-dir`)")
    };
    bail!(
        "kubeconfig `{}` does not exist{from}\n\nhint: {hint}",
        missing.display()
    )
}

/// A failed request, led by its cause: `cannot reach the cluster at URL: connection refused`
/// (the address is tried once more to learn why, as the HTTP client's error does not say), or
/// what the server answered.
async fn cluster_error(cluster: &Cluster, error: ClusterError) -> anyhow::Error {
    let server = cluster.server.trim_end_matches('/');
    match error {
        ClusterError::Transport(message) => {
            let reason = match why_unreachable(server).await {
                Some(reason) => reason,
                None => message,
            };
            anyhow!("cannot reach the cluster at {server}: {reason}\n\nhint: is the cluster running? The address is the `server` of the kubeconfig's context (`--kubeconfig`, `--context`); `flotilla up` starts one and prints its kubeconfig")
        }
        other => anyhow::Error::new(other)
            .context(format!("the cluster at {server} refused the request")),
    }
}

/// Why a TCP connection to the server's address fails, if it does.
async fn why_unreachable(server: &str) -> Option<String> {
    let uri: http::Uri = server.parse().ok()?;
    let host = uri
        .host()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let addresses: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), port)).await {
        Ok(addresses) => addresses.collect(),
        Err(error) => return Some(format!("cannot resolve `{host}`: {error}")),
    };
    let first = *addresses.first()?;
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(first),
    )
    .await
    {
        Err(_) => Some(format!("no answer from {first} within 5s")),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            Some(format!("connection refused (nothing listens on {first})"))
        }
        Ok(Err(error)) => Some(format!("{first}: {error}")),
        Ok(Ok(_)) => None,
    }
}

/// Starts the engine and its HTTP endpoints; returns the address they are served on (the one
/// bound, so `--listen 127.0.0.1:0` names the port it got). An address that cannot be bound
/// stops the engine and fails: nothing prints an address it does not serve.
pub async fn start_engine(
    cluster: Cluster,
    engine_args: &EngineArgs,
) -> Result<(Engine, SocketAddr)> {
    start_engine_with(cluster, engine_args, None).await
}

/// `start_engine`, sharded when `shard` is given (`flotilla controller --shard-mode auto`).
pub async fn start_engine_with(
    cluster: Cluster,
    engine_args: &EngineArgs,
    shard: Option<flotilla_engine::ShardConfig>,
) -> Result<(Engine, SocketAddr)> {
    let server = cluster.server.clone();
    let webhook_secret = engine_args.webhook_secret()?;
    // The API and UI read and write through the cluster like any client, on the same client.
    let api_cluster = Arc::new(Cluster::new(
        &cluster.name,
        &cluster.server,
        cluster.client.clone(),
    ));
    let mut config = engine_args.config()?;
    let (tokens, tokens_place) = match &engine_args.api_tokens_secret {
        Some(name) => (
            flotilla_web::auth::Tokens::load_or_create_secret(
                &api_cluster,
                &config.control_namespace,
                name,
            )
            .await
            .context("cannot set up the API tokens")?,
            format!("Secret `{}/{name}`", config.control_namespace),
        ),
        None => {
            let path = engine_args.api_tokens_path();
            (
                flotilla_web::auth::Tokens::load_or_create(&path)
                    .context("cannot set up the API tokens")?,
                format!("`{}`", path.display()),
            )
        }
    };
    config.shard = shard;
    let api = flotilla_web::api::Api {
        cluster: api_cluster,
        tokens,
        control_namespace: config.control_namespace.clone(),
    };
    let tls = match (&engine_args.tls_cert, &engine_args.tls_key) {
        (Some(certificate), Some(key)) => Some(flotilla_web::tls::TlsFiles {
            certificate: certificate.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    // Certificate files that do not make a TLS server stop the command before the engine starts.
    if let Some(files) = &tls {
        flotilla_web::tls::acceptor(files).map_err(|error| tls_error(error.into()))?;
    }
    let engine = Engine::start(cluster, config)
        .await
        .with_context(|| format!("cannot start the controller against {server}"))?;
    let backend: Arc<dyn flotilla_web::Backend> = Arc::new(engine.clone());
    let scheme = if tls.is_some() { "https" } else { "http" };
    match flotilla_web::serve_with_api(
        engine_args.listen,
        backend,
        webhook_secret,
        api,
        tls.as_ref(),
    )
    .await
    {
        Ok((address, _task)) => {
            println!(
                "metrics: {scheme}://{address}/metrics   webhook: {scheme}://{address}/api/webhook"
            );
            println!(
                "ui: {scheme}://{address}/   api: {scheme}://{address}/api/v1/openapi.json   tokens: {tokens_place}"
            );
            Ok((engine, address))
        }
        Err(error) => {
            engine.shutdown();
            match error {
                flotilla_web::WebError::Bind { address, source } => {
                    Err(port_taken(address, source, "--listen", WEB_ENDPOINTS))
                }
                error @ flotilla_web::WebError::Tls(_) => Err(tls_error(error)),
            }
        }
    }
}

fn tls_error(error: flotilla_web::WebError) -> anyhow::Error {
    anyhow::Error::new(error).context(
        "cannot serve HTTPS\n\nhint: `--tls-cert` and `--tls-key` take PEM files: the certificate chain (leaf first) and its private key",
    )
}

/// What `--listen` serves.
pub const WEB_ENDPOINTS: &str =
    "/metrics, /healthz, /api/webhook, the sealing certificate, the API and the UI";

/// The error for an address that cannot be listened on: the address, the reason and the flag
/// that picks another.
pub fn port_taken(
    address: SocketAddr,
    error: std::io::Error,
    flag: &str,
    what: &str,
) -> anyhow::Error {
    let reason = match error.kind() {
        std::io::ErrorKind::AddrInUse => {
            "the address is in use (another program listens there, perhaps another `flotilla up`)"
                .to_string()
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "no interface of this machine has that address".to_string()
        }
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_string()
        }
        _ => error.to_string(),
    };
    anyhow!("cannot listen on {address} for {what}: {reason}\n\nhint: stop that program, or pick another address with `{flag} ADDRESS` (`{flag} 127.0.0.1:0` takes any free port and the one taken is printed)")
}

pub fn run_controller(arguments: ControllerArgs) -> Result<()> {
    crate::logging::init(&arguments.logging)?;
    runtime()?.block_on(async move {
        let shard = arguments.shard.config()?;
        let cluster = connect(&arguments.cluster).await?;
        if arguments.strict_rbac {
            crate::strict_rbac::check(&cluster, &arguments.engine.control_namespace).await?;
        }
        println!(
            "flotilla controller: reconciling Applications on {}",
            cluster.server
        );
        if let Some(shard) = &shard {
            println!(
                "shard: `{}` (Lease `{}{}` in `{}`), sharing the Applications with the other replicas",
                shard.identity,
                flotilla_engine::shard::LEASE_PREFIX,
                shard.identity,
                arguments.engine.control_namespace
            );
        }
        let (engine, _) = start_engine_with(cluster, &arguments.engine, shard).await?;
        // Ctrl-C, or SIGTERM as Kubernetes stops a pod: the Lease is released on the way out.
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot wait for SIGTERM")?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted.context("cannot wait for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
        engine.shutdown_and_release().await;
        Ok(())
    })
}

/// Output of data commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Text for people: a table or a summary
    Wide,
    /// The data as JSON
    Json,
    /// The data as YAML
    Yaml,
}

/// `flotilla app …`
#[derive(Debug, Args)]
pub struct AppArgs {
    #[command(subcommand)]
    pub command: AppCommand,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Namespace of the Applications
    #[arg(long, short = 'n', global = true, default_value = "argocd")]
    pub namespace: String,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// List Applications with their sync and health status
    List {
        /// List the Applications of every namespace (`-n` is then ignored)
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        /// Output format: a table (wide), or the Applications as a JSON or YAML List
        #[arg(short = 'o', long, value_enum, default_value = "wide")]
        output: Output,
    },
    /// Show one Application: status, conditions and resources
    Get {
        /// The Application
        name: String,
        /// Output format: a summary (wide), or the Application as JSON or YAML
        #[arg(short = 'o', long, value_enum, default_value = "wide")]
        output: Output,
    },
    /// Show what a sync would change (exit 0: no difference, 1: differences, 2: error)
    Diff {
        /// The Application
        name: String,
        #[command(flatten)]
        engine: DiffEngineArgs,
        /// Output format: unified diffs (wide), or the differing objects with their reasons and
        /// diffs as JSON or YAML
        #[arg(short = 'o', long, value_enum, default_value = "wide")]
        output: Output,
    },
    /// Sync an Application now and wait for the result
    Sync {
        /// The Application
        name: String,
        /// Delete tracked objects that are no longer in Git
        #[arg(long)]
        prune: bool,
        /// Ask the server to validate everything without changing anything
        #[arg(long)]
        dry_run: bool,
        /// Sync to this revision instead of the target revision
        #[arg(long)]
        revision: Option<String>,
        /// Extra sync options (Key=value)
        #[arg(long = "sync-option")]
        sync_options: Vec<String>,
        /// How long to wait for the sync to finish
        #[arg(long, default_value = "5m", value_parser = parse_duration_arg)]
        timeout: Duration,
        /// Output format: the result and each object's (wide), or the Application after the sync
        /// as JSON or YAML
        #[arg(short = 'o', long, value_enum, default_value = "wide")]
        output: Output,
    },
    /// Wait until an Application is synced and/or healthy
    Wait {
        /// The Application
        name: String,
        /// Wait until it is Synced (with neither flag: until Synced and Healthy)
        #[arg(long)]
        sync: bool,
        /// Wait until it is Healthy (with neither flag: until Synced and Healthy)
        #[arg(long)]
        health: bool,
        /// How long to wait before failing
        #[arg(long, default_value = "5m", value_parser = parse_duration_arg)]
        timeout: Duration,
        /// Output format: progress lines (wide), or the Application once it is ready as JSON or
        /// YAML
        #[arg(short = 'o', long, value_enum, default_value = "wide")]
        output: Output,
    },
    /// Stop the operation (sync) running on an Application, as `argocd app terminate-op`
    TerminateOp {
        /// The Application
        name: String,
        /// How long to wait for the controller to stop it
        #[arg(long, default_value = "1m", value_parser = parse_duration_arg)]
        timeout: Duration,
    },
    /// Show the deployment history
    History {
        /// The Application
        name: String,
        /// Output format: a table (wide), or the history entries as JSON or YAML
        #[arg(short = 'o', long, value_enum, default_value = "wide")]
        output: Output,
    },
    /// Sync to the revision of a history entry (automated sync must be off, as in Argo CD)
    Rollback {
        /// The Application
        name: String,
        /// History id (default: the previous deployment)
        id: Option<i64>,
        /// How long to wait for the sync to finish
        #[arg(long, default_value = "5m", value_parser = parse_duration_arg)]
        timeout: Duration,
        /// Output format: the result and each object's (wide), or the Application after the sync
        /// as JSON or YAML
        #[arg(short = 'o', long, value_enum, default_value = "wide")]
        output: Output,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DiffEngineArgs {
    /// Rewrite repository URLs starting with FROM to start with TO, as the controller's
    /// `--repo-mirror` (mirrors `flotilla up` recorded are added)
    #[arg(long = "repo-mirror", value_name = "FROM=TO")]
    pub repo_mirrors: Vec<String>,
    /// Namespace of projects, cluster Secrets and recorded mirrors, as the controller's
    #[arg(long, default_value = "argocd")]
    pub control_namespace: String,
    /// Compare every object by a dry-run apply (server-side diff), as `controller --server-side-diff`
    #[arg(long)]
    pub server_side_diff: bool,
}

/// An error of the Application operations `flotilla app` shares with the API
/// (`flotilla_web::apps`), with what the user can do about it.
async fn app_error(cluster: &Cluster, error: AppError) -> anyhow::Error {
    let error = match error {
        // Discovery failing says first whether the cluster answers at all.
        AppError::Cluster { action, source } => {
            return match source {
                ClusterError::Transport(_) if action == apps::DISCOVERING => {
                    cluster_error(cluster, source).await
                }
                ClusterError::Transport(_) => cluster_error(cluster, source).await.context(action),
                other if action == apps::DISCOVERING => cluster_error(cluster, other).await,
                other => anyhow::Error::new(other).context(action),
            };
        }
        other => other,
    };
    let hint = match &error {
        AppError::NotServed { .. } => "is a flotilla or Argo CD controller installed? `flotilla controller` installs the Application resource when it starts".to_string(),
        AppError::NotFound { .. } => "`flotilla app list -n NAMESPACE` shows the Applications of a namespace".to_string(),
        AppError::OperationRequested { name } => format!("wait for it with `flotilla app wait {name}`"),
        AppError::OperationRunning { name, .. } => format!("wait for it (`flotilla app wait {name}`) or stop it (`flotilla app terminate-op {name}`)"),
        AppError::RollbackAutomated { .. } => "turn automated sync off in `spec.syncPolicy` first, as with Argo CD".to_string(),
        AppError::NoHistoryEntry { name, .. } => format!("`flotilla app history {name}` lists the entries"),
        AppError::NoProject { project, .. } => format!("create AppProject `{project}` in the control namespace, or name another project in `spec.project`"),
        AppError::NotPermitted { .. } | AppError::Cluster { .. } => return anyhow::Error::new(error),
    };
    anyhow!("{error}\n\nhint: {hint}")
}

/// The Application resource; "serves no Applications" only when the server says so (404).
async fn applications(cluster: &Cluster) -> Result<ResourceInfo> {
    match apps::resource(cluster).await {
        Ok(info) => Ok(info),
        Err(error) => Err(app_error(cluster, error).await),
    }
}

async fn get_application(cluster: &Cluster, namespace: &str, name: &str) -> Result<Value> {
    match apps::get(cluster, namespace, name).await {
        Ok(application) => Ok(application),
        Err(error) => Err(app_error(cluster, error).await),
    }
}

fn print_data(value: &Value, output: Output) -> Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(value)?),
        _ => print!(
            "{}",
            flotilla_core::write_document(&flotilla_core::from_json(value))
                .map_err(|error| anyhow!("cannot write YAML: {error}"))?
        ),
    }
    Ok(())
}

fn text<'a>(value: &'a Value, fallback: &'a str) -> &'a str {
    value
        .as_str()
        .filter(|text| !text.is_empty())
        .unwrap_or(fallback)
}

/// Runs `flotilla app …`; returns the process exit code.
pub fn run_app(arguments: AppArgs) -> Result<u8> {
    // `app diff` exits 2 on any error, its own or the cluster's (1 means differences).
    if matches!(arguments.command, AppCommand::Diff { .. }) {
        return match run_app_command(arguments) {
            Ok(code) => Ok(code),
            Err(error) => {
                eprintln!("{}", crate::render_error(&error));
                Ok(2)
            }
        };
    }
    run_app_command(arguments)
}

fn run_app_command(arguments: AppArgs) -> Result<u8> {
    runtime()?.block_on(async move {
        let cluster = connect(&arguments.cluster).await?;
        let namespace = arguments.namespace.clone();
        match arguments.command {
            AppCommand::List { all_namespaces, output } => {
                let scope = (!all_namespaces).then_some(namespace.as_str());
                let items = match apps::list(&cluster, scope, None).await {
                    Ok(items) => items,
                    Err(error) => return Err(app_error(&cluster, error).await),
                };
                if output != Output::Wide {
                    print_data(&json!({"apiVersion": "v1", "kind": "List", "items": items}), output)?;
                    return Ok(0);
                }
                let namespace_column = |value: &str| if all_namespaces { format!("{value:<20} ") } else { String::new() };
                println!("{}{:<32} {:<12} {:<12} {:<10} {:<16} PATH", namespace_column("NAMESPACE"), "NAME", "SYNC", "HEALTH", "REVISION", "PROJECT");
                for item in items {
                    let status = &item["status"];
                    let revision: String = text(&status["sync"]["revision"], "").chars().take(8).collect();
                    println!(
                        "{}{:<32} {:<12} {:<12} {:<10} {:<16} {}",
                        namespace_column(text(&item["metadata"]["namespace"], "")),
                        text(&item["metadata"]["name"], "?"),
                        text(&status["sync"]["status"], "Unknown"),
                        text(&status["health"]["status"], "Unknown"),
                        revision,
                        text(&item["spec"]["project"], "default"),
                        text(&item["spec"]["source"]["path"], ""),
                    );
                }
                Ok(0)
            }
            AppCommand::Get { name, output } => {
                let application = get_application(&cluster, &namespace, &name).await?;
                if output != Output::Wide {
                    print_data(&application, output)?;
                    return Ok(0);
                }
                // The repository actually synced, when a mirror replaces the one named.
                let mut mirrors = recorded_mirrors(&cluster, &namespace).await;
                if namespace != "argocd" {
                    mirrors.extend(recorded_mirrors(&cluster, "argocd").await);
                }
                let mirror = mirrored_url(&mirrors, text(&application["spec"]["source"]["repoURL"], ""));
                print_application(&application, mirror.as_deref());
                Ok(0)
            }
            AppCommand::History { name, output } => {
                let application = get_application(&cluster, &namespace, &name).await?;
                let history = application["status"]["history"].clone();
                if output != Output::Wide {
                    print_data(&history, output)?;
                    return Ok(0);
                }
                println!("{:<4} {:<22} {:<42} INITIATED BY", "ID", "DEPLOYED AT", "REVISION");
                for entry in history.as_array().cloned().unwrap_or_default() {
                    println!(
                        "{:<4} {:<22} {:<42} {}",
                        entry["id"].as_i64().map(|id| id.to_string()).unwrap_or_default(),
                        text(&entry["deployedAt"], ""),
                        text(&entry["revision"], ""),
                        if entry["initiatedBy"]["automated"] == json!(true) { "automated".to_string() } else { text(&entry["initiatedBy"]["username"], "").to_string() },
                    );
                }
                Ok(0)
            }
            AppCommand::Diff { name, engine, output } => {
                let mut mirrors = engine.repo_mirrors.iter().map(|entry| entry.split_once('=').map(|(from, to)| (from.to_string(), to.to_string())).ok_or_else(|| anyhow!("`--repo-mirror {entry}` is not FROM=TO"))).collect::<Result<Vec<_>>>()?;
                // Whether the cluster answers and serves Applications, said plainly first.
                applications(&cluster).await?;
                mirrors.extend(recorded_mirrors(&cluster, &engine.control_namespace).await);
                let config = EngineConfig {
                    cache_dir: crate::cache_dir().join("engine"),
                    repo_mirrors: mirrors,
                    control_namespace: engine.control_namespace.clone(),
                    workers: 0,
                    install_crds: false,
                    server_side_diff: engine.server_side_diff,
                    ..EngineConfig::default()
                };
                let preview_engine = Engine::start(cluster, config).await.context("cannot read the cluster")?;
                let preview = preview_engine.preview(&namespace, &name).await.map_err(|message| anyhow!("cannot compare `{name}`: {message}"));
                preview_engine.shutdown();
                let preview = preview?;
                if output == Output::Wide {
                    print!("{}", preview.render());
                } else {
                    print_data(&apps::preview_data(&namespace, &name, &preview), output)?;
                }
                Ok(u8::from(preview.has_differences()))
            }
            AppCommand::Sync { name, prune, dry_run, revision, sync_options, timeout, output } => {
                let operation = json!({
                    "sync": {"revision": revision.unwrap_or_default(), "prune": prune, "dryRun": dry_run, "syncOptions": sync_options},
                    "initiatedBy": {"username": whoami()},
                });
                request_operation(&cluster, &namespace, &name, operation, timeout, output).await
            }
            AppCommand::Rollback { name, id, timeout, output } => {
                let application = get_application(&cluster, &namespace, &name).await?;
                let operation = match apps::rollback_operation(&application, id, &whoami()) {
                    Ok(operation) => operation,
                    Err(error) => return Err(app_error(&cluster, error).await),
                };
                request_operation(&cluster, &namespace, &name, operation, timeout, output).await
            }
            AppCommand::TerminateOp { name, timeout } => terminate_operation(&cluster, &namespace, &name, timeout).await,
            AppCommand::Wait { name, sync, health, timeout, output } => {
                let deadline = Instant::now() + timeout;
                let (want_sync, want_health) = if !sync && !health { (true, true) } else { (sync, health) };
                let terminal = std::io::stdout().is_terminal();
                // With -o json|yaml, standard output holds the Application and nothing else.
                let progress = output == Output::Wide;
                let mut last_line = String::new();
                loop {
                    let application = get_application(&cluster, &namespace, &name).await?;
                    let sync_status = text(&application["status"]["sync"]["status"], "Unknown").to_string();
                    let health_status = text(&application["status"]["health"]["status"], "Unknown").to_string();
                    // A status written before a sync that is still running is not the result.
                    let running = operation_running(&application);
                    let mut line = format!("{name}: sync {sync_status}, health {health_status}");
                    if let Some(message) = &running {
                        line.push_str(&format!(", operation running: {message}"));
                    }
                    if progress && line != last_line {
                        if terminal { print!("\r\x1b[2K{line}"); } else { println!("{line}"); }
                        use std::io::Write;
                        let _ = std::io::stdout().flush();
                        last_line = line;
                    }
                    if running.is_none() && !application["operation"].is_object() && (!want_sync || sync_status == "Synced") && (!want_health || health_status == "Healthy") {
                        if progress && terminal { println!(); }
                        if !progress { print_data(&application, output)?; }
                        return Ok(0);
                    }
                    if Instant::now() >= deadline {
                        if progress && terminal { println!(); }
                        bail!("timed out after {timeout:?} waiting for `{name}` (sync {sync_status}, health {health_status})");
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    })
}

/// The ConfigMap (in the control namespace) where `flotilla up` records its repository mirrors,
/// one `FROM=TO` per line in `data.mirrors`.
pub const MIRRORS_CONFIGMAP: &str = "flotilla-repository-mirrors";

async fn recorded_mirrors(cluster: &Cluster, namespace: &str) -> Vec<(String, String)> {
    let Ok(info) = cluster.resource("v1", "ConfigMap").await else {
        return Vec::new();
    };
    let Ok(Some(configmap)) = cluster.get(&info, Some(namespace), MIRRORS_CONFIGMAP).await else {
        return Vec::new();
    };
    configmap["data"]["mirrors"]
        .as_str()
        .unwrap_or("")
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(from, to)| (from.trim().to_string(), to.trim().to_string()))
        .collect()
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "flotilla-cli".into())
}

/// Writes `operation` on the Application and waits for the controller to finish it.
async fn request_operation(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    operation: Value,
    timeout: Duration,
    output: Output,
) -> Result<u8> {
    // Refused while another operation is requested, or running unless it is automated.
    let before = match apps::request_operation(cluster, namespace, name, operation).await {
        Ok(before) => before,
        Err(error) => return Err(app_error(cluster, error).await),
    };
    let previous_state = before["status"]["operationState"].clone();
    let deadline = Instant::now() + timeout;
    // With -o json|yaml, standard output holds the Application and nothing else.
    let terminal = std::io::stdout().is_terminal() && output == Output::Wide;
    loop {
        let application = get_application(cluster, namespace, name).await?;
        let state = &application["status"]["operationState"];
        // Done when the controller cleared the request and recorded a new operation state
        // (states differ at least in the operation or its times; times have second precision).
        let finished = !application["operation"].is_object()
            && *state != previous_state
            && state["finishedAt"].is_string();
        if finished {
            if terminal {
                println!();
            }
            let phase = text(&state["phase"], "Unknown");
            let code = if phase == "Succeeded" { 0 } else { 1 };
            if output != Output::Wide {
                print_data(&application, output)?;
                return Ok(code);
            }
            println!("{name}: operation {phase}: {}", text(&state["message"], ""));
            for resource in state["syncResult"]["resources"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                println!(
                    "  {:<12} {:<28} {:<16} {}",
                    text(&resource["status"], ""),
                    format!(
                        "{}/{}",
                        text(&resource["kind"], ""),
                        text(&resource["name"], "")
                    ),
                    text(&resource["namespace"], ""),
                    text(&resource["message"], "")
                );
            }
            return Ok(code);
        }
        // Running once the controller took the request: a running state that is not the one
        // before the request.
        let running = operation_running(&application).filter(|_| *state != previous_state);
        if terminal {
            match &running {
                Some(message) => print!("\r\x1b[2K{name}: running: {message}"),
                None => print!("\r\x1b[2K{name}: waiting for the controller…"),
            }
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        if Instant::now() >= deadline {
            if terminal {
                println!();
            }
            match running {
                Some(message) => bail!("timed out after {timeout:?}; the operation on `{name}` is still running: {message}\n\nhint: wait longer (`flotilla app wait {name}`) or stop it (`flotilla app terminate-op {name}`)"),
                None => bail!("timed out after {timeout:?} waiting for a controller to take the operation on `{name}`\n\nhint: is a controller running (`flotilla controller` or `flotilla up`) and does it serve namespace `{namespace}`?"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

use flotilla_web::apps::operation_running;

/// Asks the controller to stop the operation running on an Application (`phase: Terminating`,
/// as Argo CD) and waits until it has.
async fn terminate_operation(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<u8> {
    let info = applications(cluster).await?;
    let deadline = Instant::now() + timeout;
    let mut asked_at: Option<Instant> = None;
    loop {
        let application = get_application(cluster, namespace, name).await?;
        let state = &application["status"]["operationState"];
        match state["phase"].as_str() {
            Some("Running") => {
                // Asked again if a progress write of the controller crossed the first request.
                if asked_at.is_none_or(|at| at.elapsed() > Duration::from_secs(2)) {
                    cluster
                        .merge_patch(
                            &info,
                            Some(namespace),
                            name,
                            &json!({"status": {"operationState": {"phase": "Terminating"}}}),
                        )
                        .await
                        .with_context(|| format!("asking to stop the operation on `{name}`"))?;
                    asked_at = Some(Instant::now());
                }
            }
            Some("Terminating") => {}
            _ if asked_at.is_none() => bail!("no operation is running on `{name}`"),
            phase => {
                println!(
                    "{name}: operation {}: {}",
                    phase.unwrap_or("Unknown"),
                    text(&state["message"], "")
                );
                return Ok(0);
            }
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for the operation on `{name}` to stop\n\nhint: is a controller running (`flotilla controller` or `flotilla up`)?");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The URL a repository is fetched from after the mirror rewrites (the first `FROM` that
/// prefixes it wins, as in the controller), when a mirror applies.
fn mirrored_url(mirrors: &[(String, String)], repository: &str) -> Option<String> {
    mirrors.iter().find_map(|(from, to)| {
        repository
            .strip_prefix(from.as_str())
            .map(|rest| format!("{to}{rest}"))
    })
}

fn print_application(application: &Value, mirror: Option<&str>) {
    let status = &application["status"];
    let spec = &application["spec"];
    println!(
        "Name:          {}",
        text(&application["metadata"]["name"], "?")
    );
    println!("Project:       {}", text(&spec["project"], "default"));
    println!("Repo:          {}", text(&spec["source"]["repoURL"], ""));
    if let Some(mirror) = mirror {
        println!("Synced from:   {mirror} (the mirror of Repo that `flotilla up` recorded)");
    }
    println!("Path:          {}", text(&spec["source"]["path"], ""));
    println!(
        "Target:        {}",
        text(&spec["source"]["targetRevision"], "HEAD")
    );
    println!(
        "Destination:   {} {}",
        text(
            &spec["destination"]["server"],
            text(&spec["destination"]["name"], "")
        ),
        text(&spec["destination"]["namespace"], "")
    );
    println!(
        "Sync Status:   {} ({})",
        text(&status["sync"]["status"], "Unknown"),
        text(&status["sync"]["revision"], "")
    );
    println!(
        "Health Status: {}",
        text(&status["health"]["status"], "Unknown")
    );
    if let Some(owner) = status["controllerShard"].as_str() {
        println!("Controller:    {owner} (the replica that owns it)");
    }
    if let Some(phase) = status["operationState"]["phase"].as_str() {
        println!(
            "Last Sync:     {phase}: {}",
            text(&status["operationState"]["message"], "")
        );
    }
    for condition in status["conditions"].as_array().cloned().unwrap_or_default() {
        println!(
            "Condition:     {}: {}",
            text(&condition["type"], ""),
            text(&condition["message"], "")
        );
    }
    println!();
    println!(
        "{:<28} {:<20} {:<32} {:<10} {:<12} MESSAGE",
        "GROUP/KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH"
    );
    for resource in status["resources"].as_array().cloned().unwrap_or_default() {
        let group_kind = match resource["group"].as_str() {
            Some(group) => format!("{group}/{}", text(&resource["kind"], "")),
            None => text(&resource["kind"], "").to_string(),
        };
        println!(
            "{:<28} {:<20} {:<32} {:<10} {:<12} {}",
            group_kind,
            text(&resource["namespace"], ""),
            text(&resource["name"], ""),
            text(&resource["status"], ""),
            text(&resource["health"]["status"], ""),
            text(
                &resource["message"],
                text(&resource["health"]["message"], "")
            )
        );
    }
}

#[cfg(test)]
mod tests {
    use super::pod_identity;

    #[test]
    fn a_pod_name_keeps_its_end_as_shard_identity() {
        assert_eq!(
            pod_identity("flotilla-controller-5c8f9d7b64-x2x4z"),
            "flotilla-controller-5c8f9d7b64-x2x4z"
        );
        let long = "a-very-long-deployment-name-for-flotilla-7d9f8b6c54-abcde";
        let identity = pod_identity(long);
        assert_eq!(
            identity.len(),
            63 - flotilla_engine::shard::LEASE_PREFIX.len()
        );
        assert!(long.ends_with(&identity), "{identity}");
    }
}
