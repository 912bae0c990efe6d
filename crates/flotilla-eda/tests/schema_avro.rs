//! Avro compatibility cases against the oracle: `tests/schema/avro/<case>/` holds the history
//! `v1.avsc .. vN.avsc` (oldest first) and `case.json` with the rule exercised, the level and
//! the verdict of the Python `avro` package's `ReaderWriterCompatibilityChecker` (`expected`),
//! written by `generate.py` next to the cases. A case where the Python port departs from Apache
//! Avro's Java checker (which the registries run) says `java` and `why`; the Java verdict is
//! the one checked. When python3 and the `avro` package are present the verdicts are
//! recomputed (`generate.py --check`); otherwise that step is skipped with a notice.

mod schema_common;

use std::path::Path;

use flotilla_eda::schema::SchemaKind;

#[test]
fn every_avro_case_gives_the_checkers_verdict() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/avro");
    let (count, failures) = schema_common::run_cases(&root, SchemaKind::Avro, "avsc");
    let oracle = schema_common::rerun_python_oracle(&root.join("generate.py"));
    schema_common::report("avro", count, &failures, &oracle);
    assert!(count >= 100, "only {count} Avro cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
