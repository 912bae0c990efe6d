//! The resource table: which group/version/resource the server serves, with scope, names,
//! categories, verbs and subresources. Built-in kinds come from a static table; CustomResourceDefinitions
//! add and remove entries at run time.

use std::sync::{Arc, RwLock};

use serde_json::Value;

/// One served resource in one version.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub has_status: bool,
    /// The storage version of a CRD (the version objects are kept in); built-ins have one version.
    pub storage_version: bool,
    /// The `openAPIV3Schema` of a CRD version, used for validation.
    pub schema: Option<Value>,
    /// Whether this entry comes from a CustomResourceDefinition.
    pub custom: bool,
    /// A CRD version's `additionalPrinterColumns` (name, type, jsonPath, priority) for tables.
    pub printer_columns: Vec<Value>,
}

/// The verbs every resource supports here.
pub const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The embedded Kubernetes OpenAPI definition of this kind; `None` for CRDs and for kinds
    /// the document does not define.
    pub fn builtin_definition(&self) -> Option<flotilla_patch::SchemaNode<'static>> {
        if self.custom {
            return None;
        }
        flotilla_patch::Schema::builtin().resource(&self.api_version(), &self.kind)
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// The key objects of this resource are stored under, shared by all its versions.
    pub fn storage_key(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    /// `plural.group`, the name used in error messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// (group, version, plural, kind, namespaced, short names, categories, status subresource)
type BuiltinRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    &'static [&'static str],
    bool,
);

const BUILTINS: &[BuiltinRow] = &[
    (
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        &["ns"],
        &[],
        true,
    ),
    ("", "v1", "pods", "Pod", true, &["po"], &["all"], true),
    (
        "",
        "v1",
        "services",
        "Service",
        true,
        &["svc"],
        &["all"],
        true,
    ),
    (
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        true,
        &["cm"],
        &[],
        false,
    ),
    ("", "v1", "secrets", "Secret", true, &[], &[], false),
    (
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        &["sa"],
        &[],
        false,
    ),
    (
        "",
        "v1",
        "endpoints",
        "Endpoints",
        true,
        &["ep"],
        &[],
        false,
    ),
    ("", "v1", "events", "Event", true, &["ev"], &[], false),
    (
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
        &["pvc"],
        &[],
        true,
    ),
    (
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        false,
        &["pv"],
        &[],
        true,
    ),
    ("", "v1", "nodes", "Node", false, &["no"], &[], true),
    (
        "",
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        true,
        &["rc"],
        &["all"],
        true,
    ),
    (
        "",
        "v1",
        "resourcequotas",
        "ResourceQuota",
        true,
        &["quota"],
        &[],
        true,
    ),
    (
        "",
        "v1",
        "limitranges",
        "LimitRange",
        true,
        &["limits"],
        &[],
        false,
    ),
    (
        "",
        "v1",
        "podtemplates",
        "PodTemplate",
        true,
        &[],
        &[],
        false,
    ),
    (
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        &["deploy"],
        &["all"],
        true,
    ),
    (
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        &["rs"],
        &["all"],
        true,
    ),
    (
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        &["sts"],
        &["all"],
        true,
    ),
    (
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        true,
        &["ds"],
        &["all"],
        true,
    ),
    (
        "apps",
        "v1",
        "controllerrevisions",
        "ControllerRevision",
        true,
        &[],
        &[],
        false,
    ),
    ("batch", "v1", "jobs", "Job", true, &[], &["all"], true),
    (
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        true,
        &["cj"],
        &["all"],
        true,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        &[],
        &[],
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        &[],
        &[],
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        &[],
        &[],
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        &[],
        &[],
        false,
    ),
    (
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        true,
        &["ing"],
        &[],
        true,
    ),
    (
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
        &["netpol"],
        &[],
        false,
    ),
    (
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "IngressClass",
        false,
        &[],
        &[],
        false,
    ),
    (
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        &["pdb"],
        &[],
        true,
    ),
    (
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        false,
        &["sc"],
        &[],
        false,
    ),
    (
        "storage.k8s.io",
        "v1",
        "csidrivers",
        "CSIDriver",
        false,
        &[],
        &[],
        false,
    ),
    (
        "storage.k8s.io",
        "v1",
        "csinodes",
        "CSINode",
        false,
        &[],
        &[],
        false,
    ),
    (
        "storage.k8s.io",
        "v1",
        "volumeattachments",
        "VolumeAttachment",
        false,
        &[],
        &[],
        true,
    ),
    (
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        &[],
        &[],
        false,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
        &["api-extensions"],
        true,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        false,
        &[],
        &["api-extensions"],
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        false,
        &[],
        &["api-extensions"],
        false,
    ),
    (
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
        &["hpa"],
        &["all"],
        true,
    ),
    (
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        true,
        &[],
        &[],
        false,
    ),
];

/// The built-in resource types.
pub fn builtin_types() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(
            |(group, version, plural, kind, namespaced, short_names, categories, has_status)| {
                ResourceType {
                    group: group.to_string(),
                    version: version.to_string(),
                    kind: kind.to_string(),
                    plural: plural.to_string(),
                    singular: kind.to_lowercase(),
                    namespaced: *namespaced,
                    short_names: short_names.iter().map(|name| name.to_string()).collect(),
                    categories: categories.iter().map(|name| name.to_string()).collect(),
                    has_status: *has_status,
                    storage_version: true,
                    schema: None,
                    custom: false,
                    printer_columns: Vec::new(),
                }
            },
        )
        .collect()
}

/// One API group with its versions, in the order discovery lists them (preferred first).
#[derive(Clone, Debug)]
pub struct GroupVersions {
    pub group: String,
    pub versions: Vec<String>,
}

/// The live resource table, shared between requests.
#[derive(Clone, Debug)]
pub struct Registry {
    types: Arc<RwLock<Vec<ResourceType>>>,
    /// The scale subresources custom resources declare: (group, version, plural, paths).
    custom_scales: Arc<RwLock<Vec<CustomScale>>>,
}

/// A custom resource version's `subresources.scale`: (group, version, plural, paths).
type CustomScale = (String, String, String, crate::scale::ScalePaths);

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        Registry {
            types: Arc::new(RwLock::new(builtin_types())),
            custom_scales: Arc::default(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<ResourceType>> {
        self.types
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<ResourceType>> {
        self.types
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn all(&self) -> Vec<ResourceType> {
        self.read().clone()
    }

    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.read()
            .iter()
            .find(|entry| {
                entry.group == group && entry.version == version && entry.plural == plural
            })
            .cloned()
    }

    /// The resource for a kind in a group/version (used to find the type of an object body).
    pub fn lookup_kind(&self, group: &str, version: &str, kind: &str) -> Option<ResourceType> {
        self.read()
            .iter()
            .find(|entry| entry.group == group && entry.version == version && entry.kind == kind)
            .cloned()
    }

    /// Whether any version of `group` is served.
    pub fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.read()
            .iter()
            .any(|entry| entry.group == group && entry.version == version)
    }

    /// Groups in first-seen order, each with its versions; the core group is left out.
    pub fn groups(&self) -> Vec<GroupVersions> {
        let mut groups: Vec<GroupVersions> = Vec::new();
        for entry in self.read().iter().filter(|entry| !entry.group.is_empty()) {
            match groups.iter_mut().find(|known| known.group == entry.group) {
                Some(known) => {
                    if !known.versions.contains(&entry.version) {
                        known.versions.push(entry.version.clone());
                    }
                }
                None => groups.push(GroupVersions {
                    group: entry.group.clone(),
                    versions: vec![entry.version.clone()],
                }),
            }
        }
        groups
    }

    pub fn resources_in(&self, group: &str, version: &str) -> Vec<ResourceType> {
        self.read()
            .iter()
            .filter(|entry| entry.group == group && entry.version == version)
            .cloned()
            .collect()
    }

    /// Adds resource types served like built-in kinds (the OpenShift APIs), replacing entries of
    /// the same group, version and plural.
    pub fn add_builtins(&self, entries: Vec<ResourceType>) {
        let mut types = self.write();
        types.retain(|known| {
            !entries.iter().any(|entry| {
                entry.group == known.group
                    && entry.version == known.version
                    && entry.plural == known.plural
            })
        });
        types.extend(entries);
    }

    /// Replaces the entries of one custom resource (`group`, `plural`) with `entries`.
    pub fn set_custom(&self, group: &str, plural: &str, entries: Vec<ResourceType>) {
        let mut types = self.write();
        types.retain(|entry| !(entry.custom && entry.group == group && entry.plural == plural));
        types.extend(entries);
    }

    pub fn remove_custom(&self, group: &str, plural: &str) {
        self.write()
            .retain(|entry| !(entry.custom && entry.group == group && entry.plural == plural));
        self.set_custom_scales(group, plural, Vec::new());
    }

    /// Where `resource`'s scale subresource reads and writes replicas; `None` when it has none.
    pub fn scale(&self, resource: &ResourceType) -> Option<crate::scale::ScalePaths> {
        if !resource.custom {
            return crate::scale::builtin_paths(&resource.group, &resource.plural);
        }
        self.custom_scales
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .find(|(group, version, plural, _)| {
                *group == resource.group
                    && *version == resource.version
                    && *plural == resource.plural
            })
            .map(|(_, _, _, paths)| paths.clone())
    }

    /// Replaces the scale subresources of one custom resource (`group`, `plural`) with
    /// `scales`, one per version that declares one.
    pub fn set_custom_scales(
        &self,
        group: &str,
        plural: &str,
        scales: Vec<(String, crate::scale::ScalePaths)>,
    ) {
        let mut known = self
            .custom_scales
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known.retain(|(known_group, _, known_plural, _)| {
            !(known_group == group && known_plural == plural)
        });
        known.extend(
            scales
                .into_iter()
                .map(|(version, paths)| (group.to_string(), version, plural.to_string(), paths)),
        );
    }
}
