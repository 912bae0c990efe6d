//! `flotilla topology PATH [-o json|dot] [--root DIR]`: the event topology of what `PATH`
//! renders (`flotilla_eda::topology`): applications, topics, schemas, users, connectors,
//! MirrorMaker flows and queues, as JSON (for the web UI) or Graphviz DOT.
//!
//! `PATH` is rendered as the engine renders an Application's source
//! (`flotilla_engine::render::render_source`): a kustomization, else a directory of manifests;
//! a directory holding neither is the kustomizations below it, each rendered (so
//! `examples/inventory/environments/dev` is its `kafka`, `mq` and `apps`). An app-of-apps is
//! followed: every Argo CD Application rendered whose source `path` exists in this repository is
//! rendered in turn, its objects owned by it (the `argocd` label of their nodes) and given its
//! destination namespace when they have none; Helm sources and paths not in the repository are
//! skipped with a note. Where a source path is looked up: the repository root (`--root`, else
//! the git work tree holding `PATH`), else the nearest directory above the Application's own
//! kustomization that has it — a repository kept in a subdirectory of another (the bundled
//! example in flotilla's tree) is followed as it is when it is a repository of its own.
//!
//! AsyncAPI documents and schemas are read as the pre-sync gate reads them
//! (`flotilla_engine::gate::source_files`): under each rendered path, in each ancestor's
//! `schemas/` directory, and `asyncapi*.yaml|yml|json` documents beside the ancestors, by path
//! relative to the repository root. Problems with the documents are printed on standard error
//! as warnings (and listed in the JSON); the graph is printed all the same.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use flotilla_eda::topology::{build, Sources};
use flotilla_eda::ObjectId;
use flotilla_engine::model::{ApplicationSource, ApplicationSpec};
use flotilla_kustomize::loader::{DISK, KUSTOMIZATION_FILE_NAMES};

use crate::cmd_check::{default_namespace, error_chain};
use serde_json::{json, Value};

/// `flotilla topology`
#[derive(Debug, Args)]
pub struct TopologyArgs {
    /// A kustomization, a directory of manifests, a directory of kustomizations, or an
    /// app-of-apps (its Applications whose path is in this repository are followed)
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Output format: the graph as JSON (nodes and edges) or as Graphviz DOT
    #[arg(short = 'o', long, value_enum, default_value = "json")]
    pub output: TopologyOutput,
    /// The repository's root: Applications' source paths and the files AsyncAPI documents name
    /// are relative to it (when not given: the git work tree holding PATH, else PATH)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TopologyOutput {
    /// `{nodes: [{id, kind, name, labels}], edges: [{kind, from, to, labels}]}`
    Json,
    /// A Graphviz digraph (`dot -Tsvg`)
    Dot,
}

/// Most sources rendered (Applications of Applications included).
const MAX_SOURCES: usize = 1000;
/// How deep a directory of kustomizations is searched.
const MAX_DEPTH: usize = 8;

/// The Application objects are rendered for.
#[derive(Clone, Debug)]
struct Owner {
    name: String,
    namespace: String,
}

/// One source to render: the directory its path is relative to, the source, its owner.
struct Pending {
    base: PathBuf,
    source: ApplicationSource,
    owner: Option<Owner>,
}

/// `flotilla topology`
pub fn run(args: &TopologyArgs) -> Result<()> {
    let hint = "hint: give `flotilla topology` a kustomization, a directory of manifests or kustomizations, or an app-of-apps";
    let metadata = match std::fs::metadata(&args.path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            bail!("`{}` does not exist\n\n{hint}", args.path.display())
        }
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read `{}`", args.path.display()))
        }
    };
    if !metadata.is_dir() {
        bail!("`{}` is not a directory\n\n{hint}", args.path.display());
    }
    let path = std::fs::canonicalize(&args.path)
        .with_context(|| format!("cannot read `{}`", args.path.display()))?;
    let root = match &args.root {
        Some(root) => std::fs::canonicalize(root)
            .with_context(|| format!("cannot read `{}`", root.display()))?,
        None => git_top(&path).unwrap_or_else(|| path.clone()),
    };
    if !path.starts_with(&root) {
        bail!(
            "`{}` is not under the repository root `{}`\n\nhint: give `--root` a directory that holds PATH",
            args.path.display(),
            root.display()
        );
    }
    let starts = starting_directories(&path);
    if starts.is_empty() {
        bail!(
            "`{}` holds no kustomization, no manifests and no kustomization below it\n\n{hint}",
            args.path.display()
        );
    }
    let fetcher = flotilla_source::GitFetcher::new(&crate::cache_dir().join("remote-bases"));
    let mut queue: Vec<Pending> = starts
        .iter()
        .rev()
        .map(|directory| Pending {
            base: root.clone(),
            source: ApplicationSource {
                path: relative(directory, &root),
                ..ApplicationSource::default()
            },
            owner: None,
        })
        .collect();
    let mut seen: HashSet<String> = HashSet::new();
    let mut objects = Vec::new();
    let mut owners: BTreeMap<ObjectId, String> = BTreeMap::new();
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut notes = Vec::new();
    while let Some(pending) = queue.pop() {
        let directory = pending.base.join(pending.source.path.trim_matches('/'));
        let key = serde_json::to_string(&json!([
            directory.to_string_lossy(),
            pending.source.kustomize,
            pending.source.directory
        ]))
        .unwrap_or_default();
        if !seen.insert(key) {
            continue;
        }
        if seen.len() > MAX_SOURCES {
            notes.push(format!(
                "more than {MAX_SOURCES} sources: the rest are not rendered"
            ));
            break;
        }
        let shown = relative(&directory, &root);
        let rendered = flotilla_engine::render::render_source(
            &DISK,
            &pending.base,
            &pending.source,
            Some(&fetcher as &dyn flotilla_kustomize::Fetcher),
        )
        .map_err(|error| anyhow::anyhow!(error_chain(&error)))
        .with_context(|| {
            format!(
                "rendering `{}`",
                if shown.is_empty() {
                    "."
                } else {
                    shown.as_str()
                }
            )
        })?;
        flotilla_engine::gate::source_files(&DISK, &root, &shown, &mut files);
        for mut object in rendered.objects {
            if let Some(owner) = &pending.owner {
                default_namespace(&mut object, &owner.namespace);
                if let Some(id) = ObjectId::of(&object) {
                    owners.insert(id, owner.name.clone());
                }
            }
            if is_application(&object) {
                follow(
                    &object,
                    &directory,
                    &pending.base,
                    &root,
                    &mut queue,
                    &mut notes,
                );
            }
            objects.push(object);
        }
    }
    let topology = build(&Sources {
        objects: &objects,
        owners: &owners,
        files: &files,
        file_sets: &[],
    });
    let mut stderr = std::io::stderr().lock();
    for note in &notes {
        let _ = writeln!(stderr, "note: {note}");
    }
    for warning in &topology.warnings {
        let _ = writeln!(stderr, "warning: {warning}");
    }
    let text = match args.output {
        TopologyOutput::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&topology.to_json()).context("writing JSON")?
        ),
        TopologyOutput::Dot => topology.to_dot(),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to standard output")
}

/// The git work tree holding `path`: the nearest directory with a `.git` entry.
fn git_top(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .find(|directory| directory.join(".git").exists())
        .map(Path::to_path_buf)
}

/// `directory` relative to `root`, with `/` separators (`""` for the root itself).
fn relative(directory: &Path, root: &Path) -> String {
    directory
        .strip_prefix(root)
        .map(|relative| relative.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default()
}

fn has_kustomization(directory: &Path) -> bool {
    KUSTOMIZATION_FILE_NAMES
        .iter()
        .any(|name| directory.join(name).is_file())
}

fn has_manifests(directory: &Path) -> bool {
    std::fs::read_dir(directory)
        .map(|entries| {
            entries.flatten().any(|entry| {
                let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
                entry.path().is_file()
                    && [".yaml", ".yml", ".json"]
                        .iter()
                        .any(|extension| name.ends_with(extension))
            })
        })
        .unwrap_or(false)
}

/// What `PATH` renders as: itself when it is a kustomization or holds manifests, else the
/// kustomizations below it (a search that stops at each kustomization found), sorted.
fn starting_directories(path: &Path) -> Vec<PathBuf> {
    if has_kustomization(path) || has_manifests(path) {
        return vec![path.to_path_buf()];
    }
    let mut found = Vec::new();
    below(path, 0, &mut found);
    // A base the others build on is drawn as they render it, not once more on its own.
    let used: HashSet<PathBuf> = found
        .iter()
        .flat_map(|directory| used_directories(directory))
        .collect();
    found.retain(|directory| !used.contains(directory));
    found.sort();
    found
}

/// The local directories a kustomization builds on (`resources`, `bases`, `components`),
/// canonical.
fn used_directories(directory: &Path) -> Vec<PathBuf> {
    let Some(text) = KUSTOMIZATION_FILE_NAMES
        .iter()
        .find_map(|name| std::fs::read_to_string(directory.join(name)).ok())
    else {
        return Vec::new();
    };
    let Ok(kustomization) = flotilla_core::parse_single_document(&text) else {
        return Vec::new();
    };
    let kustomization = flotilla_core::to_json(&kustomization);
    ["resources", "bases", "components"]
        .iter()
        .filter_map(|field| kustomization[*field].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|entry| std::fs::canonicalize(directory.join(entry)).ok())
        .filter(|entry| entry.is_dir())
        .collect()
}

fn below(directory: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    let mut children: Vec<PathBuf> = entries
        .flatten()
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    children.sort();
    for child in children {
        if has_kustomization(&child) {
            found.push(child);
        } else {
            below(&child, depth + 1, found);
        }
    }
}

fn is_application(object: &Value) -> bool {
    object["kind"] == "Application"
        && object["apiVersion"]
            .as_str()
            .is_some_and(|version| version.starts_with("argoproj.io/"))
}

/// Queues the sources of an Application whose paths are in this repository: under `base` (the
/// root its parent was rendered against), else under the nearest directory above the parent's
/// `directory` (up to the repository root) that has the path.
fn follow(
    application: &Value,
    directory: &Path,
    base: &Path,
    root: &Path,
    queue: &mut Vec<Pending>,
    notes: &mut Vec<String>,
) {
    let name = application["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let spec: ApplicationSpec = match serde_json::from_value(application["spec"].clone()) {
        Ok(spec) => spec,
        Err(error) => {
            notes.push(format!(
                "Application `{name}` is not followed: its spec is malformed: {error}"
            ));
            return;
        }
    };
    let owner = Owner {
        name: name.clone(),
        namespace: spec.destination.namespace().to_string(),
    };
    for source in spec.all_sources() {
        if let Some(chart) = &source.chart {
            notes.push(format!(
                "Application `{name}`: the Helm chart `{chart}` is not rendered"
            ));
            continue;
        }
        if source.reference.is_some() && source.path.is_empty() {
            continue;
        }
        let path = source.path.trim_matches('/');
        if path.split('/').any(|segment| segment == "..") {
            notes.push(format!(
                "Application `{name}` is not followed: its path `{}` leaves the repository",
                source.path
            ));
            continue;
        }
        let candidates = std::iter::once(base).chain(
            directory
                .ancestors()
                .take_while(|ancestor| ancestor.starts_with(root)),
        );
        let found = candidates
            .into_iter()
            .find(|candidate| candidate.join(path).is_dir());
        match found {
            Some(found) => queue.push(Pending {
                base: found.to_path_buf(),
                source: source.clone(),
                owner: Some(owner.clone()),
            }),
            None => notes.push(format!(
                "Application `{name}` is not followed: its path `{}` is not in this repository",
                source.path
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_of_kustomizations_is_each_of_them() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/inventory");
        let dev = example.join("environments/dev");
        let found: Vec<String> = starting_directories(&dev)
            .iter()
            .map(|directory| relative(directory, &dev))
            .collect();
        assert_eq!(found, vec!["apps", "kafka", "mq"]);
        assert_eq!(
            starting_directories(&example.join("apps")),
            vec![example.join("apps")]
        );
    }

    #[test]
    fn an_object_without_namespace_gets_the_destination() {
        let mut topic = json!({"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "KafkaTopic", "metadata": {"name": "t"}});
        default_namespace(&mut topic, "dev");
        assert_eq!(topic["metadata"]["namespace"], "dev");
        let mut namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}});
        default_namespace(&mut namespace, "dev");
        assert!(namespace["metadata"]["namespace"].is_null());
    }
}
