//! One pass's view of an Application: the spec and project checked, the sources resolved and
//! rendered, the desired objects normalised for the destination (namespace, tracking id, the
//! project's resource rules; kinds not served yet recorded for `kind_waits`) and cached while
//! their inputs are unchanged, their kinds watched and indexed, and the objects to prune.
//!
//! Depends on `context`, `objects`, `live`, `cluster`, `model`, `render`, `kind_waits`, `status`
//! (conditions) and `reconcile::{sources, destination}`.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use serde_json::{json, Value};

use super::destination::{destination_cluster, find_project};
use super::sources::{render_cached, resolve_revision};
use crate::cluster::ClusterError;
use crate::context::{instance_name, AppKey, AppMemory, DesiredCache, Shared};
use crate::live::{LiveCache, TRACKING_ANNOTATION};
use crate::model::{status_resource_kinds, ApplicationSource, ApplicationSpec, REFRESH_ANNOTATION};
use crate::objects::{is_hook, object_key, Desired, ObjectKey};
use crate::status::condition;

/// What one pass found, before any sync.
pub(super) struct Evaluation {
    pub(super) spec: ApplicationSpec,
    pub(super) sources: Vec<ApplicationSource>,
    pub(super) revisions: Vec<String>,
    pub(super) source_type: Option<&'static str>,
    pub(super) cache: Arc<LiveCache>,
    pub(super) desired: Arc<Vec<Desired>>,
    /// `desired`, parsed once per pass and only where needed (a quiet pass parses none).
    pub(super) desired_objects: Vec<std::sync::OnceLock<Value>>,
    pub(super) to_prune: Vec<Arc<Value>>,
    pub(super) project: String,
    /// The kinds of desired objects the destination does not serve yet, and nothing says they
    /// will be (no CRD in this sync, no `SkipDryRunOnMissingResource`, a server that does not
    /// accept unknown kinds): the Application waits for them, nothing is applied.
    pub(super) waiting: Vec<crate::kind_waits::WaitingKind>,
}

impl Evaluation {
    /// Whether the Application waits for `api_version`/`kind` to be served.
    pub(super) fn waits_for(&self, api_version: &str, kind: &str) -> bool {
        self.waiting
            .iter()
            .any(|entry| entry.api_version == api_version && entry.kind == kind)
    }

    /// The `ComparisonError` conditions that say what the Application waits for.
    pub(super) fn waiting_conditions(&self) -> Vec<Value> {
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
    pub(super) fn desired_object(&self, index: usize) -> &Value {
        self.desired_objects[index].get_or_init(|| self.desired[index].object())
    }

    /// Every desired object, for a sync plan.
    pub(super) fn desired_objects_owned(&self) -> Vec<Value> {
        (0..self.desired.len())
            .map(|index| self.desired_object(index).clone())
            .collect()
    }
}

/// Checks the spec and project, resolves and renders the sources, normalises the desired objects
/// and makes sure their kinds are watched. Errors are the conditions to report.
pub(super) async fn evaluate(
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
                    desired
                        .iter()
                        .all(|entry| entry.info.is_some())
                        .then(|| DesiredCache {
                            key: desired_key,
                            desired: desired.clone(),
                            kinds: kinds.clone(),
                            source_type,
                        });
            }
            (desired, kinds, source_type, waiting)
        }
    };

    // Watch every kind involved, including kinds this Application had before (for pruning),
    // and index the desired objects: needed only when they were rebuilt.
    if rebuilt {
        let previous_kinds: Vec<(String, String)> = status_resource_kinds(application).collect();
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
pub(super) fn prunable(cache: &LiveCache, instance: &str, desired: &[Desired]) -> Vec<Arc<Value>> {
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
