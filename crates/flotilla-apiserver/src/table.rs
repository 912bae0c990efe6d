//! `meta.k8s.io/v1` `Table` responses for `kubectl get`: a Name and an Age column (plus a Status
//! column for Pods and Namespaces), with each row carrying the object's metadata or the object.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::registry::ResourceType;
use crate::util::metadata_str;

pub use flotilla_core::time::parse_rfc3339;

/// kubectl's short age format.
pub fn age(created: Option<&str>) -> String {
    let Some(created) = created.and_then(parse_rfc3339) else {
        return "<unknown>".to_string();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let seconds = now.saturating_sub(created);
    match seconds {
        0..=119 => format!("{seconds}s"),
        120..=7199 => format!("{}m", seconds / 60),
        7200..=172_799 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

fn status_column(resource: &ResourceType) -> bool {
    resource.group.is_empty() && (resource.plural == "pods" || resource.plural == "namespaces")
}

/// The value at a simple JSONPath (`.status.sync.status`, `.status.conditions[0].type`), as
/// printer columns use them.
fn json_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = object;
    for segment in path
        .trim_start_matches('.')
        .split('.')
        .filter(|segment| !segment.is_empty())
    {
        let (field, indexes) = match segment.find('[') {
            Some(open) => (&segment[..open], &segment[open..]),
            None => (segment, ""),
        };
        if !field.is_empty() {
            current = current.get(field)?;
        }
        for index in indexes.split('[').filter(|part| !part.is_empty()) {
            let index: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(index)?;
        }
    }
    Some(current)
}

/// A table of `objects`; `list` carries the list's resourceVersion and continue token.
pub fn table(
    resource: &ResourceType,
    objects: &[Value],
    list: Option<(u64, Option<String>)>,
    include_object: Option<&str>,
) -> Value {
    let mut columns = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    if status_column(resource) {
        columns.push(json!({"name": "Status", "type": "string", "format": "", "description": "The phase of the object.", "priority": 0}));
    }
    for column in &resource.printer_columns {
        columns.push(json!({
            "name": column["name"].as_str().unwrap_or(""),
            "type": column["type"].as_str().unwrap_or("string"),
            "format": column["format"].as_str().unwrap_or(""),
            "description": column["description"].as_str().unwrap_or(""),
            "priority": column["priority"].as_i64().unwrap_or(0),
        }));
    }
    let lists_age = resource
        .printer_columns
        .iter()
        .any(|column| column["name"] == "Age");
    if !lists_age {
        columns.push(json!({"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp of the object.", "priority": 0}));
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut cells = vec![json!(metadata_str(object, "name").unwrap_or_default())];
            if status_column(resource) {
                cells.push(json!(object["status"]["phase"].as_str().unwrap_or("")));
            }
            for column in &resource.printer_columns {
                let value = json_path(object, column["jsonPath"].as_str().unwrap_or(""));
                cells.push(match (column["type"].as_str(), value) {
                    (Some("date"), Some(Value::String(time))) => json!(age(Some(time))),
                    (_, Some(value)) => value.clone(),
                    (_, None) => Value::Null,
                });
            }
            if !lists_age {
                cells.push(json!(age(metadata_str(object, "creationTimestamp"))));
            }
            let embedded = match include_object {
                Some("None") => Value::Null,
                Some("Object") => object.clone(),
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object.get("metadata").cloned().unwrap_or(json!({}))}),
            };
            json!({"cells": cells, "object": embedded})
        })
        .collect();
    let mut metadata = json!({});
    if let Some((resource_version, next)) = list {
        metadata["resourceVersion"] = json!(resource_version.to_string());
        if let Some(next) = next {
            metadata["continue"] = json!(next);
        }
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_column_paths() {
        let object =
            json!({"status": {"sync": {"status": "Synced"}, "conditions": [{"type": "Ready"}]}});
        assert_eq!(
            json_path(&object, ".status.sync.status"),
            Some(&json!("Synced"))
        );
        assert_eq!(
            json_path(&object, ".status.conditions[0].type"),
            Some(&json!("Ready"))
        );
        assert_eq!(json_path(&object, ".status.missing"), None);
    }

    #[test]
    fn timestamps_round_trip() {
        for seconds in [0u64, 951_782_400, 1_700_000_000] {
            assert_eq!(
                parse_rfc3339(&crate::util::format_rfc3339(seconds)),
                Some(seconds)
            );
        }
    }
}
