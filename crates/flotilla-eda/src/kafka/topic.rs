//! KafkaTopic rules. What a change does to a topic: partitions can only grow (a decrease is
//! refused and leaves the topic NotReady; an increase remaps keys), the replication factor
//! changes only through Cruise Control, a topic name cannot change (through `spec.topicName`,
//! or through `metadata.name` when `spec.topicName` is absent: a rename is a delete and a
//! create), a topic removed from Git is deleted with its data when pruned, retention lowered
//! deletes data. What a state must hold: a cluster label the operator reads naming a declared
//! cluster, one object per topic name, names Kafka accepts, `min.insync.replicas` and replicas
//! the cluster's brokers can satisfy.
//!
//! Topics are paired by identity (the same object before and after) and, for objects that are
//! removed or added, by the topic name they resolve to (`spec.topicName`, else `metadata.name`)
//! within their cluster: a removed object whose topic another object still declares moves the
//! topic between objects, a removed and an added object with the same spec but different names
//! are a rename.

use crate::objects::Field;
use std::collections::BTreeSet;

use foldhash::{HashMap, HashMapExt, HashSet};

use serde_json::Value;

use crate::finding::{new_findings, Finding, Severity};
use crate::kafka::{
    cluster_label, cluster_label_key, config_integer, config_path, count, describe,
    read_cluster_label_in, ClusterKey, ClusterView, EntityOperator, Index, Label, Objects,
    TopicGroups, TopicMember, KAFKA_GROUPS,
};
use crate::objects::{Change, ObjectId};

/// Partitions decreased: Kafka cannot remove partitions.
pub const PARTITIONS_DECREASED: &str = "kafka-topic-partitions-decreased";
/// Partitions increased: keys map to other partitions from now on.
pub const PARTITIONS_INCREASED: &str = "kafka-topic-partitions-increased";
/// `spec.replicas` changed on a cluster without Cruise Control (or one not in the change).
pub const REPLICAS_CHANGED: &str = "kafka-topic-replicas-changed";
/// The topic name changed: through `spec.topicName`, or a rename of `metadata.name`.
pub const NAME_CHANGED: &str = "kafka-topic-name-changed";
/// A KafkaTopic removed from Git: deleted with its data when pruned, left behind otherwise.
pub const REMOVED: &str = "kafka-topic-removed";
/// No `strimzi.io/cluster` (`eventstreams.ibm.com/cluster`) label: no operator sees the topic.
pub const CLUSTER_LABEL_MISSING: &str = "kafka-topic-cluster-label-missing";
/// The cluster label names a cluster the change does not declare.
pub const CLUSTER_UNKNOWN: &str = "kafka-topic-cluster-unknown";
/// Two objects resolve to one topic name (or to names Kafka takes for the same one).
pub const NAME_DUPLICATED: &str = "kafka-topic-name-duplicated";
/// A topic name Kafka refuses.
pub const NAME_INVALID: &str = "kafka-topic-name-invalid";
/// A topic name with both `.` and `_`: metric names collide.
pub const NAME_MIXES_PERIOD_AND_UNDERSCORE: &str = "kafka-topic-name-mixes-period-and-underscore";
/// `min.insync.replicas` above the replication factor: every acks=all write is refused.
pub const MIN_INSYNC_ABOVE_REPLICAS: &str = "kafka-topic-min-insync-above-replicas";
/// `min.insync.replicas` equal to the broker count: one broker down stops acks=all producers.
pub const MIN_INSYNC_EQUALS_BROKERS: &str = "kafka-topic-min-insync-equals-brokers";
/// `spec.replicas` above the cluster's broker count.
pub const REPLICAS_ABOVE_BROKERS: &str = "kafka-topic-replicas-above-brokers";
/// `retention.ms` or `retention.bytes` lowered: older data is deleted.
pub const RETENTION_DECREASED: &str = "kafka-topic-retention-decreased";

/// The annotation with which an object tells the Topic Operator to leave its topic alone.
const MANAGED_ANNOTATION: &str = "strimzi.io/managed";
/// Kafka's longest topic name.
const MAX_NAME_LENGTH: usize = 249;
/// Kafka's default `log.retention.hours`.
const DEFAULT_RETENTION_MS: i64 = 168 * 3_600_000;

pub(crate) fn check<'c>(
    change: &'c Change,
    before_index: &Index<'c>,
    after_index: &Index<'c>,
    findings: &mut Vec<Finding>,
) {
    let pairs = change.pairs(KAFKA_GROUPS, "KafkaTopic");
    // One pass over the topics: every rule reads a topic while it is at hand (the single-state
    // rules on the topics after the change, in identity order, and the
    // grouping by name for duplicates).
    let mut after = Vec::new();
    let mut groups = TopicGroups::with_capacity(pairs.len());
    let mut after_placer = Placer::new(after_index);
    let mut before_placer = Placer::new(before_index);
    for &(id, before, topic) in &pairs {
        let Some(topic) = topic else {
            continue;
        };
        let topic_fields = TopicFields::of(id, topic);
        let placed = after_placer.place(&topic_fields);
        check_object(after_index, &topic_fields, &placed, &mut after);
        let member = TopicMember {
            id,
            topic,
            before,
            name: topic_fields.name,
        };
        groups.add(placed.cluster_key(id), member);
        let Some(before) = before else {
            continue;
        };
        let before = TopicFields::of(id, before);
        partitions(&before, &topic_fields, findings);
        replicas_changed(&before, &topic_fields, &placed, findings);
        name_changed(&before, &topic_fields, findings);
        retention(
            &mut before_placer,
            &before,
            &topic_fields,
            &placed,
            findings,
        );
    }
    removed_and_renamed(change, &pairs, findings);
    duplicated(&groups, findings);
    // The user rules ask which topics each cluster declares after the change.
    after_index.provide_topics(groups);
    // Every rule about one state reports on the topic it reads, so what the topics flagged after
    // the change were already flagged for before is read from those topics alone.
    let mut before = Vec::new();
    let flagged: BTreeSet<&ObjectId> = after.iter().map(|finding| &finding.object).collect();
    for id in flagged {
        if let Some((id, topic)) = before_index.objects.get_key_value(id) {
            let topic = TopicFields::of(id, topic);
            let placed = before_placer.place(&topic);
            check_object(before_index, &topic, &placed, &mut before);
        }
    }
    findings.extend(new_findings(before, after));
}

/// The rules about one state of one topic (every finding is on that topic).
fn check_object(
    index: &Index<'_>,
    topic: &TopicFields<'_>,
    placed: &Placement<'_, '_>,
    findings: &mut Vec<Finding>,
) {
    cluster_label_rules(index, topic, placed, findings);
    name_rules(topic, findings);
    replication_rules(topic, placed, findings);
}

/// One side of a KafkaTopic, with what the rules read of it looked up once: the rules read
/// tens of fields of each of thousands of topics, and every lookup walks a mapping's keys.
#[derive(Clone, Copy)]
struct TopicFields<'a> {
    id: &'a ObjectId,
    metadata: &'a Value,
    spec: &'a Value,
    /// `spec.config`.
    config: &'a Value,
    label: Label<'a>,
    /// The topic name the object resolves to ([`topic_name`]).
    name: &'a str,
    /// Whether `spec.topicName` is text (a finding about the name is then about that field).
    names_topic: bool,
}

impl<'a> TopicFields<'a> {
    fn of(id: &'a ObjectId, topic: &'a Value) -> TopicFields<'a> {
        let metadata = topic.at("metadata");
        let spec = topic.at("spec");
        let topic_name = spec.at("topicName");
        TopicFields {
            id,
            metadata,
            spec,
            config: spec.at("config"),
            label: read_cluster_label_in(id.group(), metadata),
            name: topic_name
                .as_str()
                .filter(|name| !name.is_empty())
                .unwrap_or(id.name()),
            names_topic: topic_name.is_string(),
        }
    }
}

/// Where a topic is on one side of the change: what its cluster label says and the cluster
/// that label finds (by name in its namespace, or by the namespace a Topic Operator watches).
/// Read once per topic and side, as most rules need it.
struct Placement<'a, 'c> {
    label: Label<'a>,
    cluster: Option<ClusterView<'c>>,
    /// The cluster's broker count, when known.
    brokers: Option<i64>,
}

/// Places the topics of one side of the change, remembering the last cluster it looked up:
/// topics in identity order come cluster by cluster, so most lookups are the previous one's.
struct Placer<'i, 'c> {
    index: &'i Index<'c>,
    last: Option<(ClusterKey<'c>, Option<ClusterView<'c>>, Option<i64>)>,
}

impl<'i, 'c> Placer<'i, 'c> {
    fn new(index: &'i Index<'c>) -> Placer<'i, 'c> {
        Placer { index, last: None }
    }

    fn place(&mut self, topic: &TopicFields<'c>) -> Placement<'c, 'c> {
        let id = topic.id;
        let Label::Names(name) = topic.label else {
            return Placement {
                label: topic.label,
                cluster: None,
                brokers: None,
            };
        };
        let key = (id.group(), id.namespace(), name);
        let (cluster, brokers) = match self.last {
            Some((last_key, cluster, brokers)) if last_key == key => (cluster, brokers),
            _ => {
                let cluster = self
                    .index
                    .find_cluster(key.0, key.1, name, EntityOperator::Topic);
                let brokers = cluster.and_then(|cluster| self.index.broker_count(&cluster));
                self.last = Some((key, cluster, brokers));
                (cluster, brokers)
            }
        };
        Placement {
            label: topic.label,
            cluster,
            brokers,
        }
    }
}

impl<'a, 'c> Placement<'a, 'c> {
    /// The cluster label's value (`None` when missing, empty or not text).
    fn label_name(&self) -> Option<&'a str> {
        self.label.name()
    }

    /// The topic's group, namespace and cluster label (see [`cluster_key`]).
    fn cluster_key<'k>(&self, id: &'k ObjectId) -> ClusterKey<'k>
    where
        'a: 'k,
    {
        (
            id.group(),
            id.namespace(),
            self.label_name().unwrap_or_default(),
        )
    }
}

fn topics(objects: &Objects) -> impl Iterator<Item = (&ObjectId, &Value)> {
    crate::objects::of_kinds(objects, KAFKA_GROUPS, &["KafkaTopic"])
}

/// The topic name an object resolves to: `spec.topicName`, else `metadata.name`.
pub fn topic_name<'a>(id: &'a ObjectId, topic: &'a Value) -> &'a str {
    topic
        .at("spec")
        .at("topicName")
        .as_str()
        .filter(|name| !name.is_empty())
        .unwrap_or(id.name())
}

/// The topics of a change, paired (`Change::pairs`).
type Pairs<'a> = [(&'a ObjectId, Option<&'a Value>, Option<&'a Value>)];

/// Where an object's topic lives: its group, namespace and cluster label (the Topic Operator
/// of that cluster owns every topic with that key and name).
fn cluster_key<'a>(id: &'a ObjectId, topic: &'a Value) -> ClusterKey<'a> {
    (
        id.group(),
        id.namespace(),
        cluster_label(id, topic).unwrap_or_default(),
    )
}

fn partitions(before: &TopicFields<'_>, after: &TopicFields<'_>, findings: &mut Vec<Finding>) {
    let id = after.id;
    let (Some(old), Some(new)) = (
        count(before.spec.at("partitions")),
        count(after.spec.at("partitions")),
    ) else {
        return;
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

fn replicas_changed(
    before: &TopicFields<'_>,
    after: &TopicFields<'_>,
    placed: &Placement<'_, '_>,
    findings: &mut Vec<Finding>,
) {
    let id = after.id;
    let (Some(old), Some(new)) = (
        count(before.spec.at("replicas")),
        count(after.spec.at("replicas")),
    ) else {
        return;
    };
    if old == new {
        return;
    }
    let hint = format!("enable Cruise Control on the cluster (`spec.cruiseControl`) so the Topic Operator changes the replication factor through it (Strimzi's replication-factor change), or keep {old} replicas");
    let message = match placed.label_name() {
        Some(name) => match placed.cluster {
            Some(cluster) if cluster.has_cruise_control() => return,
            Some(cluster) => format!(
                "replicas changed from {old} to {new} and {} runs no Cruise Control: the Topic Operator changes a replication factor only through Cruise Control, so it refuses the change and the topic stays NotReady",
                describe(&cluster)
            ),
            None => format!(
                "replicas changed from {old} to {new}, and the cluster `{name}` is not in this change, so whether it runs Cruise Control is unknown: without it the Topic Operator refuses the change and the topic stays NotReady"
            ),
        },
        None => format!(
            "replicas changed from {old} to {new} on a topic that names no cluster: whether its cluster runs Cruise Control is unknown, and without it the Topic Operator refuses the change"
        ),
    };
    findings.push(Finding::new(
        REPLICAS_CHANGED,
        Severity::Block,
        id,
        "spec.replicas",
        message,
        hint,
    ));
}

fn name_changed(before: &TopicFields<'_>, after: &TopicFields<'_>, findings: &mut Vec<Finding>) {
    let (id, old, new) = (after.id, before.name, after.name);
    if old == new {
        return;
    }
    findings.push(Finding::new(
        NAME_CHANGED,
        Severity::Block,
        id,
        "spec.topicName",
        format!("the topic name changes from `{old}` to `{new}`: a Kafka topic cannot be renamed, so the Topic Operator refuses the change (NotSupported) and the KafkaTopic stays NotReady; done by hand it is a delete of `{old}` with its data and a create of an empty `{new}`"),
        format!("keep the topic `{old}` (`spec.topicName: {old}`), and declare `{new}` as a new KafkaTopic if producers and consumers are to move to it"),
    ));
}

/// Whether the Topic Operator leaves this object's topic alone (`strimzi.io/managed: "false"`):
/// deleting the object then keeps the topic.
fn unmanaged(topic: &Value) -> bool {
    topic
        .at("metadata")
        .at("annotations")
        .at(MANAGED_ANNOTATION)
        .as_str()
        == Some("false")
}

/// Whether Argo CD's per-object sync option keeps the object when pruning.
fn prune_disabled(object: &Value) -> bool {
    object
        .at("metadata")
        .at("annotations")
        .at("argocd.argoproj.io/sync-options")
        .as_str()
        .is_some_and(|options| {
            options
                .split(',')
                .any(|option| option.trim() == "Prune=false")
        })
}

/// The spec without its topic name, to recognise a rename.
fn spec_without_name(topic: &Value) -> Value {
    let mut spec = topic.at("spec").clone();
    if let Some(object) = spec.as_object_mut() {
        object.remove("topicName");
    }
    spec
}

fn removed_and_renamed(change: &Change, pairs: &Pairs<'_>, findings: &mut Vec<Finding>) {
    let removed: Vec<(&ObjectId, &Value)> = pairs
        .iter()
        .filter_map(|&(id, before, after)| match (before, after) {
            (Some(before), None) => Some((id, before)),
            _ => None,
        })
        .collect();
    if removed.is_empty() {
        return;
    }
    let added: Vec<(&ObjectId, &Value)> = pairs
        .iter()
        .filter_map(|&(id, before, after)| match (before, after) {
            (None, Some(after)) => Some((id, after)),
            _ => None,
        })
        .collect();
    // Topic names each cluster declares before and after the change.
    let declared_before: HashSet<(ClusterKey<'_>, &str)> = topics(&change.before)
        .map(|(id, topic)| (cluster_key(id, topic), topic_name(id, topic)))
        .collect();
    // The first object after the change declaring each topic of each cluster.
    let mut declared_after: HashMap<(ClusterKey<'_>, &str), &ObjectId> = HashMap::new();
    for (other, other_topic) in topics(&change.after) {
        declared_after
            .entry((
                cluster_key(other, other_topic),
                topic_name(other, other_topic),
            ))
            .or_insert(other);
    }
    for (id, topic) in removed {
        let name = topic_name(id, topic);
        let key = cluster_key(id, topic);
        let pruned = change.prune && !prune_disabled(topic);
        // Another object keeps declaring the topic: it moves between objects.
        if let Some(other) = declared_after.get(&(key, name)) {
            if unmanaged(topic) {
                continue;
            }
            let (severity, message) = if pruned {
                (Severity::Block, format!("the topic `{name}` moves from this KafkaTopic to {other}: pruning this one makes the Topic Operator delete `{name}` and its data, and {other} then creates it again empty"))
            } else {
                (Severity::Warn, format!("the topic `{name}` moves from this KafkaTopic to {other}, and this one stays in the cluster (no prune, OutOfSync): two KafkaTopics for one topic, the newer one NotReady"))
            };
            findings.push(Finding::new(
                REMOVED,
                severity,
                id,
                "",
                message,
                format!("first annotate this KafkaTopic `{MANAGED_ANNOTATION}: \"false\"` and sync, then remove it: the Topic Operator keeps `{name}` and {other} takes it over"),
            ));
            continue;
        }
        // An added object with the same spec under another name: a rename of metadata.name.
        let renamed: Vec<&(&ObjectId, &Value)> = added
            .iter()
            .filter(|(other, other_topic)| {
                cluster_key(other, other_topic) == key
                    && !declared_before.contains(&(key, topic_name(other, other_topic)))
                    && spec_without_name(other_topic) == spec_without_name(topic)
            })
            .collect();
        if let [(other, other_topic)] = renamed.as_slice() {
            if !unmanaged(topic) {
                let new_name = topic_name(other, other_topic);
                let what = if pruned {
                    format!("pruning {id} makes the Topic Operator delete `{name}` and its data")
                } else {
                    format!("{id} stays in the cluster (no prune, OutOfSync) with `{name}`")
                };
                findings.push(Finding::new(
                    NAME_CHANGED,
                    Severity::Block,
                    other,
                    "metadata.name",
                    format!("this KafkaTopic replaces {id} with the same spec, renaming the topic from `{name}` to `{new_name}`: a Kafka topic cannot be renamed, so this is a delete and a create: an empty `{new_name}` is created and {what}"),
                    format!("keep the topic name with `spec.topicName: {name}` on the renamed object (and annotate the old one `{MANAGED_ANNOTATION}: \"false\"` before removing it), or keep the old object and add `{new_name}` as a new topic"),
                ));
                continue;
            }
        }
        if unmanaged(topic) {
            continue;
        }
        if pruned {
            findings.push(Finding::new(
                REMOVED,
                Severity::Block,
                id,
                "",
                format!("the KafkaTopic is removed from Git and would be pruned: the Topic Operator then deletes the topic `{name}` and every record in it, and producers and consumers of `{name}` fail"),
                format!("keep the KafkaTopic; to stop managing the topic without deleting it, annotate it `{MANAGED_ANNOTATION}: \"false\"` and sync before removing it; to delete it on purpose, override this rule"),
            ));
        } else {
            findings.push(Finding::new(
                REMOVED,
                Severity::Warn,
                id,
                "",
                format!("the KafkaTopic is removed from Git but not pruned: the topic `{name}` and the KafkaTopic stay in the cluster, OutOfSync, until someone prunes them, which then deletes the topic and its data"),
                format!("keep the KafkaTopic in Git, or annotate it `{MANAGED_ANNOTATION}: \"false\"` first so a later prune keeps the topic"),
            ));
        }
    }
}

fn duplicated(groups: &TopicGroups<'_>, findings: &mut Vec<Finding>) {
    // Objects added, or whose resolved name or cluster changed, are the change's doing.
    let is_new = |member: &TopicMember<'_>| match member.before {
        Some(before) => {
            topic_name(member.id, before) != member.name
                || cluster_key(member.id, before) != cluster_key(member.id, member.topic)
        }
        None => true,
    };
    for (first, rest) in groups.collisions() {
        let members: Vec<&TopicMember<'_>> = std::iter::once(first).chain(rest).collect();
        for member in members.iter().filter(|member| is_new(member)) {
            let (id, name) = (member.id, member.name);
            let others: Vec<String> = members
                .iter()
                .filter(|other| other.id != id)
                .map(|other| {
                    if other.name == name {
                        other.id.to_string()
                    } else {
                        format!("{} (`{}`)", other.id, other.name)
                    }
                })
                .collect();
            let exact = members
                .iter()
                .any(|other| other.id != id && other.name == name);
            let message = if exact {
                format!("the topic `{name}` is also declared by {}: the Topic Operator manages a topic from one KafkaTopic (the oldest) and sets the others NotReady, so which spec applies depends on creation order", others.join(", "))
            } else {
                format!("the topic `{name}` collides with {}: Kafka treats `.` and `_` alike in metric names and refuses to create a topic that collides with an existing one", others.join(", "))
            };
            findings.push(Finding::new(
                NAME_DUPLICATED,
                Severity::Block,
                id,
                "spec.topicName",
                message,
                "declare each topic once: remove the duplicate, or give it a distinct name",
            ));
        }
    }
}

fn cluster_label_rules(
    index: &Index<'_>,
    topic: &TopicFields<'_>,
    placed: &Placement<'_, '_>,
    findings: &mut Vec<Finding>,
) {
    let id = topic.id;
    let label = cluster_label_key(id.group());
    let path = || format!("metadata.labels['{label}']");
    match placed.label {
        Label::Unreadable => {}
        Label::Missing => {
            let other = if label == crate::kafka::STRIMZI_CLUSTER_LABEL {
                crate::kafka::EVENT_STREAMS_CLUSTER_LABEL
            } else {
                crate::kafka::STRIMZI_CLUSTER_LABEL
            };
            let extra = if topic.metadata.at("labels").at(other).is_string() {
                format!(
                    " (it has `{other}`, which the operator of `{}` does not read)",
                    id.group()
                )
            } else {
                String::new()
            };
            findings.push(Finding::new(
                CLUSTER_LABEL_MISSING,
                Severity::Block,
                id,
                &path(),
                format!("the KafkaTopic has no `{label}` label{extra}: no Topic Operator picks it up, so the topic `{}` is never created and the KafkaTopic never becomes Ready", topic.name),
                format!("label it `{label}: <cluster name>` with the name of the Kafka cluster that should hold it"),
            ));
        }
        Label::Names(name) => {
            if index.declares_clusters(id.group()) && placed.cluster.is_none() {
                findings.push(Finding::new(
                    CLUSTER_UNKNOWN,
                    Severity::Block,
                    id,
                    &path(),
                    format!("the label names the cluster `{name}`, which this change does not declare in the namespace `{}` (it declares other clusters): no Topic Operator picks the KafkaTopic up and the topic is never created", id.namespace()),
                    format!("set `{label}` to the name of one of the declared clusters, or add the cluster `{name}`"),
                ));
            }
        }
    }
}

/// Why Kafka refuses a topic name, if it does (Kafka's `Topic.validate`).
pub fn invalid_name_reason(name: &str) -> Option<String> {
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-');
    // Most names are valid: told apart without decoding characters.
    if !name.is_empty()
        && name.len() <= MAX_NAME_LENGTH
        && name != "."
        && name != ".."
        && name.bytes().all(allowed)
    {
        return None;
    }
    if name.is_empty() {
        return Some("it is empty".to_string());
    }
    if name == "." || name == ".." {
        return Some(format!("`{name}` is reserved"));
    }
    if name.len() > MAX_NAME_LENGTH {
        return Some(format!(
            "it has {} characters, more than Kafka's {MAX_NAME_LENGTH}",
            name.chars().count()
        ));
    }
    let bad: BTreeSet<char> = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .collect();
    if !bad.is_empty() {
        let listed: Vec<String> = bad.iter().map(|c| format!("{c:?}")).collect();
        return Some(format!(
            "it contains {} (Kafka allows only ASCII letters, digits, `.`, `_` and `-`)",
            listed.join(", ")
        ));
    }
    None
}

fn name_rules(topic: &TopicFields<'_>, findings: &mut Vec<Finding>) {
    let (id, name) = (topic.id, topic.name);
    let path = if topic.names_topic {
        "spec.topicName"
    } else {
        "metadata.name"
    };
    if let Some(reason) = invalid_name_reason(name) {
        let shown: String = name.chars().take(60).collect();
        let shown = if shown.len() < name.len() {
            format!("{shown}…")
        } else {
            shown
        };
        findings.push(Finding::new(
            NAME_INVALID,
            Severity::Block,
            id,
            path,
            format!("Kafka refuses the topic name `{shown}`: {reason}; the topic is never created and the KafkaTopic stays NotReady"),
            "name the topic with at most 249 ASCII letters, digits, `.`, `_` or `-` (not `.` or `..`), in `spec.topicName` when `metadata.name` cannot hold it",
        ));
    } else if name.contains('.') && name.contains('_') {
        findings.push(Finding::new(
            NAME_MIXES_PERIOD_AND_UNDERSCORE,
            Severity::Warn,
            id,
            path,
            format!("the topic name `{name}` mixes `.` and `_`: Kafka's metric names treat them alike, so its metrics can collide with another topic's and Kafka refuses a later topic whose name differs only there"),
            "use either `.` or `_` in topic names, not both",
        ));
    }
}

fn replication_rules(
    topic: &TopicFields<'_>,
    placed: &Placement<'_, '_>,
    findings: &mut Vec<Finding>,
) {
    let id = topic.id;
    let cluster = placed.cluster;
    let topic_replicas = count(topic.spec.at("replicas"));
    let topic_min_insync = config_integer(topic.config.at("min.insync.replicas"))
        .filter(|min_insync| *min_insync >= 1);
    let cluster_config = cluster.map(|cluster| cluster.config());
    let replicas = topic_replicas.or_else(|| {
        cluster_config.and_then(|config| config_integer(config.at("default.replication.factor")))
    });
    let min_insync = topic_min_insync.or_else(|| {
        cluster_config.and_then(|config| config_integer(config.at("min.insync.replicas")))
    });
    let brokers = placed.brokers;

    if let (Some(replicas), Some(brokers), Some(cluster)) = (topic_replicas, brokers, cluster) {
        if replicas > brokers {
            findings.push(Finding::new(
                REPLICAS_ABOVE_BROKERS,
                Severity::Block,
                id,
                "spec.replicas",
                format!("the topic asks for {replicas} replicas but {} has {brokers} brokers: Kafka refuses to create it (InvalidReplicationFactor) and the KafkaTopic stays NotReady", describe(&cluster)),
                format!("lower `spec.replicas` to at most {brokers}, or add brokers to the cluster first"),
            ));
        }
    }
    // Only about topics that set one of the two themselves: cluster defaults are the
    // cluster's rules.
    if topic_replicas.is_none() && topic_min_insync.is_none() {
        return;
    }
    let (Some(min_insync), Some(replicas)) = (min_insync, replicas) else {
        return;
    };
    // Built only for a finding: most topics have none.
    let path = || {
        if topic_min_insync.is_some() {
            config_path("spec.config", "min.insync.replicas")
        } else {
            "spec.replicas".to_string()
        }
    };
    if min_insync > replicas {
        findings.push(Finding::new(
            MIN_INSYNC_ABOVE_REPLICAS,
            Severity::Block,
            id,
            &path(),
            format!("min.insync.replicas is {min_insync} but the topic has {replicas} replicas: no write with acks=all can ever reach {min_insync} in-sync replicas, so every such produce request fails (NotEnoughReplicas)"),
            format!("set min.insync.replicas to at most {replicas} (usually replicas − 1), or raise the replicas"),
        ));
    } else if let (Some(brokers), Some(cluster)) = (brokers, cluster) {
        if min_insync == brokers && brokers > 0 {
            findings.push(Finding::new(
                MIN_INSYNC_EQUALS_BROKERS,
                Severity::Warn,
                id,
                &path(),
                format!("min.insync.replicas is {min_insync}, the number of brokers of {}: with one broker down (a failure, or each step of a rolling update) producers with acks=all fail, and Strimzi's rolling update waits rather than take a broker down", describe(&cluster)),
                format!("set min.insync.replicas below {brokers} (with {brokers} replicas, {} tolerates one broker down), or add brokers", brokers - 1),
            ));
        }
    }
}

/// A topic's effective retention: its own setting, else the cluster's broker default, else
/// Kafka's default; `None` for no limit (`-1`).
fn effective_retention(
    topic: &TopicFields<'_>,
    placed: &Placement<'_, '_>,
    key: &str,
) -> Option<i64> {
    let limit = |value: i64| if value < 0 { None } else { Some(value) };
    if let Some(value) = config_integer(topic.config.at(key)) {
        return limit(value);
    }
    let cluster = placed.cluster;
    let config = cluster
        .map(|cluster| cluster.config())
        .unwrap_or(&Value::Null);
    if key == "retention.ms" {
        if let Some(value) = config_integer(config.at("log.retention.ms")) {
            return limit(value);
        }
        if let Some(value) = config_integer(config.at("log.retention.minutes")) {
            return limit(value).map(|minutes| minutes.saturating_mul(60_000));
        }
        if let Some(value) = config_integer(config.at("log.retention.hours")) {
            return limit(value).map(|hours| hours.saturating_mul(3_600_000));
        }
        return Some(DEFAULT_RETENTION_MS);
    }
    config_integer(config.at("log.retention.bytes")).and_then(limit)
}

/// Whether a topic only compacts (retention does not delete its records).
fn compact_only(topic: &TopicFields<'_>) -> bool {
    topic
        .config
        .at("cleanup.policy")
        .as_str()
        .is_some_and(|policy| {
            let policies: Vec<&str> = policy.split(',').map(str::trim).collect();
            policies.contains(&"compact") && !policies.contains(&"delete")
        })
}

fn retention<'c>(
    before_placer: &mut Placer<'_, 'c>,
    before: &TopicFields<'c>,
    after: &TopicFields<'c>,
    placed_after: &Placement<'_, '_>,
    findings: &mut Vec<Finding>,
) {
    let id = after.id;
    if compact_only(after) {
        return;
    }
    // Where the topic was before is read only when a retention setting is there to compare.
    let mut placed_before = None;
    for key in ["retention.ms", "retention.bytes"] {
        // Only when the topic sets it on one side: a cluster default changed is the cluster's.
        if before.config.at(key).is_null() && after.config.at(key).is_null() {
            continue;
        }
        let (old, new) = (
            effective_retention(
                before,
                placed_before.get_or_insert_with(|| before_placer.place(before)),
                key,
            ),
            effective_retention(after, placed_after, key),
        );
        let lowered = match (old, new) {
            (None, Some(_)) => true,
            (Some(old), Some(new)) => new < old,
            _ => false,
        };
        if !lowered {
            continue;
        }
        let show = |value: Option<i64>| match (key, value) {
            (_, None) => "unlimited".to_string(),
            ("retention.ms", Some(ms)) => human_duration(ms),
            (_, Some(bytes)) => human_bytes(bytes),
        };
        let (old, new) = (show(old), show(new));
        let what = if key == "retention.ms" {
            format!("records older than {new} are deleted at the next retention check, read by consumers or not")
        } else {
            format!("the oldest log segments of each partition beyond {new} are deleted at the next retention check, read by consumers or not")
        };
        findings.push(Finding::new(
            RETENTION_DECREASED,
            Severity::Warn,
            id,
            &config_path("spec.config", key),
            format!("{key} lowered from {old} to {new}: {what}"),
            "make sure no consumer or replay needs the older data (lagging consumers, reprocessing), or keep the retention",
        ));
    }
}

/// A duration in milliseconds for a message (`7 days`, `36 hours`, `1500 ms`).
pub fn human_duration(ms: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (86_400_000, "day"),
        (3_600_000, "hour"),
        (60_000, "minute"),
        (1_000, "second"),
    ];
    for (size, unit) in UNITS {
        if ms >= size && ms % size == 0 {
            let count = ms / size;
            return format!("{count} {unit}{}", if count == 1 { "" } else { "s" });
        }
    }
    format!("{ms} ms")
}

/// A size in bytes for a message (`10 GiB`, `1500 bytes`).
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (size, unit) in UNITS {
        if bytes >= size && bytes % size == 0 {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::collision_name;

    #[test]
    fn topic_names_are_validated_as_kafka_does() {
        assert!(invalid_name_reason("orders.v1").is_none());
        assert!(invalid_name_reason("Orders_V1-x").is_none());
        assert!(invalid_name_reason(".").is_some());
        assert!(invalid_name_reason("..").is_some());
        assert!(invalid_name_reason("...").is_none());
        assert!(invalid_name_reason("").is_some());
        assert!(invalid_name_reason(&"a".repeat(249)).is_none());
        assert!(invalid_name_reason(&"a".repeat(250)).is_some());
        let reason = invalid_name_reason("orders/eu é").expect("invalid");
        assert!(
            reason.contains("'/'") && reason.contains("' '") && reason.contains("'é'"),
            "{reason}"
        );
    }

    #[test]
    fn durations_and_sizes_read_well() {
        assert_eq!(human_duration(604_800_000), "7 days");
        assert_eq!(human_duration(3_600_000), "1 hour");
        assert_eq!(human_duration(129_600_000), "36 hours");
        assert_eq!(human_duration(1_500), "1500 ms");
        assert_eq!(human_bytes(10 * (1 << 30)), "10 GiB");
        assert_eq!(human_bytes(1_500), "1500 bytes");
    }

    #[test]
    fn collisions_treat_period_and_underscore_alike() {
        assert_eq!(collision_name("a.b_c"), collision_name("a_b.c"));
    }
}
