//! Application sources: one bare mirror per repository URL, revisions resolved to commits, and
//! content-addressed snapshots of a commit's tree.
//!
//! `Repositories::resolve` asks the remote which commit a revision (`HEAD`, a branch, a tag or a
//! commit id) names with `git ls-remote`, which is cheap enough to poll; only when the commit is
//! not yet in the mirror does it `git fetch` (shallow, `--depth 1`, for branch and tag tips).
//! `Repositories::tree` opens a commit's tree in the mirror's object database (gix) as a file
//! system for the renderer: nothing is checked out. A commit is immutable, so a (commit, path)
//! pair identifies rendered output exactly.
//!
//! Invariants: mirrors are only ever fetched into, never checked out; URL rewrites
//! (`--repo-mirror FROM=TO`) are applied before any git command and never change the cache key,
//! which is the URL the Application names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::tree::GitTree;
use crate::FetchError;

/// A revision resolved to a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedRevision {
    /// The 40-hex commit id.
    pub commit: String,
}

/// Mirrors and snapshots of the repositories Applications name.
pub struct Repositories {
    cache_dir: PathBuf,
    /// `(from, to)` URL prefix rewrites.
    mirrors: Vec<(String, String)>,
    /// Serialises git commands per process: git itself locks refs, but two fetches into one
    /// mirror at once would make one of them fail spuriously.
    fetch_lock: Mutex<()>,
    /// Commit trees opened recently, by (repository, commit).
    trees: Mutex<HashMap<(String, String), Arc<GitTree>>>,
}

/// Commit trees kept open at once.
const MAX_OPEN_TREES: usize = 16;

impl Repositories {
    pub fn new(cache_dir: &Path) -> Self {
        Repositories {
            cache_dir: cache_dir.to_path_buf(),
            mirrors: Vec::new(),
            fetch_lock: Mutex::new(()),
            trees: Mutex::new(HashMap::new()),
        }
    }

    /// Rewrites repository URLs starting with `from` to start with `to`.
    pub fn with_mirror(mut self, from: &str, to: &str) -> Self {
        self.mirrors.push((from.to_string(), to.to_string()));
        self
    }

    /// The URL git is given for `repository` after the mirror rewrites.
    pub fn effective_url(&self, repository: &str) -> String {
        for (from, to) in &self.mirrors {
            if let Some(rest) = repository.strip_prefix(from.as_str()) {
                return format!("{to}{rest}");
            }
        }
        repository.to_string()
    }

    fn mirror_dir(&self, repository: &str) -> PathBuf {
        self.cache_dir.join("mirrors").join(short_hash(repository))
    }

    /// Resolves `revision` of `repository` to a commit, fetching it into the mirror if needed.
    pub fn resolve(
        &self,
        repository: &str,
        revision: &str,
    ) -> Result<ResolvedRevision, FetchError> {
        let url = self.effective_url(repository);
        let revision = revision.trim();
        let _guard = self
            .fetch_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mirror = self.ensure_mirror(repository)?;
        let mirror_text = mirror.to_string_lossy().into_owned();
        if is_commit_id(revision) {
            if revision.len() == 40 && has_commit(&mirror_text, revision) {
                return Ok(ResolvedRevision {
                    commit: revision.to_string(),
                });
            }
            // A commit id cannot be asked of ls-remote: fetch everything, then look it up.
            run_git(
                &[
                    "--git-dir",
                    &mirror_text,
                    "fetch",
                    "--quiet",
                    &url,
                    "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*",
                ],
                &url,
            )?;
            return rev_parse(&mirror_text, &format!("{revision}^{{commit}}"), &url)
                .map(|commit| ResolvedRevision { commit });
        }
        let wanted = if revision.is_empty() || revision == "HEAD" {
            "HEAD".to_string()
        } else {
            revision.to_string()
        };
        let peeled = format!("{wanted}^{{}}");
        let listing = git_output(&["ls-remote", &url, &wanted, &peeled], &url)?;
        let commit = pick_ref(&listing, &wanted).ok_or_else(|| FetchError::UnknownRevision {
            repository: repository.to_string(),
            revision: wanted.clone(),
        })?;
        if !has_commit(&mirror_text, &commit) {
            let fetched = run_git(
                &[
                    "--git-dir",
                    &mirror_text,
                    "fetch",
                    "--quiet",
                    "--depth",
                    "1",
                    &url,
                    &commit,
                ],
                &url,
            );
            if fetched.is_err() {
                // Servers that refuse to serve a commit by id: fetch the ref itself.
                run_git(
                    &[
                        "--git-dir",
                        &mirror_text,
                        "fetch",
                        "--quiet",
                        "--depth",
                        "1",
                        &url,
                        &wanted,
                    ],
                    &url,
                )?;
            }
            if !has_commit(&mirror_text, &commit) {
                return Err(FetchError::UnknownRevision {
                    repository: repository.to_string(),
                    revision: wanted,
                });
            }
        }
        // An annotated tag the server did not peel: name the commit, not the tag object.
        let commit = rev_parse(&mirror_text, &format!("{commit}^{{commit}}"), &url)?;
        Ok(ResolvedRevision { commit })
    }

    /// Where remote bases of these repositories' kustomizations are fetched to (by
    /// [`Repositories::remote_base_fetcher`]): the one disk directory a commit's tree lets a
    /// build read beside itself.
    pub fn remote_bases_dir(&self) -> Result<PathBuf, FetchError> {
        Ok(self.absolute_cache_dir()?.join("remote-bases"))
    }

    /// The fetcher of kustomize remote bases: into [`Repositories::remote_bases_dir`], with the
    /// same URL rewrites as the Applications' repositories (an air-gapped mirror serves both).
    pub fn remote_base_fetcher(&self) -> Result<crate::GitFetcher, FetchError> {
        let mut fetcher = crate::GitFetcher::new(&self.remote_bases_dir()?);
        for (from, to) in &self.mirrors {
            fetcher = fetcher.with_mirror(from, to);
        }
        Ok(fetcher)
    }

    fn absolute_cache_dir(&self) -> Result<PathBuf, FetchError> {
        std::path::absolute(&self.cache_dir).map_err(|source| FetchError::Cache {
            path: self.cache_dir.clone(),
            source,
        })
    }

    /// The tree of `commit` (fetched by [`Repositories::resolve`]), read from the mirror's
    /// object database. It appears at `<cache>/snapshots/<commit>`, a path that names it in
    /// messages but is never written; fetched remote bases under
    /// [`Repositories::remote_bases_dir`] may be read beside it.
    pub fn tree(&self, repository: &str, commit: &str) -> Result<Arc<GitTree>, FetchError> {
        let key = (repository.to_string(), commit.to_string());
        let mut trees = self
            .trees
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(tree) = trees.get(&key) {
            return Ok(tree.clone());
        }
        let tree = GitTree::open(
            &self.mirror_dir(repository),
            commit,
            &self.absolute_cache_dir()?.join("snapshots").join(commit),
        )?
        .with_disk_directory(&self.remote_bases_dir()?);
        let tree = Arc::new(tree);
        // A tree holds only decoded directory listings; a few recent commits are plenty.
        if trees.len() >= MAX_OPEN_TREES {
            trees.clear();
        }
        trees.insert(key, tree.clone());
        Ok(tree)
    }

    fn ensure_mirror(&self, repository: &str) -> Result<PathBuf, FetchError> {
        let mirror = self.mirror_dir(repository);
        if mirror.join("HEAD").is_file() {
            return Ok(mirror);
        }
        std::fs::create_dir_all(&mirror).map_err(|source| FetchError::Cache {
            path: mirror.clone(),
            source,
        })?;
        let mirror_text = mirror.to_string_lossy().into_owned();
        run_git(&["init", "--quiet", "--bare", &mirror_text], repository)?;
        Ok(mirror)
    }
}

/// Whether `text` looks like a (possibly abbreviated) commit id.
fn is_commit_id(text: &str) -> bool {
    (7..=40).contains(&text.len()) && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// The commit `wanted` names in `git ls-remote` output: an exact `refs/heads/X` or `refs/tags/X`
/// (a peeled annotated tag `X^{}` wins over the tag object), or `HEAD`.
fn pick_ref(listing: &str, wanted: &str) -> Option<String> {
    let mut best: Option<(u8, String)> = None;
    for line in listing.lines() {
        let mut parts = line.split('\t');
        let (Some(commit), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        let rank = if name == wanted && wanted == "HEAD" {
            3
        } else if name == format!("refs/tags/{wanted}^{{}}") {
            4
        } else if name == format!("refs/heads/{wanted}") {
            3
        } else if name == format!("refs/tags/{wanted}") || name == wanted {
            2
        } else {
            continue;
        };
        if best.as_ref().is_none_or(|(current, _)| rank > *current) {
            best = Some((rank, commit.to_string()));
        }
    }
    best.map(|(_, commit)| commit)
}

fn has_commit(mirror: &str, commit: &str) -> bool {
    Command::new("git")
        .args([
            "--git-dir",
            mirror,
            "cat-file",
            "-e",
            &format!("{commit}^{{commit}}"),
        ])
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false)
}

fn rev_parse(mirror: &str, revision: &str, url: &str) -> Result<String, FetchError> {
    Ok(git_output(
        &[
            "--git-dir",
            mirror,
            "rev-parse",
            "--verify",
            "--quiet",
            revision,
        ],
        url,
    )?
    .trim()
    .to_string())
}

fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn git_command(arguments: &[&str]) -> Command {
    let mut command = Command::new("git");
    command
        .args(arguments)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .stdin(std::process::Stdio::null());
    command
}

fn finish(
    output: std::io::Result<std::process::Output>,
    arguments: &[&str],
    url: &str,
) -> Result<String, FetchError> {
    let output = output.map_err(|source| FetchError::GitMissing { source })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let command = arguments
        .iter()
        .find(|argument| !argument.starts_with('-') && !argument.contains('/'))
        .copied()
        .unwrap_or("")
        .to_string();
    Err(FetchError::Git {
        command,
        repository: url.to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}

fn git_output(arguments: &[&str], url: &str) -> Result<String, FetchError> {
    finish(git_command(arguments).output(), arguments, url)
}

/// Runs git (no prompts, no stdin); a failure names the subcommand, the URL and git's message.
pub(crate) fn run_git(arguments: &[&str], url: &str) -> Result<(), FetchError> {
    git_output(arguments, url).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_branches_tags_and_peeled_tags() {
        let listing = "aaa\tHEAD\nbbb\trefs/heads/main\nccc\trefs/tags/v1\nddd\trefs/tags/v1^{}\n";
        assert_eq!(pick_ref(listing, "HEAD").as_deref(), Some("aaa"));
        assert_eq!(pick_ref(listing, "main").as_deref(), Some("bbb"));
        assert_eq!(pick_ref(listing, "v1").as_deref(), Some("ddd"));
        assert_eq!(pick_ref(listing, "v2"), None);
        assert!(is_commit_id("0123abc"));
        assert!(!is_commit_id("main"));
    }
}
