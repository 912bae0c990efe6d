//! IBM MQ `mq.ibm.com` QueueManager by `status.phase`: Running is Healthy; Pending, Creating and
//! Unknown are Progressing; Failed is Degraded; Ending/Ended are Suspended.

use serde_json::Value;

use super::common::{condition, text};
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    let message = object["status"]["conditions"]
        .as_array()
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition["type"] == "Error" || condition["type"] == "Pending")
        })
        .map(|condition| text(&condition["message"]).to_string())
        .or_else(|| condition(object, "Ready").map(|ready| text(&ready["message"]).to_string()))
        .unwrap_or_default();
    match text(&object["status"]["phase"]) {
        "Running" | "Ready" => Health::new(HealthStatus::Healthy, ""),
        "Failed" => Health::new(
            HealthStatus::Degraded,
            if message.is_empty() {
                "queue manager failed".into()
            } else {
                message
            },
        ),
        "Ending" | "Ended" => Health::new(HealthStatus::Suspended, "queue manager is stopped"),
        "" => Health::new(
            HealthStatus::Progressing,
            "Waiting for the queue manager to report a phase",
        ),
        phase => Health::new(
            HealthStatus::Progressing,
            format!("queue manager is {phase}"),
        ),
    }
}
