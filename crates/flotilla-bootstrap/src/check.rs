//! `flotilla repo check`: offline validation of a solution repository. Every Application of
//! the root (`config/argocd`) names a path that exists and renders; its project exists and
//! permits its source, its destination namespaces and the cluster-scoped kinds it deploys;
//! every operand's kind is served by an operator the bootstrap wave subscribes to (at an API
//! version that operator serves); no Secret is in clear, in a file or in what renders; and the
//! generated files are what `flotilla.yaml` generates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use flotilla_catalog::Catalog;
use serde::Serialize;
use serde_json::Value;

use crate::generate::{generate, paths};
use crate::manifest::{Solution, MANIFEST_FILE};
use crate::repository::read_tree;
use crate::secrets::clear_secret_in;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One thing found.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RepoFinding {
    pub severity: Severity,
    /// Which check (`renders`, `project`, `operator`, `secret`, `generated`, `manifest`).
    pub check: &'static str,
    /// The file or directory it is about, relative to the repository root.
    pub path: String,
    pub message: String,
}

fn finding(severity: Severity, check: &'static str, path: &str, message: String) -> RepoFinding {
    RepoFinding {
        severity,
        check,
        path: path.to_string(),
        message,
    }
}

/// API groups served without an operator: Kubernetes', OpenShift's, OLM's, Argo CD's (OpenShift
/// GitOps runs it) and sealed secrets (flotilla's controller unseals them).
fn served_by_the_platform(catalog: &Catalog, group: &str) -> bool {
    group.is_empty()
        || group.ends_with(".k8s.io")
        || [
            "apps",
            "batch",
            "autoscaling",
            "policy",
            "argoproj.io",
            "bitnami.com",
        ]
        .contains(&group)
        || catalog
            .openshift_apis
            .iter()
            .chain(catalog.openshift_crds.iter())
            .any(|crd| crd.group() == group)
}

fn render(root: &Path, path: &str) -> Result<Vec<Value>, String> {
    flotilla_kustomize::build(
        &root.join(path),
        flotilla_kustomize::BuildOptions::default(),
    )
    .map(|resources| {
        resources
            .iter()
            .map(|resource| flotilla_core::to_json(&resource.object))
            .collect()
    })
    .map_err(|error| error.to_string())
}

fn group_of(object: &Value) -> &str {
    object["apiVersion"]
        .as_str()
        .and_then(|version| version.rsplit_once('/'))
        .map(|(group, _)| group)
        .unwrap_or("")
}

/// Whether a project pattern (`*`, `prefix-*`, exact) matches.
fn matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

/// Validates an operand against the CRD that serves it (the CRD's `spec` as the subscribed
/// operator version ships it): the problems, worded as the API server words them (none when
/// valid). The caller brings the validator (`flotilla-apiserver`'s, in the CLI), so this crate
/// stays free of the API server.
pub type OperandValidator<'a> = &'a dyn Fn(&Value, &Value) -> Vec<String>;

/// Checks the repository at `root`.
pub fn check_repository(root: &Path) -> std::io::Result<Vec<RepoFinding>> {
    check_repository_with(root, &|_, _| Vec::new())
}

/// Checks the repository at `root`, each operand also validated by `validate`.
pub fn check_repository_with(
    root: &Path,
    validate: OperandValidator<'_>,
) -> std::io::Result<Vec<RepoFinding>> {
    let catalog = Catalog::embedded();
    let files = read_tree(root)?;
    let mut findings = Vec::new();
    // Secrets in clear, in files.
    for (path, text) in &files {
        if (path.ends_with(".yaml") || path.ends_with(".yml") || path.ends_with(".json"))
            && !path.starts_with("tests/")
        {
            if let Some(name) = clear_secret_in(text) {
                findings.push(finding(Severity::Error, "secret", path, format!("the Secret `{name}` is in clear: seal it (`flotilla seal`) and commit the SealedSecret instead")));
            }
        }
    }
    // The manifest, and the generated files it derives.
    let solution = match files.get(MANIFEST_FILE) {
        None => {
            findings.push(finding(
                Severity::Warning,
                "manifest",
                MANIFEST_FILE,
                "no flotilla.yaml: the generated files cannot be compared with a manifest".into(),
            ));
            None
        }
        Some(text) => match Solution::parse(text)
            .and_then(|solution| solution.validate().map(|()| solution))
        {
            Ok(solution) => Some(solution),
            Err(error) => {
                findings.push(finding(
                    Severity::Error,
                    "manifest",
                    MANIFEST_FILE,
                    error.to_string(),
                ));
                None
            }
        },
    };
    if let Some(solution) = &solution {
        match generate(solution, &files) {
            Ok(plan) => {
                for (path, text) in &plan.files {
                    match files.get(path) {
                        None => findings.push(finding(Severity::Error, "generated", path, "missing: flotilla.yaml generates it (`flotilla bootstrap --overwrite` with the same inputs, or restore it)".into())),
                        Some(existing) if existing != text && !plan.seeded.contains(path) => findings.push(finding(Severity::Warning, "generated", path, "differs from what flotilla.yaml generates (edited by hand, or flotilla.yaml changed without regenerating)".into())),
                        Some(_) => {}
                    }
                }
                for secret in &plan.secrets {
                    if !files.contains_key(&secret.path) {
                        findings.push(finding(Severity::Error, "generated", &secret.path, format!("the SealedSecret `{}` is missing: run `flotilla bootstrap` again with --cert or --kubeconfig", secret.name)));
                    }
                }
            }
            Err(error) => findings.push(finding(
                Severity::Error,
                "manifest",
                MANIFEST_FILE,
                error.to_string(),
            )),
        }
    }
    // The Applications of the root, and what each deploys.
    let root_objects = match render(root, paths::ARGOCD) {
        Ok(objects) => objects,
        Err(error) => {
            findings.push(finding(
                Severity::Error,
                "renders",
                paths::ARGOCD,
                format!("does not render: {error}"),
            ));
            findings.sort();
            return Ok(findings);
        }
    };
    let projects: BTreeMap<&str, &Value> = root_objects
        .iter()
        .filter(|object| object["kind"] == "AppProject")
        .filter_map(|object| Some((object["metadata"]["name"].as_str()?, object)))
        .collect();
    // Operator packages the bootstrap wave subscribes to, with the CSV each channel installs.
    let mut subscribed: BTreeMap<String, String> = BTreeMap::new();
    let mut rendered_by_app: Vec<(String, Value, Vec<Value>)> = Vec::new();
    for application in root_objects
        .iter()
        .filter(|object| object["kind"] == "Application" && group_of(object) == "argoproj.io")
    {
        let name = application["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some(path) = application["spec"]["source"]["path"].as_str() else {
            findings.push(finding(
                Severity::Warning,
                "renders",
                paths::ARGOCD,
                format!(
                    "Application `{name}` has no source path (Helm or multi-source): not checked"
                ),
            ));
            continue;
        };
        let path = path.trim_matches('/');
        if !root.join(path).is_dir() {
            findings.push(finding(
                Severity::Error,
                "renders",
                path,
                format!("Application `{name}` names `{path}`, which does not exist"),
            ));
            continue;
        }
        if path == paths::ARGOCD {
            continue;
        }
        match render(root, path) {
            Ok(objects) => {
                for object in objects.iter().filter(|object| {
                    object["kind"] == "Subscription" && group_of(object) == "operators.coreos.com"
                }) {
                    let (Some(package), Some(channel)) = (
                        object["spec"]["name"].as_str(),
                        object["spec"]["channel"].as_str(),
                    ) else {
                        continue;
                    };
                    let version = catalog
                        .package(package)
                        .and_then(|entry| {
                            entry.channel(channel).and_then(|found| entry.head(found))
                        })
                        .map(|csv| csv.version)
                        .unwrap_or_default();
                    subscribed.insert(package.to_string(), version);
                }
                for object in &objects {
                    if object["kind"] == "Secret"
                        && object["apiVersion"] == "v1"
                        && (object["data"]
                            .as_object()
                            .is_some_and(|data| !data.is_empty())
                            || object["stringData"]
                                .as_object()
                                .is_some_and(|data| !data.is_empty()))
                    {
                        findings.push(finding(Severity::Error, "secret", path, format!("renders the Secret `{}` in clear (a secretGenerator?): seal it instead", object["metadata"]["name"].as_str().unwrap_or_default())));
                    }
                }
                rendered_by_app.push((name, application.clone(), objects));
            }
            Err(error) => findings.push(finding(
                Severity::Error,
                "renders",
                path,
                format!("Application `{name}`: `{path}` does not render: {error}"),
            )),
        }
    }
    for (name, application, objects) in &rendered_by_app {
        let path = application["spec"]["source"]["path"]
            .as_str()
            .unwrap_or_default()
            .trim_matches('/');
        // The project permits the source, each namespace and each cluster-scoped kind.
        let project_name = application["spec"]["project"].as_str().unwrap_or("default");
        let project = projects.get(project_name);
        if project.is_none() && project_name != "default" {
            findings.push(finding(Severity::Error, "project", path, format!("Application `{name}` is in project `{project_name}`, which the root does not declare")));
        }
        if let Some(project) = project {
            let spec = &project["spec"];
            let repo = application["spec"]["source"]["repoURL"]
                .as_str()
                .unwrap_or_default();
            let sources: Vec<&str> = spec["sourceRepos"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if !sources.iter().any(|pattern| matches(pattern, repo)) {
                findings.push(finding(Severity::Error, "project", path, format!("Application `{name}`: project `{project_name}` does not permit the source `{repo}`")));
            }
            let server = application["spec"]["destination"]["server"]
                .as_str()
                .unwrap_or_default();
            let destination_namespace = application["spec"]["destination"]["namespace"]
                .as_str()
                .unwrap_or_default();
            let destinations: Vec<(&str, &str)> = spec["destinations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|entry| {
                    (
                        entry["server"].as_str().unwrap_or("*"),
                        entry["namespace"].as_str().unwrap_or("*"),
                    )
                })
                .collect();
            let mut namespaces = BTreeSet::from([destination_namespace.to_string()]);
            let whitelist: Vec<(&str, &str)> = spec["clusterResourceWhitelist"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|entry| {
                    (
                        entry["group"].as_str().unwrap_or(""),
                        entry["kind"].as_str().unwrap_or(""),
                    )
                })
                .collect();
            for object in objects {
                let kind = object["kind"].as_str().unwrap_or_default();
                let group = group_of(object);
                // kustomize's list, plus the admission webhooks it leaves out.
                let cluster_scoped = flotilla_kustomize::kinds::is_cluster_scoped_kind(group, kind)
                    || (group == "admissionregistration.k8s.io"
                        && kind.ends_with("WebhookConfiguration"))
                    || catalog
                        .owner_of(group, kind)
                        .iter()
                        .any(|(_, crd)| crd.spec["scope"] == "Cluster");
                if cluster_scoped {
                    if !whitelist.iter().any(|(allowed_group, allowed_kind)| {
                        matches(allowed_group, group) && matches(allowed_kind, kind)
                    }) {
                        findings.push(finding(Severity::Error, "project", path, format!("Application `{name}` deploys the cluster-scoped {kind} `{}`, which project `{project_name}` does not whitelist (clusterResourceWhitelist)", object["metadata"]["name"].as_str().unwrap_or_default())));
                    }
                } else if let Some(namespace) = object["metadata"]["namespace"].as_str() {
                    namespaces.insert(namespace.to_string());
                }
            }
            for namespace in namespaces {
                if !destinations
                    .iter()
                    .any(|(allowed_server, allowed_namespace)| {
                        matches(allowed_server, server) && matches(allowed_namespace, &namespace)
                    })
                {
                    findings.push(finding(Severity::Error, "project", path, format!("Application `{name}` deploys into `{namespace}` on {server}, which project `{project_name}` does not permit (destinations)")));
                }
            }
        }
        // Every operand's kind is served by a subscribed operator.
        let mut reported = BTreeSet::new();
        for object in objects {
            let kind = object["kind"].as_str().unwrap_or_default();
            let group = group_of(object);
            if served_by_the_platform(catalog, group) {
                continue;
            }
            let first_of_its_kind = reported.insert((group.to_string(), kind.to_string()));
            let owners = catalog.owner_of(group, kind);
            let version = object["apiVersion"]
                .as_str()
                .and_then(|text| text.rsplit_once('/'))
                .map(|(_, version)| version)
                .unwrap_or_default();
            let installed = owners.iter().find_map(|(package, crd)| {
                subscribed.get(&package.name).map(|csv| (package, crd, csv))
            });
            match installed {
                None if !first_of_its_kind => {}
                None if owners.is_empty() => findings.push(finding(Severity::Warning, "operator", path, format!("{kind}.{group}: no operator of the catalog serves it, so nothing the bootstrap wave installs does (`flotilla catalog list`)"))),
                None => findings.push(finding(Severity::Error, "operator", path, format!("{kind}.{group} is served by {} but the bootstrap wave subscribes to none of them: the sync fails until one is installed", owners.iter().map(|(package, _)| format!("`{}`", package.name)).collect::<Vec<_>>().join(" or ")))),
                Some((package, crd, csv)) => {
                    let served = crd.versions_for(csv).any(|entry| entry["name"].as_str() == Some(version) && entry["served"].as_bool() != Some(false));
                    if !served {
                        if first_of_its_kind {
                            findings.push(finding(Severity::Error, "operator", path, format!("{kind}.{group}/{version}: `{}` {csv} (the head of the subscribed channel) does not serve {version}", package.name)));
                        }
                        continue;
                    }
                    let object_name = object["metadata"]["name"].as_str().unwrap_or_default();
                    for problem in validate(&crd.spec_for(csv), object) {
                        findings.push(finding(Severity::Error, "schema", path, format!("{kind} `{object_name}` is refused by the CRD `{}` {csv} serves: {problem}", package.name)));
                    }
                }
            }
        }
    }
    findings.sort();
    findings.dedup();
    Ok(findings)
}
