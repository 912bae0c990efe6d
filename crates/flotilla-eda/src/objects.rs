//! Objects as rules see them: identity (`group/kind namespace/name`, the API version left out so
//! that a `v1beta2` object and its `v1` successor are the same object), and a [`Change`]: the
//! objects before and after, paired by identity.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// Reading a field of an untyped object without hashing: rendered objects are small mappings
/// (a handful of keys each), where comparing keys in order is several times cheaper than
/// serde_json's hashed lookup, and the rules read tens of fields of every object.
pub trait Field {
    /// The field `key` of a mapping, or `Null` (as `value["key"]` reads it).
    fn at(&self, key: &str) -> &Value;
}

/// Mappings up to this size are searched in order; larger ones through their hash index.
const LINEAR_SEARCH_LIMIT: usize = 16;

static NULL: Value = Value::Null;

impl Field for Value {
    #[inline]
    fn at(&self, key: &str) -> &Value {
        match self {
            Value::Object(map) if map.len() <= LINEAR_SEARCH_LIMIT => map
                .iter()
                .find(|(name, _)| same_key(name.as_bytes(), key.as_bytes()))
                .map(|(_, value)| value)
                .unwrap_or(&NULL),
            Value::Object(map) => map.get(key).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
}

/// Whether two keys are equal, telling most different keys apart by length and last byte
/// before comparing the bytes (keys of one mapping often share a length: `kind` and `spec`,
/// and a call to compare a handful of bytes costs more than the bytes).
#[inline]
fn same_key(left: &[u8], right: &[u8]) -> bool {
    // Rather than through `memcmp` (keys are a few bytes long, shorter than the call): keys of 4
    // to 16 bytes by two overlapping words, the first and the last of the key; of 17 to 32 bytes
    // (`strimzi.io/cluster`, `min.insync.replicas`) by four.
    let length = left.len();
    if length != right.len() {
        return false;
    }
    match length {
        17..=32 => {
            word::<8>(left, 0) == word::<8>(right, 0)
                && word::<8>(left, 8) == word::<8>(right, 8)
                && word::<8>(left, length - 16) == word::<8>(right, length - 16)
                && word::<8>(left, length - 8) == word::<8>(right, length - 8)
        }
        8..=16 => {
            word::<8>(left, 0) == word::<8>(right, 0)
                && word::<8>(left, length - 8) == word::<8>(right, length - 8)
        }
        4..=7 => {
            word::<4>(left, 0) == word::<4>(right, 0)
                && word::<4>(left, length - 4) == word::<4>(right, length - 4)
        }
        _ => left == right,
    }
}

/// The `N` bytes of `bytes` from `start` (the caller checked that they are there).
#[inline]
fn word<const N: usize>(bytes: &[u8], start: usize) -> [u8; N] {
    let mut word = [0; N];
    word.copy_from_slice(&bytes[start..start + N]);
    word
}

/// Which object a finding is about: API group (empty for the core group), kind, namespace
/// (empty for cluster-scoped objects) and name.
///
/// One allocation per identity (a change pairs tens of thousands of them): the four parts are
/// kept in one text, each followed by a NUL, so that comparing two identities is one
/// comparison of their texts. Invariant: identities order as the tuples (group, kind,
/// namespace, name) do when no part holds a NUL (no Kubernetes name, kind or group does; the
/// starts break ties otherwise, so parts are never confused).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// `group\0kind\0namespace\0name\0`.
    text: Box<str>,
    /// Where kind, namespace and name start in `text`.
    starts: [u32; 3],
}

impl ObjectId {
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> ObjectId {
        let mut text =
            String::with_capacity(group.len() + kind.len() + namespace.len() + name.len() + 4);
        let mut starts = [0; 3];
        for (position, part) in [group, kind, namespace, name].into_iter().enumerate() {
            if position > 0 {
                // Object texts are far below 4 GiB; a larger one saturates and still parts
                // the text consistently.
                starts[position - 1] = u32::try_from(text.len()).unwrap_or(u32::MAX);
            }
            text.push_str(part);
            text.push('\0');
        }
        ObjectId {
            text: text.into_boxed_str(),
            starts,
        }
    }

    /// The part from `start` to the NUL that ends it.
    fn part(&self, start: usize, end: usize) -> &str {
        self.text
            .get(start..end.saturating_sub(1))
            .unwrap_or_default()
    }

    /// The API group (`kafka.strimzi.io`), empty for the core group.
    pub fn group(&self) -> &str {
        self.part(0, self.starts[0] as usize)
    }

    pub fn kind(&self) -> &str {
        self.part(self.starts[0] as usize, self.starts[1] as usize)
    }

    /// Empty for cluster-scoped objects.
    pub fn namespace(&self) -> &str {
        self.part(self.starts[1] as usize, self.starts[2] as usize)
    }

    pub fn name(&self) -> &str {
        self.part(self.starts[2] as usize, self.text.len())
    }

    /// The identity of an object (`None` when it has no kind or name).
    pub fn of(object: &Value) -> Option<ObjectId> {
        let api_version = object.at("apiVersion").as_str()?;
        let group = api_version
            .rsplit_once('/')
            .map(|(group, _)| group)
            .unwrap_or_default();
        let kind = object.at("kind").as_str()?;
        let metadata = object.at("metadata");
        let name = metadata.at("name").as_str()?;
        let namespace = metadata.at("namespace").as_str().unwrap_or_default();
        Some(ObjectId::new(group, kind, namespace, name))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ObjectId")
            .field("group", &self.group())
            .field("kind", &self.kind())
            .field("namespace", &self.namespace())
            .field("name", &self.name())
            .finish()
    }
}

impl Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut fields = serializer.serialize_struct("ObjectId", 4)?;
        fields.serialize_field("group", self.group())?;
        fields.serialize_field("kind", self.kind())?;
        fields.serialize_field("namespace", self.namespace())?;
        fields.serialize_field("name", self.name())?;
        fields.end()
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.group().is_empty() {
            self.kind().to_string()
        } else {
            format!("{}.{}", self.kind(), self.group())
        };
        if self.namespace().is_empty() {
            write!(formatter, "{kind}/{}", self.name())
        } else {
            write!(formatter, "{kind} {}/{}", self.namespace(), self.name())
        }
    }
}

/// Objects by identity, in identity order: one side of a [`Change`]. A sorted list rather than a
/// tree: it is built once from a rendered list (one sort), then only read, and reading a list in
/// order or by binary search touches less memory than a tree's nodes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Objects {
    /// Sorted by identity, each identity once.
    entries: Vec<(ObjectId, Value)>,
}

impl Objects {
    /// Objects from (identity, object) pairs in any order; a later pair with the same identity
    /// replaces an earlier one.
    pub fn from_entries(mut entries: Vec<(ObjectId, Value)>) -> Objects {
        // A stable sort keeps equal identities in their order (a rendered list is mostly in
        // order already, which the sort notices); the last of each run is kept.
        entries.sort_by(|left, right| left.0.cmp(&right.0));
        // `dedup_by` keeps the first of a run: the later entry is moved into its place first.
        entries.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        Objects { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The object with identity `id`.
    pub fn get(&self, id: &ObjectId) -> Option<&Value> {
        self.get_key_value(id).map(|(_, object)| object)
    }

    /// The stored identity and object for `id`.
    pub fn get_key_value(&self, id: &ObjectId) -> Option<(&ObjectId, &Value)> {
        self.entries
            .binary_search_by(|(other, _)| other.cmp(id))
            .ok()
            .map(|position| {
                let (id, object) = &self.entries[position];
                (id, object)
            })
    }

    /// The object with identity `id`, searched from `cursor` forward when the identity sorts
    /// at or after it (galloping: identities asked in order cost a few comparisons each), from
    /// the start otherwise; `cursor` is left where `id` is or would be.
    pub fn seek(&self, id: &ObjectId, cursor: &mut usize) -> Option<&Value> {
        let entries = &self.entries;
        let start = match entries.get(*cursor) {
            Some((other, _)) if other <= id => *cursor,
            _ => 0,
        };
        let mut bound = 1;
        while start + bound < entries.len() && entries[start + bound].0 < *id {
            bound *= 2;
        }
        let low = start + bound / 2;
        let high = (start + bound + 1).min(entries.len());
        let position = low + entries[low..high].partition_point(|(other, _)| other < id);
        *cursor = position;
        entries
            .get(position)
            .filter(|(other, _)| other == id)
            .map(|(_, object)| object)
    }

    pub fn contains_key(&self, id: &ObjectId) -> bool {
        self.get_key_value(id).is_some()
    }

    /// Every (identity, object), in identity order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&ObjectId, &Value)> + '_ {
        self.entries.iter().map(|(id, object)| (id, object))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &ObjectId> + '_ {
        self.entries.iter().map(|(id, _)| id)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + '_ {
        self.entries.iter().map(|(_, object)| object)
    }

    /// The objects of one group and kind, in identity order (identities sort by group, then
    /// kind, so they are one run of the list).
    fn run(&self, group: &str, kind: &str) -> &[(ObjectId, Value)] {
        let key = |id: &ObjectId| (id.group(), id.kind()).cmp(&(group, kind));
        let start = self.entries.partition_point(|(id, _)| key(id).is_lt());
        let end = start + self.entries[start..].partition_point(|(id, _)| key(id).is_eq());
        &self.entries[start..end]
    }
}

impl<'a> IntoIterator for &'a Objects {
    type Item = (&'a ObjectId, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (ObjectId, Value)>,
        fn(&'a (ObjectId, Value)) -> (&'a ObjectId, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(id, object)| (id, object))
    }
}

impl FromIterator<(ObjectId, Value)> for Objects {
    fn from_iter<I: IntoIterator<Item = (ObjectId, Value)>>(entries: I) -> Objects {
        Objects::from_entries(entries.into_iter().collect())
    }
}

/// What a change does: the objects before and after it, and the context the rules may use.
#[derive(Clone, Debug, Default)]
pub struct Change {
    /// The objects before the change (the previous revision, or the live objects), by identity.
    pub before: Objects,
    /// The objects the change wants, by identity.
    pub after: Objects,
    /// Whether objects in `before` and missing from `after` are deleted (a sync with prune), or
    /// only left behind (Argo CD without prune: they stay, OutOfSync).
    pub prune: bool,
    /// Repository files the rules may read (schemas, AsyncAPI documents), by path relative to
    /// the repository root, before and after the change. Empty when the caller has none.
    pub files_before: BTreeMap<String, String>,
    pub files_after: BTreeMap<String, String>,
    /// Earlier texts of repository files, before their text in `files_before`: (a label such
    /// as the commit that introduced it, the text), oldest first, each text once — the Git
    /// history of a schema file, which transitive compatibility levels check against. Empty when
    /// the caller has none; only files whose history a rule needs are filled
    /// ([`crate::subjects::needs_history`]).
    pub file_histories: BTreeMap<String, Vec<(String, String)>>,
    /// Operator versions known to the caller (the cluster's installed CSVs, or the Subscriptions
    /// of the same repository), by OLM package name (`strimzi-kafka-operator` → `0.45.2`).
    pub operator_versions: BTreeMap<String, String>,
}

impl Change {
    /// A change from two lists of objects; objects without identity are left out, and a later
    /// object with the same identity replaces an earlier one.
    pub fn new(before: Vec<Value>, after: Vec<Value>, prune: bool) -> Change {
        let index = |objects: Vec<Value>| {
            let mut entries: Vec<(ObjectId, Value)> = Vec::with_capacity(objects.len());
            for object in objects {
                if let Some(id) = ObjectId::of(&object) {
                    entries.push((id, object));
                }
            }
            Objects::from_entries(entries)
        };
        Change {
            before: index(before),
            after: index(after),
            prune,
            ..Change::default()
        }
    }

    /// The objects after the change of one group (any of `groups`) and kind.
    pub fn after_of<'a>(
        &'a self,
        groups: &'a [&'a str],
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a ObjectId, &'a Value)> + 'a {
        of_kinds(&self.after, groups, &[kind])
    }

    /// The objects before the change of one group (any of `groups`) and kind.
    pub fn before_of<'a>(
        &'a self,
        groups: &'a [&'a str],
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a ObjectId, &'a Value)> + 'a {
        of_kinds(&self.before, groups, &[kind])
    }

    /// Pairs of (before, after) for objects of one group and kind: both present (modified),
    /// only after (added: before `None`), only before (removed: after `None`).
    pub fn pairs<'a>(
        &'a self,
        groups: &'a [&'a str],
        kind: &'a str,
    ) -> Vec<(&'a ObjectId, Option<&'a Value>, Option<&'a Value>)> {
        // Both sides come out in identity order: one merge pairs them, without a lookup per
        // object.
        let mut pairs = Vec::new();
        let mut removed = Vec::new();
        let mut before = self.before_of(groups, kind).peekable();
        for (id, after) in self.after_of(groups, kind) {
            while let Some((before_id, before_object)) =
                before.next_if(|(before_id, _)| *before_id < id)
            {
                removed.push((before_id, Some(before_object), None));
            }
            let paired = before
                .next_if(|(before_id, _)| *before_id == id)
                .map(|(_, object)| object);
            pairs.push((id, paired, Some(after)));
        }
        removed.extend(before.map(|(id, object)| (id, Some(object), None)));
        pairs.extend(removed);
        pairs
    }
}

/// The objects of `objects` of any of `groups` and any of `kinds`, in identity order, read from
/// the runs of the list that hold them (identities sort by group, then kind), so a rule about
/// one kind does not scan every object.
pub fn of_kinds<'a>(
    objects: &'a Objects,
    groups: &[&str],
    kinds: &[&str],
) -> impl Iterator<Item = (&'a ObjectId, &'a Value)> + 'a {
    let mut pairs: Vec<(&str, &str)> = groups
        .iter()
        .flat_map(|group| kinds.iter().map(move |kind| (*group, *kind)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let runs: Vec<&'a [(ObjectId, Value)]> = pairs
        .into_iter()
        .map(|(group, kind)| objects.run(group, kind))
        .collect();
    runs.into_iter().flatten().map(|(id, object)| (id, object))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_object_with_the_same_identity_replaces_an_earlier_one() {
        let object = |name: &str, partitions: i64| {
            serde_json::json!({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic",
                "metadata": {"name": name, "namespace": "n"}, "spec": {"partitions": partitions}})
        };
        let change = Change::new(
            Vec::new(),
            vec![
                object("b", 1),
                object("a", 1),
                object("b", 2),
                object("b", 3),
                object("c", 1),
            ],
            true,
        );
        let names: Vec<&str> = change.after.keys().map(|id| id.name()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let kept = change
            .after
            .values()
            .nth(1)
            .map(|object| object["spec"]["partitions"].clone());
        assert_eq!(kept, Some(Value::from(3)));
        // Objects without identity are left out.
        let change = Change::new(
            vec![serde_json::json!({"kind": "KafkaTopic"})],
            Vec::new(),
            true,
        );
        assert!(change.before.is_empty());
    }

    #[test]
    fn identities_keep_their_parts_and_order_as_the_tuples_of_their_parts() {
        let parts = [
            ("", "ConfigMap", "n", "a"),
            ("", "ConfigMap", "", "a"),
            ("", "Config", "n", "a"),
            ("apps", "Deployment", "n", "web"),
            ("kafka.strimzi.io", "KafkaTopic", "kafka", "orders"),
            ("kafka.strimzi.io", "KafkaTopic", "kafka", "orders.v2"),
            ("kafka.strimzi.io", "KafkaTopic", "kafka2", "a"),
            ("kafka.strimzi.io", "Kafka", "kafka", "events"),
            ("kafka.strimzi.io", "KafkaTopicX", "a", "a"),
            ("a", "", "", ""),
            ("", "", "", ""),
        ];
        for (group, kind, namespace, name) in parts {
            let id = ObjectId::new(group, kind, namespace, name);
            assert_eq!(
                (id.group(), id.kind(), id.namespace(), id.name()),
                (group, kind, namespace, name)
            );
        }
        for left in parts {
            for right in parts {
                let (left_id, right_id) = (
                    ObjectId::new(left.0, left.1, left.2, left.3),
                    ObjectId::new(right.0, right.1, right.2, right.3),
                );
                assert_eq!(
                    left_id.cmp(&right_id),
                    left.cmp(&right),
                    "{left:?} {right:?}"
                );
            }
        }
        // Parts holding the separator are not confused with other parts.
        assert_ne!(
            ObjectId::new("a\0b", "c", "", ""),
            ObjectId::new("a", "b\0c", "", "")
        );
        let id = ObjectId::new("apps", "Deployment", "n", "web");
        assert_eq!(
            serde_json::to_value(&id).ok(),
            Some(
                serde_json::json!({"group": "apps", "kind": "Deployment", "namespace": "n", "name": "web"})
            )
        );
        assert_eq!(id.to_string(), "Deployment.apps n/web");
    }

    #[test]
    fn seeking_finds_what_a_lookup_finds_in_any_order() {
        let object = |name: String| {
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "n"}})
        };
        let change = Change::new(
            Vec::new(),
            (0..100)
                .map(|index| object(format!("c{:03}", index * 2)))
                .collect(),
            true,
        );
        let id = |index: usize| ObjectId::new("", "ConfigMap", "n", &format!("c{index:03}"));
        // In order, backwards, and scattered; present (even) and absent (odd) names.
        let orders: [Vec<usize>; 3] = [
            (0..202).collect(),
            (0..202).rev().collect(),
            (0..202).map(|index| (index * 37) % 202).collect(),
        ];
        for order in orders {
            let mut cursor = 0;
            for index in order {
                let wanted = id(index);
                assert_eq!(
                    change.after.seek(&wanted, &mut cursor),
                    change.after.get(&wanted),
                    "{wanted}"
                );
            }
        }
    }

    #[test]
    fn keys_compare_equal_exactly_when_their_bytes_do() {
        let keys = [
            "",
            "a",
            "ab",
            "abc",
            "kind",
            "spec",
            "specs",
            "labels",
            "metadata",
            "metadatb",
            "apiVersion",
            "retention.ms",
            "retention.mt",
            "strimzi.io/cluster",
            "strimzi.io/clustes",
            "min.insync.replicas",
            "min.insync.replicaz",
            "nin.insync.replicas",
            "min.insync.rfplicas",
            "min.insynd.replicas",
            "argocd.argoproj.io/sync-options",
            "argocd.argoproj.io/sync-optionz",
            "argocd.argoproj.io/sync_options",
            "brgocd.argoproj.io/sync-options",
            "argocd.argopro.jio/sync-options",
            "argocd.argoproj.io/sync-options-and-more-than-32",
            "argocd.argoproj.io/sync-options-and-more-than-3X",
            "aaaaaaaaaaaaaaaa",
            "aaaaaaaabaaaaaaa",
            "aaaabaaa",
            "aaaaaaa",
            "aaabaaa",
        ];
        for left in keys {
            for right in keys {
                assert_eq!(
                    same_key(left.as_bytes(), right.as_bytes()),
                    left == right,
                    "{left} {right}"
                );
            }
        }
    }

    #[test]
    fn a_field_reads_as_an_index_reads_it_in_small_and_large_mappings() {
        let small = serde_json::json!({"a": 1, "b": {"c": "x"}});
        let large: serde_json::Map<String, Value> = (0..40)
            .map(|index| (format!("key{index}"), Value::from(index)))
            .collect();
        let large = Value::Object(large);
        for key in ["a", "b", "missing"] {
            assert_eq!(small.at(key), &small[key]);
        }
        assert_eq!(small.at("b").at("c"), &small["b"]["c"]);
        for key in ["key0", "key39", "key40"] {
            assert_eq!(large.at(key), &large[key]);
        }
        assert_eq!(Value::from(3).at("a"), &Value::Null);
        assert_eq!(Value::Null.at("a").at("b"), &Value::Null);
    }
}
