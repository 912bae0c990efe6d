//! Data-driven rule cases: `tests/cases/<rule-id>/<case>/` holds `before.yaml` and `after.yaml`
//! (multi-document; either may be absent for an empty set), an optional `options.yaml`
//! (`prune: true|false`, default true; `operatorVersions: {package: version}`, the operator
//! versions the caller knows), and `expected.yaml`: the findings, each
//! `{rule, severity, object, path, overridden}` (`object` as findings print it:
//! `KafkaTopic.kafka.strimzi.io ns/name`), in the order `evaluate` returns them. An empty list
//! (`[]`) means no finding. Messages are not compared; `messageContains` on a finding checks a
//! part of it. `EDA_CASES_VERBOSE=1` prints every case's findings with their messages and hints.
//! Repository files the rules read (schemas, AsyncAPI documents) are the trees under
//! `files-before/` and `files-after/`, by path relative to them.

use std::path::{Path, PathBuf};

mod data_files;

use data_files::{read_documents, read_tree};
use flotilla_eda::{evaluate, Change};
use serde_json::{json, Value};

fn case_directories() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut cases = Vec::new();
    for rule in std::fs::read_dir(&root).expect("tests/cases") {
        let rule = rule.expect("entry").path();
        if !rule.is_dir() {
            continue;
        }
        for case in std::fs::read_dir(&rule).expect("rule directory") {
            let case = case.expect("entry").path();
            if case.is_dir() {
                cases.push(case);
            }
        }
    }
    cases.sort();
    cases
}

#[test]
fn every_rule_case_gives_its_expected_findings() {
    let mut failures = Vec::new();
    let cases = case_directories();
    for case in &cases {
        let options = read_documents(&case.join("options.yaml"))
            .into_iter()
            .next()
            .unwrap_or(json!({}));
        let mut change = Change::new(
            read_documents(&case.join("before.yaml")),
            read_documents(&case.join("after.yaml")),
            options["prune"].as_bool().unwrap_or(true),
        );
        change.files_before = read_tree(&case.join("files-before"));
        change.files_after = read_tree(&case.join("files-after"));
        if let Some(versions) = options["operatorVersions"].as_object() {
            for (package, version) in versions {
                if let Some(version) = version.as_str() {
                    change
                        .operator_versions
                        .insert(package.clone(), version.to_string());
                }
            }
        }
        let findings = evaluate(&change);
        if std::env::var_os("EDA_CASES_VERBOSE").is_some() {
            let mut text = format!("{}\n", case.display());
            for finding in &findings {
                text.push_str(&format!(
                    "  {} {} {} {}{}\n    {}\n    hint: {}\n",
                    finding.severity.as_str(),
                    finding.rule,
                    finding.object,
                    finding.path,
                    if finding.overridden {
                        " (overridden)"
                    } else {
                        ""
                    },
                    finding.message,
                    finding.hint
                ));
            }
            let _ = std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes());
        }
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
        let expected_documents = read_documents(&case.join("expected.yaml"));
        let expected: Vec<Value> = match expected_documents.into_iter().next() {
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
            failures.push(format!(
                "{}:\n  expected {}\n  got      {}",
                case.display(),
                serde_json::to_string(&comparable).unwrap_or_default(),
                serde_json::to_string(&got).unwrap_or_default()
            ));
            continue;
        }
        for (item, finding) in expected.iter().zip(&findings) {
            if let Some(part) = item["messageContains"].as_str() {
                if !finding.message.contains(part) {
                    failures.push(format!(
                        "{}: message `{}` lacks `{part}`",
                        case.display(),
                        finding.message
                    ));
                }
            }
        }
    }
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "guardrail cases: {} checked, {} failed\n",
            cases.len(),
            failures.len()
        ),
    );
    assert!(!cases.is_empty(), "no cases under tests/cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
