//! Self-heal with a timeout (`EngineConfig::self_heal_timeout`, Argo CD's
//! `--self-heal-timeout-seconds`): an out-of-band edit is first reported, the Application and
//! the drifted object OutOfSync, and repaired only once the timeout has passed since the drift
//! was seen; the Application is Synced again after the repair. With Argo CD 3.x's backoff
//! (`EngineConfig::self_heal_backoff`) the first repair does not wait and each one after it in
//! a row waits longer.

mod common;

use std::time::{Duration, Instant};

use common::*;
use flotilla_engine::SelfHealBackoff;
use serde_json::json;

const DEPLOYMENT: &str = WEB_DEPLOYMENT;

const TIMEOUT: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_reported_out_of_sync_until_the_self_heal_timeout_repairs_it() {
    let harness = Harness::start_with(
        "self-heal",
        &[
            ("app/kustomization.yaml", "resources:\n- deployment.yaml\n"),
            ("app/deployment.yaml", DEPLOYMENT),
        ],
        |config| config.self_heal_timeout = TIMEOUT,
    )
    .await;
    harness
        .apply(&app_manifest(
            "web",
            "app",
            "shop",
            json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;
    // The first sync (a new revision) does not wait.
    let synced = harness
        .wait_app("web", "the first sync", synced_and_healthy)
        .await;
    let first_sync = synced["status"]["operationState"]["startedAt"].clone();

    let edited = Instant::now();
    harness
        .edit(
            "apps/v1",
            "Deployment",
            Some("shop"),
            "web",
            json!({"spec": {"replicas": 9}}),
        )
        .await;
    // Reported first: the Application OutOfSync, naming the drifted Deployment, no sync run yet.
    let drifted = harness
        .wait_app("web", "OutOfSync before the self-heal", |application| {
            application["status"]["sync"]["status"] == "OutOfSync"
        })
        .await;
    let resources = drifted["status"]["resources"]
        .as_array()
        .expect("resources");
    assert!(
        resources
            .iter()
            .any(|resource| resource["kind"] == "Deployment"
                && resource["name"] == "web"
                && resource["status"] == "OutOfSync"),
        "{resources:?}"
    );
    assert_eq!(
        drifted["status"]["operationState"]["startedAt"], first_sync,
        "no sync before the timeout: {}",
        drifted["status"]
    );
    // Then repaired, not before the timeout, and Synced again.
    harness
        .wait_object(
            "apps/v1",
            "Deployment",
            Some("shop"),
            "web",
            "the drift to be repaired",
            |object| object.is_some_and(|object| object["spec"]["replicas"] == 2),
        )
        .await;
    let waited = edited.elapsed();
    assert!(
        waited >= TIMEOUT,
        "repaired {waited:?} after the edit, before the {TIMEOUT:?} timeout"
    );
    let healed = harness
        .wait_app("web", "Synced after the self-heal", |application| {
            synced_and_healthy(application)
                && application["status"]["operationState"]["startedAt"] != first_sync
        })
        .await;
    assert_eq!(
        healed["status"]["operationState"]["operation"]["initiatedBy"]["automated"], true,
        "{}",
        healed["status"]
    );
    assert!(harness.engine.metrics().drift_repairs() >= 1);
    eprintln!("self-heal: repaired {waited:?} after the edit (timeout {TIMEOUT:?})");
    harness.stop().await;
}

#[test]
fn the_backoff_is_argo_cds() {
    let delays: Vec<u64> = (0..8)
        .map(|repairs| SelfHealBackoff::argo_cd().delay(repairs).as_secs())
        .collect();
    assert_eq!(delays, [0, 2, 6, 18, 54, 162, 300, 300]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repairs_in_a_row_wait_longer_each_time() {
    let backoff = SelfHealBackoff {
        timeout: Duration::from_secs(1),
        factor: 2,
        cap: Duration::from_secs(10),
        cooldown: Duration::from_secs(120),
    };
    let harness = Harness::start_with(
        "self-heal-backoff",
        &[
            ("app/kustomization.yaml", "resources:\n- deployment.yaml\n"),
            ("app/deployment.yaml", DEPLOYMENT),
        ],
        |config| config.self_heal_backoff = Some(backoff.clone()),
    )
    .await;
    harness
        .apply(&app_manifest(
            "web",
            "app",
            "shop",
            json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;
    harness
        .wait_app("web", "the first sync", synced_and_healthy)
        .await;
    let mut waits = Vec::new();
    for (repairs, replicas) in [(0, 9), (1, 8), (2, 7)] {
        let edited = Instant::now();
        harness
            .edit(
                "apps/v1",
                "Deployment",
                Some("shop"),
                "web",
                json!({"spec": {"replicas": replicas}}),
            )
            .await;
        harness
            .wait_object(
                "apps/v1",
                "Deployment",
                Some("shop"),
                "web",
                "the drift to be repaired",
                |object| object.is_some_and(|object| object["spec"]["replicas"] == 2),
            )
            .await;
        let waited = edited.elapsed();
        // At least the backoff after `repairs` repairs in a row (more when the engine counted
        // other repairs as well).
        assert!(
            waited >= backoff.delay(repairs),
            "repair {} after {waited:?}, before its backoff {:?}",
            repairs + 1,
            backoff.delay(repairs)
        );
        waits.push(waited);
        harness
            .wait_app("web", "Synced after the repair", synced_and_healthy)
            .await;
    }
    eprintln!("self-heal backoff: repairs after {waits:?}");
    harness.stop().await;
}
