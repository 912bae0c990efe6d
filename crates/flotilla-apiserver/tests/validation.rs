//! Field validation of built-in kinds (`fieldValidation`), list `resourceVersionMatch`, and
//! server-side apply of built-in kinds by their schema's list types, over HTTP.

mod common;

use common::*;
use serde_json::{json, Value};

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

fn deployment_with(name: &str, spec_extra: Value) -> Value {
    let mut object = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "nginx"}]}}}
    });
    if let (Some(spec), Some(extra)) = (object["spec"].as_object_mut(), spec_extra.as_object()) {
        for (key, value) in extra {
            spec.insert(key.clone(), value.clone());
        }
    }
    object
}

#[tokio::test]
async fn unknown_fields_of_builtin_kinds_warn_or_are_refused() {
    let server = start().await;
    let typo = deployment_with("typo", json!({"replica": 3}));

    let strict = send_json(
        &server,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Strict"),
        &typo,
    )
    .await;
    assert_eq!(
        (strict.code, strict.reason()),
        (400, "BadRequest"),
        "{}",
        strict.body
    );
    assert!(
        strict.body["message"].as_str().is_some_and(
            |message| message.contains("strict decoding error: unknown field \"spec.replica\"")
        ),
        "{}",
        strict.body
    );
    assert_eq!(get(&server, &format!("{DEPLOYMENTS}/typo")).await.code, 404);

    // Warn (the default): stored, with kubectl's warning header.
    let warned = send_json(&server, "POST", DEPLOYMENTS, &typo).await;
    assert_eq!(warned.code, 201, "{}", warned.body);
    assert_eq!(
        warned.warnings,
        vec!["299 - \"unknown field \\\"spec.replica\\\"\""]
    );

    // Ignore: no warning.
    let quiet = send_json(
        &server,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Ignore"),
        &deployment_with("quiet", json!({"replica": 3})),
    )
    .await;
    assert_eq!(quiet.code, 201, "{}", quiet.body);
    assert!(quiet.warnings.is_empty());

    // Server-side apply and merge patches are checked too; known and newer fields are not flagged.
    let applied = patch(
        &server,
        &format!("{DEPLOYMENTS}/applied?fieldManager=test&fieldValidation=Strict"),
        "application/apply-patch+yaml",
        &deployment_with("applied", json!({"replicas": 1, "minReadySeconds": 2})),
    )
    .await;
    assert_eq!(applied.code, 201, "{}", applied.body);
    assert!(applied.warnings.is_empty(), "{:?}", applied.warnings);
    let patched = patch(
        &server,
        &format!("{DEPLOYMENTS}/applied?fieldValidation=Strict"),
        "application/merge-patch+json",
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx", "imagePulPolicy": "Always"}]}}}}),
    )
    .await;
    assert_eq!(patched.code, 400, "{}", patched.body);
    assert!(
        patched.body["message"].as_str().is_some_and(
            |message| message.contains("spec.template.spec.containers[0].imagePulPolicy")
        )
    );

    let bad_value = send_json(
        &server,
        "POST",
        &format!("{CONFIGMAPS}?fieldValidation=strict"),
        &configmap("x", json!({})),
    )
    .await;
    assert_eq!(bad_value.code, 400);
}

#[tokio::test]
async fn list_resource_version_match() {
    let server = start().await;
    let created = send_json(&server, "POST", CONFIGMAPS, &configmap("one", json!({}))).await;
    assert_eq!(created.code, 201);
    let listed = get(&server, CONFIGMAPS).await;
    let current: u64 = listed.body["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|version| version.parse().ok())
        .expect("list resourceVersion");

    let exact = get(
        &server,
        &format!("{CONFIGMAPS}?resourceVersion={current}&resourceVersionMatch=Exact"),
    )
    .await;
    assert_eq!(exact.code, 200, "{}", exact.body);
    let not_older = get(
        &server,
        &format!("{CONFIGMAPS}?resourceVersion=1&resourceVersionMatch=NotOlderThan"),
    )
    .await;
    assert_eq!(not_older.code, 200, "{}", not_older.body);

    let too_new = get(
        &server,
        &format!(
            "{CONFIGMAPS}?resourceVersion={}&resourceVersionMatch=NotOlderThan",
            current + 1000
        ),
    )
    .await;
    assert_eq!(
        (too_new.code, too_new.reason()),
        (504, "Timeout"),
        "{}",
        too_new.body
    );

    send_json(&server, "POST", CONFIGMAPS, &configmap("two", json!({}))).await;
    let stale = get(
        &server,
        &format!("{CONFIGMAPS}?resourceVersion={current}&resourceVersionMatch=Exact"),
    )
    .await;
    assert_eq!(
        (stale.code, stale.reason()),
        (410, "Expired"),
        "{}",
        stale.body
    );

    for query in [
        "resourceVersionMatch=Exact",
        "resourceVersion=1&resourceVersionMatch=Sometimes",
        "resourceVersion=abc",
        "resourceVersion=0&resourceVersionMatch=Exact",
    ] {
        let refused = get(&server, &format!("{CONFIGMAPS}?{query}")).await;
        assert_eq!(
            (refused.code, refused.reason()),
            (400, "BadRequest"),
            "{query}: {}",
            refused.body
        );
    }
}

fn container_names(object: &Value) -> Vec<String> {
    object["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|containers| {
            containers
                .iter()
                .filter_map(|container| container["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn apply_merges_builtin_lists_by_their_schema_keys() {
    let server = start().await;
    let path = |manager: &str| format!("{DEPLOYMENTS}/web?fieldManager={manager}");
    let first = patch(
        &server,
        &path("app"),
        "application/apply-patch+yaml",
        &deployment_with("web", json!({})),
    )
    .await;
    assert_eq!(first.code, 201, "{}", first.body);
    let fields = &first.body["metadata"]["managedFields"][0]["fieldsV1"];
    assert_eq!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({"k:{\"name\":\"main\"}": {".": {}, "f:image": {}, "f:name": {}}})
    );

    // A second manager adds a sidecar: containers are keyed by name, so both stay.
    let mut sidecar = deployment_with("web", json!({}));
    sidecar["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "proxy", "image": "envoy"}]);
    let second = patch(
        &server,
        &path("mesh"),
        "application/apply-patch+yaml",
        &sidecar,
    )
    .await;
    assert_eq!(second.code, 200, "{}", second.body);
    assert_eq!(container_names(&second.body), ["main", "proxy"]);

    // The first manager stops sending its container: only its own goes.
    let mut without_main = deployment_with("web", json!({}));
    without_main["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "proxy", "image": "envoy"}]);
    let third = patch(
        &server,
        &path("app"),
        "application/apply-patch+yaml",
        &without_main,
    )
    .await;
    assert_eq!(third.code, 200, "{}", third.body);
    assert_eq!(container_names(&third.body), ["proxy"]);

    // Tolerations are atomic in the schema: an applier replaces the whole list.
    let mut tolerating = deployment_with("web", json!({}));
    tolerating["spec"]["template"]["spec"]["tolerations"] =
        json!([{"key": "a", "operator": "Exists"}]);
    let tolerations = patch(
        &server,
        &path("app"),
        "application/apply-patch+yaml",
        &tolerating,
    )
    .await;
    let fields = tolerations.body["metadata"]["managedFields"]
        .as_array()
        .and_then(|entries| entries.iter().find(|entry| entry["manager"] == "app"))
        .map(|entry| entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:tolerations"].clone());
    assert_eq!(fields, Some(json!({})), "{}", tolerations.body);
}

#[tokio::test]
async fn first_apply_to_an_unmanaged_object_meets_before_first_apply() {
    let server = start().await;
    let created = send_json(
        &server,
        "POST",
        CONFIGMAPS,
        &configmap("legacy", json!({"a": "1"})),
    )
    .await;
    assert_eq!(created.code, 201);
    // Clearing managedFields (as `managedFields: [{}]` does) leaves an object nobody manages.
    let cleared = patch(
        &server,
        &format!("{CONFIGMAPS}/legacy"),
        "application/merge-patch+json",
        &json!({"metadata": {"managedFields": [{}]}}),
    )
    .await;
    assert_eq!(cleared.code, 200, "{}", cleared.body);
    let conflict = patch(
        &server,
        &format!("{CONFIGMAPS}/legacy?fieldManager=newcomer"),
        "application/apply-patch+yaml",
        &configmap("legacy", json!({"a": "2"})),
    )
    .await;
    assert_eq!(conflict.code, 409, "{}", conflict.body);
    assert!(
        conflict.body["message"]
            .as_str()
            .is_some_and(|message| message.contains("before-first-apply")),
        "{}",
        conflict.body
    );
    let forced = patch(
        &server,
        &format!("{CONFIGMAPS}/legacy?fieldManager=newcomer&force=true"),
        "application/apply-patch+yaml",
        &configmap("legacy", json!({"a": "2"})),
    )
    .await;
    assert_eq!(forced.code, 200, "{}", forced.body);
    assert_eq!(forced.body["data"]["a"], "2");
}

/// Value types and kube's validation rules, one case per file under `tests/values/`: the object
/// written first (`existing`), the request, and kube-apiserver's answer (`expect`). A refused
/// request must leave the object as it was (or absent). `{namespace}` in a case is its file
/// name, the namespace it runs in.
#[tokio::test]
async fn value_cases() {
    let server = start().await;
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/values");
    let mut cases: Vec<std::path::PathBuf> = std::fs::read_dir(&directory)
        .expect("tests/values exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "yaml")
        })
        .collect();
    cases.sort();
    assert!(
        cases.len() > 10,
        "cases missing from {}",
        directory.display()
    );
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(failure) = check_value_case(&server, case).await {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

async fn check_value_case(
    server: &flotilla_apiserver::RunningServer,
    file: &std::path::Path,
) -> Result<(), String> {
    let name = file
        .file_stem()
        .and_then(|stem| stem.to_str())
        .expect("case files have UTF-8 names")
        .to_string();
    let fail = |what: String| Err(format!("{name}: {what}"));
    let text = std::fs::read_to_string(file)
        .expect("case file reads")
        .replace("{namespace}", &name);
    let document = flotilla_core::parse_single_document(&text)
        .unwrap_or_else(|error| panic!("{}: {error:?}", file.display()));
    let case = flotilla_core::to_json(&document);
    let namespace = send_json(
        server,
        "POST",
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    )
    .await;
    assert_eq!(namespace.code, 201, "{name}: {}", namespace.body);
    let collection = case["collection"].as_str().expect("collection").to_string();
    let mut before = None;
    if !case["existing"].is_null() {
        let created = send_json(server, "POST", &collection, &case["existing"]).await;
        if created.code != 201 {
            return fail(format!("existing object refused: {}", created.body));
        }
        before = Some(created.body);
    }
    let request = &case["request"];
    let object_name = request["name"]
        .as_str()
        .or_else(|| request["body"]["metadata"]["name"].as_str())
        .map(str::to_string);
    let mut path = collection.clone();
    if let Some(object_name) = request["name"].as_str() {
        path = format!("{path}/{object_name}");
    }
    if let Some(query) = request["query"].as_str() {
        path = format!("{path}?{query}");
    }
    let reply = common::request(
        server,
        request["method"].as_str().unwrap_or("POST"),
        &path,
        request["contentType"]
            .as_str()
            .unwrap_or("application/json"),
        serde_json::to_vec(&request["body"]).expect("json"),
    )
    .await;
    let expect = &case["expect"];
    let code = expect["code"].as_u64().expect("expect.code");
    if u64::from(reply.code) != code {
        return fail(format!(
            "code {} (wanted {code}): {}",
            reply.code, reply.body
        ));
    }
    if let Some(reason) = expect["reason"].as_str() {
        if reply.reason() != reason {
            return fail(format!("reason {:?} (wanted {reason:?})", reply.reason()));
        }
    }
    let message = reply.body["message"].as_str().unwrap_or("");
    if let Some(wanted) = expect["message"].as_str() {
        if message != wanted {
            return fail(format!("message\n  {message}\nwanted\n  {wanted}"));
        }
    }
    for wanted in expect["messageContains"].as_array().into_iter().flatten() {
        let wanted = wanted.as_str().expect("messageContains holds strings");
        if !message.contains(wanted) {
            return fail(format!(
                "message\n  {message}\ndoes not contain\n  {wanted}"
            ));
        }
    }
    if let Some(fields) = expect["causeFields"].as_array() {
        let found: Vec<&str> = reply.body["details"]["causes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|cause| cause["field"].as_str())
            .collect();
        let wanted: Vec<&str> = fields.iter().filter_map(Value::as_str).collect();
        if found != wanted {
            return fail(format!("cause fields {found:?} (wanted {wanted:?})"));
        }
    }
    if code >= 400 {
        let Some(object_name) = object_name else {
            return Ok(());
        };
        let after = get(server, &format!("{collection}/{object_name}")).await;
        match &before {
            None if after.code != 404 => {
                return fail(format!("refused, yet stored: {}", after.body));
            }
            Some(before) if after.body != *before => {
                return fail(format!(
                    "refused, yet changed:\n  {before}\nto\n  {}",
                    after.body
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
