//! `flotilla controller --strict-rbac` against the embedded cluster (issue 17, item 5): the
//! server's admin kubeconfig is refused, each excess named with what the install allows; a
//! token of the ServiceAccount `flotilla install` creates (`kubectl create token`) starts the
//! controller; the same account with one more RoleBinding is refused naming that grant and its
//! namespace. The install is applied and tokens are made with kubectl (skipped without it).
//!
//! The embedded server enforces RBAC, so the same account then shows what the install lets the
//! controller do and what it does not (issue 17): the controller, as the account of `flotilla
//! install --replicas 3`, syncs an Application; with the install's `flotilla-apply`
//! ClusterRoleBinding deleted, the server refuses the controller's apply of a Deployment, and
//! the Application is Failed and not Synced with a `SyncError` condition quoting the server's
//! refusal and saying what to grant, the controller still running.

mod cli_support;
use cli_support::*;

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kubectl(kubeconfig: &Path, arguments: &[&str], input: &str) -> Output {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    let output = child.wait_with_output().expect("kubectl ends");
    assert!(
        output.status.success(),
        "kubectl {arguments:?}: {}",
        text(&output)
    );
    output
}

/// `flotilla controller --strict-rbac` with `kubeconfig`, left running until it printed
/// `until` (Ok: what it printed) or ended (Err: its output).
fn controller(root: &Path, kubeconfig: &Path, until: &str) -> Result<String, Output> {
    let mut child = flotilla()
        .arg("controller")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--strict-rbac", "--control-namespace", "flotilla"])
        .args(["--listen", "127.0.0.1:0", "--no-sealed-secrets"])
        .arg("--cache-dir")
        .arg(root.join("cache"))
        .env("HOME", root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flotilla controller");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = std::io::BufReader::new(stdout);
    let mut said = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read") == 0 {
            break;
        }
        said.push_str(&line);
        if said.contains(until) {
            drop(Process(child));
            return Ok(said);
        }
    }
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_end(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("controller ends");
    Err(Output {
        status,
        stdout: said.into_bytes(),
        stderr,
    })
}

#[test]
fn strict_rbac_refuses_more_than_the_install_and_starts_with_its_account() {
    if Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_err()
    {
        eprintln!("notice: kubectl not found: the strict RBAC test is skipped");
        return;
    }
    let root: PathBuf =
        std::env::temp_dir().join(format!("flotilla-strict-rbac-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch");
    let mut server = flotilla()
        .args(["cluster", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(root.join("cluster"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start flotilla cluster serve");
    let output = server.stdout.take().expect("stdout");
    let _server = Process(server);
    let mut first = String::new();
    std::io::BufReader::new(output)
        .read_line(&mut first)
        .expect("first line");
    assert!(first.starts_with("flotilla cluster serving on "), "{first}");
    let admin = root.join("cluster/kubeconfig");

    // The admin may do everything: refused, each excess named.
    let refused = controller(&root, &admin, "reconciling Applications")
        .expect_err("the admin's credentials are refused");
    let said = String::from_utf8_lossy(&refused.stderr).to_string();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    for expected in [
        "error: `--strict-rbac`: the credentials grant more than the install's RBAC for ServiceAccount `flotilla` in `flotilla`; 2 excessive grants:",
        "  - `*` on every resource (`*`) in every API group (`*`); the install allows `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` there (in every namespace)",
        "  - `*` on the non-resource URL `*`; the install allows nothing there (in every namespace)",
        "hint: run the controller with the ServiceAccount `flotilla install --namespace flotilla` creates",
    ] {
        assert!(said.contains(expected), "{expected}\n{}", text(&refused));
    }

    // The install's own account: starts.
    let install = flotilla()
        .args(["install", "--namespace", "flotilla", "--replicas", "3"])
        .output()
        .expect("flotilla install");
    assert!(install.status.success(), "{}", text(&install));
    // Without the Prometheus Operator's definitions (not needed here) its objects are left out.
    let manifests: Vec<&str> = std::str::from_utf8(&install.stdout)
        .expect("UTF-8")
        .split("\n---\n")
        .filter(|document| {
            !document.contains("\nkind: ServiceMonitor\n")
                && !document.contains("\nkind: PrometheusRule\n")
        })
        .collect();
    kubectl(&admin, &["apply", "-f", "-"], &manifests.join("\n---\n"));
    let token = kubectl(
        &admin,
        &["create", "token", "flotilla", "-n", "flotilla"],
        "",
    );
    let token = String::from_utf8_lossy(&token.stdout).trim().to_string();
    let admin_text = std::fs::read_to_string(&admin).expect("kubeconfig");
    let account_text: String = admin_text
        .lines()
        .map(|line| match line.trim_start().strip_prefix("token: ") {
            Some(_) => format!("    token: {token}"),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(account_text, admin_text, "the token replaced");
    let account = root.join("account-kubeconfig");
    std::fs::write(&account, account_text + "\n").expect("write kubeconfig");
    let started = controller(&root, &account, "reconciling Applications")
        .unwrap_or_else(|output| panic!("refused: {}", text(&output)));
    assert!(
        started.contains("strict RBAC: the credentials grant nothing beyond the install's RBAC"),
        "{started}"
    );

    // One more grant in one namespace: refused, naming it.
    kubectl(
        &admin,
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: role-admin\nrules:\n- apiGroups: [rbac.authorization.k8s.io]\n  resources: [roles, rolebindings]\n  verbs: [get, escalate, bind]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: flotilla-role-admin\n  namespace: team\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: role-admin\nsubjects:\n- kind: ServiceAccount\n  name: flotilla\n  namespace: flotilla\n",
    );
    let refused = controller(&root, &account, "reconciling Applications")
        .expect_err("one more grant is refused");
    let said = String::from_utf8_lossy(&refused.stderr).to_string();
    for expected in [
        "; 2 excessive grants:",
        "  - `bind`, `escalate` on `rolebindings` in group `rbac.authorization.k8s.io`; the install allows `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` there (in namespace `team`)",
        "  - `bind`, `escalate` on `roles` in group `rbac.authorization.k8s.io`; the install allows `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` there (in namespace `team`)",
    ] {
        assert!(said.contains(expected), "{expected}\n{}", text(&refused));
    }
    kubectl(
        &admin,
        &["delete", "rolebinding", "flotilla-role-admin", "-n", "team"],
        "",
    );

    the_controller_syncs_under_enforced_rbac_and_a_refusal_is_a_condition(&root, &admin, &account);
    let _ = std::fs::remove_dir_all(&root);
}

/// The embedded server enforces RBAC: the controller, running as the install's ServiceAccount,
/// syncs an Application (the install grants what its job takes); with the `flotilla-apply`
/// ClusterRoleBinding deleted, the server refuses the controller's calls for what Git declares,
/// and the Application says so in a condition quoting the server's refusal (who, what verb, which
/// resource, where), failed and not Synced, the controller still running.
fn the_controller_syncs_under_enforced_rbac_and_a_refusal_is_a_condition(
    root: &Path,
    admin: &Path,
    account: &Path,
) {
    let repository = root.join("repo");
    for (name, image) in [("web", "nginx:1.27"), ("api", "nginx:1.27")] {
        let directory = repository.join("apps").join(name);
        std::fs::create_dir_all(&directory).expect("directory");
        std::fs::write(
            directory.join("deployment.yaml"),
            format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: main\n        image: {image}\n"),
        )
        .expect("write");
    }
    git(&repository, &["init", "--quiet", "--initial-branch=main"]);
    git(&repository, &["add", "--all"]);
    git(&repository, &["commit", "--quiet", "-m", "apps"]);
    kubectl(
        admin,
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: fleet\n",
    );

    let log = root.join("controller.log");
    let mut child = flotilla()
        .arg("controller")
        .arg("--kubeconfig")
        .arg(account)
        .args(["--control-namespace", "flotilla", "--repo-poll", "1s"])
        .args(["--listen", "127.0.0.1:0", "--no-sealed-secrets"])
        .arg("--repo-mirror")
        .arg(format!(
            "https://git.example.com/team/repo.git=file://{}",
            repository.display()
        ))
        .arg("--cache-dir")
        .arg(root.join("cache"))
        .env("HOME", root)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).expect("log"))
        .stderr(Stdio::from(
            std::fs::File::options()
                .append(true)
                .open(&log)
                .expect("log"),
        ))
        .spawn()
        .expect("start flotilla controller");
    let controller_log = || std::fs::read_to_string(&log).unwrap_or_default();
    // The controller registers the Application definition when it is missing.
    wait_for("the Application definition", controller_log, || {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(admin)
            .args(["get", "crd", "applications.argoproj.io"])
            .output()
            .is_ok_and(|output| output.status.success())
    });
    let application = |name: &str| {
        format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: flotilla\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/team/repo.git\n    path: apps/{name}\n    targetRevision: main\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: fleet\n  syncPolicy:\n    automated: {{}}\n")
    };
    let status = |name: &str| -> Value {
        let output = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(admin)
            .args(["get", "application", name, "-n", "flotilla", "-o", "json"])
            .output()
            .expect("kubectl runs");
        serde_json::from_slice::<Value>(&output.stdout).unwrap_or(Value::Null)["status"].clone()
    };

    // (a) The install's RBAC lets the controller do its job.
    kubectl(admin, &["apply", "-f", "-"], &application("web"));
    wait_for("`web` Synced", controller_log, || {
        let status = status("web");
        status["sync"]["status"] == "Synced" && status["operationState"]["phase"] == "Succeeded"
    });
    kubectl(admin, &["get", "deployment", "web", "-n", "fleet"], "");

    // (b) Without the `flotilla-apply` binding, what Git declares is refused.
    kubectl(
        admin,
        &["delete", "clusterrolebinding", "flotilla-apply"],
        "",
    );
    kubectl(admin, &["apply", "-f", "-"], &application("api"));
    // The API server's words, verbatim, on the refused object, in the operation's message, and
    // in a SyncError condition that says what to grant.
    let refusal = "deployments.apps \"api\" is forbidden: User \"system:serviceaccount:flotilla:flotilla\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"fleet\"";
    let advice = format!("the API server refused the sync for want of RBAC: {refusal}; grant `patch` on `deployments` in API group `apps` to `system:serviceaccount:flotilla:flotilla` in the controller's ClusterRole (or a Role bound to it in namespace `fleet`), then sync again");
    let sync_error = |status: &Value| {
        status["conditions"].as_array().is_some_and(|conditions| {
            conditions.iter().any(|condition| {
                condition["type"] == "SyncError" && condition["message"] == advice.as_str()
            })
        })
    };
    wait_for(
        "`api` refused, as a SyncError condition",
        controller_log,
        || sync_error(&status("api")),
    );
    let api = status("api");
    assert_eq!(api["operationState"]["phase"], "Failed", "{api:#}");
    assert_eq!(
        api["operationState"]["message"],
        format!("one or more objects failed to apply, reason: deployment.apps/api: {refusal}"),
        "{api:#}"
    );
    let refused = &api["operationState"]["syncResult"]["resources"][0];
    assert_eq!(refused["status"], "SyncFailed", "{api:#}");
    assert_eq!(refused["message"], refusal, "{api:#}");
    assert_ne!(api["sync"]["status"], "Synced", "{api:#}");
    let deployment = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(admin)
        .args(["get", "deployment", "api", "-n", "fleet"])
        .output()
        .expect("kubectl runs");
    assert!(
        !deployment.status.success(),
        "the refused Deployment was not made"
    );
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the controller is still running:\n{}",
        controller_log()
    );
    drop(Process(child));
}

/// Waits for `done` (every 200 ms, at most 3 minutes on a busy 2-core machine), failing with
/// the controller's log when it never comes.
fn wait_for(what: &str, log: impl Fn() -> String, done: impl Fn() -> bool) {
    for _ in 0..900 {
        if done() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("never: {what}\ncontroller log:\n{}", log());
}
