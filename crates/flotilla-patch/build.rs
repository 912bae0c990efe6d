//! Prepares the embedded Kubernetes OpenAPI schema at build time, so that a process never
//! decompresses or parses the whole document: `schema/kubernetes-openapi-v1.21.2.json.gz` is
//! split into one line per definition, `NAME\tGVKS\tJSON`, sorted by name, where GVKS lists the
//! `x-kubernetes-group-version-kind` entries as `apiVersion kind` pairs separated by `;` and
//! JSON is the definition as compact JSON. `schema.rs` reads a definition's JSON only when a
//! lookup first reaches it.

use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;

use serde_json::Value as Json;

const SOURCE: &str = "schema/kubernetes-openapi-v1.21.2.json.gz";

fn main() {
    println!("cargo::rerun-if-changed={SOURCE}");
    println!("cargo::rerun-if-changed=build.rs");
    let compressed = std::fs::read(SOURCE).expect("the embedded OpenAPI schema is in the crate");
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut text)
        .expect("the embedded OpenAPI schema is gzip-compressed");
    let document: Json =
        serde_json::from_slice(&text).expect("the embedded OpenAPI schema is valid JSON");
    let definitions = document
        .get("definitions")
        .and_then(Json::as_object)
        .expect("the embedded OpenAPI schema has `definitions`");
    let mut names: Vec<&String> = definitions.keys().collect();
    names.sort();
    let mut out = String::new();
    for name in names {
        assert!(
            !name.contains(['\t', '\n']),
            "definition names hold no tabs or newlines"
        );
        let definition = &definitions[name.as_str()];
        let mut gvks = Vec::new();
        for gvk in definition
            .get("x-kubernetes-group-version-kind")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(version), Some(kind)) = (
                gvk.get("version").and_then(Json::as_str),
                gvk.get("kind").and_then(Json::as_str),
            ) else {
                continue;
            };
            let api_version = match gvk.get("group").and_then(Json::as_str) {
                Some(group) if !group.is_empty() => format!("{group}/{version}"),
                _ => version.to_string(),
            };
            assert!(
                !format!("{api_version}{kind}").contains([' ', ';', '\t', '\n']),
                "group, version and kind hold no separators"
            );
            gvks.push(format!("{api_version} {kind}"));
        }
        let json = serde_json::to_string(definition).expect("a JSON value serialises");
        let _ = writeln!(out, "{name}\t{}\t{json}", gvks.join(";"));
    }
    let path = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("openapi-definitions.txt");
    std::fs::write(path, out).expect("write the prepared schema");
}
