//! flotilla-engine: the GitOps sync engine.
//!
//! [`Engine::start`] runs the controller against one cluster: it installs the Argo CD
//! `Application`/`AppProject` CRDs when absent, watches Applications, resolves and renders their
//! sources (`flotilla-source`, `flotilla-kustomize`), compares the desired objects with a
//! watch-fed live cache (`flotilla-diff`), syncs by server-side apply in phases and waves
//! (`flotilla-plan`), assesses health (`flotilla-health`) and writes `Application.status` as
//! Argo CD does. Drift on a tracked object arrives as a watch event and, with `selfHeal`, is
//! repaired at once.
//!
//! Modules: `model` (Argo CD types, project rules), `cluster` (kube-rs client, discovery, JSON
//! requests), `live` (watch caches), `render` (sources → objects), `controller` (queue, routing,
//! poller), `reconcile` (one Application), `kind_waits` (Applications waiting for a kind the
//! cluster does not serve yet), `gate` (the pre-sync guardrails of `flotilla-eda`, called by
//! `reconcile` before every sync), `sync` (plan execution, hooks, prune), `crds`,
//! `metrics`, `sealed` (SealedSecrets unsealed in the cluster, Bitnami-compatible keys),
//! `server_diff` (differences confirmed, or found, by a dry-run apply).

pub mod cluster;
pub mod controller;
pub mod crds;
pub mod gate;
mod kind_waits;
pub mod live;
pub mod metrics;
pub mod model;
pub mod reconcile;
pub mod render;
pub mod sealed;
mod server_diff;
mod status;
pub mod sync;

pub use cluster::{
    client_from_config, client_from_kubeconfig, Cluster, ClusterError, FIELD_MANAGER,
};
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
