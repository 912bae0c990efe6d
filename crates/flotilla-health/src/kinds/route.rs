//! OpenShift `route.openshift.io` Route: Healthy when a router admitted it, Degraded when one
//! rejected it, Progressing before any router reported.

use serde_json::Value;

use super::common::text;
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    let ingress = object["status"]["ingress"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for entry in &ingress {
        for condition in entry["conditions"].as_array().into_iter().flatten() {
            if condition["type"] == "Admitted" {
                if condition["status"] == "True" {
                    return Health::new(HealthStatus::Healthy, "");
                }
                if condition["status"] == "False" {
                    return Health::new(
                        HealthStatus::Degraded,
                        format!(
                            "{}: {}",
                            text(&condition["reason"]),
                            text(&condition["message"])
                        ),
                    );
                }
            }
        }
    }
    Health::new(
        HealthStatus::Progressing,
        "Waiting for a router to admit the route",
    )
}
