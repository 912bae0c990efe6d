//! Decoding of the Kubernetes protobuf request bodies that typed clients send (kubectl's
//! `create …` commands among them) into the JSON object kube-apiserver would store.
//!
//! A body is the 4-byte magic `k8s\0` followed by a `runtime.Unknown` envelope: the object's
//! `apiVersion` and `kind`, and in `raw` the object itself in the proto2 encoding of
//! k8s.io/api's `generated.proto`. [`decode_object`] reads the wire format with a small
//! hand-written reader and turns each message into JSON by following a data table
//! (a `MessageType` per message: field number, JSON name, kind, and whether a zero value is
//! kept). The JSON follows Go `encoding/json` as kube-apiserver writes it: `omitempty`
//! scalars with a zero value are dropped while pointer and non-`omitempty` fields keep theirs
//! (`replicas: 0`, `immutable: false`); non-pointer nested structs that arrive empty are kept as
//! `{}` (as Go prints them, and as `kubectl --dry-run=client -o json` shows them); `[]byte`
//! values are base64; `metav1.Time` is RFC 3339 in seconds (an empty time, Go's zero time, is
//! left out, as Go prints it `null`; nanoseconds are dropped, as kube-apiserver drops them);
//! `resource.Quantity` is its string; `intstr.IntOrString` is a number or a string.
//!
//! Nothing is dropped silently: a field number the table does not know, a message type it does
//! not decode (only an empty one is accepted), a kind with no table, and malformed bytes are each
//! a [`ProtobufError`] naming the message type, the field number and the JSON path. Nesting is
//! bounded by [`MAXIMUM_DEPTH`] and bodies by [`MAXIMUM_BODY_BYTES`].
//!
//! The field numbers are wire-format facts from the Kubernetes API's `generated.proto`
//! (k8s.io/api and k8s.io/apimachinery); the test vectors under `tests/protobuf/` are bodies
//! captured from kubectl v1.32.4.

use base64::Engine as _;
use flotilla_core::time::format_rfc3339_signed as format_rfc3339;
use serde_json::{Map, Number, Value};

/// The `Content-Type` of a Kubernetes protobuf body.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// The largest body decoded (kube-apiserver's own request limit is 3 MiB).
pub const MAXIMUM_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The deepest nesting of messages decoded, the object itself being depth 1.
pub const MAXIMUM_DEPTH: usize = 64;

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("the protobuf body is {size} bytes, more than the {limit} accepted")]
    BodyTooLarge { size: usize, limit: usize },
    #[error("the body does not start with the Kubernetes protobuf magic `k8s\\0`")]
    MissingMagic,
    #[error("the protobuf envelope names no apiVersion and kind")]
    MissingTypeMeta,
    #[error("the protobuf envelope has content encoding `{encoding}`, which is not supported")]
    UnsupportedContentEncoding { encoding: String },
    #[error("the protobuf envelope holds `{content_type}` content, which is not supported")]
    UnsupportedContentType { content_type: String },
    #[error("{api_version} {kind} cannot be sent as protobuf to this server; send JSON or YAML")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("malformed protobuf in {message} at `{path}`")]
    Malformed {
        message: &'static str,
        path: String,
        #[source]
        source: WireError,
    },
    #[error("field {field} of {message} at `{path}` is not known to this server")]
    UnknownField {
        message: &'static str,
        field: u32,
        path: String,
    },
    #[error("field {field} of {message} at `{path}` is {found}, expected {expected}")]
    WireTypeMismatch {
        message: &'static str,
        field: u32,
        path: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error(
        "field {field} of {message} at `{path}` holds a {type_name}, which this server does not \
         decode from protobuf (only an empty one); send JSON or YAML"
    )]
    UnsupportedMessage {
        message: &'static str,
        field: u32,
        path: String,
        type_name: &'static str,
    },
    #[error("field {field} of {message} at `{path}` is not valid UTF-8")]
    InvalidUtf8 {
        message: &'static str,
        field: u32,
        path: String,
    },
    #[error("field {field} of {message} at `{path}` is a time {seconds} s from 1970, outside years 0 to 9999")]
    TimeOutOfRange {
        message: &'static str,
        field: u32,
        path: String,
        seconds: i64,
    },
    #[error(
        "field {field} of {message} at `{path}` is an IntOrString of unknown type {type_number}"
    )]
    InvalidIntOrString {
        message: &'static str,
        field: u32,
        path: String,
        type_number: i64,
    },
    #[error("field {field} of {message} at `{path}` is not valid JSON field-set data")]
    InvalidFieldsV1 {
        message: &'static str,
        field: u32,
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("field {field} of {message} at `{path}` nests messages deeper than {limit}")]
    TooDeep {
        message: &'static str,
        field: u32,
        path: String,
        limit: usize,
    },
}

/// What is wrong with the protobuf wire format itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("the varint at byte {offset} is cut off by the end of its message")]
    TruncatedVarint { offset: usize },
    #[error("the varint at byte {offset} is longer than 10 bytes")]
    OverlongVarint { offset: usize },
    #[error("field {field} at byte {offset} declares {length} bytes, but only {remaining} remain")]
    LengthPastEnd {
        field: u32,
        offset: usize,
        length: u64,
        remaining: usize,
    },
    #[error("fixed-size field {field} at byte {offset} is cut off by the end of its message")]
    TruncatedFixed { field: u32, offset: usize },
    #[error("field {field} at byte {offset} has wire type {wire_type} (groups are not supported)")]
    UnsupportedWireType {
        field: u32,
        offset: usize,
        wire_type: u64,
    },
    #[error("the tag at byte {offset} has field number {field}, outside 1 to 536870911")]
    InvalidFieldNumber { offset: usize, field: u64 },
}

/// Decodes a Kubernetes protobuf body (`k8s\0` and a `runtime.Unknown` envelope) into the JSON
/// object kube-apiserver would store, with `apiVersion` and `kind` from the envelope.
pub fn decode_object(body: &[u8]) -> Result<Value, ProtobufError> {
    decode_object_with_limits(body, MAXIMUM_BODY_BYTES, MAXIMUM_DEPTH)
}

fn decode_object_with_limits(
    body: &[u8],
    maximum_body_bytes: usize,
    maximum_depth: usize,
) -> Result<Value, ProtobufError> {
    if body.len() > maximum_body_bytes {
        return Err(ProtobufError::BodyTooLarge {
            size: body.len(),
            limit: maximum_body_bytes,
        });
    }
    let envelope_bytes = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtobufError::MissingMagic)?;
    let envelope = read_envelope(envelope_bytes)?;
    if envelope.api_version.is_empty() || envelope.kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedContentEncoding {
            encoding: envelope.content_encoding,
        });
    }
    if !envelope.content_type.is_empty() && envelope.content_type != CONTENT_TYPE {
        return Err(ProtobufError::UnsupportedContentType {
            content_type: envelope.content_type,
        });
    }
    let message_type = OBJECT_TYPES
        .iter()
        .find(|(api_version, kind, _)| {
            *api_version == envelope.api_version && *kind == envelope.kind
        })
        .map(|(_, _, message_type)| *message_type)
        .ok_or_else(|| ProtobufError::UnsupportedKind {
            api_version: envelope.api_version.clone(),
            kind: envelope.kind.clone(),
        })?;
    let mut object = Map::new();
    object.insert("kind".to_string(), Value::String(envelope.kind));
    object.insert(
        "apiVersion".to_string(),
        Value::String(envelope.api_version),
    );
    let decoder = Decoder { maximum_depth };
    decoder.decode_message(
        envelope.raw,
        MAGIC.len() + envelope.raw_offset,
        message_type,
        1,
        ".",
        &mut object,
    )?;
    Ok(Value::Object(object))
}

// ---------------------------------------------------------------------------------------------
// The wire format.

/// One field's value as the wire carries it.
#[derive(Clone, Copy, Debug)]
enum WireValue<'a> {
    Varint(u64),
    /// A fixed 64-bit value (no supported field has one; it is read past and reported).
    Fixed64,
    /// A fixed 32-bit value (likewise).
    Fixed32,
    /// Length-delimited bytes and where they start in the body.
    Bytes {
        payload: &'a [u8],
        offset: usize,
    },
}

impl WireValue<'_> {
    fn description(&self) -> &'static str {
        match self {
            WireValue::Varint(_) => "a varint",
            WireValue::Fixed64 => "a fixed 64-bit value",
            WireValue::Fixed32 => "a fixed 32-bit value",
            WireValue::Bytes { .. } => "length-delimited",
        }
    }
}

/// Reads the fields of one message in order. Offsets are counted from the start of the body.
struct WireReader<'a> {
    bytes: &'a [u8],
    position: usize,
    base_offset: usize,
}

impl<'a> WireReader<'a> {
    fn new(bytes: &'a [u8], base_offset: usize) -> Self {
        WireReader {
            bytes,
            position: 0,
            base_offset,
        }
    }

    fn read_varint(&mut self) -> Result<u64, WireError> {
        let offset = self.base_offset + self.position;
        let mut value: u64 = 0;
        for index in 0..10 {
            let Some(&byte) = self.bytes.get(self.position) else {
                return Err(WireError::TruncatedVarint { offset });
            };
            self.position += 1;
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::OverlongVarint { offset })
    }

    fn skip_fixed(&mut self, field: u32, size: usize) -> Result<(), WireError> {
        if self.bytes.len() - self.position < size {
            return Err(WireError::TruncatedFixed {
                field,
                offset: self.base_offset + self.position,
            });
        }
        self.position += size;
        Ok(())
    }

    /// The next field number and value, or `None` at the end of the message.
    fn next_field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, WireError> {
        if self.position >= self.bytes.len() {
            return Ok(None);
        }
        let tag_offset = self.base_offset + self.position;
        let tag = self.read_varint()?;
        let field_number = tag >> 3;
        let field = match u32::try_from(field_number) {
            Ok(field) if (1..=536_870_911).contains(&field) => field,
            _ => {
                return Err(WireError::InvalidFieldNumber {
                    offset: tag_offset,
                    field: field_number,
                })
            }
        };
        let value = match tag & 7 {
            0 => WireValue::Varint(self.read_varint()?),
            1 => {
                self.skip_fixed(field, 8)?;
                WireValue::Fixed64
            }
            2 => {
                let length = self.read_varint()?;
                let remaining = self.bytes.len() - self.position;
                let length_in_bounds = usize::try_from(length)
                    .ok()
                    .filter(|length| *length <= remaining);
                let Some(length) = length_in_bounds else {
                    return Err(WireError::LengthPastEnd {
                        field,
                        offset: tag_offset,
                        length,
                        remaining,
                    });
                };
                let offset = self.base_offset + self.position;
                let payload = &self.bytes[self.position..self.position + length];
                self.position += length;
                WireValue::Bytes { payload, offset }
            }
            5 => {
                self.skip_fixed(field, 4)?;
                WireValue::Fixed32
            }
            wire_type => {
                return Err(WireError::UnsupportedWireType {
                    field,
                    offset: tag_offset,
                    wire_type,
                })
            }
        };
        Ok(Some((field, value)))
    }
}

// ---------------------------------------------------------------------------------------------
// The envelope.

/// `runtime.Unknown`, with its `typeMeta` flattened.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    /// Where `raw` starts, counted from the end of the magic.
    raw_offset: usize,
    content_encoding: String,
    content_type: String,
}

const UNKNOWN_NAME: &str = "runtime.Unknown";
const TYPE_META_NAME: &str = "runtime.TypeMeta";

fn read_envelope(bytes: &[u8]) -> Result<Envelope<'_>, ProtobufError> {
    let mut envelope = Envelope {
        api_version: String::new(),
        kind: String::new(),
        raw: &[],
        raw_offset: 0,
        content_encoding: String::new(),
        content_type: String::new(),
    };
    let mut reader = WireReader::new(bytes, 0);
    while let Some((field, value)) = next_field(&mut reader, UNKNOWN_NAME, ".")? {
        let location = Location {
            message: UNKNOWN_NAME,
            field,
            path: ".",
        };
        match field {
            1 => {
                let (payload, offset) = location.expect_bytes(value)?;
                let mut type_meta_reader = WireReader::new(payload, offset);
                while let Some((field, value)) =
                    next_field(&mut type_meta_reader, TYPE_META_NAME, ".")?
                {
                    let location = Location {
                        message: TYPE_META_NAME,
                        field,
                        path: ".",
                    };
                    match field {
                        1 => envelope.api_version = location.expect_string(value)?,
                        2 => envelope.kind = location.expect_string(value)?,
                        _ => return Err(location.unknown_field()),
                    }
                }
            }
            2 => {
                let (payload, offset) = location.expect_bytes(value)?;
                envelope.raw = payload;
                envelope.raw_offset = offset;
            }
            3 => envelope.content_encoding = location.expect_string(value)?,
            4 => envelope.content_type = location.expect_string(value)?,
            _ => return Err(location.unknown_field()),
        }
    }
    Ok(envelope)
}

fn next_field<'a>(
    reader: &mut WireReader<'a>,
    message: &'static str,
    path: &str,
) -> Result<Option<(u32, WireValue<'a>)>, ProtobufError> {
    reader
        .next_field()
        .map_err(|source| ProtobufError::Malformed {
            message,
            path: path.to_string(),
            source,
        })
}

// ---------------------------------------------------------------------------------------------
// The schema: one `MessageType` per supported message.

/// A protobuf message and how each of its fields maps to JSON.
#[derive(Debug)]
struct MessageType {
    /// `group.version.Name`, as errors show it.
    name: &'static str,
    fields: &'static [Field],
}

impl MessageType {
    fn field(&self, number: u32) -> Option<&'static Field> {
        self.fields.iter().find(|field| field.number == number)
    }
}

#[derive(Debug)]
struct Field {
    number: u32,
    /// Empty for an inlined (embedded) message.
    json_name: &'static str,
    shape: Shape,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// A Go non-pointer `omitempty` field: a zero value is left out.
    OmitEmpty,
    /// A pointer or non-`omitempty` field: whatever arrives is written, zero included.
    Always,
    /// `repeated`: a JSON array.
    List,
    /// `map<string, …>`: a JSON object.
    Map,
    /// An embedded Go struct (`json:",inline"`): its fields are written into the parent.
    Inline,
}

/// What one value is, on the wire and in JSON.
#[derive(Clone, Copy, Debug)]
enum Kind {
    String,
    /// `[]byte`: base64 in JSON.
    Bytes,
    Int32,
    Int64,
    Bool,
    /// `metav1.Time`: RFC 3339.
    Time,
    /// `resource.Quantity`: its string.
    Quantity,
    /// `intstr.IntOrString`: a number or a string.
    IntOrString,
    /// `metav1.FieldsV1`: JSON carried as bytes.
    FieldsV1,
    Message(&'static MessageType),
    /// A message type this server does not decode; only an empty one is accepted.
    Unsupported(&'static str),
}

const fn omitempty(number: u32, json_name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        json_name,
        shape: Shape::OmitEmpty,
        kind,
    }
}

const fn always(number: u32, json_name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        json_name,
        shape: Shape::Always,
        kind,
    }
}

const fn list(number: u32, json_name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        json_name,
        shape: Shape::List,
        kind,
    }
}

const fn map(number: u32, json_name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        json_name,
        shape: Shape::Map,
        kind,
    }
}

const fn inline(number: u32, message_type: &'static MessageType) -> Field {
    Field {
        number,
        json_name: "",
        shape: Shape::Inline,
        kind: Kind::Message(message_type),
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding messages into JSON.

/// Where a value is: for error messages.
#[derive(Clone, Copy)]
struct Location<'p> {
    message: &'static str,
    field: u32,
    path: &'p str,
}

impl Location<'_> {
    fn unknown_field(&self) -> ProtobufError {
        ProtobufError::UnknownField {
            message: self.message,
            field: self.field,
            path: self.path.to_string(),
        }
    }

    fn mismatch(&self, expected: &'static str, found: WireValue<'_>) -> ProtobufError {
        ProtobufError::WireTypeMismatch {
            message: self.message,
            field: self.field,
            path: self.path.to_string(),
            expected,
            found: found.description(),
        }
    }

    fn expect_varint(&self, value: WireValue<'_>) -> Result<u64, ProtobufError> {
        match value {
            WireValue::Varint(number) => Ok(number),
            other => Err(self.mismatch("a varint", other)),
        }
    }

    fn expect_bytes<'a>(&self, value: WireValue<'a>) -> Result<(&'a [u8], usize), ProtobufError> {
        match value {
            WireValue::Bytes { payload, offset } => Ok((payload, offset)),
            other => Err(self.mismatch("length-delimited", other)),
        }
    }

    fn expect_string(&self, value: WireValue<'_>) -> Result<String, ProtobufError> {
        let (payload, _) = self.expect_bytes(value)?;
        std::str::from_utf8(payload)
            .map(str::to_string)
            .map_err(|_| ProtobufError::InvalidUtf8 {
                message: self.message,
                field: self.field,
                path: self.path.to_string(),
            })
    }

    fn malformed(&self, source: WireError) -> ProtobufError {
        ProtobufError::Malformed {
            message: self.message,
            path: self.path.to_string(),
            source,
        }
    }
}

const TIME_NAME: &str = "meta.v1.Time";
const QUANTITY_NAME: &str = "resource.Quantity";
const INT_OR_STRING_NAME: &str = "intstr.IntOrString";
const FIELDS_V1_NAME: &str = "meta.v1.FieldsV1";
const MAP_ENTRY_NAME: &str = "map entry";

struct Decoder {
    maximum_depth: usize,
}

impl Decoder {
    /// Decodes one message's fields into `target` (an object, possibly already holding fields
    /// of an earlier occurrence of the same message, which protobuf merges).
    fn decode_message(
        &self,
        bytes: &[u8],
        base_offset: usize,
        message_type: &'static MessageType,
        depth: usize,
        path: &str,
        target: &mut Map<String, Value>,
    ) -> Result<(), ProtobufError> {
        let mut reader = WireReader::new(bytes, base_offset);
        while let Some((number, value)) = next_field(&mut reader, message_type.name, path)? {
            let Some(field) = message_type.field(number) else {
                return Err(ProtobufError::UnknownField {
                    message: message_type.name,
                    field: number,
                    path: path.to_string(),
                });
            };
            let field_path = child_path(path, field.json_name);
            let location = Location {
                message: message_type.name,
                field: number,
                path: &field_path,
            };
            match field.shape {
                Shape::Inline => {
                    let Kind::Message(inner) = field.kind else {
                        return Err(location.unknown_field());
                    };
                    let (payload, offset) = location.expect_bytes(value)?;
                    self.check_depth(&location, depth + 1)?;
                    self.decode_message(payload, offset, inner, depth + 1, path, target)?;
                }
                Shape::OmitEmpty | Shape::Always => {
                    self.decode_singular(field, value, &location, depth, target)?;
                }
                Shape::List => {
                    let items = object_member(target, field.json_name, || Value::Array(Vec::new()));
                    if let Value::Array(items) = items {
                        self.decode_list_items(field.kind, value, &location, depth, items)?;
                    }
                }
                Shape::Map => {
                    let (payload, offset) = location.expect_bytes(value)?;
                    let (key, decoded) =
                        self.decode_map_entry(field.kind, payload, offset, &location, depth)?;
                    let entries =
                        object_member(target, field.json_name, || Value::Object(Map::new()));
                    if let Value::Object(entries) = entries {
                        entries.insert(key, decoded);
                    }
                }
            }
        }
        Ok(())
    }

    /// A field that is not repeated. A message that occurs again merges into the first, as
    /// protobuf merges; a scalar that occurs again replaces it.
    fn decode_singular(
        &self,
        field: &Field,
        value: WireValue<'_>,
        location: &Location<'_>,
        depth: usize,
        target: &mut Map<String, Value>,
    ) -> Result<(), ProtobufError> {
        if let Kind::Message(inner) = field.kind {
            let (payload, offset) = location.expect_bytes(value)?;
            self.check_depth(location, depth + 1)?;
            let object = object_member(target, field.json_name, || Value::Object(Map::new()));
            if let Value::Object(object) = object {
                self.decode_message(payload, offset, inner, depth + 1, location.path, object)?;
            }
            return Ok(());
        }
        match self.decode_value(field.kind, value, location, depth)? {
            Some(decoded) if !(field.shape == Shape::OmitEmpty && is_zero(&decoded)) => {
                target.insert(field.json_name.to_string(), decoded);
            }
            _ => {
                target.shift_remove(field.json_name);
            }
        }
        Ok(())
    }

    /// One occurrence of a repeated field: one element, or a packed run of numbers (proto2
    /// writes repeated numbers one by one; a packed run is accepted too).
    fn decode_list_items(
        &self,
        kind: Kind,
        value: WireValue<'_>,
        location: &Location<'_>,
        depth: usize,
        items: &mut Vec<Value>,
    ) -> Result<(), ProtobufError> {
        let packed = matches!(
            (kind, value),
            (
                Kind::Int32 | Kind::Int64 | Kind::Bool,
                WireValue::Bytes { .. }
            )
        );
        if packed {
            let (payload, offset) = location.expect_bytes(value)?;
            let mut packed_reader = WireReader::new(payload, offset);
            while packed_reader.position < payload.len() {
                let number = packed_reader
                    .read_varint()
                    .map_err(|source| location.malformed(source))?;
                let element = WireValue::Varint(number);
                if let Some(decoded) = self.decode_value(kind, element, location, depth)? {
                    items.push(decoded);
                }
            }
            return Ok(());
        }
        let item_path = format!("{}[{}]", location.path, items.len());
        let item_location = Location {
            path: &item_path,
            ..*location
        };
        let decoded = self
            .decode_value(kind, value, &item_location, depth)?
            .unwrap_or(Value::Null);
        items.push(decoded);
        Ok(())
    }

    fn check_depth(&self, location: &Location<'_>, depth: usize) -> Result<(), ProtobufError> {
        if depth > self.maximum_depth {
            return Err(ProtobufError::TooDeep {
                message: location.message,
                field: location.field,
                path: location.path.to_string(),
                limit: self.maximum_depth,
            });
        }
        Ok(())
    }

    /// One value of `kind`; `None` for a value Go writes as `null` (the zero time).
    fn decode_value(
        &self,
        kind: Kind,
        value: WireValue<'_>,
        location: &Location<'_>,
        depth: usize,
    ) -> Result<Option<Value>, ProtobufError> {
        let decoded = match kind {
            Kind::String => Value::String(location.expect_string(value)?),
            Kind::Bytes => {
                let (payload, _) = location.expect_bytes(value)?;
                Value::String(base64::engine::general_purpose::STANDARD.encode(payload))
            }
            // Go truncates a varint to 32 bits for an int32 field; so does this.
            Kind::Int32 => Value::from(location.expect_varint(value)? as i32),
            Kind::Int64 => Value::from(location.expect_varint(value)? as i64),
            Kind::Bool => Value::Bool(location.expect_varint(value)? != 0),
            Kind::Time => {
                let (payload, offset) = location.expect_bytes(value)?;
                self.check_depth(location, depth + 1)?;
                return decode_time(payload, offset, location);
            }
            Kind::Quantity => {
                let (payload, offset) = location.expect_bytes(value)?;
                self.check_depth(location, depth + 1)?;
                decode_quantity(payload, offset, location)?
            }
            Kind::IntOrString => {
                let (payload, offset) = location.expect_bytes(value)?;
                self.check_depth(location, depth + 1)?;
                decode_int_or_string(payload, offset, location)?
            }
            Kind::FieldsV1 => {
                let (payload, offset) = location.expect_bytes(value)?;
                self.check_depth(location, depth + 1)?;
                return decode_fields_v1(payload, offset, location);
            }
            Kind::Message(inner) => {
                let (payload, offset) = location.expect_bytes(value)?;
                self.check_depth(location, depth + 1)?;
                let mut object = Map::new();
                self.decode_message(
                    payload,
                    offset,
                    inner,
                    depth + 1,
                    location.path,
                    &mut object,
                )?;
                Value::Object(object)
            }
            Kind::Unsupported(type_name) => {
                let (payload, _) = location.expect_bytes(value)?;
                if !payload.is_empty() {
                    return Err(ProtobufError::UnsupportedMessage {
                        message: location.message,
                        field: location.field,
                        path: location.path.to_string(),
                        type_name,
                    });
                }
                Value::Object(Map::new())
            }
        };
        Ok(Some(decoded))
    }

    /// A `map<string, …>` entry: key 1, value 2; either may be absent (then it is the zero
    /// value, as Go decodes it).
    fn decode_map_entry(
        &self,
        kind: Kind,
        payload: &[u8],
        offset: usize,
        location: &Location<'_>,
        depth: usize,
    ) -> Result<(String, Value), ProtobufError> {
        let mut reader = WireReader::new(payload, offset);
        let mut key = String::new();
        let mut decoded = None;
        while let Some((number, value)) = next_field(&mut reader, MAP_ENTRY_NAME, location.path)? {
            match number {
                1 => key = location.expect_string(value)?,
                2 => decoded = Some(self.decode_value(kind, value, location, depth)?),
                _ => {
                    return Err(ProtobufError::UnknownField {
                        message: MAP_ENTRY_NAME,
                        field: number,
                        path: location.path.to_string(),
                    })
                }
            }
        }
        let decoded = match decoded {
            Some(Some(decoded)) => decoded,
            Some(None) => Value::Null,
            None => zero_value(kind),
        };
        Ok((key, decoded))
    }
}

/// What Go writes for a map value that arrived without one.
fn zero_value(kind: Kind) -> Value {
    match kind {
        Kind::String | Kind::Bytes => Value::String(String::new()),
        Kind::Int32 | Kind::Int64 | Kind::IntOrString => Value::from(0),
        Kind::Bool => Value::Bool(false),
        Kind::Quantity => Value::String("0".to_string()),
        Kind::Time | Kind::FieldsV1 => Value::Null,
        Kind::Message(_) | Kind::Unsupported(_) => Value::Object(Map::new()),
    }
}

/// Go's `omitempty` notion of an empty scalar.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_i64() == Some(0),
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(_) => false,
    }
}

/// `object[name]`, made `empty()` first unless it is already of the same JSON type.
fn object_member<'m>(
    object: &'m mut Map<String, Value>,
    name: &str,
    empty: fn() -> Value,
) -> &'m mut Value {
    let member = object.entry(name).or_insert_with(empty);
    if std::mem::discriminant(member) != std::mem::discriminant(&empty()) {
        *member = empty();
    }
    member
}

fn child_path(path: &str, json_name: &str) -> String {
    match (path, json_name) {
        (_, "") => path.to_string(),
        (".", _) => format!(".{json_name}"),
        _ => format!("{path}.{json_name}"),
    }
}

/// `metav1.Time`: seconds 1, nanos 2. Empty is Go's zero time (written `null`, so left out);
/// nanoseconds are dropped, as kube-apiserver drops them.
fn decode_time(
    payload: &[u8],
    offset: usize,
    location: &Location<'_>,
) -> Result<Option<Value>, ProtobufError> {
    if payload.is_empty() {
        return Ok(None);
    }
    let mut reader = WireReader::new(payload, offset);
    let mut seconds: i64 = 0;
    while let Some((number, value)) = next_field(&mut reader, TIME_NAME, location.path)? {
        let inner = Location {
            message: TIME_NAME,
            field: number,
            path: location.path,
        };
        match number {
            1 => seconds = inner.expect_varint(value)? as i64,
            2 => {
                inner.expect_varint(value)?;
            }
            _ => return Err(inner.unknown_field()),
        }
    }
    format_rfc3339(seconds)
        .map(|text| Some(Value::String(text)))
        .ok_or_else(|| ProtobufError::TimeOutOfRange {
            message: location.message,
            field: location.field,
            path: location.path.to_string(),
            seconds,
        })
}

/// `resource.Quantity`: string 1, passed on as sent (kubectl sends the canonical form).
fn decode_quantity(
    payload: &[u8],
    offset: usize,
    location: &Location<'_>,
) -> Result<Value, ProtobufError> {
    let mut reader = WireReader::new(payload, offset);
    let mut text = "0".to_string();
    while let Some((number, value)) = next_field(&mut reader, QUANTITY_NAME, location.path)? {
        let inner = Location {
            message: QUANTITY_NAME,
            field: number,
            path: location.path,
        };
        match number {
            1 => text = inner.expect_string(value)?,
            _ => return Err(inner.unknown_field()),
        }
    }
    Ok(Value::String(text))
}

/// `intstr.IntOrString`: type 1 (0 int, 1 string), intVal 2, strVal 3.
fn decode_int_or_string(
    payload: &[u8],
    offset: usize,
    location: &Location<'_>,
) -> Result<Value, ProtobufError> {
    let mut reader = WireReader::new(payload, offset);
    let mut type_number: i64 = 0;
    let mut integer: i32 = 0;
    let mut text = String::new();
    while let Some((number, value)) = next_field(&mut reader, INT_OR_STRING_NAME, location.path)? {
        let inner = Location {
            message: INT_OR_STRING_NAME,
            field: number,
            path: location.path,
        };
        match number {
            1 => type_number = inner.expect_varint(value)? as i64,
            2 => integer = inner.expect_varint(value)? as i32,
            3 => text = inner.expect_string(value)?,
            _ => return Err(inner.unknown_field()),
        }
    }
    match type_number {
        0 => Ok(Value::Number(Number::from(integer))),
        1 => Ok(Value::String(text)),
        _ => Err(ProtobufError::InvalidIntOrString {
            message: location.message,
            field: location.field,
            path: location.path.to_string(),
            type_number,
        }),
    }
}

/// `metav1.FieldsV1`: Raw 1, JSON bytes. Without Raw Go writes `null` (left out).
fn decode_fields_v1(
    payload: &[u8],
    offset: usize,
    location: &Location<'_>,
) -> Result<Option<Value>, ProtobufError> {
    let mut reader = WireReader::new(payload, offset);
    let mut raw = None;
    while let Some((number, value)) = next_field(&mut reader, FIELDS_V1_NAME, location.path)? {
        let inner = Location {
            message: FIELDS_V1_NAME,
            field: number,
            path: location.path,
        };
        match number {
            1 => raw = Some(inner.expect_bytes(value)?.0),
            _ => return Err(inner.unknown_field()),
        }
    }
    let Some(raw) = raw else {
        return Ok(None);
    };
    serde_json::from_slice(raw)
        .map(Some)
        .map_err(|source| ProtobufError::InvalidFieldsV1 {
            message: location.message,
            field: location.field,
            path: location.path.to_string(),
            source,
        })
}

// ---------------------------------------------------------------------------------------------
// The kinds decoded, and their messages. Field numbers are from the Kubernetes API's
// `generated.proto`; `omitempty` marks Go non-pointer `omitempty` scalars, `always` pointers and
// non-`omitempty` fields (and messages, which Go always writes).

static OBJECT_TYPES: &[(&str, &str, &MessageType)] = &[
    ("v1", "Namespace", &NAMESPACE),
    ("v1", "ConfigMap", &CONFIG_MAP),
    ("v1", "Secret", &SECRET),
    ("v1", "ServiceAccount", &SERVICE_ACCOUNT),
    ("v1", "Service", &SERVICE),
    ("v1", "Pod", &POD),
    ("v1", "ResourceQuota", &RESOURCE_QUOTA),
    ("apps/v1", "Deployment", &DEPLOYMENT),
    ("batch/v1", "Job", &JOB),
    ("batch/v1", "CronJob", &CRON_JOB),
    ("rbac.authorization.k8s.io/v1", "Role", &ROLE),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", &CLUSTER_ROLE),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", &ROLE_BINDING),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        &CLUSTER_ROLE_BINDING,
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectRulesReview",
        &SELF_SUBJECT_RULES_REVIEW,
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        &SELF_SUBJECT_ACCESS_REVIEW,
    ),
    ("authentication.k8s.io/v1", "TokenRequest", &TOKEN_REQUEST),
    ("scheduling.k8s.io/v1", "PriorityClass", &PRIORITY_CLASS),
    ("policy/v1", "PodDisruptionBudget", &POD_DISRUPTION_BUDGET),
    ("networking.k8s.io/v1", "Ingress", &INGRESS),
    (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        &HORIZONTAL_POD_AUTOSCALER,
    ),
];

static OBJECT_META: MessageType = MessageType {
    name: "meta.v1.ObjectMeta",
    fields: &[
        omitempty(1, "name", Kind::String),
        omitempty(2, "generateName", Kind::String),
        omitempty(3, "namespace", Kind::String),
        omitempty(4, "selfLink", Kind::String),
        omitempty(5, "uid", Kind::String),
        omitempty(6, "resourceVersion", Kind::String),
        omitempty(7, "generation", Kind::Int64),
        always(8, "creationTimestamp", Kind::Time),
        always(9, "deletionTimestamp", Kind::Time),
        always(10, "deletionGracePeriodSeconds", Kind::Int64),
        map(11, "labels", Kind::String),
        map(12, "annotations", Kind::String),
        list(13, "ownerReferences", Kind::Message(&OWNER_REFERENCE)),
        list(14, "finalizers", Kind::String),
        list(17, "managedFields", Kind::Message(&MANAGED_FIELDS_ENTRY)),
    ],
};
static OWNER_REFERENCE: MessageType = MessageType {
    name: "meta.v1.OwnerReference",
    fields: &[
        always(1, "kind", Kind::String),
        always(3, "name", Kind::String),
        always(4, "uid", Kind::String),
        always(5, "apiVersion", Kind::String),
        always(6, "controller", Kind::Bool),
        always(7, "blockOwnerDeletion", Kind::Bool),
    ],
};
static LABEL_SELECTOR: MessageType = MessageType {
    name: "meta.v1.LabelSelector",
    fields: &[
        map(1, "matchLabels", Kind::String),
        list(
            2,
            "matchExpressions",
            Kind::Message(&LABEL_SELECTOR_REQUIREMENT),
        ),
    ],
};
static LABEL_SELECTOR_REQUIREMENT: MessageType = MessageType {
    name: "meta.v1.LabelSelectorRequirement",
    fields: &[
        always(1, "key", Kind::String),
        always(2, "operator", Kind::String),
        list(3, "values", Kind::String),
    ],
};
static MANAGED_FIELDS_ENTRY: MessageType = MessageType {
    name: "meta.v1.ManagedFieldsEntry",
    fields: &[
        omitempty(1, "manager", Kind::String),
        omitempty(2, "operation", Kind::String),
        omitempty(3, "apiVersion", Kind::String),
        always(4, "time", Kind::Time),
        omitempty(6, "fieldsType", Kind::String),
        always(7, "fieldsV1", Kind::FieldsV1),
        omitempty(8, "subresource", Kind::String),
    ],
};
static CONDITION: MessageType = MessageType {
    name: "meta.v1.Condition",
    fields: &[
        always(1, "type", Kind::String),
        always(2, "status", Kind::String),
        omitempty(3, "observedGeneration", Kind::Int64),
        always(4, "lastTransitionTime", Kind::Time),
        always(5, "reason", Kind::String),
        always(6, "message", Kind::String),
    ],
};
static NAMESPACE: MessageType = MessageType {
    name: "core.v1.Namespace",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&NAMESPACE_SPEC)),
        always(3, "status", Kind::Message(&NAMESPACE_STATUS)),
    ],
};
static NAMESPACE_SPEC: MessageType = MessageType {
    name: "core.v1.NamespaceSpec",
    fields: &[list(1, "finalizers", Kind::String)],
};
static NAMESPACE_STATUS: MessageType = MessageType {
    name: "core.v1.NamespaceStatus",
    fields: &[
        omitempty(1, "phase", Kind::String),
        list(2, "conditions", Kind::Message(&NAMESPACE_CONDITION)),
    ],
};
static NAMESPACE_CONDITION: MessageType = MessageType {
    name: "core.v1.NamespaceCondition",
    fields: &[
        always(1, "type", Kind::String),
        always(2, "status", Kind::String),
        always(4, "lastTransitionTime", Kind::Time),
        omitempty(5, "reason", Kind::String),
        omitempty(6, "message", Kind::String),
    ],
};
static CONFIG_MAP: MessageType = MessageType {
    name: "core.v1.ConfigMap",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        map(2, "data", Kind::String),
        map(3, "binaryData", Kind::Bytes),
        always(4, "immutable", Kind::Bool),
    ],
};
static SECRET: MessageType = MessageType {
    name: "core.v1.Secret",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        map(2, "data", Kind::Bytes),
        omitempty(3, "type", Kind::String),
        map(4, "stringData", Kind::String),
        always(5, "immutable", Kind::Bool),
    ],
};
static SERVICE_ACCOUNT: MessageType = MessageType {
    name: "core.v1.ServiceAccount",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        list(2, "secrets", Kind::Message(&OBJECT_REFERENCE)),
        list(
            3,
            "imagePullSecrets",
            Kind::Message(&LOCAL_OBJECT_REFERENCE),
        ),
        always(4, "automountServiceAccountToken", Kind::Bool),
    ],
};
static OBJECT_REFERENCE: MessageType = MessageType {
    name: "core.v1.ObjectReference",
    fields: &[
        omitempty(1, "kind", Kind::String),
        omitempty(2, "namespace", Kind::String),
        omitempty(3, "name", Kind::String),
        omitempty(4, "uid", Kind::String),
        omitempty(5, "apiVersion", Kind::String),
        omitempty(6, "resourceVersion", Kind::String),
        omitempty(7, "fieldPath", Kind::String),
    ],
};
static LOCAL_OBJECT_REFERENCE: MessageType = MessageType {
    name: "core.v1.LocalObjectReference",
    fields: &[omitempty(1, "name", Kind::String)],
};
static TYPED_LOCAL_OBJECT_REFERENCE: MessageType = MessageType {
    name: "core.v1.TypedLocalObjectReference",
    fields: &[
        always(1, "apiGroup", Kind::String),
        always(2, "kind", Kind::String),
        always(3, "name", Kind::String),
    ],
};
static SERVICE: MessageType = MessageType {
    name: "core.v1.Service",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&SERVICE_SPEC)),
        always(3, "status", Kind::Message(&SERVICE_STATUS)),
    ],
};
static SERVICE_SPEC: MessageType = MessageType {
    name: "core.v1.ServiceSpec",
    fields: &[
        list(1, "ports", Kind::Message(&SERVICE_PORT)),
        map(2, "selector", Kind::String),
        omitempty(3, "clusterIP", Kind::String),
        omitempty(4, "type", Kind::String),
        list(5, "externalIPs", Kind::String),
        omitempty(7, "sessionAffinity", Kind::String),
        omitempty(8, "loadBalancerIP", Kind::String),
        list(9, "loadBalancerSourceRanges", Kind::String),
        omitempty(10, "externalName", Kind::String),
        omitempty(11, "externalTrafficPolicy", Kind::String),
        omitempty(12, "healthCheckNodePort", Kind::Int32),
        omitempty(13, "publishNotReadyAddresses", Kind::Bool),
        always(
            14,
            "sessionAffinityConfig",
            Kind::Message(&SESSION_AFFINITY_CONFIG),
        ),
        always(17, "ipFamilyPolicy", Kind::String),
        list(18, "clusterIPs", Kind::String),
        list(19, "ipFamilies", Kind::String),
        always(20, "allocateLoadBalancerNodePorts", Kind::Bool),
        always(21, "loadBalancerClass", Kind::String),
        always(22, "internalTrafficPolicy", Kind::String),
        always(23, "trafficDistribution", Kind::String),
    ],
};
static SERVICE_PORT: MessageType = MessageType {
    name: "core.v1.ServicePort",
    fields: &[
        omitempty(1, "name", Kind::String),
        omitempty(2, "protocol", Kind::String),
        always(3, "port", Kind::Int32),
        always(4, "targetPort", Kind::IntOrString),
        omitempty(5, "nodePort", Kind::Int32),
        always(6, "appProtocol", Kind::String),
    ],
};
static SESSION_AFFINITY_CONFIG: MessageType = MessageType {
    name: "core.v1.SessionAffinityConfig",
    fields: &[always(1, "clientIP", Kind::Message(&CLIENT_IP_CONFIG))],
};
static CLIENT_IP_CONFIG: MessageType = MessageType {
    name: "core.v1.ClientIPConfig",
    fields: &[always(1, "timeoutSeconds", Kind::Int32)],
};
static SERVICE_STATUS: MessageType = MessageType {
    name: "core.v1.ServiceStatus",
    fields: &[
        always(1, "loadBalancer", Kind::Message(&LOAD_BALANCER_STATUS)),
        list(2, "conditions", Kind::Message(&CONDITION)),
    ],
};
static LOAD_BALANCER_STATUS: MessageType = MessageType {
    name: "core.v1.LoadBalancerStatus",
    fields: &[list(1, "ingress", Kind::Message(&LOAD_BALANCER_INGRESS))],
};
static LOAD_BALANCER_INGRESS: MessageType = MessageType {
    name: "core.v1.LoadBalancerIngress",
    fields: &[
        omitempty(1, "ip", Kind::String),
        omitempty(2, "hostname", Kind::String),
        always(3, "ipMode", Kind::String),
        list(4, "ports", Kind::Message(&PORT_STATUS)),
    ],
};
static PORT_STATUS: MessageType = MessageType {
    name: "core.v1.PortStatus",
    fields: &[
        always(1, "port", Kind::Int32),
        always(2, "protocol", Kind::String),
        always(3, "error", Kind::String),
    ],
};
static POD: MessageType = MessageType {
    name: "core.v1.Pod",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&POD_SPEC)),
        always(3, "status", Kind::Message(&POD_STATUS)),
    ],
};
static POD_SPEC: MessageType = MessageType {
    name: "core.v1.PodSpec",
    fields: &[
        list(1, "volumes", Kind::Message(&VOLUME)),
        list(2, "containers", Kind::Message(&CONTAINER)),
        omitempty(3, "restartPolicy", Kind::String),
        always(4, "terminationGracePeriodSeconds", Kind::Int64),
        always(5, "activeDeadlineSeconds", Kind::Int64),
        omitempty(6, "dnsPolicy", Kind::String),
        map(7, "nodeSelector", Kind::String),
        omitempty(8, "serviceAccountName", Kind::String),
        omitempty(9, "serviceAccount", Kind::String),
        omitempty(10, "nodeName", Kind::String),
        omitempty(11, "hostNetwork", Kind::Bool),
        omitempty(12, "hostPID", Kind::Bool),
        omitempty(13, "hostIPC", Kind::Bool),
        always(14, "securityContext", Kind::Message(&POD_SECURITY_CONTEXT)),
        list(
            15,
            "imagePullSecrets",
            Kind::Message(&LOCAL_OBJECT_REFERENCE),
        ),
        omitempty(16, "hostname", Kind::String),
        omitempty(17, "subdomain", Kind::String),
        always(18, "affinity", Kind::Message(&AFFINITY)),
        omitempty(19, "schedulerName", Kind::String),
        list(20, "initContainers", Kind::Message(&CONTAINER)),
        always(21, "automountServiceAccountToken", Kind::Bool),
        list(22, "tolerations", Kind::Message(&TOLERATION)),
        list(23, "hostAliases", Kind::Message(&HOST_ALIAS)),
        omitempty(24, "priorityClassName", Kind::String),
        always(25, "priority", Kind::Int32),
        always(26, "dnsConfig", Kind::Message(&POD_DNS_CONFIG)),
        always(27, "shareProcessNamespace", Kind::Bool),
        list(28, "readinessGates", Kind::Message(&POD_READINESS_GATE)),
        always(29, "runtimeClassName", Kind::String),
        always(30, "enableServiceLinks", Kind::Bool),
        always(31, "preemptionPolicy", Kind::String),
        map(32, "overhead", Kind::Quantity),
        list(
            33,
            "topologySpreadConstraints",
            Kind::Message(&TOPOLOGY_SPREAD_CONSTRAINT),
        ),
        list(
            34,
            "ephemeralContainers",
            Kind::Message(&EPHEMERAL_CONTAINER),
        ),
        always(35, "setHostnameAsFQDN", Kind::Bool),
        always(36, "os", Kind::Message(&POD_OS)),
        always(37, "hostUsers", Kind::Bool),
        list(38, "schedulingGates", Kind::Message(&POD_SCHEDULING_GATE)),
        list(39, "resourceClaims", Kind::Message(&POD_RESOURCE_CLAIM)),
        always(40, "resources", Kind::Message(&RESOURCE_REQUIREMENTS)),
        always(41, "hostnameOverride", Kind::String),
        always(
            43,
            "schedulingGroup",
            Kind::Unsupported("core.v1.PodSchedulingGroup"),
        ),
        list(
            44,
            "evictionResponders",
            Kind::Unsupported("core.v1.EvictionResponder"),
        ),
    ],
};
static POD_TEMPLATE_SPEC: MessageType = MessageType {
    name: "core.v1.PodTemplateSpec",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&POD_SPEC)),
    ],
};
static CONTAINER: MessageType = MessageType {
    name: "core.v1.Container",
    fields: &[
        always(1, "name", Kind::String),
        omitempty(2, "image", Kind::String),
        list(3, "command", Kind::String),
        list(4, "args", Kind::String),
        omitempty(5, "workingDir", Kind::String),
        list(6, "ports", Kind::Message(&CONTAINER_PORT)),
        list(7, "env", Kind::Message(&ENV_VAR)),
        always(8, "resources", Kind::Message(&RESOURCE_REQUIREMENTS)),
        list(9, "volumeMounts", Kind::Message(&VOLUME_MOUNT)),
        always(10, "livenessProbe", Kind::Message(&PROBE)),
        always(11, "readinessProbe", Kind::Message(&PROBE)),
        always(12, "lifecycle", Kind::Message(&LIFECYCLE)),
        omitempty(13, "terminationMessagePath", Kind::String),
        omitempty(14, "imagePullPolicy", Kind::String),
        always(15, "securityContext", Kind::Message(&SECURITY_CONTEXT)),
        omitempty(16, "stdin", Kind::Bool),
        omitempty(17, "stdinOnce", Kind::Bool),
        omitempty(18, "tty", Kind::Bool),
        list(19, "envFrom", Kind::Message(&ENV_FROM_SOURCE)),
        omitempty(20, "terminationMessagePolicy", Kind::String),
        list(21, "volumeDevices", Kind::Message(&VOLUME_DEVICE)),
        always(22, "startupProbe", Kind::Message(&PROBE)),
        list(23, "resizePolicy", Kind::Message(&CONTAINER_RESIZE_POLICY)),
        always(24, "restartPolicy", Kind::String),
        list(
            25,
            "restartPolicyRules",
            Kind::Unsupported("core.v1.ContainerRestartRule"),
        ),
    ],
};
static CONTAINER_PORT: MessageType = MessageType {
    name: "core.v1.ContainerPort",
    fields: &[
        omitempty(1, "name", Kind::String),
        omitempty(2, "hostPort", Kind::Int32),
        always(3, "containerPort", Kind::Int32),
        omitempty(4, "protocol", Kind::String),
        omitempty(5, "hostIP", Kind::String),
    ],
};
static ENV_VAR: MessageType = MessageType {
    name: "core.v1.EnvVar",
    fields: &[
        always(1, "name", Kind::String),
        omitempty(2, "value", Kind::String),
        always(3, "valueFrom", Kind::Message(&ENV_VAR_SOURCE)),
    ],
};
static ENV_VAR_SOURCE: MessageType = MessageType {
    name: "core.v1.EnvVarSource",
    fields: &[
        always(1, "fieldRef", Kind::Message(&OBJECT_FIELD_SELECTOR)),
        always(
            2,
            "resourceFieldRef",
            Kind::Message(&RESOURCE_FIELD_SELECTOR),
        ),
        always(
            3,
            "configMapKeyRef",
            Kind::Message(&CONFIG_MAP_KEY_SELECTOR),
        ),
        always(4, "secretKeyRef", Kind::Message(&SECRET_KEY_SELECTOR)),
        always(
            5,
            "fileKeyRef",
            Kind::Unsupported("core.v1.FileKeySelector"),
        ),
    ],
};
static CONFIG_MAP_KEY_SELECTOR: MessageType = MessageType {
    name: "core.v1.ConfigMapKeySelector",
    fields: &[
        inline(1, &LOCAL_OBJECT_REFERENCE),
        always(2, "key", Kind::String),
        always(3, "optional", Kind::Bool),
    ],
};
static SECRET_KEY_SELECTOR: MessageType = MessageType {
    name: "core.v1.SecretKeySelector",
    fields: &[
        inline(1, &LOCAL_OBJECT_REFERENCE),
        always(2, "key", Kind::String),
        always(3, "optional", Kind::Bool),
    ],
};
static OBJECT_FIELD_SELECTOR: MessageType = MessageType {
    name: "core.v1.ObjectFieldSelector",
    fields: &[
        omitempty(1, "apiVersion", Kind::String),
        always(2, "fieldPath", Kind::String),
    ],
};
static RESOURCE_FIELD_SELECTOR: MessageType = MessageType {
    name: "core.v1.ResourceFieldSelector",
    fields: &[
        omitempty(1, "containerName", Kind::String),
        always(2, "resource", Kind::String),
        always(3, "divisor", Kind::Quantity),
    ],
};
static ENV_FROM_SOURCE: MessageType = MessageType {
    name: "core.v1.EnvFromSource",
    fields: &[
        omitempty(1, "prefix", Kind::String),
        always(2, "configMapRef", Kind::Message(&CONFIG_MAP_ENV_SOURCE)),
        always(3, "secretRef", Kind::Message(&SECRET_ENV_SOURCE)),
    ],
};
static CONFIG_MAP_ENV_SOURCE: MessageType = MessageType {
    name: "core.v1.ConfigMapEnvSource",
    fields: &[
        inline(1, &LOCAL_OBJECT_REFERENCE),
        always(2, "optional", Kind::Bool),
    ],
};
static SECRET_ENV_SOURCE: MessageType = MessageType {
    name: "core.v1.SecretEnvSource",
    fields: &[
        inline(1, &LOCAL_OBJECT_REFERENCE),
        always(2, "optional", Kind::Bool),
    ],
};
static RESOURCE_REQUIREMENTS: MessageType = MessageType {
    name: "core.v1.ResourceRequirements",
    fields: &[
        map(1, "limits", Kind::Quantity),
        map(2, "requests", Kind::Quantity),
        list(3, "claims", Kind::Message(&RESOURCE_CLAIM)),
    ],
};
static RESOURCE_CLAIM: MessageType = MessageType {
    name: "core.v1.ResourceClaim",
    fields: &[
        always(1, "name", Kind::String),
        omitempty(2, "request", Kind::String),
    ],
};
static VOLUME_MOUNT: MessageType = MessageType {
    name: "core.v1.VolumeMount",
    fields: &[
        always(1, "name", Kind::String),
        omitempty(2, "readOnly", Kind::Bool),
        always(3, "mountPath", Kind::String),
        omitempty(4, "subPath", Kind::String),
        always(5, "mountPropagation", Kind::String),
        omitempty(6, "subPathExpr", Kind::String),
        always(7, "recursiveReadOnly", Kind::String),
        list(8, "bindMountOptions", Kind::String),
    ],
};
static VOLUME_DEVICE: MessageType = MessageType {
    name: "core.v1.VolumeDevice",
    fields: &[
        always(1, "name", Kind::String),
        always(2, "devicePath", Kind::String),
    ],
};
static VOLUME: MessageType = MessageType {
    name: "core.v1.Volume",
    fields: &[always(1, "name", Kind::String), inline(2, &VOLUME_SOURCE)],
};
static VOLUME_SOURCE: MessageType = MessageType {
    name: "core.v1.VolumeSource",
    fields: &[
        always(1, "hostPath", Kind::Message(&HOST_PATH_VOLUME_SOURCE)),
        always(2, "emptyDir", Kind::Message(&EMPTY_DIR_VOLUME_SOURCE)),
        always(
            3,
            "gcePersistentDisk",
            Kind::Unsupported("core.v1.GCEPersistentDiskVolumeSource"),
        ),
        always(
            4,
            "awsElasticBlockStore",
            Kind::Unsupported("core.v1.AWSElasticBlockStoreVolumeSource"),
        ),
        always(
            5,
            "gitRepo",
            Kind::Unsupported("core.v1.GitRepoVolumeSource"),
        ),
        always(6, "secret", Kind::Message(&SECRET_VOLUME_SOURCE)),
        always(7, "nfs", Kind::Unsupported("core.v1.NFSVolumeSource")),
        always(8, "iscsi", Kind::Unsupported("core.v1.ISCSIVolumeSource")),
        always(
            9,
            "glusterfs",
            Kind::Unsupported("core.v1.GlusterfsVolumeSource"),
        ),
        always(
            10,
            "persistentVolumeClaim",
            Kind::Message(&PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE),
        ),
        always(11, "rbd", Kind::Unsupported("core.v1.RBDVolumeSource")),
        always(
            12,
            "flexVolume",
            Kind::Unsupported("core.v1.FlexVolumeSource"),
        ),
        always(
            13,
            "cinder",
            Kind::Unsupported("core.v1.CinderVolumeSource"),
        ),
        always(
            14,
            "cephfs",
            Kind::Unsupported("core.v1.CephFSVolumeSource"),
        ),
        always(
            15,
            "flocker",
            Kind::Unsupported("core.v1.FlockerVolumeSource"),
        ),
        always(
            16,
            "downwardAPI",
            Kind::Message(&DOWNWARD_API_VOLUME_SOURCE),
        ),
        always(17, "fc", Kind::Unsupported("core.v1.FCVolumeSource")),
        always(
            18,
            "azureFile",
            Kind::Unsupported("core.v1.AzureFileVolumeSource"),
        ),
        always(19, "configMap", Kind::Message(&CONFIG_MAP_VOLUME_SOURCE)),
        always(
            20,
            "vsphereVolume",
            Kind::Unsupported("core.v1.VsphereVirtualDiskVolumeSource"),
        ),
        always(
            21,
            "quobyte",
            Kind::Unsupported("core.v1.QuobyteVolumeSource"),
        ),
        always(
            22,
            "azureDisk",
            Kind::Unsupported("core.v1.AzureDiskVolumeSource"),
        ),
        always(
            23,
            "photonPersistentDisk",
            Kind::Unsupported("core.v1.PhotonPersistentDiskVolumeSource"),
        ),
        always(
            24,
            "portworxVolume",
            Kind::Unsupported("core.v1.PortworxVolumeSource"),
        ),
        always(
            25,
            "scaleIO",
            Kind::Unsupported("core.v1.ScaleIOVolumeSource"),
        ),
        always(26, "projected", Kind::Message(&PROJECTED_VOLUME_SOURCE)),
        always(
            27,
            "storageos",
            Kind::Unsupported("core.v1.StorageOSVolumeSource"),
        ),
        always(28, "csi", Kind::Unsupported("core.v1.CSIVolumeSource")),
        always(
            29,
            "ephemeral",
            Kind::Unsupported("core.v1.EphemeralVolumeSource"),
        ),
        always(30, "image", Kind::Unsupported("core.v1.ImageVolumeSource")),
    ],
};
static HOST_PATH_VOLUME_SOURCE: MessageType = MessageType {
    name: "core.v1.HostPathVolumeSource",
    fields: &[
        always(1, "path", Kind::String),
        always(2, "type", Kind::String),
    ],
};
static EMPTY_DIR_VOLUME_SOURCE: MessageType = MessageType {
    name: "core.v1.EmptyDirVolumeSource",
    fields: &[
        omitempty(1, "medium", Kind::String),
        always(2, "sizeLimit", Kind::Quantity),
        always(3, "mode", Kind::Int32),
    ],
};
static SECRET_VOLUME_SOURCE: MessageType = MessageType {
    name: "core.v1.SecretVolumeSource",
    fields: &[
        omitempty(1, "secretName", Kind::String),
        list(2, "items", Kind::Message(&KEY_TO_PATH)),
        always(3, "defaultMode", Kind::Int32),
        always(4, "optional", Kind::Bool),
        always(5, "defaultUser", Kind::Int64),
    ],
};
static CONFIG_MAP_VOLUME_SOURCE: MessageType = MessageType {
    name: "core.v1.ConfigMapVolumeSource",
    fields: &[
        inline(1, &LOCAL_OBJECT_REFERENCE),
        list(2, "items", Kind::Message(&KEY_TO_PATH)),
        always(3, "defaultMode", Kind::Int32),
        always(4, "optional", Kind::Bool),
        always(5, "defaultUser", Kind::Int64),
    ],
};
static KEY_TO_PATH: MessageType = MessageType {
    name: "core.v1.KeyToPath",
    fields: &[
        always(1, "key", Kind::String),
        always(2, "path", Kind::String),
        always(3, "mode", Kind::Int32),
        always(4, "user", Kind::Int64),
    ],
};
static PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: MessageType = MessageType {
    name: "core.v1.PersistentVolumeClaimVolumeSource",
    fields: &[
        always(1, "claimName", Kind::String),
        omitempty(2, "readOnly", Kind::Bool),
    ],
};
static DOWNWARD_API_VOLUME_SOURCE: MessageType = MessageType {
    name: "core.v1.DownwardAPIVolumeSource",
    fields: &[
        list(1, "items", Kind::Message(&DOWNWARD_API_VOLUME_FILE)),
        always(2, "defaultMode", Kind::Int32),
        always(3, "defaultUser", Kind::Int64),
    ],
};
static DOWNWARD_API_VOLUME_FILE: MessageType = MessageType {
    name: "core.v1.DownwardAPIVolumeFile",
    fields: &[
        always(1, "path", Kind::String),
        always(2, "fieldRef", Kind::Message(&OBJECT_FIELD_SELECTOR)),
        always(
            3,
            "resourceFieldRef",
            Kind::Message(&RESOURCE_FIELD_SELECTOR),
        ),
        always(4, "mode", Kind::Int32),
        always(5, "user", Kind::Int64),
    ],
};
static PROJECTED_VOLUME_SOURCE: MessageType = MessageType {
    name: "core.v1.ProjectedVolumeSource",
    fields: &[
        list(1, "sources", Kind::Message(&VOLUME_PROJECTION)),
        always(2, "defaultMode", Kind::Int32),
        always(3, "defaultUser", Kind::Int64),
    ],
};
static VOLUME_PROJECTION: MessageType = MessageType {
    name: "core.v1.VolumeProjection",
    fields: &[
        always(1, "secret", Kind::Message(&SECRET_PROJECTION)),
        always(2, "downwardAPI", Kind::Message(&DOWNWARD_API_PROJECTION)),
        always(3, "configMap", Kind::Message(&CONFIG_MAP_PROJECTION)),
        always(
            4,
            "serviceAccountToken",
            Kind::Message(&SERVICE_ACCOUNT_TOKEN_PROJECTION),
        ),
        always(
            5,
            "clusterTrustBundle",
            Kind::Unsupported("core.v1.ClusterTrustBundleProjection"),
        ),
        always(
            6,
            "podCertificate",
            Kind::Unsupported("core.v1.PodCertificateProjection"),
        ),
    ],
};
static SECRET_PROJECTION: MessageType = MessageType {
    name: "core.v1.SecretProjection",
    fields: &[
        inline(1, &LOCAL_OBJECT_REFERENCE),
        list(2, "items", Kind::Message(&KEY_TO_PATH)),
        always(4, "optional", Kind::Bool),
    ],
};
static CONFIG_MAP_PROJECTION: MessageType = MessageType {
    name: "core.v1.ConfigMapProjection",
    fields: &[
        inline(1, &LOCAL_OBJECT_REFERENCE),
        list(2, "items", Kind::Message(&KEY_TO_PATH)),
        always(4, "optional", Kind::Bool),
    ],
};
static DOWNWARD_API_PROJECTION: MessageType = MessageType {
    name: "core.v1.DownwardAPIProjection",
    fields: &[list(1, "items", Kind::Message(&DOWNWARD_API_VOLUME_FILE))],
};
static SERVICE_ACCOUNT_TOKEN_PROJECTION: MessageType = MessageType {
    name: "core.v1.ServiceAccountTokenProjection",
    fields: &[
        omitempty(1, "audience", Kind::String),
        always(2, "expirationSeconds", Kind::Int64),
        always(3, "path", Kind::String),
        always(4, "user", Kind::Int64),
    ],
};
static SECURITY_CONTEXT: MessageType = MessageType {
    name: "core.v1.SecurityContext",
    fields: &[
        always(1, "capabilities", Kind::Message(&CAPABILITIES)),
        always(2, "privileged", Kind::Bool),
        always(3, "seLinuxOptions", Kind::Message(&SE_LINUX_OPTIONS)),
        always(4, "runAsUser", Kind::Int64),
        always(5, "runAsNonRoot", Kind::Bool),
        always(6, "readOnlyRootFilesystem", Kind::Bool),
        always(7, "allowPrivilegeEscalation", Kind::Bool),
        always(8, "runAsGroup", Kind::Int64),
        always(9, "procMount", Kind::String),
        always(
            10,
            "windowsOptions",
            Kind::Message(&WINDOWS_SECURITY_CONTEXT_OPTIONS),
        ),
        always(11, "seccompProfile", Kind::Message(&SECCOMP_PROFILE)),
        always(12, "appArmorProfile", Kind::Message(&APP_ARMOR_PROFILE)),
    ],
};
static CAPABILITIES: MessageType = MessageType {
    name: "core.v1.Capabilities",
    fields: &[list(1, "add", Kind::String), list(2, "drop", Kind::String)],
};
static SE_LINUX_OPTIONS: MessageType = MessageType {
    name: "core.v1.SELinuxOptions",
    fields: &[
        omitempty(1, "user", Kind::String),
        omitempty(2, "role", Kind::String),
        omitempty(3, "type", Kind::String),
        omitempty(4, "level", Kind::String),
    ],
};
static SECCOMP_PROFILE: MessageType = MessageType {
    name: "core.v1.SeccompProfile",
    fields: &[
        always(1, "type", Kind::String),
        always(2, "localhostProfile", Kind::String),
    ],
};
static APP_ARMOR_PROFILE: MessageType = MessageType {
    name: "core.v1.AppArmorProfile",
    fields: &[
        always(1, "type", Kind::String),
        always(2, "localhostProfile", Kind::String),
    ],
};
static WINDOWS_SECURITY_CONTEXT_OPTIONS: MessageType = MessageType {
    name: "core.v1.WindowsSecurityContextOptions",
    fields: &[
        always(1, "gmsaCredentialSpecName", Kind::String),
        always(2, "gmsaCredentialSpec", Kind::String),
        always(3, "runAsUserName", Kind::String),
        always(4, "hostProcess", Kind::Bool),
    ],
};
static POD_SECURITY_CONTEXT: MessageType = MessageType {
    name: "core.v1.PodSecurityContext",
    fields: &[
        always(1, "seLinuxOptions", Kind::Message(&SE_LINUX_OPTIONS)),
        always(2, "runAsUser", Kind::Int64),
        always(3, "runAsNonRoot", Kind::Bool),
        list(4, "supplementalGroups", Kind::Int64),
        always(5, "fsGroup", Kind::Int64),
        always(6, "runAsGroup", Kind::Int64),
        list(7, "sysctls", Kind::Message(&SYSCTL)),
        always(
            8,
            "windowsOptions",
            Kind::Message(&WINDOWS_SECURITY_CONTEXT_OPTIONS),
        ),
        always(9, "fsGroupChangePolicy", Kind::String),
        always(10, "seccompProfile", Kind::Message(&SECCOMP_PROFILE)),
        always(11, "appArmorProfile", Kind::Message(&APP_ARMOR_PROFILE)),
        always(12, "supplementalGroupsPolicy", Kind::String),
        always(13, "seLinuxChangePolicy", Kind::String),
    ],
};
static SYSCTL: MessageType = MessageType {
    name: "core.v1.Sysctl",
    fields: &[
        always(1, "name", Kind::String),
        always(2, "value", Kind::String),
    ],
};
static PROBE: MessageType = MessageType {
    name: "core.v1.Probe",
    fields: &[
        inline(1, &PROBE_HANDLER),
        omitempty(2, "initialDelaySeconds", Kind::Int32),
        omitempty(3, "timeoutSeconds", Kind::Int32),
        omitempty(4, "periodSeconds", Kind::Int32),
        omitempty(5, "successThreshold", Kind::Int32),
        omitempty(6, "failureThreshold", Kind::Int32),
        always(7, "terminationGracePeriodSeconds", Kind::Int64),
    ],
};
static PROBE_HANDLER: MessageType = MessageType {
    name: "core.v1.ProbeHandler",
    fields: &[
        always(1, "exec", Kind::Message(&EXEC_ACTION)),
        always(2, "httpGet", Kind::Message(&HTTP_GET_ACTION)),
        always(3, "tcpSocket", Kind::Message(&TCP_SOCKET_ACTION)),
        always(4, "grpc", Kind::Message(&GRPC_ACTION)),
    ],
};
static EXEC_ACTION: MessageType = MessageType {
    name: "core.v1.ExecAction",
    fields: &[list(1, "command", Kind::String)],
};
static HTTP_GET_ACTION: MessageType = MessageType {
    name: "core.v1.HTTPGetAction",
    fields: &[
        omitempty(1, "path", Kind::String),
        always(2, "port", Kind::IntOrString),
        omitempty(3, "host", Kind::String),
        omitempty(4, "scheme", Kind::String),
        list(5, "httpHeaders", Kind::Message(&HTTP_HEADER)),
        always(6, "protocol", Kind::String),
    ],
};
static HTTP_HEADER: MessageType = MessageType {
    name: "core.v1.HTTPHeader",
    fields: &[
        always(1, "name", Kind::String),
        always(2, "value", Kind::String),
    ],
};
static TCP_SOCKET_ACTION: MessageType = MessageType {
    name: "core.v1.TCPSocketAction",
    fields: &[
        always(1, "port", Kind::IntOrString),
        omitempty(2, "host", Kind::String),
    ],
};
static GRPC_ACTION: MessageType = MessageType {
    name: "core.v1.GRPCAction",
    fields: &[
        always(1, "port", Kind::Int32),
        always(2, "service", Kind::String),
        always(3, "mode", Kind::String),
    ],
};
static LIFECYCLE: MessageType = MessageType {
    name: "core.v1.Lifecycle",
    fields: &[
        always(1, "postStart", Kind::Message(&LIFECYCLE_HANDLER)),
        always(2, "preStop", Kind::Message(&LIFECYCLE_HANDLER)),
        always(3, "stopSignal", Kind::String),
    ],
};
static LIFECYCLE_HANDLER: MessageType = MessageType {
    name: "core.v1.LifecycleHandler",
    fields: &[
        always(1, "exec", Kind::Message(&EXEC_ACTION)),
        always(2, "httpGet", Kind::Message(&HTTP_GET_ACTION)),
        always(3, "tcpSocket", Kind::Message(&TCP_SOCKET_ACTION)),
        always(4, "sleep", Kind::Message(&SLEEP_ACTION)),
    ],
};
static SLEEP_ACTION: MessageType = MessageType {
    name: "core.v1.SleepAction",
    fields: &[always(1, "seconds", Kind::Int64)],
};
static TOLERATION: MessageType = MessageType {
    name: "core.v1.Toleration",
    fields: &[
        omitempty(1, "key", Kind::String),
        omitempty(2, "operator", Kind::String),
        omitempty(3, "value", Kind::String),
        omitempty(4, "effect", Kind::String),
        always(5, "tolerationSeconds", Kind::Int64),
    ],
};
static AFFINITY: MessageType = MessageType {
    name: "core.v1.Affinity",
    fields: &[
        always(1, "nodeAffinity", Kind::Message(&NODE_AFFINITY)),
        always(2, "podAffinity", Kind::Message(&POD_AFFINITY)),
        always(3, "podAntiAffinity", Kind::Message(&POD_ANTI_AFFINITY)),
    ],
};
static NODE_AFFINITY: MessageType = MessageType {
    name: "core.v1.NodeAffinity",
    fields: &[
        always(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Kind::Message(&NODE_SELECTOR),
        ),
        list(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Kind::Message(&PREFERRED_SCHEDULING_TERM),
        ),
    ],
};
static NODE_SELECTOR: MessageType = MessageType {
    name: "core.v1.NodeSelector",
    fields: &[list(
        1,
        "nodeSelectorTerms",
        Kind::Message(&NODE_SELECTOR_TERM),
    )],
};
static NODE_SELECTOR_TERM: MessageType = MessageType {
    name: "core.v1.NodeSelectorTerm",
    fields: &[
        list(
            1,
            "matchExpressions",
            Kind::Message(&NODE_SELECTOR_REQUIREMENT),
        ),
        list(2, "matchFields", Kind::Message(&NODE_SELECTOR_REQUIREMENT)),
    ],
};
static NODE_SELECTOR_REQUIREMENT: MessageType = MessageType {
    name: "core.v1.NodeSelectorRequirement",
    fields: &[
        always(1, "key", Kind::String),
        always(2, "operator", Kind::String),
        list(3, "values", Kind::String),
    ],
};
static PREFERRED_SCHEDULING_TERM: MessageType = MessageType {
    name: "core.v1.PreferredSchedulingTerm",
    fields: &[
        always(1, "weight", Kind::Int32),
        always(2, "preference", Kind::Message(&NODE_SELECTOR_TERM)),
    ],
};
static POD_AFFINITY: MessageType = MessageType {
    name: "core.v1.PodAffinity",
    fields: &[
        list(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Kind::Message(&POD_AFFINITY_TERM),
        ),
        list(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Kind::Message(&WEIGHTED_POD_AFFINITY_TERM),
        ),
    ],
};
static POD_ANTI_AFFINITY: MessageType = MessageType {
    name: "core.v1.PodAntiAffinity",
    fields: &[
        list(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Kind::Message(&POD_AFFINITY_TERM),
        ),
        list(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Kind::Message(&WEIGHTED_POD_AFFINITY_TERM),
        ),
    ],
};
static POD_AFFINITY_TERM: MessageType = MessageType {
    name: "core.v1.PodAffinityTerm",
    fields: &[
        always(1, "labelSelector", Kind::Message(&LABEL_SELECTOR)),
        list(2, "namespaces", Kind::String),
        always(3, "topologyKey", Kind::String),
        always(4, "namespaceSelector", Kind::Message(&LABEL_SELECTOR)),
        list(5, "matchLabelKeys", Kind::String),
        list(6, "mismatchLabelKeys", Kind::String),
    ],
};
static WEIGHTED_POD_AFFINITY_TERM: MessageType = MessageType {
    name: "core.v1.WeightedPodAffinityTerm",
    fields: &[
        always(1, "weight", Kind::Int32),
        always(2, "podAffinityTerm", Kind::Message(&POD_AFFINITY_TERM)),
    ],
};
static TOPOLOGY_SPREAD_CONSTRAINT: MessageType = MessageType {
    name: "core.v1.TopologySpreadConstraint",
    fields: &[
        always(1, "maxSkew", Kind::Int32),
        always(2, "topologyKey", Kind::String),
        always(3, "whenUnsatisfiable", Kind::String),
        always(4, "labelSelector", Kind::Message(&LABEL_SELECTOR)),
        always(5, "minDomains", Kind::Int32),
        always(6, "nodeAffinityPolicy", Kind::String),
        always(7, "nodeTaintsPolicy", Kind::String),
        list(8, "matchLabelKeys", Kind::String),
    ],
};
static HOST_ALIAS: MessageType = MessageType {
    name: "core.v1.HostAlias",
    fields: &[
        always(1, "ip", Kind::String),
        list(2, "hostnames", Kind::String),
    ],
};
static POD_DNS_CONFIG: MessageType = MessageType {
    name: "core.v1.PodDNSConfig",
    fields: &[
        list(1, "nameservers", Kind::String),
        list(2, "searches", Kind::String),
        list(3, "options", Kind::Message(&POD_DNS_CONFIG_OPTION)),
    ],
};
static POD_DNS_CONFIG_OPTION: MessageType = MessageType {
    name: "core.v1.PodDNSConfigOption",
    fields: &[
        omitempty(1, "name", Kind::String),
        always(2, "value", Kind::String),
    ],
};
static POD_READINESS_GATE: MessageType = MessageType {
    name: "core.v1.PodReadinessGate",
    fields: &[always(1, "conditionType", Kind::String)],
};
static POD_OS: MessageType = MessageType {
    name: "core.v1.PodOS",
    fields: &[always(1, "name", Kind::String)],
};
static POD_SCHEDULING_GATE: MessageType = MessageType {
    name: "core.v1.PodSchedulingGate",
    fields: &[always(1, "name", Kind::String)],
};
static CONTAINER_RESIZE_POLICY: MessageType = MessageType {
    name: "core.v1.ContainerResizePolicy",
    fields: &[
        always(1, "resourceName", Kind::String),
        always(2, "restartPolicy", Kind::String),
    ],
};
static POD_STATUS: MessageType = MessageType {
    name: "core.v1.PodStatus",
    fields: &[
        omitempty(1, "phase", Kind::String),
        list(2, "conditions", Kind::Message(&POD_CONDITION)),
        omitempty(3, "message", Kind::String),
        omitempty(4, "reason", Kind::String),
        omitempty(5, "hostIP", Kind::String),
        omitempty(6, "podIP", Kind::String),
        always(7, "startTime", Kind::Time),
        list(8, "containerStatuses", Kind::Message(&CONTAINER_STATUS)),
        omitempty(9, "qosClass", Kind::String),
        list(
            10,
            "initContainerStatuses",
            Kind::Message(&CONTAINER_STATUS),
        ),
        omitempty(11, "nominatedNodeName", Kind::String),
        list(12, "podIPs", Kind::Message(&POD_IP)),
        list(
            13,
            "ephemeralContainerStatuses",
            Kind::Message(&CONTAINER_STATUS),
        ),
        omitempty(14, "resize", Kind::String),
        list(
            15,
            "resourceClaimStatuses",
            Kind::Message(&POD_RESOURCE_CLAIM_STATUS),
        ),
        list(16, "hostIPs", Kind::Message(&HOST_IP)),
        omitempty(17, "observedGeneration", Kind::Int64),
        always(
            18,
            "extendedResourceClaimStatus",
            Kind::Message(&POD_EXTENDED_RESOURCE_CLAIM_STATUS),
        ),
        map(19, "allocatedResources", Kind::Quantity),
        always(20, "resources", Kind::Message(&RESOURCE_REQUIREMENTS)),
        list(
            21,
            "nodeAllocatableResourceClaimStatuses",
            Kind::Unsupported("core.v1.NodeAllocatableResourceClaimStatus"),
        ),
        list(
            22,
            "volumeHealth",
            Kind::Unsupported("core.v1.PodVolumeHealth"),
        ),
    ],
};
static POD_CONDITION: MessageType = MessageType {
    name: "core.v1.PodCondition",
    fields: &[
        always(1, "type", Kind::String),
        always(2, "status", Kind::String),
        always(3, "lastProbeTime", Kind::Time),
        always(4, "lastTransitionTime", Kind::Time),
        omitempty(5, "reason", Kind::String),
        omitempty(6, "message", Kind::String),
        omitempty(7, "observedGeneration", Kind::Int64),
    ],
};
static CONTAINER_STATUS: MessageType = MessageType {
    name: "core.v1.ContainerStatus",
    fields: &[
        always(1, "name", Kind::String),
        always(2, "state", Kind::Message(&CONTAINER_STATE)),
        always(3, "lastState", Kind::Message(&CONTAINER_STATE)),
        always(4, "ready", Kind::Bool),
        always(5, "restartCount", Kind::Int32),
        always(6, "image", Kind::String),
        always(7, "imageID", Kind::String),
        omitempty(8, "containerID", Kind::String),
        always(9, "started", Kind::Bool),
        map(10, "allocatedResources", Kind::Quantity),
        always(11, "resources", Kind::Message(&RESOURCE_REQUIREMENTS)),
        list(12, "volumeMounts", Kind::Message(&VOLUME_MOUNT_STATUS)),
        always(13, "user", Kind::Message(&CONTAINER_USER)),
        list(
            14,
            "allocatedResourcesStatus",
            Kind::Message(&RESOURCE_STATUS),
        ),
        always(15, "stopSignal", Kind::String),
    ],
};
static CONTAINER_STATE: MessageType = MessageType {
    name: "core.v1.ContainerState",
    fields: &[
        always(1, "waiting", Kind::Message(&CONTAINER_STATE_WAITING)),
        always(2, "running", Kind::Message(&CONTAINER_STATE_RUNNING)),
        always(3, "terminated", Kind::Message(&CONTAINER_STATE_TERMINATED)),
    ],
};
static CONTAINER_STATE_WAITING: MessageType = MessageType {
    name: "core.v1.ContainerStateWaiting",
    fields: &[
        omitempty(1, "reason", Kind::String),
        omitempty(2, "message", Kind::String),
    ],
};
static CONTAINER_STATE_RUNNING: MessageType = MessageType {
    name: "core.v1.ContainerStateRunning",
    fields: &[always(1, "startedAt", Kind::Time)],
};
static CONTAINER_STATE_TERMINATED: MessageType = MessageType {
    name: "core.v1.ContainerStateTerminated",
    fields: &[
        always(1, "exitCode", Kind::Int32),
        omitempty(2, "signal", Kind::Int32),
        omitempty(3, "reason", Kind::String),
        omitempty(4, "message", Kind::String),
        always(5, "startedAt", Kind::Time),
        always(6, "finishedAt", Kind::Time),
        omitempty(7, "containerID", Kind::String),
    ],
};
static POD_IP: MessageType = MessageType {
    name: "core.v1.PodIP",
    fields: &[always(1, "ip", Kind::String)],
};
static HOST_IP: MessageType = MessageType {
    name: "core.v1.HostIP",
    fields: &[always(1, "ip", Kind::String)],
};
static RESOURCE_STATUS: MessageType = MessageType {
    name: "core.v1.ResourceStatus",
    fields: &[
        always(1, "name", Kind::String),
        list(2, "resources", Kind::Message(&RESOURCE_HEALTH)),
    ],
};
static RESOURCE_HEALTH: MessageType = MessageType {
    name: "core.v1.ResourceHealth",
    fields: &[
        always(1, "resourceID", Kind::String),
        omitempty(2, "health", Kind::String),
        always(6, "message", Kind::String),
    ],
};
static VOLUME_MOUNT_STATUS: MessageType = MessageType {
    name: "core.v1.VolumeMountStatus",
    fields: &[
        always(1, "name", Kind::String),
        always(2, "mountPath", Kind::String),
        omitempty(3, "readOnly", Kind::Bool),
        always(4, "recursiveReadOnly", Kind::String),
        always(5, "volumeStatus", Kind::Unsupported("core.v1.VolumeStatus")),
    ],
};
static CONTAINER_USER: MessageType = MessageType {
    name: "core.v1.ContainerUser",
    fields: &[always(1, "linux", Kind::Message(&LINUX_CONTAINER_USER))],
};
static LINUX_CONTAINER_USER: MessageType = MessageType {
    name: "core.v1.LinuxContainerUser",
    fields: &[
        always(1, "uid", Kind::Int64),
        always(2, "gid", Kind::Int64),
        list(3, "supplementalGroups", Kind::Int64),
    ],
};
static POD_RESOURCE_CLAIM_STATUS: MessageType = MessageType {
    name: "core.v1.PodResourceClaimStatus",
    fields: &[
        always(1, "name", Kind::String),
        always(2, "resourceClaimName", Kind::String),
    ],
};
static POD_EXTENDED_RESOURCE_CLAIM_STATUS: MessageType = MessageType {
    name: "core.v1.PodExtendedResourceClaimStatus",
    fields: &[
        list(
            1,
            "requestMappings",
            Kind::Message(&CONTAINER_EXTENDED_RESOURCE_REQUEST),
        ),
        always(2, "resourceClaimName", Kind::String),
    ],
};
static CONTAINER_EXTENDED_RESOURCE_REQUEST: MessageType = MessageType {
    name: "core.v1.ContainerExtendedResourceRequest",
    fields: &[
        always(1, "containerName", Kind::String),
        always(2, "resourceName", Kind::String),
        always(3, "requestName", Kind::String),
    ],
};
static POD_RESOURCE_CLAIM: MessageType = MessageType {
    name: "core.v1.PodResourceClaim",
    fields: &[
        always(1, "name", Kind::String),
        always(3, "resourceClaimName", Kind::String),
        always(4, "resourceClaimTemplateName", Kind::String),
    ],
};
static EPHEMERAL_CONTAINER: MessageType = MessageType {
    name: "core.v1.EphemeralContainer",
    fields: &[
        inline(1, &EPHEMERAL_CONTAINER_COMMON),
        omitempty(2, "targetContainerName", Kind::String),
    ],
};
static EPHEMERAL_CONTAINER_COMMON: MessageType = MessageType {
    name: "core.v1.EphemeralContainerCommon",
    fields: &[
        always(1, "name", Kind::String),
        omitempty(2, "image", Kind::String),
        list(3, "command", Kind::String),
        list(4, "args", Kind::String),
        omitempty(5, "workingDir", Kind::String),
        list(6, "ports", Kind::Message(&CONTAINER_PORT)),
        list(7, "env", Kind::Message(&ENV_VAR)),
        always(8, "resources", Kind::Message(&RESOURCE_REQUIREMENTS)),
        list(9, "volumeMounts", Kind::Message(&VOLUME_MOUNT)),
        always(10, "livenessProbe", Kind::Message(&PROBE)),
        always(11, "readinessProbe", Kind::Message(&PROBE)),
        always(12, "lifecycle", Kind::Message(&LIFECYCLE)),
        omitempty(13, "terminationMessagePath", Kind::String),
        omitempty(14, "imagePullPolicy", Kind::String),
        always(15, "securityContext", Kind::Message(&SECURITY_CONTEXT)),
        omitempty(16, "stdin", Kind::Bool),
        omitempty(17, "stdinOnce", Kind::Bool),
        omitempty(18, "tty", Kind::Bool),
        list(19, "envFrom", Kind::Message(&ENV_FROM_SOURCE)),
        omitempty(20, "terminationMessagePolicy", Kind::String),
        list(21, "volumeDevices", Kind::Message(&VOLUME_DEVICE)),
        always(22, "startupProbe", Kind::Message(&PROBE)),
        list(23, "resizePolicy", Kind::Message(&CONTAINER_RESIZE_POLICY)),
        always(24, "restartPolicy", Kind::String),
        list(
            25,
            "restartPolicyRules",
            Kind::Unsupported("core.v1.ContainerRestartRule"),
        ),
    ],
};
static RESOURCE_QUOTA: MessageType = MessageType {
    name: "core.v1.ResourceQuota",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&RESOURCE_QUOTA_SPEC)),
        always(3, "status", Kind::Message(&RESOURCE_QUOTA_STATUS)),
    ],
};
static RESOURCE_QUOTA_SPEC: MessageType = MessageType {
    name: "core.v1.ResourceQuotaSpec",
    fields: &[
        map(1, "hard", Kind::Quantity),
        list(2, "scopes", Kind::String),
        always(3, "scopeSelector", Kind::Message(&SCOPE_SELECTOR)),
    ],
};
static SCOPE_SELECTOR: MessageType = MessageType {
    name: "core.v1.ScopeSelector",
    fields: &[list(
        1,
        "matchExpressions",
        Kind::Message(&SCOPED_RESOURCE_SELECTOR_REQUIREMENT),
    )],
};
static SCOPED_RESOURCE_SELECTOR_REQUIREMENT: MessageType = MessageType {
    name: "core.v1.ScopedResourceSelectorRequirement",
    fields: &[
        always(1, "scopeName", Kind::String),
        always(2, "operator", Kind::String),
        list(3, "values", Kind::String),
    ],
};
static RESOURCE_QUOTA_STATUS: MessageType = MessageType {
    name: "core.v1.ResourceQuotaStatus",
    fields: &[
        map(1, "hard", Kind::Quantity),
        map(2, "used", Kind::Quantity),
    ],
};
static DEPLOYMENT: MessageType = MessageType {
    name: "apps.v1.Deployment",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&DEPLOYMENT_SPEC)),
        always(3, "status", Kind::Message(&DEPLOYMENT_STATUS)),
    ],
};
static DEPLOYMENT_SPEC: MessageType = MessageType {
    name: "apps.v1.DeploymentSpec",
    fields: &[
        always(1, "replicas", Kind::Int32),
        always(2, "selector", Kind::Message(&LABEL_SELECTOR)),
        always(3, "template", Kind::Message(&POD_TEMPLATE_SPEC)),
        always(4, "strategy", Kind::Message(&DEPLOYMENT_STRATEGY)),
        omitempty(5, "minReadySeconds", Kind::Int32),
        always(6, "revisionHistoryLimit", Kind::Int32),
        omitempty(7, "paused", Kind::Bool),
        always(9, "progressDeadlineSeconds", Kind::Int32),
    ],
};
static DEPLOYMENT_STRATEGY: MessageType = MessageType {
    name: "apps.v1.DeploymentStrategy",
    fields: &[
        omitempty(1, "type", Kind::String),
        always(
            2,
            "rollingUpdate",
            Kind::Message(&ROLLING_UPDATE_DEPLOYMENT),
        ),
    ],
};
static ROLLING_UPDATE_DEPLOYMENT: MessageType = MessageType {
    name: "apps.v1.RollingUpdateDeployment",
    fields: &[
        always(1, "maxUnavailable", Kind::IntOrString),
        always(2, "maxSurge", Kind::IntOrString),
    ],
};
static DEPLOYMENT_STATUS: MessageType = MessageType {
    name: "apps.v1.DeploymentStatus",
    fields: &[
        omitempty(1, "observedGeneration", Kind::Int64),
        omitempty(2, "replicas", Kind::Int32),
        omitempty(3, "updatedReplicas", Kind::Int32),
        omitempty(4, "availableReplicas", Kind::Int32),
        omitempty(5, "unavailableReplicas", Kind::Int32),
        list(6, "conditions", Kind::Message(&DEPLOYMENT_CONDITION)),
        omitempty(7, "readyReplicas", Kind::Int32),
        always(8, "collisionCount", Kind::Int32),
        always(9, "terminatingReplicas", Kind::Int32),
    ],
};
static DEPLOYMENT_CONDITION: MessageType = MessageType {
    name: "apps.v1.DeploymentCondition",
    fields: &[
        always(1, "type", Kind::String),
        always(2, "status", Kind::String),
        omitempty(4, "reason", Kind::String),
        omitempty(5, "message", Kind::String),
        always(6, "lastUpdateTime", Kind::Time),
        always(7, "lastTransitionTime", Kind::Time),
    ],
};
static JOB: MessageType = MessageType {
    name: "batch.v1.Job",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&JOB_SPEC)),
        always(3, "status", Kind::Message(&JOB_STATUS)),
    ],
};
static JOB_SPEC: MessageType = MessageType {
    name: "batch.v1.JobSpec",
    fields: &[
        always(1, "parallelism", Kind::Int32),
        always(2, "completions", Kind::Int32),
        always(3, "activeDeadlineSeconds", Kind::Int64),
        always(4, "selector", Kind::Message(&LABEL_SELECTOR)),
        always(5, "manualSelector", Kind::Bool),
        always(6, "template", Kind::Message(&POD_TEMPLATE_SPEC)),
        always(7, "backoffLimit", Kind::Int32),
        always(8, "ttlSecondsAfterFinished", Kind::Int32),
        always(9, "completionMode", Kind::String),
        always(10, "suspend", Kind::Bool),
        always(11, "podFailurePolicy", Kind::Message(&POD_FAILURE_POLICY)),
        always(12, "backoffLimitPerIndex", Kind::Int32),
        always(13, "maxFailedIndexes", Kind::Int32),
        always(14, "podReplacementPolicy", Kind::String),
        always(15, "managedBy", Kind::String),
        always(16, "successPolicy", Kind::Message(&SUCCESS_POLICY)),
        always(
            17,
            "scheduling",
            Kind::Unsupported("batch.v1.JobSchedulingConfiguration"),
        ),
    ],
};
static JOB_STATUS: MessageType = MessageType {
    name: "batch.v1.JobStatus",
    fields: &[
        list(1, "conditions", Kind::Message(&JOB_CONDITION)),
        always(2, "startTime", Kind::Time),
        always(3, "completionTime", Kind::Time),
        omitempty(4, "active", Kind::Int32),
        omitempty(5, "succeeded", Kind::Int32),
        omitempty(6, "failed", Kind::Int32),
        omitempty(7, "completedIndexes", Kind::String),
        always(
            8,
            "uncountedTerminatedPods",
            Kind::Message(&UNCOUNTED_TERMINATED_PODS),
        ),
        always(9, "ready", Kind::Int32),
        always(10, "failedIndexes", Kind::String),
        always(11, "terminating", Kind::Int32),
    ],
};
static JOB_CONDITION: MessageType = MessageType {
    name: "batch.v1.JobCondition",
    fields: &[
        always(1, "type", Kind::String),
        always(2, "status", Kind::String),
        always(3, "lastProbeTime", Kind::Time),
        always(4, "lastTransitionTime", Kind::Time),
        omitempty(5, "reason", Kind::String),
        omitempty(6, "message", Kind::String),
    ],
};
static UNCOUNTED_TERMINATED_PODS: MessageType = MessageType {
    name: "batch.v1.UncountedTerminatedPods",
    fields: &[
        list(1, "succeeded", Kind::String),
        list(2, "failed", Kind::String),
    ],
};
static JOB_TEMPLATE_SPEC: MessageType = MessageType {
    name: "batch.v1.JobTemplateSpec",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&JOB_SPEC)),
    ],
};
static CRON_JOB: MessageType = MessageType {
    name: "batch.v1.CronJob",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&CRON_JOB_SPEC)),
        always(3, "status", Kind::Message(&CRON_JOB_STATUS)),
    ],
};
static CRON_JOB_SPEC: MessageType = MessageType {
    name: "batch.v1.CronJobSpec",
    fields: &[
        always(1, "schedule", Kind::String),
        always(2, "startingDeadlineSeconds", Kind::Int64),
        omitempty(3, "concurrencyPolicy", Kind::String),
        always(4, "suspend", Kind::Bool),
        always(5, "jobTemplate", Kind::Message(&JOB_TEMPLATE_SPEC)),
        always(6, "successfulJobsHistoryLimit", Kind::Int32),
        always(7, "failedJobsHistoryLimit", Kind::Int32),
        always(8, "timeZone", Kind::String),
    ],
};
static CRON_JOB_STATUS: MessageType = MessageType {
    name: "batch.v1.CronJobStatus",
    fields: &[
        list(1, "active", Kind::Message(&OBJECT_REFERENCE)),
        always(4, "lastScheduleTime", Kind::Time),
        always(5, "lastSuccessfulTime", Kind::Time),
    ],
};
static POD_FAILURE_POLICY: MessageType = MessageType {
    name: "batch.v1.PodFailurePolicy",
    fields: &[list(1, "rules", Kind::Message(&POD_FAILURE_POLICY_RULE))],
};
static POD_FAILURE_POLICY_RULE: MessageType = MessageType {
    name: "batch.v1.PodFailurePolicyRule",
    fields: &[
        always(1, "action", Kind::String),
        always(
            2,
            "onExitCodes",
            Kind::Message(&POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT),
        ),
        list(
            3,
            "onPodConditions",
            Kind::Message(&POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN),
        ),
    ],
};
static POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT: MessageType = MessageType {
    name: "batch.v1.PodFailurePolicyOnExitCodesRequirement",
    fields: &[
        always(1, "containerName", Kind::String),
        always(2, "operator", Kind::String),
        list(3, "values", Kind::Int32),
    ],
};
static POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN: MessageType = MessageType {
    name: "batch.v1.PodFailurePolicyOnPodConditionsPattern",
    fields: &[
        always(1, "type", Kind::String),
        always(2, "status", Kind::String),
    ],
};
static SUCCESS_POLICY: MessageType = MessageType {
    name: "batch.v1.SuccessPolicy",
    fields: &[list(1, "rules", Kind::Message(&SUCCESS_POLICY_RULE))],
};
static SUCCESS_POLICY_RULE: MessageType = MessageType {
    name: "batch.v1.SuccessPolicyRule",
    fields: &[
        always(1, "succeededIndexes", Kind::String),
        always(2, "succeededCount", Kind::Int32),
    ],
};
// What `kubectl auth can-i` and `kubectl create token` send (the answers' status is the
// server's; a request's is empty).
static SELF_SUBJECT_RULES_REVIEW: MessageType = MessageType {
    name: "authorization.v1.SelfSubjectRulesReview",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&SELF_SUBJECT_RULES_REVIEW_SPEC)),
        always(3, "status", Kind::Message(&SUBJECT_RULES_REVIEW_STATUS)),
    ],
};
static SUBJECT_RULES_REVIEW_STATUS: MessageType = MessageType {
    name: "authorization.v1.SubjectRulesReviewStatus",
    fields: &[
        list(
            1,
            "resourceRules",
            Kind::Unsupported("authorization.v1.ResourceRule"),
        ),
        list(
            2,
            "nonResourceRules",
            Kind::Unsupported("authorization.v1.NonResourceRule"),
        ),
        always(3, "incomplete", Kind::Bool),
        omitempty(4, "evaluationError", Kind::String),
    ],
};
static SUBJECT_ACCESS_REVIEW_STATUS: MessageType = MessageType {
    name: "authorization.v1.SubjectAccessReviewStatus",
    fields: &[
        always(1, "allowed", Kind::Bool),
        omitempty(2, "reason", Kind::String),
        omitempty(3, "evaluationError", Kind::String),
        omitempty(4, "denied", Kind::Bool),
    ],
};
static TOKEN_REQUEST_STATUS: MessageType = MessageType {
    name: "authentication.v1.TokenRequestStatus",
    fields: &[
        always(1, "token", Kind::String),
        always(2, "expirationTimestamp", Kind::Time),
    ],
};
static SELF_SUBJECT_RULES_REVIEW_SPEC: MessageType = MessageType {
    name: "authorization.v1.SelfSubjectRulesReviewSpec",
    fields: &[omitempty(1, "namespace", Kind::String)],
};
static SELF_SUBJECT_ACCESS_REVIEW: MessageType = MessageType {
    name: "authorization.v1.SelfSubjectAccessReview",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&SELF_SUBJECT_ACCESS_REVIEW_SPEC)),
        always(3, "status", Kind::Message(&SUBJECT_ACCESS_REVIEW_STATUS)),
    ],
};
static SELF_SUBJECT_ACCESS_REVIEW_SPEC: MessageType = MessageType {
    name: "authorization.v1.SelfSubjectAccessReviewSpec",
    fields: &[
        always(1, "resourceAttributes", Kind::Message(&RESOURCE_ATTRIBUTES)),
        always(
            2,
            "nonResourceAttributes",
            Kind::Message(&NON_RESOURCE_ATTRIBUTES),
        ),
    ],
};
static RESOURCE_ATTRIBUTES: MessageType = MessageType {
    name: "authorization.v1.ResourceAttributes",
    fields: &[
        omitempty(1, "namespace", Kind::String),
        omitempty(2, "verb", Kind::String),
        omitempty(3, "group", Kind::String),
        omitempty(4, "version", Kind::String),
        omitempty(5, "resource", Kind::String),
        omitempty(6, "subresource", Kind::String),
        omitempty(7, "name", Kind::String),
        always(
            8,
            "fieldSelector",
            Kind::Unsupported("authorization.v1.FieldSelectorAttributes"),
        ),
        always(
            9,
            "labelSelector",
            Kind::Unsupported("authorization.v1.LabelSelectorAttributes"),
        ),
    ],
};
static NON_RESOURCE_ATTRIBUTES: MessageType = MessageType {
    name: "authorization.v1.NonResourceAttributes",
    fields: &[
        omitempty(1, "path", Kind::String),
        omitempty(2, "verb", Kind::String),
    ],
};
static TOKEN_REQUEST: MessageType = MessageType {
    name: "authentication.v1.TokenRequest",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&TOKEN_REQUEST_SPEC)),
        always(3, "status", Kind::Message(&TOKEN_REQUEST_STATUS)),
    ],
};
static TOKEN_REQUEST_SPEC: MessageType = MessageType {
    name: "authentication.v1.TokenRequestSpec",
    fields: &[
        list(1, "audiences", Kind::String),
        always(4, "expirationSeconds", Kind::Int64),
        always(3, "boundObjectRef", Kind::Message(&BOUND_OBJECT_REFERENCE)),
    ],
};
static BOUND_OBJECT_REFERENCE: MessageType = MessageType {
    name: "authentication.v1.BoundObjectReference",
    fields: &[
        omitempty(1, "kind", Kind::String),
        omitempty(2, "apiVersion", Kind::String),
        omitempty(3, "name", Kind::String),
        omitempty(4, "uid", Kind::String),
    ],
};
static ROLE: MessageType = MessageType {
    name: "rbac.v1.Role",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        list(2, "rules", Kind::Message(&POLICY_RULE)),
    ],
};
static CLUSTER_ROLE: MessageType = MessageType {
    name: "rbac.v1.ClusterRole",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        list(2, "rules", Kind::Message(&POLICY_RULE)),
        always(3, "aggregationRule", Kind::Message(&AGGREGATION_RULE)),
    ],
};
static POLICY_RULE: MessageType = MessageType {
    name: "rbac.v1.PolicyRule",
    fields: &[
        list(1, "verbs", Kind::String),
        list(2, "apiGroups", Kind::String),
        list(3, "resources", Kind::String),
        list(4, "resourceNames", Kind::String),
        list(5, "nonResourceURLs", Kind::String),
    ],
};
static AGGREGATION_RULE: MessageType = MessageType {
    name: "rbac.v1.AggregationRule",
    fields: &[list(
        1,
        "clusterRoleSelectors",
        Kind::Message(&LABEL_SELECTOR),
    )],
};
static ROLE_BINDING: MessageType = MessageType {
    name: "rbac.v1.RoleBinding",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        list(2, "subjects", Kind::Message(&SUBJECT)),
        always(3, "roleRef", Kind::Message(&ROLE_REF)),
    ],
};
static CLUSTER_ROLE_BINDING: MessageType = MessageType {
    name: "rbac.v1.ClusterRoleBinding",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        list(2, "subjects", Kind::Message(&SUBJECT)),
        always(3, "roleRef", Kind::Message(&ROLE_REF)),
    ],
};
static SUBJECT: MessageType = MessageType {
    name: "rbac.v1.Subject",
    fields: &[
        always(1, "kind", Kind::String),
        omitempty(2, "apiGroup", Kind::String),
        always(3, "name", Kind::String),
        omitempty(4, "namespace", Kind::String),
    ],
};
static ROLE_REF: MessageType = MessageType {
    name: "rbac.v1.RoleRef",
    fields: &[
        always(1, "apiGroup", Kind::String),
        always(2, "kind", Kind::String),
        always(3, "name", Kind::String),
    ],
};
static PRIORITY_CLASS: MessageType = MessageType {
    name: "scheduling.v1.PriorityClass",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "value", Kind::Int32),
        omitempty(3, "globalDefault", Kind::Bool),
        omitempty(4, "description", Kind::String),
        always(5, "preemptionPolicy", Kind::String),
    ],
};
static POD_DISRUPTION_BUDGET: MessageType = MessageType {
    name: "policy.v1.PodDisruptionBudget",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&POD_DISRUPTION_BUDGET_SPEC)),
        always(3, "status", Kind::Message(&POD_DISRUPTION_BUDGET_STATUS)),
    ],
};
static POD_DISRUPTION_BUDGET_SPEC: MessageType = MessageType {
    name: "policy.v1.PodDisruptionBudgetSpec",
    fields: &[
        always(1, "minAvailable", Kind::IntOrString),
        always(2, "selector", Kind::Message(&LABEL_SELECTOR)),
        always(3, "maxUnavailable", Kind::IntOrString),
        always(4, "unhealthyPodEvictionPolicy", Kind::String),
    ],
};
static POD_DISRUPTION_BUDGET_STATUS: MessageType = MessageType {
    name: "policy.v1.PodDisruptionBudgetStatus",
    fields: &[
        omitempty(1, "observedGeneration", Kind::Int64),
        map(2, "disruptedPods", Kind::Time),
        always(3, "disruptionsAllowed", Kind::Int32),
        always(4, "currentHealthy", Kind::Int32),
        always(5, "desiredHealthy", Kind::Int32),
        always(6, "expectedPods", Kind::Int32),
        list(7, "conditions", Kind::Message(&CONDITION)),
    ],
};
static INGRESS: MessageType = MessageType {
    name: "networking.v1.Ingress",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&INGRESS_SPEC)),
        always(3, "status", Kind::Message(&INGRESS_STATUS)),
    ],
};
static INGRESS_SPEC: MessageType = MessageType {
    name: "networking.v1.IngressSpec",
    fields: &[
        always(1, "defaultBackend", Kind::Message(&INGRESS_BACKEND)),
        list(2, "tls", Kind::Message(&INGRESS_TLS)),
        list(3, "rules", Kind::Message(&INGRESS_RULE)),
        always(4, "ingressClassName", Kind::String),
    ],
};
static INGRESS_RULE: MessageType = MessageType {
    name: "networking.v1.IngressRule",
    fields: &[
        omitempty(1, "host", Kind::String),
        inline(2, &INGRESS_RULE_VALUE),
    ],
};
static INGRESS_RULE_VALUE: MessageType = MessageType {
    name: "networking.v1.IngressRuleValue",
    fields: &[always(1, "http", Kind::Message(&HTTP_INGRESS_RULE_VALUE))],
};
static HTTP_INGRESS_RULE_VALUE: MessageType = MessageType {
    name: "networking.v1.HTTPIngressRuleValue",
    fields: &[list(1, "paths", Kind::Message(&HTTP_INGRESS_PATH))],
};
static HTTP_INGRESS_PATH: MessageType = MessageType {
    name: "networking.v1.HTTPIngressPath",
    fields: &[
        omitempty(1, "path", Kind::String),
        always(2, "backend", Kind::Message(&INGRESS_BACKEND)),
        always(3, "pathType", Kind::String),
    ],
};
static INGRESS_BACKEND: MessageType = MessageType {
    name: "networking.v1.IngressBackend",
    fields: &[
        always(3, "resource", Kind::Message(&TYPED_LOCAL_OBJECT_REFERENCE)),
        always(4, "service", Kind::Message(&INGRESS_SERVICE_BACKEND)),
    ],
};
static INGRESS_SERVICE_BACKEND: MessageType = MessageType {
    name: "networking.v1.IngressServiceBackend",
    fields: &[
        always(1, "name", Kind::String),
        always(2, "port", Kind::Message(&SERVICE_BACKEND_PORT)),
    ],
};
static SERVICE_BACKEND_PORT: MessageType = MessageType {
    name: "networking.v1.ServiceBackendPort",
    fields: &[
        omitempty(1, "name", Kind::String),
        omitempty(2, "number", Kind::Int32),
    ],
};
static INGRESS_TLS: MessageType = MessageType {
    name: "networking.v1.IngressTLS",
    fields: &[
        list(1, "hosts", Kind::String),
        omitempty(2, "secretName", Kind::String),
    ],
};
static INGRESS_STATUS: MessageType = MessageType {
    name: "networking.v1.IngressStatus",
    fields: &[always(
        1,
        "loadBalancer",
        Kind::Message(&INGRESS_LOAD_BALANCER_STATUS),
    )],
};
static INGRESS_LOAD_BALANCER_STATUS: MessageType = MessageType {
    name: "networking.v1.IngressLoadBalancerStatus",
    fields: &[list(
        1,
        "ingress",
        Kind::Message(&INGRESS_LOAD_BALANCER_INGRESS),
    )],
};
static INGRESS_LOAD_BALANCER_INGRESS: MessageType = MessageType {
    name: "networking.v1.IngressLoadBalancerIngress",
    fields: &[
        omitempty(1, "ip", Kind::String),
        omitempty(2, "hostname", Kind::String),
        list(4, "ports", Kind::Message(&INGRESS_PORT_STATUS)),
    ],
};
static INGRESS_PORT_STATUS: MessageType = MessageType {
    name: "networking.v1.IngressPortStatus",
    fields: &[
        always(1, "port", Kind::Int32),
        always(2, "protocol", Kind::String),
        always(3, "error", Kind::String),
    ],
};
// autoscaling/v2 (what `kubectl autoscale` sends first).
static HORIZONTAL_POD_AUTOSCALER: MessageType = MessageType {
    name: "autoscaling.v2.HorizontalPodAutoscaler",
    fields: &[
        always(1, "metadata", Kind::Message(&OBJECT_META)),
        always(2, "spec", Kind::Message(&HPA_SPEC)),
        always(3, "status", Kind::Message(&HPA_STATUS)),
    ],
};
static HPA_SPEC: MessageType = MessageType {
    name: "autoscaling.v2.HorizontalPodAutoscalerSpec",
    fields: &[
        always(
            1,
            "scaleTargetRef",
            Kind::Message(&CROSS_VERSION_OBJECT_REFERENCE),
        ),
        always(2, "minReplicas", Kind::Int32),
        always(3, "maxReplicas", Kind::Int32),
        list(4, "metrics", Kind::Message(&METRIC_SPEC)),
        always(5, "behavior", Kind::Message(&HPA_BEHAVIOR)),
    ],
};
static CROSS_VERSION_OBJECT_REFERENCE: MessageType = MessageType {
    name: "autoscaling.v2.CrossVersionObjectReference",
    fields: &[
        always(1, "kind", Kind::String),
        always(2, "name", Kind::String),
        omitempty(3, "apiVersion", Kind::String),
    ],
};
static METRIC_SPEC: MessageType = MessageType {
    name: "autoscaling.v2.MetricSpec",
    fields: &[
        always(1, "type", Kind::String),
        always(2, "object", Kind::Message(&OBJECT_METRIC_SOURCE)),
        always(3, "pods", Kind::Message(&PODS_METRIC_SOURCE)),
        always(4, "resource", Kind::Message(&RESOURCE_METRIC_SOURCE)),
        always(5, "external", Kind::Message(&EXTERNAL_METRIC_SOURCE)),
        always(
            7,
            "containerResource",
            Kind::Message(&CONTAINER_RESOURCE_METRIC_SOURCE),
        ),
    ],
};
static OBJECT_METRIC_SOURCE: MessageType = MessageType {
    name: "autoscaling.v2.ObjectMetricSource",
    fields: &[
        always(
            1,
            "describedObject",
            Kind::Message(&CROSS_VERSION_OBJECT_REFERENCE),
        ),
        always(2, "target", Kind::Message(&METRIC_TARGET)),
        always(3, "metric", Kind::Message(&METRIC_IDENTIFIER)),
    ],
};
static PODS_METRIC_SOURCE: MessageType = MessageType {
    name: "autoscaling.v2.PodsMetricSource",
    fields: &[
        always(1, "metric", Kind::Message(&METRIC_IDENTIFIER)),
        always(2, "target", Kind::Message(&METRIC_TARGET)),
    ],
};
static RESOURCE_METRIC_SOURCE: MessageType = MessageType {
    name: "autoscaling.v2.ResourceMetricSource",
    fields: &[
        always(1, "name", Kind::String),
        always(2, "target", Kind::Message(&METRIC_TARGET)),
    ],
};
static EXTERNAL_METRIC_SOURCE: MessageType = MessageType {
    name: "autoscaling.v2.ExternalMetricSource",
    fields: &[
        always(1, "metric", Kind::Message(&METRIC_IDENTIFIER)),
        always(2, "target", Kind::Message(&METRIC_TARGET)),
    ],
};
static CONTAINER_RESOURCE_METRIC_SOURCE: MessageType = MessageType {
    name: "autoscaling.v2.ContainerResourceMetricSource",
    fields: &[
        always(1, "name", Kind::String),
        always(2, "target", Kind::Message(&METRIC_TARGET)),
        always(3, "container", Kind::String),
    ],
};
static METRIC_IDENTIFIER: MessageType = MessageType {
    name: "autoscaling.v2.MetricIdentifier",
    fields: &[
        always(1, "name", Kind::String),
        always(2, "selector", Kind::Message(&LABEL_SELECTOR)),
    ],
};
static METRIC_TARGET: MessageType = MessageType {
    name: "autoscaling.v2.MetricTarget",
    fields: &[
        always(1, "type", Kind::String),
        always(2, "value", Kind::Quantity),
        always(3, "averageValue", Kind::Quantity),
        always(4, "averageUtilization", Kind::Int32),
    ],
};
static HPA_BEHAVIOR: MessageType = MessageType {
    name: "autoscaling.v2.HorizontalPodAutoscalerBehavior",
    fields: &[
        always(1, "scaleUp", Kind::Message(&HPA_SCALING_RULES)),
        always(2, "scaleDown", Kind::Message(&HPA_SCALING_RULES)),
    ],
};
static HPA_SCALING_RULES: MessageType = MessageType {
    name: "autoscaling.v2.HPAScalingRules",
    fields: &[
        always(1, "selectPolicy", Kind::String),
        list(2, "policies", Kind::Message(&HPA_SCALING_POLICY)),
        always(3, "stabilizationWindowSeconds", Kind::Int32),
        always(4, "tolerance", Kind::Quantity),
    ],
};
static HPA_SCALING_POLICY: MessageType = MessageType {
    name: "autoscaling.v2.HPAScalingPolicy",
    fields: &[
        always(1, "type", Kind::String),
        always(2, "value", Kind::Int32),
        always(3, "periodSeconds", Kind::Int32),
    ],
};
static HPA_STATUS: MessageType = MessageType {
    name: "autoscaling.v2.HorizontalPodAutoscalerStatus",
    fields: &[
        always(1, "observedGeneration", Kind::Int64),
        always(2, "lastScaleTime", Kind::Time),
        omitempty(3, "currentReplicas", Kind::Int32),
        always(4, "desiredReplicas", Kind::Int32),
        list(
            5,
            "currentMetrics",
            Kind::Unsupported("autoscaling.v2.MetricStatus"),
        ),
        list(
            6,
            "conditions",
            Kind::Unsupported("autoscaling.v2.HorizontalPodAutoscalerCondition"),
        ),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn vector_directories() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/protobuf");
        let mut directories: Vec<PathBuf> = std::fs::read_dir(&root)
            .expect("tests/protobuf is readable")
            .map(|entry| entry.expect("directory entry is readable").path())
            .filter(|path| path.join("request.bin").is_file())
            .collect();
        directories.sort();
        directories
    }

    /// Decodes `<case>/request.bin` and compares it with `<case>/expected.json`.
    fn check(directory: &Path) -> Result<(), String> {
        let body =
            std::fs::read(directory.join("request.bin")).map_err(|error| error.to_string())?;
        let expected_text = std::fs::read_to_string(directory.join("expected.json"))
            .map_err(|error| format!("expected.json: {error}"))?;
        let expected: Value =
            serde_json::from_str(&expected_text).map_err(|error| error.to_string())?;
        let decoded = decode_object(&body).map_err(|error| format!("{error:?}"))?;
        if decoded != expected {
            return Err(format!(
                "decoded:\n{}\nexpected:\n{}",
                serde_json::to_string_pretty(&decoded).unwrap_or_default(),
                expected_text
            ));
        }
        Ok(())
    }

    fn varint(mut value: u64) -> Vec<u8> {
        let mut bytes = Vec::new();
        while value >= 0x80 {
            bytes.push((value as u8) | 0x80);
            value >>= 7;
        }
        bytes.push(value as u8);
        bytes
    }

    fn varint_field(number: u32, value: u64) -> Vec<u8> {
        let mut bytes = varint(u64::from(number) << 3);
        bytes.extend(varint(value));
        bytes
    }

    fn bytes_field(number: u32, payload: &[u8]) -> Vec<u8> {
        let mut bytes = varint((u64::from(number) << 3) | 2);
        bytes.extend(varint(payload.len() as u64));
        bytes.extend_from_slice(payload);
        bytes
    }

    fn string_field(number: u32, text: &str) -> Vec<u8> {
        bytes_field(number, text.as_bytes())
    }

    fn concat(fields: &[Vec<u8>]) -> Vec<u8> {
        fields.concat()
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = concat(&[string_field(1, api_version), string_field(2, kind)]);
        let mut body = MAGIC.to_vec();
        body.extend(concat(&[
            bytes_field(1, &type_meta),
            bytes_field(2, raw),
            string_field(3, ""),
            string_field(4, ""),
        ]));
        body
    }

    fn named_metadata(name: &str) -> Vec<u8> {
        bytes_field(1, &string_field(1, name))
    }

    #[test]
    fn kubectl_vectors_decode_to_the_expected_objects() {
        let directories = vector_directories();
        assert!(directories.len() >= 20, "the kubectl vectors are present");
        let failures: Vec<String> = directories
            .iter()
            .filter_map(|directory| {
                check(directory)
                    .err()
                    .map(|failure| format!("{}: {failure}", directory.display()))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    type ErrorCheck = fn(&ProtobufError) -> bool;

    #[test]
    fn malformed_and_unsupported_bodies_are_errors() {
        let long_name = "x".repeat(10);
        let cases: Vec<(&str, Vec<u8>, ErrorCheck)> = vec![
            ("empty body", Vec::new(), |error| {
                matches!(error, ProtobufError::MissingMagic)
            }),
            ("JSON body", br#"{"kind":"Namespace"}"#.to_vec(), |error| {
                matches!(error, ProtobufError::MissingMagic)
            }),
            ("magic only", MAGIC.to_vec(), |error| {
                matches!(error, ProtobufError::MissingTypeMeta)
            }),
            (
                "truncated varint",
                envelope("v1", "Namespace", &[0x0a, 0x80]),
                |error| {
                    matches!(
                        error,
                        ProtobufError::Malformed {
                            message: "core.v1.Namespace",
                            source: WireError::TruncatedVarint { .. },
                            ..
                        }
                    )
                },
            ),
            (
                "overlong varint",
                envelope(
                    "v1",
                    "Namespace",
                    &[
                        0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                    ],
                ),
                |error| {
                    matches!(
                        error,
                        ProtobufError::Malformed {
                            source: WireError::OverlongVarint { .. },
                            ..
                        }
                    )
                },
            ),
            (
                "length past end",
                envelope("v1", "Namespace", &[0x0a, 0x05, 0x0a, 0x01]),
                |error| {
                    matches!(
                        error,
                        ProtobufError::Malformed {
                            message: "core.v1.Namespace",
                            source: WireError::LengthPastEnd {
                                field: 1,
                                length: 5,
                                remaining: 2,
                                ..
                            },
                            ..
                        }
                    )
                },
            ),
            (
                "huge length",
                envelope(
                    "v1",
                    "Namespace",
                    &[0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
                ),
                |error| {
                    matches!(
                        error,
                        ProtobufError::Malformed {
                            source: WireError::LengthPastEnd { .. },
                            ..
                        }
                    )
                },
            ),
            (
                "length past end of the envelope",
                [MAGIC.as_slice(), &[0x12, 0x40, 0x00]].concat(),
                |error| {
                    matches!(
                        error,
                        ProtobufError::Malformed {
                            message: "runtime.Unknown",
                            source: WireError::LengthPastEnd { .. },
                            ..
                        }
                    )
                },
            ),
            (
                "truncated fixed64",
                envelope("v1", "Namespace", &[0x09, 0x01, 0x02]),
                |error| {
                    matches!(
                        error,
                        ProtobufError::Malformed {
                            source: WireError::TruncatedFixed { field: 1, .. },
                            ..
                        }
                    )
                },
            ),
            (
                "group wire type",
                envelope("v1", "Namespace", &[0x0b, 0x0c]),
                |error| {
                    matches!(
                        error,
                        ProtobufError::Malformed {
                            source: WireError::UnsupportedWireType {
                                field: 1,
                                wire_type: 3,
                                ..
                            },
                            ..
                        }
                    )
                },
            ),
            (
                "field number zero",
                envelope("v1", "Namespace", &[0x02, 0x00]),
                |error| {
                    matches!(
                        error,
                        ProtobufError::Malformed {
                            source: WireError::InvalidFieldNumber { field: 0, .. },
                            ..
                        }
                    )
                },
            ),
            (
                "unknown kind",
                envelope("v1", "Frobnicator", &[]),
                |error| matches!(error, ProtobufError::UnsupportedKind { kind, .. } if kind == "Frobnicator"),
            ),
            (
                "unknown version",
                envelope("apps/v1beta1", "Deployment", &[]),
                |error| matches!(error, ProtobufError::UnsupportedKind { .. }),
            ),
            (
                "unknown field number at the top",
                envelope("v1", "Namespace", &varint_field(9, 1)),
                |error| {
                    matches!(
                        error,
                        ProtobufError::UnknownField { message: "core.v1.Namespace", field: 9, path }
                            if path == "."
                    )
                },
            ),
            (
                "unknown field number in metadata",
                envelope(
                    "v1",
                    "ConfigMap",
                    &bytes_field(1, &string_field(15, "cluster")),
                ),
                |error| {
                    matches!(
                        error,
                        ProtobufError::UnknownField { message: "meta.v1.ObjectMeta", field: 15, path }
                            if path == ".metadata"
                    )
                },
            ),
            (
                "unknown field number in the envelope",
                [MAGIC.as_slice(), &varint_field(7, 1)].concat(),
                |error| {
                    matches!(
                        error,
                        ProtobufError::UnknownField {
                            message: "runtime.Unknown",
                            field: 7,
                            ..
                        }
                    )
                },
            ),
            (
                "wire type mismatch",
                envelope("v1", "Namespace", &bytes_field(1, &varint_field(1, 5))),
                |error| {
                    matches!(
                        error,
                        ProtobufError::WireTypeMismatch { message: "meta.v1.ObjectMeta", field: 1, path, .. }
                            if path == ".metadata.name"
                    )
                },
            ),
            (
                "invalid UTF-8",
                envelope(
                    "v1",
                    "Namespace",
                    &bytes_field(1, &bytes_field(1, &[0x66, 0xff])),
                ),
                |error| matches!(error, ProtobufError::InvalidUtf8 { field: 1, .. }),
            ),
            (
                "invalid UTF-8 map key",
                envelope(
                    "v1",
                    "ConfigMap",
                    &bytes_field(2, &concat(&[bytes_field(1, &[0xc3]), string_field(2, "v")])),
                ),
                |error| matches!(error, ProtobufError::InvalidUtf8 { field: 2, .. }),
            ),
            (
                "unknown field in a map entry",
                envelope("v1", "ConfigMap", &bytes_field(2, &string_field(3, "v"))),
                |error| {
                    matches!(
                        error,
                        ProtobufError::UnknownField {
                            message: "map entry",
                            field: 3,
                            ..
                        }
                    )
                },
            ),
            (
                "unsupported volume source",
                envelope(
                    "v1",
                    "Pod",
                    &bytes_field(
                        2,
                        &bytes_field(
                            1,
                            &concat(&[
                                string_field(1, "data"),
                                bytes_field(
                                    2,
                                    &bytes_field(7, &string_field(1, "nfs.example.test")),
                                ),
                            ]),
                        ),
                    ),
                ),
                |error| {
                    matches!(
                        error,
                        ProtobufError::UnsupportedMessage {
                            message: "core.v1.VolumeSource",
                            field: 7,
                            type_name: "core.v1.NFSVolumeSource",
                            path,
                        } if path == ".spec.volumes[0].nfs"
                    )
                },
            ),
            (
                "IntOrString of unknown type",
                envelope(
                    "policy/v1",
                    "PodDisruptionBudget",
                    &bytes_field(2, &bytes_field(1, &varint_field(1, 2))),
                ),
                |error| {
                    matches!(
                        error,
                        ProtobufError::InvalidIntOrString { type_number: 2, .. }
                    )
                },
            ),
            (
                "time after year 9999",
                envelope(
                    "v1",
                    "Namespace",
                    &bytes_field(1, &bytes_field(8, &varint_field(1, 253_402_300_800))),
                ),
                |error| matches!(error, ProtobufError::TimeOutOfRange { .. }),
            ),
            (
                "unknown field in a time",
                envelope(
                    "v1",
                    "Namespace",
                    &bytes_field(1, &bytes_field(8, &varint_field(3, 1))),
                ),
                |error| {
                    matches!(
                        error,
                        ProtobufError::UnknownField {
                            message: "meta.v1.Time",
                            field: 3,
                            ..
                        }
                    )
                },
            ),
            (
                "managed fields that are not JSON",
                envelope(
                    "v1",
                    "Namespace",
                    &bytes_field(1, &bytes_field(17, &bytes_field(7, &string_field(1, "{")))),
                ),
                |error| matches!(error, ProtobufError::InvalidFieldsV1 { .. }),
            ),
            (
                "gzip content encoding",
                {
                    let mut body = envelope("v1", "Namespace", &named_metadata(&long_name));
                    body.extend(string_field(3, "gzip"));
                    body
                },
                |error| matches!(error, ProtobufError::UnsupportedContentEncoding { encoding } if encoding == "gzip"),
            ),
            (
                "JSON content type",
                {
                    let mut body = envelope("v1", "Namespace", &[]);
                    body.extend(string_field(4, "application/json"));
                    body
                },
                |error| matches!(error, ProtobufError::UnsupportedContentType { .. }),
            ),
        ];
        for (name, body, check_error) in cases {
            match decode_object(&body) {
                Ok(value) => panic!("{name}: decoded to {value}, expected an error"),
                Err(error) => {
                    assert!(check_error(&error), "{name}: unexpected error {error:?}");
                    // Every error renders, naming where it is.
                    assert!(!error.to_string().is_empty());
                }
            }
        }
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_an_error() {
        let body = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/protobuf/deployment/request.bin"),
        )
        .expect("the deployment vector is present");
        assert!(decode_object_with_limits(&body, MAXIMUM_BODY_BYTES, 8).is_ok());
        let error = decode_object_with_limits(&body, MAXIMUM_BODY_BYTES, 3)
            .expect_err("depth 3 is too shallow for a pod template");
        assert!(
            matches!(&error, ProtobufError::TooDeep { limit: 3, path, .. } if path.starts_with(".spec.template")),
            "{error:?}"
        );
    }

    #[test]
    fn a_depth_bomb_is_an_error_without_exhausting_the_stack() {
        // 100,000 nested `metadata`-like wrappers: the schema stops the descent long before.
        let levels = 100_000;
        let mut lengths = vec![0usize];
        for level in 0..levels {
            let inner = lengths[level];
            lengths.push(1 + varint(inner as u64).len() + inner);
        }
        let mut nested = Vec::with_capacity(lengths[levels]);
        for level in (0..levels).rev() {
            nested.push(0x0a);
            nested.extend(varint(lengths[level] as u64));
        }
        assert_eq!(nested.len(), lengths[levels]);
        let error = decode_object(&envelope("v1", "Namespace", &nested))
            .expect_err("a depth bomb does not decode");
        assert!(!error.to_string().is_empty());
        let error = decode_object(&envelope(
            "apps/v1",
            "Deployment",
            &bytes_field(2, &bytes_field(3, &nested)),
        ))
        .expect_err("a depth bomb does not decode");
        assert!(!error.to_string().is_empty());
    }

    #[test]
    fn bodies_over_the_size_limit_are_refused() {
        let body = envelope("v1", "Namespace", &named_metadata("foo"));
        assert!(matches!(
            decode_object_with_limits(&body, 10, MAXIMUM_DEPTH),
            Err(ProtobufError::BodyTooLarge { limit: 10, .. })
        ));
    }

    #[test]
    fn every_truncation_and_corruption_of_the_vectors_returns_without_panicking() {
        for directory in vector_directories() {
            let body = std::fs::read(directory.join("request.bin")).expect("vector is readable");
            for length in 0..body.len() {
                let _ = decode_object(&body[..length]);
            }
            for position in MAGIC.len()..body.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut corrupted = body.clone();
                    corrupted[position] ^= flip;
                    let _ = decode_object(&corrupted);
                }
            }
        }
    }

    #[test]
    fn pointer_zero_values_are_kept_and_omitempty_zero_values_dropped() {
        let metadata = concat(&[
            string_field(1, "c"),
            string_field(2, ""),
            varint_field(7, 0),
            varint_field(10, 0),
            bytes_field(8, &[]),
        ]);
        let body = envelope(
            "v1",
            "ConfigMap",
            &concat(&[
                bytes_field(1, &metadata),
                bytes_field(2, &concat(&[string_field(1, "empty"), string_field(2, "")])),
                bytes_field(2, &string_field(1, "no-value")),
                bytes_field(
                    3,
                    &concat(&[string_field(1, "bin"), bytes_field(2, &[0, 1, 0xff])]),
                ),
                varint_field(4, 0),
            ]),
        );
        let decoded = decode_object(&body).expect("decodes");
        assert_eq!(
            decoded,
            serde_json::json!({
                "kind": "ConfigMap",
                "apiVersion": "v1",
                "metadata": {"name": "c", "deletionGracePeriodSeconds": 0},
                "data": {"empty": "", "no-value": ""},
                "binaryData": {"bin": "AAH/"},
                "immutable": false,
            })
        );
    }

    #[test]
    fn a_pod_with_the_special_kinds_decodes_as_go_writes_it() {
        let http_get = concat(&[
            string_field(1, "/healthz"),
            bytes_field(2, &concat(&[varint_field(1, 1), string_field(3, "http")])),
        ]);
        let readiness_probe = concat(&[
            bytes_field(1, &bytes_field(2, &http_get)),
            varint_field(2, 5),
            varint_field(3, 0),
        ]);
        let environment = concat(&[
            string_field(1, "FROM_CONFIG"),
            string_field(2, ""),
            bytes_field(
                3,
                &bytes_field(
                    3,
                    &concat(&[
                        bytes_field(1, &string_field(1, "settings")),
                        string_field(2, "level"),
                    ]),
                ),
            ),
        ]);
        let limits = concat(&[
            string_field(1, "memory"),
            bytes_field(2, &string_field(1, "64Mi")),
        ]);
        let container = concat(&[
            string_field(1, "app"),
            string_field(2, "busybox"),
            string_field(3, "sleep"),
            bytes_field(
                6,
                &concat(&[
                    string_field(1, "http"),
                    varint_field(2, 0),
                    varint_field(3, 8080),
                ]),
            ),
            bytes_field(7, &environment),
            bytes_field(8, &bytes_field(1, &limits)),
            bytes_field(11, &readiness_probe),
            bytes_field(15, &concat(&[varint_field(4, 0), varint_field(2, 0)])),
        ]);
        let volume = concat(&[
            string_field(1, "config"),
            bytes_field(
                2,
                &bytes_field(
                    19,
                    &concat(&[
                        bytes_field(1, &string_field(1, "settings")),
                        varint_field(3, 420),
                    ]),
                ),
            ),
        ]);
        let security_context = concat(&[
            varint_field(4, 1),                               // supplementalGroups, unpacked
            bytes_field(4, &concat(&[varint(2), varint(3)])), // and packed
            varint_field(5, 2000),
        ]);
        let spec = concat(&[
            bytes_field(1, &volume),
            bytes_field(2, &container),
            bytes_field(14, &security_context),
            varint_field(25, (-7i64) as u64),
        ]);
        let metadata = concat(&[
            string_field(1, "p"),
            bytes_field(
                8,
                &concat(&[varint_field(1, 1_700_000_000), varint_field(2, 5)]),
            ),
            bytes_field(
                17,
                &concat(&[
                    string_field(1, "kubectl"),
                    string_field(2, "Update"),
                    bytes_field(7, &string_field(1, r#"{"f:metadata":{}}"#)),
                ]),
            ),
        ]);
        // A second `metadata` merges into the first, as protobuf merges singular messages.
        let more_metadata =
            bytes_field(11, &concat(&[string_field(1, "run"), string_field(2, "p")]));
        let body = envelope(
            "v1",
            "Pod",
            &concat(&[
                bytes_field(1, &metadata),
                bytes_field(1, &more_metadata),
                bytes_field(2, &spec),
                bytes_field(3, &concat(&[string_field(1, "Pending")])),
            ]),
        );
        let decoded = decode_object(&body).expect("decodes");
        assert_eq!(
            decoded,
            serde_json::json!({
                "kind": "Pod",
                "apiVersion": "v1",
                "metadata": {
                    "name": "p",
                    "creationTimestamp": "2023-11-14T22:13:20Z",
                    "managedFields": [{
                        "manager": "kubectl",
                        "operation": "Update",
                        "fieldsV1": {"f:metadata": {}},
                    }],
                    "labels": {"run": "p"},
                },
                "spec": {
                    "volumes": [{
                        "name": "config",
                        "configMap": {"name": "settings", "defaultMode": 420},
                    }],
                    "containers": [{
                        "name": "app",
                        "image": "busybox",
                        "command": ["sleep"],
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "env": [{
                            "name": "FROM_CONFIG",
                            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "level"}},
                        }],
                        "resources": {"limits": {"memory": "64Mi"}},
                        "readinessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http"},
                            "initialDelaySeconds": 5,
                        },
                        "securityContext": {"runAsUser": 0, "privileged": false},
                    }],
                    "securityContext": {"supplementalGroups": [1, 2, 3], "fsGroup": 2000},
                    "priority": -7,
                },
                "status": {"phase": "Pending"},
            })
        );
    }

    #[test]
    fn times_are_formatted_as_rfc_3339_in_seconds() {
        let cases = [
            (0, Some("1970-01-01T00:00:00Z")),
            (-1, Some("1969-12-31T23:59:59Z")),
            (951_782_400, Some("2000-02-29T00:00:00Z")),
            (1_700_000_000, Some("2023-11-14T22:13:20Z")),
            (-62_167_219_200, Some("0000-01-01T00:00:00Z")),
            (253_402_300_799, Some("9999-12-31T23:59:59Z")),
            (253_402_300_800, None),
            (-62_167_219_201, None),
            (i64::MIN, None),
        ];
        for (seconds, expected) in cases {
            assert_eq!(format_rfc3339(seconds).as_deref(), expected, "{seconds}");
        }
    }

    /// Every message reachable from the kinds: field numbers unique, names set, inlined fields
    /// are messages.
    #[test]
    fn the_schema_table_is_consistent() {
        let mut pending: Vec<&'static MessageType> = OBJECT_TYPES
            .iter()
            .map(|(_, _, message_type)| *message_type)
            .collect();
        let mut seen: Vec<&'static str> = Vec::new();
        while let Some(message_type) = pending.pop() {
            if seen.contains(&message_type.name) {
                continue;
            }
            seen.push(message_type.name);
            for (index, field) in message_type.fields.iter().enumerate() {
                assert!(
                    message_type.fields[index + 1..]
                        .iter()
                        .all(|other| other.number != field.number),
                    "{} field {} twice",
                    message_type.name,
                    field.number
                );
                assert_eq!(
                    field.json_name.is_empty(),
                    field.shape == Shape::Inline,
                    "{} field {}",
                    message_type.name,
                    field.number
                );
                if let Kind::Message(inner) = field.kind {
                    pending.push(inner);
                } else {
                    assert!(
                        field.shape != Shape::Inline,
                        "{} field {}",
                        message_type.name,
                        field.number
                    );
                }
            }
        }
        assert!(seen.len() > 100, "{} message types", seen.len());
    }
}
