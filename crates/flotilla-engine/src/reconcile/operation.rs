//! A sync operation as a pass runs it ([`run`]): the pre-sync gate (`gate`), the sync itself
//! (`sync`) with its progress reported on the status while it waits, why a running sync must
//! stop now, the sync's metrics and one log line, the retry backoff of a failed automated sync,
//! the `status.history` entry of a successful one, and the comparison made again once its writes
//! are in the cache.
//!
//! Depends on `context`, `model`, `objects`, `gate`, `status`, `sync` and
//! `reconcile::{lifecycle, evaluate, compare, report}`.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::compare::{check_with_server, compare_all, resource_values, ResourceEntry};
use super::evaluate::{prunable, Evaluation};
use super::lifecycle::next_retry;
use super::report::build_status;
use crate::context::{instance_name, AppKey, AppMemory, HoldMark, Shared};
use crate::model::{GROUP, VERSION};
use crate::now;
use crate::objects::ObjectKey;
use crate::sync::{run_sync, OperationMark, SyncControl, SyncRequest};

/// Objects named in a log line, at most this many (then `… and N more`).
const LOGGED_OBJECTS: usize = 20;

/// `kind/name` (with the namespace when there is one) of up to `LOGGED_OBJECTS` keys.
fn object_list<'a>(keys: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> String {
    let mut names: Vec<String> = keys
        .map(|(kind, namespace, name)| {
            if namespace.is_empty() {
                format!("{kind}/{name}")
            } else {
                format!("{kind}/{namespace}/{name}")
            }
        })
        .collect();
    names.sort();
    let more = names.len().saturating_sub(LOGGED_OBJECTS);
    names.truncate(LOGGED_OBJECTS);
    let mut text = names.join(", ");
    if more > 0 {
        text.push_str(&format!(" … and {more} more"));
    }
    text
}

/// One log event per sync: what it was (a drift repair, an automated or requested sync), the
/// Application, revision, outcome, the objects it applied and pruned, and why it failed.
fn log_sync(
    key: &AppKey,
    revisions: &[String],
    request: &SyncRequest,
    outcome: &crate::sync::SyncOutcome,
    drift_repair: bool,
    out_of_sync: &HashSet<ObjectKey>,
) {
    let application = format!("{}/{}", key.0, key.1);
    let revision = revisions
        .first()
        .map(|commit| commit.get(..8).unwrap_or(commit))
        .unwrap_or("");
    let entries_with = |wanted: &str| {
        object_list(
            outcome
                .resources
                .iter()
                .filter(|entry| entry["status"] == wanted)
                .map(|entry| {
                    (
                        entry["kind"].as_str().unwrap_or(""),
                        entry["namespace"].as_str().unwrap_or(""),
                        entry["name"].as_str().unwrap_or(""),
                    )
                }),
        )
    };
    let pruned = entries_with("Pruned");
    let kind = if drift_repair {
        "drift repair"
    } else if request.automated {
        "automated sync"
    } else {
        "sync"
    };
    if outcome.phase == "Succeeded" {
        let applied = if drift_repair {
            object_list(out_of_sync.iter().map(|(_, kind, namespace, name)| {
                (kind.as_str(), namespace.as_str(), name.as_str())
            }))
        } else {
            entries_with("Synced")
        };
        tracing::info!(
            %application,
            %revision,
            applied = outcome.applied,
            objects = %applied,
            pruned = %pruned,
            dry_run = request.dry_run,
            "{kind} succeeded"
        );
    } else {
        tracing::warn!(
            %application,
            %revision,
            phase = outcome.phase,
            applied = outcome.applied,
            pruned = %pruned,
            message = %outcome.message,
            "{kind} {}",
            if outcome.interrupted.is_some() { "stopped" } else { "failed" }
        );
    }
}

/// Why a running sync of `key` must stop now, if it must: the engine stops; the Application is
/// gone or being deleted; a user terminated the operation (`status.operationState.phase:
/// Terminating`, as `argocd app terminate-op` sets it). An automated sync also gives way to a
/// requested sync, a changed spec, and a newer commit of any of its sources: waiting on a wave
/// that the new revision may change (or fix) would leave that revision unapplied.
fn sync_interruption(
    shared: &Shared,
    key: &AppKey,
    application: &Value,
    evaluation: &Evaluation,
    request: &SyncRequest,
) -> Option<String> {
    if *shared.shutdown.borrow() {
        return Some("the controller is stopping".into());
    }
    if let Err(reason) = shared.share.fence(key) {
        return Some(reason);
    }
    let applications = shared
        .home
        .watched(&format!("{GROUP}/{VERSION}"), "Application")?;
    let Some(live) = applications.get(&key.0, &key.1) else {
        return Some("the Application was deleted".into());
    };
    if live["metadata"]["deletionTimestamp"].is_string() {
        return Some("the Application is being deleted".into());
    }
    if live["status"]["operationState"]["phase"] == "Terminating" {
        return Some("terminated by a user".into());
    }
    if !request.automated {
        return None;
    }
    if live["operation"].is_object() {
        return Some("a sync was requested".into());
    }
    if live["spec"] != application["spec"] {
        return Some("the Application's spec changed".into());
    }
    let revisions = shared
        .revisions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    evaluation
        .sources
        .iter()
        .zip(&evaluation.revisions)
        .find_map(|(source, commit)| {
            revisions
                .get(&(source.repo_url.clone(), source.target_revision.clone()))
                .filter(|newest| *newest != commit)
                .map(|newest| {
                    format!(
                        "revision {} of {} arrived",
                        newest.get(..8).unwrap_or(newest),
                        source.repo_url
                    )
                })
        })
}

fn append_history(
    status: &mut Map<String, Value>,
    evaluation: &Evaluation,
    started: &str,
    request: &SyncRequest,
    limit: Option<i64>,
) {
    let history = status.entry("history").or_insert_with(|| json!([]));
    if !history.is_array() {
        *history = json!([]);
    }
    let Value::Array(entries) = history else {
        return;
    };
    let next_id = entries
        .iter()
        .filter_map(|entry| entry["id"].as_i64())
        .max()
        .unwrap_or(-1)
        + 1;
    let mut entry = json!({
        "id": next_id,
        "revision": evaluation.revisions.first().cloned().unwrap_or_default(),
        "deployStartedAt": started,
        "deployedAt": now(),
        "source": evaluation.sources.first(),
        "initiatedBy": request.operation["initiatedBy"].clone(),
    });
    if evaluation.revisions.len() > 1 {
        entry["revisions"] = json!(evaluation.revisions);
        entry["sources"] = json!(evaluation.sources);
    }
    entries.push(entry);
    let limit = limit.unwrap_or(10).max(1) as usize;
    if entries.len() > limit {
        let excess = entries.len() - limit;
        entries.drain(..excess);
    }
}

/// What running a sync operation leaves for the rest of the pass: the evaluation (its objects
/// to prune found again), and the status, comparison and requeue as the sync changed them.
pub(super) struct Ran<'a> {
    pub(super) evaluation: Evaluation,
    pub(super) status: Map<String, Value>,
    pub(super) previous_status: Cow<'a, Map<String, Value>>,
    pub(super) resources: Vec<(ObjectKey, ResourceEntry)>,
    pub(super) out_of_sync: HashSet<ObjectKey>,
    pub(super) conditions: Vec<Value>,
    pub(super) requeue_after: Option<Duration>,
}

/// The operation `request` runs: the one the Application's status records `Running` when a
/// controller was killed during it (the same `operation`, at revisions this engine has neither
/// synced nor attempted since it started), resumed with its `startedAt` and hook results as
/// Argo CD resumes an operation; otherwise a new one, whose `startedAt` differs from the last
/// recorded one (so no hook of an earlier operation passes for one of this one's).
async fn operation_mark(
    application: &Value,
    evaluation: &Evaluation,
    request: &SyncRequest,
    memory: &AppMemory,
) -> OperationMark {
    let recorded = &application["status"]["operationState"];
    let ours = memory.synced_revisions.as_ref() == Some(&evaluation.revisions)
        || memory.attempted_revisions.as_ref() == Some(&evaluation.revisions);
    let resumable = !request.dry_run
        && !ours
        && recorded["phase"] == "Running"
        && recorded["operation"] == request.operation
        && recorded["syncResult"]["revision"]
            .as_str()
            .is_none_or(|revision| {
                evaluation.revisions.first().map(String::as_str) == Some(revision)
            });
    if let (true, Some(started)) = (resumable, recorded["startedAt"].as_str()) {
        return OperationMark {
            started: started.to_string(),
            resumed: true,
            recorded: recorded["syncResult"]["resources"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        };
    }
    let mut started = now();
    while recorded["startedAt"].as_str() == Some(started.as_str()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        started = now();
    }
    OperationMark {
        started,
        resumed: false,
        recorded: Vec::new(),
    }
}

/// Runs the sync `request` asks for: the pre-sync gate, the sync with its progress reported on
/// the status, the metrics, log line, retry backoff and history of its outcome, and the
/// comparison made again once its writes are in the cache.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run<'a>(
    shared: &Arc<Shared>,
    key: &AppKey,
    application: &Value,
    evaluation: Evaluation,
    request: SyncRequest,
    memory: &AppMemory,
    mut status: Map<String, Value>,
    mut previous_status: Cow<'a, Map<String, Value>>,
    mut resources: Vec<(ObjectKey, ResourceEntry)>,
    mut out_of_sync: HashSet<ObjectKey>,
    mut conditions: Vec<Value>,
    mut requeue_after: Option<Duration>,
) -> Ran<'a> {
    let drift_repair =
        request.automated && memory.synced_revisions.as_ref() == Some(&evaluation.revisions);
    let mark = operation_mark(application, &evaluation, &request, memory).await;
    if mark.resumed {
        tracing::info!(
            application = %format!("{}/{}", key.0, key.1),
            started = %mark.started,
            "resuming the operation a controller left running"
        );
    }
    let started = mark.started.clone();
    let syncing = HoldMark::new(shared, &shared.syncing, key);
    let interrupt = || sync_interruption(shared, key, application, &evaluation, &request);
    let (progress, messages) = tokio::sync::mpsc::unbounded_channel();
    let (checkpoints, checkpoint_requests) = tokio::sync::mpsc::unbounded_channel();
    let desired_objects = evaluation.desired_objects_owned();
    // The pre-sync gate (`gate`): a blocking finding ends the sync before its first
    // step; findings are counted and recorded as Events when they are news.
    let guardrails = crate::gate::check(
        &shared.repositories,
        crate::gate::Subject {
            application,
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
            application,
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
                checkpoints,
                operation: &mark,
                started_recorded: Default::default(),
                interrupt: &interrupt,
                own_application: (key.0.as_str(), key.1.as_str()),
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
    let mut sync_result = json!({
        "revision": evaluation.revisions.first().cloned().unwrap_or_default(),
        "source": evaluation.sources.first(),
    });
    if evaluation.revisions.len() > 1 {
        sync_result["revisions"] = json!(evaluation.revisions);
    }
    let reporter = crate::status::report_progress(
        shared,
        key,
        &previous_status,
        running_status,
        &request.operation,
        &started,
        &sync_result,
        messages,
        checkpoint_requests,
    );
    let (mut outcome, progress_written) = tokio::join!(sync, reporter);
    if let Some(written) = progress_written {
        previous_status = Cow::Owned(written);
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
    let source = serde_json::to_value(evaluation.sources.first()).unwrap_or(Value::Null);
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
        application,
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
    Ran {
        evaluation: refreshed_evaluation,
        status,
        previous_status,
        resources,
        out_of_sync,
        conditions,
        requeue_after,
    }
}
