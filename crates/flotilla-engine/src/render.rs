//! Rendering an Application source at a commit into desired objects.
//!
//! Sources are read through a [`FileSystem`] (the engine gives a commit's tree straight from the
//! git object database). A path holding a kustomization is built with `flotilla-kustomize`; the
//! Application's `kustomize` overrides are applied the way Argo CD applies them (`kustomize edit
//! set|add …` on the kustomization file), as an edited copy of that one file laid over the tree
//! ([`Overlay`]), so nothing is copied or written. Any other path is a directory of manifests
//! (YAML or JSON, `recurse`, `include`, `exclude` as Argo CD; `List` documents are expanded).
//!
//! Invariant: rendering is a pure function of (tree contents, path, options); the engine caches
//! on that key.
//!
//! Depends on `model` only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use flotilla_kustomize::loader::{EntryKind, FileSystem};
use serde_json::{json, Map, Value};

use crate::model::{ApplicationSource, DirectoryOptions, KustomizeOptions};

/// How a source was rendered (`status.sourceType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceType {
    Kustomize,
    Directory,
}

impl SourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Kustomize => "Kustomize",
            SourceType::Directory => "Directory",
        }
    }
}

/// The desired objects of one source.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub objects: Vec<Value>,
    /// The file each object was read from (as the tree names it), when known: kustomize's
    /// generated objects have none.
    pub origins: Vec<Option<PathBuf>>,
    pub source_type: SourceType,
}

/// Why a source could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("path `{path}` does not exist in the repository")]
    MissingPath { path: String },
    #[error("path `{path}` leaves the repository")]
    PathEscapes { path: String },
    #[error("Helm charts are not supported yet (source chart `{chart}`)")]
    Helm { chart: String },
    #[error("kustomize build of `{path}` failed")]
    Kustomize {
        path: String,
        #[source]
        source: flotilla_kustomize::BuildError,
    },
    #[error("`{file}`: {message}")]
    Manifest { file: String, message: String },
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("kustomize override: {message}")]
    Override { message: String },
}

/// Renders `source` from the tree `files` holds at `root`; `fetcher` resolves remote bases.
pub fn render_source(
    files: &dyn FileSystem,
    root: &Path,
    source: &ApplicationSource,
    fetcher: Option<&dyn flotilla_kustomize::Fetcher>,
) -> Result<Rendered, RenderError> {
    if let Some(chart) = &source.chart {
        return Err(RenderError::Helm {
            chart: chart.clone(),
        });
    }
    let relative = source.path.trim_matches('/');
    if relative.split('/').any(|segment| segment == "..") {
        return Err(RenderError::PathEscapes {
            path: source.path.clone(),
        });
    }
    let directory = if relative.is_empty() || relative == "." {
        root.to_path_buf()
    } else {
        root.join(relative)
    };
    if !files.is_dir(&directory) {
        return Err(RenderError::MissingPath {
            path: source.path.clone(),
        });
    }
    let kustomization = flotilla_kustomize::loader::KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|name| directory.join(name))
        .find(|path| files.is_file(path));
    match kustomization {
        Some(kustomization_file) => {
            let options = source.kustomize.clone().unwrap_or_default();
            let overlay;
            let build_files: &dyn FileSystem = if options.is_empty() {
                files
            } else {
                overlay = Overlay::with_overrides(files, &kustomization_file, &options)?;
                &overlay
            };
            let build_options = flotilla_kustomize::BuildOptions {
                fetcher,
                file_system: Some(build_files),
                ..Default::default()
            };
            let resources =
                flotilla_kustomize::build(&directory, build_options).map_err(|source_error| {
                    RenderError::Kustomize {
                        path: source.path.clone(),
                        source: source_error,
                    }
                })?;
            Ok(Rendered {
                objects: resources
                    .iter()
                    .map(|resource| flotilla_core::to_json(&resource.object))
                    .collect(),
                origins: resources
                    .iter()
                    .map(|resource| {
                        resource
                            .origin
                            .as_ref()
                            .filter(|origin| !origin.path.is_empty())
                            .map(|origin| PathBuf::from(&origin.path))
                    })
                    .collect(),
                source_type: SourceType::Kustomize,
            })
        }
        None => {
            let options = source.directory.clone().unwrap_or_default();
            let (objects, origins) = render_directory(files, &directory, &options)?;
            Ok(Rendered {
                objects,
                origins,
                source_type: SourceType::Directory,
            })
        }
    }
}

/// A file system showing some files with new contents over another (the kustomization file
/// with an Application's overrides applied).
struct Overlay<'a> {
    base: &'a dyn FileSystem,
    /// Replaced files by their canonical path.
    replaced: HashMap<PathBuf, Vec<u8>>,
}

impl<'a> Overlay<'a> {
    /// `base` with the kustomization `file` edited as `kustomize edit` does for `options`.
    fn with_overrides(
        base: &'a dyn FileSystem,
        file: &Path,
        options: &KustomizeOptions,
    ) -> Result<Overlay<'a>, RenderError> {
        // The loader's error names the file (and where it stops being UTF-8).
        let text = flotilla_kustomize::loader::read_text(base, file).map_err(|error| {
            RenderError::Override {
                message: error.to_string(),
            }
        })?;
        let edited = apply_overrides(file, &text, options)?;
        // Keyed as the build will ask for it: its canonical directory joined with the name.
        let canonical = match (file.parent(), file.file_name()) {
            (Some(directory), Some(name)) => base
                .canonicalize(directory)
                .map_err(|source| RenderError::Read {
                    path: directory.to_path_buf(),
                    source,
                })?
                .join(name),
            _ => file.to_path_buf(),
        };
        Ok(Overlay {
            base,
            replaced: HashMap::from([(canonical, edited.into_bytes())]),
        })
    }
}

impl FileSystem for Overlay<'_> {
    fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf> {
        self.base.canonicalize(path)
    }

    fn kind(&self, path: &Path) -> Option<EntryKind> {
        match self.replaced.get(path) {
            Some(bytes) => Some(EntryKind::File {
                len: bytes.len() as u64,
            }),
            None => self.base.kind(path),
        }
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        match self.replaced.get(path) {
            Some(bytes) => Ok(bytes.clone()),
            None => self.base.read(path),
        }
    }

    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<(String, EntryKind)>> {
        let mut entries = self.base.read_dir(path)?;
        for (name, kind) in &mut entries {
            if let Some(bytes) = self.replaced.get(&path.join(&*name)) {
                *kind = EntryKind::File {
                    len: bytes.len() as u64,
                };
            }
        }
        Ok(entries)
    }
}

/// Edits the kustomization text as `kustomize edit` does for each Argo CD override.
fn apply_overrides(
    file: &Path,
    text: &str,
    options: &KustomizeOptions,
) -> Result<String, RenderError> {
    let document =
        flotilla_core::parse_single_document(text).map_err(|error| RenderError::Manifest {
            file: file.display().to_string(),
            message: error.to_string(),
        })?;
    let mut kustomization = match flotilla_core::to_json(&document) {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(RenderError::Override {
                message: "the kustomization is not a mapping".into(),
            })
        }
    };
    if !options.name_prefix.is_empty() {
        kustomization.insert("namePrefix".into(), json!(options.name_prefix));
    }
    if !options.name_suffix.is_empty() {
        kustomization.insert("nameSuffix".into(), json!(options.name_suffix));
    }
    if !options.namespace.is_empty() {
        kustomization.insert("namespace".into(), json!(options.namespace));
    }
    merge_map(&mut kustomization, "commonLabels", &options.common_labels);
    merge_map(
        &mut kustomization,
        "commonAnnotations",
        &options.common_annotations,
    );
    for image in &options.images {
        set_image(&mut kustomization, image)?;
    }
    for replica in &options.replicas {
        let count = match &replica.count {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| RenderError::Override {
            message: format!("replica count for `{}` is not an integer", replica.name),
        })?;
        let list = list_entry(&mut kustomization, "replicas");
        list.retain(|entry| entry["name"] != json!(replica.name));
        list.push(json!({"name": replica.name, "count": count}));
    }
    for component in &options.components {
        let list = list_entry(&mut kustomization, "components");
        if !list.contains(&json!(component)) {
            list.push(json!(component));
        }
    }
    for patch in &options.patches {
        list_entry(&mut kustomization, "patches").push(patch.clone());
    }
    flotilla_core::write_document(&flotilla_core::from_json(&Value::Object(kustomization))).map_err(
        |error| RenderError::Override {
            message: error.to_string(),
        },
    )
}

fn merge_map(kustomization: &mut Map<String, Value>, key: &str, values: &Map<String, Value>) {
    if values.is_empty() {
        return;
    }
    let entry = kustomization
        .entry(key.to_string())
        .or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    if let Value::Object(map) = entry {
        for (name, value) in values {
            map.insert(name.clone(), value.clone());
        }
    }
}

fn list_entry<'a>(kustomization: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let entry = kustomization
        .entry(key.to_string())
        .or_insert_with(|| json!([]));
    if !entry.is_array() {
        *entry = json!([]);
    }
    match entry {
        Value::Array(list) => list,
        _ => unreachable!("just made an array"),
    }
}

/// `kustomize edit set image [old=]new[:tag|@digest]`.
fn set_image(kustomization: &mut Map<String, Value>, spec: &str) -> Result<(), RenderError> {
    let (name, replacement) = match spec.split_once('=') {
        Some((old, new)) => (old.to_string(), new.to_string()),
        None => (image_name(spec).to_string(), spec.to_string()),
    };
    if name.is_empty() || replacement.is_empty() {
        return Err(RenderError::Override {
            message: format!("image override `{spec}` is not `[name=]image[:tag|@digest]`"),
        });
    }
    let mut entry = Map::new();
    entry.insert("name".into(), json!(name));
    let (image, digest) = match replacement.split_once('@') {
        Some((image, digest)) => (image.to_string(), Some(digest.to_string())),
        None => (replacement.clone(), None),
    };
    let (new_name, tag) = split_tag(&image);
    if new_name != name {
        entry.insert("newName".into(), json!(new_name));
    }
    if let Some(tag) = tag {
        entry.insert("newTag".into(), json!(tag));
    }
    if let Some(digest) = digest {
        entry.insert("digest".into(), json!(digest));
    }
    let list = list_entry(kustomization, "images");
    match list
        .iter_mut()
        .find(|existing| existing["name"] == json!(name))
    {
        Some(existing) => *existing = Value::Object(entry),
        None => list.push(Value::Object(entry)),
    }
    Ok(())
}

fn image_name(spec: &str) -> &str {
    let without_digest = spec.split('@').next().unwrap_or(spec);
    split_tag(without_digest).0
}

/// Splits `registry:5000/repo:tag` into (`registry:5000/repo`, `tag`).
fn split_tag(image: &str) -> (&str, Option<&str>) {
    let last_slash = image.rfind('/').map(|index| index + 1).unwrap_or(0);
    match image[last_slash..].rfind(':') {
        Some(colon) => (
            &image[..last_slash + colon],
            Some(&image[last_slash + colon + 1..]),
        ),
        None => (image, None),
    }
}

/// A directory of manifests, as Argo CD reads one.
fn render_directory(
    file_system: &dyn FileSystem,
    directory: &Path,
    options: &DirectoryOptions,
) -> Result<(Vec<Value>, Vec<Option<PathBuf>>), RenderError> {
    let mut files = Vec::new();
    collect_files(
        file_system,
        directory,
        Path::new(""),
        options.recurse,
        &mut files,
    )
    .map_err(|source| RenderError::Read {
        path: directory.to_path_buf(),
        source,
    })?;
    files.sort();
    let includes = expand_braces(&options.include);
    let excludes = expand_braces(&options.exclude);
    let mut objects = Vec::new();
    let mut origins = Vec::new();
    for relative in files {
        let relative_text = relative.to_string_lossy().replace('\\', "/");
        let file_name = relative
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let matches = |patterns: &[String]| {
            patterns.iter().any(|pattern| {
                crate::model::glob_match(pattern, &relative_text)
                    || crate::model::glob_match(pattern, &file_name)
            })
        };
        if !includes.is_empty() && !matches(&includes) {
            continue;
        }
        if matches(&excludes) {
            continue;
        }
        let path = directory.join(&relative);
        let manifest_error = |message: String| RenderError::Manifest {
            file: relative_text.clone(),
            message,
        };
        let text = flotilla_kustomize::loader::read_text(file_system, &path)
            .map_err(|error| manifest_error(error.to_string()))?;
        let documents: Vec<Value> = if relative_text.ends_with(".json") {
            vec![serde_json::from_str(&text).map_err(|error| {
                manifest_error(format!(
                    "line {} column {}: {error}",
                    error.line(),
                    error.column()
                ))
            })?]
        } else {
            flotilla_core::parse_documents(&text)
                .map_err(|error| manifest_error(error.to_string()))?
                .iter()
                .map(flotilla_core::to_json)
                .collect()
        };
        for document in documents {
            expand_document(document, &relative_text, &mut objects)?;
        }
        origins.resize(objects.len(), Some(path));
    }
    Ok((objects, origins))
}

fn expand_document(
    document: Value,
    file: &str,
    objects: &mut Vec<Value>,
) -> Result<(), RenderError> {
    match document {
        Value::Null => Ok(()),
        Value::Object(map) if map.is_empty() => Ok(()),
        Value::Object(map) => {
            let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
                if let Some(Value::Array(items)) = map.get("items") {
                    for item in items {
                        expand_document(item.clone(), file, objects)?;
                    }
                }
                return Ok(());
            }
            if kind.is_empty() || map.get("apiVersion").and_then(Value::as_str).is_none() {
                return Err(RenderError::Manifest {
                    file: file.to_string(),
                    message:
                        "a document without `apiVersion` and `kind` is not a Kubernetes object"
                            .into(),
                });
            }
            objects.push(Value::Object(map));
            Ok(())
        }
        _ => Err(RenderError::Manifest {
            file: file.to_string(),
            message: "a document is not a mapping".into(),
        }),
    }
}

/// The manifest files under `directory` (paths relative to it), skipping hidden entries.
fn collect_files(
    file_system: &dyn FileSystem,
    directory: &Path,
    relative: &Path,
    recurse: bool,
    files: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    for (name, kind) in file_system.read_dir(&directory.join(relative))? {
        if name.starts_with('.') {
            continue;
        }
        match kind {
            EntryKind::Directory if recurse => {
                collect_files(
                    file_system,
                    directory,
                    &relative.join(&name),
                    recurse,
                    files,
                )?;
            }
            EntryKind::Directory => {}
            EntryKind::File { .. } => {
                if name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json") {
                    files.push(relative.join(&name));
                }
            }
        }
    }
    Ok(())
}

/// `{a,b}` alternatives expanded into plain globs (Argo CD's include/exclude form).
fn expand_braces(pattern: &str) -> Vec<String> {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return Vec::new();
    }
    match (pattern.find('{'), pattern.find('}')) {
        (Some(open), Some(close)) if open < close => {
            let (prefix, inner, suffix) = (
                &pattern[..open],
                &pattern[open + 1..close],
                &pattern[close + 1..],
            );
            inner
                .split(',')
                .flat_map(|alternative| {
                    expand_braces(&format!("{prefix}{}{suffix}", alternative.trim()))
                })
                .collect()
        }
        _ => vec![pattern.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let path =
                std::env::temp_dir().join(format!("flotilla-render-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("scratch directory");
            Scratch(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn source(value: Value) -> ApplicationSource {
        serde_json::from_value(value).expect("a valid source")
    }

    fn names(rendered: &Rendered) -> Vec<String> {
        rendered
            .objects
            .iter()
            .map(|object| {
                object["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn overrides_are_laid_over_the_tree_without_writing_it() {
        let scratch = Scratch::new("overrides");
        let root = &scratch.0;
        std::fs::create_dir_all(root.join("real")).expect("dir");
        let kustomization = "resources:\n- cm.yaml\n";
        std::fs::write(root.join("real/kustomization.yaml"), kustomization).expect("write");
        std::fs::write(
            root.join("real/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
        )
        .expect("write");
        // Reached through a symlink: the edited file must still be the one the build reads.
        std::os::unix::fs::symlink("real", root.join("linked")).expect("symlink");
        let rendered = render_source(
            &flotilla_kustomize::loader::DISK,
            root,
            &source(json!({"repoURL": "r", "path": "linked", "kustomize": {"namePrefix": "dev-", "commonLabels": {"env": "dev"}}})),
            None,
        )
        .expect("renders");
        assert_eq!(names(&rendered), vec!["dev-cm"]);
        assert_eq!(rendered.objects[0]["metadata"]["labels"]["env"], "dev");
        assert_eq!(
            std::fs::read_to_string(root.join("real/kustomization.yaml")).expect("read"),
            kustomization
        );
        // Without overrides the same tree renders as it is.
        let plain = render_source(
            &flotilla_kustomize::loader::DISK,
            root,
            &source(json!({"repoURL": "r", "path": "real"})),
            None,
        )
        .expect("renders");
        assert_eq!(names(&plain), vec!["cm"]);
    }

    #[test]
    fn directories_list_through_the_file_system() {
        let scratch = Scratch::new("directory");
        let root = &scratch.0;
        std::fs::create_dir_all(root.join("manifests/nested")).expect("dir");
        std::fs::create_dir_all(root.join("manifests/.hidden")).expect("dir");
        let configmap =
            |name: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n");
        std::fs::write(root.join("manifests/a.yaml"), configmap("a")).expect("write");
        std::fs::write(root.join("manifests/notes.txt"), "not a manifest").expect("write");
        std::fs::write(root.join("manifests/nested/b.yml"), configmap("b")).expect("write");
        std::fs::write(root.join("manifests/.hidden/c.yaml"), configmap("c")).expect("write");
        let render = |directory: Value| {
            render_source(
                &flotilla_kustomize::loader::DISK,
                root,
                &source(json!({"repoURL": "r", "path": "manifests", "directory": directory})),
                None,
            )
            .map(|rendered| names(&rendered))
        };
        assert_eq!(render(json!({})).expect("renders"), vec!["a"]);
        assert_eq!(
            render(json!({"recurse": true})).expect("renders"),
            vec!["a", "b"]
        );
        assert_eq!(
            render(json!({"recurse": true, "exclude": "nested/*"})).expect("renders"),
            vec!["a"]
        );
        let missing = render_source(
            &flotilla_kustomize::loader::DISK,
            root,
            &source(json!({"repoURL": "r", "path": "absent"})),
            None,
        )
        .expect_err("missing path");
        assert!(missing.to_string().contains("does not exist"), "{missing}");
    }

    #[test]
    fn image_specs_split_like_kustomize_edit() {
        assert_eq!(
            split_tag("registry:5000/team/app:1.2"),
            ("registry:5000/team/app", Some("1.2"))
        );
        assert_eq!(split_tag("nginx"), ("nginx", None));
        let mut kustomization = Map::new();
        set_image(&mut kustomization, "nginx:1.27").expect("valid");
        set_image(&mut kustomization, "app=quay.io/team/app@sha256:abc").expect("valid");
        set_image(&mut kustomization, "nginx:1.28").expect("valid");
        assert_eq!(
            Value::Object(kustomization)["images"],
            json!([{"name": "nginx", "newTag": "1.28"}, {"name": "app", "newName": "quay.io/team/app", "digest": "sha256:abc"}])
        );
        assert_eq!(expand_braces("{a.yaml,dir/*}"), vec!["a.yaml", "dir/*"]);
    }
}
