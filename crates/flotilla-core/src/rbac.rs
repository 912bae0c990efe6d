//! Kubernetes RBAC as data: policy rules, the rules a user holds through the (Cluster)Role
//! bindings among some objects ([`rules_for`], as the RBAC authorizer resolves them), whether
//! rules allow a request ([`allows`]), and the grants of one rule set another does not cover
//! ([`excess`]). The embedded API server answers SelfSubjectRulesReview and
//! SelfSubjectAccessReview with it; `flotilla controller --strict-rbac` compares what its
//! credentials may do with the rules `flotilla install` binds. Pure.
//!
//! A `*` is compared as a value of its own: a granted `*` is covered only by an allowed `*`
//! (a list of every verb the install names does not cover `*`, which includes verbs yet to come).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

/// One rule of a Role or ClusterRole (or of a SelfSubjectRulesReview's answer).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl PolicyRule {
    /// A rule as Kubernetes writes it (`verbs`, `apiGroups`, `resources`, `resourceNames`,
    /// `nonResourceURLs`); missing lists are empty.
    pub fn from_json(rule: &Value) -> PolicyRule {
        PolicyRule {
            verbs: strings(&rule["verbs"]),
            api_groups: strings(&rule["apiGroups"]),
            resources: strings(&rule["resources"]),
            resource_names: strings(&rule["resourceNames"]),
            non_resource_urls: strings(&rule["nonResourceURLs"]),
        }
    }

    /// Whether this rule is about non-resource URLs (`/healthz`, `/api`).
    pub fn is_non_resource(&self) -> bool {
        !self.non_resource_urls.is_empty()
    }

    /// The rule as a SelfSubjectRulesReview's `resourceRules` or `nonResourceRules` entry.
    pub fn to_json(&self) -> Value {
        if self.is_non_resource() {
            return json!({"verbs": self.verbs, "nonResourceURLs": self.non_resource_urls});
        }
        let mut rule = json!({
            "verbs": self.verbs,
            "apiGroups": self.api_groups,
            "resources": self.resources,
        });
        if !self.resource_names.is_empty() {
            rule["resourceNames"] = json!(self.resource_names);
        }
        rule
    }

    fn resource(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        let owned = |items: &[&str]| items.iter().map(|item| item.to_string()).collect();
        PolicyRule {
            verbs: owned(verbs),
            api_groups: owned(groups),
            resources: owned(resources),
            ..PolicyRule::default()
        }
    }

    fn non_resource(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        let owned = |items: &[&str]| items.iter().map(|item| item.to_string()).collect();
        PolicyRule {
            verbs: owned(verbs),
            non_resource_urls: owned(urls),
            ..PolicyRule::default()
        }
    }
}

/// Who asks: a user name and its groups, as an authenticator reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A ServiceAccount as its tokens authenticate: `system:serviceaccount:NS:NAME`, in the
    /// groups `system:serviceaccounts`, `system:serviceaccounts:NS` and `system:authenticated`.
    pub fn service_account(namespace: &str, name: &str) -> UserInfo {
        UserInfo {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".to_string(),
            ],
        }
    }

    /// Whether a binding's subject names this user (kind User, Group or ServiceAccount).
    fn is(&self, subject: &Value, binding_namespace: Option<&str>) -> bool {
        let name = subject["name"].as_str().unwrap_or("");
        match subject["kind"].as_str().unwrap_or("") {
            "User" => self.name == name,
            "Group" => self.groups.iter().any(|group| group == name),
            "ServiceAccount" => {
                // A RoleBinding's ServiceAccount subject without a namespace is in the binding's.
                let namespace = subject["namespace"]
                    .as_str()
                    .filter(|namespace| !namespace.is_empty())
                    .or(binding_namespace)
                    .unwrap_or("");
                self.name == format!("system:serviceaccount:{namespace}:{name}")
            }
            _ => false,
        }
    }
}

/// The rules `user` holds in `namespace` (None: at the cluster scope, ClusterRoleBindings
/// only) through the ClusterRoleBindings, RoleBindings, ClusterRoles and Roles among
/// `objects`, in the order of the bindings. As Kubernetes' authorizer does, a RoleBinding
/// grants no non-resource URLs, and a binding whose role is missing grants nothing.
pub fn rules_for<'a>(
    objects: impl IntoIterator<Item = &'a Value>,
    user: &UserInfo,
    namespace: Option<&str>,
) -> Vec<PolicyRule> {
    let objects: Vec<&Value> = objects.into_iter().collect();
    let is_rbac = |object: &Value, kind: &str| {
        object["kind"] == kind
            && object["apiVersion"]
                .as_str()
                .is_some_and(|version| version.starts_with("rbac.authorization.k8s.io/"))
    };
    let role_rules = |kind: &str, role_namespace: Option<&str>, name: &str| -> Vec<PolicyRule> {
        objects
            .iter()
            .find(|object| {
                is_rbac(object, kind)
                    && object["metadata"]["name"] == name
                    && (role_namespace.is_none()
                        || object["metadata"]["namespace"].as_str() == role_namespace)
            })
            .and_then(|role| role["rules"].as_array())
            .map(|rules| rules.iter().map(PolicyRule::from_json).collect())
            .unwrap_or_default()
    };
    let mut rules = Vec::new();
    for binding in &objects {
        let cluster_wide = is_rbac(binding, "ClusterRoleBinding");
        if !cluster_wide && !is_rbac(binding, "RoleBinding") {
            continue;
        }
        let binding_namespace = binding["metadata"]["namespace"].as_str();
        if !cluster_wide && (namespace.is_none() || binding_namespace != namespace) {
            continue;
        }
        let bound = binding["subjects"].as_array().is_some_and(|subjects| {
            subjects
                .iter()
                .any(|subject| user.is(subject, binding_namespace))
        });
        if !bound {
            continue;
        }
        let role_name = binding["roleRef"]["name"].as_str().unwrap_or("");
        let granted = match binding["roleRef"]["kind"].as_str() {
            Some("ClusterRole") => role_rules("ClusterRole", None, role_name),
            Some("Role") if !cluster_wide => role_rules("Role", binding_namespace, role_name),
            _ => Vec::new(),
        };
        rules.extend(
            granted
                .into_iter()
                .filter(|rule| cluster_wide || !rule.is_non_resource()),
        );
    }
    rules
}

/// What every authenticated user holds on a cluster set up by kubeadm or any conformant
/// installer (ClusterRoles `system:basic-user`, `system:discovery`,
/// `system:public-info-viewer`): asking about its own permissions, and reading discovery,
/// version and health. Not an excess of anyone's credentials.
pub fn authenticated_defaults() -> Vec<PolicyRule> {
    vec![
        PolicyRule::resource(
            &["create"],
            &["authorization.k8s.io"],
            &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        ),
        PolicyRule::resource(
            &["create"],
            &["authentication.k8s.io"],
            &["selfsubjectreviews"],
        ),
        PolicyRule::non_resource(
            &["get"],
            &[
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
                "/healthz",
                "/livez",
                "/openapi",
                "/openapi/*",
                "/readyz",
                "/version",
                "/version/",
            ],
        ),
    ]
}

/// The rules of `system:masters` (cluster-admin): everything.
pub fn everything() -> Vec<PolicyRule> {
    vec![
        PolicyRule::resource(&["*"], &["*"], &["*"]),
        PolicyRule::non_resource(&["*"], &["*"]),
    ]
}

fn covers(list: &[String], wanted: &str) -> bool {
    list.iter().any(|item| item == "*" || item == wanted)
}

/// A non-resource URL pattern (`/apis/*` covers `/apis/apps`) covering `url`.
fn url_covers(pattern: &str, url: &str) -> bool {
    pattern == "*"
        || pattern == url
        || pattern
            .strip_suffix('*')
            .is_some_and(|prefix| url.starts_with(prefix) && url != "*")
}

/// Whether `rules` allow `verb` on `resource` (`plural` or `plural/subresource`) of `group`,
/// the object `name` when given, as Kubernetes' RBAC authorizer decides it.
pub fn allows(
    rules: &[PolicyRule],
    verb: &str,
    group: &str,
    resource: &str,
    name: Option<&str>,
) -> bool {
    rules.iter().any(|rule| {
        !rule.is_non_resource()
            && covers(&rule.verbs, verb)
            && covers(&rule.api_groups, group)
            && (covers(&rule.resources, resource)
                || resource.split_once('/').is_some_and(|(_, subresource)| {
                    rule.resources
                        .iter()
                        .any(|item| item == &format!("*/{subresource}"))
                }))
            && (rule.resource_names.is_empty()
                || name.is_some_and(|name| rule.resource_names.iter().any(|item| item == name)))
    })
}

/// Whether `rules` allow `verb` on the non-resource URL `url`.
pub fn allows_url(rules: &[PolicyRule], verb: &str, url: &str) -> bool {
    rules.iter().any(|rule| {
        covers(&rule.verbs, verb)
            && rule
                .non_resource_urls
                .iter()
                .any(|pattern| url_covers(pattern, url))
    })
}

/// What one set of rules grants beyond another: verbs on a resource of a group (`*` a value
/// of its own), or verbs on a non-resource URL, with what the other set allows there instead.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Excess {
    Resource {
        group: String,
        resource: String,
        /// The object names the grant is limited to (empty: every object).
        names: Vec<String>,
        verbs: Vec<String>,
        /// The verbs the allowed rules give on this resource of this group.
        allowed: Vec<String>,
    },
    NonResource {
        url: String,
        verbs: Vec<String>,
        /// The verbs the allowed rules give on this URL.
        allowed: Vec<String>,
    },
}

impl std::fmt::Display for Excess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |items: &[String]| {
            items
                .iter()
                .map(|item| format!("`{item}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let instead = |allowed: &[String]| {
            if allowed.is_empty() {
                "nothing".to_string()
            } else {
                list(allowed)
            }
        };
        match self {
            Excess::Resource {
                group,
                resource,
                names,
                verbs,
                allowed,
            } => {
                let group = match group.as_str() {
                    "" => "the core group".to_string(),
                    "*" => "every API group (`*`)".to_string(),
                    group => format!("group `{group}`"),
                };
                let resource = if resource == "*" {
                    "every resource (`*`)".to_string()
                } else {
                    format!("`{resource}`")
                };
                let names = if names.is_empty() {
                    String::new()
                } else {
                    format!(" named {}", list(names))
                };
                write!(
                    f,
                    "{} on {resource}{names} in {group}; the install allows {} there",
                    list(verbs),
                    instead(allowed)
                )
            }
            Excess::NonResource {
                url,
                verbs,
                allowed,
            } => write!(
                f,
                "{} on the non-resource URL `{url}`; the install allows {} there",
                list(verbs),
                instead(allowed)
            ),
        }
    }
}

/// The grants of `granted` that `allowed` does not cover, one entry per (group, resource,
/// names) or URL with its excessive verbs, sorted. A grant limited to some object names is
/// covered by an allowed rule for every object or for those names.
pub fn excess(granted: &[PolicyRule], allowed: &[PolicyRule]) -> Vec<Excess> {
    let literal =
        |list: &[String], wanted: &str| list.iter().any(|item| item == "*" || item == wanted);
    let mut resources: BTreeMap<(String, String, Vec<String>), BTreeSet<String>> = BTreeMap::new();
    let mut urls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for rule in granted {
        if rule.is_non_resource() {
            for url in &rule.non_resource_urls {
                for verb in &rule.verbs {
                    let covered = allowed.iter().any(|other| {
                        literal(&other.verbs, verb)
                            && other
                                .non_resource_urls
                                .iter()
                                .any(|pattern| url_covers(pattern, url))
                    });
                    if !covered {
                        urls.entry(url.clone()).or_default().insert(verb.clone());
                    }
                }
            }
            continue;
        }
        let mut names = rule.resource_names.clone();
        names.sort();
        for group in &rule.api_groups {
            for resource in &rule.resources {
                for verb in &rule.verbs {
                    let covered = allowed.iter().any(|other| {
                        !other.is_non_resource()
                            && literal(&other.verbs, verb)
                            && literal(&other.api_groups, group)
                            && literal(&other.resources, resource)
                            && (other.resource_names.is_empty()
                                || (!names.is_empty()
                                    && names
                                        .iter()
                                        .all(|name| other.resource_names.contains(name))))
                    });
                    if !covered {
                        resources
                            .entry((group.clone(), resource.clone(), names.clone()))
                            .or_default()
                            .insert(verb.clone());
                    }
                }
            }
        }
    }
    let allowed_verbs = |matches: &dyn Fn(&PolicyRule) -> bool| -> Vec<String> {
        let mut verbs: Vec<String> = Vec::new();
        for rule in allowed.iter().filter(|rule| matches(rule)) {
            for verb in &rule.verbs {
                if !verbs.contains(verb) {
                    verbs.push(verb.clone());
                }
            }
        }
        verbs
    };
    let mut found: Vec<Excess> = resources
        .into_iter()
        .map(|((group, resource, names), verbs)| Excess::Resource {
            allowed: allowed_verbs(&|rule: &PolicyRule| {
                !rule.is_non_resource()
                    && literal(&rule.api_groups, &group)
                    && literal(&rule.resources, &resource)
            }),
            group,
            resource,
            names,
            verbs: verbs.into_iter().collect(),
        })
        .collect();
    found.extend(urls.into_iter().map(|(url, verbs)| Excess::NonResource {
        allowed: allowed_verbs(&|rule: &PolicyRule| {
            rule.non_resource_urls
                .iter()
                .any(|pattern| url_covers(pattern, &url))
        }),
        url,
        verbs: verbs.into_iter().collect(),
    }));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> Vec<Value> {
        vec![
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "reader"},
                "rules": [{"apiGroups": ["", "apps"], "resources": ["pods", "deployments"], "verbs": ["get", "list"]},
                          {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "leases", "namespace": "ops"},
                "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "reader"},
                "roleRef": {"kind": "ClusterRole", "name": "reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "ops"}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "leases", "namespace": "ops"},
                "roleRef": {"kind": "Role", "name": "leases"},
                "subjects": [{"kind": "ServiceAccount", "name": "bot"}]}),
            // A RoleBinding of a ClusterRole: its rules in that namespace only, no URLs.
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "team", "namespace": "team"},
                "roleRef": {"kind": "ClusterRole", "name": "reader"},
                "subjects": [{"kind": "Group", "name": "system:serviceaccounts:ops"}]}),
            // Someone else's binding.
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "other"},
                "roleRef": {"kind": "ClusterRole", "name": "reader"},
                "subjects": [{"kind": "User", "name": "alice"}]}),
        ]
    }

    #[test]
    fn bindings_resolve_per_namespace() {
        let objects = objects();
        let bot = UserInfo::service_account("ops", "bot");
        let cluster = rules_for(&objects, &bot, None);
        assert_eq!(cluster.len(), 2, "{cluster:?}");
        let ops = rules_for(&objects, &bot, Some("ops"));
        assert_eq!(ops.len(), 3);
        assert!(allows(
            &ops,
            "create",
            "coordination.k8s.io",
            "leases",
            None
        ));
        assert!(!allows(
            &cluster,
            "create",
            "coordination.k8s.io",
            "leases",
            None
        ));
        let team = rules_for(&objects, &bot, Some("team"));
        assert_eq!(
            team.len(),
            3,
            "the ClusterRole's resource rule once more, not its URL"
        );
        assert!(team.iter().filter(|rule| rule.is_non_resource()).count() == 1);
        assert!(allows_url(&cluster, "get", "/metrics"));
        assert!(!allows_url(&cluster, "get", "/debug"));
        let alice = UserInfo {
            name: "alice".into(),
            groups: vec![],
        };
        assert_eq!(rules_for(&objects, &alice, Some("ops")).len(), 2);
        let nobody = UserInfo::service_account("ops", "other");
        assert!(rules_for(&objects, &nobody, Some("ops")).is_empty());
    }

    #[test]
    fn allows_matches_wildcards_subresources_and_names() {
        let rules = vec![
            PolicyRule::resource(&["get"], &["*"], &["*/status"]),
            PolicyRule {
                resource_names: vec!["mine".into()],
                ..PolicyRule::resource(&["delete"], &[""], &["configmaps"])
            },
        ];
        assert!(allows(&rules, "get", "apps", "deployments/status", None));
        assert!(!allows(&rules, "get", "apps", "deployments", None));
        assert!(allows(&rules, "delete", "", "configmaps", Some("mine")));
        assert!(!allows(&rules, "delete", "", "configmaps", Some("yours")));
        assert!(!allows(&rules, "delete", "", "configmaps", None));
        assert!(allows(
            &everything(),
            "escalate",
            "rbac.authorization.k8s.io",
            "roles",
            None
        ));
    }

    #[test]
    fn excess_lists_each_grant_beyond_the_allowed_with_what_is_allowed() {
        let allowed = vec![
            PolicyRule::resource(
                &[
                    "get", "list", "watch", "create", "update", "patch", "delete",
                ],
                &["*"],
                &["*"],
            ),
            PolicyRule::resource(&["get", "list"], &["argoproj.io"], &["applications"]),
        ];
        assert!(excess(&allowed, &allowed).is_empty());
        assert!(excess(&[], &allowed).is_empty());
        let found = excess(&everything(), &allowed);
        assert_eq!(
            found,
            vec![
                Excess::Resource {
                    group: "*".into(),
                    resource: "*".into(),
                    names: vec![],
                    verbs: vec!["*".into()],
                    allowed: ["get", "list", "watch", "create", "update", "patch", "delete"]
                        .map(String::from)
                        .to_vec(),
                },
                Excess::NonResource {
                    url: "*".into(),
                    verbs: vec!["*".into()],
                    allowed: vec![],
                },
            ]
        );
        assert_eq!(
            found[0].to_string(),
            "`*` on every resource (`*`) in every API group (`*`); the install allows `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` there"
        );
        assert_eq!(
            found[1].to_string(),
            "`*` on the non-resource URL `*`; the install allows nothing there"
        );
        // More verbs on one resource; a narrower grant is covered.
        let granted = vec![
            PolicyRule::resource(
                &["get", "deletecollection", "escalate"],
                &["rbac.authorization.k8s.io"],
                &["roles"],
            ),
            PolicyRule::resource(&["get"], &["apps"], &["deployments"]),
        ];
        let found = excess(&granted, &allowed);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].to_string(),
            "`deletecollection`, `escalate` on `roles` in group `rbac.authorization.k8s.io`; the install allows `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` there"
        );
        // A grant on named objects is covered by a grant on all of them, not the reverse.
        let named = PolicyRule {
            resource_names: vec!["one".into()],
            ..PolicyRule::resource(&["update"], &[""], &["secrets"])
        };
        let narrow = [
            PolicyRule::resource(&["get"], &["x"], &["y"]),
            named.clone(),
        ];
        assert!(excess(std::slice::from_ref(&named), &allowed).is_empty());
        assert_eq!(
            excess(
                &[PolicyRule::resource(&["update"], &[""], &["secrets"])],
                &narrow
            )
            .len(),
            1
        );
        assert!(excess(&[named], &narrow).is_empty());
        // Discovery is every user's; other URLs are not.
        let defaults = authenticated_defaults();
        assert!(excess(&defaults, &defaults).is_empty());
        let found = excess(
            &[PolicyRule::non_resource(
                &["get"],
                &["/apis/apps", "/debug/pprof"],
            )],
            &defaults,
        );
        assert_eq!(
            found,
            vec![Excess::NonResource {
                url: "/debug/pprof".into(),
                verbs: vec!["get".into()],
                allowed: vec![],
            }]
        );
    }

    #[test]
    fn rules_round_trip_as_json() {
        for rule in everything().into_iter().chain(authenticated_defaults()) {
            assert_eq!(PolicyRule::from_json(&rule.to_json()), rule);
        }
    }
}
