//! CustomResourceDefinitions: serving the resources a CRD defines once it is stored (and marking
//! it `Established`), removing them with it, and validating custom objects against a version's
//! `openAPIV3Schema` as kube-apiserver does: pruning of unknown fields (reported under strict
//! field validation), then the schema's value validations with kube's messages (`validation`;
//! string formats in `formats`).

mod formats;
mod validation;

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::registry::ResourceType;
use crate::rest::ApiState;
use crate::storage::Outcome;
use crate::util::{self, metadata_str};

pub const CRD_STORAGE_KEY: &str = "apiextensions.k8s.io/customresourcedefinitions";

fn invalid_definition(name: &str, field: &str, message: &str) -> ApiError {
    ApiError::invalid_field(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        name,
        field,
        message.to_string(),
    )
}

/// Checks what the server needs from a CRD: names, group, scope, at least one served version and
/// exactly one storage version, and `metadata.name == <plural>.<group>`.
pub fn validate_definition(object: &Value) -> Result<(), ApiError> {
    let name = metadata_str(object, "name").unwrap_or_default();
    let spec = object.get("spec").and_then(Value::as_object);
    let Some(spec) = spec else {
        return Err(invalid_definition(name, "spec", "Required value"));
    };
    let group = spec
        .get("group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if group.is_empty() {
        return Err(invalid_definition(name, "spec.group", "Required value"));
    }
    let plural = spec
        .get("names")
        .and_then(|names| names.get("plural"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = spec
        .get("names")
        .and_then(|names| names.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if plural.is_empty() {
        return Err(invalid_definition(
            name,
            "spec.names.plural",
            "Required value",
        ));
    }
    if kind.is_empty() {
        return Err(invalid_definition(
            name,
            "spec.names.kind",
            "Required value",
        ));
    }
    if name != format!("{plural}.{group}") {
        return Err(invalid_definition(
            name,
            "metadata.name",
            &format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    match spec.get("scope").and_then(Value::as_str) {
        Some("Namespaced") | Some("Cluster") => {}
        _ => {
            return Err(invalid_definition(
                name,
                "spec.scope",
                "Unsupported value: supported values: \"Cluster\", \"Namespaced\"",
            ))
        }
    }
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        return Err(invalid_definition(
            name,
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        ));
    }
    if versions.iter().any(|version| {
        version
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(|name| util::dns_label_problem(name).is_some())
    }) {
        return Err(invalid_definition(
            name,
            "spec.versions[].name",
            "Invalid value: must be a DNS label",
        ));
    }
    let storage_count = versions
        .iter()
        .filter(|version| version.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage_count != 1 {
        return Err(invalid_definition(
            name,
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        ));
    }
    Ok(())
}

/// The resource types a stored CRD serves.
pub fn resource_types(object: &Value) -> Vec<ResourceType> {
    let Some(spec) = object.get("spec") else {
        return Vec::new();
    };
    let string = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let strings = |value: Option<&Value>| -> Vec<String> {
        value
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let names = spec.get("names");
    let group = string(spec.get("group"));
    let plural = string(names.and_then(|names| names.get("plural")));
    let kind = string(names.and_then(|names| names.get("kind")));
    let mut singular = string(names.and_then(|names| names.get("singular")));
    if singular.is_empty() {
        singular = kind.to_lowercase();
    }
    let namespaced = spec.get("scope").and_then(Value::as_str) != Some("Cluster");
    let short_names = strings(names.and_then(|names| names.get("shortNames")));
    let categories = strings(names.and_then(|names| names.get("categories")));
    spec.get("versions")
        .and_then(Value::as_array)
        .map(|versions| {
            versions
                .iter()
                .filter(|version| version.get("served").and_then(Value::as_bool) != Some(false))
                .map(|version| ResourceType {
                    group: group.clone(),
                    version: string(version.get("name")),
                    kind: kind.clone(),
                    plural: plural.clone(),
                    singular: singular.clone(),
                    namespaced,
                    short_names: short_names.clone(),
                    categories: categories.clone(),
                    has_status: version
                        .get("subresources")
                        .and_then(|subresources| subresources.get("status"))
                        .is_some(),
                    storage_version: version.get("storage").and_then(Value::as_bool) == Some(true),
                    schema: version
                        .get("schema")
                        .and_then(|schema| schema.get("openAPIV3Schema"))
                        .cloned(),
                    custom: true,
                    printer_columns: version
                        .get("additionalPrinterColumns")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Registers (or re-registers) a stored CRD's resources and marks it Established.
pub fn sync_definition(state: &ApiState, object: &Value) {
    let types = resource_types(object);
    let group = object["spec"]["group"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let plural = object["spec"]["names"]["plural"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if metadata_str(object, "deletionTimestamp").is_some() {
        return;
    }
    state.registry.set_custom(&group, &plural, types);
    state.registry.set_custom_scales(
        &group,
        &plural,
        crate::scale::declared_by_definition(object),
    );
    let established = object["status"]["conditions"]
        .as_array()
        .is_some_and(|conditions| {
            conditions.iter().any(|condition| {
                condition["type"] == "Established" && condition["status"] == "True"
            })
        });
    if established && object["status"]["acceptedNames"] == object["spec"]["names"] {
        return;
    }
    let name = metadata_str(object, "name").unwrap_or_default().to_string();
    let now = util::now_rfc3339();
    let _ = state.store.transact(CRD_STORAGE_KEY, "", &name, |current, _| {
        let Some(current) = current else {
            return Ok(Outcome::Unchanged(None));
        };
        let mut next = current.clone();
        let mut names = next["spec"]["names"].clone();
        if let Some(names) = names.as_object_mut() {
            if !names.contains_key("singular") {
                if let Some(kind) = names.get("kind").and_then(Value::as_str) {
                    let singular = kind.to_lowercase();
                    names.insert("singular".to_string(), Value::String(singular));
                }
            }
            if !names.contains_key("listKind") {
                if let Some(kind) = names.get("kind").and_then(Value::as_str) {
                    let list_kind = format!("{kind}List");
                    names.insert("listKind".to_string(), Value::String(list_kind));
                }
            }
        }
        next["status"] = json!({
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now}
            ],
            "acceptedNames": names,
            "storedVersions": current["spec"]["versions"].as_array().map(|versions| versions.iter().filter(|v| v["storage"] == true).map(|v| v["name"].clone()).collect::<Vec<_>>()).unwrap_or_default(),
        });
        Ok(Outcome::Put(next))
    });
}

/// Stops serving a deleted CRD's resources and removes their objects.
pub fn definition_deleted(state: &ApiState, object: &Value) {
    let group = object["spec"]["group"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let plural = object["spec"]["names"]["plural"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if state
        .store
        .get(
            CRD_STORAGE_KEY,
            "",
            metadata_str(object, "name").unwrap_or_default(),
        )
        .is_some()
    {
        // Still held by finalizers.
        return;
    }
    state.registry.remove_custom(&group, &plural);
    let storage_key = format!("{group}/{plural}");
    let (objects, _) = state.store.list(&storage_key, None);
    for object in objects {
        let namespace = metadata_str(&object, "namespace")
            .unwrap_or_default()
            .to_string();
        let name = metadata_str(&object, "name")
            .unwrap_or_default()
            .to_string();
        let _ = state
            .store
            .transact(&storage_key, &namespace, &name, |_, _| Ok(Outcome::Delete));
    }
}

/// A schemaless CRD for an unknown kind (`--accept-unknown-kinds`).
pub fn schemaless_definition(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{plural}.{group}"),
            "annotations": {"flotilla.dev/accepted-unknown-kind": "true"}
        },
        "spec": {
            "group": group,
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind, "listKind": format!("{kind}List")},
            "scope": if namespaced { "Namespaced" } else { "Cluster" },
            "versions": [{
                "name": version, "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}}
            }]
        }
    })
}

/// Validates a custom object against its schema and prunes unknown fields. Unknown fields are a
/// 400 under strict field validation, as kube-apiserver reports them; every failed value check is
/// a cause of one 422, worded as kube-apiserver words it.
pub fn validate_and_prune(
    resource: &ResourceType,
    name: &str,
    schema: &Value,
    object: &mut Value,
    strict: bool,
) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    let pruned = validation::prune(schema, object);
    if strict && !pruned.unknown.is_empty() {
        let listed: Vec<String> = pruned
            .unknown
            .iter()
            .map(|field| format!("unknown field \"{field}\""))
            .collect();
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{}\" cannot be handled as a {kind}: strict decoding error: {}",
            resource.version,
            listed.join(", "),
            kind = resource.kind,
        )));
    }
    let causes = validation::validate_object(schema, object);
    if !causes.is_empty() {
        return Err(ApiError::Invalid {
            group: resource.group.clone(),
            kind: resource.kind.clone(),
            name: name.to_string(),
            causes,
        });
    }
    Ok(())
}

/// Names `metadata.name` of the CRD that serves `plural` in `group`.
pub fn definition_name(group: &str, plural: &str) -> String {
    format!("{plural}.{group}")
}

/// Finds a kind's plural the way kubectl guesses it (lowercase, `s`/`es`/`ies`).
pub fn guess_plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower.ends_with('s')
        || lower.ends_with('x')
        || lower.ends_with("ch")
        || lower.ends_with("sh")
    {
        format!("{lower}es")
    } else if lower.ends_with('y')
        && !lower.ends_with("ay")
        && !lower.ends_with("ey")
        && !lower.ends_with("oy")
    {
        format!("{}ies", &lower[..lower.len() - 1])
    } else {
        format!("{lower}s")
    }
}
