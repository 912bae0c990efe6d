//! The repository on disk: reading what is there, working out what a new generation changes
//! (three-way, so files the team edited are not overwritten unasked), and writing it without
//! leaving anything half-written (every file is first written into a staging directory beside
//! the repository, then renamed into place; a new repository is renamed into place whole).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::generate::Tree;

/// What a regeneration does to the repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Files to write (new or changed), with their text.
    pub write: Tree,
    /// Files to remove: generated before, not any more, and not edited since.
    pub remove: Vec<String>,
    /// Generated files the team edited, left as they are (`--overwrite` replaces them).
    pub kept_edited: Vec<String>,
}

impl Changes {
    /// Works out the changes: `current` is the repository, `previous` what the previous
    /// manifest generates (with the same pins and secrets: what the repository holds if
    /// nobody edited it), `next` what the new manifest generates.
    pub fn between(
        current: &Tree,
        previous: Option<&Tree>,
        next: &Tree,
        overwrite: bool,
    ) -> Changes {
        let mut changes = Changes::default();
        for (path, text) in next {
            match current.get(path) {
                Some(existing) if existing == text => {}
                None => {
                    changes.write.insert(path.clone(), text.clone());
                }
                Some(existing) => {
                    let untouched =
                        previous.and_then(|previous| previous.get(path)) == Some(existing);
                    if untouched || overwrite {
                        changes.write.insert(path.clone(), text.clone());
                    } else {
                        changes.kept_edited.push(path.clone());
                    }
                }
            }
        }
        if let Some(previous) = previous {
            for (path, text) in previous {
                if next.contains_key(path) {
                    continue;
                }
                match current.get(path) {
                    Some(existing) if existing == text || overwrite => {
                        changes.remove.push(path.clone())
                    }
                    Some(_) => changes.kept_edited.push(path.clone()),
                    None => {}
                }
            }
        }
        changes
    }

    pub fn is_empty(&self) -> bool {
        self.write.is_empty() && self.remove.is_empty()
    }

    /// Every path written or removed.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: BTreeSet<String> = self.write.keys().cloned().collect();
        paths.extend(self.remove.iter().cloned());
        paths.into_iter().collect()
    }
}

/// Files larger than this are not read as repository text.
const LARGEST_TEXT_FILE: u64 = 4 << 20;

/// The text files of a repository (`.git` and other hidden directories left out), by
/// `/`-separated relative path. A missing directory is an empty tree.
pub fn read_tree(root: &Path) -> std::io::Result<Tree> {
    let mut tree = Tree::new();
    if !root.exists() {
        return Ok(tree);
    }
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in std::fs::read_dir(root.join(&relative))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let kind = entry.file_type()?;
            let path = relative.join(&name);
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && entry.metadata()?.len() <= LARGEST_TEXT_FILE {
                if let Ok(text) = std::fs::read_to_string(entry.path()) {
                    let key = path
                        .components()
                        .map(|part| part.as_os_str().to_string_lossy().to_string())
                        .collect::<Vec<_>>()
                        .join("/");
                    tree.insert(key, text);
                }
            }
        }
    }
    Ok(tree)
}

/// An I/O error that names the file it happened to.
fn naming(path: &Path, error: std::io::Error) -> std::io::Error {
    std::io::Error::new(error.kind(), format!("`{}`: {error}", path.display()))
}

/// Writes `changes` into `root`: staged beside it first, then renamed into place. When `root`
/// does not exist, the staged tree becomes it in one rename.
pub fn apply(root: &Path, changes: &Changes) -> std::io::Result<()> {
    let parent = match root.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let stem = root
        .file_name()
        .map(|name| name.to_string_lossy().to_string())
        .unwrap_or_else(|| "repository".into());
    let staging = parent.join(format!(".{stem}.flotilla-staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| {
        for (path, text) in &changes.write {
            let target = staging.join(path);
            if let Some(directory) = target.parent() {
                std::fs::create_dir_all(directory)?;
            }
            std::fs::write(&target, text).map_err(|error| naming(&target, error))?;
        }
        if !root.exists() {
            std::fs::create_dir_all(&staging)?;
            return std::fs::rename(&staging, root);
        }
        for path in changes.write.keys() {
            let target = root.join(path);
            if let Some(directory) = target.parent() {
                std::fs::create_dir_all(directory)?;
            }
            std::fs::rename(staging.join(path), &target).map_err(|error| naming(&target, error))?;
        }
        for path in &changes.remove {
            let target = root.join(path);
            if target.exists() {
                std::fs::remove_file(&target).map_err(|error| naming(&target, error))?;
            }
            // Directories the removal emptied go too (up to the root).
            let mut directory = target.parent().map(Path::to_path_buf);
            while let Some(current) = directory {
                if current == root || std::fs::remove_dir(&current).is_err() {
                    break;
                }
                directory = current.parent().map(Path::to_path_buf);
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(entries: &[(&str, &str)]) -> Tree {
        entries
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .collect()
    }

    #[test]
    fn edited_files_are_kept_unless_overwritten() {
        let previous = tree(&[("a", "1"), ("b", "1"), ("gone", "1"), ("gone-edited", "1")]);
        let current = tree(&[
            ("a", "1"),
            ("b", "edited"),
            ("gone", "1"),
            ("gone-edited", "2"),
        ]);
        let next = tree(&[("a", "2"), ("b", "2"), ("new", "1")]);
        let changes = Changes::between(&current, Some(&previous), &next, false);
        assert_eq!(changes.write, tree(&[("a", "2"), ("new", "1")]));
        assert_eq!(changes.remove, vec!["gone".to_string()]);
        assert_eq!(
            changes.kept_edited,
            vec!["b".to_string(), "gone-edited".to_string()]
        );
        let forced = Changes::between(&current, Some(&previous), &next, true);
        assert_eq!(forced.write, tree(&[("a", "2"), ("b", "2"), ("new", "1")]));
        assert_eq!(
            forced.remove,
            vec!["gone".to_string(), "gone-edited".to_string()]
        );
    }

    #[test]
    fn a_new_repository_is_written_whole_and_read_back() {
        let scratch =
            std::env::temp_dir().join(format!("flotilla-bootstrap-repo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let root = scratch.join("solution");
        let files = tree(&[("flotilla.yaml", "x\n"), ("config/argocd/a.yaml", "y\n")]);
        let changes = Changes::between(&Tree::new(), None, &files, false);
        apply(&root, &changes).expect("written");
        assert_eq!(read_tree(&root).expect("read"), files);
        let removal = Changes {
            remove: vec!["config/argocd/a.yaml".into()],
            ..Changes::default()
        };
        apply(&root, &removal).expect("removed");
        assert!(!root.join("config").exists());
        let entries: Vec<_> = std::fs::read_dir(&scratch).expect("listed").collect();
        assert_eq!(entries.len(), 1, "no staging directory left behind");
        let _ = std::fs::remove_dir_all(&scratch);
    }
}
