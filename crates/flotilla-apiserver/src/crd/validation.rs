//! A custom object against its CRD version's `openAPIV3Schema`, as kube-apiserver treats a write:
//! structural pruning (unknown fields dropped and reported for strict field validation; map
//! entries set to `null` the schema does not allow null for dropped, or set to the schema's
//! default), then kube-openapi's schema validation with apiextensions-apiserver's wording of its
//! errors, then the uniqueness of `x-kubernetes-list-type: set` and `map` lists.
//!
//! Validation follows kube-openapi's `SchemaValidator` node by node and in its order: type (with
//! `nullable` and `x-kubernetes-int-or-string`), `anyOf`/`oneOf`/`allOf`/`not`, string length and
//! `pattern`, `format`, `multipleOf`/`minimum`/`maximum`, items and `minItems`/`maxItems`/
//! `uniqueItems`, `enum`, then `minProperties`/`maxProperties`, map values
//! (`additionalProperties`), properties and `required`. Its quirks are kept where they decide an
//! answer: an integer is compared with the bound truncated to an integer, a number that is a whole
//! number passes as an integer, an array passes the type check of a string with a `format`, a
//! `null` never matches an `enum`, and the failure reported for an `anyOf` or `oneOf` is the
//! branch that matched most (kube-openapi's match count).
//!
//! Paths are kept on the stack and messages made only for a failure, so an object that passes
//! costs no allocation here (patterns are compiled once each and cached).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{OnceLock, PoisonError, RwLock};

use regex::Regex;
use serde_json::{Map, Number, Value};

use super::formats::{self, Format};
use crate::error::StatusCause;
use crate::go_text;

/// Where a value is: kept on the stack while the object is walked.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    /// A field the schema's `properties` name.
    Property(&'a Path<'a>, &'a str),
    /// A key of a map (`additionalProperties`).
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// kube-openapi's name of the value (`spec.ports[0].name`; a map key is always `.key`).
    fn name(&self) -> String {
        let mut name = String::new();
        self.write_name(&mut name);
        name
    }

    fn write_name(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Property(parent, field) => {
                parent.write_name(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(field);
            }
            Path::Key(parent, key) => {
                parent.write_name(out);
                out.push('.');
                out.push_str(key);
            }
            Path::Index(parent, index) => {
                parent.write_name(out);
                let _ = write!(out, "[{index}]");
            }
        }
    }

    /// The field of a cause made from a kube-openapi error: its name without the leading `.`,
    /// `<nil>` for the root.
    fn field(&self) -> String {
        field_of(self.name())
    }

    /// A `field.Path` as apimachinery prints it (`spec.map[key].list[0]`), for list-type errors.
    fn field_path(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Property(parent, field) => {
                parent.field_path(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(field);
            }
            Path::Key(parent, key) => {
                parent.field_path(out);
                let _ = write!(out, "[{key}]");
            }
            Path::Index(parent, index) => {
                parent.field_path(out);
                let _ = write!(out, "[{index}]");
            }
        }
    }
}

fn field_of(name: String) -> String {
    match name.strip_prefix('.') {
        Some("") => "<nil>".to_string(),
        Some(trimmed) => trimmed.to_string(),
        None if name.is_empty() => "<nil>".to_string(),
        None => name,
    }
}

/// The keywords of one schema node, read in one pass over its keys.
#[derive(Default)]
struct Node<'s> {
    type_name: Option<&'s str>,
    int_or_string: bool,
    nullable: bool,
    /// A format kube-apiserver keeps, as the schema spells it.
    format: Option<(&'s str, Format)>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: bool,
    exclusive_maximum: bool,
    multiple_of: Option<f64>,
    min_length: Option<i64>,
    max_length: Option<i64>,
    pattern: Option<&'s str>,
    min_items: Option<i64>,
    max_items: Option<i64>,
    unique_items: bool,
    min_properties: Option<i64>,
    max_properties: Option<i64>,
    required: &'s [Value],
    enumeration: &'s [Value],
    properties: Option<&'s Map<String, Value>>,
    additional: Option<&'s Value>,
    items: Option<&'s Value>,
    any_of: &'s [Value],
    one_of: &'s [Value],
    all_of: &'s [Value],
    not: Option<&'s Value>,
    list_type: Option<&'s str>,
    list_map_keys: &'s [Value],
}

fn integer(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_f64().map(|float| float as i64))
}

fn slice(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

impl<'s> Node<'s> {
    fn read(schema: &'s Value) -> Node<'s> {
        let mut node = Node::default();
        let Some(map) = schema.as_object() else {
            return node;
        };
        for (key, value) in map {
            match key.as_str() {
                "type" => node.type_name = value.as_str().filter(|name| !name.is_empty()),
                "x-kubernetes-int-or-string" => node.int_or_string = value == &Value::Bool(true),
                "nullable" => node.nullable = value == &Value::Bool(true),
                "format" => {
                    node.format = value
                        .as_str()
                        .and_then(|name| formats::known(name).map(|format| (name, format)))
                }
                "minimum" => node.minimum = value.as_f64(),
                "maximum" => node.maximum = value.as_f64(),
                "exclusiveMinimum" => node.exclusive_minimum = value == &Value::Bool(true),
                "exclusiveMaximum" => node.exclusive_maximum = value == &Value::Bool(true),
                "multipleOf" => node.multiple_of = value.as_f64(),
                "minLength" => node.min_length = integer(value),
                "maxLength" => node.max_length = integer(value),
                "pattern" => node.pattern = value.as_str().filter(|pattern| !pattern.is_empty()),
                "minItems" => node.min_items = integer(value),
                "maxItems" => node.max_items = integer(value),
                "uniqueItems" => node.unique_items = value == &Value::Bool(true),
                "minProperties" => node.min_properties = integer(value),
                "maxProperties" => node.max_properties = integer(value),
                "required" => node.required = slice(value),
                "enum" => node.enumeration = slice(value),
                "properties" => node.properties = value.as_object(),
                "additionalProperties" => node.additional = Some(value).filter(|v| v.is_object()),
                "items" => node.items = Some(value).filter(|v| v.is_object()),
                "anyOf" => node.any_of = slice(value),
                "oneOf" => node.one_of = slice(value),
                "allOf" => node.all_of = slice(value),
                "not" => node.not = Some(value).filter(|v| v.is_object()),
                "x-kubernetes-list-type" => node.list_type = value.as_str(),
                "x-kubernetes-list-map-keys" => node.list_map_keys = slice(value),
                _ => {}
            }
        }
        node
    }

    fn has_types(&self) -> bool {
        self.int_or_string || self.type_name.is_some()
    }

    /// Whether the node's types include `name` (`x-kubernetes-int-or-string` is `integer,string`).
    fn has_type(&self, name: &str) -> bool {
        if self.int_or_string {
            name == "integer" || name == "string"
        } else {
            self.type_name == Some(name)
        }
    }

    fn types(&self) -> &str {
        if self.int_or_string {
            "integer,string"
        } else {
            self.type_name.unwrap_or_default()
        }
    }
}

/// Where failures go: collected as causes, or only noted (a branch of `anyOf`, `oneOf`, `not`
/// being tried). List-type errors are collected apart, on the main walk only, as kube-apiserver
/// checks them after the schema.
struct Sink<'c> {
    causes: Option<&'c mut Vec<StatusCause>>,
    lists: Option<&'c mut Vec<StatusCause>>,
    failed: bool,
}

impl Sink<'_> {
    fn probe() -> Sink<'static> {
        Sink {
            causes: None,
            lists: None,
            failed: false,
        }
    }

    /// A sink for a branch whose failures count as this one's.
    fn branch(&mut self) -> Sink<'_> {
        Sink {
            causes: self.causes.as_deref_mut(),
            lists: None,
            failed: false,
        }
    }

    fn report(&mut self, make: impl FnOnce() -> StatusCause) {
        self.failed = true;
        if let Some(causes) = self.causes.as_deref_mut() {
            let cause = make();
            // kube-openapi's results keep each message once.
            if !causes
                .iter()
                .any(|known| known.field == cause.field && known.message == cause.message)
            {
                causes.push(cause);
            }
        }
    }
}

fn cause(reason: &str, field: String, message: String) -> StatusCause {
    StatusCause {
        reason: reason.to_string(),
        message,
        field,
    }
}

/// `field.Invalid(path, value, detail)`.
fn invalid(path: &Path, value: String, detail: String) -> StatusCause {
    cause(
        "FieldValueInvalid",
        path.field(),
        format!("Invalid value: {value}: {detail}"),
    )
}

/// kube-openapi's `InvalidType`, reported as `field.TypeInvalid`.
fn type_error(path: &Path, type_name: &str, value: &str) -> StatusCause {
    let value = go_text::quote(value);
    let name = path.name();
    cause(
        "FieldValueTypeInvalid",
        field_of(name.clone()),
        format!("Invalid value: {value}: {name} in body must be of type {type_name}: {value}"),
    )
}

/// `field.TooMany(path, actual, max)`.
fn too_many(path: &Path, actual: usize, max: i64) -> StatusCause {
    let detail = if max >= 0 {
        format!("must have at most {max} items")
    } else {
        "has too many items".to_string()
    };
    cause(
        "FieldValueTooMany",
        path.field(),
        format!("Too many: {actual}: {detail}"),
    )
}

/// An error kube-openapi reports without a field (`anyOf` and its kin): apiextensions-apiserver
/// words it as an invalid value at a nil path.
fn composite(path: &Path, what: &str) -> StatusCause {
    cause(
        "FieldValueInvalid",
        "<nil>".to_string(),
        format!(
            "Invalid value: \"\": {} must {what}",
            go_text::quote(&path.name())
        ),
    )
}

/// A decoded JSON value as `field.Error` prints a bad value: strings quoted, numbers and booleans
/// as `%v`, `null` as `"null"`, maps and lists as `%#v`.
fn bad_value(value: &Value) -> String {
    match value {
        Value::Null => "\"null\"".to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => go_text::number(number),
        Value::String(text) => go_text::quote(text),
        other => go_text::go_syntax(other),
    }
}

/// A JSON number as the decoder leaves it for kube-openapi: `int64`, or `float64` (fractions
/// and integers beyond `int64`).
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn num(number: &Number) -> Num {
    match number.as_i64() {
        Some(integer) => Num::Int(integer),
        None => Num::Float(number.as_f64().unwrap_or_default()),
    }
}

/// Go's `int64(f)` on amd64: truncated, and the minimum integer when out of range.
fn go_i64(float: f64) -> i64 {
    if float.is_nan()
        || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&float)
    {
        i64::MIN
    } else {
        float as i64
    }
}

/// go-openapi's `swag.IsFloat64AJSONInteger`.
fn json_integer(float: f64) -> bool {
    const LIMIT: f64 = 9_007_199_254_740_991.0;
    if !float.is_finite() || !(-LIMIT..=LIMIT).contains(&float) {
        return false;
    }
    let truncated = float.trunc();
    // Go's `float64(uint64(f))`: a negative value wraps.
    let wrapped = if float >= 0.0 {
        truncated
    } else {
        (truncated as i64) as u64 as f64
    };
    let difference = (float - wrapped).abs();
    if float == wrapped || float == truncated {
        return true;
    }
    if float == 0.0 || wrapped == 0.0 || difference < f64::from_bits(1) {
        return false;
    }
    difference / (float.abs() + wrapped.abs()).min(f64::MAX) < 1e-9
}

/// Validates `data` against `schema` as kube-openapi's `SchemaValidator.Validate` does, and
/// returns its match count (how much of the schema applied: what decides which failing `anyOf`
/// or `oneOf` branch is reported).
fn validate(schema: &Value, data: &Value, path: &Path, sink: &mut Sink) -> u32 {
    let node = Node::read(schema);
    if data.is_null() {
        let mut count = 1;
        if node.has_types() && !node.nullable {
            count = 0;
            sink.report(|| type_error(path, node.types(), "null"));
        }
        if !node.enumeration.is_empty() {
            sink.report(|| not_supported(path, data, node.enumeration));
        }
        return count;
    }
    let mut count = 0;
    if node.has_types() || node.format.is_some() {
        if check_type(&node, data, path, sink) {
            count += 1;
        }
        count += 1;
    }
    count += schema_props(&node, data, path, sink) + 1;
    if let Value::String(text) = data {
        check_string(&node, text, path, sink);
        count += 1;
        if let Some((name, format)) = node.format {
            if !formats::validates(format, text) {
                sink.report(|| type_error(path, name, text));
            }
            count += 1;
        }
    }
    if let Value::Number(number) = data {
        check_number(&node, number, path, sink);
        count += 2;
    }
    if let Value::Array(items) = data {
        check_list_type(&node, items, path, sink);
        count += check_items(&node, items, path, sink) + 1;
    }
    if !node.enumeration.is_empty()
        && !node
            .enumeration
            .iter()
            .any(|option| enum_matches(data, option))
    {
        sink.report(|| not_supported(path, data, node.enumeration));
    }
    count += 1;
    if let Value::Object(map) = data {
        count += check_object(&node, map, path, sink) + 1;
    }
    count + 1
}

/// kube-openapi's type validator; false when it failed.
fn check_type(node: &Node, data: &Value, path: &Path, sink: &mut Sink) -> bool {
    let (schema_type, value_format, float) = match data {
        Value::Bool(_) => ("boolean", "", None),
        Value::String(_) => ("string", "", None),
        Value::Number(number) => match num(number) {
            Num::Int(_) => ("integer", "int64", None),
            Num::Float(float) => ("number", "float64", Some(float)),
        },
        Value::Array(_) => ("array", "", None),
        Value::Object(_) | Value::Null => ("object", "", None),
    };
    let float_int = float.is_some_and(json_integer) && node.has_type("integer");
    let int_float = schema_type == "integer" && node.has_type("number");
    let string_or_list = matches!(data, Value::String(_) | Value::Array(_));
    let format = node.format.map(|(name, _)| name);
    if let Some(format) = format.filter(|_| !string_or_list) {
        if !(node.has_type(schema_type) || value_format == format || float_int || int_float) {
            sink.report(|| type_error(path, format, value_format));
            return false;
        }
    }
    if format.is_some() && string_or_list && !(node.has_type("number") || node.has_type("integer"))
    {
        return true;
    }
    if !(node.has_type(schema_type) || float_int || int_float) {
        sink.report(|| type_error(path, node.types(), schema_type));
        return false;
    }
    true
}

/// `anyOf`, `oneOf`, `allOf` and `not`; the match count of what was merged, plus one.
fn schema_props(node: &Node, data: &Value, path: &Path, sink: &mut Sink) -> u32 {
    let mut count = 0;
    if !node.any_of.is_empty() {
        let mut best: Option<(&Value, u32)> = None;
        let mut success = None;
        for branch in node.any_of {
            let mut probe = Sink::probe();
            let matched = validate(branch, data, path, &mut probe);
            if !probe.failed {
                success = Some(matched);
                break;
            }
            if best.is_none_or(|(_, most)| matched > most) {
                best = Some((branch, matched));
            }
        }
        match success {
            Some(matched) => count += matched,
            None => {
                sink.report(|| composite(path, "validate at least one schema (anyOf)"));
                if let Some((branch, matched)) = best {
                    count += matched;
                    merge_failures(branch, data, path, sink);
                }
            }
        }
    }
    if !node.one_of.is_empty() {
        let mut best: Option<(&Value, u32)> = None;
        let mut first_success = None;
        let mut validated = 0;
        for branch in node.one_of {
            let mut probe = Sink::probe();
            let matched = validate(branch, data, path, &mut probe);
            if !probe.failed {
                validated += 1;
                best = None;
                first_success.get_or_insert(matched);
                continue;
            }
            if validated == 0 && best.is_none_or(|(_, most)| matched > most) {
                best = Some((branch, matched));
            }
        }
        if validated == 1 {
            count += first_success.unwrap_or_default();
        } else {
            let found = if validated == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {validated} valid alternatives")
            };
            sink.report(|| {
                composite(
                    path,
                    &format!("validate one and only one schema (oneOf). {found}"),
                )
            });
            if let Some((branch, matched)) = best {
                count += matched;
                merge_failures(branch, data, path, sink);
            }
        }
    }
    if !node.all_of.is_empty() {
        let mut validated = 0;
        for branch in node.all_of {
            let mut merged = sink.branch();
            count += validate(branch, data, path, &mut merged);
            if !merged.failed {
                validated += 1;
            }
        }
        if validated != node.all_of.len() {
            let none = if validated == 0 {
                ". None validated"
            } else {
                ""
            };
            sink.report(|| composite(path, &format!("validate all the schemas (allOf){none}")));
        }
    }
    if let Some(not) = node.not {
        let mut probe = Sink::probe();
        validate(not, data, path, &mut probe);
        if !probe.failed {
            sink.report(|| composite(path, "not validate the schema (not)"));
        }
    }
    count + 1
}

/// Adds the failures of a branch that was tried (again: a try only notes that it failed).
fn merge_failures(branch: &Value, data: &Value, path: &Path, sink: &mut Sink) {
    if sink.causes.is_some() {
        validate(branch, data, path, &mut sink.branch());
    }
}

/// `maxLength`, `minLength` and `pattern`: the first that fails.
fn check_string(node: &Node, text: &str, path: &Path, sink: &mut Sink) {
    if node.max_length.is_some() || node.min_length.is_some() {
        let length = text.chars().count() as i64;
        if let Some(max) = node.max_length.filter(|max| length > *max) {
            sink.report(|| {
                let detail = if max >= 0 {
                    format!("may not be more than {max} bytes")
                } else {
                    "value is too long".to_string()
                };
                cause(
                    "FieldValueTooLong",
                    path.field(),
                    format!("Too long: {detail}"),
                )
            });
            return;
        }
        if let Some(min) = node.min_length.filter(|min| length < *min) {
            sink.report(|| {
                let name = path.name();
                invalid(
                    path,
                    go_text::quote(text),
                    format!("{name} in body should be at least {min} chars long"),
                )
            });
            return;
        }
    }
    if let Some(pattern) = node.pattern {
        match pattern_matches(pattern, text) {
            Ok(true) => {}
            Ok(false) => sink.report(|| {
                let name = path.name();
                invalid(
                    path,
                    go_text::quote(text),
                    format!("{name} in body should match '{pattern}'"),
                )
            }),
            Err(problem) => sink.report(|| {
                let name = path.name();
                invalid(
                    path,
                    go_text::quote(text),
                    format!("{name} in body should match '{pattern}, but pattern is invalid: {problem}'"),
                )
            }),
        }
    }
}

/// `multipleOf`, `minimum` and `maximum`: an integer against bounds truncated to integers, a
/// fraction against the bounds as written.
fn check_number(node: &Node, number: &Number, path: &Path, sink: &mut Sink) {
    let value = num(number);
    if let Some(factor) = node.multiple_of {
        let failure = match value {
            Num::Int(integer) => {
                let factor = go_i64(factor);
                if factor <= 0 {
                    Some((factor.to_string(), true))
                } else if integer % factor != 0 {
                    Some((factor.to_string(), false))
                } else {
                    None
                }
            }
            Num::Float(float) => {
                if factor <= 0.0 {
                    Some((go_text::float(factor), true))
                } else {
                    let multiple = if factor < 1.0 {
                        1.0 / factor * float
                    } else {
                        float / factor
                    };
                    (!json_integer(multiple)).then(|| (go_text::float(factor), false))
                }
            }
        };
        if let Some((factor, not_positive)) = failure {
            sink.report(|| {
                let name = path.name();
                if not_positive {
                    invalid(
                        path,
                        factor.clone(),
                        format!("factor MultipleOf declared for {name} must be positive: {factor}"),
                    )
                } else {
                    invalid(
                        path,
                        go_text::number(number),
                        format!("{name} in body should be a multiple of {factor}"),
                    )
                }
            });
        }
    }
    let bound = |limit: f64| match value {
        Num::Int(_) => go_i64(limit).to_string(),
        Num::Float(_) => go_text::float(limit),
    };
    if let Some(minimum) = node.minimum {
        let exclusive = node.exclusive_minimum;
        let below = match value {
            Num::Int(integer) => {
                let minimum = go_i64(minimum);
                integer < minimum || (exclusive && integer == minimum)
            }
            Num::Float(float) => float < minimum || (exclusive && float == minimum),
        };
        if below {
            sink.report(|| {
                let name = path.name();
                let relation = if exclusive {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                invalid(
                    path,
                    go_text::number(number),
                    format!("{name} in body should be {relation} {}", bound(minimum)),
                )
            });
        }
    }
    if let Some(maximum) = node.maximum {
        let exclusive = node.exclusive_maximum;
        let above = match value {
            Num::Int(integer) => {
                let maximum = go_i64(maximum);
                integer > maximum || (exclusive && integer == maximum)
            }
            Num::Float(float) => float > maximum || (exclusive && float == maximum),
        };
        if above {
            sink.report(|| {
                let name = path.name();
                let relation = if exclusive {
                    "less than"
                } else {
                    "less than or equal to"
                };
                invalid(
                    path,
                    go_text::number(number),
                    format!("{name} in body should be {relation} {}", bound(maximum)),
                )
            });
        }
    }
}

/// Items, `minItems`, `maxItems` and `uniqueItems`; the items' match count plus one.
fn check_items(node: &Node, items: &[Value], path: &Path, sink: &mut Sink) -> u32 {
    let mut count = 0;
    if let Some(item_schema) = node.items {
        for (index, item) in items.iter().enumerate() {
            count += validate(item_schema, item, &Path::Index(path, index), sink);
        }
    }
    let size = items.len();
    if let Some(min) = node.min_items.filter(|min| (size as i64) < *min) {
        sink.report(|| {
            let name = path.name();
            invalid(
                path,
                size.to_string(),
                format!("{name} in body should have at least {min} items"),
            )
        });
    }
    if let Some(max) = node.max_items.filter(|max| size as i64 > *max) {
        sink.report(|| too_many(path, size, max));
    }
    if node.unique_items
        && !duplicates(items.len(), |a, b| items[a] == items[b], |i| &items[i]).is_empty()
    {
        sink.report(|| {
            let name = path.name();
            invalid(
                path,
                "\"\"".to_string(),
                format!("{name} in body shouldn't contain duplicates"),
            )
        });
    }
    count + 1
}

/// `minProperties`, `maxProperties`, map values, properties and `required`; the match count of
/// the values checked.
fn check_object(node: &Node, map: &Map<String, Value>, path: &Path, sink: &mut Sink) -> u32 {
    let mut count = 0;
    let size = map.len();
    if let Some(min) = node.min_properties.filter(|min| (size as i64) < *min) {
        sink.report(|| {
            let name = path.name();
            invalid(
                path,
                size.to_string(),
                format!("{name} in body should have at least {min} properties"),
            )
        });
    }
    if let Some(max) = node.max_properties.filter(|max| size as i64 > *max) {
        sink.report(|| too_many(path, size, max));
    }
    if let Some(additional) = node.additional {
        for (key, value) in map {
            if node
                .properties
                .is_some_and(|properties| properties.contains_key(key))
            {
                continue;
            }
            count += validate(additional, value, &Path::Key(path, key), sink);
        }
    }
    if let Some(properties) = node.properties {
        for (key, value) in map {
            if let Some(property) = properties.get(key) {
                count += validate(property, value, &Path::Property(path, key), sink);
            }
        }
    }
    for required in node.required.iter().filter_map(Value::as_str) {
        if !map.contains_key(required) {
            sink.report(|| {
                let mut name = path.name();
                name.push('.');
                name.push_str(required);
                cause(
                    "FieldValueRequired",
                    field_of(name),
                    "Required value".to_string(),
                )
            });
        }
    }
    count
}

/// Whether kube-openapi takes `data` for the `enum` value `option`: equal, or equal once
/// converted to the option's Go type (`1.5` is `1` for an integer option; an integer is a rune
/// for a string option).
fn enum_matches(data: &Value, option: &Value) -> bool {
    if data == option {
        return true;
    }
    match (data, option) {
        (Value::Number(data), Value::Number(option)) => match (num(data), num(option)) {
            (Num::Int(a), Num::Int(b)) => a == b,
            (Num::Int(a), Num::Float(b)) => a as f64 == b,
            (Num::Float(a), Num::Int(b)) => go_i64(a) == b,
            (Num::Float(a), Num::Float(b)) => a == b,
        },
        (Value::Number(data), Value::String(option)) => match num(data) {
            Num::Int(code) => {
                let rune = u32::try_from(code)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{fffd}');
                let mut chars = option.chars();
                chars.next() == Some(rune) && chars.next().is_none()
            }
            Num::Float(_) => false,
        },
        _ => false,
    }
}

/// `field.NotSupported`: the value and every option quoted (options that are not strings as
/// JSON).
fn not_supported(path: &Path, data: &Value, options: &[Value]) -> StatusCause {
    let listed: Vec<String> = options
        .iter()
        .map(|option| match option {
            Value::String(text) => go_text::quote(text),
            other => go_text::quote(&other.to_string()),
        })
        .collect();
    cause(
        "FieldValueNotSupported",
        path.field(),
        format!(
            "Unsupported value: {}: supported values: {}",
            bad_value(data),
            listed.join(", ")
        ),
    )
}

/// The indices of the second appearance of each value that appears more than once, in order
/// (as apiextensions-apiserver's list-type check reports them).
fn duplicates<'v>(
    length: usize,
    equal: impl Fn(usize, usize) -> bool,
    value: impl Fn(usize) -> &'v Value,
) -> Vec<usize> {
    let mut found = Vec::new();
    if length <= 1 {
        return found;
    }
    if length <= 128 {
        for index in 1..length {
            let earlier = (0..index)
                .filter(|&other| equal(other, index))
                .take(2)
                .count();
            if earlier == 1 {
                found.push(index);
            }
        }
        return found;
    }
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(length);
    for index in 0..length {
        let times = seen.entry(value(index).to_string()).or_default();
        *times += 1;
        if *times == 2 {
            found.push(index);
        }
    }
    found
}

/// `x-kubernetes-list-type: set` (items unique) and `map` (items objects, keys unique), on the
/// main walk only.
fn check_list_type(node: &Node, items: &[Value], path: &Path, sink: &mut Sink) {
    let Some(lists) = sink.lists.as_deref_mut() else {
        return;
    };
    let at = |index: usize| {
        let mut field = String::new();
        path.field_path(&mut field);
        let _ = write!(field, "[{index}]");
        field
    };
    match node.list_type {
        Some("set") => {
            for index in duplicates(items.len(), |a, b| items[a] == items[b], |i| &items[i]) {
                lists.push(cause(
                    "FieldValueDuplicate",
                    at(index),
                    format!("Duplicate value: {}", bad_value(&items[index])),
                ));
            }
        }
        Some("map") => {
            if let Some((index, item)) = items
                .iter()
                .enumerate()
                .find(|(_, item)| !item.is_null() && !item.is_object())
            {
                lists.push(cause(
                    "FieldValueInvalid",
                    at(index),
                    format!(
                        "Invalid value: {}: must be an object for an array of list-type map",
                        bad_value(item)
                    ),
                ));
                return;
            }
            let key_fields: Vec<&str> = node
                .list_map_keys
                .iter()
                .filter_map(Value::as_str)
                .collect();
            // The keys an item has: an absent key differs from a null one.
            let keys = |index: usize| {
                key_fields
                    .iter()
                    .map(move |field| items[index].get(field).map(|value| (*field, value)))
            };
            let key_value = |index: usize| -> Value {
                Value::Object(
                    keys(index)
                        .flatten()
                        .map(|(field, value)| (field.to_string(), value.clone()))
                        .collect(),
                )
            };
            let owned: Vec<Value>;
            let repeated = if items.len() <= 128 {
                duplicates(items.len(), |a, b| keys(a).eq(keys(b)), |i| &items[i])
            } else {
                owned = (0..items.len()).map(key_value).collect();
                duplicates(owned.len(), |a, b| owned[a] == owned[b], |i| &owned[i])
            };
            for index in repeated {
                lists.push(cause(
                    "FieldValueDuplicate",
                    at(index),
                    format!("Duplicate value: {}", go_text::go_syntax(&key_value(index))),
                ));
            }
        }
        _ => {}
    }
}

/// Validates an object against its schema: the causes kube-apiserver reports, in its order
/// (schema errors, then list-type errors).
pub fn validate_object(schema: &Value, object: &Value) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let mut lists = Vec::new();
    let mut sink = Sink {
        causes: Some(&mut causes),
        lists: Some(&mut lists),
        failed: false,
    };
    validate(schema, object, &Path::Root, &mut sink);
    causes.append(&mut lists);
    causes
}

/// Whether `text` matches a schema's `pattern`, read as Go's RE2 syntax reads it; compiled once
/// per pattern. An invalid pattern is the compiler's message.
fn pattern_matches(pattern: &str, text: &str) -> Result<bool, String> {
    type Cache = RwLock<HashMap<Box<str>, Result<Regex, String>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    /// Patterns come from CRDs; past this many the rest are compiled on each use.
    const MAX_CACHED: usize = 4096;
    let cache = CACHE.get_or_init(Cache::default);
    {
        let known = cache.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(compiled) = known.get(pattern) {
            return match compiled {
                Ok(regex) => Ok(regex.is_match(text)),
                Err(problem) => Err(problem.clone()),
            };
        }
    }
    let compiled = Regex::new(&go_pattern(pattern)).map_err(|problem| {
        problem
            .to_string()
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string()
    });
    let answer = match &compiled {
        Ok(regex) => Ok(regex.is_match(text)),
        Err(problem) => Err(problem.clone()),
    };
    let mut known = cache.write().unwrap_or_else(PoisonError::into_inner);
    if known.len() < MAX_CACHED {
        known.insert(pattern.into(), compiled);
    }
    answer
}

/// A Go (RE2) pattern in the regex crate's syntax: Perl classes and word boundaries are ASCII in
/// Go, a `{` that starts no repetition is a literal, and `&`, `~` in a class are plain.
fn go_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.char_indices().peekable();
    let mut in_class = false;
    let mut class_start = false;
    while let Some((index, c)) = chars.next() {
        let at_class_start = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                let Some((_, escaped)) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let ascii = match (escaped, in_class) {
                    ('d', true) => "0-9",
                    ('d', false) => "[0-9]",
                    ('D', _) => "[^0-9]",
                    ('w', true) => "0-9A-Za-z_",
                    ('w', false) => "[0-9A-Za-z_]",
                    ('W', _) => "[^0-9A-Za-z_]",
                    ('s', true) => r"\t\n\f\r ",
                    ('s', false) => r"[\t\n\f\r ]",
                    ('S', _) => r"[^\t\n\f\r ]",
                    ('b', false) => r"(?-u:\b)",
                    ('B', false) => r"(?-u:\B)",
                    _ => "",
                };
                if ascii.is_empty() {
                    out.push('\\');
                    out.push(escaped);
                    // `\p{Greek}`, `\x{41}`: the braces belong to the escape.
                    if matches!(escaped, 'p' | 'P' | 'x') && matches!(chars.peek(), Some((_, '{')))
                    {
                        for (_, inner) in chars.by_ref() {
                            out.push(inner);
                            if inner == '}' {
                                break;
                            }
                        }
                    }
                } else {
                    out.push_str(ascii);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if let Some((_, '^')) = chars.peek() {
                    chars.next();
                    out.push('^');
                }
                class_start = true;
            }
            ']' if in_class && at_class_start => out.push_str(r"\]"),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '[' if in_class => {
                // A POSIX class (`[:alpha:]`) stays; any other `[` is a literal.
                let rest = &pattern[index..];
                match rest.strip_prefix("[:").and_then(|after| after.find(":]")) {
                    Some(end) => {
                        out.push_str(&rest[..end + 4]);
                        for _ in 0..rest[..end + 4].chars().count() - 1 {
                            chars.next();
                        }
                    }
                    None => out.push_str(r"\["),
                }
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '{' if !in_class => {
                let rest = &pattern[index + 1..];
                let repetition = rest.find('}').is_some_and(|end| {
                    let inside = &rest[..end];
                    let (low, high) = inside.split_once(',').unwrap_or((inside, "0"));
                    !low.is_empty()
                        && low.bytes().all(|b| b.is_ascii_digit())
                        && high.bytes().all(|b| b.is_ascii_digit())
                });
                if repetition {
                    let end = rest.find('}').unwrap_or_default();
                    out.push_str(&pattern[index..index + end + 2]);
                    for _ in 0..pattern[index..index + end + 2].chars().count() - 1 {
                        chars.next();
                    }
                } else {
                    out.push_str(r"\{");
                }
            }
            '}' if !in_class => out.push_str(r"\}"),
            other => out.push(other),
        }
    }
    out
}

/// What pruning removes or reports.
pub struct Pruned {
    /// Unknown fields, as strict field validation names them (`spec.replicsa`).
    pub unknown: Vec<String>,
}

/// Prunes an object as kube-apiserver does before validating it: fields the schema does not know
/// are dropped (and listed, sorted, as kube lists them), except under
/// `x-kubernetes-preserve-unknown-fields` or in a map (`additionalProperties`); `apiVersion`,
/// `kind` and `metadata` are left alone at the root and in embedded resources. A map entry set
/// to `null` whose schema does not say `nullable` is dropped, or set to the schema's `default`.
pub fn prune(schema: &Value, object: &mut Value) -> Pruned {
    let mut pruned = Pruned {
        unknown: Vec::new(),
    };
    prune_value(schema, object, &Path::Root, &mut pruned, true);
    pruned.unknown.sort_unstable();
    pruned
}

fn is_type_meta(key: &str) -> bool {
    matches!(key, "apiVersion" | "kind" | "metadata")
}

fn non_nullable_null(schema: &Value, value: &Value) -> bool {
    value.is_null() && schema.get("nullable") != Some(&Value::Bool(true))
}

fn prune_value(schema: &Value, value: &mut Value, path: &Path, pruned: &mut Pruned, root: bool) {
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let additional_schema = additional.filter(|additional| additional.is_object());
            let keep_meta =
                root || schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
            let keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields")
                == Some(&Value::Bool(true))
                || additional == Some(&Value::Bool(true));
            let child_schema = |key: &str| {
                properties
                    .and_then(|properties| properties.get(key))
                    .map(|schema| (schema, false))
                    .or(additional_schema.map(|schema| (schema, true)))
            };
            let mut remove = false;
            for (key, child) in map.iter_mut() {
                if keep_meta && is_type_meta(key) {
                    continue;
                }
                match child_schema(key) {
                    Some((child_schema, is_key)) => {
                        if non_nullable_null(child_schema, child) {
                            match child_schema.get("default") {
                                Some(default) => *child = default.clone(),
                                None => {
                                    remove = true;
                                    continue;
                                }
                            }
                        }
                        let child_path = if is_key {
                            Path::Key(path, key)
                        } else {
                            Path::Property(path, key)
                        };
                        prune_value(child_schema, child, &child_path, pruned, false);
                    }
                    None if keep_unknown => {}
                    None => {
                        let mut name = path.name();
                        if !name.is_empty() {
                            name.push('.');
                        }
                        name.push_str(key);
                        pruned.unknown.push(name);
                        remove = true;
                    }
                }
            }
            if remove {
                map.retain(|key, child| {
                    if keep_meta && is_type_meta(key) {
                        return true;
                    }
                    match child_schema(key) {
                        Some((child_schema, _)) => !non_nullable_null(child_schema, child),
                        None => keep_unknown,
                    }
                });
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|items| items.is_object()) {
                for (index, item) in items.iter_mut().enumerate() {
                    prune_value(item_schema, item, &Path::Index(path, index), pruned, false);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use serde_json::json;

    /// Prunes and validates `object`, and returns kube-apiserver's message, or `None` when the
    /// object is accepted.
    fn check(schema: &Value, object: Value) -> Option<String> {
        let mut object = object;
        prune(schema, &mut object);
        let causes = validate_object(schema, &object);
        (!causes.is_empty()).then(|| {
            ApiError::Invalid {
                group: "example.com".to_string(),
                kind: "Widget".to_string(),
                name: "w".to_string(),
                causes,
            }
            .to_string()
        })
    }

    fn spec_schema(field: Value) -> Value {
        json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {"x": field}}}
        })
    }

    #[test]
    fn value_checks_report_kube_apiservers_messages() {
        // (what, schema of spec.x, value of spec.x, the message's tail or None when accepted)
        let cases: Vec<(&str, Value, Value, Option<&str>)> = vec![
            ("minimum", json!({"type": "integer", "minimum": 1}), json!(0),
             Some("spec.x: Invalid value: 0: spec.x in body should be greater than or equal to 1")),
            ("minimum met", json!({"type": "integer", "minimum": 1}), json!(1), None),
            ("exclusive minimum", json!({"type": "integer", "minimum": 1, "exclusiveMinimum": true}), json!(1),
             Some("spec.x: Invalid value: 1: spec.x in body should be greater than 1")),
            ("maximum", json!({"type": "integer", "maximum": 32767}), json!(40000),
             Some("spec.x: Invalid value: 40000: spec.x in body should be less than or equal to 32767")),
            ("exclusive maximum", json!({"type": "number", "maximum": 1.5, "exclusiveMaximum": true}), json!(1.5),
             Some("spec.x: Invalid value: 1.5: spec.x in body should be less than 1.5")),
            ("integer against a fractional bound", json!({"type": "integer", "minimum": 0.5}), json!(0), None),
            ("float bound printed as %v", json!({"type": "number", "maximum": 1000000}), json!(2000000.5),
             Some("spec.x: Invalid value: 2.0000005e+06: spec.x in body should be less than or equal to 1e+06")),
            ("multipleOf", json!({"type": "integer", "multipleOf": 5}), json!(12),
             Some("spec.x: Invalid value: 12: spec.x in body should be a multiple of 5")),
            ("whole number as integer", json!({"type": "integer"}), json!(3.0), None),
            ("fraction as integer", json!({"type": "integer"}), json!(3.5),
             Some(r#"spec.x: Invalid value: "number": spec.x in body must be of type integer: "number""#)),
            ("maxLength", json!({"type": "string", "maxLength": 3}), json!("abcd"),
             Some("spec.x: Too long: may not be more than 3 bytes")),
            ("maxLength counts characters", json!({"type": "string", "maxLength": 3}), json!("äöü"), None),
            ("minLength", json!({"type": "string", "minLength": 1}), json!(""),
             Some(r#"spec.x: Invalid value: "": spec.x in body should be at least 1 chars long"#)),
            ("pattern", json!({"type": "string", "pattern": "^[a-z]+$"}), json!("ABC"),
             Some(r#"spec.x: Invalid value: "ABC": spec.x in body should match '^[a-z]+$'"#)),
            ("pattern met", json!({"type": "string", "pattern": "^[a-z]+$"}), json!("abc"), None),
            ("pattern digits are ASCII", json!({"type": "string", "pattern": r"^\d+$"}), json!("١٢"),
             Some(r#"spec.x in body should match '^\d+$'"#)),
            ("pattern literal brace", json!({"type": "string", "pattern": r"^{[a-z]+}$"}), json!("{ab}"), None),
            ("minItems", json!({"type": "array", "items": {"type": "string"}, "minItems": 1}), json!([]),
             Some("spec.x: Invalid value: 0: spec.x in body should have at least 1 items")),
            ("maxItems", json!({"type": "array", "items": {"type": "string"}, "maxItems": 2}), json!(["a", "b", "c"]),
             Some("spec.x: Too many: 3: must have at most 2 items")),
            ("uniqueItems", json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true}), json!(["a", "a"]),
             Some(r#"spec.x: Invalid value: "": spec.x in body shouldn't contain duplicates"#)),
            ("minProperties", json!({"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1}), json!({}),
             Some("spec.x: Invalid value: 0: spec.x in body should have at least 1 properties")),
            ("maxProperties", json!({"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 1}), json!({"a": "1", "b": "2"}),
             Some("spec.x: Too many: 2: must have at most 1 items")),
            ("map values", json!({"type": "object", "additionalProperties": {"type": "string"}}), json!({"a": 1}),
             Some(r#"spec.x.a: Invalid value: "integer": spec.x.a in body must be of type string: "integer""#)),
            ("date-time", json!({"type": "string", "format": "date-time"}), json!("yesterday"),
             Some(r#"spec.x: Invalid value: "yesterday": spec.x in body must be of type date-time: "yesterday""#)),
            ("date-time met", json!({"type": "string", "format": "date-time"}), json!("2024-01-02T03:04:05Z"), None),
            ("byte", json!({"type": "string", "format": "byte"}), json!("not base64!"),
             Some(r#"spec.x: Invalid value: "not base64!": spec.x in body must be of type byte: "not base64!""#)),
            ("int32 is not checked", json!({"type": "integer", "format": "int32"}), json!(9_000_000_000i64), None),
            ("unknown format is not checked", json!({"type": "string", "format": "k8s-name"}), json!("ANY thing"), None),
            ("format on a number", json!({"type": "string", "format": "date-time"}), json!(5),
             Some(r#"spec.x: Invalid value: "int64": spec.x in body must be of type date-time: "int64""#)),
            ("int-or-string integer", json!({"x-kubernetes-int-or-string": true}), json!(8080), None),
            ("int-or-string string", json!({"x-kubernetes-int-or-string": true}), json!("http"), None),
            ("int-or-string boolean", json!({"x-kubernetes-int-or-string": true}), json!(true),
             Some(r#"spec.x: Invalid value: "boolean": spec.x in body must be of type integer,string: "boolean""#)),
            ("int-or-string anyOf", json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}), json!(true),
             Some(r#"[spec.x: Invalid value: "boolean": spec.x in body must be of type integer,string: "boolean", <nil>: Invalid value: "": "spec.x" must validate at least one schema (anyOf), spec.x: Invalid value: "boolean": spec.x in body must be of type integer: "boolean"]"#)),
            ("int-or-string pattern", json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}], "pattern": "^[0-9]+%$"}), json!("10"),
             Some(r#"spec.x: Invalid value: "10": spec.x in body should match '^[0-9]+%$'"#)),
            ("oneOf none", json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}), json!({}),
             Some(r#"<nil>: Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found none valid, spec.x.a: Required value]"#)),
            ("oneOf two", json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}), json!({"a": 1, "b": 2}),
             Some(r#"<nil>: Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found 2 valid alternatives"#)),
            ("oneOf one", json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}), json!({"a": 1}), None),
            ("allOf", json!({"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 3}]}), json!(5),
             Some(r#"[spec.x: Invalid value: 5: spec.x in body should be less than or equal to 3, <nil>: Invalid value: "": "spec.x" must validate all the schemas (allOf)]"#)),
            ("not", json!({"type": "string", "not": {"enum": ["forbidden"]}}), json!("forbidden"),
             Some(r#"<nil>: Invalid value: "": "spec.x" must not validate the schema (not)"#)),
            ("integer enum", json!({"type": "integer", "enum": [1, 2]}), json!(3),
             Some(r#"spec.x: Unsupported value: 3: supported values: "1", "2""#)),
            ("integer enum met by a whole float", json!({"type": "integer", "enum": [1, 2]}), json!(2.0), None),
            ("boolean enum", json!({"type": "boolean", "enum": [true]}), json!(false),
             Some(r#"spec.x: Unsupported value: false: supported values: "true""#)),
            ("string enum", json!({"type": "string", "enum": ["a", "b"]}), json!("c"),
             Some(r#"spec.x: Unsupported value: "c": supported values: "a", "b""#)),
            ("nullable null", json!({"type": "string", "nullable": true}), json!(null), None),
            ("null of a non-nullable field is pruned", json!({"type": "string"}), json!(null), None),
            ("nullable null against an enum", json!({"type": "string", "nullable": true, "enum": ["a"]}), json!(null),
             Some(r#"spec.x: Unsupported value: "null": supported values: "a""#)),
            ("null item", json!({"type": "array", "items": {"type": "string"}}), json!([null]),
             Some(r#"spec.x[0]: Invalid value: "null": spec.x[0] in body must be of type string: "null""#)),
            ("set", json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}), json!(["a", "b", "a", "a"]),
             Some(r#"spec.x[2]: Duplicate value: "a""#)),
            ("set of integers", json!({"type": "array", "items": {"type": "integer"}, "x-kubernetes-list-type": "set"}), json!([1, 2, 2]),
             Some("spec.x[2]: Duplicate value: 2")),
            ("map list", json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}}),
             json!([{"name": "a", "port": 1}, {"name": "a", "port": 2}]),
             Some(r#"spec.x[1]: Duplicate value: map[string]interface {}{"name":"a"}"#)),
            ("map list with two keys", json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "protocol"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "protocol": {"type": "string"}}}}),
             json!([{"name": "a", "protocol": "TCP"}, {"name": "a", "protocol": "UDP"}]), None),
            ("map list of strings", json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}}}),
             json!(["a"]),
             Some(r#"spec.x[0]: Invalid value: "a": must be an object for an array of list-type map]"#)),
        ];
        let mut failures = Vec::new();
        for (what, field, value, expected) in cases {
            let schema = spec_schema(field);
            let answer = check(
                &schema,
                json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"x": value}}),
            );
            let right = match (&answer, expected) {
                (None, None) => true,
                (Some(message), Some(expected)) => message.ends_with(expected),
                _ => false,
            };
            if !right {
                failures.push(format!("{what}: expected {expected:?}, got {answer:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn errors_are_reported_together() {
        let schema = json!({
            "type": "object",
            "required": ["spec"],
            "properties": {"spec": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"},
                "replicas": {"type": "integer", "minimum": 0},
                "mode": {"type": "string", "enum": ["a", "b"]}
            }}}
        });
        let message = check(&schema, json!({"spec": {"replicas": -1, "mode": 5}}));
        assert_eq!(
            message.as_deref(),
            Some(
                r#"Widget.example.com "w" is invalid: [spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0, spec.mode: Invalid value: "integer": spec.mode in body must be of type string: "integer", spec.mode: Unsupported value: 5: supported values: "a", "b", spec.name: Required value]"#
            )
        );
        assert_eq!(
            check(&schema, json!({"apiVersion": "v1"})).as_deref(),
            Some(r#"Widget.example.com "w" is invalid: spec: Required value"#)
        );
    }

    #[test]
    fn pruning_drops_unknown_fields_and_non_nullable_nulls() {
        let schema = json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
                "size": {"type": "string"},
                "level": {"type": "string", "default": "info"},
                "note": {"type": "string", "nullable": true},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "items": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
                "embedded": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}}
            }}}
        });
        let mut object = json!({
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": null, "level": null, "note": null, "extra": 1,
                     "free": {"anything": [1]}, "items": [{"a": "x", "b": "y"}],
                     "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}, "junk": 1}},
            "stray": true
        });
        let pruned = prune(&schema, &mut object);
        assert_eq!(
            pruned.unknown,
            [
                "spec.embedded.junk",
                "spec.extra",
                "spec.items[0].b",
                "stray"
            ]
        );
        assert_eq!(
            object,
            json!({
                "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"level": "info", "note": null, "free": {"anything": [1]}, "items": [{"a": "x"}],
                         "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}}}
            })
        );
        let causes = validate_object(&schema, &object);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "spec.size");
        assert_eq!(causes[0].message, "Required value");
    }

    #[test]
    fn go_patterns_read_as_go_reads_them() {
        let cases: &[(&str, &str, bool)] = &[
            (r"^\w+$", "abc_1", true),
            (r"^\w+$", "é", false),
            (r"^[\w-]+$", "a-b", true),
            (r"^\s$", "\u{a0}", false),
            (r"^[[:alpha:]]+$", "abc", true),
            (r"^[]a]+$", "]a", true),
            (r"^a{2}$", "aa", true),
            (r"^a{,2}$", "a{,2}", true),
            (r"^[a&&b]$", "&", true),
            (r"\bword\b", "a word here", true),
            (
                r"^(https?|ftp)://[-a-zA-Z0-9+&@#/%?=~_|!:,.;]*[-a-zA-Z0-9+&@#/%=~_|]$",
                "https://example.com/a?b=c&d=~e",
                true,
            ),
            (r"^([0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$", "1.5Gx", false),
            (r"^[a-zA-Z0-9\._\-]{1,100}$", "a.b_c-d", true),
            (r"^\p{L}+$", "été", true),
            (r"^[\p{Lu}]\x{61}$", "Éa", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                pattern_matches(pattern, text),
                Ok(*expected),
                "{pattern} against {text:?} (as {})",
                go_pattern(pattern)
            );
        }
        assert!(pattern_matches("(unclosed", "x").is_err());
    }

    #[test]
    fn json_integers_follow_swag() {
        for (value, expected) in [
            (3.0, true),
            (-3.0, true),
            (3.5, false),
            (-2.5, false),
            (0.5, false),
            (2.000_000_000_1, true),
            (1e300, false),
            (f64::NAN, false),
        ] {
            assert_eq!(json_integer(value), expected, "{value}");
        }
    }
}
