//! The event topology of what the cluster runs (`flotilla_eda::topology`, which `flotilla
//! topology PATH` builds from a render): the live objects every Application tracks, each owned
//! by its Application, read through the cluster. Repository files (AsyncAPI documents, schema
//! files) are not in the cluster, so the edges read from them (`source: asyncapi`, schema files)
//! are absent here; ACLs, users, connectors, MirrorMaker flows and MQSC queues are there.

use std::collections::BTreeMap;

use flotilla_eda::topology::{build, Sources, Topology};
use flotilla_eda::ObjectId;
use flotilla_engine::Cluster;
use serde_json::Value;

use crate::apps::{self, AppError};

/// The topology of every Application's live objects.
pub async fn live(cluster: &Cluster) -> Result<Topology, AppError> {
    let applications = apps::list(cluster, None, None).await?;
    let mut entries: Vec<Value> = Vec::new();
    let mut owner_of_entry: Vec<String> = Vec::new();
    for application in &applications {
        let name = application["metadata"]["name"].as_str().unwrap_or("");
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
    }))
}
