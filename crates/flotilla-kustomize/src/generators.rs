//! `configMapGenerator` and `secretGenerator`: ConfigMaps and Secrets made from literals, files
//! and env files, their create/merge/replace behaviours against resources from bases, and the
//! content-hash name suffix kustomize adds at the end of a build.

use std::path::Path;

use flotilla_core::{Mapping, Value};
use sha2::{Digest, Sha256};

use crate::build::{Accumulator, BuildOptions};
use crate::error::{BuildError, Result};
use crate::kustomization::Kustomization;
use crate::loader;
use crate::resource::{GeneratorBehavior, NameIndex, Origin, ResMap, Resource};

/// Generator options (`generatorOptions` and per-generator `options`).
#[derive(Clone, Debug, Default)]
pub struct GeneratorOptions {
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub disable_name_suffix_hash: bool,
    pub immutable: bool,
}

impl GeneratorOptions {
    pub fn from_value(value: Option<&Value>) -> Self {
        let mut options = GeneratorOptions::default();
        let Some(mapping) = value.and_then(Value::as_mapping) else {
            return options;
        };
        let pairs = |value: Option<&Value>| -> Vec<(String, String)> {
            value
                .and_then(Value::as_mapping)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.scalar_text().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default()
        };
        options.labels = pairs(mapping.get("labels"));
        options.annotations = pairs(mapping.get("annotations"));
        options.disable_name_suffix_hash = mapping
            .get("disableNameSuffixHash")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        options.immutable = mapping
            .get("immutable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        options
    }

    /// kustomize's `MergeGlobalOptionsIntoLocal`: global labels and annotations override local
    /// ones; either flag set globally is set.
    pub fn merged_with_global(mut self, global: &GeneratorOptions) -> Self {
        for (key, value) in &global.labels {
            set_pair(&mut self.labels, key, value);
        }
        for (key, value) in &global.annotations {
            set_pair(&mut self.annotations, key, value);
        }
        self.disable_name_suffix_hash |= global.disable_name_suffix_hash;
        self.immutable |= global.immutable;
        self
    }
}

fn set_pair(pairs: &mut Vec<(String, String)>, key: &str, value: &str) {
    match pairs.iter_mut().find(|(k, _)| k == key) {
        Some(pair) => pair.1 = value.to_string(),
        None => pairs.push((key.to_string(), value.to_string())),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum GeneratedKind {
    ConfigMap,
    Secret,
}

/// Runs the kustomization's ConfigMap and Secret generators into the accumulator.
pub fn run_generators(
    kustomization: &Kustomization,
    options: BuildOptions<'_>,
    accumulator: &mut Accumulator,
) -> Result<()> {
    let global = GeneratorOptions::from_value(kustomization.field("generatorOptions"));
    let mut names = NameIndex::new();
    for (field, kind) in [
        ("configMapGenerator", GeneratedKind::ConfigMap),
        ("secretGenerator", GeneratedKind::Secret),
    ] {
        for spec in kustomization.list(field) {
            let resource =
                generate(kustomization.dir(), spec, kind, &global, options).map_err(|error| {
                    BuildError::transform(format!(
                        "{field} in `{}`: {error}",
                        kustomization.path.display()
                    ))
                })?;
            let mut resource = resource;
            let kind_name = match kind {
                GeneratedKind::ConfigMap => "ConfigMapGenerator",
                GeneratedKind::Secret => "SecretGenerator",
            };
            resource.origin = Some(Origin::builtin(&kustomization.path, kind_name, "", ""));
            absorb_generated_indexed(&mut accumulator.resources, resource, &mut names)?;
        }
    }
    Ok(())
}

/// Builds one ConfigMap or Secret from a `generators:` plugin config of the kustomization in
/// `dir`, written in the file `configured_in`.
pub fn generate_from_plugin_config(
    dir: &Path,
    configured_in: &Path,
    config: &Value,
    options: BuildOptions<'_>,
) -> Result<Resource> {
    let (kind, kind_name) = match config.get_str(&["kind"]) {
        Some("SecretGenerator") => (GeneratedKind::Secret, "SecretGenerator"),
        _ => (GeneratedKind::ConfigMap, "ConfigMapGenerator"),
    };
    let mut spec = config.clone();
    if let Some(mapping) = spec.as_mapping_mut() {
        // The generated object's name and namespace are the config's own `name`/`namespace`,
        // falling back to the plugin's metadata.
        for field in ["name", "namespace"] {
            if mapping
                .get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                if let Some(value) = config.get_str(&["metadata", field]) {
                    mapping.insert(field, Value::string(value));
                }
            }
        }
    }
    let mut resource = generate(dir, &spec, kind, &GeneratorOptions::default(), options)?;
    resource.origin = Some(Origin::builtin(
        configured_in,
        kind_name,
        config.get_str(&["metadata", "name"]).unwrap_or(""),
        "",
    ));
    Ok(resource)
}

fn string_items(spec: &Value, field: &str) -> Vec<String> {
    spec.get_path(&[field])
        .and_then(Value::as_sequence)
        .map(|items| items.iter().filter_map(Value::scalar_text).collect())
        .unwrap_or_default()
}

fn generate(
    dir: &Path,
    spec: &Value,
    kind: GeneratedKind,
    global: &GeneratorOptions,
    options: BuildOptions<'_>,
) -> Result<Resource> {
    let name = spec.get_str(&["name"]).unwrap_or("").to_string();
    let namespace = spec.get_str(&["namespace"]).unwrap_or("").to_string();
    let behavior_text = spec.get_str(&["behavior"]).unwrap_or("");
    let behavior = GeneratorBehavior::parse(behavior_text).ok_or_else(|| {
        BuildError::transform(format!(
            "unknown generator behavior `{behavior_text}`: use create, merge or replace"
        ))
    })?;
    let local = GeneratorOptions::from_value(spec.get_path(&["options"]));
    let generator_options = local.merged_with_global(global);

    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut env_files = string_items(spec, "envs");
    if let Some(env) = spec.get_str(&["env"]) {
        if !env.is_empty() {
            env_files.push(env.to_string());
        }
    }
    for env_file in &env_files {
        let path =
            loader::resolve_restricted(options.files(), dir, env_file, options.load_restrictor)?;
        let text = loader::read_text(options.files(), &path)?;
        for (key, value) in parse_env_file(&text, &path)? {
            pairs.push((key, value.into_bytes()));
        }
    }
    for literal in string_items(spec, "literals") {
        let (key, value) = parse_literal(&literal)?;
        pairs.push((key, value.into_bytes()));
    }
    for file in string_items(spec, "files") {
        let (key, relative) = match file.split_once('=') {
            Some((key, path)) => {
                if key.is_empty() {
                    return Err(BuildError::transform(format!(
                        "key missing in file source `{file}`"
                    )));
                }
                (Some(key.to_string()), path.to_string())
            }
            None => (None, file.clone()),
        };
        let path =
            loader::resolve_restricted(options.files(), dir, &relative, options.load_restrictor)?;
        if options.files().is_dir(&path) {
            if key.is_some() {
                return Err(BuildError::transform(format!(
                    "cannot give a key to the directory `{relative}`"
                )));
            }
            let mut names: Vec<String> = options
                .files()
                .read_dir(&path)
                .map_err(|source| BuildError::Io {
                    path: path.clone(),
                    source,
                })?
                .into_iter()
                .filter(|(_, kind)| matches!(kind, loader::EntryKind::File { .. }))
                .map(|(name, _)| name)
                .collect();
            names.sort();
            for name in names {
                let bytes = loader::read_bytes(options.files(), &path.join(&name))?;
                pairs.push((name, bytes));
            }
            continue;
        }
        let key = key.unwrap_or_else(|| {
            Path::new(&relative)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| relative.clone())
        });
        pairs.push((key, loader::read_bytes(options.files(), &path)?));
    }

    let mut data = Mapping::new();
    let mut binary_data = Mapping::new();
    for (key, bytes) in pairs {
        // kustomize writes the key as a plain YAML scalar: one that reads back as null, a bool
        // or a number makes the object unencodable, and kustomize fails.
        if !matches!(
            flotilla_core::go_format::resolve_plain_v3(&key),
            Value::String(_) | Value::Timestamp(_)
        ) {
            return Err(BuildError::transform(format!(
                "key `{key}` of {name} would not be a string in YAML (kustomize fails with \"json: unsupported type\"): rename the key"
            )));
        }
        if data.contains_key(&key) || binary_data.contains_key(&key) {
            let kind_name = if kind == GeneratedKind::ConfigMap {
                "configmap"
            } else {
                "secret"
            };
            return Err(BuildError::transform(format!(
                "{kind_name} {name} illegally repeats the key `{key}`"
            )));
        }
        match kind {
            GeneratedKind::Secret => {
                data.insert(key, Value::String(encode_base64_lines(&bytes)));
            }
            GeneratedKind::ConfigMap => match String::from_utf8(bytes) {
                Ok(text) => {
                    data.insert(key, Value::String(text));
                }
                Err(error) => {
                    binary_data.insert(key, Value::String(encode_base64_lines(error.as_bytes())));
                }
            },
        }
    }

    let mut object = Mapping::new();
    object.insert("apiVersion", Value::string("v1"));
    object.insert(
        "kind",
        Value::string(if kind == GeneratedKind::ConfigMap {
            "ConfigMap"
        } else {
            "Secret"
        }),
    );
    let mut metadata = Mapping::new();
    metadata.insert("name", Value::String(name.clone()));
    if !namespace.is_empty() {
        metadata.insert("namespace", Value::String(namespace));
    }
    if !generator_options.labels.is_empty() {
        metadata.insert("labels", string_mapping(&generator_options.labels));
    }
    if !generator_options.annotations.is_empty() {
        metadata.insert(
            "annotations",
            string_mapping(&generator_options.annotations),
        );
    }
    object.insert("metadata", Value::Mapping(metadata));
    if kind == GeneratedKind::Secret {
        let secret_type = spec
            .get_str(&["type"])
            .filter(|t| !t.is_empty())
            .unwrap_or("Opaque");
        object.insert("type", Value::string(secret_type));
    }
    if !data.is_empty() {
        object.insert("data", Value::Mapping(data));
    }
    if !binary_data.is_empty() {
        object.insert("binaryData", Value::Mapping(binary_data));
    }
    if generator_options.immutable {
        object.insert("immutable", Value::Bool(true));
    }
    let mut resource = Resource::new(Value::Mapping(object));
    resource.behavior = Some(behavior);
    resource.needs_hash = !generator_options.disable_name_suffix_hash;
    Ok(resource)
}

/// Base64 as kustomize writes generated data: when the encoding is at least one 70-character
/// line long, every line (the last included) ends with a newline.
fn encode_base64_lines(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = flotilla_core::base64::encode_standard(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

fn string_mapping(pairs: &[(String, String)]) -> Value {
    Value::Mapping(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// `key=value`; a value wrapped in matching quotes loses them.
fn parse_literal(literal: &str) -> Result<(String, String)> {
    let Some((key, value)) = literal.split_once('=') else {
        return Err(BuildError::transform(format!(
            "invalid literal source `{literal}`, expected key=value"
        )));
    };
    if key.is_empty() {
        return Err(BuildError::transform(format!(
            "invalid literal source `{literal}`: the key is empty"
        )));
    }
    let value = if value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')))
    {
        &value[1..value.len() - 1]
    } else {
        value
    };
    Ok((key.to_string(), value.to_string()))
}

/// An env file: `KEY=value` lines; blank lines and `#` comments skipped; a line without `=`
/// takes its value from the environment (empty when unset).
fn parse_env_file(text: &str, path: &Path) -> Result<Vec<(String, String)>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut pairs = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim_start_matches([' ', '\t']);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) => {
                if key.is_empty() || key.chars().any(char::is_whitespace) && key.trim() != key {
                    return Err(BuildError::transform(format!(
                        "`{}` line {}: invalid key in `{line}`",
                        path.display(),
                        index + 1
                    )));
                }
                pairs.push((key.to_string(), value.to_string()));
            }
            None => {
                // A bare key takes its value from the environment, empty when unset.
                let key = line.trim();
                pairs.push((key.to_string(), std::env::var(key).unwrap_or_default()));
            }
        }
    }
    Ok(pairs)
}

/// Adds a generated resource according to its behaviour (kustomize's `appendReplaceOrMerge`).
pub fn absorb_generated(resources: &mut ResMap, generated: Resource) -> Result<()> {
    absorb_generated_indexed(resources, generated, &mut NameIndex::new())
}

/// `absorb_generated` with an index of `resources`' names the caller keeps across generators.
pub fn absorb_generated_indexed(
    resources: &mut ResMap,
    mut generated: Resource,
    names: &mut NameIndex,
) -> Result<()> {
    let id = generated.current_id();
    let matches = names.find_by_any_id(resources, &id);
    let behavior = generated.behavior.unwrap_or_default();
    match matches.as_slice() {
        [] => match behavior {
            GeneratorBehavior::Create => names.append(resources, generated),
            _ => Err(BuildError::transform(format!(
                "id {id} does not exist; cannot merge or replace"
            ))),
        },
        [index] => {
            let existing = resources.resources[*index].clone();
            match behavior {
                GeneratorBehavior::Create => {
                    return Err(BuildError::transform(format!(
                        "id {id} exists; behavior must be merge or replace"
                    )))
                }
                GeneratorBehavior::Replace => {}
                GeneratorBehavior::Merge => {
                    for field in ["data", "binaryData"] {
                        if let Some(merged) =
                            merged_mapping(&existing.object, &generated.object, &[field])
                        {
                            generated
                                .mapping_mut()
                                .insert(field, Value::Mapping(merged));
                        }
                    }
                }
            }
            copy_merge_metadata(&mut generated, &existing, behavior);
            resources.resources[*index] = generated;
            names.changed(*index, &resources.resources[*index]);
            Ok(())
        }
        _ => Err(BuildError::transform(format!(
            "found multiple objects that could accept merge of {id}"
        ))),
    }
}

/// The mapping at `path` in `old` with the one in `new` laid over it (new keys win); `None`
/// when neither has one.
fn merged_mapping(old: &Value, new: &Value, path: &[&str]) -> Option<Mapping> {
    let old = old.get_path(path).and_then(Value::as_mapping);
    let new = new.get_path(path).and_then(Value::as_mapping);
    if old.is_none() && new.is_none() {
        return None;
    }
    let mut merged = old.cloned().unwrap_or_default();
    for (key, value) in new.into_iter().flat_map(Mapping::iter) {
        merged.insert(key.clone(), value.clone());
    }
    Some(merged)
}

/// Labels and annotations merged (the new ones win), name, namespace and build state from the
/// existing resource.
fn copy_merge_metadata(generated: &mut Resource, existing: &Resource, behavior: GeneratorBehavior) {
    for field in ["labels", "annotations"] {
        if let Some(merged) =
            merged_mapping(&existing.object, &generated.object, &["metadata", field])
        {
            generated
                .metadata_mut()
                .insert(field, Value::Mapping(merged));
        }
    }
    generated.set_name(existing.name());
    let namespace = existing.namespace().to_string();
    if namespace.is_empty() {
        generated.metadata_mut().remove("namespace");
    } else {
        generated.set_namespace(&namespace);
    }
    generated.previous_ids = existing.previous_ids.clone();
    // A hash suffix only when both the existing object and the merging generator want one.
    generated.needs_hash &= existing.needs_hash;
    generated.behavior = existing.behavior;
    // A merge keeps where the object was first generated; a replace is the new generator's.
    if behavior == GeneratorBehavior::Merge {
        generated.origin = existing.origin.clone().or(generated.origin.take());
    }
    generated.prefixes = existing.prefixes.clone();
    generated.suffixes = existing.suffixes.clone();
    generated.referenced_by_var = existing.referenced_by_var.clone();
}

/// Appends the content hash to the name of every resource that wants one.
pub fn add_hashes_to_names(resources: &mut ResMap) -> Result<()> {
    for resource in resources.iter_mut() {
        if !resource.needs_hash {
            continue;
        }
        let hash = content_hash(&resource.object);
        resource.remember_id();
        let name = format!("{}-{}", resource.name(), hash);
        resource.set_name(&name);
        resource.needs_hash = false;
    }
    Ok(())
}

/// kustomize's name hash: SHA-256 over a JSON encoding of the fields that define the content,
/// first ten hex digits, with some letters swapped so the result never reads as a number.
pub fn content_hash(object: &Value) -> String {
    let kind = object.get_str(&["kind"]).unwrap_or("");
    let field = |name: &str| -> Value {
        match object.get_path(&[name]) {
            Some(Value::Mapping(mapping)) => Value::Mapping(mapping.clone()),
            Some(other) => Value::String(other.scalar_text().unwrap_or_default()),
            None => Value::String(String::new()),
        }
    };
    // kustomize looks the name up under a key literally called `metadata/name`, finds nothing,
    // and hashes an empty name: the hash depends on the content only.
    let name = Value::String(String::new());
    let encoded = match kind {
        "ConfigMap" => {
            let mut map = Mapping::new();
            map.insert("kind", Value::string("ConfigMap"));
            map.insert("name", name);
            map.insert("data", field("data"));
            if matches!(object.get_path(&["binaryData"]), Some(Value::Mapping(m)) if !m.is_empty())
            {
                map.insert("binaryData", field("binaryData"));
            }
            go_json(&Value::Mapping(map))
        }
        "Secret" => {
            let mut map = Mapping::new();
            map.insert("kind", Value::string("Secret"));
            map.insert("type", field("type"));
            map.insert("name", name);
            map.insert("data", field("data"));
            if matches!(object.get_path(&["stringData"]), Some(Value::Mapping(m)) if !m.is_empty())
            {
                map.insert("stringData", field("stringData"));
            }
            go_json(&Value::Mapping(map))
        }
        _ => go_json(object),
    };
    let digest = Sha256::digest(encoded.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect()
}

/// Go's `json.Marshal` of a decoded value: compact, map keys sorted bytewise, HTML-safe escapes.
pub fn go_json(value: &Value) -> String {
    let mut out = String::new();
    write_go_json(value, &mut out);
    out
}

fn write_go_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) | Value::Timestamp(text) => write_go_json_string(text, out),
        Value::Sequence(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Mapping(mapping) => {
            let mut entries: Vec<_> = mapping.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_go_json_string(key, out);
                out.push(':');
                write_go_json(item, out);
            }
            out.push('}');
        }
    }
}

fn write_go_json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
