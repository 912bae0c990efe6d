//! The build: from a kustomization directory to the ordered list of resources, in kustomize's
//! order of operations.
//!
//! For one kustomization (`accumulate_target`): resources (files, then sub-kustomizations,
//! each built recursively), configurations and CRDs, generators, components (applied to what has
//! accumulated so far), the builtin transformers (`patchesStrategicMerge`, `patches`, namespace,
//! prefix, suffix, labels, annotations, `patchesJson6902`, replicas, images, replacements), then
//! `transformers:`, and finally the kustomization's vars are recorded. Only at the top: name
//! hashes, name references, vars resolution, then the output order and build metadata, and last
//! what kustomize does to every resource before printing it (`finish_resource`: annotations
//! re-set as the strings they were written as, empty ones removed; the trip through JSON).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use flotilla_core::Value;

use crate::config::TransformerConfig;
use crate::error::{BuildError, Result};
use crate::kustomization::{Kustomization, KustomizationKind};
use crate::loader::{self, Fetcher, FileSystem, LoadRestrictor};
use crate::resource::{IdIndex, ResMap, Resource};
use crate::{generators, nameref, plugins, sort, transformers, vars};

/// Options of a build, as `kustomize build` flags.
#[derive(Clone, Copy, Default)]
pub struct BuildOptions<'a> {
    pub load_restrictor: LoadRestrictor,
    pub fetcher: Option<&'a dyn Fetcher>,
    /// Where files are read from; the disk when `None`.
    pub file_system: Option<&'a dyn FileSystem>,
}

impl<'a> BuildOptions<'a> {
    /// The file system the build reads.
    pub fn files(&self) -> &'a dyn FileSystem {
        self.file_system.unwrap_or(&loader::DISK)
    }
}

/// What accumulates while a kustomization tree is built.
#[derive(Clone, Debug, Default)]
pub struct Accumulator {
    pub resources: ResMap,
    /// Shared with the builtin configuration until a kustomization changes it.
    pub config: Arc<TransformerConfig>,
    pub vars: Vec<vars::Var>,
    /// Whether transformers record themselves on the resources: only read for the top
    /// kustomization's `buildMetadata: [transformerAnnotations]`, and a tree with a patch per
    /// object would record a patch count times the object count.
    pub records_transformations: bool,
}

/// Builds `dir` and returns the YAML kustomize would print.
pub fn build_to_yaml(dir: &Path, options: BuildOptions<'_>) -> Result<String> {
    let resources = build(dir, options)?;
    let documents: Vec<&Value> = resources.iter().map(|resource| &resource.object).collect();
    Ok(flotilla_core::write_documents(documents)?)
}

/// Builds `dir` into the final, ordered resources.
pub fn build(dir: &Path, options: BuildOptions<'_>) -> Result<ResMap> {
    let files = loader::CachedFileSystem::new(options.files());
    let options = BuildOptions {
        file_system: Some(&files),
        ..options
    };
    let mut builder = Builder {
        options,
        visiting: Vec::new(),
        schema: None,
        schema_generation: 0,
        built: std::collections::HashMap::new(),
        records_transformations: true,
    };
    let files = options.files();
    let dir = loader::canonicalize(files, dir)?;
    if !files.is_dir(&dir) {
        return Err(BuildError::MissingKustomization { dir });
    }
    let kustomization = load_kustomization(files, &dir)?;
    // A `buildMetadata` that cannot be read fails later, in `apply_build_metadata`.
    builder.records_transformations =
        kustomization
            .string_list("buildMetadata")
            .map_or(true, |options| {
                options
                    .iter()
                    .any(|option| option == "transformerAnnotations")
            });
    let mut accumulator = Accumulator {
        config: TransformerConfig::builtin_shared(),
        records_transformations: builder.records_transformations,
        ..Accumulator::default()
    };
    builder
        .accumulate_target(&kustomization, &mut accumulator)
        .map_err(|error| error.within(kustomization.path.clone()))?;
    // The copies of built bases are not needed any more: their memory serves what follows.
    drop(builder);
    let within = |error: BuildError| error.within(kustomization.path.clone());
    generators::add_hashes_to_names(&mut accumulator.resources).map_err(within)?;
    nameref::fix_name_references(&mut accumulator.resources, &accumulator.config)
        .map_err(within)?;
    vars::resolve_vars(&mut accumulator).map_err(within)?;
    // Objects marked local-config take part in the build (as var and replacement sources) but
    // are not output.
    accumulator.resources.resources.retain(|resource| {
        resource
            .object
            .get_path(&[
                "metadata",
                "annotations",
                "config.kubernetes.io/local-config",
            ])
            .and_then(Value::scalar_text)
            .is_none_or(|value| value != "true")
    });
    sort::apply_sort_options(&kustomization, &mut accumulator.resources).map_err(within)?;
    transformers::apply_build_metadata(&kustomization, &mut accumulator.resources)
        .map_err(within)?;
    for resource in accumulator.resources.iter_mut() {
        finish_resource(&mut resource.object).map_err(within)?;
    }
    Ok(accumulator.resources)
}

/// What kustomize does to every resource last: it re-sets `metadata.annotations` while
/// removing its build annotations (values become the strings they were written as; empty or
/// null annotations go), then prints the resource through JSON.
fn finish_resource(object: &mut Value) -> Result<()> {
    if let Some(Value::Sequence(items)) = object.get_path(&["metadata", "annotations"]) {
        if !items.is_empty() {
            // kyaml reads a sequence's items as key-value pairs, and kustomize crashes on it.
            return Err(BuildError::transform(format!(
                "`metadata.annotations` of {} `{}` is a list, not a map",
                object.get_str(&["kind"]).unwrap_or(""),
                object.get_str(&["metadata", "name"]).unwrap_or("")
            )));
        }
    }
    flotilla_patch::kustomize::restring_metadata_map(object, "annotations");
    flotilla_patch::kustomize::through_json(object);
    Ok(())
}

/// Reads the kustomization file in `dir`.
pub fn load_kustomization(files: &dyn FileSystem, dir: &Path) -> Result<Kustomization> {
    let path = loader::find_kustomization_file(files, dir)?;
    let text = loader::read_text(files, &path)?;
    Kustomization::parse(&path, &text)
}

struct Builder<'a> {
    options: BuildOptions<'a>,
    /// Kustomization directories being built, outermost first, to detect cycles.
    visiting: Vec<PathBuf>,
    /// The patch schema of the whole build: the top kustomization's `openapi:`, else the first
    /// one met in build order; later ones are ignored, as in kustomize. `None`: the builtin.
    schema: Option<crate::patches::Schema>,
    /// Counts the times `schema` was set (at most once), so a cached build knows the schema
    /// it was made with.
    schema_generation: u32,
    /// Directories already built as `resources:` entries, by real path, with the schema
    /// generation they were built under. kustomize builds a base again for every kustomization
    /// that includes it, with the same result: a tree whose overlays share bases builds each
    /// once and copies it.
    built: std::collections::HashMap<PathBuf, (Accumulator, u32)>,
    /// See `Accumulator::records_transformations`.
    records_transformations: bool,
}

impl Builder<'_> {
    fn accumulate_target(
        &mut self,
        kustomization: &Kustomization,
        accumulator: &mut Accumulator,
    ) -> Result<()> {
        let dir = kustomization.dir().to_path_buf();
        if self.visiting.contains(&dir) {
            return Err(BuildError::Cycle {
                chain: self
                    .visiting
                    .iter()
                    .map(|path| format!("`{}`", path.display()))
                    .collect::<Vec<_>>()
                    .join(" → "),
                dir,
            });
        }
        self.visiting.push(dir.clone());
        let result = self.accumulate_target_inner(kustomization, accumulator);
        self.visiting.pop();
        result
    }

    fn accumulate_target_inner(
        &mut self,
        kustomization: &Kustomization,
        accumulator: &mut Accumulator,
    ) -> Result<()> {
        if self.schema.is_none() && kustomization.has("openapi") {
            self.schema = Some(crate::patches::schema_for(kustomization, self.options)?);
            self.schema_generation += 1;
        }
        if kustomization.has("helmCharts") || kustomization.has("helmChartInflationGenerator") {
            return Err(BuildError::Unsupported {
                message: format!(
                    "`{}` uses helmCharts: helm is not enabled (kustomize needs --enable-helm and a helm binary; flotilla does not run helm)",
                    kustomization.path.display()
                ),
            });
        }
        let mut ids = IdIndex::of(&accumulator.resources);
        for entry in kustomization.resources()? {
            let added = self.accumulate_resource_entry(kustomization, &entry, accumulator)?;
            ids.admit(&added).map_err(|error| {
                BuildError::transform(format!("merging resources from `{entry}`: {error}"))
            })?;
            accumulator.resources.resources.extend(added.resources);
        }
        let mut config = TransformerConfig::default();
        for file in kustomization.string_list("configurations")? {
            let path = self.resolve_file(kustomization, &file)?;
            let text = loader::read_text(self.options.files(), &path)?;
            let document =
                flotilla_core::parse_single_document(&text).map_err(|source| BuildError::Yaml {
                    path: path.clone(),
                    error: source,
                })?;
            let loaded = TransformerConfig::from_value(&document)
                .map_err(|error| error.within(path.clone()))?;
            config.merge(&loaded)?;
        }
        // Name prefix and suffix specs from `configurations:` replace the defaults (which rename
        // every object) instead of adding to them, as in kustomize.
        if !config.name_prefix.is_empty() {
            Arc::make_mut(&mut accumulator.config).name_prefix.clear();
        }
        if !config.name_suffix.is_empty() {
            Arc::make_mut(&mut accumulator.config).name_suffix.clear();
        }
        TransformerConfig::merge_shared(&mut accumulator.config, &config)?;
        for file in kustomization.string_list("crds")? {
            let path = self.resolve_file(kustomization, &file)?;
            let crd_config = crate::crds::config_from_crd_file(self.options.files(), &path)?;
            TransformerConfig::merge_shared(&mut accumulator.config, &crd_config)?;
        }
        generators::run_generators(kustomization, self.options, accumulator)?;
        plugins::run_generator_plugins(kustomization, self.options, accumulator)?;
        for entry in kustomization.string_list("components")? {
            self.accumulate_component(kustomization, &entry, accumulator)?;
        }
        transformers::run_builtin_transformers(
            kustomization,
            self.options,
            self.schema.as_ref(),
            accumulator,
        )?;
        plugins::run_transformer_plugins(
            kustomization,
            self.options,
            self.schema.as_ref(),
            accumulator,
        )?;
        vars::merge_vars(kustomization, accumulator)?;
        Ok(())
    }

    fn resolve_file(&self, kustomization: &Kustomization, relative: &str) -> Result<PathBuf> {
        loader::resolve_restricted(
            self.options.files(),
            kustomization.dir(),
            relative,
            self.options.load_restrictor,
        )
    }

    /// A `resources:` entry: a file of manifests, a directory holding a kustomization, or a
    /// remote base. Returns the resources it adds (merging its configuration and vars into the
    /// accumulator); the caller checks their ids.
    fn accumulate_resource_entry(
        &mut self,
        kustomization: &Kustomization,
        entry: &str,
        accumulator: &mut Accumulator,
    ) -> Result<ResMap> {
        let context = |error: BuildError| {
            BuildError::transform(format!("accumulating resources from `{entry}`: {error}"))
        };
        if loader::is_remote(entry) {
            let Some(fetcher) = self.options.fetcher else {
                return Err(context(BuildError::Unsupported {
                    message: "remote resources need a fetcher (git); none is configured".into(),
                }));
            };
            let dir = fetcher
                .fetch(entry)
                .map_err(|message| context(BuildError::transform(message)))?;
            return self.accumulate_directory(&dir, accumulator, entry);
        }
        let lexical = loader::join_clean(kustomization.dir(), entry);
        let files = self.options.files();
        if files.is_dir(&lexical) {
            // Directories may sit outside the root (bases in ../), as in kustomize.
            let real = loader::canonicalize(files, &lexical)?;
            return self.accumulate_directory(&real, accumulator, entry);
        }
        let path = self.resolve_file(kustomization, entry).map_err(context)?;
        let mut loaded = load_resource_file(files, &path).map_err(context)?;
        for resource in &mut loaded {
            resource.origin = Some(crate::resource::Origin {
                path: path.display().to_string(),
                ..crate::resource::Origin::default()
            });
        }
        Ok(ResMap { resources: loaded })
    }

    fn accumulate_directory(
        &mut self,
        dir: &Path,
        accumulator: &mut Accumulator,
        entry: &str,
    ) -> Result<ResMap> {
        if let Some((built, generation)) = self.built.get(dir) {
            if *generation == self.schema_generation {
                let built = built.clone();
                return absorb_directory(built, accumulator);
            }
        }
        let sub = load_kustomization(self.options.files(), dir)?;
        if sub.kind == KustomizationKind::Component {
            return Err(sub.invalid(format!(
                "`{entry}` is a Component: components go under `components:`, not `resources:`"
            )));
        }
        let mut sub_accumulator = Accumulator {
            config: TransformerConfig::builtin_shared(),
            records_transformations: self.records_transformations,
            ..Accumulator::default()
        };
        let generation = self.schema_generation;
        self.accumulate_target(&sub, &mut sub_accumulator)
            .map_err(|error| error.within(sub.path.clone()))?;
        if generation == self.schema_generation {
            self.built
                .insert(dir.to_path_buf(), (sub_accumulator.clone(), generation));
        }
        absorb_directory(sub_accumulator, accumulator)
    }

    fn accumulate_component(
        &mut self,
        kustomization: &Kustomization,
        entry: &str,
        accumulator: &mut Accumulator,
    ) -> Result<()> {
        let lexical = loader::join_clean(kustomization.dir(), entry);
        let files = self.options.files();
        if !files.is_dir(&lexical) {
            if files.exists(&lexical) {
                return Err(kustomization.invalid(format!(
                    "component `{entry}` must be a directory holding a kustomization with kind Component"
                )));
            }
            return Err(kustomization.invalid(format!("component `{entry}` not found")));
        }
        let dir = loader::canonicalize(files, &lexical)?;
        let component = load_kustomization(files, &dir)?;
        if component.kind != KustomizationKind::Component {
            return Err(component.invalid(format!(
                "`{entry}` is listed under `components:` but is a Kustomization, not a Component"
            )));
        }
        self.accumulate_target(&component, accumulator)
            .map_err(|error| error.within(component.path.clone()))
    }
}

/// Takes a built sub-kustomization's configuration and vars into `accumulator`; returns its
/// resources.
fn absorb_directory(sub_accumulator: Accumulator, accumulator: &mut Accumulator) -> Result<ResMap> {
    TransformerConfig::merge_shared(&mut accumulator.config, &sub_accumulator.config)?;
    vars::absorb_vars(accumulator, sub_accumulator.vars)?;
    Ok(sub_accumulator.resources)
}

/// Reads a file of manifests: every non-empty document, with `List` kinds expanded.
pub fn load_resource_file(files: &dyn FileSystem, path: &Path) -> Result<Vec<Resource>> {
    let text = loader::read_text(files, path)?;
    let documents = flotilla_core::parse_documents(&text).map_err(|source| BuildError::Yaml {
        path: path.to_path_buf(),
        error: source,
    })?;
    resources_from_documents(documents, path)
}

/// Turns parsed documents into resources, checking each is an object with a kind and a name.
pub fn resources_from_documents(documents: Vec<Value>, path: &Path) -> Result<Vec<Resource>> {
    let mut resources = Vec::new();
    for document in documents {
        collect_resource(document, path, &mut resources)?;
    }
    Ok(resources)
}

fn collect_resource(document: Value, path: &Path, resources: &mut Vec<Resource>) -> Result<()> {
    let invalid = |message: String| BuildError::InvalidResource {
        path: path.to_path_buf(),
        message,
    };
    match document {
        Value::Null => Ok(()),
        Value::Mapping(mapping) if mapping.is_empty() => Ok(()),
        Value::Mapping(mapping) => {
            let kind = mapping
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if kind.ends_with("List") {
                if let Some(items) = mapping.get("items") {
                    let Value::Sequence(items) = items.clone() else {
                        return Err(invalid(format!("`items` of a {kind} must be a list")));
                    };
                    for item in items {
                        collect_resource(item, path, resources)?;
                    }
                    return Ok(());
                }
            }
            let object = Value::Mapping(mapping);
            if kind.is_empty() {
                return Err(invalid(format!(
                    "missing `kind` in object {}",
                    short_description(&object)
                )));
            }
            let name = object
                .get_path(&["metadata", "name"])
                .and_then(Value::scalar_text)
                .unwrap_or_default();
            if name.is_empty() && object.get_path(&["metadata", "generateName"]).is_none() {
                return Err(invalid(format!(
                    "missing metadata.name in object {}",
                    short_description(&object)
                )));
            }
            resources.push(Resource::new(object));
            Ok(())
        }
        other => Err(invalid(format!(
            "expected a YAML mapping (a Kubernetes object), found a {}",
            other.type_name()
        ))),
    }
}

fn short_description(object: &Value) -> String {
    format!(
        "apiVersion `{}`, kind `{}`",
        object.get_str(&["apiVersion"]).unwrap_or(""),
        object.get_str(&["kind"]).unwrap_or("")
    )
}
