//! What a sync is asked ([`SyncRequest`]), what it reports ([`SyncOutcome`]), how it says what
//! it waits on and learns that it must stop ([`SyncControl`], [`WaitError`]), and the names it
//! writes in `status.operationState`.
//!
//! Depends on `objects` only.

use std::collections::HashMap;
use std::sync::Arc;

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

/// What a sync reports while it runs, and how it learns that it should stop.
pub(crate) struct SyncControl<'a> {
    /// What the sync is waiting on, each time that changes (`waiting for healthy state of …`).
    pub progress: tokio::sync::mpsc::UnboundedSender<String>,
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
