//! Patch strategies and merge keys from an OpenAPI v2 document, looked up the way kustomize's
//! kyaml does.
//!
//! A `Schema` indexes the `definitions` of one document by the group/version/kind each carries in
//! `x-kubernetes-group-version-kind`. `Schema::builtin()` is the Kubernetes v1.21.2 document
//! kustomize v5.5 compiles in: `build.rs` splits it into one JSON text per definition at build
//! time, and a definition is parsed when a lookup first reaches it (a build with a few patched
//! kinds reads a few dozen of its 600-odd definitions);
//! `Schema::from_document` reads the file a kustomization names in `openapi: path:`, which
//! *replaces* the builtin document for every lookup (kustomize does not fall back to the builtin
//! kinds then). Kinds without a definition (CRDs) have no schema: the strategic merge then
//! replaces their lists.
//!
//! `SchemaNode` walks from a resource definition to its fields (`properties`, then
//! `additionalProperties`) and list elements (`items`, only when `type` is exactly `array`),
//! following `$ref`s to `#/definitions/…`, and exposes the `x-kubernetes-*` patch extensions.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value as Json;

/// The builtin schema version kustomize v5.5 uses when a kustomization sets no `openapi:`.
pub const BUILTIN_VERSION: &str = "v1.21.2";

/// The builtin document's definitions as `build.rs` prepared them: a line per definition,
/// `NAME\tGVKS\tJSON`, sorted by name.
static BUILTIN_DEFINITIONS: &str =
    include_str!(concat!(env!("OUT_DIR"), "/openapi-definitions.txt"));

/// Why an OpenAPI document could not be used as a patch schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("OpenAPI document is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("OpenAPI document is not valid YAML")]
    Yaml(#[source] flotilla_core::YamlError),
    #[error("OpenAPI document must be a mapping, found a {found}")]
    NotAMapping { found: &'static str },
    #[error("`definitions` of the OpenAPI document must be a mapping, found a {found}")]
    DefinitionsNotAMapping { found: &'static str },
    #[error("OpenAPI version {version} is not built in (only {BUILTIN_VERSION} is)")]
    UnknownVersion { version: String },
}

/// The patch-relevant part of one OpenAPI document. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Schema {
    inner: Arc<SchemaDocument>,
}

#[derive(Debug, Default)]
struct SchemaDocument {
    definitions: HashMap<String, Definition>,
    /// `(apiVersion, kind)` → definition name.
    by_type: HashMap<(String, String), String>,
}

/// One definition: parsed, or the builtin document's JSON text, parsed on first use.
#[derive(Clone, Debug)]
struct Definition {
    text: Option<&'static str>,
    parsed: OnceLock<Json>,
}

impl Definition {
    fn parsed(json: Json) -> Self {
        Definition {
            text: None,
            parsed: OnceLock::from(json),
        }
    }

    fn lazy(text: &'static str) -> Self {
        Definition {
            text: Some(text),
            parsed: OnceLock::new(),
        }
    }

    /// The definition, parsed now if it was not yet.
    fn json(&self) -> &Json {
        self.parsed.get_or_init(|| {
            serde_json::from_str(self.text.unwrap_or("null"))
                .expect("build.rs wrote each builtin definition as valid JSON")
        })
    }

    /// The definition if it was parsed: a schema node can only come from one that was.
    fn json_if_parsed(&self) -> Option<&Json> {
        self.parsed.get()
    }
}

impl Schema {
    /// The Kubernetes v1.21.2 schema kustomize v5.5 embeds: indexed on first use, each
    /// definition parsed when first reached.
    pub fn builtin() -> &'static Schema {
        static BUILTIN: OnceLock<Schema> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let mut document = SchemaDocument::default();
            for line in BUILTIN_DEFINITIONS.lines() {
                let mut fields = line.splitn(3, '\t');
                let (Some(name), Some(gvks), Some(json)) =
                    (fields.next(), fields.next(), fields.next())
                else {
                    unreachable!("build.rs writes three fields a line");
                };
                for gvk in gvks.split(';').filter(|gvk| !gvk.is_empty()) {
                    let (api_version, kind) = gvk
                        .split_once(' ')
                        .expect("build.rs writes `apiVersion kind`");
                    // Lines are sorted by name: the last name claiming a kind wins, as in
                    // `from_json`.
                    document.by_type.insert(
                        (api_version.to_string(), kind.to_string()),
                        name.to_string(),
                    );
                }
                document
                    .definitions
                    .insert(name.to_string(), Definition::lazy(json));
            }
            Schema {
                inner: Arc::new(document),
            }
        })
    }

    /// The builtin schema of a kustomization's `openapi: version:`.
    pub fn builtin_version(version: &str) -> Result<&'static Schema, SchemaError> {
        if version == BUILTIN_VERSION {
            Ok(Schema::builtin())
        } else {
            Err(SchemaError::UnknownVersion {
                version: version.to_string(),
            })
        }
    }

    /// A schema that knows no kinds: every list is replaced, as for CRDs.
    pub fn empty() -> Schema {
        Schema {
            inner: Arc::new(SchemaDocument::default()),
        }
    }

    /// Reads a custom schema as kustomize's `openapi: path:` does: JSON when the text starts with
    /// `{`, YAML otherwise. Only its `definitions` are used.
    pub fn from_document(text: &str) -> Result<Schema, SchemaError> {
        let document = if text.starts_with('{') {
            serde_json::from_str(text).map_err(SchemaError::Json)?
        } else {
            let value = flotilla_core::parse_single_document(text).map_err(SchemaError::Yaml)?;
            value_to_json(&value)
        };
        Schema::from_json(document)
    }

    fn from_json(document: Json) -> Result<Schema, SchemaError> {
        let Json::Object(mut root) = document else {
            return Err(SchemaError::NotAMapping {
                found: json_type_name(&document),
            });
        };
        let definitions = match root.remove("definitions") {
            None | Some(Json::Null) => serde_json::Map::new(),
            Some(Json::Object(definitions)) => definitions,
            Some(other) => {
                return Err(SchemaError::DefinitionsNotAMapping {
                    found: json_type_name(&other),
                })
            }
        };
        let mut by_type = HashMap::new();
        let mut names: Vec<&String> = definitions.keys().collect();
        // Deterministic winner when two definitions claim one kind: the last name in order.
        names.sort();
        for name in names {
            let Some(gvks) = definitions[name.as_str()]
                .get("x-kubernetes-group-version-kind")
                .and_then(Json::as_array)
            else {
                continue;
            };
            for gvk in gvks {
                let (Some(version), Some(kind)) = (
                    gvk.get("version").and_then(Json::as_str),
                    gvk.get("kind").and_then(Json::as_str),
                ) else {
                    continue;
                };
                let api_version = match gvk.get("group").and_then(Json::as_str) {
                    Some(group) if !group.is_empty() => format!("{group}/{version}"),
                    _ => version.to_string(),
                };
                by_type.insert((api_version, kind.to_string()), name.clone());
            }
        }
        Ok(Schema {
            inner: Arc::new(SchemaDocument {
                definitions: definitions
                    .into_iter()
                    .map(|(name, definition)| (name, Definition::parsed(definition)))
                    .collect(),
                by_type,
            }),
        })
    }

    /// This schema with a custom document's definitions laid over it: its kinds are added (or
    /// replace ones of the same name), and its `$ref`s may name definitions of this schema. This
    /// is how kustomize's `openapi: path:` reaches the builtin types it refers to.
    pub fn extended_with(&self, text: &str) -> Result<Schema, SchemaError> {
        let custom = Schema::from_document(text)?;
        let mut definitions = self.inner.definitions.clone();
        let mut by_type = self.inner.by_type.clone();
        for (name, definition) in &custom.inner.definitions {
            definitions.insert(name.clone(), definition.clone());
        }
        for (key, name) in &custom.inner.by_type {
            by_type.insert(key.clone(), name.clone());
        }
        Ok(Schema {
            inner: Arc::new(SchemaDocument {
                definitions,
                by_type,
            }),
        })
    }

    /// The definition of a resource type, if the document has one.
    pub fn resource(&self, api_version: &str, kind: &str) -> Option<SchemaNode<'_>> {
        let name = self
            .inner
            .by_type
            .get(&(api_version.to_string(), kind.to_string()))?;
        let node = self.inner.definitions.get(name)?.json();
        Some(SchemaNode {
            document: &self.inner,
            node,
            declared: node,
        })
    }

    /// The number of resource types the document defines.
    pub fn resource_type_count(&self) -> usize {
        self.inner.by_type.len()
    }
}

/// One schema object inside a `Schema`, with its `$ref` already followed.
///
/// The `x-kubernetes-*` accessors read the referenced schema, as kyaml does (it drops
/// extensions written beside a `$ref`); the `declared_*` ones read the field's own declaration
/// first, as the API server does.
#[derive(Clone, Copy, Debug)]
pub struct SchemaNode<'a> {
    document: &'a SchemaDocument,
    node: &'a Json,
    declared: &'a Json,
}

impl<'a> SchemaNode<'a> {
    /// Follows `$ref`s until a schema without one; `None` when a reference does not resolve.
    fn resolved(document: &'a SchemaDocument, declared: &'a Json) -> Option<SchemaNode<'a>> {
        let mut node = declared;
        // A cycle of pure references would loop forever; definitions are finite.
        for _ in 0..=document.definitions.len() {
            let Some(reference) = node.get("$ref").and_then(Json::as_str) else {
                return Some(SchemaNode {
                    document,
                    node,
                    declared,
                });
            };
            if reference.is_empty() {
                return Some(SchemaNode {
                    document,
                    node,
                    declared,
                });
            }
            let name = reference.strip_prefix("#/definitions/")?;
            let definition = if name.contains('~') {
                let name = name.replace("~1", "/").replace("~0", "~");
                document.definitions.get(&name)?
            } else {
                document.definitions.get(name)?
            };
            node = definition.json();
        }
        None
    }

    /// The schema of a field of this object: its `properties` entry, else the schema of
    /// `additionalProperties` (a map's values).
    pub fn field(&self, name: &str) -> Option<SchemaNode<'a>> {
        let child = self
            .node
            .get("properties")
            .and_then(|properties| properties.get(name))
            .or_else(|| {
                self.node
                    .get("additionalProperties")
                    .filter(|s| s.is_object())
            })?;
        SchemaNode::resolved(self.document, child)
    }

    /// The schema of the elements of this array; `None` unless `type` is exactly `array`.
    pub fn elements(&self) -> Option<SchemaNode<'a>> {
        let is_array = match self.node.get("type") {
            Some(Json::String(kind)) => kind == "array",
            Some(Json::Array(kinds)) => kinds.len() == 1 && kinds[0].as_str() == Some("array"),
            _ => false,
        };
        if !is_array {
            return None;
        }
        let items = self.node.get("items").filter(|items| items.is_object())?;
        SchemaNode::resolved(self.document, items)
    }

    /// `x-kubernetes-patch-strategy`, e.g. `merge`, `replace`, `retainKeys`, `merge,retainKeys`.
    pub fn patch_strategy(&self) -> Option<&'a str> {
        self.node
            .get("x-kubernetes-patch-strategy")
            .and_then(Json::as_str)
    }

    /// `x-kubernetes-patch-merge-key`.
    pub fn patch_merge_key(&self) -> Option<&'a str> {
        self.node
            .get("x-kubernetes-patch-merge-key")
            .and_then(Json::as_str)
    }

    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    pub fn list_type(&self) -> Option<&'a str> {
        self.node
            .get("x-kubernetes-list-type")
            .and_then(Json::as_str)
    }

    /// A schema that says nothing of its shape (no `type`, `properties`, `additionalProperties`
    /// or `items`, e.g. `JSON`, `JSONSchemaPropsOrArray`): structured-merge-diff treats such a
    /// value as one atomic unit.
    pub fn is_untyped(&self) -> bool {
        ["type", "properties", "additionalProperties", "items"]
            .iter()
            .all(|key| self.node.get(*key).is_none())
    }

    /// `type` when it is one name (`integer`, `number`, `boolean`, `string`, `object`, `array`);
    /// `None` for a schema without one.
    pub fn schema_type(&self) -> Option<&'a str> {
        match self.node.get("type") {
            Some(Json::String(name)) => Some(name),
            Some(Json::Array(names)) if names.len() == 1 => names[0].as_str(),
            _ => None,
        }
    }

    /// `format`, e.g. `int32`, `int64`, `double`, `byte`, `date-time`, `int-or-string`.
    pub fn format(&self) -> Option<&'a str> {
        self.node.get("format").and_then(Json::as_str)
    }

    /// Whether this object schema lists `properties`.
    pub fn has_properties(&self) -> bool {
        self.node
            .get("properties")
            .is_some_and(|properties| properties.is_object())
    }

    /// Whether this object schema has an `additionalProperties` schema (it is a map).
    pub fn has_additional_properties(&self) -> bool {
        self.node
            .get("additionalProperties")
            .is_some_and(|additional| additional.is_object() || additional == &Json::Bool(true))
    }

    /// The name of the definition this schema is (after `$ref`s), e.g.
    /// `io.k8s.api.core.v1.PodSpec`; `None` for an inline schema. Linear in the number of
    /// definitions: meant for rare lookups.
    pub fn definition_name(&self) -> Option<&'a str> {
        self.document
            .definitions
            .iter()
            .find(|(_, definition)| {
                definition
                    .json_if_parsed()
                    .is_some_and(|json| std::ptr::eq(json, self.node))
            })
            .map(|(name, _)| name.as_str())
    }

    /// The schemas directly below this one: every property, the map values
    /// (`additionalProperties`) and the array elements (`items`), `$ref`s followed.
    pub fn children(&self) -> Vec<SchemaNode<'a>> {
        let mut children: Vec<SchemaNode<'a>> = self
            .node
            .get("properties")
            .and_then(Json::as_object)
            .into_iter()
            .flat_map(|properties| properties.values())
            .filter_map(|child| SchemaNode::resolved(self.document, child))
            .collect();
        for key in ["additionalProperties", "items"] {
            if let Some(child) = self.node.get(key).filter(|child| child.is_object()) {
                children.extend(SchemaNode::resolved(self.document, child));
            }
        }
        children
    }

    /// An identity for the resolved schema (equal for two nodes reached through the same
    /// definition), for walks that must not visit a recursive definition twice.
    pub fn identity(&self) -> usize {
        self.node as *const Json as usize
    }

    /// Whether this schema is the definition named `name` (after `$ref`s), e.g.
    /// `io.k8s.apimachinery.pkg.api.resource.Quantity`. One hash lookup.
    pub fn is_definition(&self, name: &str) -> bool {
        self.document
            .definitions
            .get(name)
            .and_then(Definition::json_if_parsed)
            .is_some_and(|definition| std::ptr::eq(definition, self.node))
    }

    /// `x-kubernetes-map-type`: `atomic` or `granular`.
    pub fn map_type(&self) -> Option<&'a str> {
        self.node
            .get("x-kubernetes-map-type")
            .and_then(Json::as_str)
    }

    /// `x-kubernetes-list-map-keys`; empty when absent.
    pub fn list_map_keys(&self) -> Vec<&'a str> {
        self.node
            .get("x-kubernetes-list-map-keys")
            .and_then(Json::as_array)
            .map(|keys| keys.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default()
    }

    /// `x-kubernetes-patch-strategy` as the field declares it (beside a `$ref`), else as the
    /// referenced schema has it.
    pub fn declared_patch_strategy(&self) -> Option<&'a str> {
        self.declared
            .get("x-kubernetes-patch-strategy")
            .and_then(Json::as_str)
            .or_else(|| self.patch_strategy())
    }

    /// `x-kubernetes-patch-merge-key` as the field declares it, else as the referenced schema
    /// has it.
    pub fn declared_patch_merge_key(&self) -> Option<&'a str> {
        self.declared
            .get("x-kubernetes-patch-merge-key")
            .and_then(Json::as_str)
            .or_else(|| self.patch_merge_key())
    }

    /// Whether one of the comma-separated patch strategies is `strategy`.
    pub fn has_patch_strategy(&self, strategy: &str) -> bool {
        self.patch_strategy()
            .is_some_and(|strategies| strategies.split(',').any(|s| s == strategy))
    }

    /// The merge keys of a list as kyaml's merge uses them: nothing without a patch strategy;
    /// else `x-kubernetes-list-map-keys` when present, else the patch merge key, else none (a
    /// list of scalars).
    pub fn merge_keys(&self) -> Vec<&'a str> {
        if self.patch_strategy().is_none() {
            return Vec::new();
        }
        let list_keys = self.list_map_keys();
        if self.node.get("x-kubernetes-list-map-keys").is_some() {
            return list_keys;
        }
        self.patch_merge_key().into_iter().collect()
    }
}

fn json_type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "sequence",
        Json::Object(_) => "mapping",
    }
}

fn value_to_json(value: &flotilla_core::Value) -> Json {
    use flotilla_core::{Number, Value};
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(Number::Int(i)) => Json::from(*i),
        Value::Number(Number::Uint(u)) => Json::from(*u),
        Value::Number(Number::Float(f)) => {
            serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number)
        }
        Value::String(text) | Value::Timestamp(text) => Json::String(text.clone()),
        Value::Sequence(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Mapping(mapping) => Json::Object(
            mapping
                .iter()
                .map(|(key, value)| (key.clone(), value_to_json(value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_schema_knows_container_merge_keys() {
        let schema = Schema::builtin();
        let deployment = schema
            .resource("apps/v1", "Deployment")
            .expect("Deployment is builtin");
        let containers = deployment
            .field("spec")
            .and_then(|s| s.field("template"))
            .and_then(|s| s.field("spec"))
            .and_then(|s| s.field("containers"))
            .expect("containers field");
        assert_eq!(containers.patch_strategy(), Some("merge"));
        assert_eq!(containers.patch_merge_key(), Some("name"));
        let ports = containers
            .elements()
            .and_then(|c| c.field("ports"))
            .expect("ports field");
        assert_eq!(ports.merge_keys(), vec!["containerPort", "protocol"]);
        assert_eq!(ports.list_type(), Some("map"));
    }

    #[test]
    fn builtin_schema_indexes_core_group_without_slash() {
        let schema = Schema::builtin();
        assert!(schema.resource("v1", "ConfigMap").is_some());
        assert!(schema.resource("example.com/v1", "Gadget").is_none());
        let finalizers = schema
            .resource("v1", "Service")
            .and_then(|s| s.field("metadata"))
            .and_then(|s| s.field("finalizers"))
            .expect("finalizers");
        assert!(finalizers.has_patch_strategy("merge"));
        assert!(finalizers.merge_keys().is_empty());
    }

    #[test]
    fn types_and_formats_are_read_through_references() {
        let schema = Schema::builtin();
        let spec = schema
            .resource("apps/v1", "Deployment")
            .and_then(|deployment| deployment.field("spec"))
            .expect("spec");
        let replicas = spec.field("replicas").expect("replicas");
        assert_eq!(
            (replicas.schema_type(), replicas.format()),
            (Some("integer"), Some("int32"))
        );
        assert_eq!(spec.schema_type(), Some("object"));
        let max_surge = spec
            .field("strategy")
            .and_then(|strategy| strategy.field("rollingUpdate"))
            .and_then(|rolling| rolling.field("maxSurge"))
            .expect("maxSurge");
        assert_eq!(max_surge.format(), Some("int-or-string"));
        let data = schema
            .resource("v1", "Secret")
            .and_then(|secret| secret.field("data"))
            .and_then(|data| data.field("any-key"))
            .expect("data values");
        assert_eq!(
            (data.schema_type(), data.format()),
            (Some("string"), Some("byte"))
        );
    }

    #[test]
    fn builtin_definitions_are_read_when_a_lookup_reaches_them() {
        let schema = Schema::builtin();
        assert_eq!(schema.resource_type_count(), 269);
        let container = schema
            .resource("v1", "Pod")
            .and_then(|pod| pod.field("spec"))
            .and_then(|spec| spec.field("containers"))
            .and_then(|containers| containers.elements())
            .expect("containers");
        assert_eq!(
            container.definition_name(),
            Some("io.k8s.api.core.v1.Container")
        );
        assert!(container.is_definition("io.k8s.api.core.v1.Container"));
        assert!(!container.is_definition("io.k8s.api.core.v1.PodSpec"));
        // An extended schema keeps the builtin definitions it refers to.
        let custom = schema
            .extended_with(concat!(
                "{\"definitions\": {\"x.Thing\": {\"type\": \"object\", ",
                "\"x-kubernetes-group-version-kind\": ",
                "[{\"group\": \"x.io\", \"version\": \"v1\", \"kind\": \"Thing\"}], ",
                "\"properties\": {\"pod\": ",
                "{\"$ref\": \"#/definitions/io.k8s.api.core.v1.PodSpec\"}}}}}"
            ))
            .expect("valid");
        let merge_key = custom
            .resource("x.io/v1", "Thing")
            .and_then(|thing| thing.field("pod"))
            .and_then(|pod| pod.field("containers"))
            .map(|containers| containers.merge_keys());
        assert_eq!(merge_key, Some(vec!["name"]));
    }

    #[test]
    fn retain_keys_strategy_is_split_on_commas() {
        let schema = Schema::builtin();
        let volumes = schema
            .resource("v1", "Pod")
            .and_then(|s| s.field("spec"))
            .and_then(|s| s.field("volumes"))
            .expect("volumes");
        assert!(volumes.has_patch_strategy("merge"));
        assert!(volumes.has_patch_strategy("retainKeys"));
    }

    #[test]
    fn custom_yaml_document_replaces_builtin() {
        let schema = Schema::from_document(
            "definitions:\n  v1.Gadget:\n    x-kubernetes-group-version-kind:\n    - group: example.com\n      kind: Gadget\n      version: v1\n",
        )
        .expect("valid YAML schema");
        assert!(schema.resource("example.com/v1", "Gadget").is_some());
        assert!(schema.resource("apps/v1", "Deployment").is_none());
    }

    #[test]
    fn unknown_builtin_version_is_an_error() {
        assert!(Schema::builtin_version("v1.21.2").is_ok());
        assert!(matches!(
            Schema::builtin_version("v1.99.0"),
            Err(SchemaError::UnknownVersion { .. })
        ));
    }
}
