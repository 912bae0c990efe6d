//! Kafka rules, for `kafka.strimzi.io` (v1beta2 and v1) and `eventstreams.ibm.com`: topics
//! (`topic.rs`). Each rule module has one `check(change, findings)` and names its rule ids as
//! constants, so documentation, tests and overrides use the same strings.

pub mod topic;

use serde_json::Value;

use crate::finding::Finding;
use crate::objects::Change;

/// The API groups that serve Strimzi's kinds.
pub const KAFKA_GROUPS: &[&str] = &["kafka.strimzi.io", "eventstreams.ibm.com"];

/// Runs every Kafka rule.
pub fn check(change: &Change, findings: &mut Vec<Finding>) {
    topic::check(change, findings);
}

/// An integer field, when it is one (rules skip fields of the wrong type: the schema refuses
/// them).
pub(crate) fn integer(value: &Value) -> Option<i64> {
    value.as_i64()
}
