//! REST semantics on top of the store: create, get, list, replace, delete with the metadata rules
//! of kube-apiserver (names and `generateName`, uid, creationTimestamp, generation, the status
//! subresource, namespaces that must exist, finalizers and `deletionTimestamp`, preconditions,
//! `dryRun`).

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::apply;
use crate::crd;
use crate::error::{ApiError, StatusCause};
use crate::registry::{Registry, ResourceType};
use crate::storage::{Outcome, Store};
use crate::util::{self, metadata, metadata_mut, metadata_str};

/// Objects larger than this are refused, as kube-apiserver does (3 MiB).
pub const MAX_OBJECT_BYTES: usize = 3 * 1024 * 1024;

/// The shared server state every handler works on.
pub struct ApiState {
    pub registry: Registry,
    pub store: Store,
    pub accept_unknown_kinds: bool,
    /// Set when the server plays OpenShift (`--openshift`).
    pub openshift: Option<crate::openshift::OpenShiftConfig>,
}

/// Options that come from the query string of a write.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    /// `fieldValidation` as asked.
    pub field_validation: crate::validate::FieldValidation,
    pub force: bool,
    /// managedFields to store on create instead of an Update entry (server-side apply).
    pub initial_managed_fields: Option<Value>,
}

/// Which part of an object a request addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Main,
    Status,
    /// The `scale` subresource: the body is the whole object with only its replicas changed
    /// (`crate::scale`); generation moves as for the main resource.
    Scale,
}

impl Part {
    /// The subresource managedFields name (`""` for the main resource).
    pub fn subresource(self) -> &'static str {
        match self {
            Part::Main => "",
            Part::Status => "status",
            Part::Scale => "scale",
        }
    }
}

/// How dependents are treated when their owner is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// Parsed `DeleteOptions`.
#[derive(Clone, Debug)]
pub struct DeleteOptions {
    pub propagation: Propagation,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

impl Default for DeleteOptions {
    fn default() -> Self {
        DeleteOptions {
            propagation: Propagation::Background,
            precondition_uid: None,
            precondition_resource_version: None,
            dry_run: false,
        }
    }
}

fn conflict(resource: &ResourceType, name: &str, message: &str) -> ApiError {
    ApiError::Conflict {
        group: resource.group.clone(),
        resource: resource.plural.clone(),
        name: name.to_string(),
        message: message.to_string(),
    }
}

pub const STALE_MESSAGE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// The object as served in `resource`'s version (objects of all versions share storage): the
/// stored object itself unless it was stored in another version of a CRD.
pub fn present<'a>(resource: &ResourceType, object: &'a Value) -> Cow<'a, Value> {
    if !resource.custom {
        return Cow::Borrowed(object);
    }
    let api_version = resource.api_version();
    if object.get("apiVersion").and_then(Value::as_str) == Some(api_version.as_str()) {
        return Cow::Borrowed(object);
    }
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".to_string(), Value::String(api_version));
    }
    Cow::Owned(object)
}

/// [`present`] for a stored object, sharing it when it needs no change.
fn present_shared(resource: &ResourceType, stored: &Arc<Value>) -> Arc<Value> {
    match present(resource, stored) {
        Cow::Borrowed(_) => stored.clone(),
        Cow::Owned(object) => Arc::new(object),
    }
}

/// Checks that a body is an object of `resource`'s kind and version.
fn check_body_identity(resource: &ResourceType, body: &Value) -> Result<(), ApiError> {
    let map = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the request body must be a JSON object"))?;
    if let Some(kind) = map.get("kind") {
        if kind.as_str() != Some(resource.kind.as_str()) {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({}) does not match the expected kind ({})",
                kind.as_str().unwrap_or_default(),
                resource.kind
            )));
        }
    }
    if let Some(api_version) = map.get("apiVersion") {
        if api_version.as_str() != Some(resource.api_version().as_str()) {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({})",
                api_version.as_str().unwrap_or_default(),
                resource.api_version()
            )));
        }
    }
    if let Some(metadata) = map.get("metadata") {
        if !metadata.is_object() {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
    }
    Ok(())
}

fn validate_name(resource: &ResourceType, name: &str) -> Result<(), ApiError> {
    let problem = if resource.plural == "namespaces" || resource.plural == "services" {
        util::dns_label_problem(name)
    } else {
        util::dns_subdomain_problem(name)
    };
    if let Some(problem) = problem {
        return Err(ApiError::invalid_field(
            &resource.group,
            &resource.kind,
            name,
            "metadata.name",
            format!("Invalid value: \"{name}\": {problem}"),
        ));
    }
    Ok(())
}

/// Fails unless `namespace` exists and is not being deleted.
fn check_namespace(state: &ApiState, namespace: &str, creating: bool) -> Result<(), ApiError> {
    match state.store.get("/namespaces", "", namespace) {
        None => Err(ApiError::not_found("", "namespaces", namespace)),
        Some(object) if creating && metadata_str(&object, "deletionTimestamp").is_some() => Err(ApiError::Forbidden {
            group: String::new(),
            resource: "namespaces".to_string(),
            name: namespace.to_string(),
            message: format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ),
        }),
        Some(_) => Ok(()),
    }
}

/// Whether two objects agree on everything but `metadata` and `status` (and the type fields):
/// what decides whether `generation` moves. Compares in place, copying nothing.
fn same_spec(left: &Value, right: &Value) -> bool {
    same_fields_except(left, right, &["metadata", "status", "apiVersion", "kind"])
}

/// Whether a write changes nothing but the bookkeeping every write changes (`resourceVersion`,
/// `managedFields`). Compares in place, copying nothing.
fn same_but_bookkeeping(left: &Value, right: &Value) -> bool {
    same_fields_except(left, right, &["metadata"])
        && same_fields_except(
            &left["metadata"],
            &right["metadata"],
            &["resourceVersion", "managedFields"],
        )
}

/// Whether two JSON objects have the same fields with equal values, leaving out `ignored`.
/// Values that are not objects compare whole.
fn same_fields_except(left: &Value, right: &Value, ignored: &[&str]) -> bool {
    let (Some(left), Some(right)) = (left.as_object(), right.as_object()) else {
        return left == right;
    };
    let counted = |map: &Map<String, Value>| {
        map.keys()
            .filter(|key| !ignored.contains(&key.as_str()))
            .count()
    };
    counted(left) == counted(right)
        && left
            .iter()
            .filter(|(key, _)| !ignored.contains(&key.as_str()))
            .all(|(key, value)| right.get(key) == Some(value))
}

fn uses_generation(resource: &ResourceType) -> bool {
    (resource.custom || resource.has_status) && !is_namespace(resource)
}

/// Drops fields a schema does not know when asked to, or reports them under `Strict`.
fn prepare_custom(
    state: &ApiState,
    resource: &ResourceType,
    name: &str,
    object: &mut Value,
    options: &WriteOptions,
) -> Result<(), ApiError> {
    if let Some(schema) = &resource.schema {
        crd::validate_and_prune(
            resource,
            name,
            schema,
            object,
            options.field_validation == crate::validate::FieldValidation::Strict,
        )?;
    }
    if resource.group == "apiextensions.k8s.io" && resource.plural == "customresourcedefinitions" {
        crd::validate_definition(object)?;
    }
    if resource.group.is_empty() && resource.plural == "secrets" {
        fold_string_data(object);
    }
    canonicalize_quantities(resource, object)?;
    let _ = state;
    Ok(())
}

/// Writes the resource quantities of a built-in object in canonical form, as kube-apiserver's
/// decoding into Go types does (`1000m` → `1`); a malformed one is refused as kube refuses it.
/// Custom resources are stored as sent.
pub fn canonicalize_quantities(
    resource: &ResourceType,
    object: &mut Value,
) -> Result<(), ApiError> {
    let Some(definition) = resource.builtin_definition() else {
        return Ok(());
    };
    crate::quantity::canonicalize(object, definition).map_err(|message| {
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {message}",
            kind = resource.kind,
            version = resource.version
        ))
    })
}

/// A Secret's `stringData` is write-only: kube-apiserver merges it into `data` (base64, winning
/// over the same key in `data`) and never stores it.
fn fold_string_data(object: &mut Value) {
    use base64::Engine as _;
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = map.shift_remove("stringData") else {
        return;
    };
    let data = map
        .entry("data".to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Value::Object(data) = data {
        for (key, value) in string_data {
            let text = match value {
                Value::String(text) => text,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            data.insert(
                key,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text.as_bytes())),
            );
        }
    }
}

/// Creates an object from a POST body.
pub fn create(
    state: &ApiState,
    resource: &ResourceType,
    namespace: Option<&str>,
    mut body: Value,
    options: &WriteOptions,
) -> Result<Arc<Value>, ApiError> {
    check_body_identity(resource, &body)?;
    let mut name = metadata_str(&body, "name").unwrap_or_default().to_string();
    if name.is_empty() {
        match metadata_str(&body, "generateName") {
            Some(prefix) if !prefix.is_empty() => {
                name = format!("{prefix}{}", util::random_suffix())
            }
            _ => {
                return Err(ApiError::Invalid {
                    group: resource.group.clone(),
                    kind: resource.kind.clone(),
                    name: String::new(),
                    causes: vec![StatusCause {
                        reason: "FieldValueRequired".to_string(),
                        message: "Required value: name or generateName is required".to_string(),
                        field: "metadata.name".to_string(),
                    }],
                })
            }
        }
    }
    validate_name(resource, &name)?;
    let namespace = resolve_namespace(resource, namespace, &body)?;
    if resource.namespaced {
        check_namespace(state, &namespace, true)?;
    }
    if let Some(refusal) = crate::olm::read_only(resource) {
        return Err(refusal);
    }
    crate::openshift::default_on_create(state, resource, &namespace, &mut body);
    prepare_custom(state, resource, &name, &mut body, options)?;
    crate::rules::check(resource, &name, &body)?;
    if let Some(answer) = crate::openshift::create_instead(state, resource, &body, options) {
        return answer;
    }
    let map = body.as_object_mut().expect("checked to be an object");
    map.shift_remove("apiVersion");
    map.shift_remove("kind");
    let mut ordered = Map::new();
    ordered.insert(
        "apiVersion".to_string(),
        Value::String(resource.api_version()),
    );
    ordered.insert("kind".to_string(), Value::String(resource.kind.clone()));
    ordered.extend(std::mem::take(map));
    body = Value::Object(ordered);
    if resource.has_status {
        if let Some(map) = body.as_object_mut() {
            map.shift_remove("status");
        }
    }
    if resource.plural == "namespaces" && resource.group.is_empty() {
        body["status"] = json!({"phase": "Active"});
        body["spec"] = json!({"finalizers": ["kubernetes"]});
    }
    {
        let metadata = metadata_mut(&mut body);
        metadata.insert("name".to_string(), Value::String(name.clone()));
        if resource.namespaced {
            metadata.insert("namespace".to_string(), Value::String(namespace.clone()));
        } else {
            metadata.shift_remove("namespace");
        }
        metadata.insert("uid".to_string(), Value::String(util::new_uid()));
        metadata.insert(
            "creationTimestamp".to_string(),
            Value::String(util::now_rfc3339()),
        );
        metadata.shift_remove("deletionTimestamp");
        metadata.shift_remove("deletionGracePeriodSeconds");
        metadata.shift_remove("resourceVersion");
        metadata.shift_remove("selfLink");
        if uses_generation(resource) {
            metadata.insert("generation".to_string(), json!(1));
        } else {
            metadata.shift_remove("generation");
        }
    }
    match &options.initial_managed_fields {
        Some(managed_fields) => {
            metadata_mut(&mut body).insert("managedFields".to_string(), managed_fields.clone());
        }
        None => {
            let manager = options
                .field_manager
                .clone()
                .unwrap_or_else(|| "unknown".to_string());
            apply::record_update(
                None,
                &mut body,
                &manager,
                &resource.api_version(),
                "",
                apply::Shape::of(resource),
            );
        }
    }
    check_size(&body)?;
    let dry_run = options.dry_run;
    let stored =
        state
            .store
            .transact(&resource.storage_key(), &namespace, &name, |current, _| {
                if current.is_some() {
                    return Err(ApiError::AlreadyExists {
                        group: resource.group.clone(),
                        resource: resource.plural.clone(),
                        name: name.clone(),
                    });
                }
                if dry_run {
                    return Ok(Outcome::Unchanged(Some(body)));
                }
                Ok(Outcome::Put(body))
            })?;
    let stored = stored.expect("a put returns the object");
    after_write(state, resource, &stored);
    Ok(present_shared(resource, &stored))
}

fn check_size(object: &Value) -> Result<(), ApiError> {
    /// Counts the bytes serialised into it, keeping none.
    struct ByteCount(usize);
    impl std::io::Write for ByteCount {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = ByteCount(0);
    let _ = serde_json::to_writer(&mut counter, object);
    let size = counter.0;
    if size > MAX_OBJECT_BYTES {
        return Err(ApiError::RequestEntityTooLarge {
            limit: MAX_OBJECT_BYTES,
        });
    }
    Ok(())
}

/// The namespace an object goes into: the URL's, which the body may repeat but not contradict.
fn resolve_namespace(
    resource: &ResourceType,
    url_namespace: Option<&str>,
    body: &Value,
) -> Result<String, ApiError> {
    if !resource.namespaced {
        return Ok(String::new());
    }
    let body_namespace = metadata_str(body, "namespace").filter(|namespace| !namespace.is_empty());
    match (url_namespace, body_namespace) {
        (Some(url), Some(body)) if url != body => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        (Some(url), _) => Ok(url.to_string()),
        (None, Some(body)) => Ok(body.to_string()),
        (None, None) => Err(ApiError::bad_request(
            "the namespace of the object is required",
        )),
    }
}

/// Reacts to a stored change that other resources depend on (CRDs register their resources).
pub fn after_write(state: &ApiState, resource: &ResourceType, object: &Value) {
    if resource.group == "apiextensions.k8s.io" && resource.plural == "customresourcedefinitions" {
        crd::sync_definition(state, object);
    }
}

pub fn get(
    state: &ApiState,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
) -> Result<Arc<Value>, ApiError> {
    state
        .store
        .get(&resource.storage_key(), namespace, name)
        .ok_or_else(|| ApiError::not_found(&resource.group, &resource.plural, name))
}

/// Replaces an object (PUT) or its status (PUT …/status); also the final step of every patch.
/// `expected_resource_version` comes from the body (or is `None` for patches, which always apply
/// to the latest object unless the patch itself names a resourceVersion).
#[allow(clippy::too_many_arguments)]
pub fn replace(
    state: &ApiState,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    part: Part,
    body: Value,
    options: &WriteOptions,
    operation: ReplaceOperation,
) -> Result<Arc<Value>, ApiError> {
    if let Some(refusal) = crate::olm::read_only(resource) {
        return Err(refusal);
    }
    check_body_identity(resource, &body)?;
    if let Some(body_name) = metadata_str(&body, "name") {
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
    }
    if resource.namespaced {
        if let Some(body_namespace) =
            metadata_str(&body, "namespace").filter(|namespace| !namespace.is_empty())
        {
            if body_namespace != namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
    }
    let mut body = body;
    prepare_custom(state, resource, name, &mut body, options)?;
    if part == Part::Main {
        crate::rules::check(resource, name, &body)?;
    }
    check_size(&body)?;
    let dry_run = options.dry_run;
    let manager = options.field_manager.clone();
    let stored = state
        .store
        .transact(&resource.storage_key(), namespace, name, |current, _| {
            let current = current
                .ok_or_else(|| ApiError::not_found(&resource.group, &resource.plural, name))?;
            if let Some(expected) =
                metadata_str(&body, "resourceVersion").filter(|version| !version.is_empty())
            {
                if Some(expected) != metadata_str(current, "resourceVersion") {
                    return Err(conflict(resource, name, STALE_MESSAGE));
                }
            }
            let mut next = merge_replacement(resource, current, body, part);
            if uses_generation(resource) && part != Part::Status && !same_spec(&next, current) {
                let generation = metadata(current)
                    .and_then(|metadata| metadata.get("generation"))
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                metadata_mut(&mut next).insert("generation".to_string(), json!(generation + 1));
            }
            match &operation {
                ReplaceOperation::Update => {
                    let manager = manager.clone().unwrap_or_else(|| "unknown".to_string());
                    let subresource = part.subresource();
                    apply::record_update(
                        Some(current),
                        &mut next,
                        &manager,
                        &resource.api_version(),
                        subresource,
                        apply::Shape::of(resource),
                    );
                }
                ReplaceOperation::Apply { managed_fields } => {
                    metadata_mut(&mut next)
                        .insert("managedFields".to_string(), managed_fields.clone());
                }
            }
            if same_but_bookkeeping(&next, current)
                && metadata(&next).and_then(|m| m.get("managedFields"))
                    == metadata(current).and_then(|m| m.get("managedFields"))
            {
                return Ok(Outcome::Unchanged(Some(current.clone())));
            }
            let terminating = metadata_str(&next, "deletionTimestamp").is_some();
            if terminating && util::finalizers(&next).is_empty() && !is_namespace(resource) {
                if dry_run {
                    return Ok(Outcome::Unchanged(Some(next)));
                }
                return Ok(Outcome::Delete);
            }
            if dry_run {
                return Ok(Outcome::Unchanged(Some(next)));
            }
            Ok(Outcome::Put(next))
        })?;
    let stored =
        stored.ok_or_else(|| ApiError::not_found(&resource.group, &resource.plural, name))?;
    after_write(state, resource, &stored);
    Ok(present_shared(resource, &stored))
}

/// Writes `status` as `object`'s status through the status subresource, as `manager` and
/// without a resourceVersion precondition: how the server's own controllers (the simulation,
/// OpenShift's router and API server, OLM) report. A write that fails (the object is gone) is
/// left: the controller sees the next event.
pub fn write_status_as(
    state: &ApiState,
    resource: &ResourceType,
    object: &Value,
    status: Value,
    manager: &str,
) {
    let namespace = metadata_str(object, "namespace")
        .unwrap_or_default()
        .to_string();
    let name = metadata_str(object, "name").unwrap_or_default().to_string();
    let mut next = object.clone();
    next["status"] = status;
    if let Some(metadata) = next.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.shift_remove("resourceVersion");
    }
    let options = WriteOptions {
        field_manager: Some(manager.to_string()),
        ..WriteOptions::default()
    };
    let _ = replace(
        state,
        resource,
        &namespace,
        &name,
        Part::Status,
        next,
        &options,
        ReplaceOperation::Update,
    );
}

/// How a replacement records field ownership.
pub enum ReplaceOperation {
    Update,
    Apply { managed_fields: Value },
}

fn is_namespace(resource: &ResourceType) -> bool {
    resource.group.is_empty() && resource.plural == "namespaces"
}

/// The next object from the current one and a replacement body: identity metadata is kept, and
/// the status subresource rule decides which of main part and status come from the body.
fn merge_replacement(resource: &ResourceType, current: &Value, body: Value, part: Part) -> Value {
    let mut next = match part {
        Part::Main | Part::Scale => {
            let mut next = body;
            if resource.has_status {
                let status = current.get("status").cloned();
                let map = next.as_object_mut().expect("checked to be an object");
                map.shift_remove("status");
                if let Some(status) = status {
                    map.insert("status".to_string(), status);
                }
            }
            next
        }
        Part::Status => {
            let mut next = current.clone();
            let map = next.as_object_mut().expect("stored objects are objects");
            match body.get("status") {
                Some(status) => {
                    map.insert("status".to_string(), status.clone());
                }
                None => {
                    map.shift_remove("status");
                }
            }
            // Status writes may change labels and annotations only through the main resource.
            next
        }
    };
    let current_metadata = metadata(current).cloned().unwrap_or_default();
    let map = next.as_object_mut().expect("objects are objects");
    map.insert(
        "apiVersion".to_string(),
        Value::String(resource.api_version()),
    );
    map.insert("kind".to_string(), Value::String(resource.kind.clone()));
    let metadata = metadata_mut(&mut next);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "resourceVersion",
    ] {
        match current_metadata.get(field) {
            Some(value) => {
                metadata.insert(field.to_string(), value.clone());
            }
            None => {
                metadata.shift_remove(field);
            }
        }
    }
    // A terminating object may lose finalizers but not gain new ones.
    next
}

/// Deletes an object: at once, or by marking it with `deletionTimestamp` when finalizers hold it.
/// Returns the deleted (or marked) object.
pub fn delete(
    state: &ApiState,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    options: &DeleteOptions,
) -> Result<Arc<Value>, ApiError> {
    if let Some(refusal) = crate::olm::read_only(resource) {
        return Err(refusal);
    }
    let now = util::now_rfc3339();
    let result = state.store.transact(&resource.storage_key(), namespace, name, |current, _| {
        let current = current.ok_or_else(|| ApiError::not_found(&resource.group, &resource.plural, name))?;
        if let Some(uid) = &options.precondition_uid {
            if Some(uid.as_str()) != metadata_str(current, "uid") {
                return Err(conflict(
                    resource,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        metadata_str(current, "uid").unwrap_or_default()
                    ),
                ));
            }
        }
        if let Some(version) = &options.precondition_resource_version {
            if Some(version.as_str()) != metadata_str(current, "resourceVersion") {
                return Err(conflict(
                    resource,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {version}, ResourceVersion in object meta: {}",
                        metadata_str(current, "resourceVersion").unwrap_or_default()
                    ),
                ));
            }
        }
        let mut finalizers = util::finalizers(current);
        match options.propagation {
            Propagation::Foreground if !finalizers.iter().any(|f| f == "foregroundDeletion") => {
                finalizers.push("foregroundDeletion".to_string())
            }
            Propagation::Orphan if !finalizers.iter().any(|f| f == "orphan") => finalizers.push("orphan".to_string()),
            _ => {}
        }
        let namespace_finalizing = is_namespace(resource);
        if finalizers.is_empty() && !namespace_finalizing {
            if options.dry_run {
                return Ok(Outcome::Unchanged(Some(current.clone())));
            }
            return Ok(Outcome::Delete);
        }
        let mut next = current.clone();
        {
            let metadata = metadata_mut(&mut next);
            if !metadata.contains_key("deletionTimestamp") {
                metadata.insert("deletionTimestamp".to_string(), Value::String(now.clone()));
                metadata.insert("deletionGracePeriodSeconds".to_string(), json!(0));
            }
            if !finalizers.is_empty() {
                metadata.insert("finalizers".to_string(), json!(finalizers));
            }
        }
        if namespace_finalizing {
            next["status"] = json!({"phase": "Terminating"});
        }
        if same_but_bookkeeping(&next, current) || options.dry_run {
            return Ok(Outcome::Unchanged(Some(next)));
        }
        Ok(Outcome::Put(next))
    })?;
    let object =
        result.ok_or_else(|| ApiError::not_found(&resource.group, &resource.plural, name))?;
    if resource.group == "apiextensions.k8s.io"
        && resource.plural == "customresourcedefinitions"
        && !options.dry_run
    {
        crd::definition_deleted(state, &object);
    }
    Ok(present_shared(resource, &object))
}

/// Removes a finalizer from a terminating object, deleting it once none remain.
pub fn remove_finalizer(
    state: &ApiState,
    storage_key: &str,
    namespace: &str,
    name: &str,
    finalizer: &str,
) {
    let _ = state
        .store
        .transact(storage_key, namespace, name, |current, _| {
            let Some(current) = current else {
                return Ok(Outcome::Unchanged(None));
            };
            let finalizers = util::finalizers(current);
            if !finalizers.iter().any(|existing| existing == finalizer) {
                return Ok(Outcome::Unchanged(None));
            }
            let remaining: Vec<&String> = finalizers
                .iter()
                .filter(|existing| *existing != finalizer)
                .collect();
            if remaining.is_empty()
                && metadata_str(current, "deletionTimestamp").is_some()
                && storage_key != "/namespaces"
            {
                return Ok(Outcome::Delete);
            }
            let mut next = current.clone();
            let metadata = metadata_mut(&mut next);
            if remaining.is_empty() {
                metadata.shift_remove("finalizers");
            } else {
                metadata.insert("finalizers".to_string(), json!(remaining));
            }
            Ok(Outcome::Put(next))
        });
}
