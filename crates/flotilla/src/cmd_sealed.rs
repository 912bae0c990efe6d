//! The sealed-secrets subcommands: `seal`, `unseal`, `reseal` and `keys`, a thin layer over
//! `flotilla-sealed` that reads files or stdin, supplies the system RNG and clock, and writes
//! YAML or JSON. Everything works offline from files; the sealing certificate may also come
//! from a controller's `http://…/v1/cert.pem` (flotilla's own, or a port-forwarded Bitnami one).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use flotilla_core::Value;
use flotilla_sealed::keygen::{generate_key, KeyGenerationOptions};
use flotilla_sealed::keys::{parse_certificates, TLS_CERTIFICATE_FIELD};
use flotilla_sealed::rand_core::UnwrapErr;
use flotilla_sealed::rsa::pkcs1::EncodeRsaPrivateKey;
use flotilla_sealed::rsa::pkcs8::LineEnding;
use flotilla_sealed::{
    merge_into_sealed_secret, parse_private_keys, parse_sealing_certificate, reseal_sealed_secret,
    seal_raw, seal_secret, unseal_sealed_secret, PrivateKey, Scope, SealOptions, SealingKey,
};
use getrandom::SysRng;
use zeroize::Zeroizing;

/// Output format of manifests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Yaml,
    Json,
}

/// `--scope` values, as kubeseal spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    Strict,
    NamespaceWide,
    ClusterWide,
}

impl From<ScopeArg> for Scope {
    fn from(scope: ScopeArg) -> Scope {
        match scope {
            ScopeArg::Strict => Scope::Strict,
            ScopeArg::NamespaceWide => Scope::NamespaceWide,
            ScopeArg::ClusterWide => Scope::ClusterWide,
        }
    }
}

/// `flotilla seal`: Secret manifests in, SealedSecret manifests out (like kubeseal).
#[derive(Args, Debug)]
pub struct SealArgs {
    /// Secret manifest(s), YAML or JSON; stdin when absent or `-`.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The sealing certificate: a PEM file, or a controller's `http://…/v1/cert.pem`.
    #[arg(long, value_name = "FILE|URL", required_unless_present = "kubeconfig")]
    pub cert: Option<String>,
    /// Fetch the certificate from this cluster instead: the newest key Secret in
    /// `--controller-namespace`, else the Bitnami controller's `/v1/cert.pem` through the API
    /// server's service proxy
    #[arg(long, conflicts_with = "cert")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace of the sealing keys and the controller
    #[arg(long, default_value = "kube-system")]
    pub controller_namespace: String,
    /// Service name of a Bitnami controller (for the service proxy)
    #[arg(long, default_value = "sealed-secrets-controller")]
    pub controller_name: String,
    /// Sealing scope; by default the Secret's own scope annotations decide (strict without them).
    #[arg(long, value_enum)]
    pub scope: Option<ScopeArg>,
    /// Seal one value (from `--from-file` or stdin) and print its base64 ciphertext.
    #[arg(long)]
    pub raw: bool,
    /// Name the value is bound to (`--raw`, strict scope).
    #[arg(long)]
    pub name: Option<String>,
    /// Namespace: for `--raw`, and for a Secret without `metadata.namespace`.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// File holding the value to seal with `--raw`.
    #[arg(long, value_name = "FILE", requires = "raw")]
    pub from_file: Option<PathBuf>,
    /// Seal the Secret's values into this existing SealedSecret file, rewriting it in place.
    #[arg(long, value_name = "FILE", conflicts_with = "raw")]
    pub merge_into: Option<PathBuf>,
    /// Seal a Secret without `data` and `stringData`.
    #[arg(long)]
    pub allow_empty_data: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Yaml)]
    pub output: OutputFormat,
}

/// `flotilla unseal`: offline recovery of Secrets from SealedSecrets (kubeseal's `--recovery-unseal`).
#[derive(Args, Debug)]
pub struct UnsealArgs {
    /// Private key file: PEM (PKCS#1 or PKCS#8), a backed-up key Secret or a `v1` `List` of them;
    /// repeat for several, every key is tried.
    #[arg(long = "key", value_name = "FILE", required = true)]
    pub keys: Vec<PathBuf>,
    /// SealedSecret manifest(s); stdin when absent or `-`.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Yaml)]
    pub output: OutputFormat,
}

/// `flotilla reseal`: re-encrypt SealedSecrets for a new certificate, offline.
#[derive(Args, Debug)]
pub struct ResealArgs {
    /// Private key file(s) that open the current SealedSecrets (same forms as `unseal --key`).
    #[arg(long = "key", value_name = "FILE", required = true)]
    pub keys: Vec<PathBuf>,
    /// The new sealing certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub cert: String,
    /// SealedSecret manifest(s); stdin when absent or `-`.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Yaml)]
    pub output: OutputFormat,
}

/// `flotilla keys`: sealing keys in the Bitnami controller's layout.
#[derive(Args, Debug)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Generate a new key Secret (RSA-4096, self-signed certificate), printed to stdout.
    Generate(KeysGenerateArgs),
    /// Print the certificates or private keys held in key Secrets or PEM files.
    Export(KeysExportArgs),
    /// List the keys of key Secrets (a backup file or stdin): name, status, fingerprint, validity.
    List(KeysListArgs),
    /// Generate a new active key in a cluster (old keys stay for decryption), as the controller's renewal does.
    Rotate(KeysRotateArgs),
}

/// `flotilla keys rotate`
#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    #[command(flatten)]
    pub cluster: crate::cmd_engine::ClusterArgs,
    /// Namespace of the key Secrets (the controller's namespace)
    #[arg(long, default_value = "kube-system")]
    pub controller_namespace: String,
    /// RSA key size
    #[arg(long, default_value_t = 4096, hide = true)]
    pub bits: usize,
}

#[derive(Args, Debug)]
pub struct KeysListArgs {
    /// Key Secret(s) or a `v1` `List` of them; stdin when absent or `-`.
    #[arg(value_name = "FILE", conflicts_with = "kubeconfig")]
    pub input: Option<PathBuf>,
    /// Read the key Secrets from the cluster of this kubeconfig instead of a file
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace of the key Secrets in the cluster
    #[arg(long, default_value = "kube-system")]
    pub controller_namespace: String,
    /// Renewal period in days, to tell whether a new key is due (0 disables renewal).
    #[arg(long, default_value_t = 30)]
    pub renewal_days: u32,
}

#[derive(Args, Debug)]
pub struct KeysGenerateArgs {
    /// Namespace of the controller.
    #[arg(short = 'n', long, default_value = "kube-system")]
    pub namespace: String,
    /// RSA key size in bits.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u16).range(2048..=8192))]
    pub bits: u16,
    /// Common name of the self-signed certificate.
    #[arg(long, default_value = "sealed-secret")]
    pub common_name: String,
    /// Certificate validity in days.
    #[arg(long, default_value_t = 3650)]
    pub validity_days: u32,
    /// Also write the certificate (PEM) to this file, for `flotilla seal --cert`.
    #[arg(long, value_name = "FILE")]
    pub cert_out: Option<PathBuf>,
    /// Output format of the key Secret.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Yaml)]
    pub output: OutputFormat,
}

/// What `keys export` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportWhat {
    /// The PEM certificates, for `flotilla seal --cert`.
    Certificate,
    /// The PKCS#1 PEM private keys, for `kubeseal --recovery-private-key` (handle with care).
    PrivateKey,
}

#[derive(Args, Debug)]
pub struct KeysExportArgs {
    /// Key Secret(s) or a `v1` `List` of them (e.g. a backup), or PEM; stdin when absent or `-`.
    #[arg(value_name = "FILE", conflicts_with = "kubeconfig")]
    pub input: Option<PathBuf>,
    /// Read the key Secrets from the cluster of this kubeconfig instead of a file
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace of the key Secrets in the cluster
    #[arg(long, default_value = "kube-system")]
    pub controller_namespace: String,
    /// What to print.
    #[arg(long, value_enum, default_value_t = ExportWhat::Certificate)]
    pub what: ExportWhat,
}

fn system_rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

/// Reads `path`, or stdin when it is absent or `-`.
fn read_input(path: Option<&Path>) -> Result<String> {
    match path {
        Some(path) if path != Path::new("-") => {
            std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))
        }
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading stdin")?;
            Ok(text)
        }
    }
}

fn input_name(path: Option<&Path>) -> String {
    match path {
        Some(path) if path != Path::new("-") => format!("`{}`", path.display()),
        _ => "stdin".to_string(),
    }
}

/// The non-empty documents of `text`, flattening `List`s.
fn read_documents(path: Option<&Path>) -> Result<Vec<Value>> {
    let text = Zeroizing::new(read_input(path)?);
    let documents = flotilla_core::parse_documents(&text)
        .with_context(|| format!("parsing {}", input_name(path)))?;
    let mut flattened = Vec::new();
    for document in documents.into_iter().filter(|document| !document.is_null()) {
        match document.get_str(&["kind"]) {
            Some("List") => flattened.extend(
                document
                    .get_path(&["items"])
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                    .cloned(),
            ),
            _ => flattened.push(document),
        }
    }
    if flattened.is_empty() {
        bail!("{} holds no manifest", input_name(path));
    }
    Ok(flattened)
}

/// The certificate `flotilla seal` uses: `--cert`, or fetched from the cluster.
fn seal_certificate(args: &SealArgs) -> Result<SealingKey> {
    sealing_key(
        args.cert.as_deref(),
        args.kubeconfig.as_ref(),
        &args.controller_namespace,
        &args.controller_name,
    )
}

/// The sealing certificate from `cert` (a PEM file or a controller's `http://…/v1/cert.pem`),
/// or fetched from the cluster of `kubeconfig`: flotilla's newest key Secret in
/// `controller_namespace`, else a Bitnami controller's through the API server's service proxy.
pub(crate) fn sealing_key(
    cert: Option<&str>,
    kubeconfig: Option<&PathBuf>,
    controller_namespace: &str,
    controller_name: &str,
) -> Result<SealingKey> {
    let now = SystemTime::now();
    if let Some(cert) = cert {
        return read_sealing_key(cert, now);
    }
    let kubeconfig = kubeconfig.ok_or_else(|| anyhow!("pass --cert or --kubeconfig"))?;
    // flotilla's own keys: the newest key Secret's certificate.
    if let Ok(list) = cluster_key_secrets(kubeconfig, controller_namespace) {
        let list: serde_json::Value = serde_json::from_str(&list).unwrap_or_default();
        let mut items: Vec<serde_json::Value> =
            list["items"].as_array().cloned().unwrap_or_default();
        // Newest first (RFC 3339 times sort as text).
        items.sort_by(|left, right| {
            right["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or("")
                .cmp(left["metadata"]["creationTimestamp"].as_str().unwrap_or(""))
        });
        for item in items {
            let name = item["metadata"]["name"].as_str().unwrap_or("?").to_string();
            let Some(pem) = item["data"]["tls.crt"]
                .as_str()
                .and_then(flotilla_core::base64::decode_standard)
            else {
                continue;
            };
            if let Ok(key) = parse_sealing_certificate(&String::from_utf8_lossy(&pem), now) {
                eprintln!(
                    "sealing with the certificate of key Secret `{}/{name}`",
                    controller_namespace
                );
                return Ok(key);
            }
        }
    }
    // A Bitnami controller: its certificate through the API server's service proxy.
    let path = format!(
        "/api/v1/namespaces/{}/services/http:{}:/proxy/v1/cert.pem",
        controller_namespace, controller_name
    );
    let runtime = crate::cmd_engine::runtime()?;
    let text = runtime.block_on(async {
        let cluster_args = crate::cmd_engine::ClusterArgs { kubeconfig: Some(kubeconfig.clone()), context: None };
        let cluster = crate::cmd_engine::connect(&cluster_args).await?;
        let request = http::Request::get(&path).body(Vec::new()).context("building the request")?;
        cluster.client.request_text(request).await.map_err(anyhow::Error::from)
    })
    .with_context(|| format!("the cluster has no readable sealing key in `{}` and its service proxy `{path}` failed", controller_namespace))?;
    parse_sealing_certificate(&text, now)
        .with_context(|| format!("reading the certificate from `{path}`"))
}

fn read_sealing_key(cert: &str, now: SystemTime) -> Result<SealingKey> {
    let text = if cert.starts_with("http://") {
        fetch_http(cert).with_context(|| format!("fetching certificate `{cert}`"))?
    } else if cert.starts_with("https://") {
        bail!("fetching the certificate over https is not supported\n\nhint: download it first (`curl -o cert.pem {cert}`) and pass `--cert cert.pem`, or use the controller's http address")
    } else {
        std::fs::read_to_string(cert).with_context(|| format!("reading certificate `{cert}`"))?
    };
    parse_sealing_certificate(&text, now).with_context(|| format!("reading certificate `{cert}`"))
}

/// A plain HTTP/1.1 GET (the controller's `/v1/cert.pem`), with timeouts; the body on 200.
fn fetch_http(url: &str) -> Result<String> {
    use std::net::ToSocketAddrs;
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    let address = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let socket = address
        .to_socket_addrs()
        .with_context(|| format!("resolving `{authority}`"))?
        .next()
        .ok_or_else(|| anyhow!("`{authority}` resolves to no address"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&socket, Duration::from_secs(10))
        .with_context(|| format!("connecting to {authority}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nAccept: application/x-pem-file\r\n\r\n")?;
    let mut response = Vec::new();
    stream.take(8 * 1024 * 1024).read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("the response is not HTTP"))?;
    let status_line = head.lines().next().unwrap_or("");
    if status_line.split_whitespace().nth(1) != Some("200") {
        bail!("the server answered `{status_line}`: {}", body.trim());
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // Reassemble chunks: size line, data, CRLF.
        let mut decoded = String::new();
        let mut remaining = body;
        while let Some((size_line, after)) = remaining.split_once("\r\n") {
            let size = usize::from_str_radix(size_line.trim(), 16).unwrap_or(0);
            if size == 0 || after.len() < size {
                break;
            }
            decoded.push_str(&after[..size]);
            remaining = after[size..].trim_start_matches("\r\n");
        }
        return Ok(decoded);
    }
    Ok(body.to_string())
}

fn read_private_keys(paths: &[PathBuf]) -> Result<Vec<PrivateKey>> {
    let mut keys = Vec::new();
    for path in paths {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading private key `{}`", path.display()))?,
        );
        keys.extend(
            parse_private_keys(&text)
                .with_context(|| format!("reading private key `{}`", path.display()))?,
        );
    }
    Ok(keys)
}

/// Writes documents in `format`: YAML separated by `---`, JSON one object after another.
fn render(documents: &[&Value], format: OutputFormat) -> Result<Zeroizing<String>> {
    let mut out = Zeroizing::new(String::new());
    for (index, document) in documents.iter().enumerate() {
        match format {
            OutputFormat::Yaml => {
                if index > 0 {
                    out.push_str("---\n");
                }
                out.push_str(&Zeroizing::new(
                    flotilla_core::write_document(document).context("writing YAML")?,
                ));
            }
            OutputFormat::Json => {
                write_json(document, 0, &mut out)?;
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// Pretty JSON with two-space indentation, keys in document order.
fn write_json(value: &Value, indent: usize, out: &mut String) -> Result<()> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => {
            let text = number.to_string();
            if text.parse::<f64>().is_err() {
                bail!("the number `{text}` cannot be written as JSON");
            }
            out.push_str(&text);
        }
        Value::String(text) | Value::Timestamp(text) => write_json_string(text, out),
        Value::Sequence(items) if items.is_empty() => out.push_str("[]"),
        Value::Sequence(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                out.push_str(if index == 0 { "\n" } else { ",\n" });
                out.push_str(&"  ".repeat(indent + 1));
                write_json(item, indent + 1, out)?;
            }
            out.push('\n');
            out.push_str(&"  ".repeat(indent));
            out.push(']');
        }
        Value::Mapping(mapping) if mapping.is_empty() => out.push_str("{}"),
        Value::Mapping(mapping) => {
            out.push('{');
            for (index, (key, item)) in mapping.iter().enumerate() {
                out.push_str(if index == 0 { "\n" } else { ",\n" });
                out.push_str(&"  ".repeat(indent + 1));
                write_json_string(key, out);
                out.push_str(": ");
                write_json(item, indent + 1, out)?;
            }
            out.push('\n');
            out.push_str(&"  ".repeat(indent));
            out.push('}');
        }
    }
    Ok(())
}

fn write_json_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(control)))
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

fn write_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .context("writing to stdout")?;
    stdout.flush().context("writing to stdout")
}

/// `flotilla seal`.
pub fn run_seal(args: &SealArgs) -> Result<()> {
    let sealing_key = seal_certificate(args)?;
    let mut rng = system_rng();
    if args.raw {
        let value = Zeroizing::new(match &args.from_file {
            Some(path) => {
                std::fs::read(path).with_context(|| format!("reading `{}`", path.display()))?
            }
            None => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .context("reading stdin")?;
                bytes
            }
        });
        let scope = args.scope.map(Scope::from).unwrap_or_default();
        let sealed = seal_raw(
            &mut rng,
            &sealing_key.public_key,
            scope,
            args.namespace.as_deref(),
            args.name.as_deref(),
            &value,
        )
        .context("sealing the raw value")?;
        return write_stdout(&sealed);
    }

    let input = args.input.as_deref();
    let secrets = read_documents(input)?;
    if let Some(target_path) = &args.merge_into {
        let [secret] = secrets.as_slice() else {
            bail!(
                "{} holds {} manifests; `--merge-into` takes one Secret",
                input_name(input),
                secrets.len()
            );
        };
        let target_text = std::fs::read_to_string(target_path)
            .with_context(|| format!("reading SealedSecret `{}`", target_path.display()))?;
        let mut target = flotilla_core::parse_single_document(&target_text)
            .with_context(|| format!("parsing SealedSecret `{}`", target_path.display()))?;
        merge_into_sealed_secret(
            &mut rng,
            &sealing_key.public_key,
            secret,
            &mut target,
            args.allow_empty_data,
        )
        .with_context(|| {
            format!(
                "merging {} into `{}`",
                input_name(input),
                target_path.display()
            )
        })?;
        let format = if target_text.trim_start().starts_with('{') {
            OutputFormat::Json
        } else {
            OutputFormat::Yaml
        };
        let text = render(&[&target], format)?;
        return std::fs::write(target_path, text.as_bytes())
            .with_context(|| format!("writing SealedSecret `{}`", target_path.display()));
    }

    let options = SealOptions {
        scope: args.scope.map(Scope::from),
        default_namespace: args.namespace.clone(),
        allow_empty_data: args.allow_empty_data,
    };
    let mut sealed_secrets = Vec::with_capacity(secrets.len());
    for (index, secret) in secrets.iter().enumerate() {
        let sealed = seal_secret(&mut rng, &sealing_key.public_key, secret, &options)
            .with_context(|| format!("sealing document {} of {}", index + 1, input_name(input)))?;
        sealed_secrets.push(sealed);
    }
    write_stdout(&render(
        &sealed_secrets.iter().collect::<Vec<_>>(),
        args.output,
    )?)
}

/// `flotilla unseal`.
pub fn run_unseal(args: &UnsealArgs) -> Result<()> {
    let keys = read_private_keys(&args.keys)?;
    let input = args.input.as_deref();
    let sealed_secrets = read_documents(input)?;
    let mut rng = system_rng();
    let mut secrets = Vec::with_capacity(sealed_secrets.len());
    for (index, sealed_secret) in sealed_secrets.iter().enumerate() {
        let secret = unseal_sealed_secret(&mut rng, &keys, sealed_secret).with_context(|| {
            format!("unsealing document {} of {}", index + 1, input_name(input))
        })?;
        secrets.push(secret);
    }
    write_stdout(&render(
        &secrets
            .iter()
            .map(|secret| secret.document())
            .collect::<Vec<_>>(),
        args.output,
    )?)
}

/// `flotilla reseal`.
pub fn run_reseal(args: &ResealArgs) -> Result<()> {
    let keys = read_private_keys(&args.keys)?;
    let sealing_key = read_sealing_key(&args.cert, SystemTime::now())?;
    let input = args.input.as_deref();
    let sealed_secrets = read_documents(input)?;
    let mut rng = system_rng();
    let mut resealed = Vec::with_capacity(sealed_secrets.len());
    for (index, sealed_secret) in sealed_secrets.iter().enumerate() {
        resealed.push(
            reseal_sealed_secret(&mut rng, &keys, &sealing_key.public_key, sealed_secret)
                .with_context(|| {
                    format!("resealing document {} of {}", index + 1, input_name(input))
                })?,
        );
    }
    write_stdout(&render(&resealed.iter().collect::<Vec<_>>(), args.output)?)
}

/// `flotilla keys …`.
pub fn run_keys(args: &KeysArgs) -> Result<()> {
    match &args.command {
        KeysCommand::Generate(generate) => run_keys_generate(generate),
        KeysCommand::Export(export) => run_keys_export(export),
        KeysCommand::List(list) => run_keys_list(list),
        KeysCommand::Rotate(rotate) => run_keys_rotate(rotate),
    }
}

/// The key Secrets of a cluster, as a JSON `v1` `List`.
fn cluster_key_secrets(kubeconfig: &Path, namespace: &str) -> Result<String> {
    let runtime = crate::cmd_engine::runtime()?;
    runtime.block_on(async {
        let cluster_args = crate::cmd_engine::ClusterArgs {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            context: None,
        };
        let cluster = crate::cmd_engine::connect(&cluster_args).await?;
        let info = cluster.resource("v1", "Secret").await?;
        let parameters =
            flotilla_engine::cluster::list_params_with_labels(flotilla_engine::sealed::KEY_LABEL);
        let list = cluster
            .list(&info, Some(namespace), &parameters)
            .await
            .with_context(|| format!("listing the key Secrets in `{namespace}`"))?;
        Ok(
            serde_json::json!({"apiVersion": "v1", "kind": "List", "items": list["items"]})
                .to_string(),
        )
    })
}

fn run_keys_rotate(args: &KeysRotateArgs) -> Result<()> {
    let options = KeyGenerationOptions {
        bits: args.bits,
        namespace: args.controller_namespace.clone(),
        ..Default::default()
    };
    let generated = generate_key(&mut system_rng(), SystemTime::now(), &options)
        .context("generating the key")?;
    let secret = flotilla_core::to_json(&generated.secret);
    let runtime = crate::cmd_engine::runtime()?;
    runtime.block_on(async {
        let cluster = crate::cmd_engine::connect(&args.cluster).await?;
        let namespace_info = cluster.resource("v1", "Namespace").await?;
        if cluster.get(&namespace_info, None, &args.controller_namespace).await?.is_none() {
            let namespace = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": args.controller_namespace}});
            cluster.apply(&namespace_info, &namespace, true, false).await?;
        }
        let info = cluster.resource("v1", "Secret").await?;
        cluster
            .create(&info, &secret)
            .await
            .with_context(|| format!("creating the key Secret in `{}`", args.controller_namespace))?;
        anyhow::Ok(())
    })?;
    println!(
        "created key Secret `{}/{}`; controllers pick it up for sealing on their next key reload",
        args.controller_namespace, generated.secret_name
    );
    Ok(())
}

fn format_time(time: Option<SystemTime>) -> String {
    time.and_then(|time| flotilla_sealed::x509_cert::time::Time::try_from(time).ok())
        .map_or_else(|| "-".to_string(), |time| time.to_string())
}

fn run_keys_list(args: &KeysListArgs) -> Result<()> {
    let input = args.input.as_deref();
    let text = Zeroizing::new(match &args.kubeconfig {
        Some(kubeconfig) => cluster_key_secrets(kubeconfig, &args.controller_namespace)?,
        None => read_input(input)?,
    });
    let summaries = flotilla_sealed::keys::summarize_key_secrets(&text)
        .with_context(|| format!("reading key Secrets from {}", input_name(input)))?;
    let mut rows = vec![[
        "NAME".to_string(),
        "NAMESPACE".to_string(),
        "STATUS".to_string(),
        "FINGERPRINT".to_string(),
        "NOT BEFORE".to_string(),
        "NOT AFTER".to_string(),
    ]];
    for summary in &summaries {
        rows.push([
            summary.name.clone(),
            summary.namespace.clone(),
            summary.status.clone().unwrap_or_else(|| "-".to_string()),
            summary.fingerprint.clone(),
            format_time(summary.not_before),
            format_time(summary.not_after),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    let newest = summaries
        .iter()
        .filter_map(|summary| summary.not_before)
        .max();
    let period = Duration::from_secs(u64::from(args.renewal_days) * 24 * 60 * 60);
    if flotilla_sealed::keygen::renewal_due(newest, SystemTime::now(), period) {
        out.push_str(&format!(
            "\nrenewal due: the newest key is older than {} days\n\nhint: `flotilla keys generate` makes a new key Secret; keep the old ones for unsealing\n",
            args.renewal_days
        ));
    }
    write_stdout(&out)
}

fn run_keys_generate(args: &KeysGenerateArgs) -> Result<()> {
    let options = KeyGenerationOptions {
        bits: usize::from(args.bits),
        common_name: args.common_name.clone(),
        validity: Duration::from_secs(u64::from(args.validity_days) * 24 * 60 * 60),
        namespace: args.namespace.clone(),
        name_suffix: None,
    };
    let generated = generate_key(&mut system_rng(), SystemTime::now(), &options)
        .context("generating a sealing key")?;
    if let Some(path) = &args.cert_out {
        std::fs::write(path, &generated.certificate_pem)
            .with_context(|| format!("writing certificate `{}`", path.display()))?;
    }
    write_stdout(&render(&[&generated.secret], args.output)?)
}

fn run_keys_export(args: &KeysExportArgs) -> Result<()> {
    let input = args.input.as_deref();
    let text = Zeroizing::new(match &args.kubeconfig {
        Some(kubeconfig) => cluster_key_secrets(kubeconfig, &args.controller_namespace)?,
        None => read_input(input)?,
    });
    let mut out = Zeroizing::new(String::new());
    match args.what {
        ExportWhat::PrivateKey => {
            let keys = parse_private_keys(&text)
                .with_context(|| format!("reading keys from {}", input_name(input)))?;
            for key in keys {
                let pem = key
                    .to_pkcs1_pem(LineEnding::LF)
                    .map_err(|_| anyhow!("encoding a private key as PEM"))?;
                out.push_str(&pem);
            }
        }
        ExportWhat::Certificate => {
            if text.contains("-----BEGIN ") {
                for certificate_pem in pem_certificates(&text)? {
                    out.push_str(&certificate_pem);
                }
            } else {
                let documents = flotilla_core::parse_documents(&text)
                    .with_context(|| format!("parsing {}", input_name(input)))?;
                for secret in key_secrets(documents) {
                    let encoded = secret
                        .get_str(&["data", TLS_CERTIFICATE_FIELD])
                        .ok_or_else(|| {
                            anyhow!(
                                "key Secret `{}` has no `data.{TLS_CERTIFICATE_FIELD}`",
                                secret.get_str(&["metadata", "name"]).unwrap_or("(unnamed)")
                            )
                        })?;
                    let decoded = flotilla_core::base64::decode_standard(encoded.trim())
                        .ok_or_else(|| {
                            anyhow!("`data.{TLS_CERTIFICATE_FIELD}` is not valid base64")
                        })?;
                    let pem = String::from_utf8(decoded)
                        .map_err(|_| anyhow!("`data.{TLS_CERTIFICATE_FIELD}` is not PEM text"))?;
                    for certificate_pem in pem_certificates(&pem)? {
                        out.push_str(&certificate_pem);
                    }
                }
            }
            if out.is_empty() {
                bail!("{} holds no certificate", input_name(input));
            }
        }
    }
    write_stdout(&out)
}

/// The key Secrets among `documents`, `List`s flattened.
fn key_secrets(documents: Vec<Value>) -> Vec<Value> {
    let mut secrets = Vec::new();
    for document in documents {
        match document.get_str(&["kind"]) {
            Some("Secret") => secrets.push(document),
            Some("List") => secrets.extend(
                document
                    .get_path(&["items"])
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                    .filter(|item| item.get_str(&["kind"]) == Some("Secret"))
                    .cloned(),
            ),
            _ => {}
        }
    }
    secrets
}

/// Every certificate of `text`, re-encoded as PEM (checks that each one parses).
fn pem_certificates(text: &str) -> Result<Vec<String>> {
    use flotilla_sealed::x509_cert::der::EncodePem;
    let certificates = parse_certificates(text).context("reading certificates")?;
    certificates
        .iter()
        .map(|certificate| {
            certificate
                .to_pem(LineEnding::LF)
                .map_err(|_| anyhow!("encoding a certificate as PEM"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_output_is_pretty_and_escaped() {
        let document = flotilla_core::parse_single_document(
            "a: {b: [1, true, null], c: \"x\\\"y\\n\\u0001\"}\nempty: {}\nlist: []\n",
        )
        .expect("parses");
        let mut out = String::new();
        write_json(&document, 0, &mut out).expect("writes");
        assert_eq!(
            out,
            "{\n  \"a\": {\n    \"b\": [\n      1,\n      true,\n      null\n    ],\n    \"c\": \"x\\\"y\\n\\u0001\"\n  },\n  \"empty\": {},\n  \"list\": []\n}"
        );
    }
}
