//! `networking.k8s.io/v1` Ingress: Progressing until the controller publishes an address
//! (gitops-engine's `health_ingress.go`).

use serde_json::Value;

use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    let has_ingress = object["status"]["loadBalancer"]["ingress"]
        .as_array()
        .is_some_and(|ingress| !ingress.is_empty());
    if has_ingress {
        Health::healthy()
    } else {
        Health::new(
            HealthStatus::Progressing,
            "Waiting for the ingress controller to publish an address",
        )
    }
}
