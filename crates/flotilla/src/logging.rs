//! Log output of the long-running commands (`flotilla up`, `flotilla controller`): the engine's
//! `tracing` events (each sync, prune, drift repair and failure, with the Application, revision
//! and objects) written to standard error with a timestamp, as text or one JSON object per line.

use std::str::FromStr;

use anyhow::{anyhow, Result};
use clap::{Args, ValueEnum};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `2026-12-03T14:30:00.123456Z  INFO automated sync succeeded application=argocd/web …`
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields.message` and the event's fields
    Json,
}

#[derive(Clone, Debug, Args)]
pub struct LogArgs {
    /// How log lines are written to standard error: text, or one JSON object per line
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Which events are logged: a level (error, warn, info, debug, trace) or per-module levels
    /// such as `info,flotilla_engine=debug`
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

/// Installs the log writer for this process (once; a second call changes nothing).
pub fn init(arguments: &LogArgs) -> Result<()> {
    let filter = Targets::from_str(&arguments.log_level).map_err(|error| {
        anyhow!(
            "`--log-level {}` is not a log filter: {error}\n\nhint: use a level (`info`) or levels per module (`info,flotilla_engine=debug`)",
            arguments.log_level
        )
    })?;
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match arguments.log_format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_target(false)
                    .with_ansi(false),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_target(false),
            )
            .try_init(),
    };
    // Already installed (a test calling twice): the first writer stays.
    let _ = installed;
    Ok(())
}
