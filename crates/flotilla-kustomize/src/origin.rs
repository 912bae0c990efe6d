//! Origin annotations (`buildMetadata: [originAnnotations]`): where each resource came from,
//! relative to the kustomization being built.

use std::path::{Component, Path, PathBuf};

use flotilla_core::{Mapping, Value};

use crate::resource::Resource;

/// `path` relative to the directory `base` (both absolute), with `..` where needed.
pub fn relative_path(path: &Path, base: &Path) -> String {
    let path_parts: Vec<Component> = path.components().collect();
    let base_parts: Vec<Component> = base.components().collect();
    let common = path_parts
        .iter()
        .zip(base_parts.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let mut relative = PathBuf::new();
    for _ in common..base_parts.len() {
        relative.push("..");
    }
    for part in &path_parts[common..] {
        relative.push(part.as_os_str());
    }
    relative.display().to_string()
}

/// Writes `config.kubernetes.io/origin` from the resource's recorded origin; paths are made
/// relative to `root` (the directory of the top kustomization).
pub fn annotate_origin(resource: &mut Resource, root: &Path) {
    let Some(origin) = resource.origin.clone() else {
        return;
    };
    let mut text = String::new();
    if !origin.path.is_empty() {
        text.push_str(&format!(
            "path: {}\n",
            relative_path(Path::new(&origin.path), root)
        ));
    }
    if !origin.repo.is_empty() {
        text.push_str(&format!("repo: {}\n", origin.repo));
    }
    if !origin.git_ref.is_empty() {
        text.push_str(&format!("ref: {}\n", origin.git_ref));
    }
    if !origin.configured_in.is_empty() {
        text.push_str(&format!(
            "configuredIn: {}\n",
            relative_path(Path::new(&origin.configured_in), root)
        ));
    }
    if let Some((api_version, kind, name)) = &origin.configured_by {
        text.push_str(&format!(
            "configuredBy:\n  apiVersion: {api_version}\n  kind: {kind}\n"
        ));
        if !name.is_empty() {
            text.push_str(&format!("  name: {name}\n"));
        }
    }
    let metadata = resource.metadata_mut();
    let annotations =
        metadata.entry_or_insert_with("annotations", || Value::Mapping(Mapping::new()));
    if let Value::Mapping(annotations) = annotations {
        annotations.insert("config.kubernetes.io/origin", Value::String(text));
    }
}
