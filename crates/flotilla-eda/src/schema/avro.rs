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

use std::collections::BTreeSet;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::json_text::{self, Node, Position, Value};
use super::{Problem, Roles, SchemaError, SchemaText};

/// How deep schemas nest (records in fields in arrays ...) before the parser refuses them.
const MAX_NESTING: usize = 128;

type TypeId = usize;

/// Records with up to this many fields find duplicate names without a set.
const SMALL_RECORD: usize = 16;

/// A parsed Avro schema: its types in an arena (named types referred to by index, so recursive
/// schemas are cycles of indexes) and the root.
#[derive(Clone, Debug)]
pub struct Schema {
    file: String,
    types: Vec<Type>,
    /// Where each type is written (the file's start for primitives).
    positions: Vec<Position>,
    root: TypeId,
}

#[derive(Clone, Debug)]
struct Named {
    /// The full name (`com.example.Order`).
    full: String,
    /// Where the unqualified name (`Order`) starts in `full`.
    simple_start: usize,
    /// The aliases, qualified with the type's namespace when written unqualified.
    aliases: Vec<String>,
}

#[derive(Clone, Debug)]
struct Field {
    name: String,
    aliases: Vec<String>,
    type_id: TypeId,
    has_default: bool,
}

#[derive(Clone, Debug)]
enum Type {
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
    Record(Named, Vec<Field>),
    Enum(Named, Vec<String>, Option<String>),
    Fixed(Named, u64),
}

impl Named {
    /// The unqualified name (`Order`).
    fn simple(&self) -> &str {
        &self.full[self.simple_start..]
    }

    /// The namespace (`com.example`), empty for the null namespace.
    fn namespace(&self) -> &str {
        self.full[..self.simple_start].trim_end_matches('.')
    }
}

impl Type {
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
}

const PRIMITIVES: [(&str, Type); 8] = [
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

impl Schema {
    /// Parses an Avro schema (JSON), after the named types its references define.
    pub fn parse(text: &SchemaText) -> Result<Schema, SchemaError> {
        let mut parser = Parser {
            file: &text.name,
            types: PRIMITIVES.iter().map(|(_, kind)| kind.clone()).collect(),
            positions: vec![Position::default(); PRIMITIVES.len()],
            names: HashMap::new(),
            defaults: Vec::new(),
        };
        for reference in &text.references {
            let node = read_json(reference)?;
            let file = parser.file;
            parser.file = &reference.name;
            parser.parse(&node, "", 0)?;
            parser.check_defaults()?;
            parser.file = file;
        }
        let node = read_json(text)?;
        let root = parser.parse(&node, "", 0)?;
        parser.check_defaults()?;
        Ok(Schema {
            file: text.name.clone(),
            types: parser.types,
            positions: parser.positions,
            root,
        })
    }

    /// Whether a type is a record, an enum or a fixed (a type with a name).
    fn is_named(&self, id: TypeId) -> bool {
        matches!(
            self.types.get(id),
            Some(Type::Record(..) | Type::Enum(..) | Type::Fixed(..))
        )
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

struct Parser<'a> {
    // `'a`: the schema texts (file names, and the default values kept to validate).
    file: &'a str,
    types: Vec<Type>,
    positions: Vec<Position>,
    names: HashMap<String, TypeId>,
    /// Field defaults still to validate, once every type they may name is defined.
    defaults: Vec<(String, TypeId, Node<'a>)>,
}

impl<'a> Parser<'a> {
    fn error(&self, position: Position, message: impl Into<String>) -> SchemaError {
        SchemaError::new(self.file, position, message)
    }

    fn push(&mut self, kind: Type, position: Position) -> TypeId {
        self.types.push(kind);
        self.positions.push(position);
        self.types.len() - 1
    }

    /// A name used as a type: a primitive, or a named type looked up in the enclosing namespace
    /// and then in the null namespace (Java's `Names.get`).
    fn lookup(&self, name: &str, namespace: &str) -> Option<TypeId> {
        if let Some(id) = primitive(name) {
            return Some(id);
        }
        if !name.contains('.') && !namespace.is_empty() {
            if let Some(id) = self.names.get(&format!("{namespace}.{name}")) {
                return Some(*id);
            }
        }
        self.names.get(name).copied()
    }

    fn parse(
        &mut self,
        node: &Node<'a>,
        namespace: &str,
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
        namespace: &str,
        depth: usize,
    ) -> Result<TypeId, SchemaError> {
        let mut ids = Vec::new();
        let mut seen = BTreeSet::new();
        for branch in branches {
            let id = self.parse(branch, namespace, depth + 1)?;
            let key = match &self.types[id] {
                Type::Union(_) => {
                    return Err(self.error(branch.position, "a union may not contain a union"))
                }
                Type::Record(named, _) | Type::Enum(named, ..) | Type::Fixed(named, _) => {
                    named.full.clone()
                }
                other => other.kind().to_string(),
            };
            if !seen.insert(key.clone()) {
                return Err(self.error(branch.position, format!("duplicate in union: {key}")));
            }
            ids.push(id);
        }
        Ok(self.push(Type::Union(ids), node.position))
    }

    fn text<'n>(&self, node: &'n Node, key: &str) -> Result<Option<&'n str>, SchemaError> {
        match node.get(key) {
            None => Ok(None),
            Some(value) => value.as_str().map(Some).ok_or_else(|| {
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
        namespace: &str,
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
    /// otherwise `namespace`, or the enclosing namespace.
    fn name(&self, node: &Node, enclosing: &str) -> Result<Named, SchemaError> {
        let name_node = node
            .get("name")
            .ok_or_else(|| self.error(node.position, "no `name` in named schema"))?;
        let name = name_node
            .as_str()
            .ok_or_else(|| self.error(name_node.position, "`name` must be a string"))?;
        let enclosing_or_own = match self.text(node, "namespace")? {
            Some(space) => space,
            None => enclosing,
        };
        // A dotted name is full; otherwise it is qualified with the namespace. One allocation:
        // the full name, the unqualified name a suffix of it.
        let (full, simple_start) = match name.rsplit_once('.') {
            // `.Order`: the null namespace.
            Some(("", simple)) => (simple.to_string(), 0),
            Some((_, simple)) => (name.to_string(), name.len() - simple.len()),
            None if enclosing_or_own.is_empty() => (name.to_string(), 0),
            None => (
                format!("{enclosing_or_own}.{name}"),
                enclosing_or_own.len() + 1,
            ),
        };
        let space = full[..simple_start].trim_end_matches('.');
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
                let alias_name = alias
                    .as_str()
                    .ok_or_else(|| self.error(alias.position, "an alias must be a string"))?;
                aliases.push(if alias_name.contains('.') || space.is_empty() {
                    alias_name.to_string()
                } else {
                    format!("{space}.{alias_name}")
                });
            }
        }
        Ok(Named {
            full,
            simple_start,
            aliases,
        })
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

    /// Registers a named type before its body is read, so that it may refer to itself.
    fn define(
        &mut self,
        named: &Named,
        kind: Type,
        position: Position,
    ) -> Result<TypeId, SchemaError> {
        if primitive(&named.full).is_some() {
            return Err(self.error(
                position,
                format!("schemas may not be named after primitives: {}", named.full),
            ));
        }
        if self.names.contains_key(&named.full) {
            return Err(self.error(position, format!("can't redefine: {}", named.full)));
        }
        let id = self.push(kind, position);
        self.names.insert(named.full.clone(), id);
        Ok(id)
    }

    fn parse_record(
        &mut self,
        node: &Node<'a>,
        enclosing: &str,
        depth: usize,
    ) -> Result<TypeId, SchemaError> {
        let named = self.name(node, enclosing)?;
        let fields_node = match node.get("fields") {
            Some(fields) if fields.as_array().is_some() => fields,
            Some(fields) => return Err(self.error(fields.position, "`fields` must be an array")),
            None => {
                return Err(self.error(
                    node.position,
                    format!("record {} has no `fields`", named.full),
                ))
            }
        };
        let id = self.define(
            &named,
            Type::Record(named.clone(), Vec::new()),
            node.position,
        )?;
        let space = named.namespace();
        let mut fields: Vec<Field> = Vec::new();
        let field_nodes = fields_node.as_array().unwrap_or_default();
        // Duplicate names: found among the fields read so far in a small record, through a set
        // in a large one (an enormous record stays linear).
        let mut seen: Option<HashSet<&str>> =
            (field_nodes.len() > SMALL_RECORD).then(|| HashSet::with_capacity(field_nodes.len()));
        for field in field_nodes {
            if field.as_object().is_none() {
                return Err(self.error(field.position, "a field must be an object"));
            }
            let name_node = field
                .get("name")
                .ok_or_else(|| self.error(field.position, "no field `name`"))?;
            let name = name_node
                .as_str()
                .ok_or_else(|| self.error(name_node.position, "a field `name` must be a string"))?;
            self.check_name(name, name_node.position)?;
            let duplicate = match seen.as_mut() {
                Some(seen) => !seen.insert(name),
                None => fields.iter().any(|field| field.name == name),
            };
            if duplicate {
                return Err(self.error(
                    name_node.position,
                    format!("duplicate field {name} in record {}", named.full),
                ));
            }
            let type_node = field
                .get("type")
                .ok_or_else(|| self.error(field.position, format!("field {name} has no `type`")))?;
            let type_id = self.parse(type_node, space, depth + 1)?;
            let mut aliases = Vec::new();
            if let Some(list) = field.get("aliases") {
                let items = list.as_array().ok_or_else(|| {
                    self.error(list.position, "field `aliases` must be an array of names")
                })?;
                for alias in items {
                    aliases.push(
                        alias
                            .as_str()
                            .ok_or_else(|| self.error(alias.position, "an alias must be a string"))?
                            .to_string(),
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
                self.defaults
                    .push((format!("{}.{name}", named.full), type_id, default.clone()));
            }
            fields.push(Field {
                name: name.to_string(),
                aliases,
                type_id,
                has_default: default.is_some(),
            });
        }
        self.types[id] = Type::Record(named, fields);
        Ok(id)
    }

    fn parse_enum(&mut self, node: &Node<'a>, enclosing: &str) -> Result<TypeId, SchemaError> {
        let named = self.name(node, enclosing)?;
        let symbols_node = node.get("symbols").ok_or_else(|| {
            self.error(
                node.position,
                format!("enum {} has no `symbols`", named.full),
            )
        })?;
        let items = symbols_node
            .as_array()
            .ok_or_else(|| self.error(symbols_node.position, "`symbols` must be an array"))?;
        let mut symbols: Vec<String> = Vec::new();
        let mut seen_symbols = BTreeSet::new();
        for symbol in items {
            let text = symbol
                .as_str()
                .ok_or_else(|| self.error(symbol.position, "an enum symbol must be a string"))?;
            self.check_name(text, symbol.position)?;
            if !seen_symbols.insert(text.to_string()) {
                return Err(self.error(symbol.position, format!("duplicate enum symbol: {text}")));
            }
            symbols.push(text.to_string());
        }
        let default = match node.get("default") {
            None => None,
            Some(default) => {
                let text = default.as_str().ok_or_else(|| {
                    self.error(default.position, "an enum `default` must be a string")
                })?;
                if !symbols.iter().any(|symbol| symbol == text) {
                    return Err(self.error(
                        default.position,
                        format!(
                            "the enum default {text} is not one of the symbols of {}",
                            named.full
                        ),
                    ));
                }
                Some(text.to_string())
            }
        };
        self.define(
            &named,
            Type::Enum(named.clone(), symbols, default),
            node.position,
        )
    }

    fn parse_fixed(&mut self, node: &Node<'a>, enclosing: &str) -> Result<TypeId, SchemaError> {
        let named = self.name(node, enclosing)?;
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
            &named,
            Type::Fixed(named.clone(), u64::try_from(size).unwrap_or_default()),
            node.position,
        )
    }

    /// Field defaults must be values of the field's type (a union's: of any branch), as the Java
    /// parser checks them for a new schema.
    fn check_defaults(&mut self) -> Result<(), SchemaError> {
        for (field, type_id, default) in std::mem::take(&mut self.defaults) {
            if !self.valid_default(type_id, &default, 0) {
                return Err(self.error(
                    default.position,
                    format!(
                        "invalid default for field {field}: {} is not a {}",
                        default.to_json(),
                        self.types[type_id].kind()
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
    reader: &Schema,
    writer: &Schema,
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
            &reader.file,
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

struct Checker<'a> {
    reader: &'a Schema,
    writer: &'a Schema,
    roles: Roles,
    memo: HashMap<(TypeId, TypeId), Memo>,
    depth: usize,
    /// The reader type where the comparison went deeper than it may.
    too_deep: Option<TypeId>,
}

impl<'a> Checker<'a> {
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
        let (reader_schema, writer_schema): (&'a Schema, &'a Schema) = (self.reader, self.writer);
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
                    let missing: BTreeSet<&String> = writer_symbols
                        .iter()
                        .filter(|symbol| !reader_symbols.contains(symbol))
                        .collect();
                    let defaulted = reader_default
                        .as_ref()
                        .is_some_and(|default| reader_symbols.contains(default));
                    if !missing.is_empty() && !defaulted {
                        let list = missing
                            .iter()
                            .map(|symbol| symbol.as_str())
                            .collect::<Vec<_>>()
                            .join(", ");
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
        reader: &Named,
        writer: &Named,
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
        reader_fields: &'a [Field],
        writer_fields: &'a [Field],
        writer_id: TypeId,
        path: &mut Vec<&'a str>,
    ) -> Vec<Problem> {
        let by_name: HashMap<&str, &Field> = writer_fields
            .iter()
            .map(|field| (field.name.as_str(), field))
            .collect();
        let mut problems = Vec::new();
        for reader_field in reader_fields {
            path.push(&reader_field.name);
            // The writer fields the reader field's name and aliases find: none, one, or more
            // (only whether there is a second one matters).
            let mut matches = by_name
                .get(reader_field.name.as_str())
                .into_iter()
                .chain(
                    reader_field
                        .aliases
                        .iter()
                        .filter_map(|alias| by_name.get(alias.as_str())),
                )
                .copied();
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

    fn schema(text: &str) -> Schema {
        Schema::parse(&SchemaText::new("test.avsc", text)).expect("valid schema")
    }

    fn backward(new: &str, old: &str) -> Vec<Problem> {
        check(
            &schema(new),
            &schema(old),
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
