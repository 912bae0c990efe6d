//! JSON Schema compatibility cases: `tests/schema/json/<case>/` holds the history
//! `v1.json .. vN.json` (oldest first) and `case.json` naming the Confluent rule (difference
//! type) the case exercises, the level, the verdict by Confluent's documented rules
//! (`SchemaDiff`'s STRICT compatible set; there is no Python oracle for JSON Schema) and, for
//! incompatible cases, the difference types that must be reported.

mod schema_common;

use std::path::Path;

use flotilla_eda::schema::SchemaKind;

#[test]
fn every_json_schema_case_gives_confluents_verdict() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/json");
    let (count, failures) = schema_common::run_cases(&root, SchemaKind::Json, "json");
    schema_common::report("json", count, &failures, "");
    assert!(count >= 40, "only {count} JSON Schema cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
