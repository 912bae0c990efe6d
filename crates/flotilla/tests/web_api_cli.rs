//! The HTTP API and UI of `flotilla up` as a client calls them: the login URL `up` prints, the
//! token file (mode 0600), every `/api/v1` endpoint (paging by `continue` and by `page`, each
//! filter, one Application, its tree, Events, history, the diff of a sync, refresh, sync,
//! rollback, the guardrail findings, the catalog, the topology, the stream), the authentication
//! failures (no token, a wrong one, a read-only one on a mutating call, another origin) and
//! malformed bodies, each a JSON error with its status; a Secret from Git masked in the diff;
//! the UI's pages without JavaScript, a guardrail finding in its own section; no token in the
//! controller's log.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod web_support;

use web_support::{request, start};

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["name"].as_str().expect("name").to_string())
        .collect()
}

/// The Applications an `argocd` label names (several joined by `,`).
fn argocd(item: &Value) -> Vec<String> {
    item["labels"]["argocd"]
        .as_str()
        .unwrap_or("")
        .split(',')
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The topology node of `id`.
fn topology_node<'a>(topology: &'a Value, id: &str) -> Option<&'a Value> {
    topology["nodes"]
        .as_array()?
        .iter()
        .find(|node| node["id"] == id)
}

/// The topology's edges of `kind` whose `source` label names `source`.
fn edges_from<'a>(topology: &'a Value, kind: &str, source: &str) -> Vec<&'a Value> {
    topology["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|edge| {
            edge["kind"] == kind
                && edge["labels"]["source"]
                    .as_str()
                    .is_some_and(|sources| sources.split(',').any(|one| one == source))
        })
        .collect()
}

#[test]
fn the_api_and_ui_serve_the_example_behind_tokens() {
    let root: PathBuf =
        std::env::temp_dir().join(format!("flotilla-web-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch");
    let (_up, address, admin, log) = start(&root);
    let address = address.as_str();

    // The token file beside the kubeconfig: private, with the printed admin token.
    let tokens_path = root.join(".flotilla/cluster/api-tokens");
    let tokens = std::fs::read_to_string(&tokens_path).expect("token file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&tokens_path)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(tokens.contains(&format!("admin={admin}")));
    let read_only = tokens
        .lines()
        .find_map(|line| line.strip_prefix("read-only="))
        .expect("a read-only token")
        .to_string();
    let admin_auth = bearer(&admin);
    let read_auth = bearer(&read_only);
    let as_admin = [("authorization", admin_auth.as_str())];
    let as_reader = [("authorization", read_auth.as_str())];
    let get = |path: &str, headers: &[(&str, &str)]| request(address, "GET", path, headers, "");

    // The OpenAPI document (no token needed) lists every route.
    let openapi = get("/api/v1/openapi.json", &[]);
    assert_eq!(openapi.status, 200, "{}", openapi.body);
    let document = openapi.json();
    for route in flotilla_web::API_ROUTES {
        assert!(document["paths"][route].is_object(), "{route} undocumented");
    }

    // All eight Applications of the example, once the root app-of-apps made them.
    let deadline = Instant::now() + Duration::from_secs(120);
    let all = loop {
        let page = get("/api/v1/applications", &as_reader);
        assert_eq!(page.status, 200, "{}", page.body);
        let page = page.json();
        if page["total"] == json!(8) && page["counts"]["sync"] == json!({"Synced": 8}) {
            break page;
        }
        assert!(
            Instant::now() < deadline,
            "the example did not settle: {page}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let every: Vec<String> = names(&all);
    let mut sorted = every.clone();
    sorted.sort();
    assert_eq!(every, sorted);
    assert!(every.contains(&"apps-dev".to_string()), "{every:?}");

    // Who am I.
    assert_eq!(get("/api/v1/session", &as_admin).json()["role"], "admin");
    assert_eq!(
        get("/api/v1/session", &as_reader).json()["role"],
        "read-only"
    );

    // Paging by `continue`, then by `page`.
    let mut seen = Vec::new();
    let mut path = "/api/v1/applications?limit=3".to_string();
    loop {
        let page = get(&path, &as_reader).json();
        assert!(page["items"].as_array().expect("items").len() <= 3);
        seen.extend(names(&page));
        match page["continue"].as_str() {
            Some(next) => path = format!("/api/v1/applications?limit=3&continue={next}"),
            None => break,
        }
    }
    assert_eq!(seen, every);
    let third = get("/api/v1/applications?limit=3&page=3", &as_reader).json();
    assert_eq!(names(&third), every[6..].to_vec());
    assert_eq!(third["pages"], 3);

    // Filters: project, namespace, health, sync, text, labels.
    let inventory = get("/api/v1/applications?project=inventory", &as_reader).json();
    assert!(inventory["total"]
        .as_u64()
        .is_some_and(|total| (1..8).contains(&total)));
    assert!(inventory["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|item| item["project"] == "inventory"));
    assert_eq!(
        get("/api/v1/applications?namespace=argocd", &as_reader).json()["total"],
        8
    );
    assert_eq!(
        get("/api/v1/applications?namespace=elsewhere", &as_reader).json()["total"],
        0
    );
    assert_eq!(
        get("/api/v1/applications?sync=OutOfSync", &as_reader).json()["total"],
        0
    );
    let healthy = get(
        "/api/v1/applications?health=Healthy,Progressing",
        &as_reader,
    )
    .json();
    assert!(healthy["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|item| item["health"] == "Healthy" || item["health"] == "Progressing"));
    assert_eq!(
        names(&get("/api/v1/applications?search=KAFKA", &as_reader).json()),
        ["kafka-dev", "kafka-staging"]
    );
    let kubeconfig = root.join(".flotilla/cluster/kubeconfig");
    let labelled = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "label",
            "applications.argoproj.io",
            "mq-dev",
            "-n",
            "argocd",
            "team=queues",
        ])
        .output()
        .expect("kubectl");
    assert!(
        labelled.status.success(),
        "{}",
        String::from_utf8_lossy(&labelled.stderr)
    );
    assert_eq!(
        names(&get("/api/v1/applications?selector=team%3Dqueues", &as_reader).json()),
        ["mq-dev"]
    );
    for bad in ["limit=0", "limit=many", "page=-1", "continue=nonsense"] {
        get(&format!("/api/v1/applications?{bad}"), &as_reader).assert_error(400);
    }

    // One Application, its tree, its Events.
    let one = get("/api/v1/applications/argocd/apps-dev", &as_reader);
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.json()["metadata"]["name"], "apps-dev");
    get("/api/v1/applications/argocd/missing", &as_reader).assert_error(404);
    let tree = get("/api/v1/applications/argocd/apps-dev/tree", &as_reader);
    assert_eq!(tree.status, 200, "{}", tree.body);
    let nodes = tree.json()["nodes"].as_array().cloned().expect("nodes");
    let deployment = nodes
        .iter()
        .find(|node| node["kind"] == "Deployment" && node["tracked"] == json!(true))
        .expect("a tracked Deployment");
    assert_eq!(deployment["sync"], "Synced");
    let uid = deployment["uid"].clone();
    assert!(
        nodes.iter().any(|node| node["kind"] == "ReplicaSet"
            && node["parents"]
                .as_array()
                .is_some_and(|parents| parents.contains(&uid))),
        "no ReplicaSet under the Deployment: {nodes:?}"
    );
    get("/api/v1/applications/argocd/missing/tree", &as_reader).assert_error(404);
    let events = get("/api/v1/applications/argocd/kafka-dev/events", &as_reader);
    assert_eq!(events.status, 200, "{}", events.body);
    assert!(events.json()["items"].is_array());

    // History, and what a sync would change (nothing yet).
    let history = get("/api/v1/applications/argocd/apps-dev/history", &as_reader);
    assert_eq!(history.status, 200, "{}", history.body);
    assert!(history.json()["items"]
        .as_array()
        .is_some_and(|items| !items.is_empty()));
    let diff = get("/api/v1/applications/argocd/apps-dev/diff", &as_reader);
    assert_eq!(diff.status, 200, "{}", diff.body);
    assert_eq!(diff.json()["hasDifferences"], false, "{}", diff.body);
    get("/api/v1/applications/argocd/missing/diff", &as_reader).assert_error(404);
    // One object: in sync, its desired and live manifests.
    let object = get(
        "/api/v1/applications/argocd/apps-dev/resource?resource=Deployment/inventory-dev/item-aggregator",
        &as_reader,
    );
    assert_eq!(object.status, 200, "{}", object.body);
    let object = object.json();
    assert_eq!(object["inSync"], true, "{object}");
    assert_eq!(object["desired"]["kind"], "Deployment", "{object}");
    assert_eq!(
        object["live"]["metadata"]["name"], "item-aggregator",
        "{object}"
    );
    assert!(
        object["live"]["metadata"]["managedFields"].is_null(),
        "{object}"
    );
    get(
        "/api/v1/applications/argocd/apps-dev/resource?resource=Deployment/inventory-dev/nothing",
        &as_reader,
    )
    .assert_error(404);
    get("/api/v1/applications/argocd/apps-dev/resource", &as_reader).assert_error(400);

    // A rollback: refused while automated sync is on, as in Argo CD.
    let rollback_path = "/api/v1/applications/argocd/apps-dev/rollback";
    request(address, "POST", rollback_path, &as_admin, "{}").assert_error(409);
    request(address, "POST", rollback_path, &as_reader, "{}").assert_error(403);
    request(
        address,
        "POST",
        rollback_path,
        &as_admin,
        r#"{"id": "one"}"#,
    )
    .assert_error(400);

    // The operator catalog, and what the example's Subscriptions installed.
    let catalog = get("/api/v1/catalog", &as_reader);
    assert_eq!(catalog.status, 200, "{}", catalog.body);
    let catalog = catalog.json();
    assert!(catalog["packages"]
        .as_array()
        .is_some_and(|packages| packages
            .iter()
            .any(|package| package["name"] == "strimzi-kafka-operator")));
    assert_eq!(catalog["installed"]["olm"], true, "{catalog}");
    assert!(
        catalog["installed"]["subscriptions"]
            .as_array()
            .is_some_and(|subscriptions| subscriptions
                .iter()
                .any(|subscription| subscription["package"] == "strimzi-kafka-operator")),
        "{catalog}"
    );
    let strimzi = get("/api/v1/catalog/strimzi-kafka-operator", &as_reader);
    assert_eq!(strimzi.status, 200, "{}", strimzi.body);
    let strimzi = strimzi.json();
    assert!(strimzi["channelEntries"]
        .as_array()
        .is_some_and(|channels| !channels.is_empty()));
    assert!(strimzi["crds"]
        .as_array()
        .is_some_and(|crds| crds.iter().any(|crd| crd["kind"] == "Kafka")));
    assert_eq!(
        strimzi["installed"]["subscriptions"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{strimzi}"
    );
    get("/api/v1/catalog/no-such-operator", &as_reader).assert_error(404);

    // The event topology of what the example runs.
    let topology = get("/api/v1/topology", &as_reader);
    assert_eq!(topology.status, 200, "{}", topology.body);
    let topology = topology.json();
    let kinds: Vec<&str> = topology["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|node| node["kind"].as_str())
        .collect();
    for kind in ["application", "topic", "user", "kafka", "queue-manager"] {
        assert!(kinds.contains(&kind), "no {kind} in {topology}");
    }
    assert!(topology["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .any(|node| node["kind"] == "topic" && node["labels"]["argocd"] == "kafka-dev"));
    // The repository files at the commits the Applications synced: the example's AsyncAPI
    // document and `schemas/`, which every source holds (they are at the repository's root),
    // kafka-dev's among them.
    let schema = topology_node(&topology, "schema:items-value")
        .unwrap_or_else(|| panic!("no schema of `items` in {topology}"));
    assert_eq!(schema["kind"], "schema");
    assert!(
        argocd(schema).contains(&"kafka-dev".to_string()),
        "{schema}"
    );
    let produced = edges_from(&topology, "produces", "asyncapi");
    assert!(
        !produced.is_empty(),
        "no produces edge from AsyncAPI in {topology}"
    );
    assert!(
        produced
            .iter()
            .all(|edge| argocd(edge).contains(&"kafka-dev".to_string())),
        "{produced:?}"
    );
    assert!(
        edges_from(&topology, "uses-schema", "schemas-directory")
            .iter()
            .any(|edge| edge["to"] == "schema:items-value"),
        "{topology}"
    );
    let dot = get("/api/v1/topology?format=dot", &as_reader);
    assert!(dot.body.starts_with("digraph topology"), "{}", dot.body);

    // Authentication and authorisation on a mutating call.
    let sync_path = "/api/v1/applications/argocd/apps-dev/sync";
    let post =
        |headers: &[(&str, &str)], body: &str| request(address, "POST", sync_path, headers, body);
    post(&[], "{}").assert_error(401);
    post(&[("authorization", "Bearer wrong")], "{}").assert_error(401);
    get("/api/v1/applications", &[("authorization", "Bearer wrong")]).assert_error(401);
    get("/api/v1/applications", &[]).assert_error(401);
    post(&as_reader, "{}").assert_error(403);
    post(
        &[
            ("authorization", admin_auth.as_str()),
            ("origin", "http://evil.example"),
        ],
        "{}",
    )
    .assert_error(403);
    get(
        "/api/v1/applications",
        &[
            ("authorization", read_auth.as_str()),
            ("origin", "http://evil.example"),
        ],
    )
    .assert_error(403);
    // Malformed bodies.
    post(&as_admin, "{").assert_error(400);
    post(&as_admin, "[1]").assert_error(400);
    post(&as_admin, r#"{"prune": "yes"}"#).assert_error(400);
    post(&as_admin, r#"{"bogus": true}"#).assert_error(400);
    post(&as_admin, r#"{"syncOptions": ["NotAnOption"]}"#).assert_error(400);
    request(
        address,
        "POST",
        "/api/v1/applications/argocd/missing/sync",
        &as_admin,
        "{}",
    )
    .assert_error(404);
    get("/api/v1/nothing-here", &as_admin).assert_error(404);

    // The stream reports a change: subscribe, refresh, read the change.
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "GET /api/v1/stream HTTP/1.1\r\nhost: {address}\r\nauthorization: {admin_auth}\r\n\r\n"
    )
    .expect("subscribe");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !line.starts_with("event: hello") {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read the stream") > 0,
            "stream ended"
        );
    }
    let refreshed = request(
        address,
        "POST",
        "/api/v1/applications/argocd/mq-dev/refresh",
        &as_admin,
        r#"{"hard": false}"#,
    );
    assert_eq!(refreshed.status, 202, "{}", refreshed.body);
    request(
        address,
        "POST",
        "/api/v1/applications/argocd/mq-dev/refresh",
        &as_reader,
        "",
    )
    .assert_error(403);
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read the stream") > 0,
            "stream ended"
        );
        if line.starts_with("data: ") && line.contains("\"name\":\"mq-dev\"") {
            break;
        }
    }

    // A sync (dry run, with prune) the controller runs.
    let accepted = post(&as_admin, r#"{"prune": true, "dryRun": true}"#);
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    assert_eq!(accepted.json()["operation"]["sync"]["dryRun"], true);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let application = get("/api/v1/applications/argocd/apps-dev", &as_reader).json();
        let state = &application["status"]["operationState"];
        if !application["operation"].is_object()
            && state["operation"]["sync"]["dryRun"] == json!(true)
            && state["finishedAt"].is_string()
        {
            assert_eq!(state["phase"], "Succeeded", "{state}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sync did not finish: {state}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The UI: login URL → cookie → pages readable without JavaScript.
    let login = get(&format!("/?token={admin}"), &[]);
    assert_eq!(login.status, 303);
    let cookie = login.header("set-cookie").expect("a cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(get(&format!("/?token={admin}x"), &[]).status, 401);
    let unauthenticated = get("/applications", &[]);
    assert_eq!(unauthenticated.status, 303);
    assert_eq!(unauthenticated.header("location").as_deref(), Some("/"));
    let admin_cookie = format!("flotilla_token={admin}");
    let reader_cookie = format!("flotilla_token={read_only}");
    let list = get(
        "/applications?limit=5&search=kafka",
        &[("cookie", admin_cookie.as_str())],
    );
    assert_eq!(list.status, 200, "{}", list.body);
    for name in ["kafka-dev", "kafka-staging"] {
        assert!(
            list.body.contains(&format!(">{name}</a>")),
            "{name} missing"
        );
    }
    assert!(!list.body.contains(">apps-dev</a>"));
    let admin_page = get(
        "/applications/argocd/apps-dev",
        &[("cookie", admin_cookie.as_str())],
    );
    assert_eq!(admin_page.status, 200, "{}", admin_page.body);
    assert!(admin_page
        .body
        .contains("<button type=\"submit\">Sync</button>"));
    assert!(admin_page
        .body
        .contains("<span class=\"kind\">ReplicaSet</span>"));
    let reader_page = get(
        "/applications/argocd/apps-dev",
        &[("cookie", reader_cookie.as_str())],
    );
    assert!(reader_page.body.contains(
        "<button type=\"submit\" disabled title=\"your token is read-only\">Sync</button>"
    ));
    let refused = request(
        address,
        "POST",
        "/applications/argocd/apps-dev/sync",
        &[
            ("cookie", reader_cookie.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        "prune=on",
    );
    assert_eq!(refused.status, 403);
    let tiles = get(
        "/applications?view=tiles&search=kafka",
        &[("cookie", reader_cookie.as_str())],
    );
    assert_eq!(tiles.status, 200, "{}", tiles.body);
    assert!(tiles.body.contains("<ul id=\"tiles\""), "{}", tiles.body);
    assert!(tiles.body.contains(">kafka-staging</a>"), "{}", tiles.body);
    assert!(!tiles.body.contains(">apps-dev</a>"), "{}", tiles.body);
    let catalog_page = get("/catalog", &[("cookie", reader_cookie.as_str())]);
    assert_eq!(catalog_page.status, 200, "{}", catalog_page.body);
    assert!(catalog_page.body.contains(">strimzi-kafka-operator</a>"));
    let package_page = get(
        "/catalog/strimzi-kafka-operator",
        &[("cookie", reader_cookie.as_str())],
    );
    assert_eq!(package_page.status, 200, "{}", package_page.body);
    assert!(
        package_page
            .body
            .contains("Subscription <b>strimzi-kafka-operator</b>"),
        "{}",
        package_page.body
    );
    let topology_page = get("/topology", &[("cookie", reader_cookie.as_str())]);
    assert_eq!(topology_page.status, 200, "{}", topology_page.body);
    for expected in ["<h2>Topics", "<h2>Schemas", ">items-value</td>"] {
        assert!(
            topology_page.body.contains(expected),
            "no {expected}: {}",
            topology_page.body
        );
    }
    let diff_page = get(
        "/applications/argocd/apps-dev/diff",
        &[("cookie", reader_cookie.as_str())],
    );
    assert_eq!(diff_page.status, 200, "{}", diff_page.body);
    assert!(reader_page.body.contains("<h2>History</h2>"));
    for asset in ["/assets/app.js", "/assets/style.css"] {
        assert_eq!(get(asset, &[]).status, 200, "{asset}");
    }

    // A manual Application: OutOfSync with reasons in its tree, a diff, no history to roll back
    // to, and a sync from the API applies it.
    let manual = r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "manual", "namespace": "argocd"},
        "spec": {"project": "default",
            "source": {"repoURL": "https://github.com/flotilla-dev/inventory-demo.git", "targetRevision": "HEAD", "path": "base/apps"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "manual"},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}}"#;
    let mut kubectl = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kubectl");
    kubectl
        .stdin
        .take()
        .expect("stdin")
        .write_all(manual.as_bytes())
        .expect("write");
    assert!(kubectl.wait().expect("kubectl").success());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let application = get("/api/v1/applications/argocd/manual", &as_reader);
        if application.status == 200
            && application.json()["status"]["sync"]["status"] == "OutOfSync"
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "manual is not OutOfSync: {}",
            application.body
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Never synced: none of its files are in the topology yet.
    let topology = get("/api/v1/topology", &as_reader).json();
    assert!(
        !argocd(topology_node(&topology, "schema:items-value").expect("the schema"))
            .contains(&"manual".to_string()),
        "{topology}"
    );
    let tree = get("/api/v1/applications/argocd/manual/tree", &as_reader).json();
    let nodes = tree["nodes"].as_array().cloned().expect("nodes");
    assert!(!nodes.is_empty(), "{tree}");
    assert!(
        nodes
            .iter()
            .all(|node| node["sync"] == "OutOfSync" && node["reason"].is_string()),
        "{tree}"
    );
    let diff = get("/api/v1/applications/argocd/manual/diff", &as_reader);
    assert_eq!(diff.status, 200, "{}", diff.body);
    let diff = diff.json();
    assert_eq!(diff["hasDifferences"], true, "{diff}");
    let first = diff["differences"][0]["resource"]
        .as_str()
        .expect("a differing resource")
        .to_string();
    let one = get(
        &format!("/api/v1/applications/argocd/manual/diff?resource={first}"),
        &as_reader,
    )
    .json();
    assert_eq!(
        one["differences"].as_array().map(Vec::len),
        Some(1),
        "{one}"
    );
    request(
        address,
        "POST",
        "/api/v1/applications/argocd/manual/rollback",
        &as_admin,
        "",
    )
    .assert_error(404);
    let accepted = request(
        address,
        "POST",
        "/api/v1/applications/argocd/manual/sync",
        &as_admin,
        r#"{"prune": true}"#,
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let application = get("/api/v1/applications/argocd/manual", &as_reader).json();
        let status = &application["status"];
        if status["operationState"]["phase"] == "Succeeded" && status["sync"]["status"] == "Synced"
        {
            break;
        }
        assert!(Instant::now() < deadline, "manual did not sync: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Synced: the files at its commit are its own too.
    let topology = get("/api/v1/topology", &as_reader).json();
    assert!(
        argocd(topology_node(&topology, "schema:items-value").expect("the schema"))
            .contains(&"manual".to_string()),
        "{topology}"
    );

    // A Secret in Git: its value never appears in a diff, masked instead.
    let repository = root.join(".flotilla/example-repo");
    std::fs::create_dir_all(repository.join("secret-demo")).expect("mkdir");
    std::fs::write(
        repository.join("secret-demo/secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: demo\nstringData:\n  password: hunter2-in-git\n",
    )
    .expect("write");
    let git = |arguments: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
            .args(arguments)
            .current_dir(&repository)
            .status()
            .expect("git");
        assert!(status.success(), "git {arguments:?}");
    };
    git(&["add", "secret-demo"]);
    git(&["commit", "--quiet", "-m", "a secret"]);
    let secretive = manual
        .replace("\"manual\"", "\"secretive\"")
        .replace("base/apps", "secret-demo");
    let mut kubectl = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kubectl");
    kubectl
        .stdin
        .take()
        .expect("stdin")
        .write_all(secretive.as_bytes())
        .expect("write");
    assert!(kubectl.wait().expect("kubectl").success());
    let deadline = Instant::now() + Duration::from_secs(120);
    let diff = loop {
        let refreshed = request(
            address,
            "POST",
            "/api/v1/applications/argocd/secretive/refresh?hard=true",
            &as_admin,
            "",
        );
        let diff = get("/api/v1/applications/argocd/secretive/diff", &as_reader);
        if refreshed.status == 202 && diff.status == 200 && diff.json()["hasDifferences"] == true {
            break diff;
        }
        assert!(
            Instant::now() < deadline,
            "no difference for the Secret: {}",
            diff.body
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(diff.body.contains("Secret/secretive/demo"), "{}", diff.body);
    assert!(!diff.body.contains("hunter2"), "{}", diff.body);
    assert!(!diff.body.contains("aHVudGVyMi1pbi1naXQ"), "{}", diff.body);
    assert!(diff.body.contains("++++++++"), "{}", diff.body);
    let secret = get(
        "/api/v1/applications/argocd/secretive/resource?resource=Secret/secretive/demo",
        &as_reader,
    );
    assert_eq!(secret.status, 200, "{}", secret.body);
    assert!(!secret.body.contains("hunter2"), "{}", secret.body);
    assert_eq!(
        secret.json()["desired"]["stringData"]["password"],
        "++++++++",
        "{}",
        secret.body
    );

    // An Application whose own source holds an AsyncAPI document and a schema of its topic:
    // in the topology once synced, the schema node and the edges the document says owned by it
    // alone (no other source holds these files); the schema on the topology page.
    std::fs::create_dir_all(repository.join("events-demo/schemas")).expect("mkdir");
    for (path, text) in [
        (
            "events-demo/kustomization.yaml",
            "resources:\n- topic.yaml\n",
        ),
        (
            "events-demo/topic.yaml",
            "apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\nmetadata:\n  name: payments\n  labels:\n    strimzi.io/cluster: events\nspec:\n  partitions: 1\n  replicas: 1\n",
        ),
        (
            "events-demo/asyncapi.yaml",
            "asyncapi: 3.0.0\ninfo:\n  title: Payments\n  version: 1.0.0\nservers:\n  kafka:\n    host: events-kafka-bootstrap.events.svc:9093\n    protocol: kafka-secure\nchannels:\n  payments:\n    address: payments\n    servers: [{$ref: '#/servers/kafka'}]\n    messages:\n      payment:\n        payload:\n          schemaFormat: application/vnd.apache.avro;version=1.9.0\n          schema: {$ref: './schemas/payments-value.avsc'}\noperations:\n  pay:\n    action: send\n    x-application: checkout\n    channel: {$ref: '#/channels/payments'}\n",
        ),
        (
            "events-demo/schemas/payments-value.avsc",
            r#"{"type": "record", "name": "Payment", "namespace": "demo", "fields": [{"name": "id", "type": "string"}]}"#,
        ),
    ] {
        std::fs::write(repository.join(path), text).expect("write");
    }
    git(&["add", "events-demo"]);
    git(&["commit", "--quiet", "-m", "events"]);
    let events = manual
        .replace("\"manual\"", "\"events\"")
        .replace("base/apps", "events-demo")
        .replace(
            r#""syncPolicy": {"#,
            r#""syncPolicy": {"automated": {"prune": true}, "#,
        );
    let mut kubectl = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kubectl");
    kubectl
        .stdin
        .take()
        .expect("stdin")
        .write_all(events.as_bytes())
        .expect("write");
    assert!(kubectl.wait().expect("kubectl").success());
    let deadline = Instant::now() + Duration::from_secs(120);
    let topology = loop {
        let refreshed = request(
            address,
            "POST",
            "/api/v1/applications/argocd/events/refresh?hard=true",
            &as_admin,
            "",
        );
        let topology = get("/api/v1/topology", &as_reader).json();
        if refreshed.status == 202 && topology_node(&topology, "schema:payments-value").is_some() {
            break topology;
        }
        let application = get("/api/v1/applications/argocd/events", &as_reader);
        assert!(
            Instant::now() < deadline,
            "no schema of `payments` in the topology: {}",
            application.body
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let schema = topology_node(&topology, "schema:payments-value").expect("the schema");
    assert_eq!(argocd(schema), ["events"], "{schema}");
    // In the namespace `events` (the destination), of the cluster `events`.
    let topic = "topic:events/events/payments";
    assert_eq!(
        argocd(topology_node(&topology, topic).expect("the topic")),
        ["events"]
    );
    for source in ["schemas-directory", "asyncapi"] {
        let uses: Vec<_> = edges_from(&topology, "uses-schema", source)
            .into_iter()
            .filter(|edge| edge["from"] == topic && edge["to"] == "schema:payments-value")
            .collect();
        assert_eq!(uses.len(), 1, "no uses-schema from {source}: {topology}");
        assert_eq!(argocd(uses[0]), ["events"], "{}", uses[0]);
    }
    let produces: Vec<_> = edges_from(&topology, "produces", "asyncapi")
        .into_iter()
        .filter(|edge| edge["to"] == topic)
        .collect();
    assert_eq!(produces.len(), 1, "{topology}");
    assert_eq!(
        produces[0]["labels"]["document"],
        "events-demo/asyncapi.yaml"
    );
    assert_eq!(argocd(produces[0]), ["events"], "{}", produces[0]);
    let checkout = topology_node(&topology, "application:events/checkout")
        .expect("the application the document names");
    assert_eq!(argocd(checkout), ["events"], "{checkout}");
    let topology_page = get("/topology", &[("cookie", reader_cookie.as_str())]);
    assert!(
        topology_page
            .body
            .contains(">payments-value</td><td>events</td>"),
        "{}",
        topology_page.body
    );

    // An Application naming a project that does not exist: its sync refused, the reason said.
    let orphan = manual
        .replace("\"manual\"", "\"orphan\"")
        .replace("\"default\"", "\"no-such-project\"");
    let mut kubectl = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kubectl");
    kubectl
        .stdin
        .take()
        .expect("stdin")
        .write_all(orphan.as_bytes())
        .expect("write");
    assert!(kubectl.wait().expect("kubectl").success());
    let refused = request(
        address,
        "POST",
        "/api/v1/applications/argocd/orphan/sync",
        &as_admin,
        "{}",
    );
    refused.assert_error(403);
    assert!(
        refused.json()["error"]
            .as_str()
            .is_some_and(|error| error.contains("`no-such-project`, which does not exist")),
        "{}",
        refused.body
    );

    // Guardrail findings: kafka-dev's KafkaTopic `items` grown to 6 partitions out of band;
    // self-heal would shrink it back to Git's 3, which the gate refuses
    // (`kafka-topic-partitions-decreased`). The finding in the API with rule, severity, object,
    // field, message, hint and whether overridden, and in a section of its own on the page.
    let patched = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "-n",
            "inventory-dev",
            "patch",
            "kafkatopics",
            "items",
            "--type",
            "merge",
        ])
        .args(["-p", r#"{"spec":{"partitions":6}}"#])
        .status()
        .expect("kubectl");
    assert!(patched.success());
    let rule = "kafka-topic-partitions-decreased";
    let deadline = Instant::now() + Duration::from_secs(120);
    let findings = loop {
        let answer = get(
            "/api/v1/applications/argocd/kafka-dev/guardrails",
            &as_reader,
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        let data = answer.json();
        if data["findings"]
            .as_array()
            .is_some_and(|findings| findings.iter().any(|finding| finding["rule"] == rule))
        {
            break data;
        }
        assert!(Instant::now() < deadline, "no guardrail finding: {data}");
        std::thread::sleep(Duration::from_millis(300));
    };
    let finding = findings["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|finding| finding["rule"] == rule)
        .expect("the finding");
    assert_eq!(finding["severity"], "block", "{finding}");
    assert_eq!(
        finding["object"],
        json!({"group": "kafka.strimzi.io", "kind": "KafkaTopic", "namespace": "inventory-dev", "name": "items"}),
        "{finding}"
    );
    assert_eq!(finding["path"], "spec.partitions", "{finding}");
    for field in ["message", "hint"] {
        assert!(
            finding[field].as_str().is_some_and(|text| !text.is_empty()),
            "{finding}"
        );
    }
    assert_eq!(finding["overridden"], false, "{finding}");
    assert_eq!(finding["blocks"], true, "{finding}");
    let kafka = get("/api/v1/applications/argocd/kafka-dev", &as_reader).json();
    assert_eq!(
        findings["revisions"],
        json!([kafka["status"]["sync"]["revision"]]),
        "{findings}"
    );
    assert!(
        kafka["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|condition| condition["type"] == "GuardrailViolation"
                && condition["message"]
                    .as_str()
                    .is_some_and(|message| message.contains(rule))),
        "{}",
        kafka["status"]
    );
    let kafka_page = get(
        "/applications/argocd/kafka-dev",
        &[("cookie", reader_cookie.as_str())],
    );
    assert_eq!(kafka_page.status, 200, "{}", kafka_page.body);
    for text in [
        "<h2 id=\"guardrails\">Guardrail findings</h2>",
        &format!("<tr class=\"finding\" data-rule=\"{rule}\">"),
        "<span class=\"badge severity-block\">block</span>",
        "KafkaTopic.kafka.strimzi.io/inventory-dev/items",
        "<code>spec.partitions</code>",
        "no: blocks the sync",
    ] {
        assert!(
            kafka_page.body.contains(text),
            "{text}:\n{}",
            kafka_page.body
        );
    }
    let quiet_page = get(
        "/applications/argocd/mq-dev",
        &[("cookie", reader_cookie.as_str())],
    );
    assert!(
        quiet_page
            .body
            .contains("<h2 id=\"guardrails\">Guardrail findings</h2><p>None.</p>"),
        "{}",
        quiet_page.body
    );
    get("/api/v1/applications/argocd/missing/guardrails", &as_reader).assert_error(404);
    get("/api/v1/applications/argocd/kafka-dev/guardrails", &[]).assert_error(401);

    // Tokens never reach the controller's log (standard error); only the banner shows one.
    let log = log.lock().expect("log").clone();
    assert!(log.contains("automated sync"), "{log}");
    assert!(
        !log.contains(&admin) && !log.contains(&read_only),
        "a token is in the log"
    );
}
