//! Data-driven plan cases: `cases/<case>/desired.yaml` (the rendered objects), optional
//! `options.txt` (one sync option per line), and `expected.txt`: the plan, one line per task
//! (`phase wave Kind namespace/name [hook policies]`), then `prune:` groups when the case has a
//! `prune.yaml`, or `error: <fragment>` when planning must fail.

use std::path::Path;

use flotilla_plan::{parse_sync_options, plan, prune_order, HookDeletePolicy};
use serde_json::Value;

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("read");
    flotilla_core::parse_documents(&text)
        .expect("valid YAML")
        .iter()
        .map(flotilla_core::to_json)
        .filter(|document| !document.is_null())
        .collect()
}

fn line(phase: &str, wave: i32, object: &Value, extra: &str) -> String {
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or("");
    let name = object["metadata"]["name"]
        .as_str()
        .or_else(|| object["metadata"]["generateName"].as_str())
        .unwrap_or("");
    format!(
        "{phase} {wave} {} {namespace}/{name}{extra}",
        object["kind"].as_str().unwrap_or("")
    )
}

fn render(case: &Path) -> String {
    let options_text = std::fs::read_to_string(case.join("options.txt")).unwrap_or_default();
    let entries: Vec<String> = options_text.lines().map(str::to_string).collect();
    let options = match parse_sync_options(&entries) {
        Ok(options) => options,
        Err(error) => return format!("error: {error}\n"),
    };
    let mut out = String::new();
    match plan(documents(&case.join("desired.yaml")), &options) {
        Err(error) => return format!("error: {error}\n"),
        Ok(plan) => {
            for step in &plan.steps {
                for task in &step.tasks {
                    let extra = match &task.hook {
                        Some(hook) => format!(
                            " hook {}",
                            hook.delete_policies
                                .iter()
                                .map(|policy| match policy {
                                    HookDeletePolicy::HookSucceeded => "HookSucceeded",
                                    HookDeletePolicy::HookFailed => "HookFailed",
                                    HookDeletePolicy::BeforeHookCreation => "BeforeHookCreation",
                                })
                                .collect::<Vec<_>>()
                                .join(",")
                        ),
                        None => String::new(),
                    };
                    out.push_str(&line(step.phase.as_str(), step.wave, &task.object, &extra));
                    out.push('\n');
                }
            }
            for task in &plan.sync_fail {
                out.push_str(&line("SyncFail", task.wave, &task.object, " hook"));
                out.push('\n');
            }
        }
    }
    if case.join("prune.yaml").is_file() {
        match prune_order(documents(&case.join("prune.yaml")), &options) {
            Ok(groups) => {
                for group in groups {
                    let names: Vec<String> = group
                        .iter()
                        .map(|object| {
                            format!(
                                "{}/{}",
                                object["kind"].as_str().unwrap_or(""),
                                object["metadata"]["name"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    out.push_str(&format!("prune: {}\n", names.join(" ")));
                }
            }
            Err(error) => out.push_str(&format!("error: {error}\n")),
        }
    }
    out
}

#[test]
fn plan_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("cases")
        .flatten()
        .map(|entry| entry.path())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        let expected = std::fs::read_to_string(case.join("expected.txt")).expect("expected.txt");
        let actual = render(case);
        let matches = match expected.strip_prefix("error: ") {
            Some(fragment) => actual.starts_with("error: ") && actual.contains(fragment.trim()),
            None => actual == expected,
        };
        if !matches {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                case.display()
            ));
        }
    }
    assert!(cases.len() >= 6, "cases found: {}", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tracking_ids_round_trip() {
    let object: Value = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}});
    let id = flotilla_plan::tracking_id("team_web", &object);
    assert_eq!(id, "team_web:apps/Deployment:shop/web");
    let parsed = flotilla_plan::parse_tracking_id(&id).expect("parses");
    assert_eq!(
        (
            parsed.app.as_str(),
            parsed.group.as_str(),
            parsed.kind.as_str(),
            parsed.namespace.as_str(),
            parsed.name.as_str()
        ),
        ("team_web", "apps", "Deployment", "shop", "web")
    );
    let core: Value =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
    assert_eq!(
        flotilla_plan::tracking_id("web", &core),
        "web:/Namespace:/shop"
    );
    assert!(flotilla_plan::parse_tracking_id("web:/Namespace:/shop").is_some());
    assert!(flotilla_plan::parse_tracking_id("nonsense").is_none());
}

#[test]
fn annotation_overrides_application_options() {
    let app = parse_sync_options(&[
        "Prune=true".into(),
        "PrunePropagationPolicy=background".into(),
    ])
    .expect("valid");
    let object: Value = serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "x", "annotations": {"argocd.argoproj.io/sync-options": "Prune=false,Replace=true"}}});
    let options = flotilla_plan::object_sync_options(&object, &app).expect("valid");
    assert!(!options.prune && options.replace);
    assert_eq!(options.prune_propagation_policy.as_str(), "background");
    assert!(parse_sync_options(&["Prune".into()]).is_err());
    assert!(parse_sync_options(&["Prune=maybe".into()]).is_err());
    assert!(
        parse_sync_options(&["SomethingNew=true".into()]).is_ok(),
        "unknown keys are ignored as Argo CD does"
    );
}
