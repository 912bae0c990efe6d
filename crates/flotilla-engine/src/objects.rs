//! Desired objects and their keys: the normalised form a render becomes ([`Desired`]), the
//! `(group, kind, namespace, name)` key everything is indexed by, the `status.resources` entry
//! of an object, and the lookup of an object's live counterpart in a watch cache.
//!
//! Depends on `cluster` (resource info) and `live` (the caches) only.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::cluster::ResourceInfo;
use crate::live::LiveCache;

/// One desired object, normalised for the destination.
#[derive(Clone, Debug)]
pub(crate) struct Desired {
    /// The object as compact JSON (parsed only to compare or apply it: a cached Application
    /// keeps thousands of these).
    pub object_text: Arc<str>,
    pub api_version: String,
    /// None while the kind is unknown to the cluster (its CRD may be in the same sync).
    pub info: Option<ResourceInfo>,
    pub hook: bool,
    pub key: ObjectKey,
    /// The container images it names (`status.summary.images`).
    pub images: Vec<String>,
}

impl Desired {
    pub(crate) fn new(object: Value, info: Option<ResourceInfo>, hook: bool) -> Desired {
        Desired {
            object_text: object.to_string().into(),
            api_version: object["apiVersion"].as_str().unwrap_or("").to_string(),
            key: object_key(&object),
            images: images_of(&object),
            info,
            hook,
        }
    }

    /// The object, parsed.
    pub(crate) fn object(&self) -> Value {
        serde_json::from_str(&self.object_text).unwrap_or(Value::Null)
    }
}

/// (group, kind, namespace, name)
pub(crate) type ObjectKey = (String, String, String, String);

pub(crate) fn object_key(object: &Value) -> ObjectKey {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let group = api_version
        .rsplit_once('/')
        .map(|(group, _)| group)
        .unwrap_or("");
    (
        group.to_string(),
        object["kind"].as_str().unwrap_or("").to_string(),
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

pub(crate) fn is_hook(object: &Value) -> bool {
    let annotations = &object["metadata"]["annotations"];
    annotations["argocd.argoproj.io/hook"].is_string() || annotations["helm.sh/hook"].is_string()
}

fn images_of(object: &Value) -> Vec<String> {
    let mut images = Vec::new();
    let spec = &object["spec"];
    let pod_specs = [
        &spec["template"]["spec"],
        spec,
        &spec["jobTemplate"]["spec"]["template"]["spec"],
    ];
    for pod_spec in pod_specs {
        for list in ["containers", "initContainers"] {
            if let Some(containers) = pod_spec[list].as_array() {
                for container in containers {
                    if let Some(image) = container["image"].as_str() {
                        images.push(image.to_string());
                    }
                }
            }
        }
    }
    images
}

pub(crate) fn resource_entry(object: &Value) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    let mut entry =
        json!({"version": version, "kind": object["kind"], "name": object["metadata"]["name"]});
    if !group.is_empty() {
        entry["group"] = json!(group);
    }
    if let Some(namespace) = object["metadata"]["namespace"]
        .as_str()
        .filter(|namespace| !namespace.is_empty())
    {
        entry["namespace"] = json!(namespace);
    }
    entry
}

pub(crate) fn live_version(cache: &LiveCache, desired: &Desired) -> Option<String> {
    let kind_cache = cache.watched(&desired.api_version, &desired.key.1)?;
    kind_cache.version(&desired.key.2, &desired.key.3)
}

pub(crate) fn live_object(cache: &LiveCache, object: &Value) -> Option<Arc<Value>> {
    let api_version = object["apiVersion"].as_str()?;
    let kind = object["kind"].as_str()?;
    let kind_cache = cache.watched(api_version, kind)?;
    kind_cache.get(
        object["metadata"]["namespace"].as_str().unwrap_or(""),
        object["metadata"]["name"].as_str()?,
    )
}
