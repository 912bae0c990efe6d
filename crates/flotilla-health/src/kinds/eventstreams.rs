//! IBM Event Streams `eventstreams.ibm.com` EventStreams (and the geo-replicator): `status.phase`
//! Ready is Healthy, Failed is Degraded, Pending is Progressing; Ready conditions when the phase
//! is absent.

use serde_json::Value;

use super::common::{condition, ready_condition, text};
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    let message = condition(object, "Ready")
        .or_else(|| condition(object, "Warning"))
        .map(|condition| text(&condition["message"]).to_string())
        .unwrap_or_default();
    match text(&object["status"]["phase"]) {
        "Ready" => Health::new(HealthStatus::Healthy, message),
        "Failed" => Health::new(HealthStatus::Degraded, message),
        "Pending" => Health::new(
            HealthStatus::Progressing,
            if message.is_empty() {
                "Event Streams is being deployed".to_string()
            } else {
                message
            },
        ),
        _ => ready_condition(object, "Waiting for Event Streams to be ready"),
    }
}
