//! The `FieldsV1` encoding of `metadata.managedFields` (`f:name`, `k:{…}`, `v:…`, `i:N`, `.`),
//! parsed into the set of leaf paths a manager owns.

use serde_json::Value;

use crate::path::{FieldPath, Segment};
use crate::DiffError;

/// Every path `fields` marks as owned: leaves (`{}`) and items marked with `.`.
pub fn fields_v1_paths(fields: &Value) -> Result<Vec<FieldPath>, DiffError> {
    let mut paths = Vec::new();
    walk(fields, &mut Vec::new(), &mut paths)?;
    Ok(paths)
}

fn walk(node: &Value, prefix: &mut FieldPath, paths: &mut Vec<FieldPath>) -> Result<(), DiffError> {
    let Value::Object(map) = node else {
        return Err(DiffError::FieldsV1 {
            message: format!("expected an object at `{}`", crate::path::display(prefix)),
        });
    };
    if map.is_empty() {
        if !prefix.is_empty() {
            paths.push(prefix.clone());
        }
        return Ok(());
    }
    for (key, child) in map {
        if key == "." {
            if !prefix.is_empty() {
                paths.push(prefix.clone());
            }
            continue;
        }
        let segment = if let Some(name) = key.strip_prefix("f:") {
            Segment::Field(name.to_string())
        } else if let Some(fields) = key.strip_prefix("k:") {
            let parsed: serde_json::Map<String, Value> =
                serde_json::from_str(fields).map_err(|error| DiffError::FieldsV1 {
                    message: format!("key `{key}` is not JSON: {error}"),
                })?;
            Segment::Key(Value::Object(parsed).to_string())
        } else if let Some(item) = key.strip_prefix("v:") {
            let parsed: Value =
                serde_json::from_str(item).map_err(|error| DiffError::FieldsV1 {
                    message: format!("value `{key}` is not JSON: {error}"),
                })?;
            Segment::Item(parsed.to_string())
        } else if let Some(index) = key.strip_prefix("i:") {
            Segment::Index(index.parse().map_err(|_| DiffError::FieldsV1 {
                message: format!("index `{key}` is not a number"),
            })?)
        } else {
            return Err(DiffError::FieldsV1 {
                message: format!("unknown FieldsV1 key `{key}`"),
            });
        };
        prefix.push(segment);
        walk(child, prefix, paths)?;
        prefix.pop();
    }
    Ok(())
}

/// The paths owned in `live` by `manager` (optionally only its `operation` entries).
pub fn owned_paths(
    live: &Value,
    manager: &str,
    operation: Option<&str>,
) -> Result<Vec<FieldPath>, DiffError> {
    let mut paths = Vec::new();
    for entry in live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if entry["manager"] != manager {
            continue;
        }
        if operation.is_some_and(|operation| entry["operation"] != operation) {
            continue;
        }
        // Subresource entries (status) never conflict with the main resource.
        if entry["subresource"]
            .as_str()
            .is_some_and(|subresource| !subresource.is_empty())
        {
            continue;
        }
        paths.extend(fields_v1_paths(&entry["fieldsV1"])?);
    }
    Ok(paths)
}
