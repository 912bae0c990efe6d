//! A kustomization file, read and checked the way kustomize reads it.
//!
//! kustomize decodes the file into a Go struct through `encoding/json` with unknown fields
//! disallowed, so field names match case-insensitively (`patchesJSON6902` is
//! `patchesJson6902`) and any other key is an error. `Kustomization::parse` reproduces that and
//! normalises keys to their canonical spelling; the typed accessors then give each field's value.

use std::path::{Path, PathBuf};

use flotilla_core::{Mapping, Value};

use crate::error::{BuildError, Result};

/// Every field of kustomize v5.5's `Kustomization` type, canonical spelling.
const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "crds",
    "bases",
    "components",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
];

/// Whether the file is a Kustomization or a Component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KustomizationKind {
    Kustomization,
    Component,
}

/// A parsed kustomization file.
#[derive(Clone, Debug)]
pub struct Kustomization {
    pub path: PathBuf,
    pub kind: KustomizationKind,
    fields: Mapping,
}

/// Go's `encoding/json` field matching: exact first, then case-insensitive.
pub fn canonical_field<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .find(|candidate| **candidate == key)
        .or_else(|| {
            known
                .iter()
                .find(|candidate| candidate.eq_ignore_ascii_case(key))
        })
        .copied()
}

impl Kustomization {
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let invalid = |message: String| BuildError::InvalidKustomization {
            path: path.to_path_buf(),
            message,
        };
        let document =
            // kustomization files are read with go-yaml v2 semantics: a repeated key overrides.
        flotilla_core::parse_single_document_with(text, flotilla_core::DuplicateKeys::LastWins).map_err(|source| BuildError::Yaml { path: path.to_path_buf(), error: source })?;
        let raw = match document {
            Value::Mapping(mapping) => mapping,
            Value::Null => Mapping::new(),
            other => {
                return Err(invalid(format!(
                    "expected a mapping of kustomization fields, found a {}",
                    other.type_name()
                )))
            }
        };
        let mut fields = Mapping::new();
        for (key, value) in raw {
            let Some(canonical) = canonical_field(&key, KNOWN_FIELDS) else {
                return Err(invalid(format!("json: unknown field {key:?}")));
            };
            // encoding/json: a later duplicate (by case-insensitive match) overwrites.
            fields.insert(canonical, value);
        }
        let kind = match fields.get("kind").and_then(Value::as_str).unwrap_or("") {
            "" | "Kustomization" => KustomizationKind::Kustomization,
            "Component" => KustomizationKind::Component,
            other => {
                return Err(invalid(format!(
                    "kind should be `Kustomization` or `Component`, not `{other}`"
                )))
            }
        };
        let api_version = fields
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        match (kind, api_version) {
            (KustomizationKind::Component, "" | "kustomize.config.k8s.io/v1alpha1") => {}
            (KustomizationKind::Component, other) => {
                return Err(invalid(format!(
                    "apiVersion for Component should be kustomize.config.k8s.io/v1alpha1, not `{other}`"
                )))
            }
            (KustomizationKind::Kustomization, "" | "kustomize.config.k8s.io/v1beta1") => {}
            (KustomizationKind::Kustomization, other) => {
                return Err(invalid(format!(
                    "apiVersion for Kustomization should be kustomize.config.k8s.io/v1beta1, not `{other}`"
                )))
            }
        }
        if fields
            .keys()
            .all(|key| matches!(key.as_str(), "apiVersion" | "kind"))
        {
            return Err(invalid(format!(
                "{} is empty: list resources, generators or transformers in it",
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            )));
        }
        let kustomization = Kustomization {
            path: path.to_path_buf(),
            kind,
            fields,
        };
        kustomization.check_shapes()?;
        Ok(kustomization)
    }

    /// Fails like kustomize when a field has the wrong type.
    fn check_shapes(&self) -> Result<()> {
        let list_fields = [
            "resources",
            "bases",
            "components",
            "crds",
            "configurations",
            "generators",
            "transformers",
            "validators",
            "buildMetadata",
            "patchesStrategicMerge",
            "patchesJson6902",
            "patches",
            "images",
            "imageTags",
            "replacements",
            "replicas",
            "vars",
            "labels",
            "configMapGenerator",
            "secretGenerator",
            "helmCharts",
        ];
        for field in list_fields {
            match self.fields.get(field) {
                None | Some(Value::Null) | Some(Value::Sequence(_)) => {}
                Some(other) => {
                    return Err(self.invalid(format!(
                        "json: cannot unmarshal {} into Go struct field Kustomization.{field} of type slice",
                        go_json_type(other)
                    )))
                }
            }
        }
        for field in ["commonLabels", "commonAnnotations"] {
            match self.fields.get(field) {
                None | Some(Value::Null) | Some(Value::Mapping(_)) => {}
                Some(other) => {
                    return Err(self.invalid(format!(
                        "json: cannot unmarshal {} into Go struct field Kustomization.{field} of type map[string]string",
                        go_json_type(other)
                    )))
                }
            }
        }
        for field in ["namePrefix", "nameSuffix", "namespace"] {
            match self.fields.get(field) {
                None | Some(Value::Null) | Some(Value::String(_)) => {}
                Some(other) => {
                    return Err(self.invalid(format!(
                        "json: cannot unmarshal {} into Go struct field Kustomization.{field} of type string",
                        go_json_type(other)
                    )))
                }
            }
        }
        Ok(())
    }

    pub fn invalid(&self, message: String) -> BuildError {
        BuildError::InvalidKustomization {
            path: self.path.clone(),
            message,
        }
    }

    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|value| !value.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.field(name).is_some()
    }

    /// A string field; absent or null is empty.
    pub fn string(&self, name: &str) -> String {
        self.field(name)
            .and_then(Value::scalar_text)
            .unwrap_or_default()
    }

    /// A list field's items; absent or null is empty.
    pub fn list(&self, name: &str) -> &[Value] {
        self.field(name)
            .and_then(Value::as_sequence)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// A list of strings; non-string items are an error.
    pub fn string_list(&self, name: &str) -> Result<Vec<String>> {
        self.list(name)
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => other.scalar_text().filter(|_| !matches!(other, Value::Null)).ok_or_else(|| {
                    self.invalid(format!(
                        "json: cannot unmarshal {} into Go struct field Kustomization.{name} of type string",
                        go_json_type(other)
                    ))
                }),
            })
            .collect()
    }

    /// A `map[string]string` field in key order; values are stringified as kustomize does.
    pub fn string_map(&self, name: &str) -> Vec<(String, String)> {
        self.field(name)
            .and_then(Value::as_mapping)
            .map(|mapping| {
                mapping
                    .iter()
                    .map(|(key, value)| (key.clone(), value.scalar_text().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `resources` followed by the deprecated `bases`, as kustomize merges them.
    pub fn resources(&self) -> Result<Vec<String>> {
        let mut resources = self.string_list("resources")?;
        resources.extend(self.string_list("bases")?);
        Ok(resources)
    }
}

/// How Go's `encoding/json` names a value's JSON type in unmarshal errors.
pub fn go_json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) | Value::Timestamp(_) => "string",
        Value::Sequence(_) => "array",
        Value::Mapping(_) => "object",
    }
}
