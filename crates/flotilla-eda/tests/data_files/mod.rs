//! What the data-driven tests read from their case directories: multi-document YAML as JSON
//! values, trees of repository files by relative path, and the case directories themselves.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The documents of a YAML file as JSON (empty documents left out); no file, no documents.
pub fn read_documents(path: &Path) -> Vec<Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => flotilla_core::yaml_read::parse_documents(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
            .iter()
            .map(flotilla_core::json::to_json)
            .filter(|document| !document.is_null())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The files under `root`, by path relative to it with `/` separators (empty when `root` does
/// not exist).
pub fn read_tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, directory: &Path, files: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(directory) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .expect("under the root")
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                files.insert(relative, text);
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

/// The directories directly under `tests/<name>`, sorted.
pub fn case_directories(name: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("{}: {error}", root.display()))
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    cases
}
