//! Tekton (`tekton.dev`) PipelineRun and TaskRun by their Succeeded condition: True Healthy,
//! False Degraded (Suspended when cancelled), Unknown Progressing.

use serde_json::Value;

use super::common::{condition, text};
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    match condition(object, "Succeeded") {
        Some(succeeded) if succeeded["status"] == "True" => {
            Health::new(HealthStatus::Healthy, text(&succeeded["message"]))
        }
        Some(succeeded) if succeeded["status"] == "False" => {
            let reason = text(&succeeded["reason"]);
            if reason.contains("Cancelled") {
                Health::new(HealthStatus::Suspended, text(&succeeded["message"]))
            } else {
                Health::new(HealthStatus::Degraded, text(&succeeded["message"]))
            }
        }
        Some(succeeded) => Health::new(HealthStatus::Progressing, text(&succeeded["message"])),
        None if object["spec"]["status"] == "PipelineRunPending" => {
            Health::new(HealthStatus::Suspended, "pipeline run is pending")
        }
        None => Health::new(HealthStatus::Progressing, "Waiting for the run to start"),
    }
}
