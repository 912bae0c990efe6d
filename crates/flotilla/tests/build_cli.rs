//! `flotilla build` as a user runs it: bad input gives exit code 1 and a message naming the
//! problem, never a panic or a hang; `-o` writes a file; output matches the library.
//!
//! Static cases live in `tests/bad-input/<case>/` (`input/`, optional `entry`,
//! `expected-error.txt` holding a fragment the error must contain). Inputs that cannot be
//! committed sensibly (an alias bomb, a 100 MB file, non-UTF-8 bytes) are generated.

mod cli_support;
use cli_support::*;

use std::path::{Path, PathBuf};
use std::process::Output;

fn scratch_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("flotilla-build-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn build(dir: &Path) -> Output {
    flotilla()
        .arg("build")
        .arg(dir)
        .output()
        .expect("run flotilla")
}

/// The command failed cleanly: exit code 1, an `error:` line containing `fragment`, no panic.
fn check_failure(output: &Output, fragment: &str, case: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{case}: expected exit code 1, stderr: {stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "{case}: nothing on stdout on failure"
    );
    assert!(stderr.starts_with("error: "), "{case}: {stderr}");
    assert!(!stderr.contains("panicked"), "{case}: panicked: {stderr}");
    assert!(
        stderr.contains(fragment),
        "{case}: expected {fragment:?} in: {stderr}"
    );
}

#[test]
fn bad_input_cases_fail_with_clear_errors() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input");
    let mut names: Vec<_> = std::fs::read_dir(&cases)
        .expect("tests/bad-input")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for name in names {
        let case = cases.join(&name);
        let mut input = case.join("input");
        if let Ok(entry) = std::fs::read_to_string(case.join("entry")) {
            input = input.join(entry.trim());
        }
        let fragment =
            std::fs::read_to_string(case.join("expected-error.txt")).expect("expected-error.txt");
        check_failure(&build(&input), fragment.trim_end_matches('\n'), &name);
    }
}

#[test]
fn alias_bomb_is_refused() {
    let dir = scratch_dir("alias-bomb");
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  a: &a [x,x,x,x,x,x,x,x,x,x]\n");
    let mut previous = "a".to_string();
    for level in 0..12 {
        let name = format!("l{level}");
        let refs = vec![format!("*{previous}"); 10].join(",");
        text.push_str(&format!("  {name}: &{name} [{refs}]\n"));
        previous = name;
    }
    std::fs::write(dir.join("bomb.yaml"), text).expect("write");
    std::fs::write(dir.join("kustomization.yaml"), "resources:\n- bomb.yaml\n").expect("write");
    check_failure(&build(&dir), "excessive aliasing", "alias bomb");
}

#[test]
fn huge_file_is_refused_without_reading_it() {
    let dir = scratch_dir("huge");
    let file = std::fs::File::create(dir.join("huge.yaml")).expect("create");
    // A sparse 100 MB file: the size check happens before any byte is read.
    file.set_len(100 * 1024 * 1024).expect("set_len");
    std::fs::write(dir.join("kustomization.yaml"), "resources:\n- huge.yaml\n").expect("write");
    check_failure(&build(&dir), "limit", "100 MB file");
}

#[test]
fn non_utf8_bytes_are_refused() {
    let dir = scratch_dir("non-utf8");
    std::fs::write(
        dir.join("bad.yaml"),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \xff\xfe\n",
    )
    .expect("write");
    std::fs::write(dir.join("kustomization.yaml"), "resources:\n- bad.yaml\n").expect("write");
    check_failure(&build(&dir), "not UTF-8", "non-UTF-8 bytes");
}

#[test]
fn output_flag_writes_the_file() {
    let dir = scratch_dir("output");
    std::fs::write(
        dir.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  key: 'yes'\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources:\n- cm.yaml\nnamePrefix: dev-\n",
    )
    .expect("write");
    let out = dir.join("out.yaml");
    let status = flotilla()
        .arg("build")
        .arg(&dir)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run");
    assert!(status.success());
    let written = std::fs::read_to_string(&out).expect("output written");
    assert_eq!(
        written,
        "apiVersion: v1\ndata:\n  key: \"yes\"\nkind: ConfigMap\nmetadata:\n  name: dev-app\n"
    );
}

#[test]
fn load_restrictor_none_allows_files_outside_the_root() {
    let cases =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input/escapes-root/input/app");
    let output = flotilla()
        .arg("build")
        .arg(&cases)
        .arg("--load-restrictor")
        .arg("none")
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("kind: Service"));
}
