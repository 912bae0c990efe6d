//! Reading the keys sealed-secrets uses: the sealing certificate (what `kubeseal --cert` and the
//! controller's `/v1/cert.pem` serve) and the private keys for offline unsealing (PEM in PKCS#1
//! or PKCS#8, or the controller's backed-up key Secrets, alone or in a `v1` `List`).
//!
//! Certificates are checked against a `now` the caller passes in; key material never appears in
//! an error message, and decoded key bytes are zeroed when dropped.

use std::time::SystemTime;

use flotilla_core::Value;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{PrivateKey, PublicKey};
use x509_cert::der::{Decode, Encode};
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use zeroize::Zeroizing;

/// The `rsaEncryption` algorithm identifier of an RSA public key.
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";
/// The key of the private key in a `kubernetes.io/tls` Secret.
pub const TLS_KEY_FIELD: &str = "tls.key";
/// The key of the certificate in a `kubernetes.io/tls` Secret.
pub const TLS_CERTIFICATE_FIELD: &str = "tls.crt";

/// The public key to seal with, with the validity of the certificate it came from (if any).
#[derive(Clone, Debug)]
pub struct SealingKey {
    pub public_key: PublicKey,
    /// `None` when the key came from a bare `PUBLIC KEY` PEM rather than a certificate.
    pub not_after: Option<SystemTime>,
}

/// Why a sealing certificate could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("no PEM `CERTIFICATE` or `PUBLIC KEY` block found")]
    NoPemBlock,
    #[error("the PEM block `{label}` is not base64 PEM")]
    Pem {
        label: String,
        #[source]
        source: x509_cert::der::pem::Error,
    },
    #[error("the PEM `{label}` block is not a valid X.509 certificate or public key")]
    Der {
        label: String,
        #[source]
        source: x509_cert::der::Error,
    },
    #[error("the public key is not RSA (algorithm {algorithm}); sealed-secrets needs an RSA key")]
    NotRsa { algorithm: String },
    #[error("the RSA public key in the PEM `{label}` block is invalid")]
    InvalidRsaKey { label: String },
    #[error("the certificate expired at {not_after} (Unix time {not_after_unix}); fetch the controller's current certificate")]
    Expired {
        not_after: String,
        not_after_unix: u64,
    },
}

/// Reads the sealing key from the first `CERTIFICATE` (or `PUBLIC KEY`) PEM block of `pem_text`,
/// refusing a certificate that has expired at `now` or whose key is not RSA.
pub fn parse_sealing_certificate(
    pem_text: &str,
    now: SystemTime,
) -> Result<SealingKey, CertificateError> {
    for block in pem_blocks(pem_text) {
        match block.label {
            "CERTIFICATE" => {
                let certificate = decode_certificate(&block)?;
                let not_after_time = certificate.tbs_certificate().validity().not_after;
                let not_after = not_after_time.to_system_time();
                if now > not_after {
                    return Err(CertificateError::Expired {
                        not_after: not_after_time.to_string(),
                        not_after_unix: not_after_time.to_unix_duration().as_secs(),
                    });
                }
                let public_key = rsa_public_key_of(&certificate)?;
                return Ok(SealingKey {
                    public_key,
                    not_after: Some(not_after),
                });
            }
            "PUBLIC KEY" => {
                let (_, der) =
                    x509_cert::der::pem::decode_vec(block.text.as_bytes()).map_err(|source| {
                        CertificateError::Pem {
                            label: block.label.to_string(),
                            source,
                        }
                    })?;
                let spki = SubjectPublicKeyInfoOwned::from_der(&der).map_err(|source| {
                    CertificateError::Der {
                        label: block.label.to_string(),
                        source,
                    }
                })?;
                let public_key = rsa_public_key_from_spki(&spki, block.label)?;
                return Ok(SealingKey {
                    public_key,
                    not_after: None,
                });
            }
            "RSA PUBLIC KEY" => {
                let public_key = PublicKey::from_pkcs1_pem(block.text).map_err(|_| {
                    CertificateError::InvalidRsaKey {
                        label: block.label.to_string(),
                    }
                })?;
                return Ok(SealingKey {
                    public_key,
                    not_after: None,
                });
            }
            _ => {}
        }
    }
    Err(CertificateError::NoPemBlock)
}

/// Every certificate in `pem_text`, decoded (no validity check).
pub fn parse_certificates(pem_text: &str) -> Result<Vec<Certificate>, CertificateError> {
    pem_blocks(pem_text)
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| decode_certificate(&block))
        .collect()
}

fn decode_certificate(block: &PemBlock<'_>) -> Result<Certificate, CertificateError> {
    let (_, der) = x509_cert::der::pem::decode_vec(block.text.as_bytes()).map_err(|source| {
        CertificateError::Pem {
            label: block.label.to_string(),
            source,
        }
    })?;
    Certificate::from_der(&der).map_err(|source| CertificateError::Der {
        label: block.label.to_string(),
        source,
    })
}

/// The RSA public key of `certificate`.
pub fn rsa_public_key_of(certificate: &Certificate) -> Result<PublicKey, CertificateError> {
    rsa_public_key_from_spki(
        certificate.tbs_certificate().subject_public_key_info(),
        "CERTIFICATE",
    )
}

fn rsa_public_key_from_spki(
    spki: &SubjectPublicKeyInfoOwned,
    label: &str,
) -> Result<PublicKey, CertificateError> {
    let algorithm = spki.algorithm.oid.to_string();
    if algorithm != RSA_ENCRYPTION_OID {
        return Err(CertificateError::NotRsa { algorithm });
    }
    let spki_der = spki.to_der().map_err(|source| CertificateError::Der {
        label: label.to_string(),
        source,
    })?;
    PublicKey::from_public_key_der(&spki_der).map_err(|_| CertificateError::InvalidRsaKey {
        label: label.to_string(),
    })
}

/// Why private keys could not be read. No variant carries key material.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrivateKeyError {
    #[error("PEM block {index} (`{label}`) is not a valid RSA private key")]
    InvalidPemKey { index: usize, label: String },
    #[error(
        "PEM block {index} is an encrypted private key; decrypt it first (`openssl pkey -in FILE`)"
    )]
    EncryptedPemKey { index: usize },
    #[error("no private key found: expected PEM `RSA PRIVATE KEY` / `PRIVATE KEY` blocks, or key Secrets with `data.tls.key`")]
    NoKeys,
    #[error("not valid YAML or JSON")]
    Yaml {
        #[source]
        source: flotilla_core::YamlError,
    },
    #[error("document {document}: expected a `Secret` or a `List` of them, found kind `{kind}`")]
    UnexpectedKind { document: usize, kind: String },
    #[error("document {document}{item}: the key Secret has no `data.tls.key`", item = item_suffix(*item))]
    MissingTlsKey {
        document: usize,
        item: Option<usize>,
    },
    #[error("document {document}{item}: `data.tls.key` is not valid base64", item = item_suffix(*item))]
    TlsKeyNotBase64 {
        document: usize,
        item: Option<usize>,
    },
    #[error("document {document}{item}: `data.tls.key` is not PEM text", item = item_suffix(*item))]
    TlsKeyNotText {
        document: usize,
        item: Option<usize>,
    },
    #[error("document {document}{item}: `data.tls.key` holds no valid RSA private key", item = item_suffix(*item))]
    TlsKeyInvalid {
        document: usize,
        item: Option<usize>,
        #[source]
        source: Box<PrivateKeyError>,
    },
}

fn item_suffix(item: Option<usize>) -> String {
    item.map(|index| format!(", item {index}"))
        .unwrap_or_default()
}

/// Reads every RSA private key in `text`: PEM blocks (PKCS#1 `RSA PRIVATE KEY` or PKCS#8
/// `PRIVATE KEY`; other blocks such as certificates are skipped), or YAML/JSON documents that are
/// key Secrets (`data.tls.key`) or `v1` `List`s of them, as the controller's backups are.
pub fn parse_private_keys(text: &str) -> Result<Vec<PrivateKey>, PrivateKeyError> {
    let keys = if text.contains("-----BEGIN ") {
        parse_pem_private_keys(text)?
    } else {
        parse_key_secrets(text)?
    };
    if keys.is_empty() {
        return Err(PrivateKeyError::NoKeys);
    }
    Ok(keys)
}

fn parse_pem_private_keys(text: &str) -> Result<Vec<PrivateKey>, PrivateKeyError> {
    let mut keys = Vec::new();
    for (index, block) in pem_blocks(text).enumerate() {
        let key = match block.label {
            "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_pem(block.text),
            "PRIVATE KEY" => {
                PrivateKey::from_pkcs8_pem(block.text).map_err(|_| rsa::pkcs1::Error::KeyMalformed)
            }
            "ENCRYPTED PRIVATE KEY" => return Err(PrivateKeyError::EncryptedPemKey { index }),
            _ => continue,
        };
        let key = key.map_err(|_| PrivateKeyError::InvalidPemKey {
            index,
            label: block.label.to_string(),
        })?;
        keys.push(key);
    }
    Ok(keys)
}

fn parse_key_secrets(text: &str) -> Result<Vec<PrivateKey>, PrivateKeyError> {
    let mut keys = Vec::new();
    for_each_key_secret(text, |secret, document, item| {
        keys.extend(private_keys_of_key_secret(secret, document, item)?);
        Ok(())
    })?;
    Ok(keys)
}

/// Calls `visit` with every key Secret of `text` (documents and `List` items) and its position
/// (1-based document, 0-based item).
fn for_each_key_secret(
    text: &str,
    mut visit: impl FnMut(&Value, usize, Option<usize>) -> Result<(), PrivateKeyError>,
) -> Result<(), PrivateKeyError> {
    let documents =
        flotilla_core::parse_documents(text).map_err(|source| PrivateKeyError::Yaml { source })?;
    for (document_index, document) in documents.iter().enumerate() {
        if document.is_null() {
            continue;
        }
        let document_number = document_index + 1;
        match document.get_str(&["kind"]).unwrap_or_default() {
            "Secret" => visit(document, document_number, None)?,
            "List" | "SecretList" => {
                let items = document.get_path(&["items"]).and_then(Value::as_sequence);
                for (item_index, item) in items.into_iter().flatten().enumerate() {
                    visit(item, document_number, Some(item_index))?;
                }
            }
            other => {
                return Err(PrivateKeyError::UnexpectedKind {
                    document: document_number,
                    kind: other.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// What `flotilla keys list` shows of one key Secret; no secret material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySecretSummary {
    pub name: String,
    pub namespace: String,
    /// The value of the `sealedsecrets.bitnami.com/sealed-secrets-key` label (`active`, `compromised`).
    pub status: Option<String>,
    /// [`key_fingerprint`] of the key.
    pub fingerprint: String,
    /// Validity of the first certificate in `tls.crt`, when it parses.
    pub not_before: Option<SystemTime>,
    pub not_after: Option<SystemTime>,
}

/// Summarises the key Secrets of `text` (a backup, or `kubectl get secret -o yaml` output).
pub fn summarize_key_secrets(text: &str) -> Result<Vec<KeySecretSummary>, PrivateKeyError> {
    let mut summaries = Vec::new();
    for_each_key_secret(text, |secret, document, item| {
        let certificate = secret
            .get_str(&["data", TLS_CERTIFICATE_FIELD])
            .and_then(|encoded| flotilla_core::base64::decode_standard(encoded.trim()))
            .and_then(|decoded| String::from_utf8(decoded).ok())
            .and_then(|pem| parse_certificates(&pem).ok())
            .and_then(|certificates| certificates.into_iter().next());
        let validity = certificate
            .as_ref()
            .map(|certificate| certificate.tbs_certificate().validity());
        for key in private_keys_of_key_secret(secret, document, item)? {
            summaries.push(KeySecretSummary {
                name: secret
                    .get_str(&["metadata", "name"])
                    .unwrap_or_default()
                    .to_string(),
                namespace: secret
                    .get_str(&["metadata", "namespace"])
                    .unwrap_or_default()
                    .to_string(),
                status: secret
                    .get_path(&["metadata", "labels", crate::keygen::KEY_LABEL])
                    .and_then(Value::scalar_text),
                fingerprint: key_fingerprint(&key.to_public_key()),
                not_before: validity.map(|validity| validity.not_before.to_system_time()),
                not_after: validity.map(|validity| validity.not_after.to_system_time()),
            });
        }
        Ok(())
    })?;
    Ok(summaries)
}

fn private_keys_of_key_secret(
    secret: &Value,
    document: usize,
    item: Option<usize>,
) -> Result<Vec<PrivateKey>, PrivateKeyError> {
    let encoded = secret
        .get_str(&["data", TLS_KEY_FIELD])
        .ok_or(PrivateKeyError::MissingTlsKey { document, item })?;
    let decoded = Zeroizing::new(
        flotilla_core::base64::decode_standard(encoded.trim())
            .ok_or(PrivateKeyError::TlsKeyNotBase64 { document, item })?,
    );
    let pem_text = std::str::from_utf8(&decoded)
        .map_err(|_| PrivateKeyError::TlsKeyNotText { document, item })?;
    let keys =
        parse_pem_private_keys(pem_text).map_err(|source| PrivateKeyError::TlsKeyInvalid {
            document,
            item,
            source: Box::new(source),
        })?;
    if keys.is_empty() {
        return Err(PrivateKeyError::TlsKeyInvalid {
            document,
            item,
            source: Box::new(PrivateKeyError::NoKeys),
        });
    }
    Ok(keys)
}

/// One `-----BEGIN label-----` … `-----END label-----` block, `text` including both lines.
struct PemBlock<'text> {
    label: &'text str,
    text: &'text str,
}

/// The PEM blocks of `text`, in order; text around and between them is ignored.
fn pem_blocks(text: &str) -> impl Iterator<Item = PemBlock<'_>> {
    const BEGIN: &str = "-----BEGIN ";
    let mut position = 0;
    std::iter::from_fn(move || loop {
        let begin = position + text.get(position..)?.find(BEGIN)?;
        let label_start = begin + BEGIN.len();
        let label_length = text[label_start..].find("-----")?;
        let label = &text[label_start..label_start + label_length];
        let end_marker = format!("-----END {label}-----");
        match text[label_start..].find(&end_marker) {
            Some(end) => {
                let block_end = label_start + end + end_marker.len();
                position = block_end;
                return Some(PemBlock {
                    label,
                    text: &text[begin..block_end],
                });
            }
            None => position = label_start,
        }
    })
}

/// The controller's id for a key: Go's `ssh.FingerprintSHA256` of the public key,
/// `SHA256:` and the unpadded base64 of the SHA-256 of its SSH wire form.
pub fn key_fingerprint(public_key: &PublicKey) -> String {
    use rsa::sha2::{Digest, Sha256};
    use rsa::traits::PublicKeyParts;

    fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
        let length = u32::try_from(bytes.len()).expect("RSA key components are far below 4 GiB");
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(bytes);
    }
    /// An SSH `mpint`: big-endian, no leading zeros, a zero byte added when the top bit is set.
    fn put_positive_mpint(out: &mut Vec<u8>, bytes: &[u8]) {
        let trimmed = &bytes[bytes.iter().take_while(|&&byte| byte == 0).count()..];
        let mut encoded = Vec::with_capacity(trimmed.len() + 1);
        if trimmed.first().is_some_and(|&byte| byte & 0x80 != 0) {
            encoded.push(0);
        }
        encoded.extend_from_slice(trimmed);
        put_string(out, &encoded);
    }

    let mut wire = Vec::new();
    put_string(&mut wire, b"ssh-rsa");
    put_positive_mpint(&mut wire, &public_key.e_bytes());
    put_positive_mpint(&mut wire, &public_key.n_bytes());
    let digest = Sha256::digest(&wire);
    let encoded = flotilla_core::base64::encode_standard(&digest);
    format!("SHA256:{}", encoded.trim_end_matches('='))
}
