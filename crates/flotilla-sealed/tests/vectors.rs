//! The cross-implementation vectors (`tests/data`, see PROVENANCE.md): every ciphertext
//! decrypts to its value under its label and fails under every wrong label listed, and both
//! SealedSecret manifests unseal to the Secrets the controller would produce.

mod common;

use common::{now, parse_yaml, read_data, rng, test_private_key};
use flotilla_core::base64::decode_standard;
use flotilla_core::Value;
use flotilla_sealed::{
    hybrid_decrypt, parse_private_keys, parse_sealing_certificate, unseal_sealed_secret,
    DecryptError,
};

struct Vector {
    id: String,
    label: String,
    value: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn vectors() -> (Vec<Vector>, Vec<(String, String)>) {
    let document = flotilla_core::parse_single_document(&read_data("vectors.json"))
        .expect("vectors.json parses");
    let vectors = document
        .get_path(&["vectors"])
        .and_then(Value::as_sequence)
        .expect("vectors.json has `vectors`")
        .iter()
        .map(|vector| {
            let field = |name: &str| {
                vector
                    .get_str(&[name])
                    .unwrap_or_else(|| panic!("vector field `{name}`"))
                    .to_string()
            };
            let ciphertext =
                decode_standard(&field("ciphertext_b64")).expect("ciphertext is base64");
            let expected_length: usize = vector
                .get_path(&["ciphertext_len"])
                .and_then(Value::scalar_text)
                .and_then(|text| text.parse().ok())
                .expect("ciphertext_len");
            assert_eq!(ciphertext.len(), expected_length, "vector {}", field("id"));
            Vector {
                id: field("id"),
                label: field("label"),
                value: decode_standard(&field("value_b64")).expect("value is base64"),
                ciphertext,
            }
        })
        .collect();
    let negatives = document
        .get_path(&["negative"])
        .and_then(Value::as_sequence)
        .expect("vectors.json has `negative`")
        .iter()
        .map(|case| {
            (
                case.get_str(&["vector"])
                    .expect("negative vector")
                    .to_string(),
                case.get_str(&["label"])
                    .expect("negative label")
                    .to_string(),
            )
        })
        .collect();
    (vectors, negatives)
}

#[test]
fn every_vector_decrypts_to_its_value() {
    let (vectors, _) = vectors();
    assert_eq!(vectors.len(), 13);
    for vector in &vectors {
        let plaintext = hybrid_decrypt(
            &mut rng(),
            test_private_key(),
            vector.label.as_bytes(),
            &vector.ciphertext,
        )
        .unwrap_or_else(|error| panic!("vector {}: {error}", vector.id));
        assert_eq!(
            plaintext.as_slice(),
            vector.value.as_slice(),
            "vector {}",
            vector.id
        );
        assert_eq!(
            vector.ciphertext.len(),
            530 + vector.value.len(),
            "vector {}",
            vector.id
        );
    }
}

#[test]
fn every_wrong_label_fails() {
    let (vectors, negatives) = vectors();
    assert_eq!(negatives.len(), 4);
    for (id, label) in &negatives {
        let vector = vectors
            .iter()
            .find(|vector| &vector.id == id)
            .expect("negative case names a vector");
        let result = hybrid_decrypt(
            &mut rng(),
            test_private_key(),
            label.as_bytes(),
            &vector.ciphertext,
        );
        assert_eq!(
            result.err(),
            Some(DecryptError::RsaDecryption),
            "vector {id} under label {label:?}"
        );
    }
}

/// Replaces `null` data values with `""`: the expected file writes empty values as `empty: `.
fn normalise_empty_data(document: &mut Value) {
    if let Some(Value::Mapping(data)) = document.get_path_mut(&["data"]) {
        for (_, value) in data.iter_mut() {
            if value.is_null() {
                *value = Value::string("");
            }
        }
    }
}

#[test]
fn manifests_unseal_to_the_expected_secrets() {
    let expected_secrets = parse_yaml(&read_data("expected-unsealed-secrets.yaml"));
    let keys =
        parse_private_keys(&read_data("sealed-secrets-key-test.yaml")).expect("key Secret parses");
    for (file, mut expected) in ["sealedsecret-strict.yaml", "sealedsecret-cluster-wide.yaml"]
        .into_iter()
        .zip(expected_secrets)
    {
        let mut sealed_secret = parse_yaml(&read_data(file)).remove(0);
        // The controller sees the SealedSecret with a uid; the expected file has a placeholder.
        sealed_secret
            .get_path_mut(&["metadata"])
            .and_then(Value::as_mapping_mut)
            .expect("metadata")
            .insert("uid", Value::string("<uid of the SealedSecret>"));
        let unsealed = unseal_sealed_secret(&mut rng(), &keys, &sealed_secret)
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        normalise_empty_data(&mut expected);
        assert_eq!(unsealed.document(), &expected, "{file}");
    }
}

#[test]
fn without_a_uid_there_is_no_owner_reference() {
    let sealed_secret = parse_yaml(&read_data("sealedsecret-strict.yaml")).remove(0);
    let unsealed = unseal_sealed_secret(
        &mut rng(),
        std::slice::from_ref(test_private_key()),
        &sealed_secret,
    )
    .expect("unseals");
    assert!(unsealed
        .document()
        .get_path(&["metadata", "ownerReferences"])
        .is_none());
    assert_eq!(
        unsealed.document().get_str(&["data", "username"]),
        Some("YWRtaW4=")
    );
}

/// Each accepted private-key form yields the vector key.
#[test]
fn every_private_key_form_parses() {
    let key_secret = read_data("sealed-secrets-key-test.yaml");
    let key_secret_document = parse_yaml(&key_secret).remove(0);
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n- {}",
        flotilla_core::write_document(&key_secret_document)
            .expect("writes")
            .trim_end()
            .replace('\n', "\n  ")
    );
    let two_pem_keys = format!(
        "{}\n{}",
        read_data("test-key.pem"),
        read_data("test-key-pkcs8.pem")
    );
    let cases: [(&str, String, usize); 6] = [
        ("PKCS#1 PEM", read_data("test-key.pem"), 1),
        ("PKCS#8 PEM", read_data("test-key-pkcs8.pem"), 1),
        ("two PEM keys", two_pem_keys, 2),
        ("key Secret", key_secret, 1),
        ("v1 List of key Secrets", list, 1),
        (
            "key Secret as JSON",
            format!(
                "{{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"data\":{{\"tls.key\":\"{}\"}}}}",
                key_secret_document
                    .get_str(&["data", "tls.key"])
                    .expect("tls.key")
            ),
            1,
        ),
    ];
    let vector_public_key = test_private_key().to_public_key();
    for (name, text, count) in cases {
        let keys = parse_private_keys(&text).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(keys.len(), count, "{name}");
        for key in keys {
            assert_eq!(key.to_public_key(), vector_public_key, "{name}");
        }
    }
}

#[test]
fn certificate_and_public_key_pem_give_the_vector_key() {
    for file in ["test-cert.pem", "test-pubkey.pem"] {
        let sealing_key = parse_sealing_certificate(&read_data(file), now())
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        assert_eq!(
            sealing_key.public_key,
            test_private_key().to_public_key(),
            "{file}"
        );
    }
}

/// The Go-style key id the controller uses, from the vector set's README.
#[test]
fn key_fingerprint_matches_go() {
    assert_eq!(
        flotilla_sealed::keys::key_fingerprint(&test_private_key().to_public_key()),
        "SHA256:pK1hUhlAeXK2Uj/9el1TKolobS+18n5VqoND0MTMtlk"
    );
}

/// Sealing the Secrets the vector manifests stand for gives the manifests' layout (kubeseal's),
/// ciphertexts aside.
#[test]
fn sealing_the_expected_secrets_gives_the_vector_manifests_layout() {
    let public_key = common::test_public_key();
    let expected_secrets = parse_yaml(&read_data("expected-unsealed-secrets.yaml"));
    for (file, mut secret) in ["sealedsecret-strict.yaml", "sealedsecret-cluster-wide.yaml"]
        .into_iter()
        .zip(expected_secrets)
    {
        let metadata = secret
            .get_path_mut(&["metadata"])
            .and_then(Value::as_mapping_mut)
            .expect("metadata");
        metadata.remove("ownerReferences");
        normalise_empty_data(&mut secret);
        let sealed = flotilla_sealed::seal_secret(
            &mut rng(),
            &public_key,
            &secret,
            &flotilla_sealed::SealOptions::default(),
        )
        .unwrap_or_else(|error| panic!("{file}: {error}"));
        let vector = parse_yaml(&read_data(file)).remove(0);
        assert_eq!(
            flotilla_core::write_document(&redact_ciphertexts(sealed)).expect("writes"),
            flotilla_core::write_document(&redact_ciphertexts(vector)).expect("writes"),
            "{file}"
        );
    }
}

fn redact_ciphertexts(mut sealed_secret: Value) -> Value {
    if let Some(Value::Mapping(items)) = sealed_secret.get_path_mut(&["spec", "encryptedData"]) {
        for (_, value) in items.iter_mut() {
            *value = Value::string("<sealed>");
        }
    }
    sealed_secret
}
