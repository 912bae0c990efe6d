//! Sealed Secrets inside the engine, end to end against the embedded API server: a SealedSecret
//! committed to a GitOps repository becomes exactly the expected Secret; a tampered ciphertext
//! gives `Synced=False` with a clear message and leaves the Secret unchanged; an unmanaged Secret
//! of the same name is never overwritten; after a key rotation old SealedSecrets still unseal and
//! the served certificate is the new key's. Test data: `crates/flotilla-sealed/tests/data` (TEST
//! key and vectors from ../shared/sealed-secrets-vectors, see PROVENANCE.md there).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use flotilla_engine::sealed::SealedSecretsConfig;
use serde_json::{json, Value};

fn data_file(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../flotilla-sealed/tests/data")
            .join(name),
    )
    .expect("test data")
}

fn documents(text: &str) -> Vec<Value> {
    flotilla_core::parse_documents(text)
        .expect("YAML")
        .iter()
        .map(flotilla_core::to_json)
        .filter(|document| document.is_object())
        .collect()
}

async fn synced_condition(harness: &Harness, name: &str, status: &str) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let sealed = harness
            .get("bitnami.com/v1alpha1", "SealedSecret", Some("demo"), name)
            .await;
        if let Some(condition) = sealed
            .as_ref()
            .and_then(|sealed| sealed["status"]["conditions"].as_array())
            .and_then(|conditions| {
                conditions
                    .iter()
                    .find(|condition| condition["type"] == "Synced")
            })
        {
            if condition["status"] == status {
                return condition.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for Synced={status} on {name}: {sealed:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_secrets_from_git_become_secrets() {
    let sealed_strict = data_file("sealedsecret-strict.yaml");
    let key_secret = documents(&data_file("sealed-secrets-key-test.yaml")).remove(0);
    let kube_system =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}});
    let harness = Harness::start_prepared(
        "sealed",
        &[
            (
                "secrets/kustomization.yaml",
                "resources:\n- app-credentials.yaml\n",
            ),
            ("secrets/app-credentials.yaml", &sealed_strict),
        ],
        |config| {
            config.sealed_secrets = Some(SealedSecretsConfig {
                key_bits: 2048,
                ..SealedSecretsConfig::default()
            });
        },
        &[kube_system, key_secret],
    )
    .await;
    let unsealer = harness.engine.unsealer().expect("the unsealer runs");
    let original_certificate = unsealer.certificate_pem().expect("a key is loaded");
    assert!(original_certificate.contains("BEGIN CERTIFICATE"));
    harness
        .apply(&app_manifest(
            "secrets",
            "secrets",
            "demo",
            json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;

    // The Secret is exactly what the Bitnami controller produces.
    let secret = harness
        .wait_object(
            "v1",
            "Secret",
            Some("demo"),
            "app-credentials",
            "the unsealed Secret",
            |object| object.is_some(),
        )
        .await
        .expect("secret");
    let mut expected = documents(&data_file("expected-unsealed-secrets.yaml")).remove(0);
    // The expected file writes the empty value as `empty: ` (YAML null); a Secret holds "".
    if let Some(data) = expected["data"].as_object_mut() {
        for value in data.values_mut() {
            if value.is_null() {
                *value = json!("");
            }
        }
    }
    assert_eq!(secret["data"], expected["data"]);
    assert_eq!(secret["type"], expected["type"]);
    let sealed = harness
        .get(
            "bitnami.com/v1alpha1",
            "SealedSecret",
            Some("demo"),
            "app-credentials",
        )
        .await
        .expect("sealed secret");
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["uid"],
        sealed["metadata"]["uid"]
    );
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["kind"],
        "SealedSecret"
    );
    synced_condition(&harness, "app-credentials", "True").await;
    harness
        .wait_app(
            "secrets",
            "the SealedSecret to be healthy",
            synced_and_healthy,
        )
        .await;

    // A tampered ciphertext: Synced=False, a clear message, the Secret untouched.
    let mut lines: Vec<String> = sealed_strict.lines().map(str::to_string).collect();
    for line in lines.iter_mut() {
        if let Some(rest) = line.strip_prefix("    password: ") {
            let mut bytes = rest.as_bytes().to_vec();
            let middle = bytes.len() / 2;
            bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
            *line = format!("    password: {}", String::from_utf8(bytes).expect("ascii"));
        }
    }
    harness.commit(
        &[(
            "secrets/app-credentials.yaml",
            Some(&(lines.join("\n") + "\n")),
        )],
        "tamper",
    );
    let condition = synced_condition(&harness, "app-credentials", "False").await;
    let message = condition["message"].as_str().unwrap_or("");
    assert!(
        message.contains("password") && message.contains("cannot be unsealed"),
        "{message}"
    );
    assert!(!message.contains("S3cr3t"), "no plaintext in the message");
    let unchanged = harness
        .get("v1", "Secret", Some("demo"), "app-credentials")
        .await
        .expect("secret");
    assert_eq!(
        unchanged["data"], expected["data"],
        "a failed unseal leaves the Secret alone"
    );
    let application = harness
        .wait_app("secrets", "the Degraded SealedSecret", |application| {
            application["status"]["health"]["status"] == "Degraded"
        })
        .await;
    assert!(
        application["status"]["health"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("SealedSecret"),
        "{}",
        application["status"]["health"]
    );

    // Back to the good ciphertext; then rotate: the old SealedSecret still unseals.
    harness.commit(
        &[("secrets/app-credentials.yaml", Some(&sealed_strict))],
        "untamper",
    );
    synced_condition(&harness, "app-credentials", "True").await;
    let new_key = unsealer.rotate().await.expect("rotation");
    assert!(new_key.starts_with("sealed-secrets-key"), "{new_key}");
    assert_ne!(
        unsealer.certificate_pem().expect("cert"),
        original_certificate,
        "the newest key's certificate is served"
    );
    assert!(
        harness
            .get("v1", "Secret", Some("kube-system"), &new_key)
            .await
            .is_some(),
        "the new key is a Secret in the Bitnami layout"
    );
    assert!(
        harness
            .get(
                "v1",
                "Secret",
                Some("kube-system"),
                "sealed-secrets-keytest1"
            )
            .await
            .is_some(),
        "old keys are kept"
    );
    harness
        .delete("v1", "Secret", Some("demo"), "app-credentials")
        .await;
    harness
        .edit(
            "bitnami.com/v1alpha1",
            "SealedSecret",
            Some("demo"),
            "app-credentials",
            json!({"metadata": {"annotations": {"touched": "1"}}}),
        )
        .await;
    harness
        .wait_object(
            "v1",
            "Secret",
            Some("demo"),
            "app-credentials",
            "the Secret unsealed again after rotation",
            |object| object.is_some_and(|object| object["data"] == expected["data"]),
        )
        .await;
    // Resealing for the new key keeps the values.
    let resealed = unsealer.reseal(&sealed).expect("reseal");
    assert_ne!(
        resealed["spec"]["encryptedData"]["password"],
        sealed["spec"]["encryptedData"]["password"]
    );
    unsealer
        .verify(&resealed)
        .expect("the resealed SealedSecret verifies");

    // An unmanaged Secret with the SealedSecret's name is never overwritten.
    harness.apply(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "taken", "namespace": "demo"}, "stringData": {"mine": "keep"}})).await;
    // A strict-scope value does not unseal under another name …
    harness.apply(&json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "renamed", "namespace": "demo"}, "spec": resealed["spec"]})).await;
    let condition = synced_condition(&harness, "renamed", "False").await;
    assert!(
        condition["message"]
            .as_str()
            .unwrap_or("")
            .contains("strict `demo/renamed`"),
        "{condition}"
    );
    assert!(harness
        .get("v1", "Secret", Some("demo"), "renamed")
        .await
        .is_none());
    // … and a cluster-wide one that does unseal never overwrites an unmanaged Secret.
    let mut cluster_wide = documents(&data_file("sealedsecret-cluster-wide.yaml")).remove(0);
    cluster_wide["metadata"]["name"] = json!("taken");
    cluster_wide["metadata"]["namespace"] = json!("demo");
    harness.apply(&cluster_wide).await;
    let condition = synced_condition(&harness, "taken", "False").await;
    assert!(
        condition["message"]
            .as_str()
            .unwrap_or("")
            .contains("not managed by SealedSecret"),
        "{condition}"
    );
    let kept = harness
        .get("v1", "Secret", Some("demo"), "taken")
        .await
        .expect("secret");
    assert_eq!(kept["data"]["mine"], "a2VlcA==");
    harness.stop().await;
}
