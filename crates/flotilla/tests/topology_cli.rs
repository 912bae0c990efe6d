//! `flotilla topology` run as a command on the bundled example: its dev environment (a
//! directory of kustomizations: Kafka topics and users, the MQ queue manager, the applications)
//! with the example's AsyncAPI document and schemas, as JSON and as DOT; the app-of-apps from
//! its root Application, objects owned by their Argo CD Applications; errors.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/inventory")
}

fn topology(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .arg("topology")
        .args(arguments)
        .output()
        .expect("flotilla runs")
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn has_edge(graph: &Value, kind: &str, from: &str, to: &str) -> Option<Value> {
    graph["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|edge| edge["kind"] == kind && edge["from"] == from && edge["to"] == to)
        .map(|edge| edge["labels"].clone())
}

fn node<'a>(graph: &'a Value, id: &str) -> Option<&'a Value> {
    graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|node| node["id"] == id)
}

#[test]
fn the_dev_environment_as_json() {
    let dev = example().join("environments/dev");
    let output = topology(&[dev.to_str().expect("UTF-8 path"), "-o", "json"]);
    let text = succeeded(&output);
    assert!(
        output.stderr.is_empty(),
        "no warnings on the bundled example: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let graph: Value = serde_json::from_str(&text).expect("JSON");
    assert!(graph.get("warnings").is_none());
    // Every edge joins two nodes.
    let ids: BTreeSet<&str> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|node| node["id"].as_str())
        .collect();
    for edge in graph["edges"].as_array().expect("edges") {
        assert!(
            ids.contains(edge["from"].as_str().unwrap_or_default()),
            "{edge}"
        );
        assert!(
            ids.contains(edge["to"].as_str().unwrap_or_default()),
            "{edge}"
        );
    }
    // Topics, users, the queue manager and its queues, the applications.
    for id in [
        "kafka:events",
        "topic:events/items",
        "topic:events/stores",
        "topic:events/item.inventory",
        "topic:events/store.inventory",
        "user:store-simulator",
        "user:item-aggregator",
        "user:store-aggregator",
        "queue-manager:replenishment",
        "queue:replenishment/STORE.REPLENISHMENT",
        "queue:replenishment/STORE.REPLENISHMENT.DLQ",
        "application:store-simulator",
        "application:item-aggregator",
        "application:store-aggregator",
        "schema:items-value",
    ] {
        assert!(node(&graph, id).is_some(), "no node {id} in {text}");
    }
    assert_eq!(
        node(&graph, "topic:events/item.inventory").expect("topic")["labels"]["cleanup.policy"],
        "compact"
    );
    assert_eq!(
        node(&graph, "queue-manager:replenishment").expect("queue manager")["labels"]
            ["queueManager"],
        "REPLQM"
    );
    // Producers and consumers from the AsyncAPI document and the users' ACLs.
    let produces = has_edge(
        &graph,
        "produces",
        "application:store-simulator",
        "topic:events/items",
    )
    .expect("store-simulator produces items");
    assert_eq!(produces["source"], "acl,asyncapi");
    assert_eq!(produces["document"], "examples/inventory/asyncapi.yaml");
    let consumes = has_edge(
        &graph,
        "consumes",
        "application:item-aggregator",
        "topic:events/items",
    )
    .expect("item-aggregator consumes items");
    assert_eq!(consumes["groups"], "item-aggregator");
    assert!(has_edge(
        &graph,
        "produces",
        "application:store-aggregator",
        "queue:replenishment/STORE.REPLENISHMENT"
    )
    .is_some());
    assert!(has_edge(
        &graph,
        "runs-as",
        "application:store-simulator",
        "user:store-simulator"
    )
    .is_some());
    assert_eq!(
        has_edge(&graph, "acl", "user:store-simulator", "topic:events/items").expect("ACL")
            ["operations"],
        "Describe,Write"
    );
    let schema = has_edge(
        &graph,
        "uses-schema",
        "topic:events/items",
        "schema:items-value",
    )
    .expect("items uses its value schema");
    assert_eq!(schema["role"], "value");
    assert_eq!(
        node(&graph, "schema:items-value").expect("schema")["labels"]["files"],
        "examples/inventory/schemas/items-value.avsc"
    );
    assert!(has_edge(
        &graph,
        "hosts",
        "queue-manager:replenishment",
        "queue:replenishment/STORE.REPLENISHMENT"
    )
    .is_some());
}

#[test]
fn the_dev_environment_as_dot() {
    let dev = example().join("environments/dev");
    let output = topology(&[dev.to_str().expect("UTF-8 path"), "-o", "dot"]);
    let text = succeeded(&output);
    assert!(text.starts_with("digraph topology {\n"), "{text}");
    assert!(text.ends_with("}\n"), "{text}");
    for line in [
        "  \"topic:events/items\" [label=\"items\\ntopic\", shape=cds];",
        "  \"application:store-simulator\" -> \"topic:events/items\" [label=\"produces\"];",
        // Reads are drawn from the topic to the reader.
        "  \"topic:events/items\" -> \"application:item-aggregator\" [label=\"consumes\"];",
        "  \"queue-manager:replenishment\" -> \"queue:replenishment/STORE.REPLENISHMENT\" [label=\"hosts\", style=dotted];",
    ] {
        assert!(text.contains(line), "no `{line}` in\n{text}");
    }
    // Every statement line is balanced: an even number of unescaped quotes.
    for line in text.lines() {
        let quotes = line.replace("\\\"", "").matches('"').count();
        assert_eq!(quotes % 2, 0, "unbalanced: {line}");
    }
    // Graphviz reads it, when installed.
    if let Ok(child) = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        let mut child = child;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
        let output = child.wait_with_output().expect("dot runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn the_app_of_apps_owns_its_objects() {
    let bootstrap = example().join("bootstrap");
    let output = topology(&[bootstrap.to_str().expect("UTF-8 path")]);
    let graph: Value = serde_json::from_str(&succeeded(&output)).expect("JSON");
    for (id, owner) in [
        ("topic:inventory-dev/events/items", "kafka-dev"),
        ("topic:inventory-staging/events/items", "kafka-staging"),
        ("application:inventory-dev/store-simulator", "apps-dev"),
        (
            "queue:inventory-staging/replenishment/STORE.REPLENISHMENT",
            "mq-staging",
        ),
    ] {
        let node = node(&graph, id).unwrap_or_else(|| panic!("no node {id}"));
        assert_eq!(node["labels"]["argocd"], owner, "{node}");
    }
    // Staging's overlay: six partitions.
    assert_eq!(
        node(&graph, "topic:inventory-staging/events/items").expect("topic")["labels"]
            ["partitions"],
        "6"
    );
    // The document's producers reach both environments' topics.
    assert!(has_edge(
        &graph,
        "produces",
        "application:inventory-staging/store-simulator",
        "topic:inventory-staging/events/items"
    )
    .is_some());
}

#[test]
fn a_missing_path_is_an_error() {
    let output = topology(&["does/not/exist"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: `does/not/exist` does not exist"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
}
