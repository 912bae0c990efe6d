//! The engine's shared state: its configuration ([`EngineConfig`]), the [`Shared`] struct every
//! task holds (watch caches, repositories, per-Application memory, indexes from objects to their
//! Application, the work queue), the work queue itself, and the hold marks that keep the echo of
//! an in-flight write from queueing its Application again.
//!
//! It sits below everything that takes `Shared` (`status`, `kind_waits`, `sync`, `reconcile`,
//! `controller`) and depends only on the modules whose types it holds: `live`, `metrics`,
//! `render`, `objects`, `gate` and `sealed`.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify};

use crate::live::{LiveCache, LiveEvent};
use crate::metrics::Metrics;
use crate::objects::{Desired, ObjectKey};
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
    /// Share the Applications with the other replicas through Leases (`shard`); None reconciles
    /// every Application (`--shard-mode off`).
    pub shard: Option<ShardConfig>,
    /// How long drift waits before self-heal repairs it, the Application reported OutOfSync
    /// meanwhile (`--self-heal-timeout`; Argo CD's `--self-heal-timeout-seconds`); zero
    /// repairs in the pass that sees the drift. A new revision is synced at once regardless.
    pub self_heal_timeout: Duration,
    /// Argo CD 3.x's self-heal backoff: a repair that follows others waits longer each time
    /// (None: no backoff). The wait is the longer of this and `self_heal_timeout`.
    pub self_heal_backoff: Option<SelfHealBackoff>,
    /// How stale `status.reconciledAt` may get before a pass that finds nothing new writes it
    /// again (Argo CD's `timeout.reconciliation`, 180 s): the periodic refresh, which also
    /// repairs a status some lost trigger left stale; no-op passes in between cost no writes.
    /// Tests that must see such a loss set it beyond their own deadline.
    pub reconciliation_timeout: Duration,
}

/// Argo CD 3.x's self-heal backoff (`--self-heal-backoff-timeout-seconds`, `-factor`,
/// `-cap-seconds`, `-cooldown-seconds`; 2 s, 3, 300 s and 330 s there): the first repair does
/// not wait, the next waits `timeout`, then `factor` times longer each time up to `cap`; the
/// count starts again once no repair ran for `cooldown`.
#[derive(Clone, Debug, PartialEq)]
pub struct SelfHealBackoff {
    pub timeout: Duration,
    pub factor: u32,
    pub cap: Duration,
    pub cooldown: Duration,
}

impl SelfHealBackoff {
    /// Argo CD 3.x's defaults.
    pub fn argo_cd() -> SelfHealBackoff {
        SelfHealBackoff {
            timeout: Duration::from_secs(2),
            factor: 3,
            cap: Duration::from_secs(300),
            cooldown: Duration::from_secs(330),
        }
    }

    /// The wait of a repair that follows `repairs` others in a row.
    pub fn delay(&self, repairs: u32) -> Duration {
        if repairs == 0 {
            return Duration::ZERO;
        }
        let mut delay = self.timeout;
        for _ in 1..repairs {
            if delay >= self.cap {
                break;
            }
            delay = delay.saturating_mul(self.factor);
        }
        delay.min(self.cap)
    }
}

/// How a replica takes part in sharding: its identity (its Lease is
/// `flotilla-controller-<identity>` in the control namespace) and client-go's leader-election
/// timings.
#[derive(Clone, Debug)]
pub struct ShardConfig {
    /// A DNS label, unique among the replicas (`--shard-identity`, by default hostname-pid).
    pub identity: String,
    /// How long a Lease holds after its last renewal (client-go: 15 s).
    pub lease_duration: Duration,
    /// How long after its last successful renewal a replica still writes (client-go: 10 s);
    /// shorter than `lease_duration`, so a replica that cannot renew stops writing before the
    /// others see its Lease expire.
    pub renew_deadline: Duration,
    /// How often the Lease is renewed and the members listed (client-go: 2 s).
    pub retry_period: Duration,
}

impl ShardConfig {
    /// client-go's defaults for `identity`.
    pub fn new(identity: &str) -> ShardConfig {
        ShardConfig {
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
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
            shard: None,
            self_heal_timeout: Duration::ZERO,
            self_heal_backoff: None,
            reconciliation_timeout: Duration::from_secs(180),
        }
    }
}

pub(crate) type AppKey = (String, String);

/// The kind a waiting Application waits for, as remembered: (cluster name, apiVersion, kind).
pub(crate) type AwaitedKind = (String, String, String);

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
    pub comparisons: HashMap<ObjectKey, CachedComparison>,
    /// The desired-index entries this Application added (removed on the next rebuild).
    pub index_keys: Vec<(String, String, String, String)>,
    /// The kinds it waits for, not served by its destination yet (`kind_waits`).
    pub waiting_kinds: BTreeSet<AwaitedKind>,
    /// Retries while it waits for a kind, in a row, and when the next one is scheduled.
    pub kind_wait_attempt: u32,
    pub kind_wait_retry_at: Option<Instant>,
    /// The pre-sync gate's last findings and the revisions they are about (`gate`).
    pub guardrails: Option<crate::gate::Remembered>,
    /// When self-heal may repair the drift seen (first seen + `self_heal_timeout`); cleared
    /// once a sync is requested or nothing is out of sync.
    pub self_heal_due: Option<Instant>,
    /// Self-heal repairs in a row (`SelfHealBackoff`), and when the last one started.
    pub self_heal_repairs: u32,
    pub self_heal_last: Option<Instant>,
}

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

/// Desired objects cached per Application.
#[derive(Clone, Debug)]
pub(crate) struct DesiredCache {
    pub key: String,
    pub desired: Arc<Vec<Desired>>,
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

    pub(crate) async fn pop(&self) -> AppKey {
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

    pub(crate) fn done(&self, key: &AppKey) {
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
    /// Guardrail files by (repository, commit, path), for `Engine::synced_files`.
    pub synced_files: crate::gate::FilesCache,
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
    /// This replica's share of the Applications (`shard` keeps it).
    pub share: Share,
}

impl Shared {
    /// Drops what the engine remembers about an Application: its memory, its index entries,
    /// its metrics (it is gone, or another replica owns it now).
    pub(crate) fn forget_application(&self, key: &AppKey) {
        self.forget_applications(&HashSet::from([key.clone()]));
    }

    /// Forgets many Applications at once: one pass over each index whatever their number (a
    /// replica handing thousands over on a rejoin must not scan the indexes once per
    /// Application, which stalled its Lease renewal for tens of seconds).
    pub(crate) fn forget_applications(&self, keys: &HashSet<AppKey>) {
        if keys.is_empty() {
            return;
        }
        {
            let mut memory = self
                .memory
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for key in keys {
                memory.remove(key);
            }
        }
        self.desired_index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|_, owner| !keys.contains(owner));
        self.instances
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|_, owner| !keys.contains(owner));
        for key in keys {
            self.metrics.remove_app(&key.0, &key.1);
        }
    }
}

/// This replica's share of the Applications, as `shard` last computed it, and the fence every
/// write asks (`Share::fence`): unsharded, everything is this replica's.
#[derive(Default)]
pub(crate) struct Share {
    pub state: Mutex<ShareState>,
    /// Wakes `shard` to assign an Application its last assignment did not know (a new one),
    /// instead of leaving it until the next renewal.
    pub wake: Notify,
}

#[derive(Default)]
pub(crate) struct ShareState {
    /// Sharding is on: only `owned` Applications are this replica's.
    pub sharded: bool,
    /// The Applications assigned to this replica, each with the instant from which it may be
    /// written (later than now while its previous owner may still be writing).
    pub owned: HashMap<AppKey, Instant>,
    /// Until when this replica's Lease, renewed and read at its last success, is its own by its
    /// clock (last renewal + renew deadline); None before the first renewal.
    pub valid_until: Option<Instant>,
    /// The live members, this replica included, sorted.
    pub members: Vec<String>,
    /// Every Application the last assignment placed, on any member.
    pub assigned: HashSet<AppKey>,
    /// This replica is the one that unseals SealedSecrets and renews the sealing keys.
    pub unseals: bool,
    /// The shard task has ended, its Lease released (or given up on).
    pub released: bool,
}

impl Share {
    fn lock(&self) -> std::sync::MutexGuard<'_, ShareState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Why this replica may not write `key` now, if it may not: its Lease is not known valid by
    /// its own clock, or the Application is not its own (yet).
    pub(crate) fn fence(&self, key: &AppKey) -> Result<(), String> {
        let state = self.lock();
        if !state.sharded {
            return Ok(());
        }
        let now = Instant::now();
        if state.valid_until.is_none_or(|until| until <= now) {
            return Err("this replica's shard Lease is not renewed".into());
        }
        match state.owned.get(key) {
            Some(from) if *from <= now => Ok(()),
            Some(_) => Err("the Application is being handed over to this replica".into()),
            None => Err("another replica owns the Application".into()),
        }
    }

    /// Whether this replica unseals SealedSecrets (always, unsharded).
    pub(crate) fn unseals(&self) -> bool {
        let state = self.lock();
        !state.sharded
            || (state.unseals
                && state
                    .valid_until
                    .is_some_and(|until| until > Instant::now()))
    }

    /// Whether the last assignment gave `key` to this replica (always, unsharded), ready or not.
    pub(crate) fn assigned_here(&self, key: &AppKey) -> bool {
        let state = self.lock();
        !state.sharded || state.owned.contains_key(key)
    }

    /// Whether this replica reconciles `key` now (the queue skips the others). An Application
    /// the last assignment did not place wakes `shard` to place it.
    pub(crate) fn owns(&self, key: &AppKey) -> bool {
        let owned = self.fence(key).is_ok();
        if !owned {
            let state = self.lock();
            if state.sharded && !state.assigned.contains(key) {
                drop(state);
                self.wake.notify_one();
            }
        }
        owned
    }
}

/// Argo CD's instance name: the name in the control namespace, `namespace_name` elsewhere.
pub(crate) fn instance_name(shared: &Shared, key: &AppKey) -> String {
    if key.0 == shared.config.control_namespace {
        key.1.clone()
    } else {
        format!("{}_{}", key.0, key.1)
    }
}

/// An event about an object an Application owns, held while that Application syncs.
#[derive(Clone, Debug)]
pub(crate) struct HeldEvent {
    pub cluster: String,
    pub key: ObjectKey,
    pub resource_version: String,
    pub deleted: bool,
}

/// What is held per Application while one of its writes is in flight (`HoldMark`).
pub(crate) type Held<T> = Mutex<HashMap<AppKey, Vec<T>>>;

/// Holds `item` for `key` if a write of that Application is in flight; false if none is.
pub(crate) fn hold<T>(held: &Held<T>, key: &AppKey, item: impl FnOnce() -> T) -> bool {
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
