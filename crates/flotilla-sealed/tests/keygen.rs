//! Key generation: one RSA-4096 key in the Bitnami key-Secret layout, whose Secret is accepted
//! by the private-key reader and whose certificate seals values the key unseals.

mod common;

use common::{now, rng};
use flotilla_sealed::keygen::{generate_key, KeyGenerationOptions, KEY_LABEL};
use flotilla_sealed::{
    hybrid_decrypt, parse_private_keys, parse_sealing_certificate, seal_raw, Scope,
};

#[test]
fn generated_key_secret_has_the_bitnami_layout_and_works() {
    let generated =
        generate_key(&mut rng(), now(), &KeyGenerationOptions::default()).expect("generates");
    let secret = &generated.secret;
    assert_eq!(secret.get_str(&["type"]), Some("kubernetes.io/tls"));
    assert_eq!(
        secret.get_str(&["metadata", "namespace"]),
        Some("kube-system")
    );
    assert_eq!(
        secret.get_str(&["metadata", "labels", KEY_LABEL]),
        Some("active")
    );
    let name = secret.get_str(&["metadata", "name"]).expect("name");
    assert_eq!(name, generated.secret_name);
    let suffix = name
        .strip_prefix("sealed-secrets-key")
        .expect("Bitnami prefix");
    assert_eq!(suffix.len(), 5, "{name}");
    assert!(
        suffix
            .bytes()
            .all(|byte| b"bcdfghjklmnpqrstvwxz2456789".contains(&byte)),
        "{name}"
    );
    assert!(generated
        .private_key_pem
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));

    let secret_text = flotilla_core::write_document(secret).expect("writes");
    let keys = parse_private_keys(&secret_text).expect("key Secret reads back");
    assert_eq!(keys.len(), 1);
    assert_eq!(
        keys[0].to_public_key(),
        generated.private_key.to_public_key()
    );
    assert_eq!(rsa_bits(&generated), 4096);

    let sealing_key = parse_sealing_certificate(&generated.certificate_pem, now())
        .expect("certificate is valid now");
    let ten_years_later = now() + std::time::Duration::from_secs(3650 * 24 * 3600 - 60);
    parse_sealing_certificate(&generated.certificate_pem, ten_years_later)
        .expect("still valid after ~10 years");
    let sealed = seal_raw(
        &mut rng(),
        &sealing_key.public_key,
        Scope::ClusterWide,
        None,
        None,
        b"hello",
    )
    .expect("seals");
    let sealed = flotilla_core::base64::decode_standard(&sealed).expect("base64");
    let opened = hybrid_decrypt(&mut rng(), &keys[0], b"", &sealed).expect("opens");
    assert_eq!(opened.as_slice(), b"hello");
}

fn rsa_bits(generated: &flotilla_sealed::GeneratedKey) -> usize {
    use flotilla_sealed::rsa::traits::PublicKeyParts;
    generated.private_key.to_public_key().size() * 8
}

#[test]
fn renewal_is_due_after_the_period() {
    use flotilla_sealed::keygen::{renewal_due, DEFAULT_RENEWAL_PERIOD};
    use std::time::Duration;
    let day = Duration::from_secs(24 * 3600);
    let cases = [
        (None, DEFAULT_RENEWAL_PERIOD, true),
        (Some(now() - day * 29), DEFAULT_RENEWAL_PERIOD, false),
        (Some(now() - day * 30), DEFAULT_RENEWAL_PERIOD, true),
        (Some(now() + day), DEFAULT_RENEWAL_PERIOD, false),
        (Some(now() - day * 400), Duration::ZERO, false),
    ];
    for (created, period, due) in cases {
        assert_eq!(
            renewal_due(created, now(), period),
            due,
            "{created:?} {period:?}"
        );
    }
}

#[test]
fn key_secret_summaries_show_no_secrets() {
    let text = common::read_data("sealed-secrets-key-test.yaml");
    let summaries = flotilla_sealed::keys::summarize_key_secrets(&text).expect("summarises");
    assert_eq!(summaries.len(), 1);
    let summary = &summaries[0];
    assert_eq!(summary.name, "sealed-secrets-keytest1");
    assert_eq!(summary.namespace, "kube-system");
    assert_eq!(summary.status.as_deref(), Some("active"));
    assert_eq!(
        summary.fingerprint,
        "SHA256:pK1hUhlAeXK2Uj/9el1TKolobS+18n5VqoND0MTMtlk"
    );
    assert!(summary
        .not_before
        .is_some_and(|not_before| not_before < now()));
    assert!(summary.not_after.is_some_and(|not_after| not_after > now()));
}
