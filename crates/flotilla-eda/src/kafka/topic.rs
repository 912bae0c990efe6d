//! KafkaTopic rules: partitions can only grow (a decrease is refused by Kafka and leaves the
//! topic NotReady; an increase remaps keys to partitions).

use crate::finding::{Finding, Severity};
use crate::kafka::{integer, KAFKA_GROUPS};
use crate::objects::Change;

/// Partitions decreased: Kafka cannot remove partitions.
pub const PARTITIONS_DECREASED: &str = "kafka-topic-partitions-decreased";
/// Partitions increased: keys map to other partitions from now on.
pub const PARTITIONS_INCREASED: &str = "kafka-topic-partitions-increased";

pub fn check(change: &Change, findings: &mut Vec<Finding>) {
    for (id, before, after) in change.pairs(KAFKA_GROUPS, "KafkaTopic") {
        let (Some(before), Some(after)) = (before, after) else {
            continue;
        };
        let (Some(old), Some(new)) = (
            integer(&before["spec"]["partitions"]),
            integer(&after["spec"]["partitions"]),
        ) else {
            continue;
        };
        if new < old {
            findings.push(Finding::new(
                PARTITIONS_DECREASED,
                Severity::Block,
                id,
                "spec.partitions",
                format!("partitions decreased from {old} to {new}: Kafka cannot remove partitions, so the operator refuses the change and the topic stays NotReady"),
                format!("keep {old} partitions, or create a new topic with {new} partitions and move producers and consumers to it"),
            ));
        } else if new > old {
            findings.push(Finding::new(
                PARTITIONS_INCREASED,
                Severity::Warn,
                id,
                "spec.partitions",
                format!("partitions increased from {old} to {new}: records with the same key go to a different partition from now on, so per-key ordering breaks across the change"),
                "make sure consumers do not rely on key order across the change, or create a new topic",
            ));
        }
    }
}
