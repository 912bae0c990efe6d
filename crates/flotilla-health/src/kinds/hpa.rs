//! `autoscaling` HorizontalPodAutoscaler, as gitops-engine's `health_hpa.go`: a failing
//! AbleToScale or ScalingActive condition is Degraded; conditions present and fine are Healthy.

use serde_json::Value;

use super::common::text;
use crate::{Health, HealthStatus};

const FAILED_REASONS: [&str; 6] = [
    "FailedGetObjectMetric",
    "FailedGetExternalMetric",
    "FailedGetPodsMetric",
    "FailedGetResourceMetric",
    "FailedGetScale",
    "FailedUpdateScale",
];

pub(crate) fn health(object: &Value) -> Health {
    let conditions = object["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if conditions.is_empty() {
        return Health::new(HealthStatus::Progressing, "Waiting to autoscale");
    }
    for condition in &conditions {
        if condition["status"] == "False" && FAILED_REASONS.contains(&text(&condition["reason"])) {
            return Health::new(HealthStatus::Degraded, text(&condition["message"]));
        }
    }
    let message = conditions
        .iter()
        .find(|condition| {
            condition["type"] == "ScalingActive" || condition["type"] == "AbleToScale"
        })
        .map(|condition| text(&condition["message"]).to_string())
        .unwrap_or_default();
    Health::new(HealthStatus::Healthy, message)
}
