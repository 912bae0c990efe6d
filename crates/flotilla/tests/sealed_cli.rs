//! End-to-end tests of `flotilla seal`, `unseal`, `reseal` and `keys` through the binary, with
//! the sealed-secrets test vectors' key (`crates/flotilla-sealed/tests/data`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../flotilla-sealed/tests/data")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn flotilla(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flotilla runs");
    // The command may exit (on an error) before reading its input: a broken pipe is fine then.
    if let Err(error) = child.stdin.take().expect("stdin").write_all(stdin) {
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing stdin: {error}"
        );
    }
    child.wait_with_output().expect("flotilla finishes")
}

fn succeed(args: &[&str], stdin: &[u8]) -> String {
    let output = flotilla(args, stdin);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn fail(args: &[&str], stdin: &[u8]) -> String {
    let output = flotilla(args, stdin);
    assert!(!output.status.success(), "{args:?} succeeded");
    String::from_utf8(output.stderr).expect("UTF-8 error")
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("flotilla-sealed-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: demo
  labels:
    tier: web
type: Opaque
stringData:
  password: hunter2-plaintext
";

#[test]
fn seal_then_unseal_from_stdin_in_yaml_and_json() {
    let cert = data("test-cert.pem");
    let key = data("sealed-secrets-key-test.yaml");
    for format in ["yaml", "json"] {
        let sealed = succeed(&["seal", "--cert", &cert, "-o", format], SECRET.as_bytes());
        assert!(!sealed.contains("hunter2"), "{sealed}");
        assert!(sealed.contains("SealedSecret"), "{sealed}");
        let unsealed = succeed(&["unseal", "--key", &key], sealed.as_bytes());
        assert!(
            unsealed.contains("password: aHVudGVyMi1wbGFpbnRleHQ="),
            "{unsealed}"
        );
        assert!(unsealed.contains("tier: web"), "{unsealed}");
    }
}

#[test]
fn unseal_the_vector_manifests_with_several_keys() {
    let unsealed = succeed(
        &[
            "unseal",
            "--key",
            &data("other-key.pem"),
            "--key",
            &data("test-key-pkcs8.pem"),
            &data("sealedsecret-strict.yaml"),
        ],
        b"",
    );
    assert!(unsealed.contains("username: YWRtaW4="), "{unsealed}");
}

#[test]
fn raw_mode_prints_only_the_ciphertext() {
    let sealed = succeed(
        &[
            "seal",
            "--cert",
            &data("test-cert.pem"),
            "--raw",
            "--namespace",
            "demo",
            "--name",
            "app",
        ],
        b"value",
    );
    assert!(
        sealed.starts_with("Ag") && !sealed.contains('\n'),
        "{sealed}"
    );
    let bytes = flotilla_core::base64::decode_standard(&sealed).expect("base64");
    assert_eq!(bytes.len(), 530 + 5);
}

#[test]
fn errors_are_clear() {
    let cert = data("test-cert.pem");
    let cases: [(&[&str], &str, &str); 5] = [
        (
            &["seal", "--cert", &data("expired-cert.pem")],
            SECRET,
            "the certificate expired at 2021-01-01",
        ),
        (
            &["seal", "--cert", &data("not-rsa-cert.pem")],
            SECRET,
            "not RSA",
        ),
        (
            &["seal", "--cert", &cert],
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: b\n",
            "--allow-empty-data",
        ),
        (
            &["seal", "--cert", &cert, "--raw", "--namespace", "demo"],
            "x",
            "needs a name",
        ),
        (
            &[
                "unseal",
                "--key",
                &data("other-key.pem"),
                &data("sealedsecret-strict.yaml"),
            ],
            "",
            "cannot be unsealed",
        ),
    ];
    for (args, stdin, expected) in cases {
        let error = fail(args, stdin.as_bytes());
        assert!(error.contains(expected), "{args:?}: {error}");
        assert!(!error.contains("hunter2"), "{args:?}: plaintext in {error}");
    }
}

#[test]
fn merge_into_and_reseal_with_a_generated_key() {
    let directory = TempDir::new("merge");
    let target = directory.file("sealed.yaml");
    std::fs::copy(data("sealedsecret-strict.yaml"), &target).expect("copy");
    let addition =
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  extra: added\n";
    succeed(
        &[
            "seal",
            "--cert",
            &data("test-cert.pem"),
            "--merge-into",
            &target,
        ],
        addition.as_bytes(),
    );
    let unsealed = succeed(&["unseal", "--key", &data("test-key.pem"), &target], b"");
    assert!(
        unsealed.contains("extra: YWRkZWQ=") && unsealed.contains("username: YWRtaW4="),
        "{unsealed}"
    );

    let new_cert = directory.file("new-cert.pem");
    let key_secret = succeed(
        &[
            "keys",
            "generate",
            "--bits",
            "2048",
            "--cert-out",
            &new_cert,
        ],
        b"",
    );
    assert!(
        key_secret.contains("sealedsecrets.bitnami.com/sealed-secrets-key: active"),
        "{key_secret}"
    );
    let key_file = directory.file("key-secret.yaml");
    std::fs::write(&key_file, &key_secret).expect("write key");
    let exported = succeed(&["keys", "export", &key_file], b"");
    assert_eq!(
        exported,
        std::fs::read_to_string(&new_cert).expect("cert written")
    );

    let resealed = succeed(
        &[
            "reseal",
            "--key",
            &data("test-key.pem"),
            "--cert",
            &new_cert,
            &target,
        ],
        b"",
    );
    let unsealed_again = succeed(&["unseal", "--key", &key_file], resealed.as_bytes());
    assert_eq!(unsealed_again, unsealed);
    fail(
        &["unseal", "--key", &data("test-key.pem")],
        resealed.as_bytes(),
    );
}

#[test]
fn keys_list_shows_the_go_fingerprint() {
    let listing = succeed(
        &["keys", "list", &data("sealed-secrets-key-test.yaml")],
        b"",
    );
    assert!(listing.contains("sealed-secrets-keytest1"), "{listing}");
    assert!(
        listing.contains("SHA256:pK1hUhlAeXK2Uj/9el1TKolobS+18n5VqoND0MTMtlk"),
        "{listing}"
    );
    assert!(!listing.contains("LS0t"), "no key material: {listing}");
}
