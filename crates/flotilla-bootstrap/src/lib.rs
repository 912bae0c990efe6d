//! flotilla-bootstrap: solution repositories from a manifest.
//!
//! A solution repository is described by its manifest, `flotilla.yaml` ([`manifest`]); the
//! generator ([`generate`], with the Tekton part in [`cicd`]) derives every other file from it,
//! asking the operator catalog ([`catalog`]) which operators, API versions, operand versions and
//! licences to write. Names are checked as Kubernetes and git check them ([`names`]).
//!
//! Invariants: generation is pure (the same manifest and pins give the same bytes); no secret
//! value is ever part of a plan or of a generated file (secrets are written sealed, by the
//! caller's sealer); a manifest the generator accepts has passed [`manifest::Solution::validate`].

pub mod catalog;
pub mod check;
pub mod cicd;
pub mod generate;
pub mod manifest;
pub mod names;
pub mod promote;
pub mod repository;
pub mod secrets;

pub use generate::{generate, Plan, Tree};
pub use manifest::Solution;
