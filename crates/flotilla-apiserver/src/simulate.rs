//! Simulation controllers (`--simulate`): Deployments (through ReplicaSets), StatefulSets,
//! DaemonSets and Jobs progress to ready or complete with owned Pods marked Running (Succeeded
//! for Jobs); custom resources with a status subresource get `status.conditions` Ready=True (and
//! `status.phase` when their schema has one) with `observedGeneration`, after a configurable
//! delay. The annotation [`FAILURE_ANNOTATION`] makes an object fail instead, so degraded paths
//! can be tested.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch as signal;

use crate::http::App;
use crate::registry::ResourceType;
use crate::rest::{self, ApiState, Part, ReplaceOperation, WriteOptions};
use crate::util::{self, metadata_str};

/// Set on an object (any value; the value becomes the failure message) to make it fail.
pub const FAILURE_ANNOTATION: &str = "flotilla.dev/simulate-failure";

const MANAGER: &str = "flotilla-simulator";

/// How the simulation behaves.
#[derive(Clone, Debug)]
pub struct SimulationConfig {
    /// How long after a change a simulated object becomes ready.
    pub delay: Duration,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            delay: Duration::from_millis(500),
        }
    }
}

type Key = (String, String, String);

pub fn start(app: Arc<App>, config: SimulationConfig, mut shutdown: signal::Receiver<bool>) {
    let Ok(mut subscription) = app.api.store.subscribe(None) else {
        return;
    };
    let pending: Arc<Mutex<HashSet<Key>>> = Arc::default();
    tokio::spawn(async move {
        // Objects that existed before start.
        for storage_key in app.api.store.storage_keys() {
            let (objects, _) = app.api.store.list(&storage_key, None);
            for object in objects {
                schedule(&app, &config, &pending, &storage_key, &object, &shutdown);
            }
        }
        loop {
            let received = tokio::select! {
                received = subscription.live.recv() => received,
                _ = shutdown.changed() => return,
            };
            match received {
                Ok(event) if event.event_type != crate::storage::EventType::Deleted => schedule(
                    &app,
                    &config,
                    &pending,
                    &event.storage_key,
                    &event.object,
                    &shutdown,
                ),
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
}

fn simulated(storage_key: &str, state: &ApiState) -> Option<ResourceType> {
    state
        .registry
        .all()
        .into_iter()
        .filter(|resource| resource.storage_key() == storage_key)
        .max_by_key(|resource| resource.storage_version)
        .filter(|resource| {
            matches!(
                storage_key,
                "apps/deployments"
                    | "apps/replicasets"
                    | "apps/statefulsets"
                    | "apps/daemonsets"
                    | "batch/jobs"
            ) || (resource.custom
                && resource.has_status
                && !crate::olm::owns_group(&resource.group))
        })
}

fn needs_work(object: &Value) -> bool {
    if metadata_str(object, "deletionTimestamp").is_some() {
        return false;
    }
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
    object["status"]["observedGeneration"].as_i64() != Some(generation)
}

fn schedule(
    app: &Arc<App>,
    config: &SimulationConfig,
    pending: &Arc<Mutex<HashSet<Key>>>,
    storage_key: &str,
    object: &Value,
    shutdown: &signal::Receiver<bool>,
) {
    let Some(resource) = simulated(storage_key, &app.api) else {
        return;
    };
    if !needs_work(object) {
        return;
    }
    let key = (
        storage_key.to_string(),
        metadata_str(object, "namespace")
            .unwrap_or_default()
            .to_string(),
        metadata_str(object, "name").unwrap_or_default().to_string(),
    );
    {
        let mut pending = pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !pending.insert(key.clone()) {
            return;
        }
    }
    let app = app.clone();
    let pending = pending.clone();
    let delay = config.delay;
    let mut shutdown = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
        pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&key);
        let (_, namespace, name) = &key;
        if let Some(current) = app.api.store.get(&key.0, namespace, name) {
            if needs_work(&current) {
                reconcile(&app.api, &resource, &current);
            }
        }
    });
}

fn failure(object: &Value) -> Option<String> {
    object["metadata"]["annotations"][FAILURE_ANNOTATION]
        .as_str()
        .map(|message| {
            if message.is_empty() {
                "simulated failure".to_string()
            } else {
                message.to_string()
            }
        })
}

fn options() -> WriteOptions {
    WriteOptions {
        field_manager: Some(MANAGER.to_string()),
        ..WriteOptions::default()
    }
}

fn write_status(state: &ApiState, resource: &ResourceType, object: &Value, status: Value) {
    rest::write_status_as(state, resource, object, status, MANAGER);
}

fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason, "message": message,
        "lastTransitionTime": util::now_rfc3339(), "lastUpdateTime": util::now_rfc3339()})
}

fn owner_reference(object: &Value, api_version: &str, kind: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": metadata_str(object, "name"), "uid": metadata_str(object, "uid"),
        "controller": true, "blockOwnerDeletion": true})
}

fn template_hash(template: &Value) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    template.to_string().hash(&mut hasher);
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut value = hasher.finish();
    (0..10)
        .map(|_| {
            let character = ALPHABET[(value % ALPHABET.len() as u64) as usize] as char;
            value /= ALPHABET.len() as u64;
            character
        })
        .collect()
}

fn lookup(state: &ApiState, group: &str, plural: &str) -> Option<ResourceType> {
    state.registry.lookup(group, "v1", plural)
}

fn owned_pods(state: &ApiState, namespace: &str, owner_uid: &str) -> Vec<Arc<Value>> {
    let (pods, _) = state.store.list("/pods", Some(namespace));
    pods.into_iter()
        .filter(|pod| {
            pod["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|references| {
                    references
                        .iter()
                        .any(|reference| reference["uid"].as_str() == Some(owner_uid))
                })
        })
        .collect()
}

/// Creates a Pod from a template, owned by `owner`, and marks it Running (or Succeeded).
fn create_pod(
    state: &ApiState,
    owner: &Value,
    owner_api_version: &str,
    owner_kind: &str,
    name: Option<String>,
    template: &Value,
    phase: &str,
) {
    let Some(pods) = lookup(state, "", "pods") else {
        return;
    };
    let namespace = metadata_str(owner, "namespace")
        .unwrap_or_default()
        .to_string();
    let owner_name = metadata_str(owner, "name").unwrap_or_default();
    let mut metadata = json!({"labels": template["metadata"]["labels"].clone(), "ownerReferences": [owner_reference(owner, owner_api_version, owner_kind)]});
    match name {
        Some(name) => metadata["name"] = json!(name),
        None => metadata["generateName"] = json!(format!("{owner_name}-")),
    }
    if metadata["labels"].is_null() {
        metadata
            .as_object_mut()
            .expect("object")
            .shift_remove("labels");
    }
    let mut spec = template["spec"].clone();
    if !spec.is_object() {
        spec = json!({"containers": []});
    }
    spec["nodeName"] = json!("flotilla-node");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec});
    let Ok(created) = rest::create(state, &pods, Some(&namespace), pod, &options()) else {
        return;
    };
    let ready = phase == "Running";
    let containers: Vec<Value> = created["spec"]["containers"]
        .as_array()
        .map(|containers| {
            containers
                .iter()
                .map(|container| {
                    let state_entry = if ready { json!({"running": {"startedAt": util::now_rfc3339()}}) } else { json!({"terminated": {"exitCode": 0, "reason": "Completed"}}) };
                    json!({"name": container["name"], "image": container["image"], "ready": ready, "started": ready, "restartCount": 0, "state": state_entry})
                })
                .collect()
        })
        .unwrap_or_default();
    let status = json!({
        "phase": phase,
        "conditions": [condition("Ready", ready, if ready { "" } else { "PodCompleted" }, ""), condition("PodScheduled", true, "", "")],
        "hostIP": "10.0.0.1", "podIP": "10.244.0.10", "startTime": util::now_rfc3339(),
        "containerStatuses": containers,
    });
    write_status(state, &pods, &created, status);
}

fn reconcile(state: &ApiState, resource: &ResourceType, object: &Value) {
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
    let failed = failure(object);
    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1).max(0);
    let namespace = metadata_str(object, "namespace")
        .unwrap_or_default()
        .to_string();
    let name = metadata_str(object, "name").unwrap_or_default().to_string();
    let uid = metadata_str(object, "uid").unwrap_or_default().to_string();
    match resource.storage_key().as_str() {
        "apps/deployments" => {
            let template = &object["spec"]["template"];
            let set_name = format!("{name}-{}", template_hash(template));
            if let Some(replica_sets) = lookup(state, "apps", "replicasets") {
                // Old ReplicaSets of this Deployment go; the current one gets the replica count.
                let (sets, _) = state.store.list("apps/replicasets", Some(&namespace));
                for set in sets.iter().filter(|set| {
                    set["metadata"]["ownerReferences"][0]["uid"].as_str() == Some(uid.as_str())
                }) {
                    let set_name_found = metadata_str(set, "name").unwrap_or_default();
                    if set_name_found != set_name {
                        let _ = rest::delete(
                            state,
                            &replica_sets,
                            &namespace,
                            set_name_found,
                            &rest::DeleteOptions::default(),
                        );
                    }
                }
                match state.store.get("apps/replicasets", &namespace, &set_name) {
                    None => {
                        let set = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                            "metadata": {"name": set_name, "labels": template["metadata"]["labels"].clone(), "ownerReferences": [owner_reference(object, "apps/v1", "Deployment")]},
                            "spec": {"replicas": replicas, "selector": object["spec"]["selector"].clone(), "template": template.clone()}});
                        let _ =
                            rest::create(state, &replica_sets, Some(&namespace), set, &options());
                    }
                    Some(set)
                        if set["spec"].is_object()
                            && set["spec"]["replicas"].as_i64() != Some(replicas) =>
                    {
                        let mut next = (*set).clone();
                        next["spec"]["replicas"] = json!(replicas);
                        let _ = rest::replace(
                            state,
                            &replica_sets,
                            &namespace,
                            &set_name,
                            Part::Main,
                            next,
                            &options(),
                            ReplaceOperation::Update,
                        );
                    }
                    Some(_) => {}
                }
            }
            let (ready, conditions) = match &failed {
                None => (
                    replicas,
                    vec![
                        condition(
                            "Available",
                            true,
                            "MinimumReplicasAvailable",
                            "Deployment has minimum availability.",
                        ),
                        condition(
                            "Progressing",
                            true,
                            "NewReplicaSetAvailable",
                            &format!("ReplicaSet \"{set_name}\" has successfully progressed."),
                        ),
                    ],
                ),
                Some(message) => (
                    0,
                    vec![
                        condition("Available", false, "MinimumReplicasUnavailable", message),
                        condition("Progressing", false, "ProgressDeadlineExceeded", message),
                    ],
                ),
            };
            let mut status = json!({"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas, "conditions": conditions});
            if ready > 0 {
                status["readyReplicas"] = json!(ready);
                status["availableReplicas"] = json!(ready);
            } else if replicas > 0 {
                status["unavailableReplicas"] = json!(replicas);
            }
            write_status(state, resource, object, status);
        }
        "apps/replicasets" => {
            let pods = owned_pods(state, &namespace, &uid);
            let existing = pods.len() as i64;
            for _ in existing..replicas {
                create_pod(
                    state,
                    object,
                    "apps/v1",
                    "ReplicaSet",
                    None,
                    &object["spec"]["template"],
                    "Running",
                );
            }
            if let Some(pod_type) = lookup(state, "", "pods") {
                for pod in pods.iter().skip(replicas as usize) {
                    let pod_name = metadata_str(pod, "name").unwrap_or_default();
                    let _ = rest::delete(
                        state,
                        &pod_type,
                        &namespace,
                        pod_name,
                        &rest::DeleteOptions::default(),
                    );
                }
            }
            let ready = if failed.is_some() { 0 } else { replicas };
            write_status(
                state,
                resource,
                object,
                json!({"observedGeneration": generation, "replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready}),
            );
        }
        "apps/statefulsets" => {
            for ordinal in 0..replicas {
                let pod_name = format!("{name}-{ordinal}");
                if state.store.get("/pods", &namespace, &pod_name).is_none() {
                    create_pod(
                        state,
                        object,
                        "apps/v1",
                        "StatefulSet",
                        Some(pod_name),
                        &object["spec"]["template"],
                        "Running",
                    );
                }
            }
            let ready = if failed.is_some() { 0 } else { replicas };
            write_status(
                state,
                resource,
                object,
                json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": ready, "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": ready}),
            );
        }
        "apps/daemonsets" => {
            if owned_pods(state, &namespace, &uid).is_empty() {
                create_pod(
                    state,
                    object,
                    "apps/v1",
                    "DaemonSet",
                    None,
                    &object["spec"]["template"],
                    "Running",
                );
            }
            let ready = if failed.is_some() { 0 } else { 1 };
            write_status(
                state,
                resource,
                object,
                json!({"observedGeneration": generation, "desiredNumberScheduled": 1, "currentNumberScheduled": 1, "updatedNumberScheduled": 1, "numberReady": ready, "numberAvailable": ready, "numberMisscheduled": 0}),
            );
        }
        "batch/jobs" => {
            if owned_pods(state, &namespace, &uid).is_empty() {
                let phase = if failed.is_some() {
                    "Failed"
                } else {
                    "Succeeded"
                };
                create_pod(
                    state,
                    object,
                    "batch/v1",
                    "Job",
                    None,
                    &object["spec"]["template"],
                    phase,
                );
            }
            let now = util::now_rfc3339();
            let status = match &failed {
                None => {
                    json!({"observedGeneration": generation, "succeeded": 1, "startTime": now, "completionTime": now,
                    "conditions": [condition("SuccessCriteriaMet", true, "CompletionsReached", "Reached expected number of succeeded pods"), condition("Complete", true, "CompletionsReached", "Reached expected number of succeeded pods")]})
                }
                Some(message) => {
                    json!({"observedGeneration": generation, "failed": 1, "startTime": now,
                    "conditions": [condition("FailureTarget", true, "BackoffLimitExceeded", message), condition("Failed", true, "BackoffLimitExceeded", message)]})
                }
            };
            write_status(state, resource, object, status);
        }
        _ => {
            // The phase the operator writes when the catalog knows it (`Running` for a
            // QueueManager), else `Ready` when the schema has a phase.
            let catalog_phase =
                flotilla_catalog::Catalog::embedded().ready_phase(&resource.group, &resource.kind);
            let uses_phase = catalog_phase.is_some()
                || resource.schema.as_ref().is_some_and(|schema| {
                    schema["properties"]["status"]["properties"]
                        .get("phase")
                        .is_some()
                });
            let mut status = object["status"].clone();
            if !status.is_object() {
                status = json!({});
            }
            let ready = failed.is_none();
            let message = failed
                .clone()
                .unwrap_or_else(|| "simulated: ready".to_string());
            status["observedGeneration"] = json!(generation);
            status["conditions"] = json!([condition(
                "Ready",
                ready,
                if ready {
                    "Simulated"
                } else {
                    "SimulatedFailure"
                },
                &message
            )]);
            if uses_phase {
                status["phase"] = json!(if ready {
                    catalog_phase.unwrap_or("Ready")
                } else {
                    "Failed"
                });
            }
            write_status(state, resource, object, status);
        }
    }
}
