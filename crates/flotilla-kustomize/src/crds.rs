//! `crds:` files: OpenAPI definitions of custom resources whose `x-kubernetes-object-ref-*`
//! extensions declare name references, turned into transformer configuration.

use std::path::Path;

use flotilla_core::Value;

use crate::config::{NameBackReference, TransformerConfig};
use crate::error::{BuildError, Result};
use crate::fieldspec::FieldSpec;
use crate::resource::Gvk;

/// Reads a `crds:` file (an OpenAPI `definitions` document) into name reference specs.
pub fn config_from_crd_file(path: &Path) -> Result<TransformerConfig> {
    let text = crate::loader::read_text(path)?;
    let document =
        flotilla_core::parse_single_document(&text).map_err(|source| BuildError::Yaml {
            path: path.to_path_buf(),
            error: source,
        })?;
    let mut config = TransformerConfig::default();
    let definitions = document
        .get_path(&["definitions"])
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    for (_, definition) in definitions.iter() {
        let Some(gvk) = definition_gvk(definition) else {
            continue;
        };
        let mut path = Vec::new();
        collect_references(&definitions, definition, &gvk, &mut path, &mut config, 0);
    }
    Ok(config)
}

fn definition_gvk(definition: &Value) -> Option<Gvk> {
    let kind = definition
        .get_str(&["x-kubernetes-group-version-kind", "kind"])
        .map(str::to_string);
    let kind = kind.or_else(|| {
        definition
            .get_path(&["x-kubernetes-group-version-kind"])
            .and_then(Value::as_sequence)
            .and_then(|items| items.first())
            .and_then(|item| item.get_str(&["kind"]))
            .map(str::to_string)
    })?;
    let field = |name: &str| {
        definition
            .get_str(&["x-kubernetes-group-version-kind", name])
            .unwrap_or("")
            .to_string()
    };
    Some(Gvk {
        group: field("group"),
        version: field("version"),
        kind,
    })
}

fn collect_references(
    definitions: &flotilla_core::Mapping,
    schema: &Value,
    owner: &Gvk,
    path: &mut Vec<String>,
    config: &mut TransformerConfig,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    let Some(properties) = schema.get_path(&["properties"]).and_then(Value::as_mapping) else {
        if let Some(reference) = schema.get_str(&["$ref"]) {
            let name = reference.trim_start_matches("#/definitions/");
            if let Some(target) = definitions.get(name) {
                collect_references(definitions, target, owner, path, config, depth + 1);
            }
        }
        return;
    };
    for (name, property) in properties.iter() {
        path.push(name.clone());
        if let Some(kind) = property.get_str(&["x-kubernetes-object-ref-kind"]) {
            let name_key = property
                .get_str(&["x-kubernetes-object-ref-name-key"])
                .unwrap_or("name");
            let mut spec_path = path.join("/");
            if property.get_path(&["properties"]).is_some() || name_key != "name" {
                spec_path = format!("{spec_path}/{name_key}");
            }
            let target = Gvk {
                group: String::new(),
                version: property
                    .get_str(&["x-kubernetes-object-ref-api-version"])
                    .unwrap_or("")
                    .to_string(),
                kind: kind.to_string(),
            };
            let spec = FieldSpec {
                gvk: owner.clone(),
                path: spec_path,
                create: false,
            };
            let addition = TransformerConfig {
                name_reference: vec![NameBackReference {
                    gvk: target,
                    referrers: vec![spec],
                }],
                ..TransformerConfig::default()
            };
            let _ = config.merge(&addition);
        } else {
            collect_references(definitions, property, owner, path, config, depth + 1);
        }
        path.pop();
    }
}
