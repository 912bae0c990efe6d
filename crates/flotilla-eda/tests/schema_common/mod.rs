//! The shared runner of the schema compatibility cases: one directory per case with the
//! history `v1.EXT .. vN.EXT` (oldest first) and `case.json`:
//! `{"rule": "...", "level": "BACKWARD", "expected": "compatible" | "incompatible"}`, plus
//! optionally `"java"` (the Java checker's verdict where a port differs; it wins) and
//! `"rules"` (registry rule names that must all appear among the incompatibilities found).
//! Files a version refers to (Protobuf imports) sit under `vN.deps/`, by the path the import
//! names.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use flotilla_eda::schema::{check, Level, SchemaKind, SchemaText};

pub fn case_directories(root: &Path) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|error| panic!("{}: {error}", root.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.join("case.json").is_file())
        .collect();
    cases.sort();
    cases
}

/// The versions of a case, oldest first.
pub fn versions(case: &Path, extension: &str) -> Vec<SchemaText> {
    let mut numbered: Vec<(u32, PathBuf)> = std::fs::read_dir(case)
        .expect("case directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            let number = name
                .strip_prefix('v')?
                .strip_suffix(&format!(".{extension}"))?
                .parse()
                .ok()?;
            Some((number, path))
        })
        .collect();
    numbered.sort();
    numbered
        .into_iter()
        .map(|(number, path)| {
            let text = std::fs::read_to_string(&path).expect("schema file");
            let name = path
                .strip_prefix(case.parent().expect("parent"))
                .unwrap_or(&path)
                .display()
                .to_string();
            let mut schema = SchemaText::new(name, text);
            let deps = case.join(format!("v{number}.deps"));
            add_references(&deps, &deps, &mut schema.references);
            schema
        })
        .collect()
}

fn add_references(root: &Path, directory: &Path, references: &mut Vec<SchemaText>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|entry| entry.expect("entry").path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            add_references(root, &path, references);
        } else {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            references.push(SchemaText::new(
                name,
                std::fs::read_to_string(&path).expect("reference"),
            ));
        }
    }
}

/// Runs every case under `root`; returns the count and the failures.
pub fn run_cases(root: &Path, kind: SchemaKind, extension: &str) -> (usize, Vec<String>) {
    let cases = case_directories(root);
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("?");
        let spec: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(case.join("case.json")).expect("case.json"),
        )
        .unwrap_or_else(|error| panic!("{name}/case.json: {error}"));
        if spec["rule"].as_str().unwrap_or_default().is_empty() {
            failures.push(format!("{name}: case.json names no rule"));
        }
        let level: Level = match spec["level"].as_str().unwrap_or_default().parse() {
            Ok(level) => level,
            Err(error) => {
                failures.push(format!("{name}: {error}"));
                continue;
            }
        };
        let expected = spec["java"]
            .as_str()
            .or(spec["expected"].as_str())
            .unwrap_or_default()
            .to_string();
        let history = versions(case, extension);
        if history.is_empty() {
            failures.push(format!("{name}: no v1.{extension}"));
            continue;
        }
        match check(level, kind, &history) {
            Err(error) => failures.push(format!("{name}: {error}")),
            Ok(found) => {
                let got = if found.is_empty() {
                    "compatible"
                } else {
                    "incompatible"
                };
                let listed = || {
                    found
                        .iter()
                        .map(|item| format!("\n    {} {}: {item}", item.rule, item.path))
                        .collect::<String>()
                };
                if got != expected {
                    failures.push(format!(
                        "{name} ({}): expected {expected}, got {got}{}",
                        spec["rule"].as_str().unwrap_or_default(),
                        listed()
                    ));
                    continue;
                }
                for rule in spec["rules"].as_array().into_iter().flatten() {
                    let rule = rule.as_str().unwrap_or_default();
                    if !found.iter().any(|item| item.rule == rule) {
                        failures.push(format!("{name}: no {rule} among{}", listed()));
                    }
                }
            }
        }
    }
    (cases.len(), failures)
}

/// Re-runs a Python oracle's `--check` when python3 and its package are there; says what
/// happened.
pub fn rerun_python_oracle(script: &Path) -> String {
    let output = Command::new("python3").arg(script).arg("--check").output();
    match output {
        Err(_) => "oracle skipped: python3 is not installed".to_string(),
        Ok(output) if output.status.code() == Some(3) => {
            "oracle skipped: the Python `avro` package is not installed (pip install avro)"
                .to_string()
        }
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
            assert!(
                output.status.success(),
                "the oracle disagrees with the committed verdicts:\n{text}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            text.lines().last().unwrap_or_default().to_string()
        }
    }
}

/// Prints the count past the test harness's capture.
pub fn report(kind: &str, count: usize, failures: &[String], note: &str) {
    let note = if note.is_empty() {
        String::new()
    } else {
        format!(" ({note})")
    };
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "{kind} schema cases: {count} checked, {} failed{note}\n",
            failures.len()
        ),
    );
}
