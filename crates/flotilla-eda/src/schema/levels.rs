//! Compatibility levels with the registries' meaning (Confluent Schema Registry, Apicurio):
//! which earlier versions the newest schema is checked against, and in which direction.
//!
//! - BACKWARD: the new schema can read data written with the previous one (the new schema is
//!   the reader, the previous one the writer); consumers upgrade first.
//! - FORWARD: the previous schema can read data written with the new one; producers upgrade
//!   first.
//! - FULL: both.
//! - `*_TRANSITIVE`: against every earlier version, not only the previous one (checked newest
//!   first, as the registries do).
//! - NONE: no check.

use std::fmt;
use std::str::FromStr;

/// A subject's compatibility level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Level {
    None,
    /// The registries' default.
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Level {
    pub const ALL: [Level; 7] = [
        Level::None,
        Level::Backward,
        Level::BackwardTransitive,
        Level::Forward,
        Level::ForwardTransitive,
        Level::Full,
        Level::FullTransitive,
    ];

    /// The registries' name (`BACKWARD_TRANSITIVE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "NONE",
            Level::Backward => "BACKWARD",
            Level::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Level::Forward => "FORWARD",
            Level::ForwardTransitive => "FORWARD_TRANSITIVE",
            Level::Full => "FULL",
            Level::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Whether the new schema must read the earlier versions' data.
    pub fn backward(self) -> bool {
        matches!(
            self,
            Level::Backward | Level::BackwardTransitive | Level::Full | Level::FullTransitive
        )
    }

    /// Whether the earlier versions must read the new schema's data.
    pub fn forward(self) -> bool {
        matches!(
            self,
            Level::Forward | Level::ForwardTransitive | Level::Full | Level::FullTransitive
        )
    }

    /// Whether every earlier version counts, not only the previous one.
    pub fn transitive(self) -> bool {
        matches!(
            self,
            Level::BackwardTransitive | Level::ForwardTransitive | Level::FullTransitive
        )
    }

    /// The indexes of the versions the newest of `count` versions is checked against, newest
    /// first (empty for NONE and for a single version).
    pub fn earlier_versions(self, count: usize) -> Vec<usize> {
        let newest = match count.checked_sub(1) {
            Some(newest) => newest,
            None => return Vec::new(),
        };
        if self == Level::None {
            Vec::new()
        } else if self.transitive() {
            (0..newest).rev().collect()
        } else {
            newest.checked_sub(1).into_iter().collect()
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A level name that is none of the seven.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown compatibility level `{0}` (NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    /// The registries' names, in any case, with `-` for `_` accepted.
    fn from_str(text: &str) -> Result<Level, UnknownLevel> {
        let wanted = text.trim().to_ascii_uppercase().replace('-', "_");
        Level::ALL
            .into_iter()
            .find(|level| level.as_str() == wanted)
            .ok_or_else(|| UnknownLevel(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_choose_versions_and_directions() {
        assert_eq!(Level::Backward.earlier_versions(3), vec![1]);
        assert_eq!(Level::FullTransitive.earlier_versions(3), vec![1, 0]);
        assert!(Level::None.earlier_versions(3).is_empty());
        assert!(Level::Backward.earlier_versions(1).is_empty());
        assert!(Level::Full.backward() && Level::Full.forward());
        assert!(!Level::Forward.backward());
        assert_eq!(
            "backward-transitive".parse::<Level>(),
            Ok(Level::BackwardTransitive)
        );
        assert!("sideways".parse::<Level>().is_err());
    }
}
