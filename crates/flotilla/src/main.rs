//! The `flotilla` command line: a thin layer over the library crates.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc instead of glibc's malloc: the controller and the API server allocate and free many
/// small JSON values per request; under glibc that was a quarter of the controller's CPU
/// (`malloc_consolidate`, arena trimming), and the no-op reconcile pass took twice the CPU.
/// Built without transparent huge pages (`no_thp`), which otherwise doubled the resident memory
/// of short commands such as `flotilla build`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd_cluster;
mod cmd_engine;
mod cmd_sealed;
mod cmd_up;
mod logging;

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
    /// Inspect and operate Applications (list, get, diff, sync, wait, history, rollback).
    App(cmd_engine::AppArgs),
}

#[derive(clap::Args)]
struct BuildArgs {
    /// Directory holding a kustomization.yaml (default: the current directory).
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
        Command::Seal(args) => cmd_sealed::run_seal(&args),
        Command::Unseal(args) => cmd_sealed::run_unseal(&args),
        Command::Reseal(args) => cmd_sealed::run_reseal(&args),
        Command::Keys(args) => cmd_sealed::run_keys(&args),
        Command::Up(args) => cmd_up::run_up(args),
        Command::Controller(args) => cmd_engine::run_controller(args),
        Command::App(args) => match cmd_engine::run_app(args) {
            Ok(code) => return ExitCode::from(code),
            Err(error) => Err(error),
        },
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
    let mut causes = Vec::new();
    let mut hints = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        match text.split_once("\n\nhint: ") {
            Some((message, hint)) => {
                causes.push(message.to_string());
                hints.push(hint.to_string());
            }
            None => causes.push(text),
        }
    }
    let mut rendered = format!("error: {}", causes.join(": "));
    for hint in hints {
        rendered.push_str(&format!("\n\nhint: {hint}"));
    }
    rendered
}
