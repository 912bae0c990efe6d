//! `v1` PersistentVolumeClaim by phase (gitops-engine's `health_pvc.go`).

use serde_json::Value;

use super::common::text;
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    match text(&object["status"]["phase"]) {
        "Lost" => Health::new(HealthStatus::Degraded, "the claim lost its volume"),
        "Pending" => Health::new(
            HealthStatus::Progressing,
            "Waiting for the claim to be bound",
        ),
        "Bound" => Health::healthy(),
        _ => Health::new(HealthStatus::Unknown, ""),
    }
}
