//! Strategic merge patch as kustomize v5.5 applies it (kyaml's merge walker with patch items
//! prepended), not as the API server's apimachinery does.
//!
//! The rules, as observed from `kubectl kustomize` v1.32.4:
//! - Mappings merge recursively; a `null` in the patch deletes the field; scalars are replaced.
//!   Every mapping the merge walks (the resource, nested mappings, items of keyed lists) loses
//!   the null fields of the target written with no value (`key:`, `key: !!null`); the patch
//!   need not mention them. Nulls written `null` or `~` stay, and so does everything in lists
//!   replaced whole.
//! - A list merges by key only when the schema gives its field a patch strategy containing
//!   `merge`; every other list (no schema, CRDs, `replace`, no strategy) is replaced whole.
//! - Merge keys are `x-kubernetes-list-map-keys` when present (container ports:
//!   `containerPort`,`protocol`; service ports: `port`,`protocol`), else the patch merge key;
//!   a `merge` list without keys (finalizers) is merged as a set of scalars.
//! - Order: merged and new patch items come first in patch order, then the target's other
//!   items. With several merge keys the target's items that matched are moved behind the new
//!   ones, and a target item lacking one of the keys (a port without `protocol`) replaces the
//!   items sharing its other key values: kyaml's quirks, reproduced.
//! - More of them: a patch item without the merge key (or with a null one) removes every target
//!   item that has the key, and is dropped itself; a target item without the key ends up alone
//!   with the items after it; null and empty-mapping items vanish from merged lists; a scalar
//!   item in a keyed target list is an error. `tests/cases/smp` shows each.
//! - Directives `$patch: delete|replace|merge` on a mapping or as a list item are honoured and
//!   removed; `$patch: delete` on the resource deletes it, `$patch: replace` on the resource
//!   leaves it unchanged (kustomize drops the replacement). `$retainKeys`,
//!   `$setElementOrder/…` and `$deleteFromPrimitiveList/…` are not directives for kyaml: they
//!   are copied into the result like any other field.
//!
//! Implementation: kyaml mutates shared YAML nodes in place, and several of its results depend
//! on that aliasing (an item merged into the target list is the same node later re-inserted;
//! a directive removed from the patch stays removed when the item is visited again). So the
//! merge runs on `Tree`, an arena of nodes addressed by index where an index is a node's
//! identity, and converts back to a `Value` at the end.

use flotilla_core::{Mapping, Value, Written};

use crate::schema::{Schema, SchemaNode};

/// The result of a strategic merge patch.
#[derive(Clone, Debug, PartialEq)]
pub enum MergeOutcome {
    /// The patched resource.
    Merged(Value),
    /// The patch said `$patch: delete` for the whole resource: remove it from the output.
    Deleted,
}

/// Why a strategic merge patch could not be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StrategicMergeError {
    #[error("wrong node kind at `{path}`: expected a {expected} but got a {found}")]
    WrongNodeKind {
        path: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("unknown patch strategy `{directive}` at `{path}`")]
    UnknownDirective { path: String, directive: String },
}

/// Applies `patch` to `target` the way `kubectl kustomize` (v5.5) applies a strategic merge patch
/// from `patches:`. The schema is looked up by the target's (then the patch's) `apiVersion` and
/// `kind`; pass `Schema::builtin()` unless the kustomization sets `openapi: path:`.
///
/// kustomize afterwards restores the target's name, namespace and kind unless the patch entry
/// allows changing them; that is the caller's job.
pub fn strategic_merge(
    target: &Value,
    patch: &Value,
    schema: &Schema,
) -> Result<MergeOutcome, StrategicMergeError> {
    let mut tree = Tree::default();
    let target = tree.import(target);
    let patch = tree.import(patch);
    let mut merger = Merger { tree, schema };
    let mut path = Vec::new();
    match merger.walk(Some(target), Some(patch), None, &mut path)? {
        None => Ok(MergeOutcome::Deleted),
        // kustomize keeps the target node, merged in place, not the node the merge returns:
        // they differ only for `$patch: replace` on the whole resource, which so changes nothing.
        Some(_) => Ok(MergeOutcome::Merged(merger.tree.export(target))),
    }
}

type Id = usize;

#[derive(Clone, Debug)]
enum Node {
    /// A scalar; `keep` marks a null that must survive being set on a mapping; `written` is how
    /// a mapping's value was written, when the mapping remembered it.
    Scalar {
        value: Value,
        keep: bool,
        written: Option<Written>,
    },
    Sequence(Vec<Id>),
    Mapping(Vec<(String, Id)>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Scalar,
    Sequence,
    Mapping,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Scalar => "scalar",
            Kind::Sequence => "sequence",
            Kind::Mapping => "mapping",
        }
    }
}

/// YAML nodes with identity: an `Id` is what a pointer to a node is in kyaml.
#[derive(Default)]
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn add(&mut self, node: Node) -> Id {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn import(&mut self, value: &Value) -> Id {
        match value {
            Value::Sequence(items) => {
                let items = items.iter().map(|item| self.import(item)).collect();
                self.add(Node::Sequence(items))
            }
            Value::Mapping(mapping) => {
                let entries = mapping
                    .iter()
                    .map(|(key, value)| {
                        let id = self.import(value);
                        if let Node::Scalar { written, .. } = &mut self.nodes[id] {
                            written.clone_from(&mapping.written(key).cloned());
                        }
                        (key.clone(), id)
                    })
                    .collect();
                self.add(Node::Mapping(entries))
            }
            scalar => self.add(Node::Scalar {
                value: scalar.clone(),
                keep: false,
                written: None,
            }),
        }
    }

    fn export(&self, id: Id) -> Value {
        match &self.nodes[id] {
            Node::Scalar { value, .. } => value.clone(),
            Node::Sequence(items) => {
                Value::Sequence(items.iter().map(|item| self.export(*item)).collect())
            }
            Node::Mapping(entries) => {
                let mut mapping = Mapping::with_capacity(entries.len());
                for (key, value) in entries {
                    mapping.insert(key.clone(), self.export(*value));
                    if let Node::Scalar {
                        written: Some(written),
                        ..
                    } = &self.nodes[*value]
                    {
                        mapping.set_written(key, written.clone());
                    }
                }
                Value::Mapping(mapping)
            }
        }
    }

    fn kind(&self, id: Id) -> Kind {
        match &self.nodes[id] {
            Node::Scalar { .. } => Kind::Scalar,
            Node::Sequence(_) => Kind::Sequence,
            Node::Mapping(_) => Kind::Mapping,
        }
    }

    fn is_null(&self, id: Id) -> bool {
        matches!(
            &self.nodes[id],
            Node::Scalar {
                value: Value::Null,
                ..
            }
        )
    }

    fn missing_or_null(&self, id: Option<Id>) -> bool {
        id.is_none_or(|id| self.is_null(id))
    }

    fn missing_null_or_empty_map(&self, id: Option<Id>) -> bool {
        match id {
            None => true,
            Some(id) => match &self.nodes[id] {
                Node::Scalar { value, .. } => value.is_null(),
                Node::Mapping(entries) => entries.is_empty(),
                Node::Sequence(_) => false,
            },
        }
    }

    fn is_mapping(&self, id: Id) -> bool {
        matches!(self.nodes[id], Node::Mapping(_))
    }

    fn items(&self, id: Id) -> Vec<Id> {
        match &self.nodes[id] {
            Node::Sequence(items) => items.clone(),
            _ => Vec::new(),
        }
    }

    fn keys(&self, id: Id) -> Vec<String> {
        match &self.nodes[id] {
            Node::Mapping(entries) => entries.iter().map(|(key, _)| key.clone()).collect(),
            _ => Vec::new(),
        }
    }

    fn field(&self, id: Id, key: &str) -> Option<Id> {
        match &self.nodes[id] {
            Node::Mapping(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v),
            _ => None,
        }
    }

    /// The scalar text of a node as a YAML parser keeps it; empty for collections.
    fn text(&self, id: Id) -> String {
        match &self.nodes[id] {
            Node::Scalar {
                value: Value::Null, ..
            } => "null".to_string(),
            Node::Scalar { value, .. } => value.scalar_text().unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The text of a field value, empty when the value is null or an empty collection.
    fn text_unless_empty(&self, id: Option<Id>) -> String {
        let Some(id) = id else {
            return String::new();
        };
        match &self.nodes[id] {
            Node::Scalar {
                value: Value::Null, ..
            } => String::new(),
            Node::Scalar { value, .. } => value.scalar_text().unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Sets, replaces or (for a missing value or a null not marked to keep) removes a field.
    fn set_field(&mut self, id: Id, key: &str, value: Option<Id>) {
        let remove = match value {
            None => true,
            Some(value) => matches!(
                &self.nodes[value],
                Node::Scalar {
                    value: Value::Null,
                    keep: false,
                    ..
                }
            ),
        };
        let Node::Mapping(entries) = &mut self.nodes[id] else {
            return;
        };
        match (remove, value) {
            (true, _) | (_, None) => entries.retain(|(k, _)| k != key),
            (false, Some(value)) => match entries.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => entries.push((key.to_string(), value)),
            },
        }
    }

    fn remove_field(&mut self, id: Id, key: &str) {
        if let Node::Mapping(entries) = &mut self.nodes[id] {
            entries.retain(|(k, _)| k != key);
        }
    }

    fn set_items(&mut self, id: Id, new_items: Vec<Id>) {
        if let Node::Sequence(items) = &mut self.nodes[id] {
            *items = new_items;
        }
    }

    fn push_item(&mut self, id: Id, item: Id) {
        if let Node::Sequence(items) = &mut self.nodes[id] {
            items.push(item);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

/// One step of the path to the node being merged, for error messages.
#[derive(Clone, Debug)]
enum Step {
    Field(String),
    Item(Vec<String>, Vec<String>),
}

fn render_path(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Field(name) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(name);
            }
            Step::Item(keys, values) => {
                text.push('[');
                for (i, (key, value)) in keys.iter().zip(values).enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    if key.is_empty() {
                        text.push_str(value);
                    } else {
                        text.push_str(&format!("{key}={value}"));
                    }
                }
                text.push(']');
            }
        }
    }
    if text.is_empty() {
        text.push('.');
    }
    text
}

const DIRECTIVE_KEY: &str = "$patch";

struct Merger<'s> {
    tree: Tree,
    schema: &'s Schema,
}

type MergeResult<T> = Result<T, StrategicMergeError>;

impl<'s> Merger<'s> {
    fn wrong_kind(&self, path: &[Step], expected: Kind, found: Kind) -> StrategicMergeError {
        StrategicMergeError::WrongNodeKind {
            path: render_path(path),
            expected: expected.name(),
            found: found.name(),
        }
    }

    /// The schema of a node that has none from its parent: that of a resource type named by the
    /// node's own `apiVersion` and `kind`, target first.
    fn schema_of_sources(&self, sources: [Option<Id>; 2]) -> Option<SchemaNode<'s>> {
        for source in sources.into_iter().flatten() {
            if self.tree.is_null(source) {
                continue;
            }
            let api_version = self
                .tree
                .text_unless_empty(self.tree.field(source, "apiVersion"));
            let kind = self.tree.text_unless_empty(self.tree.field(source, "kind"));
            if api_version.is_empty() || kind.is_empty() {
                continue;
            }
            if let Some(schema) = self.schema.resource(&api_version, &kind) {
                return Some(schema);
            }
        }
        None
    }

    fn walk(
        &mut self,
        dest: Option<Id>,
        origin: Option<Id>,
        schema: Option<SchemaNode<'s>>,
        path: &mut Vec<Step>,
    ) -> MergeResult<Option<Id>> {
        let schema = schema.or_else(|| self.schema_of_sources([dest, origin]));
        let present: Vec<Id> = [dest, origin]
            .into_iter()
            .flatten()
            .filter(|id| !self.tree.is_null(*id))
            .collect();
        let Some(first) = present.first() else {
            return self.walk_map(dest, origin, schema, path);
        };
        let kind = self.tree.kind(*first);
        if let Some(other) = present.iter().find(|id| self.tree.kind(**id) != kind) {
            return Err(self.wrong_kind(path, kind, self.tree.kind(*other)));
        }
        match kind {
            Kind::Mapping => self.walk_map(dest, origin, schema, path),
            Kind::Sequence => {
                if schema.is_some_and(|s| s.has_patch_strategy("merge")) {
                    self.walk_associative_list(dest, origin, schema, path)
                } else {
                    // Lists without a merge strategy are replaced by the patch's.
                    Ok(origin.or(dest))
                }
            }
            Kind::Scalar => Ok(origin.or(dest)),
        }
    }

    /// Reads (and removes) a `$patch` directive of a mapping or list in the patch.
    fn directive(&mut self, patch: Option<Id>, path: &[Step]) -> MergeResult<Directive> {
        let Some(patch) = patch else {
            return Ok(Directive::Merge);
        };
        let parse = |text: &str| match text {
            "delete" => Some(Directive::Delete),
            "replace" => Some(Directive::Replace),
            "merge" => Some(Directive::Merge),
            _ => None,
        };
        match self.tree.kind(patch) {
            Kind::Mapping => {
                let Some(value) = self.tree.field(patch, DIRECTIVE_KEY) else {
                    return Ok(Directive::Merge);
                };
                let text = self.tree.text(value);
                let directive =
                    parse(&text).ok_or_else(|| StrategicMergeError::UnknownDirective {
                        path: render_path(path),
                        directive: text.clone(),
                    })?;
                self.tree.remove_field(patch, DIRECTIVE_KEY);
                Ok(directive)
            }
            Kind::Sequence => {
                // The first mapping item with a `$patch` key is about the list only when it
                // has no other key.
                let items = self.tree.items(patch);
                let Some(item) = items
                    .iter()
                    .copied()
                    .find(|item| self.tree.field(*item, DIRECTIVE_KEY).is_some())
                else {
                    return Ok(Directive::Merge);
                };
                if self.tree.keys(item).len() > 1 {
                    return Ok(Directive::Merge);
                }
                let value = self.tree.field(item, DIRECTIVE_KEY).expect("found above");
                let text = self.tree.text(value);
                let directive =
                    parse(&text).ok_or_else(|| StrategicMergeError::UnknownDirective {
                        path: render_path(path),
                        directive: text.clone(),
                    })?;
                let keys = [DIRECTIVE_KEY.to_string()];
                self.set_element(patch, None, &keys, std::slice::from_ref(&text), path)?;
                Ok(directive)
            }
            Kind::Scalar => Ok(Directive::Merge),
        }
    }

    fn visit_map(
        &mut self,
        dest: Option<Id>,
        origin: Option<Id>,
        path: &[Step],
    ) -> MergeResult<Option<Id>> {
        if self.tree.missing_or_null(dest) {
            // Adding: an unknown directive is not an error here, as in kyaml.
            if self.directive(origin, path).ok() == Some(Directive::Delete) {
                return Ok(None);
            }
            if let (None, Some(dest)) = (origin, dest) {
                // A null in the target survives when the patch does not mention it, if it was
                // written (`null`, `~`): one written as nothing (`key:`) goes, like a missing
                // value. kyaml keeps a null only when its node has text.
                let written = match &self.tree.nodes[dest] {
                    Node::Scalar { written, .. } => written.clone(),
                    _ => None,
                };
                if written.as_ref().is_some_and(Written::is_empty_null) {
                    return Ok(None);
                }
                return Ok(Some(self.tree.add(Node::Scalar {
                    value: Value::Null,
                    keep: true,
                    written,
                })));
            }
            return Ok(origin);
        }
        if origin.is_some_and(|origin| self.tree.is_null(origin)) {
            return Ok(None);
        }
        match self.directive(origin, path)? {
            Directive::Delete => Ok(None),
            Directive::Replace => Ok(origin),
            Directive::Merge => Ok(dest),
        }
    }

    fn walk_map(
        &mut self,
        dest: Option<Id>,
        origin: Option<Id>,
        schema: Option<SchemaNode<'s>>,
        path: &mut Vec<Step>,
    ) -> MergeResult<Option<Id>> {
        let Some(dest) = self.visit_map(dest, origin, path)? else {
            return Ok(None);
        };
        let mut names = self.tree.keys(dest);
        if let Some(origin) = origin {
            names.extend(self.tree.keys(origin));
        }
        names.sort();
        names.dedup();
        for name in names {
            let field_schema = schema.and_then(|s| s.field(&name));
            let dest_field = self.tree.field(dest, &name);
            let origin_field = origin.and_then(|origin| self.tree.field(origin, &name));
            path.push(Step::Field(name.clone()));
            let value = self.walk(dest_field, origin_field, field_schema, path);
            path.pop();
            let value = value?;
            self.tree.set_field(dest, &name, value);
        }
        Ok(Some(dest))
    }

    fn walk_associative_list(
        &mut self,
        dest: Option<Id>,
        origin: Option<Id>,
        schema: Option<SchemaNode<'s>>,
        path: &mut Vec<Step>,
    ) -> MergeResult<Option<Id>> {
        // Visit the list: add, clear, replace or keep it.
        let dest = if self.tree.missing_or_null(dest) {
            origin
        } else if origin.is_some_and(|origin| self.tree.is_null(origin)) {
            None
        } else {
            match self.directive(origin, path)? {
                Directive::Delete => None,
                Directive::Replace => origin,
                Directive::Merge => dest,
            }
        };
        let Some(dest) = dest else {
            return Ok(None);
        };
        let keys: Vec<String> = schema
            .map(|s| s.merge_keys().into_iter().map(str::to_string).collect())
            .unwrap_or_default();
        let values = if keys.is_empty() {
            Vec::new()
        } else {
            self.element_key_values(dest, origin, &keys)
        };
        if !values.is_empty() || !keys.is_empty() {
            self.merge_elements(values, keys, dest, origin, schema, path)
        } else {
            let values = self.element_scalar_values(dest, origin);
            self.merge_elements(values, vec![String::new()], dest, origin, schema, path)
        }
    }

    /// The merge key values of every item, patch items first, without duplicates.
    fn element_key_values(
        &self,
        dest: Id,
        origin: Option<Id>,
        keys: &[String],
    ) -> Vec<Vec<String>> {
        let mut result: Vec<Vec<String>> = Vec::new();
        for source in [origin, Some(dest)].into_iter().flatten() {
            for item in self.tree.items(source) {
                let values: Vec<String> = keys
                    .iter()
                    .map(|key| self.tree.text_unless_empty(self.tree.field(item, key)))
                    .collect();
                if !values.is_empty() && !result.contains(&values) {
                    result.push(values);
                }
            }
        }
        result
    }

    /// The items of a list of scalars, patch items first, without duplicates.
    fn element_scalar_values(&self, dest: Id, origin: Option<Id>) -> Vec<Vec<String>> {
        let mut result: Vec<Vec<String>> = Vec::new();
        for source in [origin, Some(dest)].into_iter().flatten() {
            for item in self.tree.items(source) {
                let values = vec![self.tree.text(item)];
                if !result.contains(&values) {
                    result.push(values);
                }
            }
        }
        result
    }

    fn merge_elements(
        &mut self,
        mut values_list: Vec<Vec<String>>,
        keys: Vec<String>,
        dest: Id,
        origin: Option<Id>,
        schema: Option<SchemaNode<'s>>,
        path: &mut Vec<Step>,
    ) -> MergeResult<Option<Id>> {
        let added = self.tree.add(Node::Sequence(Vec::new()));
        let element_schema = schema.and_then(|s| s.elements());
        if keys.len() > 1 {
            unify_partial_key_values(&mut values_list);
        }
        let mut last_keys: Vec<String> = Vec::new();
        for values in &values_list {
            if values.is_empty() {
                continue;
            }
            let (valid_keys, valid_values) = usable_keys(&values_list, values, &keys);
            last_keys.clone_from(&valid_keys);
            let (lookup_keys, lookup_values) = usable_keys(
                std::slice::from_ref(&valid_values),
                &valid_values,
                &valid_keys,
            );
            let dest_item = self.find_element(Some(dest), &lookup_keys, &lookup_values);
            let origin_item = self.find_element(origin, &lookup_keys, &lookup_values);
            path.push(Step::Item(valid_keys.clone(), valid_values.clone()));
            let merged = self.walk(dest_item, origin_item, element_schema, path);
            let merged = match merged {
                Ok(merged) => merged,
                Err(error) => {
                    path.pop();
                    return Err(error);
                }
            };
            let mut removed = false;
            for (i, key) in valid_keys.iter().enumerate() {
                if self.tree.missing_null_or_empty_map(merged) {
                    // The item was deleted (or merged to nothing): drop it from the target.
                    if let Err(error) =
                        self.set_element(dest, None, &valid_keys, &valid_values, path)
                    {
                        path.pop();
                        return Err(error);
                    }
                    removed = true;
                } else if let Some(merged) = merged {
                    if !key.is_empty()
                        && self.tree.field(merged, key).is_none()
                        && !valid_values[i].is_empty()
                    {
                        // kyaml sets an untagged scalar, which resolves like plain YAML text.
                        let value = self.tree.add(Node::Scalar {
                            value: flotilla_core::go_format::resolve_plain_v3(&valid_values[i]),
                            keep: false,
                            written: None,
                        });
                        self.tree.set_field(merged, key, Some(value));
                    }
                }
            }
            let result = if removed {
                Ok(())
            } else {
                self.set_element(added, merged, &valid_keys, &valid_values, path)
            };
            path.pop();
            result?;
        }
        let result = if values_list.is_empty() {
            dest
        } else {
            self.append_elements(added, dest, &last_keys, path)?
        };
        Ok(Some(result).filter(|id| !self.tree.is_null(*id)))
    }

    /// The first item of `list` whose fields `keys` have the texts `values` (for a list of
    /// scalars, `keys` is `[""]`: the first item with the text `values[0]`).
    fn find_element(&self, list: Option<Id>, keys: &[String], values: &[String]) -> Option<Id> {
        let list = list?;
        if self.tree.kind(list) != Kind::Sequence || keys.len() != values.len() {
            return None;
        }
        let items = self.tree.items(list);
        if keys.first().is_none_or(|key| key.is_empty()) {
            let wanted = values.first().cloned().unwrap_or_default();
            return items
                .into_iter()
                .find(|item| self.tree.text(*item) == wanted);
        }
        items.into_iter().find(|item| {
            self.tree.is_mapping(*item)
                && keys.iter().zip(values).all(|(key, value)| {
                    self.tree
                        .field(*item, key)
                        .is_some_and(|field| self.tree.text(field) == *value)
                })
        })
    }

    /// Whether `item` has the field `key` with the text `value` (any value when `value` is
    /// empty); an empty `key` compares a scalar item itself.
    fn item_matches(&self, item: Id, key: &str, value: &str, path: &[Step]) -> MergeResult<bool> {
        if key.is_empty() {
            let kind = self.tree.kind(item);
            if kind != Kind::Scalar {
                return Err(self.wrong_kind(path, Kind::Scalar, kind));
            }
            return Ok(self.tree.text(item) == value);
        }
        let kind = self.tree.kind(item);
        if kind != Kind::Mapping {
            return Err(self.wrong_kind(path, Kind::Mapping, kind));
        }
        Ok(match self.tree.field(item, key) {
            None => false,
            Some(_) if value.is_empty() => true,
            Some(field) => self.tree.text(field) == value,
        })
    }

    /// Replaces the items of `list` matching `keys`/`values` by `element`, deletes them when
    /// `element` is `None`, and appends `element` when nothing matched. Like kyaml's setter it
    /// also drops null and empty-mapping items, and with no `values` every item.
    fn set_element(
        &mut self,
        list: Id,
        element: Option<Id>,
        keys: &[String],
        values: &[String],
        path: &[Step],
    ) -> MergeResult<()> {
        let default_keys = [String::new()];
        let keys = if keys.is_empty() {
            &default_keys[..]
        } else {
            keys
        };
        let mapping_setter = !keys[0].is_empty() && values.first().is_some_and(|v| !v.is_empty());
        let mut kept = Vec::new();
        let mut matched_any = false;
        for item in self.tree.items(list) {
            if self.tree.missing_null_or_empty_map(Some(item)) {
                continue;
            }
            if !self.tree.is_mapping(item) && mapping_setter {
                kept.push(item);
                continue;
            }
            let mut found = !values.is_empty();
            for (key, value) in keys.iter().zip(values) {
                if !self.item_matches(item, key, value, path)? {
                    found = false;
                    break;
                }
            }
            if !found {
                if !values.is_empty() {
                    kept.push(item);
                }
                continue;
            }
            matched_any = true;
            if let Some(element) = element {
                kept.push(element);
            }
        }
        self.tree.set_items(list, kept);
        if let Some(element) = element {
            if !self.tree.is_null(element) && !matched_any {
                self.tree.push_item(list, element);
            }
        }
        Ok(())
    }

    /// Adds the target's items behind the merged patch items in `added`: an item matching one
    /// there replaces it in place (with one key) or is moved to the end (with several keys).
    fn append_elements(
        &mut self,
        added: Id,
        dest: Id,
        keys: &[String],
        path: &[Step],
    ) -> MergeResult<Id> {
        let default_keys = [String::new()];
        let keys = if keys.is_empty() {
            &default_keys[..]
        } else {
            keys
        };
        for item in self.tree.items(dest) {
            if keys[0].is_empty() {
                let text = self.tree.text(item);
                self.set_element(added, Some(item), keys, std::slice::from_ref(&text), path)?;
                continue;
            }
            let mut values = Vec::new();
            for key in keys {
                if self.tree.is_null(item) {
                    self.tree.push_item(added, item);
                    continue;
                }
                let kind = self.tree.kind(item);
                if kind != Kind::Mapping {
                    return Err(self.wrong_kind(path, Kind::Mapping, kind));
                }
                match self.tree.field(item, key) {
                    None => self.tree.push_item(added, item),
                    Some(field) => values.push(self.tree.text(field)),
                }
            }
            if keys.len() > 1 {
                self.set_element(added, None, keys, &values, path)?;
            }
            self.set_element(added, Some(item), keys, &values, path)?;
        }
        Ok(added)
    }
}

/// With several merge keys, two key-value rows that agree on one key and differ elsewhere
/// only where one of them is empty describe the same item: both get the union of their values.
fn unify_partial_key_values(values_list: &mut [Vec<String>]) {
    for i in 0..values_list.len() {
        let first = values_list[i].clone();
        for j in 0..values_list.len() {
            if let Some(unified) = unify(&first, &values_list[j]) {
                values_list[i] = unified.clone();
                values_list[j] = unified;
            }
        }
    }
}

fn unify(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut unified = Vec::with_capacity(a.len());
    for (a, b) in a.iter().zip(b) {
        if a == b {
            common = true;
            unified.push(a.clone());
        } else if !a.is_empty() && !b.is_empty() {
            return None;
        } else if a.is_empty() {
            unified.push(b.clone());
        } else {
            unified.push(a.clone());
        }
    }
    common.then_some(unified)
}

/// The merge keys that some item of the list has a value for (all keys when none has), and
/// this item's values for them.
fn usable_keys(
    values_list: &[Vec<String>],
    values: &[String],
    keys: &[String],
) -> (Vec<String>, Vec<String>) {
    let used: Vec<bool> = (0..keys.len())
        .map(|i| {
            values_list
                .iter()
                .any(|row| row.get(i).is_some_and(|v| !v.is_empty()))
        })
        .collect();
    if !used.contains(&true) {
        return (keys.to_vec(), values.to_vec());
    }
    let valid_keys = keys
        .iter()
        .zip(&used)
        .filter(|(_, used)| **used)
        .map(|(key, _)| key.clone())
        .collect();
    let valid_values = values
        .iter()
        .enumerate()
        .filter(|(i, value)| !value.is_empty() || used.get(*i).copied().unwrap_or(false))
        .map(|(_, value)| value.clone())
        .collect();
    (valid_keys, valid_values)
}
