//! The Kubernetes objects OLM makes from a catalog's facts: the `CustomResourceDefinition`s an
//! operator version owns, its `ClusterServiceVersion` (spec only: status is the installer's),
//! and the read-only `PackageManifest` a catalog source lists. Pure: names, namespaces and
//! images come in as arguments.

use serde_json::{json, Map, Value};

use crate::{CatalogSourceInfo, CsvRef, Package};

/// The group and version of `ClusterServiceVersion`, `Subscription`, `InstallPlan`.
pub const CSV_GROUP_VERSION: &str = "operators.coreos.com/v1alpha1";

/// The CRDs operator `version` of `package` owns, as `apiextensions.k8s.io/v1` objects,
/// labelled for the Subscription's `namespace` as OLM labels them.
pub fn custom_resource_definitions(
    package: &Package,
    version: &str,
    namespace: &str,
) -> Vec<Value> {
    package
        .crds_for(version)
        .into_iter()
        .map(|crd| {
            json!({
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {
                    "name": crd.name(),
                    "labels": {
                        format!("operators.coreos.com/{}.{namespace}", package.name): "",
                        "olm.managed": "true",
                    },
                },
                "spec": crd.spec_for(version),
            })
        })
        .collect()
}

fn owned_descriptions(package: &Package, version: &str) -> Vec<Value> {
    package
        .crds_for(version)
        .into_iter()
        .flat_map(|crd| {
            let spec = crd.spec_for(version);
            let kind = crd.kind().to_string();
            let name = crd.name();
            spec["versions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |entry| {
                    json!({
                        "name": name,
                        "version": entry["name"],
                        "kind": kind,
                        "displayName": kind,
                    })
                })
        })
        .collect()
}

fn install_modes(package: &Package) -> Vec<Value> {
    package
        .install_modes
        .iter()
        .map(|(mode, supported)| json!({"type": format!("{mode:?}"), "supported": supported}))
        .collect()
}

/// The operator Deployment's spec, as the CSV's install strategy declares it.
fn deployment_spec(package: &Package, csv: &CsvRef) -> Value {
    let labels = json!({"name": package.operator_deployment});
    json!({
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "serviceAccountName": package.operator_deployment,
                "containers": [{
                    // A container name is a DNS label; deployment names may hold dots.
                    "name": "operator",
                    "image": format!("catalog.flotilla.dev/{}/{}:{}", package.provider.to_lowercase().replace(' ', "-"), package.operator_deployment, csv.version),
                }],
            },
        },
    })
}

/// The `ClusterServiceVersion` of `csv` in `namespace` (no status).
pub fn cluster_service_version(package: &Package, csv: &CsvRef, namespace: &str) -> Value {
    let mut spec = Map::new();
    spec.insert("displayName".into(), json!(package.display_name));
    spec.insert("description".into(), json!(package.description));
    spec.insert("version".into(), json!(csv.version));
    if let Some(replaces) = &csv.replaces {
        spec.insert("replaces".into(), json!(replaces));
    }
    spec.insert("provider".into(), json!({"name": package.provider}));
    spec.insert("installModes".into(), json!(install_modes(package)));
    spec.insert(
        "customresourcedefinitions".into(),
        json!({"owned": owned_descriptions(package, &csv.version)}),
    );
    spec.insert(
        "install".into(),
        json!({
            "strategy": "deployment",
            "spec": {"deployments": [{
                "name": package.operator_deployment,
                "spec": deployment_spec(package, csv),
            }]},
        }),
    );
    let mut annotations = Map::new();
    if let Some(range) = &csv.skip_range {
        annotations.insert("olm.skipRange".into(), json!(range));
    }
    json!({
        "apiVersion": CSV_GROUP_VERSION,
        "kind": "ClusterServiceVersion",
        "metadata": {
            "name": csv.name,
            "namespace": namespace,
            "annotations": annotations,
        },
        "spec": spec,
    })
}

/// The `PackageManifest` of `package` as `source` (a CatalogSource named `source_name` in
/// `source_namespace`) lists it.
pub fn package_manifest(
    package: &Package,
    source: &CatalogSourceInfo,
    source_name: &str,
    source_namespace: &str,
    created: &str,
) -> Value {
    let channels: Vec<Value> = package
        .channels
        .iter()
        .filter_map(|channel| {
            let csvs = package.csvs(channel);
            let head = csvs.last()?;
            Some(json!({
                "name": channel.name,
                "currentCSV": head.name,
                "currentCSVDesc": {
                    "displayName": package.display_name,
                    "version": head.version,
                    "provider": {"name": package.provider},
                    "installModes": install_modes(package),
                    "customresourcedefinitions": {"owned": owned_descriptions(package, &head.version)},
                },
                "entries": csvs.iter().rev().map(|csv| json!({"name": csv.name, "version": csv.version})).collect::<Vec<_>>(),
            }))
        })
        .collect();
    json!({
        "apiVersion": "packages.operators.coreos.com/v1",
        "kind": "PackageManifest",
        "metadata": {
            "name": package.name,
            "namespace": source_namespace,
            "creationTimestamp": created,
            "labels": {
                "catalog": source_name,
                "catalog-namespace": source_namespace,
                "provider": package.provider,
                "operatorframework.io/arch.amd64": "supported",
                "operatorframework.io/os.linux": "supported",
            },
        },
        "spec": {},
        "status": {
            "catalogSource": source_name,
            "catalogSourceDisplayName": source.display_name,
            "catalogSourcePublisher": source.publisher,
            "catalogSourceNamespace": source_namespace,
            "packageName": package.name,
            "provider": {"name": package.provider},
            "defaultChannel": package.default_channel,
            "channels": channels,
        },
    })
}
