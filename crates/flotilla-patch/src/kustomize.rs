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
//! - At the end of a build kustomize re-sets every resource's `metadata.annotations` the same
//!   way (removing its build annotations): values become the strings they were written as
//!   (`0x1F` → `"0x1F"`, `~` → `"~"`), and empty or null annotations disappear.
//! - Whenever kustomize turns a resource into JSON (for a JSON 6902 patch, and to print it), it
//!   first writes it as YAML and reads that back: a value written as nothing in a flow mapping
//!   (`{key: }`) comes back as `""`, and how other values were written is forgotten.

use flotilla_core::{Mapping, Number, Value};

/// `metadata.<field>` rewritten as kustomize's `SetLabels`/`SetAnnotations` write it: each
/// value the string its node holds (`Mapping::node_text`), and an empty, null or non-mapping
/// field removed.
pub fn restring_metadata_map(resource: &mut Value, field: &str) {
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
        .map(|(key, value)| (key.clone(), text_value(entries, key, value)))
        .collect();
    metadata.insert(field, Value::Mapping(restrung));
}

fn text_value(entries: &Mapping, key: &str, value: &Value) -> Value {
    match value {
        Value::Timestamp(_) | Value::String(_) => value.clone(),
        _ => Value::String(entries.node_text(key).unwrap_or_default()),
    }
}

/// What a resource goes through whenever kustomize turns it into JSON: a YAML text round trip,
/// after which nothing is known of how values were written. go-yaml v3 writes an empty value
/// of a flow mapping as `''`, and some folded (`>`) strings so that they read back otherwise
/// (`Written::folded`).
pub fn through_json(value: &mut Value) {
    match value {
        Value::Sequence(items) => items.iter_mut().for_each(through_json),
        Value::Mapping(mapping) if !mapping.has_written() => {
            mapping.forget_written();
            for (_, item) in mapping.iter_mut() {
                through_json(item);
            }
        }
        Value::Mapping(mapping) => {
            let changed: Vec<(String, Value)> = mapping
                .keys()
                .filter_map(|key| {
                    let written = mapping.written(key)?;
                    if written.folded {
                        Some((key.clone(), Value::string(written.text.clone())))
                    } else if written.in_flow && written.is_empty_null() {
                        Some((key.clone(), Value::string("")))
                    } else {
                        None
                    }
                })
                .collect();
            mapping.forget_written();
            for (key, value) in changed {
                mapping.insert(key, value);
            }
            for (_, item) in mapping.iter_mut() {
                through_json(item);
            }
        }
        _ => {}
    }
}

/// Applies what kustomize does to a resource right before a JSON 6902 patch: it goes through
/// JSON.
pub fn before_json_patch(resource: &mut Value) {
    through_json(resource);
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
        before_json_patch(&mut resource);
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
    fn annotations_restrung_at_the_end_are_the_text_written() {
        let mut resource = parse_single_document(
            "metadata:\n  annotations:\n    a:\n    b: ~\n    c: 0x1F\n    d: 1.50\n    e: True\n    f: null\n",
        )
        .expect("valid YAML");
        restring_metadata_map(&mut resource, "annotations");
        let text = |key: &str| resource.get_str(&["metadata", "annotations", key]);
        assert_eq!(
            [
                text("a"),
                text("b"),
                text("c"),
                text("d"),
                text("e"),
                text("f")
            ],
            [
                Some(""),
                Some("~"),
                Some("0x1F"),
                Some("1.50"),
                Some("True"),
                Some("null")
            ]
        );
        for empty in ["{}", "", "null", "[]", "x"] {
            let mut resource =
                parse_single_document(&format!("metadata:\n  annotations: {empty}\n"))
                    .expect("valid YAML");
            restring_metadata_map(&mut resource, "annotations");
            assert!(
                resource.get_path(&["metadata", "annotations"]).is_none(),
                "{empty:?}"
            );
        }
    }

    #[test]
    fn through_json_prints_empty_flow_values_as_empty_strings_and_forgets_the_rest() {
        let mut resource =
            parse_single_document("a: {b: , c: null}\nd:\ne: 0x1F\nf: >\n  x\n    y\n")
                .expect("valid YAML");
        through_json(&mut resource);
        assert_eq!(resource.get_str(&["a", "b"]), Some(""));
        assert_eq!(resource.get_path(&["a", "c"]), Some(&Value::Null));
        assert_eq!(resource.get_path(&["d"]), Some(&Value::Null));
        assert_eq!(resource.get_str(&["f"]), Some("x\n\n  y\n"));
        let mapping = resource.as_mapping().expect("mapping");
        assert!(mapping.written("d").is_none() && mapping.written("e").is_none());
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
