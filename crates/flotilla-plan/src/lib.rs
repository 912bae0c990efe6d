//! flotilla-plan: turns the desired objects of one Application into an ordered sync plan, the way
//! Argo CD's gitops-engine orders a sync, and parses the annotations and options that steer it.
//!
//! Order: phase (PreSync, Sync, PostSync), then `argocd.argoproj.io/sync-wave` (default 0), then
//! the kind order (Namespaces, then policies, accounts, Secrets, ConfigMaps, storage, CRDs, RBAC,
//! Services, workloads, …, unknown kinds last), then name. A Namespace or CRD that a dependent
//! object needs in an earlier wave is moved to that wave. Hooks come from
//! `argocd.argoproj.io/hook` (`Skip` objects are left out), their delete policies from
//! `argocd.argoproj.io/hook-delete-policy` (default `BeforeHookCreation`).
//!
//! Invariants: planning is pure and deterministic (same input, same plan); a malformed
//! annotation or option is an error naming the object, never ignored silently.

use std::collections::BTreeMap;

use serde_json::Value;

pub const SYNC_WAVE_ANNOTATION: &str = "argocd.argoproj.io/sync-wave";
pub const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
pub const HOOK_DELETE_POLICY_ANNOTATION: &str = "argocd.argoproj.io/hook-delete-policy";
pub const SYNC_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/sync-options";
const HELM_HOOK_ANNOTATION: &str = "helm.sh/hook";
const HELM_HOOK_DELETE_POLICY_ANNOTATION: &str = "helm.sh/hook-delete-policy";
const HELM_HOOK_WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";

/// A sync phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    PreSync,
    Sync,
    PostSync,
    /// Runs only when the sync failed.
    SyncFail,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreSync => "PreSync",
            Phase::Sync => "Sync",
            Phase::PostSync => "PostSync",
            Phase::SyncFail => "SyncFail",
        }
    }
}

/// When a hook object is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookDeletePolicy {
    HookSucceeded,
    HookFailed,
    BeforeHookCreation,
}

/// How pruned objects are deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PropagationPolicy {
    #[default]
    Foreground,
    Background,
    Orphan,
}

impl PropagationPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PropagationPolicy::Foreground => "foreground",
            PropagationPolicy::Background => "background",
            PropagationPolicy::Orphan => "orphan",
        }
    }
}

/// Sync options, from `spec.syncPolicy.syncOptions` and an object's
/// `argocd.argoproj.io/sync-options` annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncOptions {
    pub create_namespace: bool,
    pub prune_last: bool,
    pub apply_out_of_sync_only: bool,
    /// False with `Prune=false`: never pruned.
    pub prune: bool,
    /// `Prune=confirm`: pruned only after a manual confirmation (flotilla treats it as false).
    pub prune_requires_confirmation: bool,
    /// False with `Delete=false`: kept when the Application is deleted.
    pub delete: bool,
    pub replace: bool,
    pub force: bool,
    pub server_side_apply: bool,
    pub skip_dry_run_on_missing_resource: bool,
    pub prune_propagation_policy: PropagationPolicy,
    pub validate: bool,
    pub respect_ignore_differences: bool,
    pub fail_on_shared_resource: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            create_namespace: false,
            prune_last: false,
            apply_out_of_sync_only: false,
            prune: true,
            prune_requires_confirmation: false,
            delete: true,
            replace: false,
            force: false,
            server_side_apply: true,
            skip_dry_run_on_missing_resource: false,
            prune_propagation_policy: PropagationPolicy::Foreground,
            validate: true,
            respect_ignore_differences: false,
            fail_on_shared_resource: false,
        }
    }
}

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("sync option `{entry}` is not `Key=value`")]
    MalformedOption { entry: String },
    #[error("sync option `{key}` has value `{value}`; expected {expected}")]
    BadOptionValue {
        key: String,
        value: String,
        expected: &'static str,
    },
    #[error("{object}: annotation `{annotation}` is `{value}`; expected {expected}")]
    BadAnnotation {
        object: String,
        annotation: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{object}: {message}")]
    InvalidObject { object: String, message: String },
}

/// `Kind/namespace/name` (or `Kind/name`) of an object, for messages.
pub fn describe(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"]
        .as_str()
        .or_else(|| object["metadata"]["generateName"].as_str())
        .unwrap_or("?");
    match object["metadata"]["namespace"]
        .as_str()
        .filter(|namespace| !namespace.is_empty())
    {
        Some(namespace) => format!("{kind}/{namespace}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, PlanError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(PlanError::BadOptionValue {
            key: key.to_string(),
            value: value.to_string(),
            expected: "true or false",
        }),
    }
}

/// Applies option entries (`Key=value`) on top of `options`. Unknown keys are ignored, as Argo
/// CD ignores them; a malformed entry or value is an error.
pub fn apply_sync_options(options: &mut SyncOptions, entries: &[String]) -> Result<(), PlanError> {
    for entry in entries {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (key, value) = entry
            .split_once('=')
            .ok_or_else(|| PlanError::MalformedOption {
                entry: entry.to_string(),
            })?;
        let (key, value) = (key.trim(), value.trim());
        match key {
            "CreateNamespace" => options.create_namespace = parse_bool(key, value)?,
            "PruneLast" => options.prune_last = parse_bool(key, value)?,
            "ApplyOutOfSyncOnly" => options.apply_out_of_sync_only = parse_bool(key, value)?,
            "Replace" => options.replace = parse_bool(key, value)?,
            "Force" => options.force = parse_bool(key, value)?,
            "ServerSideApply" => options.server_side_apply = parse_bool(key, value)?,
            "SkipDryRunOnMissingResource" => {
                options.skip_dry_run_on_missing_resource = parse_bool(key, value)?
            }
            "Validate" => options.validate = parse_bool(key, value)?,
            "RespectIgnoreDifferences" => {
                options.respect_ignore_differences = parse_bool(key, value)?
            }
            "FailOnSharedResource" => options.fail_on_shared_resource = parse_bool(key, value)?,
            "Prune" => match value {
                "confirm" => {
                    options.prune = false;
                    options.prune_requires_confirmation = true;
                }
                _ => options.prune = parse_bool(key, value)?,
            },
            "Delete" => match value {
                "confirm" => options.delete = false,
                _ => options.delete = parse_bool(key, value)?,
            },
            "PrunePropagationPolicy" => {
                options.prune_propagation_policy = match value {
                    "foreground" => PropagationPolicy::Foreground,
                    "background" => PropagationPolicy::Background,
                    "orphan" => PropagationPolicy::Orphan,
                    _ => {
                        return Err(PlanError::BadOptionValue {
                            key: key.to_string(),
                            value: value.to_string(),
                            expected: "foreground, background or orphan",
                        })
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The Application's options.
pub fn parse_sync_options(entries: &[String]) -> Result<SyncOptions, PlanError> {
    let mut options = SyncOptions::default();
    apply_sync_options(&mut options, entries)?;
    Ok(options)
}

/// An object's options: the Application's, overridden by its `sync-options` annotation.
pub fn object_sync_options(
    object: &Value,
    app_options: &SyncOptions,
) -> Result<SyncOptions, PlanError> {
    let mut options = app_options.clone();
    if let Some(text) = object["metadata"]["annotations"][SYNC_OPTIONS_ANNOTATION].as_str() {
        let entries: Vec<String> = text.split(',').map(str::to_string).collect();
        apply_sync_options(&mut options, &entries).map_err(|error| PlanError::InvalidObject {
            object: describe(object),
            message: error.to_string(),
        })?;
    }
    Ok(options)
}

/// A hook's phases and delete policies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookInfo {
    pub phases: Vec<Phase>,
    pub delete_policies: Vec<HookDeletePolicy>,
}

/// What an object's hook annotations say: not a hook, skipped, or a hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookKind {
    NotAHook,
    Skip,
    Hook(HookInfo),
}

/// Reads `argocd.argoproj.io/hook` (or Helm's `helm.sh/hook`) and the delete policy.
pub fn hook_of(object: &Value) -> Result<HookKind, PlanError> {
    let annotations = &object["metadata"]["annotations"];
    let (text, helm) = match annotations[HOOK_ANNOTATION].as_str() {
        Some(text) => (text, false),
        None => match annotations[HELM_HOOK_ANNOTATION].as_str() {
            Some(text) => (text, true),
            None => return Ok(HookKind::NotAHook),
        },
    };
    let mut phases = Vec::new();
    for entry in text
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let phase = match (entry, helm) {
            ("Skip", false) => return Ok(HookKind::Skip),
            ("PreSync", false) | ("pre-install", true) | ("pre-upgrade", true) => Phase::PreSync,
            ("Sync", false) => Phase::Sync,
            ("PostSync", false) | ("post-install", true) | ("post-upgrade", true) => {
                Phase::PostSync
            }
            ("SyncFail", false) => Phase::SyncFail,
            // Helm hooks Argo CD ignores (test, delete, rollback).
            (_, true) => continue,
            (other, false) => {
                return Err(PlanError::BadAnnotation {
                    object: describe(object),
                    annotation: HOOK_ANNOTATION,
                    value: other.to_string(),
                    expected: "PreSync, Sync, PostSync, SyncFail or Skip",
                })
            }
        };
        if !phases.contains(&phase) {
            phases.push(phase);
        }
    }
    if phases.is_empty() {
        return Ok(HookKind::NotAHook);
    }
    let policy_text = annotations[HOOK_DELETE_POLICY_ANNOTATION]
        .as_str()
        .or_else(|| annotations[HELM_HOOK_DELETE_POLICY_ANNOTATION].as_str())
        .unwrap_or("");
    let mut delete_policies = Vec::new();
    for entry in policy_text
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let policy = match entry {
            "HookSucceeded" | "hook-succeeded" => HookDeletePolicy::HookSucceeded,
            "HookFailed" | "hook-failed" => HookDeletePolicy::HookFailed,
            "BeforeHookCreation" | "before-hook-creation" => HookDeletePolicy::BeforeHookCreation,
            other => {
                return Err(PlanError::BadAnnotation {
                    object: describe(object),
                    annotation: HOOK_DELETE_POLICY_ANNOTATION,
                    value: other.to_string(),
                    expected: "HookSucceeded, HookFailed or BeforeHookCreation",
                })
            }
        };
        if !delete_policies.contains(&policy) {
            delete_policies.push(policy);
        }
    }
    if delete_policies.is_empty() {
        delete_policies.push(HookDeletePolicy::BeforeHookCreation);
    }
    Ok(HookKind::Hook(HookInfo {
        phases,
        delete_policies,
    }))
}

/// The sync wave of an object (default 0; Helm's hook weight for Helm hooks).
pub fn wave_of(object: &Value) -> Result<i32, PlanError> {
    let annotations = &object["metadata"]["annotations"];
    let (annotation, text) = match annotations[SYNC_WAVE_ANNOTATION].as_str() {
        Some(text) => (SYNC_WAVE_ANNOTATION, text),
        None => match annotations[HELM_HOOK_WEIGHT_ANNOTATION].as_str() {
            Some(text) if annotations[HELM_HOOK_ANNOTATION].is_string() => {
                (HELM_HOOK_WEIGHT_ANNOTATION, text)
            }
            _ => return Ok(0),
        },
    };
    text.trim()
        .parse::<i32>()
        .map_err(|_| PlanError::BadAnnotation {
            object: describe(object),
            annotation: if annotation == SYNC_WAVE_ANNOTATION {
                SYNC_WAVE_ANNOTATION
            } else {
                HELM_HOOK_WEIGHT_ANNOTATION
            },
            value: text.to_string(),
            expected: "an integer",
        })
}

/// gitops-engine's kind order (the order `kubectl apply` of a Helm chart would use): lower
/// first; kinds not listed come after all listed ones.
const KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// The position of a kind in the sync order.
pub fn kind_order(kind: &str) -> i32 {
    KIND_ORDER
        .iter()
        .position(|known| *known == kind)
        .map(|position| position as i32)
        .unwrap_or(KIND_ORDER.len() as i32)
}

/// One object to apply (or hook to run).
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub object: Value,
    pub phase: Phase,
    pub wave: i32,
    pub hook: Option<HookInfo>,
    pub options: SyncOptions,
}

/// The tasks of one phase and wave, in apply order.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub phase: Phase,
    pub wave: i32,
    pub tasks: Vec<Task>,
}

/// The whole sync.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// `SyncFail` hooks, run only when the sync failed.
    pub sync_fail: Vec<Task>,
}

fn group_of(object: &Value) -> &str {
    object["apiVersion"]
        .as_str()
        .and_then(|api_version| api_version.rsplit_once('/'))
        .map(|(group, _)| group)
        .unwrap_or("")
}

fn name_of(object: &Value) -> &str {
    object["metadata"]["name"]
        .as_str()
        .or_else(|| object["metadata"]["generateName"].as_str())
        .unwrap_or("")
}

/// Plans a sync of `desired`.
pub fn plan(desired: Vec<Value>, app_options: &SyncOptions) -> Result<Plan, PlanError> {
    let mut tasks = Vec::new();
    let mut sync_fail = Vec::new();
    for object in desired {
        if !object.is_object() {
            return Err(PlanError::InvalidObject {
                object: "?".into(),
                message: "a desired object is not a mapping".into(),
            });
        }
        if name_of(&object).is_empty() {
            return Err(PlanError::InvalidObject {
                object: describe(&object),
                message: "it has neither metadata.name nor metadata.generateName".into(),
            });
        }
        let options = object_sync_options(&object, app_options)?;
        let wave = wave_of(&object)?;
        match hook_of(&object)? {
            HookKind::Skip => {}
            HookKind::NotAHook => tasks.push(Task {
                object,
                phase: Phase::Sync,
                wave,
                hook: None,
                options,
            }),
            HookKind::Hook(info) => {
                for phase in info.phases.clone() {
                    let task = Task {
                        object: object.clone(),
                        phase,
                        wave,
                        hook: Some(info.clone()),
                        options: options.clone(),
                    };
                    if phase == Phase::SyncFail {
                        sync_fail.push(task);
                    } else {
                        tasks.push(task);
                    }
                }
            }
        }
    }
    move_dependencies_earlier(&mut tasks);
    // Borrowed keys: sorting compares without allocating.
    fn sort_key(task: &Task) -> (Phase, i32, i32, &str, &str, &str) {
        let kind = task.object["kind"].as_str().unwrap_or("");
        (
            task.phase,
            task.wave,
            kind_order(kind),
            kind,
            task.object["metadata"]["namespace"].as_str().unwrap_or(""),
            name_of(&task.object),
        )
    }
    tasks.sort_by(|left, right| sort_key(left).cmp(&sort_key(right)));
    sync_fail.sort_by(|left, right| sort_key(left).cmp(&sort_key(right)));
    let mut steps: Vec<Step> = Vec::new();
    for task in tasks {
        match steps.last_mut() {
            Some(step) if step.phase == task.phase && step.wave == task.wave => {
                step.tasks.push(task)
            }
            _ => steps.push(Step {
                phase: task.phase,
                wave: task.wave,
                tasks: vec![task],
            }),
        }
    }
    Ok(Plan { steps, sync_fail })
}

/// A Namespace or CRD whose dependents sit in an earlier phase/wave is moved to the earliest of
/// them, so it exists before anything needs it.
fn move_dependencies_earlier(tasks: &mut [Task]) {
    let mut earliest: BTreeMap<(String, String), (Phase, i32)> = BTreeMap::new();
    for task in tasks.iter().filter(|task| task.hook.is_none()) {
        let namespace = task.object["metadata"]["namespace"].as_str().unwrap_or("");
        let mut needs = Vec::new();
        if !namespace.is_empty() {
            needs.push(("Namespace".to_string(), namespace.to_string()));
        }
        let group = group_of(&task.object);
        if !group.is_empty() {
            needs.push((
                "CustomResourceDefinition".to_string(),
                format!("{}/{}", group, task.object["kind"].as_str().unwrap_or("")),
            ));
        }
        for need in needs {
            let position = (task.phase, task.wave);
            earliest
                .entry(need)
                .and_modify(|current| {
                    if position < *current {
                        *current = position;
                    }
                })
                .or_insert(position);
        }
    }
    for task in tasks.iter_mut().filter(|task| task.hook.is_none()) {
        let key = match task.object["kind"].as_str() {
            Some("Namespace") => ("Namespace".to_string(), name_of(&task.object).to_string()),
            Some("CustomResourceDefinition") => (
                "CustomResourceDefinition".to_string(),
                format!(
                    "{}/{}",
                    task.object["spec"]["group"].as_str().unwrap_or(""),
                    task.object["spec"]["names"]["kind"].as_str().unwrap_or("")
                ),
            ),
            _ => continue,
        };
        if let Some(&(phase, wave)) = earliest.get(&key) {
            if (phase, wave) < (task.phase, task.wave) {
                task.phase = phase;
                task.wave = wave;
            }
        }
    }
}

/// Objects to prune, grouped as they are deleted: highest wave first (the reverse of creation,
/// reverse kind order within a wave), `PruneLast` objects in a final group.
pub fn prune_order(
    to_prune: Vec<Value>,
    app_options: &SyncOptions,
) -> Result<Vec<Vec<Value>>, PlanError> {
    let mut waves: BTreeMap<(bool, std::cmp::Reverse<i32>), Vec<Value>> = BTreeMap::new();
    for object in to_prune {
        let options = object_sync_options(&object, app_options)?;
        let wave = wave_of(&object)?;
        waves
            .entry((options.prune_last, std::cmp::Reverse(wave)))
            .or_default()
            .push(object);
    }
    Ok(waves
        .into_values()
        .map(|mut group| {
            group.sort_by_key(|object| {
                (
                    std::cmp::Reverse(kind_order(object["kind"].as_str().unwrap_or(""))),
                    object["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    name_of(object).to_string(),
                )
            });
            group
        })
        .collect())
}

/// A parsed tracking id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackingId {
    pub app: String,
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// Argo CD's annotation tracking id: `<app>:<group>/<kind>:<namespace>/<name>`.
pub fn tracking_id(app_instance: &str, object: &Value) -> String {
    format!(
        "{app_instance}:{}/{}:{}/{}",
        group_of(object),
        object["kind"].as_str().unwrap_or(""),
        object["metadata"]["namespace"].as_str().unwrap_or(""),
        name_of(object)
    )
}

pub fn parse_tracking_id(text: &str) -> Option<TrackingId> {
    let (app, rest) = text.split_once(':')?;
    let (group_kind, namespace_name) = rest.split_once(':')?;
    let (group, kind) = group_kind.split_once('/')?;
    let (namespace, name) = namespace_name.split_once('/')?;
    if app.is_empty() || kind.is_empty() || name.is_empty() {
        return None;
    }
    Some(TrackingId {
        app: app.to_string(),
        group: group.to_string(),
        kind: kind.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
    })
}
