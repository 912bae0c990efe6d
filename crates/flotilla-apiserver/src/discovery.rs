//! Discovery documents: `/version`, the legacy `/api`, `/apis`, `/api/v1` and
//! `/apis/{group}/{version}` shapes, and aggregated discovery (`apidiscovery.k8s.io` v2 and
//! v2beta1 `APIGroupDiscoveryList`) when the client asks for it. Subresources listed: `status`,
//! and `scale` (kind `autoscaling/v1` `Scale`) where it is served.

use serde_json::{json, Value};

use crate::registry::{Registry, ResourceType, VERBS};
use crate::scale::{SCALE_GROUP, SCALE_KIND, SCALE_VERSION};

/// The Kubernetes version this server presents.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0+flotilla",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// Which aggregated discovery version the `Accept` header asks for, if any.
pub fn aggregated_version(accept: &str) -> Option<&'static str> {
    for part in accept.split(',') {
        let part = part.replace(' ', "");
        if part.contains("g=apidiscovery.k8s.io") && part.contains("as=APIGroupDiscoveryList") {
            if part.contains("v=v2beta1") {
                return Some("v2beta1");
            }
            if part.contains("v=v2") {
                return Some("v2");
            }
        }
    }
    None
}

pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
    })
}

fn group_entry(group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| json!({"groupVersion": format!("{group}/{version}"), "version": version}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

pub fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .iter()
        .map(|group| group_entry(&group.group, &group.versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(registry: &Registry, name: &str) -> Option<Value> {
    let found = registry
        .groups()
        .into_iter()
        .find(|group| group.group == name)?;
    let mut entry = group_entry(&found.group, &found.versions);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let types = registry.resources_in(group, version);
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for resource in &types {
        let mut entry = json!({
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": VERBS,
        });
        if !resource.short_names.is_empty() {
            entry["shortNames"] = json!(resource.short_names);
        }
        if !resource.categories.is_empty() {
            entry["categories"] = json!(resource.categories);
        }
        resources.push(entry);
        if resource.has_status {
            resources.push(json!({
                "name": format!("{}/status", resource.plural),
                "singularName": "",
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if registry.scale(resource).is_some() {
            resources.push(json!({
                "name": format!("{}/scale", resource.plural),
                "singularName": "",
                "namespaced": resource.namespaced,
                "group": SCALE_GROUP,
                "version": SCALE_VERSION,
                "kind": SCALE_KIND,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

fn discovery_resource(resource: &ResourceType, scaled: bool) -> Value {
    let response_kind =
        json!({"group": resource.group, "version": resource.version, "kind": resource.kind});
    let mut entry = json!({
        "resource": resource.plural,
        "responseKind": response_kind,
        "scope": if resource.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": resource.singular,
        "verbs": VERBS,
    });
    if !resource.short_names.is_empty() {
        entry["shortNames"] = json!(resource.short_names);
    }
    if !resource.categories.is_empty() {
        entry["categories"] = json!(resource.categories);
    }
    let mut subresources = Vec::new();
    if resource.has_status {
        subresources.push(json!({
            "subresource": "status",
            "responseKind": response_kind,
            "verbs": ["get", "patch", "update"]
        }));
    }
    if scaled {
        subresources.push(json!({
            "subresource": "scale",
            "responseKind": {"group": SCALE_GROUP, "version": SCALE_VERSION, "kind": SCALE_KIND},
            "verbs": ["get", "patch", "update"]
        }));
    }
    if !subresources.is_empty() {
        entry["subresources"] = Value::Array(subresources);
    }
    entry
}

/// The aggregated discovery document for `/api` (`core == true`) or `/apis`.
pub fn aggregated(registry: &Registry, core: bool, discovery_version: &str) -> Value {
    let all = registry.all();
    let mut items = Vec::new();
    let groups: Vec<(String, Vec<String>)> = if core {
        vec![(String::new(), vec!["v1".to_string()])]
    } else {
        registry
            .groups()
            .into_iter()
            .map(|group| (group.group, group.versions))
            .collect()
    };
    for (group, versions) in groups {
        let versions: Vec<Value> = versions
            .iter()
            .map(|version| {
                let resources: Vec<Value> = all
                    .iter()
                    .filter(|resource| resource.group == group && &resource.version == version)
                    .map(|resource| {
                        discovery_resource(resource, registry.scale(resource).is_some())
                    })
                    .collect();
                json!({"version": version, "resources": resources, "freshness": "Current"})
            })
            .collect();
        let metadata = if group.is_empty() {
            json!({"creationTimestamp": null})
        } else {
            json!({"name": group, "creationTimestamp": null})
        };
        items.push(json!({"metadata": metadata, "versions": versions}));
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{discovery_version}"),
        "metadata": {},
        "items": items
    })
}
