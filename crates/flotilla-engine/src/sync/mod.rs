//! Executing a sync: the plan from `flotilla-plan` (phases, waves, kind order, hooks) applied
//! with server-side apply (field manager `flotilla`, force, as Argo CD's server-side apply),
//! waiting for each wave to become healthy before the next, hooks created and awaited with their
//! delete policies, then the prune of tracked objects no longer in Git.
//!
//! Invariant: a sync never half-applies silently. The first failed apply, hook or unhealthy wave
//! stops the sync; the operation state names the object and carries the server's message, and
//! `SyncFail` hooks run.
//!
//! A sync of more than one step (hooks, waves) is checked before its first write, as Argo CD
//! does: every out-of-sync object it will apply is applied with `dryRun=All` first, and a
//! refusal fails the sync with nothing written ("failed to apply (dry run)"; as in Argo CD, no
//! `SyncFail` hook runs then). Later steps wait on the health of earlier ones and hooks have
//! effects no retry undoes, so this is where a refusal would otherwise leave a cluster
//! half-changed the longest. Not checked that way: objects of a kind whose CRD is in the same
//! sync (it may change the schema) or that the cluster does not serve yet
//! (`SkipDryRunOnMissingResource`, or a server that accepts unknown kinds, which serves the kind
//! once the object's own write registers it), in a namespace the sync itself creates, or replaced
//! (`Replace=true`) rather than applied; objects already in sync; and single-step syncs, whose
//! applies follow each other at once (a dry run there would double the requests of every first
//! sync and catch nothing later). Like Argo CD's, the dry run judges every step against the
//! cluster as it is before the sync, so a later step that depends on an earlier one (a webhook
//! the sync installs, a PreSync hook that clears an immutable field) is refused.
//!
//! A sync runs one operation ([`OperationMark`]); one that a killed controller left `Running` is
//! resumed by the next, which does not run again the hooks it already created or finished
//! (`hook`).
//!
//! A sync that waits (a wave's health, a hook, a kind still to be served) says what it waits on
//! through [`SyncControl::progress`], so the Application's status shows a `Running` operation
//! and its message instead of the last finished one, and it stops early when
//! [`SyncControl::interrupt`] gives a reason (a terminated operation, a newer revision for an
//! automated sync, a shutdown). A child Application that reports an error for the spec it was
//! given (an `…Error` condition, its `comparedTo` equal to its spec) cannot become healthy by
//! waiting: once that has held for `wait::SETTLE`, the wave fails with the child's own message
//! rather than waiting out the wave timeout.
//!
//! Split by concern, lowest first; each module uses only the ones before it: `control` (what a
//! sync is asked, what it reports, how it stops), `apply` (namespaces, the dry run before a
//! multi-step sync, one object applied), `wait` (a wave waited healthy), `hook` (a hook run and
//! awaited), and this module, the plan run phase by phase and wave by wave, then the prune.
//!
//! Together they depend on `context`, `objects`, `gate`, `kind_waits`, `live`, `cluster` and
//! `model`; only `reconcile` calls `sync`.

mod apply;
mod control;
mod hook;
mod wait;

pub(crate) use control::{Checkpoint, OperationMark, SyncControl, SyncOutcome, SyncRequest};

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use flotilla_plan::SyncOptions;
use serde_json::{json, Value};

use crate::context::Shared;
use crate::live::LiveCache;
use crate::model::ApplicationSpec;
use crate::objects::{object_key, resource_entry, Desired, ObjectKey};
use apply::{apply_one, dry_run_refusal, ensure_namespace};
use control::{display_name, phase_name, WaitError};
use hook::run_hook;
use wait::wait_healthy;

struct Failure {
    message: String,
    /// The sync was told to stop (not an object's failure): no `SyncFail` hook runs.
    interrupted: Option<String>,
}

impl Failure {
    fn of(message: String) -> Failure {
        Failure {
            message,
            interrupted: None,
        }
    }
}

impl From<WaitError> for Failure {
    fn from(error: WaitError) -> Failure {
        match error {
            WaitError::Failed(message) => Failure::of(message),
            WaitError::Interrupted(reason) => Failure {
                message: format!("operation stopped: {reason}"),
                interrupted: Some(reason),
            },
        }
    }
}

/// One resource a selective sync names: group, kind, namespace (empty: any), name.
type SelectedResource = (String, String, String, String);

/// The resources `operation.sync.resources` names, when it names any.
fn selected_resources(operation: &Value) -> Option<Vec<SelectedResource>> {
    let entries = operation["sync"]["resources"].as_array()?;
    let selection: Vec<SelectedResource> = entries
        .iter()
        .filter_map(|entry| {
            Some((
                entry["group"].as_str().unwrap_or_default().to_string(),
                entry["kind"].as_str()?.to_string(),
                entry["namespace"].as_str().unwrap_or_default().to_string(),
                entry["name"].as_str()?.to_string(),
            ))
        })
        .collect();
    (!selection.is_empty()).then_some(selection)
}

fn is_selected(selection: &[SelectedResource], object: &Value) -> bool {
    let group = object["apiVersion"]
        .as_str()
        .and_then(|version| version.rsplit_once('/'))
        .map(|(group, _)| group)
        .unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    selection.iter().any(
        |(selected_group, selected_kind, selected_namespace, selected_name)| {
            selected_group == group
                && selected_kind == kind
                && selected_name == name
                && (selected_namespace.is_empty() || selected_namespace == namespace)
        },
    )
}

/// Applies `desired` (`desired_objects` is the same list, parsed) in plan order, then prunes.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_sync(
    shared: &Arc<Shared>,
    cache: &Arc<LiveCache>,
    spec: &ApplicationSpec,
    desired: &[Desired],
    desired_objects: Vec<Value>,
    out_of_sync: &HashSet<ObjectKey>,
    to_prune: &[Arc<Value>],
    request: &SyncRequest,
    control: SyncControl<'_>,
) -> SyncOutcome {
    let mut option_entries: Vec<String> = spec.sync_options().to_vec();
    option_entries.extend(request.extra_options.iter().cloned());
    let options = match flotilla_plan::parse_sync_options(&option_entries) {
        Ok(options) => options,
        Err(error) => {
            return SyncOutcome {
                phase: "Error",
                message: format!("invalid sync options: {error}"),
                resources: Vec::new(),
                applied: 0,
                live_objects: HashMap::new(),
                interrupted: None,
            }
        }
    };
    let mut results = Vec::new();
    let mut applied = 0usize;
    let mut live_objects = HashMap::new();
    let destination_namespace = spec.destination.namespace();
    if options.create_namespace && !destination_namespace.is_empty() && !request.dry_run {
        if let Err(message) = ensure_namespace(cache, destination_namespace).await {
            return SyncOutcome {
                phase: "Failed",
                message: format!("cannot create namespace {destination_namespace}: {message}"),
                resources: results,
                applied,
                live_objects,
                interrupted: None,
            };
        }
    }
    // A selective sync (`operation.sync.resources`) applies and prunes only the objects it
    // names and runs no hooks, as Argo CD's does.
    let selection = selected_resources(&request.operation);
    let desired_objects: Vec<Value> = match &selection {
        Some(selection) => desired_objects
            .into_iter()
            .filter(|object| !crate::objects::is_hook(object) && is_selected(selection, object))
            .collect(),
        None => desired_objects,
    };
    let selected_prune: Vec<Arc<Value>>;
    let to_prune: &[Arc<Value>] = match &selection {
        Some(selection) => {
            selected_prune = to_prune
                .iter()
                .filter(|live| is_selected(selection, live))
                .cloned()
                .collect();
            &selected_prune
        }
        None => to_prune,
    };
    let plan = match flotilla_plan::plan(desired_objects, &options) {
        Ok(plan) => plan,
        Err(error) => {
            return SyncOutcome {
                phase: "Failed",
                message: error.to_string(),
                resources: results,
                applied,
                live_objects,
                interrupted: None,
            }
        }
    };
    let step_count = plan.steps.len();
    let desired_by_key: HashMap<&ObjectKey, &Desired> =
        desired.iter().map(|entry| (&entry.key, entry)).collect();
    if step_count > 1 && !request.dry_run {
        if let Some((task, message)) =
            dry_run_refusal(cache, &plan, &desired_by_key, out_of_sync).await
        {
            let mut entry = resource_entry(&task.object);
            entry["syncPhase"] = json!(phase_name(task.phase));
            entry["status"] = json!("SyncFailed");
            entry["message"] = json!(message);
            results.push(entry);
            return SyncOutcome {
                phase: "Failed",
                message: format!(
                    "one or more objects failed to apply (dry run), reason: {}: {message}",
                    display_name(&task.object)
                ),
                resources: results,
                applied,
                live_objects,
                interrupted: None,
            };
        }
    }
    let mut failure: Option<Failure> = None;
    'steps: for (index, step) in plan.steps.iter().enumerate() {
        if let Some(reason) = (control.interrupt)() {
            failure = Some(WaitError::Interrupted(reason).into());
            break 'steps;
        }
        let mut wave_objects: Vec<&Value> = Vec::new();
        for task in &step.tasks {
            let key = object_key(&task.object);
            let info = desired_by_key
                .get(&key)
                .and_then(|entry| entry.info.clone());
            if task.hook.is_some() {
                let hook = run_hook(
                    shared,
                    cache,
                    task,
                    info,
                    request.dry_run,
                    Some(&control),
                    &results,
                );
                match hook.await {
                    Ok(entry) => {
                        applied += 1;
                        results.push(entry);
                    }
                    Err((entry, error)) => {
                        results.push(entry);
                        failure = Some(error.into());
                        break 'steps;
                    }
                }
                continue;
            }
            if task.options.apply_out_of_sync_only && !out_of_sync.contains(&key) {
                continue;
            }
            let mut entry = resource_entry(&task.object);
            entry["syncPhase"] = json!(phase_name(step.phase));
            let outcome = apply_one(
                shared,
                cache,
                &task.object,
                info,
                &task.options,
                request.dry_run,
                &control,
            )
            .await;
            match outcome {
                Ok((live, live_text, verb)) => {
                    applied += 1;
                    entry["status"] = json!("Synced");
                    entry["message"] = json!(format!("{} {verb}", display_name(&task.object)));
                    if !request.dry_run {
                        live_objects.insert(key.clone(), cache.record_answer(live, live_text));
                        wave_objects.push(&task.object);
                    }
                    results.push(entry);
                }
                Err(WaitError::Failed(message)) => {
                    entry["status"] = json!("SyncFailed");
                    entry["message"] = json!(message);
                    results.push(entry);
                    failure = Some(Failure::of(format!(
                        "{}: {message}",
                        display_name(&task.object)
                    )));
                    break 'steps;
                }
                Err(interrupted) => {
                    failure = Some(interrupted.into());
                    break 'steps;
                }
            }
        }
        // Wait for this wave to be healthy before the next one starts.
        if index + 1 < step_count && !request.dry_run && !wave_objects.is_empty() {
            if let Err(error) = wait_healthy(shared, cache, &wave_objects, &control).await {
                failure = Some(error.into());
                break 'steps;
            }
        }
    }
    if let Some(failure) = failure {
        if let Some(reason) = failure.interrupted {
            return SyncOutcome {
                phase: "Failed",
                message: failure.message,
                resources: results,
                applied,
                live_objects,
                interrupted: Some(reason),
            };
        }
        for task in &plan.sync_fail {
            let key = object_key(&task.object);
            let info = desired_by_key
                .get(&key)
                .and_then(|entry| entry.info.clone());
            match run_hook(shared, cache, task, info, request.dry_run, None, &results).await {
                Ok(entry) | Err((entry, _)) => results.push(entry),
            }
        }
        return SyncOutcome {
            phase: "Failed",
            message: format!(
                "one or more objects failed to apply, reason: {}",
                failure.message
            ),
            resources: results,
            applied,
            live_objects,
            interrupted: None,
        };
    }
    // Prune what Git no longer declares.
    let prune_groups = match flotilla_plan::prune_order(
        to_prune.iter().map(|live| (**live).clone()).collect(),
        &options,
    ) {
        Ok(groups) => groups,
        Err(error) => {
            return SyncOutcome {
                phase: "Failed",
                message: error.to_string(),
                resources: results,
                applied,
                live_objects,
                interrupted: None,
            }
        }
    };
    let mut skipped_prunes = 0;
    for group in prune_groups {
        for object in group {
            let mut entry = resource_entry(&object);
            entry["syncPhase"] = json!("Sync");
            let object_options = flotilla_plan::object_sync_options(&object, &options)
                .unwrap_or_else(|_| options.clone());
            if !object_options.prune {
                entry["status"] = json!("PruneSkipped");
                entry["message"] = json!("ignored (no prune)");
                skipped_prunes += 1;
            } else if !request.prune {
                entry["status"] = json!("PruneSkipped");
                entry["message"] = json!("ignored (requires pruning)");
                skipped_prunes += 1;
            } else if request.dry_run {
                entry["status"] = json!("Pruned");
                entry["message"] = json!("pruned (dry run)");
            } else if let Err(WaitError::Interrupted(reason)) = control.fenced(shared) {
                return SyncOutcome {
                    phase: "Failed",
                    message: reason.clone(),
                    resources: results,
                    applied,
                    live_objects,
                    interrupted: Some(reason),
                };
            } else {
                let propagation = propagation_name(&object_options);
                match cache.cluster.delete_object(&object, propagation).await {
                    Ok(()) => {
                        cache.forget(
                            object["apiVersion"].as_str().unwrap_or(""),
                            object["kind"].as_str().unwrap_or(""),
                            object["metadata"]["namespace"].as_str().unwrap_or(""),
                            object["metadata"]["name"].as_str().unwrap_or(""),
                        );
                        entry["status"] = json!("Pruned");
                        entry["message"] = json!("pruned");
                        applied += 1;
                    }
                    Err(error) => {
                        entry["status"] = json!("SyncFailed");
                        entry["message"] = json!(error.to_string());
                        results.push(entry);
                        return SyncOutcome {
                            phase: "Failed",
                            message: format!(
                                "one or more objects failed to prune, reason: {}: {error}",
                                display_name(&object)
                            ),
                            resources: results,
                            applied,
                            live_objects,
                            interrupted: None,
                        };
                    }
                }
            }
            results.push(entry);
        }
    }
    let _ = skipped_prunes;
    SyncOutcome {
        phase: "Succeeded",
        message: if request.dry_run {
            "successfully synced (dry run)".into()
        } else {
            "successfully synced (all tasks run)".into()
        },
        resources: results,
        applied,
        live_objects,
        interrupted: None,
    }
}

fn propagation_name(options: &SyncOptions) -> &'static str {
    options.prune_propagation_policy.as_str()
}
