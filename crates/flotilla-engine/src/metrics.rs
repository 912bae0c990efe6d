//! The engine's Prometheus metrics, kept as plain atomics and rendered in the text exposition
//! format: `flotilla_app_info` (one series per Application with its sync and health status),
//! `flotilla_app_sync_total{name,namespace,phase}`, `flotilla_app_reconcile_seconds` (histogram),
//! `flotilla_drift_repairs_total{namespace,name,kind}`, `flotilla_git_fetch_duration_seconds`
//! (histogram of the `git ls-remote`/`fetch` round that resolves a revision),
//! `flotilla_git_fetch_failures_total{repo}`, `flotilla_guardrail_findings_total{rule,severity}`
//! (the pre-sync gate's findings, severity `block`, `warn` or `overridden`),
//! `flotilla_shard_owned_applications{shard}` and `flotilla_shard_members{shard}` (when the
//! Applications are sharded over replicas) and `flotilla_build_info{version}`.
//!
//! Depends on no other module of the engine.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppInfo {
    pub project: String,
    pub sync_status: String,
    pub health_status: String,
    pub repository: String,
    pub destination_server: String,
    pub destination_namespace: String,
}

#[derive(Default)]
pub struct Metrics {
    apps: Mutex<BTreeMap<(String, String), AppInfo>>,
    syncs: Mutex<BTreeMap<(String, String, String), u64>>,
    reconcile: Histogram,
    drift_repairs: Mutex<BTreeMap<(String, String, String), u64>>,
    git_fetch: Histogram,
    git_failures: Mutex<BTreeMap<String, u64>>,
    guardrail_findings: Mutex<BTreeMap<(String, String), u64>>,
    /// This replica's identity, the Applications it owns and the live members (sharding on).
    shard: Mutex<Option<ShardGauges>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardGauges {
    pub identity: String,
    pub owned_applications: u64,
    pub members: u64,
}

/// A histogram over `BUCKETS` (seconds).
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, text: &mut String, name: &str, help: &str) {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                text,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(text, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            text,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(text, "{name}_count {count}");
    }
}

impl Metrics {
    pub fn set_app(&self, namespace: &str, name: &str, info: AppInfo) {
        self.apps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert((namespace.to_string(), name.to_string()), info);
    }

    pub fn remove_app(&self, namespace: &str, name: &str) {
        self.apps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&(namespace.to_string(), name.to_string()));
    }

    pub fn count_sync(&self, namespace: &str, name: &str, phase: &str) {
        *self
            .syncs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry((namespace.to_string(), name.to_string(), phase.to_string()))
            .or_default() += 1;
    }

    pub fn observe_reconcile(&self, elapsed: Duration) {
        self.reconcile.observe(elapsed);
    }

    /// `objects` objects of `kind` re-applied for the Application `namespace/name`.
    pub fn count_drift_repair(&self, namespace: &str, name: &str, kind: &str, objects: u64) {
        *self
            .drift_repairs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry((namespace.to_string(), name.to_string(), kind.to_string()))
            .or_default() += objects;
    }

    /// Objects re-applied because they drifted, over every Application and kind.
    pub fn drift_repairs(&self) -> u64 {
        self.drift_repairs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .sum()
    }

    /// One resolution of a revision against its repository (`git ls-remote`, a fetch).
    pub fn observe_git_fetch(&self, repository: &str, elapsed: Duration, succeeded: bool) {
        self.git_fetch.observe(elapsed);
        if !succeeded {
            *self
                .git_failures
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .entry(repository.to_string())
                .or_default() += 1;
        }
    }

    /// One finding of the pre-sync gate (`severity`: `block`, `warn` or `overridden`).
    pub fn count_guardrail_finding(&self, rule: &str, severity: &str) {
        *self
            .guardrail_findings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry((rule.to_string(), severity.to_string()))
            .or_default() += 1;
    }

    /// Applications that are Synced and have had a successful sync (what a benchmark or a
    /// readiness probe waits for), without reading them from the cluster.
    pub fn synced_applications(&self) -> usize {
        let syncs = self
            .syncs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.apps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .filter(|((namespace, name), info)| {
                info.sync_status == "Synced"
                    && syncs.contains_key(&(
                        namespace.clone(),
                        name.clone(),
                        "Succeeded".to_string(),
                    ))
            })
            .count()
    }

    /// This replica's share (`shard`), as the gauges show it.
    pub fn set_shard(&self, gauges: ShardGauges) {
        *self
            .shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(gauges);
    }

    /// The shard gauges, when sharding is on.
    pub fn shard(&self) -> Option<ShardGauges> {
        self.shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn reconciles(&self) -> u64 {
        self.reconcile.count.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        text.push_str("# HELP flotilla_app_info Information about an Application.\n# TYPE flotilla_app_info gauge\n");
        for ((namespace, name), info) in self
            .apps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
        {
            let _ = writeln!(
                text,
                "flotilla_app_info{{namespace=\"{}\",name=\"{}\",project=\"{}\",repo=\"{}\",dest_server=\"{}\",dest_namespace=\"{}\",sync_status=\"{}\",health_status=\"{}\"}} 1",
                escape(namespace),
                escape(name),
                escape(&info.project),
                escape(&info.repository),
                escape(&info.destination_server),
                escape(&info.destination_namespace),
                escape(&info.sync_status),
                escape(&info.health_status)
            );
        }
        text.push_str("# HELP flotilla_app_sync_total Sync operations by result phase.\n# TYPE flotilla_app_sync_total counter\n");
        for ((namespace, name, phase), count) in self
            .syncs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
        {
            let _ = writeln!(
                text,
                "flotilla_app_sync_total{{namespace=\"{}\",name=\"{}\",phase=\"{}\"}} {count}",
                escape(namespace),
                escape(name),
                escape(phase)
            );
        }
        self.reconcile.render(
            &mut text,
            "flotilla_app_reconcile_seconds",
            "Time to reconcile one Application.",
        );
        text.push_str("# HELP flotilla_drift_repairs_total Objects re-applied because they drifted from Git.\n# TYPE flotilla_drift_repairs_total counter\n");
        for ((namespace, name, kind), count) in self
            .drift_repairs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
        {
            let _ = writeln!(
                text,
                "flotilla_drift_repairs_total{{namespace=\"{}\",name=\"{}\",kind=\"{}\"}} {count}",
                escape(namespace),
                escape(name),
                escape(kind)
            );
        }
        self.git_fetch.render(
            &mut text,
            "flotilla_git_fetch_duration_seconds",
            "Time to resolve a revision against its repository (ls-remote and fetch).",
        );
        text.push_str("# HELP flotilla_git_fetch_failures_total Revisions that could not be resolved, by repository.\n# TYPE flotilla_git_fetch_failures_total counter\n");
        for (repository, count) in self
            .git_failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
        {
            let _ = writeln!(
                text,
                "flotilla_git_fetch_failures_total{{repo=\"{}\"}} {count}",
                escape(repository)
            );
        }
        text.push_str("# HELP flotilla_guardrail_findings_total Findings of the pre-sync gate, by rule and severity (block, warn, overridden).\n# TYPE flotilla_guardrail_findings_total counter\n");
        for ((rule, severity), count) in self
            .guardrail_findings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
        {
            let _ = writeln!(
                text,
                "flotilla_guardrail_findings_total{{rule=\"{}\",severity=\"{}\"}} {count}",
                escape(rule),
                escape(severity)
            );
        }
        if let Some(shard) = self.shard() {
            let identity = escape(&shard.identity);
            let _ = writeln!(
                text,
                "# HELP flotilla_shard_owned_applications Applications this replica owns.\n# TYPE flotilla_shard_owned_applications gauge\nflotilla_shard_owned_applications{{shard=\"{identity}\"}} {}",
                shard.owned_applications
            );
            let _ = writeln!(
                text,
                "# HELP flotilla_shard_members Live replicas sharing the Applications, as this replica sees them.\n# TYPE flotilla_shard_members gauge\nflotilla_shard_members{{shard=\"{identity}\"}} {}",
                shard.members
            );
        }
        let _ = writeln!(
            text,
            "# HELP flotilla_build_info The running flotilla's version.\n# TYPE flotilla_build_info gauge\nflotilla_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        text
    }
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_exposition_format() {
        let metrics = Metrics::default();
        metrics.set_app(
            "argocd",
            "web",
            AppInfo {
                project: "default".into(),
                sync_status: "Synced".into(),
                health_status: "Healthy".into(),
                ..AppInfo::default()
            },
        );
        metrics.count_sync("argocd", "web", "Succeeded");
        metrics.observe_reconcile(Duration::from_millis(3));
        metrics.count_drift_repair("argocd", "web", "Deployment", 2);
        metrics.observe_git_fetch(
            "https://git.example.com/a.git",
            Duration::from_millis(20),
            false,
        );
        metrics.count_guardrail_finding("kafka-topic-partitions-decreased", "block");
        assert!(!metrics
            .render()
            .contains("flotilla_shard_owned_applications"));
        metrics.set_shard(ShardGauges {
            identity: "replica-a".into(),
            owned_applications: 7,
            members: 3,
        });
        let text = metrics.render();
        assert!(text.contains("flotilla_shard_owned_applications{shard=\"replica-a\"} 7"));
        assert!(text.contains("flotilla_shard_members{shard=\"replica-a\"} 3"));
        assert!(text.contains(
            "flotilla_guardrail_findings_total{rule=\"kafka-topic-partitions-decreased\",severity=\"block\"} 1"
        ));
        assert!(text
            .contains("flotilla_app_info{namespace=\"argocd\",name=\"web\",project=\"default\""));
        assert!(text.contains(
            "flotilla_app_sync_total{namespace=\"argocd\",name=\"web\",phase=\"Succeeded\"} 1"
        ));
        assert!(text.contains("flotilla_app_reconcile_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("flotilla_app_reconcile_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains(
            "flotilla_drift_repairs_total{namespace=\"argocd\",name=\"web\",kind=\"Deployment\"} 2"
        ));
        assert!(text.contains("flotilla_git_fetch_duration_seconds_bucket{le=\"0.025\"} 1"));
        assert!(text.contains(
            "flotilla_git_fetch_failures_total{repo=\"https://git.example.com/a.git\"} 1"
        ));
        assert!(text.contains("flotilla_build_info{version=\""));
    }
}
