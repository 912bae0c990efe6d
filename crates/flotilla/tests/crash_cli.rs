//! Crash safety (issue 17): the controller and the embedded API server run as processes and are
//! killed with SIGKILL at random moments while an app-of-apps with waves and hooks syncs a
//! stream of commits. After the last restart every Application converges to the last commit;
//! no Application ever reports a sync Succeeded at a revision whose objects the cluster does
//! not hold (checked at every poll: each commit writes its number into the ConfigMaps); every
//! history entry names a commit of the repository; the API server lost no acknowledged write
//! (every Application the test created is still there after each of its restarts).
//!
//! `FLOTILLA_CRASH_CONTROLLER_KILLS` and `FLOTILLA_CRASH_SERVER_KILLS` raise the counts (the
//! issue's 50 and 20); the defaults keep CI short.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;
use serde_json::Value;

const REPOSITORY: &str = "https://git.example.com/team/crash.git";

struct Process(Child);

impl Process {
    fn kill(mut self) {
        let _ = self.0.kill(); // SIGKILL
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server(data_dir: &Path, port: u16) -> Process {
    Process(
        flotilla()
            .args([
                "cluster",
                "serve",
                "--simulate",
                "--simulate-delay-ms",
                "300",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cluster serve"),
    )
}

fn controller(kubeconfig: &Path, repository: &Path, cache: &Path) -> Process {
    Process(
        flotilla()
            .args(["controller", "--repo-poll", "1s", "--no-sealed-secrets"])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--repo-mirror")
            .arg(format!("{REPOSITORY}=file://{}", repository.display()))
            .arg("--cache-dir")
            .arg(cache)
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("controller"),
    )
}

fn kubectl(kubeconfig: &Path, arguments: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(arguments)
        .output()
        .expect("kubectl")
}

fn json(kubeconfig: &Path, arguments: &[&str]) -> Option<Value> {
    let output = kubectl(kubeconfig, &[arguments, &["-o", "json"]].concat());
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).ok())
        .flatten()
}

fn write(root: &Path, path: &str, text: &str) {
    let target = root.join(path);
    std::fs::create_dir_all(target.parent().expect("parent")).expect("directory");
    std::fs::write(target, text).expect("written");
}

/// The workloads at commit `number`: each ConfigMap says which commit it is from.
fn workloads(repository: &Path, number: usize) {
    for (app, wave) in [("first", 0), ("second", 1)] {
        write(
            repository,
            &format!("workloads/{app}/kustomization.yaml"),
            "resources:\n- config.yaml\n- deployment.yaml\n- hook.yaml\n",
        );
        write(
            repository,
            &format!("workloads/{app}/config.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}-config\n  annotations:\n    argocd.argoproj.io/sync-wave: \"0\"\ndata:\n  commit: \"{number}\"\n"),
        );
        write(
            repository,
            &format!("workloads/{app}/deployment.yaml"),
            &format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {app}\n  template:\n    metadata:\n      labels:\n        app: {app}\n      annotations:\n        commit: \"{number}\"\n    spec:\n      containers:\n      - name: main\n        image: registry.example.com/{app}:{number}\n"),
        );
        write(
            repository,
            &format!("workloads/{app}/hook.yaml"),
            &format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {app}-migrate\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: registry.example.com/migrate:{number}\n"),
        );
        write(
            repository,
            &format!("apps/{app}.yaml"),
            &format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {app}\n  namespace: argocd\n  annotations:\n    argocd.argoproj.io/sync-wave: \"{wave}\"\nspec:\n  project: default\n  source:\n    repoURL: {REPOSITORY}\n    targetRevision: HEAD\n    path: workloads/{app}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: crash\n  syncPolicy:\n    automated:\n      prune: true\n      selfHeal: true\n    syncOptions:\n    - CreateNamespace=true\n"),
        );
    }
    write(
        repository,
        "apps/kustomization.yaml",
        "resources:\n- first.yaml\n- second.yaml\n",
    );
}

/// Every Application that says it synced a commit must show that commit's ConfigMap (or a
/// later one): a phantom success would show an earlier one.
fn check_no_phantom_success(kubeconfig: &Path, commits: &[String]) -> Result<(), String> {
    let Some(list) = json(kubeconfig, &["get", "applications", "-n", "argocd"]) else {
        return Ok(()); // the server is down right now
    };
    for app in list["items"].as_array().into_iter().flatten() {
        let name = app["metadata"]["name"].as_str().unwrap_or_default();
        if name == "root" || app["status"]["operationState"]["phase"] != "Succeeded" {
            continue;
        }
        let revision = app["status"]["operationState"]["syncResult"]["revision"]
            .as_str()
            .unwrap_or_default();
        let Some(number) = commits.iter().position(|commit| commit == revision) else {
            return Err(format!(
                "{name} reports a sync of {revision}, which is no commit of the repository"
            ));
        };
        let Some(config) = json(
            kubeconfig,
            &["get", "configmap", "-n", "crash", &format!("{name}-config")],
        ) else {
            continue; // the server is down right now
        };
        let live: usize = config["data"]["commit"]
            .as_str()
            .and_then(|text| text.parse().ok())
            .unwrap_or(0);
        if live < number {
            return Err(format!("{name} reports a sync of commit {number} Succeeded, but its ConfigMap is from commit {live}"));
        }
    }
    Ok(())
}

#[test]
fn the_controller_and_the_server_survive_sigkill_mid_sync() {
    let controller_kills: usize = std::env::var("FLOTILLA_CRASH_CONTROLLER_KILLS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10);
    let server_kills: usize = std::env::var("FLOTILLA_CRASH_SERVER_KILLS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(4);
    let root: PathBuf = std::env::temp_dir().join(format!("flotilla-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let repository = root.join("repo");
    std::fs::create_dir_all(&repository).expect("repository");
    git(&repository, &["init", "--quiet", "--initial-branch=main"]);
    workloads(&repository, 0);
    git(&repository, &["add", "--all"]);
    git(&repository, &["commit", "--quiet", "-m", "commit 0"]);
    let mut commits = vec![git(&repository, &["rev-parse", "HEAD"])];

    let data_dir = root.join("cluster");
    let port = free_port();
    let mut api = server(&data_dir, port);
    let kubeconfig = data_dir.join("kubeconfig");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !kubectl(&kubeconfig, &["get", "namespaces"])
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "the API server did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    let cache = root.join("cache");
    let mut engine = controller(&kubeconfig, &repository, &cache);
    kubectl(&kubeconfig, &["create", "namespace", "argocd"]);
    let root_app = format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: root\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: {REPOSITORY}\n    targetRevision: HEAD\n    path: apps\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: argocd\n  syncPolicy:\n    automated:\n      prune: true\n      selfHeal: true\n");
    std::fs::write(root.join("root.yaml"), &root_app).expect("written");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !kubectl(
        &kubeconfig,
        &[
            "apply",
            "-f",
            root.join("root.yaml").to_str().expect("path"),
        ],
    )
    .status
    .success()
    {
        assert!(
            Instant::now() < deadline,
            "the root Application was not created"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // Kills at pseudo-random moments (a fixed sequence, so a failure repeats), a commit every
    // second kill.
    let mut random: u64 = 0x00c0_ffee_1234_5678;
    let mut next = || {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random
    };
    let total = controller_kills + server_kills;
    let mut server_left = server_kills;
    for kill in 0..total {
        std::thread::sleep(Duration::from_millis(300 + next() % 1500));
        if kill % 2 == 0 {
            let number = commits.len();
            workloads(&repository, number);
            git(
                &repository,
                &[
                    "commit",
                    "--quiet",
                    "--all",
                    "-m",
                    &format!("commit {number}"),
                ],
            );
            commits.push(git(&repository, &["rev-parse", "HEAD"]));
        }
        if let Err(problem) = check_no_phantom_success(&kubeconfig, &commits) {
            panic!("{problem}");
        }
        let kill_server = server_left > 0 && (next() % (total as u64)) < server_kills as u64;
        if kill_server {
            server_left -= 1;
            api.kill();
            api = server(&data_dir, port);
            // Acknowledged writes survive: the root Application is still there.
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if json(&kubeconfig, &["get", "application", "-n", "argocd", "root"]).is_some() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the root Application is gone after the API server's restart"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        } else {
            engine.kill();
            engine = controller(&kubeconfig, &repository, &cache);
        }
    }

    // After the last restart: everything at the last commit.
    let last = commits.len() - 1;
    let head = commits[last].clone();
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        if let Err(problem) = check_no_phantom_success(&kubeconfig, &commits) {
            panic!("{problem}");
        }
        let apps = json(&kubeconfig, &["get", "applications", "-n", "argocd"])
            .map(|list| list["items"].as_array().cloned().unwrap_or_default())
            .unwrap_or_default();
        let ready = apps.len() == 3
            && apps.iter().all(|app| {
                app["status"]["sync"]["status"] == "Synced"
                    && app["status"]["health"]["status"] == "Healthy"
                    && app["status"]["sync"]["revision"] == head.as_str()
            });
        let configs_current = ["first", "second"].iter().all(|app| {
            json(
                &kubeconfig,
                &["get", "configmap", "-n", "crash", &format!("{app}-config")],
            )
            .is_some_and(|config| config["data"]["commit"] == last.to_string().as_str())
        });
        if ready && configs_current {
            // History: every entry names a commit of the repository.
            for app in &apps {
                for entry in app["status"]["history"].as_array().into_iter().flatten() {
                    let revision = entry["revision"].as_str().unwrap_or_default();
                    assert!(
                        commits.iter().any(|commit| commit == revision),
                        "{}: history names {revision}, no commit",
                        app["metadata"]["name"]
                    );
                }
            }
            break;
        }
        let summary: Vec<String> = apps
            .iter()
            .map(|app| {
                format!(
                    "{} {} {} {} {}",
                    app["metadata"]["name"].as_str().unwrap_or_default(),
                    app["status"]["sync"]["status"].as_str().unwrap_or("?"),
                    app["status"]["health"]["status"].as_str().unwrap_or("?"),
                    app["status"]["sync"]["revision"].as_str().unwrap_or("?"),
                    app["status"]["operationState"]["message"]
                        .as_str()
                        .unwrap_or_default()
                )
            })
            .collect();
        assert!(
            Instant::now() < deadline,
            "not converged to commit {last} ({head}) after {total} kills: {summary:#?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let deployment =
        json(&kubeconfig, &["get", "deployment", "-n", "crash", "second"]).expect("deployment");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("registry.example.com/second:{last}").as_str()
    );
    drop(engine);
    drop(api);
    let _ = std::fs::remove_dir_all(&root);
}
