//! Promotion: what was verified in one environment moved to the next, as edits of the target
//! environment's seeded files. Per service (both environments must run it, in the same app):
//! every image pin of its overlay (`images:` name, tag, digest), and, unless images only, the
//! configuration keys its `config.yaml` marks promotable (`flotilla.dev/promote: KEY,KEY`).
//! Environment-wide (no app or service filter, not images only): the fields the event
//! backbone's `versions.yaml` marks promotable on each object (`flotilla.dev/promote:
//! spec.kafka.version,…`).
//!
//! Pure: the source files (at the promoted revision) and the target files (as they are now) in,
//! the edited files and one line per change out. A rollback is a promotion whose source is an
//! earlier revision.

use serde_json::{Map, Value};

use crate::generate::{paths, yaml, Tree};
use crate::manifest::Solution;

/// The annotation naming what promotion copies.
pub const PROMOTE_ANNOTATION: &str = "flotilla.dev/promote";

/// What to promote.
#[derive(Clone, Debug, Default)]
pub struct PromoteOptions {
    pub from: String,
    pub to: String,
    pub app: Option<String>,
    pub service: Option<String>,
    pub image_only: bool,
}

/// The edits a promotion makes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Promotion {
    /// Target files with their new text.
    pub edits: Tree,
    /// One line per change, for the commit message and the output.
    pub changes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error("no environment `{0}` in flotilla.yaml (the environments are {1})")]
    NoEnvironment(String, String),
    #[error("{0}")]
    Nothing(String),
    #[error("`{path}`: {message}")]
    File { path: String, message: String },
}

fn parse(path: &str, text: &str) -> Result<Vec<Value>, PromoteError> {
    flotilla_core::parse_documents(text)
        .map(|documents| documents.iter().map(flotilla_core::to_json).collect())
        .map_err(|error| PromoteError::File {
            path: path.into(),
            message: error.to_string(),
        })
}

/// Works out the promotion of `options.from` (files `source`) to `options.to` (files `target`).
pub fn promote(
    solution: &Solution,
    source: &Tree,
    target: &Tree,
    options: &PromoteOptions,
) -> Result<Promotion, PromoteError> {
    let names = || {
        solution
            .environments
            .iter()
            .map(|environment| format!("`{}`", environment.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let from = solution
        .environment(&options.from)
        .ok_or_else(|| PromoteError::NoEnvironment(options.from.clone(), names()))?;
    let to = solution
        .environment(&options.to)
        .ok_or_else(|| PromoteError::NoEnvironment(options.to.clone(), names()))?;
    let mut promotion = Promotion::default();
    let mut matched = 0;
    for app in &to.apps {
        if options
            .app
            .as_ref()
            .is_some_and(|wanted| wanted != &app.name)
        {
            continue;
        }
        let Some(source_app) = from.apps.iter().find(|other| other.name == app.name) else {
            continue;
        };
        for service in &app.services {
            if options
                .service
                .as_ref()
                .is_some_and(|wanted| wanted != &service.name)
            {
                continue;
            }
            if !source_app
                .services
                .iter()
                .any(|other| other.name == service.name)
            {
                continue;
            }
            matched += 1;
            let source_overlay = paths::service_overlay(&from.name, &app.name, &service.name);
            let target_overlay = paths::service_overlay(&to.name, &app.name, &service.name);
            images(
                &format!("{source_overlay}/kustomization.yaml"),
                &format!("{target_overlay}/kustomization.yaml"),
                &service.name,
                source,
                target,
                &mut promotion,
            )?;
            if !options.image_only {
                promoted_fields(
                    &format!("{source_overlay}/config.yaml"),
                    &format!("{target_overlay}/config.yaml"),
                    &service.name,
                    true,
                    source,
                    target,
                    &mut promotion,
                )?;
            }
        }
    }
    if matched == 0 {
        let what = match (&options.app, &options.service) {
            (_, Some(service)) => format!("the service `{service}`"),
            (Some(app), None) => format!("the app `{app}`"),
            (None, None) => "any service".into(),
        };
        return Err(PromoteError::Nothing(format!(
            "{what} is not deployed in both `{}` and `{}` (in the same app)\n\nhint: `flotilla service add` adds a service to an environment",
            options.from, options.to
        )));
    }
    if options.app.is_none() && options.service.is_none() && !options.image_only {
        // Operator channels, when the two environments run on different clusters.
        if let (Some(source_overlay), Some(target_overlay)) = (
            crate::generate::bootstrap_overlay_of(solution, &from.name),
            crate::generate::bootstrap_overlay_of(solution, &to.name),
        ) {
            if source_overlay != target_overlay {
                promoted_fields(
                    &format!("{source_overlay}/channels.yaml"),
                    &format!("{target_overlay}/channels.yaml"),
                    "operators",
                    false,
                    source,
                    target,
                    &mut promotion,
                )?;
            }
        }
        promoted_fields(
            &format!("{}/versions.yaml", paths::events_overlay(&from.name)),
            &format!("{}/versions.yaml", paths::events_overlay(&to.name)),
            "events",
            false,
            source,
            target,
            &mut promotion,
        )?;
    }
    Ok(promotion)
}

/// The documents of a source file and of its target file.
type DocumentPair = (Vec<Value>, Vec<Value>);

/// The documents of a source file and of its target file (`None` when either is missing:
/// nothing to promote there).
fn documents_of(
    source_path: &str,
    target_path: &str,
    source: &Tree,
    target: &Tree,
) -> Result<Option<DocumentPair>, PromoteError> {
    let (Some(source_text), Some(target_text)) = (source.get(source_path), target.get(target_path))
    else {
        return Ok(None);
    };
    Ok(Some((
        parse(source_path, source_text)?,
        parse(target_path, target_text)?,
    )))
}

/// The image entries of the source overlay set in the target overlay.
fn images(
    source_path: &str,
    target_path: &str,
    service: &str,
    source: &Tree,
    target: &Tree,
    promotion: &mut Promotion,
) -> Result<(), PromoteError> {
    let Some((source_documents, mut target_documents)) =
        documents_of(source_path, target_path, source, target)?
    else {
        return Ok(());
    };
    let (Some(source_kustomization), Some(target_kustomization)) =
        (source_documents.first(), target_documents.first_mut())
    else {
        return Ok(());
    };
    let Some(entries) = source_kustomization["images"].as_array() else {
        return Ok(());
    };
    let mut changed = false;
    for entry in entries {
        let Some(name) = entry["name"].as_str() else {
            continue;
        };
        let list = target_kustomization.as_object_mut().map(|object| {
            object
                .entry("images")
                .or_insert_with(|| Value::Array(Vec::new()))
        });
        let Some(Value::Array(list)) = list else {
            return Err(PromoteError::File {
                path: target_path.into(),
                message: "`images` is not a list".into(),
            });
        };
        let position = list
            .iter()
            .position(|other| other["name"].as_str() == Some(name));
        let old = position.map(|index| list[index].clone());
        if old.as_ref() == Some(entry) {
            continue;
        }
        promotion.changes.push(format!(
            "{service}: image {name} {} → {}",
            old.as_ref()
                .map(describe_image)
                .unwrap_or_else(|| "(unpinned)".into()),
            describe_image(entry)
        ));
        match position {
            Some(index) => list[index] = entry.clone(),
            None => list.push(entry.clone()),
        }
        changed = true;
    }
    if changed {
        promotion
            .edits
            .insert(target_path.into(), yaml(&target_documents));
    }
    Ok(())
}

fn describe_image(entry: &Value) -> String {
    let mut text = entry["newName"]
        .as_str()
        .map(|name| format!("{name}:"))
        .unwrap_or_default();
    text.push_str(entry["newTag"].as_str().unwrap_or("latest"));
    if let Some(digest) = entry["digest"].as_str() {
        text.push('@');
        text.push_str(digest);
    }
    text
}

/// The fields the source documents mark promotable, copied onto the target documents with the
/// same kind and name: data keys of a ConfigMap (`keys_are_data`), else dotted field paths.
fn promoted_fields(
    source_path: &str,
    target_path: &str,
    owner: &str,
    keys_are_data: bool,
    source: &Tree,
    target: &Tree,
    promotion: &mut Promotion,
) -> Result<(), PromoteError> {
    let Some((source_documents, mut target_documents)) =
        documents_of(source_path, target_path, source, target)?
    else {
        return Ok(());
    };
    let mut changed = false;
    for document in &source_documents {
        let Some(listed) = document["metadata"]["annotations"][PROMOTE_ANNOTATION].as_str() else {
            continue;
        };
        let Some(target_document) = target_documents.iter_mut().find(|other| {
            other["kind"] == document["kind"]
                && other["metadata"]["name"] == document["metadata"]["name"]
        }) else {
            continue;
        };
        let object = format!(
            "{} {}",
            document["kind"].as_str().unwrap_or_default(),
            document["metadata"]["name"].as_str().unwrap_or_default()
        );
        for field in listed
            .split(',')
            .map(str::trim)
            .filter(|field| !field.is_empty())
        {
            let path: Vec<&str> = if keys_are_data {
                vec!["data", field]
            } else {
                field.split('.').collect()
            };
            let new = lookup(document, &path).cloned();
            let old = lookup(target_document, &path).cloned();
            if new == old {
                continue;
            }
            let shown = |value: &Option<Value>| match value {
                None => "(unset)".to_string(),
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
            };
            promotion.changes.push(format!(
                "{owner}: {object} {} {} → {}",
                if keys_are_data {
                    format!("data.{field}")
                } else {
                    field.to_string()
                },
                shown(&old),
                shown(&new)
            ));
            set(target_document, &path, new);
            changed = true;
        }
    }
    if changed {
        promotion
            .edits
            .insert(target_path.into(), yaml(&target_documents));
    }
    Ok(())
}

fn lookup<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |current, key| current.get(*key))
}

/// Sets (or, with `None`, removes) the field at `path`, creating mappings on the way.
fn set(value: &mut Value, path: &[&str], new: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = value;
    for key in parents {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let Some(object) = current.as_object_mut() else {
            return;
        };
        current = object
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Some(object) = current.as_object_mut() {
        match new {
            Some(new) => {
                object.insert(last.to_string(), new);
            }
            None => {
                object.remove(*last);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::generate;

    fn solution() -> Solution {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/cases/strimzi-mq-three-environments/flotilla.yaml"
        ))
        .expect("case manifest");
        Solution::parse(&text).expect("parses")
    }

    #[test]
    fn a_dev_image_and_its_promotable_configuration_reach_staging_only() {
        let solution = solution();
        let mut tree = generate(&solution, &Tree::new()).expect("generates").files;
        let dev = "environments/dev/apps/app-orders/services/orders/overlays";
        tree.insert(
            format!("{dev}/kustomization.yaml"),
            tree[&format!("{dev}/kustomization.yaml")]
                .replace("newTag: latest", "newTag: 3f2a1c\n  digest: sha256:abc"),
        );
        tree.insert(
            format!("{dev}/config.yaml"),
            tree[&format!("{dev}/config.yaml")].replace("LOG_LEVEL: info", "LOG_LEVEL: debug"),
        );
        let options = PromoteOptions {
            from: "dev".into(),
            to: "staging".into(),
            service: Some("orders".into()),
            ..PromoteOptions::default()
        };
        let promotion = promote(&solution, &tree, &tree, &options).expect("promotes");
        let staging = "environments/staging/apps/app-orders/services/orders/overlays";
        assert_eq!(
            promotion.edits.keys().cloned().collect::<Vec<_>>(),
            vec![
                format!("{staging}/config.yaml"),
                format!("{staging}/kustomization.yaml")
            ]
        );
        assert!(promotion.edits[&format!("{staging}/kustomization.yaml")]
            .contains("digest: sha256:abc"));
        assert_eq!(
            promotion.changes,
            vec![
                "orders: image quay.io/shop/orders latest → 3f2a1c@sha256:abc".to_string(),
                "orders: ConfigMap orders-config data.LOG_LEVEL info → debug".to_string(),
            ]
        );
        let images_only = promote(
            &solution,
            &tree,
            &tree,
            &PromoteOptions {
                image_only: true,
                ..options.clone()
            },
        )
        .expect("promotes");
        assert_eq!(images_only.changes.len(), 1);
        let missing = promote(
            &solution,
            &tree,
            &tree,
            &PromoteOptions {
                service: Some("nope".into()),
                ..options
            },
        )
        .expect_err("no such service");
        assert!(missing.to_string().contains("`nope`"), "{missing}");
    }

    #[test]
    fn operator_channels_move_between_clusters_only() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/cases/eventstreams-no-prefix/flotilla.yaml"
        ))
        .expect("case manifest");
        let solution = Solution::parse(&text).expect("parses");
        let mut tree = generate(&solution, &Tree::new()).expect("generates").files;
        let dev = "bootstrap/overlays/dev/channels.yaml";
        assert!(
            tree.contains_key("bootstrap/overlays/prod/channels.yaml"),
            "prod runs on its own cluster"
        );
        tree.insert(
            dev.into(),
            tree[dev].replace("channel: v13.0", "channel: v12.2"),
        );
        let options = PromoteOptions {
            from: "dev".into(),
            to: "prod".into(),
            ..PromoteOptions::default()
        };
        let promotion = promote(&solution, &tree, &tree, &options).expect("promotes");
        assert!(
            promotion.changes.contains(
                &"operators: Subscription ibm-eventstreams spec.channel v13.0 → v12.2".to_string()
            ),
            "{:?}",
            promotion.changes
        );
        assert!(promotion.edits["bootstrap/overlays/prod/channels.yaml"].contains("channel: v12.2"));
    }

    #[test]
    fn event_backbone_versions_move_environment_wide() {
        let solution = solution();
        let mut tree = generate(&solution, &Tree::new()).expect("generates").files;
        let path = "environments/dev/events/overlays/versions.yaml";
        let text = tree[path].clone();
        let version = text
            .lines()
            .find_map(|line| line.trim().strip_prefix("version: "))
            .expect("a version")
            .to_string();
        tree.insert(
            path.into(),
            text.replacen(&format!("version: {version}"), "version: 9.9.9", 1),
        );
        let promotion = promote(
            &solution,
            &tree,
            &tree,
            &PromoteOptions {
                from: "dev".into(),
                to: "staging".into(),
                ..PromoteOptions::default()
            },
        )
        .expect("promotes");
        assert!(
            promotion
                .changes
                .iter()
                .any(|change| change.contains("→ 9.9.9")),
            "{:?}",
            promotion.changes
        );
        assert!(promotion
            .edits
            .contains_key("environments/staging/events/overlays/versions.yaml"));
    }
}
