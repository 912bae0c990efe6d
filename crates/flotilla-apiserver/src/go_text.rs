//! Texts that kube-apiserver's Go libraries put into its error messages, reproduced so a refused
//! write reads as kube-apiserver's would: `time.Parse`'s errors for the RFC 3339 layouts of
//! `metav1.Time` and `metav1.MicroTime`, the offset `encoding/base64` reports for bad input,
//! and `fmt`'s renderings of decoded JSON values (`%v` and `%+v` of a `map[string]interface{}`,
//! `%#v`, `%q`).
//!
//! Invariant: every function here is total: any input gives a text, never a panic.

use serde_json::{Map, Number, Value};

/// `time.RFC3339`, the layout `metav1.Time` parses.
pub const RFC3339: &str = "2006-01-02T15:04:05Z07:00";
/// `metav1.RFC3339Micro`, the layout `metav1.MicroTime` parses.
pub const RFC3339_MICRO: &str = "2006-01-02T15:04:05.000000Z07:00";

/// One element of a time layout, as Go's `nextStdChunk` splits it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Element {
    LongYear,
    ZeroMonth,
    ZeroDay,
    Hour,
    ZeroMinute,
    ZeroSecond,
    /// `.000000`: exactly this many fractional digits.
    Fraction(usize),
    ZoneColon,
}

impl Element {
    fn text(self) -> &'static str {
        match self {
            Element::LongYear => "2006",
            Element::ZeroMonth => "01",
            Element::ZeroDay => "02",
            Element::Hour => "15",
            Element::ZeroMinute => "04",
            Element::ZeroSecond => "05",
            Element::Fraction(_) => ".000000",
            Element::ZoneColon => "Z07:00",
        }
    }
}

/// `(prefix, element)` chunks of the two layouts.
fn chunks(micro: bool) -> &'static [(&'static str, Element)] {
    const PLAIN: &[(&str, Element)] = &[
        ("", Element::LongYear),
        ("-", Element::ZeroMonth),
        ("-", Element::ZeroDay),
        ("T", Element::Hour),
        (":", Element::ZeroMinute),
        (":", Element::ZeroSecond),
        ("", Element::ZoneColon),
    ];
    const MICRO: &[(&str, Element)] = &[
        ("", Element::LongYear),
        ("-", Element::ZeroMonth),
        ("-", Element::ZeroDay),
        ("T", Element::Hour),
        (":", Element::ZeroMinute),
        (":", Element::ZeroSecond),
        ("", Element::Fraction(6)),
        ("", Element::ZoneColon),
    ];
    if micro {
        MICRO
    } else {
        PLAIN
    }
}

fn digit_at(text: &[u8], index: usize) -> bool {
    text.get(index).is_some_and(u8::is_ascii_digit)
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn two_digits(text: &[u8], fixed: bool) -> Option<(u32, &[u8])> {
    if !digit_at(text, 0) {
        return None;
    }
    if !digit_at(text, 1) {
        if fixed {
            return None;
        }
        return Some((u32::from(text[0] - b'0'), &text[1..]));
    }
    Some((
        u32::from(text[0] - b'0') * 10 + u32::from(text[1] - b'0'),
        &text[2..],
    ))
}

fn days_in(month: u32, year: i64) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Why `value` is not a time in the layout of `metav1.Time` (or `metav1.MicroTime` when
/// `micro`), in the words of Go's `time.Parse`; `None` when it parses.
pub fn time_parse_error(value: &str, micro: bool) -> Option<String> {
    let layout = if micro { RFC3339_MICRO } else { RFC3339 };
    let failed = |element: &str, rest: &[u8]| {
        Some(format!(
            "parsing time {} as {}: cannot parse {} as {}",
            time_quote(value),
            time_quote(layout),
            time_quote(&String::from_utf8_lossy(rest)),
            time_quote(element)
        ))
    };
    let out_of_range = |what: &str| {
        Some(format!(
            "parsing time {}: {what} out of range",
            time_quote(value)
        ))
    };
    let mut rest = value.as_bytes();
    let mut year: i64 = 0;
    let mut month = 0;
    let mut day = 0;
    let elements = chunks(micro);
    for (position, (prefix, element)) in elements.iter().enumerate() {
        for expected in prefix.bytes() {
            if rest.first() != Some(&expected) {
                return failed(prefix, rest);
            }
            rest = &rest[1..];
        }
        let hold = rest;
        let parsed: Option<&[u8]> = match element {
            Element::LongYear => {
                if rest.len() < 4 || !rest[..4].iter().all(u8::is_ascii_digit) {
                    None
                } else {
                    year = rest[..4]
                        .iter()
                        .fold(0, |total, digit| total * 10 + i64::from(digit - b'0'));
                    Some(&rest[4..])
                }
            }
            Element::ZeroMonth => two_digits(rest, true).map(|(value, next)| {
                month = value;
                next
            }),
            Element::ZeroDay => two_digits(rest, true).map(|(value, next)| {
                day = value;
                next
            }),
            Element::Hour => match two_digits(rest, false) {
                Some((hour, _)) if hour >= 24 => return out_of_range("hour"),
                other => other.map(|(_, next)| next),
            },
            Element::ZeroMinute => match two_digits(rest, true) {
                Some((minute, _)) if minute >= 60 => return out_of_range("minute"),
                other => other.map(|(_, next)| next),
            },
            Element::ZeroSecond => match two_digits(rest, true) {
                Some((second, _)) if second >= 60 => return out_of_range("second"),
                Some((_, mut next)) => {
                    // A fraction the layout does not have is read anyway.
                    let layout_has_fraction =
                        matches!(elements.get(position + 1), Some((_, Element::Fraction(_))));
                    if !layout_has_fraction
                        && next.len() >= 2
                        && (next[0] == b'.' || next[0] == b',')
                        && digit_at(next, 1)
                    {
                        let digits = next[1..].iter().take_while(|b| b.is_ascii_digit()).count();
                        next = &next[1 + digits..];
                    }
                    Some(next)
                }
                None => None,
            },
            Element::Fraction(digits) => {
                if rest.len() < 1 + digits
                    || !(rest[0] == b'.' || rest[0] == b',')
                    || !rest[1..=*digits].iter().all(u8::is_ascii_digit)
                {
                    None
                } else {
                    Some(&rest[1 + digits..])
                }
            }
            Element::ZoneColon => {
                if rest.first() == Some(&b'Z') {
                    Some(&rest[1..])
                } else if rest.len() < 6 || rest[3] != b':' {
                    None
                } else {
                    let hours = two_digits(&rest[1..3], true);
                    let minutes = two_digits(&rest[4..6], true);
                    match (hours, minutes) {
                        (Some((hours, _)), _) if hours > 24 => {
                            return out_of_range("time zone offset hour")
                        }
                        (_, Some((minutes, _))) if minutes > 60 => {
                            return out_of_range("time zone offset minute")
                        }
                        (Some(_), Some(_)) if rest[0] == b'+' || rest[0] == b'-' => {
                            Some(&rest[6..])
                        }
                        _ => None,
                    }
                }
            }
        };
        if element == &Element::ZeroMonth && parsed.is_some() && !(1..=12).contains(&month) {
            return out_of_range("month");
        }
        match parsed {
            Some(next) => rest = next,
            None => return failed(element.text(), hold),
        }
    }
    if !rest.is_empty() {
        let extra = String::from_utf8_lossy(rest);
        return Some(format!(
            "parsing time {}: extra text: {}",
            time_quote(value),
            time_quote(&extra)
        ));
    }
    if day < 1 || day > days_in(month, year) {
        return out_of_range("day");
    }
    None
}

/// The `quote` of Go's time package: `\xNN` for bytes outside printable ASCII.
fn time_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        if character.is_ascii() && !character.is_ascii_control() {
            if character == '"' || character == '\\' {
                quoted.push('\\');
            }
            quoted.push(character);
        } else {
            let mut buffer = [0u8; 4];
            for byte in character.encode_utf8(&mut buffer).bytes() {
                quoted.push_str(&format!("\\x{byte:02x}"));
            }
        }
    }
    quoted.push('"');
    quoted
}

/// The byte offset Go's `base64.StdEncoding.Decode` reports for `text`
/// (`illegal base64 data at input byte N`), or `None` when it decodes.
pub fn base64_error_offset(text: &str) -> Option<usize> {
    let source = text.as_bytes();
    let valid = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/';
    let newline = |byte: u8| byte == b'\n' || byte == b'\r';
    let mut index = 0;
    loop {
        // One quantum of four characters, newlines skipped.
        let mut count = 0;
        while count < 4 {
            if index == source.len() {
                return match count {
                    0 => None,
                    _ => Some(index - count),
                };
            }
            let byte = source[index];
            index += 1;
            if valid(byte) {
                count += 1;
                continue;
            }
            if newline(byte) {
                continue;
            }
            if byte != b'=' {
                return Some(index - 1);
            }
            // Padding.
            match count {
                0 | 1 => return Some(index - 1),
                2 => {
                    while index < source.len() && newline(source[index]) {
                        index += 1;
                    }
                    if index == source.len() {
                        return Some(source.len());
                    }
                    if source[index] != b'=' {
                        return Some(index - 1);
                    }
                    index += 1;
                }
                _ => {}
            }
            while index < source.len() && newline(source[index]) {
                index += 1;
            }
            return if index < source.len() {
                Some(index)
            } else {
                None
            };
        }
    }
}

/// `strconv.Quote`, as `%q` prints a string.
pub fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\u{7}' => quoted.push_str("\\a"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{b}' => quoted.push_str("\\v"),
            control if (control as u32) < 0x20 || control as u32 == 0x7f => {
                quoted.push_str(&format!("\\x{:02x}", control as u32))
            }
            control if (0x80..0xa0).contains(&(control as u32)) => {
                quoted.push_str(&format!("\\u{:04x}", control as u32))
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// A JSON number as Go's `%v` prints the `int64` or `float64` a decoder made of it.
pub fn number(value: &Number) -> String {
    if let Some(integer) = value.as_i64() {
        return integer.to_string();
    }
    if let Some(unsigned) = value.as_u64() {
        // Too large for int64: Go's decoder made a float64 of it.
        return float(unsigned as f64);
    }
    float(value.as_f64().unwrap_or(0.0))
}

/// `%v` of a `float64` (`%g` with the shortest digits): exponent form below 1e-4 and from 1e6.
pub fn float(value: f64) -> String {
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    if !value.is_finite() {
        return if value.is_nan() {
            "NaN".to_string()
        } else if value > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `1.5e3`.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponents are integers");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!(
            "{sign}{first}{fraction}e{exponent_sign}{:02}",
            exponent.abs()
        );
    }
    let point = exponent + 1;
    if point <= 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-point) as usize));
    }
    let point = point as usize;
    if digits.len() <= point {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

/// `%v` (and `%+v`, the same for maps) of a decoded JSON value: `map[a:1 b:[x y]]`, keys
/// sorted as `fmt` sorts map keys.
pub fn plain(value: &Value) -> String {
    let mut text = String::new();
    write_plain(value, &mut text);
    text
}

fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|left, right| left.0.cmp(right.0));
    entries
}

fn write_plain(value: &Value, text: &mut String) {
    match value {
        Value::Null => text.push_str("<nil>"),
        Value::Bool(flag) => text.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number_value) => text.push_str(&number(number_value)),
        Value::String(string) => text.push_str(string),
        Value::Array(items) => {
            text.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    text.push(' ');
                }
                write_plain(item, text);
            }
            text.push(']');
        }
        Value::Object(map) => {
            text.push_str("map[");
            for (index, (key, item)) in sorted(map).into_iter().enumerate() {
                if index > 0 {
                    text.push(' ');
                }
                text.push_str(key);
                text.push(':');
                write_plain(item, text);
            }
            text.push(']');
        }
    }
}

/// `%#v` of a decoded JSON value held in an `interface{}`: `"x"`, `3`,
/// `map[string]interface {}{"a":"b"}`, `[]interface {}{"x"}`.
pub fn go_syntax(value: &Value) -> String {
    let mut text = String::new();
    write_go_syntax(value, &mut text, false);
    text
}

fn write_go_syntax(value: &Value, text: &mut String, nested: bool) {
    match value {
        Value::Null if nested => text.push_str("interface {}(nil)"),
        Value::Null => text.push_str("<nil>"),
        Value::Bool(flag) => text.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number_value) => text.push_str(&number(number_value)),
        Value::String(string) => text.push_str(&quote(string)),
        Value::Array(items) => {
            text.push_str("[]interface {}{");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    text.push_str(", ");
                }
                write_go_syntax(item, text, true);
            }
            text.push('}');
        }
        Value::Object(map) => {
            text.push_str("map[string]interface {}{");
            for (index, (key, item)) in sorted(map).into_iter().enumerate() {
                if index > 0 {
                    text.push_str(", ");
                }
                text.push_str(&quote(key));
                text.push(':');
                write_go_syntax(item, text, true);
            }
            text.push('}');
        }
    }
}

/// `%#v` of a `map[string]string` (labels), `map[string]string(nil)` when absent.
pub fn string_map(labels: Option<&Map<String, Value>>) -> String {
    let Some(labels) = labels else {
        return "map[string]string(nil)".to_string();
    };
    let entries: Vec<String> = sorted(labels)
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                other => plain(other),
            };
            format!("{}:{}", quote(key), quote(&value))
        })
        .collect();
    format!("map[string]string{{{}}}", entries.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_errors_read_as_go_writes_them() {
        let cases: &[(&str, bool, Option<&str>)] = &[
            ("2024-02-29T10:00:00Z", false, None),
            ("2024-02-29T10:00:00.123+02:00", false, None),
            ("2024-01-01T1:00:00Z", false, None),
            ("2024-01-01T00:00:00.123456Z", true, None),
            (
                "yesterday",
                false,
                Some(
                    r#"parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006""#,
                ),
            ),
            (
                "",
                false,
                Some(
                    r#"parsing time "" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "2006""#,
                ),
            ),
            (
                "2024-01-01",
                false,
                Some(
                    r#"parsing time "2024-01-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T""#,
                ),
            ),
            (
                "2024-13-01T00:00:00Z",
                false,
                Some(r#"parsing time "2024-13-01T00:00:00Z": month out of range"#),
            ),
            (
                "2023-02-29T00:00:00Z",
                false,
                Some(r#"parsing time "2023-02-29T00:00:00Z": day out of range"#),
            ),
            (
                "2024-01-01 00:00:00Z",
                false,
                Some(
                    r#"parsing time "2024-01-01 00:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse " 00:00:00Z" as "T""#,
                ),
            ),
            (
                "2024-01-01T00:00:00",
                false,
                Some(
                    r#"parsing time "2024-01-01T00:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00""#,
                ),
            ),
            (
                "2024-01-01T00:00:00Zjunk",
                false,
                Some(r#"parsing time "2024-01-01T00:00:00Zjunk": extra text: "junk""#),
            ),
            (
                "2024-01-01T00:00:00Z",
                true,
                Some(
                    r#"parsing time "2024-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000""#,
                ),
            ),
        ];
        for (value, micro, expected) in cases {
            assert_eq!(
                time_parse_error(value, *micro).as_deref(),
                *expected,
                "{value}"
            );
        }
    }

    #[test]
    fn base64_offsets_are_go_s() {
        let cases: &[(&str, Option<usize>)] = &[
            ("", None),
            ("aGVsbG8=", None),
            ("aGVs\nbG8=", None),
            ("aGVsbA==", None),
            ("hello!", Some(5)),
            ("aGVsbG8", Some(4)),
            ("a", Some(0)),
            ("aGVsbA=", Some(7)),
            ("aGVsbA=x", Some(6)),
            ("aGVsbG8=aGVs", Some(8)),
            ("=abc", Some(0)),
        ];
        for (text, expected) in cases {
            assert_eq!(base64_error_offset(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn values_print_as_fmt_prints_them() {
        let patch = json!({"spec": {"replicas": "x", "b": [1, 2.5], "a": null, "t": true}});
        assert_eq!(
            plain(&patch),
            "map[spec:map[a:<nil> b:[1 2.5] replicas:x t:true]]"
        );
        assert_eq!(
            go_syntax(&json!({"b": [1, "x"], "a": null})),
            r#"map[string]interface {}{"a":interface {}(nil), "b":[]interface {}{1, "x"}}"#
        );
        assert_eq!(float(1e21), "1e+21");
        assert_eq!(float(123456.0), "123456");
        assert_eq!(float(1234567.0), "1.234567e+06");
        assert_eq!(float(1099511627776.0), "1.099511627776e+12");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(0.00001), "1e-05");
        assert_eq!(float(-2.5), "-2.5");
        assert_eq!(quote("a\"b\n"), r#""a\"b\n""#);
        let labels = json!({"tier": "web", "app": "x"});
        assert_eq!(
            string_map(labels.as_object()),
            r#"map[string]string{"app":"x", "tier":"web"}"#
        );
        assert_eq!(string_map(None), "map[string]string(nil)");
    }
}
