//! Property tests over random values, names and namespaces: sealing then unsealing gives the
//! value back, and a value never opens under another namespace or name. Case counts are small:
//! every case does RSA-4096 private-key operations, which are slow in debug builds.

mod common;

use common::{rng, test_private_key, test_public_key};
use flotilla_core::base64::{decode_standard, encode_standard};
use flotilla_core::{Mapping, Value};
use flotilla_sealed::{
    hybrid_decrypt, seal_raw, seal_secret, unseal_sealed_secret, DecryptError, Scope, SealOptions,
};
use proptest::prelude::*;

/// A DNS-1123 label, what Kubernetes allows for namespaces (and most names).
fn kubernetes_name() -> impl Strategy<Value = String> {
    "[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?"
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        Just(Scope::Strict),
        Just(Scope::NamespaceWide),
        Just(Scope::ClusterWide)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn raw_values_round_trip_and_stay_bound(
        value in proptest::collection::vec(any::<u8>(), 0..2048),
        namespace in kubernetes_name(),
        name in kubernetes_name(),
        other_namespace in kubernetes_name(),
        other_name in kubernetes_name(),
        scope in scope(),
    ) {
        let public_key = test_public_key();
        let sealed = seal_raw(&mut rng(), &public_key, scope, Some(&namespace), Some(&name), &value).expect("seals");
        let sealed = decode_standard(&sealed).expect("base64");
        prop_assert_eq!(sealed.len(), 530 + value.len());
        let opened = hybrid_decrypt(&mut rng(), test_private_key(), &scope.label(&namespace, &name), &sealed)
            .expect("opens under its own label");
        prop_assert_eq!(opened.as_slice(), value.as_slice());
        let moved_label = scope.label(&other_namespace, &other_name);
        if moved_label != scope.label(&namespace, &name) {
            let moved = hybrid_decrypt(&mut rng(), test_private_key(), &moved_label, &sealed);
            prop_assert_eq!(moved.err(), Some(DecryptError::RsaDecryption));
        }
    }

    #[test]
    fn secrets_round_trip(
        items in proptest::collection::btree_map("[-._a-zA-Z0-9]{1,20}", proptest::collection::vec(any::<u8>(), 0..256), 0..4),
        text in "\\PC{0,40}",
        namespace in kubernetes_name(),
        name in kubernetes_name(),
        scope in scope(),
    ) {
        let mut data = Mapping::new();
        for (key, value) in &items {
            data.insert(key.clone(), Value::string(encode_standard(value)));
        }
        let mut string_data = Mapping::new();
        string_data.insert("text-value", Value::string(text.clone()));
        let mut metadata = Mapping::new();
        metadata.insert("name", Value::string(name.clone()));
        metadata.insert("namespace", Value::string(namespace.clone()));
        let mut secret = Mapping::new();
        secret.insert("kind", Value::string("Secret"));
        secret.insert("metadata", Value::Mapping(metadata));
        secret.insert("data", Value::Mapping(data.clone()));
        secret.insert("stringData", Value::Mapping(string_data));
        let options = SealOptions { scope: Some(scope), ..SealOptions::default() };
        let sealed = seal_secret(&mut rng(), &test_public_key(), &Value::Mapping(secret), &options).expect("seals");
        let unsealed = unseal_sealed_secret(&mut rng(), std::slice::from_ref(test_private_key()), &sealed).expect("unseals");
        data.insert("text-value", Value::string(encode_standard(text.as_bytes())));
        prop_assert_eq!(unsealed.document().get_path(&["data"]), Some(&Value::Mapping(data)));
        prop_assert_eq!(unsealed.document().get_str(&["metadata", "name"]), Some(name.as_str()));
    }
}
