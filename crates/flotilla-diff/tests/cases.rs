//! Data-driven comparisons: `cases/<case>/desired.yaml`, optional `live.yaml` (absent: not in
//! the cluster), optional `rules.yaml` (a list of ignoreDifferences rules) and `expected.txt`:
//! `in-sync: true|false`, then one `- reason` line per reason, then optionally `diff:` followed by
//! the exact rendered diff. `error: <fragment>` when the comparison must fail. With
//! `predicted.yaml` (a dry-run apply's answer) the case is a server-side diff of it against
//! `live.yaml` (`compare_predicted`; an empty `include-mutation-webhook` file turns that option
//! on); `desired.yaml` is then only rendered in the diff. Every case also
//! checks that no value under a Secret's `data`/`stringData` appears in reasons or diff.

use std::path::Path;

use flotilla_diff::{compare, compare_predicted, render_diff, IgnoreDifference};
use serde_json::Value;

fn read(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(flotilla_core::to_json(
        &flotilla_core::parse_single_document(&text).expect("valid YAML"),
    ))
}

fn secret_values(object: Option<&Value>) -> Vec<String> {
    let mut values = Vec::new();
    if let Some(object) = object.filter(|object| object["kind"] == "Secret") {
        for field in ["data", "stringData"] {
            for value in object[field]
                .as_object()
                .into_iter()
                .flat_map(|map| map.values())
            {
                if let Some(text) = value.as_str().filter(|text| text.len() >= 4) {
                    values.push(text.to_string());
                }
            }
        }
    }
    values
}

fn run(case: &Path) -> Result<(), String> {
    let desired = read(&case.join("desired.yaml")).ok_or("desired.yaml is required")?;
    let live = read(&case.join("live.yaml"));
    let rules: Vec<IgnoreDifference> = match read(&case.join("rules.yaml")) {
        Some(rules) => {
            serde_json::from_value(rules).map_err(|error| format!("rules.yaml: {error}"))?
        }
        None => Vec::new(),
    };
    let expected =
        std::fs::read_to_string(case.join("expected.txt")).map_err(|error| error.to_string())?;
    let comparison = match (read(&case.join("predicted.yaml")), &live) {
        (Some(predicted), Some(live)) => compare_predicted(
            &predicted,
            live,
            "flotilla",
            &rules,
            case.join("include-mutation-webhook").exists(),
        ),
        (Some(_), None) => return Err("predicted.yaml needs live.yaml".into()),
        (None, _) => compare(&desired, live.as_ref(), "flotilla", &rules),
    };
    if let Some(fragment) = expected.strip_prefix("error: ") {
        return match comparison {
            Err(error) if error.to_string().contains(fragment.trim()) => Ok(()),
            other => Err(format!(
                "expected an error containing {fragment:?}, got {other:?}"
            )),
        };
    }
    let comparison = comparison.map_err(|error| error.to_string())?;
    let mut actual = format!("in-sync: {}\n", comparison.in_sync);
    for reason in &comparison.reasons {
        actual.push_str(&format!("- {reason}\n"));
    }
    let diff = render_diff(Some(&desired), live.as_ref(), "flotilla", &rules)
        .map_err(|error| error.to_string())?;
    let (expected_head, expected_diff) = match expected.split_once("diff:\n") {
        Some((head, diff)) => (head.to_string(), Some(diff.to_string())),
        None => (expected.clone(), None),
    };
    if actual != expected_head {
        return Err(format!(
            "--- expected\n{expected_head}--- actual\n{actual}--- diff\n{diff}"
        ));
    }
    if let Some(expected_diff) = expected_diff {
        if diff != expected_diff {
            return Err(format!(
                "--- expected diff\n{expected_diff}--- actual diff\n{diff}"
            ));
        }
    }
    for secret in secret_values(Some(&desired))
        .into_iter()
        .chain(secret_values(live.as_ref()))
    {
        if actual.contains(&secret) || diff.contains(&secret) {
            return Err(format!("a secret value leaked: {secret}"));
        }
    }
    Ok(())
}

#[test]
fn cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("cases")
        .flatten()
        .map(|entry| entry.path())
        .collect();
    cases.sort();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            run(case)
                .err()
                .map(|error| format!("{}:\n{error}", case.display()))
        })
        .collect();
    assert!(cases.len() >= 10, "{} cases", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
