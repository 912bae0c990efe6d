//! Desired against live: every desired object compared with its live counterpart
//! (`flotilla-diff`, the Application's `ignoreDifferences`) and its health assessed, the results
//! cached per desired epoch and live resourceVersion so that a quiet pass compares nothing; then
//! refined by the server's answer to a dry-run apply (`server_diff`) where the Application's
//! mode asks for it.
//!
//! Depends on `context`, `objects`, `kind_waits`, `server_diff`, `status` (conditions),
//! `cluster` and `reconcile::{lifecycle, evaluate}`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use flotilla_health::HealthStatus;
use serde_json::{json, Value};

use super::evaluate::Evaluation;
use super::lifecycle::schedule;
use crate::context::{AppKey, CachedComparison, Shared};
use crate::objects::{live_object, live_version, object_key, resource_entry, ObjectKey};
use crate::server_diff;
use crate::status::condition;

/// Compares every desired object with the live cache: `status.resources` entries and the keys
/// that are out of sync (objects to prune included). `written` holds objects this reconcile
/// just wrote, as the server answered: one still current in the cache is read from there
/// instead of being parsed back. `fresh` compares every object again, cached or not, and leaves
/// the cache alone (a preview beside the controller's own passes).
pub(super) fn compare_all(
    shared: &Shared,
    key: &AppKey,
    evaluation: &Evaluation,
    conditions: &mut Vec<Value>,
    written: &HashMap<ObjectKey, Arc<Value>>,
    fresh: bool,
) -> Comparisons {
    let rules: Vec<flotilla_diff::IgnoreDifference> = evaluation
        .spec
        .ignore_differences
        .iter()
        .filter_map(|rule| match serde_json::from_value(rule.clone()) {
            Ok(rule) => Some(rule),
            Err(error) => {
                conditions.push(condition(
                    "InvalidSpecError",
                    format!("ignoreDifferences entry is malformed: {error}"),
                ));
                None
            }
        })
        .collect();
    let mut resources = Vec::new();
    let mut out_of_sync = HashSet::new();
    let mut all_cached = true;
    let mut memory_map = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let remembered = memory_map.entry(key.clone()).or_default();
    let epoch = remembered.desired_epoch;
    remembered
        .comparisons
        .retain(|_, cached| cached.epoch == epoch);
    for (index, desired) in evaluation.desired.iter().enumerate() {
        if desired.hook {
            continue;
        }
        // Not served yet: missing, out of sync, and saying why (never cached: the kind may be
        // served on the next pass).
        if desired.info.is_none() && evaluation.waits_for(&desired.api_version, &desired.key.1) {
            all_cached = false;
            out_of_sync.insert(desired.key.clone());
            let message = crate::kind_waits::health_message(&desired.api_version, &desired.key.1);
            let mut entry = resource_entry(evaluation.desired_object(index));
            entry["status"] = json!("OutOfSync");
            entry["message"] = json!(message);
            entry["health"] = json!({"status": HealthStatus::Missing.as_str(), "message": message});
            resources.push((desired.key.clone(), ResourceEntry::Built(entry)));
            continue;
        }
        // The resourceVersion alone decides whether the cached comparison still holds; the
        // object itself is parsed only when it must be compared again.
        let live_version = live_version(&evaluation.cache, desired);
        if let Some(cached) = remembered
            .comparisons
            .get(&desired.key)
            .filter(|cached| !fresh && cached.live_version == live_version)
        {
            if !cached.in_sync {
                out_of_sync.insert(desired.key.clone());
            }
            resources.push((
                desired.key.clone(),
                ResourceEntry::Cached(cached.entry.clone()),
            ));
            continue;
        }
        all_cached = false;
        let desired_object = evaluation.desired_object(index);
        let live = match written.get(&desired.key) {
            Some(object)
                if object["metadata"]["resourceVersion"].as_str() == live_version.as_deref() =>
            {
                Some(object.clone())
            }
            _ => live_object(&evaluation.cache, desired_object),
        };
        let comparison = flotilla_diff::compare(
            desired_object,
            live.as_deref(),
            crate::cluster::FIELD_MANAGER,
            &rules,
        );
        let (in_sync, reasons) = match comparison {
            Ok(comparison) => (comparison.in_sync, comparison.reasons),
            Err(error) => {
                conditions.push(condition(
                    "ComparisonError",
                    format!("{}/{}: {error}", desired.key.1, desired.key.3),
                ));
                (false, vec![error.to_string()])
            }
        };
        if !in_sync {
            out_of_sync.insert(desired.key.clone());
        }
        let mut entry = resource_entry(desired_object);
        entry["status"] = json!(if in_sync { "Synced" } else { "OutOfSync" });
        if !in_sync && !reasons.is_empty() {
            entry["message"] = json!(reasons.join("; "));
        }
        // An app-of-apps that manages itself takes no health from its own entry: that health
        // is the one being worked out (Argo CD leaves it out the same way).
        let itself = desired.key.0 == crate::model::GROUP
            && desired.key.1 == "Application"
            && desired.key.2 == key.0
            && desired.key.3 == key.1;
        let health = match &live {
            _ if itself => None,
            None => Some(flotilla_health::Health {
                status: HealthStatus::Missing,
                message: None,
            }),
            Some(live) => flotilla_health::assess(live),
        };
        if let Some(health) = health {
            let mut health_value = json!({"status": health.status.as_str()});
            if let Some(message) = health.message.filter(|message| !message.is_empty()) {
                health_value["message"] = json!(message);
            }
            entry["health"] = health_value;
        }
        if !fresh {
            remembered.comparisons.insert(
                desired.key.clone(),
                CachedComparison {
                    epoch,
                    live_version,
                    entry: entry.to_string().into(),
                    in_sync,
                },
            );
        }
        resources.push((desired.key.clone(), ResourceEntry::Built(entry)));
    }
    drop(memory_map);
    for live in &evaluation.to_prune {
        let mut entry = resource_entry(live);
        entry["status"] = json!("OutOfSync");
        entry["requiresPruning"] = json!(true);
        // `argocd.argoproj.io/compare-options: IgnoreExtraneous` keeps such an object from
        // making the Application OutOfSync (it is still listed, and pruned when pruning runs).
        if flotilla_diff::compare_options(live).ignore_extraneous {
            entry["status"] = json!("Synced");
            entry["message"] = json!("no longer in Git (IgnoreExtraneous)");
        } else {
            entry["message"] = json!("no longer in Git: will be pruned");
            out_of_sync.insert(object_key(live));
        }
        resources.push((object_key(live), ResourceEntry::Built(entry)));
    }
    // (group, kind, namespace, name): the order of the entries' own fields.
    resources.sort_by(|(left, _), (right, _)| left.cmp(right));
    Comparisons {
        resources,
        out_of_sync,
        all_cached,
        rules,
    }
}

/// Refines the comparisons this pass made (not cached ones) with the server's answer to a
/// dry-run apply (`server_diff`): in the default mode only the objects found out of sync, with
/// `ServerSideDiff=true` every one that exists live. An object this pass just applied (in
/// `written`, still at the answer's version) is what its apply made it: in sync, no request.
/// With `remember`, the refined results replace the cached comparisons (for the same live
/// version), so they are asked for once per change. A dry run the server refuses is a
/// `ComparisonError` condition, is not cached, and is asked again after `DRY_RUN_RETRY`.
/// Returns the server's answers: what a sync would make each object dry-run (for `app diff`).
#[allow(clippy::too_many_arguments)]
pub(super) async fn check_with_server(
    shared: &Arc<Shared>,
    key: &AppKey,
    application: &Value,
    evaluation: &Evaluation,
    comparisons: &mut Comparisons,
    conditions: &mut Vec<Value>,
    written: &HashMap<ObjectKey, Arc<Value>>,
    remember: bool,
) -> HashMap<ObjectKey, Value> {
    let mut predictions = HashMap::new();
    let mode = server_diff::mode(application, shared.config.server_side_diff);
    if mode == server_diff::Mode::Off || comparisons.all_cached {
        return predictions;
    }
    // The position of an entry this pass built (`resources` is sorted by key); cached entries
    // were refined when they were built.
    let built_position = |resources: &[(ObjectKey, ResourceEntry)], object_key: &ObjectKey| {
        resources
            .binary_search_by(|(entry_key, _)| entry_key.cmp(object_key))
            .ok()
            .filter(|position| matches!(resources[*position].1, ResourceEntry::Built(_)))
    };
    let mut candidates = Vec::new();
    let mut applied_in_sync = Vec::new();
    // The live version each answer is about: a cached comparison is replaced only for it.
    let mut versions: HashMap<ObjectKey, Option<String>> = HashMap::new();
    for (index, desired) in evaluation.desired.iter().enumerate() {
        let (Some(info), false) = (desired.info.as_ref(), desired.hook) else {
            continue;
        };
        let out_of_sync = comparisons.out_of_sync.contains(&desired.key);
        if mode == server_diff::Mode::Confirm && !out_of_sync {
            continue;
        }
        let Some(position) = built_position(&comparisons.resources, &desired.key) else {
            continue;
        };
        // Not in the cluster (a first sync): nothing to ask the server about.
        if let ResourceEntry::Built(entry) = &comparisons.resources[position].1 {
            if entry["health"]["status"] == "Missing" {
                continue;
            }
        }
        let desired_object = evaluation.desired_object(index);
        if server_diff::opted_out(desired_object) {
            continue;
        }
        let Some(live) = live_object(&evaluation.cache, desired_object) else {
            continue;
        };
        versions.insert(
            desired.key.clone(),
            live["metadata"]["resourceVersion"]
                .as_str()
                .map(str::to_string),
        );
        let just_applied = written.get(&desired.key).is_some_and(|answer| {
            answer["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
        });
        if just_applied {
            if out_of_sync {
                applied_in_sync.push(desired.key.clone());
            }
            continue;
        }
        candidates.push(server_diff::Candidate {
            key: desired.key.clone(),
            desired: desired_object.clone(),
            info: info.clone(),
            live,
        });
    }
    if candidates.is_empty() && applied_in_sync.is_empty() {
        return predictions;
    }
    let mut results: Vec<(ObjectKey, Result<flotilla_diff::Comparison, String>)> = applied_in_sync
        .into_iter()
        .map(|object_key| {
            let in_sync = flotilla_diff::Comparison {
                in_sync: true,
                reasons: Vec::new(),
            };
            (object_key, Ok(in_sync))
        })
        .collect();
    for (object_key, result) in server_diff::check(
        &evaluation.cache.cluster,
        candidates,
        &comparisons.rules,
        server_diff::include_mutation_webhook(application),
    )
    .await
    {
        let result = result.map(|checked| {
            predictions.insert(object_key.clone(), checked.predicted);
            checked.comparison
        });
        results.push((object_key, result));
    }
    let mut refined = Vec::new();
    let mut refused = Vec::new();
    for (object_key, result) in results {
        let Some(position) = built_position(&comparisons.resources, &object_key) else {
            continue;
        };
        let ResourceEntry::Built(entry) = &mut comparisons.resources[position].1 else {
            continue;
        };
        let was_in_sync = !comparisons.out_of_sync.contains(&object_key);
        let (in_sync, message) = match result {
            Ok(comparison) => (comparison.in_sync, comparison.reasons.join("; ")),
            // The containment result stands, with the server's word beside it; not cached,
            // so that a passing refusal (a timeout, a webhook down) is asked again.
            Err(refusal) => {
                conditions.push(condition(
                    "ComparisonError",
                    format!("{}/{}: {refusal}", object_key.1, object_key.3),
                ));
                refused.push(object_key.clone());
                let mut message = entry["message"].as_str().unwrap_or_default().to_string();
                if !message.is_empty() {
                    message.push_str("; ");
                }
                message.push_str(&refusal);
                (was_in_sync, message)
            }
        };
        entry["status"] = json!(if in_sync { "Synced" } else { "OutOfSync" });
        match (in_sync, message.is_empty()) {
            (false, false) => entry["message"] = json!(message),
            _ => {
                if let Some(map) = entry.as_object_mut() {
                    map.shift_remove("message");
                }
            }
        }
        if in_sync {
            comparisons.out_of_sync.remove(&object_key);
        } else {
            comparisons.out_of_sync.insert(object_key.clone());
        }
        refined.push((object_key, entry.to_string(), in_sync));
    }
    if !remember {
        return predictions;
    }
    if !refused.is_empty() {
        schedule(shared, key, DRY_RUN_RETRY);
    }
    let mut memory_map = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(remembered) = memory_map.get_mut(key) {
        for object_key in refused {
            remembered.comparisons.remove(&object_key);
        }
        for (object_key, entry, in_sync) in refined {
            let version = versions.get(&object_key);
            if let Some(cached) = remembered
                .comparisons
                .get_mut(&object_key)
                .filter(|cached| version == Some(&cached.live_version))
            {
                cached.entry = entry.into();
                cached.in_sync = in_sync;
            }
        }
    }
    predictions
}

/// How soon a dry run the server refused is asked again.
const DRY_RUN_RETRY: Duration = Duration::from_secs(30);

/// One `status.resources` entry: built by this pass, or the cached text of an unchanged one,
/// parsed only when a status is built (a quiet pass never parses it).
#[derive(Clone)]
pub(super) enum ResourceEntry {
    Built(Value),
    Cached(Arc<str>),
}

/// The entries as `status.resources` holds them.
pub(super) fn resource_values(resources: Vec<(ObjectKey, ResourceEntry)>) -> Vec<Value> {
    resources
        .into_iter()
        .map(|(_, entry)| match entry {
            ResourceEntry::Built(value) => value,
            ResourceEntry::Cached(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        })
        .collect()
}

/// What `compare_all` found.
pub(super) struct Comparisons {
    /// `status.resources`, by (group, kind, namespace, name).
    pub(super) resources: Vec<(ObjectKey, ResourceEntry)>,
    pub(super) out_of_sync: HashSet<ObjectKey>,
    /// Every result came from the comparison cache (nothing live or desired changed).
    pub(super) all_cached: bool,
    /// The Application's `ignoreDifferences` rules that parse (the others are conditions).
    pub(super) rules: Vec<flotilla_diff::IgnoreDifference>,
}
