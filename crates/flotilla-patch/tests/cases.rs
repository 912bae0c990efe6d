//! Data-driven checks against outputs of the reference tool (`kubectl kustomize` v5.5 for
//! strategic merge and JSON patches, `kubectl patch --type merge` for merge patches).
//!
//! Each directory `tests/cases/<kind>/<name>/` holds `target.yaml`, `patch.yaml`, optionally
//! `schema.json` (a custom OpenAPI document, as `openapi: path:`), and either `expected.yaml`
//! (empty when the resource is deleted) or `expected-error.txt`. `tests/regen.sh` rewrites the
//! expected files with the reference tool.

use std::fs;
use std::path::{Path, PathBuf};

use flotilla_core::{parse_documents, write_document, Value};
use flotilla_patch::{
    json_patch, kustomize, merge_patch, server_strategic_merge, strategic_merge, MergeOutcome,
    Schema,
};

fn cases_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn single_document(path: &Path) -> Value {
    let mut documents =
        parse_documents(&read(path)).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert_eq!(
        documents.len(),
        1,
        "{} must hold one document",
        path.display()
    );
    documents.remove(0)
}

enum Expected {
    Output(String),
    Error,
}

/// Runs one case and returns a description of the difference, if any.
fn run_case(kind: &str, dir: &Path) -> Option<String> {
    let target = single_document(&dir.join("target.yaml"));
    let patch = if kind == "json6902" {
        let text = read(&dir.join("patch.yaml"));
        match flotilla_patch::parse_json_patch(&text) {
            Ok(patch) => patch,
            Err(error) => {
                return (!dir.join("expected-error.txt").exists())
                    .then(|| format!("unexpected error: {error}"))
            }
        }
    } else {
        single_document(&dir.join("patch.yaml"))
    };
    let expected = if dir.join("expected.yaml").exists() {
        Expected::Output(read(&dir.join("expected.yaml")))
    } else if dir.join("expected-error.txt").exists() {
        Expected::Error
    } else {
        return Some("has neither expected.yaml nor expected-error.txt".to_string());
    };
    let actual: Result<Option<Value>, String> = match kind {
        "smp" => {
            let custom;
            let schema = if dir.join("schema.json").exists() {
                custom = Schema::from_document(&read(&dir.join("schema.json")))
                    .expect("valid schema.json");
                &custom
            } else {
                Schema::builtin()
            };
            // kustomize selects the target by `target:` when the patch has no apiVersion.
            let patch = if patch.get_path(&["apiVersion"]).is_none() {
                kustomize::targeted_strategic_patch(&patch, &target)
            } else {
                patch
            };
            match strategic_merge(&target, &patch, schema) {
                Ok(MergeOutcome::Merged(value)) => Ok(Some(value)),
                Ok(MergeOutcome::Deleted) => Ok(None),
                Err(error) => Err(error.to_string()),
            }
        }
        "json6902" => json_patch(&target, &patch)
            .map(|mut value| {
                kustomize::after_json_patch(&mut value);
                Some(value)
            })
            .map_err(|e| e.to_string()),
        "merge" => Ok(Some(merge_patch(&target, &patch))),
        "server-smp" => server_strategic_merge(&target, &patch, Schema::builtin())
            .map(Some)
            .map_err(|e| e.to_string()),
        other => return Some(format!("unknown case kind {other}")),
    };
    let written = |value: &Value| {
        write_document(value).unwrap_or_else(|error| format!("<write error: {error}>"))
    };
    match (expected, actual) {
        (Expected::Error, Err(_)) => None,
        (Expected::Error, Ok(value)) => Some(format!(
            "expected an error, got:\n{}",
            value.as_ref().map_or("<deleted>".to_string(), written)
        )),
        (Expected::Output(_), Err(error)) => Some(format!("unexpected error: {error}")),
        (Expected::Output(expected), Ok(None)) => {
            (!expected.is_empty()).then(|| format!("resource deleted, expected:\n{expected}"))
        }
        (Expected::Output(expected), Ok(Some(value))) => {
            let actual = written(&value);
            let expected = if kind == "merge" || kind == "server-smp" {
                // kubectl's YAML style is not kustomize's: compare the documents.
                parse_documents(&expected)
                    .ok()?
                    .first()
                    .map(written)
                    .unwrap_or_default()
            } else {
                expected
            };
            (actual != expected).then(|| format!("expected:\n{expected}\nactual:\n{actual}"))
        }
    }
}

fn case_dirs() -> Vec<(String, PathBuf)> {
    let mut dirs = Vec::new();
    for kind in fs::read_dir(cases_root()).expect("tests/cases exists") {
        let kind = kind.expect("readable directory entry").path();
        if !kind.is_dir() {
            continue;
        }
        for case in fs::read_dir(&kind).expect("readable case kind directory") {
            let case = case.expect("readable directory entry").path();
            if case.join("target.yaml").exists() {
                let kind_name = kind
                    .file_name()
                    .expect("named")
                    .to_string_lossy()
                    .into_owned();
                dirs.push((kind_name, case));
            }
        }
    }
    dirs.sort();
    dirs
}

#[test]
fn check() {
    let filter = std::env::var("CASE").unwrap_or_default();
    let mut failures = Vec::new();
    let mut ran = 0;
    for (kind, dir) in case_dirs() {
        let name = format!(
            "{kind}/{}",
            dir.file_name().expect("named").to_string_lossy()
        );
        if !name.contains(&filter) {
            continue;
        }
        ran += 1;
        if let Some(difference) = run_case(&kind, &dir) {
            failures.push(format!("--- {name}: {difference}"));
        }
    }
    assert!(ran > 0, "no case matched `{filter}`");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{ran} cases passed");
}
