//! API version rules: a manifest written in an API version the installed operator no longer
//! serves cannot be applied (block); one it serves but no longer stores, or marks deprecated,
//! works until the next operator upgrade removes it (warn). The operator versions come from the
//! caller (`Change::operator_versions`: the cluster's CSVs, or the Subscriptions of the same
//! repository), the versions each operator version serves from `flotilla-catalog`
//! (`Catalog::owner_of`, `OwnedCrd::versions_for`). Kinds no catalog package owns, or whose
//! operator version is not known, are not judged. Every object after the change is judged, changed
//! or not: an operator upgrade makes unchanged manifests unservable.

use crate::objects::Field;
use serde_json::Value;

use flotilla_catalog::{Catalog, OwnedCrd, Package};

use crate::finding::{Finding, Severity};
use crate::objects::{Change, ObjectId};

/// The operator version does not serve the manifest's API version.
pub const NOT_SERVED: &str = "api-version-not-served";
/// The API version is served but deprecated, or not the one the operator stores.
pub const DEPRECATED: &str = "api-version-deprecated";

pub fn check(change: &Change, findings: &mut Vec<Finding>) {
    if change.operator_versions.is_empty() {
        return;
    }
    check_with(Catalog::embedded(), change, findings);
}

/// The (group, kind) last looked up and the operators that own it.
type Owners<'a> = (Option<(&'a str, &'a str)>, Vec<(&'a Package, &'a OwnedCrd)>);

/// The rules against a given catalog.
pub fn check_with(catalog: &Catalog, change: &Change, findings: &mut Vec<Finding>) {
    let mut owners: Owners<'_> = (None, Vec::new());
    for (id, object) in &change.after {
        if id.group().is_empty() {
            continue;
        }
        let Some(version) = object
            .at("apiVersion")
            .as_str()
            .and_then(|api_version| api_version.rsplit_once('/'))
            .map(|(_, version)| version)
            .filter(|version| !version.is_empty())
        else {
            continue;
        };
        // Objects come in identity order, kind by kind: the owners are looked up once a kind.
        if owners.0 != Some((id.group(), id.kind())) {
            owners = (
                Some((id.group(), id.kind())),
                catalog.owner_of(id.group(), id.kind()),
            );
        }
        for &(package, crd) in &owners.1 {
            let Some(operator) = change.operator_versions.get(&package.name) else {
                continue;
            };
            judge(id, version, package, crd, operator, findings);
        }
    }
}

fn judge(
    id: &ObjectId,
    version: &str,
    package: &Package,
    crd: &OwnedCrd,
    operator: &str,
    findings: &mut Vec<Finding>,
) {
    let operator_name = format!("{} {operator}", package.name);
    if !crd.in_operator_version(operator) {
        findings.push(Finding::new(
            NOT_SERVED,
            Severity::Block,
            id,
            "apiVersion",
            format!("{operator_name} does not serve {} at all (its CRD {} is not part of that version): the manifest cannot be applied", id.kind(), crd.name()),
            format!("install a version of {} that serves {}, or remove the manifest", package.name, id.kind()),
        ));
        return;
    }
    let versions: Vec<&Value> = crd.versions_for(operator).collect();
    let served: Vec<&str> = versions
        .iter()
        .filter(|entry| entry.at("served").as_bool() == Some(true))
        .filter_map(|entry| entry.at("name").as_str())
        .collect();
    let storage = versions
        .iter()
        .find(|entry| entry.at("storage").as_bool() == Some(true))
        .and_then(|entry| entry.at("name").as_str())
        .unwrap_or_default();
    let group_version = |name: &str| format!("{}/{name}", id.group());
    let entry = versions
        .iter()
        .find(|entry| entry.at("name").as_str() == Some(version));
    let Some(entry) = entry.filter(|entry| entry.at("served").as_bool() == Some(true)) else {
        findings.push(Finding::new(
            NOT_SERVED,
            Severity::Block,
            id,
            "apiVersion",
            format!("{operator_name} no longer serves {} (it serves {}): the API server refuses the manifest, so nothing of this object is applied", group_version(version), served.iter().map(|name| group_version(name)).collect::<Vec<_>>().join(", ")),
            format!("write the manifest as `apiVersion: {}`, converting the fields the operator's upgrade notes name, before the operator is upgraded", group_version(storage)),
        ));
        return;
    };
    let deprecated = entry.at("deprecated").as_bool() == Some(true);
    if deprecated || entry.at("storage").as_bool() != Some(true) {
        let why = if deprecated {
            match entry.at("deprecationWarning").as_str() {
                Some(warning) => format!("deprecated ({warning})"),
                None => "deprecated".to_string(),
            }
        } else {
            format!(
                "served for compatibility only (it stores {})",
                group_version(storage)
            )
        };
        findings.push(Finding::new(
            DEPRECATED,
            Severity::Warn,
            id,
            "apiVersion",
            format!("{operator_name} serves {} but it is {why}: a later operator version removes it, and then the manifest can no longer be applied", group_version(version)),
            format!("write the manifest as `apiVersion: {}`", group_version(storage)),
        ));
    }
}
