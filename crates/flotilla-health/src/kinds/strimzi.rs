//! Strimzi kinds (`kafka.strimzi.io`, and the same kinds under `eventstreams.ibm.com`): Kafka,
//! KafkaTopic, KafkaUser, KafkaConnect, KafkaConnector, KafkaMirrorMaker2, KafkaBridge,
//! KafkaNodePool, following Argo CD's resource customizations: Ready=True is Healthy, a
//! NotReady=True or Ready=False condition is Degraded with its message, else Progressing.
//! KafkaRebalance goes by its state condition (ProposalReady/Ready, NotReady, Stopped, …).

use serde_json::Value;

use super::common::{condition, text};
use crate::{Health, HealthStatus};

pub(crate) fn health(object: &Value) -> Health {
    let kind = text(&object["kind"]);
    if let Some(not_ready) =
        condition(object, "NotReady").filter(|not_ready| not_ready["status"] == "True")
    {
        return Health::new(HealthStatus::Degraded, text(&not_ready["message"]));
    }
    if let Some(ready) = condition(object, "Ready") {
        if ready["status"] == "True" {
            return Health::new(HealthStatus::Healthy, "");
        }
        if ready["status"] == "False"
            && !text(&ready["message"]).is_empty()
            && ready["reason"] != "Creating"
        {
            return Health::new(HealthStatus::Degraded, text(&ready["message"]));
        }
    }
    if object["spec"]["state"] == "stopped"
        || object["spec"]["pause"] == true
        || condition(object, "ReconciliationPaused")
            .is_some_and(|paused| paused["status"] == "True")
    {
        return Health::new(
            HealthStatus::Suspended,
            format!("{kind} reconciliation is paused"),
        );
    }
    Health::new(
        HealthStatus::Progressing,
        format!("Waiting for {kind} to be ready"),
    )
}

pub(crate) fn rebalance(object: &Value) -> Health {
    let conditions = object["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for condition in conditions
        .iter()
        .filter(|condition| condition["status"] == "True")
    {
        let message = text(&condition["message"]);
        match text(&condition["type"]) {
            "Ready" => return Health::new(HealthStatus::Healthy, "rebalance complete"),
            "ProposalReady" => {
                return Health::new(HealthStatus::Healthy, "optimization proposal ready")
            }
            "NotReady" => return Health::new(HealthStatus::Degraded, message),
            "Stopped" => return Health::new(HealthStatus::Suspended, "rebalance stopped"),
            "Rebalancing" => return Health::new(HealthStatus::Progressing, "rebalancing"),
            "PendingProposal" | "New" => {
                return Health::new(
                    HealthStatus::Progressing,
                    "waiting for an optimization proposal",
                )
            }
            _ => {}
        }
    }
    Health::new(
        HealthStatus::Progressing,
        "Waiting for KafkaRebalance to be processed",
    )
}
