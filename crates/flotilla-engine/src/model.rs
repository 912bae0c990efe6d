//! The Argo CD data model the engine reads unchanged: `Application` and `AppProject`
//! (`argoproj.io/v1alpha1`), deserialised leniently (unknown fields are ignored, as the Argo CD
//! controller does), plus the project rules: source repositories, destinations and resource
//! allow/deny lists, with Argo CD's glob and `!`-negation semantics; and the Argo CD annotations
//! and finalizer the engine honours.
//!
//! Depends on no other module of the engine (the lowest layer).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const GROUP: &str = "argoproj.io";
pub const VERSION: &str = "v1alpha1";
/// The address that names the cluster the controller itself talks to.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
pub const IN_CLUSTER_NAME: &str = "in-cluster";

/// Argo CD's refresh request annotation (`normal` or `hard`); removed once handled.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";

/// Argo CD's cascading-delete finalizer (optionally `/foreground` or `/background`).
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ApplicationSource>,
    #[serde(default)]
    pub destination: Destination,
    #[serde(default)]
    pub project: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
}

impl ApplicationSpec {
    /// The sources in order: `sources` when given, else the single `source`.
    pub fn all_sources(&self) -> Vec<&ApplicationSource> {
        if self.sources.is_empty() {
            self.source.iter().collect()
        } else {
            self.sources.iter().collect()
        }
    }

    pub fn automated(&self) -> Option<&Automated> {
        self.sync_policy.as_ref()?.automated.as_ref()
    }

    pub fn sync_options(&self) -> &[String] {
        self.sync_policy
            .as_ref()
            .map(|policy| policy.sync_options.as_slice())
            .unwrap_or(&[])
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    #[serde(rename = "repoURL", default)]
    pub repo_url: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub target_revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizeOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectoryOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<Value>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeOptions {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_prefix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_suffix: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub common_labels: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub common_annotations: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaOverride>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_common_labels: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_common_annotations: bool,
}

impl KustomizeOptions {
    pub fn is_empty(&self) -> bool {
        self == &KustomizeOptions::default()
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ReplicaOverride {
    pub name: String,
    /// An integer or a string holding one, as Argo CD's IntOrString.
    pub count: Value,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryOptions {
    #[serde(default)]
    pub recurse: bool,
    #[serde(default)]
    pub include: String,
    #[serde(default)]
    pub exclude: String,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Destination {
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<Automated>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Automated {
    #[serde(default)]
    pub prune: bool,
    #[serde(default)]
    pub self_heal: bool,
    #[serde(default)]
    pub allow_empty: bool,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Attempts after the first; negative means unlimited, as Argo CD.
    #[serde(default)]
    pub limit: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0-based): Argo CD's defaults are 5s, ×2, ≤ 3m.
    pub fn delay(&self, attempt: u32) -> std::time::Duration {
        let backoff = self.backoff.as_ref();
        let base = backoff
            .and_then(|backoff| backoff.duration.as_deref())
            .and_then(parse_duration)
            .unwrap_or(std::time::Duration::from_secs(5));
        let factor = backoff
            .and_then(|backoff| backoff.factor)
            .unwrap_or(2)
            .max(1) as u32;
        let cap = backoff
            .and_then(|backoff| backoff.max_duration.as_deref())
            .and_then(parse_duration)
            .unwrap_or(std::time::Duration::from_secs(180));
        let multiplier = factor.saturating_pow(attempt.min(30));
        base.saturating_mul(multiplier).min(cap)
    }

    pub fn allows(&self, attempt: u32) -> bool {
        self.limit < 0 || i64::from(attempt) < self.limit
    }
}

/// The kinds an Application's `status.resources` lists, as (apiVersion, kind): the kinds of
/// what it last synced (the core group has no `group`; a missing version reads as `v1`).
pub fn status_resource_kinds(application: &Value) -> impl Iterator<Item = (String, String)> + '_ {
    application["status"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|resource| {
            let group = resource["group"].as_str().unwrap_or("");
            let version = resource["version"].as_str().unwrap_or("v1");
            let api_version = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            (
                api_version,
                resource["kind"].as_str().unwrap_or("").to_string(),
            )
        })
}

/// A Go-style duration (`5s`, `2m`, `1h30m`, `250ms`) or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(std::time::Duration::from_secs(seconds));
    }
    let mut total = std::time::Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|character: char| !(character.is_ascii_digit() || character == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_end = rest
            .find(|character: char| character.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            _ => return None,
        };
        total += std::time::Duration::from_secs_f64(seconds);
        rest = &rest[unit_end..];
    }
    Some(total)
}

/// An `AppProject`'s rules.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppProjectSpec {
    #[serde(default)]
    pub source_repos: Vec<String>,
    #[serde(default)]
    pub destinations: Vec<Destination>,
    #[serde(default)]
    pub cluster_resource_whitelist: Vec<GroupKind>,
    #[serde(default)]
    pub cluster_resource_blacklist: Vec<GroupKind>,
    #[serde(default)]
    pub namespace_resource_whitelist: Vec<GroupKind>,
    #[serde(default)]
    pub namespace_resource_blacklist: Vec<GroupKind>,
    #[serde(default)]
    pub source_namespaces: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct GroupKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
}

impl AppProjectSpec {
    /// The project Argo CD creates as `default`: everything allowed.
    pub fn permissive() -> Self {
        AppProjectSpec {
            source_repos: vec!["*".into()],
            destinations: vec![Destination {
                server: Some("*".into()),
                name: Some("*".into()),
                namespace: Some("*".into()),
            }],
            cluster_resource_whitelist: vec![GroupKind {
                group: "*".into(),
                kind: "*".into(),
            }],
            ..AppProjectSpec::default()
        }
    }

    /// Whether the project allows `repository` (globs; a `!` entry denies and wins).
    pub fn permits_source(&self, repository: &str) -> bool {
        let repository = repository.trim_end_matches('/');
        permitted(self.source_repos.iter().map(String::as_str), |pattern| {
            glob_match(pattern.trim_end_matches('/'), repository)
        })
    }

    /// Whether the project allows deploying to `server`/`name` and `namespace`.
    pub fn permits_destination(&self, server: &str, name: &str, namespace: &str) -> bool {
        let mut allowed = false;
        for destination in &self.destinations {
            let server_pattern = destination.server.as_deref().unwrap_or("");
            let name_pattern = destination.name.as_deref().unwrap_or("");
            let namespace_pattern = destination.namespace.as_deref().unwrap_or("");
            let (namespace_negated, namespace_pattern) = split_negation(namespace_pattern);
            let cluster_matches = (!server_pattern.is_empty()
                && glob_match(server_pattern, server))
                || (!name_pattern.is_empty() && glob_match(name_pattern, name));
            let namespace_matches = glob_match(namespace_pattern, namespace);
            if namespace_negated {
                if cluster_matches && namespace_matches {
                    return false;
                }
            } else if cluster_matches && namespace_matches {
                allowed = true;
            }
        }
        allowed
    }

    /// Whether a resource of `group`/`kind` may be managed (`namespaced` picks the lists).
    pub fn permits_resource(&self, group: &str, kind: &str, namespaced: bool) -> bool {
        let matches =
            |entry: &GroupKind| glob_match(&entry.group, group) && glob_match(&entry.kind, kind);
        if namespaced {
            let allowed = self.namespace_resource_whitelist.is_empty()
                || self.namespace_resource_whitelist.iter().any(matches);
            allowed && !self.namespace_resource_blacklist.iter().any(matches)
        } else {
            self.cluster_resource_whitelist.iter().any(matches)
                && !self.cluster_resource_blacklist.iter().any(matches)
        }
    }
}

fn split_negation(pattern: &str) -> (bool, &str) {
    match pattern.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    }
}

/// Allowed when a plain pattern matches and no `!pattern` does.
fn permitted<'a>(patterns: impl Iterator<Item = &'a str>, matches: impl Fn(&str) -> bool) -> bool {
    let mut allowed = false;
    for pattern in patterns {
        let (negated, pattern) = split_negation(pattern);
        if matches(pattern) {
            if negated {
                return false;
            }
            allowed = true;
        }
    }
    allowed
}

/// Glob matching with `*` (any run of characters) and `?` (one character), as Argo CD's project
/// patterns; an empty pattern matches only the empty string.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut pattern_index, mut text_index) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while text_index < text.len() {
        match pattern.get(pattern_index) {
            Some('*') => {
                backtrack = Some((pattern_index, text_index));
                pattern_index += 1;
            }
            Some(&character) if character == '?' || character == text[text_index] => {
                pattern_index += 1;
                text_index += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    pattern_index = star + 1;
                    text_index = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[pattern_index..]
        .iter()
        .all(|&character| character == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs_and_projects() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match(
            "https://github.com/org/*",
            "https://github.com/org/repo.git"
        ));
        assert!(!glob_match("inventory-*", "payments-dev"));
        assert!(glob_match("inv?ntory", "inventory"));
        let project: AppProjectSpec = serde_json::from_value(json!({
            "sourceRepos": ["https://github.com/org/*", "!https://github.com/org/secret*"],
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "inventory-*"}],
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
            "namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}]
        }))
        .expect("project");
        assert!(project.permits_source("https://github.com/org/app.git"));
        assert!(!project.permits_source("https://github.com/org/secrets.git"));
        assert!(!project.permits_source("https://gitlab.com/org/app.git"));
        assert!(project.permits_destination(IN_CLUSTER_SERVER, "in-cluster", "inventory-dev"));
        assert!(!project.permits_destination(IN_CLUSTER_SERVER, "in-cluster", "kube-system"));
        assert!(project.permits_resource("", "Namespace", false));
        assert!(!project.permits_resource("rbac.authorization.k8s.io", "ClusterRole", false));
        assert!(project.permits_resource("apps", "Deployment", true));
        assert!(!project.permits_resource("", "ResourceQuota", true));
    }

    #[test]
    fn durations_and_backoff() {
        assert_eq!(
            parse_duration("5s"),
            Some(std::time::Duration::from_secs(5))
        );
        assert_eq!(
            parse_duration("1m30s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration("250ms"),
            Some(std::time::Duration::from_millis(250))
        );
        assert_eq!(parse_duration("soon"), None);
        let retry = RetryPolicy {
            limit: 3,
            backoff: None,
        };
        assert_eq!(retry.delay(0), std::time::Duration::from_secs(5));
        assert_eq!(retry.delay(2), std::time::Duration::from_secs(20));
        assert_eq!(retry.delay(10), std::time::Duration::from_secs(180));
        assert!(retry.allows(2) && !retry.allows(3));
    }

    #[test]
    fn applications_parse_as_argo_cd_writes_them() {
        let spec: ApplicationSpec = serde_json::from_value(json!({
            "project": "default",
            "source": {"repoURL": "https://github.com/org/repo.git", "path": "apps", "targetRevision": "HEAD",
                        "kustomize": {"namePrefix": "dev-", "images": ["nginx:1.27"]}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "dev"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]},
            "unknownField": 1
        }))
        .expect("application");
        assert_eq!(spec.all_sources().len(), 1);
        assert!(spec
            .automated()
            .is_some_and(|automated| automated.self_heal));
        assert_eq!(spec.sync_options(), ["CreateNamespace=true"]);
    }
}
