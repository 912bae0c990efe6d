//! Schema compatibility with the registries' semantics: a subject's history (its versions,
//! oldest first) and its level ([`Level`]) give the incompatibilities of the newest version, as
//! Confluent Schema Registry (and Apicurio, for Avro) would refuse it.
//!
//! - Avro (`avro`): the Avro specification's schema resolution as Apache Avro's Java
//!   `SchemaCompatibility` checker applies it (the checker both registries call).
//! - JSON Schema (`json_schema`): Confluent's `JsonSchema` diff: the schema loaded as the everit
//!   library models it, each difference typed, typed differences compatible or not by
//!   Confluent's table (its default, STRICT, policy).
//! - Protobuf (`protobuf`): Confluent's `ProtobufSchema` diff: fields by number, wire-compatible
//!   scalar groups, oneofs, packages, messages and enums.
//!
//! Every check is between two versions in one direction: `reader` must read what `writer`
//! wrote. BACKWARD makes the new version the reader and the old the writer, FORWARD the other
//! way round ([`levels`]). Each [`Incompatibility`] names the rule (the registry's own name for
//! the difference), the field, what changed in old → new terms, what breaks, and the two
//! versions.
//!
//! Bad input is a [`SchemaError`] naming the file, line and column, never a panic: parsers bound
//! their nesting and their input, and comparisons memoise pairs so recursive schemas end.

pub mod avro;
pub mod json_schema;
pub(crate) mod json_text;
pub mod levels;
pub mod protobuf;

use std::fmt;

use serde::Serialize;

pub use levels::{Level, UnknownLevel};

/// The kinds of schema the registries hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaKind {
    Avro,
    Json,
    Protobuf,
}

impl SchemaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaKind::Avro => "avro",
            SchemaKind::Json => "json",
            SchemaKind::Protobuf => "protobuf",
        }
    }

    /// The kind a file's extension says: `.avsc` Avro, `.json` JSON Schema, `.proto` Protobuf.
    pub fn from_path(path: &str) -> Option<SchemaKind> {
        let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "avsc" => Some(SchemaKind::Avro),
            "json" => Some(SchemaKind::Json),
            "proto" => Some(SchemaKind::Protobuf),
            _ => None,
        }
    }
}

impl fmt::Display for SchemaKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One version of a schema: its text and the name it is known by (a file path), plus the
/// schemas it refers to (Avro named types defined elsewhere, Protobuf imports, JSON Schema
/// documents referred to by `$ref`), each by the name the referring text uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaText {
    pub name: String,
    pub text: String,
    pub references: Vec<SchemaText>,
}

impl SchemaText {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SchemaText {
        SchemaText {
            name: name.into(),
            text: text.into(),
            references: Vec::new(),
        }
    }
}

/// Which way a check reads: BACKWARD (the new version reads the old one's data) or FORWARD
/// (the old version reads the new one's data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Direction {
    Backward,
    Forward,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Backward => "BACKWARD",
            Direction::Forward => "FORWARD",
        }
    }

    /// What breaks when a check in this direction fails.
    pub fn consequence(self) -> &'static str {
        match self {
            Direction::Backward => "old data cannot be read",
            Direction::Forward => "consumers still on the old schema cannot read new data",
        }
    }
}

/// One reason the newest version is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Incompatibility {
    /// The registry's name for the difference (`TYPE_MISMATCH`, `FIELD_KIND_CHANGED`,
    /// `PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL`).
    pub rule: String,
    /// Where in the schema (`Order.qty`, `#/properties/qty`, `#/Order/2`), empty for the root.
    pub path: String,
    /// What changed and what breaks: `field "qty" changed from int to string: old data cannot
    /// be read`.
    pub message: String,
    pub direction: Direction,
    /// The two versions, as indexes into the history and by name.
    pub older: usize,
    pub newer: usize,
    pub older_name: String,
    pub newer_name: String,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} against {} ({}): {}",
            self.newer_name,
            self.older_name,
            self.direction.as_str(),
            self.message
        )
    }
}

/// A schema that cannot be read, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.location())]
pub struct SchemaError {
    /// The file (the [`SchemaText::name`]).
    pub file: String,
    /// 1-based; 0 when the error is about the whole file.
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl SchemaError {
    pub(crate) fn new(
        file: &str,
        position: json_text::Position,
        message: impl Into<String>,
    ) -> SchemaError {
        SchemaError {
            file: file.to_string(),
            line: position.line,
            column: position.column,
            message: message.into(),
        }
    }

    fn location(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file, self.message)
        } else {
            format!(
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// Which version reads in a check, for messages in old/new terms.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Roles {
    /// The reader is the newer version (BACKWARD).
    pub reader_is_new: bool,
}

impl Roles {
    pub fn reader(self) -> &'static str {
        if self.reader_is_new {
            "new"
        } else {
            "old"
        }
    }

    pub fn writer(self) -> &'static str {
        if self.reader_is_new {
            "old"
        } else {
            "new"
        }
    }

    /// `(old, new)` from the reader's and the writer's side of something.
    pub fn old_new<T>(self, reader: T, writer: T) -> (T, T) {
        if self.reader_is_new {
            (writer, reader)
        } else {
            (reader, writer)
        }
    }
}

/// One difference a format's checker found, before it is placed in a level's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub rule: String,
    pub path: String,
    pub message: String,
}

/// A parsed version of any kind.
enum Parsed<'a> {
    Avro(avro::Schema<'a>),
    Json(json_schema::Schema),
    Protobuf(protobuf::Schema),
}

fn parse(kind: SchemaKind, text: &SchemaText) -> Result<Parsed<'_>, SchemaError> {
    Ok(match kind {
        SchemaKind::Avro => Parsed::Avro(avro::Schema::parse(text)?),
        SchemaKind::Json => Parsed::Json(json_schema::Schema::parse(text)?),
        SchemaKind::Protobuf => Parsed::Protobuf(protobuf::Schema::parse(text)?),
    })
}

/// Whether `reader` reads what `writer` wrote, by each format's registry rules.
fn reads(
    reader: &Parsed<'_>,
    writer: &Parsed<'_>,
    roles: Roles,
) -> Result<Vec<Problem>, SchemaError> {
    match (reader, writer) {
        (Parsed::Avro(reader), Parsed::Avro(writer)) => avro::check(reader, writer, roles),
        (Parsed::Json(reader), Parsed::Json(writer)) => json_schema::check(reader, writer, roles),
        (Parsed::Protobuf(reader), Parsed::Protobuf(writer)) => {
            protobuf::check(reader, writer, roles)
        }
        _ => Ok(vec![Problem {
            rule: "SCHEMA_TYPE_CHANGED".to_string(),
            path: String::new(),
            message: "the schema type changed".to_string(),
        }]),
    }
}

/// Checks the newest schema of `history` (oldest first) against the earlier ones as `level`
/// says, and returns why it is incompatible (empty when it is compatible). Every version is
/// parsed, whatever the level, so a malformed one is an error.
pub fn check(
    level: Level,
    kind: SchemaKind,
    history: &[SchemaText],
) -> Result<Vec<Incompatibility>, SchemaError> {
    let parsed = history
        .iter()
        .map(|text| parse(kind, text))
        .collect::<Result<Vec<_>, _>>()?;
    let mut found = Vec::new();
    let Some(newest) = parsed.len().checked_sub(1) else {
        return Ok(found);
    };
    for older in level.earlier_versions(parsed.len()) {
        let directions = [
            (level.backward(), Direction::Backward),
            (level.forward(), Direction::Forward),
        ];
        for direction in directions
            .into_iter()
            .filter_map(|(checked, direction)| checked.then_some(direction))
        {
            let problems = match direction {
                Direction::Backward => reads(
                    &parsed[newest],
                    &parsed[older],
                    Roles {
                        reader_is_new: true,
                    },
                ),
                Direction::Forward => reads(
                    &parsed[older],
                    &parsed[newest],
                    Roles {
                        reader_is_new: false,
                    },
                ),
            }?;
            for problem in problems {
                found.push(Incompatibility {
                    rule: problem.rule,
                    path: problem.path,
                    message: format!("{}: {}", problem.message, direction.consequence()),
                    direction,
                    older,
                    newer: newest,
                    older_name: history[older].name.clone(),
                    newer_name: history[newest].name.clone(),
                });
            }
        }
    }
    Ok(found)
}

/// Parses one schema and reports only whether it can be read.
pub fn validate(kind: SchemaKind, text: &SchemaText) -> Result<(), SchemaError> {
    parse(kind, text).map(|_| ())
}
