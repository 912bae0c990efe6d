//! The `flotilla` command line: a thin layer over the library crates.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

/// mimalloc instead of glibc's malloc: the controller and the API server allocate and free many
/// small JSON values per request; under glibc that was a quarter of the controller's CPU
/// (`malloc_consolidate`, arena trimming), and the no-op reconcile pass took twice the CPU.
/// Built without transparent huge pages (`no_thp`), which otherwise doubled the resident memory
/// of short commands such as `flotilla build`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd_catalog;
mod cmd_check;
mod cmd_cluster;
mod cmd_engine;
mod cmd_install;
mod cmd_promote;
mod cmd_schema;
mod cmd_sealed;
mod cmd_solution;
mod cmd_topology;
mod cmd_up;
mod logging;
mod strict_rbac;

#[derive(Parser)]
#[command(
    name = "flotilla",
    version,
    about = "GitOps engine for event-driven solutions on Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a kustomize tree, byte-for-byte like `kubectl kustomize DIR`.
    Build(BuildArgs),
    /// Run or manage the embedded Kubernetes-compatible cluster.
    #[command(subcommand)]
    Cluster(cmd_cluster::ClusterCommand),
    /// Seal Secrets into SealedSecrets, like kubeseal.
    Seal(cmd_sealed::SealArgs),
    /// Recover Secrets from SealedSecrets offline with the controller's private keys.
    Unseal(cmd_sealed::UnsealArgs),
    /// Re-encrypt SealedSecrets for a new certificate, offline.
    Reseal(cmd_sealed::ResealArgs),
    /// Sealing keys in the Bitnami controller's layout.
    Keys(cmd_sealed::KeysArgs),
    /// Start the embedded cluster, the controller and an example GitOps repository, and keep them running.
    Up(cmd_up::UpArgs),
    /// Run the GitOps controller against a cluster.
    Controller(cmd_engine::ControllerArgs),
    /// Print the manifests that install the controller in a cluster (RBAC, Deployment, probes, monitoring).
    Install(cmd_install::InstallArgs),
    /// Inspect and operate Applications (list, get, diff, sync, wait, history, rollback).
    App(cmd_engine::AppArgs),
    /// The embedded operator catalog: packages, channels, CRDs, Subscriptions.
    #[command(subcommand)]
    Catalog(cmd_catalog::CatalogCommand),
    /// Check what a change would do against the event-driven guardrails (exit 0: nothing blocks, 1: blocked, 2: error).
    Check(cmd_check::CheckArgs),
    /// Schema compatibility as the schema registries judge it (Avro, JSON Schema, Protobuf).
    #[command(subcommand)]
    Schema(cmd_schema::SchemaCommand),
    /// Print the event topology of a kustomization or app-of-apps (applications, topics, schemas, users, connectors, MirrorMaker flows, queues) as JSON or Graphviz DOT.
    Topology(cmd_topology::TopologyArgs),
    /// Write and commit a solution repository (KAM's layout, operators from the catalog, sealed secrets, the event backbone) from its manifest.
    Bootstrap(cmd_solution::BootstrapArgs),
    /// Environments of a solution repository.
    #[command(subcommand)]
    Env(cmd_solution::EnvCommand),
    /// Services of a solution repository.
    #[command(subcommand)]
    Service(cmd_solution::ServiceCommand),
    /// Move what was verified in one environment to the next (images, promotable configuration, event backbone versions), as one commit.
    Promote(cmd_promote::PromoteArgs),
    /// Solution repositories.
    #[command(subcommand)]
    Repo(cmd_promote::RepoCommand),
    /// Print a shell completion script.
    #[command(
        long_about = "Print a shell completion script.\n\nbash: `source <(flotilla completion bash)` (or write it to ~/.local/share/bash-completion/completions/flotilla)\nzsh: `flotilla completion zsh > \"${fpath[1]}/_flotilla\"`\nfish: `flotilla completion fish > ~/.config/fish/completions/flotilla.fish`"
    )]
    Completion(CompletionArgs),
    /// Print the version, the git commit and the target flotilla was built for.
    Version(VersionArgs),
}

#[derive(clap::Args)]
struct CompletionArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(clap::Args)]
struct VersionArgs {
    /// Output format: text, or the fields as JSON or YAML
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: VersionOutput,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum VersionOutput {
    /// One field a line
    Text,
    /// A JSON object
    Json,
    /// A YAML mapping
    Yaml,
}

#[derive(clap::Args)]
struct BuildArgs {
    /// Directory holding a kustomization.yaml
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Write the output to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Whether a kustomization may read files outside its own directory.
    #[arg(long, value_enum, default_value = "rootonly")]
    load_restrictor: LoadRestrictorArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum LoadRestrictorArg {
    #[value(name = "rootonly", alias = "LoadRestrictionsRootOnly")]
    RootOnly,
    #[value(name = "none", alias = "LoadRestrictionsNone")]
    None,
}

/// Where remote bases are cloned: `$FLOTILLA_CACHE_DIR`, else `$XDG_CACHE_HOME/flotilla`, else
/// `~/.cache/flotilla`, else a directory under the system temp dir.
pub(crate) fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FLOTILLA_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("flotilla");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".cache/flotilla");
    }
    std::env::temp_dir().join("flotilla-cache")
}

pub(crate) fn run_build(args: &BuildArgs) -> anyhow::Result<()> {
    // A directory that is not there is said once, with the path, as `kubectl kustomize` does.
    match std::fs::metadata(&args.dir) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => bail!(
            "`{}` is not a directory\n\nhint: give `flotilla build` the directory that holds the kustomization.yaml",
            args.dir.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "`{}` does not exist\n\nhint: give `flotilla build` the directory that holds the kustomization.yaml",
            args.dir.display()
        ),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read `{}`", args.dir.display()))
        }
    }
    let fetcher = flotilla_source::GitFetcher::new(&cache_dir().join("remote-bases"));
    let options = flotilla_kustomize::BuildOptions {
        load_restrictor: match args.load_restrictor {
            LoadRestrictorArg::RootOnly => flotilla_kustomize::LoadRestrictor::RootOnly,
            LoadRestrictorArg::None => flotilla_kustomize::LoadRestrictor::None,
        },
        fetcher: Some(&fetcher),
        file_system: None,
    };
    let output = flotilla_kustomize::build_to_yaml(&args.dir, options)
        .with_context(|| format!("building `{}`", args.dir.display()))?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, output).with_context(|| format!("writing `{}`", path.display()))?
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(output.as_bytes())
                .context("writing to standard output")?;
            stdout.flush().context("writing to standard output")?;
        }
    }
    Ok(())
}

/// `flotilla completion SHELL`
fn run_completion(args: &CompletionArgs) -> anyhow::Result<()> {
    let mut output = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "flotilla", &mut output);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&output)
        .and_then(|()| stdout.flush())
        .context("writing to standard output")
}

/// `flotilla version`: as `kubectl version --client`, the version, the commit it was built from
/// (when the build had git at hand), the compiler and the target.
fn run_version(args: &VersionArgs) -> anyhow::Result<()> {
    let fields = [
        ("version", env!("CARGO_PKG_VERSION")),
        ("gitCommit", env!("FLOTILLA_GIT_COMMIT")),
        ("rustcVersion", env!("FLOTILLA_RUSTC_VERSION")),
        ("target", env!("FLOTILLA_TARGET")),
    ];
    let text = match args.output {
        VersionOutput::Text => format!(
            "flotilla {}\ncommit:   {}\ncompiler: {}\ntarget:   {}\n",
            fields[0].1, fields[1].1, fields[2].1, fields[3].1
        ),
        VersionOutput::Json | VersionOutput::Yaml => {
            let object: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(name, value)| (name.to_string(), serde_json::Value::from(*value)))
                .collect();
            let value = serde_json::Value::Object(object);
            if args.output == VersionOutput::Json {
                format!("{}\n", serde_json::to_string_pretty(&value)?)
            } else {
                flotilla_core::write_document(&flotilla_core::from_json(&value))
                    .map_err(|error| anyhow::anyhow!("cannot write YAML: {error}"))?
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to standard output")
}

/// Commands that print data end quietly when their reader goes away (`flotilla app list | head
/// -1`), as Unix tools do: the default SIGPIPE action ends the process, where Rust's ignored
/// SIGPIPE made `println!` panic on the broken pipe. Servers keep SIGPIPE ignored, so a client
/// that closes its connection never stops them.
fn end_quietly_on_closed_pipe(command: &Command) {
    let serves = matches!(
        command,
        Command::Up(_) | Command::Controller(_) | Command::Cluster(_)
    );
    if !serves {
        // SAFETY: setting a signal's disposition to its default, before any other thread runs.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    end_quietly_on_closed_pipe(&cli.command);
    let result = match cli.command {
        Command::Build(args) => run_build(&args),
        Command::Cluster(command) => cmd_cluster::run_cluster(command),
        Command::Catalog(command) => cmd_catalog::run(command),
        Command::Seal(args) => cmd_sealed::run_seal(&args),
        Command::Unseal(args) => cmd_sealed::run_unseal(&args),
        Command::Reseal(args) => cmd_sealed::run_reseal(&args),
        Command::Keys(args) => cmd_sealed::run_keys(&args),
        Command::Up(args) => cmd_up::run_up(args),
        Command::Controller(args) => cmd_engine::run_controller(args),
        Command::Install(args) => cmd_install::run(&args),
        Command::App(args) => match cmd_engine::run_app(args) {
            Ok(code) => return ExitCode::from(code),
            Err(error) => Err(error),
        },
        Command::Check(args) => return ExitCode::from(cmd_check::run(args)),
        Command::Schema(command) => return ExitCode::from(cmd_schema::run(command)),
        Command::Topology(args) => cmd_topology::run(&args),
        Command::Bootstrap(args) => cmd_solution::run_bootstrap(&args),
        Command::Env(command) => cmd_solution::run_env(&command),
        Command::Service(command) => cmd_solution::run_service(&command),
        Command::Promote(args) => cmd_promote::run_promote(&args),
        Command::Repo(command) => return ExitCode::from(cmd_promote::run_repo(&command)),
        Command::Completion(args) => run_completion(&args),
        Command::Version(args) => run_version(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", render_error(&error));
            ExitCode::FAILURE
        }
    }
}

/// `error: outer: inner: cause`, with every `hint:` a context carried moved after a blank line at
/// the end, so hints never sit in the middle of the cause chain.
pub(crate) fn render_error(error: &anyhow::Error) -> String {
    let mut causes: Vec<String> = Vec::new();
    let mut hints = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        let message = match text.split_once("\n\nhint: ") {
            Some((message, hint)) => {
                hints.push(hint.to_string());
                message.to_string()
            }
            None => text,
        };
        // A library error that already says its cause (`path: No such file…`) is not followed
        // by the cause again.
        let said = causes.last().is_some_and(|previous| {
            previous == &message || previous.ends_with(&format!(": {message}"))
        });
        if !said {
            causes.push(message);
        }
    }
    let mut rendered = format!("error: {}", causes.join(": "));
    for hint in hints {
        rendered.push_str(&format!("\n\nhint: {hint}"));
    }
    rendered
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every visible argument and subcommand of every command says what it is for, and no help
    /// text repeats the default clap shows after it.
    #[test]
    fn every_argument_has_help() {
        let mut command = super::Cli::command();
        command.build();
        command.clone().debug_assert();
        let mut problems = Vec::new();
        walk(&command, "flotilla", &mut problems);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    fn walk(command: &clap::Command, path: &str, problems: &mut Vec<String>) {
        for argument in command.get_arguments() {
            let id = argument.get_id().as_str();
            if argument.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            let help = argument
                .get_help()
                .or(argument.get_long_help())
                .map(|help| help.to_string());
            match help {
                None => problems.push(format!("`{path}`: `{id}` has no help")),
                Some(help) => {
                    let shows_default = argument.get_action().takes_values()
                        && !argument.get_default_values().is_empty()
                        && !argument.is_hide_default_value_set();
                    if shows_default && help.to_ascii_lowercase().contains("default") {
                        problems.push(format!(
                            "`{path}`: `{id}` says its default, and clap shows it again: {help}"
                        ));
                    }
                }
            }
        }
        for subcommand in command.get_subcommands() {
            if subcommand.is_hide_set() || subcommand.get_name() == "help" {
                continue;
            }
            let path = format!("{path} {}", subcommand.get_name());
            if subcommand.get_about().is_none() {
                problems.push(format!("`{path}` has no description"));
            }
            walk(subcommand, &path, problems);
        }
    }
}
