//! The seed's system with no cluster, through the engine: an app-of-apps in the seed's layout
//! (a bootstrap wave of OLM Subscriptions from the IBM catalog, then an Event Streams instance,
//! topics and users in `eventstreams.ibm.com/v1beta2`, an MQ queue manager in
//! `mq.ibm.com/v1beta1`, a Route and a Deployment) syncs Synced and Healthy in the embedded
//! OpenShift with no `--accept-unknown-kinds`; an operand with a mistyped field is then refused
//! with the CRD's validation message, and the fix syncs.

mod common;

use common::*;
use serde_json::json;

const REPO: &str = "https://git.example.com/team/repo.git";

fn application(name: &str, path: &str, namespace: Option<&str>, wave: &str) -> String {
    let destination = match namespace {
        Some(namespace) => {
            format!("    server: https://kubernetes.default.svc\n    namespace: {namespace}\n")
        }
        None => "    server: https://kubernetes.default.svc\n".to_string(),
    };
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
  annotations:
    argocd.argoproj.io/sync-wave: \"{wave}\"
spec:
  project: default
  source:
    repoURL: {REPO}
    targetRevision: main
    path: {path}
  destination:
{destination}  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
    - CreateNamespace=true
"
    )
}

const CATALOG: &str = "apiVersion: operators.coreos.com/v1alpha1
kind: CatalogSource
metadata:
  name: ibm-operator-catalog
  namespace: openshift-marketplace
  annotations:
    argocd.argoproj.io/sync-wave: \"0\"
spec:
  displayName: IBM Operator Catalog
  publisher: IBM
  sourceType: grpc
  image: icr.io/cpopen/ibm-operator-catalog:latest
";

const SUBSCRIPTIONS: &str = "apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
metadata:
  name: ibm-eventstreams
  namespace: openshift-operators
  annotations:
    argocd.argoproj.io/sync-wave: \"1\"
spec:
  channel: v3.0
  name: ibm-eventstreams
  installPlanApproval: Automatic
  source: ibm-operator-catalog
  sourceNamespace: openshift-marketplace
  startingCSV: ibm-eventstreams.v3.0.0
---
apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
metadata:
  name: ibm-mq
  namespace: openshift-operators
  annotations:
    argocd.argoproj.io/sync-wave: \"1\"
spec:
  channel: v1.8
  name: ibm-mq
  installPlanApproval: Automatic
  source: ibm-operator-catalog
  sourceNamespace: openshift-marketplace
";

const EVENT_STREAMS: &str = "apiVersion: eventstreams.ibm.com/v1beta2
kind: EventStreams
metadata:
  name: es-dev
spec:
  version: 11.0.0
  license:
    accept: true
    use: CloudPakForIntegrationNonProduction
  adminApi: {}
  adminUI: {}
  restProducer: {}
  security:
    internalTls: TLSv1.2
  strimziOverrides:
    kafka:
      replicas: 3
      listeners:
      - name: tls
        port: 9093
        type: internal
        tls: true
        authentication:
          type: tls
      config:
        default.replication.factor: 3
        min.insync.replicas: 2
      storage:
        type: ephemeral
    zookeeper:
      replicas: 3
      storage:
        type: ephemeral
";

const TOPIC: &str = "apiVersion: eventstreams.ibm.com/v1beta2
kind: KafkaTopic
metadata:
  name: orders
  labels:
    eventstreams.ibm.com/cluster: es-dev
spec:
  partitions: 3
  replicas: 3
  config:
    retention.ms: 604800000
---
apiVersion: eventstreams.ibm.com/v1beta2
kind: KafkaUser
metadata:
  name: order-service
  labels:
    eventstreams.ibm.com/cluster: es-dev
spec:
  authentication:
    type: tls
  authorization:
    type: simple
    acls:
    - resource: {type: topic, name: orders, patternType: literal}
      operations: [Read, Write, Describe]
";

const QUEUE_MANAGER: &str = "apiVersion: mq.ibm.com/v1beta1
kind: QueueManager
metadata:
  name: orders-qm
spec:
  license:
    accept: true
    license: L-RJON-C7QG3S
    use: NonProduction
  version: 9.2.5.0-r3
  queueManager:
    name: ORDERSQM
    storage:
      queueManager:
        type: ephemeral
  web:
    enabled: false
";

const SERVICE: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: order-service
spec:
  replicas: 1
  selector:
    matchLabels: {app: order-service}
  template:
    metadata:
      labels: {app: order-service}
    spec:
      containers:
      - name: main
        image: quay.io/flotilla-examples/order-service:1.0.0
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: order-service
spec:
  selector: {app: order-service}
  ports:
  - port: 8080
    targetPort: 8080
---
apiVersion: route.openshift.io/v1
kind: Route
metadata:
  name: order-service
spec:
  to:
    kind: Service
    name: order-service
  port:
    targetPort: 8080
  tls:
    termination: edge
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_layout_syncs_in_the_embedded_openshift() {
    let operators_app = application("operators", "bootstrap/operators", None, "-1");
    let services_app = application("eda-dev", "environments/dev", Some("eda-dev"), "0");
    let apps = format!("{operators_app}---\n{services_app}");
    let files: Vec<(&str, &str)> = vec![
        ("apps/apps.yaml", &apps),
        ("bootstrap/operators/catalog.yaml", CATALOG),
        ("bootstrap/operators/subscriptions.yaml", SUBSCRIPTIONS),
        (
            "bootstrap/operators/kustomization.yaml",
            "resources:\n- catalog.yaml\n- subscriptions.yaml\n",
        ),
        ("environments/dev/eventstreams.yaml", EVENT_STREAMS),
        ("environments/dev/topics.yaml", TOPIC),
        ("environments/dev/mq.yaml", QUEUE_MANAGER),
        ("environments/dev/service.yaml", SERVICE),
        (
            "environments/dev/kustomization.yaml",
            "resources:\n- eventstreams.yaml\n- topics.yaml\n- mq.yaml\n- service.yaml\n",
        ),
    ];
    let harness = Harness::start_serving(
        "openshift-seed",
        &files,
        |_| {},
        &[],
        |server| server.openshift = Some(Default::default()),
    )
    .await;
    let root = app_manifest(
        "root",
        "apps",
        "argocd",
        json!({"automated": {"prune": true, "selfHeal": true}}),
    );
    harness.apply(&root).await;
    for name in ["operators", "eda-dev", "root"] {
        harness.wait_app(name, name, synced_and_healthy).await;
    }
    let route = harness
        .get(
            "route.openshift.io/v1",
            "Route",
            Some("eda-dev"),
            "order-service",
        )
        .await
        .expect("route");
    assert_eq!(
        route["spec"]["host"],
        "order-service-eda-dev.apps.flotilla.local"
    );
    let subscription = harness
        .get(
            "operators.coreos.com/v1alpha1",
            "Subscription",
            Some("openshift-operators"),
            "ibm-eventstreams",
        )
        .await
        .expect("subscription");
    assert_eq!(
        subscription["status"]["installedCSV"],
        "ibm-eventstreams.v3.0.5"
    );

    // A mistyped operand is refused with the CRD's message, and nothing of it is stored.
    let mistyped = harness.commit(
        &[(
            "environments/dev/topics.yaml",
            Some(&TOPIC.replace("partitions: 3", "partitions: three")),
        )],
        "mistyped partitions",
    );
    let refused = harness
        .wait_app("eda-dev", "the refused topic", |app| {
            app["status"]["operationState"]["syncResult"]["revision"] == mistyped.as_str()
                && app["status"]["operationState"]["phase"] != "Running"
        })
        .await;
    let message = refused["status"]["operationState"]["message"].to_string();
    assert!(
        message.contains("spec.partitions") && message.contains("integer"),
        "{message}"
    );
    let topic = harness
        .get(
            "eventstreams.ibm.com/v1beta2",
            "KafkaTopic",
            Some("eda-dev"),
            "orders",
        )
        .await
        .expect("topic");
    assert_eq!(topic["spec"]["partitions"], 3);

    // The fix syncs.
    let fixed = harness.commit(
        &[(
            "environments/dev/topics.yaml",
            Some(&TOPIC.replace("partitions: 3", "partitions: 6")),
        )],
        "six partitions",
    );
    harness
        .wait_app("eda-dev", "the fix", |app| {
            app["status"]["sync"]["revision"] == fixed.as_str() && synced_and_healthy(app)
        })
        .await;
    harness.stop().await;
}
