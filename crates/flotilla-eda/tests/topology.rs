//! Data-driven topology cases: `tests/topology/<case>/` holds `objects.yaml` (the rendered
//! objects, multi-document), optionally `files/` (repository files: AsyncAPI documents,
//! schemas, by their path under `files/`) and `owners.yaml` (object, as findings print it → Argo
//! CD Application), and `expected.json`: the graph `topology::build` gives, as JSON. A case may
//! also hold `expected.dot`. `FLOTILLA_BLESS=1` writes the expected files from the output (read
//! them before committing).

use std::collections::BTreeMap;

mod data_files;

use data_files::{case_directories, read_documents, read_tree};
use flotilla_eda::topology::{build, Sources};
use flotilla_eda::ObjectId;

#[test]
fn every_topology_case_gives_its_expected_graph() {
    let bless = std::env::var_os("FLOTILLA_BLESS").is_some();
    let mut failures = Vec::new();
    let cases = case_directories("topology");
    for case in &cases {
        let objects = read_documents(&case.join("objects.yaml"));
        let files = read_tree(&case.join("files"));
        let by_text: BTreeMap<String, String> = read_documents(&case.join("owners.yaml"))
            .into_iter()
            .next()
            .and_then(|owners| serde_json::from_value(owners).ok())
            .unwrap_or_default();
        let owners: BTreeMap<ObjectId, String> = objects
            .iter()
            .filter_map(ObjectId::of)
            .filter_map(|id| {
                by_text
                    .get(&id.to_string())
                    .map(|owner| (id, owner.clone()))
            })
            .collect();
        let topology = build(&Sources {
            objects: &objects,
            owners: &owners,
            files: &files,
            file_sets: &[],
        });
        let json = format!(
            "{}\n",
            serde_json::to_string_pretty(&topology.to_json()).expect("JSON")
        );
        let dot = topology.to_dot();
        let dot_path = case.join("expected.dot");
        if bless {
            std::fs::write(case.join("expected.json"), &json).expect("write expected.json");
            if dot_path.exists() {
                std::fs::write(&dot_path, &dot).expect("write expected.dot");
            }
            continue;
        }
        match std::fs::read_to_string(case.join("expected.json")) {
            Ok(expected) if expected == json => {}
            Ok(_) => failures.push(format!(
                "{}: the graph differs from expected.json:\n{json}",
                case.display()
            )),
            Err(error) => failures.push(format!("{}: expected.json: {error}", case.display())),
        }
        if let Ok(expected) = std::fs::read_to_string(&dot_path) {
            if expected != dot {
                failures.push(format!(
                    "{}: the DOT differs from expected.dot:\n{dot}",
                    case.display()
                ));
            }
        }
        // Every edge joins two nodes of the graph.
        let ids: std::collections::BTreeSet<&str> =
            topology.nodes.iter().map(|node| node.id.as_str()).collect();
        for edge in &topology.edges {
            if !ids.contains(edge.from.as_str()) || !ids.contains(edge.to.as_str()) {
                failures.push(format!(
                    "{}: edge {} {} → {} names a node the graph lacks",
                    case.display(),
                    edge.kind,
                    edge.from,
                    edge.to
                ));
            }
        }
    }
    eprintln!(
        "topology cases: {} checked, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(!cases.is_empty(), "no cases under tests/topology");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Files given as file sets (the web's live topology: each Application's files at its synced
/// commit) give the graph the same files give, with what each file says owned by the
/// Applications whose sources hold it; a file two sets hold is owned by both.
#[test]
fn file_sets_own_what_their_files_say() {
    use flotilla_eda::topology::FileSet;
    use std::collections::BTreeSet;

    let case =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/topology/asyncapi-apps");
    let objects = read_documents(&case.join("objects.yaml"));
    let files = read_tree(&case.join("files"));
    let owners = BTreeMap::new();
    let plain = build(&Sources {
        objects: &objects,
        owners: &owners,
        files: &files,
        file_sets: &[],
    });
    let owned_by = |names: &[&str]| -> BTreeMap<String, BTreeSet<String>> {
        files
            .keys()
            .map(|path| {
                (
                    path.clone(),
                    names.iter().map(|name| name.to_string()).collect(),
                )
            })
            .collect()
    };
    let sets = [
        FileSet {
            files: files.clone(),
            owners: owned_by(&["shop"]),
        },
        // The same repository at another commit, synced by another Application.
        FileSet {
            files: files.clone(),
            owners: owned_by(&["shop-staging"]),
        },
    ];
    let empty = BTreeMap::new();
    let owned = build(&Sources {
        objects: &objects,
        owners: &owners,
        files: &empty,
        file_sets: &sets[..1],
    });
    // The same nodes and edges, each read from a file now labelled with its owner.
    let strip = |topology: &flotilla_eda::topology::Topology| {
        let mut topology = topology.clone();
        for node in &mut topology.nodes {
            node.labels.remove("argocd");
        }
        for edge in &mut topology.edges {
            edge.labels.remove("argocd");
        }
        topology
    };
    assert_eq!(strip(&owned), strip(&plain));
    let schema = owned
        .nodes
        .iter()
        .find(|node| node.id == "schema:orders-value")
        .expect("the schema node");
    assert_eq!(schema.labels["argocd"], "shop");
    let from_document: Vec<_> = owned
        .edges
        .iter()
        .filter(|edge| edge.labels.get("source").map(String::as_str) == Some("asyncapi"))
        .collect();
    assert!(!from_document.is_empty());
    assert!(from_document
        .iter()
        .all(|edge| edge.labels["argocd"] == "shop"));
    // The topic comes from an object: no file owns it.
    assert!(owned
        .nodes
        .iter()
        .any(|node| node.kind == "topic" && !node.labels.contains_key("argocd")));

    let both = build(&Sources {
        objects: &objects,
        owners: &owners,
        files: &empty,
        file_sets: &sets,
    });
    assert_eq!(strip(&both), strip(&plain));
    let schema = both
        .nodes
        .iter()
        .find(|node| node.id == "schema:orders-value")
        .expect("the schema node");
    assert_eq!(schema.labels["argocd"], "shop,shop-staging");
    assert!(both
        .edges
        .iter()
        .filter(|edge| edge.labels.get("source").map(String::as_str) == Some("asyncapi"))
        .all(|edge| edge.labels["argocd"] == "shop,shop-staging"));
}
