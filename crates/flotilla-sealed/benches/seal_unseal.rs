//! Seal and unseal throughput against the cost of one RSA-4096 private-key operation, which
//! dominates unsealing. Single-threaded, so every rate is per core. Prints a markdown table of
//! medians. Run with `cargo bench -p flotilla-sealed` (release profile).

use std::hint::black_box;
use std::time::{Duration, Instant};

use flotilla_core::Value;
use flotilla_sealed::rsa::sha2::Sha256;
use flotilla_sealed::rsa::Oaep;
use flotilla_sealed::{
    hybrid_decrypt, hybrid_encrypt, parse_private_keys, parse_sealing_certificate, seal_secret,
    unseal_sealed_secret, SealOptions,
};
use getrandom::SysRng;
use rand_core::UnwrapErr;

const TEST_KEY: &str = include_str!("../tests/data/test-key.pem");
const TEST_CERT: &str = include_str!("../tests/data/test-cert.pem");
const STRICT_MANIFEST: &str = include_str!("../tests/data/sealedsecret-strict.yaml");

/// Runs `operation` for about `budget`, in rounds, and returns the median time of one call.
fn median_time(budget: Duration, mut operation: impl FnMut()) -> Duration {
    operation();
    let mut samples = Vec::new();
    let started = Instant::now();
    while started.elapsed() < budget || samples.len() < 5 {
        let start = Instant::now();
        operation();
        samples.push(start.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("FLOTILLA_BENCH_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(3000),
    );
    let mut rng = UnwrapErr(SysRng);
    let private_key = parse_private_keys(TEST_KEY).expect("test key").remove(0);
    let now = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let public_key = parse_sealing_certificate(TEST_CERT, now)
        .expect("test cert")
        .public_key;
    let label = b"demo/app-credentials";
    let small = vec![7u8; 64];
    let large = vec![7u8; 64 * 1024];
    let sealed_small = hybrid_encrypt(&mut rng, &public_key, label, &small).expect("seals");
    let sealed_large = hybrid_encrypt(&mut rng, &public_key, label, &large).expect("seals");
    let rsa_ciphertext = sealed_small[2..514].to_vec();
    let manifest = flotilla_core::parse_documents(STRICT_MANIFEST)
        .expect("manifest")
        .into_iter()
        .find(|document| !document.is_null())
        .expect("one document");
    let keys = [private_key.clone()];
    let secret = unseal_sealed_secret(&mut rng, &keys, &manifest)
        .expect("unseals")
        .document()
        .clone();
    let options = SealOptions::default();
    let item_count = manifest
        .get_path(&["spec", "encryptedData"])
        .and_then(Value::as_mapping)
        .map_or(0, |m| m.len());

    let mut rows: Vec<(String, Duration)> = Vec::new();
    let rsa_private = median_time(budget, || {
        black_box(
            private_key
                .decrypt_blinded(
                    &mut rng,
                    Oaep::<Sha256>::new_with_label(&label[..]),
                    &rsa_ciphertext,
                )
                .expect("decrypts"),
        );
    });
    rows.push((
        "RSA-4096 private-key operation (OAEP unwrap, blinded)".to_string(),
        rsa_private,
    ));
    let rsa_public = median_time(budget, || {
        black_box(
            public_key
                .encrypt(
                    &mut rng,
                    Oaep::<Sha256>::new_with_label(&label[..]),
                    &[1u8; 32],
                )
                .expect("encrypts"),
        );
    });
    rows.push((
        "RSA-4096 public-key operation (OAEP wrap)".to_string(),
        rsa_public,
    ));
    rows.push((
        "seal one 64 B value".to_string(),
        median_time(budget, || {
            black_box(hybrid_encrypt(&mut rng, &public_key, label, &small).expect("seals"));
        }),
    ));
    rows.push((
        "seal one 64 KiB value".to_string(),
        median_time(budget, || {
            black_box(hybrid_encrypt(&mut rng, &public_key, label, &large).expect("seals"));
        }),
    ));
    rows.push((
        "unseal one 64 B value".to_string(),
        median_time(budget, || {
            black_box(
                hybrid_decrypt(&mut rng, &private_key, label, &sealed_small).expect("unseals"),
            );
        }),
    ));
    rows.push((
        "unseal one 64 KiB value".to_string(),
        median_time(budget, || {
            black_box(
                hybrid_decrypt(&mut rng, &private_key, label, &sealed_large).expect("unseals"),
            );
        }),
    ));
    rows.push((
        format!("seal a Secret manifest ({item_count} items)"),
        median_time(budget, || {
            black_box(seal_secret(&mut rng, &public_key, &secret, &options).expect("seals"));
        }),
    ));
    rows.push((
        format!("unseal a SealedSecret manifest ({item_count} items)"),
        median_time(budget, || {
            black_box(unseal_sealed_secret(&mut rng, &keys, &manifest).expect("unseals"));
        }),
    ));

    println!("| operation (one core) | median time | per second | × RSA-4096 private op |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, time) in rows {
        println!(
            "| {name} | {:.3} ms | {:.1} | {:.3} |",
            time.as_secs_f64() * 1000.0,
            1.0 / time.as_secs_f64(),
            time.as_secs_f64() / rsa_private.as_secs_f64()
        );
    }
    print_openssl_reference(budget, rsa_private, rsa_public);
}

/// Compares the raw RSA-4096 operations with `openssl speed` on the same machine, when the
/// `openssl` command is there (OpenSSL's sign is the same private-key operation).
fn print_openssl_reference(budget: Duration, rsa_private: Duration, rsa_public: Duration) {
    let seconds = budget.as_secs().max(1).to_string();
    let Ok(output) = std::process::Command::new("openssl")
        .args(["speed", "-seconds", &seconds, "rsa4096"])
        .output()
    else {
        println!("\n(`openssl` not found: no reference measurement)");
        return;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(fields) = text
        .lines()
        .find(|line| line.starts_with("rsa 4096 bits"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
    else {
        println!("\n(`openssl speed rsa4096` printed no result: no reference measurement)");
        return;
    };
    let parse = |field: Option<&&str>| {
        field.and_then(|text| text.trim_end_matches('s').parse::<f64>().ok())
    };
    let (Some(openssl_private), Some(openssl_public)) =
        (parse(fields.get(3)), parse(fields.get(4)))
    else {
        println!("\n(unexpected `openssl speed` output: no reference measurement)");
        return;
    };
    println!();
    println!("| RSA-4096 operation | flotilla (rsa 0.10) | OpenSSL (`openssl speed`) | flotilla / OpenSSL |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, ours, theirs) in [
        ("private key", rsa_private.as_secs_f64(), openssl_private),
        ("public key", rsa_public.as_secs_f64(), openssl_public),
    ] {
        println!(
            "| {name} | {:.3} ms | {:.3} ms | {:.2}× |",
            ours * 1000.0,
            theirs * 1000.0,
            ours / theirs
        );
    }
}
