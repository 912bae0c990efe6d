//! What a pass reports: `Application.status` filled from a comparison (sync, health, resources,
//! source type, images, conditions keeping their first transition time), the Application's
//! metrics, and the status write with the next requeue.
//!
//! Depends on `context`, `metrics`, `objects`, `status` and `reconcile::{lifecycle, evaluate}`.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use flotilla_health::HealthStatus;
use serde_json::{json, Map, Value};

use super::evaluate::Evaluation;
use super::lifecycle::schedule;
use crate::context::{AppKey, Shared};
use crate::objects::ObjectKey;
use crate::status::{write_status, STATUS_WRITE_RETRY};

#[allow(clippy::too_many_arguments)]
pub(super) async fn finish(
    shared: &Arc<Shared>,
    key: &AppKey,
    application: &Value,
    mut status: Map<String, Value>,
    previous_status: &Map<String, Value>,
    evaluation: Evaluation,
    resources: Vec<Value>,
    out_of_sync: HashSet<ObjectKey>,
    conditions: Vec<Value>,
    clear_operation: bool,
    refreshed: bool,
    mut requeue_after: Option<Duration>,
) {
    let (sync_status, health) = build_status(
        &mut status,
        previous_status,
        &evaluation,
        resources,
        &out_of_sync,
        conditions,
    );
    shared.metrics.set_app(
        &key.0,
        &key.1,
        crate::metrics::AppInfo {
            project: evaluation.project.clone(),
            sync_status: sync_status.to_string(),
            health_status: health.as_str().to_string(),
            repository: evaluation
                .sources
                .first()
                .map(|source| source.repo_url.clone())
                .unwrap_or_default(),
            destination_server: evaluation
                .spec
                .destination
                .server
                .clone()
                .unwrap_or_default(),
            destination_namespace: evaluation.spec.destination.namespace().to_string(),
        },
    );
    let written = write_status(
        shared,
        key,
        application,
        status,
        previous_status,
        clear_operation,
        refreshed,
    )
    .await;
    if !written {
        requeue_after =
            Some(requeue_after.map_or(STATUS_WRITE_RETRY, |delay| delay.min(STATUS_WRITE_RETRY)));
    }
    if let Some(delay) = requeue_after {
        schedule(shared, key, delay);
    }
}

/// Fills `status` from one comparison: sync (status, revision, comparedTo), health (the worst
/// of the resources'), resources, source type, images and conditions (keeping the first
/// transition time of those `previous_status` had). Returns the sync status and the health.
#[allow(clippy::too_many_arguments)]
pub(super) fn build_status(
    status: &mut Map<String, Value>,
    previous_status: &Map<String, Value>,
    evaluation: &Evaluation,
    resources: Vec<Value>,
    out_of_sync: &HashSet<ObjectKey>,
    conditions: Vec<Value>,
) -> (&'static str, HealthStatus) {
    let mut health = HealthStatus::Healthy;
    let mut health_message: Option<String> = None;
    for resource in &resources {
        if let Some(text) = resource["health"]["status"].as_str() {
            if let Ok(status) = serde_json::from_value::<HealthStatus>(json!(text)) {
                if status.is_worse_than(health) {
                    health = status;
                    health_message = resource["health"]["message"].as_str().map(|message| {
                        format!(
                            "{}/{}: {message}",
                            resource["kind"].as_str().unwrap_or(""),
                            resource["name"].as_str().unwrap_or("")
                        )
                    });
                }
            }
        }
    }
    let sync_status = if out_of_sync.is_empty() {
        "Synced"
    } else {
        "OutOfSync"
    };
    let source = serde_json::to_value(evaluation.sources.first()).unwrap_or(Value::Null);
    let mut sync = json!({
        "status": sync_status,
        "revision": evaluation.revisions.first().cloned().unwrap_or_default(),
        "comparedTo": {"source": source, "destination": evaluation.spec.destination},
    });
    if evaluation.revisions.len() > 1 {
        sync["revisions"] = json!(evaluation.revisions);
        sync["comparedTo"]["sources"] =
            serde_json::to_value(&evaluation.sources).unwrap_or(Value::Null);
    }
    status.insert("sync".into(), sync);
    let mut health_value = json!({"status": health.as_str()});
    if let Some(message) = health_message.filter(|_| health != HealthStatus::Healthy) {
        health_value["message"] = json!(message);
    }
    status.insert("health".into(), health_value);
    status.insert("resources".into(), Value::Array(resources));
    if let Some(source_type) = evaluation.source_type {
        status.insert("sourceType".into(), json!(source_type));
    }
    let images: BTreeSet<String> = evaluation
        .desired
        .iter()
        .flat_map(|desired| desired.images.iter().cloned())
        .collect();
    status.insert("summary".into(), json!({"images": images}));
    // Keep the first transition time of conditions that persist.
    let previous_conditions = previous_status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let conditions: Vec<Value> = conditions
        .into_iter()
        .map(|mut condition| {
            if let Some(previous) = previous_conditions.iter().find(|previous| {
                previous["type"] == condition["type"] && previous["message"] == condition["message"]
            }) {
                condition["lastTransitionTime"] = previous["lastTransitionTime"].clone();
            }
            condition
        })
        .collect();
    if conditions.is_empty() {
        status.remove("conditions");
    } else {
        status.insert("conditions".into(), Value::Array(conditions));
    }
    (sync_status, health)
}
