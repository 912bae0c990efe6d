//! Reconciling one Application: read it, check its project, resolve and render its sources,
//! compare the desired objects with the live cache, sync when an operation was requested or
//! automated sync applies, assess health, and write `Application.status` as Argo CD does.
//!
//! Invariants: nothing is applied when the spec, the project or the render is invalid (those
//! become conditions), nor while a desired kind is not served and nothing says it will be (the
//! Application waits for it: `kind_waits`); status is written only when it changed (or on a
//! refresh, which moves `reconciledAt`), so the controller's own status writes settle after one
//! extra pass.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_health::HealthStatus;
use serde_json::{json, Map, Value};

use crate::cluster::{ClusterError, ResourceInfo};
use crate::controller::{instance_name, AppKey, AppMemory, HoldMark, Shared};
use crate::live::{LiveCache, TRACKING_ANNOTATION};
use crate::model::{
    AppProjectSpec, ApplicationSource, ApplicationSpec, GROUP, IN_CLUSTER_NAME, IN_CLUSTER_SERVER,
    VERSION,
};
use crate::render::{render_source, Rendered};
use crate::server_diff;
use crate::status::{write_status, RECONCILED_AT_RESOLUTION};
use crate::sync::{run_sync, SyncControl, SyncRequest};

/// A comparison result, reusable while the desired objects (epoch) and the live object
/// (resourceVersion) are unchanged: a no-op reconcile then does no diffing at all.
#[derive(Clone, Debug)]
pub(crate) struct CachedComparison {
    pub epoch: u64,
    pub live_version: Option<String>,
    /// The `status.resources` entry (status, message, health) as compact JSON.
    pub entry: Arc<str>,
    pub in_sync: bool,
}

/// One desired object, normalised for the destination.
#[derive(Clone, Debug)]
pub(crate) struct Desired {
    /// The object as compact JSON (parsed only to compare or apply it: a cached Application
    /// keeps thousands of these).
    pub object_text: Arc<str>,
    pub api_version: String,
    /// None while the kind is unknown to the cluster (its CRD may be in the same sync).
    pub info: Option<ResourceInfo>,
    pub hook: bool,
    pub key: ObjectKey,
    /// The container images it names (`status.summary.images`).
    pub images: Vec<String>,
}

impl Desired {
    pub(crate) fn new(object: Value, info: Option<ResourceInfo>, hook: bool) -> Desired {
        Desired {
            object_text: object.to_string().into(),
            api_version: object["apiVersion"].as_str().unwrap_or("").to_string(),
            key: object_key(&object),
            images: images_of(&object),
            info,
            hook,
        }
    }

    /// The object, parsed.
    pub(crate) fn object(&self) -> Value {
        serde_json::from_str(&self.object_text).unwrap_or(Value::Null)
    }
}

/// (group, kind, namespace, name)
pub(crate) type ObjectKey = (String, String, String, String);

pub(crate) fn object_key(object: &Value) -> ObjectKey {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let group = api_version
        .rsplit_once('/')
        .map(|(group, _)| group)
        .unwrap_or("");
    (
        group.to_string(),
        object["kind"].as_str().unwrap_or("").to_string(),
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

pub(crate) fn is_hook(object: &Value) -> bool {
    let annotations = &object["metadata"]["annotations"];
    annotations["argocd.argoproj.io/hook"].is_string() || annotations["helm.sh/hook"].is_string()
}

fn condition(kind: &str, message: impl Into<String>) -> Value {
    json!({"type": kind, "message": message.into(), "lastTransitionTime": now()})
}

pub(crate) fn now() -> String {
    flotilla_core::time::now_rfc3339()
}

/// A Kubernetes timestamp as a `SystemTime`.
pub(crate) fn parse_timestamp(text: &str) -> Option<std::time::SystemTime> {
    flotilla_core::time::parse_rfc3339(text)
        .map(|seconds| std::time::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// What one pass found, before any sync.
struct Evaluation {
    spec: ApplicationSpec,
    sources: Vec<ApplicationSource>,
    revisions: Vec<String>,
    source_type: Option<&'static str>,
    cache: Arc<LiveCache>,
    desired: Arc<Vec<Desired>>,
    /// `desired`, parsed once per pass and only where needed (a quiet pass parses none).
    desired_objects: Vec<std::sync::OnceLock<Value>>,
    to_prune: Vec<Arc<Value>>,
    project: String,
    /// The kinds of desired objects the destination does not serve yet, and nothing says they
    /// will be (no CRD in this sync, no `SkipDryRunOnMissingResource`, a server that does not
    /// accept unknown kinds): the Application waits for them, nothing is applied.
    waiting: Vec<crate::kind_waits::WaitingKind>,
}

impl Evaluation {
    /// Whether the Application waits for `api_version`/`kind` to be served.
    fn waits_for(&self, api_version: &str, kind: &str) -> bool {
        self.waiting
            .iter()
            .any(|entry| entry.api_version == api_version && entry.kind == kind)
    }

    /// The `ComparisonError` conditions that say what the Application waits for.
    fn waiting_conditions(&self) -> Vec<Value> {
        self.waiting
            .iter()
            .map(|entry| {
                condition(
                    "ComparisonError",
                    crate::kind_waits::condition_message(entry),
                )
            })
            .collect()
    }

    /// The desired object at `index`, parsed on first use.
    fn desired_object(&self, index: usize) -> &Value {
        self.desired_objects[index].get_or_init(|| self.desired[index].object())
    }

    /// Every desired object, for a sync plan.
    fn desired_objects_owned(&self) -> Vec<Value> {
        (0..self.desired.len())
            .map(|index| self.desired_object(index).clone())
            .collect()
    }
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

#[allow(clippy::too_many_arguments)]
async fn finish(
    shared: &Arc<Shared>,
    key: &AppKey,
    application: &Value,
    mut status: Map<String, Value>,
    previous_status: &Map<String, Value>,
    evaluation: Evaluation,
    resources: Vec<Value>,
    out_of_sync: HashSet<ObjectKey>,
    conditions: Vec<Value>,
    clear_operation: bool,
    refreshed: bool,
    requeue_after: Option<Duration>,
) {
    let (sync_status, health) = build_status(
        &mut status,
        previous_status,
        &evaluation,
        resources,
        &out_of_sync,
        conditions,
    );
    shared.metrics.set_app(
        &key.0,
        &key.1,
        crate::metrics::AppInfo {
            project: evaluation.project.clone(),
            sync_status: sync_status.to_string(),
            health_status: health.as_str().to_string(),
            repository: evaluation
                .sources
                .first()
                .map(|source| source.repo_url.clone())
                .unwrap_or_default(),
            destination_server: evaluation
                .spec
                .destination
                .server
                .clone()
                .unwrap_or_default(),
            destination_namespace: evaluation.spec.destination.namespace().to_string(),
        },
    );
    write_status(
        shared,
        key,
        application,
        status,
        previous_status,
        clear_operation,
        refreshed,
    )
    .await;
    if let Some(delay) = requeue_after {
        schedule(shared, key, delay);
    }
}

/// Fills `status` from one comparison: sync (status, revision, comparedTo), health (the worst
/// of the resources'), resources, source type, images and conditions (keeping the first
/// transition time of those `previous_status` had). Returns the sync status and the health.
#[allow(clippy::too_many_arguments)]
fn build_status(
    status: &mut Map<String, Value>,
    previous_status: &Map<String, Value>,
    evaluation: &Evaluation,
    resources: Vec<Value>,
    out_of_sync: &HashSet<ObjectKey>,
    conditions: Vec<Value>,
) -> (&'static str, HealthStatus) {
    let mut health = HealthStatus::Healthy;
    let mut health_message: Option<String> = None;
    for resource in &resources {
        if let Some(text) = resource["health"]["status"].as_str() {
            if let Ok(status) = serde_json::from_value::<HealthStatus>(json!(text)) {
                if status.is_worse_than(health) {
                    health = status;
                    health_message = resource["health"]["message"].as_str().map(|message| {
                        format!(
                            "{}/{}: {message}",
                            resource["kind"].as_str().unwrap_or(""),
                            resource["name"].as_str().unwrap_or("")
                        )
                    });
                }
            }
        }
    }
    let sync_status = if out_of_sync.is_empty() {
        "Synced"
    } else {
        "OutOfSync"
    };
    let source = serde_json::to_value(evaluation.sources.first()).unwrap_or(Value::Null);
    let mut sync = json!({
        "status": sync_status,
        "revision": evaluation.revisions.first().cloned().unwrap_or_default(),
        "comparedTo": {"source": source, "destination": evaluation.spec.destination},
    });
    if evaluation.revisions.len() > 1 {
        sync["revisions"] = json!(evaluation.revisions);
        sync["comparedTo"]["sources"] =
            serde_json::to_value(&evaluation.sources).unwrap_or(Value::Null);
    }
    status.insert("sync".into(), sync);
    let mut health_value = json!({"status": health.as_str()});
    if let Some(message) = health_message.filter(|_| health != HealthStatus::Healthy) {
        health_value["message"] = json!(message);
    }
    status.insert("health".into(), health_value);
    status.insert("resources".into(), Value::Array(resources));
    if let Some(source_type) = evaluation.source_type {
        status.insert("sourceType".into(), json!(source_type));
    }
    let images: BTreeSet<String> = evaluation
        .desired
        .iter()
        .flat_map(|desired| desired.images.iter().cloned())
        .collect();
    status.insert("summary".into(), json!({"images": images}));
    // Keep the first transition time of conditions that persist.
    let previous_conditions = previous_status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let conditions: Vec<Value> = conditions
        .into_iter()
        .map(|mut condition| {
            if let Some(previous) = previous_conditions.iter().find(|previous| {
                previous["type"] == condition["type"] && previous["message"] == condition["message"]
            }) {
                condition["lastTransitionTime"] = previous["lastTransitionTime"].clone();
            }
            condition
        })
        .collect();
    if conditions.is_empty() {
        status.remove("conditions");
    } else {
        status.insert("conditions".into(), Value::Array(conditions));
    }
    (sync_status, health)
}

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

/// Argo CD's cascading delete: with the `resources-finalizer.argocd.argoproj.io` finalizer, the
/// Application's tracked objects are deleted (except `Delete=false` ones) before the finalizer is
/// removed; without it the objects stay.
async fn finalize_deletion(shared: &Arc<Shared>, key: &AppKey, application: &Value) {
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
        Ok((cache, _, _)) => cache,
        Err(_) => shared.home.clone(),
    };
    let propagation = if finalizers
        .iter()
        .any(|finalizer| finalizer.ends_with("/background"))
    {
        "background"
    } else {
        "foreground"
    };
    let mut failed = false;
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
        if let Err(error) = cache.cluster.delete_object(&live, propagation).await {
            tracing::warn!(application = %key.1, %error, "cannot delete a tracked object");
            failed = true;
        }
    }
    if failed {
        schedule(shared, key, Duration::from_secs(5));
        return;
    }
    let remaining: Vec<String> = finalizers
        .into_iter()
        .filter(|finalizer| !finalizer.starts_with(RESOURCES_FINALIZER))
        .collect();
    if let Ok(info) = shared
        .home
        .cluster
        .resource(&format!("{GROUP}/{VERSION}"), "Application")
        .await
    {
        let patch = json!({"metadata": {"finalizers": remaining}});
        if let Err(error) = shared
            .home
            .cluster
            .merge_patch(&info, Some(&key.0), &key.1, &patch)
            .await
        {
            tracing::warn!(application = %key.1, %error, "cannot remove the Application finalizer");
            schedule(shared, key, Duration::from_secs(5));
            return;
        }
    }
    forget(shared, key);
}

/// Argo CD's refresh request annotation (`normal` or `hard`); removed once handled.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";

/// Argo CD's cascading-delete finalizer (optionally `/foreground` or `/background`).
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

fn images_of(object: &Value) -> Vec<String> {
    let mut images = Vec::new();
    let spec = &object["spec"];
    let pod_specs = [
        &spec["template"]["spec"],
        spec,
        &spec["jobTemplate"]["spec"]["template"]["spec"],
    ];
    for pod_spec in pod_specs {
        for list in ["containers", "initContainers"] {
            if let Some(containers) = pod_spec[list].as_array() {
                for container in containers {
                    if let Some(image) = container["image"].as_str() {
                        images.push(image.to_string());
                    }
                }
            }
        }
    }
    images
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

fn next_retry(
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

fn schedule(shared: &Arc<Shared>, key: &AppKey, delay: Duration) {
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

fn forget(shared: &Shared, key: &AppKey) {
    shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(key);
    shared
        .desired_index
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .retain(|_, owner| owner != key);
    shared
        .instances
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .retain(|_, owner| owner != key);
    shared.metrics.remove_app(&key.0, &key.1);
}

/// Checks the spec and project, resolves and renders the sources, normalises the desired objects
/// and makes sure their kinds are watched. Errors are the conditions to report.
async fn evaluate(
    shared: &Arc<Shared>,
    key: &AppKey,
    application: &Value,
) -> Result<Evaluation, Vec<Value>> {
    let spec: ApplicationSpec =
        serde_json::from_value(application["spec"].clone()).map_err(|error| {
            vec![condition(
                "InvalidSpecError",
                format!("the Application spec is malformed: {error}"),
            )]
        })?;
    let sources: Vec<ApplicationSource> = spec.all_sources().into_iter().cloned().collect();
    if sources.is_empty() {
        return Err(vec![condition(
            "InvalidSpecError",
            "spec.source or spec.sources is required",
        )]);
    }
    for source in &sources {
        if source.repo_url.is_empty() {
            return Err(vec![condition(
                "InvalidSpecError",
                "spec.source.repoURL is required",
            )]);
        }
    }
    let project_name = if spec.project.is_empty() {
        "default".to_string()
    } else {
        spec.project.clone()
    };
    {
        let mut memory = shared
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let remembered: &mut AppMemory = memory.entry(key.clone()).or_default();
        remembered.instance = instance_name(shared, key);
        shared
            .instances
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(remembered.instance.clone(), key.clone());
        remembered.project = project_name.clone();
        remembered.repositories = sources
            .iter()
            .map(|source| (source.repo_url.clone(), source.target_revision.clone()))
            .collect();
    }
    let project = find_project(shared, key, &project_name).ok_or_else(|| {
        vec![condition(
            "InvalidSpecError",
            format!("Application referencing project {project_name} which does not exist"),
        )]
    })?;
    for source in &sources {
        if !project.permits_source(&source.repo_url) {
            return Err(vec![condition(
                "InvalidSpecError",
                format!(
                    "application repo {} is not permitted in project '{project_name}'",
                    source.repo_url
                ),
            )]);
        }
    }
    let (cache, server, cluster_name) = destination_cluster(shared, &spec).await?;
    let destination_namespace = spec.destination.namespace().to_string();
    if !project.permits_destination(&server, &cluster_name, &destination_namespace) {
        return Err(vec![condition(
            "InvalidSpecError",
            format!(
                "application destination server '{server}' and namespace '{destination_namespace}' do not match any of the allowed destinations in project '{project_name}'"
            ),
        )]);
    }

    // Resolve every source to a commit.
    let operation_revision = application["operation"]["sync"]["revision"]
        .as_str()
        .filter(|revision| !revision.is_empty())
        .map(str::to_string);
    let mut revisions = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        let wanted = match (&operation_revision, index) {
            (Some(revision), 0) => revision.clone(),
            _ => source.target_revision.clone(),
        };
        // A requested operation or a refresh annotation asks the repository again, as Argo CD's
        // sync and hard refresh do; otherwise the poller keeps revisions current.
        let fresh = application["operation"].is_object()
            || application["metadata"]["annotations"][REFRESH_ANNOTATION].is_string();
        if fresh {
            shared
                .revisions
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&(source.repo_url.clone(), wanted.clone()));
        }
        let commit = resolve_revision(shared, &source.repo_url, &wanted)
            .await
            .map_err(|message| vec![condition("ComparisonError", message)])?;
        revisions.push(commit);
    }
    let instance = instance_name(shared, key);
    // Rendering and normalising are pure in these inputs: reuse the last result when none moved.
    let desired_key = serde_json::to_string(&json!([
        revisions,
        sources,
        spec.destination,
        spec.ignore_differences,
        instance,
        serde_json::to_value(&project).unwrap_or(Value::Null),
        cache.cluster.server,
    ]))
    .unwrap_or_default();
    let cached = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(key)
        .and_then(|memory| memory.desired_cache.clone())
        .filter(|cached| cached.key == desired_key);
    let rebuilt = cached.is_none();
    // A cached set has every kind served: nothing to wait for.
    let (desired, kinds, source_type, waiting) = match cached {
        Some(cached) => (cached.desired, cached.kinds, cached.source_type, Vec::new()),
        None => {
            let mut objects = Vec::new();
            let mut source_type = None;
            for (source, commit) in sources.iter().zip(&revisions) {
                if source.reference.is_some() && source.path.is_empty() {
                    // A `ref` source only provides files to other sources (Helm values).
                    continue;
                }
                let rendered = render_cached(shared, source, commit)
                    .await
                    .map_err(|message| vec![condition("ComparisonError", message)])?;
                source_type = Some(match rendered.source_type {
                    crate::render::SourceType::Kustomize => "Kustomize",
                    crate::render::SourceType::Directory => "Directory",
                });
                objects.extend(rendered.objects.iter().cloned());
            }

            // Normalise: namespace, tracking id, scope; check the project's resource rules.
            // Kinds defined by CRDs in this same sync, with their scope.
            let defined_by_crds: std::collections::HashMap<(String, String), bool> = objects
                .iter()
                .filter(|object| object["kind"] == "CustomResourceDefinition")
                .map(|crd| {
                    (
                        (
                            crd["spec"]["group"].as_str().unwrap_or("").to_string(),
                            crd["spec"]["names"]["kind"]
                                .as_str()
                                .unwrap_or("")
                                .to_string(),
                        ),
                        crd["spec"]["scope"].as_str() != Some("Cluster"),
                    )
                })
                .collect();
            let mut desired = Vec::new();
            let mut errors = Vec::new();
            let mut kinds = BTreeSet::new();
            let mut waiting = Vec::new();
            for mut object in objects {
                let api_version = object["apiVersion"].as_str().unwrap_or("").to_string();
                let kind = object["kind"].as_str().unwrap_or("").to_string();
                let group = api_version
                    .rsplit_once('/')
                    .map(|(group, _)| group.to_string())
                    .unwrap_or_default();
                let info = match cache.cluster.resource(&api_version, &kind).await {
                    Ok(info) => Some(info),
                    Err(ClusterError::UnknownKind { .. }) => {
                        // The kind is served later: by a CRD in this sync; by one expected from
                        // elsewhere when the object says `SkipDryRunOnMissingResource=true` (an
                        // operator installed in an earlier wave brings it: the sync waits for it
                        // when the object's wave comes, as Argo CD applies it then); or by the
                        // server itself on the object's first write, when it accepts unknown
                        // kinds. Otherwise the Application waits for the kind (`kind_waits`).
                        let expected = defined_by_crds.contains_key(&(group.clone(), kind.clone()))
                            || skip_dry_run_on_missing(&object, &spec)
                            || cache.cluster.accepts_unknown_kinds().await;
                        if !expected {
                            crate::kind_waits::record(
                                &mut waiting,
                                &api_version,
                                &kind,
                                object["metadata"]["name"].as_str().unwrap_or(""),
                            );
                        }
                        None
                    }
                    Err(error) => {
                        return Err(vec![condition(
                            "ComparisonError",
                            format!("discovery failed: {error}"),
                        )])
                    }
                };
                // Custom resources of a CRD in this sync are namespaced unless the CRD says
                // otherwise; an object of a kind not served yet is namespaced when it or the
                // destination names a namespace.
                let namespaced = match &info {
                    Some(info) => info.namespaced,
                    None => defined_by_crds
                        .get(&(group.clone(), kind.clone()))
                        .copied()
                        .unwrap_or_else(|| {
                            object["metadata"]["namespace"]
                                .as_str()
                                .is_some_and(|namespace| !namespace.is_empty())
                                || !destination_namespace.is_empty()
                        }),
                };
                let metadata = object["metadata"].as_object_mut();
                let Some(metadata) = metadata else {
                    errors.push(condition(
                        "ComparisonError",
                        format!("a {kind} has no metadata"),
                    ));
                    continue;
                };
                if namespaced {
                    let has_namespace = metadata
                        .get("namespace")
                        .and_then(Value::as_str)
                        .is_some_and(|namespace| !namespace.is_empty());
                    if !has_namespace {
                        if destination_namespace.is_empty() {
                            errors.push(condition(
                                "ComparisonError",
                                format!(
                                    "{kind}/{} has no namespace and the destination names none",
                                    metadata.get("name").and_then(Value::as_str).unwrap_or("")
                                ),
                            ));
                            continue;
                        }
                        metadata.insert("namespace".into(), json!(destination_namespace));
                    }
                } else {
                    metadata.remove("namespace");
                }
                let hook = is_hook(&object);
                if !project.permits_resource(&group, &kind, namespaced) {
                    errors.push(condition(
                        "InvalidSpecError",
                        format!(
                            "resource {}:{kind} is not permitted in project {project_name}",
                            group
                        ),
                    ));
                    continue;
                }
                let key_of = object_key(&object);
                let tracking = format!(
                    "{instance}:{}/{}:{}/{}",
                    key_of.0, key_of.1, key_of.2, key_of.3
                );
                let annotations = object["metadata"]
                    .as_object_mut()
                    .expect("checked above")
                    .entry("annotations")
                    .or_insert_with(|| json!({}));
                if let Value::Object(annotations) = annotations {
                    annotations.insert(TRACKING_ANNOTATION.into(), json!(tracking));
                }
                kinds.insert((api_version.clone(), kind.clone()));
                desired.push(Desired::new(object, info, hook));
            }
            if !errors.is_empty() {
                return Err(errors);
            }
            let desired = Arc::new(desired);
            {
                let mut memory = shared
                    .memory
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let remembered = memory.entry(key.clone()).or_default();
                remembered.desired_epoch += 1;
                // Kinds still unknown (their CRD is in this sync) are resolved again next time.
                remembered.desired_cache =
                    desired.iter().all(|entry| entry.info.is_some()).then(|| {
                        crate::controller::DesiredCache {
                            key: desired_key,
                            desired: desired.clone(),
                            kinds: kinds.clone(),
                            source_type,
                        }
                    });
            }
            (desired, kinds, source_type, waiting)
        }
    };

    // Watch every kind involved, including kinds this Application had before (for pruning),
    // and index the desired objects: needed only when they were rebuilt.
    if rebuilt {
        let previous_kinds: Vec<(String, String)> = application["status"]["resources"]
            .as_array()
            .map(|resources| {
                resources
                    .iter()
                    .map(|resource| {
                        let group = resource["group"].as_str().unwrap_or("");
                        let version = resource["version"].as_str().unwrap_or("v1");
                        let api_version = if group.is_empty() {
                            version.to_string()
                        } else {
                            format!("{group}/{version}")
                        };
                        (
                            api_version,
                            resource["kind"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let remembered_kinds = shared
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(key)
            .map(|memory| memory.kinds.clone())
            .unwrap_or_default();
        for (api_version, kind) in kinds
            .iter()
            .chain(previous_kinds.iter())
            .chain(remembered_kinds.iter())
        {
            if kind.is_empty() {
                continue;
            }
            match cache.ensure(api_version, kind).await {
                Ok(_) | Err(ClusterError::UnknownKind { .. }) => {}
                Err(error) => {
                    return Err(vec![condition(
                        "ComparisonError",
                        format!("cannot watch {kind}: {error}"),
                    )])
                }
            }
        }
        {
            let mut memory = shared
                .memory
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(remembered) = memory.get_mut(key) {
                remembered.kinds.extend(kinds.iter().cloned());
                // Re-index only when the desired objects were rebuilt (epoch moved).
                let wanted: Vec<(String, String, String, String)> = desired
                    .iter()
                    .map(|entry| {
                        (
                            cache.cluster.name.clone(),
                            entry.key.1.clone(),
                            entry.key.2.clone(),
                            entry.key.3.clone(),
                        )
                    })
                    .collect();
                if remembered.index_keys != wanted {
                    let mut index = shared
                        .desired_index
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    for stale in &remembered.index_keys {
                        if index.get(stale) == Some(key) {
                            index.remove(stale);
                        }
                    }
                    for entry in &wanted {
                        index.insert(entry.clone(), key.clone());
                    }
                    remembered.index_keys = wanted;
                }
            }
        }
    }
    let to_prune = prunable(&cache, &instance, &desired);
    Ok(Evaluation {
        spec,
        sources,
        revisions,
        source_type,
        cache,
        desired_objects: (0..desired.len())
            .map(|_| std::sync::OnceLock::new())
            .collect(),
        desired,
        to_prune,
        project: project_name,
        waiting,
    })
}

/// Whether `SkipDryRunOnMissingResource=true` holds for `object` (its sync-options annotation
/// over the Application's `syncOptions`).
fn skip_dry_run_on_missing(object: &Value, spec: &ApplicationSpec) -> bool {
    flotilla_plan::parse_sync_options(spec.sync_options())
        .and_then(|options| flotilla_plan::object_sync_options(object, &options))
        .is_ok_and(|options| options.skip_dry_run_on_missing_resource)
}

/// The live objects this Application's tracking id names exactly that are no longer desired
/// (hooks excepted). Only those are parsed: when nothing is to be pruned this parses nothing.
fn prunable(cache: &LiveCache, instance: &str, desired: &[Desired]) -> Vec<Arc<Value>> {
    let desired_keys: HashSet<&ObjectKey> = desired.iter().map(|entry| &entry.key).collect();
    cache
        .tracked_where(instance, |group, kind, namespace, name| {
            !desired_keys.contains(&(
                group.to_string(),
                kind.to_string(),
                namespace.to_string(),
                name.to_string(),
            ))
        })
        .into_iter()
        .filter(|live| !is_hook(live))
        .filter(|live| {
            // Only objects this Application's tracking id names exactly (not copies).
            let live_key = object_key(live);
            live["metadata"]["annotations"][TRACKING_ANNOTATION].as_str()
                == Some(&format!(
                    "{instance}:{}/{}:{}/{}",
                    live_key.0, live_key.1, live_key.2, live_key.3
                ))
        })
        .collect()
}

/// Compares every desired object with the live cache: `status.resources` entries and the keys
/// that are out of sync (objects to prune included). `written` holds objects this reconcile
/// just wrote, as the server answered: one still current in the cache is read from there
/// instead of being parsed back. `fresh` compares every object again, cached or not, and leaves
/// the cache alone (a preview beside the controller's own passes).
fn compare_all(
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
        let health = match &live {
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
async fn check_with_server(
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
enum ResourceEntry {
    Built(Value),
    Cached(Arc<str>),
}

/// The entries as `status.resources` holds them.
fn resource_values(resources: Vec<(ObjectKey, ResourceEntry)>) -> Vec<Value> {
    resources
        .into_iter()
        .map(|(_, entry)| match entry {
            ResourceEntry::Built(value) => value,
            ResourceEntry::Cached(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        })
        .collect()
}

/// What `compare_all` found.
struct Comparisons {
    /// `status.resources`, by (group, kind, namespace, name).
    resources: Vec<(ObjectKey, ResourceEntry)>,
    out_of_sync: HashSet<ObjectKey>,
    /// Every result came from the comparison cache (nothing live or desired changed).
    all_cached: bool,
    /// The Application's `ignoreDifferences` rules that parse (the others are conditions).
    rules: Vec<flotilla_diff::IgnoreDifference>,
}

pub(crate) fn resource_entry(object: &Value) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    let mut entry =
        json!({"version": version, "kind": object["kind"], "name": object["metadata"]["name"]});
    if !group.is_empty() {
        entry["group"] = json!(group);
    }
    if let Some(namespace) = object["metadata"]["namespace"]
        .as_str()
        .filter(|namespace| !namespace.is_empty())
    {
        entry["namespace"] = json!(namespace);
    }
    entry
}

fn live_version(cache: &LiveCache, desired: &Desired) -> Option<String> {
    let kind_cache = cache.watched(&desired.api_version, &desired.key.1)?;
    kind_cache.version(&desired.key.2, &desired.key.3)
}

pub(crate) fn live_object(cache: &LiveCache, object: &Value) -> Option<Arc<Value>> {
    let api_version = object["apiVersion"].as_str()?;
    let kind = object["kind"].as_str()?;
    let kind_cache = cache.watched(api_version, kind)?;
    kind_cache.get(
        object["metadata"]["namespace"].as_str().unwrap_or(""),
        object["metadata"]["name"].as_str()?,
    )
}

fn find_project(shared: &Shared, key: &AppKey, name: &str) -> Option<AppProjectSpec> {
    let projects = shared
        .home
        .watched(&format!("{GROUP}/{VERSION}"), "AppProject");
    let found = projects.and_then(|projects| {
        projects
            .get(&shared.config.control_namespace, name)
            .or_else(|| projects.get(&key.0, name))
    });
    match found {
        Some(project) => serde_json::from_value(project["spec"].clone()).ok(),
        None if name == "default" => Some(AppProjectSpec::permissive()),
        None => None,
    }
}

/// The cluster an Application deploys to: the controller's own, or one registered as an Argo CD
/// cluster Secret in the control namespace.
async fn destination_cluster(
    shared: &Arc<Shared>,
    spec: &ApplicationSpec,
) -> Result<(Arc<LiveCache>, String, String), Vec<Value>> {
    let server = spec.destination.server.clone().unwrap_or_default();
    let name = spec.destination.name.clone().unwrap_or_default();
    if !server.is_empty() && !name.is_empty() {
        return Err(vec![condition(
            "InvalidSpecError",
            "application destination can't have both name and server defined",
        )]);
    }
    if server == IN_CLUSTER_SERVER
        || name == IN_CLUSTER_NAME
        || (server.is_empty() && name.is_empty())
    {
        if server.is_empty() && name.is_empty() {
            return Err(vec![condition(
                "InvalidSpecError",
                "application destination needs a server or a name",
            )]);
        }
        return Ok((
            shared.home.clone(),
            IN_CLUSTER_SERVER.to_string(),
            IN_CLUSTER_NAME.to_string(),
        ));
    }
    if let Some(cache) = shared
        .remotes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .values()
        .find(|cache| {
            (!server.is_empty() && cache.cluster.server == server)
                || (!name.is_empty() && cache.cluster.name == name)
        })
        .cloned()
    {
        return Ok((
            cache.clone(),
            cache.cluster.server.clone(),
            cache.cluster.name.clone(),
        ));
    }
    // Look the cluster up among the Argo CD cluster Secrets.
    let secrets_info = shared
        .home
        .cluster
        .resource("v1", "Secret")
        .await
        .map_err(|error| vec![condition("ComparisonError", error.to_string())])?;
    let parameters =
        kube::api::ListParams::default().labels("argocd.argoproj.io/secret-type=cluster");
    let list = shared
        .home
        .cluster
        .list(
            &secrets_info,
            Some(&shared.config.control_namespace),
            &parameters,
        )
        .await
        .map_err(|error| {
            vec![condition(
                "ComparisonError",
                format!("cannot list cluster Secrets: {error}"),
            )]
        })?;
    for secret in list["items"].as_array().cloned().unwrap_or_default() {
        let cluster = match crate::cluster::cluster_from_secret(&secret) {
            Ok(cluster) => cluster,
            Err(error) => {
                tracing::warn!(%error, "skipping a cluster Secret");
                continue;
            }
        };
        if (!server.is_empty() && same_server(&cluster.server, &server))
            || (!name.is_empty() && cluster.name == name)
        {
            let (found_server, found_name) = (cluster.server.clone(), cluster.name.clone());
            let cache = Arc::new(LiveCache::new(
                Arc::new(cluster),
                shared.events.clone(),
                shared.shutdown.clone(),
            ));
            shared
                .remotes
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(found_server.clone(), cache.clone());
            return Ok((cache, found_server, found_name));
        }
    }
    let wanted = if server.is_empty() {
        format!("name `{name}`")
    } else {
        format!("server `{server}`")
    };
    Err(vec![condition(
        "InvalidSpecError",
        format!("there are no clusters with this {wanted}: register it as a Secret labelled argocd.argoproj.io/secret-type=cluster in `{}`", shared.config.control_namespace),
    )])
}

fn same_server(left: &str, right: &str) -> bool {
    left.trim_end_matches('/') == right.trim_end_matches('/')
}

async fn resolve_revision(
    shared: &Arc<Shared>,
    repository: &str,
    revision: &str,
) -> Result<String, String> {
    let key = (repository.to_string(), revision.to_string());
    if let Some(commit) = shared
        .revisions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&key)
    {
        return Ok(commit.clone());
    }
    let resolver = shared.clone();
    let (repository_owned, revision_owned) = key.clone();
    let resolved = tokio::task::spawn_blocking(move || {
        crate::controller::resolve_measured(&resolver, &repository_owned, &revision_owned)
    })
    .await
    .map_err(|error| format!("resolving {revision} of {repository}: {error}"))?
    .map_err(|error| {
        format!(
            "rpc error: unable to resolve '{}' to a commit SHA: {error}",
            if revision.is_empty() {
                "HEAD"
            } else {
                revision
            }
        )
    })?;
    shared
        .revisions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(key, resolved.commit.clone());
    Ok(resolved.commit)
}

/// A render error with the paths of the commit's tree (`<cache>/snapshots/<commit>/…`, where
/// the build sees it) written as the repository names them (`environments/dev/kustomization.yaml`).
/// A render error as the repository names its files: the snapshot's root taken off every path,
/// and the commit after each position (`` `app/cm.yaml`:18:11 at 71f8fae ``), or after the
/// message when it names no position.
fn repository_relative(message: &str, root: &std::path::Path, commit: &str) -> String {
    let root = root.display().to_string();
    let relative = message
        .replace(&format!("{root}/"), "")
        .replace(&format!("`{root}`"), "`.`");
    let short = &commit[..commit.len().min(7)];
    let mut marked = String::with_capacity(relative.len() + 16);
    let mut rest = relative.as_str();
    let mut positions = 0;
    while let Some(found) = rest.find("`:") {
        let (before, after) = rest.split_at(found + 2);
        marked.push_str(before);
        let line_digits = after.chars().take_while(char::is_ascii_digit).count();
        let after_line = &after[line_digits..];
        let column_digits = after_line
            .strip_prefix(':')
            .map(|text| text.chars().take_while(char::is_ascii_digit).count())
            .unwrap_or(0);
        if line_digits > 0 {
            let end = line_digits
                + if column_digits > 0 {
                    1 + column_digits
                } else {
                    0
                };
            marked.push_str(&after[..end]);
            marked.push_str(&format!(" at {short}"));
            positions += 1;
            rest = &after[end..];
        } else {
            rest = after;
        }
    }
    marked.push_str(rest);
    if positions == 0 && !short.is_empty() {
        marked.push_str(&format!(" (at {short})"));
    }
    marked
}

async fn render_cached(
    shared: &Arc<Shared>,
    source: &ApplicationSource,
    commit: &str,
) -> Result<Arc<Rendered>, String> {
    let options = json!({"kustomize": source.kustomize, "directory": source.directory, "chart": source.chart});
    let cache_key = format!(
        "{commit}\n{}\n{}\n{}",
        source.repo_url, source.path, options
    );
    if let Some(rendered) = shared
        .renders
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&cache_key)
    {
        return Ok(rendered.clone());
    }
    let renderer = shared.clone();
    let source_owned = source.clone();
    let commit_owned = commit.to_string();
    let rendered = tokio::task::spawn_blocking(move || -> Result<Rendered, String> {
        let tree = renderer
            .repositories
            .tree(&source_owned.repo_url, &commit_owned)
            .map_err(|error| error.to_string())?;
        // Fetched where the tree lets the build read them, through the same mirrors.
        let fetcher = renderer
            .repositories
            .remote_base_fetcher()
            .map_err(|error| error.to_string())?;
        render_source(&*tree, tree.root(), &source_owned, Some(&fetcher)).map_err(|error| {
            repository_relative(&crate::error_chain(&error), tree.root(), &commit_owned)
        })
    })
    .await
    .map_err(|error| format!("rendering failed: {error}"))??;
    let rendered = Arc::new(rendered);
    let mut renders = shared
        .renders
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Applications keep their own normalised copy; this cache only spares re-rendering a
    // source several Applications share, so it stays small.
    if renders.len() > 32 {
        renders.clear();
    }
    renders.insert(cache_key, rendered.clone());
    Ok(rendered)
}

/// One object of a preview (`flotilla app diff`).
#[derive(Clone, Debug)]
pub struct PreviewEntry {
    /// `Kind/namespace/name`.
    pub resource: String,
    pub desired: Option<Value>,
    /// The server's answer to a dry-run apply of `desired`, when it was asked (server-side
    /// diff): the diff then shows what a sync would really change.
    pub predicted: Option<Value>,
    pub live: Option<Value>,
    pub in_sync: bool,
    pub reasons: Vec<String>,
}

/// What a sync would change, without changing anything.
#[derive(Clone, Debug, Default)]
pub struct Preview {
    pub entries: Vec<PreviewEntry>,
    pub rules: Vec<flotilla_diff::IgnoreDifference>,
    /// What the pre-sync gate would say (prune as the automated policy says; `gate`).
    pub guardrails: crate::gate::GateReport,
}

impl Preview {
    pub fn has_differences(&self) -> bool {
        self.entries.iter().any(|entry| !entry.in_sync)
    }

    /// A unified diff per object that differs (Secrets masked).
    pub fn render(&self) -> String {
        let mut text = String::new();
        if !self.guardrails.is_empty() {
            text.push_str("===== guardrails ======\n");
            text.push_str(&self.guardrails.render());
        }
        for entry in self.entries.iter().filter(|entry| !entry.in_sync) {
            text.push_str(&format!("===== {} ======\n", entry.resource));
            for reason in &entry.reasons {
                text.push_str(&format!("# {reason}\n"));
            }
            match flotilla_diff::render_diff(
                entry.predicted.as_ref().or(entry.desired.as_ref()),
                entry.live.as_ref(),
                crate::cluster::FIELD_MANAGER,
                &self.rules,
            ) {
                Ok(diff) => text.push_str(&diff),
                Err(error) => text.push_str(&format!("# cannot render the diff: {error}\n")),
            }
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        text
    }
}

/// Compares an Application's desired objects with the cluster without syncing.
pub(crate) async fn preview(shared: &Arc<Shared>, key: &AppKey) -> Result<Preview, String> {
    let api_version = format!("{GROUP}/{VERSION}");
    let application = shared
        .home
        .watched(&api_version, "Application")
        .and_then(|applications| applications.get(&key.0, &key.1))
        .ok_or_else(|| format!("application `{}` not found in namespace `{}`", key.1, key.0))?;
    let evaluation = evaluate(shared, key, &application)
        .await
        .map_err(|conditions| {
            conditions
                .iter()
                .filter_map(|condition| condition["message"].as_str())
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    let mut conditions = Vec::new();
    // Fresh: the controller may be between comparing an object and confirming the difference
    // with the server, and a preview shows the server's answer.
    let mut comparisons = compare_all(
        shared,
        key,
        &evaluation,
        &mut conditions,
        &HashMap::new(),
        true,
    );
    let mut predictions = check_with_server(
        shared,
        key,
        &application,
        &evaluation,
        &mut comparisons,
        &mut conditions,
        &HashMap::new(),
        false,
    )
    .await;
    let rules = std::mem::take(&mut comparisons.rules);
    let resources = resource_values(comparisons.resources);
    let mut entries = Vec::new();
    for (index, desired) in evaluation.desired.iter().enumerate() {
        if desired.hook {
            continue;
        }
        // Parsed once: the comparison above may already have parsed it.
        let desired_object = evaluation.desired_object(index);
        let live = live_object(&evaluation.cache, desired_object).map(|live| (*live).clone());
        let status = resources.iter().find(|resource| {
            resource["kind"] == desired_object["kind"]
                && resource["name"] == desired_object["metadata"]["name"]
                && resource["namespace"].as_str().unwrap_or("") == desired.key.2
        });
        let in_sync = status.is_some_and(|status| status["status"] == "Synced");
        let reasons = status
            .and_then(|status| status["message"].as_str())
            .map(|message| message.split("; ").map(str::to_string).collect())
            .unwrap_or_default();
        entries.push(PreviewEntry {
            resource: format!("{}/{}/{}", desired.key.1, desired.key.2, desired.key.3),
            desired: Some(desired_object.clone()),
            predicted: predictions.remove(&desired.key),
            live,
            in_sync,
            reasons,
        });
    }
    for live in &evaluation.to_prune {
        let key_of = object_key(live);
        entries.push(PreviewEntry {
            resource: format!("{}/{}/{}", key_of.1, key_of.2, key_of.3),
            desired: None,
            predicted: None,
            live: Some((**live).clone()),
            in_sync: false,
            reasons: vec!["no longer in Git: will be pruned".into()],
        });
    }
    let desired_objects = evaluation.desired_objects_owned();
    let guardrails = crate::gate::check(
        &shared.repositories,
        crate::gate::Subject {
            application: &application,
            sources: &evaluation.sources,
            revisions: &evaluation.revisions,
            desired: &desired_objects,
            cache: &evaluation.cache,
            to_prune: &evaluation.to_prune,
            prune: evaluation
                .spec
                .automated()
                .is_some_and(|automated| automated.prune),
            sync_options: evaluation.spec.sync_options().to_vec(),
        },
    )
    .await;
    Ok(Preview {
        entries,
        rules,
        guardrails,
    })
}

#[cfg(test)]
mod repository_relative_tests {
    use super::repository_relative;

    #[test]
    fn positions_name_the_commit() {
        let root = std::path::Path::new("/cache/snapshots/abc");
        assert_eq!(
            repository_relative(
                "cannot read `/cache/snapshots/abc/app/cm.yaml`:18:11: mapping values",
                root,
                "71f8fae0123456789"
            ),
            "cannot read `app/cm.yaml`:18:11 at 71f8fae: mapping values"
        );
        assert_eq!(
            repository_relative(
                "no kustomization in `/cache/snapshots/abc`",
                root,
                "71f8fae01"
            ),
            "no kustomization in `.` (at 71f8fae)"
        );
    }
}
