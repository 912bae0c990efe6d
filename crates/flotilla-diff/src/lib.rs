//! flotilla-diff: is the live object what Git declares? Compared the way a server-side-apply
//! engine must, cheaply and without cluster calls:
//!
//! - **Containment**: `desired` is in sync when every field it sets has the same value live;
//!   fields the server adds (defaults, status, bookkeeping) do not count. Lists of objects with
//!   a merge key (`name`, `containerPort`, `port`, `mountPath`, …) match items by key; other
//!   lists element-wise with equal length.
//! - **Removed fields**: a field the engine's field manager owns live (`managedFields`, FieldsV1)
//!   that `desired` no longer sets is a difference: applying would remove it.
//! - **ignoreDifferences** as Argo CD: JSON pointers, a documented jq path subset (`jq.rs`), and
//!   fields owned by listed managers are removed from both sides first.
//! - **Server-side diff** (`compare_predicted`): when the caller has the server's answer to a
//!   dry-run apply, that answer is compared with the live object instead, on the fields the
//!   engine owns (or on everything, Argo CD's `IncludeMutationWebhook=true`).
//! - **Secrets are masked** in every reason and diff (`++++++++`; equal values get equal masks,
//!   changed values different ones); no secret value ever leaves this crate.
//!
//! Invariant: every function is pure and total over any JSON; malformed rules are errors.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Map, Value};

mod fields;
mod jq;
mod path;
mod text_diff;

pub use fields::{fields_v1_paths, owned_paths};
pub use jq::JqPath;
pub use path::{FieldPath, Segment};

/// Why a comparison could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error("jq path expression `{expression}`: column {column}: {message}")]
    Jq {
        expression: String,
        column: usize,
        message: String,
    },
    #[error("managedFields: {message}")]
    FieldsV1 { message: String },
    #[error("JSON pointer `{pointer}` must start with `/`")]
    Pointer { pointer: String },
}

/// One `ignoreDifferences` rule, as Argo CD's Application spec writes it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreDifference {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub json_pointers: Vec<String>,
    #[serde(default)]
    pub jq_path_expressions: Vec<String>,
    #[serde(default)]
    pub managed_fields_managers: Vec<String>,
}

impl IgnoreDifference {
    fn applies_to(&self, object: &Value) -> bool {
        let api_version = object["apiVersion"].as_str().unwrap_or("");
        let group = api_version
            .rsplit_once('/')
            .map(|(group, _)| group)
            .unwrap_or("");
        let kind = object["kind"].as_str().unwrap_or("");
        let wildcard = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        wildcard(&self.group, group)
            && wildcard(&self.kind, kind)
            && self.name.as_deref().is_none_or(|name| {
                name.is_empty() || name == object["metadata"]["name"].as_str().unwrap_or("")
            })
            && self.namespace.as_deref().is_none_or(|namespace| {
                namespace.is_empty()
                    || namespace == object["metadata"]["namespace"].as_str().unwrap_or("")
            })
    }
}

/// `argocd.argoproj.io/compare-options`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompareOptions {
    /// Objects only in the cluster do not make the application OutOfSync.
    pub ignore_extraneous: bool,
    pub server_side_diff: Option<bool>,
    pub include_mutation_webhook: bool,
}

pub fn compare_options(object: &Value) -> CompareOptions {
    let mut options = CompareOptions::default();
    let text = object["metadata"]["annotations"]["argocd.argoproj.io/compare-options"]
        .as_str()
        .unwrap_or("");
    for entry in text.split(',').map(str::trim) {
        match entry.split_once('=') {
            None if entry == "IgnoreExtraneous" => options.ignore_extraneous = true,
            Some(("ServerSideDiff", value)) => {
                options.server_side_diff = Some(value.trim() == "true")
            }
            Some(("IncludeMutationWebhook", value)) => {
                options.include_mutation_webhook = value.trim() == "true"
            }
            _ => {}
        }
    }
    options
}

/// The result of comparing one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    pub in_sync: bool,
    /// Short human lines saying why not (never a secret value).
    pub reasons: Vec<String>,
}

const MAX_REASONS: usize = 5;

impl Comparison {
    /// In sync when nothing differs; at most `MAX_REASONS` reasons, then how many more.
    fn from_reasons(mut reasons: Vec<String>) -> Comparison {
        let in_sync = reasons.is_empty();
        if reasons.len() > MAX_REASONS {
            let more = reasons.len() - MAX_REASONS;
            reasons.truncate(MAX_REASONS);
            reasons.push(format!("and {more} more"));
        }
        Comparison { in_sync, reasons }
    }
}
const MASK: &str = "++++++++";

fn is_secret(object: &Value) -> bool {
    object["kind"] == "Secret" && object["apiVersion"] == "v1"
}

/// A Secret's `stringData` as the API server stores it: each value base64-encoded into `data`
/// (over a `data` value of the same key) and `stringData` gone, so a desired Secret written with
/// `stringData` compares with the live `data` (as Argo CD normalises it). `None` when `object`
/// is not a Secret with `stringData`.
fn fold_string_data(object: &Value) -> Option<Value> {
    if !is_secret(object) {
        return None;
    }
    let strings = object["stringData"].as_object()?;
    let mut folded = object.clone();
    let mut data = folded["data"].as_object().cloned().unwrap_or_default();
    for (key, value) in strings {
        let text = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        data.insert(
            key.clone(),
            Value::String(flotilla_core::base64::encode_standard(text.as_bytes())),
        );
    }
    if let Some(fields) = folded.as_object_mut() {
        fields.remove("stringData");
        fields.insert("data".into(), Value::Object(data));
    }
    Some(folded)
}

/// Metadata the server sets, never compared.
const SERVER_METADATA: [&str; 8] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Annotations tools and controllers set, never compared.
const SERVER_ANNOTATIONS: [&str; 2] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
];

/// Whether `key` under `parent` is one of the fields [`strip_server_fields`] removes.
fn is_server_field(parent: &[Segment], key: &str) -> bool {
    let field =
        |segment: &Segment, name: &str| matches!(segment, Segment::Field(field) if field == name);
    match parent {
        [] => key == "status",
        [metadata] if field(metadata, "metadata") => SERVER_METADATA.contains(&key),
        [metadata, annotations]
            if field(metadata, "metadata") && field(annotations, "annotations") =>
        {
            SERVER_ANNOTATIONS.contains(&key)
        }
        _ => false,
    }
}

/// Drops what the server owns or adds on both sides.
fn strip_server_fields(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.shift_remove("status");
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_METADATA {
            metadata.shift_remove(field);
        }
        if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
            for annotation in SERVER_ANNOTATIONS {
                annotations.shift_remove(annotation);
            }
            if annotations.is_empty() {
                metadata.shift_remove("annotations");
            }
        }
    }
}

fn remove_paths(value: &mut Value, mut paths: Vec<FieldPath>) {
    // Later list indices first, so removing one does not shift the next.
    paths.sort();
    paths.dedup();
    for path in paths.iter().rev() {
        path::remove(value, path);
    }
}

/// Normalised copies of both sides, with every ignored path removed, plus the ignored paths
/// (for the removed-field check).
fn normalise(
    desired: &Value,
    live: Option<&Value>,
    rules: &[IgnoreDifference],
) -> Result<(Value, Option<Value>, Vec<FieldPath>), DiffError> {
    let mut desired_copy = desired.clone();
    let mut live_copy = live.cloned();
    let mut ignored = Vec::new();
    for rule in rules.iter().filter(|rule| rule.applies_to(desired)) {
        for pointer in &rule.json_pointers {
            if !pointer.starts_with('/') {
                return Err(DiffError::Pointer {
                    pointer: pointer.clone(),
                });
            }
            let desired_path = path::from_json_pointer(pointer, &desired_copy);
            path::remove(&mut desired_copy, &desired_path);
            ignored.push(desired_path);
            if let Some(live_copy) = live_copy.as_mut() {
                let live_path = path::from_json_pointer(pointer, live_copy);
                path::remove(live_copy, &live_path);
                ignored.push(live_path);
            }
        }
        for expression in &rule.jq_path_expressions {
            let query = JqPath::parse(expression)?;
            let desired_paths = query.select(&desired_copy);
            ignored.extend(desired_paths.iter().cloned());
            remove_paths(&mut desired_copy, desired_paths);
            if let Some(live_copy) = live_copy.as_mut() {
                let live_paths = query.select(live_copy);
                ignored.extend(live_paths.iter().cloned());
                remove_paths(live_copy, live_paths);
            }
        }
        if let Some(live) = live {
            for manager in &rule.managed_fields_managers {
                let owned = owned_paths(live, manager, None)?;
                ignored.extend(owned.iter().cloned());
                remove_paths(&mut desired_copy, owned.clone());
                if let Some(live_copy) = live_copy.as_mut() {
                    remove_paths(live_copy, owned);
                }
            }
        }
    }
    strip_server_fields(&mut desired_copy);
    if let Some(live_copy) = live_copy.as_mut() {
        strip_server_fields(live_copy);
    }
    Ok((desired_copy, live_copy, ignored))
}

/// The key identifying items of a list of objects, when every item has it.
fn merge_key(items: &[Value]) -> Option<&'static str> {
    const KEYS: [&str; 8] = [
        "name",
        "containerPort",
        "port",
        "mountPath",
        "devicePath",
        "ip",
        "topologyKey",
        "type",
    ];
    if items.is_empty() || !items.iter().all(Value::is_object) {
        return None;
    }
    KEYS.into_iter().find(|key| {
        items
            .iter()
            .all(|item| item.get(*key).is_some_and(|value| !value.is_null()))
    })
}

fn scalars_equal(desired: &Value, live: &Value) -> bool {
    if desired == live {
        return true;
    }
    match (desired, live) {
        (Value::Number(left), Value::Number(right)) => left.as_f64() == right.as_f64(),
        (Value::Number(number), Value::String(text))
        | (Value::String(text), Value::Number(number)) => number.to_string() == *text,
        _ => false,
    }
}

fn show(value: &Value, secret: bool) -> String {
    if secret {
        return MASK.to_string();
    }
    let text = match value {
        Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(57).collect::<String>())
    } else {
        text
    }
}

fn under_secret_data(path: &[Segment]) -> bool {
    matches!(path.first(), Some(Segment::Field(name)) if name == "data" || name == "stringData")
}

/// Records why `live` does not contain `desired` at `path`.
fn contains(
    desired: &Value,
    live: &Value,
    path: &mut FieldPath,
    secret: bool,
    reasons: &mut Vec<String>,
) {
    let masked = secret && under_secret_data(path);
    match (desired, live) {
        (Value::Null, _) => {}
        (Value::Object(desired_map), Value::Object(live_map)) => {
            for (key, desired_value) in desired_map {
                if desired_value.is_null() || is_server_field(path, key) {
                    continue;
                }
                path.push(Segment::Field(key.clone()));
                match live_map.get(key) {
                    None => reasons.push(format!(
                        "`{}` is {} in Git but not set in the cluster",
                        path::display(path),
                        show(desired_value, secret && under_secret_data(path))
                    )),
                    Some(live_value) => contains(desired_value, live_value, path, secret, reasons),
                }
                path.pop();
            }
        }
        (Value::Array(desired_items), Value::Array(live_items)) => match merge_key(desired_items) {
            Some(key) => {
                for desired_item in desired_items {
                    let wanted = &desired_item[key];
                    let key_text = serde_json::json!({ key: wanted }).to_string();
                    path.push(Segment::Key(key_text));
                    match live_items
                        .iter()
                        .find(|item| scalars_equal(wanted, &item[key]))
                    {
                        None => reasons.push(format!(
                            "`{}` is in Git but not in the cluster",
                            path::display(path)
                        )),
                        Some(live_item) => contains(desired_item, live_item, path, secret, reasons),
                    }
                    path.pop();
                }
            }
            None => {
                if desired_items.len() != live_items.len() {
                    reasons.push(format!(
                        "`{}` has {} items in the cluster, {} in Git",
                        path::display(path),
                        live_items.len(),
                        desired_items.len()
                    ));
                    return;
                }
                for (index, (desired_item, live_item)) in
                    desired_items.iter().zip(live_items).enumerate()
                {
                    path.push(Segment::Index(index));
                    contains(desired_item, live_item, path, secret, reasons);
                    path.pop();
                }
            }
        },
        (desired_value, live_value) => {
            if !scalars_equal(desired_value, live_value) {
                reasons.push(changed_value(
                    path,
                    live_value,
                    desired_value,
                    masked,
                    "in Git",
                ));
            }
        }
    }
}

/// Compares what Git declares with the live object.
pub fn compare(
    desired: &Value,
    live: Option<&Value>,
    manager: &str,
    rules: &[IgnoreDifference],
) -> Result<Comparison, DiffError> {
    let Some(live_object) = live else {
        return Ok(Comparison {
            in_sync: false,
            reasons: vec!["missing from the cluster".into()],
        });
    };
    let folded = fold_string_data(desired);
    let desired = folded.as_ref().unwrap_or(desired);
    // Without an ignore rule for this object nothing needs removing: compare the objects
    // themselves (`contains` skips the server's fields) instead of normalised copies.
    let (desired_copy, live_copy, ignored) = if rules.iter().any(|rule| rule.applies_to(desired)) {
        let (desired_copy, live_copy, ignored) = normalise(desired, live, rules)?;
        (
            Cow::Owned(desired_copy),
            Cow::Owned(live_copy.unwrap_or(Value::Null)),
            ignored,
        )
    } else {
        (
            Cow::Borrowed(desired),
            Cow::Borrowed(live_object),
            Vec::new(),
        )
    };
    let secret = is_secret(desired);
    let mut reasons = Vec::new();
    contains(
        &desired_copy,
        &live_copy,
        &mut Vec::new(),
        secret,
        &mut reasons,
    );
    // Fields this manager applied before that Git no longer sets.
    let owned = owned_paths(live_object, manager, Some("Apply"))?;
    let mut reported: Vec<FieldPath> = Vec::new();
    let mut owned_sorted: Vec<FieldPath> = owned;
    owned_sorted.sort();
    for owned_path in owned_sorted {
        if ignored
            .iter()
            .any(|ignored_path| owned_path.starts_with(ignored_path))
        {
            continue;
        }
        if reported
            .iter()
            .any(|reported_path| owned_path.starts_with(reported_path))
        {
            continue;
        }
        if matches!(owned_path.first(), Some(Segment::Field(name)) if name == "status") {
            continue;
        }
        if path::get(&desired_copy, &owned_path).is_none()
            && path::get(&live_copy, &owned_path).is_some()
        {
            reasons.push(format!(
                "`{}` is set in the cluster but no longer in Git",
                path::display(&owned_path)
            ));
            reported.push(owned_path);
        }
    }
    Ok(Comparison::from_reasons(reasons))
}

/// Server-side diff: compares the server's answer to a dry-run apply of the desired object
/// (`predicted`, what the object would become) with the live object, so that whatever the
/// server does to a value (defaults, quantity canonicalisation, admission) counts as it will.
///
/// Only fields `manager` owns, in either object, are compared, unless
/// `include_mutation_webhook`: then everything but the server's bookkeeping is, and changes
/// mutating webhooks would make count too (Argo CD's `IncludeMutationWebhook=true`). Ignore rules
/// apply to both sides as in [`compare`].
pub fn compare_predicted(
    predicted: &Value,
    live: &Value,
    manager: &str,
    rules: &[IgnoreDifference],
    include_mutation_webhook: bool,
) -> Result<Comparison, DiffError> {
    let (predicted_copy, live_copy, ignored) = normalise(predicted, Some(live), rules)?;
    let live_copy = live_copy.unwrap_or(Value::Null);
    let secret = is_secret(predicted);
    let mut reasons = Vec::new();
    if include_mutation_webhook {
        differences(
            &predicted_copy,
            &live_copy,
            &mut Vec::new(),
            secret,
            &mut reasons,
        );
    } else {
        let mut owned = owned_paths(predicted, manager, Some("Apply"))?;
        owned.extend(owned_paths(live, manager, Some("Apply"))?);
        owned.sort();
        owned.dedup();
        for (position, owned_path) in owned.iter().enumerate() {
            if ignored
                .iter()
                .any(|ignored_path| owned_path.starts_with(ignored_path))
            {
                continue;
            }
            // Sorted, so the paths below this one (if any) come right after it.
            let has_owned_children = owned
                .get(position + 1)
                .is_some_and(|next| next.len() > owned_path.len() && next.starts_with(owned_path));
            let in_predicted = path::get(&predicted_copy, owned_path);
            let in_live = path::get(&live_copy, owned_path);
            match (in_predicted, in_live) {
                (None, None) => {}
                // Maps and keyed items whose fields are owned one by one are compared that way;
                // an atomic map or struct (owned as one leaf, e.g. a label selector) as a whole.
                (Some(Value::Object(_)), Some(Value::Object(_))) if has_owned_children => {}
                (Some(predicted_value), Some(live_value)) => differences(
                    predicted_value,
                    live_value,
                    &mut owned_path.clone(),
                    secret,
                    &mut reasons,
                ),
                (Some(_), None) => reasons.push(format!(
                    "`{}` is set by Git but not in the cluster (server-side diff)",
                    path::display(owned_path)
                )),
                (None, Some(_)) => reasons.push(format!(
                    "`{}` is set in the cluster but no longer in Git (server-side diff)",
                    path::display(owned_path)
                )),
            }
        }
        // A Secret applied with `stringData`: the server records no owned `data` fields (it
        // stores `stringData` as `data`), so the dry run's `data` is compared with the
        // cluster's key by key; it differs only where the apply changes it.
        if secret && reasons.is_empty() {
            if let (Some(predicted_data), Some(live_data)) = (
                predicted_copy["data"].as_object(),
                live_copy["data"].as_object(),
            ) {
                for (key, predicted_value) in predicted_data {
                    let mut data_path =
                        vec![Segment::Field("data".into()), Segment::Field(key.clone())];
                    match live_data.get(key) {
                        Some(live_value) => differences(
                            predicted_value,
                            live_value,
                            &mut data_path,
                            secret,
                            &mut reasons,
                        ),
                        None => reasons.push(format!(
                            "`{}` is set by Git but not in the cluster (server-side diff)",
                            path::display(&data_path)
                        )),
                    }
                }
            }
        }
    }
    Ok(Comparison::from_reasons(reasons))
}

/// Records every difference between what a sync would make (`predicted`) and `live` under
/// `path`, both ways.
fn differences(
    predicted: &Value,
    live: &Value,
    path: &mut FieldPath,
    secret: bool,
    reasons: &mut Vec<String>,
) {
    match (predicted, live) {
        (Value::Object(predicted_map), Value::Object(live_map)) => {
            for (key, predicted_value) in predicted_map {
                path.push(Segment::Field(key.clone()));
                match live_map.get(key) {
                    Some(live_value) => {
                        differences(predicted_value, live_value, path, secret, reasons)
                    }
                    None => reasons.push(format!(
                        "`{}` is not set in the cluster but would be after a sync (server-side diff)",
                        path::display(path)
                    )),
                }
                path.pop();
            }
            for key in live_map
                .keys()
                .filter(|key| !predicted_map.contains_key(*key))
            {
                path.push(Segment::Field(key.clone()));
                reasons.push(format!(
                    "`{}` is set in the cluster but not after a sync (server-side diff)",
                    path::display(path)
                ));
                path.pop();
            }
        }
        (Value::Array(predicted_items), Value::Array(live_items))
            if predicted_items.len() == live_items.len() =>
        {
            for (index, (predicted_item, live_item)) in
                predicted_items.iter().zip(live_items).enumerate()
            {
                path.push(Segment::Index(index));
                differences(predicted_item, live_item, path, secret, reasons);
                path.pop();
            }
        }
        (Value::Array(predicted_items), Value::Array(live_items)) => reasons.push(format!(
            "`{}` has {} items in the cluster, {} after a sync (server-side diff)",
            path::display(path),
            live_items.len(),
            predicted_items.len()
        )),
        (predicted_value, live_value) => {
            if !scalars_equal(predicted_value, live_value) {
                let masked = secret && under_secret_data(path);
                reasons.push(changed_value(
                    path,
                    live_value,
                    predicted_value,
                    masked,
                    "after a sync (server-side diff)",
                ));
            }
        }
    }
}

/// "`path` is LIVE in the cluster, WANTED PLACE", Secret values masked (a changed one as
/// `++++++++` against `+++++++++`).
fn changed_value(
    path: &[Segment],
    live: &Value,
    wanted: &Value,
    masked: bool,
    place: &str,
) -> String {
    if masked {
        return format!(
            "`{}` is {MASK} in the cluster, {MASK}+ {place}",
            path::display(path)
        );
    }
    format!(
        "`{}` is {} in the cluster, {} {place}",
        path::display(path),
        show(live, false),
        show(wanted, false)
    )
}

/// A copy of `object` with every `data`/`stringData` value of a Secret replaced by a mask.
pub fn mask_secret(object: &Value) -> Value {
    let mut copy = object.clone();
    if is_secret(object) {
        for field in ["data", "stringData"] {
            if let Some(Value::Object(map)) = copy.get_mut(field) {
                for value in map.values_mut() {
                    *value = Value::String(MASK.into());
                }
            }
        }
    }
    copy
}

/// Masks both sides consistently: equal values get the same mask, changed ones different masks.
fn mask_pair(desired: &mut Value, live: &mut Value) {
    for field in ["data", "stringData"] {
        let live_values: Map<String, Value> = live
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(Value::Object(map)) = desired.get_mut(field) {
            for (key, value) in map.iter_mut() {
                let same = live_values.get(key) == Some(value);
                *value = Value::String(if same || !live_values.contains_key(key) {
                    MASK.into()
                } else {
                    format!("{MASK}+")
                });
            }
        }
        if let Some(Value::Object(map)) = live.get_mut(field) {
            for value in map.values_mut() {
                *value = Value::String(MASK.into());
            }
        }
    }
}

/// `live` restricted to the fields `desired` sets (so the diff shows only what a sync changes).
fn project(live: &Value, desired: &Value) -> Value {
    match (live, desired) {
        (Value::Object(live_map), Value::Object(desired_map)) => {
            let mut projected = Map::new();
            for (key, desired_value) in desired_map {
                if let Some(live_value) = live_map.get(key) {
                    projected.insert(key.clone(), project(live_value, desired_value));
                }
            }
            Value::Object(projected)
        }
        (Value::Array(live_items), Value::Array(desired_items)) => match merge_key(desired_items) {
            Some(key) => Value::Array(
                live_items
                    .iter()
                    .map(|live_item| {
                        match desired_items
                            .iter()
                            .find(|item| scalars_equal(&item[key], &live_item[key]))
                        {
                            Some(desired_item) => project(live_item, desired_item),
                            None => live_item.clone(),
                        }
                    })
                    .collect(),
            ),
            None => Value::Array(
                live_items
                    .iter()
                    .enumerate()
                    .map(|(index, live_item)| match desired_items.get(index) {
                        Some(desired_item) => project(live_item, desired_item),
                        None => live_item.clone(),
                    })
                    .collect(),
            ),
        },
        _ => live.clone(),
    }
}

fn yaml(value: &Value) -> String {
    if value.is_null() {
        return String::new();
    }
    flotilla_core::write_document(&flotilla_core::from_json(value))
        .unwrap_or_else(|error| format!("# cannot render: {error}\n"))
}

/// A unified diff of the two objects as YAML (live first, desired second): ignored and
/// server-populated fields removed, live restricted to what Git sets, Secrets masked.
pub fn render_diff(
    desired: Option<&Value>,
    live: Option<&Value>,
    manager: &str,
    rules: &[IgnoreDifference],
) -> Result<String, DiffError> {
    let _ = manager;
    let folded = desired.and_then(fold_string_data);
    let desired = folded.as_ref().or(desired);
    let (mut desired_side, mut live_side) = match (desired, live) {
        (Some(desired), live) => {
            let (desired_copy, live_copy, _) = normalise(desired, live, rules)?;
            let live_projected = live_copy
                .map(|live_copy| project(&live_copy, &desired_copy))
                .unwrap_or(Value::Null);
            (desired_copy, live_projected)
        }
        (None, Some(live)) => {
            let mut live_copy = live.clone();
            strip_server_fields(&mut live_copy);
            (Value::Null, live_copy)
        }
        (None, None) => return Ok(String::new()),
    };
    let secret = desired.map(is_secret).unwrap_or(false) || live.map(is_secret).unwrap_or(false);
    if secret {
        mask_pair(&mut desired_side, &mut live_side);
    }
    Ok(text_diff::unified(
        &yaml(&live_side),
        &yaml(&desired_side),
        "live",
        "desired",
    ))
}

/// Every leaf path of a value (for tests and tools).
pub fn leaf_paths(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, path: &mut FieldPath, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, child) in map {
                    path.push(Segment::Field(key.clone()));
                    walk(child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for (index, child) in items.iter().enumerate() {
                    path.push(Segment::Index(index));
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {
                out.insert(path::display(path));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}
