//! The pre-sync gate end to end against the embedded API server: a synced Strimzi-topic
//! Application; a commit lowering a topic's partitions is not applied (live partitions
//! unchanged, a `GuardrailViolation` condition naming the rule, a failed operation naming the
//! rule, object and field, an Event and the findings metric); the same commit with
//! `flotilla.dev/allow` on the topic is applied, the override shown on the status; a warning
//! (partitions increased) is applied and recorded; a requested sync is gated as an automated one
//! is, and `app diff`'s preview shows the finding first; a commit removing a KafkaTopic with
//! automated prune keeps the topic and says why.

mod common;

use common::*;
use serde_json::{json, Value};

/// The KafkaTopic definition, without the operator's schema (the rules read the objects).
fn topic_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "kafkatopics.kafka.strimzi.io"},
        "spec": {
            "group": "kafka.strimzi.io",
            "names": {"kind": "KafkaTopic", "listKind": "KafkaTopicList", "plural": "kafkatopics", "singular": "kafkatopic"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1beta2",
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    })
}

fn topic(name: &str, partitions: u32, allow: Option<&str>) -> String {
    let annotations = allow
        .map(|rules| format!("  annotations:\n    flotilla.dev/allow: {rules}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\nmetadata:\n  name: {name}\n{annotations}  labels:\n    strimzi.io/cluster: events\nspec:\n  partitions: {partitions}\n  replicas: 1\n"
    )
}

const KUSTOMIZATION: &str = "resources:\n- orders.yaml\n- payments.yaml\n";

const DECREASED: &str = "kafka-topic-partitions-decreased";
const INCREASED: &str = "kafka-topic-partitions-increased";
const REMOVED: &str = "kafka-topic-removed";

fn conditions<'a>(application: &'a Value, kind: &'a str) -> Vec<&'a str> {
    application["status"]["conditions"]
        .as_array()
        .map(|conditions| {
            conditions
                .iter()
                .filter(|condition| condition["type"] == kind)
                .filter_map(|condition| condition["message"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

async fn partitions(harness: &Harness, name: &str) -> Value {
    harness
        .get(
            "kafka.strimzi.io/v1beta2",
            "KafkaTopic",
            Some("kafka"),
            name,
        )
        .await
        .map(|topic| topic["spec"]["partitions"].clone())
        .unwrap_or(Value::Null)
}

async fn events_with_reason(harness: &Harness, reason: &str) -> Vec<Value> {
    let info = harness.info("v1", "Event").await;
    let list = harness
        .cluster
        .list(&info, Some("argocd"), &Default::default())
        .await
        .expect("events");
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|event| event["reason"] == reason)
        .collect()
}

async fn start(label: &str, sync_policy: Value) -> Harness {
    let harness = Harness::start_prepared(
        label,
        &[
            ("events/kustomization.yaml", KUSTOMIZATION),
            ("events/orders.yaml", &topic("orders", 6, None)),
            ("events/payments.yaml", &topic("payments", 3, None)),
        ],
        |_| {},
        &[topic_crd()],
    )
    .await;
    harness
        .apply(&app_manifest("events", "events", "kafka", sync_policy))
        .await;
    harness
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_decrease_is_blocked_until_the_topic_allows_it() {
    let harness = start(
        "guardrails-partitions",
        json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    harness
        .wait_app("events", "the first sync", synced_and_healthy)
        .await;

    // Lowering `orders` from 6 to 3 partitions: nothing is applied.
    let lowered = harness.commit(
        &[("events/orders.yaml", Some(&topic("orders", 3, None)))],
        "fewer partitions",
    );
    let application = harness
        .wait_app("events", "the blocked sync", |application| {
            application["status"]["operationState"]["syncResult"]["revision"] == json!(lowered)
                && application["status"]["operationState"]["phase"] == "Failed"
                && !conditions(application, "GuardrailViolation").is_empty()
        })
        .await;
    let status = &application["status"];
    let message = status["operationState"]["message"].as_str().unwrap_or("");
    for part in [DECREASED, "KafkaTopic", "kafka/orders", "spec.partitions"] {
        assert!(message.contains(part), "`{part}` in {message}");
    }
    let violation = conditions(&application, "GuardrailViolation");
    assert_eq!(violation.len(), 1, "{violation:?}");
    assert!(violation[0].contains(DECREASED), "{}", violation[0]);
    assert!(
        violation[0].contains("flotilla.dev/allow"),
        "says how to override: {}",
        violation[0]
    );
    let blocked_entry = status["operationState"]["syncResult"]["resources"]
        .as_array()
        .and_then(|entries| entries.iter().find(|entry| entry["name"] == "orders"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(blocked_entry["status"], "SyncFailed", "{blocked_entry}");
    assert_eq!(status["sync"]["status"], "OutOfSync");
    assert_eq!(partitions(&harness, "orders").await, json!(6));
    assert!(harness.engine.metrics_text().contains(&format!(
        "flotilla_guardrail_findings_total{{rule=\"{DECREASED}\",severity=\"block\"}}"
    )));
    let events = events_with_reason(&harness, "GuardrailViolation").await;
    assert!(
        events
            .iter()
            .any(|event| event["involvedObject"]["name"] == "events"
                && event["type"] == "Warning"
                && event["message"]
                    .as_str()
                    .is_some_and(|message| message.contains(DECREASED))),
        "{events:?}"
    );
    // Still not applied a while later (retries are gated too), and the condition stays.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(partitions(&harness, "orders").await, json!(6));
    assert_eq!(
        conditions(&harness.application("events").await, "GuardrailViolation").len(),
        1
    );

    // The same change with the override on the topic is applied; the override is shown.
    let allowed = harness.commit(
        &[(
            "events/orders.yaml",
            Some(&topic("orders", 3, Some(DECREASED))),
        )],
        "fewer partitions, allowed",
    );
    let application = harness
        .wait_app("events", "the allowed sync", |application| {
            application["status"]["sync"]["revision"] == json!(allowed)
                && application["status"]["operationState"]["phase"] == "Succeeded"
                && synced_and_healthy(application)
        })
        .await;
    assert_eq!(partitions(&harness, "orders").await, json!(3));
    assert!(conditions(&application, "GuardrailViolation").is_empty());
    let warnings = conditions(&application, "GuardrailWarning");
    assert!(
        warnings
            .iter()
            .any(|warning| warning.contains(DECREASED) && warning.contains("overridden")),
        "{warnings:?}"
    );
    assert!(harness.engine.metrics_text().contains(&format!(
        "flotilla_guardrail_findings_total{{rule=\"{DECREASED}\",severity=\"overridden\"}} 1"
    )));

    // A warning does not stop the sync: it is applied, on the status and in an Event.
    let increased = harness.commit(
        &[("events/payments.yaml", Some(&topic("payments", 4, None)))],
        "more partitions",
    );
    let application = harness
        .wait_app("events", "the warned sync", |application| {
            application["status"]["sync"]["revision"] == json!(increased)
                && application["status"]["operationState"]["phase"] == "Succeeded"
                && synced_and_healthy(application)
        })
        .await;
    assert_eq!(partitions(&harness, "payments").await, json!(4));
    let warnings = conditions(&application, "GuardrailWarning");
    assert!(
        warnings
            .iter()
            .any(|warning| warning.contains(INCREASED) && warning.contains("kafka/payments")),
        "{warnings:?}"
    );
    assert!(!events_with_reason(&harness, "GuardrailWarning")
        .await
        .is_empty());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_sync_is_gated_too() {
    let harness = start(
        "guardrails-requested",
        json!({"syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    let info = harness.info("argoproj.io/v1alpha1", "Application").await;
    let request =
        json!({"operation": {"sync": {"prune": true}, "initiatedBy": {"username": "alice"}}});
    harness
        .cluster
        .merge_patch(&info, Some("argocd"), "events", &request)
        .await
        .expect("request the first sync");
    harness
        .wait_app("events", "the first sync", |application| {
            application["status"]["operationState"]["phase"] == "Succeeded"
                && application["operation"].is_null()
                && synced_and_healthy(application)
        })
        .await;
    harness.commit(
        &[("events/orders.yaml", Some(&topic("orders", 2, None)))],
        "fewer partitions",
    );
    harness
        .wait_app("events", "the new revision, out of sync", |application| {
            application["status"]["sync"]["status"] == "OutOfSync"
        })
        .await;
    // `flotilla app diff` shows what the gate would say.
    let preview = harness
        .engine
        .preview("argocd", "events")
        .await
        .expect("preview");
    assert!(preview.guardrails.blocks());
    assert!(preview.render().contains(DECREASED), "{}", preview.render());
    harness
        .cluster
        .merge_patch(&info, Some("argocd"), "events", &request)
        .await
        .expect("request a sync");
    let application = harness
        .wait_app("events", "the blocked requested sync", |application| {
            application["status"]["operationState"]["phase"] == "Failed"
                && application["operation"].is_null()
        })
        .await;
    let message = application["status"]["operationState"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(message.contains(DECREASED), "{message}");
    assert_eq!(
        application["status"]["operationState"]["operation"]["initiatedBy"]["username"],
        "alice"
    );
    assert_eq!(conditions(&application, "GuardrailViolation").len(), 1);
    assert_eq!(partitions(&harness, "orders").await, json!(6));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_removed_from_git_with_prune_is_kept_and_the_status_says_why() {
    let harness = start(
        "guardrails-removed",
        json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    harness
        .wait_app("events", "the first sync", synced_and_healthy)
        .await;
    let removed = harness.commit(
        &[
            ("events/payments.yaml", None),
            (
                "events/kustomization.yaml",
                Some("resources:\n- orders.yaml\n"),
            ),
        ],
        "remove payments",
    );
    let application = harness
        .wait_app("events", "the blocked prune", |application| {
            application["status"]["operationState"]["syncResult"]["revision"] == json!(removed)
                && application["status"]["operationState"]["phase"] == "Failed"
        })
        .await;
    let violation = conditions(&application, "GuardrailViolation");
    assert!(
        violation
            .iter()
            .any(|message| message.contains(REMOVED) && message.contains("kafka/payments")),
        "{violation:?}"
    );
    let message = application["status"]["operationState"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(message.contains(REMOVED), "{message}");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(
        partitions(&harness, "payments").await,
        json!(3),
        "the topic is kept"
    );
    harness.stop().await;
}

/// Waits for the sync of `revision` to fail on the `events` Application and returns its
/// guardrail violations.
async fn blocked_schema_change(harness: &Harness, revision: &str) -> Vec<String> {
    let application = harness
        .wait_app("events", "the blocked schema change", |application| {
            application["status"]["operationState"]["syncResult"]["revision"] == json!(revision)
                && application["status"]["operationState"]["phase"] == "Failed"
        })
        .await;
    conditions(&application, "GuardrailViolation")
        .into_iter()
        .map(str::to_string)
        .collect()
}

const ORDER_V1: &str = r#"{"type": "record", "name": "Order", "fields": [{"name": "id", "type": "string"}, {"name": "qty", "type": "int"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_that_breaks_backward_stops_the_application_that_ships_it() {
    let harness = Harness::start_prepared(
        "guardrails-schema",
        &[
            ("events/kustomization.yaml", "resources:\n- orders.yaml\n"),
            ("events/orders.yaml", &topic("orders", 6, None)),
            ("events/schemas/orders-value.avsc", ORDER_V1),
        ],
        |_| {},
        &[topic_crd()],
    )
    .await;
    harness
        .apply(&app_manifest(
            "events",
            "events",
            "kafka",
            json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;
    harness
        .wait_app("events", "the first sync", synced_and_healthy)
        .await;
    // `qty` becomes a string (old data cannot be read) and the topic changes in the same commit.
    let breaking = harness.commit(
        &[
            (
                "events/schemas/orders-value.avsc",
                Some(&ORDER_V1.replace(r#""qty", "type": "int""#, r#""qty", "type": "string""#)),
            ),
            ("events/orders.yaml", Some(&topic("orders", 8, None))),
        ],
        "qty as a string",
    );
    let violation = blocked_schema_change(&harness, &breaking).await;
    assert!(
        violation
            .iter()
            .any(|message| message.contains("schema-incompatible") && message.contains("qty")),
        "{violation:?}"
    );
    assert_eq!(
        partitions(&harness, "orders").await,
        json!(6),
        "nothing of the commit is applied"
    );
    // A compatible change (a new field with a default) syncs.
    let compatible = harness.commit(
        &[(
            "events/schemas/orders-value.avsc",
            Some(&ORDER_V1.replace(
                r#"{"name": "qty", "type": "int"}"#,
                r#"{"name": "qty", "type": "int"}, {"name": "store", "type": "string", "default": "none"}"#,
            )),
        )],
        "a defaulted field",
    );
    harness
        .wait_app("events", "the compatible change", |application| {
            application["status"]["sync"]["revision"] == json!(compatible)
                && synced_and_healthy(application)
        })
        .await;
    assert_eq!(partitions(&harness, "orders").await, json!(8));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transitive_level_stops_a_change_that_only_an_older_version_rejects() {
    let first_version =
        r#"{"type": "record", "name": "Order", "fields": [{"name": "id", "type": "string"}]}"#;
    let harness = Harness::start_prepared(
        "guardrails-transitive",
        &[
            ("events/kustomization.yaml", "resources:\n- orders.yaml\n"),
            ("events/orders.yaml", &topic("orders", 6, None)),
            ("events/schemas/orders-value.avsc", first_version),
            (
                "events/schemas/compatibility.yaml",
                "default: BACKWARD_TRANSITIVE\n",
            ),
        ],
        |_| {},
        &[topic_crd()],
    )
    .await;
    harness
        .apply(&app_manifest(
            "events",
            "events",
            "kafka",
            json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;
    let application = harness
        .wait_app("events", "the first sync", synced_and_healthy)
        .await;
    let first = application["status"]["sync"]["revision"]
        .as_str()
        .expect("a revision")
        .to_string();
    // A defaulted field: compatible with every version.
    let with_default = first_version.replace(
        r#"{"name": "id", "type": "string"}"#,
        r#"{"name": "id", "type": "string"}, {"name": "qty", "type": "int", "default": 0}"#,
    );
    // With an object changed too, so that a sync (and a history entry, which the gate compares
    // with) records the commit.
    let second = harness.commit(
        &[
            ("events/schemas/orders-value.avsc", Some(&with_default)),
            ("events/orders.yaml", Some(&topic("orders", 7, None))),
        ],
        "qty with a default",
    );
    harness
        .wait_app("events", "the compatible change", |application| {
            application["status"]["sync"]["revision"] == json!(second)
                && synced_and_healthy(application)
        })
        .await;
    // The default dropped: the previous version's data is still readable, the first's is not.
    let breaking = harness.commit(
        &[
            (
                "events/schemas/orders-value.avsc",
                Some(&with_default.replace(r#", "default": 0"#, "")),
            ),
            ("events/orders.yaml", Some(&topic("orders", 8, None))),
        ],
        "qty without a default",
    );
    let violation = blocked_schema_change(&harness, &breaking).await;
    assert!(
        violation
            .iter()
            .any(|message| message.contains("schema-incompatible")
                && message.contains(&format!("(at {})", &first[..8]))
                && message.contains("qty")),
        "names the first version: {violation:?}"
    );
    assert_eq!(
        partitions(&harness, "orders").await,
        json!(7),
        "nothing of the commit is applied"
    );
    harness.stop().await;
}
