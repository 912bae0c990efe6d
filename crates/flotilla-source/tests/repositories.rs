//! Application sources end to end over `file://`: HEAD, branches, annotated tags and commit ids
//! resolve to the right commits, a new commit is seen on the next resolve, commit trees hold the
//! commit's files, mirrors rewrite URLs, and an unknown revision is a clear error.

use std::path::Path;
use std::process::Command;

use flotilla_kustomize::loader::FileSystem;
use flotilla_source::{FetchError, Repositories};

fn git(dir: &Path, arguments: &[&str]) -> String {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {arguments:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn revisions_resolve_and_trees_hold_the_commit() {
    if Command::new("git").arg("--version").output().is_err() {
        eprintln!("skipping: git is not installed");
        return;
    }
    let root = std::env::temp_dir().join(format!("flotilla-repositories-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let origin = root.join("origin");
    std::fs::create_dir_all(origin.join("app")).expect("mkdir");
    std::fs::write(origin.join("app/cm.yaml"), "one\n").expect("write");
    git(&origin, &["init", "--quiet", "--initial-branch=main"]);
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "--quiet", "-m", "one"]);
    git(&origin, &["tag", "-a", "-m", "release", "v1"]);
    let first = git(&origin, &["rev-parse", "HEAD"]);

    let url = "https://git.example.com/team/repo.git";
    let repositories = Repositories::new(&root.join("cache")).with_mirror(
        "https://git.example.com/team/",
        &format!("file://{}/", root.display()),
    );
    let origin_url = "https://git.example.com/team/origin";
    assert_eq!(
        repositories
            .resolve(origin_url, "HEAD")
            .expect("HEAD")
            .commit,
        first
    );
    assert_eq!(
        repositories.resolve(origin_url, "").expect("empty").commit,
        first
    );
    assert_eq!(
        repositories
            .resolve(origin_url, "main")
            .expect("main")
            .commit,
        first
    );
    assert_eq!(
        repositories.resolve(origin_url, "v1").expect("tag").commit,
        first
    );
    let tree = repositories.tree(origin_url, &first).expect("tree");
    assert_eq!(
        tree.read(&tree.root().join("app/cm.yaml")).expect("read"),
        b"one\n"
    );
    // Nothing is written to disk for it.
    assert!(!tree.root().exists());
    // Remote bases fetched to the directory the repositories name can be read beside it.
    let remote_bases = repositories
        .remote_bases_dir()
        .expect("remote bases directory");
    std::fs::create_dir_all(remote_bases.join("base")).expect("mkdir");
    std::fs::write(remote_bases.join("base/cm.yaml"), "remote\n").expect("write");
    assert_eq!(
        tree.read(&remote_bases.join("base/cm.yaml")).expect("read"),
        b"remote\n"
    );

    std::fs::write(origin.join("app/cm.yaml"), "two\n").expect("write");
    git(&origin, &["commit", "--quiet", "-am", "two"]);
    let second = git(&origin, &["rev-parse", "HEAD"]);
    assert_eq!(
        repositories
            .resolve(origin_url, "main")
            .expect("main")
            .commit,
        second
    );
    assert_eq!(
        repositories.resolve(origin_url, "v1").expect("tag").commit,
        first
    );
    assert_eq!(
        repositories
            .resolve(origin_url, &first[..10])
            .expect("short id")
            .commit,
        first
    );
    let tree = repositories.tree(origin_url, &second).expect("tree");
    assert_eq!(
        tree.read(&tree.root().join("app/cm.yaml")).expect("read"),
        b"two\n"
    );
    // The first commit's tree is unchanged.
    let old = repositories.tree(origin_url, &first).expect("tree");
    assert_eq!(
        old.read(&old.root().join("app/cm.yaml")).expect("read"),
        b"one\n"
    );

    match repositories.resolve(origin_url, "no-such-branch") {
        Err(FetchError::UnknownRevision { revision, .. }) => assert_eq!(revision, "no-such-branch"),
        other => panic!("expected an unknown revision, got {other:?}"),
    }
    match repositories.resolve(url, "HEAD") {
        Err(error @ FetchError::Git { .. }) => assert!(error.to_string().contains("repo.git")),
        other => panic!("expected a git error for a missing repository, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&root);
}
