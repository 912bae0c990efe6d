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

/// What a path itself is, a symbolic link at its end not followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkStatus {
    Symlink,
    /// Not a symbolic link: what `kind` says too.
    Entry(EntryKind),
    Missing,
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

    /// What `path` itself is, not following a symbolic link at its end (`lstat`); `None`
    /// when the file system does not say.
    fn link_status(&self, _path: &Path) -> Option<LinkStatus> {
        None
    }

    /// A file's bytes, unless it holds more than `limit` bytes: then `Ok(Err(size))`.
    fn read_limited(&self, path: &Path, limit: u64) -> std::io::Result<Result<Vec<u8>, u64>> {
        if let Some(EntryKind::File { len }) = self.kind(path) {
            if len > limit {
                return Ok(Err(len));
            }
        }
        self.read(path).map(Ok)
    }

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

    fn link_status(&self, path: &Path) -> Option<LinkStatus> {
        match std::fs::symlink_metadata(path) {
            Ok(metadata) if metadata.file_type().is_symlink() => Some(LinkStatus::Symlink),
            Ok(metadata) if metadata.is_dir() => Some(LinkStatus::Entry(EntryKind::Directory)),
            Ok(metadata) => Some(LinkStatus::Entry(EntryKind::File {
                len: metadata.len(),
            })),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Some(LinkStatus::Missing),
            Err(_) => None,
        }
    }

    /// The size is read from the open file: one system call less than asking first.
    fn read_limited(&self, path: &Path, limit: u64) -> std::io::Result<Result<Vec<u8>, u64>> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        if len > limit {
            return Ok(Err(len));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        // Through `take`, which reads to the end without asking the size again, and stops
        // past the limit should the file have grown.
        (&mut file)
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Ok(Err(bytes.len() as u64));
        }
        Ok(Ok(bytes))
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

/// A file system that remembers, for the length of one build, which paths exist, what they
/// are and where they resolve to: a build asks again for the same directories (every patch
/// file resolves its kustomization's root) and resolving a path costs a system call per
/// component. File contents are not kept.
pub struct CachedFileSystem<'a> {
    inner: &'a dyn FileSystem,
    /// Keyed by the path's bytes (hashing a `Path` goes component by component).
    canonical: std::sync::Mutex<std::collections::HashMap<Vec<u8>, PathBuf>>,
    kinds: std::sync::Mutex<std::collections::HashMap<Vec<u8>, Option<EntryKind>>>,
    links: std::sync::Mutex<std::collections::HashMap<Vec<u8>, Option<LinkStatus>>>,
}

impl<'a> CachedFileSystem<'a> {
    pub fn new(inner: &'a dyn FileSystem) -> Self {
        CachedFileSystem {
            inner,
            canonical: Default::default(),
            kinds: Default::default(),
            links: Default::default(),
        }
    }
}

impl CachedFileSystem<'_> {
    fn remembered(&self, path: &Path) -> Option<PathBuf> {
        self.canonical
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(path.as_os_str().as_encoded_bytes())
            .cloned()
    }

    /// The real path of an absolute path whose last part is a name: its directory's real path
    /// and that name, when the name is no symbolic link (one `lstat` instead of resolving
    /// every part again); `None` when that does not apply.
    fn canonicalize_in_parent(&self, path: &Path) -> Option<std::io::Result<PathBuf>> {
        let Some(Component::Normal(name)) = path.components().next_back() else {
            return None;
        };
        let parent = path.parent().filter(|_| path.is_absolute())?;
        if !matches!(self.link_status(path), Some(LinkStatus::Entry(_))) {
            return None;
        }
        Some(self.canonicalize(parent).map(|real| real.join(name)))
    }
}

impl FileSystem for CachedFileSystem<'_> {
    fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf> {
        if let Some(real) = self.remembered(path) {
            return Ok(real);
        }
        // Errors are not remembered: they end the build, and their text says what happened.
        let real = match self.canonicalize_in_parent(path) {
            Some(real) => real?,
            None => self.inner.canonicalize(path)?,
        };
        self.canonical
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path.as_os_str().as_encoded_bytes().to_vec(), real.clone());
        Ok(real)
    }

    fn kind(&self, path: &Path) -> Option<EntryKind> {
        let kinds = self
            .kinds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = path.as_os_str().as_encoded_bytes();
        if let Some(kind) = kinds.get(key) {
            return *kind;
        }
        drop(kinds);
        // What is no symbolic link is what `lstat` said, which resolving it needs anyway.
        let kind = match self.link_status(path) {
            Some(LinkStatus::Entry(kind)) => Some(kind),
            Some(LinkStatus::Missing) => None,
            Some(LinkStatus::Symlink) | None => self.inner.kind(path),
        };
        self.kinds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_vec(), kind);
        kind
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.inner.read(path)
    }

    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<(String, EntryKind)>> {
        self.inner.read_dir(path)
    }

    fn link_status(&self, path: &Path) -> Option<LinkStatus> {
        let key = path.as_os_str().as_encoded_bytes();
        let mut links = self
            .links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(status) = links.get(key) {
            return *status;
        }
        let status = self.inner.link_status(path);
        links.insert(key.to_vec(), status);
        status
    }

    fn read_limited(&self, path: &Path, limit: u64) -> std::io::Result<Result<Vec<u8>, u64>> {
        self.inner.read_limited(path, limit)
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
    match files.read_limited(path, MAX_FILE_BYTES).map_err(io_error)? {
        Ok(bytes) => Ok(bytes),
        Err(size) => Err(BuildError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_FILE_BYTES,
        }),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cached_file_system_resolves_symbolic_links_as_the_disk_does() {
        let root = std::env::temp_dir().join(format!("flotilla-loader-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("real/base")).expect("create dirs");
        std::fs::write(root.join("real/base/file.yaml"), "a: 1\n").expect("write");
        std::os::unix::fs::symlink(root.join("real"), root.join("linked")).expect("symlink");
        std::os::unix::fs::symlink("base/file.yaml", root.join("real/file-link.yaml"))
            .expect("symlink");
        let cached = CachedFileSystem::new(&DISK);
        for path in [
            "linked/base/file.yaml",
            "linked/file-link.yaml",
            "real/base/../file-link.yaml",
            "linked/base",
            "linked",
        ] {
            let path = root.join(path);
            for _ in 0..2 {
                assert_eq!(
                    cached.canonicalize(&path).expect("resolves"),
                    std::fs::canonicalize(&path).expect("resolves"),
                    "{}",
                    path.display()
                );
                assert_eq!(cached.kind(&path), DISK.kind(&path), "{}", path.display());
            }
        }
        let missing = root.join("linked/missing.yaml");
        assert!(cached.canonicalize(&missing).is_err());
        assert_eq!(cached.kind(&missing), None);
        assert_eq!(
            read_bytes(&cached, &root.join("linked/file-link.yaml")).expect("read"),
            b"a: 1\n"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
