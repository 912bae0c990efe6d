//! A solution repository from nothing to deployed, and changes moved between its environments,
//! against the embedded cluster:
//! 1. `flotilla up` runs a cluster; `flotilla bootstrap` (two service repositories, three
//!    environments, `--kafka strimzi --mq`) seals with that cluster's certificate
//!    (`--kubeconfig`); `flotilla up --repo DIR --path config/argocd` then brings every
//!    Application to Synced and Healthy with no manual step; `flotilla repo check` exits 0; no
//!    Secret with data anywhere in the repository; bootstrap run again changes nothing.
//! 2. `env add qa --from staging` and `service add` produce Applications that sync.
//! 3. `promote --from dev --to staging --service orders` after a dev image change: staging's
//!    Deployment gets the image, dev and prod are untouched, the commit names the change;
//!    `--branch` leaves main unchanged; a promotion from an environment that is not Healthy is
//!    refused with the reason.

mod cli_support;

use cli_support::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Up {
    child: Child,
}

impl Up {
    fn start(data_dir: &Path, repository: &Path, path: &str) -> Up {
        let child = flotilla()
            .args(["up", "--repo-poll", "1s", "--simulate-delay-ms", "50"])
            .args(["--sealing-key-bits", "1024"])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--repo")
            .arg(repository)
            .args(["--path", path])
            .args(["--cluster-listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start flotilla up");
        Up { child }
    }

    /// Stops as Ctrl-C does (the cluster's state stays in the data directory).
    fn stop(mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling a child process this test started and still owns.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(command: &mut Command) -> Output {
    command.output().expect("runs")
}

fn applications(kubeconfig: &Path) -> Vec<Value> {
    let output = run(flotilla()
        .args(["app", "list", "-A", "-o", "json", "--kubeconfig"])
        .arg(kubeconfig));
    serde_json::from_slice::<Value>(&output.stdout)
        .ok()
        .and_then(|list| list["items"].as_array().cloned())
        .unwrap_or_default()
}

/// Waits until the Applications of `namespace` whose names start with `prefix` number at least
/// `count`, are Synced and Healthy, and (when given) run `revision`.
fn wait_ready(kubeconfig: &Path, prefix: &str, count: usize, revision: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let apps: Vec<Value> = applications(kubeconfig)
            .into_iter()
            .filter(|app| {
                app["metadata"]["namespace"] == "openshift-gitops"
                    && app["metadata"]["name"]
                        .as_str()
                        .is_some_and(|name| name.starts_with(prefix))
            })
            .collect();
        let pending: Vec<String> = apps
            .iter()
            .filter(|app| {
                app["status"]["sync"]["status"] != "Synced"
                    || app["status"]["health"]["status"] != "Healthy"
                    || revision
                        .is_some_and(|revision| app["status"]["sync"]["revision"] != revision)
            })
            .map(|app| {
                format!(
                    "{} {} {} {}",
                    app["metadata"]["name"].as_str().unwrap_or_default(),
                    app["status"]["sync"]["status"].as_str().unwrap_or("?"),
                    app["status"]["health"]["status"].as_str().unwrap_or("?"),
                    app["status"]["operationState"]["message"]
                        .as_str()
                        .unwrap_or_default()
                )
            })
            .collect();
        if apps.len() >= count && pending.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{prefix}*: {} of {count} Applications, not ready: {pending:#?}",
            apps.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn kubectl_json(kubeconfig: &Path, arguments: &[&str]) -> Value {
    let output = run(Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(arguments)
        .args(["-o", "json"]));
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

fn image(kubeconfig: &Path, namespace: &str, deployment: &str) -> String {
    kubectl_json(
        kubeconfig,
        &["get", "deployment", "-n", namespace, deployment],
    )["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_for_image(kubeconfig: &Path, namespace: &str, deployment: &str, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while image(kubeconfig, namespace, deployment) != wanted {
        assert!(
            Instant::now() < deadline,
            "{namespace}/{deployment} runs `{}`, not `{wanted}`",
            image(kubeconfig, namespace, deployment)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Every file of the repository holding a Secret with values.
fn clear_secrets(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).expect("listed").flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|name| name == ".git") {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                if flotilla_core_clear_secret(&text) {
                    found.push(path);
                }
            }
        }
    }
    found
}

/// A `kind: Secret` document with `data` or `stringData` entries, read line by line (a test
/// must not trust the code it tests to find them).
fn flotilla_core_clear_secret(text: &str) -> bool {
    text.split("\n---").any(|document| {
        let is_secret = document
            .lines()
            .any(|line| line.trim_end() == "kind: Secret");
        let has_values = document
            .lines()
            .any(|line| line.starts_with("data:") || line.starts_with("stringData:"))
            && document
                .lines()
                .any(|line| line.starts_with("  ") && line.contains(": "));
        is_secret && has_values
    })
}

#[test]
fn a_solution_is_bootstrapped_deployed_extended_and_promoted() {
    let root = std::env::temp_dir().join(format!("flotilla-bootstrap-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch");
    let data_dir = root.join(".flotilla");
    let kubeconfig = data_dir.join("cluster/kubeconfig");

    // A cluster first (its certificate seals the repository's secrets).
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).expect("empty repository");
    std::fs::write(empty.join("kustomization.yaml"), "resources: []\n").expect("written");
    git(&empty, &["init", "--quiet", "--initial-branch=main"]);
    git(&empty, &["add", "--all"]);
    git(&empty, &["commit", "--quiet", "-m", "empty"]);
    let first = Up::start(&data_dir, &empty, ".");
    let solution = root.join("shop-gitops");
    let bootstrap = |extra: &[&str]| {
        run(flotilla()
            .args(["bootstrap", "--output"])
            .arg(&solution)
            .args([
                "--gitops-repo-url",
                "https://github.com/example/shop-gitops.git",
            ])
            .args([
                "--service-repo-url",
                "https://github.com/example/orders.git",
            ])
            .args([
                "--service-repo-url",
                "https://github.com/example/payments.git",
            ])
            .args(["--image-repo", "quay.io/shop", "--prefix", "shop"])
            .args([
                "--environments",
                "dev,staging,prod",
                "--kafka",
                "strimzi",
                "--mq",
            ])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(extra))
    };
    // The controller makes its sealing key once it runs.
    let deadline = Instant::now() + Duration::from_secs(120);
    let written = loop {
        let output = bootstrap(&[]);
        if output.status.success() {
            break output;
        }
        assert!(Instant::now() < deadline, "{}", text(&output));
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        String::from_utf8_lossy(&written.stdout).contains("sealed `gitops-webhook-secret`"),
        "{}",
        text(&written)
    );
    assert_eq!(
        clear_secrets(&solution),
        Vec::<PathBuf>::new(),
        "Secrets in clear"
    );

    // Again: nothing changes.
    let head = git(&solution, &["rev-parse", "HEAD"]);
    let again = bootstrap(&[]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to change"),
        "{}",
        text(&again)
    );
    assert_eq!(git(&solution, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&solution, &["status", "--porcelain"]), "");
    first.stop();

    let checked = run(flotilla().args(["repo", "check"]).arg(&solution));
    assert!(checked.status.success(), "{}", text(&checked));

    // The repository's own root, synced from nothing: 1 root, bootstrap, cicd, 3 × (env,
    // events, 2 apps).
    let _second = Up::start(&data_dir, &solution, "config/argocd");
    wait_ready(&kubeconfig, "shop-", 15, None);
    let topics = kubectl_json(
        &kubeconfig,
        &["get", "kafkatopics.kafka.strimzi.io", "-n", "shop-staging"],
    );
    assert_eq!(
        topics["items"].as_array().map(Vec::len),
        Some(2),
        "a topic per service"
    );
    let sealed = kubectl_json(
        &kubeconfig,
        &["get", "secret", "-n", "shop-cicd", "gitops-webhook-secret"],
    );
    assert!(
        sealed["data"]["webhook-secret-key"].is_string(),
        "the webhook secret is unsealed in the cluster: {sealed}"
    );

    // A new environment from staging, and a new service.
    let added = run(flotilla()
        .args(["env", "add", "qa", "--from", "staging", "--repo"])
        .arg(&solution)
        .arg("--kubeconfig")
        .arg(&kubeconfig));
    assert!(added.status.success(), "{}", text(&added));
    wait_ready(&kubeconfig, "shop-qa-", 4, None);
    let exists = run(flotilla()
        .args(["env", "add", "qa", "--repo"])
        .arg(&solution));
    assert_eq!(exists.status.code(), Some(1), "{}", text(&exists));
    assert!(
        String::from_utf8_lossy(&exists.stderr).contains("exists already"),
        "{}",
        text(&exists)
    );
    let service = run(flotilla()
        .args([
            "service",
            "add",
            "--env",
            "dev",
            "--app",
            "app-orders",
            "--service",
            "audit",
        ])
        .args([
            "--git-repo-url",
            "https://github.com/example/audit.git",
            "--port",
            "9000",
            "--repo",
        ])
        .arg(&solution)
        .arg("--kubeconfig")
        .arg(&kubeconfig));
    assert!(service.status.success(), "{}", text(&service));
    let revision = git(&solution, &["rev-parse", "HEAD"]);
    wait_ready(&kubeconfig, "shop-dev-app-orders", 1, Some(&revision));
    wait_for_image(
        &kubeconfig,
        "shop-dev",
        "audit",
        "quay.io/shop/audit:latest",
    );
    let checked = run(flotilla().args(["repo", "check"]).arg(&solution));
    assert!(checked.status.success(), "{}", text(&checked));

    // A dev image change, promoted to staging.
    let dev_overlay = solution
        .join("environments/dev/apps/app-orders/services/orders/overlays/kustomization.yaml");
    let edited = std::fs::read_to_string(&dev_overlay)
        .expect("read")
        .replace(
            "- name: quay.io/shop/orders\n  newTag: latest\n",
            "- name: quay.io/shop/orders\n  newTag: 1.4.2\n",
        );
    assert!(edited.contains("newTag: 1.4.2"), "{edited}");
    std::fs::write(&dev_overlay, edited).expect("written");
    git(
        &solution,
        &["commit", "--quiet", "--all", "-m", "orders 1.4.2 in dev"],
    );
    let revision = git(&solution, &["rev-parse", "HEAD"]);
    wait_ready(&kubeconfig, "shop-dev-", 4, Some(&revision));
    wait_for_image(
        &kubeconfig,
        "shop-dev",
        "orders",
        "quay.io/shop/orders:1.4.2",
    );
    let promoted = run(flotilla()
        .args([
            "promote",
            "--from",
            "dev",
            "--to",
            "staging",
            "--service",
            "orders",
            "--repo",
        ])
        .arg(&solution)
        .arg("--kubeconfig")
        .arg(&kubeconfig));
    assert!(promoted.status.success(), "{}", text(&promoted));
    let stdout = String::from_utf8_lossy(&promoted.stdout);
    assert!(
        stdout.contains("+        image: quay.io/shop/orders:1.4.2"),
        "the rendered diff: {stdout}"
    );
    let message = git(&solution, &["log", "-1", "--format=%B"]);
    assert!(
        message.contains("orders: image quay.io/shop/orders latest → 1.4.2"),
        "{message}"
    );
    assert_eq!(
        git(&solution, &["show", "--name-only", "--format=", "HEAD"]),
        "environments/staging/apps/app-orders/services/orders/overlays/kustomization.yaml"
    );
    wait_for_image(
        &kubeconfig,
        "shop-staging",
        "orders",
        "quay.io/shop/orders:1.4.2",
    );
    assert_eq!(
        image(&kubeconfig, "shop-prod", "orders"),
        "quay.io/shop/orders:latest"
    );
    assert_eq!(
        image(&kubeconfig, "shop-dev", "orders"),
        "quay.io/shop/orders:1.4.2"
    );
    assert_eq!(
        image(&kubeconfig, "shop-staging", "payments"),
        "quay.io/shop/payments:latest"
    );

    // On a branch: main stays as it is.
    let revision = git(&solution, &["rev-parse", "HEAD"]);
    wait_ready(&kubeconfig, "shop-staging-", 4, Some(&revision));
    let branched = run(flotilla()
        .args([
            "promote",
            "--from",
            "staging",
            "--to",
            "prod",
            "--branch",
            "promote-prod",
            "--repo",
        ])
        .arg(&solution)
        .arg("--kubeconfig")
        .arg(&kubeconfig));
    assert!(branched.status.success(), "{}", text(&branched));
    assert_eq!(
        git(&solution, &["rev-parse", "HEAD"]),
        revision,
        "main unchanged"
    );
    assert_eq!(
        git(&solution, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "main"
    );
    let on_branch = git(&solution, &["show", "promote-prod:environments/prod/apps/app-orders/services/orders/overlays/kustomization.yaml"]);
    assert!(on_branch.contains("newTag: 1.4.2"), "{on_branch}");

    // A rollback: staging as it was before the promotion.
    let before_promotion = git(&solution, &["rev-parse", "HEAD~1"]);
    let rolled_back = run(flotilla()
        .args([
            "promote",
            "--from",
            "staging",
            "--to",
            "staging",
            "--service",
            "orders",
            "--revision",
            &before_promotion,
            "--repo",
        ])
        .arg(&solution)
        .arg("--kubeconfig")
        .arg(&kubeconfig));
    assert!(rolled_back.status.success(), "{}", text(&rolled_back));
    assert!(
        String::from_utf8_lossy(&rolled_back.stdout)
            .contains("orders: image quay.io/shop/orders 1.4.2 → latest"),
        "{}",
        text(&rolled_back)
    );
    wait_for_image(
        &kubeconfig,
        "shop-staging",
        "orders",
        "quay.io/shop/orders:latest",
    );

    // An environment that is not healthy is not promoted from.
    let deployment = solution.join(
        "environments/dev/apps/app-payments/services/payments/base/config/100-deployment.yaml",
    );
    let broken = std::fs::read_to_string(&deployment)
        .expect("read")
        .replacen(
            "metadata:\n",
            "metadata:\n  annotations:\n    flotilla.dev/simulate-failure: image pull back-off\n",
            1,
        )
        // A new generation: the simulated cluster acts on spec changes.
        .replacen("replicas: 1", "replicas: 2", 1);
    std::fs::write(&deployment, broken).expect("written");
    git(
        &solution,
        &["commit", "--quiet", "--all", "-m", "payments fails in dev"],
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let degraded = applications(&kubeconfig).iter().any(|app| {
            app["metadata"]["name"] == "shop-dev-app-payments"
                && app["status"]["health"]["status"] == "Degraded"
        });
        if degraded {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "shop-dev-app-payments never became Degraded"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let refused = run(flotilla()
        .args(["promote", "--from", "dev", "--to", "staging", "--repo"])
        .arg(&solution)
        .arg("--kubeconfig")
        .arg(&kubeconfig));
    let stderr = String::from_utf8_lossy(&refused.stderr).to_string();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        stderr.contains("not ready to promote")
            && stderr.contains("shop-dev-app-payments")
            && stderr.contains("Degraded"),
        "{stderr}"
    );
    assert_eq!(git(&solution, &["status", "--porcelain"]), "");
    let _ = std::fs::remove_dir_all(&root);
}
