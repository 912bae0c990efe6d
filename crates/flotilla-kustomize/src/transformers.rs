//! The builtin transformers a kustomization's fields configure, in kustomize's order:
//! `patchesStrategicMerge`, `patches`, `namespace`, `namePrefix`, `nameSuffix`, labels
//! (`labels` entries then `commonLabels`), `commonAnnotations`, `patchesJson6902`, `replicas`,
//! `images`, `replacements`. Each is also reachable as a `transformers:` plugin config
//! (see `plugins`), so each takes its configuration as plain arguments.

use flotilla_core::{Mapping, Value};

use crate::build::{Accumulator, BuildOptions};
use crate::error::{BuildError, Result};
use crate::fieldspec::{merge_field_specs, visit_fields, visit_path, FieldSpec};
use crate::kustomization::Kustomization;
use crate::resource::{Gvk, NameIndex, ResMap, Resource};
use crate::{patches, replacements};

/// Runs the transformers the kustomization's own fields configure.
pub fn run_builtin_transformers(
    kustomization: &Kustomization,
    options: BuildOptions<'_>,
    custom_schema: Option<&patches::Schema>,
    accumulator: &mut Accumulator,
) -> Result<()> {
    let dir = kustomization.dir();
    // Every transformer that runs is recorded on every object present, for
    // `buildMetadata: [transformerAnnotations]`.
    let records = accumulator.records_transformations;
    let record = |resources: &mut ResMap, kind: &str| {
        if records {
            record_transformation(resources, &kustomization.path, kind, "", "")
        }
    };
    // The schema costs a decompression and a parse: only load it when there are patches.
    let has_patches = kustomization.has("patchesStrategicMerge") || kustomization.has("patches");
    let schema = match custom_schema {
        Some(schema) => schema.clone(),
        None if has_patches => patches::Schema::builtin().clone(),
        None => patches::Schema::empty(),
    };
    // The patches find their targets through one index of names, kept up to date as they
    // rename and delete.
    let mut names = NameIndex::new();
    for entry in kustomization.list("patchesStrategicMerge") {
        patches::patch_strategic_merge_entry_indexed(
            dir,
            entry,
            &schema,
            options,
            &mut accumulator.resources,
            &mut names,
        )?;
    }
    if kustomization.has("patchesStrategicMerge") {
        record(&mut accumulator.resources, "PatchStrategicMergeTransformer");
    }
    for entry in kustomization.list("patches") {
        patches::patch_entry_indexed(
            dir,
            entry,
            &schema,
            options,
            &mut accumulator.resources,
            &mut names,
        )?;
        record(&mut accumulator.resources, "PatchTransformer");
    }
    let namespace = kustomization.string("namespace");
    if !namespace.is_empty() {
        let specs = accumulator.config.namespace.clone();
        set_namespace(
            &mut accumulator.resources,
            &namespace,
            &specs,
            SubjectMode::DefaultOnly,
            false,
        )?;
        record(&mut accumulator.resources, "NamespaceTransformer");
    }
    let prefix = kustomization.string("namePrefix");
    if !prefix.is_empty() {
        let specs = accumulator.config.name_prefix.clone();
        add_prefix_suffix(&mut accumulator.resources, &prefix, "", &specs)?;
        record(&mut accumulator.resources, "PrefixTransformer");
    }
    let suffix = kustomization.string("nameSuffix");
    if !suffix.is_empty() {
        let specs = accumulator.config.name_suffix.clone();
        add_prefix_suffix(&mut accumulator.resources, "", &suffix, &specs)?;
        record(&mut accumulator.resources, "SuffixTransformer");
    }
    for entry in kustomization.list("labels") {
        let pairs = string_pairs(entry.get_path(&["pairs"]));
        let include_selectors = entry
            .get_path(&["includeSelectors"])
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let include_templates = entry
            .get_path(&["includeTemplates"])
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut specs: Vec<FieldSpec> = Vec::new();
        if let Some(fields) = entry.get_path(&["fields"]).and_then(Value::as_sequence) {
            for field in fields {
                merge_field_specs(&mut specs, &[FieldSpec::from_value(field)?])?;
            }
        }
        merge_field_specs(&mut specs, &accumulator.config.labels)?;
        if include_selectors {
            merge_field_specs(&mut specs, &accumulator.config.common_labels)?;
        } else {
            merge_field_specs(&mut specs, &[FieldSpec::new("metadata/labels", true)])?;
            if include_templates {
                merge_field_specs(&mut specs, &accumulator.config.template_labels)?;
            }
        }
        add_map_entries(&mut accumulator.resources, &pairs, &specs)?;
        record(&mut accumulator.resources, "LabelTransformer");
    }
    let common_labels = kustomization.string_map("commonLabels");
    if !common_labels.is_empty() {
        let specs = accumulator.config.common_labels.clone();
        add_map_entries(&mut accumulator.resources, &common_labels, &specs)?;
        record(&mut accumulator.resources, "LabelTransformer");
    }
    let common_annotations = kustomization.string_map("commonAnnotations");
    if !common_annotations.is_empty() {
        let specs = accumulator.config.common_annotations.clone();
        add_map_entries(&mut accumulator.resources, &common_annotations, &specs)?;
        record(&mut accumulator.resources, "AnnotationsTransformer");
    }
    // The transformers in between rename in place (namespace, prefix, suffix).
    names.invalidate();
    for entry in kustomization.list("patchesJson6902") {
        patches::patch_json6902_entry_indexed(
            dir,
            entry,
            options,
            &mut accumulator.resources,
            &mut names,
        )?;
        record(&mut accumulator.resources, "PatchJson6902Transformer");
    }
    for entry in kustomization.list("replicas") {
        let name = entry.get_str(&["name"]).unwrap_or("").to_string();
        let count = entry.get_path(&["count"]).cloned().unwrap_or(Value::Null);
        let specs = accumulator.config.replicas.clone();
        set_replicas(&mut accumulator.resources, &name, &count, &specs)?;
        record(&mut accumulator.resources, "ReplicaCountTransformer");
    }
    let mut images: Vec<Value> = kustomization.list("images").to_vec();
    images.extend(kustomization.list("imageTags").iter().cloned());
    if !images.is_empty() {
        let specs = accumulator.config.images.clone();
        update_images(&mut accumulator.resources, &images, &specs)?;
        for _ in &images {
            record(&mut accumulator.resources, "ImageTagTransformer");
        }
    }
    for entry in kustomization.list("replacements") {
        replacements::replacement_entry(dir, entry, options, &mut accumulator.resources)?;
    }
    if kustomization.has("replacements") {
        record(&mut accumulator.resources, "ReplacementTransformer");
    }
    Ok(())
}

/// Records that a builtin transformer configured in `configured_in` ran over every resource.
pub fn record_transformation(
    resources: &mut ResMap,
    configured_in: &std::path::Path,
    kind: &str,
    name: &str,
    namespace: &str,
) {
    crate::resource::Transformations::push_to_all(
        &mut resources.resources,
        crate::resource::Origin::builtin(configured_in, kind, name, namespace),
    );
}

pub fn string_pairs(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_mapping)
        .map(|mapping| {
            mapping
                .iter()
                .map(|(k, v)| (k.clone(), v.scalar_text().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// How the namespace transformer treats `subjects` of RoleBindings and ClusterRoleBindings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SubjectMode {
    /// Only ServiceAccount subjects named `default` (or without a namespace) follow.
    DefaultOnly,
    AllServiceAccounts,
    None,
}

/// The namespace transformer: `metadata.namespace` of every namespaced object, ServiceAccount
/// subjects of role bindings as `subjects` says, then the configured field specs (which include
/// a Namespace object's own name).
pub fn set_namespace(
    resources: &mut ResMap,
    namespace: &str,
    specs: &[FieldSpec],
    subjects: SubjectMode,
    unset_only: bool,
) -> Result<()> {
    let specs: Vec<&FieldSpec> = specs
        .iter()
        .filter(|spec| spec.path != "metadata/namespace")
        .filter(|spec| {
            !((spec.gvk.kind == "RoleBinding" || spec.gvk.kind == "ClusterRoleBinding")
                && spec.path == "subjects/namespace")
        })
        .collect();
    let set = |field: &mut Value| -> bool {
        if unset_only && !field.is_null() && field.as_str() != Some("") {
            return false;
        }
        if field.as_str() == Some(namespace) {
            return false;
        }
        *field = Value::string(namespace);
        true
    };
    for resource in resources.iter_mut() {
        let gvk = resource.gvk();
        let before = resource.current_id();
        if !gvk.is_cluster_scoped() {
            visit_path(
                &mut resource.object,
                "metadata/namespace",
                true,
                &mut |field| {
                    set(field);
                    Ok(())
                },
            )?;
        }
        if gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding" {
            if let Some(Value::Sequence(items)) = resource.mapping_mut().get_mut("subjects") {
                for subject in items.iter_mut() {
                    let Some(subject) = subject.as_mapping_mut() else {
                        continue;
                    };
                    if subject.get("kind").and_then(Value::as_str) != Some("ServiceAccount") {
                        continue;
                    }
                    let update = match subjects {
                        SubjectMode::None => false,
                        SubjectMode::AllServiceAccounts => true,
                        SubjectMode::DefaultOnly => {
                            subject.get("name").and_then(Value::as_str) == Some("default")
                        }
                    };
                    if update {
                        let field = subject.entry_or_insert_with("namespace", || Value::Null);
                        set(field);
                    }
                }
            }
        }
        for spec in specs.iter().filter(|spec| spec.applies_to(&gvk)) {
            // Only the core Namespace kind is renamed to the namespace; a custom resource that
            // happens to be called Namespace keeps its name.
            if spec.path == "metadata/name" && gvk.kind == "Namespace" && !gvk.group.is_empty() {
                continue;
            }
            visit_fields(&mut resource.object, spec, &mut |field| {
                if matches!(field, Value::Mapping(_) | Value::Sequence(_)) {
                    return Err(BuildError::transform(format!(
                        "namespace field specs must target scalar nodes: `{}` of {before} is a {}",
                        spec.path,
                        field.type_name()
                    )));
                }
                set(field);
                Ok(())
            })?;
        }
        // kustomize records the id every object had before the namespace transformer, changed
        // or not; name references rely on it to find objects the transformer met.
        resource.previous_ids.push(before);
    }
    let mut ids = std::collections::HashSet::with_capacity(resources.len());
    for resource in resources.iter() {
        let effective_namespace = if resource.is_cluster_scoped() {
            ""
        } else {
            match resource.namespace() {
                "" => "default",
                other => other,
            }
        };
        if !ids.insert(resource.id_key(effective_namespace)) {
            let id = resource.current_id();
            return Err(BuildError::transform(format!(
                "namespace transformation produces ID conflict: more than one {id} after setting namespace `{namespace}`"
            )));
        }
    }
    Ok(())
}

/// Kinds the prefix and suffix transformers never rename.
fn skips_prefix_suffix(gvk: &Gvk) -> bool {
    gvk.kind == "CustomResourceDefinition"
        || gvk.kind == "Namespace"
        || (gvk.group == "apiregistration.k8s.io" && gvk.kind == "APIService")
}

/// The prefix/suffix transformer.
pub fn add_prefix_suffix(
    resources: &mut ResMap,
    prefix: &str,
    suffix: &str,
    specs: &[FieldSpec],
) -> Result<()> {
    for resource in resources.iter_mut() {
        let original = resource.original_id();
        if skips_prefix_suffix(&original.gvk) {
            continue;
        }
        for spec in specs.iter().filter(|spec| spec.applies_to(&original.gvk)) {
            if spec.path == "metadata/name" {
                if !prefix.is_empty() {
                    resource.prefixes.push(prefix.to_string());
                }
                if !suffix.is_empty() {
                    resource.suffixes.push(suffix.to_string());
                }
                resource.remember_id();
            }
            visit_fields(&mut resource.object, spec, &mut |field| {
                if let Some(text) = field.scalar_text().filter(|_| !field.is_null()) {
                    *field = Value::String(format!("{prefix}{text}{suffix}"));
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Labels and annotations: sets each pair in the map at every field spec.
pub fn add_map_entries(
    resources: &mut ResMap,
    pairs: &[(String, String)],
    specs: &[FieldSpec],
) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    for resource in resources.iter_mut() {
        let gvk = resource.gvk();
        for spec in specs.iter().filter(|spec| spec.applies_to(&gvk)) {
            visit_fields(&mut resource.object, spec, &mut |field| {
                if field.is_null() {
                    *field = Value::Mapping(Mapping::new());
                }
                let Value::Mapping(mapping) = field else {
                    return Err(BuildError::transform(format!(
                        "`{}` in {} `{}` is a {}, not a map of labels or annotations",
                        spec.path,
                        gvk.kind,
                        "",
                        field.type_name()
                    )));
                };
                for (key, value) in pairs {
                    mapping.insert(key.clone(), Value::String(value.clone()));
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// The replica count transformer: `count` for the named resource at every matching spec.
pub fn set_replicas(
    resources: &mut ResMap,
    name: &str,
    count: &Value,
    specs: &[FieldSpec],
) -> Result<()> {
    let mut found = false;
    for spec in specs {
        for resource in resources.iter_mut() {
            let matches = resource
                .all_ids()
                .iter()
                .any(|id| id.name == name && spec.gvk.selects(&id.gvk));
            if !matches {
                continue;
            }
            found = true;
            visit_fields(&mut resource.object, spec, &mut |field| {
                *field = count.clone();
                Ok(())
            })?;
        }
    }
    if !found {
        let gvks: Vec<String> = specs
            .iter()
            .map(|spec| spec.gvk.kustomize_string())
            .collect();
        return Err(BuildError::transform(format!(
            "resource with name {name} does not match a config with the following GVK [{}]",
            gvks.join(" ")
        )));
    }
    Ok(())
}

/// An image rule from `images:`.
struct ImageRule {
    name: String,
    new_name: String,
    new_tag: String,
    digest: String,
}

fn image_rule(value: &Value) -> Result<ImageRule> {
    // Go's encoding/json matches field names case-insensitively (`Digest:` works).
    let text = |field: &str| {
        value
            .as_mapping()
            .and_then(|mapping| {
                mapping
                    .iter()
                    .find(|(key, _)| key.as_str() == field)
                    .or_else(|| {
                        mapping
                            .iter()
                            .find(|(key, _)| key.eq_ignore_ascii_case(field))
                    })
            })
            .and_then(|(_, value)| value.scalar_text())
            .unwrap_or_default()
    };
    Ok(ImageRule {
        name: text("name"),
        new_name: text("newName"),
        new_tag: text("newTag"),
        digest: text("digest"),
    })
}

/// Splits an image reference into name, tag and digest as kustomize does.
pub fn split_image(image: &str) -> (String, String, String) {
    let (name, tag, digest) = split_image_parts(image);
    (name.to_string(), tag.to_string(), digest.to_string())
}

/// `split_image` without copying: the name, tag and digest within `image`.
fn split_image_parts(image: &str) -> (&str, &str, &str) {
    let slash = image.find('/').filter(|index| *index > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@');
    let colon = search.find(':');
    match (at, colon) {
        (None, None) => (image, "", ""),
        (Some(at), colon) if colon.is_none_or(|colon| at < colon) => {
            let at = at + slash;
            (&image[..at], "", &image[at + 1..])
        }
        (Some(at), Some(colon)) => {
            let (at, colon) = (at + slash, colon + slash);
            (&image[..colon], &image[colon + 1..at], &image[at + 1..])
        }
        (None, Some(colon)) => {
            let colon = colon + slash;
            (&image[..colon], &image[colon + 1..], "")
        }
        (Some(_), None) => unreachable!("covered by the guard above"),
    }
}

fn rewrite_image(rule: &ImageRule, field: &mut Value) {
    let Some(current) = field.as_str() else {
        return;
    };
    let (name, tag, digest) = split_image_parts(current);
    if name != rule.name {
        return;
    }
    let name = if rule.new_name.is_empty() {
        name
    } else {
        &rule.new_name
    };
    let (tag, digest) = if !rule.new_tag.is_empty() && !rule.digest.is_empty() {
        (rule.new_tag.as_str(), rule.digest.as_str())
    } else if !rule.new_tag.is_empty() {
        (rule.new_tag.as_str(), "")
    } else if !rule.digest.is_empty() {
        ("", rule.digest.as_str())
    } else {
        (tag, digest)
    };
    let mut image = name.to_string();
    if !tag.is_empty() {
        image.push(':');
        image.push_str(tag);
    }
    if !digest.is_empty() {
        image.push('@');
        image.push_str(digest);
    }
    *field = Value::String(image);
}

/// Walks every `containers` and `initContainers` list anywhere in the object (kustomize's
/// legacy image filter, which reaches custom resources too).
fn rewrite_images_everywhere(rewrite: &dyn Fn(&mut Value), node: &mut Value) {
    match node {
        Value::Mapping(mapping) => {
            for (key, value) in mapping.iter_mut() {
                if key == "containers" || key == "initContainers" {
                    if let Value::Sequence(items) = value {
                        for item in items.iter_mut() {
                            if let Some(image) =
                                item.as_mapping_mut().and_then(|m| m.get_mut("image"))
                            {
                                rewrite(image);
                            }
                        }
                        continue;
                    }
                }
                rewrite_images_everywhere(rewrite, value);
            }
        }
        Value::Sequence(items) => {
            for item in items.iter_mut() {
                rewrite_images_everywhere(rewrite, item);
            }
        }
        _ => {}
    }
}

/// The image tag transformer for `images:` entries, applied in order. All rules are applied to
/// each image field in one walk per resource: the same result as one pass per rule, because a
/// rule only rewrites image fields and re-applying a rule to its own result changes nothing.
pub fn update_images(resources: &mut ResMap, images: &[Value], specs: &[FieldSpec]) -> Result<()> {
    let rules: Vec<ImageRule> = images.iter().map(image_rule).collect::<Result<_>>()?;
    if rules.iter().any(|rule| rule.name.is_empty()) {
        return Err(BuildError::transform("an `images` entry needs a `name`"));
    }
    // kustomize's image specs never create fields, except that with `create` a null list named
    // by `containers[]` becomes an empty one.
    let null_lists: Vec<(Gvk, String)> = specs
        .iter()
        .filter(|spec| spec.create)
        .filter_map(|spec| {
            let end = spec.path.find("[]")?;
            Some((spec.gvk.clone(), spec.path[..end].to_string()))
        })
        .collect();
    let specs: Vec<FieldSpec> = specs
        .iter()
        .map(|spec| FieldSpec {
            create: false,
            ..spec.clone()
        })
        .collect();
    let apply_all = |field: &mut Value| {
        for rule in &rules {
            rewrite_image(rule, field);
        }
    };
    for resource in resources.iter_mut() {
        let gvk = resource.gvk();
        for (selector, path) in &null_lists {
            if selector.selects(&gvk) {
                let keys: Vec<&str> = path.split('/').collect();
                if let Some(field) = resource.object.get_path_mut(&keys) {
                    if field.is_null() {
                        *field = Value::Sequence(Vec::new());
                    }
                }
            }
        }
        rewrite_images_everywhere(&apply_all, &mut resource.object);
        let gvk = resource.gvk();
        for spec in specs.iter().filter(|spec| spec.applies_to(&gvk)) {
            visit_fields(&mut resource.object, spec, &mut |field| {
                apply_all(field);
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// `buildMetadata` and the managed-by label, applied after ordering.
pub fn apply_build_metadata(kustomization: &Kustomization, resources: &mut ResMap) -> Result<()> {
    let options = kustomization.string_list("buildMetadata")?;
    for option in &options {
        if !matches!(
            option.as_str(),
            "originAnnotations" | "transformerAnnotations" | "managedByLabel"
        ) {
            return Err(kustomization.invalid(format!(
                "unknown buildMetadata option `{option}`: use originAnnotations, transformerAnnotations or managedByLabel"
            )));
        }
    }
    if options.iter().any(|option| option == "managedByLabel") {
        for resource in resources.iter_mut() {
            visit_path(
                &mut resource.object,
                "metadata/labels",
                true,
                &mut |field| {
                    if field.is_null() {
                        *field = Value::Mapping(Mapping::new());
                    }
                    if let Value::Mapping(labels) = field {
                        labels.insert(
                            "app.kubernetes.io/managed-by",
                            Value::string("kustomize-(devel)"),
                        );
                    }
                    Ok(())
                },
            )?;
        }
    }
    if options
        .iter()
        .any(|option| option == "transformerAnnotations")
    {
        for resource in resources.iter_mut() {
            crate::origin::annotate_transformations(resource, kustomization.dir());
        }
    }
    if options.iter().any(|option| option == "originAnnotations") {
        for resource in resources.iter_mut() {
            crate::origin::annotate_origin(resource, kustomization.dir());
        }
    }
    Ok(())
}

/// Removes a resource from a map by index, returning it.
pub fn take(resources: &mut ResMap, index: usize) -> Resource {
    resources.resources.remove(index)
}
