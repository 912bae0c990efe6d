//! `apps/v1` ReplicaSet, as gitops-engine's `health_replicaset.go`.

use serde_json::Value;

use super::common::{condition, int, text};
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    let status = &object["status"];
    if int(&object["metadata"]["generation"]) > int(&status["observedGeneration"]) {
        return Health::new(
            HealthStatus::Progressing,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        );
    }
    if let Some(failure) =
        condition(object, "ReplicaFailure").filter(|failure| failure["status"] == "True")
    {
        return Health::new(HealthStatus::Degraded, text(&failure["message"]));
    }
    let desired = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let available = int(&status["availableReplicas"]);
    if available < desired {
        return Health::new(
            HealthStatus::Progressing,
            format!("Waiting for rollout to finish: {available} out of {desired} new replicas are available..."),
        );
    }
    Health::healthy()
}
