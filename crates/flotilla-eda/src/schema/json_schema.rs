//! JSON Schema: Confluent Schema Registry's compatibility rules (its `JsonSchema` diff, STRICT
//! policy, the registry's default).
//!
//! A schema is loaded as the everit library (which Confluent uses) models it: `true`, `false`,
//! `{}`; `$ref` (its siblings ignored, as in draft 7); otherwise each of `enum`, `allOf`,
//! `anyOf`, `oneOf`, `not`, `const`, `type` (a list of types is an `anyOf` of one schema per
//! type) and the keywords of a type written without `type` (`properties` makes an object
//! schema, `minimum` a number schema ...) gives one schema, and several make a synthetic
//! `allOf`. `$schema` selects draft 4 (`id`, boolean exclusive limits, no `const`), 6, 7
//! (the default) or 2019-09/2020-12 (`$defs`, `prefixItems`, `dependentRequired`,
//! `dependentSchemas`, `unevaluatedProperties`, `unevaluatedItems`).
//!
//! Two versions are then compared as Confluent's `SchemaDiff` compares the original (the
//! writer's schema) with the update (the reader's): each difference gets Confluent's type, and
//! the check fails on any type outside the STRICT compatible set ([`COMPATIBLE`]). The rules, by
//! Confluent's classes:
//!
//! - `SchemaDiff`: a schema added where there was none is `SCHEMA_ADDED`, one removed
//!   `SCHEMA_REMOVED` (compatible); an update that is a `oneOf`/`anyOf` with a compatible
//!   branch is `SUM_TYPE_EXTENDED`, an original `allOf` with a branch compatible with the
//!   update `PRODUCT_TYPE_NARROWED` (singletons unwrap); otherwise different kinds of schema
//!   are `TYPE_CHANGED`, except that an original `false` or an update `{}`/`true` accepts
//!   anything and two `connect.type: bytes` schemas are equal; then `$id`, `title`,
//!   `description`, `default` changes (compatible) and the kind's own rules.
//! - `StringSchemaDiff`: `maxLength`/`minLength` added, removed, increased, decreased; `pattern`
//!   added, removed, changed (only loosening is compatible: a bound removed, `maxLength` up,
//!   `minLength` down, `pattern` removed).
//! - `NumberSchemaDiff`: `maximum`, `minimum`, `exclusiveMaximum`, `exclusiveMinimum` likewise;
//!   `multipleOf` reduced (the old a multiple of the new: compatible), expanded or changed;
//!   `integer` → `number` is `TYPE_EXTENDED`, `number` → `integer` `TYPE_NARROWED`.
//! - `ObjectSchemaDiff`: a property made required is `REQUIRED_ATTRIBUTE_ADDED` (compatible when
//!   it has a default), no longer required `REQUIRED_ATTRIBUTE_REMOVED`; a property removed is
//!   compatible when the update's content model is open (`PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL`),
//!   when the update's `patternProperties`/`additionalProperties`/`unevaluatedProperties`
//!   schema covers it (`…_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL`) or when it was `false`,
//!   and not otherwise (`PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL`); a property added to an
//!   original with an open content model is incompatible unless its schema is `{}`
//!   (`OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`, `REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`;
//!   the old data may hold anything under that name), and compatible on a closed one unless it
//!   is required without a default (`REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL`);
//!   `dependencies` arrays and schemas; `additionalProperties` allowed again (compatible) or
//!   forbidden (`ADDITIONAL_PROPERTIES_REMOVED`), its schema added (`…_NARROWED`) or removed
//!   (`…_EXTENDED`) or compared; `unevaluatedProperties` likewise; `maxProperties`,
//!   `minProperties`.
//! - `ArraySchemaDiff`: `items` compared; tuple items by position, with items removed or added
//!   judged by the content model as properties are (`ITEM_ADDED_TO_OPEN_CONTENT_MODEL`,
//!   `ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL` ...); `additionalItems`, `unevaluatedItems`;
//!   `maxItems`, `minItems`, `uniqueItems`, `maxContains`, `minContains`.
//! - `EnumSchemaDiff`: values added `ENUM_ARRAY_EXTENDED` (compatible), removed
//!   `ENUM_ARRAY_NARROWED`, both `ENUM_ARRAY_CHANGED`; `ConstSchemaDiff`: a changed `const` is
//!   `ENUM_ARRAY_CHANGED`.
//! - `CombinedSchemaDiff`: criteria changed (to `anyOf`, or between singletons: compatible
//!   `COMBINED_TYPE_EXTENDED`; otherwise `COMBINED_TYPE_CHANGED`); more `allOf` branches
//!   `PRODUCT_TYPE_EXTENDED`, fewer `anyOf`/`oneOf` branches `SUM_TYPE_NARROWED`; the branches
//!   (duplicates collapsed) matched one to one by a maximum matching of compatible pairs, and
//!   `COMBINED_TYPE_SUBSCHEMAS_CHANGED` when the matching does not cover the smaller side.
//! - `NotSchemaDiff`: the negated schemas compared the other way round.
//! - Recursion (`$ref` cycles): pairs are memoised; a pair met again while in progress counts as
//!   compatible, and the comparison is repeated with the pairs found incompatible until nothing
//!   changes (Confluent's fixpoint), so a cycle never hides a real difference.
//!
//! Where Confluent's code would throw (an `exclusiveMaximum` decreased with no `maximum` in the
//! update), the difference it meant is reported instead.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;

use super::json_text::{self, Node, Position, Value};
use super::{Problem, Roles, SchemaError, SchemaText};

/// Confluent's STRICT set of compatible difference types.
pub const COMPATIBLE: &[&str] = &[
    "ID_CHANGED",
    "DESCRIPTION_CHANGED",
    "TITLE_CHANGED",
    "DEFAULT_CHANGED",
    "SCHEMA_REMOVED",
    "TYPE_EXTENDED",
    "MAX_LENGTH_INCREASED",
    "MAX_LENGTH_REMOVED",
    "MIN_LENGTH_DECREASED",
    "MIN_LENGTH_REMOVED",
    "PATTERN_REMOVED",
    "MAXIMUM_INCREASED",
    "MAXIMUM_REMOVED",
    "MINIMUM_DECREASED",
    "MINIMUM_REMOVED",
    "EXCLUSIVE_MAXIMUM_INCREASED",
    "EXCLUSIVE_MAXIMUM_REMOVED",
    "EXCLUSIVE_MINIMUM_DECREASED",
    "EXCLUSIVE_MINIMUM_REMOVED",
    "MULTIPLE_OF_REDUCED",
    "MULTIPLE_OF_REMOVED",
    "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
    "REQUIRED_ATTRIBUTE_REMOVED",
    "DEPENDENCY_ARRAY_NARROWED",
    "DEPENDENCY_ARRAY_REMOVED",
    "DEPENDENCY_SCHEMA_REMOVED",
    "MAX_PROPERTIES_INCREASED",
    "MAX_PROPERTIES_REMOVED",
    "MIN_PROPERTIES_DECREASED",
    "MIN_PROPERTIES_REMOVED",
    "ADDITIONAL_PROPERTIES_ADDED",
    "ADDITIONAL_PROPERTIES_EXTENDED",
    "UNEVALUATED_PROPERTIES_ADDED",
    "UNEVALUATED_PROPERTIES_EXTENDED",
    "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "MAX_ITEMS_INCREASED",
    "MAX_ITEMS_REMOVED",
    "MIN_ITEMS_DECREASED",
    "MIN_ITEMS_REMOVED",
    "MAX_CONTAINS_INCREASED",
    "MAX_CONTAINS_REMOVED",
    "MIN_CONTAINS_DECREASED",
    "MIN_CONTAINS_REMOVED",
    "UNIQUE_ITEMS_REMOVED",
    "ADDITIONAL_ITEMS_ADDED",
    "ADDITIONAL_ITEMS_EXTENDED",
    "UNEVALUATED_ITEMS_ADDED",
    "UNEVALUATED_ITEMS_EXTENDED",
    "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
    "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "ENUM_ARRAY_EXTENDED",
    "COMBINED_TYPE_EXTENDED",
    "PRODUCT_TYPE_NARROWED",
    "SUM_TYPE_EXTENDED",
    "NOT_TYPE_NARROWED",
];

type SchemaId = usize;

/// A loaded JSON Schema: its schemas in an arena (references are indexes, so recursive schemas
/// are cycles) and the root.
#[derive(Clone, Debug)]
pub struct Schema {
    file: String,
    nodes: Vec<SchemaNode>,
    root: SchemaId,
}

#[derive(Clone, Debug, Default)]
struct SchemaNode {
    kind: Kind,
    id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    default: Option<serde_json::Value>,
    connect_type: Option<String>,
    /// The schema as written, for collapsing duplicate branches of a combined schema.
    raw: serde_json::Value,
    position: Position,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[allow(clippy::enum_variant_names)]
enum Criterion {
    AllOf,
    AnyOf,
    OneOf,
}

impl Criterion {
    fn as_str(&self) -> &'static str {
        match self {
            Criterion::AllOf => "allOf",
            Criterion::AnyOf => "anyOf",
            Criterion::OneOf => "oneOf",
        }
    }
}

#[derive(Clone, Debug, Default)]
struct ObjectKind {
    properties: Vec<(String, SchemaId)>,
    required: Vec<String>,
    permits_additional: bool,
    additional: Option<SchemaId>,
    pattern_properties: Vec<(String, SchemaId)>,
    property_dependencies: BTreeMap<String, BTreeSet<String>>,
    schema_dependencies: BTreeMap<String, SchemaId>,
    min_properties: Option<i64>,
    max_properties: Option<i64>,
    unevaluated: Option<SchemaId>,
}

#[derive(Clone, Debug, Default)]
struct ArrayKind {
    items: Option<SchemaId>,
    tuple: Vec<SchemaId>,
    permits_additional: bool,
    additional: Option<SchemaId>,
    min_items: Option<i64>,
    max_items: Option<i64>,
    unique: bool,
    min_contains: Option<i64>,
    max_contains: Option<i64>,
    unevaluated: Option<SchemaId>,
}

#[derive(Clone, Debug, Default)]
struct NumberKind {
    integer: bool,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    multiple_of: Option<String>,
}

#[derive(Clone, Debug, Default)]
enum Kind {
    /// `{}` (or a schema whose keywords constrain nothing).
    #[default]
    Empty,
    True,
    False,
    Null,
    Boolean,
    String {
        min_length: Option<i64>,
        max_length: Option<i64>,
        pattern: Option<String>,
    },
    Number(NumberKind),
    Object(Box<ObjectKind>),
    Array(Box<ArrayKind>),
    Enum(Vec<serde_json::Value>),
    Const(serde_json::Value),
    Combined(Criterion, Vec<SchemaId>),
    Not(SchemaId),
    Conditional,
    Ref(SchemaId),
}

impl Kind {
    /// Everit's class, as Confluent compares classes (`schemaTypesEqual`); combined schemas are
    /// one class whatever their criterion.
    fn class(&self) -> &'static str {
        match self {
            Kind::Empty => "EmptySchema",
            Kind::True => "TrueSchema",
            Kind::False => "FalseSchema",
            Kind::Null => "NullSchema",
            Kind::Boolean => "BooleanSchema",
            Kind::String { .. } => "StringSchema",
            Kind::Number(_) => "NumberSchema",
            Kind::Object(_) => "ObjectSchema",
            Kind::Array(_) => "ArraySchema",
            Kind::Enum(_) => "EnumSchema",
            Kind::Const(_) => "ConstSchema",
            Kind::Combined(..) => "CombinedSchema",
            Kind::Not(_) => "NotSchema",
            Kind::Conditional => "ConditionalSchema",
            Kind::Ref(_) => "ReferenceSchema",
        }
    }

    /// What the schema accepts, for messages.
    fn describe(&self) -> String {
        match self {
            Kind::Empty | Kind::True => "any value".to_string(),
            Kind::False => "no value".to_string(),
            Kind::Null => "null".to_string(),
            Kind::Boolean => "boolean".to_string(),
            Kind::String { .. } => "string".to_string(),
            Kind::Number(number) if number.integer => "integer".to_string(),
            Kind::Number(_) => "number".to_string(),
            Kind::Object(_) => "object".to_string(),
            Kind::Array(_) => "array".to_string(),
            Kind::Enum(_) => "enum".to_string(),
            Kind::Const(_) => "const".to_string(),
            Kind::Combined(criterion, _) => criterion.as_str().to_string(),
            Kind::Not(_) => "not".to_string(),
            Kind::Conditional => "if/then/else".to_string(),
            Kind::Ref(_) => "$ref".to_string(),
        }
    }

    /// Everit's `EmptySchema` and its subclass `TrueSchema`.
    fn is_empty_schema(&self) -> bool {
        matches!(self, Kind::Empty | Kind::True)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Draft {
    Four,
    Six,
    Seven,
    Modern,
}

const ARRAY_KEYWORDS: &[&str] = &[
    "items",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
];
const MODERN_ARRAY_KEYWORDS: &[&str] = &[
    "prefixItems",
    "unevaluatedItems",
    "minContains",
    "maxContains",
];
const OBJECT_KEYWORDS: &[&str] = &[
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "dependencies",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
];
const MODERN_OBJECT_KEYWORDS: &[&str] = &[
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
];
const NUMBER_KEYWORDS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
];
const STRING_KEYWORDS: &[&str] = &["minLength", "maxLength", "pattern", "format"];

/// The deepest chain of `$ref`s followed, and the most schemas one document may load.
const MAX_SCHEMAS: usize = 1 << 20;

impl Schema {
    /// Loads a JSON Schema (and the documents its `$ref`s name, from `text.references`).
    pub fn parse(text: &SchemaText) -> Result<Schema, SchemaError> {
        let mut documents = Vec::new();
        for document in std::iter::once(text).chain(&text.references) {
            let node = json_text::parse(&document.text).map_err(|error| {
                SchemaError::new(
                    &document.name,
                    error.position,
                    format!("invalid JSON: {}", error.message),
                )
            })?;
            documents.push((document.name.clone(), node));
        }
        let draft = match documents[0].1.get("$schema").and_then(Node::as_str) {
            Some(uri) if uri.contains("draft-04") => Draft::Four,
            Some(uri) if uri.contains("draft-06") => Draft::Six,
            Some(uri) if uri.contains("2019-09") || uri.contains("2020-12") => Draft::Modern,
            _ => Draft::Seven,
        };
        let mut loader = Loader {
            documents: &documents,
            draft,
            nodes: Vec::new(),
            by_pointer: HashMap::new(),
            pending: VecDeque::new(),
            ref_positions: Vec::new(),
        };
        let root = loader.load(0, &documents[0].1, "", 0)?;
        while let Some((id, document, pointer, position)) = loader.pending.pop_front() {
            let target = resolve_pointer(&documents[document].1, &pointer).ok_or_else(|| {
                SchemaError::new(
                    &documents[document].0,
                    position,
                    format!("$ref target #{pointer} does not exist"),
                )
            })?;
            let node = loader.load_node(document, target, &pointer, 0)?;
            loader.nodes[id] = node;
        }
        loader.check_reference_cycles()?;
        Ok(Schema {
            file: text.name.clone(),
            nodes: loader.nodes,
            root,
        })
    }

    fn node(&self, id: SchemaId) -> &SchemaNode {
        &self.nodes[id]
    }

    /// Follows references to the schema they name (loading refused cycles of bare references).
    fn normalize(&self, mut id: SchemaId) -> SchemaId {
        let mut steps = 0;
        while let Kind::Ref(target) = self.nodes[id].kind {
            id = target;
            steps += 1;
            if steps > self.nodes.len() {
                break;
            }
        }
        id
    }
}

/// A JSON pointer (`/definitions/a`) in a document.
fn resolve_pointer<'a, 't>(root: &'a Node<'t>, pointer: &str) -> Option<&'a Node<'t>> {
    let mut node = root;
    if pointer.is_empty() {
        return Some(node);
    }
    for raw in pointer.strip_prefix('/')?.split('/') {
        let token = percent_decode(raw).replace("~1", "/").replace("~0", "~");
        node = match &node.value {
            Value::Object(_) => node.get(&token)?,
            Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[index + 1..index + 3], 16) {
                out.push(byte);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Loader<'a, 't> {
    documents: &'a [(String, Node<'t>)],
    draft: Draft,
    nodes: Vec<SchemaNode>,
    /// Schemas loaded for `$ref` targets, by document and pointer.
    by_pointer: HashMap<(usize, String), SchemaId>,
    /// `$ref` targets to load: their reserved id, document, pointer and the `$ref`'s position.
    pending: VecDeque<(SchemaId, usize, String, Position)>,
    /// Where each reference was written, to name it in a cycle error.
    ref_positions: Vec<(SchemaId, usize, Position)>,
}

impl Loader<'_, '_> {
    fn error(
        &self,
        document: usize,
        position: Position,
        message: impl Into<String>,
    ) -> SchemaError {
        SchemaError::new(&self.documents[document].0, position, message)
    }

    fn push(
        &mut self,
        node: SchemaNode,
        document: usize,
        position: Position,
    ) -> Result<SchemaId, SchemaError> {
        if self.nodes.len() >= MAX_SCHEMAS {
            return Err(self.error(
                document,
                position,
                format!("more than {MAX_SCHEMAS} schemas"),
            ));
        }
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    fn load(
        &mut self,
        document: usize,
        node: &Node,
        pointer: &str,
        depth: usize,
    ) -> Result<SchemaId, SchemaError> {
        let loaded = self.load_node(document, node, pointer, depth)?;
        self.push(loaded, document, node.position)
    }

    fn child(
        &mut self,
        document: usize,
        node: &Node,
        pointer: &str,
        key: &str,
        depth: usize,
    ) -> Result<SchemaId, SchemaError> {
        let pointer = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
        self.load(document, node, &pointer, depth + 1)
    }

    fn integer(&self, document: usize, node: &Node, key: &str) -> Result<Option<i64>, SchemaError> {
        match node.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_i64()
                .or_else(|| {
                    value
                        .as_f64()
                        .filter(|number| number.fract() == 0.0)
                        .map(|number| number as i64)
                })
                .map(Some)
                .ok_or_else(|| {
                    self.error(
                        document,
                        value.position,
                        format!("`{key}` must be an integer"),
                    )
                }),
        }
    }

    fn number(&self, document: usize, node: &Node, key: &str) -> Result<Option<f64>, SchemaError> {
        match node.get(key) {
            None => Ok(None),
            Some(value) => value.as_f64().map(Some).ok_or_else(|| {
                self.error(
                    document,
                    value.position,
                    format!("`{key}` must be a number"),
                )
            }),
        }
    }

    fn string(
        &self,
        document: usize,
        node: &Node,
        key: &str,
    ) -> Result<Option<String>, SchemaError> {
        match node.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_str()
                .map(|text| Some(text.to_string()))
                .ok_or_else(|| {
                    self.error(
                        document,
                        value.position,
                        format!("`{key}` must be a string"),
                    )
                }),
        }
    }

    fn load_node(
        &mut self,
        document: usize,
        node: &Node,
        pointer: &str,
        depth: usize,
    ) -> Result<SchemaNode, SchemaError> {
        if depth > json_text::MAX_DEPTH {
            return Err(self.error(document, node.position, "the schema nests too deeply"));
        }
        let mut schema = SchemaNode {
            raw: node.to_json(),
            position: node.position,
            ..SchemaNode::default()
        };
        match &node.value {
            Value::Bool(true) => {
                schema.kind = Kind::True;
                return Ok(schema);
            }
            Value::Bool(false) => {
                schema.kind = Kind::False;
                return Ok(schema);
            }
            Value::Object(_) => {}
            _ => {
                return Err(self.error(
                    document,
                    node.position,
                    format!(
                        "a schema is an object or a boolean, not {}",
                        node.type_name()
                    ),
                ))
            }
        }
        let id_keyword = if self.draft == Draft::Four {
            "id"
        } else {
            "$id"
        };
        schema.id = self.string(document, node, id_keyword)?;
        schema.title = self.string(document, node, "title")?;
        schema.description = self.string(document, node, "description")?;
        schema.default = node.get("default").map(Node::to_json);
        schema.connect_type = node
            .get("connect.type")
            .and_then(Node::as_str)
            .map(str::to_string);
        if let Some(reference) = node.get("$ref") {
            let text = reference.as_str().ok_or_else(|| {
                self.error(document, reference.position, "`$ref` must be a string")
            })?;
            let target = self.reference(document, text, reference.position)?;
            schema.kind = Kind::Ref(target);
            return Ok(schema);
        }
        let mut consumed: HashSet<&str> = HashSet::new();
        let mut extracted: Vec<SchemaNode> = Vec::new();
        if let Some(values) = node.get("enum") {
            let items = values
                .as_array()
                .ok_or_else(|| self.error(document, values.position, "`enum` must be an array"))?;
            consumed.insert("enum");
            extracted.push(SchemaNode {
                kind: Kind::Enum(items.iter().map(Node::to_json).collect()),
                ..SchemaNode::default()
            });
        }
        for (keyword, criterion) in [
            ("allOf", Criterion::AllOf),
            ("anyOf", Criterion::AnyOf),
            ("oneOf", Criterion::OneOf),
        ] {
            if let Some(list) = node.get(keyword) {
                let items = list.as_array().ok_or_else(|| {
                    self.error(
                        document,
                        list.position,
                        format!("`{keyword}` must be an array"),
                    )
                })?;
                consumed.insert(keyword);
                let mut subschemas = Vec::new();
                for (index, item) in items.iter().enumerate() {
                    subschemas.push(self.child(
                        document,
                        item,
                        &format!("{pointer}/{keyword}"),
                        &index.to_string(),
                        depth,
                    )?);
                }
                extracted.push(SchemaNode {
                    kind: Kind::Combined(criterion, subschemas),
                    ..SchemaNode::default()
                });
            }
        }
        if let Some(negated) = node.get("not") {
            consumed.insert("not");
            let negated = self.child(document, negated, pointer, "not", depth)?;
            extracted.push(SchemaNode {
                kind: Kind::Not(negated),
                ..SchemaNode::default()
            });
        }
        if self.draft != Draft::Four {
            if let Some(constant) = node.get("const") {
                consumed.insert("const");
                extracted.push(SchemaNode {
                    kind: Kind::Const(constant.to_json()),
                    ..SchemaNode::default()
                });
            }
        }
        if let Some(kind) = node.get("type") {
            consumed.insert("type");
            match &kind.value {
                Value::String(name) => {
                    let loaded = self.explicit_type(
                        document,
                        node,
                        pointer,
                        name,
                        kind.position,
                        &mut consumed,
                        depth,
                    )?;
                    extracted.push(SchemaNode {
                        kind: loaded,
                        ..SchemaNode::default()
                    });
                }
                Value::Array(names) => {
                    let mut subschemas = Vec::new();
                    for name in names {
                        let text = name.as_str().ok_or_else(|| {
                            self.error(document, name.position, "a type name must be a string")
                        })?;
                        let loaded = self.explicit_type(
                            document,
                            node,
                            pointer,
                            text,
                            name.position,
                            &mut consumed,
                            depth,
                        )?;
                        subschemas.push(self.push(
                            SchemaNode {
                                kind: loaded,
                                ..SchemaNode::default()
                            },
                            document,
                            name.position,
                        )?);
                    }
                    extracted.push(SchemaNode {
                        kind: Kind::Combined(Criterion::AnyOf, subschemas),
                        ..SchemaNode::default()
                    });
                }
                _ => {
                    return Err(self.error(
                        document,
                        kind.position,
                        "`type` must be a string or an array of strings",
                    ))
                }
            }
        }
        let present = |keywords: &[&str], consumed: &HashSet<&str>| {
            keywords
                .iter()
                .any(|keyword| node.get(keyword).is_some() && !consumed.contains(keyword))
        };
        let modern = self.draft == Draft::Modern;
        if present(ARRAY_KEYWORDS, &consumed)
            || (modern && present(MODERN_ARRAY_KEYWORDS, &consumed))
        {
            let array = self.array(document, node, pointer, depth)?;
            extracted.push(SchemaNode {
                kind: array,
                ..SchemaNode::default()
            });
        }
        if present(OBJECT_KEYWORDS, &consumed)
            || (modern && present(MODERN_OBJECT_KEYWORDS, &consumed))
        {
            let object = self.object(document, node, pointer, depth)?;
            extracted.push(SchemaNode {
                kind: object,
                ..SchemaNode::default()
            });
        }
        if present(NUMBER_KEYWORDS, &consumed) {
            let number = self.number_kind(document, node, false)?;
            extracted.push(SchemaNode {
                kind: number,
                ..SchemaNode::default()
            });
        }
        if present(STRING_KEYWORDS, &consumed) {
            let string = self.string_kind(document, node)?;
            extracted.push(SchemaNode {
                kind: string,
                ..SchemaNode::default()
            });
        }
        if self.draft >= Draft::Seven
            && ["if", "then", "else"]
                .iter()
                .any(|keyword| node.get(keyword).is_some())
        {
            for keyword in ["if", "then", "else"] {
                if let Some(branch) = node.get(keyword) {
                    self.child(document, branch, pointer, keyword, depth)?;
                }
            }
            extracted.push(SchemaNode {
                kind: Kind::Conditional,
                ..SchemaNode::default()
            });
        }
        schema.kind = match extracted.len() {
            0 => Kind::Empty,
            1 => extracted.pop().map(|only| only.kind).unwrap_or_default(),
            _ => {
                let mut subschemas = Vec::new();
                for extracted in extracted {
                    subschemas.push(self.push(extracted, document, node.position)?);
                }
                Kind::Combined(Criterion::AllOf, subschemas)
            }
        };
        Ok(schema)
    }

    #[allow(clippy::too_many_arguments)]
    fn explicit_type(
        &mut self,
        document: usize,
        node: &Node,
        pointer: &str,
        name: &str,
        position: Position,
        consumed: &mut HashSet<&'static str>,
        depth: usize,
    ) -> Result<Kind, SchemaError> {
        let mut consume = |keywords: &[&'static str]| consumed.extend(keywords.iter().copied());
        Ok(match name {
            "string" => {
                consume(STRING_KEYWORDS);
                self.string_kind(document, node)?
            }
            "integer" | "number" => {
                consume(NUMBER_KEYWORDS);
                self.number_kind(document, node, name == "integer")?
            }
            "boolean" => Kind::Boolean,
            "null" => Kind::Null,
            "array" => {
                consume(ARRAY_KEYWORDS);
                consume(MODERN_ARRAY_KEYWORDS);
                self.array(document, node, pointer, depth)?
            }
            "object" => {
                consume(OBJECT_KEYWORDS);
                consume(MODERN_OBJECT_KEYWORDS);
                self.object(document, node, pointer, depth)?
            }
            other => {
                return Err(self.error(document, position, format!("unknown type: [{other}]")))
            }
        })
    }

    fn string_kind(&self, document: usize, node: &Node) -> Result<Kind, SchemaError> {
        Ok(Kind::String {
            min_length: self.integer(document, node, "minLength")?,
            max_length: self.integer(document, node, "maxLength")?,
            pattern: self.string(document, node, "pattern")?,
        })
    }

    fn number_kind(
        &self,
        document: usize,
        node: &Node,
        integer: bool,
    ) -> Result<Kind, SchemaError> {
        let mut number = NumberKind {
            integer,
            minimum: self.number(document, node, "minimum")?,
            maximum: self.number(document, node, "maximum")?,
            ..NumberKind::default()
        };
        if self.draft != Draft::Four {
            number.exclusive_minimum = self.number(document, node, "exclusiveMinimum")?;
            number.exclusive_maximum = self.number(document, node, "exclusiveMaximum")?;
        }
        if let Some(multiple) = node.get("multipleOf") {
            match &multiple.value {
                Value::Number(text) => number.multiple_of = Some(text.to_string()),
                _ => {
                    return Err(self.error(
                        document,
                        multiple.position,
                        "`multipleOf` must be a number",
                    ))
                }
            }
        }
        Ok(Kind::Number(number))
    }

    fn object(
        &mut self,
        document: usize,
        node: &Node,
        pointer: &str,
        depth: usize,
    ) -> Result<Kind, SchemaError> {
        let mut object = ObjectKind {
            permits_additional: true,
            ..ObjectKind::default()
        };
        if let Some(properties) = node.get("properties") {
            let members = properties.as_object().ok_or_else(|| {
                self.error(
                    document,
                    properties.position,
                    "`properties` must be an object",
                )
            })?;
            for (name, property) in members {
                let id = self.child(
                    document,
                    property,
                    &format!("{pointer}/properties"),
                    name,
                    depth,
                )?;
                object.properties.retain(|(existing, _)| existing != name);
                object.properties.push((name.to_string(), id));
            }
        }
        if let Some(required) = node.get("required") {
            let items = required.as_array().ok_or_else(|| {
                self.error(
                    document,
                    required.position,
                    "`required` must be an array of names",
                )
            })?;
            for item in items {
                let name = item.as_str().ok_or_else(|| {
                    self.error(document, item.position, "a required name must be a string")
                })?;
                object.required.push(name.to_string());
            }
        }
        if let Some(additional) = node.get("additionalProperties") {
            match &additional.value {
                Value::Bool(permits) => object.permits_additional = *permits,
                _ => {
                    object.additional = Some(self.child(
                        document,
                        additional,
                        pointer,
                        "additionalProperties",
                        depth,
                    )?)
                }
            }
        }
        if let Some(patterns) = node.get("patternProperties") {
            let members = patterns.as_object().ok_or_else(|| {
                self.error(
                    document,
                    patterns.position,
                    "`patternProperties` must be an object",
                )
            })?;
            for (pattern, property) in members {
                let id = self.child(
                    document,
                    property,
                    &format!("{pointer}/patternProperties"),
                    pattern,
                    depth,
                )?;
                object.pattern_properties.push((pattern.to_string(), id));
            }
        }
        let mut dependencies = Vec::new();
        for keyword in ["dependencies", "dependentRequired", "dependentSchemas"] {
            if keyword != "dependencies" && self.draft != Draft::Modern {
                continue;
            }
            if let Some(list) = node.get(keyword) {
                let members = list.as_object().ok_or_else(|| {
                    self.error(
                        document,
                        list.position,
                        format!("`{keyword}` must be an object"),
                    )
                })?;
                dependencies.extend(members.iter().map(|(name, value)| (keyword, name, value)));
            }
        }
        for (keyword, name, value) in dependencies {
            match &value.value {
                Value::Array(items) => {
                    let mut names = BTreeSet::new();
                    for item in items {
                        names.insert(
                            item.as_str()
                                .ok_or_else(|| {
                                    self.error(
                                        document,
                                        item.position,
                                        "a dependency must be a property name",
                                    )
                                })?
                                .to_string(),
                        );
                    }
                    object.property_dependencies.insert(name.to_string(), names);
                }
                _ => {
                    let id = self.child(
                        document,
                        value,
                        &format!("{pointer}/{keyword}"),
                        name,
                        depth,
                    )?;
                    object.schema_dependencies.insert(name.to_string(), id);
                }
            }
        }
        if let Some(names) = node.get("propertyNames") {
            self.child(document, names, pointer, "propertyNames", depth)?;
        }
        object.min_properties = self.integer(document, node, "minProperties")?;
        object.max_properties = self.integer(document, node, "maxProperties")?;
        if self.draft == Draft::Modern {
            if let Some(unevaluated) = node.get("unevaluatedProperties") {
                object.unevaluated = Some(self.child(
                    document,
                    unevaluated,
                    pointer,
                    "unevaluatedProperties",
                    depth,
                )?);
            }
        }
        Ok(Kind::Object(Box::new(object)))
    }

    fn array(
        &mut self,
        document: usize,
        node: &Node,
        pointer: &str,
        depth: usize,
    ) -> Result<Kind, SchemaError> {
        let mut array = ArrayKind {
            permits_additional: true,
            ..ArrayKind::default()
        };
        let modern = self.draft == Draft::Modern;
        let tuple_keyword = if modern { "prefixItems" } else { "items" };
        let additional_keyword = if modern { "items" } else { "additionalItems" };
        if let Some(items) = node.get(tuple_keyword) {
            if let Value::Array(list) = &items.value {
                for (index, item) in list.iter().enumerate() {
                    array.tuple.push(self.child(
                        document,
                        item,
                        &format!("{pointer}/{tuple_keyword}"),
                        &index.to_string(),
                        depth,
                    )?);
                }
            } else if !modern {
                array.items = Some(self.child(document, items, pointer, "items", depth)?);
            }
        }
        if let Some(additional) = node.get(additional_keyword) {
            if modern && array.tuple.is_empty() && node.get("prefixItems").is_none() {
                array.items = Some(self.child(document, additional, pointer, "items", depth)?);
            } else {
                match &additional.value {
                    Value::Bool(permits) => array.permits_additional = *permits,
                    Value::Array(_) => {}
                    _ => {
                        array.additional = Some(self.child(
                            document,
                            additional,
                            pointer,
                            additional_keyword,
                            depth,
                        )?)
                    }
                }
            }
        }
        if let Some(contains) = node.get("contains") {
            self.child(document, contains, pointer, "contains", depth)?;
        }
        array.min_items = self.integer(document, node, "minItems")?;
        array.max_items = self.integer(document, node, "maxItems")?;
        array.unique = node
            .get("uniqueItems")
            .and_then(Node::as_bool)
            .unwrap_or(false);
        if modern {
            array.min_contains = self.integer(document, node, "minContains")?;
            array.max_contains = self.integer(document, node, "maxContains")?;
            if let Some(unevaluated) = node.get("unevaluatedItems") {
                array.unevaluated =
                    Some(self.child(document, unevaluated, pointer, "unevaluatedItems", depth)?);
            }
        }
        Ok(Kind::Array(Box::new(array)))
    }

    /// The schema a `$ref` names: a pointer into this document (`#/definitions/a`, `#`) or
    /// into a referenced document (`other.json#/...`). Targets load later, once each.
    fn reference(
        &mut self,
        document: usize,
        text: &str,
        position: Position,
    ) -> Result<SchemaId, SchemaError> {
        let (location, fragment) = match text.split_once('#') {
            Some((location, fragment)) => (location, fragment),
            None => (text, ""),
        };
        let target_document = if location.is_empty() {
            document
        } else {
            let found = self.documents.iter().position(|(name, _)| {
                name == location
                    || name.rsplit('/').next() == Some(location)
                    || location.rsplit('/').next() == name.rsplit('/').next()
            });
            match found {
                Some(index) if index != 0 || location == self.documents[0].0 => index,
                Some(index) => index,
                None => {
                    return Err(self.error(
                        document,
                        position,
                        format!("$ref `{text}` names a document that is not given (remote references are not fetched)"),
                    ))
                }
            }
        };
        if !fragment.is_empty() && !fragment.starts_with('/') {
            return Err(self.error(
                document,
                position,
                format!("$ref `{text}`: only JSON pointers (#/...) are supported"),
            ));
        }
        let key = (target_document, fragment.to_string());
        if let Some(id) = self.by_pointer.get(&key) {
            self.ref_positions.push((*id, document, position));
            return Ok(*id);
        }
        let id = self.push(SchemaNode::default(), document, position)?;
        self.by_pointer.insert(key, id);
        self.pending
            .push_back((id, target_document, fragment.to_string(), position));
        self.ref_positions.push((id, document, position));
        Ok(id)
    }

    /// A `$ref` whose target is (a chain of) references back to itself names no schema.
    fn check_reference_cycles(&self) -> Result<(), SchemaError> {
        for (start, document, position) in &self.ref_positions {
            let mut seen = HashSet::new();
            let mut id = *start;
            while let Kind::Ref(next) = self.nodes[id].kind {
                if !seen.insert(id) {
                    return Err(self.error(
                        *document,
                        *position,
                        "$ref cycle: the reference resolves only to references",
                    ));
                }
                id = next;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The comparison (Confluent's SchemaDiff and its companions).

#[derive(Clone, Debug, PartialEq, Eq)]
struct Diff {
    kind: &'static str,
    path: String,
    /// What the two sides held, in (original, update) order, when the message needs it.
    detail: Option<(String, String)>,
}

fn compatible_kind(kind: &str) -> bool {
    COMPATIBLE.contains(&kind)
}

fn all_compatible(diffs: &[Diff]) -> bool {
    diffs.iter().all(|diff| compatible_kind(diff.kind))
}

struct Ctx {
    path: Vec<String>,
    diffs: Vec<Diff>,
}

impl Ctx {
    fn root() -> Ctx {
        Ctx {
            path: Vec::new(),
            diffs: Vec::new(),
        }
    }

    fn sub(&self) -> Ctx {
        Ctx {
            path: self.path.clone(),
            diffs: Vec::new(),
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

    fn add_at(&mut self, attribute: &str, kind: &'static str) {
        self.path.push(attribute.to_string());
        self.add(kind);
        self.path.pop();
    }

    fn add_detail(
        &mut self,
        attribute: Option<&str>,
        kind: &'static str,
        original: String,
        update: String,
    ) {
        if let Some(attribute) = attribute {
            self.path.push(attribute.to_string());
        }
        let path = self.path_text();
        self.diffs.push(Diff {
            kind,
            path,
            detail: Some((original, update)),
        });
        if attribute.is_some() {
            self.path.pop();
        }
    }

    fn enter(&mut self, part: &str) {
        self.path.push(part.to_string());
    }

    fn leave(&mut self) {
        self.path.pop();
    }

    fn compatible(&self) -> bool {
        all_compatible(&self.diffs)
    }
}

type Pair = (SchemaId, SchemaId);

struct Engine<'a> {
    original: &'a Schema,
    update: &'a Schema,
    memo: HashMap<Pair, Rc<Vec<Diff>>>,
    in_progress: HashSet<Pair>,
    seed: HashMap<Pair, Rc<Vec<Diff>>>,
    optimism: bool,
    depth: usize,
    /// The update's schema where the comparison went deeper than it may.
    too_deep: Option<SchemaId>,
}

/// Whether `reader` (the update) reads what `writer` (the original) wrote, by Confluent's
/// rules; the incompatible differences found.
pub(crate) fn check(
    reader: &Schema,
    writer: &Schema,
    roles: Roles,
) -> Result<Vec<Problem>, SchemaError> {
    let mut seed = HashMap::new();
    let diffs = loop {
        let mut engine = Engine {
            original: writer,
            update: reader,
            memo: HashMap::new(),
            in_progress: HashSet::new(),
            seed: seed.clone(),
            optimism: false,
            depth: 0,
            too_deep: None,
        };
        let mut ctx = Ctx::root();
        engine.compare(&mut ctx, Some(writer.root), Some(reader.root));
        if let Some(update) = engine.too_deep {
            return Err(SchemaError::new(
                &reader.file,
                reader.node(update).position,
                format!("the schemas nest deeper than {MAX_COMPARE_DEPTH} levels through references; not compared"),
            ));
        }
        let incompatible: HashMap<Pair, Rc<Vec<Diff>>> = engine
            .memo
            .iter()
            .filter(|(_, diffs)| !all_compatible(diffs))
            .map(|(pair, diffs)| (*pair, diffs.clone()))
            .collect();
        let same_keys = incompatible.len() == seed.len()
            && incompatible.keys().all(|key| seed.contains_key(key));
        if !engine.optimism || same_keys {
            break ctx.diffs;
        }
        seed = incompatible;
    };
    let mut problems: Vec<Problem> = Vec::new();
    for diff in diffs.into_iter().filter(|diff| !compatible_kind(diff.kind)) {
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

/// How deep a comparison follows schemas into schemas before it gives up with an error.
const MAX_COMPARE_DEPTH: usize = 128;

impl Engine<'_> {
    fn compare(&mut self, ctx: &mut Ctx, original: Option<SchemaId>, update: Option<SchemaId>) {
        let (original, update) = match (original, update) {
            (None, None) => return,
            (None, Some(_)) => return ctx.add("SCHEMA_ADDED"),
            (Some(_), None) => return ctx.add("SCHEMA_REMOVED"),
            (Some(original), Some(update)) => (original, update),
        };
        let original = self.original.normalize(original);
        let update = self.update.normalize(update);
        let diffs = self.compare_memoized(original, update);
        let prefix = ctx.path_text();
        for diff in diffs.iter() {
            let path = if ctx.path.is_empty() {
                diff.path.clone()
            } else if diff.path.len() <= 2 {
                prefix.clone()
            } else {
                format!("{prefix}/{}", &diff.path[2..])
            };
            ctx.diffs.push(Diff {
                kind: diff.kind,
                path,
                detail: diff.detail.clone(),
            });
        }
    }

    fn compare_memoized(&mut self, original: SchemaId, update: SchemaId) -> Rc<Vec<Diff>> {
        let key = (original, update);
        if let Some(cached) = self.memo.get(&key) {
            return cached.clone();
        }
        if !self.in_progress.insert(key) {
            if let Some(seeded) = self.seed.get(&key) {
                return seeded.clone();
            }
            self.optimism = true;
            return Rc::new(Vec::new());
        }
        if self.depth >= MAX_COMPARE_DEPTH {
            self.too_deep.get_or_insert(update);
            self.in_progress.remove(&key);
            return Rc::new(Vec::new());
        }
        let mut sub = Ctx::root();
        self.depth += 1;
        self.compare_types(&mut sub, original, update);
        self.depth -= 1;
        let result = Rc::new(sub.diffs);
        self.memo.insert(key, result.clone());
        self.in_progress.remove(&key);
        result
    }

    fn compare_types(&mut self, ctx: &mut Ctx, original_id: SchemaId, update_id: SchemaId) {
        let original = self.original.node(original_id);
        let update = self.update.node(update_id);
        match (&original.kind, &update.kind) {
            (other, Kind::Combined(criterion, subschemas))
                if !matches!(other, Kind::Combined(..)) =>
            {
                let subschemas = subschemas.clone();
                if subschemas.len() == 1 {
                    let mut sub = ctx.sub();
                    self.compare(&mut sub, Some(original_id), Some(subschemas[0]));
                    if sub.compatible() {
                        ctx.diffs.extend(sub.diffs);
                        return;
                    }
                } else if *criterion != Criterion::AllOf {
                    for subschema in subschemas {
                        let mut sub = ctx.sub();
                        self.compare(&mut sub, Some(original_id), Some(subschema));
                        if sub.compatible() {
                            ctx.diffs.extend(sub.diffs);
                            ctx.add("SUM_TYPE_EXTENDED");
                            return;
                        }
                    }
                }
            }
            (Kind::Combined(criterion, subschemas), other)
                if !matches!(other, Kind::Combined(..)) =>
            {
                let subschemas = subschemas.clone();
                if subschemas.len() == 1 {
                    let mut sub = ctx.sub();
                    self.compare(&mut sub, Some(subschemas[0]), Some(update_id));
                    if sub.compatible() {
                        ctx.diffs.extend(sub.diffs);
                        return;
                    }
                } else if *criterion == Criterion::AllOf {
                    for subschema in subschemas {
                        let mut sub = ctx.sub();
                        self.compare(&mut sub, Some(subschema), Some(update_id));
                        if sub.compatible() {
                            ctx.diffs.extend(sub.diffs);
                            ctx.add("PRODUCT_TYPE_NARROWED");
                            return;
                        }
                    }
                }
            }
            _ => {}
        }
        let original = self.original.node(original_id);
        let update = self.update.node(update_id);
        let same_class = original.kind.class() == update.kind.class();
        if !same_class {
            if matches!(original.kind, Kind::False) || update.kind.is_empty_schema() {
                return;
            }
            if original.connect_type.as_deref() == Some("bytes")
                && update.connect_type.as_deref() == Some("bytes")
            {
                return;
            }
            ctx.add_detail(
                None,
                "TYPE_CHANGED",
                original.kind.describe(),
                update.kind.describe(),
            );
            return;
        }
        if original.id != update.id {
            ctx.add("ID_CHANGED");
        }
        if original.title != update.title {
            ctx.add("TITLE_CHANGED");
        }
        if original.description != update.description {
            ctx.add("DESCRIPTION_CHANGED");
        }
        if original.default != update.default {
            ctx.add("DEFAULT_CHANGED");
        }
        match (&original.kind, &update.kind) {
            (
                Kind::String {
                    min_length: original_min,
                    max_length: original_max,
                    pattern: original_pattern,
                },
                Kind::String {
                    min_length: update_min,
                    max_length: update_max,
                    pattern: update_pattern,
                },
            ) => {
                bound(
                    ctx,
                    "maxLength",
                    *original_max,
                    *update_max,
                    [
                        "MAX_LENGTH_ADDED",
                        "MAX_LENGTH_REMOVED",
                        "MAX_LENGTH_INCREASED",
                        "MAX_LENGTH_DECREASED",
                    ],
                );
                bound(
                    ctx,
                    "minLength",
                    *original_min,
                    *update_min,
                    [
                        "MIN_LENGTH_ADDED",
                        "MIN_LENGTH_REMOVED",
                        "MIN_LENGTH_INCREASED",
                        "MIN_LENGTH_DECREASED",
                    ],
                );
                match (original_pattern, update_pattern) {
                    (None, Some(pattern)) => ctx.add_detail(
                        Some("pattern"),
                        "PATTERN_ADDED",
                        String::new(),
                        pattern.clone(),
                    ),
                    (Some(_), None) => ctx.add_at("pattern", "PATTERN_REMOVED"),
                    (Some(old), Some(new)) if old != new => {
                        ctx.add_detail(Some("pattern"), "PATTERN_CHANGED", old.clone(), new.clone())
                    }
                    _ => {}
                }
            }
            (Kind::Number(original), Kind::Number(update)) => {
                compare_numbers(ctx, original, update)
            }
            (Kind::Const(original), Kind::Const(update)) if original != update => {
                ctx.add_detail(
                    Some("const"),
                    "ENUM_ARRAY_CHANGED",
                    original.to_string(),
                    update.to_string(),
                );
            }
            (Kind::Enum(original), Kind::Enum(update)) => {
                let contains_all = |larger: &[serde_json::Value], smaller: &[serde_json::Value]| {
                    smaller.iter().all(|value| larger.contains(value))
                };
                let equal = contains_all(original, update) && contains_all(update, original);
                if !equal {
                    let kind = if contains_all(update, original) {
                        "ENUM_ARRAY_EXTENDED"
                    } else if contains_all(original, update) {
                        "ENUM_ARRAY_NARROWED"
                    } else {
                        "ENUM_ARRAY_CHANGED"
                    };
                    let list = |values: &[serde_json::Value]| {
                        values
                            .iter()
                            .map(|value| value.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    ctx.add_detail(Some("enum"), kind, list(original), list(update));
                }
            }
            (
                Kind::Combined(original_criterion, original_subschemas),
                Kind::Combined(update_criterion, update_subschemas),
            ) => {
                let (original_criterion, update_criterion) =
                    (original_criterion.clone(), update_criterion.clone());
                let (original_subschemas, update_subschemas) =
                    (original_subschemas.clone(), update_subschemas.clone());
                self.compare_combined(
                    ctx,
                    original_criterion,
                    &original_subschemas,
                    update_criterion,
                    &update_subschemas,
                );
            }
            (Kind::Not(original), Kind::Not(update)) => {
                let (original, update) = (*original, *update);
                ctx.enter("not");
                let mut sub = ctx.sub();
                // The negated schemas are compared the other way round.
                let mut reversed = Engine {
                    original: self.update,
                    update: self.original,
                    memo: HashMap::new(),
                    in_progress: HashSet::new(),
                    seed: HashMap::new(),
                    optimism: false,
                    depth: self.depth,
                    too_deep: None,
                };
                reversed.compare(&mut sub, Some(update), Some(original));
                self.optimism |= reversed.optimism;
                if reversed.too_deep.is_some() {
                    self.too_deep.get_or_insert(update_id);
                }
                if sub.compatible() {
                    ctx.add("NOT_TYPE_NARROWED");
                } else {
                    ctx.add("NOT_TYPE_EXTENDED");
                }
                ctx.leave();
            }
            (Kind::Object(original), Kind::Object(update)) => {
                let (original, update) = (original.clone(), update.clone());
                self.compare_objects(ctx, &original, &update);
            }
            (Kind::Array(original), Kind::Array(update)) => {
                let (original, update) = (original.clone(), update.clone());
                self.compare_arrays(ctx, &original, &update);
            }
            _ => {}
        }
    }

    fn compare_combined(
        &mut self,
        ctx: &mut Ctx,
        original_criterion: Criterion,
        original_subschemas: &[SchemaId],
        update_criterion: Criterion,
        update_subschemas: &[SchemaId],
    ) {
        let singleton = |subschemas: &[SchemaId]| subschemas.len() == 1;
        if original_criterion != update_criterion {
            let extended = update_criterion == Criterion::AnyOf
                || (singleton(original_subschemas) && singleton(update_subschemas))
                || (singleton(original_subschemas) && update_criterion == Criterion::OneOf)
                || (singleton(update_subschemas) && original_criterion == Criterion::AllOf);
            if extended {
                ctx.add("COMBINED_TYPE_EXTENDED");
            } else {
                ctx.add_detail(
                    None,
                    "COMBINED_TYPE_CHANGED",
                    original_criterion.as_str().to_string(),
                    update_criterion.as_str().to_string(),
                );
                return;
            }
        }
        let distinct = |schema: &Schema, subschemas: &[SchemaId]| {
            let mut kept: Vec<SchemaId> = Vec::new();
            for id in subschemas {
                if !kept
                    .iter()
                    .any(|other| schema.node(*other).raw == schema.node(*id).raw)
                {
                    kept.push(*id);
                }
            }
            kept
        };
        let originals = distinct(self.original, original_subschemas);
        let updates = distinct(self.update, update_subschemas);
        if originals.len() < updates.len() {
            if update_criterion == Criterion::AllOf {
                ctx.add("PRODUCT_TYPE_EXTENDED");
            } else {
                ctx.add("SUM_TYPE_EXTENDED");
            }
        } else if originals.len() > updates.len() {
            if original_criterion == Criterion::AllOf {
                ctx.add("PRODUCT_TYPE_NARROWED");
            } else {
                ctx.add("SUM_TYPE_NARROWED");
            }
        }
        let mut edges: Vec<Vec<(usize, Vec<Diff>)>> = vec![Vec::new(); originals.len()];
        for (index, original) in originals.iter().enumerate() {
            ctx.enter(&format!("{}/{index}", original_criterion.as_str()));
            for (update_index, update) in updates.iter().enumerate() {
                let mut sub = ctx.sub();
                self.compare(&mut sub, Some(*original), Some(*update));
                if sub.compatible() {
                    edges[index].push((update_index, sub.diffs));
                }
            }
            ctx.leave();
        }
        let matching = maximum_matching(&edges, updates.len());
        let mut matched = 0;
        for (original_index, update_index) in matching.iter().enumerate() {
            if let Some(update_index) = update_index {
                matched += 1;
                if let Some((_, diffs)) = edges[original_index]
                    .iter()
                    .find(|(index, _)| index == update_index)
                {
                    ctx.diffs.extend(diffs.iter().cloned());
                }
            }
        }
        if matched < originals.len().min(updates.len()) {
            ctx.add("COMBINED_TYPE_SUBSCHEMAS_CHANGED");
        }
    }

    fn is_open_object(&self, schema: &Schema, object: &ObjectKind) -> bool {
        object.permits_additional
            && object.additional.is_none()
            && object.pattern_properties.is_empty()
            && object
                .unevaluated
                .is_none_or(|id| schema.node(id).kind.is_empty_schema())
    }

    fn partially_open_object(
        &self,
        schema: &Schema,
        object: &ObjectKind,
        property: &str,
    ) -> Option<SchemaId> {
        for (pattern, id) in &object.pattern_properties {
            if regex::Regex::new(pattern).is_ok_and(|regex| regex.is_match(property)) {
                return Some(*id);
            }
        }
        if let Some(additional) = object.additional {
            return Some(additional);
        }
        if object.permits_additional {
            if let Some(unevaluated) = object.unevaluated {
                let kind = &schema.node(unevaluated).kind;
                if !matches!(kind, Kind::False) && !kind.is_empty_schema() {
                    return Some(unevaluated);
                }
            }
        }
        None
    }

    fn compare_objects(&mut self, ctx: &mut Ctx, original: &ObjectKind, update: &ObjectKind) {
        let index = |object: &ObjectKind| -> HashMap<String, SchemaId> {
            object
                .properties
                .iter()
                .map(|(name, id)| (name.clone(), *id))
                .collect()
        };
        let (original_index, update_index) = (index(original), index(update));
        let property = |object: &ObjectKind, name: &str| {
            let index = if std::ptr::eq(object, original) {
                &original_index
            } else {
                &update_index
            };
            index.get(name).copied()
        };
        // required
        ctx.enter("required");
        for (name, _) in &original.properties {
            if let Some(update_property) = property(update, name) {
                let was = original.required.contains(name);
                let is = update.required.contains(name);
                ctx.enter(name);
                if was && !is {
                    ctx.add("REQUIRED_ATTRIBUTE_REMOVED");
                } else if !was && is {
                    if self.update.node(update_property).default.is_some() {
                        ctx.add("REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED");
                    } else {
                        ctx.add("REQUIRED_ATTRIBUTE_ADDED");
                    }
                }
                ctx.leave();
            }
        }
        ctx.leave();
        // properties
        ctx.enter("properties");
        let mut names: Vec<&String> = original.properties.iter().map(|(name, _)| name).collect();
        for (name, _) in &update.properties {
            if !original_index.contains_key(name) {
                names.push(name);
            }
        }
        for name in names {
            ctx.enter(name);
            match (property(original, name), property(update, name)) {
                (Some(original_property), None) => {
                    if self.is_open_object(self.update, update) {
                        ctx.add("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL");
                    } else if let Some(partial) =
                        self.partially_open_object(self.update, update, name)
                    {
                        let mut sub = ctx.sub();
                        self.compare(&mut sub, Some(original_property), Some(partial));
                        let compatible = sub.compatible();
                        ctx.diffs.extend(sub.diffs);
                        ctx.add(if compatible {
                            "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                        } else {
                            "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                        });
                    } else if matches!(self.original.node(original_property).kind, Kind::False) {
                        ctx.add("PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL");
                    } else {
                        ctx.add("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL");
                    }
                }
                (None, Some(update_property)) => {
                    let required = update.required.contains(name);
                    let has_default = self.update.node(update_property).default.is_some();
                    if self.is_open_object(self.original, original) {
                        if self.update.node(update_property).kind.is_empty_schema() {
                            ctx.add("PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL");
                        } else if required {
                            ctx.add(if has_default {
                                "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL"
                            } else {
                                "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
                            });
                        } else {
                            ctx.add("OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL");
                        }
                    } else {
                        if let Some(partial) =
                            self.partially_open_object(self.original, original, name)
                        {
                            let mut sub = ctx.sub();
                            self.compare(&mut sub, Some(partial), Some(update_property));
                            let compatible = sub.compatible();
                            ctx.diffs.extend(sub.diffs);
                            ctx.add(if compatible {
                                "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                            } else {
                                "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                            });
                        }
                        if required {
                            ctx.add(if has_default {
                                "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
                            } else {
                                "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
                            });
                        } else {
                            ctx.add("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL");
                        }
                    }
                }
                (original_property, update_property) => {
                    self.compare(ctx, original_property, update_property)
                }
            }
            ctx.leave();
        }
        ctx.leave();
        // dependencies
        ctx.enter("dependencies");
        let keys: BTreeSet<&String> = original
            .property_dependencies
            .keys()
            .chain(update.property_dependencies.keys())
            .collect();
        for key in keys {
            ctx.enter(key);
            match (
                original.property_dependencies.get(key),
                update.property_dependencies.get(key),
            ) {
                (_, None) => ctx.add("DEPENDENCY_ARRAY_REMOVED"),
                (None, Some(_)) => ctx.add("DEPENDENCY_ARRAY_ADDED"),
                (Some(old), Some(new)) if old != new => {
                    if new.is_superset(old) {
                        ctx.add("DEPENDENCY_ARRAY_EXTENDED");
                    } else if old.is_superset(new) {
                        ctx.add("DEPENDENCY_ARRAY_NARROWED");
                    } else {
                        ctx.add("DEPENDENCY_ARRAY_CHANGED");
                    }
                }
                _ => {}
            }
            ctx.leave();
        }
        let keys: BTreeSet<&String> = original
            .schema_dependencies
            .keys()
            .chain(update.schema_dependencies.keys())
            .collect();
        for key in keys {
            ctx.enter(key);
            match (
                original.schema_dependencies.get(key),
                update.schema_dependencies.get(key),
            ) {
                (_, None) => ctx.add("DEPENDENCY_SCHEMA_REMOVED"),
                (None, Some(_)) => ctx.add("DEPENDENCY_SCHEMA_ADDED"),
                (Some(old), Some(new)) => self.compare(ctx, Some(*old), Some(*new)),
            }
            ctx.leave();
        }
        ctx.leave();
        // additionalProperties
        ctx.enter("additionalProperties");
        if original.permits_additional != update.permits_additional {
            ctx.add(if update.permits_additional {
                "ADDITIONAL_PROPERTIES_ADDED"
            } else {
                "ADDITIONAL_PROPERTIES_REMOVED"
            });
        } else if original.additional.is_none() && update.additional.is_some() {
            ctx.add("ADDITIONAL_PROPERTIES_NARROWED");
        } else if update.additional.is_none() && original.additional.is_some() {
            ctx.add("ADDITIONAL_PROPERTIES_EXTENDED");
        } else {
            self.compare(ctx, original.additional, update.additional);
        }
        ctx.leave();
        // unevaluatedProperties
        self.compare_unevaluated(
            ctx,
            "unevaluatedProperties",
            original.unevaluated,
            update.unevaluated,
            "PROPERTIES",
        );
        // attributes
        bound(
            ctx,
            "maxProperties",
            original.max_properties,
            update.max_properties,
            [
                "MAX_PROPERTIES_ADDED",
                "MAX_PROPERTIES_REMOVED",
                "MAX_PROPERTIES_INCREASED",
                "MAX_PROPERTIES_DECREASED",
            ],
        );
        bound(
            ctx,
            "minProperties",
            original.min_properties,
            update.min_properties,
            [
                "MIN_PROPERTIES_ADDED",
                "MIN_PROPERTIES_REMOVED",
                "MIN_PROPERTIES_INCREASED",
                "MIN_PROPERTIES_DECREASED",
            ],
        );
    }

    fn compare_unevaluated(
        &mut self,
        ctx: &mut Ctx,
        keyword: &str,
        original: Option<SchemaId>,
        update: Option<SchemaId>,
        what: &str,
    ) {
        let kind = |suffix: &str| -> &'static str {
            match (what, suffix) {
                ("PROPERTIES", "ADDED") => "UNEVALUATED_PROPERTIES_ADDED",
                ("PROPERTIES", "REMOVED") => "UNEVALUATED_PROPERTIES_REMOVED",
                ("PROPERTIES", "EXTENDED") => "UNEVALUATED_PROPERTIES_EXTENDED",
                ("PROPERTIES", _) => "UNEVALUATED_PROPERTIES_NARROWED",
                (_, "ADDED") => "UNEVALUATED_ITEMS_ADDED",
                (_, "REMOVED") => "UNEVALUATED_ITEMS_REMOVED",
                (_, "EXTENDED") => "UNEVALUATED_ITEMS_EXTENDED",
                _ => "UNEVALUATED_ITEMS_NARROWED",
            }
        };
        if original.is_none() && update.is_none() {
            return;
        }
        let is_false = |schema: &Schema, id: Option<SchemaId>| {
            id.is_some_and(|id| matches!(schema.node(id).kind, Kind::False))
        };
        let is_empty = |schema: &Schema, id: Option<SchemaId>| {
            id.is_some_and(|id| schema.node(id).kind.is_empty_schema())
        };
        ctx.enter(keyword);
        let original_false = is_false(self.original, original);
        let update_false = is_false(self.update, update);
        if original.is_none() {
            ctx.add(kind(if update_false { "REMOVED" } else { "NARROWED" }));
        } else if update.is_none() {
            ctx.add(kind(if original_false { "ADDED" } else { "EXTENDED" }));
        } else if original_false && !update_false {
            ctx.add(kind("ADDED"));
        } else if !original_false && update_false {
            ctx.add(kind("REMOVED"));
        } else if is_empty(self.original, original) && !is_empty(self.update, update) {
            ctx.add(kind("NARROWED"));
        } else if !is_empty(self.original, original) && is_empty(self.update, update) {
            ctx.add(kind("EXTENDED"));
        } else {
            self.compare(ctx, original, update);
        }
        ctx.leave();
    }

    fn is_open_array(&self, schema: &Schema, array: &ArrayKind) -> bool {
        array.permits_additional
            && array.additional.is_none()
            && array
                .unevaluated
                .is_none_or(|id| schema.node(id).kind.is_empty_schema())
    }

    fn partially_open_array(&self, schema: &Schema, array: &ArrayKind) -> Option<SchemaId> {
        if let Some(additional) = array.additional {
            return Some(additional);
        }
        if array.permits_additional {
            if let Some(unevaluated) = array.unevaluated {
                let kind = &schema.node(unevaluated).kind;
                if !matches!(kind, Kind::False) && !kind.is_empty_schema() {
                    return Some(unevaluated);
                }
            }
        }
        None
    }

    fn compare_arrays(&mut self, ctx: &mut Ctx, original: &ArrayKind, update: &ArrayKind) {
        ctx.enter("items");
        self.compare(ctx, original.items, update.items);
        ctx.leave();
        let shared = original.tuple.len().min(update.tuple.len());
        for index in 0..shared {
            ctx.enter(&format!("items/{index}"));
            self.compare(ctx, Some(original.tuple[index]), Some(update.tuple[index]));
            ctx.leave();
        }
        for (index, original_item) in original.tuple.iter().enumerate().skip(shared) {
            ctx.enter(&format!("items/{index}"));
            if self.is_open_array(self.update, update) {
                ctx.add("ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL");
            } else if let Some(partial) = self.partially_open_array(self.update, update) {
                let mut sub = ctx.sub();
                self.compare(&mut sub, Some(*original_item), Some(partial));
                let compatible = sub.compatible();
                ctx.diffs.extend(sub.diffs);
                ctx.add(if compatible {
                    "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                } else {
                    "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                });
            } else if matches!(self.original.node(*original_item).kind, Kind::False) {
                ctx.add("ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL");
            } else {
                ctx.add("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL");
            }
            ctx.leave();
        }
        for (index, update_item) in update.tuple.iter().enumerate().skip(shared) {
            ctx.enter(&format!("items/{index}"));
            if self.is_open_array(self.original, original) {
                if self.update.node(*update_item).kind.is_empty_schema() {
                    ctx.add("ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL");
                } else {
                    ctx.add("ITEM_ADDED_TO_OPEN_CONTENT_MODEL");
                }
            } else if let Some(partial) = self.partially_open_array(self.original, original) {
                let mut sub = ctx.sub();
                self.compare(&mut sub, Some(partial), Some(*update_item));
                let compatible = sub.compatible();
                ctx.diffs.extend(sub.diffs);
                ctx.add(if compatible {
                    "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                } else {
                    "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                });
            } else {
                ctx.add("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL");
            }
            ctx.leave();
        }
        ctx.enter("additionalItems");
        if original.permits_additional != update.permits_additional {
            ctx.add(if original.permits_additional {
                "ADDITIONAL_ITEMS_REMOVED"
            } else {
                "ADDITIONAL_ITEMS_ADDED"
            });
        } else if original.additional.is_none() && update.additional.is_some() {
            ctx.add("ADDITIONAL_ITEMS_NARROWED");
        } else if update.additional.is_none() && original.additional.is_some() {
            ctx.add("ADDITIONAL_ITEMS_EXTENDED");
        } else {
            self.compare(ctx, original.additional, update.additional);
        }
        ctx.leave();
        self.compare_unevaluated(
            ctx,
            "unevaluatedItems",
            original.unevaluated,
            update.unevaluated,
            "ITEMS",
        );
        bound(
            ctx,
            "maxItems",
            original.max_items,
            update.max_items,
            [
                "MAX_ITEMS_ADDED",
                "MAX_ITEMS_REMOVED",
                "MAX_ITEMS_INCREASED",
                "MAX_ITEMS_DECREASED",
            ],
        );
        bound(
            ctx,
            "minItems",
            original.min_items,
            update.min_items,
            [
                "MIN_ITEMS_ADDED",
                "MIN_ITEMS_REMOVED",
                "MIN_ITEMS_INCREASED",
                "MIN_ITEMS_DECREASED",
            ],
        );
        if original.unique != update.unique {
            ctx.add_at(
                "uniqueItems",
                if original.unique {
                    "UNIQUE_ITEMS_REMOVED"
                } else {
                    "UNIQUE_ITEMS_ADDED"
                },
            );
        }
        bound(
            ctx,
            "maxContains",
            original.max_contains,
            update.max_contains,
            [
                "MAX_CONTAINS_ADDED",
                "MAX_CONTAINS_REMOVED",
                "MAX_CONTAINS_INCREASED",
                "MAX_CONTAINS_DECREASED",
            ],
        );
        bound(
            ctx,
            "minContains",
            original.min_contains,
            update.min_contains,
            [
                "MIN_CONTAINS_ADDED",
                "MIN_CONTAINS_REMOVED",
                "MIN_CONTAINS_INCREASED",
                "MIN_CONTAINS_DECREASED",
            ],
        );
    }
}

/// A bound added, removed, increased or decreased (`[added, removed, increased, decreased]`).
fn bound<T: PartialOrd + ToString + Copy>(
    ctx: &mut Ctx,
    keyword: &str,
    original: Option<T>,
    update: Option<T>,
    kinds: [&'static str; 4],
) {
    let text = |value: Option<T>| value.map(|value| value.to_string()).unwrap_or_default();
    let kind = match (original, update) {
        (None, Some(_)) => kinds[0],
        (Some(_), None) => kinds[1],
        (Some(old), Some(new)) if old < new => kinds[2],
        (Some(old), Some(new)) if old > new => kinds[3],
        _ => return,
    };
    ctx.add_detail(Some(keyword), kind, text(original), text(update));
}

fn compare_numbers(ctx: &mut Ctx, original: &NumberKind, update: &NumberKind) {
    bound(
        ctx,
        "maximum",
        original.maximum,
        update.maximum,
        [
            "MAXIMUM_ADDED",
            "MAXIMUM_REMOVED",
            "MAXIMUM_INCREASED",
            "MAXIMUM_DECREASED",
        ],
    );
    bound(
        ctx,
        "minimum",
        original.minimum,
        update.minimum,
        [
            "MINIMUM_ADDED",
            "MINIMUM_REMOVED",
            "MINIMUM_INCREASED",
            "MINIMUM_DECREASED",
        ],
    );
    bound(
        ctx,
        "exclusiveMaximum",
        original.exclusive_maximum,
        update.exclusive_maximum,
        [
            "EXCLUSIVE_MAXIMUM_ADDED",
            "EXCLUSIVE_MAXIMUM_REMOVED",
            "EXCLUSIVE_MAXIMUM_INCREASED",
            "EXCLUSIVE_MAXIMUM_DECREASED",
        ],
    );
    bound(
        ctx,
        "exclusiveMinimum",
        original.exclusive_minimum,
        update.exclusive_minimum,
        [
            "EXCLUSIVE_MINIMUM_ADDED",
            "EXCLUSIVE_MINIMUM_REMOVED",
            "EXCLUSIVE_MINIMUM_INCREASED",
            "EXCLUSIVE_MINIMUM_DECREASED",
        ],
    );
    let original_multiple = original.multiple_of.as_deref().and_then(Decimal::parse);
    let update_multiple = update.multiple_of.as_deref().and_then(Decimal::parse);
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    match (original_multiple, update_multiple) {
        (None, None) => {}
        (None, Some(_)) => ctx.add_detail(
            Some("multipleOf"),
            "MULTIPLE_OF_ADDED",
            String::new(),
            text(&update.multiple_of),
        ),
        (Some(_), None) => ctx.add_at("multipleOf", "MULTIPLE_OF_REMOVED"),
        (Some(old), Some(new)) if old.equals(&new) => {}
        (Some(old), Some(new)) => {
            let kind = if !old.is_zero() && new.is_multiple_of(&old) {
                "MULTIPLE_OF_EXPANDED"
            } else if !new.is_zero() && old.is_multiple_of(&new) {
                "MULTIPLE_OF_REDUCED"
            } else {
                "MULTIPLE_OF_CHANGED"
            };
            ctx.add_detail(
                Some("multipleOf"),
                kind,
                text(&original.multiple_of),
                text(&update.multiple_of),
            );
        }
    }
    if original.integer != update.integer {
        if original.integer {
            ctx.add("TYPE_EXTENDED");
        } else {
            ctx.add_detail(
                None,
                "TYPE_NARROWED",
                "number".to_string(),
                "integer".to_string(),
            );
        }
    }
}

/// A decimal number as digits and a scale (`2.50` → 250, 2), for exact `multipleOf`
/// arithmetic as Java's `BigDecimal` does it.
#[derive(Clone, Copy, Debug)]
struct Decimal {
    digits: i128,
    scale: i32,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(index) => (&text[..index], text[index + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits: i128 = format!("{whole}{fraction}").parse().ok()?;
        let scale = i32::try_from(fraction.len()).ok()? - exponent;
        Some(Decimal { digits, scale })
    }

    fn aligned(&self, other: &Decimal) -> Option<(i128, i128)> {
        let scale = self.scale.max(other.scale);
        let lift = |value: &Decimal| {
            let by = u32::try_from(scale - value.scale).ok()?;
            value.digits.checked_mul(10i128.checked_pow(by)?)
        };
        Some((lift(self)?, lift(other)?))
    }

    fn is_zero(&self) -> bool {
        self.digits == 0
    }

    fn equals(&self, other: &Decimal) -> bool {
        self.aligned(other)
            .is_some_and(|(left, right)| left == right)
    }

    fn is_multiple_of(&self, other: &Decimal) -> bool {
        self.aligned(other)
            .is_some_and(|(left, right)| right != 0 && left % right == 0)
    }
}

/// Kuhn's augmenting paths: `edges[left]` lists the right vertices `left` may pair with; the
/// answer gives each left vertex its partner.
fn maximum_matching<T>(edges: &[Vec<(usize, T)>], right_count: usize) -> Vec<Option<usize>> {
    fn augment<T>(
        left: usize,
        edges: &[Vec<(usize, T)>],
        seen: &mut [bool],
        partner_of_right: &mut [Option<usize>],
    ) -> bool {
        for (right, _) in &edges[left] {
            if seen[*right] {
                continue;
            }
            seen[*right] = true;
            let free = match partner_of_right[*right] {
                None => true,
                Some(other) => augment(other, edges, seen, partner_of_right),
            };
            if free {
                partner_of_right[*right] = Some(left);
                return true;
            }
        }
        false
    }
    let mut partner_of_right = vec![None; right_count];
    for left in 0..edges.len() {
        let mut seen = vec![false; right_count];
        augment(left, edges, &mut seen, &mut partner_of_right);
    }
    let mut partner_of_left = vec![None; edges.len()];
    for (right, left) in partner_of_right.iter().enumerate() {
        if let Some(left) = left {
            partner_of_left[*left] = Some(right);
        }
    }
    partner_of_left
}

/// A sentence for an incompatible difference, in old/new terms: the original is the writer's
/// schema, the update the reader's.
fn describe(diff: &Diff, roles: Roles) -> String {
    let reader = roles.reader();
    let writer = roles.writer();
    let path = &place(&diff.path);
    let name = diff.kind;
    let detail = diff.detail.as_ref().map(|(original, update)| {
        let (old, new) = roles.old_new(update.as_str(), original.as_str());
        (old.to_string(), new.to_string())
    });
    let changed = |what: &str| match &detail {
        Some((old, new)) if !old.is_empty() && !new.is_empty() => {
            format!("{what} of {path} changed from {old} to {new}")
        }
        Some((old, new)) if !new.is_empty() || !old.is_empty() => {
            let value = if new.is_empty() { old } else { new };
            format!("{what} at {path} is {value} in the {reader} schema and absent from the {writer} schema")
        }
        _ => format!("{what} at {path} differs between the {writer} and {reader} schema"),
    };
    match name {
        "TYPE_CHANGED" | "TYPE_NARROWED" | "COMBINED_TYPE_CHANGED" => changed("the type"),
        "SCHEMA_ADDED" => format!("{path} is constrained by the {reader} schema and unconstrained in the {writer} schema"),
        "REQUIRED_ATTRIBUTE_ADDED" => format!("{path} is required by the {reader} schema and optional in the {writer} schema, without a default"),
        "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" | "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL" => {
            format!("{path} is required by the {reader} schema, without a default, and missing from the {writer} schema")
        }
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL" | "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" => format!(
            "{path} is constrained by the {reader} schema, but the {writer} schema's open content model let it hold any value"
        ),
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL" => format!(
            "{path} of the {writer} schema is not allowed by the {reader} schema's closed content model (additionalProperties false)"
        ),
        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL" => format!(
            "{path} of the {writer} schema is not covered by the {reader} schema's additional or pattern properties"
        ),
        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL" => format!(
            "{path} of the {reader} schema is narrower than the {writer} schema's additional or pattern properties allowed"
        ),
        "ITEM_ADDED_TO_OPEN_CONTENT_MODEL" => format!("tuple item {path} is constrained by the {reader} schema, but the {writer} schema allowed any item there"),
        "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL" => format!("tuple item {path} of the {writer} schema is not allowed by the {reader} schema (additionalItems false)"),
        "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL" | "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL" => {
            format!("tuple item {path} is not covered by the additional items the other schema allows")
        }
        "ADDITIONAL_PROPERTIES_REMOVED" => format!("{path}: the {reader} schema forbids additional properties the {writer} schema allowed"),
        "ADDITIONAL_PROPERTIES_NARROWED" => format!("{path}: the {reader} schema constrains additional properties the {writer} schema left free"),
        "ADDITIONAL_ITEMS_REMOVED" => format!("{path}: the {reader} schema forbids additional items the {writer} schema allowed"),
        "ADDITIONAL_ITEMS_NARROWED" => format!("{path}: the {reader} schema constrains additional items the {writer} schema left free"),
        "ENUM_ARRAY_NARROWED" | "ENUM_ARRAY_CHANGED" => changed("the allowed values"),
        "SUM_TYPE_NARROWED" => format!("{path}: the {reader} schema has fewer oneOf/anyOf branches than the {writer} schema"),
        "PRODUCT_TYPE_EXTENDED" => format!("{path}: the {reader} schema has more allOf branches than the {writer} schema"),
        "COMBINED_TYPE_SUBSCHEMAS_CHANGED" => format!("{path}: the branches of the {writer} schema cannot each be matched to a compatible branch of the {reader} schema"),
        "NOT_TYPE_EXTENDED" => format!("{path}: the {reader} schema's `not` excludes values the {writer} schema allowed"),
        "UNIQUE_ITEMS_ADDED" => format!("{path}: the {reader} schema requires unique items, the {writer} schema did not"),
        "DEPENDENCY_ARRAY_ADDED" | "DEPENDENCY_ARRAY_EXTENDED" | "DEPENDENCY_ARRAY_CHANGED" | "DEPENDENCY_SCHEMA_ADDED" => {
            format!("{path}: the {reader} schema adds property dependencies the {writer} schema did not have")
        }
        "UNEVALUATED_PROPERTIES_REMOVED" | "UNEVALUATED_PROPERTIES_NARROWED" | "UNEVALUATED_ITEMS_REMOVED" | "UNEVALUATED_ITEMS_NARROWED" => {
            format!("{path}: the {reader} schema restricts what the {writer} schema left unevaluated")
        }
        "PATTERN_ADDED" | "PATTERN_CHANGED" => changed("the pattern"),
        _ if name.ends_with("_ADDED") => changed(&keyword_of(&diff.path)),
        _ if name.ends_with("_INCREASED") || name.ends_with("_DECREASED") || name.ends_with("_EXPANDED") || name.ends_with("_CHANGED") => {
            changed(&keyword_of(&diff.path))
        }
        _ => format!("{} at {path}", name.to_ascii_lowercase().replace('_', " ")),
    }
}

/// A path for a sentence: `property "line.qty"` when it names properties
/// (`#/properties/line/properties/qty`, `#/required/qty`, `…/qty/maxLength`: the keyword is
/// said by the sentence), the JSON pointer otherwise.
fn place(path: &str) -> String {
    let parts: Vec<&str> = path.trim_start_matches("#/").split('/').collect();
    let mut names = Vec::new();
    let mut index = 0;
    let mut rest = Vec::new();
    while index < parts.len() {
        match parts[index] {
            "properties" | "required" if index + 1 < parts.len() => {
                names.push(parts[index + 1]);
                rest.clear();
                index += 2;
            }
            part => {
                rest.push(part);
                index += 1;
            }
        }
    }
    if names.is_empty() {
        return path.to_string();
    }
    let property = format!("property \"{}\"", names.join("."));
    match rest.as_slice() {
        [] | [_] => property,
        _ => format!("{property} ({path})"),
    }
}

fn keyword_of(path: &str) -> String {
    format!("`{}`", path.rsplit('/').next().unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(text: &str) -> Schema {
        Schema::parse(&SchemaText::new("test.json", text)).expect("valid schema")
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
    fn open_and_closed_content_models() {
        let open = r#"{"type":"object","properties":{"a":{"type":"string"}}}"#;
        let open_more =
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}"#;
        assert_eq!(
            backward(open_more, open),
            vec!["OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/b"]
        );
        assert!(backward(open, open_more).is_empty());
        let closed = r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#;
        let closed_more = r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}"#;
        assert!(backward(closed_more, closed).is_empty());
        assert_eq!(
            backward(closed, closed_more),
            vec!["PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/b"]
        );
    }

    #[test]
    fn recursive_references_end() {
        let tree = r##"{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#"}},"v":{"type":"integer"}}}"##;
        let tree_number = r##"{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#"}},"v":{"type":"number"}}}"##;
        assert!(backward(tree_number, tree).is_empty());
        let found = backward(tree, tree_number);
        assert!(
            found.contains(&"TYPE_NARROWED #/properties/v".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn reference_cycles_and_missing_targets_are_errors() {
        let error = Schema::parse(&SchemaText::new("loop.json", "{\"definitions\": {\"a\": {\"$ref\": \"#/definitions/a\"}},\n \"$ref\": \"#/definitions/a\"}"))
            .expect_err("cycle");
        assert!(error.message.contains("cycle"), "{error}");
        let error = Schema::parse(&SchemaText::new(
            "missing.json",
            "{\n\"$ref\": \"#/definitions/nope\"}",
        ))
        .expect_err("missing");
        assert_eq!(error.line, 2);
    }
}
