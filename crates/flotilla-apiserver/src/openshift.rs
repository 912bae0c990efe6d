//! OpenShift in the embedded cluster (`--openshift`): the OpenShift APIs that are not CRDs on a
//! real cluster (Route, Project, ProjectRequest, SecurityContextConstraints, ImageStream,
//! ClusterVersion, ConsoleLink; definitions and schemas from `flotilla-catalog`) served as
//! built-in kinds, OLM's own CRDs, the namespaces, catalog sources, global OperatorGroup and
//! ClusterVersion a fresh cluster has, and the behaviour of the OpenShift API server and router:
//! a Route's `spec.host` defaulted to `<name>-<namespace>.apps.<cluster domain>` on create and
//! its `status.ingress` Admitted; a ProjectRequest made into a Namespace and answered with the
//! Project; every Namespace mirrored as a Project and a Project created or deleted as its
//! Namespace.
//!
//! Invariant: everything here goes through `rest` (validation, resourceVersion, watch events)
//! with the field managers OpenShift's components use, so clients see what a cluster shows.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch as signal;

use crate::error::ApiError;
use crate::http::App;
use crate::registry::ResourceType;
use crate::rest::{self, ApiState, WriteOptions};
use crate::storage::EventType;
use crate::util::{self, metadata_str};

/// What `--openshift` was given.
#[derive(Clone, Debug)]
pub struct OpenShiftConfig {
    /// Routes get `<name>-<namespace>.apps.<cluster_domain>`.
    pub cluster_domain: String,
}

impl Default for OpenShiftConfig {
    fn default() -> Self {
        OpenShiftConfig {
            cluster_domain: "flotilla.local".to_string(),
        }
    }
}

/// The namespaces a fresh OpenShift cluster has, beside Kubernetes' own.
pub const OPENSHIFT_NAMESPACES: &[&str] = &[
    "openshift",
    "openshift-config",
    "openshift-config-managed",
    "openshift-console",
    "openshift-gitops",
    "openshift-ingress",
    "openshift-infra",
    "openshift-marketplace",
    "openshift-monitoring",
    "openshift-operator-lifecycle-manager",
    "openshift-operators",
];

const ROUTER: &str = "openshift-router";
const APISERVER: &str = "openshift-apiserver";

fn options(manager: &str) -> WriteOptions {
    WriteOptions {
        field_manager: Some(manager.to_string()),
        ..WriteOptions::default()
    }
}

/// The OpenShift API kinds, as resource types served like built-in kinds (validated against
/// their schemas, not listed as CRDs).
pub fn api_types() -> Vec<ResourceType> {
    flotilla_catalog::Catalog::embedded()
        .openshift_apis
        .iter()
        .flat_map(|definition| {
            crate::crd::resource_types(&json!({"spec": definition.spec}))
                .into_iter()
                .map(|mut resource| {
                    resource.custom = false;
                    resource
                })
        })
        .collect()
}

/// Registers the OpenShift APIs, creates OLM's CRDs and the objects a fresh cluster has.
pub fn install(state: &ApiState) {
    state.registry.add_builtins(api_types());
    state
        .registry
        .add_builtins(vec![crate::olm::package_manifest_type()]);
    let Some(crds) =
        state
            .registry
            .lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    else {
        return;
    };
    for definition in &flotilla_catalog::Catalog::embedded().openshift_crds {
        if state
            .store
            .get(crate::crd::CRD_STORAGE_KEY, "", &definition.name())
            .is_none()
        {
            let body = json!({
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": definition.name()},
                "spec": definition.spec,
            });
            let _ = rest::create(state, &crds, None, body, &options("olm"));
        }
    }
    if let Some(namespaces) = state.registry.lookup("", "v1", "namespaces") {
        for name in OPENSHIFT_NAMESPACES {
            if state.store.get("/namespaces", "", name).is_none() {
                let body =
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
                let _ = rest::create(state, &namespaces, None, body, &options(APISERVER));
            }
        }
    }
    crate::olm::install_defaults(state);
    if let Some(versions) = state
        .registry
        .lookup("config.openshift.io", "v1", "clusterversions")
    {
        if state
            .store
            .get("config.openshift.io/clusterversions", "", "version")
            .is_none()
        {
            let body = json!({
                "apiVersion": "config.openshift.io/v1",
                "kind": "ClusterVersion",
                "metadata": {"name": "version"},
                "spec": {"clusterID": util::new_uid(), "channel": "stable-4.16"},
            });
            if let Ok(created) = rest::create(
                state,
                &versions,
                None,
                body,
                &options("cluster-version-operator"),
            ) {
                let mut next = (*created).clone();
                next["status"] = json!({
                    "desired": {"version": "4.16.0", "image": "flotilla.local/openshift/release:4.16.0"},
                    "history": [{"state": "Completed", "version": "4.16.0", "startedTime": util::now_rfc3339(), "completionTime": util::now_rfc3339(), "verified": false, "image": "flotilla.local/openshift/release:4.16.0"}],
                    "observedGeneration": 1,
                    "versionHash": "flotilla",
                    "conditions": [{"type": "Available", "status": "True", "lastTransitionTime": util::now_rfc3339(), "message": "Done applying 4.16.0"}],
                });
                write_status(state, &versions, &next, "cluster-version-operator");
            }
        }
    }
}

fn write_status(state: &ApiState, resource: &ResourceType, object: &Value, manager: &str) {
    rest::write_status_as(state, resource, object, object["status"].clone(), manager);
}

fn is(resource: &ResourceType, group: &str, plural: &str) -> bool {
    resource.group == group && resource.plural == plural && !resource.custom
}

/// Defaults OpenShift's API server applies on create: a Route's host.
pub fn default_on_create(
    state: &ApiState,
    resource: &ResourceType,
    namespace: &str,
    body: &mut Value,
) {
    let Some(config) = &state.openshift else {
        return;
    };
    if is(resource, "route.openshift.io", "routes") {
        let has_host = body["spec"]["host"]
            .as_str()
            .is_some_and(|host| !host.is_empty());
        let has_subdomain = body["spec"]["subdomain"]
            .as_str()
            .is_some_and(|subdomain| !subdomain.is_empty());
        if !has_host && body["spec"].is_object() {
            let name = metadata_str(body, "name").unwrap_or_default();
            let host = if has_subdomain {
                format!(
                    "{}.apps.{}",
                    body["spec"]["subdomain"].as_str().unwrap_or_default(),
                    config.cluster_domain
                )
            } else {
                format!("{name}-{namespace}.apps.{}", config.cluster_domain)
            };
            body["spec"]["host"] = json!(host);
        }
    }
}

/// Handles a create that OpenShift answers itself: a ProjectRequest becomes a Namespace and is
/// answered with its Project (nothing is stored under `projectrequests`). `None` for other kinds.
pub fn create_instead(
    state: &ApiState,
    resource: &ResourceType,
    body: &Value,
    write_options: &WriteOptions,
) -> Option<Result<Arc<Value>, ApiError>> {
    state.openshift.as_ref()?;
    if is(resource, "project.openshift.io", "projectrequests") {
        return Some(project_request(state, body, write_options));
    }
    None
}

fn project_annotations(display_name: Option<&str>, description: Option<&str>) -> Value {
    let mut annotations = serde_json::Map::new();
    annotations.insert("openshift.io/requester".into(), json!("flotilla"));
    if let Some(display_name) = display_name.filter(|text| !text.is_empty()) {
        annotations.insert("openshift.io/display-name".into(), json!(display_name));
    }
    if let Some(description) = description.filter(|text| !text.is_empty()) {
        annotations.insert("openshift.io/description".into(), json!(description));
    }
    Value::Object(annotations)
}

fn project_request(
    state: &ApiState,
    body: &Value,
    write_options: &WriteOptions,
) -> Result<Arc<Value>, ApiError> {
    let name = metadata_str(body, "name").unwrap_or_default().to_string();
    let Some(namespaces) = state.registry.lookup("", "v1", "namespaces") else {
        return Err(ApiError::Internal {
            message: "namespaces are not served".to_string(),
        });
    };
    if state.store.get("/namespaces", "", &name).is_some() {
        return Err(ApiError::AlreadyExists {
            group: "project.openshift.io".to_string(),
            resource: "projectrequests".to_string(),
            name,
        });
    }
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "annotations": project_annotations(body["displayName"].as_str(), body["description"].as_str()),
        },
    });
    let created = rest::create(state, &namespaces, None, namespace, write_options)?;
    Ok(Arc::new(project_of(&created)))
}

/// The Project a Namespace is.
fn project_of(namespace: &Value) -> Value {
    let mut metadata = namespace["metadata"].clone();
    if let Some(metadata) = metadata.as_object_mut() {
        for field in ["resourceVersion", "managedFields", "uid", "generation"] {
            metadata.shift_remove(field);
        }
    }
    json!({
        "apiVersion": "project.openshift.io/v1",
        "kind": "Project",
        "metadata": metadata,
        "spec": {"finalizers": namespace["spec"]["finalizers"].clone()},
        "status": {"phase": namespace["status"]["phase"].as_str().unwrap_or("Active")},
    })
}

/// Starts the OpenShift controllers: Projects mirror Namespaces, Routes are admitted.
pub fn start(app: Arc<App>, mut shutdown: signal::Receiver<bool>) {
    let Ok(mut subscription) = app.api.store.subscribe(None) else {
        return;
    };
    tokio::spawn(async move {
        for namespace in app.api.store.list("/namespaces", None).0 {
            mirror_namespace(&app.api, &namespace);
        }
        for route in app.api.store.list("route.openshift.io/routes", None).0 {
            admit_route(&app.api, &route);
        }
        loop {
            let received = tokio::select! {
                received = subscription.live.recv() => received,
                _ = shutdown.changed() => return,
            };
            let event = match received {
                Ok(event) => event,
                Err(RecvError::Lagged(_)) => {
                    for namespace in app.api.store.list("/namespaces", None).0 {
                        mirror_namespace(&app.api, &namespace);
                    }
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            match (&*event.storage_key, event.event_type) {
                ("/namespaces", EventType::Deleted) => {
                    delete_project(&app.api, &event.name);
                }
                ("/namespaces", _) => mirror_namespace(&app.api, &event.object),
                ("project.openshift.io/projects", EventType::Deleted) => {
                    delete_namespace(&app.api, &event.name);
                }
                ("project.openshift.io/projects", _) => ensure_namespace(&app.api, &event.object),
                ("route.openshift.io/routes", EventType::Added | EventType::Modified) => {
                    admit_route(&app.api, &event.object)
                }
                _ => {}
            }
        }
    });
}

fn projects(state: &ApiState) -> Option<ResourceType> {
    state
        .registry
        .lookup("project.openshift.io", "v1", "projects")
}

fn mirror_namespace(state: &ApiState, namespace: &Value) {
    let Some(projects) = projects(state) else {
        return;
    };
    let name = metadata_str(namespace, "name").unwrap_or_default();
    let wanted = project_of(namespace);
    match state.store.get("project.openshift.io/projects", "", name) {
        None => {
            if metadata_str(namespace, "deletionTimestamp").is_none() {
                let mut body = wanted.clone();
                if let Some(metadata) = body["metadata"].as_object_mut() {
                    metadata.shift_remove("creationTimestamp");
                }
                if let Ok(created) = rest::create(state, &projects, None, body, &options(APISERVER))
                {
                    let mut next = (*created).clone();
                    next["status"] = wanted["status"].clone();
                    write_status(state, &projects, &next, APISERVER);
                }
            }
        }
        Some(current) => {
            if current["status"] != wanted["status"] {
                let mut next = (*current).clone();
                next["status"] = wanted["status"].clone();
                write_status(state, &projects, &next, APISERVER);
            }
        }
    }
}

fn ensure_namespace(state: &ApiState, project: &Value) {
    let name = metadata_str(project, "name").unwrap_or_default();
    if name.is_empty() || metadata_str(project, "deletionTimestamp").is_some() {
        return;
    }
    if state.store.get("/namespaces", "", name).is_some() {
        return;
    }
    let Some(namespaces) = state.registry.lookup("", "v1", "namespaces") else {
        return;
    };
    let annotations = project["metadata"]["annotations"].clone();
    let mut metadata = json!({"name": name});
    if annotations.is_object() {
        metadata["annotations"] = annotations;
    }
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata});
    let _ = rest::create(state, &namespaces, None, body, &options(APISERVER));
}

fn delete_project(state: &ApiState, name: &str) {
    if let Some(projects) = projects(state) {
        if state
            .store
            .get("project.openshift.io/projects", "", name)
            .is_some()
        {
            let _ = rest::delete(state, &projects, "", name, &rest::DeleteOptions::default());
        }
    }
}

fn delete_namespace(state: &ApiState, name: &str) {
    let Some(namespaces) = state.registry.lookup("", "v1", "namespaces") else {
        return;
    };
    if let Some(namespace) = state.store.get("/namespaces", "", name) {
        if metadata_str(&namespace, "deletionTimestamp").is_none() {
            let _ = rest::delete(
                state,
                &namespaces,
                "",
                name,
                &rest::DeleteOptions::default(),
            );
        }
    }
}

fn admit_route(state: &ApiState, route: &Value) {
    if metadata_str(route, "deletionTimestamp").is_some() {
        return;
    }
    let Some(routes) = state.registry.lookup("route.openshift.io", "v1", "routes") else {
        return;
    };
    let host = route["spec"]["host"].as_str().unwrap_or_default();
    let admitted = route["status"]["ingress"]
        .as_array()
        .and_then(|ingress| ingress.first())
        .is_some_and(|ingress| ingress["host"].as_str() == Some(host));
    if admitted {
        return;
    }
    let mut next = route.clone();
    next["status"] = json!({"ingress": [{
        "host": host,
        "routerName": "default",
        "routerCanonicalHostname": state.openshift.as_ref().map(|config| format!("router-default.apps.{}", config.cluster_domain)),
        "wildcardPolicy": route["spec"]["wildcardPolicy"].as_str().unwrap_or("None"),
        "conditions": [{"type": "Admitted", "status": "True", "lastTransitionTime": util::now_rfc3339()}],
    }]});
    write_status(state, &routes, &next, ROUTER);
}
