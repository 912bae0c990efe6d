//! Secrets and SealedSecrets as manifests: sealing a Secret the way `kubeseal` does, the raw mode
//! (one value), merging into an existing SealedSecret, unsealing into the Secret the Bitnami
//! controller would create, and resealing for a new certificate.
//!
//! The layouts follow sealed-secrets' `NewSealedSecret` and `SealedSecret.Unseal`: the
//! SealedSecret's top-level metadata holds the name, namespace and scope annotation only; the
//! Secret's own metadata (labels, annotations, …) travels in `spec.template.metadata`; the scope
//! is read back from the SealedSecret's top-level annotations. Unsealed documents are zeroed when
//! dropped, and no error message carries a value.

use flotilla_core::base64::{decode_standard, encode_standard};
use flotilla_core::{Mapping, Value};
use rand_core::CryptoRng;
use rsa::{PrivateKey, PublicKey};
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::{
    hybrid_decrypt_with_any, hybrid_encrypt, DecryptError, EncryptError, Scope,
    CLUSTER_WIDE_ANNOTATION, NAMESPACE_WIDE_ANNOTATION,
};

/// `apiVersion` of SealedSecrets.
pub const SEALED_SECRET_API_VERSION: &str = "bitnami.com/v1alpha1";
/// Annotation kubectl uses to keep the last applied object, which would leak the plaintext.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Annotation that stops the controller from setting an owner reference on the Secret.
const SKIP_OWNER_REFERENCES_ANNOTATION: &str =
    "sealedsecrets.bitnami.com/skip-set-owner-references";
/// Server-managed metadata kubeseal strips before copying a Secret's metadata into the template.
const SERVER_MANAGED_METADATA: [&str; 8] = [
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
];

/// How to seal a Secret.
#[derive(Clone, Debug, Default)]
pub struct SealOptions {
    /// The scope; `None` takes it from the Secret's scope annotations (strict without them).
    pub scope: Option<Scope>,
    /// Namespace used when the Secret has none (kubeseal uses the kubeconfig's namespace).
    pub default_namespace: Option<String>,
    /// Seal a Secret without `data` and `stringData` instead of refusing it.
    pub allow_empty_data: bool,
}

/// Why a Secret could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("expected a `v1` `Secret`, found {found}")]
    NotASecret { found: String },
    #[error("the Secret has no `metadata.name`")]
    MissingName,
    #[error("the Secret `{name}` has no namespace; give one (`metadata.namespace` or `--namespace`) or use the cluster-wide scope")]
    MissingNamespace { name: String },
    #[error("`{field}` of the Secret must be a mapping, found a {found}")]
    NotAMapping { field: String, found: &'static str },
    #[error(
        "`data.{key}` of the Secret is not valid base64; put plain text in `stringData` instead"
    )]
    InvalidBase64 { key: String },
    #[error("`{field}.{key}` of the Secret must be a string, found a {found}")]
    NotAString {
        field: String,
        key: String,
        found: &'static str,
    },
    #[error("the Secret has no `data` or `stringData`, assuming this is an error and aborting; pass `--allow-empty-data` to seal it anyway")]
    EmptyData,
    #[error("sealing `{key}` failed")]
    Encrypt {
        key: String,
        #[source]
        source: EncryptError,
    },
}

/// Why a single value could not be sealed in raw mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealRawError {
    #[error("the {scope} scope needs a namespace (`--namespace`)")]
    MissingNamespace { scope: Scope },
    #[error("the strict scope needs a name (`--name`)")]
    MissingName,
    #[error("sealing the value failed")]
    Encrypt {
        #[source]
        source: EncryptError,
    },
}

/// Why a Secret could not be merged into a SealedSecret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("the document to merge into is not a SealedSecret")]
    Target {
        #[source]
        source: SealedSecretShapeError,
    },
    #[error("the Secret to merge cannot be sealed")]
    Seal {
        #[source]
        source: SealError,
    },
}

/// Why a document is not a usable SealedSecret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealedSecretShapeError {
    #[error("expected a `SealedSecret`, found {found}")]
    NotASealedSecret { found: String },
    #[error("the SealedSecret has no `metadata.name`")]
    MissingName,
    #[error("the SealedSecret `{name}` has no namespace and is not cluster-wide")]
    MissingNamespace { name: String },
    #[error("`spec.encryptedData` must be a mapping of strings, found a {found}")]
    EncryptedDataNotAMapping { found: &'static str },
    #[error("the SealedSecret uses the legacy `spec.data` format (sealed-secrets < 0.7), which is not supported")]
    LegacyFormat,
}

/// Why a SealedSecret could not be unsealed. No variant carries plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsealError {
    #[error("not a usable SealedSecret")]
    Shape {
        #[source]
        source: SealedSecretShapeError,
    },
    #[error("`spec.encryptedData.{key}` is not a string")]
    NotAString { key: String },
    #[error("`spec.encryptedData.{key}` is not valid base64")]
    InvalidBase64 { key: String },
    #[error("`spec.encryptedData.{key}` cannot be unsealed with the given keys (tried {key_count}) as {scope} `{label}`")]
    Decrypt {
        key: String,
        key_count: usize,
        scope: Scope,
        label: String,
        #[source]
        source: DecryptError,
    },
    #[error("`spec.template.data.{key}` cannot be evaluated")]
    Template {
        key: String,
        #[source]
        source: crate::template::TemplateError,
    },
}

/// Why a SealedSecret could not be resealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResealError {
    #[error("unsealing with the old keys failed")]
    Unseal {
        #[source]
        source: UnsealError,
    },
    #[error("sealing `{key}` for the new certificate failed")]
    Encrypt {
        key: String,
        #[source]
        source: EncryptError,
    },
}

/// A Secret holding plaintext, zeroed when dropped.
pub struct UnsealedSecret {
    document: Value,
}

impl UnsealedSecret {
    /// The Secret manifest.
    pub fn document(&self) -> &Value {
        &self.document
    }
}

impl std::fmt::Debug for UnsealedSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("UnsealedSecret { .. }")
    }
}

impl Drop for UnsealedSecret {
    fn drop(&mut self) {
        zeroize_value(&mut self.document);
    }
}

/// Overwrites every string in `value` (not the mapping keys) with zeros.
pub fn zeroize_value(value: &mut Value) {
    match value {
        Value::String(text) | Value::Timestamp(text) => text.zeroize(),
        Value::Sequence(items) => items.iter_mut().for_each(zeroize_value),
        Value::Mapping(mapping) => mapping.iter_mut().for_each(|(_, item)| zeroize_value(item)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The scope a SealedSecret (or a Secret) declares with its annotations, as the controller reads it.
pub fn scope_of(document: &Value) -> Scope {
    let annotation =
        |name: &str| document.get_str(&["metadata", "annotations", name]) == Some("true");
    if annotation(CLUSTER_WIDE_ANNOTATION) {
        Scope::ClusterWide
    } else if annotation(NAMESPACE_WIDE_ANNOTATION) {
        Scope::NamespaceWide
    } else {
        Scope::Strict
    }
}

/// A Secret's values, decoded, zeroed when dropped; `stringData` overrides `data` as in the API.
struct SecretValues {
    values: Vec<(String, Zeroizing<Vec<u8>>)>,
}

impl SecretValues {
    fn read(secret: &Value) -> Result<SecretValues, SealError> {
        let mut values: Vec<(String, Zeroizing<Vec<u8>>)> = Vec::new();
        let mut set = |key: &str, bytes: Zeroizing<Vec<u8>>| match values
            .iter_mut()
            .find(|(existing, _)| existing == key)
        {
            Some((_, slot)) => *slot = bytes,
            None => values.push((key.to_string(), bytes)),
        };
        for (field, is_base64) in [("data", true), ("stringData", false)] {
            let Some(mapping) = optional_mapping(secret, field)? else {
                continue;
            };
            for (key, value) in mapping.iter() {
                let text = match value {
                    Value::Null => "",
                    Value::String(text) => text.as_str(),
                    other => {
                        return Err(SealError::NotAString {
                            field: field.to_string(),
                            key: key.clone(),
                            found: other.type_name(),
                        })
                    }
                };
                let bytes = if is_base64 {
                    let compact: Zeroizing<String> =
                        Zeroizing::new(text.split_whitespace().collect());
                    decode_standard(&compact)
                        .ok_or_else(|| SealError::InvalidBase64 { key: key.clone() })?
                } else {
                    text.as_bytes().to_vec()
                };
                set(key, Zeroizing::new(bytes));
            }
        }
        Ok(SecretValues { values })
    }
}

fn optional_mapping<'a>(secret: &'a Value, field: &str) -> Result<Option<&'a Mapping>, SealError> {
    match secret.get_path(&[field]) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Mapping(mapping)) => Ok(Some(mapping)),
        Some(other) => Err(SealError::NotAMapping {
            field: field.to_string(),
            found: other.type_name(),
        }),
    }
}

/// What a document is, for an error message: "kind `ConfigMap`", "no `kind`" or "a sequence".
fn describe_kind(document: &Value) -> String {
    match document {
        Value::Mapping(_) => match document.get_path(&["kind"]).and_then(Value::scalar_text) {
            Some(kind) if !kind.is_empty() => format!("kind `{kind}`"),
            _ => "no `kind`".to_string(),
        },
        other => format!("a {}", other.type_name()),
    }
}

/// Seals a Secret manifest into a SealedSecret manifest, as `kubeseal` does.
pub fn seal_secret<R: CryptoRng + ?Sized>(
    rng: &mut R,
    public_key: &PublicKey,
    secret: &Value,
    options: &SealOptions,
) -> Result<Value, SealError> {
    if secret.get_str(&["kind"]) != Some("Secret") {
        return Err(SealError::NotASecret {
            found: describe_kind(secret),
        });
    }
    let name = secret
        .get_str(&["metadata", "name"])
        .filter(|name| !name.is_empty())
        .ok_or(SealError::MissingName)?;
    let scope = options.scope.unwrap_or_else(|| scope_of(secret));
    let namespace = secret
        .get_str(&["metadata", "namespace"])
        .filter(|namespace| !namespace.is_empty())
        .or(options.default_namespace.as_deref())
        .unwrap_or_default();
    if namespace.is_empty() && scope != Scope::ClusterWide {
        return Err(SealError::MissingNamespace {
            name: name.to_string(),
        });
    }
    let values = SecretValues::read(secret)?;
    if values.values.is_empty() && !options.allow_empty_data {
        return Err(SealError::EmptyData);
    }

    let mut template_metadata = match secret.get_path(&["metadata"]) {
        Some(Value::Mapping(metadata)) => metadata.clone(),
        _ => Mapping::new(),
    };
    for field in SERVER_MANAGED_METADATA.iter().chain(&["ownerReferences"]) {
        template_metadata.remove(field);
    }
    template_metadata.insert("creationTimestamp", Value::Null);
    if !namespace.is_empty() {
        template_metadata.insert("namespace", Value::string(namespace));
    }
    let mut annotations = match template_metadata.remove("annotations") {
        Some(Value::Mapping(annotations)) => annotations,
        _ => Mapping::new(),
    };
    annotations.remove(LAST_APPLIED_ANNOTATION);
    set_scope_annotations(&mut annotations, scope);
    if !annotations.is_empty() {
        template_metadata.insert("annotations", Value::Mapping(annotations));
    }

    let mut template = Mapping::new();
    template.insert("metadata", Value::Mapping(template_metadata));
    for field in ["type", "immutable"] {
        if let Some(value) = secret.get_path(&[field]).filter(|value| !value.is_null()) {
            template.insert(field, value.clone());
        }
    }

    let label = scope.label(namespace, name);
    let mut encrypted_data = Mapping::new();
    for (key, plaintext) in &values.values {
        let sealed = hybrid_encrypt(rng, public_key, &label, plaintext).map_err(|source| {
            SealError::Encrypt {
                key: key.clone(),
                source,
            }
        })?;
        encrypted_data.insert(key.clone(), Value::string(encode_standard(&sealed)));
    }

    let mut metadata = Mapping::new();
    let mut scope_annotations = Mapping::new();
    set_scope_annotations(&mut scope_annotations, scope);
    if !scope_annotations.is_empty() {
        metadata.insert("annotations", Value::Mapping(scope_annotations));
    }
    metadata.insert("creationTimestamp", Value::Null);
    metadata.insert("name", Value::string(name));
    if !namespace.is_empty() {
        metadata.insert("namespace", Value::string(namespace));
    }
    let mut spec = Mapping::new();
    spec.insert("encryptedData", Value::Mapping(encrypted_data));
    spec.insert("template", Value::Mapping(template));

    let mut sealed_secret = Mapping::new();
    sealed_secret.insert("apiVersion", Value::string(SEALED_SECRET_API_VERSION));
    sealed_secret.insert("kind", Value::string("SealedSecret"));
    sealed_secret.insert("metadata", Value::Mapping(metadata));
    sealed_secret.insert("spec", Value::Mapping(spec));
    Ok(Value::Mapping(sealed_secret))
}

/// Sets the scope annotation kubeseal writes (none for strict) and removes the other one.
fn set_scope_annotations(annotations: &mut Mapping, scope: Scope) {
    annotations.remove(NAMESPACE_WIDE_ANNOTATION);
    annotations.remove(CLUSTER_WIDE_ANNOTATION);
    match scope {
        Scope::Strict => {}
        Scope::NamespaceWide => {
            annotations.insert(NAMESPACE_WIDE_ANNOTATION, Value::string("true"));
        }
        Scope::ClusterWide => {
            annotations.insert(CLUSTER_WIDE_ANNOTATION, Value::string("true"));
        }
    }
}

/// Seals one value (kubeseal's `--raw`), returning the base64 ciphertext for `encryptedData`.
pub fn seal_raw<R: CryptoRng + ?Sized>(
    rng: &mut R,
    public_key: &PublicKey,
    scope: Scope,
    namespace: Option<&str>,
    name: Option<&str>,
    value: &[u8],
) -> Result<String, SealRawError> {
    let namespace = namespace.unwrap_or_default();
    let name = name.unwrap_or_default();
    if scope != Scope::ClusterWide && namespace.is_empty() {
        return Err(SealRawError::MissingNamespace { scope });
    }
    if scope == Scope::Strict && name.is_empty() {
        return Err(SealRawError::MissingName);
    }
    let sealed = hybrid_encrypt(rng, public_key, &scope.label(namespace, name), value)
        .map_err(|source| SealRawError::Encrypt { source })?;
    Ok(encode_standard(&sealed))
}

/// The identity of a SealedSecret: what its label is made of.
struct SealedIdentity {
    name: String,
    namespace: String,
    scope: Scope,
}

impl SealedIdentity {
    fn of(sealed_secret: &Value) -> Result<SealedIdentity, SealedSecretShapeError> {
        if sealed_secret.get_str(&["kind"]) != Some("SealedSecret") {
            return Err(SealedSecretShapeError::NotASealedSecret {
                found: describe_kind(sealed_secret),
            });
        }
        let name = sealed_secret
            .get_str(&["metadata", "name"])
            .filter(|name| !name.is_empty())
            .ok_or(SealedSecretShapeError::MissingName)?;
        let namespace = sealed_secret
            .get_str(&["metadata", "namespace"])
            .unwrap_or_default();
        let scope = scope_of(sealed_secret);
        if namespace.is_empty() && scope != Scope::ClusterWide {
            return Err(SealedSecretShapeError::MissingNamespace {
                name: name.to_string(),
            });
        }
        Ok(SealedIdentity {
            name: name.to_string(),
            namespace: namespace.to_string(),
            scope,
        })
    }

    fn label(&self) -> Vec<u8> {
        self.scope.label(&self.namespace, &self.name)
    }
}

fn encrypted_data_of(sealed_secret: &Value) -> Result<Option<&Mapping>, SealedSecretShapeError> {
    match sealed_secret.get_path(&["spec", "encryptedData"]) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Mapping(mapping)) => Ok(Some(mapping)),
        Some(other) => Err(SealedSecretShapeError::EncryptedDataNotAMapping {
            found: other.type_name(),
        }),
    }
}

/// Seals the values of `secret` into the existing `sealed_secret` (kubeseal's `--merge-into`):
/// the values are bound to the SealedSecret's own name, namespace and scope, replace items of
/// the same key, and everything else in the SealedSecret is kept.
pub fn merge_into_sealed_secret<R: CryptoRng + ?Sized>(
    rng: &mut R,
    public_key: &PublicKey,
    secret: &Value,
    sealed_secret: &mut Value,
    allow_empty_data: bool,
) -> Result<(), MergeError> {
    let identity =
        SealedIdentity::of(sealed_secret).map_err(|source| MergeError::Target { source })?;
    encrypted_data_of(sealed_secret).map_err(|source| MergeError::Target { source })?;
    let values = SecretValues::read(secret).map_err(|source| MergeError::Seal { source })?;
    if values.values.is_empty() && !allow_empty_data {
        return Err(MergeError::Seal {
            source: SealError::EmptyData,
        });
    }
    let label = identity.label();
    let mut sealed_items = Vec::with_capacity(values.values.len());
    for (key, plaintext) in &values.values {
        let sealed = hybrid_encrypt(rng, public_key, &label, plaintext).map_err(|source| {
            MergeError::Seal {
                source: SealError::Encrypt {
                    key: key.clone(),
                    source,
                },
            }
        })?;
        sealed_items.push((key.clone(), encode_standard(&sealed)));
    }
    let encrypted_data = mapping_at(sealed_secret, &["spec", "encryptedData"]);
    for (key, sealed) in sealed_items {
        encrypted_data.insert(key, Value::string(sealed));
    }
    Ok(())
}

/// The mapping at `path`, created (replacing a null) where missing.
fn mapping_at<'a>(document: &'a mut Value, path: &[&str]) -> &'a mut Mapping {
    let mut current = document;
    for key in path {
        if !matches!(current, Value::Mapping(_)) {
            *current = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(mapping) = current else {
            unreachable!("made a mapping just above")
        };
        let slot = mapping.entry_or_insert_with(key, || Value::Mapping(Mapping::new()));
        if !matches!(slot, Value::Mapping(_)) {
            *slot = Value::Mapping(Mapping::new());
        }
        current = slot;
    }
    match current {
        Value::Mapping(mapping) => mapping,
        _ => unreachable!("every step above leaves a mapping"),
    }
}

/// Decrypted items of a SealedSecret, in order, zeroed when dropped.
type PlaintextItems = Vec<(String, Zeroizing<Vec<u8>>)>;

/// Decrypts every item of `spec.encryptedData`, in order.
fn decrypt_items<R: CryptoRng + ?Sized>(
    rng: &mut R,
    private_keys: &[PrivateKey],
    sealed_secret: &Value,
) -> Result<(SealedIdentity, PlaintextItems), UnsealError> {
    let identity =
        SealedIdentity::of(sealed_secret).map_err(|source| UnsealError::Shape { source })?;
    let encrypted_data =
        encrypted_data_of(sealed_secret).map_err(|source| UnsealError::Shape { source })?;
    if encrypted_data.is_none_or(Mapping::is_empty)
        && sealed_secret.get_path(&["spec", "data"]).is_some()
    {
        return Err(UnsealError::Shape {
            source: SealedSecretShapeError::LegacyFormat,
        });
    }
    let label = identity.label();
    let mut items = Vec::new();
    for (key, value) in encrypted_data.into_iter().flat_map(Mapping::iter) {
        let text = value
            .as_str()
            .ok_or_else(|| UnsealError::NotAString { key: key.clone() })?;
        let sealed = decode_standard(text.trim())
            .ok_or_else(|| UnsealError::InvalidBase64 { key: key.clone() })?;
        let plaintext =
            hybrid_decrypt_with_any(rng, private_keys, &label, &sealed).map_err(|source| {
                UnsealError::Decrypt {
                    key: key.clone(),
                    key_count: private_keys.len(),
                    scope: identity.scope,
                    label: String::from_utf8_lossy(&label).into_owned(),
                    source,
                }
            })?;
        items.push((key.clone(), plaintext));
    }
    Ok((identity, items))
}

/// Unseals a SealedSecret into the Secret the controller would create from it, trying every key
/// in `private_keys` for every item (kubeseal's `--recovery-unseal`).
///
/// The Secret takes the template's metadata, `type` and `immutable`, the SealedSecret's name and
/// namespace, and an owner reference to the SealedSecret when it has a `metadata.uid` (unless it
/// is annotated `sealedsecrets.bitnami.com/skip-set-owner-references: "true"`).
pub fn unseal_sealed_secret<R: CryptoRng + ?Sized>(
    rng: &mut R,
    private_keys: &[PrivateKey],
    sealed_secret: &Value,
) -> Result<UnsealedSecret, UnsealError> {
    let (identity, items) = decrypt_items(rng, private_keys, sealed_secret)?;
    let mut data = Mapping::new();
    for (key, plaintext) in &items {
        data.insert(key.clone(), Value::string(encode_standard(plaintext)));
    }
    if let Some(Value::Mapping(template_data)) =
        sealed_secret.get_path(&["spec", "template", "data"])
    {
        // Template data is evaluated over the decrypted values (the controller's Go templates).
        let decrypted: std::collections::BTreeMap<String, Vec<u8>> = items
            .iter()
            .map(|(key, plaintext)| (key.clone(), plaintext.to_vec()))
            .collect();
        for (key, value) in template_data.iter() {
            let text = value.scalar_text().unwrap_or_default();
            let rendered = if text.contains("{{") {
                crate::template::render(&text, &decrypted).map_err(|source| {
                    UnsealError::Template {
                        key: key.clone(),
                        source,
                    }
                })?
            } else {
                text
            };
            data.insert(
                key.clone(),
                Value::string(encode_standard(rendered.as_bytes())),
            );
        }
        let mut decrypted = decrypted;
        for plaintext in decrypted.values_mut() {
            plaintext.zeroize();
        }
    }

    let mut metadata = match sealed_secret.get_path(&["spec", "template", "metadata"]) {
        Some(Value::Mapping(metadata)) => metadata.clone(),
        _ => Mapping::new(),
    };
    metadata.retain(|_, value| !value.is_null());
    metadata.insert("name", Value::string(identity.name.clone()));
    if identity.namespace.is_empty() {
        metadata.remove("namespace");
    } else {
        metadata.insert("namespace", Value::string(identity.namespace.clone()));
    }
    let skip_owner =
        sealed_secret.get_str(&["metadata", "annotations", SKIP_OWNER_REFERENCES_ANNOTATION])
            == Some("true");
    match sealed_secret
        .get_str(&["metadata", "uid"])
        .filter(|uid| !uid.is_empty())
    {
        Some(uid) if !skip_owner => {
            let mut owner = Mapping::new();
            owner.insert("apiVersion", Value::string(SEALED_SECRET_API_VERSION));
            owner.insert("controller", Value::Bool(true));
            owner.insert("kind", Value::string("SealedSecret"));
            owner.insert("name", Value::string(identity.name.clone()));
            owner.insert("uid", Value::string(uid));
            metadata.insert(
                "ownerReferences",
                Value::Sequence(vec![Value::Mapping(owner)]),
            );
        }
        _ => {
            metadata.remove("ownerReferences");
        }
    }

    let mut secret = Mapping::new();
    secret.insert("apiVersion", Value::string("v1"));
    secret.insert("kind", Value::string("Secret"));
    secret.insert("metadata", Value::Mapping(metadata));
    for field in ["type", "immutable"] {
        if let Some(value) = sealed_secret
            .get_path(&["spec", "template", field])
            .filter(|value| !value.is_null())
        {
            secret.insert(field, value.clone());
        }
    }
    secret.insert("data", Value::Mapping(data));
    Ok(UnsealedSecret {
        document: Value::Mapping(secret),
    })
}

/// Re-encrypts every item of a SealedSecret for `new_public_key` (same name, namespace and
/// scope), offline: the counterpart of the controller's `/v1/rotate`.
pub fn reseal_sealed_secret<R: CryptoRng + ?Sized>(
    rng: &mut R,
    private_keys: &[PrivateKey],
    new_public_key: &PublicKey,
    sealed_secret: &Value,
) -> Result<Value, ResealError> {
    let (identity, items) = decrypt_items(rng, private_keys, sealed_secret)
        .map_err(|source| ResealError::Unseal { source })?;
    let label = identity.label();
    let mut resealed = sealed_secret.clone();
    let encrypted_data = mapping_at(&mut resealed, &["spec", "encryptedData"]);
    for (key, plaintext) in &items {
        let sealed = hybrid_encrypt(rng, new_public_key, &label, plaintext).map_err(|source| {
            ResealError::Encrypt {
                key: key.clone(),
                source,
            }
        })?;
        encrypted_data.insert(key.clone(), Value::string(encode_standard(&sealed)));
    }
    Ok(resealed)
}
