//! Schema subjects of the repository and their compatibility rule.
//!
//! A schema file is any `*.avsc`, `*.proto` or `*.json` under a directory named `schemas` (at
//! any depth) among the repository files a [`Change`] carries; its subject is its path below
//! that directory without the extension (`schemas/orders-value.avsc` → `orders-value`), as
//! "a subject per file" in a `schemas/` directory. The subject's level comes from
//! `compatibility.yaml` in the same `schemas` directory (`subjects: {orders-value: FULL}`,
//! `default: BACKWARD`), else BACKWARD, the registries' default.
//!
//! A schema file changed by the change is checked against its previous text at its level
//! ([`crate::schema::check`]); each incompatibility is a blocking finding on the file (kind
//! `Schema`, name the path), naming the field and the reason. A changed file that no longer
//! parses is a blocking finding naming the line and column. Transitive levels see only the two
//! versions the change carries (the caller's `before` and `after`); `flotilla schema compat`
//! checks a whole history. A Protobuf subject's imports resolve to the other `.proto` files the
//! change carries, by path. A file cannot carry `flotilla.dev/allow`: to accept an incompatible
//! change on purpose, lower the subject's level in `compatibility.yaml` in the same change.

use std::collections::BTreeMap;

use crate::finding::{Finding, Severity};
use crate::objects::{Change, ObjectId};
use crate::schema::{self, Level, SchemaKind, SchemaText};

/// A schema change its subject's level does not allow.
pub const SCHEMA_INCOMPATIBLE: &str = "schema-incompatible";
/// A changed schema that cannot be read.
pub const SCHEMA_INVALID: &str = "schema-invalid";
/// A `compatibility.yaml` that names a level the registries do not know.
pub const SCHEMA_LEVEL_UNKNOWN: &str = "schema-level-unknown";

/// (the `schemas` directory, the subject) of a schema file, or `None` for other files.
fn subject_of(path: &str) -> Option<(String, String, SchemaKind)> {
    let kind = SchemaKind::from_path(path)?;
    let segments: Vec<&str> = path.split('/').collect();
    let position = segments.iter().rposition(|segment| *segment == "schemas")?;
    if position + 1 >= segments.len() {
        return None;
    }
    let directory = segments[..=position].join("/");
    let below = segments[position + 1..].join("/");
    let subject = below
        .rsplit_once('.')
        .map(|(stem, _)| stem.to_string())
        .unwrap_or(below);
    Some((directory, subject, kind))
}

fn file_object(path: &str) -> ObjectId {
    ObjectId {
        group: String::new(),
        kind: "Schema".to_string(),
        namespace: String::new(),
        name: path.to_string(),
    }
}

/// The levels a `compatibility.yaml` sets: (default, per subject), or the text of an unknown
/// level.
fn levels(text: &str) -> (Option<String>, BTreeMap<String, String>) {
    let Ok(document) = flotilla_core::yaml_read::parse_single_document(text) else {
        return (None, BTreeMap::new());
    };
    let document = flotilla_core::json::to_json(&document);
    let default = document["default"].as_str().map(str::to_string);
    let subjects = document["subjects"]
        .as_object()
        .map(|subjects| {
            subjects
                .iter()
                .filter_map(|(subject, level)| {
                    level
                        .as_str()
                        .map(|level| (subject.clone(), level.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    (default, subjects)
}

/// A Protobuf schema with the repository's other `.proto` files as the files its imports may
/// name (an import resolves by its path, so files it does not import are not read). Avro and
/// JSON Schema subjects stand alone here: their references are not resolved across files.
fn with_imports(
    mut schema: SchemaText,
    kind: SchemaKind,
    path: &str,
    files: &BTreeMap<String, String>,
) -> SchemaText {
    if kind == SchemaKind::Protobuf {
        schema.references = files
            .iter()
            .filter(|(other, _)| other.as_str() != path && other.ends_with(".proto"))
            .map(|(other, text)| SchemaText::new(other.clone(), text.clone()))
            .collect();
    }
    schema
}

pub fn check(change: &Change, findings: &mut Vec<Finding>) {
    for (path, text) in &change.files_after {
        let Some((directory, subject, kind)) = subject_of(path) else {
            continue;
        };
        let Some(previous) = change.files_before.get(path) else {
            continue;
        };
        if previous == text {
            continue;
        }
        let level_file = format!("{directory}/compatibility.yaml");
        let (default, per_subject) = change
            .files_after
            .get(&level_file)
            .map(|text| levels(text))
            .unwrap_or_default();
        let level_text = per_subject.get(&subject).cloned().or(default);
        let level = match level_text.as_deref().map(str::parse::<Level>) {
            None => Level::Backward,
            Some(Ok(level)) => level,
            Some(Err(_)) => {
                findings.push(Finding::new(
                    SCHEMA_LEVEL_UNKNOWN,
                    Severity::Block,
                    &file_object(&level_file),
                    &subject,
                    format!(
                        "subject `{subject}`: level `{}` is not a compatibility level, so the change to `{path}` cannot be checked",
                        level_text.unwrap_or_default()
                    ),
                    "use NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE",
                ));
                continue;
            }
        };
        let history = [
            with_imports(
                SchemaText::new(format!("{path} (before)"), previous.clone()),
                kind,
                path,
                &change.files_before,
            ),
            with_imports(
                SchemaText::new(path.clone(), text.clone()),
                kind,
                path,
                &change.files_after,
            ),
        ];
        match schema::check(level, kind, &history) {
            Ok(incompatibilities) => {
                for incompatibility in incompatibilities {
                    findings.push(Finding::new(
                        SCHEMA_INCOMPATIBLE,
                        Severity::Block,
                        &file_object(path),
                        &incompatibility.path,
                        format!(
                            "subject `{subject}` ({level}): {} [{}]",
                            incompatibility.message, incompatibility.rule
                        ),
                        format!("keep the change {level}-compatible (for example, give a new field a default, keep a field's type), publish it under a new subject, or lower the subject's level in `{level_file}` on purpose"),
                    ));
                }
            }
            Err(error) => findings.push(Finding::new(
                SCHEMA_INVALID,
                Severity::Block,
                &file_object(path),
                "",
                format!("the new `{path}` cannot be read: {error}"),
                "fix the schema; consumers and the registry refuse it as it is",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_come_from_files_under_a_schemas_directory() {
        assert_eq!(
            subject_of("apps/orders/schemas/orders-value.avsc"),
            Some((
                "apps/orders/schemas".to_string(),
                "orders-value".to_string(),
                SchemaKind::Avro
            ))
        );
        assert_eq!(
            subject_of("schemas/nested/a.proto").map(|found| found.1),
            Some("nested/a".to_string())
        );
        assert_eq!(subject_of("schemas/compatibility.yaml"), None);
        assert_eq!(subject_of("config/a.avsc"), None);
    }
}
