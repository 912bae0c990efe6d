//! `flotilla install`: the manifests are `kubectl kustomize deploy/overlays/…` byte for byte,
//! apply to the embedded cluster (a server-side dry run, then for real), and their RBAC grants
//! the controller's ServiceAccount every call the engine makes and none of the verbs it never
//! uses: the rules are evaluated here as Kubernetes' RBAC authorizer evaluates them, and asked
//! of the embedded API server with `kubectl auth can-i --as` (it answers and enforces RBAC from
//! the objects it stores; strict_rbac_cli.rs runs a controller with the install's account).

mod cli_support;
use cli_support::*;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn install(arguments: &[&str]) -> String {
    let output = flotilla()
        .arg("install")
        .args(arguments)
        .output()
        .expect("flotilla runs");
    assert!(
        output.status.success(),
        "install {arguments:?}: {}",
        text(&output)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn install_json(arguments: &[&str]) -> Vec<Value> {
    let mut arguments = arguments.to_vec();
    arguments.extend(["-o", "json"]);
    let list: Value = serde_json::from_str(&install(&arguments)).expect("JSON");
    assert_eq!(list["kind"], "List");
    list["items"].as_array().expect("items").clone()
}

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn kubectl_present() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|output| output.status.success())
}

fn kubectl_kustomize(directory: &Path) -> String {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(directory)
        .output()
        .expect("kubectl runs");
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn install_prints_the_overlays_as_kubectl_kustomize_builds_them() {
    if !kubectl_present() {
        eprintln!("notice: kubectl not found: the comparison with `kubectl kustomize` is skipped");
        return;
    }
    assert_eq!(
        install(&["--replicas", "3", "-o", "yaml"]),
        kubectl_kustomize(&deploy().join("overlays/ha"))
    );
    assert_eq!(
        install(&[]),
        kubectl_kustomize(&deploy().join("overlays/single"))
    );
    // The overlay `flotilla install` does not print builds the same with `flotilla build`.
    for overlay in ["single", "ha", "namespaced"] {
        let directory = deploy().join("overlays").join(overlay);
        let output = flotilla()
            .arg("build")
            .arg(&directory)
            .output()
            .expect("flotilla runs");
        assert!(output.status.success(), "{}", text(&output));
        assert_eq!(
            String::from_utf8(output.stdout).expect("UTF-8"),
            kubectl_kustomize(&directory),
            "{overlay}"
        );
    }
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects
        .iter()
        .filter(|object| object["kind"] == kind)
        .collect()
}

#[test]
fn install_options_set_replicas_namespace_and_image() {
    let objects = install_json(&[
        "--replicas",
        "5",
        "--namespace",
        "gitops",
        "--image",
        "registry.example:5000/team/flotilla:1.10",
    ]);
    let deployment = find(&objects, "Deployment")[0];
    assert_eq!(deployment["spec"]["replicas"], 5);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example:5000/team/flotilla:1.10"
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["topologyKey"],
        "kubernetes.io/hostname",
        "more than one replica is the HA overlay"
    );
    assert_eq!(find(&objects, "Namespace")[0]["metadata"]["name"], "gitops");
    let json = serde_json::to_string(&objects).expect("JSON");
    assert!(
        !json.contains("\"namespace\":\"flotilla\""),
        "every namespaced object and binding subject moved: {json}"
    );
    for object in &objects {
        let kind = object["kind"].as_str().expect("kind");
        if !["Namespace", "ClusterRole", "ClusterRoleBinding"].contains(&kind) {
            assert_eq!(object["metadata"]["namespace"], "gitops", "{kind}");
        }
    }
    // The moved ServiceAccount holds what `flotilla` held.
    let rbac = Rbac::new(&objects, "gitops", "flotilla");
    for need in ENGINE_NEEDS {
        rbac.check(need, "gitops").expect("granted");
    }
    let single = install_json(&["--replicas", "1"]);
    assert_eq!(find(&single, "Deployment")[0]["spec"]["replicas"], 1);

    let refused = flotilla()
        .args(["install", "--namespace", "Flotilla"])
        .output()
        .expect("flotilla runs");
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("error: `Flotilla` is not a namespace name"),
        "{}",
        text(&refused)
    );
    let refused = flotilla()
        .args(["install", "--image", "flotilla:"])
        .output()
        .expect("flotilla runs");
    assert!(
        text(&refused).contains("error: `flotilla:` is not an image reference"),
        "{}",
        text(&refused)
    );
}

/// A request: verb, API group, resource, and where: `Some(namespace)`, or None for a
/// cluster-scoped object or a request across all namespaces.
type Need = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// `INSTALL` stands for the install namespace, `ANY` for some namespace the Applications use.
const INSTALL: &str = "<install>";
const ANY: &str = "apps";

/// Every call the engine makes (crates/flotilla-engine), by the module that makes it.
const ENGINE_NEEDS: &[Need] = &[
    // controller.rs, live.rs: Applications and AppProjects listed and watched everywhere.
    ("list", "argoproj.io", "applications", None),
    ("watch", "argoproj.io", "applications", None),
    ("list", "argoproj.io", "appprojects", None),
    ("watch", "argoproj.io", "appprojects", None),
    // status.rs, reconcile/lifecycle.rs: status and finalizers as merge patches.
    ("patch", "argoproj.io", "applications", Some(ANY)),
    ("patch", "argoproj.io", "applications", Some(INSTALL)),
    // gate.rs, sealed.rs: Events.
    ("create", "", "events", Some(ANY)),
    // crds.rs, sealed.rs, kind_waits.rs: definitions read, created, listed and watched.
    (
        "get",
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        None,
    ),
    (
        "create",
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        None,
    ),
    (
        "list",
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        None,
    ),
    (
        "watch",
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        None,
    ),
    // sealed.rs: SealedSecrets watched, their status patched, their Secrets written.
    ("list", "bitnami.com", "sealedsecrets", None),
    ("watch", "bitnami.com", "sealedsecrets", None),
    ("patch", "bitnami.com", "sealedsecrets/status", Some(ANY)),
    ("get", "", "secrets", Some(ANY)),
    ("create", "", "secrets", Some(ANY)),
    ("update", "", "secrets", Some(ANY)),
    ("patch", "", "secrets", Some(ANY)),
    ("get", "", "namespaces", None),
    // sealed.rs (the sealing keys), reconcile/destination.rs (Argo CD cluster Secrets): the
    // install namespace is both the keys' and the control namespace.
    ("list", "", "secrets", Some(INSTALL)),
    ("get", "", "secrets", Some(INSTALL)),
    ("create", "", "secrets", Some(INSTALL)),
    // shard.rs: each replica's Lease applied and deleted, the others' listed.
    ("patch", "coordination.k8s.io", "leases", Some(INSTALL)),
    ("create", "coordination.k8s.io", "leases", Some(INSTALL)),
    ("list", "coordination.k8s.io", "leases", Some(INSTALL)),
    ("delete", "coordination.k8s.io", "leases", Some(INSTALL)),
];

/// What Git declares, applied (sync/apply.rs, Replace=true), hooked and pruned (sync/hook.rs,
/// sync/mod.rs), and cached (live.rs), for a sample of kinds.
const APPLY_NEEDS: &[Need] = &[
    ("list", "apps", "deployments", None),
    ("watch", "apps", "deployments", None),
    ("get", "apps", "deployments", Some(ANY)),
    ("create", "apps", "deployments", Some(ANY)),
    ("patch", "apps", "deployments", Some(ANY)),
    ("update", "apps", "deployments", Some(ANY)),
    ("delete", "apps", "deployments", Some(ANY)),
    ("patch", "", "configmaps", Some(ANY)),
    ("create", "batch", "jobs", Some(ANY)),
    ("delete", "batch", "jobs", Some(ANY)),
    ("patch", "kafka.strimzi.io", "kafkatopics", Some(ANY)),
    ("patch", "", "namespaces", None),
    ("patch", "rbac.authorization.k8s.io", "clusterroles", None),
    (
        "patch",
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        None,
    ),
    ("patch", "argoproj.io", "applications", Some(ANY)),
];

/// Verbs the engine never uses: refused everywhere.
const NEVER: &[Need] = &[
    ("impersonate", "", "serviceaccounts", Some(ANY)),
    ("impersonate", "", "users", None),
    (
        "escalate",
        "rbac.authorization.k8s.io",
        "clusterroles",
        None,
    ),
    ("bind", "rbac.authorization.k8s.io", "clusterroles", None),
    ("deletecollection", "", "secrets", Some(ANY)),
    (
        "approve",
        "certificates.k8s.io",
        "certificatesigningrequests/approval",
        None,
    ),
];

/// The rules bound to one ServiceAccount, evaluated as Kubernetes' RBAC authorizer does.
struct Rbac {
    subject: String,
    /// (rules, the namespace a RoleBinding limits them to, what granted them)
    grants: Vec<(Vec<Value>, Option<String>, String)>,
}

impl Rbac {
    fn new(objects: &[Value], namespace: &str, name: &str) -> Rbac {
        let role = |kind: &str, role_namespace: Option<&str>, role_name: &str| -> Vec<Value> {
            objects
                .iter()
                .find(|object| {
                    object["kind"] == kind
                        && object["metadata"]["name"] == role_name
                        && object["metadata"]["namespace"].as_str() == role_namespace
                })
                .unwrap_or_else(|| panic!("{kind} {role_name} is bound but not installed"))["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        };
        let mut grants = Vec::new();
        for binding in objects {
            let kind = binding["kind"].as_str().unwrap_or("");
            if kind != "RoleBinding" && kind != "ClusterRoleBinding" {
                continue;
            }
            let bound = binding["subjects"].as_array().is_some_and(|subjects| {
                subjects.iter().any(|subject| {
                    subject["kind"] == "ServiceAccount"
                        && subject["name"] == name
                        && subject["namespace"] == namespace
                })
            });
            if !bound {
                continue;
            }
            let binding_namespace = binding["metadata"]["namespace"].as_str();
            let role_kind = binding["roleRef"]["kind"].as_str().expect("roleRef kind");
            let role_name = binding["roleRef"]["name"].as_str().expect("roleRef name");
            let rules = if role_kind == "Role" {
                role("Role", binding_namespace, role_name)
            } else {
                role("ClusterRole", None, role_name)
            };
            let what = format!(
                "{kind} {}{} → {role_kind} {role_name}",
                binding_namespace
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default(),
                binding["metadata"]["name"].as_str().unwrap_or("")
            );
            grants.push((rules, binding_namespace.map(str::to_string), what));
        }
        Rbac {
            subject: format!("system:serviceaccount:{namespace}:{name}"),
            grants,
        }
    }

    /// Whether the request is allowed; the denial says who asked what, where, and what is bound.
    fn check(&self, need: &Need, install_namespace: &str) -> Result<(), String> {
        let (verb, group, resource, namespace) = *need;
        let namespace = namespace.map(|n| if n == INSTALL { install_namespace } else { n });
        let matches = |list: &Value, wanted: &str| {
            list.as_array().is_some_and(|items| {
                items
                    .iter()
                    .any(|item| item == "*" || item.as_str() == Some(wanted))
            })
        };
        let allowed = self.grants.iter().any(|(rules, scope, _)| {
            let in_scope = match (scope, namespace) {
                (None, _) => true,
                (Some(scope), Some(namespace)) => scope == namespace,
                (Some(_), None) => false,
            };
            in_scope
                && rules.iter().any(|rule| {
                    matches(&rule["verbs"], verb)
                        && matches(&rule["apiGroups"], group)
                        && matches(&rule["resources"], resource)
                })
        });
        if allowed {
            return Ok(());
        }
        let resource = if group.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}.{group}")
        };
        let place = match namespace {
            Some(namespace) => format!("in namespace `{namespace}`"),
            None => "at the cluster scope".to_string(),
        };
        let bound: Vec<&str> = self
            .grants
            .iter()
            .map(|(_, _, what)| what.as_str())
            .collect();
        Err(format!(
            "{} cannot {verb} {resource} {place}: no rule of its bindings grants it ({})",
            self.subject,
            bound.join("; ")
        ))
    }
}

fn rbac_failures(rbac: &Rbac, needs: &[Need], install_namespace: &str) -> Vec<String> {
    needs
        .iter()
        .filter_map(|need| rbac.check(need, install_namespace).err())
        .collect()
}

fn granted(rbac: &Rbac, needs: &[Need], install_namespace: &str) -> Vec<String> {
    needs
        .iter()
        .filter(|need| rbac.check(need, install_namespace).is_ok())
        .map(|need| format!("{need:?}"))
        .collect()
}

#[test]
fn rbac_grants_what_the_engine_does_and_no_other_verb() {
    let objects = install_json(&["--replicas", "3"]);
    let rbac = Rbac::new(&objects, "flotilla", "flotilla");
    let missing = rbac_failures(&rbac, ENGINE_NEEDS, "flotilla");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    let missing = rbac_failures(&rbac, APPLY_NEEDS, "flotilla");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    let excess = granted(&rbac, NEVER, "flotilla");
    assert!(excess.is_empty(), "granted: {}", excess.join("\n"));
    // A denied call is said with the ServiceAccount, the request and what is bound.
    let denied = rbac
        .check(&("impersonate", "", "users", None), "flotilla")
        .expect_err("denied");
    assert!(
        denied.starts_with("system:serviceaccount:flotilla:flotilla cannot impersonate users at the cluster scope: no rule of its bindings grants it ("),
        "{denied}"
    );
    for binding in [
        "ClusterRoleBinding flotilla-controller → ClusterRole flotilla-controller",
        "ClusterRoleBinding flotilla-apply → ClusterRole flotilla-apply",
        "RoleBinding flotilla/flotilla-controller → Role flotilla-controller",
    ] {
        assert!(denied.contains(binding), "{denied}");
    }
    // Another ServiceAccount of the namespace gets nothing.
    let other = Rbac::new(&objects, "flotilla", "default");
    assert_eq!(
        granted(&other, ENGINE_NEEDS, "flotilla"),
        Vec::<String>::new()
    );

    // The engine's own ClusterRole holds the engine's needs without the apply rule, so the
    // namespaced overlay keeps the controller working.
    let own: Vec<Value> = objects
        .iter()
        .filter(|object| object["metadata"]["name"] != "flotilla-apply")
        .cloned()
        .collect();
    let own = Rbac::new(&own, "flotilla", "flotilla");
    let missing = rbac_failures(&own, ENGINE_NEEDS, "flotilla");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn namespaced_overlay_writes_only_in_its_namespaces() {
    let output = flotilla()
        .arg("build")
        .arg(deploy().join("overlays/namespaced"))
        .output()
        .expect("flotilla runs");
    assert!(output.status.success(), "{}", text(&output));
    let objects: Vec<Value> = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .split("\n---\n")
        .map(|document| {
            let value = flotilla_yaml_to_json(document);
            assert!(value.is_object(), "{document}");
            value
        })
        .collect();
    assert!(
        !objects
            .iter()
            .any(|object| object["kind"] == "ClusterRoleBinding"
                && object["metadata"]["name"] == "flotilla-apply"),
        "the cluster-wide apply binding is gone"
    );
    let rbac = Rbac::new(&objects, "flotilla", "flotilla");
    let missing = rbac_failures(&rbac, ENGINE_NEEDS, "flotilla");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    for need in [
        ("patch", "apps", "deployments", Some("apps")),
        ("delete", "batch", "jobs", Some("apps")),
        ("list", "apps", "deployments", None),
        ("watch", "", "configmaps", None),
    ] {
        rbac.check(&need, "flotilla").expect("granted");
    }
    let denied = rbac
        .check(&("patch", "apps", "deployments", Some("other")), "flotilla")
        .expect_err("outside the listed namespaces");
    assert!(
        denied.starts_with(
            "system:serviceaccount:flotilla:flotilla cannot patch deployments.apps in namespace `other`: no rule of its bindings grants it"
        ),
        "{denied}"
    );
    for need in [
        ("create", "", "namespaces", None),
        ("patch", "rbac.authorization.k8s.io", "clusterroles", None),
        ("delete", "apps", "deployments", Some("kube-system")),
    ] {
        assert!(rbac.check(&need, "flotilla").is_err(), "{need:?} granted");
    }
    let excess = granted(&rbac, NEVER, "flotilla");
    assert!(excess.is_empty(), "granted: {}", excess.join("\n"));
}

/// One YAML document as JSON (`flotilla build` prints YAML only).
fn flotilla_yaml_to_json(document: &str) -> Value {
    let parsed = flotilla_core::parse_single_document(document).expect("YAML");
    flotilla_core::to_json(&parsed)
}

/// Ends `flotilla cluster serve` when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scratch(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!(
        "flotilla-install-cli-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

#[test]
fn install_applies_to_the_embedded_cluster() {
    if !kubectl_present() {
        eprintln!(
            "notice: kubectl not found: the install test against the embedded cluster is skipped"
        );
        return;
    }
    let root = scratch("apply");
    let mut child = flotilla()
        .args(["cluster", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(root.join("cluster"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start flotilla cluster serve");
    let output = child.stdout.take().expect("stdout");
    let _server = Server(child);
    let mut first = String::new();
    let mut reader = std::io::BufReader::new(output);
    reader.read_line(&mut first).expect("first line");
    assert!(first.starts_with("flotilla cluster serving on"), "{first}");
    let kubeconfig = root.join("cluster/kubeconfig");
    let kubectl = |arguments: &[&str], input: &str| -> Output {
        let mut child = Command::new("timeout")
            .args(["60", "kubectl", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(arguments)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        child.wait_with_output().expect("kubectl ends")
    };
    let succeeds = |arguments: &[&str], input: &str| -> String {
        let output = kubectl(arguments, input);
        assert!(
            output.status.success(),
            "kubectl {arguments:?}: {}",
            text(&output)
        );
        String::from_utf8_lossy(&output.stdout).to_string()
    };

    let manifests = install(&["--replicas", "3"]);
    // A server-side dry run creates nothing, so the namespaced objects of a first install need
    // their Namespace there already (as on any cluster): the first document.
    let namespace = manifests.split("\n---\n").next().expect("a document");
    assert!(namespace.contains("kind: Namespace\n"), "{namespace}");
    succeeds(&["apply", "-f", "-"], namespace);

    // Without the Prometheus Operator's definitions the monitoring objects are refused: what a
    // cluster without the operator says (build deploy/base, or an overlay without the
    // monitoring component, there).
    let refused = kubectl(&["apply", "--dry-run=server", "-f", "-"], &manifests);
    assert!(!refused.status.success(), "{}", text(&refused));

    // The operator's definitions come from the embedded catalog (package `prometheus`).
    let crds = flotilla()
        .args(["catalog", "crds", "prometheus"])
        .output()
        .expect("flotilla runs");
    assert!(crds.status.success(), "{}", text(&crds));
    succeeds(
        &["apply", "-f", "-"],
        &String::from_utf8(crds.stdout).expect("UTF-8"),
    );
    succeeds(
        &[
            "wait",
            "--for=condition=Established",
            "crd/servicemonitors.monitoring.coreos.com",
            "crd/prometheusrules.monitoring.coreos.com",
        ],
        "",
    );

    let dry_run = succeeds(&["apply", "--dry-run=server", "-f", "-"], &manifests);
    let expected = install_json(&["--replicas", "3"]);
    assert_eq!(
        dry_run.lines().count(),
        expected.len(),
        "one line per object: {dry_run}"
    );
    assert!(
        dry_run
            .lines()
            .all(|line| line.ends_with("(server dry run)")),
        "{dry_run}"
    );
    let nothing = kubectl(
        &["get", "deployment", "-n", "flotilla", "flotilla-controller"],
        "",
    );
    assert!(!nothing.status.success(), "the dry run stored nothing");

    let applied = succeeds(&["apply", "-f", "-"], &manifests);
    for line in applied.lines() {
        assert!(
            line.ends_with(" created") || line == "namespace/flotilla unchanged",
            "{applied}"
        );
    }
    // Applying again changes nothing. The PodDisruptionBudget is reported `configured`: the
    // embedded server's OpenAPI has no strategic-merge information for policy/v1
    // PodDisruptionBudget, so kubectl falls back to a merge patch (a real cluster says
    // `unchanged`).
    let again = succeeds(&["apply", "-f", "-"], &manifests);
    for line in again.lines() {
        assert!(
            line.ends_with(" unchanged")
                || line == "poddisruptionbudget.policy/flotilla-controller configured",
            "{again}"
        );
    }
    // `kubectl auth can-i` for the ServiceAccount (the embedded server answers
    // SelfSubjectAccessReviews from the RBAC objects it stores, for the admin acting as the
    // account). Its answer is on stdout; kubectl warns on stderr about kinds not served yet
    // (the Application CRD comes with the controller).
    let can_i = kubectl(
        &[
            "auth",
            "can-i",
            "list",
            "applications.argoproj.io",
            "--all-namespaces",
            "--as=system:serviceaccount:flotilla:flotilla",
        ],
        "",
    );
    let said = text(&can_i);
    if !said.contains("the server could not find the requested resource") {
        assert_eq!(
            String::from_utf8_lossy(&can_i.stdout).trim(),
            "yes",
            "{said}"
        );
        for (verb, group, resource, namespace) in ENGINE_NEEDS.iter().chain(APPLY_NEEDS) {
            let resource = if group.is_empty() {
                resource.to_string()
            } else {
                format!("{resource}.{group}")
            };
            let mut arguments = vec![
                "auth".to_string(),
                "can-i".to_string(),
                verb.to_string(),
                resource.clone(),
                "--as=system:serviceaccount:flotilla:flotilla".to_string(),
            ];
            match namespace {
                Some(namespace) => {
                    let namespace = if *namespace == INSTALL {
                        "flotilla"
                    } else {
                        namespace
                    };
                    arguments.push(format!("--namespace={namespace}"));
                }
                None => arguments.push("--all-namespaces".to_string()),
            }
            let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
            let answer = kubectl(&arguments, "");
            assert_eq!(
                String::from_utf8_lossy(&answer.stdout).trim(),
                "yes",
                "{arguments:?}: {}",
                text(&answer)
            );
        }
    }
    // Every object is there as installed.
    let listed: Value =
        serde_json::from_str(&succeeds(&["get", "-f", "-", "-o", "json"], &manifests))
            .expect("JSON");
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), expected.len());
    for (live, installed) in items.iter().zip(&expected) {
        assert_eq!(live["kind"], installed["kind"]);
        assert_eq!(live["metadata"]["name"], installed["metadata"]["name"]);
    }
    let deployment = items
        .iter()
        .find(|item| item["kind"] == "Deployment")
        .expect("the Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let probes = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(probes["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(probes["livenessProbe"]["httpGet"]["path"], "/healthz");
    let _ = std::fs::remove_dir_all(&root);
}

/// The Deployment's container, run here: its arguments (paths moved into a scratch directory,
/// `$(POD_NAMESPACE)` expanded as the kubelet does) and the kubeconfig of its ConfigMap (the
/// in-cluster address, CA file and ServiceAccount token file swapped for the embedded
/// cluster's) start a controller that answers its probes.
#[test]
fn deployment_arguments_run_the_controller() {
    let root = scratch("run");
    let mut server = flotilla()
        .args(["cluster", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(root.join("cluster"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start flotilla cluster serve");
    let output = server.stdout.take().expect("stdout");
    let _server = Server(server);
    let mut first = String::new();
    let mut server_output = std::io::BufReader::new(output);
    server_output.read_line(&mut first).expect("first line");
    let address = first
        .trim()
        .strip_prefix("flotilla cluster serving on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();

    let objects = install_json(&["--namespace", "gitops"]);
    let kubeconfig = find(&objects, "ConfigMap")[0]["data"]["kubeconfig"]
        .as_str()
        .expect("kubeconfig")
        .replace("https://kubernetes.default.svc", &address)
        .replace(
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
            &root.join("cluster/ca.crt").to_string_lossy(),
        )
        .replace(
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
            &root.join("cluster/token").to_string_lossy(),
        );
    let configuration = root.join("etc");
    std::fs::create_dir_all(&configuration).expect("directory");
    std::fs::write(configuration.join("kubeconfig"), kubeconfig).expect("write");
    // The install's Namespace (the controller keeps its API tokens in a Secret there).
    let created = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(configuration.join("kubeconfig"))
        .args(["create", "namespace", "gitops"])
        .output()
        .expect("kubectl");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let container = &find(&objects, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0];
    let mut arguments: Vec<String> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|argument| {
            argument
                .as_str()
                .expect("a string")
                .replace("$(POD_NAMESPACE)", "gitops")
                .replace("/etc/flotilla", &configuration.to_string_lossy())
                .replace("/var/cache/flotilla", &root.join("cache").to_string_lossy())
                .replace("0.0.0.0:8089", "127.0.0.1:0")
        })
        .collect();
    assert_eq!(arguments[0], "controller");
    // Small sealing keys: a 4096-bit key takes long in a debug build.
    arguments.push("--sealing-key-bits=1024".into());
    // The pod's name from the downward API is the replica's shard identity.
    let pod_name = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .find(|variable| variable["name"] == "POD_NAME")
        .expect("POD_NAME");
    assert_eq!(
        pod_name["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name",
        "{pod_name}"
    );
    let mut controller = flotilla()
        .args(&arguments)
        .current_dir(&root)
        .env("HOME", &root)
        .env("POD_NAME", "flotilla-controller-5c8f9d7b64-x2x4z")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flotilla controller");
    let output = controller.stdout.take().expect("stdout");
    let _controller = Server(controller);
    let mut reader = std::io::BufReader::new(output);
    let (endpoint, said) = metrics_address(&mut reader, "the controller");
    assert!(
        said.contains("shard: `flotilla-controller-5c8f9d7b64-x2x4z` (Lease `flotilla-controller-flotilla-controller-5c8f9d7b64-x2x4z`"),
        "{said}"
    );
    for path in [
        container["readinessProbe"]["httpGet"]["path"]
            .as_str()
            .expect("path"),
        container["livenessProbe"]["httpGet"]["path"]
            .as_str()
            .expect("path"),
    ] {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(&endpoint).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    }
    let _ = std::fs::remove_dir_all(&root);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("directory");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `components/keys-in-kube-system`: the sealing keys where the Bitnami controller keeps them,
/// the Role to read and create them there, the argument that says so.
#[test]
fn keys_in_kube_system_component() {
    let root = scratch("keys");
    copy_tree(&deploy(), &root.join("deploy"));
    let overlay = root.join("deploy/overlays/mine");
    std::fs::create_dir_all(&overlay).expect("directory");
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "resources:\n- ../single\ncomponents:\n- ../../components/keys-in-kube-system\n",
    )
    .expect("write");
    let output = flotilla()
        .arg("build")
        .arg(&overlay)
        .output()
        .expect("flotilla runs");
    assert!(output.status.success(), "{}", text(&output));
    let built = String::from_utf8(output.stdout).expect("UTF-8");
    if kubectl_present() {
        assert_eq!(built, kubectl_kustomize(&overlay));
    }
    let objects: Vec<Value> = built.split("\n---\n").map(flotilla_yaml_to_json).collect();
    let deployment = find(&objects, "Deployment")[0];
    let arguments = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        arguments
            .as_array()
            .expect("args")
            .iter()
            .any(|argument| argument == "--sealed-secrets-namespace=kube-system"),
        "{arguments}"
    );
    let rbac = Rbac::new(&objects, "flotilla", "flotilla");
    for verb in ["get", "list", "create"] {
        rbac.check(&(verb, "", "secrets", Some("kube-system")), "flotilla")
            .expect("granted");
    }
    let _ = std::fs::remove_dir_all(&root);
}
