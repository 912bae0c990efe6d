//! The `scale` subresource as kube-apiserver serves it: an `autoscaling/v1` `Scale` read from its
//! parent (Deployments, ReplicaSets, StatefulSets and ReplicationControllers, and custom
//! resources whose CRD version declares `subresources.scale`), and writes of one (update, JSON,
//! merge and strategic merge patches, server-side apply) that change nothing of the parent but
//! its desired replicas.
//!
//! A Scale carries the parent's name, namespace, uid, resourceVersion and creationTimestamp,
//! `spec.replicas`, `status.replicas` and `status.selector` (the label selector as text, `app=web`).
//! A write goes through [`rest::replace`] with [`Part::Scale`]: the parent's resourceVersion and
//! generation move, its managedFields record the writer with `subresource: scale` (the replicas
//! field moves to it, as kube's scale handler does), and watchers of the parent see the change. A
//! resourceVersion in the written Scale is a precondition on the parent; a uid must match it.
//! Negative replicas are refused as kube refuses them (`Scale.autoscaling "web" is invalid:
//! spec.replicas: Invalid value: -1: must be greater than or equal to 0`).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::apply::{self, ApplyResult, FieldPath, ManagedEntry, Shape};
use crate::error::{ApiError, StatusCause};
use crate::registry::ResourceType;
use crate::rest::{self, ApiState, Part, ReplaceOperation, WriteOptions};
use crate::util::{self, metadata_str};

/// The group, version and kind of every Scale served here.
pub const SCALE_GROUP: &str = "autoscaling";
pub const SCALE_VERSION: &str = "v1";
pub const SCALE_KIND: &str = "Scale";
const SCALE_API_VERSION: &str = "autoscaling/v1";

/// Where a resource keeps what its Scale shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalePaths {
    /// The desired replicas, a dotted path (`.spec.replicas`).
    pub spec_replicas: String,
    /// The observed replicas (`.status.replicas`).
    pub status_replicas: String,
    /// Where `status.selector` comes from.
    pub selector: SelectorSource,
    /// The desired replicas when the field is absent: built-in kinds are defaulted to 1 by
    /// kube-apiserver, custom resources read as 0.
    pub absent_replicas: i64,
}

/// How a resource's label selector becomes the text of `status.selector`.
#[derive(Clone, Debug, PartialEq)]
pub enum SelectorSource {
    /// A `metav1.LabelSelector` (matchLabels, matchExpressions) at this path.
    LabelSelector(String),
    /// A plain map of labels at this path (a ReplicationController's `spec.selector`).
    LabelMap(String),
    /// A string already in selector syntax at this path (a CRD's `labelSelectorPath`).
    Text(String),
    /// No selector (a CRD without `labelSelectorPath`).
    Absent,
}

/// The built-in resources with a scale subresource: (group, plural, selector is a label map).
const BUILTIN_SCALES: &[(&str, &str, bool)] = &[
    ("apps", "deployments", false),
    ("apps", "replicasets", false),
    ("apps", "statefulsets", false),
    ("", "replicationcontrollers", true),
];

/// The scale paths of a built-in resource, if it has a scale subresource.
pub fn builtin_paths(group: &str, plural: &str) -> Option<ScalePaths> {
    let (_, _, label_map) = BUILTIN_SCALES
        .iter()
        .find(|(known_group, known_plural, _)| *known_group == group && *known_plural == plural)?;
    let selector = if *label_map {
        SelectorSource::LabelMap(".spec.selector".to_string())
    } else {
        SelectorSource::LabelSelector(".spec.selector".to_string())
    };
    Some(ScalePaths {
        spec_replicas: ".spec.replicas".to_string(),
        status_replicas: ".status.replicas".to_string(),
        selector,
        absent_replicas: 1,
    })
}

/// The scale paths a CRD version declares in `subresources.scale`; `None` without one (or
/// without the two replica paths kube requires).
pub fn custom_paths(scale: &Value) -> Option<ScalePaths> {
    let path = |field: &str| {
        scale
            .get(field)
            .and_then(Value::as_str)
            .filter(|path| !path.is_empty())
            .map(str::to_string)
    };
    Some(ScalePaths {
        spec_replicas: path("specReplicasPath")?,
        status_replicas: path("statusReplicasPath")?,
        selector: path("labelSelectorPath")
            .map(SelectorSource::Text)
            .unwrap_or(SelectorSource::Absent),
        absent_replicas: 0,
    })
}

/// The scale subresources a CRD declares: (version, paths) for each served version with
/// `subresources.scale`.
pub fn declared_by_definition(definition: &Value) -> Vec<(String, ScalePaths)> {
    definition["spec"]["versions"]
        .as_array()
        .map(|versions| {
            versions
                .iter()
                .filter(|version| version.get("served").and_then(Value::as_bool) != Some(false))
                .filter_map(|version| {
                    let name = version.get("name").and_then(Value::as_str)?;
                    let paths = custom_paths(version.get("subresources")?.get("scale")?)?;
                    Some((name.to_string(), paths))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The segments of a dotted path (`.spec.replicas` → `spec`, `replicas`).
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_start_matches('.')
        .split('.')
        .filter(|segment| !segment.is_empty())
}

fn value_at<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    segments(path).try_fold(object, |value, segment| value.get(segment))
}

/// The field path of a dotted path, as managedFields name it (`f:spec`, `f:replicas`).
fn field_path(path: &str) -> FieldPath {
    segments(path)
        .map(|segment| format!("f:{segment}"))
        .collect()
}

/// Go's name for the type of a decoded JSON value, as kube's accessor errors print it.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_i64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn accessor_error(path: &str, value: &Value, expected: &str) -> ApiError {
    ApiError::Internal {
        message: format!(
            ".{} accessor error: {value} is of the type {}, expected {expected}",
            path.trim_start_matches('.'),
            go_type(value)
        ),
    }
}

/// The replicas at `path`: `absent` when the field is missing, an error when it is not an
/// integer (kube's `NestedInt64`).
fn replicas_at(object: &Value, path: &str, absent: i64) -> Result<i64, ApiError> {
    match value_at(object, path) {
        None => Ok(absent),
        Some(value) => value
            .as_i64()
            .ok_or_else(|| accessor_error(path, value, "int64")),
    }
}

/// `status.selector` of a parent.
fn selector_text(object: &Value, source: &SelectorSource) -> Result<String, ApiError> {
    match source {
        SelectorSource::Absent => Ok(String::new()),
        SelectorSource::Text(path) => match value_at(object, path) {
            None => Ok(String::new()),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(other) => Err(accessor_error(path, other, "string")),
        },
        SelectorSource::LabelMap(path) => Ok(crate::select::label_map_text(
            value_at(object, path).unwrap_or(&Value::Null),
        )),
        SelectorSource::LabelSelector(path) => {
            crate::select::label_selector_text(value_at(object, path).unwrap_or(&Value::Null))
                .map_err(|message| ApiError::Internal { message })
        }
    }
}

/// The Scale of `parent` (the object as served in the request's version).
pub fn scale_of(paths: &ScalePaths, parent: &Value) -> Result<Value, ApiError> {
    let spec_replicas = replicas_at(parent, &paths.spec_replicas, paths.absent_replicas)?;
    let status_replicas = replicas_at(parent, &paths.status_replicas, 0)?;
    let selector = selector_text(parent, &paths.selector)?;
    let mut metadata = Map::new();
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(value) = metadata_str(parent, field).filter(|value| !value.is_empty()) {
            metadata.insert(field.to_string(), Value::String(value.to_string()));
        }
    }
    // `spec.replicas` is omitted when zero, `status.replicas` never (autoscaling/v1's JSON tags).
    let spec = if spec_replicas == 0 {
        json!({})
    } else {
        json!({ "replicas": spec_replicas })
    };
    let mut status = json!({ "replicas": status_replicas });
    if !selector.is_empty() {
        status["selector"] = Value::String(selector);
    }
    Ok(json!({
        "kind": SCALE_KIND,
        "apiVersion": SCALE_API_VERSION,
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }))
}

fn paths_of(state: &ApiState, resource: &ResourceType) -> Result<ScalePaths, ApiError> {
    state
        .registry
        .scale(resource)
        .ok_or(ApiError::UnknownResource)
}

/// `GET …/scale`.
pub fn get(
    state: &ApiState,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
) -> Result<Value, ApiError> {
    let paths = &paths_of(state, resource)?;
    let stored = rest::get(state, resource, namespace, name)?;
    scale_of(paths, &rest::present(resource, &stored))
}

/// Which kind of patch a `PATCH …/scale` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    /// RFC 6902 (`application/json-patch+json`).
    Json,
    /// RFC 7386 (`application/merge-patch+json`).
    Merge,
    /// `application/strategic-merge-patch+json`: a Scale has no lists, so it merges as a merge
    /// patch does.
    Strategic,
}

/// `PUT …/scale` with a Scale body.
pub fn update(
    state: &ApiState,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    body: Value,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    check_identity(&body)?;
    write(state, resource, namespace, name, options, |_| {
        Ok(body.clone())
    })
}

/// `PATCH …/scale`: the patch applies to the current Scale.
pub fn patch(
    state: &ApiState,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    kind: PatchKind,
    patch: &Value,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let operations = match kind {
        PatchKind::Json => Some(
            serde_json::from_value::<json_patch::Patch>(patch.clone()).map_err(|error| {
                ApiError::bad_request(format!("the JSON patch is not valid: {error}"))
            })?,
        ),
        PatchKind::Merge | PatchKind::Strategic => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            None
        }
    };
    write(state, resource, namespace, name, options, |current| {
        let mut next = current.clone();
        match &operations {
            Some(operations) => {
                json_patch::patch(&mut next, operations).map_err(|error| {
                    ApiError::invalid_field(
                        SCALE_GROUP,
                        SCALE_KIND,
                        name,
                        "",
                        format!("the JSON patch could not be applied: {error}"),
                    )
                })?;
            }
            None => json_patch::merge(&mut next, patch),
        }
        check_identity(&next)?;
        Ok(next)
    })
}

/// Refuses a body that is not an `autoscaling/v1` Scale.
fn check_identity(body: &Value) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    if let Some(kind) = body.get("kind").filter(|kind| !kind.is_null()) {
        if kind.as_str() != Some(SCALE_KIND) {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({}) does not match the expected kind (Scale)",
                kind.as_str().unwrap_or_default()
            )));
        }
    }
    if let Some(api_version) = body.get("apiVersion").filter(|version| !version.is_null()) {
        if api_version.as_str() != Some(SCALE_API_VERSION) {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version (autoscaling/v1)",
                api_version.as_str().unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// The replicas a written Scale asks for, decoded and validated as kube does
/// (`ValidateScale`: not negative).
fn requested_replicas(name: &str, scale: &Value) -> Result<i64, ApiError> {
    let value = scale
        .get("spec")
        .and_then(|spec| spec.get("replicas"))
        .unwrap_or(&Value::Null);
    let replicas = match value {
        Value::Null => 0,
        Value::Number(number) => number
            .as_i64()
            .filter(|replicas| i32::try_from(*replicas).is_ok())
            .ok_or_else(|| {
                cannot_decode(&format!("cannot unmarshal number {number} into Go struct field ScaleSpec.spec.replicas of type int32"))
            })?,
        other => {
            return Err(cannot_decode(&format!(
                "cannot unmarshal {} into Go struct field ScaleSpec.spec.replicas of type int32",
                json_type_word(other)
            )))
        }
    };
    if replicas < 0 {
        return Err(ApiError::Invalid {
            group: SCALE_GROUP.to_string(),
            kind: SCALE_KIND.to_string(),
            name: name.to_string(),
            causes: vec![StatusCause {
                reason: "FieldValueInvalid".to_string(),
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                field: "spec.replicas".to_string(),
            }],
        });
    }
    Ok(replicas)
}

fn cannot_decode(message: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Scale in version \"v1\" cannot be handled as a Scale: json: {message}"
    ))
}

/// encoding/json's word for a JSON value it cannot put into a number.
fn json_type_word(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "bool",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null | Value::Number(_) => "number",
    }
}

/// Checks the identity a written Scale carries against the URL and the parent.
fn check_target(
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    scale: &Value,
    parent: &Value,
) -> Result<(), ApiError> {
    if let Some(body_name) = metadata_str(scale, "name").filter(|body_name| !body_name.is_empty()) {
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
    }
    if resource.namespaced {
        if let Some(body_namespace) =
            metadata_str(scale, "namespace").filter(|body_namespace| !body_namespace.is_empty())
        {
            if body_namespace != namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
    }
    if let Some(uid) = metadata_str(scale, "uid").filter(|uid| !uid.is_empty()) {
        let parent_uid = metadata_str(parent, "uid").unwrap_or_default();
        if uid != parent_uid {
            return Err(ApiError::Conflict {
                group: resource.group.clone(),
                resource: format!("{}/scale", resource.plural),
                name: name.to_string(),
                message: format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {parent_uid}"
                ),
            });
        }
    }
    Ok(())
}

/// The parent with its desired replicas set to `replicas`, intermediate maps made as needed.
fn with_replicas(mut parent: Value, path: &str, replicas: i64) -> Result<Value, ApiError> {
    let names: Vec<&str> = segments(path).collect();
    let Some((last, leading)) = names.split_last() else {
        return Err(ApiError::Internal {
            message: "the scale subresource has an empty replicas path".to_string(),
        });
    };
    let mut node = &mut parent;
    for segment in leading {
        let map = node.as_object_mut().ok_or_else(|| ApiError::Internal {
            message: format!("value cannot be set because {path} does not lead through objects"),
        })?;
        node = map
            .entry(segment.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if node.is_null() {
            *node = Value::Object(Map::new());
        }
    }
    let map = node.as_object_mut().ok_or_else(|| ApiError::Internal {
        message: format!("value cannot be set because {path} does not lead through objects"),
    })?;
    map.insert(last.to_string(), json!(replicas));
    Ok(parent)
}

/// The parent as `rest::replace` is to store it: replicas set, and the resourceVersion the write
/// is conditional on (the Scale's, else the one read).
fn next_parent(
    paths: &ScalePaths,
    parent: &Value,
    replicas: i64,
    resource_version: &str,
) -> Result<Value, ApiError> {
    let mut next = with_replicas(parent.clone(), &paths.spec_replicas, replicas)?;
    util::metadata_mut(&mut next).insert(
        "resourceVersion".to_string(),
        Value::String(resource_version.to_string()),
    );
    Ok(next)
}

/// How many times a write is tried again when another write got in between.
const ATTEMPTS: usize = 8;

fn too_many_writers() -> ApiError {
    ApiError::Internal {
        message: "too many concurrent writes to the object".to_string(),
    }
}

/// Reads the parent's Scale, lets `change` make the written one, and stores the parent with its
/// new replicas; tried again when another write got in between and the written Scale does not
/// pin a resourceVersion of its own.
fn write(
    state: &ApiState,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    options: &WriteOptions,
    change: impl Fn(&Value) -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let paths = &paths_of(state, resource)?;
    for _attempt in 0..ATTEMPTS {
        let stored = rest::get(state, resource, namespace, name)?;
        let parent = rest::present(resource, &stored);
        let current = scale_of(paths, &parent)?;
        let requested = change(&current)?;
        check_target(resource, namespace, name, &requested, &parent)?;
        let replicas = requested_replicas(name, &requested)?;
        let read_version = metadata_str(&parent, "resourceVersion").unwrap_or_default();
        let requested_version = metadata_str(&requested, "resourceVersion")
            .filter(|version| !version.is_empty())
            .unwrap_or(read_version);
        let pinned = requested_version != read_version;
        let next = next_parent(paths, &parent, replicas, requested_version)?;
        match rest::replace(
            state,
            resource,
            namespace,
            name,
            Part::Scale,
            next,
            options,
            ReplaceOperation::Update,
        ) {
            Err(ApiError::Conflict { .. }) if !pinned => continue,
            Err(error) => return Err(error),
            Ok(written) => return scale_of(paths, &written),
        }
    }
    Err(too_many_writers())
}

/// Server-side apply of a Scale (`PATCH …/scale` with `application/apply-patch+yaml`). The
/// parent's managedFields are shown to the apply as the Scale's (whoever owns the parent's
/// replicas owns the Scale's `spec.replicas`) and mapped back afterwards, as kube's scale
/// handler does; conflicts are reported as for any apply.
pub fn apply(
    state: &ApiState,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    config: &Value,
    manager: &str,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let paths = &paths_of(state, resource)?;
    check_identity(config)?;
    let parent_replicas_path = field_path(&paths.spec_replicas);
    let scale_replicas_path = field_path(".spec.replicas");
    for _attempt in 0..ATTEMPTS {
        let stored = rest::get(state, resource, namespace, name)?;
        let parent = rest::present(resource, &stored);
        check_target(resource, namespace, name, config, &parent)?;
        let parent_entries = apply::decode_managed(&parent);
        let view: Vec<ManagedEntry> = parent_entries
            .iter()
            .filter(|entry| entry.fields.contains(&parent_replicas_path))
            .map(|entry| ManagedEntry {
                api_version: SCALE_API_VERSION.to_string(),
                fields: BTreeSet::from([scale_replicas_path.clone()]),
                ..entry.clone()
            })
            .collect();
        let mut live = scale_of(paths, &parent)?;
        // Nobody owns the replicas: the applier takes them without a conflict (the apply code
        // would otherwise credit them to `before-first-apply`).
        let unowned = view.is_empty();
        util::metadata_mut(&mut live)
            .insert("managedFields".to_string(), apply::encode_managed(&view));
        let merged = match apply::apply(
            Some(&live),
            config,
            manager,
            SCALE_API_VERSION,
            "scale",
            options.force || unowned,
            Shape::Heuristic,
        ) {
            ApplyResult::Conflicts(causes) => {
                return Err(ApiError::ApplyConflict {
                    group: resource.group.clone(),
                    resource: resource.plural.clone(),
                    name: name.to_string(),
                    causes,
                })
            }
            ApplyResult::Merged(merged) => merged,
        };
        let replicas = requested_replicas(name, &merged)?;
        let managed_fields = parent_managed_fields(
            resource,
            parent_entries,
            apply::decode_managed(&merged),
            &parent_replicas_path,
            &scale_replicas_path,
        );
        let read_version = metadata_str(&parent, "resourceVersion").unwrap_or_default();
        let next = next_parent(paths, &parent, replicas, read_version)?;
        match rest::replace(
            state,
            resource,
            namespace,
            name,
            Part::Scale,
            next,
            options,
            ReplaceOperation::Apply { managed_fields },
        ) {
            Err(ApiError::Conflict { .. }) => continue,
            Err(error) => return Err(error),
            Ok(written) => return scale_of(paths, &written),
        }
    }
    Err(too_many_writers())
}

/// The parent's managedFields after a Scale apply: the replicas leave every parent entry and go
/// to the entries that own the Scale's `spec.replicas`, in the parent's API version.
fn parent_managed_fields(
    resource: &ResourceType,
    parent_entries: Vec<ManagedEntry>,
    scale_entries: Vec<ManagedEntry>,
    parent_replicas_path: &FieldPath,
    scale_replicas_path: &FieldPath,
) -> Value {
    let mut entries: Vec<ManagedEntry> = parent_entries
        .into_iter()
        .map(|mut entry| {
            entry.fields.remove(parent_replicas_path);
            entry
        })
        .collect();
    for owner in scale_entries.into_iter().filter(|entry| {
        entry.manager != "before-first-apply" && entry.fields.contains(scale_replicas_path)
    }) {
        let same_writer = |entry: &&mut ManagedEntry| {
            entry.manager == owner.manager
                && entry.operation == owner.operation
                && entry.subresource == owner.subresource
        };
        match entries.iter_mut().find(same_writer) {
            Some(entry) => {
                entry.fields.insert(parent_replicas_path.clone());
                entry.time = owner.time.clone();
            }
            None => entries.push(ManagedEntry {
                api_version: resource.api_version(),
                fields: BTreeSet::from([parent_replicas_path.clone()]),
                ..owner
            }),
        }
    }
    apply::encode_managed(&entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment_paths() -> ScalePaths {
        builtin_paths("apps", "deployments").expect("Deployments scale")
    }

    #[test]
    fn scale_of_a_deployment_carries_identity_replicas_and_selector() {
        let parent = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "7",
                "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"a": "b"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "tier": "front"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}},
            "status": {"replicas": 2}
        });
        let scale = scale_of(&deployment_paths(), &parent).expect("a scale");
        assert_eq!(
            scale,
            json!({
                "kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "7",
                    "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"replicas": 3},
                "status": {"replicas": 2, "selector": "app=web,env in (dev,prod),tier=front"}
            })
        );
    }

    #[test]
    fn a_replication_controller_selector_is_a_label_map() {
        let paths = builtin_paths("", "replicationcontrollers").expect("RCs scale");
        let parent = json!({"metadata": {"name": "rc"}, "spec": {"replicas": 2, "selector": {"tier": "db", "app": "x"}}});
        let scale = scale_of(&paths, &parent).expect("a scale");
        assert_eq!(scale["status"]["selector"], "app=x,tier=db");
        assert!(builtin_paths("apps", "daemonsets").is_none());
    }

    #[test]
    fn absent_replicas_are_defaulted_for_built_ins_and_zero_for_custom_resources() {
        let parent = json!({"metadata": {"name": "x"}, "spec": {}});
        let builtin = scale_of(&deployment_paths(), &parent).expect("a scale");
        assert_eq!(builtin["spec"], json!({"replicas": 1}));
        assert_eq!(builtin["status"], json!({"replicas": 0}));
        let custom = custom_paths(
            &json!({"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}),
        )
        .expect("declared paths");
        let scale = scale_of(&custom, &parent).expect("a scale");
        assert_eq!(scale["spec"], json!({}));
    }

    #[test]
    fn custom_selector_and_type_errors() {
        let paths = custom_paths(
            &json!({"specReplicasPath": ".spec.count", "statusReplicasPath": ".status.count",
            "labelSelectorPath": ".status.selector"}),
        )
        .expect("declared paths");
        let parent = json!({"metadata": {"name": "w"}, "spec": {"count": 2}, "status": {"count": 1, "selector": "app=w"}});
        let scale = scale_of(&paths, &parent).expect("a scale");
        assert_eq!(scale["status"], json!({"replicas": 1, "selector": "app=w"}));
        let wrong = json!({"metadata": {"name": "w"}, "spec": {"count": "two"}});
        let error = scale_of(&paths, &wrong).expect_err("a string is not replicas");
        assert_eq!(
            error.to_string(),
            "internal error: .spec.count accessor error: \"two\" is of the type string, expected int64"
        );
    }

    #[test]
    fn replicas_requested_are_checked_as_kube_checks_them() {
        let cases = [
            (json!({"spec": {"replicas": 4}}), Ok(4)),
            (json!({"spec": {}}), Ok(0)),
            (json!({"spec": {"replicas": -1}}), Err("Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0")),
            (json!({"spec": {"replicas": "4"}}), Err("Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of type int32")),
            (json!({"spec": {"replicas": 1.5}}), Err("Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal number 1.5 into Go struct field ScaleSpec.spec.replicas of type int32")),
        ];
        for (scale, expected) in cases {
            let result = requested_replicas("web", &scale).map_err(|error| error.to_string());
            match expected {
                Ok(replicas) => assert_eq!(result, Ok(replicas), "{scale}"),
                // The group qualifies the kind once error.rs does; either wording names the rule.
                Err(message) => {
                    let got = result.expect_err("refused");
                    let unqualified = message.replace("Scale.autoscaling", "Scale");
                    assert!(got == message || got == unqualified, "{got}");
                }
            }
        }
    }

    #[test]
    fn replicas_are_written_through_missing_maps() {
        let parent = json!({"metadata": {"name": "w"}});
        let written = with_replicas(parent, ".spec.scale.count", 3).expect("written");
        assert_eq!(written["spec"], json!({"scale": {"count": 3}}));
        let blocked = with_replicas(json!({"spec": 1}), ".spec.count", 3);
        assert!(blocked.is_err());
    }

    #[test]
    fn apply_moves_replicas_ownership_into_the_parent() {
        let resource = crate::registry::builtin_types()
            .into_iter()
            .find(|resource| resource.kind == "Deployment")
            .expect("built in");
        let replicas: FieldPath = vec!["f:spec".to_string(), "f:replicas".to_string()];
        let image: FieldPath = vec!["f:spec".to_string(), "f:template".to_string()];
        let parent_entries = vec![ManagedEntry {
            manager: "kubectl".to_string(),
            operation: "Update".to_string(),
            api_version: "apps/v1".to_string(),
            time: "t0".to_string(),
            subresource: String::new(),
            fields: BTreeSet::from([replicas.clone(), image.clone()]),
        }];
        let scale_entries = vec![ManagedEntry {
            manager: "hpa".to_string(),
            operation: "Apply".to_string(),
            api_version: "autoscaling/v1".to_string(),
            time: "t1".to_string(),
            subresource: "scale".to_string(),
            fields: BTreeSet::from([replicas.clone()]),
        }];
        let managed = parent_managed_fields(
            &resource,
            parent_entries,
            scale_entries,
            &replicas,
            &replicas,
        );
        assert_eq!(managed[0]["manager"], "kubectl");
        assert_eq!(
            managed[0]["fieldsV1"],
            json!({"f:spec": {"f:template": {}}})
        );
        assert_eq!(managed[1]["manager"], "hpa");
        assert_eq!(managed[1]["apiVersion"], "apps/v1");
        assert_eq!(managed[1]["subresource"], "scale");
        assert_eq!(
            managed[1]["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}}})
        );
    }
}
