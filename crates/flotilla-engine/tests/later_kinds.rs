//! Kinds that arrive later, end to end against the embedded API server: an Application with an
//! object of a kind the cluster does not serve waits for it, saying so (a `ComparisonError`
//! naming the kind and the object, OutOfSync and Missing, nothing applied, never its last
//! status), and syncs once the kind's CRD is created; a requested sync of it ends with that
//! reason; with a server that accepts unknown kinds (`accept_unknown_kinds`) the object is
//! written in its wave and the server registers the kind. The engine's question about that
//! (`Cluster::accepts_unknown_kinds`) is answered right by both servers and registers nothing.

mod common;

use common::*;
use serde_json::{json, Value};

const SETTINGS: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n";

/// Labelled for its cluster: the pre-sync gate blocks a KafkaTopic no operator would see.
const TOPIC: &str = "apiVersion: eventstreams.ibm.com/v1beta2\nkind: KafkaTopic\nmetadata:\n  name: orders\n  labels:\n    eventstreams.ibm.com/cluster: events\nspec:\n  partitions: 3\n  replicas: 1\n";

/// The definition an Event Streams operator would install.
const TOPIC_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: kafkatopics.eventstreams.ibm.com
spec:
  group: eventstreams.ibm.com
  names: {kind: KafkaTopic, listKind: KafkaTopicList, plural: kafkatopics, singular: kafkatopic}
  scope: Namespaced
  versions:
  - name: v1beta2
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

const WAITING: &str =
    "KafkaTopic/orders: waiting for eventstreams.ibm.com/v1beta2 KafkaTopic to be served; the Application syncs as soon as it is.";

fn waiting_condition(application: &Value) -> Option<String> {
    application["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| {
            condition["type"] == "ComparisonError"
                && condition["message"]
                    .as_str()
                    .is_some_and(|message| message.starts_with(WAITING))
        })
        .and_then(|condition| condition["message"].as_str())
        .map(str::to_string)
}

fn resource<'a>(application: &'a Value, kind: &str) -> &'a Value {
    application["status"]["resources"]
        .as_array()
        .and_then(|resources| resources.iter().find(|resource| resource["kind"] == kind))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_waits_for_a_kind_and_syncs_once_its_crd_is_created() {
    let harness = Harness::start("later-kind", &[("events/settings.yaml", SETTINGS)]).await;
    assert!(
        !harness.cluster.accepts_unknown_kinds().await,
        "the default server refuses unknown kinds"
    );
    harness
        .apply(&app_manifest(
            "events",
            "events",
            "streams",
            json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;
    harness
        .wait_app("events", "the first commit synced", synced_and_healthy)
        .await;

    // The next commit brings a topic of a kind no one serves yet, and changes the settings.
    let commit = harness.commit(
        &[
            ("events/topic.yaml", Some(TOPIC)),
            (
                "events/settings.yaml",
                Some(&SETTINGS.replace("mode: fast", "mode: safe")),
            ),
        ],
        "a topic",
    );
    let waiting = harness
        .wait_app(
            "events",
            "the Application to wait for the kind",
            |application| {
                application["status"]["sync"]["revision"] == commit.as_str()
                    && waiting_condition(application).is_some()
            },
        )
        .await;
    let message = waiting_condition(&waiting).unwrap_or_default();
    assert!(message.contains("install its CRD"), "{message}");
    // Honest: the new revision, OutOfSync, the topic Missing; not the last Synced/Healthy.
    assert_eq!(waiting["status"]["sync"]["status"], "OutOfSync");
    assert_eq!(waiting["status"]["health"]["status"], "Missing");
    let topic = resource(&waiting, "KafkaTopic");
    assert_eq!(topic["status"], "OutOfSync", "{topic}");
    assert_eq!(topic["health"]["status"], "Missing", "{topic}");
    // Nothing of the new commit is applied while it waits.
    let settings = harness
        .get("v1", "ConfigMap", Some("streams"), "settings")
        .await
        .expect("settings of the first commit");
    assert_eq!(settings["data"]["mode"], "fast");

    // The operator's CRD arrives: the Application syncs the whole commit.
    let crd =
        flotilla_core::to_json(&flotilla_core::parse_single_document(TOPIC_CRD).expect("CRD"));
    harness.apply(&crd).await;
    let synced = harness
        .wait_app(
            "events",
            "the Application synced once the kind is served",
            |application| {
                synced_and_healthy(application)
                    && application["status"]["sync"]["revision"] == commit.as_str()
            },
        )
        .await;
    assert!(waiting_condition(&synced).is_none(), "{}", synced["status"]);
    let topic = harness
        .get(
            "eventstreams.ibm.com/v1beta2",
            "KafkaTopic",
            Some("streams"),
            "orders",
        )
        .await
        .expect("topic created");
    assert_eq!(topic["spec"]["partitions"], 3);
    let settings = harness
        .get("v1", "ConfigMap", Some("streams"), "settings")
        .await
        .expect("settings");
    assert_eq!(settings["data"]["mode"], "safe");
    // The watch of definitions stops with the engine, as every other task.
    harness.engine.shutdown();
    let deadline = std::time::Instant::now() + DEADLINE;
    while harness.engine.state_references() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} tasks still hold the engine's state after its shutdown",
            harness.engine.state_references()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_sync_of_a_waiting_application_ends_with_the_reason() {
    let harness = Harness::start(
        "later-kind-requested",
        &[
            ("events/settings.yaml", SETTINGS),
            ("events/topic.yaml", TOPIC),
        ],
    )
    .await;
    let mut application = app_manifest(
        "events",
        "events",
        "default",
        json!({"syncOptions": ["CreateNamespace=true"]}),
    );
    harness.apply(&application).await;
    harness
        .wait_app(
            "events",
            "the Application to wait for the kind",
            |application| waiting_condition(application).is_some(),
        )
        .await;
    application["operation"] =
        json!({"sync": {"revision": "main"}, "initiatedBy": {"username": "test"}});
    harness.apply(&application).await;
    let ended = harness
        .wait_app("events", "the requested sync to end", |application| {
            application["status"]["operationState"]["phase"] == "Error"
        })
        .await;
    let message = ended["status"]["operationState"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(message.starts_with(WAITING), "{message}");
    assert!(ended["operation"].is_null(), "the operation is cleared");
    assert!(
        harness
            .get("v1", "ConfigMap", Some("default"), "settings")
            .await
            .is_none(),
        "nothing applied"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_accepts_unknown_kinds_is_written_to_in_the_objects_wave() {
    let later_topic = TOPIC.replace(
        "  name: orders\n",
        "  name: orders\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\n",
    );
    let harness = Harness::start_serving(
        "later-kind-accepted",
        &[
            ("events/settings.yaml", SETTINGS),
            ("events/topic.yaml", &later_topic),
        ],
        |_| {},
        &[],
        |server| server.accept_unknown_kinds = true,
    )
    .await;
    assert!(harness.cluster.accepts_unknown_kinds().await);
    harness
        .apply(&app_manifest(
            "events",
            "events",
            "streams",
            json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}),
        ))
        .await;
    let synced = harness
        .wait_app("events", "the unknown kind synced", synced_and_healthy)
        .await;
    assert!(waiting_condition(&synced).is_none(), "{}", synced["status"]);
    assert_eq!(resource(&synced, "KafkaTopic")["status"], "Synced");
    let topic = harness
        .get(
            "eventstreams.ibm.com/v1beta2",
            "KafkaTopic",
            Some("streams"),
            "orders",
        )
        .await
        .expect("topic written");
    assert_eq!(topic["spec"]["partitions"], 3);
    // The server registered the kind on that write; the engine's question registered nothing.
    let definitions = harness
        .get(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            "kafkatopics.eventstreams.ibm.com",
        )
        .await
        .expect("the kind registered");
    assert_eq!(
        definitions["metadata"]["annotations"]["flotilla.dev/accepted-unknown-kind"],
        "true"
    );
    assert!(harness
        .get(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            "probes.accept-unknown-kinds.flotilla.dev",
        )
        .await
        .is_none());
    harness.stop().await;
}
