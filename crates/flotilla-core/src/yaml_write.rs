//! Writing `Value`s as YAML exactly as `kubectl kustomize` prints them.
//!
//! kustomize encodes each resource to JSON and then to YAML with go-yaml v2
//! (`sigs.k8s.io/yaml.JSONToYAML`). The result: keys in go-yaml's natural order, numbers as
//! `encoding/json` leaves them, strings quoted exactly when go-yaml v2 would misread them plain,
//! multi-line strings as literal blocks, long lines folded after column 80, two-space indentation
//! with sequences inside mappings not indented. This module is a faithful port of the behaviour
//! of that emitter (libyaml's algorithm as go-yaml carries it), not of its code.
//!
//! Invariant: output is deterministic and ends with a newline; `write_documents` separates
//! documents with `---\n` as kustomize does.

use crate::go_format::{
    float_after_json_round_trip, is_go_yaml_timestamp, natural_key_cmp, v2_string_needs_quotes,
};
use crate::value::{Number, Value};

/// Line width after which the emitter folds plain and quoted scalars.
const BEST_WIDTH: usize = 80;
/// Indentation step.
const BEST_INDENT: i32 = 2;
/// Longest key written as a simple `key: value`; longer keys use the `? key` form.
const SIMPLE_KEY_LIMIT: usize = 128;

/// A value the output format cannot represent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    #[error("json: unsupported value: {value} (at `{path}`)")]
    UnsupportedNumber { value: String, path: String },
}

/// Writes documents separated by `---\n`, as `kustomize build` does.
pub fn write_documents<'a>(
    documents: impl IntoIterator<Item = &'a Value>,
) -> Result<String, WriteError> {
    let documents = documents.into_iter();
    // Room for typical documents up front (pages never written cost nothing), rather than
    // copying the whole output each time it doubles.
    let mut out = String::with_capacity(documents.size_hint().0.saturating_mul(512).min(1 << 28));
    for (index, document) in documents.enumerate() {
        if index > 0 {
            out.push_str("---\n");
        }
        out = emit(document, out)?;
    }
    Ok(out)
}

/// Writes one document (no leading `---`), ending with a newline.
pub fn write_document(document: &Value) -> Result<String, WriteError> {
    emit(document, String::with_capacity(256))
}

/// Appends one document to `out`.
fn emit(document: &Value, out: String) -> Result<String, WriteError> {
    if has_non_finite_number(document) {
        check_numbers(document, &mut Vec::new())?;
    }
    let mut emitter = Emitter {
        out,
        column: 0,
        whitespace: true,
        indention: true,
        indent: -1,
        indents: Vec::new(),
        flow_level: 0,
    };
    emitter.node(document, Context::Root);
    emitter.write_indent();
    Ok(emitter.out)
}

/// Whether a NaN or an infinity is anywhere in `value` (rare: only then is the path to it
/// worked out, by `check_numbers`).
fn has_non_finite_number(value: &Value) -> bool {
    match value {
        Value::Number(Number::Float(float)) => !float.is_finite(),
        Value::Sequence(items) => items.iter().any(has_non_finite_number),
        Value::Mapping(mapping) => mapping.values().any(has_non_finite_number),
        _ => false,
    }
}

fn check_numbers(value: &Value, path: &mut Vec<String>) -> Result<(), WriteError> {
    match value {
        Value::Number(Number::Float(float)) if !float.is_finite() => {
            let text = if float.is_nan() {
                "NaN"
            } else if *float > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            };
            Err(WriteError::UnsupportedNumber {
                value: text.to_string(),
                path: path.join("."),
            })
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter().enumerate() {
                path.push(index.to_string());
                check_numbers(item, path)?;
                path.pop();
            }
            Ok(())
        }
        Value::Mapping(mapping) => {
            for (key, item) in mapping.iter() {
                path.push(key.clone());
                check_numbers(item, path)?;
                path.pop();
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Context {
    Root,
    SequenceItem,
    MappingValue,
    SimpleKey,
    ComplexKey,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// What the emitter learns from scanning a scalar before choosing its style.
struct ScalarAnalysis {
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    indent: i32,
    indents: Vec<i32>,
    flow_level: usize,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// go-yaml's `is_printable`, which notably excludes tab, CR and every character outside the
/// Basic Multilingual Plane.
fn is_printable(c: char) -> bool {
    let v = c as u32;
    v == 0x0A
        || (0x20..=0x7E).contains(&v)
        || (0xA0..=0xD7FF).contains(&v)
        || ((0xE000..=0xFFFD).contains(&v) && v != 0xFEFF)
}

fn analyze(value: &str) -> ScalarAnalysis {
    if value.is_empty() {
        return ScalarAnalysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = false;
    let mut flow_indicators = false;
    if value.starts_with("---") || value.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut line_breaks = false;
    let mut special_characters = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut preceded_by_whitespace = true;
    let mut previous_space = false;
    let mut previous_break = false;

    let mut chars = value.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let is_first = std::mem::replace(&mut first, false);
        let is_last = next.is_none();
        let followed_by_whitespace = next.is_none_or(is_blank);
        if is_first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) {
            special_characters = true;
        }
        if c == ' ' {
            if is_first {
                leading_space = true;
            }
            if is_last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if is_first {
                leading_break = true;
            }
            if is_last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank(c) || is_break(c);
    }

    let mut analysis = ScalarAnalysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        analysis.flow_plain_allowed = false;
        analysis.block_plain_allowed = false;
    }
    if trailing_space {
        analysis.block_allowed = false;
    }
    if break_space {
        analysis.flow_plain_allowed = false;
        analysis.block_plain_allowed = false;
        analysis.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        analysis.flow_plain_allowed = false;
        analysis.block_plain_allowed = false;
        analysis.single_quoted_allowed = false;
        analysis.block_allowed = false;
    }
    if line_breaks {
        analysis.flow_plain_allowed = false;
        analysis.block_plain_allowed = false;
    }
    if flow_indicators {
        analysis.flow_plain_allowed = false;
    }
    if block_indicators {
        analysis.block_plain_allowed = false;
    }
    analysis
}

/// The style go-yaml v2's encoder asks for: literal for multi-line strings, double quotes for
/// strings that would read back as another type, plain otherwise.
fn requested_style_for_string(text: &str) -> Style {
    if text.contains('\n') {
        Style::Literal
    } else if v2_string_needs_quotes(text) {
        Style::DoubleQuoted
    } else {
        Style::Plain
    }
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().expect("indent pushed before popped");
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn node(&mut self, value: &Value, context: Context) {
        match value {
            Value::Mapping(mapping) if !mapping.is_empty() => {
                if self.flow_level > 0 {
                    unreachable!("the emitter only produces flow collections when empty");
                }
                self.block_mapping(value);
            }
            Value::Mapping(_) => self.empty_flow_collection("{", "}"),
            Value::Sequence(items) if !items.is_empty() => {
                self.block_sequence(items, context == Context::MappingValue);
            }
            Value::Sequence(_) => self.empty_flow_collection("[", "]"),
            Value::Null => self.scalar("null", Style::Plain, context),
            Value::Bool(value) => {
                self.scalar(if *value { "true" } else { "false" }, Style::Plain, context)
            }
            Value::Number(Number::Float(float)) => {
                let text = float_after_json_round_trip(*float).unwrap_or_default();
                self.scalar(&text, Style::Plain, context)
            }
            Value::Number(number) => self.scalar(&number.to_string(), Style::Plain, context),
            Value::String(text) => self.scalar(text, requested_style_for_string(text), context),
            Value::Timestamp(text) => {
                let normalized = is_go_yaml_timestamp(text).unwrap_or_else(|| text.clone());
                self.scalar(
                    &normalized,
                    requested_style_for_string(&normalized),
                    context,
                )
            }
        }
    }

    fn empty_flow_collection(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        self.flow_level -= 1;
        self.pop_indent();
        self.write_indicator(close, false, false, false);
    }

    fn block_sequence(&mut self, items: &[Value], mapping_context: bool) {
        self.increase_indent(false, mapping_context && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::SequenceItem);
        }
        self.pop_indent();
    }

    fn block_mapping(&mut self, value: &Value) {
        let Value::Mapping(mapping) = value else {
            unreachable!("block_mapping is called with mappings");
        };
        let mut entries: Vec<(&String, &Value)> = mapping.iter().collect();
        entries.sort_by(|a, b| natural_key_cmp(a.0, b.0));
        self.increase_indent(false, false);
        for (key, item) in entries {
            self.write_indent();
            let key_analysis = analyze(key);
            if !key_analysis.multiline && key.len() <= SIMPLE_KEY_LIMIT {
                self.analyzed_scalar(
                    key,
                    &key_analysis,
                    requested_style_for_string(key),
                    Context::SimpleKey,
                );
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.analyzed_scalar(
                    key,
                    &key_analysis,
                    requested_style_for_string(key),
                    Context::ComplexKey,
                );
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(item, Context::MappingValue);
        }
        self.pop_indent();
    }

    fn scalar(&mut self, text: &str, requested: Style, context: Context) {
        self.analyzed_scalar(text, &analyze(text), requested, context);
    }

    fn analyzed_scalar(
        &mut self,
        text: &str,
        analysis: &ScalarAnalysis,
        requested: Style,
        context: Context,
    ) {
        let simple_key = context == Context::SimpleKey;
        let mut style = requested;
        if simple_key && analysis.multiline {
            style = Style::DoubleQuoted;
        }
        if style == Style::Plain {
            let plain_allowed = if self.flow_level > 0 {
                analysis.flow_plain_allowed
            } else {
                analysis.block_plain_allowed
            };
            if !plain_allowed || (text.is_empty() && (self.flow_level > 0 || simple_key)) {
                style = Style::SingleQuoted;
            }
        }
        if style == Style::SingleQuoted && !analysis.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if style == Style::Literal && (!analysis.block_allowed || self.flow_level > 0 || simple_key)
        {
            style = Style::DoubleQuoted;
        }
        self.increase_indent(true, false);
        let allow_breaks = !simple_key;
        match style {
            Style::Plain => self.write_plain(text, allow_breaks),
            Style::SingleQuoted => self.write_single_quoted(text, allow_breaks),
            Style::DoubleQuoted => self.write_double_quoted(text, allow_breaks),
            Style::Literal => self.write_literal(text),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, text: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        // Most scalars are one word on one line: written as they are.
        if !text
            .bytes()
            .any(|b| b == b' ' || b == b'\r' || b == b'\n' || b >= 0x80)
        {
            self.out.push_str(text);
            self.column += text.len();
            self.whitespace = false;
            self.indention = false;
            return;
        }
        let mut chars = text.chars().peekable();
        let mut spaces = false;
        let mut breaks = false;
        while let Some(c) = chars.next() {
            if c == ' ' {
                let next_is_space = chars.peek() == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_is_space {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let mut chars = text.chars().peekable();
        let mut first = true;
        let mut spaces = false;
        let mut breaks = false;
        while let Some(c) = chars.next() {
            let is_first = std::mem::replace(&mut first, false);
            if c == ' ' {
                let next_is_space = chars.peek() == Some(&' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && !is_first
                    && chars.peek().is_some()
                    && !next_is_space
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let mut chars = text.chars().peekable();
        let mut first = true;
        let mut spaces = false;
        while let Some(c) = chars.next() {
            let is_first = std::mem::replace(&mut first, false);
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\u{7}' => self.put('a'),
                    '\u{8}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{b}' => self.put('v'),
                    '\u{c}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1b}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{A0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    _ => {
                        let v = c as u32;
                        let (prefix, width) = if v <= 0xFF {
                            ('x', 2)
                        } else if v <= 0xFFFF {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(prefix);
                        for digit in format!("{v:0width$X}").chars() {
                            self.put(digit);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && !is_first
                    && chars.peek().is_some()
                {
                    self.write_indent();
                    if chars.peek() == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, text: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints: an indentation indicator when the text starts with a space or a
        // break, and a chomping indicator from how the text ends.
        let first = text.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            self.write_indicator(&BEST_INDENT.to_string(), false, false, false);
        }
        let mut reversed = text.chars().rev();
        let chomp = match (reversed.next(), reversed.next()) {
            (None, _) => Some("-"),
            (Some(last), _) if !is_break(last) => Some("-"),
            (Some(_), None) => Some("+"),
            (Some(_), Some(previous)) if is_break(previous) => Some("+"),
            _ => None,
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in text.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml_read::parse_single_document;

    fn round_trip(input: &str) -> String {
        write_document(&parse_single_document(input).expect("valid yaml")).expect("writable")
    }

    #[test]
    fn sorts_keys_and_indents_like_kustomize() {
        assert_eq!(
            round_trip("kind: A\nspec:\n  list:\n  - b: 1\n    a: [x, y]\n  - - nested\n  empty: {}\n"),
            "kind: A\nspec:\n  empty: {}\n  list:\n  - a:\n    - x\n    - \"y\"\n    b: 1\n  - - nested\n"
        );
    }

    #[test]
    fn quotes_what_go_yaml_v2_would_misread() {
        assert_eq!(
            round_trip("a: 'yes'\nb: ''\nc: '*x'\nd: \"a\\tb\"\n"),
            "a: \"yes\"\nb: \"\"\nc: '*x'\nd: \"a\\tb\"\n"
        );
    }

    #[test]
    fn literal_blocks_and_hints() {
        assert_eq!(
            round_trip("a: \"x\\n\\n\"\nb: \"\\nx\"\n"),
            "a: |+\n  x\n\nb: |2-\n\n  x\n"
        );
    }
}
