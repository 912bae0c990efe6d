//! JSON merge patch (RFC 7386) as evanphx/json-patch applies it (the library behind
//! `kubectl patch --type merge` and the API server's `application/merge-patch+json`).
//!
//! Mappings in the patch merge into the target's mappings recursively; a `null` removes a
//! field; anything else replaces the target's value whole. Where the library goes beyond the
//! RFC: a patch value that is taken whole (for a missing or null field, or a field that is not a
//! mapping) first loses its `null` fields at any depth, including in mappings inside lists, while
//! `null` list items stay; a list replacing a mapping is taken as it is.

use flotilla_core::{Mapping, Value};

/// Applies the merge patch `patch` to `target`.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    match (target, patch) {
        (Value::Mapping(target), Value::Mapping(patch)) => {
            Value::Mapping(merge_mappings(target.clone(), patch))
        }
        (_, Value::Mapping(_) | Value::Sequence(_)) => without_nulls(patch),
        _ => patch.clone(),
    }
}

fn merge_mappings(mut target: Mapping, patch: &Mapping) -> Mapping {
    for (key, value) in patch.iter() {
        if value.is_null() {
            target.remove(key);
            continue;
        }
        let merged = match target.get(key) {
            None | Some(Value::Null) => without_nulls(value),
            Some(Value::Mapping(current)) => match value {
                Value::Mapping(patch) => Value::Mapping(merge_mappings(current.clone(), patch)),
                other => other.clone(),
            },
            Some(_) => without_nulls(value),
        };
        target.insert(key.clone(), merged);
    }
    target
}

/// `value` with the null fields of its mappings removed at any depth.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Mapping(mapping) => Value::Mapping(
            mapping
                .iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| (key.clone(), without_nulls(value)))
                .collect(),
        ),
        Value::Sequence(items) => Value::Sequence(items.iter().map(without_nulls).collect()),
        scalar => scalar.clone(),
    }
}
