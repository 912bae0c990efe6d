//! `flotilla controller --strict-rbac`: before it starts, the controller asks the cluster what
//! its credentials may do (a `SelfSubjectRulesReview` per namespace: the control namespace and
//! every namespace it can list) and compares that with the RBAC `flotilla install` binds to its
//! ServiceAccount, derived from the same embedded `deploy/` tree (`cmd_install::render`) with
//! `flotilla_core::rbac`. Anything granted beyond it (another verb, resource, group, a `*`, a
//! non-resource URL) refuses the start, each excess named with what the install allows there.
//! What every authenticated user holds on a conformant cluster (discovery, health, its own
//! reviews) is not an excess.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use flotilla_core::rbac::{self, Excess, PolicyRule, UserInfo};
use flotilla_engine::Cluster;
use serde_json::{json, Value};

use crate::cmd_install::{self, InstallArgs, InstallOutput};

/// The rules `flotilla install --namespace NAMESPACE` binds to the controller's
/// ServiceAccount, per namespace: `(rules in NAMESPACE, rules anywhere else)`, with what every
/// authenticated user holds added to both.
pub fn install_rules(namespace: &str) -> Result<(Vec<PolicyRule>, Vec<PolicyRule>, String)> {
    let text = cmd_install::render(&InstallArgs {
        replicas: 1,
        namespace: namespace.to_string(),
        image: None,
        output: InstallOutput::Json,
    })
    .context("cannot build the install's manifests")?;
    let list: Value = serde_json::from_str(&text).context("reading the install's manifests")?;
    let objects = list["items"].as_array().cloned().unwrap_or_default();
    let account = objects
        .iter()
        .find(|object| object["kind"] == "ServiceAccount")
        .and_then(|object| object["metadata"]["name"].as_str())
        .context("the install has no ServiceAccount")?
        .to_string();
    let user = UserInfo::service_account(namespace, &account);
    let with_defaults = |mut rules: Vec<PolicyRule>| {
        rules.extend(rbac::authenticated_defaults());
        rules
    };
    let home = with_defaults(rbac::rules_for(&objects, &user, Some(namespace)));
    // A namespace the install binds no Role in (an RFC 1123 label cannot contain `/`).
    let elsewhere = with_defaults(rbac::rules_for(&objects, &user, Some("/elsewhere")));
    Ok((home, elsewhere, account))
}

/// The excess grants found, each with the namespaces whose review showed it, and how many
/// namespaces were reviewed.
pub fn compare(
    reviews: &[(String, Vec<PolicyRule>)],
    namespace: &str,
    home: &[PolicyRule],
    elsewhere: &[PolicyRule],
) -> BTreeMap<Excess, Vec<String>> {
    let mut found: BTreeMap<Excess, Vec<String>> = BTreeMap::new();
    for (reviewed, granted) in reviews {
        let allowed = if reviewed == namespace {
            home
        } else {
            elsewhere
        };
        for excess in rbac::excess(granted, allowed) {
            found.entry(excess).or_default().push(reviewed.clone());
        }
    }
    found
}

/// Asks the cluster what the credentials may do in `namespace`.
async fn review(cluster: &Cluster, namespace: &str) -> Result<(Vec<PolicyRule>, Option<String>)> {
    let info = flotilla_engine::cluster::guessed_resource(
        "authorization.k8s.io/v1",
        "SelfSubjectRulesReview",
        false,
    );
    let answer = cluster
        .create(
            &info,
            &json!({
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectRulesReview",
                "spec": {"namespace": namespace},
            }),
        )
        .await
        .with_context(|| {
            format!("cannot ask the cluster what the credentials may do in namespace `{namespace}` (SelfSubjectRulesReview)")
        })?;
    let status = &answer["status"];
    let mut rules: Vec<PolicyRule> = Vec::new();
    for key in ["resourceRules", "nonResourceRules"] {
        if let Some(items) = status[key].as_array() {
            rules.extend(items.iter().map(PolicyRule::from_json));
        }
    }
    let incomplete = (status["incomplete"] == true).then(|| {
        status["evaluationError"]
            .as_str()
            .unwrap_or("no reason given")
            .to_string()
    });
    Ok((rules, incomplete))
}

/// Refuses (an error listing each excess) when the credentials of `cluster` may do more than
/// the install's RBAC for an install in `namespace`; says what it checked otherwise.
pub async fn check(cluster: &Cluster, namespace: &str) -> Result<()> {
    let (home, elsewhere, account) = install_rules(namespace)?;
    let namespaces_info = flotilla_engine::cluster::guessed_resource("v1", "Namespace", false);
    let mut namespaces = vec![namespace.to_string()];
    if let Ok(list) = cluster
        .list(
            &namespaces_info,
            None,
            &flotilla_engine::cluster::list_params_with_labels(""),
        )
        .await
    {
        for item in list["items"].as_array().into_iter().flatten() {
            if let Some(name) = item["metadata"]["name"].as_str() {
                if name != namespace {
                    namespaces.push(name.to_string());
                }
            }
        }
    }
    let mut reviews = Vec::new();
    for reviewed in &namespaces {
        let (rules, incomplete) = review(cluster, reviewed).await?;
        if let Some(reason) = incomplete {
            eprintln!(
                "warning: the cluster's rules for namespace `{reviewed}` are incomplete ({reason}): other authorizers may grant more"
            );
        }
        reviews.push((reviewed.clone(), rules));
    }
    let found = compare(&reviews, namespace, &home, &elsewhere);
    if found.is_empty() {
        println!(
            "strict RBAC: the credentials grant nothing beyond the install's RBAC ({} namespaces reviewed)",
            namespaces.len()
        );
        return Ok(());
    }
    let mut message = format!(
        "`--strict-rbac`: the credentials grant more than the install's RBAC for ServiceAccount `{account}` in `{namespace}`; {} excessive grants:",
        found.len()
    );
    for (excess, places) in &found {
        let place = if places.len() == namespaces.len() && namespaces.len() > 1 {
            "in every namespace".to_string()
        } else {
            let names: Vec<String> = places.iter().map(|name| format!("`{name}`")).collect();
            format!("in namespace {}", names.join(", "))
        };
        message.push_str(&format!("\n  - {excess} ({place})"));
    }
    bail!(
        "{message}\n\nhint: run the controller with the ServiceAccount `flotilla install --namespace {namespace}` creates, or a kubeconfig bound to the same roles (ClusterRoles `flotilla-controller` and `flotilla-apply`, Role `flotilla-controller` in `{namespace}`), or start it without `--strict-rbac`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_rules_come_from_deploy() {
        let (home, elsewhere, account) = install_rules("gitops").expect("install rules");
        assert_eq!(account, "flotilla");
        // The Role counts in the install namespace only.
        assert!(rbac::allows(
            &home,
            "delete",
            "coordination.k8s.io",
            "leases",
            None
        ));
        assert_eq!(home.len(), elsewhere.len() + 2, "{home:?}");
        assert!(!rbac::allows(
            &elsewhere,
            "deletecollection",
            "",
            "secrets",
            None
        ));
        // The ClusterRoles: everywhere.
        assert!(rbac::allows(
            &elsewhere,
            "patch",
            "argoproj.io",
            "applications",
            None
        ));
        assert!(!rbac::allows(
            &home,
            "escalate",
            "rbac.authorization.k8s.io",
            "roles",
            None
        ));
        // An account bound to exactly these rules has no excess; an admin has.
        let reviews = vec![
            ("gitops".to_string(), home.clone()),
            ("default".to_string(), elsewhere.clone()),
        ];
        assert!(compare(&reviews, "gitops", &home, &elsewhere).is_empty());
        // One more verb in one namespace.
        let mut more = elsewhere.clone();
        more.push(PolicyRule::from_json(&json!({
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["roles"],
            "verbs": ["escalate", "get"],
        })));
        let reviews = vec![
            ("gitops".to_string(), home.clone()),
            ("team".to_string(), more),
        ];
        let found = compare(&reviews, "gitops", &home, &elsewhere);
        let texts: Vec<String> = found.keys().map(|excess| excess.to_string()).collect();
        assert_eq!(
            texts,
            ["`escalate` on `roles` in group `rbac.authorization.k8s.io`; the install allows `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` there"]
        );
        assert_eq!(found.values().next().expect("one"), &["team".to_string()]);
        let reviews = vec![
            ("gitops".to_string(), rbac::everything()),
            ("default".to_string(), rbac::everything()),
        ];
        let found = compare(&reviews, "gitops", &home, &elsewhere);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.values().all(|places| places.len() == 2));
    }
}
