//! Operator Lifecycle Manager (`operators.coreos.com`): Subscription by its conditions and
//! state, InstallPlan and ClusterServiceVersion by phase, CatalogSource by its connection state,
//! as Argo CD's customizations.

use serde_json::Value;

use super::common::text;
use crate::{Health, HealthStatus};

pub(crate) fn subscription(object: &Value) -> Health {
    let conditions = object["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for condition in conditions
        .iter()
        .filter(|condition| condition["status"] == "True")
    {
        match text(&condition["type"]) {
            "CatalogSourcesUnhealthy"
            | "InstallPlanMissing"
            | "InstallPlanFailed"
            | "ResolutionFailed" => {
                return Health::new(
                    HealthStatus::Degraded,
                    format!(
                        "{}: {}",
                        text(&condition["type"]),
                        text(&condition["message"])
                    ),
                );
            }
            "InstallPlanPending" => {
                return Health::new(
                    HealthStatus::Progressing,
                    format!("InstallPlanPending: {}", text(&condition["reason"])),
                )
            }
            _ => {}
        }
    }
    match text(&object["status"]["state"]) {
        "AtLatestKnown" => Health::new(
            HealthStatus::Healthy,
            format!(
                "{} is at the latest known version",
                text(&object["status"]["installedCSV"])
            ),
        ),
        "UpgradeAvailable" | "UpgradePending" => Health::new(
            HealthStatus::Progressing,
            format!(
                "an upgrade is {}",
                if text(&object["status"]["state"]) == "UpgradePending" {
                    "pending"
                } else {
                    "available"
                }
            ),
        ),
        _ => Health::new(
            HealthStatus::Progressing,
            "Waiting for the subscription to resolve",
        ),
    }
}

pub(crate) fn install_plan(object: &Value) -> Health {
    match text(&object["status"]["phase"]) {
        "Complete" => Health::new(HealthStatus::Healthy, "install plan complete"),
        "Failed" => Health::new(
            HealthStatus::Degraded,
            text(&object["status"]["message"]).to_string(),
        ),
        "RequiresApproval" => {
            Health::new(HealthStatus::Suspended, "install plan requires approval")
        }
        _ => Health::new(HealthStatus::Progressing, "install plan is being installed"),
    }
}

pub(crate) fn cluster_service_version(object: &Value) -> Health {
    let message = text(&object["status"]["message"]).to_string();
    match text(&object["status"]["phase"]) {
        "Succeeded" => Health::new(HealthStatus::Healthy, message),
        "Failed" => Health::new(HealthStatus::Degraded, message),
        "Pending" | "InstallReady" | "Installing" | "Replacing" | "Deleting" | "" => {
            Health::new(HealthStatus::Progressing, message)
        }
        _ => Health::new(HealthStatus::Unknown, message),
    }
}

pub(crate) fn catalog_source(object: &Value) -> Health {
    match text(&object["status"]["connectionState"]["lastObservedState"]) {
        "READY" => Health::new(HealthStatus::Healthy, "catalog source is ready"),
        "TRANSIENT_FAILURE" | "SHUTDOWN" => Health::new(
            HealthStatus::Degraded,
            format!(
                "catalog source connection is {}",
                text(&object["status"]["connectionState"]["lastObservedState"])
            ),
        ),
        _ => Health::new(
            HealthStatus::Progressing,
            "Waiting for the catalog source to connect",
        ),
    }
}
