//! Field specs: "in resources of this kind, the field at this path", the unit of kustomize's
//! transformer configuration, and the walk that visits those fields.
//!
//! A path is `/`-separated (`spec/template/metadata/labels`); `\/` escapes a slash inside a key.
//! When the walk meets a sequence it visits every item (`containers` and `containers[]` mean the
//! same), and `[key=value]` selects the items whose `key` is `value`. With `create`, missing
//! mappings along the way are created, and the visitor sees a `Null` for a missing last field.

use flotilla_core::{Mapping, Value};

use crate::error::{BuildError, Result};
use crate::kustomization::canonical_field;
use crate::resource::Gvk;

/// One field spec.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldSpec {
    pub gvk: Gvk,
    pub path: String,
    pub create: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Field(String),
    /// `field[]`: the field, then each item of the sequence there.
    EachItem(String),
    /// `[key=value]` on the sequence just walked into.
    Select(String, String),
}

impl FieldSpec {
    pub fn new(path: &str, create: bool) -> Self {
        FieldSpec {
            gvk: Gvk::default(),
            path: path.to_string(),
            create,
        }
    }

    /// Reads a field spec from its YAML form (`group`, `version`, `kind`, `path`, `create`).
    /// Reads a field spec from its YAML form (`group`, `version`, `kind`, `path`, `create`).
    /// Other keys are ignored, as kustomize's non-strict decoding of plugin configs does.
    pub fn from_value(value: &Value) -> Result<Self> {
        let mapping = value.as_mapping().ok_or_else(|| {
            BuildError::transform(format!(
                "a field spec must be a mapping, not a {}",
                value.type_name()
            ))
        })?;
        let mut spec = FieldSpec::new("", false);
        for (key, item) in mapping.iter() {
            let known = ["group", "version", "kind", "path", "create"];
            let text = item.scalar_text().unwrap_or_default();
            match canonical_field(key, &known) {
                Some("group") => spec.gvk.group = text,
                Some("version") => spec.gvk.version = text,
                Some("kind") => spec.gvk.kind = text,
                Some("path") => spec.path = text,
                Some("create") => spec.create = item.as_bool().unwrap_or(text == "true"),
                _ => {}
            }
        }
        Ok(spec)
    }

    pub fn applies_to(&self, gvk: &Gvk) -> bool {
        self.gvk.selects(gvk)
    }

    /// Whether two specs are the same for deduplication (kustomize compares gvk and path).
    pub fn same_target(&self, other: &FieldSpec) -> bool {
        self.gvk == other.gvk && self.path == other.path
    }
}

/// Appends `additions` to `specs`, skipping exact duplicates; a spec for the same gvk and path
/// with a different `create` is an error, as kustomize's merge has it. Linear in both lists.
pub fn merge_field_specs(specs: &mut Vec<FieldSpec>, additions: &[FieldSpec]) -> Result<()> {
    if additions.is_empty() {
        return Ok(());
    }
    let mut index: std::collections::HashMap<(&Gvk, &str), bool> = specs
        .iter()
        .map(|spec| ((&spec.gvk, spec.path.as_str()), spec.create))
        .collect();
    let mut new_specs = Vec::new();
    for addition in additions {
        match index.get(&(&addition.gvk, addition.path.as_str())) {
            Some(create) if *create != addition.create => {
                return Err(BuildError::transform(format!(
                    "conflicting fieldspecs: path `{}` for kind `{}` is given with create true and false",
                    addition.path, addition.gvk.kind
                )))
            }
            Some(_) => {}
            None => {
                index.insert((&addition.gvk, addition.path.as_str()), addition.create);
                new_specs.push(addition.clone());
            }
        }
    }
    specs.extend(new_specs);
    Ok(())
}

fn split_path(path: &str) -> Vec<Segment> {
    let mut raw_segments = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                current.push('/');
                chars.next();
            }
            '/' => raw_segments.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    raw_segments.push(current);
    let mut segments = Vec::new();
    for raw in raw_segments {
        if raw.is_empty() {
            continue;
        }
        if raw.starts_with('[') && raw.ends_with(']') && raw.contains('=') {
            let inner = &raw[1..raw.len() - 1];
            let (key, value) = inner.split_once('=').expect("checked contains '='");
            segments.push(Segment::Select(key.to_string(), value.to_string()));
        } else if let Some(field) = raw.strip_suffix("[]") {
            segments.push(Segment::EachItem(field.to_string()));
        } else if let Some(open) = raw
            .find('[')
            .filter(|_| raw.ends_with(']') && raw.contains('='))
        {
            segments.push(Segment::Field(raw[..open].to_string()));
            let inner = &raw[open + 1..raw.len() - 1];
            let (key, value) = inner.split_once('=').expect("checked contains '='");
            segments.push(Segment::Select(key.to_string(), value.to_string()));
        } else {
            segments.push(Segment::Field(raw));
        }
    }
    segments
}

/// The visitor of a field: gets the field's value (`Null` when just created).
pub type Visitor<'a> = dyn FnMut(&mut Value) -> Result<()> + 'a;

/// Visits every field `spec.path` reaches in `object` (the caller checks `applies_to`).
pub fn visit_fields(object: &mut Value, spec: &FieldSpec, visitor: &mut Visitor<'_>) -> Result<()> {
    let segments = split_path(&spec.path);
    walk(object, &segments, spec.create, false, visitor)
}

/// Like `visit_fields`, but a scalar met where the path goes on is an error (kustomize's name
/// reference walk: "expected sequence or mapping node").
pub fn visit_fields_strict(
    object: &mut Value,
    spec: &FieldSpec,
    visitor: &mut Visitor<'_>,
) -> Result<()> {
    let segments = split_path(&spec.path);
    walk(object, &segments, spec.create, true, visitor)
}

/// Like `visit_fields` with a path of its own.
pub fn visit_path(
    object: &mut Value,
    path: &str,
    create: bool,
    visitor: &mut Visitor<'_>,
) -> Result<()> {
    walk(object, &split_path(path), create, false, visitor)
}

fn walk(
    node: &mut Value,
    segments: &[Segment],
    create: bool,
    strict: bool,
    visitor: &mut Visitor<'_>,
) -> Result<()> {
    let Some((segment, rest)) = segments.split_first() else {
        return visitor(node);
    };
    if let Value::Sequence(items) = node {
        // Sequences are walked through item by item, whatever the segment.
        if let Segment::Select(key, wanted) = segment {
            for item in items.iter_mut() {
                let matches = item
                    .as_mapping()
                    .and_then(|mapping| mapping.get(key))
                    .and_then(Value::scalar_text)
                    .is_some_and(|text| &text == wanted);
                if matches {
                    walk(item, rest, create, strict, visitor)?;
                }
            }
            return Ok(());
        }
        for item in items.iter_mut() {
            walk(item, segments, create, strict, visitor)?;
        }
        return Ok(());
    }
    let (field, each_item) = match segment {
        Segment::Field(field) => (field, false),
        Segment::EachItem(field) => (field, true),
        Segment::Select(..) => return Ok(()),
    };
    if node.is_null() && create {
        *node = Value::Mapping(Mapping::new());
    }
    let Value::Mapping(mapping) = node else {
        if strict && !node.is_null() {
            return Err(BuildError::transform(format!(
                "considering field `{field}`: expected a sequence or mapping, found a {}",
                node.type_name()
            )));
        }
        return Ok(());
    };
    if !mapping.contains_key(field) {
        if !create || each_item {
            return Ok(());
        }
        if rest.is_empty() {
            mapping.insert(field.clone(), Value::Null);
        } else {
            mapping.insert(field.clone(), Value::Mapping(Mapping::new()));
        }
    }
    let child = mapping.get_mut(field).expect("present or just inserted");

    if rest.is_empty() {
        if child.is_null() && !create {
            return Ok(());
        }
        if let (true, Value::Sequence(items)) = (each_item, &mut *child) {
            for item in items.iter_mut() {
                visitor(item)?;
            }
            return Ok(());
        }
        return visitor(child);
    }
    if child.is_null() {
        if !create {
            return Ok(());
        }
        *child = Value::Mapping(Mapping::new());
    }
    walk(child, rest, create, strict, visitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_sequences_and_creates() {
        let mut object = flotilla_core::parse_single_document(
            "spec:\n  containers:\n  - name: a\n    image: x\n  - name: b\n    image: y\n",
        )
        .expect("yaml");
        let mut seen = Vec::new();
        visit_path(&mut object, "spec/containers/image", false, &mut |value| {
            seen.push(value.scalar_text().unwrap_or_default());
            Ok(())
        })
        .expect("walk");
        assert_eq!(seen, vec!["x", "y"]);
        visit_path(&mut object, "metadata/labels", true, &mut |value| {
            assert!(value.is_null());
            *value = Value::Mapping(Mapping::new());
            Ok(())
        })
        .expect("walk");
        assert!(object.get_path(&["metadata", "labels"]).is_some());
    }
}
