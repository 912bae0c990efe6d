//! `flotilla install`: the manifests that run the controller in a cluster, printed. They are the
//! `deploy/` tree of the source (embedded at build time by `build.rs`), built by flotilla's own
//! kustomize: `--replicas 1` is `deploy/overlays/single`, more is `deploy/overlays/ha`, and the
//! output of an unchanged overlay is byte for byte `kubectl kustomize deploy/overlays/…`. Another
//! replica count, namespace or image is a kustomization laid over the overlay (`replicas`,
//! `images`, a namespace transformer that moves the ServiceAccount subjects of the bindings too),
//! built from memory like the rest.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use flotilla_kustomize::loader::{EntryKind, FileSystem};

include!(concat!(env!("OUT_DIR"), "/deploy_files.rs"));

/// The namespace, Deployment and image the `deploy/` tree names.
const NAMESPACE: &str = "flotilla";
const DEPLOYMENT: &str = "flotilla-controller";
const IMAGE: &str = "flotilla";
/// Where the embedded tree sits in the in-memory file system the build reads.
const ROOT: &str = "/flotilla-install";

/// `flotilla install`
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Controller replicas: 1 prints `deploy/overlays/single`, more `deploy/overlays/ha` (3 as it is)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub replicas: u32,
    /// Namespace of the controller, its ServiceAccount, control objects and sealing keys
    #[arg(short = 'n', long, default_value = NAMESPACE)]
    pub namespace: String,
    /// Controller image (`registry/name:tag` or `registry/name@sha256:…`), in place of `flotilla:<version>`
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Output format: YAML documents (as `kubectl kustomize` prints them) or a JSON `List`
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    pub output: InstallOutput,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InstallOutput {
    Yaml,
    Json,
}

pub fn run(args: &InstallArgs) -> Result<()> {
    let text = render(args)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to standard output")
}

/// The manifests `args` ask for, as text.
pub fn render(args: &InstallArgs) -> Result<String> {
    check_namespace(&args.namespace)?;
    let (overlay, overlay_replicas) = if args.replicas == 1 {
        ("single", 1)
    } else {
        ("ha", 3)
    };
    let mut files = MemoryFiles::default();
    for (path, text) in DEPLOY_FILES {
        files.insert(&format!("{ROOT}/deploy/{path}"), text);
    }
    let kustomization = install_kustomization(args, overlay, overlay_replicas)?;
    let directory = match &kustomization {
        None => PathBuf::from(format!("{ROOT}/deploy/overlays/{overlay}")),
        Some((kustomization, transformer)) => {
            files.insert(&format!("{ROOT}/install/kustomization.yaml"), kustomization);
            if let Some(transformer) = transformer {
                files.insert(&format!("{ROOT}/install/namespace.yaml"), transformer);
            }
            PathBuf::from(format!("{ROOT}/install"))
        }
    };
    let options = flotilla_kustomize::BuildOptions {
        load_restrictor: flotilla_kustomize::LoadRestrictor::RootOnly,
        fetcher: None,
        file_system: Some(&files),
    };
    let built = flotilla_kustomize::build(&directory, options)
        .with_context(|| format!("building the embedded `deploy/overlays/{overlay}`"))?;
    match args.output {
        InstallOutput::Yaml => {
            let documents: Vec<_> = built.iter().map(|resource| &resource.object).collect();
            flotilla_core::write_documents(documents).context("writing the manifests as YAML")
        }
        InstallOutput::Json => {
            let items: Vec<serde_json::Value> = built
                .iter()
                .map(|resource| flotilla_core::to_json(&resource.object))
                .collect();
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
            Ok(
                serde_json::to_string_pretty(&list).context("writing the manifests as JSON")?
                    + "\n",
            )
        }
    }
}

/// The kustomization laid over the overlay (and the namespace transformer it names), or None
/// when the overlay is printed as it is.
fn install_kustomization(
    args: &InstallArgs,
    overlay: &str,
    overlay_replicas: u32,
) -> Result<Option<(String, Option<String>)>> {
    let moved = args.namespace != NAMESPACE;
    if args.replicas == overlay_replicas && args.image.is_none() && !moved {
        return Ok(None);
    }
    let mut text = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../deploy/overlays/{overlay}\n"
    );
    if args.replicas != overlay_replicas {
        text.push_str(&format!(
            "replicas:\n- name: {DEPLOYMENT}\n  count: {}\n",
            args.replicas
        ));
    }
    if let Some(image) = &args.image {
        text.push_str(&format!("images:\n- name: {IMAGE}\n"));
        for (field, value) in image_fields(image)? {
            text.push_str(&format!("  {field}: {}\n", quoted(&value)));
        }
    }
    let transformer = moved.then(|| {
        text.push_str(&format!(
            "transformers:\n- namespace.yaml\npatches:\n- target:\n    kind: Namespace\n    name: {NAMESPACE}\n  patch: |-\n    - op: replace\n      path: /metadata/name\n      value: {}\n",
            args.namespace
        ));
        // `namespace:` would leave the bindings' subjects in `flotilla`; the transformer with
        // `allServiceAccounts` moves them with the ServiceAccount.
        format!(
            "apiVersion: builtin\nkind: NamespaceTransformer\nmetadata:\n  name: install\n  namespace: {}\nsetRoleBindingSubjects: allServiceAccounts\nfieldSpecs:\n- path: metadata/namespace\n  create: true\n",
            args.namespace
        )
    });
    Ok(Some((text, transformer)))
}

/// A Kubernetes namespace name (an RFC 1123 label), or an error saying why not.
fn check_namespace(namespace: &str) -> Result<()> {
    let valid = !namespace.is_empty()
        && namespace.len() <= 63
        && namespace
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !namespace.starts_with('-')
        && !namespace.ends_with('-');
    if !valid {
        bail!("`{namespace}` is not a namespace name\n\nhint: a namespace is at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit");
    }
    Ok(())
}

/// `newName`, `newTag` and `digest` of kustomize's image override for `image`.
fn image_fields(image: &str) -> Result<Vec<(&'static str, String)>> {
    let (reference, digest) = match image.split_once('@') {
        Some((reference, digest)) => (reference, Some(digest)),
        None => (image, None),
    };
    // A tag follows the last `:` after the last `/` (`registry:5000/name` has a port, no tag).
    let name_start = reference.rfind('/').map_or(0, |slash| slash + 1);
    let (name, tag) = match reference[name_start..].rfind(':') {
        Some(colon) => (
            &reference[..name_start + colon],
            Some(&reference[name_start + colon + 1..]),
        ),
        None => (reference, None),
    };
    let bad = name.is_empty()
        || name.chars().any(char::is_whitespace)
        || tag.is_some_and(str::is_empty)
        || digest.is_some_and(|digest| !digest.contains(':'));
    if bad {
        bail!("`{image}` is not an image reference\n\nhint: give `--image` as `registry/name:tag` or `registry/name@sha256:…`");
    }
    let mut fields = vec![("newName", name.to_string())];
    if let Some(tag) = tag {
        fields.push(("newTag", tag.to_string()));
    }
    if let Some(digest) = digest {
        fields.push(("digest", digest.to_string()));
    }
    Ok(fields)
}

/// A YAML double-quoted scalar (a tag such as `1.10` stays a string).
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Files held in memory: the embedded `deploy/` tree and the install kustomization.
#[derive(Default)]
struct MemoryFiles {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemoryFiles {
    fn insert(&mut self, path: &str, text: &str) {
        self.files
            .insert(PathBuf::from(path), text.as_bytes().to_vec());
    }

    fn is_directory(&self, path: &Path) -> bool {
        self.files
            .keys()
            .any(|file| file != path && file.starts_with(path))
    }
}

/// `path` with `.` and `..` resolved without touching any disk.
fn normal(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

fn not_found(path: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("`{}` is not in the embedded install tree", path.display()),
    )
}

impl FileSystem for MemoryFiles {
    fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf> {
        let normal = normal(path);
        match self.kind(&normal) {
            Some(_) => Ok(normal),
            None => Err(not_found(path)),
        }
    }

    fn kind(&self, path: &Path) -> Option<EntryKind> {
        let path = normal(path);
        if let Some(bytes) = self.files.get(&path) {
            return Some(EntryKind::File {
                len: bytes.len() as u64,
            });
        }
        self.is_directory(&path).then_some(EntryKind::Directory)
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.files
            .get(&normal(path))
            .cloned()
            .ok_or_else(|| not_found(path))
    }

    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<(String, EntryKind)>> {
        let directory = normal(path);
        if !self.is_directory(&directory) {
            return Err(not_found(path));
        }
        let mut entries: BTreeMap<String, EntryKind> = BTreeMap::new();
        for (file, bytes) in &self.files {
            let Ok(rest) = file.strip_prefix(&directory) else {
                continue;
            };
            let mut components = rest.components();
            let Some(first) = components.next() else {
                continue;
            };
            let name = first.as_os_str().to_string_lossy().to_string();
            let kind = if components.next().is_some() {
                EntryKind::Directory
            } else {
                EntryKind::File {
                    len: bytes.len() as u64,
                }
            };
            entries.insert(name, kind);
        }
        Ok(entries.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let fields = |image: &str| image_fields(image).expect("valid");
        assert_eq!(fields("flotilla"), [("newName", "flotilla".to_string())]);
        assert_eq!(
            fields("registry:5000/team/flotilla:1.10"),
            [
                ("newName", "registry:5000/team/flotilla".to_string()),
                ("newTag", "1.10".to_string())
            ]
        );
        assert_eq!(
            fields("ghcr.io/x/flotilla@sha256:abc"),
            [
                ("newName", "ghcr.io/x/flotilla".to_string()),
                ("digest", "sha256:abc".to_string())
            ]
        );
        assert!(image_fields("flotilla:").is_err());
        assert!(image_fields("").is_err());
    }

    #[test]
    fn namespace_names() {
        assert!(check_namespace("gitops-1").is_ok());
        for bad in ["", "-x", "x-", "Flotilla", "a.b", &"x".repeat(64)] {
            assert!(check_namespace(bad).is_err(), "{bad}");
        }
    }
}
