//! KafkaUser rules. What a change does to a user: another authentication type replaces its
//! credentials, and a user removed (and pruned) while its ACLs still grant access to topics or
//! groups takes that access from its clients. What a state must hold: a cluster label naming a
//! declared cluster (as for topics: no User Operator sees the user otherwise), and ACLs on
//! literal topics that a KafkaTopic of the same cluster declares (a typo in an ACL grants
//! nothing).

use crate::objects::Field;
use std::collections::BTreeSet;

use serde_json::Value;

use crate::finding::{new_findings, Finding, Severity};
use crate::kafka::{
    cluster_label, cluster_label_key, read_cluster_label, EntityOperator, Index, Label,
    KAFKA_GROUPS,
};
use crate::objects::{Change, ObjectId};

/// `spec.authentication.type` changed: the user's credentials are replaced.
pub const AUTHENTICATION_CHANGED: &str = "kafka-user-authentication-changed";
/// A user removed while its ACLs grant access to topics or groups that remain.
pub const REMOVED_WITH_ACLS: &str = "kafka-user-removed-with-acls";
/// An ACL on a literal topic no KafkaTopic of the same cluster declares.
pub const ACL_TOPIC_UNDECLARED: &str = "kafka-user-acl-topic-undeclared";
/// No cluster label: no User Operator sees the user.
pub const CLUSTER_LABEL_MISSING: &str = "kafka-user-cluster-label-missing";
/// The cluster label names a cluster the change does not declare.
pub const CLUSTER_UNKNOWN: &str = "kafka-user-cluster-unknown";

pub(crate) fn check(
    change: &Change,
    before_index: &Index<'_>,
    after_index: &Index<'_>,
    findings: &mut Vec<Finding>,
) {
    // One pass over the users: the single-state rules on the users after the change (in
    // identity order) read each user while it is at hand.
    let mut after_state = Vec::new();
    for (id, before, after) in change.pairs(KAFKA_GROUPS, "KafkaUser") {
        if let Some(after) = after {
            check_object(after_index, id, after, &mut after_state);
        }
        match (before, after) {
            (Some(before), Some(after)) => authentication(id, before, after, findings),
            (Some(before), None) => removed(change, after_index, id, before, findings),
            _ => {}
        }
    }
    let after = after_state;
    // Every rule about one state reports on the user it reads, so what the users flagged after
    // the change were already flagged for before is read from those users alone.
    let mut before = Vec::new();
    let flagged: BTreeSet<&ObjectId> = after.iter().map(|finding| &finding.object).collect();
    for id in flagged {
        if let Some((id, user)) = before_index.objects.get_key_value(id) {
            check_object(before_index, id, user, &mut before);
        }
    }
    findings.extend(new_findings(before, after));
}

/// The rules about one state of one user (every finding is on that user).
fn check_object(index: &Index<'_>, id: &ObjectId, user: &Value, findings: &mut Vec<Finding>) {
    // The label is read once for both rules.
    let label = read_cluster_label(id, user);
    cluster_label_rules(index, id, label, findings);
    acl_topics(index, id, user, label, findings);
}

fn authentication(id: &ObjectId, before: &Value, after: &Value, findings: &mut Vec<Finding>) {
    let Some(old) = before.at("spec").at("authentication").at("type").as_str() else {
        return;
    };
    let authentication = after.at("spec").at("authentication");
    // Another type than an object, or a type that is not text: the schema refuses it.
    if !(authentication.is_null() || authentication.at("type").is_string()) {
        return;
    }
    let new = authentication.at("type").as_str();
    if new == Some(old) {
        return;
    }
    let message = match new {
        Some(new) => format!("authentication changes from {old} to {new}: the User Operator replaces the user's credentials (the Secret `{}` is rewritten), so clients that use the {old} credentials are refused until they are reconfigured", id.name()),
        None => format!("authentication ({old}) is removed: the User Operator deletes the user's credentials, so its clients can no longer connect as `{}`", id.name()),
    };
    findings.push(Finding::new(
        AUTHENTICATION_CHANGED,
        Severity::Warn,
        id,
        "spec.authentication.type",
        message,
        "reconfigure the clients with the new credentials as the change syncs, or create a second KafkaUser with the new authentication and move the clients to it before removing this one",
    ));
}

/// One ACL rule's resource: type, name, pattern type (`literal` by default).
struct AclResource<'a> {
    index: usize,
    kind: &'a str,
    name: &'a str,
    prefix: bool,
}

/// The resources of a user's ACL rules, in order (read as they are used: no list per user).
fn acl_resources(user: &Value) -> impl Iterator<Item = AclResource<'_>> {
    user.at("spec")
        .at("authorization")
        .at("acls")
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, acl)| {
            let resource = acl.at("resource");
            Some(AclResource {
                index,
                kind: resource.at("type").as_str()?,
                name: resource.at("name").as_str().unwrap_or("*"),
                prefix: resource.at("patternType").as_str() == Some("prefix"),
            })
        })
}

/// The topic names the KafkaTopics of a user's cluster declare (same group, namespace and
/// cluster label).
fn declared_topics<'s>(index: &'s Index<'_>, id: &'s ObjectId, user: &'s Value) -> &'s [&'s str] {
    let label = cluster_label(id, user).unwrap_or_default();
    index.topics().names_in((id.group(), id.namespace(), label))
}

fn removed(
    change: &Change,
    after_index: &Index<'_>,
    id: &ObjectId,
    before: &Value,
    findings: &mut Vec<Finding>,
) {
    let pruned = change.prune
        && !before
            .at("metadata")
            .at("annotations")
            .at("argocd.argoproj.io/sync-options")
            .as_str()
            .is_some_and(|options| {
                options
                    .split(',')
                    .any(|option| option.trim() == "Prune=false")
            });
    if !pruned {
        return;
    }
    let topics = declared_topics(after_index, id, before);
    let mut granted_topics = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for resource in acl_resources(before) {
        match resource.kind {
            "topic" => {
                for topic in topics {
                    let matches = if resource.prefix {
                        topic.starts_with(resource.name)
                    } else {
                        resource.name == "*" || resource.name == *topic
                    };
                    if matches {
                        granted_topics.insert(topic.to_string());
                    }
                }
            }
            "group" => {
                groups.insert(resource.name.to_string());
            }
            _ => {}
        }
    }
    if granted_topics.is_empty() && groups.is_empty() {
        return;
    }
    let mut what = Vec::new();
    if !granted_topics.is_empty() {
        let names: Vec<String> = granted_topics
            .iter()
            .map(|name| format!("`{name}`"))
            .collect();
        what.push(format!("the topics {} (which stay)", names.join(", ")));
    }
    if !groups.is_empty() {
        let names: Vec<String> = groups.iter().map(|name| format!("`{name}`")).collect();
        what.push(format!("the consumer groups {}", names.join(", ")));
    }
    findings.push(Finding::new(
        REMOVED_WITH_ACLS,
        Severity::Warn,
        id,
        "spec.authorization.acls",
        format!("the KafkaUser is removed and would be pruned while its ACLs grant access to {}: the User Operator deletes the user, its credentials and its ACLs, so every client using `{}` loses access", what.join(" and "), id.name()),
        "move the clients to another user first, or keep the KafkaUser until they no longer use it",
    ));
}

fn acl_topics(
    index: &Index<'_>,
    id: &ObjectId,
    user: &Value,
    label: Label<'_>,
    findings: &mut Vec<Finding>,
) {
    let label = label.name();
    let key = (id.group(), id.namespace(), label.unwrap_or_default());
    let cluster = label.unwrap_or("its cluster");
    for resource in acl_resources(user) {
        if resource.kind != "topic" || resource.prefix || resource.name == "*" {
            continue;
        }
        // Asked only for a literal topic ACL: the side before the change groups its topics on
        // first use.
        if index.topics().declares(key, resource.name) {
            continue;
        }
        findings.push(Finding::new(
            ACL_TOPIC_UNDECLARED,
            Severity::Warn,
            id,
            &format!("spec.authorization.acls[{}].resource.name", resource.index),
            format!("the ACL names the topic `{}`, which no KafkaTopic of `{cluster}` declares: the ACL grants access to a topic that may not exist (a misspelt name grants nothing, and clients are refused on the topic they meant)", resource.name),
            "check the topic name against the KafkaTopics, or declare the topic",
        ));
    }
}

fn cluster_label_rules(
    index: &Index<'_>,
    id: &ObjectId,
    label_value: Label<'_>,
    findings: &mut Vec<Finding>,
) {
    let label = cluster_label_key(id.group());
    let path = || format!("metadata.labels['{label}']");
    match label_value {
        Label::Unreadable => {}
        Label::Missing => findings.push(Finding::new(
            CLUSTER_LABEL_MISSING,
            Severity::Block,
            id,
            &path(),
            format!("the KafkaUser has no `{label}` label: no User Operator picks it up, so the user, its credentials and its ACLs are never created"),
            format!("label it `{label}: <cluster name>` with the name of the Kafka cluster it belongs to"),
        )),
        Label::Names(name) => {
            if index.declares_clusters(id.group())
                && index
                    .find_cluster(id.group(), id.namespace(), name, EntityOperator::User)
                    .is_none()
            {
                findings.push(Finding::new(
                    CLUSTER_UNKNOWN,
                    Severity::Block,
                    id,
                    &path(),
                    format!("the label names the cluster `{name}`, which this change does not declare in the namespace `{}` (it declares other clusters): no User Operator picks the KafkaUser up", id.namespace()),
                    format!("set `{label}` to the name of one of the declared clusters, or add the cluster `{name}`"),
                ));
            }
        }
    }
}
