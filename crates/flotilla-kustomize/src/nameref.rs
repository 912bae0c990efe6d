//! Name references: after prefixes, suffixes, hashes and namespace changes, every field that
//! names another object (a Deployment's ConfigMap volume, a RoleBinding's role, …) is updated to
//! the object's final name, following kustomize's selection rules when several objects once had
//! the referenced name.

use std::collections::HashMap;

use flotilla_core::Value;

use crate::config::{NameBackReference, TransformerConfig};
use crate::error::{BuildError, Result};
use crate::fieldspec::{visit_fields_strict, FieldSpec};
use crate::resource::{Gvk, ResMap, Resource};

/// The resources a reference may resolve to, indexed by every earlier name they had.
struct Candidates<'a> {
    all: &'a [Resource],
    by_previous_name: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Candidates<'a> {
    fn new(all: &'a [Resource]) -> Self {
        let mut by_previous_name: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (index, resource) in all.iter().enumerate() {
            let mut names: Vec<&str> = resource
                .previous_ids
                .iter()
                .map(|id| id.name.as_str())
                .collect();
            names.sort_unstable();
            names.dedup();
            for name in names {
                by_previous_name.entry(name).or_default().push(index);
            }
        }
        Candidates {
            all,
            by_previous_name,
        }
    }

    /// Resources once named `old_name` that `referrer` could reference (kustomize's
    /// `SubsetThatCouldBeReferencedByResource`), in build order.
    fn named(&self, old_name: &str, referrer: &Resource) -> Result<Vec<&'a Resource>> {
        let binding_namespaces = role_binding_namespaces(referrer)?;
        let Some(indexes) = self.by_previous_name.get(old_name) else {
            return Ok(Vec::new());
        };
        let referrer_id = referrer.current_id();
        let referrer_cluster_scoped = referrer_id.gvk.is_cluster_scoped();
        Ok(indexes
            .iter()
            .map(|index| &self.all[*index])
            .filter(|candidate| {
                if referrer_cluster_scoped {
                    return true;
                }
                let id = candidate.current_id();
                id.gvk.is_cluster_scoped()
                    || crate::resource::namespaces_equal(&id.namespace, &referrer_id.namespace)
                    || binding_namespaces
                        .iter()
                        .any(|namespace| namespace == candidate.namespace())
            })
            .collect())
    }
}

/// Namespaces of the ServiceAccount subjects of a RoleBinding: objects there may be referenced
/// from the binding's own namespace. A subject whose `namespace` is present but not a string is
/// invalid input, as in kustomize.
fn role_binding_namespaces(referrer: &Resource) -> Result<Vec<String>> {
    if referrer.kind() != "RoleBinding" {
        return Ok(Vec::new());
    }
    let mut namespaces = Vec::new();
    let subjects = referrer
        .object
        .get_path(&["subjects"])
        .and_then(Value::as_sequence);
    for subject in subjects.map(Vec::as_slice).unwrap_or(&[]) {
        let Some(namespace) = subject.get_path(&["namespace"]) else {
            continue;
        };
        if subject.get_str(&["kind"]).is_none() {
            continue;
        }
        match namespace.as_str() {
            Some(namespace) if subject.get_str(&["kind"]) == Some("ServiceAccount") => {
                namespaces.push(namespace.to_string())
            }
            Some(_) => {}
            None => {
                return Err(BuildError::transform(format!(
                    "Invalid Input: namespace is blank for resource \"{}\": give each subject's `namespace` a value or remove it",
                    referrer.current_id()
                )))
            }
        }
    }
    Ok(namespaces)
}

/// Fixes every name reference in `resources`.
pub fn fix_name_references(resources: &mut ResMap, config: &TransformerConfig) -> Result<()> {
    // Per referrer, the (field spec, referenced kind) pairs that apply, in configuration order.
    let original_gvks: Vec<Gvk> = resources
        .iter()
        .map(|resource| resource.original_id().gvk)
        .collect();
    let mut work: Vec<Vec<(&FieldSpec, &Gvk)>> = vec![Vec::new(); resources.len()];
    for NameBackReference {
        gvk: target,
        referrers,
    } in &config.name_reference
    {
        for spec in referrers {
            for (index, gvk) in original_gvks.iter().enumerate() {
                if !spec.applies_to(gvk) {
                    continue;
                }
                let duplicate = work[index]
                    .iter()
                    .any(|(seen, seen_target)| seen.same_target(spec) && *seen_target == target);
                if !duplicate {
                    work[index].push((spec, target));
                }
            }
        }
    }
    let snapshot: Vec<Resource> = resources.resources.clone();
    let candidates = Candidates::new(&snapshot);
    for (index, specs) in work.into_iter().enumerate() {
        if specs.is_empty() {
            continue;
        }
        let referrer_snapshot = &snapshot[index];
        let resource = &mut resources.resources[index];
        let mut object = std::mem::take(&mut resource.object);
        let mut result = Ok(());
        for (spec, target) in specs {
            let spec_for_walk = FieldSpec {
                create: false,
                ..spec.clone()
            };
            result = visit_fields_strict(&mut object, &spec_for_walk, &mut |field| {
                update_field(field, spec, target, referrer_snapshot, &candidates)
            });
            if result.is_err() {
                break;
            }
        }
        resource.object = object;
        result?;
    }
    Ok(())
}

fn update_field(
    field: &mut Value,
    spec: &FieldSpec,
    target: &Gvk,
    referrer: &Resource,
    candidates: &Candidates<'_>,
) -> Result<()> {
    match field {
        Value::String(name) => {
            let named = candidates.named(name, referrer)?;
            if let Some(referral) = select_referral(name, spec, target, referrer, &named)? {
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
            let named = candidates.named(&old_name, referrer)?;
            let filtered: Vec<&Resource> = match &namespace_filter {
                Some(namespace) => named
                    .iter()
                    .copied()
                    .filter(|candidate| {
                        // The reference may name the namespace the object came from or the
                        // one it is in now.
                        crate::resource::namespaces_equal(
                            &candidate.original_id().namespace,
                            namespace,
                        ) || crate::resource::namespaces_equal(candidate.namespace(), namespace)
                    })
                    .collect(),
                None => named,
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
    // First leniently (a side without prefixes, or without suffixes, does not disqualify),
    // then strictly, as kustomize does.
    let lenient: Vec<&Resource> = selected
        .iter()
        .copied()
        .filter(|candidate| prefixes_suffixes_match(candidate, referrer, true))
        .collect();
    if lenient.len() == 1 {
        return Ok(Some(lenient[0]));
    }
    selected.retain(|candidate| prefixes_suffixes_match(candidate, referrer, false));
    match selected.len() {
        0 => Ok(None),
        1 => Ok(Some(selected[0])),
        _ => {
            // Copies with one final name and namespace are interchangeable; otherwise the
            // reference is ambiguous.
            let (first, first_namespace) = (selected[0].name(), selected[0].namespace());
            if selected.iter().all(|candidate| {
                candidate.name() == first && candidate.namespace() == first_namespace
            }) {
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

/// Whether two resources were renamed by the same prefixes and suffixes (the most recent ones
/// last); with `allow_empty`, a side with none matches anything.
fn prefixes_suffixes_match(a: &Resource, b: &Resource, allow_empty: bool) -> bool {
    let matches = |x: &[String], y: &[String]| {
        (allow_empty && (x.is_empty() || y.is_empty())) || same_ending(x, y)
    };
    matches(&a.prefixes, &b.prefixes) && matches(&a.suffixes, &b.suffixes)
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
