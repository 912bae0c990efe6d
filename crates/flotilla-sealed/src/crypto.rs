//! The sealed-secrets hybrid encryption, byte-compatible with `bitnami-labs/sealed-secrets`
//! (`pkg/crypto.HybridEncrypt`/`HybridDecrypt`) and with kubeseal.
//!
//! A value is sealed as `u16be(len(rsa_ciphertext)) || rsa_ciphertext || gcm_ciphertext || tag`:
//! a fresh 32-byte AES-256-GCM session key is wrapped with RSA-OAEP (SHA-256, MGF1-SHA-256) under
//! a label that binds the value to its scope (see [`Scope`]), and the value is encrypted with that
//! session key, a nonce of 12 zero bytes (safe because every session key is used once) and no
//! associated data. Randomness always comes from the caller. Session keys and plaintexts are
//! zeroed when dropped; neither ever appears in an error.

use aes_gcm::aead::Nonce;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key};
use rand_core::CryptoRng;
use rsa::sha2::Sha256;
use rsa::{Oaep, PrivateKey, PublicKey};
use zeroize::Zeroizing;

/// Length of the AES-256-GCM session key.
const SESSION_KEY_LENGTH: usize = 32;
/// Length of the GCM authentication tag appended to the value's ciphertext.
const GCM_TAG_LENGTH: usize = 16;

/// Annotation that makes a SealedSecret namespace-wide.
pub const NAMESPACE_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/namespace-wide";
/// Annotation that makes a SealedSecret cluster-wide.
pub const CLUSTER_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/cluster-wide";

/// Where a sealed value may be unsealed: the scope decides the RSA-OAEP label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Only as a Secret with the same name in the same namespace; label `namespace/name`.
    #[default]
    Strict,
    /// As a Secret of any name in the same namespace; label `namespace`.
    NamespaceWide,
    /// Anywhere; empty label.
    ClusterWide,
}

impl Scope {
    /// The name kubeseal's `--scope` flag uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }

    /// The RSA-OAEP label for a value of this scope owned by `namespace`/`name`.
    pub fn label(self, namespace: &str, name: &str) -> Vec<u8> {
        match self {
            Scope::Strict => format!("{namespace}/{name}").into_bytes(),
            Scope::NamespaceWide => namespace.as_bytes().to_vec(),
            Scope::ClusterWide => Vec::new(),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A `--scope` value that is not one of the three scopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{given}`: expected `strict`, `namespace-wide` or `cluster-wide`")]
pub struct UnknownScopeError {
    pub given: String,
}

impl std::str::FromStr for Scope {
    type Err = UnknownScopeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "strict" => Ok(Scope::Strict),
            "namespace-wide" => Ok(Scope::NamespaceWide),
            "cluster-wide" => Ok(Scope::ClusterWide),
            other => Err(UnknownScopeError {
                given: other.to_string(),
            }),
        }
    }
}

/// Why a value could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptError {
    #[error("RSA-OAEP encryption of the session key failed")]
    RsaEncryption,
    #[error("AES-256-GCM encryption of the value failed")]
    GcmEncryption,
    #[error("the RSA ciphertext is {length} bytes long, more than the format's 16-bit length prefix allows")]
    RsaCiphertextTooLong { length: usize },
}

/// Why a sealed value could not be unsealed. No variant carries plaintext or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error(
        "sealed value is {length} bytes long, too short to hold the RSA ciphertext's length prefix"
    )]
    TooShort { length: usize },
    #[error("sealed value announces an RSA ciphertext of {announced} bytes but only {available} bytes follow")]
    Truncated { announced: usize, available: usize },
    #[error("sealed value holds {length} bytes after the RSA ciphertext, fewer than the 16-byte GCM tag")]
    MissingTag { length: usize },
    #[error("RSA-OAEP decryption failed: wrong private key, or sealed for another name, namespace or scope")]
    RsaDecryption,
    #[error("the unwrapped session key is {length} bytes long, expected 32")]
    SessionKeyLength { length: usize },
    #[error("AES-256-GCM authentication failed: the sealed value is corrupt")]
    GcmAuthentication,
}

/// Seals `plaintext` for `public_key` under `label` (see [`Scope::label`]).
pub fn hybrid_encrypt<R: CryptoRng + ?Sized>(
    rng: &mut R,
    public_key: &PublicKey,
    label: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let mut session_key = Zeroizing::new([0u8; SESSION_KEY_LENGTH]);
    rng.fill_bytes(session_key.as_mut_slice());
    let rsa_ciphertext = public_key
        .encrypt(
            rng,
            Oaep::<Sha256>::new_with_label(label),
            session_key.as_slice(),
        )
        .map_err(|_| EncryptError::RsaEncryption)?;
    let rsa_length =
        u16::try_from(rsa_ciphertext.len()).map_err(|_| EncryptError::RsaCiphertextTooLong {
            length: rsa_ciphertext.len(),
        })?;
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*session_key));
    let gcm_ciphertext = cipher
        .encrypt(&Nonce::<Aes256Gcm>::default(), plaintext)
        .map_err(|_| EncryptError::GcmEncryption)?;
    let mut sealed = Vec::with_capacity(2 + rsa_ciphertext.len() + gcm_ciphertext.len());
    sealed.extend_from_slice(&rsa_length.to_be_bytes());
    sealed.extend_from_slice(&rsa_ciphertext);
    sealed.extend_from_slice(&gcm_ciphertext);
    Ok(sealed)
}

/// Unseals `sealed` with `private_key` under `label`. `rng` blinds the RSA operation.
pub fn hybrid_decrypt<R: CryptoRng + ?Sized>(
    rng: &mut R,
    private_key: &PrivateKey,
    label: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let (rsa_ciphertext, gcm_ciphertext) = split_sealed(sealed)?;
    let session_key = Zeroizing::new(
        private_key
            .decrypt_blinded(rng, Oaep::<Sha256>::new_with_label(label), rsa_ciphertext)
            .map_err(|_| DecryptError::RsaDecryption)?,
    );
    let session_key_array: &[u8; SESSION_KEY_LENGTH] =
        session_key
            .as_slice()
            .try_into()
            .map_err(|_| DecryptError::SessionKeyLength {
                length: session_key.len(),
            })?;
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*session_key_array));
    cipher
        .decrypt(&Nonce::<Aes256Gcm>::default(), gcm_ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| DecryptError::GcmAuthentication)
}

/// Unseals `sealed` with the first of `private_keys` that can, as the controller does.
///
/// The error is the one of the last key tried ([`DecryptError::RsaDecryption`] when no key
/// matches); a structural error (a truncated value) is reported before any key is tried.
pub fn hybrid_decrypt_with_any<R: CryptoRng + ?Sized>(
    rng: &mut R,
    private_keys: &[PrivateKey],
    label: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    split_sealed(sealed)?;
    let mut last_error = DecryptError::RsaDecryption;
    for private_key in private_keys {
        match hybrid_decrypt(rng, private_key, label, sealed) {
            Ok(plaintext) => return Ok(plaintext),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

/// Splits a sealed value into the RSA ciphertext and the GCM ciphertext with its tag.
fn split_sealed(sealed: &[u8]) -> Result<(&[u8], &[u8]), DecryptError> {
    let Some((length_prefix, rest)) = sealed.split_first_chunk::<2>() else {
        return Err(DecryptError::TooShort {
            length: sealed.len(),
        });
    };
    let announced = usize::from(u16::from_be_bytes(*length_prefix));
    if rest.len() < announced {
        return Err(DecryptError::Truncated {
            announced,
            available: rest.len(),
        });
    }
    let (rsa_ciphertext, gcm_ciphertext) = rest.split_at(announced);
    if gcm_ciphertext.len() < GCM_TAG_LENGTH {
        return Err(DecryptError::MissingTag {
            length: gcm_ciphertext.len(),
        });
    }
    Ok((rsa_ciphertext, gcm_ciphertext))
}
