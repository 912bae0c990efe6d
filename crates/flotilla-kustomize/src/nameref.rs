//! Name references: after prefixes, suffixes, hashes and namespace changes, every field that
//! names another object (a Deployment's ConfigMap volume, a RoleBinding's role, …) is updated to
//! the object's final name, following kustomize's selection rules when several objects once had
//! the referenced name.

use std::collections::HashMap;

use flotilla_core::{Mapping, Value};

use crate::config::{NameBackReference, TransformerConfig};
use crate::error::{BuildError, Result};
use crate::fieldspec::{visit_path_strict, FieldSpec};
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
        let referrer_namespace = referrer.namespace();
        let referrer_cluster_scoped = referrer.is_cluster_scoped();
        Ok(indexes
            .iter()
            .map(|index| &self.all[*index])
            .filter(|candidate| {
                if referrer_cluster_scoped {
                    return true;
                }
                candidate.is_cluster_scoped()
                    || crate::resource::namespaces_equal(candidate.namespace(), referrer_namespace)
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
    // They depend only on the referrer's original kind, of which a build has few: worked out
    // once per kind.
    let mut kinds: Vec<(Gvk, Vec<(&FieldSpec, &Gvk)>)> = Vec::new();
    let mut work: Vec<usize> = Vec::with_capacity(resources.len());
    for resource in resources.iter() {
        let gvk = resource.original_id().gvk;
        let position = match kinds.iter().position(|(seen, _)| *seen == gvk) {
            Some(position) => position,
            None => {
                let specs = applicable_specs(config, &gvk);
                kinds.push((gvk, specs));
                kinds.len() - 1
            }
        };
        work.push(position);
    }
    // Referrers are updated in place while every lookup sees the resources as they were: the
    // lookups read only identities, so the snapshot holds only those (see `identity_view`),
    // and the earlier ids, prefixes and suffixes, which the walk never changes, are lent to it
    // and given back at the end.
    let snapshot: Vec<Resource> = resources.iter_mut().map(identity_view).collect();
    let result = fix_with_snapshot(resources, &snapshot, &kinds, work);
    for (resource, view) in resources.iter_mut().zip(snapshot) {
        resource.previous_ids = view.previous_ids;
        resource.prefixes = view.prefixes;
        resource.suffixes = view.suffixes;
    }
    result
}

/// Updates every referrer of `resources`, looking candidates up in `snapshot`.
fn fix_with_snapshot(
    resources: &mut ResMap,
    snapshot: &[Resource],
    kinds: &[(Gvk, Vec<(&FieldSpec, &Gvk)>)],
    work: Vec<usize>,
) -> Result<()> {
    let candidates = Candidates::new(snapshot);
    for (index, kind) in work.into_iter().enumerate() {
        let specs = &kinds[kind].1;
        if specs.is_empty() {
            continue;
        }
        let referrer_snapshot = &snapshot[index];
        let resource = &mut resources.resources[index];
        let mut object = std::mem::take(&mut resource.object);
        let mut result = Ok(());
        for &(spec, target) in specs {
            result = visit_path_strict(&mut object, &spec.path, &mut |field| {
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

/// The (field spec, referenced kind) pairs of `config` that apply to referrers of kind `gvk`,
/// in configuration order, without repeats.
fn applicable_specs<'a>(config: &'a TransformerConfig, gvk: &Gvk) -> Vec<(&'a FieldSpec, &'a Gvk)> {
    let mut specs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for NameBackReference {
        gvk: target,
        referrers,
    } in &config.name_reference
    {
        for spec in referrers {
            if spec.applies_to(gvk) && seen.insert((&spec.gvk, spec.path.as_str(), target)) {
                specs.push((spec, target));
            }
        }
    }
    specs
}

/// A copy of `resource` with only what reference lookups read: apiVersion, kind, metadata name
/// and namespace, a binding's `subjects` and `roleRef`; and the earlier ids, prefixes and
/// suffixes, taken from `resource` (`fix_name_references` gives them back).
fn identity_view(resource: &mut Resource) -> Resource {
    let mut object = Mapping::new();
    for key in ["apiVersion", "kind", "subjects", "roleRef"] {
        if let Some(value) = resource.mapping().get(key) {
            object.insert(key, value.clone());
        }
    }
    if let Some(metadata) = resource.mapping().get("metadata") {
        let view = match metadata.as_mapping() {
            Some(metadata) => Value::Mapping(
                ["name", "namespace"]
                    .into_iter()
                    .filter_map(|key| Some((key.to_string(), metadata.get(key)?.clone())))
                    .collect(),
            ),
            None => metadata.clone(),
        };
        object.insert("metadata", view);
    }
    let mut view = Resource::new(Value::Mapping(object));
    view.previous_ids = std::mem::take(&mut resource.previous_ids);
    view.prefixes = std::mem::take(&mut resource.prefixes);
    view.suffixes = std::mem::take(&mut resource.suffixes);
    view
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
    if !referrer.is_cluster_scoped() {
        let referrer_namespace = referrer.namespace();
        selected.retain(|candidate| {
            candidate.is_cluster_scoped()
                || candidate.kind() == "ServiceAccount"
                || crate::resource::namespaces_equal(candidate.namespace(), referrer_namespace)
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
