//! flotilla-sealed: sealed-secrets compatible with kubeseal and the Bitnami controller.
//!
//! - `crypto`: the hybrid RSA-OAEP + AES-256-GCM format and the scopes' labels.
//! - `keys`: sealing certificates and private keys (PEM, key Secrets, `v1` `List`s).
//! - `keygen`: new controller keys in the Bitnami layout (RSA-4096, self-signed certificate).
//! - `manifest`: sealing Secrets into SealedSecrets and back (seal, raw, merge, unseal, reseal).
//!
//! Randomness and clocks are arguments; the crate does no I/O.

pub mod crypto;
pub mod keygen;
pub mod keys;
pub mod manifest;
pub mod template;

pub use crypto::{
    hybrid_decrypt, hybrid_decrypt_with_any, hybrid_encrypt, DecryptError, EncryptError, Scope,
};
pub use keygen::{generate_key, GeneratedKey, KeyGenerationError, KeyGenerationOptions};
pub use keys::{
    parse_private_keys, parse_sealing_certificate, CertificateError, PrivateKeyError, SealingKey,
};
pub use manifest::{
    merge_into_sealed_secret, reseal_sealed_secret, seal_raw, seal_secret, unseal_sealed_secret,
    MergeError, ResealError, SealError, SealOptions, SealRawError, UnsealError, UnsealedSecret,
};
pub use rand_core;
pub use rsa;
pub use rsa::{PrivateKey, PublicKey};
pub use x509_cert;
