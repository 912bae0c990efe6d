//! Operands against the catalog's schemas: every case under
//! `crates/flotilla-catalog/tests/operands/<package>/<case>.yaml` (or `openshift/` for the
//! OpenShift APIs) is created in a server that serves that package's CRDs, as the head of its
//! default channel installs them. A case's first line says what must happen:
//! `# expect: accepted`, `# expect: <part of the refusal>`, or `# expect-strict: <part of the
//! refusal>` (created with `fieldValidation=Strict`, as `kubectl apply` asks).
//! `OPERANDS_VERBOSE=1` prints each refusal's whole message.

mod common;

use std::path::{Path, PathBuf};

use flotilla_apiserver::rest::{self, WriteOptions};
use flotilla_apiserver::validate::FieldValidation;
use flotilla_catalog::Catalog;
use serde_json::json;

fn operands_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../flotilla-catalog/tests/operands")
}

struct Case {
    path: PathBuf,
    strict: bool,
    expected: Option<String>,
    object: serde_json::Value,
}

fn read_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).expect("case readable");
    let first = text.lines().next().unwrap_or_default();
    let (strict, expectation) = if let Some(rest) = first.strip_prefix("# expect-strict:") {
        (true, rest.trim())
    } else if let Some(rest) = first.strip_prefix("# expect:") {
        (false, rest.trim())
    } else {
        panic!(
            "{}: the first line must be `# expect: …` or `# expect-strict: …`",
            path.display()
        )
    };
    let document =
        flotilla_core::yaml_read::parse_single_document(&text).expect("case is valid YAML");
    Case {
        path: path.to_path_buf(),
        strict,
        expected: (expectation != "accepted").then(|| expectation.to_string()),
        object: flotilla_core::json::to_json(&document),
    }
}

fn ensure_namespace(state: &rest::ApiState, name: &str) {
    if state.store.get("/namespaces", "", name).is_none() {
        let namespaces = state
            .registry
            .lookup("", "v1", "namespaces")
            .expect("namespaces");
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        rest::create(state, &namespaces, None, body, &WriteOptions::default()).expect("namespace");
    }
}

#[tokio::test]
async fn operands_are_checked_against_the_catalog_schemas() {
    let mut config = common::config();
    config.openshift = Some(Default::default());
    let server = common::start_with(config).await;
    let state = server.state();
    let crds = state
        .registry
        .lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .expect("crds");
    let catalog = Catalog::embedded();
    let verbose = std::env::var_os("OPERANDS_VERBOSE").is_some();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut directories: Vec<PathBuf> = std::fs::read_dir(operands_dir())
        .expect("operands directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_dir())
        .collect();
    directories.sort();
    for directory in directories {
        let package_name = directory
            .file_name()
            .and_then(|name| name.to_str())
            .expect("utf-8 name")
            .to_string();
        if package_name != "openshift" {
            let package = catalog
                .package(&package_name)
                .unwrap_or_else(|| panic!("`{package_name}` is not a catalog package"));
            let channel = package
                .channel(&package.default_channel)
                .expect("default channel");
            let head = package.head(channel).expect("channel head");
            for definition in
                flotilla_catalog::custom_resource_definitions(package, &head.version, "default")
            {
                let name = definition["metadata"]["name"].as_str().unwrap_or_default();
                let _ = rest::delete(state, &crds, "", name, &Default::default());
                if let Err(error) =
                    rest::create(state, &crds, None, definition.clone(), &Default::default())
                {
                    failures.push(format!("{package_name}: CRD {name} refused: {error}"));
                }
            }
        }
        let mut cases: Vec<PathBuf> = std::fs::read_dir(&directory)
            .expect("package directory")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "yaml")
            })
            .collect();
        cases.sort();
        for path in cases {
            let case = read_case(&path);
            checked += 1;
            let api_version = case.object["apiVersion"].as_str().unwrap_or_default();
            let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
            let kind = case.object["kind"].as_str().unwrap_or_default();
            let Some(resource) = state.registry.lookup_kind(group, version, kind) else {
                failures.push(format!(
                    "{}: {api_version} {kind} is not served",
                    case.path.display()
                ));
                continue;
            };
            let namespace = case.object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string();
            if resource.namespaced {
                ensure_namespace(state, &namespace);
            }
            let options = WriteOptions {
                dry_run: true,
                field_validation: if case.strict {
                    FieldValidation::Strict
                } else {
                    FieldValidation::Warn
                },
                ..WriteOptions::default()
            };
            let result = rest::create(
                state,
                &resource,
                resource.namespaced.then_some(namespace.as_str()),
                case.object.clone(),
                &options,
            );
            match (&case.expected, result) {
                (None, Ok(_)) => {}
                (None, Err(error)) => failures.push(format!(
                    "{}: expected to be accepted, refused: {}",
                    case.path.display(),
                    error.to_status()["message"]
                )),
                (Some(expected), Ok(_)) => failures.push(format!(
                    "{}: expected a refusal containing `{expected}`, accepted",
                    case.path.display()
                )),
                (Some(expected), Err(error)) => {
                    let message = error.to_status()["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    if verbose {
                        println!("{}: {message}", case.path.display());
                    }
                    if !message.contains(expected.as_str()) {
                        failures.push(format!(
                            "{}: expected a refusal containing `{expected}`, got `{message}`",
                            case.path.display()
                        ));
                    }
                }
            }
        }
    }
    // Written past the harness's capture, so every run shows the count.
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "operand cases: {checked} checked against the catalog schemas, {} failed\n",
            failures.len()
        ),
    );
    server.shutdown().await;
    assert!(checked > 0, "no operand cases found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
