//! What kustomize knows about kinds without a cluster: which are cluster-scoped (from the
//! Kubernetes schema it embeds) and the legacy output order.

use std::cmp::Ordering;

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
    CLUSTER_SCOPED
        .iter()
        .any(|(group, kind)| *kind == gvk.kind && *group == gvk.group)
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

/// kustomize's legacy order of two resources, with optional custom first and last kind lists.
pub fn legacy_compare_with(
    a: &ResId,
    b: &ResId,
    first: Option<&[String]>,
    last: Option<&[String]>,
) -> Ordering {
    if a.gvk != b.gvk {
        let (rank_a, rank_b) = (
            kind_rank(&a.gvk.kind, first, last),
            kind_rank(&b.gvk.kind, first, last),
        );
        if rank_a != rank_b {
            return rank_a.cmp(&rank_b);
        }
        return gvk_sort_string(&a.gvk).cmp(&gvk_sort_string(&b.gvk));
    }
    let key = |id: &ResId| {
        let namespace = if id.gvk.is_cluster_scoped() {
            "_non_namespaceable_".to_string()
        } else if id.namespace.is_empty() || id.namespace == "default" {
            "default".to_string()
        } else {
            id.namespace.clone()
        };
        format!("{}|{}|{}", gvk_sort_string(&id.gvk), namespace, id.name)
    };
    key(a).cmp(&key(b))
}
