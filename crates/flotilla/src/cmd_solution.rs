//! `flotilla bootstrap`, `flotilla env add` and `flotilla service add`: a solution repository
//! written from its manifest (`flotilla-bootstrap`), sealed with the cluster's certificate and
//! committed. Every command validates everything first, generates and seals in memory, and
//! only then writes (staged beside the repository, renamed into place) and commits; a
//! repository with local changes is refused, so the commit holds only flotilla's changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use flotilla_bootstrap::generate::{generate, Tree};
use flotilla_bootstrap::manifest::{
    App, Environment, KafkaFlavour, Service, Solution, GIT_TOKEN_CREDENTIAL, IN_CLUSTER,
    MANIFEST_API_VERSION, MANIFEST_FILE, OPENSHIFT_GITOPS_NAMESPACE, REGISTRY_CREDENTIAL,
};
use flotilla_bootstrap::repository::{self, Changes};
use flotilla_bootstrap::secrets::{self, Sealer};
use flotilla_bootstrap::{catalog, names};

/// Where the certificate comes from, and the credentials to seal.
#[derive(Debug, Args, Clone)]
pub struct SealingArgs {
    /// The sealing certificate: a PEM file or a controller's `http://…/v1/cert.pem`
    #[arg(long, value_name = "FILE|URL", conflicts_with = "kubeconfig")]
    pub cert: Option<String>,
    /// Fetch the sealing certificate from the cluster of this kubeconfig
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace of the sealing keys and the controller (with --kubeconfig)
    #[arg(long, default_value = "kube-system")]
    pub controller_namespace: String,
    /// A file holding a git token the pipelines push to the GitOps repository with (sealed; never read from the command line)
    #[arg(long, value_name = "FILE")]
    pub git_token_file: Option<PathBuf>,
    /// The user name the git token goes with
    #[arg(long, default_value = "git")]
    pub git_username: String,
    /// A Docker config JSON file with the registry credentials the pipelines push images with (sealed)
    #[arg(long, value_name = "FILE")]
    pub docker_config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The directory of the solution repository (created, and `git init`ed, when missing)
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// The URL the GitOps repository is served at (what every Application syncs from)
    #[arg(long, value_name = "URL")]
    pub gitops_repo_url: String,
    /// A service's source repository (repeat for each service; each becomes app `app-<name>`)
    #[arg(long = "service-repo-url", value_name = "URL", required = true)]
    pub service_repo_urls: Vec<String>,
    /// Where images are pushed, as REGISTRY/NAMESPACE (default: OpenShift's internal registry, namespace <prefix>cicd)
    #[arg(long, value_name = "REGISTRY/NS")]
    pub image_repo: Option<String>,
    /// Prepended to every namespace (`shop` gives `shop-dev`, `shop-cicd`)
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// The solution's name (its AppProject); default: the prefix, else the GitOps repository's name
    #[arg(long)]
    pub name: Option<String>,
    /// The environments, in promotion order
    #[arg(long, value_delimiter = ',', default_value = "dev,staging,prod")]
    pub environments: Vec<String>,
    /// Operators the bootstrap wave installs besides those the solution needs, as PACKAGE[@CHANNEL] (`flotilla catalog list`)
    #[arg(long, value_delimiter = ',')]
    pub operators: Vec<String>,
    /// The event backbone's Kafka: strimzi, eventstreams or none
    #[arg(long, default_value = "none", value_parser = ["strimzi", "eventstreams", "none"])]
    pub kafka: String,
    /// Add an IBM MQ queue manager to each environment
    #[arg(long)]
    pub mq: bool,
    /// Where Argo CD and its Applications live
    #[arg(long, default_value = OPENSHIFT_GITOPS_NAMESPACE)]
    pub argocd_namespace: String,
    /// Regenerate files edited since they were generated
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub sealing: SealingArgs,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Add an environment to a solution repository (its namespace, event backbone and, with --from, the apps of another environment with their pinned images)
    Add(EnvAddArgs),
}

#[derive(Debug, Args)]
pub struct EnvAddArgs {
    /// The environment's name (a DNS label)
    pub name: String,
    /// The API server URL of the cluster it runs on (default: the --from environment's, else in-cluster)
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
    /// Copy the apps, services and pins (images, configuration, versions) of this environment
    #[arg(long, value_name = "ENV")]
    pub from: Option<String>,
    /// The solution repository
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub repo: PathBuf,
    #[command(flatten)]
    pub sealing: SealingArgs,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Add a service to an app of one environment (the app is created when missing)
    Add(ServiceAddArgs),
}

#[derive(Debug, Args)]
pub struct ServiceAddArgs {
    /// The environment
    #[arg(long)]
    pub env: String,
    /// The app the service belongs to
    #[arg(long)]
    pub app: String,
    /// The service's name (a DNS label: it names the Deployment, Service and Route)
    #[arg(long)]
    pub service: String,
    /// The service's source repository
    #[arg(long, value_name = "URL")]
    pub git_repo_url: String,
    /// The image (REGISTRY/NS/NAME[:TAG]); default: the solution's image repository and the service name
    #[arg(long)]
    pub image: Option<String>,
    /// The container port
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The solution repository
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub repo: PathBuf,
    #[command(flatten)]
    pub sealing: SealingArgs,
}

/// `flotilla bootstrap`.
pub fn run_bootstrap(args: &BootstrapArgs) -> Result<()> {
    let prefix = match args.prefix.as_str() {
        "" => String::new(),
        prefix if prefix.ends_with('-') => prefix.to_string(),
        prefix => format!("{prefix}-"),
    };
    let name = args.name.clone().unwrap_or_else(|| {
        if prefix.is_empty() {
            names::repository_name(&args.gitops_repo_url)
        } else {
            prefix.trim_end_matches('-').to_string()
        }
    });
    let image_repo = args.image_repo.clone().unwrap_or_else(|| {
        format!("image-registry.openshift-image-registry.svc:5000/{prefix}cicd")
    });
    let kafka = KafkaFlavour::parse(&args.kafka).unwrap_or_default();
    let extra = args
        .operators
        .iter()
        .filter(|text| !text.is_empty())
        .map(|text| catalog::parse_operator(text).map_err(|message| anyhow!(message)))
        .collect::<Result<Vec<_>>>()?;
    let operators =
        catalog::operators_for(kafka, args.mq, &extra).map_err(|message| anyhow!(message))?;
    let mut apps = Vec::new();
    for url in &args.service_repo_urls {
        if let Some(problem) = names::git_url_problem(url) {
            bail!("--service-repo-url `{url}` {problem}");
        }
        let service = names::repository_name(url);
        apps.push(App {
            name: format!("app-{service}"),
            services: vec![Service {
                name: service.clone(),
                source_url: url.clone(),
                image: format!("{}/{service}", image_repo.trim_end_matches('/')),
                tag: "latest".into(),
                port: 8080,
            }],
        });
    }
    let solution = Solution {
        api_version: MANIFEST_API_VERSION.into(),
        kind: "Solution".into(),
        name,
        prefix,
        gitops_repo_url: args.gitops_repo_url.clone(),
        gitops_revision: "HEAD".into(),
        image_repo,
        argocd_namespace: args.argocd_namespace.clone(),
        kafka,
        mq: args.mq,
        operators,
        credentials: credentials(&args.sealing, &[]),
        environments: args
            .environments
            .iter()
            .filter(|name| !name.is_empty())
            .map(|name| Environment {
                name: name.clone(),
                cluster: IN_CLUSTER.into(),
                apps: apps.clone(),
            })
            .collect(),
    };
    let previous = match read_manifest(&args.output) {
        Ok(previous) => Some(previous),
        Err(_) if !args.output.join(MANIFEST_FILE).exists() => None,
        Err(error) => return Err(error),
    };
    let message = format!(
        "flotilla bootstrap: {} with {} ({})",
        solution.name,
        solution
            .environments
            .iter()
            .map(|environment| environment.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.service_repo_urls.len().to_string() + " service repositories"
    );
    regenerate(
        &args.output,
        previous.as_ref(),
        &solution,
        &args.sealing,
        args.overwrite,
        &message,
        &Tree::new(),
    )
}

/// `flotilla env …`.
pub fn run_env(command: &EnvCommand) -> Result<()> {
    let EnvCommand::Add(args) = command;
    let previous = read_manifest(&args.repo)?;
    if previous.environment(&args.name).is_some() {
        bail!(
            "the environment `{}` exists already in `{}`\n\nhint: choose another name; `{MANIFEST_FILE}` lists the environments",
            args.name,
            args.repo.join(MANIFEST_FILE).display()
        );
    }
    let mut solution = previous.clone();
    let mut extra_pins = Tree::new();
    let (apps, cluster, position) = match &args.from {
        Some(from) => {
            let (position, source) = solution
                .environments
                .iter()
                .enumerate()
                .find(|(_, environment)| &environment.name == from)
                .ok_or_else(|| {
                    anyhow!(
                        "--from `{from}`: no such environment (the environments are {})",
                        environment_names(&solution)
                    )
                })?;
            // The seeded files (pinned images, configuration, versions) of the source environment.
            let current = repository::read_tree(&args.repo)?;
            let source_prefix = format!("environments/{from}/");
            for (path, text) in &current {
                if let Some(rest) = path.strip_prefix(&source_prefix) {
                    extra_pins.insert(format!("environments/{}/{rest}", args.name), text.clone());
                }
            }
            (source.apps.clone(), source.cluster.clone(), position + 1)
        }
        None => (
            Vec::new(),
            IN_CLUSTER.to_string(),
            solution.environments.len(),
        ),
    };
    solution.environments.insert(
        position,
        Environment {
            name: args.name.clone(),
            cluster: args.cluster.clone().unwrap_or(cluster),
            apps,
        },
    );
    solution.credentials = credentials(&args.sealing, &previous.credentials);
    let message = match &args.from {
        Some(from) => format!("flotilla env add {} --from {from}", args.name),
        None => format!("flotilla env add {}", args.name),
    };
    regenerate(
        &args.repo,
        Some(&previous),
        &solution,
        &args.sealing,
        false,
        &message,
        &extra_pins,
    )
}

/// `flotilla service …`.
pub fn run_service(command: &ServiceCommand) -> Result<()> {
    let ServiceCommand::Add(args) = command;
    let previous = read_manifest(&args.repo)?;
    let mut solution = previous.clone();
    let image_repo = solution.image_repo.clone();
    let names_list = environment_names(&solution);
    let environment = solution.environment_mut(&args.env).ok_or_else(|| {
        anyhow!(
            "--env `{}`: no such environment (the environments are {names_list})",
            args.env
        )
    })?;
    if let Some(app) = environment.apps.iter().find(|app| {
        app.services
            .iter()
            .any(|service| service.name == args.service)
    }) {
        bail!(
            "the service `{}` exists already in environment `{}` (app `{}`)\n\nhint: choose another name",
            args.service,
            args.env,
            app.name
        );
    }
    let (image, tag) = match &args.image {
        Some(image) => split_image(image),
        None => (
            format!("{}/{}", image_repo.trim_end_matches('/'), args.service),
            "latest".to_string(),
        ),
    };
    let service = Service {
        name: args.service.clone(),
        source_url: args.git_repo_url.clone(),
        image,
        tag,
        port: args.port,
    };
    match environment.apps.iter_mut().find(|app| app.name == args.app) {
        Some(app) => app.services.push(service),
        None => environment.apps.push(App {
            name: args.app.clone(),
            services: vec![service],
        }),
    }
    solution.credentials = credentials(&args.sealing, &previous.credentials);
    let message = format!(
        "flotilla service add {} to app {} in {}",
        args.service, args.app, args.env
    );
    regenerate(
        &args.repo,
        Some(&previous),
        &solution,
        &args.sealing,
        false,
        &message,
        &Tree::new(),
    )
}

/// `quay.io/shop/orders:1.2` → (`quay.io/shop/orders`, `1.2`); no tag → `latest`.
fn split_image(image: &str) -> (String, String) {
    let last_slash = image.rfind('/').map(|index| index + 1).unwrap_or(0);
    match image[last_slash..].rfind(':') {
        Some(colon) => (
            image[..last_slash + colon].to_string(),
            image[last_slash + colon + 1..].to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

fn environment_names(solution: &Solution) -> String {
    solution
        .environments
        .iter()
        .map(|environment| format!("`{}`", environment.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The credentials a solution records: those it had, and those given now.
fn credentials(sealing: &SealingArgs, had: &[String]) -> Vec<String> {
    let mut credentials: Vec<String> = had.to_vec();
    if sealing.git_token_file.is_some() {
        credentials.push(GIT_TOKEN_CREDENTIAL.into());
    }
    if sealing.docker_config.is_some() {
        credentials.push(REGISTRY_CREDENTIAL.into());
    }
    credentials.sort();
    credentials.dedup();
    credentials
}

/// The manifest of a solution repository.
pub(crate) fn read_manifest(repository: &Path) -> Result<Solution> {
    let path = repository.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read `{}`\n\nhint: run this in a solution repository (one `flotilla bootstrap` wrote), or pass --repo DIR",
            path.display()
        )
    })?;
    let solution =
        Solution::parse(&text).with_context(|| format!("reading `{}`", path.display()))?;
    Ok(solution)
}

/// Seals with the cluster's certificate (`flotilla-sealed`, Bitnami's format).
struct CertificateSealer {
    key: flotilla_sealed::SealingKey,
    rng: flotilla_sealed::rand_core::UnwrapErr<getrandom::SysRng>,
}

impl Sealer for CertificateSealer {
    fn fingerprint(&self) -> String {
        flotilla_sealed::keys::key_fingerprint(&self.key.public_key)
    }

    fn seal(&mut self, secret: &serde_json::Value) -> Result<serde_json::Value, String> {
        let options = flotilla_sealed::SealOptions {
            scope: None,
            default_namespace: None,
            allow_empty_data: false,
        };
        flotilla_sealed::seal_secret(
            &mut self.rng,
            &self.key.public_key,
            &flotilla_core::from_json(secret),
            &options,
        )
        .map(|sealed| flotilla_core::to_json(&sealed))
        .map_err(|error| error.to_string())
    }

    fn random(&mut self, length: usize) -> Vec<u8> {
        use flotilla_sealed::rand_core::Rng;
        let mut bytes = vec![0u8; length];
        self.rng.fill_bytes(&mut bytes);
        bytes
    }
}

fn sealer(args: &SealingArgs) -> Result<Option<CertificateSealer>> {
    if args.cert.is_none() && args.kubeconfig.is_none() {
        return Ok(None);
    }
    let key = crate::cmd_sealed::sealing_key(
        args.cert.as_deref(),
        args.kubeconfig.as_ref(),
        &args.controller_namespace,
        "sealed-secrets-controller",
    )
    .context("getting the sealing certificate")?;
    Ok(Some(CertificateSealer {
        key,
        rng: flotilla_sealed::rand_core::UnwrapErr(getrandom::SysRng),
    }))
}

/// The credentials given, by the name the plan asks them under.
fn given_values(args: &SealingArgs) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut given = BTreeMap::new();
    if let Some(path) = &args.git_token_file {
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("reading the git token from `{}`", path.display()))?;
        let token = token.trim();
        if token.is_empty() {
            bail!("`{}` is empty: it must hold the git token", path.display());
        }
        given.insert(GIT_TOKEN_CREDENTIAL.to_string(), token.as_bytes().to_vec());
        given.insert(
            "git-username".to_string(),
            args.git_username.as_bytes().to_vec(),
        );
    }
    if let Some(path) = &args.docker_config {
        let text = std::fs::read(path).with_context(|| {
            format!("reading the registry credentials from `{}`", path.display())
        })?;
        if !serde_json::from_slice::<serde_json::Value>(&text)
            .is_ok_and(|value| value["auths"].is_object())
        {
            bail!(
                "`{}` is not a Docker config JSON (an object with `auths`)\n\nhint: `podman login --authfile FILE REGISTRY` or `docker login` writes one",
                path.display()
            );
        }
        given.insert(REGISTRY_CREDENTIAL.to_string(), text);
    }
    Ok(given)
}

fn hints() -> BTreeMap<String, String> {
    [
        (GIT_TOKEN_CREDENTIAL.to_string(), "pass --git-token-file FILE (the repository records that its pipelines use a git token)".to_string()),
        ("git-username".to_string(), "pass --git-token-file FILE".to_string()),
        (REGISTRY_CREDENTIAL.to_string(), "pass --docker-config FILE (the repository records that its pipelines push with registry credentials)".to_string()),
    ]
    .into()
}

/// Runs git in `directory`, as the user when git knows who that is, else as flotilla.
fn git(directory: &Path, arguments: &[&str]) -> Result<String> {
    let mut command = Command::new("git");
    command.args(arguments).current_dir(directory);
    let known = Command::new("git")
        .args(["config", "user.email"])
        .current_dir(directory)
        .output()
        .is_ok_and(|output| output.status.success());
    if !known {
        command
            .env("GIT_AUTHOR_NAME", "flotilla")
            .env("GIT_AUTHOR_EMAIL", "flotilla@localhost")
            .env("GIT_COMMITTER_NAME", "flotilla")
            .env("GIT_COMMITTER_EMAIL", "flotilla@localhost");
    }
    let output = command.output().context(
        "cannot run `git`\n\nhint: install git; flotilla commits the repository with it",
    )?;
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

/// Refuses a repository with local changes (the commit must hold only flotilla's).
pub(crate) fn require_clean(directory: &Path) -> Result<()> {
    if !directory.join(".git").exists() {
        return Ok(());
    }
    let status = git(directory, &["status", "--porcelain"])?;
    if !status.is_empty() {
        let count = status.lines().count();
        let shown: Vec<&str> = status.lines().take(5).collect();
        bail!(
            "`{}` has local changes ({count} path{}):\n  {}\n\nhint: commit or stash them first, so that flotilla's commit holds only its own changes",
            directory.display(),
            if count == 1 { "" } else { "s" },
            shown.join("\n  ")
        );
    }
    Ok(())
}

/// Commits `paths` of `directory` (initialising the repository when needed); the new commit's
/// short hash.
pub(crate) fn commit(directory: &Path, paths: &[String], message: &str) -> Result<String> {
    if !directory.join(".git").exists() {
        git(directory, &["init", "--quiet", "--initial-branch=main"])?;
    }
    for chunk in paths.chunks(200) {
        let mut arguments = vec!["add", "--all", "--"];
        arguments.extend(chunk.iter().map(String::as_str));
        git(directory, &arguments)?;
    }
    git(directory, &["commit", "--quiet", "-m", message])?;
    git(directory, &["rev-parse", "--short", "HEAD"])
}

/// Regenerates the repository at `directory` from `next` (the repository held `previous`'s
/// generation), seals what needs sealing, writes and commits.
fn regenerate(
    directory: &Path,
    previous: Option<&Solution>,
    next: &Solution,
    sealing: &SealingArgs,
    overwrite: bool,
    message: &str,
    extra_pins: &Tree,
) -> Result<()> {
    next.validate().context("the solution is not valid")?;
    require_clean(directory)?;
    let given = given_values(sealing)?;
    let current = repository::read_tree(directory)
        .with_context(|| format!("reading `{}`", directory.display()))?;
    let mut pins = current.clone();
    for (path, text) in extra_pins {
        pins.entry(path.clone()).or_insert_with(|| text.clone());
    }
    let plan = generate(next, &pins).map_err(|error| anyhow!("{error}"))?;
    let mut sealer = sealer(sealing)?;
    let mut files = plan.files.clone();
    let report = secrets::seal_secrets(
        &plan,
        &current,
        sealer.as_mut().map(|sealer| sealer as &mut dyn Sealer),
        &given,
        &hints(),
        &mut files,
    )?;
    let previous_files = match previous {
        Some(previous) => {
            let previous_plan = generate(previous, &current).map_err(|error| anyhow!("{error}"))?;
            let mut previous_files = previous_plan.files.clone();
            for secret in &previous_plan.secrets {
                if let Some(text) = current.get(&secret.path) {
                    previous_files.insert(secret.path.clone(), text.clone());
                }
            }
            Some(previous_files)
        }
        None => None,
    };
    let changes = Changes::between(&current, previous_files.as_ref(), &files, overwrite);
    for path in &changes.kept_edited {
        eprintln!("kept `{path}`: edited since it was generated (--overwrite regenerates it)");
    }
    if changes.is_empty() {
        println!("`{}` is up to date: nothing to change", directory.display());
        return Ok(());
    }
    repository::apply(directory, &changes)
        .with_context(|| format!("writing `{}`", directory.display()))?;
    let commit = commit(directory, &changes.paths(), message)?;
    println!(
        "{} files written, {} removed in `{}`; commit {commit}: {message}",
        changes.write.len(),
        changes.remove.len(),
        directory.display()
    );
    for name in &report.sealed {
        println!("  sealed `{name}` with the cluster's certificate");
    }
    for name in &report.regenerated {
        println!("  `{name}` sealed anew with a new value (the certificate changed): update the webhook that uses it");
    }
    if !report.sealed.is_empty() || !report.regenerated.is_empty() {
        println!(
            "  webhook secrets live only sealed: once synced, read one with `kubectl get secret -n {} NAME -o jsonpath='{{.data.webhook-secret-key}}' | base64 -d` to configure the git host's webhook",
            next.cicd_namespace()
        );
    }
    println!(
        "next: push it to {} and sync `config/argocd` (locally: `flotilla up --repo {} --path config/argocd`); `flotilla repo check {}` validates it",
        next.gitops_repo_url,
        directory.display(),
        directory.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_into_repository_and_tag() {
        assert_eq!(
            split_image("quay.io/shop/orders:1.2"),
            ("quay.io/shop/orders".to_string(), "1.2".to_string())
        );
        assert_eq!(
            split_image("localhost:5000/orders"),
            ("localhost:5000/orders".to_string(), "latest".to_string())
        );
    }
}
