//! Simulation controllers (`--simulate`): workloads progress to ready or complete with owned
//! Pods Running, and custom resources with a status subresource become Ready.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch as signal;

use crate::http::App;

/// How the simulation behaves.
#[derive(Clone, Debug)]
pub struct SimulationConfig {
    /// How long after a change a simulated object becomes ready.
    pub delay: Duration,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            delay: Duration::from_millis(500),
        }
    }
}

pub fn start(_app: Arc<App>, _config: SimulationConfig, _shutdown: signal::Receiver<bool>) {}
