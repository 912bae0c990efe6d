//! Where an Application may deploy and where it does: its AppProject (from the watch cache;
//! `default` is permissive when absent) and its destination cluster (the controller's own, or
//! one registered as an Argo CD cluster Secret, whose watch cache is made on first use).
//!
//! Depends on `context`, `live`, `cluster`, `model` and `status` (conditions).

use std::sync::Arc;

use serde_json::Value;

use crate::context::{AppKey, Shared};
use crate::live::LiveCache;
use crate::model::{
    AppProjectSpec, ApplicationSpec, GROUP, IN_CLUSTER_NAME, IN_CLUSTER_SERVER, VERSION,
};
use crate::status::condition;

pub(super) fn find_project(shared: &Shared, key: &AppKey, name: &str) -> Option<AppProjectSpec> {
    let projects = shared
        .home
        .watched(&format!("{GROUP}/{VERSION}"), "AppProject");
    let found = projects.and_then(|projects| {
        projects
            .get(&shared.config.control_namespace, name)
            .or_else(|| projects.get(&key.0, name))
    });
    match found {
        Some(project) => serde_json::from_value(project["spec"].clone()).ok(),
        None if name == "default" => Some(AppProjectSpec::permissive()),
        None => None,
    }
}

/// The cluster an Application deploys to: the controller's own, or one registered as an Argo CD
/// cluster Secret in the control namespace.
pub(super) async fn destination_cluster(
    shared: &Arc<Shared>,
    spec: &ApplicationSpec,
) -> Result<(Arc<LiveCache>, String, String), Vec<Value>> {
    let server = spec.destination.server.clone().unwrap_or_default();
    let name = spec.destination.name.clone().unwrap_or_default();
    if !server.is_empty() && !name.is_empty() {
        return Err(vec![condition(
            "InvalidSpecError",
            "application destination can't have both name and server defined",
        )]);
    }
    if server == IN_CLUSTER_SERVER
        || name == IN_CLUSTER_NAME
        || (server.is_empty() && name.is_empty())
    {
        if server.is_empty() && name.is_empty() {
            return Err(vec![condition(
                "InvalidSpecError",
                "application destination needs a server or a name",
            )]);
        }
        return Ok((
            shared.home.clone(),
            IN_CLUSTER_SERVER.to_string(),
            IN_CLUSTER_NAME.to_string(),
        ));
    }
    if let Some(cache) = shared
        .remotes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .values()
        .find(|cache| {
            (!server.is_empty() && cache.cluster.server == server)
                || (!name.is_empty() && cache.cluster.name == name)
        })
        .cloned()
    {
        return Ok((
            cache.clone(),
            cache.cluster.server.clone(),
            cache.cluster.name.clone(),
        ));
    }
    // Look the cluster up among the Argo CD cluster Secrets.
    let secrets_info = shared
        .home
        .cluster
        .resource("v1", "Secret")
        .await
        .map_err(|error| vec![condition("ComparisonError", error.to_string())])?;
    let parameters =
        kube::api::ListParams::default().labels("argocd.argoproj.io/secret-type=cluster");
    let list = shared
        .home
        .cluster
        .list(
            &secrets_info,
            Some(&shared.config.control_namespace),
            &parameters,
        )
        .await
        .map_err(|error| {
            vec![condition(
                "ComparisonError",
                format!("cannot list cluster Secrets: {error}"),
            )]
        })?;
    for secret in list["items"].as_array().cloned().unwrap_or_default() {
        let cluster = match crate::cluster::cluster_from_secret(&secret) {
            Ok(cluster) => cluster,
            Err(error) => {
                tracing::warn!(%error, "skipping a cluster Secret");
                continue;
            }
        };
        if (!server.is_empty() && same_server(&cluster.server, &server))
            || (!name.is_empty() && cluster.name == name)
        {
            let (found_server, found_name) = (cluster.server.clone(), cluster.name.clone());
            let cache = Arc::new(LiveCache::new(
                Arc::new(cluster),
                shared.events.clone(),
                shared.shutdown.clone(),
            ));
            shared
                .remotes
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(found_server.clone(), cache.clone());
            return Ok((cache, found_server, found_name));
        }
    }
    let wanted = if server.is_empty() {
        format!("name `{name}`")
    } else {
        format!("server `{server}`")
    };
    Err(vec![condition(
        "InvalidSpecError",
        format!("there are no clusters with this {wanted}: register it as a Secret labelled argocd.argoproj.io/secret-type=cluster in `{}`", shared.config.control_namespace),
    )])
}

fn same_server(left: &str, right: &str) -> bool {
    left.trim_end_matches('/') == right.trim_end_matches('/')
}
