//! REST semantics over HTTP: create/get/list/replace/delete, resourceVersion, status
//! subresource, generation, namespaces, generateName, selectors, paging, finalizers, dry run,
//! patches and server-side apply, and the `Status` errors for bad input.

mod common;

use common::*;
use serde_json::{json, Value};

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

fn deployment(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main", "image": "nginx"}]}}}
    })
}

#[tokio::test]
async fn create_get_list_replace_delete() {
    let server = start().await;
    let created = send_json(
        &server,
        "POST",
        CONFIGMAPS,
        &configmap("one", json!({"a": "1"})),
    )
    .await;
    assert_eq!(created.code, 201, "{}", created.body);
    let metadata = &created.body["metadata"];
    assert_eq!(metadata["namespace"], "default");
    assert_eq!(metadata["uid"].as_str().map(str::len), Some(36));
    assert!(metadata["creationTimestamp"]
        .as_str()
        .is_some_and(|time| time.ends_with('Z')));
    let first_version = resource_version(&created.body);

    let fetched = get(&server, &format!("{CONFIGMAPS}/one")).await;
    assert_eq!(fetched.code, 200);
    assert_eq!(fetched.body["data"]["a"], "1");

    let second = send_json(&server, "POST", CONFIGMAPS, &configmap("two", json!({}))).await;
    assert!(resource_version(&second.body) > first_version);
    let duplicate = send_json(&server, "POST", CONFIGMAPS, &configmap("two", json!({}))).await;
    assert_eq!((duplicate.code, duplicate.reason()), (409, "AlreadyExists"));

    let listed = get(&server, CONFIGMAPS).await;
    assert_eq!(listed.body["kind"], "ConfigMapList");
    let names: Vec<&str> = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|item| item["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["one", "two"]);

    let mut replacement = fetched.body.clone();
    replacement["data"]["a"] = json!("2");
    let replaced = send_json(&server, "PUT", &format!("{CONFIGMAPS}/one"), &replacement).await;
    assert_eq!(replaced.code, 200, "{}", replaced.body);
    assert_eq!(replaced.body["metadata"]["uid"], metadata["uid"]);
    assert!(resource_version(&replaced.body) > resource_version(&second.body));

    // The same stale body again: 409 Conflict.
    let stale = send_json(&server, "PUT", &format!("{CONFIGMAPS}/one"), &replacement).await;
    assert_eq!((stale.code, stale.reason()), (409, "Conflict"));

    let deleted = request(
        &server,
        "DELETE",
        &format!("{CONFIGMAPS}/one"),
        "",
        Vec::new(),
    )
    .await;
    assert_eq!(deleted.code, 200);
    let gone = get(&server, &format!("{CONFIGMAPS}/one")).await;
    assert_eq!((gone.code, gone.reason()), (404, "NotFound"));
    assert_eq!(gone.body["message"], "configmaps \"one\" not found");
    assert_eq!(gone.body["kind"], "Status");
    server.shutdown().await;
}

#[tokio::test]
async fn namespaces_generate_name_and_dry_run() {
    let server = start().await;
    let missing = send_json(
        &server,
        "POST",
        "/api/v1/namespaces/nowhere/configmaps",
        &configmap("x", json!({})),
    )
    .await;
    assert_eq!((missing.code, missing.reason()), (404, "NotFound"));
    assert_eq!(missing.body["message"], "namespaces \"nowhere\" not found");

    let generated = send_json(
        &server,
        "POST",
        CONFIGMAPS,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}),
    )
    .await;
    assert_eq!(generated.code, 201);
    let name = generated.body["metadata"]["name"].as_str().expect("name");
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    let dry = send_json(
        &server,
        "POST",
        &format!("{CONFIGMAPS}?dryRun=All"),
        &configmap("dry", json!({})),
    )
    .await;
    assert_eq!(dry.code, 201);
    assert_eq!(get(&server, &format!("{CONFIGMAPS}/dry")).await.code, 404);

    let namespace = send_json(
        &server,
        "POST",
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
    )
    .await;
    assert_eq!(namespace.code, 201);
    assert_eq!(namespace.body["status"]["phase"], "Active");
    let inside = send_json(
        &server,
        "POST",
        "/api/v1/namespaces/team/configmaps",
        &configmap("x", json!({})),
    )
    .await;
    assert_eq!(inside.code, 201);
    server.shutdown().await;
}

#[tokio::test]
async fn status_subresource_and_generation() {
    let server = start().await;
    let created = send_json(&server, "POST", DEPLOYMENTS, &deployment("web", 1)).await;
    assert_eq!(created.code, 201, "{}", created.body);
    assert_eq!(created.body["metadata"]["generation"], 1);

    let mut with_status = created.body.clone();
    with_status["status"] = json!({"replicas": 1});
    let status_write = send_json(
        &server,
        "PUT",
        &format!("{DEPLOYMENTS}/web/status"),
        &with_status,
    )
    .await;
    assert_eq!(status_write.code, 200, "{}", status_write.body);
    assert_eq!(status_write.body["status"]["replicas"], 1);
    assert_eq!(status_write.body["metadata"]["generation"], 1);

    // A main write keeps the status and bumps generation on a spec change.
    let mut main = status_write.body.clone();
    main["spec"]["replicas"] = json!(3);
    main["status"] = json!({"replicas": 99});
    let main_write = send_json(&server, "PUT", &format!("{DEPLOYMENTS}/web"), &main).await;
    assert_eq!(main_write.code, 200);
    assert_eq!(main_write.body["status"]["replicas"], 1);
    assert_eq!(main_write.body["metadata"]["generation"], 2);

    // A status write keeps the spec.
    let mut status_only = main_write.body.clone();
    status_only["spec"]["replicas"] = json!(7);
    status_only["status"] = json!({"replicas": 3});
    let status_write = send_json(
        &server,
        "PUT",
        &format!("{DEPLOYMENTS}/web/status"),
        &status_only,
    )
    .await;
    assert_eq!(status_write.body["spec"]["replicas"], 3);
    assert_eq!(status_write.body["status"]["replicas"], 3);

    // A label change is not a spec change.
    let mut labelled = status_write.body.clone();
    labelled["metadata"]["labels"]["extra"] = json!("yes");
    let labelled = send_json(&server, "PUT", &format!("{DEPLOYMENTS}/web"), &labelled).await;
    assert_eq!(labelled.body["metadata"]["generation"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn selectors_and_paging() {
    let server = start().await;
    for (name, tier) in [
        ("a", "front"),
        ("b", "back"),
        ("c", "front"),
        ("d", "back"),
        ("e", "front"),
    ] {
        let mut object = configmap(name, json!({}));
        object["metadata"]["labels"] = json!({"tier": tier});
        assert_eq!(
            send_json(&server, "POST", CONFIGMAPS, &object).await.code,
            201
        );
    }
    let names = |reply: &Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|item| item["metadata"]["name"].as_str().map(str::to_string))
            .collect()
    };
    for (query, expected) in [
        ("labelSelector=tier%3Dfront", vec!["a", "c", "e"]),
        ("labelSelector=tier%21%3Dfront", vec!["b", "d"]),
        ("labelSelector=tier+in+%28back%29", vec!["b", "d"]),
        ("fieldSelector=metadata.name%3Dc", vec!["c"]),
        ("fieldSelector=metadata.namespace%3Dother", vec![]),
    ] {
        let reply = get(&server, &format!("{CONFIGMAPS}?{query}")).await;
        assert_eq!(reply.code, 200, "{query}: {}", reply.body);
        assert_eq!(names(&reply), expected, "{query}");
    }
    let unsupported = get(&server, &format!("{CONFIGMAPS}?fieldSelector=spec.foo%3Dx")).await;
    assert_eq!(unsupported.code, 400);

    let mut collected = Vec::new();
    let mut token = String::new();
    for _page in 0..10 {
        let reply = get(&server, &format!("{CONFIGMAPS}?limit=2&continue={token}")).await;
        assert_eq!(reply.code, 200, "{}", reply.body);
        collected.extend(names(&reply));
        match reply.body["metadata"]["continue"].as_str() {
            Some(next) => token = next.to_string(),
            None => break,
        }
    }
    assert_eq!(collected, ["a", "b", "c", "d", "e"]);
    let all_namespaces = get(&server, "/api/v1/configmaps").await;
    assert_eq!(names(&all_namespaces).len(), 5);
    server.shutdown().await;
}

#[tokio::test]
async fn finalizers_hold_deletion() {
    let server = start().await;
    let mut object = configmap("held", json!({}));
    object["metadata"]["finalizers"] = json!(["example.com/hold"]);
    send_json(&server, "POST", CONFIGMAPS, &object).await;
    let deleted = request(
        &server,
        "DELETE",
        &format!("{CONFIGMAPS}/held"),
        "",
        Vec::new(),
    )
    .await;
    assert_eq!(deleted.code, 200);
    assert!(deleted.body["metadata"]["deletionTimestamp"].is_string());
    let still = get(&server, &format!("{CONFIGMAPS}/held")).await;
    assert_eq!(still.code, 200);
    let released = patch(
        &server,
        &format!("{CONFIGMAPS}/held"),
        "application/merge-patch+json",
        &json!({"metadata": {"finalizers": null}}),
    )
    .await;
    assert_eq!(released.code, 200, "{}", released.body);
    assert_eq!(get(&server, &format!("{CONFIGMAPS}/held")).await.code, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn json_and_merge_patches() {
    let server = start().await;
    send_json(
        &server,
        "POST",
        CONFIGMAPS,
        &configmap("p", json!({"a": "1", "b": "2"})),
    )
    .await;
    let merged = patch(
        &server,
        &format!("{CONFIGMAPS}/p"),
        "application/merge-patch+json",
        &json!({"data": {"a": null, "c": "3"}}),
    )
    .await;
    assert_eq!(merged.code, 200, "{}", merged.body);
    assert_eq!(merged.body["data"], json!({"b": "2", "c": "3"}));
    let patched = patch(
        &server,
        &format!("{CONFIGMAPS}/p"),
        "application/json-patch+json",
        &json!([{"op": "replace", "path": "/data/b", "value": "20"}, {"op": "add", "path": "/data/d", "value": "4"}]),
    )
    .await;
    assert_eq!(patched.code, 200, "{}", patched.body);
    assert_eq!(patched.body["data"], json!({"b": "20", "c": "3", "d": "4"}));
    let failing = patch(
        &server,
        &format!("{CONFIGMAPS}/p"),
        "application/json-patch+json",
        &json!([{"op": "test", "path": "/data/b", "value": "nope"}]),
    )
    .await;
    assert_eq!(failing.code, 422, "{}", failing.body);
    let strategic = patch(
        &server,
        &format!("{CONFIGMAPS}/p"),
        "application/strategic-merge-patch+json",
        &json!({"data": {"e": "5", "c": null}}),
    )
    .await;
    assert_eq!(strategic.code, 200, "{}", strategic.body);
    assert_eq!(
        strategic.body["data"],
        json!({"b": "20", "d": "4", "e": "5"})
    );
    let missing = patch(
        &server,
        &format!("{CONFIGMAPS}/none"),
        "application/merge-patch+json",
        &json!({}),
    )
    .await;
    assert_eq!(missing.code, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn server_side_apply_ownership_and_conflicts() {
    let server = start().await;
    let path = format!("{CONFIGMAPS}/ssa?fieldManager=one");
    let first = patch(
        &server,
        &path,
        "application/apply-patch+yaml",
        &configmap("ssa", json!({"a": "1", "b": "2"})),
    )
    .await;
    assert_eq!(first.code, 201, "{}", first.body);
    let managed = &first.body["metadata"]["managedFields"][0];
    assert_eq!(managed["manager"], "one");
    assert_eq!(managed["operation"], "Apply");
    assert_eq!(managed["fieldsType"], "FieldsV1");
    assert_eq!(
        managed["fieldsV1"],
        json!({"f:data": {"f:a": {}, "f:b": {}}})
    );

    // Another manager changing an owned field: 409 with FieldManagerConflict causes.
    let other = format!("{CONFIGMAPS}/ssa?fieldManager=two");
    let conflict = patch(
        &server,
        &other,
        "application/apply-patch+yaml",
        &configmap("ssa", json!({"a": "9"})),
    )
    .await;
    assert_eq!(
        (conflict.code, conflict.reason()),
        (409, "Conflict"),
        "{}",
        conflict.body
    );
    assert_eq!(
        conflict.body["details"]["causes"][0]["reason"],
        "FieldManagerConflict"
    );
    assert_eq!(conflict.body["details"]["causes"][0]["field"], ".data.a");

    let forced = patch(
        &server,
        &format!("{other}&force=true"),
        "application/apply-patch+yaml",
        &configmap("ssa", json!({"a": "9"})),
    )
    .await;
    assert_eq!(forced.code, 200, "{}", forced.body);
    assert_eq!(forced.body["data"], json!({"a": "9", "b": "2"}));

    // `one` stops sending b (which it alone owns) and a (now owned by two): b goes, a stays.
    let shrunk = patch(
        &server,
        &path,
        "application/apply-patch+yaml",
        &configmap("ssa", json!({})),
    )
    .await;
    assert_eq!(shrunk.code, 200, "{}", shrunk.body);
    assert_eq!(shrunk.body["data"], json!({"a": "9"}));

    // An update by a plain write is recorded as an Update entry.
    let updated = patch(
        &server,
        &format!("{CONFIGMAPS}/ssa?fieldManager=editor"),
        "application/merge-patch+json",
        &json!({"data": {"z": "1"}}),
    )
    .await;
    let entries = updated.body["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields");
    assert!(
        entries
            .iter()
            .any(|entry| entry["manager"] == "editor" && entry["operation"] == "Update"),
        "{entries:?}"
    );

    let no_manager = patch(
        &server,
        &format!("{CONFIGMAPS}/ssa"),
        "application/apply-patch+yaml",
        &configmap("ssa", json!({})),
    )
    .await;
    assert_eq!(no_manager.code, 400);
    server.shutdown().await;
}

/// (method, path, content type, body, expected code, expected reason)
type BadInputCase = (
    &'static str,
    &'static str,
    &'static str,
    Vec<u8>,
    u16,
    &'static str,
);

#[tokio::test]
async fn bad_input_is_a_status_never_a_panic() {
    let server = start().await;
    let cases: Vec<BadInputCase> = vec![
        (
            "POST",
            CONFIGMAPS,
            "application/json",
            b"{not json".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            CONFIGMAPS,
            "application/json",
            b"[1,2]".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            CONFIGMAPS,
            "application/vnd.kubernetes.protobuf",
            b"x".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            CONFIGMAPS,
            "application/vnd.kubernetes.protobuf",
            b"k8s\x00\x0a\x7f".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            CONFIGMAPS,
            "application/cbor",
            b"\xa0".to_vec(),
            415,
            "UnsupportedMediaType",
        ),
        (
            "POST",
            CONFIGMAPS,
            "application/json",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Not_A_Name"}}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            "POST",
            CONFIGMAPS,
            "application/json",
            br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#.to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            CONFIGMAPS,
            "application/json",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            "POST",
            "/api/v1/namespaces",
            "application/json",
            br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a.b"}}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/widgets",
            "",
            Vec::new(),
            404,
            "NotFound",
        ),
        (
            "GET",
            "/apis/example.com/v1/widgets",
            "",
            Vec::new(),
            404,
            "NotFound",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps/../../secrets",
            "",
            Vec::new(),
            404,
            "NotFound",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps/%2e%2e",
            "",
            Vec::new(),
            404,
            "NotFound",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps/a/b/c/d",
            "",
            Vec::new(),
            404,
            "NotFound",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps?limit=x",
            "",
            Vec::new(),
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps?labelSelector=a+in+x",
            "",
            Vec::new(),
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps?continue=garbage",
            "",
            Vec::new(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps?dryRun=Some",
            "application/json",
            b"{}".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default/configmaps/x?propagationPolicy=Sideways",
            "",
            Vec::new(),
            400,
            "BadRequest",
        ),
        (
            "PUT",
            CONFIGMAPS,
            "application/json",
            b"{}".to_vec(),
            405,
            "MethodNotAllowed",
        ),
    ];
    for (method, path, content_type, body, code, reason) in cases {
        let reply = request(&server, method, path, content_type, body).await;
        assert_eq!(
            (reply.code, reply.reason()),
            (code, reason),
            "{method} {path}: {}",
            reply.body
        );
        assert_eq!(reply.body["kind"], "Status");
    }
    let unknown = get(&server, "/apis/example.com/v1/widgets").await;
    assert_eq!(
        unknown.body["message"],
        "the server could not find the requested resource"
    );

    let huge = configmap("huge", json!({"blob": "x".repeat(3 * 1024 * 1024 + 10)}));
    let reply = send_json(&server, "POST", CONFIGMAPS, &huge).await;
    assert_eq!(reply.code, 413, "{}", reply.body);
    // Still serving.
    assert_eq!(get(&server, "/version").await.code, 200);
    server.shutdown().await;
}

/// Every combination of method, path, content type and malformed body gets an HTTP answer (a
/// `Status` for errors), and the server keeps serving afterwards.
#[tokio::test]
async fn garbage_sweep_keeps_the_server_serving() {
    let server = start().await;
    send_json(&server, "POST", CONFIGMAPS, &configmap("target", json!({}))).await;
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"null".to_vec(),
        b"\"text\"".to_vec(),
        b"12".to_vec(),
        b"[]".to_vec(),
        b"{\"metadata\": 5}".to_vec(),
        b"{\"metadata\": {\"name\": 5, \"labels\": []}}".to_vec(),
        b"{\"apiVersion\": 1, \"kind\": [], \"metadata\": {\"name\": \"target\"}, \"spec\": \"x\", \"status\": 3}".to_vec(),
        b"[{\"op\": \"replace\", \"path\": \"\", \"value\": 1}]".to_vec(),
        b"[{\"op\": \"remove\", \"path\": \"/metadata\"}]".to_vec(),
        b"{\"metadata\": null}".to_vec(),
        vec![0xff, 0xfe, 0x00],
        b"{\"a\":".repeat(200),
    ];
    let content_types = [
        "",
        "application/json",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/apply-patch+yaml",
        "application/strategic-merge-patch+json",
        "text/plain",
    ];
    let paths = [
        CONFIGMAPS.to_string(),
        format!("{CONFIGMAPS}/target"),
        format!("{CONFIGMAPS}/target?fieldManager=x&force=true"),
        "/apis/apps/v1/namespaces/default/deployments/target/status".to_string(),
        "/api/v1/namespaces/default".to_string(),
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".to_string(),
    ];
    let mut answered = 0;
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        for path in &paths {
            for content_type in content_types {
                for body in &bodies {
                    let reply = request(&server, method, path, content_type, body.clone()).await;
                    assert!(
                        reply.code >= 200 && reply.code < 500,
                        "{method} {path} {content_type}: {} {}",
                        reply.code,
                        reply.body
                    );
                    if reply.code >= 400 {
                        assert_eq!(
                            reply.body["kind"], "Status",
                            "{method} {path} {content_type}"
                        );
                    }
                    answered += 1;
                }
            }
        }
    }
    assert!(answered > 1000);
    assert_eq!(get(&server, "/version").await.code, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn strategic_merge_patch_merges_containers_by_name() {
    let server = start().await;
    let created = send_json(&server, "POST", DEPLOYMENTS, &deployment("smp", 1)).await;
    assert_eq!(created.code, 201, "{}", created.body);
    let patched = patch(
        &server,
        &format!("{DEPLOYMENTS}/smp"),
        "application/strategic-merge-patch+json",
        &json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "image": "envoy"},
            {"name": "main", "image": "nginx:2"}
        ]}}}}),
    )
    .await;
    assert_eq!(patched.code, 200, "{}", patched.body);
    let containers = &patched.body["spec"]["template"]["spec"]["containers"];
    let names: Vec<&str> = containers
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|container| container["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{containers}");
    assert!(
        names.contains(&"main") && names.contains(&"sidecar"),
        "{containers}"
    );
    let main = containers
        .as_array()
        .expect("containers")
        .iter()
        .find(|container| container["name"] == "main")
        .expect("main container kept");
    assert_eq!(main["image"], "nginx:2");
}

/// Resource quantities of built-in kinds are stored canonical, as kube-apiserver stores them, on
/// every write path; a second apply of the same non-canonical text changes nothing; a malformed
/// quantity is a 400 naming the field.
#[tokio::test]
async fn quantities_are_stored_in_canonical_form() {
    let server = start().await;
    let mut with_resources = deployment("sized", 1);
    with_resources["spec"]["template"]["spec"]["containers"][0]["resources"] = json!({"limits": {"cpu": "1000m", "memory": "1024Mi"}, "requests": {"cpu": 0.5, "memory": "1.5Gi"}});
    let canonical = json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1536Mi"}});
    let resources =
        |object: &Value| object["spec"]["template"]["spec"]["containers"][0]["resources"].clone();

    let created = send_json(&server, "POST", DEPLOYMENTS, &with_resources).await;
    assert_eq!(created.code, 201, "{}", created.body);
    assert_eq!(resources(&created.body), canonical);

    let apply_path = format!("{DEPLOYMENTS}/applied?fieldManager=flotilla");
    let mut applied_config = with_resources.clone();
    applied_config["metadata"]["name"] = json!("applied");
    let applied = patch(
        &server,
        &apply_path,
        "application/apply-patch+yaml",
        &applied_config,
    )
    .await;
    assert_eq!(applied.code, 201, "{}", applied.body);
    assert_eq!(resources(&applied.body), canonical);
    let again = patch(
        &server,
        &apply_path,
        "application/apply-patch+yaml",
        &applied_config,
    )
    .await;
    assert_eq!(again.code, 200, "{}", again.body);
    assert_eq!(
        resource_version(&again.body),
        resource_version(&applied.body),
        "re-applying the same text is a no-op"
    );

    let mut malformed = with_resources.clone();
    malformed["metadata"]["name"] = json!("malformed");
    malformed["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] =
        json!("two cores");
    let refused = send_json(&server, "POST", DEPLOYMENTS, &malformed).await;
    assert_eq!(
        (refused.code, refused.reason()),
        (400, "BadRequest"),
        "{}",
        refused.body
    );
    let message = refused.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("spec.template.spec.containers[0].resources.limits.cpu")
            && message.contains("quantities must match the regular expression"),
        "{message}"
    );
}

/// The scale subresource over HTTP: get, update with a resourceVersion precondition, patches,
/// server-side apply with its conflicts and managedFields, dry run, and a watch event on the
/// parent.
#[tokio::test]
async fn scale_subresource_reads_and_writes_replicas_only() {
    let server = start().await;
    let scale_path = format!("{DEPLOYMENTS}/web/scale");
    let apply_path = format!("{DEPLOYMENTS}/web?fieldManager=owner");
    let created = patch(
        &server,
        &apply_path,
        "application/apply-patch+yaml",
        &deployment("web", 2),
    )
    .await;
    assert_eq!(created.code, 201, "{}", created.body);
    let mut events = watch(
        &server,
        &format!(
            "{DEPLOYMENTS}?watch=1&resourceVersion={}&timeoutSeconds=5",
            resource_version(&created.body)
        ),
    )
    .await;

    let scale = get(&server, &scale_path).await;
    assert_eq!(scale.code, 200, "{}", scale.body);
    assert_eq!(
        scale.body,
        json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": "web", "namespace": "default", "uid": created.body["metadata"]["uid"],
                "resourceVersion": created.body["metadata"]["resourceVersion"],
                "creationTimestamp": created.body["metadata"]["creationTimestamp"]},
            "spec": {"replicas": 2},
            "status": {"replicas": 0, "selector": "app=web"}
        })
    );

    // A stale resourceVersion in the Scale is a precondition that fails.
    let mut stale = scale.body.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    stale["spec"]["replicas"] = json!(9);
    let refused = send_json(&server, "PUT", &scale_path, &stale).await;
    assert_eq!(
        (refused.code, refused.reason()),
        (409, "Conflict"),
        "{}",
        refused.body
    );

    let mut update = scale.body.clone();
    update["spec"]["replicas"] = json!(3);
    let updated = send_json(
        &server,
        "PUT",
        &format!("{scale_path}?fieldManager=scaler"),
        &update,
    )
    .await;
    assert_eq!(updated.code, 200, "{}", updated.body);
    assert_eq!(updated.body["kind"], "Scale");
    assert_eq!(updated.body["spec"]["replicas"], 3);
    assert!(resource_version(&updated.body) > resource_version(&created.body));
    let event = events.next_change().await.expect("an event");
    assert_eq!(event["type"], "MODIFIED");
    assert_eq!(event["object"]["spec"]["replicas"], 3);
    assert_eq!(event["object"]["metadata"]["generation"], 2);
    assert_eq!(
        event["object"]["spec"]["template"], created.body["spec"]["template"],
        "only the replicas change"
    );

    // Apply: the replicas belong to `scaler` now, so another applier conflicts unless forced.
    let scale_apply = json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": "web"}, "spec": {"replicas": 5}});
    let conflict = patch(
        &server,
        &format!("{scale_path}?fieldManager=hpa"),
        "application/apply-patch+yaml",
        &scale_apply,
    )
    .await;
    assert_eq!(
        (conflict.code, conflict.reason()),
        (409, "Conflict"),
        "{}",
        conflict.body
    );
    assert!(
        conflict.body["message"]
            .as_str()
            .is_some_and(|message| message.contains("scaler") && message.contains(".spec.replicas")),
        "{}",
        conflict.body
    );
    let forced = patch(
        &server,
        &format!("{scale_path}?fieldManager=hpa&force=true"),
        "application/apply-patch+yaml",
        &scale_apply,
    )
    .await;
    assert_eq!(forced.code, 200, "{}", forced.body);
    assert_eq!(forced.body["spec"]["replicas"], 5);
    let parent = get(&server, &format!("{DEPLOYMENTS}/web")).await;
    let managers: Vec<(String, String, String, Value)> = parent.body["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .map(|entry| {
            (
                entry["manager"].as_str().unwrap_or_default().to_string(),
                entry["operation"].as_str().unwrap_or_default().to_string(),
                entry["subresource"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                entry["fieldsV1"]["f:spec"]["f:replicas"].clone(),
            )
        })
        .collect();
    assert!(
        managers.contains(&(
            "hpa".to_string(),
            "Apply".to_string(),
            "scale".to_string(),
            json!({})
        )),
        "{managers:?}"
    );
    assert!(
        managers
            .iter()
            .filter(|(manager, ..)| manager != "hpa")
            .all(|(.., replicas)| replicas.is_null()),
        "nobody else owns the replicas: {managers:?}"
    );

    // Patches of every kind apply to the Scale.
    for (content_type, body, expected) in [
        (
            "application/merge-patch+json",
            json!({"spec": {"replicas": 6}}),
            6,
        ),
        (
            "application/strategic-merge-patch+json",
            json!({"spec": {"replicas": 7}}),
            7,
        ),
        (
            "application/json-patch+json",
            json!([{"op": "replace", "path": "/spec/replicas", "value": 8}]),
            8,
        ),
    ] {
        let patched = patch(&server, &scale_path, content_type, &body).await;
        assert_eq!(patched.code, 200, "{content_type}: {}", patched.body);
        assert_eq!(patched.body["spec"]["replicas"], expected, "{content_type}");
    }
    let dry_run = patch(
        &server,
        &format!("{scale_path}?dryRun=All"),
        "application/merge-patch+json",
        &json!({"spec": {"replicas": 1}}),
    )
    .await;
    assert_eq!(dry_run.body["spec"]["replicas"], 1, "{}", dry_run.body);
    let kept = get(&server, &format!("{DEPLOYMENTS}/web")).await;
    assert_eq!(kept.body["spec"]["replicas"], 8, "a dry run stores nothing");

    // Refusals, each a Status.
    let negative = patch(
        &server,
        &scale_path,
        "application/merge-patch+json",
        &json!({"spec": {"replicas": -1}}),
    )
    .await;
    assert_eq!(
        (negative.code, negative.reason()),
        (422, "Invalid"),
        "{}",
        negative.body
    );
    assert_eq!(negative.body["details"]["kind"], "Scale");
    assert_eq!(negative.body["details"]["group"], "autoscaling");
    assert_eq!(
        negative.body["details"]["causes"][0]["message"],
        "Invalid value: -1: must be greater than or equal to 0"
    );
    let wrong_type = patch(
        &server,
        &scale_path,
        "application/merge-patch+json",
        &json!({"spec": {"replicas": "two"}}),
    )
    .await;
    assert_eq!(wrong_type.code, 400, "{}", wrong_type.body);
    let missing = patch(
        &server,
        &format!("{DEPLOYMENTS}/nosuch/scale"),
        "application/merge-patch+json",
        &json!({"spec": {"replicas": 1}}),
    )
    .await;
    assert_eq!(
        (missing.code, missing.reason()),
        (404, "NotFound"),
        "{}",
        missing.body
    );
    let unscaled = get(&server, &format!("{CONFIGMAPS}/any/scale")).await;
    assert_eq!(unscaled.code, 404, "{}", unscaled.body);
    let deleted = request(&server, "DELETE", &scale_path, "", Vec::new()).await;
    assert_eq!(deleted.code, 405, "{}", deleted.body);
}
