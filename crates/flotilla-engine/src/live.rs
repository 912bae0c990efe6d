//! The live state of one cluster, kept by watches: one list-then-watch task per kind the engine
//! has needed (cluster wide), holding each object (trimmed: only the engine's own managedFields
//! entries, no last-applied annotation) and reporting every change as a [`LiveEvent`].
//!
//! Invariants: a kind's cache answers only after its first list completed ([`LiveCache::ensure`]
//! waits for it); after a watch error or an expired resourceVersion the kind is listed again and
//! objects that disappeared meanwhile are reported as deleted, so no change is lost silently; a
//! change is announced only once the cache holds it, so the Application it queues never reads
//! the state before it (and, its comparison cached, takes that for nothing new); the answer to
//! one of the engine's own writes, recorded at once (`LiveCache::record`), never replaces a later
//! state the watch reported, nor brings back an object the watch has since reported deleted.
//!
//! Depends on `cluster` only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{ListParams, WatchEvent};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::cluster::{Cluster, ClusterError, ResourceInfo, FIELD_MANAGER};

pub const TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";

/// A change to a live object.
#[derive(Clone, Debug)]
pub struct LiveEvent {
    pub cluster: String,
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// The instance its tracking annotation names (new state, or last state when deleted):
    /// the Application that owns it.
    pub instance: Option<String>,
    pub deleted: bool,
    /// The object's resourceVersion in this event.
    pub resource_version: String,
}

type ObjectKey = (String, String);

/// One cached object: kept as compact JSON text for the kinds an engine only diffs (a parsed
/// tree costs several times the memory), parsed for the few kinds read on every pass
/// (Applications, AppProjects). The resourceVersion and tracking instance are kept beside it so
/// the comparison cache and the instance index never parse.
#[derive(Clone)]
struct Stored {
    version: Box<str>,
    instance: Option<Box<str>>,
    representation: Representation,
}

#[derive(Clone)]
enum Representation {
    Parsed(Arc<Value>),
    Compact(Arc<str>),
}

impl Stored {
    /// `text`, when given, is `object` as the server sent it (compact JSON): kept as it is
    /// instead of serialising the object again.
    fn new(object: Arc<Value>, text: Option<String>, compact: bool) -> Stored {
        let version = object["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .into();
        let instance = instance_of(&object).map(Into::into);
        let representation = if compact {
            match text.map_or_else(|| serde_json::to_string(&*object), Ok) {
                Ok(text) => Representation::Compact(text.into()),
                Err(_) => Representation::Parsed(object),
            }
        } else {
            Representation::Parsed(object)
        };
        Stored {
            version,
            instance,
            representation,
        }
    }

    fn value(&self) -> Arc<Value> {
        match &self.representation {
            Representation::Parsed(value) => value.clone(),
            Representation::Compact(text) => {
                Arc::new(serde_json::from_str(text).unwrap_or(Value::Null))
            }
        }
    }
}

/// The cached objects of one kind.
pub struct KindCache {
    pub info: ResourceInfo,
    objects: RwLock<HashMap<ObjectKey, Stored>>,
    /// Tracking instance (the tracking id's first part) → the objects that carry it, so finding
    /// an Application's objects does not scan the whole cache.
    by_instance: RwLock<HashMap<String, std::collections::HashSet<ObjectKey>>>,
    /// Store objects as compact JSON (every kind today; kept switchable for kinds read on
    /// every pass, should parsing them ever cost more than the memory saved).
    compact: bool,
    listed: watch::Receiver<bool>,
    /// The resourceVersion through which the watch has applied every event of this kind (0:
    /// none yet, or versions that are not numbers). Changed only under `objects`' write lock,
    /// together with the objects. A write's answer at or below it, for an object the cache no
    /// longer holds, describes an object deleted since: `record` leaves it out instead of
    /// bringing a deleted object back (an answer can arrive after the watch reported the
    /// deletion that followed it).
    seen_through: AtomicU64,
}

fn instance_of(object: &Value) -> Option<&str> {
    object["metadata"]["annotations"][TRACKING_ANNOTATION]
        .as_str()
        .and_then(|tracking| tracking.split_once(':'))
        .map(|(instance, _)| instance)
}

impl KindCache {
    fn index_remove(&self, instance: Option<&str>, key: &ObjectKey) {
        if let Some(instance) = instance {
            let mut index = self
                .by_instance
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(keys) = index.get_mut(instance) {
                keys.remove(key);
                if keys.is_empty() {
                    index.remove(instance);
                }
            }
        }
    }

    fn index_add(&self, instance: Option<&str>, key: &ObjectKey) {
        if let Some(instance) = instance {
            self.by_instance
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .entry(instance.to_string())
                .or_default()
                .insert(key.clone());
        }
    }

    /// Inserts or replaces an object the watch reported (`text`: as the server sent it, when
    /// untrimmed); the cache has then seen every event of the kind through its version.
    fn upsert(&self, object: Arc<Value>, text: Option<String>) {
        self.store(object, text, |_, stored| {
            self.advance(&stored.version);
            true
        });
    }

    /// Inserts the answer to a write unless the cache knows a later state: a newer version of
    /// the object, or (the object absent) a watch that has passed the answer's version, so the
    /// object was deleted after this write. Whether it was inserted.
    fn upsert_answer(&self, object: Arc<Value>, text: Option<String>) -> bool {
        self.store(object, text, |current, stored| {
            let written = resource_version_number(&stored.version);
            match current {
                // Only the version is compared: the cached object is not parsed.
                Some(current) => {
                    written.unwrap_or(0) > resource_version_number(&current.version).unwrap_or(0)
                }
                None => written
                    .is_none_or(|written| written > self.seen_through.load(Ordering::Relaxed)),
            }
        })
    }

    /// Stores an object if `admit` (asked under the objects' write lock, with the object cached
    /// now) agrees, keeping the instance index current. Whether it was stored.
    fn store(
        &self,
        object: Arc<Value>,
        text: Option<String>,
        admit: impl FnOnce(Option<&Stored>, &Stored) -> bool,
    ) -> bool {
        let key = object_key(&object);
        let stored = Stored::new(object, text, self.compact);
        let instance = stored.instance.clone();
        let previous = {
            let mut objects = self
                .objects
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if !admit(objects.get(&key), &stored) {
                return false;
            }
            objects.insert(key.clone(), stored)
        };
        if let Some(previous) = previous {
            self.index_remove(previous.instance.as_deref(), &key);
        }
        self.index_add(instance.as_deref(), &key);
        true
    }

    /// Removes an object; `version`: the watch reported its deletion at this resourceVersion.
    fn remove(&self, key: &ObjectKey, version: Option<&str>) {
        let previous = {
            let mut objects = self
                .objects
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(version) = version {
                self.advance(version);
            }
            objects.remove(key)
        };
        if let Some(previous) = previous {
            self.index_remove(previous.instance.as_deref(), key);
        }
    }

    /// The watch has applied every event through `version` (called under `objects`' write
    /// lock when objects change with it).
    fn advance(&self, version: &str) {
        if let Some(version) = resource_version_number(version) {
            self.seen_through.fetch_max(version, Ordering::Relaxed);
        }
    }

    /// Replaces every object with a list's, taken at `version`.
    fn replace_all(&self, fresh: HashMap<ObjectKey, Value>, version: &str) {
        let mut index: HashMap<String, std::collections::HashSet<ObjectKey>> = HashMap::new();
        let mut stored = HashMap::with_capacity(fresh.len());
        for (key, object) in fresh {
            let entry = Stored::new(Arc::new(object), None, self.compact);
            if let Some(instance) = &entry.instance {
                index
                    .entry(instance.to_string())
                    .or_default()
                    .insert(key.clone());
            }
            stored.insert(key, entry);
        }
        {
            let mut objects = self
                .objects
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            self.advance(version);
            *objects = stored;
        }
        *self
            .by_instance
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = index;
    }

    /// The keys (namespace, name) of the objects whose tracking id names `instance`.
    pub fn tracked_keys(&self, instance: &str) -> Vec<(String, String)> {
        self.by_instance
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(instance)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The objects whose tracking id names `instance`.
    pub fn tracked_by(&self, instance: &str) -> Vec<Arc<Value>> {
        let keys = self.tracked_keys(instance);
        let objects = self
            .objects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.iter()
            .filter_map(|key| objects.get(key).map(Stored::value))
            .collect()
    }

    /// When the cache holds the object an event names at exactly the event's resourceVersion,
    /// the instance its tracking id names (`Some(None)`: it has none).
    fn held_instance(&self, head: &EventHead<'_>) -> Option<Option<String>> {
        let version = head.metadata.resource_version.as_ref()?;
        let key = (
            head.metadata.namespace.as_deref().unwrap_or("").to_string(),
            head.metadata.name.as_deref().unwrap_or("").to_string(),
        );
        self.objects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
            .filter(|stored| &*stored.version == version.as_ref())
            .map(|stored| stored.instance.as_deref().map(str::to_string))
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&(namespace.to_string(), name.to_string()))
            .map(Stored::value)
    }

    /// The resourceVersion of a cached object, without parsing it.
    pub fn version(&self, namespace: &str, name: &str) -> Option<String> {
        self.objects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&(namespace.to_string(), name.to_string()))
            .map(|stored| stored.version.to_string())
    }

    /// Every cached object (a snapshot).
    pub fn all(&self) -> Vec<Arc<Value>> {
        self.objects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .map(Stored::value)
            .collect()
    }

    /// The keys (namespace, name) of every cached object, without parsing them.
    pub fn keys(&self) -> Vec<(String, String)> {
        self.objects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.objects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Watches of one cluster.
pub struct LiveCache {
    pub cluster: Arc<Cluster>,
    kinds: Mutex<HashMap<(String, String), Arc<KindCache>>>,
    events: mpsc::UnboundedSender<LiveEvent>,
    shutdown: watch::Receiver<bool>,
}

impl LiveCache {
    pub fn new(
        cluster: Arc<Cluster>,
        events: mpsc::UnboundedSender<LiveEvent>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        LiveCache {
            cluster,
            kinds: Mutex::new(HashMap::new()),
            events,
            shutdown,
        }
    }

    /// The cache of `api_version`/`kind`, starting its watch and waiting for the first list.
    pub async fn ensure(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Arc<KindCache>, ClusterError> {
        let key = (api_version.to_string(), kind.to_string());
        let existing = self
            .kinds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
            .cloned();
        let cache = match existing {
            Some(cache) => cache,
            None => {
                let info = self.cluster.resource(api_version, kind).await?;
                let mut kinds = self
                    .kinds
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(cache) = kinds.get(&key) {
                    cache.clone()
                } else {
                    let (listed_sender, listed) = watch::channel(false);
                    let cache = Arc::new(KindCache {
                        info,
                        objects: RwLock::new(HashMap::new()),
                        by_instance: RwLock::new(HashMap::new()),
                        compact: true,
                        listed,
                        seen_through: AtomicU64::new(0),
                    });
                    kinds.insert(key, cache.clone());
                    tokio::spawn(run_watch(
                        self.cluster.clone(),
                        cache.clone(),
                        listed_sender,
                        self.events.clone(),
                        self.shutdown.clone(),
                    ));
                    cache
                }
            }
        };
        let mut listed = cache.listed.clone();
        while !*listed.borrow_and_update() {
            if listed.changed().await.is_err() {
                break;
            }
        }
        Ok(cache)
    }

    /// The cache of a kind if it is already watched.
    pub fn watched(&self, api_version: &str, kind: &str) -> Option<Arc<KindCache>> {
        self.kinds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&(api_version.to_string(), kind.to_string()))
            .cloned()
    }

    /// Every watched kind.
    pub fn all_kinds(&self) -> Vec<Arc<KindCache>> {
        self.kinds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Objects whose tracking annotation names `app_instance` (`<app>:` prefix), in every
    /// watched kind.
    /// Like `tracked_by`, parsing only the objects `keep` accepts by (group, kind, namespace,
    /// name): finding what to prune then costs no parsing when nothing is to be pruned.
    pub fn tracked_where(
        &self,
        app_instance: &str,
        keep: impl Fn(&str, &str, &str, &str) -> bool,
    ) -> Vec<Arc<Value>> {
        let mut found = Vec::new();
        for cache in self.all_kinds() {
            let group = &cache.info.resource.group;
            let kind = &cache.info.resource.kind;
            for (namespace, name) in cache.tracked_keys(app_instance) {
                if keep(group, kind, &namespace, &name) {
                    if let Some(object) = cache.get(&namespace, &name) {
                        found.push(object);
                    }
                }
            }
        }
        found
    }

    pub fn tracked_by(&self, app_instance: &str) -> Vec<Arc<Value>> {
        self.all_kinds()
            .iter()
            .flat_map(|cache| cache.tracked_by(app_instance))
            .collect()
    }

    /// Puts the server's answer to a write into the cache at once, so the next reconcile sees it
    /// even before its watch event arrives (the event then overwrites it with the same state).
    /// Returns the object as cached (trimmed), so the writer can read it without parsing it back.
    pub fn record(&self, object: Value) -> Arc<Value> {
        self.record_answer(object, None)
    }

    /// `record`, with the answer's text as the server sent it (kept instead of serialising the
    /// object again, when trimming leaves the object as it came).
    pub fn record_answer(&self, object: Value, text: Option<String>) -> Arc<Value> {
        let (object, trimmed) = trim(object);
        let text = text.filter(|_| !trimmed);
        let object = Arc::new(object);
        let api_version = object["apiVersion"].as_str().unwrap_or("");
        let kind = object["kind"].as_str().unwrap_or("");
        if let Some(cache) = self.watched(api_version, kind) {
            cache.upsert_answer(object.clone(), text);
        }
        object
    }

    /// Removes a deleted object from the cache at once.
    pub fn forget(&self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        if let Some(cache) = self.watched(api_version, kind) {
            cache.remove(&(namespace.to_string(), name.to_string()), None);
        }
    }

    /// The number of objects held, over all kinds.
    pub fn object_count(&self) -> usize {
        self.all_kinds().iter().map(|cache| cache.len()).sum()
    }
}

/// Drops what the engine never reads, to keep memory per object small; and whether anything
/// was dropped.
fn trim(mut object: Value) -> (Value, bool) {
    let mut trimmed = false;
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(Value::Array(entries)) = metadata.get_mut("managedFields") {
            let before = entries.len();
            entries.retain(|entry| entry["manager"].as_str() == Some(FIELD_MANAGER));
            trimmed |= entries.len() != before;
        }
        if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
            trimmed |= annotations
                .shift_remove("kubectl.kubernetes.io/last-applied-configuration")
                .is_some();
        }
    }
    (object, trimmed)
}

/// What a watch event's object says of itself, read without building the object.
#[derive(serde::Deserialize)]
struct EventHead<'a> {
    #[serde(borrow, rename = "apiVersion", default)]
    api_version: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    metadata: EventMetadata<'a>,
}

#[derive(serde::Deserialize, Default)]
struct EventMetadata<'a> {
    #[serde(borrow, default)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    namespace: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, rename = "resourceVersion", default)]
    resource_version: Option<std::borrow::Cow<'a, str>>,
}

impl EventHead<'_> {
    fn is_application(&self) -> bool {
        self.kind.as_deref() == Some("Application")
            && self
                .api_version
                .as_deref()
                .is_some_and(|api_version| api_version.starts_with("argoproj.io/"))
    }
}

/// A resourceVersion as a number, when it is one (etcd's revisions and the embedded server's
/// are; the API calls them opaque, so a version that is not a number is never compared).
fn resource_version_number(version: &str) -> Option<u64> {
    version.parse().ok()
}

fn object_key(object: &Value) -> ObjectKey {
    (
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

async fn run_watch(
    cluster: Arc<Cluster>,
    cache: Arc<KindCache>,
    listed: watch::Sender<bool>,
    events: mpsc::UnboundedSender<LiveEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let announce = |namespace: String,
                    name: String,
                    resource_version: String,
                    instance: Option<String>,
                    deleted: bool| {
        let _ = events.send(LiveEvent {
            cluster: cluster.name.clone(),
            api_version: cache.info.resource.api_version.clone(),
            kind: cache.info.resource.kind.clone(),
            namespace,
            name,
            instance,
            deleted,
            resource_version,
        });
    };
    let notify = |object: &Value, deleted: bool| {
        let (namespace, name) = object_key(object);
        announce(
            namespace,
            name,
            object["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            instance_of(object).map(str::to_string),
            deleted,
        );
    };
    let mut failures = 0u32;
    loop {
        if *shutdown.borrow() {
            return;
        }
        // List, replacing the cache, and report what changed since the last list.
        let list = match cluster
            .list(&cache.info, None, &ListParams::default())
            .await
        {
            Ok(list) => list,
            Err(error) => {
                failures += 1;
                tracing::warn!(kind = %cache.info.resource.kind, %error, "listing failed; retrying");
                let delay = Duration::from_millis(200 * u64::from(failures.min(25)));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        failures = 0;
        let mut resource_version = list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("0")
            .to_string();
        {
            let mut fresh = HashMap::new();
            if let Some(items) = list["items"].as_array() {
                for item in items {
                    let mut item = item.clone();
                    // Lists leave apiVersion/kind off their items.
                    item["apiVersion"] = Value::String(cache.info.resource.api_version.clone());
                    item["kind"] = Value::String(cache.info.resource.kind.clone());
                    let (item, _) = trim(item);
                    fresh.insert(object_key(&item), item);
                }
            }
            let objects = cache
                .objects
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone();
            // Announced once the cache holds the new state, as every event is: an Application
            // queued by one reads what the event announced, never the state before it.
            let change = |object: &Value, deleted: bool| {
                let (namespace, name) = object_key(object);
                let version = object["metadata"]["resourceVersion"].as_str().unwrap_or("");
                let instance = instance_of(object).map(str::to_string);
                (namespace, name, version.to_string(), instance, deleted)
            };
            let mut changes = Vec::new();
            for (key, old) in objects.iter() {
                match fresh.get(key) {
                    None => changes.push(change(&old.value(), true)),
                    Some(new)
                        if new["metadata"]["resourceVersion"].as_str() != Some(&*old.version) =>
                    {
                        changes.push(change(new, false))
                    }
                    _ => {}
                }
            }
            if *listed.borrow() {
                for (key, new) in &fresh {
                    if !objects.contains_key(key) {
                        changes.push(change(new, false));
                    }
                }
            }
            cache.replace_all(fresh, &resource_version);
            for (namespace, name, version, instance, deleted) in changes {
                announce(namespace, name, version, instance, deleted);
            }
        }
        let _ = listed.send(true);
        // Watch until the stream ends or the resourceVersion expires.
        loop {
            let stream = match cluster
                .watch::<Box<serde_json::value::RawValue>>(
                    &cache.info,
                    None,
                    &resource_version,
                    290,
                )
                .await
            {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(kind = %cache.info.resource.kind, %error, "watch failed; listing again");
                    break;
                }
            };
            let mut stream = std::pin::pin!(stream);
            let mut relist = false;
            loop {
                let next = tokio::select! {
                    next = stream.next() => next,
                    _ = shutdown.changed() => return,
                };
                let Some(event) = next else { break };
                match event {
                    Ok(WatchEvent::Added(raw)) | Ok(WatchEvent::Modified(raw)) => {
                        // Metadata first: most events carry a state the engine itself wrote.
                        let Ok(head) = serde_json::from_str::<EventHead<'_>>(raw.get()) else {
                            relist = true;
                            break;
                        };
                        if let Some(version) = &head.metadata.resource_version {
                            resource_version = version.to_string();
                        }
                        if let Some(instance) = cache.held_instance(&head) {
                            cache.advance(&resource_version);
                            // This exact state is already cached: the engine wrote it and
                            // recorded the server's answer (`LiveCache::record`), and the
                            // Application that wrote it compared it then. Nothing changed.
                            // Applications are still announced: an app-of-apps parent tracks its
                            // children's status, which the children's reconciles write.
                            if head.is_application() {
                                announce(
                                    head.metadata.namespace.as_deref().unwrap_or("").to_string(),
                                    head.metadata.name.as_deref().unwrap_or("").to_string(),
                                    head.metadata
                                        .resource_version
                                        .as_deref()
                                        .unwrap_or("")
                                        .to_string(),
                                    instance,
                                    false,
                                );
                            }
                            continue;
                        }
                        let Ok(object) = serde_json::from_str::<Value>(raw.get()) else {
                            relist = true;
                            break;
                        };
                        let (object, trimmed) = trim(object);
                        let text = (!trimmed).then(|| String::from(raw.get()));
                        let object = Arc::new(object);
                        // Cached before it is announced (see the list above).
                        cache.upsert(object.clone(), text);
                        notify(&object, false);
                    }
                    Ok(WatchEvent::Deleted(raw)) => {
                        let Ok(object) = serde_json::from_str::<Value>(raw.get()) else {
                            relist = true;
                            break;
                        };
                        if let Some(version) = object["metadata"]["resourceVersion"].as_str() {
                            resource_version = version.to_string();
                        }
                        cache.remove(
                            &object_key(&object),
                            object["metadata"]["resourceVersion"].as_str(),
                        );
                        notify(&object, true);
                    }
                    Ok(WatchEvent::Bookmark(bookmark)) => {
                        resource_version = bookmark.metadata.resource_version.clone();
                        cache.advance(&resource_version);
                    }
                    Ok(WatchEvent::Error(_)) | Err(_) => {
                        relist = true;
                        break;
                    }
                }
            }
            if relist {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> KindCache {
        let (_, listed) = watch::channel(true);
        KindCache {
            info: crate::cluster::guessed_resource("v1", "ConfigMap", true),
            objects: RwLock::new(HashMap::new()),
            by_instance: RwLock::new(HashMap::new()),
            compact: true,
            listed,
            seen_through: AtomicU64::new(0),
        }
    }

    fn config_map(name: &str, version: &str) -> Arc<Value> {
        Arc::new(serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"namespace": "team", "name": name, "resourceVersion": version},
        }))
    }

    #[test]
    fn an_answer_the_watch_has_passed_never_brings_a_deleted_object_back() {
        let cache = cache();
        cache.upsert(config_map("settings", "5"), None);
        // The engine's write answered at 6; the watch then reported the deletion at 7 before
        // the answer arrived.
        cache.remove(&("team".into(), "settings".into()), Some("7"));
        assert!(!cache.upsert_answer(config_map("settings", "6"), None));
        assert!(cache.get("team", "settings").is_none());
        // An answer the watch has not reached yet is cached (its event follows).
        assert!(cache.upsert_answer(config_map("created", "8"), None));
        assert_eq!(cache.version("team", "created").as_deref(), Some("8"));
    }

    #[test]
    fn an_answer_replaces_only_an_older_state() {
        let cache = cache();
        cache.upsert(config_map("settings", "10"), None);
        assert!(!cache.upsert_answer(config_map("settings", "9"), None));
        assert!(!cache.upsert_answer(config_map("settings", "10"), None));
        assert!(cache.upsert_answer(config_map("settings", "11"), None));
        assert_eq!(cache.version("team", "settings").as_deref(), Some("11"));
    }

    #[test]
    fn versions_that_are_not_numbers_are_never_compared_with_the_watch() {
        let cache = cache();
        cache.upsert(config_map("other", "12"), None);
        cache.remove(&("team".into(), "settings".into()), Some("13"));
        assert!(cache.upsert_answer(config_map("settings", "opaque"), None));
    }

    #[test]
    fn a_list_and_a_bookmark_move_what_the_watch_has_seen() {
        let cache = cache();
        cache.replace_all(HashMap::new(), "20");
        assert!(!cache.upsert_answer(config_map("gone", "19"), None));
        cache.advance("30");
        assert!(!cache.upsert_answer(config_map("gone", "25"), None));
        assert!(cache.upsert_answer(config_map("new", "31"), None));
    }
}
