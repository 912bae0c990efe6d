//! Patch and replacement targets: group, version, kind, name and namespace (names and
//! namespaces are anchored regular expressions, as in kustomize), label and annotation
//! selectors in Kubernetes syntax.

use flotilla_core::label_selector::LabelSelector;
use flotilla_core::Value;

use crate::error::{BuildError, Result};
use crate::resource::{NameIndex, ResMap};

/// A compiled target selector.
#[derive(Debug)]
pub struct Selector {
    /// Group, version and kind are anchored regular expressions too (`Deployment|StatefulSet`).
    group: Option<Pattern>,
    version: Option<Pattern>,
    kind: Option<Pattern>,
    /// The kind when it has no regular-expression syntax, for a cheap first check.
    literal_kind: Option<String>,
    name: Option<Pattern>,
    /// The name when it has no regular-expression syntax, compared as a string.
    literal_name: Option<String>,
    namespace: Option<Pattern>,
    label_selector: LabelSelector,
    annotation_selector: LabelSelector,
}

/// An anchored regular expression, or the text itself when it has no regular-expression syntax
/// (most targets name one kind and one object): compiling a regular expression costs more than
/// a whole patch.
#[derive(Debug)]
enum Pattern {
    Literal(String),
    Regex(regex::Regex),
}

impl Pattern {
    fn is_match(&self, text: &str) -> bool {
        match self {
            Pattern::Literal(literal) => literal == text,
            Pattern::Regex(regex) => regex.is_match(text),
        }
    }
}

fn anchored(pattern: &str, what: &str) -> Result<Option<Pattern>> {
    if pattern.is_empty() {
        return Ok(None);
    }
    // Letters, digits, `-`, `_` and `/` match themselves, and only themselves, in a regular
    // expression.
    let literal = pattern
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'));
    if literal {
        return Ok(Some(Pattern::Literal(pattern.to_string())));
    }
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .map(|regex| Some(Pattern::Regex(regex)))
        .map_err(|error| {
            BuildError::transform(format!(
                "target {what} `{pattern}` is not a valid regular expression: {error}"
            ))
        })
}

fn parse_selector(text: &str, what: &str) -> Result<LabelSelector> {
    LabelSelector::parse(text)
        .map_err(|error| BuildError::transform(format!("target {what} `{text}`: {error}")))
}

fn matches(selector: &LabelSelector, pairs: &[(String, String)]) -> bool {
    selector.matches(|key| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
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
            label_selector: parse_selector(&text("labelSelector"), "labelSelector")?,
            annotation_selector: parse_selector(&text("annotationSelector"), "annotationSelector")?,
        })
    }

    /// Indexes of the selected resources, in order.
    pub fn select(&self, resources: &ResMap) -> Result<Vec<usize>> {
        self.select_among(resources, 0..resources.len())
    }

    /// `select` through an index of names: a target that names its object looks only at the
    /// resources that have or had that name.
    pub fn select_indexed(&self, resources: &ResMap, names: &mut NameIndex) -> Result<Vec<usize>> {
        match &self.literal_name {
            Some(name) => self.select_among(resources, names.candidates(resources, name)),
            None => self.select(resources),
        }
    }

    /// The selected resources among `indexes` (ascending).
    fn select_among(
        &self,
        resources: &ResMap,
        indexes: impl IntoIterator<Item = usize>,
    ) -> Result<Vec<usize>> {
        let mut selected = Vec::new();
        for index in indexes {
            let resource = &resources.resources[index];
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
            let gvk_matches = |pattern: &Option<Pattern>, value: &str| {
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
