//! Garbage collection and namespace deletion, run as a background task on the store's change
//! events: dependents of a deleted owner go (Background), owners marked `foregroundDeletion` wait
//! for their dependents, `orphan` strips owner references, and a terminating namespace is emptied
//! and then removed.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch as signal;

use crate::http::App;
use crate::registry::ResourceType;
use crate::rest::{self, ApiState, DeleteOptions};
use crate::storage::{EventType, Outcome};
use crate::util::{self, metadata_str};

pub fn start(app: Arc<App>, mut shutdown: signal::Receiver<bool>) {
    let Ok(mut subscription) = app.api.store.subscribe(None) else {
        return;
    };
    tokio::spawn(async move {
        // Work left over from before a restart.
        sweep(&app.api);
        loop {
            let received = tokio::select! {
                received = subscription.live.recv() => received,
                _ = shutdown.changed() => return,
            };
            match received {
                Ok(event) => handle(
                    &app.api,
                    &event.storage_key,
                    &event.namespace,
                    event.event_type,
                    &event.object,
                ),
                Err(RecvError::Lagged(_)) => sweep(&app.api),
                Err(RecvError::Closed) => return,
            }
        }
    });
}

fn resource_for(state: &ApiState, storage_key: &str) -> Option<ResourceType> {
    state
        .registry
        .all()
        .into_iter()
        .filter(|resource| resource.storage_key() == storage_key)
        .max_by_key(|resource| resource.storage_version)
}

/// Looks at every terminating object (after a restart or when events were missed).
fn sweep(state: &ApiState) {
    for storage_key in state.store.storage_keys() {
        let (objects, _) = state.store.list(&storage_key, None);
        for object in objects {
            if metadata_str(&object, "deletionTimestamp").is_some() {
                let namespace = metadata_str(&object, "namespace")
                    .unwrap_or_default()
                    .to_string();
                handle(
                    state,
                    &storage_key,
                    &namespace,
                    EventType::Modified,
                    &object,
                );
            }
        }
    }
}

fn handle(
    state: &ApiState,
    storage_key: &str,
    namespace: &str,
    event_type: EventType,
    object: &Value,
) {
    let uid = metadata_str(object, "uid").unwrap_or_default().to_string();
    let name = metadata_str(object, "name").unwrap_or_default().to_string();
    match event_type {
        EventType::Deleted => {
            for (key, dependent) in dependents(state, &uid, namespace) {
                delete_object(state, &key, &dependent, rest::Propagation::Background);
            }
            // A dependent going may let a foreground owner or a namespace finish.
            for owner_uid in owner_uids(object) {
                if let Some((owner_key, owner)) = find_by_uid(state, &owner_uid, namespace) {
                    if util::finalizers(&owner)
                        .iter()
                        .any(|finalizer| finalizer == "foregroundDeletion")
                    {
                        let owner_namespace = metadata_str(&owner, "namespace")
                            .unwrap_or_default()
                            .to_string();
                        handle(
                            state,
                            &owner_key,
                            &owner_namespace,
                            EventType::Modified,
                            &owner,
                        );
                    }
                }
            }
            if !namespace.is_empty() {
                if let Some(namespace_object) = state.store.get("/namespaces", "", namespace) {
                    if metadata_str(&namespace_object, "deletionTimestamp").is_some() {
                        finish_namespace(state, namespace);
                    }
                }
            }
        }
        EventType::Added | EventType::Modified => {
            if metadata_str(object, "deletionTimestamp").is_none() {
                return;
            }
            if storage_key == "/namespaces" {
                empty_namespace(state, &name);
                finish_namespace(state, &name);
                return;
            }
            let finalizers = util::finalizers(object);
            if finalizers.iter().any(|finalizer| finalizer == "orphan") {
                for (key, dependent) in dependents(state, &uid, namespace) {
                    strip_owner(state, &key, &dependent, &uid);
                }
                rest::remove_finalizer(state, storage_key, namespace, &name, "orphan");
            } else if finalizers
                .iter()
                .any(|finalizer| finalizer == "foregroundDeletion")
            {
                let remaining = dependents(state, &uid, namespace);
                if remaining.is_empty() {
                    rest::remove_finalizer(
                        state,
                        storage_key,
                        namespace,
                        &name,
                        "foregroundDeletion",
                    );
                } else {
                    for (key, dependent) in remaining {
                        if metadata_str(&dependent, "deletionTimestamp").is_none() {
                            delete_object(state, &key, &dependent, rest::Propagation::Foreground);
                        }
                    }
                }
            }
        }
    }
}

fn owner_uids(object: &Value) -> Vec<String> {
    util::metadata(object)
        .and_then(|metadata| metadata.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(|references| {
            references
                .iter()
                .filter_map(|reference| reference["uid"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Objects whose ownerReferences name `uid`: in the owner's namespace, or anywhere for a
/// cluster-scoped owner.
fn dependents(state: &ApiState, uid: &str, namespace: &str) -> Vec<(String, Arc<Value>)> {
    if uid.is_empty() || !state.store.is_owner(uid) {
        return Vec::new();
    }
    let mut found = Vec::new();
    for storage_key in state.store.storage_keys() {
        let scope = if namespace.is_empty() {
            None
        } else {
            Some(namespace)
        };
        let (objects, _) = state.store.list(&storage_key, scope);
        for object in objects {
            if owner_uids(&object).iter().any(|owner| owner == uid) {
                found.push((storage_key.clone(), object));
            }
        }
    }
    found
}

fn find_by_uid(state: &ApiState, uid: &str, namespace: &str) -> Option<(String, Arc<Value>)> {
    for storage_key in state.store.storage_keys() {
        let (objects, _) = state.store.list(&storage_key, None);
        if let Some(object) = objects.into_iter().find(|object| {
            metadata_str(object, "uid") == Some(uid) && {
                let object_namespace = metadata_str(object, "namespace").unwrap_or_default();
                object_namespace.is_empty() || object_namespace == namespace
            }
        }) {
            return Some((storage_key, object));
        }
    }
    None
}

fn delete_object(
    state: &ApiState,
    storage_key: &str,
    object: &Value,
    propagation: rest::Propagation,
) {
    let namespace = metadata_str(object, "namespace")
        .unwrap_or_default()
        .to_string();
    let name = metadata_str(object, "name").unwrap_or_default().to_string();
    match resource_for(state, storage_key) {
        Some(resource) => {
            let options = DeleteOptions {
                propagation,
                ..DeleteOptions::default()
            };
            let _ = rest::delete(state, &resource, &namespace, &name, &options);
        }
        None => {
            let _ = state
                .store
                .transact(storage_key, &namespace, &name, |_, _| Ok(Outcome::Delete));
        }
    }
}

fn strip_owner(state: &ApiState, storage_key: &str, object: &Value, owner_uid: &str) {
    let namespace = metadata_str(object, "namespace")
        .unwrap_or_default()
        .to_string();
    let name = metadata_str(object, "name").unwrap_or_default().to_string();
    let _ = state
        .store
        .transact(storage_key, &namespace, &name, |current, _| {
            let Some(current) = current else {
                return Ok(Outcome::Unchanged(None));
            };
            let mut next = current.clone();
            let metadata = util::metadata_mut(&mut next);
            if let Some(Value::Array(references)) = metadata.get_mut("ownerReferences") {
                references.retain(|reference| reference["uid"].as_str() != Some(owner_uid));
                if references.is_empty() {
                    metadata.shift_remove("ownerReferences");
                }
            }
            Ok(Outcome::Put(next))
        });
}

fn empty_namespace(state: &ApiState, namespace: &str) {
    for storage_key in state.store.storage_keys() {
        if storage_key == "/namespaces" {
            continue;
        }
        let (objects, _) = state.store.list(&storage_key, Some(namespace));
        for object in objects {
            if metadata_str(&object, "deletionTimestamp").is_none() {
                delete_object(state, &storage_key, &object, rest::Propagation::Background);
            }
        }
    }
}

/// Removes a terminating namespace once nothing is left in it.
fn finish_namespace(state: &ApiState, namespace: &str) {
    if state.store.namespace_has_objects(namespace, "/namespaces") {
        return;
    }
    let _ = state
        .store
        .transact("/namespaces", "", namespace, |current, _| match current {
            Some(current)
                if metadata_str(current, "deletionTimestamp").is_some()
                    && util::finalizers(current).is_empty() =>
            {
                Ok(Outcome::Delete)
            }
            _ => Ok(Outcome::Unchanged(None)),
        });
}
