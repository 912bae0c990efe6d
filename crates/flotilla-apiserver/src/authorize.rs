//! RBAC enforced in the request path: what a request asks for, in the terms Kubernetes'
//! authorizers see it (a verb on a resource of an API group, in a namespace or at the cluster
//! scope, maybe of one named object; or a verb on a non-resource URL), and the refusal when the
//! stored RBAC objects do not grant it.
//!
//! The attributes are read from the URL alone, before the resource is looked up, as
//! kube-apiserver does: a caller without the grant is refused with 403 whether or not the
//! resource exists, and nothing the request would do (a schemaless definition registered by
//! `--accept-unknown-kinds`, a token minted) happens first.
//!
//! Verbs: `get` on an object, `list` on a collection, `watch` for `/watch/…` paths and
//! `?watch=true` (on a collection, and on one object, which this server serves as a watch of
//! that object); `create` for POST, `update` for PUT, `patch` for PATCH, `delete` on an object
//! and `deletecollection` on a collection. A subresource is `plural/subresource`
//! (`applications/status`, `serviceaccounts/token`). A list or watch with the field selector
//! `metadata.name=NAME` is of the object NAME (so rules limited by `resourceNames` allow it).
//! Everything else under `/api` and `/apis` short of a resource (`/api/v1`, `/apis/apps/v1`)
//! and every other path is a non-resource URL, whose verb is the method in lower case.
//!
//! The refusal is worded as kube-apiserver words it, e.g. `deployments.apps "web" is
//! forbidden: User "system:serviceaccount:team:deployer" cannot patch resource "deployments"
//! in API group "apps" in the namespace "team"`, so clients and the people reading their
//! errors see what a real cluster would tell them.

use flotilla_core::rbac::{self, UserInfo};

use crate::error::ApiError;
use crate::go_text::quote;
use crate::rest::ApiState;

/// What a request asks to do, as an authorizer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestAttributes {
    /// A request for a resource (`/api/v1/…`, `/apis/GROUP/VERSION/…` beyond the version).
    Resource {
        verb: String,
        group: String,
        /// The plural, without the subresource.
        resource: String,
        subresource: Option<String>,
        /// None: a cluster-scoped resource, or a collection across all namespaces.
        namespace: Option<String>,
        name: Option<String>,
    },
    /// Any other path (`/version`, `/healthz`, `/apis`, `/api/v1`, `/openapi/v3`, …).
    NonResource { verb: String, path: String },
}

/// The parts of the query string that change what a request is authorized as.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueryAttributes<'a> {
    /// `watch=true` (or `1`).
    pub watch: bool,
    /// The `fieldSelector` parameter, as given.
    pub field_selector: Option<&'a str>,
}

impl RequestAttributes {
    /// The attributes of a request: its method (`GET`, `POST`, …), its path (as sent) and the
    /// path's non-empty segments, and what its query says.
    pub fn of(
        method: &str,
        path: &str,
        segments: &[&str],
        query: QueryAttributes<'_>,
    ) -> RequestAttributes {
        let non_resource = || RequestAttributes::NonResource {
            verb: method.to_ascii_lowercase(),
            path: path.to_string(),
        };
        let (group, rest) = match segments {
            ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
            ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
            _ => return non_resource(),
        };
        let mut verb = match method {
            "GET" | "HEAD" => "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => return non_resource(),
        }
        .to_string();
        let rest = match rest {
            ["watch", rest @ ..] if !rest.is_empty() => {
                verb = "watch".to_string();
                rest
            }
            _ => rest,
        };
        let mut namespace = None;
        let mut parts = rest;
        if let ["namespaces", name, after @ ..] = rest {
            namespace = Some(name.to_string());
            // `namespaces/NAME/status` and `namespaces/NAME/finalize` are subresources of the
            // Namespace NAME; anything else after the namespace is a resource in it.
            if let [first, ..] = after {
                if !matches!(*first, "status" | "finalize") {
                    parts = after;
                }
            }
        }
        let resource = parts.first().copied().unwrap_or_default().to_string();
        let mut name = parts.get(1).map(|name| name.to_string());
        let subresource = parts.get(2).map(|subresource| subresource.to_string());
        if name.is_none() {
            match verb.as_str() {
                "get" if query.watch => verb = "watch".to_string(),
                "get" => verb = "list".to_string(),
                "delete" => verb = "deletecollection".to_string(),
                _ => {}
            }
            if matches!(verb.as_str(), "list" | "watch") {
                name = query.field_selector.and_then(name_from_field_selector);
            }
        } else if verb == "get" && query.watch {
            verb = "watch".to_string();
        }
        RequestAttributes::Resource {
            verb,
            group: group.to_string(),
            resource,
            subresource,
            namespace,
            name,
        }
    }

    /// Whether `rules` (what the user holds where the request acts) allow this request.
    pub fn allowed_by(&self, rules: &[rbac::PolicyRule]) -> bool {
        match self {
            RequestAttributes::Resource {
                verb,
                group,
                resource,
                subresource,
                name,
                ..
            } => rbac::allows(
                rules,
                verb,
                group,
                &with_subresource(resource, subresource.as_deref()),
                name.as_deref(),
            ),
            RequestAttributes::NonResource { verb, path } => rbac::allows_url(rules, verb, path),
        }
    }

    /// The namespace whose RoleBindings count for this request (None: ClusterRoleBindings only).
    pub fn namespace(&self) -> Option<&str> {
        match self {
            RequestAttributes::Resource { namespace, .. } => namespace.as_deref(),
            RequestAttributes::NonResource { .. } => None,
        }
    }

    /// The refusal of this request for `user`, as kube-apiserver words and details it.
    pub fn forbidden(&self, user: &UserInfo) -> ApiError {
        let user_name = quote(&user.name);
        match self {
            RequestAttributes::Resource {
                verb,
                group,
                resource,
                subresource,
                namespace,
                name,
            } => {
                let what = with_subresource(resource, subresource.as_deref());
                let scope = match namespace {
                    Some(namespace) => format!("in the namespace {}", quote(namespace)),
                    None => "at the cluster scope".to_string(),
                };
                let reason = format!(
                    "User {user_name} cannot {verb} resource {} in API group {} {scope}",
                    quote(&what),
                    quote(group)
                );
                let qualified = if group.is_empty() {
                    resource.clone()
                } else {
                    format!("{resource}.{group}")
                };
                let message = match name {
                    Some(name) => format!("{qualified} {} is forbidden: {reason}", quote(name)),
                    None => format!("{qualified} is forbidden: {reason}"),
                };
                ApiError::Forbidden {
                    group: group.clone(),
                    resource: resource.clone(),
                    name: name.clone().unwrap_or_default(),
                    message,
                }
            }
            RequestAttributes::NonResource { verb, path } => ApiError::Forbidden {
                group: String::new(),
                resource: String::new(),
                name: String::new(),
                message: format!(
                    "forbidden: User {user_name} cannot {verb} path {}",
                    quote(path)
                ),
            },
        }
    }
}

/// A resource as RBAC rules name it: `plural` or `plural/subresource`.
fn with_subresource(resource: &str, subresource: Option<&str>) -> String {
    match subresource {
        Some(subresource) => format!("{resource}/{subresource}"),
        None => resource.to_string(),
    }
}

/// NAME when a field selector requires `metadata.name=NAME` (or `==`).
fn name_from_field_selector(selector: &str) -> Option<String> {
    selector.split(',').find_map(|term| {
        let value = term
            .trim()
            .strip_prefix("metadata.name")?
            .trim_start()
            .strip_prefix('=')?;
        let value = value.strip_prefix('=').unwrap_or(value).trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// Whether `user` is in `system:masters`, which may do everything without a rule looked up.
pub fn is_superuser(user: &UserInfo) -> bool {
    user.groups.iter().any(|group| group == "system:masters")
}

/// Refuses the request unless the RBAC objects the server stores grant it to `user`. Members
/// of `system:masters` (the admin) are never refused, and no rule is read for them.
pub fn authorize(
    state: &ApiState,
    user: &UserInfo,
    attributes: &RequestAttributes,
) -> Result<(), ApiError> {
    if is_superuser(user) {
        return Ok(());
    }
    let rules = crate::auth::rules(state, user, attributes.namespace());
    if attributes.allowed_by(&rules) {
        Ok(())
    } else {
        Err(attributes.forbidden(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(
        verb: &str,
        group: &str,
        resource: &str,
        subresource: Option<&str>,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> RequestAttributes {
        RequestAttributes::Resource {
            verb: verb.to_string(),
            group: group.to_string(),
            resource: resource.to_string(),
            subresource: subresource.map(str::to_string),
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
        }
    }

    fn of(method: &str, path_and_query: &str) -> RequestAttributes {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let pairs: Vec<(&str, &str)> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .collect();
        let value = |key: &str| pairs.iter().find(|(name, _)| *name == key).map(|(_, v)| *v);
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        RequestAttributes::of(
            method,
            path,
            &segments,
            QueryAttributes {
                watch: value("watch") == Some("true"),
                field_selector: value("fieldSelector"),
            },
        )
    }

    #[test]
    fn verbs_and_resources_are_read_from_the_method_and_path() {
        let cases = [
            (
                "GET",
                "/api/v1/namespaces/team/pods",
                resource("list", "", "pods", None, Some("team"), None),
            ),
            (
                "GET",
                "/api/v1/pods",
                resource("list", "", "pods", None, None, None),
            ),
            (
                "GET",
                "/api/v1/namespaces/team/pods?watch=true",
                resource("watch", "", "pods", None, Some("team"), None),
            ),
            (
                "GET",
                "/api/v1/watch/namespaces/team/pods",
                resource("watch", "", "pods", None, Some("team"), None),
            ),
            (
                "GET",
                "/api/v1/namespaces/team/pods/web",
                resource("get", "", "pods", None, Some("team"), Some("web")),
            ),
            (
                "GET",
                "/api/v1/namespaces/team/pods/web?watch=true",
                resource("watch", "", "pods", None, Some("team"), Some("web")),
            ),
            (
                "GET",
                "/api/v1/namespaces/team/pods?fieldSelector=metadata.name=web",
                resource("list", "", "pods", None, Some("team"), Some("web")),
            ),
            (
                "GET",
                "/api/v1/namespaces/team/pods?watch=true&fieldSelector=metadata.name==web",
                resource("watch", "", "pods", None, Some("team"), Some("web")),
            ),
            (
                "HEAD",
                "/apis/apps/v1/deployments",
                resource("list", "apps", "deployments", None, None, None),
            ),
            (
                "POST",
                "/apis/apps/v1/namespaces/team/deployments",
                resource("create", "apps", "deployments", None, Some("team"), None),
            ),
            (
                "PUT",
                "/apis/apps/v1/namespaces/team/deployments/web",
                resource(
                    "update",
                    "apps",
                    "deployments",
                    None,
                    Some("team"),
                    Some("web"),
                ),
            ),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/team/deployments/web",
                resource(
                    "patch",
                    "apps",
                    "deployments",
                    None,
                    Some("team"),
                    Some("web"),
                ),
            ),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/team/deployments/web/scale",
                resource(
                    "patch",
                    "apps",
                    "deployments",
                    Some("scale"),
                    Some("team"),
                    Some("web"),
                ),
            ),
            (
                "DELETE",
                "/apis/apps/v1/namespaces/team/deployments/web",
                resource(
                    "delete",
                    "apps",
                    "deployments",
                    None,
                    Some("team"),
                    Some("web"),
                ),
            ),
            (
                "DELETE",
                "/apis/apps/v1/namespaces/team/deployments",
                resource(
                    "deletecollection",
                    "apps",
                    "deployments",
                    None,
                    Some("team"),
                    None,
                ),
            ),
            (
                "PATCH",
                "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/guestbook/status",
                resource(
                    "patch",
                    "argoproj.io",
                    "applications",
                    Some("status"),
                    Some("argocd"),
                    Some("guestbook"),
                ),
            ),
            (
                "POST",
                "/api/v1/namespaces/flotilla/serviceaccounts/flotilla/token",
                resource(
                    "create",
                    "",
                    "serviceaccounts",
                    Some("token"),
                    Some("flotilla"),
                    Some("flotilla"),
                ),
            ),
            (
                "POST",
                "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                resource(
                    "create",
                    "authorization.k8s.io",
                    "selfsubjectrulesreviews",
                    None,
                    None,
                    None,
                ),
            ),
            // A Namespace is in itself; its status and finalize are its subresources.
            (
                "GET",
                "/api/v1/namespaces/team",
                resource("get", "", "namespaces", None, Some("team"), Some("team")),
            ),
            (
                "GET",
                "/api/v1/namespaces",
                resource("list", "", "namespaces", None, None, None),
            ),
            (
                "PUT",
                "/api/v1/namespaces/team/finalize",
                resource(
                    "update",
                    "",
                    "namespaces",
                    Some("finalize"),
                    Some("team"),
                    Some("team"),
                ),
            ),
            (
                "PATCH",
                "/api/v1/namespaces/team/status",
                resource(
                    "patch",
                    "",
                    "namespaces",
                    Some("status"),
                    Some("team"),
                    Some("team"),
                ),
            ),
            (
                "GET",
                "/apis/rbac.authorization.k8s.io/v1/clusterroles/view",
                resource(
                    "get",
                    "rbac.authorization.k8s.io",
                    "clusterroles",
                    None,
                    None,
                    Some("view"),
                ),
            ),
        ];
        for (method, path, expected) in cases {
            assert_eq!(of(method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn discovery_and_other_paths_are_non_resource_urls() {
        for (method, path, verb) in [
            ("GET", "/api", "get"),
            ("GET", "/api/v1", "get"),
            ("GET", "/apis", "get"),
            ("GET", "/apis/apps", "get"),
            ("GET", "/apis/apps/v1", "get"),
            ("GET", "/version", "get"),
            ("GET", "/healthz", "get"),
            ("GET", "/openapi/v3/apis/apps/v1", "get"),
            ("POST", "/metrics", "post"),
            ("OPTIONS", "/api/v1/pods", "options"),
        ] {
            assert_eq!(
                of(method, path),
                RequestAttributes::NonResource {
                    verb: verb.to_string(),
                    path: path.to_string()
                },
                "{method} {path}"
            );
        }
    }

    #[test]
    fn refusals_are_worded_as_kube_apiserver_words_them() {
        let account = UserInfo::service_account("flotilla", "flotilla-controller");
        let cases = [
            (
                resource("patch", "argoproj.io", "applications", Some("status"), Some("argocd"), Some("guestbook")),
                "applications.argoproj.io \"guestbook\" is forbidden: User \"system:serviceaccount:flotilla:flotilla-controller\" cannot patch resource \"applications/status\" in API group \"argoproj.io\" in the namespace \"argocd\"",
            ),
            (
                resource("list", "apps", "deployments", None, None, None),
                "deployments.apps is forbidden: User \"system:serviceaccount:flotilla:flotilla-controller\" cannot list resource \"deployments\" in API group \"apps\" at the cluster scope",
            ),
            (
                resource("get", "", "configmaps", None, Some("team"), Some("settings")),
                "configmaps \"settings\" is forbidden: User \"system:serviceaccount:flotilla:flotilla-controller\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"team\"",
            ),
            (
                RequestAttributes::NonResource { verb: "get".into(), path: "/metrics".into() },
                "forbidden: User \"system:serviceaccount:flotilla:flotilla-controller\" cannot get path \"/metrics\"",
            ),
        ];
        for (attributes, expected) in cases {
            let refusal = attributes.forbidden(&account);
            assert_eq!(refusal.to_string(), expected);
            assert_eq!(refusal.code(), 403);
            assert_eq!(refusal.reason(), "Forbidden");
        }
        let status = resource(
            "patch",
            "argoproj.io",
            "applications",
            Some("status"),
            Some("argocd"),
            Some("guestbook"),
        )
        .forbidden(&account)
        .to_status();
        assert_eq!(
            status["details"],
            serde_json::json!({"name": "guestbook", "group": "argoproj.io", "kind": "applications"})
        );
    }

    #[test]
    fn rules_decide_subresources_apart_from_their_resource() {
        let rules = vec![rbac::PolicyRule::from_json(&serde_json::json!({
            "verbs": ["get", "patch"], "apiGroups": ["argoproj.io"], "resources": ["applications"],
        }))];
        let main = resource(
            "patch",
            "argoproj.io",
            "applications",
            None,
            Some("argocd"),
            Some("guestbook"),
        );
        let status = resource(
            "patch",
            "argoproj.io",
            "applications",
            Some("status"),
            Some("argocd"),
            Some("guestbook"),
        );
        assert!(main.allowed_by(&rules));
        assert!(!status.allowed_by(&rules));
    }
}
