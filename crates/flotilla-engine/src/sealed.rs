//! Unsealing inside the engine, as the Bitnami sealed-secrets controller does: sealing keys are
//! `kubernetes.io/tls` Secrets named `sealed-secrets-key<suffix>` in the controller namespace,
//! labelled `sealedsecrets.bitnami.com/sealed-secrets-key=active` (so either controller can use
//! them); a new key is generated when none exists or the newest is older than the renewal period,
//! and old keys stay for decryption. Every `bitnami.com/v1alpha1` SealedSecret is turned into its
//! Secret: name and namespace forced to the SealedSecret's, template metadata/type/immutable, an
//! owner reference, the `managed` and `patch` annotations honoured, an unmanaged Secret never
//! overwritten; the result is the `Synced` condition (and an Event).
//!
//! Invariants: plaintext lives only in the Secret written to the API server and in zeroed
//! buffers inside `flotilla-sealed`; no message, log line or condition carries a secret value;
//! a failed unseal leaves the existing Secret untouched.
//!
//! Depends on `cluster` and `live` only (and the crate-wide `now`/`parse_timestamp`); the
//! controller starts it and routes SealedSecret events to it.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use flotilla_sealed::rand_core::UnwrapErr;
use flotilla_sealed::{PrivateKey, PublicKey};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::cluster::{Cluster, ClusterError, FIELD_MANAGER};
use crate::live::LiveCache;
use crate::now;

pub const API_VERSION: &str = "bitnami.com/v1alpha1";
pub const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";
const MANAGED_ANNOTATION: &str = "sealedsecrets.bitnami.com/managed";
const PATCH_ANNOTATION: &str = "sealedsecrets.bitnami.com/patch";

/// How the unsealer runs.
#[derive(Clone, Debug)]
pub struct SealedSecretsConfig {
    /// Where the key Secrets live (the Bitnami default is `kube-system`).
    pub controller_namespace: String,
    /// A new key after this long; zero never renews.
    pub key_renewal: Duration,
    /// RSA key size of generated keys.
    pub key_bits: usize,
}

impl Default for SealedSecretsConfig {
    fn default() -> Self {
        SealedSecretsConfig {
            controller_namespace: "kube-system".into(),
            key_renewal: flotilla_sealed::keygen::DEFAULT_RENEWAL_PERIOD,
            key_bits: flotilla_sealed::keygen::DEFAULT_KEY_BITS,
        }
    }
}

/// One key: the private key and its certificate.
struct Key {
    private_key: PrivateKey,
    certificate_pem: String,
    created: SystemTime,
}

/// The keys and the work channel of a running unsealer.
pub struct Unsealer {
    config: SealedSecretsConfig,
    cluster: Arc<Cluster>,
    keys: RwLock<Vec<Key>>,
    /// Whether this replica renews the keys (all but one replica do not, when sharded).
    pub(crate) generates: std::sync::atomic::AtomicBool,
    work: mpsc::UnboundedSender<(String, String)>,
}

fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

fn decode(value: &Value) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_str()?)
        .ok()?;
    String::from_utf8(bytes).ok()
}

impl Unsealer {
    /// Loads (or creates) the sealing keys, installs the SealedSecret CRD when absent, and starts
    /// the worker and the key renewal task. `events` receives SealedSecret changes from the
    /// engine's router.
    /// With `generate` false (replicas sharing the work: only the one `shard` elects unseals
    /// and generates keys), no key is generated at start.
    pub(crate) async fn start(
        cache: Arc<LiveCache>,
        config: SealedSecretsConfig,
        shutdown: tokio::sync::watch::Receiver<bool>,
        generate: bool,
    ) -> Result<Arc<Unsealer>, ClusterError> {
        let cluster = cache.cluster.clone();
        install_crd(&cluster).await?;
        let (work, mut receiver) = mpsc::unbounded_channel();
        let unsealer = Arc::new(Unsealer {
            config,
            cluster,
            keys: RwLock::new(Vec::new()),
            work,
            generates: std::sync::atomic::AtomicBool::new(generate),
        });
        unsealer.load_keys().await?;
        if generate {
            unsealer.renew_if_due().await?;
        }
        let sealed_secrets = cache.ensure(API_VERSION, "SealedSecret").await?;
        let worker = unsealer.clone();
        let worker_cache = cache.clone();
        let mut worker_shutdown = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    next = receiver.recv() => next,
                    _ = worker_shutdown.changed() => return,
                };
                let Some((namespace, name)) = next else {
                    return;
                };
                if let Some(sealed_secret) = worker_cache
                    .watched(API_VERSION, "SealedSecret")
                    .and_then(|kind| kind.get(&namespace, &name))
                {
                    worker.unseal_one(&sealed_secret).await;
                }
            }
        });
        if generate {
            for sealed_secret in sealed_secrets.all() {
                let _ = unsealer.work.send(key_of(&sealed_secret));
            }
        }
        let renewer = unsealer.clone();
        let mut renew_shutdown = shutdown;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                    _ = renew_shutdown.changed() => return,
                }
                if let Err(error) = renewer.load_keys().await {
                    tracing::warn!(%error, "reloading the sealing keys failed");
                }
                if !renewer.generates.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                if let Err(error) = renewer.renew_if_due().await {
                    tracing::warn!(%error, "sealing key renewal failed");
                }
            }
        });
        Ok(unsealer)
    }

    /// Queues one SealedSecret (the router calls this on every change).
    pub fn enqueue(&self, namespace: &str, name: &str) {
        let _ = self.work.send((namespace.to_string(), name.to_string()));
    }

    async fn key_secrets(&self) -> Result<Vec<Value>, ClusterError> {
        let info = self.cluster.resource("v1", "Secret").await?;
        let parameters = kube::api::ListParams::default().labels(KEY_LABEL);
        let list = self
            .cluster
            .list(&info, Some(&self.config.controller_namespace), &parameters)
            .await?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    /// Reads every key Secret of the controller namespace.
    pub async fn load_keys(&self) -> Result<usize, ClusterError> {
        let mut keys = Vec::new();
        for secret in self.key_secrets().await? {
            let name = secret["metadata"]["name"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            let (Some(key_pem), Some(certificate_pem)) = (
                decode(&secret["data"]["tls.key"]),
                decode(&secret["data"]["tls.crt"]),
            ) else {
                tracing::warn!(secret = %name, "skipping a sealing key Secret without tls.key and tls.crt");
                continue;
            };
            match flotilla_sealed::parse_private_keys(&key_pem) {
                Ok(parsed) => {
                    let created = secret["metadata"]["creationTimestamp"]
                        .as_str()
                        .and_then(crate::parse_timestamp)
                        .unwrap_or(SystemTime::UNIX_EPOCH);
                    for private_key in parsed {
                        keys.push(Key {
                            private_key,
                            certificate_pem: certificate_pem.clone(),
                            created,
                        });
                    }
                }
                Err(error) => {
                    tracing::warn!(secret = %name, %error, "skipping an unreadable sealing key")
                }
            }
        }
        keys.sort_by_key(|key| key.created);
        let count = keys.len();
        *self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = keys;
        Ok(count)
    }

    /// Generates a key when none exists or the newest is older than the renewal period.
    pub async fn renew_if_due(&self) -> Result<bool, ClusterError> {
        let newest = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .last()
            .map(|key| key.created);
        if !flotilla_sealed::keygen::renewal_due(newest, SystemTime::now(), self.config.key_renewal)
        {
            return Ok(false);
        }
        self.rotate().await?;
        Ok(true)
    }

    /// Generates a new active key now (`flotilla keys rotate`, `POST /v1/rotate` of a key).
    pub async fn rotate(&self) -> Result<String, ClusterError> {
        let options = flotilla_sealed::KeyGenerationOptions {
            bits: self.config.key_bits,
            namespace: self.config.controller_namespace.clone(),
            ..Default::default()
        };
        let generated = tokio::task::spawn_blocking(move || {
            flotilla_sealed::generate_key(&mut rng(), SystemTime::now(), &options)
        })
        .await
        .map_err(|error| ClusterError::Config(format!("key generation stopped: {error}")))?
        .map_err(|error| ClusterError::Config(format!("key generation failed: {error}")))?;
        let namespace_info = self.cluster.resource("v1", "Namespace").await?;
        if self
            .cluster
            .get(&namespace_info, None, &self.config.controller_namespace)
            .await?
            .is_none()
        {
            let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.config.controller_namespace}});
            self.cluster
                .apply(&namespace_info, &namespace, true, false)
                .await?;
        }
        let info = self.cluster.resource("v1", "Secret").await?;
        let secret = flotilla_core::to_json(&generated.secret);
        self.cluster.create(&info, &secret).await?;
        let name = generated.secret_name.clone();
        self.keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Key {
                private_key: generated.private_key.clone(),
                certificate_pem: generated.certificate_pem.clone(),
                created: SystemTime::now(),
            });
        tracing::info!(secret = %name, "generated a new sealing key");
        Ok(name)
    }

    /// The certificate of the newest key (`GET /v1/cert.pem`).
    pub fn certificate_pem(&self) -> Option<String> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .last()
            .map(|key| key.certificate_pem.clone())
    }

    fn private_keys(&self) -> Vec<PrivateKey> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|key| key.private_key.clone())
            .collect()
    }

    fn newest_public_key(&self) -> Option<PublicKey> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .last()
            .map(|key| key.private_key.to_public_key())
    }

    /// Whether a SealedSecret (JSON) can be unsealed with the current keys (`POST /v1/verify`).
    pub fn verify(&self, sealed_secret: &Value) -> Result<(), String> {
        flotilla_sealed::unseal_sealed_secret(
            &mut rng(),
            &self.private_keys(),
            &flotilla_core::from_json(sealed_secret),
        )
        .map(|_| ())
        .map_err(|error| error.to_string())
    }

    /// The SealedSecret re-encrypted for the newest key (`POST /v1/rotate`).
    pub fn reseal(&self, sealed_secret: &Value) -> Result<Value, String> {
        let public_key = self
            .newest_public_key()
            .ok_or("the controller has no sealing key")?;
        flotilla_sealed::reseal_sealed_secret(
            &mut rng(),
            &self.private_keys(),
            &public_key,
            &flotilla_core::from_json(sealed_secret),
        )
        .map(|resealed| flotilla_core::to_json(&resealed))
        .map_err(|error| error.to_string())
    }

    async fn unseal_one(&self, sealed_secret: &Value) {
        let (namespace, name) = key_of(sealed_secret);
        if sealed_secret["metadata"]["deletionTimestamp"].is_string() {
            return;
        }
        let mut outcome = self.produce_secret(sealed_secret).await;
        if outcome.is_err() {
            // A key added by `flotilla keys rotate` or another controller: reload and retry once.
            if self.load_keys().await.is_ok() {
                outcome = self.produce_secret(sealed_secret).await;
            }
        }
        let (status, message, reason) = match &outcome {
            Ok(()) => ("True", String::new(), "Unsealed"),
            Err(message) => ("False", message.clone(), "ErrUnsealFailed"),
        };
        let previous = sealed_secret["status"]["conditions"]
            .as_array()
            .and_then(|conditions| {
                conditions
                    .iter()
                    .find(|condition| condition["type"] == "Synced")
            })
            .cloned();
        let generation = sealed_secret["metadata"]["generation"].clone();
        let unchanged = previous.as_ref().is_some_and(|previous| {
            previous["status"] == status && previous["message"].as_str().unwrap_or("") == message
        }) && sealed_secret["status"]["observedGeneration"] == generation;
        if unchanged {
            return;
        }
        let transition = match &previous {
            Some(previous) if previous["status"] == status => {
                previous["lastTransitionTime"].clone()
            }
            _ => json!(now()),
        };
        let mut condition = json!({"type": "Synced", "status": status, "lastUpdateTime": now(), "lastTransitionTime": transition});
        if !message.is_empty() {
            condition["message"] = json!(message);
            condition["reason"] = json!(reason);
        }
        let patch =
            json!({"status": {"conditions": [condition], "observedGeneration": generation}});
        if let Ok(info) = self.cluster.resource(API_VERSION, "SealedSecret").await {
            let request = kube::core::Request::new(info.collection_path(Some(&namespace)))
                .patch_subresource(
                    "status",
                    &name,
                    &kube::api::PatchParams::default(),
                    &kube::api::Patch::Merge(&patch),
                );
            if let Err(error) = self.cluster.send(request).await {
                tracing::warn!(sealed_secret = %name, %error, "cannot write the SealedSecret status");
            }
        }
        self.record_event(
            sealed_secret,
            reason,
            if message.is_empty() {
                "SealedSecret unsealed successfully"
            } else {
                &message
            },
            status == "True",
        )
        .await;
    }

    async fn record_event(&self, sealed_secret: &Value, reason: &str, message: &str, normal: bool) {
        let (namespace, name) = key_of(sealed_secret);
        let Ok(info) = self.cluster.resource("v1", "Event").await else {
            return;
        };
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0);
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": format!("{name}.{nanos:x}"), "namespace": namespace},
            "involvedObject": {"apiVersion": API_VERSION, "kind": "SealedSecret", "name": name, "namespace": namespace, "uid": sealed_secret["metadata"]["uid"]},
            "reason": reason,
            "message": message,
            "type": if normal { "Normal" } else { "Warning" },
            "source": {"component": "flotilla-sealed-secrets"},
            "firstTimestamp": now(),
            "lastTimestamp": now(),
            "count": 1
        });
        let _ = self.cluster.create(&info, &event).await;
    }

    /// Decrypts and writes the Secret; the error message never holds plaintext.
    async fn produce_secret(&self, sealed_secret: &Value) -> Result<(), String> {
        let keys = self.private_keys();
        if keys.is_empty() {
            return Err("the controller has no sealing key".into());
        }
        let unsealed = flotilla_sealed::unseal_sealed_secret(
            &mut rng(),
            &keys,
            &flotilla_core::from_json(sealed_secret),
        )
        .map_err(|error| crate::error_chain(&error))?;
        let mut secret = flotilla_core::to_json(unsealed.document());
        let (namespace, name) = key_of(sealed_secret);
        let info = self
            .cluster
            .resource("v1", "Secret")
            .await
            .map_err(|error| error.to_string())?;
        let existing = self
            .cluster
            .get(&info, Some(&namespace), &name)
            .await
            .map_err(|error| error.to_string())?;
        if let Some(existing) = &existing {
            let owned = existing["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|owners| {
                    owners.iter().any(|owner| {
                        owner["kind"] == "SealedSecret"
                            && owner["uid"] == sealed_secret["metadata"]["uid"]
                    })
                });
            let annotations = &existing["metadata"]["annotations"];
            let managed = annotations[MANAGED_ANNOTATION] == "true";
            let patch = annotations[PATCH_ANNOTATION] == "true";
            if !owned && !managed && !patch {
                return Err(format!(
                    "Resource \"{name}\" already exists and is not managed by SealedSecret"
                ));
            }
            if existing["immutable"] == true && existing["data"] != secret["data"] {
                return Err(format!("Secret \"{name}\" is immutable and its data would change; delete it to let the SealedSecret recreate it"));
            }
            if patch {
                // Keep the Secret's other keys and metadata: merge ours in.
                let merge = json!({"metadata": {"labels": secret["metadata"]["labels"], "annotations": secret["metadata"]["annotations"]}, "data": secret["data"]});
                return self
                    .cluster
                    .merge_patch(&info, Some(&namespace), &name, &merge)
                    .await
                    .map(|_| ())
                    .map_err(|error| error.to_string());
            }
            secret["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"].clone();
            let body = serde_json::to_vec(&secret).map_err(|error| error.to_string())?;
            let parameters = kube::api::PostParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..Default::default()
            };
            let request = kube::core::Request::new(info.collection_path(Some(&namespace)))
                .replace(&name, &parameters, body)
                .map_err(|error| error.to_string())?;
            let result = self
                .cluster
                .client
                .request::<Value>(request)
                .await
                .map(|_| ())
                .map_err(|error| match error {
                    kube::Error::Api(status) => status.message.clone(),
                    other => other.to_string(),
                });
            zero(&mut secret);
            return result;
        }
        let result = self
            .cluster
            .create(&info, &secret)
            .await
            .map(|_| ())
            .map_err(|error| error.to_string());
        zero(&mut secret);
        result
    }
}

/// Overwrites the data values of a Secret held in memory.
fn zero(secret: &mut Value) {
    if let Some(Value::Object(data)) = secret.get_mut("data") {
        for value in data.values_mut() {
            if let Value::String(text) = value {
                // Safety of intent: replace the buffer contents before it is dropped.
                let length = text.len();
                text.clear();
                text.extend(std::iter::repeat_n('\0', length));
            }
        }
    }
}

fn key_of(object: &Value) -> (String, String) {
    (
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

async fn install_crd(cluster: &Cluster) -> Result<(), ClusterError> {
    let crd_info = cluster
        .resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        .await?;
    if cluster
        .get(&crd_info, None, "sealedsecrets.bitnami.com")
        .await?
        .is_none()
    {
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "sealedsecrets.bitnami.com"},
            "spec": {
                "group": "bitnami.com",
                "names": {"kind": "SealedSecret", "listKind": "SealedSecretList", "plural": "sealedsecrets", "singular": "sealedsecret"},
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1alpha1", "served": true, "storage": true,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Status", "type": "string", "jsonPath": ".status.conditions[0].message"},
                        {"name": "Synced", "type": "string", "jsonPath": ".status.conditions[0].status"}
                    ],
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }}}
                }]
            }
        });
        // Replicas starting together: the first one creates it.
        match cluster.create(&crd_info, &crd).await {
            Err(error) if !error.is_already_exists() => return Err(error),
            _ => {}
        }
    }
    for _ in 0..300 {
        cluster.forget_discovery();
        if cluster.resource(API_VERSION, "SealedSecret").await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster
        .resource(API_VERSION, "SealedSecret")
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubernetes_times() {
        let time = crate::parse_timestamp("2026-11-24T00:00:00Z").expect("valid");
        assert_eq!(
            time.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after epoch")
                .as_secs(),
            1_795_478_400
        );
        assert!(crate::parse_timestamp("yesterday").is_none());
    }
}
