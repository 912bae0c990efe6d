//! Kinds that arrive later: an Application whose desired objects include a kind the destination
//! does not serve yet (an operator installed by OLM registers its CRD seconds after its
//! Subscription) waits for it instead of failing, and syncs as soon as it is served.
//!
//! While it waits nothing of it is applied (the engine's invariant), its status says so: a
//! `ComparisonError` condition per kind naming the objects, that the Application syncs once the
//! kind is served and what to install; those objects `OutOfSync` and `Missing`, so the
//! Application is OutOfSync and never shows an earlier status as current. The kinds each
//! Application waits for are kept in its memory (`AppMemory::waiting_kinds`).
//!
//! Two things bring it back: a watch of the destination's CustomResourceDefinitions (one task
//! per cluster, started by the first Application that waits there; it keeps only each
//! definition's group, kind, served versions and `Established` condition), which forgets the
//! cluster's discovery cache and queues the Applications waiting for a kind as soon as a
//! definition serving it is added or becomes established; and, for clusters where that watch is
//! forbidden or lags, a retry of each waiting Application with a bounded backoff
//! ([`RETRY_FIRST`] doubling to [`RETRY_MAX`]).
//!
//! Depends on `context` and `cluster` only; `reconcile` and `sync` call it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kube::api::{ListParams, WatchEvent};
use serde::Deserialize;

use crate::cluster::{Cluster, ClusterError};
use crate::context::{AppKey, AwaitedKind, Shared};

/// The first retry of an Application waiting for a kind.
pub(crate) const RETRY_FIRST: Duration = Duration::from_secs(1);

/// The longest pause between retries of an Application waiting for a kind.
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(30);

/// Objects named in a waiting condition, at most this many (then `and N more`).
const NAMED_OBJECTS: usize = 5;

/// A kind the destination does not serve, with the desired objects of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WaitingKind {
    pub api_version: String,
    pub kind: String,
    /// `Kind/name` of each object of the kind.
    pub objects: Vec<String>,
}

/// Adds an object of a kind that is not served to `waiting` (one entry per kind).
pub(crate) fn record(waiting: &mut Vec<WaitingKind>, api_version: &str, kind: &str, name: &str) {
    let object = format!("{kind}/{name}");
    match waiting
        .iter_mut()
        .find(|entry| entry.api_version == api_version && entry.kind == kind)
    {
        Some(entry) => entry.objects.push(object),
        None => waiting.push(WaitingKind {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            objects: vec![object],
        }),
    }
}

/// The condition message for one awaited kind: which objects, what kind, that the Application
/// syncs once the kind is served, and what to install.
pub(crate) fn condition_message(waiting: &WaitingKind) -> String {
    let mut objects = waiting
        .objects
        .iter()
        .take(NAMED_OBJECTS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if waiting.objects.len() > NAMED_OBJECTS {
        objects.push_str(&format!(
            " and {} more",
            waiting.objects.len() - NAMED_OBJECTS
        ));
    }
    let (these, object) = if waiting.objects.len() == 1 {
        ("this", "object")
    } else {
        ("these", "objects")
    };
    format!(
        "{objects}: waiting for {api_version} {kind}{WAITING_MARK}install its CRD or the \
         operator that brings it (e.g. an OLM Subscription in another Application, or in an \
         earlier sync wave of this one with \
         `argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true` on {these} \
         {object})",
        api_version = waiting.api_version,
        kind = waiting.kind,
    )
}

/// What every `condition_message` says, and no other condition does.
const WAITING_MARK: &str = " to be served; the Application syncs as soon as it is. hint: ";

/// Whether a condition message is one of `condition_message`'s (a child Application waiting for
/// a kind, which its parent's wave waits for rather than failing).
pub(crate) fn is_waiting_message(message: &str) -> bool {
    message.contains(": waiting for ") && message.contains(WAITING_MARK)
}

/// The health message of an object whose kind is not served.
pub(crate) fn health_message(api_version: &str, kind: &str) -> String {
    format!("waiting for {api_version} {kind} to be served")
}

/// The pause before retry `attempt` (0 first): [`RETRY_FIRST`] doubling to [`RETRY_MAX`].
pub(crate) fn retry_delay(attempt: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(RETRY_MAX)
}

/// Remembers what `key` waits for in `cluster` (nothing: it waits no more) and logs when that
/// changes. Returns the pause before its next retry while it waits, None when it does not wait
/// or a retry is already due sooner.
pub(crate) fn remember(
    shared: &Shared,
    key: &AppKey,
    cluster: &str,
    waiting: &[WaitingKind],
) -> Option<Duration> {
    let awaited: BTreeSet<AwaitedKind> = waiting
        .iter()
        .map(|entry| {
            (
                cluster.to_string(),
                entry.api_version.clone(),
                entry.kind.clone(),
            )
        })
        .collect();
    let mut memory = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let remembered = memory.entry(key.clone()).or_default();
    let application = format!("{}/{}", key.0, key.1);
    if remembered.waiting_kinds != awaited {
        let kinds = |set: &BTreeSet<AwaitedKind>| {
            set.iter()
                .map(|(_, api_version, kind)| format!("{api_version} {kind}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if awaited.is_empty() {
            tracing::info!(%application, kinds = %kinds(&remembered.waiting_kinds), "the kinds the Application waited for are served");
        } else {
            tracing::info!(%application, %cluster, kinds = %kinds(&awaited), "the Application waits for kinds the cluster does not serve yet");
        }
        remembered.waiting_kinds = awaited;
    }
    if remembered.waiting_kinds.is_empty() {
        remembered.kind_wait_attempt = 0;
        remembered.kind_wait_retry_at = None;
        return None;
    }
    let delay = retry_delay(remembered.kind_wait_attempt);
    remembered.kind_wait_attempt = remembered.kind_wait_attempt.saturating_add(1);
    let now = Instant::now();
    let due = now + delay;
    if remembered
        .kind_wait_retry_at
        .is_some_and(|pending| pending > now && pending <= due)
    {
        return None;
    }
    remembered.kind_wait_retry_at = Some(due);
    Some(delay)
}

/// Starts the watch of `cluster`'s CustomResourceDefinitions unless it runs already.
pub(crate) fn watch_definitions(shared: &Arc<Shared>, cluster: &Arc<Cluster>) {
    let started = shared
        .definition_watches
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(cluster.name.clone());
    if started {
        tokio::spawn(run_watch(shared.clone(), cluster.clone()));
    }
}

/// What the engine reads of a CustomResourceDefinition (the rest, its schema above all, is
/// skipped while parsing).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct Definition {
    metadata: DefinitionMetadata,
    spec: DefinitionSpec,
    status: DefinitionStatus,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct DefinitionMetadata {
    name: String,
    #[serde(rename = "resourceVersion")]
    resource_version: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct DefinitionSpec {
    group: String,
    names: DefinitionNames,
    versions: Vec<DefinitionVersion>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct DefinitionNames {
    kind: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct DefinitionVersion {
    name: String,
    served: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct DefinitionStatus {
    conditions: Vec<DefinitionCondition>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct DefinitionCondition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
}

/// What a definition serves: its group, kind and served versions, once it is established.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Served {
    group: String,
    kind: String,
    versions: Vec<String>,
    established: bool,
}

impl Served {
    fn of(definition: &Definition) -> Served {
        Served {
            group: definition.spec.group.clone(),
            kind: definition.spec.names.kind.clone(),
            versions: definition
                .spec
                .versions
                .iter()
                .filter(|version| version.served)
                .map(|version| version.name.clone())
                .collect(),
            established: definition
                .status
                .conditions
                .iter()
                .any(|condition| condition.kind == "Established" && condition.status == "True"),
        }
    }

    /// Whether this definition, established, serves `api_version`/`kind`.
    fn serves(&self, api_version: &str, kind: &str) -> bool {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        self.established
            && self.group == group
            && self.kind == kind
            && self.versions.iter().any(|served| served == version)
    }
}

/// Queues the Applications that wait for a kind one of `served` serves in `cluster`, with their
/// backoff started again (discovery may lag a moment behind the definition).
fn queue_waiting<'a>(shared: &Shared, cluster: &str, served: impl Iterator<Item = &'a Served>) {
    let served: Vec<&Served> = served.filter(|served| served.established).collect();
    if served.is_empty() {
        return;
    }
    let mut memory = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (key, remembered) in memory.iter_mut() {
        let arrived =
            remembered
                .waiting_kinds
                .iter()
                .any(|(awaited_cluster, api_version, kind)| {
                    awaited_cluster == cluster
                        && served.iter().any(|served| served.serves(api_version, kind))
                });
        if arrived {
            remembered.kind_wait_attempt = 0;
            shared.queue.push(key.clone());
        }
    }
}

/// The definitions of `cluster` and the list's resourceVersion.
async fn list_definitions(
    cluster: &Cluster,
) -> Result<
    (
        crate::cluster::ResourceInfo,
        HashMap<String, Served>,
        String,
    ),
    ClusterError,
> {
    let info = cluster
        .resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        .await?;
    let list = cluster.list(&info, None, &ListParams::default()).await?;
    let resource_version = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let definitions = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| Definition::deserialize(item).ok())
                .map(|definition| (definition.metadata.name.clone(), Served::of(&definition)))
                .collect()
        })
        .unwrap_or_default();
    Ok((info, definitions, resource_version))
}

/// List-then-watch of one cluster's CustomResourceDefinitions until the engine stops; listed
/// again after any watch error, so no definition is missed.
async fn run_watch(shared: Arc<Shared>, cluster: Arc<Cluster>) {
    let mut shutdown = shared.shutdown.clone();
    let mut known: HashMap<String, Served> = HashMap::new();
    let mut failures = 0u32;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let listed = tokio::select! {
            listed = list_definitions(&cluster) => listed,
            _ = shutdown.changed() => return,
        };
        let (info, listed, mut resource_version) = match listed {
            Ok(listed) => listed,
            Err(error) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(cluster = %cluster.name, %error, "cannot list CustomResourceDefinitions; Applications waiting for a kind are retried every {} s at most", RETRY_MAX.as_secs());
                } else {
                    tracing::debug!(cluster = %cluster.name, %error, "cannot list CustomResourceDefinitions");
                }
                let delay = retry_delay(failures);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        failures = 0;
        if listed != known {
            cluster.forget_discovery();
        }
        known = listed;
        queue_waiting(&shared, &cluster.name, known.values());
        loop {
            let stream = tokio::select! {
                stream = cluster.watch::<Definition>(&info, None, &resource_version, 290) => stream,
                _ = shutdown.changed() => return,
            };
            let Ok(stream) = stream else {
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_FIRST) => break,
                    _ = shutdown.changed() => return,
                }
            };
            let mut stream = std::pin::pin!(stream);
            let mut relist = false;
            loop {
                let next = tokio::select! {
                    next = stream.next() => next,
                    _ = shutdown.changed() => return,
                };
                let Some(event) = next else { break };
                match event {
                    Ok(WatchEvent::Added(definition)) | Ok(WatchEvent::Modified(definition)) => {
                        if let Some(version) = &definition.metadata.resource_version {
                            resource_version = version.clone();
                        }
                        let served = Served::of(&definition);
                        if known.get(&definition.metadata.name) != Some(&served) {
                            cluster.forget_discovery();
                            queue_waiting(&shared, &cluster.name, std::iter::once(&served));
                            known.insert(definition.metadata.name.clone(), served);
                        }
                    }
                    Ok(WatchEvent::Deleted(definition)) => {
                        if let Some(version) = &definition.metadata.resource_version {
                            resource_version = version.clone();
                        }
                        known.remove(&definition.metadata.name);
                        cluster.forget_discovery();
                    }
                    Ok(WatchEvent::Bookmark(bookmark)) => {
                        resource_version = bookmark.metadata.resource_version.clone();
                    }
                    Ok(WatchEvent::Error(_)) | Err(_) => {
                        relist = true;
                        break;
                    }
                }
            }
            if relist {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(json: serde_json::Value) -> Served {
        Served::of(&Definition::deserialize(&json).expect("definition"))
    }

    #[test]
    fn an_established_definition_serves_its_served_versions_only() {
        let served = definition(serde_json::json!({
            "metadata": {"name": "kafkatopics.eventstreams.ibm.com"},
            "spec": {
                "group": "eventstreams.ibm.com",
                "names": {"kind": "KafkaTopic", "plural": "kafkatopics"},
                "versions": [
                    {"name": "v1beta2", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v1alpha1", "served": false, "storage": false}
                ]
            },
            "status": {"conditions": [
                {"type": "NamesAccepted", "status": "True"},
                {"type": "Established", "status": "True"}
            ]}
        }));
        assert!(served.serves("eventstreams.ibm.com/v1beta2", "KafkaTopic"));
        assert!(!served.serves("eventstreams.ibm.com/v1alpha1", "KafkaTopic"));
        assert!(!served.serves("kafka.strimzi.io/v1beta2", "KafkaTopic"));
        assert!(!served.serves("eventstreams.ibm.com/v1beta2", "KafkaUser"));
        let pending = definition(serde_json::json!({
            "spec": {"group": "eventstreams.ibm.com", "names": {"kind": "KafkaTopic"}, "versions": [{"name": "v1beta2", "served": true}]},
            "status": {"conditions": [{"type": "Established", "status": "False"}]}
        }));
        assert!(!pending.serves("eventstreams.ibm.com/v1beta2", "KafkaTopic"));
    }

    #[test]
    fn retries_double_from_one_second_to_thirty() {
        let delays: Vec<u64> = (0..8)
            .map(|attempt| retry_delay(attempt).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(retry_delay(u32::MAX), RETRY_MAX);
    }

    #[test]
    fn the_condition_names_the_kind_the_objects_and_what_to_install() {
        let mut waiting = Vec::new();
        record(
            &mut waiting,
            "eventstreams.ibm.com/v1beta2",
            "KafkaTopic",
            "orders",
        );
        record(
            &mut waiting,
            "eventstreams.ibm.com/v1beta2",
            "KafkaTopic",
            "payments",
        );
        record(
            &mut waiting,
            "eventstreams.ibm.com/v1beta2",
            "KafkaUser",
            "app",
        );
        assert_eq!(waiting.len(), 2);
        let message = condition_message(&waiting[0]);
        assert!(
            message.starts_with("KafkaTopic/orders, KafkaTopic/payments: waiting for eventstreams.ibm.com/v1beta2 KafkaTopic to be served; the Application syncs as soon as it is."),
            "{message}"
        );
        assert!(message.contains("install its CRD"), "{message}");
        assert!(is_waiting_message(&message));
        assert!(!is_waiting_message(
            "KafkaTopic/orders: the server could not find the requested resource"
        ));
        assert!(
            message.contains("SkipDryRunOnMissingResource=true` on these objects"),
            "{message}"
        );
        let many = WaitingKind {
            api_version: "example.com/v1".into(),
            kind: "Widget".into(),
            objects: (0..7).map(|index| format!("Widget/w{index}")).collect(),
        };
        assert!(condition_message(&many)
            .starts_with("Widget/w0, Widget/w1, Widget/w2, Widget/w3, Widget/w4 and 2 more: "));
    }
}
