//! The periodic refresh (the repository poll, which rewrites a `reconciledAt` older than
//! `EngineConfig::reconciliation_timeout`) reaches every Application the engine's watch cache
//! holds, as Argo CD requeues every Application of its informer each resync period, not only
//! those the engine remembers: one it forgot (or whose first pass never got as far as
//! remembering it) would otherwise wait for an event that may never come.
//!
//! The poller itself is slowed beyond the test's deadline and its pass run by `Engine::refresh`
//! (the same code; a webhook's refresh names a repository), so nothing else reconciles the
//! Application between forgetting it and the refresh.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::json;

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n";

fn reconciled_at(application: &serde_json::Value) -> String {
    application["status"]["reconciledAt"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn settle(harness: &Harness) {
    let deadline = std::time::Instant::now() + DEADLINE;
    while harness.engine.busy() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the engine never settled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Forgets the Application, lets its `reconciledAt` go stale, runs the periodic pass (or a
/// webhook's, for `repository`) and waits for `reconciledAt` to move.
async fn forgotten_and_refreshed(harness: &Harness, repository: Option<&str>) {
    settle(harness).await;
    harness.engine.forget("argocd", "app");
    let before = reconciled_at(&harness.application("app").await);
    let at = flotilla_core::time::parse_rfc3339(&before).expect("reconciledAt");
    // Older than the reconciliation timeout (1 s) by the engine's clock, whole seconds.
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        if now >= at + 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    harness.engine.refresh(repository).await;
    let what = format!("reconciledAt refreshed after {before} ({repository:?})");
    harness
        .wait_app("app", &what, |application| {
            let now = reconciled_at(application);
            !now.is_empty() && now != before && synced_and_healthy(application)
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_the_engine_does_not_remember_are_refreshed() {
    let harness = Harness::start_with(
        "periodic-refresh",
        &[("app/cm.yaml", CONFIGMAP)],
        |config| {
            config.repo_poll = Duration::from_secs(3600);
            config.reconciliation_timeout = Duration::from_secs(1);
        },
    )
    .await;
    harness
        .apply(&app_manifest(
            "app",
            "app",
            "default",
            json!({"automated": {}}),
        ))
        .await;
    harness
        .wait_app("app", "the first sync", synced_and_healthy)
        .await;

    forgotten_and_refreshed(&harness, None).await;
    // A webhook's refresh matches an Application it does not remember by its spec.
    let repository = harness.repository_url.clone();
    forgotten_and_refreshed(&harness, Some(&repository)).await;
    harness.stop().await;
}
