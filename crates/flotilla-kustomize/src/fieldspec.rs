//! Field specs: "in resources of this kind, the field at this path", the unit of kustomize's
//! transformer configuration, and the walk that visits those fields.
//!
//! A path is `/`-separated (`spec/template/metadata/labels`); `\/` escapes a slash inside a key.
//! When the walk meets a sequence it visits every item (`containers` and `containers[]` mean the
//! same), and `[key=value]` selects the items whose `key` is `value`. With `create`, missing
//! mappings along the way are created, and the visitor sees a `Null` for a missing last field.

use std::borrow::Cow;

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
enum Segment<'a> {
    Field(Cow<'a, str>),
    /// `field[]`: the field, then each item of the sequence there.
    EachItem(Cow<'a, str>),
    /// `[key=value]` on the sequence just walked into.
    Select(Cow<'a, str>, Cow<'a, str>),
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

/// A position in a path: the segments not walked yet, read one at a time from the text (a walk
/// visits many objects, and reading a segment is cheaper than allocating a list of them).
#[derive(Clone, Debug)]
struct Cursor<'a> {
    rest: &'a str,
    /// The `[key=value]` of a `field[key=value]` part, after its field.
    pending: Option<Segment<'a>>,
}

impl<'a> Cursor<'a> {
    fn new(path: &'a str) -> Self {
        Cursor {
            rest: path,
            pending: None,
        }
    }

    /// The next segment and the cursor after it; `None` at the end of the path.
    fn next(&self) -> Option<(Segment<'a>, Cursor<'a>)> {
        if let Some(segment) = &self.pending {
            let after = Cursor {
                rest: self.rest,
                pending: None,
            };
            return Some((segment.clone(), after));
        }
        let mut rest = self.rest;
        loop {
            if rest.is_empty() {
                return None;
            }
            // A part ends at a `/` that is not escaped as `\/`.
            let bytes = rest.as_bytes();
            let mut end = 0;
            let mut escaped = false;
            while end < bytes.len() {
                match bytes[end] {
                    b'\\' if bytes.get(end + 1) == Some(&b'/') => {
                        escaped = true;
                        end += 2;
                    }
                    b'/' => break,
                    _ => end += 1,
                }
            }
            let raw = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or("");
            if raw.is_empty() {
                continue;
            }
            let raw: Cow<'a, str> = if escaped {
                Cow::Owned(raw.replace("\\/", "/"))
            } else {
                Cow::Borrowed(raw)
            };
            let (segment, pending) = read_part(raw);
            return Some((segment, Cursor { rest, pending }));
        }
    }

    /// Whether no segment is left (empty parts are skipped).
    fn is_done(&self) -> bool {
        self.pending.is_none() && self.rest.bytes().all(|byte| byte == b'/')
    }
}

/// Reads one `/`-separated part of a path: a field, `field[]`, `[key=value]`, or
/// `field[key=value]` (a field, then a selection on the sequence there).
fn read_part(raw: Cow<'_, str>) -> (Segment<'_>, Option<Segment<'_>>) {
    let text: &str = &raw;
    let part = |range: std::ops::Range<usize>| -> Cow<'_, str> {
        match &raw {
            Cow::Borrowed(whole) => Cow::Borrowed(&whole[range]),
            Cow::Owned(owned) => Cow::Owned(owned[range].to_string()),
        }
    };
    if text.starts_with('[') && text.ends_with(']') && text.contains('=') {
        let equals = text.find('=').expect("checked contains '='");
        let segment = Segment::Select(part(1..equals), part(equals + 1..text.len() - 1));
        return (segment, None);
    }
    if text.ends_with("[]") {
        return (Segment::EachItem(part(0..text.len() - 2)), None);
    }
    let bracket = text
        .find('[')
        .filter(|_| text.ends_with(']'))
        .and_then(|open| Some((open, open + 1 + text[open + 1..].find('=')?)));
    if let Some((open, equals)) = bracket {
        let select = Segment::Select(part(open + 1..equals), part(equals + 1..text.len() - 1));
        return (Segment::Field(part(0..open)), Some(select));
    }
    let whole = match &raw {
        Cow::Borrowed(whole) => Cow::Borrowed(*whole),
        Cow::Owned(owned) => Cow::Owned(owned.clone()),
    };
    (Segment::Field(whole), None)
}

/// The visitor of a field: gets the field's value (`Null` when just created).
pub type Visitor<'a> = dyn FnMut(&mut Value) -> Result<()> + 'a;

/// Visits every field `spec.path` reaches in `object` (the caller checks `applies_to`).
pub fn visit_fields(object: &mut Value, spec: &FieldSpec, visitor: &mut Visitor<'_>) -> Result<()> {
    walk(
        object,
        &Cursor::new(&spec.path),
        spec.create,
        false,
        visitor,
    )
}

/// Like `visit_fields`, but a scalar met where the path goes on is an error (kustomize's name
/// reference walk: "expected sequence or mapping node").
pub fn visit_fields_strict(
    object: &mut Value,
    spec: &FieldSpec,
    visitor: &mut Visitor<'_>,
) -> Result<()> {
    walk(object, &Cursor::new(&spec.path), spec.create, true, visitor)
}

/// Like `visit_fields_strict` with a path of its own, creating nothing.
pub fn visit_path_strict(object: &mut Value, path: &str, visitor: &mut Visitor<'_>) -> Result<()> {
    walk(object, &Cursor::new(path), false, true, visitor)
}

/// Like `visit_fields` with a path of its own.
pub fn visit_path(
    object: &mut Value,
    path: &str,
    create: bool,
    visitor: &mut Visitor<'_>,
) -> Result<()> {
    walk(object, &Cursor::new(path), create, false, visitor)
}

fn walk(
    node: &mut Value,
    path: &Cursor<'_>,
    create: bool,
    strict: bool,
    visitor: &mut Visitor<'_>,
) -> Result<()> {
    let Some((segment, rest)) = path.next() else {
        return visitor(node);
    };
    if let Value::Sequence(items) = node {
        // Sequences are walked through item by item, whatever the segment.
        if let Segment::Select(key, wanted) = &segment {
            for item in items.iter_mut() {
                let matches = item
                    .as_mapping()
                    .and_then(|mapping| mapping.get(key))
                    .and_then(Value::scalar_text)
                    .is_some_and(|text| text == **wanted);
                if matches {
                    walk(item, &rest, create, strict, visitor)?;
                }
            }
            return Ok(());
        }
        for item in items.iter_mut() {
            walk(item, path, create, strict, visitor)?;
        }
        return Ok(());
    }
    let (field, each_item) = match &segment {
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
    let last = rest.is_done();
    if !mapping.contains_key(field) {
        if !create || each_item {
            return Ok(());
        }
        if last {
            mapping.insert(field.to_string(), Value::Null);
        } else {
            mapping.insert(field.to_string(), Value::Mapping(Mapping::new()));
        }
    }
    let child = mapping.get_mut(field).expect("present or just inserted");

    if last {
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
    walk(child, &rest, create, strict, visitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<Segment<'_>> {
        let mut cursor = Cursor::new(path);
        let mut segments = Vec::new();
        while let Some((segment, rest)) = cursor.next() {
            segments.push(segment);
            cursor = rest;
        }
        assert!(cursor.is_done());
        segments
    }

    #[test]
    fn paths_are_read_part_by_part() {
        let field = |text: &'static str| Segment::Field(Cow::Borrowed(text));
        let select = |key: &'static str, value: &'static str| {
            Segment::Select(Cow::Borrowed(key), Cow::Borrowed(value))
        };
        assert_eq!(
            segments("spec/containers[]/image"),
            [
                field("spec"),
                Segment::EachItem(Cow::Borrowed("containers")),
                field("image")
            ]
        );
        assert_eq!(
            segments("/spec//ports[name=http]/port/"),
            [
                field("spec"),
                field("ports"),
                select("name", "http"),
                field("port")
            ]
        );
        assert_eq!(
            segments("subjects/[kind=ServiceAccount]/name"),
            [
                field("subjects"),
                select("kind", "ServiceAccount"),
                field("name")
            ]
        );
        // `\/` is a slash inside a key; other backslashes stay.
        assert_eq!(
            segments("metadata/annotations/a.io\\/b\\x"),
            [
                field("metadata"),
                field("annotations"),
                Segment::Field(Cow::Owned("a.io/b\\x".to_string()))
            ]
        );
        assert!(segments("").is_empty() && segments("//").is_empty());
        assert!(!Cursor::new("a").is_done() && Cursor::new("/").is_done());
    }

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
