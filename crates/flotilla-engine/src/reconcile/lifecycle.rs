//! When an Application runs again and when the engine lets it go: the retry backoff of errors
//! and failed automated syncs, the wait of drift for its self-heal, delayed requeues, Argo CD's
//! cascading delete on the resources finalizer, and forgetting an Application that is gone.
//!
//! Depends on `context`, `model`, `live`, `cluster` and `reconcile::destination`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::destination::destination_cluster;
use crate::cluster::ClusterError;
use crate::context::{instance_name, AppKey, Shared};
use crate::live::LiveCache;
use crate::model::{status_resource_kinds, ApplicationSpec, GROUP, RESOURCES_FINALIZER, VERSION};

pub(super) fn next_retry(
    shared: &Shared,
    key: &AppKey,
    retry: Option<&crate::model::RetryPolicy>,
) -> Duration {
    let mut memory = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let remembered = memory.entry(key.clone()).or_default();
    let policy = retry.cloned().unwrap_or(crate::model::RetryPolicy {
        limit: -1,
        backoff: None,
    });
    let delay = policy.delay(remembered.retry_attempt);
    remembered.retry_attempt = remembered.retry_attempt.saturating_add(1);
    remembered.retry_not_before = Some(Instant::now() + delay);
    if retry.is_some() && !policy.allows(remembered.retry_attempt) {
        // Out of retries: wait for the next revision or refresh.
        return shared.config.repo_poll;
    }
    delay
}

/// How long the drift of `key` still waits for its self-heal, if it does: the first pass that
/// sees it starts the wait (the longer of `EngineConfig::self_heal_timeout` and the backoff
/// after the repairs in a row so far), later ones count it down. None once it has passed, or
/// with nothing to wait.
pub(super) fn self_heal_wait(shared: &Shared, key: &AppKey) -> Option<Duration> {
    let config = &shared.config;
    if config.self_heal_timeout.is_zero() && config.self_heal_backoff.is_none() {
        return None;
    }
    let now = Instant::now();
    let mut memory = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let remembered = memory.entry(key.clone()).or_default();
    let backoff = config
        .self_heal_backoff
        .as_ref()
        .map_or(Duration::ZERO, |backoff| {
            let in_a_row = remembered
                .self_heal_last
                .is_some_and(|last| now.duration_since(last) < backoff.cooldown);
            backoff.delay(if in_a_row {
                remembered.self_heal_repairs
            } else {
                0
            })
        });
    let wait = config.self_heal_timeout.max(backoff);
    if wait.is_zero() {
        return None;
    }
    let due = *remembered.self_heal_due.get_or_insert(now + wait);
    (due > now).then(|| due - now)
}

/// Counts a self-heal repair of `key` starting now, for the backoff of the next one.
pub(super) fn self_heal_started(shared: &Shared, key: &AppKey) {
    let Some(backoff) = &shared.config.self_heal_backoff else {
        return;
    };
    let now = Instant::now();
    let mut memory = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let remembered = memory.entry(key.clone()).or_default();
    let in_a_row = remembered
        .self_heal_last
        .is_some_and(|last| now.duration_since(last) < backoff.cooldown);
    remembered.self_heal_repairs = if in_a_row {
        remembered.self_heal_repairs.saturating_add(1)
    } else {
        1
    };
    remembered.self_heal_last = Some(now);
}

/// Ends a self-heal wait of `key`: the drift is gone, or a sync runs.
pub(super) fn self_heal_settled(shared: &Shared, key: &AppKey) {
    if let Some(remembered) = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get_mut(key)
    {
        remembered.self_heal_due = None;
    }
}

pub(super) fn schedule(shared: &Arc<Shared>, key: &AppKey, delay: Duration) {
    let shared = shared.clone();
    let key = key.clone();
    tokio::spawn(async move {
        let mut shutdown = shared.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => shared.queue.push(key),
            // A stopped engine lets go of its state now, not after the delay.
            _ = shutdown.changed() => {}
        }
    });
}

pub(super) fn forget(shared: &Shared, key: &AppKey) {
    shared.forget_application(key);
}

/// Argo CD's cascading delete: with the `resources-finalizer.argocd.argoproj.io` finalizer, the
/// Application's tracked objects in its destination cluster are deleted (except `Delete=false`
/// ones) before the finalizer is removed; without it the objects stay.
///
/// As Argo CD's `finalizeApplicationDeletion`: a destination that is not defined (no cluster
/// Secret names it, an invalid destination) has nothing to delete, and the finalizer goes; one
/// that cannot be looked up or reached now keeps the finalizer and is tried again with backoff
/// (another cluster's objects are never deleted in its place, and none is orphaned). The kinds
/// the Application has had objects of (`status.resources`, what the engine remembers) are
/// watched in the destination first, so an engine that never reconciled the Application (a
/// restart) still finds them.
pub(super) async fn finalize_deletion(shared: &Arc<Shared>, key: &AppKey, application: &Value) {
    let finalizers: Vec<String> = application["metadata"]["finalizers"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let cascade = finalizers
        .iter()
        .any(|finalizer| finalizer.starts_with(RESOURCES_FINALIZER));
    if !cascade {
        forget(shared, key);
        return;
    }
    let instance = instance_name(shared, key);
    let spec: ApplicationSpec =
        serde_json::from_value(application["spec"].clone()).unwrap_or_default();
    let cache = match destination_cluster(shared, &spec).await {
        Ok((cache, _, _)) => Some(cache),
        Err(conditions) if is_transient(&conditions) => {
            let message = conditions
                .first()
                .and_then(|condition| condition["message"].as_str())
                .unwrap_or("");
            retry_deletion(
                shared,
                key,
                "cannot look the destination cluster up",
                message,
            );
            return;
        }
        Err(conditions) => {
            let message = conditions
                .first()
                .and_then(|condition| condition["message"].as_str())
                .unwrap_or("");
            tracing::warn!(application = %key.1, message, "the destination is not defined: its objects are left, the finalizer removed");
            None
        }
    };
    if let Some(cache) = cache {
        if let Err(error) = watch_application_kinds(shared, key, application, &cache).await {
            retry_deletion(shared, key, "cannot read the destination's objects", &error);
            return;
        }
        let propagation = if finalizers
            .iter()
            .any(|finalizer| finalizer.ends_with("/background"))
        {
            "background"
        } else {
            "foreground"
        };
        let mut failed = None;
        for live in cache.tracked_by(&instance) {
            let keeps = live["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]
                .as_str()
                .is_some_and(|options| {
                    options
                        .split(',')
                        .any(|option| option.trim() == "Delete=false")
                });
            if keeps {
                continue;
            }
            if shared.share.fence(key).is_err() {
                // No longer this replica's (shard): its new owner finishes the deletion.
                return;
            }
            if let Err(error) = cache.cluster.delete_object(&live, propagation).await {
                failed = Some(error.to_string());
            }
        }
        if let Some(error) = failed {
            retry_deletion(shared, key, "cannot delete a tracked object", &error);
            return;
        }
    }
    let remaining: Vec<String> = finalizers
        .into_iter()
        .filter(|finalizer| !finalizer.starts_with(RESOURCES_FINALIZER))
        .collect();
    if shared.share.fence(key).is_err() {
        return;
    }
    let patch = json!({"metadata": {"finalizers": remaining}});
    let removed = match shared
        .home
        .cluster
        .resource(&format!("{GROUP}/{VERSION}"), "Application")
        .await
    {
        Ok(info) => shared
            .home
            .cluster
            .merge_patch(&info, Some(&key.0), &key.1, &patch)
            .await
            .map(|_| ()),
        Err(error) => Err(error),
    };
    if let Err(error) = removed {
        // Tried again: forgotten now, the Application would keep its finalizer (and stay
        // undeleted) until something else queued it.
        retry_deletion(
            shared,
            key,
            "cannot remove the Application finalizer",
            &error.to_string(),
        );
        return;
    }
    forget(shared, key);
}

/// Whether the destination lookup failed for now (the cluster Secrets could not be read), not
/// because the destination is undefined or invalid (`destination_cluster`'s conditions).
fn is_transient(conditions: &[Value]) -> bool {
    conditions
        .iter()
        .any(|condition| condition["type"] == "ComparisonError")
}

/// Runs the deletion of `key` again after the retry backoff (5 s doubling to 3 min, as the
/// errors of a pass), keeping its finalizer meanwhile.
fn retry_deletion(shared: &Arc<Shared>, key: &AppKey, what: &str, error: &str) {
    let delay = next_retry(shared, key, None);
    tracing::warn!(application = %key.1, %error, retry_in = ?delay, "{what}");
    schedule(shared, key, delay);
}

/// Watches, in the destination `cache`, every kind the Application has had objects of: those
/// of `status.resources` and those the engine remembers. A kind the destination does not serve
/// has no objects to delete; any other failure is returned.
async fn watch_application_kinds(
    shared: &Shared,
    key: &AppKey,
    application: &Value,
    cache: &LiveCache,
) -> Result<(), String> {
    let mut kinds: BTreeSet<(String, String)> = status_resource_kinds(application).collect();
    if let Some(remembered) = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(key)
    {
        kinds.extend(remembered.kinds.iter().cloned());
    }
    for (api_version, kind) in kinds {
        if kind.is_empty() {
            continue;
        }
        match cache.ensure(&api_version, &kind).await {
            Ok(_) | Err(ClusterError::UnknownKind { .. }) => {}
            Err(error) => return Err(format!("cannot watch {kind}: {error}")),
        }
    }
    Ok(())
}
