//! `v1` Pod, as gitops-engine's `health_pod.go`: phase first; a running pod is Healthy when its
//! containers are ready, Degraded when a container is crash-looping or cannot pull its image.

use serde_json::Value;

use super::common::text;
use crate::{Health, HealthStatus};

const BAD_WAITING_REASONS: [&str; 6] = [
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "CreateContainerConfigError",
    "InvalidImageName",
    "CreateContainerError",
];

pub(crate) fn health(object: &Value) -> Health {
    let status = &object["status"];
    let containers = status["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for container in containers.iter().chain(
        status["initContainerStatuses"]
            .as_array()
            .into_iter()
            .flatten(),
    ) {
        let reason = text(&container["state"]["waiting"]["reason"]);
        if BAD_WAITING_REASONS.contains(&reason) {
            let message = text(&container["state"]["waiting"]["message"]);
            return Health::new(
                HealthStatus::Degraded,
                if message.is_empty() { reason } else { message },
            );
        }
    }
    match text(&status["phase"]) {
        "Pending" => Health::new(HealthStatus::Progressing, text(&status["message"])),
        "Succeeded" => Health::new(HealthStatus::Healthy, text(&status["message"])),
        "Failed" => Health::new(HealthStatus::Degraded, text(&status["message"])),
        "Running" => {
            if object["spec"]["restartPolicy"] != "Always"
                && !object["spec"]["restartPolicy"].is_null()
            {
                return Health::new(HealthStatus::Progressing, text(&status["message"]));
            }
            let all_ready = !containers.is_empty()
                && containers
                    .iter()
                    .all(|container| container["ready"] == true);
            if all_ready {
                Health::new(HealthStatus::Healthy, text(&status["message"]))
            } else {
                Health::new(HealthStatus::Progressing, text(&status["message"]))
            }
        }
        _ => Health::new(HealthStatus::Unknown, text(&status["message"])),
    }
}
