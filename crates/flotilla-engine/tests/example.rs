//! The bundled example solution (`examples/inventory`), end to end in an embedded OpenShift:
//! the root Application syncs the app-of-apps in waves (project, the operators through OLM
//! Subscriptions from their catalogs, Kafka and MQ operands validated by the operators' CRDs,
//! then the applications), every child Application becomes Synced and Healthy, and the objects
//! of both environments exist with their overlays applied.

mod common;

use std::path::Path;

use common::*;
use serde_json::json;

fn copy_tree(from: &Path, to: &Path, files: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(from).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, to, files);
        } else {
            let relative = path
                .strip_prefix(to)
                .expect("under the root")
                .to_string_lossy()
                .into_owned();
            files.push((relative, std::fs::read_to_string(&path).expect("text file")));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_solution_syncs_as_an_app_of_apps() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/inventory");
    let mut files = Vec::new();
    copy_tree(&example, &example, &mut files);
    let file_refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(path, text)| (path.as_str(), text.as_str()))
        .collect();
    let harness = Harness::start_serving(
        "example",
        &file_refs,
        |config| {
            let repository = config.repo_mirrors[0].1.clone();
            config.repo_mirrors = vec![(
                "https://github.com/flotilla-dev/inventory-demo.git".into(),
                repository,
            )];
        },
        &[],
        |server| server.openshift = Some(Default::default()),
    )
    .await;
    let root_text =
        std::fs::read_to_string(example.join("bootstrap/root-app.yaml")).expect("root app");
    let root =
        flotilla_core::to_json(&flotilla_core::parse_single_document(&root_text).expect("YAML"));
    harness.apply(&root).await;
    for name in [
        "inventory-operators",
        "kafka-dev",
        "mq-dev",
        "apps-dev",
        "kafka-staging",
        "mq-staging",
        "apps-staging",
        "inventory",
    ] {
        harness.wait_app(name, name, synced_and_healthy).await;
    }
    let topic = harness
        .get(
            "kafka.strimzi.io/v1beta2",
            "KafkaTopic",
            Some("inventory-staging"),
            "items",
        )
        .await
        .expect("staging topic");
    assert_eq!(
        topic["spec"]["partitions"], 6,
        "the staging JSON patch applied"
    );
    let aggregator = harness
        .get(
            "apps/v1",
            "Deployment",
            Some("inventory-staging"),
            "item-aggregator",
        )
        .await
        .expect("staging deployment");
    assert_eq!(aggregator["spec"]["replicas"], 2);
    assert_eq!(
        aggregator["spec"]["template"]["spec"]["containers"][0]["image"],
        "quay.io/flotilla-examples/item-aggregator:0.1.1"
    );
    let queue_manager = harness
        .get(
            "mq.ibm.com/v1beta1",
            "QueueManager",
            Some("inventory-dev"),
            "replenishment",
        )
        .await
        .expect("dev queue manager");
    assert_eq!(
        queue_manager["metadata"]["labels"]["inventory.flotilla.dev/environment"],
        "dev"
    );
    let root_status = harness.application("inventory").await["status"].clone();
    assert_eq!(root_status["resources"].as_array().map(Vec::len), Some(8));
    // The project restricts the environment Applications: each one is in `inventory`.
    let child = harness.application("apps-dev").await;
    assert_eq!(child["spec"]["project"], json!("inventory"));
    // The operators came from their catalogs.
    let strimzi = harness
        .get(
            "operators.coreos.com/v1alpha1",
            "Subscription",
            Some("openshift-operators"),
            "strimzi-kafka-operator",
        )
        .await
        .expect("strimzi subscription");
    assert_eq!(strimzi["status"]["state"], "AtLatestKnown");
    assert_eq!(
        strimzi["status"]["installedCSV"],
        "strimzi-cluster-operator.v0.45.2"
    );
    harness.stop().await;
}
