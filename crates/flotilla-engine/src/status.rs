//! Writing `Application.status`: the merge patch from the status the cluster holds to the new
//! one (removed keys sent as null), the record of the version each write made (so its watch
//! event is known as this engine's own echo), and the progress of a running sync.
//!
//! Invariant: a status is written only when it differs from what the cluster holds (or on a
//! refresh, which moves `reconciledAt`), and every write goes through `patch_status`, so no
//! write of this engine is mistaken for someone else's change.
//!
//! Also builds the conditions a pass reports (`condition`). Depends on `context` and `model`
//! only; `reconcile` calls it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::context::{AppKey, HoldMark, Shared};
use crate::model::{GROUP, REFRESH_ANNOTATION, VERSION};
use crate::{now, parse_timestamp};

/// The status field naming the replica that owns the Application when sharding is on.
pub const CONTROLLER_SHARD: &str = "controllerShard";

/// With sharding on, the replica writing a status names itself in it (`flotilla app get` shows
/// it): a new owner's first pass writes once.
fn stamp_owner(shared: &Shared, status: &mut Map<String, Value>) {
    if let Some(shard) = &shared.config.shard {
        status.insert(CONTROLLER_SHARD.into(), json!(shard.identity));
    }
}

/// A condition as `status.conditions` holds it, with the current time as its transition time.
pub(crate) fn condition(kind: &str, message: impl Into<String>) -> Value {
    json!({"type": kind, "message": message.into(), "lastTransitionTime": now()})
}

/// How soon a pass runs again after its status write failed (an API server error, a dropped
/// connection): the status must not stay stale until the next refresh.
pub(crate) const STATUS_WRITE_RETRY: Duration = Duration::from_secs(2);

/// Writes `status` (and clears the operation or the refresh annotation when asked) unless it is
/// what the cluster holds already; `previous` is the status the cluster holds. False when the
/// write failed (the caller runs the pass again soon); true when written, unchanged, or not
/// this replica's to write.
pub(crate) async fn write_status(
    shared: &Shared,
    key: &AppKey,
    application: &Value,
    mut status: Map<String, Value>,
    previous: &Map<String, Value>,
    clear_operation: bool,
    refreshed: bool,
) -> bool {
    stamp_owner(shared, &mut status);
    let unchanged = status.len() + usize::from(!status.contains_key("reconciledAt"))
        == previous.len() + usize::from(!previous.contains_key("reconciledAt"))
        && status
            .iter()
            .filter(|(name, _)| name.as_str() != "reconciledAt")
            .all(|(name, value)| previous.get(name) == Some(value));
    let refresh_requested = application["metadata"]["annotations"][REFRESH_ANNOTATION].is_string();
    let recently_reconciled = previous
        .get("reconciledAt")
        .and_then(Value::as_str)
        .and_then(parse_timestamp)
        .and_then(|at| std::time::SystemTime::now().duration_since(at).ok())
        .is_some_and(|age| age < shared.config.reconciliation_timeout);
    if unchanged
        && !clear_operation
        && !refresh_requested
        && previous.contains_key("reconciledAt")
        && (!refreshed || recently_reconciled)
    {
        // The status is what this engine would write: later passes may take the quiet path.
        if let Some(version) = application["metadata"]["resourceVersion"].as_str() {
            shared
                .written
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(key.clone(), version.to_string());
        }
        return true;
    }
    status.insert("reconciledAt".into(), json!(now()));
    // A merge patch would keep nested keys the new status no longer has: send their removal.
    let mut patch = json!({"status": merge_patch_between_maps(previous, status)});
    if clear_operation {
        patch["operation"] = Value::Null;
    }
    if application["metadata"]["annotations"][REFRESH_ANNOTATION].is_string() {
        patch["metadata"] = json!({"annotations": {REFRESH_ANNOTATION: null}});
    }
    if shared.share.fence(key).is_err() {
        // Not this replica's to write (patch_status says so in the log).
        let _ = patch_status(shared, key, &patch).await;
        return true;
    }
    patch_status(shared, key, &patch).await.is_some()
}

/// Sends one merge patch of an Application (its status, usually) and records the version it
/// wrote, so that the watch event echoing it is known for what it is. Returns the Application
/// as written, or None when the write failed (logged; the next pass writes again, never taking
/// the quiet path: `forget_written`).
pub(crate) async fn patch_status(
    shared: &Shared,
    key: &AppKey,
    patch: &Value,
) -> Option<Arc<Value>> {
    if let Err(reason) = shared.share.fence(key) {
        tracing::debug!(application = %key.1, %reason, "status not written");
        forget_written(shared, key);
        return None;
    }
    let Ok(info) = shared
        .home
        .cluster
        .resource(&format!("{GROUP}/{VERSION}"), "Application")
        .await
    else {
        forget_written(shared, key);
        return None;
    };
    let writing = HoldMark::new(shared, &shared.status_writes, key);
    let written = shared
        .home
        .cluster
        .merge_patch(&info, Some(&key.0), &key.1, patch)
        .await;
    let seen_meanwhile = writing.finish();
    let written_version = written
        .as_ref()
        .ok()
        .and_then(|updated| updated["metadata"]["resourceVersion"].as_str())
        .map(str::to_string);
    // Events about this Application other than the echo of this write are news: reconcile
    // again (the queue runs it after this reconcile ends).
    if seen_meanwhile
        .iter()
        .any(|version| Some(version) != written_version.as_ref())
    {
        shared.queue.push(key.clone());
    }
    match written {
        Ok(updated) => {
            if let Some(version) = written_version {
                shared
                    .written
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(key.clone(), version);
            }
            Some(shared.home.record(updated))
        }
        Err(error) => {
            tracing::warn!(application = %key.1, %error, "cannot write the Application status");
            forget_written(shared, key);
            None
        }
    }
}

/// After a failed write, the cluster no longer holds the status this engine last built (the
/// pass that failed had already cached its comparisons): the Application's version must stop
/// vouching for it, or the retry would take the quiet path (`reconcile`) and leave the stale
/// status until the periodic refresh.
fn forget_written(shared: &Shared, key: &AppKey) {
    shared
        .written
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(key);
}

/// How long a sync waits on the same thing before its status says so: shorter waits (the waves
/// of a first sync, one after the other) cost no status write.
const PROGRESS_DELAY: Duration = Duration::from_millis(500);

/// How often the status of a sync that still waits on the same thing is written again, so that
/// `reconciledAt` keeps moving and the message says for how long it has waited.
const PROGRESS_HEARTBEAT: Duration = Duration::from_secs(10);

/// Writes a running sync's progress into the Application's status until `messages` closes:
/// the first write is the whole status `initial` builds (the comparison made before the sync,
/// so sync status and revision are the new ones, not the last finished sync's) with a `Running`
/// `operationState`; later writes change its message and `reconciledAt`. A checkpoint
/// (`sync::Checkpoint`: before the operation's first hook, after each hook) is written at
/// once, with the results so far in `operationState.syncResult` (`sync_result` gives its
/// revision and source) and answered with whether the server took it; later writes keep
/// those results. That record is what a restarted controller resumes the operation from
/// (`reconcile::operation`). Returns the status as last written, the base of the patch that
/// ends the sync (None: nothing was written).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn report_progress(
    shared: &Shared,
    key: &AppKey,
    previous: &Map<String, Value>,
    initial: impl FnOnce() -> Map<String, Value>,
    operation: &Value,
    started_at: &str,
    sync_result: &Value,
    mut messages: mpsc::UnboundedReceiver<String>,
    mut checkpoints: mpsc::UnboundedReceiver<crate::sync::Checkpoint>,
) -> Option<Map<String, Value>> {
    let mut initial = Some(initial);
    let mut written: Option<Map<String, Value>> = None;
    let mut current: Option<(String, Instant)> = None;
    let mut due: Option<Instant> = None;
    let mut recorded: Option<Vec<Value>> = None;
    let mut checkpoints_open = true;
    loop {
        let wake = async {
            match due {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        let mut answer = None;
        tokio::select! {
            message = messages.recv() => {
                let Some(message) = message else {
                    return written;
                };
                let since = Instant::now();
                due = Some(since + PROGRESS_DELAY);
                current = Some((message, since));
                continue;
            }
            checkpoint = checkpoints.recv(), if checkpoints_open => {
                let Some(checkpoint) = checkpoint else {
                    checkpoints_open = false;
                    continue;
                };
                recorded = Some(checkpoint.resources);
                answer = Some(checkpoint.done);
            }
            _ = wake => {
                if current.is_none() {
                    due = None;
                    continue;
                }
            }
        }
        let mut status = match (&written, initial.take()) {
            (Some(written), _) => written.clone(),
            (None, Some(build)) => build(),
            (None, None) => previous.clone(),
        };
        let text = match &current {
            Some((message, since)) => {
                let waited = since.elapsed();
                let mut text = message.clone();
                if waited >= PROGRESS_HEARTBEAT {
                    text.push_str(&format!(" (for {}s)", waited.as_secs()));
                }
                text
            }
            None => "one or more tasks are running".to_string(),
        };
        let mut state = json!({"operation": operation, "phase": "Running", "message": text, "startedAt": started_at});
        if let Some(resources) = &recorded {
            let mut result = sync_result.clone();
            result["resources"] = json!(resources);
            state["syncResult"] = result;
        }
        status.insert("operationState".into(), state);
        status.insert("reconciledAt".into(), json!(now()));
        stamp_owner(shared, &mut status);
        let base = written.as_ref().unwrap_or(previous);
        let patch = json!({"status": merge_patch_between_maps(base, status.clone())});
        let ok = patch_status(shared, key, &patch).await.is_some();
        if ok {
            written = Some(status);
        }
        if let Some(answer) = answer {
            let _ = answer.send(ok);
        }
        if current.is_some() {
            due = Some(Instant::now() + PROGRESS_HEARTBEAT);
        }
    }
}

/// The JSON merge patch that turns `old` into `new` (removed keys become null); `new`'s
/// values move into it.
pub(crate) fn merge_patch_between(old: &Value, new: Value) -> Value {
    match (old, new) {
        (Value::Object(old_map), Value::Object(new_map)) => {
            Value::Object(merge_patch_between_maps(old_map, new_map))
        }
        (_, new) => new,
    }
}

pub(crate) fn merge_patch_between_maps(
    old_map: &Map<String, Value>,
    new_map: Map<String, Value>,
) -> Map<String, Value> {
    let mut patch = Map::new();
    for key in old_map.keys() {
        if !new_map.contains_key(key) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    for (key, new_value) in new_map {
        match old_map.get(&key) {
            Some(old_value) if *old_value == new_value => {}
            Some(old_value) => {
                let value = merge_patch_between(old_value, new_value);
                patch.insert(key, value);
            }
            None => {
                patch.insert(key, new_value);
            }
        }
    }
    patch
}
