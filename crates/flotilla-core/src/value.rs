//! The object tree every crate works on: an ordered, JSON-like value.
//!
//! `Value` is what a YAML or JSON document decodes to. Mappings keep their keys in insertion
//! order (input order), so transformations and patches behave as in kustomize, where the order of
//! list items and the presence of keys matter but the order of keys is normalised only when the
//! output is written (see `crate::yaml_write`).
//!
//! Scalars keep the distinctions the output depends on: a string `"1"` is not the integer `1`, and
//! an unquoted timestamp (`2024-01-01`) is remembered as one, because kustomize turns those into
//! RFC 3339 strings on output. Mappings remember how a null, boolean or number value was written
//! when that differs from how it prints (`Written`: `key:` versus `key: null`, `0x1F`), because
//! kustomize's strategic merge and its annotations read that text.

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
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
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
///
/// Besides its entries a mapping may remember how some scalar values were written (`Written`),
/// where go-yaml's node keeps text the `Value` lost and kustomize's result depends on it. That
/// memory is not part of the value: two mappings with the same entries are equal.
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    entries: Vec<(String, Value)>,
    /// Keys whose scalar value was written differently from how the value prints, with that
    /// text; `None` for most mappings (boxed so that a mapping, and so every `Value`, stays
    /// small).
    written: Option<Box<Records>>,
}

/// The `Written` records of a mapping, by key.
#[derive(Clone, Debug, Default)]
struct Records(Vec<(String, Written)>);

impl PartialEq for Mapping {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

/// How a null, boolean or number mapping value was written in YAML, where that differs from
/// how the value prints (`~`, `Null`, `1.50`, `0x1F`, `True`; an empty text for `key:`).
///
/// kustomize keeps go-yaml nodes, whose text survives: a strategic merge drops a field of the
/// target written `key:` but keeps `key: null`, annotations become strings of their text
/// (`"0x1F"`), and an empty value in a flow mapping (`{key: }`) prints as `""`.
///
/// A string written in folded style (`>`) is recorded too when go-yaml's writer does not give it
/// back unchanged (`folded`): kustomize writes resources as YAML and reads them back, and
/// `text` is then what it reads back.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// The scalar as written; for `folded`, the string go-yaml reads back after writing it.
    pub text: String,
    /// The scalar is a value of a flow mapping (`{...}`).
    pub in_flow: bool,
    /// A folded string that changes in go-yaml's round trip.
    pub folded: bool,
    /// The value the text was read as; the record describes a key only while it holds this.
    pub value: Value,
}

impl Written {
    /// The record for a plain scalar `text` read as `value`, when it tells more than the value:
    /// `None` for strings and collections, and when the text is how the value prints anyway.
    pub fn of(text: &str, value: &Value, in_flow: bool) -> Option<Written> {
        let differs = match value {
            Value::Null => text != "null",
            Value::Bool(_) | Value::Number(_) => value.scalar_text().is_none_or(|t| t != text),
            _ => false,
        };
        differs.then(|| Written {
            text: text.to_string(),
            in_flow,
            folded: false,
            value: value.clone(),
        })
    }

    /// The record for a folded string `value` that go-yaml's writer and reader turn into
    /// `round_trip`.
    pub fn folded(value: &str, round_trip: String) -> Written {
        Written {
            text: round_trip,
            in_flow: false,
            folded: true,
            value: Value::string(value),
        }
    }

    /// A null written with no text (`key:`, `key: !!null`).
    pub fn is_empty_null(&self) -> bool {
        self.value.is_null() && self.text.is_empty() && !self.folded
    }
}

impl Mapping {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Mapping {
            entries: Vec::with_capacity(capacity),
            written: None,
        }
    }

    /// Records how the scalar at `key` was written (see `Written`).
    pub fn set_written(&mut self, key: &str, written: Written) {
        let records = &mut self.written.get_or_insert_with(Box::default).0;
        match records.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = written,
            None => records.push((key.to_string(), written)),
        }
    }

    /// How the scalar at `key` was written, while the key still holds the value it was read as.
    pub fn written(&self, key: &str) -> Option<&Written> {
        let (_, written) = self
            .written
            .as_ref()?
            .0
            .iter()
            .find(|(k, _)| same_key(k, key))?;
        (self.get(key) == Some(&written.value)).then_some(written)
    }

    /// Whether the mapping remembers how any of its values was written.
    pub fn has_written(&self) -> bool {
        self.written
            .as_ref()
            .is_some_and(|records| !records.0.is_empty())
    }

    /// Forgets how this mapping's values were written (not those of nested mappings), as a trip
    /// through JSON does.
    pub fn forget_written(&mut self) {
        self.written = None;
    }

    /// Forgets how the value at `key` was written.
    fn forget_written_key(&mut self, key: &str) {
        if let Some(records) = &mut self.written {
            records.0.retain(|(k, _)| k != key);
        }
    }

    /// The text go-yaml's node holds for the value at `key`, which is what kustomize reads
    /// when it takes a map of strings (labels, annotations): the text as written, else how the
    /// value prints (`null` for a null), and an empty text for a collection.
    pub fn node_text(&self, key: &str) -> Option<String> {
        if let Some(written) = self.written(key).filter(|written| !written.folded) {
            return Some(written.text.clone());
        }
        Some(match self.get(key)? {
            Value::Null => "null".to_string(),
            value => value.scalar_text().unwrap_or_default(),
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| same_key(k, key))
    }

    /// Sets `key` to `value`, keeping the key's position when it already exists and appending it
    /// otherwise. Returns the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        self.forget_written_key(&key);
        match self.get_mut(&key) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Appends `key`, which the caller knows is absent (the YAML reader has just looked), or
    /// replaces the value at `position`, where the caller found it; as `insert` without the
    /// search.
    pub(crate) fn insert_at(&mut self, position: Option<usize>, key: String, value: Value) {
        debug_assert_eq!(position, self.entries.iter().position(|(k, _)| *k == key));
        self.forget_written_key(&key);
        match position {
            Some(position) => self.entries[position].1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Removes `key`, keeping the order of the other keys.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let position = self.entries.iter().position(|(k, _)| same_key(k, key))?;
        self.forget_written_key(key);
        Some(self.entries.remove(position).1)
    }

    /// The value at `key`, inserting `default()` first when the key is absent.
    pub fn entry_or_insert_with(
        &mut self,
        key: &str,
        default: impl FnOnce() -> Value,
    ) -> &mut Value {
        let position = match self.entries.iter().position(|(k, _)| same_key(k, key)) {
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
        if let Some(records) = &mut self.written {
            let entries = &self.entries;
            records
                .0
                .retain(|(key, _)| entries.iter().any(|(k, _)| k == key));
        }
    }
}

/// Whether two keys are equal. Keys are short and a mapping's keys mostly differ in their first
/// or last byte: those are compared inline before the whole texts.
#[inline]
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len()
        && (a.is_empty() || (a[0] == b[0] && a[a.len() - 1] == b[b.len() - 1] && a == b))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembering_how_values_were_written_keeps_values_small() {
        // A mapping pays one pointer for its records; every value is at most that much larger
        // than a string.
        assert!(std::mem::size_of::<Value>() <= std::mem::size_of::<String>() + 16);
    }

    #[test]
    fn records_describe_a_key_while_it_holds_the_value_read() {
        let mut mapping = Mapping::new();
        mapping.insert("a", Value::Null);
        let written = Written::of("", &Value::Null, false).expect("an empty null is recorded");
        mapping.set_written("a", written);
        assert!(mapping.written("a").is_some_and(Written::is_empty_null));
        assert_eq!(mapping.node_text("a").as_deref(), Some(""));
        // Equality ignores the records.
        let mut plain = Mapping::new();
        plain.insert("a", Value::Null);
        assert_eq!(mapping, plain);
        assert_eq!(plain.node_text("a").as_deref(), Some("null"));
        // Replacing or removing the value forgets the record.
        mapping.insert("a", Value::Null);
        assert!(mapping.written("a").is_none());
        assert!(Written::of("null", &Value::Null, false).is_none());
        assert!(Written::of("1", &Value::Number(Number::Int(1)), false).is_none());
        assert!(Written::of("x", &Value::string("x"), false).is_none());
    }
}
