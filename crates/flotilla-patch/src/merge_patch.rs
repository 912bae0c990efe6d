//! JSON merge patch (RFC 7386): mappings in the patch merge into the target recursively, a
//! `null` removes a field, anything else replaces the target's value whole.

use flotilla_core::{Mapping, Value};

/// Applies the merge patch `patch` to `target` (RFC 7386 `MergePatch(target, patch)`).
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let Value::Mapping(patch) = patch else {
        return patch.clone();
    };
    let mut result = match target {
        Value::Mapping(target) => target.clone(),
        _ => Mapping::new(),
    };
    for (key, value) in patch.iter() {
        if value.is_null() {
            result.remove(key);
            continue;
        }
        let merged = match result.get(key) {
            Some(current) => merge_patch(current, value),
            None => merge_patch(&Value::Null, value),
        };
        result.insert(key.clone(), merged);
    }
    Value::Mapping(result)
}
