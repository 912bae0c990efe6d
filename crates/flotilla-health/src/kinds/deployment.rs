//! `apps/v1` Deployment, as gitops-engine's `health_deployment.go`: paused is Suspended, a
//! ProgressDeadlineExceeded condition is Degraded, otherwise Progressing until every replica is
//! updated and available.

use serde_json::Value;

use super::common::{condition, int};
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    let spec = &object["spec"];
    let status = &object["status"];
    if spec["paused"] == true {
        return Health::new(HealthStatus::Suspended, "Deployment is paused");
    }
    if int(&object["metadata"]["generation"]) > int(&status["observedGeneration"]) {
        return Health::new(
            HealthStatus::Progressing,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        );
    }
    if condition(object, "Progressing")
        .is_some_and(|progressing| progressing["reason"] == "ProgressDeadlineExceeded")
    {
        return Health::new(
            HealthStatus::Degraded,
            format!(
                "Deployment {:?} exceeded its progress deadline",
                object["metadata"]["name"].as_str().unwrap_or("")
            ),
        );
    }
    let desired = spec["replicas"].as_i64().unwrap_or(1);
    let updated = int(&status["updatedReplicas"]);
    let replicas = int(&status["replicas"]);
    let available = int(&status["availableReplicas"]);
    if updated < desired {
        return Health::new(
            HealthStatus::Progressing,
            format!("Waiting for rollout to finish: {updated} out of {desired} new replicas have been updated..."),
        );
    }
    if replicas > updated {
        return Health::new(
            HealthStatus::Progressing,
            format!(
                "Waiting for rollout to finish: {} old replicas are pending termination...",
                replicas - updated
            ),
        );
    }
    if available < updated {
        return Health::new(
            HealthStatus::Progressing,
            format!("Waiting for rollout to finish: {available} of {updated} updated replicas are available..."),
        );
    }
    Health::healthy()
}
