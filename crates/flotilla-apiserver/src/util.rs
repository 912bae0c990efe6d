//! Small helpers shared by the server modules: RFC 3339 timestamps, random names and uids,
//! Kubernetes name validation, and access to `metadata` fields of a JSON object.

use rand::Rng;
use serde_json::{Map, Value};

pub use flotilla_core::time::{format_rfc3339, now_rfc3339};

/// A random version-4 UUID.
pub fn new_uid() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut uid = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            uid.push('-');
        }
        uid.push(HEX[usize::from(byte >> 4)] as char);
        uid.push(HEX[usize::from(byte & 0x0f)] as char);
    }
    uid
}

/// The five random characters kube-apiserver appends to `generateName`.
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut random = rand::rng();
    (0..5)
        .map(|_| ALPHABET[random.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A random token of `length` hexadecimal characters pairs.
pub fn random_hex(bytes: usize) -> String {
    let mut random = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", random.random::<u8>()))
        .collect()
}

/// Why `name` is not an RFC 1123 DNS label, or `None` when it is one.
pub fn dns_label_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a lowercase RFC 1123 label must not be empty".to_string());
    }
    if name.len() > 63 {
        return Some("must be no more than 63 characters".to_string());
    }
    let bytes = name.as_bytes();
    let valid_inner = bytes
        .iter()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-');
    let alnum = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    if !valid_inner || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Some(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                .to_string(),
        );
    }
    None
}

/// Why `name` is not an RFC 1123 DNS subdomain, or `None` when it is one.
pub fn dns_subdomain_problem(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some("must be no more than 253 characters".to_string());
    }
    let bad = name.is_empty()
        || name.split('.').any(|label| {
            let bytes = label.as_bytes();
            let alnum = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
            bytes.is_empty()
                || !alnum(bytes[0])
                || !alnum(bytes[bytes.len() - 1])
                || !bytes.iter().all(|byte| alnum(*byte) || *byte == b'-')
        });
    if bad {
        return Some(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                .to_string(),
        );
    }
    None
}

pub fn metadata(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

/// `metadata`, created empty when absent (the object must be a JSON object).
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    let map = object
        .as_object_mut()
        .expect("callers check that the body is an object");
    let entry = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("just made an object")
}

pub fn metadata_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    metadata(object)
        .and_then(|metadata| metadata.get(field))
        .and_then(Value::as_str)
}

/// `metadata.finalizers` as strings.
pub fn finalizers(object: &Value) -> Vec<String> {
    metadata(object)
        .and_then(|metadata| metadata.get("finalizers"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_known_dates() {
        for (seconds, expected) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
        ] {
            assert_eq!(format_rfc3339(seconds), expected);
        }
    }

    #[test]
    fn dns_names() {
        for (name, label_ok, subdomain_ok) in [
            ("abc", true, true),
            ("a-b.c", false, true),
            ("-a", false, false),
            ("A", false, false),
            ("", false, false),
            ("a_b", false, false),
        ] {
            assert_eq!(dns_label_problem(name).is_none(), label_ok, "{name}");
            assert_eq!(
                dns_subdomain_problem(name).is_none(),
                subdomain_ok,
                "{name}"
            );
        }
    }

    #[test]
    fn uids_are_well_formed() {
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
    }
}
