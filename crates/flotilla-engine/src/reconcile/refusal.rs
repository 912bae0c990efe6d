//! A sync the API server refused for want of RBAC, said as a `SyncError` condition.
//!
//! When the controller's ServiceAccount lacks a verb, kube-apiserver answers 403 with a message
//! of one shape: `deployments.apps "api" is forbidden: User "system:serviceaccount:flotilla:
//! flotilla" cannot patch resource "deployments" in API group "apps" in the namespace "fleet"`.
//! The failed operation keeps that message on the resource it is about
//! (`status.operationState.syncResult.resources[].message`), as Argo CD does; this module adds,
//! while the Application is not in sync, a `SyncError` condition per refusal that quotes the
//! server's message verbatim and says what to do: grant that verb to that user in the
//! controller's ClusterRole, or in a Role bound in that namespace. Other 403s (an admission
//! webhook, Pod Security) have other shapes and get no RBAC advice.

use serde_json::Value;

use crate::status::condition;

/// What an RBAC refusal names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The server's message, verbatim.
    pub message: String,
    pub user: String,
    pub verb: String,
    /// `plural` or `plural/subresource`.
    pub resource: String,
    pub group: String,
    /// None: at the cluster scope.
    pub namespace: Option<String>,
}

impl Refusal {
    /// The refusal a message of kube-apiserver's RBAC shape states, if it is one.
    pub fn parse(message: &str) -> Option<Refusal> {
        let (_, rest) = message.split_once(" is forbidden: User \"")?;
        let (user, rest) = rest.split_once("\" cannot ")?;
        let (verb, rest) = rest.split_once(" resource \"")?;
        let (resource, rest) = rest.split_once("\" in API group \"")?;
        let (group, rest) = rest.split_once('"')?;
        let namespace = match rest.trim_start() {
            scope if scope.starts_with("at the cluster scope") => None,
            scope => Some(
                scope
                    .strip_prefix("in the namespace \"")?
                    .split_once('"')?
                    .0
                    .to_string(),
            ),
        };
        if verb.is_empty() || verb.contains(' ') || resource.is_empty() {
            return None;
        }
        Some(Refusal {
            message: message.to_string(),
            user: user.to_string(),
            verb: verb.to_string(),
            resource: resource.to_string(),
            group: group.to_string(),
            namespace,
        })
    }

    /// The condition's message: the server's words, then what to grant and where.
    pub fn advice(&self) -> String {
        let group = if self.group.is_empty() {
            "the core API group (`\"\"`)".to_string()
        } else {
            format!("API group `{}`", self.group)
        };
        let place = match &self.namespace {
            Some(namespace) => format!(
                "the controller's ClusterRole (or a Role bound to it in namespace `{namespace}`)"
            ),
            None => "the controller's ClusterRole".to_string(),
        };
        format!(
            "the API server refused the sync for want of RBAC: {}; grant `{}` on `{}` in {group} to `{}` in {place}, then sync again",
            self.message, self.verb, self.resource, self.user
        )
    }
}

/// `SyncError` conditions for the RBAC refusals of the last operation (`operation_state`),
/// one per distinct refusal, when it failed and the Application is still out of sync.
pub(crate) fn conditions(operation_state: Option<&Value>, in_sync: bool) -> Vec<Value> {
    let Some(state) = operation_state else {
        return Vec::new();
    };
    if in_sync || !matches!(state["phase"].as_str(), Some("Failed" | "Error")) {
        return Vec::new();
    }
    let mut refusals: Vec<Refusal> = Vec::new();
    let messages = state["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|resource| resource["message"].as_str());
    for message in messages {
        if let Some(refusal) = Refusal::parse(message) {
            if !refusals.contains(&refusal) {
                refusals.push(refusal);
            }
        }
    }
    refusals
        .iter()
        .map(|refusal| condition("SyncError", refusal.advice()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kube_apiserver_refusals_are_read() {
        let cases = [
            (
                "deployments.apps \"api\" is forbidden: User \"system:serviceaccount:flotilla:flotilla\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"fleet\"",
                Some(("system:serviceaccount:flotilla:flotilla", "patch", "deployments", "apps", Some("fleet"))),
            ),
            (
                "clusterroles.rbac.authorization.k8s.io \"view\" is forbidden: User \"alice\" cannot delete resource \"clusterroles\" in API group \"rbac.authorization.k8s.io\" at the cluster scope",
                Some(("alice", "delete", "clusterroles", "rbac.authorization.k8s.io", None)),
            ),
            (
                "applications.argoproj.io \"guestbook\" is forbidden: User \"bob\" cannot patch resource \"applications/status\" in API group \"argoproj.io\" in the namespace \"argocd\"",
                Some(("bob", "patch", "applications/status", "argoproj.io", Some("argocd"))),
            ),
            (
                "configmaps is forbidden: User \"bob\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"team\"",
                Some(("bob", "list", "configmaps", "", Some("team"))),
            ),
            // Not RBAC: no advice.
            ("pods \"web\" is forbidden: violates PodSecurity \"restricted:latest\": privileged", None),
            ("admission webhook \"policy.example.com\" denied the request: no", None),
        ];
        for (message, expected) in cases {
            let parsed = Refusal::parse(message).map(|refusal| {
                (
                    refusal.user,
                    refusal.verb,
                    refusal.resource,
                    refusal.group,
                    refusal.namespace,
                )
            });
            let expected = expected.map(|(user, verb, resource, group, namespace)| {
                (
                    user.to_string(),
                    verb.to_string(),
                    resource.to_string(),
                    group.to_string(),
                    namespace.map(str::to_string),
                )
            });
            assert_eq!(parsed, expected, "{message}");
        }
    }

    #[test]
    fn a_failed_operation_refused_by_rbac_is_a_sync_error_while_out_of_sync() {
        let refused = "deployments.apps \"api\" is forbidden: User \"system:serviceaccount:flotilla:flotilla\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"fleet\"";
        let state = json!({
            "phase": "Failed",
            "message": format!("one or more objects failed to apply, reason: deployment.apps/api: {refused}"),
            "syncResult": {"resources": [
                {"kind": "Deployment", "name": "api", "status": "SyncFailed", "message": refused},
                {"kind": "ConfigMap", "name": "settings", "status": "Synced", "message": "configmap/settings created"},
            ]},
        });
        let found = conditions(Some(&state), false);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0]["type"], "SyncError");
        assert_eq!(
            found[0]["message"],
            format!("the API server refused the sync for want of RBAC: {refused}; grant `patch` on `deployments` in API group `apps` to `system:serviceaccount:flotilla:flotilla` in the controller's ClusterRole (or a Role bound to it in namespace `fleet`), then sync again")
        );
        assert!(conditions(Some(&state), true).is_empty(), "in sync");
        let succeeded = json!({"phase": "Succeeded", "syncResult": state["syncResult"].clone()});
        assert!(conditions(Some(&succeeded), false).is_empty());
        assert!(conditions(None, false).is_empty());
    }
}
