//! The `flotilla` command line: a thin layer over the library crates.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

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

fn run_build(args: &BuildArgs) -> anyhow::Result<()> {
    let options = flotilla_kustomize::BuildOptions {
        load_restrictor: match args.load_restrictor {
            LoadRestrictorArg::RootOnly => flotilla_kustomize::LoadRestrictor::RootOnly,
            LoadRestrictorArg::None => flotilla_kustomize::LoadRestrictor::None,
        },
        fetcher: None,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Build(args) => run_build(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
