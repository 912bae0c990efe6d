//! Bad schemas: each file under `tests/schema/bad/` is refused with an error naming the file
//! and the line `expected.json` gives, never a panic; enormous and deeply nested schemas made
//! here are refused or compared in bounded time and stack, never overflow or hang.

use std::path::Path;
use std::time::{Duration, Instant};

use flotilla_eda::schema::{check, Level, SchemaKind, SchemaText};

#[test]
fn malformed_schemas_are_errors_naming_file_and_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/bad");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("expected.json")).expect("expected.json"),
    )
    .expect("expected.json is JSON");
    let mut failures = Vec::new();
    let cases = expected.as_object().expect("an object");
    for (file, want) in cases {
        let text = std::fs::read_to_string(root.join(file)).expect("bad schema file");
        let kind = SchemaKind::from_path(file).expect("a schema extension");
        let good = SchemaText::new("good", valid_schema(kind));
        let history = [good, SchemaText::new(file.clone(), text)];
        match check(Level::FullTransitive, kind, &history) {
            Ok(found) => failures.push(format!(
                "{file}: accepted ({} incompatibilities)",
                found.len()
            )),
            Err(error) => {
                let line = want["line"].as_u64().unwrap_or_default();
                let part = want["contains"].as_str().unwrap_or_default();
                if error.file != *file
                    || u64::from(error.line) != line
                    || !error.message.contains(part)
                {
                    failures.push(format!(
                        "{file}: expected line {line} containing `{part}`, got {error}"
                    ));
                }
            }
        }
    }
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "bad schema cases: {} checked, {} failed\n",
            cases.len(),
            failures.len()
        ),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn valid_schema(kind: SchemaKind) -> &'static str {
    match kind {
        SchemaKind::Avro => "\"string\"",
        SchemaKind::Json => "{}",
        SchemaKind::Protobuf => "syntax = \"proto3\";",
    }
}

/// Checks one version against itself (FULL), within a time bound; returns the outcome.
fn against_itself(kind: SchemaKind, name: &str, text: String) -> Result<usize, String> {
    let started = Instant::now();
    let history = [
        SchemaText::new(format!("old-{name}"), text.clone()),
        SchemaText::new(name.to_string(), text),
    ];
    let outcome = check(Level::Full, kind, &history)
        .map(|found| found.len())
        .map_err(|error| error.to_string());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{name} took {:?}",
        started.elapsed()
    );
    outcome
}

#[test]
fn enormous_schemas_end_without_overflow() {
    // Avro: nesting deeper than the parser follows.
    let deep_avro = format!(
        "{}\"int\"{}",
        "{\"type\": \"array\", \"items\": ".repeat(400),
        "}".repeat(400)
    );
    let error = against_itself(SchemaKind::Avro, "deep.avsc", deep_avro).expect_err("too deep");
    assert!(error.contains("deep.avsc:1:"), "{error}");
    // Avro: a chain of records, each naming the previous one, deeper than a comparison follows.
    let mut branches = vec!["{\"type\": \"record\", \"name\": \"R0\", \"fields\": [{\"name\": \"v\", \"type\": \"int\"}]}".to_string()];
    for index in 1..400 {
        branches.push(format!(
            "{{\"type\": \"record\", \"name\": \"R{index}\", \"fields\": [{{\"name\": \"f\", \"type\": \"R{}\"}}]}}",
            index - 1
        ));
    }
    let chain = format!("[{}]", branches.join(",\n"));
    // (memoised pairs keep the comparison shallow; past 256 levels it would be an error)
    assert_eq!(against_itself(SchemaKind::Avro, "chain.avsc", chain), Ok(0));
    // Avro: a wide record compares quickly.
    let fields: Vec<String> = (0..20_000)
        .map(|index| format!("{{\"name\": \"f{index}\", \"type\": \"long\"}}"))
        .collect();
    let wide = format!(
        "{{\"type\": \"record\", \"name\": \"Wide\", \"fields\": [{}]}}",
        fields.join(",")
    );
    assert_eq!(against_itself(SchemaKind::Avro, "wide.avsc", wide), Ok(0));

    // JSON Schema: nesting deeper than the reader reads.
    let deep_json = format!(
        "{}{{}}{}",
        "{\"properties\": {\"a\": ".repeat(300),
        "}}".repeat(300)
    );
    assert!(against_itself(SchemaKind::Json, "deep.json", deep_json).is_err());
    // JSON Schema: 5000 definitions, each referring to the next.
    let definitions: Vec<String> = (0..5_000)
        .map(|index| {
            format!(
                "\"d{index}\": {{\"type\": \"object\", \"properties\": {{\"next\": {{\"$ref\": \"#/definitions/d{}\"}}}}}}",
                index + 1
            )
        })
        .chain(std::iter::once("\"d5000\": {\"type\": \"string\"}".to_string()))
        .collect();
    let chain = format!(
        "{{\"definitions\": {{{}}}, \"$ref\": \"#/definitions/d0\"}}",
        definitions.join(",\n")
    );
    let error = against_itself(SchemaKind::Json, "chain.json", chain).expect_err("too deep");
    assert!(error.contains("chain.json:"), "{error}");
    // JSON Schema: many oneOf branches referring to each other stay polynomial.
    let branches: Vec<String> = (0..12)
        .map(|index| format!("{{\"$ref\": \"#/definitions/b{index}\"}}"))
        .collect();
    let definitions: Vec<String> = (0..12)
        .map(|index| {
            format!(
                "\"b{index}\": {{\"type\": \"object\", \"properties\": {{\"v{index}\": {{\"type\": \"integer\"}}, \"more\": {{\"oneOf\": [{}]}}}}}}",
                branches.join(",")
            )
        })
        .collect();
    let tangled = format!(
        "{{\"definitions\": {{{}}}, \"oneOf\": [{}]}}",
        definitions.join(","),
        branches.join(",")
    );
    match against_itself(SchemaKind::Json, "tangled.json", tangled) {
        Ok(found) => assert_eq!(found, 0),
        Err(error) => assert!(error.contains("tangled.json:"), "{error}"),
    }

    // Protobuf: messages nested deeper than the parser follows.
    let deep_proto = format!(
        "syntax = \"proto3\";\n{}{}",
        "message M { ".repeat(200),
        "}".repeat(200)
    );
    assert!(against_itself(SchemaKind::Protobuf, "deep.proto", deep_proto).is_err());
    // Protobuf: a wide message compares quickly.
    let fields: Vec<String> = (1..=20_000)
        .map(|number| format!("int64 f{number} = {number};"))
        .collect();
    let wide = format!(
        "syntax = \"proto3\";\nmessage Wide {{ {} }}",
        fields.join("\n")
    );
    assert_eq!(
        against_itself(SchemaKind::Protobuf, "wide.proto", wide),
        Ok(0)
    );
}
