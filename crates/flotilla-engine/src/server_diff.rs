//! Server-side diff: the server is asked what an object would become (a server-side apply with
//! `dryRun=All`, as a sync would send it) and its answer is compared with the live object
//! (`flotilla_diff::compare_predicted`). Whatever the server does to a value, its defaults,
//! canonical quantities (`1000m` stored as `1`), admission, counts as it will.
//!
//! Three modes per Application, from its `argocd.argoproj.io/compare-options` annotation:
//! - `ServerSideDiff=true` (or `--server-side-diff` on the controller): every object that exists
//!   live and was compared again in a pass is dry-run, as Argo CD's server-side diff;
//! - `ServerSideDiff=false`: never; the containment comparison alone decides;
//! - neither (the default): only objects the containment comparison finds out of sync are
//!   dry-run, to confirm the difference. A value the server rewrites is then Synced instead of
//!   OutOfSync forever, and an object in sync costs no request.
//!
//! An object can opt out with `ServerSideDiff=false` in its own compare-options. A dry run the
//! server refuses leaves the containment result, with the server's message added and a
//! `ComparisonError` condition, and is asked again after a pause (it may have been a timeout).
//! Other results are kept in the comparison cache like any other, so a request is made only
//! when the live object or the desired one changed.
//!
//! Depends on `cluster` and `objects` only; `reconcile::compare` calls it.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::Value;

use crate::cluster::{Cluster, ResourceInfo, FIELD_MANAGER};
use crate::objects::ObjectKey;

/// Dry runs in flight at once for one Application.
const CONCURRENT_DRY_RUNS: usize = 8;

/// When an Application's objects are dry-run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Off,
    /// Only objects the containment comparison finds out of sync.
    Confirm,
    /// Every object compared again that exists live.
    Full,
}

/// The mode for `application`; `engine_default` is the controller's `--server-side-diff`.
pub(crate) fn mode(application: &Value, engine_default: bool) -> Mode {
    match flotilla_diff::compare_options(application).server_side_diff {
        Some(false) => Mode::Off,
        Some(true) => Mode::Full,
        None if engine_default => Mode::Full,
        None => Mode::Confirm,
    }
}

/// `IncludeMutationWebhook=true` on the Application.
pub(crate) fn include_mutation_webhook(application: &Value) -> bool {
    flotilla_diff::compare_options(application).include_mutation_webhook
}

/// Whether the object itself opted out (`ServerSideDiff=false` in its compare-options).
pub(crate) fn opted_out(object: &Value) -> bool {
    flotilla_diff::compare_options(object).server_side_diff == Some(false)
}

/// One object to dry-run (owned: the dry runs run as a stream inside spawned workers).
pub(crate) struct Candidate {
    pub key: ObjectKey,
    pub desired: Value,
    pub info: ResourceInfo,
    pub live: Arc<Value>,
}

/// What the server said of one object: the comparison of its answer with the live object, and
/// the answer itself (what a sync would make the object).
pub(crate) struct Checked {
    pub comparison: flotilla_diff::Comparison,
    pub predicted: Value,
}

/// Dry-runs every candidate (a few at a time) and compares the answers with the live objects.
/// `Err` carries the server's refusal of the dry run, or a malformed ignore rule.
pub(crate) async fn check(
    cluster: &Cluster,
    candidates: Vec<Candidate>,
    rules: &[flotilla_diff::IgnoreDifference],
    include_mutation_webhook: bool,
) -> Vec<(ObjectKey, Result<Checked, String>)> {
    futures_util::stream::iter(candidates)
        .map(|candidate| async move {
            let result = match cluster
                .apply(&candidate.info, &candidate.desired, true, true)
                .await
            {
                Ok(predicted) => flotilla_diff::compare_predicted(
                    &predicted,
                    &candidate.live,
                    FIELD_MANAGER,
                    rules,
                    include_mutation_webhook,
                )
                .map(|comparison| Checked {
                    comparison,
                    predicted,
                })
                .map_err(|error| error.to_string()),
                Err(error) => Err(format!("the server refused a dry run: {error}")),
            };
            (candidate.key, result)
        })
        .buffer_unordered(CONCURRENT_DRY_RUNS)
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn application(options: Option<&str>) -> Value {
        let mut application = json!({"metadata": {"name": "shop"}});
        if let Some(options) = options {
            application["metadata"]["annotations"] =
                json!({"argocd.argoproj.io/compare-options": options});
        }
        application
    }

    #[test]
    fn the_mode_follows_the_application_then_the_controller() {
        assert_eq!(mode(&application(None), false), Mode::Confirm);
        assert_eq!(mode(&application(None), true), Mode::Full);
        assert_eq!(
            mode(&application(Some("ServerSideDiff=true")), false),
            Mode::Full
        );
        assert_eq!(
            mode(
                &application(Some("IgnoreExtraneous, ServerSideDiff=false")),
                true
            ),
            Mode::Off
        );
        assert!(include_mutation_webhook(&application(Some(
            "ServerSideDiff=true,IncludeMutationWebhook=true"
        ))));
        assert!(!include_mutation_webhook(&application(None)));
        assert!(opted_out(&application(Some("ServerSideDiff=false"))));
        assert!(!opted_out(&application(Some("ServerSideDiff=true"))));
    }
}
