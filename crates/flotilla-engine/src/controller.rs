//! The controller: watches Applications (and AppProjects) in the cluster it runs against, keeps a
//! work queue of Applications to reconcile, and routes every live change of a tracked object to
//! its Application, so drift is seen as an event and repaired at once.
//!
//! Work arrives from four places: Application/AppProject events, live object events (by tracking
//! annotation or by the desired-object index), the repository poller (`repo_poll`) and explicit
//! refreshes (webhooks). The queue holds each Application at most once, never runs one
//! Application on two workers at once, and re-runs an Application that changed while it ran.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, watch, Notify};

use crate::cluster::{Cluster, ClusterError};
use crate::live::{LiveCache, LiveEvent};
use crate::metrics::Metrics;
use crate::model::{GROUP, VERSION};
use crate::render::Rendered;

/// How the engine runs.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Mirrors, snapshots and rendered overrides.
    pub cache_dir: PathBuf,
    /// How often repositories are asked for new commits.
    pub repo_poll: Duration,
    /// `(from, to)` repository URL rewrites.
    pub repo_mirrors: Vec<(String, String)>,
    /// Namespaces whose Applications are reconciled (empty: all).
    pub app_namespaces: Vec<String>,
    /// Where projects and cluster Secrets live, and whose Applications have plain instance
    /// names (Argo CD's `argocd` namespace).
    pub control_namespace: String,
    /// Applications reconciled at once; 0 makes a read-only engine (previews only).
    pub workers: usize,
    /// How long a sync waits for one wave to become healthy, or for a hook to finish.
    pub wave_timeout: Duration,
    /// Install the Application and AppProject CRDs when absent.
    pub install_crds: bool,
    /// Unseal SealedSecrets in the target cluster (None when a Bitnami controller owns the keys).
    pub sealed_secrets: Option<crate::sealed::SealedSecretsConfig>,
    /// Server-side diff for every Application that does not say `ServerSideDiff=false` (Argo
    /// CD's `controller.diff.server.side`); otherwise only differences are confirmed by a dry run.
    pub server_side_diff: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cache_dir: std::env::temp_dir().join("flotilla-engine"),
            repo_poll: Duration::from_secs(60),
            repo_mirrors: Vec::new(),
            app_namespaces: Vec::new(),
            control_namespace: "argocd".into(),
            workers: 8,
            wave_timeout: Duration::from_secs(300),
            install_crds: true,
            sealed_secrets: None,
            server_side_diff: false,
        }
    }
}

pub(crate) type AppKey = (String, String);

/// What the engine remembers about an Application between reconciles.
#[derive(Clone, Debug, Default)]
pub(crate) struct AppMemory {
    /// The revisions of the last automated sync (one per source).
    pub synced_revisions: Option<Vec<String>>,
    /// Failed automated sync attempts in a row, and when the next may run. They are about
    /// `attempted_revisions`: a newer revision is synced at once, with a fresh count.
    pub retry_attempt: u32,
    pub retry_not_before: Option<Instant>,
    pub attempted_revisions: Option<Vec<String>>,
    /// The kinds this Application has had objects of (watched so pruning sees them).
    pub kinds: BTreeSet<(String, String)>,
    /// The Application's instance name (the tracking id's first part).
    pub instance: String,
    pub project: String,
    pub repositories: Vec<(String, String)>,
    /// The rendered and normalised desired objects, valid while their inputs are unchanged.
    pub desired_cache: Option<DesiredCache>,
    /// Bumped whenever the desired objects are rebuilt (invalidates `comparisons`).
    pub desired_epoch: u64,
    /// Comparison results by object, valid for one desired epoch and one live resourceVersion.
    pub comparisons: HashMap<crate::reconcile::ObjectKey, crate::reconcile::CachedComparison>,
    /// The desired-index entries this Application added (removed on the next rebuild).
    pub index_keys: Vec<(String, String, String, String)>,
    /// The kinds it waits for, not served by its destination yet (`kind_waits`).
    pub waiting_kinds: BTreeSet<crate::kind_waits::AwaitedKind>,
    /// Retries while it waits for a kind, in a row, and when the next one is scheduled.
    pub kind_wait_attempt: u32,
    pub kind_wait_retry_at: Option<Instant>,
    /// The pre-sync gate's last findings and the revisions they are about (`gate`).
    pub guardrails: Option<crate::gate::Remembered>,
}

/// Desired objects cached per Application.
#[derive(Clone, Debug)]
pub(crate) struct DesiredCache {
    pub key: String,
    pub desired: Arc<Vec<crate::reconcile::Desired>>,
    pub kinds: BTreeSet<(String, String)>,
    pub source_type: Option<&'static str>,
}

#[derive(Default)]
struct QueueState {
    pending: VecDeque<AppKey>,
    queued: HashSet<AppKey>,
    running: HashSet<AppKey>,
    dirty: HashSet<AppKey>,
}

/// The work queue.
#[derive(Default)]
pub(crate) struct Queue {
    state: Mutex<QueueState>,
    notify: Notify,
}

impl Queue {
    pub fn push(&self, key: AppKey) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.running.contains(&key) {
            state.dirty.insert(key);
            return;
        }
        if state.queued.insert(key.clone()) {
            state.pending.push_back(key);
            drop(state);
            self.notify.notify_one();
        }
    }

    async fn pop(&self) -> AppKey {
        loop {
            let notified = self.notify.notified();
            {
                let mut state = self
                    .state
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(key) = state.pending.pop_front() {
                    state.queued.remove(&key);
                    state.running.insert(key.clone());
                    return key;
                }
            }
            notified.await;
        }
    }

    fn done(&self, key: &AppKey) {
        let requeue = {
            let mut state = self
                .state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.running.remove(key);
            state.dirty.remove(key)
        };
        if requeue {
            self.push(key.clone());
        }
    }

    pub fn len(&self) -> usize {
        let state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.pending.len() + state.running.len()
    }
}

/// State shared by the controller's tasks.
pub(crate) struct Shared {
    pub config: EngineConfig,
    pub home: Arc<LiveCache>,
    pub remotes: Mutex<HashMap<String, Arc<LiveCache>>>,
    pub repositories: flotilla_source::Repositories,
    /// `(repository, revision)` → commit, refreshed by the poller.
    pub revisions: Mutex<HashMap<(String, String), String>>,
    /// Rendered sources by (commit, path, options).
    pub renders: Mutex<HashMap<String, Arc<Rendered>>>,
    pub memory: Mutex<HashMap<AppKey, AppMemory>>,
    /// Desired objects → their Application, for live events of objects without a tracking id.
    pub desired_index: Mutex<HashMap<(String, String, String, String), AppKey>>,
    /// The resourceVersion of each Application's last status write by this engine: the watch
    /// event echoing it needs no reconcile of that Application.
    pub written: Mutex<HashMap<AppKey, String>>,
    /// Applications whose status write is in flight, with the resourceVersions of the events
    /// about them seen meanwhile: the echo of the write itself may arrive before its answer,
    /// and is known for what it is only once the answer names the version.
    pub status_writes: Held<String>,
    /// Applications in the middle of a sync, with the events about their objects seen
    /// meanwhile: an applied object's watch event may arrive before the apply's answer, and is
    /// known to be the echo of the write only once the sync has the answers.
    pub syncing: Held<HeldEvent>,
    /// Instance names (tracking ids' first part) → their Application.
    pub instances: Mutex<HashMap<String, AppKey>>,
    pub queue: Queue,
    pub metrics: Metrics,
    pub events: mpsc::UnboundedSender<LiveEvent>,
    pub shutdown: watch::Receiver<bool>,
    /// The in-engine SealedSecrets controller, when enabled.
    pub unsealer: std::sync::OnceLock<Arc<crate::sealed::Unsealer>>,
    /// Applications that should record `reconciledAt` on their next reconcile.
    pub refreshed: Mutex<HashSet<AppKey>>,
    /// The clusters (by name) whose CustomResourceDefinitions are watched for the kinds
    /// Applications wait for (`kind_waits`).
    pub definition_watches: Mutex<HashSet<String>>,
}

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
        });
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
            let unsealer =
                crate::sealed::Unsealer::start(home.clone(), sealed_config, shutdown.clone())
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
                    let started = Instant::now();
                    crate::reconcile::reconcile(&worker, &key).await;
                    worker.metrics.observe_reconcile(started.elapsed());
                    worker.queue.done(&key);
                }
            });
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

    /// Queues one Application for reconciliation.
    pub fn enqueue(&self, namespace: &str, name: &str) {
        self.shared
            .queue
            .push((namespace.to_string(), name.to_string()));
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

    /// Stops every task.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// How many tasks (or other clones of this `Engine`) still hold the engine's state (caches,
    /// memory): 0 once a shutdown has finished, so that a stopped engine frees what it held
    /// (tests, diagnostics). A sync waiting on a wave finishes that wait first (at most the wave
    /// timeout).
    pub fn state_references(&self) -> usize {
        Arc::strong_count(&self.shared).saturating_sub(1)
    }
}

/// The Application key for an Application object, when its namespace is one the engine serves.
pub(crate) fn app_key(shared: &Shared, application: &Value) -> Option<AppKey> {
    let namespace = application["metadata"]["namespace"].as_str()?;
    let name = application["metadata"]["name"].as_str()?;
    if !shared.config.app_namespaces.is_empty()
        && !shared
            .config
            .app_namespaces
            .iter()
            .any(|allowed| allowed == namespace)
    {
        return None;
    }
    Some((namespace.to_string(), name.to_string()))
}

/// Argo CD's instance name: the name in the control namespace, `namespace_name` elsewhere.
pub(crate) fn instance_name(shared: &Shared, key: &AppKey) -> String {
    if key.0 == shared.config.control_namespace {
        key.1.clone()
    } else {
        format!("{}_{}", key.0, key.1)
    }
}

fn route(shared: &Shared, event: LiveEvent) {
    if event.api_version == crate::sealed::API_VERSION
        && event.kind == "SealedSecret"
        && event.cluster == shared.home.cluster.name
    {
        if let Some(unsealer) = shared.unsealer.get() {
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

/// An event about an object an Application owns, held while that Application syncs.
#[derive(Clone, Debug)]
pub(crate) struct HeldEvent {
    pub cluster: String,
    pub key: crate::reconcile::ObjectKey,
    pub resource_version: String,
    pub deleted: bool,
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

/// What is held per Application while one of its writes is in flight (`HoldMark`).
pub(crate) type Held<T> = Mutex<HashMap<AppKey, Vec<T>>>;

/// Holds `item` for `key` if a write of that Application is in flight; false if none is.
fn hold<T>(held: &Held<T>, key: &AppKey, item: impl FnOnce() -> T) -> bool {
    held.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get_mut(key)
        .map(|items| items.push(item()))
        .is_some()
}

/// Marks a write of an Application as in flight in `held` (events about it are held instead
/// of queued) until `finish`ed; dropped unfinished, it queues the Application if anything was
/// held, so an interrupted write never swallows an event.
pub(crate) struct HoldMark<'a, T> {
    shared: &'a Shared,
    held: &'a Held<T>,
    key: &'a AppKey,
}

impl<'a, T> HoldMark<'a, T> {
    pub(crate) fn new(shared: &'a Shared, held: &'a Held<T>, key: &'a AppKey) -> Self {
        held.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key.clone(), Vec::new());
        HoldMark { shared, held, key }
    }

    /// Ends the mark, returning what was held meanwhile.
    pub(crate) fn finish(self) -> Vec<T> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(self.key)
            .unwrap_or_default()
    }
}

impl<T> Drop for HoldMark<'_, T> {
    fn drop(&mut self) {
        let held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(self.key);
        if held.is_some_and(|held| !held.is_empty()) {
            self.shared.queue.push(self.key.clone());
        }
    }
}

/// Resolves every (repository, revision) in use again; queues the Applications whose commit
/// changed, and marks every Application for a `reconciledAt` refresh.
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
    let memory = shared
        .memory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut refreshed = shared
        .refreshed
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (key, remembered) in memory.iter() {
        let uses_moved = remembered
            .repositories
            .iter()
            .any(|source| moved.contains(source));
        let matches = only.is_none_or(|wanted| {
            remembered
                .repositories
                .iter()
                .any(|(repository, _)| same_repository(wanted, repository))
        });
        if uses_moved || matches {
            refreshed.insert(key.clone());
            shared.queue.push(key.clone());
        }
    }
}

/// Resolves a revision of a repository (blocking: `git ls-remote`, a fetch), counted in the
/// git metrics and logged when it fails.
pub(crate) fn resolve_measured(
    shared: &Shared,
    repository: &str,
    revision: &str,
) -> Result<flotilla_source::ResolvedRevision, flotilla_source::FetchError> {
    let started = Instant::now();
    let resolved = shared.repositories.resolve(repository, revision);
    shared
        .metrics
        .observe_git_fetch(repository, started.elapsed(), resolved.is_ok());
    if let Err(error) = &resolved {
        tracing::warn!(%repository, %revision, error = %crate::error_chain(error), "cannot resolve the revision");
    }
    resolved
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
