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
//! parses is a blocking finding naming the line and column. Transitive levels check against
//! every earlier version: the file's Git history the caller supplies
//! (`Change::file_histories`, for the files [`needs_history`] names), then its text before the
//! change; without a history they see the two versions the change carries. A Protobuf subject's
//! imports resolve to the other `.proto` files the change carries, by path (for an older version
//! too: the imports as they are before the change). A file cannot carry `flotilla.dev/allow`: to accept an incompatible
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
    ObjectId::new("", "Schema", "", path)
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

/// The schema files of `files_after` that a change edits (their text differs from
/// `files_before`'s) under a transitive level: the files whose Git history [`check`] reads from
/// `Change::file_histories`, so a caller reads the history of these alone.
pub fn needs_history(
    files_before: &BTreeMap<String, String>,
    files_after: &BTreeMap<String, String>,
) -> Vec<String> {
    files_after
        .iter()
        .filter(|(path, text)| {
            files_before
                .get(*path)
                .is_some_and(|previous| previous != *text)
        })
        .filter_map(|(path, _)| {
            let (directory, subject, _) = subject_of(path)?;
            matches!(level_of(files_after, &directory, &subject).1, Ok(level) if level.transitive())
                .then(|| path.clone())
        })
        .collect()
}

/// The level of `subject` from `compatibility.yaml` in `directory` among `files`: (the level
/// file's path, the level, or the text that is not a level).
fn level_of(
    files: &BTreeMap<String, String>,
    directory: &str,
    subject: &str,
) -> (String, Result<Level, String>) {
    let level_file = format!("{directory}/compatibility.yaml");
    let (default, per_subject) = files
        .get(&level_file)
        .map(|text| levels(text))
        .unwrap_or_default();
    let level = match per_subject.get(subject).cloned().or(default) {
        None => Ok(Level::Backward),
        Some(text) => text.parse::<Level>().map_err(|_| text),
    };
    (level_file, level)
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
        let (level_file, level) = level_of(&change.files_after, &directory, &subject);
        let level = match level {
            Ok(level) => level,
            Err(level_text) => {
                findings.push(Finding::new(
                    SCHEMA_LEVEL_UNKNOWN,
                    Severity::Block,
                    &file_object(&level_file),
                    &subject,
                    format!(
                        "subject `{subject}`: level `{level_text}` is not a compatibility level, so the change to `{path}` cannot be checked"
                    ),
                    "use NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE",
                ));
                continue;
            }
        };
        // Older versions only for a transitive level (the others compare with the previous
        // version alone); each text once, as a registry keeps it.
        let older = change
            .file_histories
            .get(path)
            .filter(|_| level.transitive())
            .into_iter()
            .flatten()
            .filter(|(_, older)| older != previous && older != text)
            // A registry never held a version that does not parse: such a text is no version.
            .filter(|(_, older)| {
                schema::validate(kind, &SchemaText::new(path.clone(), older.clone())).is_ok()
            });
        let mut history: Vec<SchemaText> = older
            .map(|(label, older)| {
                with_imports(
                    SchemaText::new(format!("{path} (at {label})"), older.clone()),
                    kind,
                    path,
                    &change.files_before,
                )
            })
            .collect();
        history.push(with_imports(
            SchemaText::new(format!("{path} (before)"), previous.clone()),
            kind,
            path,
            &change.files_before,
        ));
        history.push(with_imports(
            SchemaText::new(path.clone(), text.clone()),
            kind,
            path,
            &change.files_after,
        ));
        let previous_index = history.len() - 2;
        match schema::check(level, kind, &history) {
            Ok(incompatibilities) => {
                for incompatibility in incompatibilities {
                    // Against an earlier version than the previous one: say which.
                    let against = if incompatibility.older < previous_index {
                        format!(" (against the version of `{}`)", incompatibility.older_name)
                    } else {
                        String::new()
                    };
                    findings.push(Finding::new(
                        SCHEMA_INCOMPATIBLE,
                        Severity::Block,
                        &file_object(path),
                        &incompatibility.path,
                        format!(
                            "subject `{subject}` ({level}){against}: {} [{}]",
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

    #[test]
    fn transitive_levels_check_the_files_history() {
        let path = "schemas/orders.avsc";
        let v1 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;
        let v2 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int","default":0}]}"#;
        // The default dropped: v3 reads v2's data, not v1's (no qty and no default).
        let v3 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"}]}"#;
        let findings_at = |level: &str, history: Vec<(String, String)>| {
            let mut change = Change::default();
            let levels = format!("default: {level}\n");
            for (files, text) in [
                (&mut change.files_before, v2),
                (&mut change.files_after, v3),
            ] {
                files.insert(path.to_string(), text.to_string());
                files.insert("schemas/compatibility.yaml".to_string(), levels.clone());
            }
            assert_eq!(
                needs_history(&change.files_before, &change.files_after),
                if level.ends_with("TRANSITIVE") {
                    vec![path.to_string()]
                } else {
                    Vec::new()
                }
            );
            change.file_histories.insert(path.to_string(), history);
            let mut findings = Vec::new();
            check(&change, &mut findings);
            findings
        };
        let history = vec![
            ("0badc0de".to_string(), "{ not json".to_string()),
            ("1234abcd".to_string(), v1.to_string()),
        ];
        assert!(findings_at("BACKWARD", history.clone()).is_empty());
        let findings = findings_at("BACKWARD_TRANSITIVE", history.clone());
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, SCHEMA_INCOMPATIBLE);
        assert!(
            findings[0]
                .message
                .contains("against the version of `schemas/orders.avsc (at 1234abcd)`")
                && findings[0].message.contains("qty"),
            "{}",
            findings[0].message
        );
        // Without a history, a transitive level sees the two versions the change carries.
        assert!(findings_at("BACKWARD_TRANSITIVE", Vec::new()).is_empty());
    }
}
