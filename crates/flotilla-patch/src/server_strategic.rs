//! Strategic merge patch as the Kubernetes API server applies it (apimachinery's
//! `strategicpatch`, the `application/strategic-merge-patch+json` PATCH and `kubectl patch`),
//! which is not kustomize's (see `crate::strategic`).
//!
//! The rules: mappings merge recursively; `null` deletes; a field whose schema strategy is
//! `replace` is replaced whole; lists merge only with strategy `merge`: lists of mappings by the
//! single patch merge key (list-map-keys are not used), lists of scalars as a union. Directives:
//! `$patch: replace|delete` on a mapping, `{$patch: replace}` and `{<key>: v, $patch: delete}`
//! list items, `$retainKeys` (drops the target's fields not listed), `$setElementOrder/<list>`
//! and `$deleteFromPrimitiveList/<list>`. Ordering of merged lists: patch items in the order of
//! `$setElementOrder` or of the patch, target-only items in target order, interleaved as
//! apimachinery does. Values new to the target lose their `null` fields and their directives.
//!
//! The schema is the target type's; kinds without one (custom resources) are refused, as the
//! API server refuses strategic merge patches for them.

use flotilla_core::{Mapping, Value};

use crate::schema::{Schema, SchemaNode};

/// Why the API server would reject a strategic merge patch.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ServerStrategicMergeError {
    #[error(
        "strategic merge patch is not supported for {api_version} {kind}: the type has no schema"
    )]
    NoSchema { api_version: String, kind: String },
    #[error("strategic merge patch target and patch must be mappings")]
    NotAMapping,
    #[error("invalid patch at `{path}`: {reason}")]
    InvalidPatch { path: String, reason: String },
}

type Result<T> = std::result::Result<T, ServerStrategicMergeError>;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// Applies `patch` to `target` as the API server does for a strategic merge patch. The schema
/// is looked up by the target's `apiVersion` and `kind`.
pub fn server_strategic_merge(target: &Value, patch: &Value, schema: &Schema) -> Result<Value> {
    let (Value::Mapping(target_map), Value::Mapping(patch_map)) = (target, patch) else {
        return Err(ServerStrategicMergeError::NotAMapping);
    };
    let api_version = target.get_str(&["apiVersion"]).unwrap_or_default();
    let kind = target.get_str(&["kind"]).unwrap_or_default();
    let Some(resource) = schema.resource(api_version, kind) else {
        return Err(ServerStrategicMergeError::NoSchema {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        });
    };
    let mut path = Vec::new();
    merge_map(
        target_map.clone(),
        patch_map.clone(),
        Some(resource),
        &mut path,
    )
    .map(Value::Mapping)
}

fn invalid(path: &[String], reason: impl Into<String>) -> ServerStrategicMergeError {
    ServerStrategicMergeError::InvalidPatch {
        path: if path.is_empty() {
            ".".to_string()
        } else {
            path.join(".")
        },
        reason: reason.into(),
    }
}

/// The field's strategy without `retainKeys`, and its merge key.
fn field_meta(schema: Option<SchemaNode<'_>>, path: &[String]) -> Result<(String, String)> {
    let Some(schema) = schema else {
        return Ok((String::new(), String::new()));
    };
    let strategies: Vec<&str> = schema
        .declared_patch_strategy()
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    let strategy = match strategies.as_slice() {
        [] => "",
        ["retainKeys"] => "",
        [single] => single,
        ["retainKeys", other] | [other, "retainKeys"] => other,
        _ => {
            return Err(invalid(
                path,
                format!("unexpected patch strategy {strategies:?}"),
            ))
        }
    };
    Ok((
        strategy.to_string(),
        schema
            .declared_patch_merge_key()
            .unwrap_or_default()
            .to_string(),
    ))
}

fn merge_map(
    mut original: Mapping,
    mut patch: Mapping,
    schema: Option<SchemaNode<'_>>,
    path: &mut Vec<String>,
) -> Result<Mapping> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Mapping::new()),
            _ => Err(invalid(
                path,
                format!("unknown patch directive {directive:?}"),
            )),
        };
    }
    apply_retain_keys(&mut original, &mut patch, path)?;
    apply_set_element_order(&mut original, &mut patch, schema, path)?;

    for (key, patch_value) in patch {
        let (key, delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(rest) => match rest.strip_prefix('/') {
                Some(list) => (list.to_string(), true),
                None => return Err(invalid(path, format!("bad directive key `{key}`"))),
            },
            None => (key, false),
        };
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let same_kind = original.get(&key).is_some_and(|current| {
            std::mem::discriminant(&json_kind(current))
                == std::mem::discriminant(&json_kind(&patch_value))
        });
        if !same_kind {
            if !delete_list {
                match without_directives(without_nulls(patch_value)) {
                    Some(value) => {
                        original.insert(key, value);
                    }
                    None => {
                        original.remove(&key);
                    }
                }
            }
            continue;
        }
        let current = original.remove(&key).expect("checked present above");
        let field_schema = schema.and_then(|s| s.field(&key));
        path.push(key.clone());
        let merged = match (current, patch_value) {
            (Value::Mapping(current), Value::Mapping(patch_value)) => {
                let (strategy, _) = field_meta(field_schema, path)?;
                if strategy == "replace" {
                    Some(Value::Mapping(patch_value))
                } else {
                    Some(Value::Mapping(merge_map(
                        current,
                        patch_value,
                        field_schema,
                        path,
                    )?))
                }
            }
            (Value::Sequence(current), Value::Sequence(patch_value)) => {
                let (strategy, merge_key) = field_meta(field_schema, path)?;
                if strategy == "merge" || delete_list {
                    Some(Value::Sequence(merge_list(
                        current,
                        patch_value,
                        field_schema.and_then(|s| s.elements()),
                        &merge_key,
                        delete_list,
                        path,
                    )?))
                } else {
                    Some(Value::Sequence(patch_value))
                }
            }
            (_, scalar) => without_directives(scalar),
        };
        path.pop();
        if let Some(merged) = merged {
            original.insert(key, merged);
        }
    }
    Ok(original)
}

/// The JSON type of a value, for "same type" checks (numbers are one type in JSON).
#[derive(PartialEq)]
enum JsonKind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

fn json_kind(value: &Value) -> JsonKind {
    match value {
        Value::Null => JsonKind::Null,
        Value::Bool(_) => JsonKind::Bool,
        Value::Number(_) => JsonKind::Number,
        Value::String(_) | Value::Timestamp(_) => JsonKind::String,
        Value::Sequence(_) => JsonKind::Array,
        Value::Mapping(_) => JsonKind::Object,
    }
}

/// Equality of scalars as Go compares decoded JSON values (numbers as float64).
fn scalar_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => number_f64(a) == number_f64(b),
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a) | Value::Timestamp(a), Value::String(b) | Value::Timestamp(b)) => a == b,
        _ => false,
    }
}

fn number_f64(number: &flotilla_core::Number) -> f64 {
    match number {
        flotilla_core::Number::Int(i) => *i as f64,
        flotilla_core::Number::Uint(u) => *u as f64,
        flotilla_core::Number::Float(f) => *f,
    }
}

fn without_nulls(value: Value) -> Value {
    match value {
        Value::Mapping(mapping) => Value::Mapping(
            mapping
                .into_iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| (key, without_nulls(value)))
                .collect(),
        ),
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(without_nulls).collect()),
        scalar => scalar,
    }
}

/// Drops mappings carrying `$patch` (and list items that are such mappings); `None` when the
/// value itself is one.
fn without_directives(value: Value) -> Option<Value> {
    match value {
        Value::Mapping(mapping) => {
            if mapping.contains_key(DIRECTIVE) {
                return None;
            }
            Some(Value::Mapping(
                mapping
                    .into_iter()
                    .filter_map(|(key, value)| without_directives(value).map(|value| (key, value)))
                    .collect(),
            ))
        }
        Value::Sequence(items) => Some(Value::Sequence(
            items.into_iter().filter_map(without_directives).collect(),
        )),
        scalar => Some(scalar),
    }
}

fn apply_retain_keys(original: &mut Mapping, patch: &mut Mapping, path: &[String]) -> Result<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Sequence(retain) = retain else {
        return Err(invalid(path, "$retainKeys must be a list"));
    };
    let retained = |key: &str| retain.iter().any(|item| item.as_str() == Some(key));
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !retained(key) {
            return Err(invalid(
                path,
                format!("`{key}` is patched but not in $retainKeys"),
            ));
        }
    }
    original.retain(|key, _| retained(key));
    Ok(())
}

fn apply_set_element_order(
    original: &mut Mapping,
    patch: &mut Mapping,
    schema: Option<SchemaNode<'_>>,
    path: &mut Vec<String>,
) -> Result<()> {
    let directive_keys: Vec<String> = patch
        .keys()
        .filter(|key| key.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive_key in directive_keys {
        let order = patch.remove(&directive_key).expect("listed above");
        let Value::Sequence(order) = order else {
            return Err(invalid(path, format!("{directive_key} must be a list")));
        };
        let Some(list_key) = directive_key
            .strip_prefix(SET_ELEMENT_ORDER)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_string)
        else {
            return Err(invalid(
                path,
                format!("bad directive key `{directive_key}`"),
            ));
        };
        let original_list = match original.get(&list_key) {
            None => None,
            Some(Value::Sequence(items)) => Some(items.clone()),
            Some(_) => return Err(invalid(path, format!("`{list_key}` is not a list"))),
        };
        let patch_list = match patch.get(&list_key) {
            None => None,
            Some(Value::Sequence(items)) => Some(items.clone()),
            Some(_) => return Err(invalid(path, format!("`{list_key}` is not a list"))),
        };
        let field_schema = schema.and_then(|s| s.field(&list_key));
        path.push(list_key.clone());
        let (strategy, merge_key) = field_meta(field_schema, path)?;
        validate_order(
            patch_list.as_deref().unwrap_or_default(),
            &order,
            &merge_key,
            path,
        )?;
        let merged = match (&original_list, &patch_list) {
            (Some(current), None) => current.clone(),
            (None, Some(patch_items)) => {
                match without_directives(Value::Sequence(patch_items.clone())) {
                    Some(Value::Sequence(items)) => items,
                    _ => {
                        path.pop();
                        continue;
                    }
                }
            }
            (Some(current), Some(patch_items)) => {
                if strategy == "merge" {
                    merge_list(
                        current.clone(),
                        patch_items.clone(),
                        field_schema.and_then(|s| s.elements()),
                        &merge_key,
                        false,
                        path,
                    )?
                } else {
                    patch_items.clone()
                }
            }
            (None, None) => {
                path.pop();
                continue;
            }
        };
        let (in_order, server_only) = partition(&merged, &order, &merge_key, path)?;
        let original_items = original_list.unwrap_or_default();
        let maps = element_kind(
            &original_items,
            patch_list.as_deref().unwrap_or_default(),
            path,
        )?;
        let ordered = normalize_order(
            in_order,
            server_only,
            &order,
            &original_items,
            &merge_key,
            maps,
            path,
        )?;
        path.pop();
        original.insert(list_key.clone(), Value::Sequence(ordered));
        patch.remove(&list_key);
    }
    Ok(())
}

/// The items of the patch list must appear in `$setElementOrder` in the same relative order.
fn validate_order(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
    path: &[String],
) -> Result<()> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let items: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        let mut kept = Vec::new();
        for item in patch_list {
            let Value::Mapping(mapping) = item else {
                return Err(invalid(path, "list item is not a mapping"));
            };
            if mapping.get(DIRECTIVE).and_then(Value::as_str) != Some("delete") {
                kept.push(item);
            }
        }
        kept
    };
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if items[p]
            .as_mapping()
            .is_some_and(|m| m.contains_key(DIRECTIVE))
        {
            p += 1;
            continue;
        }
        if merge_key_equal(items[p], &order[o], merge_key, path)? {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() && o >= order.len() {
        return Err(invalid(
            path,
            "the patch list does not follow $setElementOrder",
        ));
    }
    Ok(())
}

fn merge_key_equal(a: &Value, b: &Value, merge_key: &str, path: &[String]) -> Result<bool> {
    if merge_key.is_empty() {
        return Ok(scalar_equal(a, b));
    }
    let (Value::Mapping(a), Value::Mapping(b)) = (a, b) else {
        return Err(invalid(path, "list item is not a mapping"));
    };
    match (a.get(merge_key), b.get(merge_key)) {
        (Some(a), Some(b)) => Ok(scalar_equal(a, b)),
        _ => Err(invalid(
            path,
            format!("list item has no merge key `{merge_key}`"),
        )),
    }
}

/// Whether the items are mappings (`true`) or scalars; errors for mixed items, lists of lists
/// and no items at all.
fn element_kind(a: &[Value], b: &[Value], path: &[String]) -> Result<bool> {
    let mut kind = None;
    for item in a.iter().chain(b) {
        let this = json_kind(item);
        if this == JsonKind::Array {
            return Err(invalid(path, "lists of lists cannot be merged"));
        }
        match &kind {
            None => kind = Some(this),
            Some(previous) if *previous != this => {
                return Err(invalid(path, "list items are not all of one type"))
            }
            _ => {}
        }
    }
    match kind {
        None => Err(invalid(path, "no list items to merge")),
        Some(kind) => Ok(kind == JsonKind::Object),
    }
}

fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    element_schema: Option<SchemaNode<'_>>,
    merge_key: &str,
    delete_list: bool,
    path: &mut Vec<String>,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let maps = element_kind(&original, &patch, path)?;
    let (original, patch, merged) = if !maps {
        if delete_list {
            let kept = original
                .into_iter()
                .filter(|item| !patch.iter().any(|gone| scalar_equal(item, gone)))
                .collect();
            return Ok(kept);
        }
        let mut both = original.clone();
        both.extend(patch.iter().cloned());
        (original, patch, deduplicate_scalars(both))
    } else {
        if merge_key.is_empty() {
            return Err(invalid(path, "cannot merge lists without a merge key"));
        }
        let (original, patch) = apply_list_directives(original, patch, merge_key, path)?;
        let merged = merge_keyed_items(original.clone(), &patch, element_schema, merge_key, path)?;
        (original, patch, merged)
    };
    let key = if maps { merge_key } else { "" };
    let (in_patch, server_only) = partition(&merged, &patch, key, path)?;
    normalize_order(in_patch, server_only, &patch, &original, key, maps, path)
}

/// Handles `$patch` items of a keyed list: deletions remove target items, `replace` makes the
/// other patch items the whole list.
fn apply_list_directives(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    path: &[String],
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        let Value::Mapping(mapping) = &item else {
            return Err(invalid(path, "list item is not a mapping"));
        };
        match mapping.get(DIRECTIVE) {
            None => plain.push(item),
            Some(directive) => match directive.as_str() {
                Some("delete") => {
                    let Some(value) = mapping.get(merge_key) else {
                        return Err(invalid(
                            path,
                            format!("deleted item has no merge key `{merge_key}`"),
                        ));
                    };
                    original.retain(|candidate| {
                        !candidate
                            .as_mapping()
                            .and_then(|c| c.get(merge_key))
                            .is_some_and(|v| scalar_equal(v, value))
                    });
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(invalid(
                        path,
                        "merging lists cannot yet be specified in the patch",
                    ))
                }
                _ => {
                    return Err(invalid(
                        path,
                        format!("unknown patch directive {directive:?}"),
                    ))
                }
            },
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

fn merge_keyed_items(
    mut original: Vec<Value>,
    patch: &[Value],
    element_schema: Option<SchemaNode<'_>>,
    merge_key: &str,
    path: &mut Vec<String>,
) -> Result<Vec<Value>> {
    for item in patch {
        let Value::Mapping(patch_item) = item else {
            return Err(invalid(path, "list item is not a mapping"));
        };
        let Some(value) = patch_item.get(merge_key) else {
            return Err(invalid(
                path,
                format!("list item has no merge key `{merge_key}`"),
            ));
        };
        let mut found = None;
        for (index, candidate) in original.iter().enumerate() {
            let Value::Mapping(candidate) = candidate else {
                return Err(invalid(path, format!("list item {index} is not a mapping")));
            };
            if candidate
                .get(merge_key)
                .is_some_and(|v| scalar_equal(v, value))
            {
                found = Some(index);
                break;
            }
        }
        match found {
            Some(index) => {
                let Value::Mapping(current) = std::mem::replace(&mut original[index], Value::Null)
                else {
                    unreachable!("checked to be a mapping above");
                };
                path.push(format!(
                    "[{merge_key}={}]",
                    value.scalar_text().unwrap_or_default()
                ));
                let merged = merge_map(current, patch_item.clone(), element_schema, path);
                path.pop();
                original[index] = Value::Mapping(merged?);
            }
            None => original.push(item.clone()),
        }
    }
    Ok(original)
}

/// apimachinery's in-place deduplication, which moves the last item into each duplicate's
/// place.
fn deduplicate_scalars(mut items: Vec<Value>) -> Vec<Value> {
    if items.is_empty() {
        return items;
    }
    let mut length = items.len() - 1;
    let mut i = 0;
    while i < length {
        let mut j = i + 1;
        while j <= length {
            if scalar_equal(&items[i], &items[j]) {
                items[j] = items[length].clone();
                items.truncate(length);
                length -= 1;
                continue;
            }
            j += 1;
        }
        i += 1;
    }
    items
}

/// The position of `item` in `list`, by merge key value for mappings.
fn position(list: &[Value], item: &Value, merge_key: &str) -> Option<usize> {
    let key_of = |value: &Value| -> Option<Value> {
        if merge_key.is_empty() {
            Some(value.clone())
        } else {
            value.as_mapping().and_then(|m| m.get(merge_key)).cloned()
        }
    };
    let wanted = key_of(item);
    list.iter()
        .position(|candidate| match (&wanted, key_of(candidate)) {
            (Some(a), Some(b)) => scalar_equal(a, &b),
            (None, None) => true,
            _ => false,
        })
}

/// Splits `merged` into the items present in `by` and the others, keeping order.
fn partition(
    merged: &[Value],
    by: &[Value],
    merge_key: &str,
    path: &[String],
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut present = Vec::new();
    let mut others = Vec::new();
    for item in merged {
        let found = if merge_key.is_empty() {
            by.iter().any(|candidate| scalar_equal(candidate, item))
        } else {
            let Some(value) = item.as_mapping().and_then(|m| m.get(merge_key)) else {
                return Err(invalid(
                    path,
                    format!("list item has no merge key `{merge_key}`"),
                ));
            };
            let mut found = false;
            for candidate in by {
                let Value::Mapping(candidate) = candidate else {
                    return Err(invalid(path, "list item is not a mapping"));
                };
                if candidate
                    .get(merge_key)
                    .is_some_and(|v| scalar_equal(v, value))
                {
                    found = true;
                    break;
                }
            }
            found
        };
        if found {
            present.push(item.clone());
        } else {
            others.push(item.clone());
        }
    }
    Ok((present, others))
}

/// Sorts the patch items by the patch order and the target-only items by the target order,
/// then interleaves them as apimachinery does.
fn normalize_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    maps: bool,
    path: &[String],
) -> Result<Vec<Value>> {
    let patch_items = sort_by_order(patch_items, patch_order, merge_key, maps, path)?;
    let server_only = sort_by_order(server_only, server_order, merge_key, maps, path)?;
    let less = |l: &Value, r: &Value| -> bool {
        match (
            position(server_order, l, merge_key),
            position(server_order, r, merge_key),
        ) {
            (Some(li), Some(ri)) => li < ri,
            _ => false,
        }
    };
    let mut result = Vec::with_capacity(patch_items.len() + server_only.len());
    let (mut i, mut j) = (0, 0);
    while i < server_only.len() || j < patch_items.len() {
        let take_server_only = j >= patch_items.len()
            || (i < server_only.len() && less(&server_only[i], &patch_items[j]));
        if take_server_only {
            result.push(server_only[i].clone());
            i += 1;
        } else {
            result.push(patch_items[j].clone());
            j += 1;
        }
    }
    Ok(result)
}

/// A stable insertion sort with apimachinery's comparison (items missing from `order` compare
/// as "less"), and for mappings `$patch: delete` items moved to the end.
fn sort_by_order(
    items: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    maps: bool,
    path: &[String],
) -> Result<Vec<Value>> {
    let (mut items, deleted) = if maps {
        for item in items.iter().chain(order) {
            let Value::Mapping(mapping) = item else {
                return Err(invalid(path, "list item is not a mapping"));
            };
            if !mapping.contains_key(merge_key) {
                return Err(invalid(
                    path,
                    format!("list item has no merge key `{merge_key}`"),
                ));
            }
        }
        items
            .into_iter()
            .partition::<Vec<_>, _>(|item| item.get_str(&[DIRECTIVE]) != Some("delete"))
    } else {
        (items, Vec::new())
    };
    let less =
        |a: &Value, b: &Value| match (position(order, a, merge_key), position(order, b, merge_key))
        {
            (Some(ia), Some(ib)) => ia < ib,
            _ => true,
        };
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && less(&items[j], &items[j - 1]) {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
    items.extend(deleted);
    Ok(items)
}
