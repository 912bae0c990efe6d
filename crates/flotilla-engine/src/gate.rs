//! The pre-sync gate: the guardrails of `flotilla-eda` evaluated on (live, desired) before every
//! sync, automated or requested, and what their findings become: a blocked sync applies nothing
//! and fails as Argo CD shows a sync that failed before applying (`operationState.phase:
//! Failed`, a message naming the rule, the object and the field, the objects `SyncFailed` in
//! `syncResult.resources`); a `GuardrailViolation` condition per blocking finding; a
//! `GuardrailWarning` condition per warning and per overridden finding (`flotilla.dev/allow`),
//! kept while the Application is at the revisions they are about; Kubernetes Events on the
//! Application; `flotilla_guardrail_findings_total{rule,severity}`.
//!
//! The change the rules see: `before` is the live object of every desired object (absent: it is
//! added) and the tracked objects the sync would prune; `after` is the desired objects (hooks
//! left out: they are created afresh by each sync). `prune` is the sync's (the Application's
//! automated prune, or the requested sync's); with it, an object whose own sync options say
//! `Prune=false` is left out of `before`, since it stays as it is. Repository files for the
//! schema and AsyncAPI rules: those under each source's path, each ancestor's `schemas/`
//! directory and `asyncapi*` documents beside the ancestors, at the commits being synced and at
//! the last synced ones (when the mirror still has them), read from the mirror as the render
//! reads it ([`repository_files`]). Operator versions: the `installedCSV` of the live
//! Subscriptions and the `startingCSV` (else the channel head in `flotilla-catalog`) of the
//! desired ones ([`operator_versions`]).
//!
//! The same files at the commits of an Application's last sync are what the web's live topology
//! draws its AsyncAPI and schema edges from ([`synced_files`], kept in a [`FilesCache`] by
//! (repository, commit, path): a commit never changes).
//!
//! Dependencies go one way: `reconcile` and `sync` call the gate; the gate reads the live cache,
//! the repositories and the metrics, and knows nothing of them. It depends on `cluster`, `live`,
//! `metrics` and `model` only.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flotilla_eda::{Change, Finding, Severity};
use flotilla_kustomize::loader::{EntryKind, FileSystem};
use serde_json::{json, Value};

use crate::cluster::Cluster;
use crate::live::LiveCache;
use crate::metrics::Metrics;
use crate::model::ApplicationSource;

/// The condition a blocking finding sets.
pub const VIOLATION_CONDITION: &str = "GuardrailViolation";
/// The condition a warning or an overridden finding sets.
pub const WARNING_CONDITION: &str = "GuardrailWarning";

/// Repository files the rules may read (schemas, AsyncAPI documents), by path relative to the
/// repository root, before and after the change.
#[derive(Clone, Debug, Default)]
pub struct RepositoryFiles {
    pub before: BTreeMap<String, String>,
    pub after: BTreeMap<String, String>,
    /// The Git history before `before` of the schema files a transitive level needs
    /// (`flotilla_eda::subjects::needs_history`), for `Change::file_histories`.
    pub histories: BTreeMap<String, Vec<(String, String)>>,
}

/// The most commits walked back for one schema file's history (first parents).
pub const MAX_HISTORY_COMMITS: usize = 1000;

/// What the gate is asked about one sync (or one preview).
pub struct GateInput<'a> {
    /// The desired objects (hooks among them are left out).
    pub desired: &'a [Value],
    /// Where their live counterparts are.
    pub cache: &'a LiveCache,
    /// Tracked objects no longer desired.
    pub to_prune: &'a [Arc<Value>],
    /// Whether the sync prunes.
    pub prune: bool,
    /// The Application's sync options and the operation's.
    pub sync_options: &'a [String],
    pub files: RepositoryFiles,
}

/// The findings of one evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GateReport {
    pub findings: Vec<Finding>,
}

/// What the gate last said about an Application, and the revisions it was about.
#[derive(Clone, Debug, Default)]
pub struct Remembered {
    pub revisions: Vec<String>,
    pub report: GateReport,
}

/// Runs the rules on the change a sync would make.
pub fn evaluate(input: GateInput<'_>) -> GateReport {
    let after: Vec<Value> = input
        .desired
        .iter()
        .filter(|object| !is_hook(object))
        .cloned()
        .collect();
    let mut before: Vec<Value> = after
        .iter()
        .filter_map(|object| live_of(input.cache, object))
        .map(|live| (*live).clone())
        .collect();
    let options = flotilla_plan::parse_sync_options(input.sync_options).unwrap_or_default();
    before.extend(
        input
            .to_prune
            .iter()
            .filter(|live| !is_hook(live))
            .filter(|live| {
                // With prune, an object that says `Prune=false` stays as it is: not removed.
                !input.prune
                    || flotilla_plan::object_sync_options(live, &options)
                        .map(|own| own.prune)
                        .unwrap_or(true)
            })
            .map(|live| (**live).clone()),
    );
    let versions = operator_versions(before.iter().chain(after.iter()));
    let mut change = Change::new(before, after, input.prune);
    change.files_before = input.files.before;
    change.files_after = input.files.after;
    change.file_histories = input.files.histories;
    change.operator_versions = versions;
    GateReport {
        findings: flotilla_eda::evaluate(&change),
    }
}

fn is_hook(object: &Value) -> bool {
    let annotations = &object["metadata"]["annotations"];
    annotations["argocd.argoproj.io/hook"].is_string() || annotations["helm.sh/hook"].is_string()
}

fn live_of(cache: &LiveCache, object: &Value) -> Option<Arc<Value>> {
    cache
        .watched(object["apiVersion"].as_str()?, object["kind"].as_str()?)?
        .get(
            object["metadata"]["namespace"].as_str().unwrap_or(""),
            object["metadata"]["name"].as_str()?,
        )
}

/// Operator versions by OLM package from Subscriptions: a live one's `status.installedCSV`, a
/// desired one's `spec.startingCSV`, else the head of its channel (or the package's default
/// channel) in the embedded catalog; later objects win, so desired Subscriptions given after
/// live ones say the version after the change.
pub fn operator_versions<'a>(objects: impl Iterator<Item = &'a Value>) -> BTreeMap<String, String> {
    let catalog = flotilla_catalog::Catalog::embedded();
    let mut versions = BTreeMap::new();
    for object in objects {
        if object["kind"] != "Subscription"
            || !object["apiVersion"]
                .as_str()
                .is_some_and(|version| version.starts_with("operators.coreos.com/"))
        {
            continue;
        }
        let Some(package_name) = object["spec"]["name"].as_str() else {
            continue;
        };
        let package = catalog.package(package_name);
        let csv_version = |csv: &str| {
            package
                .and_then(|package| package.find_csv(csv))
                .map(|found| found.version)
                .or_else(|| {
                    csv.rsplit_once(".v")
                        .map(|(_, version)| version.to_string())
                })
        };
        let version = object["status"]["installedCSV"]
            .as_str()
            .and_then(csv_version)
            .or_else(|| object["spec"]["startingCSV"].as_str().and_then(csv_version))
            .or_else(|| {
                let package = package?;
                let channel = object["spec"]["channel"]
                    .as_str()
                    .unwrap_or(&package.default_channel);
                package
                    .channel(channel)
                    .and_then(|channel| package.head(channel))
                    .map(|head| head.version)
            });
        if let Some(version) = version {
            versions.insert(package_name.to_string(), version);
        }
    }
    versions
}

/// Whether a repository file is one the rules read: `*.avsc`, `*.proto` and `*.json` under a
/// `schemas/` directory with the `compatibility.yaml` beside them, and AsyncAPI documents
/// (`asyncapi*.yaml|yml|json`) anywhere.
pub fn is_guardrail_file(path: &str) -> bool {
    let mut segments = path.rsplit('/');
    let name = segments.next().unwrap_or("").to_ascii_lowercase();
    if name.starts_with("asyncapi")
        && [".yaml", ".yml", ".json"]
            .iter()
            .any(|extension| name.ends_with(extension))
    {
        return true;
    }
    // A schema, or the subjects' levels beside them (`flotilla_eda::subjects`).
    segments.any(|directory| directory == "schemas")
        && (name == "compatibility.yaml"
            || [".avsc", ".proto", ".json"]
                .iter()
                .any(|extension| name.ends_with(extension)))
}

/// Files larger than this are left out (a schema is small; a data file is not one).
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Directory entries visited per tree before the walk stops.
const MAX_ENTRIES: usize = 20_000;

/// The guardrail files of one source at one commit (`tree`, rooted at `root`): under the
/// source's `path`, in each ancestor's `schemas/` directory, and AsyncAPI documents directly in
/// the ancestors, by path relative to the repository root.
pub fn source_files(
    tree: &dyn FileSystem,
    root: &Path,
    path: &str,
    files: &mut BTreeMap<String, String>,
) {
    let relative = path.trim_matches('/');
    let relative = if relative == "." { "" } else { relative };
    if relative.split('/').any(|segment| segment == "..") {
        return;
    }
    let mut budget = MAX_ENTRIES;
    walk(tree, root, relative, true, files, &mut budget);
    // Ancestors: the repository root and every directory above the source's path.
    let mut ancestors = vec![String::new()];
    let mut prefix = String::new();
    for segment in relative.split('/').filter(|segment| !segment.is_empty()) {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(segment);
        ancestors.push(prefix.clone());
    }
    ancestors.pop();
    for ancestor in ancestors {
        walk(tree, root, &ancestor, false, files, &mut budget);
        let schemas = join(&ancestor, "schemas");
        walk(tree, root, &schemas, true, files, &mut budget);
    }
}

fn join(directory: &str, name: &str) -> String {
    if directory.is_empty() {
        name.to_string()
    } else {
        format!("{directory}/{name}")
    }
}

fn walk(
    tree: &dyn FileSystem,
    root: &Path,
    relative: &str,
    recurse: bool,
    files: &mut BTreeMap<String, String>,
    budget: &mut usize,
) {
    let directory: PathBuf = if relative.is_empty() {
        root.to_path_buf()
    } else {
        root.join(relative)
    };
    let Ok(mut entries) = tree.read_dir(&directory) else {
        return;
    };
    entries.sort_by(|left, right| left.0.cmp(&right.0));
    for (name, kind) in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let path = join(relative, &name);
        match kind {
            EntryKind::Directory if recurse && !name.starts_with('.') => {
                walk(tree, root, &path, true, files, budget)
            }
            EntryKind::File { len } if len <= MAX_FILE_BYTES && is_guardrail_file(&path) => {
                if files.contains_key(&path) {
                    continue;
                }
                if let Ok(bytes) = tree.read(&directory.join(&name)) {
                    if let Ok(text) = String::from_utf8(bytes) {
                        files.insert(path, text);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The guardrail files of `sources` (repository URL, path; no path: none read) at `after` and
/// at `before` (the commits last synced, one per source; empty when unknown), read from the
/// mirrors. A commit the mirror does not hold gives no files.
pub async fn repository_files(
    repositories: &flotilla_source::Repositories,
    sources: &[(String, Option<String>)],
    after: &[String],
    before: &[String],
) -> RepositoryFiles {
    let trees = |commits: &[String]| {
        sources
            .iter()
            .zip(commits)
            .filter_map(|((repository, path), commit)| {
                let path = path.clone()?;
                repositories
                    .tree(repository, commit)
                    .ok()
                    .map(|tree| (tree, path))
            })
            .collect::<Vec<_>>()
    };
    let (after_trees, before_trees) = (trees(after), trees(before));
    tokio::task::spawn_blocking(move || {
        let read = |trees: Vec<(Arc<flotilla_source::tree::GitTree>, String)>| {
            let mut files = BTreeMap::new();
            for (tree, path) in trees {
                source_files(&*tree, tree.root(), &path, &mut files);
            }
            files
        };
        let after = read(after_trees);
        let before = read(before_trees.clone());
        // Read only for schema files the change edits under a transitive level: most syncs
        // read no history at all.
        let histories = flotilla_eda::subjects::needs_history(&before, &after)
            .into_iter()
            .map(|path| {
                let history = before_trees
                    .iter()
                    .map(|(tree, _)| tree.file_history(&path, MAX_HISTORY_COMMITS))
                    .find(|history| !history.is_empty())
                    .unwrap_or_default();
                (path, history)
            })
            .collect();
        RepositoryFiles {
            after,
            before,
            histories,
        }
    })
    .await
    .unwrap_or_default()
}

/// The guardrail files of one source at one commit, as [`source_files`] reads them.
#[derive(Clone, Debug)]
pub struct SourceFiles {
    pub repository: String,
    pub commit: String,
    pub path: String,
    /// By path relative to the repository root; a text is shared by every source at the same
    /// commit that holds the file (a monorepo's root `schemas/` is in each of them).
    pub files: Arc<BTreeMap<String, Arc<str>>>,
}

/// [`source_files`] by (repository, commit, path): a commit never changes, so what was read
/// once is read again from here. Texts are kept once per (repository, commit, file).
#[derive(Default)]
pub struct FilesCache {
    state: std::sync::Mutex<CachedFiles>,
}

/// (repository, commit, path).
type SourceKey = (String, String, String);

#[derive(Default)]
struct CachedFiles {
    sources: HashMap<SourceKey, Arc<BTreeMap<String, Arc<str>>>>,
    /// By (repository, commit, file path).
    texts: HashMap<SourceKey, Arc<str>>,
}

/// Sources whose files are kept at once in a [`FilesCache`] (it is emptied when full): more
/// than the Applications of a large installation, each with its own path.
pub const MAX_CACHED_SOURCES: usize = 65_536;

impl FilesCache {
    fn get(&self, key: &SourceKey) -> Option<Arc<BTreeMap<String, Arc<str>>>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .sources
            .get(key)
            .cloned()
    }

    fn insert(
        &self,
        key: SourceKey,
        files: BTreeMap<String, String>,
    ) -> Arc<BTreeMap<String, Arc<str>>> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.sources.len() >= MAX_CACHED_SOURCES {
            *state = CachedFiles::default();
        }
        let (repository, commit, _) = &key;
        let files: BTreeMap<String, Arc<str>> = files
            .into_iter()
            .map(|(path, text)| {
                let text = state
                    .texts
                    .entry((repository.clone(), commit.clone(), path.clone()))
                    .or_insert_with(|| Arc::from(text))
                    .clone();
                (path, text)
            })
            .collect();
        let files = Arc::new(files);
        state.sources.insert(key, files.clone());
        files
    }
}

/// The sources of an Application's last successful sync and their commits (the last
/// `status.history` entry: `sources` and `revisions`, else `source` and `revision`; the spec's
/// sources when the entry names none).
pub fn last_synced_sources(application: &Value) -> Vec<(ApplicationSource, String)> {
    let revisions = last_synced_revisions(application);
    let Some(last) = application["status"]["history"]
        .as_array()
        .and_then(|history| history.last())
    else {
        return Vec::new();
    };
    let recorded: Option<Vec<ApplicationSource>> = match last["sources"].as_array() {
        Some(sources) => serde_json::from_value(Value::Array(sources.clone())).ok(),
        None if last["source"].is_object() => serde_json::from_value(last["source"].clone())
            .ok()
            .map(|source| vec![source]),
        None => None,
    };
    let sources = recorded.unwrap_or_else(|| {
        serde_json::from_value::<crate::model::ApplicationSpec>(application["spec"].clone())
            .map(|spec| spec.all_sources().into_iter().cloned().collect())
            .unwrap_or_default()
    });
    sources.into_iter().zip(revisions).collect()
}

/// The guardrail files (AsyncAPI documents, schemas) of an Application's sources at the
/// commits of its last sync ([`last_synced_sources`]), one entry per source, as the gate reads
/// them (a `ref` source lends files to others and a Helm chart is no tree: neither gives any),
/// from `cache` or else from the mirrors. A commit the mirror does not hold gives nothing (and
/// is not remembered: it may be fetched later).
pub async fn synced_files(
    repositories: &flotilla_source::Repositories,
    cache: &FilesCache,
    application: &Value,
) -> Vec<SourceFiles> {
    // In the sources' order: each read from the cache, or its tree to read.
    let mut entries = Vec::new();
    let mut missing = Vec::new();
    for (source, commit) in last_synced_sources(application) {
        if source.chart.is_some() || (source.reference.is_some() && source.path.is_empty()) {
            continue;
        }
        let key = (source.repo_url.clone(), commit.clone(), source.path.clone());
        match cache.get(&key) {
            Some(files) => entries.push((key, Some(files))),
            None => {
                if let Ok(tree) = repositories.tree(&source.repo_url, &commit) {
                    missing.push((entries.len(), tree, key.2.clone()));
                    entries.push((key, None));
                }
            }
        }
    }
    if !missing.is_empty() {
        let read = tokio::task::spawn_blocking(move || {
            missing
                .into_iter()
                .map(|(index, tree, path)| {
                    let mut files = BTreeMap::new();
                    source_files(&*tree, tree.root(), &path, &mut files);
                    (index, files)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (index, files) in read {
            entries[index].1 = Some(cache.insert(entries[index].0.clone(), files));
        }
    }
    entries
        .into_iter()
        .filter_map(|((repository, commit, path), files)| {
            Some(SourceFiles {
                repository,
                commit,
                path,
                files: files?,
            })
        })
        .collect()
}

/// One sync (or preview) to judge: the Application, its sources at their commits, the desired
/// objects, where the live ones are, what would be pruned and the sync's options.
pub struct Subject<'a> {
    pub application: &'a Value,
    pub sources: &'a [ApplicationSource],
    pub revisions: &'a [String],
    pub desired: &'a [Value],
    pub cache: &'a LiveCache,
    pub to_prune: &'a [Arc<Value>],
    pub prune: bool,
    /// The Application's sync options and the operation's.
    pub sync_options: Vec<String>,
}

/// Reads the repository files the rules may use and evaluates the rules on `subject`.
pub async fn check(
    repositories: &flotilla_source::Repositories,
    subject: Subject<'_>,
) -> GateReport {
    let paths: Vec<(String, Option<String>)> = subject
        .sources
        .iter()
        .map(|source| {
            // A `ref` source only lends files to others: none of its own are read.
            let reference_only = source.reference.is_some() && source.path.is_empty();
            (
                source.repo_url.clone(),
                (!reference_only).then(|| source.path.clone()),
            )
        })
        .collect();
    let files = repository_files(
        repositories,
        &paths,
        subject.revisions,
        &last_synced_revisions(subject.application),
    )
    .await;
    evaluate(GateInput {
        desired: subject.desired,
        cache: subject.cache,
        to_prune: subject.to_prune,
        prune: subject.prune,
        sync_options: &subject.sync_options,
        files,
    })
}

/// The revisions of an Application's last successful sync (`status.history`), one per source.
pub fn last_synced_revisions(application: &Value) -> Vec<String> {
    let Some(last) = application["status"]["history"]
        .as_array()
        .and_then(|history| history.last())
    else {
        return Vec::new();
    };
    match last["revisions"].as_array() {
        Some(revisions) => revisions
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        None => last["revision"]
            .as_str()
            .map(|revision| vec![revision.to_string()])
            .unwrap_or_default(),
    }
}

impl GateReport {
    /// Whether a finding stops the sync.
    pub fn blocks(&self) -> bool {
        self.findings.iter().any(Finding::blocks)
    }

    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|finding| finding.blocks())
    }

    /// `operationState.message` of a blocked sync: every blocking finding, with its rule,
    /// object and field.
    pub fn operation_message(&self) -> String {
        let reasons: Vec<String> = self.blocking().map(describe).collect();
        format!(
            "blocked by guardrails, nothing applied: {}",
            reasons.join("; ")
        )
    }

    /// `syncResult.resources` of a blocked sync: each blocked object `SyncFailed`, with why.
    pub fn resource_entries(&self) -> Vec<Value> {
        let mut entries: Vec<Value> = Vec::new();
        for finding in self.blocking() {
            let message = format!("blocked by guardrail {}: {}", finding.rule, finding.message);
            let object = &finding.object;
            if let Some(entry) = entries.iter_mut().find(|entry| {
                entry["kind"] == object.kind()
                    && entry["name"] == object.name()
                    && entry["namespace"].as_str().unwrap_or("") == object.namespace()
                    && entry["group"].as_str().unwrap_or("") == object.group()
            }) {
                let joined = format!("{}; {message}", entry["message"].as_str().unwrap_or(""));
                entry["message"] = json!(joined);
                continue;
            }
            let mut entry = json!({"kind": object.kind(), "name": object.name(), "status": "SyncFailed", "message": message, "syncPhase": "PreSync"});
            if !object.group().is_empty() {
                entry["group"] = json!(object.group());
            }
            if !object.namespace().is_empty() {
                entry["namespace"] = json!(object.namespace());
            }
            entries.push(entry);
        }
        entries
    }

    /// The Application's conditions for these findings: `GuardrailViolation` for each blocking
    /// one, `GuardrailWarning` for each warning and each overridden one.
    pub fn conditions(&self) -> Vec<Value> {
        let now = flotilla_core::time::now_rfc3339();
        self.findings
            .iter()
            .map(|finding| {
                let kind = if finding.blocks() {
                    VIOLATION_CONDITION
                } else {
                    WARNING_CONDITION
                };
                json!({"type": kind, "message": describe(finding), "lastTransitionTime": now})
            })
            .collect()
    }

    /// The findings as text, one a line (`flotilla app diff`).
    pub fn render(&self) -> String {
        let mut text = String::new();
        for finding in &self.findings {
            text.push_str(&format!("# {}: {}\n", label(finding), describe(finding)));
        }
        text
    }
}

/// `block`, `warn`, or `overridden`: how a finding counts.
pub fn label(finding: &Finding) -> &'static str {
    if finding.overridden {
        "overridden"
    } else {
        finding.severity.as_str()
    }
}

/// One finding in a sentence: rule, object, field, what happens, what to do.
pub fn describe(finding: &Finding) -> String {
    let field = if finding.path.is_empty() {
        String::new()
    } else {
        format!(", field {}", finding.path)
    };
    let mut text = format!(
        "{} on {}{field}: {}",
        finding.rule, finding.object, finding.message
    );
    if finding.overridden {
        text.push_str(&format!(
            " (overridden by {}: {})",
            flotilla_eda::ALLOW_ANNOTATION,
            finding.rule
        ));
    } else {
        if !finding.hint.is_empty() {
            text.push_str(&format!("; instead: {}", finding.hint));
        }
        if finding.severity == Severity::Block {
            text.push_str(&format!(
                "; to apply it anyway, annotate the object {}: {}",
                flotilla_eda::ALLOW_ANNOTATION,
                finding.rule
            ));
        }
    }
    text
}

/// Remembers `report` as the gate's word on `revisions`; returns whether it is news (the gate
/// said something else, or nothing, about these revisions before).
pub fn remember(slot: &mut Option<Remembered>, revisions: &[String], report: &GateReport) -> bool {
    let news = !slot
        .as_ref()
        .is_some_and(|last| last.revisions == revisions && last.report == *report);
    *slot = (!report.is_empty()).then(|| Remembered {
        revisions: revisions.to_vec(),
        report: report.clone(),
    });
    news
}

/// The conditions the gate's last word sets while the Application is at the revisions it was
/// about (a new revision is gated afresh by its own sync).
pub fn remembered_conditions(slot: &Option<Remembered>, revisions: &[String]) -> Vec<Value> {
    slot.as_ref()
        .filter(|last| last.revisions == revisions)
        .map(|last| last.report.conditions())
        .unwrap_or_default()
}

/// Counts the findings (`flotilla_guardrail_findings_total`) and writes one Event per finding
/// on the Application: `GuardrailViolation` and `GuardrailWarning` (type Warning),
/// `GuardrailOverridden` (Normal).
pub async fn record(
    cluster: &Cluster,
    metrics: &Metrics,
    application: &Value,
    report: &GateReport,
) {
    for finding in &report.findings {
        metrics.count_guardrail_finding(&finding.rule, label(finding));
    }
    if report.is_empty() {
        return;
    }
    let Ok(info) = cluster.resource("v1", "Event").await else {
        return;
    };
    let name = application["metadata"]["name"].as_str().unwrap_or("");
    let namespace = application["metadata"]["namespace"].as_str().unwrap_or("");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    let now = flotilla_core::time::now_rfc3339();
    for (index, finding) in report.findings.iter().enumerate() {
        let (reason, kind) = if finding.overridden {
            ("GuardrailOverridden", "Normal")
        } else if finding.blocks() {
            (VIOLATION_CONDITION, "Warning")
        } else {
            (WARNING_CONDITION, "Warning")
        };
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": format!("{name}.{nanos:x}.{index}"), "namespace": namespace},
            "involvedObject": {"apiVersion": application["apiVersion"], "kind": "Application", "name": name, "namespace": namespace, "uid": application["metadata"]["uid"]},
            "reason": reason,
            "message": describe(finding),
            "type": kind,
            "source": {"component": "flotilla-controller"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1
        });
        if let Err(error) = cluster.create(&info, &event).await {
            tracing::warn!(application = %name, %error, "cannot record a guardrail Event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_sources_at_one_commit_share_their_texts() {
        let cache = FilesCache::default();
        let key = |path: &str| ("repo".to_string(), "c1".to_string(), path.to_string());
        let root = || BTreeMap::from([("schemas/orders-value.avsc".to_string(), "{}".to_string())]);
        let dev = cache.insert(key("env/dev"), root());
        let staging = cache.insert(key("env/staging"), root());
        assert!(Arc::ptr_eq(
            &dev["schemas/orders-value.avsc"],
            &staging["schemas/orders-value.avsc"]
        ));
        assert!(Arc::ptr_eq(
            &cache.get(&key("env/dev")).expect("kept"),
            &dev
        ));
        assert!(cache.get(&key("env/prod")).is_none());
    }

    #[test]
    fn the_last_sync_names_the_sources_and_commits() {
        let single = json!({
            "spec": {"source": {"repoURL": "https://git/now", "path": "now"}},
            "status": {"history": [
                {"revision": "a1", "source": {"repoURL": "https://git/r", "path": "old"}},
                {"revision": "b2", "source": {"repoURL": "https://git/r", "path": "apps"}},
            ]},
        });
        let sources = last_synced_sources(&single);
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].0.path, "apps");
        assert_eq!(sources[0].1, "b2");
        let multi = json!({
            "status": {"history": [{"revisions": ["c3", "d4"], "sources": [
                {"repoURL": "https://git/a", "path": "x"},
                {"repoURL": "https://git/b", "ref": "values"},
            ]}]},
        });
        let sources = last_synced_sources(&multi);
        assert_eq!(
            sources
                .iter()
                .map(|(source, commit)| (source.repo_url.as_str(), commit.as_str()))
                .collect::<Vec<_>>(),
            vec![("https://git/a", "c3"), ("https://git/b", "d4")]
        );
        // An entry naming no source: the spec's.
        let bare = json!({
            "spec": {"source": {"repoURL": "https://git/now", "path": "now"}},
            "status": {"history": [{"revision": "e5"}]},
        });
        assert_eq!(last_synced_sources(&bare)[0].0.path, "now");
        // Never synced: nothing.
        assert!(last_synced_sources(&json!({"spec": {}})).is_empty());
    }

    #[test]
    fn guardrail_files() {
        assert!(is_guardrail_file("schemas/orders.avsc"));
        assert!(is_guardrail_file("events/schemas/v1/orders.proto"));
        assert!(is_guardrail_file("schemas/orders.json"));
        assert!(is_guardrail_file("docs/asyncapi.yaml"));
        assert!(is_guardrail_file("AsyncAPI-orders.yml"));
        assert!(!is_guardrail_file("config/orders.json"));
        assert!(!is_guardrail_file("schemas.avsc"));
        assert!(!is_guardrail_file("schemas/readme.md"));
        assert!(is_guardrail_file("events/schemas/compatibility.yaml"));
        assert!(!is_guardrail_file("events/compatibility.yaml"));
    }

    #[test]
    fn remembered_findings_are_news_once() {
        let report = GateReport {
            findings: vec![Finding::new(
                "kafka-topic-partitions-increased",
                Severity::Warn,
                &flotilla_eda::ObjectId::new("kafka.strimzi.io", "KafkaTopic", "kafka", "orders"),
                "spec.partitions",
                "partitions increased",
                "check consumers",
            )],
        };
        let mut slot = None;
        let revisions = vec!["a".to_string()];
        assert!(remember(&mut slot, &revisions, &report));
        assert!(!remember(&mut slot, &revisions, &report));
        assert_eq!(remembered_conditions(&slot, &revisions).len(), 1);
        assert_eq!(
            remembered_conditions(&slot, &["b".to_string()]).len(),
            0,
            "a new revision is gated afresh"
        );
        assert_eq!(
            remembered_conditions(&slot, &revisions)[0]["type"],
            WARNING_CONDITION
        );
        assert!(remember(
            &mut slot,
            &["b".to_string()],
            &GateReport::default()
        ));
        assert!(slot.is_none());
    }

    #[test]
    fn operator_versions_from_subscriptions() {
        let subscription = json!({
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "Subscription",
            "metadata": {"name": "strimzi", "namespace": "openshift-operators"},
            "spec": {"name": "strimzi-kafka-operator", "channel": "strimzi-0.45.x"}
        });
        let versions = operator_versions([&subscription].into_iter());
        assert!(
            versions["strimzi-kafka-operator"].starts_with("0.45."),
            "{versions:?}"
        );
        let pinned = json!({
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "Subscription",
            "metadata": {"name": "x"},
            "spec": {"name": "unknown-operator", "startingCSV": "unknown-operator.v1.2.3"}
        });
        assert_eq!(
            operator_versions([&pinned].into_iter())["unknown-operator"],
            "1.2.3"
        );
    }
}
