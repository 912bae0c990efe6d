//! Origin annotations (`buildMetadata: [originAnnotations]`): where each resource came from,
//! relative to the kustomization being built.

use std::path::{Component, Path, PathBuf};

use flotilla_core::{Mapping, Value};

use crate::resource::{Origin, Resource};

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

fn origin_lines(origin: &Origin, root: &Path, indent: &str, first_prefix: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    if !origin.path.is_empty() {
        lines.push(format!(
            "path: {}",
            relative_path(Path::new(&origin.path), root)
        ));
    }
    if !origin.repo.is_empty() {
        lines.push(format!("repo: {}", origin.repo));
    }
    if !origin.git_ref.is_empty() {
        lines.push(format!("ref: {}", origin.git_ref));
    }
    if !origin.configured_in.is_empty() {
        lines.push(format!(
            "configuredIn: {}",
            relative_path(Path::new(&origin.configured_in), root)
        ));
    }
    if let Some(by) = &origin.configured_by {
        lines.push("configuredBy:".to_string());
        lines.push("  apiVersion: builtin".to_string());
        lines.push(format!("  kind: {}", by.kind));
        if !by.name.is_empty() {
            lines.push(format!("  name: {}", by.name));
        }
        if !by.namespace.is_empty() {
            lines.push(format!("  namespace: {}", by.namespace));
        }
    }
    let mut text = String::new();
    for (index, line) in lines.iter().enumerate() {
        text.push_str(if index == 0 { first_prefix } else { indent });
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn set_annotation(resource: &mut Resource, key: &str, text: String) {
    let metadata = resource.metadata_mut();
    let annotations =
        metadata.entry_or_insert_with("annotations", || Value::Mapping(Mapping::new()));
    if let Value::Mapping(annotations) = annotations {
        annotations.insert(key, Value::String(text));
    }
}

/// Writes `config.kubernetes.io/origin` from the resource's recorded origin; paths are made
/// relative to `root` (the directory of the top kustomization).
pub fn annotate_origin(resource: &mut Resource, root: &Path) {
    let Some(origin) = resource.origin.clone() else {
        return;
    };
    set_annotation(
        resource,
        "config.kubernetes.io/origin",
        origin_lines(&origin, root, "", ""),
    );
}

/// Writes `alpha.config.kubernetes.io/transformations`: every builtin transformer that ran over
/// the resource, in order.
pub fn annotate_transformations(resource: &mut Resource, root: &Path) {
    if resource.transformations.is_empty() {
        return;
    }
    let text: String = resource
        .transformations
        .iter()
        .map(|origin| origin_lines(origin, root, "  ", "- "))
        .collect();
    set_annotation(resource, "alpha.config.kubernetes.io/transformations", text);
}
