//! `meta.k8s.io/v1` `Table` responses for `kubectl get`, as kube-apiserver makes them: built-in
//! kinds get kube's columns and cells (`crate::printers`), built-in kinds without a printer
//! kube's default table (Name, Created At), custom resources their CRD version's
//! `additionalPrinterColumns` (an Age column when it declares none) with cells computed as the
//! CRD table convertor computes them (simple JSONPaths with indexes and `[?(@.a=="b")]`
//! filters, values converted to the column's type). Each row carries the object's metadata, the
//! object, or nothing (`includeObject`).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::printers::{self, Column, Printer};
use crate::registry::ResourceType;

pub use flotilla_core::time::parse_rfc3339;

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// kubectl's short age format for an RFC 3339 time (`<unknown>` without one).
pub fn age(created: Option<&str>) -> String {
    match created.and_then(parse_rfc3339) {
        Some(created) => printers::human_duration(now_seconds() as i64 - created as i64),
        None => "<unknown>".to_string(),
    }
}

/// One `additionalPrinterColumns` entry of a CRD version.
struct CustomColumn<'a> {
    definition: &'a Value,
    json_path: &'a str,
    type_name: &'a str,
}

/// How the rows of a resource are printed.
enum Layout<'a> {
    Printer(&'static Printer),
    /// kube's default table convertor: Name, Created At.
    Default,
    Custom(Vec<CustomColumn<'a>>),
}

/// The Age column kube gives a CRD version without printer columns.
fn default_custom_columns() -> &'static Value {
    static AGE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    AGE.get_or_init(|| {
        json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
            "description": printers::CREATION_DESCRIPTION})
    })
}

impl<'a> Layout<'a> {
    fn of(resource: &'a ResourceType) -> Layout<'a> {
        // CRDs, and the kinds served like built-ins that declare columns (OpenShift's, OLM's).
        if resource.custom || !resource.printer_columns.is_empty() {
            let columns: Vec<&Value> = if resource.printer_columns.is_empty() {
                vec![default_custom_columns()]
            } else {
                resource.printer_columns.iter().collect()
            };
            return Layout::Custom(
                columns
                    .into_iter()
                    .map(|definition| CustomColumn {
                        definition,
                        json_path: definition["jsonPath"].as_str().unwrap_or_default(),
                        type_name: definition["type"].as_str().unwrap_or("string"),
                    })
                    .collect(),
            );
        }
        match printers::printer(&resource.group, &resource.kind) {
            Some(printer) => Layout::Printer(printer),
            None => Layout::Default,
        }
    }

    fn columns(&self) -> Vec<Value> {
        match self {
            Layout::Printer(printer) => printer.columns.iter().map(column_json).collect(),
            Layout::Default => printers::DEFAULT.iter().map(column_json).collect(),
            Layout::Custom(columns) => {
                let name = json!({"name": "Name", "type": "string", "format": "name",
                    "description": printers::NAME_DESCRIPTION, "priority": 0});
                std::iter::once(name)
                    .chain(columns.iter().map(|column| {
                        let definition = column.definition;
                        json!({
                            "name": definition["name"].as_str().unwrap_or(""),
                            "type": column.type_name,
                            "format": definition["format"].as_str().unwrap_or(""),
                            "description": definition["description"].as_str().unwrap_or(""),
                            "priority": definition["priority"].as_i64().unwrap_or(0),
                        })
                    }))
                    .collect()
            }
        }
    }

    fn cells(&self, object: &Value, now: u64) -> Vec<Value> {
        match self {
            Layout::Printer(printer) => (printer.cells)(object, now),
            Layout::Default => printers::default_cells(object, now),
            Layout::Custom(columns) => {
                let name = json!(object["metadata"]["name"].as_str().unwrap_or_default());
                std::iter::once(name)
                    .chain(columns.iter().map(|column| {
                        json_path(object, column.json_path)
                            .map(|value| custom_cell(column.type_name, value, now))
                            .unwrap_or(Value::Null)
                    }))
                    .collect()
            }
        }
    }
}

fn column_json(column: &Column) -> Value {
    json!({
        "name": column.name,
        "type": column.type_name,
        "format": column.format,
        "description": column.description,
        "priority": column.priority,
    })
}

/// A CRD column's cell from the value its JSONPath found, as kube's `cellForJSONValue` and
/// JSONPath printing make it: strings as they are and other values as JSON text for `string`
/// columns, numbers for `integer` and `number`, booleans for `boolean`, an age for `date`;
/// a value of another type is an empty cell.
fn custom_cell(type_name: &str, value: &Value, now: u64) -> Value {
    match (type_name, value) {
        (_, Value::Null) => Value::Null,
        ("string", Value::String(text)) => json!(text),
        ("string", Value::Object(_) | Value::Array(_)) => json!(go_json(value)),
        ("string", other) => json!(other.to_string()),
        ("integer", Value::Number(number)) => match number.as_i64() {
            Some(integer) => json!(integer),
            None => number
                .as_f64()
                .map(|float| json!(float.trunc() as i64))
                .unwrap_or(Value::Null),
        },
        ("number", Value::Number(_)) => value.clone(),
        ("boolean", Value::Bool(_)) => value.clone(),
        ("date", Value::String(text)) => match parse_rfc3339(text) {
            Some(time) => json!(printers::human_duration(now as i64 - time as i64)),
            None => json!("<invalid>"),
        },
        _ => Value::Null,
    }
}

/// JSON as Go's `encoding/json` writes a decoded map: keys sorted.
fn go_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|left, right| left.0.cmp(right.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, child)| (key.clone(), sorted(child)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// The first value a CRD column's JSONPath finds: `.a.b`, indexes `[0]` and `[-1]`, `[*]`, and
/// filters `[?(@.type=="Ready")]` (`==`, `!=`, or a field that must exist).
fn json_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim();
    let path = path
        .strip_prefix('{')
        .and_then(|inner| inner.strip_suffix('}'))
        .unwrap_or(path);
    let mut current: Vec<&Value> = vec![object];
    let mut rest = path.trim_start_matches('$');
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let close = matching_bracket(after)?;
            let selector = &after[..close];
            rest = &after[close + 1..];
            current = current
                .into_iter()
                .flat_map(|value| select_items(value, selector))
                .collect();
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let field = &after[..end];
            rest = &after[end..];
            if field.is_empty() {
                continue;
            }
            current = current
                .into_iter()
                .filter_map(|value| value.get(field))
                .collect();
        } else {
            return None;
        }
        if current.is_empty() {
            return None;
        }
    }
    current.into_iter().next()
}

/// Where the bracket opened just before `text` closes, skipping quoted text.
fn matching_bracket(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for (index, character) in text.char_indices() {
        match (quote, character) {
            (Some(open), found) if found == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(character),
            (None, '[') => depth += 1,
            (None, ']') if depth == 0 => return Some(index),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The items a bracket selects from `value`.
fn select_items<'a>(value: &'a Value, selector: &str) -> Vec<&'a Value> {
    let selector = selector.trim();
    let Some(items) = value.as_array() else {
        return Vec::new();
    };
    if selector == "*" {
        return items.iter().collect();
    }
    if let Ok(index) = selector.parse::<i64>() {
        let index = if index < 0 {
            items.len() as i64 + index
        } else {
            index
        };
        return usize::try_from(index)
            .ok()
            .and_then(|index| items.get(index))
            .into_iter()
            .collect();
    }
    let Some(filter) = selector
        .strip_prefix("?(")
        .and_then(|inner| inner.strip_suffix(')'))
    else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|item| filter_matches(item, filter))
        .collect()
}

/// Whether an item passes a filter `@.a.b=="x"`, `@.a!=1` or `@.a`.
fn filter_matches(item: &Value, filter: &str) -> bool {
    let (left, operator, right) = if let Some((left, right)) = filter.split_once("==") {
        (left, Some(true), right)
    } else if let Some((left, right)) = filter.split_once("!=") {
        (left, Some(false), right)
    } else {
        (filter, None, "")
    };
    let Some(field_path) = left.trim().strip_prefix('@') else {
        return false;
    };
    let found = json_path(item, field_path);
    let Some(equal) = operator else {
        return found.is_some();
    };
    let right = right.trim();
    let literal = if let Some(text) = right
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .or_else(|| {
            right
                .strip_prefix('\'')
                .and_then(|inner| inner.strip_suffix('\''))
        }) {
        json!(text)
    } else {
        serde_json::from_str(right).unwrap_or(Value::Null)
    };
    let same = match (found, &literal) {
        (Some(Value::Number(left)), Value::Number(right)) => left.as_f64() == right.as_f64(),
        (Some(found), literal) => found == literal,
        (None, _) => false,
    };
    same == equal
}

/// A table of `objects` of `resource`; `list` carries the list's resourceVersion and continue
/// token.
pub fn table(
    resource: &ResourceType,
    objects: &[Value],
    list: Option<(u64, Option<String>)>,
    include_object: Option<&str>,
) -> Value {
    let layout = Layout::of(resource);
    let now = now_seconds();
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut row = json!({
                "cells": layout.cells(object, now),
                "object": embedded(object, include_object),
            });
            if let Some(conditions) =
                printers::row_conditions(&resource.group, &resource.kind, object)
            {
                row["conditions"] = conditions;
            }
            row
        })
        .collect();
    let mut metadata = json!({});
    if let Some((resource_version, next)) = list {
        metadata["resourceVersion"] = json!(resource_version.to_string());
        if let Some(next) = next {
            metadata["continue"] = json!(next);
        }
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
        "columnDefinitions": layout.columns(), "rows": rows})
}

/// The table of one `autoscaling/v1` Scale (`kubectl get … --subresource=scale`).
pub fn scale_table(scale: &Value, include_object: Option<&str>) -> Value {
    let printer = printers::printer("autoscaling", "Scale").expect("Scale has a printer");
    let layout = Layout::Printer(printer);
    let row = json!({
        "cells": layout.cells(scale, now_seconds()),
        "object": embedded(scale, include_object),
    });
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
        "columnDefinitions": layout.columns(), "rows": [row]})
}

/// What a row carries of its object (`includeObject`: None, Object, or Metadata by default).
fn embedded(object: &Value, include_object: Option<&str>) -> Value {
    match include_object {
        Some("None") => Value::Null,
        Some("Object") => object.clone(),
        _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": object.get("metadata").cloned().unwrap_or(json!({}))}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_column_paths() {
        let object = json!({"status": {"sync": {"status": "Synced"},
            "conditions": [{"type": "Progressing", "status": "False"}, {"type": "Ready", "status": "True", "count": 2}]}});
        for (path, expected) in [
            (".status.sync.status", Some(json!("Synced"))),
            (".status.conditions[0].type", Some(json!("Progressing"))),
            (".status.conditions[-1].type", Some(json!("Ready"))),
            (".status.conditions[*].type", Some(json!("Progressing"))),
            (
                ".status.conditions[?(@.type==\"Ready\")].status",
                Some(json!("True")),
            ),
            (
                ".status.conditions[?(@.type=='Ready')].status",
                Some(json!("True")),
            ),
            (
                ".status.conditions[?(@.count==2)].type",
                Some(json!("Ready")),
            ),
            (
                ".status.conditions[?(@.type!=\"Ready\")].type",
                Some(json!("Progressing")),
            ),
            (".status.conditions[?(@.count)].type", Some(json!("Ready"))),
            ("{.status.sync.status}", Some(json!("Synced"))),
            (".status.missing", None),
            (".status.conditions[5].type", None),
        ] {
            assert_eq!(json_path(&object, path).cloned(), expected, "{path}");
        }
    }

    #[test]
    fn custom_cells_take_their_columns_type() {
        const NOW: u64 = 1_767_226_200;
        for (type_name, value, expected) in [
            ("string", json!("Synced"), json!("Synced")),
            ("string", json!(3), json!("3")),
            (
                "string",
                json!({"b": 1, "a": [true]}),
                json!("{\"a\":[true],\"b\":1}"),
            ),
            ("integer", json!(3), json!(3)),
            ("integer", json!(3.7), json!(3)),
            ("integer", json!("3"), Value::Null),
            ("number", json!(1.5), json!(1.5)),
            ("boolean", json!(true), json!(true)),
            ("boolean", json!("true"), Value::Null),
            ("date", json!("2026-01-01T00:00:00Z"), json!("10m")),
            ("date", json!("yesterday"), json!("<invalid>")),
            ("date", json!(5), Value::Null),
        ] {
            assert_eq!(
                custom_cell(type_name, &value, NOW),
                expected,
                "{type_name} {value}"
            );
        }
    }

    #[test]
    fn custom_resources_without_columns_get_age_only() {
        let resource = ResourceType {
            custom: true,
            ..crate::registry::builtin_types()
                .into_iter()
                .find(|resource| resource.kind == "ConfigMap")
                .expect("built in")
        };
        let object =
            json!({"metadata": {"name": "w", "creationTimestamp": "2026-01-01T00:00:00Z"}});
        let table = table(&resource, &[object], None, None);
        let names: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .expect("columns")
            .iter()
            .filter_map(|column| column["name"].as_str())
            .collect();
        assert_eq!(names, ["Name", "Age"]);
        let mut with_columns = resource.clone();
        with_columns.printer_columns =
            vec![json!({"name": "Size", "type": "integer", "jsonPath": ".spec.size"})];
        let table = super::table(
            &with_columns,
            &[json!({"metadata": {"name": "w"}, "spec": {"size": 3}})],
            None,
            Some("None"),
        );
        assert_eq!(table["rows"][0]["cells"], json!(["w", 3]));
        assert_eq!(table["columnDefinitions"][1]["name"], "Size");
    }

    #[test]
    fn kinds_without_a_printer_get_kubes_default_table() {
        let role = crate::registry::builtin_types()
            .into_iter()
            .find(|resource| resource.kind == "Role")
            .expect("built in");
        let object =
            json!({"metadata": {"name": "reader", "creationTimestamp": "2026-01-01T00:00:00Z"}});
        let table = table(&role, &[object], Some((7, None)), None);
        assert_eq!(table["columnDefinitions"][1]["name"], "Created At");
        assert_eq!(table["columnDefinitions"][1]["type"], "date");
        assert_eq!(
            table["rows"][0]["cells"],
            json!(["reader", "2026-01-01T00:00:00Z"])
        );
        assert_eq!(table["metadata"]["resourceVersion"], "7");
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
