//! Origin annotations (`buildMetadata: [originAnnotations]`): where each resource came from.

use flotilla_core::{Mapping, Value};

use crate::resource::Resource;

/// Writes `config.kubernetes.io/origin` from the resource's recorded origin.
pub fn annotate_origin(resource: &mut Resource) {
    let Some(origin) = resource.origin.clone() else {
        return;
    };
    let mut text = String::new();
    if !origin.path.is_empty() {
        text.push_str(&format!("path: {}\n", origin.path));
    }
    if !origin.repo.is_empty() {
        text.push_str(&format!("repo: {}\n", origin.repo));
    }
    if !origin.git_ref.is_empty() {
        text.push_str(&format!("ref: {}\n", origin.git_ref));
    }
    if !origin.configured_in.is_empty() {
        text.push_str(&format!("configuredIn: {}\n", origin.configured_in));
    }
    if let Some((api_version, kind, name)) = &origin.configured_by {
        text.push_str(&format!(
            "configuredBy:\n  apiVersion: {api_version}\n  kind: {kind}\n  name: {name}\n"
        ));
    }
    let metadata = resource.metadata_mut();
    let annotations =
        metadata.entry_or_insert_with("annotations", || Value::Mapping(Mapping::new()));
    if let Value::Mapping(annotations) = annotations {
        annotations.insert("config.kubernetes.io/origin", Value::String(text));
    }
}
