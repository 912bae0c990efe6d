//! The generated tree against KAM's (`tests/kam/kam-tree.txt`, what `kam bootstrap` v0.0.36
//! writes for one service, two environments and a git token): every path of KAM's is in ours
//! (after the renames) or named as left out, every path of ours is in KAM's or named as an
//! addition, each with the reason (`tests/kam/differences.txt`), and every named difference
//! still exists.

use std::collections::BTreeSet;

use flotilla_bootstrap::catalog::operators_for;
use flotilla_bootstrap::generate::generate;
use flotilla_bootstrap::manifest::{
    App, Environment, KafkaFlavour, Service, Solution, GIT_TOKEN_CREDENTIAL, IN_CLUSTER,
    MANIFEST_API_VERSION, OPENSHIFT_GITOPS_NAMESPACE,
};

/// `*` matches within one segment, `**` across segments.
fn glob(pattern: &str, path: &str) -> bool {
    fn matches(pattern: &[u8], path: &[u8]) -> bool {
        match pattern {
            [] => path.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=path.len()).any(|skip| matches(rest, &path[skip..])),
            [b'*', rest @ ..] => {
                let segment = path
                    .iter()
                    .position(|byte| *byte == b'/')
                    .unwrap_or(path.len());
                (0..=segment).any(|skip| matches(rest, &path[skip..]))
            }
            [first, rest @ ..] => path.first() == Some(first) && matches(rest, &path[1..]),
        }
    }
    matches(pattern.as_bytes(), path.as_bytes())
}

fn rename(from: &str, to: &str, path: &str) -> Option<String> {
    match (from.strip_suffix("**"), to.strip_suffix("**")) {
        (Some(from_prefix), Some(to_prefix)) => path
            .strip_prefix(from_prefix)
            .map(|rest| format!("{to_prefix}{rest}")),
        _ => (from == path).then(|| to.to_string()),
    }
}

struct Difference {
    kind: String,
    pattern: String,
    target: Option<String>,
    reason: String,
}

fn differences() -> Vec<Difference> {
    include_str!("kam/differences.txt")
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (head, reason) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("no reason: {line}"));
            let mut words = head.split_whitespace();
            let kind = words.next().unwrap_or_default().to_string();
            let pattern = words.next().unwrap_or_default().to_string();
            let target = words.next().map(str::to_string);
            assert!(
                !reason.trim().is_empty(),
                "a difference without its reason: {line}"
            );
            Difference {
                kind,
                pattern,
                target,
                reason: reason.to_string(),
            }
        })
        .collect()
}

fn our_tree() -> BTreeSet<String> {
    let operators = operators_for(KafkaFlavour::None, false, &[]).expect("operators");
    let app = App {
        name: "app-taxi".into(),
        services: vec![Service {
            name: "taxi".into(),
            source_url: "https://github.com/org/taxi.git".into(),
            image: "quay.io/user/taxi".into(),
            tag: "latest".into(),
            port: 8080,
        }],
    };
    let solution = Solution {
        api_version: MANIFEST_API_VERSION.into(),
        kind: "Solution".into(),
        name: "tst".into(),
        prefix: "tst-".into(),
        gitops_repo_url: "https://github.com/org/gitops.git".into(),
        gitops_revision: "HEAD".into(),
        image_repo: "quay.io/user".into(),
        argocd_namespace: OPENSHIFT_GITOPS_NAMESPACE.into(),
        kafka: KafkaFlavour::None,
        mq: false,
        operators,
        credentials: vec![GIT_TOKEN_CREDENTIAL.into()],
        environments: ["dev", "stage"]
            .iter()
            .map(|name| Environment {
                name: name.to_string(),
                cluster: IN_CLUSTER.into(),
                apps: vec![app.clone()],
            })
            .collect(),
    };
    solution.validate().expect("valid");
    let plan = generate(&solution, &Default::default()).expect("generates");
    plan.files
        .keys()
        .cloned()
        .chain(plan.secrets.iter().map(|secret| secret.path.clone()))
        .collect()
}

#[test]
fn the_tree_differs_from_kams_only_where_named() {
    let kam: Vec<String> = include_str!("kam/kam-tree.txt")
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect();
    let ours = our_tree();
    let differences = differences();
    let mut used = vec![false; differences.len()];
    let mut unexplained = Vec::new();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    for path in &kam {
        let mut mapped = path.clone();
        for (index, difference) in differences.iter().enumerate() {
            if difference.kind == "rename" {
                if let Some(renamed) = rename(
                    &difference.pattern,
                    difference.target.as_deref().unwrap_or_default(),
                    path,
                ) {
                    mapped = renamed;
                    used[index] = true;
                }
            }
        }
        if ours.contains(&mapped) {
            covered.insert(mapped);
            continue;
        }
        match differences
            .iter()
            .position(|difference| difference.kind == "kam-only" && glob(&difference.pattern, path))
        {
            Some(index) => used[index] = true,
            None => unexplained.push(format!(
                "KAM writes `{path}` (ours would be `{mapped}`), and no difference names it"
            )),
        }
    }
    for path in ours.iter().filter(|path| !covered.contains(*path)) {
        match differences.iter().position(|difference| {
            difference.kind == "ours-only" && glob(&difference.pattern, path)
        }) {
            Some(index) => used[index] = true,
            None => unexplained.push(format!(
                "flotilla writes `{path}`, which KAM does not, and no difference names it"
            )),
        }
    }
    for (difference, used) in differences.iter().zip(&used) {
        if !used {
            unexplained.push(format!(
                "the difference `{} {}` ({}) matches nothing any more",
                difference.kind, difference.pattern, difference.reason
            ));
        }
    }
    assert!(unexplained.is_empty(), "{}", unexplained.join("\n"));
}

#[test]
fn globs_match_segments_and_trees() {
    assert!(glob(
        "environments/*/apps/**",
        "environments/dev/apps/a/b.yaml"
    ));
    assert!(!glob(
        "environments/*/apps/x.yaml",
        "environments/dev/qa/apps/x.yaml"
    ));
    assert!(glob(
        "config/argocd/*-events-app.yaml",
        "config/argocd/tst-dev-events-app.yaml"
    ));
}
