//! flotilla-patch: the three ways kustomize (and the Kubernetes API) patch an object, over
//! `flotilla_core::Value`.
//!
//! - `schema`: patch strategies and merge keys from an OpenAPI v2 document; the Kubernetes
//!   v1.21.2 document kustomize v5.5 embeds is built in.
//! - `strategic`: strategic merge patch exactly as `kubectl kustomize` (v5.5) applies it.
//! - `json_patch`: JSON patch (RFC 6902) with the semantics of the library kustomize uses.
//! - `json_patch_text`: reading a JSON patch's text as kustomize does (YAML 1.1 rules for YAML).
//! - `merge_patch`: JSON merge patch (RFC 7386).
//! - `kustomize`: the steps kustomize's `patches:` transformer adds around them that change results.
//!
//! This crate does no I/O.

pub mod json_patch;
pub mod json_patch_text;
pub mod kustomize;
pub mod merge_patch;
pub mod schema;
pub mod strategic;

pub use json_patch::{json_patch, JsonPatchError};
pub use json_patch_text::{parse_json_patch, JsonPatchTextError};
pub use merge_patch::merge_patch;
pub use schema::{Schema, SchemaError, SchemaNode};
pub use strategic::{strategic_merge, MergeOutcome, StrategicMergeError};
