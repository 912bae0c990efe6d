//! What a sync is asked ([`SyncRequest`]), what it reports ([`SyncOutcome`]), how it says what
//! it waits on, records its progress ([`Checkpoint`]) and learns that it must stop
//! ([`SyncControl`], [`WaitError`]), the operation it belongs to ([`OperationMark`]), and the
//! names it writes in `status.operationState`.
//!
//! Depends on `objects` only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use flotilla_plan::Phase;
use serde_json::Value;

use crate::objects::ObjectKey;

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

/// The annotation each hook carries with the `startedAt` of the operation that created it: a
/// resumed operation adopts the hooks it finds carrying its own.
pub const OPERATION_ANNOTATION: &str = "flotilla.dev/sync-operation";

/// The sync operation a sync runs, as `status.operationState` records it.
#[derive(Clone, Debug, Default)]
pub(crate) struct OperationMark {
    /// Its `startedAt`, stamped on the hooks it creates (`OPERATION_ANNOTATION`).
    pub started: String,
    /// Whether it resumes an operation a controller left `Running` (killed mid-sync): its hooks
    /// are looked for before any is created.
    pub resumed: bool,
    /// The hook results that operation recorded (`syncResult.resources`): a hook it finished is
    /// not run again.
    pub recorded: Vec<Value>,
}

impl OperationMark {
    /// The result this operation recorded for the hook `entry` is about (same group, kind,
    /// namespace, name and phase), when it finished that hook.
    pub(super) fn finished_hook(&self, entry: &Value) -> Option<&Value> {
        self.recorded.iter().find(|recorded| {
            ["group", "kind", "namespace", "name", "syncPhase"]
                .iter()
                .all(|field| recorded[*field] == entry[*field])
                && matches!(recorded["hookPhase"].as_str(), Some("Succeeded" | "Failed"))
        })
    }
}

/// A request to write the operation's results so far into the Application's status now
/// (`status::report_progress`), answered with whether the server took it.
pub(crate) struct Checkpoint {
    pub resources: Vec<Value>,
    pub done: tokio::sync::oneshot::Sender<bool>,
}

/// How many times a checkpoint is tried before the hook waiting on it gives up.
const CHECKPOINT_ATTEMPTS: u32 = 6;

/// What a sync reports while it runs, and how it learns that it should stop.
pub(crate) struct SyncControl<'a> {
    /// What the sync is waiting on, each time that changes (`waiting for healthy state of …`).
    pub progress: tokio::sync::mpsc::UnboundedSender<String>,
    /// Where checkpoints go (`status::report_progress`).
    pub checkpoints: tokio::sync::mpsc::UnboundedSender<Checkpoint>,
    /// The operation this sync runs.
    pub operation: &'a OperationMark,
    /// Whether the operation is recorded `Running` with its `startedAt` (the first checkpoint).
    pub started_recorded: AtomicBool,
    /// Why the sync must stop now, if it must (asked between steps and while waiting).
    pub interrupt: &'a (dyn Fn() -> Option<String> + Send + Sync),
    /// The Application being synced (namespace, name). A wave never waits for it: an
    /// app-of-apps that manages itself (KAM's `argo-app`, `flotilla bootstrap`'s root) would
    /// otherwise wait for its own sync to end.
    pub own_application: (&'a str, &'a str),
}

impl SyncControl<'_> {
    /// Refuses a write when this replica may not write the Application's objects now (the
    /// shard fence, `context::Share`): the sync stops as interrupted.
    pub(super) fn fenced(&self, shared: &crate::context::Shared) -> Result<(), WaitError> {
        let key = (
            self.own_application.0.to_string(),
            self.own_application.1.to_string(),
        );
        shared.share.fence(&key).map_err(WaitError::Interrupted)
    }

    /// Records `resources` (the results so far) in the Application's status, trying again for
    /// a few seconds while the server refuses (restarting, say); fails when it never took it.
    pub(super) async fn checkpoint(&self, resources: &[Value]) -> Result<(), WaitError> {
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=CHECKPOINT_ATTEMPTS {
            if let Some(reason) = (self.interrupt)() {
                return Err(WaitError::Interrupted(reason));
            }
            let (done, answer) = tokio::sync::oneshot::channel();
            let sent = self.checkpoints.send(Checkpoint {
                resources: resources.to_vec(),
                done,
            });
            if sent.is_err() {
                // Nobody reports this sync's progress: nothing to record.
                return Ok(());
            }
            if answer.await.unwrap_or(false) {
                self.started_recorded.store(true, Ordering::SeqCst);
                return Ok(());
            }
            if attempt < CHECKPOINT_ATTEMPTS {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
        Err(WaitError::Failed(
            "cannot record the operation in the Application's status".into(),
        ))
    }

    /// Whether the operation is already recorded `Running` (a first checkpoint went through).
    pub(super) fn start_recorded(&self) -> bool {
        self.started_recorded.load(Ordering::SeqCst)
    }

    pub(super) fn report(&self, message: String) {
        // The receiver only goes away with the reconcile that owns this sync.
        let _ = self.progress.send(message);
    }
}

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

pub(super) fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::PreSync => "PreSync",
        Phase::Sync => "Sync",
        Phase::PostSync => "PostSync",
        Phase::SyncFail => "SyncFail",
    }
}

/// Why a wait ended without its object becoming ready.
pub(crate) enum WaitError {
    /// The object failed, or the wait timed out.
    Failed(String),
    /// The sync was told to stop.
    Interrupted(String),
}

/// `deployment.apps/web`, as kubectl and Argo CD name objects in messages.
pub(super) fn display_name(object: &Value) -> String {
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
