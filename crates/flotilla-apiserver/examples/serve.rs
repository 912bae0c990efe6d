//! Starts the server for manual experiments: `cargo run -p flotilla-apiserver --example serve -- DIR [PORT]`.

use std::path::PathBuf;

#[tokio::main]
async fn main() {
    let mut arguments = std::env::args().skip(1);
    let data_dir = arguments.next().map(PathBuf::from);
    let port: u16 = arguments
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or(6443);
    let config = flotilla_apiserver::ServerConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        data_dir,
        simulate: Some(flotilla_apiserver::simulate::SimulationConfig::default()),
        ..flotilla_apiserver::ServerConfig::default()
    };
    match flotilla_apiserver::serve(config).await {
        Ok(server) => {
            println!(
                "serving on {} (kubeconfig `{}`)",
                server.url,
                server.kubeconfig_path.display()
            );
            let _ = tokio::signal::ctrl_c().await;
            server.shutdown().await;
        }
        Err(error) => eprintln!("error: {error}"),
    }
}
