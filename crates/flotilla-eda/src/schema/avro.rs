//! Avro: schemas parsed as Apache Avro's Java `Schema.Parser` parses them (names and
//! namespaces, aliases, defaults validated as a registry validates a new schema), and the
//! specification's schema resolution as Java's `SchemaCompatibility` checker applies it — the
//! checker Confluent Schema Registry and Apicurio call:
//!
//! - same types: primitives match; arrays compare items, maps values; records, enums and fixed
//!   compare unqualified names or the reader's aliases (`NAME_MISMATCH`); fixed sizes
//!   (`FIXED_SIZE_MISMATCH`); enum symbols the writer has and the reader lacks, unless the
//!   reader declares a default (`MISSING_ENUM_SYMBOLS`); record fields by name or reader field
//!   alias, a reader field the writer lacks needing a default
//!   (`READER_FIELD_MISSING_DEFAULT_VALUE`; a reader enum field with an enum default is checked
//!   against the writer record itself, as Java does, which never matches); writer fields the
//!   reader lacks are skipped; a writer union's every branch must resolve in the reader union
//!   (`MISSING_UNION_BRANCH`).
//! - different types: a writer union's every branch must resolve; promotions int → long, float,
//!   double; long → float, double; float → double; string ↔ bytes; a reader union needs one
//!   branch that reads the writer (`MISSING_UNION_BRANCH`); anything else `TYPE_MISMATCH`.
//! - recursion: a pair met again while it is being compared is taken as compatible, and every
//!   pair is compared once (memoised), as Java does.
//!
//! Java throws when a reader field matches two writer fields (its name and an alias); Confluent
//! reports that as incompatible, and so does this checker. Logical types are read and ignored,
//! as the checker ignores them.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::hash::BuildHasher;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::json_text::{self, Node, Position, Value};
use super::{Problem, Roles, SchemaError, SchemaText};

/// How deep schemas nest (records in fields in arrays ...) before the parser refuses them.
const MAX_NESTING: usize = 128;

type TypeId = usize;

/// Records, enums and unions with up to this many members find duplicates among the members
/// read so far, without a set; larger ones through a set (an enormous record stays linear).
const SMALL_LIST: usize = 16;

/// A parsed Avro schema: its types in an arena (named types referred to by index, so recursive
/// schemas are cycles of indexes) and the root. Names, symbols and aliases borrow from the
/// schema text (`'a`) unless the text escapes them or a namespace qualifies them, so parsing a
/// schema allocates little more than the arena.
#[derive(Clone, Debug)]
pub struct Schema<'a> {
    file: &'a str,
    types: Vec<Type<'a>>,
    /// Where each type is written (the file's start for primitives).
    positions: Vec<Position>,
    root: TypeId,
}

#[derive(Clone, Debug)]
struct Named<'a> {
    /// The full name (`com.example.Order`).
    full: Cow<'a, str>,
    /// Where the unqualified name (`Order`) starts in `full`.
    simple_start: usize,
    /// The aliases, qualified with the type's namespace when written unqualified.
    aliases: Vec<Cow<'a, str>>,
}

#[derive(Clone, Debug)]
struct Field<'a> {
    name: Cow<'a, str>,
    aliases: Vec<Cow<'a, str>>,
    type_id: TypeId,
    has_default: bool,
}

#[derive(Clone, Debug)]
enum Type<'a> {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array(TypeId),
    Map(TypeId),
    Union(Vec<TypeId>),
    Record(Named<'a>, Vec<Field<'a>>),
    Enum(Named<'a>, Vec<Cow<'a, str>>, Option<Cow<'a, str>>),
    Fixed(Named<'a>, u64),
}

impl Named<'_> {
    /// The unqualified name (`Order`).
    fn simple(&self) -> &str {
        &self.full[self.simple_start..]
    }
}

impl<'a> Type<'a> {
    /// The Avro type name (`record`, `int`).
    fn kind(&self) -> &'static str {
        match self {
            Type::Null => "null",
            Type::Boolean => "boolean",
            Type::Int => "int",
            Type::Long => "long",
            Type::Float => "float",
            Type::Double => "double",
            Type::Bytes => "bytes",
            Type::String => "string",
            Type::Array(_) => "array",
            Type::Map(_) => "map",
            Type::Union(_) => "union",
            Type::Record(..) => "record",
            Type::Enum(..) => "enum",
            Type::Fixed(..) => "fixed",
        }
    }

    fn same_kind(&self, other: &Type) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// The name of a record, enum or fixed.
    fn named(&self) -> Option<&Named<'a>> {
        match self {
            Type::Record(named, _) | Type::Enum(named, ..) | Type::Fixed(named, _) => Some(named),
            _ => None,
        }
    }

    /// What a union may hold once: a named type by its full name, any other by its kind.
    fn union_key(&self) -> &str {
        match self.named() {
            Some(named) => &named.full,
            None => self.kind(),
        }
    }
}

const PRIMITIVES: [(&str, Type<'static>); 8] = [
    ("null", Type::Null),
    ("boolean", Type::Boolean),
    ("int", Type::Int),
    ("long", Type::Long),
    ("float", Type::Float),
    ("double", Type::Double),
    ("bytes", Type::Bytes),
    ("string", Type::String),
];

fn primitive(name: &str) -> Option<TypeId> {
    PRIMITIVES
        .iter()
        .position(|(primitive, _)| *primitive == name)
}

/// A string node's text, borrowed from the schema text when it is written without escapes.
fn string_of<'a>(node: &Node<'a>) -> Option<Cow<'a, str>> {
    match &node.value {
        Value::String(text) => Some(text.clone()),
        _ => None,
    }
}

/// The part `range` of a text, borrowed from the schema text when the text is.
fn part_of<'a>(text: &Cow<'a, str>, range: std::ops::Range<usize>) -> Cow<'a, str> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(&text[range]),
        Cow::Owned(text) => Cow::Owned(text[range].to_string()),
    }
}

/// The first of `items` whose key an earlier item has: found by comparing each with those
/// before it in a short list, through a set in a long one.
fn first_repeated<T>(items: &[T], key: impl Fn(&T) -> &str) -> Option<usize> {
    if items.len() <= SMALL_LIST {
        (1..items.len()).find(|&index| {
            items[..index]
                .iter()
                .any(|earlier| key(earlier) == key(&items[index]))
        })
    } else {
        let mut seen = HashSet::with_capacity(items.len());
        items.iter().position(|item| !seen.insert(key(item)))
    }
}

impl<'a> Schema<'a> {
    /// Parses an Avro schema (JSON), after the named types its references define.
    pub fn parse(text: &'a SchemaText) -> Result<Schema<'a>, SchemaError> {
        let mut parser = Parser {
            file: &text.name,
            types: Vec::with_capacity(PRIMITIVES.len() + 8),
            positions: Vec::with_capacity(PRIMITIVES.len() + 8),
            names: hashbrown::HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            defaults: Vec::new(),
        };
        for (_, kind) in &PRIMITIVES {
            parser.push(kind.clone(), Position::default());
        }
        let empty = Cow::Borrowed("");
        for reference in &text.references {
            let node = read_json(reference)?;
            let file = parser.file;
            parser.file = &reference.name;
            parser.parse(&node, &empty, 0)?;
            parser.check_defaults()?;
            parser.file = file;
        }
        let node = read_json(text)?;
        let root = parser.parse(&node, &empty, 0)?;
        parser.check_defaults()?;
        Ok(Schema {
            file: &text.name,
            types: parser.types,
            positions: parser.positions,
            root,
        })
    }

    /// Whether a type is a record, an enum or a fixed (a type with a name).
    fn is_named(&self, id: TypeId) -> bool {
        self.types.get(id).and_then(Type::named).is_some()
    }

    /// A short description of a type for messages: `int`, `record Order`, `array<int>`,
    /// `union [null, string]`.
    fn describe(&self, id: TypeId) -> String {
        self.describe_at(id, 2)
    }

    fn describe_at(&self, id: TypeId, depth: usize) -> String {
        let inner = |id: TypeId| {
            if depth == 0 {
                "…".to_string()
            } else {
                self.describe_at(id, depth - 1)
            }
        };
        match &self.types[id] {
            Type::Array(items) => format!("array<{}>", inner(*items)),
            Type::Map(values) => format!("map<{}>", inner(*values)),
            Type::Union(branches) => format!(
                "union [{}]",
                branches
                    .iter()
                    .map(|branch| inner(*branch))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Type::Record(named, _) => format!("record {}", named.full),
            Type::Enum(named, ..) => format!("enum {}", named.full),
            Type::Fixed(named, size) => format!("fixed {}({size})", named.full),
            other => other.kind().to_string(),
        }
    }
}

fn read_json(text: &SchemaText) -> Result<Node<'_>, SchemaError> {
    json_text::parse(&text.text).map_err(|error| {
        SchemaError::new(
            &text.name,
            error.position,
            format!("invalid JSON: {}", error.message),
        )
    })
}

/// A field default still to validate: the record and the field's index in it, the field's
/// type, and the value.
struct PendingDefault<'a> {
    record: TypeId,
    field: usize,
    type_id: TypeId,
    value: Node<'a>,
}

struct Parser<'a> {
    // `'a`: the schema texts (file names, names, and the default values kept to validate).
    file: &'a str,
    types: Vec<Type<'a>>,
    positions: Vec<Position>,
    /// The named types defined so far, found by full name (hashed with `hasher`; the names
    /// themselves are the types', not copied).
    names: hashbrown::HashTable<TypeId>,
    hasher: foldhash::fast::RandomState,
    /// Field defaults still to validate, once every type they may name is defined.
    defaults: Vec<PendingDefault<'a>>,
}

// Namespaces are passed as `&Cow<'a, str>`, not `&str`, so that the names they qualify borrow
// from the schema text (`'a`) instead of being copied.
#[allow(clippy::ptr_arg)]
impl<'a> Parser<'a> {
    fn error(&self, position: Position, message: impl Into<String>) -> SchemaError {
        SchemaError::new(self.file, position, message)
    }

    fn push(&mut self, kind: Type<'a>, position: Position) -> TypeId {
        self.types.push(kind);
        self.positions.push(position);
        self.types.len() - 1
    }

    /// The named type whose full name is `full`.
    fn named_type(&self, full: &str) -> Option<TypeId> {
        let types = &self.types;
        self.names
            .find(self.hasher.hash_one(full), |&id| {
                types[id].named().is_some_and(|named| named.full == full)
            })
            .copied()
    }

    /// A name used as a type: a primitive, or a named type looked up in the enclosing namespace
    /// and then in the null namespace (Java's `Names.get`).
    fn lookup(&self, name: &str, namespace: &str) -> Option<TypeId> {
        if let Some(id) = primitive(name) {
            return Some(id);
        }
        if !name.contains('.') && !namespace.is_empty() {
            if let Some(id) = self.named_type(&format!("{namespace}.{name}")) {
                return Some(id);
            }
        }
        self.named_type(name)
    }

    fn parse(
        &mut self,
        node: &Node<'a>,
        namespace: &Cow<'a, str>,
        depth: usize,
    ) -> Result<TypeId, SchemaError> {
        if depth > MAX_NESTING {
            return Err(self.error(
                node.position,
                format!("the schema nests deeper than {MAX_NESTING} levels"),
            ));
        }
        match &node.value {
            Value::String(name) => self
                .lookup(name, namespace)
                .ok_or_else(|| self.error(node.position, format!("undefined name: \"{name}\""))),
            Value::Array(branches) => self.parse_union(node, branches, namespace, depth),
            Value::Object(_) => self.parse_object(node, namespace, depth),
            _ => Err(self.error(
                node.position,
                format!(
                    "a schema is a type name, an object or a union (array), not {}",
                    node.type_name()
                ),
            )),
        }
    }

    fn parse_union(
        &mut self,
        node: &Node<'a>,
        branches: &[Node<'a>],
        namespace: &Cow<'a, str>,
        depth: usize,
    ) -> Result<TypeId, SchemaError> {
        let mut ids = Vec::with_capacity(branches.len());
        // Large unions find repeated branches through a set of their keys.
        let mut seen: Option<HashSet<String>> =
            (branches.len() > SMALL_LIST).then(|| HashSet::with_capacity(branches.len()));
        for branch in branches {
            let id = self.parse(branch, namespace, depth + 1)?;
            let kind = &self.types[id];
            if matches!(kind, Type::Union(_)) {
                return Err(self.error(branch.position, "a union may not contain a union"));
            }
            let key = kind.union_key();
            let repeated = match seen.as_mut() {
                Some(seen) => !seen.insert(key.to_string()),
                None => ids
                    .iter()
                    .any(|&earlier: &TypeId| self.types[earlier].union_key() == key),
            };
            if repeated {
                return Err(self.error(branch.position, format!("duplicate in union: {key}")));
            }
            ids.push(id);
        }
        Ok(self.push(Type::Union(ids), node.position))
    }

    /// The string member `key` of an object, absent or an error naming its type when it is
    /// not a string.
    fn text(&self, node: &Node<'a>, key: &str) -> Result<Option<Cow<'a, str>>, SchemaError> {
        match node.get(key) {
            None => Ok(None),
            Some(value) => string_of(value).map(Some).ok_or_else(|| {
                self.error(
                    value.position,
                    format!("`{key}` must be a string, not {}", value.type_name()),
                )
            }),
        }
    }

    fn parse_object(
        &mut self,
        node: &Node<'a>,
        namespace: &Cow<'a, str>,
        depth: usize,
    ) -> Result<TypeId, SchemaError> {
        let kind = match node.get("type") {
            None => return Err(self.error(node.position, "no `type` in schema")),
            Some(kind) => kind.as_str().ok_or_else(|| {
                self.error(
                    kind.position,
                    format!(
                        "`type` of a schema object must be a string, not {} (write the type itself, not an object holding it)",
                        kind.type_name()
                    ),
                )
            })?,
        };
        if let Some(id) = primitive(kind) {
            return Ok(id);
        }
        match kind {
            "record" | "error" => self.parse_record(node, namespace, depth),
            "enum" => self.parse_enum(node, namespace),
            "fixed" => self.parse_fixed(node, namespace),
            "array" => {
                let items = node
                    .get("items")
                    .ok_or_else(|| self.error(node.position, "array has no `items` type"))?;
                let items = self.parse(items, namespace, depth + 1)?;
                Ok(self.push(Type::Array(items), node.position))
            }
            "map" => {
                let values = node
                    .get("values")
                    .ok_or_else(|| self.error(node.position, "map has no `values` type"))?;
                let values = self.parse(values, namespace, depth + 1)?;
                Ok(self.push(Type::Map(values), node.position))
            }
            other => self.lookup(other, namespace).ok_or_else(|| {
                self.error(
                    node.get("type").map_or(node.position, |kind| kind.position),
                    format!("type not supported: \"{other}\""),
                )
            }),
        }
    }

    /// The full name of a named type and its namespace (Java's `Name`): a dotted name is full;
    /// otherwise `namespace`, or the enclosing namespace. The namespace is answered too, for
    /// the names inside the type.
    fn name(
        &self,
        node: &Node<'a>,
        enclosing: &Cow<'a, str>,
    ) -> Result<(Named<'a>, Cow<'a, str>), SchemaError> {
        let name_node = node
            .get("name")
            .ok_or_else(|| self.error(node.position, "no `name` in named schema"))?;
        let name = string_of(name_node)
            .ok_or_else(|| self.error(name_node.position, "`name` must be a string"))?;
        let enclosing_or_own = self
            .text(node, "namespace")?
            .unwrap_or_else(|| enclosing.clone());
        // A dotted name is full; otherwise it is qualified with the namespace. The full name
        // borrows from the text unless it has to be put together; the unqualified name is a
        // suffix of it.
        let (full, simple_start, space) = match name.rfind('.') {
            // `.Order`: the null namespace.
            Some(0) => (part_of(&name, 1..name.len()), 0, Cow::Borrowed("")),
            Some(dot) => (name.clone(), dot + 1, part_of(&name, 0..dot)),
            None if enclosing_or_own.is_empty() => (name, 0, Cow::Borrowed("")),
            None => (
                Cow::Owned(format!("{enclosing_or_own}.{name}")),
                enclosing_or_own.len() + 1,
                enclosing_or_own,
            ),
        };
        self.check_name(&full[simple_start..], name_node.position)?;
        for part in space.split('.').filter(|_| !space.is_empty()) {
            self.check_name(part, name_node.position)?;
        }
        let mut aliases = Vec::new();
        if let Some(list) = node.get("aliases") {
            let items = list
                .as_array()
                .ok_or_else(|| self.error(list.position, "`aliases` must be an array of names"))?;
            for alias in items {
                let alias_name = string_of(alias)
                    .ok_or_else(|| self.error(alias.position, "an alias must be a string"))?;
                aliases.push(if alias_name.contains('.') || space.is_empty() {
                    alias_name
                } else {
                    Cow::Owned(format!("{space}.{alias_name}"))
                });
            }
        }
        Ok((
            Named {
                full,
                simple_start,
                aliases,
            },
            space,
        ))
    }

    fn check_name(&self, name: &str, position: Position) -> Result<(), SchemaError> {
        let mut characters = name.chars();
        let valid = match characters.next() {
            Some(first) if first.is_ascii_alphabetic() || first == '_' => {
                characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
            }
            _ => false,
        };
        if valid {
            Ok(())
        } else {
            Err(self.error(
                position,
                format!("illegal name \"{name}\": names start with a letter or _ and hold letters, digits and _"),
            ))
        }
    }

    /// Registers a named type (`kind` holds its name) before its body is read, so that it may
    /// refer to itself.
    fn define(&mut self, kind: Type<'a>, position: Position) -> Result<TypeId, SchemaError> {
        let full = kind
            .named()
            .map(|named| named.full.as_ref())
            .unwrap_or_default();
        if primitive(full).is_some() {
            return Err(self.error(
                position,
                format!("schemas may not be named after primitives: {full}"),
            ));
        }
        if self.named_type(full).is_some() {
            return Err(self.error(position, format!("can't redefine: {full}")));
        }
        let hash = self.hasher.hash_one(full);
        let id = self.push(kind, position);
        let (types, hasher) = (&self.types, &self.hasher);
        self.names.insert_unique(hash, id, |&other| {
            hasher.hash_one(types[other].named().map_or("", |named| named.full.as_ref()))
        });
        Ok(id)
    }

    fn parse_record(
        &mut self,
        node: &Node<'a>,
        enclosing: &Cow<'a, str>,
        depth: usize,
    ) -> Result<TypeId, SchemaError> {
        let (named, space) = self.name(node, enclosing)?;
        let field_nodes = match node.get("fields") {
            Some(fields) => fields
                .as_array()
                .ok_or_else(|| self.error(fields.position, "`fields` must be an array"))?,
            None => {
                return Err(self.error(
                    node.position,
                    format!("record {} has no `fields`", named.full),
                ))
            }
        };
        let id = self.define(Type::Record(named, Vec::new()), node.position)?;
        let mut fields: Vec<Field<'a>> = Vec::with_capacity(field_nodes.len());
        for field in field_nodes {
            if field.as_object().is_none() {
                return Err(self.error(field.position, "a field must be an object"));
            }
            let name_node = field
                .get("name")
                .ok_or_else(|| self.error(field.position, "no field `name`"))?;
            let name = string_of(name_node)
                .ok_or_else(|| self.error(name_node.position, "a field `name` must be a string"))?;
            self.check_name(&name, name_node.position)?;
            let type_node = field
                .get("type")
                .ok_or_else(|| self.error(field.position, format!("field {name} has no `type`")))?;
            let type_id = self.parse(type_node, &space, depth + 1)?;
            let mut aliases = Vec::new();
            if let Some(list) = field.get("aliases") {
                let items = list.as_array().ok_or_else(|| {
                    self.error(list.position, "field `aliases` must be an array of names")
                })?;
                for alias in items {
                    aliases.push(
                        string_of(alias).ok_or_else(|| {
                            self.error(alias.position, "an alias must be a string")
                        })?,
                    );
                }
            }
            if let Some(order) = field.get("order") {
                match order.as_str() {
                    Some("ascending" | "descending" | "ignore") => {}
                    _ => {
                        return Err(self.error(
                            order.position,
                            "field `order` must be ascending, descending or ignore",
                        ))
                    }
                }
            }
            let default = field.get("default");
            if let Some(default) = default {
                self.defaults.push(PendingDefault {
                    record: id,
                    field: fields.len(),
                    type_id,
                    value: default.clone(),
                });
            }
            fields.push(Field {
                name,
                aliases,
                type_id,
                has_default: default.is_some(),
            });
        }
        if let Some(repeated) = first_repeated(&fields, |field| &field.name) {
            let (record, name) = (&self.types[id], &fields[repeated].name);
            let full = record
                .named()
                .map(|named| named.full.as_ref())
                .unwrap_or_default();
            let position = field_nodes[repeated]
                .get("name")
                .map_or(node.position, |name| name.position);
            return Err(self.error(position, format!("duplicate field {name} in record {full}")));
        }
        if let Type::Record(_, slot) = &mut self.types[id] {
            *slot = fields;
        }
        Ok(id)
    }

    fn parse_enum(
        &mut self,
        node: &Node<'a>,
        enclosing: &Cow<'a, str>,
    ) -> Result<TypeId, SchemaError> {
        let (named, _) = self.name(node, enclosing)?;
        let symbols_node = node.get("symbols").ok_or_else(|| {
            self.error(
                node.position,
                format!("enum {} has no `symbols`", named.full),
            )
        })?;
        let items = symbols_node
            .as_array()
            .ok_or_else(|| self.error(symbols_node.position, "`symbols` must be an array"))?;
        let mut symbols: Vec<Cow<'a, str>> = Vec::with_capacity(items.len());
        // Symbols are checked one by one, as Java's `EnumSchema` does: each name, then whether
        // it repeats one before it (through a set in a long list).
        let mut seen: Option<HashSet<&str>> =
            (items.len() > SMALL_LIST).then(|| HashSet::with_capacity(items.len()));
        for symbol in items {
            let text = string_of(symbol)
                .ok_or_else(|| self.error(symbol.position, "an enum symbol must be a string"))?;
            self.check_name(&text, symbol.position)?;
            let repeated = match (seen.as_mut(), symbol.as_str()) {
                (Some(seen), Some(key)) => !seen.insert(key),
                _ => symbols.contains(&text),
            };
            if repeated {
                return Err(self.error(symbol.position, format!("duplicate enum symbol: {text}")));
            }
            symbols.push(text);
        }
        let default = match node.get("default") {
            None => None,
            Some(default) => {
                let text = string_of(default).ok_or_else(|| {
                    self.error(default.position, "an enum `default` must be a string")
                })?;
                if !symbols.contains(&text) {
                    return Err(self.error(
                        default.position,
                        format!(
                            "the enum default {text} is not one of the symbols of {}",
                            named.full
                        ),
                    ));
                }
                Some(text)
            }
        };
        self.define(Type::Enum(named, symbols, default), node.position)
    }

    fn parse_fixed(
        &mut self,
        node: &Node<'a>,
        enclosing: &Cow<'a, str>,
    ) -> Result<TypeId, SchemaError> {
        let (named, _) = self.name(node, enclosing)?;
        let size = node
            .get("size")
            .and_then(|size| size.as_i64())
            .filter(|size| (0..=i64::from(i32::MAX)).contains(size))
            .ok_or_else(|| {
                self.error(
                    node.position,
                    format!("fixed {} has no valid `size`", named.full),
                )
            })?;
        self.define(
            Type::Fixed(named, u64::try_from(size).unwrap_or_default()),
            node.position,
        )
    }

    /// Field defaults must be values of the field's type (a union's: of any branch), as the Java
    /// parser checks them for a new schema.
    fn check_defaults(&mut self) -> Result<(), SchemaError> {
        for pending in std::mem::take(&mut self.defaults) {
            if !self.valid_default(pending.type_id, &pending.value, 0) {
                let field = match &self.types[pending.record] {
                    Type::Record(named, fields) => format!(
                        "{}.{}",
                        named.full,
                        fields
                            .get(pending.field)
                            .map_or("", |field| field.name.as_ref())
                    ),
                    _ => String::new(),
                };
                return Err(self.error(
                    pending.value.position,
                    format!(
                        "invalid default for field {field}: {} is not a {}",
                        pending.value.to_json(),
                        self.types[pending.type_id].kind()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn valid_default(&self, type_id: TypeId, value: &Node, depth: usize) -> bool {
        if depth > MAX_NESTING {
            return false;
        }
        match &self.types[type_id] {
            Type::Null => value.is_null(),
            Type::Boolean => value.as_bool().is_some(),
            Type::Int => value
                .as_i64()
                .is_some_and(|number| i32::try_from(number).is_ok()),
            Type::Long => value.as_i64().is_some(),
            Type::Float | Type::Double => matches!(value.value, Value::Number(_)),
            Type::Bytes | Type::String | Type::Enum(..) | Type::Fixed(..) => {
                value.as_str().is_some()
            }
            Type::Array(items) => value.as_array().is_some_and(|elements| {
                elements
                    .iter()
                    .all(|element| self.valid_default(*items, element, depth + 1))
            }),
            Type::Map(values) => value.as_object().is_some_and(|members| {
                members
                    .iter()
                    .all(|(_, member)| self.valid_default(*values, member, depth + 1))
            }),
            Type::Union(branches) => branches
                .iter()
                .any(|branch| self.valid_default(*branch, value, depth + 1)),
            Type::Record(_, fields) => {
                value.as_object().is_some() && {
                    fields.iter().all(|field| match value.get(&field.name) {
                        Some(member) => self.valid_default(field.type_id, member, depth + 1),
                        None => field.has_default,
                    })
                }
            }
        }
    }
}

/// Whether `reader` reads what `writer` wrote; the problems found, empty when it does.
pub(crate) fn check(
    reader: &Schema<'_>,
    writer: &Schema<'_>,
    roles: Roles,
) -> Result<Vec<Problem>, SchemaError> {
    let mut checker = Checker {
        reader,
        writer,
        roles,
        memo: HashMap::new(),
        depth: 0,
        too_deep: None,
    };
    let mut path = Vec::new();
    let problems = checker.compatibility(reader.root, writer.root, &mut path);
    match checker.too_deep {
        Some(type_id) => Err(SchemaError::new(
            reader.file,
            reader.positions[type_id],
            format!("the schema nests deeper than {MAX_COMPARE_DEPTH} types through named references; not compared"),
        )),
        None => Ok(problems),
    }
}

/// The most problems kept for one pair of types.
const MAX_PROBLEMS: usize = 16;

/// How deep a comparison follows types into types before it gives up with an error.
const MAX_COMPARE_DEPTH: usize = 256;

enum Memo {
    InProgress,
    Done(Vec<Problem>),
}

struct Checker<'a, 't> {
    reader: &'a Schema<'t>,
    writer: &'a Schema<'t>,
    roles: Roles,
    memo: HashMap<(TypeId, TypeId), Memo>,
    depth: usize,
    /// The reader type where the comparison went deeper than it may.
    too_deep: Option<TypeId>,
}

impl<'a, 't> Checker<'a, 't> {
    /// Java's `getCompatibility`: memoised, and a pair met again while in progress counts as
    /// compatible.
    fn compatibility(
        &mut self,
        reader: TypeId,
        writer: TypeId,
        path: &mut Vec<&'a str>,
    ) -> Vec<Problem> {
        // Only pairs with a named type are remembered: every cycle runs through one (a schema
        // recurses only by name), and the other pairs are cheaper to compare again than to
        // look up.
        if !(self.reader.is_named(reader) || self.writer.is_named(writer)) {
            if self.depth >= MAX_COMPARE_DEPTH {
                self.too_deep.get_or_insert(reader);
                return Vec::new();
            }
            self.depth += 1;
            let mut problems = self.calculate(reader, writer, path);
            self.depth -= 1;
            problems.truncate(MAX_PROBLEMS);
            return problems;
        }
        match self.memo.get(&(reader, writer)) {
            Some(Memo::InProgress) => return Vec::new(),
            Some(Memo::Done(problems)) => return problems.clone(),
            None => {}
        }
        if self.depth >= MAX_COMPARE_DEPTH {
            self.too_deep.get_or_insert(reader);
            return Vec::new();
        }
        self.memo.insert((reader, writer), Memo::InProgress);
        self.depth += 1;
        let mut problems = self.calculate(reader, writer, path);
        self.depth -= 1;
        // The verdict needs one problem; a few name what is wrong. Keeping every problem of
        // every nested pair would grow as the cube of a chain of named types.
        problems.truncate(MAX_PROBLEMS);
        self.memo
            .insert((reader, writer), Memo::Done(problems.clone()));
        problems
    }

    fn path_text(path: &[&str]) -> String {
        let mut text = String::new();
        for part in path {
            if !text.is_empty() && !part.starts_with('[') && !part.starts_with('{') {
                text.push('.');
            }
            text.push_str(part);
        }
        text
    }

    /// `field "qty"` for a path that ends in a field, the whole schema otherwise.
    fn subject(path: &[&str]) -> String {
        if path.is_empty() {
            "the schema".to_string()
        } else {
            format!("field \"{}\"", Self::path_text(path))
        }
    }

    fn problem(&self, rule: &str, path: &[&str], message: String) -> Problem {
        Problem {
            rule: rule.to_string(),
            path: Self::path_text(path),
            message,
        }
    }

    fn type_mismatch(&self, reader: TypeId, writer: TypeId, path: &[&str]) -> Problem {
        let (old, new) = self
            .roles
            .old_new(self.reader.describe(reader), self.writer.describe(writer));
        self.problem(
            "TYPE_MISMATCH",
            path,
            format!("{} changed from {old} to {new}", Self::subject(path)),
        )
    }

    fn calculate(
        &mut self,
        reader_id: TypeId,
        writer_id: TypeId,
        path: &mut Vec<&'a str>,
    ) -> Vec<Problem> {
        // Borrowed for the schemas' lifetime, not the checker's: the memo is written while the
        // types are read.
        let (reader_schema, writer_schema): (&'a Schema<'t>, &'a Schema<'t>) =
            (self.reader, self.writer);
        let reader = &reader_schema.types[reader_id];
        let writer = &writer_schema.types[writer_id];
        let mut problems = Vec::new();
        if reader.same_kind(writer) {
            match (reader, writer) {
                (Type::Array(reader_items), Type::Array(writer_items)) => {
                    path.push("[]");
                    problems = self.compatibility(*reader_items, *writer_items, path);
                    path.pop();
                }
                (Type::Map(reader_values), Type::Map(writer_values)) => {
                    path.push("{}");
                    problems = self.compatibility(*reader_values, *writer_values, path);
                    path.pop();
                }
                (
                    Type::Fixed(reader_named, reader_size),
                    Type::Fixed(writer_named, writer_size),
                ) => {
                    problems.extend(self.check_names(reader_named, writer_named, "fixed", path));
                    if reader_size != writer_size {
                        let (old, new) = self.roles.old_new(reader_size, writer_size);
                        problems.push(self.problem(
                            "FIXED_SIZE_MISMATCH",
                            path,
                            format!(
                                "the size of fixed {} changed from {old} to {new}",
                                reader_named.full
                            ),
                        ));
                    }
                }
                (
                    Type::Enum(reader_named, reader_symbols, reader_default),
                    Type::Enum(writer_named, writer_symbols, _),
                ) => {
                    problems.extend(self.check_names(reader_named, writer_named, "enum", path));
                    let missing: BTreeSet<&str> = writer_symbols
                        .iter()
                        .filter(|symbol| !reader_symbols.contains(symbol))
                        .map(|symbol| symbol.as_ref())
                        .collect();
                    let defaulted = reader_default
                        .as_ref()
                        .is_some_and(|default| reader_symbols.contains(default));
                    if !missing.is_empty() && !defaulted {
                        let list = missing.into_iter().collect::<Vec<_>>().join(", ");
                        let message = if self.roles.reader_is_new {
                            format!(
                                "enum {} lost symbols [{list}] and declares no default",
                                reader_named.full
                            )
                        } else {
                            format!(
                                "enum {} gained symbols [{list}] and the old enum declares no default",
                                reader_named.full
                            )
                        };
                        problems.push(self.problem("MISSING_ENUM_SYMBOLS", path, message));
                    }
                }
                (
                    Type::Record(reader_named, reader_fields),
                    Type::Record(writer_named, writer_fields),
                ) => {
                    problems.extend(self.check_names(reader_named, writer_named, "record", path));
                    problems.extend(self.check_fields(
                        reader_fields,
                        writer_fields,
                        writer_id,
                        path,
                    ));
                }
                (Type::Union(_), Type::Union(writer_branches)) => {
                    for &branch in writer_branches {
                        if !self.compatibility(reader_id, branch, path).is_empty() {
                            problems.push(self.missing_branch(branch, path));
                        }
                    }
                }
                _ => {}
            }
            return problems;
        }
        if let Type::Union(writer_branches) = writer {
            for &branch in writer_branches {
                problems.extend(self.compatibility(reader_id, branch, path));
            }
            return problems;
        }
        let promotes = matches!(
            (reader, writer),
            (Type::Long, Type::Int)
                | (Type::Float, Type::Int | Type::Long)
                | (Type::Double, Type::Int | Type::Long | Type::Float)
                | (Type::Bytes, Type::String)
                | (Type::String, Type::Bytes)
        );
        if promotes {
            return problems;
        }
        if let Type::Union(reader_branches) = reader {
            for &branch in reader_branches {
                if self.compatibility(branch, writer_id, path).is_empty() {
                    return problems;
                }
            }
            problems.push(self.missing_branch(writer_id, path));
            return problems;
        }
        problems.push(self.type_mismatch(reader_id, writer_id, path));
        problems
    }

    fn missing_branch(&self, writer_branch: TypeId, path: &[&str]) -> Problem {
        let branch = self.writer.describe(writer_branch);
        let message = if self.roles.reader_is_new {
            format!(
                "{} can no longer be {branch}: the new schema has no union branch for it",
                Self::subject(path)
            )
        } else {
            format!(
                "{} can now be {branch}, which the old schema has no union branch for",
                Self::subject(path)
            )
        };
        self.problem("MISSING_UNION_BRANCH", path, message)
    }

    /// Java's `schemaNameEquals`: unqualified names equal, or the writer's full name among the
    /// reader's aliases.
    fn check_names(
        &self,
        reader: &Named<'t>,
        writer: &Named<'t>,
        kind: &str,
        path: &[&str],
    ) -> Option<Problem> {
        if reader.simple() == writer.simple() || reader.aliases.contains(&writer.full) {
            return None;
        }
        let (old, new) = self.roles.old_new(&reader.full, &writer.full);
        let hint = if self.roles.reader_is_new {
            format!(" (give the new {kind} the alias \"{old}\")")
        } else {
            String::new()
        };
        Some(self.problem(
            "NAME_MISMATCH",
            path,
            format!("{kind} {old} was renamed to {new}{hint}"),
        ))
    }

    fn check_fields(
        &mut self,
        reader_fields: &'a [Field<'t>],
        writer_fields: &'a [Field<'t>],
        writer_id: TypeId,
        path: &mut Vec<&'a str>,
    ) -> Vec<Problem> {
        // The writer's fields by name: searched in order in a small record, through a map in a
        // large one.
        let by_name: Option<HashMap<&str, &Field>> =
            (writer_fields.len() > SMALL_LIST).then(|| {
                writer_fields
                    .iter()
                    .map(|field| (field.name.as_ref(), field))
                    .collect()
            });
        let writer_field = |name: &str| match &by_name {
            Some(by_name) => by_name.get(name).copied(),
            None => writer_fields.iter().find(|field| field.name == name),
        };
        let mut problems = Vec::new();
        for reader_field in reader_fields {
            path.push(&reader_field.name);
            // The writer fields the reader field's name and aliases find: none, one, or more
            // (only whether there is a second one matters).
            let mut matches = writer_field(&reader_field.name).into_iter().chain(
                reader_field
                    .aliases
                    .iter()
                    .filter_map(|alias| writer_field(alias)),
            );
            match (matches.next(), matches.next()) {
                (None, _) => {
                    if !reader_field.has_default {
                        let enum_default = matches!(
                            &self.reader.types[reader_field.type_id],
                            Type::Enum(_, _, Some(_))
                        );
                        if enum_default {
                            problems.extend(self.compatibility(
                                reader_field.type_id,
                                writer_id,
                                path,
                            ));
                        } else {
                            let message = if self.roles.reader_is_new {
                                format!(
                                    "field \"{}\" was added without a default",
                                    Self::path_text(path)
                                )
                            } else {
                                format!(
                                    "field \"{}\" was removed, and the old schema has no default for it",
                                    Self::path_text(path)
                                )
                            };
                            problems.push(self.problem(
                                "READER_FIELD_MISSING_DEFAULT_VALUE",
                                path,
                                message,
                            ));
                        }
                    }
                }
                (Some(writer_field), None) => {
                    let writer_type = writer_field.type_id;
                    problems.extend(self.compatibility(reader_field.type_id, writer_type, path));
                }
                _ => {
                    problems.push(self.problem(
                        "READER_FIELD_MATCHES_MULTIPLE_FIELDS",
                        path,
                        format!(
                            "field \"{}\" matches several fields of the {} schema by its name and aliases",
                            Self::path_text(path),
                            self.roles.writer()
                        ),
                    ));
                }
            }
            path.pop();
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backward(new: &str, old: &str) -> Vec<Problem> {
        let (new, old) = (
            SchemaText::new("new.avsc", new),
            SchemaText::new("old.avsc", old),
        );
        let parsed = |text| Schema::parse(text).expect("valid schema");
        check(
            &parsed(&new),
            &parsed(&old),
            Roles {
                reader_is_new: true,
            },
        )
        .expect("compared")
    }

    #[test]
    fn promotions_and_mismatches() {
        let old = r#"{"type":"record","name":"R","fields":[{"name":"qty","type":"int"}]}"#;
        let new = r#"{"type":"record","name":"R","fields":[{"name":"qty","type":"long"}]}"#;
        assert!(backward(new, old).is_empty());
        let new = r#"{"type":"record","name":"R","fields":[{"name":"qty","type":"string"}]}"#;
        let problems = backward(new, old);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].message,
            "field \"qty\" changed from int to string"
        );
    }

    #[test]
    fn recursion_ends() {
        let list =
            r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#;
        assert!(backward(list, list).is_empty());
    }

    #[test]
    fn errors_name_the_line() {
        let error = Schema::parse(&SchemaText::new(
            "bad.avsc",
            "{\"type\": \"record\", \"name\": \"R\",\n \"fields\": [{\"name\": \"a\", \"type\": \"Nope\"}]}",
        ))
        .expect_err("undefined name");
        assert_eq!((error.file.as_str(), error.line), ("bad.avsc", 2));
        assert!(
            error.message.contains("undefined name"),
            "{}",
            error.message
        );
    }
}
