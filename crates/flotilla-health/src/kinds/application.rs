//! Argo CD `argoproj.io` Application (app-of-apps): the child Application's own
//! `status.health`, as Argo CD's customization.

use serde_json::Value;

use super::common::text;
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    let status = match text(&object["status"]["health"]["status"]) {
        "Healthy" => HealthStatus::Healthy,
        "Degraded" => HealthStatus::Degraded,
        "Suspended" => HealthStatus::Suspended,
        "Missing" => HealthStatus::Missing,
        "Unknown" => HealthStatus::Unknown,
        _ => HealthStatus::Progressing,
    };
    Health::new(status, text(&object["status"]["health"]["message"]))
}
