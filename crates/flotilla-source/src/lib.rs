//! flotilla-source: Git sources on the local disk.
//!
//! `GitFetcher` resolves kustomize remote targets (`github.com/org/repo//path?ref=v1`,
//! `https://host/org/repo.git//path?ref=v1`, `git@host:org/repo.git//path`,
//! `file:///srv/repo.git//path?ref=v1`) by cloning with the `git` command into a cache keyed by
//! repository URL and ref, so each (URL, ref) is fetched once per cache. It knows nothing about
//! Kubernetes; the renderer sees only a local directory.
//!
//! Invariant: a cache entry is complete or absent. Clones go to a temporary directory that is
//! renamed into place only after checkout succeeds.

pub mod repository;
pub mod tree;

use repository::run_git;
pub use repository::{Repositories, ResolvedRevision};
pub use tree::{GitTree, TreeError};

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A remote target split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteTarget {
    /// What `git clone` is given.
    pub repository: String,
    /// Directory inside the repository (may be empty).
    pub path: String,
    /// Branch, tag or commit; empty for the default branch.
    pub git_ref: String,
}

/// Why a remote target could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("`{url}` is not a remote target flotilla understands: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot run `git`: {source}")]
    GitMissing {
        #[source]
        source: std::io::Error,
    },
    #[error("`git {command}` failed for `{repository}`: {stderr}")]
    Git {
        command: String,
        repository: String,
        stderr: String,
    },
    #[error("cache directory `{}`: {source}", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{repository}` has no branch, tag or commit `{revision}`")]
    UnknownRevision {
        repository: String,
        revision: String,
    },
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("`{path}` does not exist in `{repository}` at `{git_ref}`")]
    MissingPath {
        repository: String,
        path: String,
        git_ref: String,
    },
}

/// Splits a kustomize remote target. Returns `None` for plain local paths.
pub fn parse_remote_target(url: &str) -> Result<RemoteTarget, FetchError> {
    let bad = |reason: &str| FetchError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let (without_query, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let mut git_ref = String::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "ref" || key == "version" {
            git_ref = value.to_string();
        }
    }
    let without_prefix = without_query.strip_prefix("git::").unwrap_or(without_query);
    // The scheme's own `//` is not the repository/path separator.
    let (scheme, rest) = match without_prefix.find("://") {
        Some(index) => (&without_prefix[..index + 3], &without_prefix[index + 3..]),
        None => ("", without_prefix),
    };
    let (mut repository_part, mut path) = match rest.find("//") {
        Some(index) => (rest[..index].to_string(), rest[index + 2..].to_string()),
        None => match rest.find(".git/") {
            Some(index) => (rest[..index + 4].to_string(), rest[index + 5..].to_string()),
            None => (rest.to_string(), String::new()),
        },
    };
    if scheme.is_empty() && repository_part.starts_with("github.com/") {
        repository_part = format!("https://{repository_part}");
        if !repository_part.ends_with(".git") {
            repository_part.push_str(".git");
        }
    } else {
        repository_part = format!("{scheme}{repository_part}");
    }
    if repository_part.is_empty() || repository_part == scheme {
        return Err(bad("no repository in the URL"));
    }
    path = path.trim_matches('/').to_string();
    if path.split('/').any(|segment| segment == "..") {
        return Err(bad("the path inside the repository may not contain `..`"));
    }
    Ok(RemoteTarget {
        repository: repository_part,
        path,
        git_ref,
    })
}

/// Fetches remote bases with the `git` command into `cache_dir`.
pub struct GitFetcher {
    cache_dir: PathBuf,
    /// `(from, to)` URL prefix rewrites, applied before cloning (mirrors, air-gapped use).
    mirrors: Vec<(String, String)>,
}

impl GitFetcher {
    pub fn new(cache_dir: &Path) -> Self {
        GitFetcher {
            cache_dir: cache_dir.to_path_buf(),
            mirrors: Vec::new(),
        }
    }

    /// Rewrites repository URLs starting with `from` to start with `to`.
    pub fn with_mirror(mut self, from: &str, to: &str) -> Self {
        self.mirrors.push((from.to_string(), to.to_string()));
        self
    }

    fn rewrite(&self, repository: &str) -> String {
        for (from, to) in &self.mirrors {
            if let Some(rest) = repository.strip_prefix(from.as_str()) {
                return format!("{to}{rest}");
            }
        }
        repository.to_string()
    }

    /// The checked-out repository for `target`, cloning it on first use.
    pub fn checkout(&self, target: &RemoteTarget) -> Result<PathBuf, FetchError> {
        let repository = self.rewrite(&target.repository);
        let key: String = Sha256::digest(format!("{repository}\n{}", target.git_ref).as_bytes())
            .iter()
            .take(16)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let destination = self.cache_dir.join(&key);
        if destination.is_dir() {
            return Ok(destination);
        }
        std::fs::create_dir_all(&self.cache_dir).map_err(|source| FetchError::Cache {
            path: self.cache_dir.clone(),
            source,
        })?;
        let staging = self
            .cache_dir
            .join(format!("{key}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        let staging_text = staging.to_string_lossy().into_owned();
        let shallow = [
            "clone",
            "--quiet",
            "--depth",
            "1",
            "--branch",
            &target.git_ref,
            &repository,
            &staging_text,
        ];
        let cloned = if target.git_ref.is_empty() {
            run_git(
                &[
                    "clone",
                    "--quiet",
                    "--depth",
                    "1",
                    &repository,
                    &staging_text,
                ],
                &repository,
            )
        } else {
            run_git(&shallow, &repository)
        };
        if cloned.is_err() {
            // A commit id cannot be cloned by name: clone fully, then check it out.
            let _ = std::fs::remove_dir_all(&staging);
            run_git(
                &["clone", "--quiet", &repository, &staging_text],
                &repository,
            )?;
            if !target.git_ref.is_empty() {
                run_git(
                    &["-C", &staging_text, "checkout", "--quiet", &target.git_ref],
                    &repository,
                )?;
            }
        }
        match std::fs::rename(&staging, &destination) {
            Ok(()) => Ok(destination),
            // Another fetch of the same target finished first: use it.
            Err(_) if destination.is_dir() => {
                let _ = std::fs::remove_dir_all(&staging);
                Ok(destination)
            }
            Err(source) => Err(FetchError::Cache {
                path: destination,
                source,
            }),
        }
    }

    /// The local directory for a remote target (repository checkout plus path).
    pub fn fetch_target(&self, url: &str) -> Result<PathBuf, FetchError> {
        let target = parse_remote_target(url)?;
        let checkout = self.checkout(&target)?;
        let directory = checkout.join(&target.path);
        if !directory.is_dir() {
            return Err(FetchError::MissingPath {
                repository: target.repository,
                path: target.path,
                git_ref: target.git_ref,
            });
        }
        Ok(directory)
    }
}

impl flotilla_kustomize::Fetcher for GitFetcher {
    fn fetch(&self, url: &str) -> Result<PathBuf, String> {
        self.fetch_target(url).map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kustomize_remote_targets() {
        let target =
            parse_remote_target("github.com/org/repo//deploy/base?ref=v1.2").expect("valid");
        assert_eq!(target.repository, "https://github.com/org/repo.git");
        assert_eq!(target.path, "deploy/base");
        assert_eq!(target.git_ref, "v1.2");
        let target = parse_remote_target("https://example.com/org/repo.git/overlays/dev?ref=main")
            .expect("valid");
        assert_eq!(target.repository, "https://example.com/org/repo.git");
        assert_eq!(target.path, "overlays/dev");
        let target =
            parse_remote_target("file:///srv/git/repo.git//base?version=abc123").expect("valid");
        assert_eq!(target.repository, "file:///srv/git/repo.git");
        assert_eq!(target.path, "base");
        assert_eq!(target.git_ref, "abc123");
        let target = parse_remote_target("git@github.com:org/repo.git//x").expect("valid");
        assert_eq!(target.repository, "git@github.com:org/repo.git");
        assert!(parse_remote_target("https://example.com/org/repo.git//../../etc").is_err());
    }
}
