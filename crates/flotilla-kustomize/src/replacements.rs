//! `replacements`: copy a field of one object (the source) into fields of others (the targets),
//! optionally one delimited part of a string, optionally creating missing target fields.
//!
//! As in kustomize: the source must select exactly one object; a target field path that matches
//! nothing is an error unless `create`; a scalar target keeps its own type and takes the
//! source's text.

use std::path::Path;

use flotilla_core::go_format::resolve_plain_v3;
use flotilla_core::{Mapping, Value};

use crate::build::BuildOptions;
use crate::error::{BuildError, Result};
use crate::loader;
use crate::resource::{namespaces_equal, Gvk, ResId, ResMap, Resource};

/// A `replacements:` entry: a replacement, or `path:` to a file of them.
pub fn replacement_entry(
    dir: &Path,
    entry: &Value,
    options: BuildOptions<'_>,
    resources: &mut ResMap,
) -> Result<()> {
    if let Some(path) = entry.get_str(&["path"]) {
        let file = loader::resolve_restricted(options.files(), dir, path, options.load_restrictor)?;
        let text = loader::read_text(options.files(), &file)?;
        let documents =
            flotilla_core::parse_documents(&text).map_err(|source| BuildError::Yaml {
                path: file.clone(),
                error: source,
            })?;
        for document in documents {
            match document {
                Value::Sequence(items) => {
                    for item in items {
                        apply_replacement(&item, resources)?;
                    }
                }
                Value::Null => {}
                other => apply_replacement(&other, resources)?,
            }
        }
        return Ok(());
    }
    apply_replacement(entry, resources)
}

/// kustomize's `ResId.IsSelectedBy`: exact name and namespace when given, gvk fields when given.
struct IdSelector {
    gvk: Gvk,
    name: String,
    namespace: String,
}

impl IdSelector {
    fn from_value(value: &Value) -> Self {
        let text = |field: &str| {
            value
                .get_path(&[field])
                .and_then(Value::scalar_text)
                .unwrap_or_default()
        };
        IdSelector {
            gvk: Gvk {
                group: text("group"),
                version: text("version"),
                kind: text("kind"),
            },
            name: text("name"),
            namespace: text("namespace"),
        }
    }

    fn selects(&self, id: &ResId) -> bool {
        (self.name.is_empty() || self.name == id.name)
            && (self.namespace.is_empty() || namespaces_equal(&self.namespace, &id.namespace))
            && self.gvk.selects(&id.gvk)
    }

    fn selects_resource(&self, resource: &Resource) -> bool {
        resource.all_ids().iter().any(|id| self.selects(id))
    }

    fn describe(&self) -> String {
        format!(
            "{}/{}.{}",
            self.gvk.kustomize_string(),
            self.name,
            if self.namespace.is_empty() {
                "[noNs]"
            } else {
                &self.namespace
            }
        )
    }
}

#[derive(Default)]
struct FieldOptions {
    delimiter: String,
    index: i64,
    create: bool,
}

impl FieldOptions {
    fn from_value(value: Option<&Value>) -> Self {
        let Some(value) = value else {
            return FieldOptions::default();
        };
        FieldOptions {
            delimiter: value.get_str(&["delimiter"]).unwrap_or("").to_string(),
            index: match value.get_path(&["index"]) {
                Some(Value::Number(number)) => number.to_string().parse().unwrap_or(0),
                _ => 0,
            },
            create: value
                .get_path(&["create"])
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}

fn apply_replacement(replacement: &Value, resources: &mut ResMap) -> Result<()> {
    let source = replacement
        .get_path(&["source"])
        .ok_or_else(|| BuildError::transform("a replacement needs a `source`"))?;
    let selector = IdSelector::from_value(source);
    let matches: Vec<&Resource> = resources
        .iter()
        .filter(|resource| selector.selects_resource(resource))
        .collect();
    let source_resource = match matches.as_slice() {
        [one] => *one,
        [] => {
            return Err(BuildError::transform(format!(
                "nothing selected by {}",
                selector.describe()
            )))
        }
        _ => {
            return Err(BuildError::transform(format!(
                "multiple matches for selector {}",
                selector.describe()
            )))
        }
    };
    let field_path = source
        .get_str(&["fieldPath"])
        .filter(|p| !p.is_empty())
        .unwrap_or("metadata.name");
    let value = lookup(&source_resource.object, &split_path(field_path))
        .filter(|value| !is_nil_or_empty(value))
        .ok_or_else(|| {
            BuildError::transform(format!(
                "fieldPath `{field_path}` is missing for replacement source {}",
                selector.describe()
            ))
        })?;
    let source_options = FieldOptions::from_value(source.get_path(&["options"]));
    let value = refine(&source_options, value)?;
    let targets = replacement
        .get_path(&["targets"])
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    for target in &targets {
        let Some(select) = target.get_path(&["select"]) else {
            return Err(BuildError::transform(
                "a replacement target must specify resources to select",
            ));
        };
        let select = IdSelector::from_value(select);
        let rejects: Vec<IdSelector> = target
            .get_path(&["reject"])
            .and_then(Value::as_sequence)
            .map(|items| items.iter().map(IdSelector::from_value).collect())
            .unwrap_or_default();
        let options = FieldOptions::from_value(target.get_path(&["options"]));
        let field_paths: Vec<String> = target
            .get_path(&["fieldPaths"])
            .and_then(Value::as_sequence)
            .map(|items| items.iter().filter_map(Value::scalar_text).collect())
            .unwrap_or_default();
        for resource in resources.iter_mut() {
            // Selected by any id the object has had, rejected by any too.
            let ids = resource.all_ids();
            let selected = ids.iter().any(|id| select.selects(id))
                && !ids
                    .iter()
                    .any(|id| rejects.iter().any(|reject| reject.selects(id)));
            if !selected {
                continue;
            }
            for path in &field_paths {
                let mut found = 0;
                let mut error = None;
                visit(
                    &mut resource.object,
                    &split_path(path),
                    options.create,
                    &mut |field, created| {
                        found += 1;
                        if let Err(e) = set_field(&options, field, &value, created) {
                            error = Some(e);
                        }
                    },
                );
                if let Some(error) = error {
                    return Err(error);
                }
                if found == 0 {
                    return Err(BuildError::transform(if options.create {
                        format!("unable to find or create field \"{path}\" in replacement target")
                    } else {
                        format!("unable to find field \"{path}\" in replacement target")
                    }));
                }
            }
        }
    }
    Ok(())
}

fn is_nil_or_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Mapping(mapping) => mapping.is_empty(),
        Value::Sequence(items) => items.is_empty(),
        _ => false,
    }
}

fn refine(options: &FieldOptions, value: Value) -> Result<Value> {
    if options.delimiter.is_empty() {
        return Ok(value);
    }
    let Some(text) = value
        .scalar_text()
        .filter(|_| !matches!(value, Value::Mapping(_) | Value::Sequence(_)))
    else {
        return Err(BuildError::transform(
            "delimiter option can only be used with scalar nodes",
        ));
    };
    let parts: Vec<&str> = text.split(options.delimiter.as_str()).collect();
    if options.index < 0 || options.index as usize >= parts.len() {
        return Err(BuildError::transform(format!(
            "options.index {} is out of bounds for value {text}",
            options.index
        )));
    }
    Ok(retyped(&value, parts[options.index as usize]))
}

/// A scalar with `text` and the type of `like` (kustomize copies only the text of a scalar).
fn retyped(like: &Value, text: &str) -> Value {
    match like {
        Value::String(_) => Value::String(text.to_string()),
        _ => resolve_plain_v3(text),
    }
}

fn set_field(
    options: &FieldOptions,
    field: &mut Value,
    value: &Value,
    created: bool,
) -> Result<()> {
    let mut value = value.clone();
    if !options.delimiter.is_empty() {
        let Some(current) = field
            .scalar_text()
            .filter(|_| !matches!(field, Value::Mapping(_) | Value::Sequence(_)))
        else {
            return Err(BuildError::transform(
                "delimiter option can only be used with scalar nodes",
            ));
        };
        let mut parts: Vec<String> = current
            .split(options.delimiter.as_str())
            .map(str::to_string)
            .collect();
        let replacement = value.scalar_text().unwrap_or_default();
        if options.index < 0 {
            parts.insert(0, replacement);
        } else if options.index as usize >= parts.len() {
            parts.push(replacement);
        } else {
            parts[options.index as usize] = replacement;
        }
        value = Value::String(parts.join(&options.delimiter));
    }
    let target_is_scalar = !matches!(field, Value::Mapping(_) | Value::Sequence(_));
    let value_is_scalar = !matches!(value, Value::Mapping(_) | Value::Sequence(_));
    if created {
        *field = match &value {
            Value::String(text) => resolve_plain_v3(text),
            other => other.clone(),
        };
        return Ok(());
    }
    if target_is_scalar && value_is_scalar && !field.is_null() {
        let text = value.scalar_text().unwrap_or_default();
        *field = retyped(field, &text);
    } else {
        *field = value;
    }
    Ok(())
}

#[derive(Debug)]
enum Part {
    Key(String),
    Index(usize),
    Select(String, String),
    Wildcard,
}

/// kyaml's path splitting: `.` separates, except inside `[...]`.
fn split_path(path: &str) -> Vec<Part> {
    let mut raw = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => {
                depth += 1;
                current.push(c);
            }
            ']' => {
                depth -= 1;
                current.push(c);
            }
            '.' if depth == 0 => raw.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    raw.push(current);
    raw.into_iter()
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            if segment == "*" {
                Part::Wildcard
            } else if let Some(inner) = segment.strip_prefix('[').and_then(|s| s.strip_suffix(']'))
            {
                match inner.split_once('=') {
                    Some((key, value)) => Part::Select(key.to_string(), value.to_string()),
                    None => Part::Key(inner.to_string()),
                }
            } else if let Ok(index) = segment.parse::<usize>() {
                Part::Index(index)
            } else {
                Part::Key(segment)
            }
        })
        .collect()
}

fn lookup(node: &Value, parts: &[Part]) -> Option<Value> {
    let Some((part, rest)) = parts.split_first() else {
        return Some(node.clone());
    };
    match (part, node) {
        (Part::Key(key), Value::Mapping(mapping)) => lookup(mapping.get(key)?, rest),
        (Part::Index(index), Value::Sequence(items)) => lookup(items.get(*index)?, rest),
        (Part::Index(index), Value::Mapping(mapping)) => {
            lookup(mapping.get(&index.to_string())?, rest)
        }
        (Part::Select(key, wanted), Value::Sequence(items)) => {
            let item = items
                .iter()
                .find(|item| select_matches(item, key, wanted))?;
            lookup(item, rest)
        }
        _ => None,
    }
}

fn select_matches(item: &Value, key: &str, wanted: &str) -> bool {
    if key.is_empty() {
        return item.scalar_text().as_deref() == Some(wanted);
    }
    item.get_path(&[key])
        .and_then(Value::scalar_text)
        .as_deref()
        == Some(wanted)
}

fn visit(
    node: &mut Value,
    parts: &[Part],
    create: bool,
    visitor: &mut dyn FnMut(&mut Value, bool),
) {
    visit_inner(node, parts, create, false, visitor)
}

fn visit_inner(
    node: &mut Value,
    parts: &[Part],
    create: bool,
    created: bool,
    visitor: &mut dyn FnMut(&mut Value, bool),
) {
    let Some((part, rest)) = parts.split_first() else {
        visitor(node, created);
        return;
    };
    if node.is_null() && create {
        *node = match part {
            Part::Select(..) | Part::Index(_) => Value::Sequence(Vec::new()),
            _ => Value::Mapping(Mapping::new()),
        };
    }
    match (part, node) {
        (Part::Key(key), Value::Mapping(mapping)) => {
            let mut newly = false;
            if !mapping.contains_key(key) {
                if !create {
                    return;
                }
                mapping.insert(key.clone(), Value::Null);
                newly = true;
            }
            let child = mapping.get_mut(key).expect("present or just inserted");
            visit_inner(child, rest, create, newly, visitor);
        }
        (Part::Index(index), Value::Sequence(items)) => {
            if let Some(item) = items.get_mut(*index) {
                visit_inner(item, rest, create, false, visitor);
            }
        }
        (Part::Select(key, wanted), Value::Sequence(items)) => {
            let mut any = false;
            for item in items.iter_mut() {
                if select_matches(item, key, wanted) {
                    any = true;
                    visit_inner(item, rest, create, false, visitor);
                }
            }
            if !any && create {
                let mut element = Mapping::new();
                element.insert(key.clone(), resolve_plain_v3(wanted));
                items.push(Value::Mapping(element));
                let last = items.last_mut().expect("just pushed");
                visit_inner(last, rest, create, true, visitor);
            }
        }
        (Part::Wildcard, Value::Sequence(items)) => {
            for item in items.iter_mut() {
                visit_inner(item, rest, create, false, visitor);
            }
        }
        (Part::Wildcard, Value::Mapping(mapping)) => {
            for (_, item) in mapping.iter_mut() {
                visit_inner(item, rest, create, false, visitor);
            }
        }
        _ => {}
    }
}
