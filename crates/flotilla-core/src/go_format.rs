//! The scalar rules of the Go libraries kustomize is built on, reproduced so output matches.
//!
//! kustomize writes each resource by encoding it to JSON (`encoding/json`) and re-encoding that
//! JSON as YAML with go-yaml v2 (through `sigs.k8s.io/yaml`). Three things follow and live here:
//! how a float looks after that round trip, which strings go-yaml v2 would read back as something
//! other than a string (so they must be quoted), and go-yaml's "natural" key order.
//! On input, go-yaml v3's scalar resolution decides what an unquoted scalar is: `resolve_plain`.

use crate::value::{Number, Value};

/// The text go-yaml v2 prints for a float that went through Go's `encoding/json` first, or
/// `None` for infinities and NaN, which `encoding/json` refuses.
pub fn float_after_json_round_trip(value: f64) -> Option<String> {
    if !value.is_finite() {
        return None;
    }
    let json_text = go_json_float(value);
    // go-yaml v2 reads the JSON number back: integers first, then floats.
    if let Ok(integer) = json_text.parse::<i64>() {
        return Some(integer.to_string());
    }
    if let Ok(integer) = json_text.parse::<u64>() {
        return Some(integer.to_string());
    }
    let reparsed: f64 = json_text.parse().ok()?;
    Some(go_format_float_g(reparsed))
}

/// Decimal digits and exponent of the shortest representation that round-trips:
/// `value == 0.d1d2d3... × 10^decimal_point`.
fn shortest_digits(value: f64) -> (String, i32) {
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("Rust's {:e} always has an exponent");
    let exponent: i32 = exponent
        .parse()
        .expect("Rust's {:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    if digits.is_empty() {
        return ("0".to_string(), 1);
    }
    (digits.to_string(), exponent + 1)
}

/// `strconv.FormatFloat(value, 'f', -1, 64)`.
fn go_format_float_f(value: f64) -> String {
    let (digits, decimal_point) = shortest_digits(value);
    let mut out = String::new();
    if value.is_sign_negative() {
        out.push('-');
    }
    if digits == "0" {
        out.push('0');
        return out;
    }
    if decimal_point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-decimal_point) as usize));
        out.push_str(&digits);
    } else if decimal_point as usize >= digits.len() {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n(
            '0',
            decimal_point as usize - digits.len(),
        ));
    } else {
        out.push_str(&digits[..decimal_point as usize]);
        out.push('.');
        out.push_str(&digits[decimal_point as usize..]);
    }
    out
}

/// `strconv.FormatFloat(value, 'e', -1, 64)`: `d.ddde±XX`, at least two exponent digits.
fn go_format_float_e(value: f64) -> String {
    let (digits, decimal_point) = shortest_digits(value);
    let mut out = String::new();
    if value.is_sign_negative() {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let exponent = if digits == "0" { 0 } else { decimal_point - 1 };
    out.push('e');
    out.push(if exponent < 0 { '-' } else { '+' });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    out.push_str(&magnitude.to_string());
    out
}

/// `strconv.FormatFloat(value, 'g', -1, 64)`: with the shortest precision Go uses `%e` when
/// the decimal exponent is below -4 or at least 6.
pub fn go_format_float_g(value: f64) -> String {
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let (_, decimal_point) = shortest_digits(value);
    let exponent = decimal_point - 1;
    if !(-4..6).contains(&exponent) {
        go_format_float_e(value)
    } else {
        go_format_float_f(value)
    }
}

/// Go `encoding/json`'s float encoding.
fn go_json_float(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let text = go_format_float_e(value);
        // encoding/json cleans up e-09 to e-9.
        if let Some(position) = text.find("e-0") {
            return format!("{}e-{}", &text[..position], &text[position + 3..]);
        }
        return text;
    }
    go_format_float_f(value)
}

/// go-yaml v2's `resolve("", text)`: whether an unquoted `text` would be read back as something
/// other than a string (YAML 1.1 rules: `yes`, `on`, `0123`, `1e3`, timestamps, ...), or is a
/// base-60 float. Such strings are written double-quoted.
pub fn v2_string_needs_quotes(text: &str) -> bool {
    let Some(first) = text.bytes().next() else {
        return true; // the empty string resolves to null
    };
    match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => {
            matches!(
                text,
                "y" | "Y"
                    | "yes"
                    | "Yes"
                    | "YES"
                    | "on"
                    | "On"
                    | "ON"
                    | "true"
                    | "True"
                    | "TRUE"
                    | "n"
                    | "N"
                    | "no"
                    | "No"
                    | "NO"
                    | "off"
                    | "Off"
                    | "OFF"
                    | "false"
                    | "False"
                    | "FALSE"
                    | "~"
                    | "null"
                    | "Null"
                    | "NULL"
            )
        }
        b'.' => {
            matches!(text, ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF")
                || go_parse_float(text).is_some()
        }
        b'+' | b'-' | b'0'..=b'9' => {
            if matches!(
                text,
                "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
            ) {
                return true;
            }
            if is_go_yaml_timestamp(text).is_some() {
                return true;
            }
            let plain = text.replace('_', "");
            if go_parse_int(&plain).is_some() || go_parse_uint(&plain).is_some() {
                return true;
            }
            if is_yaml_style_float(&plain) && go_parse_float(&plain).is_some() {
                return true;
            }
            if let Some(binary) = plain
                .strip_prefix("0b")
                .or_else(|| plain.strip_prefix("-0b"))
            {
                if !binary.is_empty() && binary.bytes().all(|b| b == b'0' || b == b'1') {
                    return true;
                }
            }
            is_base60_float(text)
        }
        _ => false,
    }
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
        i += 1;
    }
    if i >= bytes.len() || !bytes[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < bytes.len() && bytes[i] == b':' {
        i += 1;
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let group = &bytes[start..i];
        let valid = match group.len() {
            1 => true,
            2 => group[0] <= b'5',
            _ => false,
        };
        if !valid {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
            i += 1;
        }
    }
    i == bytes.len()
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    let digits_from = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
        i += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        if digits_from(&mut i) == 0 {
            return false;
        }
    } else {
        if digits_from(&mut i) == 0 {
            return false;
        }
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            digits_from(&mut i);
        }
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
            i += 1;
        }
        if digits_from(&mut i) == 0 {
            return false;
        }
    }
    i == bytes.len()
}

/// Go's `strconv.ParseFloat(text, 64)` for the decimal syntax the YAML float pattern admits.
fn go_parse_float(text: &str) -> Option<f64> {
    if text.is_empty() {
        return None;
    }
    let normalized = if let Some(rest) = text.strip_prefix('+') {
        rest
    } else {
        text
    };
    if normalized.starts_with('+') || normalized.starts_with("-+") {
        return None;
    }
    let value: f64 = normalized.parse().ok()?;
    // Go reports out of range as an error (with ±Inf); treat it as not a float.
    if value.is_infinite() {
        return None;
    }
    Some(value)
}

/// Splits Go's base-0 integer syntax (`0x`, `0o`, `0b`, leading `0` octal) into radix and digits.
fn go_integer_radix(digits: &str) -> Option<(u32, &str)> {
    if digits.is_empty() {
        return None;
    }
    let lower = |prefix: &str| {
        digits.len() > 2 && digits.as_bytes()[..2].eq_ignore_ascii_case(prefix.as_bytes())
    };
    if lower("0x") {
        Some((16, &digits[2..]))
    } else if lower("0o") {
        Some((8, &digits[2..]))
    } else if lower("0b") {
        Some((2, &digits[2..]))
    } else if digits.len() > 1 && digits.starts_with('0') {
        Some((8, &digits[1..]))
    } else {
        Some((10, digits))
    }
}

/// Go's `strconv.ParseInt(text, 0, 64)` (underscores already removed).
pub fn go_parse_int(text: &str) -> Option<i64> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = go_integer_radix(unsigned)?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        if magnitude <= i64::MAX as u64 + 1 {
            Some((magnitude as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `strconv.ParseUint(text, 0, 64)` (underscores already removed).
pub fn go_parse_uint(text: &str) -> Option<u64> {
    let text = text.strip_prefix('+').unwrap_or(text);
    let (radix, digits) = go_integer_radix(text)?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// A parsed timestamp in go-yaml's accepted layouts, rendered as Go's `time.Time` JSON encoding
/// (RFC 3339 with nanoseconds trimmed), or `None` when `text` is not such a timestamp.
pub fn is_go_yaml_timestamp(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    // All date formats start with YYYY-.
    if bytes.len() < 5 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return None;
    }
    let mut cursor = Cursor { bytes, position: 5 };
    let year: u32 = text[..4].parse().ok()?;
    let month = cursor.number(1, 2)?;
    cursor.expect(b'-')?;
    let day = cursor.number(1, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if cursor.at_end() {
        return Some(format!("{year:04}-{month:02}-{day:02}T00:00:00Z"));
    }
    let separator = cursor.next()?;
    let with_zone = match separator {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    let hour = cursor.number(1, 2)?;
    cursor.expect(b':')?;
    let minute = cursor.number(1, 2)?;
    cursor.expect(b':')?;
    let second = cursor.number(1, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut fraction = String::new();
    if cursor.peek() == Some(b'.') {
        cursor.next();
        let start = cursor.position;
        while cursor.peek().is_some_and(|b| b.is_ascii_digit()) {
            cursor.next();
        }
        if cursor.position == start {
            return None;
        }
        fraction = text[start..cursor.position].chars().take(9).collect();
        let trimmed = fraction.trim_end_matches('0');
        fraction = if trimmed.is_empty() {
            String::new()
        } else {
            format!(".{trimmed}")
        };
    }
    let zone = if with_zone {
        match cursor.next()? {
            b'Z' => "Z".to_string(),
            sign @ (b'+' | b'-') => {
                let zone_hour = cursor.number(2, 2)?;
                cursor.expect(b':')?;
                let zone_minute = cursor.number(2, 2)?;
                if zone_hour == 0 && zone_minute == 0 {
                    "Z".to_string()
                } else {
                    format!("{}{zone_hour:02}:{zone_minute:02}", sign as char)
                }
            }
            _ => return None,
        }
    } else {
        "Z".to_string()
    };
    if !cursor.at_end() {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}{zone}"
    ))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        Some(byte)
    }
    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }
    fn number(&mut self, min_digits: usize, max_digits: usize) -> Option<u32> {
        let start = self.position;
        while self.position - start < max_digits && self.peek().is_some_and(|b| b.is_ascii_digit())
        {
            self.position += 1;
        }
        if self.position - start < min_digits {
            return None;
        }
        std::str::from_utf8(&self.bytes[start..self.position])
            .ok()?
            .parse()
            .ok()
    }
}

/// go-yaml v3's resolution of an unquoted, untagged scalar (how kustomize reads input).
pub fn resolve_plain_v3(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Value::Number(Number::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Number(Number::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Number(Number::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    let first = text.as_bytes()[0];
    match first {
        b'.' => {
            if let Some(value) = go_parse_float(text).filter(|_| is_yaml_style_float(text)) {
                return Value::Number(Number::Float(value));
            }
        }
        b'+' | b'-' | b'0'..=b'9' => {
            if is_go_yaml_timestamp(text).is_some() {
                return Value::Timestamp(text.to_string());
            }
            let plain = text.replace('_', "");
            if let Some(value) = go_parse_int(&plain) {
                return Value::Number(Number::Int(value));
            }
            if let Some(value) = go_parse_uint(&plain) {
                return Value::Number(Number::Uint(value));
            }
            if is_yaml_style_float(&plain) {
                if let Some(value) = go_parse_float(&plain) {
                    return Value::Number(Number::Float(value));
                }
            }
            let (negative, unsigned) = match plain.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, plain.as_str()),
            };
            for (prefix, radix) in [("0b", 2), ("0o", 8)] {
                if let Some(digits) = unsigned.strip_prefix(prefix) {
                    if let Ok(value) = i64::from_str_radix(digits, radix) {
                        return Value::Number(Number::Int(if negative { -value } else { value }));
                    }
                }
            }
        }
        _ => {}
    }
    Value::String(text.to_string())
}

/// go-yaml's ordering of mapping keys on output: letters sort before other characters, and runs of
/// digits compare as numbers (`a2` < `a10`).
pub fn natural_key_less(a: &str, b: &str) -> bool {
    natural_key_cmp(a, b) == std::cmp::Ordering::Less
}

pub fn natural_key_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    // Keys are nearly always ASCII: compared as bytes, without collecting characters.
    if a.is_ascii() && b.is_ascii() {
        return natural_cmp_units(a.as_bytes(), b.as_bytes());
    }
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    natural_cmp_units(&ar, &br)
}

/// `natural_key_cmp` over characters, or over the bytes of ASCII texts (the same characters).
fn natural_cmp_units<C: Copy + Ord + Into<char>>(ar: &[C], br: &[C]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let less = |x: bool| if x { Ordering::Less } else { Ordering::Greater };
    let digit = |c: C| -> bool { c.into().is_ascii_digit() };
    let value = |c: C| -> i64 { c.into() as i64 - '0' as i64 };
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let a_letter = ar[i].into().is_alphabetic();
        let b_letter = br[i].into().is_alphabetic();
        if a_letter && b_letter {
            return less(ar[i] < br[i]);
        }
        if a_letter || b_letter {
            return less(b_letter);
        }
        let mut a_number: i64 = 0;
        let mut b_number: i64 = 0;
        if ar[i].into() == '0' || br[i].into() == '0' {
            let mut j = i;
            while j > 0 {
                j -= 1;
                if !digit(ar[j]) {
                    break;
                }
                if ar[j].into() != '0' {
                    a_number = 1;
                    b_number = 1;
                    break;
                }
            }
        }
        let mut a_end = i;
        while a_end < ar.len() && digit(ar[a_end]) {
            a_number = a_number.wrapping_mul(10).wrapping_add(value(ar[a_end]));
            a_end += 1;
        }
        let mut b_end = i;
        while b_end < br.len() && digit(br[b_end]) {
            b_number = b_number.wrapping_mul(10).wrapping_add(value(br[b_end]));
            b_end += 1;
        }
        if a_number != b_number {
            return less(a_number < b_number);
        }
        if a_end != b_end {
            return less(a_end < b_end);
        }
        return less(ar[i] < br[i]);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_key_order_is_the_same_over_bytes_and_characters() {
        let keys = [
            "a10", "a2", "a02", "B", "b", "_x", "a", "", "x1y", "x01y", "ä", "1", "10", "01",
        ];
        for a in keys {
            for b in keys {
                let chars: (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
                assert_eq!(
                    natural_key_cmp(a, b),
                    natural_cmp_units(&chars.0, &chars.1),
                    "{a:?} against {b:?}"
                );
            }
        }
        let mut sorted = vec!["a10", "a2", "b", "B", "a"];
        sorted.sort_by(|a, b| natural_key_cmp(a, b));
        assert_eq!(sorted, ["B", "a", "a2", "a10", "b"]);
    }

    #[test]
    fn floats_print_like_go_after_json() {
        assert_eq!(float_after_json_round_trip(1.0).as_deref(), Some("1"));
        assert_eq!(float_after_json_round_trip(1.5).as_deref(), Some("1.5"));
        assert_eq!(
            float_after_json_round_trip(std::f64::consts::PI).as_deref(),
            Some("3.141592653589793")
        );
        assert_eq!(float_after_json_round_trip(1e20).as_deref(), Some("1e+20"));
        assert_eq!(
            float_after_json_round_trip(1234567.5).as_deref(),
            Some("1.2345675e+06")
        );
        assert_eq!(
            float_after_json_round_trip(0.0001).as_deref(),
            Some("0.0001")
        );
        assert_eq!(
            float_after_json_round_trip(0.00001).as_deref(),
            Some("1e-05")
        );
        assert_eq!(float_after_json_round_trip(-0.0).as_deref(), Some("0"));
        assert_eq!(float_after_json_round_trip(f64::INFINITY), None);
    }

    #[test]
    fn strings_that_v2_would_misread_need_quotes() {
        for text in [
            "",
            "yes",
            "Y",
            "on",
            "null",
            "~",
            "123",
            "0123",
            "1.5",
            "1e3",
            "0x1F",
            "2024-01-01",
            ".inf",
            "1.10",
            "1:20",
            "-1",
            "+1",
            "1_000",
            "09",
        ] {
            assert!(v2_string_needs_quotes(text), "{text:?} should be quoted");
        }
        for text in ["abc", "a1", "1a", "-", "1.2.3", "v1.0", "2024-13-01", "e3"] {
            assert!(!v2_string_needs_quotes(text), "{text:?} should be plain");
        }
    }

    #[test]
    fn natural_order() {
        let mut keys = vec!["a10", "a2", "B", "b", "_x", "1", "10", "2", "-", "Z", "é"];
        keys.sort_by(|a, b| natural_key_cmp(a, b));
        assert_eq!(
            keys,
            vec!["-", "_x", "1", "2", "10", "B", "Z", "a2", "a10", "b", "é"]
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            is_go_yaml_timestamp("2024-01-01").as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            is_go_yaml_timestamp("2001-12-14t21:59:43.10-05:00").as_deref(),
            Some("2001-12-14T21:59:43.1-05:00")
        );
        assert_eq!(is_go_yaml_timestamp("2024-01-01x"), None);
    }
}
