//! End to end through the real `kubectl` over HTTPS with the generated kubeconfig (CA + bearer
//! token). Skipped with a notice when `kubectl` is not on PATH.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::kubectl::{expect_ok, kubectl, kubectl_present};
use common::*;
use flotilla_apiserver::ServerConfig;

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  a: \"1\"\n";
const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: main\n        image: nginx:1.27\n";
const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    subresources: {status: {}}\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              size: {type: integer}\n            required: [size]\n          status:\n            type: object\n            x-kubernetes-preserve-unknown-fields: true\n";
const WIDGET: &str =
    "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n";

fn write_kustomization(directory: &Path) -> PathBuf {
    let tree = directory.join("kustomize");
    std::fs::create_dir_all(&tree).expect("kustomize dir");
    std::fs::write(tree.join("kustomization.yaml"), "namePrefix: k-\nresources:\n- cm.yaml\nconfigMapGenerator:\n- name: generated\n  literals: [x=y]\n").expect("write");
    std::fs::write(tree.join("cm.yaml"), CONFIGMAP).expect("write");
    tree
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_end_to_end() {
    if !kubectl_present() {
        println!("notice: kubectl is not on PATH; skipping the kubectl end-to-end test");
        return;
    }
    let directory = temp_dir("kubectl");
    let server = start_with(ServerConfig {
        insecure_http: false,
        data_dir: Some(directory.clone()),
        simulate: Some(flotilla_apiserver::simulate::SimulationConfig {
            delay: std::time::Duration::from_millis(50),
        }),
        ..config()
    })
    .await;
    let kubeconfig = server.kubeconfig_path.clone();

    let resources = expect_ok(&kubeconfig, &["api-resources"], None).await;
    for expected in [
        "deployments",
        "customresourcedefinitions",
        "leases",
        "configmaps",
    ] {
        assert!(
            resources.contains(expected),
            "{expected} missing from:\n{resources}"
        );
    }

    let created = expect_ok(&kubeconfig, &["create", "-f", "-"], Some(CONFIGMAP)).await;
    assert!(created.contains("configmap/demo created"), "{created}");
    let yaml = expect_ok(
        &kubeconfig,
        &["get", "configmap", "demo", "-o", "yaml"],
        None,
    )
    .await;
    assert!(
        yaml.contains("a: \"1\"") && yaml.contains("resourceVersion"),
        "{yaml}"
    );
    let table = expect_ok(&kubeconfig, &["get", "configmaps"], None).await;
    assert!(table.contains("NAME") && table.contains("demo"), "{table}");

    let applied = expect_ok(
        &kubeconfig,
        &["apply", "--server-side", "-f", "-"],
        Some(DEPLOYMENT),
    )
    .await;
    assert!(applied.contains("serverside-applied"), "{applied}");
    let changed = DEPLOYMENT.replace("nginx:1.27", "nginx:1.28");
    let conflict = kubectl(
        &kubeconfig,
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        Some(&changed),
    )
    .await;
    assert!(
        !conflict.success && conflict.stderr.contains("conflict"),
        "{}",
        conflict.stderr
    );
    expect_ok(
        &kubeconfig,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&changed),
    )
    .await;
    let image = expect_ok(
        &kubeconfig,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
        None,
    )
    .await;
    assert_eq!(image, "nginx:1.28");
    // diff exits 1 when there are differences.
    let diff = kubectl(
        &kubeconfig,
        &["diff", "--server-side", "--force-conflicts", "-f", "-"],
        Some(DEPLOYMENT),
    )
    .await;
    assert!(
        diff.stdout.contains("-      - image: nginx:1.28") || diff.stdout.contains("nginx:1.27"),
        "{}\n{}",
        diff.stdout,
        diff.stderr
    );
    expect_ok(
        &kubeconfig,
        &[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "--timeout=10s",
        ],
        None,
    )
    .await;

    // Client-side apply of new objects, default validation (openapi v3 + server-side field validation).
    let applied = expect_ok(
        &kubeconfig,
        &["apply", "-f", "-"],
        Some(&CONFIGMAP.replace("demo", "client-side")),
    )
    .await;
    assert!(
        applied.contains("configmap/client-side created"),
        "{applied}"
    );
    // Client-side apply of a change to an existing object: kubectl sends a strategic merge patch.
    let reapplied = expect_ok(
        &kubeconfig,
        &["apply", "-f", "-"],
        Some(
            &CONFIGMAP
                .replace("demo", "client-side")
                .replace("a: \"1\"", "a: \"2\""),
        ),
    )
    .await;
    assert!(
        reapplied.contains("configmap/client-side configured"),
        "{reapplied}"
    );
    let tree = write_kustomization(&directory);
    let kustomized = expect_ok(
        &kubeconfig,
        &["apply", "-k", tree.to_str().expect("utf-8 path")],
        None,
    )
    .await;
    assert!(
        kustomized.contains("configmap/k-demo created"),
        "{kustomized}"
    );

    // CRD then a custom resource of it.
    expect_ok(&kubeconfig, &["apply", "-f", "-"], Some(CRD)).await;
    expect_ok(
        &kubeconfig,
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=10s",
        ],
        None,
    )
    .await;
    let widget = expect_ok(&kubeconfig, &["apply", "-f", "-"], Some(WIDGET)).await;
    assert!(widget.contains("widget.example.com/w1 created"), "{widget}");
    expect_ok(
        &kubeconfig,
        &[
            "wait",
            "--for=condition=Ready",
            "widget/w1",
            "--timeout=10s",
        ],
        None,
    )
    .await;
    let invalid = kubectl(
        &kubeconfig,
        &["apply", "-f", "-"],
        Some(&WIDGET.replace("size: 3", "size: big")),
    )
    .await;
    assert!(
        !invalid.success && invalid.stderr.contains("Invalid"),
        "{}",
        invalid.stderr
    );

    // get -w observes an event.
    let watcher_config = kubeconfig.clone();
    let watcher = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args(["4", "kubectl", "--kubeconfig"])
            .arg(&watcher_config)
            .arg("--cache-dir")
            .arg(watcher_config.with_file_name("kube-cache"))
            .args(["get", "configmaps", "-w", "--output-watch-events"])
            .output()
            .expect("kubectl watch runs")
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    expect_ok(
        &kubeconfig,
        &["create", "-f", "-"],
        Some(&CONFIGMAP.replace("demo", "watched")),
    )
    .await;
    let watched = within(watcher).await.expect("watch task");
    let watched = String::from_utf8_lossy(&watched.stdout).to_string();
    assert!(watched.contains("watched"), "{watched}");

    // Delete without and with finalizers.
    let deleted = expect_ok(&kubeconfig, &["delete", "configmap", "demo"], None).await;
    assert!(deleted.contains("deleted"), "{deleted}");
    let held = CONFIGMAP.replace("name: demo", "name: held\n  finalizers: [example.com/hold]");
    expect_ok(&kubeconfig, &["create", "-f", "-"], Some(&held)).await;
    expect_ok(
        &kubeconfig,
        &["delete", "configmap", "held", "--wait=false"],
        None,
    )
    .await;
    let terminating = expect_ok(
        &kubeconfig,
        &[
            "get",
            "configmap",
            "held",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ],
        None,
    )
    .await;
    assert!(!terminating.is_empty());
    expect_ok(
        &kubeconfig,
        &[
            "patch",
            "configmap",
            "held",
            "--type=merge",
            "-p",
            "{\"metadata\":{\"finalizers\":null}}",
        ],
        None,
    )
    .await;
    let gone = kubectl(&kubeconfig, &["get", "configmap", "held"], None).await;
    assert!(
        !gone.success && gone.stderr.contains("NotFound"),
        "{}",
        gone.stderr
    );

    // Typed commands send protobuf bodies.
    let namespace = expect_ok(&kubeconfig, &["create", "namespace", "typed"], None).await;
    assert!(namespace.contains("namespace/typed created"), "{namespace}");
    expect_ok(
        &kubeconfig,
        &[
            "-n",
            "typed",
            "create",
            "configmap",
            "settings",
            "--from-literal=mode=fast",
        ],
        None,
    )
    .await;
    expect_ok(
        &kubeconfig,
        &[
            "-n",
            "typed",
            "create",
            "secret",
            "generic",
            "token",
            "--from-literal=key=s3cret",
        ],
        None,
    )
    .await;
    expect_ok(
        &kubeconfig,
        &[
            "-n",
            "typed",
            "create",
            "deployment",
            "api",
            "--image=nginx",
            "--replicas=2",
        ],
        None,
    )
    .await;
    expect_ok(
        &kubeconfig,
        &[
            "-n",
            "typed",
            "run",
            "shell",
            "--image=busybox",
            "--labels=role=debug",
            "--",
            "sleep",
            "60",
        ],
        None,
    )
    .await;
    let typed = expect_ok(
        &kubeconfig,
        &[
            "-n",
            "typed",
            "get",
            "configmap/settings",
            "secret/token",
            "deployment/api",
            "pod/shell",
            "-o",
            "jsonpath={.items[0].data.mode} {.items[1].data.key} {.items[2].spec.replicas} {.items[3].metadata.labels.role} {.items[3].spec.containers[0].args}",
        ],
        None,
    )
    .await;
    assert_eq!(typed, "fast czNjcmV0 2 debug [\"sleep\",\"60\"]");

    // Default validation is Strict: a misspelt field of a built-in kind is refused.
    let typo = kubectl(
        &kubeconfig,
        &["apply", "-f", "-"],
        Some(
            &DEPLOYMENT
                .replace("replicas: 2", "replica: 2")
                .replace("name: web", "name: typo"),
        ),
    )
    .await;
    assert!(
        !typo.success && typo.stderr.contains("unknown field \"spec.replica\""),
        "{}",
        typo.stderr
    );

    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&directory);
}

/// Values of the wrong type and objects kube's validation refuses are refused through kubectl,
/// by every write route, naming the field, and leave the object as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_writes_of_wrong_types_and_missing_fields_are_refused() {
    if !kubectl_present() {
        println!("notice: kubectl is not on PATH; skipping the kubectl end-to-end test");
        return;
    }
    let directory = temp_dir("kubectl-values");
    let server = start_with(ServerConfig {
        insecure_http: false,
        data_dir: Some(directory.clone()),
        ..config()
    })
    .await;
    let kubeconfig = server.kubeconfig_path.clone();
    expect_ok(
        &kubeconfig,
        &["apply", "--server-side", "-f", "-"],
        Some(DEPLOYMENT),
    )
    .await;
    let replicas = || async {
        expect_ok(
            &kubeconfig,
            &["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"],
            None,
        )
        .await
    };

    // kubectl patch's default, a strategic merge patch.
    let strategic = kubectl(
        &kubeconfig,
        &[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"replicas":"x"}}"#,
        ],
        None,
    )
    .await;
    assert!(!strategic.success, "{}", strategic.stdout);
    assert!(
        strategic.stderr.contains(
            r#"The request is invalid: patch: Invalid value: "map[spec:map[replicas:x]]": json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"#
        ),
        "{}",
        strategic.stderr
    );
    assert_eq!(replicas().await, "2");

    // A merge patch and a JSON patch.
    for (kind, body) in [
        ("merge", r#"{"spec":{"replicas":"x"}}"#),
        (
            "json",
            r#"[{"op":"replace","path":"/spec/replicas","value":"x"}]"#,
        ),
    ] {
        let refused = kubectl(
            &kubeconfig,
            &["patch", "deploy", "web", "--type", kind, "-p", body],
            None,
        )
        .await;
        assert!(
            !refused.success
                && refused.stderr.contains("The request is invalid")
                && refused
                    .stderr
                    .contains("Go struct field DeploymentSpec.spec.replicas of type int32"),
            "{kind}: {}",
            refused.stderr
        );
        assert_eq!(replicas().await, "2", "{kind}");
    }

    // Server-side apply: structured-merge-diff's words.
    let applied = kubectl(
        &kubeconfig,
        &["apply", "--server-side", "-f", "-"],
        Some(&DEPLOYMENT.replace("replicas: 2", "replicas: three")),
    )
    .await;
    assert!(
        !applied.success
            && applied.stderr.contains(
                "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.replicas: expected numeric (int or float), got string"
            ),
        "{}",
        applied.stderr
    );
    assert_eq!(replicas().await, "2");

    // Create (client-side apply of a new object): the JSON decoder's words, 400.
    let created = kubectl(
        &kubeconfig,
        &["apply", "-f", "-"],
        Some(
            &DEPLOYMENT
                .replace("name: web", "name: worded")
                .replace("replicas: 2", "replicas: three"),
        ),
    )
    .await;
    assert!(
        !created.success
            && created.stderr.contains(
                r#"Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"#
            ),
        "{}",
        created.stderr
    );

    // A container without an image: 422, as kubectl words an Invalid status.
    let no_image = DEPLOYMENT
        .replace("name: web", "name: imageless")
        .replace("        image: nginx:1.27\n", "");
    for arguments in [
        &["create", "-f", "-"][..],
        &["apply", "--server-side", "-f", "-"][..],
        &["create", "--dry-run=server", "-f", "-"][..],
    ] {
        let refused = kubectl(&kubeconfig, arguments, Some(&no_image)).await;
        assert!(
            !refused.success
                && refused.stderr.contains(
                    r#"The Deployment "imageless" is invalid: spec.template.spec.containers[0].image: Required value"#
                ),
            "{arguments:?}: {}",
            refused.stderr
        );
    }
    let absent = kubectl(&kubeconfig, &["get", "deploy", "imageless"], None).await;
    assert!(
        !absent.success && absent.stderr.contains("NotFound"),
        "{}",
        absent.stderr
    );

    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&directory);
}

/// A CRD whose version serves the scale subresource (replicas at `.spec.size`) and has printer
/// columns, one of them a filter.
const SCALED_CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gadgets.example.com\nspec:\n  group: example.com\n  names: {plural: gadgets, singular: gadget, kind: Gadget}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    subresources:\n      status: {}\n      scale: {specReplicasPath: .spec.size, statusReplicasPath: .status.size, labelSelectorPath: .status.selector}\n    additionalPrinterColumns:\n    - {name: Size, type: integer, jsonPath: .spec.size}\n    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type==\"Ready\")].status'}\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec: {type: object, properties: {size: {type: integer}}}\n          status: {type: object, x-kubernetes-preserve-unknown-fields: true}\n";
const GADGET: &str =
    "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g1}\nspec: {size: 1}\n";

/// The columns of a line of kubectl's table output: cells are separated by runs of at least
/// two spaces (headers such as `NOMINATED NODE` keep their single space).
fn columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .map(str::to_string)
        .collect()
}

/// The header and the row of `name` of a `kubectl get` table.
fn table_row(output: &str, name: &str) -> (Vec<String>, Vec<String>) {
    let mut lines = output.lines();
    let header = columns(lines.next().unwrap_or_default());
    let row = lines
        .map(columns)
        .find(|cells| cells.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{output}"));
    (header, row)
}

async fn wait_for(kubeconfig: &Path, condition: &str, object: &str) {
    expect_ok(
        kubeconfig,
        &[
            "wait",
            &format!("--for=condition={condition}"),
            object,
            "--timeout=15s",
        ],
        None,
    )
    .await;
}

/// `kubectl scale` and `autoscale` through the scale subresource: Deployments (merge patch, and
/// GET + PUT with a precondition), custom resources that declare one, negative replicas refused
/// as kube refuses them, the Scale itself read with `--subresource=scale`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_scale_through_the_scale_subresource() {
    if !kubectl_present() {
        println!("notice: kubectl is not on PATH; skipping the kubectl scale test");
        return;
    }
    let directory = temp_dir("kubectl-scale");
    let server = start_with(ServerConfig {
        insecure_http: false,
        data_dir: Some(directory.clone()),
        ..config()
    })
    .await;
    let kubeconfig = server.kubeconfig_path.clone();
    expect_ok(&kubeconfig, &["apply", "-f", "-"], Some(DEPLOYMENT)).await;
    let replicas = || async {
        expect_ok(
            &kubeconfig,
            &["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"],
            None,
        )
        .await
    };

    // Discovery lists the subresource with its kind, as kubectl's scale client needs.
    let discovery = expect_ok(&kubeconfig, &["get", "--raw", "/apis/apps/v1"], None).await;
    let discovery: serde_json::Value = serde_json::from_str(&discovery).expect("JSON discovery");
    let scale_entry = discovery["resources"]
        .as_array()
        .and_then(|resources| {
            resources
                .iter()
                .find(|resource| resource["name"] == "deployments/scale")
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            &scale_entry["group"],
            &scale_entry["version"],
            &scale_entry["kind"]
        ),
        (
            &serde_json::json!("autoscaling"),
            &serde_json::json!("v1"),
            &serde_json::json!("Scale")
        ),
        "{discovery}"
    );

    // kubectl scale sends a JSON merge patch to …/scale.
    let scaled = expect_ok(
        &kubeconfig,
        &["scale", "deploy", "web", "--replicas=4"],
        None,
    )
    .await;
    assert!(scaled.contains("deployment.apps/web scaled"), "{scaled}");
    assert_eq!(replicas().await, "4");

    // The Scale itself.
    let scale = expect_ok(
        &kubeconfig,
        &["get", "deploy/web", "--subresource=scale", "-o", "json"],
        None,
    )
    .await;
    let scale: serde_json::Value = serde_json::from_str(&scale).expect("a JSON Scale");
    let version = expect_ok(
        &kubeconfig,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.resourceVersion} {.metadata.uid}",
        ],
        None,
    )
    .await;
    assert_eq!(scale["kind"], "Scale", "{scale}");
    assert_eq!(scale["apiVersion"], "autoscaling/v1", "{scale}");
    assert_eq!(scale["metadata"]["name"], "web", "{scale}");
    assert_eq!(scale["metadata"]["namespace"], "default", "{scale}");
    assert_eq!(
        format!(
            "{} {}",
            scale["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default(),
            scale["metadata"]["uid"].as_str().unwrap_or_default()
        ),
        version,
        "the Scale carries the Deployment's resourceVersion and uid"
    );
    assert_eq!(scale["spec"]["replicas"], 4, "{scale}");
    assert_eq!(scale["status"]["selector"], "app=web", "{scale}");
    let scale_table = expect_ok(
        &kubeconfig,
        &["get", "deploy/web", "--subresource=scale"],
        None,
    )
    .await;
    let (header, row) = table_row(&scale_table, "web");
    assert_eq!(
        header,
        ["NAME", "DESIRED", "AVAILABLE", "AGE"],
        "{scale_table}"
    );
    assert_eq!(row[..3], ["web", "4", "0"], "{scale_table}");

    // With a precondition kubectl reads the Scale and PUTs it back.
    expect_ok(
        &kubeconfig,
        &[
            "scale",
            "deploy",
            "web",
            "--current-replicas=4",
            "--replicas=1",
        ],
        None,
    )
    .await;
    assert_eq!(replicas().await, "1");
    // The write is recorded as kube records it: the writer, named after kubectl's User-Agent,
    // owns spec.replicas through the scale subresource.
    let managed = expect_ok(
        &kubeconfig,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "json",
            "--show-managed-fields",
        ],
        None,
    )
    .await;
    let managed: serde_json::Value = serde_json::from_str(&managed).expect("JSON");
    let entries = managed["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let scale_entry = entries
        .iter()
        .find(|entry| entry["subresource"] == "scale")
        .unwrap_or_else(|| panic!("no scale entry in {entries:?}"));
    assert_eq!(scale_entry["manager"], "kubectl", "{scale_entry}");
    assert_eq!(scale_entry["operation"], "Update", "{scale_entry}");
    assert_eq!(scale_entry["apiVersion"], "apps/v1", "{scale_entry}");
    assert_eq!(
        scale_entry["fieldsV1"],
        serde_json::json!({"f:spec": {"f:replicas": {}}})
    );
    assert!(
        entries
            .iter()
            .filter(|entry| entry["subresource"] != "scale")
            .all(|entry| entry["fieldsV1"]["f:spec"].get("f:replicas").is_none()),
        "{entries:?}"
    );
    assert_eq!(
        managed["metadata"]["generation"], 3,
        "scaling moves generation"
    );

    // Negative replicas are refused by the server, whatever kubectl checks itself.
    let negative = kubectl(
        &kubeconfig,
        &[
            "patch",
            "deploy",
            "web",
            "--subresource=scale",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":-1}}"#,
        ],
        None,
    )
    .await;
    assert!(
        !negative.success
            && negative.stderr.contains(
                r#"The Scale "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"#
            ),
        "{}",
        negative.stderr
    );
    assert_eq!(replicas().await, "1");
    let missing = kubectl(
        &kubeconfig,
        &["get", "deploy/nosuch", "--subresource=scale"],
        None,
    )
    .await;
    assert!(
        !missing.success && missing.stderr.contains("NotFound"),
        "{}",
        missing.stderr
    );

    // A custom resource whose CRD declares the subresource.
    expect_ok(&kubeconfig, &["apply", "-f", "-"], Some(SCALED_CRD)).await;
    wait_for(&kubeconfig, "Established", "crd/gadgets.example.com").await;
    expect_ok(&kubeconfig, &["apply", "-f", "-"], Some(GADGET)).await;
    let scaled = expect_ok(
        &kubeconfig,
        &["scale", "gadget", "g1", "--replicas=5"],
        None,
    )
    .await;
    assert!(scaled.contains("gadget.example.com/g1 scaled"), "{scaled}");
    let size = expect_ok(
        &kubeconfig,
        &["get", "gadget", "g1", "-o", "jsonpath={.spec.size}"],
        None,
    )
    .await;
    assert_eq!(size, "5");
    let custom_scale = expect_ok(
        &kubeconfig,
        &[
            "get",
            "gadget/g1",
            "--subresource=scale",
            "-o",
            "jsonpath={.kind} {.spec.replicas} {.status.replicas}",
        ],
        None,
    )
    .await;
    assert_eq!(custom_scale, "Scale 5 0");
    let refused = kubectl(
        &kubeconfig,
        &[
            "patch",
            "gadget",
            "g1",
            "--subresource=scale",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/replicas","value":-3}]"#,
        ],
        None,
    )
    .await;
    assert!(
        !refused.success
            && refused
                .stderr
                .contains("must be greater than or equal to 0"),
        "{}",
        refused.stderr
    );
    // The CRD's printer columns, the filter included (no Age column: kube adds one only to a
    // version that declares no columns).
    expect_ok(
        &kubeconfig,
        &[
            "patch",
            "gadget",
            "g1",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
        ],
        None,
    )
    .await;
    let gadgets = expect_ok(&kubeconfig, &["get", "gadgets"], None).await;
    let (header, row) = table_row(&gadgets, "g1");
    assert_eq!(header, ["NAME", "SIZE", "READY"], "{gadgets}");
    assert_eq!(row, ["g1", "5", "True"], "{gadgets}");

    // kubectl autoscale (v1.33 sends an autoscaling/v2 HorizontalPodAutoscaler as protobuf).
    let autoscaled = expect_ok(
        &kubeconfig,
        &["autoscale", "deploy", "web", "--max=5"],
        None,
    )
    .await;
    assert!(
        autoscaled.contains("horizontalpodautoscaler.autoscaling/web autoscaled"),
        "{autoscaled}"
    );
    let autoscalers = expect_ok(&kubeconfig, &["get", "hpa"], None).await;
    let (header, row) = table_row(&autoscalers, "web");
    assert_eq!(
        header,
        [
            "NAME",
            "REFERENCE",
            "TARGETS",
            "MINPODS",
            "MAXPODS",
            "REPLICAS",
            "AGE"
        ],
        "{autoscalers}"
    );
    assert_eq!(
        row[..6],
        ["web", "Deployment/web", "cpu: <unknown>/80%", "1", "5", "0"],
        "{autoscalers}"
    );

    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&directory);
}

/// `kubectl get` shows kube's server-side columns for built-in kinds, with the cells kube's
/// printers compute (statuses filled by the simulation); `-o wide` adds the priority-1 columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_shows_kubes_columns() {
    if !kubectl_present() {
        println!("notice: kubectl is not on PATH; skipping the kubectl table test");
        return;
    }
    let directory = temp_dir("kubectl-tables");
    let server = start_with(ServerConfig {
        insecure_http: false,
        data_dir: Some(directory.clone()),
        simulate: Some(flotilla_apiserver::simulate::SimulationConfig {
            delay: std::time::Duration::from_millis(50),
        }),
        ..config()
    })
    .await;
    let kubeconfig = server.kubeconfig_path.clone();
    const SERVICE_AND_JOB: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  clusterIP: 10.96.0.20\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080, name: http}, {port: 53, protocol: UDP, name: dns}]\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: once}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: job, image: busybox}]\n";
    expect_ok(&kubeconfig, &["apply", "-f", "-"], Some(DEPLOYMENT)).await;
    expect_ok(&kubeconfig, &["apply", "-f", "-"], Some(SERVICE_AND_JOB)).await;
    expect_ok(&kubeconfig, &["apply", "-f", "-"], Some(CONFIGMAP)).await;
    wait_for(&kubeconfig, "Available", "deployment/web").await;
    wait_for(&kubeconfig, "Complete", "job/once").await;
    expect_ok(
        &kubeconfig,
        &[
            "wait",
            "--for=jsonpath={.status.readyReplicas}=2",
            "replicaset",
            "-l",
            "app=web",
            "--timeout=15s",
        ],
        None,
    )
    .await;

    let deployments = expect_ok(&kubeconfig, &["get", "deploy"], None).await;
    let (header, row) = table_row(&deployments, "web");
    assert_eq!(
        header,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{deployments}"
    );
    assert_eq!(row[..4], ["web", "2/2", "2", "2"], "{deployments}");
    let wide = expect_ok(&kubeconfig, &["get", "deploy", "-o", "wide"], None).await;
    let (header, row) = table_row(&wide, "web");
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ],
        "{wide}"
    );
    assert_eq!(row[..4], ["web", "2/2", "2", "2"], "{wide}");
    assert_eq!(row[5..], ["main", "nginx:1.27", "app=web"], "{wide}");

    let pods = expect_ok(&kubeconfig, &["get", "pods", "-l", "app=web"], None).await;
    let mut lines = pods.lines();
    assert_eq!(
        columns(lines.next().unwrap_or_default()),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{pods}"
    );
    let rows: Vec<Vec<String>> = lines.map(columns).collect();
    assert_eq!(rows.len(), 2, "{pods}");
    for row in &rows {
        assert_eq!(row[1..4], ["1/1", "Running", "0"], "{pods}");
    }
    let wide_pods = expect_ok(
        &kubeconfig,
        &["get", "pods", "-l", "app=web", "-o", "wide"],
        None,
    )
    .await;
    let mut lines = wide_pods.lines();
    assert_eq!(
        columns(lines.next().unwrap_or_default()),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ],
        "{wide_pods}"
    );
    let row = columns(lines.next().unwrap_or_default());
    assert_eq!(
        row[5..],
        ["10.244.0.10", "flotilla-node", "<none>", "<none>"],
        "{wide_pods}"
    );

    let services = expect_ok(&kubeconfig, &["get", "svc", "-o", "wide"], None).await;
    let (header, row) = table_row(&services, "web");
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
            "SELECTOR"
        ],
        "{services}"
    );
    assert_eq!(
        row[..5],
        ["web", "ClusterIP", "10.96.0.20", "<none>", "80/TCP,53/UDP"],
        "{services}"
    );
    assert_eq!(row[6], "app=web", "{services}");

    let jobs = expect_ok(&kubeconfig, &["get", "jobs"], None).await;
    let (header, row) = table_row(&jobs, "once");
    assert_eq!(
        header,
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        "{jobs}"
    );
    // The simulated Job starts and completes in the same second.
    assert_eq!(row[..4], ["once", "Complete", "1/1", "0s"], "{jobs}");
    let all_pods = expect_ok(&kubeconfig, &["get", "pods"], None).await;
    let job_pod = all_pods
        .lines()
        .map(columns)
        .find(|cells| cells[0].starts_with("once-"))
        .unwrap_or_else(|| panic!("no pod of the Job in:\n{all_pods}"));
    assert_eq!(job_pod[1..4], ["0/1", "Completed", "0"], "{all_pods}");

    let replica_sets = expect_ok(&kubeconfig, &["get", "rs"], None).await;
    let mut lines = replica_sets.lines();
    assert_eq!(
        columns(lines.next().unwrap_or_default()),
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        "{replica_sets}"
    );
    assert_eq!(
        columns(lines.next().unwrap_or_default())[1..4],
        ["2", "2", "2"],
        "{replica_sets}"
    );
    let config_maps = expect_ok(&kubeconfig, &["get", "cm", "demo"], None).await;
    let (header, row) = table_row(&config_maps, "demo");
    assert_eq!(header, ["NAME", "DATA", "AGE"], "{config_maps}");
    assert_eq!(row[1], "1", "{config_maps}");
    let namespaces = expect_ok(&kubeconfig, &["get", "ns", "default"], None).await;
    let (header, row) = table_row(&namespaces, "default");
    assert_eq!(header, ["NAME", "STATUS", "AGE"], "{namespaces}");
    assert_eq!(row[1], "Active", "{namespaces}");
    // Kinds kube prints without a printer of their own, CRDs among them: Name and Created At.
    expect_ok(&kubeconfig, &["apply", "-f", "-"], Some(CRD)).await;
    let definitions = expect_ok(&kubeconfig, &["get", "crd"], None).await;
    let (header, row) = table_row(&definitions, "widgets.example.com");
    assert_eq!(header, ["NAME", "CREATED AT"], "{definitions}");
    assert!(
        row[1].ends_with('Z') && row[1].contains('T'),
        "{definitions}"
    );

    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&directory);
}
