//! Reading YAML (and JSON, which is YAML) into `Value`s with go-yaml v3's semantics.
//!
//! What kustomize's reader does and this one reproduces: unquoted scalars resolve as go-yaml v3
//! does (`yes` is a string, `0x1F` an integer, `2024-01-01` a timestamp), quoted and block
//! scalars are strings, `!!binary` decodes, aliases expand, `<<` merge keys merge, and a key
//! defined twice in one mapping is an error. Guards: alias expansion is bounded (an "alias bomb"
//! fails instead of exhausting memory) and nesting depth is bounded.
//!
//! Two places where saphyr-parser (YAML 1.2) and go-yaml (libyaml) read the same text
//! differently are brought to go-yaml's result: a `|` or `>` block scalar that runs to the end of
//! an input without a final line break ends where the text ends (saphyr adds the missing line
//! break), and a mapping remembers how its null, boolean and number values were written
//! (`Written`: `key:` versus `key: null`, `{key: }`, `0x1F`), which go-yaml's nodes keep.
//!
//! Errors carry the 1-based line and column the parser reports.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use crate::go_format::{go_parse_int, go_parse_uint, resolve_plain_v3};
use crate::value::{Mapping, Number, Value, Written};

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
        text: SourceText::new(text),
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
    text: SourceText<'input>,
}

/// The input text, for the few places that look at it beside saphyr-parser's events (whose
/// markers count characters, not bytes). Other readers built on those events use it to read
/// block scalars as go-yaml does (`SourceText::block_scalar`).
pub struct SourceText<'input> {
    text: &'input str,
    ascii: bool,
    /// A character index and its byte offset, moved forward by `byte_offset`.
    cursor: (usize, usize),
    /// Characters in the text, counted when first needed.
    char_count: Option<usize>,
}

impl<'input> SourceText<'input> {
    pub fn new(text: &'input str) -> Self {
        SourceText {
            text,
            ascii: text.is_ascii(),
            cursor: (0, 0),
            char_count: None,
        }
    }

    /// The byte offset of the character at `index` (the text's length past its end).
    fn byte_offset(&mut self, index: usize) -> usize {
        if self.ascii {
            return index.min(self.text.len());
        }
        if index < self.cursor.0 {
            self.cursor = (0, 0);
        }
        let (mut chars, mut bytes) = self.cursor;
        for character in self.text[bytes..].chars() {
            if chars == index {
                break;
            }
            chars += 1;
            bytes += character.len_utf8();
        }
        self.cursor = (chars, bytes);
        bytes
    }

    fn char_at(&mut self, index: usize) -> Option<char> {
        let offset = self.byte_offset(index);
        self.text[offset..].chars().next()
    }

    /// go-yaml's value of the block (`|`, `>`) scalar saphyr read as `value` at `span`, when
    /// it differs: see `block_scalar_at_end`.
    pub fn block_scalar(&mut self, value: &str, style: ScalarStyle, span: &Span) -> Option<String> {
        let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
        if block && self.ends_unterminated(span) {
            self.block_scalar_at_end(value, span)
        } else {
            None
        }
    }

    /// Whether `span` reaches the end of a text that does not end with a line break.
    fn ends_unterminated(&mut self, span: &Span) -> bool {
        if self.text.is_empty() || self.text.ends_with(['\n', '\r']) {
            return false;
        }
        let char_count = match self.char_count {
            Some(count) => count,
            None => {
                let count = if self.ascii {
                    self.text.len()
                } else {
                    self.text.chars().count()
                };
                self.char_count = Some(count);
                count
            }
        };
        span.end.index() >= char_count
    }

    /// go-yaml's value of a block scalar that runs to the end of a text without a final line
    /// break, from saphyr's. go-yaml keeps the last line as it is; saphyr adds the line break
    /// the text lacks when the scalar is not `-` chomped and that last line reaches the
    /// scalar's indentation (when it holds content, or only spaces as many as the
    /// indentation), and for a `|+` scalar with nothing but one unterminated blank line.
    fn block_scalar_at_end(&mut self, value: &str, span: &Span) -> Option<String> {
        if !value.ends_with('\n') {
            return None;
        }
        let text = self.text;
        let last_start = text.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let last_line = &text[last_start..];
        if value.bytes().all(|byte| byte == b'\n') {
            // No content: saphyr's `|+` yields one line break for the unterminated blank line
            // right after the header, go-yaml none. More line breaks are blank lines.
            let before = &text[..last_start];
            let before = before
                .strip_suffix("\r\n")
                .or_else(|| before.strip_suffix(['\n', '\r']))
                .unwrap_or(before);
            let previous = &before[before.rfind(['\n', '\r']).map_or(0, |i| i + 1)..];
            let after_header = !previous.bytes().all(|byte| byte == b' ');
            return (value == "\n" && after_header).then(String::new);
        }
        let reaches_indentation = if last_line.bytes().any(|byte| byte != b' ') {
            true
        } else {
            let columns = last_line.len();
            columns >= self.block_scalar_indent(value, span).max(1)
        };
        reaches_indentation.then(|| value[..value.len() - 1].to_string())
    }

    /// The indentation of a block scalar with content: the column its first content line
    /// starts at (the event's start), or, when the event starts at a tag or an anchor, the
    /// indentation of the first non-blank line after that one.
    fn block_scalar_indent(&mut self, value: &str, span: &Span) -> usize {
        let text = self.text;
        let start = self.byte_offset(span.start.index());
        let line_start = text[..start].rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let line_end = text[start..]
            .find(['\n', '\r'])
            .map_or(text.len(), |i| start + i);
        let first_line = &text[start..line_end];
        let at_content = text[line_start..start].bytes().all(|byte| byte == b' ')
            && !first_line.is_empty()
            && value.trim_start_matches('\n').starts_with(first_line);
        if at_content {
            return span.start.col();
        }
        text[line_end..]
            .split(['\n', '\r'])
            .find(|line| line.bytes().any(|byte| byte != b' '))
            .map_or(0, |line| line.len() - line.trim_start_matches(' ').len())
    }
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

    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        span: &Span,
    ) -> Result<Value, YamlError> {
        let at_end = self.text.block_scalar(text, style, span);
        let value = scalar_value(at_end.as_deref().unwrap_or(text), style, tag, span)?;
        self.remember(anchor, &value);
        Ok(value)
    }

    fn node(&mut self, event: Event<'input>, span: Span) -> Result<Value, YamlError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.scalar(&text, style, anchor, tag.as_deref(), &span)
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
                let flow = self.text.char_at(span.start.index()) == Some('{');
                let value = Value::Mapping(self.mapping_body(flow)?);
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

    fn mapping_body(&mut self, flow: bool) -> Result<Mapping, YamlError> {
        let mut mapping = Mapping::new();
        // The line of each key, in the mapping's order (a linear search, as `Mapping::insert`
        // does: mappings are small, and a hash map per mapping cost more than it saved).
        let mut key_lines: Vec<usize> = Vec::new();
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
            let mut written = None;
            let value = match event {
                Event::Scalar(text, style, anchor, tag) => {
                    let value = self.scalar(&text, style, anchor, tag.as_deref(), &value_span)?;
                    if style == ScalarStyle::Plain {
                        written = Written::of(&text, &value, flow);
                    } else if let (ScalarStyle::Folded, Value::String(folded)) = (style, &value) {
                        written = folded_round_trip(folded)
                            .map(|round_trip| Written::folded(folded, round_trip));
                    }
                    value
                }
                event => self.node(event, value_span)?,
            };
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
            let position = mapping
                .keys()
                .position(|existing| crate::value::same_key(existing, &key));
            match position {
                Some(position) if self.duplicate_keys == DuplicateKeys::Reject => {
                    let first_line = key_lines[position];
                    return Err(YamlError::at(
                        &key_span,
                        format!("mapping key {key:?} already defined at line {first_line}"),
                    ));
                }
                Some(position) => key_lines[position] = key_span.start.line(),
                None => key_lines.push(key_span.start.line()),
            }
            match written {
                Some(written) => {
                    mapping.insert_at(position, key.clone(), value);
                    mapping.set_written(&key, written);
                }
                None => mapping.insert_at(position, key, value),
            }
        }
        for source in merged {
            for (key, value) in source.iter() {
                if !mapping.contains_key(key) {
                    mapping.insert(key.clone(), value.clone());
                    if let Some(written) = source.written(key) {
                        mapping.set_written(key, written.clone());
                    }
                }
            }
        }
        Ok(mapping)
    }
}

/// What go-yaml v3 reads back after writing the string `value` in folded style (`>`), when that
/// differs from `value`; kustomize writes and reads back every resource.
///
/// The writer separates two lines of the value with a blank line so that the reader does not
/// fold them into one, but decides it by the value's first character instead of the next
/// line's (`k := 0` in `yaml_emitter_write_folded_scalar`): before a more-indented line, and at
/// the end of a `>+` value, the reader then keeps one line break more; after a first line that
/// starts with a space, lines are folded into one. Values the writer cannot write folded (a
/// space before a line break or at the end, control characters) are written quoted and come
/// back unchanged. Lines the writer breaks at 80 columns are assumed to come back joined.
fn folded_round_trip(value: &str) -> Option<String> {
    let interesting = value.trim_end_matches('\n').contains('\n') || value.ends_with("\n\n");
    let quoted = value.is_empty()
        || value.ends_with(' ')
        || value.contains(" \n")
        || value.chars().any(|c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
        });
    if !interesting || quoted {
        return None;
    }
    // The writer: lines of the value, with the blank lines it adds.
    let extra_allowed = value
        .trim_start_matches('\n')
        .chars()
        .next()
        .is_some_and(|c| c != ' ' && c != '\t');
    let mut written = String::with_capacity(value.len() + 8);
    let mut breaks = true;
    let mut leading_spaces = true;
    for c in value.chars() {
        if c == '\n' {
            if !breaks && !leading_spaces && extra_allowed {
                written.push('\n');
            }
            written.push('\n');
            breaks = true;
        } else {
            if breaks {
                leading_spaces = c == ' ' || c == '\t';
            }
            written.push(c);
            breaks = false;
        }
    }
    // Its chomping indicator: `-` without a final line break, `+` with more than one.
    let keep = value.ends_with("\n\n") || value == "\n";
    let strip = !value.ends_with('\n');
    // The reader: go-yaml's folding of those lines.
    let mut result = String::with_capacity(value.len());
    let mut leading_break = "";
    let mut trailing_breaks = String::new();
    let mut leading_blank = false;
    for line in written.split_terminator('\n') {
        if line.is_empty() {
            trailing_breaks.push('\n');
            continue;
        }
        let trailing_blank = line.starts_with([' ', '\t']);
        if !leading_break.is_empty() && !leading_blank && !trailing_blank {
            if trailing_breaks.is_empty() {
                result.push(' ');
            }
        } else {
            result.push_str(leading_break);
        }
        result.push_str(&trailing_breaks);
        trailing_breaks.clear();
        leading_blank = trailing_blank;
        result.push_str(line);
        leading_break = "\n";
    }
    if !strip {
        result.push_str(leading_break);
    }
    if keep {
        result.push_str(&trailing_breaks);
    }
    (result != value).then_some(result)
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

    /// The value of `a` in `text`, a one-key mapping.
    fn value_of_a(text: &str) -> Value {
        parse_single_document(text)
            .expect("valid")
            .get_path(&["a"])
            .cloned()
            .expect("a")
    }

    #[test]
    fn block_scalars_ending_an_unterminated_text_keep_no_added_line_break() {
        let cases = [
            ("a: |\n  x\n  y", "x\ny"),
            ("a: |+\n  x", "x"),
            ("a: |-\n  x", "x"),
            ("a: >\n  x\n  y", "x y"),
            ("a: !!str |\n  x", "x"),
            ("a: &anchor |\n  x", "x"),
            ("a: |\r\n  x\r\n  y", "x\ny"),
            // A last line of spaces: short of the indentation it is nothing, as deep it is
            // nothing either, deeper it is content.
            ("a: |\n  x\n ", "x\n"),
            ("a: |\n  x\n  ", "x\n"),
            ("a: |\n  x\n    ", "x\n  "),
            ("a: |+\n  x\n\n  ", "x\n\n"),
            ("a: |2\n    x\n  ", "  x\n"),
            // No content at all.
            ("a: |+\n  ", ""),
            ("a: |+\n\n  ", "\n"),
            ("a: |\n  ", ""),
            // With a final line break nothing changes.
            ("a: |\n  x\n", "x\n"),
            ("a: |+\n  x\n\n", "x\n\n"),
            ("a: >\n  x\n  y\n", "x y\n"),
        ];
        for (text, expected) in cases {
            assert_eq!(value_of_a(text), Value::string(expected), "{text:?}");
        }
        // Only the scalar that ends the text is concerned.
        let value = parse_single_document("a: |\n  x\nb: |\n  y").expect("valid");
        assert_eq!(value.get_str(&["a"]), Some("x\n"));
        assert_eq!(value.get_str(&["b"]), Some("y"));
    }

    #[test]
    fn mappings_remember_how_nulls_and_numbers_were_written() {
        let value = parse_single_document(
            "a:\nb: null\nc: ~\nd: !!null\ne: 1.50\nf: 0x1F\ng: True\nh: 1\ni: '~'\nj: {k: , l: null}\n",
        )
        .expect("valid");
        let mapping = value.as_mapping().expect("mapping");
        let text = |key: &str| mapping.written(key).map(|written| written.text.as_str());
        assert_eq!(text("a"), Some(""));
        assert_eq!(text("b"), None);
        assert_eq!(text("c"), Some("~"));
        assert_eq!(text("d"), Some(""));
        assert_eq!(text("e"), Some("1.50"));
        assert_eq!(text("f"), Some("0x1F"));
        assert_eq!(text("g"), Some("True"));
        assert_eq!(text("h"), None);
        assert_eq!(text("i"), None);
        assert!(mapping
            .written("a")
            .is_some_and(|w| w.is_empty_null() && !w.in_flow));
        assert_eq!(mapping.node_text("b").as_deref(), Some("null"));
        assert_eq!(mapping.node_text("e").as_deref(), Some("1.50"));
        let flow = value
            .get_path(&["j"])
            .and_then(Value::as_mapping)
            .expect("j");
        assert!(flow
            .written("k")
            .is_some_and(|w| w.is_empty_null() && w.in_flow));
        assert!(flow.written("l").is_none());

        // A changed value is no longer described by the record.
        let mut mapping = mapping.clone();
        if let Some(slot) = mapping.get_mut("e") {
            *slot = Value::Number(Number::Int(2));
        }
        assert!(mapping.written("e").is_none());
        mapping.insert("c", Value::Null);
        assert!(mapping.written("c").is_none());
    }

    #[test]
    fn folded_strings_record_what_go_yaml_reads_back_after_writing_them() {
        // Observed with kubectl kustomize: the value after kustomize's YAML round trip.
        let cases = [
            ("x\n  y\nz\n\n  w\n", Some("x\n\n  y\nz\n\n\n  w\n")),
            (" lead\nx y\nz\n", Some(" lead\nx y z\n")),
            ("x\n\n", Some("x\n\n\n")),
            ("x\ny\n", None),
            ("x\n  y", Some("x\n\n  y")),
            ("x \n  y\n", None),
            ("x\n\n\n  y\n", Some("x\n\n\n\n  y\n")),
            ("  y\nx\n", None),
            ("one line\n", None),
        ];
        for (value, expected) in cases {
            assert_eq!(folded_round_trip(value).as_deref(), expected, "{value:?}");
        }
        let value = parse_single_document("a: >\n  x\n    y\nb: >\n  x\n  y\n").expect("valid");
        let mapping = value.as_mapping().expect("mapping");
        let a = mapping.written("a").expect("recorded");
        assert!(a.folded);
        assert_eq!(a.text, "x\n\n  y\n");
        assert_eq!(mapping.get("a"), Some(&Value::string("x\n  y\n")));
        assert_eq!(mapping.node_text("a").as_deref(), Some("x\n  y\n"));
        assert!(mapping.written("b").is_none());
    }

    #[test]
    fn an_error_at_the_end_of_the_input_names_the_last_line() {
        let text = "images:\n  - name: [bad\n";
        let error = parse_documents(text).expect_err("unclosed flow sequence");
        assert_eq!((error.line, error.column), (2, 15), "{error}");
    }
}
