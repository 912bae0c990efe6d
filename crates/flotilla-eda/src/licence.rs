//! Licence rules for operands whose operator checks a licence (EventStreams, QueueManager): the
//! licence must be accepted, and the licence id (`spec.license.license`) must cover the operand
//! version (`spec.version`) and allow the use (`spec.license.use`). Which id covers what is data,
//! not code: `flotilla-catalog`'s `data/licences/<product>.yaml`, one row per id with its
//! sources. An id the data does not know is a warning (the data may be behind IBM's pages), not
//! a block. These are rules about one state: a change is held to what it brings.

use crate::objects::Field;
use serde_json::Value;

use flotilla_catalog::{compare_versions, Catalog, Licence, ProductLicences};

use crate::finding::{new_findings, Finding, Severity};
use crate::kafka::Objects;
use crate::objects::{Change, ObjectId};

/// `spec.license.accept` is not `true`.
pub const NOT_ACCEPTED: &str = "licence-not-accepted";
/// The licence id does not cover `spec.version`.
pub const VERSION_NOT_COVERED: &str = "licence-version-not-covered";
/// The licence id does not allow `spec.license.use`.
pub const USE_NOT_ALLOWED: &str = "licence-use-not-allowed";
/// No licence id, or one flotilla's licence data does not know.
pub const UNKNOWN: &str = "licence-unknown";

pub fn check(change: &Change, findings: &mut Vec<Finding>) {
    let catalog = Catalog::embedded();
    let mut before = Vec::new();
    check_state(
        catalog,
        &change.before,
        &change.operator_versions,
        &mut before,
    );
    let mut after = Vec::new();
    check_state(
        catalog,
        &change.after,
        &change.operator_versions,
        &mut after,
    );
    findings.extend(new_findings(before, after));
}

/// The licence rules on one set of objects.
pub fn check_state(
    catalog: &Catalog,
    objects: &Objects,
    operator_versions: &std::collections::BTreeMap<String, String>,
    findings: &mut Vec<Finding>,
) {
    // Only the licensed kinds' ranges of the map are read, not every object.
    for product in &catalog.licences {
        for (id, object) in
            crate::objects::of_kinds(objects, &[product.group.as_str()], &[product.kind.as_str()])
        {
            let version = operand_version(product, object, operator_versions);
            check_object(product, id, object, version.as_deref(), findings);
        }
    }
}

/// The operand version a licence must cover: `spec.version` without an MQ image revision
/// (`9.4.0.0-r1` → `9.4.0.0`); an Event Streams `latest` is the operator's version from 12.0 on
/// (where operator and product versions are the same), unknown before.
fn operand_version(
    product: &ProductLicences,
    object: &Value,
    operator_versions: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let text = object.at("spec").at("version").as_str()?.trim();
    if text.eq_ignore_ascii_case("latest") {
        let operator = operator_versions.get(&product.product)?;
        return compare_versions(operator, "12.0.0")
            .is_ge()
            .then(|| operator.clone());
    }
    let without_revision = match text.rsplit_once("-r") {
        Some((version, revision)) if revision.chars().all(|c| c.is_ascii_digit()) => version,
        _ => text,
    };
    (!without_revision.is_empty()).then(|| without_revision.to_string())
}

fn check_object(
    product: &ProductLicences,
    id: &ObjectId,
    object: &Value,
    version: Option<&str>,
    findings: &mut Vec<Finding>,
) {
    let license = object.at("spec").at("license");
    // A licence block or fields of another type: the schema refuses the object; nothing to
    // judge.
    if !(license.is_object() || license.is_null()) {
        return;
    }
    let accept = license.at("accept");
    if accept.is_null() || *accept == Value::Bool(false) {
        findings.push(Finding::new(
            NOT_ACCEPTED,
            Severity::Block,
            id,
            "spec.license.accept",
            format!("`spec.license.accept` is not true: the operator deploys no {} until the licence is accepted, so nothing is created and the {} reports the licence as not accepted", id.kind(), id.kind()),
            "read the licence named in `spec.license.license` and set `spec.license.accept: true` if you accept it",
        ));
    }
    if !(license.at("license").is_null() || license.at("license").is_string()) {
        return;
    }
    let Some(licence_id) = license.at("license").as_str().filter(|id| !id.is_empty()) else {
        findings.push(Finding::new(
            UNKNOWN,
            Severity::Warn,
            id,
            "spec.license.license",
            format!("no licence id (`spec.license.license`): whether the licence covers this {} cannot be checked, and current operators refuse an operand without one", id.kind()),
            suggestion(product, version, license.at("use").as_str()),
        ));
        return;
    };
    let Some(licence) = product
        .licences
        .iter()
        .find(|licence| licence.id == licence_id)
    else {
        findings.push(Finding::new(
            UNKNOWN,
            Severity::Warn,
            id,
            "spec.license.license",
            format!("the licence id {licence_id} is not in flotilla's licence data for {} (checked {}): whether it covers this {} cannot be checked", product.product, product.checked, id.kind()),
            format!("check the id against IBM's licensing reference for {}; {}", product.product, suggestion(product, version, license.at("use").as_str())),
        ));
        return;
    };
    if let Some(version) = version {
        if licence.covers(version) == Some(false) {
            findings.push(Finding::new(
                VERSION_NOT_COVERED,
                Severity::Block,
                id,
                "spec.version",
                format!("the licence {} ({}) covers {} versions {}, not {version}: the operator refuses the licence for this version, so the {} is not deployed or upgraded", licence.id, licence.name, product.product, licence.versions.as_ref().map(ToString::to_string).unwrap_or_default(), id.kind()),
                suggestion(product, Some(version), license.at("use").as_str()),
            ));
        }
    }
    if let Some(use_) = license.at("use").as_str() {
        if licence.allows(use_) == Some(false) {
            findings.push(Finding::new(
                USE_NOT_ALLOWED,
                Severity::Block,
                id,
                "spec.license.use",
                format!("the licence {} ({}) allows the use {}, not {use_}: the operator refuses the combination, so the {} is not deployed", licence.id, licence.name, licence.uses.join(", "), id.kind()),
                format!("set `spec.license.use` to one of {} as your entitlement allows, or use a licence id that allows {use_}", licence.uses.join(", ")),
            ));
        }
    }
}

/// What to do: the ids of the data that cover `version` and allow `use_`.
fn suggestion(product: &ProductLicences, version: Option<&str>, use_: Option<&str>) -> String {
    let fits = |licence: &&Licence| {
        version.is_none_or(|version| licence.covers(version) == Some(true))
            && use_.is_none_or(|use_| licence.allows(use_) != Some(false))
    };
    let ids: Vec<&str> = product
        .licences
        .iter()
        .filter(fits)
        .map(|licence| licence.id.as_str())
        .take(8)
        .collect();
    match (ids.is_empty(), version) {
        (true, _) => format!(
            "use the licence id of your entitlement from IBM's licensing reference for {}",
            product.product
        ),
        (false, Some(version)) => format!(
            "use the id of your entitlement; ids covering {version}{}: {}",
            use_.map(|use_| format!(" for {use_}")).unwrap_or_default(),
            ids.join(", ")
        ),
        (false, None) => format!(
            "use the licence id of your entitlement (for example {})",
            ids.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operand_versions_drop_image_revisions_and_resolve_latest() {
        let catalog = Catalog::embedded();
        let mq = catalog.licences_of("ibm-mq").expect("MQ licences");
        let es = catalog
            .licences_of("ibm-eventstreams")
            .expect("ES licences");
        let none = std::collections::BTreeMap::new();
        let object = |version: &str| json!({"spec": {"version": version}});
        assert_eq!(
            operand_version(mq, &object("9.4.0.0-r1"), &none).as_deref(),
            Some("9.4.0.0")
        );
        assert_eq!(
            operand_version(mq, &object("9.4.2.0"), &none).as_deref(),
            Some("9.4.2.0")
        );
        assert_eq!(operand_version(es, &object("latest"), &none), None);
        let operators: std::collections::BTreeMap<String, String> =
            [("ibm-eventstreams".to_string(), "12.1.0".to_string())].into();
        assert_eq!(
            operand_version(es, &object("latest"), &operators).as_deref(),
            Some("12.1.0")
        );
        let old: std::collections::BTreeMap<String, String> =
            [("ibm-eventstreams".to_string(), "3.7.0".to_string())].into();
        assert_eq!(operand_version(es, &object("latest"), &old), None);
        assert_eq!(
            operand_version(mq, &json!({"spec": {"version": 9}}), &none),
            None
        );
    }
}
