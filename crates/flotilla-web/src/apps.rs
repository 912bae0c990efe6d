//! Applications read and operated through the cluster, shared by `flotilla app …` and the
//! `/api/v1` endpoints: the Application resource, list and get, an operation (sync) requested
//! on an Application (refused while another one is requested or running), a refresh asked by
//! Argo CD's annotation, the Events recorded about an Application, its AppProject's source and
//! destination rules, and the resource tree (`status.resources` with their live owners).
//!
//! Everything goes through the kube API as any client's request would: nothing here reads the
//! engine's memory, so the CLI (which runs no engine) and the controller's API agree.

use std::collections::{BTreeSet, HashMap, HashSet};

use flotilla_engine::cluster::{ClusterError, ResourceInfo};
use flotilla_engine::model::{AppProjectSpec, ApplicationSpec, REFRESH_ANNOTATION};
use flotilla_engine::Cluster;
use serde_json::{json, Value};

const APPLICATION_API: &str = "argoproj.io/v1alpha1";

/// The action of an [`AppError::Cluster`] from discovering the Application resource (the first
/// request, which tells whether the cluster answers at all).
pub const DISCOVERING: &str = "discovering the Application resource";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the cluster at {server} serves no Applications (`argoproj.io/v1alpha1`)")]
    NotServed { server: String },
    #[error("application `{name}` not found in namespace `{namespace}`")]
    NotFound { namespace: String, name: String },
    #[error("another operation is already requested on `{name}`")]
    OperationRequested { name: String },
    #[error("another operation is running on `{name}`: {message}")]
    OperationRunning { name: String, message: String },
    #[error("rollback cannot be initiated when auto-sync is enabled")]
    RollbackAutomated { name: String },
    #[error("application `{name}` has no history entry {entry}")]
    NoHistoryEntry { name: String, entry: String },
    #[error("`{name}` names project `{project}`, which does not exist")]
    NoProject { name: String, project: String },
    #[error("project `{project}` of `{name}` does not permit {what}")]
    NotPermitted {
        name: String,
        project: String,
        what: String,
    },
    #[error("{action}")]
    Cluster {
        action: String,
        #[source]
        source: ClusterError,
    },
}

impl AppError {
    fn cluster(action: impl Into<String>) -> impl FnOnce(ClusterError) -> AppError {
        let action = action.into();
        move |source| AppError::Cluster { action, source }
    }
}

/// The Application resource; [`AppError::NotServed`] only when the server says so.
pub async fn resource(cluster: &Cluster) -> Result<ResourceInfo, AppError> {
    match cluster.resource(APPLICATION_API, "Application").await {
        Ok(info) => Ok(info),
        Err(ClusterError::UnknownKind { .. }) => Err(AppError::NotServed {
            server: cluster.server.trim_end_matches('/').to_string(),
        }),
        Err(source) => Err(AppError::Cluster {
            action: DISCOVERING.into(),
            source,
        }),
    }
}

/// The Applications of `namespace` (all when None), selected by `label_selector` when given.
pub async fn list(
    cluster: &Cluster,
    namespace: Option<&str>,
    label_selector: Option<&str>,
) -> Result<Vec<Value>, AppError> {
    let info = resource(cluster).await?;
    let parameters = match label_selector.filter(|selector| !selector.is_empty()) {
        Some(selector) => flotilla_engine::cluster::list_params_with_labels(selector),
        None => Default::default(),
    };
    let mut list = cluster
        .list(&info, namespace, &parameters)
        .await
        .map_err(AppError::cluster("listing Applications"))?;
    match list["items"].take() {
        Value::Array(items) => Ok(items),
        _ => Ok(Vec::new()),
    }
}

pub async fn get(cluster: &Cluster, namespace: &str, name: &str) -> Result<Value, AppError> {
    let info = resource(cluster).await?;
    cluster
        .get(&info, Some(namespace), name)
        .await
        .map_err(AppError::cluster(format!("reading application `{name}`")))?
        .ok_or_else(|| AppError::NotFound {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
}

/// The message of the operation running on an Application (`Running` or `Terminating`).
pub fn operation_running(application: &Value) -> Option<String> {
    let state = &application["status"]["operationState"];
    matches!(state["phase"].as_str(), Some("Running" | "Terminating")).then(|| {
        state["message"]
            .as_str()
            .filter(|message| !message.is_empty())
            .unwrap_or("running")
            .to_string()
    })
}

/// Writes `operation` on the Application for the controller to run; returns the Application as
/// it was before (its `status.operationState` tells the new state from the old). Refused while
/// another operation is requested, or running unless that one is automated (a requested sync
/// takes over from an automated one, as in Argo CD).
pub async fn request_operation(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    operation: Value,
) -> Result<Value, AppError> {
    let info = resource(cluster).await?;
    let before = get(cluster, namespace, name).await?;
    if before["operation"].is_object() {
        return Err(AppError::OperationRequested {
            name: name.to_string(),
        });
    }
    if let Some(message) = operation_running(&before) {
        if before["status"]["operationState"]["operation"]["initiatedBy"]["automated"]
            != json!(true)
        {
            return Err(AppError::OperationRunning {
                name: name.to_string(),
                message,
            });
        }
    }
    cluster
        .merge_patch(
            &info,
            Some(namespace),
            name,
            &json!({"operation": operation}),
        )
        .await
        .map_err(AppError::cluster(format!(
            "requesting the operation on `{name}`"
        )))?;
    Ok(before)
}

/// The operation that rolls an Application back to history entry `id` (default: the one before
/// the current), as `argocd app rollback`: a sync with prune to that entry's revision and
/// source; refused while automated sync is on.
pub fn rollback_operation(
    application: &Value,
    id: Option<i64>,
    initiated_by: &str,
) -> Result<Value, AppError> {
    let name = application["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if application["spec"]["syncPolicy"]["automated"].is_object() {
        return Err(AppError::RollbackAutomated { name });
    }
    let history = application["status"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let entry = match id {
        Some(id) => history.iter().find(|entry| entry["id"] == json!(id)),
        None => history.iter().rev().nth(1),
    }
    .ok_or_else(|| AppError::NoHistoryEntry {
        name,
        entry: id
            .map(|id| id.to_string())
            .unwrap_or_else(|| "before the current one".into()),
    })?;
    Ok(json!({
        "sync": {"revision": entry["revision"], "prune": true, "source": entry["source"]},
        "initiatedBy": {"username": initiated_by},
    }))
}

/// What a sync of an Application would change (the engine's preview) as data: the objects that
/// differ, each with its reasons and unified diff (Secrets masked), and the findings of the
/// pre-sync gate (`guardrails`, `blocked`). `flotilla app diff -o json` prints it; the API
/// serves it.
pub fn preview_data(
    namespace: &str,
    name: &str,
    preview: &flotilla_engine::reconcile::Preview,
) -> Value {
    let differences: Vec<Value> = preview
        .entries
        .iter()
        .filter(|entry| !entry.in_sync)
        .map(|entry| {
            let diff = flotilla_diff::render_diff(
                entry.predicted.as_ref().or(entry.desired.as_ref()),
                entry.live.as_ref(),
                flotilla_engine::cluster::FIELD_MANAGER,
                &preview.rules,
            );
            let mut data = json!({
                "resource": entry.resource,
                "inCluster": entry.live.is_some(),
                "reasons": entry.reasons,
            });
            match diff {
                Ok(diff) => data["diff"] = json!(diff),
                Err(error) => data["diffError"] = json!(error.to_string()),
            }
            data
        })
        .collect();
    let guardrails: Vec<Value> = preview
        .guardrails
        .findings
        .iter()
        .map(|finding| {
            let mut data = serde_json::to_value(finding).unwrap_or(Value::Null);
            data["blocks"] = json!(finding.blocks());
            data
        })
        .collect();
    json!({
        "application": {"namespace": namespace, "name": name},
        "hasDifferences": preview.has_differences(),
        "differences": differences,
        "guardrails": guardrails,
        "blocked": preview.guardrails.blocks(),
    })
}

/// What the pre-sync gate last said about an Application (`Engine::guardrail_findings`) as
/// data: `{"revisions", "findings": [{"rule", "severity", "object": {"group", "kind",
/// "namespace", "name"}, "path", "message", "hint", "overridden", "blocks"}]}`; nothing found,
/// or nothing known, is no findings.
pub fn guardrail_data(remembered: Option<&flotilla_engine::gate::Remembered>) -> Value {
    let Some(remembered) = remembered else {
        return json!({"revisions": [], "findings": []});
    };
    let findings: Vec<Value> = remembered
        .report
        .findings
        .iter()
        .map(|finding| {
            let mut data = serde_json::to_value(finding).unwrap_or(Value::Null);
            data["blocks"] = json!(finding.blocks());
            data
        })
        .collect();
    json!({"revisions": remembered.revisions, "findings": findings})
}

/// The revisions an Application's status was last compared at (`status.sync.revisions` of a
/// multi-source one, else `status.sync.revision`), as the engine's gate remembers them.
pub fn compared_revisions(application: &Value) -> Vec<String> {
    let sync = &application["status"]["sync"];
    match sync["revisions"].as_array() {
        Some(revisions) => revisions
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        None => sync["revision"]
            .as_str()
            .map(|revision| vec![revision.to_string()])
            .unwrap_or_default(),
    }
}

/// One object of a preview (`Kind/namespace/name`): whether it is in sync and why not, its
/// unified diff, and its desired and live manifests (Secret values masked, `managedFields`
/// left out); None when the Application has no such object.
pub fn preview_object(
    preview: &flotilla_engine::reconcile::Preview,
    resource: &str,
) -> Option<Value> {
    let entry = preview
        .entries
        .iter()
        .find(|entry| entry.resource == resource)?;
    let shown = |object: &Option<Value>| -> Value {
        match object {
            Some(object) => {
                let mut masked = flotilla_diff::mask_secret(object);
                if let Some(metadata) = masked["metadata"].as_object_mut() {
                    metadata.remove("managedFields");
                }
                masked
            }
            None => Value::Null,
        }
    };
    let mut data = json!({
        "resource": entry.resource,
        "inSync": entry.in_sync,
        "inCluster": entry.live.is_some(),
        "reasons": entry.reasons,
        "desired": shown(&entry.desired),
        "live": shown(&entry.live),
    });
    if !entry.in_sync {
        match flotilla_diff::render_diff(
            entry.predicted.as_ref().or(entry.desired.as_ref()),
            entry.live.as_ref(),
            flotilla_engine::cluster::FIELD_MANAGER,
            &preview.rules,
        ) {
            Ok(diff) => data["diff"] = json!(diff),
            Err(error) => data["diffError"] = json!(error.to_string()),
        }
    }
    Some(data)
}

/// Asks the controller to compare the Application again (`hard`: and to render its sources
/// anew), by Argo CD's `argocd.argoproj.io/refresh` annotation, which the controller removes.
pub async fn refresh(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    hard: bool,
) -> Result<Value, AppError> {
    let info = resource(cluster).await?;
    get(cluster, namespace, name).await?;
    let level = if hard { "hard" } else { "normal" };
    cluster
        .merge_patch(
            &info,
            Some(namespace),
            name,
            &json!({"metadata": {"annotations": {REFRESH_ANNOTATION: level}}}),
        )
        .await
        .map_err(AppError::cluster(format!("asking to refresh `{name}`")))
}

/// The Events about an Application (its namespace's Events whose `involvedObject` is it),
/// oldest first.
pub async fn events(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
) -> Result<Vec<Value>, AppError> {
    let info = cluster
        .resource("v1", "Event")
        .await
        .map_err(AppError::cluster("discovering the Event resource"))?;
    let mut list = cluster
        .list(&info, Some(namespace), &Default::default())
        .await
        .map_err(AppError::cluster(format!(
            "listing the Events of namespace `{namespace}`"
        )))?;
    let mut events: Vec<Value> = match list["items"].take() {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    events.retain(|event| {
        let involved = &event["involvedObject"];
        involved["kind"] == "Application" && involved["name"] == name
    });
    events.sort_by(|left, right| {
        let at = |event: &Value| {
            event["lastTimestamp"]
                .as_str()
                .or(event["eventTime"].as_str())
                .unwrap_or("")
                .to_string()
        };
        at(left).cmp(&at(right))
    });
    Ok(events)
}

/// The rules of an Application's AppProject, looked up as the controller does: in the control
/// namespace, then in the Application's; `default` is permissive when absent.
pub async fn project(
    cluster: &Cluster,
    control_namespace: &str,
    application: &Value,
) -> Result<Option<AppProjectSpec>, AppError> {
    let name = application["spec"]["project"]
        .as_str()
        .filter(|name| !name.is_empty())
        .unwrap_or("default");
    let info = cluster
        .resource(APPLICATION_API, "AppProject")
        .await
        .map_err(AppError::cluster("discovering the AppProject resource"))?;
    let own = application["metadata"]["namespace"].as_str().unwrap_or("");
    for namespace in [control_namespace, own] {
        let found = cluster
            .get(&info, Some(namespace), name)
            .await
            .map_err(AppError::cluster(format!("reading project `{name}`")))?;
        if let Some(project) = found {
            return Ok(serde_json::from_value(project["spec"].clone()).ok());
        }
    }
    Ok((name == "default").then(AppProjectSpec::permissive))
}

/// Whether the Application's AppProject permits its sources and its destination (what a
/// mutating call is checked against).
pub async fn check_project(
    cluster: &Cluster,
    control_namespace: &str,
    application: &Value,
) -> Result<(), AppError> {
    let name = application["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let project_name = application["spec"]["project"]
        .as_str()
        .filter(|name| !name.is_empty())
        .unwrap_or("default")
        .to_string();
    let refused = |what: String| AppError::NotPermitted {
        name: name.clone(),
        project: project_name.clone(),
        what,
    };
    let Some(project) = project(cluster, control_namespace, application).await? else {
        return Err(AppError::NoProject {
            name: name.clone(),
            project: project_name.clone(),
        });
    };
    let spec: ApplicationSpec = serde_json::from_value(application["spec"].clone())
        .map_err(|error| refused(format!("an invalid spec ({error})")))?;
    for source in spec.all_sources() {
        if !project.permits_source(&source.repo_url) {
            return Err(refused(format!("source repository `{}`", source.repo_url)));
        }
    }
    let server = spec.destination.server.as_deref().unwrap_or("");
    let cluster_name = spec.destination.name.as_deref().unwrap_or("");
    let namespace = spec.destination.namespace();
    if !project.permits_destination(server, cluster_name, namespace) {
        return Err(refused(format!(
            "destination `{}` namespace `{namespace}`",
            if server.is_empty() {
                cluster_name
            } else {
                server
            }
        )));
    }
    Ok(())
}

fn text<'a>(value: &'a Value, fallback: &'a str) -> &'a str {
    value
        .as_str()
        .filter(|text| !text.is_empty())
        .unwrap_or(fallback)
}

/// What a list shows of an Application.
pub fn summary(application: &Value) -> Value {
    let metadata = &application["metadata"];
    let spec = &application["spec"];
    let status = &application["status"];
    let source = if spec["source"].is_object() {
        &spec["source"]
    } else {
        &spec["sources"][0]
    };
    json!({
        "namespace": metadata["namespace"],
        "name": metadata["name"],
        "labels": metadata["labels"].as_object().cloned().unwrap_or_default(),
        "project": text(&spec["project"], "default"),
        "repoURL": text(&source["repoURL"], ""),
        "path": text(&source["path"], text(&source["chart"], "")),
        "targetRevision": text(&source["targetRevision"], "HEAD"),
        "destination": {
            "server": spec["destination"]["server"],
            "name": spec["destination"]["name"],
            "namespace": spec["destination"]["namespace"],
        },
        "sync": text(&status["sync"]["status"], "Unknown"),
        "revision": text(&status["sync"]["revision"], ""),
        "health": text(&status["health"]["status"], "Unknown"),
        "operationPhase": status["operationState"]["phase"],
        "automated": spec["syncPolicy"]["automated"].is_object(),
        "resourceCount": status["resources"].as_array().map(Vec::len).unwrap_or(0),
        // The replica that owns it when the controllers share the Applications.
        "controller": status["controllerShard"],
    })
}

/// A node key: group, kind, namespace, name.
pub(crate) type NodeKey = (String, String, String, String);

fn group_of(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map(|(group, _)| group)
        .unwrap_or("")
}

/// Kinds whose children the tree shows (Argo CD's tree shows them too): a workload's
/// ReplicaSets and Pods, found by their `ownerReferences`.
const CHILD_KINDS: [(&str, &str); 3] = [
    ("apps/v1", "ReplicaSet"),
    ("v1", "Pod"),
    ("batch/v1", "Job"),
];

/// The resource tree of an Application: each of `status.resources` (sync status, health, the
/// reason it is OutOfSync) with its live `uid` and owners, plus the live children the cluster
/// made for them (ReplicaSets, Pods, Jobs owned through `ownerReferences`). Each node names its
/// `parents` by uid; roots have none. Objects are read once per kind and namespace, not one by
/// one.
pub async fn resource_tree(cluster: &Cluster, application: &Value) -> Result<Value, AppError> {
    let resources = application["status"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let live = live_objects(cluster, &resources).await;
    let mut nodes: Vec<Value> = Vec::new();
    let mut uids: HashSet<String> = HashSet::new();
    let mut workload_namespaces: HashSet<String> = HashSet::new();
    for resource in &resources {
        let key = entry_key(resource);
        let object = live.get(&key);
        let mut node = json!({
            "group": key.0,
            "version": text(&resource["version"], ""),
            "kind": key.1,
            "namespace": key.2,
            "name": key.3,
            "sync": text(&resource["status"], "Unknown"),
            "health": resource["health"]["status"],
            "healthMessage": resource["health"]["message"],
            "tracked": true,
            "inCluster": object.is_some(),
            "parents": [],
        });
        if resource["status"] == "OutOfSync" {
            node["reason"] = json!(text(&resource["message"], "differs from Git"));
        } else if let Some(message) = resource["message"].as_str() {
            node["message"] = json!(message);
        }
        if resource["requiresPruning"] == json!(true) {
            node["requiresPruning"] = json!(true);
        }
        if resource["hook"] == json!(true) {
            node["hook"] = json!(true);
        }
        if let Some(object) = object {
            if let Some(uid) = object["metadata"]["uid"].as_str() {
                node["uid"] = json!(uid);
                uids.insert(uid.to_string());
            }
            node["owners"] = owners(object);
            if matches!(
                key.1.as_str(),
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "CronJob" | "Job"
            ) {
                workload_namespaces.insert(key.2.clone());
            }
        }
        nodes.push(node);
    }
    // Live children of the tracked workloads, transitively (Deployment → ReplicaSet → Pod).
    let mut children: Vec<Value> = Vec::new();
    for (api_version, kind) in CHILD_KINDS {
        let Ok(info) = cluster.resource(api_version, kind).await else {
            continue;
        };
        for namespace in &workload_namespaces {
            let Ok(mut list) = cluster
                .list(&info, Some(namespace), &Default::default())
                .await
            else {
                continue;
            };
            if let Value::Array(items) = list["items"].take() {
                children.extend(items.into_iter().filter(|item| {
                    item["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|owners| !owners.is_empty())
                }));
            }
        }
    }
    let mut added = true;
    while added {
        added = false;
        for child in &children {
            let uid = text(&child["metadata"]["uid"], "");
            if uid.is_empty() || uids.contains(uid) {
                continue;
            }
            let owned = child["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|owners| {
                    owners
                        .iter()
                        .any(|owner| uids.contains(text(&owner["uid"], "")))
                });
            if !owned {
                continue;
            }
            uids.insert(uid.to_string());
            let api_version = text(&child["apiVersion"], "v1");
            let health = flotilla_health::assess(child);
            let (health, health_message) = match &health {
                Some(health) => (json!(health.status.as_str()), json!(health.message)),
                None => (Value::Null, Value::Null),
            };
            nodes.push(json!({
                "group": group_of(api_version),
                "version": api_version.rsplit('/').next().unwrap_or(api_version),
                "kind": child["kind"],
                "namespace": child["metadata"]["namespace"],
                "name": child["metadata"]["name"],
                "uid": uid,
                "owners": owners(child),
                "tracked": false,
                "inCluster": true,
                "health": health,
                "healthMessage": health_message,
                "parents": [],
            }));
            added = true;
        }
    }
    // Parents: the owners that are nodes of this tree.
    for node in &mut nodes {
        let parents: Vec<Value> = node["owners"]
            .as_array()
            .map(|owners| {
                owners
                    .iter()
                    .filter(|owner| uids.contains(text(&owner["uid"], "")))
                    .map(|owner| owner["uid"].clone())
                    .collect()
            })
            .unwrap_or_default();
        node["parents"] = json!(parents);
    }
    let out_of_sync = nodes
        .iter()
        .filter(|node| node["sync"] == "OutOfSync")
        .count();
    Ok(json!({
        "application": {
            "namespace": application["metadata"]["namespace"],
            "name": application["metadata"]["name"],
        },
        "nodes": nodes,
        "outOfSync": out_of_sync,
    }))
}

/// The live objects of `status.resources` entries, by (group, kind, namespace, name): each
/// (apiVersion, kind, namespace) collection read once; objects of kinds the cluster does not
/// serve, or lists it refuses, are left out. Objects of the collections that are not tracked
/// come along (the caller looks up the ones it wants).
pub(crate) async fn live_objects(
    cluster: &Cluster,
    resources: &[Value],
) -> HashMap<NodeKey, Value> {
    let mut collections: BTreeSet<(String, String, String)> = BTreeSet::new();
    for resource in resources {
        let group = text(&resource["group"], "");
        let version = text(&resource["version"], "v1");
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        collections.insert((
            api_version,
            text(&resource["kind"], "").to_string(),
            text(&resource["namespace"], "").to_string(),
        ));
    }
    let mut live: HashMap<NodeKey, Value> = HashMap::new();
    for (api_version, kind, namespace) in &collections {
        let Ok(info) = cluster.resource(api_version, kind).await else {
            continue;
        };
        let scope = (!namespace.is_empty()).then_some(namespace.as_str());
        let Ok(mut list) = cluster.list(&info, scope, &Default::default()).await else {
            continue;
        };
        if let Value::Array(items) = list["items"].take() {
            for item in items {
                let key = (
                    group_of(api_version).to_string(),
                    kind.clone(),
                    text(&item["metadata"]["namespace"], "").to_string(),
                    text(&item["metadata"]["name"], "").to_string(),
                );
                live.insert(key, item);
            }
        }
    }
    live
}

/// The key of a `status.resources` entry in [`live_objects`]' map.
pub(crate) fn entry_key(resource: &Value) -> NodeKey {
    (
        text(&resource["group"], "").to_string(),
        text(&resource["kind"], "").to_string(),
        text(&resource["namespace"], "").to_string(),
        text(&resource["name"], "").to_string(),
    )
}

fn owners(object: &Value) -> Value {
    json!(object["metadata"]["ownerReferences"]
        .as_array()
        .map(|owners| {
            owners
                .iter()
                .map(|owner| {
                    json!({"kind": owner["kind"], "name": owner["name"], "uid": owner["uid"], "controller": owner["controller"]})
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default())
}
