//! RBAC enforced on every request (`flotilla_apiserver::authorize`): a ServiceAccount token
//! minted by a TokenRequest may do what the stored Roles and ClusterRoles bound to it grant, and
//! is refused with kube-apiserver's 403 otherwise; the admin (`system:masters`) is never
//! refused; a user impersonated by the admin is held to that user's grants; and the real
//! `kubectl` prints its usual `Error from server (Forbidden)` line for a refusal.

mod common;

use common::kubectl::{expect_ok, kubectl, kubectl_present};
use common::*;
use flotilla_apiserver::{RunningServer, ServerConfig};
use serde_json::{json, Value};

/// Namespaces `team` and `other`; the ServiceAccount `team/deployer` with a Role in `team` that
/// reads, creates and patches Deployments (not their status, no watch); `team/watcher` that
/// may list and watch ConfigMaps in every namespace. Each with the path it is created at.
fn rbac_objects() -> Vec<(&'static str, Value)> {
    vec![
        (
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
        ),
        (
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}),
        ),
        (
            "/api/v1/namespaces/team/serviceaccounts",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": "team"}}),
        ),
        (
            "/api/v1/namespaces/team/serviceaccounts",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "watcher", "namespace": "team"}}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles",
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "deployer", "namespace": "team"},
                "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "create", "patch"]}],
            }),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings",
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "deployer", "namespace": "team"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
                "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "team"}],
            }),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "configmap-watcher"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list", "watch"]}],
            }),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "configmap-watcher"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "configmap-watcher"},
                "subjects": [{"kind": "ServiceAccount", "name": "watcher", "namespace": "team"}],
            }),
        ),
    ]
}

const DEPLOYER: &str = "system:serviceaccount:team:deployer";

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
            },
        },
    })
}

/// Stores [`rbac_objects`] as the admin.
async fn store_rbac(server: &RunningServer) {
    for (path, object) in rbac_objects() {
        let reply = send_json(server, "POST", path, &object).await;
        assert_eq!(reply.code, 201, "{path}: {}", reply.body);
    }
}

/// A token of the ServiceAccount `team/NAME`, minted as the admin.
async fn token(server: &RunningServer, name: &str) -> String {
    let reply = send_json(
        server,
        "POST",
        &format!("/api/v1/namespaces/team/serviceaccounts/{name}/token"),
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}),
    )
    .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    reply.body["status"]["token"]
        .as_str()
        .expect("token")
        .to_string()
}

/// One request: method, path, body, extra headers (besides the bearer token).
async fn call(
    server: &RunningServer,
    bearer: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let authorization = bearer.map(|token| format!("Bearer {token}"));
    let content_type = match method {
        "PATCH" => "application/merge-patch+json",
        _ => "application/json",
    };
    let mut all = vec![("content-type", content_type)];
    if let Some(authorization) = &authorization {
        all.push(("authorization", authorization.as_str()));
    }
    all.extend_from_slice(headers);
    let body = body
        .map(|body| serde_json::to_vec(body).expect("JSON"))
        .unwrap_or_default();
    request_with_headers(server, method, path, &all, body).await
}

/// A request and its answer: method, path, body, code, and the message of a refusal.
type Case<'a> = (&'a str, &'a str, Option<&'a Value>, u16, Option<String>);

fn cannot(verb: &str, resource: &str, group: &str, place: &str) -> String {
    format!("User \"{DEPLOYER}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {place}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_may_do_what_its_roles_grant_and_nothing_else() {
    let server = start().await;
    store_rbac(&server).await;
    let deployer = token(&server, "deployer").await;
    let in_team = "in the namespace \"team\"";
    let web = deployment("web");
    let scale = json!({"spec": {"replicas": 2}});
    let status = json!({"status": {"observedGeneration": 1}});
    let review = json!({"spec": {"namespace": "team"}});
    let token_request = json!({"spec": {}});
    // (method, path, body, expected code, expected message of a refusal)
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/apis/apps/v1/namespaces/team/deployments",
            Some(&web),
            201,
            None,
        ),
        (
            "GET",
            "/apis/apps/v1/namespaces/team/deployments",
            None,
            200,
            None,
        ),
        (
            "GET",
            "/apis/apps/v1/namespaces/team/deployments/web",
            None,
            200,
            None,
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/team/deployments/web",
            Some(&scale),
            200,
            None,
        ),
        // The same Role in another namespace grants nothing.
        (
            "GET",
            "/apis/apps/v1/namespaces/other/deployments",
            None,
            403,
            Some(format!(
                "deployments.apps is forbidden: {}",
                cannot("list", "deployments", "apps", "in the namespace \"other\"")
            )),
        ),
        (
            "POST",
            "/apis/apps/v1/namespaces/other/deployments",
            Some(&web),
            403,
            Some(format!(
                "deployments.apps is forbidden: {}",
                cannot(
                    "create",
                    "deployments",
                    "apps",
                    "in the namespace \"other\""
                )
            )),
        ),
        // Nor at the cluster scope.
        (
            "GET",
            "/apis/apps/v1/deployments",
            None,
            403,
            Some(format!(
                "deployments.apps is forbidden: {}",
                cannot("list", "deployments", "apps", "at the cluster scope")
            )),
        ),
        // Watch is a verb of its own: list is granted, watch is not.
        (
            "GET",
            "/apis/apps/v1/namespaces/team/deployments?watch=true",
            None,
            403,
            Some(format!(
                "deployments.apps is forbidden: {}",
                cannot("watch", "deployments", "apps", in_team)
            )),
        ),
        (
            "GET",
            "/apis/apps/v1/watch/namespaces/team/deployments",
            None,
            403,
            Some(format!(
                "deployments.apps is forbidden: {}",
                cannot("watch", "deployments", "apps", in_team)
            )),
        ),
        // A subresource is granted apart from its resource.
        (
            "PATCH",
            "/apis/apps/v1/namespaces/team/deployments/web/status",
            Some(&status),
            403,
            Some(format!(
                "deployments.apps \"web\" is forbidden: {}",
                cannot("patch", "deployments/status", "apps", in_team)
            )),
        ),
        (
            "DELETE",
            "/apis/apps/v1/namespaces/team/deployments/web",
            None,
            403,
            Some(format!(
                "deployments.apps \"web\" is forbidden: {}",
                cannot("delete", "deployments", "apps", in_team)
            )),
        ),
        (
            "DELETE",
            "/apis/apps/v1/namespaces/team/deployments",
            None,
            403,
            Some(format!(
                "deployments.apps is forbidden: {}",
                cannot("deletecollection", "deployments", "apps", in_team)
            )),
        ),
        // The core group is `""`.
        (
            "GET",
            "/api/v1/namespaces/team/configmaps",
            None,
            403,
            Some(format!(
                "configmaps is forbidden: {}",
                cannot("list", "configmaps", "", in_team)
            )),
        ),
        // Minting a token for another account is `create` on `serviceaccounts/token`.
        (
            "POST",
            "/api/v1/namespaces/team/serviceaccounts/watcher/token",
            Some(&token_request),
            403,
            Some(format!(
                "serviceaccounts \"watcher\" is forbidden: {}",
                cannot("create", "serviceaccounts/token", "", in_team)
            )),
        ),
        // Refused whether the resource exists or not.
        (
            "GET",
            "/apis/example.com/v1/namespaces/team/widgets",
            None,
            403,
            Some(format!(
                "widgets.example.com is forbidden: {}",
                cannot("list", "widgets", "example.com", in_team)
            )),
        ),
        // Discovery, health, version and the caller's own reviews: every authenticated user.
        ("GET", "/api", None, 200, None),
        ("GET", "/api/v1", None, 200, None),
        ("GET", "/apis", None, 200, None),
        ("GET", "/apis/apps/v1", None, 200, None),
        ("GET", "/version", None, 200, None),
        ("GET", "/healthz", None, 200, None),
        ("GET", "/openapi/v3", None, 200, None),
        (
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            Some(&review),
            201,
            None,
        ),
        // Other non-resource URLs: not granted.
        (
            "GET",
            "/metrics",
            None,
            403,
            Some(format!(
                "forbidden: User \"{DEPLOYER}\" cannot get path \"/metrics\""
            )),
        ),
    ];
    for (method, path, body, code, message) in &cases {
        let reply = call(&server, Some(&deployer), method, path, *body, &[]).await;
        assert_eq!(reply.code, *code, "{method} {path}: {}", reply.body);
        if let Some(message) = message {
            assert_eq!(reply.body["kind"], "Status", "{method} {path}");
            assert_eq!(reply.reason(), "Forbidden", "{method} {path}");
            assert_eq!(reply.body["code"], 403, "{method} {path}");
            assert_eq!(reply.body["message"], message.as_str(), "{method} {path}");
        }
    }
    // The refusal's details name the object, its group and its resource (kube's `kind`).
    let reply = call(
        &server,
        Some(&deployer),
        "PATCH",
        "/apis/apps/v1/namespaces/team/deployments/web/status",
        Some(&status),
        &[],
    )
    .await;
    assert_eq!(
        reply.body["details"],
        json!({"name": "web", "group": "apps", "kind": "deployments"})
    );
    // Nothing refused happened: the Deployment is still there, `other` has none.
    let reply = get(&server, "/apis/apps/v1/namespaces/team/deployments/web").await;
    assert_eq!(reply.code, 200);
    assert_eq!(reply.body["spec"]["replicas"], 2);
    let reply = get(&server, "/apis/apps/v1/namespaces/other/deployments").await;
    assert_eq!(reply.body["items"], json!([]));

    // A ClusterRoleBinding grants in every namespace and across them; list and watch granted.
    let watcher = token(&server, "watcher").await;
    for path in [
        "/api/v1/configmaps",
        "/api/v1/namespaces/other/configmaps",
        "/api/v1/namespaces/team/configmaps",
    ] {
        let reply = call(&server, Some(&watcher), "GET", path, None, &[]).await;
        assert_eq!(reply.code, 200, "{path}: {}", reply.body);
    }
    let reply = call(
        &server,
        Some(&watcher),
        "GET",
        "/api/v1/configmaps?watch=true&timeoutSeconds=1",
        None,
        &[],
    )
    .await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_is_never_refused_and_impersonation_is_enforced_as_the_impersonated_user() {
    let server = start().await;
    store_rbac(&server).await;
    // The admin: everything, everywhere, no rule needed.
    let web = deployment("web");
    for (method, path, body, code) in [
        (
            "POST",
            "/apis/apps/v1/namespaces/other/deployments",
            Some(&web),
            201,
        ),
        ("GET", "/apis/apps/v1/deployments", None, 200),
        ("GET", "/api/v1/namespaces/other/configmaps", None, 200),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/other/deployments/web/status",
            Some(&json!({"status": {}})),
            200,
        ),
        (
            "DELETE",
            "/apis/apps/v1/namespaces/other/deployments",
            None,
            200,
        ),
    ] {
        let reply = call(&server, None, method, path, body, &[]).await;
        assert_eq!(reply.code, code, "{method} {path}: {}", reply.body);
    }
    // The admin acting as the ServiceAccount holds what the account holds.
    let as_deployer = [("impersonate-user", DEPLOYER)];
    let reply = call(
        &server,
        None,
        "GET",
        "/apis/apps/v1/namespaces/team/deployments",
        None,
        &as_deployer,
    )
    .await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    let reply = call(
        &server,
        None,
        "GET",
        "/apis/apps/v1/namespaces/other/deployments",
        None,
        &as_deployer,
    )
    .await;
    assert_eq!(reply.code, 403, "{}", reply.body);
    assert_eq!(
        reply.body["message"],
        format!(
            "deployments.apps is forbidden: {}",
            cannot("list", "deployments", "apps", "in the namespace \"other\"")
        )
    );
    // Acting as a user with no bindings: only what every authenticated user holds.
    let as_alice = [("impersonate-user", "alice")];
    let reply = call(&server, None, "GET", "/api/v1/namespaces", None, &as_alice).await;
    assert_eq!(reply.code, 403);
    assert_eq!(
        reply.body["message"],
        "namespaces is forbidden: User \"alice\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
    );
    let reply = call(&server, None, "GET", "/apis", None, &as_alice).await;
    assert_eq!(reply.code, 200);
    // Acting as `alice` in `system:masters`: everything.
    let reply = call(
        &server,
        None,
        "GET",
        "/api/v1/namespaces",
        None,
        &[
            ("impersonate-user", "alice"),
            ("impersonate-group", "system:masters"),
        ],
    )
    .await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    // A ServiceAccount may not impersonate without the `impersonate` verb.
    let deployer = token(&server, "deployer").await;
    let reply = call(
        &server,
        Some(&deployer),
        "GET",
        "/apis/apps/v1/namespaces/team/deployments",
        None,
        &as_alice,
    )
    .await;
    assert_eq!(reply.code, 403);
    assert_eq!(
        reply.body["message"],
        format!(
            "users \"alice\" is forbidden: {}",
            cannot("impersonate", "users", "", "at the cluster scope")
        )
    );
    let reply = call(
        &server,
        Some(&deployer),
        "GET",
        "/apis/apps/v1/namespaces/team/deployments",
        None,
        &[("impersonate-user", "system:serviceaccount:team:watcher")],
    )
    .await;
    assert_eq!(reply.code, 403);
    assert_eq!(
        reply.body["message"],
        format!(
            "serviceaccounts \"watcher\" is forbidden: {}",
            cannot(
                "impersonate",
                "serviceaccounts",
                "",
                "in the namespace \"team\""
            )
        )
    );
    server.shutdown().await;
}

/// The real kubectl, with a token from `kubectl create token`: what the Role grants works, a
/// refusal is kubectl's usual `Error from server (Forbidden)` line; `--as` is held to the
/// account's grants too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_prints_the_refusal() {
    if !kubectl_present() {
        println!("notice: kubectl is not on PATH; skipping the kubectl authorization test");
        return;
    }
    let directory = temp_dir("authorization");
    let server = start_with(ServerConfig {
        insecure_http: false,
        data_dir: Some(directory.clone()),
        ..config()
    })
    .await;
    let admin = server.kubeconfig_path.clone();
    // JSON documents are YAML documents.
    let documents: Vec<String> = rbac_objects()
        .into_iter()
        .map(|(_, object)| object.to_string())
        .collect();
    expect_ok(
        &admin,
        &["apply", "-f", "-"],
        Some(&documents.join("\n---\n")),
    )
    .await;
    let token = expect_ok(&admin, &["create", "token", "deployer", "-n", "team"], None).await;
    let token = token.trim();

    let listed = kubectl(
        &admin,
        &["--token", token, "get", "deployments", "-n", "team"],
        None,
    )
    .await;
    assert!(listed.success, "{}{}", listed.stdout, listed.stderr);
    assert!(
        listed
            .stderr
            .contains("No resources found in team namespace."),
        "{}",
        listed.stderr
    );

    let expected = format!(
        "Error from server (Forbidden): deployments.apps is forbidden: {}",
        cannot("list", "deployments", "apps", "in the namespace \"other\"")
    );
    let refused = kubectl(
        &admin,
        &["--token", token, "get", "deployments", "-n", "other"],
        None,
    )
    .await;
    assert!(!refused.success);
    assert_eq!(refused.stderr.trim(), expected, "{}", refused.stderr);
    let impersonated = kubectl(
        &admin,
        &["--as", DEPLOYER, "get", "deployments", "-n", "other"],
        None,
    )
    .await;
    assert!(!impersonated.success);
    assert_eq!(
        impersonated.stderr.trim(),
        expected,
        "{}",
        impersonated.stderr
    );
    let can_i = kubectl(
        &admin,
        &[
            "--token",
            token,
            "auth",
            "can-i",
            "watch",
            "deployments",
            "-n",
            "team",
        ],
        None,
    )
    .await;
    assert_eq!(can_i.stdout.trim(), "no", "{}", can_i.stderr);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&directory);
}
