//! `flotilla schema compat` run as a command: exit 0 compatible, 1 incompatible, 2 error (with
//! the file and line); the type from the extension or `--type`; `-o json`; Protobuf imports
//! read from the file's directory; levels, transitive ones included.

mod cli_support;
use cli_support::*;

use std::path::{Path, PathBuf};
use std::process::Output;

fn scratch(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("flotilla-schema-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

fn write(directory: &Path, name: &str, text: &str) -> PathBuf {
    let path = directory.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("directory");
    }
    std::fs::write(&path, text).expect("write");
    path
}

fn compat(arguments: &[&str], files: &[&Path]) -> (i32, String, String) {
    let output: Output = flotilla()
        .args(["schema", "compat"])
        .args(arguments)
        .args(files)
        .output()
        .expect("flotilla runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

const ORDER_V1: &str = r#"{"type": "record", "name": "Order", "namespace": "shop",
 "fields": [{"name": "id", "type": "string"}, {"name": "qty", "type": "int"}]}"#;
const ORDER_V2: &str = r#"{"type": "record", "name": "Order", "namespace": "shop",
 "fields": [{"name": "id", "type": "string"}]}"#;
const ORDER_V3: &str = r#"{"type": "record", "name": "Order", "namespace": "shop",
 "fields": [{"name": "id", "type": "string"}, {"name": "qty", "type": "string", "default": ""}]}"#;

#[test]
fn avro_verdicts_and_exit_codes() {
    let directory = scratch("avro");
    let v1 = write(&directory, "v1.avsc", ORDER_V1);
    let v2 = write(&directory, "v2.avsc", ORDER_V2);
    let v3 = write(&directory, "v3.avsc", ORDER_V3);

    // BACKWARD (the default): v3 reads v2's data.
    let (code, stdout, stderr) = compat(&[], &[&v1, &v2, &v3]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("compatible:"), "{stdout}");

    // BACKWARD_TRANSITIVE: v1 wrote qty as an int.
    let (code, stdout, _) = compat(&["--level", "BACKWARD_TRANSITIVE"], &[&v1, &v2, &v3]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("field \"qty\" changed from int to string: old data cannot be read"),
        "{stdout}"
    );
    assert!(stdout.contains("TYPE_MISMATCH"), "{stdout}");
    assert!(stdout.contains("v1.avsc"), "{stdout}");

    // FORWARD: v1 (the old reader) has no default for qty, which v2 no longer writes.
    let (code, stdout, _) = compat(&["--level", "forward"], &[&v1, &v2]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
        "{stdout}"
    );

    // NONE accepts anything that parses.
    let (code, _, _) = compat(&["--level", "NONE"], &[&v1, &v3]);
    assert_eq!(code, 0);

    // -o json
    let (code, stdout, _) = compat(
        &["--level", "BACKWARD_TRANSITIVE", "-o", "json"],
        &[&v1, &v2, &v3],
    );
    assert_eq!(code, 1);
    let value: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(value["compatible"], false);
    assert_eq!(value["level"], "BACKWARD_TRANSITIVE");
    assert_eq!(value["type"], "avro");
    let found = value["incompatibilities"].as_array().expect("a list");
    assert_eq!(found.len(), 1, "{stdout}");
    assert_eq!(found[0]["rule"], "TYPE_MISMATCH");
    assert_eq!(found[0]["direction"], "BACKWARD");
    assert_eq!(found[0]["older"], 0);
    assert_eq!(found[0]["newer"], 2);
}

#[test]
fn errors_exit_2_naming_file_and_line() {
    let directory = scratch("errors");
    let good = write(&directory, "good.avsc", ORDER_V1);
    let bad = write(
        &directory,
        "bad.avsc",
        "{\"type\": \"record\", \"name\": \"Order\",\n \"fields\": [{\"name\": \"qty\", \"type\": \"Quantity\"}]}",
    );
    let (code, stdout, stderr) = compat(&[], &[&good, &bad]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("bad.avsc:2:"), "{stderr}");
    assert!(stderr.contains("undefined name: \"Quantity\""), "{stderr}");

    let missing = directory.join("missing.avsc");
    let (code, _, stderr) = compat(&[], &[&good, &missing]);
    assert_eq!(code, 2);
    assert!(stderr.contains("missing.avsc"), "{stderr}");

    let text = write(&directory, "schema.txt", "{}");
    let (code, _, stderr) = compat(&[], &[&text, &text]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--type"), "{stderr}");

    let (code, _, _) = compat(&["--level", "SIDEWAYS"], &[&good, &good]);
    assert_eq!(code, 2);
}

#[test]
fn json_schema_by_extension_and_by_type() {
    let directory = scratch("json");
    let open = write(
        &directory,
        "v1.json",
        r#"{"type": "object", "properties": {"id": {"type": "string"}}}"#,
    );
    let added = write(
        &directory,
        "v2.json",
        r#"{"type": "object", "properties": {"id": {"type": "string"}, "note": {"type": "string"}}}"#,
    );
    let (code, stdout, _) = compat(&[], &[&open, &added]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"),
        "{stdout}"
    );
    let (code, stdout, _) = compat(&["--level", "FORWARD"], &[&open, &added]);
    assert_eq!(code, 0, "{stdout}");

    let untyped = write(&directory, "v1.schema", r#"{"type": "integer"}"#);
    let widened = write(&directory, "v2.schema", r#"{"type": "number"}"#);
    let (code, stdout, stderr) = compat(&["--type", "json"], &[&untyped, &widened]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, _) = compat(&["--type", "json"], &[&widened, &untyped]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("TYPE_NARROWED"), "{stdout}");
}

#[test]
fn protobuf_with_imports_from_the_files_directory() {
    let directory = scratch("protobuf");
    let money_v1 = "syntax = \"proto3\";\npackage shop.common;\nmessage Money {\n  int64 units = 1;\n  string currency = 2;\n}\n";
    let money_v2 = "syntax = \"proto3\";\npackage shop.common;\nmessage Money {\n  double units = 1;\n  string currency = 2;\n}\n";
    let order = "syntax = \"proto3\";\npackage shop;\nimport \"common/money.proto\";\nmessage Order {\n  string id = 1;\n  shop.common.Money total = 2;\n}\n";
    write(&directory, "v1/common/money.proto", money_v1);
    write(&directory, "v2/common/money.proto", money_v2);
    let v1 = write(&directory, "v1/order.proto", order);
    let v2 = write(&directory, "v2/order.proto", order);
    let (code, stdout, stderr) = compat(&[], &[&v1, &v2]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("FIELD_NAMED_TYPE_CHANGED"), "{stdout}");
    assert!(stdout.contains("FIELD_SCALAR_KIND_CHANGED"), "{stdout}");

    let renamed = write(
        &directory,
        "v3/order.proto",
        "syntax = \"proto3\";\npackage shop;\nimport \"common/money.proto\";\nmessage Order {\n  string order_id = 1;\n  shop.common.Money total = 2;\n  int64 placed_at = 3;\n}\n",
    );
    write(&directory, "v3/common/money.proto", money_v2);
    let (code, stdout, stderr) = compat(&["--level", "FULL"], &[&v2, &renamed]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    let unresolved = write(
        &directory,
        "v4/order.proto",
        "syntax = \"proto3\";\npackage shop;\nimport \"common/missing.proto\";\nmessage Order {}\n",
    );
    let (code, _, stderr) = compat(&[], &[&v2, &unresolved]);
    assert_eq!(code, 2);
    assert!(stderr.contains("order.proto:3:"), "{stderr}");
}
