//! Kafka rules, for `kafka.strimzi.io` (v1beta2 and v1) and `eventstreams.ibm.com`: topics
//! (`topic.rs`), clusters and node pools (`cluster.rs`, storage in `storage.rs`), users
//! (`user.rs`). Each rule module has a `check` for what a change does (a
//! partition count lowered, a topic removed) and, where it has rules about one state (a listener
//! port Kafka refuses), a `check_state(index, findings)` that `check` runs on the objects
//! after and before the change, keeping only what the change brings (`finding::new_findings`),
//! so an object already wrong in the cluster does not block every later change (topics and users
//! run theirs on the objects after the change in the same pass as the rules about the change, and
//! before it only on the objects flagged after it). Rule ids are
//! constants, so documentation, tests and overrides use the same strings.
//!
//! This module holds what the rules share: the API groups, the cluster label, a view of a Kafka
//! cluster whether it is a Strimzi `Kafka` or an `EventStreams` (which wraps a `Kafka` spec
//! under `spec.strimziOverrides`), an `Index` of each side of the change (clusters by name and
//! watched namespace, node pools, broker counts, topics by cluster and name: built once, so the
//! rules stay near-linear in the number of objects), and readers for untyped fields (a field of
//! the wrong type reads as absent: the CRD schema refuses it, the rules skip it).

pub mod cluster;
pub mod storage;
pub mod topic;
pub mod user;

use crate::objects::Field;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::hash_map::Entry;

use foldhash::{HashMap, HashMapExt};

use serde_json::Value;

use crate::finding::Finding;
use crate::objects::{Change, ObjectId};

/// The API groups that serve Strimzi's kinds.
pub const KAFKA_GROUPS: &[&str] = &[STRIMZI_GROUP, EVENT_STREAMS_GROUP];
/// Strimzi's API group.
pub const STRIMZI_GROUP: &str = "kafka.strimzi.io";
/// IBM Event Streams' API group (Strimzi's kinds, and `EventStreams`).
pub const EVENT_STREAMS_GROUP: &str = "eventstreams.ibm.com";
/// The label naming the cluster of a Strimzi topic, user or node pool.
pub const STRIMZI_CLUSTER_LABEL: &str = "strimzi.io/cluster";
/// The label naming the cluster of an Event Streams topic, user or node pool.
pub const EVENT_STREAMS_CLUSTER_LABEL: &str = "eventstreams.ibm.com/cluster";

pub use crate::objects::Objects;

/// Runs every Kafka rule.
pub fn check(change: &Change, findings: &mut Vec<Finding>) {
    let before = Index::new(&change.before);
    let after = Index::new(&change.after);
    topic::check(change, &before, &after, findings);
    cluster::check(change, &before, &after, findings);
    user::check(change, &before, &after, findings);
}

/// An integer field, when it is one (rules skip fields of the wrong type: the schema refuses
/// them).
pub(crate) fn integer(value: &Value) -> Option<i64> {
    value.as_i64()
}

/// A count that must be at least 1 (partitions, replicas): other values (0, negative, another
/// type) read as absent, as the CRD schema refuses them.
pub(crate) fn count(value: &Value) -> Option<i64> {
    integer(value).filter(|count| *count >= 1)
}

/// A Kafka configuration value read as an integer: config maps are free-form, so `"2"` and `2`
/// are both read (Strimzi passes either to Kafka as text).
pub(crate) fn config_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A scalar field as text (`3.9`, written unquoted, is a number in YAML).
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// The strings of a list field (other items skipped).
pub(crate) fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The label an object of `group` names its cluster with.
pub fn cluster_label_key(group: &str) -> &'static str {
    if group == EVENT_STREAMS_GROUP {
        EVENT_STREAMS_CLUSTER_LABEL
    } else {
        STRIMZI_CLUSTER_LABEL
    }
}

/// The cluster an object's label names (`None` when the label is missing, empty or not text).
pub(crate) fn cluster_label<'a>(id: &ObjectId, object: &'a Value) -> Option<&'a str> {
    read_cluster_label(id, object).name()
}

/// What an object's cluster label says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Label<'a> {
    /// No label (or an empty one): no operator picks the object up.
    Missing,
    /// Labels or the label of another type than text: the API server refuses the object.
    Unreadable,
    Names(&'a str),
}

impl<'a> Label<'a> {
    /// The cluster named (`None` when the label is missing, empty or not text).
    pub fn name(self) -> Option<&'a str> {
        match self {
            Label::Names(name) => Some(name),
            Label::Missing | Label::Unreadable => None,
        }
    }
}

/// Reads an object's cluster label, telling a missing label from one of the wrong type.
pub(crate) fn read_cluster_label<'a>(id: &ObjectId, object: &'a Value) -> Label<'a> {
    read_cluster_label_in(id.group(), object.at("metadata"))
}

/// [`read_cluster_label`] from an object's `metadata`, for an object of `group`.
pub(crate) fn read_cluster_label_in<'a>(group: &str, metadata: &'a Value) -> Label<'a> {
    let labels = metadata.at("labels");
    if labels.is_null() {
        return Label::Missing;
    }
    if !labels.is_object() {
        return Label::Unreadable;
    }
    match labels.at(cluster_label_key(group)) {
        Value::Null => Label::Missing,
        Value::String(name) if name.is_empty() => Label::Missing,
        Value::String(name) => Label::Names(name),
        _ => Label::Unreadable,
    }
}

/// A Kafka cluster as the rules see it: a Strimzi `Kafka` (either group) or an `EventStreams`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClusterView<'a> {
    pub id: &'a ObjectId,
    pub object: &'a Value,
    /// Where the Strimzi `Kafka` spec is: `spec`, or `spec.strimziOverrides` of an EventStreams.
    pub root: &'a Value,
    /// That place as a finding's path.
    pub root_path: &'static str,
    /// The broker configuration, read once (every topic's rules read the cluster's defaults).
    config: &'a Value,
}

impl<'a> ClusterView<'a> {
    /// The cluster view of an object, when it is a Kafka or an EventStreams.
    pub fn of(id: &'a ObjectId, object: &'a Value) -> Option<ClusterView<'a>> {
        if !KAFKA_GROUPS.contains(&id.group()) {
            return None;
        }
        let (root, root_path) = match id.kind() {
            "Kafka" => (object.at("spec"), "spec"),
            "EventStreams" if id.group() == EVENT_STREAMS_GROUP => (
                object.at("spec").at("strimziOverrides"),
                "spec.strimziOverrides",
            ),
            _ => return None,
        };
        Some(ClusterView {
            id,
            object,
            root,
            root_path,
            config: root.at("kafka").at("config"),
        })
    }

    /// `spec.kafka` (or `spec.strimziOverrides.kafka`).
    pub fn kafka(&self) -> &'a Value {
        self.root.at("kafka")
    }

    /// The path of a field under the Kafka spec (`spec.kafka.version`).
    pub fn kafka_path(&self, field: &str) -> String {
        format!("{}.kafka.{field}", self.root_path)
    }

    /// The broker configuration (`spec.kafka.config`).
    pub fn config(&self) -> &'a Value {
        self.config
    }

    /// Whether Cruise Control is deployed (`spec.cruiseControl` present, `{}` included).
    pub fn has_cruise_control(&self) -> bool {
        self.root.at("cruiseControl").is_object()
    }

    /// Whether Strimzi runs this cluster's nodes from node pools: always for `v1` and for
    /// Event Streams with `nodePools`; for `v1beta2` when annotated
    /// `strimzi.io/node-pools: enabled` (Strimzi ignores pools otherwise) or when
    /// `spec.kafka.replicas` is absent.
    fn node_pools_enabled(&self) -> bool {
        let api_version = self.object.at("apiVersion").as_str().unwrap_or_default();
        api_version.ends_with("/v1")
            || self
                .object
                .at("metadata")
                .at("annotations")
                .at("strimzi.io/node-pools")
                .as_str()
                == Some("enabled")
            || self.kafka().at("replicas").is_null()
            || self.id.kind() == "EventStreams" && self.root.at("nodePools").is_array()
    }
}

/// A node pool: a `KafkaNodePool` object labelled for a cluster, or an entry of an
/// EventStreams' `spec.strimziOverrides.nodePools`.
#[derive(Clone, Debug)]
pub(crate) struct Pool<'a> {
    /// The object findings about the pool are on.
    pub owner: &'a ObjectId,
    /// The pool's name (the KafkaNodePool's name, or the entry's `name`).
    pub name: String,
    /// Where the pool's spec is, as a finding's path (`spec`, `spec.strimziOverrides.nodePools[0]`).
    pub path: String,
    pub spec: &'a Value,
}

impl Pool<'_> {
    pub fn roles(&self) -> Vec<&str> {
        strings(self.spec.at("roles"))
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles().contains(&role)
    }

    pub fn replicas(&self) -> Option<i64> {
        integer(self.spec.at("replicas")).filter(|replicas| *replicas >= 0)
    }
}

/// Whether an EventStreams' inline node pools can all be read (objects with a name): pools are
/// compared across a change only then, so a malformed list does not read as pools removed.
pub(crate) fn inline_pools_readable(cluster: &ClusterView<'_>) -> bool {
    match &cluster.root.at("nodePools") {
        Value::Null => true,
        Value::Array(entries) => entries.iter().all(|entry| entry.at("name").is_string()),
        _ => false,
    }
}

/// Which entity operator watches for an object: the Topic Operator for topics, the User
/// Operator for users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum EntityOperator {
    Topic,
    User,
}

/// The Kafka objects of one side of a change, indexed once so that rules over thousands of
/// topics and users look clusters, node pools, broker counts and topics by cluster and name up
/// instead of scanning every object for each.
pub(crate) struct Index<'a> {
    pub objects: &'a Objects,
    clusters: Vec<ClusterView<'a>>,
    /// (group, namespace, name) → the first cluster with that identity.
    by_name: HashMap<(&'a str, &'a str, &'a str), usize>,
    /// (operator, group, watched namespace, name) → the first cluster whose entity operator
    /// watches that namespace.
    by_watched: HashMap<(EntityOperator, &'a str, &'a str, &'a str), usize>,
    /// (namespace, cluster label) → the KafkaNodePools labelled for it.
    node_pools: HashMap<(&'a str, &'a str), Vec<(&'a ObjectId, &'a Value)>>,
    /// Broker count per cluster (same order as `clusters`).
    brokers: Vec<Option<i64>>,
    /// The KafkaTopics by cluster and name: given by the topic rules' pass for the side after
    /// the change, read on first use for the side before it (which rarely needs it).
    topics: OnceCell<TopicGroups<'a>>,
}

/// A topic's group, namespace and cluster label: where its topic lives (the Topic Operator of
/// that cluster owns every topic with that key and name).
pub(crate) type ClusterKey<'a> = (&'a str, &'a str, &'a str);

/// The name Kafka compares topic names by: `.` and `_` collide in metric names.
pub(crate) fn collision_name(name: &str) -> Cow<'_, str> {
    if name.contains('.') {
        Cow::Owned(name.replace('.', "_"))
    } else {
        Cow::Borrowed(name)
    }
}

/// A KafkaTopic of one side of a change: its identity, the object, the object before the change
/// (when the change keeps it) and the topic name it resolves to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TopicMember<'a> {
    pub id: &'a ObjectId,
    pub topic: &'a Value,
    pub before: Option<&'a Value>,
    pub name: &'a str,
}

/// The KafkaTopics of one side of a change by where their topic lives ([`ClusterKey`]) and the
/// name Kafka compares ([`collision_name`]). One table answers both which topics collide (the
/// duplicate-name rule) and whether a cluster declares a topic (the user rules), so the topic
/// pass hashes each topic once. Hashed, not ordered: ten thousand topics of one cluster share
/// long key prefixes, which an ordered map compares again at every level. A group holds its
/// first member inline (nearly every topic is alone in its group, and a list per topic would be
/// an allocation per topic); members keep the order they were added in.
#[derive(Default)]
pub(crate) struct TopicGroups<'a> {
    groups: HashMap<(ClusterKey<'a>, Cow<'a, str>), (TopicMember<'a>, Vec<TopicMember<'a>>)>,
    /// The names each cluster declares, gathered on first use (a removed user asks).
    names_by_cluster: OnceCell<HashMap<ClusterKey<'a>, Vec<&'a str>>>,
}

impl<'a> TopicGroups<'a> {
    pub fn with_capacity(capacity: usize) -> TopicGroups<'a> {
        TopicGroups {
            groups: HashMap::with_capacity(capacity),
            names_by_cluster: OnceCell::new(),
        }
    }

    /// Adds a topic of `cluster`.
    pub fn add(&mut self, cluster: ClusterKey<'a>, member: TopicMember<'a>) {
        match self.groups.entry((cluster, collision_name(member.name))) {
            Entry::Occupied(mut group) => group.get_mut().1.push(member),
            Entry::Vacant(group) => {
                group.insert((member, Vec::new()));
            }
        }
    }

    /// Whether a KafkaTopic of `cluster` resolves to exactly `name`.
    pub fn declares(&self, cluster: ClusterKey<'_>, name: &str) -> bool {
        self.groups
            .get(&(cluster, collision_name(name)))
            .is_some_and(|(first, rest)| {
                first.name == name || rest.iter().any(|member| member.name == name)
            })
    }

    /// The topic names the KafkaTopics of `cluster` resolve to, each once.
    pub fn names_in<'s>(&'s self, cluster: ClusterKey<'s>) -> &'s [&'a str] {
        let by_cluster = self.names_by_cluster.get_or_init(|| {
            let mut by_cluster: HashMap<ClusterKey<'a>, Vec<&'a str>> = HashMap::new();
            for ((key, _), (first, rest)) in &self.groups {
                let names = by_cluster.entry(*key).or_default();
                // Names of one group differ from every other group's; within a group they
                // may repeat (duplicates).
                let start = names.len();
                for member in std::iter::once(first).chain(rest) {
                    if !names[start..].contains(&member.name) {
                        names.push(member.name);
                    }
                }
            }
            by_cluster
        });
        let by_cluster: &'s HashMap<ClusterKey<'s>, Vec<&'a str>> = by_cluster;
        by_cluster.get(&cluster).map_or(&[], Vec::as_slice)
    }

    /// The groups of more than one topic: the first member and the others.
    pub fn collisions(&self) -> impl Iterator<Item = (&TopicMember<'a>, &[TopicMember<'a>])> {
        self.groups
            .values()
            .filter(|(_, rest)| !rest.is_empty())
            .map(|(first, rest)| (first, rest.as_slice()))
    }
}

impl<'a> Index<'a> {
    pub fn new(objects: &'a Objects) -> Index<'a> {
        let mut index = Index {
            objects,
            clusters: Vec::new(),
            by_name: HashMap::new(),
            by_watched: HashMap::new(),
            node_pools: HashMap::new(),
            brokers: Vec::new(),
            topics: OnceCell::new(),
        };
        // Only the kinds indexed, read from their ranges of the map.
        let kinds = ["EventStreams", "Kafka", "KafkaNodePool"];
        for (id, object) in crate::objects::of_kinds(objects, KAFKA_GROUPS, &kinds) {
            if let Some(cluster) = ClusterView::of(id, object) {
                let position = index.clusters.len();
                index.clusters.push(cluster);
                index
                    .by_name
                    .entry((id.group(), id.namespace(), id.name()))
                    .or_insert(position);
                for (operator, key) in [
                    (EntityOperator::Topic, "topicOperator"),
                    (EntityOperator::User, "userOperator"),
                ] {
                    if let Some(watched) = cluster
                        .root
                        .at("entityOperator")
                        .at(key)
                        .at("watchedNamespace")
                        .as_str()
                    {
                        index
                            .by_watched
                            .entry((operator, id.group(), watched, id.name()))
                            .or_insert(position);
                    }
                }
                continue;
            }
            if id.kind() == "KafkaNodePool" {
                if let Some(name) = cluster_label(id, object) {
                    index
                        .node_pools
                        .entry((id.namespace(), name))
                        .or_default()
                        .push((id, object));
                }
            }
        }
        index.brokers = index
            .clusters
            .iter()
            .map(|cluster| index.count_brokers(cluster))
            .collect();
        index
    }

    /// Every cluster (Kafka, EventStreams).
    pub fn clusters(&self) -> &[ClusterView<'a>] {
        &self.clusters
    }

    /// Whether any cluster an object of `group` could belong to is declared.
    pub fn declares_clusters(&self, group: &str) -> bool {
        self.clusters
            .iter()
            .any(|cluster| cluster.id.group() == group)
    }

    /// The cluster an object of `group` labelled `name` in `namespace` belongs to: a cluster of
    /// that group with that name in the same namespace, or in another namespace whose entity
    /// operator watches `namespace` (`entityOperator.topicOperator.watchedNamespace`).
    pub fn find_cluster(
        &self,
        group: &str,
        namespace: &str,
        name: &str,
        operator: EntityOperator,
    ) -> Option<ClusterView<'a>> {
        self.by_name
            .get(&(group, namespace, name))
            .or_else(|| self.by_watched.get(&(operator, group, namespace, name)))
            .map(|position| self.clusters[*position])
    }

    /// The node pools of `cluster`: KafkaNodePools in its namespace labelled with its name,
    /// then an EventStreams' inline pools.
    pub fn pools_of<'s>(&'s self, cluster: &ClusterView<'s>) -> Vec<Pool<'s>> {
        let mut pools: Vec<Pool<'s>> = self
            .node_pools
            .get(&(cluster.id.namespace(), cluster.id.name()))
            .into_iter()
            .flatten()
            .map(|(id, object)| Pool {
                owner: id,
                name: id.name().to_string(),
                path: "spec".to_string(),
                spec: object.at("spec"),
            })
            .collect();
        if cluster.id.kind() == "EventStreams" {
            if let Some(entries) = cluster.root.at("nodePools").as_array() {
                for (index, entry) in entries.iter().enumerate() {
                    // An entry without a name cannot be told apart from another: skipped (the
                    // schema refuses it).
                    let Some(name) = entry.at("name").as_str() else {
                        continue;
                    };
                    pools.push(Pool {
                        owner: cluster.id,
                        name: name.to_string(),
                        path: format!("{}.nodePools[{index}]", cluster.root_path),
                        spec: entry,
                    });
                }
            }
        }
        pools
    }

    /// Whether `cluster` takes its nodes from node pools (so `spec.kafka.replicas` and
    /// `spec.kafka.storage` are ignored by the operator).
    pub fn uses_node_pools(&self, cluster: &ClusterView<'_>) -> bool {
        cluster.node_pools_enabled() && !self.pools_of(cluster).is_empty()
    }

    /// The number of brokers of `cluster`: the replicas of its node pools with the `broker`
    /// role, or `spec.kafka.replicas` when it runs without node pools; `None` when unknown (a
    /// broker pool without a replica count, no count at all).
    pub fn broker_count(&self, cluster: &ClusterView<'_>) -> Option<i64> {
        match self.by_name.get(&(
            cluster.id.group(),
            cluster.id.namespace(),
            cluster.id.name(),
        )) {
            // The same object (a view made from it): no identity to compare.
            Some(position) if std::ptr::eq(self.clusters[*position].object, cluster.object) => {
                self.brokers.get(*position).copied().flatten()
            }
            _ => self.count_brokers(cluster),
        }
    }

    fn count_brokers(&self, cluster: &ClusterView<'_>) -> Option<i64> {
        let pools = self.pools_of(cluster);
        if !pools.is_empty() && cluster.node_pools_enabled() {
            let mut total: i64 = 0;
            for pool in pools.iter().filter(|pool| pool.has_role("broker")) {
                total = total.saturating_add(pool.replicas()?);
            }
            return Some(total);
        }
        count(cluster.kafka().at("replicas"))
    }

    /// Gives the index the KafkaTopics of its side, grouped by a pass over its topics that reads
    /// each topic's label and name anyway (the topic rules'), so that they are not read again;
    /// ignored when they were read already.
    pub fn provide_topics(&self, topics: TopicGroups<'a>) {
        let _ = self.topics.set(topics);
    }

    /// The KafkaTopics of this side by cluster and name.
    pub fn topics(&self) -> &TopicGroups<'a> {
        self.topics.get_or_init(|| {
            let mut topics = TopicGroups::default();
            for (id, object) in
                crate::objects::of_kinds(self.objects, KAFKA_GROUPS, &["KafkaTopic"])
            {
                let label = cluster_label(id, object).unwrap_or_default();
                let member = TopicMember {
                    id,
                    topic: object,
                    before: None,
                    name: topic::topic_name(id, object),
                };
                topics.add((id.group(), id.namespace(), label), member);
            }
            topics
        })
    }
}

/// A short description of a cluster for messages (`Kafka kafka/events`).
pub(crate) fn describe(cluster: &ClusterView<'_>) -> String {
    if cluster.id.namespace().is_empty() {
        format!("{} {}", cluster.id.kind(), cluster.id.name())
    } else {
        format!(
            "{} {}/{}",
            cluster.id.kind(),
            cluster.id.namespace(),
            cluster.id.name()
        )
    }
}

/// A configuration key as a finding's path (`spec.config['retention.ms']`).
pub(crate) fn config_path(base: &str, key: &str) -> String {
    format!("{base}['{key}']")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn objects(values: Vec<Value>) -> Objects {
        values
            .into_iter()
            .filter_map(|object| ObjectId::of(&object).map(|id| (id, object)))
            .collect()
    }

    #[test]
    fn broker_count_sums_broker_pools_or_reads_replicas() {
        let set = objects(vec![
            json!({"apiVersion": "kafka.strimzi.io/v1", "kind": "Kafka", "metadata": {"name": "c", "namespace": "n"}, "spec": {"kafka": {}}}),
            json!({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaNodePool", "metadata": {"name": "b", "namespace": "n", "labels": {"strimzi.io/cluster": "c"}}, "spec": {"replicas": 3, "roles": ["broker"]}}),
            json!({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaNodePool", "metadata": {"name": "d", "namespace": "n", "labels": {"strimzi.io/cluster": "c"}}, "spec": {"replicas": 2, "roles": ["controller", "broker"]}}),
            json!({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaNodePool", "metadata": {"name": "k", "namespace": "n", "labels": {"strimzi.io/cluster": "c"}}, "spec": {"replicas": 3, "roles": ["controller"]}}),
            json!({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaNodePool", "metadata": {"name": "o", "namespace": "other", "labels": {"strimzi.io/cluster": "c"}}, "spec": {"replicas": 9, "roles": ["broker"]}}),
        ]);
        let index = Index::new(&set);
        let cluster = index.clusters()[0];
        assert_eq!(index.broker_count(&cluster), Some(5));

        // v1beta2 without the node-pools annotation: Strimzi ignores the pools.
        let set = objects(vec![
            json!({"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "Kafka", "metadata": {"name": "c", "namespace": "n"}, "spec": {"kafka": {"replicas": 4}}}),
            json!({"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "KafkaNodePool", "metadata": {"name": "b", "namespace": "n", "labels": {"strimzi.io/cluster": "c"}}, "spec": {"replicas": 3, "roles": ["broker"]}}),
        ]);
        let index = Index::new(&set);
        let cluster = index.clusters()[0];
        assert_eq!(index.broker_count(&cluster), Some(4));

        // Event Streams: inline pools.
        let set = objects(vec![json!({
            "apiVersion": "eventstreams.ibm.com/v1beta2", "kind": "EventStreams",
            "metadata": {"name": "es", "namespace": "n"},
            "spec": {"strimziOverrides": {"nodePools": [
                {"name": "kafka", "replicas": 3, "roles": ["broker"]},
                {"name": "ctl", "replicas": 3, "roles": ["controller"]}
            ]}}
        })]);
        let index = Index::new(&set);
        let cluster = index.clusters()[0];
        assert_eq!(index.broker_count(&cluster), Some(3));

        // Wrong types read as unknown, never a panic.
        let set = objects(vec![json!({
            "apiVersion": "kafka.strimzi.io/v1", "kind": "Kafka",
            "metadata": {"name": "c", "namespace": "n"}, "spec": "text"
        })]);
        let index = Index::new(&set);
        let cluster = index.clusters()[0];
        assert_eq!(index.broker_count(&cluster), None);
    }

    #[test]
    fn clusters_are_found_in_the_namespace_or_by_watched_namespace() {
        let set = objects(vec![
            json!({"apiVersion": "kafka.strimzi.io/v1", "kind": "Kafka", "metadata": {"name": "c", "namespace": "kafka"}, "spec": {"entityOperator": {"topicOperator": {"watchedNamespace": "apps"}}}}),
        ]);
        let index = Index::new(&set);
        let found = |namespace: &str, operator| {
            index
                .find_cluster(STRIMZI_GROUP, namespace, "c", operator)
                .is_some()
        };
        assert!(found("kafka", EntityOperator::Topic));
        assert!(found("apps", EntityOperator::Topic));
        assert!(!found("apps", EntityOperator::User));
        assert!(!found("other", EntityOperator::Topic));
        assert!(index
            .find_cluster(EVENT_STREAMS_GROUP, "kafka", "c", EntityOperator::Topic)
            .is_none());
    }

    #[test]
    fn config_values_read_as_integers_or_text() {
        assert_eq!(config_integer(&json!("2")), Some(2));
        assert_eq!(config_integer(&json!(2)), Some(2));
        assert_eq!(config_integer(&json!("two")), None);
        assert_eq!(config_integer(&json!([2])), None);
        assert_eq!(scalar_text(&json!(3.9)), Some("3.9".to_string()));
    }
}
