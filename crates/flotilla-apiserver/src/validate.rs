//! Unknown-field detection for built-in kinds (`fieldValidation=Warn|Strict`).
//!
//! A field is unknown when the kind's OpenAPI definition has `properties` at that level, does not
//! list the field, and has no `additionalProperties` (a map). Definitions come from the embedded
//! Kubernetes v1.21.2 document (`flotilla_patch::Schema::builtin()`), widened by
//! `LATER_FIELDS`: fields Kubernetes added to common kinds after v1.21 (this server reports
//! v1.33), so that valid newer manifests are not refused. A kind the document does not define,
//! or a level below a field it does not describe, is not checked.
//!
//! Invariant: checking never changes the object. kube-apiserver drops unknown fields of built-in
//! kinds; this server keeps them (its definitions are older than the version it reports, so a
//! field it does not know may be real) and only warns (`Warn`, kubectl's warning header) or
//! refuses the write (`Strict`, 400 `strict decoding error`).

use flotilla_patch::SchemaNode;
use serde_json::Value;

use crate::error::ApiError;
use crate::registry::ResourceType;

/// `fieldValidation` as a client asked for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    /// kube-apiserver's default.
    #[default]
    Warn,
    Strict,
}

/// Fields added after Kubernetes v1.21 to definitions of the embedded document, by definition
/// name. Only their names are known here; what is below them is not checked.
const LATER_FIELDS: &[(&str, &[&str])] = &[
    (
        "io.k8s.api.core.v1.PodSpec",
        &[
            "os",
            "hostUsers",
            "schedulingGates",
            "resourceClaims",
            "resources",
        ],
    ),
    (
        "io.k8s.api.core.v1.Container",
        &["resizePolicy", "restartPolicy"],
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        &["resizePolicy", "restartPolicy"],
    ),
    ("io.k8s.api.core.v1.Probe", &["grpc"]),
    ("io.k8s.api.core.v1.LifecycleHandler", &["sleep"]),
    ("io.k8s.api.core.v1.Handler", &["sleep"]),
    ("io.k8s.api.core.v1.SecurityContext", &["appArmorProfile"]),
    (
        "io.k8s.api.core.v1.PodSecurityContext",
        &[
            "appArmorProfile",
            "seLinuxChangePolicy",
            "supplementalGroupsPolicy",
        ],
    ),
    (
        "io.k8s.api.core.v1.TopologySpreadConstraint",
        &[
            "minDomains",
            "nodeAffinityPolicy",
            "nodeTaintsPolicy",
            "matchLabelKeys",
        ],
    ),
    ("io.k8s.api.core.v1.ServiceSpec", &["trafficDistribution"]),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimSpec",
        &["dataSourceRef", "volumeAttributesClassName"],
    ),
    ("io.k8s.api.core.v1.VolumeMount", &["recursiveReadOnly"]),
    ("io.k8s.api.core.v1.Volume", &["image"]),
    (
        "io.k8s.api.apps.v1.StatefulSetSpec",
        &[
            "persistentVolumeClaimRetentionPolicy",
            "ordinals",
            "minReadySeconds",
        ],
    ),
    (
        "io.k8s.api.batch.v1.JobSpec",
        &[
            "podFailurePolicy",
            "backoffLimitPerIndex",
            "maxFailedIndexes",
            "podReplacementPolicy",
            "successPolicy",
            "managedBy",
        ],
    ),
    ("io.k8s.api.batch.v1.CronJobSpec", &["timeZone"]),
    (
        "io.k8s.api.policy.v1.PodDisruptionBudgetSpec",
        &["unhealthyPodEvictionPolicy"],
    ),
    ("io.k8s.api.apps.v1.RollingUpdateDaemonSet", &["maxSurge"]),
];

/// The `fieldValidation` query parameter.
pub fn parse_field_validation(value: Option<&str>) -> Result<FieldValidation, ApiError> {
    match value {
        None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
        Some("Ignore") => Ok(FieldValidation::Ignore),
        Some("Strict") => Ok(FieldValidation::Strict),
        Some(other) => Err(ApiError::bad_request(format!(
            "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other}"
        ))),
    }
}

/// Checks what a client sent for a built-in kind: `Ok` with the warnings to send (`Warn`),
/// a 400 under `Strict` when a field is unknown, nothing for `Ignore`, CRDs and unknown kinds.
/// Keys beginning with `$` (strategic merge directives) are not fields.
pub fn check_builtin_fields(
    resource: &ResourceType,
    object: &Value,
    validation: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    if validation == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let Some(node) = resource.builtin_definition() else {
        return Ok(Vec::new());
    };
    let mut unknown = Vec::new();
    walk(node, object, &mut Vec::new(), &mut unknown);
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let messages: Vec<String> = unknown
        .iter()
        .map(|path| format!("unknown field \"{path}\""))
        .collect();
    match validation {
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            resource.kind,
            resource.version,
            resource.kind,
            messages.join(", ")
        ))),
        _ => Ok(messages),
    }
}

/// Deeper than any Kubernetes object; keeps a hostile body from exhausting the stack.
const MAX_DEPTH: usize = 64;

/// A step of the path to a field, written out only for an unknown field.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `spec.template.spec.containers[0].name`, as kube-apiserver names fields.
fn field_path(steps: &[Step<'_>]) -> String {
    let mut path = String::new();
    for step in steps {
        match step {
            Step::Key(key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Step::Index(index) => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
        }
    }
    path
}

fn walk<'a>(
    node: SchemaNode<'_>,
    value: &'a Value,
    steps: &mut Vec<Step<'a>>,
    unknown: &mut Vec<String>,
) {
    if steps.len() > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            let described = node.has_properties() && !node.has_additional_properties();
            for (key, child) in map {
                if key.starts_with('$') {
                    continue;
                }
                steps.push(Step::Key(key));
                match node.field(key) {
                    Some(child_node) => walk(child_node, child, steps, unknown),
                    None if described && !is_later_field(node, key) => {
                        unknown.push(field_path(steps))
                    }
                    None => {}
                }
                steps.pop();
            }
        }
        Value::Array(items) => {
            if let Some(elements) = node.elements() {
                for (index, item) in items.iter().enumerate() {
                    steps.push(Step::Index(index));
                    walk(elements, item, steps, unknown);
                    steps.pop();
                }
            }
        }
        _ => {}
    }
}

fn is_later_field(node: SchemaNode<'_>, key: &str) -> bool {
    let Some(definition) = node.definition_name() else {
        return false;
    };
    LATER_FIELDS
        .iter()
        .any(|(name, fields)| *name == definition && fields.contains(&key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment_type() -> ResourceType {
        crate::registry::builtin_types()
            .into_iter()
            .find(|resource| resource.kind == "Deployment")
            .expect("Deployment is built in")
    }

    #[test]
    fn unknown_fields_are_found_at_any_depth_with_kube_paths() {
        let object = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"any": "label"}, "colour": "blue"},
            "spec": {
                "replicas": 1, "replica": 2,
                "template": {"spec": {
                    "os": {"name": "linux"},
                    "containers": [{"name": "a", "image": "i"}, {"name": "b", "imag": "i",
                        "restartPolicy": "Always", "resources": {"limits": {"cpu": "1"}}}]
                }}
            }
        });
        let resource = deployment_type();
        let warnings = check_builtin_fields(&resource, &object, FieldValidation::Warn)
            .expect("Warn never refuses");
        assert_eq!(
            warnings,
            vec![
                "unknown field \"metadata.colour\"",
                "unknown field \"spec.replica\"",
                "unknown field \"spec.template.spec.containers[1].imag\"",
            ]
        );
        let refused = check_builtin_fields(&resource, &object, FieldValidation::Strict)
            .expect_err("Strict refuses");
        assert!(refused
            .to_string()
            .contains("strict decoding error: unknown field \"metadata.colour\""));
        assert!(
            check_builtin_fields(&resource, &object, FieldValidation::Ignore)
                .expect("Ignore")
                .is_empty()
        );
    }

    #[test]
    fn strategic_merge_directives_are_not_fields() {
        let patch = json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "a", "$patch": "delete"}]}}}});
        assert!(
            check_builtin_fields(&deployment_type(), &patch, FieldValidation::Strict)
                .expect("directives pass")
                .is_empty()
        );
    }

    #[test]
    fn parameter_values() {
        assert_eq!(
            parse_field_validation(None).expect("default"),
            FieldValidation::Warn
        );
        assert_eq!(
            parse_field_validation(Some("Strict")).expect("strict"),
            FieldValidation::Strict
        );
        assert!(parse_field_validation(Some("strict")).is_err());
    }
}
