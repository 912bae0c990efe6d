//! kube-apiserver's server-side table columns for built-in kinds (its `printers/internalversion`
//! handlers, as of v1.33): per kind, the column definitions (names, types, formats, priorities;
//! priority 1 is what `kubectl get -o wide` adds) and a small function computing one row's cells
//! from the stored object the way kube's printer computes them. kube-apiserver always fills the
//! wide cells; kubectl hides them.
//!
//! kube prints its internal types after defaulting; flotilla stores what clients sent, so the
//! cell functions read a missing field as kube's default would have filled it (Deployment
//! replicas 1, Service type ClusterIP and port protocol TCP, Secret type Opaque, Pod phase
//! Pending, a Job's completions 1, an HPA's CPU 80% target, …). What kube's controllers would
//! have written (a Service's cluster IP, a Job's selector) is printed as absent.
//!
//! [`PRINTERS`] is the table of kinds; kinds not in it get kube's default table ([`DEFAULT`]:
//! Name and Created At).

use serde_json::{json, Value};

use crate::select;

/// One column of a kind's table, as `metav1.TableColumnDefinition`.
#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_name: &'static str,
    pub format: &'static str,
    /// 0: always shown; 1: shown by `kubectl get -o wide`.
    pub priority: u8,
    pub description: &'static str,
}

/// A row's cells from the object and the time now (seconds since the epoch).
pub type Cells = fn(&Value, u64) -> Vec<Value>;

/// The table of one kind.
pub struct Printer {
    pub group: &'static str,
    pub kind: &'static str,
    pub columns: &'static [Column],
    pub cells: Cells,
}

/// `metav1.ObjectMeta`'s documentation of `name` and `creationTimestamp`, which kube uses as
/// the descriptions of the Name and Age columns.
pub const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
pub const CREATION_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

const CONTAINERS_DESCRIPTION: &str = "Names of each container in the template.";
const IMAGES_DESCRIPTION: &str = "Images referenced by each container in the template.";

const fn column(
    name: &'static str,
    type_name: &'static str,
    priority: u8,
    description: &'static str,
) -> Column {
    Column {
        name,
        type_name,
        format: "",
        priority,
        description,
    }
}

/// The Name column (format `name`).
const NAME: Column = Column {
    name: "Name",
    type_name: "string",
    format: "name",
    priority: 0,
    description: NAME_DESCRIPTION,
};
const AGE: Column = column("Age", "string", 0, CREATION_DESCRIPTION);
const CONTAINERS: Column = column("Containers", "string", 1, CONTAINERS_DESCRIPTION);
const IMAGES: Column = column("Images", "string", 1, IMAGES_DESCRIPTION);

const fn text(name: &'static str, description: &'static str) -> Column {
    column(name, "string", 0, description)
}
const fn integer(name: &'static str, description: &'static str) -> Column {
    column(name, "integer", 0, description)
}
const fn wide(name: &'static str, description: &'static str) -> Column {
    column(name, "string", 1, description)
}

/// kube's default table for kinds without a printer (`rest.NewDefaultTableConvertor`).
pub const DEFAULT: &[Column] = &[NAME, column("Created At", "date", 0, CREATION_DESCRIPTION)];

/// The default table's cells: the name and the creation time in RFC 3339.
pub fn default_cells(object: &Value, _now: u64) -> Vec<Value> {
    let created = text_at(object, &["metadata", "creationTimestamp"]);
    let created = if created.is_empty() {
        "0001-01-01T00:00:00Z"
    } else {
        created
    };
    vec![name(object), json!(created)]
}

/// The table of a kind, if kube has a printer for it.
pub fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    PRINTERS
        .iter()
        .find(|printer| printer.group == group && printer.kind == kind)
}

/// Every kind kube prints with columns of its own.
pub static PRINTERS: &[Printer] = &[
    Printer {
        group: "",
        kind: "Pod",
        columns: POD,
        cells: pod_cells,
    },
    Printer {
        group: "",
        kind: "PodTemplate",
        columns: POD_TEMPLATE,
        cells: pod_template_cells,
    },
    Printer {
        group: "",
        kind: "ReplicationController",
        columns: REPLICATION_CONTROLLER,
        cells: replication_controller_cells,
    },
    Printer {
        group: "",
        kind: "Service",
        columns: SERVICE,
        cells: service_cells,
    },
    Printer {
        group: "",
        kind: "Endpoints",
        columns: ENDPOINTS,
        cells: endpoints_cells,
    },
    Printer {
        group: "",
        kind: "Node",
        columns: NODE,
        cells: node_cells,
    },
    Printer {
        group: "",
        kind: "Event",
        columns: EVENT,
        cells: event_cells,
    },
    Printer {
        group: "",
        kind: "Namespace",
        columns: NAMESPACE,
        cells: namespace_cells,
    },
    Printer {
        group: "",
        kind: "Secret",
        columns: SECRET,
        cells: secret_cells,
    },
    Printer {
        group: "",
        kind: "ServiceAccount",
        columns: SERVICE_ACCOUNT,
        cells: service_account_cells,
    },
    Printer {
        group: "",
        kind: "PersistentVolume",
        columns: PERSISTENT_VOLUME,
        cells: persistent_volume_cells,
    },
    Printer {
        group: "",
        kind: "PersistentVolumeClaim",
        columns: PERSISTENT_VOLUME_CLAIM,
        cells: persistent_volume_claim_cells,
    },
    Printer {
        group: "",
        kind: "ConfigMap",
        columns: CONFIG_MAP,
        cells: config_map_cells,
    },
    Printer {
        group: "",
        kind: "ResourceQuota",
        columns: RESOURCE_QUOTA,
        cells: resource_quota_cells,
    },
    Printer {
        group: "apps",
        kind: "Deployment",
        columns: DEPLOYMENT,
        cells: deployment_cells,
    },
    Printer {
        group: "apps",
        kind: "ReplicaSet",
        columns: REPLICA_SET,
        cells: replica_set_cells,
    },
    Printer {
        group: "apps",
        kind: "StatefulSet",
        columns: STATEFUL_SET,
        cells: stateful_set_cells,
    },
    Printer {
        group: "apps",
        kind: "DaemonSet",
        columns: DAEMON_SET,
        cells: daemon_set_cells,
    },
    Printer {
        group: "apps",
        kind: "ControllerRevision",
        columns: CONTROLLER_REVISION,
        cells: controller_revision_cells,
    },
    Printer {
        group: "batch",
        kind: "Job",
        columns: JOB,
        cells: job_cells,
    },
    Printer {
        group: "batch",
        kind: "CronJob",
        columns: CRON_JOB,
        cells: cron_job_cells,
    },
    Printer {
        group: "autoscaling",
        kind: "HorizontalPodAutoscaler",
        columns: HORIZONTAL_POD_AUTOSCALER,
        cells: horizontal_pod_autoscaler_cells,
    },
    Printer {
        group: "autoscaling",
        kind: "Scale",
        columns: SCALE,
        cells: scale_cells,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "Ingress",
        columns: INGRESS,
        cells: ingress_cells,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "IngressClass",
        columns: INGRESS_CLASS,
        cells: ingress_class_cells,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "NetworkPolicy",
        columns: NETWORK_POLICY,
        cells: network_policy_cells,
    },
    Printer {
        group: "policy",
        kind: "PodDisruptionBudget",
        columns: POD_DISRUPTION_BUDGET,
        cells: pod_disruption_budget_cells,
    },
    Printer {
        group: "rbac.authorization.k8s.io",
        kind: "RoleBinding",
        columns: ROLE_BINDING,
        cells: role_binding_cells,
    },
    Printer {
        group: "rbac.authorization.k8s.io",
        kind: "ClusterRoleBinding",
        columns: CLUSTER_ROLE_BINDING,
        cells: role_binding_cells,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "StorageClass",
        columns: STORAGE_CLASS,
        cells: storage_class_cells,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "CSIDriver",
        columns: CSI_DRIVER,
        cells: csi_driver_cells,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "CSINode",
        columns: CSI_NODE,
        cells: csi_node_cells,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "VolumeAttachment",
        columns: VOLUME_ATTACHMENT,
        cells: volume_attachment_cells,
    },
    Printer {
        group: "coordination.k8s.io",
        kind: "Lease",
        columns: LEASE,
        cells: lease_cells,
    },
    Printer {
        group: "discovery.k8s.io",
        kind: "EndpointSlice",
        columns: ENDPOINT_SLICE,
        cells: endpoint_slice_cells,
    },
    Printer {
        group: "admissionregistration.k8s.io",
        kind: "MutatingWebhookConfiguration",
        columns: WEBHOOK_CONFIGURATION,
        cells: webhook_configuration_cells,
    },
    Printer {
        group: "admissionregistration.k8s.io",
        kind: "ValidatingWebhookConfiguration",
        columns: WEBHOOK_CONFIGURATION,
        cells: webhook_configuration_cells,
    },
];

// ---------------------------------------------------------------------------------------------
// Reading values

/// The value at a path of field names, or null.
fn at<'a>(object: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .try_fold(object, |value, field| value.get(field))
        .unwrap_or(&Value::Null)
}

fn text_at<'a>(object: &'a Value, path: &[&str]) -> &'a str {
    at(object, path).as_str().unwrap_or_default()
}

/// A string field, or `fallback` when it is missing or empty.
fn text_or<'a>(object: &'a Value, path: &[&str], fallback: &'a str) -> &'a str {
    Some(text_at(object, path))
        .filter(|text| !text.is_empty())
        .unwrap_or(fallback)
}

fn int_at(object: &Value, path: &[&str]) -> i64 {
    at(object, path).as_i64().unwrap_or(0)
}

fn items<'a>(object: &'a Value, path: &[&str]) -> &'a [Value] {
    at(object, path)
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The number of entries of a list or a map.
fn count(object: &Value, path: &[&str]) -> i64 {
    match at(object, path) {
        Value::Array(items) => items.len() as i64,
        Value::Object(map) => map.len() as i64,
        _ => 0,
    }
}

fn name(object: &Value) -> Value {
    json!(text_at(object, &["metadata", "name"]))
}

/// kube's `translateTimestampSince`: how long ago, `<unknown>` without a time.
fn since(timestamp: &Value, now: u64) -> String {
    match timestamp.as_str().and_then(crate::table::parse_rfc3339) {
        Some(seconds) => human_duration(now as i64 - seconds as i64),
        None => "<unknown>".to_string(),
    }
}

fn age(object: &Value, now: u64) -> Value {
    json!(since(at(object, &["metadata", "creationTimestamp"]), now))
}

/// apimachinery's `duration.HumanDuration`: `45s`, `3m20s`, `15m`, `4h10m`, `30h`, `3d5h`,
/// `40d`, `2y10d`, `9y`; a time up to a second in the future is `0s`, further is `<invalid>`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let rest = seconds % 60;
        return if rest == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{rest}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let rest = minutes % 60;
        return if rest == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{rest}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let rest = hours % 24;
        return if rest == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{rest}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// The names and images of a pod spec's containers, comma-separated (`layoutContainerCells`).
fn containers(pod_spec: &Value) -> (Value, Value) {
    let containers = items(pod_spec, &["containers"]);
    let names: Vec<&str> = containers
        .iter()
        .map(|container| text_at(container, &["name"]))
        .collect();
    let images: Vec<&str> = containers
        .iter()
        .map(|container| text_at(container, &["image"]))
        .collect();
    (json!(names.join(",")), json!(images.join(",")))
}

/// `metav1.FormatLabelSelector`: the selector as text, `<none>` when empty, `<error>` when
/// invalid.
fn format_label_selector(selector: &Value) -> String {
    match select::label_selector_text(selector) {
        Ok(text) if text.is_empty() => "<none>".to_string(),
        Ok(text) => text,
        Err(_) => "<error>".to_string(),
    }
}

/// `labels.FormatLabels`: `k=v,…` sorted, `<none>` when empty.
fn format_labels(labels: &Value) -> String {
    let text = select::label_map_text(labels);
    if text.is_empty() {
        "<none>".to_string()
    } else {
        text
    }
}

/// Go's `printBool`.
fn go_bool(value: bool) -> &'static str {
    if value {
        "True"
    } else {
        "False"
    }
}

/// A quantity as kube prints it; the server stores built-in quantities canonical already.
fn quantity(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => "0".to_string(),
    }
}

/// An `IntOrString` as Go's `String()` writes it.
fn int_or_string(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Pods

const POD: &[Column] = &[
    NAME,
    text("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    text("Status", "The aggregate status of the containers in this pod."),
    text("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
    AGE,
    wide("IP", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
    wide("Node", "NodeName indicates in which node this pod is scheduled."),
    wide("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods."),
    wide("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness."),
];

/// Whether an init container keeps running beside the app containers (`restartPolicy: Always`).
fn restartable(pod: &Value, init_container_name: &str) -> bool {
    items(pod, &["spec", "initContainers"])
        .iter()
        .any(|container| {
            text_at(container, &["name"]) == init_container_name
                && text_at(container, &["restartPolicy"]) == "Always"
        })
}

/// The later of two times (`None` is the zero time).
fn later(current: Option<u64>, candidate: &Value) -> Option<u64> {
    let candidate = candidate.as_str().and_then(crate::table::parse_rfc3339);
    match (current, candidate) {
        (Some(current), Some(candidate)) => Some(current.max(candidate)),
        (current, candidate) => current.or(candidate),
    }
}

fn condition_status<'a>(object: &'a Value, condition_type: &str) -> Option<&'a str> {
    items(object, &["status", "conditions"])
        .iter()
        .find(|condition| text_at(condition, &["type"]) == condition_type)
        .map(|condition| text_at(condition, &["status"]))
}

fn pod_cells(pod: &Value, now: u64) -> Vec<Value> {
    let status = &pod["status"];
    let init_statuses = items(status, &["initContainerStatuses"]);
    let init_specs = items(pod, &["spec", "initContainers"]);
    let total = items(pod, &["spec", "containers"]).len()
        + init_specs
            .iter()
            .filter(|container| text_at(container, &["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut restartable_restarts = 0;
    let mut last_restart: Option<u64> = None;
    let mut last_restartable_restart: Option<u64> = None;
    let phase = text_or(status, &["phase"], "Pending");
    let mut reason = text_or(status, &["reason"], phase).to_string();
    if items(status, &["conditions"]).iter().any(|condition| {
        text_at(condition, &["type"]) == "PodScheduled"
            && text_at(condition, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".to_string();
    }
    let mut initializing = false;
    for (index, container) in init_statuses.iter().enumerate() {
        let count = int_at(container, &["restartCount"]);
        restarts += count;
        let finished = &container["lastState"]["terminated"]["finishedAt"];
        last_restart = later(last_restart, finished);
        let keeps_running = restartable(pod, text_at(container, &["name"]));
        if keeps_running {
            restartable_restarts += count;
            last_restartable_restart = later(last_restartable_restart, finished);
        }
        let terminated = &container["state"]["terminated"];
        let waiting_reason = text_at(container, &["state", "waiting", "reason"]);
        if terminated.is_object() && int_at(terminated, &["exitCode"]) == 0 {
            continue;
        }
        if keeps_running && container["started"] == Value::Bool(true) {
            if container["ready"] == Value::Bool(true) {
                ready += 1;
            }
            continue;
        }
        reason = if terminated.is_object() {
            match text_at(terminated, &["reason"]) {
                "" if int_at(terminated, &["signal"]) != 0 => {
                    format!("Init:Signal:{}", int_at(terminated, &["signal"]))
                }
                "" => format!("Init:ExitCode:{}", int_at(terminated, &["exitCode"])),
                terminated_reason => format!("Init:{terminated_reason}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{index}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }
    if !initializing || condition_status(pod, "Initialized") == Some("True") {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut running = false;
        for container in items(status, &["containerStatuses"]).iter().rev() {
            restarts += int_at(container, &["restartCount"]);
            last_restart = later(
                last_restart,
                &container["lastState"]["terminated"]["finishedAt"],
            );
            let state = &container["state"];
            let waiting_reason = text_at(state, &["waiting", "reason"]);
            let terminated = &state["terminated"];
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if terminated.is_object() && !text_at(terminated, &["reason"]).is_empty() {
                reason = text_at(terminated, &["reason"]).to_string();
            } else if terminated.is_object() {
                let signal = int_at(terminated, &["signal"]);
                reason = if signal != 0 {
                    format!("Signal:{signal}")
                } else {
                    format!("ExitCode:{}", int_at(terminated, &["exitCode"]))
                };
            } else if container["ready"] == Value::Bool(true) && state["running"].is_object() {
                running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            reason = if condition_status(pod, "Ready") == Some("True") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }
    let deleting = !at(pod, &["metadata", "deletionTimestamp"]).is_null();
    if deleting && text_at(status, &["reason"]) == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }
    let restarts_text = match last_restart {
        Some(time) if restarts != 0 => {
            format!(
                "{restarts} ({} ago)",
                human_duration(now as i64 - time as i64)
            )
        }
        _ => restarts.to_string(),
    };
    // v1's podIP wins over podIPs, as kube's conversion to its internal type has it.
    let ip = Some(text_at(status, &["podIP"]))
        .filter(|ip| !ip.is_empty())
        .or_else(|| {
            items(status, &["podIPs"])
                .first()
                .map(|first| text_at(first, &["ip"]))
        })
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    let gates = items(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let passed = gates
            .iter()
            .filter(|gate| condition_status(pod, text_at(gate, &["conditionType"])) == Some("True"))
            .count();
        format!("{passed}/{}", gates.len())
    };
    vec![
        name(pod),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_text),
        age(pod, now),
        json!(ip),
        json!(text_or(pod, &["spec", "nodeName"], "<none>")),
        json!(text_or(status, &["nominatedNodeName"], "<none>")),
        json!(readiness_gates),
    ]
}

/// A table row's `conditions`: kube marks Succeeded and Failed pods Completed.
pub fn row_conditions(group: &str, kind: &str, object: &Value) -> Option<Value> {
    if !group.is_empty() || kind != "Pod" {
        return None;
    }
    let (reason, message) = match text_at(object, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

const POD_TEMPLATE: &[Column] = &[
    NAME,
    text("Containers", CONTAINERS_DESCRIPTION),
    text("Images", IMAGES_DESCRIPTION),
    text("Pod Labels", "The labels for the pod template."),
];

fn pod_template_cells(object: &Value, _now: u64) -> Vec<Value> {
    let (names, images) = containers(at(object, &["template", "spec"]));
    vec![
        name(object),
        names,
        images,
        json!(format_labels(at(
            object,
            &["template", "metadata", "labels"]
        ))),
    ]
}

// ---------------------------------------------------------------------------------------------
// Workloads

const REPLICATION_CONTROLLER: &[Column] = &[
    NAME,
    integer("Desired", "Replicas is the number of desired replicas."),
    integer(
        "Current",
        "Replicas is the most recently observed number of replicas.",
    ),
    integer(
        "Ready",
        "The number of ready replicas for this replication controller.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "Selector is a label query over pods that should match the Replicas count.",
    ),
];

/// Desired replicas, 1 when absent (kube's default).
fn desired_replicas(object: &Value) -> i64 {
    at(object, &["spec", "replicas"]).as_i64().unwrap_or(1)
}

fn replication_controller_cells(object: &Value, now: u64) -> Vec<Value> {
    let (names, images) = containers(at(object, &["spec", "template", "spec"]));
    vec![
        name(object),
        json!(desired_replicas(object)),
        json!(int_at(object, &["status", "replicas"])),
        json!(int_at(object, &["status", "readyReplicas"])),
        age(object, now),
        names,
        images,
        json!(format_labels(at(object, &["spec", "selector"]))),
    ]
}

const REPLICA_SET: &[Column] = &[
    NAME,
    integer("Desired", "Replicas is the number of desired replicas."),
    integer(
        "Current",
        "Replicas is the most recently observed number of replicas.",
    ),
    integer(
        "Ready",
        "The number of ready replicas for this replica set.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "Selector is a label query over pods that should match the replica count.",
    ),
];

fn replica_set_cells(object: &Value, now: u64) -> Vec<Value> {
    let (names, images) = containers(at(object, &["spec", "template", "spec"]));
    vec![
        name(object),
        json!(desired_replicas(object)),
        json!(int_at(object, &["status", "replicas"])),
        json!(int_at(object, &["status", "readyReplicas"])),
        age(object, now),
        names,
        images,
        json!(format_label_selector(at(object, &["spec", "selector"]))),
    ]
}

const DEPLOYMENT: &[Column] = &[
    NAME,
    text("Ready", "Number of the pod with ready state"),
    text("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
    text("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."),
];

fn deployment_cells(object: &Value, now: u64) -> Vec<Value> {
    let (names, images) = containers(at(object, &["spec", "template", "spec"]));
    // The Deployment printer writes the selector without FormatLabelSelector's `<none>`.
    let selector = select::label_selector_text(at(object, &["spec", "selector"]))
        .unwrap_or_else(|_| "<invalid>".to_string());
    vec![
        name(object),
        json!(format!(
            "{}/{}",
            int_at(object, &["status", "readyReplicas"]),
            desired_replicas(object)
        )),
        json!(int_at(object, &["status", "updatedReplicas"])),
        json!(int_at(object, &["status", "availableReplicas"])),
        age(object, now),
        names,
        images,
        json!(selector),
    ]
}

const STATEFUL_SET: &[Column] = &[
    NAME,
    text("Ready", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

fn stateful_set_cells(object: &Value, now: u64) -> Vec<Value> {
    let (names, images) = containers(at(object, &["spec", "template", "spec"]));
    vec![
        name(object),
        json!(format!(
            "{}/{}",
            int_at(object, &["status", "readyReplicas"]),
            desired_replicas(object)
        )),
        age(object, now),
        names,
        images,
    ]
}

const DAEMON_SET: &[Column] = &[
    NAME,
    integer("Desired", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod)."),
    integer("Current", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
    integer("Ready", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
    integer("Up-to-date", "The total number of nodes that are running updated daemon pod"),
    integer("Available", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
    text("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on a node."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "A label query over pods that are managed by the daemon set."),
];

fn daemon_set_cells(object: &Value, now: u64) -> Vec<Value> {
    let (names, images) = containers(at(object, &["spec", "template", "spec"]));
    let status = &object["status"];
    vec![
        name(object),
        json!(int_at(status, &["desiredNumberScheduled"])),
        json!(int_at(status, &["currentNumberScheduled"])),
        json!(int_at(status, &["numberReady"])),
        json!(int_at(status, &["updatedNumberScheduled"])),
        json!(int_at(status, &["numberAvailable"])),
        json!(format_labels(at(
            object,
            &["spec", "template", "spec", "nodeSelector"]
        ))),
        age(object, now),
        names,
        images,
        json!(format_label_selector(at(object, &["spec", "selector"]))),
    ]
}

const CONTROLLER_REVISION: &[Column] = &[
    NAME,
    text("Controller", "Controller of the object"),
    text(
        "Revision",
        "Revision indicates the revision of the state represented by Data.",
    ),
    AGE,
];

fn controller_revision_cells(object: &Value, now: u64) -> Vec<Value> {
    let controller = items(object, &["metadata", "ownerReferences"])
        .iter()
        .find(|reference| reference["controller"] == Value::Bool(true))
        .map(|reference| {
            let group = text_at(reference, &["apiVersion"])
                .rsplit_once('/')
                .map(|(group, _)| group)
                .unwrap_or_default();
            let kind = text_at(reference, &["kind"]);
            let group_kind = if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            };
            format!(
                "{}/{}",
                group_kind.to_lowercase(),
                text_at(reference, &["name"])
            )
        })
        .unwrap_or_else(|| "<none>".to_string());
    vec![
        name(object),
        json!(controller),
        json!(int_at(object, &["revision"])),
        age(object, now),
    ]
}

const JOB: &[Column] = &[
    NAME,
    text("Status", "Status of the job."),
    text("Completions", "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs."),
    text("Duration", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "A label query over pods that should match the pod count. Normally, the system sets this field for you."),
];

/// Whether a Job's first condition of `condition_type` is True (`hasJobCondition`).
fn job_condition(job: &Value, condition_type: &str) -> bool {
    condition_status(job, condition_type) == Some("True")
}

fn job_cells(job: &Value, now: u64) -> Vec<Value> {
    let succeeded = int_at(job, &["status", "succeeded"]);
    let completions_set = at(job, &["spec", "completions"]).as_i64();
    let parallelism_set = at(job, &["spec", "parallelism"]).as_i64();
    // kube defaults completions and parallelism to 1 when both are missing.
    let completions = match (completions_set, parallelism_set) {
        (Some(completions), _) => format!("{succeeded}/{completions}"),
        (None, Some(parallelism)) if parallelism > 1 => {
            format!("{succeeded}/1 of {parallelism}")
        }
        (None, _) => format!("{succeeded}/1"),
    };
    let start = text_at(job, &["status", "startTime"]);
    let duration = match (
        crate::table::parse_rfc3339(start),
        at(job, &["status", "completionTime"])
            .as_str()
            .and_then(crate::table::parse_rfc3339),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now as i64 - start as i64),
        (Some(start), Some(end)) => human_duration(end as i64 - start as i64),
    };
    let status = if job_condition(job, "Complete") {
        "Complete"
    } else if job_condition(job, "Failed") {
        "Failed"
    } else if !at(job, &["metadata", "deletionTimestamp"]).is_null() {
        "Terminating"
    } else if job_condition(job, "Suspended") {
        "Suspended"
    } else if job_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = containers(at(job, &["spec", "template", "spec"]));
    vec![
        name(job),
        json!(status),
        json!(completions),
        json!(duration),
        age(job, now),
        names,
        images,
        json!(format_label_selector(at(job, &["spec", "selector"]))),
    ]
}

const CRON_JOB: &[Column] = &[
    NAME,
    text("Schedule", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    text("Timezone", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
    column("Suspend", "boolean", 0, "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false."),
    integer("Active", "A list of pointers to currently running jobs."),
    text("Last Schedule", "Information when was the last time the job was successfully scheduled."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "A label query over pods that should match the pod count. Normally, the system sets this field for you."),
];

fn cron_job_cells(object: &Value, now: u64) -> Vec<Value> {
    let last_schedule = match at(object, &["status", "lastScheduleTime"]) {
        Value::Null => "<none>".to_string(),
        time => since(time, now),
    };
    let job_spec = at(object, &["spec", "jobTemplate", "spec"]);
    let (names, images) = containers(at(job_spec, &["template", "spec"]));
    vec![
        name(object),
        json!(text_at(object, &["spec", "schedule"])),
        json!(text_or(object, &["spec", "timeZone"], "<none>")),
        json!(go_bool(
            at(object, &["spec", "suspend"]).as_bool().unwrap_or(false)
        )),
        json!(count(object, &["status", "active"])),
        json!(last_schedule),
        age(object, now),
        names,
        images,
        json!(format_label_selector(at(job_spec, &["selector"]))),
    ]
}

const HORIZONTAL_POD_AUTOSCALER: &[Column] = &[
    NAME,
    text("Reference", "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count."),
    text("Targets", "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used)."),
    text("MinPods", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
    text("MaxPods", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up."),
    text("Replicas", "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler."),
    AGE,
];

/// One metric of an HPA as `formatHPAMetrics` writes it.
fn hpa_metric(spec: &Value, status: &Value) -> String {
    let current_or_unknown = |value: &Value| {
        if value.is_null() {
            "<unknown>".to_string()
        } else {
            quantity(value)
        }
    };
    // A quantity Go holds as a nil pointer prints `<nil>`.
    let target_text = |value: &Value| {
        if value.is_null() {
            "<nil>".to_string()
        } else {
            quantity(value)
        }
    };
    match text_at(spec, &["type"]) {
        source @ ("External" | "Object") => {
            let field = if source == "External" {
                "external"
            } else {
                "object"
            };
            let target = at(spec, &[field, "target"]);
            let current = at(status, &[field, "current"]);
            if !target["averageValue"].is_null() {
                format!(
                    "{}/{} (avg)",
                    current_or_unknown(&current["averageValue"]),
                    quantity(&target["averageValue"])
                )
            } else {
                let current = if status[field].is_object() {
                    target_text(&current["value"])
                } else {
                    "<unknown>".to_string()
                };
                format!("{current}/{}", target_text(&target["value"]))
            }
        }
        "Pods" => {
            let current = if status["pods"].is_object() {
                target_text(at(status, &["pods", "current", "averageValue"]))
            } else {
                "<unknown>".to_string()
            };
            format!(
                "{current}/{}",
                target_text(at(spec, &["pods", "target", "averageValue"]))
            )
        }
        source @ ("Resource" | "ContainerResource") => {
            let field = if source == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let resource_name = text_at(spec, &[field, "name"]);
            let target = at(spec, &[field, "target"]);
            let current = at(status, &[field, "current"]);
            if !target["averageValue"].is_null() {
                let current = if status[field].is_object() {
                    target_text(&current["averageValue"])
                } else {
                    "<unknown>".to_string()
                };
                format!(
                    "{resource_name}: {current}/{}",
                    quantity(&target["averageValue"])
                )
            } else {
                let current = current["averageUtilization"]
                    .as_i64()
                    .filter(|_| status[field].is_object())
                    .map(|percent| format!("{percent}%"))
                    .unwrap_or_else(|| "<unknown>".to_string());
                let target = target["averageUtilization"]
                    .as_i64()
                    .map(|percent| format!("{percent}%"))
                    .unwrap_or_else(|| "<auto>".to_string());
                format!("{resource_name}: {current}/{target}")
            }
        }
        _ => "<unknown type>".to_string(),
    }
}

fn horizontal_pod_autoscaler_cells(object: &Value, now: u64) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        text_at(object, &["spec", "scaleTargetRef", "kind"]),
        text_at(object, &["spec", "scaleTargetRef", "name"])
    );
    // kube defaults an HPA without metrics to 80% average CPU utilisation.
    let default_metrics = [json!({"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 80}}})];
    let metrics = match items(object, &["spec", "metrics"]) {
        [] => &default_metrics[..],
        metrics => metrics,
    };
    let statuses = items(object, &["status", "currentMetrics"]);
    let mut listed: Vec<String> = metrics
        .iter()
        .enumerate()
        .map(|(index, spec)| hpa_metric(spec, statuses.get(index).unwrap_or(&Value::Null)))
        .collect();
    const SHOWN: usize = 2;
    let targets = if listed.len() > SHOWN {
        let more = listed.len() - SHOWN;
        listed.truncate(SHOWN);
        format!("{} + {more} more...", listed.join(", "))
    } else {
        listed.join(", ")
    };
    let min_pods = at(object, &["spec", "minReplicas"]).as_i64().unwrap_or(1);
    vec![
        name(object),
        json!(reference),
        json!(targets),
        json!(min_pods.to_string()),
        json!(int_at(object, &["spec", "maxReplicas"])),
        json!(int_at(object, &["status", "currentReplicas"])),
        age(object, now),
    ]
}

/// The Scale subresource's table; its Name column has no `name` format, as in kube.
const SCALE: &[Column] = &[
    text("Name", NAME_DESCRIPTION),
    integer(
        "Desired",
        "replicas is the desired number of instances for the scaled object.",
    ),
    integer(
        "Available",
        "replicas is the actual number of observed instances of the scaled object.",
    ),
    AGE,
];

fn scale_cells(object: &Value, now: u64) -> Vec<Value> {
    vec![
        name(object),
        json!(int_at(object, &["spec", "replicas"])),
        json!(int_at(object, &["status", "replicas"])),
        age(object, now),
    ]
}

const POD_DISRUPTION_BUDGET: &[Column] = &[
    NAME,
    text(
        "Min Available",
        "The minimum number of pods that must be available.",
    ),
    text(
        "Max Unavailable",
        "The maximum number of pods that may be unavailable.",
    ),
    integer(
        "Allowed Disruptions",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
];

fn pod_disruption_budget_cells(object: &Value, now: u64) -> Vec<Value> {
    let bound = |field: &str| match at(object, &["spec", field]) {
        Value::Null => "N/A".to_string(),
        value => int_or_string(value),
    };
    vec![
        name(object),
        json!(bound("minAvailable")),
        json!(bound("maxUnavailable")),
        json!(int_at(object, &["status", "disruptionsAllowed"])),
        age(object, now),
    ]
}

// ---------------------------------------------------------------------------------------------
// Services and networking

const SERVICE: &[Column] = &[
    NAME,
    text("Type", "type determines how the Service is exposed. Defaults to ClusterIP."),
    text("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned randomly."),
    text("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
    text("Port(s)", "The list of ports that are exposed by this service."),
    AGE,
    wide("Selector", "Route service traffic to pods with label keys and values matching this selector."),
];

/// The load balancer addresses of a status (IP, else hostname), sorted, unique, comma-joined.
/// kube clips it to 16 characters only for kubectl's own printing, not on the server.
fn load_balancer_addresses(status: &Value) -> String {
    let mut addresses: Vec<&str> = items(status, &["loadBalancer", "ingress"])
        .iter()
        .filter_map(|ingress| {
            Some(text_at(ingress, &["ip"]))
                .filter(|ip| !ip.is_empty())
                .or_else(|| Some(text_at(ingress, &["hostname"])).filter(|host| !host.is_empty()))
        })
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    addresses.join(",")
}

fn service_cells(service: &Value, now: u64) -> Vec<Value> {
    let spec = &service["spec"];
    let service_type = text_or(spec, &["type"], "ClusterIP");
    // v1's clusterIP wins over clusterIPs, as kube's conversion to its internal type has it.
    let cluster_ip = Some(text_at(spec, &["clusterIP"]))
        .filter(|ip| !ip.is_empty())
        .or_else(|| items(spec, &["clusterIPs"]).first().and_then(Value::as_str))
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    let external_ips: Vec<&str> = items(spec, &["externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match service_type {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_string(),
        "LoadBalancer" => {
            let balancer = load_balancer_addresses(&service["status"]);
            if !external_ips.is_empty() {
                let mut all: Vec<&str> = if balancer.is_empty() {
                    Vec::new()
                } else {
                    balancer.split(',').collect()
                };
                all.extend(&external_ips);
                all.join(",")
            } else if !balancer.is_empty() {
                balancer
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => text_at(spec, &["externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = items(spec, &["ports"])
        .iter()
        .map(|port| {
            let protocol = text_or(port, &["protocol"], "TCP");
            match int_at(port, &["nodePort"]) {
                node_port if node_port > 0 => {
                    format!("{}:{node_port}/{protocol}", int_at(port, &["port"]))
                }
                _ => format!("{}/{protocol}", int_at(port, &["port"])),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        name(service),
        json!(service_type),
        json!(cluster_ip),
        json!(external),
        json!(ports),
        age(service, now),
        json!(format_labels(&spec["selector"])),
    ]
}

const ENDPOINTS: &[Column] = &[
    NAME,
    text(
        "Endpoints",
        "The set of all endpoints is the union of all subsets.",
    ),
    AGE,
];

/// A list of at most three entries and how many more there were (`listWithMoreString`).
fn list_with_more(list: &[String], total: usize, empty: &str) -> String {
    const SHOWN: usize = 3;
    let shown = list[..list.len().min(SHOWN)].join(",");
    if total > SHOWN {
        format!("{shown} + {} more...", total - SHOWN)
    } else if shown.is_empty() {
        empty.to_string()
    } else {
        shown
    }
}

/// `host:port`, with an IPv6 host in brackets (Go's `net.JoinHostPort`).
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn endpoints_cells(object: &Value, now: u64) -> Vec<Value> {
    let subsets = items(object, &["subsets"]);
    let text = if subsets.is_empty() {
        "<none>".to_string()
    } else {
        let mut listed = Vec::new();
        let mut total = 0;
        for subset in subsets {
            let addresses = items(subset, &["addresses"]);
            let ports = items(subset, &["ports"]);
            if ports.is_empty() {
                total += addresses.len();
                listed.extend(
                    addresses
                        .iter()
                        .map(|address| text_at(address, &["ip"]).to_string()),
                );
                continue;
            }
            for port in ports {
                total += addresses.len();
                listed.extend(addresses.iter().map(|address| {
                    join_host_port(text_at(address, &["ip"]), int_at(port, &["port"]))
                }));
            }
        }
        list_with_more(&listed, total, "")
    };
    vec![name(object), json!(text), age(object, now)]
}

const ENDPOINT_SLICE: &[Column] = &[
    NAME,
    text(
        "AddressType",
        "addressType specifies the type of address carried by this EndpointSlice.",
    ),
    text(
        "Ports",
        "ports specifies the list of network ports exposed by each endpoint in this slice.",
    ),
    text(
        "Endpoints",
        "endpoints is a list of unique endpoints in this slice.",
    ),
    AGE,
];

fn endpoint_slice_cells(object: &Value, now: u64) -> Vec<Value> {
    let ports: Vec<String> = items(object, &["ports"])
        .iter()
        .map(
            |port| match (port["port"].as_i64(), port["name"].as_str()) {
                (Some(number), _) => number.to_string(),
                (None, Some(port_name)) => port_name.to_string(),
                (None, None) => "*".to_string(),
            },
        )
        .collect();
    let endpoints: Vec<String> = items(object, &["endpoints"])
        .iter()
        .flat_map(|endpoint| items(endpoint, &["addresses"]))
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    vec![
        name(object),
        json!(text_at(object, &["addressType"])),
        json!(list_with_more(&ports, ports.len(), "<unset>")),
        json!(list_with_more(&endpoints, endpoints.len(), "<unset>")),
        age(object, now),
    ]
}

const INGRESS: &[Column] = &[
    NAME,
    text(
        "Class",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    text(
        "Hosts",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    text(
        "Address",
        "Address is a list containing ingress points for the load-balancer",
    ),
    text("Ports", "Ports of TLS configurations that open"),
    AGE,
];

fn ingress_cells(object: &Value, now: u64) -> Vec<Value> {
    const SHOWN: usize = 3;
    let rules = items(object, &["spec", "rules"]);
    // As `formatHosts`: "more" once a rule comes after three hosts were listed.
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == SHOWN {
            more = true;
        }
        let host = text_at(rule, &["host"]);
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    let hosts = if hosts.is_empty() {
        "*".to_string()
    } else if more {
        format!("{} + {} more...", hosts.join(","), rules.len() - SHOWN)
    } else {
        hosts.join(",")
    };
    let ports = if items(object, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(object),
        json!(text_or(object, &["spec", "ingressClassName"], "<none>")),
        json!(hosts),
        json!(load_balancer_addresses(&object["status"])),
        json!(ports),
        age(object, now),
    ]
}

const INGRESS_CLASS: &[Column] = &[
    NAME,
    text(
        "Controller",
        "Controller that is responsible for handling this class",
    ),
    text(
        "Parameters",
        "A reference to a resource with additional parameters",
    ),
    AGE,
];

fn ingress_class_cells(object: &Value, now: u64) -> Vec<Value> {
    let parameters = match at(object, &["spec", "parameters"]) {
        Value::Object(_) => {
            let reference = &object["spec"]["parameters"];
            let mut kind = text_at(reference, &["kind"]).to_string();
            if let Some(group) = reference["apiGroup"].as_str() {
                kind = format!("{kind}.{group}");
            }
            format!("{kind}/{}", text_at(reference, &["name"]))
        }
        _ => "<none>".to_string(),
    };
    vec![
        name(object),
        json!(text_at(object, &["spec", "controller"])),
        json!(parameters),
        age(object, now),
    ]
}

const NETWORK_POLICY: &[Column] = &[
    NAME,
    text(
        "Pod-Selector",
        "Selects the pods to which this NetworkPolicy object applies.",
    ),
    AGE,
];

fn network_policy_cells(object: &Value, now: u64) -> Vec<Value> {
    vec![
        name(object),
        json!(format_label_selector(at(object, &["spec", "podSelector"]))),
        age(object, now),
    ]
}

// ---------------------------------------------------------------------------------------------
// Cluster and configuration

const NODE: &[Column] = &[
    NAME,
    text("Status", "The status of the node"),
    text("Roles", "The roles of the node"),
    AGE,
    text("Version", "Kubelet Version reported by the node."),
    wide("Internal-IP", "List of addresses reachable to the node."),
    wide("External-IP", "List of addresses reachable to the node."),
    wide("OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
    wide("Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
    wide("Container-Runtime", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
];

fn node_cells(node: &Value, now: u64) -> Vec<Value> {
    // The last Ready condition decides, as kube's map of conditions by type has it.
    let ready = items(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|condition| text_at(condition, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(condition) if text_at(condition, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if at(node, &["spec", "unschedulable"]) == &Value::Bool(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<String> = at(node, &["metadata", "labels"])
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(key, value)| {
                    if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                        Some(role.to_string()).filter(|role| !role.is_empty())
                    } else if key == "kubernetes.io/role" {
                        value
                            .as_str()
                            .filter(|role| !role.is_empty())
                            .map(str::to_string)
                    } else {
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort_unstable();
    roles.dedup();
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    };
    let address = |address_type: &str| {
        items(node, &["status", "addresses"])
            .iter()
            .find(|address| text_at(address, &["type"]) == address_type)
            .map(|address| text_at(address, &["address"]))
            .unwrap_or("<none>")
    };
    let info = at(node, &["status", "nodeInfo"]);
    vec![
        name(node),
        json!(status.join(",")),
        json!(roles),
        age(node, now),
        json!(text_at(info, &["kubeletVersion"])),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(text_or(info, &["osImage"], "<unknown>")),
        json!(text_or(info, &["kernelVersion"], "<unknown>")),
        json!(text_or(info, &["containerRuntimeVersion"], "<unknown>")),
    ]
}

const EVENT: &[Column] = &[
    text("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
    text("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
    text("Reason", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    text("Object", "The object that this event is about."),
    wide("Subobject", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]."),
    wide("Source", "The component reporting this event. Should be a short machine understandable string."),
    text("Message", "A human-readable description of the status of this operation."),
    wide("First Seen", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
    wide("Count", "The number of times this event has occurred."),
    Column { priority: 1, ..NAME },
];

fn event_cells(event: &Value, now: u64) -> Vec<Value> {
    let first = match at(event, &["firstTimestamp"]) {
        Value::Null => since(at(event, &["eventTime"]), now),
        time => since(time, now),
    };
    let mut last = match at(event, &["lastTimestamp"]) {
        Value::Null => first.clone(),
        time => since(time, now),
    };
    let mut occurrences = int_at(event, &["count"]);
    if event["series"].is_object() {
        last = since(at(event, &["series", "lastObservedTime"]), now);
        occurrences = int_at(event, &["series", "count"]);
    } else if occurrences == 0 {
        occurrences = 1;
    }
    let involved = &event["involvedObject"];
    let kind = text_at(involved, &["kind"]).to_lowercase();
    let target = match text_at(involved, &["name"]) {
        "" => kind,
        involved_name => format!("{kind}/{involved_name}"),
    };
    let component = text_or(
        event,
        &["source", "component"],
        text_at(event, &["reportingComponent"]),
    );
    let instance = text_or(
        event,
        &["source", "host"],
        text_at(event, &["reportingInstance"]),
    );
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last),
        json!(text_at(event, &["type"])),
        json!(text_at(event, &["reason"])),
        json!(target),
        json!(text_at(involved, &["fieldPath"])),
        json!(source),
        json!(text_at(event, &["message"]).trim()),
        json!(first),
        json!(occurrences),
        name(event),
    ]
}

const NAMESPACE: &[Column] = &[NAME, text("Status", "The status of the namespace"), AGE];

fn namespace_cells(object: &Value, now: u64) -> Vec<Value> {
    vec![
        name(object),
        json!(text_at(object, &["status", "phase"])),
        age(object, now),
    ]
}

const SECRET: &[Column] = &[
    NAME,
    text(
        "Type",
        "Used to facilitate programmatic handling of secret data.",
    ),
    text("Data", "Data contains the secret data."),
    AGE,
];

fn secret_cells(object: &Value, now: u64) -> Vec<Value> {
    vec![
        name(object),
        json!(text_or(object, &["type"], "Opaque")),
        json!(count(object, &["data"])),
        age(object, now),
    ]
}

const SERVICE_ACCOUNT: &[Column] = &[
    NAME,
    text("Secrets", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
    AGE,
];

fn service_account_cells(object: &Value, now: u64) -> Vec<Value> {
    vec![
        name(object),
        json!(count(object, &["secrets"])),
        age(object, now),
    ]
}

const CONFIG_MAP: &[Column] = &[
    NAME,
    text("Data", "Data contains the configuration data."),
    AGE,
];

fn config_map_cells(object: &Value, now: u64) -> Vec<Value> {
    vec![
        name(object),
        json!(count(object, &["data"]) + count(object, &["binaryData"])),
        age(object, now),
    ]
}

const RESOURCE_QUOTA: &[Column] = &[
    NAME,
    text("Request", "Request represents a minimum amount of cpu/memory that a container may consume."),
    text("Limit", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
    AGE,
];

fn resource_quota_cells(object: &Value, now: u64) -> Vec<Value> {
    let hard = at(object, &["status", "hard"]);
    let mut resources: Vec<&String> = hard
        .as_object()
        .map(|hard| hard.keys().collect())
        .unwrap_or_default();
    resources.sort();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for resource in resources {
        let entry = format!(
            "{resource}: {}/{}",
            quantity(at(object, &["status", "used", resource])),
            quantity(&hard[resource])
        );
        match resource.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    vec![
        name(object),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
        age(object, now),
    ]
}

const ROLE_BINDING: &[Column] = &[
    NAME,
    text("Role", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace."),
    AGE,
    wide("Users", "Users in the roleBinding"),
    wide("Groups", "Groups in the roleBinding"),
    wide("ServiceAccounts", "ServiceAccounts in the roleBinding"),
];

const CLUSTER_ROLE_BINDING: &[Column] = &[
    NAME,
    text(
        "Role",
        "RoleRef can only reference a ClusterRole in the global namespace.",
    ),
    AGE,
    wide("Users", "Users in the clusterRoleBinding"),
    wide("Groups", "Groups in the clusterRoleBinding"),
    wide(
        "ServiceAccounts",
        "ServiceAccounts in the clusterRoleBinding",
    ),
];

fn role_binding_cells(object: &Value, now: u64) -> Vec<Value> {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut service_accounts = Vec::new();
    for subject in items(object, &["subjects"]) {
        let subject_name = text_at(subject, &["name"]).to_string();
        match text_at(subject, &["kind"]) {
            "ServiceAccount" => service_accounts.push(format!(
                "{}/{subject_name}",
                text_at(subject, &["namespace"])
            )),
            "User" => users.push(subject_name),
            "Group" => groups.push(subject_name),
            _ => {}
        }
    }
    vec![
        name(object),
        json!(format!(
            "{}/{}",
            text_at(object, &["roleRef", "kind"]),
            text_at(object, &["roleRef", "name"])
        )),
        age(object, now),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(service_accounts.join(", ")),
    ]
}

const LEASE: &[Column] = &[
    NAME,
    text(
        "Holder",
        "holderIdentity contains the identity of the holder of a current lease.",
    ),
    AGE,
];

fn lease_cells(object: &Value, now: u64) -> Vec<Value> {
    vec![
        name(object),
        json!(text_at(object, &["spec", "holderIdentity"])),
        age(object, now),
    ]
}

const WEBHOOK_CONFIGURATION: &[Column] = &[
    NAME,
    integer(
        "Webhooks",
        "Webhooks indicates the number of webhooks registered in this configuration",
    ),
    AGE,
];

fn webhook_configuration_cells(object: &Value, now: u64) -> Vec<Value> {
    vec![
        name(object),
        json!(count(object, &["webhooks"])),
        age(object, now),
    ]
}

// ---------------------------------------------------------------------------------------------
// Storage

/// `GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order, each once.
fn access_modes(modes: &[Value]) -> String {
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.iter().any(|listed| listed == mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The storage class of a volume or claim: the beta annotation wins over the field.
fn storage_class(object: &Value) -> &str {
    at(
        object,
        &[
            "metadata",
            "annotations",
            "volume.beta.kubernetes.io/storage-class",
        ],
    )
    .as_str()
    .unwrap_or_else(|| text_at(object, &["spec", "storageClassName"]))
}

fn phase_or_terminating(object: &Value) -> &str {
    if !at(object, &["metadata", "deletionTimestamp"]).is_null() {
        "Terminating"
    } else {
        text_or(object, &["status", "phase"], "Pending")
    }
}

const PERSISTENT_VOLUME: &[Column] = &[
    NAME,
    text("Capacity", "capacity is the description of the persistent volume's resources and capacity."),
    text("Access Modes", "accessModes contains all ways the volume can be mounted."),
    text("Reclaim Policy", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
    text("Status", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
    text("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
    text("StorageClass", "StorageClass of the pv"),
    text("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
    text("Reason", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
    AGE,
    wide("VolumeMode", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state."),
];

fn persistent_volume_cells(object: &Value, now: u64) -> Vec<Value> {
    let claim = match at(object, &["spec", "claimRef"]) {
        Value::Object(_) => format!(
            "{}/{}",
            text_at(object, &["spec", "claimRef", "namespace"]),
            text_at(object, &["spec", "claimRef", "name"])
        ),
        _ => String::new(),
    };
    vec![
        name(object),
        json!(quantity(at(object, &["spec", "capacity", "storage"]))),
        json!(access_modes(items(object, &["spec", "accessModes"]))),
        json!(text_or(
            object,
            &["spec", "persistentVolumeReclaimPolicy"],
            "Retain"
        )),
        json!(phase_or_terminating(object)),
        json!(claim),
        json!(storage_class(object)),
        json!(text_or(
            object,
            &["spec", "volumeAttributesClassName"],
            "<unset>"
        )),
        json!(text_at(object, &["status", "reason"])),
        age(object, now),
        json!(text_or(object, &["spec", "volumeMode"], "Filesystem")),
    ]
}

const PERSISTENT_VOLUME_CLAIM: &[Column] = &[
    NAME,
    text("Status", "phase represents the current phase of PersistentVolumeClaim."),
    text("Volume", "volumeName is the binding reference to the PersistentVolume backing this claim."),
    text("Capacity", "capacity represents the actual resources of the underlying volume."),
    text("Access Modes", "accessModes contains the actual access modes the volume backing the PVC has."),
    text("StorageClass", "StorageClass of the pvc"),
    text("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    AGE,
    wide("VolumeMode", "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec."),
];

fn persistent_volume_claim_cells(object: &Value, now: u64) -> Vec<Value> {
    let volume = text_at(object, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(object, &["status", "capacity", "storage"])),
            access_modes(items(object, &["status", "accessModes"])),
        )
    };
    vec![
        name(object),
        json!(phase_or_terminating(object)),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class(object)),
        json!(text_or(
            object,
            &["spec", "volumeAttributesClassName"],
            "<unset>"
        )),
        age(object, now),
        json!(text_or(object, &["spec", "volumeMode"], "Filesystem")),
    ]
}

const STORAGE_CLASS: &[Column] = &[
    NAME,
    text("Provisioner", "provisioner indicates the type of the provisioner."),
    text("ReclaimPolicy", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete."),
    text("VolumeBindingMode", "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound."),
    text("AllowVolumeExpansion", "allowVolumeExpansion shows whether the storage class allow volume expand."),
    AGE,
];

fn storage_class_cells(object: &Value, now: u64) -> Vec<Value> {
    let annotations = at(object, &["metadata", "annotations"]);
    let default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|annotation| annotations[*annotation] == "true");
    let shown_name = if default {
        format!("{} (default)", text_at(object, &["metadata", "name"]))
    } else {
        text_at(object, &["metadata", "name"]).to_string()
    };
    vec![
        json!(shown_name),
        json!(text_at(object, &["provisioner"])),
        json!(text_or(object, &["reclaimPolicy"], "Delete")),
        json!(text_or(object, &["volumeBindingMode"], "Immediate")),
        json!(at(object, &["allowVolumeExpansion"])
            .as_bool()
            .unwrap_or(false)),
        age(object, now),
    ]
}

const CSI_DRIVER: &[Column] = &[
    NAME,
    column("AttachRequired", "boolean", 0, "attachRequired indicates this CSI volume driver requires an attach operation."),
    column("PodInfoOnMount", "boolean", 0, "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations."),
    column("StorageCapacity", "boolean", 0, "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report."),
    text("TokenRequests", "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication."),
    column("RequiresRepublish", "boolean", 0, "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume."),
    text("Modes", "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports."),
    AGE,
];

fn csi_driver_cells(object: &Value, now: u64) -> Vec<Value> {
    let flag = |field: &str, absent: bool| at(object, &["spec", field]).as_bool().unwrap_or(absent);
    let token_requests = match at(object, &["spec", "tokenRequests"]) {
        Value::Array(requests) => requests
            .iter()
            .map(|request| text_at(request, &["audience"]))
            .collect::<Vec<_>>()
            .join(","),
        _ => "<unset>".to_string(),
    };
    // kube defaults the lifecycle modes to Persistent.
    let modes: Vec<&str> = items(object, &["spec", "volumeLifecycleModes"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let modes = if modes.is_empty() {
        "Persistent".to_string()
    } else {
        modes.join(",")
    };
    vec![
        name(object),
        json!(flag("attachRequired", true)),
        json!(flag("podInfoOnMount", false)),
        json!(flag("storageCapacity", false)),
        json!(token_requests),
        json!(flag("requiresRepublish", false)),
        json!(modes),
        age(object, now),
    ]
}

const CSI_NODE: &[Column] = &[
    NAME,
    integer(
        "Drivers",
        "Drivers indicates the number of CSI drivers registered on the node",
    ),
    AGE,
];

fn csi_node_cells(object: &Value, now: u64) -> Vec<Value> {
    vec![
        name(object),
        json!(count(object, &["spec", "drivers"])),
        age(object, now),
    ]
}

const VOLUME_ATTACHMENT: &[Column] = &[
    NAME,
    Column {
        format: "name",
        ..text(
            "Attacher",
            "attacher indicates the name of the volume driver that MUST handle this request.",
        )
    },
    text(
        "PV",
        "persistentVolumeName represents the name of the persistent volume to attach.",
    ),
    text(
        "Node",
        "nodeName represents the node that the volume should be attached to.",
    ),
    column(
        "Attached",
        "boolean",
        0,
        "attached indicates the volume is successfully attached.",
    ),
    AGE,
];

fn volume_attachment_cells(object: &Value, now: u64) -> Vec<Value> {
    vec![
        name(object),
        json!(text_at(object, &["spec", "attacher"])),
        json!(text_at(object, &["spec", "source", "persistentVolumeName"])),
        json!(text_at(object, &["spec", "nodeName"])),
        json!(at(object, &["status", "attached"])
            .as_bool()
            .unwrap_or(false)),
        age(object, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-01T00:10:00Z: ten minutes after the objects below were made.
    const NOW: u64 = 1_767_226_200;
    const CREATED: &str = "2026-01-01T00:00:00Z";

    /// Each case: a kind, an object, the cells kube prints for it (wide ones included).
    fn cases() -> Vec<(&'static str, &'static str, Value, Value)> {
        vec![
            (
                "apps",
                "Deployment",
                json!({"metadata": {"name": "web", "creationTimestamp": CREATED},
                    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.27"}, {"name": "side", "image": "busybox"}]}}},
                    "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
                json!([
                    "web",
                    "2/3",
                    3,
                    2,
                    "10m",
                    "main,side",
                    "nginx:1.27,busybox",
                    "app=web"
                ]),
            ),
            (
                "apps",
                "Deployment",
                json!({"metadata": {"name": "fresh", "creationTimestamp": CREATED}, "spec": {"template": {"spec": {}}}}),
                json!(["fresh", "0/1", 0, 0, "10m", "", "", ""]),
            ),
            (
                "apps",
                "ReplicaSet",
                json!({"metadata": {"name": "web-1", "creationTimestamp": CREATED},
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": [{"name": "main", "image": "nginx"}]}}},
                    "status": {"replicas": 2, "readyReplicas": 1}}),
                json!(["web-1", 2, 2, 1, "10m", "main", "nginx", "app=web"]),
            ),
            (
                "apps",
                "StatefulSet",
                json!({"metadata": {"name": "db", "creationTimestamp": CREATED},
                    "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "pg", "image": "postgres"}]}}},
                    "status": {"readyReplicas": 3}}),
                json!(["db", "3/3", "10m", "pg", "postgres"]),
            ),
            (
                "apps",
                "DaemonSet",
                json!({"metadata": {"name": "agent", "creationTimestamp": CREATED},
                    "spec": {"selector": {}, "template": {"spec": {"nodeSelector": {"os": "linux"}, "containers": [{"name": "a", "image": "agent"}]}}},
                    "status": {"desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1}}),
                json!(["agent", 1, 1, 1, 1, 1, "os=linux", "10m", "a", "agent", "<none>"]),
            ),
            (
                "",
                "Pod",
                json!({"metadata": {"name": "web-x", "creationTimestamp": CREATED},
                    "spec": {"nodeName": "node-1", "containers": [{"name": "main"}, {"name": "side"}]},
                    "status": {"phase": "Running", "podIP": "10.0.0.5", "conditions": [{"type": "Ready", "status": "True"}],
                        "containerStatuses": [
                            {"name": "main", "ready": true, "restartCount": 0, "state": {"running": {}}},
                            {"name": "side", "ready": false, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-01-01T00:05:00Z"}}}]}}),
                json!([
                    "web-x",
                    "1/2",
                    "CrashLoopBackOff",
                    "2 (5m ago)",
                    "10m",
                    "10.0.0.5",
                    "node-1",
                    "<none>",
                    "<none>"
                ]),
            ),
            (
                "",
                "Pod",
                json!({"metadata": {"name": "new", "creationTimestamp": CREATED}, "spec": {"containers": [{"name": "c"}]}}),
                json!([
                    "new", "0/1", "Pending", "0", "10m", "<none>", "<none>", "<none>", "<none>"
                ]),
            ),
            (
                "",
                "Pod",
                json!({"metadata": {"name": "init", "creationTimestamp": CREATED},
                    "spec": {"initContainers": [{"name": "setup"}, {"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "c"}],
                        "readinessGates": [{"conditionType": "example.com/ready"}]},
                    "status": {"phase": "Pending", "conditions": [{"type": "example.com/ready", "status": "False"}],
                        "initContainerStatuses": [{"name": "setup", "state": {"waiting": {"reason": "PodInitializing"}}}]}}),
                json!(["init", "0/2", "Init:0/2", "0", "10m", "<none>", "<none>", "<none>", "0/1"]),
            ),
            (
                "",
                "Pod",
                json!({"metadata": {"name": "done", "creationTimestamp": CREATED}, "spec": {"containers": [{"name": "c"}]},
                    "status": {"phase": "Succeeded", "containerStatuses": [{"name": "c", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}),
                json!([
                    "done",
                    "0/1",
                    "Completed",
                    "0",
                    "10m",
                    "<none>",
                    "<none>",
                    "<none>",
                    "<none>"
                ]),
            ),
            (
                "",
                "Service",
                json!({"metadata": {"name": "web", "creationTimestamp": CREATED},
                    "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}, {"port": 53, "protocol": "UDP"}]}}),
                json!([
                    "web",
                    "ClusterIP",
                    "10.96.0.10",
                    "<none>",
                    "80/TCP,53/UDP",
                    "10m",
                    "app=web"
                ]),
            ),
            (
                "",
                "Service",
                json!({"metadata": {"name": "lb", "creationTimestamp": CREATED},
                    "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.11"], "ports": [{"port": 443, "nodePort": 30443}]},
                    "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}, {"ip": "203.0.113.9"}]}}}),
                json!([
                    "lb",
                    "LoadBalancer",
                    "10.96.0.11",
                    "203.0.113.9,lb.example.com",
                    "443:30443/TCP",
                    "10m",
                    "<none>"
                ]),
            ),
            (
                "",
                "Service",
                json!({"metadata": {"name": "ext", "creationTimestamp": CREATED}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}}),
                json!([
                    "ext",
                    "ExternalName",
                    "<none>",
                    "db.example.com",
                    "<none>",
                    "10m",
                    "<none>"
                ]),
            ),
            (
                "batch",
                "Job",
                json!({"metadata": {"name": "once", "creationTimestamp": CREATED},
                    "spec": {"template": {"spec": {"containers": [{"name": "job", "image": "busybox"}]}}},
                    "status": {"succeeded": 1, "startTime": "2026-01-01T00:00:05Z", "completionTime": "2026-01-01T00:00:47Z",
                        "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}}),
                json!(["once", "Complete", "1/1", "42s", "10m", "job", "busybox", "<none>"]),
            ),
            (
                "batch",
                "Job",
                json!({"metadata": {"name": "work", "creationTimestamp": CREATED},
                    "spec": {"parallelism": 3, "template": {"spec": {}}},
                    "status": {"startTime": "2026-01-01T00:00:00Z"}}),
                json!(["work", "Running", "0/1 of 3", "10m", "10m", "", "", "<none>"]),
            ),
            (
                "batch",
                "CronJob",
                json!({"metadata": {"name": "nightly", "creationTimestamp": CREATED},
                    "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}}}),
                json!([
                    "nightly",
                    "0 3 * * *",
                    "<none>",
                    "False",
                    0,
                    "<none>",
                    "10m",
                    "c",
                    "i",
                    "<none>"
                ]),
            ),
            (
                "",
                "ConfigMap",
                json!({"metadata": {"name": "settings", "creationTimestamp": CREATED}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
                json!(["settings", 3, "10m"]),
            ),
            (
                "",
                "Secret",
                json!({"metadata": {"name": "token", "creationTimestamp": CREATED}, "data": {"key": "czNjcmV0"}}),
                json!(["token", "Opaque", 1, "10m"]),
            ),
            (
                "",
                "Namespace",
                json!({"metadata": {"name": "team", "creationTimestamp": CREATED}, "status": {"phase": "Active"}}),
                json!(["team", "Active", "10m"]),
            ),
            (
                "",
                "ServiceAccount",
                json!({"metadata": {"name": "default", "creationTimestamp": CREATED}}),
                json!(["default", 0, "10m"]),
            ),
            (
                "",
                "PersistentVolumeClaim",
                json!({"metadata": {"name": "data", "creationTimestamp": CREATED},
                    "spec": {"volumeName": "pv-1", "storageClassName": "fast", "accessModes": ["ReadWriteOnce"]},
                    "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}}),
                json!([
                    "data",
                    "Bound",
                    "pv-1",
                    "1Gi",
                    "RWO,RWX",
                    "fast",
                    "<unset>",
                    "10m",
                    "Filesystem"
                ]),
            ),
            (
                "",
                "Node",
                json!({"metadata": {"name": "node-1", "creationTimestamp": CREATED, "labels": {"node-role.kubernetes.io/control-plane": ""}},
                    "spec": {"unschedulable": true},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.33.0"},
                        "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}),
                json!([
                    "node-1",
                    "Ready,SchedulingDisabled",
                    "control-plane",
                    "10m",
                    "v1.33.0",
                    "10.0.0.1",
                    "<none>",
                    "<unknown>",
                    "<unknown>",
                    "<unknown>"
                ]),
            ),
            (
                "",
                "Event",
                json!({"metadata": {"name": "web.1", "creationTimestamp": CREATED}, "type": "Normal", "reason": "Scheduled",
                    "message": "assigned\n", "involvedObject": {"kind": "Pod", "name": "web-x"}, "source": {"component": "scheduler"},
                    "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:08:00Z", "count": 2}),
                json!([
                    "2m",
                    "Normal",
                    "Scheduled",
                    "pod/web-x",
                    "",
                    "scheduler",
                    "assigned",
                    "10m",
                    2,
                    "web.1"
                ]),
            ),
            (
                "networking.k8s.io",
                "Ingress",
                json!({"metadata": {"name": "site", "creationTimestamp": CREATED},
                    "spec": {"ingressClassName": "nginx", "tls": [{}], "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "c.example.com"}, {"host": "d.example.com"}]}}),
                json!([
                    "site",
                    "nginx",
                    "a.example.com,b.example.com,c.example.com + 2 more...",
                    "",
                    "80, 443",
                    "10m"
                ]),
            ),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"metadata": {"name": "web", "creationTimestamp": CREATED},
                    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5},
                    "status": {"currentReplicas": 2}}),
                json!([
                    "web",
                    "Deployment/web",
                    "cpu: <unknown>/80%",
                    "1",
                    5,
                    2,
                    "10m"
                ]),
            ),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"metadata": {"name": "busy", "creationTimestamp": CREATED},
                    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "busy"}, "minReplicas": 2, "maxReplicas": 9, "metrics": [
                        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
                        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]},
                    "status": {"currentMetrics": [{"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "50Mi"}}}]}}),
                json!([
                    "busy",
                    "Deployment/busy",
                    "memory: 50Mi/100Mi, <unknown>/10 + 1 more...",
                    "2",
                    9,
                    0,
                    "10m"
                ]),
            ),
            (
                "rbac.authorization.k8s.io",
                "RoleBinding",
                json!({"metadata": {"name": "readers", "creationTimestamp": CREATED}, "roleRef": {"kind": "ClusterRole", "name": "view"},
                    "subjects": [{"kind": "User", "name": "ann"}, {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}, {"kind": "Group", "name": "devs"}]}),
                json!([
                    "readers",
                    "ClusterRole/view",
                    "10m",
                    "ann",
                    "devs",
                    "ci/bot"
                ]),
            ),
            (
                "",
                "Endpoints",
                json!({"metadata": {"name": "web", "creationTimestamp": CREATED}, "subsets": [
                    {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]}),
                json!([
                    "web",
                    "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
                    "10m"
                ]),
            ),
            (
                "autoscaling",
                "Scale",
                json!({"metadata": {"name": "web", "creationTimestamp": CREATED}, "spec": {"replicas": 4}, "status": {"replicas": 2}}),
                json!(["web", 4, 2, "10m"]),
            ),
        ]
    }

    #[test]
    fn cells_match_kubes_printers() {
        for (group, kind, object, expected) in cases() {
            let printer = printer(group, kind).expect("a printer");
            let cells = (printer.cells)(&object, NOW);
            assert_eq!(Value::Array(cells.clone()), expected, "{kind} {object}");
            assert_eq!(
                cells.len(),
                printer.columns.len(),
                "{kind}: one cell per column"
            );
        }
    }

    #[test]
    fn every_printer_has_one_cell_per_column() {
        let empty = json!({"metadata": {"name": "x"}});
        for printer in PRINTERS {
            assert_eq!(
                (printer.cells)(&empty, NOW).len(),
                printer.columns.len(),
                "{}",
                printer.kind
            );
        }
    }

    #[test]
    fn durations_read_as_kube_writes_them() {
        for (seconds, expected) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (599, "9m59s"),
            (600, "10m"),
            (10_799, "179m"),
            (10_800, "3h"),
            (15_000, "4h10m"),
            (28_800, "8h"),
            (172_799, "47h"),
            (172_800, "2d"),
            (190_800, "2d5h"),
            (691_200, "8d"),
            (63_072_000, "2y"),
            (64_000_000, "2y10d"),
            (252_288_000, "8y"),
        ] {
            assert_eq!(human_duration(seconds), expected, "{seconds}");
        }
    }

    #[test]
    fn completed_pods_carry_a_row_condition() {
        let pod = json!({"status": {"phase": "Failed"}});
        assert_eq!(
            row_conditions("", "Pod", &pod),
            Some(
                json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}])
            )
        );
        assert_eq!(
            row_conditions("", "Pod", &json!({"status": {"phase": "Running"}})),
            None
        );
    }
}
