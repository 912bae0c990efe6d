//! A sync operation as a pass runs it: why a running sync must stop now (`sync_interruption`),
//! the one log line per sync, and the `status.history` entry of a successful one.
//!
//! Depends on `context`, `model`, `objects`, `sync` and `reconcile::evaluate`.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::evaluate::Evaluation;
use crate::context::{AppKey, Shared};
use crate::model::{GROUP, VERSION};
use crate::now;
use crate::objects::ObjectKey;
use crate::sync::SyncRequest;

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
pub(super) fn log_sync(
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
pub(super) fn sync_interruption(
    shared: &Shared,
    key: &AppKey,
    application: &Value,
    evaluation: &Evaluation,
    request: &SyncRequest,
) -> Option<String> {
    if *shared.shutdown.borrow() {
        return Some("the controller is stopping".into());
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

pub(super) fn append_history(
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
