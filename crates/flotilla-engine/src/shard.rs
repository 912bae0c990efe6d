//! Sharding the Applications over controller replicas, through the cluster itself: membership
//! by Leases, assignment by consistent hashing with bounded loads, and the fence every write
//! asks.
//!
//! Each replica holds its own `coordination.k8s.io/v1` Lease, `flotilla-controller-<identity>`
//! in the control namespace (label `flotilla.dev/shard-member`), renewed every `retry_period`
//! (client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry; `ShardConfig`). The
//! members are the Leases whose `renewTime + leaseDurationSeconds` is still ahead, read by a
//! list after each renewal. Each Application (namespace/name) goes to one member ([`assign`]):
//! a hash ring with [`VIRTUAL_NODES`] points per member, each Application taken, in the order
//! of its hash, by the first member clockwise whose load is below
//! `ceil(1.25 × applications / members)` ([`capacity`]), so that a member joining or leaving
//! moves about its own share and no member holds more than 1.25 times the mean.
//!
//! Invariants:
//! - The assignment is a pure function of (Applications, members): replicas that see the same
//!   sets give every Application the same single owner.
//! - A replica writes (status, sync) only while `Share::fence` passes: its last renewal and
//!   member list succeeded less than `renew_deadline` ago by its own clock, and the
//!   Application is assigned to it. As `renew_deadline < lease_duration`, a replica that
//!   cannot renew stops writing at least `lease_duration - renew_deadline` before the others
//!   see its Lease expire; that margin covers writes in flight and clock drift.
//! - An Application gained from a member that is still live is written only `renew_deadline`
//!   after this replica saw the change: by then the previous owner has seen it too (it
//!   recomputes every `retry_period`) or has fenced itself. One gained from a member whose
//!   Lease expired is taken at once: that member fenced itself before its Lease expired. An
//!   Application new to this replica is taken at once only by its [`natural_owner`] (the ring
//!   without load bounds, which does not depend on the other Applications, so replicas that
//!   saw it at slightly different moments agree), otherwise after `renew_deadline`. A
//!   replica's first assignment treats every Application as gained from the members without
//!   it, and a replica that joins others takes nothing in its first `renew_deadline` (members
//!   that have not listed its Lease yet still place Applications without it). A replica that
//!   renews again after it fenced itself joins again the same way.
//! - Assumption: a replica's watch of the Applications lags the others' by less than
//!   `renew_deadline`, and the replicas' clocks differ by less than
//!   `lease_duration - renew_deadline`.
//! - An Application lost is forgotten at once (memory, indexes, metrics); a sync of it in flight
//!   stops at its next step (`reconcile` asks the fence) and its writes are refused.
//! - One replica unseals SealedSecrets and renews the sealing keys (the natural owner of a
//!   fixed name, past its joining period): replicas starting together generate one key, not
//!   one each; the others read the keys every 15 renewals for kubeseal's certificate endpoint.
//! - On shutdown a replica fences itself, then deletes its Lease, so the others take over
//!   without waiting for it to expire.
//!
//! Depends on `context` (`Shared`, `Share`, `ShardConfig`), `cluster`, `metrics`, `model` and
//! `sealed` (the unsealer it elects);
//! `controller` starts it; `status`, `sync` and `reconcile` ask its fence through `Share`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::cluster::{list_params_with_labels, ClusterError, ResourceInfo};
use crate::context::{AppKey, ShardConfig, Shared};
use crate::metrics::ShardGauges;
use crate::model::{GROUP, VERSION};

/// The name of a replica's Lease is this prefix and its identity.
pub const LEASE_PREFIX: &str = "flotilla-controller-";

/// The label every member Lease carries (value `true`), what the member list selects.
pub const MEMBER_LABEL: &str = "flotilla.dev/shard-member";

/// Points per member on the hash ring.
pub const VIRTUAL_NODES: usize = 128;

/// The most Applications one member holds: `ceil(1.25 × applications / members)`.
pub fn capacity(applications: usize, members: usize) -> usize {
    if members == 0 {
        return 0;
    }
    (5 * applications).div_ceil(4 * members)
}

/// A stable 64-bit hash (FNV-1a, then SplitMix64's finaliser to spread close inputs): the same
/// on every replica, platform and version.
fn hash(bytes: &[u8]) -> u64 {
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        state ^= u64::from(*byte);
        state = state.wrapping_mul(0x0000_0100_0000_01b3);
    }
    state ^= state >> 30;
    state = state.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    state ^= state >> 27;
    state = state.wrapping_mul(0x94d0_49bb_1331_11eb);
    state ^ (state >> 31)
}

fn application_hash(key: &AppKey) -> u64 {
    hash(format!("{}/{}", key.0, key.1).as_bytes())
}

/// Each Application's owner among `members`, by consistent hashing with bounded loads (see the
/// module documentation); empty when there are no members. The order of either list does not
/// matter.
pub fn assign(applications: &[AppKey], members: &[String]) -> HashMap<AppKey, String> {
    let (members, ring) = ring(members);
    let mut assignment = HashMap::with_capacity(applications.len());
    if members.is_empty() {
        return assignment;
    }
    let mut ordered: Vec<(u64, &AppKey)> = applications
        .iter()
        .map(|key| (application_hash(key), key))
        .collect();
    ordered.sort_unstable();
    ordered.dedup_by(|left, right| left.1 == right.1);
    let limit = capacity(ordered.len(), members.len());
    let mut loads = vec![0usize; members.len()];
    for (position, key) in ordered {
        let start = ring.partition_point(|(point, _)| *point < position);
        // capacity × members ≥ 1.25 × applications, so some member has room.
        let owner = (0..ring.len())
            .map(|step| ring[(start + step) % ring.len()].1)
            .find(|index| loads[*index] < limit)
            .expect("the members' capacity exceeds the Applications");
        loads[owner] += 1;
        assignment.insert(key.clone(), members[owner].clone());
    }
    assignment
}

/// The members (sorted, once each) and their points on the ring: (position, member index).
fn ring(members: &[String]) -> (Vec<&String>, Vec<(u64, usize)>) {
    let mut members: Vec<&String> = members.iter().collect();
    members.sort();
    members.dedup();
    let mut ring: Vec<(u64, usize)> = Vec::with_capacity(members.len() * VIRTUAL_NODES);
    for (index, member) in members.iter().enumerate() {
        for point in 0..VIRTUAL_NODES {
            ring.push((hash(format!("{member}#{point}").as_bytes()), index));
        }
    }
    ring.sort_unstable();
    (members, ring)
}

/// The member an Application's hash falls to when loads are not bounded: it depends on the
/// members only, not on which other Applications exist, so replicas whose Application sets
/// differ for a moment still agree on it (and it changes only for a member's own points when
/// that member joins or leaves).
pub fn natural_owner(key: &AppKey, members: &[String]) -> Option<String> {
    let (members, ring) = ring(members);
    let position = application_hash(key);
    let start = ring.partition_point(|(point, _)| *point < position);
    ring.get(start % ring.len().max(1))
        .map(|(_, index)| members[*index].clone())
}

/// A Kubernetes `MicroTime` (`2026-12-05T17:39:30.123456Z`).
fn micro_time(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = flotilla_core::time::format_rfc3339(since.as_secs());
    format!(
        "{}.{:06}Z",
        seconds.trim_end_matches('Z'),
        since.subsec_micros()
    )
}

/// A `MicroTime` (or a `Time`) as a `SystemTime`.
fn parse_micro_time(text: &str) -> Option<SystemTime> {
    let seconds = flotilla_core::time::parse_rfc3339(text)?;
    let fraction = text
        .get(19..)
        .and_then(|rest| rest.strip_prefix('.'))
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let micros: String = digits.chars().chain("000000".chars()).take(6).collect();
            micros.parse::<u64>().unwrap_or(0)
        })
        .unwrap_or(0);
    Some(UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(fraction))
}

/// The identities of the member Leases still live at `now` (sorted).
pub fn live_members(leases: &[Value], now: SystemTime) -> Vec<String> {
    let mut members: Vec<String> = leases
        .iter()
        .filter_map(|lease| {
            let name = lease["metadata"]["name"].as_str()?;
            let identity = name.strip_prefix(LEASE_PREFIX)?;
            let renewed = parse_micro_time(lease["spec"]["renewTime"].as_str()?)?;
            let duration = lease["spec"]["leaseDurationSeconds"].as_u64()?;
            (renewed + Duration::from_secs(duration) > now).then(|| identity.to_string())
        })
        .collect();
    members.sort();
    members.dedup();
    members
}

/// The identity of a replica that has no name given: `hostname-pid`, as a DNS label.
pub fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "flotilla".into());
    identity_label(&format!("{}-{}", host.trim(), std::process::id()))
}

/// `text` as a DNS label: lower case, other characters as `-`, at most 63 characters minus
/// the Lease prefix.
pub fn identity_label(text: &str) -> String {
    let mapped: String = text
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let limit = 63 - LEASE_PREFIX.len();
    let trimmed = mapped.get(..limit.min(mapped.len())).unwrap_or(&mapped);
    let trimmed = trimmed.trim_matches('-');
    if trimmed.is_empty() {
        "flotilla".into()
    } else {
        trimmed.to_string()
    }
}

/// The Lease of this replica as renewed at `now`.
fn lease_object(config: &ShardConfig, namespace: &str, now: SystemTime, acquired: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": format!("{LEASE_PREFIX}{}", config.identity),
            "namespace": namespace,
            "labels": {MEMBER_LABEL: "true"},
        },
        "spec": {
            "holderIdentity": config.identity,
            "leaseDurationSeconds": config.lease_duration.as_secs_f64().ceil().max(1.0) as u64,
            "acquireTime": acquired,
            "renewTime": micro_time(now),
        }
    })
}

/// The membership this replica works from.
struct View {
    /// When the last renewal that was followed by a successful list started.
    confirmed_at: Option<Instant>,
    members: Vec<String>,
    /// The last assignment, for telling where a gained Application comes from.
    assignment: Option<HashMap<AppKey, String>>,
    /// Applications that were reconcilable at the last tick.
    reconcilable: HashSet<AppKey>,
    /// A replica that joins others takes nothing before this instant (its first confirmation
    /// plus the renew deadline): by then every live member lists its Lease.
    joined_until: Option<Instant>,
    /// Renewals since the sealing keys were last read (by a replica that does not unseal).
    since_keys_read: u32,
}

/// Runs this replica's part until shutdown: renew, list, assign, every `retry_period`.
pub(crate) async fn run(shared: Arc<Shared>, config: ShardConfig) {
    let namespace = shared.config.control_namespace.clone();
    let acquired = micro_time(SystemTime::now());
    let mut shutdown = shared.shutdown.clone();
    let mut view = View {
        confirmed_at: None,
        members: Vec::new(),
        assignment: None,
        reconcilable: HashSet::new(),
        joined_until: None,
        since_keys_read: 0,
    };
    loop {
        let started = Instant::now();
        let bounded = config.renew_deadline.min(config.retry_period * 2);
        let round = tokio::time::timeout(
            bounded,
            renew_and_list(&shared, &config, &namespace, &acquired),
        );
        let answer = tokio::select! {
            answer = round => answer,
            _ = shutdown.changed() => break,
        };
        match answer {
            Ok(Ok(members)) => {
                // Fenced since the last success: the others may have taken this replica's
                // Applications meanwhile. It joins again, as a new replica does.
                let rejoined = view
                    .confirmed_at
                    .is_some_and(|at| started.duration_since(at) >= config.renew_deadline);
                if rejoined {
                    view.assignment = None;
                    shared
                        .share
                        .state
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .owned
                        .clear();
                }
                if (view.confirmed_at.is_none() || rejoined) && members.len() > 1 {
                    view.joined_until = Some(started + config.renew_deadline);
                }
                view.confirmed_at = Some(started);
                view.members = members;
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, identity = %config.identity, "cannot renew the shard Lease");
            }
            Err(_) => {
                tracing::warn!(identity = %config.identity, "renewing the shard Lease timed out");
            }
        }
        update_share(&shared, &config, &mut view);
        // Until the next renewal, a new Application is placed as soon as a worker meets it.
        let next = tokio::time::Instant::from_std(started + config.retry_period);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => break,
                _ = shared.share.wake.notified() => update_share(&shared, &config, &mut view),
                _ = shutdown.changed() => break,
            }
        }
        if *shutdown.borrow() {
            break;
        }
    }
    // Fence first: from now on nothing is written; then let the others take over at once.
    shared
        .share
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .valid_until = None;
    let release = async {
        let info = lease_info(&shared).await?;
        shared
            .home
            .cluster
            .delete(
                &info,
                Some(&namespace),
                &format!("{LEASE_PREFIX}{}", config.identity),
                "background",
            )
            .await
    };
    if let Ok(Err(error)) = tokio::time::timeout(config.retry_period, release).await {
        tracing::warn!(%error, "cannot release the shard Lease");
    }
    shared
        .share
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .released = true;
}

async fn lease_info(shared: &Shared) -> Result<ResourceInfo, ClusterError> {
    shared
        .home
        .cluster
        .resource("coordination.k8s.io/v1", "Lease")
        .await
}

/// Renews this replica's Lease, then lists the live members (this replica included).
async fn renew_and_list(
    shared: &Shared,
    config: &ShardConfig,
    namespace: &str,
    acquired: &str,
) -> Result<Vec<String>, ClusterError> {
    let info = lease_info(shared).await?;
    let lease = lease_object(config, namespace, SystemTime::now(), acquired);
    shared
        .home
        .cluster
        .apply(&info, &lease, true, false)
        .await?;
    let listed = shared
        .home
        .cluster
        .list(
            &info,
            Some(namespace),
            &list_params_with_labels(&format!("{MEMBER_LABEL}=true")),
        )
        .await?;
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    let mut members = live_members(&items, SystemTime::now());
    if !members.contains(&config.identity) {
        members.push(config.identity.clone());
        members.sort();
    }
    Ok(members)
}

/// Recomputes this replica's share from the view: the owned Applications (with their handover
/// instants), the fence's deadline, the gauges; forgets the Applications lost and queues the
/// ones that became reconcilable.
fn update_share(shared: &Shared, config: &ShardConfig, view: &mut View) {
    let now = Instant::now();
    let applications: Vec<AppKey> = shared
        .home
        .watched(&format!("{GROUP}/{VERSION}"), "Application")
        .map(|cache| cache.keys())
        .unwrap_or_default()
        .into_iter()
        .filter(|(namespace, _)| {
            shared.config.app_namespaces.is_empty()
                || shared.config.app_namespaces.contains(namespace)
        })
        .collect();
    let valid_until = view.confirmed_at.map(|at| at + config.renew_deadline);
    if view.members.is_empty() {
        // Never confirmed: own nothing yet.
        let mut state = shared
            .share
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.valid_until = valid_until;
        return;
    }
    let assignment = assign(&applications, &view.members);
    let previous = view.assignment.take().unwrap_or_else(|| {
        let others: Vec<String> = view
            .members
            .iter()
            .filter(|member| **member != config.identity)
            .cloned()
            .collect();
        assign(&applications, &others)
    });
    let mut lost = Vec::new();
    let reconcilable: HashSet<AppKey>;
    {
        let mut state = shared
            .share
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut owned = HashMap::new();
        for (key, owner) in &assignment {
            if *owner != config.identity {
                continue;
            }
            let handover = now + config.renew_deadline;
            let from = match state.owned.get(key) {
                Some(from) => *from,
                None => {
                    let from = match previous.get(key) {
                        // Its owner may still be writing until it sees the change.
                        Some(before)
                            if *before != config.identity && view.members.contains(before) =>
                        {
                            handover
                        }
                        // Its owner's Lease expired: it fenced itself before that.
                        Some(_) => now,
                        // New to this replica: at once only where every replica places it.
                        None if natural_owner(key, &view.members).as_ref()
                            == Some(&config.identity) =>
                        {
                            now
                        }
                        None => handover,
                    };
                    from.max(view.joined_until.unwrap_or(now))
                }
            };
            owned.insert(key.clone(), from);
        }
        lost.extend(
            state
                .owned
                .keys()
                .filter(|key| !owned.contains_key(*key))
                .cloned(),
        );
        state.owned = owned;
        state.assigned = assignment.keys().cloned().collect();
        state.valid_until = valid_until;
        state.members = view.members.clone();
        let valid = valid_until.is_some_and(|until| until > now);
        reconcilable = state
            .owned
            .iter()
            .filter(|(_, from)| valid && **from <= now)
            .map(|(key, _)| key.clone())
            .collect();
        shared.metrics.set_shard(ShardGauges {
            identity: config.identity.clone(),
            owned_applications: state.owned.len() as u64,
            members: view.members.len() as u64,
        });
    }
    shared.forget_applications(&lost.into_iter().collect());
    elect_unsealer(shared, config, view, now);
    for key in reconcilable.difference(&view.reconcilable) {
        shared.queue.push(key.clone());
    }
    view.reconcilable = reconcilable;
    view.assignment = Some(assignment);
}

/// The name the replica that unseals SealedSecrets is chosen by: its natural owner.
const UNSEALER_KEY: (&str, &str) = ("", "flotilla-sealed-secrets");

/// One replica unseals SealedSecrets and renews the sealing keys: the natural owner of
/// `UNSEALER_KEY` once past its joining period. Taking the role, it reads the keys, generates
/// one when due and queues every SealedSecret; the others read the keys now and then, for
/// kubeseal's certificate endpoint.
fn elect_unsealer(shared: &Shared, config: &ShardConfig, view: &mut View, now: Instant) {
    let Some(unsealer) = shared.unsealer.get().cloned() else {
        return;
    };
    let key = (UNSEALER_KEY.0.to_string(), UNSEALER_KEY.1.to_string());
    let elected = natural_owner(&key, &view.members).as_ref() == Some(&config.identity)
        && view.joined_until.is_none_or(|until| until <= now);
    let was = std::mem::replace(
        &mut shared
            .share
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .unseals,
        elected,
    );
    unsealer
        .generates
        .store(elected, std::sync::atomic::Ordering::SeqCst);
    view.since_keys_read += 1;
    let read_keys = !elected && view.since_keys_read >= 15;
    if (elected && !was) || read_keys {
        view.since_keys_read = 0;
        let pending: Vec<AppKey> = if elected {
            shared
                .home
                .watched(crate::sealed::API_VERSION, "SealedSecret")
                .map(|cache| cache.keys())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        tokio::spawn(async move {
            if let Err(error) = unsealer.load_keys().await {
                tracing::warn!(%error, "reading the sealing keys failed");
            }
            if elected {
                if let Err(error) = unsealer.renew_if_due().await {
                    tracing::warn!(%error, "sealing key renewal failed");
                }
                for (namespace, name) in pending {
                    unsealer.enqueue(&namespace, &name);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applications(count: usize) -> Vec<AppKey> {
        (0..count)
            .map(|index| ("argocd".to_string(), format!("app-{index:04}")))
            .collect()
    }

    fn members(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    fn loads(assignment: &HashMap<AppKey, String>) -> HashMap<String, usize> {
        let mut loads = HashMap::new();
        for owner in assignment.values() {
            *loads.entry(owner.clone()).or_default() += 1;
        }
        loads
    }

    fn moved(before: &HashMap<AppKey, String>, after: &HashMap<AppKey, String>) -> usize {
        before
            .iter()
            .filter(|(key, owner)| after.get(*key) != Some(*owner))
            .count()
    }

    #[test]
    fn every_application_has_one_owner_within_the_bound() {
        for (count, names) in [
            (300, members(&["a", "b", "c"])),
            (1000, members(&["r1", "r2", "r3", "r4", "r5", "r6", "r7"])),
            (7, members(&["x", "y", "z"])),
            (1, members(&["only"])),
        ] {
            let apps = applications(count);
            let assignment = assign(&apps, &names);
            assert_eq!(assignment.len(), count);
            let limit = capacity(count, names.len());
            for (member, load) in loads(&assignment) {
                assert!(names.contains(&member));
                assert!(load <= limit, "{member} holds {load} > {limit}");
            }
        }
        assert!(assign(&applications(5), &[]).is_empty());
        assert_eq!(capacity(300, 3), 125);
        assert_eq!(capacity(300, 4), 94);
    }

    #[test]
    fn the_assignment_does_not_depend_on_the_order_of_its_inputs() {
        let apps = applications(200);
        let mut reversed = apps.clone();
        reversed.reverse();
        assert_eq!(
            assign(&apps, &members(&["a", "b", "c"])),
            assign(&reversed, &members(&["c", "a", "b", "a"]))
        );
    }

    #[test]
    fn a_joining_member_takes_about_its_share_and_moves_little_else() {
        for count in [120, 300, 1000] {
            let apps = applications(count);
            let before = assign(&apps, &members(&["a", "b", "c"]));
            let after = assign(&apps, &members(&["a", "b", "c", "d"]));
            let taken = loads(&after).get("d").copied().unwrap_or(0);
            let moved = moved(&before, &after);
            // About a quarter, and what moves is mostly what the new member takes.
            assert!(
                taken * 100 >= count * 15 && taken * 100 <= count * 32,
                "{count}: d takes {taken}"
            );
            assert!(
                moved <= taken + count / 20 && moved * 3 <= count,
                "{count}: {moved} moved (d took {taken})"
            );
        }
    }

    #[test]
    fn a_leaving_members_applications_spread_over_the_others() {
        for count in [120, 300, 1000] {
            let apps = applications(count);
            let before = assign(&apps, &members(&["a", "b", "c", "d"]));
            let after = assign(&apps, &members(&["a", "b", "d"]));
            let orphans: Vec<&AppKey> = before
                .iter()
                .filter(|(_, owner)| owner.as_str() == "c")
                .map(|(key, _)| key)
                .collect();
            let mut heirs: HashMap<&str, usize> = HashMap::new();
            for key in &orphans {
                *heirs.entry(after[*key].as_str()).or_default() += 1;
            }
            assert_eq!(heirs.len(), 3, "{count}: {heirs:?}");
            for (heir, got) in &heirs {
                assert!(
                    *got * 100 >= orphans.len() * 15,
                    "{count}: {heir} took {got} of {}",
                    orphans.len()
                );
            }
            // Besides the orphans, few Applications move between the survivors.
            let others_moved = moved(&before, &after) - orphans.len();
            assert!(others_moved <= count / 20, "{count}: {others_moved}");
        }
    }

    #[test]
    fn natural_owners_change_only_with_the_member_joining_or_leaving() {
        let three = members(&["a", "b", "c"]);
        let four = members(&["a", "b", "c", "d"]);
        for key in applications(300) {
            let before = natural_owner(&key, &three).expect("an owner");
            let after = natural_owner(&key, &four).expect("an owner");
            assert!(
                after == before || after == "d",
                "{key:?}: {before} → {after}"
            );
        }
        assert_eq!(natural_owner(&applications(1)[0], &[]), None);
    }

    #[test]
    fn leases_are_live_until_their_renewal_plus_duration() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let lease = |name: &str, renewed: SystemTime, seconds: u64| {
            json!({
                "metadata": {"name": name},
                "spec": {"renewTime": micro_time(renewed), "leaseDurationSeconds": seconds}
            })
        };
        let leases = vec![
            lease("flotilla-controller-b", now - Duration::from_secs(3), 15),
            lease(
                "flotilla-controller-a",
                now - Duration::from_millis(14_900),
                15,
            ),
            lease(
                "flotilla-controller-gone",
                now - Duration::from_secs(16),
                15,
            ),
            lease("kube-scheduler", now, 15),
        ];
        assert_eq!(live_members(&leases, now), members(&["a", "b"]));
        assert_eq!(
            parse_micro_time(&micro_time(now + Duration::from_micros(123_456))),
            Some(now + Duration::from_micros(123_456))
        );
        assert_eq!(
            parse_micro_time("2027-01-15T08:00:00Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000))
        );
    }

    #[test]
    fn identities_are_dns_labels() {
        assert_eq!(identity_label("Build_Host.local-42"), "build-host-local-42");
        assert_eq!(identity_label("--"), "flotilla");
        assert!(identity_label(&"x".repeat(100)).len() + LEASE_PREFIX.len() <= 63);
    }
}
