//! flotilla-engine: the GitOps sync engine.
//!
//! [`Engine::start`] runs the controller against one cluster: it installs the Argo CD
//! `Application`/`AppProject` CRDs when absent, watches Applications, resolves and renders their
//! sources (`flotilla-source`, `flotilla-kustomize`), compares the desired objects with a
//! watch-fed live cache (`flotilla-diff`), syncs by server-side apply in phases and waves
//! (`flotilla-plan`), assesses health (`flotilla-health`) and writes `Application.status` as
//! Argo CD does. Drift on a tracked object arrives as a watch event and, with `selfHeal`, is
//! repaired at once, or after `EngineConfig::self_heal_timeout` with the Application reported
//! OutOfSync meanwhile.
//!
//! Modules, lowest layer first; each uses only modules listed before it, so they never import
//! each other in a circle (in brackets: what each depends on):
//! - `model`: Argo CD types, project rules, the annotations and finalizer the engine honours.
//! - `cluster`: the kube-rs client, discovery, JSON requests, Argo CD cluster Secrets.
//! - `metrics`: the engine's Prometheus metrics.
//! - `crds`: the Application/AppProject CRDs, installed when absent (`cluster`).
//! - `live`: list-then-watch caches and their events (`cluster`).
//! - `render`: sources → objects (`model`).
//! - `objects`: desired objects, object keys, `status.resources` entries, an object's live
//!   counterpart (`cluster`, `live`).
//! - `gate`: the pre-sync guardrails of `flotilla-eda` (`cluster`, `live`, `metrics`, `model`).
//! - `sealed`: SealedSecrets unsealed in the cluster, Bitnami-compatible keys (`cluster`, `live`).
//! - `server_diff`: differences confirmed, or found, by a dry-run apply (`cluster`, `objects`).
//! - `context`: the shared state: `EngineConfig`, `Shared`, per-Application memory, the work
//!   queue, hold marks (the types of `live`, `metrics`, `render`, `objects`, `gate`, `sealed`).
//! - `shard`: Applications shared over replicas by Leases and consistent hashing with bounded
//!   loads; the fence every write asks lives in `context::Share`; the one replica that unseals
//!   (`context`, `cluster`, `metrics`, `model`, `sealed`).
//! - `status`: status writes, conditions, the progress of a running sync (`context`, `model`).
//! - `kind_waits`: Applications waiting for a kind the cluster does not serve yet (`context`,
//!   `cluster`).
//! - `sync`: plan execution, hooks, prune, in `control`, `apply`, `wait` and `hook` submodules
//!   (`context`, `objects`, `gate`, `kind_waits`, `live`, `cluster`, `model`).
//! - `reconcile`: one Application's pass, in `sources`, `destination`, `lifecycle`, `evaluate`,
//!   `compare`, `report`, `operation` and `preview` submodules (everything above but `crds` and
//!   `sealed`).
//! - `controller`: [`Engine`]: workers on the queue, event routing, the repository poller
//!   (`reconcile` and below); nothing depends on it.
//!
//! The helpers in this file (`error_chain`, `now`, `parse_timestamp`) use no module.

pub mod cluster;
mod context;
pub mod controller;
pub mod crds;
pub mod gate;
mod kind_waits;
pub mod live;
pub mod metrics;
pub mod model;
mod objects;
pub mod reconcile;
pub mod render;
pub mod sealed;
mod server_diff;
pub mod shard;
mod status;
pub mod sync;

pub use cluster::{
    client_from_config, client_from_kubeconfig, Cluster, ClusterError, FIELD_MANAGER,
};
pub use context::{SelfHealBackoff, ShardConfig};
pub use controller::{Engine, EngineConfig};

/// An error and its causes on one line (`outer: inner: root`), for conditions and messages.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    message
}

/// Now, as Kubernetes writes timestamps (RFC 3339, seconds).
pub(crate) fn now() -> String {
    flotilla_core::time::now_rfc3339()
}

/// A Kubernetes timestamp as a `SystemTime`.
pub(crate) fn parse_timestamp(text: &str) -> Option<std::time::SystemTime> {
    flotilla_core::time::parse_rfc3339(text)
        .map(|seconds| std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
}
