//! The object store: every object of every resource in memory, one global monotonically
//! increasing resourceVersion, a bounded history of change events for watches that resume from a
//! resourceVersion, and an optional durable log (see `crate::persist`) written before a change is
//! acknowledged.
//!
//! All changes go through [`Store::transact`], which runs a closure on the current object under
//! the store's lock, so the REST layer's read-modify-write sequences never lose an update.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::persist::Persistence;

/// How many change events are kept for watches that resume from an older resourceVersion.
pub const HISTORY_LIMIT: usize = 20_000;

/// The kind of a change event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change to one object.
#[derive(Clone, Debug)]
pub struct ChangeEvent {
    pub storage_key: Arc<str>,
    pub namespace: String,
    pub name: String,
    pub event_type: EventType,
    pub object: Arc<Value>,
    /// The object before a modification (for watches whose selector it enters or leaves).
    pub previous: Option<Arc<Value>>,
    pub resource_version: u64,
}

/// What a [`Store::transact`] closure decided to do with the object.
pub enum Outcome {
    /// Store this object (its `metadata.resourceVersion` is set by the store).
    Put(Value),
    /// Remove the object.
    Delete,
    /// Leave everything unchanged and return this object (dry run or nothing to do).
    Unchanged(Option<Value>),
}

/// What the closure sees besides the current object.
pub struct TransactContext {
    /// The resourceVersion the change will get if it is stored.
    pub next_resource_version: u64,
}

type ObjectKey = (String, String);

#[derive(Default)]
struct StoreState {
    resource_version: u64,
    objects: BTreeMap<Arc<str>, BTreeMap<ObjectKey, Arc<Value>>>,
    history: VecDeque<ChangeEvent>,
    /// Events with a resourceVersion above this one are all in `history`.
    history_floor: u64,
    /// How many stored objects name each uid in their ownerReferences (garbage collection only
    /// looks for dependents of owners that have some).
    owner_references: HashMap<String, usize>,
}

fn owner_uids(object: &Value) -> impl Iterator<Item = &str> {
    object
        .get("metadata")
        .and_then(|metadata| metadata.get("ownerReferences"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|reference| reference.get("uid").and_then(Value::as_str))
}

impl StoreState {
    fn count_references(&mut self, object: &Value, added: bool) {
        for uid in owner_uids(object) {
            if added {
                *self.owner_references.entry(uid.to_string()).or_default() += 1;
            } else if let Some(count) = self.owner_references.get_mut(uid) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.owner_references.remove(uid);
                }
            }
        }
    }
}

/// The in-memory store, shared by all requests.
pub struct Store {
    state: Mutex<StoreState>,
    events: broadcast::Sender<ChangeEvent>,
    persistence: Option<Persistence>,
}

/// A watch subscription: the events after the requested resourceVersion that already happened,
/// then the live stream.
pub struct Subscription {
    pub backlog: Vec<ChangeEvent>,
    pub live: broadcast::Receiver<ChangeEvent>,
    pub resource_version: u64,
}

impl Store {
    /// An empty store, or one loaded from `persistence`.
    pub fn new(persistence: Option<Persistence>) -> Result<Store, crate::persist::PersistError> {
        let mut state = StoreState::default();
        if let Some(persistence) = &persistence {
            let loaded = persistence.load()?;
            state.resource_version = loaded.resource_version;
            state.history_floor = loaded.resource_version;
            for (storage_key, namespace, name, object) in loaded.objects {
                state.count_references(&object, true);
                state
                    .objects
                    .entry(Arc::from(storage_key.as_str()))
                    .or_default()
                    .insert((namespace, name), Arc::new(object));
            }
        }
        let (events, _) = broadcast::channel(16_384);
        Ok(Store {
            state: Mutex::new(state),
            events,
            persistence,
        })
    }

    fn lock(&self) -> MutexGuard<'_, StoreState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn current_resource_version(&self) -> u64 {
        self.lock().resource_version
    }

    pub fn get(&self, storage_key: &str, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let state = self.lock();
        state
            .objects
            .get(storage_key)
            .and_then(|objects| objects.get(&(namespace.to_string(), name.to_string())))
            .cloned()
    }

    /// Objects of a resource (in one namespace when given), ordered by namespace then name, and
    /// the resourceVersion of the snapshot.
    pub fn list(&self, storage_key: &str, namespace: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let state = self.lock();
        let objects = match state.objects.get(storage_key) {
            None => Vec::new(),
            Some(objects) => match namespace {
                None => objects.values().cloned().collect(),
                Some(namespace) => objects
                    .range((namespace.to_string(), String::new())..)
                    .take_while(|((object_namespace, _), _)| object_namespace == namespace)
                    .map(|(_, object)| object.clone())
                    .collect(),
            },
        };
        (objects, state.resource_version)
    }

    /// Whether any stored object names `uid` as an owner.
    pub fn is_owner(&self, uid: &str) -> bool {
        self.lock().owner_references.contains_key(uid)
    }

    /// Whether any object of a storage key other than `except` lives in `namespace`.
    pub fn namespace_has_objects(&self, namespace: &str, except: &str) -> bool {
        let state = self.lock();
        state.objects.iter().any(|(key, objects)| {
            &**key != except
                && objects
                    .range((namespace.to_string(), String::new())..)
                    .next()
                    .is_some_and(|((object_namespace, _), _)| object_namespace == namespace)
        })
    }

    /// Storage keys that currently hold objects.
    pub fn storage_keys(&self) -> Vec<String> {
        self.lock()
            .objects
            .keys()
            .map(|key| key.to_string())
            .collect()
    }

    /// Runs `decide` on the current object under the lock and applies its outcome.
    /// Returns the stored object (or the removed one for a delete, or the closure's own for
    /// `Unchanged`).
    pub fn transact<F>(
        &self,
        storage_key: &str,
        namespace: &str,
        name: &str,
        decide: F,
    ) -> Result<Option<Arc<Value>>, ApiError>
    where
        F: FnOnce(Option<&Value>, &TransactContext) -> Result<Outcome, ApiError>,
    {
        let mut state = self.lock();
        let key = (namespace.to_string(), name.to_string());
        let current = state
            .objects
            .get(storage_key)
            .and_then(|objects| objects.get(&key))
            .cloned();
        let context = TransactContext {
            next_resource_version: state.resource_version + 1,
        };
        let outcome = decide(current.as_deref(), &context)?;
        let (event_type, object) = match outcome {
            Outcome::Unchanged(object) => return Ok(object.map(Arc::new)),
            Outcome::Put(mut object) => {
                if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                    metadata.insert(
                        "resourceVersion".to_string(),
                        Value::String(context.next_resource_version.to_string()),
                    );
                }
                let event_type = if current.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                (event_type, Arc::new(object))
            }
            Outcome::Delete => match &current {
                None => return Ok(None),
                Some(current) => {
                    let mut object = (**current).clone();
                    if let Some(metadata) =
                        object.get_mut("metadata").and_then(Value::as_object_mut)
                    {
                        metadata.insert(
                            "resourceVersion".to_string(),
                            Value::String(context.next_resource_version.to_string()),
                        );
                    }
                    (EventType::Deleted, Arc::new(object))
                }
            },
        };
        let resource_version = context.next_resource_version;
        if let Some(persistence) = &self.persistence {
            let stored = match event_type {
                EventType::Deleted => None,
                _ => Some(object.as_ref()),
            };
            persistence
                .write(resource_version, storage_key, namespace, name, stored)
                .map_err(|error| ApiError::Internal {
                    message: format!("writing to the data directory failed: {error}"),
                })?;
        }
        state.resource_version = resource_version;
        if let Some(previous) = &current {
            state.count_references(previous, false);
        }
        if event_type != EventType::Deleted {
            state.count_references(&object, true);
        }
        let storage_key: Arc<str> = match state.objects.get_key_value(storage_key) {
            Some((existing, _)) => existing.clone(),
            None => Arc::from(storage_key),
        };
        let objects = state.objects.entry(storage_key.clone()).or_default();
        match event_type {
            EventType::Deleted => {
                objects.remove(&key);
            }
            _ => {
                objects.insert(key, object.clone());
            }
        }
        let event = ChangeEvent {
            storage_key,
            namespace: namespace.to_string(),
            name: name.to_string(),
            event_type,
            object: object.clone(),
            previous: if event_type == EventType::Modified {
                current
            } else {
                None
            },
            resource_version,
        };
        state.history.push_back(event.clone());
        while state.history.len() > HISTORY_LIMIT {
            if let Some(dropped) = state.history.pop_front() {
                state.history_floor = dropped.resource_version;
            }
        }
        // Nobody listening is fine.
        let _ = self.events.send(event);
        Ok(Some(object))
    }

    /// Subscribes to changes after `after` (a resourceVersion); `None` means from now.
    /// Fails with `Expired` when the history no longer reaches back that far.
    pub fn subscribe(&self, after: Option<u64>) -> Result<Subscription, ApiError> {
        let state = self.lock();
        let live = self.events.subscribe();
        let backlog = match after {
            None => Vec::new(),
            Some(after) => {
                if after < state.history_floor {
                    return Err(ApiError::Expired {
                        message: format!(
                            "too old resource version: {after} ({})",
                            state.history_floor + 1
                        ),
                    });
                }
                state
                    .history
                    .iter()
                    .filter(|event| event.resource_version > after)
                    .cloned()
                    .collect()
            }
        };
        Ok(Subscription {
            backlog,
            live,
            resource_version: state.resource_version,
        })
    }

    /// A snapshot of one resource's objects together with a subscription to everything after it.
    pub fn list_and_subscribe(
        &self,
        storage_key: &str,
        namespace: Option<&str>,
    ) -> (Vec<Arc<Value>>, Subscription) {
        let state = self.lock();
        let live = self.events.subscribe();
        let objects = match state.objects.get(storage_key) {
            None => Vec::new(),
            Some(objects) => objects
                .iter()
                .filter(|((object_namespace, _), _)| {
                    namespace.is_none_or(|namespace| namespace == object_namespace)
                })
                .map(|(_, object)| object.clone())
                .collect(),
        };
        let resource_version = state.resource_version;
        (
            objects,
            Subscription {
                backlog: Vec::new(),
                live,
                resource_version,
            },
        )
    }

    /// Forgets history up to and including `resource_version` (tests use this to provoke 410).
    pub fn compact(&self, resource_version: u64) {
        let mut state = self.lock();
        while state
            .history
            .front()
            .is_some_and(|event| event.resource_version <= resource_version)
        {
            state.history.pop_front();
        }
        state.history_floor = state.history_floor.max(resource_version);
    }
}
