//! flotilla-patch: the three ways kustomize (and the Kubernetes API) patch an object, over
//! `flotilla_core::Value`.
//!
//! - `schema`: patch strategies and merge keys from an OpenAPI v2 document; the Kubernetes
//!   v1.21.2 document kustomize v5.5 embeds is built in.
//! - `strategic`: strategic merge patch exactly as `kubectl kustomize` (v5.5) applies it.
//! - `server_strategic`: strategic merge patch as the Kubernetes API server (apimachinery) applies it.
//! - `json_patch`: JSON patch (RFC 6902) with the semantics of the library kustomize uses.
//! - `json_patch_text`: reading a JSON patch's text as kustomize does (YAML 1.1 rules for YAML).
//! - `merge_patch`: JSON merge patch (RFC 7386) as the Kubernetes tools apply it.
//! - `kustomize`: the steps kustomize's `patches:` transformer adds around them that change results.
//!
//! This crate does no I/O.
//!
//! ```
//! use flotilla_core::parse_single_document;
//! use flotilla_patch::{json_patch, parse_json_patch, strategic_merge, MergeOutcome, Schema};
//!
//! let target = parse_single_document(
//!     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: a:1\n",
//! )?;
//! let patch = parse_single_document(
//!     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: b\n    image: b:1\n",
//! )?;
//! let MergeOutcome::Merged(merged) = strategic_merge(&target, &patch, Schema::builtin())? else {
//!     unreachable!("the patch does not delete the pod")
//! };
//! // Containers merge by name; the patch's new container comes first, as in kustomize.
//! let names: Vec<_> = merged.get_path(&["spec", "containers"]).and_then(|c| c.as_sequence())
//!     .map(|c| c.iter().filter_map(|c| c.get_str(&["name"])).collect())
//!     .unwrap_or_default();
//! assert_eq!(names, ["b", "a"]);
//!
//! let operations = parse_json_patch("- op: replace\n  path: /spec/containers/0/image\n  value: b:2\n")?;
//! let patched = json_patch(&merged, &operations)?;
//! assert_eq!(patched.get_path(&["spec", "containers"]).and_then(|c| c.as_sequence())
//!     .and_then(|c| c[0].get_str(&["image"])), Some("b:2"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod json_patch;
pub mod json_patch_text;
pub mod kustomize;
pub mod merge_patch;
pub mod schema;
pub mod server_strategic;
pub mod strategic;

pub use json_patch::{json_patch, JsonPatchError};
pub use json_patch_text::{parse_json_patch, JsonPatchTextError};
pub use merge_patch::merge_patch;
pub use schema::{Schema, SchemaError, SchemaNode};
pub use server_strategic::{server_strategic_merge, ServerStrategicMergeError};
pub use strategic::{strategic_merge, MergeOutcome, StrategicMergeError};
