//! The HTTP surface: bearer-token authentication (`crate::auth`), URL parsing into discovery or resource requests,
//! content negotiation, and the handlers that turn requests into `crate::rest` calls. Every error
//! leaves as a Kubernetes `Status`; no client input can panic a handler.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use crate::apply::{self, ApplyResult};
use crate::crd;
use crate::discovery;
use crate::error::ApiError;
use crate::registry::ResourceType;
use crate::rest::{
    self, ApiState, DeleteOptions, Part, Propagation, ReplaceOperation, WriteOptions,
    MAX_OBJECT_BYTES,
};
use crate::select::{FieldSelector, LabelSelector};
use crate::table;
use crate::util::{self, metadata_str};
use crate::validate;
use crate::watch;

/// Everything a handler needs.
pub struct App {
    pub api: ApiState,
    pub token: Option<String>,
    /// ServiceAccount tokens minted by TokenRequests.
    pub tokens: crate::auth::Tokens,
    pub bookmark_interval: Duration,
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_OBJECT_BYTES + 64 * 1024))
        .with_state(app)
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).expect("a JSON value always serialises");
    (code, [("content-type", "application/json")], body).into_response()
}

fn ok(value: &Value) -> Response {
    json_response(StatusCode::OK, value)
}

/// The query string as ordered pairs.
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(uri: &Uri) -> Result<Query, ApiError> {
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(uri.query().unwrap_or(""))
            .map_err(|error| ApiError::bad_request(format!("invalid query string: {error}")))?;
        Ok(Query { pairs })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true") | Some("1"))
    }

    fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "Invalid dryRun value: {other}; supported values: \"All\""
            ))),
        }
    }

    fn write_options(&self) -> Result<WriteOptions, ApiError> {
        let field_validation = validate::parse_field_validation(self.get("fieldValidation"))?;
        Ok(WriteOptions {
            dry_run: self.dry_run()?,
            field_manager: self
                .get("fieldManager")
                .filter(|manager| !manager.is_empty())
                .map(str::to_string),
            field_validation,
            force: self.flag("force"),
            initial_managed_fields: None,
        })
    }
}

/// What a resource URL addresses.
#[derive(Debug)]
struct Target {
    resource: ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    part: Part,
    watch: bool,
}

async fn handle(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let presented = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let minted = presented.and_then(|presented| app.tokens.user(presented));
    let user = match (&app.token, minted) {
        (_, Some(user)) => user,
        (Some(token), None) if presented == Some(token.as_str()) => crate::auth::admin(),
        (Some(_), None) => return ApiError::Unauthorized.into_response(),
        // Without authentication (`--insecure-http`), a request without a minted token is the
        // admin's.
        (None, None) => crate::auth::admin(),
    };
    let user = match crate::auth::impersonated(&app.api, user, &headers) {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    match route(&app, &user, &method, &uri, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn accept(headers: &HeaderMap) -> String {
    headers
        .get("accept")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn route(
    app: &Arc<App>,
    user: &flotilla_core::rbac::UserInfo,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = uri.path();
    if path.contains("//")
        || path
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
        || path.contains('%')
    {
        return Err(ApiError::UnknownResource);
    }
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    if !crate::authorize::is_superuser(user) {
        // Authorized before anything else, from the URL alone (`crate::authorize`). A query
        // string that does not parse is refused with 400 below, after this check.
        let query = Query::parse(uri).ok();
        let attributes = crate::authorize::RequestAttributes::of(
            method.as_str(),
            path,
            &segments,
            crate::authorize::QueryAttributes {
                watch: query.as_ref().is_some_and(|query| query.flag("watch")),
                field_selector: query.as_ref().and_then(|query| query.get("fieldSelector")),
            },
        );
        crate::authorize::authorize(&app.api, user, &attributes)?;
    }
    let accept = accept(headers);
    let registry = &app.api.registry;
    let is_get = method == Method::GET;
    match segments.as_slice() {
        ["version"] if is_get => return Ok(ok(&discovery::version())),
        ["healthz"] | ["readyz"] | ["livez"] if is_get => {
            return Ok((StatusCode::OK, [("content-type", "text/plain")], "ok").into_response())
        }
        ["api"] if is_get => {
            return Ok(match discovery::aggregated_version(&accept) {
                Some(version) => {
                    aggregated_response(&discovery::aggregated(registry, true, version), version)
                }
                None => ok(&discovery::core_versions()),
            })
        }
        ["apis"] if is_get => {
            return Ok(match discovery::aggregated_version(&accept) {
                Some(version) => {
                    aggregated_response(&discovery::aggregated(registry, false, version), version)
                }
                None => ok(&discovery::group_list(registry)),
            })
        }
        ["openapi", "v3"] if is_get => return Ok(ok(&crate::openapi::index(registry))),
        ["openapi", "v3", "api", version] if is_get => {
            return crate::openapi::document(registry, "", version)
                .map(|document| ok(&document))
                .ok_or(ApiError::UnknownResource)
        }
        ["openapi", "v3", "apis", group, version] if is_get => {
            return crate::openapi::document(registry, group, version)
                .map(|document| ok(&document))
                .ok_or(ApiError::UnknownResource)
        }
        ["api", "v1"] if is_get => {
            return discovery::resource_list(registry, "", "v1")
                .map(|list| ok(&list))
                .ok_or(ApiError::UnknownResource)
        }
        ["apis", group] if is_get => {
            return discovery::group(registry, group)
                .map(|group| ok(&group))
                .ok_or(ApiError::UnknownResource)
        }
        ["apis", group, version] if is_get => {
            return discovery::resource_list(registry, group, version)
                .map(|list| ok(&list))
                .ok_or(ApiError::UnknownResource)
        }
        _ => {}
    }
    if method == Method::POST {
        let answer = match segments.as_slice() {
            ["apis", "authorization.k8s.io", "v1", "selfsubjectrulesreviews"] => Some(
                crate::auth::rules_review(&app.api, user, &decode_body(headers, &body)?)?,
            ),
            ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"] => Some(
                crate::auth::access_review(&app.api, user, &decode_body(headers, &body)?)?,
            ),
            ["api", "v1", "namespaces", namespace, "serviceaccounts", name, "token"] => Some(
                app.tokens
                    .request(&app.api, namespace, name, &decode_body(headers, &body)?)?,
            ),
            _ => None,
        };
        if let Some(answer) = answer {
            return Ok(json_response(StatusCode::CREATED, &answer));
        }
    }
    let (group, version, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::UnknownResource),
    };
    let query = Query::parse(uri)?;
    let target = parse_target(app, group, version, rest, &query, method, &body, headers)?;
    dispatch(app, method, &query, headers, &accept, target, body).await
}

fn aggregated_response(value: &Value, version: &str) -> Response {
    let body = serde_json::to_vec(value).expect("a JSON value always serialises");
    let content_type =
        format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    (StatusCode::OK, [("content-type", content_type)], body).into_response()
}

#[allow(clippy::too_many_arguments)]
fn parse_target(
    app: &App,
    group: &str,
    version: &str,
    rest: &[&str],
    query: &Query,
    method: &Method,
    body: &Bytes,
    headers: &HeaderMap,
) -> Result<Target, ApiError> {
    let (watch_prefix, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let (namespace, plural, name, subresource) = match rest {
        ["namespaces", namespace, plural, rest @ ..]
            if !matches!(*plural, "status" | "finalize") =>
        {
            let (name, subresource) = match rest {
                [] => (None, None),
                [name] => (Some(*name), None),
                [name, subresource] => (Some(*name), Some(*subresource)),
                _ => return Err(ApiError::UnknownResource),
            };
            (Some(*namespace), *plural, name, subresource)
        }
        [plural] => (None, *plural, None, None),
        [plural, name] => (None, *plural, Some(*name), None),
        [plural, name, subresource] => (None, *plural, Some(*name), Some(*subresource)),
        _ => return Err(ApiError::UnknownResource),
    };
    let resource = match app.api.registry.lookup(group, version, plural) {
        Some(resource) => resource,
        None => accept_unknown(
            app,
            group,
            version,
            plural,
            namespace.is_some(),
            method,
            body,
            headers,
        )?,
    };
    if namespace.is_some() && !resource.namespaced {
        return Err(ApiError::UnknownResource);
    }
    let part = match subresource {
        None => Part::Main,
        Some("status") if resource.has_status => Part::Status,
        Some("scale") if app.api.registry.scale(&resource).is_some() => Part::Scale,
        Some("finalize") if resource.group.is_empty() && resource.plural == "namespaces" => {
            Part::Main
        }
        Some(_) => return Err(ApiError::UnknownResource),
    };
    if let Some(name) = name {
        if name.is_empty() || name.len() > 253 {
            return Err(ApiError::not_found(group, plural, name));
        }
    }
    Ok(Target {
        resource,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        part,
        watch: watch_prefix || query.flag("watch"),
    })
}

/// With `--accept-unknown-kinds`, a write to an unknown resource registers a schemaless CRD for it.
#[allow(clippy::too_many_arguments)]
fn accept_unknown(
    app: &App,
    group: &str,
    version: &str,
    plural: &str,
    namespaced: bool,
    method: &Method,
    body: &Bytes,
    headers: &HeaderMap,
) -> Result<ResourceType, ApiError> {
    if !app.api.accept_unknown_kinds
        || group.is_empty()
        || !(method == Method::POST || method == Method::PATCH || method == Method::PUT)
    {
        return Err(ApiError::UnknownResource);
    }
    let object = decode_body(headers, body).map_err(|_| ApiError::UnknownResource)?;
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .ok_or(ApiError::UnknownResource)?;
    if util::dns_subdomain_problem(group).is_some() || util::dns_label_problem(plural).is_some() {
        return Err(ApiError::UnknownResource);
    }
    let definition = crd::schemaless_definition(group, version, kind, plural, namespaced);
    let crd_type = app
        .api
        .registry
        .lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .expect("the CRD resource is built in");
    match rest::create(&app.api, &crd_type, None, definition, &WriteOptions::default()) {
        Ok(_) => eprintln!("accepted unknown kind {kind} ({plural}.{group}/{version}): registered a schemaless CustomResourceDefinition"),
        Err(ApiError::AlreadyExists { .. }) => {}
        Err(error) => return Err(error),
    }
    app.api
        .registry
        .lookup(group, version, plural)
        .ok_or(ApiError::UnknownResource)
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decodes a JSON or YAML body into a JSON value.
fn decode_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    if body.len() > MAX_OBJECT_BYTES {
        return Err(ApiError::RequestEntityTooLarge {
            limit: MAX_OBJECT_BYTES,
        });
    }
    let content_type = content_type(headers);
    match content_type.as_str() {
        "" | "application/json" | "application/merge-patch+json" | "application/json-patch+json" | "*/*" => parse_json(body),
        "application/yaml" | "application/apply-patch+yaml" | "application/x-yaml" | "text/yaml" => parse_json(body).or_else(|_| parse_yaml(body)),
        // What typed kubectl commands (`create namespace`, `create configmap`, `run`…) send.
        "application/vnd.kubernetes.protobuf" => crate::protobuf::decode_object(body).map_err(|error| {
            ApiError::bad_request(format!("error decoding request body as protobuf: {error}"))
        }),
        other => Err(ApiError::UnsupportedMediaType {
            message: format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {other})"),
        }),
    }
}

/// Adds kube-apiserver's `Warning: 299 - "…"` headers, which kubectl prints as `Warning: …`.
fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        let text = format!(
            "299 - \"{}\"",
            warning.replace('\\', "\\\\").replace('"', "\\\"")
        );
        if let Ok(value) = axum::http::HeaderValue::from_str(&text) {
            response.headers_mut().append("warning", value);
        }
    }
    response
}

fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!("error decoding request body as JSON: {error}"))
    })
}

fn parse_yaml(body: &Bytes) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
    let document = flotilla_core::parse_single_document(text).map_err(|error| {
        ApiError::bad_request(format!("error decoding request body as YAML: {error}"))
    })?;
    Ok(core_to_json(&document))
}

use flotilla_core::{from_json as json_to_core, to_json as core_to_json};

/// A strategic merge patch as kube-apiserver applies it, with the patch strategies and merge
/// keys of the built-in types; custom resources have none and refuse it, as in Kubernetes.
fn strategic_merge(
    resource: &ResourceType,
    target: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    let schema = flotilla_patch::Schema::builtin();
    let api_version = target
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if schema.resource(api_version, &resource.kind).is_none() {
        return Err(ApiError::UnsupportedMediaType {
            message: format!(
                "the body of the request was in an unknown format - strategic merge patch is not supported for {} (no patch schema); use a JSON merge patch, a JSON patch or server-side apply",
                resource.kind
            ),
        });
    }
    let merged =
        flotilla_patch::server_strategic_merge(&json_to_core(target), &json_to_core(patch), schema)
            .map_err(|error| {
                ApiError::bad_request(format!(
                    "the strategic merge patch could not be applied: {error}"
                ))
            })?;
    Ok(core_to_json(&merged))
}

fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

async fn dispatch(
    app: &Arc<App>,
    method: &Method,
    query: &Query,
    headers: &HeaderMap,
    accept: &str,
    target: Target,
    body: Bytes,
) -> Result<Response, ApiError> {
    let state = &app.api;
    let resource = &target.resource;
    let namespace_for_object = if resource.namespaced {
        target.namespace.clone()
    } else {
        Some(String::new())
    };
    if target.part == Part::Scale {
        return scale_request(
            state,
            method,
            query,
            headers,
            accept,
            &target,
            &namespace_for_object,
            &body,
        );
    }
    match (method, &target.name) {
        (&Method::GET, None) if target.watch => watch::serve(
            app.clone(),
            target.resource.clone(),
            target.namespace.clone(),
            query,
            None,
            wants_table(accept),
        ),
        (&Method::GET, Some(name)) if target.watch => watch::serve(
            app.clone(),
            target.resource.clone(),
            target.namespace.clone(),
            query,
            Some(name.clone()),
            wants_table(accept),
        ),
        (&Method::GET, None) => list(state, resource, target.namespace.as_deref(), query, accept),
        (&Method::GET, Some(name)) => {
            let namespace = object_namespace(resource, &namespace_for_object, name)?;
            let stored = rest::get(state, resource, &namespace, name)?;
            let object = rest::present(resource, stored.as_ref());
            if wants_table(accept) {
                return Ok(ok(&table::table(
                    resource,
                    std::slice::from_ref(object.as_ref()),
                    None,
                    query.get("includeObject"),
                )));
            }
            Ok(ok(&object))
        }
        (&Method::POST, None) => {
            let body = decode_body(headers, &body)?;
            let options = query.write_options()?;
            let warnings = validate::check_builtin_object(
                resource,
                &body,
                options.field_validation,
                validate::Decoder::Body,
            )?;
            let created =
                rest::create(state, resource, target.namespace.as_deref(), body, &options)?;
            Ok(with_warnings(
                json_response(StatusCode::CREATED, &created),
                &warnings,
            ))
        }
        (&Method::PUT, Some(name)) => {
            let namespace = object_namespace(resource, &namespace_for_object, name)?;
            let body = decode_body(headers, &body)?;
            let options = query.write_options()?;
            let warnings = validate::check_builtin_object(
                resource,
                &body,
                options.field_validation,
                validate::Decoder::Body,
            )?;
            let replaced = rest::replace(
                state,
                resource,
                &namespace,
                name,
                target.part,
                body,
                &options,
                ReplaceOperation::Update,
            )?;
            Ok(with_warnings(ok(&replaced), &warnings))
        }
        (&Method::PATCH, Some(name)) => {
            let namespace = object_namespace(resource, &namespace_for_object, name)?;
            let options = query.write_options()?;
            let patched = patch(
                state,
                resource,
                &namespace,
                name,
                target.part,
                headers,
                &body,
                &options,
            )?;
            Ok(patched)
        }
        (&Method::DELETE, Some(name)) => {
            let namespace = object_namespace(resource, &namespace_for_object, name)?;
            let options = delete_options(query, headers, &body)?;
            let deleted = rest::delete(state, resource, &namespace, name, &options)?;
            Ok(ok(&deleted))
        }
        (&Method::DELETE, None) => {
            let options = delete_options(query, headers, &body)?;
            let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))?;
            let fields = FieldSelector::parse(query.get("fieldSelector").unwrap_or(""))?;
            let (objects, _) = state
                .store
                .list(&resource.storage_key(), target.namespace.as_deref());
            let mut items = Vec::new();
            for object in objects
                .iter()
                .filter(|object| labels.matches(object) && fields.matches(object))
            {
                let namespace = metadata_str(object, "namespace")
                    .unwrap_or_default()
                    .to_string();
                let name = metadata_str(object, "name").unwrap_or_default().to_string();
                if let Ok(deleted) = rest::delete(state, resource, &namespace, &name, &options) {
                    items.push(Value::clone(&deleted));
                }
            }
            Ok(ok(
                &json!({"kind": resource.list_kind(), "apiVersion": resource.api_version(), "metadata": {}, "items": items}),
            ))
        }
        _ => Err(ApiError::MethodNotAllowed {
            message: format!(
                "the server does not allow this method on the requested resource ({method})"
            ),
        }),
    }
}

/// A request to the `scale` subresource (`crate::scale`): get (as a Table when asked), update,
/// and patch of every kind, server-side apply included.
#[allow(clippy::too_many_arguments)]
fn scale_request(
    state: &ApiState,
    method: &Method,
    query: &Query,
    headers: &HeaderMap,
    accept: &str,
    target: &Target,
    namespace: &Option<String>,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let resource = &target.resource;
    let not_allowed = || ApiError::MethodNotAllowed {
        message: format!(
            "the server does not allow this method on the requested resource ({method})"
        ),
    };
    let Some(name) = target.name.as_deref().filter(|_| !target.watch) else {
        return Err(not_allowed());
    };
    let namespace = object_namespace(resource, namespace, name)?;
    // kube names a writer that gives no fieldManager after its User-Agent (`kubectl scale`).
    let write_options = || -> Result<WriteOptions, ApiError> {
        let mut options = query.write_options()?;
        if options.field_manager.is_none() {
            options.field_manager = manager_from_user_agent(headers);
        }
        Ok(options)
    };
    let scale = match *method {
        Method::GET => {
            let scale = crate::scale::get(state, resource, &namespace, name)?;
            if wants_table(accept) {
                return Ok(ok(&table::scale_table(&scale, query.get("includeObject"))));
            }
            scale
        }
        Method::PUT => {
            let body = decode_body(headers, body)?;
            let options = write_options()?;
            crate::scale::update(state, resource, &namespace, name, body, &options)?
        }
        Method::PATCH => {
            if body.len() > MAX_OBJECT_BYTES {
                return Err(ApiError::RequestEntityTooLarge {
                    limit: MAX_OBJECT_BYTES,
                });
            }
            let options = write_options()?;
            let kind = match content_type(headers).as_str() {
                "application/json-patch+json" => crate::scale::PatchKind::Json,
                "application/merge-patch+json" => crate::scale::PatchKind::Merge,
                "application/strategic-merge-patch+json" => crate::scale::PatchKind::Strategic,
                "application/apply-patch+yaml" => {
                    let config = decode_body(headers, body)?;
                    let Some(manager) = options.field_manager.as_deref() else {
                        return Err(ApiError::bad_request(
                            "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests",
                        ));
                    };
                    let applied = crate::scale::apply(
                        state, resource, &namespace, name, &config, manager, &options,
                    )?;
                    return Ok(ok(&applied));
                }
                other => {
                    return Err(ApiError::UnsupportedMediaType {
                        message: format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other})"),
                    })
                }
            };
            let patch = parse_json(body)?;
            crate::scale::patch(state, resource, &namespace, name, kind, &patch, &options)?
        }
        _ => return Err(not_allowed()),
    };
    Ok(ok(&scale))
}

/// The field manager kube-apiserver derives from a `User-Agent` (`kubectl/v1.33.1 (linux/amd64)
/// …` → `kubectl`): the text before the first `/`, printable characters only, at most 128.
fn manager_from_user_agent(headers: &HeaderMap) -> Option<String> {
    let agent = headers.get("user-agent")?.to_str().ok()?;
    let manager: String = agent
        .split('/')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|character| !character.is_control())
        .take(128)
        .collect();
    Some(manager).filter(|manager| !manager.is_empty())
}

fn object_namespace(
    resource: &ResourceType,
    namespace: &Option<String>,
    name: &str,
) -> Result<String, ApiError> {
    match namespace {
        Some(namespace) => Ok(namespace.clone()),
        None if resource.namespaced => {
            Err(ApiError::not_found(&resource.group, &resource.plural, name))
        }
        None => Ok(String::new()),
    }
}

fn delete_options(
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<DeleteOptions, ApiError> {
    let mut options = DeleteOptions {
        dry_run: query.dry_run()?,
        ..DeleteOptions::default()
    };
    let body = if body.is_empty() {
        json!({})
    } else {
        decode_body(headers, body)?
    };
    let policy = query
        .get("propagationPolicy")
        .map(str::to_string)
        .or_else(|| {
            body.get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    if body.get("orphanDependents") == Some(&Value::Bool(true)) || query.flag("orphanDependents") {
        options.propagation = Propagation::Orphan;
    }
    if let Some(policy) = policy {
        options.propagation = match policy.as_str() {
            "Background" => Propagation::Background,
            "Foreground" => Propagation::Foreground,
            "Orphan" => Propagation::Orphan,
            other => {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
                )))
            }
        };
    }
    if body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|values| values.iter().any(|value| value == "All"))
    {
        options.dry_run = true;
    }
    if let Some(preconditions) = body.get("preconditions") {
        options.precondition_uid = preconditions
            .get("uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        options.precondition_resource_version = preconditions
            .get("resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    Ok(options)
}

/// An opaque continue token: the resourceVersion of the first page and the last key served.
fn encode_continue(resource_version: u64, namespace: &str, name: &str) -> String {
    use base64::Engine;
    let token = json!({"rv": resource_version, "ns": namespace, "name": name});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, String, String), ApiError> {
    use base64::Engine;
    let invalid = || ApiError::bad_request("continue key is not valid");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    Ok((
        value
            .get("rv")
            .and_then(Value::as_u64)
            .ok_or_else(invalid)?,
        value
            .get("ns")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?
            .to_string(),
        value
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?
            .to_string(),
    ))
}

/// `resourceVersion` and `resourceVersionMatch` of a list, as kube-apiserver checks them. Only
/// the current state is kept, so `Exact` of an older version is 410 Expired (as after an etcd
/// compaction), and any version newer than the current one is 504 "Too large resource version".
fn check_list_version(query: &Query, has_continue: bool, current: u64) -> Result<(), ApiError> {
    let requested = query
        .get("resourceVersion")
        .filter(|version| !version.is_empty());
    let matching = query
        .get("resourceVersionMatch")
        .filter(|matching| !matching.is_empty());
    if let Some(matching) = matching {
        if requested.is_none() {
            return Err(ApiError::bad_request(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if has_continue {
            return Err(ApiError::bad_request(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if matching != "Exact" && matching != "NotOlderThan" {
            return Err(ApiError::bad_request(format!(
                "resourceVersionMatch: Unsupported value: \"{matching}\": supported values: \"Exact\", \"NotOlderThan\""
            )));
        }
    }
    let Some(requested) = requested else {
        return Ok(());
    };
    let version: u64 = requested
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {requested}")))?;
    if matching == Some("Exact") && version == 0 {
        return Err(ApiError::bad_request(
            "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
        ));
    }
    if version > current {
        return Err(ApiError::Timeout {
            message: format!("Too large resource version: {version}, current: {current}"),
        });
    }
    if matching == Some("Exact") && version < current {
        return Err(ApiError::Expired {
            message: format!(
                "The resourceVersion for the provided list is too old: {version} (this server keeps only the current state, at {current})"
            ),
        });
    }
    Ok(())
}

fn list(
    state: &ApiState,
    resource: &ResourceType,
    namespace: Option<&str>,
    query: &Query,
    accept: &str,
) -> Result<Response, ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))?;
    let fields = FieldSelector::parse(query.get("fieldSelector").unwrap_or(""))?;
    let limit: usize = match query.get("limit") {
        None | Some("") | Some("0") => usize::MAX,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit: {text}")))?,
    };
    let start = match query.get("continue").filter(|token| !token.is_empty()) {
        Some(token) => Some(decode_continue(token)?),
        None => None,
    };
    let (objects, current_version) = state.store.list(&resource.storage_key(), namespace);
    check_list_version(query, start.is_some(), current_version)?;
    let list_version = start
        .as_ref()
        .map(|(version, _, _)| *version)
        .unwrap_or(current_version);
    let mut items = Vec::new();
    let mut next = None;
    for object in objects.iter() {
        let object_namespace = metadata_str(object, "namespace").unwrap_or_default();
        let object_name = metadata_str(object, "name").unwrap_or_default();
        if let Some((_, after_namespace, after_name)) = &start {
            if (object_namespace, object_name) <= (after_namespace.as_str(), after_name.as_str()) {
                continue;
            }
        }
        if !labels.matches(object) || !fields.matches(object) {
            continue;
        }
        if items.len() == limit {
            let last: &Value = items.last().expect("limit is at least one");
            next = Some(encode_continue(
                list_version,
                metadata_str(last, "namespace").unwrap_or_default(),
                metadata_str(last, "name").unwrap_or_default(),
            ));
            break;
        }
        items.push(rest::present(resource, object).into_owned());
    }
    if wants_table(accept) {
        return Ok(ok(&table::table(
            resource,
            &items,
            Some((list_version, next)),
            query.get("includeObject"),
        )));
    }
    let mut metadata = json!({"resourceVersion": list_version.to_string()});
    if let Some(next) = next {
        metadata["continue"] = json!(next);
    }
    Ok(ok(&json!({
        "kind": resource.list_kind(),
        "apiVersion": resource.api_version(),
        "metadata": metadata,
        "items": items
    })))
}

#[allow(clippy::too_many_arguments)]
fn patch(
    state: &ApiState,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    part: Part,
    headers: &HeaderMap,
    body: &Bytes,
    options: &WriteOptions,
) -> Result<Response, ApiError> {
    let content_type = content_type(headers);
    if body.len() > MAX_OBJECT_BYTES {
        return Err(ApiError::RequestEntityTooLarge {
            limit: MAX_OBJECT_BYTES,
        });
    }
    match content_type.as_str() {
        "application/json-patch+json" | "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            let patch_body = parse_json(body)?;
            let warnings = if content_type == "application/json-patch+json" {
                Vec::new()
            } else {
                validate::check_builtin_fields(resource, &patch_body, options.field_validation)?
            };
            for _attempt in 0..8 {
                let current = rest::get(state, resource, namespace, name)?;
                let mut next = rest::present(resource, &current).into_owned();
                if content_type == "application/json-patch+json" {
                    let operations: json_patch::Patch = serde_json::from_value(patch_body.clone())
                        .map_err(|error| ApiError::bad_request(format!("the JSON patch is not valid: {error}")))?;
                    json_patch::patch(&mut next, &operations).map_err(|error| ApiError::Invalid {
                        group: resource.group.clone(),
                        kind: resource.kind.clone(),
                        name: name.to_string(),
                        causes: vec![crate::error::StatusCause {
                            reason: "FieldValueInvalid".to_string(),
                            message: format!("the JSON patch could not be applied: {error}"),
                            field: String::new(),
                        }],
                    })?;
                } else if content_type == "application/strategic-merge-patch+json" {
                    if !patch_body.is_object() {
                        return Err(ApiError::bad_request("a strategic merge patch must be a JSON object"));
                    }
                    next = strategic_merge(resource, &next, &patch_body)?;
                } else {
                    if !patch_body.is_object() {
                        return Err(ApiError::bad_request("a merge patch must be a JSON object"));
                    }
                    json_patch::merge(&mut next, &patch_body);
                }
                if !next.is_object() {
                    return Err(ApiError::bad_request("the patched object is not a JSON object"));
                }
                // kube decodes the patched object again: a value of the wrong type is refused.
                let decoder = if content_type == "application/strategic-merge-patch+json" {
                    validate::Decoder::StrategicPatch { patch: &patch_body }
                } else {
                    validate::Decoder::PatchedJson
                };
                validate::check_builtin_types(resource, &next, decoder)?;
                // Patches apply to the version they read unless they carry their own resourceVersion.
                let pinned = metadata_str(&next, "resourceVersion") != metadata_str(&current, "resourceVersion");
                if !pinned {
                    let version = metadata_str(&current, "resourceVersion").unwrap_or_default().to_string();
                    util::metadata_mut(&mut next).insert("resourceVersion".to_string(), Value::String(version));
                }
                match rest::replace(state, resource, namespace, name, part, next, options, ReplaceOperation::Update) {
                    Err(ApiError::Conflict { .. }) if !pinned => continue,
                    result => return result.map(|object| with_warnings(ok(&object), &warnings)),
                }
            }
            Err(ApiError::Internal { message: "too many concurrent writes to the object".to_string() })
        }
        "application/apply-patch+yaml" => server_side_apply(state, resource, namespace, name, part, headers, body, options),
        other => Err(ApiError::UnsupportedMediaType {
            message: format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other})"),
        }),
    }
}

#[allow(clippy::too_many_arguments)]
fn server_side_apply(
    state: &ApiState,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    part: Part,
    headers: &HeaderMap,
    body: &Bytes,
    options: &WriteOptions,
) -> Result<Response, ApiError> {
    let mut config = decode_body(headers, body)?;
    let Some(manager) = options.field_manager.clone() else {
        return Err(ApiError::bad_request(
            "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests",
        ));
    };
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "an apply configuration must be an object",
        ));
    }
    for field in ["apiVersion", "kind"] {
        if config
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(ApiError::bad_request(format!(
                "{field} must be set in an apply configuration"
            )));
        }
    }
    if let Some(config_name) = metadata_str(&config, "name") {
        if config_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({config_name}) does not match the name on the URL ({name})"
            )));
        }
    }
    let warnings = validate::check_builtin_object(
        resource,
        &config,
        options.field_validation,
        validate::Decoder::Apply {
            namespace: metadata_str(&config, "namespace").unwrap_or_default(),
            name: metadata_str(&config, "name").unwrap_or_default(),
        },
    )?;
    // Compared with live values (owned by others, or unchanged) in the form they are stored in.
    rest::canonicalize_quantities(resource, &mut config)?;
    let subresource = if part == Part::Status { "status" } else { "" };
    for _attempt in 0..8 {
        let current = state.store.get(&resource.storage_key(), namespace, name);
        let live = current
            .as_deref()
            .map(|object| rest::present(resource, object));
        match apply::apply(
            live.as_deref(),
            &config,
            &manager,
            &resource.api_version(),
            subresource,
            options.force,
            apply::Shape::of(resource),
        ) {
            ApplyResult::Conflicts(causes) => {
                return Err(ApiError::ApplyConflict {
                    group: resource.group.clone(),
                    resource: resource.plural.clone(),
                    name: name.to_string(),
                    causes,
                })
            }
            ApplyResult::Merged(mut merged) => match &live {
                None => {
                    if part == Part::Status {
                        return Err(ApiError::not_found(&resource.group, &resource.plural, name));
                    }
                    let managed_fields =
                        util::metadata_mut(&mut merged).shift_remove("managedFields");
                    util::metadata_mut(&mut merged)
                        .insert("name".to_string(), Value::String(name.to_string()));
                    let mut create_options = options.clone();
                    create_options.initial_managed_fields = managed_fields;
                    let url_namespace = if resource.namespaced {
                        Some(namespace)
                    } else {
                        None
                    };
                    match rest::create(state, resource, url_namespace, merged, &create_options) {
                        Err(ApiError::AlreadyExists { .. }) => continue,
                        result => {
                            return result.map(|object| {
                                with_warnings(
                                    json_response(StatusCode::CREATED, &object),
                                    &warnings,
                                )
                            })
                        }
                    }
                }
                Some(live) => {
                    let managed_fields = util::metadata_mut(&mut merged)
                        .shift_remove("managedFields")
                        .unwrap_or(Value::Null);
                    let version = metadata_str(live, "resourceVersion")
                        .unwrap_or_default()
                        .to_string();
                    util::metadata_mut(&mut merged)
                        .insert("resourceVersion".to_string(), Value::String(version));
                    match rest::replace(
                        state,
                        resource,
                        namespace,
                        name,
                        part,
                        merged,
                        options,
                        ReplaceOperation::Apply { managed_fields },
                    ) {
                        Err(ApiError::Conflict { .. }) => continue,
                        result => {
                            return result.map(|object| with_warnings(ok(&object), &warnings))
                        }
                    }
                }
            },
        }
    }
    Err(ApiError::Internal {
        message: "too many concurrent writes to the object".to_string(),
    })
}
