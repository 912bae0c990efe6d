//! `flotilla up`: the one-command main job. Starts the embedded cluster (simulation on, state
//! under `./.flotilla`), the controller and a GitOps repository (the bundled example solution
//! committed into a local git repository, or `--repo URL|PATH`), applies the root Application,
//! prints where everything is and keeps running, reporting Application status changes, until
//! interrupted. One `up` runs per `--data-dir` (it holds `DATA_DIR/up.lock`, which says who holds
//! it); both addresses are checked before anything starts, and the banner names the addresses
//! actually bound.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use crate::cmd_engine::{self, EngineArgs};

mod example {
    include!(concat!(env!("OUT_DIR"), "/example_files.rs"));
}

/// The URL the example's Applications name; `flotilla up` mirrors it to the local repository.
pub const EXAMPLE_REPOSITORY: &str = "https://github.com/flotilla-dev/inventory-demo.git";

#[derive(Debug, Args)]
pub struct UpArgs {
    /// A GitOps repository (URL or local git directory) instead of the bundled example
    #[arg(long)]
    pub repo: Option<String>,
    /// Path inside --repo of the root (an app-of-apps, a kustomization or a directory)
    #[arg(long, default_value = ".", requires = "repo")]
    pub path: String,
    /// Revision of --repo to follow
    #[arg(long, default_value = "HEAD", requires = "repo")]
    pub revision: String,
    /// Where the cluster state, the example repository and caches live
    #[arg(long, default_value = ".flotilla")]
    pub data_dir: PathBuf,
    /// Address of the embedded API server
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub cluster_listen: SocketAddr,
    /// Milliseconds before a simulated workload becomes ready
    #[arg(long, default_value_t = 500)]
    pub simulate_delay_ms: u64,
    /// Run a plain Kubernetes cluster: no OpenShift APIs (Route, Project, …) and no OLM or operator catalog
    #[arg(long)]
    pub no_openshift: bool,
    /// The cluster domain Routes get their hosts under (`<name>-<namespace>.apps.<domain>`)
    #[arg(long, default_value = "flotilla.local")]
    pub cluster_domain: String,
    /// How often the repository is polled for new commits
    #[arg(long, default_value = "5s", value_parser = parse_duration_arg)]
    pub repo_poll: Duration,
    /// How long an out-of-band edit of a self-healing Application waits before it is repaired,
    /// the Application OutOfSync meanwhile (0 repairs at once)
    #[arg(long, default_value = "0s", value_parser = parse_duration_arg)]
    pub self_heal_timeout: Duration,
    /// Where /metrics, /healthz and /api/webhook are served
    #[arg(long, default_value = "127.0.0.1:8089")]
    pub listen: SocketAddr,
    /// RSA size of the generated sealing key (tests use smaller keys to run fast)
    #[arg(long, default_value_t = 4096, hide = true)]
    pub sealing_key_bits: usize,
    #[command(flatten)]
    pub logging: crate::logging::LogArgs,
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    flotilla_engine::model::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration such as 30s, 5m or 1h"))
}

fn git(directory: &Path, arguments: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .env("GIT_AUTHOR_NAME", "flotilla")
        .env("GIT_AUTHOR_EMAIL", "flotilla@localhost")
        .env("GIT_COMMITTER_NAME", "flotilla")
        .env("GIT_COMMITTER_EMAIL", "flotilla@localhost")
        .output()
        .context("cannot run `git`\n\nhint: install git; flotilla reads repositories with it")?;
    if !output.status.success() {
        bail!(
            "`git {}` failed in `{}`: {}",
            arguments.join(" "),
            directory.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Writes the bundled example as a git repository (once; later runs keep the user's edits).
pub fn materialise_example(directory: &Path) -> Result<()> {
    if directory.join(".git").exists() {
        return Ok(());
    }
    if example::EXAMPLE_FILES.is_empty() {
        bail!("this build has no bundled example solution");
    }
    for (relative, contents) in example::EXAMPLE_FILES {
        let path = directory.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating `{}`", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing `{}`", path.display()))?;
    }
    git(directory, &["init", "--quiet", "--initial-branch=main"])?;
    git(directory, &["add", "--all"])?;
    git(
        directory,
        &["commit", "--quiet", "-m", "Example inventory solution"],
    )?;
    Ok(())
}

/// Whether `--repo` names a path on this machine rather than a URL: git's own rule, a URL has a
/// scheme (`https://`) or is scp-like (`git@host:path`, a colon before any slash).
fn looks_like_a_local_path(repository: &str) -> bool {
    if repository.contains("://") {
        return false;
    }
    match (repository.find(':'), repository.find('/')) {
        (Some(colon), Some(slash)) => slash < colon,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// The Application under `path` of a local repository that syncs `path` itself (a root
/// app-of-apps that manages itself), when there is one.
fn own_root_application(repository: &Path, path: &str) -> Option<Value> {
    let wanted = path.trim_matches('/');
    let resources = flotilla_kustomize::build(
        &repository.join(wanted),
        flotilla_kustomize::BuildOptions::default(),
    )
    .ok()?;
    let found = resources
        .iter()
        .map(|resource| flotilla_core::to_json(&resource.object))
        .find(|object| {
            object["kind"] == "Application"
                && object["apiVersion"]
                    .as_str()
                    .is_some_and(|version| version.starts_with("argoproj.io/"))
                && object["spec"]["source"]["path"]
                    .as_str()
                    .is_some_and(|source| source.trim_matches('/') == wanted)
        });
    found
}

/// The root Application for a repository path.
pub fn root_application(repository: &str, path: &str, revision: &str) -> Value {
    let name = Path::new(path.trim_matches('/'))
        .file_name()
        .map(|name| {
            name.to_string_lossy()
                .to_ascii_lowercase()
                .replace(['_', '.'], "-")
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "root".into());
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": repository, "path": path, "targetRevision": revision},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}
        }
    })
}

/// The file in `--data-dir` a running `flotilla up` holds locked; it says who holds it.
const LOCK_FILE: &str = "up.lock";

/// `--data-dir` held by this `flotilla up` (released when the process ends, however it ends).
struct DataDirLock {
    file: std::fs::File,
}

impl DataDirLock {
    /// Locks `data_dir`, or names the `flotilla up` that holds it.
    fn acquire(data_dir: &Path) -> Result<DataDirLock> {
        let path = data_dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening `{}`", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                let pid = holder
                    .lines()
                    .find_map(|line| line.strip_prefix("pid "))
                    .map(str::trim)
                    .filter(|pid| !pid.is_empty());
                let described = if holder.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", holder.lines().collect::<Vec<_>>().join(", "))
                };
                let stop = match pid {
                    Some(pid) => format!("stop it (Ctrl-C where it runs, or `kill {pid}`)"),
                    None => "stop it (Ctrl-C where it runs)".to_string(),
                };
                bail!(
                    "another `flotilla up`{described} is running in `{}`\n\nhint: use that one (its kubeconfig is `{}`), {stop}, or give this one a directory of its own with `--data-dir`",
                    data_dir.display(),
                    data_dir.join("cluster/kubeconfig").display()
                );
            }
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("locking `{}`", path.display()))
            }
        }
        let lock = DataDirLock { file };
        lock.record(&[])?;
        Ok(lock)
    }

    /// Writes who holds the directory (this process, and what it serves) into the lock file.
    fn record(&self, serves: &[String]) -> Result<()> {
        use std::io::{Seek, Write};
        let mut text = format!("pid {}\n", std::process::id());
        for line in serves {
            text.push_str(line);
            text.push('\n');
        }
        let mut file = &self.file;
        file.set_len(0)
            .and_then(|()| file.seek(std::io::SeekFrom::Start(0)))
            .and_then(|_| file.write_all(text.as_bytes()))
            .context("writing the lock file of `--data-dir`")
    }
}

/// Fails at once when an address `up` is to listen on is taken, before anything starts, so the
/// message names the address and its flag (and no address is printed that another program
/// serves).
fn check_address(address: SocketAddr, flag: &str, what: &str) -> Result<()> {
    match std::net::TcpListener::bind(address) {
        Ok(_) => Ok(()),
        Err(error) => Err(cmd_engine::port_taken(address, error, flag, what)),
    }
}

/// What `--cluster-listen` serves.
const CLUSTER_ENDPOINT: &str = "the embedded cluster's API server";

/// The error of a cluster that did not start, with what to do about it.
fn cluster_start_error(
    error: flotilla_apiserver::ServeError,
    arguments: &UpArgs,
    data_dir: &Path,
) -> anyhow::Error {
    match error {
        flotilla_apiserver::ServeError::Bind { address, source } => {
            cmd_engine::port_taken(address, source, "--cluster-listen", CLUSTER_ENDPOINT)
        }
        flotilla_apiserver::ServeError::Persist(error) => anyhow::Error::new(error).context(format!(
            "cannot open the cluster state in `{}`\n\nhint: is another process using it (a `flotilla cluster serve --data-dir {}`)? Stop it, or give `flotilla up` a directory of its own with `--data-dir`",
            data_dir.join("cluster").display(),
            data_dir.join("cluster").display()
        )),
        other => anyhow::Error::new(other)
            .context(format!("cannot start the embedded cluster on {}", arguments.cluster_listen)),
    }
}

pub fn run_up(arguments: UpArgs) -> Result<()> {
    crate::logging::init(&arguments.logging)?;
    std::fs::create_dir_all(&arguments.data_dir)
        .with_context(|| format!("creating `{}`", arguments.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&arguments.data_dir)
        .with_context(|| format!("resolving `{}`", arguments.data_dir.display()))?;
    let lock = DataDirLock::acquire(&data_dir)?;
    check_address(
        arguments.cluster_listen,
        "--cluster-listen",
        CLUSTER_ENDPOINT,
    )?;
    check_address(arguments.listen, "--listen", cmd_engine::WEB_ENDPOINTS)?;
    let mut mirrors = Vec::new();
    let (root, repository_note) = match &arguments.repo {
        None => {
            let repository = data_dir.join("example-repo");
            materialise_example(&repository)?;
            mirrors.push(format!(
                "{EXAMPLE_REPOSITORY}=file://{}",
                repository.display()
            ));
            let text = example::EXAMPLE_FILES
                .iter()
                .find(|(path, _)| *path == "bootstrap/root-app.yaml")
                .map(|(_, text)| *text)
                .ok_or_else(|| anyhow!("the bundled example has no bootstrap/root-app.yaml"))?;
            let root = flotilla_core::to_json(
                &flotilla_core::parse_single_document(text)
                    .map_err(|error| anyhow!("bootstrap/root-app.yaml: {error}"))?,
            );
            (root, format!("example repository: `{}` (edit and commit; changes reach the cluster within a poll)", repository.display()))
        }
        Some(repository) => {
            let local = Path::new(repository);
            let url = if local.is_dir() {
                let absolute = std::fs::canonicalize(local)
                    .with_context(|| format!("resolving `{repository}`"))?;
                if git(&absolute, &["rev-parse", "--git-dir"]).is_err() {
                    bail!("`{repository}` is not a git repository\n\nhint: run `git init && git add -A && git commit -m init` in it first");
                }
                format!("file://{}", absolute.display())
            } else if looks_like_a_local_path(repository) {
                bail!("`{repository}` does not exist\n\nhint: give `--repo` a local git directory or a repository URL (https://…, ssh://…, git@host:path, file://…)");
            } else {
                repository.clone()
            };
            // A repository whose path holds its own root app-of-apps (an Application syncing that
            // very path, as `flotilla bootstrap` and KAM write) is started from that Application,
            // its repository URL mirrored to the local one.
            match local
                .is_dir()
                .then(|| own_root_application(local, &arguments.path))
                .flatten()
            {
                Some(own) => {
                    let named = own["spec"]["source"]["repoURL"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    if !named.is_empty() && named != url {
                        mirrors.push(format!("{named}={url}"));
                    }
                    (
                        own,
                        format!(
                            "repository: {url} (as {named}) path `{}`, its own root Application",
                            arguments.path
                        ),
                    )
                }
                None => (
                    root_application(&url, &arguments.path, &arguments.revision),
                    format!("repository: {url} path `{}`", arguments.path),
                ),
            }
        }
    };
    let runtime = cmd_engine::runtime()?;
    runtime.block_on(async move {
        let server = flotilla_apiserver::serve(flotilla_apiserver::ServerConfig {
            listen: arguments.cluster_listen,
            data_dir: Some(data_dir.join("cluster")),
            simulate: Some(flotilla_apiserver::simulate::SimulationConfig {
                delay: Duration::from_millis(arguments.simulate_delay_ms),
            }),
            openshift: (!arguments.no_openshift).then(|| {
                flotilla_apiserver::openshift::OpenShiftConfig {
                    cluster_domain: arguments.cluster_domain.clone(),
                }
            }),
            ..flotilla_apiserver::ServerConfig::default()
        })
        .await
        .map_err(|error| cluster_start_error(error, &arguments, &data_dir))?;
        let cluster_args = cmd_engine::ClusterArgs {
            kubeconfig: Some(server.kubeconfig_path.clone()),
            context: None,
        };
        let cluster = cmd_engine::connect(&cluster_args).await?;
        let engine_args = EngineArgs {
            repo_poll: arguments.repo_poll,
            repo_mirrors: mirrors,
            app_namespaces: Vec::new(),
            control_namespace: root["metadata"]["namespace"].as_str().unwrap_or("argocd").to_string(),
            workers: 8,
            listen: arguments.listen,
            webhook_secret_file: None,
                        cache_dir: Some(data_dir.join("cache")),
            no_sealed_secrets: false,
            sealed_secrets_namespace: "kube-system".into(),
                        key_renewal: Duration::from_secs(30 * 24 * 3600),
            sealing_key_bits: arguments.sealing_key_bits,
            server_side_diff: false,
            self_heal_timeout: arguments.self_heal_timeout,
            self_heal_backoff_timeout: Duration::ZERO,
            self_heal_backoff_factor: 3,
            self_heal_backoff_cap: Duration::from_secs(300),
            self_heal_backoff_cooldown: Duration::from_secs(330),
            api_tokens: Some(data_dir.join("cluster/api-tokens")),
            api_tokens_secret: None,
            tls_cert: None,
            tls_key: None,
        };
        let (engine, web_address) = match cmd_engine::start_engine(cluster, &engine_args).await {
            Ok(started) => started,
            Err(error) => {
                server.shutdown().await;
                return Err(error);
            }
        };
        lock.record(&[format!("cluster {}", server.url), format!("listen {web_address}")])?;
        // The root Application, applied like `kubectl apply --server-side`.
        let bootstrap = cmd_engine::connect(&cluster_args).await?;
        let namespace_info = bootstrap.resource("v1", "Namespace").await?;
        let namespace = root["metadata"]["namespace"].as_str().unwrap_or("argocd").to_string();
        bootstrap
            .apply(&namespace_info, &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}), true, false)
            .await
            .context("creating the Applications namespace")?;
        // Record the repository mirrors so `flotilla app diff` renders from the same place.
        let configmap_info = bootstrap.resource("v1", "ConfigMap").await?;
        let mirrors_text: String = engine_args.repo_mirrors.iter().map(|entry| format!("{entry}\n")).collect();
        bootstrap
            .apply(
                &configmap_info,
                &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": cmd_engine::MIRRORS_CONFIGMAP, "namespace": namespace}, "data": {"mirrors": mirrors_text}}),
                true,
                false,
            )
            .await
            .context("recording the repository mirrors")?;
        let application_info = bootstrap.resource("argoproj.io/v1alpha1", "Application").await?;
        bootstrap.apply(&application_info, &root, true, false).await.context("applying the root Application")?;
        let kubeconfig = server.kubeconfig_path.display().to_string();
        println!("flotilla is up");
        println!("  cluster:    {} (simulated; state in `{}`)", server.url, data_dir.join("cluster").display());
        println!("  kubeconfig: `{kubeconfig}`");
        println!("  {repository_note}");
        println!("  root app:   {}/{}", namespace, root["metadata"]["name"].as_str().unwrap_or(""));
        println!("  sealing:    flotilla seal --cert http://{web_address}/v1/cert.pem < secret.yaml");
        // The UI's login URL carries the admin token (the file start_engine made).
        let tokens = flotilla_web::auth::Tokens::load_or_create(&engine_args.api_tokens_path()).context("reading the API tokens")?;
        println!("  ui:         http://{web_address}/?token={}", tokens.admin());
        println!("try:");
        println!("  kubectl --kubeconfig {kubeconfig} get applications -A");
        println!("  flotilla app list --kubeconfig {kubeconfig}");
        println!("press Ctrl-C to stop");
        let mut reported: BTreeMap<String, String> = BTreeMap::new();
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = interval.tick() => {}
            }
            let Ok(list) = bootstrap.list(&application_info, None, &Default::default()).await else { continue };
            for item in list["items"].as_array().cloned().unwrap_or_default() {
                let name = format!("{}/{}", item["metadata"]["namespace"].as_str().unwrap_or(""), item["metadata"]["name"].as_str().unwrap_or(""));
                let line = format!(
                    "sync {}, health {}{}",
                    item["status"]["sync"]["status"].as_str().unwrap_or("Unknown"),
                    item["status"]["health"]["status"].as_str().unwrap_or("Unknown"),
                    item["status"]["conditions"][0]["message"].as_str().map(|message| format!(" ({message})")).unwrap_or_default()
                );
                if reported.get(&name) != Some(&line) {
                    println!("{name}: {line}");
                    reported.insert(name, line);
                }
            }
        }
        println!("stopping");
        engine.shutdown();
        server.shutdown().await;
        Ok(())
    })
}
