//! The JSON API under `/api/v1` (described by `assets/openapi.json`, served at
//! `/api/v1/openapi.json`): Applications listed with server-side paging and filters, one
//! Application, its resource tree and Events, refresh and sync, the caller's role, and a
//! server-sent event stream of Application changes (`/api/v1/stream`) fed by one watch on the
//! cluster shared by every subscriber.
//!
//! Every answer that is not a success is `{"error": message, "status": code}`. Reads need
//! either token; refresh and sync need the admin token and the Application's AppProject must
//! permit its sources and destination. The work itself is `apps`'s, as for `flotilla app`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use flotilla_engine::cluster::ClusterError;
use flotilla_engine::Cluster;
use futures_util::StreamExt as _;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::apps::{self, AppError};
use crate::auth::{self, Role, Tokens};

/// What the API and UI serve from: the cluster (read and written as any kube client does), the
/// tokens, and the control namespace where AppProjects live.
pub struct Api {
    pub cluster: Arc<Cluster>,
    pub tokens: Tokens,
    pub control_namespace: String,
}

pub(crate) struct ApiState {
    pub api: Api,
    /// Served over HTTPS: the login cookie is `Secure`.
    pub secure: bool,
    /// The engine, for what only it knows (the diff of a sync).
    pub backend: Arc<dyn crate::Backend>,
    /// Application changes as JSON (`{"type", "application": summary}`), for `/api/v1/stream`.
    pub changes: broadcast::Sender<String>,
    /// The summaries the watch keeps, which lists without a label selector page through.
    pub index: Arc<std::sync::RwLock<Index>>,
}

/// Every Application's summary by `namespace/name`, kept by the Application watch; `ready`
/// from its first list until the watch fails (lists then read the cluster until it re-lists).
#[derive(Default)]
pub(crate) struct Index {
    pub ready: bool,
    pub summaries: std::collections::BTreeMap<String, Value>,
}

/// The page size when `limit` is not given, and the largest one allowed.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// An API failure: a status and a message, answered as JSON.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &json!({"error": self.message, "status": self.status.as_u16()}),
        )
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        let status = match &error {
            AppError::NotServed { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::OperationRequested { .. } | AppError::OperationRunning { .. } => {
                StatusCode::CONFLICT
            }
            AppError::NotPermitted { .. } | AppError::NoProject { .. } => StatusCode::FORBIDDEN,
            AppError::RollbackAutomated { .. } => StatusCode::CONFLICT,
            AppError::NoHistoryEntry { .. } => StatusCode::NOT_FOUND,
            AppError::Cluster {
                source: ClusterError::Api(_),
                ..
            } => StatusCode::BAD_GATEWAY,
            AppError::Cluster { .. } => StatusCode::BAD_GATEWAY,
        };
        ApiError::new(status, chain(&error))
    }
}

/// An error and its causes on one line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    message
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
        ],
        serde_json::to_string(value).unwrap_or_default(),
    )
        .into_response()
}

/// The caller's role, when the request comes from this origin with a token of at least
/// `needed`: 403 for another origin or a read-only token on a mutating call, 401 without a
/// valid token.
pub(crate) fn authorize(
    state: &ApiState,
    headers: &HeaderMap,
    needed: Role,
) -> Result<Role, ApiError> {
    if auth::cross_origin(headers) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "requests from another origin are refused",
        ));
    }
    let Some(token) = auth::presented_token(headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no token: send `Authorization: Bearer TOKEN` (the token `flotilla up` prints in its login URL)",
        ));
    };
    let Some(role) = state.api.tokens.role(&token) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the token is not valid",
        ));
    };
    if needed == Role::Admin && role != Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this call changes the cluster and needs the admin token; this one is read-only",
        ));
    }
    Ok(role)
}

/// Query parameters (`a=1&b=2`), the last value of a repeated one winning.
pub(crate) fn query_map(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// The filters and paging of a list request.
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub namespace: Option<String>,
    pub projects: Vec<String>,
    pub sync: Vec<String>,
    pub health: Vec<String>,
    pub selector: Option<String>,
    pub search: Option<String>,
    pub limit: usize,
    pub page: usize,
    pub continue_after: Option<String>,
}

impl ListQuery {
    pub fn parse(parameters: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
        let text = |name: &str| {
            parameters
                .get(name)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        let several = |name: &str| -> Vec<String> {
            text(name)
                .map(|value| {
                    value
                        .split(',')
                        .map(|part| part.trim().to_string())
                        .filter(|part| !part.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let number = |name: &str, default: usize| -> Result<usize, ApiError> {
            match text(name) {
                None => Ok(default),
                Some(value) => value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "`{name}` must be a whole number above 0, not `{value}`"
                        ))
                    }),
            }
        };
        let limit = number("limit", DEFAULT_LIMIT)?;
        if limit > MAX_LIMIT {
            return Err(ApiError::bad_request(format!(
                "`limit` is at most {MAX_LIMIT}"
            )));
        }
        let continue_after = text("continue");
        if let Some(token) = &continue_after {
            if !token.contains('/') {
                return Err(ApiError::bad_request(
                    "`continue` is not a token this API gave (NAMESPACE/NAME)",
                ));
            }
        }
        Ok(ListQuery {
            namespace: text("namespace"),
            projects: several("project"),
            sync: several("sync"),
            health: several("health"),
            selector: text("selector"),
            search: text("search").map(|search| search.to_lowercase()),
            limit,
            page: number("page", 1)?,
            continue_after,
        })
    }
}

/// The bytes of `key(summary)`, without making the string.
fn key_parts(summary: &Value) -> impl Iterator<Item = u8> + '_ {
    summary["namespace"]
        .as_str()
        .unwrap_or("")
        .bytes()
        .chain(std::iter::once(b'/'))
        .chain(summary["name"].as_str().unwrap_or("").bytes())
}

/// Whether `text` contains `lowercase` (already lowercase), ignoring case; ASCII needles (the
/// usual ones) without allocating.
fn contains_ignoring_case(text: &str, lowercase: &str) -> bool {
    if !lowercase.is_ascii() {
        return text.to_lowercase().contains(lowercase);
    }
    let needle = lowercase.as_bytes();
    needle.is_empty()
        || text
            .as_bytes()
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

fn key(summary: &Value) -> String {
    format!(
        "{}/{}",
        summary["namespace"].as_str().unwrap_or(""),
        summary["name"].as_str().unwrap_or("")
    )
}

fn any_equal(wanted: &[String], value: &Value) -> bool {
    wanted.is_empty()
        || value
            .as_str()
            .is_some_and(|value| wanted.iter().any(|want| want.eq_ignore_ascii_case(value)))
}

/// One page of Application summaries: filtered, sorted by namespace and name, with the counts
/// by health and by sync of every Application the other filters keep (so the counts stay
/// useful while filtering by one of them).
pub fn page<'a>(summaries: impl IntoIterator<Item = &'a Value>, query: &ListQuery) -> Value {
    let mut summaries: Vec<&Value> = summaries
        .into_iter()
        .filter(|summary| match &query.namespace {
            Some(namespace) => summary["namespace"] == namespace.as_str(),
            None => true,
        })
        .filter(|summary| any_equal(&query.projects, &summary["project"]))
        .filter(|summary| match &query.search {
            None => true,
            Some(search) => ["name", "namespace", "project", "repoURL", "path"]
                .iter()
                .any(|field| {
                    summary[*field]
                        .as_str()
                        .is_some_and(|value| contains_ignoring_case(value, search))
                }),
        })
        .collect();
    // In the order of `key` (the continue token's), without making the keys.
    summaries.sort_by(|left, right| key_parts(left).cmp(key_parts(right)));
    let mut by_health: std::collections::BTreeMap<String, usize> = Default::default();
    let mut by_sync: std::collections::BTreeMap<String, usize> = Default::default();
    for summary in &summaries {
        if any_equal(&query.sync, &summary["sync"]) {
            *by_health
                .entry(summary["health"].as_str().unwrap_or("Unknown").into())
                .or_default() += 1;
        }
        if any_equal(&query.health, &summary["health"]) {
            *by_sync
                .entry(summary["sync"].as_str().unwrap_or("Unknown").into())
                .or_default() += 1;
        }
    }
    summaries.retain(|summary| {
        any_equal(&query.sync, &summary["sync"]) && any_equal(&query.health, &summary["health"])
    });
    let total = summaries.len();
    let start = match &query.continue_after {
        Some(after) => summaries.partition_point(|summary| key(summary) <= *after),
        None => (query.page - 1).saturating_mul(query.limit).min(total),
    };
    let end = (start + query.limit).min(total);
    let items: Vec<Value> = summaries[start..end]
        .iter()
        .map(|summary| (*summary).clone())
        .collect();
    let next = (end < total).then(|| items.last().map(key)).flatten();
    json!({
        "items": items,
        "total": total,
        "limit": query.limit,
        "page": start / query.limit + 1,
        "pages": total.div_ceil(query.limit).max(1),
        "continue": next,
        "counts": {"health": by_health, "sync": by_sync},
    })
}

/// The list a request asks for: from the watch's index when it is current and no label
/// selector is given (the cluster selects by label), else read through the cluster.
pub(crate) async fn list_page(state: &ApiState, query: &ListQuery) -> Result<Value, ApiError> {
    if query.selector.is_none() {
        let index = state
            .index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if index.ready {
            let listed = match &query.namespace {
                Some(namespace) => page(
                    index
                        .summaries
                        .range(format!("{namespace}/")..format!("{namespace}0"))
                        .map(|(_, summary)| summary),
                    query,
                ),
                None => page(index.summaries.values(), query),
            };
            return Ok(listed);
        }
    }
    let applications = apps::list(
        &state.api.cluster,
        query.namespace.as_deref(),
        query.selector.as_deref(),
    )
    .await?;
    let summaries: Vec<Value> = applications.iter().map(apps::summary).collect();
    Ok(page(&summaries, query))
}

pub(crate) async fn list_applications(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    let query = ListQuery::parse(&query_map(query.as_deref()))?;
    Ok(json_response(
        StatusCode::OK,
        &list_page(&state, &query).await?,
    ))
}

pub(crate) async fn get_application(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    let application = apps::get(&state.api.cluster, &namespace, &name).await?;
    Ok(json_response(StatusCode::OK, &application))
}

pub(crate) async fn tree(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    let application = apps::get(&state.api.cluster, &namespace, &name).await?;
    let tree = apps::resource_tree(&state.api.cluster, &application).await?;
    Ok(json_response(StatusCode::OK, &tree))
}

pub(crate) async fn events(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    apps::get(&state.api.cluster, &namespace, &name).await?;
    let events = apps::events(&state.api.cluster, &namespace, &name).await?;
    Ok(json_response(StatusCode::OK, &json!({"items": events})))
}

pub(crate) async fn history(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    let application = apps::get(&state.api.cluster, &namespace, &name).await?;
    let history = match &application["status"]["history"] {
        Value::Array(entries) => entries.clone(),
        _ => Vec::new(),
    };
    Ok(json_response(StatusCode::OK, &json!({"items": history})))
}

/// What a sync would change, as the engine compares it now; `resource=Kind/namespace/name`
/// keeps one object.
pub(crate) async fn diff_data(
    state: &ApiState,
    namespace: &str,
    name: &str,
    resource: Option<&str>,
) -> Result<Value, ApiError> {
    apps::get(&state.api.cluster, namespace, name).await?;
    let mut data = match state
        .backend
        .preview(namespace, name, resource.map(str::to_string))
        .await
    {
        None => {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "this server does not compare Applications",
            ))
        }
        Some(Err(message)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("cannot compare `{name}`: {message}"),
            ))
        }
        Some(Ok(data)) => data,
    };
    if let Some(resource) = resource {
        if let Value::Array(differences) = &mut data["differences"] {
            differences.retain(|difference| difference["resource"] == resource);
        }
    }
    Ok(data)
}

pub(crate) async fn diff(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    let parameters = query_map(query.as_deref());
    let resource = parameters.get("resource").map(String::as_str);
    let data = diff_data(&state, &namespace, &name, resource).await?;
    Ok(json_response(StatusCode::OK, &data))
}

/// The pre-sync gate's findings about the revisions an Application is at (those the
/// `GuardrailViolation` and `GuardrailWarning` conditions are about): `{application,
/// revisions, findings}` (`apps::guardrail_data`); none when the gate last spoke about other
/// revisions.
pub(crate) async fn guardrail_findings(
    state: &ApiState,
    namespace: &str,
    name: &str,
) -> Result<Value, ApiError> {
    let application = apps::get(&state.api.cluster, namespace, name).await?;
    findings_of(state, &application, namespace, name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "this server cannot tell the guardrail findings of `{name}`: it does not \
                 reconcile it (another replica does; its conditions say the same)"
            ),
        )
    })
}

/// `guardrail_findings` of an Application already read; None when the backend cannot tell.
pub(crate) fn findings_of(
    state: &ApiState,
    application: &Value,
    namespace: &str,
    name: &str,
) -> Option<Value> {
    let mut data = state.backend.guardrails(namespace, name)?;
    if data["revisions"] != json!(apps::compared_revisions(application)) {
        data["findings"] = json!([]);
    }
    data["application"] = json!({"namespace": namespace, "name": name});
    Some(data)
}

pub(crate) async fn guardrails(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    let data = guardrail_findings(&state, &namespace, &name).await?;
    Ok(json_response(StatusCode::OK, &data))
}

/// One object of an Application as the engine compares it: `{resource, inSync, inCluster,
/// reasons, diff, desired, live}`, Secret values masked.
pub(crate) async fn resource_data(
    state: &ApiState,
    namespace: &str,
    name: &str,
    resource: &str,
) -> Result<Value, ApiError> {
    let mut data = diff_data(state, namespace, name, Some(resource)).await?;
    match data["object"].take() {
        Value::Null => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("`{name}` has no object `{resource}` (Kind/namespace/name)"),
        )),
        object => Ok(object),
    }
}

pub(crate) async fn resource(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    let parameters = query_map(query.as_deref());
    let Some(resource) = parameters
        .get("resource")
        .filter(|resource| !resource.is_empty())
    else {
        return Err(ApiError::bad_request(
            "name the object: `?resource=Kind/namespace/name`",
        ));
    };
    let data = resource_data(&state, &namespace, &name, resource).await?;
    Ok(json_response(StatusCode::OK, &data))
}

/// Checks the AppProject and requests the rollback to history entry `id` (default: the one
/// before the current); the operation written.
pub(crate) async fn start_rollback(
    state: &ApiState,
    namespace: &str,
    name: &str,
    id: Option<i64>,
) -> Result<Value, ApiError> {
    let cluster = &state.api.cluster;
    let application = apps::get(cluster, namespace, name).await?;
    apps::check_project(cluster, &state.api.control_namespace, &application).await?;
    let operation = apps::rollback_operation(&application, id, "flotilla-web (admin token)")?;
    apps::request_operation(cluster, namespace, name, operation.clone()).await?;
    Ok(operation)
}

pub(crate) async fn rollback(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::Admin)?;
    let body = object_body(&body)?;
    if let Some(unknown) = body.keys().find(|key| key.as_str() != "id") {
        return Err(ApiError::bad_request(format!(
            "unknown field `{unknown}` (known: id)"
        )));
    }
    let id = match body.get("id") {
        None | Some(Value::Null) => None,
        Some(id) => Some(id.as_i64().ok_or_else(|| {
            ApiError::bad_request("`id` must be a history entry's id (a number)")
        })?),
    };
    let operation = start_rollback(&state, &namespace, &name, id).await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({"application": {"namespace": namespace, "name": name}, "operation": operation}),
    ))
}

/// The embedded catalog's packages and what OLM installed in the cluster.
pub(crate) async fn catalog_data(state: &ApiState) -> Result<Value, ApiError> {
    let installed = crate::catalog::installed(&state.api.cluster).await?;
    Ok(json!({"packages": crate::catalog::packages(), "installed": installed}))
}

pub(crate) async fn catalog(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    Ok(json_response(StatusCode::OK, &catalog_data(&state).await?))
}

/// One package, with the Subscriptions and CSVs of it the cluster has.
pub(crate) async fn catalog_package_data(state: &ApiState, name: &str) -> Result<Value, ApiError> {
    let Some(mut package) = crate::catalog::package(name) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("the catalog has no package `{name}`"),
        ));
    };
    let installed = crate::catalog::installed(&state.api.cluster).await?;
    let subscriptions: Vec<Value> = installed["subscriptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|subscription| subscription["package"] == name)
        .cloned()
        .collect();
    let prefix = format!("{name}.");
    let csv_prefix = package["latestCSV"]
        .as_str()
        .and_then(|csv| csv.split_once(".v"))
        .map(|(prefix, _)| format!("{prefix}."))
        .unwrap_or(prefix);
    let csvs: Vec<Value> = installed["csvs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|csv| {
            csv["name"].as_str().is_some_and(|csv_name| {
                csv_name.starts_with(&csv_prefix)
                    || subscriptions
                        .iter()
                        .any(|subscription| subscription["installedCSV"] == csv_name)
            })
        })
        .cloned()
        .collect();
    package["installed"] =
        json!({"olm": installed["olm"], "subscriptions": subscriptions, "csvs": csvs});
    Ok(package)
}

pub(crate) async fn catalog_package(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    Ok(json_response(
        StatusCode::OK,
        &catalog_package_data(&state, &name).await?,
    ))
}

/// The event topology of the cluster's Applications (`?format=dot` for Graphviz).
pub(crate) async fn topology(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    let graph = crate::topology::live(&state.api.cluster, &*state.backend).await?;
    if query_map(query.as_deref())
        .get("format")
        .map(String::as_str)
        == Some("dot")
    {
        return Ok((
            [("content-type", "text/vnd.graphviz; charset=utf-8")],
            graph.to_dot(),
        )
            .into_response());
    }
    Ok(json_response(StatusCode::OK, &graph.to_json()))
}

pub(crate) async fn session(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let role = authorize(&state, &headers, Role::ReadOnly)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"role": role.as_str(), "canSync": role == Role::Admin}),
    ))
}

/// A JSON object body; an empty body is `{}`.
fn object_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Default::default());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(error) => Err(ApiError::bad_request(format!(
            "the body is not JSON: {error}"
        ))),
    }
}

fn flag(body: &serde_json::Map<String, Value>, name: &str) -> Result<bool, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(ApiError::bad_request(format!(
            "`{name}` must be true or false"
        ))),
    }
}

/// What a sync asks for.
#[derive(Debug, Default, Clone)]
pub struct SyncRequest {
    pub prune: bool,
    pub dry_run: bool,
    pub revision: String,
    pub sync_options: Vec<String>,
    /// Selected resources (`group`, `kind`, `namespace`, `name`); empty: all.
    pub resources: Vec<Value>,
}

/// Refuses sync options the engine would refuse (`Key=value`, known keys and values).
pub fn check_sync_options(options: &[String]) -> Result<(), ApiError> {
    let mut parsed = flotilla_plan::SyncOptions::default();
    flotilla_plan::apply_sync_options(&mut parsed, options)
        .map_err(|error| ApiError::bad_request(format!("`syncOptions`: {}", chain(&error))))
}

impl SyncRequest {
    pub fn parse(body: &[u8]) -> Result<SyncRequest, ApiError> {
        let body = object_body(body)?;
        let known = ["prune", "dryRun", "revision", "syncOptions", "resources"];
        if let Some(unknown) = body.keys().find(|key| !known.contains(&key.as_str())) {
            return Err(ApiError::bad_request(format!(
                "unknown field `{unknown}` (known: {})",
                known.join(", ")
            )));
        }
        let revision = match body.get("revision") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(revision)) => revision.clone(),
            Some(_) => return Err(ApiError::bad_request("`revision` must be a string")),
        };
        let sync_options = match body.get("syncOptions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(options)) => options
                .iter()
                .map(|option| {
                    option.as_str().map(str::to_string).ok_or_else(|| {
                        ApiError::bad_request("`syncOptions` must be strings such as `Prune=false`")
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(ApiError::bad_request("`syncOptions` must be a list")),
        };
        check_sync_options(&sync_options)?;
        let resources = match body.get("resources") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(resources)) => resources
                .iter()
                .map(|resource| {
                    let field = |name: &str| resource[name].as_str().unwrap_or("").to_string();
                    if !resource.is_object() || field("kind").is_empty() || field("name").is_empty()
                    {
                        return Err(ApiError::bad_request(
                            "each of `resources` needs `kind` and `name` (and `group`, `namespace` where they apply)",
                        ));
                    }
                    Ok(json!({"group": field("group"), "kind": field("kind"), "namespace": field("namespace"), "name": field("name")}))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(ApiError::bad_request("`resources` must be a list")),
        };
        Ok(SyncRequest {
            prune: flag(&body, "prune")?,
            dry_run: flag(&body, "dryRun")?,
            revision,
            sync_options,
            resources,
        })
    }

    /// The Application `operation` (Argo CD's shape).
    pub fn operation(&self, initiated_by: &str) -> Value {
        let mut sync = json!({
            "revision": self.revision,
            "prune": self.prune,
            "dryRun": self.dry_run,
            "syncOptions": self.sync_options,
        });
        if !self.resources.is_empty() {
            sync["resources"] = json!(self.resources);
        }
        json!({"sync": sync, "initiatedBy": {"username": initiated_by}})
    }
}

/// Checks the AppProject and requests the sync; the Application before the request.
pub(crate) async fn start_sync(
    state: &ApiState,
    namespace: &str,
    name: &str,
    request: &SyncRequest,
) -> Result<Value, ApiError> {
    let cluster = &state.api.cluster;
    let application = apps::get(cluster, namespace, name).await?;
    apps::check_project(cluster, &state.api.control_namespace, &application).await?;
    let operation = request.operation("flotilla-web (admin token)");
    apps::request_operation(cluster, namespace, name, operation.clone()).await?;
    Ok(operation)
}

pub(crate) async fn sync(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::Admin)?;
    let request = SyncRequest::parse(&body)?;
    let operation = start_sync(&state, &namespace, &name, &request).await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({"application": {"namespace": namespace, "name": name}, "operation": operation}),
    ))
}

pub(crate) async fn refresh(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::Admin)?;
    let body = object_body(&body)?;
    let hard = flag(&body, "hard")?
        || query_map(query.as_deref())
            .get("hard")
            .is_some_and(|value| value == "true");
    let cluster = &state.api.cluster;
    let application = apps::get(cluster, &namespace, &name).await?;
    apps::check_project(cluster, &state.api.control_namespace, &application).await?;
    apps::refresh(cluster, &namespace, &name, hard).await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({"application": {"namespace": namespace, "name": name}, "refresh": if hard { "hard" } else { "normal" }}),
    ))
}

pub(crate) const OPENAPI: &str = include_str!("../assets/openapi.json");

pub(crate) async fn openapi() -> Response {
    ([("content-type", "application/json")], OPENAPI).into_response()
}

/// `/api/v1/stream`: `application` events (`{"type": ADDED|MODIFIED|DELETED, "application":
/// summary}`), and `resync` when this subscriber fell behind and should read the list again.
pub(crate) async fn stream(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Role::ReadOnly)?;
    let receiver = state.changes.subscribe();
    let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let event = match receiver.recv().await {
            Ok(change) => Event::default().event("application").data(change),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Event::default().event("resync").data("{}")
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<Event, Infallible>(event), receiver))
    });
    let opened = futures_util::stream::once(async {
        Ok::<Event, Infallible>(Event::default().event("hello").data("{}"))
    });
    Ok(Sse::new(opened.chain(events))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// Follows the Applications of the cluster and publishes each change on `changes`: a list for
/// its resourceVersion, then a watch from it, again after the watch ends or fails.
pub(crate) async fn watch_applications(
    cluster: Arc<Cluster>,
    changes: broadcast::Sender<String>,
    index: Arc<std::sync::RwLock<Index>>,
) {
    loop {
        if let Err(message) = watch_once(&cluster, &changes, &index).await {
            tracing::debug!(%message, "the Application watch of the web API ended");
        }
        index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .ready = false;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn watch_once(
    cluster: &Cluster,
    changes: &broadcast::Sender<String>,
    index: &std::sync::RwLock<Index>,
) -> Result<(), String> {
    let info = apps::resource(cluster)
        .await
        .map_err(|error| chain(&error))?;
    let list = cluster
        .list(&info, None, &Default::default())
        .await
        .map_err(|error| chain(&error))?;
    let mut version = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let summaries = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(apps::summary)
        .map(|summary| (key(&summary), summary))
        .collect();
    *index
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Index {
        ready: true,
        summaries,
    };
    // Whatever changed while no watch ran.
    let _ = changes.send(json!({"type": "RESYNC"}).to_string());
    loop {
        let events = cluster
            .watch::<Value>(&info, None, &version, 290)
            .await
            .map_err(|error| chain(&error))?;
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            let event = event.map_err(|error| error.to_string())?;
            let event = serde_json::to_value(&event).map_err(|error| error.to_string())?;
            let kind = event["type"].as_str().unwrap_or("");
            let object = &event["object"];
            if let Some(seen) = object["metadata"]["resourceVersion"].as_str() {
                version = seen.to_string();
            }
            match kind {
                "ADDED" | "MODIFIED" | "DELETED" => {
                    let summary = apps::summary(object);
                    {
                        let mut index = index
                            .write()
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                        if kind == "DELETED" {
                            index.summaries.remove(&key(&summary));
                        } else {
                            index.summaries.insert(key(&summary), summary.clone());
                        }
                    }
                    let _ = changes.send(json!({"type": kind, "application": summary}).to_string());
                }
                "BOOKMARK" => {}
                _ => return Err(format!("watch error: {object}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn application(namespace: &str, name: &str, project: &str, sync: &str, health: &str) -> Value {
        json!({
            "metadata": {"namespace": namespace, "name": name},
            "spec": {"project": project, "source": {"repoURL": "https://git.example/repo.git", "path": format!("apps/{name}")}},
            "status": {"sync": {"status": sync}, "health": {"status": health}},
        })
    }

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        let map = pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        ListQuery::parse(&map).expect("query")
    }

    fn summaries(applications: &[Value]) -> Vec<Value> {
        applications.iter().map(apps::summary).collect()
    }

    fn names(page: &Value) -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["name"].as_str().expect("name").to_string())
            .collect()
    }

    #[test]
    fn pages_filters_and_counts() {
        let applications: Vec<Value> = (0..7)
            .map(|index| {
                application(
                    if index % 2 == 0 { "argocd" } else { "team" },
                    &format!("app-{index}"),
                    if index < 3 { "alpha" } else { "beta" },
                    if index == 4 { "OutOfSync" } else { "Synced" },
                    if index == 5 { "Degraded" } else { "Healthy" },
                )
            })
            .collect();
        let first = page(&summaries(&applications), &query(&[("limit", "3")]));
        assert_eq!(names(&first), ["app-0", "app-2", "app-4"]);
        assert_eq!(first["total"], 7);
        assert_eq!(first["pages"], 3);
        assert_eq!(first["continue"], "argocd/app-4");
        let second = page(
            &summaries(&applications),
            &query(&[("limit", "3"), ("continue", "argocd/app-4")]),
        );
        assert_eq!(names(&second), ["app-6", "app-1", "app-3"]);
        let by_page = page(
            &summaries(&applications),
            &query(&[("limit", "3"), ("page", "2")]),
        );
        assert_eq!(names(&by_page), names(&second));
        let last = page(
            &summaries(&applications),
            &query(&[("limit", "3"), ("page", "3")]),
        );
        assert_eq!(names(&last), ["app-5"]);
        assert_eq!(last["continue"], Value::Null);
        let beta = page(
            &summaries(&applications),
            &query(&[("project", "beta"), ("health", "healthy")]),
        );
        assert_eq!(names(&beta), ["app-4", "app-6", "app-3"]);
        // Counts by health ignore the health filter; by sync they keep it.
        assert_eq!(
            beta["counts"]["health"],
            json!({"Degraded": 1, "Healthy": 3})
        );
        assert_eq!(beta["counts"]["sync"], json!({"OutOfSync": 1, "Synced": 2}));
        let searched = page(&summaries(&applications), &query(&[("search", "APP-5")]));
        assert_eq!(names(&searched), ["app-5"]);
        let team = page(&summaries(&applications), &query(&[("namespace", "team")]));
        assert_eq!(names(&team), ["app-1", "app-3", "app-5"]);
        let out_of_sync = page(&summaries(&applications), &query(&[("sync", "OutOfSync")]));
        assert_eq!(names(&out_of_sync), ["app-4"]);
        for bad in [
            ("limit", "0"),
            ("limit", "x"),
            ("limit", "100000"),
            ("continue", "x"),
        ] {
            let map = [(bad.0.to_string(), bad.1.to_string())]
                .into_iter()
                .collect();
            assert!(ListQuery::parse(&map).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sync_bodies() {
        let request = SyncRequest::parse(br#"{"prune": true, "dryRun": true, "resources": [{"kind": "ConfigMap", "name": "a", "namespace": "n"}]}"#).expect("valid");
        assert!(request.prune && request.dry_run);
        let operation = request.operation("me");
        assert_eq!(operation["sync"]["resources"][0]["kind"], "ConfigMap");
        assert!(SyncRequest::parse(b"").expect("empty").resources.is_empty());
        let options = SyncRequest::parse(
            br#"{"syncOptions": ["ApplyOutOfSyncOnly=true", "Validate=false"]}"#,
        )
        .expect("known options");
        assert_eq!(
            options.operation("me")["sync"]["syncOptions"][1],
            "Validate=false"
        );
        for bad in [
            &br#"{"syncOptions": ["Bogus"]}"#[..],
            br#"{"syncOptions": ["Prune=maybe"]}"#,
            br#"{"syncOptions": [1]}"#,
        ] {
            let error = SyncRequest::parse(bad).expect_err("refused");
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{}", error.message);
        }
        for bad in [
            &b"{"[..],
            b"[]",
            br#"{"prune": "yes"}"#,
            br#"{"bogus": 1}"#,
            br#"{"resources": [{}]}"#,
        ] {
            let error = SyncRequest::parse(bad).expect_err("refused");
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn the_openapi_document_is_json_and_lists_every_route() {
        let document: Value = serde_json::from_str(OPENAPI).expect("JSON");
        let paths = document["paths"].as_object().expect("paths");
        for route in crate::API_ROUTES {
            assert!(paths.contains_key(*route), "{route} is not documented");
        }
        assert_eq!(paths.len(), crate::API_ROUTES.len());
    }

    #[test]
    fn a_summary_names_the_replica_that_owns_the_application() {
        let mut owned = application("argocd", "one", "default", "Synced", "Healthy");
        owned["status"]["controllerShard"] = json!("flotilla-controller-5c8f9d7b64-x2x4z");
        assert_eq!(
            apps::summary(&owned)["controller"],
            "flotilla-controller-5c8f9d7b64-x2x4z"
        );
        let unsharded = application("argocd", "two", "default", "Synced", "Healthy");
        assert_eq!(apps::summary(&unsharded)["controller"], Value::Null);
    }
}
