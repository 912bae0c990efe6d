//! `flotilla check PATH [--base REV] [--live] [-o text|json|sarif]`: the guardrails of
//! `flotilla-eda` on what a change would do, before it reaches a cluster (in CI, on a pull
//! request).
//!
//! `PATH` is rendered as the engine renders an Application's source
//! (`flotilla_engine::render::render_source`: a kustomization, else a directory of manifests)
//! at the working tree and at `REV` of the same git repository (default `HEAD`; the commit's
//! tree is read from the object database, nothing is checked out), or compared with the objects
//! of the rendered kinds in the cluster (`--live`, kubeconfig as `flotilla app`). An app-of-apps
//! is followed: every Argo CD Application rendered whose source `path` exists in this repository
//! (at the same revision) is rendered with its own options, whatever its `repoURL` names (a
//! check runs on one repository, and the bundled example names a placeholder URL), and its
//! objects without a namespace get the Application's destination namespace; Helm sources and
//! paths that are not in the repository are skipped with a note on standard error.
//!
//! Removal: an object rendered before and not after is pruned when the Application that
//! rendered it prunes (`syncPolicy.automated.prune`; an Application removed with it when it had
//! Argo CD's resources finalizer), or when it came straight from `PATH` (no Application says
//! otherwise: the worst case is what CI should hear about), unless the object says
//! `Prune=false`. The rules see one change: when some removed objects are pruned, it prunes and
//! holds those (the others stay as they are); when none is, it holds them all, not pruned. With
//! `--live`, the before set is the cluster's objects of the rendered kinds that are rendered or
//! tracked by a rendered Application (`argocd.argoproj.io/tracking-id`).
//!
//! Repository files for the schema and AsyncAPI rules (`*.avsc`, `*.proto`, `*.json` under a
//! `schemas/` directory; `asyncapi*.yaml|yml|json`): every such file git knows at each side
//! (`git ls-files`, `git ls-tree`); with `--live`, the before side is `HEAD`'s. Operator
//! versions come from the rendered Subscriptions (`flotilla_engine::gate::operator_versions`).
//!
//! Output: findings grouped by object (text), JSON, or SARIF 2.1.0 (rules in
//! `tool.driver.rules`; results at the file and line each object was read from when the render
//! knows it, else the kustomization or directory it was rendered from; overridden findings as
//! suppressed results). Exit 0 when nothing blocks, 1 when something does, 2 on an error.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use flotilla_eda::{Change, Finding, ObjectId, Verdict};
use flotilla_engine::model::{ApplicationSource, ApplicationSpec};
use flotilla_kustomize::loader::{FileSystem, DISK};
use serde_json::{json, Value};

/// `flotilla check`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A kustomization, a directory of manifests, or an app-of-apps (its Applications whose path
    /// is in this repository are followed)
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Compare with this revision of the same git repository (a commit, branch or tag) instead
    /// of HEAD
    #[arg(long, value_name = "REV", conflicts_with = "live")]
    pub base: Option<String>,
    /// Compare with the objects in the cluster instead of a revision
    #[arg(long)]
    pub live: bool,
    #[command(flatten)]
    pub cluster: crate::cmd_engine::ClusterArgs,
    /// Output format: findings grouped by object, JSON, or SARIF 2.1.0 for code-scanning UIs
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: CheckOutput,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckOutput {
    /// Findings grouped by object
    Text,
    /// The findings as a JSON document
    Json,
    /// A SARIF 2.1.0 log
    Sarif,
}

/// Runs `flotilla check`; returns the exit code (0 nothing blocks, 1 blocked, 2 error).
pub fn run(args: CheckArgs) -> u8 {
    match check(&args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{}", crate::render_error(&error));
            2
        }
    }
}

/// One rendered object, with where it came from.
#[derive(Clone, Debug)]
struct Rendered {
    object: Value,
    /// The file it was read from, relative to the repository root.
    origin: Option<String>,
    /// The kustomization or directory it was rendered from, relative to the repository root.
    source: String,
    /// The Application that rendered it (or tracks it, live), if any.
    application: Option<String>,
}

/// Everything one side renders.
#[derive(Default)]
struct RenderSet {
    objects: Vec<Rendered>,
    /// Applications rendered: name → whether they prune, and whether they cascade on deletion.
    applications: BTreeMap<String, (bool, bool)>,
    notes: Vec<String>,
}

/// Where the repository is and what `PATH` is inside it.
struct Repository {
    /// The working tree's top level (canonical), or `PATH`'s directory outside git.
    root: PathBuf,
    /// `PATH` relative to `root` (`""` for the root).
    path: String,
    /// The git directory holding the objects (`--git-common-dir`), when in git.
    git_dir: Option<PathBuf>,
}

fn check(args: &CheckArgs) -> Result<u8> {
    let repository = locate(&args.path)?;
    let fetcher = flotilla_source::GitFetcher::new(&crate::cache_dir().join("remote-bases"));
    let after = render_side(&DISK, &repository, &fetcher, true)
        .with_context(|| format!("rendering `{}`", args.path.display()))?;
    let head_tree = |revision: &str| -> Result<(flotilla_source::GitTree, String)> {
        let git_dir = repository.git_dir.as_ref().ok_or_else(|| {
            anyhow!(
                "`{}` is not in a git repository\n\nhint: compare with the cluster with `--live`, or run `git init` and commit the base",
                args.path.display()
            )
        })?;
        let commit = git(&repository.root, &["rev-parse", "--verify", "--quiet", &format!("{revision}^{{commit}}")])
            .map_err(|error| anyhow!("`{revision}` is not a revision of the repository at `{}`: {error}\n\nhint: name a commit, branch or tag (`git log --oneline` lists commits)", repository.root.display()))?;
        let tree = flotilla_source::GitTree::open(git_dir, &commit, &repository.root)
            .with_context(|| format!("reading `{revision}`"))?
            .with_disk_directory(&crate::cache_dir().join("remote-bases"));
        Ok((tree, commit))
    };
    // The base revision's tree also gives the Git history of the schema files transitive
    // levels check against.
    let (before, files_before, base_tree, base_label) = if args.live {
        let before = crate::cmd_engine::runtime()?.block_on(live_before(&args.cluster, &after))?;
        match (&repository.git_dir, head_tree("HEAD")) {
            (Some(_), Ok((tree, commit))) => {
                let files = revision_files(&repository, &tree, &commit)?;
                (before, files, Some(tree), "live".to_string())
            }
            _ => (before, BTreeMap::new(), None, "live".to_string()),
        }
    } else {
        let revision = args.base.clone().unwrap_or_else(|| "HEAD".to_string());
        let (tree, commit) = head_tree(&revision)?;
        let before = render_side(&tree, &repository, &fetcher, false)
            .with_context(|| format!("rendering `{}` at `{revision}`", args.path.display()))?;
        let files = revision_files(&repository, &tree, &commit)?;
        (before, files, Some(tree), revision)
    };
    let files_after = working_files(&repository)?;
    let file_histories: BTreeMap<String, Vec<(String, String)>> = base_tree
        .iter()
        .flat_map(|tree| {
            flotilla_eda::subjects::needs_history(&files_before, &files_after)
                .into_iter()
                .map(|path| {
                    let history =
                        tree.file_history(&path, flotilla_engine::gate::MAX_HISTORY_COMMITS);
                    (path, history)
                })
        })
        .collect();
    for note in before.notes.iter().chain(&after.notes) {
        eprintln!("note: {note}");
    }

    // The change: what the rules see.
    let after_ids: HashSet<ObjectId> = after
        .objects
        .iter()
        .filter_map(|rendered| ObjectId::of(&rendered.object))
        .collect();
    // Removed objects: when some are pruned, those (the change prunes; the others stay as they
    // are); when none is, all of them, left behind by a change that does not prune.
    let (kept, removed): (Vec<&Rendered>, Vec<&Rendered>) =
        before.objects.iter().partition(|rendered| {
            ObjectId::of(&rendered.object).is_some_and(|id| after_ids.contains(&id))
        });
    let (pruned, left): (Vec<&Rendered>, Vec<&Rendered>) = removed
        .into_iter()
        .partition(|rendered| removed_is_pruned(rendered, &before, &after));
    let prune = !pruned.is_empty();
    let before_objects: Vec<Value> = kept
        .into_iter()
        .chain(if prune { pruned } else { left })
        .map(|rendered| rendered.object.clone())
        .collect();
    let after_objects: Vec<Value> = after
        .objects
        .iter()
        .map(|rendered| rendered.object.clone())
        .collect();
    let operator_versions =
        flotilla_engine::gate::operator_versions(before_objects.iter().chain(after_objects.iter()));
    let mut change = Change::new(before_objects, after_objects, prune);
    change.files_before = files_before;
    change.files_after = files_after;
    change.file_histories = file_histories;
    change.operator_versions = operator_versions;
    let findings = flotilla_eda::evaluate(&change);

    // Where each object came from: the working tree's render first, then the base's.
    // A removed object is shown in the file it was removed from, without a line.
    let mut places: BTreeMap<ObjectId, Place> = BTreeMap::new();
    for (rendered, removed) in before
        .objects
        .iter()
        .map(|rendered| (rendered, true))
        .chain(after.objects.iter().map(|rendered| (rendered, false)))
    {
        if let Some(id) = ObjectId::of(&rendered.object) {
            places.insert(id, place_of(&repository, rendered, removed));
        }
    }
    let report = Report {
        path: repository.path.clone(),
        base: base_label,
        rendered: (before.objects.len(), after.objects.len()),
        findings,
        places,
    };
    let text = match args.output {
        CheckOutput::Text => report.text(),
        CheckOutput::Json => format!("{}\n", serde_json::to_string_pretty(&report.json())?),
        CheckOutput::Sarif => format!("{}\n", serde_json::to_string_pretty(&report.sarif())?),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to standard output")?;
    Ok(match Verdict::of(&report.findings) {
        Verdict::Pass => 0,
        Verdict::Block => 1,
    })
}

/// Whether an object of the base that the working tree no longer renders is deleted by a sync:
/// its Application prunes (or, removed itself, cascades its deletion); an object straight from
/// `PATH` is taken as pruned. `Prune=false` on the object keeps it.
fn removed_is_pruned(rendered: &Rendered, before: &RenderSet, after: &RenderSet) -> bool {
    let keeps = rendered.object["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]
        .as_str()
        .is_some_and(|options| {
            options
                .split(',')
                .any(|option| option.trim() == "Prune=false")
        });
    if keeps {
        return false;
    }
    match &rendered.application {
        None => true,
        Some(name) => match after.applications.get(name) {
            Some((prunes, _)) => *prunes,
            None => before
                .applications
                .get(name)
                .is_some_and(|(_, cascades)| *cascades),
        },
    }
}

/// `PATH` inside its git repository.
fn locate(path: &Path) -> Result<Repository> {
    let metadata = std::fs::metadata(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            anyhow!("`{}` does not exist\n\nhint: give `flotilla check` a directory holding a kustomization.yaml or manifests", path.display())
        } else {
            anyhow!(error).context(format!("cannot read `{}`", path.display()))
        }
    })?;
    if !metadata.is_dir() {
        bail!(
            "`{}` is not a directory\n\nhint: give `flotilla check` a directory holding a kustomization.yaml or manifests",
            path.display()
        );
    }
    let directory =
        std::fs::canonicalize(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let top = git(&directory, &["rev-parse", "--show-toplevel"]).ok();
    let Some(top) = top else {
        return Ok(Repository {
            root: directory,
            path: String::new(),
            git_dir: None,
        });
    };
    let root = std::fs::canonicalize(&top).with_context(|| format!("cannot read `{top}`"))?;
    let common = git(&root, &["rev-parse", "--git-common-dir"])?;
    let git_dir = if Path::new(&common).is_absolute() {
        PathBuf::from(common)
    } else {
        root.join(common)
    };
    let relative = directory
        .strip_prefix(&root)
        .map(|relative| relative.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    Ok(Repository {
        root,
        path: relative,
        git_dir: Some(git_dir),
    })
}

/// `git ARGS` in `directory`; its trimmed standard output, or its standard error as the error.
fn git(directory: &Path, arguments: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .output()
        .context("cannot run `git`")?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
        bail!(if message.is_empty() {
            format!("`git {}` failed", arguments.join(" "))
        } else {
            message
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Renders `PATH` and the Applications it leads to from `files` (the disk, or a commit's tree
/// rooted at the repository's root). At a revision, a `PATH` that does not exist renders
/// nothing (the change adds it).
fn render_side(
    files: &dyn FileSystem,
    repository: &Repository,
    fetcher: &flotilla_source::GitFetcher,
    working_tree: bool,
) -> Result<RenderSet> {
    let mut set = RenderSet::default();
    let directory = repository.root.join(&repository.path);
    if !working_tree && !files.is_dir(&directory) {
        return Ok(set);
    }
    let root_source = ApplicationSource {
        path: repository.path.clone(),
        ..ApplicationSource::default()
    };
    let mut queue: Vec<(ApplicationSource, Option<Owner>)> = vec![(root_source, None)];
    let mut seen: HashSet<String> = HashSet::new();
    while let Some((source, owner)) = queue.pop() {
        let key = serde_json::to_string(&json!([source.path, source.kustomize, source.directory]))
            .unwrap_or_default();
        if !seen.insert(key) || seen.len() > 1000 {
            continue;
        }
        let rendered = flotilla_engine::render::render_source(
            files,
            &repository.root,
            &source,
            Some(fetcher as &dyn flotilla_kustomize::Fetcher),
        )
        .map_err(|error| anyhow!(error_chain(&error)))?;
        let source_path = if source.path.is_empty() {
            ".".to_string()
        } else {
            source.path.trim_matches('/').to_string()
        };
        for (mut object, origin) in rendered.objects.into_iter().zip(rendered.origins) {
            if let Some(owner) = &owner {
                default_namespace(&mut object, &owner.namespace);
            }
            let origin = origin.and_then(|origin| {
                origin
                    .strip_prefix(&repository.root)
                    .ok()
                    .map(|relative| relative.to_string_lossy().replace('\\', "/"))
            });
            if is_application(&object) {
                follow(files, repository, &object, &mut queue, &mut set);
            }
            set.objects.push(Rendered {
                object,
                origin,
                source: source_path.clone(),
                application: owner.as_ref().map(|owner| owner.name.clone()),
            });
        }
    }
    Ok(set)
}

/// The Application an object was rendered for.
#[derive(Clone, Debug)]
struct Owner {
    name: String,
    namespace: String,
}

fn is_application(object: &Value) -> bool {
    object["kind"] == "Application"
        && object["apiVersion"]
            .as_str()
            .is_some_and(|version| version.starts_with("argoproj.io/"))
}

/// Queues the sources of an Application whose paths are in this repository.
fn follow(
    files: &dyn FileSystem,
    repository: &Repository,
    application: &Value,
    queue: &mut Vec<(ApplicationSource, Option<Owner>)>,
    set: &mut RenderSet,
) {
    let name = application["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let spec: ApplicationSpec = match serde_json::from_value(application["spec"].clone()) {
        Ok(spec) => spec,
        Err(error) => {
            set.notes.push(format!(
                "Application `{name}` is not followed: its spec is malformed: {error}"
            ));
            return;
        }
    };
    let prunes = spec.automated().is_some_and(|automated| automated.prune);
    let cascades = application["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|finalizers| {
            finalizers.iter().any(|finalizer| {
                finalizer
                    .as_str()
                    .is_some_and(|text| text.starts_with("resources-finalizer.argocd.argoproj.io"))
            })
        });
    set.applications.insert(name.clone(), (prunes, cascades));
    let owner = Owner {
        name: name.clone(),
        namespace: spec.destination.namespace().to_string(),
    };
    for source in spec.all_sources() {
        if source.chart.is_some() {
            set.notes.push(format!(
                "Application `{name}`: the Helm chart `{}` is not rendered",
                source.chart.as_deref().unwrap_or("")
            ));
            continue;
        }
        if source.reference.is_some() && source.path.is_empty() {
            continue;
        }
        let relative = source.path.trim_matches('/');
        if relative.split('/').any(|segment| segment == "..")
            || !files.is_dir(&repository.root.join(relative))
        {
            set.notes.push(format!(
                "Application `{name}` is not followed: its path `{}` is not in this repository",
                source.path
            ));
            continue;
        }
        queue.push((source.clone(), Some(owner.clone())));
    }
}

/// Gives a namespaced object without a namespace the Application's destination namespace, as
/// a sync does.
pub(crate) fn default_namespace(object: &mut Value, namespace: &str) {
    if namespace.is_empty() || object["metadata"]["namespace"].is_string() {
        return;
    }
    let gvk = flotilla_kustomize::resource::Gvk::from_api_version(
        object["apiVersion"].as_str().unwrap_or(""),
        object["kind"].as_str().unwrap_or(""),
    );
    if flotilla_kustomize::kinds::is_cluster_scoped(&gvk) {
        return;
    }
    if let Some(metadata) = object["metadata"].as_object_mut() {
        metadata.insert("namespace".into(), json!(namespace));
    }
}

pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    message
}

/// The before set from the cluster: the objects of the rendered kinds that are rendered, or
/// tracked by a rendered Application (a sync would prune those no longer rendered).
async fn live_before(
    cluster_args: &crate::cmd_engine::ClusterArgs,
    after: &RenderSet,
) -> Result<RenderSet> {
    let cluster = crate::cmd_engine::connect(cluster_args).await?;
    let wanted: HashSet<ObjectId> = after
        .objects
        .iter()
        .filter_map(|rendered| ObjectId::of(&rendered.object))
        .collect();
    let kinds: BTreeSet<(String, String)> = after
        .objects
        .iter()
        .filter_map(|rendered| {
            Some((
                rendered.object["apiVersion"].as_str()?.to_string(),
                rendered.object["kind"].as_str()?.to_string(),
            ))
        })
        .collect();
    let mut set = RenderSet::default();
    for (api_version, kind) in kinds {
        let info = match cluster.resource(&api_version, &kind).await {
            Ok(info) => info,
            Err(flotilla_engine::ClusterError::UnknownKind { .. }) => continue,
            Err(error) => {
                return Err(anyhow!(error).context(format!(
                    "cannot read {kind} ({api_version}) from the cluster at {}",
                    cluster.server
                )))
            }
        };
        let list = cluster
            .list(&info, None, &Default::default())
            .await
            .with_context(|| format!("listing {kind} ({api_version})"))?;
        for mut object in list["items"].as_array().cloned().unwrap_or_default() {
            // List items carry no apiVersion and kind.
            object["apiVersion"] = json!(api_version);
            object["kind"] = json!(kind);
            let Some(id) = ObjectId::of(&object) else {
                continue;
            };
            let tracked_by = object["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"]
                .as_str()
                .and_then(|tracking| tracking.split_once(':'))
                .map(|(instance, _)| instance.rsplit('_').next().unwrap_or(instance).to_string());
            let application = tracked_by.filter(|name| after.applications.contains_key(name));
            if !wanted.contains(&id) && application.is_none() {
                continue;
            }
            set.objects.push(Rendered {
                object,
                origin: None,
                source: String::new(),
                application,
            });
        }
    }
    Ok(set)
}

/// The repository's guardrail files in the working tree (tracked, and untracked but not
/// ignored), or under `PATH` outside git.
fn working_files(repository: &Repository) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    if repository.git_dir.is_none() {
        flotilla_engine::gate::source_files(&DISK, &repository.root, "", &mut files);
        return Ok(files);
    }
    let listing = git(
        &repository.root,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    )?;
    for path in listing
        .split('\0')
        .filter(|path| flotilla_engine::gate::is_guardrail_file(path))
    {
        if let Ok(text) = std::fs::read_to_string(repository.root.join(path)) {
            files.insert(path.to_string(), text);
        }
    }
    Ok(files)
}

/// The repository's guardrail files at `commit`.
fn revision_files(
    repository: &Repository,
    tree: &flotilla_source::GitTree,
    commit: &str,
) -> Result<BTreeMap<String, String>> {
    let listing = git(
        &repository.root,
        &["ls-tree", "-r", "-z", "--name-only", commit],
    )?;
    let mut files = BTreeMap::new();
    for path in listing
        .split('\0')
        .filter(|path| flotilla_engine::gate::is_guardrail_file(path))
    {
        if let Ok(bytes) = tree.read(&repository.root.join(path)) {
            if let Ok(text) = String::from_utf8(bytes) {
                files.insert(path.to_string(), text);
            }
        }
    }
    Ok(files)
}

/// Where a finding is shown: a file relative to the repository root, and a line when known.
#[derive(Clone, Debug, PartialEq)]
struct Place {
    file: String,
    line: Option<usize>,
}

/// The file and line an object was read from when the render knows it and the file is in the
/// working tree (no line for a `removed` object); else the kustomization (or directory) it was
/// rendered from.
fn place_of(repository: &Repository, rendered: &Rendered, removed: bool) -> Place {
    if let Some(origin) = &rendered.origin {
        if let Ok(text) = std::fs::read_to_string(repository.root.join(origin)) {
            let line = object_line(
                &text,
                rendered.object["kind"].as_str().unwrap_or(""),
                rendered.object["metadata"]["name"].as_str().unwrap_or(""),
            );
            return Place {
                file: origin.clone(),
                line: line.filter(|_| !removed),
            };
        }
    }
    let source = if rendered.source.is_empty() {
        repository.path.clone()
    } else {
        rendered.source.clone()
    };
    let directory = repository.root.join(&source);
    let kustomization = flotilla_kustomize::loader::KUSTOMIZATION_FILE_NAMES
        .iter()
        .find(|name| directory.join(name).is_file());
    let join = |name: &str| {
        if source.is_empty() || source == "." {
            name.to_string()
        } else {
            format!("{}/{name}", source.trim_end_matches('/'))
        }
    };
    match kustomization {
        Some(name) => Place {
            file: join(name),
            line: None,
        },
        None => Place {
            file: if source.is_empty() {
                ".".into()
            } else {
                source
            },
            line: None,
        },
    }
}

/// The line of `name:` in the YAML document of `text` that declares `kind` and `name` (the
/// name as written: kustomize's prefixes and suffixes are not undone), else of `kind:` when one
/// document alone declares the kind.
fn object_line(text: &str, kind: &str, name: &str) -> Option<usize> {
    let mut documents: Vec<Vec<(usize, &str)>> = vec![Vec::new()];
    for (index, line) in text.lines().enumerate() {
        if line.starts_with("---") {
            documents.push(Vec::new());
            continue;
        }
        if let Some(document) = documents.last_mut() {
            document.push((index + 1, line));
        }
    }
    let value_of = |line: &str, key: &str| -> Option<String> {
        let rest = line.trim_start().strip_prefix(key)?.strip_prefix(':')?;
        let rest = rest.split(" #").next().unwrap_or(rest).trim();
        Some(rest.trim_matches(|c| c == '"' || c == '\'').to_string())
    };
    let with_kind: Vec<&Vec<(usize, &str)>> = documents
        .iter()
        .filter(|document| {
            document.iter().any(|(_, line)| {
                !line.starts_with(' ') && value_of(line, "kind").as_deref() == Some(kind)
            })
        })
        .collect();
    for document in &with_kind {
        if let Some((number, _)) = document.iter().find(|(_, line)| {
            line.starts_with("  ") && value_of(line, "name").as_deref() == Some(name)
        }) {
            return Some(*number);
        }
    }
    match with_kind.as_slice() {
        [document] => document
            .iter()
            .find(|(_, line)| value_of(line, "kind").is_some())
            .map(|(number, _)| *number),
        _ => None,
    }
}

/// The findings and where to show them.
struct Report {
    path: String,
    base: String,
    /// Objects rendered (or read from the cluster) before, and after.
    rendered: (usize, usize),
    findings: Vec<Finding>,
    places: BTreeMap<ObjectId, Place>,
}

impl Report {
    fn place(&self, finding: &Finding) -> Place {
        self.places.get(&finding.object).cloned().unwrap_or(Place {
            file: if self.path.is_empty() {
                ".".into()
            } else {
                self.path.clone()
            },
            line: None,
        })
    }

    fn counts(&self) -> (usize, usize, usize) {
        let blocking = self
            .findings
            .iter()
            .filter(|finding| finding.blocks())
            .count();
        let overridden = self
            .findings
            .iter()
            .filter(|finding| finding.overridden)
            .count();
        (
            blocking,
            self.findings.len() - blocking - overridden,
            overridden,
        )
    }

    /// Findings grouped by object (they come sorted by object), then a summary line.
    fn text(&self) -> String {
        let mut text = String::new();
        let mut current: Option<&ObjectId> = None;
        for finding in &self.findings {
            if current != Some(&finding.object) {
                if current.is_some() {
                    text.push('\n');
                }
                current = Some(&finding.object);
                let place = self.place(finding);
                let at = match place.line {
                    Some(line) => format!("{}:{line}", place.file),
                    None => place.file,
                };
                text.push_str(&format!("{} ({at})\n", finding.object));
            }
            let field = if finding.path.is_empty() {
                String::new()
            } else {
                format!(" {}", finding.path)
            };
            text.push_str(&format!(
                "  {:<10} {}{field}\n",
                flotilla_engine::gate::label(finding),
                finding.rule
            ));
            text.push_str(&format!("             {}\n", finding.message));
            if finding.overridden {
                text.push_str(&format!(
                    "             overridden by {}: {}\n",
                    flotilla_eda::ALLOW_ANNOTATION,
                    finding.rule
                ));
            } else if !finding.hint.is_empty() {
                text.push_str(&format!("             instead: {}\n", finding.hint));
            }
        }
        let (blocking, warnings, overridden) = self.counts();
        if !self.findings.is_empty() {
            text.push('\n');
        }
        let against = if self.base == "live" {
            "the cluster".to_string()
        } else {
            format!("`{}`", self.base)
        };
        text.push_str(&format!(
            "{} against {against}: {blocking} blocking, {warnings} {}, {overridden} overridden\n",
            if blocking > 0 { "blocked" } else { "passed" },
            if warnings == 1 { "warning" } else { "warnings" },
        ));
        text
    }

    fn json(&self) -> Value {
        let (blocking, warnings, overridden) = self.counts();
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|finding| {
                let mut value = serde_json::to_value(finding).unwrap_or(Value::Null);
                let place = self.place(finding);
                value["location"] = json!({"file": place.file, "line": place.line});
                value["blocks"] = json!(finding.blocks());
                value
            })
            .collect();
        json!({
            "path": if self.path.is_empty() { "." } else { self.path.as_str() },
            "base": self.base,
            "verdict": match Verdict::of(&self.findings) { Verdict::Pass => "pass", Verdict::Block => "block" },
            "summary": {"blocking": blocking, "warnings": warnings, "overridden": overridden},
            "rendered": {"before": self.rendered.0, "after": self.rendered.1},
            "findings": findings,
        })
    }

    /// A SARIF 2.1.0 log: one run, the rules that fired in `tool.driver.rules`, a result per
    /// finding (`error` when it blocks, else `warning`; overridden ones suppressed in source).
    fn sarif(&self) -> Value {
        let mut rules: Vec<Value> = Vec::new();
        let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
        for finding in &self.findings {
            if rule_index.contains_key(finding.rule.as_str()) {
                continue;
            }
            rule_index.insert(&finding.rule, rules.len());
            let level = match finding.severity {
                flotilla_eda::Severity::Block => "error",
                flotilla_eda::Severity::Warn => "warning",
            };
            rules.push(json!({
                "id": finding.rule,
                "name": rule_name(&finding.rule),
                "shortDescription": {"text": rule_sentence(&finding.rule)},
                "defaultConfiguration": {"level": level},
                "properties": {"severity": finding.severity.as_str()},
            }));
        }
        let results: Vec<Value> = self
            .findings
            .iter()
            .map(|finding| {
                let place = self.place(finding);
                let mut physical = json!({"artifactLocation": {"uri": place.file}});
                if let Some(line) = place.line {
                    physical["region"] = json!({"startLine": line});
                }
                let mut message = format!("{}: {}", finding.object, finding.message);
                if !finding.hint.is_empty() {
                    message.push_str(&format!(". Instead: {}", finding.hint));
                }
                let mut result = json!({
                    "ruleId": finding.rule,
                    "ruleIndex": rule_index[finding.rule.as_str()],
                    "level": if finding.severity == flotilla_eda::Severity::Block { "error" } else { "warning" },
                    "message": {"text": message},
                    "locations": [{
                        "physicalLocation": physical,
                        "logicalLocations": [{"fullyQualifiedName": finding.object.to_string(), "kind": "object"}],
                    }],
                    "properties": {"field": finding.path, "overridden": finding.overridden},
                });
                if finding.overridden {
                    result["suppressions"] = json!([{
                        "kind": "inSource",
                        "justification": format!("{}: {}", flotilla_eda::ALLOW_ANNOTATION, finding.rule),
                    }]);
                }
                result
            })
            .collect();
        json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "flotilla",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }},
                "results": results,
            }],
        })
    }
}

/// `kafka-topic-partitions-decreased` → `KafkaTopicPartitionsDecreased` (SARIF's rule name).
fn rule_name(rule: &str) -> String {
    rule.split('-')
        .map(|word| {
            let mut characters = word.chars();
            characters
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + characters.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `kafka-topic-partitions-decreased` → `Kafka topic partitions decreased`.
fn rule_sentence(rule: &str) -> String {
    let words = rule.replace('-', " ");
    let mut characters = words.chars();
    characters
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + characters.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_objects() {
        let text = "# topics\napiVersion: v1\nkind: KafkaTopic\nmetadata:\n  name: items\n---\napiVersion: v1\nkind: KafkaTopic\nmetadata:\n  labels: {a: b}\n  name: \"stores\"\n";
        assert_eq!(object_line(text, "KafkaTopic", "items"), Some(5));
        assert_eq!(object_line(text, "KafkaTopic", "stores"), Some(11));
        assert_eq!(object_line(text, "KafkaTopic", "other"), None);
        assert_eq!(
            object_line(
                "kind: ConfigMap\nmetadata:\n  name: x\n",
                "ConfigMap",
                "prefixed-x"
            ),
            Some(1)
        );
    }

    #[test]
    fn rule_names() {
        assert_eq!(
            rule_name("kafka-topic-partitions-decreased"),
            "KafkaTopicPartitionsDecreased"
        );
        assert_eq!(
            rule_sentence("kafka-topic-partitions-decreased"),
            "Kafka topic partitions decreased"
        );
    }
}
