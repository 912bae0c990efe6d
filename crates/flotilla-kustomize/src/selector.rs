//! Patch and replacement targets: group, version, kind, name and namespace (names and
//! namespaces are anchored regular expressions, as in kustomize), label and annotation
//! selectors in Kubernetes syntax.

use flotilla_core::Value;

use crate::error::{BuildError, Result};
use crate::resource::ResMap;

/// A compiled target selector.
#[derive(Debug)]
pub struct Selector {
    /// Group, version and kind are anchored regular expressions too (`Deployment|StatefulSet`).
    group: Option<regex::Regex>,
    version: Option<regex::Regex>,
    kind: Option<regex::Regex>,
    /// The kind when it has no regular-expression syntax, for a cheap first check.
    literal_kind: Option<String>,
    name: Option<regex::Regex>,
    /// The name when it has no regular-expression syntax, compared as a string.
    literal_name: Option<String>,
    namespace: Option<regex::Regex>,
    label_selector: Vec<Requirement>,
    annotation_selector: Vec<Requirement>,
}

#[derive(Debug)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

fn anchored(pattern: &str, what: &str) -> Result<Option<regex::Regex>> {
    if pattern.is_empty() {
        return Ok(None);
    }
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .map(Some)
        .map_err(|error| {
            BuildError::transform(format!(
                "target {what} `{pattern}` is not a valid regular expression: {error}"
            ))
        })
}

/// Parses a Kubernetes label selector (`a=b,c!=d,e in (x,y),!f,g`).
fn parse_requirements(text: &str) -> Result<Vec<Requirement>> {
    let mut requirements = Vec::new();
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth -= 1;
                current.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let set = |rest: &str| -> Result<Vec<String>> {
            let rest = rest.trim();
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| {
                    BuildError::transform(format!(
                        "invalid selector `{text}`: expected a set in parentheses"
                    ))
                })?;
            Ok(inner
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect())
        };
        if let Some(key) = part.strip_prefix('!') {
            requirements.push(Requirement::DoesNotExist(key.trim().to_string()));
        } else if let Some((key, value)) = part.split_once("!=") {
            requirements.push(Requirement::NotEquals(
                key.trim().to_string(),
                value.trim().to_string(),
            ));
        } else if let Some((key, value)) = part.split_once("==") {
            requirements.push(Requirement::Equals(
                key.trim().to_string(),
                value.trim().to_string(),
            ));
        } else if let Some((key, value)) = part.split_once('=') {
            requirements.push(Requirement::Equals(
                key.trim().to_string(),
                value.trim().to_string(),
            ));
        } else if let Some((key, rest)) = part.split_once(" notin ") {
            requirements.push(Requirement::NotIn(key.trim().to_string(), set(rest)?));
        } else if let Some((key, rest)) = part.split_once(" in ") {
            requirements.push(Requirement::In(key.trim().to_string(), set(rest)?));
        } else {
            requirements.push(Requirement::Exists(part.to_string()));
        }
    }
    Ok(requirements)
}

fn matches(requirements: &[Requirement], pairs: &[(String, String)]) -> bool {
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    requirements.iter().all(|requirement| match requirement {
        Requirement::Equals(key, value) => get(key) == Some(value.as_str()),
        Requirement::NotEquals(key, value) => get(key) != Some(value.as_str()),
        Requirement::In(key, values) => get(key).is_some_and(|v| values.iter().any(|x| x == v)),
        Requirement::NotIn(key, values) => get(key).is_none_or(|v| !values.iter().any(|x| x == v)),
        Requirement::Exists(key) => get(key).is_some(),
        Requirement::DoesNotExist(key) => get(key).is_none(),
    })
}

impl Selector {
    pub fn from_value(value: &Value) -> Result<Self> {
        let text = |field: &str| {
            value
                .get_path(&[field])
                .and_then(Value::scalar_text)
                .unwrap_or_default()
        };
        Ok(Selector {
            group: anchored(&text("group"), "group")?,
            version: anchored(&text("version"), "version")?,
            kind: anchored(&text("kind"), "kind")?,
            literal_kind: Some(text("kind"))
                .filter(|kind| !kind.is_empty() && kind.chars().all(|c| c.is_ascii_alphanumeric())),
            name: anchored(&text("name"), "name")?,
            literal_name: Some(text("name")).filter(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            }),
            namespace: anchored(&text("namespace"), "namespace")?,
            label_selector: parse_requirements(&text("labelSelector"))?,
            annotation_selector: parse_requirements(&text("annotationSelector"))?,
        })
    }

    /// Indexes of the selected resources, in order.
    pub fn select(&self, resources: &ResMap) -> Result<Vec<usize>> {
        let mut selected = Vec::new();
        for (index, resource) in resources.iter().enumerate() {
            // Cheap checks first: the kind, and a literal name, without building ids.
            if self
                .literal_kind
                .as_deref()
                .is_some_and(|kind| kind != resource.kind())
            {
                continue;
            }
            if let Some(literal) = &self.literal_name {
                let original = resource.previous_ids.first().map(|id| id.name.as_str());
                if resource.name() != literal && original != Some(literal.as_str()) {
                    continue;
                }
            }
            let current = resource.current_id();
            let original = resource.original_id();
            if let Some(namespace) = &self.namespace {
                if !namespace.is_match(original.effective_namespace())
                    && !namespace.is_match(current.effective_namespace())
                {
                    continue;
                }
            }
            if let Some(name) = &self.name {
                if !name.is_match(&original.name) && !name.is_match(&current.name) {
                    continue;
                }
            }
            let gvk = resource.gvk();
            let gvk_matches = |pattern: &Option<regex::Regex>, value: &str| {
                pattern
                    .as_ref()
                    .is_none_or(|pattern| pattern.is_match(value))
            };
            if !gvk_matches(&self.group, &gvk.group)
                || !gvk_matches(&self.version, &gvk.version)
                || !gvk_matches(&self.kind, &gvk.kind)
            {
                continue;
            }
            if !matches(&self.label_selector, &resource.labels())
                || !matches(&self.annotation_selector, &resource.annotations())
            {
                continue;
            }
            selected.push(index);
        }
        Ok(selected)
    }
}
