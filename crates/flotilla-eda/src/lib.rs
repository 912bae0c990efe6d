//! Event-driven guardrails, pure: no cluster, no network, no clock.
//!
//! [`evaluate`] runs every rule on a [`Change`] — the objects before (the previous Git revision
//! or the live objects) and after (the new desired objects), plus what the caller knows of the
//! context (objects that would be pruned, the cluster's operator versions) — and returns
//! [`Finding`]s: a rule id, a severity (`block`, `warn`), the object, the field path, what
//! happens if the change is applied and what to do instead. A finding on an object whose
//! annotation `flotilla.dev/allow` lists its rule id is kept, marked overridden, and blocks
//! nothing.
//!
//! Modules: `finding` (the finding model, overrides, the verdict), `objects` (object identity
//! and the pairing of before/after objects), `kafka` (KafkaTopic, Kafka, KafkaNodePool,
//! EventStreams, KafkaUser rules for `kafka.strimzi.io` v1beta2/v1 and `eventstreams.ibm.com`),
//! `licence` (EventStreams and QueueManager licences against `flotilla-catalog`'s licence data),
//! `api_version` (manifests in API versions the installed operator no longer serves),
//! `schema` (schema compatibility), `subjects` (the repository's schema subjects checked at
//! their level when a change edits them), `asyncapi` (AsyncAPI documents against the objects),
//! `topology` (the event topology).
//!
//! Invariants: rules never panic on any input (objects are untyped JSON; a field of the wrong
//! type is a finding of its own or skipped, never an unwrap); findings come out in a stable
//! order (object, rule, path), so output and tests are deterministic.

pub mod api_version;
pub mod asyncapi;
pub mod finding;
pub mod kafka;
pub mod licence;
pub mod objects;
pub mod schema;
pub mod subjects;
pub mod topology;

pub use finding::{Finding, Severity, Verdict, ALLOW_ANNOTATION};
pub use objects::{Change, ObjectId};

/// Runs every rule on `change` and returns the findings, overrides applied, in a stable order.
pub fn evaluate(change: &Change) -> Vec<Finding> {
    let mut findings = Vec::new();
    kafka::check(change, &mut findings);
    licence::check(change, &mut findings);
    api_version::check(change, &mut findings);
    asyncapi::check(change, &mut findings);
    subjects::check(change, &mut findings);
    findings.sort_by(|left, right| {
        (&left.object, &left.rule, &left.path).cmp(&(&right.object, &right.rule, &right.path))
    });
    finding::apply_overrides(change, &mut findings);
    findings
}
