//! `generators:` and `transformers:` entries naming kustomize's builtin plugins
//! (`apiVersion: builtin`), given as files, inline YAML, or kustomizations whose output is
//! plugin configs. Each config runs the same code as the kustomization field it mirrors, with
//! the field specs the config gives (no defaults are added).

use std::path::{Path, PathBuf};

use flotilla_core::Value;

use crate::build::{Accumulator, BuildOptions};
use crate::error::{BuildError, Result};
use crate::fieldspec::FieldSpec;
use crate::kustomization::Kustomization;
use crate::resource::ResMap;
use crate::transformers::{self, string_pairs, SubjectMode};
use crate::{generators, loader, patches, replacements};

/// Runs the kustomization's `generators:`.
pub fn run_generator_plugins(
    kustomization: &Kustomization,
    options: BuildOptions<'_>,
    accumulator: &mut Accumulator,
) -> Result<()> {
    for entry in kustomization.string_list("generators")? {
        for (config, source) in load_plugin_configs(kustomization, &entry, options)? {
            let kind = config.get_str(&["kind"]).unwrap_or("").to_string();
            match kind.as_str() {
                "ConfigMapGenerator" | "SecretGenerator" => {
                    let resource = generators::generate_from_plugin_config(
                        kustomization.dir(),
                        &source,
                        &config,
                        options,
                    )?;
                    generators::absorb_generated(&mut accumulator.resources, resource)?;
                }
                "IAMPolicyGenerator" => {
                    let resource = iam_policy_service_account(&config)?;
                    accumulator.resources.append(resource)?;
                }
                _ => return Err(unsupported_plugin(&kind, &entry)),
            }
        }
    }
    Ok(())
}

/// kustomize's IAMPolicyGenerator (`cloud: gke`): a ServiceAccount annotated with the Google
/// service account it may act as (GKE workload identity).
fn iam_policy_service_account(config: &Value) -> Result<crate::resource::Resource> {
    let text = |path: &[&str]| {
        config
            .get_path(path)
            .and_then(Value::scalar_text)
            .unwrap_or_default()
    };
    let cloud = text(&["cloud"]);
    if cloud != "gke" {
        return Err(BuildError::transform(format!(
            "IAMPolicyGenerator: cloud `{cloud}` is not supported (only `gke`)"
        )));
    }
    let name = text(&["kubernetesService", "name"]);
    if name.is_empty() {
        return Err(BuildError::transform(
            "IAMPolicyGenerator needs `kubernetesService.name`",
        ));
    }
    let mut annotations = flotilla_core::Mapping::new();
    annotations.insert(
        "iam.gke.io/gcp-service-account",
        Value::String(format!(
            "{}@{}.iam.gserviceaccount.com",
            text(&["serviceAccount", "name"]),
            text(&["serviceAccount", "projectId"])
        )),
    );
    let mut metadata = flotilla_core::Mapping::new();
    metadata.insert("annotations", Value::Mapping(annotations));
    metadata.insert("name", Value::String(name));
    let namespace = text(&["kubernetesService", "namespace"]);
    if !namespace.is_empty() {
        metadata.insert("namespace", Value::String(namespace));
    }
    let mut object = flotilla_core::Mapping::new();
    object.insert("apiVersion", Value::string("v1"));
    object.insert("kind", Value::string("ServiceAccount"));
    object.insert("metadata", Value::Mapping(metadata));
    Ok(crate::resource::Resource::new(Value::Mapping(object)))
}

/// Runs the kustomization's `transformers:`.
pub fn run_transformer_plugins(
    kustomization: &Kustomization,
    options: BuildOptions<'_>,
    custom_schema: Option<&patches::Schema>,
    accumulator: &mut Accumulator,
) -> Result<()> {
    for entry in kustomization.string_list("transformers")? {
        for (config, source) in load_plugin_configs(kustomization, &entry, options)? {
            run_transformer_config(
                kustomization.dir(),
                &config,
                &entry,
                options,
                custom_schema,
                &mut accumulator.resources,
            )
            .map_err(|error| BuildError::transform(format!("transformer `{entry}`: {error}")))?;
            if !accumulator.records_transformations {
                continue;
            }
            crate::transformers::record_transformation(
                &mut accumulator.resources,
                &source,
                config.get_str(&["kind"]).unwrap_or(""),
                config.get_str(&["metadata", "name"]).unwrap_or(""),
                config.get_str(&["metadata", "namespace"]).unwrap_or(""),
            );
        }
    }
    Ok(())
}

fn unsupported_plugin(kind: &str, entry: &str) -> BuildError {
    BuildError::Unsupported {
        message: format!(
            "`{entry}`: plugin kind `{kind}` is not a builtin kustomize plugin flotilla knows (external plugins are not supported)"
        ),
    }
}

/// The plugin configs an entry stands for: a file (every document), a directory (the built
/// kustomization's resources), or inline YAML.
fn load_plugin_configs(
    kustomization: &Kustomization,
    entry: &str,
    options: BuildOptions<'_>,
) -> Result<Vec<(Value, PathBuf)>> {
    let inline = entry.contains('\n') || entry.contains(": ");
    let (documents, source) = if inline {
        let documents =
            flotilla_core::parse_documents(entry).map_err(|source| BuildError::Yaml {
                path: "inline plugin config".into(),
                error: source,
            })?;
        (documents, kustomization.path.clone())
    } else {
        let lexical = loader::join_clean(kustomization.dir(), entry);
        if options.files().is_dir(&lexical) {
            let built = crate::build::build(&lexical, options)?;
            return Ok(built
                .resources
                .into_iter()
                .map(|resource| {
                    let source = resource
                        .origin
                        .as_ref()
                        .map(|origin| PathBuf::from(&origin.path))
                        .unwrap_or_else(|| lexical.clone());
                    (resource.object, source)
                })
                .collect());
        }
        let path = loader::resolve_restricted(
            options.files(),
            kustomization.dir(),
            entry,
            options.load_restrictor,
        )?;
        let text = loader::read_text(options.files(), &path)?;
        let documents =
            flotilla_core::parse_documents(&text).map_err(|source| BuildError::Yaml {
                path: path.clone(),
                error: source,
            })?;
        (documents, path)
    };
    Ok(documents
        .into_iter()
        .filter(|document| !document.is_null())
        .map(|document| (document, source.clone()))
        .collect())
}

fn config_field_specs(config: &Value) -> Result<Vec<FieldSpec>> {
    config
        .get_path(&["fieldSpecs"])
        .and_then(Value::as_sequence)
        .map(|items| items.iter().map(FieldSpec::from_value).collect())
        .unwrap_or_else(|| Ok(Vec::new()))
}

/// Field names of the builtin plugin configs; Go's decoder matches them case-insensitively
/// (`Path:` is `path:`).
const PLUGIN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "path",
    "patch",
    "paths",
    "patches",
    "target",
    "options",
    "jsonOp",
    "fieldSpecs",
    "imageTag",
    "replica",
    "labels",
    "annotations",
    "prefix",
    "suffix",
    "unsetOnly",
    "setRoleBindingSubjects",
    "replacements",
    "name",
    "namespace",
    "behavior",
    "literals",
    "files",
    "envs",
    "env",
    "type",
];

fn normalize_plugin_keys(config: &Value) -> Value {
    let Some(mapping) = config.as_mapping() else {
        return config.clone();
    };
    Value::Mapping(
        mapping
            .iter()
            .map(|(key, value)| {
                let canonical =
                    crate::kustomization::canonical_field(key, PLUGIN_FIELDS).unwrap_or(key);
                (canonical.to_string(), value.clone())
            })
            .collect(),
    )
}

fn run_transformer_config(
    dir: &Path,
    config: &Value,
    entry: &str,
    options: BuildOptions<'_>,
    custom_schema: Option<&patches::Schema>,
    resources: &mut ResMap,
) -> Result<()> {
    let schema = || {
        custom_schema
            .cloned()
            .unwrap_or_else(|| patches::Schema::builtin().clone())
    };
    let config = &normalize_plugin_keys(config);
    let kind = config.get_str(&["kind"]).unwrap_or("").to_string();
    let text = |path: &[&str]| {
        config
            .get_path(path)
            .and_then(Value::scalar_text)
            .unwrap_or_default()
    };
    match kind.as_str() {
        "PatchTransformer" => {
            let schema = schema();
            let mut patch_entry = config.clone();
            if let Some(mapping) = patch_entry.as_mapping_mut() {
                for field in ["apiVersion", "kind", "metadata"] {
                    mapping.remove(field);
                }
            }
            patches::patch_entry(dir, &patch_entry, &schema, options, resources)
        }
        "PatchStrategicMergeTransformer" => {
            let schema = schema();
            let paths: Vec<Value> = config
                .get_path(&["paths"])
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default();
            let inline = text(&["patches"]);
            if paths.is_empty() && inline.trim().is_empty() {
                return Err(BuildError::transform(
                    "empty file path and empty patch content",
                ));
            }
            if !paths.is_empty() && !inline.trim().is_empty() {
                return Err(BuildError::transform(
                    "path and patches may not both be given",
                ));
            }
            for path in &paths {
                patches::patch_strategic_merge_entry(dir, path, &schema, options, resources)?;
            }
            if !inline.trim().is_empty() {
                patches::patch_strategic_merge_entry(
                    dir,
                    &Value::String(inline),
                    &schema,
                    options,
                    resources,
                )?;
            }
            Ok(())
        }
        "PatchJson6902Transformer" => {
            let mut patch_entry = config.clone();
            if let Some(mapping) = patch_entry.as_mapping_mut() {
                if let Some(operations) = mapping.remove("jsonOp") {
                    mapping.insert("patch", operations);
                }
            }
            patches::patch_json6902_entry(dir, &patch_entry, options, resources)
        }
        "NamespaceTransformer" => {
            let namespace = text(&["metadata", "namespace"]);
            let mode = match text(&["setRoleBindingSubjects"]).as_str() {
                "" | "defaultOnly" => SubjectMode::DefaultOnly,
                "allServiceAccounts" => SubjectMode::AllServiceAccounts,
                "none" => SubjectMode::None,
                other => {
                    return Err(BuildError::transform(format!(
                        "invalid setRoleBindingSubjects `{other}`: use defaultOnly, allServiceAccounts or none"
                    )))
                }
            };
            let unset_only = config
                .get_path(&["unsetOnly"])
                .and_then(Value::as_bool)
                .unwrap_or(false);
            transformers::set_namespace(
                resources,
                &namespace,
                &config_field_specs(config)?,
                mode,
                unset_only,
            )
        }
        "PrefixTransformer" | "SuffixTransformer" | "PrefixSuffixTransformer" => {
            transformers::add_prefix_suffix(
                resources,
                &text(&["prefix"]),
                &text(&["suffix"]),
                &config_field_specs(config)?,
            )
        }
        "LabelTransformer" => transformers::add_map_entries(
            resources,
            &string_pairs(config.get_path(&["labels"])),
            &config_field_specs(config)?,
        ),
        "AnnotationsTransformer" => transformers::add_map_entries(
            resources,
            &string_pairs(config.get_path(&["annotations"])),
            &config_field_specs(config)?,
        ),
        "ImageTagTransformer" => {
            let image = config
                .get_path(&["imageTag"])
                .cloned()
                .unwrap_or(Value::Null);
            transformers::update_images(
                resources,
                std::slice::from_ref(&image),
                &config_field_specs(config)?,
            )
        }
        "ReplicaCountTransformer" => {
            let name = text(&["replica", "name"]);
            let count = config
                .get_path(&["replica", "count"])
                .cloned()
                .unwrap_or(Value::Null);
            transformers::set_replicas(resources, &name, &count, &config_field_specs(config)?)
        }
        "HashTransformer" => generators::add_hashes_to_names(resources),
        "ReplacementTransformer" => {
            for replacement in config
                .get_path(&["replacements"])
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default()
            {
                replacements::replacement_entry(dir, &replacement, options, resources)?;
            }
            Ok(())
        }
        "ValueAddTransformer" => value_add(dir, config, options, resources),
        _ => Err(unsupported_plugin(&kind, entry)),
    }
}

/// kustomize's ValueAddTransformer: puts `value` (default: the name of the kustomization's
/// directory) at each target's `fieldPath` (default `metadata/namespace`, created when missing),
/// or, with `filePathPosition: N`, inserts it as the N-th segment of a `/`-separated value.
fn value_add(
    dir: &Path,
    config: &Value,
    options: BuildOptions<'_>,
    resources: &mut ResMap,
) -> Result<()> {
    let value = match config.get_path(&["value"]).and_then(Value::scalar_text) {
        Some(value) if !value.is_empty() => value,
        _ => dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let mut targets = config
        .get_path(&["targets"])
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    if let Some(file) = config
        .get_str(&["targetFilePath"])
        .filter(|file| !file.is_empty())
    {
        let path = loader::resolve_restricted(options.files(), dir, file, options.load_restrictor)?;
        let text = loader::read_text(options.files(), &path)?;
        let document =
            flotilla_core::parse_single_document(&text).map_err(|source| BuildError::Yaml {
                path: path.clone(),
                error: source,
            })?;
        targets.extend(
            document
                .get_path(&["targets"])
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default(),
        );
    }
    for target in &targets {
        let field_path = target
            .get_str(&["fieldPath"])
            .filter(|p| !p.is_empty())
            .unwrap_or("metadata/namespace");
        let position = match target.get_path(&["filePathPosition"]) {
            Some(Value::Number(number)) => number.to_string().parse::<usize>().unwrap_or(0),
            _ => 0,
        };
        let selected: Vec<usize> = match target.get_path(&["selector"]) {
            Some(selector) => crate::selector::Selector::from_value(selector)?.select(resources)?,
            None => (0..resources.len()).collect(),
        };
        for index in selected {
            let resource = &mut resources.resources[index];
            if field_path == "metadata/namespace" && resource.gvk().is_cluster_scoped() {
                continue;
            }
            crate::fieldspec::visit_path(&mut resource.object, field_path, true, &mut |field| {
                let current = field.as_str().unwrap_or("").to_string();
                *field = Value::String(if position == 0 {
                    value.clone()
                } else {
                    let mut parts: Vec<&str> =
                        current.split('/').filter(|part| !part.is_empty()).collect();
                    let at = (position - 1).min(parts.len());
                    parts.insert(at, &value);
                    parts.join("/")
                });
                Ok(())
            })?;
        }
    }
    Ok(())
}
