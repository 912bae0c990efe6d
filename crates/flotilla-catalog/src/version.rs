//! Operator versions and ranges as OLM reads them: semantic versions compared numerically part
//! by part (a pre-release sorts before its release), and ranges written as space-separated
//! constraints (`>=3.0.0 <3.1.0`, OLM's `olm.skipRange` form); `||` separates alternatives.

use std::cmp::Ordering;

fn split(version: &str) -> (Vec<u64>, Option<&str>) {
    let version = version.trim().trim_start_matches('v');
    let version = version.split('+').next().unwrap_or(version);
    let (release, pre_release) = match version.split_once('-') {
        Some((release, pre_release)) => (release, Some(pre_release)),
        None => (version, None),
    };
    let parts = release
        .split('.')
        .map(|part| part.parse::<u64>().unwrap_or(0))
        .collect();
    (parts, pre_release)
}

/// Compares two versions (`3.0.10` after `3.0.9`; `1.0.0-rc1` before `1.0.0`; missing parts
/// are 0).
pub fn compare_versions(left: &str, right: &str) -> Ordering {
    let (left_parts, left_pre) = split(left);
    let (right_parts, right_pre) = split(right);
    let length = left_parts.len().max(right_parts.len());
    for index in 0..length {
        let left_part = left_parts.get(index).copied().unwrap_or(0);
        let right_part = right_parts.get(index).copied().unwrap_or(0);
        match left_part.cmp(&right_part) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    match (left_pre, right_pre) {
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(left), Some(right)) => left.cmp(right),
    }
}

/// Whether `version` satisfies `range` (`>=3.0.0 <3.1.0`, `=3.0.1`, `3.0.1`, `*`).
pub fn version_in_range(version: &str, range: &str) -> bool {
    range.split("||").any(|alternative| {
        alternative.split_whitespace().all(|constraint| {
            let (operator, bound) = match constraint {
                "*" => return true,
                _ if constraint.starts_with(">=") => (">=", &constraint[2..]),
                _ if constraint.starts_with("<=") => ("<=", &constraint[2..]),
                _ if constraint.starts_with('>') => (">", &constraint[1..]),
                _ if constraint.starts_with('<') => ("<", &constraint[1..]),
                _ if constraint.starts_with('=') => ("=", &constraint[1..]),
                _ => ("=", constraint),
            };
            let ordering = compare_versions(version, bound);
            match operator {
                ">=" => ordering.is_ge(),
                "<=" => ordering.is_le(),
                ">" => ordering.is_gt(),
                "<" => ordering.is_lt(),
                _ => ordering.is_eq(),
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(compare_versions("3.0.10", "3.0.9").is_gt());
        assert!(compare_versions("v1.8.0", "1.8").is_eq());
        assert!(compare_versions("1.0.0-rc1", "1.0.0").is_lt());
        assert!(compare_versions("11.0.0", "3.9.9").is_gt());
    }

    #[test]
    fn ranges_are_space_separated_constraints() {
        assert!(version_in_range("3.0.4", ">=3.0.0 <3.1.0"));
        assert!(!version_in_range("3.1.0", ">=3.0.0 <3.1.0"));
        assert!(version_in_range("2.5.1", ">=3.0.0 || 2.5.1"));
        assert!(version_in_range("9.9.9", "*"));
    }
}
