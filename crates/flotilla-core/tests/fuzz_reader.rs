//! Property-based fuzzing of the YAML reader and writer: arbitrary text never panics or hangs
//! the reader, and whatever it reads, the writer either writes or refuses with an error; what it
//! writes reads back to the same documents (for finite numbers).
//!
//! `PROPTEST_CASES` raises the case count for a longer run (see `FUZZING.md`).

use flotilla_core::{parse_documents, write_document, Value};
use proptest::prelude::*;

/// Text built from YAML's structural pieces, far likelier to reach deep parser states than
/// uniform random bytes.
fn yamlish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        "b",
        ":",
        ": ",
        "- ",
        "\n",
        "  ",
        "    ",
        "&x ",
        "*x",
        "<<: ",
        "{",
        "}",
        "[",
        "]",
        ",",
        "'",
        "\"",
        "|",
        "|-",
        ">",
        "#",
        "---\n",
        "...\n",
        "!!str ",
        "!!binary ",
        "!!int ",
        "0x1F",
        "1e3",
        "~",
        "null",
        "yes",
        "2024-01-01",
        "\t",
        "\\",
        "%YAML 1.2\n",
        "? ",
        "é",
        "\u{2028}",
        "\r\n",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|parts| parts.concat())
}

fn round_trip(text: &str) {
    let Ok(documents) = parse_documents(text) else {
        return;
    };
    for document in documents {
        let Ok(written) = write_document(&document) else {
            continue;
        };
        // go-yaml (YAML 1.1) treats U+0085, U+2028 and U+2029 as line breaks and the writer
        // follows it; the reader (YAML 1.2) does not, so such text is not read back here.
        // Found by this fuzzer; see FUZZING.md.
        // A key spelled `<<` is written plain by go-yaml v2 and then reads back as a merge key;
        // kustomize has the same asymmetry. Also found by this fuzzer.
        if written.contains(['\u{85}', '\u{2028}', '\u{2029}']) || written.contains("<<") {
            continue;
        }
        let reread = parse_documents(&written)
            .unwrap_or_else(|error| panic!("writer output must parse: {error}\n{written}"));
        assert_eq!(
            reread.len(),
            1,
            "one document written, one read back:\n{written}"
        );
        if !contains_nan(&document) {
            assert_eq!(
                normalized(&reread[0]),
                normalized(&document),
                "round trip changed the document:\n{written}"
            );
        }
    }
}

fn contains_nan(value: &Value) -> bool {
    match value {
        Value::Number(flotilla_core::Number::Float(f)) => f.is_nan(),
        Value::Sequence(items) => items.iter().any(contains_nan),
        Value::Mapping(mapping) => mapping.values().any(contains_nan),
        _ => false,
    }
}

/// What survives kustomize's JSON round trip: key order, integral floats as integers, timestamps
/// as strings are all normalised away.
fn normalized(value: &Value) -> String {
    match value {
        Value::Mapping(mapping) => {
            let mut entries: Vec<String> = mapping
                .iter()
                .map(|(k, v)| format!("{k:?}:{}", normalized(v)))
                .collect();
            entries.sort();
            format!("{{{}}}", entries.join(","))
        }
        Value::Sequence(items) => format!(
            "[{}]",
            items.iter().map(normalized).collect::<Vec<_>>().join(",")
        ),
        Value::Number(number) => number.to_string(),
        Value::Timestamp(text) => format!(
            "{:?}",
            flotilla_core::go_format::is_go_yaml_timestamp(text).unwrap_or_else(|| text.clone())
        ),
        Value::String(text) => format!("{text:?}"),
        Value::Bool(flag) => flag.to_string(),
        Value::Null => "null".to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        round_trip(&text);
    }

    #[test]
    fn yaml_like_text_never_panics_and_round_trips(text in yamlish()) {
        round_trip(&text);
    }

    #[test]
    fn any_string_value_round_trips(text in ".{0,120}") {
        let mut mapping = flotilla_core::Mapping::new();
        mapping.insert("key", Value::String(text.clone()));
        let written = write_document(&Value::Mapping(mapping)).expect("strings are always writable");
        let reread = parse_documents(&written).expect("writer output parses");
        prop_assert_eq!(reread[0].get_str(&["key"]), Some(text.as_str()), "written as:\n{}", written);
    }
}
