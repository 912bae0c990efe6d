//! The event topology: which applications produce and consume which topics and queues, with the
//! schemas, users, consumer groups, connectors, MirrorMaker flows and queue managers around them,
//! built from rendered objects and the repository's AsyncAPI documents, as JSON (for the web UI)
//! or Graphviz DOT.
//!
//! Nodes (`kind`, id): `application` (`application:<ns>/<name>`: a workload — Deployment,
//! StatefulSet, DaemonSet, Job, CronJob, DeploymentConfig, Knative Service — or an application an
//! AsyncAPI document names), `kafka` (`kafka:<ns>/<name>`: Kafka or EventStreams;
//! `kafka:external/<alias>` for a MirrorMaker cluster outside the objects), `topic`
//! (`topic:<ns>/<cluster>/<topic name>`), `user` (KafkaUser), `group` (a consumer group an ACL or
//! an operation names), `schema` (`schema:<subject>`), `connect` (KafkaConnect), `connector`
//! (KafkaConnector, with its class), `queue-manager` (QueueManager), `queue` (`DEFINE QLOCAL`,
//! `QREMOTE`, `QALIAS`, `QMODEL` in the MQSC ConfigMaps the queue manager names). Empty id parts
//! (an object rendered without a namespace) are left out. Labels are strings: the object a node
//! comes from (`object`), `argocd` (the Argo CD Application owning it, from the caller or the
//! object's `argocd.argoproj.io/tracking-id`; for what is read from a file of
//! [`Sources::file_sets`], the Applications whose sources hold the file, joined by `,`),
//! `declared: "false"` for a topic or queue only named (by an ACL or a document), and facts of
//! the kind (partitions, class, ...). Edges read from such a file carry the same `argocd` label.
//!
//! Edges (`kind`, `from` → `to`, the verb read from the subject): `produces` and `consumes`
//! (application → topic or queue; `source: asyncapi` from a document's operations, `source: acl`
//! from the Write/Read ACLs of the user the application runs as), `uses-schema` (topic → schema;
//! from the documents' messages, or a `schemas/<topic>-<key|value>.<ext>` file), `acl` (user →
//! topic or group, with the operations), `runs-as` (application → user: the workload names the
//! user's Secret, has an env var `…USER…` set to its name, or has its name), `hosts` (kafka →
//! topic, connect → connector, queue-manager → queue), `connects` (connector → topic, `direction:
//! source|sink`), `mirrors` (source kafka → target kafka, with the MirrorMaker and its topic and
//! group patterns). DOT draws `consumes` and sink `connects` edges from the topic to the reader,
//! so arrows follow the data.
//!
//! Invariant: the output is a function of the inputs only: nodes sorted by id, edges by (from,
//! kind, to), labels in key order.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::asyncapi::rules::{cluster_label, TopicIndex};
use crate::asyncapi::{self, Action, Repository};
use crate::objects::ObjectId;

/// What the topology is built from.
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    /// The rendered objects.
    pub objects: &'a [Value],
    /// The Argo CD Application owning each object, when the caller knows it (an app-of-apps
    /// render); else the object's tracking annotation says it.
    pub owners: &'a BTreeMap<ObjectId, String>,
    /// Repository files (AsyncAPI documents, schemas), by path.
    pub files: &'a BTreeMap<String, String>,
    /// Further repository files, each set read on its own (one repository at one commit), with
    /// the Argo CD Applications whose sources hold each file: what is read from a file (its
    /// edges, its schema nodes, the application nodes a document names) is labelled `argocd`
    /// with them.
    pub file_sets: &'a [FileSet],
}

/// Repository files of one repository at one commit, with their owners ([`Sources::file_sets`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileSet {
    /// The files (AsyncAPI documents, schemas), by path relative to the repository root.
    pub files: BTreeMap<String, String>,
    /// The Argo CD Applications whose sources hold each path.
    pub owners: BTreeMap<String, BTreeSet<String>>,
}

impl FileSet {
    /// The Applications holding any of `paths`, joined by `,` (the `argocd` label).
    fn owners_of<'p>(set: Option<&FileSet>, paths: impl IntoIterator<Item = &'p str>) -> String {
        let Some(set) = set else {
            return String::new();
        };
        let owners: BTreeSet<&str> = paths
            .into_iter()
            .filter_map(|path| set.owners.get(path))
            .flatten()
            .map(String::as_str)
            .collect();
        owners.into_iter().collect::<Vec<_>>().join(",")
    }
}

/// A node of the graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// An edge of the graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edge {
    pub kind: String,
    pub from: String,
    pub to: String,
    pub labels: BTreeMap<String, String>,
}

/// The graph.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Topology {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Problems met reading the AsyncAPI documents (their findings' messages).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `kind:` and the non-empty parts joined by `/`.
fn node_id(kind: &str, parts: &[&str]) -> String {
    let parts: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|part| !part.is_empty())
        .collect();
    format!("{kind}:{}", parts.join("/"))
}

/// The Argo CD Application of a tracking id `<app>:<group>/<kind>:<ns>/<name>`.
fn tracking_owner(object: &Value) -> Option<String> {
    let tracking = object["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"].as_str()?;
    let (application, _) = tracking.split_once(':')?;
    // An Application in another namespace than Argo CD's is tracked as `<ns>_<app>`.
    let application = application.rsplit('_').next().unwrap_or(application);
    (!application.is_empty()).then(|| application.to_string())
}

#[derive(Default)]
struct Graph {
    nodes: BTreeMap<String, Node>,
    edges: BTreeMap<(String, String, String), BTreeMap<String, String>>,
}

impl Graph {
    /// Adds a node, or merges labels into the one there: a declared node's labels replace those
    /// of a node only named (`declared: "false"`); otherwise labels already there stay.
    fn node(&mut self, id: &str, kind: &str, name: &str, labels: BTreeMap<String, String>) {
        let named = |labels: &BTreeMap<String, String>| {
            labels.get("declared").map(String::as_str) == Some("false")
        };
        match self.nodes.get_mut(id) {
            None => {
                self.nodes.insert(
                    id.to_string(),
                    Node {
                        id: id.to_string(),
                        kind: kind.to_string(),
                        name: name.to_string(),
                        labels,
                    },
                );
            }
            Some(node) if named(&node.labels) && !named(&labels) => {
                node.labels.remove("declared");
                node.labels.remove("namedBy");
                node.labels.extend(labels);
            }
            Some(node) => {
                for (key, value) in labels {
                    match node.labels.get_mut(&key) {
                        // A node read from files several Applications hold: each is listed.
                        Some(old) if key == "argocd" && *old != value => {
                            let mut owners: BTreeSet<String> =
                                old.split(',').map(str::to_string).collect();
                            owners.extend(value.split(',').map(str::to_string));
                            *old = owners.into_iter().collect::<Vec<_>>().join(",");
                        }
                        Some(_) => {}
                        None if key != "declared" => {
                            node.labels.insert(key, value);
                        }
                        None => {}
                    }
                }
            }
        }
    }

    /// Adds an edge, or merges labels into the one there (values that differ are listed).
    fn edge(&mut self, kind: &str, from: &str, to: &str, labels: BTreeMap<String, String>) {
        let existing = self
            .edges
            .entry((from.to_string(), kind.to_string(), to.to_string()))
            .or_default();
        for (key, value) in labels {
            match existing.get_mut(&key) {
                Some(old) => {
                    let mut values: BTreeSet<String> = old.split(',').map(str::to_string).collect();
                    values.extend(value.split(',').map(str::to_string));
                    *old = values.into_iter().collect::<Vec<_>>().join(",");
                }
                None => {
                    existing.insert(key, value);
                }
            }
        }
    }

    fn finish(self, warnings: Vec<String>) -> Topology {
        Topology {
            nodes: self.nodes.into_values().collect(),
            edges: self
                .edges
                .into_iter()
                .map(|((from, kind, to), labels)| Edge {
                    kind,
                    from,
                    to,
                    labels,
                })
                .collect(),
            warnings,
        }
    }
}

fn labels<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (key.to_string(), value))
        .collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(value) => value.to_string(),
        _ => String::new(),
    }
}

/// The workload kinds whose pods are applications, and where their pod spec is.
fn pod_spec(id: &ObjectId, object: &Value) -> Option<Value> {
    let spec = match (id.group(), id.kind()) {
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job")
        | ("apps.openshift.io", "DeploymentConfig")
        | ("serving.knative.dev", "Service") => &object["spec"]["template"]["spec"],
        ("batch", "CronJob") => &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => return None,
    };
    Some(spec.clone())
}

/// How a pod spec names a KafkaUser: its Secret (env, envFrom, volume) or an env var `…USER…`
/// set to its name.
fn names_user(pod: &Value, user: &str) -> Option<&'static str> {
    let containers = pod["containers"]
        .as_array()
        .into_iter()
        .chain(pod["initContainers"].as_array())
        .flatten();
    for container in containers {
        for env in container["env"].as_array().into_iter().flatten() {
            if env["valueFrom"]["secretKeyRef"]["name"].as_str() == Some(user) {
                return Some("secret");
            }
            let name = env["name"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_uppercase();
            if name.contains("USER") && env["value"].as_str() == Some(user) {
                return Some("env");
            }
        }
        for from in container["envFrom"].as_array().into_iter().flatten() {
            if from["secretRef"]["name"].as_str() == Some(user) {
                return Some("secret");
            }
        }
    }
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        if volume["secret"]["secretName"].as_str() == Some(user) {
            return Some("secret");
        }
    }
    None
}

/// A queue an MQSC script defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqscQueue {
    /// `local`, `remote`, `alias`, `model`.
    pub kind: &'static str,
    pub name: String,
    /// Attributes worth showing: `TARGET` (alias), `RNAME`/`RQMNAME`/`XMITQ` (remote).
    pub attributes: BTreeMap<String, String>,
}

/// The queues an MQSC script defines (`DEFINE QLOCAL('NAME') …`, abbreviations `DEF QL(…)`
/// included), and the queue manager's dead-letter queue (`ALTER QMGR DEADQ(…)`). Comments
/// (`*`) and continuations (`+`, `-`) are read as runmqsc does; other commands are skipped.
pub fn parse_mqsc(text: &str) -> (Vec<MqscQueue>, Option<String>) {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.trim_start().starts_with('*') {
            continue;
        }
        if let Some(rest) = trimmed.strip_suffix('+') {
            current.push_str(rest.trim_end());
            current.push(' ');
        } else if let Some(rest) = trimmed.strip_suffix('-') {
            current.push_str(rest);
        } else {
            current.push_str(trimmed);
            commands.push(std::mem::take(&mut current));
        }
    }
    commands.push(current);
    let mut queues = Vec::new();
    let mut dead_letter = None;
    for command in commands {
        let tokens = mqsc_tokens(&command);
        let Some((verb, _)) = tokens.first() else {
            continue;
        };
        let Some((object, name)) = tokens.get(1) else {
            continue;
        };
        match verb.as_str() {
            "DEFINE" | "DEF" => {
                let kind = match object.as_str() {
                    "QLOCAL" | "QL" => "local",
                    "QREMOTE" | "QR" => "remote",
                    "QALIAS" | "QA" => "alias",
                    "QMODEL" | "QM" => "model",
                    _ => continue,
                };
                let Some(name) = name.clone().filter(|name| !name.is_empty()) else {
                    continue;
                };
                let attributes = tokens[2..]
                    .iter()
                    .filter(|(key, _)| {
                        ["TARGET", "RNAME", "RQMNAME", "XMITQ"].contains(&key.as_str())
                    })
                    .filter_map(|(key, value)| Some((key.to_ascii_lowercase(), value.clone()?)))
                    .collect();
                queues.push(MqscQueue {
                    kind,
                    name,
                    attributes,
                });
            }
            "ALTER" if object == "QMGR" => {
                if let Some((_, Some(queue))) = tokens.iter().find(|(key, _)| key == "DEADQ") {
                    dead_letter = Some(queue.clone());
                }
            }
            _ => {}
        }
    }
    (queues, dead_letter)
}

/// The words of an MQSC command, upper-cased, each with its parenthesised value (quoted values
/// kept as written, unquoted ones upper-cased as MQ folds them).
fn mqsc_tokens(command: &str) -> Vec<(String, Option<String>)> {
    let mut tokens: Vec<(String, Option<String>)> = Vec::new();
    let mut chars = command.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            break;
        };
        if first == '(' {
            chars.next();
            let value = mqsc_value(&mut chars);
            match tokens.last_mut() {
                Some((_, slot @ None)) => *slot = Some(value),
                _ => tokens.push((String::new(), Some(value))),
            }
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '(' {
                break;
            }
            word.push(c.to_ascii_uppercase());
            chars.next();
        }
        let value = if chars.peek() == Some(&'(') {
            chars.next();
            Some(mqsc_value(&mut chars))
        } else {
            None
        };
        tokens.push((word, value));
    }
    tokens
}

fn mqsc_value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut value = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' if quoted && chars.peek() == Some(&'\'') => {
                chars.next();
                value.push('\'');
            }
            '\'' => {
                quoted = !quoted;
                was_quoted = true;
            }
            ')' if !quoted => break,
            c => value.push(c),
        }
    }
    if was_quoted {
        value
    } else {
        value.trim().to_ascii_uppercase()
    }
}

/// Whether a rendered ConfigMap name is `name` with kustomize's content hash suffix.
fn is_hashed_name(rendered: &str, name: &str) -> bool {
    rendered == name
        || rendered.strip_prefix(name).is_some_and(|rest| {
            rest.len() == 11
                && rest.starts_with('-')
                && rest[1..]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// The Strimzi cluster a bootstrap address names.
fn cluster_of_bootstrap(bootstrap: &str) -> Option<(String, Option<String>)> {
    asyncapi::Server {
        name: String::new(),
        host: bootstrap.to_string(),
        protocol: "kafka".to_string(),
    }
    .strimzi_cluster()
}

struct Builder<'a> {
    objects: BTreeMap<ObjectId, &'a Value>,
    owners: &'a BTreeMap<ObjectId, String>,
    graph: Graph,
}

impl<'a> Builder<'a> {
    fn base_labels(&self, id: &ObjectId, object: &Value) -> BTreeMap<String, String> {
        let owner = self
            .owners
            .get(id)
            .cloned()
            .or_else(|| tracking_owner(object))
            .unwrap_or_default();
        labels([
            ("object", id.to_string()),
            ("namespace", id.namespace().to_string()),
            ("argocd", owner),
        ])
    }

    fn of_kind(&self, groups: &[&str], kind: &str) -> Vec<(ObjectId, &'a Value)> {
        self.objects
            .iter()
            .filter(|(id, _)| id.kind() == kind && groups.contains(&id.group()))
            .map(|(id, object)| (id.clone(), *object))
            .collect()
    }

    fn kafka_id(namespace: &str, cluster: &str) -> String {
        node_id("kafka", &[namespace, cluster])
    }

    fn topic_id(namespace: &str, cluster: &str, topic: &str) -> String {
        node_id("topic", &[namespace, cluster, topic])
    }

    fn clusters(&mut self) {
        for (groups, kind, product) in [
            (&["kafka.strimzi.io"][..], "Kafka", "strimzi"),
            (
                &["eventstreams.ibm.com"][..],
                "EventStreams",
                "eventstreams",
            ),
        ] {
            for (id, object) in self.of_kind(groups, kind) {
                let mut labels = self.base_labels(&id, object);
                let section = if kind == "EventStreams" {
                    &object["spec"]["strimziOverrides"]["kafka"]
                } else {
                    &object["spec"]["kafka"]
                };
                let version = text(&section["version"]);
                let version = if version.is_empty() {
                    text(&object["spec"]["version"])
                } else {
                    version
                };
                labels.extend(self::labels([
                    ("product", product.to_string()),
                    ("version", version),
                ]));
                self.graph.node(
                    &Self::kafka_id(id.namespace(), id.name()),
                    "kafka",
                    id.name(),
                    labels,
                );
            }
        }
    }

    fn topics(&mut self, topics: &TopicIndex<'_>) {
        for info in &topics.topics {
            let cluster = info.cluster.clone().unwrap_or_default();
            let mut labels = self.base_labels(info.id, info.object);
            let spec = &info.object["spec"];
            labels.extend(self::labels([
                ("cluster", cluster.clone()),
                ("partitions", text(&spec["partitions"])),
                ("replicas", text(&spec["replicas"])),
                ("cleanup.policy", text(&spec["config"]["cleanup.policy"])),
                ("retention.ms", text(&spec["config"]["retention.ms"])),
            ]));
            let id = Self::topic_id(info.id.namespace(), &cluster, &info.name);
            self.graph.node(&id, "topic", &info.name, labels);
            if !cluster.is_empty() {
                let kafka = Self::kafka_id(info.id.namespace(), &cluster);
                if self.graph.nodes.contains_key(&kafka) {
                    self.graph.edge("hosts", &kafka, &id, BTreeMap::new());
                }
            }
        }
    }

    /// A topic named but not declared.
    fn named_topic(&mut self, namespace: &str, cluster: &str, topic: &str, by: &str) -> String {
        let id = Self::topic_id(namespace, cluster, topic);
        self.graph.node(
            &id,
            "topic",
            topic,
            labels([
                ("declared", "false".to_string()),
                ("cluster", cluster.to_string()),
                ("namespace", namespace.to_string()),
                ("namedBy", by.to_string()),
            ]),
        );
        id
    }

    /// The topics (declared, of the cluster and namespace) an ACL resource matches; a literal
    /// name no topic declares becomes a named topic.
    fn acl_topics(
        &mut self,
        topics: &TopicIndex<'_>,
        namespace: &str,
        cluster: &str,
        pattern: &str,
        prefix: bool,
        by: &str,
    ) -> Vec<String> {
        let matching: Vec<String> = topics
            .topics
            .iter()
            .filter(|info| {
                info.id.namespace() == namespace
                    && info.cluster.as_deref() == Some(cluster)
                    && if prefix {
                        info.name.starts_with(pattern)
                    } else {
                        pattern == "*" || info.name == pattern
                    }
            })
            .map(|info| Self::topic_id(namespace, cluster, &info.name))
            .collect();
        if matching.is_empty() && !prefix && pattern != "*" && !pattern.is_empty() {
            return vec![self.named_topic(namespace, cluster, pattern, by)];
        }
        matching
    }

    fn users(&mut self, topics: &TopicIndex<'_>) {
        for (id, user) in self.of_kind(crate::kafka::KAFKA_GROUPS, "KafkaUser") {
            let cluster = cluster_label(user).unwrap_or_default().to_string();
            let mut node_labels = self.base_labels(&id, user);
            node_labels.extend(labels([
                ("cluster", cluster.clone()),
                (
                    "authentication",
                    text(&user["spec"]["authentication"]["type"]),
                ),
            ]));
            let user_id = node_id("user", &[id.namespace(), id.name()]);
            let owner = node_labels.get("argocd").cloned().unwrap_or_default();
            self.graph.node(&user_id, "user", id.name(), node_labels);
            let acls = user["spec"]["authorization"]["acls"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for acl in acls {
                let resource = &acl["resource"];
                let pattern = resource["name"].as_str().unwrap_or_default();
                let prefix = resource["patternType"].as_str() == Some("prefix");
                let mut operations: Vec<String> = match acl["operations"].as_array() {
                    Some(operations) => operations.iter().map(text).collect(),
                    None => vec![text(&acl["operation"])],
                };
                operations.retain(|operation| !operation.is_empty());
                operations.sort();
                let edge_labels = labels([
                    ("operations", operations.join(",")),
                    (
                        "pattern",
                        if prefix { "prefix" } else { "literal" }.to_string(),
                    ),
                    ("type", acl["type"].as_str().unwrap_or("allow").to_string()),
                ]);
                let targets = match resource["type"].as_str() {
                    Some("topic") => {
                        self.acl_topics(topics, id.namespace(), &cluster, pattern, prefix, &user_id)
                    }
                    Some("group") if !pattern.is_empty() => {
                        let group = node_id("group", &[id.namespace(), &cluster, pattern]);
                        self.graph.node(
                            &group,
                            "group",
                            pattern,
                            labels([
                                ("cluster", cluster.clone()),
                                ("namespace", id.namespace().to_string()),
                                (
                                    "pattern",
                                    if prefix { "prefix" } else { "literal" }.to_string(),
                                ),
                                ("argocd", owner.clone()),
                            ]),
                        );
                        vec![group]
                    }
                    _ => Vec::new(),
                };
                for target in targets {
                    self.graph
                        .edge("acl", &user_id, &target, edge_labels.clone());
                }
            }
        }
    }

    /// Workloads, the users they run as, and what those users' ACLs let them write and read.
    fn applications(&mut self, topics: &TopicIndex<'_>) {
        let users: Vec<(ObjectId, Value)> = self
            .of_kind(crate::kafka::KAFKA_GROUPS, "KafkaUser")
            .into_iter()
            .map(|(id, user)| (id.clone(), user.clone()))
            .collect();
        let workloads: Vec<(ObjectId, Value, Value)> = self
            .objects
            .iter()
            .filter_map(|(id, object)| {
                pod_spec(id, object).map(|pod| (id.clone(), (*object).clone(), pod))
            })
            .collect();
        for (id, object, pod) in workloads {
            let mut labels = self.base_labels(&id, &object);
            labels.insert("workload".to_string(), id.kind().to_string());
            let application = node_id("application", &[id.namespace(), id.name()]);
            self.graph
                .node(&application, "application", id.name(), labels);
            for (user_id, user) in &users {
                if user_id.namespace() != id.namespace() {
                    continue;
                }
                let via = names_user(&pod, user_id.name())
                    .or_else(|| (user_id.name() == id.name()).then_some("name"));
                let Some(via) = via else {
                    continue;
                };
                let user_node = node_id("user", &[user_id.namespace(), user_id.name()]);
                self.graph.edge(
                    "runs-as",
                    &application,
                    &user_node,
                    labels_of([("via", via)]),
                );
                let cluster = cluster_label(user).unwrap_or_default().to_string();
                for acl in user["spec"]["authorization"]["acls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    if acl["resource"]["type"].as_str() != Some("topic")
                        || acl["type"].as_str() == Some("deny")
                    {
                        continue;
                    }
                    let operations: Vec<String> = match acl["operations"].as_array() {
                        Some(operations) => operations.iter().map(text).collect(),
                        None => vec![text(&acl["operation"])],
                    };
                    let has = |wanted: &str| {
                        operations
                            .iter()
                            .any(|operation| operation == wanted || operation == "All")
                    };
                    let pattern = acl["resource"]["name"].as_str().unwrap_or_default();
                    let prefix = acl["resource"]["patternType"].as_str() == Some("prefix");
                    let user_node_id = user_node.clone();
                    let targets = self.acl_topics(
                        topics,
                        user_id.namespace(),
                        &cluster,
                        pattern,
                        prefix,
                        &user_node_id,
                    );
                    for target in targets {
                        if has("Write") {
                            self.graph.edge(
                                "produces",
                                &application,
                                &target,
                                labels_of([("source", "acl")]),
                            );
                        }
                        if has("Read") {
                            self.graph.edge(
                                "consumes",
                                &application,
                                &target,
                                labels_of([("source", "acl")]),
                            );
                        }
                    }
                }
            }
        }
    }

    fn connectors(&mut self, topics: &TopicIndex<'_>) {
        let mut connect_clusters: BTreeMap<(String, String), Option<(String, String)>> =
            BTreeMap::new();
        for (id, connect) in self.of_kind(crate::kafka::KAFKA_GROUPS, "KafkaConnect") {
            let mut labels = self.base_labels(&id, connect);
            let bootstrap = text(&connect["spec"]["bootstrapServers"]);
            let cluster = cluster_of_bootstrap(&bootstrap)
                .map(|(cluster, _)| cluster)
                .unwrap_or_default();
            labels.extend(self::labels([
                ("bootstrapServers", bootstrap.clone()),
                ("cluster", cluster),
            ]));
            self.graph.node(
                &node_id("connect", &[id.namespace(), id.name()]),
                "connect",
                id.name(),
                labels,
            );
            let kafka = cluster_of_bootstrap(&bootstrap).map(|(cluster, namespace)| {
                (
                    namespace.unwrap_or_else(|| id.namespace().to_string()),
                    cluster,
                )
            });
            connect_clusters.insert((id.namespace().to_string(), id.name().to_string()), kafka);
        }
        for (id, connector) in self.of_kind(crate::kafka::KAFKA_GROUPS, "KafkaConnector") {
            let spec = &connector["spec"];
            let class = text(&spec["class"]);
            let config = &spec["config"];
            let connect = cluster_label(connector).unwrap_or_default().to_string();
            let mut labels = self.base_labels(&id, connector);
            let short_class = class.rsplit('.').next().unwrap_or_default().to_string();
            let direction = if short_class.contains("Sink") {
                "sink"
            } else if short_class.contains("Source") {
                "source"
            } else if !config["topics"].is_null() || !config["topics.regex"].is_null() {
                "sink"
            } else {
                "source"
            };
            labels.extend(self::labels([
                ("class", class.clone()),
                ("tasksMax", text(&spec["tasksMax"])),
                ("connect", connect.clone()),
                ("direction", direction.to_string()),
                ("topics.regex", text(&config["topics.regex"])),
                ("topic.prefix", text(&config["topic.prefix"])),
            ]));
            let connector_id = node_id("connector", &[id.namespace(), id.name()]);
            self.graph
                .node(&connector_id, "connector", id.name(), labels);
            let connect_id = node_id("connect", &[id.namespace(), &connect]);
            if !connect.is_empty() {
                if !self.graph.nodes.contains_key(&connect_id) {
                    self.graph.node(
                        &connect_id,
                        "connect",
                        &connect,
                        labels_of([("declared", "false")]),
                    );
                }
                self.graph
                    .edge("hosts", &connect_id, &connector_id, BTreeMap::new());
            }
            let kafka = connect_clusters
                .get(&(id.namespace().to_string(), connect.clone()))
                .cloned()
                .flatten();
            let mut names: Vec<String> = Vec::new();
            for key in ["topics", "topic", "kafka.topic"] {
                names.extend(
                    text(&config[key])
                        .split(',')
                        .map(str::trim)
                        .filter(|name| !name.is_empty())
                        .map(str::to_string),
                );
            }
            names.sort();
            names.dedup();
            for name in names {
                let targets: Vec<String> = match &kafka {
                    Some((namespace, cluster)) => {
                        let target = topics
                            .topics
                            .iter()
                            .find(|info| {
                                info.name == name
                                    && info.cluster.as_deref() == Some(cluster.as_str())
                                    && (info.id.namespace() == *namespace
                                        || info.id.namespace().is_empty())
                            })
                            .map(|info| Self::topic_id(info.id.namespace(), cluster, &info.name));
                        vec![target.unwrap_or_else(|| {
                            self.named_topic(namespace, cluster, &name, &connector_id)
                        })]
                    }
                    None => {
                        let found: Vec<String> = topics
                            .topics
                            .iter()
                            .filter(|info| {
                                info.name == name && info.id.namespace() == id.namespace()
                            })
                            .map(|info| {
                                Self::topic_id(
                                    info.id.namespace(),
                                    info.cluster.as_deref().unwrap_or_default(),
                                    &info.name,
                                )
                            })
                            .collect();
                        if found.is_empty() {
                            vec![self.named_topic(id.namespace(), "", &name, &connector_id)]
                        } else {
                            found
                        }
                    }
                };
                for target in targets {
                    self.graph.edge(
                        "connects",
                        &connector_id,
                        &target,
                        labels_of([("direction", direction)]),
                    );
                }
            }
        }
    }

    fn mirror_makers(&mut self) {
        for (id, mirror) in self.of_kind(crate::kafka::KAFKA_GROUPS, "KafkaMirrorMaker2") {
            let spec = &mirror["spec"];
            let mut aliases: BTreeMap<String, String> = BTreeMap::new();
            for cluster in spec["clusters"].as_array().into_iter().flatten() {
                aliases.insert(text(&cluster["alias"]), text(&cluster["bootstrapServers"]));
            }
            // Strimzi's v1 API: `target` and each mirror's `source`.
            let target_alias = if spec["target"].is_object() {
                aliases.insert(
                    text(&spec["target"]["alias"]),
                    text(&spec["target"]["bootstrapServers"]),
                );
                text(&spec["target"]["alias"])
            } else {
                text(&spec["connectCluster"])
            };
            let owner = self
                .base_labels(&id, mirror)
                .remove("argocd")
                .unwrap_or_default();
            for mirror_spec in spec["mirrors"].as_array().into_iter().flatten() {
                let source_alias = if mirror_spec["source"].is_object() {
                    aliases.insert(
                        text(&mirror_spec["source"]["alias"]),
                        text(&mirror_spec["source"]["bootstrapServers"]),
                    );
                    text(&mirror_spec["source"]["alias"])
                } else {
                    text(&mirror_spec["sourceCluster"])
                };
                let target = match text(&mirror_spec["targetCluster"]) {
                    alias if !alias.is_empty() => alias,
                    _ => target_alias.clone(),
                };
                let from = self.mirror_cluster(id.namespace(), &source_alias, &aliases);
                let to = self.mirror_cluster(id.namespace(), &target, &aliases);
                self.graph.edge(
                    "mirrors",
                    &from,
                    &to,
                    labels([
                        (
                            "mirrorMaker",
                            [id.namespace(), id.name()]
                                .iter()
                                .filter(|part| !part.is_empty())
                                .copied()
                                .collect::<Vec<_>>()
                                .join("/"),
                        ),
                        ("object", id.to_string()),
                        ("topics", text(&mirror_spec["topicsPattern"])),
                        ("topicsExclude", text(&mirror_spec["topicsExcludePattern"])),
                        ("groups", text(&mirror_spec["groupsPattern"])),
                        ("argocd", owner.clone()),
                    ]),
                );
            }
        }
    }

    /// The node of a MirrorMaker cluster alias: the Kafka its bootstrap address names when it
    /// is among the objects, else an external cluster.
    fn mirror_cluster(
        &mut self,
        namespace: &str,
        alias: &str,
        aliases: &BTreeMap<String, String>,
    ) -> String {
        let bootstrap = aliases.get(alias).cloned().unwrap_or_default();
        if let Some((cluster, cluster_namespace)) = cluster_of_bootstrap(&bootstrap) {
            let namespace = cluster_namespace.unwrap_or_else(|| namespace.to_string());
            let id = Self::kafka_id(&namespace, &cluster);
            if self.graph.nodes.contains_key(&id) {
                return id;
            }
        }
        let id = node_id("kafka", &["external", alias]);
        self.graph.node(
            &id,
            "kafka",
            alias,
            labels([
                ("declared", "false".to_string()),
                ("bootstrapServers", bootstrap),
            ]),
        );
        id
    }

    fn queue_managers(&mut self) {
        let config_maps: Vec<(ObjectId, Value)> = self
            .of_kind(&[""], "ConfigMap")
            .into_iter()
            .map(|(id, object)| (id.clone(), object.clone()))
            .collect();
        for (id, manager) in self.of_kind(&["mq.ibm.com"], "QueueManager") {
            let spec = &manager["spec"];
            let mut node_labels = self.base_labels(&id, manager);
            let queue_manager = text(&spec["queueManager"]["name"]);
            let manager_id = node_id("queue-manager", &[id.namespace(), id.name()]);
            let mut queues = Vec::new();
            let mut dead_letter = None;
            for source in spec["queueManager"]["mqsc"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let Some(name) = source["configMap"]["name"].as_str() else {
                    continue;
                };
                let items: Vec<String> = source["configMap"]["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(text)
                    .collect();
                let config_map = config_maps
                    .iter()
                    .filter(|(cm, _)| cm.namespace() == id.namespace())
                    .find(|(cm, _)| cm.name() == name)
                    .or_else(|| {
                        config_maps
                            .iter()
                            .filter(|(cm, _)| cm.namespace() == id.namespace())
                            .find(|(cm, _)| is_hashed_name(cm.name(), name))
                    });
                let Some((cm_id, config_map)) = config_map else {
                    continue;
                };
                for (key, value) in config_map["data"].as_object().into_iter().flatten() {
                    if !items.is_empty() && !items.contains(key) {
                        continue;
                    }
                    let (found, dead) = parse_mqsc(value.as_str().unwrap_or_default());
                    dead_letter = dead.or(dead_letter);
                    let owner = self
                        .base_labels(cm_id, config_map)
                        .remove("argocd")
                        .unwrap_or_default();
                    queues.extend(
                        found
                            .into_iter()
                            .map(|queue| (queue, format!("{}:{key}", cm_id.name()), owner.clone())),
                    );
                }
            }
            node_labels.extend(labels([
                ("queueManager", queue_manager),
                ("version", text(&spec["version"])),
                ("deadLetterQueue", dead_letter.unwrap_or_default()),
            ]));
            self.graph
                .node(&manager_id, "queue-manager", id.name(), node_labels);
            for (queue, defined_in, owner) in queues {
                let queue_id = node_id("queue", &[id.namespace(), id.name(), &queue.name]);
                let mut queue_labels = labels([
                    ("type", queue.kind.to_string()),
                    ("definedIn", defined_in),
                    ("namespace", id.namespace().to_string()),
                    ("argocd", owner),
                ]);
                queue_labels.extend(queue.attributes);
                self.graph
                    .node(&queue_id, "queue", &queue.name, queue_labels);
                self.graph
                    .edge("hosts", &manager_id, &queue_id, BTreeMap::new());
            }
        }
    }

    /// Schemas of `schemas/<topic>-<key|value>.<ext>` files for declared topics.
    fn subject_files(
        &mut self,
        topics: &TopicIndex<'_>,
        files: &BTreeMap<String, String>,
        set: Option<&FileSet>,
    ) {
        let subjects = asyncapi::subject_files(files);
        for info in &topics.topics {
            for role in ["key", "value"] {
                let subject = format!("{}-{role}", info.name);
                let Some(paths) = subjects.get(&subject) else {
                    continue;
                };
                let schema = node_id("schema", &[&subject]);
                let owners = FileSet::owners_of(set, paths.iter().map(String::as_str));
                self.graph.node(
                    &schema,
                    "schema",
                    &subject,
                    labels([
                        ("subject", subject.clone()),
                        ("files", paths.join(",")),
                        ("argocd", owners.clone()),
                        (
                            "format",
                            asyncapi::SchemaFormat::of(None, paths.first().map(String::as_str))
                                .as_str()
                                .to_string(),
                        ),
                    ]),
                );
                let topic = Self::topic_id(
                    info.id.namespace(),
                    info.cluster.as_deref().unwrap_or_default(),
                    &info.name,
                );
                self.graph.edge(
                    "uses-schema",
                    &topic,
                    &schema,
                    labels([
                        ("role", role.to_string()),
                        ("source", "schemas-directory".to_string()),
                        ("argocd", owners),
                    ]),
                );
            }
        }
    }

    /// The application node an AsyncAPI operation belongs to: the workload of that name (in
    /// the namespace of the topic when there is one), else a node of the document's.
    fn document_application(
        &mut self,
        name: &str,
        namespace: &str,
        document: &str,
        owners: &str,
    ) -> String {
        let workload = self.graph.nodes.values().find(|node| {
            node.kind == "application"
                && node.name == name
                && node.labels.contains_key("workload")
                && (namespace.is_empty()
                    || node
                        .labels
                        .get("namespace")
                        .map(String::as_str)
                        .unwrap_or_default()
                        == namespace)
        });
        if let Some(workload) = workload {
            return workload.id.clone();
        }
        let id = node_id("application", &[namespace, name]);
        self.graph.node(
            &id,
            "application",
            name,
            labels([
                ("document", document.to_string()),
                ("namespace", namespace.to_string()),
                ("argocd", owners.to_string()),
            ]),
        );
        id
    }

    fn documents(
        &mut self,
        topics: &TopicIndex<'_>,
        files: &BTreeMap<String, String>,
        set: Option<&FileSet>,
    ) -> Vec<String> {
        let repository = Repository::new(files);
        let documents = asyncapi::read_documents(&repository);
        let warnings = documents
            .problems
            .iter()
            .map(|problem| problem.message.clone())
            .collect();
        for document in &documents.documents {
            let owners = FileSet::owners_of(set, [document.path.as_str()]);
            let mut channel_targets: Vec<Vec<String>> = Vec::new();
            for channel in &document.channels {
                channel_targets.push(self.channel_targets(document, channel, topics));
            }
            for operation in &document.operations {
                let Some(targets) = channel_targets.get(operation.channel).cloned() else {
                    continue;
                };
                let name = operation.application_name(document);
                let kind = match operation.action {
                    Action::Send => "produces",
                    Action::Receive => "consumes",
                };
                for target in targets {
                    let namespace = self
                        .graph
                        .nodes
                        .get(&target)
                        .and_then(|node| node.labels.get("namespace").cloned())
                        .unwrap_or_default();
                    let application =
                        self.document_application(&name, &namespace, &document.path, &owners);
                    self.graph.edge(
                        kind,
                        &application,
                        &target,
                        labels([
                            ("source", "asyncapi".to_string()),
                            ("document", document.path.clone()),
                            ("operation", operation.id.clone()),
                            ("groups", operation.group_ids.join(",")),
                            ("argocd", owners.clone()),
                        ]),
                    );
                }
            }
            for schema_use in asyncapi::document_schema_uses(document, topics) {
                let Some(channel_index) = document
                    .channels
                    .iter()
                    .position(|channel| channel.key == schema_use.channel)
                else {
                    continue;
                };
                let subject = schema_use
                    .subject
                    .clone()
                    .unwrap_or_else(|| schema_use.location.clone());
                let schema = node_id("schema", &[&subject]);
                let schema_owners = FileSet::owners_of(
                    set,
                    std::iter::once(document.path.as_str()).chain(schema_use.file.as_deref()),
                );
                self.graph.node(
                    &schema,
                    "schema",
                    &subject,
                    labels([
                        ("subject", schema_use.subject.clone().unwrap_or_default()),
                        ("argocd", schema_owners),
                        ("format", schema_use.format.as_str().to_string()),
                        ("files", schema_use.file.clone().unwrap_or_default()),
                        (
                            "location",
                            if schema_use.file.is_none() {
                                schema_use.location.clone()
                            } else {
                                String::new()
                            },
                        ),
                    ]),
                );
                let role = match schema_use.role {
                    asyncapi::Role::Key => "key",
                    asyncapi::Role::Value => "value",
                };
                for target in channel_targets[channel_index].clone() {
                    self.graph.edge(
                        "uses-schema",
                        &target,
                        &schema,
                        labels([
                            ("role", role.to_string()),
                            ("source", "asyncapi".to_string()),
                            ("message", schema_use.message.clone()),
                            ("argocd", owners.clone()),
                        ]),
                    );
                }
            }
        }
        warnings
    }

    /// The topic or queue nodes a channel is.
    fn channel_targets(
        &mut self,
        document: &asyncapi::Document,
        channel: &asyncapi::Channel,
        topics: &TopicIndex<'_>,
    ) -> Vec<String> {
        let mq_server = channel
            .servers_in(document)
            .iter()
            .any(|server| server.protocol.eq_ignore_ascii_case("ibmmq"));
        if channel.mq_queue.is_some() || (mq_server && !channel.is_kafka(document)) {
            let Some(queue) = channel.mq_queue.clone().or_else(|| channel.address.clone()) else {
                return Vec::new();
            };
            let found: Vec<String> = self
                .graph
                .nodes
                .values()
                .filter(|node| node.kind == "queue" && node.name == queue)
                .map(|node| node.id.clone())
                .collect();
            if !found.is_empty() {
                return found;
            }
            let id = node_id("queue", &[&queue]);
            self.graph.node(
                &id,
                "queue",
                &queue,
                labels([
                    ("declared", "false".to_string()),
                    ("namedBy", document.path.clone()),
                ]),
            );
            return vec![id];
        }
        if !channel.is_kafka(document) {
            return Vec::new();
        }
        let Some(topic) = channel.topic() else {
            return Vec::new();
        };
        let clusters = channel.clusters(document);
        let matched: Vec<String> = topics
            .matching(topic, &clusters)
            .iter()
            .map(|info| {
                Self::topic_id(
                    info.id.namespace(),
                    info.cluster.as_deref().unwrap_or_default(),
                    &info.name,
                )
            })
            .collect();
        if !matched.is_empty() {
            return matched;
        }
        let (cluster, namespace) = clusters
            .first()
            .map(|(cluster, namespace)| (cluster.clone(), namespace.clone().unwrap_or_default()))
            .unwrap_or_default();
        vec![self.named_topic(&namespace, &cluster, topic, &document.path)]
    }
}

fn labels_of<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// Builds the topology of `sources`.
pub fn build(sources: &Sources<'_>) -> Topology {
    let objects: BTreeMap<ObjectId, &Value> = sources
        .objects
        .iter()
        .filter_map(|object| ObjectId::of(object).map(|id| (id, object)))
        .collect();
    let topic_objects: Vec<(ObjectId, Value)> = objects
        .iter()
        .filter(|(id, _)| {
            id.kind() == "KafkaTopic" && crate::kafka::KAFKA_GROUPS.contains(&id.group())
        })
        .map(|(id, object)| (id.clone(), (*object).clone()))
        .collect();
    let topics = TopicIndex::of(topic_objects.iter().map(|(id, object)| (id, object)));
    let mut builder = Builder {
        objects,
        owners: sources.owners,
        graph: Graph::default(),
    };
    builder.clusters();
    builder.topics(&topics);
    builder.users(&topics);
    builder.applications(&topics);
    builder.connectors(&topics);
    builder.mirror_makers();
    builder.queue_managers();
    builder.subject_files(&topics, sources.files, None);
    let mut warnings = builder.documents(&topics, sources.files, None);
    for set in sources.file_sets {
        builder.subject_files(&topics, &set.files, Some(set));
        for warning in builder.documents(&topics, &set.files, Some(set)) {
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
    }
    builder.graph.finish(warnings)
}

impl Topology {
    /// The graph as JSON: `{nodes: [{id, kind, name, labels}], edges: [{kind, from, to,
    /// labels}], warnings?}`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("strings and maps serialise")
    }

    /// The graph as Graphviz DOT: nodes grouped by their Argo CD Application, shaped by kind;
    /// `consumes` and sink `connects` edges drawn from the topic to the reader.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph topology {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
        let mut groups: BTreeMap<&str, Vec<&Node>> = BTreeMap::new();
        for node in &self.nodes {
            groups
                .entry(
                    node.labels
                        .get("argocd")
                        .map(String::as_str)
                        .unwrap_or_default(),
                )
                .or_default()
                .push(node);
        }
        for (group, nodes) in &groups {
            let indent = if group.is_empty() {
                "  "
            } else {
                out.push_str(&format!(
                    "  subgraph {} {{\n    label={};\n    style=rounded;\n    color=gray60;\n",
                    quote(&format!("cluster_{group}")),
                    quote(group)
                ));
                "    "
            };
            for node in nodes {
                let (shape, style) = match node.kind.as_str() {
                    "application" => ("box", "rounded"),
                    "kafka" => ("cylinder", ""),
                    "topic" => ("cds", ""),
                    "schema" => ("note", ""),
                    "user" => ("oval", ""),
                    "group" => ("oval", "dashed"),
                    "connect" => ("box3d", ""),
                    "connector" => ("component", ""),
                    "queue-manager" => ("cylinder", ""),
                    "queue" => ("cds", "filled"),
                    _ => ("box", ""),
                };
                let style = if node.labels.get("declared").map(String::as_str) == Some("false") {
                    if style.is_empty() {
                        "dashed".to_string()
                    } else {
                        format!("{style},dashed")
                    }
                } else {
                    style.to_string()
                };
                let mut attributes = vec![
                    format!("label={}", quote(&format!("{}\n{}", node.name, node.kind))),
                    format!("shape={shape}"),
                ];
                if !style.is_empty() {
                    attributes.push(format!("style={}", quote(&style)));
                }
                if node.kind == "queue" {
                    attributes.push("fillcolor=\"#eef3ff\"".to_string());
                }
                out.push_str(&format!(
                    "{indent}{} [{}];\n",
                    quote(&node.id),
                    attributes.join(", ")
                ));
            }
            if !group.is_empty() {
                out.push_str("  }\n");
            }
        }
        for edge in &self.edges {
            let reversed = edge.kind == "consumes"
                || (edge.kind == "connects"
                    && edge.labels.get("direction").map(String::as_str) == Some("sink"));
            let (from, to) = if reversed {
                (&edge.to, &edge.from)
            } else {
                (&edge.from, &edge.to)
            };
            let style = match edge.kind.as_str() {
                "acl" | "runs-as" => ", style=dashed",
                "uses-schema" | "hosts" => ", style=dotted",
                "mirrors" => ", style=bold",
                _ => "",
            };
            out.push_str(&format!(
                "  {} -> {} [label={}{style}];\n",
                quote(from),
                quote(to),
                quote(&edge.kind)
            ));
        }
        out.push_str("}\n");
        out
    }
}

/// A DOT quoted string.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mqsc() {
        let text = "* queues\nDEFINE QLOCAL('STORE.REPLENISHMENT') DEFPSIST(YES) +\n  MAXDEPTH(50000) REPLACE\nDEF QL(dlq) REPLACE\nDEFINE QALIAS('A') TARGET('STORE.REPLENISHMENT')\nDEFINE QREMOTE ('R') RNAME('X') RQMNAME('QM2') XMITQ('QM2.XMIT')\nALTER QMGR DEADQ('DLQ')\nDEFINE CHANNEL('C') CHLTYPE(SVRCONN)\nDEFINE QLOCAL('IT''S') -\nREPLACE\n";
        let (queues, dead) = parse_mqsc(text);
        let names: Vec<(&str, &str)> = queues
            .iter()
            .map(|queue| (queue.kind, queue.name.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("local", "STORE.REPLENISHMENT"),
                ("local", "DLQ"),
                ("alias", "A"),
                ("remote", "R"),
                ("local", "IT'S")
            ]
        );
        assert_eq!(
            queues[2].attributes.get("target").map(String::as_str),
            Some("STORE.REPLENISHMENT")
        );
        assert_eq!(
            queues[3].attributes.get("rqmname").map(String::as_str),
            Some("QM2")
        );
        assert_eq!(dead.as_deref(), Some("DLQ"));
    }

    #[test]
    fn hashed_names() {
        assert!(is_hashed_name(
            "replenishment-mqsc-gc92f7fgd4",
            "replenishment-mqsc"
        ));
        assert!(is_hashed_name("replenishment-mqsc", "replenishment-mqsc"));
        assert!(!is_hashed_name(
            "replenishment-mqsc-other",
            "replenishment-mqsc"
        ));
    }

    #[test]
    fn tracking_ids() {
        let object = serde_json::json!({"metadata": {"annotations": {"argocd.argoproj.io/tracking-id": "kafka-dev:kafka.strimzi.io/KafkaTopic:inventory-dev/items"}}});
        assert_eq!(tracking_owner(&object).as_deref(), Some("kafka-dev"));
    }

    #[test]
    fn dot_quotes() {
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }
}
