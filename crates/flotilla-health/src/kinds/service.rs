//! `v1` Service: a LoadBalancer is Progressing until it has an ingress address; every other
//! type is Healthy once it exists (gitops-engine's `health_service.go`).

use serde_json::Value;

use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    if object["spec"]["type"] == "LoadBalancer" {
        let has_ingress = object["status"]["loadBalancer"]["ingress"]
            .as_array()
            .is_some_and(|ingress| !ingress.is_empty());
        if !has_ingress {
            return Health::new(
                HealthStatus::Progressing,
                "Waiting for the load balancer to get an address",
            );
        }
    }
    Health::healthy()
}
