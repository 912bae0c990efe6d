//! Helpers shared by the rules: conditions, integers, and the observed-generation check every
//! kind gets.

use serde_json::Value;

use crate::{Health, HealthStatus};

pub(crate) fn int(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

pub(crate) fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

/// The condition of `kind` in `status.conditions`.
pub(crate) fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == kind)
}

/// Progressing while the controller has not observed the latest generation, judged by
/// `status.observedGeneration` or, failing that, the Ready condition's `observedGeneration`.
pub(crate) fn generation_not_observed(object: &Value) -> Option<Health> {
    let generation = object["metadata"]["generation"].as_i64()?;
    let observed = object["status"]["observedGeneration"]
        .as_i64()
        .or_else(|| {
            condition(object, "Ready").and_then(|ready| ready["observedGeneration"].as_i64())
        })?;
    (observed < generation).then(|| {
        Health::new(
            HealthStatus::Progressing,
            format!("Waiting for the controller to observe generation {generation} (observed {observed})"),
        )
    })
}

/// The common "Ready condition" rule: Ready=True is Healthy, Ready=False with a failure is
/// Degraded, anything else is Progressing with `waiting`.
pub(crate) fn ready_condition(object: &Value, waiting: &str) -> Health {
    match condition(object, "Ready") {
        Some(ready) if ready["status"] == "True" => {
            Health::new(HealthStatus::Healthy, text(&ready["message"]))
        }
        Some(ready) if ready["status"] == "False" => {
            Health::new(HealthStatus::Degraded, text(&ready["message"]).to_string())
        }
        _ => Health::new(HealthStatus::Progressing, waiting),
    }
}
