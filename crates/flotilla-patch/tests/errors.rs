//! The errors name what failed: the path of a strategic merge conflict, the index, op and path
//! of a failing JSON patch operation.

use flotilla_core::{parse_single_document, Value};
use flotilla_patch::{
    json_patch, parse_json_patch, strategic_merge, JsonPatchError, MergeOutcome, Schema,
    StrategicMergeError,
};

fn yaml(text: &str) -> Value {
    parse_single_document(text).expect("test YAML is valid")
}

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx\n";

#[test]
fn kind_conflict_names_the_field_path() {
    let error = strategic_merge(
        &yaml(DEPLOYMENT),
        &yaml("spec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: [a]\n"),
        Schema::builtin(),
    )
    .expect_err("a list cannot replace a scalar");
    assert_eq!(
        error,
        StrategicMergeError::WrongNodeKind {
            path: "spec.template.spec.containers[name=web].image".to_string(),
            expected: "scalar",
            found: "sequence",
        }
    );
}

#[test]
fn unknown_directive_names_its_value() {
    let error = strategic_merge(
        &yaml(DEPLOYMENT),
        &yaml("spec:\n  template:\n    $patch: sideways\n"),
        Schema::builtin(),
    )
    .expect_err("unknown directive");
    assert_eq!(
        error,
        StrategicMergeError::UnknownDirective {
            path: "spec.template".to_string(),
            directive: "sideways".to_string(),
        }
    );
}

#[test]
fn deleting_the_resource_is_an_outcome_not_an_error() {
    let outcome = strategic_merge(
        &yaml(DEPLOYMENT),
        &yaml("$patch: delete\n"),
        Schema::builtin(),
    );
    assert_eq!(outcome, Ok(MergeOutcome::Deleted));
}

#[test]
fn the_empty_schema_replaces_every_list() {
    let patch = yaml("spec:\n  template:\n    spec:\n      containers:\n      - name: side\n");
    let Ok(MergeOutcome::Merged(merged)) =
        strategic_merge(&yaml(DEPLOYMENT), &patch, &Schema::empty())
    else {
        panic!("merge succeeds");
    };
    let containers = merged
        .get_path(&["spec", "template", "spec", "containers"])
        .and_then(Value::as_sequence)
        .expect("containers");
    assert_eq!(containers.len(), 1);
}

#[test]
fn json_patch_errors_name_operation_index_and_path() {
    let operations = parse_json_patch(
        "- op: replace\n  path: /spec/replicas\n  value: 2\n- op: add\n  path: /spec/missing/field\n  value: 1\n",
    )
    .expect("valid patch text");
    assert_eq!(
        json_patch(&yaml(DEPLOYMENT), &operations),
        Err(JsonPatchError::MissingPath {
            index: 1,
            op: "add",
            path: "/spec/missing/field".to_string(),
        })
    );

    let operations = parse_json_patch("- op: test\n  path: /spec/replicas\n  value: 3\n")
        .expect("valid patch text");
    assert_eq!(
        json_patch(&yaml(DEPLOYMENT), &operations),
        Err(JsonPatchError::TestFailed {
            index: 0,
            path: "/spec/replicas".to_string(),
        })
    );

    let operations = parse_json_patch("- op: remove\n  path: /spec/template/spec/containers/3\n")
        .expect("valid patch text");
    assert!(matches!(
        json_patch(&yaml(DEPLOYMENT), &operations),
        Err(JsonPatchError::InvalidIndex {
            index: 0,
            op: "remove",
            ..
        })
    ));
}
