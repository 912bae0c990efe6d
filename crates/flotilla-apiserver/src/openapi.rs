//! `/openapi/v3`: the index of group-versions and one document per group-version. Each document
//! lists the resource paths with their operations, `x-kubernetes-group-version-kind` and the
//! `fieldValidation` query parameter, which is what `kubectl apply` (default validation) looks for
//! before it hands validation to the server. Custom resources carry their CRD schema.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use serde_json::{json, Map, Value};

use crate::registry::{Registry, ResourceType};

fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn hash_of(resources: &[ResourceType]) -> String {
    let mut hasher = DefaultHasher::new();
    for resource in resources {
        format!("{resource:?}").hash(&mut hasher);
    }
    format!("{:016X}", hasher.finish())
}

/// The `/openapi/v3` index.
pub fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    let mut group_versions = vec![(String::new(), "v1".to_string())];
    for group in registry.groups() {
        for version in group.versions {
            group_versions.push((group.group.clone(), version));
        }
    }
    for (group, version) in group_versions {
        let path = group_version_path(&group, &version);
        let hash = hash_of(&registry.resources_in(&group, &version));
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

fn parameter(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn schema_name(resource: &ResourceType) -> String {
    let group = if resource.group.is_empty() {
        "core".to_string()
    } else {
        resource.group.clone()
    };
    format!("{}.{}.{}", group, resource.version, resource.kind)
}

/// The document for one group-version, or `None` when it is not served.
pub fn document(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let resources = registry.resources_in(group, version);
    if resources.is_empty() {
        return None;
    }
    let prefix = format!("/{}", group_version_path(group, version));
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for resource in &resources {
        let gvk =
            json!({"group": resource.group, "version": resource.version, "kind": resource.kind});
        let reference = json!({"$ref": format!("#/components/schemas/{}", schema_name(resource))});
        let response = json!({"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}});
        let operation = |action: &str, parameters: Vec<Value>| {
            json!({
                "operationId": format!("{action}{}", resource.kind),
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": parameters,
                "responses": response,
            })
        };
        let write_parameters = vec![
            parameter("dryRun"),
            parameter("fieldManager"),
            parameter("fieldValidation"),
        ];
        let mut patch_parameters = write_parameters.clone();
        patch_parameters.push(parameter("force"));
        let base = if resource.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", resource.plural)
        } else {
            format!("{prefix}/{}", resource.plural)
        };
        paths.insert(
            base.clone(),
            json!({"get": operation("list", vec![parameter("labelSelector"), parameter("fieldSelector"), parameter("limit"), parameter("continue"), parameter("watch")]),
                   "post": operation("post", write_parameters.clone())}),
        );
        paths.insert(
            format!("{base}/{{name}}"),
            json!({"get": operation("get", vec![]), "put": operation("put", write_parameters.clone()),
                   "patch": operation("patch", patch_parameters.clone()), "delete": operation("delete", vec![parameter("dryRun")])}),
        );
        if resource.has_status {
            paths.insert(
                format!("{base}/{{name}}/status"),
                json!({"get": operation("get", vec![]), "put": operation("put", write_parameters.clone()), "patch": operation("patch", patch_parameters)}),
            );
        }
        let mut schema = resource.schema.clone().unwrap_or_else(
            || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        );
        if let Some(map) = schema.as_object_mut() {
            map.insert("x-kubernetes-group-version-kind".to_string(), json!([gvk]));
        }
        schemas.insert(schema_name(resource), schema);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas}
    }))
}
