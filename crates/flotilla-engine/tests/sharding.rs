//! Sharding over replicas, end to end: engines sharing one embedded API server through their
//! Leases, each talking to it through a recording client that notes every write (its replica,
//! its Application, when it started and ended) and can cut the replica off from the Leases.
//!
//! One scenario: three replicas sync every Application, each owned by exactly one of them
//! (engine views, the gauge, `status.controllerShard`); a fourth joins and takes about a
//! quarter, moving no more than a third; one replica is cut off from its Lease while a new
//! commit is being synced (a partitioned or paused replica): it stops writing before its Lease
//! expires, the others take its Applications over within one lease duration of the expiry and
//! sync the commit; reaching its Lease again, it gets its share back; no Application is ever
//! written by two replicas at once.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use flotilla_apiserver::{serve, RunningServer, ServerConfig};
use flotilla_engine::{Cluster, Engine, EngineConfig, ShardConfig};
use serde_json::{json, Value};

const APPLICATIONS: usize = 120;
const LEASE: Duration = Duration::from_secs(3);
const RENEW_DEADLINE: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_millis(400);
/// Generous: a 2-core machine runs four engines and the server.
const CONVERGE: Duration = Duration::from_secs(90);

/// One write that reached the server.
#[derive(Clone, Debug)]
struct Write {
    replica: String,
    application: String,
    path: String,
    started: SystemTime,
    ended: SystemTime,
}

type Recorder = Arc<Mutex<Vec<Write>>>;

/// A client of `server` for `replica` that records its writes about Applications (status
/// patches, and the ConfigMaps named after them) and refuses its Lease requests while `cut`.
fn recording_client(
    server: &RunningServer,
    replica: &str,
    recorder: Recorder,
    cut: Arc<AtomicBool>,
) -> kube::Client {
    let inner = client(server);
    let replica = replica.to_string();
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let inner = inner.clone();
        let replica = replica.clone();
        let recorder = recorder.clone();
        let cut = cut.clone();
        async move {
            let path = request.uri().path().to_string();
            if cut.load(Ordering::SeqCst) && path.contains("/leases") {
                return Err::<_, tower::BoxError>("cut off from the Leases".into());
            }
            let dry_run = request
                .uri()
                .query()
                .is_some_and(|query| query.contains("dryRun"));
            let application = path
                .rsplit('/')
                .next()
                .filter(|name| name.starts_with("app-"))
                .map(str::to_string)
                .filter(|_| request.method() != http::Method::GET && !dry_run);
            let started = SystemTime::now();
            let response = inner.send(request).await?;
            if let Some(application) = application {
                if response.status().is_success() {
                    recorder.lock().expect("recorder").push(Write {
                        replica,
                        application,
                        path,
                        started,
                        ended: SystemTime::now(),
                    });
                }
            }
            Ok(response)
        }
    });
    kube::Client::new(service, "default")
}

struct Replica {
    name: String,
    engine: Engine,
    cut: Arc<AtomicBool>,
}

struct Fleet {
    server: RunningServer,
    setup: Cluster,
    root: std::path::PathBuf,
    repository: std::path::PathBuf,
    recorder: Recorder,
}

impl Fleet {
    async fn start_replica(&self, name: &str) -> Replica {
        let cut = Arc::new(AtomicBool::new(false));
        let config = EngineConfig {
            cache_dir: self.root.join(format!("cache-{name}")),
            repo_poll: Duration::from_millis(500),
            repo_mirrors: vec![(
                "https://git.example.com/team/repo.git".into(),
                format!("file://{}", self.repository.display()),
            )],
            wave_timeout: Duration::from_secs(20),
            workers: 4,
            shard: Some(ShardConfig {
                identity: name.to_string(),
                lease_duration: LEASE,
                renew_deadline: RENEW_DEADLINE,
                retry_period: RETRY,
            }),
            ..EngineConfig::default()
        };
        let client = recording_client(&self.server, name, self.recorder.clone(), cut.clone());
        let engine = tokio::time::timeout(
            DEADLINE,
            Engine::start(Cluster::new("in-cluster", &self.server.url, client), config),
        )
        .await
        .expect("engine starts in time")
        .expect("engine starts");
        Replica {
            name: name.to_string(),
            engine,
            cut,
        }
    }

    async fn applications(&self) -> Vec<Value> {
        self.setup.forget_discovery();
        let info = self
            .setup
            .resource("argoproj.io/v1alpha1", "Application")
            .await
            .expect("Applications served");
        let list = self
            .setup
            .list(&info, Some("argocd"), &Default::default())
            .await
            .expect("list");
        list["items"].as_array().cloned().unwrap_or_default()
    }

    async fn lease(&self, replica: &str) -> Value {
        let info = self
            .setup
            .resource("coordination.k8s.io/v1", "Lease")
            .await
            .expect("Leases served");
        self.setup
            .get(
                &info,
                Some("argocd"),
                &format!("flotilla-controller-{replica}"),
            )
            .await
            .expect("get")
            .expect("the Lease exists")
    }
}

/// A Lease's `MicroTime` (`2026-12-05T17:39:30.123456Z`).
fn micro_time(text: &str) -> SystemTime {
    let seconds = flotilla_core::time::parse_rfc3339(text).expect("a timestamp");
    let digits: String = text[20..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let micros: String = digits.chars().chain("000000".chars()).take(6).collect();
    std::time::UNIX_EPOCH
        + Duration::from_secs(seconds)
        + Duration::from_micros(micros.parse().expect("micro-seconds"))
}

fn app_name(index: usize) -> String {
    format!("app-{index:03}")
}

fn config_map(name: &str, version: u32) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: fleet\ndata:\n  version: \"{version}\"\n"
    )
}

fn owned_gauge(engine: &Engine, replica: &str) -> Option<usize> {
    let text = engine.metrics_text();
    let prefix = format!("flotilla_shard_owned_applications{{shard=\"{replica}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

/// Each Application's owner when every replica agrees on the members and the Applications are
/// a partition of all of them, each Synced at `revision` with its status naming its owner.
async fn settled(
    fleet: &Fleet,
    replicas: &[&Replica],
    revision: &str,
) -> Result<BTreeMap<String, String>, String> {
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let names: Vec<String> = replicas
        .iter()
        .map(|replica| replica.name.clone())
        .collect();
    let mut sorted_names = names.clone();
    sorted_names.sort();
    for replica in replicas {
        let view = replica.engine.shard().expect("sharding is on");
        if view.members != sorted_names {
            return Err(format!("{} sees {:?}", replica.name, view.members));
        }
        for (_, name) in &view.owned {
            if let Some(other) = owners.insert(name.clone(), replica.name.clone()) {
                return Err(format!("{name} owned by {other} and {}", replica.name));
            }
        }
        if owned_gauge(&replica.engine, &replica.name) != Some(view.owned.len()) {
            return Err(format!("{}'s gauge lags", replica.name));
        }
        // Its per-Application metrics are about its own Applications only.
        let described = replica
            .engine
            .metrics_text()
            .lines()
            .filter(|line| line.starts_with("flotilla_app_info{"))
            .count();
        if described != view.owned.len() {
            return Err(format!(
                "{} describes {described} Applications, owns {}",
                replica.name,
                view.owned.len()
            ));
        }
    }
    if owners.len() != APPLICATIONS {
        return Err(format!("{} of {APPLICATIONS} owned", owners.len()));
    }
    for application in fleet.applications().await {
        let name = application["metadata"]["name"].as_str().unwrap_or("");
        let status = &application["status"];
        if status["sync"]["status"] != "Synced" || status["sync"]["revision"] != revision {
            return Err(format!("{name}: {}", status["sync"]));
        }
        if status["controllerShard"].as_str() != owners.get(name).map(String::as_str) {
            return Err(format!(
                "{name}: status names {} , owner {:?}",
                status["controllerShard"],
                owners.get(name)
            ));
        }
    }
    Ok(owners)
}

async fn wait_settled(
    fleet: &Fleet,
    replicas: &[&Replica],
    revision: &str,
    what: &str,
) -> BTreeMap<String, String> {
    let deadline = Instant::now() + CONVERGE;
    loop {
        match settled(fleet, replicas, revision).await {
            Ok(owners) => return owners,
            Err(reason) if Instant::now() > deadline => {
                panic!("{what}: not settled: {reason}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Writes of different replicas about one Application never overlap in time.
fn assert_no_overlapping_writers(writes: &[Write]) {
    let mut by_application: HashMap<&str, Vec<&Write>> = HashMap::new();
    for write in writes {
        by_application
            .entry(write.application.as_str())
            .or_default()
            .push(write);
    }
    for (application, mut writes) in by_application {
        writes.sort_by_key(|write| write.started);
        for (index, earlier) in writes.iter().enumerate() {
            for later in &writes[index + 1..] {
                if later.started >= earlier.ended {
                    break;
                }
                assert_eq!(
                    earlier.replica, later.replica,
                    "{application} written by two replicas at once: {earlier:?} and {later:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_applications_and_take_over_a_lost_replicas() {
    let root = scratch("sharding");
    let repository = root.join("repo");
    std::fs::create_dir_all(&repository).expect("repository directory");
    git(&repository, &["init", "--quiet", "--initial-branch=main"]);
    for index in 0..APPLICATIONS {
        let name = app_name(index);
        write(
            &repository,
            &format!("apps/{name}/cm.yaml"),
            &config_map(&name, 1),
        );
    }
    git(&repository, &["add", "--all"]);
    git(&repository, &["commit", "--quiet", "-m", "initial"]);
    let first = git(&repository, &["rev-parse", "HEAD"]);
    let server = tokio::time::timeout(
        DEADLINE,
        serve(ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            insecure_http: true,
            bookmark_interval: Duration::from_millis(200),
            ..ServerConfig::default()
        }),
    )
    .await
    .expect("server starts in time")
    .expect("server starts");
    let setup = Cluster::new("setup", &server.url, client(&server));
    let namespace_info = setup.resource("v1", "Namespace").await.expect("Namespaces");
    for namespace in ["argocd", "fleet"] {
        setup
            .apply(
                &namespace_info,
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
                true,
                false,
            )
            .await
            .expect("namespace");
    }
    let fleet = Fleet {
        server,
        setup,
        root,
        repository,
        recorder: Arc::new(Mutex::new(Vec::new())),
    };

    // Three replicas, then the Applications.
    let a = fleet.start_replica("a").await;
    let b = fleet.start_replica("b").await;
    let c = fleet.start_replica("c").await;
    let info = fleet
        .setup
        .resource("argoproj.io/v1alpha1", "Application")
        .await
        .expect("the engine installed the CRD");
    for index in 0..APPLICATIONS {
        let name = app_name(index);
        let manifest = app_manifest(
            &name,
            &format!("apps/{name}"),
            "fleet",
            json!({"automated": {"prune": true}}),
        );
        fleet
            .setup
            .apply(&info, &manifest, true, false)
            .await
            .expect("Application");
    }
    let three = wait_settled(&fleet, &[&a, &b, &c], &first, "three replicas").await;
    for replica in ["a", "b", "c"] {
        let share = three.values().filter(|owner| *owner == replica).count();
        assert!(
            share * 100 >= APPLICATIONS * 20 && share * 100 <= APPLICATIONS * 42,
            "{replica} owns {share} of {APPLICATIONS}"
        );
    }

    // A fourth replica joins: about a quarter moves to it, little else moves.
    let d = fleet.start_replica("d").await;
    let four = wait_settled(&fleet, &[&a, &b, &c, &d], &first, "four replicas").await;
    let taken = four.values().filter(|owner| *owner == "d").count();
    let moved = three
        .iter()
        .filter(|(name, owner)| four.get(*name) != Some(*owner))
        .count();
    eprintln!("d joined: took {taken} of {APPLICATIONS}, {moved} moved");
    assert!(
        taken * 100 >= APPLICATIONS * 15 && taken * 100 <= APPLICATIONS * 35,
        "d took {taken} of {APPLICATIONS}"
    );
    assert!(
        moved * 3 <= APPLICATIONS && moved <= taken + APPLICATIONS / 20,
        "{moved} moved, d took {taken}"
    );

    // c is cut off from its Lease while a new commit is synced: it fences itself, the others
    // take its Applications over once its Lease expires, and sync the commit.
    c.cut.store(true, Ordering::SeqCst);
    let cut_at = SystemTime::now();
    for index in 0..APPLICATIONS {
        let name = app_name(index);
        write(
            &fleet.repository,
            &format!("apps/{name}/cm.yaml"),
            &config_map(&name, 2),
        );
    }
    git(&fleet.repository, &["add", "--all"]);
    git(&fleet.repository, &["commit", "--quiet", "-m", "version 2"]);
    let second = git(&fleet.repository, &["rev-parse", "HEAD"]);
    // A renewal in flight when the cut came lands within a retry period.
    tokio::time::sleep(RETRY * 2).await;
    let lease = fleet.lease("c").await;
    let renewed = micro_time(lease["spec"]["renewTime"].as_str().expect("renewTime"));
    let expiry = renewed + LEASE;
    let survivors = wait_settled(&fleet, &[&a, &b, &d], &second, "after c is cut off").await;
    assert!(survivors.values().all(|owner| owner != "c"));

    let writes = fleet.recorder.lock().expect("recorder").clone();
    // c wrote nothing once its Lease could have expired for the others.
    let last_by_c = writes
        .iter()
        .filter(|write| write.replica == "c")
        .map(|write| write.ended)
        .max()
        .expect("c wrote");
    let by_c_after_cut = writes
        .iter()
        .filter(|write| write.replica == "c" && write.started >= cut_at)
        .count();
    eprintln!(
        "c: {by_c_after_cut} writes after the cut, the last {:?} before its Lease expired",
        expiry.duration_since(last_by_c).unwrap_or_default()
    );
    assert!(
        last_by_c < expiry,
        "c wrote at {last_by_c:?}, after its Lease expired at {expiry:?}"
    );
    // Its Applications were written by their new owners within one lease duration of the
    // expiry.
    let mut slowest = Duration::ZERO;
    for (name, owner) in four.iter().filter(|(_, owner)| *owner == "c") {
        let heir = &survivors[name];
        let taken_over = writes
            .iter()
            .filter(|write| &write.application == name && &write.replica == heir)
            .filter(|write| write.started >= cut_at)
            .map(|write| write.ended)
            .min()
            .unwrap_or_else(|| panic!("{name} (was {owner}'s) never written by {heir}"));
        slowest = slowest.max(taken_over.duration_since(expiry).unwrap_or_default());
        assert!(
            taken_over <= expiry + LEASE,
            "{name} taken over by {heir} {:?} after c's Lease expired",
            taken_over.duration_since(expiry).unwrap_or_default()
        );
    }
    eprintln!("c's Applications taken over at most {slowest:?} after its Lease expired");
    assert_no_overlapping_writers(&writes);
    assert!(
        writes
            .iter()
            .any(|write| write.path.contains("/configmaps/")),
        "the recorder saw the syncs"
    );
    let config_maps = fleet
        .setup
        .resource("v1", "ConfigMap")
        .await
        .expect("ConfigMaps");
    for index in 0..APPLICATIONS {
        let name = app_name(index);
        let live = fleet
            .setup
            .get(&config_maps, Some("fleet"), &name)
            .await
            .expect("get")
            .expect("the ConfigMap exists");
        assert_eq!(live["data"]["version"], "2", "{name}");
    }

    // c reaches its Lease again: it joins again and gets its share back, after the others
    // have let it go.
    c.cut.store(false, Ordering::SeqCst);
    let again = wait_settled(&fleet, &[&a, &b, &c, &d], &second, "c back").await;
    assert_eq!(again, four, "the same members, the same assignment");
    let writes = fleet.recorder.lock().expect("recorder").clone();
    assert_no_overlapping_writers(&writes);

    for replica in [a, b, c, d] {
        replica.engine.shutdown();
    }
    fleet.server.shutdown().await;
    let _ = std::fs::remove_dir_all(&fleet.root);
}

/// Replicas that start together with no sealing key generate one, not one each, and all serve
/// its certificate (kubeseal may ask any of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_generate_one_sealing_key() {
    let root = scratch("sharding-keys");
    let server = tokio::time::timeout(
        DEADLINE,
        serve(ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            insecure_http: true,
            ..ServerConfig::default()
        }),
    )
    .await
    .expect("server starts in time")
    .expect("server starts");
    let setup = Cluster::new("setup", &server.url, client(&server));
    let namespace_info = setup.resource("v1", "Namespace").await.expect("Namespaces");
    for namespace in ["argocd", "kube-system"] {
        setup
            .apply(
                &namespace_info,
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
                true,
                false,
            )
            .await
            .expect("namespace");
    }
    let start = |name: &'static str| {
        let config = EngineConfig {
            cache_dir: root.join(format!("cache-{name}")),
            workers: 2,
            sealed_secrets: Some(flotilla_engine::sealed::SealedSecretsConfig {
                key_bits: 1024,
                ..Default::default()
            }),
            shard: Some(ShardConfig {
                identity: name.to_string(),
                lease_duration: LEASE,
                renew_deadline: RENEW_DEADLINE,
                retry_period: RETRY,
            }),
            ..EngineConfig::default()
        };
        Engine::start(
            Cluster::new("in-cluster", &server.url, client(&server)),
            config,
        )
    };
    // Together, as a Deployment's replicas start: they race to install the CRDs too.
    let (first, second, third) = tokio::join!(start("a"), start("b"), start("c"));
    let engines = [
        first.expect("engine starts"),
        second.expect("engine starts"),
        third.expect("engine starts"),
    ];
    let secrets = setup.resource("v1", "Secret").await.expect("Secrets");
    let keys = || async {
        setup
            .list(
                &secrets,
                Some("kube-system"),
                &flotilla_engine::cluster::list_params_with_labels(
                    flotilla_engine::sealed::KEY_LABEL,
                ),
            )
            .await
            .expect("list")["items"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let deadline = Instant::now() + CONVERGE;
    let certificates = loop {
        let certificates: Vec<Option<String>> = engines
            .iter()
            .map(|engine| {
                engine
                    .unsealer()
                    .and_then(|unsealer| unsealer.certificate_pem())
            })
            .collect();
        if keys().await > 0
            && certificates
                .iter()
                .all(|pem| pem.is_some() && *pem == certificates[0])
        {
            break certificates;
        }
        assert!(
            Instant::now() < deadline,
            "{} keys; certificates served: {:?}",
            keys().await,
            certificates.iter().map(Option::is_some).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(certificates.len(), 3);
    tokio::time::sleep(RENEW_DEADLINE + RETRY * 2).await;
    assert_eq!(keys().await, 1, "one sealing key for the three replicas");
    for engine in engines {
        engine.shutdown();
    }
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&root);
}
