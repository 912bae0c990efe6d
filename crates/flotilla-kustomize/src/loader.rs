//! File access for a build: reading files relative to a kustomization root under the load
//! restrictor, and resolving remote bases through a `Fetcher`.
//!
//! Every read goes through a [`FileSystem`]: the disk by default, or any tree the caller
//! provides (the engine renders straight from a git commit held in memory).
//!
//! Invariant: with `LoadRestrictor::RootOnly`, no file outside the root of the kustomization
//! that names it is ever read (symlinks are resolved before the check), as kustomize does.

use std::path::{Component, Path, PathBuf};

use crate::error::{BuildError, Result};

/// Largest file the renderer reads; larger inputs fail with a clear error instead of exhausting
/// memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Whether a kustomization may read files outside its own directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoadRestrictor {
    #[default]
    RootOnly,
    None,
}

/// Brings a remote base (`github.com/org/repo//path?ref=v1`, `https://…git`) to a local
/// directory. The renderer itself never touches the network.
pub trait Fetcher: Send + Sync {
    /// Returns a local directory holding the kustomization the URL names.
    fn fetch(&self, url: &str) -> Result<PathBuf, String>;
}

/// What a path names, symlinks followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File { len: u64 },
    Directory,
}

/// The files a build reads. Paths are absolute (or as the caller gave them); every method
/// follows symlinks, as reading through the operating system does.
pub trait FileSystem: Send + Sync {
    /// The path with `.`/`..` and symlinks resolved; an error when it does not exist.
    fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf>;
    /// What `path` is, or `None` when it does not exist.
    fn kind(&self, path: &Path) -> Option<EntryKind>;
    /// A file's bytes.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    /// The names in a directory with what each is, in no particular order.
    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<(String, EntryKind)>>;

    fn is_dir(&self, path: &Path) -> bool {
        self.kind(path) == Some(EntryKind::Directory)
    }
    fn is_file(&self, path: &Path) -> bool {
        matches!(self.kind(path), Some(EntryKind::File { .. }))
    }
    fn exists(&self, path: &Path) -> bool {
        self.kind(path).is_some()
    }
}

/// The operating system's file system.
pub struct DiskFileSystem;

/// The disk, for builds that name no other file system.
pub static DISK: DiskFileSystem = DiskFileSystem;

impl FileSystem for DiskFileSystem {
    fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn kind(&self, path: &Path) -> Option<EntryKind> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(if metadata.is_dir() {
            EntryKind::Directory
        } else {
            EntryKind::File {
                len: metadata.len(),
            }
        })
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<(String, EntryKind)>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if let Some(kind) = self.kind(&entry.path()) {
                entries.push((entry.file_name().to_string_lossy().into_owned(), kind));
            }
        }
        Ok(entries)
    }
}

/// The names kustomize accepts for a kustomization file, in the order it looks for them.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// `path` with symlinks and `..` resolved; an error naming it when it does not exist.
pub fn canonicalize(files: &dyn FileSystem, path: &Path) -> Result<PathBuf> {
    files.canonicalize(path).map_err(|source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads `path` as UTF-8 text with the size limit.
pub fn read_text(files: &dyn FileSystem, path: &Path) -> Result<String> {
    String::from_utf8(read_bytes(files, path)?).map_err(|error| BuildError::NotUtf8 {
        path: path.to_path_buf(),
        offset: error.utf8_error().valid_up_to(),
    })
}

/// Reads raw bytes (for generator files, which may be binary), with the size limit.
pub fn read_bytes(files: &dyn FileSystem, path: &Path) -> Result<Vec<u8>> {
    let io_error = |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(EntryKind::File { len }) = files.kind(path) {
        if len > MAX_FILE_BYTES {
            return Err(BuildError::TooLarge {
                path: path.to_path_buf(),
                size: len,
                limit: MAX_FILE_BYTES,
            });
        }
    }
    files.read(path).map_err(io_error)
}

/// Joins `relative` to `root` lexically (`..` removed), without touching the file system.
pub fn join_clean(root: &Path, relative: &str) -> PathBuf {
    let joined = if Path::new(relative).is_absolute() {
        PathBuf::from(relative)
    } else {
        root.join(relative)
    };
    let mut clean = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other.as_os_str()),
        }
    }
    clean
}

/// Resolves `relative` against `root` and enforces the restrictor. Returns the real path
/// (symlinks resolved).
pub fn resolve_restricted(
    files: &dyn FileSystem,
    root: &Path,
    relative: &str,
    restrictor: LoadRestrictor,
) -> Result<PathBuf> {
    let lexical = join_clean(root, relative);
    let real = canonicalize(files, &lexical)?;
    if restrictor == LoadRestrictor::RootOnly {
        let real_root = files
            .canonicalize(root)
            .unwrap_or_else(|_| root.to_path_buf());
        if !real.starts_with(&real_root) {
            return Err(BuildError::OutsideRoot {
                path: real,
                root: real_root,
            });
        }
    }
    Ok(real)
}

/// Finds the kustomization file in `dir`.
pub fn find_kustomization_file(files: &dyn FileSystem, dir: &Path) -> Result<PathBuf> {
    let found: Vec<PathBuf> = KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| files.is_file(path))
        .collect();
    match found.len() {
        0 => Err(BuildError::MissingKustomization {
            dir: dir.to_path_buf(),
        }),
        1 => Ok(found.into_iter().next().expect("one element")),
        _ => Err(BuildError::MultipleKustomizations {
            dir: dir.to_path_buf(),
            names: found
                .iter()
                .filter_map(|path| path.file_name())
                .map(|name| format!("`{}`", name.to_string_lossy()))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Whether a resource entry names a remote base rather than a local path.
pub fn is_remote(entry: &str) -> bool {
    entry.starts_with("https://")
        || entry.starts_with("http://")
        || entry.starts_with("git@")
        || entry.starts_with("ssh://")
        || entry.starts_with("git::")
        || entry.starts_with("file://")
        || entry.starts_with("github.com/")
        || entry.starts_with("gitlab.com/")
        || entry.starts_with("bitbucket.org/")
}
