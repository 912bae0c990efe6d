//! Patches: `patchesStrategicMerge`, `patches` (strategic merge or JSON 6902, with or without a
//! `target` selector) and `patchesJson6902`, applied to the accumulated resources.
//!
//! The merge algorithms live in `flotilla-patch`; this module finds the targets, loads patch
//! files, and enforces kustomize's rules around them (a patch without a target must match exactly
//! one resource by its own id; changing a name or kind needs `options`).

use std::path::Path;

use flotilla_core::Value;

use crate::build::BuildOptions;
use crate::error::{BuildError, Result};
use crate::kustomization::Kustomization;
use crate::loader;
use crate::resource::{Gvk, NameIndex, ResId, ResMap};
use crate::selector::Selector;

pub use flotilla_patch::Schema;

/// The schema patches of this kustomization use: the builtin Kubernetes schema, or the one the
/// `openapi:` field names.
pub fn schema_for(kustomization: &Kustomization, options: BuildOptions<'_>) -> Result<Schema> {
    let Some(openapi) = kustomization.field("openapi") else {
        return Ok(Schema::builtin().clone());
    };
    let path = openapi.get_str(&["path"]).unwrap_or("");
    let version = openapi.get_str(&["version"]).unwrap_or("");
    if !path.is_empty() && !version.is_empty() {
        return Err(kustomization.invalid(
            "the openapi field may have either `path` or `version`, not both".to_string(),
        ));
    }
    if !version.is_empty() {
        if version != "v1.21.2" {
            return Err(kustomization.invalid(format!(
                "openapi version `{version}` is not built in: only v1.21.2 is"
            )));
        }
        return Ok(Schema::builtin().clone());
    }
    if path.is_empty() {
        return Ok(Schema::builtin().clone());
    }
    let file = loader::resolve_restricted(
        options.files(),
        kustomization.dir(),
        path,
        options.load_restrictor,
    )?;
    let text = loader::read_text(options.files(), &file)?;
    Schema::builtin()
        .extended_with(&text)
        .map_err(|error| BuildError::InvalidResource {
            path: file,
            message: error.to_string(),
        })
}

/// Parses patch text (inline or from a file) into documents.
fn patch_documents(text: &str, origin: &str) -> Result<Vec<Value>> {
    let documents = flotilla_core::parse_documents(text).map_err(|source| BuildError::Yaml {
        path: origin.into(),
        error: source,
    })?;
    Ok(documents
        .into_iter()
        .filter(|document| !document.is_null())
        .collect())
}

/// A `patchesStrategicMerge` entry: a file path or inline YAML.
pub fn patch_strategic_merge_entry(
    dir: &Path,
    entry: &Value,
    schema: &Schema,
    options: BuildOptions<'_>,
    resources: &mut ResMap,
) -> Result<()> {
    patch_strategic_merge_entry_indexed(
        dir,
        entry,
        schema,
        options,
        resources,
        &mut NameIndex::new(),
    )
}

/// `patch_strategic_merge_entry` with an index of `resources`' names that the caller keeps
/// across entries.
pub fn patch_strategic_merge_entry_indexed(
    dir: &Path,
    entry: &Value,
    schema: &Schema,
    options: BuildOptions<'_>,
    resources: &mut ResMap,
    names: &mut NameIndex,
) -> Result<()> {
    let text = entry
        .as_str()
        .ok_or_else(|| BuildError::transform("a patchesStrategicMerge entry must be a string"))?;
    let (patch_text, origin) = load_path_or_inline(dir, text, options)?;
    let documents = patch_documents(&patch_text, &origin)?;
    if documents.is_empty() {
        return Err(BuildError::transform(format!("patch `{origin}` is empty")));
    }
    for patch in documents {
        apply_smp_by_id(&patch, schema, resources, &origin, names)?;
    }
    Ok(())
}

/// Loads `entry` as a file relative to `dir` when it looks like one, or uses it as inline YAML.
fn load_path_or_inline(
    dir: &Path,
    entry: &str,
    options: BuildOptions<'_>,
) -> Result<(String, String)> {
    let looks_inline =
        entry.contains('\n') || entry.trim_start().starts_with('{') || entry.contains(": ");
    if !looks_inline {
        let path =
            loader::resolve_restricted(options.files(), dir, entry, options.load_restrictor)?;
        return Ok((
            loader::read_text(options.files(), &path)?,
            path.display().to_string(),
        ));
    }
    Ok((entry.to_string(), "inline patch".to_string()))
}

/// A strategic merge patch without a target: it names its target by apiVersion, kind, name
/// and namespace.
fn apply_smp_by_id(
    patch: &Value,
    schema: &Schema,
    resources: &mut ResMap,
    origin: &str,
    names: &mut NameIndex,
) -> Result<()> {
    let id = ResId {
        gvk: Gvk::from_api_version(
            patch.get_str(&["apiVersion"]).unwrap_or(""),
            patch.get_str(&["kind"]).unwrap_or(""),
        ),
        name: patch
            .get_str(&["metadata", "name"])
            .unwrap_or("")
            .to_string(),
        namespace: patch
            .get_str(&["metadata", "namespace"])
            .unwrap_or("")
            .to_string(),
    };
    let matches = names.find_by_any_id(resources, &id);
    match matches.as_slice() {
        [index] => apply_smp_at(
            *index,
            patch,
            schema,
            resources,
            PatchOptions::default(),
            names,
        ),
        [] => Err(BuildError::transform(format!(
            "no resource matches strategic merge patch `{origin}`: no object with id {id}"
        ))),
        _ => Err(BuildError::transform(format!(
            "multiple resources match strategic merge patch `{origin}` (id {id})"
        ))),
    }
}

/// kustomize's patch `options`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PatchOptions {
    pub allow_name_change: bool,
    pub allow_kind_change: bool,
}

fn apply_smp_at(
    index: usize,
    patch: &Value,
    schema: &Schema,
    resources: &mut ResMap,
    options: PatchOptions,
    names: &mut NameIndex,
) -> Result<()> {
    let resource = &resources.resources[index];
    let before = resource.current_id();
    // The patch's own name and namespace only select; unless renames are allowed, the target
    // keeps its name and namespace.
    let mut patch = patch.clone();
    if let Some(mapping) = patch.as_mapping_mut() {
        if let Some(Value::Mapping(metadata)) = mapping.get_mut("metadata") {
            if !options.allow_name_change {
                metadata.insert("name", Value::string(resource.name()));
            }
            if resource.namespace().is_empty() {
                metadata.remove("namespace");
            } else {
                metadata.insert("namespace", Value::string(resource.namespace()));
            }
        }
    }
    let outcome =
        flotilla_patch::strategic_merge(&resource.object, &patch, schema).map_err(|error| {
            BuildError::transform(format!(
                "applying strategic merge patch to {before}: {error}"
            ))
        })?;
    match outcome {
        flotilla_patch::MergeOutcome::Deleted => {
            resources.resources.remove(index);
            names.invalidate();
            Ok(())
        }
        flotilla_patch::MergeOutcome::Merged(mut object) => {
            // The schema was chosen with the patch's own kind (a Deployment patch merges
            // containers by name even into a custom kind); the target keeps its kind unless
            // the patch may change it.
            if !options.allow_kind_change {
                if let Some(mapping) = object.as_mapping_mut() {
                    if before.gvk.api_version().is_empty() {
                        mapping.remove("apiVersion");
                    } else {
                        mapping.insert("apiVersion", Value::String(before.gvk.api_version()));
                    }
                    mapping.insert("kind", Value::String(before.gvk.kind.clone()));
                }
            }
            replace_object(index, object, resources, options, before, names)
        }
    }
}

fn replace_object(
    index: usize,
    object: Value,
    resources: &mut ResMap,
    options: PatchOptions,
    before: ResId,
    names: &mut NameIndex,
) -> Result<()> {
    let resource = &mut resources.resources[index];
    let after_name = object
        .get_str(&["metadata", "name"])
        .unwrap_or("")
        .to_string();
    let after_kind = object.get_str(&["kind"]).unwrap_or("").to_string();
    if after_name != before.name && !options.allow_name_change {
        return Err(BuildError::transform(format!(
            "a patch changed the name of {before} to `{after_name}`: set `options: {{allowNameChange: true}}` on the patch to allow it"
        )));
    }
    if after_kind != before.gvk.kind && !options.allow_kind_change {
        return Err(BuildError::transform(format!(
            "a patch changed the kind of {before} to `{after_kind}`: set `options: {{allowKindChange: true}}` on the patch to allow it"
        )));
    }
    let renamed = after_name != before.name || after_kind != before.gvk.kind;
    if renamed {
        resource.previous_ids.push(before);
    }
    resource.object = object;
    if renamed {
        names.changed(index, resource);
    }
    Ok(())
}

/// The text of a patch entry given as `path` (a file) or `patch` (inline), and where it came
/// from for messages. Exactly one of the two must be given.
fn load_patch_text(
    dir: &Path,
    entry: &Value,
    options: BuildOptions<'_>,
    field: &str,
) -> Result<(String, String)> {
    let path = entry.get_str(&["path"]).unwrap_or("");
    let inline = entry.get_str(&["patch"]).unwrap_or("");
    match (path.is_empty(), inline.trim().is_empty()) {
        (false, false) => Err(BuildError::transform(format!(
            "a {field} entry may have `path` or `patch`, not both"
        ))),
        (true, true) => Err(BuildError::transform(format!(
            "a {field} entry needs `path` or `patch`"
        ))),
        (false, true) => {
            let file =
                loader::resolve_restricted(options.files(), dir, path, options.load_restrictor)?;
            Ok((
                loader::read_text(options.files(), &file)?,
                file.display().to_string(),
            ))
        }
        (true, false) => Ok((inline.trim().to_string(), "inline patch".to_string())),
    }
}

/// Reads JSON 6902 operations as kustomize does (JSON, or YAML with 1.1 scalars).
fn json_patch_operations(text: &str, origin: &str) -> Result<Value> {
    flotilla_patch::parse_json_patch(text)
        .map_err(|error| BuildError::transform(format!("JSON 6902 patch `{origin}`: {error}")))
}

/// A `patches:` entry: `path` or `patch`, optional `target` and `options`.
pub fn patch_entry(
    dir: &Path,
    entry: &Value,
    schema: &Schema,
    options: BuildOptions<'_>,
    resources: &mut ResMap,
) -> Result<()> {
    patch_entry_indexed(
        dir,
        entry,
        schema,
        options,
        resources,
        &mut NameIndex::new(),
    )
}

/// `patch_entry` with an index of `resources`' names that the caller keeps across entries.
pub fn patch_entry_indexed(
    dir: &Path,
    entry: &Value,
    schema: &Schema,
    options: BuildOptions<'_>,
    resources: &mut ResMap,
    names: &mut NameIndex,
) -> Result<()> {
    let (text, origin) = load_patch_text(dir, entry, options, "patches")?;
    let patch_options = PatchOptions {
        allow_name_change: entry
            .get_path(&["options", "allowNameChange"])
            .and_then(Value::as_bool)
            .unwrap_or(false),
        allow_kind_change: entry
            .get_path(&["options", "allowKindChange"])
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let target = entry
        .get_path(&["target"])
        .map(Selector::from_value)
        .transpose()?;
    let documents = patch_documents(&text, &origin)?;
    if documents.is_empty() {
        return Err(BuildError::transform(format!("patch `{origin}` is empty")));
    }
    // A list is a JSON 6902 patch; of several documents only the first counts, as in kustomize.
    let is_json_patch =
        text.starts_with('[') || matches!(documents.first(), Some(Value::Sequence(_)));
    if is_json_patch {
        let Some(target) = target else {
            return Err(BuildError::transform(format!(
                "JSON 6902 patch `{origin}` needs a `target`"
            )));
        };
        let operations = json_patch_operations(&text, &origin)?;
        for index in target.select_indexed(resources, names)? {
            apply_json_patch_at(index, &operations, resources, patch_options, names)?;
        }
        return Ok(());
    }
    match target {
        None => {
            for patch in &documents {
                apply_smp_by_id(patch, schema, resources, &origin, names)?;
            }
        }
        Some(_) if documents.len() > 1 => {
            return Err(BuildError::transform(format!(
                "patch `{origin}` holds {} strategic merge patches: several patches in one `patches` entry may not set `target`; give each its own entry",
                documents.len()
            )));
        }
        Some(target) => {
            for patch in &documents {
                // Deleting shifts indexes: select again for each patch, and walk backwards.
                let selected = target.select_indexed(resources, names)?;
                for index in selected.into_iter().rev() {
                    let patch = flotilla_patch::kustomize::targeted_strategic_patch(
                        patch,
                        &resources.resources[index].object,
                    );
                    apply_smp_at(index, &patch, schema, resources, patch_options, names)?;
                }
            }
        }
    }
    Ok(())
}

fn apply_json_patch_at(
    index: usize,
    operations: &Value,
    resources: &mut ResMap,
    options: PatchOptions,
    names: &mut NameIndex,
) -> Result<()> {
    let before = resources.resources[index].current_id();
    flotilla_patch::kustomize::before_json_patch(&mut resources.resources[index].object);
    let mut object = flotilla_patch::json_patch(&resources.resources[index].object, operations)
        .map_err(|error| {
            BuildError::transform(format!("applying JSON 6902 patch to {before}: {error}"))
        })?;
    flotilla_patch::kustomize::after_json_patch(&mut object);
    // JSON patches may rename: kustomize records the rename rather than refusing it.
    let _ = options;
    let options = PatchOptions {
        allow_name_change: true,
        allow_kind_change: true,
    };
    replace_object(index, object, resources, options, before, names)
}

/// A `patchesJson6902` entry: `target` (group, version, kind, name, namespace; the name is
/// required) and `path` or `patch`. A target that selects nothing is no error: the patch is
/// skipped, as with `patches:`.
pub fn patch_json6902_entry(
    dir: &Path,
    entry: &Value,
    options: BuildOptions<'_>,
    resources: &mut ResMap,
) -> Result<()> {
    patch_json6902_entry_indexed(dir, entry, options, resources, &mut NameIndex::new())
}

/// `patch_json6902_entry` with an index of `resources`' names that the caller keeps across
/// entries.
pub fn patch_json6902_entry_indexed(
    dir: &Path,
    entry: &Value,
    options: BuildOptions<'_>,
    resources: &mut ResMap,
    names: &mut NameIndex,
) -> Result<()> {
    let Some(target_value) = entry.get_path(&["target"]) else {
        return Err(BuildError::transform(
            "a patchesJson6902 entry needs a `target`",
        ));
    };
    let has_name = target_value
        .get_path(&["name"])
        .and_then(Value::scalar_text)
        .is_some_and(|name| !name.is_empty());
    if !has_name {
        return Err(BuildError::transform(
            "the `target` of a patchesJson6902 entry needs a `name`",
        ));
    }
    let target = Selector::from_value(target_value)?;
    let (text, origin) = load_patch_text(dir, entry, options, "patchesJson6902")?;
    let operations = &json_patch_operations(&text, &origin)?;
    for index in target.select_indexed(resources, names)? {
        apply_json_patch_at(index, operations, resources, PatchOptions::default(), names)?;
    }
    Ok(())
}
