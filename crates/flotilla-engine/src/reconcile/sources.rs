//! An Application's sources as objects: each source's revision resolved to a commit (from the
//! table the poller keeps current, or by `git ls-remote` and a fetch, counted in the git
//! metrics) and each source rendered from the commit's tree, cached by commit, path and options;
//! render errors name the repository's files and the commit.
//!
//! Depends on `context`, `model` and `render`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::context::Shared;
use crate::model::ApplicationSource;
use crate::render::{render_source, Rendered};

/// Resolves a revision of a repository (blocking: `git ls-remote`, a fetch), counted in the
/// git metrics and logged when it fails.
pub(crate) fn resolve_measured(
    shared: &Shared,
    repository: &str,
    revision: &str,
) -> Result<flotilla_source::ResolvedRevision, flotilla_source::FetchError> {
    let started = Instant::now();
    let resolved = shared.repositories.resolve(repository, revision);
    shared
        .metrics
        .observe_git_fetch(repository, started.elapsed(), resolved.is_ok());
    if let Err(error) = &resolved {
        tracing::warn!(%repository, %revision, error = %crate::error_chain(error), "cannot resolve the revision");
    }
    resolved
}

pub(super) async fn resolve_revision(
    shared: &Arc<Shared>,
    repository: &str,
    revision: &str,
) -> Result<String, String> {
    let key = (repository.to_string(), revision.to_string());
    if let Some(commit) = shared
        .revisions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&key)
    {
        return Ok(commit.clone());
    }
    let resolver = shared.clone();
    let (repository_owned, revision_owned) = key.clone();
    let resolved = tokio::task::spawn_blocking(move || {
        resolve_measured(&resolver, &repository_owned, &revision_owned)
    })
    .await
    .map_err(|error| format!("resolving {revision} of {repository}: {error}"))?
    .map_err(|error| {
        format!(
            "rpc error: unable to resolve '{}' to a commit SHA: {error}",
            if revision.is_empty() {
                "HEAD"
            } else {
                revision
            }
        )
    })?;
    shared
        .revisions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(key, resolved.commit.clone());
    Ok(resolved.commit)
}

/// A render error with the paths of the commit's tree (`<cache>/snapshots/<commit>/…`, where
/// the build sees it) written as the repository names them (`environments/dev/kustomization.yaml`).
/// A render error as the repository names its files: the snapshot's root taken off every path,
/// and the commit after each position (`` `app/cm.yaml`:18:11 at 71f8fae ``), or after the
/// message when it names no position.
fn repository_relative(message: &str, root: &std::path::Path, commit: &str) -> String {
    let root = root.display().to_string();
    let relative = message
        .replace(&format!("{root}/"), "")
        .replace(&format!("`{root}`"), "`.`");
    let short = &commit[..commit.len().min(7)];
    let mut marked = String::with_capacity(relative.len() + 16);
    let mut rest = relative.as_str();
    let mut positions = 0;
    while let Some(found) = rest.find("`:") {
        let (before, after) = rest.split_at(found + 2);
        marked.push_str(before);
        let line_digits = after.chars().take_while(char::is_ascii_digit).count();
        let after_line = &after[line_digits..];
        let column_digits = after_line
            .strip_prefix(':')
            .map(|text| text.chars().take_while(char::is_ascii_digit).count())
            .unwrap_or(0);
        if line_digits > 0 {
            let end = line_digits
                + if column_digits > 0 {
                    1 + column_digits
                } else {
                    0
                };
            marked.push_str(&after[..end]);
            marked.push_str(&format!(" at {short}"));
            positions += 1;
            rest = &after[end..];
        } else {
            rest = after;
        }
    }
    marked.push_str(rest);
    if positions == 0 && !short.is_empty() {
        marked.push_str(&format!(" (at {short})"));
    }
    marked
}

pub(super) async fn render_cached(
    shared: &Arc<Shared>,
    source: &ApplicationSource,
    commit: &str,
) -> Result<Arc<Rendered>, String> {
    let options = json!({"kustomize": source.kustomize, "directory": source.directory, "chart": source.chart});
    let cache_key = format!(
        "{commit}\n{}\n{}\n{}",
        source.repo_url, source.path, options
    );
    if let Some(rendered) = shared
        .renders
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&cache_key)
    {
        return Ok(rendered.clone());
    }
    let renderer = shared.clone();
    let source_owned = source.clone();
    let commit_owned = commit.to_string();
    let rendered = tokio::task::spawn_blocking(move || -> Result<Rendered, String> {
        let tree = renderer
            .repositories
            .tree(&source_owned.repo_url, &commit_owned)
            .map_err(|error| error.to_string())?;
        // Fetched where the tree lets the build read them, through the same mirrors.
        let fetcher = renderer
            .repositories
            .remote_base_fetcher()
            .map_err(|error| error.to_string())?;
        render_source(&*tree, tree.root(), &source_owned, Some(&fetcher)).map_err(|error| {
            repository_relative(&crate::error_chain(&error), tree.root(), &commit_owned)
        })
    })
    .await
    .map_err(|error| format!("rendering failed: {error}"))??;
    let rendered = Arc::new(rendered);
    let mut renders = shared
        .renders
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Applications keep their own normalised copy; this cache only spares re-rendering a
    // source several Applications share, so it stays small.
    if renders.len() > 32 {
        renders.clear();
    }
    renders.insert(cache_key, rendered.clone());
    Ok(rendered)
}

#[cfg(test)]
mod repository_relative_tests {
    use super::repository_relative;

    #[test]
    fn positions_name_the_commit() {
        let root = std::path::Path::new("/cache/snapshots/abc");
        assert_eq!(
            repository_relative(
                "cannot read `/cache/snapshots/abc/app/cm.yaml`:18:11: mapping values",
                root,
                "71f8fae0123456789"
            ),
            "cannot read `app/cm.yaml`:18:11 at 71f8fae: mapping values"
        );
        assert_eq!(
            repository_relative(
                "no kustomization in `/cache/snapshots/abc`",
                root,
                "71f8fae01"
            ),
            "no kustomization in `.` (at 71f8fae)"
        );
    }
}
