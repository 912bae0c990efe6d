//! Bad input to `flotilla bootstrap`, `env add`, `service add`, `promote` and `repo check`:
//! each a clear message and exit 1 (2 for a check that cannot run), nothing half-written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn flotilla() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn certificate() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../flotilla-sealed/tests/data/test-cert.pem")
}

fn git(directory: &Path, arguments: &[&str]) -> String {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .output()
        .expect("git");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn bootstrap(output: &Path, gitops: &str, extra: &[&str]) -> Output {
    flotilla()
        .args(["bootstrap", "--output"])
        .arg(output)
        .args(["--gitops-repo-url", gitops])
        .args([
            "--service-repo-url",
            "https://github.com/example/orders.git",
        ])
        .args([
            "--image-repo",
            "quay.io/shop",
            "--environments",
            "dev,staging",
        ])
        .args(extra)
        .output()
        .expect("runs")
}

fn assert_refused(output: &Output, words: &[&str]) {
    assert_eq!(output.status.code(), Some(1), "{}", text(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: "), "{}", text(output));
    for word in words {
        assert!(stderr.contains(word), "`{word}` missing: {}", text(output));
    }
    assert!(!stderr.contains("panicked"), "{}", text(output));
}

#[test]
fn bad_input_is_refused_with_nothing_half_written() {
    let root =
        std::env::temp_dir().join(format!("flotilla-bootstrap-errors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch");
    let certificate = certificate();
    let certificate = certificate.to_str().expect("a UTF-8 path");

    // Not a git URL.
    let output = root.join("not-a-url");
    let refused = bootstrap(
        &output,
        "github.com/example/gitops",
        &["--cert", certificate],
    );
    assert_refused(
        &refused,
        &["gitopsRepoURL `github.com/example/gitops` is not a git repository URL"],
    );
    assert!(!output.exists(), "nothing written");

    // No certificate to seal the webhook secrets with.
    let output = root.join("no-certificate");
    let refused = bootstrap(&output, "https://github.com/example/gitops.git", &[]);
    assert_refused(&refused, &["must be sealed", "--cert", "--kubeconfig"]);
    assert!(!output.exists(), "nothing written");

    // A certificate that is not one.
    let bogus = root.join("bogus.pem");
    std::fs::write(&bogus, "not a certificate\n").expect("written");
    let refused = bootstrap(
        &output,
        "https://github.com/example/gitops.git",
        &["--cert", bogus.to_str().expect("path")],
    );
    assert_refused(&refused, &["certificate"]);
    assert!(!output.exists(), "nothing written");

    // A good repository, then bad changes to it.
    let solution = root.join("solution");
    let written = bootstrap(
        &solution,
        "https://github.com/example/gitops.git",
        &["--cert", certificate],
    );
    assert!(written.status.success(), "{}", text(&written));
    let head = git(&solution, &["rev-parse", "HEAD"]);

    let refused = flotilla()
        .args([
            "service",
            "add",
            "--env",
            "dev",
            "--app",
            "app-orders",
            "--service",
            "Audit_Log",
        ])
        .args([
            "--git-repo-url",
            "https://github.com/example/audit.git",
            "--cert",
            certificate,
            "--repo",
        ])
        .arg(&solution)
        .output()
        .expect("runs");
    assert_refused(&refused, &["service `Audit_Log` is not a DNS label"]);

    let refused = flotilla()
        .args(["env", "add", "staging", "--repo"])
        .arg(&solution)
        .output()
        .expect("runs");
    assert_refused(&refused, &["the environment `staging` exists already"]);

    let refused = flotilla()
        .args(["env", "add", "qa", "--from", "nowhere", "--repo"])
        .arg(&solution)
        .output()
        .expect("runs");
    assert_refused(
        &refused,
        &["--from `nowhere`: no such environment", "`dev`, `staging`"],
    );

    let refused = flotilla()
        .args(["promote", "--from", "dev", "--to", "prod", "--repo"])
        .arg(&solution)
        .output()
        .expect("runs");
    assert_refused(&refused, &["no environment `prod`"]);

    // Local changes: refused before anything is generated.
    std::fs::write(solution.join("notes.txt"), "work in progress\n").expect("written");
    let refused = flotilla()
        .args(["env", "add", "qa", "--cert", certificate, "--repo"])
        .arg(&solution)
        .output()
        .expect("runs");
    assert_refused(
        &refused,
        &["has local changes", "notes.txt", "commit or stash"],
    );
    assert_eq!(git(&solution, &["status", "--porcelain"]), "?? notes.txt");
    assert_eq!(git(&solution, &["rev-parse", "HEAD"]), head);
    assert!(!solution.join("environments/qa").exists());

    // repo check: a missing directory cannot be checked; a broken repository has errors.
    let missing = flotilla()
        .args(["repo", "check"])
        .arg(root.join("nowhere"))
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    std::fs::remove_file(solution.join("notes.txt")).expect("removed");
    std::fs::write(
        solution.join("environments/dev/env/base/leaked.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\ndata:\n  token: c2VjcmV0\n",
    )
    .expect("written");
    std::fs::remove_file(solution.join("environments/staging/env/overlays/kustomization.yaml"))
        .expect("removed");
    let checked = flotilla()
        .args(["repo", "check", "-o", "json"])
        .arg(&solution)
        .output()
        .expect("runs");
    assert_eq!(checked.status.code(), Some(1), "{}", text(&checked));
    let report: serde_json::Value = serde_json::from_slice(&checked.stdout).expect("JSON");
    let messages: Vec<String> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|finding| {
            format!(
                "{} {} {}",
                finding["check"], finding["path"], finding["message"]
            )
        })
        .collect();
    assert!(
        messages
            .iter()
            .any(|message| message.contains("secret") && message.contains("leaked")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|message| message.contains("generated")
            && message.contains("environments/staging/env/overlays/kustomization.yaml")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|message| message.contains("renders")),
        "{messages:#?}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
