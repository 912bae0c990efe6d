//! `flotilla app diff`: what a sync of one Application would change, without changing anything
//! (a fresh comparison that leaves the comparison cache alone, the server's dry-run answers, and
//! what the pre-sync gate would say).
//!
//! Depends on `context`, `objects`, `gate`, `cluster`, `model` and `reconcile::{evaluate,
//! compare}`.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::compare::{check_with_server, compare_all, resource_values};
use super::evaluate::evaluate;
use crate::context::{AppKey, Shared};
use crate::model::{GROUP, VERSION};
use crate::objects::{live_object, object_key};

/// One object of a preview (`flotilla app diff`).
#[derive(Clone, Debug)]
pub struct PreviewEntry {
    /// `Kind/namespace/name`.
    pub resource: String,
    pub desired: Option<Value>,
    /// The server's answer to a dry-run apply of `desired`, when it was asked (server-side
    /// diff): the diff then shows what a sync would really change.
    pub predicted: Option<Value>,
    pub live: Option<Value>,
    pub in_sync: bool,
    pub reasons: Vec<String>,
}

/// What a sync would change, without changing anything.
#[derive(Clone, Debug, Default)]
pub struct Preview {
    pub entries: Vec<PreviewEntry>,
    pub rules: Vec<flotilla_diff::IgnoreDifference>,
    /// What the pre-sync gate would say (prune as the automated policy says; `gate`).
    pub guardrails: crate::gate::GateReport,
}

impl Preview {
    pub fn has_differences(&self) -> bool {
        self.entries.iter().any(|entry| !entry.in_sync)
    }

    /// A unified diff per object that differs (Secrets masked).
    pub fn render(&self) -> String {
        let mut text = String::new();
        if !self.guardrails.is_empty() {
            text.push_str("===== guardrails ======\n");
            text.push_str(&self.guardrails.render());
        }
        for entry in self.entries.iter().filter(|entry| !entry.in_sync) {
            text.push_str(&format!("===== {} ======\n", entry.resource));
            for reason in &entry.reasons {
                text.push_str(&format!("# {reason}\n"));
            }
            match flotilla_diff::render_diff(
                entry.predicted.as_ref().or(entry.desired.as_ref()),
                entry.live.as_ref(),
                crate::cluster::FIELD_MANAGER,
                &self.rules,
            ) {
                Ok(diff) => text.push_str(&diff),
                Err(error) => text.push_str(&format!("# cannot render the diff: {error}\n")),
            }
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        text
    }
}

/// Compares an Application's desired objects with the cluster without syncing.
pub(crate) async fn preview(shared: &Arc<Shared>, key: &AppKey) -> Result<Preview, String> {
    let api_version = format!("{GROUP}/{VERSION}");
    let application = shared
        .home
        .watched(&api_version, "Application")
        .and_then(|applications| applications.get(&key.0, &key.1))
        .ok_or_else(|| format!("application `{}` not found in namespace `{}`", key.1, key.0))?;
    let evaluation = evaluate(shared, key, &application)
        .await
        .map_err(|conditions| {
            conditions
                .iter()
                .filter_map(|condition| condition["message"].as_str())
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    let mut conditions = Vec::new();
    // Fresh: the controller may be between comparing an object and confirming the difference
    // with the server, and a preview shows the server's answer.
    let mut comparisons = compare_all(
        shared,
        key,
        &evaluation,
        &mut conditions,
        &HashMap::new(),
        true,
    );
    let mut predictions = check_with_server(
        shared,
        key,
        &application,
        &evaluation,
        &mut comparisons,
        &mut conditions,
        &HashMap::new(),
        false,
    )
    .await;
    let rules = std::mem::take(&mut comparisons.rules);
    let resources = resource_values(comparisons.resources);
    let mut entries = Vec::new();
    for (index, desired) in evaluation.desired.iter().enumerate() {
        if desired.hook {
            continue;
        }
        // Parsed once: the comparison above may already have parsed it.
        let desired_object = evaluation.desired_object(index);
        let live = live_object(&evaluation.cache, desired_object).map(|live| (*live).clone());
        let status = resources.iter().find(|resource| {
            resource["kind"] == desired_object["kind"]
                && resource["name"] == desired_object["metadata"]["name"]
                && resource["namespace"].as_str().unwrap_or("") == desired.key.2
        });
        let in_sync = status.is_some_and(|status| status["status"] == "Synced");
        let reasons = status
            .and_then(|status| status["message"].as_str())
            .map(|message| message.split("; ").map(str::to_string).collect())
            .unwrap_or_default();
        entries.push(PreviewEntry {
            resource: format!("{}/{}/{}", desired.key.1, desired.key.2, desired.key.3),
            desired: Some(desired_object.clone()),
            predicted: predictions.remove(&desired.key),
            live,
            in_sync,
            reasons,
        });
    }
    for live in &evaluation.to_prune {
        let key_of = object_key(live);
        entries.push(PreviewEntry {
            resource: format!("{}/{}/{}", key_of.1, key_of.2, key_of.3),
            desired: None,
            predicted: None,
            live: Some((**live).clone()),
            in_sync: false,
            reasons: vec!["no longer in Git: will be pruned".into()],
        });
    }
    let desired_objects = evaluation.desired_objects_owned();
    let guardrails = crate::gate::check(
        &shared.repositories,
        crate::gate::Subject {
            application: &application,
            sources: &evaluation.sources,
            revisions: &evaluation.revisions,
            desired: &desired_objects,
            cache: &evaluation.cache,
            to_prune: &evaluation.to_prune,
            prune: evaluation
                .spec
                .automated()
                .is_some_and(|automated| automated.prune),
            sync_options: evaluation.spec.sync_options().to_vec(),
        },
    )
    .await;
    Ok(Preview {
        entries,
        rules,
        guardrails,
    })
}
