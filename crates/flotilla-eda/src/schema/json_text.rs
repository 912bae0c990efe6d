//! JSON read with positions, for Avro schemas and JSON Schemas: every value remembers the line
//! and column it starts at, so that an error about a schema names where in the file it is.
//! Objects keep their members in document order; a repeated key is kept twice and [`Node::get`]
//! answers the last one, as Jackson (the registries' parser) does. Nesting is bounded
//! ([`MAX_DEPTH`]) and so is the text ([`MAX_TEXT`]), so no input makes the reader recurse
//! without end.

use std::borrow::Cow;
use std::fmt;

/// The deepest nesting of arrays and objects read.
pub const MAX_DEPTH: usize = 256;
/// The longest schema text read (64 MiB, as every file flotilla reads).
pub const MAX_TEXT: usize = 64 << 20;

/// A position in the text, 1-based.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// A JSON value and where it starts. Strings, member names and numbers borrow from the text
/// they were read from unless an escape had to be decoded.
#[derive(Clone, Debug)]
pub struct Node<'a> {
    pub value: Value<'a>,
    pub position: Position,
}

#[derive(Clone, Debug)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// The number as written (`1`, `-2.5e3`).
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// The member `key` of an object (the last one when it is repeated).
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        match &self.value {
            Value::Object(members) => members
                .iter()
                .rev()
                .find(|(name, _)| name == key)
                .map(|(_, node)| node),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Node<'a>]> {
        match &self.value {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(Cow<'a, str>, Node<'a>)]> {
        match &self.value {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// A number written without fraction or exponent, when it fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Value::Number(text) if is_integral(text) => text.parse().ok(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match &self.value {
            Value::Number(text) => text.parse().ok(),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The name of this value's JSON type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// The value as `serde_json` holds it (positions dropped).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(value) => serde_json::Value::Bool(*value),
            Value::Number(text) => serde_json::from_str(text).unwrap_or(serde_json::Value::Null),
            Value::String(text) => serde_json::Value::String(text.to_string()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Object(members) => {
                let mut object = serde_json::Map::new();
                for (name, node) in members {
                    object.insert(name.to_string(), node.to_json());
                }
                serde_json::Value::Object(object)
            }
        }
    }
}

fn is_integral(text: &str) -> bool {
    !text.contains(['.', 'e', 'E'])
}

/// Why a text is not JSON, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub position: Position,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

/// Reads one JSON document.
pub fn parse(text: &str) -> Result<Node<'_>, SyntaxError> {
    if text.len() > MAX_TEXT {
        return Err(SyntaxError {
            position: Position { line: 1, column: 1 },
            message: format!("the text is larger than {} bytes", MAX_TEXT),
        });
    }
    let mut reader = Reader {
        bytes: text.as_bytes(),
        text,
        offset: 0,
        line: 1,
        line_start: 0,
        column_mark: std::cell::Cell::new((0, 0)),
        ascii: text.is_ascii(),
    };
    reader.skip_space();
    let node = reader.value(0).map_err(|error| *error)?;
    reader.skip_space();
    if reader.offset < reader.bytes.len() {
        return Err(*reader.error("unexpected text after the JSON value"));
    }
    Ok(node)
}

/// What the reader's steps answer: the error boxed, so that a step's result is little more than
/// its value (results are moved up every level of nesting).
type Read<T> = Result<T, Box<SyntaxError>>;

struct Reader<'a> {
    bytes: &'a [u8],
    text: &'a str,
    offset: usize,
    line: u32,
    line_start: usize,
    /// Where the column was last counted: the offset and its 0-based column.
    column_mark: std::cell::Cell<(usize, usize)>,
    /// Whether the text is ASCII: columns are then byte distances, counted without decoding.
    ascii: bool,
}

impl<'a> Reader<'a> {
    /// The current position; the column is counted in characters, from where the last count
    /// stopped on the same line, so a long minified line costs no more than once.
    fn position(&self) -> Position {
        if self.ascii {
            return Position {
                line: self.line,
                column: u32::try_from(self.offset - self.line_start + 1).unwrap_or(u32::MAX),
            };
        }
        let (mut from, mut column) = self.column_mark.get();
        if from < self.line_start || from > self.offset {
            from = self.line_start;
            column = 0;
        }
        column += self.text[from..self.offset].chars().count();
        self.column_mark.set((self.offset, column));
        Position {
            line: self.line,
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }

    fn error(&self, message: impl Into<String>) -> Box<SyntaxError> {
        Box::new(SyntaxError {
            position: self.position(),
            message: message.into(),
        })
    }

    fn skip_space(&mut self) {
        while let Some(&byte) = self.bytes.get(self.offset) {
            match byte {
                b'\n' => {
                    self.offset += 1;
                    self.line += 1;
                    self.line_start = self.offset;
                }
                b' ' | b'\t' | b'\r' => self.offset += 1,
                _ => break,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Read<Node<'a>> {
        let position = self.position();
        let value = match self.bytes.get(self.offset) {
            None => return Err(self.error("unexpected end of text, a value was expected")),
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
                }
                self.object(depth)?
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
                }
                self.array(depth)?
            }
            Some(b'"') => Value::String(self.string()?),
            Some(b't') => self.word("true", Value::Bool(true))?,
            Some(b'f') => self.word("false", Value::Bool(false))?,
            Some(b'n') => self.word("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => {
                let found = self.text[self.offset..].chars().next().unwrap_or(' ');
                return Err(self.error(format!("unexpected character `{found}`")));
            }
        };
        Ok(Node { value, position })
    }

    fn word(&mut self, word: &str, value: Value<'a>) -> Read<Value<'a>> {
        if self.text[self.offset..].starts_with(word) {
            self.offset += word.len();
            Ok(value)
        } else {
            Err(self.error("unexpected word, a value was expected"))
        }
    }

    fn number(&mut self) -> Read<Value<'a>> {
        let start = self.offset;
        let digits = |reader: &mut Self| {
            let from = reader.offset;
            while matches!(reader.bytes.get(reader.offset), Some(b'0'..=b'9')) {
                reader.offset += 1;
            }
            reader.offset > from
        };
        if self.bytes.get(self.offset) == Some(&b'-') {
            self.offset += 1;
        }
        if !digits(self) {
            return Err(self.error("a digit was expected"));
        }
        if self.bytes.get(self.offset) == Some(&b'.') {
            self.offset += 1;
            if !digits(self) {
                return Err(self.error("a digit was expected after `.`"));
            }
        }
        if matches!(self.bytes.get(self.offset), Some(b'e' | b'E')) {
            self.offset += 1;
            if matches!(self.bytes.get(self.offset), Some(b'+' | b'-')) {
                self.offset += 1;
            }
            if !digits(self) {
                return Err(self.error("a digit was expected in the exponent"));
            }
        }
        Ok(Value::Number(Cow::Borrowed(&self.text[start..self.offset])))
    }

    fn string(&mut self) -> Read<Cow<'a, str>> {
        self.offset += 1;
        let first = self.offset;
        while let Some(&byte) = self.bytes.get(self.offset) {
            if byte == b'"' || byte == b'\\' || byte < 0x20 {
                break;
            }
            self.offset += 1;
        }
        // Without escapes (most strings) the text itself is the string.
        if self.bytes.get(self.offset) == Some(&b'"') {
            self.offset += 1;
            return Ok(Cow::Borrowed(&self.text[first..self.offset - 1]));
        }
        let mut out = self.text[first..self.offset].to_string();
        loop {
            let start = self.offset;
            while let Some(&byte) = self.bytes.get(self.offset) {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.offset += 1;
            }
            out.push_str(&self.text[start..self.offset]);
            match self.bytes.get(self.offset) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.offset += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.offset += 1;
                    let escape = self.bytes.get(self.offset).copied();
                    self.offset += 1;
                    match escape {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let first = self.hex4()?;
                            let character = if (0xD800..0xDC00).contains(&first) {
                                if !self.text[self.offset..].starts_with("\\u") {
                                    return Err(self.error("unpaired surrogate in \\u escape"));
                                }
                                self.offset += 2;
                                let second = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&second) {
                                    return Err(self.error("unpaired surrogate in \\u escape"));
                                }
                                char::from_u32(
                                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00),
                                )
                            } else {
                                char::from_u32(first)
                            };
                            match character {
                                Some(character) => out.push(character),
                                None => return Err(self.error("invalid \\u escape")),
                            }
                        }
                        _ => return Err(self.error("invalid escape in string")),
                    }
                }
                Some(_) => return Err(self.error("control character in string")),
            }
        }
    }

    fn hex4(&mut self) -> Read<u32> {
        let digits = self
            .text
            .get(self.offset..self.offset + 4)
            .filter(|digits| digits.bytes().all(|byte| byte.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("four hex digits expected after \\u"))?;
        self.offset += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.error("invalid \\u escape"))
    }

    fn array(&mut self, depth: usize) -> Read<Value<'a>> {
        self.offset += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.bytes.get(self.offset) == Some(&b']') {
            self.offset += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_space();
            items.push(self.value(depth + 1)?);
            self.skip_space();
            match self.bytes.get(self.offset) {
                Some(b',') => self.offset += 1,
                Some(b']') => {
                    self.offset += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("`,` or `]` expected in array")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Read<Value<'a>> {
        self.offset += 1;
        let mut members = Vec::new();
        self.skip_space();
        if self.bytes.get(self.offset) == Some(&b'}') {
            self.offset += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_space();
            if self.bytes.get(self.offset) != Some(&b'"') {
                return Err(self.error("a quoted member name expected in object"));
            }
            let name = self.string()?;
            self.skip_space();
            if self.bytes.get(self.offset) != Some(&b':') {
                return Err(self.error("`:` expected after a member name"));
            }
            self.offset += 1;
            self.skip_space();
            let value = self.value(depth + 1)?;
            members.push((name, value));
            self.skip_space();
            match self.bytes.get(self.offset) {
                Some(b',') => self.offset += 1,
                Some(b'}') => {
                    self.offset += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error("`,` or `}` expected in object")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_errors() {
        let node = parse("{\n  \"a\": [1, 2.5],\n  \"b\": \"x\\u00e9\"\n}").expect("valid");
        let a = node.get("a").expect("a");
        assert_eq!(a.position, Position { line: 2, column: 8 });
        assert_eq!(a.as_array().map(<[Node]>::len), Some(2));
        assert_eq!(node.get("b").and_then(Node::as_str), Some("xé"));
        let error = parse("{\n \"a\": tru }").expect_err("invalid");
        assert_eq!(error.position.line, 2);
        let deep = "[".repeat(MAX_DEPTH + 5);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn columns_count_characters_in_ascii_and_other_text() {
        // ASCII text counts columns by bytes; other text by characters, on every line.
        let ascii = parse("{\"a\": 1,\n \"b\": [true, x]}").expect_err("invalid");
        assert_eq!(
            ascii.position,
            Position {
                line: 2,
                column: 14
            }
        );
        let accented = parse("{\"é\": 1,\n \"ü\": [true, x]}").expect_err("invalid");
        assert_eq!(
            accented.position,
            Position {
                line: 2,
                column: 14
            }
        );
        let first_line = parse("{\"éé\": [1, x]}").expect_err("invalid");
        assert_eq!(
            first_line.position,
            Position {
                line: 1,
                column: 12
            }
        );
    }
}
