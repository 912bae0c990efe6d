//! AsyncAPI 2.x (2.0–2.6) and 3.x documents of the repository, read into one model and checked
//! against the rendered objects.
//!
//! Documents are the repository files of a [`Change`] (`files_after`) ending in `.yaml`, `.yml`
//! or `.json` whose top level has an `asyncapi` key. Both versions become a [`Document`]:
//! servers, channels (the Kafka channel binding: `topic`, `partitions`, `replicas`,
//! `topicConfiguration`; an IBM MQ binding's queue), operations (2.x `subscribe` is the
//! application sending, `publish` the application receiving, as the 2.x specification defines
//! them; 3.x `action: send|receive`; Kafka operation bindings `groupId`, `clientId`) and messages
//! (payload and Kafka key schemas, their format and the file they are, when they are a whole
//! file). `$ref`s are followed within the repository files (`refs`).
//!
//! Which application an operation belongs to: its `x-application`, else the document's
//! `info.x-application`, else its Kafka `clientId` (when it names one), else the document's
//! `info.title`. Which KafkaUser it runs as: its `x-kafka-user`, else `info.x-kafka-user`, else
//! a KafkaUser named like the application or the client id.
//!
//! The rules (`rules.rs`) and the schema subjects a document uses ([`schema_uses`],
//! [`subjects`]: subject → schema files, for the schema compatibility checks) are built on this
//! model; the event topology reads it too.

pub mod refs;
pub mod rules;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::objects::{Change, ObjectId};
pub use refs::{Location, Repository};
pub use rules::check;

/// One AsyncAPI document.
#[derive(Clone, Debug)]
pub struct Document {
    /// The repository path of the document.
    pub path: String,
    /// The `asyncapi` version (`2.6.0`, `3.0.0`).
    pub version: String,
    pub title: String,
    /// `info.x-application`.
    pub application: Option<String>,
    /// `info.x-kafka-user`.
    pub kafka_user: Option<String>,
    pub servers: Vec<Server>,
    pub channels: Vec<Channel>,
    pub operations: Vec<Operation>,
}

/// A server of a document.
#[derive(Clone, Debug)]
pub struct Server {
    pub name: String,
    /// The host (and port) the server names, without a scheme (2.x `url`, 3.x `host`).
    pub host: String,
    pub protocol: String,
}

impl Server {
    /// Whether the server is a Kafka broker (`kafka`, `kafka-secure`).
    pub fn is_kafka(&self) -> bool {
        self.protocol.to_ascii_lowercase().starts_with("kafka")
    }

    /// The Strimzi cluster (and namespace) a Kafka server's host names: a bootstrap service
    /// `<cluster>-kafka-bootstrap[.<namespace>[.svc…]]:<port>` (or any `<cluster>-kafka-…`
    /// service or route).
    pub fn strimzi_cluster(&self) -> Option<(String, Option<String>)> {
        let host = self.host.split(',').next().unwrap_or_default().trim();
        let host = host.rsplit_once("://").map_or(host, |(_, rest)| rest);
        let host = host.split(['/', ':']).next().unwrap_or_default();
        let labels: Vec<&str> = host.split('.').collect();
        let first = labels.first()?;
        let (cluster, _) = first.split_once("-kafka-")?;
        if cluster.is_empty() || cluster.contains('{') {
            return None;
        }
        let namespace = (labels.len() == 2 || labels.get(2) == Some(&"svc"))
            .then(|| labels.get(1).map(|namespace| namespace.to_string()))
            .flatten();
        Some((cluster.to_string(), namespace))
    }
}

/// A channel: a Kafka topic, an MQ queue, or something else.
#[derive(Clone, Debug)]
pub struct Channel {
    /// The key in `channels` (a 2.x channel's key is its address).
    pub key: String,
    /// The address (3.x `address`, 2.x the key); `None` when unknown.
    pub address: Option<String>,
    /// The servers it is available on (empty: all of the document's).
    pub servers: Vec<String>,
    pub kafka: Option<KafkaChannel>,
    /// The queue of an `ibmmq` channel binding (`queue.objectName`).
    pub mq_queue: Option<String>,
    pub messages: Vec<Message>,
    /// Where the channel is.
    pub at: Location,
}

impl Channel {
    /// The Kafka topic the channel is: the binding's `topic`, else the address; `None` for an
    /// address with parameters (`orders.{region}`).
    pub fn topic(&self) -> Option<&str> {
        let topic = self
            .kafka
            .as_ref()
            .and_then(|kafka| kafka.topic.as_deref())
            .or(self.address.as_deref())?;
        (!topic.contains('{') && !topic.is_empty()).then_some(topic)
    }

    /// The servers of the document this channel is on.
    pub fn servers_in<'d>(&'d self, document: &'d Document) -> Vec<&'d Server> {
        document
            .servers
            .iter()
            .filter(|server| self.servers.is_empty() || self.servers.contains(&server.name))
            .collect()
    }

    /// The Strimzi clusters (name, namespace when the host says it) the channel's Kafka servers
    /// name; empty when none does (any cluster may be meant).
    pub fn clusters(&self, document: &Document) -> Vec<(String, Option<String>)> {
        let mut clusters: Vec<_> = self
            .servers_in(document)
            .into_iter()
            .filter(|server| server.is_kafka())
            .filter_map(Server::strimzi_cluster)
            .collect();
        clusters.sort();
        clusters.dedup();
        clusters
    }

    /// Whether the channel is a Kafka topic: a Kafka binding, or a Kafka server.
    pub fn is_kafka(&self, document: &Document) -> bool {
        self.kafka.is_some()
            || (self.mq_queue.is_none()
                && self
                    .servers_in(document)
                    .iter()
                    .any(|server| server.is_kafka()))
    }
}

/// A channel's Kafka binding.
#[derive(Clone, Debug)]
pub struct KafkaChannel {
    pub topic: Option<String>,
    pub partitions: Option<i64>,
    pub replicas: Option<i64>,
    /// `topicConfiguration`, in the document's order.
    pub topic_configuration: Vec<(String, Value)>,
    /// Where the binding is.
    pub at: Location,
}

/// What an operation does on its channel, from the application's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Send,
    Receive,
}

/// An operation of the application on a channel.
#[derive(Clone, Debug)]
pub struct Operation {
    /// `operationId` (2.x) or the key in `operations` (3.x).
    pub id: String,
    pub action: Action,
    /// Index into the document's channels.
    pub channel: usize,
    /// Indices into the channel's messages.
    pub messages: Vec<usize>,
    /// `x-application` of the operation.
    pub application: Option<String>,
    /// `x-kafka-user` of the operation.
    pub kafka_user: Option<String>,
    /// The Kafka binding's `groupId`s and `clientId`s (a string, or a schema's `enum`, `const`
    /// or `default`).
    pub group_ids: Vec<String>,
    pub client_ids: Vec<String>,
    pub at: Location,
}

impl Operation {
    /// The application the operation belongs to (see the module's documentation).
    pub fn application_name(&self, document: &Document) -> String {
        self.application
            .clone()
            .or_else(|| document.application.clone())
            .or_else(|| single(&self.client_ids))
            .unwrap_or_else(|| document.title.clone())
    }

    /// The KafkaUser names the operation may run as, the explicit one first, and whether one
    /// was named explicitly.
    pub fn user_candidates(&self, document: &Document) -> (Vec<String>, bool) {
        if let Some(user) = self
            .kafka_user
            .clone()
            .or_else(|| document.kafka_user.clone())
        {
            return (vec![user], true);
        }
        let mut names = vec![self.application_name(document)];
        names.extend(self.client_ids.iter().cloned());
        names.dedup();
        (names, false)
    }
}

fn single(values: &[String]) -> Option<String> {
    match values {
        [value] => Some(value.clone()),
        _ => None,
    }
}

/// A message of a channel.
#[derive(Clone, Debug)]
pub struct Message {
    pub name: String,
    pub payload: Option<Payload>,
    /// The Kafka message binding's `key`.
    pub key: Option<Payload>,
    /// The Kafka message binding's `schemaLookupStrategy`.
    pub lookup_strategy: Option<String>,
    /// Where the message is written (3.x: in its channel's `messages`, where operations point).
    pub at: Location,
    /// Where the message object is, after `$ref`s.
    pub defined_at: Location,
}

/// The format of a schema.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaFormat {
    Avro,
    JsonSchema,
    Protobuf,
    /// The AsyncAPI Schema Object (a JSON Schema superset), the default.
    AsyncApi,
    Other(String),
}

impl SchemaFormat {
    /// From a `schemaFormat` media type, else from the schema file's extension.
    pub fn of(schema_format: Option<&str>, file: Option<&str>) -> SchemaFormat {
        if let Some(format) = schema_format {
            let lower = format.to_ascii_lowercase();
            return if lower.contains("avro") {
                SchemaFormat::Avro
            } else if lower.contains("protobuf") {
                SchemaFormat::Protobuf
            } else if lower.contains("schema+json")
                || lower.contains("schema+yaml")
                || lower.contains("jsonschema")
                || lower.contains("json-schema")
            {
                SchemaFormat::JsonSchema
            } else if lower.contains("asyncapi") {
                SchemaFormat::AsyncApi
            } else {
                SchemaFormat::Other(format.to_string())
            };
        }
        let file = file.unwrap_or_default().to_ascii_lowercase();
        if file.ends_with(".avsc") {
            SchemaFormat::Avro
        } else if file.ends_with(".proto") {
            SchemaFormat::Protobuf
        } else {
            SchemaFormat::AsyncApi
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            SchemaFormat::Avro => "avro",
            SchemaFormat::JsonSchema => "json-schema",
            SchemaFormat::Protobuf => "protobuf",
            SchemaFormat::AsyncApi => "asyncapi",
            SchemaFormat::Other(format) => format,
        }
    }
}

/// A payload or key schema.
#[derive(Clone, Debug)]
pub struct Payload {
    pub format: SchemaFormat,
    /// The repository file the schema is, when it is a whole file (`$ref: ./item.avsc`).
    pub file: Option<String>,
    /// Where the schema is (after following `$ref`s).
    pub at: Location,
    /// The schema (the text of an opaque file such as a `.proto`, as a string).
    pub schema: Value,
}

impl Payload {
    /// The record name the registries' `RecordNameStrategy` uses: an Avro record's full name,
    /// a JSON Schema's `title`, a Protobuf file's first message with its package.
    pub fn record_name(&self) -> Option<String> {
        match self.format {
            SchemaFormat::Avro => {
                let name = self.schema["name"].as_str()?;
                match self.schema["namespace"].as_str() {
                    Some(namespace) if !name.contains('.') && !namespace.is_empty() => {
                        Some(format!("{namespace}.{name}"))
                    }
                    _ => Some(name.to_string()),
                }
            }
            SchemaFormat::Protobuf => {
                let text = self.schema.as_str()?;
                let mut package = None;
                for line in text.lines() {
                    let line = line.trim();
                    if let Some(rest) = line.strip_prefix("package ") {
                        package = Some(rest.trim_end_matches(';').trim().to_string());
                    } else if let Some(rest) = line.strip_prefix("message ") {
                        let name = rest.split(|c: char| c == '{' || c.is_whitespace()).next()?;
                        return Some(match package {
                            Some(package) => format!("{package}.{name}"),
                            None => name.to_string(),
                        });
                    }
                }
                None
            }
            _ => self.schema["title"].as_str().map(str::to_string),
        }
    }
}

/// A problem with a document: it does not parse, is not a document this module reads, or a
/// `$ref` does not resolve.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The document the problem was found in (the finding's object).
    pub document: String,
    pub kind: ProblemKind,
    /// Where (the file may be another file the document reads).
    pub at: Location,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProblemKind {
    Invalid,
    Unresolved,
}

/// The documents of a set of repository files, and the problems met reading them.
#[derive(Clone, Debug, Default)]
pub struct Documents {
    pub documents: Vec<Document>,
    pub problems: Vec<Problem>,
}

/// Reads every AsyncAPI document among `repository`'s files, in path order.
pub fn read_documents(repository: &Repository<'_>) -> Documents {
    let mut documents = Documents::default();
    for (path, text) in repository.files() {
        let lower = path.to_ascii_lowercase();
        if !(lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json")) {
            continue;
        }
        if !text.contains("asyncapi") {
            continue;
        }
        let parsed = repository.parsed(path);
        match &*parsed {
            refs::Parsed::Tree(tree) => {
                let Some(version) = version_of(tree) else {
                    continue;
                };
                let mut reader = Reader {
                    repository,
                    path: path.clone(),
                    problems: Vec::new(),
                };
                if let Some(document) = reader.document(tree, &version) {
                    documents.documents.push(document);
                }
                reader.check_references(tree);
                documents.problems.extend(reader.problems);
            }
            refs::Parsed::Invalid {
                line,
                column,
                message,
            } if looks_like_asyncapi(text) => documents.problems.push(Problem {
                document: path.clone(),
                kind: ProblemKind::Invalid,
                at: Location::new(path, ""),
                message: format!("{path}:{line}:{column}: {message}"),
            }),
            _ => {}
        }
    }
    documents.problems.sort();
    documents.problems.dedup();
    documents
}

fn version_of(tree: &Value) -> Option<String> {
    match tree.get("asyncapi")? {
        Value::String(version) => Some(version.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => Some(String::new()),
    }
}

/// Text that does not parse but says it is an AsyncAPI document.
fn looks_like_asyncapi(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start_matches(['{', ' ']);
        line.starts_with("asyncapi:") || line.starts_with("\"asyncapi\"")
    })
}

/// The pseudo-object findings about a document are on: kind `AsyncAPI`, named by its path.
pub fn document_object(path: &str) -> ObjectId {
    ObjectId::new("", "AsyncAPI", "", path)
}

/// Most nodes the reference check walks per document (its files included).
const MAX_WALK: usize = 200_000;

struct Reader<'r, 'a> {
    repository: &'r Repository<'a>,
    path: String,
    problems: Vec<Problem>,
}

impl Reader<'_, '_> {
    fn invalid(&mut self, at: &Location, message: impl Into<String>) {
        let message = format!("{}: {}", self.repository.describe(at), message.into());
        self.problems.push(Problem {
            document: self.path.clone(),
            kind: ProblemKind::Invalid,
            at: at.clone(),
            message,
        });
    }

    /// Follows a `$ref`; a reference that does not resolve reads as absent (the reference
    /// check reports it), except a loop, reported here.
    fn resolve(&mut self, at: &Location, value: &Value) -> Option<(Location, Value)> {
        match self.repository.resolve(at, value) {
            Ok(resolved) => Some(resolved),
            Err(error @ (refs::RefError::Cycle(_) | refs::RefError::TooManyHops(_))) => {
                let message = format!("{}: {error}", self.repository.describe(at));
                self.problems.push(Problem {
                    document: self.path.clone(),
                    kind: ProblemKind::Unresolved,
                    at: at.clone(),
                    message,
                });
                None
            }
            Err(_) => None,
        }
    }

    /// The child `key` of a resolved mapping, itself resolved.
    fn field(&mut self, parent: &(Location, Value), key: &str) -> Option<(Location, Value)> {
        let value = parent.1.get(key)?;
        if value.is_null() {
            return None;
        }
        self.resolve(&parent.0.child(key), value)
    }

    fn mapping_entries(
        &mut self,
        parent: &(Location, Value),
        key: &str,
    ) -> Vec<(String, Location, Value)> {
        let Some(value) = parent.1.get(key) else {
            return Vec::new();
        };
        let at = parent.0.child(key);
        let Some((at, value)) = self.resolve(&at, value) else {
            return Vec::new();
        };
        match value {
            Value::Object(map) => map
                .into_iter()
                .filter(|(name, _)| !name.starts_with("x-"))
                .map(|(name, value)| (name.clone(), at.child(&name), value))
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.invalid(&at, format!("`{key}` must be a mapping"));
                Vec::new()
            }
        }
    }

    fn document(&mut self, tree: &Value, version: &str) -> Option<Document> {
        let root = Location::new(&self.path, "");
        let major = if version.starts_with("2.") {
            2
        } else if version.starts_with("3.") {
            3
        } else {
            self.invalid(
                &root.child("asyncapi"),
                format!("AsyncAPI `{version}` is not read (2.x and 3.x are); the document is not checked"),
            );
            return None;
        };
        if !tree.is_object() {
            self.invalid(&root, "an AsyncAPI document must be a mapping");
            return None;
        }
        let top = (root.clone(), tree.clone());
        let info = self.field(&top, "info");
        let text_of = |info: &Option<(Location, Value)>, key: &str| {
            info.as_ref()
                .and_then(|(_, info)| info.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let mut document = Document {
            path: self.path.clone(),
            version: version.to_string(),
            title: text_of(&info, "title").unwrap_or_else(|| self.path.clone()),
            application: text_of(&info, "x-application"),
            kafka_user: text_of(&info, "x-kafka-user"),
            servers: Vec::new(),
            channels: Vec::new(),
            operations: Vec::new(),
        };
        for (name, at, value) in self.mapping_entries(&top, "servers") {
            let Some((at, server)) = self.resolve(&at, &value) else {
                continue;
            };
            if !server.is_object() {
                self.invalid(&at, "a server must be a mapping");
                continue;
            }
            let host = if major == 2 {
                server["url"].as_str().unwrap_or_default().to_string()
            } else {
                server["host"].as_str().unwrap_or_default().to_string()
            };
            let host = host
                .rsplit_once("://")
                .map_or(host.clone(), |(_, rest)| rest.to_string());
            document.servers.push(Server {
                name,
                host,
                protocol: server["protocol"].as_str().unwrap_or_default().to_string(),
            });
        }
        if major == 2 {
            self.channels_v2(&top, &mut document);
        } else {
            self.channels_v3(&top, &mut document);
            self.operations_v3(&top, &mut document);
        }
        Some(document)
    }

    fn channel_common(&mut self, key: &str, channel: &(Location, Value)) -> Channel {
        let mut result = Channel {
            key: key.to_string(),
            address: None,
            servers: Vec::new(),
            kafka: None,
            mq_queue: None,
            messages: Vec::new(),
            at: channel.0.clone(),
        };
        if let Some(Value::Array(servers)) = channel.1.get("servers") {
            for (index, server) in servers.iter().enumerate() {
                match server {
                    Value::String(name) => result.servers.push(name.clone()),
                    other => match refs::reference_of(other) {
                        Some(reference) => result.servers.push(
                            reference
                                .rsplit('/')
                                .next()
                                .unwrap_or_default()
                                .replace("~1", "/")
                                .replace("~0", "~"),
                        ),
                        None => self.invalid(
                            &channel.0.child("servers").child(&index.to_string()),
                            "a channel's server must be a name (2.x) or a `$ref` (3.x)",
                        ),
                    },
                }
            }
        }
        if let Some(bindings) = self.field(channel, "bindings") {
            if let Some(kafka) = self.field(&bindings, "kafka") {
                result.kafka = self.kafka_channel(&kafka);
            }
            if let Some(mq) = self.field(&bindings, "ibmmq") {
                result.mq_queue = mq.1["queue"]["objectName"].as_str().map(str::to_string);
            }
        }
        result
    }

    fn kafka_channel(&mut self, kafka: &(Location, Value)) -> Option<KafkaChannel> {
        let (at, binding) = kafka;
        if !binding.is_object() {
            self.invalid(at, "a Kafka channel binding must be a mapping");
            return None;
        }
        let integer = |reader: &mut Self, key: &str| match binding.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_i64() {
                Some(number) if number > 0 => Some(number),
                _ => {
                    reader.invalid(
                        &at.child(key),
                        format!("`{key}` must be a positive integer, not {value}"),
                    );
                    None
                }
            },
        };
        let partitions = integer(self, "partitions");
        let replicas = integer(self, "replicas");
        let topic = match binding.get("topic") {
            None | Some(Value::Null) => None,
            Some(Value::String(topic)) => Some(topic.clone()),
            Some(other) => {
                self.invalid(
                    &at.child("topic"),
                    format!("`topic` must be a string, not {other}"),
                );
                None
            }
        };
        let mut topic_configuration = Vec::new();
        if let Some(configuration) = self.field(kafka, "topicConfiguration") {
            match configuration.1 {
                Value::Object(map) => {
                    topic_configuration.extend(map);
                }
                _ => self.invalid(&configuration.0, "`topicConfiguration` must be a mapping"),
            }
        }
        Some(KafkaChannel {
            topic,
            partitions,
            replicas,
            topic_configuration,
            at: at.clone(),
        })
    }

    fn channels_v2(&mut self, top: &(Location, Value), document: &mut Document) {
        for (key, at, value) in self.mapping_entries(top, "channels") {
            let Some(channel) = self.resolve(&at, &value) else {
                continue;
            };
            if !channel.1.is_object() {
                self.invalid(&channel.0, "a channel must be a mapping");
                continue;
            }
            let mut result = self.channel_common(&key, &channel);
            result.address = Some(key.clone());
            let index = document.channels.len();
            let mut operations = Vec::new();
            for (field, action) in [("subscribe", Action::Send), ("publish", Action::Receive)] {
                let Some(operation) = self.field(&channel, field) else {
                    continue;
                };
                if !operation.1.is_object() {
                    self.invalid(&operation.0, format!("`{field}` must be an operation"));
                    continue;
                }
                let mut messages = Vec::new();
                if let Some(message) = self.field(&operation, "message") {
                    let alternatives = match message.1.get("oneOf") {
                        Some(Value::Array(items)) => items
                            .iter()
                            .enumerate()
                            .filter_map(|(index, item)| {
                                self.resolve(
                                    &message.0.child("oneOf").child(&index.to_string()),
                                    item,
                                )
                            })
                            .collect(),
                        _ => vec![message],
                    };
                    for message in alternatives {
                        let parsed = self.message(&message, None, 2);
                        messages.push(push_message(&mut result.messages, parsed));
                    }
                }
                let id = operation.1["operationId"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{key}.{field}"));
                operations.push(self.operation(&operation, id, action, index, messages));
            }
            document.channels.push(result);
            document.operations.extend(operations);
        }
    }

    fn channels_v3(&mut self, top: &(Location, Value), document: &mut Document) {
        for (key, at, value) in self.mapping_entries(top, "channels") {
            let Some(channel) = self.resolve(&at, &value) else {
                continue;
            };
            if !channel.1.is_object() {
                self.invalid(&channel.0, "a channel must be a mapping");
                continue;
            }
            let mut result = self.channel_common(&key, &channel);
            result.address = match channel.1.get("address") {
                Some(Value::String(address)) => Some(address.clone()),
                None | Some(Value::Null) => None,
                Some(other) => {
                    self.invalid(
                        &channel.0.child("address"),
                        format!("`address` must be a string or null, not {other}"),
                    );
                    None
                }
            };
            // Messages are known by where they are written in the channel (operations point
            // there) and where they resolve to.
            for (name, at, value) in self.mapping_entries(&channel, "messages") {
                let Some(message) = self.resolve(&at, &value) else {
                    continue;
                };
                let mut parsed = self.message(&message, Some(&name), 3);
                parsed.at = at;
                result.messages.push(parsed);
            }
            document.channels.push(result);
        }
    }

    fn operations_v3(&mut self, top: &(Location, Value), document: &mut Document) {
        for (key, at, value) in self.mapping_entries(top, "operations") {
            let Some(operation) = self.resolve(&at, &value) else {
                continue;
            };
            if !operation.1.is_object() {
                self.invalid(&operation.0, "an operation must be a mapping");
                continue;
            }
            let action = match operation.1["action"].as_str() {
                Some("send") => Action::Send,
                Some("receive") => Action::Receive,
                other => {
                    self.invalid(
                        &operation.0.child("action"),
                        format!(
                            "`action` must be `send` or `receive`, not {}",
                            other.map_or("nothing".to_string(), |other| format!("`{other}`"))
                        ),
                    );
                    continue;
                }
            };
            let channel_at = operation.0.child("channel");
            let channel_index = match refs::reference_of(&operation.1["channel"]) {
                Some(reference) => match refs::target(&operation.0.file, reference) {
                    Ok(refs::Target::Node(target)) => {
                        document.channels.iter().position(|channel| {
                            channel.at == target
                                || Location::new(&document.path, "")
                                    .child("channels")
                                    .child(&channel.key)
                                    == target
                        })
                    }
                    _ => None,
                },
                None => {
                    self.invalid(
                        &channel_at,
                        "an operation's `channel` must be a `$ref` to a channel",
                    );
                    continue;
                }
            };
            let Some(channel_index) = channel_index else {
                self.invalid(
                    &channel_at,
                    "the operation's `channel` names no channel of the document",
                );
                continue;
            };
            let mut messages = Vec::new();
            match operation.1.get("messages") {
                Some(Value::Array(items)) => {
                    for (index, item) in items.iter().enumerate() {
                        let item_at = operation.0.child("messages").child(&index.to_string());
                        let target = refs::reference_of(item)
                            .and_then(|reference| refs::target(&item_at.file, reference).ok());
                        let Some(refs::Target::Node(target)) = target else {
                            self.invalid(&item_at, "an operation's message must be a `$ref` to a message of its channel");
                            continue;
                        };
                        let channel = &document.channels[channel_index];
                        let mut found = channel
                            .messages
                            .iter()
                            .position(|message| message.at == target);
                        let resolved = if found.is_none() {
                            self.resolve(&item_at, item)
                        } else {
                            None
                        };
                        if let Some((resolved_at, _)) = &resolved {
                            found = channel
                                .messages
                                .iter()
                                .position(|message| &message.defined_at == resolved_at);
                        }
                        match found {
                            Some(found) => messages.push(found),
                            None => {
                                // Not one of the channel's messages: read it where it points.
                                let Some(message) = resolved else {
                                    continue;
                                };
                                self.invalid(
                                    &item_at,
                                    format!(
                                        "the message is not one of channel `{}`'s messages",
                                        channel.key
                                    ),
                                );
                                let parsed = self.message(&message, None, 3);
                                messages.push(push_message(
                                    &mut document.channels[channel_index].messages,
                                    parsed,
                                ));
                            }
                        }
                    }
                }
                None | Some(Value::Null) => {
                    messages = (0..document.channels[channel_index].messages.len()).collect();
                }
                Some(_) => {
                    self.invalid(&operation.0.child("messages"), "`messages` must be a list")
                }
            }
            let parsed = self.operation(&operation, key, action, channel_index, messages);
            document.operations.push(parsed);
        }
    }

    fn operation(
        &mut self,
        operation: &(Location, Value),
        id: String,
        action: Action,
        channel: usize,
        messages: Vec<usize>,
    ) -> Operation {
        let mut kafka = self
            .field(operation, "bindings")
            .and_then(|bindings| self.field(&bindings, "kafka"));
        if kafka.is_none() {
            // Traits may carry the bindings.
            if let Some(Value::Array(traits)) = operation.1.get("traits") {
                for (index, item) in traits.iter().enumerate() {
                    let at = operation.0.child("traits").child(&index.to_string());
                    let found = self
                        .resolve(&at, item)
                        .and_then(|item| self.field(&item, "bindings"))
                        .and_then(|bindings| self.field(&bindings, "kafka"));
                    if found.is_some() {
                        kafka = found;
                        break;
                    }
                }
            }
        }
        let (group_ids, client_ids) = match &kafka {
            Some(kafka) => (self.names(kafka, "groupId"), self.names(kafka, "clientId")),
            None => (Vec::new(), Vec::new()),
        };
        let text = |key: &str| operation.1[key].as_str().map(str::to_string);
        Operation {
            id,
            action,
            channel,
            messages,
            application: text("x-application"),
            kafka_user: text("x-kafka-user"),
            group_ids,
            client_ids,
            at: operation.0.clone(),
        }
    }

    /// The names a binding field gives: a string, or a schema's `enum`, `const` or `default`.
    fn names(&mut self, binding: &(Location, Value), key: &str) -> Vec<String> {
        let Some((_, value)) = self.field(binding, key) else {
            return Vec::new();
        };
        match &value {
            Value::String(name) => vec![name.clone()],
            Value::Object(schema) => {
                if let Some(Value::Array(items)) = schema.get("enum") {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                } else {
                    schema
                        .get("const")
                        .or_else(|| schema.get("default"))
                        .and_then(Value::as_str)
                        .map(|name| vec![name.to_string()])
                        .unwrap_or_default()
                }
            }
            _ => Vec::new(),
        }
    }

    fn message(&mut self, message: &(Location, Value), name: Option<&str>, major: u8) -> Message {
        let name = message.1["name"]
            .as_str()
            .or_else(|| message.1["messageId"].as_str())
            .or(name)
            .map(str::to_string)
            .unwrap_or_else(|| {
                refs::tokens(&message.0.pointer)
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "message".to_string())
            });
        let schema_format = if major == 2 {
            message.1["schemaFormat"].as_str().map(str::to_string)
        } else {
            None
        };
        let payload = message
            .1
            .get("payload")
            .filter(|payload| !payload.is_null())
            .and_then(|payload| {
                self.payload(
                    &message.0.child("payload"),
                    payload,
                    schema_format.as_deref(),
                )
            });
        let kafka = self
            .field(message, "bindings")
            .and_then(|bindings| self.field(&bindings, "kafka"));
        let (key, lookup_strategy) = match &kafka {
            Some(kafka) => (
                kafka
                    .1
                    .get("key")
                    .filter(|key| !key.is_null())
                    .and_then(|key| self.payload(&kafka.0.child("key"), key, None)),
                kafka.1["schemaLookupStrategy"].as_str().map(str::to_string),
            ),
            None => (None, None),
        };
        Message {
            name,
            payload,
            key,
            lookup_strategy,
            at: message.0.clone(),
            defined_at: message.0.clone(),
        }
    }

    fn payload(
        &mut self,
        at: &Location,
        value: &Value,
        schema_format: Option<&str>,
    ) -> Option<Payload> {
        let (at, value) = self.resolve(at, value)?;
        // A 3.x Multi Format Schema Object: `{schemaFormat, schema}`.
        if let (Some(format), Some(schema)) = (value.get("schemaFormat"), value.get("schema")) {
            let format = format.as_str().map(str::to_string);
            let schema = schema.clone();
            return self.payload(&at.child("schema"), &schema, format.as_deref());
        }
        let file = at.pointer.is_empty().then(|| at.file.clone());
        Some(Payload {
            format: SchemaFormat::of(schema_format, file.as_deref()),
            file,
            at,
            schema: value,
        })
    }

    /// Reports every `$ref` reachable from the document that does not resolve, once.
    fn check_references(&mut self, tree: &Value) {
        let mut queue: Vec<(Location, Value)> = vec![(Location::new(&self.path, ""), tree.clone())];
        let mut seen = std::collections::HashSet::new();
        let mut budget = MAX_WALK;
        while let Some((at, value)) = queue.pop() {
            if budget == 0 {
                self.invalid(&at, format!("more than {MAX_WALK} schema nodes: references past this point are not checked"));
                return;
            }
            budget -= 1;
            match &value {
                Value::Object(map) => {
                    if let Some(Value::String(reference)) = map.get("$ref") {
                        let ref_at = at.child("$ref");
                        match refs::target(&at.file, reference) {
                            Ok(refs::Target::External(_)) => {}
                            Ok(refs::Target::Node(target)) => match self.repository.node(&target) {
                                Ok(node) => {
                                    if seen.insert(target.clone()) {
                                        queue.push((target, node));
                                    }
                                }
                                Err(error) => self.unresolved(&ref_at, reference, &error),
                            },
                            Err(error) => self.unresolved(&ref_at, reference, &error),
                        }
                    }
                    for (key, child) in map.iter().rev() {
                        if key == "$ref"
                            || child.is_string()
                            || child.is_number()
                            || child.is_boolean()
                        {
                            continue;
                        }
                        queue.push((at.child(key), child.clone()));
                    }
                }
                Value::Array(items) => {
                    for (index, child) in items.iter().enumerate().rev() {
                        if child.is_object() || child.is_array() {
                            queue.push((at.child(&index.to_string()), child.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn unresolved(&mut self, at: &Location, reference: &str, error: &refs::RefError) {
        let message = format!(
            "{}: `$ref: {reference}` does not resolve: {error}",
            self.repository.describe(at)
        );
        self.problems.push(Problem {
            document: self.path.clone(),
            kind: ProblemKind::Unresolved,
            at: at.clone(),
            message,
        });
    }
}

/// Adds a message to a channel's list unless it is there (by location); its index.
fn push_message(messages: &mut Vec<Message>, message: Message) -> usize {
    match messages.iter().position(|known| known.at == message.at) {
        Some(index) => index,
        None => {
            messages.push(message);
            messages.len() - 1
        }
    }
}

/// Which schema of a message a use is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Key,
    Value,
}

/// A message schema on a Kafka topic, and the registry subject it is registered under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaUse {
    pub document: String,
    pub channel: String,
    pub message: String,
    pub topic: String,
    pub role: Role,
    /// The subject (`items-value` under the default `TopicNameStrategy`); `None` when the
    /// strategy needs a record name the schema does not give.
    pub subject: Option<String>,
    pub format: SchemaFormat,
    /// The schema file, when the schema is a whole file.
    pub file: Option<String>,
    /// Where the schema is (`file#/pointer`).
    pub location: String,
    /// Where the message is (`file#/pointer`).
    pub message_location: String,
}

/// How a subject is named from a topic and a schema (the registries' strategies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectStrategy {
    /// `<topic>-key` / `<topic>-value` (Confluent's default; Apicurio's `TopicIdStrategy`).
    TopicName,
    /// The record's full name.
    RecordName,
    /// `<topic>-<record name>`.
    TopicRecordName,
    /// The topic itself (Apicurio's `SimpleTopicIdStrategy`).
    SimpleTopic,
}

impl SubjectStrategy {
    /// From a class name (`io.confluent.kafka.serializers.subject.RecordNameStrategy`,
    /// `TopicIdStrategy`, ...); `None` when the name is not one of these.
    pub fn parse(name: &str) -> Option<SubjectStrategy> {
        let short = name.rsplit('.').next().unwrap_or(name);
        match short {
            "TopicNameStrategy" | "TopicIdStrategy" => Some(SubjectStrategy::TopicName),
            "RecordNameStrategy" | "RecordIdStrategy" => Some(SubjectStrategy::RecordName),
            "TopicRecordNameStrategy" | "TopicRecordIdStrategy" => {
                Some(SubjectStrategy::TopicRecordName)
            }
            "SimpleTopicIdStrategy" => Some(SubjectStrategy::SimpleTopic),
            _ => None,
        }
    }

    pub fn subject(self, topic: &str, role: Role, record: Option<&str>) -> Option<String> {
        let suffix = match role {
            Role::Key => "key",
            Role::Value => "value",
        };
        match self {
            SubjectStrategy::TopicName => Some(format!("{topic}-{suffix}")),
            SubjectStrategy::RecordName => record.map(str::to_string),
            SubjectStrategy::TopicRecordName => record.map(|record| format!("{topic}-{record}")),
            SubjectStrategy::SimpleTopic => Some(topic.to_string()),
        }
    }
}

/// The strategy a topic's key or value uses: the message binding's `schemaLookupStrategy`,
/// else `confluent.<key|value>.subject.name.strategy` from the channel's topic configuration or
/// the KafkaTopic's `spec.config`, else `TopicNameStrategy`.
pub fn strategy_of(
    message: &Message,
    channel: &Channel,
    topic_objects: &[&Value],
    role: Role,
) -> SubjectStrategy {
    if let Some(strategy) = message
        .lookup_strategy
        .as_deref()
        .and_then(SubjectStrategy::parse)
    {
        return strategy;
    }
    let key = match role {
        Role::Key => "confluent.key.subject.name.strategy",
        Role::Value => "confluent.value.subject.name.strategy",
    };
    let from_channel = channel.kafka.as_ref().and_then(|kafka| {
        kafka
            .topic_configuration
            .iter()
            .find(|(name, _)| name == key)
            .and_then(|(_, value)| value.as_str())
    });
    let from_topic = topic_objects
        .iter()
        .find_map(|topic| topic["spec"]["config"][key].as_str());
    from_channel
        .or(from_topic)
        .and_then(SubjectStrategy::parse)
        .unwrap_or(SubjectStrategy::TopicName)
}

/// Every key and payload schema of the messages on Kafka channels of the change's documents,
/// with its subject.
pub fn schema_uses(change: &Change) -> Vec<SchemaUse> {
    let repository = Repository::new(&change.files_after);
    let documents = read_documents(&repository);
    let topics = rules::TopicIndex::new(change);
    let mut uses = Vec::new();
    for document in &documents.documents {
        uses.extend(document_schema_uses(document, &topics));
    }
    uses
}

pub(crate) fn document_schema_uses(
    document: &Document,
    topics: &rules::TopicIndex<'_>,
) -> Vec<SchemaUse> {
    let mut uses = Vec::new();
    for channel in &document.channels {
        if !channel.is_kafka(document) {
            continue;
        }
        let Some(topic) = channel.topic() else {
            continue;
        };
        let objects: Vec<&Value> = topics
            .matching(topic, &channel.clusters(document))
            .iter()
            .map(|topic| topic.object)
            .collect();
        for message in &channel.messages {
            for (role, payload) in [(Role::Key, &message.key), (Role::Value, &message.payload)] {
                let Some(payload) = payload else {
                    continue;
                };
                let strategy = strategy_of(message, channel, &objects, role);
                uses.push(SchemaUse {
                    document: document.path.clone(),
                    channel: channel.key.clone(),
                    message: message.name.clone(),
                    topic: topic.to_string(),
                    role,
                    subject: strategy.subject(topic, role, payload.record_name().as_deref()),
                    format: payload.format.clone(),
                    file: payload.file.clone(),
                    location: payload.at.to_string(),
                    message_location: message.at.to_string(),
                });
            }
        }
    }
    uses
}

/// Schema files by subject: the `.avsc`, `.proto` and `.json` files under `schemas/`
/// directories, a subject per file (its path below `schemas/` without the extension:
/// `schemas/items-value.avsc` is subject `items-value`, as `subjects.rs` names them),
/// and the whole-file payloads of the documents' messages under the subject their topic uses.
/// Each list is sorted and holds a file once. This is what the schema compatibility checks
/// read: the history of each file, at the subject's level.
pub fn subjects(change: &Change) -> BTreeMap<String, Vec<String>> {
    let mut subjects = subject_files(&change.files_after);
    for schema_use in schema_uses(change) {
        if let (Some(subject), Some(file)) = (schema_use.subject, schema_use.file) {
            subjects.entry(subject).or_default().push(file);
        }
    }
    for files in subjects.values_mut() {
        files.sort();
        files.dedup();
    }
    subjects
}

/// Schema file extensions a `schemas/` directory's subjects are named without (as `subjects.rs`
/// reads them).
const SCHEMA_EXTENSIONS: &[&str] = &[".avsc", ".proto", ".json"];

/// The subject a file under a `schemas/` directory stands for: its path below the (last)
/// `schemas` directory without the extension, as the subject compatibility checks name it.
pub fn subject_of_file(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let position = segments.iter().rposition(|segment| *segment == "schemas")?;
    if position + 1 >= segments.len() {
        return None;
    }
    let below = segments[position + 1..].join("/");
    let lower = below.to_ascii_lowercase();
    SCHEMA_EXTENSIONS
        .iter()
        .find(|extension| lower.ends_with(*extension))
        .map(|extension| below[..below.len() - extension.len()].to_string())
        .filter(|subject| !subject.is_empty() && !subject.ends_with('/'))
}

/// The files of `schemas/` directories, by the subject each stands for.
pub fn subject_files(files: &BTreeMap<String, String>) -> BTreeMap<String, Vec<String>> {
    let mut subjects: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in files.keys() {
        if let Some(subject) = subject_of_file(path) {
            subjects.entry(subject).or_default().push(path.clone());
        }
    }
    subjects
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str) -> Server {
        Server {
            name: "s".into(),
            host: host.into(),
            protocol: "kafka".into(),
        }
    }

    #[test]
    fn strimzi_clusters_from_hosts() {
        assert_eq!(
            server("events-kafka-bootstrap:9093").strimzi_cluster(),
            Some(("events".into(), None))
        );
        assert_eq!(
            server("events-kafka-bootstrap.inventory-dev.svc:9093").strimzi_cluster(),
            Some(("events".into(), Some("inventory-dev".into())))
        );
        assert_eq!(
            server("events-kafka-bootstrap.inventory-dev.svc.cluster.local:9093").strimzi_cluster(),
            Some(("events".into(), Some("inventory-dev".into())))
        );
        assert_eq!(server("broker.example.com:9092").strimzi_cluster(), None);
    }

    #[test]
    fn subjects_of_files() {
        assert_eq!(
            subject_of_file("schemas/items-value.avsc"),
            Some("items-value".into())
        );
        assert_eq!(
            subject_of_file("a/schemas/item.inventory-value.json"),
            Some("item.inventory-value".into())
        );
        assert_eq!(subject_of_file("items-value.avsc"), None);
        assert_eq!(subject_of_file("schemas/README.md"), None);
        assert_eq!(subject_of_file("schemas/compatibility.yaml"), None);
        assert_eq!(
            subject_of_file("schemas/nested/a.proto"),
            Some("nested/a".into())
        );
    }

    #[test]
    fn strategies() {
        assert_eq!(
            SubjectStrategy::parse("io.confluent.kafka.serializers.subject.RecordNameStrategy"),
            Some(SubjectStrategy::RecordName)
        );
        assert_eq!(
            SubjectStrategy::TopicRecordName.subject("t", Role::Value, Some("a.B")),
            Some("t-a.B".into())
        );
        assert_eq!(
            SubjectStrategy::TopicName.subject("t", Role::Key, None),
            Some("t-key".into())
        );
    }
}
