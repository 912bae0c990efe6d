//! Reading YAML (and JSON, which is YAML) into `Value`s with go-yaml v3's semantics.
//!
//! What kustomize's reader does and this one reproduces: unquoted scalars resolve as go-yaml v3
//! does (`yes` is a string, `0x1F` an integer, `2024-01-01` a timestamp), quoted and block
//! scalars are strings, `!!binary` decodes, aliases expand, `<<` merge keys merge, and a key
//! defined twice in one mapping is an error. Guards: alias expansion is bounded (an "alias bomb"
//! fails instead of exhausting memory) and nesting depth is bounded.
//!
//! Errors carry the 1-based line and column the parser reports.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use crate::go_format::{go_parse_int, go_parse_uint, resolve_plain_v3};
use crate::value::{Mapping, Number, Value};

/// Most values an alias may expand to, summed over a document (go-yaml's own guard against
/// "billion laughs" documents is a ratio; a fixed budget is simpler and as safe).
const ALIAS_EXPANSION_BUDGET: usize = 4_000_000;
/// Deepest nesting accepted; deeper documents are rejected before the stack is at risk.
const MAX_DEPTH: usize = 10_000;

/// A YAML syntax or structure error at a position in the text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    pub message: String,
}

impl YamlError {
    fn at(span: &Span, message: impl Into<String>) -> Self {
        YamlError {
            line: span.start.line(),
            column: span.start.col() + 1,
            message: message.into(),
        }
    }
}

/// Parses every document in `text`. Empty documents (nothing but comments, or `---` alone) are
/// returned as `Value::Null`, in their place, so callers can decide whether to skip them.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    parse_documents_with(text, DuplicateKeys::Reject)
}

/// What to do with a key that appears twice in one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DuplicateKeys {
    /// An error, as go-yaml v3 (how kustomize reads resources).
    Reject,
    /// The last one wins, as go-yaml v2 (how kustomize reads kustomization files).
    LastWins,
}

/// `parse_documents` with a choice of duplicate-key handling.
pub fn parse_documents_with(
    text: &str,
    duplicate_keys: DuplicateKeys,
) -> Result<Vec<Value>, YamlError> {
    read_documents(text, duplicate_keys).map_err(|error| error.within(text))
}

impl YamlError {
    /// The parser marks an error at the end of the input on the line after a final newline,
    /// a line no editor shows: name the end of the last line instead.
    fn within(mut self, text: &str) -> YamlError {
        let line_count = text.lines().count();
        if line_count > 0 && self.line > line_count {
            self.line = line_count;
            self.column = text.lines().last().map_or(0, |last| last.chars().count()) + 1;
        }
        self
    }
}

fn read_documents(text: &str, duplicate_keys: DuplicateKeys) -> Result<Vec<Value>, YamlError> {
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        expansion_spent: 0,
        depth: 0,
        duplicate_keys,
    };
    let mut documents = Vec::new();
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                reader.anchors.clear();
                reader.expansion_spent = 0;
                let (event, span) = reader.next()?;
                if matches!(event, Event::DocumentEnd) {
                    documents.push(Value::Null);
                    continue;
                }
                let value = reader.node(event, span)?;
                documents.push(value);
            }
            _ => return Err(YamlError::at(&span, "unexpected event outside a document")),
        }
    }
    Ok(documents)
}

/// Parses text that must hold at most one document; `Value::Null` when it holds none.
pub fn parse_single_document(text: &str) -> Result<Value, YamlError> {
    parse_single_document_with(text, DuplicateKeys::Reject)
}

/// `parse_single_document` with a choice of duplicate-key handling.
pub fn parse_single_document_with(
    text: &str,
    duplicate_keys: DuplicateKeys,
) -> Result<Value, YamlError> {
    let mut documents = parse_documents_with(text, duplicate_keys)?;
    match documents.len() {
        0 => Ok(Value::Null),
        1 => Ok(documents.remove(0)),
        _ => Err(YamlError {
            line: 1,
            column: 1,
            message: format!("expected one YAML document, found {}", documents.len()),
        }),
    }
}

struct Reader<'input> {
    parser: Parser<'input, saphyr_parser::StrInput<'input>>,
    anchors: HashMap<usize, (Value, usize)>,
    expansion_spent: usize,
    depth: usize,
    duplicate_keys: DuplicateKeys,
}

impl<'input> Reader<'input> {
    fn next(&mut self) -> Result<(Event<'input>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(error)) => Err(YamlError {
                line: error.marker().line(),
                column: error.marker().col() + 1,
                message: error.info().to_string(),
            }),
            None => Ok((Event::StreamEnd, Span::default())),
        }
    }

    fn remember(&mut self, anchor: usize, value: &Value) {
        if anchor != 0 {
            self.anchors
                .insert(anchor, (value.clone(), count_nodes(value)));
        }
    }

    fn node(&mut self, event: Event<'input>, span: Span) -> Result<Value, YamlError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar_value(&text, style, tag.as_deref(), &span)?;
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::Alias(anchor) => {
                let Some((value, size)) = self.anchors.get(&anchor) else {
                    return Err(YamlError::at(&span, "unknown anchor referenced by alias"));
                };
                self.expansion_spent += size;
                if self.expansion_spent > ALIAS_EXPANSION_BUDGET {
                    return Err(YamlError::at(
                        &span,
                        "document contains excessive aliasing (an alias expansion bomb?)",
                    ));
                }
                Ok(value.clone())
            }
            Event::SequenceStart(anchor, _tag) => {
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
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::MappingStart(anchor, _tag) => {
                self.enter(&span)?;
                let value = Value::Mapping(self.mapping_body()?);
                self.depth -= 1;
                self.remember(anchor, &value);
                Ok(value)
            }
            _ => Err(YamlError::at(&span, "unexpected YAML event")),
        }
    }

    fn enter(&mut self, span: &Span) -> Result<(), YamlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(YamlError::at(
                span,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn mapping_body(&mut self) -> Result<Mapping, YamlError> {
        let mut mapping = Mapping::new();
        let mut key_lines: HashMap<String, usize> = HashMap::new();
        let mut merged: Vec<Mapping> = Vec::new();
        loop {
            let (event, key_span) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            let is_merge_key = matches!(
                &event,
                Event::Scalar(text, ScalarStyle::Plain, _, None) if text == "<<"
            );
            let key = match self.node(event, key_span)? {
                Value::String(text) | Value::Timestamp(text) => text,
                Value::Null => String::new(),
                Value::Bool(value) => value.to_string(),
                Value::Number(number) => number.to_string(),
                Value::Sequence(_) | Value::Mapping(_) => {
                    return Err(YamlError::at(
                        &key_span,
                        "a mapping key must be a scalar, not a collection",
                    ))
                }
            };
            let (event, value_span) = self.next()?;
            let value = self.node(event, value_span)?;
            if is_merge_key {
                match value {
                    Value::Mapping(source) => merged.push(source),
                    Value::Sequence(items) => {
                        for item in items {
                            match item {
                                Value::Mapping(source) => merged.push(source),
                                _ => {
                                    return Err(YamlError::at(
                                        &value_span,
                                        "map merge requires map or sequence of maps as the value",
                                    ))
                                }
                            }
                        }
                    }
                    _ => {
                        return Err(YamlError::at(
                            &value_span,
                            "map merge requires map or sequence of maps as the value",
                        ))
                    }
                }
                continue;
            }
            if self.duplicate_keys == DuplicateKeys::Reject && key_lines.contains_key(&key) {
                let first_line = key_lines[&key];
                return Err(YamlError::at(
                    &key_span,
                    format!("mapping key {key:?} already defined at line {first_line}"),
                ));
            }
            key_lines.insert(key.clone(), key_span.start.line());
            mapping.insert(key, value);
        }
        for source in merged {
            for (key, value) in source {
                if !mapping.contains_key(&key) {
                    mapping.insert(key, value);
                }
            }
        }
        Ok(mapping)
    }
}

fn count_nodes(value: &Value) -> usize {
    match value {
        Value::Sequence(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Mapping(mapping) => 1 + mapping.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

fn scalar_value(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: &Span,
) -> Result<Value, YamlError> {
    let Some(tag) = tag else {
        return Ok(match style {
            ScalarStyle::Plain => resolve_plain_v3(text),
            _ => Value::String(text.to_string()),
        });
    };
    if !tag.is_yaml_core_schema() {
        // Local tags (`!foo`) and the non-specific `!` leave the value as the text says.
        return Ok(match style {
            ScalarStyle::Plain if !tag.suffix.is_empty() => resolve_plain_v3(text),
            _ => Value::String(text.to_string()),
        });
    }
    let wrong = |kind: &str| YamlError::at(span, format!("cannot decode {text:?} as !!{kind}"));
    match tag.suffix.as_str() {
        "str" => Ok(Value::String(text.to_string())),
        "binary" => {
            let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = crate::base64::decode_standard(&cleaned).ok_or_else(|| wrong("binary"))?;
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        "int" => {
            let plain = text.replace('_', "");
            if let Some(value) = go_parse_int(&plain) {
                Ok(Value::Number(Number::Int(value)))
            } else if let Some(value) = go_parse_uint(&plain) {
                Ok(Value::Number(Number::Uint(value)))
            } else {
                Err(wrong("int"))
            }
        }
        "float" => match resolve_plain_v3(text) {
            Value::Number(Number::Float(value)) => Ok(Value::Number(Number::Float(value))),
            Value::Number(Number::Int(value)) => Ok(Value::Number(Number::Float(value as f64))),
            Value::Number(Number::Uint(value)) => Ok(Value::Number(Number::Float(value as f64))),
            _ => Err(wrong("float")),
        },
        "bool" => match resolve_plain_v3(text) {
            Value::Bool(value) => Ok(Value::Bool(value)),
            _ => Err(wrong("bool")),
        },
        "null" => Ok(Value::Null),
        "timestamp" => Ok(Value::Timestamp(text.to_string())),
        _ => Ok(match style {
            ScalarStyle::Plain => resolve_plain_v3(text),
            _ => Value::String(text.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_scalars_like_go_yaml_v3() {
        let value = parse_single_document(
            "a: yes\nb: 0x1F\nc: '1'\nd: 1.0\ne: ~\nf: 2024-01-01\ng: !!str 12\nh: !!binary aGVsbG8=\n",
        )
        .expect("valid");
        let m = value.as_mapping().expect("mapping");
        assert_eq!(m.get("a"), Some(&Value::string("yes")));
        assert_eq!(m.get("b"), Some(&Value::Number(Number::Int(31))));
        assert_eq!(m.get("c"), Some(&Value::string("1")));
        assert_eq!(m.get("d"), Some(&Value::Number(Number::Float(1.0))));
        assert_eq!(m.get("e"), Some(&Value::Null));
        assert_eq!(m.get("f"), Some(&Value::Timestamp("2024-01-01".into())));
        assert_eq!(m.get("g"), Some(&Value::string("12")));
        assert_eq!(m.get("h"), Some(&Value::string("hello")));
    }

    #[test]
    fn duplicate_keys_are_errors_with_positions() {
        let error = parse_documents("a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert_eq!((error.line, error.column), (3, 1));
        assert!(
            error.message.contains("already defined at line 1"),
            "{error}"
        );
    }

    #[test]
    fn merge_keys_and_aliases() {
        let value = parse_single_document("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n")
            .expect("valid");
        let derived = value.get_path(&["derived"]).expect("derived");
        assert_eq!(
            derived.get_path(&["x"]),
            Some(&Value::Number(Number::Int(1)))
        );
        assert_eq!(
            derived.get_path(&["y"]),
            Some(&Value::Number(Number::Int(3)))
        );
    }

    #[test]
    fn alias_bombs_fail() {
        let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut previous = "a";
        for name in names {
            text.push_str(&format!(
                "{name}: &{name} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"
            ));
            previous = name;
        }
        let error = parse_documents(&text).expect_err("bomb");
        assert!(error.message.contains("excessive aliasing"), "{error}");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let error = parse_documents("a: [1, 2\nb: 3\n").expect_err("unterminated");
        assert!(error.line >= 1);
    }

    #[test]
    fn an_error_at_the_end_of_the_input_names_the_last_line() {
        let text = "images:\n  - name: [bad\n";
        let error = parse_documents(text).expect_err("unclosed flow sequence");
        assert_eq!((error.line, error.column), (2, 15), "{error}");
    }
}
