//! The object tree every crate works on: an ordered, JSON-like value.
//!
//! `Value` is what a YAML or JSON document decodes to. Mappings keep their keys in insertion
//! order (input order), so transformations and patches behave as in kustomize, where the order of
//! list items and the presence of keys matter but the order of keys is normalised only when the
//! output is written (see `crate::yaml_write`).
//!
//! Scalars keep the distinctions the output depends on: a string `"1"` is not the integer `1`, and
//! an unquoted timestamp (`2024-01-01`) is remembered as one, because kustomize turns those into
//! RFC 3339 strings on output.

use std::fmt;

/// A number as decoded from YAML: go-yaml decodes to `int`, `uint64` or `float64` in that order
/// of preference, and the output depends on which.
#[derive(Clone, Copy, Debug)]
pub enum Number {
    Int(i64),
    Uint(u64),
    Float(f64),
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Uint(a), Number::Uint(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a.to_bits() == b.to_bits() || a == b,
            (Number::Int(a), Number::Uint(b)) | (Number::Uint(b), Number::Int(a)) => {
                u64::try_from(*a).is_ok_and(|a| a == *b)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Number {
    /// The number as go-yaml would print it after kustomize's JSON round trip.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(value) => write!(f, "{value}"),
            Number::Uint(value) => write!(f, "{value}"),
            Number::Float(value) => match crate::go_format::float_after_json_round_trip(*value) {
                Some(text) => f.write_str(&text),
                None => write!(f, "{value}"),
            },
        }
    }
}

/// One node of a document.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    /// An unquoted scalar that go-yaml resolves as a timestamp, kept as written.
    Timestamp(String),
    Sequence(Vec<Value>),
    Mapping(Mapping),
}

/// A mapping with string keys in insertion order.
///
/// Invariant: no key appears twice.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mapping {
    entries: Vec<(String, Value)>,
}

impl Mapping {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Mapping {
            entries: Vec::with_capacity(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// Sets `key` to `value`, keeping the key's position when it already exists and appending it
    /// otherwise. Returns the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.get_mut(&key) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, keeping the order of the other keys.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let position = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(position).1)
    }

    /// The value at `key`, inserting `default()` first when the key is absent.
    pub fn entry_or_insert_with(
        &mut self,
        key: &str,
        default: impl FnOnce() -> Value,
    ) -> &mut Value {
        let position = match self.entries.iter().position(|(k, _)| k == key) {
            Some(position) => position,
            None => {
                self.entries.push((key.to_string(), default()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[position].1
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Value)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut Value) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }
}

impl IntoIterator for Mapping {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(String, Value)> for Mapping {
    fn from_iter<T: IntoIterator<Item = (String, Value)>>(iter: T) -> Self {
        let mut mapping = Mapping::new();
        for (key, value) in iter {
            mapping.insert(key, value);
        }
        mapping
    }
}

impl Value {
    pub fn string(text: impl Into<String>) -> Value {
        Value::String(text.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) | Value::Timestamp(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_mapping(&self) -> Option<&Mapping> {
        match self {
            Value::Mapping(mapping) => Some(mapping),
            _ => None,
        }
    }

    pub fn as_mapping_mut(&mut self) -> Option<&mut Mapping> {
        match self {
            Value::Mapping(mapping) => Some(mapping),
            _ => None,
        }
    }

    pub fn as_sequence(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Sequence(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_sequence_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Sequence(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(value) => Some(*value),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) | Value::Timestamp(_) => "string",
            Value::Sequence(_) => "sequence",
            Value::Mapping(_) => "mapping",
        }
    }

    /// The value at a path of mapping keys.
    pub fn get_path(&self, path: &[&str]) -> Option<&Value> {
        let mut current = self;
        for key in path {
            current = current.as_mapping()?.get(key)?;
        }
        Some(current)
    }

    /// The string at a path of mapping keys.
    pub fn get_str(&self, path: &[&str]) -> Option<&str> {
        self.get_path(path)?.as_str()
    }

    pub fn get_path_mut(&mut self, path: &[&str]) -> Option<&mut Value> {
        let mut current = self;
        for key in path {
            current = current.as_mapping_mut()?.get_mut(key)?;
        }
        Some(current)
    }

    /// The scalar as text, the way kustomize stringifies a scalar node's value (`1`, `true`,
    /// `abc`); `None` for collections.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Null => Some(String::new()),
            Value::Bool(value) => Some(value.to_string()),
            Value::Number(number) => Some(number.to_string()),
            Value::String(text) | Value::Timestamp(text) => Some(text.clone()),
            Value::Sequence(_) | Value::Mapping(_) => None,
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::String(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::String(text)
    }
}

impl From<Mapping> for Value {
    fn from(mapping: Mapping) -> Self {
        Value::Mapping(mapping)
    }
}
