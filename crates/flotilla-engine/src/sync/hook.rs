//! A hook run: created (or replaced), awaited until it finishes or the wave timeout passes, and
//! deleted as its delete policy says; its `status.operationState` entry.
//!
//! Invariant, as Argo CD's: one operation creates each hook at most once, even across
//! controller restarts. Before its first hook the operation is recorded `Running` with its
//! `startedAt` (a checkpoint), each hook carries that `startedAt` (`OPERATION_ANNOTATION`), and
//! a finished hook's result is recorded before its delete policy removes it; an operation
//! resumed after a restart (`reconcile::operation`) skips the hooks it recorded as finished and
//! adopts (awaits) the ones it finds carrying its `startedAt`, instead of replacing them. A hook
//! is replaced (`BeforeHookCreation`) only by a new operation: a retry, a later sync.
//!
//! Depends on `context`, `live`, `cluster`, `objects` and `sync::{control, apply}`.

use std::time::Instant;

use flotilla_health::HealthStatus;
use flotilla_plan::{HookDeletePolicy, Task};
use serde_json::{json, Value};

use crate::cluster::{ClusterError, ResourceInfo};
use crate::context::Shared;
use crate::live::LiveCache;
use crate::objects::resource_entry;

use super::apply::resource_for;
use super::control::{display_name, phase_name, SyncControl, WaitError, OPERATION_ANNOTATION};

/// Creates a hook (or adopts the one this operation created before a restart), waits for it to
/// finish, records its result (`recorded`: the results before it) and applies its delete
/// policies.
pub(super) async fn run_hook(
    shared: &Shared,
    cache: &LiveCache,
    task: &Task,
    info: Option<ResourceInfo>,
    dry_run: bool,
    control: Option<&SyncControl<'_>>,
    recorded: &[Value],
) -> Result<Value, (Value, WaitError)> {
    let mut entry = resource_entry(&task.object);
    entry["syncPhase"] = json!(phase_name(task.phase));
    entry["hookType"] = json!(phase_name(task.phase));
    let fail = |mut entry: Value, message: String| {
        entry["status"] = json!("SyncFailed");
        entry["hookPhase"] = json!("Failed");
        entry["message"] = json!(message.clone());
        Err((entry, WaitError::Failed(message)))
    };
    let info = match resource_for(shared, cache, &task.object, info, control).await {
        Ok(info) => info,
        Err(WaitError::Failed(message)) => return fail(entry, message),
        Err(interrupted) => return Err((entry, interrupted)),
    };
    let policies: Vec<HookDeletePolicy> = task
        .hook
        .as_ref()
        .map(|hook| hook.delete_policies.clone())
        .unwrap_or_default();
    let policies = if policies.is_empty() {
        vec![HookDeletePolicy::BeforeHookCreation]
    } else {
        policies
    };
    let namespace = task.object["metadata"]["namespace"]
        .as_str()
        .map(str::to_string);
    if dry_run {
        entry["status"] = json!("Synced");
        entry["hookPhase"] = json!("Succeeded");
        entry["message"] = json!("hook (dry run)");
        return Ok(entry);
    }
    if let Some(control) = control {
        if let Err(fenced) = control.fenced(shared) {
            return Err((entry, fenced));
        }
        // A hook the resumed operation already ran to its end is not run again.
        if let Some(finished) = control.operation.finished_hook(&entry) {
            let finished = finished.clone();
            if finished["hookPhase"] == "Succeeded" {
                return Ok(finished);
            }
            let message = finished["message"]
                .as_str()
                .unwrap_or("hook failed")
                .to_string();
            return fail(finished, message);
        }
    }
    let waits = matches!(info.resource.kind.as_str(), "Job" | "Pod");
    match cache
        .ensure(&info.resource.api_version, &info.resource.kind)
        .await
    {
        Ok(_) => {}
        // A kind the server serves only once this hook is written (it accepts unknown kinds):
        // nothing is watched for a hook that is not waited on.
        Err(ClusterError::UnknownKind { .. }) if !waits => {}
        Err(error) => return fail(entry, error.to_string()),
    }
    let mut object = task.object.clone();
    if let Some(control) = control {
        object["metadata"]["annotations"][OPERATION_ANNOTATION] = json!(control.operation.started);
    }
    let name = task.object["metadata"]["name"].as_str();
    // A resumed operation's own hook, created before the restart: awaited, not replaced.
    let adopted = match (control, name) {
        (Some(control), Some(name)) if control.operation.resumed => {
            match cache.cluster.get(&info, namespace.as_deref(), name).await {
                Ok(live) => live.filter(|live| {
                    live["metadata"]["annotations"][OPERATION_ANNOTATION]
                        == control.operation.started.as_str()
                        && live["metadata"]["deletionTimestamp"].is_null()
                }),
                Err(error) => return fail(entry, error.to_string()),
            }
        }
        _ => None,
    };
    let created = match adopted {
        Some(live) => live,
        None => {
            if let Some(control) = control.filter(|control| !control.start_recorded()) {
                // The operation is recorded before its first hook exists, so that a
                // controller restarted from now on resumes it instead of starting another.
                match control.checkpoint(recorded).await {
                    Ok(()) => {}
                    Err(WaitError::Failed(message)) => return fail(entry, message),
                    Err(interrupted) => return Err((entry, interrupted)),
                }
            }
            if let (Some(name), true) = (
                name,
                policies.contains(&HookDeletePolicy::BeforeHookCreation),
            ) {
                if let Err(error) = cache
                    .cluster
                    .delete(&info, namespace.as_deref(), name, "background")
                    .await
                {
                    return fail(entry, error.to_string());
                }
                // Wait until it is gone, so the create below does not collide with it.
                let deadline = Instant::now() + shared.config.wave_timeout;
                while cache
                    .cluster
                    .get(&info, namespace.as_deref(), name)
                    .await
                    .ok()
                    .flatten()
                    .is_some()
                    && Instant::now() < deadline
                {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
            match cache.cluster.create(&info, &object).await {
                Ok(created) => created,
                Err(error) => {
                    return fail(entry, format!("{}: {error}", display_name(&task.object)))
                }
            }
        }
    };
    let created = cache.record(created);
    let name = created["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    entry["name"] = json!(name);
    let deadline = Instant::now() + shared.config.wave_timeout;
    let mut outcome: Result<String, String> = Ok(format!("{} created", display_name(&created)));
    if waits {
        if let Some(control) = control {
            control.report(format!(
                "waiting for hook {} to finish",
                display_name(&created)
            ));
        }
    }
    while waits && outcome.is_ok() {
        if let Some(reason) = control.and_then(|control| (control.interrupt)()) {
            // The hook stays as it is (a Job may be half done): the next sync's
            // BeforeHookCreation policy replaces it.
            return Err((entry, WaitError::Interrupted(reason)));
        }
        let live = cache
            .watched(&info.resource.api_version, &info.resource.kind)
            .and_then(|kind_cache| kind_cache.get(namespace.as_deref().unwrap_or(""), &name));
        if let Some(live) = live {
            let finished = if info.resource.kind == "Pod" {
                match live["status"]["phase"].as_str() {
                    Some("Succeeded") => Some(Ok("pod completed".to_string())),
                    Some("Failed") => Some(Err(live["status"]["message"]
                        .as_str()
                        .unwrap_or("pod failed")
                        .to_string())),
                    _ => None,
                }
            } else {
                match flotilla_health::assess(&live) {
                    Some(health) if health.status == HealthStatus::Healthy => {
                        Some(Ok(health.message.unwrap_or_else(|| "job completed".into())))
                    }
                    Some(health) if health.status == HealthStatus::Degraded => {
                        Some(Err(health.message.unwrap_or_else(|| "job failed".into())))
                    }
                    _ => None,
                }
            };
            if let Some(finished) = finished {
                outcome = finished;
                break;
            }
        }
        if Instant::now() >= deadline {
            outcome = Err(format!(
                "timed out after {:?} waiting for the hook to finish",
                shared.config.wave_timeout
            ));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let succeeded = outcome.is_ok();
    match &outcome {
        Ok(message) => {
            entry["status"] = json!("Synced");
            entry["hookPhase"] = json!("Succeeded");
            entry["message"] = json!(message);
        }
        Err(message) => {
            entry["status"] = json!("SyncFailed");
            entry["hookPhase"] = json!("Failed");
            entry["message"] = json!(format!("{}: {message}", display_name(&created)));
        }
    }
    let mut delete = (succeeded && policies.contains(&HookDeletePolicy::HookSucceeded))
        || (!succeeded && policies.contains(&HookDeletePolicy::HookFailed));
    if let (Some(control), true) = (control, delete) {
        // Its result is recorded before the hook goes, so a restarted controller does not run
        // it again; when it cannot be recorded, the hook stays.
        let mut results = recorded.to_vec();
        results.push(entry.clone());
        delete = control.checkpoint(&results).await.is_ok();
    }
    if delete {
        let _ = cache
            .cluster
            .delete(&info, namespace.as_deref(), &name, "background")
            .await;
    }
    match outcome {
        Ok(_) => Ok(entry),
        Err(_) => {
            let message = entry["message"].as_str().unwrap_or_default().to_string();
            fail(entry, message)
        }
    }
}
