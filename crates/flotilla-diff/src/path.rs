//! Paths into objects (`spec.template.spec.containers[name=web].image`), how they print, and
//! removing a path from a JSON value.

use serde_json::Value;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// A map key.
    Field(String),
    /// A list item by position.
    Index(usize),
    /// A list item identified by its key fields (FieldsV1 `k:{…}`), as canonical JSON.
    Key(String),
    /// A primitive list item by value (FieldsV1 `v:…`), as canonical JSON.
    Item(String),
}

/// A path from the object's root.
pub type FieldPath = Vec<Segment>;

/// `a.b[0][name=web]` — the form reasons print.
pub fn display(path: &[Segment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            Segment::Field(name) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(name);
            }
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
            Segment::Key(key) => {
                let fields: Vec<String> =
                    serde_json::from_str::<serde_json::Map<String, Value>>(key)
                        .map(|map| {
                            map.iter()
                                .map(|(name, value)| match value {
                                    Value::String(text) => format!("{name}={text}"),
                                    other => format!("{name}={other}"),
                                })
                                .collect()
                        })
                        .unwrap_or_else(|_| vec![key.clone()]);
                text.push_str(&format!("[{}]", fields.join(",")));
            }
            Segment::Item(item) => text.push_str(&format!("[{item}]")),
        }
    }
    text
}

/// Whether a list item matches key fields given as a JSON object text.
pub fn item_matches_key(item: &Value, key: &str) -> bool {
    let Ok(fields) = serde_json::from_str::<serde_json::Map<String, Value>>(key) else {
        return false;
    };
    fields
        .iter()
        .all(|(name, value)| numbers_equal(&item[name], value) || item[name] == *value)
}

fn numbers_equal(left: &Value, right: &Value) -> bool {
    match (left.as_f64(), right.as_f64()) {
        (Some(left), Some(right)) => left == right,
        _ => false,
    }
}

/// The value at `path`, if present.
pub fn get<'a>(value: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(value);
    };
    let next = match (first, value) {
        (Segment::Field(name), Value::Object(map)) => map.get(name)?,
        (Segment::Index(index), Value::Array(items)) => items.get(*index)?,
        (Segment::Key(key), Value::Array(items)) => {
            items.iter().find(|item| item_matches_key(item, key))?
        }
        (Segment::Item(item), Value::Array(items)) => {
            let wanted: Value = serde_json::from_str(item).ok()?;
            items.iter().find(|candidate| **candidate == wanted)?
        }
        _ => return None,
    };
    get(next, rest)
}

/// Removes the value at `path` (and nothing else); absent paths are left alone.
pub fn remove(value: &mut Value, path: &[Segment]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match (first, value) {
            (Segment::Field(name), Value::Object(map)) => {
                map.shift_remove(name);
            }
            (Segment::Index(index), Value::Array(items)) if *index < items.len() => {
                items.remove(*index);
            }
            (Segment::Key(key), Value::Array(items)) => {
                items.retain(|item| !item_matches_key(item, key))
            }
            (Segment::Item(item), Value::Array(items)) => {
                if let Ok(wanted) = serde_json::from_str::<Value>(item) {
                    items.retain(|candidate| *candidate != wanted);
                }
            }
            _ => {}
        }
        return;
    }
    let next = match (first, value) {
        (Segment::Field(name), Value::Object(map)) => map.get_mut(name),
        (Segment::Index(index), Value::Array(items)) => items.get_mut(*index),
        (Segment::Key(key), Value::Array(items)) => {
            items.iter_mut().find(|item| item_matches_key(item, key))
        }
        _ => None,
    };
    if let Some(next) = next {
        remove(next, rest);
    }
}

/// RFC 6901 JSON pointer → path (`~1` is `/`, `~0` is `~`; numeric segments index lists).
pub fn from_json_pointer(pointer: &str, value: &Value) -> FieldPath {
    let mut path = Vec::new();
    let mut current = Some(value);
    for raw in pointer.split('/').skip(1) {
        let token = raw.replace("~1", "/").replace("~0", "~");
        let segment = match current {
            Some(Value::Array(_)) => match token.parse::<usize>() {
                Ok(index) => Segment::Index(index),
                Err(_) => Segment::Field(token),
            },
            _ => Segment::Field(token),
        };
        current = current.and_then(|node| get(node, std::slice::from_ref(&segment)));
        path.push(segment);
    }
    path
}
