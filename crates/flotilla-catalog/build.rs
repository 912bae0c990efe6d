//! Embeds every file under `data/` into the library, parsed at build time: each YAML file is
//! read with flotilla's YAML reader (go-yaml v3 semantics) and written to `OUT_DIR` as JSON, so
//! the binary parses compact JSON at run time instead of YAML. `OUT_DIR/embedded.rs` holds
//! `EMBEDDED_FILES`, a sorted list of (path relative to `data/`, JSON text). A file that is not
//! valid YAML fails the build, naming the file and the position.

use std::path::{Path, PathBuf};

fn collect(directory: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(directory).expect("data directory is readable");
    for entry in entries {
        let path = entry.expect("data directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if matches!(
            path.extension().and_then(|extension| extension.to_str()),
            Some("yaml")
        ) {
            files.push(path);
        }
    }
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let data = manifest_dir.join("data");
    println!("cargo:rerun-if-changed=data");
    let mut files = Vec::new();
    collect(&data, &mut files);
    files.sort();
    let mut generated = String::from("pub(crate) const EMBEDDED_FILES: &[(&str, &str)] = &[\n");
    for (index, path) in files.iter().enumerate() {
        let relative = path
            .strip_prefix(&data)
            .expect("under data")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).expect("catalog data is UTF-8 text");
        let document = match flotilla_core::yaml_read::parse_single_document(&text) {
            Ok(document) => document,
            Err(error) => panic!("catalog data `data/{relative}` is not valid YAML: {error}"),
        };
        let json = serde_json::to_string(&flotilla_core::json::to_json(&document))
            .expect("a parsed document serialises");
        let json_path = out_dir.join(format!("catalog-{index}.json"));
        std::fs::write(&json_path, json).expect("write the JSON form");
        generated.push_str(&format!(
            "    ({relative:?}, include_str!({:?})),\n",
            json_path.to_string_lossy()
        ));
        println!("cargo:rerun-if-changed={}", path.display());
    }
    generated.push_str("];\n");
    std::fs::write(out_dir.join("embedded.rs"), generated).expect("write embedded.rs");
}
