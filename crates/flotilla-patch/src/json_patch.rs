//! JSON patch (RFC 6902) with the semantics of evanphx/json-patch v4, the library kustomize v5.5
//! applies `patches:` with a JSON 6902 document through.
//!
//! Where that library differs from the RFC, this module follows the library:
//! - `replace` of a missing mapping key adds it (only list indexes must exist);
//! - negative list indexes count from the end (`-1` is the last item; for `add`, `-1` appends);
//! - list indexes are parsed like Go's `strconv.Atoi` (`+1` and `01` are 1);
//! - a path without a leading `/` addresses its last segment from the root;
//! - `test` compares scalars by type and text (`1` is not `"1"`), mappings regardless of order.
//!
//! Operations are applied in order to a copy of the target; the first failing one aborts the
//! patch and is named in the error by its index, `op` and path.

use flotilla_core::Value;

/// Why a JSON patch could not be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JsonPatchError {
    #[error("JSON patch must be a sequence of operations, found a {found}")]
    NotASequence { found: &'static str },
    #[error("JSON patch operation {index} must be a mapping, found a {found}")]
    OperationNotAMapping { index: usize, found: &'static str },
    #[error("JSON patch operation {index} has an unknown op `{op}`")]
    UnknownOp { index: usize, op: String },
    #[error("JSON patch operation {index} ({op}) has no string `{field}` field")]
    MissingField {
        index: usize,
        op: &'static str,
        field: &'static str,
    },
    #[error("JSON patch operation {index} ({op}) does not apply: the target has no `{path}`")]
    MissingPath {
        index: usize,
        op: &'static str,
        path: String,
    },
    #[error("JSON patch operation {index} ({op}) does not apply: `{segment}` is not a valid index for the list at `{path}`")]
    InvalidIndex {
        index: usize,
        op: &'static str,
        path: String,
        segment: String,
    },
    #[error("JSON patch operation {index} (test) failed: the value at `{path}` differs")]
    TestFailed { index: usize, path: String },
    #[error("JSON patch target must be a mapping or a sequence, found a {found}")]
    TargetNotAContainer { found: &'static str },
}

/// Applies the RFC 6902 `operations` (a sequence of mappings, read from YAML or JSON) to
/// `target`.
pub fn json_patch(target: &Value, operations: &Value) -> Result<Value, JsonPatchError> {
    let Value::Sequence(operations) = operations else {
        return Err(JsonPatchError::NotASequence {
            found: operations.type_name(),
        });
    };
    if !matches!(target, Value::Mapping(_) | Value::Sequence(_)) {
        return Err(JsonPatchError::TargetNotAContainer {
            found: target.type_name(),
        });
    }
    let mut document = target.clone();
    for (index, operation) in operations.iter().enumerate() {
        apply_operation(&mut document, index, operation)?;
    }
    Ok(document)
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Remove => "remove",
            Op::Replace => "replace",
            Op::Move => "move",
            Op::Copy => "copy",
            Op::Test => "test",
        }
    }
}

/// Failures of a container step, turned into `JsonPatchError`s with the operation's context.
enum StepError {
    Missing,
    InvalidIndex(String),
}

struct Context {
    index: usize,
    op: Op,
}

impl Context {
    fn error(&self, path: &str, error: StepError) -> JsonPatchError {
        match error {
            StepError::Missing => JsonPatchError::MissingPath {
                index: self.index,
                op: self.op.name(),
                path: path.to_string(),
            },
            StepError::InvalidIndex(segment) => JsonPatchError::InvalidIndex {
                index: self.index,
                op: self.op.name(),
                path: path.to_string(),
                segment,
            },
        }
    }

    fn missing(&self, path: &str) -> JsonPatchError {
        self.error(path, StepError::Missing)
    }
}

fn apply_operation(
    document: &mut Value,
    index: usize,
    operation: &Value,
) -> Result<(), JsonPatchError> {
    let Value::Mapping(fields) = operation else {
        return Err(JsonPatchError::OperationNotAMapping {
            index,
            found: operation.type_name(),
        });
    };
    let op = match fields.get("op") {
        Some(Value::String(op)) => match op.as_str() {
            "add" => Op::Add,
            "remove" => Op::Remove,
            "replace" => Op::Replace,
            "move" => Op::Move,
            "copy" => Op::Copy,
            "test" => Op::Test,
            other => {
                return Err(JsonPatchError::UnknownOp {
                    index,
                    op: other.to_string(),
                })
            }
        },
        _ => {
            return Err(JsonPatchError::UnknownOp {
                index,
                op: "unknown".to_string(),
            })
        }
    };
    let context = Context { index, op };
    let string_field = |field: &'static str| match fields.get(field) {
        Some(Value::String(text)) => Ok(text.clone()),
        _ => Err(JsonPatchError::MissingField {
            index,
            op: op.name(),
            field,
        }),
    };
    let path = string_field("path")?;
    let value = fields.get("value").cloned();
    match op {
        Op::Add => {
            let (parent, key) =
                find_parent(document, &path).ok_or_else(|| context.missing(&path))?;
            add(parent, &key, value.unwrap_or(Value::Null)).map_err(|e| context.error(&path, e))
        }
        Op::Remove => {
            let (parent, key) =
                find_parent(document, &path).ok_or_else(|| context.missing(&path))?;
            remove(parent, &key)
                .map(drop)
                .map_err(|e| context.error(&path, e))
        }
        Op::Replace => {
            let (parent, key) =
                find_parent(document, &path).ok_or_else(|| context.missing(&path))?;
            get(parent, &key).map_err(|e| context.error(&path, e))?;
            set(parent, &key, value.unwrap_or(Value::Null)).map_err(|e| context.error(&path, e))
        }
        Op::Move => {
            let from = string_field("from")?;
            let (parent, key) =
                find_parent(document, &from).ok_or_else(|| context.missing(&from))?;
            get(parent, &key).map_err(|e| context.error(&from, e))?;
            let moved = remove(parent, &key).map_err(|e| context.error(&from, e))?;
            let (parent, key) =
                find_parent(document, &path).ok_or_else(|| context.missing(&path))?;
            add(parent, &key, moved).map_err(|e| context.error(&path, e))
        }
        Op::Copy => {
            let from = string_field("from")?;
            let (parent, key) =
                find_parent(document, &from).ok_or_else(|| context.missing(&from))?;
            let copied = get(parent, &key)
                .map_err(|e| context.error(&from, e))?
                .cloned()
                .ok_or_else(|| context.missing(&from))?;
            let (parent, key) =
                find_parent(document, &path).ok_or_else(|| context.missing(&path))?;
            add(parent, &key, copied).map_err(|e| context.error(&path, e))
        }
        Op::Test => {
            let (parent, key) =
                find_parent(document, &path).ok_or_else(|| context.missing(&path))?;
            let actual = get(parent, &key).map_err(|e| context.error(&path, e))?;
            // Without a `value` the test fails (kustomize even crashes on a missing path); an
            // explicit null matches only a missing field, never a null one.
            let passed = match (actual, &value) {
                (_, None) => false,
                (None, Some(expected)) => expected.is_null(),
                (Some(_), Some(Value::Null)) => false,
                (Some(actual), Some(expected)) => values_equal(actual, expected),
            };
            if passed {
                Ok(())
            } else {
                Err(JsonPatchError::TestFailed { index, path })
            }
        }
    }
}

/// Decodes one JSON pointer segment (`~1` is `/`, `~0` is `~`).
fn decode_segment(segment: &str) -> String {
    let mut decoded = String::with_capacity(segment.len());
    let mut chars = segment.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.peek() {
                Some('1') => {
                    chars.next();
                    decoded.push('/');
                    continue;
                }
                Some('0') => {
                    chars.next();
                    decoded.push('~');
                    continue;
                }
                _ => {}
            }
        }
        decoded.push(c);
    }
    decoded
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits, nothing else.
fn go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The container holding the last segment of `path`, and that segment decoded.
fn find_parent<'a>(document: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() < 2 {
        return None;
    }
    let (key, parents) = segments[1..].split_last()?;
    let mut current = document;
    for segment in parents {
        let segment = decode_segment(segment);
        let next = match current {
            Value::Mapping(mapping) => mapping.get_mut(&segment)?,
            Value::Sequence(items) => {
                let position = list_position(items.len(), &segment, false).ok()?;
                items.get_mut(position)?
            }
            _ => return None,
        };
        if !matches!(next, Value::Mapping(_) | Value::Sequence(_)) {
            return None;
        }
        current = next;
    }
    Some((current, decode_segment(key)))
}

/// The position a list index names: negative indexes count from the end; `for_insert` allows
/// the position just past the end.
fn list_position(len: usize, segment: &str, for_insert: bool) -> Result<usize, StepError> {
    let invalid = || StepError::InvalidIndex(segment.to_string());
    let index = go_atoi(segment).ok_or_else(invalid)?;
    let size = i64::try_from(len).map_err(|_| invalid())? + i64::from(for_insert);
    let index = if index < 0 {
        if index < -size {
            return Err(invalid());
        }
        index + size
    } else {
        index
    };
    if index >= size {
        return Err(invalid());
    }
    usize::try_from(index).map_err(|_| invalid())
}

fn get<'a>(container: &'a Value, key: &str) -> Result<Option<&'a Value>, StepError> {
    match container {
        Value::Mapping(mapping) => Ok(mapping.get(key)),
        Value::Sequence(items) => Ok(Some(&items[list_position(items.len(), key, false)?])),
        _ => Err(StepError::Missing),
    }
}

fn set(container: &mut Value, key: &str, value: Value) -> Result<(), StepError> {
    match container {
        Value::Mapping(mapping) => {
            mapping.insert(key, value);
            Ok(())
        }
        Value::Sequence(items) => {
            let position = list_position(items.len(), key, false)?;
            items[position] = value;
            Ok(())
        }
        _ => Err(StepError::Missing),
    }
}

fn add(container: &mut Value, key: &str, value: Value) -> Result<(), StepError> {
    match container {
        Value::Mapping(mapping) => {
            mapping.insert(key, value);
            Ok(())
        }
        Value::Sequence(items) => {
            if key == "-" {
                items.push(value);
            } else {
                let position = list_position(items.len(), key, true)?;
                items.insert(position, value);
            }
            Ok(())
        }
        _ => Err(StepError::Missing),
    }
}

fn remove(container: &mut Value, key: &str) -> Result<Value, StepError> {
    match container {
        Value::Mapping(mapping) => mapping.remove(key).ok_or(StepError::Missing),
        Value::Sequence(items) => {
            let position = list_position(items.len(), key, false)?;
            Ok(items.remove(position))
        }
        _ => Err(StepError::Missing),
    }
}

/// Equality as the JSON patch library tests it: mappings by keys regardless of order, lists
/// item by item, scalars by type and text.
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Mapping(a), Value::Mapping(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, value)| b.get(key).is_some_and(|other| values_equal(value, other)))
        }
        (Value::Sequence(a), Value::Sequence(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| values_equal(a, b))
        }
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a.to_string() == b.to_string(),
        (Value::String(a) | Value::Timestamp(a), Value::String(b) | Value::Timestamp(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_segments_decode_tilde_escapes_in_one_pass() {
        assert_eq!(decode_segment("a~1b"), "a/b");
        assert_eq!(decode_segment("a~0b"), "a~b");
        assert_eq!(decode_segment("~01"), "~1");
        assert_eq!(decode_segment("~2"), "~2");
    }

    #[test]
    fn indexes_parse_like_go_atoi() {
        assert_eq!(go_atoi("01"), Some(1));
        assert_eq!(go_atoi("+1"), Some(1));
        assert_eq!(go_atoi("-2"), Some(-2));
        assert_eq!(go_atoi(" 1"), None);
        assert_eq!(go_atoi("-"), None);
    }
}
