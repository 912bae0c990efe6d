//! Shared helpers of the integration tests: the vector key and certificate, a system RNG and a
//! fixed clock.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flotilla_core::Value;
use flotilla_sealed::{parse_private_keys, parse_sealing_certificate, PrivateKey, PublicKey};
use getrandom::SysRng;
use rand_core::UnwrapErr;

/// 2027-01-15, inside the test certificate's validity (2026-11-23 to 2036-11-20).
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

pub fn rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn read_data(name: &str) -> String {
    std::fs::read_to_string(data_path(name)).expect("test data file is committed")
}

pub fn parse_yaml(text: &str) -> Vec<Value> {
    flotilla_core::parse_documents(text)
        .expect("test YAML parses")
        .into_iter()
        .filter(|document| !document.is_null())
        .collect()
}

/// The vector set's private key (parsed once: RSA key validation is slow in debug builds).
pub fn test_private_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut keys = parse_private_keys(&read_data("test-key.pem")).expect("test key parses");
        keys.remove(0)
    })
}

pub fn test_public_key() -> PublicKey {
    parse_sealing_certificate(&read_data("test-cert.pem"), now())
        .expect("test certificate parses")
        .public_key
}
