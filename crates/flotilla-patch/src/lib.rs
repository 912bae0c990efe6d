//! Patches over `flotilla_core::Value` (interim minimal version: maps merge, `null` deletes,
//! lists of named items merge by name, other lists are replaced).

use flotilla_core::{Mapping, Value};

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PatchError {
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct Schema;

impl Schema {
    pub fn builtin() -> &'static Schema {
        static SCHEMA: Schema = Schema;
        &SCHEMA
    }
    pub fn from_openapi_document(_document: &Value) -> Result<Schema, PatchError> {
        Ok(Schema)
    }
}

pub enum MergeOutcome {
    Merged(Value),
    Delete,
}

pub fn strategic_merge(
    target: &Value,
    patch: &Value,
    _schema: &Schema,
) -> Result<MergeOutcome, PatchError> {
    if patch.get_str(&["$patch"]) == Some("delete") {
        return Ok(MergeOutcome::Delete);
    }
    Ok(MergeOutcome::Merged(merge(target, patch)))
}

fn merge(target: &Value, patch: &Value) -> Value {
    match (target, patch) {
        (Value::Mapping(target), Value::Mapping(patch)) => {
            let mut out = target.clone();
            for (key, value) in patch.iter() {
                if key.starts_with('$') {
                    continue;
                }
                if value.is_null() {
                    out.remove(key);
                    continue;
                }
                let merged = match out.get(key) {
                    Some(existing) => merge(existing, value),
                    None => strip(value),
                };
                out.insert(key.clone(), merged);
            }
            Value::Mapping(out)
        }
        (Value::Sequence(target), Value::Sequence(patch))
            if patch.iter().all(|item| item.get_str(&["name"]).is_some())
                && target.iter().all(|item| item.get_str(&["name"]).is_some()) =>
        {
            let mut out = target.clone();
            for item in patch {
                let name = item.get_str(&["name"]);
                match out
                    .iter()
                    .position(|existing| existing.get_str(&["name"]) == name)
                {
                    Some(position) => {
                        if item.get_str(&["$patch"]) == Some("delete") {
                            out.remove(position);
                        } else {
                            out[position] = merge(&out[position], item);
                        }
                    }
                    None => out.push(strip(item)),
                }
            }
            Value::Sequence(out)
        }
        (_, patch) => strip(patch),
    }
}

fn strip(value: &Value) -> Value {
    match value {
        Value::Mapping(mapping) => Value::Mapping(
            mapping
                .iter()
                .filter(|(key, _)| !key.starts_with('$'))
                .map(|(key, value)| (key.clone(), strip(value)))
                .collect::<Mapping>(),
        ),
        other => other.clone(),
    }
}

pub fn json_patch(_target: &Value, _operations: &Value) -> Result<Value, PatchError> {
    Err(PatchError {
        message: "JSON 6902 patches are not supported yet".into(),
    })
}
