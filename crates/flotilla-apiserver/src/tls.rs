//! TLS material: a self-signed CA generated on first start and kept in the data directory, and a
//! serving certificate for `127.0.0.1`, `localhost` and the listen host signed by it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// Failure to create or load TLS material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read or write `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot generate or parse a certificate")]
    Certificate {
        #[source]
        source: rcgen::Error,
    },
    #[error("the TLS configuration was refused")]
    Rustls {
        #[source]
        source: rustls::Error,
    },
    #[error("`{path}` holds no usable PEM data")]
    Pem { path: PathBuf },
}

/// The CA certificate (PEM) clients trust, and the server configuration.
pub struct TlsMaterial {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

fn certificate_error(source: rcgen::Error) -> TlsError {
    TlsError::Certificate { source }
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<(), TlsError> {
    std::fs::write(path, text).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads the CA from `directory` (creating it on first start) and issues a fresh serving
/// certificate for `hosts`.
pub fn prepare(directory: &Path, hosts: &[String]) -> Result<TlsMaterial, TlsError> {
    let ca_cert_path = directory.join("ca.crt");
    let ca_key_path = directory.join("ca.key");
    let (ca_pem, ca_key) = if ca_cert_path.exists() && ca_key_path.exists() {
        let key = KeyPair::from_pem(&read(&ca_key_path)?).map_err(certificate_error)?;
        (read(&ca_cert_path)?, key)
    } else {
        let key = KeyPair::generate().map_err(certificate_error)?;
        let certificate = ca_params()?.self_signed(&key).map_err(certificate_error)?;
        let pem = certificate.pem();
        write(&ca_cert_path, &pem)?;
        write(&ca_key_path, &key.serialize_pem())?;
        restrict_permissions(&ca_key_path);
        (pem, key)
    };
    // The same subject and key as the stored CA certificate: what it signs chains to it.
    let issuer = Issuer::new(ca_params()?, ca_key);
    let server_key = KeyPair::generate().map_err(certificate_error)?;
    let mut names: Vec<String> = vec!["localhost".to_string()];
    let mut params = CertificateParams::new(names.clone()).map_err(certificate_error)?;
    for host in hosts {
        if !names.contains(host) {
            names.push(host.clone());
            match host.parse::<std::net::IpAddr>() {
                Ok(address) => params.subject_alt_names.push(SanType::IpAddress(address)),
                Err(_) => params.subject_alt_names.push(SanType::DnsName(
                    host.clone().try_into().map_err(certificate_error)?,
                )),
            }
        }
    }
    let loopback: std::net::IpAddr = std::net::Ipv4Addr::LOCALHOST.into();
    if !params
        .subject_alt_names
        .contains(&SanType::IpAddress(loopback))
    {
        params.subject_alt_names.push(SanType::IpAddress(loopback));
    }
    params
        .distinguished_name
        .push(DnType::CommonName, "flotilla-apiserver");
    let server_certificate = params
        .signed_by(&server_key, &issuer)
        .map_err(certificate_error)?;
    let certificate_der = server_certificate.der().clone();
    let ca_der = pem_to_der(&ca_pem).ok_or_else(|| TlsError::Pem {
        path: ca_cert_path.clone(),
    })?;
    let key_der =
        rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).map_err(|_| {
            TlsError::Pem {
                path: ca_key_path.clone(),
            }
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Rustls { source })?
        .with_no_client_auth()
        .with_single_cert(vec![certificate_der, ca_der], key_der)
        .map_err(|source| TlsError::Rustls { source })?;
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_pem,
        server_config: Arc::new(server_config),
    })
}

fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(certificate_error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "flotilla-apiserver-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// The DER bytes of the first certificate in a PEM text.
fn pem_to_der(pem: &str) -> Option<rustls::pki_types::CertificateDer<'static>> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .skip_while(|line| !line.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END"))
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()?;
    Some(rustls::pki_types::CertificateDer::from(bytes))
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}
