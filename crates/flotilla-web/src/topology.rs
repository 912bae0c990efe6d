//! The event topology of what the cluster runs (`flotilla_eda::topology`, which `flotilla
//! topology PATH` builds from a render): the live objects every Application tracks, each owned
//! by its Application, read through the cluster; and the repository files the edges `source:
//! asyncapi` and the schema nodes come from (AsyncAPI documents, `schemas/` files), read as the
//! pre-sync gate reads them from each Application's sources at the commits of its last sync
//! (`Backend::synced_files`, the engine's `gate::synced_files`, cached by commit). The files are
//! grouped by (repository, commit), one `FileSet` each, every file owned by the Applications
//! whose sources hold it: what it says is labelled `argocd` with them. An Application never
//! synced, or whose commit this replica's mirror lacks (another replica reconciles it), gives
//! no files.

use std::collections::BTreeMap;

use flotilla_eda::topology::{build, FileSet, Sources, Topology};
use flotilla_eda::ObjectId;
use flotilla_engine::Cluster;
use serde_json::Value;

use crate::apps::{self, AppError};
use crate::Backend;

/// The topology of every Application's live objects and synced repository files.
pub async fn live(cluster: &Cluster, backend: &dyn Backend) -> Result<Topology, AppError> {
    let applications = apps::list(cluster, None, None).await?;
    let mut entries: Vec<Value> = Vec::new();
    let mut owner_of_entry: Vec<String> = Vec::new();
    let mut file_sets: BTreeMap<(String, String), FileSet> = BTreeMap::new();
    for application in &applications {
        let name = application["metadata"]["name"].as_str().unwrap_or("");
        for source in backend.synced_files(application).await {
            let set = file_sets
                .entry((source.repository, source.commit))
                .or_default();
            for (path, text) in source.files.iter() {
                if !set.files.contains_key(path) {
                    set.files.insert(path.clone(), text.to_string());
                }
                set.owners
                    .entry(path.clone())
                    .or_default()
                    .insert(name.to_string());
            }
        }
        for entry in application["status"]["resources"]
            .as_array()
            .into_iter()
            .flatten()
        {
            entries.push(entry.clone());
            owner_of_entry.push(name.to_string());
        }
    }
    let live = apps::live_objects(cluster, &entries).await;
    let mut objects = Vec::new();
    let mut owners: BTreeMap<ObjectId, String> = BTreeMap::new();
    for (entry, owner) in entries.iter().zip(owner_of_entry) {
        if let Some(object) = live.get(&apps::entry_key(entry)) {
            if let Some(id) = ObjectId::of(object) {
                owners.insert(id, owner);
            }
            objects.push(object.clone());
        }
    }
    Ok(build(&Sources {
        objects: &objects,
        owners: &owners,
        files: &BTreeMap::new(),
        file_sets: &file_sets.into_values().collect::<Vec<_>>(),
    }))
}
