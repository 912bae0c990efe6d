//! OpenShift and OLM in the embedded cluster, end to end through the real `kubectl`: the IBM
//! catalog added as a CatalogSource lists its packagemanifests; Subscriptions written as a
//! catalog overlay writes them reach InstallPlan `Complete` and CSV `Succeeded`, with the
//! operator's CRDs served and validating operands; a channel change upgrades along the channel;
//! a Manual Subscription waits for approval; unknown packages, channels and catalog images and
//! a namespace without an OperatorGroup are OLM's conditions; Routes get their host and are
//! admitted; ProjectRequests make Namespaces.

mod common;

use std::time::Duration;

use common::kubectl::{expect_ok, kubectl, kubectl_present, until};
use common::*;
use flotilla_apiserver::openshift::OpenShiftConfig;
use flotilla_apiserver::simulate::SimulationConfig;
use flotilla_apiserver::ServerConfig;

/// Up to 30 s of polling at 100 ms.
const ATTEMPTS: usize = 300;

fn openshift_config() -> ServerConfig {
    let mut config = config();
    config.insecure_http = false;
    config.openshift = Some(OpenShiftConfig::default());
    config.simulate = Some(SimulationConfig {
        delay: Duration::from_millis(20),
    });
    config
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
  updateStrategy:
    registryPoll:
      interval: 45m
";

const EVENT_STREAMS: &str = "apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
metadata:
  name: ibm-eventstreams
  namespace: openshift-operators
spec:
  channel: v3.0
  name: ibm-eventstreams
  installPlanApproval: Automatic
  source: ibm-operator-catalog
  sourceNamespace: openshift-marketplace
  startingCSV: ibm-eventstreams.v3.0.0
";

const MQ_NAMESPACE: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: cp4i
---
apiVersion: operators.coreos.com/v1
kind: OperatorGroup
metadata:
  name: cp4i
  namespace: cp4i
spec:
  targetNamespaces: [cp4i]
";

const MQ: &str = "apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
metadata:
  name: ibm-mq
  namespace: cp4i
spec:
  channel: v1.8
  name: ibm-mq
  installPlanApproval: Manual
  source: ibm-operator-catalog
  sourceNamespace: openshift-marketplace
";

const TOPIC: &str = "apiVersion: eventstreams.ibm.com/v1beta2
kind: KafkaTopic
metadata:
  name: orders
  namespace: cp4i
  labels:
    eventstreams.ibm.com/cluster: es-dev
spec:
  partitions: 3
  replicas: 3
  config:
    retention.ms: 604800000
";

fn jsonpath(field: &str) -> String {
    format!("jsonpath={field}")
}

#[tokio::test]
async fn the_ibm_catalog_installs_operators_through_subscriptions() {
    if !kubectl_present() {
        eprintln!("kubectl not found: OLM end-to-end test skipped");
        return;
    }
    let server = start_with(openshift_config()).await;
    let config = server.kubeconfig_path.clone();

    // A fresh OpenShift: its namespaces, the default catalogs, OLM's CRDs.
    let namespaces = expect_ok(&config, &["get", "namespaces", "-o", "name"], None).await;
    for namespace in [
        "openshift-operators",
        "openshift-marketplace",
        "openshift-gitops",
    ] {
        assert!(namespaces.contains(namespace), "{namespaces}");
    }
    let sources = expect_ok(&config, &["get", "catalogsources", "-A"], None).await;
    assert!(sources.contains("redhat-operators"), "{sources}");

    expect_ok(&config, &["apply", "-f", "-"], Some(IBM_CATALOG)).await;
    let manifests = until(
        &config,
        &["get", "packagemanifests", "-n", "openshift-marketplace"],
        ATTEMPTS,
        |out| out.contains("ibm-eventstreams") && out.contains("ibm-mq"),
    )
    .await;
    assert!(manifests.contains("IBM Operator Catalog"), "{manifests}");
    let channels = expect_ok(
        &config,
        &[
            "get",
            "packagemanifest",
            "ibm-eventstreams",
            "-n",
            "openshift-marketplace",
            "-o",
            &jsonpath("{.status.channels[*].name}"),
        ],
        None,
    )
    .await;
    assert!(channels.contains("v3.0"), "{channels}");

    // Event Streams in all namespaces, from startingCSV up the v3.0 channel.
    expect_ok(&config, &["apply", "-f", "-"], Some(EVENT_STREAMS)).await;
    let installed = until(
        &config,
        &[
            "get",
            "subscription",
            "ibm-eventstreams",
            "-n",
            "openshift-operators",
            "-o",
            &jsonpath("{.status.state} {.status.installedCSV}"),
        ],
        ATTEMPTS,
        |out| out.starts_with("AtLatestKnown "),
    )
    .await;
    assert_eq!(installed, "AtLatestKnown ibm-eventstreams.v3.0.5");
    let csv = expect_ok(
        &config,
        &[
            "get",
            "csv",
            "ibm-eventstreams.v3.0.5",
            "-n",
            "openshift-operators",
            "-o",
            &jsonpath("{.status.phase} {.spec.replaces}"),
        ],
        None,
    )
    .await;
    assert_eq!(csv, "Succeeded ibm-eventstreams.v3.0.4");
    let plans = expect_ok(
        &config,
        &[
            "get",
            "installplans",
            "-n",
            "openshift-operators",
            "-o",
            &jsonpath(
                "{range .items[*]}{.spec.clusterServiceVersionNames[0]}={.status.phase} {end}",
            ),
        ],
        None,
    )
    .await;
    assert!(
        plans.contains("ibm-eventstreams.v3.0.0=Complete"),
        "{plans}"
    );
    assert!(
        plans.contains("ibm-eventstreams.v3.0.5=Complete"),
        "{plans}"
    );
    // Replaced CSVs are gone; the operator's CRD is established.
    let csvs = expect_ok(
        &config,
        &["get", "csv", "-n", "openshift-operators", "-o", "name"],
        None,
    )
    .await;
    assert!(!csvs.contains("v3.0.4"), "{csvs}");
    let established = expect_ok(
        &config,
        &[
            "get",
            "crd",
            "kafkatopics.eventstreams.ibm.com",
            "-o",
            &jsonpath("{.status.conditions[?(@.type==\"Established\")].status}"),
        ],
        None,
    )
    .await;
    assert_eq!(established, "True");

    // MQ in its own namespace, Manual: the plan waits for approval.
    expect_ok(&config, &["apply", "-f", "-"], Some(MQ_NAMESPACE)).await;
    expect_ok(&config, &["apply", "-f", "-"], Some(MQ)).await;
    let pending = until(
        &config,
        &[
            "get",
            "installplans",
            "-n",
            "cp4i",
            "-o",
            &jsonpath("{.items[0].metadata.name} {.items[0].status.phase}"),
        ],
        ATTEMPTS,
        |out| out.ends_with(" RequiresApproval"),
    )
    .await;
    let plan = pending.split(' ').next().expect("plan name").to_string();
    let state = expect_ok(
        &config,
        &[
            "get",
            "subscription",
            "ibm-mq",
            "-n",
            "cp4i",
            "-o",
            &jsonpath("{.status.state}"),
        ],
        None,
    )
    .await;
    assert_eq!(state, "UpgradePending");
    expect_ok(
        &config,
        &[
            "patch",
            "installplan",
            &plan,
            "-n",
            "cp4i",
            "--type",
            "merge",
            "-p",
            "{\"spec\":{\"approved\":true}}",
        ],
        None,
    )
    .await;
    until(
        &config,
        &[
            "get",
            "csv",
            "ibm-mq.v1.8.2",
            "-n",
            "cp4i",
            "-o",
            &jsonpath("{.status.phase}"),
        ],
        ATTEMPTS,
        |out| out == "Succeeded",
    )
    .await;

    // The AllNamespaces operator is copied into cp4i; the operand is validated by its CRD.
    until(
        &config,
        &[
            "get",
            "csv",
            "ibm-eventstreams.v3.0.5",
            "-n",
            "cp4i",
            "-o",
            &jsonpath("{.status.reason}"),
        ],
        ATTEMPTS,
        |out| out == "Copied",
    )
    .await;
    expect_ok(&config, &["apply", "-f", "-"], Some(TOPIC)).await;
    let refused = kubectl(
        &config,
        &["apply", "-f", "-"],
        Some(&TOPIC.replace("partitions: 3", "partitions: three")),
    )
    .await;
    assert!(!refused.success, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("spec.partitions"),
        "{}",
        refused.stderr
    );

    // A channel change upgrades along the new channel.
    expect_ok(
        &config,
        &[
            "patch",
            "subscription",
            "ibm-eventstreams",
            "-n",
            "openshift-operators",
            "--type",
            "merge",
            "-p",
            "{\"spec\":{\"channel\":\"v3.1\"}}",
        ],
        None,
    )
    .await;
    until(
        &config,
        &[
            "get",
            "subscription",
            "ibm-eventstreams",
            "-n",
            "openshift-operators",
            "-o",
            &jsonpath("{.status.installedCSV}"),
        ],
        ATTEMPTS,
        |out| out == "ibm-eventstreams.v3.1.6",
    )
    .await;

    server.shutdown().await;
}

#[tokio::test]
async fn resolution_failures_are_olm_conditions() {
    if !kubectl_present() {
        eprintln!("kubectl not found: OLM end-to-end test skipped");
        return;
    }
    let server = start_with(openshift_config()).await;
    let config = server.kubeconfig_path.clone();
    expect_ok(&config, &["apply", "-f", "-"], Some(IBM_CATALOG)).await;
    let unknown_package = EVENT_STREAMS.replace(
        "name: ibm-eventstreams\n  installPlanApproval",
        "name: ibm-eventstreamz\n  installPlanApproval",
    );
    expect_ok(&config, &["apply", "-f", "-"], Some(&unknown_package)).await;
    let message = until(
        &config,
        &[
            "get",
            "subscription",
            "ibm-eventstreams",
            "-n",
            "openshift-operators",
            "-o",
            &jsonpath("{.status.conditions[?(@.type==\"ResolutionFailed\")].message}"),
        ],
        ATTEMPTS,
        |out| !out.is_empty(),
    )
    .await;
    assert!(
        message.contains("no operators found in package ibm-eventstreamz"),
        "{message}"
    );

    let unknown_channel = EVENT_STREAMS
        .replace("channel: v3.0", "channel: v9.9")
        .replace("  startingCSV: ibm-eventstreams.v3.0.0\n", "");
    expect_ok(
        &config,
        &["apply", "-f", "-"],
        Some(&unknown_channel.replace(
            "name: ibm-eventstreams\n  namespace",
            "name: other\n  namespace",
        )),
    )
    .await;
    let message = until(
        &config,
        &[
            "get",
            "subscription",
            "other",
            "-n",
            "openshift-operators",
            "-o",
            &jsonpath("{.status.conditions[?(@.type==\"ResolutionFailed\")].message}"),
        ],
        ATTEMPTS,
        |out| !out.is_empty(),
    )
    .await;
    assert!(
        message.contains("no operators found in channel v9.9 of package ibm-eventstreams"),
        "{message}"
    );

    // An image no catalog is known by.
    expect_ok(
        &config,
        &["apply", "-f", "-"],
        Some(
            &IBM_CATALOG
                .replace("name: ibm-operator-catalog", "name: mystery")
                .replace(
                    "icr.io/cpopen/ibm-operator-catalog:latest",
                    "example.com/mystery:1",
                ),
        ),
    )
    .await;
    let state = until(
        &config,
        &[
            "get",
            "catalogsource",
            "mystery",
            "-n",
            "openshift-marketplace",
            "-o",
            &jsonpath("{.status.connectionState.lastObservedState}: {.status.message}"),
        ],
        ATTEMPTS,
        |out| out.starts_with("TRANSIENT_FAILURE"),
    )
    .await;
    assert!(state.contains("example.com/mystery:1"), "{state}");

    // A namespace with no OperatorGroup.
    expect_ok(&config, &["create", "namespace", "lonely"], None).await;
    expect_ok(
        &config,
        &["apply", "-f", "-"],
        Some(
            &MQ.replace("namespace: cp4i", "namespace: lonely")
                .replace("Manual", "Automatic"),
        ),
    )
    .await;
    let reason = until(
        &config,
        &[
            "get",
            "csv",
            "-n",
            "lonely",
            "-o",
            &jsonpath("{.items[0].status.reason}"),
        ],
        ATTEMPTS,
        |out| !out.is_empty(),
    )
    .await;
    assert_eq!(reason, "NoOperatorGroup");

    // PackageManifests are read-only.
    let refused = kubectl(
        &config,
        &[
            "delete",
            "packagemanifest",
            "ibm-mq",
            "-n",
            "openshift-marketplace",
        ],
        None,
    )
    .await;
    assert!(!refused.success);
    server.shutdown().await;
}

#[tokio::test]
async fn routes_get_a_host_and_are_admitted_and_project_requests_make_namespaces() {
    if !kubectl_present() {
        eprintln!("kubectl not found: OpenShift end-to-end test skipped");
        return;
    }
    let server = start_with(openshift_config()).await;
    let config = server.kubeconfig_path.clone();
    let route = "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata:\n  name: web\n  namespace: default\nspec:\n  to:\n    kind: Service\n    name: web\n  port:\n    targetPort: 8080\n  tls:\n    termination: edge\n";
    expect_ok(&config, &["apply", "-f", "-"], Some(route)).await;
    let admitted = until(
        &config,
        &["get", "route", "web", "-o", &jsonpath("{.spec.host} {.status.ingress[0].conditions[0].type}={.status.ingress[0].conditions[0].status}")],
        ATTEMPTS,
        |out| out.ends_with("Admitted=True"),
    )
    .await;
    assert_eq!(admitted, "web-default.apps.flotilla.local Admitted=True");
    let refused = kubectl(
        &config,
        &["apply", "-f", "-"],
        Some(
            &route
                .replace("edge", "edgy")
                .replace("name: web\n  namespace", "name: bad\n  namespace"),
        ),
    )
    .await;
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("spec.tls.termination"),
        "{}",
        refused.stderr
    );

    let request = "apiVersion: project.openshift.io/v1\nkind: ProjectRequest\nmetadata:\n  name: team-a\ndisplayName: Team A\n";
    let created = expect_ok(
        &config,
        &["create", "-f", "-", "-o", "jsonpath={.kind}"],
        Some(request),
    )
    .await;
    assert_eq!(created, "Project");
    let display = expect_ok(
        &config,
        &[
            "get",
            "namespace",
            "team-a",
            "-o",
            "jsonpath={.metadata.annotations.openshift\\.io/display-name}",
        ],
        None,
    )
    .await;
    assert_eq!(display, "Team A");
    until(
        &config,
        &["get", "projects", "-o", "name"],
        ATTEMPTS,
        |out| out.contains("team-a"),
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn hand_edited_csvs_and_crds_are_conditions_and_the_server_keeps_serving() {
    if !kubectl_present() {
        eprintln!("kubectl not found: OLM end-to-end test skipped");
        return;
    }
    let server = start_with(openshift_config()).await;
    let config = server.kubeconfig_path.clone();
    expect_ok(&config, &["apply", "-f", "-"], Some(IBM_CATALOG)).await;
    expect_ok(&config, &["apply", "-f", "-"], Some(MQ_NAMESPACE)).await;
    expect_ok(
        &config,
        &["apply", "-f", "-"],
        Some(&MQ.replace("Manual", "Automatic")),
    )
    .await;
    until(
        &config,
        &[
            "get",
            "csv",
            "ibm-mq.v1.8.2",
            "-n",
            "cp4i",
            "-o",
            &jsonpath("{.status.phase}"),
        ],
        ATTEMPTS,
        |out| out == "Succeeded",
    )
    .await;

    // The CSV's deployment edited by hand: OLM rolls the Deployment to it.
    expect_ok(
        &config,
        &["patch", "csv", "ibm-mq.v1.8.2", "-n", "cp4i", "--type", "json", "-p", "[{\"op\":\"replace\",\"path\":\"/spec/install/spec/deployments/0/spec/replicas\",\"value\":2}]"],
        None,
    )
    .await;
    until(
        &config,
        &[
            "get",
            "deployment",
            "ibm-mq-operator",
            "-n",
            "cp4i",
            "-o",
            &jsonpath("{.spec.replicas}"),
        ],
        ATTEMPTS,
        |out| out == "2",
    )
    .await;

    // An install strategy OLM cannot run: the CSV fails with OLM's reason.
    expect_ok(
        &config,
        &[
            "patch",
            "csv",
            "ibm-mq.v1.8.2",
            "-n",
            "cp4i",
            "--type",
            "json",
            "-p",
            "[{\"op\":\"replace\",\"path\":\"/spec/install/strategy\",\"value\":\"helm\"}]",
        ],
        None,
    )
    .await;
    let failed = until(
        &config,
        &[
            "get",
            "csv",
            "ibm-mq.v1.8.2",
            "-n",
            "cp4i",
            "-o",
            &jsonpath("{.status.phase} {.status.reason}"),
        ],
        ATTEMPTS,
        |out| out.starts_with("Failed"),
    )
    .await;
    assert_eq!(failed, "Failed InvalidInstallStrategy");

    // A CRD applied over the catalog's: the server takes it (it is a valid CRD) and serves on.
    let crd = expect_ok(
        &config,
        &["get", "crd", "queuemanagers.mq.ibm.com", "-o", "json"],
        None,
    )
    .await;
    let mut crd: serde_json::Value = serde_json::from_str(&crd).expect("CRD JSON");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] =
        serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    if let Some(metadata) = crd["metadata"].as_object_mut() {
        metadata.remove("resourceVersion");
        metadata.remove("managedFields");
    }
    expect_ok(&config, &["replace", "-f", "-"], Some(&crd.to_string())).await;
    let invalid_definition = crd
        .to_string()
        .replace("\"storage\":true", "\"storage\":false");
    let refused = kubectl(&config, &["replace", "-f", "-"], Some(&invalid_definition)).await;
    assert!(
        !refused.success,
        "a CRD without a storage version is refused"
    );
    let still = expect_ok(&config, &["get", "queuemanagers", "-A"], None).await;
    assert!(still.is_empty() || still.contains("NAME"), "{still}");
    expect_ok(&config, &["get", "subscriptions", "-A"], None).await;

    // Deleting the Subscription and its CSV leaves the CRDs, as OLM does.
    expect_ok(
        &config,
        &["delete", "subscription", "ibm-mq", "-n", "cp4i"],
        None,
    )
    .await;
    expect_ok(
        &config,
        &["delete", "csv", "ibm-mq.v1.8.2", "-n", "cp4i"],
        None,
    )
    .await;
    until(
        &config,
        &["get", "deployments", "-n", "cp4i", "-o", "name"],
        ATTEMPTS,
        |out| !out.contains("ibm-mq-operator"),
    )
    .await;
    expect_ok(&config, &["get", "crd", "queuemanagers.mq.ibm.com"], None).await;
    server.shutdown().await;
}
