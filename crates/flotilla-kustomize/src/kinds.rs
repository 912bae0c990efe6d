//! What kustomize knows about kinds without a cluster: which are cluster-scoped (from the
//! Kubernetes schema it embeds) and the legacy output order.

use crate::resource::{Gvk, ResId};

/// Cluster-scoped kinds of the Kubernetes API kustomize embeds, by group.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("authentication.k8s.io", "TokenReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("networking.k8s.io", "IngressClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("policy", "PodSecurityPolicy"),
    ("extensions", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "VolumeAttachment"),
];

pub fn is_cluster_scoped(gvk: &Gvk) -> bool {
    is_cluster_scoped_kind(&gvk.group, &gvk.kind)
}

/// `is_cluster_scoped` of a group and kind.
pub fn is_cluster_scoped_kind(group: &str, kind: &str) -> bool {
    CLUSTER_SCOPED
        .iter()
        .any(|(known_group, known_kind)| *known_kind == kind && *known_group == group)
}

/// Kinds written first, in this order, by the legacy sort.
const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds written last, in this order.
const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn kind_rank(kind: &str, first: Option<&[String]>, last: Option<&[String]>) -> i64 {
    let position_in = |list: Option<&[String]>, fallback: &[&str]| match list {
        Some(list) => list.iter().position(|k| k == kind).map(|p| (p, list.len())),
        None => fallback
            .iter()
            .position(|k| *k == kind)
            .map(|p| (p, fallback.len())),
    };
    if let Some((position, length)) = position_in(first, ORDER_FIRST) {
        return position as i64 - length as i64;
    }
    if let Some((position, _)) = position_in(last, ORDER_LAST) {
        return 1 + position as i64;
    }
    0
}

/// kyaml's `Gvk.String()`: `group_version_kind`, with `~G`, `~V`, `~K` for empty parts.
fn gvk_sort_string(gvk: &Gvk) -> String {
    let group = if gvk.group.is_empty() {
        "~G"
    } else {
        &gvk.group
    };
    let version = if gvk.version.is_empty() {
        "~V"
    } else {
        &gvk.version
    };
    let kind = if gvk.kind.is_empty() { "~K" } else { &gvk.kind };
    format!("{group}_{version}_{kind}")
}

/// kustomize's legacy order as a sort key: kind rank (its first and last lists, or custom
/// ones), then `group_version_kind`, then namespace and name.
pub fn legacy_sort_key(
    id: &ResId,
    first: Option<&[String]>,
    last: Option<&[String]>,
) -> (i64, String, String) {
    let gvk = gvk_sort_string(&id.gvk);
    // The namespace as written, `~X` when there is none (so it sorts after named ones).
    let namespace = if id.namespace.is_empty() {
        "~X"
    } else {
        &id.namespace
    };
    let full = format!("{gvk}|{namespace}|{}", id.name);
    (kind_rank(&id.gvk.kind, first, last), gvk, full)
}
