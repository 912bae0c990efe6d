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
