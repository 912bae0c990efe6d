//! flotilla-core: the object tree every flotilla crate works on and its YAML form.
//!
//! - `value`: `Value`, an ordered JSON-like tree, `Mapping`, and `Written` (how a scalar was
//!   written, where kustomize's result depends on it).
//! - `yaml_read`: YAML/JSON text to `Value`s with go-yaml v3's semantics (what kustomize reads).
//! - `yaml_write`: `Value`s to text exactly as `kubectl kustomize` prints them.
//! - `go_format`: the Go scalar rules both directions depend on.
//! - `base64`: the encoding of Secret data.
//! - `label_selector`: Kubernetes label selector syntax.
//! - `rbac`: RBAC policy rules, the rules bindings give a user, and what one rule set grants
//!   beyond another.
//!
//! This crate does no I/O.

pub mod base64;
pub mod go_format;
pub mod json;
pub mod label_selector;
pub mod rbac;
pub mod time;
pub mod value;
pub mod yaml_read;
pub mod yaml_write;

pub use json::{from_json, to_json};
pub use value::{Mapping, Number, Value, Written};
pub use yaml_read::{
    parse_documents, parse_documents_with, parse_single_document, parse_single_document_with,
    DuplicateKeys, SourceText, YamlError,
};
pub use yaml_write::{write_document, write_documents, WriteError};
