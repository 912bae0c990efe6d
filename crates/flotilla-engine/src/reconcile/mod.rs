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
//! write), `operation` (running a sync: the gate, progress, interruption, outcome, history, the
//! comparison after it), `refusal` (a sync the API server refused for want of RBAC, as a
//! `SyncError` condition saying what to grant), `preview` (`flotilla app diff`), and this module, the pass itself:
//! evaluate, compare, decide whether to sync, report. Outside `reconcile` they depend on
//! `context`, `objects`, `status`, `sync`, `gate`, `kind_waits`, `server_diff`, `live`,
//! `render`, `cluster`, `metrics` and `model`; only `controller` depends on `reconcile`.

mod compare;
mod destination;
mod evaluate;
mod lifecycle;
mod operation;
mod preview;
mod refusal;
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

use crate::context::{AppKey, Shared};
use crate::model::{GROUP, VERSION};
use crate::status::{condition, write_status, STATUS_WRITE_RETRY};
use crate::sync::SyncRequest;
use crate::{now, parse_timestamp};
use compare::{check_with_server, compare_all, resource_values};
use evaluate::{evaluate, Evaluation};
use lifecycle::{
    finalize_deletion, forget, next_retry, schedule, self_heal_settled, self_heal_started,
    self_heal_wait,
};
use report::finish;

/// One pass over the Application `key`: what the controller's workers run for each queue entry.
/// Whether the Application's status already says what a pass with nothing out of sync and
/// nothing to prune would write: Synced at the evaluated revision, no object awaiting pruning.
/// The engine's own last status can say otherwise with nothing cached having changed since: it
/// was built when a pruned object was still in the cache (the watch reports the deletion after
/// the sync's comparison), and only the deletion, not a new comparison, follows.
fn status_says_in_sync(application: &Value, evaluation: &Evaluation) -> bool {
    let sync = &application["status"]["sync"];
    sync["status"] == "Synced"
        && sync["revision"].as_str().unwrap_or("")
            == evaluation.revisions.first().map_or("", String::as_str)
        && !application["status"]["resources"]
            .as_array()
            .is_some_and(|resources| {
                resources
                    .iter()
                    .any(|resource| resource["requiresPruning"] == true)
            })
}

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
            .is_some_and(|age| age < shared.config.reconciliation_timeout);
        let quiet = comparisons.all_cached
            && comparisons.out_of_sync.is_empty()
            && evaluation.to_prune.is_empty()
            && conditions.is_empty()
            && status_is_ours
            && status_says_in_sync(&application, evaluation)
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
            // Drift waits for its self-heal (`EngineConfig::self_heal_timeout`).
            let mut healing = false;
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
                    // Self-heal waits `self_heal_timeout` (or its backoff) from when the drift
                    // was first seen, the status saying OutOfSync meanwhile; a new revision
                    // never waits.
                    healing = !new_revision;
                    match healing.then(|| self_heal_wait(shared, key)).flatten() {
                        Some(wait) => {
                            requeue_after =
                                Some(requeue_after.map_or(wait, |delay| delay.min(wait)));
                        }
                        None => {
                            if healing {
                                self_heal_started(shared, key);
                            }
                            healing = false;
                            request = Some(SyncRequest {
                                prune: automated.prune,
                                dry_run: false,
                                extra_options: Vec::new(),
                                automated: true,
                                operation: json!({"sync": {"revision": evaluation.revisions.first().cloned().unwrap_or_default(), "prune": automated.prune}, "initiatedBy": {"username": "flotilla", "automated": true}}),
                            });
                        }
                    }
                }
            }
            if !healing {
                self_heal_settled(shared, key);
            }
            let evaluation = if let Some(request) = request {
                let ran = operation::run(
                    shared,
                    key,
                    &application,
                    evaluation,
                    request,
                    &memory,
                    status,
                    previous_status,
                    resources,
                    out_of_sync,
                    conditions,
                    requeue_after,
                )
                .await;
                status = ran.status;
                previous_status = ran.previous_status;
                resources = ran.resources;
                out_of_sync = ran.out_of_sync;
                conditions = ran.conditions;
                requeue_after = ran.requeue_after;
                ran.evaluation
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
            // The last sync refused by the API server for want of RBAC: what to grant.
            conditions.extend(refusal::conditions(
                status.get("operationState"),
                out_of_sync.is_empty(),
            ));
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
    let written = write_status(
        shared,
        key,
        &application,
        status,
        &previous_status,
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
