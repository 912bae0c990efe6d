//! Data-driven health cases: `fixtures/<group>/<Kind>/<state>.yaml`, each a live object whose
//! first line says what it must assess to: `# expect: <Status>[: <message fragment>]`. One
//! `check()` walks the tree; every kind with a rule must have fixtures.

use std::path::Path;

fn check(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    let expectation = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("# expect: "))
        .ok_or("the first line must be `# expect: <Status>[: <message>]`")?;
    let (status, fragment) = match expectation.split_once(": ") {
        Some((status, fragment)) => (status, Some(fragment)),
        None => (expectation, None),
    };
    let document =
        flotilla_core::parse_single_document(&text).map_err(|error| error.to_string())?;
    let object = flotilla_core::to_json(&document);
    let health = flotilla_health::assess(&object).ok_or("no health rule for this kind")?;
    if health.status.as_str() != status {
        return Err(format!(
            "expected {status}, got {:?} ({:?})",
            health.status, health.message
        ));
    }
    if let Some(fragment) = fragment {
        let message = health.message.unwrap_or_default();
        if !message.contains(fragment) {
            return Err(format!("message {message:?} does not contain {fragment:?}"));
        }
    }
    Ok(())
}

fn walk(directory: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(directory).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else if path
            .extension()
            .is_some_and(|extension| extension == "yaml")
        {
            files.push(path);
        }
    }
}

#[test]
fn fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            check(file).err().map(|error| {
                format!(
                    "{}: {error}",
                    file.strip_prefix(&root).unwrap_or(file).display()
                )
            })
        })
        .collect();
    assert!(files.len() > 80, "{} fixtures", files.len());
    assert!(
        failures.is_empty(),
        "{} of {} fixtures fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
