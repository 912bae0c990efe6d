//! Resource quantities (`io.k8s.apimachinery.pkg.api.resource.Quantity`) in their canonical
//! form, as kube-apiserver stores them: a built-in object is decoded into its Go type and
//! encoded again, so `cpu: 1000m` is stored as `"1"`, `memory: 1024Mi` as `"1Gi"`, `0.5` as
//! `"500m"` and the number `2` as the string `"2"`. Custom resources are not touched (they are
//! stored as sent), as in kube-apiserver.
//!
//! The canonical form keeps the format the value was written in (binary `Ki`…`Ei`, decimal
//! `n`…`E`, or an exponent `e3`), then chooses the largest suffix that loses no precision:
//! decimal exponents are multiples of 3 with an integer mantissa; a binary value that is not a
//! whole number, or is smaller than 1024, is written in decimal; values are rounded up to a
//! multiple of 10⁻⁹; binary values are capped at 2⁶³−1. Text that kube's parser finds canonical
//! already on its 64-bit fast path is kept exactly as written (`+1`, `1.500`, `1E3`, `100Mi`).
//!
//! Known differences: mantissas are held in 128 bits and exponents within ±1000, so a quantity
//! beyond that (over about 38 digits) is refused where kube-apiserver would accept it; a JSON
//! number is read as serde_json prints it (`1e3` arrives as `1000.0`), not as its raw text.
//!
//! Invariant: canonicalising is idempotent, and a value that is not a valid quantity is an
//! error naming its path, never a panic.

use flotilla_patch::SchemaNode;
use serde_json::Value;

/// The definition whose values are quantities.
const QUANTITY_DEFINITION: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// kube-apiserver's words for a malformed quantity.
pub const QUANTITY_SYNTAX: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// The three notations a quantity keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// `Ki`, `Mi`, … (powers of 1024).
    BinarySi,
    /// `n`, `u`, `m`, none, `k`, `M`, … (powers of 1000).
    DecimalSi,
    /// `e<n>` / `E<n>`.
    DecimalExponent,
}

/// Why a text is not a quantity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("{QUANTITY_SYNTAX}")]
    Syntax,
    #[error("quantity is beyond what this server handles (more than 38 significant digits, or an exponent beyond ±1000): write it with fewer digits or a larger suffix")]
    TooLarge,
}

/// The text kube-apiserver stores for a quantity written as `text`.
pub fn canonical(text: &str) -> Result<String, QuantityError> {
    // kube trims the JSON string before parsing it.
    let text = text.trim();
    if text.is_empty() {
        return Err(QuantityError::Syntax);
    }
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    // Leading zeros are dropped; no digits at all read as 0 (kube accepts `.`, `m`, `e3`).
    let rest = rest.trim_start_matches('0');
    let whole_length = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (whole, after_whole) = rest.split_at(whole_length);
    let whole = if whole.is_empty() { "0" } else { whole };
    let (fraction, suffix) = match after_whole.strip_prefix('.') {
        Some(after_point) => {
            let fraction_length = after_point.bytes().take_while(u8::is_ascii_digit).count();
            after_point.split_at(fraction_length)
        }
        None => ("", after_whole),
    };
    let (format, suffix_exponent, binary_shift) = parse_suffix(suffix)?;
    if already_canonical(whole, fraction, format, suffix_exponent, binary_shift) {
        return Ok(text.to_string());
    }
    // The mantissa is every significant digit; the decimal point moves the exponent.
    let mut mantissa: u128 = 0;
    let fraction = fraction.trim_end_matches('0');
    for digit in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|value| value.checked_add(u128::from(digit - b'0')))
            .ok_or(QuantityError::TooLarge)?;
    }
    let fraction_digits = i64::try_from(fraction.len()).map_err(|_| QuantityError::TooLarge)?;
    let mut exponent = suffix_exponent - fraction_digits;
    mantissa = mantissa
        .checked_mul(1u128 << binary_shift)
        .ok_or(QuantityError::TooLarge)?;
    // Round away from zero to a multiple of 10⁻⁹ ("if you ask for some, you get some").
    if exponent < -9 {
        let digits_dropped = u32::try_from(-9 - exponent).unwrap_or(u32::MAX);
        mantissa = match 10u128.checked_pow(digits_dropped) {
            Some(divisor) => mantissa.div_ceil(divisor),
            None => u128::from(mantissa > 0),
        };
        exponent = -9;
    }
    if mantissa == 0 {
        return Ok("0".to_string());
    }
    let sign = if negative { "-" } else { "" };
    let magnitude = match format {
        Format::BinarySi => match binary_whole_value(mantissa, exponent) {
            Some(whole_value) => base_1024(whole_value),
            None => base_1000(mantissa, exponent, Format::DecimalSi)?,
        },
        _ => base_1000(mantissa, exponent, format)?,
    };
    Ok(format!("{sign}{magnitude}"))
}

/// kube-apiserver keeps the text as written when its parser's 64-bit fast path finds it
/// canonical already: a decimal of at most 18 significant digits (leading zeros dropped), a
/// scale that is a multiple of 3 and at least -9, and digits that neither start with `0` nor end
/// in `000` (`1500m`, `1.500`, `+1`, `01`, `1E3`, `1.`); a whole binary number of a few digits
/// that is not a multiple of 8 (`100Mi`, `+1Ki`).
fn already_canonical(
    whole: &str,
    fraction: &str,
    format: Format,
    suffix_exponent: i64,
    binary_shift: u32,
) -> bool {
    match format {
        Format::DecimalSi | Format::DecimalExponent => {
            let scale = suffix_exponent - fraction.len() as i64;
            let digits = format!("{whole}{fraction}");
            digits.len() <= 18
                && scale >= -9
                && scale % 3 == 0
                && !digits.starts_with('0')
                && !digits.ends_with("000")
        }
        Format::BinarySi => {
            // kube's precision estimate for that fast path: 15 digits, less those of the
            // number, less about 0.3 per power of two of the suffix, less one.
            let precision = 15 - whole.len() as i64 - i64::from(binary_shift * 3 / 10) - 1;
            if !fraction.is_empty() || precision < 0 {
                return false;
            }
            let Ok(value) = whole.parse::<i64>() else {
                return false;
            };
            value.checked_mul(1i64 << binary_shift).is_some() && value & 7 != 0
        }
    }
}

/// The suffix's notation, its power of ten, and its power of two (binary suffixes).
fn parse_suffix(suffix: &str) -> Result<(Format, i64, u32), QuantityError> {
    let decimal = |exponent| Ok((Format::DecimalSi, exponent, 0));
    let binary = |shift| Ok((Format::BinarySi, 0, shift));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exponent = suffix
                .strip_prefix(['e', 'E'])
                .ok_or(QuantityError::Syntax)?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(QuantityError::Syntax);
            }
            // kube reads the exponent as a 32-bit number.
            let exponent: i32 = exponent.parse().map_err(|_| QuantityError::Syntax)?;
            if exponent.unsigned_abs() > 1000 {
                return Err(QuantityError::TooLarge);
            }
            Ok((Format::DecimalExponent, i64::from(exponent), 0))
        }
    }
}

/// A binary quantity's value when it is a whole number of at least 1024, capped at 2⁶³−1 (kube
/// caps binary values first, fractions included); `None` means it is written in decimal.
fn binary_whole_value(mantissa: u128, exponent: i64) -> Option<u128> {
    const CAP: u128 = i64::MAX as u128;
    if exponent >= 0 {
        let whole = u32::try_from(exponent)
            .ok()
            .and_then(|exponent| 10u128.checked_pow(exponent))
            .and_then(|scale| mantissa.checked_mul(scale))
            .unwrap_or(u128::MAX);
        return (whole >= 1024).then(|| whole.min(CAP));
    }
    let divisor = u32::try_from(-exponent)
        .ok()
        .and_then(|digits| 10u128.checked_pow(digits))?;
    let (floor, remainder) = (mantissa / divisor, mantissa % divisor);
    if floor > CAP || (floor == CAP && remainder > 0) {
        return Some(CAP);
    }
    (remainder == 0 && floor >= 1024).then_some(floor)
}

/// `value` with the largest binary suffix that keeps it whole.
fn base_1024(mut value: u128) -> String {
    const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut power = 0;
    while power + 1 < SUFFIXES.len() && value.is_multiple_of(1024) {
        value /= 1024;
        power += 1;
    }
    format!("{value}{}", SUFFIXES[power])
}

/// `mantissa × 10^exponent` with an integer mantissa and the largest exponent that is a multiple
/// of three, written with an SI suffix or as `e<n>`.
fn base_1000(
    mut mantissa: u128,
    mut exponent: i64,
    format: Format,
) -> Result<String, QuantityError> {
    while mantissa.is_multiple_of(10) {
        mantissa /= 10;
        exponent += 1;
    }
    let remainder = exponent.rem_euclid(3);
    mantissa = mantissa
        .checked_mul(10u128.pow(remainder as u32))
        .ok_or(QuantityError::TooLarge)?;
    exponent -= remainder;
    let suffix = match (format, exponent) {
        (Format::DecimalExponent, 0) => String::new(),
        (Format::DecimalExponent, _) => format!("e{exponent}"),
        (_, -9) => "n".to_string(),
        (_, -6) => "u".to_string(),
        (_, -3) => "m".to_string(),
        (_, 0) => String::new(),
        (_, 3) => "k".to_string(),
        (_, 6) => "M".to_string(),
        (_, 9) => "G".to_string(),
        (_, 12) => "T".to_string(),
        (_, 15) => "P".to_string(),
        (_, 18) => "E".to_string(),
        (_, _) => format!("e{exponent}"),
    };
    Ok(format!("{mantissa}{suffix}"))
}

/// Rewrites every quantity in `value` (described by `node`, a built-in definition) in canonical
/// form. A number where a quantity belongs becomes its canonical string. The error names the
/// field, e.g. `spec.containers[0].resources.limits.cpu: quantities must match …`.
pub fn canonicalize(value: &mut Value, node: SchemaNode<'_>) -> Result<(), String> {
    if !may_hold_quantities(node) {
        return Ok(());
    }
    let mut path = String::new();
    walk(value, node, &mut path)
}

/// Whether a quantity can appear anywhere below `node` (not in a ConfigMap, say): worked out
/// once per definition, so objects of such kinds are not walked at all.
fn may_hold_quantities(node: SchemaNode<'_>) -> bool {
    use std::collections::{HashMap, HashSet};
    use std::sync::{Mutex, OnceLock};
    static KNOWN: OnceLock<Mutex<HashMap<usize, bool>>> = OnceLock::new();
    let known = KNOWN.get_or_init(|| Mutex::new(HashMap::new()));
    let identity = node.identity();
    if let Some(answer) = known
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&identity)
    {
        return *answer;
    }
    // Depth first over the definitions reachable from `node`; recursive ones visited once.
    let mut seen = HashSet::from([identity]);
    let mut pending = vec![node];
    let mut found = false;
    while let Some(next) = pending.pop() {
        if next.is_definition(QUANTITY_DEFINITION) {
            found = true;
            break;
        }
        for child in next.children() {
            if seen.insert(child.identity()) {
                pending.push(child);
            }
        }
    }
    known
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(identity, found);
    found
}

fn walk(value: &mut Value, node: SchemaNode<'_>, path: &mut String) -> Result<(), String> {
    if node.is_definition(QUANTITY_DEFINITION) {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            // Not a quantity at all: left for the type checks that exist (none here).
            _ => return Ok(()),
        };
        let canonical_text = canonical(&text).map_err(|error| format!("{path}: {error}"))?;
        *value = Value::String(canonical_text);
        return Ok(());
    }
    let length = path.len();
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                // Object metadata holds no quantities; it is the largest part of most objects.
                if length == 0 && key == "metadata" {
                    continue;
                }
                let Some(child_node) = node.field(key) else {
                    continue;
                };
                if length > 0 {
                    path.push('.');
                }
                path.push_str(key);
                let result = walk(child, child_node, path);
                path.truncate(length);
                result?;
            }
        }
        Value::Array(items) => {
            let Some(item_node) = node.elements() else {
                return Ok(());
            };
            for (index, item) in items.iter_mut().enumerate() {
                use std::fmt::Write as _;
                let _ = write!(path, "[{index}]");
                let result = walk(item, item_node, path);
                path.truncate(length);
                result?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/quantity/canonical.txt`: `input => canonical` or `input => error`, one a line.
    #[test]
    fn canonical_forms_match_the_vectors() {
        let vectors = include_str!("../tests/quantity/canonical.txt");
        let mut checked = 0;
        for (number, line) in vectors.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (input, expected) = line
                .split_once("=>")
                .unwrap_or_else(|| panic!("line {}: no `=>`", number + 1));
            let (input, expected) = (input.trim(), expected.trim());
            let got = canonical(input);
            match expected {
                "error" => assert!(got.is_err(), "line {}: {input} gave {got:?}", number + 1),
                _ => {
                    assert_eq!(got.as_deref(), Ok(expected), "line {}: {input}", number + 1);
                    // Idempotent: the canonical form is its own canonical form.
                    assert_eq!(canonical(expected).as_deref(), Ok(expected), "{expected}");
                }
            }
            checked += 1;
        }
        assert!(checked > 40, "only {checked} vectors");
    }

    #[test]
    fn only_kinds_that_can_hold_quantities_are_walked() {
        let schema = flotilla_patch::Schema::builtin();
        for (api_version, kind, expected) in [
            ("v1", "ConfigMap", false),
            ("v1", "Secret", false),
            ("apps/v1", "Deployment", true),
            ("v1", "ResourceQuota", true),
            ("v1", "PersistentVolumeClaim", true),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition", false),
        ] {
            let node = schema.resource(api_version, kind).expect("defined");
            assert_eq!(may_hold_quantities(node), expected, "{kind}");
        }
    }

    #[test]
    fn a_deployment_has_its_quantities_rewritten_and_nothing_else() {
        let node = flotilla_patch::Schema::builtin()
            .resource("apps/v1", "Deployment")
            .expect("Deployment is defined");
        let mut deployment = serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {"cpu": "1000m"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{
                "name": "web",
                "image": "web:1.0",
                "resources": {"limits": {"cpu": "1000m", "memory": "1024Mi"},
                              "requests": {"cpu": 0.5, "memory": "1.5Gi"}}
            }]}}}
        });
        canonicalize(&mut deployment, node).expect("valid");
        let resources = &deployment["spec"]["template"]["spec"]["containers"][0]["resources"];
        assert_eq!(
            resources,
            &serde_json::json!({"limits": {"cpu": "1", "memory": "1Gi"},
                                "requests": {"cpu": "500m", "memory": "1536Mi"}})
        );
        assert_eq!(deployment["metadata"]["annotations"]["cpu"], "1000m");
        assert_eq!(deployment["spec"]["replicas"], 2);

        deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] =
            serde_json::json!("one");
        let error = canonicalize(&mut deployment, node).expect_err("invalid");
        assert!(
            error.starts_with(
                "spec.template.spec.containers[0].resources.limits.cpu: quantities must match"
            ),
            "{error}"
        );
    }
}
