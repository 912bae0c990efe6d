//! Watch streams: one JSON event per line, per resource, namespace or cluster wide, starting from
//! a resourceVersion (or with the current objects as ADDED events), with bookmarks,
//! `sendInitialEvents`, and `timeoutSeconds`. A resourceVersion older than the kept history
//! yields an ERROR event carrying a 410 `Status` inside the 200 stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use crate::error::ApiError;
use crate::http::{App, Query};
use crate::registry::ResourceType;
use crate::rest;
use crate::select::{FieldSelector, LabelSelector};
use crate::storage::{ChangeEvent, EventType, Subscription};
use crate::table;
use crate::util::metadata_str;

/// The longest a watch stays open when the client gives no `timeoutSeconds`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

struct Filter {
    storage_key: String,
    namespace: Option<String>,
    name: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    /// The event type this watch sees for a change, if any: a modification that moves an object
    /// into the selector is ADDED for this watch, one that moves it out is DELETED.
    fn event_type_for(&self, event: &ChangeEvent) -> Option<&'static str> {
        let in_scope = *event.storage_key == *self.storage_key
            && self
                .namespace
                .as_ref()
                .is_none_or(|namespace| *namespace == event.namespace)
            && self.name.as_ref().is_none_or(|name| *name == event.name);
        if !in_scope {
            return None;
        }
        let now = self.matches_object(&event.object);
        match (&event.previous, event.event_type) {
            (Some(previous), EventType::Modified) => match (self.matches_object(previous), now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
            _ => now.then(|| event.event_type.as_str()),
        }
    }

    fn matches_object(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }
}

/// One watch event as a line, `{"type":…,"object":…}`, serialised straight from the object.
fn line(event_type: &str, object: &Value) -> Bytes {
    let mut bytes = Vec::with_capacity(256);
    bytes.extend_from_slice(b"{\"type\":");
    // Serialising a string or a JSON value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut bytes, event_type);
    bytes.extend_from_slice(b",\"object\":");
    let _ = serde_json::to_writer(&mut bytes, object);
    bytes.extend_from_slice(b"}\n");
    Bytes::from(bytes)
}

/// Starts a watch and returns the streaming response.
pub fn serve(
    app: Arc<App>,
    resource: ResourceType,
    namespace: Option<String>,
    query: &Query,
    name: Option<String>,
    as_table: bool,
) -> Result<Response, ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))?;
    let fields = FieldSelector::parse(query.get("fieldSelector").unwrap_or(""))?;
    let timeout = match query.get("timeoutSeconds") {
        None | Some("") => DEFAULT_TIMEOUT,
        Some(text) => Duration::from_secs(
            text.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {text}")))?,
        ),
    };
    let bookmarks = query.flag("allowWatchBookmarks");
    let send_initial = query.flag("sendInitialEvents");
    let requested_version = match query.get("resourceVersion") {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion: {text}")))?,
        ),
    };
    let filter = Filter {
        storage_key: resource.storage_key(),
        namespace: if resource.namespaced { namespace } else { None },
        name,
        labels,
        fields,
    };
    let store = &app.api.store;
    // Initial state: ADDED for every current object when no (or a zero) resourceVersion is given,
    // or when sendInitialEvents asks for it; otherwise the events after the given version.
    let (initial, subscription, expired) =
        if send_initial || requested_version.is_none_or(|version| version == 0) {
            let (objects, subscription) =
                store.list_and_subscribe(&filter.storage_key, filter.namespace.as_deref());
            (objects, Some(subscription), None)
        } else {
            match store.subscribe(requested_version) {
                Ok(subscription) => (Vec::new(), Some(subscription), None),
                Err(error) => (Vec::new(), None, Some(error)),
            }
        };
    let (sender, receiver) = mpsc::channel::<Bytes>(1024);
    let bookmark_type = (resource.kind.clone(), resource.api_version());
    let event_line = move |event_type: &str, object: &Value| -> Bytes {
        if as_table {
            line(
                event_type,
                &table::table(
                    &resource,
                    std::slice::from_ref(object),
                    None,
                    Some("Object"),
                ),
            )
        } else {
            line(event_type, &rest::present(&resource, object))
        }
    };
    let bookmark_interval = app.bookmark_interval;
    tokio::spawn(async move {
        if let Some(error) = expired {
            let _ = sender.send(line("ERROR", &error.to_status())).await;
            return;
        }
        let Some(Subscription {
            backlog,
            mut live,
            resource_version,
        }) = subscription
        else {
            return;
        };
        let mut last_version = resource_version;
        for object in initial.iter().filter(|object| {
            filter
                .name
                .as_deref()
                .is_none_or(|name| metadata_str(object, "name") == Some(name))
        }) {
            if filter.matches_object(object)
                && sender.send(event_line("ADDED", object)).await.is_err()
            {
                return;
            }
        }
        if send_initial {
            let bookmark = json!({"kind": bookmark_type.0, "apiVersion": bookmark_type.1, "metadata": {"resourceVersion": resource_version.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
            if sender.send(line("BOOKMARK", &bookmark)).await.is_err() {
                return;
            }
        }
        for event in backlog.iter() {
            last_version = last_version.max(event.resource_version);
            let Some(event_type) = filter.event_type_for(event) else {
                continue;
            };
            if sender
                .send(event_line(event_type, &event.object))
                .await
                .is_err()
            {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(bookmark_interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = sender.closed() => return,
                _ = ticker.tick(), if bookmarks => {
                    let bookmark = json!({"kind": bookmark_type.0, "apiVersion": bookmark_type.1, "metadata": {"resourceVersion": last_version.to_string()}});
                    if sender.send(line("BOOKMARK", &bookmark)).await.is_err() {
                        return;
                    }
                }
                received = live.recv() => match received {
                    Ok(event) => {
                        // Already delivered from the backlog (or before the snapshot).
                        if event.resource_version <= resource_version {
                            continue;
                        }
                        last_version = event.resource_version;
                        if let Some(event_type) = filter.event_type_for(&event) {
                            if sender.send(event_line(event_type, &event.object)).await.is_err() {
                                return;
                            }
                        }
                    }
                    // A watcher that falls too far behind is closed; the client re-lists.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|bytes| (Ok::<Bytes, Infallible>(bytes), receiver))
    });
    Ok((
        StatusCode::OK,
        [
            ("content-type", "application/json"),
            ("cache-control", "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
