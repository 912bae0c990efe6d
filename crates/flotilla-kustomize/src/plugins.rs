//! `generators:` and `transformers:` entries naming kustomize's builtin plugins
//! (`apiVersion: builtin`), given as files, inline YAML, or kustomizations whose output is
//! plugin configs.

use flotilla_core::Value;

use crate::build::{Accumulator, BuildOptions};
use crate::error::{BuildError, Result};
use crate::kustomization::Kustomization;

/// Runs the kustomization's `generators:`.
pub fn run_generator_plugins(
    kustomization: &Kustomization,
    _options: BuildOptions<'_>,
    _accumulator: &mut Accumulator,
) -> Result<()> {
    if kustomization.has("generators") {
        return Err(BuildError::Unsupported {
            message: "generator plugins are not supported yet".to_string(),
        });
    }
    Ok(())
}

/// Runs the kustomization's `transformers:`.
pub fn run_transformer_plugins(
    kustomization: &Kustomization,
    _options: BuildOptions<'_>,
    _accumulator: &mut Accumulator,
) -> Result<()> {
    if kustomization.has("transformers") {
        return Err(BuildError::Unsupported {
            message: "transformer plugins are not supported yet".to_string(),
        });
    }
    let _ = Value::Null;
    Ok(())
}
