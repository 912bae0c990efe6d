//! HTTPS for the controller's endpoints when it is given a certificate (`--tls-cert`,
//! `--tls-key`: PEM files, the certificate chain leaf first): rustls with the ring provider, as
//! the embedded API server uses, HTTP/1.1 (axum is served over hyper's auto builder, so h2 works
//! as well). Without them the endpoints are plain HTTP, as on the loopback `flotilla up` uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the certificate and its key are.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read `{path}` as PEM ({what})")]
    Pem {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("`{path}` holds no certificate")]
    NoCertificate { path: PathBuf },
    #[error("the certificate `{certificate}` and key `{key}` do not make a TLS server")]
    Config {
        certificate: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
}

fn pem_error(
    path: &Path,
    what: &'static str,
) -> impl FnOnce(rustls::pki_types::pem::Error) -> TlsError {
    let path = path.to_path_buf();
    move |source| TlsError::Pem { path, what, source }
}

/// The acceptor for `files`.
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.certificate)
        .map_err(pem_error(&files.certificate, "certificates"))?
        .collect::<Result<_, _>>()
        .map_err(pem_error(&files.certificate, "certificates"))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.certificate.clone(),
        });
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(pem_error(&files.key, "a private key"))?;
    let config_error = |source| TlsError::Config {
        certificate: files.certificate.clone(),
        key: files.key.clone(),
        source,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(config_error)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` over TLS on `listener` until the task ends.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    acceptor: tokio_rustls::TlsAcceptor,
) {
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            // Too many open files and the like: back off briefly and keep serving.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
            let Ok(Ok(stream)) = handshake.await else {
                return;
            };
            let service = TowerToHyperService::new(router);
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn scratch(name: &str) -> PathBuf {
        let directory =
            std::env::temp_dir().join(format!("flotilla-web-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).expect("scratch");
        directory
    }

    #[tokio::test]
    async fn serves_https_with_the_given_certificate() {
        let directory = scratch("serve");
        let made =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
        let files = TlsFiles {
            certificate: directory.join("tls.crt"),
            key: directory.join("tls.key"),
        };
        std::fs::write(&files.certificate, made.cert.pem()).expect("write");
        std::fs::write(&files.key, made.signing_key.serialize_pem()).expect("write");
        let acceptor = acceptor(&files).expect("acceptor");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let router = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
        let server = tokio::spawn(serve(listener, router, acceptor));

        let mut roots = rustls::RootCertStore::empty();
        roots.add(made.cert.der().clone()).expect("root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut stream = connector.connect(name, stream).await.expect("handshake");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("ok"), "{response}");
        server.abort();
        let _ = std::fs::remove_dir_all(&directory);
    }

    #[test]
    fn bad_files_are_named() {
        let directory = scratch("bad");
        let files = TlsFiles {
            certificate: directory.join("missing.crt"),
            key: directory.join("missing.key"),
        };
        let error = acceptor(&files).map(|_| ()).expect_err("missing");
        assert!(error.to_string().contains("missing.crt"), "{error}");
        std::fs::write(&files.certificate, "not a certificate\n").expect("write");
        let error = acceptor(&files).map(|_| ()).expect_err("empty");
        assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");
        let _ = std::fs::remove_dir_all(&directory);
    }
}
