//! The engine's Prometheus metrics, kept as plain atomics and rendered in the text exposition
//! format: `flotilla_app_info` (one series per Application with its sync and health status),
//! `flotilla_app_sync_total{name,namespace,phase}`, `flotilla_app_reconcile_seconds` (histogram),
//! `flotilla_drift_repairs_total` and `flotilla_reconciles_total`.

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
    reconcile_buckets: [AtomicU64; BUCKETS.len()],
    reconcile_count: AtomicU64,
    reconcile_sum_micros: AtomicU64,
    drift_repairs: AtomicU64,
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
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in self.reconcile_buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.reconcile_count.fetch_add(1, Ordering::Relaxed);
        self.reconcile_sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn count_drift_repair(&self, objects: u64) {
        self.drift_repairs.fetch_add(objects, Ordering::Relaxed);
    }

    pub fn drift_repairs(&self) -> u64 {
        self.drift_repairs.load(Ordering::Relaxed)
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

    pub fn reconciles(&self) -> u64 {
        self.reconcile_count.load(Ordering::Relaxed)
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
        text.push_str("# HELP flotilla_app_reconcile_seconds Time to reconcile one Application.\n# TYPE flotilla_app_reconcile_seconds histogram\n");
        for (bucket, bound) in self.reconcile_buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                text,
                "flotilla_app_reconcile_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.reconcile_count.load(Ordering::Relaxed);
        let _ = writeln!(
            text,
            "flotilla_app_reconcile_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            text,
            "flotilla_app_reconcile_seconds_sum {}",
            self.reconcile_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(text, "flotilla_app_reconcile_seconds_count {count}");
        text.push_str("# HELP flotilla_drift_repairs_total Objects re-applied because they drifted from Git.\n# TYPE flotilla_drift_repairs_total counter\n");
        let _ = writeln!(
            text,
            "flotilla_drift_repairs_total {}",
            self.drift_repairs()
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
        metrics.count_drift_repair(2);
        let text = metrics.render();
        assert!(text
            .contains("flotilla_app_info{namespace=\"argocd\",name=\"web\",project=\"default\""));
        assert!(text.contains(
            "flotilla_app_sync_total{namespace=\"argocd\",name=\"web\",phase=\"Succeeded\"} 1"
        ));
        assert!(text.contains("flotilla_app_reconcile_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("flotilla_app_reconcile_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("flotilla_drift_repairs_total 2"));
    }
}
