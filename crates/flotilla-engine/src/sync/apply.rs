//! One object applied: the destination namespace created when the sync needs it, the dry run
//! of a multi-step sync before its first write, the resource an object is written at (waiting
//! for a kind still to be served), and the server-side apply (or replace) itself.
//!
//! Depends on `context`, `live`, `cluster`, `objects` and `sync::control`.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use flotilla_plan::{SyncOptions, Task};
use serde_json::{json, Value};

use crate::cluster::{ClusterError, ResourceInfo};
use crate::context::Shared;
use crate::live::LiveCache;
use crate::objects::{object_key, Desired, ObjectKey};

use super::control::{display_name, SyncControl, WaitError};

pub(super) async fn ensure_namespace(cache: &LiveCache, namespace: &str) -> Result<(), String> {
    let info = cache
        .cluster
        .resource("v1", "Namespace")
        .await
        .map_err(|error| error.to_string())?;
    if cache
        .cluster
        .get(&info, None, namespace)
        .await
        .map_err(|error| error.to_string())?
        .is_some()
    {
        return Ok(());
    }
    let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    cache
        .cluster
        .apply(&info, &object, true, false)
        .await
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// The first object of `plan` the server refuses in a dry-run apply (see the module
/// documentation for the objects not checked this way), with the server's message.
pub(super) async fn dry_run_refusal<'plan>(
    cache: &LiveCache,
    plan: &'plan flotilla_plan::Plan,
    desired_by_key: &HashMap<&ObjectKey, &Desired>,
    out_of_sync: &HashSet<ObjectKey>,
) -> Option<(&'plan Task, String)> {
    let tasks = || plan.steps.iter().flat_map(|step| step.tasks.iter());
    let created_namespaces: HashSet<&str> = tasks()
        .filter(|task| task.object["kind"] == "Namespace" && task.object["apiVersion"] == "v1")
        .filter_map(|task| task.object["metadata"]["name"].as_str())
        .collect();
    // (group, kind) of the custom resources whose CRD this sync applies.
    let synced_kinds: HashSet<(&str, &str)> = tasks()
        .filter(|task| task.object["kind"] == "CustomResourceDefinition")
        .filter_map(|task| {
            let spec = &task.object["spec"];
            Some((spec["group"].as_str()?, spec["names"]["kind"].as_str()?))
        })
        .collect();
    for task in tasks() {
        if task.hook.is_some() || task.options.replace {
            continue;
        }
        let key = object_key(&task.object);
        if !out_of_sync.contains(&key) || synced_kinds.contains(&(key.0.as_str(), key.1.as_str())) {
            continue;
        }
        let Some(info) = desired_by_key
            .get(&key)
            .and_then(|entry| entry.info.as_ref())
        else {
            continue;
        };
        if info.namespaced && created_namespaces.contains(key.2.as_str()) {
            continue;
        }
        if let Err(error) = cache.cluster.apply(info, &task.object, true, true).await {
            return Some((task, error.to_string()));
        }
    }
    None
}

/// The resource for an object, waiting (up to the wave timeout) for its kind to be served: by a
/// CRD created earlier in this sync, or from elsewhere (`SkipDryRunOnMissingResource`). A
/// server that accepts unknown kinds serves it on its first write: the object goes to the
/// resource kube's pluralisation names (`cluster::guessed_resource`), with no wait.
pub(super) async fn resource_for(
    shared: &Shared,
    cache: &LiveCache,
    object: &Value,
    known: Option<ResourceInfo>,
    control: Option<&SyncControl<'_>>,
) -> Result<ResourceInfo, WaitError> {
    if let Some(info) = known {
        return Ok(info);
    }
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let kind = object["kind"].as_str().unwrap_or("");
    let deadline = Instant::now() + shared.config.wave_timeout;
    let mut reported = false;
    loop {
        cache.cluster.forget_discovery();
        match cache.cluster.resource(api_version, kind).await {
            Ok(info) => return Ok(info),
            Err(ClusterError::UnknownKind { .. })
                if cache.cluster.accepts_unknown_kinds().await =>
            {
                let namespaced = object["metadata"]["namespace"]
                    .as_str()
                    .is_some_and(|namespace| !namespace.is_empty());
                return Ok(crate::cluster::guessed_resource(
                    api_version,
                    kind,
                    namespaced,
                ));
            }
            Err(ClusterError::UnknownKind { .. }) if Instant::now() < deadline => {
                if let Some(control) = control {
                    if let Some(reason) = (control.interrupt)() {
                        return Err(WaitError::Interrupted(reason));
                    }
                    if !reported {
                        control.report(format!(
                            "waiting for {api_version} {kind} to be served (for {})",
                            display_name(object)
                        ));
                        reported = true;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(error) => return Err(WaitError::Failed(error.to_string())),
        }
    }
}

pub(super) async fn apply_one(
    shared: &Shared,
    cache: &LiveCache,
    object: &Value,
    info: Option<ResourceInfo>,
    options: &SyncOptions,
    dry_run: bool,
    control: &SyncControl<'_>,
) -> Result<(Value, Option<String>, &'static str), WaitError> {
    if !dry_run {
        control.fenced(shared)?;
    }
    let served_before = info.is_some();
    let info = resource_for(shared, cache, object, info, Some(control)).await?;
    // A kind served only since the sync was planned is watched from now on (before the answer
    // is recorded), so the wave's health wait and the comparison after the sync see the object.
    let watch_new_kind = || async {
        if !served_before && !dry_run {
            cache.cluster.forget_discovery();
            let _ = cache
                .ensure(
                    object["apiVersion"].as_str().unwrap_or(""),
                    object["kind"].as_str().unwrap_or(""),
                )
                .await;
        }
    };
    if options.replace && !dry_run {
        let replaced = cache
            .cluster
            .replace(&info, object)
            .await
            .map(|live| (live, None, "replaced"))
            .map_err(|error| WaitError::Failed(error.to_string()));
        if replaced.is_ok() {
            watch_new_kind().await;
        }
        return replaced;
    }
    let result = cache
        .cluster
        .apply_for_text(&info, object, true, dry_run)
        .await;
    match result {
        Ok((live, text)) => {
            if object["kind"] == "CustomResourceDefinition" {
                cache.cluster.forget_discovery();
            }
            watch_new_kind().await;
            Ok((
                live,
                Some(text),
                if dry_run {
                    "serverside-applied (dry run)"
                } else {
                    "serverside-applied"
                },
            ))
        }
        Err(error) => Err(WaitError::Failed(error.to_string())),
    }
}
