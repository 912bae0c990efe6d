//! Who a request comes from, and what the stored RBAC objects let it do.
//!
//! Identities: the server's own bearer token (and, over `--insecure-http`, a request without a
//! token) is the admin, `flotilla:admin` in `system:masters`, which may do everything as
//! kube-apiserver's superuser group may; ServiceAccount tokens minted by a TokenRequest
//! (`POST …/serviceaccounts/NAME/token`, what `kubectl create token` sends) are that
//! ServiceAccount. Minted tokens live as long as the server process and do not expire. The
//! admin may act as another user (`Impersonate-User`, `Impersonate-Group`: kubectl's `--as`);
//! other users need the `impersonate` verb for it.
//!
//! Authorization: what a user may do comes from the ClusterRoles, Roles and bindings the server
//! stores (`flotilla_core::rbac`), plus what every authenticated user holds on a conformant
//! cluster (discovery, health, its own reviews). Every request of a user outside
//! `system:masters` is checked against it and refused with 403 when not granted
//! (`crate::authorize`, worded as kube-apiserver words it); an impersonated user is checked as
//! that user. The server also answers `SelfSubjectRulesReview` and `SelfSubjectAccessReview`
//! (authorization.k8s.io/v1) from the same rules, so `kubectl auth can-i` and `flotilla
//! controller --strict-rbac` see what a real cluster would tell them.

use std::collections::HashMap;
use std::sync::Mutex;

use flotilla_core::rbac::{self, PolicyRule, UserInfo};
use serde_json::{json, Value};

use crate::authorize::RequestAttributes;
use crate::error::ApiError;
use crate::rest::ApiState;

/// The admin's user name.
pub const ADMIN: &str = "flotilla:admin";

/// The admin: everything, as `system:masters`.
pub fn admin() -> UserInfo {
    UserInfo {
        name: ADMIN.to_string(),
        groups: vec![
            "system:masters".to_string(),
            "system:authenticated".to_string(),
        ],
    }
}

/// The user a request acts as: the one named by `Impersonate-User` (and `Impersonate-Group`:
/// kubectl's `--as`, `--as-group`), else `user`. The admin may impersonate anyone; another user
/// needs the `impersonate` verb on the `users` (or, for `system:serviceaccount:NS:NAME`, the
/// `serviceaccounts` in NS) and `groups` it names, or the request is refused as kube-apiserver
/// refuses it.
pub fn impersonated(
    state: &ApiState,
    user: UserInfo,
    headers: &axum::http::HeaderMap,
) -> Result<UserInfo, ApiError> {
    let Some(name) = headers
        .get("impersonate-user")
        .and_then(|value| value.to_str().ok())
        .filter(|name| !name.is_empty())
    else {
        return Ok(user);
    };
    let account = name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'));
    let mut impersonated = match account {
        Some((namespace, account)) => UserInfo::service_account(namespace, account),
        None => UserInfo {
            name: name.to_string(),
            groups: vec!["system:authenticated".to_string()],
        },
    };
    let mut groups = Vec::new();
    for group in headers.get_all("impersonate-group") {
        if let Ok(group) = group.to_str() {
            groups.push(group.to_string());
            if !impersonated.groups.iter().any(|known| known == group) {
                impersonated.groups.push(group.to_string());
            }
        }
    }
    if crate::authorize::is_superuser(&user) {
        return Ok(impersonated);
    }
    let impersonation = |resource: &str, namespace: Option<&str>, name: &str| {
        crate::authorize::RequestAttributes::Resource {
            verb: "impersonate".to_string(),
            group: String::new(),
            resource: resource.to_string(),
            subresource: None,
            namespace: namespace.map(str::to_string),
            name: Some(name.to_string()),
        }
    };
    let mut asked = vec![match account {
        Some((namespace, account)) => impersonation("serviceaccounts", Some(namespace), account),
        None => impersonation("users", None, name),
    }];
    asked.extend(
        groups
            .iter()
            .map(|group| impersonation("groups", None, group)),
    );
    for attributes in &asked {
        crate::authorize::authorize(state, &user, attributes)?;
    }
    Ok(impersonated)
}

/// ServiceAccount tokens minted by TokenRequests.
#[derive(Default)]
pub struct Tokens {
    minted: Mutex<HashMap<String, UserInfo>>,
}

impl Tokens {
    /// The user a token names, if it was minted here.
    pub fn user(&self, token: &str) -> Option<UserInfo> {
        self.minted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(token)
            .cloned()
    }

    /// Answers a TokenRequest for the ServiceAccount `namespace/name` (which must exist).
    pub fn request(
        &self,
        state: &ApiState,
        namespace: &str,
        name: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        if state
            .store
            .get("/serviceaccounts", namespace, name)
            .is_none()
        {
            return Err(ApiError::not_found("", "serviceaccounts", name));
        }
        let seconds = body["spec"]["expirationSeconds"].as_u64().unwrap_or(3600);
        let token = crate::util::random_hex(32);
        self.minted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(token.clone(), UserInfo::service_account(namespace, name));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default();
        Ok(json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": null},
            "spec": {
                "audiences": body["spec"]["audiences"].as_array().cloned().unwrap_or_default(),
                "expirationSeconds": seconds,
                "boundObjectRef": body["spec"]["boundObjectRef"].clone(),
            },
            "status": {
                "token": token,
                "expirationTimestamp": flotilla_core::time::format_rfc3339(now + seconds),
            },
        }))
    }
}

/// The rules `user` holds in `namespace` (None: cluster-wide grants only).
pub fn rules(state: &ApiState, user: &UserInfo, namespace: Option<&str>) -> Vec<PolicyRule> {
    if crate::authorize::is_superuser(user) {
        return rbac::everything();
    }
    let mut objects = Vec::new();
    for plural in [
        "clusterroles",
        "clusterrolebindings",
        "roles",
        "rolebindings",
    ] {
        let (listed, _) = state
            .store
            .list(&format!("rbac.authorization.k8s.io/{plural}"), None);
        objects.extend(listed);
    }
    let mut rules = rbac::rules_for(objects.iter().map(|object| &**object), user, namespace);
    if user
        .groups
        .iter()
        .any(|group| group == "system:authenticated")
    {
        rules.extend(rbac::authenticated_defaults());
    }
    rules
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews`: the rules the caller holds in
/// `spec.namespace`.
pub fn rules_review(state: &ApiState, user: &UserInfo, body: &Value) -> Result<Value, ApiError> {
    let namespace = body["spec"]["namespace"]
        .as_str()
        .filter(|namespace| !namespace.is_empty());
    let rules = rules(state, user, namespace);
    let (non_resource, resource): (Vec<&PolicyRule>, Vec<&PolicyRule>) =
        rules.iter().partition(|rule| rule.is_non_resource());
    Ok(json!({
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {"namespace": namespace.unwrap_or("")},
        "status": {
            "resourceRules": resource.iter().map(|rule| rule.to_json()).collect::<Vec<_>>(),
            "nonResourceRules": non_resource.iter().map(|rule| rule.to_json()).collect::<Vec<_>>(),
            "incomplete": false,
        },
    }))
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`: whether the caller may do
/// what `spec.resourceAttributes` or `spec.nonResourceAttributes` say.
pub fn access_review(state: &ApiState, user: &UserInfo, body: &Value) -> Result<Value, ApiError> {
    let spec = &body["spec"];
    // The review is decided as a request with these attributes would be (`authorize`).
    let text = |attributes: &serde_json::Map<String, Value>, key: &str| {
        attributes
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let attributes = if let Some(attributes) = spec["resourceAttributes"].as_object() {
        let optional = |key: &str| Some(text(attributes, key)).filter(|value| !value.is_empty());
        RequestAttributes::Resource {
            verb: text(attributes, "verb"),
            group: text(attributes, "group"),
            resource: text(attributes, "resource"),
            subresource: optional("subresource"),
            namespace: optional("namespace"),
            name: optional("name"),
        }
    } else if let Some(attributes) = spec["nonResourceAttributes"].as_object() {
        RequestAttributes::NonResource {
            verb: text(attributes, "verb"),
            path: text(attributes, "path"),
        }
    } else {
        return Err(ApiError::bad_request(
            "spec: one of resourceAttributes and nonResourceAttributes is required",
        ));
    };
    let allowed = attributes.allowed_by(&rules(state, user, attributes.namespace()));
    let mut status = json!({"allowed": allowed});
    if allowed {
        status["reason"] = json!("allowed by the RBAC objects the embedded server stores");
    }
    Ok(json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": spec.clone(),
        "status": status,
    }))
}
