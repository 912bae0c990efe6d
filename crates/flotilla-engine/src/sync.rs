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
//! A sync that waits (a wave's health, a hook, a kind still to be served) says what it waits on
//! through [`SyncControl::progress`], so the Application's status shows a `Running` operation
//! and its message instead of the last finished one, and it stops early when
//! [`SyncControl::interrupt`] gives a reason (a terminated operation, a newer revision for an
//! automated sync, a shutdown). A child Application that reports an error for the spec it was
//! given (an `…Error` condition, its `comparedTo` equal to its spec) cannot become healthy by
//! waiting: once that has held for [`SETTLE`], the wave fails with the child's own message
//! rather than waiting out the wave timeout.
//!
//! Depends on `context`, `objects`, `gate`, `kind_waits`, `live`, `cluster` and `model`; only
//! `reconcile` calls it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_health::HealthStatus;
use flotilla_plan::{HookDeletePolicy, Phase, SyncOptions, Task};
use serde_json::{json, Value};

use crate::cluster::{ClusterError, ResourceInfo};
use crate::context::Shared;
use crate::live::LiveCache;
use crate::model::ApplicationSpec;
use crate::objects::{live_object, object_key, resource_entry, Desired, ObjectKey};

/// What to sync.
pub(crate) struct SyncRequest {
    pub prune: bool,
    pub dry_run: bool,
    /// Options of this operation on top of the Application's.
    pub extra_options: Vec<String>,
    pub automated: bool,
    /// The `operation` recorded in `status.operationState`.
    pub operation: Value,
}

/// What a sync reports while it runs, and how it learns that it should stop.
pub(crate) struct SyncControl<'a> {
    /// What the sync is waiting on, each time that changes (`waiting for healthy state of …`).
    pub progress: tokio::sync::mpsc::UnboundedSender<String>,
    /// Why the sync must stop now, if it must (asked between steps and while waiting).
    pub interrupt: &'a (dyn Fn() -> Option<String> + Send + Sync),
}

impl SyncControl<'_> {
    fn report(&self, message: String) {
        // The receiver only goes away with the reconcile that owns this sync.
        let _ = self.progress.send(message);
    }
}

/// How long a child Application must report an error for its current spec before a wave stops
/// waiting for it: long enough for its controller to take in a change this sync made (its
/// project, its spec), short beside any wave timeout.
pub(crate) const SETTLE: Duration = Duration::from_secs(3);

/// How a sync ended.
pub(crate) struct SyncOutcome {
    /// `Succeeded`, `Failed` or `Error`, as Argo CD's operation phases.
    pub phase: &'static str,
    pub message: String,
    /// `syncResult.resources`.
    pub resources: Vec<Value>,
    /// Objects written.
    pub applied: usize,
    /// The server's answers to the applies, as cached: the comparison after the sync reads
    /// them instead of parsing the cache back.
    pub live_objects: HashMap<ObjectKey, Arc<Value>>,
    /// Why the sync stopped before its end (`SyncControl::interrupt`), when it did.
    pub interrupted: Option<String>,
}

impl SyncOutcome {
    /// A sync that ended before its first step, with nothing applied (the pre-sync gate).
    pub(crate) fn not_started(
        phase: &'static str,
        message: String,
        resources: Vec<Value>,
    ) -> SyncOutcome {
        SyncOutcome {
            phase,
            message,
            resources,
            applied: 0,
            live_objects: HashMap::new(),
            interrupted: None,
        }
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::PreSync => "PreSync",
        Phase::Sync => "Sync",
        Phase::PostSync => "PostSync",
        Phase::SyncFail => "SyncFail",
    }
}

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

/// Why a wait ended without its object becoming ready.
pub(crate) enum WaitError {
    /// The object failed, or the wait timed out.
    Failed(String),
    /// The sync was told to stop.
    Interrupted(String),
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
                match run_hook(shared, cache, task, info, request.dry_run, Some(&control)).await {
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
            match run_hook(shared, cache, task, info, request.dry_run, None).await {
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

/// `deployment.apps/web`, as kubectl and Argo CD name objects in messages.
fn display_name(object: &Value) -> String {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let group = api_version
        .rsplit_once('/')
        .map(|(group, _)| group)
        .unwrap_or("");
    let kind = object["kind"].as_str().unwrap_or("").to_ascii_lowercase();
    let name = object["metadata"]["name"]
        .as_str()
        .or_else(|| object["metadata"]["generateName"].as_str())
        .unwrap_or("");
    if group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{group}/{name}")
    }
}

async fn ensure_namespace(cache: &LiveCache, namespace: &str) -> Result<(), String> {
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
async fn dry_run_refusal<'plan>(
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
async fn resource_for(
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

async fn apply_one(
    shared: &Shared,
    cache: &LiveCache,
    object: &Value,
    info: Option<ResourceInfo>,
    options: &SyncOptions,
    dry_run: bool,
    control: &SyncControl<'_>,
) -> Result<(Value, Option<String>, &'static str), WaitError> {
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

/// Waits until every object is healthy (or has no health rule); Degraded fails the wave, and so
/// does a child Application that cannot become healthy (see the module documentation).
async fn wait_healthy(
    shared: &Shared,
    cache: &LiveCache,
    objects: &[&Value],
    control: &SyncControl<'_>,
) -> Result<(), WaitError> {
    let deadline = Instant::now() + shared.config.wave_timeout;
    let mut reported: Option<String> = None;
    // Since when each child Application has reported an error for its current spec.
    let mut failing_since: HashMap<String, Instant> = HashMap::new();
    loop {
        if let Some(reason) = (control.interrupt)() {
            return Err(WaitError::Interrupted(reason));
        }
        let mut waiting_on: Option<String> = None;
        for object in objects {
            let live = live_object(cache, object);
            let Some(live) = live else {
                waiting_on = Some(format!("{} to appear", display_name(object)));
                break;
            };
            if let Some(error) = application_error(&live) {
                let since = *failing_since
                    .entry(display_name(object))
                    .or_insert_with(Instant::now);
                if since.elapsed() >= SETTLE {
                    return Err(WaitError::Failed(format!(
                        "{} cannot become healthy: {error}",
                        display_name(object)
                    )));
                }
            } else {
                failing_since.remove(&display_name(object));
            }
            if is_application(&live) && !application_status_is_current(&live) {
                waiting_on = Some(format!(
                    "{} to be reconciled with its new spec",
                    display_name(object)
                ));
                break;
            }
            match flotilla_health::assess(&live) {
                Some(health) if health.status == HealthStatus::Degraded => {
                    return Err(WaitError::Failed(format!(
                        "{} is Degraded: {}",
                        display_name(object),
                        health.message.unwrap_or_default()
                    )));
                }
                Some(health)
                    if matches!(
                        health.status,
                        HealthStatus::Progressing | HealthStatus::Missing | HealthStatus::Unknown
                    ) =>
                {
                    waiting_on = Some(format!(
                        "{} to become healthy ({})",
                        display_name(object),
                        health
                            .message
                            .unwrap_or_else(|| health.status.as_str().to_string())
                    ));
                    break;
                }
                _ => {}
            }
        }
        let Some(waiting_on) = waiting_on else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            return Err(WaitError::Failed(format!(
                "timed out after {:?} waiting for {waiting_on}",
                shared.config.wave_timeout
            )));
        }
        if reported.as_deref() != Some(waiting_on.as_str()) {
            control.report(format!("waiting for {waiting_on}"));
            reported = Some(waiting_on);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn is_application(object: &Value) -> bool {
    object["kind"] == "Application"
        && object["apiVersion"].as_str()
            == Some(&format!(
                "{}/{}",
                crate::model::GROUP,
                crate::model::VERSION
            ))
}

/// Whether a child Application's status is about the spec it has now: its
/// `status.sync.comparedTo` names its current source(s) and destination. Right after a sync
/// changed a child's spec, its status is still the one of the old spec, and its health says
/// nothing yet about the new one.
fn application_status_is_current(live: &Value) -> bool {
    let compared = &live["status"]["sync"]["comparedTo"];
    if !compared.is_object() {
        return false;
    }
    let spec = &live["spec"];
    let same = |left: &Value, right: &Value, fields: &[&str]| {
        fields
            .iter()
            .all(|field| left[field].as_str().unwrap_or("") == right[field].as_str().unwrap_or(""))
    };
    let source_fields = ["repoURL", "path", "targetRevision", "chart"];
    let sources_match = match spec["sources"].as_array() {
        Some(sources) => compared["sources"]
            .as_array()
            .is_some_and(|compared_sources| {
                compared_sources.len() == sources.len()
                    && sources
                        .iter()
                        .zip(compared_sources)
                        .all(|(source, compared_source)| {
                            same(compared_source, source, &source_fields)
                        })
            }),
        None => same(&compared["source"], &spec["source"], &source_fields),
    };
    sources_match
        && same(
            &compared["destination"],
            &spec["destination"],
            &["server", "name", "namespace"],
        )
}

/// The error a child Application reports for the spec it has now (an `…Error` or a
/// `GuardrailViolation` condition, with a current status): None for other objects, healthy
/// Applications, or a status not yet about the current spec. A child waiting for a kind to be served (`kind_waits`) can become healthy
/// by waiting: that condition is not such an error, and the wave waits for it as for any other.
fn application_error(live: &Value) -> Option<String> {
    if !is_application(live)
        || live["status"]["health"]["status"] == "Healthy"
        || !application_status_is_current(live)
    {
        return None;
    }
    live["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| {
            condition["type"].as_str().is_some_and(|kind| {
                kind.ends_with("Error") || kind == crate::gate::VIOLATION_CONDITION
            }) && !condition["message"]
                .as_str()
                .is_some_and(crate::kind_waits::is_waiting_message)
        })
        .map(|condition| {
            format!(
                "{}: {}",
                condition["type"].as_str().unwrap_or(""),
                condition["message"].as_str().unwrap_or("")
            )
        })
}

/// Creates a hook, waits for it to finish, and applies its delete policies.
async fn run_hook(
    shared: &Shared,
    cache: &LiveCache,
    task: &Task,
    info: Option<ResourceInfo>,
    dry_run: bool,
    control: Option<&SyncControl<'_>>,
) -> Result<Value, (Value, WaitError)> {
    let mut entry = resource_entry(&task.object);
    entry["syncPhase"] = json!(phase_name(task.phase));
    entry["hookType"] = json!(phase_name(task.phase));
    let fail = |mut entry: Value, message: String| {
        entry["status"] = json!("SyncFailed");
        entry["hookPhase"] = json!("Failed");
        entry["message"] = json!(message.clone());
        Err((entry, WaitError::Failed(message)))
    };
    let info = match resource_for(shared, cache, &task.object, info, control).await {
        Ok(info) => info,
        Err(WaitError::Failed(message)) => return fail(entry, message),
        Err(interrupted) => return Err((entry, interrupted)),
    };
    let policies: Vec<HookDeletePolicy> = task
        .hook
        .as_ref()
        .map(|hook| hook.delete_policies.clone())
        .unwrap_or_default();
    let policies = if policies.is_empty() {
        vec![HookDeletePolicy::BeforeHookCreation]
    } else {
        policies
    };
    let namespace = task.object["metadata"]["namespace"]
        .as_str()
        .map(str::to_string);
    if dry_run {
        entry["status"] = json!("Synced");
        entry["hookPhase"] = json!("Succeeded");
        entry["message"] = json!("hook (dry run)");
        return Ok(entry);
    }
    let waits = matches!(info.resource.kind.as_str(), "Job" | "Pod");
    match cache
        .ensure(&info.resource.api_version, &info.resource.kind)
        .await
    {
        Ok(_) => {}
        // A kind the server serves only once this hook is written (it accepts unknown kinds):
        // nothing is watched for a hook that is not waited on.
        Err(ClusterError::UnknownKind { .. }) if !waits => {}
        Err(error) => return fail(entry, error.to_string()),
    }
    if let Some(name) = task.object["metadata"]["name"].as_str() {
        if policies.contains(&HookDeletePolicy::BeforeHookCreation) {
            if let Err(error) = cache
                .cluster
                .delete(&info, namespace.as_deref(), name, "background")
                .await
            {
                return fail(entry, error.to_string());
            }
            // Wait until it is gone, so the create below does not collide with it.
            let deadline = Instant::now() + shared.config.wave_timeout;
            while cache
                .cluster
                .get(&info, namespace.as_deref(), name)
                .await
                .ok()
                .flatten()
                .is_some()
                && Instant::now() < deadline
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    let created = match cache.cluster.create(&info, &task.object).await {
        Ok(created) => created,
        Err(error) => return fail(entry, format!("{}: {error}", display_name(&task.object))),
    };
    let created = cache.record(created);
    let name = created["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    entry["name"] = json!(name);
    let deadline = Instant::now() + shared.config.wave_timeout;
    let mut outcome: Result<String, String> = Ok(format!("{} created", display_name(&created)));
    if waits {
        if let Some(control) = control {
            control.report(format!(
                "waiting for hook {} to finish",
                display_name(&created)
            ));
        }
    }
    while waits && outcome.is_ok() {
        if let Some(reason) = control.and_then(|control| (control.interrupt)()) {
            // The hook stays as it is (a Job may be half done): the next sync's
            // BeforeHookCreation policy replaces it.
            return Err((entry, WaitError::Interrupted(reason)));
        }
        let live = cache
            .watched(&info.resource.api_version, &info.resource.kind)
            .and_then(|kind_cache| kind_cache.get(namespace.as_deref().unwrap_or(""), &name));
        if let Some(live) = live {
            let finished = if info.resource.kind == "Pod" {
                match live["status"]["phase"].as_str() {
                    Some("Succeeded") => Some(Ok("pod completed".to_string())),
                    Some("Failed") => Some(Err(live["status"]["message"]
                        .as_str()
                        .unwrap_or("pod failed")
                        .to_string())),
                    _ => None,
                }
            } else {
                match flotilla_health::assess(&live) {
                    Some(health) if health.status == HealthStatus::Healthy => {
                        Some(Ok(health.message.unwrap_or_else(|| "job completed".into())))
                    }
                    Some(health) if health.status == HealthStatus::Degraded => {
                        Some(Err(health.message.unwrap_or_else(|| "job failed".into())))
                    }
                    _ => None,
                }
            };
            if let Some(finished) = finished {
                outcome = finished;
                break;
            }
        }
        if Instant::now() >= deadline {
            outcome = Err(format!(
                "timed out after {:?} waiting for the hook to finish",
                shared.config.wave_timeout
            ));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let succeeded = outcome.is_ok();
    let delete = (succeeded && policies.contains(&HookDeletePolicy::HookSucceeded))
        || (!succeeded && policies.contains(&HookDeletePolicy::HookFailed));
    if delete {
        let _ = cache
            .cluster
            .delete(&info, namespace.as_deref(), &name, "background")
            .await;
    }
    match outcome {
        Ok(message) => {
            entry["status"] = json!("Synced");
            entry["hookPhase"] = json!("Succeeded");
            entry["message"] = json!(message);
            Ok(entry)
        }
        Err(message) => fail(entry, format!("{}: {message}", display_name(&created))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(condition: Value) -> Value {
        let source = json!({"repoURL": "https://git.example.com/r.git", "path": "events", "targetRevision": "main"});
        let destination =
            json!({"server": "https://kubernetes.default.svc", "namespace": "streams"});
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "events", "namespace": "argocd"},
            "spec": {"source": source, "destination": destination},
            "status": {
                "sync": {"status": "OutOfSync", "comparedTo": {"source": source, "destination": destination}},
                "health": {"status": "Missing"},
                "conditions": [condition]
            }
        })
    }

    #[test]
    fn a_child_waiting_for_a_kind_is_waited_for_and_a_failing_one_is_not() {
        let waiting = crate::kind_waits::WaitingKind {
            api_version: "eventstreams.ibm.com/v1beta2".into(),
            kind: "KafkaTopic".into(),
            objects: vec!["KafkaTopic/orders".into()],
        };
        let message = crate::kind_waits::condition_message(&waiting);
        assert_eq!(
            application_error(&child(
                json!({"type": "ComparisonError", "message": message})
            )),
            None
        );
        assert_eq!(
            application_error(&child(
                json!({"type": "ComparisonError", "message": "rpc error: unable to resolve 'main' to a commit SHA"})
            ))
            .as_deref(),
            Some("ComparisonError: rpc error: unable to resolve 'main' to a commit SHA")
        );
    }
}
