//! Name references: after prefixes, suffixes, hashes and namespace changes, every field that
//! names another object (a Deployment's ConfigMap volume, a RoleBinding's role, …) is updated to
//! the object's final name, following kustomize's selection rules when several objects once had
//! the referenced name.

use std::collections::HashSet;

use flotilla_core::Value;

use crate::config::{NameBackReference, TransformerConfig};
use crate::error::{BuildError, Result};
use crate::fieldspec::{visit_fields, FieldSpec};
use crate::resource::{Gvk, ResMap, Resource};

/// Fixes every name reference in `resources`.
pub fn fix_name_references(resources: &mut ResMap, config: &TransformerConfig) -> Result<()> {
    // (referrer index, field spec, target gvk) in kustomize's order.
    let mut work: Vec<(usize, FieldSpec, Gvk)> = Vec::new();
    let mut seen: HashSet<(usize, String, Gvk, Gvk)> = HashSet::new();
    let mut referrer_order: Vec<usize> = Vec::new();
    for NameBackReference {
        gvk: target,
        referrers,
    } in &config.name_reference
    {
        for spec in referrers {
            for (index, resource) in resources.resources.iter().enumerate() {
                if !spec.applies_to(&resource.original_id().gvk) {
                    continue;
                }
                if !seen.insert((index, spec.path.clone(), spec.gvk.clone(), target.clone())) {
                    continue;
                }
                if !referrer_order.contains(&index) {
                    referrer_order.push(index);
                }
                work.push((index, spec.clone(), target.clone()));
            }
        }
    }
    let snapshot: Vec<Resource> = resources.resources.clone();
    for referrer_index in referrer_order {
        let candidates = candidates_for(&snapshot, &snapshot[referrer_index]);
        for (index, spec, target) in work.iter().filter(|(index, _, _)| *index == referrer_index) {
            let referrer_snapshot = &snapshot[*index];
            let resource = &mut resources.resources[*index];
            let spec_for_walk = FieldSpec {
                create: false,
                ..spec.clone()
            };
            let mut object = std::mem::take(&mut resource.object);
            let result = visit_fields(&mut object, &spec_for_walk, &mut |field| {
                update_field(field, spec, target, referrer_snapshot, &candidates)
            });
            resource.object = object;
            result?;
        }
    }
    Ok(())
}

/// kustomize's `SubsetThatCouldBeReferencedByResource`.
fn candidates_for<'a>(all: &'a [Resource], referrer: &Resource) -> Vec<&'a Resource> {
    let referrer_id = referrer.current_id();
    if referrer_id.gvk.is_cluster_scoped() {
        return all.iter().collect();
    }
    let mut binding_namespaces: HashSet<String> = HashSet::new();
    if referrer.kind() == "RoleBinding" {
        if let Some(subjects) = referrer
            .object
            .get_path(&["subjects"])
            .and_then(Value::as_sequence)
        {
            for subject in subjects {
                if subject.get_str(&["kind"]) == Some("ServiceAccount") {
                    if let Some(namespace) = subject.get_str(&["namespace"]) {
                        binding_namespaces.insert(namespace.to_string());
                    }
                }
            }
        }
    }
    all.iter()
        .filter(|candidate| {
            let id = candidate.current_id();
            id.gvk.is_cluster_scoped()
                || crate::resource::namespaces_equal(&id.namespace, &referrer_id.namespace)
                || binding_namespaces.contains(candidate.namespace())
        })
        .collect()
}

fn update_field(
    field: &mut Value,
    spec: &FieldSpec,
    target: &Gvk,
    referrer: &Resource,
    candidates: &[&Resource],
) -> Result<()> {
    match field {
        Value::String(name) => {
            if let Some(referral) = select_referral(name, spec, target, referrer, candidates)? {
                *name = referral.name().to_string();
            }
            Ok(())
        }
        Value::Sequence(items) => {
            for item in items.iter_mut() {
                match item {
                    Value::String(_) => update_field(item, spec, target, referrer, candidates)?,
                    Value::Mapping(mapping) => {
                        // A list of references (e.g. role binding subjects): only entries of
                        // the referenced kind.
                        let kind = mapping.get("kind").and_then(Value::as_str);
                        if kind.is_none_or(|kind| kind == target.kind) {
                            update_field(item, spec, target, referrer, candidates)?;
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        Value::Mapping(mapping) => {
            let Some(old_name) = mapping
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                return Err(BuildError::transform(format!(
                    "path config error: no `name` field in the map at `{}` of {} `{}`",
                    spec.path,
                    referrer.kind(),
                    referrer.name()
                )));
            };
            let namespace_filter = mapping.get("namespace").and_then(Value::scalar_text);
            let filtered: Vec<&Resource> = match &namespace_filter {
                Some(namespace) => candidates
                    .iter()
                    .copied()
                    .filter(|candidate| {
                        crate::resource::namespaces_equal(
                            &candidate.original_id().namespace,
                            namespace,
                        )
                    })
                    .collect(),
                None => candidates.to_vec(),
            };
            let Some(referral) = select_referral(&old_name, spec, target, referrer, &filtered)?
            else {
                return Ok(());
            };
            if referral.name() == old_name && referral.namespace().is_empty() {
                return Ok(());
            }
            mapping.insert("name", Value::string(referral.name()));
            if !referral.namespace().is_empty() {
                mapping.insert("namespace", Value::string(referral.namespace()));
            }
            Ok(())
        }
        Value::Null => Ok(()),
        other => Err(BuildError::transform(format!(
            "expected a name at `{}` of {} `{}`, found a {}",
            spec.path,
            referrer.kind(),
            referrer.name(),
            other.type_name()
        ))),
    }
}

/// kustomize's referral selection among resources that once had `old_name`.
fn select_referral<'a>(
    old_name: &str,
    spec: &FieldSpec,
    target: &Gvk,
    referrer: &Resource,
    candidates: &[&'a Resource],
) -> Result<Option<&'a Resource>> {
    let mut selected: Vec<&Resource> = candidates
        .iter()
        .copied()
        .filter(|candidate| candidate.previous_ids.iter().any(|id| id.name == old_name))
        .filter(|candidate| {
            candidate
                .previous_ids
                .iter()
                .any(|id| target.selects(&id.gvk))
        })
        .collect();
    if spec.path.ends_with("roleRef/name") {
        let kind = referrer
            .object
            .get_str(&["roleRef", "kind"])
            .unwrap_or("")
            .to_string();
        let group = referrer
            .object
            .get_str(&["roleRef", "apiGroup"])
            .unwrap_or("")
            .to_string();
        let role_gvk = Gvk {
            group,
            version: String::new(),
            kind,
        };
        selected.retain(|candidate| {
            candidate
                .previous_ids
                .iter()
                .any(|id| role_gvk.selects(&id.gvk))
        });
    }
    let referrer_id = referrer.current_id();
    if !referrer_id.gvk.is_cluster_scoped() {
        selected.retain(|candidate| {
            let id = candidate.current_id();
            id.gvk.is_cluster_scoped()
                || candidate.kind() == "ServiceAccount"
                || crate::resource::namespaces_equal(&id.namespace, &referrer_id.namespace)
        });
    }
    if selected.len() == 1 {
        return Ok(Some(selected[0]));
    }
    selected.retain(|candidate| {
        same_ending(&candidate.prefixes, &referrer.prefixes)
            && same_ending(&candidate.suffixes, &referrer.suffixes)
    });
    match selected.len() {
        0 => Ok(None),
        1 => Ok(Some(selected[0])),
        _ => {
            let first = selected[0].name();
            if selected.iter().all(|candidate| candidate.name() == first) {
                return Ok(Some(selected[0]));
            }
            let ids: Vec<String> = selected
                .iter()
                .map(|candidate| candidate.current_id().to_string())
                .collect();
            Err(BuildError::transform(format!(
                "found multiple possible referrals for `{old_name}` at `{}` of {} `{}`: {}",
                spec.path,
                referrer.kind(),
                referrer.name(),
                ids.join(", ")
            )))
        }
    }
}

/// Whether two lists end the same way (`[a, b, c]` and `[b, c]`); empty matches only empty.
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (shorter, longer) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if shorter.is_empty() {
        return longer.is_empty();
    }
    let offset = longer.len() - shorter.len();
    shorter
        .iter()
        .enumerate()
        .all(|(index, item)| &longer[index + offset] == item)
}
