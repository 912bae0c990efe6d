//! Protobuf compatibility cases: `tests/schema/protobuf/<case>/` holds the history
//! `v1.proto .. vN.proto` (oldest first; imports under `vN.deps/`) and `case.json` naming the
//! Confluent rule (difference type) the case exercises, the level, the verdict by Confluent's
//! documented rules (`ProtobufSchema`'s diff; there is no Python oracle for Protobuf) and, for
//! incompatible cases, the difference types that must be reported.

mod schema_common;

use std::path::Path;

use flotilla_eda::schema::SchemaKind;

#[test]
fn every_protobuf_case_gives_confluents_verdict() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/protobuf");
    let (count, failures) = schema_common::run_cases(&root, SchemaKind::Protobuf, "proto");
    schema_common::report("protobuf", count, &failures, "");
    assert!(count >= 40, "only {count} Protobuf cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
