//! The controller: watches Applications (and AppProjects) in the cluster it runs against, keeps a
//! work queue of Applications to reconcile, and routes every live change of a tracked object to
//! its Application, so drift is seen as an event and repaired at once.
//!
//! Work arrives from four places: Application/AppProject events, live object events (by tracking
//! annotation or by the desired-object index), the repository poller (`repo_poll`) and explicit
//! refreshes (webhooks). The queue holds each Application at most once, never runs one
//! Application on two workers at once, and re-runs an Application that changed while it ran.
//!
//! With sharding on, a worker skips the Applications this replica does not own now
//! (`context::Share`); `shard`, which this module starts, queues them when they become its own.
//!
//! The top of the engine: it depends on `reconcile` (one pass per Application) and on the
//! modules below it (`context`, `shard`, `live`, `crds`, `sealed`, `cluster`, `metrics`, `model`);
//! nothing depends on it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::cluster::{Cluster, ClusterError};
use crate::context::{hold, AppKey, HeldEvent, Queue, Shared};
use crate::live::{LiveCache, LiveEvent};
use crate::metrics::Metrics;
use crate::model::{GROUP, VERSION};
use crate::reconcile::resolve_measured;

pub use crate::context::EngineConfig;

/// A running engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
    stop: Arc<watch::Sender<bool>>,
}

impl Engine {
    /// Connects to the cluster the controller runs against, installs the CRDs when asked, and
    /// starts the watches, the poller and the workers.
    pub async fn start(cluster: Cluster, config: EngineConfig) -> Result<Engine, ClusterError> {
        let cluster = Arc::new(cluster);
        if config.install_crds {
            crate::crds::install(&cluster).await?;
        }
        let (stop, shutdown) = watch::channel(false);
        let (events, mut event_receiver) = mpsc::unbounded_channel();
        let home = Arc::new(LiveCache::new(cluster, events.clone(), shutdown.clone()));
        let mut repositories =
            flotilla_source::Repositories::new(&config.cache_dir.join("repositories"));
        for (from, to) in &config.repo_mirrors {
            repositories = repositories.with_mirror(from, to);
        }
        let shared = Arc::new(Shared {
            config: config.clone(),
            home: home.clone(),
            remotes: Mutex::new(HashMap::new()),
            repositories,
            revisions: Mutex::new(HashMap::new()),
            renders: Mutex::new(HashMap::new()),
            synced_files: Default::default(),
            memory: Mutex::new(HashMap::new()),
            desired_index: Mutex::new(HashMap::new()),
            instances: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
            status_writes: Mutex::new(HashMap::new()),
            syncing: Mutex::new(HashMap::new()),
            queue: Queue::default(),
            metrics: Metrics::default(),
            events,
            shutdown: shutdown.clone(),
            refreshed: Mutex::new(HashSet::new()),
            definition_watches: Mutex::new(HashSet::new()),
            unsealer: std::sync::OnceLock::new(),
            share: Default::default(),
        });
        if config.shard.is_some() && config.workers > 0 {
            // Nothing is this replica's until its first renewal and member list.
            shared
                .share
                .state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .sharded = true;
        }
        let engine = Engine {
            shared: shared.clone(),
            stop: Arc::new(stop),
        };
        // Route events before the first list so nothing is missed. The router stops on
        // shutdown: `Shared` holds an event sender, so waiting for the channel to close would
        // keep the router, and through it every cache, alive for good.
        let router = shared.clone();
        tokio::spawn(async move {
            let mut shutdown = router.shutdown.clone();
            loop {
                let event = tokio::select! {
                    event = event_receiver.recv() => event,
                    _ = shutdown.changed() => return,
                };
                let Some(event) = event else {
                    return;
                };
                route(&router, event);
            }
        });
        let applications = home
            .ensure(&format!("{GROUP}/{VERSION}"), "Application")
            .await?;
        home.ensure(&format!("{GROUP}/{VERSION}"), "AppProject")
            .await?;
        for application in applications.all() {
            if let Some(key) = app_key(&shared, &application) {
                shared.queue.push(key);
            }
        }
        if let Some(sealed_config) = config.sealed_secrets.clone().filter(|_| config.workers > 0) {
            let unsealer = crate::sealed::Unsealer::start(
                home.clone(),
                sealed_config,
                shutdown.clone(),
                config.shard.is_none(),
            )
            .await?;
            let _ = shared.unsealer.set(unsealer);
        }
        if config.workers == 0 {
            // A read-only engine (`flotilla app diff`): caches only, no workers, no poller.
            return Ok(engine);
        }
        for _ in 0..config.workers {
            let worker = shared.clone();
            tokio::spawn(async move {
                let mut shutdown = worker.shutdown.clone();
                loop {
                    let key = tokio::select! {
                        key = worker.queue.pop() => key,
                        _ = shutdown.changed() => return,
                    };
                    if !worker.share.owns(&key) {
                        // Another replica's, or not yet this one's: `shard` queues it again
                        // when it becomes this replica's.
                        worker.queue.done(&key);
                        continue;
                    }
                    let started = Instant::now();
                    crate::reconcile::reconcile(&worker, &key).await;
                    worker.metrics.observe_reconcile(started.elapsed());
                    if !worker.share.assigned_here(&key) {
                        // Lost while it ran: `shard` forgot it then, the pass remembered it again.
                        worker.forget_application(&key);
                    }
                    worker.queue.done(&key);
                }
            });
        }
        if let Some(shard_config) = config.shard.clone() {
            tokio::spawn(crate::shard::run(shared.clone(), shard_config));
        }
        let poller = shared.clone();
        tokio::spawn(async move {
            let mut shutdown = poller.shutdown.clone();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(poller.config.repo_poll) => {}
                    _ = shutdown.changed() => return,
                }
                poll_repositories(&poller, None).await;
            }
        });
        Ok(engine)
    }

    /// Asks every repository matching `repository` (all when None) for new commits now and
    /// reconciles the Applications whose revision moved (a webhook's refresh).
    pub async fn refresh(&self, repository: Option<&str>) {
        poll_repositories(&self.shared, repository).await;
    }

    /// What a sync of one Application would change, without changing anything.
    pub async fn preview(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<crate::reconcile::Preview, String> {
        crate::reconcile::preview(&self.shared, &(namespace.to_string(), name.to_string())).await
    }

    /// Whether this replica reconciles the Application (always, unsharded): only then does it
    /// know what `guardrail_findings` asks.
    pub fn reconciles(&self, namespace: &str, name: &str) -> bool {
        self.shared
            .share
            .assigned_here(&(namespace.to_string(), name.to_string()))
    }

    /// What the pre-sync gate last said about one Application, and the revisions it was about
    /// (`gate::remember`); None when it found nothing (or this replica does not reconcile it:
    /// `reconciles`).
    pub fn guardrail_findings(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<crate::gate::Remembered> {
        self.shared
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&(namespace.to_string(), name.to_string()))
            .and_then(|memory| memory.guardrails.clone())
    }

    /// The guardrail files (AsyncAPI documents, schemas) of an Application's sources at the
    /// commits of its last sync, as the pre-sync gate reads them (`gate::synced_files`): read
    /// from the mirrors once per (repository, commit, path), then from memory.
    pub async fn synced_files(&self, application: &Value) -> Vec<crate::gate::SourceFiles> {
        crate::gate::synced_files(
            &self.shared.repositories,
            &self.shared.synced_files,
            application,
        )
        .await
    }

    /// Queues one Application for reconciliation.
    pub fn enqueue(&self, namespace: &str, name: &str) {
        self.shared
            .queue
            .push((namespace.to_string(), name.to_string()));
    }

    /// Drops what the engine remembers about one Application (revisions, caches, retries,
    /// indexes, metrics), as when it is lost to another replica; its next pass starts from the
    /// cluster alone, and the periodic refresh still reaches it. For diagnosis and tests.
    pub fn forget(&self, namespace: &str, name: &str) {
        self.shared
            .forget_application(&(namespace.to_string(), name.to_string()));
    }

    /// The Prometheus text exposition of the engine's metrics.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.render()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Applications queued or running.
    pub fn busy(&self) -> usize {
        self.shared.queue.len()
    }

    /// Live objects held in the watch caches (all clusters).
    pub fn cached_objects(&self) -> usize {
        let remotes: usize = self
            .shared
            .remotes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .map(|cache| cache.object_count())
            .sum();
        self.shared.home.object_count() + remotes
    }

    /// The in-engine SealedSecrets controller, when enabled.
    pub fn unsealer(&self) -> Option<Arc<crate::sealed::Unsealer>> {
        self.shared.unsealer.get().cloned()
    }

    /// This replica's share when the Applications are sharded: its identity, the live members
    /// and the Applications it owns (sorted); None when sharding is off.
    pub fn shard(&self) -> Option<ShardView> {
        let identity = self.shared.config.shard.as_ref()?.identity.clone();
        let state = self
            .shared
            .share
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut owned: Vec<(String, String)> = state.owned.keys().cloned().collect();
        owned.sort();
        Some(ShardView {
            identity,
            members: state.members.clone(),
            owned,
        })
    }

    /// Stops every task.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops every task and, when sharded, waits (a retry period at most) until this replica's
    /// Lease is released, so that the other replicas take its Applications over at once
    /// instead of when the Lease expires.
    pub async fn shutdown_and_release(&self) {
        self.shutdown();
        let Some(shard) = self
            .shared
            .config
            .shard
            .as_ref()
            .filter(|_| self.shared.config.workers > 0)
        else {
            return;
        };
        let deadline = Instant::now() + shard.retry_period * 2;
        while Instant::now() < deadline
            && !self
                .shared
                .share
                .state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .released
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// How many tasks (or other clones of this `Engine`) still hold the engine's state (caches,
    /// memory): 0 once a shutdown has finished, so that a stopped engine frees what it held
    /// (tests, diagnostics). A sync waiting on a wave finishes that wait first (at most the wave
    /// timeout).
    pub fn state_references(&self) -> usize {
        Arc::strong_count(&self.shared).saturating_sub(1)
    }
}

/// A replica's share, as [`Engine::shard`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardView {
    pub identity: String,
    pub members: Vec<String>,
    pub owned: Vec<(String, String)>,
}

/// The Application key for an Application object, when its namespace is one the engine serves.
pub(crate) fn app_key(shared: &Shared, application: &Value) -> Option<AppKey> {
    let namespace = application["metadata"]["namespace"].as_str()?;
    let name = application["metadata"]["name"].as_str()?;
    if !serves_namespace(shared, namespace) {
        return None;
    }
    Some((namespace.to_string(), name.to_string()))
}

fn route(shared: &Shared, event: LiveEvent) {
    if event.api_version == crate::sealed::API_VERSION
        && event.kind == "SealedSecret"
        && event.cluster == shared.home.cluster.name
    {
        if let Some(unsealer) = shared.unsealer.get().filter(|_| shared.share.unseals()) {
            if !event.deleted {
                unsealer.enqueue(&event.namespace, &event.name);
            }
        }
    }
    if event.api_version == format!("{GROUP}/{VERSION}")
        && event.cluster == shared.home.cluster.name
    {
        if event.kind == "Application" {
            let own_write = shared
                .written
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(&(event.namespace.clone(), event.name.clone()))
                .is_some_and(|version| *version == event.resource_version);
            let key = (event.namespace.clone(), event.name.clone());
            // During this engine's own status write, decide when its answer comes back.
            let during_status_write = !own_write
                && hold(&shared.status_writes, &key, || {
                    event.resource_version.clone()
                });
            if !own_write
                && !during_status_write
                && (shared.config.app_namespaces.is_empty()
                    || shared.config.app_namespaces.contains(&event.namespace))
            {
                shared
                    .queue
                    .push((event.namespace.clone(), event.name.clone()));
            }
            // An app-of-apps parent tracks this Application too: fall through to route it.
        } else if event.kind == "AppProject" {
            let memory = shared
                .memory
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for (key, remembered) in memory.iter() {
                if remembered.project == event.name {
                    shared.queue.push(key.clone());
                }
            }
        }
    }
    if let Some(instance) = &event.instance {
        let owner = shared
            .instances
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(instance)
            .cloned();
        if let Some(key) = owner {
            queue_owner(shared, key, &event);
            return;
        }
    }
    let index_key = (
        event.cluster.clone(),
        event.kind.clone(),
        event.namespace.clone(),
        event.name.clone(),
    );
    let owner = shared
        .desired_index
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&index_key)
        .cloned();
    if let Some(key) = owner {
        queue_owner(shared, key, &event);
    }
}

/// Queues the Application that owns an object an event names, or holds the event while that
/// Application syncs (the sync decides, once it has the answers, whether it was its own write).
fn queue_owner(shared: &Shared, owner: AppKey, event: &LiveEvent) {
    let held = hold(&shared.syncing, &owner, || {
        let group = event
            .api_version
            .rsplit_once('/')
            .map(|(group, _)| group)
            .unwrap_or("");
        HeldEvent {
            cluster: event.cluster.clone(),
            key: (
                group.to_string(),
                event.kind.clone(),
                event.namespace.clone(),
                event.name.clone(),
            ),
            resource_version: event.resource_version.clone(),
            deleted: event.deleted,
        }
    });
    if !held {
        shared.queue.push(owner);
    }
}

/// Resolves every (repository, revision) in use again; queues the Applications whose commit
/// changed, and marks the Applications refreshed for a `reconciledAt` refresh: all of them
/// (the periodic pass), or those whose sources use `only` (a webhook).
///
/// The Applications are those the watch cache holds, as Argo CD requeues every Application of
/// its informer each resync period, not only those the engine remembers: one it forgot, or
/// whose first pass never got as far as remembering it, is refreshed too (it would otherwise
/// wait for an event that may never come). Sharded, only this replica's own.
async fn poll_repositories(shared: &Arc<Shared>, only: Option<&str>) {
    let in_use: Vec<(String, String)> = shared
        .revisions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .keys()
        .filter(|(repository, _)| only.is_none_or(|wanted| same_repository(wanted, repository)))
        .cloned()
        .collect();
    let mut moved = HashSet::new();
    for (repository, revision) in in_use {
        let resolver = shared.clone();
        let (repository_for_task, revision_for_task) = (repository.clone(), revision.clone());
        let resolved = tokio::task::spawn_blocking(move || {
            resolve_measured(&resolver, &repository_for_task, &revision_for_task)
        })
        .await;
        if let Ok(Ok(resolved)) = resolved {
            let mut revisions = shared
                .revisions
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let key = (repository.clone(), revision.clone());
            if revisions.get(&key) != Some(&resolved.commit) {
                revisions.insert(key, resolved.commit);
                moved.insert((repository, revision));
            }
        }
    }
    let applications = shared
        .home
        .watched(&format!("{GROUP}/{VERSION}"), "Application");
    let mut keys: HashSet<AppKey> = applications
        .as_ref()
        .map(|applications| applications.keys())
        .unwrap_or_default()
        .into_iter()
        .filter(|(namespace, _)| serves_namespace(shared, namespace))
        .collect();
    let memory = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Remembered but gone from the cache (deleted): the pass forgets it.
    keys.extend(memory.keys().cloned());
    let mut refreshed = shared
        .refreshed
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for key in keys {
        if !shared.share.assigned_here(&key) {
            continue;
        }
        let remembered = memory.get(&key);
        let wanted = match only {
            None => true,
            Some(wanted) => {
                let remembered_sources = remembered.is_some_and(|remembered| {
                    remembered
                        .repositories
                        .iter()
                        .any(|source| moved.contains(source) || same_repository(wanted, &source.0))
                });
                // One not remembered (or not resolved yet) is matched by its spec.
                remembered_sources
                    || applications
                        .as_ref()
                        .and_then(|applications| applications.get(&key.0, &key.1))
                        .is_some_and(|application| {
                            source_repositories(&application)
                                .any(|repository| same_repository(wanted, repository))
                        })
            }
        };
        if wanted {
            refreshed.insert(key.clone());
            shared.queue.push(key);
        }
    }
}

/// Whether the engine reconciles Applications of `namespace` (`EngineConfig::app_namespaces`).
fn serves_namespace(shared: &Shared, namespace: &str) -> bool {
    shared.config.app_namespaces.is_empty()
        || shared
            .config
            .app_namespaces
            .iter()
            .any(|allowed| allowed == namespace)
}

/// The `repoURL`s of an Application's sources (`spec.source`, `spec.sources`).
fn source_repositories(application: &Value) -> impl Iterator<Item = &str> {
    let spec = &application["spec"];
    std::iter::once(&spec["source"])
        .chain(spec["sources"].as_array().into_iter().flatten())
        .filter_map(|source| source["repoURL"].as_str())
}

/// Repository URLs compare without a trailing `.git` or `/`, case-insensitively in the host.
pub fn same_repository(left: &str, right: &str) -> bool {
    let normalise = |url: &str| {
        url.trim_end_matches('/')
            .trim_end_matches(".git")
            .to_ascii_lowercase()
    };
    normalise(left) == normalise(right)
}
