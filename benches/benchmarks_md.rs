//! The section of BENCHMARKS.md a benchmark owns: the text between `<!-- NAME -->` and
//! `<!-- /NAME -->`, replaced by each run, everything around it kept. Shared by the crates'
//! benchmarks through `#[path = "…/benches/benchmarks_md.rs"] mod benchmarks_md;` (a file, not
//! a crate: only benchmarks use it).

use std::path::PathBuf;

/// BENCHMARKS.md at the repository root (every crate is at `crates/NAME`).
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../BENCHMARKS.md")
}

/// `document` with the section `name` holding `body` (which ends with a newline): in place of
/// the section when both markers are there, appended after the rest otherwise.
pub fn replace(document: &str, name: &str, body: &str) -> String {
    let (open, close) = (format!("<!-- {name} -->"), format!("<!-- /{name} -->"));
    let section = format!("{open}\n{body}{close}");
    match (document.find(&open), document.find(&close)) {
        (Some(start), Some(end)) if start < end => format!(
            "{}{section}{}",
            &document[..start],
            &document[end + close.len()..]
        ),
        _ => format!("{}\n\n{section}\n", document.trim_end()),
    }
}

/// Writes `body` as the section `name` of BENCHMARKS.md; says so on stderr when it cannot.
pub fn write(name: &str, body: &str) {
    let path = path();
    let document = std::fs::read_to_string(&path).unwrap_or_default();
    if let Err(error) = std::fs::write(&path, replace(&document, name, body)) {
        eprintln!(
            "cannot write the {name} section of {}: {error}",
            path.display()
        );
    }
}
