//! Data-driven AsyncAPI cases: `tests/asyncapi/<case>/` holds
//! - `files/`: the repository files (AsyncAPI documents, schemas), by their path under `files/`;
//! - `objects.yaml`: the rendered objects after the change (multi-document), and optionally
//!   `before.yaml`: the objects before it;
//! - `expected.yaml`: the `asyncapi-…` findings `evaluate` returns, in its order, each
//!   `{rule, severity, object, path, overridden, messageContains}` (as in `tests/cases.rs`;
//!   `messageContains` may be a list). Findings of other modules' rules are not compared;
//! - optionally `subjects.yaml`: what `asyncapi::subjects` gives (subject → schema files).

use std::path::Path;

mod data_files;

use data_files::{case_directories, read_documents, read_tree};
use flotilla_eda::{evaluate, Change};
use serde_json::{json, Value};

fn change_of(case: &Path) -> Change {
    let mut change = Change::new(
        read_documents(&case.join("before.yaml")),
        read_documents(&case.join("objects.yaml")),
        true,
    );
    change.files_after = read_tree(&case.join("files"));
    change
}

#[test]
fn every_asyncapi_case_gives_its_expected_findings() {
    let mut failures = Vec::new();
    let cases = case_directories("asyncapi");
    for case in &cases {
        let change = change_of(case);
        let findings: Vec<_> = evaluate(&change)
            .into_iter()
            .filter(|finding| finding.rule.starts_with("asyncapi-"))
            .collect();
        let got: Vec<Value> = findings
            .iter()
            .map(|finding| {
                json!({
                    "rule": finding.rule,
                    "severity": finding.severity.as_str(),
                    "object": finding.object.to_string(),
                    "path": finding.path,
                    "overridden": finding.overridden,
                })
            })
            .collect();
        let expected = match read_documents(&case.join("expected.yaml"))
            .into_iter()
            .next()
        {
            Some(Value::Array(items)) => items,
            _ => {
                failures.push(format!("{}: expected.yaml must be a list", case.display()));
                continue;
            }
        };
        let comparable: Vec<Value> = expected
            .iter()
            .map(|item| {
                json!({
                    "rule": item["rule"],
                    "severity": item["severity"],
                    "object": item["object"],
                    "path": item["path"].as_str().unwrap_or_default(),
                    "overridden": item["overridden"].as_bool().unwrap_or(false),
                })
            })
            .collect();
        if got != comparable {
            let messages: Vec<String> = findings
                .iter()
                .map(|finding| format!("    {}: {}", finding.rule, finding.message))
                .collect();
            failures.push(format!(
                "{}:\n  expected {}\n  got      {}\n{}",
                case.display(),
                serde_json::to_string(&comparable).unwrap_or_default(),
                serde_json::to_string(&got).unwrap_or_default(),
                messages.join("\n")
            ));
            continue;
        }
        for (item, finding) in expected.iter().zip(&findings) {
            let parts: Vec<&str> = match &item["messageContains"] {
                Value::String(part) => vec![part.as_str()],
                Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for part in parts {
                if !finding.message.contains(part) {
                    failures.push(format!(
                        "{}: {} message `{}` lacks `{part}`",
                        case.display(),
                        finding.rule,
                        finding.message
                    ));
                }
            }
        }
        if let Some(expected) = read_documents(&case.join("subjects.yaml"))
            .into_iter()
            .next()
        {
            let got = serde_json::to_value(flotilla_eda::asyncapi::subjects(&change))
                .expect("a map of lists");
            if got != expected {
                failures.push(format!(
                    "{}: subjects\n  expected {expected}\n  got      {got}",
                    case.display()
                ));
            }
        }
    }
    eprintln!(
        "asyncapi cases: {} checked, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(!cases.is_empty(), "no cases under tests/asyncapi");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Any bytes in a document's place: findings or nothing, never a panic.
#[test]
fn malformed_documents_never_panic() {
    let texts = [
        "asyncapi: 3.0.0\nchannels: [",
        "asyncapi: 3.0.0\nchannels:\n  a: {$ref: '#/channels/a'}\noperations:\n  o: {action: send, channel: {$ref: '#/channels/a'}}\n",
        "asyncapi: 2.6.0\nchannels:\n  a:\n    subscribe:\n      message:\n        oneOf: 3\n",
        "asyncapi: 2.6.0\nchannels:\n  a:\n    bindings: {kafka: [1, 2]}\n    publish: {message: {payload: {$ref: '../../../../x.avsc'}}}\n",
        "asyncapi: [1]\n",
        "asyncapi: 3.0.0\noperations: {o: 1, p: {action: receive, channel: 7}}\n",
        "{\"asyncapi\": \"3.0.0\", \"channels\": {\"a\": {\"messages\": {\"m\": {\"payload\": {\"schemaFormat\": 1, \"schema\": null}}}}}}",
        "asyncapi: 2.6.0\ncomponents: {schemas: {a: {$ref: '#/components/schemas/b'}, b: {$ref: '#/components/schemas/a'}}}\nchannels: {t: {publish: {message: {payload: {$ref: '#/components/schemas/a'}}}}}\n",
        "\u{0}\u{1}asyncapi",
        "asyncapi: 3.0.0\nchannels:\n  a:\n    address: 5\n    servers: [3]\n    bindings:\n      kafka: {partitions: -1, replicas: x, topic: 5, topicConfiguration: 4}\n",
    ];
    for text in texts {
        let mut change = Change::new(Vec::new(), Vec::new(), true);
        change
            .files_after
            .insert("asyncapi/doc.yaml".to_string(), text.to_string());
        let _ = evaluate(&change);
        let _ = flotilla_eda::asyncapi::subjects(&change);
    }
}
