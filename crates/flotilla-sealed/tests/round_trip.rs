//! Seal → unseal round trips with the vector key: every scope, empty, binary, UTF-8 and 1 MiB
//! values; scope binding (a value sealed for one name or namespace does not open under another);
//! merge-into, reseal, trying several keys, raw mode; certificate and private-key errors.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::{now, parse_yaml, read_data, rng, test_private_key, test_public_key};
use flotilla_core::base64::{decode_standard, encode_standard};
use flotilla_core::{Mapping, Value};
use flotilla_sealed::keygen::self_signed_certificate;
use flotilla_sealed::{
    hybrid_decrypt, merge_into_sealed_secret, parse_private_keys, parse_sealing_certificate,
    reseal_sealed_secret, seal_raw, seal_secret, unseal_sealed_secret, CertificateError,
    DecryptError, PrivateKey, PrivateKeyError, Scope, SealOptions, SealRawError,
};

const SCOPES: [Scope; 3] = [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide];

fn values() -> Vec<(&'static str, Vec<u8>)> {
    let mut one_mebibyte = vec![0u8; 1 << 20];
    rand_core::Rng::fill_bytes(&mut rng(), &mut one_mebibyte);
    vec![
        ("empty", Vec::new()),
        ("utf-8", "pässwörd ✓ 🔑\n".as_bytes().to_vec()),
        ("every byte", (0..=255).collect()),
        ("1 MiB", one_mebibyte),
    ]
}

fn secret_with(name: &str, namespace: &str, values: &[(&str, Vec<u8>)]) -> Value {
    let mut data = Mapping::new();
    for (key, value) in values {
        data.insert(key.replace(' ', "-"), Value::string(encode_standard(value)));
    }
    let mut metadata = Mapping::new();
    metadata.insert("name", Value::string(name));
    metadata.insert("namespace", Value::string(namespace));
    let mut secret = Mapping::new();
    secret.insert("apiVersion", Value::string("v1"));
    secret.insert("kind", Value::string("Secret"));
    secret.insert("metadata", Value::Mapping(metadata));
    secret.insert("data", Value::Mapping(data));
    Value::Mapping(secret)
}

#[test]
fn manifests_round_trip_in_every_scope() {
    let public_key = test_public_key();
    let values = values();
    let secret = secret_with("app", "team-a", &values);
    for scope in SCOPES {
        let options = SealOptions {
            scope: Some(scope),
            ..SealOptions::default()
        };
        let sealed = seal_secret(&mut rng(), &public_key, &secret, &options).expect("seals");
        for (key, value) in &values {
            let ciphertext = sealed
                .get_str(&["spec", "encryptedData", &key.replace(' ', "-")])
                .expect("item sealed");
            let ciphertext = decode_standard(ciphertext).expect("base64");
            assert_eq!(ciphertext.len(), 530 + value.len(), "{scope} {key}");
        }
        let unsealed = unseal_sealed_secret(
            &mut rng(),
            std::slice::from_ref(test_private_key()),
            &sealed,
        )
        .unwrap_or_else(|error| panic!("{scope}: {error}"));
        assert_eq!(
            unsealed.document().get_path(&["data"]),
            secret.get_path(&["data"]),
            "{scope}"
        );
    }
}

#[test]
fn raw_values_round_trip_in_every_scope() {
    let public_key = test_public_key();
    for scope in SCOPES {
        for (what, value) in values().iter().take(3) {
            let sealed = seal_raw(
                &mut rng(),
                &public_key,
                scope,
                Some("team-a"),
                Some("app"),
                value,
            )
            .expect("seals");
            let sealed = decode_standard(&sealed).expect("base64");
            let plaintext = hybrid_decrypt(
                &mut rng(),
                test_private_key(),
                &scope.label("team-a", "app"),
                &sealed,
            )
            .unwrap_or_else(|error| panic!("{scope} {what}: {error}"));
            assert_eq!(plaintext.as_slice(), value.as_slice(), "{scope} {what}");
        }
    }
}

/// Where a value sealed for `team-a/app` in each scope may and may not be unsealed.
#[test]
fn scopes_bind_values_to_their_name_and_namespace() {
    let public_key = test_public_key();
    // (scope, namespace, name, opens)
    let cases = [
        (Scope::Strict, "team-a", "app", true),
        (Scope::Strict, "team-b", "app", false),
        (Scope::Strict, "team-a", "other", false),
        (Scope::NamespaceWide, "team-a", "other", true),
        (Scope::NamespaceWide, "team-b", "app", false),
        (Scope::ClusterWide, "team-b", "other", true),
    ];
    for (scope, namespace, name, opens) in cases {
        let mut sealed_secret = seal_secret(
            &mut rng(),
            &public_key,
            &secret_with("app", "team-a", &[("key", b"value".to_vec())]),
            &SealOptions {
                scope: Some(scope),
                ..SealOptions::default()
            },
        )
        .expect("seals");
        let metadata = sealed_secret
            .get_path_mut(&["metadata"])
            .and_then(Value::as_mapping_mut)
            .expect("metadata");
        metadata.insert("name", Value::string(name));
        metadata.insert("namespace", Value::string(namespace));
        let result = unseal_sealed_secret(
            &mut rng(),
            std::slice::from_ref(test_private_key()),
            &sealed_secret,
        );
        assert_eq!(
            result.is_ok(),
            opens,
            "{scope} sealed for team-a/app, unsealed as {namespace}/{name}"
        );
        if !opens {
            let message = result.expect_err("checked above").to_string();
            assert!(message.contains("cannot be unsealed"), "{message}");
        }
    }
    // Changing the scope annotation changes the label too.
    let strict_ciphertext = seal_raw(
        &mut rng(),
        &public_key,
        Scope::Strict,
        Some("team-a"),
        Some("app"),
        b"value",
    )
    .expect("seals");
    let strict_ciphertext = decode_standard(&strict_ciphertext).expect("base64");
    for wrong_label in [&b"team-a"[..], b"", b"team-a/App", b"team-a/app "] {
        let result = hybrid_decrypt(
            &mut rng(),
            test_private_key(),
            wrong_label,
            &strict_ciphertext,
        );
        assert_eq!(
            result.err(),
            Some(DecryptError::RsaDecryption),
            "label {wrong_label:?}"
        );
    }
}

#[test]
fn merge_into_keeps_existing_items_and_adds_new_ones() {
    let mut sealed_secret = parse_yaml(&read_data("sealedsecret-strict.yaml")).remove(0);
    let original_password = sealed_secret
        .get_str(&["spec", "encryptedData", "password"])
        .map(str::to_string);
    let mut addition = secret_with("ignored-name", "ignored-namespace", &[]);
    let mut string_data = Mapping::new();
    string_data.insert("username", Value::string("root"));
    string_data.insert("extra", Value::string("new value"));
    addition
        .as_mapping_mut()
        .expect("mapping")
        .insert("stringData", Value::Mapping(string_data));
    merge_into_sealed_secret(
        &mut rng(),
        &test_public_key(),
        &addition,
        &mut sealed_secret,
        false,
    )
    .expect("merges");
    assert_eq!(
        sealed_secret
            .get_str(&["spec", "encryptedData", "password"])
            .map(str::to_string),
        original_password
    );
    let unsealed = unseal_sealed_secret(
        &mut rng(),
        std::slice::from_ref(test_private_key()),
        &sealed_secret,
    )
    .expect("merged SealedSecret unseals under its own name");
    let data = |key: &str| {
        unsealed
            .document()
            .get_str(&["data", key])
            .map(str::to_string)
    };
    assert_eq!(
        data("username").as_deref(),
        Some(encode_standard(b"root").as_str())
    );
    assert_eq!(
        data("extra").as_deref(),
        Some(encode_standard(b"new value").as_str())
    );
    assert_eq!(data("password").as_deref(), Some("UzNjcjN0IVBAc3M="));
}

#[test]
fn reseal_moves_a_sealed_secret_to_a_new_key_and_unseal_tries_every_key() {
    let other_key = parse_private_keys(&read_data("other-key.pem"))
        .expect("other key parses")
        .remove(0);
    let original = parse_yaml(&read_data("sealedsecret-cluster-wide.yaml")).remove(0);
    let resealed = reseal_sealed_secret(
        &mut rng(),
        std::slice::from_ref(test_private_key()),
        &other_key.to_public_key(),
        &original,
    )
    .expect("reseals");
    assert_eq!(
        resealed.get_path(&["metadata"]),
        original.get_path(&["metadata"])
    );
    let with_old_key = unseal_sealed_secret(
        &mut rng(),
        std::slice::from_ref(test_private_key()),
        &resealed,
    );
    assert!(
        with_old_key.is_err(),
        "the old key no longer opens the resealed values"
    );
    let both_keys: Vec<PrivateKey> = vec![test_private_key().clone(), other_key.clone()];
    let from_original =
        unseal_sealed_secret(&mut rng(), &both_keys, &original).expect("old key found");
    let from_resealed =
        unseal_sealed_secret(&mut rng(), &both_keys, &resealed).expect("new key found");
    assert_eq!(from_original.document(), from_resealed.document());
}

#[test]
fn raw_mode_needs_the_names_its_scope_uses() {
    let public_key = test_public_key();
    let cases = [
        (
            Scope::Strict,
            None,
            Some("app"),
            Some(SealRawError::MissingNamespace {
                scope: Scope::Strict,
            }),
        ),
        (
            Scope::Strict,
            Some("team-a"),
            None,
            Some(SealRawError::MissingName),
        ),
        (
            Scope::NamespaceWide,
            None,
            None,
            Some(SealRawError::MissingNamespace {
                scope: Scope::NamespaceWide,
            }),
        ),
        (Scope::NamespaceWide, Some("team-a"), None, None),
        (Scope::ClusterWide, None, None, None),
    ];
    for (scope, namespace, name, expected_error) in cases {
        let result = seal_raw(&mut rng(), &public_key, scope, namespace, name, b"value");
        assert_eq!(
            result.err(),
            expected_error,
            "{scope} {namespace:?} {name:?}"
        );
    }
}

#[test]
fn certificate_errors_are_clear() {
    let after_expiry = UNIX_EPOCH + Duration::from_secs(2_200_000_000); // 2039
    let expired =
        parse_sealing_certificate(&read_data("expired-cert.pem"), now()).expect_err("expired");
    assert!(
        matches!(expired, CertificateError::Expired { .. }),
        "{expired:?}"
    );
    assert!(expired.to_string().contains("2021-01-01"), "{expired}");
    let vector_later =
        parse_sealing_certificate(&read_data("test-cert.pem"), after_expiry).expect_err("expired");
    assert!(
        matches!(vector_later, CertificateError::Expired { .. }),
        "{vector_later:?}"
    );
    let not_rsa =
        parse_sealing_certificate(&read_data("not-rsa-cert.pem"), now()).expect_err("not RSA");
    assert_eq!(
        not_rsa,
        CertificateError::NotRsa {
            algorithm: "1.2.840.10045.2.1".to_string()
        }
    );
    assert!(not_rsa.to_string().contains("not RSA"), "{not_rsa}");
    let not_rsa_public_key =
        parse_sealing_certificate(&read_data("not-rsa-pubkey.pem"), now()).expect_err("not RSA");
    assert_eq!(
        not_rsa_public_key,
        CertificateError::NotRsa {
            algorithm: "1.2.840.10045.2.1".to_string()
        }
    );
    let garbage = parse_sealing_certificate("hello", now()).expect_err("no PEM");
    assert_eq!(garbage, CertificateError::NoPemBlock);
    let bad_base64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        parse_sealing_certificate(bad_base64, now()),
        Err(CertificateError::Pem { .. })
    ));
    let bad_der = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        encode_standard(b"not DER")
    );
    assert!(matches!(
        parse_sealing_certificate(&bad_der, now()),
        Err(CertificateError::Der { .. })
    ));
}

/// Certificates made by `keygen` for the vector key: valid ones give the key, expired ones are
/// refused.
#[test]
fn own_certificates_parse_and_expire() {
    let issued_2010 = UNIX_EPOCH + Duration::from_secs(1_262_304_000);
    let one_year = Duration::from_secs(365 * 24 * 3600);
    let expired =
        self_signed_certificate(&mut rng(), test_private_key(), "old", issued_2010, one_year)
            .expect("builds");
    assert!(matches!(
        parse_sealing_certificate(&expired, now()),
        Err(CertificateError::Expired { .. })
    ));
    let current = self_signed_certificate(
        &mut rng(),
        test_private_key(),
        "sealed-secret",
        now(),
        one_year,
    )
    .expect("builds");
    let sealing_key = parse_sealing_certificate(&current, now()).expect("valid certificate");
    assert_eq!(sealing_key.public_key, test_private_key().to_public_key());
}

#[test]
fn private_key_errors_are_clear_and_leak_nothing() {
    let key_secret = read_data("sealed-secrets-key-test.yaml");
    let key_base64 = parse_yaml(&key_secret)
        .remove(0)
        .get_str(&["data", "tls.key"])
        .expect("tls.key")
        .to_string();
    let corrupted_pem = read_data("test-key.pem").replace("MII", "MIX");
    let cases: Vec<(&str, String, PrivateKeyError)> = vec![
        ("empty", String::new(), PrivateKeyError::NoKeys),
        (
            "only a certificate",
            read_data("test-cert.pem"),
            PrivateKeyError::NoKeys,
        ),
        (
            "corrupted PEM",
            corrupted_pem,
            PrivateKeyError::InvalidPemKey {
                index: 0,
                label: "RSA PRIVATE KEY".to_string(),
            },
        ),
        (
            "encrypted PEM",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
                .to_string(),
            PrivateKeyError::EncryptedPemKey { index: 0 },
        ),
        (
            "ConfigMap",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n".to_string(),
            PrivateKeyError::UnexpectedKind {
                document: 1,
                kind: "ConfigMap".to_string(),
            },
        ),
        (
            "Secret without tls.key",
            "apiVersion: v1\nkind: Secret\ndata:\n  other: YQ==\n".to_string(),
            PrivateKeyError::MissingTlsKey {
                document: 1,
                item: None,
            },
        ),
        (
            "List item with bad base64",
            "apiVersion: v1\nkind: List\nitems:\n- kind: Secret\n  data:\n    tls.key: '%%%'\n"
                .to_string(),
            PrivateKeyError::TlsKeyNotBase64 {
                document: 1,
                item: Some(0),
            },
        ),
    ];
    for (name, text, expected) in cases {
        let error = parse_private_keys(&text).expect_err(name);
        assert_eq!(error, expected, "{name}");
        assert!(
            !error.to_string().contains(&key_base64[..40]),
            "{name}: key material in the message"
        );
    }
    let truncated_key = key_secret.replace(&key_base64, &key_base64[..200]);
    let error = parse_private_keys(&truncated_key).expect_err("truncated key");
    assert!(
        matches!(
            error,
            PrivateKeyError::TlsKeyNotBase64 { .. } | PrivateKeyError::TlsKeyInvalid { .. }
        ),
        "{error:?}"
    );
}
