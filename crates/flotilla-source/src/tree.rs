//! A commit's tree read straight from a mirror's object database (gix), as a [`FileSystem`]
//! the renderer builds from: nothing is checked out, so a commit of a 50,000-file monorepo costs
//! the directories and files a render actually opens, not a file per blob on disk.
//!
//! The tree appears at a virtual root path (`GitTree::root`), which is what error messages
//! name. Directory listings are decoded once and kept; file contents are read on each request
//! (a render reads a file once). Symlinks are followed inside the tree the way the operating
//! system would; one that leaves the tree, or points at an absolute path, is refused. Submodules
//! are empty directories, as a checkout without `--recurse-submodules` leaves them.
//!
//! Invariants: a `GitTree` is immutable (a commit never changes), so it is shared between
//! threads and Applications; no path outside the root is read, except under the disk
//! directories the tree was given (`with_disk_directory`, for fetched remote bases).

use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use flotilla_kustomize::loader::{EntryKind, FileSystem, DISK};
use gix::objs::tree::EntryKind as GitEntryKind;
use gix::ObjectId;

/// Symlinks followed while resolving one path before giving up, as Linux's ELOOP.
const MAX_LINK_HOPS: usize = 40;

#[derive(Clone, Copy, Debug)]
enum Node {
    File(ObjectId),
    Directory(ObjectId),
    Link(ObjectId),
    /// A submodule: an empty directory.
    Submodule,
}

/// One decoded tree: entry name → node.
type Listing = HashMap<String, Node>;

/// A commit's tree as a read-only file system.
pub struct GitTree {
    root: PathBuf,
    repository: gix::ThreadSafeRepository,
    commit: ObjectId,
    root_tree: ObjectId,
    /// Decoded directories by their path relative to the root ("" is the root).
    listings: Mutex<HashMap<PathBuf, Arc<Listing>>>,
    /// Thread-local handles, reused (opening one per read would cost more than the read).
    handles: Mutex<Vec<gix::Repository>>,
    /// Disk directories readable beside the tree (remote bases fetched to a cache).
    disk_directories: Vec<PathBuf>,
}

/// Why a commit's tree cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("cannot open the git mirror `{}`: {message}", mirror.display())]
    Open { mirror: PathBuf, message: String },
    #[error("commit `{commit}` is not in the mirror `{}`: {message}", mirror.display())]
    MissingCommit {
        mirror: PathBuf,
        commit: String,
        message: String,
    },
}

// The errors below leave the requested path out: whoever asked (the kustomize loader, the
// renderer) names it; they name only what the caller cannot know (a link, the repository).

fn not_found() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        "No such file or directory in the repository",
    )
}

fn not_a_directory() -> io::Error {
    io::Error::new(io::ErrorKind::NotADirectory, "Not a directory")
}

fn object_error(path: &Path, error: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!(
        "`{}`: cannot read the git object: {error}",
        path.display()
    ))
}

impl GitTree {
    /// Opens the tree of `commit` in the bare repository `mirror`, to appear at `root`.
    pub fn open(mirror: &Path, commit: &str, root: &Path) -> Result<GitTree, TreeError> {
        let repository =
            gix::ThreadSafeRepository::open_opts(mirror, gix::open::Options::isolated()).map_err(
                |error| TreeError::Open {
                    mirror: mirror.to_path_buf(),
                    message: error.to_string(),
                },
            )?;
        let missing = |message: String| TreeError::MissingCommit {
            mirror: mirror.to_path_buf(),
            commit: commit.to_string(),
            message,
        };
        let id =
            ObjectId::from_hex(commit.as_bytes()).map_err(|error| missing(error.to_string()))?;
        let local = repository.to_thread_local();
        let root_tree = local
            .find_commit(id)
            .map_err(|error| missing(error.to_string()))?
            .tree_id()
            .map_err(|error| missing(error.to_string()))?
            .detach();
        Ok(GitTree {
            root: root.to_path_buf(),
            repository,
            commit: id,
            root_tree,
            listings: Mutex::new(HashMap::new()),
            handles: Mutex::new(vec![local]),
            disk_directories: Vec::new(),
        })
    }

    /// Also allows reading the disk under `directory` (fetched remote bases live there).
    pub fn with_disk_directory(mut self, directory: &Path) -> GitTree {
        self.disk_directories.push(directory.to_path_buf());
        self
    }

    /// The path the tree appears at.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The earlier texts of the file at `path` (relative to the repository's top, `/`
    /// separated, no symlinks followed), oldest first, from the first-parent history of this
    /// tree's commit: each text the file had before the one it has here, once, in the order it
    /// first appeared (as a schema registry numbers versions: registering a text it already holds
    /// adds no version). Each comes with the short id of the first commit that had it. At most
    /// `max_commits` commits are read; commits whose objects the mirror lacks (a shallow fetch)
    /// end the walk. A file that is not valid UTF-8 at some commit is left out there.
    pub fn file_history(&self, path: &str, max_commits: usize) -> Vec<(String, String)> {
        self.with_handle(|repository| {
            let mut seen = std::collections::HashSet::new();
            // Newest first while walking: (commit, blob) per first appearance, walking back.
            let mut versions: Vec<(ObjectId, ObjectId)> = Vec::new();
            let mut current = Some(self.commit);
            let mut previous_blob: Option<ObjectId> = None;
            for _ in 0..max_commits {
                let Some(id) = current else { break };
                let Ok(commit) = repository.find_commit(id) else {
                    break;
                };
                current = commit.parent_ids().next().map(|parent| parent.detach());
                let Ok(tree) = commit.tree() else { break };
                let blob = tree
                    .lookup_entry_by_path(path)
                    .ok()
                    .flatten()
                    .filter(|entry| entry.mode().is_blob())
                    .map(|entry| entry.object_id());
                let Some(blob) = blob else {
                    // The file did not exist before this commit: its history starts here.
                    if previous_blob.is_some() {
                        break;
                    }
                    continue;
                };
                // Walking back, the commit that introduced a text is the last one seen with it.
                match versions.last_mut() {
                    Some(last) if previous_blob == Some(blob) => last.0 = id,
                    _ => versions.push((id, blob)),
                }
                previous_blob = Some(blob);
            }
            // The text this tree holds is not history.
            let here = versions.first().map(|(_, blob)| *blob);
            let mut history = Vec::new();
            for (commit, blob) in versions.into_iter().rev() {
                if Some(blob) == here || !seen.insert(blob) {
                    continue;
                }
                let Ok(object) = repository.find_object(blob) else {
                    continue;
                };
                if let Ok(text) = String::from_utf8(object.detach().data) {
                    history.push((commit.to_hex_with_len(8).to_string(), text));
                }
            }
            history
        })
    }

    fn with_handle<T>(&self, work: impl FnOnce(&gix::Repository) -> T) -> T {
        let handle = self
            .handles
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
            .unwrap_or_else(|| self.repository.to_thread_local());
        let result = work(&handle);
        self.handles
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(handle);
        result
    }

    fn blob(&self, id: ObjectId, path: &Path) -> io::Result<Vec<u8>> {
        self.with_handle(|repository| {
            repository
                .find_object(id)
                .map(|object| object.detach().data)
                .map_err(|error| object_error(path, error))
        })
    }

    fn blob_size(&self, id: ObjectId, path: &Path) -> io::Result<u64> {
        self.with_handle(|repository| {
            repository
                .find_header(id)
                .map(|header| header.size())
                .map_err(|error| object_error(path, error))
        })
    }

    /// The listing of the directory at `relative` (already resolved, no symlinks in it).
    fn listing(&self, relative: &Path, tree: ObjectId) -> io::Result<Arc<Listing>> {
        if let Some(listing) = self
            .listings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(relative)
        {
            return Ok(listing.clone());
        }
        let shown = self.root.join(relative);
        let listing = self.with_handle(|repository| -> io::Result<Listing> {
            let object = repository
                .find_object(tree)
                .map_err(|error| object_error(&shown, error))?;
            let tree = object
                .try_into_tree()
                .map_err(|error| object_error(&shown, error))?;
            let decoded = tree.decode().map_err(|error| object_error(&shown, error))?;
            let mut listing = Listing::with_capacity(decoded.entries.len());
            for entry in decoded.entries {
                let id = entry.oid.to_owned();
                let node = match entry.mode.kind() {
                    GitEntryKind::Tree => Node::Directory(id),
                    GitEntryKind::Blob | GitEntryKind::BlobExecutable => Node::File(id),
                    GitEntryKind::Link => Node::Link(id),
                    GitEntryKind::Commit => Node::Submodule,
                };
                listing.insert(entry.filename.to_string(), node);
            }
            Ok(listing)
        })?;
        let listing = Arc::new(listing);
        self.listings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(relative.to_path_buf(), listing.clone());
        Ok(listing)
    }

    /// Follows `path` (under the root) through the tree, symlinks included. Returns the
    /// resolved path relative to the root and what it names.
    fn resolve(&self, path: &Path, relative: &Path) -> io::Result<(PathBuf, Node)> {
        let mut pending: Vec<String> = Vec::new();
        push_components(&mut pending, relative)?;
        pending.reverse();
        let mut resolved = PathBuf::new();
        // The chain of directories walked, to step back on `..`.
        let mut nodes = vec![Node::Directory(self.root_tree)];
        let mut hops = 0;
        while let Some(name) = pending.pop() {
            if name == ".." {
                if nodes.len() == 1 {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        "the path leaves the repository through `..`",
                    ));
                }
                nodes.pop();
                resolved.pop();
                continue;
            }
            let current = *nodes.last().expect("the root is never popped");
            let listing = match current {
                Node::Directory(tree) => self.listing(&resolved, tree)?,
                Node::Submodule => return Err(not_found()),
                Node::File(_) | Node::Link(_) => return Err(not_a_directory()),
            };
            let Some(node) = listing.get(&name).copied() else {
                return Err(not_found());
            };
            if let Node::Link(id) = node {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "Too many levels of symbolic links (a loop?)",
                    ));
                }
                let target_bytes = self.blob(id, path)?;
                let target = String::from_utf8_lossy(&target_bytes).into_owned();
                if Path::new(&target).is_absolute() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!(
                            "`{}` is a symlink to the absolute path `{target}`, outside the repository; make it a relative link to a file in the repository",
                            self.root.join(&resolved).join(&name).display()
                        ),
                    ));
                }
                let mut target_components = Vec::new();
                push_components(&mut target_components, Path::new(&target))?;
                pending.extend(target_components.into_iter().rev());
                continue;
            }
            resolved.push(&name);
            nodes.push(node);
        }
        Ok((resolved, *nodes.last().expect("the root is never popped")))
    }

    /// Where `path` points: inside the tree (relative path), on the allowed disk, or nowhere.
    fn place<'p>(&self, path: &'p Path) -> io::Result<Place<'p>> {
        if let Ok(relative) = path.strip_prefix(&self.root) {
            return Ok(Place::Tree(relative));
        }
        if self
            .disk_directories
            .iter()
            .any(|directory| path.starts_with(directory))
        {
            return Ok(Place::Disk);
        }
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("outside the repository (`{}`)", self.root.display()),
        ))
    }

    fn kind_of(&self, node: Node, path: &Path) -> io::Result<EntryKind> {
        Ok(match node {
            Node::Directory(_) | Node::Submodule => EntryKind::Directory,
            Node::File(id) => EntryKind::File {
                len: self.blob_size(id, path)?,
            },
            Node::Link(_) => unreachable!("resolve follows links"),
        })
    }
}

enum Place<'p> {
    Tree(&'p Path),
    Disk,
}

/// Appends the normal and `..` components of `path` to `out` (`.` dropped).
fn push_components(out: &mut Vec<String>, path: &Path) -> io::Result<()> {
    for component in path.components() {
        match component {
            Component::Normal(name) => out.push(name.to_string_lossy().into_owned()),
            Component::ParentDir => out.push("..".into()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err(not_found()),
        }
    }
    Ok(())
}

impl FileSystem for GitTree {
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        match self.place(path)? {
            Place::Disk => DISK.canonicalize(path),
            Place::Tree(relative) => {
                let (resolved, _) = self.resolve(path, relative)?;
                Ok(if resolved.as_os_str().is_empty() {
                    self.root.clone()
                } else {
                    self.root.join(resolved)
                })
            }
        }
    }

    fn kind(&self, path: &Path) -> Option<EntryKind> {
        match self.place(path).ok()? {
            Place::Disk => DISK.kind(path),
            Place::Tree(relative) => {
                let (_, node) = self.resolve(path, relative).ok()?;
                self.kind_of(node, path).ok()
            }
        }
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self.place(path)? {
            Place::Disk => DISK.read(path),
            Place::Tree(relative) => match self.resolve(path, relative)? {
                (_, Node::File(id)) => self.blob(id, path),
                _ => Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "Is a directory",
                )),
            },
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(String, EntryKind)>> {
        match self.place(path)? {
            Place::Disk => DISK.read_dir(path),
            Place::Tree(relative) => {
                let (resolved, node) = self.resolve(path, relative)?;
                let tree = match node {
                    Node::Directory(tree) => tree,
                    Node::Submodule => return Ok(Vec::new()),
                    _ => return Err(not_a_directory()),
                };
                let listing = self.listing(&resolved, tree)?;
                let mut entries = Vec::with_capacity(listing.len());
                for (name, node) in listing.iter() {
                    let entry_path = path.join(name);
                    let kind = match node {
                        // A dangling or escaping link is left out, as `kind` would say nothing.
                        Node::Link(_) => match self.kind(&entry_path) {
                            Some(kind) => kind,
                            None => continue,
                        },
                        other => self.kind_of(*other, &entry_path)?,
                    };
                    entries.push((name.clone(), kind));
                }
                Ok(entries)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A scratch directory removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let path =
                std::env::temp_dir().join(format!("flotilla-tree-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("scratch directory");
            Scratch(path)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn git(directory: &Path, arguments: &[&str]) -> String {
        let output = Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
            .args(arguments)
            .current_dir(directory)
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {arguments:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// A repository with nested directories, an executable, links inside the tree, a link out
    /// of it, an absolute link and a link loop; returns (repository, commit).
    fn sample(directory: &Path) -> (PathBuf, String) {
        let work = directory.join("work");
        std::fs::create_dir_all(work.join("base/nested")).expect("dirs");
        std::fs::create_dir_all(work.join("overlays/dev")).expect("dirs");
        std::fs::write(
            work.join("base/kustomization.yaml"),
            "resources:\n- a.yaml\n",
        )
        .expect("write");
        std::fs::write(work.join("base/a.yaml"), "kind: A\n").expect("write");
        std::fs::write(work.join("base/nested/b.yaml"), "kind: B\n").expect("write");
        std::fs::write(work.join("run.sh"), "#!/bin/sh\n").expect("write");
        let links = [
            ("../../base", "overlays/dev/base-link"),
            ("../../base/a.yaml", "overlays/dev/a-link.yaml"),
            ("../../..", "overlays/dev/outside"),
            ("/etc/passwd", "overlays/dev/absolute"),
            ("loop-b", "overlays/dev/loop-a"),
            ("loop-a", "overlays/dev/loop-b"),
        ];
        for (target, link) in links {
            std::os::unix::fs::symlink(target, work.join(link)).expect("symlink");
        }
        git(&work, &["init", "--quiet"]);
        git(&work, &["add", "-A"]);
        git(&work, &["update-index", "--chmod=+x", "run.sh"]);
        git(&work, &["commit", "--quiet", "-m", "sample"]);
        let commit = git(&work, &["rev-parse", "HEAD"]);
        let mirror = directory.join("mirror.git");
        git(
            directory,
            &["clone", "--quiet", "--bare", "work", "mirror.git"],
        );
        (mirror, commit)
    }

    #[test]
    fn reads_like_a_checkout() {
        let scratch = Scratch::new("reads");
        let (mirror, commit) = sample(scratch.path());
        let root = scratch.path().join("virtual-root");
        let tree = GitTree::open(&mirror, &commit, &root).expect("opens");
        assert_eq!(
            tree.read(&root.join("base/a.yaml")).expect("reads"),
            b"kind: A\n"
        );
        assert_eq!(
            tree.kind(&root.join("base/nested/b.yaml")),
            Some(EntryKind::File { len: 8 })
        );
        assert!(tree.is_dir(&root.join("base/nested")));
        assert!(tree.is_dir(&root));
        assert!(tree.is_file(&root.join("run.sh")));
        assert_eq!(tree.kind(&root.join("base/missing.yaml")), None);
        assert_eq!(tree.kind(&root.join("run.sh/below")), None);
        let mut names: Vec<(String, EntryKind)> = tree.read_dir(&root.join("base")).expect("lists");
        names.sort_by(|left, right| left.0.cmp(&right.0));
        assert_eq!(
            names,
            vec![
                ("a.yaml".to_string(), EntryKind::File { len: 8 }),
                (
                    "kustomization.yaml".to_string(),
                    EntryKind::File { len: 20 }
                ),
                ("nested".to_string(), EntryKind::Directory),
            ]
        );
        assert!(tree.read(&root.join("base")).is_err());
        // `..` is lexical-then-physical as the OS does it, and never leaves the root.
        assert_eq!(
            tree.canonicalize(&root.join("base/nested/../a.yaml"))
                .expect("resolves"),
            root.join("base/a.yaml")
        );
        assert!(tree.canonicalize(&root.join("../elsewhere")).is_err());
    }

    #[test]
    fn follows_links_inside_the_tree_and_refuses_the_rest() {
        let scratch = Scratch::new("links");
        let (mirror, commit) = sample(scratch.path());
        let root = scratch.path().join("virtual-root");
        let tree = GitTree::open(&mirror, &commit, &root).expect("opens");
        let dev = root.join("overlays/dev");
        assert_eq!(
            tree.canonicalize(&dev.join("base-link/nested"))
                .expect("resolves"),
            root.join("base/nested")
        );
        assert_eq!(
            tree.read(&dev.join("a-link.yaml")).expect("reads"),
            b"kind: A\n"
        );
        for escaping in ["outside", "absolute", "loop-a"] {
            let error = tree.canonicalize(&dev.join(escaping)).expect_err(escaping);
            assert!(!error.to_string().is_empty());
            assert_eq!(tree.kind(&dev.join(escaping)), None, "{escaping}");
        }
        let message = tree
            .read(&dev.join("absolute"))
            .expect_err("absolute")
            .to_string();
        assert!(message.contains("outside the repository"), "{message}");
        // Listing leaves out the links that lead nowhere readable.
        let mut names: Vec<String> = tree
            .read_dir(&dev)
            .expect("lists")
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        names.sort();
        assert_eq!(names, vec!["a-link.yaml", "base-link"]);
        // Paths outside the root are refused unless a disk directory was allowed.
        let outside = scratch.path().join("work/base/a.yaml");
        assert!(tree.read(&outside).is_err());
        let tree = GitTree::open(&mirror, &commit, &root)
            .expect("opens")
            .with_disk_directory(&scratch.path().join("work"));
        assert_eq!(tree.read(&outside).expect("reads"), b"kind: A\n");
    }

    #[test]
    fn a_missing_commit_is_a_clear_error() {
        let scratch = Scratch::new("missing");
        let (mirror, _) = sample(scratch.path());
        let error = GitTree::open(
            &mirror,
            "0123456789012345678901234567890123456789",
            &scratch.path().join("root"),
        )
        .err()
        .expect("missing");
        assert!(
            error.to_string().contains("is not in the mirror"),
            "{error}"
        );
    }

    #[test]
    fn a_files_history_lists_its_earlier_texts_once_oldest_first() {
        let scratch = Scratch::new("history");
        let work = scratch.path().join("work");
        std::fs::create_dir_all(work.join("schemas")).expect("dirs");
        git(&work, &["init", "--quiet"]);
        let mut commits = Vec::new();
        // v1, v2, an unrelated commit, v1 again (a registry adds no version), v3.
        for (text, other) in [
            ("v1", "a"),
            ("v2", "a"),
            ("v2", "b"),
            ("v1", "b"),
            ("v3", "b"),
        ] {
            std::fs::write(work.join("schemas/orders.avsc"), text).expect("write");
            std::fs::write(work.join("other.txt"), other).expect("write");
            git(&work, &["add", "-A"]);
            git(&work, &["commit", "--quiet", "--allow-empty", "-m", text]);
            commits.push(git(&work, &["rev-parse", "HEAD"]));
        }
        git(
            scratch.path(),
            &["clone", "--quiet", "--bare", "work", "mirror.git"],
        );
        let mirror = scratch.path().join("mirror.git");
        let root = scratch.path().join("root");
        let history = |commit: &str, limit: usize| -> Vec<(String, String)> {
            GitTree::open(&mirror, commit, &root)
                .expect("opens")
                .file_history("schemas/orders.avsc", limit)
        };
        let short = |index: usize| commits[index][..8].to_string();
        assert_eq!(
            history(&commits[4], 100),
            [(short(0), "v1".to_string()), (short(1), "v2".to_string())]
        );
        // At the third commit the file holds v2: only v1 came before.
        assert_eq!(history(&commits[2], 100), [(short(0), "v1".to_string())]);
        // The walk is bounded.
        assert_eq!(history(&commits[4], 2), [(short(3), "v1".to_string())]);
        assert!(GitTree::open(&mirror, &commits[4], &root)
            .expect("opens")
            .file_history("schemas/missing.avsc", 100)
            .is_empty());
    }
}
