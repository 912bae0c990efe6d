//! Conversions between the ordered YAML tree ([`Value`]) and `serde_json::Value` (with
//! `preserve_order`), the representation the API server, the engine and the Kubernetes client
//! speak. Key order is kept both ways; timestamps become strings; a float JSON cannot hold
//! (NaN, infinities) becomes null, as encoding/json would refuse it.

use crate::value::{Number, Value};

/// The JSON form of a YAML tree.
pub fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
        Value::Number(Number::Int(number)) => serde_json::Value::from(*number),
        Value::Number(Number::Uint(number)) => serde_json::Value::from(*number),
        Value::Number(Number::Float(number)) => serde_json::Number::from_f64(*number)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::String(text) | Value::Timestamp(text) => serde_json::Value::String(text.clone()),
        Value::Sequence(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Mapping(mapping) => serde_json::Value::Object(
            mapping
                .iter()
                .map(|(key, value)| (key.clone(), to_json(value)))
                .collect(),
        ),
    }
}

/// The YAML tree of a JSON value.
pub fn from_json(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(flag) => Value::Bool(*flag),
        serde_json::Value::Number(number) => {
            Value::Number(if let Some(integer) = number.as_i64() {
                Number::Int(integer)
            } else if let Some(integer) = number.as_u64() {
                Number::Uint(integer)
            } else {
                Number::Float(number.as_f64().unwrap_or(0.0))
            })
        }
        serde_json::Value::String(text) => Value::String(text.clone()),
        serde_json::Value::Array(items) => Value::Sequence(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Mapping(
            map.iter()
                .map(|(key, value)| (key.clone(), from_json(value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_keep_order_and_types() {
        let yaml = crate::parse_single_document("b: 1\na: [true, 1.5, \"x\", null]\nc: {z: -2}\n")
            .expect("valid YAML");
        let json = to_json(&yaml);
        assert_eq!(
            json.to_string(),
            r#"{"b":1,"a":[true,1.5,"x",null],"c":{"z":-2}}"#
        );
        assert_eq!(from_json(&json), yaml);
    }
}
