//! `batch/v1` Job, as gitops-engine's `health_job.go`: Failed condition is Degraded, Complete is
//! Healthy, suspended is Suspended, anything else is still running.

use serde_json::Value;

use super::common::{condition, text};
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    if let Some(failed) = condition(object, "Failed").filter(|failed| failed["status"] == "True") {
        return Health::new(HealthStatus::Degraded, text(&failed["message"]));
    }
    if let Some(complete) =
        condition(object, "Complete").filter(|complete| complete["status"] == "True")
    {
        return Health::new(HealthStatus::Healthy, text(&complete["message"]));
    }
    if object["spec"]["suspend"] == true {
        return Health::new(HealthStatus::Suspended, "job is suspended");
    }
    Health::new(HealthStatus::Progressing, "job is running")
}
