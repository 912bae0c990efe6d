//! cert-manager (`cert-manager.io`) Certificate, Issuer and ClusterIssuer, as Argo CD's
//! customizations: an Issuing certificate is Progressing; Ready=True Healthy; Ready=False
//! Degraded.

use serde_json::Value;

use super::common::{condition, ready_condition, text};
use crate::{Health, HealthStatus};

pub(crate) fn certificate(object: &Value) -> Health {
    if let Some(issuing) =
        condition(object, "Issuing").filter(|issuing| issuing["status"] == "True")
    {
        return Health::new(HealthStatus::Progressing, text(&issuing["message"]));
    }
    ready_condition(object, "Waiting for certificate")
}

pub(crate) fn issuer(object: &Value) -> Health {
    ready_condition(object, "Initializing issuer")
}
