//! The Operator Lifecycle Manager in the embedded cluster (`--openshift`), resolving against the
//! catalog embedded in `flotilla-catalog`:
//! - a `CatalogSource` whose image is a known catalog becomes `READY` and lists its packages as
//!   read-only `PackageManifest`s in its namespace (an unknown image: `TRANSIENT_FAILURE` with a
//!   message naming the known ones);
//! - a `Subscription` resolves its package and channel (or the default channel) in its source:
//!   an `InstallPlan` for `startingCSV` or the channel head (`Automatic`: approved at once;
//!   `Manual`: `RequiresApproval` until `spec.approved: true`), then for each newer CSV along the
//!   channel's `replaces` chain; status `currentCSV`, `installedCSV`, `installPlanRef`, `state`
//!   (`UpgradePending`, `AtLatestKnown`) and conditions as OLM writes them; an unknown source,
//!   package, channel or starting CSV is OLM's `ResolutionFailed` condition;
//! - an approved `InstallPlan` creates the operator's CRDs (Established by the CRD machinery),
//!   its `ClusterServiceVersion` and `OperatorCondition`, and is `Complete`;
//! - a CSV checks its namespace's OperatorGroup (none: `NoOperatorGroup`; two:
//!   `TooManyOperatorGroups`; an install mode it does not support: `UnsupportedOperatorGroup`),
//!   its install strategy (`InvalidInstallStrategy`), creates the operator Deployment (owned by
//!   the CSV), and is `Succeeded` once the Deployment is available; an AllNamespaces operator's
//!   CSV is copied into every other namespace (`Copied`); a CSV a newer Succeeded CSV replaces
//!   is deleted. Deleting a Subscription leaves its CSV, deleting a CSV leaves its CRDs, as OLM.
//!
//! Invariant: every reconcile is idempotent and writes only when something changed, so the
//! events its own writes cause settle; all writes go through `rest` with OLM's field managers.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use flotilla_catalog::{Catalog, CsvRef, InstallModeType, Package};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch as signal;

use crate::http::App;
use crate::registry::ResourceType;
use crate::rest::{self, ApiState, Part, ReplaceOperation, WriteOptions};
use crate::storage::EventType;
use crate::util::{self, metadata_str};

const GROUP: &str = "operators.coreos.com";
const CATALOG_OPERATOR: &str = "catalog";
const OLM_OPERATOR: &str = "olm";
const CATALOG_SOURCES: &str = "operators.coreos.com/catalogsources";
const SUBSCRIPTIONS: &str = "operators.coreos.com/subscriptions";
const INSTALL_PLANS: &str = "operators.coreos.com/installplans";
const CSVS: &str = "operators.coreos.com/clusterserviceversions";
const OPERATOR_GROUPS: &str = "operators.coreos.com/operatorgroups";
const OPERATOR_CONDITIONS: &str = "operators.coreos.com/operatorconditions";
/// The storage key of PackageManifests.
pub const PACKAGE_MANIFESTS: &str = "packages.operators.coreos.com/packagemanifests";
const COPIED_FROM: &str = "olm.copiedFrom";

/// Whether `group` is one whose objects this controller (not the generic simulation) keeps.
pub fn owns_group(group: &str) -> bool {
    group == GROUP || group == "packages.operators.coreos.com"
}

/// The `packages.operators.coreos.com/v1` `PackageManifest` resource: read-only, listed per
/// catalog source.
pub fn package_manifest_type() -> ResourceType {
    ResourceType {
        group: "packages.operators.coreos.com".to_string(),
        version: "v1".to_string(),
        kind: "PackageManifest".to_string(),
        plural: "packagemanifests".to_string(),
        singular: "packagemanifest".to_string(),
        namespaced: true,
        short_names: Vec::new(),
        categories: Vec::new(),
        has_status: true,
        storage_version: true,
        schema: None,
        custom: false,
        printer_columns: vec![
            json!({"name": "Catalog", "type": "string", "jsonPath": ".status.catalogSourceDisplayName", "description": "The catalog the package is listed in"}),
            json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}),
        ],
    }
}

/// Whether a client's write to `resource` must be refused (PackageManifests are served by OLM's
/// package server, read-only).
pub fn read_only(resource: &ResourceType) -> Option<crate::error::ApiError> {
    (resource.group == "packages.operators.coreos.com").then(|| crate::error::ApiError::MethodNotAllowed {
        message: "the server does not allow this method on the requested resource (packagemanifests.packages.operators.coreos.com are listed from catalog sources; add a CatalogSource instead)".to_string(),
    })
}

fn options(manager: &str) -> WriteOptions {
    WriteOptions {
        field_manager: Some(manager.to_string()),
        ..WriteOptions::default()
    }
}

fn resource(state: &ApiState, plural: &str) -> Option<ResourceType> {
    let version = match plural {
        "operatorgroups" => "v1",
        "operatorconditions" => "v2",
        _ => "v1alpha1",
    };
    state.registry.lookup(GROUP, version, plural)
}

fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason, "message": message, "lastTransitionTime": util::now_rfc3339()})
}

/// Conditions compared without their timestamps.
fn same_conditions(left: &Value, right: &Value) -> bool {
    let strip = |conditions: &Value| -> Vec<Value> {
        conditions
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|item| {
                        let mut item = item.clone();
                        if let Some(map) = item.as_object_mut() {
                            map.shift_remove("lastTransitionTime");
                            map.shift_remove("lastUpdateTime");
                            map.shift_remove("lastHeartbeatTime");
                        }
                        item
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    strip(left) == strip(right)
}

/// Status compared without timestamps.
fn same_status(left: &Value, right: &Value) -> bool {
    let strip = |status: &Value| -> Value {
        let mut status = status.clone();
        if let Some(map) = status.as_object_mut() {
            for field in [
                "lastUpdated",
                "lastUpdateTime",
                "lastTransitionTime",
                "conditions",
                "connectionState",
                "registryService",
                "certsLastUpdated",
                "certsRotateAt",
            ] {
                map.shift_remove(field);
            }
        }
        status
    };
    strip(left) == strip(right)
        && same_conditions(&left["conditions"], &right["conditions"])
        && left["connectionState"]["lastObservedState"]
            == right["connectionState"]["lastObservedState"]
}

fn write_status(
    state: &ApiState,
    resource: &ResourceType,
    object: &Value,
    status: Value,
    manager: &str,
) {
    if !same_status(&object["status"], &status) {
        rest::write_status_as(state, resource, object, status, manager);
    }
}

/// Creates the default catalog sources (those `sources.yaml` marks default) and the
/// `global-operators` OperatorGroup of `openshift-operators`, as a fresh OpenShift has them.
pub fn install_defaults(state: &ApiState) {
    if let Some(catalog_sources) = resource(state, "catalogsources") {
        for source in Catalog::embedded()
            .sources
            .iter()
            .filter(|source| source.default)
        {
            if state
                .store
                .get(CATALOG_SOURCES, &source.namespace, &source.name)
                .is_none()
            {
                let image = source.images.first().cloned().unwrap_or_default();
                let body = json!({
                    "apiVersion": "operators.coreos.com/v1alpha1",
                    "kind": "CatalogSource",
                    "metadata": {"name": source.name, "namespace": source.namespace},
                    "spec": {"sourceType": "grpc", "image": format!("{image}:v4.16"), "displayName": source.display_name, "publisher": source.publisher, "updateStrategy": {"registryPoll": {"interval": "10m"}}},
                });
                let _ = rest::create(
                    state,
                    &catalog_sources,
                    Some(&source.namespace),
                    body,
                    &options("marketplace-operator"),
                );
            }
        }
    }
    if let Some(groups) = resource(state, "operatorgroups") {
        if state
            .store
            .get(OPERATOR_GROUPS, "openshift-operators", "global-operators")
            .is_none()
        {
            let body = json!({
                "apiVersion": "operators.coreos.com/v1",
                "kind": "OperatorGroup",
                "metadata": {"name": "global-operators", "namespace": "openshift-operators"},
                "spec": {},
            });
            let _ = rest::create(
                state,
                &groups,
                Some("openshift-operators"),
                body,
                &options(OLM_OPERATOR),
            );
        }
    }
}

/// A piece of work: a storage key, namespace and name.
type Key = (&'static str, String, String);

/// Starts the OLM controller.
pub fn start(app: Arc<App>, mut shutdown: signal::Receiver<bool>) {
    let Ok(mut subscription) = app.api.store.subscribe(None) else {
        return;
    };
    tokio::spawn(async move {
        let mut queue = Queue::default();
        queue.everything(&app.api);
        queue.drain(&app.api);
        loop {
            let received = tokio::select! {
                received = subscription.live.recv() => received,
                _ = shutdown.changed() => return,
            };
            match received {
                Ok(event) => {
                    queue.route(
                        &app.api,
                        &event.storage_key,
                        &event.namespace,
                        &event.name,
                        event.event_type,
                        &event.object,
                    );
                    // Take whatever else has arrived before working, so a burst is one pass.
                    while let Ok(event) = subscription.live.try_recv() {
                        queue.route(
                            &app.api,
                            &event.storage_key,
                            &event.namespace,
                            &event.name,
                            event.event_type,
                            &event.object,
                        );
                    }
                }
                Err(RecvError::Lagged(_)) => queue.everything(&app.api),
                Err(RecvError::Closed) => return,
            }
            queue.drain(&app.api);
        }
    });
}

#[derive(Default)]
struct Queue {
    order: VecDeque<Key>,
    queued: BTreeSet<Key>,
}

impl Queue {
    fn push(&mut self, storage_key: &'static str, namespace: &str, name: &str) {
        let key = (storage_key, namespace.to_string(), name.to_string());
        if self.queued.insert(key.clone()) {
            self.order.push_back(key);
        }
    }

    fn push_all(&mut self, state: &ApiState, storage_key: &'static str, namespace: Option<&str>) {
        for object in state.store.list(storage_key, namespace).0 {
            self.push(
                storage_key,
                metadata_str(&object, "namespace").unwrap_or_default(),
                metadata_str(&object, "name").unwrap_or_default(),
            );
        }
    }

    fn everything(&mut self, state: &ApiState) {
        for key in [
            CATALOG_SOURCES,
            OPERATOR_GROUPS,
            SUBSCRIPTIONS,
            INSTALL_PLANS,
            CSVS,
        ] {
            self.push_all(state, key, None);
        }
    }

    /// What an event means for OLM's objects.
    fn route(
        &mut self,
        state: &ApiState,
        storage_key: &str,
        namespace: &str,
        name: &str,
        event_type: EventType,
        object: &Value,
    ) {
        match storage_key {
            CATALOG_SOURCES => {
                if event_type == EventType::Deleted {
                    remove_package_manifests(state, namespace, name);
                } else {
                    self.push(CATALOG_SOURCES, namespace, name);
                }
                self.push_all(state, SUBSCRIPTIONS, None);
            }
            SUBSCRIPTIONS if event_type != EventType::Deleted => {
                self.push(SUBSCRIPTIONS, namespace, name)
            }
            INSTALL_PLANS if event_type != EventType::Deleted => {
                self.push(INSTALL_PLANS, namespace, name);
                self.push_all(state, SUBSCRIPTIONS, Some(namespace));
            }
            CSVS => {
                if event_type == EventType::Deleted {
                    if object["metadata"]["labels"][COPIED_FROM].is_null() {
                        remove_copies(state, namespace, name);
                    }
                } else if object["metadata"]["labels"][COPIED_FROM].is_null() {
                    self.push(CSVS, namespace, name);
                }
                self.push_all(state, SUBSCRIPTIONS, Some(namespace));
            }
            OPERATOR_GROUPS => {
                if event_type != EventType::Deleted {
                    self.push(OPERATOR_GROUPS, namespace, name);
                }
                self.push_all(state, CSVS, Some(namespace));
            }
            "apps/deployments" => {
                let owned_by_csv = object["metadata"]["ownerReferences"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|reference| reference["kind"] == "ClusterServiceVersion");
                if let Some(owner) = owned_by_csv.and_then(|owner| owner["name"].as_str()) {
                    self.push(CSVS, namespace, owner);
                }
            }
            "/namespaces" => {
                // Copies of AllNamespaces operators follow namespaces.
                for group in state.store.list(OPERATOR_GROUPS, None).0 {
                    if targets_all(&group) {
                        self.push_all(state, CSVS, metadata_str(&group, "namespace"));
                    }
                }
            }
            _ => {}
        }
    }

    fn drain(&mut self, state: &ApiState) {
        // Bounded: a pass that keeps finding work stops after this many steps and goes on at the
        // next event (every reconcile is idempotent, so nothing is lost).
        let mut budget = 10_000;
        while let Some(key) = self.order.pop_front() {
            self.queued.remove(&key);
            budget -= 1;
            if budget == 0 {
                return;
            }
            let (storage_key, namespace, name) = &key;
            let Some(object) = state.store.get(storage_key, namespace, name) else {
                continue;
            };
            if metadata_str(&object, "deletionTimestamp").is_some() {
                continue;
            }
            match *storage_key {
                CATALOG_SOURCES => reconcile_catalog_source(state, &object),
                SUBSCRIPTIONS => reconcile_subscription(state, &object, self),
                INSTALL_PLANS => reconcile_install_plan(state, &object, self),
                CSVS => reconcile_csv(state, &object, self),
                OPERATOR_GROUPS => reconcile_operator_group(state, &object),
                _ => {}
            }
        }
    }
}

// ---- Catalog sources and package manifests -------------------------------------------------

/// The catalog a CatalogSource serves, by its image (or, for the default sources, its name).
fn catalog_of(source: &Value) -> Result<&'static flotilla_catalog::CatalogSourceInfo, String> {
    let catalog = Catalog::embedded();
    let image = source["spec"]["image"].as_str().unwrap_or_default();
    if image.is_empty() {
        let source_type = source["spec"]["sourceType"].as_str().unwrap_or("grpc");
        return Err(format!(
            "sourceType `{source_type}` without `spec.image` is not simulated: give the catalog's index image (one of {})",
            known_images()
        ));
    }
    catalog.source_for_image(image).ok_or_else(|| {
        format!(
            "image `{image}` is not a catalog flotilla knows; known catalog images: {}",
            known_images()
        )
    })
}

fn known_images() -> String {
    Catalog::embedded()
        .sources
        .iter()
        .flat_map(|source| source.images.iter().cloned())
        .collect::<Vec<_>>()
        .join(", ")
}

fn reconcile_catalog_source(state: &ApiState, source: &Value) {
    let Some(catalog_sources) = resource(state, "catalogsources") else {
        return;
    };
    let namespace = metadata_str(source, "namespace").unwrap_or_default();
    let name = metadata_str(source, "name").unwrap_or_default();
    let now = util::now_rfc3339();
    let status = match catalog_of(source) {
        Ok(info) => {
            sync_package_manifests(state, source, info);
            json!({
                "connectionState": {"address": format!("{name}.{namespace}.svc:50051"), "lastConnect": now, "lastObservedState": "READY"},
                "registryService": {"createdAt": now, "port": "50051", "protocol": "grpc", "serviceName": name, "serviceNamespace": namespace},
            })
        }
        Err(message) => {
            remove_package_manifests(state, namespace, name);
            json!({
                "connectionState": {"address": format!("{name}.{namespace}.svc:50051"), "lastConnect": now, "lastObservedState": "TRANSIENT_FAILURE"},
                "message": message,
                "reason": "UnknownCatalogImage",
            })
        }
    };
    write_status(state, &catalog_sources, source, status, CATALOG_OPERATOR);
}

fn sync_package_manifests(
    state: &ApiState,
    source: &Value,
    info: &flotilla_catalog::CatalogSourceInfo,
) {
    let namespace = metadata_str(source, "namespace").unwrap_or_default();
    let name = metadata_str(source, "name").unwrap_or_default();
    let created = metadata_str(source, "creationTimestamp").unwrap_or_default();
    let catalog = Catalog::embedded();
    for package in catalog.packages_in(&info.name) {
        let mut manifest =
            flotilla_catalog::package_manifest(package, info, name, namespace, created);
        if let Some(source_display) = source["spec"]["displayName"].as_str() {
            manifest["status"]["catalogSourceDisplayName"] = json!(source_display);
        }
        let current = state.store.get(PACKAGE_MANIFESTS, namespace, &package.name);
        let unchanged = current.as_ref().is_some_and(|current| {
            current["status"] == manifest["status"]
                && current["metadata"]["labels"] == manifest["metadata"]["labels"]
        });
        if unchanged {
            continue;
        }
        let uid = current
            .as_ref()
            .and_then(|current| metadata_str(current, "uid").map(str::to_string))
            .unwrap_or_else(util::new_uid);
        manifest["metadata"]["uid"] = json!(uid);
        let _ = state
            .store
            .transact(PACKAGE_MANIFESTS, namespace, &package.name, |_, _| {
                Ok(crate::storage::Outcome::Put(manifest))
            });
    }
}

fn remove_package_manifests(state: &ApiState, namespace: &str, source_name: &str) {
    for manifest in state.store.list(PACKAGE_MANIFESTS, Some(namespace)).0 {
        if manifest["metadata"]["labels"]["catalog"].as_str() == Some(source_name) {
            let name = metadata_str(&manifest, "name")
                .unwrap_or_default()
                .to_string();
            let _ = state
                .store
                .transact(PACKAGE_MANIFESTS, namespace, &name, |_, _| {
                    Ok(crate::storage::Outcome::Delete)
                });
        }
    }
}

// ---- Subscriptions -------------------------------------------------------------------------

struct Resolved {
    package: &'static Package,
    channel: String,
}

/// Why a Subscription does not resolve: its `ResolutionFailed` and `CatalogSourcesUnhealthy`
/// conditions.
type Unresolved = Box<(Value, Value)>;

/// Resolves a Subscription's package and channel, or says why not as OLM does.
fn resolve(state: &ApiState, subscription: &Value) -> Result<Resolved, Unresolved> {
    let name = metadata_str(subscription, "name").unwrap_or_default();
    let spec = &subscription["spec"];
    let package_name = spec["name"].as_str().unwrap_or_default();
    let source_name = spec["source"].as_str().unwrap_or_default();
    let source_namespace = spec["sourceNamespace"].as_str().unwrap_or_default();
    let healthy = condition(
        "CatalogSourcesUnhealthy",
        false,
        "AllCatalogSourcesHealthy",
        "all available catalogsources are healthy",
    );
    let failed = |message: String, unhealthy: Value| -> Unresolved {
        Box::new((
            condition(
                "ResolutionFailed",
                true,
                "ConstraintsNotSatisfiable",
                &message,
            ),
            unhealthy,
        ))
    };
    let Some(source) = state
        .store
        .get(CATALOG_SOURCES, source_namespace, source_name)
    else {
        return Err(failed(
            format!("failed to populate resolver cache from source {source_name}/{source_namespace}: catalogsource {source_namespace}/{source_name} not found"),
            condition("CatalogSourcesUnhealthy", true, "UnhealthyCatalogSourceFound", &format!("targeted catalogsource {source_namespace}/{source_name} missing")),
        ));
    };
    let info = match catalog_of(&source) {
        Ok(info) => info,
        Err(message) => {
            return Err(failed(
                format!("failed to populate resolver cache from source {source_name}/{source_namespace}: {message}"),
                condition("CatalogSourcesUnhealthy", true, "UnhealthyCatalogSourceFound", &format!("targeted catalogsource {source_namespace}/{source_name} unhealthy")),
            ))
        }
    };
    let catalog = Catalog::embedded();
    let Some(package) = catalog
        .package(package_name)
        .filter(|package| package.catalog_source == info.name)
    else {
        return Err(failed(
            format!("constraints not satisfiable: no operators found in package {package_name} in the catalog referenced by subscription {name}, subscription {name} exists"),
            healthy,
        ));
    };
    let channel = spec["channel"]
        .as_str()
        .filter(|channel| !channel.is_empty())
        .unwrap_or(&package.default_channel)
        .to_string();
    let Some(channel_entry) = package.channel(&channel) else {
        return Err(failed(
            format!("constraints not satisfiable: no operators found in channel {channel} of package {package_name} in the catalog referenced by subscription {name}, subscription {name} exists"),
            healthy,
        ));
    };
    if let Some(starting) = spec["startingCSV"].as_str().filter(|csv| !csv.is_empty()) {
        let installed = subscription["status"]["installedCSV"].as_str().is_some();
        if !installed
            && !package
                .csvs(channel_entry)
                .iter()
                .any(|csv| csv.name == starting)
        {
            return Err(failed(
                format!("constraints not satisfiable: no operators found with name {starting} in channel {channel} of package {package_name} in the catalog referenced by subscription {name}, subscription {name} exists"),
                healthy,
            ));
        }
    }
    Ok(Resolved { package, channel })
}

fn csv_phase(state: &ApiState, namespace: &str, name: &str) -> Option<String> {
    state
        .store
        .get(CSVS, namespace, name)
        .and_then(|csv| csv["status"]["phase"].as_str().map(str::to_string))
}

fn reconcile_subscription(state: &ApiState, subscription: &Value, queue: &mut Queue) {
    let Some(subscriptions) = resource(state, "subscriptions") else {
        return;
    };
    let namespace = metadata_str(subscription, "namespace")
        .unwrap_or_default()
        .to_string();
    let name = metadata_str(subscription, "name")
        .unwrap_or_default()
        .to_string();
    let mut status = subscription["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    status["lastUpdated"] = json!(util::now_rfc3339());
    let resolved = match resolve(state, subscription) {
        Ok(resolved) => resolved,
        Err(unresolved) => {
            let (failure, unhealthy) = *unresolved;
            status["conditions"] = json!([unhealthy, failure]);
            if status["state"].is_null() {
                status
                    .as_object_mut()
                    .expect("object")
                    .shift_remove("state");
            }
            write_status(
                state,
                &subscriptions,
                subscription,
                status,
                CATALOG_OPERATOR,
            );
            return;
        }
    };
    let package = resolved.package;
    let Some(channel) = package.channel(&resolved.channel) else {
        return;
    };
    let approval = subscription["spec"]["installPlanApproval"]
        .as_str()
        .unwrap_or("Automatic")
        .to_string();
    // What is installed: the CSV named installedCSV, or the current one once it succeeded.
    let mut installed: Option<CsvRef> = status["installedCSV"]
        .as_str()
        .and_then(|csv| package.find_csv(csv));
    if let Some(current) = status["currentCSV"]
        .as_str()
        .and_then(|csv| package.find_csv(csv))
    {
        if csv_phase(state, &namespace, &current.name).as_deref() == Some("Succeeded") {
            installed = Some(current);
        }
    }
    if let Some(csv) = &installed {
        status["installedCSV"] = json!(csv.name);
    }
    let target = match &installed {
        None => match subscription["spec"]["startingCSV"]
            .as_str()
            .filter(|csv| !csv.is_empty())
        {
            Some(starting) => package
                .csvs(channel)
                .into_iter()
                .find(|csv| csv.name == starting),
            None => package.head(channel),
        },
        Some(csv) => package.next_in_channel(channel, csv),
    };
    let mut conditions = vec![condition(
        "CatalogSourcesUnhealthy",
        false,
        "AllCatalogSourcesHealthy",
        "all available catalogsources are healthy",
    )];
    match target {
        None => {
            // At the head of the channel (or nothing newer reachable from what is installed).
            status["state"] = json!("AtLatestKnown");
            if let Some(csv) = &installed {
                status["currentCSV"] = json!(csv.name);
            }
        }
        Some(target) => {
            let plan = status["installPlanRef"]["name"]
                .as_str()
                .and_then(|plan| state.store.get(INSTALL_PLANS, &namespace, plan))
                .filter(|plan| {
                    plan["spec"]["clusterServiceVersionNames"][0].as_str()
                        == Some(target.name.as_str())
                });
            let plan = match plan {
                Some(plan) => plan,
                None => match create_install_plan(state, subscription, &target, &approval) {
                    Some(plan) => {
                        queue.push(
                            INSTALL_PLANS,
                            &namespace,
                            metadata_str(&plan, "name").unwrap_or_default(),
                        );
                        plan
                    }
                    None => return,
                },
            };
            let plan_name = metadata_str(&plan, "name").unwrap_or_default().to_string();
            status["currentCSV"] = json!(target.name);
            status["installPlanGeneration"] = plan["spec"]["generation"].clone();
            status["installPlanRef"] = json!({"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan", "name": plan_name, "namespace": namespace, "resourceVersion": metadata_str(&plan, "resourceVersion"), "uid": metadata_str(&plan, "uid")});
            status["installplan"] = json!({"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan", "name": plan_name, "uuid": metadata_str(&plan, "uid")});
            let phase = plan["status"]["phase"]
                .as_str()
                .unwrap_or("Installing")
                .to_string();
            match phase.as_str() {
                "RequiresApproval" => {
                    status["state"] = json!("UpgradePending");
                    conditions.push(condition(
                        "InstallPlanPending",
                        true,
                        "RequiresApproval",
                        "",
                    ));
                }
                "Failed" => {
                    status["state"] = json!("UpgradePending");
                    conditions.push(condition(
                        "InstallPlanFailed",
                        true,
                        "InstallComponentFailed",
                        plan["status"]["message"]
                            .as_str()
                            .unwrap_or("the install plan failed"),
                    ));
                }
                "Complete" => {
                    let succeeded =
                        csv_phase(state, &namespace, &target.name).as_deref() == Some("Succeeded");
                    if succeeded {
                        status["installedCSV"] = json!(target.name);
                        let head = package.head(channel).map(|head| head.name);
                        status["state"] = json!(if head.as_deref() == Some(target.name.as_str()) {
                            "AtLatestKnown"
                        } else {
                            "UpgradeAvailable"
                        });
                        if head.as_deref() != Some(target.name.as_str()) {
                            // Go on along the channel at the next pass.
                            queue.push(SUBSCRIPTIONS, &namespace, &name);
                        }
                    } else {
                        status["state"] = json!("UpgradePending");
                    }
                }
                _ => {
                    status["state"] = json!("UpgradePending");
                    conditions.push(condition("InstallPlanPending", true, "Installing", ""));
                }
            }
        }
    }
    conditions.push(condition("ResolutionFailed", false, "", ""));
    conditions.retain(|entry| !(entry["type"] == "ResolutionFailed" && entry["status"] == "False"));
    status["conditions"] = json!(conditions);
    status["catalogHealth"] = json!([{
        "catalogSourceRef": {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "CatalogSource", "name": subscription["spec"]["source"], "namespace": subscription["spec"]["sourceNamespace"]},
        "healthy": true,
    }]);
    write_status(
        state,
        &subscriptions,
        subscription,
        status,
        CATALOG_OPERATOR,
    );
}

fn create_install_plan(
    state: &ApiState,
    subscription: &Value,
    target: &CsvRef,
    approval: &str,
) -> Option<Arc<Value>> {
    let plans = resource(state, "installplans")?;
    let namespace = metadata_str(subscription, "namespace").unwrap_or_default();
    let generation = state.store.list(INSTALL_PLANS, Some(namespace)).0.len() + 1;
    let package = subscription["spec"]["name"].as_str().unwrap_or_default();
    let body = json!({
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "InstallPlan",
        "metadata": {
            "generateName": "install-",
            "namespace": namespace,
            "labels": {format!("operators.coreos.com/{package}.{namespace}"): ""},
            "ownerReferences": [{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription", "name": metadata_str(subscription, "name"), "uid": metadata_str(subscription, "uid"), "blockOwnerDeletion": false, "controller": false}],
        },
        "spec": {
            "approval": approval,
            "approved": approval == "Automatic",
            "clusterServiceVersionNames": [target.name],
            "generation": generation,
            "source": subscription["spec"]["source"],
            "sourceNamespace": subscription["spec"]["sourceNamespace"],
        },
    });
    let created = rest::create(
        state,
        &plans,
        Some(namespace),
        body,
        &options(CATALOG_OPERATOR),
    )
    .ok()?;
    let phase = if approval == "Automatic" {
        "Installing"
    } else {
        "RequiresApproval"
    };
    write_status(
        state,
        &plans,
        &created,
        json!({"phase": phase, "catalogSources": [subscription["spec"]["source"]]}),
        CATALOG_OPERATOR,
    );
    state.store.get(
        INSTALL_PLANS,
        namespace,
        metadata_str(&created, "name").unwrap_or_default(),
    )
}

// ---- Install plans -------------------------------------------------------------------------

fn package_of_csv(name: &str) -> Option<(&'static Package, CsvRef)> {
    Catalog::embedded()
        .packages
        .iter()
        .find_map(|package| package.find_csv(name).map(|csv| (package, csv)))
}

fn reconcile_install_plan(state: &ApiState, plan: &Value, queue: &mut Queue) {
    let Some(plans) = resource(state, "installplans") else {
        return;
    };
    let phase = plan["status"]["phase"].as_str().unwrap_or_default();
    if matches!(phase, "Complete" | "Failed") {
        return;
    }
    let namespace = metadata_str(plan, "namespace")
        .unwrap_or_default()
        .to_string();
    let mut status = plan["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    if plan["spec"]["approved"].as_bool() != Some(true) {
        status["phase"] = json!("RequiresApproval");
        write_status(state, &plans, plan, status, CATALOG_OPERATOR);
        return;
    }
    let Some(csv_name) = plan["spec"]["clusterServiceVersionNames"][0].as_str() else {
        status["phase"] = json!("Failed");
        status["message"] = json!("the install plan names no ClusterServiceVersion");
        write_status(state, &plans, plan, status, CATALOG_OPERATOR);
        return;
    };
    let Some((package, csv)) = package_of_csv(csv_name) else {
        status["phase"] = json!("Failed");
        status["message"] = json!(format!(
            "ClusterServiceVersion {csv_name} is not in any catalog"
        ));
        write_status(state, &plans, plan, status, CATALOG_OPERATOR);
        return;
    };
    let mut steps = Vec::new();
    let source = plan["spec"]["source"].clone();
    let source_namespace = plan["spec"]["sourceNamespace"].clone();
    match install_crds(state, package, &csv, &namespace) {
        Ok(names) => {
            for crd in names {
                steps.push(json!({"resolving": csv.name, "resource": {"group": "apiextensions.k8s.io", "version": "v1", "kind": "CustomResourceDefinition", "name": crd, "sourceName": source, "sourceNamespace": source_namespace}, "status": "Created"}));
            }
        }
        Err(message) => {
            status["phase"] = json!("Failed");
            status["message"] = json!(message);
            status["conditions"] = json!([condition(
                "Installed",
                false,
                "InstallComponentFailed",
                &message
            )]);
            write_status(state, &plans, plan, status, CATALOG_OPERATOR);
            return;
        }
    }
    if let Err(message) = install_csv(state, package, &csv, &namespace) {
        status["phase"] = json!("Failed");
        status["message"] = json!(message);
        status["conditions"] = json!([condition(
            "Installed",
            false,
            "InstallComponentFailed",
            &message
        )]);
        write_status(state, &plans, plan, status, CATALOG_OPERATOR);
        return;
    }
    queue.push(CSVS, &namespace, &csv.name);
    steps.push(json!({"resolving": csv.name, "resource": {"group": GROUP, "version": "v1alpha1", "kind": "ClusterServiceVersion", "name": csv.name, "sourceName": source, "sourceNamespace": source_namespace}, "status": "Created"}));
    status["phase"] = json!("Complete");
    status["plan"] = json!(steps);
    status["conditions"] = json!([condition("Installed", true, "", "")]);
    status["bundleLookups"] = json!([]);
    write_status(state, &plans, plan, status, CATALOG_OPERATOR);
}

/// Creates or updates the CRDs the operator version owns; returns their names.
fn install_crds(
    state: &ApiState,
    package: &Package,
    csv: &CsvRef,
    namespace: &str,
) -> Result<Vec<String>, String> {
    let crds = state
        .registry
        .lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .ok_or("CustomResourceDefinitions are not served")?;
    let mut names = Vec::new();
    for definition in
        flotilla_catalog::custom_resource_definitions(package, &csv.version, namespace)
    {
        let name = metadata_str(&definition, "name")
            .unwrap_or_default()
            .to_string();
        let result = match state.store.get(crate::crd::CRD_STORAGE_KEY, "", &name) {
            None => rest::create(state, &crds, None, definition, &options(CATALOG_OPERATOR)),
            Some(current) if current["spec"] == definition["spec"] => Ok(current),
            Some(current) => {
                let mut next = (*current).clone();
                next["spec"] = definition["spec"].clone();
                if let Some(labels) = definition["metadata"]["labels"].as_object() {
                    for (key, value) in labels {
                        next["metadata"]["labels"][key] = value.clone();
                    }
                }
                if let Some(metadata) = next["metadata"].as_object_mut() {
                    metadata.shift_remove("resourceVersion");
                }
                rest::replace(
                    state,
                    &crds,
                    "",
                    &name,
                    Part::Main,
                    next,
                    &options(CATALOG_OPERATOR),
                    ReplaceOperation::Update,
                )
            }
        };
        result
            .map_err(|error| format!("error creating CustomResourceDefinition {name}: {error}"))?;
        names.push(name);
    }
    Ok(names)
}

fn install_csv(
    state: &ApiState,
    package: &Package,
    csv: &CsvRef,
    namespace: &str,
) -> Result<(), String> {
    let csvs =
        resource(state, "clusterserviceversions").ok_or("ClusterServiceVersions are not served")?;
    if state.store.get(CSVS, namespace, &csv.name).is_none() {
        let mut body = flotilla_catalog::cluster_service_version(package, csv, namespace);
        body["metadata"]["labels"] =
            json!({format!("operators.coreos.com/{}.{namespace}", package.name): ""});
        rest::create(
            state,
            &csvs,
            Some(namespace),
            body,
            &options(CATALOG_OPERATOR),
        )
        .map_err(|error| format!("error creating ClusterServiceVersion {}: {error}", csv.name))?;
    }
    if let Some(conditions) = resource(state, "operatorconditions") {
        if state
            .store
            .get(OPERATOR_CONDITIONS, namespace, &csv.name)
            .is_none()
        {
            let body = json!({
                "apiVersion": "operators.coreos.com/v2",
                "kind": "OperatorCondition",
                "metadata": {"name": csv.name, "namespace": namespace},
                "spec": {"deployments": [package.operator_deployment], "serviceAccounts": [package.operator_deployment]},
            });
            let _ = rest::create(
                state,
                &conditions,
                Some(namespace),
                body,
                &options(OLM_OPERATOR),
            );
        }
    }
    Ok(())
}

// ---- Operator groups and CSVs --------------------------------------------------------------

fn targets_all(group: &Value) -> bool {
    let spec = &group["spec"];
    spec["targetNamespaces"]
        .as_array()
        .is_none_or(|targets| targets.is_empty())
        && spec["selector"].is_null()
}

fn reconcile_operator_group(state: &ApiState, group: &Value) {
    let Some(groups) = resource(state, "operatorgroups") else {
        return;
    };
    let namespaces: Vec<Value> = if targets_all(group) {
        vec![json!("")]
    } else {
        group["spec"]["targetNamespaces"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let status = json!({"namespaces": namespaces, "lastUpdated": util::now_rfc3339()});
    write_status(state, &groups, group, status, OLM_OPERATOR);
}

/// The install mode an OperatorGroup asks of operators in `namespace`, and a description of it.
fn install_mode(group: &Value, namespace: &str) -> (InstallModeType, String) {
    if targets_all(group) {
        return (InstallModeType::AllNamespaces, "all namespaces".to_string());
    }
    let targets: Vec<&str> = group["spec"]["targetNamespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match targets.as_slice() {
        [only] if *only == namespace => {
            (InstallModeType::OwnNamespace, format!("namespace {only}"))
        }
        [only] => (
            InstallModeType::SingleNamespace,
            format!("namespace {only}"),
        ),
        _ => (
            InstallModeType::MultiNamespace,
            format!("namespaces {}", targets.join(", ")),
        ),
    }
}

fn csv_status(phase: &str, reason: &str, message: &str) -> Value {
    json!({
        "phase": phase,
        "reason": reason,
        "message": message,
        "lastUpdateTime": util::now_rfc3339(),
        "lastTransitionTime": util::now_rfc3339(),
        "conditions": [{"phase": phase, "reason": reason, "message": message, "lastUpdateTime": util::now_rfc3339(), "lastTransitionTime": util::now_rfc3339()}],
    })
}

fn write_csv_status(
    state: &ApiState,
    csvs: &ResourceType,
    csv: &Value,
    phase: &str,
    reason: &str,
    message: &str,
) {
    let current = &csv["status"];
    if current["phase"] == phase && current["reason"] == reason && current["message"] == message {
        return;
    }
    let mut status = csv_status(phase, reason, message);
    // Keep the history of phases, as OLM does (bounded).
    let mut history: Vec<Value> = current["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    history.extend(status["conditions"].as_array().cloned().unwrap_or_default());
    let keep = history.len().saturating_sub(20);
    status["conditions"] = json!(history.split_off(keep));
    write_status(state, csvs, csv, status, OLM_OPERATOR);
}

fn deployment_available(deployment: &Value) -> bool {
    deployment["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|condition| condition["type"] == "Available" && condition["status"] == "True")
}

fn reconcile_csv(state: &ApiState, csv: &Value, queue: &mut Queue) {
    let Some(csvs) = resource(state, "clusterserviceversions") else {
        return;
    };
    if !csv["metadata"]["labels"][COPIED_FROM].is_null() {
        // A copy follows its original (copy_everywhere, remove_copies), nothing else.
        return;
    }
    let namespace = metadata_str(csv, "namespace")
        .unwrap_or_default()
        .to_string();
    let name = metadata_str(csv, "name").unwrap_or_default().to_string();
    // Replaced by a newer CSV that succeeded: this one goes.
    let replaced = state
        .store
        .list(CSVS, Some(&namespace))
        .0
        .into_iter()
        .any(|other| {
            other["spec"]["replaces"].as_str() == Some(name.as_str())
                && other["status"]["phase"] == "Succeeded"
                && other["metadata"]["labels"][COPIED_FROM].is_null()
        });
    if replaced {
        let _ = rest::delete(
            state,
            &csvs,
            &namespace,
            &name,
            &rest::DeleteOptions::default(),
        );
        return;
    }
    let groups = state.store.list(OPERATOR_GROUPS, Some(&namespace)).0;
    let group = match groups.as_slice() {
        [] => {
            write_csv_status(
                state,
                &csvs,
                csv,
                "Failed",
                "NoOperatorGroup",
                "csv in namespace with no operatorgroups",
            );
            return;
        }
        [group] => group.clone(),
        _ => {
            write_csv_status(state, &csvs, csv, "Failed", "TooManyOperatorGroups", "csv created in namespace with multiple operatorgroups, can't pick one automatically");
            return;
        }
    };
    let (mode, description) = install_mode(&group, &namespace);
    let supported = csv["spec"]["installModes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|entry| entry["type"] == format!("{mode:?}") && entry["supported"] == true);
    if !supported {
        write_csv_status(
            state,
            &csvs,
            csv,
            "Failed",
            "UnsupportedOperatorGroup",
            &format!(
                "{mode:?} InstallModeType not supported, cannot configure to watch {description}"
            ),
        );
        return;
    }
    // The operator group's annotations, as OLM sets them.
    let targets = if mode == InstallModeType::AllNamespaces {
        String::new()
    } else {
        group["spec"]["targetNamespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(",")
    };
    let annotations = json!({"olm.operatorGroup": metadata_str(&group, "name"), "olm.operatorNamespace": namespace, "olm.targetNamespaces": targets});
    let current_annotations = &csv["metadata"]["annotations"];
    if [
        "olm.operatorGroup",
        "olm.operatorNamespace",
        "olm.targetNamespaces",
    ]
    .iter()
    .any(|key| current_annotations[*key] != annotations[*key])
    {
        let mut next = csv.clone();
        for key in [
            "olm.operatorGroup",
            "olm.operatorNamespace",
            "olm.targetNamespaces",
        ] {
            next["metadata"]["annotations"][key] = annotations[key].clone();
        }
        if let Some(metadata) = next["metadata"].as_object_mut() {
            metadata.shift_remove("resourceVersion");
        }
        // The annotation write comes back as an event and this CSV is reconciled again.
        let _ = rest::replace(
            state,
            &csvs,
            &namespace,
            &name,
            Part::Main,
            next,
            &options(OLM_OPERATOR),
            ReplaceOperation::Update,
        );
        return;
    }
    let install = &csv["spec"]["install"];
    let deployments = install["spec"]["deployments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let valid = install["strategy"] == "deployment"
        && !deployments.is_empty()
        && deployments.iter().all(|deployment| {
            deployment["name"]
                .as_str()
                .is_some_and(|name| !name.is_empty())
                && deployment["spec"].is_object()
        });
    if !valid {
        write_csv_status(state, &csvs, csv, "Failed", "InvalidInstallStrategy", "install strategy invalid: spec.install must have strategy `deployment` and deployments with a name and a spec");
        return;
    }
    let Some(deployment_type) = state.registry.lookup("apps", "v1", "deployments") else {
        return;
    };
    let mut waiting = None;
    for deployment in &deployments {
        let deployment_name = deployment["name"].as_str().unwrap_or_default();
        let wanted = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": deployment_name,
                "namespace": namespace,
                "labels": {"olm.owner": name, "olm.owner.kind": "ClusterServiceVersion", "olm.owner.namespace": namespace},
                "ownerReferences": [{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion", "name": name, "uid": metadata_str(csv, "uid"), "controller": false, "blockOwnerDeletion": false}],
            },
            "spec": deployment["spec"],
        });
        match state
            .store
            .get("apps/deployments", &namespace, deployment_name)
        {
            None => {
                if let Err(error) = rest::create(
                    state,
                    &deployment_type,
                    Some(&namespace),
                    wanted,
                    &options(OLM_OPERATOR),
                ) {
                    write_csv_status(
                        state,
                        &csvs,
                        csv,
                        "Failed",
                        "InstallComponentFailed",
                        &format!("install strategy failed: deployment {deployment_name}: {error}"),
                    );
                    return;
                }
                waiting = Some(deployment_name.to_string());
            }
            Some(current) => {
                let owned_here =
                    current["metadata"]["labels"]["olm.owner"].as_str() == Some(name.as_str());
                if !owned_here
                    || current["spec"]["template"] != deployment["spec"]["template"]
                    || current["spec"]["replicas"] != deployment["spec"]["replicas"]
                {
                    let mut next = (*current).clone();
                    next["spec"] = deployment["spec"].clone();
                    next["metadata"]["labels"] = wanted["metadata"]["labels"].clone();
                    next["metadata"]["ownerReferences"] =
                        wanted["metadata"]["ownerReferences"].clone();
                    if let Some(metadata) = next["metadata"].as_object_mut() {
                        metadata.shift_remove("resourceVersion");
                    }
                    if let Err(error) = rest::replace(
                        state,
                        &deployment_type,
                        &namespace,
                        deployment_name,
                        Part::Main,
                        next,
                        &options(OLM_OPERATOR),
                        ReplaceOperation::Update,
                    ) {
                        write_csv_status(
                            state,
                            &csvs,
                            csv,
                            "Failed",
                            "InstallComponentFailed",
                            &format!(
                                "install strategy failed: deployment {deployment_name}: {error}"
                            ),
                        );
                        return;
                    }
                    waiting = Some(deployment_name.to_string());
                } else if !deployment_available(&current) {
                    waiting = Some(deployment_name.to_string());
                }
            }
        }
    }
    match waiting {
        Some(deployment) => write_csv_status(
            state,
            &csvs,
            csv,
            "Installing",
            "InstallWaiting",
            &format!("installing: waiting for deployment {deployment} to become ready: deployment \"{deployment}\" not available: Deployment does not have minimum availability."),
        ),
        None => {
            write_csv_status(state, &csvs, csv, "Succeeded", "InstallSucceeded", "install strategy completed with no errors");
            if mode == InstallModeType::AllNamespaces {
                copy_everywhere(state, &csvs, csv, &namespace);
            }
            // The CSV it replaces goes now.
            if let Some(replaced) = csv["spec"]["replaces"].as_str() {
                queue.push(CSVS, &namespace, replaced);
            }
        }
    }
}

fn copy_everywhere(state: &ApiState, csvs: &ResourceType, csv: &Value, namespace: &str) {
    let name = metadata_str(csv, "name").unwrap_or_default();
    let message = format!("The operator is running in {namespace} but is managing this namespace");
    for target in state.store.list("/namespaces", None).0 {
        let target_name = metadata_str(&target, "name").unwrap_or_default();
        if target_name == namespace || metadata_str(&target, "deletionTimestamp").is_some() {
            continue;
        }
        let existing = state.store.get(CSVS, target_name, name);
        if existing
            .as_ref()
            .is_some_and(|copy| copy["spec"] == csv["spec"] && copy["status"]["reason"] == "Copied")
        {
            continue;
        }
        let mut copy = json!({
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "ClusterServiceVersion",
            "metadata": {
                "name": name,
                "namespace": target_name,
                "labels": {COPIED_FROM: namespace, "olm.managed": "true"},
                "annotations": csv["metadata"]["annotations"].clone(),
            },
            "spec": csv["spec"].clone(),
        });
        let stored = match existing {
            None => rest::create(state, csvs, Some(target_name), copy, &options(OLM_OPERATOR)),
            Some(current) => {
                copy["metadata"]["uid"] = current["metadata"]["uid"].clone();
                rest::replace(
                    state,
                    csvs,
                    target_name,
                    name,
                    Part::Main,
                    copy,
                    &options(OLM_OPERATOR),
                    ReplaceOperation::Update,
                )
            }
        };
        if let Ok(stored) = stored {
            let status = csv_status("Succeeded", "Copied", &message);
            write_status(state, csvs, &stored, status, OLM_OPERATOR);
        }
    }
}

fn remove_copies(state: &ApiState, namespace: &str, name: &str) {
    let Some(csvs) = resource(state, "clusterserviceversions") else {
        return;
    };
    for copy in state.store.list(CSVS, None).0 {
        if metadata_str(&copy, "name") == Some(name)
            && copy["metadata"]["labels"][COPIED_FROM].as_str() == Some(namespace)
        {
            let copy_namespace = metadata_str(&copy, "namespace")
                .unwrap_or_default()
                .to_string();
            let _ = rest::delete(
                state,
                &csvs,
                &copy_namespace,
                name,
                &rest::DeleteOptions::default(),
            );
        }
    }
}
