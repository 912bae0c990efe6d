//! `apps/v1` DaemonSet, as gitops-engine's `health_daemonset.go`.

use serde_json::Value;

use super::common::{int, text};
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    let status = &object["status"];
    let name = text(&object["metadata"]["name"]);
    if int(&object["metadata"]["generation"]) > int(&status["observedGeneration"]) {
        return Health::new(
            HealthStatus::Progressing,
            "Waiting for daemon set spec update to be observed...",
        );
    }
    if object["spec"]["updateStrategy"]["type"] == "OnDelete" {
        return Health::new(
            HealthStatus::Healthy,
            format!(
                "daemon set {} out of {} new pods have been updated",
                int(&status["updatedNumberScheduled"]),
                int(&status["desiredNumberScheduled"])
            ),
        );
    }
    let desired = int(&status["desiredNumberScheduled"]);
    let updated = int(&status["updatedNumberScheduled"]);
    let available = int(&status["numberAvailable"]);
    if updated < desired {
        return Health::new(
            HealthStatus::Progressing,
            format!("Waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated..."),
        );
    }
    if available < desired {
        return Health::new(
            HealthStatus::Progressing,
            format!("Waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available..."),
        );
    }
    Health::healthy()
}
