//! The finding model: what a rule says about one object, how bad it is, and whether the object
//! overrides it (`flotilla.dev/allow: <rule-id>[,<rule-id>]`, read from the object after the
//! change, or before it when the object is removed).

use serde::Serialize;

use crate::objects::{Change, Field, ObjectId};

/// The annotation that overrides findings on its object, by rule id.
pub const ALLOW_ANNOTATION: &str = "flotilla.dev/allow";

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Applied anyway; reported.
    Warn,
    /// Not applied unless overridden.
    Block,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Block => "block",
        }
    }
}

/// One rule's word on one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The rule id (`kafka-topic-partitions-decreased`).
    pub rule: String,
    pub severity: Severity,
    pub object: ObjectId,
    /// The field the finding is about (`spec.partitions`), empty for the whole object.
    pub path: String,
    /// What is wrong and what happens if the change is applied.
    pub message: String,
    /// What to do instead.
    pub hint: String,
    /// The object's `flotilla.dev/allow` lists this rule: reported, blocks nothing.
    pub overridden: bool,
}

impl Finding {
    pub fn new(
        rule: &str,
        severity: Severity,
        object: &ObjectId,
        path: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Finding {
        Finding {
            rule: rule.to_string(),
            severity,
            object: object.clone(),
            path: path.to_string(),
            message: message.into(),
            hint: hint.into(),
            overridden: false,
        }
    }

    /// Whether this finding stops the change.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Block && !self.overridden
    }
}

/// The rule ids an object's annotation allows.
pub fn allowed_rules(object: &serde_json::Value) -> Vec<String> {
    object
        .at("metadata")
        .at("annotations")
        .at(ALLOW_ANNOTATION)
        .as_str()
        .map(|text| {
            text.split(',')
                .map(str::trim)
                .filter(|rule| !rule.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Marks the findings their object overrides. Findings of one object next to each other (as
/// [`crate::evaluate`] sorts them) look their object up once, and findings in identity order
/// look it up from where the previous one was found.
pub fn apply_overrides(change: &Change, findings: &mut [Finding]) {
    let (mut after_cursor, mut before_cursor) = (0, 0);
    let mut allowed: Vec<String> = Vec::new();
    for index in 0..findings.len() {
        if index == 0 || findings[index - 1].object != findings[index].object {
            let object = &findings[index].object;
            allowed = change
                .after
                .seek(object, &mut after_cursor)
                .or_else(|| change.before.seek(object, &mut before_cursor))
                .map(allowed_rules)
                .unwrap_or_default();
        }
        let finding = &mut findings[index];
        if allowed.iter().any(|rule| rule == &finding.rule) {
            finding.overridden = true;
        }
    }
}

/// The outcome of a set of findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing blocks (there may be warnings and overridden findings).
    Pass,
    /// At least one finding blocks.
    Block,
}

impl Verdict {
    pub fn of(findings: &[Finding]) -> Verdict {
        if findings.iter().any(Finding::blocks) {
            Verdict::Block
        } else {
            Verdict::Pass
        }
    }
}

/// The findings of a rule about one state that a change brings: those the state after the
/// change has and the state before it did not (same rule, object, path and message). A state
/// rule run on both sides of a change reports what the change makes wrong, not what was wrong
/// already (an object already refused by its operator does not block every later change).
pub fn new_findings(before: Vec<Finding>, after: Vec<Finding>) -> Vec<Finding> {
    let known: std::collections::BTreeSet<(String, ObjectId, String, String)> = before
        .into_iter()
        .map(|finding| (finding.rule, finding.object, finding.path, finding.message))
        .collect();
    after
        .into_iter()
        .filter(|finding| {
            !known.contains(&(
                finding.rule.clone(),
                finding.object.clone(),
                finding.path.clone(),
                finding.message.clone(),
            ))
        })
        .collect()
}
