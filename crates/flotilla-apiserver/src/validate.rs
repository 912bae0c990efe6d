//! What a client sends for a built-in kind, checked against the kind's OpenAPI definition in one
//! walk: unknown fields (`fieldValidation=Warn|Strict`) and the types of values.
//!
//! Definitions come from the embedded Kubernetes v1.21.2 document
//! (`flotilla_patch::Schema::builtin()`), widened by `LATER_FIELDS`: fields Kubernetes added to
//! common kinds after v1.21 (this server reports v1.33), so that valid newer manifests are not
//! refused. A kind the document does not define, a level below a field it does not describe, and
//! everything below a later field are not checked.
//!
//! Unknown fields: a field is unknown when its definition has `properties`, does not list it, and
//! has no `additionalProperties` (a map). kube-apiserver drops unknown fields of built-in kinds;
//! this server keeps them (its definitions are older than the version it reports, so a field it
//! does not know may be real) and only warns (`Warn`, kubectl's warning header) or refuses the
//! write (`Strict`, 400 `strict decoding error`).
//!
//! Types, as kube decodes them into Go: `integer` (`int32` bounded; `3.0` is an integer only
//! where kube converts from a decoded map: strategic merge patches and apply), `number`,
//! `boolean`, `string`, `object`, `array`; `int-or-string` takes a string or an int32;
//! `date-time` strings (`metav1.Time`, `MicroTime`) must parse as Go's `time.Parse` parses RFC
//! 3339; `byte` strings (Secret `data`) must be base64 as Go decodes it; `FieldsV1` and
//! `RawExtension` take any JSON; `null` is always accepted. Quantities are quantity.rs's, except
//! a boolean, list or map where one belongs. A value of the wrong type is refused in the words of
//! the route that read it ([`Decoder`]): a create or update body with kube's JSON decoder's
//! error (400 `Deployment in version "v1" cannot be handled as a Deployment: json: cannot
//! unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`), the
//! object a patch made with 422 `patch: Invalid value: …`, an apply configuration with
//! structured-merge-diff's (500 `failed to create typed patch object (…): .spec.replicas:
//! expected numeric (int or float), got string`). Type errors come before unknown fields, as in
//! kube.
//!
//! Known differences from kube-apiserver: where kube's words name no field (a time that does not
//! parse, bad base64, a quantity, an apply value that fails the conversion after the merge) the
//! field's path is put before them; a strategic merge patch reports the JSON decoder's words
//! after the patch map (kube's converter says `unrecognized type: int32`, no field); an integer
//! beyond its range is refused on every route (kube's map conversion wraps it silently); Go type
//! names come from the definitions, so a named string or map type (`v1.Protocol`,
//! `v1.ResourceList`) is printed as `string` or `map[string]…`; the decoder's number text is
//! serde_json's (`1e3` reads back as `1000.0`); structured-merge-diff's errors are listed in the
//! body's order (kube's follows Go map order), and an apply refuses no unknown field (kube's
//! refuses one as `field not declared in schema`).
//!
//! Invariant: checking never changes the object.

use flotilla_patch::SchemaNode;
use serde_json::Value;

use crate::error::ApiError;
use crate::go_text;
use crate::registry::ResourceType;

/// `fieldValidation` as a client asked for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    /// kube-apiserver's default.
    #[default]
    Warn,
    Strict,
}

/// Fields added after Kubernetes v1.21 to definitions of the embedded document, by definition
/// name. Only their names are known here; what is below them is not checked.
const LATER_FIELDS: &[(&str, &[&str])] = &[
    (
        "io.k8s.api.core.v1.PodSpec",
        &[
            "os",
            "hostUsers",
            "schedulingGates",
            "resourceClaims",
            "resources",
        ],
    ),
    (
        "io.k8s.api.core.v1.Container",
        &["resizePolicy", "restartPolicy"],
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        &["resizePolicy", "restartPolicy"],
    ),
    ("io.k8s.api.core.v1.Probe", &["grpc"]),
    ("io.k8s.api.core.v1.LifecycleHandler", &["sleep"]),
    ("io.k8s.api.core.v1.Handler", &["sleep"]),
    ("io.k8s.api.core.v1.SecurityContext", &["appArmorProfile"]),
    (
        "io.k8s.api.core.v1.PodSecurityContext",
        &[
            "appArmorProfile",
            "seLinuxChangePolicy",
            "supplementalGroupsPolicy",
        ],
    ),
    (
        "io.k8s.api.core.v1.TopologySpreadConstraint",
        &[
            "minDomains",
            "nodeAffinityPolicy",
            "nodeTaintsPolicy",
            "matchLabelKeys",
        ],
    ),
    ("io.k8s.api.core.v1.ServiceSpec", &["trafficDistribution"]),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimSpec",
        &["dataSourceRef", "volumeAttributesClassName"],
    ),
    ("io.k8s.api.core.v1.VolumeMount", &["recursiveReadOnly"]),
    ("io.k8s.api.core.v1.Volume", &["image"]),
    (
        "io.k8s.api.apps.v1.StatefulSetSpec",
        &[
            "persistentVolumeClaimRetentionPolicy",
            "ordinals",
            "minReadySeconds",
        ],
    ),
    (
        "io.k8s.api.batch.v1.JobSpec",
        &[
            "podFailurePolicy",
            "backoffLimitPerIndex",
            "maxFailedIndexes",
            "podReplacementPolicy",
            "successPolicy",
            "managedBy",
        ],
    ),
    ("io.k8s.api.batch.v1.CronJobSpec", &["timeZone"]),
    (
        "io.k8s.api.policy.v1.PodDisruptionBudgetSpec",
        &["unhealthyPodEvictionPolicy"],
    ),
    ("io.k8s.api.apps.v1.RollingUpdateDaemonSet", &["maxSurge"]),
];

/// The `fieldValidation` query parameter.
pub fn parse_field_validation(value: Option<&str>) -> Result<FieldValidation, ApiError> {
    match value {
        None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
        Some("Ignore") => Ok(FieldValidation::Ignore),
        Some("Strict") => Ok(FieldValidation::Strict),
        Some(other) => Err(ApiError::bad_request(format!(
            "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other}"
        ))),
    }
}

/// How kube-apiserver would have decoded the object being checked, which decides the words and
/// the status of a type error.
#[derive(Clone, Copy, Debug)]
pub enum Decoder<'a> {
    /// A create or update body, decoded by kube's JSON decoder: 400 BadRequest
    /// `Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal …`.
    Body,
    /// The object a JSON patch or a JSON merge patch made, decoded by the JSON decoder: 422
    /// `patch: Invalid value: "<the patched object>": json: cannot unmarshal …`.
    PatchedJson,
    /// The object a strategic merge patch made, converted from its map: 422
    /// `patch: Invalid value: "map[…]": …` naming the patch as Go prints it.
    StrategicPatch { patch: &'a Value },
    /// A server-side apply configuration, typed by structured-merge-diff: 500
    /// `failed to create typed patch object (ns/name; apps/v1, Kind=Deployment): .spec.replicas:
    /// expected numeric (int or float), got string`.
    Apply { namespace: &'a str, name: &'a str },
}

impl Decoder<'_> {
    /// Whether a number with nothing after the point (`3.0`) counts as an integer: it does where
    /// kube converts from a decoded map (strategic merge patches, apply), not where its JSON
    /// decoder reads the text.
    fn whole_floats_are_integers(&self) -> bool {
        matches!(self, Decoder::StrategicPatch { .. } | Decoder::Apply { .. })
    }
}

/// Checks what a client sent for a built-in kind: an error when a value has the wrong type
/// (worded by `decoder`), else `Ok` with the unknown-field warnings to send (`Warn`), a 400
/// under `Strict` when a field is unknown, nothing for `Ignore`. CRDs and kinds the schema does
/// not define are not checked. Keys beginning with `$` (strategic merge directives) are not
/// fields.
pub fn check_builtin_object(
    resource: &ResourceType,
    object: &Value,
    validation: FieldValidation,
    decoder: Decoder<'_>,
) -> Result<Vec<String>, ApiError> {
    let Some(node) = resource.builtin_definition() else {
        return Ok(Vec::new());
    };
    let findings = inspect(node, object, decoder.whole_floats_are_integers());
    if !findings.problems.is_empty() {
        return Err(type_error(resource, object, &findings.problems, decoder));
    }
    unknown_field_outcome(resource, &findings.unknown, validation)
}

/// The unknown-field half of [`check_builtin_object`], for a patch body (whose values are
/// checked on the object it makes instead).
pub fn check_builtin_fields(
    resource: &ResourceType,
    object: &Value,
    validation: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    if validation == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let Some(node) = resource.builtin_definition() else {
        return Ok(Vec::new());
    };
    let findings = inspect(node, object, true);
    unknown_field_outcome(resource, &findings.unknown, validation)
}

/// The type half of [`check_builtin_object`], for the object a patch made.
pub fn check_builtin_types(
    resource: &ResourceType,
    object: &Value,
    decoder: Decoder<'_>,
) -> Result<(), ApiError> {
    let Some(node) = resource.builtin_definition() else {
        return Ok(());
    };
    let findings = inspect(node, object, decoder.whole_floats_are_integers());
    if findings.problems.is_empty() {
        return Ok(());
    }
    Err(type_error(resource, object, &findings.problems, decoder))
}

fn unknown_field_outcome(
    resource: &ResourceType,
    unknown: &[String],
    validation: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    if validation == FieldValidation::Ignore || unknown.is_empty() {
        return Ok(Vec::new());
    }
    let messages: Vec<String> = unknown
        .iter()
        .map(|path| format!("unknown field \"{path}\""))
        .collect();
    match validation {
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            resource.kind,
            resource.version,
            resource.kind,
            messages.join(", ")
        ))),
        _ => Ok(messages),
    }
}

/// Deeper than any Kubernetes object; keeps a hostile body from exhausting the stack.
const MAX_DEPTH: usize = 64;

/// Definitions whose values are decoded by their own code rather than by their schema type.
const TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
/// `type: object` definitions that take any JSON (`FieldsV1`, `RawExtension`).
const ANY_JSON: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
];

/// A step of the path to a value.
enum Step<'v> {
    /// A field of a struct (a definition with `properties`).
    Field(&'v str),
    /// A key of a map (`additionalProperties`): in kube's paths, but not in Go's decoder's.
    Key(&'v str),
    /// An item of a list, with the list's schema and the item (for structured-merge-diff's path,
    /// which names keyed items by their keys).
    Item {
        index: usize,
        list: SchemaNode<'static>,
        item: &'v Value,
    },
}

/// What one walk found.
struct Findings {
    unknown: Vec<String>,
    problems: Vec<Problem>,
}

/// A value of the wrong type, with the paths every decoder names it by.
#[derive(Debug)]
struct Problem {
    /// kube-apiserver's path: `spec.template.spec.containers[0].image`.
    path: String,
    /// encoding/json's context: the innermost struct's Go name and the dotted field names from
    /// the top (`Container`, `spec.template.spec.containers.image`).
    go_struct: Option<String>,
    go_field: String,
    /// structured-merge-diff's path: `.spec.template.spec.containers[name="main"].image`.
    typed_path: String,
    kind: ProblemKind,
}

#[derive(Debug)]
enum ProblemKind {
    /// A JSON value of another type than the schema's. `hard` when kube decodes the field with
    /// its own code (times), whose error stops decoding at once.
    Mismatch {
        found: &'static str,
        go_type: String,
        expected: Expected,
        value: Value,
        hard: bool,
    },
    /// A number that is not a whole number, or out of the integer's range.
    Number {
        text: String,
        go_type: &'static str,
        fraction: bool,
    },
    /// A `metav1.Time` or `MicroTime` string that does not parse.
    Time { message: String },
    /// `format: byte` text that is not base64.
    Base64 { offset: usize },
    /// An int-or-string that is neither (`found` as Go's decoder words it).
    IntOrString { found: String },
    /// A quantity that is not a string or a number.
    Quantity,
}

/// structured-merge-diff's kinds of value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    Numeric,
    String,
    Boolean,
    List,
    Map,
}

fn inspect(node: SchemaNode<'static>, object: &Value, whole_floats_are_integers: bool) -> Findings {
    let mut walk = Walk {
        steps: Vec::new(),
        structs: Vec::new(),
        findings: Findings {
            unknown: Vec::new(),
            problems: Vec::new(),
        },
        whole_floats_are_integers,
    };
    walk.value(node, object);
    walk.findings
}

struct Walk<'v> {
    steps: Vec<Step<'v>>,
    /// For each `Step::Field`, the struct it is a field of.
    structs: Vec<SchemaNode<'static>>,
    findings: Findings,
    whole_floats_are_integers: bool,
}

impl<'v> Walk<'v> {
    fn value(&mut self, node: SchemaNode<'static>, value: &'v Value) {
        if self.steps.len() > MAX_DEPTH || value.is_null() {
            return;
        }
        if is_quantity(node) {
            // Strings and numbers are quantity.rs's to read.
            if value.is_boolean() || value.is_array() || value.is_object() {
                self.problem(ProblemKind::Quantity);
            }
            return;
        }
        let format = node.format();
        match format {
            Some("int-or-string") => {
                self.int_or_string(value);
                return;
            }
            // `metav1.Time` and `metav1.MicroTime`, the only definitions with this format.
            Some("date-time") => {
                match value {
                    Value::String(text) => {
                        let micro = node.is_definition(MICRO_TIME);
                        if let Some(message) = go_text::time_parse_error(text, micro) {
                            self.problem(ProblemKind::Time { message });
                        }
                    }
                    other => self.mismatch(other, "string".to_string(), Expected::String, true),
                }
                return;
            }
            _ => {}
        }
        match node.schema_type() {
            Some("object") => self.object(node, value),
            Some("array") => match value {
                Value::Array(items) => {
                    if let Some(elements) = node.elements() {
                        for (index, item) in items.iter().enumerate() {
                            self.steps.push(Step::Item {
                                index,
                                list: node,
                                item,
                            });
                            self.value(elements, item);
                            self.steps.pop();
                        }
                    }
                }
                other => self.mismatch(other, go_type(node), Expected::List, false),
            },
            Some("string") => match value {
                Value::String(text) => {
                    if format == Some("byte") {
                        if let Some(offset) = go_text::base64_error_offset(text) {
                            self.problem(ProblemKind::Base64 { offset });
                        }
                    }
                }
                other => self.mismatch(other, go_type(node), Expected::String, false),
            },
            Some("boolean") if !value.is_boolean() => {
                self.mismatch(value, "bool".to_string(), Expected::Boolean, false);
            }
            Some("integer") => {
                let go_type = if format == Some("int64") {
                    "int64"
                } else {
                    "int32"
                };
                match value {
                    Value::Number(number) => self.integer(number, go_type),
                    other => self.mismatch(other, go_type.to_string(), Expected::Numeric, false),
                }
            }
            Some("number") if !value.is_number() => {
                self.mismatch(value, "float64".to_string(), Expected::Numeric, false);
            }
            // No type: any JSON (`JSON`, `JSONSchemaPropsOrBool`, …).
            _ => {}
        }
    }

    fn object(&mut self, node: SchemaNode<'static>, value: &'v Value) {
        let Value::Object(map) = value else {
            if !is_any_json(node) {
                self.mismatch(value, go_type(node), Expected::Map, false);
            }
            return;
        };
        let (has_properties, has_additional) =
            (node.has_properties(), node.has_additional_properties());
        let is_map = !has_properties && has_additional;
        let described = has_properties && !has_additional;
        for (key, child) in map {
            if key.starts_with('$') {
                continue;
            }
            if is_map {
                self.steps.push(Step::Key(key));
                if let Some(child_node) = node.field(key) {
                    self.value(child_node, child);
                }
                self.steps.pop();
                continue;
            }
            self.steps.push(Step::Field(key));
            self.structs.push(node);
            match node.field(key) {
                Some(child_node) => self.value(child_node, child),
                None if described && !is_later_field(node, key) => {
                    self.findings.unknown.push(field_path(&self.steps))
                }
                None => {}
            }
            self.structs.pop();
            self.steps.pop();
        }
    }

    fn integer(&mut self, number: &serde_json::Number, go_type: &'static str) {
        let (minimum, maximum) = if go_type == "int32" {
            (i64::from(i32::MIN), i64::from(i32::MAX))
        } else {
            (i64::MIN, i64::MAX)
        };
        let fits = |whole: f64| whole >= minimum as f64 && whole <= maximum as f64;
        // `Some(fraction)` when the number is refused.
        let problem = if let Some(integer) = number.as_i64() {
            (integer < minimum || integer > maximum).then_some(false)
        } else if number.is_u64() {
            Some(false)
        } else {
            let float = number.as_f64().unwrap_or(f64::NAN);
            if !float.is_finite() || float.fract() != 0.0 {
                Some(true)
            } else if !self.whole_floats_are_integers {
                // The JSON decoder parses `3.0` as an integer and fails.
                Some(true)
            } else if !fits(float) {
                Some(false)
            } else {
                None
            }
        };
        if let Some(fraction) = problem {
            self.problem(ProblemKind::Number {
                text: number.to_string(),
                go_type,
                fraction,
            });
        }
    }

    fn int_or_string(&mut self, value: &'v Value) {
        let found = match value {
            Value::String(_) => return,
            Value::Number(number) => {
                let whole = number.as_i64().or_else(|| {
                    number
                        .as_f64()
                        .filter(|float| self.whole_floats_are_integers && float.fract() == 0.0)
                        .filter(|float| float.abs() < 1e18)
                        .map(|float| float as i64)
                });
                match whole {
                    Some(integer) if i32::try_from(integer).is_ok() => return,
                    _ => format!("number {number}"),
                }
            }
            Value::Bool(_) => "bool".to_string(),
            Value::Array(_) => "array".to_string(),
            Value::Object(_) => "object".to_string(),
            Value::Null => return,
        };
        self.problem(ProblemKind::IntOrString { found });
    }

    fn mismatch(&mut self, value: &Value, go_type: String, expected: Expected, hard: bool) {
        let found = match value {
            Value::Null => return,
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        self.problem(ProblemKind::Mismatch {
            found,
            go_type,
            expected,
            value: value.clone(),
            hard,
        });
    }

    fn problem(&mut self, kind: ProblemKind) {
        let go_field: Vec<&str> = self
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::Field(name) => Some(*name),
                _ => None,
            })
            .collect();
        self.findings.problems.push(Problem {
            path: field_path(&self.steps),
            go_struct: self
                .structs
                .last()
                .map(|node| go_struct_name(*node).to_string()),
            go_field: go_field.join("."),
            typed_path: typed_path(&self.steps),
            kind,
        });
    }
}

/// Whether `node` is the `Quantity` definition: one comparison, its identity worked out once.
fn is_quantity(node: SchemaNode<'_>) -> bool {
    static IDENTITY: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    let identity = IDENTITY.get_or_init(|| {
        flotilla_patch::Schema::builtin()
            .resource("v1", "ResourceQuota")
            .and_then(|quota| quota.field("spec"))
            .and_then(|spec| spec.field("hard"))
            .and_then(|hard| hard.field("cpu"))
            .filter(|quantity| quantity.is_definition(QUANTITY))
            .map(|quantity| quantity.identity())
    });
    *identity == Some(node.identity())
}

fn is_any_json(node: SchemaNode<'_>) -> bool {
    ANY_JSON.iter().any(|name| node.is_definition(name))
}

/// The Go type a value of `node` is decoded into, as `reflect.Type.String()` names it:
/// `int32`, `[]v1.Container`, `map[string]string`, `v1.LabelSelector`.
fn go_type(node: SchemaNode<'_>) -> String {
    if let Some(name) = node.definition_name() {
        if node.schema_type() == Some("object") || node.schema_type().is_none() {
            return go_qualified_name(name);
        }
        if name == QUANTITY || name == TIME || name == MICRO_TIME {
            return go_qualified_name(name);
        }
    }
    match node.schema_type() {
        Some("integer") if node.format() == Some("int64") => "int64".to_string(),
        Some("integer") => "int32".to_string(),
        Some("number") => "float64".to_string(),
        Some("boolean") => "bool".to_string(),
        Some("string") if node.format() == Some("byte") => "[]uint8".to_string(),
        Some("string") => "string".to_string(),
        Some("array") => match node.elements() {
            Some(elements) => format!("[]{}", go_type(elements)),
            None => "[]interface {}".to_string(),
        },
        Some("object") if node.has_additional_properties() && !node.has_properties() => {
            match node.field("") {
                Some(values) => format!("map[string]{}", go_type(values)),
                None => "map[string]interface {}".to_string(),
            }
        }
        _ => "interface {}".to_string(),
    }
}

/// `io.k8s.api.apps.v1.DeploymentSpec` → `v1.DeploymentSpec` (package name, type name).
fn go_qualified_name(definition: &str) -> String {
    let mut parts = definition.rsplit('.');
    let name = parts.next().unwrap_or(definition);
    match parts.next() {
        Some(package) => format!("{package}.{name}"),
        None => name.to_string(),
    }
}

/// The Go name of the struct a definition describes (`DeploymentSpec`).
fn go_struct_name(node: SchemaNode<'_>) -> &str {
    node.definition_name()
        .and_then(|name| name.rsplit('.').next())
        .unwrap_or("")
}

/// `spec.template.spec.containers[0].name`, as kube-apiserver names fields.
fn field_path(steps: &[Step<'_>]) -> String {
    let mut path = String::new();
    for step in steps {
        match step {
            Step::Field(key) | Step::Key(key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Step::Item { index, .. } => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
        }
    }
    path
}

/// structured-merge-diff's path: `.spec.template.spec.containers[name="main"].image`; items of
/// keyed lists by their keys, of sets by their value, of atomic lists by their index.
fn typed_path(steps: &[Step<'_>]) -> String {
    let mut path = String::new();
    for step in steps {
        match step {
            Step::Field(key) | Step::Key(key) => {
                path.push('.');
                path.push_str(key);
            }
            Step::Item { index, list, item } => {
                path.push_str(&typed_item(*index, *list, item));
            }
        }
    }
    path
}

fn typed_item(index: usize, list: SchemaNode<'_>, item: &Value) -> String {
    let merges = list
        .declared_patch_strategy()
        .is_some_and(|strategies| strategies.split(',').any(|s| s == "merge"));
    let keys: Vec<&str> = match list.list_type() {
        Some("map") => list.list_map_keys(),
        Some(_) => Vec::new(),
        None if merges => list.declared_patch_merge_key().into_iter().collect(),
        None => Vec::new(),
    };
    let is_set = list.list_type() == Some("set") || (list.list_type().is_none() && merges);
    if !keys.is_empty() {
        if let Value::Object(map) = item {
            let parts: Vec<String> = keys
                .iter()
                .filter_map(|key| {
                    map.get(*key)
                        .map(|value| format!("{key}={}", typed_scalar(value)))
                })
                .collect();
            return format!("[{}]", parts.join(","));
        }
    } else if is_set && !item.is_object() && !item.is_array() {
        return format!("[={}]", typed_scalar(item));
    }
    format!("[{index}]")
}

/// structured-merge-diff's `value.ToString` of a scalar key.
fn typed_scalar(value: &Value) -> String {
    match value {
        Value::String(text) => go_text::quote(text),
        Value::Null => "null".to_string(),
        other => go_text::plain(other),
    }
}

fn is_later_field(node: SchemaNode<'_>, key: &str) -> bool {
    let Some(definition) = node.definition_name() else {
        return false;
    };
    LATER_FIELDS
        .iter()
        .any(|(name, fields)| *name == definition && fields.contains(&key))
}

/// `Kind=Deployment` with its group and version, as Go prints a `GroupVersionKind`.
fn group_version_kind(resource: &ResourceType) -> String {
    format!(
        "{}/{}, Kind={}",
        resource.group, resource.version, resource.kind
    )
}

/// The error kube-apiserver gives for `problems` (at least one) found in what `decoder` read.
fn type_error(
    resource: &ResourceType,
    object: &Value,
    problems: &[Problem],
    decoder: Decoder<'_>,
) -> ApiError {
    match decoder {
        Decoder::Body => ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {message}",
            kind = resource.kind,
            version = resource.version,
            message = decoder_message(problems)
        )),
        Decoder::PatchedJson => invalid_patch(&object.to_string(), &decoder_message(problems)),
        Decoder::StrategicPatch { patch } => {
            invalid_patch(&go_text::plain(patch), &decoder_message(problems))
        }
        Decoder::Apply { namespace, name } => {
            let typed: Vec<String> = problems.iter().filter_map(typed_message).collect();
            let message = if typed.is_empty() {
                let first = &problems[0];
                format!(
                    "failed to convert new object ({namespace}/{name}; {gvk}) to proper version: unable to convert unstructured object to {gvk}: {}",
                    conversion_message(first),
                    gvk = group_version_kind(resource)
                )
            } else {
                let errors = if typed.len() == 1 {
                    typed[0].clone()
                } else {
                    format!("errors:\n  {}", typed.join("\n  "))
                };
                format!(
                    "failed to create typed patch object ({namespace}/{name}; {}): {errors}",
                    group_version_kind(resource)
                )
            };
            ApiError::Unclassified { message }
        }
    }
}

/// kube's answer to a patch whose result does not decode: 422 for the field `patch`.
fn invalid_patch(shown: &str, message: &str) -> ApiError {
    ApiError::Invalid {
        group: String::new(),
        kind: String::new(),
        name: String::new(),
        causes: vec![crate::error::StatusCause {
            reason: "FieldValueInvalid".to_string(),
            message: format!("Invalid value: {}: {message}", go_text::quote(shown)),
            field: "patch".to_string(),
        }],
    }
}

/// What kube's JSON decoder reports: the first error of a field decoded by its own code (it
/// stops there), else the first type error (it reads on and reports the first).
fn decoder_message(problems: &[Problem]) -> String {
    let is_hard = |problem: &&Problem| match &problem.kind {
        ProblemKind::Mismatch { hard, .. } => *hard,
        ProblemKind::Time { .. } | ProblemKind::IntOrString { .. } | ProblemKind::Quantity => true,
        ProblemKind::Number { .. } | ProblemKind::Base64 { .. } => false,
    };
    let problem = problems.iter().find(is_hard).unwrap_or(&problems[0]);
    let context = |found: &str, go_type: &str| match &problem.go_struct {
        Some(go_struct) => format!(
            "json: cannot unmarshal {found} into Go struct field {go_struct}.{} of type {go_type}",
            problem.go_field
        ),
        None => format!("json: cannot unmarshal {found} into Go value of type {go_type}"),
    };
    match &problem.kind {
        ProblemKind::Mismatch { found, go_type, .. } => context(found, go_type),
        ProblemKind::Number { text, go_type, .. } => context(&format!("number {text}"), go_type),
        // kube's own words name no field here; the path is put before them, as quantity.rs does.
        ProblemKind::Time { message } => format!("{}: {message}", problem.path),
        ProblemKind::Base64 { offset } => format!(
            "{}: illegal base64 data at input byte {offset}",
            problem.path
        ),
        ProblemKind::IntOrString { found } => context(found, "int32"),
        ProblemKind::Quantity => format!("{}: {}", problem.path, crate::quantity::QUANTITY_SYNTAX),
    }
}

/// structured-merge-diff's words for a value its schema types otherwise; `None` for problems it
/// does not see (they surface when the merged object is converted).
fn typed_message(problem: &Problem) -> Option<String> {
    let ProblemKind::Mismatch {
        expected, value, ..
    } = &problem.kind
    else {
        return None;
    };
    let wrapped = || format!("&{{{}}}", go_text::plain(value));
    let message = match expected {
        Expected::Numeric => {
            let go_kind = match value {
                Value::String(_) => "string",
                Value::Bool(_) => "bool",
                Value::Array(_) => "[]interface {}",
                _ => "map[string]interface {}",
            };
            format!("expected numeric (int or float), got {go_kind}")
        }
        Expected::String => format!(
            "expected string, got &value.valueUnstructured{{Value:{}}}",
            go_text::go_syntax(value)
        ),
        Expected::Boolean => format!("expected boolean, got {}", wrapped()),
        Expected::List => format!("expected list, got {}", wrapped()),
        Expected::Map => format!("expected map, got {}", wrapped()),
    };
    Some(format!("{}: {message}", problem.typed_path))
}

/// What converting the merged object into its Go type reports (the unstructured converter),
/// after the field's path, which kube's words leave out.
fn conversion_message(problem: &Problem) -> String {
    let message = match &problem.kind {
        ProblemKind::Number {
            go_type,
            fraction: true,
            ..
        } => format!("cannot convert float64 to {go_type}"),
        // kube converts with a silent wrap-around here; flotilla refuses.
        ProblemKind::Number { text, go_type, .. } => {
            format!("json: cannot unmarshal number {text} into Go value of type {go_type}")
        }
        ProblemKind::Time { message } => message.clone(),
        ProblemKind::Base64 { offset } => {
            format!("error decoding from json: illegal base64 data at input byte {offset}")
        }
        ProblemKind::IntOrString { found } => {
            format!("json: cannot unmarshal {found} into Go value of type int32")
        }
        ProblemKind::Quantity => crate::quantity::QUANTITY_SYNTAX.to_string(),
        ProblemKind::Mismatch { .. } => return decoder_message(std::slice::from_ref(problem)),
    };
    format!("{}: {message}", problem.path)
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment_type() -> ResourceType {
        crate::registry::builtin_types()
            .into_iter()
            .find(|resource| resource.kind == "Deployment")
            .expect("Deployment is built in")
    }

    #[test]
    fn unknown_fields_are_found_at_any_depth_with_kube_paths() {
        let object = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"any": "label"}, "colour": "blue"},
            "spec": {
                "replicas": 1, "replica": 2,
                "template": {"spec": {
                    "os": {"name": "linux"},
                    "containers": [{"name": "a", "image": "i"}, {"name": "b", "imag": "i",
                        "restartPolicy": "Always", "resources": {"limits": {"cpu": "1"}}}]
                }}
            }
        });
        let resource = deployment_type();
        let warnings = check_builtin_fields(&resource, &object, FieldValidation::Warn)
            .expect("Warn never refuses");
        assert_eq!(
            warnings,
            vec![
                "unknown field \"metadata.colour\"",
                "unknown field \"spec.replica\"",
                "unknown field \"spec.template.spec.containers[1].imag\"",
            ]
        );
        let refused = check_builtin_fields(&resource, &object, FieldValidation::Strict)
            .expect_err("Strict refuses");
        assert!(refused
            .to_string()
            .contains("strict decoding error: unknown field \"metadata.colour\""));
        assert!(
            check_builtin_fields(&resource, &object, FieldValidation::Ignore)
                .expect("Ignore")
                .is_empty()
        );
    }

    #[test]
    fn strategic_merge_directives_are_not_fields() {
        let patch = json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "a", "$patch": "delete"}]}}}});
        assert!(
            check_builtin_fields(&deployment_type(), &patch, FieldValidation::Strict)
                .expect("directives pass")
                .is_empty()
        );
    }

    #[test]
    fn parameter_values() {
        assert_eq!(
            parse_field_validation(None).expect("default"),
            FieldValidation::Warn
        );
        assert_eq!(
            parse_field_validation(Some("Strict")).expect("strict"),
            FieldValidation::Strict
        );
        assert!(parse_field_validation(Some("strict")).is_err());
    }
}
