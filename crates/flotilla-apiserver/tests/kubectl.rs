//! End to end through the real `kubectl` over HTTPS with the generated kubeconfig (CA + bearer
//! token). Skipped with a notice when `kubectl` is not on PATH.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use flotilla_apiserver::ServerConfig;

fn kubectl_present() -> bool {
    Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|output| output.status.success())
}

struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs kubectl (bounded by `timeout`) off the async runtime.
async fn kubectl(kubeconfig: &Path, arguments: &[&str], stdin: Option<&str>) -> Outcome {
    let kubeconfig = kubeconfig.to_path_buf();
    let arguments: Vec<String> = arguments
        .iter()
        .map(|argument| argument.to_string())
        .collect();
    let stdin = stdin.map(str::to_string);
    within(tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut command = Command::new("timeout");
        command
            .arg("15")
            .arg("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(kubeconfig.with_file_name("kube-cache"))
            .args(&arguments);
        command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("kubectl starts");
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(text) = &stdin {
                pipe.write_all(text.as_bytes()).expect("write stdin");
            }
        }
        let output = child.wait_with_output().expect("kubectl finishes");
        Outcome {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).to_string(),
        }
    }))
    .await
    .expect("kubectl task")
}

async fn expect_ok(kubeconfig: &Path, arguments: &[&str], stdin: Option<&str>) -> String {
    let outcome = kubectl(kubeconfig, arguments, stdin).await;
    assert!(
        outcome.success,
        "kubectl {arguments:?} failed:\n{}\n{}",
        outcome.stdout, outcome.stderr
    );
    outcome.stdout
}

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
