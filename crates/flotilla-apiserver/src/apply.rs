//! Field ownership and server-side apply, in a simplified structured-merge-diff model.
//!
//! A field set is a set of paths; each path element is encoded as in `FieldsV1`: `f:<field>` for
//! a map field, `k:<json object>` for an item of an associative list (identified by its keys),
//! `v:<json>` for an item of a set of primitives. A list's type comes from the resource's schema,
//! as structured-merge-diff derives it from OpenAPI: built-in kinds use the embedded Kubernetes
//! OpenAPI document (`x-kubernetes-list-type`/`-list-map-keys`, else a `merge` patch strategy
//! with its merge key makes an associative list, a `merge` list of scalars a set, anything else
//! atomic); CRDs use their `openAPIV3Schema` (atomic unless it declares a list type); kinds with
//! no schema at all (`--accept-unknown-kinds`) fall back to kube's merge-key field names. Object
//! metadata always follows `ObjectMeta`. Managers own the fields they set; an applier that stops
//! sending a field it alone owned removes it; setting a field another manager owns with a
//! different value is a conflict unless `force=true`, which transfers ownership. An object that
//! has no managed fields when first applied gets a `before-first-apply` Update entry owning what
//! it had, as kube-apiserver does.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use flotilla_patch::SchemaNode;

use crate::error::StatusCause;
use crate::util;

/// One encoded path.
pub type FieldPath = Vec<String>;
/// A set of paths.
pub type FieldSet = BTreeSet<FieldPath>;

/// Top-level fields that never count as owned.
const IGNORED_METADATA: [&str; 8] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
];

/// What is known about the shape of a value: a built-in kind's OpenAPI definition (absent below a
/// field the document does not describe), a CRD's structural schema for it (absent inside
/// `x-kubernetes-preserve-unknown-fields`, where lists are atomic as in kube-apiserver), or
/// nothing (kinds served without a schema, where kube's merge keys are recognised by field name).
#[derive(Clone, Copy, Debug)]
pub enum Shape<'a> {
    Heuristic,
    Builtin(Option<SchemaNode<'a>>),
    Schema(Option<&'a Value>),
}

impl<'a> Shape<'a> {
    /// The shape of a value described by this (optional) CRD schema; no schema means heuristics.
    pub fn for_schema(schema: Option<&'a Value>) -> Shape<'a> {
        match schema {
            None => Shape::Heuristic,
            Some(schema) => Shape::Schema(Some(schema)),
        }
    }

    /// The shape of an object's top level for a resource (`schema` is a CRD version's).
    pub fn of(resource: &'a crate::registry::ResourceType) -> Shape<'a> {
        match &resource.schema {
            Some(schema) => Shape::Schema(Some(schema)),
            None => match resource.builtin_definition() {
                Some(node) => Shape::Builtin(Some(node)),
                None => Shape::Heuristic,
            },
        }
    }

    /// The shape of `metadata`, whatever the kind: `ObjectMeta`.
    fn object_meta() -> Shape<'static> {
        static OBJECT_META: std::sync::OnceLock<Option<SchemaNode<'static>>> =
            std::sync::OnceLock::new();
        Shape::Builtin(*OBJECT_META.get_or_init(|| {
            flotilla_patch::Schema::builtin()
                .resource("v1", "ConfigMap")
                .and_then(|config_map| config_map.field("metadata"))
        }))
    }

    fn child(self, key: &str) -> Shape<'a> {
        match self {
            Shape::Heuristic => Shape::Heuristic,
            Shape::Builtin(node) => Shape::Builtin(node.and_then(|node| node.field(key))),
            Shape::Schema(schema) => Shape::Schema(schema.and_then(|schema| {
                schema
                    .get("properties")
                    .and_then(|properties| properties.get(key))
                    .or_else(|| {
                        schema
                            .get("additionalProperties")
                            .filter(|additional| additional.is_object())
                    })
            })),
        }
    }

    /// The shape of a field named `metadata`: `ObjectMeta` unless a built-in definition says
    /// otherwise (CRD schemas never describe object metadata).
    fn metadata_child(self) -> Shape<'a> {
        match self {
            Shape::Builtin(_) => self.child("metadata"),
            _ => Shape::object_meta(),
        }
    }

    fn items(self) -> Shape<'a> {
        match self {
            Shape::Heuristic => Shape::Heuristic,
            Shape::Builtin(node) => Shape::Builtin(node.and_then(|node| node.elements())),
            Shape::Schema(schema) => Shape::Schema(schema.and_then(|schema| schema.get("items"))),
        }
    }

    /// A map the schema declares atomic (`x-kubernetes-map-type: atomic`).
    fn atomic_map(self) -> bool {
        match self {
            Shape::Schema(Some(schema)) => {
                schema.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic")
            }
            Shape::Builtin(Some(node)) => node.map_type() == Some("atomic") || node.is_untyped(),
            _ => false,
        }
    }
}

fn list_type(field: &str, items: &[Value], shape: Shape<'_>) -> ListType {
    let declared = match shape {
        Shape::Heuristic => return list_keys(field, items),
        Shape::Builtin(None) => return ListType::Atomic,
        Shape::Builtin(Some(node)) => match node.list_type() {
            Some(declared) => Some((declared, node.list_map_keys())),
            None if node
                .declared_patch_strategy()
                .is_some_and(|strategies| strategies.split(',').any(|s| s == "merge")) =>
            {
                match node.declared_patch_merge_key() {
                    Some(key) => Some(("map", vec![key])),
                    None => Some(("set", Vec::new())),
                }
            }
            None => None,
        },
        Shape::Schema(schema) => schema
            .and_then(|schema| schema.get("x-kubernetes-list-type"))
            .and_then(Value::as_str)
            .map(|declared| {
                let keys = schema
                    .and_then(|schema| schema.get("x-kubernetes-list-map-keys"))
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                (declared, keys)
            }),
    };
    match declared {
        Some(("map", keys)) => {
            if keys.is_empty() || !items.iter().all(Value::is_object) {
                ListType::Atomic
            } else {
                ListType::Map(keys.into_iter().map(str::to_string).collect())
            }
        }
        Some(("set", _))
            if items
                .iter()
                .all(|item| !item.is_object() && !item.is_array()) =>
        {
            ListType::Set
        }
        _ => ListType::Atomic,
    }
}

/// The merge keys of a list field, from kube's schemas for the common cases.
fn list_keys(field: &str, items: &[Value]) -> ListType {
    if items.is_empty() {
        return ListType::Atomic;
    }
    if items
        .iter()
        .all(|item| !item.is_object() && !item.is_array())
    {
        return if field == "finalizers" {
            ListType::Set
        } else {
            ListType::Atomic
        };
    }
    if !items.iter().all(Value::is_object) {
        return ListType::Atomic;
    }
    let candidates: &[&[&str]] = match field {
        "ports" => &[&["containerPort"], &["port"]],
        "volumeMounts" | "volumeDevices" => &[&["mountPath"], &["devicePath"]],
        "conditions" => &[&["type"]],
        "ownerReferences" => &[&["uid"]],
        "tolerations" | "args" | "command" => &[],
        _ => &[&["name"]],
    };
    for keys in candidates {
        if items.iter().all(|item| {
            keys.iter().all(|key| {
                item.get(*key)
                    .is_some_and(|v| !v.is_object() && !v.is_array())
            })
        }) {
            return ListType::Map(keys.iter().map(|key| key.to_string()).collect());
        }
    }
    ListType::Atomic
}

enum ListType {
    Atomic,
    Set,
    Map(Vec<String>),
}

fn item_key(keys: &[String], item: &Value) -> String {
    let mut key = Map::new();
    for name in keys {
        if let Some(value) = item.get(name) {
            key.insert(name.clone(), value.clone());
        }
    }
    format!("k:{}", Value::Object(key))
}

/// The field set of an object (identity metadata and, unless `with_status`, status left out).
pub fn field_set(object: &Value, with_status: bool, shape: Shape<'_>) -> FieldSet {
    let mut set = FieldSet::new();
    let Some(map) = object.as_object() else {
        return set;
    };
    for (key, value) in map {
        if key == "apiVersion" || key == "kind" || (key == "status" && !with_status) {
            continue;
        }
        if key == "metadata" {
            if let Some(metadata) = value.as_object() {
                for (field, value) in metadata {
                    if IGNORED_METADATA.contains(&field.as_str()) {
                        continue;
                    }
                    collect(
                        value,
                        vec!["f:metadata".to_string(), format!("f:{field}")],
                        field,
                        Shape::object_meta().child(field),
                        &mut set,
                    );
                }
            }
            continue;
        }
        collect(
            value,
            vec![format!("f:{key}")],
            key,
            shape.child(key),
            &mut set,
        );
    }
    set
}

fn collect(value: &Value, path: FieldPath, field: &str, shape: Shape<'_>, set: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() && !shape.atomic_map() => {
            for (key, child) in map {
                let mut child_path = path.clone();
                child_path.push(format!("f:{key}"));
                collect(child, child_path, key, shape.child(key), set);
            }
        }
        Value::Array(items) => match list_type(field, items, shape) {
            ListType::Atomic => {
                set.insert(path);
            }
            ListType::Set => {
                for item in items {
                    let mut item_path = path.clone();
                    item_path.push(format!("v:{item}"));
                    set.insert(item_path);
                }
            }
            ListType::Map(keys) => {
                for item in items {
                    let mut item_path = path.clone();
                    item_path.push(item_key(&keys, item));
                    set.insert(item_path.clone());
                    if let Some(fields) = item.as_object() {
                        let item_shape = shape.items();
                        for (key, child) in fields {
                            let mut child_path = item_path.clone();
                            child_path.push(format!("f:{key}"));
                            collect(child, child_path, key, item_shape.child(key), set);
                        }
                    }
                }
            }
        },
        _ => {
            set.insert(path);
        }
    }
}

/// Encodes a field set as a `FieldsV1` object.
pub fn encode_fields(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for element in path {
            node = node
                .entry(element.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("field set nodes are objects");
        }
        if set
            .range(path.clone()..)
            .nth(1)
            .is_some_and(|next| next.starts_with(path))
        {
            node.insert(".".to_string(), Value::Object(Map::new()));
        }
    }
    // Leaves that became prefixes of other paths need their own marker.
    Value::Object(root)
}

/// Decodes a `FieldsV1` object into a field set.
pub fn decode_fields(fields: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    decode_into(fields, &mut Vec::new(), &mut set);
    set
}

fn decode_into(node: &Value, path: &mut FieldPath, set: &mut FieldSet) {
    let Some(map) = node.as_object() else {
        return;
    };
    if map.is_empty() && !path.is_empty() {
        set.insert(path.clone());
        return;
    }
    for (key, child) in map {
        if key == "." {
            set.insert(path.clone());
            continue;
        }
        path.push(key.clone());
        decode_into(child, path, set);
        path.pop();
    }
}

/// The value at an encoded path, if present.
pub fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut current = object;
    for element in path {
        current = step(current, element)?;
    }
    Some(current)
}

fn step<'a>(value: &'a Value, element: &str) -> Option<&'a Value> {
    if let Some(field) = element.strip_prefix("f:") {
        return value.as_object()?.get(field);
    }
    if let Some(key) = element.strip_prefix("k:") {
        let key: Value = serde_json::from_str(key).ok()?;
        let key = key.as_object()?;
        return value.as_array()?.iter().find(|item| {
            key.iter()
                .all(|(name, expected)| item.get(name) == Some(expected))
        });
    }
    if let Some(literal) = element.strip_prefix("v:") {
        let literal: Value = serde_json::from_str(literal).ok()?;
        return value.as_array()?.iter().find(|item| **item == literal);
    }
    None
}

/// Removes the value at an encoded path (a map field, a list item or a set member).
pub fn remove_at(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = object;
    for element in parents {
        let next = step_mut(current, element);
        match next {
            Some(next) => current = next,
            None => return,
        }
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Some(map) = current.as_object_mut() {
            map.shift_remove(field);
        }
    } else if let Some(items) = current.as_array_mut() {
        if let Some(index) = items.iter().position(|item| step_matches(item, last)) {
            items.remove(index);
        }
    }
}

fn step_matches(item: &Value, element: &str) -> bool {
    if let Some(key) = element.strip_prefix("k:") {
        let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else {
            return false;
        };
        return key
            .iter()
            .all(|(name, expected)| item.get(name) == Some(expected));
    }
    if let Some(literal) = element.strip_prefix("v:") {
        return serde_json::from_str::<Value>(literal).is_ok_and(|literal| *item == literal);
    }
    false
}

fn step_mut<'a>(value: &'a mut Value, element: &str) -> Option<&'a mut Value> {
    if let Some(field) = element.strip_prefix("f:") {
        return value.as_object_mut()?.get_mut(field);
    }
    value
        .as_array_mut()?
        .iter_mut()
        .find(|item| step_matches(item, element))
}

/// Merges an applied configuration into the live object: maps field by field, associative lists
/// item by item (by merge key), sets by union, anything else replaced.
pub fn merge_into(live: &mut Value, config: &Value, field: &str, shape: Shape<'_>) {
    match (live, config) {
        (Value::Object(live_map), Value::Object(config_map)) if !shape.atomic_map() => {
            for (key, config_value) in config_map {
                match live_map.get_mut(key) {
                    Some(live_value) => {
                        // Object metadata is never described by a CRD schema.
                        let child = if key == "metadata" {
                            shape.metadata_child()
                        } else {
                            shape.child(key)
                        };
                        merge_into(live_value, config_value, key, child)
                    }
                    None => {
                        live_map.insert(key.clone(), config_value.clone());
                    }
                }
            }
        }
        (Value::Array(live_items), Value::Array(config_items)) => {
            match list_type(field, config_items, shape) {
                ListType::Map(keys) if live_items.iter().all(Value::is_object) => {
                    for config_item in config_items {
                        let key = item_key(&keys, config_item);
                        match live_items.iter_mut().find(|item| step_matches(item, &key)) {
                            Some(live_item) => {
                                merge_into(live_item, config_item, "", shape.items())
                            }
                            None => live_items.push(config_item.clone()),
                        }
                    }
                }
                ListType::Set => {
                    for config_item in config_items {
                        if !live_items.contains(config_item) {
                            live_items.push(config_item.clone());
                        }
                    }
                }
                _ => *live_items = config_items.clone(),
            }
        }
        (live, config) => *live = config.clone(),
    }
}

/// One `managedFields` entry, decoded.
#[derive(Clone, Debug)]
pub struct ManagedEntry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: String,
    pub fields: FieldSet,
}

pub fn decode_managed(object: &Value) -> Vec<ManagedEntry> {
    util::metadata(object)
        .and_then(|metadata| metadata.get("managedFields"))
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .map(|entry| ManagedEntry {
                    manager: entry
                        .get("manager")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    operation: entry
                        .get("operation")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    api_version: entry
                        .get("apiVersion")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    time: entry
                        .get("time")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    subresource: entry
                        .get("subresource")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    fields: entry.get("fieldsV1").map(decode_fields).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn encode_managed(entries: &[ManagedEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .filter(|entry| !entry.fields.is_empty())
            .map(|entry| {
                let mut map = Map::new();
                map.insert("manager".to_string(), json!(entry.manager));
                map.insert("operation".to_string(), json!(entry.operation));
                map.insert("apiVersion".to_string(), json!(entry.api_version));
                map.insert("time".to_string(), json!(entry.time));
                map.insert("fieldsType".to_string(), json!("FieldsV1"));
                map.insert("fieldsV1".to_string(), encode_fields(&entry.fields));
                if !entry.subresource.is_empty() {
                    map.insert("subresource".to_string(), json!(entry.subresource));
                }
                Value::Object(map)
            })
            .collect(),
    )
}

/// Records an Update by `manager`: the fields that changed from `current` to `next` move to that
/// manager's Update entry and leave everybody else's.
pub fn record_update(
    current: Option<&Value>,
    next: &mut Value,
    manager: &str,
    api_version: &str,
    subresource: &str,
    shape: Shape<'_>,
) {
    let with_status = subresource == "status";
    let sent = util::metadata(next).and_then(|metadata| metadata.get("managedFields"));
    if current.is_some() && sent == Some(&json!([{}])) {
        // `managedFields: [{}]` is the documented way to clear ownership: nobody manages the
        // object afterwards (its next apply meets `before-first-apply`).
        util::metadata_mut(next).shift_remove("managedFields");
        return;
    }
    let mut entries = match (current, sent) {
        // Whatever a client sent in managedFields on create is ignored.
        (None, _) => Vec::new(),
        // An update that sends managedFields replaces them; one that leaves them out keeps them.
        (Some(_), Some(Value::Array(_))) => decode_managed(next),
        (Some(current), _) => decode_managed(current),
    };
    let next_fields = field_set(next, with_status, shape);
    let changed: FieldSet = match current {
        None => next_fields,
        Some(current) => next_fields
            .into_iter()
            .filter(|path| value_at(current, path) != value_at(next, path))
            .collect(),
    };
    let removed: FieldSet = match current {
        None => FieldSet::new(),
        Some(current) => field_set(current, with_status, shape)
            .into_iter()
            .filter(|path| value_at(next, path).is_none())
            .collect(),
    };
    for entry in &mut entries {
        entry
            .fields
            .retain(|path| !changed.contains(path) && !removed.contains(path));
    }
    if !changed.is_empty() {
        let position = entries.iter().position(|entry| {
            entry.manager == manager
                && entry.operation == "Update"
                && entry.subresource == subresource
        });
        let entry = match position {
            Some(position) => &mut entries[position],
            None => {
                entries.push(ManagedEntry {
                    manager: manager.to_string(),
                    operation: "Update".to_string(),
                    api_version: api_version.to_string(),
                    time: String::new(),
                    subresource: subresource.to_string(),
                    fields: FieldSet::new(),
                });
                entries.last_mut().expect("just pushed")
            }
        };
        entry.fields.extend(changed);
        entry.time = util::now_rfc3339();
        entry.api_version = api_version.to_string();
    }
    util::metadata_mut(next).insert("managedFields".to_string(), encode_managed(&entries));
}

/// What an apply computed: the next object with its managedFields, or the conflicts.
pub enum ApplyResult {
    Merged(Value),
    Conflicts(Vec<StatusCause>),
}

/// Server-side apply of `config` by `manager` onto `live` (`None` when the object is new).
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    api_version: &str,
    subresource: &str,
    force: bool,
    shape: Shape<'_>,
) -> ApplyResult {
    let with_status = subresource == "status";
    let applied = field_set(config, with_status, shape);
    let mut entries = live.map(decode_managed).unwrap_or_default();
    if let Some(live) = live.filter(|_| entries.is_empty()) {
        // An object nobody manages yet (created before managed fields were tracked, or with them
        // cleared): what it has belongs to `before-first-apply`, as in kube-apiserver.
        let existing = field_set(live, with_status, shape);
        if !existing.is_empty() {
            entries.push(ManagedEntry {
                manager: "before-first-apply".to_string(),
                operation: "Update".to_string(),
                api_version: api_version.to_string(),
                time: util::now_rfc3339(),
                subresource: String::new(),
                fields: existing,
            });
        }
    }
    let mut conflicts = Vec::new();
    let mut forced = FieldSet::new();
    if let Some(live) = live {
        for entry in &entries {
            if entry.manager == manager && entry.operation == "Apply" {
                continue;
            }
            for path in applied.intersection(&entry.fields) {
                if value_at(live, path) != value_at(config, path) && is_leaf_value(config, path) {
                    if force {
                        forced.insert(path.clone());
                    } else {
                        conflicts.push(StatusCause {
                            reason: "FieldManagerConflict".to_string(),
                            message: format!(
                                "conflict with \"{}\"{}",
                                entry.manager,
                                if entry.operation == "Update" {
                                    " using ".to_string() + &entry.api_version
                                } else {
                                    String::new()
                                }
                            ),
                            field: display_path(path),
                        });
                    }
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return ApplyResult::Conflicts(conflicts);
    }
    let previous: FieldSet = entries
        .iter()
        .find(|entry| {
            entry.manager == manager
                && entry.operation == "Apply"
                && entry.subresource == subresource
        })
        .map(|entry| entry.fields.clone())
        .unwrap_or_default();
    let mut next = live.cloned().unwrap_or_else(|| json!({}));
    // Fields this applier stops sending, owned by nobody else, go away.
    let owned_by_others: FieldSet = entries
        .iter()
        .filter(|entry| !(entry.manager == manager && entry.operation == "Apply"))
        .flat_map(|entry| entry.fields.iter().cloned())
        .collect();
    let mut dropped: Vec<&FieldPath> = previous
        .iter()
        .filter(|path| !applied.contains(*path) && !owned_by_others.contains(*path))
        .collect();
    // A path that still has applied children is kept.
    dropped.retain(|path| !applied.iter().any(|kept| kept.starts_with(path)));
    // A path inside one that goes with it is not removed on its own: removing a keyed list
    // item's key fields first would leave the item unfindable, an empty `{}` in the list.
    let removed: FieldSet = dropped.iter().map(|path| (*path).clone()).collect();
    dropped.retain(|path| !(1..path.len()).any(|length| removed.contains(&path[..length])));
    // Remove deeper paths first so list items vanish after their fields.
    dropped.sort_by_key(|path| std::cmp::Reverse(path.len()));
    for path in dropped {
        remove_at(&mut next, path);
    }
    prune_empty_parents(&mut next, config);
    merge_into(&mut next, config, "", shape);
    for entry in &mut entries {
        if entry.manager == manager
            && entry.operation == "Apply"
            && entry.subresource == subresource
        {
            continue;
        }
        entry.fields.retain(|path| !forced.contains(path));
    }
    let time = util::now_rfc3339();
    match entries.iter_mut().find(|entry| {
        entry.manager == manager && entry.operation == "Apply" && entry.subresource == subresource
    }) {
        Some(entry) => {
            entry.fields = applied;
            entry.time = time;
            entry.api_version = api_version.to_string();
        }
        None => entries.push(ManagedEntry {
            manager: manager.to_string(),
            operation: "Apply".to_string(),
            api_version: api_version.to_string(),
            time,
            subresource: subresource.to_string(),
            fields: applied,
        }),
    }
    util::metadata_mut(&mut next).insert("managedFields".to_string(), encode_managed(&entries));
    ApplyResult::Merged(next)
}

fn is_leaf_value(config: &Value, path: &[String]) -> bool {
    !matches!(value_at(config, path), Some(Value::Object(_)))
}

/// Maps emptied by removals (e.g. `metadata.labels` after its last label went) are dropped,
/// unless the configuration still sends them.
fn prune_empty_parents(object: &mut Value, config: &Value) {
    if let (Some(map), config_map) = (object.as_object_mut(), config.as_object()) {
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            let config_child = config_map.and_then(|config_map| config_map.get(&key));
            if let Some(child) = map.get_mut(&key) {
                prune_empty_parents(child, config_child.unwrap_or(&Value::Null));
                if child.as_object().is_some_and(Map::is_empty)
                    && config_child.is_none()
                    && key != "metadata"
                {
                    map.shift_remove(&key);
                }
            }
        }
    }
}

/// `.spec.replicas`-style rendering of a path, as kube-apiserver prints conflicts.
pub fn display_path(path: &[String]) -> String {
    let mut text = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            text.push('.');
            text.push_str(field);
        } else if let Some(key) = element.strip_prefix("k:") {
            text.push('[');
            text.push_str(key);
            text.push(']');
        } else if let Some(value) = element.strip_prefix("v:") {
            text.push_str("[=");
            text.push_str(value);
            text.push(']');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_apply(
        live: Option<Value>,
        config: Value,
        manager: &str,
        force: bool,
        expected: Result<Value, Vec<&str>>,
    ) {
        let result = apply(
            live.as_ref(),
            &config,
            manager,
            "v1",
            "",
            force,
            Shape::Heuristic,
        );
        match (result, expected) {
            (ApplyResult::Merged(mut merged), Ok(expected)) => {
                util::metadata_mut(&mut merged).shift_remove("managedFields");
                assert_eq!(merged, expected);
            }
            (ApplyResult::Conflicts(causes), Err(fields)) => {
                let found: Vec<&str> = causes.iter().map(|cause| cause.field.as_str()).collect();
                assert_eq!(found, fields);
            }
            (ApplyResult::Merged(merged), Err(_)) => panic!("expected conflicts, got {merged}"),
            (ApplyResult::Conflicts(causes), Ok(_)) => panic!("unexpected conflicts {causes:?}"),
        }
    }

    fn applied(live: Option<Value>, config: Value, manager: &str) -> Value {
        match apply(
            live.as_ref(),
            &config,
            manager,
            "v1",
            "",
            false,
            Shape::Heuristic,
        ) {
            ApplyResult::Merged(merged) => merged,
            ApplyResult::Conflicts(causes) => panic!("unexpected conflicts {causes:?}"),
        }
    }

    #[test]
    fn fields_round_trip_through_fields_v1() {
        let object = json!({"metadata": {"name": "x", "labels": {"a": "1"}, "finalizers": ["f"]},
            "spec": {"containers": [{"name": "c", "image": "i"}], "args": ["x"]}});
        let set = field_set(&object, false, Shape::Heuristic);
        let encoded = encode_fields(&set);
        assert_eq!(
            encoded,
            json!({"f:metadata": {"f:labels": {"f:a": {}}, "f:finalizers": {"v:\"f\"": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}, "f:args": {}}})
        );
        assert_eq!(decode_fields(&encoded), set);
    }

    #[test]
    fn apply_cases() {
        let base = json!({"metadata": {"name": "x"}, "data": {"a": "1", "b": "2"}});
        let first = applied(None, base.clone(), "one");
        // Removing a field the applier alone owned removes it.
        check_apply(
            Some(first.clone()),
            json!({"metadata": {"name": "x"}, "data": {"a": "1"}}),
            "one",
            false,
            Ok(json!({"metadata": {"name": "x"}, "data": {"a": "1"}})),
        );
        // Another manager setting a different value conflicts, unless forced.
        check_apply(
            Some(first.clone()),
            json!({"metadata": {"name": "x"}, "data": {"a": "9"}}),
            "two",
            false,
            Err(vec![".data.a"]),
        );
        check_apply(
            Some(first.clone()),
            json!({"metadata": {"name": "x"}, "data": {"a": "9"}}),
            "two",
            true,
            Ok(json!({"metadata": {"name": "x"}, "data": {"a": "9", "b": "2"}})),
        );
        // Same value: shared ownership, no conflict.
        check_apply(
            Some(first),
            json!({"metadata": {"name": "x"}, "data": {"a": "1"}}),
            "two",
            false,
            Ok(base),
        );
    }

    #[test]
    fn associative_lists_merge_by_key() {
        let live = applied(
            None,
            json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}}),
            "one",
        );
        let merged = applied(
            Some(live),
            json!({"spec": {"containers": [{"name": "c", "image": "3"}]}}),
            "two",
        );
        let names: Vec<&str> = merged["spec"]["containers"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|item| item["name"].as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    #[test]
    fn crd_schemas_decide_list_types() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "byName": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"],
                "items": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}},
            "plain": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "whole": {"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": {"type": "string"}}}}}});
        let shape = Shape::for_schema(Some(&schema));
        let object = json!({"spec": {"byName": [{"id": "a", "name": "x"}], "plain": [{"name": "p"}], "tags": ["t"], "whole": {"k": "v"}}});
        let encoded = encode_fields(&field_set(&object, false, shape));
        assert_eq!(
            encoded,
            json!({"f:spec": {"f:byName": {"k:{\"id\":\"a\"}": {".": {}, "f:id": {}, "f:name": {}}}, "f:plain": {}, "f:tags": {"v:\"t\"": {}}, "f:whole": {}}})
        );
        // Without a list type a CRD list is atomic: an applied list replaces the live one.
        let mut live = json!({"spec": {"plain": [{"name": "old"}], "byName": [{"id": "a"}]}});
        merge_into(
            &mut live,
            &json!({"spec": {"plain": [{"name": "new"}], "byName": [{"id": "b"}]}}),
            "",
            shape,
        );
        assert_eq!(
            live,
            json!({"spec": {"plain": [{"name": "new"}], "byName": [{"id": "a"}, {"id": "b"}]}})
        );
    }

    /// Every path of a field set and every prefix of one (structured-merge-diff's full set marks
    /// every node, an Apply entry only leaves and list items).
    fn with_prefixes(set: &FieldSet) -> FieldSet {
        let mut closed = FieldSet::new();
        for path in set {
            for length in 1..=path.len() {
                closed.insert(path[..length].to_vec());
            }
        }
        closed
    }

    #[test]
    fn field_sets_match_structured_merge_diff() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/field-sets");
        let mut cases: Vec<_> = std::fs::read_dir(&root)
            .expect("tests/field-sets")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.is_dir())
            .collect();
        cases.sort();
        assert!(
            cases.len() >= 4,
            "the four structured-merge-diff cases are present"
        );
        for case in cases {
            let text = std::fs::read_to_string(case.join("object.yaml")).expect("object.yaml");
            let object = flotilla_core::to_json(
                &flotilla_core::parse_single_document(&text).expect("object.yaml is YAML"),
            );
            let expected: Value = serde_json::from_str(
                &std::fs::read_to_string(case.join("expected-fields.json")).expect("expected"),
            )
            .expect("expected-fields.json is JSON");
            let api_version = object["apiVersion"].as_str().expect("apiVersion");
            let kind = object["kind"].as_str().expect("kind");
            let node = flotilla_patch::Schema::builtin()
                .resource(api_version, kind)
                .expect("a built-in kind");
            let has_status = node.field("status").is_some();
            let ours = with_prefixes(&field_set(&object, false, Shape::Builtin(Some(node))));
            let never_recorded = |path: &FieldPath| {
                let top = path[0].as_str();
                top == "f:apiVersion"
                    || top == "f:kind"
                    || (top == "f:status" && has_status)
                    || path == &["f:metadata".to_string()]
                    || (top == "f:metadata"
                        && IGNORED_METADATA
                            .iter()
                            .any(|field| path[1] == format!("f:{field}")))
            };
            let expected: FieldSet = with_prefixes(&decode_fields(&expected))
                .into_iter()
                .filter(|path| !never_recorded(path))
                .collect();
            let ours: FieldSet = ours
                .into_iter()
                .filter(|path| !never_recorded(path))
                .collect();
            let missing: Vec<_> = expected.difference(&ours).collect();
            let extra: Vec<_> = ours.difference(&expected).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{}: missing {missing:?}, extra {extra:?}",
                case.display()
            );
        }
    }
}
