//! Conformance against `kubectl kustomize` (kustomize v5.5.0): every case under
//! `tests/corpus/cases/<name>/` is built in-process and compared byte for byte with kubectl's
//! output (`expected.yaml`), or must fail when kubectl failed (`expected-error.txt`).
//!
//! Cases that do not pass yet are listed, each with its reason, in `KNOWN_DIFFERENCES.md`. The
//! test fails when a case outside that list fails (a regression) and when a listed case passes
//! (so the list only ever shrinks); it prints the counts either way.
//!
//! `tests/realworld/<name>/` holds more cases in the same layout, which must all pass: layouts
//! of GitOps repositories, regressions found on real repositories, and inputs of
//! `tests/generated.rs` (`gen-*`) that differed from kubectl (see its `PROVENANCE.md`). When
//! kubectl is on the machine their expectations are re-checked against it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `case name -> reason` from KNOWN_DIFFERENCES.md (lines `- \`name\`: reason`).
fn known_differences() -> BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(crate_dir().join("KNOWN_DIFFERENCES.md")).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.strip_prefix("- `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, reason)| {
            (
                name.to_string(),
                reason.trim_start_matches(':').trim().to_string(),
            )
        })
        .collect()
}

enum Outcome {
    Pass,
    Fail(String),
}

/// Builds one case and compares it with kubectl's result.
fn check(case_dir: &Path) -> Outcome {
    let mut input = case_dir.join("input");
    if let Ok(entry) = std::fs::read_to_string(case_dir.join("entry")) {
        input = input.join(entry.trim());
    }
    let result =
        flotilla_kustomize::build_to_yaml(&input, flotilla_kustomize::BuildOptions::default());
    let expected_output = std::fs::read_to_string(case_dir.join("expected.yaml")).ok();
    match (expected_output, result) {
        (Some(expected), Ok(actual)) if expected == actual => Outcome::Pass,
        (Some(expected), Ok(actual)) => Outcome::Fail(first_difference(&expected, &actual)),
        (Some(_), Err(error)) => Outcome::Fail(format!("error: {}", error_chain(&error))),
        (None, Err(_)) => Outcome::Pass,
        (None, Ok(_)) => {
            Outcome::Fail("kubectl fails on this case but flotilla succeeded".to_string())
        }
    }
}

/// The error and its causes, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn first_difference(expected: &str, actual: &str) -> String {
    for (number, (want, got)) in expected.lines().zip(actual.lines()).enumerate() {
        if want != got {
            return format!("line {}: expected {want:?}, got {got:?}", number + 1);
        }
    }
    format!(
        "expected {} lines, got {}",
        expected.lines().count(),
        actual.lines().count()
    )
}

#[test]
fn corpus_matches_kubectl_kustomize() {
    let cases_dir = crate_dir().join("tests/corpus/cases");
    let mut names: Vec<String> = std::fs::read_dir(&cases_dir)
        .expect("tests/corpus/cases exists")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let known = known_differences();
    let mut passed = 0;
    let mut failed = Vec::new();
    let mut regressions = Vec::new();
    let mut fixed = Vec::new();
    for name in &names {
        match check(&cases_dir.join(name)) {
            Outcome::Pass => {
                passed += 1;
                if known.contains_key(name) {
                    fixed.push(name.clone());
                }
            }
            Outcome::Fail(reason) => {
                if !known.contains_key(name) {
                    regressions.push(format!("{name}: {reason}"));
                }
                failed.push((name.clone(), reason));
            }
        }
    }
    // Written to the stderr handle directly so the count shows even when the test passes
    // (the harness captures only the print macros).
    let _ = writeln!(
        std::io::stderr(),
        "kustomize conformance: {passed} of {} cases pass, {} listed in KNOWN_DIFFERENCES.md",
        names.len(),
        known.len()
    );
    if std::env::var_os("FLOTILLA_WRITE_KNOWN_DIFFERENCES").is_some() {
        let mut text = String::from(
            "# Known differences from kubectl kustomize\n\nCorpus cases flotilla does not pass yet, with the first difference seen. \
             `tests/conformance.rs` keeps this list honest: it fails when a case outside it fails or a case in it passes.\n\n",
        );
        for (name, reason) in &failed {
            let reason: String = reason.chars().take(300).collect();
            text.push_str(&format!("- `{name}`: {}\n", reason.replace('\n', " ")));
        }
        std::fs::write(crate_dir().join("KNOWN_DIFFERENCES.md"), text)
            .expect("write KNOWN_DIFFERENCES.md");
        return;
    }
    assert!(
        regressions.is_empty(),
        "{} corpus cases fail that are not in KNOWN_DIFFERENCES.md:\n{}",
        regressions.len(),
        regressions.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "these cases pass now; remove them from KNOWN_DIFFERENCES.md:\n{}",
        fixed.join("\n")
    );
}

/// Layouts GitOps repositories use (`tests/realworld/`): all must match kubectl exactly.
#[test]
fn realworld_layouts_match_kubectl_kustomize() {
    let cases_dir = crate_dir().join("tests/realworld");
    let mut failures = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir(&cases_dir).expect("tests/realworld exists") {
        let path = entry.expect("directory entry").path();
        if !path.is_dir() {
            continue;
        }
        count += 1;
        if let Outcome::Fail(reason) = check(&path) {
            failures.push(format!("{}: {reason}", path.display()));
        }
    }
    assert!(count >= 5, "expected the real-world cases, found {count}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The committed expectations of `tests/realworld/` still match `kubectl kustomize` when it is
/// on this machine (skipped with a notice otherwise).
#[test]
fn realworld_expectations_match_kubectl_when_present() {
    let available = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        let _ = writeln!(
            std::io::stderr(),
            "kubectl not found: realworld expectations not re-checked"
        );
        return;
    }
    let cases_dir = crate_dir().join("tests/realworld");
    for entry in std::fs::read_dir(&cases_dir).expect("tests/realworld exists") {
        let case = entry.expect("directory entry").path();
        if !case.is_dir() {
            continue;
        }
        let mut input = case.join("input");
        if let Ok(entry) = std::fs::read_to_string(case.join("entry")) {
            input = input.join(entry.trim());
        }
        let output = std::process::Command::new("kubectl")
            .arg("kustomize")
            .arg(&input)
            .output()
            .expect("kubectl runs");
        if case.join("expected-error.txt").exists() {
            assert!(
                !output.status.success(),
                "kubectl no longer fails on {}; replace expected-error.txt with expected.yaml",
                case.display()
            );
            continue;
        }
        let expected = std::fs::read(case.join("expected.yaml")).expect("expected.yaml");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&expected),
            "kubectl's output for {} changed; regenerate expected.yaml",
            case.display()
        );
    }
}
