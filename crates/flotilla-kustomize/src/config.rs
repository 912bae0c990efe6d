//! Transformer configuration: which fields each builtin transformer touches.
//!
//! kustomize starts from its default field specs (`builtin_config.yaml`, recorded as data from
//! kustomize v5.5.0) and merges the files a kustomization lists under `configurations:` and the
//! CRD-derived specs of `crds:`. The merged configuration travels up the kustomization tree with
//! the resources.

use std::sync::{Arc, OnceLock};

use flotilla_core::Value;

use crate::error::{BuildError, Result};
use crate::fieldspec::{merge_field_specs, FieldSpec};
use crate::kustomization::canonical_field;
use crate::resource::Gvk;

/// Referrers of one kind of object: where other objects name it.
#[derive(Clone, Debug, PartialEq)]
pub struct NameBackReference {
    pub gvk: Gvk,
    pub referrers: Vec<FieldSpec>,
}

/// The field specs of every builtin transformer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransformerConfig {
    pub name_prefix: Vec<FieldSpec>,
    pub name_suffix: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub common_labels: Vec<FieldSpec>,
    pub template_labels: Vec<FieldSpec>,
    /// Extra places every `labels:` entry sets its labels (no defaults).
    pub labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
    pub name_reference: Vec<NameBackReference>,
    pub var_reference: Vec<FieldSpec>,
}

const CONFIG_FIELDS: &[&str] = &[
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "templateLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "nameReference",
    "varReference",
];

fn field_specs(value: &Value, section: &str) -> Result<Vec<FieldSpec>> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(items) => items.iter().map(FieldSpec::from_value).collect(),
        other => Err(BuildError::transform(format!(
            "`{section}` must be a list of field specs, not a {}",
            other.type_name()
        ))),
    }
}

impl TransformerConfig {
    /// kustomize's default configuration.
    pub fn builtin() -> &'static TransformerConfig {
        Self::builtin_shared_ref()
    }

    /// kustomize's default configuration, shared: every kustomization of a build starts from
    /// it, and most never change it (see `merge_shared`).
    pub fn builtin_shared() -> Arc<TransformerConfig> {
        Arc::clone(Self::builtin_shared_ref())
    }

    fn builtin_shared_ref() -> &'static Arc<TransformerConfig> {
        static BUILTIN: OnceLock<Arc<TransformerConfig>> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let document =
                flotilla_core::parse_single_document(include_str!("builtin_config.yaml"))
                    .expect("builtin_config.yaml is valid YAML (checked by tests)");
            Arc::new(
                TransformerConfig::from_value(&document)
                    .expect("builtin_config.yaml is a valid configuration"),
            )
        })
    }

    /// Merges `other` into the shared configuration `target`, copying it only when `other` adds
    /// something: a sub-kustomization's configuration is usually the builtin one, already
    /// merged.
    pub fn merge_shared(
        target: &mut Arc<TransformerConfig>,
        other: &TransformerConfig,
    ) -> Result<()> {
        if std::ptr::eq(&**target, other) || target.contains(other) {
            return Ok(());
        }
        Arc::make_mut(target).merge(other)
    }

    /// Whether merging `other` would change nothing: each of its lists is a prefix of ours (so
    /// every spec is a duplicate, and none conflicts).
    fn contains(&self, other: &TransformerConfig) -> bool {
        fn starts(specs: &[FieldSpec], additions: &[FieldSpec]) -> bool {
            specs.starts_with(additions)
        }
        starts(&self.name_prefix, &other.name_prefix)
            && starts(&self.name_suffix, &other.name_suffix)
            && starts(&self.namespace, &other.namespace)
            && starts(&self.common_labels, &other.common_labels)
            && starts(&self.template_labels, &other.template_labels)
            && starts(&self.labels, &other.labels)
            && starts(&self.common_annotations, &other.common_annotations)
            && starts(&self.images, &other.images)
            && starts(&self.replicas, &other.replicas)
            && starts(&self.var_reference, &other.var_reference)
            && other.name_reference.iter().all(|addition| {
                // As `merge` finds the entry an addition merges into.
                self.name_reference
                    .iter()
                    .find(|existing| existing.gvk == addition.gvk)
                    .is_some_and(|existing| starts(&existing.referrers, &addition.referrers))
            })
    }

    /// Reads a configuration in kustomize's TransformerConfig format.
    pub fn from_value(document: &Value) -> Result<Self> {
        let mut config = TransformerConfig::default();
        let Some(mapping) = document.as_mapping() else {
            if document.is_null() {
                return Ok(config);
            }
            return Err(BuildError::transform(
                "a transformer configuration must be a mapping",
            ));
        };
        for (key, value) in mapping.iter() {
            let Some(section) = canonical_field(key, CONFIG_FIELDS) else {
                return Err(BuildError::transform(format!(
                    "unknown field {key:?} in transformer configuration"
                )));
            };
            match section {
                "namePrefix" => config.name_prefix = field_specs(value, section)?,
                "nameSuffix" => config.name_suffix = field_specs(value, section)?,
                "namespace" => config.namespace = field_specs(value, section)?,
                "commonLabels" => config.common_labels = field_specs(value, section)?,
                "templateLabels" => config.template_labels = field_specs(value, section)?,
                "labels" => config.labels = field_specs(value, section)?,
                "commonAnnotations" => config.common_annotations = field_specs(value, section)?,
                "images" => config.images = field_specs(value, section)?,
                "replicas" => config.replicas = field_specs(value, section)?,
                "varReference" => config.var_reference = field_specs(value, section)?,
                "nameReference" => {
                    for entry in value.as_sequence().map(Vec::as_slice).unwrap_or(&[]) {
                        let gvk = Gvk {
                            group: entry.get_str(&["group"]).unwrap_or("").to_string(),
                            version: entry.get_str(&["version"]).unwrap_or("").to_string(),
                            kind: entry.get_str(&["kind"]).unwrap_or("").to_string(),
                        };
                        let referrers = match entry.get_path(&["fieldSpecs"]) {
                            Some(specs) => field_specs(specs, "nameReference.fieldSpecs")?,
                            None => Vec::new(),
                        };
                        config
                            .name_reference
                            .push(NameBackReference { gvk, referrers });
                    }
                }
                _ => unreachable!("canonical_field returns a known section"),
            }
        }
        Ok(config)
    }

    /// Merges `other` into `self` (kustomize's `TransformerConfig.Merge`).
    pub fn merge(&mut self, other: &TransformerConfig) -> Result<()> {
        merge_field_specs(&mut self.name_prefix, &other.name_prefix)?;
        merge_field_specs(&mut self.name_suffix, &other.name_suffix)?;
        merge_field_specs(&mut self.namespace, &other.namespace)?;
        merge_field_specs(&mut self.common_labels, &other.common_labels)?;
        merge_field_specs(&mut self.template_labels, &other.template_labels)?;
        merge_field_specs(&mut self.labels, &other.labels)?;
        merge_field_specs(&mut self.common_annotations, &other.common_annotations)?;
        merge_field_specs(&mut self.images, &other.images)?;
        merge_field_specs(&mut self.replicas, &other.replicas)?;
        merge_field_specs(&mut self.var_reference, &other.var_reference)?;
        for addition in &other.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|existing| existing.gvk == addition.gvk)
            {
                Some(existing) => merge_field_specs(&mut existing.referrers, &addition.referrers)?,
                None => self.name_reference.push(addition.clone()),
            }
        }
        Ok(())
    }
}
