//! Facts about products, kept as data and read once: the operator catalog OLM would serve
//! (packages, channels, CSVs and their `replaces` chains, install modes, the CRDs each operator
//! owns with OpenAPI v3 schemas, the operand versions each operator version supports), the
//! catalog sources an OpenShift cluster knows (recognised by image), and the OpenShift APIs that
//! are not CRDs on a real cluster (Route, Project, ...), and product licences (`licence.rs`: the
//! versions and uses each licence id covers).
//!
//! Every file under `data/` is embedded at build time (`build.rs`): `data/sources.yaml`,
//! `data/packages/<package>.yaml` (one per package), `data/schemas/**.yaml` (schemas shared by
//! several CRDs, referenced by `schemaRef`), `data/openshift/*.yaml`, `data/licences/<product>.yaml`
//! (one per product, named by its package). Each file names its source
//! and the date its facts were checked; `data/README.md` describes the format.
//!
//! Invariants: the crate is pure (no I/O after the embedded text, no clock); [`Catalog::load`]
//! checks every cross-reference (a channel's entries, `replaces`, `schemaRef`, the default
//! channel, the catalog source) so a loaded catalog never answers with a dangling name; the
//! embedded catalog is checked by this crate's tests, so [`Catalog::embedded`] cannot fail at
//! run time.

mod licence;
mod olm;
mod version;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use licence::{Licence, LicenceVersions, ProductLicences};
pub use olm::{
    cluster_service_version, custom_resource_definitions, package_manifest, CSV_GROUP_VERSION,
};
pub use version::{compare_versions, version_in_range};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// Why the catalog data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog file `{file}` is not valid YAML")]
    Yaml {
        file: String,
        #[source]
        source: flotilla_core::yaml_read::YamlError,
    },
    #[error("catalog file `{file}` does not match the catalog format: {message}")]
    Format { file: String, message: String },
    #[error("catalog file `{file}`: {message}")]
    Reference { file: String, message: String },
}

/// A catalog source OpenShift knows, recognised by the image a `CatalogSource` names.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogSourceInfo {
    /// The name a cluster gives it (`redhat-operators`, `ibm-operator-catalog`).
    pub name: String,
    pub display_name: String,
    pub publisher: String,
    /// The namespace a cluster has it in.
    pub namespace: String,
    /// The image without tag or digest (`icr.io/cpopen/ibm-operator-catalog`); an image whose
    /// repository is one of these (any tag) is this source.
    pub images: Vec<String>,
    /// Whether a fresh OpenShift cluster has it (the four default sources).
    #[serde(default)]
    pub default: bool,
}

/// How an operator may watch namespaces (a CSV's `spec.installModes`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub enum InstallModeType {
    OwnNamespace,
    SingleNamespace,
    MultiNamespace,
    AllNamespaces,
}

/// One CSV of a channel.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelEntry {
    /// The operator version (semantic version).
    pub version: String,
    /// The CSV name; `<csvPrefix>.v<version>` when absent.
    #[serde(default)]
    pub csv: Option<String>,
    /// The CSV this one replaces; the entry before it in the channel when absent (none for the
    /// first).
    #[serde(default)]
    pub replaces: Option<String>,
    /// `olm.skipRange`: versions this CSV upgrades from directly.
    #[serde(default)]
    pub skip_range: Option<String>,
}

/// A channel: its entries, oldest first.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Channel {
    pub name: String,
    pub entries: Vec<ChannelEntry>,
}

/// Which versions of an operand an operator version range supports, as the product documents.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperandSupport {
    /// Operator versions, as a range (`>=3.0.0 <3.1.0`).
    pub operator_versions: String,
    /// The operand kind (`EventStreams`, `Kafka`, `QueueManager`).
    pub kind: String,
    /// The field holding the operand version (`spec.kafka.version`).
    pub field: String,
    pub versions: Vec<String>,
    /// Anything else the product says of this support (licences, defaults).
    #[serde(default)]
    pub note: Option<String>,
}

/// A CRD an operator owns: the `spec` of a `CustomResourceDefinition`, with two additions.
/// `since`/`until` (on the CRD or on one of its versions) limit it to operator versions, and a
/// version's `schemaRef` names a file under `data/schemas/` holding its `openAPIV3Schema`.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedCrd {
    /// The CRD spec, `schemaRef`s resolved and `since`/`until` removed.
    pub spec: Value,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Per version name: (since, until).
    pub version_ranges: BTreeMap<String, (Option<String>, Option<String>)>,
    /// The `status.phase` the operator writes when an operand is ready (`Running` for a
    /// QueueManager), when it reports one (`readyPhase` in the data).
    pub ready_phase: Option<String>,
}

impl OwnedCrd {
    pub fn group(&self) -> &str {
        self.spec["group"].as_str().unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.spec["names"]["kind"].as_str().unwrap_or_default()
    }

    pub fn plural(&self) -> &str {
        self.spec["names"]["plural"].as_str().unwrap_or_default()
    }

    /// `<plural>.<group>`, the CRD's object name.
    pub fn name(&self) -> String {
        format!("{}.{}", self.plural(), self.group())
    }

    /// Whether operator `version` ships this CRD.
    pub fn in_operator_version(&self, version: &str) -> bool {
        within(version, self.since.as_deref(), self.until.as_deref())
    }

    /// The entries of `spec.versions` operator `version` ships.
    pub fn versions_for<'a>(&'a self, version: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.spec["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(move |entry| {
                let name = entry["name"].as_str().unwrap_or_default();
                self.version_ranges.get(name).is_none_or(|(since, until)| {
                    within(version, since.as_deref(), until.as_deref())
                })
            })
    }

    /// The CRD spec as operator `version` ships it: versions outside their range left out.
    pub fn spec_for(&self, version: &str) -> Value {
        let mut spec = self.spec.clone();
        if let Some(versions) = spec.get_mut("versions").and_then(Value::as_array_mut) {
            versions.retain(|entry| {
                let name = entry["name"].as_str().unwrap_or_default();
                self.version_ranges.get(name).is_none_or(|(since, until)| {
                    within(version, since.as_deref(), until.as_deref())
                })
            });
        }
        spec
    }
}

fn within(version: &str, since: Option<&str>, until: Option<&str>) -> bool {
    since.is_none_or(|since| compare_versions(version, since).is_ge())
        && until.is_none_or(|until| compare_versions(version, until).is_lt())
}

/// One operator package.
#[derive(Clone, Debug, PartialEq)]
pub struct Package {
    pub name: String,
    pub display_name: String,
    pub provider: String,
    /// The catalog source it ships in.
    pub catalog_source: String,
    pub default_channel: String,
    pub csv_prefix: String,
    /// The operator's Deployment, as its CSV installs it.
    pub operator_deployment: String,
    pub install_modes: BTreeMap<InstallModeType, bool>,
    pub channels: Vec<Channel>,
    pub crds: Vec<OwnedCrd>,
    pub operands: Vec<OperandSupport>,
    /// Where the facts come from, and when they were checked.
    pub sources: Vec<String>,
    pub checked: String,
    pub description: String,
}

/// A CSV of a channel, resolved: its name, version, what it replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvRef {
    pub name: String,
    pub version: String,
    pub replaces: Option<String>,
    pub skip_range: Option<String>,
}

impl Package {
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|channel| channel.name == name)
    }

    fn csv_name(&self, entry: &ChannelEntry) -> String {
        entry
            .csv
            .clone()
            .unwrap_or_else(|| format!("{}.v{}", self.csv_prefix, entry.version))
    }

    /// What the first entry of `channel` replaces when the data does not say: the newest CSV of
    /// another channel older than it, as these catalogs chain their version channels (the
    /// first 3.1.0 of `v3.1` replaces the last 3.0.x of `v3.0`).
    fn previous_channel_head(&self, channel: &Channel, first: &ChannelEntry) -> Option<String> {
        self.channels
            .iter()
            .filter(|other| other.name != channel.name)
            .flat_map(|other| other.entries.iter())
            .filter(|entry| compare_versions(&entry.version, &first.version).is_lt())
            .max_by(|left, right| compare_versions(&left.version, &right.version))
            .map(|entry| self.csv_name(entry))
    }

    /// The channel's CSVs, oldest first, with names and `replaces` filled in.
    pub fn csvs(&self, channel: &Channel) -> Vec<CsvRef> {
        let mut previous: Option<String> = channel
            .entries
            .first()
            .and_then(|first| self.previous_channel_head(channel, first));
        channel
            .entries
            .iter()
            .map(|entry| {
                let name = self.csv_name(entry);
                let replaces = entry.replaces.clone().or_else(|| previous.clone());
                previous = Some(name.clone());
                CsvRef {
                    name,
                    version: entry.version.clone(),
                    replaces,
                    skip_range: entry.skip_range.clone(),
                }
            })
            .collect()
    }

    /// The channel's head: the CSV nothing in the channel replaces.
    pub fn head(&self, channel: &Channel) -> Option<CsvRef> {
        self.csvs(channel).pop()
    }

    /// A CSV of any channel by name.
    pub fn find_csv(&self, name: &str) -> Option<CsvRef> {
        self.channels
            .iter()
            .flat_map(|channel| self.csvs(channel))
            .find(|csv| csv.name == name)
    }

    /// The next CSV after `installed` in `channel`, as OLM upgrades: the CSV that replaces it,
    /// or whose skip range covers its version; `None` when `installed` is the head or unrelated
    /// to the channel and not covered by any skip range.
    pub fn next_in_channel(&self, channel: &Channel, installed: &CsvRef) -> Option<CsvRef> {
        let csvs = self.csvs(channel);
        // The newest CSV that skips over the installed version wins, as OLM prefers it.
        if let Some(skipping) = csvs.iter().rev().find(|csv| {
            csv.name != installed.name
                && csv
                    .skip_range
                    .as_deref()
                    .is_some_and(|range| version_in_range(&installed.version, range))
        }) {
            if compare_versions(&skipping.version, &installed.version).is_gt() {
                return Some(skipping.clone());
            }
        }
        csvs.into_iter()
            .find(|csv| csv.replaces.as_deref() == Some(installed.name.as_str()))
    }

    /// The CRDs operator `version` owns, as CRD specs.
    pub fn crds_for(&self, version: &str) -> Vec<&OwnedCrd> {
        self.crds
            .iter()
            .filter(|crd| crd.in_operator_version(version))
            .collect()
    }

    /// The operand support rows that apply to operator `version`.
    pub fn operands_for(&self, version: &str) -> Vec<&OperandSupport> {
        self.operands
            .iter()
            .filter(|support| version_in_range(version, &support.operator_versions))
            .collect()
    }

    pub fn supports(&self, mode: InstallModeType) -> bool {
        self.install_modes.get(&mode).copied().unwrap_or(false)
    }
}

/// The whole catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct Catalog {
    pub sources: Vec<CatalogSourceInfo>,
    pub packages: Vec<Package>,
    /// The OpenShift APIs served without an operator: CRD-shaped definitions.
    pub openshift_apis: Vec<OwnedCrd>,
    /// The CRDs a fresh OpenShift cluster has before any operator is installed (OLM's own).
    pub openshift_crds: Vec<OwnedCrd>,
    /// Product licences (`data/licences/<product>.yaml`), by product.
    pub licences: Vec<ProductLicences>,
}

impl Catalog {
    /// The catalog embedded in this binary.
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::load_embedded()
                .expect("the embedded catalog is checked by flotilla-catalog's tests")
        })
    }

    /// Reads a catalog from (path relative to `data/`, YAML text) pairs.
    pub fn load(files: &[(&str, &str)]) -> Result<Catalog, CatalogError> {
        let documents = files
            .iter()
            .map(|(path, text)| Ok((path.to_string(), parse_yaml(path, text)?)))
            .collect::<Result<Vec<_>, CatalogError>>()?;
        Catalog::from_documents(&documents)
    }

    /// The embedded files, which `build.rs` turned into JSON.
    fn load_embedded() -> Result<Catalog, CatalogError> {
        let documents = EMBEDDED_FILES
            .iter()
            .map(|(path, json)| {
                serde_json::from_str(json)
                    .map(|document| (path.to_string(), document))
                    .map_err(|error| CatalogError::Format {
                        file: path.to_string(),
                        message: error.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        Catalog::from_documents(&documents)
    }

    /// Reads a catalog from (path relative to `data/`, parsed document) pairs.
    pub fn from_documents(files: &[(String, Value)]) -> Result<Catalog, CatalogError> {
        let mut schemas = BTreeMap::new();
        for (path, document) in files {
            if let Some(name) = path.strip_prefix("schemas/") {
                schemas.insert(name.trim_end_matches(".yaml").to_string(), document.clone());
            }
        }
        let mut sources = Vec::new();
        let mut packages = Vec::new();
        let mut openshift_apis = Vec::new();
        let mut openshift_crds = Vec::new();
        let mut licences = Vec::new();
        for (path, document) in files {
            let path = path.as_str();
            if path == "sources.yaml" {
                sources = from_value(path, document["sources"].clone())?;
            } else if path.starts_with("packages/") {
                packages.push(load_package(path, document.clone(), &schemas)?);
            } else if path.starts_with("licences/") {
                licences.push(licence::load_licences(path, document.clone())?);
            } else if path.starts_with("openshift/") {
                for definition in document["apis"].as_array().cloned().unwrap_or_default() {
                    openshift_apis.push(owned_crd(path, definition, &schemas)?);
                }
                for definition in document["crds"].as_array().cloned().unwrap_or_default() {
                    openshift_crds.push(owned_crd(path, definition, &schemas)?);
                }
            }
        }
        packages.sort_by(|left, right| left.name.cmp(&right.name));
        licences.sort_by(|left: &ProductLicences, right| left.product.cmp(&right.product));
        let catalog = Catalog {
            sources,
            packages,
            openshift_apis,
            openshift_crds,
            licences,
        };
        catalog.check()?;
        Ok(catalog)
    }

    fn check(&self) -> Result<(), CatalogError> {
        for package in &self.packages {
            let file = format!("packages/{}.yaml", package.name);
            let fail = |message: String| CatalogError::Reference {
                file: file.clone(),
                message,
            };
            if self.source(&package.catalog_source).is_none() {
                return Err(fail(format!(
                    "catalog source `{}` is not in sources.yaml",
                    package.catalog_source
                )));
            }
            if package.channel(&package.default_channel).is_none() {
                return Err(fail(format!(
                    "default channel `{}` is not a channel",
                    package.default_channel
                )));
            }
            // Every CSV name any channel lists, once (looking each `replaces` up with
            // `find_csv` would list every channel again for each CSV).
            let listed: std::collections::HashSet<String> = package
                .channels
                .iter()
                .flat_map(|channel| package.csvs(channel))
                .map(|csv| csv.name)
                .collect();
            for channel in &package.channels {
                if channel.entries.is_empty() {
                    return Err(fail(format!("channel `{}` has no entries", channel.name)));
                }
                for csv in package.csvs(channel) {
                    if let Some(replaced) = &csv.replaces {
                        if !listed.contains(replaced) {
                            return Err(fail(format!(
                                "`{}` replaces `{replaced}`, which no channel lists",
                                csv.name
                            )));
                        }
                    }
                }
            }
            // Every operator version ships CRDs a server accepts: one storage version each.
            for channel in &package.channels {
                for csv in package.csvs(channel) {
                    for crd in package.crds_for(&csv.version) {
                        let versions: Vec<&Value> = crd.versions_for(&csv.version).collect();
                        let storage = versions
                            .iter()
                            .filter(|version| version["storage"] == true)
                            .count();
                        if versions.is_empty() || storage != 1 {
                            return Err(fail(format!(
                                "CRD `{}` as `{}` ships it has {} versions and {storage} storage versions (one storage version is required)",
                                crd.name(),
                                csv.name,
                                versions.len()
                            )));
                        }
                    }
                }
            }
            let mut names = std::collections::BTreeSet::new();
            for crd in &package.crds {
                if !names.insert(crd.name()) {
                    return Err(fail(format!("CRD `{}` is listed twice", crd.name())));
                }
            }
        }
        // Licences are of a package the catalog knows, for a kind that package owns.
        for product in &self.licences {
            let fail = |message: String| CatalogError::Reference {
                file: format!("licences/{}.yaml", product.product),
                message,
            };
            let Some(package) = self.package(&product.product) else {
                return Err(fail(format!(
                    "product `{}` is not a package under packages/",
                    product.product
                )));
            };
            if !package
                .crds
                .iter()
                .any(|crd| crd.group() == product.group && crd.kind() == product.kind)
            {
                return Err(fail(format!(
                    "package `{}` owns no `{}` of group `{}`",
                    product.product, product.kind, product.group
                )));
            }
        }
        Ok(())
    }

    /// The licences of one product (`ibm-mq`).
    pub fn licences_of(&self, product: &str) -> Option<&ProductLicences> {
        self.licences
            .iter()
            .find(|licences| licences.product == product)
    }

    /// The licences that apply to operands of `group`/`kind`.
    pub fn licences_for_kind(&self, group: &str, kind: &str) -> Option<&ProductLicences> {
        self.licences
            .iter()
            .find(|licences| licences.group == group && licences.kind == kind)
    }

    /// One licence of one product by id.
    pub fn licence(&self, product: &str, id: &str) -> Option<&Licence> {
        self.licences_of(product)
            .and_then(|licences| licences.licences.iter().find(|licence| licence.id == id))
    }

    pub fn source(&self, name: &str) -> Option<&CatalogSourceInfo> {
        self.sources.iter().find(|source| source.name == name)
    }

    /// The catalog source an image belongs to (`icr.io/cpopen/ibm-operator-catalog:latest`).
    pub fn source_for_image(&self, image: &str) -> Option<&CatalogSourceInfo> {
        let repository = image_repository(image);
        self.sources
            .iter()
            .find(|source| source.images.iter().any(|known| known == repository))
    }

    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|package| package.name == name)
    }

    /// The packages a catalog source (by its well-known name) serves.
    pub fn packages_in<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a Package> {
        self.packages
            .iter()
            .filter(move |package| package.catalog_source == source)
    }

    /// The `status.phase` an operator writes when an operand of `group`/`kind` is ready, where
    /// the catalog says it reports one.
    pub fn ready_phase(&self, group: &str, kind: &str) -> Option<&str> {
        self.packages
            .iter()
            .flat_map(|package| package.crds.iter())
            .find(|crd| crd.group() == group && crd.kind() == kind && crd.ready_phase.is_some())
            .and_then(|crd| crd.ready_phase.as_deref())
    }

    /// The package owning a CRD group and kind, with the CRD.
    pub fn owner_of(&self, group: &str, kind: &str) -> Vec<(&Package, &OwnedCrd)> {
        self.packages
            .iter()
            .flat_map(|package| package.crds.iter().map(move |crd| (package, crd)))
            .filter(|(_, crd)| crd.group() == group && crd.kind() == kind)
            .collect()
    }
}

/// An image reference without its tag or digest.
pub fn image_repository(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rfind(':') {
        // A colon after the last slash is a tag; before it, a registry port.
        Some(colon) if !without_digest[colon..].contains('/') => &without_digest[..colon],
        _ => without_digest,
    }
}

fn parse_yaml(file: &str, text: &str) -> Result<Value, CatalogError> {
    let document = flotilla_core::yaml_read::parse_single_document(text).map_err(|source| {
        CatalogError::Yaml {
            file: file.to_string(),
            source,
        }
    })?;
    Ok(flotilla_core::json::to_json(&document))
}

fn from_value<T: serde::de::DeserializeOwned>(file: &str, value: Value) -> Result<T, CatalogError> {
    serde_json::from_value(value).map_err(|error| CatalogError::Format {
        file: file.to_string(),
        message: error.to_string(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PackageFile {
    package: String,
    display_name: String,
    provider: String,
    catalog_source: String,
    default_channel: String,
    #[serde(default)]
    csv_prefix: Option<String>,
    #[serde(default)]
    operator_deployment: Option<String>,
    install_modes: BTreeMap<InstallModeType, bool>,
    channels: Vec<Channel>,
    #[serde(default)]
    crds: Vec<Value>,
    #[serde(default)]
    operands: Vec<OperandSupport>,
    sources: Vec<String>,
    checked: String,
    #[serde(default)]
    description: String,
}

fn load_package(
    file: &str,
    document: Value,
    schemas: &BTreeMap<String, Value>,
) -> Result<Package, CatalogError> {
    let parsed: PackageFile = from_value(file, document)?;
    let expected_file = format!("packages/{}.yaml", parsed.package);
    if file != expected_file {
        return Err(CatalogError::Reference {
            file: file.to_string(),
            message: format!("package `{}` belongs in `{expected_file}`", parsed.package),
        });
    }
    let crds = parsed
        .crds
        .into_iter()
        .map(|definition| owned_crd(file, definition, schemas))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Package {
        csv_prefix: parsed.csv_prefix.unwrap_or_else(|| parsed.package.clone()),
        operator_deployment: parsed
            .operator_deployment
            .unwrap_or_else(|| format!("{}-operator", parsed.package)),
        name: parsed.package,
        display_name: parsed.display_name,
        provider: parsed.provider,
        catalog_source: parsed.catalog_source,
        default_channel: parsed.default_channel,
        install_modes: parsed.install_modes,
        channels: parsed.channels,
        crds,
        operands: parsed.operands,
        sources: parsed.sources,
        checked: parsed.checked,
        description: parsed.description,
    })
}

fn take_string(object: &mut serde_json::Map<String, Value>, key: &str) -> Option<String> {
    object
        .remove(key)
        .and_then(|value| value.as_str().map(str::to_string))
}

/// A CRD spec from the data: `since`/`until` taken out, `schemaRef`s resolved, names checked.
fn owned_crd(
    file: &str,
    mut definition: Value,
    schemas: &BTreeMap<String, Value>,
) -> Result<OwnedCrd, CatalogError> {
    let format_error = |message: String| CatalogError::Format {
        file: file.to_string(),
        message,
    };
    let Some(object) = definition.as_object_mut() else {
        return Err(format_error("a CRD entry is not a mapping".to_string()));
    };
    let since = take_string(object, "since");
    let until = take_string(object, "until");
    let ready_phase = take_string(object, "readyPhase");
    for required in ["group", "names", "scope", "versions"] {
        if !object.contains_key(required) {
            return Err(format_error(format!("a CRD entry has no `{required}`")));
        }
    }
    let kind = object["names"]["kind"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if kind.is_empty()
        || object["names"]["plural"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    {
        return Err(format_error(
            "a CRD entry needs `names.kind` and `names.plural`".to_string(),
        ));
    }
    let mut version_ranges = BTreeMap::new();
    let versions = object
        .get_mut("versions")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format_error(format!("CRD `{kind}`: `versions` is not a list")))?;
    let mut storage_versions = 0;
    for version in versions.iter_mut() {
        let Some(version) = version.as_object_mut() else {
            return Err(format_error(format!(
                "CRD `{kind}`: a version is not a mapping"
            )));
        };
        let name = version
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let since = take_string(version, "since");
        let until = take_string(version, "until");
        if since.is_some() || until.is_some() {
            version_ranges.insert(name.clone(), (since, until));
        }
        if version.get("storage").and_then(Value::as_bool) == Some(true) {
            storage_versions += 1;
        }
        if let Some(reference) = take_string(version, "schemaRef") {
            let schema = schemas.get(&reference).ok_or_else(|| CatalogError::Reference {
                file: file.to_string(),
                message: format!(
                    "CRD `{kind}` version `{name}`: schemaRef `{reference}` is not a file under schemas/"
                ),
            })?;
            version.insert("schema".to_string(), json!({ "openAPIV3Schema": schema }));
        }
        if version
            .get("schema")
            .and_then(|schema| schema.get("openAPIV3Schema"))
            .is_none()
        {
            return Err(format_error(format!(
                "CRD `{kind}` version `{name}` has no schema (`schema.openAPIV3Schema` or `schemaRef`)"
            )));
        }
    }
    if storage_versions == 0 {
        return Err(format_error(format!("CRD `{kind}` has no storage version")));
    }
    Ok(OwnedCrd {
        spec: definition,
        since,
        until,
        version_ranges,
        ready_phase,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_loads() {
        let catalog = Catalog::load_embedded().expect("embedded catalog");
        assert!(!catalog.packages.is_empty());
        assert!(catalog.sources.iter().any(|source| source.default));
        let mq = catalog
            .licence("ibm-mq", "L-NUUP-23NH8Y")
            .expect("an MQ 9.4 licence");
        assert_eq!(mq.covers("9.4.3.0"), Some(true));
        assert_eq!(mq.allows("Production"), Some(true));
        assert!(catalog
            .licences_for_kind("eventstreams.ibm.com", "EventStreams")
            .is_some_and(|licences| !licences.licences.is_empty()));
    }

    const SOURCES: &str = "sources:\n- {name: c, displayName: C, publisher: P, namespace: n, images: [example.com/c]}\n";

    #[test]
    fn bad_data_names_the_file_and_the_reference() {
        let package = "package: p\ndisplayName: P\nprovider: P\ncatalogSource: c\ndefaultChannel: stable\n\
installModes: {AllNamespaces: true}\nsources: [x]\nchecked: '2026-12-05'\n\
channels:\n- name: stable\n  entries:\n  - version: 1.0.0\n\
crds:\n- group: g.example.com\n  names: {kind: K, plural: ks}\n  scope: Namespaced\n  versions:\n  - {name: v1, served: true, storage: true, schemaRef: missing}\n";
        let error = Catalog::load(&[("sources.yaml", SOURCES), ("packages/p.yaml", package)])
            .expect_err("a dangling schemaRef");
        assert!(
            error.to_string().contains("packages/p.yaml")
                && error.to_string().contains("schemaRef `missing`"),
            "{error}"
        );
        let wrong_default = package
            .replace("defaultChannel: stable", "defaultChannel: fast")
            .replace(
                "schemaRef: missing",
                "schema: {openAPIV3Schema: {type: object}}",
            );
        let error = Catalog::load(&[
            ("sources.yaml", SOURCES),
            ("packages/p.yaml", &wrong_default),
        ])
        .expect_err("an unknown default channel");
        assert!(
            error.to_string().contains("default channel `fast`"),
            "{error}"
        );
        let error = Catalog::load(&[("sources.yaml", SOURCES), ("packages/p.yaml", "package: [")])
            .expect_err("bad YAML");
        assert!(error.to_string().contains("packages/p.yaml"), "{error}");
    }

    #[test]
    fn image_repositories_drop_tags_and_digests() {
        assert_eq!(
            image_repository("icr.io/cpopen/ibm-operator-catalog:latest"),
            "icr.io/cpopen/ibm-operator-catalog"
        );
        assert_eq!(
            image_repository("registry:5000/catalog@sha256:abc"),
            "registry:5000/catalog"
        );
        assert_eq!(
            image_repository("registry:5000/catalog"),
            "registry:5000/catalog"
        );
    }
}
