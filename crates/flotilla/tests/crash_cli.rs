//! Crash safety (issue 17): the controller and the embedded API server run as processes and are
//! killed with SIGKILL at random moments while an app-of-apps with waves and hooks syncs a
//! stream of commits. After the last restart every Application converges to the last commit;
//! no Application ever reports a sync Succeeded at a revision whose objects the cluster does
//! not hold (checked at every poll: each commit writes its number into the ConfigMaps); every
//! history entry names a commit of the repository; the API server lost no acknowledged write
//! (every Application the test created is still there after each of its restarts); and no hook
//! ran twice where its delete policy forbids it ([`check_hook_runs`]).
//!
//! The controller reaches the server through a recording proxy in this process (the fault proxy
//! of the engine's tests, faults off), which outlives both kinds of kill and sees every hook
//! created, every hook deleted and every status written.
//!
//! `FLOTILLA_CRASH_CONTROLLER_KILLS` and `FLOTILLA_CRASH_SERVER_KILLS` raise the counts (the
//! issue's 50 and 20); the defaults keep CI short. `FLOTILLA_CRASH_BINARY` runs another build of
//! `flotilla` (an older one, to see what it does).

mod cli_support;

#[path = "../../flotilla-engine/tests/common/fault_proxy.rs"]
mod fault_proxy;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;
use fault_proxy::{FaultProxy, LoggedWrite};
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

/// The binary under test, or the one `FLOTILLA_CRASH_BINARY` names (another build, to compare).
fn binary() -> Command {
    match std::env::var_os("FLOTILLA_CRASH_BINARY") {
        Some(path) => Command::new(path),
        None => flotilla(),
    }
}

fn server(data_dir: &Path, port: u16) -> Process {
    Process(
        binary()
            .args([
                "cluster",
                "serve",
                "--insecure-http",
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
        binary()
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

/// The workloads at commit `number`: each ConfigMap says which commit it is from; even commits
/// declare one more ConfigMap (`extra`), which odd ones prune.
fn workloads(repository: &Path, number: usize) {
    for (app, wave, policy) in [
        ("first", 0, "BeforeHookCreation"),
        ("second", 1, "BeforeHookCreation,HookSucceeded"),
    ] {
        let extra = if number.is_multiple_of(2) {
            "- extra.yaml\n"
        } else {
            ""
        };
        write(
            repository,
            &format!("workloads/{app}/kustomization.yaml"),
            &format!("resources:\n- config.yaml\n- deployment.yaml\n- hook.yaml\n{extra}"),
        );
        write(
            repository,
            &format!("workloads/{app}/extra.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}-extra\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\ndata:\n  commit: \"{number}\"\n"),
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
            &format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {app}-migrate\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/hook-delete-policy: {policy}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: registry.example.com/migrate:{number}\n"),
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

/// One thing the proxy saw that the hook rule is about, in the order the server answered.
enum HookEvent {
    /// A hook Job of `app` created with the spec of commit `commit`; `certain` unless the
    /// server never answered (killed mid-request: created or not, the controller was not told).
    Created {
        app: String,
        commit: usize,
        certain: bool,
    },
    /// `app`'s hook Job deleted (the server said so).
    Deleted { app: String },
    /// An operation of `app` at commit `commit` finished (a status written with a finished
    /// `operationState`; one the server never answered counts too, it may have been applied).
    Finished { app: String, commit: usize },
}

/// The rule, as Argo CD's sync works (gitops-engine `pkg/sync/sync_context.go` and the
/// controller's `processRequestedAppOperation`): a sync operation is recorded in the
/// Application (`status.operationState`, Running, with its `startedAt`) before its first step,
/// and each hook it runs is recorded there with its phase; a controller that restarts finds the
/// operation Running and resumes it from that record (`WithInitialState`), so a hook the
/// operation already created is awaited, not created again, and one it already finished (and
/// deleted, `HookSucceeded`) is not run again. `BeforeHookCreation` deletes and re-creates a
/// hook only when a phase starts in a new operation: a retry after a failed operation (started
/// afresh, its results dropped), a later sync (a new commit, a self-heal). Hence:
///
/// **for one sync operation (one commit of one Application), each hook object is created at
/// most once, until an operation of that commit finishes; only a new operation (a retry of a
/// failed one, or a self-heal after a finished one) creates it again.**
///
/// Argo CD itself has one window where it breaks this: a controller killed after creating a
/// `BeforeHookCreation` hook and before writing the operation state that records it deletes
/// and re-creates the hook on resumption. flotilla closes it (the hook carries the operation's
/// `startedAt`, `flotilla.dev/sync-operation`, and a resumed operation adopts it), so the test
/// holds the rule without that exception.
///
/// A create the server never answered counts as a run when the server did apply it: when the
/// hook was deleted after it and before the next create that succeeded (a create of a named
/// object that already exists is refused, so a later successful create with no delete between
/// proves it was not applied). Argo CD counts it so too: its create ended in an error, the
/// operation failed, and only a retry (a new operation) may create it again.
fn check_hook_runs(events: &[(std::time::SystemTime, HookEvent)]) -> (usize, usize, Vec<String>) {
    let mut certain = 0;
    let mut uncertain = 0;
    let mut problems = Vec::new();
    // (app, commit) → creations since the last finished operation of that commit.
    let mut runs: HashMap<(String, usize), usize> = HashMap::new();
    for (index, (_, event)) in events.iter().enumerate() {
        match event {
            HookEvent::Created {
                app,
                commit,
                certain: was_certain,
            } => {
                let applied = *was_certain
                    || {
                        let later = &events[index + 1..];
                        let deleted = later
                        .iter()
                        .take_while(|(_, later)| {
                            !matches!(later, HookEvent::Created { app: other, certain: true, .. } if other == app)
                        })
                        .any(|(_, later)| matches!(later, HookEvent::Deleted { app: other } if other == app));
                        let created_again = later.iter().any(|(_, later)| {
                        matches!(later, HookEvent::Created { app: other, certain: true, .. } if other == app)
                    });
                        deleted || !created_again
                    };
                if *was_certain {
                    certain += 1;
                } else {
                    uncertain += 1;
                }
                if !applied {
                    continue;
                }
                let count = runs.entry((app.clone(), *commit)).or_default();
                *count += 1;
                if *count > 1 {
                    problems.push(format!(
                        "{app}-migrate created {count} times for commit {commit} within one operation (event {index})"
                    ));
                }
            }
            HookEvent::Finished { app, commit } => {
                runs.remove(&(app.clone(), *commit));
            }
            HookEvent::Deleted { .. } => {}
        }
    }
    (certain, uncertain, problems)
}

/// Applies a JSON merge patch (RFC 7386).
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(fields) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            fields.remove(key);
        } else {
            merge(fields.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The events of `check_hook_runs` in what the proxy logged (answered and unanswered writes).
fn hook_events(
    answered: &[LoggedWrite],
    unanswered: &[LoggedWrite],
    commits: &[String],
) -> Vec<(std::time::SystemTime, HookEvent)> {
    let mut writes: Vec<&LoggedWrite> = answered.iter().chain(unanswered).collect();
    writes.sort_by_key(|write| write.ended);
    // Each Application's status as the answered merge patches built it (a patch names only
    // what changed, so a finished operation's phase and revision may come from earlier ones).
    let mut statuses: HashMap<String, Value> = HashMap::new();
    let mut events = Vec::new();
    for write in writes {
        let body: Value = write
            .body
            .as_ref()
            .and_then(|body| serde_json::from_slice(body).ok())
            .unwrap_or(Value::Null);
        let answered = write.status != 0;
        if write.method == "POST" && write.path.ends_with("/jobs") {
            let name = body["metadata"]["name"].as_str().unwrap_or_default();
            let image = body["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default();
            let (Some(app), Some(commit)) = (
                name.strip_suffix("-migrate"),
                image
                    .rsplit_once(':')
                    .and_then(|(_, number)| number.parse().ok()),
            ) else {
                continue;
            };
            events.push((
                write.ended,
                HookEvent::Created {
                    app: app.to_string(),
                    commit,
                    certain: answered,
                },
            ));
        } else if write.method == "DELETE" && answered {
            if let Some(app) = write
                .path
                .rsplit_once("/jobs/")
                .and_then(|(_, name)| name.strip_suffix("-migrate"))
            {
                events.push((
                    write.ended,
                    HookEvent::Deleted {
                        app: app.to_string(),
                    },
                ));
            }
        } else if write.method == "PATCH" && write.path.contains("/applications/") {
            let app = write
                .path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            if !body["status"]["operationState"].is_object() {
                if answered {
                    merge(statuses.entry(app).or_default(), &body["status"]);
                }
                continue;
            }
            let mut status = statuses.get(&app).cloned().unwrap_or_default();
            merge(&mut status, &body["status"]);
            let state = &status["operationState"];
            let finished = matches!(
                state["phase"].as_str(),
                Some("Succeeded" | "Failed" | "Error")
            );
            let commit = state["syncResult"]["revision"]
                .as_str()
                .and_then(|revision| commits.iter().position(|commit| commit == revision));
            if let (true, Some(commit)) = (finished, commit) {
                events.push((
                    write.ended,
                    HookEvent::Finished {
                        app: app.clone(),
                        commit,
                    },
                ));
            }
            if answered {
                statuses.insert(app, status);
            }
        }
    }
    events
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
    // The controller talks to the server through the recording proxy.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the proxy");
    let proxy = runtime.block_on(FaultProxy::start(&format!("http://127.0.0.1:{port}"), 1));
    proxy.record_bodies(true);
    let proxied = root.join("kubeconfig-proxy");
    std::fs::write(
        &proxied,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: proxy\n  cluster:\n    server: {}\nusers:\n- name: proxy\n  user: {{}}\ncontexts:\n- name: proxy\n  context:\n    cluster: proxy\n    user: proxy\ncurrent-context: proxy\n",
            proxy.url
        ),
    )
    .expect("write the proxy's kubeconfig");
    let cache = root.join("cache");
    let mut engine = controller(&proxied, &repository, &cache);
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
        if kill % 2 == 0 {
            let number = commits.len();
            workloads(&repository, number);
            git(&repository, &["add", "--all"]);
            git(
                &repository,
                &["commit", "--quiet", "-m", &format!("commit {number}")],
            );
            commits.push(git(&repository, &["rev-parse", "HEAD"]));
        }
        // The moment: a random one, or just after a hook is created (during hooks), or just
        // after something is deleted (during a prune or a hook's deletion), as the proxy sees
        // them (a restarted controller of a debug build on a busy machine takes seconds to get
        // there: at most 20 s' wait for one).
        let seen = proxy
            .stats
            .log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len();
        let wanted: Option<fn(&LoggedWrite) -> bool> = match next() % 3 {
            0 => None,
            1 => Some(|write| write.method == "POST" && write.path.ends_with("/jobs")),
            _ => Some(|write| write.method == "DELETE"),
        };
        match wanted {
            None => std::thread::sleep(Duration::from_millis(300 + next() % 1500)),
            Some(wanted) => {
                let deadline = Instant::now() + Duration::from_secs(20);
                while Instant::now() < deadline
                    && !proxy
                        .stats
                        .log
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .iter()
                        .skip(seen)
                        .any(wanted)
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                std::thread::sleep(Duration::from_millis(next() % 100));
            }
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
            engine = controller(&proxied, &repository, &cache);
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
    // Prune: what the last commit declares is there, what it does not is gone, and nothing
    // Git always declared was ever deleted.
    for app in ["first", "second"] {
        let extra = json(
            &kubeconfig,
            &["get", "configmap", "-n", "crash", &format!("{app}-extra")],
        );
        assert_eq!(
            extra.is_some(),
            last.is_multiple_of(2),
            "{app}-extra at commit {last}"
        );
    }
    let deployment =
        json(&kubeconfig, &["get", "deployment", "-n", "crash", "second"]).expect("deployment");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("registry.example.com/second:{last}").as_str()
    );
    // Hooks: none ran twice where its delete policy forbids it.
    drop(engine);
    let answered = proxy
        .stats
        .log
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let unanswered = proxy
        .stats
        .unanswered
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let always_declared: Vec<String> = ["first", "second"]
        .iter()
        .flat_map(|app| {
            [
                format!("/api/v1/namespaces/crash/configmaps/{app}-config"),
                format!("/apis/apps/v1/namespaces/crash/deployments/{app}"),
            ]
        })
        .collect();
    let pruned: Vec<&LoggedWrite> = answered
        .iter()
        .chain(&unanswered)
        .filter(|write| write.method == "DELETE" && always_declared.contains(&write.path))
        .collect();
    assert!(
        pruned.is_empty(),
        "deleted while Git declares it: {pruned:#?}"
    );
    let prunes = answered
        .iter()
        .filter(|write| write.method == "DELETE" && write.path.contains("/configmaps/"))
        .count();
    let events = hook_events(&answered, &unanswered, &commits);
    let (certain, uncertain, problems) = check_hook_runs(&events);
    let finished = events
        .iter()
        .filter(|(_, event)| matches!(event, HookEvent::Finished { .. }))
        .count();
    println!(
        "{total} kills ({controller_kills} controller, {server_kills} server), {} commits: {certain} hook creates answered, {uncertain} unanswered, {finished} finished operations, {prunes} ConfigMaps pruned, {} writes unanswered",
        commits.len(),
        unanswered.len()
    );
    assert!(
        certain > 0,
        "no hook was created: the rule was not exercised"
    );
    if !problems.is_empty() {
        let trail: Vec<String> = events
            .iter()
            .enumerate()
            .map(|(index, (at, event))| {
                let at = at
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis();
                match event {
                    HookEvent::Created {
                        app,
                        commit,
                        certain,
                    } => format!("{index} {at} {app}-migrate created for commit {commit} (answered: {certain})"),
                    HookEvent::Deleted { app } => format!("{index} {at} {app}-migrate deleted"),
                    HookEvent::Finished { app, commit } => {
                        format!("{index} {at} {app}: operation at commit {commit} finished")
                    }
                }
            })
            .collect();
        panic!(
            "hooks run twice: {problems:#?}\nevents:\n{}",
            trail.join("\n")
        );
    }
    drop(api);
    let _ = std::fs::remove_dir_all(&root);
}
