//! Who may call the API and the UI: two bearer tokens, one per role (`admin` may sync and
//! refresh, `read-only` may only read), generated on first start into a file readable by its
//! owner alone (mode 0600) and read back on later starts. A request presents its token as
//! `Authorization: Bearer …` or, from the browser, as the `flotilla_token` cookie the login URL
//! (`/?token=…`) sets (HttpOnly, SameSite=Lax: sent when a link elsewhere leads here, never
//! with another site's form or script). Tokens are compared in constant time and
//! never logged or echoed.
//!
//! Replicas of an installed controller share their tokens through a Secret instead
//! ([`Tokens::load_or_create_secret`], `flotilla controller --api-tokens-secret NAME`): the first
//! replica makes it, the others read it.
//!
//! Requests another origin sends are refused: an `Origin` header that is not this server's
//! (`http(s)://` + `Host`) or `Sec-Fetch-Site: cross-site` answers 403, so a page elsewhere
//! cannot drive the API with the user's cookie.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use axum::http::HeaderMap;

/// The cookie the login URL sets.
pub const COOKIE: &str = "flotilla_token";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    ReadOnly,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReadOnly => "read-only",
            Role::Admin => "admin",
        }
    }
}

/// The two tokens.
#[derive(Clone)]
pub struct Tokens {
    admin: String,
    read_only: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Tokens(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the API tokens `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the API tokens `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the API tokens file `{path}` has no `{role}=` line")]
    Missing { path: PathBuf, role: &'static str },
    #[error("cannot generate a token: the system's random source failed: {0}")]
    Random(String),
    #[error("cannot {action} the API tokens Secret `{namespace}/{name}`")]
    Secret {
        action: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: flotilla_engine::ClusterError,
    },
    #[error("the API tokens Secret `{namespace}/{name}` has no `{role}` key")]
    SecretKey {
        namespace: String,
        name: String,
        role: &'static str,
    },
}

impl Tokens {
    pub fn new(admin: &str, read_only: &str) -> Tokens {
        Tokens {
            admin: admin.to_string(),
            read_only: read_only.to_string(),
        }
    }

    pub fn admin(&self) -> &str {
        &self.admin
    }

    pub fn read_only(&self) -> &str {
        &self.read_only
    }

    /// The tokens in `path`, made (with fresh random tokens, mode 0600) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Tokens, TokenError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let tokens = Tokens {
                    admin: random_token()?,
                    read_only: random_token()?,
                };
                tokens.write(path)?;
                Ok(tokens)
            }
            Err(source) => Err(TokenError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The tokens in the Secret `namespace/name` (keys `admin` and `read-only`), made with fresh
    /// random tokens when it does not exist; when another replica made it first, its tokens.
    pub async fn load_or_create_secret(
        cluster: &flotilla_engine::Cluster,
        namespace: &str,
        name: &str,
    ) -> Result<Tokens, TokenError> {
        let failed = |action: &'static str| {
            move |source| TokenError::Secret {
                action,
                namespace: namespace.to_string(),
                name: name.to_string(),
                source,
            }
        };
        let info = cluster
            .resource("v1", "Secret")
            .await
            .map_err(failed("find"))?;
        for _ in 0..2 {
            if let Some(secret) = cluster
                .get(&info, Some(namespace), name)
                .await
                .map_err(failed("read"))?
            {
                return Self::from_secret(&secret, namespace, name);
            }
            let tokens = Tokens {
                admin: random_token()?,
                read_only: random_token()?,
            };
            let secret = serde_json::json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": name, "namespace": namespace,
                    "labels": {"app.kubernetes.io/name": "flotilla", "app.kubernetes.io/component": "api-tokens"}},
                "stringData": {"admin": tokens.admin, "read-only": tokens.read_only},
            });
            match cluster.create(&info, &secret).await {
                Ok(_) => return Ok(tokens),
                // Another replica made it in the meantime: read that one.
                Err(flotilla_engine::ClusterError::Api(message))
                    if message.contains("already exists") => {}
                Err(source) => return Err(failed("create")(source)),
            }
        }
        Err(TokenError::SecretKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
            role: "admin",
        })
    }

    fn from_secret(
        secret: &serde_json::Value,
        namespace: &str,
        name: &str,
    ) -> Result<Tokens, TokenError> {
        use base64::Engine as _;
        let value = |role: &'static str| {
            secret["data"][role]
                .as_str()
                .and_then(|encoded| {
                    base64::engine::general_purpose::STANDARD
                        .decode(encoded)
                        .ok()
                })
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .or_else(|| secret["stringData"][role].as_str().map(str::to_string))
                .map(|token| token.trim().to_string())
                .filter(|token| !token.is_empty())
                .ok_or_else(|| TokenError::SecretKey {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    role,
                })
        };
        Ok(Tokens {
            admin: value("admin")?,
            read_only: value("read-only")?,
        })
    }

    fn parse(path: &Path, text: &str) -> Result<Tokens, TokenError> {
        let value = |role: &'static str| {
            text.lines()
                .filter_map(|line| line.trim().split_once('='))
                .find(|(key, _)| key.trim() == role)
                .map(|(_, token)| token.trim().to_string())
                .filter(|token| !token.is_empty())
                .ok_or_else(|| TokenError::Missing {
                    path: path.to_path_buf(),
                    role,
                })
        };
        Ok(Tokens {
            admin: value("admin")?,
            read_only: value("read-only")?,
        })
    }

    fn write(&self, path: &Path) -> Result<(), TokenError> {
        let failed = |source| TokenError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(failed)?;
        write!(
            file,
            "# flotilla API and UI tokens (keep this file private)\nadmin={}\nread-only={}\n",
            self.admin, self.read_only
        )
        .map_err(failed)
    }

    /// The role of a presented token, if it is one of the two.
    pub fn role(&self, presented: &str) -> Option<Role> {
        if constant_time_equal(presented.as_bytes(), self.admin.as_bytes()) {
            Some(Role::Admin)
        } else if constant_time_equal(presented.as_bytes(), self.read_only.as_bytes()) {
            Some(Role::ReadOnly)
        } else {
            None
        }
    }
}

fn random_token() -> Result<String, TokenError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|error| TokenError::Random(error.to_string()))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

/// The token a request presents: the bearer token, else the login cookie.
pub fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
    {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, token)| token.to_string())
}

/// Whether another origin sent the request (403): an `Origin` that is not this server, or a
/// browser's `Sec-Fetch-Site: cross-site` on anything but a navigation (following a link to a
/// page here is allowed; a navigation that posts a form carries an `Origin`, checked).
pub fn cross_origin(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site")
        && header("sec-fetch-mode") != Some("navigate")
    {
        return true;
    }
    let Some(origin) = header("origin") else {
        return false;
    };
    let Some(host) = header("host") else {
        return true;
    };
    let host = host.trim().to_ascii_lowercase();
    let origin = origin.trim().to_ascii_lowercase();
    origin != format!("http://{host}") && origin != format!("https://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn tokens_are_made_once_private_and_read_back() {
        let directory =
            std::env::temp_dir().join(format!("flotilla-web-tokens-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        let path = directory.join("api-tokens");
        let made = Tokens::load_or_create(&path).expect("made");
        assert_eq!(made.admin().len(), 48);
        assert_ne!(made.admin(), made.read_only());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let read = Tokens::load_or_create(&path).expect("read");
        assert_eq!(read.admin(), made.admin());
        assert_eq!(read.role(made.read_only()), Some(Role::ReadOnly));
        assert_eq!(read.role(made.admin()), Some(Role::Admin));
        assert_eq!(read.role("nope"), None);
        assert!(!format!("{read:?}").contains(made.admin()));
        let _ = std::fs::remove_dir_all(&directory);
    }

    #[test]
    fn presented_tokens_and_origins() {
        assert_eq!(
            presented_token(&headers(&[("authorization", "Bearer abc")])).as_deref(),
            Some("abc")
        );
        assert_eq!(
            presented_token(&headers(&[("cookie", "a=b; flotilla_token=xyz")])).as_deref(),
            Some("xyz")
        );
        assert_eq!(
            presented_token(&headers(&[("authorization", "Basic abc")])),
            None
        );
        assert!(!cross_origin(&headers(&[("host", "127.0.0.1:8089")])));
        assert!(!cross_origin(&headers(&[
            ("host", "127.0.0.1:8089"),
            ("origin", "http://127.0.0.1:8089")
        ])));
        assert!(cross_origin(&headers(&[
            ("host", "127.0.0.1:8089"),
            ("origin", "http://evil.example")
        ])));
        assert!(cross_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!cross_origin(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate")
        ])));
    }
}
