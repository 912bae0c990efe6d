//! Resources as the renderer tracks them: the manifest plus what kustomize remembers about it
//! (earlier names for name references, generator behaviour, origin), and the ordered `ResMap`.

use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

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
    fn normalize(namespace: &str) -> &str {
        if namespace.is_empty() {
            "default"
        } else {
            namespace
        }
    }
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

/// The builtin transformers that ran over a resource, in order.
///
/// Every transformer that runs is recorded on every resource present (a tree with a patch per
/// service records each patch on every object), so one record is shared by all the resources it
/// was made for, and a run of equal records is kept once with its count.
#[derive(Clone, Debug, Default)]
pub struct Transformations {
    runs: Vec<(Arc<Origin>, usize)>,
}

impl Transformations {
    /// Records `origin` after the others.
    pub fn push(&mut self, origin: &Arc<Origin>) {
        match self.runs.last_mut() {
            Some((last, count)) if Arc::ptr_eq(last, origin) || **last == **origin => *count += 1,
            _ => self.runs.push((Arc::clone(origin), 1)),
        }
    }

    /// Records `origin` on every resource of `resources`, comparing it with each distinct
    /// last record once rather than once per resource.
    pub fn push_to_all(resources: &mut [Resource], origin: Origin) {
        let origin = Arc::new(origin);
        // Last records already compared with `origin`, by address (alive during the loop).
        let mut compared: Vec<(*const Origin, bool)> = Vec::new();
        for resource in resources {
            let runs = &mut resource.transformations.runs;
            let same = match runs.last() {
                Some((last, _)) => {
                    let address = Arc::as_ptr(last);
                    match compared.iter().find(|(seen, _)| *seen == address) {
                        Some((_, same)) => *same,
                        None => {
                            let same = **last == *origin;
                            compared.push((address, same));
                            same
                        }
                    }
                }
                None => false,
            };
            match runs.last_mut() {
                Some((_, count)) if same => *count += 1,
                _ => runs.push((Arc::clone(&origin), 1)),
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Every record, in order, repeated ones as often as they ran.
    pub fn iter(&self) -> impl Iterator<Item = &Origin> {
        self.runs
            .iter()
            .flat_map(|(origin, count)| std::iter::repeat_n(&**origin, *count))
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
    pub transformations: Transformations,
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
            transformations: Transformations::default(),
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

    /// The group of the apiVersion (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version()
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// Whether kustomize treats the resource's kind as cluster-scoped; `gvk().is_cluster_scoped()`
    /// without building the gvk.
    pub fn is_cluster_scoped(&self) -> bool {
        crate::kinds::is_cluster_scoped_kind(self.group(), self.kind())
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

    /// Whether the resource has or once had `id`. Compares names first, without allocating.
    pub fn had_id(&self, id: &ResId) -> bool {
        let named = self.name() == id.name
            || self
                .previous_ids
                .iter()
                .any(|previous| previous.name == id.name);
        named && self.all_ids().iter().any(|existing| existing.same_as(id))
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

    /// The resource's group, version, kind and name with `namespace` as one text, each part
    /// after its length so that no two ids read the same: a cheap key for sets of ids.
    pub(crate) fn id_key(&self, namespace: &str) -> String {
        let api_version = self.api_version();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let parts = [group, version, self.kind(), self.name(), namespace];
        let mut key = String::with_capacity(parts.iter().map(|part| part.len() + 4).sum());
        for part in parts {
            let _ = write!(key, "{}:", part.len());
            key.push_str(part);
        }
        key
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
            .filter(|(_, resource)| resource.had_id(id))
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

/// Which resources have, or once had, each name, so that a kustomization's patches and
/// generators find their targets without a scan of every resource each (which made a tree with
/// a patch per service quadratic).
///
/// The index may hold more than the truth, never less: entries are only added, and each lookup
/// checks its candidates. Resources appended to the map are indexed on the next lookup; whoever
/// changes a resource's name in place says so (`changed`), and whoever removes one (indexes
/// shift) calls `invalidate`.
#[derive(Debug, Default)]
pub struct NameIndex {
    by_name: std::collections::HashMap<String, Vec<usize>>,
    /// Resources `0..indexed` are in the index.
    indexed: usize,
}

impl NameIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything; the next lookup indexes the map again.
    pub fn invalidate(&mut self) {
        self.by_name.clear();
        self.indexed = 0;
    }

    /// Records the names `resource`, now at `index`, has or had.
    pub fn changed(&mut self, index: usize, resource: &Resource) {
        if index < self.indexed {
            self.add(index, resource);
        }
    }

    fn add(&mut self, index: usize, resource: &Resource) {
        let names = std::iter::once(resource.name())
            .chain(resource.previous_ids.iter().map(|id| id.name.as_str()));
        for name in names {
            let slot = self.by_name.entry(name.to_string()).or_default();
            if !slot.contains(&index) {
                slot.push(index);
            }
        }
    }

    fn refresh(&mut self, resources: &ResMap) {
        if self.indexed > resources.len() {
            self.invalidate();
        }
        for index in self.indexed..resources.len() {
            self.add(index, &resources.resources[index]);
        }
        self.indexed = resources.len();
    }

    /// Indexes of resources that have or once had `name` (some may not any more), in order.
    pub fn candidates(&mut self, resources: &ResMap, name: &str) -> Vec<usize> {
        self.refresh(resources);
        let mut candidates = self.by_name.get(name).cloned().unwrap_or_default();
        candidates.sort_unstable();
        candidates
    }

    /// `ResMap::find_by_any_id`, through the index.
    pub fn find_by_any_id(&mut self, resources: &ResMap, id: &ResId) -> Vec<usize> {
        self.candidates(resources, &id.name)
            .into_iter()
            .filter(|index| resources.resources[*index].had_id(id))
            .collect()
    }

    /// `ResMap::append`, through the index: an id already present is an error.
    pub fn append(&mut self, resources: &mut ResMap, resource: Resource) -> Result<()> {
        let id = resource.current_id();
        let taken = self
            .candidates(resources, &id.name)
            .into_iter()
            .any(|index| resources.resources[index].current_id().same_as(&id));
        if taken {
            return Err(BuildError::transform(format!(
                "may not add resource with an already registered id: {id}"
            )));
        }
        resources.resources.push(resource);
        Ok(())
    }
}

/// The current ids of a growing set of resources, for kustomize's "already registered id"
/// check in linear time while a kustomization's resources accumulate.
pub struct IdIndex {
    /// Each id as one text: group, version, kind, name and namespace (`default` for none),
    /// each after its length, so no two ids read the same; one allocation per resource.
    seen: std::collections::HashSet<String>,
}

impl IdIndex {
    fn key(resource: &Resource) -> String {
        let namespace = match resource.namespace() {
            "" => "default",
            other => other,
        };
        resource.id_key(namespace)
    }

    pub fn of(resources: &ResMap) -> Self {
        IdIndex {
            seen: resources.iter().map(Self::key).collect(),
        }
    }

    /// Records the ids of `incoming`; fails on the first one already recorded.
    pub fn admit(&mut self, incoming: &ResMap) -> Result<()> {
        self.seen.reserve(incoming.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(kind: &str, name: &str) -> Resource {
        let text = format!("apiVersion: v1\nkind: {kind}\nmetadata:\n  name: {name}\n");
        Resource::new(flotilla_core::parse_single_document(&text).expect("yaml"))
    }

    fn id(kind: &str, name: &str) -> ResId {
        ResId {
            gvk: Gvk::from_api_version("v1", kind),
            name: name.to_string(),
            namespace: String::new(),
        }
    }

    #[test]
    fn the_name_index_finds_what_a_scan_finds_through_renames_and_removals() {
        let mut resources = ResMap {
            resources: vec![
                resource("ConfigMap", "a"),
                resource("Secret", "a"),
                resource("ConfigMap", "b"),
            ],
        };
        let mut names = NameIndex::new();
        let check = |names: &mut NameIndex, resources: &ResMap, kind: &str, name: &str| {
            let wanted = id(kind, name);
            assert_eq!(
                names.find_by_any_id(resources, &wanted),
                resources.find_by_any_id(&wanted),
                "{kind} {name}"
            );
        };
        check(&mut names, &resources, "ConfigMap", "a");
        // A rename in place, said to the index: found by its new and its old name.
        resources.resources[0].remember_id();
        resources.resources[0].set_name("renamed");
        names.changed(0, &resources.resources[0]);
        check(&mut names, &resources, "ConfigMap", "renamed");
        check(&mut names, &resources, "ConfigMap", "a");
        // An appended resource is indexed on the next lookup.
        resources.resources.push(resource("ConfigMap", "c"));
        check(&mut names, &resources, "ConfigMap", "c");
        assert!(names
            .append(&mut resources, resource("ConfigMap", "c"))
            .is_err());
        // A removal shifts indexes: the index starts again.
        resources.resources.remove(1);
        names.invalidate();
        for name in ["a", "b", "c", "renamed"] {
            check(&mut names, &resources, "ConfigMap", name);
            check(&mut names, &resources, "Secret", name);
        }
    }
}
