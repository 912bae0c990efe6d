//! `apiregistration.k8s.io/v1` APIService by its Available condition (gitops-engine's
//! `health_apiservice.go`).

use serde_json::Value;

use super::common::{condition, text};
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    match condition(object, "Available") {
        Some(available) if available["status"] == "True" => {
            Health::new(HealthStatus::Healthy, text(&available["message"]))
        }
        Some(available) => Health::new(
            HealthStatus::Progressing,
            format!(
                "{}: {}",
                text(&available["reason"]),
                text(&available["message"])
            ),
        ),
        None => Health::new(HealthStatus::Progressing, "Waiting to be processed"),
    }
}
