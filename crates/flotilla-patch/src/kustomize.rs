//! What kustomize's `patches:` transformer does around the patch functions, where it changes
//! the result: small, separately callable steps for the renderer.
//!
//! - A JSON 6902 patch goes through JSON, where numbers are float64: integers beyond 2^53
//!   come back rounded.
//! - After a JSON 6902 patch, kustomize re-sets `metadata.annotations` from their text: every
//!   value becomes a string (`true` → `"true"`, `1.50` → `"1.5"`, `null` → `"null"`, a
//!   collection → `""`), and an empty annotations mapping disappears. Labels are left alone.
//! - Before a strategic merge patch selected by `target:` (rather than by the patch's own
//!   name), kustomize copies the patch and re-sets the copy's `metadata.labels` and
//!   `metadata.annotations` the same way, and gives it the target's `apiVersion`.

use flotilla_core::{Mapping, Number, Value};

/// `metadata.<field>` rewritten as kustomize's `SetLabels`/`SetAnnotations` write it.
fn restring_metadata_map(resource: &mut Value, field: &str) {
    let Some(metadata) = resource
        .get_path_mut(&["metadata"])
        .and_then(Value::as_mapping_mut)
    else {
        return;
    };
    let Some(Value::Mapping(entries)) = metadata.get(field) else {
        // A missing map stays missing; anything else is cleared, as kyaml's setter does.
        if metadata.get(field).is_some() {
            metadata.remove(field);
        }
        return;
    };
    if entries.is_empty() {
        metadata.remove(field);
        return;
    }
    let restrung: Mapping = entries
        .iter()
        .map(|(key, value)| (key.clone(), text_value(value)))
        .collect();
    metadata.insert(field, Value::Mapping(restrung));
}

fn text_value(value: &Value) -> Value {
    match value {
        Value::Null => Value::string("null"),
        Value::Timestamp(_) | Value::String(_) => value.clone(),
        other => Value::String(other.scalar_text().unwrap_or_default()),
    }
}

/// Applies what kustomize does to a resource right after a JSON 6902 patch: the resource went
/// through JSON with every number a float64 (integers beyond 2^53 lose precision), and
/// annotations become strings.
pub fn after_json_patch(resource: &mut Value) {
    numbers_through_float64(resource);
    restring_metadata_map(resource, "annotations");
}

/// Integers too large for a float64 to hold exactly become the float64 nearest to them.
fn numbers_through_float64(value: &mut Value) {
    const EXACT: u64 = 1 << 53;
    match value {
        Value::Number(Number::Int(i)) if i.unsigned_abs() > EXACT => {
            *value = Value::Number(Number::Float(*i as f64));
        }
        Value::Number(Number::Uint(u)) if *u > EXACT => {
            *value = Value::Number(Number::Float(*u as f64));
        }
        Value::Sequence(items) => items.iter_mut().for_each(numbers_through_float64),
        Value::Mapping(mapping) => {
            for (_, item) in mapping.iter_mut() {
                numbers_through_float64(item);
            }
        }
        _ => {}
    }
}

/// The patch kustomize actually merges into `target` when a strategic merge patch is applied
/// through a `target:` selector.
pub fn targeted_strategic_patch(patch: &Value, target: &Value) -> Value {
    let mut patch = patch.clone();
    for field in ["labels", "annotations"] {
        restring_metadata_map(&mut patch, field);
    }
    if let (Some(api_version), Some(mapping)) =
        (target.get_path(&["apiVersion"]), patch.as_mapping_mut())
    {
        mapping.insert("apiVersion", api_version.clone());
    }
    patch
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_core::parse_single_document;

    #[test]
    fn annotations_become_strings_and_empty_ones_vanish() {
        let mut resource = parse_single_document(
            "metadata:\n  annotations:\n    b: true\n    f: 1.50\n    n: null\n    m: {a: b}\n  labels:\n    x: 1\n",
        )
        .expect("valid YAML");
        after_json_patch(&mut resource);
        let annotations = resource
            .get_path(&["metadata", "annotations"])
            .expect("kept");
        assert_eq!(annotations.get_str(&["b"]), Some("true"));
        assert_eq!(annotations.get_str(&["f"]), Some("1.5"));
        assert_eq!(annotations.get_str(&["n"]), Some("null"));
        assert_eq!(annotations.get_str(&["m"]), Some(""));
        assert!(resource
            .get_path(&["metadata", "labels", "x"])
            .is_some_and(|x| x.as_str().is_none()));

        let mut empty =
            parse_single_document("metadata:\n  annotations: {}\n").expect("valid YAML");
        after_json_patch(&mut empty);
        assert!(empty.get_path(&["metadata", "annotations"]).is_none());
    }

    #[test]
    fn targeted_patch_takes_target_api_version_and_string_labels() {
        let target =
            parse_single_document("apiVersion: apps/v1\nkind: Deployment\n").expect("valid YAML");
        let patch =
            parse_single_document("kind: Deployment\nmetadata:\n  labels:\n    app: null\n")
                .expect("valid YAML");
        let patch = targeted_strategic_patch(&patch, &target);
        assert_eq!(patch.get_str(&["apiVersion"]), Some("apps/v1"));
        assert_eq!(patch.get_str(&["metadata", "labels", "app"]), Some("null"));
    }
}
