//! A wave waited healthy: every object of it healthy (and a child Application's status current
//! for its spec), progress reported while it waits, a child that reports an error for the spec it
//! was given failing the wave after [`SETTLE`], and the wave timeout.
//!
//! Depends on `context`, `live`, `objects`, `model`, `gate`, `kind_waits` and `sync::control`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use flotilla_health::HealthStatus;
use serde_json::Value;

use crate::context::Shared;
use crate::live::LiveCache;
use crate::objects::live_object;

use super::control::{display_name, SyncControl, WaitError};

/// How long a child Application must report an error for its current spec before a wave stops
/// waiting for it: long enough for its controller to take in a change this sync made (its
/// project, its spec), short beside any wave timeout.
pub(crate) const SETTLE: Duration = Duration::from_secs(3);

/// Waits until every object is healthy (or has no health rule); Degraded fails the wave, and so
/// does a child Application that cannot become healthy (see the module documentation).
pub(super) async fn wait_healthy(
    shared: &Shared,
    cache: &LiveCache,
    objects: &[&Value],
    control: &SyncControl<'_>,
) -> Result<(), WaitError> {
    let deadline = Instant::now() + shared.config.wave_timeout;
    let mut reported: Option<String> = None;
    // Since when each child Application has reported an error for its current spec.
    let mut failing_since: HashMap<String, Instant> = HashMap::new();
    loop {
        if let Some(reason) = (control.interrupt)() {
            return Err(WaitError::Interrupted(reason));
        }
        let mut waiting_on: Option<String> = None;
        for object in objects {
            if is_application(object)
                && object["metadata"]["namespace"].as_str() == Some(control.own_application.0)
                && object["metadata"]["name"].as_str() == Some(control.own_application.1)
            {
                continue;
            }
            let live = live_object(cache, object);
            let Some(live) = live else {
                waiting_on = Some(format!("{} to appear", display_name(object)));
                break;
            };
            if let Some(error) = application_error(&live) {
                let since = *failing_since
                    .entry(display_name(object))
                    .or_insert_with(Instant::now);
                if since.elapsed() >= SETTLE {
                    return Err(WaitError::Failed(format!(
                        "{} cannot become healthy: {error}",
                        display_name(object)
                    )));
                }
            } else {
                failing_since.remove(&display_name(object));
            }
            if is_application(&live) && !application_status_is_current(&live) {
                waiting_on = Some(format!(
                    "{} to be reconciled with its new spec",
                    display_name(object)
                ));
                break;
            }
            match flotilla_health::assess(&live) {
                Some(health) if health.status == HealthStatus::Degraded => {
                    return Err(WaitError::Failed(format!(
                        "{} is Degraded: {}",
                        display_name(object),
                        health.message.unwrap_or_default()
                    )));
                }
                Some(health)
                    if matches!(
                        health.status,
                        HealthStatus::Progressing | HealthStatus::Missing | HealthStatus::Unknown
                    ) =>
                {
                    waiting_on = Some(format!(
                        "{} to become healthy ({})",
                        display_name(object),
                        health
                            .message
                            .unwrap_or_else(|| health.status.as_str().to_string())
                    ));
                    break;
                }
                _ => {}
            }
        }
        let Some(waiting_on) = waiting_on else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            return Err(WaitError::Failed(format!(
                "timed out after {:?} waiting for {waiting_on}",
                shared.config.wave_timeout
            )));
        }
        if reported.as_deref() != Some(waiting_on.as_str()) {
            control.report(format!("waiting for {waiting_on}"));
            reported = Some(waiting_on);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn is_application(object: &Value) -> bool {
    object["kind"] == "Application"
        && object["apiVersion"].as_str()
            == Some(&format!(
                "{}/{}",
                crate::model::GROUP,
                crate::model::VERSION
            ))
}

/// Whether a child Application's status is about the spec it has now: its
/// `status.sync.comparedTo` names its current source(s) and destination. Right after a sync
/// changed a child's spec, its status is still the one of the old spec, and its health says
/// nothing yet about the new one.
fn application_status_is_current(live: &Value) -> bool {
    let compared = &live["status"]["sync"]["comparedTo"];
    if !compared.is_object() {
        return false;
    }
    let spec = &live["spec"];
    let same = |left: &Value, right: &Value, fields: &[&str]| {
        fields
            .iter()
            .all(|field| left[field].as_str().unwrap_or("") == right[field].as_str().unwrap_or(""))
    };
    let source_fields = ["repoURL", "path", "targetRevision", "chart"];
    let sources_match = match spec["sources"].as_array() {
        Some(sources) => compared["sources"]
            .as_array()
            .is_some_and(|compared_sources| {
                compared_sources.len() == sources.len()
                    && sources
                        .iter()
                        .zip(compared_sources)
                        .all(|(source, compared_source)| {
                            same(compared_source, source, &source_fields)
                        })
            }),
        None => same(&compared["source"], &spec["source"], &source_fields),
    };
    sources_match
        && same(
            &compared["destination"],
            &spec["destination"],
            &["server", "name", "namespace"],
        )
}

/// The error a child Application reports for the spec it has now (an `…Error` or a
/// `GuardrailViolation` condition, with a current status): None for other objects, healthy
/// Applications, or a status not yet about the current spec. A child waiting for a kind to be served (`kind_waits`) can become healthy
/// by waiting: that condition is not such an error, and the wave waits for it as for any other.
fn application_error(live: &Value) -> Option<String> {
    if !is_application(live)
        || live["status"]["health"]["status"] == "Healthy"
        || !application_status_is_current(live)
    {
        return None;
    }
    live["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| {
            condition["type"].as_str().is_some_and(|kind| {
                kind.ends_with("Error") || kind == crate::gate::VIOLATION_CONDITION
            }) && !condition["message"]
                .as_str()
                .is_some_and(crate::kind_waits::is_waiting_message)
        })
        .map(|condition| {
            format!(
                "{}: {}",
                condition["type"].as_str().unwrap_or(""),
                condition["message"].as_str().unwrap_or("")
            )
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn child(condition: Value) -> Value {
        let source = json!({"repoURL": "https://git.example.com/r.git", "path": "events", "targetRevision": "main"});
        let destination =
            json!({"server": "https://kubernetes.default.svc", "namespace": "streams"});
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "events", "namespace": "argocd"},
            "spec": {"source": source, "destination": destination},
            "status": {
                "sync": {"status": "OutOfSync", "comparedTo": {"source": source, "destination": destination}},
                "health": {"status": "Missing"},
                "conditions": [condition]
            }
        })
    }

    #[test]
    fn a_child_waiting_for_a_kind_is_waited_for_and_a_failing_one_is_not() {
        let waiting = crate::kind_waits::WaitingKind {
            api_version: "eventstreams.ibm.com/v1beta2".into(),
            kind: "KafkaTopic".into(),
            objects: vec!["KafkaTopic/orders".into()],
        };
        let message = crate::kind_waits::condition_message(&waiting);
        assert_eq!(
            application_error(&child(
                json!({"type": "ComparisonError", "message": message})
            )),
            None
        );
        assert_eq!(
            application_error(&child(
                json!({"type": "ComparisonError", "message": "rpc error: unable to resolve 'main' to a commit SHA"})
            ))
            .as_deref(),
            Some("ComparisonError: rpc error: unable to resolve 'main' to a commit SHA")
        );
    }
}
