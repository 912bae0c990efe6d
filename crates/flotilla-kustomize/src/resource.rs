//! Resources as the renderer tracks them: the manifest plus what kustomize remembers about it
//! (earlier names for name references, generator behaviour, origin), and the ordered `ResMap`.

use std::fmt;

use flotilla_core::{Mapping, Value};

use crate::error::{BuildError, Result};

/// Group, version and kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((group, version)) => (group.to_string(), version.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Gvk {
            group,
            version,
            kind: kind.to_string(),
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether `self`, used as a selector with empty fields meaning "any", matches `other`.
    pub fn selects(&self, other: &Gvk) -> bool {
        (self.group.is_empty() || self.group == other.group)
            && (self.version.is_empty() || self.version == other.version)
            && (self.kind.is_empty() || self.kind == other.kind)
    }

    /// kustomize's `Gvk.String()`: `Kind.version.group` with `[noVer]`/`[noGrp]` placeholders.
    pub fn kustomize_string(&self) -> String {
        let version = if self.version.is_empty() {
            "[noVer]"
        } else {
            &self.version
        };
        let group = if self.group.is_empty() {
            "[noGrp]"
        } else {
            &self.group
        };
        format!("{}.{}.{}", self.kind, version, group)
    }

    /// Whether kustomize treats this kind as cluster-scoped (its built-in list).
    pub fn is_cluster_scoped(&self) -> bool {
        crate::kinds::is_cluster_scoped(self)
    }
}

/// The identity of a resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResId {
    pub gvk: Gvk,
    pub name: String,
    pub namespace: String,
}

impl ResId {
    /// Equality as kustomize defines it: `""` and `default` namespaces are the same.
    pub fn same_as(&self, other: &ResId) -> bool {
        self.gvk == other.gvk
            && self.name == other.name
            && namespaces_equal(&self.namespace, &other.namespace)
    }

    /// The effective namespace: `default` for namespaced kinds without one, `""` for cluster kinds.
    pub fn effective_namespace(&self) -> &str {
        if self.gvk.is_cluster_scoped() {
            ""
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }
}

pub fn namespaces_equal(a: &str, b: &str) -> bool {
    let normalize = |ns: &str| {
        if ns.is_empty() {
            "default".to_string()
        } else {
            ns.to_string()
        }
    };
    normalize(a) == normalize(b)
}

impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let namespace = if self.namespace.is_empty() {
            "[noNs]"
        } else {
            &self.namespace
        };
        write!(
            f,
            "{}/{}.{}",
            self.gvk.kustomize_string(),
            self.name,
            namespace
        )
    }
}

/// How a generated ConfigMap or Secret combines with one of the same name from a base.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GeneratorBehavior {
    #[default]
    Create,
    Merge,
    Replace,
}

impl GeneratorBehavior {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "" | "create" => Some(GeneratorBehavior::Create),
            "merge" => Some(GeneratorBehavior::Merge),
            "replace" => Some(GeneratorBehavior::Replace),
            _ => None,
        }
    }
}

/// Where a resource came from, for `buildMetadata: [originAnnotations]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origin {
    pub path: String,
    pub repo: String,
    pub git_ref: String,
    pub configured_in: String,
    pub configured_by: Option<ConfiguredBy>,
}

/// The builtin plugin that generated or transformed a resource.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfiguredBy {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

impl Origin {
    /// An origin or transformation by a builtin plugin configured in `configured_in`.
    pub fn builtin(
        configured_in: &std::path::Path,
        kind: &str,
        name: &str,
        namespace: &str,
    ) -> Self {
        Origin {
            configured_in: configured_in.display().to_string(),
            configured_by: Some(ConfiguredBy {
                kind: kind.to_string(),
                name: name.to_string(),
                namespace: namespace.to_string(),
            }),
            ..Origin::default()
        }
    }
}

/// One resource in a build.
#[derive(Clone, Debug)]
pub struct Resource {
    pub object: Value,
    /// Ids this resource had before renames (oldest first), as kustomize's previous-names
    /// annotations record them.
    pub previous_ids: Vec<ResId>,
    /// Set for resources made by a ConfigMap/Secret generator.
    pub behavior: Option<GeneratorBehavior>,
    /// Whether the name gets a content hash suffix at the end of the build.
    pub needs_hash: bool,
    pub origin: Option<Origin>,
    /// Transformers that changed this resource, for `buildMetadata: [transformerAnnotations]`.
    pub transformations: Vec<Origin>,
    /// Names of vars that refer to this resource (for kustomize's ambiguity checks).
    pub referenced_by_var: Vec<String>,
    /// Name prefixes applied so far, in order, to tell apart copies of one base.
    pub prefixes: Vec<String>,
    /// Name suffixes applied so far, in order.
    pub suffixes: Vec<String>,
}

impl Resource {
    pub fn new(object: Value) -> Self {
        Resource {
            object,
            previous_ids: Vec::new(),
            behavior: None,
            needs_hash: false,
            origin: None,
            transformations: Vec::new(),
            referenced_by_var: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
        }
    }

    pub fn mapping(&self) -> &Mapping {
        self.object
            .as_mapping()
            .expect("resources are mappings (checked on load)")
    }

    pub fn mapping_mut(&mut self) -> &mut Mapping {
        self.object
            .as_mapping_mut()
            .expect("resources are mappings (checked on load)")
    }

    pub fn api_version(&self) -> &str {
        self.object.get_str(&["apiVersion"]).unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        self.object.get_str(&["kind"]).unwrap_or("")
    }

    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(self.api_version(), self.kind())
    }

    pub fn name(&self) -> &str {
        self.object.get_str(&["metadata", "name"]).unwrap_or("")
    }

    pub fn namespace(&self) -> &str {
        self.object
            .get_str(&["metadata", "namespace"])
            .unwrap_or("")
    }

    pub fn current_id(&self) -> ResId {
        ResId {
            gvk: self.gvk(),
            name: self.name().to_string(),
            namespace: self.namespace().to_string(),
        }
    }

    /// The id the resource had when first loaded.
    pub fn original_id(&self) -> ResId {
        self.previous_ids
            .first()
            .cloned()
            .unwrap_or_else(|| self.current_id())
    }

    /// Every id the resource has had, current last.
    pub fn all_ids(&self) -> Vec<ResId> {
        let mut ids = self.previous_ids.clone();
        ids.push(self.current_id());
        ids
    }

    /// Records the current id before a rename.
    pub fn remember_id(&mut self) {
        let current = self.current_id();
        self.previous_ids.push(current);
    }

    pub fn metadata_mut(&mut self) -> &mut Mapping {
        let metadata = self
            .mapping_mut()
            .entry_or_insert_with("metadata", || Value::Mapping(Mapping::new()));
        if !matches!(metadata, Value::Mapping(_)) {
            *metadata = Value::Mapping(Mapping::new());
        }
        metadata.as_mapping_mut().expect("just made a mapping")
    }

    pub fn set_name(&mut self, name: &str) {
        self.metadata_mut().insert("name", Value::string(name));
    }

    pub fn set_namespace(&mut self, namespace: &str) {
        self.metadata_mut()
            .insert("namespace", Value::string(namespace));
    }

    pub fn labels(&self) -> Vec<(String, String)> {
        string_pairs(self.object.get_path(&["metadata", "labels"]))
    }

    pub fn annotations(&self) -> Vec<(String, String)> {
        string_pairs(self.object.get_path(&["metadata", "annotations"]))
    }
}

fn string_pairs(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_mapping)
        .map(|mapping| {
            mapping
                .iter()
                .map(|(key, value)| (key.clone(), value.scalar_text().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// Resources in build order.
#[derive(Clone, Debug, Default)]
pub struct ResMap {
    pub resources: Vec<Resource>,
}

impl ResMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Resource> {
        self.resources.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Resource> {
        self.resources.iter_mut()
    }

    /// Appends a resource; an id already present is an error, as in kustomize.
    pub fn append(&mut self, resource: Resource) -> Result<()> {
        let id = resource.current_id();
        if self
            .resources
            .iter()
            .any(|existing| existing.current_id().same_as(&id))
        {
            return Err(BuildError::transform(format!(
                "may not add resource with an already registered id: {id}"
            )));
        }
        self.resources.push(resource);
        Ok(())
    }

    /// Appends every resource of `other`; an id already present (or repeated in `other`) is an
    /// error. Linear in the sizes of both maps.
    pub fn append_all(&mut self, other: ResMap) -> Result<()> {
        IdIndex::of(self).admit(&other)?;
        self.resources.extend(other.resources);
        Ok(())
    }

    /// Indexes of resources that have, or once had, `id` (kustomize's
    /// `GetMatchingResourcesByAnyId`). Compares names first, without allocating.
    pub fn find_by_any_id(&self, id: &ResId) -> Vec<usize> {
        self.resources
            .iter()
            .enumerate()
            .filter(|(_, resource)| {
                resource.name() == id.name
                    || resource
                        .previous_ids
                        .iter()
                        .any(|previous| previous.name == id.name)
            })
            .filter(|(_, resource)| {
                resource
                    .all_ids()
                    .iter()
                    .any(|existing| existing.same_as(id))
            })
            .map(|(index, _)| index)
            .collect()
    }

    /// Indexes of resources whose current id matches.
    pub fn find_current(&self, id: &ResId) -> Vec<usize> {
        self.resources
            .iter()
            .enumerate()
            .filter(|(_, resource)| resource.current_id().same_as(id))
            .map(|(index, _)| index)
            .collect()
    }
}

/// The current ids of a growing set of resources, for kustomize's "already registered id"
/// check in linear time while a kustomization's resources accumulate.
pub struct IdIndex {
    seen: std::collections::HashSet<(Gvk, String, String)>,
}

impl IdIndex {
    fn key(resource: &Resource) -> (Gvk, String, String) {
        let namespace = match resource.namespace() {
            "" => "default".to_string(),
            other => other.to_string(),
        };
        (resource.gvk(), resource.name().to_string(), namespace)
    }

    pub fn of(resources: &ResMap) -> Self {
        IdIndex {
            seen: resources.iter().map(Self::key).collect(),
        }
    }

    /// Records the ids of `incoming`; fails on the first one already recorded.
    pub fn admit(&mut self, incoming: &ResMap) -> Result<()> {
        for resource in incoming.iter() {
            if !self.seen.insert(Self::key(resource)) {
                return Err(BuildError::transform(format!(
                    "may not add resource with an already registered id: {}",
                    resource.current_id()
                )));
            }
        }
        Ok(())
    }
}
