//! Reading the text of a JSON 6902 patch as kustomize does, which is not how it reads resources.
//!
//! Text starting with `[` is decoded as JSON. Anything else is YAML converted to JSON by
//! `sigs.k8s.io/yaml`, which resolves with go-yaml **v2**, that is YAML 1.1 rules: unquoted
//! `yes`, `no`, `on`, `off`, `y`, `n` (any of their capitalisations go-yaml knows) are booleans,
//! `0755` is octal, underscores in numbers are ignored, and timestamps stay strings. Only the first
//! document counts. Mapping keys become strings the way the converter writes them (`true`, `1`);
//! a later duplicate key wins; `<<` merges a mapping in, overwriting keys set before it. A
//! block scalar ending a text without a final line break ends there (go-yaml's reading).

use std::collections::HashMap;

use flotilla_core::go_format::{go_format_float_g, go_parse_int, go_parse_uint};
use flotilla_core::{Mapping, Number, SourceText, Value};
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

/// Why the text of a JSON 6902 patch could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JsonPatchTextError {
    #[error("JSON patch is not valid JSON: {message}")]
    Json { message: String },
    #[error("JSON patch is not valid YAML: line {line}, column {column}: {message}")]
    Yaml {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("JSON patch has an unsupported mapping key at line {line}, column {column}")]
    UnsupportedKey { line: usize, column: usize },
}

/// Reads a JSON 6902 patch document (the operations list) as kustomize v5.5 does.
pub fn parse_json_patch(text: &str) -> Result<Value, JsonPatchTextError> {
    if text.starts_with('[') {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|error| JsonPatchTextError::Json {
                message: error.to_string(),
            })?;
        return Ok(json_to_value(json));
    }
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        depth: 0,
        text: SourceText::new(text),
    };
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamEnd => return Ok(Value::Null),
            Event::DocumentStart(_) => {
                let (event, span) = reader.next()?;
                if matches!(event, Event::DocumentEnd) {
                    return Ok(Value::Null);
                }
                return reader.node(event, span);
            }
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            _ => return Err(yaml_error(&span, "unexpected event outside a document")),
        }
    }
}

fn json_to_value(json: serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(number) => Value::Number(if let Some(i) = number.as_i64() {
            Number::Int(i)
        } else if let Some(u) = number.as_u64() {
            Number::Uint(u)
        } else {
            Number::Float(number.as_f64().unwrap_or(f64::NAN))
        }),
        serde_json::Value::String(text) => Value::String(text),
        serde_json::Value::Array(items) => {
            Value::Sequence(items.into_iter().map(json_to_value).collect())
        }
        serde_json::Value::Object(entries) => Value::Mapping(
            entries
                .into_iter()
                .map(|(key, value)| (key, json_to_value(value)))
                .collect(),
        ),
    }
}

const MAX_DEPTH: usize = 10_000;
const MAX_ALIAS_NODES: usize = 1_000_000;

struct Reader<'input> {
    parser: Parser<'input, saphyr_parser::StrInput<'input>>,
    anchors: HashMap<usize, Value>,
    depth: usize,
    /// The text, for block scalars that end it without a final line break.
    text: SourceText<'input>,
}

fn yaml_error(span: &Span, message: impl Into<String>) -> JsonPatchTextError {
    JsonPatchTextError::Yaml {
        line: span.start.line(),
        column: span.start.col() + 1,
        message: message.into(),
    }
}

fn count_nodes(value: &Value) -> usize {
    match value {
        Value::Sequence(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Mapping(mapping) => 1 + mapping.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

impl<'input> Reader<'input> {
    fn next(&mut self) -> Result<(Event<'input>, Span), JsonPatchTextError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(error)) => Err(JsonPatchTextError::Yaml {
                line: error.marker().line(),
                column: error.marker().col() + 1,
                message: error.info().to_string(),
            }),
            None => Ok((Event::StreamEnd, Span::default())),
        }
    }

    fn remember(&mut self, anchor: usize, value: &Value) -> Result<(), JsonPatchTextError> {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(())
    }

    fn node(&mut self, event: Event<'input>, span: Span) -> Result<Value, JsonPatchTextError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let at_end = self.text.block_scalar(&text, style, &span);
                let value = scalar_v11(at_end.as_deref().unwrap_or(&text), style, tag.as_deref());
                self.remember(anchor, &value)?;
                Ok(value)
            }
            Event::Alias(anchor) => {
                let value = self
                    .anchors
                    .get(&anchor)
                    .cloned()
                    .ok_or_else(|| yaml_error(&span, "unknown anchor referenced by alias"))?;
                if count_nodes(&value) > MAX_ALIAS_NODES {
                    return Err(yaml_error(&span, "alias expands to too many nodes"));
                }
                Ok(value)
            }
            Event::SequenceStart(anchor, _) => {
                self.enter(&span)?;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span)?);
                }
                self.depth -= 1;
                let value = Value::Sequence(items);
                self.remember(anchor, &value)?;
                Ok(value)
            }
            Event::MappingStart(anchor, _) => {
                self.enter(&span)?;
                let mut mapping = Mapping::new();
                loop {
                    let (event, key_span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let is_merge = matches!(
                        &event,
                        Event::Scalar(text, ScalarStyle::Plain, _, None) if text == "<<"
                    );
                    let key = self.node(event, key_span)?;
                    let (event, value_span) = self.next()?;
                    let value = self.node(event, value_span)?;
                    if is_merge {
                        merge_into(&mut mapping, value, &value_span)?;
                        continue;
                    }
                    let key = json_key(&key).ok_or(JsonPatchTextError::UnsupportedKey {
                        line: key_span.start.line(),
                        column: key_span.start.col() + 1,
                    })?;
                    mapping.insert(key, value);
                }
                self.depth -= 1;
                let value = Value::Mapping(mapping);
                self.remember(anchor, &value)?;
                Ok(value)
            }
            _ => Err(yaml_error(&span, "unexpected YAML event")),
        }
    }

    fn enter(&mut self, span: &Span) -> Result<(), JsonPatchTextError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(yaml_error(span, "nesting too deep"));
        }
        Ok(())
    }
}

fn merge_into(mapping: &mut Mapping, value: Value, span: &Span) -> Result<(), JsonPatchTextError> {
    let sources = match value {
        Value::Mapping(source) => vec![source],
        Value::Sequence(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Mapping(source) => Ok(source),
                _ => Err(yaml_error(span, "map merge requires maps")),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(yaml_error(
                span,
                "map merge requires a map or a list of maps",
            ))
        }
    };
    for source in sources {
        for (key, value) in source {
            mapping.insert(key, value);
        }
    }
    Ok(())
}

/// A mapping key as `sigs.k8s.io/yaml` writes it into JSON; `None` for keys it rejects.
fn json_key(key: &Value) -> Option<String> {
    match key {
        Value::String(text) | Value::Timestamp(text) => Some(text.clone()),
        Value::Bool(value) => Some(value.to_string()),
        Value::Number(Number::Int(value)) => Some(value.to_string()),
        Value::Number(Number::Float(value)) => Some(if value.is_nan() {
            ".nan".to_string()
        } else if value.is_infinite() {
            if *value > 0.0 { ".inf" } else { "-.inf" }.to_string()
        } else {
            // `FormatFloat(value, 'g', -1, 32)`: the shortest digits at 32-bit precision.
            let short = format!("{}", *value as f32);
            go_format_float_g(short.parse().unwrap_or(*value))
        }),
        Value::Number(Number::Uint(_)) | Value::Null | Value::Sequence(_) | Value::Mapping(_) => {
            None
        }
    }
}

fn scalar_v11(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag {
        if tag.is_yaml_core_schema() && tag.suffix == "str" {
            return Value::String(text.to_string());
        }
        if tag.is_yaml_core_schema() {
            return resolve_plain_v11(text);
        }
    }
    match style {
        ScalarStyle::Plain => resolve_plain_v11(text),
        _ => Value::String(text.to_string()),
    }
}

/// go-yaml v2's resolution of an unquoted scalar, as decoded into an untyped Go value.
pub fn resolve_plain_v11(text: &str) -> Value {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Value::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        ".nan" | ".NaN" | ".NAN" => return Value::Number(Number::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Number(Number::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Number(Number::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    let Some(&first) = text.as_bytes().first() else {
        return Value::Null;
    };
    if first == b'.' {
        return match text.parse::<f64>() {
            Ok(value) if is_go_float_syntax(text) => Value::Number(Number::Float(value)),
            _ => Value::String(text.to_string()),
        };
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Value::String(text.to_string());
    }
    let plain = text.replace('_', "");
    if let Some(value) = go_parse_int(&plain) {
        return Value::Number(Number::Int(value));
    }
    if let Some(value) = go_parse_uint(&plain) {
        return Value::Number(Number::Uint(value));
    }
    if is_yaml_style_float(&plain) {
        if let Ok(value) = plain.parse::<f64>() {
            return Value::Number(Number::Float(value));
        }
    }
    Value::String(text.to_string())
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == bytes.len()
}

/// Go's `ParseFloat` accepts decimal text like Rust's parser; it also takes `inf`/`nan`, which
/// cannot start with `.`, the only case this is used for.
fn is_go_float_syntax(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_patches_resolve_with_yaml_1_1_rules() {
        let patch = parse_json_patch(
            "- op: add\n  path: /a\n  value: {y: yes, n: off, oct: 0755, big: 1_000, t: 2024-01-01, f: .5, s: 'on'}\n",
        )
        .expect("valid");
        let value = patch.as_sequence().expect("list")[0]
            .get_path(&["value"])
            .expect("value");
        let get = |key: &str| value.get_path(&[key]).cloned();
        assert_eq!(get("true"), Some(Value::Bool(true)));
        assert_eq!(get("false"), Some(Value::Bool(false)));
        assert_eq!(get("oct"), Some(Value::Number(Number::Int(493))));
        assert_eq!(get("big"), Some(Value::Number(Number::Int(1000))));
        assert_eq!(get("t"), Some(Value::string("2024-01-01")));
        assert_eq!(get("f"), Some(Value::Number(Number::Float(0.5))));
        assert_eq!(get("s"), Some(Value::string("on")));
    }

    #[test]
    fn json_text_is_json() {
        let patch = parse_json_patch(r#"[{"op": "remove", "path": "/a"}]"#).expect("valid");
        assert_eq!(patch.as_sequence().map(Vec::len), Some(1));
        assert!(matches!(
            parse_json_patch("[{\"op\": }]"),
            Err(JsonPatchTextError::Json { .. })
        ));
    }

    #[test]
    fn only_the_first_yaml_document_counts() {
        let patch = parse_json_patch("- op: remove\n  path: /a\n---\n- op: remove\n  path: /b\n")
            .expect("valid");
        assert_eq!(patch.as_sequence().map(Vec::len), Some(1));
    }

    #[test]
    fn yaml_style_floats() {
        assert!(is_yaml_style_float("1.5e3"));
        assert!(is_yaml_style_float("-.5"));
        assert!(is_yaml_style_float("1."));
        assert!(!is_yaml_style_float("1e"));
        assert!(!is_yaml_style_float("0x1p3"));
    }
}
