//! flotilla-kustomize: a renderer that produces what `kubectl kustomize` (kustomize v5.5.0)
//! produces, byte for byte, without leaving the process.
//!
//! Entry points: `build` (resources) and `build_to_yaml` (kustomize's output text).
//! The renderer reads only the local file system, under `LoadRestrictor` rules; remote bases come
//! through a `Fetcher`.

pub mod build;
pub mod config;
pub mod crds;
pub mod error;
pub mod fieldspec;
pub mod generators;
pub mod kinds;
pub mod kustomization;
pub mod loader;
pub mod nameref;
pub mod origin;
pub mod patches;
pub mod plugins;
pub mod replacements;
pub mod resource;
pub mod selector;
pub mod sort;
pub mod transformers;
pub mod vars;

pub use build::{build, build_to_yaml, BuildOptions};
pub use error::BuildError;
pub use loader::{Fetcher, LoadRestrictor};
