//! Storage changes Strimzi cannot make, as its storage diff judges them: a change of storage
//! type, a smaller volume, another storage class (Strimzi keeps the current storage and ignores
//! the whole change), JBOD volumes removed (their replicas go offline unless moved first) or
//! sharing an id (refused). A storage spec is `{type: ephemeral|persistent-claim|jbod, size,
//! class, volumes: [{id, type, size, class}]}` under `spec.kafka.storage`,
//! `spec.zookeeper.storage`, a KafkaNodePool's `spec.storage` or an Event Streams node pool's.

use crate::objects::Field;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::kafka::integer;

/// The storage type changed (ephemeral, persistent-claim, jbod).
pub const STORAGE_TYPE_CHANGED: &str = "kafka-cluster-storage-type-changed";
/// A persistent volume's size lowered.
pub const STORAGE_SIZE_DECREASED: &str = "kafka-cluster-storage-size-decreased";
/// A persistent volume's storage class changed.
pub const STORAGE_CLASS_CHANGED: &str = "kafka-cluster-storage-class-changed";
/// JBOD volume ids removed or renumbered.
pub const STORAGE_VOLUME_IDS_CHANGED: &str = "kafka-cluster-storage-volume-ids-changed";
/// Two JBOD volumes with one id.
pub const STORAGE_VOLUME_ID_DUPLICATED: &str = "kafka-cluster-storage-volume-id-duplicated";

/// One storage problem: the rule, the field, what happens, what to do.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StorageIssue {
    pub rule: &'static str,
    pub path: String,
    pub message: String,
    pub hint: String,
}

const MIGRATE_HINT: &str = "keep the current storage; to move to other storage, add a KafkaNodePool with the new storage, move the partitions to it (a KafkaRebalance with Cruise Control, or kafka-reassign-partitions), then remove the old pool";

/// What changing the storage at `path` from `before` to `after` does that Strimzi refuses.
pub(crate) fn diff(before: &Value, after: &Value, path: &str) -> Vec<StorageIssue> {
    let mut issues = Vec::new();
    if !before.is_object() || !after.is_object() {
        return issues;
    }
    let (Some(old_type), Some(new_type)) = (before.at("type").as_str(), after.at("type").as_str())
    else {
        return issues;
    };
    if old_type != new_type {
        issues.push(StorageIssue {
            rule: STORAGE_TYPE_CHANGED,
            path: format!("{path}.type"),
            message: format!("the storage type changes from {old_type} to {new_type}: Strimzi cannot change the storage of existing nodes, so it keeps {old_type} and ignores the whole storage change (Git no longer describes the cluster)"),
            hint: MIGRATE_HINT.to_string(),
        });
        return issues;
    }
    if old_type != "jbod" {
        volume_diff(before, after, path, &mut issues);
        return issues;
    }
    let volumes = |storage: &Value| -> BTreeMap<i64, (usize, Value)> {
        storage
            .at("volumes")
            .as_array()
            .map(|volumes| {
                volumes
                    .iter()
                    .enumerate()
                    .filter_map(|(index, volume)| {
                        integer(volume.at("id")).map(|id| (id, (index, volume.clone())))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // Volumes that are not a list of objects with integer ids cannot be matched: skipped (the
    // schema refuses them).
    let readable = |storage: &Value| {
        storage.at("volumes").as_array().is_some_and(|volumes| {
            volumes
                .iter()
                .all(|volume| integer(volume.at("id")).is_some())
        })
    };
    if !readable(before) || !readable(after) {
        return issues;
    }
    let (old_volumes, new_volumes) = (volumes(before), volumes(after));
    let removed: Vec<i64> = old_volumes
        .keys()
        .filter(|id| !new_volumes.contains_key(id))
        .copied()
        .collect();
    if !removed.is_empty() {
        let added: Vec<i64> = new_volumes
            .keys()
            .filter(|id| !old_volumes.contains_key(id))
            .copied()
            .collect();
        let list = |ids: &[i64]| {
            ids.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let added_text = if added.is_empty() {
            String::new()
        } else {
            format!(" and {} added", list(&added))
        };
        issues.push(StorageIssue {
            rule: STORAGE_VOLUME_IDS_CHANGED,
            path: format!("{path}.volumes"),
            message: format!("JBOD volume ids change: {} removed{added_text}: a volume id names a disk of every node (its PVC), so removing it takes that disk away while Kafka still keeps partition replicas on it: those replicas go offline and their data on it is lost unless moved first", list(&removed)),
            hint: "keep volume ids stable; to retire a disk, move its partitions off first (a KafkaRebalance in mode `remove-disks`, with Cruise Control), then remove the volume".to_string(),
        });
    }
    for (id, (index, new_volume)) in &new_volumes {
        if let Some((_, old_volume)) = old_volumes.get(id) {
            let volume_path = format!("{path}.volumes[{index}]");
            match (old_volume.at("type").as_str(), new_volume.at("type").as_str()) {
                (Some(old), Some(new)) if old != new => issues.push(StorageIssue {
                    rule: STORAGE_TYPE_CHANGED,
                    path: format!("{volume_path}.type"),
                    message: format!("JBOD volume {id} changes type from {old} to {new}: Strimzi cannot change the storage of existing nodes, so it ignores the whole storage change"),
                    hint: MIGRATE_HINT.to_string(),
                }),
                _ => volume_diff(old_volume, new_volume, &volume_path, &mut issues),
            }
        }
    }
    issues
}

/// Size and class of one persistent volume.
fn volume_diff(before: &Value, after: &Value, path: &str, issues: &mut Vec<StorageIssue>) {
    if after.at("type").as_str() != Some("persistent-claim") {
        return;
    }
    if let (Some(old_text), Some(new_text)) =
        (before.at("size").as_str(), after.at("size").as_str())
    {
        if let (Some(old), Some(new)) = (parse_quantity(old_text), parse_quantity(new_text)) {
            if new < old {
                issues.push(StorageIssue {
                    rule: STORAGE_SIZE_DECREASED,
                    path: format!("{path}.size"),
                    message: format!("the volume size is lowered from {old_text} to {new_text}: persistent volumes cannot shrink, so Strimzi keeps {old_text} and ignores the whole storage change"),
                    hint: format!("keep {old_text} (sizes can only grow, where the storage class allows expansion); for smaller disks add a KafkaNodePool with {new_text} volumes and move the partitions to it"),
                });
            }
        }
    }
    let (old_class, new_class) = (before.at("class").as_str(), after.at("class").as_str());
    if old_class != new_class {
        let show = |class: Option<&str>| {
            class.map_or("the default class".to_string(), |class| {
                format!("`{class}`")
            })
        };
        issues.push(StorageIssue {
            rule: STORAGE_CLASS_CHANGED,
            path: format!("{path}.class"),
            message: format!("the storage class changes from {} to {}: the class of an existing volume cannot change, so Strimzi keeps {} and ignores the whole storage change", show(old_class), show(new_class), show(old_class)),
            hint: format!("keep {}; to move to {}, add a KafkaNodePool using it and move the partitions to it", show(old_class), show(new_class)),
        });
    }
}

/// JBOD volume ids used more than once in one storage spec.
pub(crate) fn duplicate_ids(storage: &Value, path: &str) -> Option<StorageIssue> {
    if storage.at("type").as_str() != Some("jbod") {
        return None;
    }
    let mut seen = BTreeSet::new();
    let mut duplicated = BTreeSet::new();
    for volume in storage.at("volumes").as_array()? {
        if let Some(id) = integer(volume.at("id")) {
            if !seen.insert(id) {
                duplicated.insert(id);
            }
        }
    }
    if duplicated.is_empty() {
        return None;
    }
    let ids: Vec<String> = duplicated.iter().map(i64::to_string).collect();
    Some(StorageIssue {
        rule: STORAGE_VOLUME_ID_DUPLICATED,
        path: format!("{path}.volumes"),
        message: format!("JBOD volume id {} is used more than once: Strimzi refuses storage with duplicate volume ids, so the storage is not applied (a new cluster is not created)", ids.join(", ")),
        hint: "give every JBOD volume its own id, and keep the ids of existing volumes".to_string(),
    })
}

/// A Kubernetes quantity (`100Gi`, `500G`, `1.5Ti`, `1e3`) in bytes; `None` when it is not
/// one.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("m", 0.001),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(suffix, factor)| text.strip_suffix(suffix).map(|number| (number, *factor)))
        .unwrap_or((text, 1.0));
    // A number: digits, one optional point, an optional exponent; no sign but `+`.
    let number = number.strip_prefix('+').unwrap_or(number);
    if number.is_empty()
        || number.starts_with('-')
        || !number
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    value.is_finite().then_some(value * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_parse_as_kubernetes_reads_them() {
        assert_eq!(parse_quantity("100Gi"), Some(100.0 * 1_073_741_824.0));
        assert_eq!(parse_quantity("500G"), Some(5e11));
        assert_eq!(parse_quantity("1.5Ti"), Some(1.5 * 1_099_511_627_776.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("1024"), Some(1024.0));
        assert!(parse_quantity("100Gi").expect("q") > parse_quantity("100G").expect("q"));
        assert_eq!(parse_quantity("-1Gi"), None);
        assert_eq!(parse_quantity("Gi"), None);
        assert_eq!(parse_quantity("ten"), None);
        assert_eq!(parse_quantity(""), None);
    }

    #[test]
    fn storage_diffs_follow_strimzis_judgement() {
        let pvc = |size: &str, class: Option<&str>| {
            let mut volume = json!({"type": "persistent-claim", "size": size});
            if let Some(class) = class {
                volume["class"] = json!(class);
            }
            volume
        };
        // Growing is fine; deleteClaim is ignorable.
        assert!(diff(&pvc("100Gi", None), &pvc("200Gi", None), "spec.storage").is_empty());
        let rules = |before: &Value, after: &Value| -> Vec<&'static str> {
            diff(before, after, "spec.storage")
                .into_iter()
                .map(|issue| issue.rule)
                .collect()
        };
        assert_eq!(
            rules(&pvc("100Gi", None), &pvc("50Gi", None)),
            [STORAGE_SIZE_DECREASED]
        );
        assert_eq!(
            rules(&pvc("100Gi", Some("a")), &pvc("100Gi", Some("b"))),
            [STORAGE_CLASS_CHANGED]
        );
        assert_eq!(
            rules(&pvc("100Gi", None), &json!({"type": "jbod", "volumes": []})),
            [STORAGE_TYPE_CHANGED]
        );
        let jbod = |volumes: Value| json!({"type": "jbod", "volumes": volumes});
        let before = jbod(
            json!([{"id": 0, "type": "persistent-claim", "size": "100Gi"}, {"id": 1, "type": "persistent-claim", "size": "100Gi"}]),
        );
        // Adding a volume is allowed.
        let added = jbod(
            json!([{"id": 0, "type": "persistent-claim", "size": "100Gi"}, {"id": 1, "type": "persistent-claim", "size": "100Gi"}, {"id": 2, "type": "persistent-claim", "size": "100Gi"}]),
        );
        assert!(rules(&before, &added).is_empty());
        let renumbered = jbod(
            json!([{"id": 0, "type": "persistent-claim", "size": "100Gi"}, {"id": 2, "type": "persistent-claim", "size": "100Gi"}]),
        );
        assert_eq!(rules(&before, &renumbered), [STORAGE_VOLUME_IDS_CHANGED]);
        let shrunk = jbod(
            json!([{"id": 1, "type": "persistent-claim", "size": "10Gi"}, {"id": 0, "type": "persistent-claim", "size": "100Gi"}]),
        );
        let issues = diff(&before, &shrunk, "spec.storage");
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].path, "spec.storage.volumes[0].size");
        // Wrong types: nothing, never a panic.
        assert!(diff(&json!("x"), &json!({"type": 3}), "p").is_empty());
        assert!(diff(
            &json!({"type": "jbod", "volumes": "x"}),
            &json!({"type": "jbod", "volumes": [1, null]}),
            "p"
        )
        .is_empty());
        assert!(duplicate_ids(&jbod(json!([{"id": 0}, {"id": 0}, {"id": 1}])), "p").is_some());
        assert!(duplicate_ids(&jbod(json!([{"id": 0}, {"id": 1}])), "p").is_none());
        assert!(duplicate_ids(&jbod(json!("x")), "p").is_none());
    }
}
