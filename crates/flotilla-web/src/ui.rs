//! The web UI: HTML rendered on the server from the same calls the API makes (`apps`, `api`),
//! readable without JavaScript, with one small embedded script (`assets/app.js`) that follows
//! `/api/v1/stream` and swaps in the page's own re-rendered section when an Application changes,
//! and sends the sync and refresh forms to the JSON API. Pages: the login (`/?token=…` sets the
//! cookie and redirects), the Applications list (filters, counts by health and sync, paging) and
//! one Application (details, conditions, guardrail findings, sync and refresh, the resource tree
//! as a nested list, Events). Styles follow `prefers-color-scheme`; nothing is fetched from elsewhere.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::api::{self, ApiError, ApiState, ListQuery, SyncRequest};
use crate::apps;
use crate::auth::{self, Role};

const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");

pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/", get(login))
        .route("/applications", get(list_page))
        .route("/applications/{namespace}/{name}", get(application_page))
        .route("/applications/{namespace}/{name}/sync", post(sync_form))
        .route(
            "/applications/{namespace}/{name}/refresh",
            post(refresh_form),
        )
        .route(
            "/applications/{namespace}/{name}/rollback",
            post(rollback_form),
        )
        .route("/applications/{namespace}/{name}/diff", get(diff_page))
        .route(
            "/applications/{namespace}/{name}/resource",
            get(resource_page),
        )
        .route("/catalog", get(catalog_page))
        .route("/topology", get(topology_page))
        .route("/catalog/{package}", get(package_page))
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

fn asset(content_type: &'static str, text: &'static str) -> Response {
    (
        [
            ("content-type", content_type),
            ("cache-control", "no-cache"),
        ],
        text,
    )
        .into_response()
}

/// `text` with HTML's special characters escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn str_of<'a>(value: &'a Value, fallback: &'a str) -> &'a str {
    value
        .as_str()
        .filter(|text| !text.is_empty())
        .unwrap_or(fallback)
}

fn html(status: StatusCode, title: &str, role: Option<Role>, page: &str, body: &str) -> Response {
    let role_badge = match role {
        Some(role) => format!(
            "<span class=\"role\" title=\"the role of your token\">{}</span>",
            role.as_str()
        ),
        None => String::new(),
    };
    let document = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<title>{} · flotilla</title><link rel=\"stylesheet\" href=\"/assets/style.css\">\
<script src=\"/assets/app.js\" defer></script></head>\
<body data-page=\"{page}\"><header><a class=\"brand\" href=\"/applications\">flotilla</a>\
<nav><a href=\"/applications\">Applications</a> <a href=\"/catalog\">Catalog</a> <a href=\"/topology\">Topology</a> <a href=\"/api/v1/openapi.json\">API</a></nav>{role_badge}\
<span id=\"live\" class=\"live\" hidden>live</span></header><main>{body}</main></body></html>\n",
        escape(title)
    );
    (
        status,
        [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            ("x-frame-options", "DENY"),
            (
                "content-security-policy",
                "default-src 'self'; frame-ancestors 'none'",
            ),
        ],
        document,
    )
        .into_response()
}

fn error_page(role: Option<Role>, error: &ApiError) -> Response {
    html(
        error.status,
        "Error",
        role,
        "error",
        &format!(
            "<h1>Error {}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/applications\">Applications</a></p>",
            error.status.as_u16(),
            escape(&error.message)
        ),
    )
}

fn redirect(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [("location", location)]).into_response()
}

/// The role of a browser request: 403 from another origin, to the login page without a token.
fn role(state: &ApiState, headers: &HeaderMap, needed: Role) -> Result<Role, Box<Response>> {
    match api::authorize(state, headers, needed) {
        Ok(role) => Ok(role),
        Err(error) if error.status == StatusCode::UNAUTHORIZED => Err(Box::new(redirect("/"))),
        Err(error) => Err(Box::new(error_page(None, &error))),
    }
}

async fn login(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if auth::cross_origin(&headers) {
        return error_page(
            None,
            &ApiError::new(
                StatusCode::FORBIDDEN,
                "requests from another origin are refused",
            ),
        );
    }
    let parameters = api::query_map(query.as_deref());
    if let Some(token) = parameters.get("token").filter(|token| !token.is_empty()) {
        if state.api.tokens.role(token).is_some() {
            let cookie = format!(
                "{}={token}; Path=/; HttpOnly; SameSite=Lax{}",
                auth::COOKIE,
                if state.secure { "; Secure" } else { "" }
            );
            return (
                StatusCode::SEE_OTHER,
                [
                    ("location", "/applications".to_string()),
                    ("set-cookie", cookie),
                ],
            )
                .into_response();
        }
        return login_form(StatusCode::UNAUTHORIZED, "That token is not valid.");
    }
    if api::authorize(&state, &headers, Role::ReadOnly).is_ok() {
        return redirect("/applications");
    }
    login_form(StatusCode::OK, "")
}

fn login_form(status: StatusCode, message: &str) -> Response {
    let notice = if message.is_empty() {
        String::new()
    } else {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape(message))
    };
    html(
        status,
        "Log in",
        None,
        "login",
        &format!(
            "<h1>Log in</h1>{notice}<p>Open the login URL <code>flotilla up</code> printed, or paste a token \
(the file <code>api-tokens</code> beside the kubeconfig holds the admin and read-only ones).</p>\
<form method=\"get\" action=\"/\"><label>Token <input name=\"token\" type=\"password\" autocomplete=\"off\" required autofocus></label> \
<button type=\"submit\">Log in</button></form>"
        ),
    )
}

fn badge(kind: &str, value: &str) -> String {
    format!(
        "<span class=\"badge {kind}-{}\">{}</span>",
        escape(&value.to_ascii_lowercase()),
        escape(value)
    )
}

/// A link to the list with `changes` applied to the current query (page reset unless given).
fn list_link(parameters: &HashMap<String, String>, changes: &[(&str, &str)]) -> String {
    let mut merged: Vec<(String, String)> = parameters
        .iter()
        .filter(|(key, _)| {
            key.as_str() != "page"
                && key.as_str() != "continue"
                && !changes.iter().any(|(name, _)| name == key)
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    for (name, value) in changes {
        if !value.is_empty() {
            merged.push((name.to_string(), value.to_string()));
        }
    }
    merged.sort();
    let query: Vec<String> = merged
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect();
    if query.is_empty() {
        "/applications".into()
    } else {
        format!("/applications?{}", query.join("&"))
    }
}

const SYNC_STATES: [&str; 3] = ["Synced", "OutOfSync", "Unknown"];

/// The sync options the sync form offers, as Argo CD's sync dialog does.
const SYNC_OPTIONS: [(&str, &str); 7] = [
    ("ApplyOutOfSyncOnly=true", "Apply out of sync only"),
    ("PruneLast=true", "Prune last"),
    ("CreateNamespace=true", "Auto-create namespace"),
    (
        "RespectIgnoreDifferences=true",
        "Respect ignore differences",
    ),
    ("Replace=true", "Replace"),
    ("Force=true", "Force"),
    ("Validate=false", "Skip schema validation"),
];
const HEALTH_STATES: [&str; 6] = [
    "Healthy",
    "Progressing",
    "Degraded",
    "Suspended",
    "Missing",
    "Unknown",
];

fn select(name: &str, label: &str, options: &[&str], chosen: &str) -> String {
    let mut text =
        format!("<label>{label} <select name=\"{name}\"><option value=\"\">any</option>");
    for option in options {
        let selected = if option.eq_ignore_ascii_case(chosen) {
            " selected"
        } else {
            ""
        };
        let _ = write!(text, "<option{selected}>{option}</option>");
    }
    text.push_str("</select></label>");
    text
}

async fn list_page(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let role = match role(&state, &headers, Role::ReadOnly) {
        Ok(role) => role,
        Err(response) => return *response,
    };
    let parameters = api::query_map(query.as_deref());
    let value = |name: &str| parameters.get(name).map(String::as_str).unwrap_or("");
    let query = match ListQuery::parse(&parameters) {
        Ok(query) => query,
        Err(error) => return error_page(Some(role), &error),
    };
    let page = match api::list_page(&state, &query).await {
        Ok(page) => page,
        Err(error) => return error_page(Some(role), &error),
    };
    let tiles = value("view") == "tiles";
    let mut body = String::from("<h1>Applications</h1>");
    let _ = write!(
        body,
        "<form class=\"filters\" method=\"get\" action=\"/applications\" role=\"search\">\
<label>Search <input id=\"search\" name=\"search\" value=\"{}\" placeholder=\"name, project, repo, path  (/)\"></label>\
<label>Namespace <input name=\"namespace\" value=\"{}\" size=\"10\"></label>\
<label>Project <input name=\"project\" value=\"{}\" size=\"10\"></label>{}{}\
<label>Labels <input name=\"selector\" value=\"{}\" placeholder=\"team=payments\" size=\"14\"></label>\
<label>Per page <input name=\"limit\" value=\"{}\" size=\"4\" inputmode=\"numeric\"></label>\
{}<button type=\"submit\">Filter</button> <a href=\"/applications\">clear</a></form>",
        escape(value("search")),
        escape(value("namespace")),
        escape(value("project")),
        select("sync", "Sync", &SYNC_STATES, value("sync")),
        select("health", "Health", &HEALTH_STATES, value("health")),
        escape(value("selector")),
        query.limit,
        if tiles {
            "<input type=\"hidden\" name=\"view\" value=\"tiles\">"
        } else {
            ""
        },
    );
    body.push_str("<section id=\"results\" aria-live=\"polite\">");
    body.push_str("<div class=\"counts\">");
    for (facet, label) in [("health", "Health"), ("sync", "Sync")] {
        let _ = write!(body, "<ul class=\"count-list\" aria-label=\"{label}\">");
        if let Some(counts) = page["counts"][facet].as_object() {
            for (state_name, count) in counts {
                let _ = write!(
                    body,
                    "<li><a href=\"{}\">{} <b>{}</b></a></li>",
                    escape(&list_link(&parameters, &[(facet, state_name)])),
                    badge(facet, state_name),
                    count
                );
            }
        }
        body.push_str("</ul>");
    }
    body.push_str("</div>");
    let total = page["total"].as_u64().unwrap_or(0);
    let _ = write!(
        body,
        "<p class=\"total\"><b id=\"total\">{total}</b> Applications \
<span class=\"views\">· <a href=\"{}\"{}>list</a> · <a href=\"{}\"{}>tiles</a></span></p>",
        escape(&list_link(&parameters, &[("view", "")])),
        if tiles { "" } else { " aria-current=\"page\"" },
        escape(&list_link(&parameters, &[("view", "tiles")])),
        if tiles { " aria-current=\"page\"" } else { "" },
    );
    if tiles {
        body.push_str("<ul id=\"tiles\" class=\"tiles\">");
        for item in page["items"].as_array().into_iter().flatten() {
            let namespace = str_of(&item["namespace"], "");
            let name = str_of(&item["name"], "");
            let _ = write!(
                body,
                "<li data-key=\"{}/{}\" class=\"tile health-border-{}\"><a class=\"name\" href=\"/applications/{}/{}\">{}</a>\
<span class=\"namespace\">{} · {}</span><span>{} {}</span><span class=\"path\">{}</span></li>",
                escape(namespace),
                escape(name),
                escape(&str_of(&item["health"], "Unknown").to_ascii_lowercase()),
                encode(namespace),
                encode(name),
                escape(name),
                escape(namespace),
                escape(str_of(&item["project"], "default")),
                badge("sync", str_of(&item["sync"], "Unknown")),
                badge("health", str_of(&item["health"], "Unknown")),
                escape(str_of(&item["path"], "")),
            );
        }
        if total == 0 {
            body.push_str("<li>No Application matches.</li>");
        }
        body.push_str("</ul>");
    } else {
        body.push_str(
            "<table id=\"applications\"><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Namespace</th>\
<th scope=\"col\">Project</th><th scope=\"col\">Sync</th><th scope=\"col\">Health</th>\
<th scope=\"col\">Revision</th><th scope=\"col\">Path</th></tr></thead><tbody>",
        );
    }
    for item in page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|_| !tiles)
    {
        let namespace = str_of(&item["namespace"], "");
        let name = str_of(&item["name"], "");
        let revision: String = str_of(&item["revision"], "").chars().take(8).collect();
        let _ = write!(
            body,
            "<tr data-key=\"{}/{}\"><td><a href=\"/applications/{}/{}\">{}</a></td><td>{}</td><td>{}</td>\
<td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            escape(namespace),
            escape(name),
            encode(namespace),
            encode(name),
            escape(name),
            escape(namespace),
            escape(str_of(&item["project"], "default")),
            badge("sync", str_of(&item["sync"], "Unknown")),
            badge("health", str_of(&item["health"], "Unknown")),
            escape(&revision),
            escape(str_of(&item["path"], "")),
        );
    }
    if !tiles {
        if total == 0 {
            body.push_str("<tr><td colspan=\"7\">No Application matches.</td></tr>");
        }
        body.push_str("</tbody></table>");
    }
    let current = page["page"].as_u64().unwrap_or(1);
    let pages = page["pages"].as_u64().unwrap_or(1);
    body.push_str("<nav class=\"paging\" aria-label=\"pages\">");
    if current > 1 {
        let _ = write!(
            body,
            "<a rel=\"prev\" href=\"{}\">← previous</a> ",
            escape(&list_link(
                &parameters,
                &[("page", &(current - 1).to_string())]
            ))
        );
    }
    let _ = write!(body, "page {current} of {pages}");
    if current < pages {
        let _ = write!(
            body,
            " <a rel=\"next\" href=\"{}\">next →</a>",
            escape(&list_link(
                &parameters,
                &[("page", &(current + 1).to_string())]
            ))
        );
    }
    body.push_str("</nav></section>");
    html(StatusCode::OK, "Applications", Some(role), "list", &body)
}

/// The tree as nested lists: roots are the nodes no other node owns.
/// `application` is the application page's path: tracked objects link to their details there.
fn tree_html(nodes: &[Value], application: &str) -> String {
    let uids: std::collections::HashSet<&str> = nodes
        .iter()
        .filter_map(|node| node["uid"].as_str())
        .collect();
    let mut children: HashMap<&str, Vec<&Value>> = HashMap::new();
    for node in nodes {
        for parent in node["parents"].as_array().into_iter().flatten() {
            if let Some(parent) = parent.as_str() {
                children.entry(parent).or_default().push(node);
            }
        }
    }
    let is_root = |node: &Value| {
        node["parents"].as_array().is_none_or(|parents| {
            !parents
                .iter()
                .any(|parent| parent.as_str().is_some_and(|uid| uids.contains(uid)))
        })
    };
    let mut text = String::from("<ul class=\"tree\">");
    for node in nodes.iter().filter(|node| is_root(node)) {
        node_html(&children, node, application, &mut text, 0);
    }
    text.push_str("</ul>");
    text
}

fn node_html(
    children: &HashMap<&str, Vec<&Value>>,
    node: &Value,
    application: &str,
    text: &mut String,
    depth: usize,
) {
    let name = str_of(&node["name"], "");
    // An app-of-apps' children link to their own pages.
    let name_html = if node["kind"] == "Application" && node["group"] == "argoproj.io" {
        format!(
            "<a href=\"/applications/{}/{}\">{}</a>",
            encode(str_of(&node["namespace"], "")),
            encode(name),
            escape(name)
        )
    } else if node["tracked"] == Value::Bool(true) {
        let resource = format!(
            "{}/{}/{}",
            str_of(&node["kind"], ""),
            str_of(&node["namespace"], ""),
            name
        );
        format!(
            "<a href=\"{application}/resource?resource={}\">{}</a>",
            encode(&resource),
            escape(name)
        )
    } else {
        escape(name)
    };
    let _ = write!(
        text,
        "<li><span class=\"kind\">{}</span> <span class=\"name\">{name_html}</span>",
        escape(str_of(&node["kind"], ""))
    );
    if let Some(namespace) = node["namespace"]
        .as_str()
        .filter(|namespace| !namespace.is_empty())
    {
        let _ = write!(
            text,
            " <span class=\"namespace\">{}</span>",
            escape(namespace)
        );
    }
    if node["tracked"] == Value::Bool(true) {
        text.push(' ');
        text.push_str(&badge("sync", str_of(&node["sync"], "Unknown")));
    }
    if let Some(health) = node["health"].as_str() {
        text.push(' ');
        text.push_str(&badge("health", health));
    }
    if let Some(reason) = node["reason"].as_str() {
        let _ = write!(text, " <span class=\"reason\">{}</span>", escape(reason));
    } else if let Some(message) = node["healthMessage"].as_str() {
        let _ = write!(text, " <span class=\"message\">{}</span>", escape(message));
    }
    if node["requiresPruning"] == Value::Bool(true) {
        text.push_str(" <span class=\"reason\">requires pruning</span>");
    }
    let owned = node["uid"]
        .as_str()
        .filter(|_| depth < 16)
        .and_then(|uid| children.get(uid));
    if let Some(owned) = owned {
        text.push_str("<ul>");
        for child in owned {
            node_html(children, child, application, text, depth + 1);
        }
        text.push_str("</ul>");
    }
    text.push_str("</li>");
}

async fn application_page(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let role = match role(&state, &headers, Role::ReadOnly) {
        Ok(role) => role,
        Err(response) => return *response,
    };
    let cluster = &state.api.cluster;
    let application = match apps::get(cluster, &namespace, &name).await {
        Ok(application) => application,
        Err(error) => return error_page(Some(role), &error.into()),
    };
    let tree = apps::resource_tree(cluster, &application).await;
    let events = apps::events(cluster, &namespace, &name).await;
    let summary = apps::summary(&application);
    let status = &application["status"];
    let parameters = api::query_map(query.as_deref());
    let mut body = format!(
        "<p><a href=\"/applications\">← Applications</a></p><h1>{}</h1>",
        escape(&name)
    );
    let notice = parameters.get("notice").map(String::as_str).unwrap_or("");
    let _ = write!(
        body,
        "<p id=\"notice\" class=\"{}\" role=\"status\"{}>{}</p>",
        if parameters.contains_key("failed") {
            "error"
        } else {
            "notice"
        },
        if notice.is_empty() { " hidden" } else { "" },
        escape(notice)
    );
    body.push_str("<section id=\"detail\" aria-live=\"polite\"><dl class=\"facts\">");
    let destination = &summary["destination"];
    let facts = [
        ("Namespace", escape(&namespace)),
        ("Project", escape(str_of(&summary["project"], "default"))),
        ("Repository", escape(str_of(&summary["repoURL"], ""))),
        ("Path", escape(str_of(&summary["path"], ""))),
        ("Target", escape(str_of(&summary["targetRevision"], "HEAD"))),
        (
            "Destination",
            escape(&format!(
                "{} {}",
                str_of(&destination["server"], str_of(&destination["name"], "")),
                str_of(&destination["namespace"], "")
            )),
        ),
        ("Sync", badge("sync", str_of(&summary["sync"], "Unknown"))),
        (
            "Revision",
            format!("<code>{}</code>", escape(str_of(&summary["revision"], ""))),
        ),
        (
            "Health",
            badge("health", str_of(&summary["health"], "Unknown")),
        ),
        (
            "Automated sync",
            if summary["automated"] == Value::Bool(true) {
                "on"
            } else {
                "off"
            }
            .to_string(),
        ),
    ];
    for (label, value) in facts {
        let _ = write!(body, "<dt>{label}</dt><dd>{value}</dd>");
    }
    if let Some(controller) = summary["controller"].as_str() {
        let _ = write!(
            body,
            "<dt>Controller</dt><dd><code>{}</code> (the replica that owns it)</dd>",
            escape(controller)
        );
    }
    if let Some(phase) = status["operationState"]["phase"].as_str() {
        let _ = write!(
            body,
            "<dt>Last operation</dt><dd>{} {}</dd>",
            badge("phase", phase),
            escape(str_of(&status["operationState"]["message"], ""))
        );
    }
    body.push_str("</dl>");
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    body.push_str("<h2>Conditions</h2>");
    if conditions.is_empty() {
        body.push_str("<p>None.</p>");
    } else {
        body.push_str("<ul class=\"conditions\">");
        for condition in &conditions {
            let _ = write!(
                body,
                "<li><b>{}</b>: {}</li>",
                escape(str_of(&condition["type"], "")),
                escape(str_of(&condition["message"], ""))
            );
        }
        body.push_str("</ul>");
    }
    if let Some(findings) = api::findings_of(&state, &application, &namespace, &name) {
        body.push_str(&findings_html(&findings));
    }
    match &tree {
        Ok(tree) => {
            let nodes = tree["nodes"].as_array().cloned().unwrap_or_default();
            let _ = write!(
                body,
                "<h2>Resources <small>{} objects, {} OutOfSync</small></h2>",
                nodes.len(),
                tree["outOfSync"]
            );
            let application = format!("/applications/{}/{}", encode(&namespace), encode(&name));
            body.push_str(&tree_html(&nodes, &application));
        }
        Err(error) => {
            let _ = write!(
                body,
                "<h2>Resources</h2><p class=\"error\">{}</p>",
                escape(&api::chain(error))
            );
        }
    }
    body.push_str("</section>");
    let can_sync = role == Role::Admin;
    let disabled = if can_sync {
        ""
    } else {
        " disabled title=\"your token is read-only\""
    };
    let path = format!("/applications/{}/{}", encode(&namespace), encode(&name));
    let options: String = SYNC_OPTIONS
        .iter()
        .map(|(option, label)| {
            format!(
                "<label><input type=\"checkbox\" name=\"syncOption\" value=\"{option}\"{disabled}> {label}</label> "
            )
        })
        .collect();
    let _ = write!(
        body,
        "<h2>Operations</h2><form id=\"sync\" class=\"operation\" method=\"post\" action=\"{path}/sync\" \
data-api=\"/api/v1{path}/sync\"><label><input type=\"checkbox\" name=\"prune\"{disabled}> Prune</label> \
<label><input type=\"checkbox\" name=\"dryRun\"{disabled}> Dry run</label> \
<details><summary>Sync options</summary>{options}\
<label>Revision <input name=\"revision\" size=\"12\" placeholder=\"target\"{disabled}></label></details> \
<button type=\"submit\"{disabled}>Sync</button></form>\
<form id=\"refresh\" class=\"operation\" method=\"post\" action=\"{path}/refresh\" data-api=\"/api/v1{path}/refresh\">\
<button type=\"submit\"{disabled}>Refresh</button></form> <a href=\"{path}/diff\">What a sync would change</a>"
    );
    // History and Events follow changes too (`app.js` swaps both sections).
    body.push_str("<section id=\"log\" aria-live=\"polite\"><h2>History</h2>");
    let history = status["history"].as_array().cloned().unwrap_or_default();
    if history.is_empty() {
        body.push_str("<p>None.</p>");
    } else {
        let automated = summary["automated"] == Value::Bool(true);
        let rollback_disabled = if !can_sync {
            " disabled title=\"your token is read-only\""
        } else if automated {
            " disabled title=\"turn automated sync off to roll back\""
        } else {
            ""
        };
        body.push_str("<table class=\"history\"><thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Deployed at</th><th scope=\"col\">Revision</th><th scope=\"col\">Initiated by</th><th scope=\"col\"></th></tr></thead><tbody>");
        for entry in history.iter().rev() {
            let id = entry["id"].as_i64().unwrap_or(0);
            let by = if entry["initiatedBy"]["automated"] == Value::Bool(true) {
                "automated"
            } else {
                str_of(&entry["initiatedBy"]["username"], "")
            };
            let _ = write!(
                body,
                "<tr><td>{id}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td><form class=\"rollback\" method=\"post\" action=\"{path}/rollback\">\
<input type=\"hidden\" name=\"id\" value=\"{id}\"><button type=\"submit\"{rollback_disabled}>Roll back</button></form></td></tr>",
                escape(str_of(&entry["deployedAt"], "")),
                escape(str_of(&entry["revision"], "")),
                escape(by),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<h2>Events</h2>");
    match events {
        Ok(events) if events.is_empty() => body.push_str("<p>None.</p>"),
        Ok(events) => {
            body.push_str("<table class=\"events\"><thead><tr><th scope=\"col\">Last seen</th><th scope=\"col\">Type</th><th scope=\"col\">Reason</th><th scope=\"col\">Message</th></tr></thead><tbody>");
            for event in events.iter().rev() {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(str_of(
                        &event["lastTimestamp"],
                        str_of(&event["eventTime"], "")
                    )),
                    escape(str_of(&event["type"], "")),
                    escape(str_of(&event["reason"], "")),
                    escape(str_of(&event["message"], ""))
                );
            }
            body.push_str("</tbody></table>");
        }
        Err(error) => {
            let _ = write!(
                body,
                "<p class=\"error\">{}</p>",
                escape(&api::chain(&error))
            );
        }
    }
    body.push_str("</section>");
    html(StatusCode::OK, &name, Some(role), "application", &body).into_response()
}

/// The pre-sync gate's findings (`api::findings_of`) as a table of their own: rule, severity,
/// object, field, message, what to do instead, and whether `flotilla.dev/allow` overrides it.
fn findings_html(data: &Value) -> String {
    let findings = data["findings"].as_array().cloned().unwrap_or_default();
    let mut text = String::from("<h2 id=\"guardrails\">Guardrail findings</h2>");
    if findings.is_empty() {
        text.push_str("<p>None.</p>");
        return text;
    }
    text.push_str("<table class=\"findings\"><thead><tr><th scope=\"col\">Rule</th><th scope=\"col\">Severity</th><th scope=\"col\">Object</th><th scope=\"col\">Field</th><th scope=\"col\">Message</th><th scope=\"col\">Instead</th><th scope=\"col\">Overridden</th></tr></thead><tbody>");
    for finding in &findings {
        let object = &finding["object"];
        let group = str_of(&object["group"], "");
        let kind = str_of(&object["kind"], "");
        let object_text = format!(
            "{}/{}/{}",
            if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            },
            str_of(&object["namespace"], ""),
            str_of(&object["name"], "")
        );
        let overridden = finding["overridden"] == Value::Bool(true);
        let _ = write!(
            text,
            "<tr class=\"finding\" data-rule=\"{rule}\"><td><code>{rule}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            badge("severity", str_of(&finding["severity"], "")),
            escape(&object_text),
            escape(str_of(&finding["path"], "")),
            escape(str_of(&finding["message"], "")),
            escape(str_of(&finding["hint"], "")),
            if overridden {
                "yes (<code>flotilla.dev/allow</code>)"
            } else if finding["blocks"] == Value::Bool(true) {
                "no: blocks the sync"
            } else {
                "no"
            },
            rule = escape(str_of(&finding["rule"], "")),
        );
    }
    text.push_str("</tbody></table>");
    text
}

fn form_fields(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn back_to(namespace: &str, name: &str, result: Result<String, ApiError>) -> Response {
    let (notice, failed) = match result {
        Ok(notice) => (notice, ""),
        Err(error) => (error.message, "&failed=1"),
    };
    redirect(&format!(
        "/applications/{}/{}?notice={}{failed}",
        encode(namespace),
        encode(name),
        encode(&notice)
    ))
}

/// The sync form without JavaScript: the same checks as the API, then back to the page.
async fn sync_form(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(response) = role(&state, &headers, Role::Admin) {
        return *response;
    }
    let fields = form_fields(&body);
    let sync_options: Vec<String> = form_urlencoded::parse(&body)
        .filter(|(key, _)| key == "syncOption")
        .map(|(_, value)| value.into_owned())
        .collect();
    if let Err(error) = api::check_sync_options(&sync_options) {
        return back_to(&namespace, &name, Err(error));
    }
    let request = SyncRequest {
        prune: fields.contains_key("prune"),
        dry_run: fields.contains_key("dryRun"),
        revision: fields
            .get("revision")
            .map(|revision| revision.trim().to_string())
            .unwrap_or_default(),
        sync_options,
        ..SyncRequest::default()
    };
    let result = api::start_sync(&state, &namespace, &name, &request)
        .await
        .map(|_| {
            format!(
                "sync requested{}{}",
                if request.prune { ", with prune" } else { "" },
                if request.dry_run { ", dry run" } else { "" }
            )
        });
    back_to(&namespace, &name, result)
}

/// The kinds of topology nodes, in the order the page shows them, with their headings.
const TOPOLOGY_KINDS: [(&str, &str); 11] = [
    ("application", "Applications"),
    ("topic", "Topics"),
    ("schema", "Schemas"),
    ("user", "Kafka users"),
    ("group", "Consumer groups"),
    ("connect", "Kafka Connect clusters"),
    ("connector", "Connectors"),
    ("kafka", "Kafka clusters"),
    ("queue-manager", "Queue managers"),
    ("queue", "Queues"),
    ("", "Other"),
];

/// An anchor id for a topology node id.
fn node_anchor(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character
            } else {
                '-'
            }
        })
        .collect();
    format!("node-{cleaned}")
}

/// The event topology: per kind, each node with what it is linked to (verb and the other
/// node, a link to it on the page), and the Argo CD Application that owns it.
async fn topology_page(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    let role = match role(&state, &headers, Role::ReadOnly) {
        Ok(role) => role,
        Err(response) => return *response,
    };
    let graph = match crate::topology::live(&state.api.cluster, &*state.backend).await {
        Ok(graph) => graph,
        Err(error) => return error_page(Some(role), &error.into()),
    };
    let names: HashMap<&str, &str> = graph
        .nodes
        .iter()
        .map(|node| (node.id.as_str(), node.name.as_str()))
        .collect();
    let mut body = String::from(
        "<h1>Event topology</h1><p>What the cluster's Applications produce and consume, with the \
topics, schemas, users, connectors and queues around them, from the objects they run and the \
AsyncAPI documents and schemas of their sources at the commits they last synced \
(<a href=\"/api/v1/topology\">JSON</a>, <a href=\"/api/v1/topology?format=dot\">DOT</a>).</p>",
    );
    if graph.nodes.is_empty() {
        body.push_str("<p>No event-driven objects in the cluster.</p>");
    }
    let known: Vec<&str> = TOPOLOGY_KINDS.iter().map(|(kind, _)| *kind).collect();
    for (kind, heading) in TOPOLOGY_KINDS {
        let nodes: Vec<_> = graph
            .nodes
            .iter()
            .filter(|node| {
                node.kind == kind || (kind.is_empty() && !known.contains(&node.kind.as_str()))
            })
            .collect();
        if nodes.is_empty() {
            continue;
        }
        let _ = write!(
            body,
            "<h2>{heading} <small>{}</small></h2><table class=\"topology\"><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Application</th><th scope=\"col\">Links</th></tr></thead><tbody>",
            nodes.len()
        );
        for node in nodes {
            let mut links: Vec<String> = Vec::new();
            for edge in &graph.edges {
                let (verb, other) = if edge.from == node.id {
                    (edge.kind.clone(), edge.to.as_str())
                } else if edge.to == node.id {
                    (format!("{} by", edge.kind), edge.from.as_str())
                } else {
                    continue;
                };
                links.push(format!(
                    "{} <a href=\"#{}\" title=\"{}\">{}</a>",
                    escape(&verb),
                    node_anchor(other),
                    escape(other),
                    escape(names.get(other).copied().unwrap_or(other))
                ));
            }
            let owner = node.labels.get("argocd").map(String::as_str).unwrap_or("");
            // Several when read from a file more than one Application's sources hold.
            let owner_html = escape(&owner.replace(',', ", "));
            let _ = write!(
                body,
                "<tr id=\"{}\"><td>{}</td><td>{owner_html}</td><td>{}</td></tr>",
                node_anchor(&node.id),
                escape(&node.name),
                links.join("<br>")
            );
        }
        body.push_str("</tbody></table>");
    }
    html(StatusCode::OK, "Topology", Some(role), "topology", &body)
}

/// The operator catalog: every package with its channels and latest CSV, and what OLM
/// installed of it.
async fn catalog_page(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    let role = match role(&state, &headers, Role::ReadOnly) {
        Ok(role) => role,
        Err(response) => return *response,
    };
    let data = match api::catalog_data(&state).await {
        Ok(data) => data,
        Err(error) => return error_page(Some(role), &error),
    };
    let installed = &data["installed"];
    let mut body = String::from("<h1>Operator catalog</h1>");
    if installed["olm"] != Value::Bool(true) {
        body.push_str("<p>This cluster serves no OLM (Subscriptions, ClusterServiceVersions): nothing is installed through it.</p>");
    }
    body.push_str("<table id=\"packages\"><thead><tr><th scope=\"col\">Package</th><th scope=\"col\">Provider</th><th scope=\"col\">Catalog source</th><th scope=\"col\">Default channel</th><th scope=\"col\">Latest CSV</th><th scope=\"col\">Installed</th></tr></thead><tbody>");
    for package in data["packages"].as_array().into_iter().flatten() {
        let name = str_of(&package["name"], "");
        let subscriptions: Vec<String> = installed["subscriptions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|subscription| subscription["package"] == name)
            .map(|subscription| {
                format!(
                    "{} ({})",
                    escape(str_of(
                        &subscription["installedCSV"],
                        str_of(&subscription["currentCSV"], "pending")
                    )),
                    escape(str_of(&subscription["namespace"], ""))
                )
            })
            .collect();
        let _ = write!(
            body,
            "<tr><td><a href=\"/catalog/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            encode(name),
            escape(name),
            escape(str_of(&package["provider"], "")),
            escape(str_of(&package["catalogSource"], "")),
            escape(str_of(&package["defaultChannel"], "")),
            escape(str_of(&package["latestCSV"], "")),
            subscriptions.join("<br>")
        );
    }
    body.push_str("</tbody></table>");
    html(StatusCode::OK, "Catalog", Some(role), "catalog", &body)
}

/// One package: channels and their CSVs, CRDs, install modes, and what is installed.
async fn package_page(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let role = match role(&state, &headers, Role::ReadOnly) {
        Ok(role) => role,
        Err(response) => return *response,
    };
    let package = match api::catalog_package_data(&state, &name).await {
        Ok(package) => package,
        Err(error) => return error_page(Some(role), &error),
    };
    let mut body = format!(
        "<p><a href=\"/catalog\">← Catalog</a></p><h1>{}</h1><p>{}</p><dl class=\"facts\">",
        escape(str_of(&package["displayName"], &name)),
        escape(str_of(&package["description"], ""))
    );
    let modes: Vec<&str> = package["installModes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (label, value) in [
        ("Package", escape(&name)),
        ("Provider", escape(str_of(&package["provider"], ""))),
        (
            "Catalog source",
            escape(str_of(&package["catalogSource"], "")),
        ),
        (
            "Default channel",
            escape(str_of(&package["defaultChannel"], "")),
        ),
        ("Install modes", escape(&modes.join(", "))),
    ] {
        let _ = write!(body, "<dt>{label}</dt><dd>{value}</dd>");
    }
    body.push_str("</dl><h2>Installed</h2>");
    let subscriptions = package["installed"]["subscriptions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let csvs = package["installed"]["csvs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if subscriptions.is_empty() && csvs.is_empty() {
        body.push_str("<p>Not installed in this cluster.</p>");
    } else {
        body.push_str("<ul class=\"conditions\">");
        for subscription in &subscriptions {
            let _ = write!(
                body,
                "<li>Subscription <b>{}</b> in {}: channel {}, installed {} {}</li>",
                escape(str_of(&subscription["name"], "")),
                escape(str_of(&subscription["namespace"], "")),
                escape(str_of(&subscription["channel"], "")),
                escape(str_of(&subscription["installedCSV"], "nothing yet")),
                escape(str_of(&subscription["state"], ""))
            );
        }
        for csv in &csvs {
            let _ = write!(
                body,
                "<li>CSV <b>{}</b> in {}: {}</li>",
                escape(str_of(&csv["name"], "")),
                escape(str_of(&csv["namespace"], "")),
                badge("phase", str_of(&csv["phase"], "Unknown"))
            );
        }
        body.push_str("</ul>");
    }
    body.push_str("<h2>Channels</h2>");
    for channel in package["channelEntries"].as_array().into_iter().flatten() {
        let csvs: Vec<String> = channel["csvs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|csv| format!("<code>{}</code>", escape(str_of(&csv["name"], ""))))
            .collect();
        let _ = write!(
            body,
            "<h3>{}</h3><p>{}</p>",
            escape(str_of(&channel["name"], "")),
            csvs.join(" → ")
        );
    }
    body.push_str("<h2>Custom resources</h2><ul>");
    for crd in package["crds"].as_array().into_iter().flatten() {
        let _ = write!(
            body,
            "<li>{} <span class=\"namespace\">{}</span></li>",
            escape(str_of(&crd["kind"], "")),
            escape(str_of(&crd["group"], ""))
        );
    }
    body.push_str("</ul>");
    html(StatusCode::OK, &name, Some(role), "package", &body)
}

/// The rollback form: the same checks as the API, then back to the page.
async fn rollback_form(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(response) = role(&state, &headers, Role::Admin) {
        return *response;
    }
    let fields = form_fields(&body);
    let id = fields.get("id").and_then(|id| id.parse::<i64>().ok());
    let result = api::start_rollback(&state, &namespace, &name, id)
        .await
        .map(|operation| {
            format!(
                "rollback to {} requested",
                str_of(&operation["sync"]["revision"], "the previous revision")
            )
        });
    back_to(&namespace, &name, result)
}

/// A manifest as YAML (kustomize's style), or a note when there is none.
fn manifest_html(object: &Value, absent: &str) -> String {
    if object.is_null() {
        return format!("<p>{}</p>", escape(absent));
    }
    match flotilla_core::write_document(&flotilla_core::from_json(object)) {
        Ok(text) => format!("<pre class=\"manifest\">{}</pre>", escape(&text)),
        Err(error) => format!("<p class=\"error\">{}</p>", escape(&error.to_string())),
    }
}

/// One object: in sync or why not, its diff, its desired and live manifests.
async fn resource_page(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let role = match role(&state, &headers, Role::ReadOnly) {
        Ok(role) => role,
        Err(response) => return *response,
    };
    let parameters = api::query_map(query.as_deref());
    let resource = parameters.get("resource").cloned().unwrap_or_default();
    let object = match api::resource_data(&state, &namespace, &name, &resource).await {
        Ok(object) => object,
        Err(error) => return error_page(Some(role), &error),
    };
    let mut body = format!(
        "<p><a href=\"/applications/{}/{}\">← {}</a></p><h1>{}</h1>",
        encode(&namespace),
        encode(&name),
        escape(&name),
        escape(&resource)
    );
    let in_sync = object["inSync"] == Value::Bool(true);
    body.push_str(&badge("sync", if in_sync { "Synced" } else { "OutOfSync" }));
    for reason in object["reasons"].as_array().into_iter().flatten() {
        let _ = write!(
            body,
            "<p class=\"reason\">{}</p>",
            escape(str_of(reason, ""))
        );
    }
    if let Some(diff) = object["diff"].as_str() {
        let _ = write!(
            body,
            "<h2>Diff</h2><pre class=\"diff\">{}</pre>",
            escape(diff)
        );
    }
    body.push_str("<h2>Desired</h2>");
    body.push_str(&manifest_html(
        &object["desired"],
        "Not in Git: a sync with prune deletes it.",
    ));
    body.push_str("<h2>Live</h2>");
    body.push_str(&manifest_html(
        &object["live"],
        "Not in the cluster: a sync creates it.",
    ));
    html(StatusCode::OK, &resource, Some(role), "resource", &body)
}

/// What a sync would change: each differing object's reasons and unified diff.
async fn diff_page(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let role = match role(&state, &headers, Role::ReadOnly) {
        Ok(role) => role,
        Err(response) => return *response,
    };
    let data = match api::diff_data(&state, &namespace, &name, None).await {
        Ok(data) => data,
        Err(error) => return error_page(Some(role), &error),
    };
    let mut body = format!(
        "<p><a href=\"/applications/{}/{}\">← {}</a></p><h1>What a sync of {} would change</h1>",
        encode(&namespace),
        encode(&name),
        escape(&name),
        escape(&name)
    );
    let guardrails = data["guardrails"].as_array().cloned().unwrap_or_default();
    if !guardrails.is_empty() {
        body.push_str("<h2>Guardrails</h2><ul class=\"conditions\">");
        for finding in &guardrails {
            let _ = write!(
                body,
                "<li>{}<b>{}</b>: {}</li>",
                if finding["blocks"] == Value::Bool(true) {
                    "blocks · "
                } else {
                    ""
                },
                escape(str_of(&finding["rule"], "")),
                escape(str_of(&finding["message"], &finding.to_string()))
            );
        }
        body.push_str("</ul>");
    }
    let differences = data["differences"].as_array().cloned().unwrap_or_default();
    if differences.is_empty() {
        body.push_str("<p>No difference: the cluster is as Git says.</p>");
    }
    for difference in &differences {
        let _ = write!(
            body,
            "<h2>{}</h2>",
            escape(str_of(&difference["resource"], ""))
        );
        for reason in difference["reasons"].as_array().into_iter().flatten() {
            let _ = write!(
                body,
                "<p class=\"reason\">{}</p>",
                escape(str_of(reason, ""))
            );
        }
        let text = str_of(&difference["diff"], str_of(&difference["diffError"], ""));
        let _ = write!(body, "<pre class=\"diff\">{}</pre>", escape(text));
    }
    html(
        StatusCode::OK,
        &format!("{name}: diff"),
        Some(role),
        "diff",
        &body,
    )
}

async fn refresh_form(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    if let Err(response) = role(&state, &headers, Role::Admin) {
        return *response;
    }
    let cluster = &state.api.cluster;
    let result = async {
        let application = apps::get(cluster, &namespace, &name).await?;
        apps::check_project(cluster, &state.api.control_namespace, &application).await?;
        apps::refresh(cluster, &namespace, &name, false).await?;
        Ok::<_, apps::AppError>("refresh requested".to_string())
    }
    .await
    .map_err(ApiError::from);
    back_to(&namespace, &name, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_and_nests() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let nodes = vec![
            json!({"kind": "Deployment", "name": "web", "uid": "1", "tracked": true, "sync": "Synced", "health": "Healthy", "parents": []}),
            json!({"kind": "ReplicaSet", "name": "web-1", "uid": "2", "tracked": false, "parents": ["1"]}),
            json!({"kind": "Pod", "name": "web-1-a", "uid": "3", "tracked": false, "parents": ["2"]}),
            json!({"kind": "ConfigMap", "name": "<script>", "tracked": true, "sync": "OutOfSync", "reason": "data.key differs", "parents": []}),
            json!({"group": "argoproj.io", "kind": "Application", "namespace": "argocd", "name": "child", "tracked": true, "sync": "Synced", "parents": []}),
        ];
        let text = tree_html(&nodes, "/applications/argocd/parent");
        assert!(
            text.contains("<a href=\"/applications/argocd/parent/resource?resource=Deployment%2F%2Fweb\">web</a></span> <span class=\"badge sync-synced\">"),
            "{text}"
        );
        assert!(text.contains("<ul><li><span class=\"kind\">ReplicaSet</span> <span class=\"name\">web-1</span><ul><li><span class=\"kind\">Pod</span>"), "{text}");
        assert!(text.contains("&lt;script&gt;"), "{text}");
        assert!(text.contains("data.key differs"), "{text}");
        assert!(
            text.contains("<a href=\"/applications/argocd/child\">child</a>"),
            "{text}"
        );
    }

    #[test]
    fn list_links_keep_filters_and_reset_the_page() {
        let parameters: HashMap<String, String> = [("project", "a b"), ("page", "3")]
            .into_iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        assert_eq!(
            list_link(&parameters, &[("health", "Healthy")]),
            "/applications?health=Healthy&project=a+b"
        );
    }
}
