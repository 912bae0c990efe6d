//! Benchmark program (not a test): how long 20 Subscriptions take to reach CSV `Succeeded` in
//! the embedded OpenShift (`--openshift --simulate`), from the first write to the last CSV.
//! The Subscriptions name packages of the IBM catalog and the default Red Hat and community
//! catalogs, each in its own namespace with an OwnNamespace OperatorGroup, so every one resolves,
//! installs its CRDs, CSV and operator Deployment. Run with
//! `cargo bench -p flotilla-apiserver --bench olm [-- --rounds N --delay-ms D]`; prints a table
//! (median and range over the rounds, each on a fresh server) and writes it to BENCHMARKS.md
//! between the `<!-- olm-bench -->` markers. `--delay-ms` is the simulation's readiness delay
//! (a Deployment becomes Available after it; default 0, so the figure is OLM's own work).
//! No reference tool runs here: a real OLM on a cluster takes tens of seconds per operator
//! (pulling the bundle and operator images), which this does not simulate.

#[path = "../../../benches/benchmarks_md.rs"]
mod benchmarks_md;

use std::time::{Duration, Instant};

use flotilla_apiserver::openshift::OpenShiftConfig;
use flotilla_apiserver::rest::{self, WriteOptions};
use flotilla_apiserver::simulate::SimulationConfig;
use flotilla_apiserver::{serve, ServerConfig};
use flotilla_catalog::Catalog;
use serde_json::json;

struct Args {
    rounds: usize,
    delay_ms: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        rounds: 5,
        delay_ms: 0,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.windows(2) {
        match (pair[0].as_str(), pair[1].parse::<u64>().ok()) {
            ("--rounds", Some(value)) => args.rounds = value.max(1) as usize,
            ("--delay-ms", Some(value)) => args.delay_ms = value,
            _ => {}
        }
    }
    args
}

/// The 20 packages subscribed to: every package whose default channel's head supports
/// OwnNamespace, in name order, repeated (in other namespaces) to make 20.
fn subscriptions() -> Vec<(String, String, String)> {
    let catalog = Catalog::embedded();
    let packages: Vec<_> = catalog
        .packages
        .iter()
        .filter(|package| package.supports(flotilla_catalog::InstallModeType::OwnNamespace))
        .filter(|package| {
            matches!(
                package.catalog_source.as_str(),
                "ibm-operator-catalog"
                    | "redhat-operators"
                    | "community-operators"
                    | "certified-operators"
            )
        })
        .collect();
    (0..20)
        .map(|index| {
            let package = packages[index % packages.len()];
            (
                format!("bench-{index:02}"),
                package.name.clone(),
                package.catalog_source.clone(),
            )
        })
        .collect()
}

async fn one_round(delay: Duration) -> (Duration, usize) {
    let server = serve(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        insecure_http: true,
        openshift: Some(OpenShiftConfig::default()),
        simulate: Some(SimulationConfig { delay }),
        ..ServerConfig::default()
    })
    .await
    .expect("server starts");
    let state = server.state();
    let lookup = |group: &str, version: &str, plural: &str| {
        state
            .registry
            .lookup(group, version, plural)
            .expect("served")
    };
    let namespaces = lookup("", "v1", "namespaces");
    let sources = lookup("operators.coreos.com", "v1alpha1", "catalogsources");
    let groups = lookup("operators.coreos.com", "v1", "operatorgroups");
    let subscription_type = lookup("operators.coreos.com", "v1alpha1", "subscriptions");
    let options = WriteOptions::default();
    let wanted = subscriptions();
    let started = Instant::now();
    rest::create(
        state,
        &sources,
        Some("openshift-marketplace"),
        json!({"apiVersion": "operators.coreos.com/v1alpha1", "kind": "CatalogSource",
            "metadata": {"name": "ibm-operator-catalog", "namespace": "openshift-marketplace"},
            "spec": {"sourceType": "grpc", "image": "icr.io/cpopen/ibm-operator-catalog:latest"}}),
        &options,
    )
    .expect("catalog source");
    for (namespace, package, source) in &wanted {
        rest::create(
            state,
            &namespaces,
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
            &options,
        )
        .expect("namespace");
        rest::create(
            state,
            &groups,
            Some(namespace),
            json!({"apiVersion": "operators.coreos.com/v1", "kind": "OperatorGroup",
                "metadata": {"name": namespace, "namespace": namespace},
                "spec": {"targetNamespaces": [namespace]}}),
            &options,
        )
        .expect("operator group");
        rest::create(
            state,
            &subscription_type,
            Some(namespace),
            json!({"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription",
                "metadata": {"name": package, "namespace": namespace},
                "spec": {"name": package, "source": source, "sourceNamespace": "openshift-marketplace", "installPlanApproval": "Automatic"}}),
            &options,
        )
        .expect("subscription");
    }
    // Poll the store (cheap, in-process) until every Subscription has its CSV Succeeded.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let succeeded = wanted
            .iter()
            .filter(|(namespace, package, _)| {
                let subscription =
                    state
                        .store
                        .get("operators.coreos.com/subscriptions", namespace, package);
                let installed = subscription.as_ref().and_then(|subscription| {
                    subscription["status"]["installedCSV"]
                        .as_str()
                        .map(str::to_string)
                });
                installed.is_some_and(|csv| {
                    state
                        .store
                        .get(
                            "operators.coreos.com/clusterserviceversions",
                            namespace,
                            &csv,
                        )
                        .is_some_and(|csv| csv["status"]["phase"] == "Succeeded")
                })
            })
            .count();
        if succeeded == wanted.len() {
            break;
        }
        if Instant::now() >= deadline {
            for (namespace, package, _) in &wanted {
                let subscription =
                    state
                        .store
                        .get("operators.coreos.com/subscriptions", namespace, package);
                let csvs = state
                    .store
                    .list(
                        "operators.coreos.com/clusterserviceversions",
                        Some(namespace),
                    )
                    .0;
                eprintln!(
                    "{namespace}/{package}: {} CSVs {:?}",
                    subscription
                        .map(|object| object["status"].to_string())
                        .unwrap_or_default(),
                    csvs.iter()
                        .map(|csv| format!(
                            "{} {}",
                            csv["metadata"]["name"], csv["status"]["message"]
                        ))
                        .collect::<Vec<_>>()
                );
            }
            panic!(
                "only {succeeded} of {} Subscriptions reached CSV Succeeded in 120 s",
                wanted.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed();
    let objects: usize = state
        .store
        .storage_keys()
        .iter()
        .map(|key| state.store.list(key, None).0.len())
        .sum();
    server.shutdown().await;
    (elapsed, objects)
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let delay = Duration::from_millis(args.delay_ms);
    // The catalog is parsed once per process; a first round pays for it.
    let parse_started = Instant::now();
    let _ = Catalog::embedded();
    let parse = parse_started.elapsed();
    let mut times = Vec::new();
    let mut objects = 0;
    for _ in 0..args.rounds {
        let (elapsed, count) = runtime.block_on(one_round(delay));
        times.push(elapsed);
        objects = count;
    }
    times.sort();
    let median = times[times.len() / 2];
    let packages: std::collections::BTreeSet<String> = subscriptions()
        .into_iter()
        .map(|(_, package, _)| package)
        .collect();
    let table = format!(
        "## Embedded OLM: 20 Subscriptions to CSV Succeeded\n\n\
`cargo bench -p flotilla-apiserver --bench olm -- --rounds {rounds} --delay-ms {delay_ms}` (release, 2 tokio \
worker threads, in-process writes, a fresh server each round; the simulation makes a Deployment \
Available after {delay_ms} ms). 20 Subscriptions over {package_count} packages ({package_list}), each in its own \
namespace with an OwnNamespace OperatorGroup, created after the IBM CatalogSource; timed from the \
first write to the last CSV `Succeeded`.\n\n\
| measurement | value |\n| --- | --- |\n\
| 20 Subscriptions to CSV Succeeded, median of {rounds} | {median:.1} ms |\n\
| range | {min:.1}–{max:.1} ms |\n\
| objects in the store afterwards (CRDs, CSVs, InstallPlans, Deployments, Pods, …) | {objects} |\n\
| parsing the embedded catalog (once per process) | {parse:.1} ms |\n",
        rounds = args.rounds,
        delay_ms = args.delay_ms,
        package_count = packages.len(),
        package_list = packages.into_iter().collect::<Vec<_>>().join(", "),
        median = milliseconds(median),
        min = milliseconds(times[0]),
        max = milliseconds(times[times.len() - 1]),
        parse = milliseconds(parse),
    );
    println!("{table}");
    benchmarks_md::write("olm-bench", &table);
}
