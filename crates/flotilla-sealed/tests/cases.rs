//! Data-driven cases, one directory each under `tests/cases/`:
//!
//! - `seal/<case>/`: `secret.yaml` (+ optional `options.yaml`) sealed with the vector
//!   certificate must give `expected-sealed.yaml` once every ciphertext is replaced by
//!   `<sealed>`, and unsealing it with the vector key must give `expected-unsealed.yaml`.
//! - `seal-errors/<case>/`: sealing `secret.yaml` must fail with `expected-error.txt`.
//! - `unseal-errors/<case>/`: unsealing `sealed.yaml` with the vector key (or the key files named
//!   in `keys.txt`) must fail with `expected-error.txt`.
//!
//! Error texts are the error and its sources joined with `: `. None may contain the plaintext
//! (`hunter2` in the seal cases, `admin` in the unseal cases). `FLOTILLA_BLESS=1` rewrites the
//! expected files from the current output.

mod common;

use std::path::Path;

use common::{parse_yaml, read_data, rng, test_private_key, test_public_key};
use flotilla_core::Value;
use flotilla_sealed::{parse_private_keys, seal_secret, unseal_sealed_secret, Scope, SealOptions};

fn case_directories(kind: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(kind);
    let mut directories: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("{}: {error}", root.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    directories.sort();
    assert!(!directories.is_empty(), "no cases in {}", root.display());
    directories
}

fn blessing() -> bool {
    std::env::var_os("FLOTILLA_BLESS").is_some()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Compares `actual` with the file at `path`, or writes it there when blessing.
fn check_text(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if blessing() {
        std::fs::write(path, actual).expect("write expected file");
        return;
    }
    let expected = if path.exists() {
        read(path)
    } else {
        String::new()
    };
    if expected != actual {
        failures.push(format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        ));
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.push('\n');
    text
}

fn seal_options(directory: &Path) -> SealOptions {
    let path = directory.join("options.yaml");
    if !path.exists() {
        return SealOptions::default();
    }
    let options = parse_yaml(&read(&path)).remove(0);
    SealOptions {
        scope: options
            .get_str(&["scope"])
            .map(|scope| scope.parse::<Scope>().expect("valid scope in options.yaml")),
        default_namespace: options.get_str(&["defaultNamespace"]).map(str::to_string),
        allow_empty_data: options
            .get_path(&["allowEmptyData"])
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

#[test]
fn seal_cases() {
    let public_key = test_public_key();
    let mut failures = Vec::new();
    for directory in case_directories("seal") {
        let secret = parse_yaml(&read(&directory.join("secret.yaml"))).remove(0);
        let sealed = seal_secret(&mut rng(), &public_key, &secret, &seal_options(&directory))
            .unwrap_or_else(|error| panic!("{}: {}", directory.display(), error_chain(&error)));
        let unsealed = unseal_sealed_secret(
            &mut rng(),
            std::slice::from_ref(test_private_key()),
            &sealed,
        )
        .unwrap_or_else(|error| panic!("{}: {}", directory.display(), error_chain(&error)));
        let mut redacted = sealed.clone();
        if let Some(Value::Mapping(items)) = redacted.get_path_mut(&["spec", "encryptedData"]) {
            for (_, value) in items.iter_mut() {
                let ciphertext = value.as_str().expect("ciphertext is a string");
                assert!(
                    ciphertext.starts_with("Ag"),
                    "{}: 4096-bit ciphertexts start with `Ag`",
                    directory.display()
                );
                *value = Value::string("<sealed>");
            }
        }
        let sealed_text = flotilla_core::write_document(&redacted).expect("writes");
        check_text(
            &directory.join("expected-sealed.yaml"),
            &sealed_text,
            &mut failures,
        );
        let unsealed_text = flotilla_core::write_document(unsealed.document()).expect("writes");
        check_text(
            &directory.join("expected-unsealed.yaml"),
            &unsealed_text,
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn seal_error_cases() {
    let public_key = test_public_key();
    let mut failures = Vec::new();
    for directory in case_directories("seal-errors") {
        let secret = parse_yaml(&read(&directory.join("secret.yaml"))).remove(0);
        let error = match seal_secret(&mut rng(), &public_key, &secret, &seal_options(&directory)) {
            Ok(_) => {
                failures.push(format!("{}: sealing succeeded", directory.display()));
                continue;
            }
            Err(error) => error_chain(&error),
        };
        assert!(
            !error.contains("hunter2"),
            "{}: plaintext in `{error}`",
            directory.display()
        );
        check_text(&directory.join("expected-error.txt"), &error, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn unseal_error_cases() {
    let mut failures = Vec::new();
    for directory in case_directories("unseal-errors") {
        let sealed = parse_yaml(&read(&directory.join("sealed.yaml"))).remove(0);
        let keys_file = directory.join("keys.txt");
        let keys = if keys_file.exists() {
            read(&keys_file)
                .lines()
                .flat_map(|name| {
                    parse_private_keys(&read_data(name.trim())).expect("key file parses")
                })
                .collect()
        } else {
            vec![test_private_key().clone()]
        };
        let error = match unseal_sealed_secret(&mut rng(), &keys, &sealed) {
            Ok(_) => {
                failures.push(format!("{}: unsealing succeeded", directory.display()));
                continue;
            }
            Err(error) => error_chain(&error),
        };
        assert!(
            !error.contains("admin"),
            "{}: plaintext in `{error}`",
            directory.display()
        );
        check_text(&directory.join("expected-error.txt"), &error, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
