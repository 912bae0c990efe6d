//! The generator, case by case: `tests/cases/<case>/flotilla.yaml` (and, optionally, `pins/`:
//! seeded files as a team or a promotion left them) generates exactly `expected/` (every file)
//! and `expected-secrets.txt` (what each SealedSecret holds: keys and where each value comes
//! from, never a value). `FLOTILLA_UPDATE_EXPECTED=1 cargo test -p flotilla-bootstrap --test
//! generator` rewrites the expectations; review the diff.
//!
//! Every case is also checked for what must hold of any generated repository: each YAML file
//! parses, every Application's path renders with flotilla's kustomize (secrets stood in by
//! placeholders), the AppProject permits every Application's destination and whitelists
//! exactly the cluster-scoped kinds the rendered objects have, and no Secret is in clear.
//!
//! `tests/invalid/<case>/flotilla.yaml` must be refused with a message containing each line of
//! `expected-error.txt`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use flotilla_bootstrap::generate::{generate, SecretValue, Tree};
use flotilla_bootstrap::manifest::Solution;
use flotilla_bootstrap::repository::read_tree;
use serde_json::Value;

fn cases(directory: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(directory);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("cases directory")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    cases
}

fn secrets_text(plan: &flotilla_bootstrap::Plan) -> String {
    let mut text = String::new();
    for secret in &plan.secrets {
        text.push_str(&format!(
            "{} {}/{} {}\n",
            secret.path, secret.namespace, secret.name, secret.secret_type
        ));
        for (key, value) in &secret.keys {
            let source = match value {
                SecretValue::Random(length) => format!("random {length} bytes"),
                SecretValue::Given(name) => format!("given: {name}"),
            };
            text.push_str(&format!("  {key}: {source}\n"));
        }
    }
    text
}

fn documents(text: &str) -> Vec<Value> {
    flotilla_core::parse_documents(text)
        .expect("generated YAML parses")
        .iter()
        .map(flotilla_core::to_json)
        .collect()
}

#[test]
fn generated_trees_match_their_expectations() {
    let update = std::env::var_os("FLOTILLA_UPDATE_EXPECTED").is_some();
    let mut failures = Vec::new();
    for case in cases("cases") {
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(case.join("flotilla.yaml")).expect("manifest");
        let solution = Solution::parse(&text).unwrap_or_else(|error| panic!("{name}: {error}"));
        solution
            .validate()
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let pins = read_tree(&case.join("pins")).expect("pins");
        let plan = generate(&solution, &pins).unwrap_or_else(|error| panic!("{name}: {error}"));
        let expected_dir = case.join("expected");
        let secrets = secrets_text(&plan);
        let mut files = plan.files.clone();
        // The manifest is the input, written back as the generator writes it.
        files.remove("flotilla.yaml");
        if update {
            let _ = std::fs::remove_dir_all(&expected_dir);
            for (path, text) in &files {
                let target = expected_dir.join(path);
                std::fs::create_dir_all(target.parent().expect("parent")).expect("directory");
                std::fs::write(target, text).expect("written");
            }
            std::fs::write(case.join("expected-secrets.txt"), &secrets).expect("written");
        }
        let expected = read_tree(&expected_dir).expect("expected tree");
        let only_generated: Vec<&String> = files
            .keys()
            .filter(|path| !expected.contains_key(*path))
            .collect();
        let only_expected: Vec<&String> = expected
            .keys()
            .filter(|path| !files.contains_key(*path))
            .collect();
        let differing: Vec<&String> = files
            .iter()
            .filter(|(path, text)| expected.get(*path).is_some_and(|other| other != *text))
            .map(|(path, _)| path)
            .collect();
        if !(only_generated.is_empty() && only_expected.is_empty() && differing.is_empty()) {
            failures.push(format!(
                "{name}: generated but not expected {only_generated:?}; expected but not generated {only_expected:?}; differing {differing:?}"
            ));
        }
        let expected_secrets =
            std::fs::read_to_string(case.join("expected-secrets.txt")).unwrap_or_default();
        if expected_secrets != secrets {
            failures.push(format!("{name}: secrets differ:\n{secrets}"));
        }
        check_invariants(&name, &plan);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What every generated repository must hold.
fn check_invariants(name: &str, plan: &flotilla_bootstrap::Plan) {
    let mut files: Tree = plan.files.clone();
    for secret in &plan.secrets {
        files.insert(
            secret.path.clone(),
            format!(
                "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: {}\n  namespace: {}\nspec:\n  encryptedData: {{}}\n",
                secret.name, secret.namespace
            ),
        );
    }
    for (path, text) in &files {
        if path.ends_with(".yaml") {
            let _ = documents(text);
            assert_eq!(
                flotilla_bootstrap::secrets::clear_secret_in(text),
                None,
                "{name}: {path} holds a Secret in clear"
            );
        }
    }
    let scratch =
        std::env::temp_dir().join(format!("flotilla-generator-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    for (path, text) in &files {
        let target = scratch.join(path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("directory");
        std::fs::write(target, text).expect("written");
    }
    let render = |path: &str| -> Vec<Value> {
        let resources = flotilla_kustomize::build(
            &scratch.join(path),
            flotilla_kustomize::BuildOptions::default(),
        )
        .unwrap_or_else(|error| panic!("{name}: `{path}` does not render: {error}"));
        resources
            .iter()
            .map(|resource| flotilla_core::to_json(&resource.object))
            .collect()
    };
    let root_objects = render("config/argocd");
    let project = root_objects
        .iter()
        .find(|object| object["kind"] == "AppProject")
        .unwrap_or_else(|| panic!("{name}: no AppProject"));
    let destinations: BTreeSet<(String, String)> = project["spec"]["destinations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|destination| {
            (
                destination["server"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                destination["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let whitelist: BTreeSet<(String, String)> = project["spec"]["clusterResourceWhitelist"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            (
                entry["group"].as_str().unwrap_or_default().to_string(),
                entry["kind"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut cluster_kinds = BTreeSet::new();
    let project_name = project["metadata"]["name"].as_str().unwrap_or_default();
    for application in root_objects
        .iter()
        .filter(|object| object["kind"] == "Application")
    {
        let app_name = application["metadata"]["name"].as_str().unwrap_or_default();
        let path = application["spec"]["source"]["path"]
            .as_str()
            .unwrap_or_default();
        assert!(
            files
                .keys()
                .any(|file| file.starts_with(&format!("{path}/"))),
            "{name}: {app_name} names `{path}`, which does not exist"
        );
        if application["spec"]["project"] != project_name {
            continue;
        }
        let destination = (
            application["spec"]["destination"]["server"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            application["spec"]["destination"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        let mut namespaces = BTreeSet::from([destination.1.clone()]);
        for object in render(path) {
            let kind = object["kind"].as_str().unwrap_or_default();
            let group = object["apiVersion"]
                .as_str()
                .and_then(|version| version.rsplit_once('/'))
                .map(|(group, _)| group)
                .unwrap_or_default();
            if flotilla_kustomize::kinds::is_cluster_scoped_kind(group, kind) {
                cluster_kinds.insert((group.to_string(), kind.to_string()));
            } else if let Some(namespace) = object["metadata"]["namespace"].as_str() {
                namespaces.insert(namespace.to_string());
            }
        }
        for namespace in namespaces {
            assert!(
                destinations.contains(&(destination.0.clone(), namespace.clone())),
                "{name}: {app_name} deploys into `{namespace}`, which the AppProject does not permit"
            );
        }
    }
    assert_eq!(
        whitelist, cluster_kinds,
        "{name}: the AppProject whitelists other cluster-scoped kinds than the apps deploy"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn invalid_manifests_are_refused_with_every_reason() {
    for case in cases("invalid") {
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(case.join("flotilla.yaml")).expect("manifest");
        let expected =
            std::fs::read_to_string(case.join("expected-error.txt")).expect("expected error");
        let message = match Solution::parse(&text) {
            Err(error) => error.to_string(),
            Ok(solution) => match solution.validate() {
                Err(error) => error.to_string(),
                Ok(()) => panic!("{name}: accepted"),
            },
        };
        for line in expected.lines().filter(|line| !line.trim().is_empty()) {
            assert!(
                message.contains(line),
                "{name}: `{line}` not in:\n{message}"
            );
        }
    }
}

#[test]
fn generation_is_deterministic_and_pins_are_kept() {
    let case = cases("cases").into_iter().next().expect("a case");
    let solution =
        Solution::parse(&std::fs::read_to_string(case.join("flotilla.yaml")).expect("manifest"))
            .expect("parses");
    let first = generate(&solution, &BTreeMap::new()).expect("generates");
    let second = generate(&solution, &BTreeMap::new()).expect("generates");
    assert_eq!(first.files, second.files);
    let seeded = first.seeded.iter().next().expect("a seeded file").clone();
    let pins: Tree = [(seeded.clone(), "# pinned by a promotion\n".to_string())].into();
    let pinned = generate(&solution, &pins).expect("generates");
    assert_eq!(pinned.files[&seeded], "# pinned by a promotion\n");
}
