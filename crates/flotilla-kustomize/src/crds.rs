//! `crds:` files: OpenAPI definitions of custom resources whose `x-kubernetes-object-ref-*`
//! extensions declare name references, turned into transformer configuration.

use std::path::Path;

use flotilla_core::Value;

use crate::config::{NameBackReference, TransformerConfig};
use crate::error::{BuildError, Result};
use crate::fieldspec::FieldSpec;
use crate::resource::Gvk;

/// Reads a `crds:` file: OpenAPI definitions keyed by Go type name (`pkg/path/v1.MyKind`), each
/// `{Schema, Dependencies}` (or plain schemas under `definitions`). Every property marked with
/// `x-kubernetes-object-ref-kind` is a reference, by `name`, from that kind to the named kind.
pub fn config_from_crd_file(
    files: &dyn crate::loader::FileSystem,
    path: &Path,
) -> Result<TransformerConfig> {
    let text = crate::loader::read_text(files, path)?;
    let document =
        flotilla_core::parse_single_document(&text).map_err(|source| BuildError::Yaml {
            path: path.to_path_buf(),
            error: source,
        })?;
    let definitions = document
        .get_path(&["definitions"])
        .and_then(Value::as_mapping)
        .or_else(|| document.as_mapping())
        .cloned()
        .unwrap_or_default();
    let schema_of = |definition: &Value| -> Value {
        definition
            .get_path(&["Schema"])
            .cloned()
            .unwrap_or_else(|| definition.clone())
    };
    let mut config = TransformerConfig::default();
    for (name, definition) in definitions.iter() {
        // Only top-level kinds: `….MyKind` whose schema has apiVersion and kind.
        let schema = schema_of(definition);
        let is_kind = schema.get_path(&["properties", "kind"]).is_some()
            && schema.get_path(&["properties", "apiVersion"]).is_some();
        if !is_kind {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name).to_string();
        let owner = Gvk {
            kind,
            ..Gvk::default()
        };
        let mut field_path = Vec::new();
        collect_references(
            &definitions,
            &schema,
            &owner,
            &mut field_path,
            &mut config,
            0,
        )?;
    }
    Ok(config)
}

fn collect_references(
    definitions: &flotilla_core::Mapping,
    schema: &Value,
    owner: &Gvk,
    field_path: &mut Vec<String>,
    config: &mut TransformerConfig,
    depth: usize,
) -> Result<()> {
    if depth > 32 {
        return Ok(());
    }
    let Some(properties) = schema.get_path(&["properties"]).and_then(Value::as_mapping) else {
        return Ok(());
    };
    for (name, property) in properties.iter() {
        field_path.push(name.clone());
        if let Some(kind) = property.get_str(&["x-kubernetes-object-ref-kind"]) {
            let target = Gvk::from_api_version(
                property
                    .get_str(&["x-kubernetes-object-ref-api-version"])
                    .unwrap_or(""),
                kind,
            );
            let spec = FieldSpec {
                gvk: owner.clone(),
                path: format!("{}/name", field_path.join("/")),
                create: false,
            };
            config.merge(&TransformerConfig {
                name_reference: vec![NameBackReference {
                    gvk: target,
                    referrers: vec![spec],
                }],
                ..TransformerConfig::default()
            })?;
        } else if let Some(reference) = property.get_str(&["$ref"]) {
            let name = reference.trim_start_matches("#/definitions/");
            if let Some(target) = definitions.get(name) {
                let target = target
                    .get_path(&["Schema"])
                    .cloned()
                    .unwrap_or_else(|| target.clone());
                collect_references(definitions, &target, owner, field_path, config, depth + 1)?;
            }
        } else {
            collect_references(definitions, property, owner, field_path, config, depth + 1)?;
        }
        field_path.pop();
    }
    Ok(())
}
