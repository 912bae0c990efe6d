//! Protobuf: `.proto` files (proto2, proto3, editions) read by a small parser, and two
//! versions compared as Confluent Schema Registry's `ProtobufSchema` diff compares them:
//!
//! - the package must not change (`PACKAGE_CHANGED`);
//! - messages and enums are matched by name in each scope: a message removed is
//!   `MESSAGE_REMOVED`; added, moved or reordered messages, enums added or removed and enum
//!   constants added, removed or renamed are compatible;
//! - fields are matched by number, never by name: a field removed or added is compatible
//!   (`FIELD_REMOVED`, `FIELD_ADDED`) unless it is `required` (`REQUIRED_FIELD_REMOVED`,
//!   `REQUIRED_FIELD_ADDED`); a rename is compatible (`FIELD_NAME_CHANGED`); a change between
//!   scalar, message and map kinds is `FIELD_KIND_CHANGED`; scalars must stay in one
//!   wire-compatible group (`int32 uint32 int64 uint64 bool` and enums; `sint32 sint64`;
//!   `fixed32 sfixed32`; `fixed64 sfixed64`; `string bytes`; `float`; `double`), else
//!   `FIELD_SCALAR_KIND_CHANGED`; a message field must keep its message type, by name relative
//!   to its package (`FIELD_NAMED_TYPE_CHANGED`), an imported type whose file changed being
//!   compared field by field; map keys and values compare as fields; a label written on both
//!   sides and changed is `FIELD_NUMERIC_LABEL_CHANGED` for numbers, compatible for strings and
//!   bytes (labels left implicit on one side are not compared, as Confluent does);
//! - oneofs: a member removed while its oneof survives is `ONEOF_FIELD_REMOVED`; fields that
//!   were independent (top-level or from different oneofs) brought into one oneof are
//!   `MULTIPLE_FIELDS_MOVED_TO_ONEOF` or `FIELD_MOVED_TO_EXISTING_ONEOF`; oneofs added, removed
//!   or renamed, members added, a member moved out to the top level, and a oneof removed with
//!   all its members are compatible.
//!
//! Parse errors and types or imports that do not resolve name the file, line and column.
//! Imports come from [`SchemaText::references`] by the path written in the `import`; the
//! well-known `google/protobuf/*.proto` types are built in.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::json_text::Position;
use super::{Problem, Roles, SchemaError, SchemaText};

/// How deep messages nest, and imports chain, before the parser refuses them.
const MAX_NESTING: usize = 64;
const MAX_TEXT: usize = 64 << 20;

const SCALARS: &[&str] = &[
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32",
    "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
];

/// The well-known types Confluent and protoc know without an import being given.
const WELL_KNOWN: &[(&str, &str)] = &[
    ("google/protobuf/timestamp.proto", "syntax = \"proto3\"; package google.protobuf; message Timestamp { int64 seconds = 1; int32 nanos = 2; }"),
    ("google/protobuf/duration.proto", "syntax = \"proto3\"; package google.protobuf; message Duration { int64 seconds = 1; int32 nanos = 2; }"),
    ("google/protobuf/any.proto", "syntax = \"proto3\"; package google.protobuf; message Any { string type_url = 1; bytes value = 2; }"),
    ("google/protobuf/empty.proto", "syntax = \"proto3\"; package google.protobuf; message Empty {}"),
    ("google/protobuf/field_mask.proto", "syntax = \"proto3\"; package google.protobuf; message FieldMask { repeated string paths = 1; }"),
    ("google/protobuf/struct.proto", "syntax = \"proto3\"; package google.protobuf; message Struct { map<string, Value> fields = 1; } message Value { oneof kind { NullValue null_value = 1; double number_value = 2; string string_value = 3; bool bool_value = 4; Struct struct_value = 5; ListValue list_value = 6; } } enum NullValue { NULL_VALUE = 0; } message ListValue { repeated Value values = 1; }"),
    ("google/protobuf/wrappers.proto", "syntax = \"proto3\"; package google.protobuf; message DoubleValue { double value = 1; } message FloatValue { float value = 1; } message Int64Value { int64 value = 1; } message UInt64Value { uint64 value = 1; } message Int32Value { int32 value = 1; } message UInt32Value { uint32 value = 1; } message BoolValue { bool value = 1; } message StringValue { string value = 1; } message BytesValue { bytes value = 1; }"),
    ("google/type/date.proto", "syntax = \"proto3\"; package google.type; message Date { int32 year = 1; int32 month = 2; int32 day = 3; }"),
    ("google/type/timeofday.proto", "syntax = \"proto3\"; package google.type; message TimeOfDay { int32 hours = 1; int32 minutes = 2; int32 seconds = 3; int32 nanos = 4; }"),
    ("google/type/decimal.proto", "syntax = \"proto3\"; package google.type; message Decimal { string value = 1; }"),
    ("confluent/meta.proto", "syntax = \"proto3\"; package confluent; message Meta { string doc = 1; map<string, string> params = 2; repeated string tags = 3; }"),
    ("confluent/type/decimal.proto", "syntax = \"proto3\"; package confluent.type; message Decimal { bytes value = 1; uint32 precision = 2; int32 scale = 3; }"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Optional,
    Required,
    Repeated,
}

impl Label {
    fn as_str(self) -> &'static str {
        match self {
            Label::Optional => "optional",
            Label::Required => "required",
            Label::Repeated => "repeated",
        }
    }
}

#[derive(Clone, Debug)]
struct Field {
    name: String,
    number: i64,
    label: Option<Label>,
    /// The type as written (`int32`, `.pkg.Msg`, `map<string, Msg>`).
    type_name: String,
    position: Position,
}

#[derive(Clone, Debug)]
struct Oneof {
    name: String,
    fields: Vec<Field>,
}

#[derive(Clone, Debug, Default)]
struct Message {
    name: String,
    fields: Vec<Field>,
    oneofs: Vec<Oneof>,
    messages: Vec<usize>,
    enums: Vec<usize>,
}

#[derive(Clone, Debug, Default)]
struct EnumDef {
    name: String,
    values: Vec<(String, i64)>,
}

/// Where a type was defined: the file itself, or an import (its path and text).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Origin {
    Local,
    Import(String, String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TypeKind {
    Message(usize),
    Enum(usize),
}

#[derive(Clone, Debug)]
struct TypeInfo {
    kind: TypeKind,
    package: String,
    origin: Origin,
}

/// A parsed `.proto` file with its imports.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    file: String,
    package: String,
    messages: Vec<Message>,
    enums: Vec<EnumDef>,
    /// The file's own top-level messages and enums, in order.
    top_messages: Vec<usize>,
    top_enums: Vec<usize>,
    /// Every type of the file and its imports, by full name (`pkg.Outer.Inner`).
    types: HashMap<String, TypeInfo>,
}

impl Schema {
    /// Parses a `.proto` file and the files it imports.
    pub fn parse(text: &SchemaText) -> Result<Schema, SchemaError> {
        let mut schema = Schema::default();
        let file = parse_file(&text.name, &text.text)?;
        let mut loaded = HashSet::new();
        for (import, position) in &file.imports {
            schema.load_import(text, import, *position, &text.name, &mut loaded, 0)?;
        }
        let (top_messages, top_enums) = schema.add_file(&file, Origin::Local);
        schema.package = file.package.clone();
        schema.file = text.name.clone();
        schema.top_messages = top_messages;
        schema.top_enums = top_enums;
        schema.check_types(&text.name, &file)?;
        Ok(schema)
    }

    fn load_import(
        &mut self,
        root: &SchemaText,
        import: &str,
        position: Position,
        importer: &str,
        loaded: &mut HashSet<String>,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if !loaded.insert(import.to_string()) {
            return Ok(());
        }
        if depth > MAX_NESTING {
            return Err(SchemaError::new(
                importer,
                position,
                format!("imports chain deeper than {MAX_NESTING} files"),
            ));
        }
        let given = root.references.iter().find(|reference| {
            reference.name == import || reference.name.ends_with(&format!("/{import}"))
        });
        let (name, text) = match given {
            Some(reference) => (reference.name.clone(), reference.text.clone()),
            None => match WELL_KNOWN.iter().find(|(path, _)| *path == import) {
                Some((path, text)) => (path.to_string(), text.to_string()),
                None => {
                    return Err(SchemaError::new(
                        importer,
                        position,
                        format!(
                        "import \"{import}\" does not resolve (it is not among the given files)"
                    ),
                    ))
                }
            },
        };
        let file = parse_file(&name, &text)?;
        for (nested, nested_position) in &file.imports {
            self.load_import(root, nested, *nested_position, &name, loaded, depth + 1)?;
        }
        self.add_file(&file, Origin::Import(import.to_string(), text));
        Ok(())
    }

    /// Adds a file's messages and enums to the arenas and the type table.
    fn add_file(&mut self, file: &File, origin: Origin) -> (Vec<usize>, Vec<usize>) {
        let mut top_messages = Vec::new();
        let mut top_enums = Vec::new();
        for message in &file.messages {
            top_messages.push(self.add_message(message, &file.package, &file.package, &origin));
        }
        for definition in &file.enums {
            top_enums.push(self.add_enum(definition, &file.package, &file.package, &origin));
        }
        (top_messages, top_enums)
    }

    fn qualify(scope: &str, name: &str) -> String {
        if scope.is_empty() {
            name.to_string()
        } else {
            format!("{scope}.{name}")
        }
    }

    fn add_message(
        &mut self,
        message: &ParsedMessage,
        scope: &str,
        package: &str,
        origin: &Origin,
    ) -> usize {
        let full = Self::qualify(scope, &message.name);
        let index = self.messages.len();
        self.messages.push(Message {
            name: message.name.clone(),
            fields: message.fields.clone(),
            oneofs: message.oneofs.clone(),
            ..Message::default()
        });
        self.types.insert(
            full.clone(),
            TypeInfo {
                kind: TypeKind::Message(index),
                package: package.to_string(),
                origin: origin.clone(),
            },
        );
        let mut nested_messages = Vec::new();
        for nested in &message.messages {
            nested_messages.push(self.add_message(nested, &full, package, origin));
        }
        let mut nested_enums = Vec::new();
        for nested in &message.enums {
            nested_enums.push(self.add_enum(nested, &full, package, origin));
        }
        self.messages[index].messages = nested_messages;
        self.messages[index].enums = nested_enums;
        index
    }

    fn add_enum(
        &mut self,
        definition: &EnumDef,
        scope: &str,
        package: &str,
        origin: &Origin,
    ) -> usize {
        let index = self.enums.len();
        self.enums.push(definition.clone());
        self.types.insert(
            Self::qualify(scope, &definition.name),
            TypeInfo {
                kind: TypeKind::Enum(index),
                package: package.to_string(),
                origin: origin.clone(),
            },
        );
        index
    }

    /// protoc's scoping: a relative name is looked up from the innermost scope outwards.
    fn resolve_in_scope(&self, scope: &str, name: &str) -> Option<String> {
        if let Some(absolute) = name.strip_prefix('.') {
            return self
                .types
                .contains_key(absolute)
                .then(|| absolute.to_string());
        }
        let mut scope = scope.to_string();
        loop {
            let candidate = Self::qualify(&scope, name);
            if self.types.contains_key(&candidate) {
                return Some(candidate);
            }
            if scope.is_empty() {
                return None;
            }
            scope = scope
                .rsplit_once('.')
                .map(|(outer, _)| outer.to_string())
                .unwrap_or_default();
        }
    }

    /// Every field's named type must resolve, as protoc and the registry require.
    fn check_types(&self, file_name: &str, file: &File) -> Result<(), SchemaError> {
        fn walk(
            schema: &Schema,
            file_name: &str,
            message: &ParsedMessage,
            scope: &str,
        ) -> Result<(), SchemaError> {
            let full = Schema::qualify(scope, &message.name);
            let fields = message
                .fields
                .iter()
                .chain(message.oneofs.iter().flat_map(|oneof| oneof.fields.iter()));
            for field in fields {
                for type_name in field_types(&field.type_name) {
                    if SCALARS.contains(&type_name.as_str()) {
                        continue;
                    }
                    if schema.resolve_in_scope(&full, &type_name).is_none() {
                        return Err(SchemaError::new(
                            file_name,
                            field.position,
                            format!(
                                "type \"{type_name}\" of field {} does not resolve",
                                field.name
                            ),
                        ));
                    }
                }
            }
            for nested in &message.messages {
                walk(schema, file_name, nested, &full)?;
            }
            Ok(())
        }
        for message in &file.messages {
            walk(self, file_name, message, &file.package)?;
        }
        Ok(())
    }
}

/// The types a field's type names: itself, or a map's key and value.
fn field_types(type_name: &str) -> Vec<String> {
    match map_parts(type_name) {
        Some((key, value)) => vec![key, value],
        None => vec![type_name.to_string()],
    }
}

fn map_parts(type_name: &str) -> Option<(String, String)> {
    let inner = type_name.strip_prefix("map<")?.strip_suffix('>')?;
    let (key, value) = inner.split_once(',')?;
    Some((key.trim().to_string(), value.trim().to_string()))
}

// ---------------------------------------------------------------------------------------------
// The parser.

#[derive(Clone, Debug, Default)]
struct ParsedMessage {
    name: String,
    fields: Vec<Field>,
    oneofs: Vec<Oneof>,
    messages: Vec<ParsedMessage>,
    enums: Vec<EnumDef>,
}

#[derive(Clone, Debug, Default)]
struct File {
    package: String,
    imports: Vec<(String, Position)>,
    messages: Vec<ParsedMessage>,
    enums: Vec<EnumDef>,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Int(String),
    Float(String),
    Str(String),
    Symbol(char),
    End,
}

struct Lexer<'a> {
    file: &'a str,
    text: &'a str,
    bytes: &'a [u8],
    offset: usize,
    line: u32,
    line_start: usize,
    /// Where the column was last counted: the offset and its 0-based column.
    column_mark: std::cell::Cell<(usize, usize)>,
}

impl Lexer<'_> {
    /// The current position; the column is counted in characters, from where the last count
    /// stopped on the same line, so a long minified line costs no more than once.
    fn position(&self) -> Position {
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

    fn error(&self, position: Position, message: impl Into<String>) -> SchemaError {
        SchemaError::new(self.file, position, message)
    }

    fn newline(&mut self) {
        self.line += 1;
        self.line_start = self.offset;
    }

    fn skip_space(&mut self) -> Result<(), SchemaError> {
        loop {
            match self.bytes.get(self.offset) {
                Some(b'\n') => {
                    self.offset += 1;
                    self.newline();
                }
                Some(byte) if byte.is_ascii_whitespace() => self.offset += 1,
                Some(b'/') if self.bytes.get(self.offset + 1) == Some(&b'/') => {
                    while let Some(&byte) = self.bytes.get(self.offset) {
                        if byte == b'\n' {
                            break;
                        }
                        self.offset += 1;
                    }
                }
                Some(b'/') if self.bytes.get(self.offset + 1) == Some(&b'*') => {
                    let start = self.position();
                    self.offset += 2;
                    loop {
                        match self.bytes.get(self.offset) {
                            None => return Err(self.error(start, "unterminated /* comment")),
                            Some(b'*') if self.bytes.get(self.offset + 1) == Some(&b'/') => {
                                self.offset += 2;
                                break;
                            }
                            Some(b'\n') => {
                                self.offset += 1;
                                self.newline();
                            }
                            Some(_) => self.offset += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next(&mut self) -> Result<(Token, Position), SchemaError> {
        self.skip_space()?;
        let position = self.position();
        let Some(&byte) = self.bytes.get(self.offset) else {
            return Ok((Token::End, position));
        };
        let start = self.offset;
        let token = if byte.is_ascii_alphabetic() || byte == b'_' {
            while self
                .bytes
                .get(self.offset)
                .is_some_and(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
            {
                self.offset += 1;
            }
            Token::Ident(self.text[start..self.offset].to_string())
        } else if byte.is_ascii_digit()
            || (byte == b'.'
                && self
                    .bytes
                    .get(self.offset + 1)
                    .is_some_and(u8::is_ascii_digit))
        {
            let mut float = false;
            while let Some(&next) = self.bytes.get(self.offset) {
                let exponent_sign = (next == b'-' || next == b'+')
                    && matches!(self.bytes.get(self.offset - 1), Some(b'e' | b'E'))
                    && !self.text[start..self.offset].starts_with("0x");
                if next.is_ascii_alphanumeric() || next == b'.' || exponent_sign {
                    if next == b'.'
                        || ((next == b'e' || next == b'E')
                            && !self.text[start..self.offset].starts_with("0x"))
                    {
                        float = true;
                    }
                    self.offset += 1;
                } else {
                    break;
                }
            }
            let text = self.text[start..self.offset].to_string();
            if float || text == "inf" {
                Token::Float(text)
            } else {
                Token::Int(text)
            }
        } else if byte == b'"' || byte == b'\'' {
            self.offset += 1;
            let mut value = String::new();
            loop {
                match self.bytes.get(self.offset) {
                    None | Some(b'\n') => return Err(self.error(position, "unterminated string")),
                    Some(&quote) if quote == byte => {
                        self.offset += 1;
                        break;
                    }
                    Some(b'\\') => {
                        self.offset += 1;
                        match self.bytes.get(self.offset) {
                            None => return Err(self.error(position, "unterminated string")),
                            Some(b'n') => value.push('\n'),
                            Some(b't') => value.push('\t'),
                            Some(b'r') => value.push('\r'),
                            Some(&other) => value.push(char::from(other)),
                        }
                        self.offset += 1;
                    }
                    Some(_) => {
                        let character = self.text[self.offset..].chars().next().unwrap_or(' ');
                        value.push(character);
                        self.offset += character.len_utf8();
                    }
                }
            }
            Token::Str(value)
        } else {
            let character = self.text[self.offset..].chars().next().unwrap_or(' ');
            self.offset += character.len_utf8();
            Token::Symbol(character)
        };
        Ok((token, position))
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    token: Token,
    position: Position,
}

fn parse_file(name: &str, text: &str) -> Result<File, SchemaError> {
    if text.len() > MAX_TEXT {
        return Err(SchemaError {
            file: name.to_string(),
            line: 0,
            column: 0,
            message: format!("the file is larger than {MAX_TEXT} bytes"),
        });
    }
    let mut lexer = Lexer {
        file: name,
        text,
        bytes: text.as_bytes(),
        offset: 0,
        line: 1,
        line_start: 0,
        column_mark: std::cell::Cell::new((0, 0)),
    };
    let (token, position) = lexer.next()?;
    let mut parser = Parser {
        lexer,
        token,
        position,
    };
    parser.file()
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> SchemaError {
        self.lexer.error(self.position, message)
    }

    fn unexpected(&self, wanted: &str) -> SchemaError {
        let found = match &self.token {
            Token::Ident(text) | Token::Int(text) | Token::Float(text) => format!("`{text}`"),
            Token::Str(text) => format!("\"{text}\""),
            Token::Symbol(symbol) => format!("`{symbol}`"),
            Token::End => "the end of the file".to_string(),
        };
        self.error(format!("expected {wanted}, found {found}"))
    }

    fn advance(&mut self) -> Result<(), SchemaError> {
        let (token, position) = self.lexer.next()?;
        self.token = token;
        self.position = position;
        Ok(())
    }

    fn is_symbol(&self, symbol: char) -> bool {
        self.token == Token::Symbol(symbol)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(&self.token, Token::Ident(text) if text == word)
    }

    fn expect_symbol(&mut self, symbol: char) -> Result<(), SchemaError> {
        if self.is_symbol(symbol) {
            self.advance()
        } else {
            Err(self.unexpected(&format!("`{symbol}`")))
        }
    }

    fn ident(&mut self) -> Result<String, SchemaError> {
        match &self.token {
            Token::Ident(text) => {
                let text = text.clone();
                self.advance()?;
                Ok(text)
            }
            _ => Err(self.unexpected("a name")),
        }
    }

    /// A dotted name, with an optional leading dot (`.pkg.Msg`).
    fn full_ident(&mut self) -> Result<String, SchemaError> {
        let mut name = String::new();
        if self.is_symbol('.') {
            name.push('.');
            self.advance()?;
        }
        name.push_str(&self.ident()?);
        while self.is_symbol('.') {
            self.advance()?;
            name.push('.');
            name.push_str(&self.ident()?);
        }
        Ok(name)
    }

    fn string(&mut self) -> Result<String, SchemaError> {
        let mut value = match &self.token {
            Token::Str(text) => text.clone(),
            _ => return Err(self.unexpected("a string")),
        };
        self.advance()?;
        while let Token::Str(more) = &self.token {
            value.push_str(more);
            self.advance()?;
        }
        Ok(value)
    }

    fn integer(&mut self) -> Result<i64, SchemaError> {
        let negative = if self.is_symbol('-') {
            self.advance()?;
            true
        } else {
            false
        };
        let value = match &self.token {
            Token::Int(text) => {
                let parsed = if let Some(hex) =
                    text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
                {
                    i64::from_str_radix(hex, 16)
                } else if text.len() > 1 && text.starts_with('0') {
                    i64::from_str_radix(&text[1..], 8)
                } else {
                    text.parse()
                };
                parsed.map_err(|_| self.error(format!("invalid integer `{text}`")))?
            }
            _ => return Err(self.unexpected("an integer")),
        };
        self.advance()?;
        Ok(if negative { -value } else { value })
    }

    /// Skips a constant: a scalar, a dotted name, or an aggregate `{ ... }`.
    fn skip_constant(&mut self) -> Result<(), SchemaError> {
        if self.is_symbol('{') {
            return self.skip_balanced('{', '}');
        }
        if self.is_symbol('-') || self.is_symbol('+') {
            self.advance()?;
        }
        match &self.token {
            Token::Str(_) => {
                self.string()?;
            }
            Token::Ident(_) | Token::Symbol('.') => {
                self.full_ident()?;
            }
            Token::Int(_) | Token::Float(_) => self.advance()?,
            _ => return Err(self.unexpected("a constant")),
        }
        Ok(())
    }

    fn skip_balanced(&mut self, open: char, close: char) -> Result<(), SchemaError> {
        let start = self.position;
        let mut depth = 0usize;
        loop {
            match &self.token {
                Token::End => return Err(self.lexer.error(start, format!("unclosed `{open}`"))),
                Token::Symbol(symbol) if *symbol == open => depth += 1,
                Token::Symbol(symbol) if *symbol == close => {
                    depth -= 1;
                    if depth == 0 {
                        return self.advance();
                    }
                }
                _ => {}
            }
            self.advance()?;
        }
    }

    /// `option name = constant;`, with `(extension).field` names.
    fn option_statement(&mut self) -> Result<(), SchemaError> {
        self.advance()?;
        self.option_name()?;
        self.expect_symbol('=')?;
        self.skip_constant()?;
        self.expect_symbol(';')
    }

    fn option_name(&mut self) -> Result<(), SchemaError> {
        loop {
            if self.is_symbol('(') {
                self.advance()?;
                self.full_ident()?;
                self.expect_symbol(')')?;
            } else {
                self.ident()?;
            }
            if self.is_symbol('.') {
                self.advance()?;
            } else {
                return Ok(());
            }
        }
    }

    /// `[name = constant, ...]` after a field or enum value.
    fn field_options(&mut self) -> Result<(), SchemaError> {
        if self.is_symbol('[') {
            self.advance()?;
            loop {
                self.option_name()?;
                self.expect_symbol('=')?;
                self.skip_constant()?;
                if self.is_symbol(',') {
                    self.advance()?;
                } else {
                    break;
                }
            }
            self.expect_symbol(']')?;
        }
        Ok(())
    }

    fn file(&mut self) -> Result<File, SchemaError> {
        let mut file = File::default();
        let mut package_seen = false;
        loop {
            match self.token.clone() {
                Token::End => return Ok(file),
                Token::Symbol(';') => self.advance()?,
                Token::Ident(word) => match word.as_str() {
                    "syntax" | "edition" => {
                        self.advance()?;
                        self.expect_symbol('=')?;
                        let value = self.string()?;
                        if word == "syntax" && value != "proto2" && value != "proto3" {
                            return Err(self
                                .error(format!("unknown syntax \"{value}\" (proto2 or proto3)")));
                        }
                        self.expect_symbol(';')?;
                    }
                    "package" => {
                        if package_seen {
                            return Err(self.error("a file has one package"));
                        }
                        package_seen = true;
                        self.advance()?;
                        file.package = self.full_ident()?;
                        self.expect_symbol(';')?;
                    }
                    "import" => {
                        self.advance()?;
                        if self.is_word("public") || self.is_word("weak") {
                            self.advance()?;
                        }
                        let position = self.position;
                        let path = self.string()?;
                        file.imports.push((path, position));
                        self.expect_symbol(';')?;
                    }
                    "option" => self.option_statement()?,
                    "message" => {
                        let message = self.message(0)?;
                        if file.messages.iter().any(|other| other.name == message.name)
                            || file.enums.iter().any(|other| other.name == message.name)
                        {
                            return Err(
                                self.error(format!("\"{}\" is already defined", message.name))
                            );
                        }
                        file.messages.push(message);
                    }
                    "enum" => {
                        let definition = self.enumeration()?;
                        file.enums.push(definition);
                    }
                    "service" => {
                        self.advance()?;
                        self.ident()?;
                        self.skip_balanced('{', '}')?;
                    }
                    "extend" => {
                        self.advance()?;
                        self.full_ident()?;
                        self.skip_balanced('{', '}')?;
                    }
                    _ => {
                        return Err(self.unexpected(
                            "syntax, package, import, option, message, enum, service or extend",
                        ))
                    }
                },
                _ => return Err(self.unexpected("a declaration")),
            }
        }
    }

    fn message(&mut self, depth: usize) -> Result<ParsedMessage, SchemaError> {
        if depth > MAX_NESTING {
            return Err(self.error(format!("messages nest deeper than {MAX_NESTING} levels")));
        }
        self.advance()?;
        let name = self.ident()?;
        let mut message = ParsedMessage {
            name,
            ..ParsedMessage::default()
        };
        self.expect_symbol('{')?;
        self.message_body(&mut message, depth)?;
        let mut numbers: BTreeMap<i64, String> = BTreeMap::new();
        for field in message
            .fields
            .iter()
            .chain(message.oneofs.iter().flat_map(|oneof| oneof.fields.iter()))
        {
            if let Some(other) = numbers.insert(field.number, field.name.clone()) {
                return Err(SchemaError::new(
                    self.lexer.file,
                    field.position,
                    format!(
                        "field number {} of {} is used by {other} and {}",
                        field.number, message.name, field.name
                    ),
                ));
            }
        }
        Ok(message)
    }

    fn message_body(
        &mut self,
        message: &mut ParsedMessage,
        depth: usize,
    ) -> Result<(), SchemaError> {
        loop {
            match self.token.clone() {
                Token::Symbol('}') => return self.advance(),
                Token::Symbol(';') => self.advance()?,
                Token::End => return Err(self.unexpected("`}`")),
                Token::Symbol('.') => {
                    let field = self.field(None, message, depth)?;
                    message.fields.push(field);
                }
                Token::Ident(word) => match word.as_str() {
                    "option" => self.option_statement()?,
                    "message" => {
                        let nested = self.message(depth + 1)?;
                        message.messages.push(nested);
                    }
                    "enum" => {
                        let nested = self.enumeration()?;
                        message.enums.push(nested);
                    }
                    "extend" => {
                        self.advance()?;
                        self.full_ident()?;
                        self.skip_balanced('{', '}')?;
                    }
                    "reserved" | "extensions" => {
                        while !self.is_symbol(';') {
                            if self.token == Token::End {
                                return Err(self.unexpected("`;`"));
                            }
                            if self.is_symbol('[') {
                                self.skip_balanced('[', ']')?;
                            } else {
                                self.advance()?;
                            }
                        }
                        self.advance()?;
                    }
                    "oneof" => {
                        self.advance()?;
                        let name = self.ident()?;
                        self.expect_symbol('{')?;
                        let mut oneof = Oneof {
                            name,
                            fields: Vec::new(),
                        };
                        loop {
                            if self.is_symbol('}') {
                                self.advance()?;
                                break;
                            }
                            if self.is_symbol(';') {
                                self.advance()?;
                                continue;
                            }
                            if self.is_word("option") {
                                self.option_statement()?;
                                continue;
                            }
                            let field = self.field(None, message, depth)?;
                            oneof.fields.push(field);
                        }
                        message.oneofs.push(oneof);
                    }
                    _ => {
                        let label = match word.as_str() {
                            "optional" => Some(Label::Optional),
                            "required" => Some(Label::Required),
                            "repeated" => Some(Label::Repeated),
                            _ => None,
                        };
                        if label.is_some() {
                            self.advance()?;
                        }
                        let field = self.field(label, message, depth)?;
                        message.fields.push(field);
                    }
                },
                _ => return Err(self.unexpected("a field, message, enum, oneof or option")),
            }
        }
    }

    /// `type name = number [options];`, `map<K, V> name = number;` or a proto2 group.
    fn field(
        &mut self,
        label: Option<Label>,
        message: &mut ParsedMessage,
        depth: usize,
    ) -> Result<Field, SchemaError> {
        let position = self.position;
        let type_name = if self.is_word("map") {
            self.advance()?;
            self.expect_symbol('<')?;
            let key = self.full_ident()?;
            self.expect_symbol(',')?;
            let value = self.full_ident()?;
            self.expect_symbol('>')?;
            format!("map<{key}, {value}>")
        } else if self.is_word("group") {
            self.advance()?;
            let name = self.ident()?;
            self.expect_symbol('=')?;
            let number = self.integer()?;
            self.field_options()?;
            self.expect_symbol('{')?;
            let mut group = ParsedMessage {
                name: name.clone(),
                ..ParsedMessage::default()
            };
            if depth > MAX_NESTING {
                return Err(self.error("groups nest too deeply"));
            }
            self.message_body(&mut group, depth + 1)?;
            message.messages.push(group);
            return Ok(Field {
                name: name.to_ascii_lowercase(),
                number,
                label,
                type_name: name,
                position,
            });
        } else {
            self.full_ident()?
        };
        let name = self.ident()?;
        self.expect_symbol('=')?;
        let number_position = self.position;
        let number = self.integer()?;
        if !(1..=536_870_911).contains(&number) {
            return Err(self.lexer.error(
                number_position,
                format!("field number {number} of {name} is out of range (1 to 536870911)"),
            ));
        }
        self.field_options()?;
        self.expect_symbol(';')?;
        Ok(Field {
            name,
            number,
            label,
            type_name,
            position,
        })
    }

    fn enumeration(&mut self) -> Result<EnumDef, SchemaError> {
        self.advance()?;
        let name = self.ident()?;
        self.expect_symbol('{')?;
        let mut definition = EnumDef {
            name,
            values: Vec::new(),
        };
        loop {
            match self.token.clone() {
                Token::Symbol('}') => {
                    self.advance()?;
                    return Ok(definition);
                }
                Token::Symbol(';') => self.advance()?,
                Token::Ident(word) if word == "option" => self.option_statement()?,
                Token::Ident(word) if word == "reserved" => {
                    while !self.is_symbol(';') {
                        if self.token == Token::End {
                            return Err(self.unexpected("`;`"));
                        }
                        self.advance()?;
                    }
                    self.advance()?;
                }
                Token::Ident(value) => {
                    self.advance()?;
                    self.expect_symbol('=')?;
                    let number = self.integer()?;
                    self.field_options()?;
                    self.expect_symbol(';')?;
                    definition.values.push((value, number));
                }
                _ => return Err(self.unexpected("an enum value")),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The comparison (Confluent's protobuf SchemaDiff, MessageSchemaDiff, FieldSchemaDiff,
// EnumSchemaDiff).

/// Confluent's compatible difference types.
pub const COMPATIBLE: &[&str] = &[
    "MESSAGE_ADDED",
    "MESSAGE_MOVED",
    "ENUM_ADDED",
    "ENUM_REMOVED",
    "ENUM_CONST_ADDED",
    "ENUM_CONST_CHANGED",
    "ENUM_CONST_REMOVED",
    "FIELD_ADDED",
    "FIELD_REMOVED",
    "FIELD_NAME_CHANGED",
    "FIELD_STRING_OR_BYTES_LABEL_CHANGED",
    "ONEOF_ADDED",
    "ONEOF_REMOVED",
    "ONEOF_FIELD_ADDED",
    "ONEOF_FIELD_MOVED_TO_TOP_LEVEL",
];

#[derive(Clone, Debug, PartialEq, Eq)]
struct Diff {
    kind: &'static str,
    path: String,
    /// What the original and the update held here, for messages.
    detail: Option<(String, String)>,
}

#[derive(Clone)]
struct Ctx {
    path: Vec<String>,
    full_name: Vec<String>,
    original_package: String,
    update_package: String,
    /// Original messages being compared, so recursion through imported types ends.
    schemas: HashSet<usize>,
    diffs: Vec<Diff>,
}

impl Ctx {
    fn sub(&self) -> Ctx {
        Ctx {
            diffs: Vec::new(),
            ..self.clone()
        }
    }

    fn path_text(&self) -> String {
        format!("#/{}", self.path.join("/"))
    }

    fn add(&mut self, kind: &'static str) {
        let path = self.path_text();
        self.diffs.push(Diff {
            kind,
            path,
            detail: None,
        });
    }

    fn add_detail(&mut self, kind: &'static str, original: String, update: String) {
        let path = self.path_text();
        self.diffs.push(Diff {
            kind,
            path,
            detail: Some((original, update)),
        });
    }

    fn compatible(&self) -> bool {
        self.diffs
            .iter()
            .all(|diff| COMPATIBLE.contains(&diff.kind))
    }
}

struct Engine<'a> {
    original: &'a Schema,
    update: &'a Schema,
    /// Where the comparison went deeper through imported message types than it may.
    too_deep: std::cell::Cell<Option<Position>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Original,
    Update,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FieldKind {
    Scalar,
    Map,
    Message,
}

/// Whether `reader` (the update) reads what `writer` (the original) wrote, by Confluent's
/// rules; the incompatible differences found.
pub(crate) fn check(
    reader: &Schema,
    writer: &Schema,
    roles: Roles,
) -> Result<Vec<Problem>, SchemaError> {
    let engine = Engine {
        original: writer,
        update: reader,
        too_deep: std::cell::Cell::new(None),
    };
    let mut ctx = Ctx {
        path: Vec::new(),
        full_name: Vec::new(),
        original_package: writer.package.clone(),
        update_package: reader.package.clone(),
        schemas: HashSet::new(),
        diffs: Vec::new(),
    };
    if writer.package != reader.package {
        ctx.add_detail(
            "PACKAGE_CHANGED",
            writer.package.clone(),
            reader.package.clone(),
        );
    }
    engine.compare_types(
        &mut ctx,
        &writer.top_messages,
        &writer.top_enums,
        &reader.top_messages,
        &reader.top_enums,
    );
    let mut problems: Vec<Problem> = Vec::new();
    for diff in ctx
        .diffs
        .into_iter()
        .filter(|diff| !COMPATIBLE.contains(&diff.kind))
    {
        let problem = Problem {
            rule: diff.kind.to_string(),
            message: describe(&diff, roles),
            path: diff.path,
        };
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    Ok(problems)
}

impl Engine<'_> {
    fn schema(&self, side: Side) -> &Schema {
        match side {
            Side::Original => self.original,
            Side::Update => self.update,
        }
    }

    /// Confluent's `Context.resolve`: the package and the enclosing message names as prefixes,
    /// longest first, then the name alone.
    fn resolve(&self, ctx: &Ctx, name: &str, side: Side) -> Option<String> {
        let schema = self.schema(side);
        if schema.types.is_empty() {
            return None;
        }
        if let Some(absolute) = name.strip_prefix('.') {
            return schema
                .types
                .contains_key(absolute)
                .then(|| absolute.to_string());
        }
        let package = match side {
            Side::Original => &ctx.original_package,
            Side::Update => &ctx.update_package,
        };
        let mut prefix: Vec<&str> = package.split('.').filter(|part| !part.is_empty()).collect();
        prefix.extend(ctx.full_name.iter().map(String::as_str));
        while !prefix.is_empty() {
            let candidate = format!("{}.{name}", prefix.join("."));
            if schema.types.contains_key(&candidate) {
                return Some(candidate);
            }
            prefix.pop();
        }
        schema.types.contains_key(name).then(|| name.to_string())
    }

    fn type_info(&self, ctx: &Ctx, name: &str, side: Side) -> Option<(String, &TypeInfo)> {
        let full = self.resolve(ctx, name, side)?;
        let info = self.schema(side).types.get(&full)?;
        Some((full, info))
    }

    fn compare_types(
        &self,
        ctx: &mut Ctx,
        original_messages: &[usize],
        original_enums: &[usize],
        update_messages: &[usize],
        update_enums: &[usize],
    ) {
        let index = |schema: &Schema, messages: &[usize]| -> BTreeMap<String, (usize, usize)> {
            messages
                .iter()
                .enumerate()
                .map(|(position, id)| (schema.messages[*id].name.clone(), (*id, position)))
                .collect()
        };
        let originals = index(self.original, original_messages);
        let updates = index(self.update, update_messages);
        let names: BTreeSet<&String> = originals.keys().chain(updates.keys()).collect();
        for name in names {
            ctx.path.push(name.clone());
            ctx.full_name.push(name.clone());
            match (originals.get(name), updates.get(name)) {
                (Some(_), None) => ctx.add("MESSAGE_REMOVED"),
                (None, Some(_)) => ctx.add("MESSAGE_ADDED"),
                (Some((original, original_index)), Some((update, update_index))) => {
                    self.compare_messages(ctx, *original, *update);
                    if original_index != update_index {
                        ctx.add("MESSAGE_MOVED");
                    }
                }
                (None, None) => {}
            }
            ctx.full_name.pop();
            ctx.path.pop();
        }
        let enums = |schema: &Schema, list: &[usize]| -> BTreeMap<String, usize> {
            list.iter()
                .map(|id| (schema.enums[*id].name.clone(), *id))
                .collect()
        };
        let original_enum_map = enums(self.original, original_enums);
        let update_enum_map = enums(self.update, update_enums);
        let names: BTreeSet<&String> = original_enum_map
            .keys()
            .chain(update_enum_map.keys())
            .collect();
        for name in names {
            ctx.path.push(name.clone());
            ctx.full_name.push(name.clone());
            match (original_enum_map.get(name), update_enum_map.get(name)) {
                (Some(_), None) => ctx.add("ENUM_REMOVED"),
                (None, Some(_)) => ctx.add("ENUM_ADDED"),
                (Some(original), Some(update)) => {
                    let original_values: BTreeMap<i64, &String> = self.original.enums[*original]
                        .values
                        .iter()
                        .map(|(name, number)| (*number, name))
                        .collect();
                    let update_values: BTreeMap<i64, &String> = self.update.enums[*update]
                        .values
                        .iter()
                        .map(|(name, number)| (*number, name))
                        .collect();
                    let numbers: BTreeSet<&i64> =
                        original_values.keys().chain(update_values.keys()).collect();
                    for number in numbers {
                        ctx.path.push(number.to_string());
                        match (original_values.get(number), update_values.get(number)) {
                            (Some(_), None) => ctx.add("ENUM_CONST_REMOVED"),
                            (None, Some(_)) => ctx.add("ENUM_CONST_ADDED"),
                            (Some(old), Some(new)) if old != new => ctx.add("ENUM_CONST_CHANGED"),
                            _ => {}
                        }
                        ctx.path.pop();
                    }
                }
                (None, None) => {}
            }
            ctx.full_name.pop();
            ctx.path.pop();
        }
    }

    fn compare_messages(&self, ctx: &mut Ctx, original_id: usize, update_id: usize) {
        if !ctx.schemas.insert(original_id) {
            return;
        }
        let original = &self.original.messages[original_id];
        let update = &self.update.messages[update_id];
        let collect = |message: &Message| {
            let mut by_number: BTreeMap<i64, Field> = BTreeMap::new();
            let mut oneof_of: BTreeMap<i64, String> = BTreeMap::new();
            for field in &message.fields {
                by_number.insert(field.number, field.clone());
            }
            for oneof in &message.oneofs {
                for field in &oneof.fields {
                    by_number.insert(field.number, field.clone());
                    oneof_of.insert(field.number, oneof.name.clone());
                }
            }
            (by_number, oneof_of)
        };
        let (original_fields, original_oneof_of) = collect(original);
        let (update_fields, update_oneof_of) = collect(update);
        let original_oneofs: BTreeSet<&String> =
            original.oneofs.iter().map(|oneof| &oneof.name).collect();
        let update_oneofs: BTreeSet<&String> =
            update.oneofs.iter().map(|oneof| &oneof.name).collect();
        let deleted: BTreeSet<&String> = original
            .oneofs
            .iter()
            .filter(|oneof| !update_oneofs.contains(&oneof.name))
            .filter(|oneof| {
                !oneof
                    .fields
                    .iter()
                    .any(|field| update_fields.contains_key(&field.number))
            })
            .map(|oneof| &oneof.name)
            .collect();
        for oneof in &update.oneofs {
            ctx.path.push(oneof.name.clone());
            let mut groups = BTreeSet::new();
            let mut moved_in = 0;
            for field in &oneof.fields {
                if let Some(origin) = original_oneof_of.get(&field.number) {
                    groups.insert(format!("oneof:{origin}"));
                } else if original_fields.contains_key(&field.number) {
                    groups.insert(format!("field:{}", field.number));
                    moved_in += 1;
                }
            }
            if groups.len() > 1 {
                ctx.add(if moved_in > 1 {
                    "MULTIPLE_FIELDS_MOVED_TO_ONEOF"
                } else {
                    "FIELD_MOVED_TO_EXISTING_ONEOF"
                });
            }
            ctx.path.pop();
        }
        for name in original_oneofs.union(&update_oneofs) {
            ctx.path.push((*name).clone());
            if !update_oneofs.contains(name) {
                ctx.add("ONEOF_REMOVED");
            } else if !original_oneofs.contains(name) {
                ctx.add("ONEOF_ADDED");
            }
            ctx.path.pop();
        }
        let numbers: BTreeSet<&i64> = original_fields.keys().chain(update_fields.keys()).collect();
        for number in numbers {
            let original_field = original_fields.get(number);
            let update_field = update_fields.get(number);
            let original_oneof = original_oneof_of.get(number);
            let update_oneof = update_oneof_of.get(number);
            match (original_field, update_field) {
                (Some(field), None) => match original_oneof {
                    Some(oneof) => {
                        if !deleted.contains(oneof) {
                            ctx.path.push(oneof.clone());
                            ctx.path.push(number.to_string());
                            ctx.add_detail(
                                "ONEOF_FIELD_REMOVED",
                                describe_field(field),
                                String::new(),
                            );
                            ctx.path.pop();
                            ctx.path.pop();
                        }
                    }
                    None => {
                        ctx.path.push(number.to_string());
                        if field.label == Some(Label::Required) {
                            ctx.add_detail(
                                "REQUIRED_FIELD_REMOVED",
                                describe_field(field),
                                String::new(),
                            );
                        } else {
                            ctx.add("FIELD_REMOVED");
                        }
                        ctx.path.pop();
                    }
                },
                (None, Some(field)) => match update_oneof {
                    Some(oneof) => {
                        ctx.path.push(oneof.clone());
                        ctx.path.push(number.to_string());
                        ctx.add("ONEOF_FIELD_ADDED");
                        ctx.path.pop();
                        ctx.path.pop();
                    }
                    None => {
                        ctx.path.push(number.to_string());
                        if field.label == Some(Label::Required) {
                            ctx.add_detail(
                                "REQUIRED_FIELD_ADDED",
                                String::new(),
                                describe_field(field),
                            );
                        } else {
                            ctx.add("FIELD_ADDED");
                        }
                        ctx.path.pop();
                    }
                },
                (Some(original_field), Some(update_field)) => {
                    if original_oneof.is_some() && update_oneof.is_none() {
                        ctx.path.push(number.to_string());
                        ctx.add("ONEOF_FIELD_MOVED_TO_TOP_LEVEL");
                        ctx.path.pop();
                    }
                    let depth = ctx.path.len();
                    if let Some(oneof) = update_oneof {
                        ctx.path.push(oneof.clone());
                    }
                    ctx.path.push(number.to_string());
                    self.compare_fields(ctx, original_field, update_field);
                    ctx.path.truncate(depth);
                }
                (None, None) => {}
            }
        }
        let (original_nested_messages, original_nested_enums) =
            (original.messages.clone(), original.enums.clone());
        let (update_nested_messages, update_nested_enums) =
            (update.messages.clone(), update.enums.clone());
        self.compare_types(
            ctx,
            &original_nested_messages,
            &original_nested_enums,
            &update_nested_messages,
            &update_nested_enums,
        );
        ctx.schemas.remove(&original_id);
    }

    fn compare_fields(&self, ctx: &mut Ctx, original: &Field, update: &Field) {
        if original.name != update.name {
            ctx.add("FIELD_NAME_CHANGED");
        }
        self.compare_labels_and_types(
            ctx,
            original.label,
            update.label,
            &original.type_name,
            &update.type_name,
            original,
            update,
        );
    }

    fn kind(&self, ctx: &Ctx, type_name: &str, side: Side) -> FieldKind {
        if SCALARS.contains(&type_name) {
            FieldKind::Scalar
        } else if map_parts(type_name).is_some() {
            FieldKind::Map
        } else {
            match self.type_info(ctx, type_name, side) {
                Some((_, info)) if matches!(info.kind, TypeKind::Enum(_)) => FieldKind::Scalar,
                _ => FieldKind::Message,
            }
        }
    }

    /// The wire-compatible group of a scalar (enums travel as varints).
    fn scalar_group(&self, ctx: &Ctx, type_name: &str, side: Side) -> &'static str {
        match type_name {
            "int32" | "int64" | "uint32" | "uint64" | "bool" => "GENERAL_NUMBER",
            "sint32" | "sint64" => "SIGNED_NUMBER",
            "string" | "bytes" => "STRING_OR_BYTES",
            "fixed32" | "sfixed32" => "FIXED32",
            "fixed64" | "sfixed64" => "FIXED64",
            "float" => "FLOAT",
            "double" => "DOUBLE",
            _ => {
                let _ = self.type_info(ctx, type_name, side);
                "GENERAL_NUMBER"
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn compare_labels_and_types(
        &self,
        ctx: &mut Ctx,
        original_label: Option<Label>,
        update_label: Option<Label>,
        original_type: &str,
        update_type: &str,
        original_field: &Field,
        update_field: &Field,
    ) {
        let original_kind = self.kind(ctx, original_type, Side::Original);
        let update_kind = self.kind(ctx, update_type, Side::Update);
        let detail = || (describe_field(original_field), describe_field(update_field));
        if original_kind != update_kind {
            let (old, new) = detail();
            ctx.add_detail("FIELD_KIND_CHANGED", old, new);
            return;
        }
        match original_kind {
            FieldKind::Scalar => {
                let original_group = self.scalar_group(ctx, original_type, Side::Original);
                let update_group = self.scalar_group(ctx, update_type, Side::Update);
                if original_group != update_group {
                    let (old, new) = detail();
                    ctx.add_detail("FIELD_SCALAR_KIND_CHANGED", old, new);
                } else if let (Some(old_label), Some(new_label)) = (original_label, update_label) {
                    if old_label != new_label {
                        if original_group == "STRING_OR_BYTES" {
                            ctx.add("FIELD_STRING_OR_BYTES_LABEL_CHANGED");
                        } else {
                            ctx.add_detail(
                                "FIELD_NUMERIC_LABEL_CHANGED",
                                describe_field(original_field),
                                describe_field(update_field),
                            );
                        }
                    }
                }
            }
            FieldKind::Message => self.compare_message_types(
                ctx,
                original_type,
                update_type,
                original_field,
                update_field,
            ),
            FieldKind::Map => {
                if let (Some((original_key, original_value)), Some((update_key, update_value))) =
                    (map_parts(original_type), map_parts(update_type))
                {
                    self.compare_labels_and_types(
                        ctx,
                        None,
                        None,
                        &original_key,
                        &update_key,
                        original_field,
                        update_field,
                    );
                    self.compare_labels_and_types(
                        ctx,
                        None,
                        None,
                        &original_value,
                        &update_value,
                        original_field,
                        update_field,
                    );
                }
            }
        }
    }

    fn compare_message_types(
        &self,
        ctx: &mut Ctx,
        original_type: &str,
        update_type: &str,
        original_field: &Field,
        update_field: &Field,
    ) {
        let original = self.type_info(ctx, original_type, Side::Original);
        let update = self.type_info(ctx, update_type, Side::Update);
        let (Some((original_full, original_info)), Some((update_full, update_info))) =
            (original, update)
        else {
            if original_type != update_type {
                ctx.add_detail(
                    "FIELD_NAMED_TYPE_CHANGED",
                    describe_field(original_field),
                    describe_field(update_field),
                );
            }
            return;
        };
        let local = |full: &str, package: &str| {
            full.strip_prefix(&format!("{package}."))
                .map(str::to_string)
                .unwrap_or_else(|| full.to_string())
        };
        let original_local = local(&original_full, &original_info.package);
        let update_local = local(&update_full, &update_info.package);
        if original_local != update_local {
            ctx.add_detail(
                "FIELD_NAMED_TYPE_CHANGED",
                describe_field(original_field),
                describe_field(update_field),
            );
            return;
        }
        if original_info.origin == update_info.origin {
            return;
        }
        let (TypeKind::Message(original_message), TypeKind::Message(update_message)) =
            (original_info.kind, update_info.kind)
        else {
            return;
        };
        if ctx.schemas.len() >= MAX_NESTING {
            if self.too_deep.get().is_none() {
                self.too_deep.set(Some(update_field.position));
            }
            return;
        }
        let mut sub = ctx.sub();
        sub.original_package = original_info.package.clone();
        sub.update_package = update_info.package.clone();
        sub.path = original_local.split('.').map(str::to_string).collect();
        sub.full_name = sub.path.clone();
        self.compare_messages(&mut sub, original_message, update_message);
        let compatible = sub.compatible();
        ctx.diffs.extend(sub.diffs);
        if !compatible {
            ctx.add_detail(
                "FIELD_NAMED_TYPE_CHANGED",
                describe_field(original_field),
                describe_field(update_field),
            );
        }
    }
}

fn describe_field(field: &Field) -> String {
    let label = field
        .label
        .map(|label| format!("{} ", label.as_str()))
        .unwrap_or_default();
    format!(
        "{label}{} {} = {}",
        field.type_name, field.name, field.number
    )
}

/// A sentence for an incompatible difference, in old/new terms (the original is the writer's
/// schema, the update the reader's).
fn describe(diff: &Diff, roles: Roles) -> String {
    let reader = roles.reader();
    let writer = roles.writer();
    let path = &diff.path;
    let (old, new) = match &diff.detail {
        Some((original, update)) => {
            let (old, new) = roles.old_new(update.clone(), original.clone());
            (old, new)
        }
        None => (String::new(), String::new()),
    };
    let either = if old.is_empty() { &new } else { &old };
    match diff.kind {
        "PACKAGE_CHANGED" => format!("the package changed from \"{old}\" to \"{new}\""),
        "MESSAGE_REMOVED" => format!("message {path} of the {writer} schema is missing from the {reader} schema"),
        "FIELD_KIND_CHANGED" => format!("field {path} changed kind (scalar, message, map) from `{old}` to `{new}`"),
        "FIELD_SCALAR_KIND_CHANGED" => format!("field {path} changed from `{old}` to `{new}`, which is not wire-compatible"),
        "FIELD_NAMED_TYPE_CHANGED" => format!("field {path} changed message type from `{old}` to `{new}`"),
        "FIELD_NUMERIC_LABEL_CHANGED" => format!("numeric field {path} changed label from `{old}` to `{new}`"),
        "REQUIRED_FIELD_ADDED" => format!("required field `{either}` ({path}) of the {reader} schema is missing from the {writer} schema"),
        "REQUIRED_FIELD_REMOVED" => format!("required field `{either}` ({path}) of the {writer} schema is missing from the {reader} schema"),
        "ONEOF_FIELD_REMOVED" => format!("oneof field `{either}` ({path}) of the {writer} schema is missing from the {reader} schema"),
        "MULTIPLE_FIELDS_MOVED_TO_ONEOF" | "FIELD_MOVED_TO_EXISTING_ONEOF" => format!(
            "oneof {path} makes fields that were independent in the {writer} schema mutually exclusive in the {reader} schema"
        ),
        other => format!("{} at {path}", other.to_ascii_lowercase().replace('_', " ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(text: &str) -> Schema {
        Schema::parse(&SchemaText::new("test.proto", text)).expect("valid schema")
    }

    fn backward(new: &str, old: &str) -> Vec<String> {
        check(
            &schema(new),
            &schema(old),
            Roles {
                reader_is_new: true,
            },
        )
        .expect("compared")
        .into_iter()
        .map(|problem| format!("{} {}", problem.rule, problem.path))
        .collect()
    }

    #[test]
    fn fields_by_number_and_wire_groups() {
        let old = "syntax = \"proto3\"; message M { int32 a = 1; string b = 2; }";
        assert!(backward(
            "syntax = \"proto3\"; message M { int64 renamed = 1; bytes b = 2; }",
            old
        )
        .is_empty());
        assert_eq!(
            backward(
                "syntax = \"proto3\"; message M { sint32 a = 1; string b = 2; }",
                old
            ),
            vec!["FIELD_SCALAR_KIND_CHANGED #/M/1"]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let error = Schema::parse(&SchemaText::new(
            "bad.proto",
            "syntax = \"proto3\";\nmessage M {\n  Missing m = 1;\n}",
        ))
        .expect_err("unresolved");
        assert_eq!((error.line, error.column), (3, 3));
        let error = Schema::parse(&SchemaText::new(
            "bad.proto",
            "syntax = \"proto3\";\nimport \"other.proto\";",
        ))
        .expect_err("import");
        assert_eq!(error.line, 2);
        let error = Schema::parse(&SchemaText::new(
            "bad.proto",
            "message M {\n int32 a = 1\n}",
        ))
        .expect_err("syntax");
        assert_eq!(error.line, 3);
    }
}
