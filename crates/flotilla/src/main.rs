mod cmd_cluster;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "flotilla")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run or manage the embedded cluster
    #[command(subcommand)]
    Cluster(cmd_cluster::ClusterCommand),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Cluster(command) => cmd_cluster::run_cluster(command),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
