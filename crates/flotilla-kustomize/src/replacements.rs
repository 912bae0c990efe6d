//! `replacements`: copy a field of one object into fields of others.

use std::path::Path;

use flotilla_core::Value;

use crate::build::BuildOptions;
use crate::error::{BuildError, Result};
use crate::resource::ResMap;

/// A `replacements:` entry (inline or `path:` to a file of replacements).
pub fn replacement_entry(
    _dir: &Path,
    _entry: &Value,
    _options: BuildOptions<'_>,
    _resources: &mut ResMap,
) -> Result<()> {
    Err(BuildError::Unsupported {
        message: "replacements are not supported yet".to_string(),
    })
}
