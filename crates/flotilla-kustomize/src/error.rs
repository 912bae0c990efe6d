//! The renderer's error type.
//!
//! A build error says what failed and where: the file (with line and column when the YAML parser
//! knows them) and, through `Within`, the chain of kustomizations that led there.

use std::path::PathBuf;

use flotilla_core::{WriteError, YamlError};

/// Why `build` failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("`{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}`:{}:{}: {}", path.display(), error.line, error.column, error.message)]
    Yaml { path: PathBuf, error: YamlError },
    #[error("`{}` is not UTF-8 text (invalid byte at offset {offset})", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("`{}` is {size} bytes, more than the {limit}-byte limit for one file", path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("no kustomization file (kustomization.yaml, kustomization.yml or Kustomization) in `{}`", dir.display())]
    MissingKustomization { dir: PathBuf },
    #[error("found multiple kustomization files in `{}`: {names}", dir.display())]
    MultipleKustomizations { dir: PathBuf, names: String },
    #[error("invalid kustomization `{}`: {message}", path.display())]
    InvalidKustomization { path: PathBuf, message: String },
    #[error("security: file `{}` is not in or below `{}`", path.display(), root.display())]
    OutsideRoot { path: PathBuf, root: PathBuf },
    #[error("cycle detected: `{}` is already being built (via {chain})", dir.display())]
    Cycle { dir: PathBuf, chain: String },
    #[error("`{}`: {message}", path.display())]
    InvalidResource { path: PathBuf, message: String },
    #[error("{message}")]
    Transform { message: String },
    #[error("while building `{}`", kustomization.display())]
    Within {
        kustomization: PathBuf,
        #[source]
        source: Box<BuildError>,
    },
    #[error("{0}")]
    Write(#[from] WriteError),
    #[error("{message}")]
    Unsupported { message: String },
}

impl BuildError {
    pub fn transform(message: impl Into<String>) -> Self {
        BuildError::Transform {
            message: message.into(),
        }
    }

    /// Wraps the error with the kustomization being built when it happened.
    pub fn within(self, kustomization: PathBuf) -> Self {
        BuildError::Within {
            kustomization,
            source: Box::new(self),
        }
    }
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;
