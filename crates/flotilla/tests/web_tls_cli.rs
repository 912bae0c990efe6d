//! `flotilla controller --tls-cert --tls-key`: the endpoints, API and UI over HTTPS with the
//! given certificate (the login cookie then `Secure`, plain HTTP not answered), and certificate
//! files that make no TLS server refused, named, before the engine starts. Both runs keep their
//! tokens in one Secret (`--api-tokens-secret`), as replicas share them: the first makes it, the
//! second reads it. The cluster is the one
//! `flotilla up` starts; the second controller serves no Application namespace, so it leaves
//! `up`'s Applications to `up`.

mod web_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use web_support::{flotilla, free_port, start};

fn controller(
    kubeconfig: &Path,
    listen: &str,
    directory: &Path,
    certificate: &Path,
    key: &Path,
) -> Command {
    let mut command = flotilla();
    command
        .arg("controller")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "--listen",
            listen,
            "--app-namespace",
            "no-applications-here",
            "--shard-mode",
            "off",
            "--no-sealed-secrets",
        ])
        .arg("--cache-dir")
        .arg(directory.join("cache"))
        .args(["--api-tokens-secret", "flotilla-api-tokens"])
        .arg("--tls-cert")
        .arg(certificate)
        .arg("--tls-key")
        .arg(key);
    command
}

/// GET `path` over TLS trusting `certificate` (DER); the raw response.
fn get_tls(address: &str, certificate: &[u8], path: &str, headers: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            certificate.to_vec(),
        ))
        .expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let connection = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let stream = TcpStream::connect(address).expect("connect");
    let mut tls = rustls::StreamOwned::new(connection, stream);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n{headers}\r\n"
    )
    .expect("write");
    let mut response = String::new();
    let _ = tls.read_to_string(&mut response);
    response
}

#[test]
fn the_controller_serves_https_with_a_given_certificate() {
    let root = std::env::temp_dir().join(format!("flotilla-web-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch");
    let (_up, _address, _admin, _log) = start(&root);
    let kubeconfig = root.join(".flotilla/cluster/kubeconfig");
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let certificate = root.join("tls.crt");
    let key = root.join("tls.key");
    std::fs::write(&certificate, made.cert.pem()).expect("write");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("write");
    let directory = root.join("controller");

    // Files that are no certificate: refused, named, with the hint.
    let refused = controller(&kubeconfig, "127.0.0.1:0", &directory, &key, &key)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot serve HTTPS"), "{stderr}");
    assert!(stderr.contains("tls.key"), "{stderr}");
    assert!(
        stderr.contains("hint: `--tls-cert` and `--tls-key` take PEM files"),
        "{stderr}"
    );

    // Served over HTTPS.
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = controller(&kubeconfig, &listen, &directory, &certificate, &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the controller");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = String::new();
    for line in lines.by_ref() {
        let line = line.expect("utf-8");
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("ui: ") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    assert!(
        banner.contains(&format!("ui: https://{listen}/")),
        "{banner}"
    );
    assert!(
        banner.contains("tokens: Secret `argocd/flotilla-api-tokens`"),
        "{banner}"
    );
    let secret = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "get",
            "secret",
            "flotilla-api-tokens",
            "-n",
            "argocd",
            "-o",
            "json",
        ])
        .output()
        .expect("kubectl");
    assert!(
        secret.status.success(),
        "{}",
        String::from_utf8_lossy(&secret.stderr)
    );
    let secret: serde_json::Value = serde_json::from_slice(&secret.stdout).expect("JSON");
    use base64::Engine as _;
    let decode = |role: &str| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(secret["data"][role].as_str().expect("a token"))
            .expect("base64");
        String::from_utf8(bytes).expect("text")
    };
    let admin = decode("admin");
    assert_eq!(admin.len(), 48);
    assert_ne!(decode("read-only"), admin);
    let der = made.cert.der().to_vec();
    let healthz = get_tls(&listen, &der, "/healthz", "");
    assert!(healthz.starts_with("HTTP/1.1 200"), "{healthz}");
    let session = get_tls(
        &listen,
        &der,
        "/api/v1/session",
        &format!("authorization: Bearer {admin}\r\n"),
    );
    assert!(session.starts_with("HTTP/1.1 200"), "{session}");
    assert!(session.contains("\"role\":\"admin\""), "{session}");
    let listed = get_tls(
        &listen,
        &der,
        "/api/v1/applications",
        &format!("authorization: Bearer {admin}\r\n"),
    );
    assert!(listed.contains("\"name\":\"inventory\""), "{listed}");
    let login = get_tls(&listen, &der, &format!("/?token={admin}"), "");
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    assert!(login.contains("; Secure"), "{login}");
    // Plain HTTP gets no HTTP answer.
    let mut plain = TcpStream::connect(&listen).expect("connect");
    write!(
        plain,
        "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let _ = child.kill();
    let _ = child.wait();
}
