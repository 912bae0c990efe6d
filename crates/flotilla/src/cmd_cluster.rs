//! `flotilla cluster serve`: runs the embedded Kubernetes-compatible API server
//! (`flotilla-apiserver`) until interrupted, printing where it listens and where its kubeconfig is.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

/// `flotilla cluster …`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Serve an embedded, Kubernetes-compatible API server (a simulated cluster)
    Serve(ServeArgs),
}

/// Arguments of `flotilla cluster serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Directory for the CA, token, kubeconfig and the durable state (in memory when absent)
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Make workloads and custom resources progress to ready
    #[arg(long)]
    pub simulate: bool,
    /// Milliseconds before a simulated object becomes ready
    #[arg(long, default_value_t = 500, requires = "simulate")]
    pub simulate_delay_ms: u64,
    /// Register a schemaless CRD for unknown kinds on first use instead of answering 404
    #[arg(long)]
    pub accept_unknown_kinds: bool,
    /// Play OpenShift: serve Route, Project, SCC, ImageStream, ClusterVersion, ConsoleLink, and run OLM against the embedded operator catalog (`flotilla catalog list`)
    #[arg(long)]
    pub openshift: bool,
    /// The cluster domain Routes get their hosts under (`<name>-<namespace>.apps.<domain>`)
    #[arg(long, default_value = "flotilla.local", requires = "openshift")]
    pub cluster_domain: String,
    /// Serve plain HTTP without authentication (for tests only)
    #[arg(long, hide = true)]
    pub insecure_http: bool,
}

pub fn run_cluster(command: ClusterCommand) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Serve(arguments) => run_cluster_serve(arguments),
    }
}

/// Starts the server and blocks until Ctrl-C.
pub fn run_cluster_serve(arguments: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let config = flotilla_apiserver::ServerConfig {
            listen: arguments.listen,
            data_dir: arguments.data_dir.clone(),
            insecure_http: arguments.insecure_http,
            simulate: arguments
                .simulate
                .then(|| flotilla_apiserver::simulate::SimulationConfig {
                    delay: Duration::from_millis(arguments.simulate_delay_ms),
                }),
            accept_unknown_kinds: arguments.accept_unknown_kinds,
            openshift: arguments.openshift.then(|| flotilla_apiserver::openshift::OpenShiftConfig {
                cluster_domain: arguments.cluster_domain.clone(),
            }),
            ..flotilla_apiserver::ServerConfig::default()
        };
        let server = flotilla_apiserver::serve(config)
            .await
            .map_err(|error| match error {
                flotilla_apiserver::ServeError::Bind { address, source } => {
                    crate::cmd_engine::port_taken(address, source, "--listen", "the API server")
                }
                flotilla_apiserver::ServeError::Persist(error) => {
                    let directory = arguments.data_dir.clone().unwrap_or_default();
                    anyhow::Error::new(error).context(format!(
                        "cannot open the state in `{}`\n\nhint: is another process using it (a `flotilla cluster serve` or `flotilla up`)? Stop it, or pass another `--data-dir`",
                        directory.display()
                    ))
                }
                other => anyhow::Error::new(other)
                    .context(format!("cannot start the API server on {}", arguments.listen)),
            })?;
        // The banner goes to whoever started the server; a reader that has gone away (a
        // closed pipe) must not stop it, so write errors are ignored.
        let mut banner = format!(
            "flotilla cluster serving on {}\nkubeconfig: `{}`\ntry: kubectl --kubeconfig {} api-resources\n",
            server.url,
            server.kubeconfig_path.display(),
            server.kubeconfig_path.display()
        );
        if arguments.data_dir.is_none() {
            banner.push_str("state is in memory only; pass --data-dir to keep it across restarts\n");
        }
        {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(banner.as_bytes());
            let _ = stdout.flush();
        }
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        server.shutdown().await;
        Ok(())
    })
}
