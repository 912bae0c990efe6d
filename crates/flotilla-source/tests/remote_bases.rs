//! Remote bases end to end: a kustomization that names a `file://` git repository at a tag
//! builds like one that names the same directory locally, and the clone is reused.

use std::path::Path;
use std::process::Command;

use flotilla_kustomize::{build_to_yaml, BuildOptions};
use flotilla_source::GitFetcher;

fn git(dir: &Path, arguments: &[&str]) {
    let status = Command::new("git")
        .args(arguments)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {arguments:?}");
}

#[test]
fn file_repository_at_a_tag_is_a_base() {
    if Command::new("git").arg("--version").output().is_err() {
        eprintln!("skipping: git is not installed");
        return;
    }
    let root = std::env::temp_dir().join(format!("flotilla-remote-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let repository = root.join("repo");
    std::fs::create_dir_all(repository.join("base")).expect("mkdir");
    std::fs::write(
        repository.join("base/kustomization.yaml"),
        "resources:\n- cm.yaml\n",
    )
    .expect("write");
    std::fs::write(
        repository.join("base/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  version: one\n",
    )
    .expect("write");
    git(&repository, &["init", "--quiet", "--initial-branch=main"]);
    git(&repository, &["add", "."]);
    git(&repository, &["commit", "--quiet", "-m", "v1"]);
    git(&repository, &["tag", "v1"]);
    // A later commit on main must not leak into the tagged build.
    std::fs::write(
        repository.join("base/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  version: two\n",
    )
    .expect("write");
    git(&repository, &["commit", "--quiet", "-am", "v2"]);

    let overlay = root.join("overlay");
    std::fs::create_dir_all(&overlay).expect("mkdir");
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!(
            "namePrefix: dev-\nresources:\n- file://{}//base?ref=v1\n",
            repository.display()
        ),
    )
    .expect("write");
    let fetcher = GitFetcher::new(&root.join("cache"));
    let options = BuildOptions {
        fetcher: Some(&fetcher),
        ..BuildOptions::default()
    };
    let output = build_to_yaml(&overlay, options).expect("remote base builds");
    assert_eq!(
        output,
        "apiVersion: v1\ndata:\n  version: one\nkind: ConfigMap\nmetadata:\n  name: dev-shared\n"
    );
    // Cached by URL and ref: a second build reuses the clone.
    let entries = std::fs::read_dir(root.join("cache"))
        .expect("cache")
        .count();
    build_to_yaml(&overlay, options).expect("builds again");
    assert_eq!(
        std::fs::read_dir(root.join("cache"))
            .expect("cache")
            .count(),
        entries
    );

    // A missing ref is a clear error naming the repository.
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!(
            "resources:\n- file://{}//base?ref=nope\n",
            repository.display()
        ),
    )
    .expect("write");
    let error = build_to_yaml(&overlay, options).expect_err("missing ref");
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(text.contains("nope") || text.contains("git"), "{text}");
    let _ = std::fs::remove_dir_all(&root);
}
