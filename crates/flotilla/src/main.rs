//! TEMPORARY wiring to exercise `cmd_sealed` on the `sealed` branch; the real `main.rs` (with
//! `build`) comes from the main branch.

mod cmd_sealed;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "flotilla", version, about = "GitOps engine for Kubernetes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Seal Secrets into SealedSecrets, like kubeseal.
    Seal(cmd_sealed::SealArgs),
    /// Recover Secrets from SealedSecrets offline with the controller's private keys.
    Unseal(cmd_sealed::UnsealArgs),
    /// Re-encrypt SealedSecrets for a new certificate, offline.
    Reseal(cmd_sealed::ResealArgs),
    /// Sealing keys in the Bitnami controller's layout.
    Keys(cmd_sealed::KeysArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Seal(args) => cmd_sealed::run_seal(args),
        Command::Unseal(args) => cmd_sealed::run_unseal(args),
        Command::Reseal(args) => cmd_sealed::run_reseal(args),
        Command::Keys(args) => cmd_sealed::run_keys(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
