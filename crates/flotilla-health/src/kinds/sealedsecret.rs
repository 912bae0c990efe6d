//! Bitnami `bitnami.com` SealedSecret by its Synced condition (the controller's unseal result).

use serde_json::Value;

use super::common::{condition, text};
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    match condition(object, "Synced") {
        Some(synced) if synced["status"] == "True" => {
            Health::new(HealthStatus::Healthy, text(&synced["message"]))
        }
        Some(synced) if synced["status"] == "False" => {
            Health::new(HealthStatus::Degraded, text(&synced["message"]))
        }
        _ => Health::new(
            HealthStatus::Progressing,
            "Waiting for the controller to unseal",
        ),
    }
}
