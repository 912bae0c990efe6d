//! The solution manifest, `flotilla.yaml` at the root of a solution repository: the
//! environments, applications and services, the repositories, the operators and the event
//! backbone (KAM's `pipelines.yaml` role). Every other generated file is derived from it (and
//! from the pins promotion moves, read back from the overlays: see `generate`).
//!
//! Invariants: a [`Solution`] that [`Solution::validate`] accepts has DNS-label names (with its
//! prefix, every namespace it derives is one), unique environments, applications and services,
//! git URLs for every repository, and operators the embedded catalog knows on channels it has.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::names;

/// The manifest's file name, at the repository root.
pub const MANIFEST_FILE: &str = "flotilla.yaml";
/// `apiVersion` of the manifest.
pub const MANIFEST_API_VERSION: &str = "flotilla.dev/v1alpha1";

/// What a manifest cannot be.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{MANIFEST_FILE}: {0}")]
    Yaml(String),
    #[error("{MANIFEST_FILE}: {0}\n\nhint: compare it with what `flotilla bootstrap` writes; fields are camelCase")]
    Shape(String),
    #[error("{0}")]
    Invalid(String),
}

/// Which Kafka the event backbone runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KafkaFlavour {
    /// No Kafka.
    #[default]
    None,
    /// Strimzi (`strimzi-kafka-operator`, `kafka.strimzi.io`).
    Strimzi,
    /// IBM Event Streams (`ibm-eventstreams`, `eventstreams.ibm.com`).
    Eventstreams,
}

impl KafkaFlavour {
    pub fn parse(text: &str) -> Option<KafkaFlavour> {
        match text {
            "none" => Some(KafkaFlavour::None),
            "strimzi" => Some(KafkaFlavour::Strimzi),
            "eventstreams" => Some(KafkaFlavour::Eventstreams),
            _ => None,
        }
    }
}

/// An operator the bootstrap wave installs: an OLM package of the catalog and its channel.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operator {
    pub package: String,
    pub channel: String,
}

/// One service: a source repository built into one image, deployed as a Deployment, Service,
/// Route and ConfigMap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// The service's source repository (what its pipeline builds).
    #[serde(rename = "sourceURL")]
    pub source_url: String,
    /// The image without tag or digest (`quay.io/shop/orders`).
    pub image: String,
    /// The tag a new environment starts with (later tags arrive by pipeline and promotion).
    #[serde(default = "default_tag")]
    pub tag: String,
    /// The container port.
    #[serde(default = "default_port")]
    pub port: u16,
}

fn default_tag() -> String {
    "latest".into()
}

fn default_port() -> u16 {
    8080
}

/// An application: services deployed together by one Argo CD Application per environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct App {
    pub name: String,
    #[serde(default)]
    pub services: Vec<Service>,
}

/// An environment: a namespace (`<prefix><name>`) on a cluster, its apps and event backbone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Environment {
    pub name: String,
    /// The Argo CD destination server.
    #[serde(default = "default_cluster")]
    pub cluster: String,
    #[serde(default)]
    pub apps: Vec<App>,
}

/// The in-cluster destination Argo CD names `in-cluster`.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

fn default_cluster() -> String {
    IN_CLUSTER.into()
}

/// The solution manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Solution {
    pub api_version: String,
    pub kind: String,
    /// The solution's name: its AppProject and the `part-of` label.
    pub name: String,
    /// Prepended to every namespace (`shop-` gives `shop-dev`, `shop-cicd`); empty or ending in `-`.
    #[serde(default)]
    pub prefix: String,
    /// The GitOps repository (this one) every Application syncs from.
    #[serde(rename = "gitopsRepoURL")]
    pub gitops_repo_url: String,
    /// The revision the Applications follow.
    #[serde(default = "default_revision")]
    pub gitops_revision: String,
    /// Where service images are pushed (`quay.io/shop`).
    pub image_repo: String,
    /// Where the Argo CD instance and its Applications live.
    #[serde(default = "default_argocd_namespace")]
    pub argocd_namespace: String,
    #[serde(default)]
    pub kafka: KafkaFlavour,
    #[serde(default)]
    pub mq: bool,
    /// The operators the bootstrap wave installs (the pipelines operator and the event
    /// backbone's operators included).
    #[serde(default)]
    pub operators: Vec<Operator>,
    /// Credentials the pipelines use, sealed in the repository: `git-token` (pushes to the
    /// GitOps repository, clones private service repositories), `registry` (pushes images).
    /// Recorded when first given; their values are never in this file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<String>,
    pub environments: Vec<Environment>,
}

/// The credential a git token is recorded as.
pub const GIT_TOKEN_CREDENTIAL: &str = "git-token";
/// The credential registry credentials are recorded as.
pub const REGISTRY_CREDENTIAL: &str = "registry";

fn default_revision() -> String {
    "HEAD".into()
}

/// OpenShift GitOps' Argo CD namespace.
pub const OPENSHIFT_GITOPS_NAMESPACE: &str = "openshift-gitops";

fn default_argocd_namespace() -> String {
    OPENSHIFT_GITOPS_NAMESPACE.into()
}

impl Solution {
    /// Reads a manifest (shape only; call [`Solution::validate`] for the rules).
    pub fn parse(text: &str) -> Result<Solution, ManifestError> {
        let document = flotilla_core::parse_single_document(text)
            .map_err(|error| ManifestError::Yaml(error.to_string()))?;
        serde_json::from_value(flotilla_core::to_json(&document))
            .map_err(|error| ManifestError::Shape(error.to_string()))
    }

    /// The manifest as YAML, with a header saying what it is.
    pub fn to_yaml(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or_default();
        let body =
            flotilla_core::write_document(&flotilla_core::from_json(&value)).unwrap_or_default();
        format!(
            "# The solution's manifest: environments, apps and services. `flotilla env add`,\n\
             # `flotilla service add` and `flotilla bootstrap` edit it; the other generated files\n\
             # are derived from it (`flotilla repo check` says when they differ).\n{body}"
        )
    }

    /// The namespace of an environment (or of `cicd`).
    pub fn namespace(&self, environment: &str) -> String {
        format!("{}{environment}", self.prefix)
    }

    /// The CI/CD namespace, `<prefix>cicd`.
    pub fn cicd_namespace(&self) -> String {
        self.namespace("cicd")
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments
            .iter()
            .find(|environment| environment.name == name)
    }

    pub fn environment_mut(&mut self, name: &str) -> Option<&mut Environment> {
        self.environments
            .iter_mut()
            .find(|environment| environment.name == name)
    }

    /// Every rule a manifest must hold, each broken one named (all of them, one a line).
    pub fn validate(&self) -> Result<(), ManifestError> {
        let mut problems = Vec::new();
        if self.api_version != MANIFEST_API_VERSION || self.kind != "Solution" {
            problems.push(format!(
                "apiVersion/kind are `{}`/`{}`: expected `{MANIFEST_API_VERSION}`/`Solution`",
                self.api_version, self.kind
            ));
        }
        if let Some(problem) = names::dns_label_problem(&self.name) {
            problems.push(format!("name `{}` {problem}", self.name));
        }
        if !self.prefix.is_empty() {
            let stem = self.prefix.trim_end_matches('-');
            if !self.prefix.ends_with('-') || names::dns_label_problem(stem).is_some() {
                problems.push(format!(
                    "prefix `{}` must be a DNS label followed by `-` (`shop-`)",
                    self.prefix
                ));
            }
        }
        if let Some(problem) = names::git_url_problem(&self.gitops_repo_url) {
            problems.push(format!(
                "gitopsRepoURL `{}` {problem}",
                self.gitops_repo_url
            ));
        }
        if let Some(problem) = names::image_repository_problem(&self.image_repo) {
            problems.push(format!("imageRepo `{}` {problem}", self.image_repo));
        }
        if let Some(problem) = names::dns_label_problem(&self.argocd_namespace) {
            problems.push(format!(
                "argocdNamespace `{}` {problem}",
                self.argocd_namespace
            ));
        }
        let catalog = flotilla_catalog::Catalog::embedded();
        let mut packages = BTreeSet::new();
        for operator in &self.operators {
            if !packages.insert(&operator.package) {
                problems.push(format!("operator `{}` is listed twice", operator.package));
            }
            match catalog.package(&operator.package) {
                None => problems.push(format!(
                    "operator `{}` is not in the catalog (`flotilla catalog list` shows the packages)",
                    operator.package
                )),
                Some(package) if package.channel(&operator.channel).is_none() => {
                    let channels: Vec<&str> = package
                        .channels
                        .iter()
                        .map(|channel| channel.name.as_str())
                        .collect();
                    problems.push(format!(
                        "operator `{}` has no channel `{}` (its channels: {})",
                        operator.package,
                        operator.channel,
                        channels.join(", ")
                    ));
                }
                Some(_) => {}
            }
        }
        for credential in &self.credentials {
            if credential != GIT_TOKEN_CREDENTIAL && credential != REGISTRY_CREDENTIAL {
                problems.push(format!(
                    "credential `{credential}` is not one of `{GIT_TOKEN_CREDENTIAL}`, `{REGISTRY_CREDENTIAL}`"
                ));
            }
        }
        if self.environments.is_empty() {
            problems.push("no environments: give at least one".into());
        }
        let mut environments = BTreeSet::new();
        for environment in &self.environments {
            let namespace = self.namespace(&environment.name);
            if !environments.insert(&environment.name) {
                problems.push(format!(
                    "environment `{}` is listed twice",
                    environment.name
                ));
            }
            if environment.name == "cicd" {
                problems.push(
                    "environment `cicd` would share the pipelines' namespace: choose another name"
                        .into(),
                );
            }
            if let Some(problem) = names::dns_label_problem(&environment.name) {
                problems.push(format!("environment `{}` {problem}", environment.name));
            } else if let Some(problem) = names::dns_label_problem(&namespace) {
                problems.push(format!("namespace `{namespace}` {problem}"));
            }
            if !environment.cluster.starts_with("https://") {
                problems.push(format!(
                    "environment `{}`: cluster `{}` is not an https:// API server URL",
                    environment.name, environment.cluster
                ));
            }
            let mut apps = BTreeSet::new();
            let mut services = BTreeSet::new();
            for app in &environment.apps {
                if !apps.insert(&app.name) {
                    problems.push(format!(
                        "environment `{}`: app `{}` is listed twice",
                        environment.name, app.name
                    ));
                }
                if let Some(problem) = names::dns_label_problem(&app.name) {
                    problems.push(format!(
                        "environment `{}`: app `{}` {problem}",
                        environment.name, app.name
                    ));
                }
                for service in &app.services {
                    if !services.insert(&service.name) {
                        problems.push(format!(
                            "environment `{}`: service `{}` is listed twice (service names are unique in an environment: they name its Deployments)",
                            environment.name, service.name
                        ));
                    }
                    if let Some(problem) = names::dns_label_problem(&service.name) {
                        problems.push(format!(
                            "environment `{}`: service `{}` {problem}",
                            environment.name, service.name
                        ));
                    }
                    if let Some(problem) = names::git_url_problem(&service.source_url) {
                        problems.push(format!(
                            "service `{}`: sourceURL `{}` {problem}",
                            service.name, service.source_url
                        ));
                    }
                    if let Some(problem) = names::image_repository_problem(&service.image) {
                        problems.push(format!(
                            "service `{}`: image `{}` {problem}",
                            service.name, service.image
                        ));
                    }
                    if let Some(problem) = names::tag_problem(&service.tag) {
                        problems.push(format!(
                            "service `{}`: tag `{}` {problem}",
                            service.name, service.tag
                        ));
                    }
                    if service.port == 0 {
                        problems.push(format!("service `{}`: port 0", service.name));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ManifestError::Invalid(problems.join("\n")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solution() -> Solution {
        Solution {
            api_version: MANIFEST_API_VERSION.into(),
            kind: "Solution".into(),
            name: "shop".into(),
            prefix: "shop-".into(),
            gitops_repo_url: "https://github.com/example/shop-gitops.git".into(),
            gitops_revision: "HEAD".into(),
            image_repo: "quay.io/shop".into(),
            argocd_namespace: OPENSHIFT_GITOPS_NAMESPACE.into(),
            kafka: KafkaFlavour::Strimzi,
            mq: false,
            operators: Vec::new(),
            credentials: Vec::new(),
            environments: vec![Environment {
                name: "dev".into(),
                cluster: IN_CLUSTER.into(),
                apps: vec![App {
                    name: "app-orders".into(),
                    services: vec![Service {
                        name: "orders".into(),
                        source_url: "https://github.com/example/orders.git".into(),
                        image: "quay.io/shop/orders".into(),
                        tag: "latest".into(),
                        port: 8080,
                    }],
                }],
            }],
        }
    }

    #[test]
    fn a_manifest_reads_back_what_was_written() {
        let solution = solution();
        let text = solution.to_yaml();
        let read = Solution::parse(&text).expect("reads");
        assert_eq!(read, solution);
        read.validate().expect("valid");
    }

    #[test]
    fn every_broken_rule_is_named() {
        let mut solution = solution();
        solution.prefix = "Shop".into();
        solution.environments.push(solution.environments[0].clone());
        solution.environments[0].apps[0].services[0].name = "Orders_Service".into();
        let message = solution.validate().expect_err("invalid").to_string();
        assert!(message.contains("prefix `Shop`"), "{message}");
        assert!(
            message.contains("environment `dev` is listed twice"),
            "{message}"
        );
        assert!(message.contains("service `Orders_Service`"), "{message}");
    }

    #[test]
    fn unknown_fields_are_refused_with_their_name() {
        let text = solution().to_yaml().replace("prefix:", "prefx:");
        let message = Solution::parse(&text).expect_err("refused").to_string();
        assert!(message.contains("prefx"), "{message}");
    }
}
