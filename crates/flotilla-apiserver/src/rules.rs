//! What kube-apiserver's validation (`k8s.io/kubernetes/pkg/apis/*/validation`) refuses in the
//! common built-in kinds once an object has decoded: 422 Invalid, each cause with kube's field
//! path and words (`Deployment.apps "web" is invalid: spec.template.spec.containers[0].image:
//! Required value`).
//!
//! Checked, as kube checks them (missing fields read as kube's defaults would fill them):
//! - pod specs (Pods, PodTemplates, and the templates of Deployments, ReplicaSets, DaemonSets,
//!   Jobs and CronJobs; not StatefulSets, whose pod template kube does not validate): at least
//!   one container; each container and init container has a name that is a DNS-1123 label,
//!   unique among them, and an image; container ports have a `containerPort` and a `hostPort`
//!   within 1–65535, valid unique names and a known protocol; a known `restartPolicy`;
//! - Deployments, ReplicaSets, StatefulSets (apps): `replicas` and `minReadySeconds` not
//!   negative, a `selector`, not empty, that matches the template's labels, `restartPolicy`
//!   Always, no `activeDeadlineSeconds`; Deployments' `progressDeadlineSeconds` above
//!   `minReadySeconds`; DaemonSets: a selector that matches, not empty;
//! - Jobs (and CronJobs' job templates): `restartPolicy` OnFailure or Never; CronJobs: a
//!   `schedule`;
//! - Services: ports (unless headless or ExternalName), each `port` (and an int `targetPort`)
//!   within 1–65535, a named `targetPort` a valid port name, names required when there are
//!   several, valid and unique, a known protocol.
//!
//! Not checked (kube refuses these, flotilla stores them): label and annotation syntax, selector
//! operators and values, immutable fields on update (`spec.selector` of apps kinds), volume
//! mounts naming missing volumes, probes, resources, environment variable names, and the many
//! rarer rules of other kinds. Status writes are not checked (kube validates only the status
//! then).

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::{ApiError, StatusCause};
use crate::go_text;
use crate::registry::ResourceType;
use crate::util;

/// Checks a create or an update of the main resource; `name` is the object's.
pub fn check(resource: &ResourceType, name: &str, object: &Value) -> Result<(), ApiError> {
    if resource.custom {
        return Ok(());
    }
    let mut errors = Errors::default();
    let spec = &object["spec"];
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("", "Pod") => pod_spec(spec, "spec", &mut errors),
        ("", "PodTemplate") => pod_spec(&object["template"]["spec"], "template.spec", &mut errors),
        ("", "Service") => service_spec(spec, &mut errors),
        ("apps", "Deployment") => deployment_spec(spec, &mut errors),
        ("apps", "ReplicaSet") => replica_set_spec(spec, &mut errors),
        ("apps", "StatefulSet") => stateful_set_spec(spec, &mut errors),
        ("apps", "DaemonSet") => daemon_set_spec(spec, &mut errors),
        ("batch", "Job") => job_spec(spec, "spec", &mut errors),
        ("batch", "CronJob") => {
            if text(spec, "schedule").is_empty() {
                errors.required("spec.schedule", "");
            }
            job_spec(
                &spec["jobTemplate"]["spec"],
                "spec.jobTemplate.spec",
                &mut errors,
            );
        }
        _ => {}
    }
    if errors.causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::Invalid {
        group: resource.group.clone(),
        kind: resource.kind.clone(),
        name: name.to_string(),
        causes: errors.causes,
    })
}

/// A `field.ErrorList`: causes in kube's words.
#[derive(Default)]
struct Errors {
    causes: Vec<StatusCause>,
}

impl Errors {
    fn push(&mut self, reason: &str, field: &str, message: String) {
        self.causes.push(StatusCause {
            reason: reason.to_string(),
            message,
            field: field.to_string(),
        });
    }

    fn required(&mut self, field: &str, detail: &str) {
        let message = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        self.push("FieldValueRequired", field, message);
    }

    /// `shown` is the bad value as Go's `%v`/`%q`/`%#v` prints it.
    fn invalid(&mut self, field: &str, shown: &str, detail: &str) {
        self.push(
            "FieldValueInvalid",
            field,
            format!("Invalid value: {shown}: {detail}"),
        );
    }

    fn duplicate(&mut self, field: &str, value: &str) {
        self.push(
            "FieldValueDuplicate",
            field,
            format!("Duplicate value: {}", go_text::quote(value)),
        );
    }

    fn not_supported(&mut self, field: &str, value: &str, supported: &[&str]) {
        let supported: Vec<String> = supported
            .iter()
            .map(|value| go_text::quote(value))
            .collect();
        self.push(
            "FieldValueNotSupported",
            field,
            format!(
                "Unsupported value: {}: supported values: {}",
                go_text::quote(value),
                supported.join(", ")
            ),
        );
    }

    fn forbidden(&mut self, field: &str, detail: &str) {
        self.push("FieldValueForbidden", field, format!("Forbidden: {detail}"));
    }

    fn non_negative(&mut self, object: &Value, key: &str, field: &str) {
        if let Some(value) = object.get(key).and_then(Value::as_i64) {
            if value < 0 {
                self.invalid(
                    field,
                    &value.to_string(),
                    "must be greater than or equal to 0",
                );
            }
        }
    }

    fn port_number(&mut self, field: &str, port: i64) {
        if !(1..=65535).contains(&port) {
            self.invalid(
                field,
                &port.to_string(),
                "must be between 1 and 65535, inclusive",
            );
        }
    }
}

/// A string field, `""` when absent (kube's zero value).
fn text<'a>(object: &'a Value, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or("")
}

fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or(&[])
}

const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];

/// `ValidatePodSpec`, the parts listed in the module documentation.
fn pod_spec(spec: &Value, path: &str, errors: &mut Errors) {
    let containers = items(&spec["containers"]);
    if containers.is_empty() {
        errors.required(&format!("{path}.containers"), "");
    }
    let mut names: HashSet<&str> = HashSet::new();
    for (index, container) in containers.iter().enumerate() {
        let container_path = format!("{path}.containers[{index}]");
        container_common(container, &container_path, errors);
        let name = text(container, "name");
        if !names.insert(name) {
            errors.duplicate(&format!("{container_path}.name"), name);
        }
    }
    for (index, container) in items(&spec["initContainers"]).iter().enumerate() {
        let container_path = format!("{path}.initContainers[{index}]");
        container_common(container, &container_path, errors);
        let name = text(container, "name");
        if names.contains(name) {
            errors.duplicate(&format!("{container_path}.name"), name);
        } else if !name.is_empty() {
            names.insert(name);
        }
    }
    let restart_policy = text(spec, "restartPolicy");
    if !restart_policy.is_empty() && !RESTART_POLICIES.contains(&restart_policy) {
        errors.not_supported(
            &format!("{path}.restartPolicy"),
            restart_policy,
            &RESTART_POLICIES,
        );
    }
}

/// `validateContainerCommon`: name, image, ports.
fn container_common(container: &Value, path: &str, errors: &mut Errors) {
    let name = text(container, "name");
    if name.is_empty() {
        errors.required(&format!("{path}.name"), "");
    } else if let Some(problem) = util::dns_label_problem(name) {
        errors.invalid(&format!("{path}.name"), &go_text::quote(name), &problem);
    }
    if text(container, "image").is_empty() {
        errors.required(&format!("{path}.image"), "");
    }
    let mut port_names: HashSet<&str> = HashSet::new();
    for (index, port) in items(&container["ports"]).iter().enumerate() {
        let port_path = format!("{path}.ports[{index}]");
        let port_name = text(port, "name");
        if !port_name.is_empty() {
            let problems = port_name_problems(port_name);
            if !problems.is_empty() {
                for problem in problems {
                    errors.invalid(
                        &format!("{port_path}.name"),
                        &go_text::quote(port_name),
                        problem,
                    );
                }
            } else if !port_names.insert(port_name) {
                errors.duplicate(&format!("{port_path}.name"), port_name);
            }
        }
        match port
            .get("containerPort")
            .and_then(Value::as_i64)
            .unwrap_or(0)
        {
            0 => errors.required(&format!("{port_path}.containerPort"), ""),
            number => errors.port_number(&format!("{port_path}.containerPort"), number),
        }
        if let Some(host_port) = port.get("hostPort").and_then(Value::as_i64) {
            if host_port != 0 {
                errors.port_number(&format!("{port_path}.hostPort"), host_port);
            }
        }
        protocol(port, &port_path, errors);
    }
}

const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];

/// A port's `protocol`: TCP when absent (kube's default), else one of `PROTOCOLS`.
fn protocol(port: &Value, port_path: &str, errors: &mut Errors) {
    let protocol = text(port, "protocol");
    if !protocol.is_empty() && !PROTOCOLS.contains(&protocol) {
        errors.not_supported(&format!("{port_path}.protocol"), protocol, &PROTOCOLS);
    }
}

/// `validation.IsValidPortName`.
fn port_name_problems(name: &str) -> Vec<&'static str> {
    let mut problems = Vec::new();
    if name.len() > 15 {
        problems.push("must be no more than 15 characters");
    }
    let charset = name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if !charset {
        problems.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    } else if !name.bytes().any(|byte| byte.is_ascii_lowercase()) {
        problems.push("must contain at least one letter (a-z)");
    }
    if name.contains("--") {
        problems.push("must not contain consecutive hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        problems.push("must not begin or end with a hyphen");
    }
    problems
}

/// A `spec.selector` as `metav1.LabelSelectorAsSelector` reads it.
enum Selector<'a> {
    /// Absent: matches nothing (`labels.Nothing()`).
    Nothing,
    /// No requirements: matches everything, and is "empty".
    Everything,
    /// Requirements that can be evaluated.
    Requirements(&'a Value),
    /// An operator or values kube would refuse: not evaluated here.
    Unreadable,
}

fn read_selector(selector: &Value) -> Selector<'_> {
    let Some(map) = selector.as_object() else {
        return Selector::Nothing;
    };
    let labels = map.get("matchLabels").and_then(Value::as_object);
    let expressions = map
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if labels.is_none_or(Map::is_empty) && expressions.is_empty() {
        return Selector::Everything;
    }
    let readable = expressions.iter().all(|expression| {
        let values = items(&expression["values"]);
        match text(expression, "operator") {
            "In" | "NotIn" => !values.is_empty(),
            "Exists" | "DoesNotExist" => values.is_empty(),
            _ => false,
        }
    });
    if readable {
        Selector::Requirements(selector)
    } else {
        Selector::Unreadable
    }
}

/// Whether `labels` satisfy every requirement of a readable selector.
fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let label = |key: &str| {
        labels
            .and_then(|labels| labels.get(key))
            .and_then(Value::as_str)
    };
    let match_labels = selector["matchLabels"].as_object().is_none_or(|wanted| {
        wanted
            .iter()
            .all(|(key, value)| label(key).is_some() && label(key) == value.as_str())
    });
    match_labels
        && items(&selector["matchExpressions"])
            .iter()
            .all(|expression| {
                let key = text(expression, "key");
                let mut values = items(&expression["values"])
                    .iter()
                    .filter_map(Value::as_str);
                match (text(expression, "operator"), label(key)) {
                    ("In", Some(found)) => values.any(|value| value == found),
                    ("In", None) => false,
                    ("NotIn", Some(found)) => !values.any(|value| value == found),
                    ("NotIn", None) => true,
                    ("Exists", found) => found.is_some(),
                    ("DoesNotExist", found) => found.is_none(),
                    _ => false,
                }
            })
}

/// `%#v` of an empty `metav1.LabelSelector`, as the "empty selector" message prints it.
fn empty_selector_text(selector: &Value) -> String {
    let labels = if selector.get("matchLabels").is_some_and(Value::is_object) {
        "map[string]string{}"
    } else {
        "map[string]string(nil)"
    };
    let expressions = if selector
        .get("matchExpressions")
        .is_some_and(Value::is_array)
    {
        "[]v1.LabelSelectorRequirement{}"
    } else {
        "[]v1.LabelSelectorRequirement(nil)"
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{expressions}}}")
}

/// The required, non-empty selector of Deployments, ReplicaSets and StatefulSets; the selector
/// as read, for the template check.
fn required_selector<'a>(spec: &'a Value, kind_word: &str, errors: &mut Errors) -> Selector<'a> {
    let selector = &spec["selector"];
    let read = read_selector(selector);
    match read {
        Selector::Nothing => errors.required("spec.selector", ""),
        Selector::Everything => errors.invalid(
            "spec.selector",
            &empty_selector_text(selector),
            &format!("empty selector is invalid for {kind_word}"),
        ),
        _ => {}
    }
    read
}

/// The template's labels must satisfy the selector (unless it is empty or unreadable).
fn template_labels_match(selector: &Selector<'_>, template: &Value, errors: &mut Errors) {
    let labels = template["metadata"]["labels"].as_object();
    let matches = match selector {
        Selector::Nothing => false,
        Selector::Everything | Selector::Unreadable => true,
        Selector::Requirements(selector) => selector_matches(selector, labels),
    };
    if !matches {
        errors.invalid(
            "spec.template.metadata.labels",
            &go_text::string_map(labels),
            "`selector` does not match template `labels`",
        );
    }
}

/// Workload pod templates run with `restartPolicy: Always` (the default) and no deadline.
fn always_restarts(template: &Value, kind_word: &str, errors: &mut Errors) {
    let spec = &template["spec"];
    let restart_policy = text(spec, "restartPolicy");
    if !restart_policy.is_empty() && restart_policy != "Always" {
        errors.not_supported(
            "spec.template.spec.restartPolicy",
            restart_policy,
            &["Always"],
        );
    }
    if spec
        .get("activeDeadlineSeconds")
        .is_some_and(|value| !value.is_null())
    {
        errors.forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            &format!("activeDeadlineSeconds in {kind_word} is not Supported"),
        );
    }
}

/// `ValidatePodTemplateSpecForReplicaSet`.
fn replica_set_template(selector: &Selector<'_>, spec: &Value, errors: &mut Errors) {
    let template = &spec["template"];
    template_labels_match(selector, template, errors);
    pod_spec(&template["spec"], "spec.template.spec", errors);
    always_restarts(template, "ReplicaSet", errors);
}

fn deployment_spec(spec: &Value, errors: &mut Errors) {
    errors.non_negative(spec, "replicas", "spec.replicas");
    let selector = required_selector(spec, "deployment", errors);
    replica_set_template(&selector, spec, errors);
    errors.non_negative(spec, "minReadySeconds", "spec.minReadySeconds");
    errors.non_negative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit");
    if let Some(deadline) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
        errors.non_negative(
            spec,
            "progressDeadlineSeconds",
            "spec.progressDeadlineSeconds",
        );
        let min_ready = spec
            .get("minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if deadline <= min_ready {
            errors.invalid(
                "spec.progressDeadlineSeconds",
                &deadline.to_string(),
                "must be greater than minReadySeconds",
            );
        }
    }
}

fn replica_set_spec(spec: &Value, errors: &mut Errors) {
    errors.non_negative(spec, "replicas", "spec.replicas");
    errors.non_negative(spec, "minReadySeconds", "spec.minReadySeconds");
    // kube's words for ReplicaSets say "deployment" too.
    let selector = required_selector(spec, "deployment", errors);
    replica_set_template(&selector, spec, errors);
}

fn stateful_set_spec(spec: &Value, errors: &mut Errors) {
    errors.non_negative(spec, "replicas", "spec.replicas");
    errors.non_negative(spec, "minReadySeconds", "spec.minReadySeconds");
    let selector = required_selector(spec, "statefulset", errors);
    let template = &spec["template"];
    template_labels_match(&selector, template, errors);
    always_restarts(template, "StatefulSet", errors);
}

fn daemon_set_spec(spec: &Value, errors: &mut Errors) {
    let selector_value = &spec["selector"];
    let selector = read_selector(selector_value);
    let template = &spec["template"];
    template_labels_match(&selector, template, errors);
    if matches!(selector, Selector::Everything) {
        errors.invalid(
            "spec.selector",
            &empty_selector_text(selector_value),
            "empty selector is invalid for daemonset",
        );
    }
    pod_spec(&template["spec"], "spec.template.spec", errors);
    always_restarts(template, "DaemonSet", errors);
    errors.non_negative(spec, "minReadySeconds", "spec.minReadySeconds");
    errors.non_negative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit");
}

/// `validateJobSpec`: the pod template, which must not restart always.
fn job_spec(spec: &Value, path: &str, errors: &mut Errors) {
    let template_spec = &spec["template"]["spec"];
    pod_spec(template_spec, &format!("{path}.template.spec"), errors);
    let restart_policy = text(template_spec, "restartPolicy");
    let field = format!("{path}.template.spec.restartPolicy");
    match restart_policy {
        "" | "Always" => errors.required(&field, "valid values: \"OnFailure\", \"Never\""),
        "OnFailure" | "Never" => {}
        other => errors.not_supported(&field, other, &["OnFailure", "Never"]),
    }
}

/// `ValidateService`, its ports.
fn service_spec(spec: &Value, errors: &mut Errors) {
    let ports = items(&spec["ports"]);
    let headless = text(spec, "clusterIP") == "None";
    if ports.is_empty() && !headless && text(spec, "type") != "ExternalName" {
        errors.required("spec.ports", "");
    }
    let mut names: HashSet<&str> = HashSet::new();
    for (index, port) in ports.iter().enumerate() {
        let port_path = format!("spec.ports[{index}]");
        let name = text(port, "name");
        if ports.len() > 1 && name.is_empty() {
            errors.required(&format!("{port_path}.name"), "");
        } else if !name.is_empty() {
            if let Some(problem) = util::dns_label_problem(name) {
                errors.invalid(
                    &format!("{port_path}.name"),
                    &go_text::quote(name),
                    &problem,
                );
            }
            if !names.insert(name) {
                errors.duplicate(&format!("{port_path}.name"), name);
            }
        }
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        errors.port_number(&format!("{port_path}.port"), number);
        protocol(port, &port_path, errors);
        // An absent (or zero, or empty) targetPort is the port itself.
        let target_path = format!("{port_path}.targetPort");
        match port.get("targetPort") {
            Some(Value::String(target)) if !target.is_empty() => {
                for problem in port_name_problems(target) {
                    errors.invalid(&target_path, &go_text::quote(target), problem);
                }
            }
            Some(Value::Number(target)) if target.as_i64() != Some(0) => {
                errors.port_number(&target_path, target.as_i64().unwrap_or(0));
            }
            _ => errors.port_number(&target_path, number),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_requirements_are_evaluated_as_kube_does() {
        let labels = json!({"app": "web", "tier": "front"});
        let labels = labels.as_object();
        let cases = [
            (json!({"matchLabels": {"app": "web"}}), true),
            (json!({"matchLabels": {"app": "api"}}), false),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}),
                false,
            ),
        ];
        for (selector, expected) in cases {
            assert_eq!(selector_matches(&selector, labels), expected, "{selector}");
        }
        assert!(matches!(
            read_selector(&json!({"matchExpressions": [{"key": "a", "operator": "Near"}]})),
            Selector::Unreadable
        ));
    }

    #[test]
    fn port_names_follow_is_valid_port_name() {
        assert!(port_name_problems("http").is_empty());
        assert_eq!(
            port_name_problems("80"),
            vec!["must contain at least one letter (a-z)"]
        );
        assert_eq!(
            port_name_problems("-web--ui"),
            vec![
                "must not contain consecutive hyphens",
                "must not begin or end with a hyphen"
            ]
        );
    }
}
