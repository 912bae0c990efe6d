//! The generator: a [`Solution`] → the repository's files, as a [`Plan`]. Pure: no disk, no
//! clock, no randomness; the same manifest and pins give the same bytes.
//!
//! Three kinds of files come out:
//! - generated files: derived from the manifest alone, rewritten when it changes
//!   (`flotilla repo check` compares them with the disk);
//! - seeded files ([`Plan::seeded`]): written once with a starting content, then owned by the
//!   team and by promotion (a service overlay's `images:` and `config.yaml`, an environment's
//!   event backbone `versions.yaml`, a cluster's operator `channels.yaml`); the generator takes
//!   their current content from
//!   [`Pins`] and never changes it;
//! - secrets ([`Plan::secrets`]): what each SealedSecret must hold; `secrets.rs` seals them (or
//!   keeps the sealed file already there) with the cluster's certificate. No secret value is
//!   ever in a plan.
//!
//! Layout (KAM's, with what KAM lacks; `tests/kam_layout.rs` names each difference):
//! `flotilla.yaml`; `config/argocd/` (the root app-of-apps, the AppProject, one Application per
//! environment, event backbone and app, the bootstrap and CI/CD Applications, in sync waves);
//! `bootstrap/base` (catalog sources and OLM Subscriptions) and `bootstrap/overlays/<env>` (one
//! per cluster, named after its first environment: the channels it pins); `config/<prefix>cicd/{base,overlays}`
//! (Tekton); `environments/<env>/env/{base,overlays}`, `environments/<env>/events/{base,overlays}`,
//! `environments/<env>/apps/<app>/{base,overlays}` and
//! `environments/<env>/apps/<app>/services/<service>/{base/config,overlays}`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::catalog::{self, EVENT_STREAMS_PACKAGE, MQ_PACKAGE, STRIMZI_PACKAGE};
use crate::cicd;
use crate::manifest::{App, Environment, KafkaFlavour, Service, Solution, MANIFEST_FILE};

/// Files by path relative to the repository root (`/`-separated), with their text.
pub type Tree = BTreeMap<String, String>;

/// The content seeded files have now (read from the repository), by path.
pub type Pins = BTreeMap<String, String>;

/// What a SealedSecret must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretSpec {
    /// Where the SealedSecret goes.
    pub path: String,
    pub namespace: String,
    pub name: String,
    /// The Secret `type`.
    pub secret_type: String,
    pub annotations: BTreeMap<String, String>,
    /// Key → where its value comes from.
    pub keys: BTreeMap<String, SecretValue>,
}

/// Where a secret value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretValue {
    /// Random bytes, hex-encoded, of this many bytes (webhook secrets): made once, kept sealed.
    Random(usize),
    /// A value the user gives (a git token, registry credentials), by what it is called.
    Given(String),
}

/// Everything a solution's repository holds, before sealing.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub files: Tree,
    /// Paths of `files` that are seeded (kept when present).
    pub seeded: BTreeSet<String>,
    pub secrets: Vec<SecretSpec>,
}

impl Plan {
    pub(crate) fn file(&mut self, path: impl Into<String>, documents: &[Value]) {
        self.files.insert(path.into(), yaml(documents));
    }

    fn seed(&mut self, path: impl Into<String>, documents: &[Value], pins: &Pins) {
        let path = path.into();
        let text = pins.get(&path).cloned().unwrap_or_else(|| yaml(documents));
        self.seeded.insert(path.clone());
        self.files.insert(path, text);
    }

    /// A kustomization listing `resources` (sorted as written).
    pub(crate) fn kustomization(&mut self, directory: &str, resources: &[String], extra: Value) {
        let mut kustomization = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        });
        if let (Some(target), Some(extra)) = (kustomization.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                target.insert(key.clone(), value.clone());
            }
        }
        self.file(format!("{directory}/kustomization.yaml"), &[kustomization]);
    }
}

/// Documents as YAML (`---` between them).
pub fn yaml(documents: &[Value]) -> String {
    let values: Vec<flotilla_core::Value> =
        documents.iter().map(flotilla_core::from_json).collect();
    flotilla_core::write_documents(values.iter()).unwrap_or_default()
}

/// What the generator refuses.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{0}")]
    Catalog(String),
}

/// The sync waves of the root app-of-apps: the project, then the operators, then CI/CD and the
/// environments' namespaces, then the event backbone, then the apps.
pub mod waves {
    pub const PROJECT: i32 = -3;
    pub const BOOTSTRAP: i32 = -2;
    pub const CICD: i32 = -1;
    pub const ENVIRONMENT: i32 = 0;
    pub const EVENTS: i32 = 1;
    pub const APPS: i32 = 2;
}

/// Argo CD's annotation for the sync wave.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// The label every generated object carries: the solution it is part of.
pub const PART_OF: &str = "app.kubernetes.io/part-of";

/// Paths of the repository's parts.
pub mod paths {
    pub const ARGOCD: &str = "config/argocd";
    pub const BOOTSTRAP: &str = "bootstrap";

    pub fn bootstrap_base() -> String {
        format!("{BOOTSTRAP}/base")
    }
    pub fn bootstrap_overlay(name: &str) -> String {
        format!("{BOOTSTRAP}/overlays/{name}")
    }
    pub fn cicd(namespace: &str) -> String {
        format!("config/{namespace}")
    }
    pub fn environment(env: &str) -> String {
        format!("environments/{env}")
    }
    pub fn env_overlay(env: &str) -> String {
        format!("environments/{env}/env/overlays")
    }
    pub fn events_overlay(env: &str) -> String {
        format!("environments/{env}/events/overlays")
    }
    pub fn app_overlay(env: &str, app: &str) -> String {
        format!("environments/{env}/apps/{app}/overlays")
    }
    pub fn service(env: &str, app: &str, service: &str) -> String {
        format!("environments/{env}/apps/{app}/services/{service}")
    }
    pub fn service_overlay(env: &str, app: &str, name: &str) -> String {
        format!("{}/overlays", service(env, app, name))
    }
}

/// Generates the repository of `solution` (which [`Solution::validate`] accepted), keeping the
/// seeded files' current content from `pins`.
pub fn generate(solution: &Solution, pins: &Pins) -> Result<Plan, GenerateError> {
    let mut plan = Plan::default();
    plan.files
        .insert(MANIFEST_FILE.to_string(), solution.to_yaml());
    bootstrap(solution, pins, &mut plan)?;
    cicd::generate(solution, &mut plan);
    for environment in &solution.environments {
        environment_files(solution, environment, &mut plan);
        if solution.kafka != KafkaFlavour::None || solution.mq {
            events(solution, environment, pins, &mut plan)?;
        }
        for app in &environment.apps {
            app_files(solution, environment, app, pins, &mut plan);
        }
    }
    argocd(solution, &mut plan);
    Ok(plan)
}

/// The clusters the solution runs on, each with the name of its bootstrap overlay (the first
/// environment on it; `local` for the in-cluster destination when no environment runs there,
/// as the pipelines always do): in-cluster first, then the others in environment order.
pub fn clusters(solution: &Solution) -> Vec<(String, String)> {
    let in_cluster = crate::manifest::IN_CLUSTER;
    let local = solution
        .environments
        .iter()
        .find(|environment| environment.cluster == in_cluster)
        .map(|environment| environment.name.clone())
        .unwrap_or_else(|| "local".into());
    let mut clusters = vec![(in_cluster.to_string(), local)];
    for environment in &solution.environments {
        if !clusters
            .iter()
            .any(|(cluster, _)| *cluster == environment.cluster)
        {
            clusters.push((environment.cluster.clone(), environment.name.clone()));
        }
    }
    clusters
}

/// The bootstrap overlay of an environment's cluster.
pub fn bootstrap_overlay_of(solution: &Solution, environment: &str) -> Option<String> {
    let cluster = &solution.environment(environment)?.cluster;
    clusters(solution)
        .into_iter()
        .find(|(other, _)| other == cluster)
        .map(|(_, name)| paths::bootstrap_overlay(&name))
}

/// Labels of every generated object.
pub(crate) fn labels(solution: &Solution) -> Value {
    json!({PART_OF: solution.name})
}

fn wave(wave: i32) -> Value {
    json!({SYNC_WAVE: wave.to_string()})
}

/// One Argo CD Application of the solution.
fn application(
    solution: &Solution,
    name: &str,
    project: &str,
    path: &str,
    server: &str,
    namespace: &str,
    sync_wave: i32,
) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": solution.argocd_namespace,
            "annotations": wave(sync_wave),
            "labels": labels(solution),
        },
        "spec": {
            "project": project,
            "source": {
                "repoURL": solution.gitops_repo_url,
                "targetRevision": solution.gitops_revision,
                "path": path,
            },
            "destination": {"server": server, "namespace": namespace},
            "syncPolicy": {
                "automated": {"prune": true, "selfHeal": true},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    })
}

/// A destination of the AppProject.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Destination {
    server: String,
    namespace: String,
}

/// `config/argocd/`: the root app-of-apps (in project `default`, as it deploys the project
/// itself), the AppProject and every child Application.
fn argocd(solution: &Solution, plan: &mut Plan) {
    let project = solution.name.as_str();
    let mut files: Vec<(String, Value)> = Vec::new();
    let mut destinations: BTreeSet<Destination> = BTreeSet::new();
    let in_cluster = crate::manifest::IN_CLUSTER;
    let mut add = |files: &mut Vec<(String, Value)>, file: String, app: Value| {
        destinations.insert(Destination {
            server: app["spec"]["destination"]["server"]
                .as_str()
                .unwrap_or_default()
                .into(),
            namespace: app["spec"]["destination"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .into(),
        });
        files.push((file, app));
    };
    // The operators on every cluster an environment runs on (and on the in-cluster
    // destination, where the pipelines run): one Application per cluster, each syncing that
    // cluster's bootstrap overlay (its pinned channels), named after its first environment.
    let clusters = clusters(solution);
    for (index, (cluster, name)) in clusters.iter().enumerate() {
        let (file, application_name) = if index == 0 {
            (
                "bootstrap-app.yaml".to_string(),
                format!("{}bootstrap", solution.prefix),
            )
        } else {
            (
                format!("bootstrap-{name}-app.yaml"),
                format!("{}bootstrap-{name}", solution.prefix),
            )
        };
        add(
            &mut files,
            file,
            application(
                solution,
                &application_name,
                project,
                &paths::bootstrap_overlay(name),
                cluster,
                crate::cicd::OPERATORS_NAMESPACE,
                waves::BOOTSTRAP,
            ),
        );
    }
    let cicd_namespace = solution.cicd_namespace();
    add(
        &mut files,
        "cicd-app.yaml".into(),
        application(
            solution,
            &format!("{}cicd", solution.prefix),
            project,
            &format!("{}/overlays", paths::cicd(&cicd_namespace)),
            in_cluster,
            &cicd_namespace,
            waves::CICD,
        ),
    );
    for environment in &solution.environments {
        let namespace = solution.namespace(&environment.name);
        add(
            &mut files,
            format!("{namespace}-env-app.yaml"),
            application(
                solution,
                &format!("{namespace}-env"),
                project,
                &paths::env_overlay(&environment.name),
                &environment.cluster,
                &namespace,
                waves::ENVIRONMENT,
            ),
        );
        if solution.kafka != KafkaFlavour::None || solution.mq {
            add(
                &mut files,
                format!("{namespace}-events-app.yaml"),
                application(
                    solution,
                    &format!("{namespace}-events"),
                    project,
                    &paths::events_overlay(&environment.name),
                    &environment.cluster,
                    &namespace,
                    waves::EVENTS,
                ),
            );
        }
        for app in &environment.apps {
            let mut application = application(
                solution,
                &format!("{namespace}-{}", app.name),
                project,
                &paths::app_overlay(&environment.name, &app.name),
                &environment.cluster,
                &namespace,
                waves::APPS,
            );
            application["metadata"]["labels"]["app.kubernetes.io/name"] = json!(app.name);
            add(
                &mut files,
                format!("{namespace}-{}-app.yaml", app.name),
                application,
            );
        }
    }
    // The bootstrap wave installs into the operators' namespaces and the marketplace, on every
    // cluster.
    let servers: Vec<String> = clusters
        .iter()
        .map(|(cluster, _)| cluster.clone())
        .collect();
    for server in servers {
        destinations.insert(Destination {
            server: server.clone(),
            namespace: crate::cicd::MARKETPLACE_NAMESPACE.into(),
        });
        for namespace in crate::cicd::operator_namespaces(solution) {
            destinations.insert(Destination {
                server: server.clone(),
                namespace,
            });
        }
    }
    let project_object = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {
            "name": project,
            "namespace": solution.argocd_namespace,
            "annotations": wave(waves::PROJECT),
            "labels": labels(solution),
        },
        "spec": {
            "description": format!("The {} solution: its operators, pipelines, environments and apps (generated by flotilla bootstrap)", solution.name),
            "sourceRepos": [solution.gitops_repo_url],
            "destinations": destinations.iter().map(|destination| json!({"server": destination.server, "namespace": destination.namespace})).collect::<Vec<_>>(),
            "clusterResourceWhitelist": cluster_scoped_kinds(plan).iter().map(|(group, kind)| json!({"group": group, "kind": kind})).collect::<Vec<_>>(),
        },
    });
    files.push(("project.yaml".into(), project_object));
    let root = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": format!("{}root", solution.prefix),
            "namespace": solution.argocd_namespace,
            "labels": labels(solution),
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": solution.gitops_repo_url,
                "targetRevision": solution.gitops_revision,
                "path": paths::ARGOCD,
            },
            "destination": {"server": in_cluster, "namespace": solution.argocd_namespace},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
        },
    });
    files.push(("argo-app.yaml".into(), root));
    files.sort_by(|left, right| left.0.cmp(&right.0));
    let names: Vec<String> = files.iter().map(|(file, _)| file.clone()).collect();
    for (file, object) in files {
        plan.file(format!("{}/{file}", paths::ARGOCD), &[object]);
    }
    plan.kustomization(paths::ARGOCD, &names, json!({}));
}

/// The cluster-scoped kinds the generated objects include, as (group, kind): what the
/// AppProject must whitelist, and nothing more.
fn cluster_scoped_kinds(plan: &Plan) -> BTreeSet<(String, String)> {
    let mut kinds = BTreeSet::new();
    for (path, text) in &plan.files {
        if !path.ends_with(".yaml") || path.ends_with("kustomization.yaml") || path == MANIFEST_FILE
        {
            continue;
        }
        let Ok(documents) = flotilla_core::parse_documents(text) else {
            continue;
        };
        for document in documents {
            let object = flotilla_core::to_json(&document);
            let (Some(api_version), Some(kind)) =
                (object["apiVersion"].as_str(), object["kind"].as_str())
            else {
                continue;
            };
            let group = api_version
                .rsplit_once('/')
                .map(|(group, _)| group)
                .unwrap_or("");
            if flotilla_kustomize::kinds::is_cluster_scoped_kind(group, kind) {
                kinds.insert((group.to_string(), kind.to_string()));
            }
        }
    }
    kinds
}

/// `bootstrap/`: catalog sources the cluster lacks (wave 0), then a Subscription per operator
/// (wave 1), with a namespace and OperatorGroup for operators that cannot watch all namespaces.
fn bootstrap(solution: &Solution, pins: &Pins, plan: &mut Plan) -> Result<(), GenerateError> {
    let catalog = flotilla_catalog::Catalog::embedded();
    let mut resources = Vec::new();
    let mut sources = BTreeSet::new();
    for operator in &solution.operators {
        let package = catalog.package(&operator.package).ok_or_else(|| {
            GenerateError::Catalog(format!(
                "operator `{}` is not in the catalog",
                operator.package
            ))
        })?;
        let source = catalog.source(&package.catalog_source).ok_or_else(|| {
            GenerateError::Catalog(format!(
                "the catalog source `{}` of `{}` is not known",
                package.catalog_source, package.name
            ))
        })?;
        if !source.default && sources.insert(source.name.clone()) {
            let file = format!("{}-catalogsource.yaml", source.name);
            plan.file(
                format!("{}/{file}", paths::bootstrap_base()),
                &[json!({
                    "apiVersion": "operators.coreos.com/v1alpha1",
                    "kind": "CatalogSource",
                    "metadata": {"name": source.name, "namespace": source.namespace, "annotations": wave(0), "labels": labels(solution)},
                    "spec": {
                        "displayName": source.display_name,
                        "publisher": source.publisher,
                        "sourceType": "grpc",
                        "image": format!("{}:latest", source.images.first().cloned().unwrap_or_default()),
                        "updateStrategy": {"registryPoll": {"interval": "45m"}},
                    },
                })],
            );
            resources.push(file);
        }
        let namespace = crate::cicd::operator_namespace(package);
        let mut documents = Vec::new();
        if namespace != crate::cicd::OPERATORS_NAMESPACE {
            documents.push(json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace, "annotations": wave(0), "labels": labels(solution)},
            }));
            documents.push(json!({
                "apiVersion": "operators.coreos.com/v1",
                "kind": "OperatorGroup",
                "metadata": {"name": package.name, "namespace": namespace, "annotations": wave(0), "labels": labels(solution)},
                "spec": {"targetNamespaces": [namespace]},
            }));
        }
        documents.push(json!({
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "Subscription",
            "metadata": {"name": package.name, "namespace": namespace, "annotations": wave(1), "labels": labels(solution)},
            "spec": {
                "channel": operator.channel,
                "installPlanApproval": "Automatic",
                "name": package.name,
                "source": source.name,
                "sourceNamespace": source.namespace,
            },
        }));
        let file = format!("{}.yaml", package.name);
        plan.file(format!("{}/{file}", paths::bootstrap_base()), &documents);
        resources.push(file);
    }
    resources.sort();
    plan.kustomization(&paths::bootstrap_base(), &resources, json!({}));
    // Per cluster, the channels pinned (seeded; promotion moves them between clusters).
    let channels: Vec<Value> = solution
        .operators
        .iter()
        .filter_map(|operator| {
            let package = catalog.package(&operator.package)?;
            Some(json!({
                "apiVersion": "operators.coreos.com/v1alpha1",
                "kind": "Subscription",
                "metadata": {
                    "name": package.name,
                    "namespace": crate::cicd::operator_namespace(package),
                    "annotations": {crate::promote::PROMOTE_ANNOTATION: "spec.channel"},
                },
                "spec": {"channel": operator.channel},
            }))
        })
        .collect();
    for (_, name) in clusters(solution) {
        let overlay = paths::bootstrap_overlay(&name);
        plan.seed(format!("{overlay}/channels.yaml"), &channels, pins);
        plan.kustomization(
            &overlay,
            &["../../base".to_string()],
            json!({"patches": [{"path": "channels.yaml"}]}),
        );
    }
    Ok(())
}

/// `environments/<env>/env/`: the namespace and who may deploy into it.
fn environment_files(solution: &Solution, environment: &Environment, plan: &mut Plan) {
    let namespace = solution.namespace(&environment.name);
    let base = format!("{}/env/base", paths::environment(&environment.name));
    plan.file(
        format!("{base}/{namespace}-environment.yaml"),
        &[json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": labels(solution),
                "annotations": {"app.openshift.io/vcs-uri": format!("{}?ref={}", solution.gitops_repo_url, solution.gitops_revision)},
            },
        })],
    );
    plan.file(
        format!("{base}/argocd-admin.yaml"),
        &[crate::cicd::argocd_admin(solution, &namespace)],
    );
    plan.file(
        format!("{base}/{namespace}-rolebinding.yaml"),
        &[json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": format!("{namespace}-rolebinding"), "namespace": namespace, "labels": labels(solution)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": crate::cicd::PIPELINE_SERVICE_ACCOUNT, "namespace": solution.cicd_namespace()}],
        })],
    );
    plan.kustomization(
        &base,
        &[
            "argocd-admin.yaml".to_string(),
            format!("{namespace}-environment.yaml"),
            format!("{namespace}-rolebinding.yaml"),
        ],
        json!({}),
    );
    plan.kustomization(
        &paths::env_overlay(&environment.name),
        &["../base".to_string()],
        json!({}),
    );
}

/// The Kafka cluster of an environment's event backbone.
pub const KAFKA_CLUSTER: &str = "events";
/// The topic a service produces to: `<env>.<service>.events`.
pub fn topic_name(environment: &str, service: &str) -> String {
    format!("{environment}.{service}.events")
}

/// `environments/<env>/events/`: the Kafka cluster (Strimzi or Event Streams), a topic and a
/// user per service named with the environment, and a QueueManager; versions pinned in the
/// seeded `overlays/versions.yaml`, which promotion moves.
fn events(
    solution: &Solution,
    environment: &Environment,
    pins: &Pins,
    plan: &mut Plan,
) -> Result<(), GenerateError> {
    let base = format!("{}/events/base", paths::environment(&environment.name));
    let overlay = paths::events_overlay(&environment.name);
    let production = environment.name.starts_with("prod");
    let mut resources = Vec::new();
    let mut version_patches = Vec::new();
    let services: Vec<&Service> = environment
        .apps
        .iter()
        .flat_map(|app| app.services.iter())
        .collect();
    if solution.kafka != KafkaFlavour::None {
        let (package, group, label) = match solution.kafka {
            KafkaFlavour::Eventstreams => (
                EVENT_STREAMS_PACKAGE,
                "eventstreams.ibm.com",
                "eventstreams.ibm.com/cluster",
            ),
            _ => (STRIMZI_PACKAGE, "kafka.strimzi.io", "strimzi.io/cluster"),
        };
        let strimzi_group = if solution.kafka == KafkaFlavour::Eventstreams {
            "eventstreams.ibm.com"
        } else {
            "kafka.strimzi.io"
        };
        let topic_api =
            catalog::api_version(solution, package, strimzi_group, "KafkaTopic", "v1beta2");
        let user_api =
            catalog::api_version(solution, package, strimzi_group, "KafkaUser", "v1beta2");
        let listeners = json!([
            {"name": "tls", "port": 9093, "type": "internal", "tls": true, "authentication": {"type": "tls"}},
        ]);
        let config = json!({
            "default.replication.factor": 3,
            "min.insync.replicas": 2,
            "offsets.topic.replication.factor": 3,
            "transaction.state.log.replication.factor": 3,
            "transaction.state.log.min.isr": 2,
        });
        let storage = json!({"type": "persistent-claim", "size": if production { "100Gi" } else { "10Gi" }, "deleteClaim": false});
        let mut cluster_documents = Vec::new();
        if solution.kafka == KafkaFlavour::Strimzi {
            let kafka_api = catalog::api_version(solution, package, group, "Kafka", "v1beta2");
            let pool_api =
                catalog::api_version(solution, package, group, "KafkaNodePool", "v1beta2");
            let version = catalog::operand_version(solution, package, "Kafka", "spec.kafka.version")
                .ok_or_else(|| GenerateError::Catalog(format!("the catalog does not say which Kafka versions the `{package}` channel runs: choose another channel with --operators {package}@CHANNEL")))?;
            cluster_documents.push(json!({
                "apiVersion": kafka_api,
                "kind": "Kafka",
                "metadata": {
                    "name": KAFKA_CLUSTER,
                    "labels": labels(solution),
                    "annotations": {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"},
                },
                "spec": {
                    "kafka": {"version": version, "listeners": listeners, "authorization": {"type": "simple"}, "config": config},
                    "entityOperator": {"topicOperator": {}, "userOperator": {}},
                },
            }));
            cluster_documents.push(json!({
                "apiVersion": pool_api,
                "kind": "KafkaNodePool",
                "metadata": {"name": "dual-role", "labels": {PART_OF: solution.name, label: KAFKA_CLUSTER}},
                "spec": {"replicas": 3, "roles": ["controller", "broker"], "storage": storage},
            }));
            version_patches.push(json!({
                "apiVersion": kafka_api,
                "kind": "Kafka",
                "metadata": {"name": KAFKA_CLUSTER, "annotations": {"flotilla.dev/promote": "spec.kafka.version,spec.kafka.metadataVersion"}},
                "spec": {"kafka": {"version": version}},
            }));
        } else {
            let api = catalog::api_version(solution, package, group, "EventStreams", "v1beta2");
            let (_, csv) = catalog::installed(solution, package).ok_or_else(|| {
                GenerateError::Catalog(format!("`{package}` is not among the operators"))
            })?;
            let use_ = if production {
                "EventAutomationProduction"
            } else {
                "EventAutomationNonProduction"
            };
            let licence = catalog::licence_for(package, &csv.version, use_).ok_or_else(|| {
                GenerateError::Catalog(format!("no Event Streams licence in the catalog covers version {} for use {use_}: choose another channel with --operators {package}@CHANNEL", csv.version))
            })?;
            cluster_documents.push(json!({
                "apiVersion": api,
                "kind": "EventStreams",
                "metadata": {"name": KAFKA_CLUSTER, "labels": labels(solution)},
                "spec": {
                    "version": csv.version,
                    "license": {"accept": true, "license": licence, "use": use_},
                    "adminApi": {},
                    "strimziOverrides": {
                        "kafka": {"listeners": listeners, "authorization": {"type": "simple"}, "config": config},
                        "nodePools": [{"name": "dual-role", "replicas": 3, "roles": ["controller", "broker"], "storage": storage}],
                        "entityOperator": {"topicOperator": {}, "userOperator": {}},
                    },
                },
            }));
            version_patches.push(json!({
                "apiVersion": api,
                "kind": "EventStreams",
                "metadata": {"name": KAFKA_CLUSTER, "annotations": {"flotilla.dev/promote": "spec.version"}},
                "spec": {"version": csv.version, "license": {"license": licence}},
            }));
        }
        plan.file(format!("{base}/kafka.yaml"), &cluster_documents);
        resources.push("kafka.yaml".to_string());
        let mut topics = Vec::new();
        let mut users = Vec::new();
        for service in &services {
            let topic = topic_name(&environment.name, &service.name);
            topics.push(json!({
                "apiVersion": topic_api,
                "kind": "KafkaTopic",
                "metadata": {"name": format!("{}-events", service.name), "labels": {PART_OF: solution.name, label: KAFKA_CLUSTER}},
                "spec": {
                    "topicName": topic,
                    "partitions": 6,
                    "replicas": 3,
                    "config": {"min.insync.replicas": 2, "retention.ms": 604_800_000},
                },
            }));
            users.push(json!({
                "apiVersion": user_api,
                "kind": "KafkaUser",
                "metadata": {"name": service.name, "labels": {PART_OF: solution.name, label: KAFKA_CLUSTER}},
                "spec": {
                    "authentication": {"type": "tls"},
                    "authorization": {"type": "simple", "acls": [
                        {"resource": {"type": "topic", "name": topic, "patternType": "literal"}, "operations": ["Write", "Read", "Describe"]},
                        {"resource": {"type": "group", "name": format!("{}.{}", environment.name, service.name), "patternType": "literal"}, "operations": ["Read"]},
                    ]},
                },
            }));
        }
        if !topics.is_empty() {
            plan.file(format!("{base}/topics.yaml"), &topics);
            plan.file(format!("{base}/users.yaml"), &users);
            resources.push("topics.yaml".into());
            resources.push("users.yaml".into());
        }
    }
    if solution.mq {
        let version = catalog::operand_version(solution, MQ_PACKAGE, "QueueManager", "spec.version")
            .ok_or_else(|| GenerateError::Catalog(format!("the catalog does not say which MQ version the `{MQ_PACKAGE}` channel runs: choose another channel with --operators {MQ_PACKAGE}@CHANNEL (`flotilla catalog show {MQ_PACKAGE}`)")))?;
        let use_ = if production {
            "Production"
        } else {
            "NonProduction"
        };
        let licence = catalog::licence_for(MQ_PACKAGE, &version, use_).ok_or_else(|| {
            GenerateError::Catalog(format!(
                "no MQ licence in the catalog covers version {version} for use {use_}"
            ))
        })?;
        let api = catalog::api_version(
            solution,
            MQ_PACKAGE,
            "mq.ibm.com",
            "QueueManager",
            "v1beta1",
        );
        let queue_manager = mq_name(&environment.name);
        plan.file(
            format!("{base}/queuemanager.yaml"),
            &[json!({
                "apiVersion": api,
                "kind": "QueueManager",
                "metadata": {"name": "qm", "labels": labels(solution)},
                "spec": {
                    "license": {"accept": true, "license": licence, "use": use_},
                    "version": version,
                    "queueManager": {"name": queue_manager, "storage": {"queueManager": {"type": if production { "persistent-claim" } else { "ephemeral" }}}},
                    "web": {"enabled": false},
                },
            })],
        );
        resources.push("queuemanager.yaml".into());
        version_patches.push(json!({
            "apiVersion": api,
            "kind": "QueueManager",
            "metadata": {"name": "qm", "annotations": {"flotilla.dev/promote": "spec.version"}},
            "spec": {"version": version, "license": {"license": licence}},
        }));
    }
    resources.sort();
    plan.kustomization(&base, &resources, json!({}));
    plan.seed(format!("{overlay}/versions.yaml"), &version_patches, pins);
    plan.kustomization(
        &overlay,
        &["../base".to_string()],
        json!({"patches": [{"path": "versions.yaml"}]}),
    );
    Ok(())
}

/// The MQ queue manager name of an environment (`DEVQM`): upper case, at most 48 characters of
/// `[A-Z0-9._]`.
pub fn mq_name(environment: &str) -> String {
    let mut name: String = environment
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character.to_ascii_uppercase()
            } else {
                '.'
            }
        })
        .collect();
    name.truncate(46);
    name.push_str("QM");
    name
}

/// `environments/<env>/apps/<app>/`: the app's base and overlay, and per service its
/// Deployment, Service, Route and ConfigMap (the real image), with a seeded overlay holding
/// the image pin and the promotable configuration.
fn app_files(
    solution: &Solution,
    environment: &Environment,
    app: &App,
    pins: &Pins,
    plan: &mut Plan,
) {
    let app_root = format!(
        "{}/apps/{}",
        paths::environment(&environment.name),
        app.name
    );
    let mut services = Vec::new();
    for service in &app.services {
        service_files(solution, environment, app, service, pins, plan);
        services.push(format!("../services/{}", service.name));
    }
    plan.kustomization(&format!("{app_root}/base"), &services, json!({}));
    plan.kustomization(
        &paths::app_overlay(&environment.name, &app.name),
        &["../base".to_string()],
        json!({}),
    );
}

fn service_files(
    solution: &Solution,
    environment: &Environment,
    app: &App,
    service: &Service,
    pins: &Pins,
    plan: &mut Plan,
) {
    let root = paths::service(&environment.name, &app.name, &service.name);
    let config = format!("{root}/base/config");
    let name = &service.name;
    let selector = json!({"app.kubernetes.io/name": name, PART_OF: app.name});
    let object_labels = json!({"app.kubernetes.io/name": name, PART_OF: app.name, "app.kubernetes.io/instance": format!("{}-{name}", environment.name)});
    let config_map = format!("{name}-config");
    plan.file(
        format!("{config}/100-deployment.yaml"),
        &[json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": object_labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": selector},
                    "spec": {
                        "containers": [{
                            "name": name,
                            "image": format!("{}:{}", service.image, service.tag),
                            "ports": [{"name": "http", "containerPort": service.port, "protocol": "TCP"}],
                            "envFrom": [{"configMapRef": {"name": config_map}}],
                            "readinessProbe": {"tcpSocket": {"port": "http"}},
                            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}},
                        }],
                    },
                },
            },
        })],
    );
    plan.file(
        format!("{config}/200-service.yaml"),
        &[json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": object_labels},
            "spec": {"selector": selector, "ports": [{"name": "http", "port": service.port, "protocol": "TCP", "targetPort": "http"}]},
        })],
    );
    plan.file(
        format!("{config}/300-route.yaml"),
        &[json!({
            "apiVersion": "route.openshift.io/v1",
            "kind": "Route",
            "metadata": {"name": name, "labels": object_labels},
            "spec": {"to": {"kind": "Service", "name": name}, "port": {"targetPort": "http"}, "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}},
        })],
    );
    let mut data = serde_json::Map::new();
    data.insert("SERVICE_NAME".into(), json!(name));
    data.insert("ENVIRONMENT".into(), json!(environment.name));
    if solution.kafka != KafkaFlavour::None {
        data.insert(
            "KAFKA_BOOTSTRAP_SERVERS".into(),
            json!(format!(
                "{KAFKA_CLUSTER}-kafka-bootstrap.{}.svc:9093",
                solution.namespace(&environment.name)
            )),
        );
        data.insert(
            "KAFKA_TOPIC".into(),
            json!(topic_name(&environment.name, name)),
        );
        data.insert(
            "KAFKA_GROUP_ID".into(),
            json!(format!("{}.{name}", environment.name)),
        );
    }
    if solution.mq {
        data.insert("MQ_QUEUE_MANAGER".into(), json!(mq_name(&environment.name)));
        data.insert(
            "MQ_HOST".into(),
            json!(format!(
                "qm-ibm-mq.{}.svc",
                solution.namespace(&environment.name)
            )),
        );
    }
    plan.file(
        format!("{config}/400-configmap.yaml"),
        &[json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": config_map, "labels": object_labels},
            "data": data,
        })],
    );
    plan.kustomization(
        &config,
        &[
            "100-deployment.yaml".into(),
            "200-service.yaml".into(),
            "300-route.yaml".into(),
            "400-configmap.yaml".into(),
        ],
        json!({}),
    );
    plan.kustomization(&format!("{root}/base"), &["config".to_string()], json!({}));
    plan.kustomization(&root, &["overlays".to_string()], json!({}));
    let overlay = paths::service_overlay(&environment.name, &app.name, &service.name);
    plan.seed(
        format!("{overlay}/config.yaml"),
        &[json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": config_map, "annotations": {"flotilla.dev/promote": "LOG_LEVEL"}},
            "data": {"LOG_LEVEL": "info"},
        })],
        pins,
    );
    plan.seed(
        format!("{overlay}/kustomization.yaml"),
        &[json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["../base"],
            "patches": [{"path": "config.yaml"}],
            "images": [{"name": service.image, "newTag": service.tag}],
        })],
        pins,
    );
}
