//! CRDs, garbage collection, namespace deletion, leases, persistence across restarts, TLS with
//! the bearer token, and simulation.

mod common;

use std::time::Duration;

use common::*;
use flotilla_apiserver::ServerConfig;
use serde_json::{json, Value};

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

/// Polls `path` until `check` holds (bounded by the step timeout).
async fn eventually(
    server: &flotilla_apiserver::RunningServer,
    path: &str,
    check: impl Fn(&Reply) -> bool,
) -> Reply {
    within(async {
        loop {
            let reply = get(server, path).await;
            if check(&reply) {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["size"], "properties": {
                        "size": {"type": "integer"}, "color": {"type": "string", "enum": ["red", "blue"]},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                    "status": {"type": "object", "properties": {"phase": {"type": "string"}, "observedGeneration": {"type": "integer"},
                        "conditions": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}}}}]}
    })
}

const WIDGETS: &str = "/apis/example.com/v1/namespaces/default/widgets";

#[tokio::test]
async fn custom_resources_are_served_and_validated() {
    let server = start().await;
    assert_eq!(get(&server, WIDGETS).await.code, 404);
    let created = send_json(
        &server,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &widget_crd(),
    )
    .await;
    assert_eq!(created.code, 201, "{}", created.body);
    let established = eventually(
        &server,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
        |reply| {
            reply.body["status"]["conditions"]
                .as_array()
                .is_some_and(|conditions| {
                    conditions.iter().any(|condition| {
                        condition["type"] == "Established" && condition["status"] == "True"
                    })
                })
        },
    )
    .await;
    assert_eq!(
        established.body["status"]["acceptedNames"]["kind"],
        "Widget"
    );
    let discovery = get(&server, "/apis/example.com/v1").await;
    assert_eq!(discovery.body["resources"][0]["name"], "widgets");

    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 2, "unknown": true, "free": {"anything": [1, 2]}}});
    let stored = send_json(&server, "POST", WIDGETS, &widget).await;
    assert_eq!(stored.code, 201, "{}", stored.body);
    assert!(
        stored.body["spec"].get("unknown").is_none(),
        "unknown fields are pruned"
    );
    assert_eq!(stored.body["spec"]["free"]["anything"], json!([1, 2]));

    let strict = send_json(&server, "POST", &format!("{WIDGETS}?fieldValidation=Strict"), &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "s"}, "spec": {"size": 1, "bogus": 1}})).await;
    assert_eq!(strict.code, 400, "{}", strict.body);
    assert!(strict.body["message"]
        .as_str()
        .is_some_and(|message| message.contains("unknown field \"spec.bogus\"")));

    let invalid = send_json(&server, "POST", WIDGETS, &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "bad"}, "spec": {"size": "big", "color": "green"}})).await;
    assert_eq!(
        (invalid.code, invalid.reason()),
        (422, "Invalid"),
        "{}",
        invalid.body
    );
    let fields: Vec<&str> = invalid.body["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .filter_map(|cause| cause["field"].as_str())
        .collect();
    assert_eq!(fields, ["spec.size", "spec.color"]);
    let missing = send_json(&server, "POST", WIDGETS, &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "bad"}, "spec": {}})).await;
    assert_eq!(missing.code, 422);

    // Deleting the CRD stops serving its resources and removes their objects.
    let deleted = request(
        &server,
        "DELETE",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
        "",
        Vec::new(),
    )
    .await;
    assert_eq!(deleted.code, 200);
    let gone = get(&server, WIDGETS).await;
    assert_eq!(gone.code, 404);
    assert_eq!(
        gone.body["message"],
        "the server could not find the requested resource"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_kinds_can_be_accepted() {
    let server = start_with(ServerConfig {
        accept_unknown_kinds: true,
        ..config()
    })
    .await;
    let thing = json!({"apiVersion": "things.example.com/v1alpha1", "kind": "Thing", "metadata": {"name": "t"}, "spec": {"any": {"thing": 1}}});
    let created = send_json(
        &server,
        "POST",
        "/apis/things.example.com/v1alpha1/namespaces/default/things",
        &thing,
    )
    .await;
    assert_eq!(created.code, 201, "{}", created.body);
    assert_eq!(created.body["spec"]["any"]["thing"], 1);
    let definition = get(
        &server,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.things.example.com",
    )
    .await;
    assert_eq!(definition.code, 200);
    server.shutdown().await;
}

async fn create_owner_and_dependent(
    server: &flotilla_apiserver::RunningServer,
    owner: &str,
) -> String {
    let created = send_json(server, "POST", CONFIGMAPS, &configmap(owner, json!({}))).await;
    let uid = created.body["metadata"]["uid"]
        .as_str()
        .expect("uid")
        .to_string();
    let mut dependent = configmap(&format!("{owner}-dependent"), json!({}));
    dependent["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": owner, "uid": uid}]);
    assert_eq!(
        send_json(server, "POST", CONFIGMAPS, &dependent).await.code,
        201
    );
    uid
}

#[tokio::test]
async fn garbage_collection_by_propagation_policy() {
    let server = start().await;
    for policy in ["Background", "Foreground", "Orphan"] {
        let owner = policy.to_lowercase();
        create_owner_and_dependent(&server, &owner).await;
        let body = serde_json::to_vec(
            &json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy}),
        )
        .expect("json");
        let deleted = request(
            &server,
            "DELETE",
            &format!("{CONFIGMAPS}/{owner}"),
            "application/json",
            body,
        )
        .await;
        assert_eq!(deleted.code, 200, "{}", deleted.body);
        eventually(&server, &format!("{CONFIGMAPS}/{owner}"), |reply| {
            reply.code == 404
        })
        .await;
        let dependent_path = format!("{CONFIGMAPS}/{owner}-dependent");
        if policy == "Orphan" {
            let orphan = eventually(&server, &dependent_path, |reply| {
                reply.body["metadata"].get("ownerReferences").is_none()
            })
            .await;
            assert_eq!(orphan.code, 200);
        } else {
            eventually(&server, &dependent_path, |reply| reply.code == 404).await;
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn namespace_deletion_cascades() {
    let server = start().await;
    send_json(
        &server,
        "POST",
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}}),
    )
    .await;
    send_json(
        &server,
        "POST",
        "/api/v1/namespaces/doomed/configmaps",
        &configmap("inside", json!({})),
    )
    .await;
    let deleted = request(
        &server,
        "DELETE",
        "/api/v1/namespaces/doomed",
        "",
        Vec::new(),
    )
    .await;
    assert_eq!(deleted.code, 200);
    assert_eq!(deleted.body["status"]["phase"], "Terminating");
    eventually(&server, "/api/v1/namespaces/doomed", |reply| {
        reply.code == 404
    })
    .await;
    assert_eq!(
        get(&server, "/api/v1/namespaces/doomed/configmaps/inside")
            .await
            .code,
        404
    );
    server.shutdown().await;
}

#[tokio::test]
async fn leases_support_leader_election_by_resource_version() {
    let server = start().await;
    let path = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "leader"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}});
    let created = send_json(&server, "POST", path, &lease).await;
    assert_eq!(created.code, 201);
    let mut take_a = created.body.clone();
    take_a["spec"]["holderIdentity"] = json!("b");
    let mut take_b = created.body.clone();
    take_b["spec"]["holderIdentity"] = json!("c");
    let first = send_json(&server, "PUT", &format!("{path}/leader"), &take_a).await;
    let second = send_json(&server, "PUT", &format!("{path}/leader"), &take_b).await;
    assert_eq!((first.code, second.code), (200, 409));
    server.shutdown().await;
}

#[tokio::test]
async fn state_survives_a_restart() {
    let directory = temp_dir("persist");
    let persistent = || ServerConfig {
        data_dir: Some(directory.clone()),
        ..config()
    };
    let server = start_with(persistent()).await;
    let created = send_json(
        &server,
        "POST",
        CONFIGMAPS,
        &configmap("kept", json!({"a": "1"})),
    )
    .await;
    let version = resource_version(&created.body);
    send_json(
        &server,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &widget_crd(),
    )
    .await;
    eventually(&server, WIDGETS, |reply| reply.code == 200).await;
    let widget = send_json(&server, "POST", WIDGETS, &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}})).await;
    assert_eq!(widget.code, 201);
    let last_version = resource_version(&widget.body);
    server.shutdown().await;

    let server = start_with(persistent()).await;
    let kept = get(&server, &format!("{CONFIGMAPS}/kept")).await;
    assert_eq!(kept.code, 200);
    assert_eq!(resource_version(&kept.body), version);
    assert_eq!(get(&server, &format!("{WIDGETS}/w")).await.code, 200);
    let next = send_json(&server, "POST", CONFIGMAPS, &configmap("after", json!({}))).await;
    assert!(resource_version(&next.body) > last_version);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&directory);
}

#[tokio::test]
async fn https_requires_the_bearer_token() {
    let directory = temp_dir("tls");
    let server = start_with(ServerConfig {
        insecure_http: false,
        data_dir: Some(directory.clone()),
        ..config()
    })
    .await;
    assert!(server.url.starts_with("https://127.0.0.1:"));
    let kubeconfig = std::fs::read_to_string(&server.kubeconfig_path).expect("kubeconfig written");
    assert!(kubeconfig.contains("certificate-authority-data:") && kubeconfig.contains("token:"));

    let mut roots = rustls::RootCertStore::empty();
    let ca = server.ca_pem.clone().expect("CA");
    let der: String = ca
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .expect("base64");
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .expect("CA accepted");
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let token = server.token.clone().expect("token");
    for (authorization, expected) in [
        (None, 401u16),
        (Some("Bearer wrong".to_string()), 401),
        (Some(format!("Bearer {token}")), 200),
    ] {
        let code = within(async {
            let stream = tokio::net::TcpStream::connect(server.address)
                .await
                .expect("connect");
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
            let tls = connector
                .connect(name, stream)
                .await
                .expect("TLS handshake with the generated CA");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                    .await
                    .expect("handshake");
            tokio::spawn(connection);
            let mut request = hyper::Request::builder()
                .uri("/api/v1/namespaces")
                .header("host", "127.0.0.1");
            if let Some(authorization) = &authorization {
                request = request.header("authorization", authorization);
            }
            let request = request
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .expect("request");
            sender
                .send_request(request)
                .await
                .expect("response")
                .status()
                .as_u16()
        })
        .await;
        assert_eq!(code, expected, "{authorization:?}");
    }
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&directory);
}

#[tokio::test]
async fn simulation_makes_workloads_ready_or_failed() {
    let server = start_with(ServerConfig {
        simulate: Some(flotilla_apiserver::simulate::SimulationConfig {
            delay: Duration::from_millis(10),
        }),
        ..config()
    })
    .await;
    let deployment = |name: &str, fail: bool| {
        let mut object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        if fail {
            object["metadata"]["annotations"] =
                json!({flotilla_apiserver::simulate::FAILURE_ANNOTATION: "image pull failed"});
        }
        object
    };
    let deployments = "/apis/apps/v1/namespaces/default/deployments";
    send_json(&server, "POST", deployments, &deployment("good", false)).await;
    send_json(&server, "POST", deployments, &deployment("bad", true)).await;
    let good = eventually(&server, &format!("{deployments}/good"), |reply| {
        reply.body["status"]["availableReplicas"] == 2
    })
    .await;
    assert_eq!(good.body["status"]["observedGeneration"], 1);
    let pods = eventually(
        &server,
        "/api/v1/namespaces/default/pods?labelSelector=app%3Dgood",
        |reply| {
            reply.body["items"]
                .as_array()
                .is_some_and(|items| items.len() == 2)
        },
    )
    .await;
    assert!(pods.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|pod| pod["status"]["phase"] == "Running"));
    let bad = eventually(&server, &format!("{deployments}/bad"), |reply| {
        reply.body["status"]["observedGeneration"] == 1
    })
    .await;
    let available = bad.body["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|condition| condition["type"] == "Available")
        .cloned()
        .expect("Available");
    assert_eq!(available["status"], "False");

    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}});
    send_json(
        &server,
        "POST",
        "/apis/batch/v1/namespaces/default/jobs",
        &job,
    )
    .await;
    eventually(
        &server,
        "/apis/batch/v1/namespaces/default/jobs/once",
        |reply| reply.body["status"]["succeeded"] == 1,
    )
    .await;

    send_json(
        &server,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &widget_crd(),
    )
    .await;
    eventually(&server, WIDGETS, |reply| reply.code == 200).await;
    send_json(&server, "POST", WIDGETS, &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}})).await;
    let ready = eventually(&server, &format!("{WIDGETS}/w"), |reply| {
        reply.body["status"]["observedGeneration"] == 1
    })
    .await;
    assert_eq!(ready.body["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(ready.body["status"]["conditions"][0]["status"], "True");
    assert_eq!(ready.body["status"]["phase"], "Ready");
    server.shutdown().await;
}
