//! AsyncAPI rules: documents against the rendered objects after the change.
//!
//! | rule | severity | object |
//! |---|---|---|
//! | `asyncapi-document-invalid` | warn | the document |
//! | `asyncapi-ref-unresolved` | warn | the document |
//! | `asyncapi-topic-missing` | warn | the document |
//! | `asyncapi-topic-partitions-mismatch` | warn | the KafkaTopic |
//! | `asyncapi-topic-replicas-mismatch` | warn | the KafkaTopic |
//! | `asyncapi-topic-config-mismatch` | warn | the KafkaTopic |
//! | `asyncapi-topic-retention-shorter` | block when the change makes it so, else warn | the KafkaTopic |
//! | `asyncapi-topic-cleanup-policy-loses-data` | block when the change makes it so, else warn | the KafkaTopic |
//! | `asyncapi-schema-subject-mismatch` | warn | the document |
//! | `asyncapi-user-missing` | warn | the document |
//! | `asyncapi-acl-topic-missing` | warn | the KafkaUser |
//! | `asyncapi-acl-group-missing` | warn | the KafkaUser |
//!
//! Why these severities: a document is not applied to a cluster, so a broken document, a
//! document and a topic that disagree, or a missing ACL (the client fails with an authorization
//! error, nothing is lost) warn. A change that makes a topic keep less than its document promises
//! its consumers — a shorter retention (time or bytes), or a cleanup policy that deletes records
//! the documented one keeps (compaction where the document says `delete`, deletion where it
//! says only `compact`) — deletes data they rely on, and blocks; when the topic already kept that
//! little before the change, it warns, since applying the change deletes nothing new.
//!
//! A channel whose topic no KafkaTopic declares warns only when the objects after the change
//! declare topics of the channel's cluster (the servers' bootstrap host names it:
//! `<cluster>-kafka-bootstrap[.<namespace>.svc]`), or any topics when no server names a
//! cluster: the objects of one Application are often only part of a solution, and a document
//! describes all of it. A topic configuration the KafkaTopic does not set is compared with the
//! Kafka cluster's broker setting (`log.retention.ms`, ...) when the cluster is among the
//! objects, else with Kafka's default.

use std::collections::BTreeSet;

use serde_json::Value;

use super::refs::Repository;
use super::{
    document_object, document_schema_uses, read_documents, subject_files, subject_of_file, Action,
    Channel, Document, Location, Operation, ProblemKind, SchemaUse,
};
use crate::finding::{Finding, Severity};
use crate::kafka::KAFKA_GROUPS;
use crate::objects::{Change, ObjectId};

pub const DOCUMENT_INVALID: &str = "asyncapi-document-invalid";
pub const REF_UNRESOLVED: &str = "asyncapi-ref-unresolved";
pub const TOPIC_MISSING: &str = "asyncapi-topic-missing";
pub const PARTITIONS_MISMATCH: &str = "asyncapi-topic-partitions-mismatch";
pub const REPLICAS_MISMATCH: &str = "asyncapi-topic-replicas-mismatch";
pub const CONFIG_MISMATCH: &str = "asyncapi-topic-config-mismatch";
pub const RETENTION_SHORTER: &str = "asyncapi-topic-retention-shorter";
pub const CLEANUP_LOSES_DATA: &str = "asyncapi-topic-cleanup-policy-loses-data";
pub const SUBJECT_MISMATCH: &str = "asyncapi-schema-subject-mismatch";
pub const USER_MISSING: &str = "asyncapi-user-missing";
pub const ACL_TOPIC_MISSING: &str = "asyncapi-acl-topic-missing";
pub const ACL_GROUP_MISSING: &str = "asyncapi-acl-group-missing";

/// Every rule id of this module.
pub const RULES: &[&str] = &[
    DOCUMENT_INVALID,
    REF_UNRESOLVED,
    TOPIC_MISSING,
    PARTITIONS_MISMATCH,
    REPLICAS_MISMATCH,
    CONFIG_MISMATCH,
    RETENTION_SHORTER,
    CLEANUP_LOSES_DATA,
    SUBJECT_MISMATCH,
    USER_MISSING,
    ACL_TOPIC_MISSING,
    ACL_GROUP_MISSING,
];

/// The cluster a Strimzi or Event Streams object belongs to, by its label.
pub fn cluster_label(object: &Value) -> Option<&str> {
    let labels = &object["metadata"]["labels"];
    labels["strimzi.io/cluster"]
        .as_str()
        .or_else(|| labels["eventstreams.ibm.com/cluster"].as_str())
}

/// A KafkaTopic after the change.
#[derive(Clone, Debug)]
pub struct TopicInfo<'c> {
    pub id: &'c ObjectId,
    pub object: &'c Value,
    /// The topic's name in Kafka: `spec.topicName`, else `metadata.name`.
    pub name: String,
    pub cluster: Option<String>,
}

/// Whether an object of `cluster` in `namespace` belongs to one of `clusters` (any when empty;
/// a namespace on either side that is not known matches).
pub fn in_clusters(
    cluster: Option<&str>,
    namespace: &str,
    clusters: &[(String, Option<String>)],
) -> bool {
    clusters.is_empty()
        || clusters.iter().any(|(name, wanted)| {
            cluster == Some(name.as_str())
                && wanted
                    .as_ref()
                    .is_none_or(|wanted| namespace.is_empty() || namespace == wanted)
        })
}

/// The KafkaTopics after a change, by topic name.
pub struct TopicIndex<'c> {
    pub topics: Vec<TopicInfo<'c>>,
}

impl<'c> TopicIndex<'c> {
    pub fn new(change: &'c Change) -> TopicIndex<'c> {
        TopicIndex::of(change.after_of(KAFKA_GROUPS, "KafkaTopic"))
    }

    pub fn of(objects: impl Iterator<Item = (&'c ObjectId, &'c Value)>) -> TopicIndex<'c> {
        let topics = objects
            .map(|(id, object)| TopicInfo {
                id,
                object,
                name: object["spec"]["topicName"]
                    .as_str()
                    .unwrap_or(id.name())
                    .to_string(),
                cluster: cluster_label(object).map(str::to_string),
            })
            .collect();
        TopicIndex { topics }
    }

    /// The topics named `topic` of one of `clusters`.
    pub fn matching(
        &self,
        topic: &str,
        clusters: &[(String, Option<String>)],
    ) -> Vec<&TopicInfo<'c>> {
        self.topics
            .iter()
            .filter(|info| {
                info.name == topic
                    && in_clusters(info.cluster.as_deref(), info.id.namespace(), clusters)
            })
            .collect()
    }

    /// Whether any topic of one of `clusters` is declared.
    pub fn any_in(&self, clusters: &[(String, Option<String>)]) -> bool {
        self.topics
            .iter()
            .any(|info| in_clusters(info.cluster.as_deref(), info.id.namespace(), clusters))
    }
}

/// The Kafka (or EventStreams) object named `cluster` in `namespace` among `objects`.
pub fn kafka_cluster<'o>(
    objects: &'o crate::objects::Objects,
    cluster: Option<&str>,
    namespace: &str,
) -> Option<&'o Value> {
    let cluster = cluster?;
    objects
        .iter()
        .find(|(id, _)| {
            id.name() == cluster
                && id.namespace() == namespace
                && ((id.kind() == "Kafka" && id.group() == "kafka.strimzi.io")
                    || (id.kind() == "EventStreams" && id.group() == "eventstreams.ibm.com"))
        })
        .map(|(_, object)| object)
}

/// The `kafka` section of a Kafka (`spec.kafka`) or EventStreams
/// (`spec.strimziOverrides.kafka`) object.
pub fn kafka_section(cluster: &Value) -> &Value {
    if cluster["kind"] == "EventStreams" {
        &cluster["spec"]["strimziOverrides"]["kafka"]
    } else {
        &cluster["spec"]["kafka"]
    }
}

/// Runs the AsyncAPI rules.
pub fn check(change: &Change, findings: &mut Vec<Finding>) {
    if change.files_after.is_empty() {
        return;
    }
    let repository = Repository::new(&change.files_after);
    let documents = read_documents(&repository);
    for problem in &documents.problems {
        let (rule, hint) = match problem.kind {
            ProblemKind::Invalid => (
                DOCUMENT_INVALID,
                "fix the document so that it is valid AsyncAPI 2.x or 3.x (`asyncapi validate` checks it); until then it is not checked against the objects",
            ),
            ProblemKind::Unresolved => (
                REF_UNRESOLVED,
                "point the `$ref` at a file of the repository (relative to the document) and a node it has",
            ),
        };
        let path = if problem.at.file == problem.document {
            problem.at.dotted()
        } else {
            String::new()
        };
        findings.push(Finding::new(
            rule,
            Severity::Warn,
            &document_object(&problem.document),
            &path,
            problem.message.clone(),
            hint,
        ));
    }
    let topics = TopicIndex::new(change);
    let subjects = subject_files(&change.files_after);
    for document in &documents.documents {
        let rules = Rules {
            change,
            repository: &repository,
            document,
            topics: &topics,
        };
        for channel in &document.channels {
            if channel.is_kafka(document) {
                rules.channel(channel, findings);
            }
        }
        for operation in &document.operations {
            rules.acls(operation, findings);
        }
        for schema_use in document_schema_uses(document, &topics) {
            rules.subject(&schema_use, &subjects, findings);
        }
    }
}

struct Rules<'r, 'c> {
    change: &'c Change,
    repository: &'r Repository<'r>,
    document: &'r Document,
    topics: &'r TopicIndex<'c>,
}

/// A topic configuration value as text (`cleanup.policy` lists joined by commas, sorted).
fn config_text(key: &str, value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.trim().to_string(),
        Value::Number(number) => number.to_string(),
        Value::Bool(value) => value.to_string(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| config_text(key, item))
            .collect::<Vec<_>>()
            .join(","),
        _ => return None,
    };
    if key == "cleanup.policy" {
        let set: BTreeSet<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect();
        return Some(set.into_iter().collect::<Vec<_>>().join(","));
    }
    Some(text)
}

/// The broker setting a topic configuration defaults to, and Kafka's default.
fn broker_default(key: &str) -> Option<(&'static [(&'static str, i64)], &'static str)> {
    // (broker setting, multiplier to the topic's unit), Kafka's default.
    Some(match key {
        "cleanup.policy" => (&[("log.cleanup.policy", 1)], "delete"),
        "retention.ms" => (
            &[
                ("log.retention.ms", 1),
                ("log.retention.minutes", 60_000),
                ("log.retention.hours", 3_600_000),
            ],
            "604800000",
        ),
        "retention.bytes" => (&[("log.retention.bytes", 1)], "-1"),
        "delete.retention.ms" => (&[("log.cleaner.delete.retention.ms", 1)], "86400000"),
        "max.message.bytes" => (&[("message.max.bytes", 1)], "1048588"),
        "min.insync.replicas" => (&[("min.insync.replicas", 1)], "1"),
        "segment.ms" => (
            &[("log.roll.ms", 1), ("log.roll.hours", 3_600_000)],
            "604800000",
        ),
        "segment.bytes" => (&[("log.segment.bytes", 1)], "1073741824"),
        "min.compaction.lag.ms" => (&[("log.cleaner.min.compaction.lag.ms", 1)], "0"),
        "compression.type" => (&[("compression.type", 1)], "producer"),
        _ => return None,
    })
}

/// Where a topic's effective setting comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Source {
    Topic,
    Broker(&'static str),
    Default,
}

/// A topic's effective configuration value: its own, else the cluster's broker setting, else
/// Kafka's default; `None` when it sets none and no default is known.
fn effective(topic: &Value, cluster: Option<&Value>, key: &str) -> Option<(String, Source)> {
    if let Some(text) = topic["spec"]["config"]
        .get(key)
        .and_then(|value| config_text(key, value))
    {
        return Some((text, Source::Topic));
    }
    let (settings, default) = broker_default(key)?;
    if let Some(config) = cluster.map(|cluster| &kafka_section(cluster)["config"]) {
        for (setting, multiplier) in settings {
            let Some(value) = config.get(*setting) else {
                continue;
            };
            if *multiplier == 1 {
                if let Some(text) = config_text(key, value) {
                    return Some((text, Source::Broker(setting)));
                }
            } else if let Some(number) = number_of(value) {
                return Some(((number * multiplier).to_string(), Source::Broker(setting)));
            }
        }
    }
    Some((default.to_string(), Source::Default))
}

fn number_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A retention as a length (`-1` is unlimited).
fn retention(text: &str) -> Option<i64> {
    let value: i64 = text.trim().parse().ok()?;
    Some(if value < 0 { i64::MAX } else { value })
}

fn describe_source(source: &Source) -> String {
    match source {
        Source::Topic => "the KafkaTopic sets".to_string(),
        Source::Broker(setting) => {
            format!("the KafkaTopic sets none, so the cluster's `{setting}` applies:")
        }
        Source::Default => "the KafkaTopic sets none, so Kafka's default applies:".to_string(),
    }
}

impl Rules<'_, '_> {
    fn here(&self, at: &Location) -> String {
        self.repository.describe(at)
    }

    fn document_path(&self, at: &Location) -> String {
        if at.file == self.document.path {
            at.dotted()
        } else {
            String::new()
        }
    }

    fn cluster_of(
        &self,
        objects: &crate::objects::Objects,
        id: &ObjectId,
        object: &Value,
    ) -> Option<Value> {
        kafka_cluster(objects, cluster_label(object), id.namespace()).cloned()
    }

    fn channel(&self, channel: &Channel, findings: &mut Vec<Finding>) {
        let Some(topic) = channel.topic() else {
            return;
        };
        let clusters = channel.clusters(self.document);
        let matches = self.topics.matching(topic, &clusters);
        if matches.is_empty() {
            if self.topics.any_in(&clusters) {
                self.missing(channel, topic, &clusters, findings);
            }
            return;
        }
        let Some(kafka) = &channel.kafka else {
            return;
        };
        for info in matches {
            let cluster = self.cluster_of(&self.change.after, info.id, info.object);
            let before = self.change.before.get(info.id);
            let before_cluster =
                before.and_then(|before| self.cluster_of(&self.change.before, info.id, before));
            let before_effective = |key: &str| {
                before.and_then(|before| effective(before, before_cluster.as_ref(), key))
            };
            if let Some(partitions) = kafka.partitions {
                let actual = info.object["spec"]["partitions"].as_i64().or_else(|| {
                    cluster
                        .as_ref()
                        .and_then(|cluster| {
                            number_of(&kafka_section(cluster)["config"]["num.partitions"])
                        })
                        .or(Some(1))
                });
                if actual != Some(partitions) {
                    findings.push(Finding::new(
                        PARTITIONS_MISMATCH,
                        Severity::Warn,
                        info.id,
                        "spec.partitions",
                        format!(
                            "the KafkaTopic has {} partitions where `{}` documents {partitions} for channel `{}` ({}): consumers sized by the document run {} instances than there are partitions",
                            actual.map_or("?".to_string(), |actual| actual.to_string()),
                            self.document.path,
                            channel.key,
                            self.here(&kafka.at.child("partitions")),
                            if actual.unwrap_or(0) < partitions { "more" } else { "fewer" }
                        ),
                        "make the document and the KafkaTopic say the same number of partitions",
                    ));
                }
            }
            if let Some(replicas) = kafka.replicas {
                let actual = info.object["spec"]["replicas"].as_i64().or_else(|| {
                    cluster.as_ref().and_then(|cluster| {
                        number_of(&kafka_section(cluster)["config"]["default.replication.factor"])
                    })
                });
                if let Some(actual) = actual.filter(|actual| *actual != replicas) {
                    findings.push(Finding::new(
                        REPLICAS_MISMATCH,
                        Severity::Warn,
                        info.id,
                        "spec.replicas",
                        format!(
                            "the KafkaTopic has {actual} replicas where `{}` documents {replicas} for channel `{}` ({}){}",
                            self.document.path,
                            channel.key,
                            self.here(&kafka.at.child("replicas")),
                            if actual < replicas { ": the topic survives fewer broker losses than documented" } else { "" }
                        ),
                        "make the document and the KafkaTopic say the same number of replicas",
                    ));
                }
            }
            for (key, documented) in &kafka.topic_configuration {
                let Some(documented) = config_text(key, documented) else {
                    continue;
                };
                let at = kafka.at.child("topicConfiguration").child(key);
                let where_documented = self.here(&at);
                let path = crate::kafka::config_path("spec.config", key);
                let Some((actual, source)) = effective(info.object, cluster.as_ref(), key) else {
                    findings.push(Finding::new(
                        CONFIG_MISMATCH,
                        Severity::Warn,
                        info.id,
                        &path,
                        format!(
                            "`{}` documents `{key}: {documented}` for channel `{}` ({where_documented}); the KafkaTopic does not set it, so the broker's setting applies",
                            self.document.path, channel.key
                        ),
                        format!("set `{key}: {documented}` in the KafkaTopic's `spec.config`, or drop it from the document"),
                    ));
                    continue;
                };
                let unchanged = before_effective(key).is_some_and(|(before, _)| before == actual);
                let losing = if unchanged {
                    Severity::Warn
                } else {
                    Severity::Block
                };
                let state = describe_source(&source);
                if key == "cleanup.policy" {
                    let has = |text: &str, policy: &str| text.split(',').any(|part| part == policy);
                    if actual == documented {
                        continue;
                    }
                    let loses = (has(&actual, "delete") && !has(&documented, "delete"))
                        || (has(&actual, "compact") && !has(&documented, "compact"));
                    if loses {
                        let what = if has(&actual, "compact") && !has(&documented, "compact") {
                            "compaction deletes every record of a key but the latest, where consumers expect every event"
                        } else {
                            "deletion removes records past the retention, where consumers expect the latest record of every key to stay"
                        };
                        findings.push(Finding::new(
                            CLEANUP_LOSES_DATA,
                            losing,
                            info.id,
                            &path,
                            format!(
                                "{state} `cleanup.policy: {actual}` where `{}` documents `{documented}` for channel `{}` ({where_documented}): {what}{}",
                                self.document.path,
                                channel.key,
                                if unchanged { " (so it was before this change)" } else { "" }
                            ),
                            format!("set `cleanup.policy: {documented}` on the KafkaTopic, or change the document first if consumers no longer rely on it"),
                        ));
                    } else {
                        findings.push(self.config_mismatch(
                            info.id,
                            &path,
                            key,
                            &actual,
                            &documented,
                            &state,
                            channel,
                            &where_documented,
                        ));
                    }
                    continue;
                }
                if key == "retention.ms" || key == "retention.bytes" {
                    if let (Some(kept), Some(promised)) =
                        (retention(&actual), retention(&documented))
                    {
                        if kept < promised {
                            findings.push(Finding::new(
                                RETENTION_SHORTER,
                                losing,
                                info.id,
                                &path,
                                format!(
                                    "{state} `{key}: {actual}` where `{}` documents `{documented}` for channel `{}` ({where_documented}): records are deleted before consumers that replay the topic expect{}",
                                    self.document.path,
                                    channel.key,
                                    if unchanged { " (so it was before this change)" } else { "" }
                                ),
                                format!("keep `{key}` at `{documented}` or more on the KafkaTopic, or shorten it in the document first so that consumers know"),
                            ));
                            continue;
                        }
                        if kept == promised {
                            continue;
                        }
                    }
                }
                let same = match (
                    number_of(&Value::String(actual.clone())),
                    number_of(&Value::String(documented.clone())),
                ) {
                    (Some(left), Some(right)) => left == right,
                    _ => actual == documented,
                };
                if !same {
                    findings.push(self.config_mismatch(
                        info.id,
                        &path,
                        key,
                        &actual,
                        &documented,
                        &state,
                        channel,
                        &where_documented,
                    ));
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn config_mismatch(
        &self,
        id: &ObjectId,
        path: &str,
        key: &str,
        actual: &str,
        documented: &str,
        state: &str,
        channel: &Channel,
        where_documented: &str,
    ) -> Finding {
        Finding::new(
            CONFIG_MISMATCH,
            Severity::Warn,
            id,
            path,
            format!(
                "{state} `{key}: {actual}` where `{}` documents `{documented}` for channel `{}` ({where_documented})",
                self.document.path, channel.key
            ),
            "make the document and the KafkaTopic say the same",
        )
    }

    fn missing(
        &self,
        channel: &Channel,
        topic: &str,
        clusters: &[(String, Option<String>)],
        findings: &mut Vec<Finding>,
    ) {
        let cluster_text = match clusters {
            [] => String::new(),
            [(cluster, _)] => format!(" of cluster `{cluster}`"),
            _ => format!(
                " of clusters {}",
                clusters
                    .iter()
                    .map(|(cluster, _)| format!("`{cluster}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let near = self
            .topics
            .topics
            .iter()
            .find(|info| info.id.name() == topic && info.name != topic)
            .map(|info| {
                format!(
                    " (KafkaTopic `{}` is named like it but its `spec.topicName` is `{}`)",
                    info.id.name(),
                    info.name
                )
            })
            .unwrap_or_default();
        findings.push(Finding::new(
            TOPIC_MISSING,
            Severity::Warn,
            &document_object(&self.document.path),
            &self.document_path(&channel.at),
            format!(
                "{}: channel `{}` is Kafka topic `{topic}`, which no KafkaTopic{cluster_text} declares{near}: applications of the document fail to produce or consume, or the broker creates the topic with its defaults",
                self.here(&channel.at),
                channel.key
            ),
            format!("declare a KafkaTopic with `spec.topicName: {topic}`, or correct the channel's address or Kafka binding `topic`"),
        ));
    }

    fn acls(&self, operation: &Operation, findings: &mut Vec<Finding>) {
        let Some(channel) = self.document.channels.get(operation.channel) else {
            return;
        };
        if !channel.is_kafka(self.document) {
            return;
        }
        let Some(topic) = channel.topic() else {
            return;
        };
        let channel_clusters = channel.clusters(self.document);
        let matched = self.topics.matching(topic, &channel_clusters);
        // Users of the clusters the topic is declared in, else of the clusters the servers name.
        let clusters: Vec<(String, Option<String>)> = if matched.is_empty() {
            channel_clusters.clone()
        } else {
            matched
                .iter()
                .filter_map(|info| {
                    info.cluster.clone().map(|cluster| {
                        (
                            cluster,
                            Some(info.id.namespace().to_string()).filter(|ns| !ns.is_empty()),
                        )
                    })
                })
                .collect()
        };
        let users: Vec<(&ObjectId, &Value)> = self
            .change
            .after_of(KAFKA_GROUPS, "KafkaUser")
            .filter(|(id, object)| in_clusters(cluster_label(object), id.namespace(), &clusters))
            .collect();
        let (candidates, explicit) = operation.user_candidates(self.document);
        let Some(name) = candidates
            .iter()
            .find(|name| users.iter().any(|(id, _)| id.name() == *name))
        else {
            if explicit && !users.is_empty() {
                findings.push(Finding::new(
                    USER_MISSING,
                    Severity::Warn,
                    &document_object(&self.document.path),
                    &self.document_path(&operation.at),
                    format!(
                        "{}: operation `{}` runs as KafkaUser `{}`, which no KafkaUser of the topic's cluster declares: the client cannot authenticate",
                        self.here(&operation.at),
                        operation.id,
                        candidates.first().cloned().unwrap_or_default()
                    ),
                    "declare the KafkaUser, or correct `x-kafka-user`",
                ));
            }
            return;
        };
        for (id, user) in users.iter().filter(|(id, _)| id.name() == name) {
            let cluster = kafka_cluster(&self.change.after, cluster_label(user), id.namespace());
            if let Some(cluster) = cluster {
                let authorization = &kafka_section(cluster)["authorization"];
                if authorization.is_null() {
                    continue;
                }
                let super_user = authorization["superUsers"]
                    .as_array()
                    .is_some_and(|supers| {
                        supers.iter().filter_map(Value::as_str).any(|entry| {
                            entry == name.as_str()
                                || entry == format!("CN={name}")
                                || entry == format!("User:{name}")
                                || entry == format!("User:CN={name}")
                        })
                    });
                if super_user {
                    continue;
                }
            }
            let (operation_name, verb) = match operation.action {
                Action::Send => ("Write", "produce to"),
                Action::Receive => ("Read", "consume from"),
            };
            if !permits(user, "topic", topic, operation_name) {
                findings.push(Finding::new(
                    ACL_TOPIC_MISSING,
                    Severity::Warn,
                    id,
                    "spec.authorization.acls",
                    format!(
                        "operation `{}` of `{}` ({}) has KafkaUser `{name}` {verb} topic `{topic}`, but no ACL allows it `{operation_name}` on the topic: the client fails with TopicAuthorizationException",
                        operation.id,
                        self.document.path,
                        self.here(&operation.at),
                    ),
                    format!("add an ACL `{{resource: {{type: topic, name: {topic}, patternType: literal}}, operations: [{operation_name}, Describe]}}` to the KafkaUser"),
                ));
            }
            if operation.action == Action::Receive {
                for group in &operation.group_ids {
                    if !permits(user, "group", group, "Read") {
                        findings.push(Finding::new(
                            ACL_GROUP_MISSING,
                            Severity::Warn,
                            id,
                            "spec.authorization.acls",
                            format!(
                                "operation `{}` of `{}` ({}) consumes in group `{group}` as KafkaUser `{name}`, but no ACL allows it `Read` on the group: the consumer fails with GroupAuthorizationException",
                                operation.id,
                                self.document.path,
                                self.here(&operation.at),
                            ),
                            format!("add an ACL `{{resource: {{type: group, name: {group}, patternType: literal}}, operations: [Read]}}` to the KafkaUser"),
                        ));
                    }
                }
            }
        }
    }

    fn subject(
        &self,
        schema_use: &SchemaUse,
        subjects: &std::collections::BTreeMap<String, Vec<String>>,
        findings: &mut Vec<Finding>,
    ) {
        let Some(subject) = &schema_use.subject else {
            return;
        };
        let location = parse_location(&schema_use.location);
        let message_location = parse_location(&schema_use.message_location);
        let path = if location.file == self.document.path {
            self.document_path(&location)
        } else {
            self.document_path(&message_location)
        };
        let object = document_object(&self.document.path);
        let role = match schema_use.role {
            super::Role::Key => "key",
            super::Role::Value => "value",
        };
        if let Some(file) = &schema_use.file {
            if let Some(file_subject) = subject_of_file(file) {
                if &file_subject != subject {
                    findings.push(Finding::new(
                        SUBJECT_MISMATCH,
                        Severity::Warn,
                        &object,
                        &path,
                        format!(
                            "message `{}` of channel `{}` ({}) has `{file}`, the schema of subject `{file_subject}`, as its {role}, but topic `{}` registers its {role}s under subject `{subject}`: producers register the schema under `{subject}` and its compatibility is checked against another history",
                            schema_use.message,
                            schema_use.channel,
                            self.here(&message_location),
                            schema_use.topic
                        ),
                        format!("point the message at the schema of subject `{subject}`, or change the topic's subject name strategy"),
                    ));
                }
                return;
            }
        }
        let Some(files) = subjects.get(subject) else {
            return;
        };
        let Ok(schema) = self.repository.node(&location) else {
            return;
        };
        let same = files.iter().any(|file| {
            self.repository
                .node(&Location::new(file, ""))
                .is_ok_and(|other| match (&other, &schema) {
                    (Value::String(left), Value::String(right)) => left.trim() == right.trim(),
                    _ => other == schema,
                })
        });
        if !same {
            findings.push(Finding::new(
                SUBJECT_MISMATCH,
                Severity::Warn,
                &object,
                &path,
                format!(
                    "message `{}` of channel `{}` ({}) has a {role} schema that differs from `{}`, the schema of subject `{subject}`, which topic `{}` uses",
                    schema_use.message,
                    schema_use.channel,
                    self.here(&message_location),
                    files.join("`, `"),
                    schema_use.topic
                ),
                "`$ref` the subject's file from the message instead of a copy",
            ));
        }
    }
}

fn parse_location(text: &str) -> Location {
    match text.split_once('#') {
        Some((file, pointer)) => Location::new(file, pointer),
        None => Location::new(text, ""),
    }
}

/// Whether a KafkaUser's simple authorization allows `operation` on a resource (Strimzi's
/// ACL rules: `literal` names match exactly or `*`, `prefix` names match the start; `All`
/// allows every operation; a matching `deny` wins). Authorization types other than `simple`
/// are not read and allow everything.
pub fn permits(user: &Value, resource_type: &str, name: &str, operation: &str) -> bool {
    let authorization = &user["spec"]["authorization"];
    if let Some(kind) = authorization["type"].as_str() {
        if kind != "simple" {
            return true;
        }
    }
    let Some(acls) = authorization["acls"].as_array() else {
        return false;
    };
    let matches = |acl: &Value| {
        let resource = &acl["resource"];
        let type_matches = resource["type"]
            .as_str()
            .is_some_and(|kind| kind.eq_ignore_ascii_case(resource_type));
        let pattern = resource["name"].as_str().unwrap_or_default();
        let name_matches = match resource["patternType"].as_str().unwrap_or("literal") {
            "prefix" => name.starts_with(pattern),
            _ => pattern == "*" || pattern == name,
        };
        let operations: Vec<&str> = match acl["operations"].as_array() {
            Some(operations) => operations.iter().filter_map(Value::as_str).collect(),
            None => acl["operation"].as_str().into_iter().collect(),
        };
        let operation_matches = operations.iter().any(|allowed| {
            allowed.eq_ignore_ascii_case(operation) || allowed.eq_ignore_ascii_case("All")
        });
        type_matches && name_matches && operation_matches
    };
    let denied = acls
        .iter()
        .any(|acl| acl["type"].as_str() == Some("deny") && matches(acl));
    let allowed = acls
        .iter()
        .any(|acl| acl["type"].as_str() != Some("deny") && matches(acl));
    allowed && !denied
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn acls_match_as_strimzi_does() {
        let user = json!({"spec": {"authorization": {"type": "simple", "acls": [
            {"resource": {"type": "topic", "name": "items", "patternType": "literal"}, "operations": ["Read", "Describe"]},
            {"resource": {"type": "group", "name": "agg", "patternType": "prefix"}, "operations": ["Read"]},
            {"resource": {"type": "topic", "name": "out"}, "operation": "All"},
            {"resource": {"type": "topic", "name": "out"}, "operation": "Write", "type": "deny"},
        ]}}});
        assert!(permits(&user, "topic", "items", "Read"));
        assert!(!permits(&user, "topic", "items", "Write"));
        assert!(permits(&user, "group", "agg-1", "Read"));
        assert!(!permits(&user, "group", "other", "Read"));
        assert!(permits(&user, "topic", "out", "Read"));
        assert!(!permits(&user, "topic", "out", "Write"));
        assert!(permits(
            &json!({"spec": {"authorization": {"type": "opa"}}}),
            "topic",
            "x",
            "Write"
        ));
        assert!(!permits(&json!({"spec": {}}), "topic", "x", "Write"));
    }

    #[test]
    fn effective_configuration() {
        let topic = json!({"spec": {"config": {"retention.ms": 1000}}});
        let cluster = json!({"kind": "Kafka", "spec": {"kafka": {"config": {"log.retention.hours": 2, "log.cleanup.policy": "compact"}}}});
        assert_eq!(
            effective(&topic, Some(&cluster), "retention.ms"),
            Some(("1000".into(), Source::Topic))
        );
        assert_eq!(
            effective(&json!({}), Some(&cluster), "retention.ms"),
            Some(("7200000".into(), Source::Broker("log.retention.hours")))
        );
        assert_eq!(
            effective(&json!({}), None, "cleanup.policy"),
            Some(("delete".into(), Source::Default))
        );
        assert_eq!(effective(&json!({}), None, "x.unknown"), None);
        assert_eq!(
            config_text("cleanup.policy", &json!(["delete", "compact"])),
            Some("compact,delete".into())
        );
        assert_eq!(
            config_text("cleanup.policy", &json!("delete, compact")),
            Some("compact,delete".into())
        );
    }
}
