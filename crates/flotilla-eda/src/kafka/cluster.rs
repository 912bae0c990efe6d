//! Kafka, KafkaNodePool and EventStreams rules. What a change does to a cluster: `version` and
//! the metadata version (or `inter.broker.protocol.version` / `log.message.format.version`)
//! moved together (no way back), the metadata version lowered, storage Strimzi cannot change
//! (`storage.rs`), brokers removed while they hold partitions, the KRaft controllers changed.
//! What a state must hold: listener names and ports Strimzi accepts, replication factors the
//! brokers can satisfy, JBOD volume ids that are unique.
//!
//! An EventStreams holds a Strimzi `Kafka` spec under `spec.strimziOverrides` and its node pools
//! under `spec.strimziOverrides.nodePools` (matched by `name`); findings about them are on the
//! EventStreams. A KafkaNodePool's findings are on the pool.

use crate::objects::Field;
use serde_json::Value;

use crate::finding::{new_findings, Finding, Severity};
use crate::kafka::storage::{self, StorageIssue};
use crate::kafka::{
    cluster_label, config_integer, config_path, describe, integer, scalar_text, ClusterView, Index,
    Pool, KAFKA_GROUPS,
};
use crate::objects::{Change, ObjectId};

pub use crate::kafka::storage::{
    STORAGE_CLASS_CHANGED, STORAGE_SIZE_DECREASED, STORAGE_TYPE_CHANGED,
    STORAGE_VOLUME_IDS_CHANGED, STORAGE_VOLUME_ID_DUPLICATED,
};

/// `version` and the metadata version changed in one change.
pub const VERSION_AND_METADATA_CHANGED: &str = "kafka-cluster-version-and-metadata-changed";
/// `metadataVersion` lowered.
pub const METADATA_VERSION_LOWERED: &str = "kafka-cluster-metadata-version-lowered";
/// Fewer brokers (a broker pool's replicas, `spec.kafka.replicas`, a broker pool removed).
pub const BROKER_SCALE_DOWN: &str = "kafka-cluster-broker-scale-down";
/// The KRaft controllers changed (a controller pool's replicas or roles, a pool added or
/// removed).
pub const CONTROLLER_CHANGED: &str = "kafka-cluster-controller-changed";
/// A listener name or port Strimzi refuses.
pub const LISTENER_INVALID: &str = "kafka-cluster-listener-invalid";
/// Two listeners with one name or one port.
pub const LISTENER_DUPLICATED: &str = "kafka-cluster-listener-duplicated";
/// A replication factor in the broker configuration above the broker count.
pub const REPLICATION_FACTOR_ABOVE_BROKERS: &str = "kafka-cluster-replication-factor-above-brokers";

/// Strimzi's listener name pattern (`^[a-z0-9]{1,11}$`).
const LISTENER_NAME_MAX: usize = 11;
/// The lowest listener port (9090 and 9091 are the control plane and replication listeners).
const LOWEST_LISTENER_PORT: i64 = 9092;
/// Ports Strimzi keeps for itself: 9404 (Prometheus JMX exporter), 9999 (JMX).
const RESERVED_PORTS: [(i64, &str); 2] = [(9404, "the Prometheus JMX exporter"), (9999, "JMX")];

const SCALE_DOWN_HINT: &str = "move the partitions off the brokers that go first (a KafkaRebalance in mode `remove-brokers`, with Cruise Control, or kafka-reassign-partitions), then lower the broker count in a change of its own";
const CONTROLLER_HINT: &str = "keep the KRaft controllers as they are; change the controller quorum only by Strimzi's documented procedure for it, in a change of its own";

pub(crate) fn check(
    change: &Change,
    before_index: &Index<'_>,
    after_index: &Index<'_>,
    findings: &mut Vec<Finding>,
) {
    for (id, before, after) in change
        .pairs(KAFKA_GROUPS, "Kafka")
        .into_iter()
        .chain(change.pairs(KAFKA_GROUPS, "EventStreams"))
    {
        let (Some(before), Some(after)) = (before, after) else {
            continue;
        };
        let (Some(old), Some(new)) = (ClusterView::of(id, before), ClusterView::of(id, after))
        else {
            continue;
        };
        versions(&old, &new, findings);
        cluster_storage(after_index, &old, &new, findings);
        cluster_replicas(after_index, &old, &new, findings);
        inline_pools(before_index, after_index, &old, &new, findings);
    }
    node_pools(change, findings);
    let mut before = Vec::new();
    check_state(before_index, &mut before);
    let mut after = Vec::new();
    check_state(after_index, &mut after);
    findings.extend(new_findings(before, after));
}

/// The rules about one state of the clusters.
pub(crate) fn check_state(index: &Index<'_>, findings: &mut Vec<Finding>) {
    let objects = index.objects;
    for cluster in index.clusters() {
        listeners(cluster, findings);
        replication_factors(index, cluster, findings);
        if let Some(issue) = storage::duplicate_ids(
            cluster.kafka().at("storage"),
            &cluster.kafka_path("storage"),
        ) {
            push_issue(findings, cluster.id, issue);
        }
        if cluster.id.kind() == "EventStreams" {
            for pool in index
                .pools_of(cluster)
                .iter()
                .filter(|pool| pool.owner == cluster.id)
            {
                if let Some(issue) = storage::duplicate_ids(
                    pool.spec.at("storage"),
                    &format!("{}.storage", pool.path),
                ) {
                    push_issue(findings, cluster.id, issue);
                }
            }
        }
    }
    for (id, pool) in objects
        .iter()
        .filter(|(id, _)| id.kind() == "KafkaNodePool" && KAFKA_GROUPS.contains(&id.group()))
    {
        if let Some(issue) = storage::duplicate_ids(pool.at("spec").at("storage"), "spec.storage") {
            push_issue(findings, id, issue);
        }
    }
}

fn push_issue(findings: &mut Vec<Finding>, id: &ObjectId, issue: StorageIssue) {
    findings.push(Finding::new(
        issue.rule,
        Severity::Block,
        id,
        &issue.path,
        issue.message,
        issue.hint,
    ));
}

/// A KRaft metadata version (`3.9-IV0`, `3.9`) as (major, minor, IV), the IV absent in the
/// short form.
pub fn parse_metadata_version(text: &str) -> Option<(u64, u64, Option<u64>)> {
    let (release, iv) = match text.trim().split_once("-IV") {
        Some((release, iv)) => (release, Some(iv.parse().ok()?)),
        None => (text.trim(), None),
    };
    let mut parts = release.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor, iv))
}

/// Whether metadata version `new` is lower than `old` (`None` when they cannot be compared: a
/// short form against a long one of the same release).
pub fn metadata_version_lower(old: &str, new: &str) -> Option<bool> {
    let (old, new) = (parse_metadata_version(old)?, parse_metadata_version(new)?);
    match (old.0, old.1).cmp(&(new.0, new.1)) {
        std::cmp::Ordering::Greater => Some(true),
        std::cmp::Ordering::Less => Some(false),
        std::cmp::Ordering::Equal => match (old.2, new.2) {
            (Some(old), Some(new)) => Some(new < old),
            _ => None,
        },
    }
}

/// Reads one field of a cluster as text.
type ReadField = fn(&ClusterView<'_>) -> Option<String>;

fn versions(old: &ClusterView<'_>, new: &ClusterView<'_>, findings: &mut Vec<Finding>) {
    let id = new.id;
    let version = |cluster: &ClusterView<'_>| scalar_text(cluster.kafka().at("version"));
    let metadata_fields: [(&str, String, ReadField); 3] = [
        (
            "metadataVersion",
            new.kafka_path("metadataVersion"),
            |cluster| scalar_text(cluster.kafka().at("metadataVersion")),
        ),
        (
            "inter.broker.protocol.version",
            config_path(&new.kafka_path("config"), "inter.broker.protocol.version"),
            |cluster| scalar_text(cluster.config().at("inter.broker.protocol.version")),
        ),
        (
            "log.message.format.version",
            config_path(&new.kafka_path("config"), "log.message.format.version"),
            |cluster| scalar_text(cluster.config().at("log.message.format.version")),
        ),
    ];
    if let (Some(old_metadata), Some(new_metadata)) = (
        scalar_text(old.kafka().at("metadataVersion")),
        scalar_text(new.kafka().at("metadataVersion")),
    ) {
        if metadata_version_lower(&old_metadata, &new_metadata) == Some(true) {
            findings.push(Finding::new(
                METADATA_VERSION_LOWERED,
                Severity::Block,
                id,
                &new.kafka_path("metadataVersion"),
                format!("metadataVersion is lowered from {old_metadata} to {new_metadata}: Kafka refuses to lower the metadata version of a running cluster when the metadata format changed between the two, and a lowered metadata version cannot be undone safely, so the operator reports an error and the cluster stays on {old_metadata}"),
                format!("keep metadataVersion at {old_metadata}; a Kafka downgrade is possible only to a version whose metadata version is at least {old_metadata}"),
            ));
        }
    }
    let (Some(old_version), Some(new_version)) = (version(old), version(new)) else {
        return;
    };
    if old_version == new_version {
        return;
    }
    for (field, path, read) in metadata_fields {
        let (before, after) = (read(old), read(new));
        if before == after {
            continue;
        }
        let show = |value: &Option<String>| value.clone().unwrap_or_else(|| "unset".to_string());
        findings.push(Finding::new(
            VERSION_AND_METADATA_CHANGED,
            Severity::Block,
            id,
            &path,
            format!("version changes from {old_version} to {new_version} and {field} from {} to {} in the same change: once the brokers run with the new {field} the cluster cannot go back to {old_version}, so a problem with {new_version} found after the upgrade cannot be rolled back", show(&before), show(&after)),
            format!("change `version` alone first ({field} stays {}) and let the cluster run on {new_version}; move {field} in a later change, once going back is no longer needed", show(&before)),
        ));
        return;
    }
}

fn storage_findings(findings: &mut Vec<Finding>, id: &ObjectId, issues: Vec<StorageIssue>) {
    for issue in issues {
        push_issue(findings, id, issue);
    }
}

fn cluster_storage(
    after_index: &Index<'_>,
    old: &ClusterView<'_>,
    new: &ClusterView<'_>,
    findings: &mut Vec<Finding>,
) {
    // With node pools, Strimzi reads each pool's storage and ignores `spec.kafka.storage`.
    if !after_index.uses_node_pools(new) {
        storage_findings(
            findings,
            new.id,
            storage::diff(
                old.kafka().at("storage"),
                new.kafka().at("storage"),
                &new.kafka_path("storage"),
            ),
        );
    }
    storage_findings(
        findings,
        new.id,
        storage::diff(
            old.root.at("zookeeper").at("storage"),
            new.root.at("zookeeper").at("storage"),
            &format!("{}.zookeeper.storage", new.root_path),
        ),
    );
}

fn cluster_replicas(
    after_index: &Index<'_>,
    old: &ClusterView<'_>,
    new: &ClusterView<'_>,
    findings: &mut Vec<Finding>,
) {
    if after_index.uses_node_pools(new) {
        return;
    }
    let (Some(before), Some(after)) = (
        crate::kafka::count(old.kafka().at("replicas")),
        crate::kafka::count(new.kafka().at("replicas")),
    ) else {
        return;
    };
    if after < before {
        findings.push(Finding::new(
            BROKER_SCALE_DOWN,
            Severity::Block,
            new.id,
            &new.kafka_path("replicas"),
            scale_down_message(&format!("{} scales down", describe(new)), before, after),
            SCALE_DOWN_HINT,
        ));
    }
}

fn scale_down_message(what: &str, before: i64, after: i64) -> String {
    format!("{what} from {before} to {after} brokers: Strimzi refuses to remove brokers that still hold partition replicas (its scale-down check), so the cluster reports an error and keeps them; with the check skipped (`strimzi.io/skip-broker-scaledown-check`) the replicas on the removed brokers are lost")
}

/// Compares one node pool before and after: storage, broker scale-down, controller changes.
fn pool_diff(old: &Pool<'_>, new: &Pool<'_>, findings: &mut Vec<Finding>) {
    let id = new.owner;
    storage_findings(
        findings,
        id,
        storage::diff(
            old.spec.at("storage"),
            new.spec.at("storage"),
            &format!("{}.storage", new.path),
        ),
    );
    let (old_roles, new_roles) = (sorted(old.roles()), sorted(new.roles()));
    if old_roles != new_roles && !old_roles.is_empty() && !new_roles.is_empty() {
        findings.push(Finding::new(
            CONTROLLER_CHANGED,
            Severity::Block,
            id,
            &format!("{}.roles", new.path),
            format!("the node pool `{}` changes roles from [{}] to [{}]: Strimzi does not change the roles of existing nodes; taking the controller role from or giving it to running nodes changes the KRaft controller quorum, which Strimzi does not do in place, so the change fails or the quorum is lost", new.name, old_roles.join(", "), new_roles.join(", ")),
            "keep the pool's roles; to move roles, add a new pool with the wanted roles and move brokers or controllers to it by Strimzi's procedure",
        ));
        return;
    }
    let (Some(before), Some(after)) = (old.replicas(), new.replicas()) else {
        return;
    };
    if before == after {
        return;
    }
    if new.has_role("controller") || old.has_role("controller") {
        findings.push(Finding::new(
            CONTROLLER_CHANGED,
            Severity::Block,
            id,
            &format!("{}.replicas", new.path),
            format!("the controller pool `{}` changes from {before} to {after} nodes: that changes the KRaft controller quorum, which Strimzi does not do in place for a static quorum, so the controllers can lose their quorum and the whole cluster stops", new.name),
            CONTROLLER_HINT,
        ));
    } else if new.has_role("broker") && after < before {
        findings.push(Finding::new(
            BROKER_SCALE_DOWN,
            Severity::Block,
            id,
            &format!("{}.replicas", new.path),
            scale_down_message(
                &format!("the broker pool `{}` scales down", new.name),
                before,
                after,
            ),
            SCALE_DOWN_HINT,
        ));
    }
}

fn sorted(mut roles: Vec<&str>) -> Vec<&str> {
    roles.sort_unstable();
    roles.dedup();
    roles
}

/// A pool that goes away (removed and pruned) or arrives in a running cluster.
fn pool_gone_or_new(pool: &Pool<'_>, gone: bool, findings: &mut Vec<Finding>) {
    let path = if pool.path == "spec" {
        String::new()
    } else {
        pool.path.clone()
    };
    if pool.has_role("controller") {
        let what = if gone {
            "is removed"
        } else {
            "is added to a running cluster"
        };
        findings.push(Finding::new(
            CONTROLLER_CHANGED,
            Severity::Block,
            pool.owner,
            &path,
            format!("the controller pool `{}` {what}: that changes the KRaft controller quorum, which Strimzi does not do in place for a static quorum, so the controllers can lose their quorum and the whole cluster stops", pool.name),
            CONTROLLER_HINT,
        ));
    } else if gone && pool.has_role("broker") {
        let replicas = pool.replicas().unwrap_or(0);
        findings.push(Finding::new(
            BROKER_SCALE_DOWN,
            Severity::Block,
            pool.owner,
            &path,
            scale_down_message(
                &format!(
                    "the broker pool `{}` is removed, which scales it",
                    pool.name
                ),
                replicas,
                0,
            ),
            SCALE_DOWN_HINT,
        ));
    }
}

/// Whether Argo CD's per-object sync option keeps the object when pruning.
fn prune_disabled(object: &Value) -> bool {
    object
        .at("metadata")
        .at("annotations")
        .at("argocd.argoproj.io/sync-options")
        .as_str()
        .is_some_and(|options| {
            options
                .split(',')
                .any(|option| option.trim() == "Prune=false")
        })
}

fn node_pool<'a>(id: &'a ObjectId, object: &'a Value) -> Pool<'a> {
    Pool {
        owner: id,
        name: id.name().to_string(),
        path: "spec".to_string(),
        spec: object.at("spec"),
    }
}

/// The KafkaNodePool objects of the change.
fn node_pools(change: &Change, findings: &mut Vec<Finding>) {
    for (id, before, after) in change.pairs(KAFKA_GROUPS, "KafkaNodePool") {
        let pool = |object| node_pool(id, object);
        match (before, after) {
            (Some(before), Some(after)) => pool_diff(&pool(before), &pool(after), findings),
            (Some(before), None) => {
                if change.prune && !prune_disabled(before) {
                    pool_gone_or_new(&pool(before), true, findings);
                }
            }
            (None, Some(after)) => {
                // A controller pool added to a cluster that already runs.
                let runs = cluster_label(id, after).is_some_and(|name| {
                    change.before.keys().any(|other| {
                        (other.kind() == "Kafka" || other.kind() == "EventStreams")
                            && other.group() == id.group()
                            && other.namespace() == id.namespace()
                            && other.name() == name
                    })
                });
                if runs {
                    pool_gone_or_new(&pool(after), false, findings);
                }
            }
            (None, None) => {}
        }
    }
}

/// The node pools an EventStreams holds inline, matched by name.
fn inline_pools(
    before_index: &Index<'_>,
    after_index: &Index<'_>,
    old: &ClusterView<'_>,
    new: &ClusterView<'_>,
    findings: &mut Vec<Finding>,
) {
    if new.id.kind() != "EventStreams"
        || !crate::kafka::inline_pools_readable(old)
        || !crate::kafka::inline_pools_readable(new)
    {
        return;
    }
    let old_pools: Vec<Pool<'_>> = before_index
        .pools_of(old)
        .into_iter()
        .filter(|pool| pool.owner == old.id)
        .collect();
    let new_pools: Vec<Pool<'_>> = after_index
        .pools_of(new)
        .into_iter()
        .filter(|pool| pool.owner == new.id)
        .collect();
    for new_pool in &new_pools {
        match old_pools.iter().find(|pool| pool.name == new_pool.name) {
            Some(old_pool) => pool_diff(old_pool, new_pool, findings),
            None => pool_gone_or_new(new_pool, false, findings),
        }
    }
    for old_pool in old_pools
        .iter()
        .filter(|pool| !new_pools.iter().any(|new_pool| new_pool.name == pool.name))
    {
        // Findings are on the EventStreams, at the pool list.
        let mut gone = old_pool.clone();
        gone.path = format!("{}.nodePools", new.root_path);
        pool_gone_or_new(&gone, true, findings);
    }
}

fn listeners(cluster: &ClusterView<'_>, findings: &mut Vec<Finding>) {
    let Some(listeners) = cluster.kafka().at("listeners").as_array() else {
        return;
    };
    let mut names: Vec<(usize, &str)> = Vec::new();
    let mut ports: Vec<(usize, i64)> = Vec::new();
    for (index, listener) in listeners.iter().enumerate() {
        let base = cluster.kafka_path(&format!("listeners[{index}]"));
        let name = listener.at("name").as_str();
        match name {
            Some(name) => {
                names.push((index, name));
                if name.is_empty()
                    || name.len() > LISTENER_NAME_MAX
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                {
                    findings.push(Finding::new(
                        LISTENER_INVALID,
                        Severity::Block,
                        cluster.id,
                        &format!("{base}.name"),
                        format!("the listener name `{name}` does not match Strimzi's pattern ^[a-z0-9]{{1,11}}$: Strimzi refuses the listener configuration and does not reconcile {} (NotReady)", describe(cluster)),
                        "name the listener with 1 to 11 lowercase letters or digits (`plain`, `tls`, `external1`)",
                    ));
                }
            }
            None => findings.push(Finding::new(
                LISTENER_INVALID,
                Severity::Block,
                cluster.id,
                &format!("{base}.name"),
                format!("listener {index} has no name: Strimzi refuses the listener configuration and does not reconcile {}", describe(cluster)),
                "name every listener with 1 to 11 lowercase letters or digits",
            )),
        }
        let shown = name.map_or_else(|| format!("{index}"), |name| format!("`{name}`"));
        match integer(listener.at("port")) {
            Some(port) => {
                ports.push((index, port));
                let reserved = RESERVED_PORTS
                    .iter()
                    .find(|(reserved, _)| *reserved == port)
                    .map(|(_, user)| *user);
                let why = if let Some(user) = reserved {
                    Some(format!("{port} is taken by {user}"))
                } else if port < LOWEST_LISTENER_PORT {
                    Some(format!(
                        "ports below {LOWEST_LISTENER_PORT} are Kafka's own (9090 control plane, 9091 replication)"
                    ))
                } else {
                    None
                };
                if let Some(why) = why {
                    findings.push(Finding::new(
                        LISTENER_INVALID,
                        Severity::Block,
                        cluster.id,
                        &format!("{base}.port"),
                        format!("listener {shown} uses port {port}: {why}, and Strimzi refuses it (\"port {port} is forbidden and cannot be used\") and does not reconcile {}", describe(cluster)),
                        "use a port of 9092 or above other than 9404 and 9999, unique among the listeners",
                    ));
                }
            }
            None => findings.push(Finding::new(
                LISTENER_INVALID,
                Severity::Block,
                cluster.id,
                &format!("{base}.port"),
                format!("listener {shown} has no port number: Strimzi refuses the listener configuration"),
                "give every listener a port of 9092 or above other than 9404 and 9999",
            )),
        }
    }
    let mut seen_names: Vec<&str> = Vec::new();
    for (index, name) in names {
        if seen_names.contains(&name) {
            findings.push(Finding::new(
                LISTENER_DUPLICATED,
                Severity::Block,
                cluster.id,
                &cluster.kafka_path(&format!("listeners[{index}].name")),
                format!("two listeners are named `{name}`: Strimzi needs a unique name per listener, refuses the listener configuration and does not reconcile {}", describe(cluster)),
                "give every listener its own name",
            ));
        } else {
            seen_names.push(name);
        }
    }
    let mut seen_ports: Vec<i64> = Vec::new();
    for (index, port) in ports {
        if seen_ports.contains(&port) {
            findings.push(Finding::new(
                LISTENER_DUPLICATED,
                Severity::Block,
                cluster.id,
                &cluster.kafka_path(&format!("listeners[{index}].port")),
                format!("two listeners use port {port}: Strimzi needs a unique port per listener, refuses the listener configuration and does not reconcile {}", describe(cluster)),
                "give every listener its own port",
            ));
        } else {
            seen_ports.push(port);
        }
    }
}

fn replication_factors(index: &Index<'_>, cluster: &ClusterView<'_>, findings: &mut Vec<Finding>) {
    let Some(brokers) = index.broker_count(cluster) else {
        return;
    };
    let config = cluster.config();
    let keys: [(&str, &str); 3] = [
        ("default.replication.factor", "topics created without a replication factor (auto-created topics, KafkaTopics without `spec.replicas`) cannot be created"),
        ("offsets.topic.replication.factor", "the consumer offsets topic cannot be created, so consumer groups cannot commit offsets"),
        ("transaction.state.log.replication.factor", "the transaction state topic cannot be created, so transactional producers fail"),
    ];
    for (key, what) in keys {
        let Some(factor) = config_integer(config.at(key)) else {
            continue;
        };
        if factor > brokers {
            findings.push(Finding::new(
                REPLICATION_FACTOR_ABOVE_BROKERS,
                Severity::Block,
                cluster.id,
                &config_path(&cluster.kafka_path("config"), key),
                format!(
                    "{key} is {factor} but {} has {brokers} brokers: {what}",
                    describe(cluster)
                ),
                format!("set {key} to at most {brokers}, or add brokers first"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_versions_compare_by_release_then_iv() {
        assert_eq!(metadata_version_lower("3.9-IV0", "3.8-IV0"), Some(true));
        assert_eq!(metadata_version_lower("3.8-IV0", "3.9-IV0"), Some(false));
        assert_eq!(metadata_version_lower("3.9-IV1", "3.9-IV0"), Some(true));
        assert_eq!(metadata_version_lower("4.0", "3.9-IV0"), Some(true));
        assert_eq!(metadata_version_lower("3.9", "3.9-IV0"), None);
        assert_eq!(metadata_version_lower("x", "3.9-IV0"), None);
        assert_eq!(metadata_version_lower("3.10-IV0", "3.9-IV3"), Some(true));
        assert_eq!(parse_metadata_version("3.9-IVx"), None);
    }
}
