//! `vars`: `$(NAME)` placeholders in the fields `varReference` lists, replaced at the end of the
//! build with a field of a named object (kustomize's deprecated predecessor of replacements).

use flotilla_core::Value;

use crate::build::Accumulator;
use crate::error::{BuildError, Result};
use crate::fieldspec::{visit_fields, FieldSpec};
use crate::kustomization::Kustomization;
use crate::resource::{Gvk, ResMap};

/// One declared var.
#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    pub name: String,
    pub gvk: Gvk,
    pub object_name: String,
    pub namespace: String,
    pub field_path: String,
}

impl Var {
    fn from_value(value: &Value) -> Result<Self> {
        let text = |path: &[&str]| {
            value
                .get_path(path)
                .and_then(Value::scalar_text)
                .unwrap_or_default()
        };
        let api_version = text(&["objref", "apiVersion"]);
        let mut gvk = Gvk::from_api_version(&api_version, &text(&["objref", "kind"]));
        if api_version.is_empty() {
            gvk.group = text(&["objref", "group"]);
            gvk.version = text(&["objref", "version"]);
        }
        let mut field_path = text(&["fieldref", "fieldpath"]);
        if field_path.is_empty() {
            field_path = "metadata.name".to_string();
        }
        let name = text(&["name"]);
        if name.is_empty() {
            return Err(BuildError::transform("a var needs a `name`"));
        }
        Ok(Var {
            name,
            gvk,
            object_name: text(&["objref", "name"]),
            namespace: text(&["objref", "namespace"]),
            field_path,
        })
    }

    fn describe(&self) -> String {
        format!(
            "{} (objref {} `{}`, fieldpath `{}`)",
            self.name,
            self.gvk.kustomize_string(),
            self.object_name,
            self.field_path
        )
    }
}

/// Records the kustomization's vars, checking each names at most one resource.
pub fn merge_vars(kustomization: &Kustomization, accumulator: &mut Accumulator) -> Result<()> {
    let mut incoming = Vec::new();
    for value in kustomization.list("vars") {
        incoming.push(Var::from_value(value)?);
    }
    for var in &incoming {
        let matched = matching_resources(&accumulator.resources, var);
        if matched.len() > 1 {
            return Err(BuildError::transform(format!(
                "found {} resId matches for var {} (unable to disambiguate)",
                matched.len(),
                var.describe()
            )));
        }
        if let [index] = matched.as_slice() {
            accumulator.resources.resources[*index]
                .referenced_by_var
                .push(var.name.clone());
        }
    }
    absorb_vars(accumulator, incoming)
}

/// Adds vars from a sub-kustomization; a name seen twice is an error.
pub fn absorb_vars(accumulator: &mut Accumulator, incoming: Vec<Var>) -> Result<()> {
    for var in incoming {
        if accumulator
            .vars
            .iter()
            .any(|existing| existing.name == var.name)
        {
            return Err(BuildError::transform(format!(
                "var '{}' already encountered",
                var.name
            )));
        }
        accumulator.vars.push(var);
    }
    Ok(())
}

fn matching_resources(resources: &ResMap, var: &Var) -> Vec<usize> {
    let namespaced_match = !var.namespace.is_empty() || var.gvk.is_cluster_scoped();
    resources
        .iter()
        .enumerate()
        .filter(|(_, resource)| {
            resource.all_ids().iter().any(|id| {
                id.gvk == var.gvk
                    && id.name == var.object_name
                    && (!namespaced_match
                        || crate::resource::namespaces_equal(&id.namespace, &var.namespace))
            })
        })
        .map(|(index, _)| index)
        .collect()
}

/// Replaces `$(NAME)` in every `varReference` field with the var's value.
pub fn resolve_vars(accumulator: &mut Accumulator) -> Result<()> {
    if accumulator.vars.is_empty() {
        return Ok(());
    }
    let mut values: Vec<(String, Value)> = Vec::new();
    for var in &accumulator.vars {
        // The object a var names was fixed when the var was declared (kustomize records the
        // var's name on it), so copies of a base renamed differently stay unambiguous.
        let holder = accumulator
            .resources
            .iter()
            .find(|resource| resource.referenced_by_var.contains(&var.name));
        let Some(holder) = holder else {
            return Err(BuildError::transform(format!(
                "var '{}' cannot be mapped to a field in the set of known resources",
                var.describe()
            )));
        };
        let value = field_value(&holder.object, &var.field_path).ok_or_else(|| {
            BuildError::transform(format!(
                "field specified in var '{}' not found in corresponding resource",
                var.describe()
            ))
        })?;
        values.push((var.name.clone(), value));
    }
    let specs: Vec<FieldSpec> = accumulator.config.var_reference.clone();
    for resource in accumulator.resources.iter_mut() {
        let gvk = resource.gvk();
        for spec in specs.iter().filter(|spec| spec.applies_to(&gvk)) {
            let spec = FieldSpec {
                create: false,
                ..spec.clone()
            };
            visit_fields(&mut resource.object, &spec, &mut |field| {
                replace_in(field, &values);
                Ok(())
            })?;
        }
    }
    Ok(())
}

fn replace_in(field: &mut Value, values: &[(String, Value)]) {
    match field {
        Value::String(text) => {
            if let Some(replaced) = expand(text, values) {
                *field = replaced;
            }
        }
        Value::Sequence(items) => {
            for item in items.iter_mut() {
                if let Value::String(text) = item {
                    if let Some(replaced) = expand(text, values) {
                        *item = replaced;
                    }
                }
            }
        }
        Value::Mapping(mapping) => {
            for (_, item) in mapping.iter_mut() {
                if let Value::String(text) = item {
                    if let Some(replaced) = expand(text, values) {
                        *item = replaced;
                    }
                }
            }
        }
        _ => {}
    }
}

/// Kubernetes-style `$(VAR)` expansion; `$$` escapes. A string that is exactly one reference
/// takes the var's value with its type.
fn expand(input: &str, values: &[(String, Value)]) -> Option<Value> {
    if !input.contains('$') {
        return None;
    }
    let lookup = |name: &str| {
        values
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    };
    if let Some(name) = input
        .strip_prefix("$(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        if !name.contains(')') && !name.contains('(') {
            if let Some(value) = lookup(name) {
                return Some(match value {
                    Value::Mapping(_) | Value::Sequence(_) => Value::String(value_text(value)),
                    other => other.clone(),
                });
            }
        }
    }
    let bytes: Vec<char> = input.chars().collect();
    let mut out = String::new();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == '$' && index + 1 < bytes.len() {
            match bytes[index + 1] {
                '$' => {
                    out.push('$');
                    index += 2;
                }
                '(' => {
                    let rest: String = bytes[index + 2..].iter().collect();
                    match rest.find(')') {
                        Some(end) => {
                            let name = &rest[..end];
                            match lookup(name) {
                                Some(value) => out.push_str(&value_text(value)),
                                None => {
                                    out.push_str("$(");
                                    out.push_str(name);
                                    out.push(')');
                                }
                            }
                            index += 2 + name.chars().count() + 1;
                        }
                        None => {
                            out.push_str("$(");
                            out.push_str(&rest);
                            index = bytes.len();
                        }
                    }
                }
                other => {
                    out.push('$');
                    out.push(other);
                    index += 2;
                }
            }
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    (out != input).then_some(Value::String(out))
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Mapping(_) | Value::Sequence(_) => crate::generators::go_json(value),
        other => other.scalar_text().unwrap_or_default(),
    }
}

/// The value at a kustomize field path (`spec.ports[0].port`, `spec.containers[name=a].image`).
pub fn field_value(object: &Value, path: &str) -> Option<Value> {
    let mut current = object;
    for segment in split_field_path(path) {
        current = match segment {
            PathPart::Key(key) => current.as_mapping()?.get(&key)?,
            PathPart::Index(index) => current.as_sequence()?.get(index)?,
            PathPart::Select(key, wanted) => current.as_sequence()?.iter().find(|item| {
                item.get_path(&[key.as_str()])
                    .and_then(Value::scalar_text)
                    .as_deref()
                    == Some(wanted.as_str())
            })?,
        };
    }
    Some(current.clone())
}

#[derive(Debug, PartialEq)]
pub enum PathPart {
    Key(String),
    Index(usize),
    Select(String, String),
}

/// Splits `a.b[0].c[name=x]` into parts; dots inside brackets do not split.
pub fn split_field_path(path: &str) -> Vec<PathPart> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars().peekable();
    let flush = |current: &mut String, parts: &mut Vec<PathPart>| {
        if !current.is_empty() {
            parts.push(PathPart::Key(std::mem::take(current)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '.' => flush(&mut current, &mut parts),
            '[' => {
                flush(&mut current, &mut parts);
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    inner.push(c);
                }
                if let Some((key, value)) = inner.split_once('=') {
                    parts.push(PathPart::Select(key.to_string(), value.to_string()));
                } else if let Ok(index) = inner.parse() {
                    parts.push(PathPart::Index(index));
                } else {
                    parts.push(PathPart::Key(inner));
                }
            }
            _ => current.push(c),
        }
    }
    flush(&mut current, &mut parts);
    parts
}
