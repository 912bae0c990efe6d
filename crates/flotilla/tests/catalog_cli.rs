//! `flotilla catalog …` run as commands, and the seed's operator flow with no cluster: a catalog
//! entry written by `catalog subscription --overlays`, its v3.0 overlay rendered by
//! `flotilla build`, applied with kubectl to `flotilla cluster serve --openshift --simulate`
//! after the IBM CatalogSource, reaches CSV `Succeeded` with the operator's CRDs served.

mod cli_support;
use cli_support::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!(
        "flotilla-catalog-cli-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

fn run(command: &mut Command) -> Output {
    command.output().expect("command runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[test]
fn list_show_and_crds_describe_the_embedded_catalog() {
    let listed = stdout(&run(flotilla().args(["catalog", "list", "-o", "json"])));
    let document: serde_json::Value = serde_json::from_str(&listed).expect("JSON");
    let packages = document["packages"].as_array().expect("packages");
    for name in [
        "ibm-eventstreams",
        "ibm-mq",
        "strimzi-kafka-operator",
        "cert-manager",
    ] {
        assert!(
            packages.iter().any(|package| package["name"] == name),
            "{name} listed"
        );
    }
    let ibm = stdout(&run(flotilla().args([
        "catalog",
        "list",
        "--source",
        "ibm-operator-catalog",
    ])));
    assert!(
        ibm.contains("ibm-mq") && !ibm.contains("cert-manager"),
        "{ibm}"
    );

    let shown = stdout(&run(flotilla().args([
        "catalog",
        "show",
        "ibm-eventstreams",
    ])));
    assert!(shown.contains("v3.0"), "{shown}");
    assert!(shown.contains("KafkaTopic"), "{shown}");

    let crds = stdout(&run(flotilla().args([
        "catalog",
        "crds",
        "ibm-eventstreams@3.0.5",
    ])));
    assert!(
        crds.contains("name: kafkatopics.eventstreams.ibm.com"),
        "{crds}"
    );
    assert!(crds.contains("openAPIV3Schema"), "{crds}");

    let unknown = run(flotilla().args(["catalog", "show", "eventstreams"]));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success());
    assert!(
        stderr.contains("no package `eventstreams`") && stderr.contains("ibm-eventstreams"),
        "{stderr}"
    );
    let unknown_version = run(flotilla().args(["catalog", "crds", "ibm-mq@0.0.1"]));
    assert!(!unknown_version.status.success());
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl(kubeconfig: &Path, arguments: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new("timeout")
        .arg("15")
        .arg("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl starts");
    if let (Some(mut pipe), Some(text)) = (child.stdin.take(), stdin) {
        pipe.write_all(text.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("kubectl finishes")
}

fn kubectl_until(kubeconfig: &Path, arguments: &[&str], wanted: &str) -> String {
    let mut last = String::new();
    for _ in 0..300 {
        let output = kubectl(kubeconfig, arguments, None);
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() && String::from_utf8_lossy(&output.stdout) == wanted {
            return last;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("kubectl {arguments:?} never answered `{wanted}`; last: {last}");
}

const IBM_CATALOG: &str = "apiVersion: operators.coreos.com/v1alpha1
kind: CatalogSource
metadata:
  name: ibm-operator-catalog
  namespace: openshift-marketplace
spec:
  displayName: IBM Operator Catalog
  publisher: IBM
  sourceType: grpc
  image: icr.io/cpopen/ibm-operator-catalog:latest
";

#[test]
fn a_catalog_overlay_installs_its_operator_in_the_embedded_openshift() {
    if !Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|output| output.status.success())
    {
        eprintln!("kubectl not found: catalog end-to-end test skipped");
        return;
    }
    let root = scratch("overlay");
    let written = stdout(&run(flotilla()
        .args([
            "catalog",
            "subscription",
            "ibm-eventstreams",
            "--pin",
            "--overlays",
        ])
        .arg(root.join("catalog"))));
    assert!(written.contains("v3.0"), "{written}");
    let overlay = root.join("catalog/ibm-eventstreams/operator/overlays/v3.0");
    let rendered = stdout(&run(flotilla().arg("build").arg(&overlay)));
    assert!(rendered.contains("channel: v3.0"), "{rendered}");
    assert!(
        rendered.contains("startingCSV: ibm-eventstreams.v3.0.0"),
        "{rendered}"
    );

    let mut child = flotilla()
        .args([
            "cluster",
            "serve",
            "--openshift",
            "--simulate",
            "--simulate-delay-ms",
            "20",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(root.join("cluster"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start flotilla cluster serve");
    let output = child.stdout.take().expect("stdout");
    let _server = Server { child };
    let mut reader = BufReader::new(output);
    let mut first = String::new();
    reader.read_line(&mut first).expect("first line");
    assert!(first.starts_with("flotilla cluster serving on"), "{first}");
    // Keep reading what the server prints, so its banner never meets a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let kubeconfig = root.join("cluster/kubeconfig");

    let applied = kubectl(&kubeconfig, &["apply", "-f", "-"], Some(IBM_CATALOG));
    assert!(applied.status.success(), "{applied:?}");
    let applied = kubectl(&kubeconfig, &["apply", "-f", "-"], Some(&rendered));
    assert!(applied.status.success(), "{applied:?}");
    kubectl_until(
        &kubeconfig,
        &[
            "get",
            "csv",
            "ibm-eventstreams.v3.0.5",
            "-n",
            "openshift-operators",
            "-o",
            "jsonpath={.status.phase}",
        ],
        "Succeeded",
    );
    kubectl_until(
        &kubeconfig,
        &[
            "get",
            "crd",
            "eventstreams.eventstreams.ibm.com",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
        ],
        "True",
    );
    drop(_server);
    let _ = std::fs::remove_dir_all(&root);
}
