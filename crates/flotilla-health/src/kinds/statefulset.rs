//! `apps/v1` StatefulSet, as gitops-engine's `health_statefulset.go`: Progressing until the spec
//! is observed, every replica is ready and the update revision is current.

use serde_json::Value;

use super::common::{int, text};
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    let spec = &object["spec"];
    let status = &object["status"];
    let observed = int(&status["observedGeneration"]);
    if observed == 0 || int(&object["metadata"]["generation"]) > observed {
        return Health::new(
            HealthStatus::Progressing,
            "Waiting for statefulset spec update to be observed...",
        );
    }
    let desired = spec["replicas"].as_i64().unwrap_or(1);
    let ready = int(&status["readyReplicas"]);
    if ready < desired {
        return Health::new(
            HealthStatus::Progressing,
            format!("Waiting for {} pods to be ready...", desired - ready),
        );
    }
    if spec["updateStrategy"]["type"] == "OnDelete" {
        return Health::new(
            HealthStatus::Healthy,
            format!("statefulset has {ready} ready pods"),
        );
    }
    let partition = int(&spec["updateStrategy"]["rollingUpdate"]["partition"]);
    if partition > 0 {
        let updated = int(&status["updatedReplicas"]);
        if updated < desired - partition {
            return Health::new(
                HealthStatus::Progressing,
                format!("Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...", desired - partition),
            );
        }
        return Health::new(
            HealthStatus::Healthy,
            format!("partitioned roll out complete: {updated} new pods have been updated..."),
        );
    }
    let current = text(&status["currentRevision"]);
    let update = text(&status["updateRevision"]);
    if !update.is_empty() && current != update {
        return Health::new(
            HealthStatus::Progressing,
            format!("waiting for statefulset rolling update to complete {} pods at revision {update}...", int(&status["updatedReplicas"])),
        );
    }
    Health::new(
        HealthStatus::Healthy,
        format!(
            "statefulset rolling update complete {} pods at revision {current}...",
            int(&status["currentReplicas"])
        ),
    )
}
