//! flotilla-health: the health of a live object, as Argo CD assesses it (gitops-engine's
//! built-in checks and Argo CD's resource customizations), one module per kind under `kinds/`,
//! plus the event-driven kinds this project exists for.
//!
//! Invariants: assessment is pure and total — any JSON in, a status out (missing fields are
//! normal, never a panic); an object whose controller has not yet observed its latest
//! `metadata.generation` (`status.observedGeneration`, or the Ready condition's) is Progressing,
//! whatever its other status says.

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod kinds;

/// Argo CD's health statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HealthStatus {
    Healthy,
    Progressing,
    Degraded,
    Suspended,
    Missing,
    Unknown,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Suspended => "Suspended",
            HealthStatus::Missing => "Missing",
            HealthStatus::Unknown => "Unknown",
        }
    }

    /// Argo CD's order, best to worst: Healthy, Suspended, Progressing, Missing, Degraded, Unknown.
    fn rank(self) -> u8 {
        match self {
            HealthStatus::Healthy => 0,
            HealthStatus::Suspended => 1,
            HealthStatus::Progressing => 2,
            HealthStatus::Missing => 3,
            HealthStatus::Degraded => 4,
            HealthStatus::Unknown => 5,
        }
    }

    pub fn is_worse_than(self, other: HealthStatus) -> bool {
        self.rank() > other.rank()
    }
}

/// A health status with its message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: HealthStatus,
    pub message: Option<String>,
}

impl Health {
    pub(crate) fn new(status: HealthStatus, message: impl Into<String>) -> Health {
        let message = message.into();
        Health {
            status,
            message: (!message.is_empty()).then_some(message),
        }
    }

    pub(crate) fn healthy() -> Health {
        Health {
            status: HealthStatus::Healthy,
            message: None,
        }
    }
}

/// The health of one live object, or None when its kind has no health rule (Argo CD then leaves
/// it out of the application's health).
pub fn assess(object: &Value) -> Option<Health> {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let group = api_version
        .rsplit_once('/')
        .map(|(group, _)| group)
        .unwrap_or("");
    let kind = object["kind"].as_str().unwrap_or("");
    let rule = kinds::rule_for(group, kind)?;
    // gitops-engine: an object being deleted (not a hook) is Progressing, whatever its kind says.
    let annotations = &object["metadata"]["annotations"];
    let is_hook = annotations["argocd.argoproj.io/hook"].is_string()
        || annotations["helm.sh/hook"].is_string();
    if object["metadata"]["deletionTimestamp"].is_string() && !is_hook {
        return Some(Health::new(HealthStatus::Progressing, "Pending deletion"));
    }
    // The workload rules check the generation themselves, with Argo CD's messages.
    let own_check = matches!(group, "apps" | "extensions");
    if let Some(waiting) = kinds::common::generation_not_observed(object).filter(|_| !own_check) {
        return Some(waiting);
    }
    Some(rule(object))
}

/// The application health: the worst of the children (Healthy when there are none).
pub fn worst<I: IntoIterator<Item = HealthStatus>>(statuses: I) -> HealthStatus {
    statuses
        .into_iter()
        .fold(HealthStatus::Healthy, |worst, status| {
            if status.is_worse_than(worst) {
                status
            } else {
                worst
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_argo_cds() {
        use HealthStatus::*;
        assert!(Suspended.is_worse_than(Healthy));
        assert!(Progressing.is_worse_than(Suspended));
        assert!(Missing.is_worse_than(Progressing));
        assert!(Degraded.is_worse_than(Missing));
        assert!(Unknown.is_worse_than(Degraded));
        assert_eq!(worst([]), Healthy);
        assert_eq!(worst([Healthy, Progressing, Suspended]), Progressing);
        assert_eq!(worst([Missing, Degraded, Healthy]), Degraded);
    }

    #[test]
    fn kinds_without_rules_have_no_health() {
        assert_eq!(
            assess(
                &serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
            ),
            None
        );
        assert_eq!(assess(&serde_json::json!(42)), None);
    }
}
