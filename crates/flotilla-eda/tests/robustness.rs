//! Rules never panic: every field of the objects in `tests/cases/` (a few objects of each kind)
//! is replaced in turn by values of every other type (null, text, numbers at the limits, lists,
//! maps, booleans) and the change is evaluated both ways, with prune on and off and with
//! operator versions known. A panic fails the test; the findings are not judged here
//! (`tests/cases/robustness/` holds a case whose findings are).

use std::collections::BTreeMap;
use std::path::Path;

use flotilla_eda::{evaluate, Change};
use serde_json::{json, Value};

fn read_documents(path: &Path) -> Vec<Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => flotilla_core::yaml_read::parse_documents(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
            .iter()
            .map(flotilla_core::json::to_json)
            .filter(|document| !document.is_null())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Every path into a value (object keys and list indexes), the root excluded.
fn paths(value: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                prefix.push(json!(key));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                prefix.push(json!(index));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn replaced(value: &Value, path: &[Value], with: &Value) -> Value {
    let mut copy = value.clone();
    let mut cursor = &mut copy;
    for step in path {
        cursor = match step {
            Value::String(key) => &mut cursor[key.as_str()],
            Value::Number(index) => &mut cursor[index.as_u64().unwrap_or_default() as usize],
            _ => return copy,
        };
    }
    *cursor = with.clone();
    copy
}

#[test]
fn no_field_of_any_type_makes_a_rule_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut cases = Vec::new();
    for rule in std::fs::read_dir(&root).expect("tests/cases").flatten() {
        for case in std::fs::read_dir(rule.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if case.path().is_dir() {
                cases.push(case.path());
            }
        }
    }
    cases.sort();
    let replacements = [
        Value::Null,
        json!("text"),
        json!(""),
        json!(0),
        json!(-1),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1.5e300),
        json!([]),
        json!([null, 1, "x"]),
        json!({}),
        json!({"type": "jbod", "volumes": [{"id": 0}]}),
        json!(true),
    ];
    // A few objects of each group and kind, with the case they come from.
    let mut picked: BTreeMap<(String, String), usize> = BTreeMap::new();
    let operator_versions: BTreeMap<String, String> = [
        ("strimzi-kafka-operator", "0.45.0"),
        ("ibm-eventstreams", "12.1.0"),
        ("ibm-mq", "3.9.2"),
    ]
    .into_iter()
    .map(|(package, version)| (package.to_string(), version.to_string()))
    .collect();
    let mut evaluations = 0usize;
    for case in &cases {
        let before = read_documents(&case.join("before.yaml"));
        let after = read_documents(&case.join("after.yaml"));
        for (index, object) in after.iter().enumerate() {
            let key = (
                object["apiVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                object["kind"].as_str().unwrap_or_default().to_string(),
            );
            let seen = picked.entry(key).or_default();
            if *seen >= 3 {
                continue;
            }
            *seen += 1;
            let mut all = Vec::new();
            paths(object, &mut Vec::new(), &mut all);
            for path in &all {
                for with in &replacements {
                    let mut mutated = after.clone();
                    mutated[index] = replaced(object, path, with);
                    for (prune, reverse) in [(true, false), (false, true)] {
                        let (left, right) = if reverse {
                            (mutated.clone(), before.clone())
                        } else {
                            (before.clone(), mutated.clone())
                        };
                        let mut change = Change::new(left, right, prune);
                        change.operator_versions = operator_versions.clone();
                        let _ = evaluate(&change);
                        evaluations += 1;
                    }
                }
            }
        }
    }
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("robustness: {evaluations} changes evaluated without a panic\n"),
    );
    assert!(evaluations > 1000, "too few mutations: {evaluations}");
}
