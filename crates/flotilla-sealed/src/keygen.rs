//! New sealing keys in the layout the Bitnami controller keeps them: an RSA key and a
//! self-signed certificate in a `kubernetes.io/tls` Secret named `sealed-secrets-key<suffix>`,
//! labelled `sealedsecrets.bitnami.com/sealed-secrets-key: active`, with `tls.key` a PKCS#1 PEM
//! and `tls.crt` the PEM certificate (CA, key usage encipherOnly, like the controller's
//! `crypto.SignKey`).
//!
//! Randomness and the current time are arguments. The private key PEM is zeroed when dropped.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use flotilla_core::base64::encode_standard;
use flotilla_core::{Mapping, Value};
use rand_core::CryptoRng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::sha2::Sha256;
use rsa::PrivateKey;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::der::EncodePem;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};
use zeroize::Zeroizing;

use crate::keys::{TLS_CERTIFICATE_FIELD, TLS_KEY_FIELD};

/// The label that marks a controller key Secret.
pub const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";
/// The controller's key Secret name prefix (its `generateName`).
pub const KEY_NAME_PREFIX: &str = "sealed-secrets-key";
/// The controller's key size.
pub const DEFAULT_KEY_BITS: usize = 4096;
/// The controller's certificate validity (`--key-ttl`, 10 years).
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// How often the controller makes a new key (`--key-renew-period`, 30 days).
pub const DEFAULT_RENEWAL_PERIOD: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Characters of Kubernetes' `generateName` suffixes.
const NAME_SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// How to make a key.
#[derive(Clone, Debug)]
pub struct KeyGenerationOptions {
    pub bits: usize,
    pub common_name: String,
    pub validity: Duration,
    pub namespace: String,
    /// Suffix of the Secret's name; `None` draws five characters as `generateName` does.
    pub name_suffix: Option<String>,
}

impl Default for KeyGenerationOptions {
    fn default() -> Self {
        KeyGenerationOptions {
            bits: DEFAULT_KEY_BITS,
            common_name: "sealed-secret".to_string(),
            validity: DEFAULT_VALIDITY,
            namespace: "kube-system".to_string(),
            name_suffix: None,
        }
    }
}

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum KeyGenerationError {
    #[error("generating a {bits}-bit RSA key failed")]
    Rsa {
        bits: usize,
        #[source]
        source: rsa::Error,
    },
    #[error("common name `{common_name}` is not a valid distinguished name value")]
    CommonName { common_name: String },
    #[error("validity of {validity:?} from now is not representable in a certificate")]
    Validity { validity: Duration },
    #[error("encoding the key failed")]
    Encoding,
    #[error("building the certificate failed: {message}")]
    Certificate { message: String },
}

/// A new sealing key: the private key, its certificate and the key Secret holding both.
pub struct GeneratedKey {
    pub private_key: PrivateKey,
    pub private_key_pem: Zeroizing<String>,
    pub certificate_pem: String,
    pub secret_name: String,
    /// The key Secret; it holds the private key, and is zeroed when this is dropped.
    pub secret: Value,
}

impl Drop for GeneratedKey {
    fn drop(&mut self) {
        crate::manifest::zeroize_value(&mut self.secret);
    }
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GeneratedKey")
            .field("secret_name", &self.secret_name)
            .finish_non_exhaustive()
    }
}

/// Makes a new key, certificate and key Secret, the certificate valid from `now`.
pub fn generate_key<R: CryptoRng + ?Sized>(
    rng: &mut R,
    now: SystemTime,
    options: &KeyGenerationOptions,
) -> Result<GeneratedKey, KeyGenerationError> {
    let private_key =
        PrivateKey::new(rng, options.bits).map_err(|source| KeyGenerationError::Rsa {
            bits: options.bits,
            source,
        })?;
    let certificate_pem = self_signed_certificate(
        rng,
        &private_key,
        &options.common_name,
        now,
        options.validity,
    )?;
    let private_key_pem = private_key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|_| KeyGenerationError::Encoding)?;
    let suffix = match &options.name_suffix {
        Some(suffix) => suffix.clone(),
        None => random_name_suffix(rng),
    };
    let secret_name = format!("{KEY_NAME_PREFIX}{suffix}");
    let secret = key_secret(
        &secret_name,
        &options.namespace,
        &private_key_pem,
        &certificate_pem,
    );
    Ok(GeneratedKey {
        private_key,
        private_key_pem,
        certificate_pem,
        secret_name,
        secret,
    })
}

/// Whether a new key is due at `now` when the newest key was created at `newest_key_created`
/// (its certificate's `notBefore`) and keys are renewed every `renewal_period`. A zero period
/// disables renewal, as in the controller.
pub fn renewal_due(
    newest_key_created: Option<SystemTime>,
    now: SystemTime,
    renewal_period: Duration,
) -> bool {
    match newest_key_created {
        None => true,
        Some(_) if renewal_period.is_zero() => false,
        Some(created) => now
            .duration_since(created)
            .is_ok_and(|age| age >= renewal_period),
    }
}

/// The key Secret for a private key PEM and its certificate PEM, as the controller writes it.
pub fn key_secret(
    name: &str,
    namespace: &str,
    private_key_pem: &str,
    certificate_pem: &str,
) -> Value {
    let mut labels = Mapping::new();
    labels.insert(KEY_LABEL, Value::string("active"));
    let mut metadata = Mapping::new();
    metadata.insert("labels", Value::Mapping(labels));
    metadata.insert("name", Value::string(name));
    metadata.insert("namespace", Value::string(namespace));
    let mut data = Mapping::new();
    data.insert(
        TLS_CERTIFICATE_FIELD,
        Value::string(encode_standard(certificate_pem.as_bytes())),
    );
    data.insert(
        TLS_KEY_FIELD,
        Value::string(encode_standard(private_key_pem.as_bytes())),
    );
    let mut secret = Mapping::new();
    secret.insert("apiVersion", Value::string("v1"));
    secret.insert("kind", Value::string("Secret"));
    secret.insert("metadata", Value::Mapping(metadata));
    secret.insert("type", Value::string("kubernetes.io/tls"));
    secret.insert("data", Value::Mapping(data));
    Value::Mapping(secret)
}

/// Five characters from Kubernetes' `generateName` alphabet.
fn random_name_suffix<R: CryptoRng + ?Sized>(rng: &mut R) -> String {
    let mut suffix = String::with_capacity(5);
    while suffix.len() < 5 {
        let mut byte = [0u8; 1];
        rng.fill_bytes(&mut byte);
        // 27 * 9 = 243: reject the top values so every character is equally likely.
        if usize::from(byte[0]) < NAME_SUFFIX_ALPHABET.len() * 9 {
            suffix.push(char::from(
                NAME_SUFFIX_ALPHABET[usize::from(byte[0]) % NAME_SUFFIX_ALPHABET.len()],
            ));
        }
    }
    suffix
}

/// The controller's certificate profile: subject = issuer = `CN=<common name>`, CA, key usage
/// encipherOnly.
struct SealingCertificateProfile {
    subject: Name,
}

impl BuilderProfile for SealingCertificateProfile {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _subject_public_key: SubjectPublicKeyInfoRef<'_>,
        _issuer_public_key: SubjectPublicKeyInfoRef<'_>,
        tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let key_usage =
            KeyUsage(KeyUsages::EncipherOnly.into()).to_extension(tbs.subject(), &[])?;
        let basic_constraints = BasicConstraints {
            ca: true,
            path_len_constraint: None,
        }
        .to_extension(tbs.subject(), std::slice::from_ref(&key_usage))?;
        Ok(vec![key_usage, basic_constraints])
    }
}

/// A self-signed certificate for `private_key` (SHA-256 with RSA), PEM encoded.
pub fn self_signed_certificate<R: CryptoRng + ?Sized>(
    rng: &mut R,
    private_key: &PrivateKey,
    common_name: &str,
    now: SystemTime,
    validity: Duration,
) -> Result<String, KeyGenerationError> {
    let subject = Name::from_str(&format!(
        "CN={}",
        escape_distinguished_name_value(common_name)
    ))
    .map_err(|_| KeyGenerationError::CommonName {
        common_name: common_name.to_string(),
    })?;
    let not_after = now
        .checked_add(validity)
        .ok_or(KeyGenerationError::Validity { validity })?;
    let validity_field = Validity::new(
        Time::try_from(now).map_err(|_| KeyGenerationError::Validity { validity })?,
        Time::try_from(not_after).map_err(|_| KeyGenerationError::Validity { validity })?,
    );
    let public_key_der = private_key
        .to_public_key()
        .to_public_key_der()
        .map_err(|_| KeyGenerationError::Encoding)?;
    let subject_public_key_info = SubjectPublicKeyInfoOwned::try_from(public_key_der.as_bytes())
        .map_err(|_| KeyGenerationError::Encoding)?;
    let builder = CertificateBuilder::new(
        SealingCertificateProfile { subject },
        SerialNumber::generate(rng),
        validity_field,
        subject_public_key_info,
    )
    .map_err(|error| KeyGenerationError::Certificate {
        message: error.to_string(),
    })?;
    let signer = SigningKey::<Sha256>::new(private_key.clone());
    let certificate = builder
        .build_with_rng::<_, rsa::pkcs1v15::Signature, _>(&signer, rng)
        .map_err(|error| KeyGenerationError::Certificate {
            message: error.to_string(),
        })?;
    certificate
        .to_pem(LineEnding::LF)
        .map_err(|_| KeyGenerationError::Encoding)
}

/// Escapes the characters RFC 4514 reserves in an attribute value.
fn escape_distinguished_name_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        if matches!(character, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}
