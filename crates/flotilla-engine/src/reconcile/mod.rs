//! Reconciling one Application: read it, check its project, resolve and render its sources,
//! compare the desired objects with the live cache, sync when an operation was requested or
//! automated sync applies, assess health, and write `Application.status` as Argo CD does.
//!
//! Invariants: nothing is applied when the spec, the project or the render is invalid (those
//! become conditions), nor while a desired kind is not served and nothing says it will be (the
//! Application waits for it: `kind_waits`); status is written only when it changed (or on a
//! refresh, which moves `reconciledAt`), so the controller's own status writes settle after one
//! extra pass.
//!
//! The pass is split by concern, lowest first; each module uses only the ones before it:
//! `sources` (revisions resolved, sources rendered), `destination` (the project and the
//! destination cluster), `lifecycle` (retries, delayed requeues, cascading deletion, forgetting),
//! `evaluate` (the pass's desired objects and what to prune), `compare` (desired against live,
//! refined by the server's dry run), `report` (the status built from a comparison, metrics, the
//! write), `operation` (a sync's interruption, log line and history entry), `preview`
//! (`flotilla app diff`), and this module, the pass itself. Outside `reconcile` they depend on
//! `context`, `objects`, `status`, `sync`, `gate`, `kind_waits`, `server_diff`, `live`,
//! `render`, `cluster`, `metrics` and `model`; only `controller` depends on `reconcile`.

mod compare;
mod destination;
mod evaluate;
mod lifecycle;
mod operation;
mod preview;
mod report;
mod sources;

pub use crate::model::{REFRESH_ANNOTATION, RESOURCES_FINALIZER};
pub(crate) use preview::preview;
pub use preview::{Preview, PreviewEntry};
pub(crate) use sources::resolve_measured;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::context::{instance_name, AppKey, HoldMark, Shared};
use crate::model::{GROUP, VERSION};
use crate::status::{condition, write_status, RECONCILED_AT_RESOLUTION};
use crate::sync::{run_sync, SyncControl, SyncRequest};
use crate::{now, parse_timestamp};
use compare::{check_with_server, compare_all, resource_values};
use evaluate::{evaluate, prunable, Evaluation};
use lifecycle::{finalize_deletion, forget, next_retry, schedule};
use operation::{append_history, log_sync, sync_interruption};
use report::{build_status, finish};

/// One pass over the Application `key`: what the controller's workers run for each queue entry.
pub(crate) async fn reconcile(shared: &Arc<Shared>, key: &AppKey) {
    let api_version = format!("{GROUP}/{VERSION}");
    let Some(applications) = shared.home.watched(&api_version, "Application") else {
        return;
    };
    let Some(application) = applications.get(&key.0, &key.1) else {
        forget(shared, key);
        return;
    };
    if application["metadata"]["deletionTimestamp"].is_string() {
        finalize_deletion(shared, key, &application).await;
        return;
    }
    let refreshed = shared
        .refreshed
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(key);
    let evaluated = evaluate(shared, key, &application).await;
    let mut precompared = None;
    if let Ok(evaluation) = &evaluated {
        // What the Application waits for comes first; the comparison adds its own.
        let mut conditions = evaluation.waiting_conditions();
        let mut comparisons = compare_all(
            shared,
            key,
            evaluation,
            &mut conditions,
            &HashMap::new(),
            false,
        );
        check_with_server(
            shared,
            key,
            &application,
            evaluation,
            &mut comparisons,
            &mut conditions,
            &HashMap::new(),
            true,
        )
        .await;
        // Nothing moved since this engine last wrote the status: there is no status to build.
        // A refresh still rewrites a stale `reconciledAt`.
        let status_is_ours = shared
            .written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(key)
            .is_some_and(|version| {
                application["metadata"]["resourceVersion"].as_str() == Some(version.as_str())
            });
        let reconciled_recently = application["status"]["reconciledAt"]
            .as_str()
            .and_then(parse_timestamp)
            .and_then(|at| std::time::SystemTime::now().duration_since(at).ok())
            .is_some_and(|age| age < RECONCILED_AT_RESOLUTION);
        let quiet = comparisons.all_cached
            && comparisons.out_of_sync.is_empty()
            && evaluation.to_prune.is_empty()
            && conditions.is_empty()
            && status_is_ours
            && !application["operation"].is_object()
            && !application["metadata"]["annotations"][REFRESH_ANNOTATION].is_string()
            && (!refreshed || reconciled_recently);
        if quiet {
            return;
        }
        precompared = Some((comparisons, conditions));
    }
    let mut status = application["status"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let no_status = Map::new();
    let mut previous_status =
        std::borrow::Cow::Borrowed(application["status"].as_object().unwrap_or(&no_status));
    let mut clear_operation = false;
    let mut requeue_after: Option<Duration>;

    match evaluated {
        Err(conditions) => {
            // Logged when it is news, not on every retry of the same error.
            let messages: Vec<&str> = conditions
                .iter()
                .filter_map(|condition| condition["message"].as_str())
                .collect();
            let unchanged = previous_status
                .get("conditions")
                .and_then(Value::as_array)
                .is_some_and(|previous| {
                    previous
                        .iter()
                        .filter_map(|condition| condition["message"].as_str())
                        .eq(messages.iter().copied())
                });
            if !unchanged {
                tracing::warn!(
                    application = %format!("{}/{}", key.0, key.1),
                    condition = conditions.first().and_then(|condition| condition["type"].as_str()).unwrap_or(""),
                    message = %messages.join("; "),
                    "the Application cannot be compared"
                );
            }
            status.insert("conditions".into(), Value::Array(conditions));
            // `comparedTo` names the spec these conditions are about, so a parent waiting on
            // this Application knows its error is current (`sync::application_error`).
            let mut compared_to = json!({"destination": application["spec"]["destination"]});
            if application["spec"]["source"].is_object() {
                compared_to["source"] = application["spec"]["source"].clone();
            }
            if application["spec"]["sources"].is_array() {
                compared_to["sources"] = application["spec"]["sources"].clone();
            }
            status.insert(
                "sync".into(),
                json!({"status": "Unknown", "revision": previous_status.get("sync").and_then(|sync| sync.get("revision")).cloned().unwrap_or(Value::Null), "comparedTo": compared_to}),
            );
            // As Argo CD: with errors nothing was compared, so neither the last sync status nor
            // the last health stands as current.
            status.insert("health".into(), json!({"status": "Unknown"}));
            // Errors are retried with backoff: repositories come back, renders get fixed.
            requeue_after = Some(next_retry(shared, key, None));
            if application["operation"].is_object() {
                status.insert(
                    "operationState".into(),
                    json!({"operation": application["operation"], "phase": "Error", "message": status["conditions"][0]["message"], "startedAt": now(), "finishedAt": now()}),
                );
                clear_operation = true;
            }
        }
        Ok(evaluation) => {
            let mut conditions: Vec<Value> = Vec::new();
            let (comparisons, precompared_conditions) = precompared
                .take()
                .expect("compared before the status was read");
            conditions.extend(precompared_conditions);
            let (mut resources, mut out_of_sync) = (comparisons.resources, comparisons.out_of_sync);
            let automated = evaluation.spec.automated().cloned();
            let operation = application["operation"]["sync"].as_object().cloned();
            let memory = shared
                .memory
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(key)
                .cloned()
                .unwrap_or_default();
            let mut request: Option<SyncRequest> = None;
            // Waiting for a kind: nothing is applied; retried when a definition serving it is
            // established (`kind_waits`) and with a bounded backoff meanwhile.
            let waiting = !evaluation.waiting.is_empty();
            if waiting {
                crate::kind_waits::watch_definitions(shared, &evaluation.cache.cluster);
            }
            requeue_after = crate::kind_waits::remember(
                shared,
                key,
                &evaluation.cache.cluster.name,
                &evaluation.waiting,
            );
            if let (true, Some(_)) = (waiting, &operation) {
                // A requested sync cannot run: it ends now, saying why, as with any error.
                let message = conditions
                    .first()
                    .and_then(|condition| condition["message"].as_str())
                    .unwrap_or_default()
                    .to_string();
                status.insert(
                    "operationState".into(),
                    json!({"operation": application["operation"], "phase": "Error", "message": message, "startedAt": now(), "finishedAt": now()}),
                );
                clear_operation = true;
            } else if let Some(operation) = operation {
                request = Some(SyncRequest {
                    prune: operation
                        .get("prune")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    dry_run: operation
                        .get("dryRun")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    extra_options: operation
                        .get("syncOptions")
                        .and_then(Value::as_array)
                        .map(|options| {
                            options
                                .iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                    automated: false,
                    operation: application["operation"].clone(),
                });
                clear_operation = true;
            } else if let (false, Some(automated)) = (waiting, &automated) {
                let empty_refused =
                    evaluation.desired.is_empty() && automated.prune && !automated.allow_empty;
                let new_revision = memory.synced_revisions.as_ref() != Some(&evaluation.revisions);
                // Backoff delays retries of the revision that failed, never a newer one.
                let retry_ready = memory.attempted_revisions.as_ref()
                    != Some(&evaluation.revisions)
                    || memory
                        .retry_not_before
                        .is_none_or(|at| Instant::now() >= at);
                if empty_refused && !out_of_sync.is_empty() {
                    conditions.push(condition(
                        "SyncError",
                        "automated sync refused: the sources render no objects and allowEmpty is false",
                    ));
                } else if !out_of_sync.is_empty()
                    && (new_revision || automated.self_heal)
                    && retry_ready
                {
                    request = Some(SyncRequest {
                        prune: automated.prune,
                        dry_run: false,
                        extra_options: Vec::new(),
                        automated: true,
                        operation: json!({"sync": {"revision": evaluation.revisions.first().cloned().unwrap_or_default(), "prune": automated.prune}, "initiatedBy": {"username": "flotilla", "automated": true}}),
                    });
                }
            }
            let evaluation = if let Some(request) = request {
                let drift_repair = request.automated
                    && memory.synced_revisions.as_ref() == Some(&evaluation.revisions);
                let started = now();
                let syncing = HoldMark::new(shared, &shared.syncing, key);
                let interrupt =
                    || sync_interruption(shared, key, &application, &evaluation, &request);
                let (progress, messages) = tokio::sync::mpsc::unbounded_channel();
                let desired_objects = evaluation.desired_objects_owned();
                // The pre-sync gate (`gate`): a blocking finding ends the sync before its first
                // step; findings are counted and recorded as Events when they are news.
                let guardrails = crate::gate::check(
                    &shared.repositories,
                    crate::gate::Subject {
                        application: &application,
                        sources: &evaluation.sources,
                        revisions: &evaluation.revisions,
                        desired: &desired_objects,
                        cache: &evaluation.cache,
                        to_prune: &evaluation.to_prune,
                        prune: request.prune,
                        sync_options: [
                            evaluation.spec.sync_options(),
                            request.extra_options.as_slice(),
                        ]
                        .concat(),
                    },
                )
                .await;
                let news = crate::gate::remember(
                    &mut shared
                        .memory
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .entry(key.clone())
                        .or_default()
                        .guardrails,
                    &evaluation.revisions,
                    &guardrails,
                );
                if news || !request.automated {
                    crate::gate::record(
                        &shared.home.cluster,
                        &shared.metrics,
                        &application,
                        &guardrails,
                    )
                    .await;
                }
                let sync = async {
                    if guardrails.blocks() {
                        return crate::sync::SyncOutcome::not_started(
                            "Failed",
                            guardrails.operation_message(),
                            guardrails.resource_entries(),
                        );
                    }
                    run_sync(
                        shared,
                        &evaluation.cache,
                        &evaluation.spec,
                        &evaluation.desired,
                        desired_objects,
                        &out_of_sync,
                        &evaluation.to_prune,
                        &request,
                        SyncControl {
                            progress,
                            interrupt: &interrupt,
                        },
                    )
                    .await
                };
                // What the status says while the sync waits: the comparison made before it, so
                // the new revision and OutOfSync, never the last finished sync as current.
                let running_status = || {
                    let mut running = status.clone();
                    build_status(
                        &mut running,
                        &previous_status,
                        &evaluation,
                        resource_values(resources.clone()),
                        &out_of_sync,
                        conditions.clone(),
                    );
                    running
                };
                let reporter = crate::status::report_progress(
                    shared,
                    key,
                    &previous_status,
                    running_status,
                    &request.operation,
                    &started,
                    messages,
                );
                let (mut outcome, progress_written) = tokio::join!(sync, reporter);
                if let Some(written) = progress_written {
                    previous_status = std::borrow::Cow::Owned(written);
                }
                shared.metrics.count_sync(&key.0, &key.1, outcome.phase);
                let live_objects = std::mem::take(&mut outcome.live_objects);
                // Events about this Application's objects during the sync: the echoes of its
                // own applies carry exactly the answers' versions; anything else is news.
                let held = syncing.finish();
                let news = held.iter().any(|event| {
                    event.deleted
                        || event.cluster != evaluation.cache.cluster.name
                        || live_objects
                            .get(&event.key)
                            .and_then(|object| object["metadata"]["resourceVersion"].as_str())
                            != Some(event.resource_version.as_str())
                });
                // Kinds unknown when the sync was planned (a CRD in this sync, or one expected
                // from elsewhere) are watched only from the next evaluation: compare again then.
                if news || evaluation.desired.iter().any(|entry| entry.info.is_none()) {
                    shared.queue.push(key.clone());
                }
                if drift_repair && outcome.phase == "Succeeded" {
                    let mut by_kind: std::collections::BTreeMap<&str, u64> = Default::default();
                    for (_, kind, _, _) in &out_of_sync {
                        *by_kind.entry(kind.as_str()).or_default() += 1;
                    }
                    for (kind, objects) in by_kind {
                        shared
                            .metrics
                            .count_drift_repair(&key.0, &key.1, kind, objects);
                    }
                }
                log_sync(
                    key,
                    &evaluation.revisions,
                    &request,
                    &outcome,
                    drift_repair,
                    &out_of_sync,
                );
                let source =
                    serde_json::to_value(evaluation.sources.first()).unwrap_or(Value::Null);
                let mut operation_state = json!({
                    "operation": request.operation,
                    "phase": outcome.phase,
                    "message": outcome.message,
                    "startedAt": started,
                    "finishedAt": now(),
                    "syncResult": {
                        "resources": outcome.resources,
                        "revision": evaluation.revisions.first().cloned().unwrap_or_default(),
                        "source": source,
                    }
                });
                if evaluation.revisions.len() > 1 {
                    operation_state["syncResult"]["revisions"] = json!(evaluation.revisions);
                }
                if outcome.interrupted.is_some() {
                    // Not a failed attempt: whatever stopped it (a newer revision, a requested
                    // sync, a terminated operation) is handled by the next pass, now.
                    shared.queue.push(key.clone());
                } else if request.automated && outcome.phase != "Succeeded" {
                    let retry = evaluation
                        .spec
                        .sync_policy
                        .as_ref()
                        .and_then(|policy| policy.retry.clone());
                    let attempt = {
                        let mut memory_map = shared
                            .memory
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                        let remembered = memory_map.entry(key.clone()).or_default();
                        if remembered.attempted_revisions.as_ref() != Some(&evaluation.revisions) {
                            remembered.attempted_revisions = Some(evaluation.revisions.clone());
                            remembered.retry_attempt = 0;
                        }
                        remembered.retry_attempt
                    };
                    operation_state["retryCount"] = json!(attempt);
                    requeue_after = Some(next_retry(shared, key, retry.as_ref()));
                } else {
                    let mut memory_map = shared
                        .memory
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    let remembered = memory_map.entry(key.clone()).or_default();
                    remembered.retry_attempt = 0;
                    remembered.retry_not_before = None;
                    remembered.attempted_revisions = None;
                    if !request.dry_run {
                        remembered.synced_revisions = Some(evaluation.revisions.clone());
                    }
                }
                if outcome.phase == "Succeeded" && !request.dry_run {
                    append_history(
                        &mut status,
                        &evaluation,
                        &started,
                        &request,
                        evaluation.spec.revision_history_limit,
                    );
                }
                status.insert("operationState".into(), operation_state);
                // Compare again: the writes are in the cache now.
                let mut after_conditions = Vec::new();
                let refreshed_evaluation = Evaluation {
                    to_prune: prunable(
                        &evaluation.cache,
                        &instance_name(shared, key),
                        &evaluation.desired,
                    ),
                    ..evaluation
                };
                let mut after = compare_all(
                    shared,
                    key,
                    &refreshed_evaluation,
                    &mut after_conditions,
                    &live_objects,
                    false,
                );
                check_with_server(
                    shared,
                    key,
                    &application,
                    &refreshed_evaluation,
                    &mut after,
                    &mut after_conditions,
                    &live_objects,
                    true,
                )
                .await;
                resources = after.resources;
                out_of_sync = after.out_of_sync;
                conditions.extend(after_conditions);
                refreshed_evaluation
            } else {
                evaluation
            };
            // What the gate last said about these revisions stays on the status (`gate`).
            conditions.extend(
                shared
                    .memory
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .get(key)
                    .map(|memory| {
                        crate::gate::remembered_conditions(
                            &memory.guardrails,
                            &evaluation.revisions,
                        )
                    })
                    .unwrap_or_default(),
            );
            return finish(
                shared,
                key,
                &application,
                status,
                &previous_status,
                evaluation,
                resource_values(resources),
                out_of_sync,
                conditions,
                clear_operation,
                refreshed,
                requeue_after,
            )
            .await;
        }
    }
    write_status(
        shared,
        key,
        &application,
        status,
        &previous_status,
        clear_operation,
        refreshed,
    )
    .await;
    if let Some(delay) = requeue_after {
        schedule(shared, key, delay);
    }
}
