//! The string formats a CRD schema's `format` enforces, as kube-apiserver checks them: the
//! formats apiextensions-apiserver keeps (every other `format`, `int32` and `int64` among them, is
//! dropped from the schema before validation, so it checks nothing) with the checks kube-openapi's
//! `strfmt` registry runs for them. Names are compared as `strfmt` compares them, without `-`
//! (`date-time` is `datetime`).
//!
//! Two checks are close readings rather than ports: `email` (Go's `net/mail.ParseAddress`:
//! an address with an optional display name, comments not accepted) and `uri` (Go's
//! `net/url.ParseRequestURI`: an absolute URI or an absolute path, escapes and the authority
//! checked).

use std::net::Ipv6Addr;
use std::sync::OnceLock;

use regex::Regex;

/// A format apiextensions-apiserver keeps in a CRD schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    BsonObjectId,
    Uri,
    Email,
    Hostname,
    Ipv4,
    Ipv6,
    Cidr,
    Mac,
    Uuid,
    Uuid3,
    Uuid4,
    Uuid5,
    Isbn,
    Isbn10,
    Isbn13,
    CreditCard,
    Ssn,
    HexColor,
    RgbColor,
    Byte,
    Password,
    Date,
    Duration,
    DateTime,
}

/// The format a schema's `format` names, if kube-apiserver checks it (`-` ignored, case kept).
pub fn known(format: &str) -> Option<Format> {
    let mut buffer = [0u8; 16];
    let mut length = 0;
    for byte in format.bytes().filter(|byte| *byte != b'-') {
        if length == buffer.len() {
            return None;
        }
        buffer[length] = byte;
        length += 1;
    }
    let format = match &buffer[..length] {
        b"bsonobjectid" => Format::BsonObjectId,
        b"uri" => Format::Uri,
        b"email" => Format::Email,
        b"hostname" => Format::Hostname,
        b"ipv4" => Format::Ipv4,
        b"ipv6" => Format::Ipv6,
        b"cidr" => Format::Cidr,
        b"mac" => Format::Mac,
        b"uuid" => Format::Uuid,
        b"uuid3" => Format::Uuid3,
        b"uuid4" => Format::Uuid4,
        b"uuid5" => Format::Uuid5,
        b"isbn" => Format::Isbn,
        b"isbn10" => Format::Isbn10,
        b"isbn13" => Format::Isbn13,
        b"creditcard" => Format::CreditCard,
        b"ssn" => Format::Ssn,
        b"hexcolor" => Format::HexColor,
        b"rgbcolor" => Format::RgbColor,
        b"byte" => Format::Byte,
        b"password" => Format::Password,
        b"date" => Format::Date,
        b"duration" => Format::Duration,
        b"datetime" => Format::DateTime,
        _ => return None,
    };
    Some(format)
}

/// Whether `text` is valid in `format`.
pub fn validates(format: Format, text: &str) -> bool {
    match format {
        Format::BsonObjectId => text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit()),
        Format::Uri => is_request_uri(text),
        Format::Email => is_email(text),
        Format::Hostname => is_hostname(text),
        Format::Ipv4 => parse_ip_sloppy(text) && text.contains('.'),
        Format::Ipv6 => parse_ip(text) && text.contains(':'),
        Format::Cidr => is_cidr(text),
        Format::Mac => is_mac(text),
        Format::Uuid => uuid(0).is_match(text),
        Format::Uuid3 => uuid(3).is_match(text),
        Format::Uuid4 => uuid(4).is_match(text),
        Format::Uuid5 => uuid(5).is_match(text),
        Format::Isbn => is_isbn10(text) || is_isbn13(text),
        Format::Isbn10 => is_isbn10(text),
        Format::Isbn13 => is_isbn13(text),
        Format::CreditCard => is_credit_card(text),
        Format::Ssn => is_ssn(text),
        Format::HexColor => is_hex_color(text),
        Format::RgbColor => rgb_color().is_match(text),
        Format::Byte => is_base64(text),
        Format::Password => true,
        Format::Date => is_date(text),
        Format::Duration => is_duration(text),
        Format::DateTime => is_date_time(text),
    }
}

fn compiled(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("the format patterns are valid"))
}

/// strfmt's UUID patterns; `version` 0 is any version.
fn uuid(version: u8) -> &'static Regex {
    static ANY: OnceLock<Regex> = OnceLock::new();
    static V3: OnceLock<Regex> = OnceLock::new();
    static V4: OnceLock<Regex> = OnceLock::new();
    static V5: OnceLock<Regex> = OnceLock::new();
    match version {
        3 => compiled(
            &V3,
            "(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
        ),
        4 => compiled(
            &V4,
            "(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
        ),
        5 => compiled(
            &V5,
            "(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
        ),
        _ => compiled(
            &ANY,
            "(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
        ),
    }
}

fn rgb_color() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    const PART: &str = "(0|[1-9][0-9]?|1[0-9][0-9]?|2[0-4][0-9]|25[0-5])";
    const SPACE: &str = "[\\t\\n\\f\\r ]*";
    CELL.get_or_init(|| {
        let pattern =
            format!("^rgb\\({SPACE}{PART}{SPACE},{SPACE}{PART}{SPACE},{SPACE}{PART}{SPACE}\\)$");
        Regex::new(&pattern).expect("the rgbcolor pattern is valid")
    })
}

/// strfmt's `HostnamePattern`, then at most 255 bytes and labels of at most 63.
fn is_hostname(text: &str) -> bool {
    static CELL: OnceLock<Regex> = OnceLock::new();
    let pattern = compiled(
        &CELL,
        r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9\-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$",
    );
    pattern.is_match(text) && text.len() <= 255 && text.split('.').all(|label| label.len() <= 63)
}

fn is_credit_card(text: &str) -> bool {
    static CELL: OnceLock<Regex> = OnceLock::new();
    let pattern = compiled(
        &CELL,
        "^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35[0-9]{3})[0-9]{11})$",
    );
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if !pattern.is_match(&digits) {
        return false;
    }
    let mut sum = 0u32;
    for (position, digit) in digits.bytes().rev().enumerate() {
        let mut value = u32::from(digit - b'0');
        if position % 2 == 1 {
            value *= 2;
            if value >= 10 {
                value = value % 10 + 1;
            }
        }
        sum += value;
    }
    sum.is_multiple_of(10)
}

/// Go's `\s` (ASCII) and `-`, which govalidator removes before checking an ISBN.
fn isbn_digits(text: &str) -> Vec<u8> {
    text.bytes()
        .filter(|byte| !matches!(byte, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'-'))
        .collect()
}

fn is_isbn10(text: &str) -> bool {
    let digits = isbn_digits(text);
    if digits.len() != 10
        || !digits[..9].iter().all(u8::is_ascii_digit)
        || !(digits[9].is_ascii_digit() || digits[9] == b'X')
    {
        return false;
    }
    let mut checksum: u32 = (0..9)
        .map(|index| (index as u32 + 1) * u32::from(digits[index] - b'0'))
        .sum();
    checksum += 10
        * if digits[9] == b'X' {
            10
        } else {
            u32::from(digits[9] - b'0')
        };
    checksum.is_multiple_of(11)
}

fn is_isbn13(text: &str) -> bool {
    let digits = isbn_digits(text);
    if digits.len() != 13 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let checksum: u32 = (0..12)
        .map(|index| [1, 3][index % 2] * u32::from(digits[index] - b'0'))
        .sum();
    u32::from(digits[12] - b'0') == (10 - checksum % 10) % 10
}

fn is_ssn(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 11
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            3 | 6 => matches!(byte, b'-' | b' '),
            _ => byte.is_ascii_digit(),
        })
}

fn is_hex_color(text: &str) -> bool {
    let digits = text.strip_prefix('#').unwrap_or(text);
    (digits.len() == 3 || digits.len() == 6) && digits.bytes().all(|b| b.is_ascii_hexdigit())
}

/// govalidator's base64 pattern: groups of four, the last one padded or not; never empty.
fn is_base64(text: &str) -> bool {
    let bytes = text.as_bytes();
    let alphabet = |byte: &u8| byte.is_ascii_alphanumeric() || *byte == b'+' || *byte == b'/';
    if bytes.len() < 4 || !bytes.len().is_multiple_of(4) {
        return false;
    }
    let (body, last) = bytes.split_at(bytes.len() - 4);
    body.iter().all(alphabet)
        && match last {
            [a, b, b'=', b'='] => alphabet(a) && alphabet(b),
            [a, b, c, b'='] => alphabet(a) && alphabet(b) && alphabet(c),
            group => group.iter().all(alphabet),
        }
}

/// Go's `net.ParseIP` with `k8s.io/utils/net`'s sloppy IPv4 (leading zeros allowed).
fn parse_ip_sloppy(text: &str) -> bool {
    parse_ipv4_sloppy(text) || text.parse::<Ipv6Addr>().is_ok()
}

fn parse_ip(text: &str) -> bool {
    text.parse::<std::net::Ipv4Addr>().is_ok() || text.parse::<Ipv6Addr>().is_ok()
}

fn parse_ipv4_sloppy(text: &str) -> bool {
    let mut parts = 0;
    for part in text.split('.') {
        parts += 1;
        if part.is_empty() || part.len() > 9 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if part.parse::<u32>().map_or(true, |value| value > 255) {
            return false;
        }
    }
    parts == 4
}

fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };
    let bits = if parse_ipv4_sloppy(address) {
        32
    } else if address.parse::<Ipv6Addr>().is_ok() {
        128
    } else {
        return false;
    };
    !prefix.is_empty()
        && prefix.len() <= 10
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && prefix.parse::<u32>().is_ok_and(|length| length <= bits)
}

/// Go's `net.ParseMAC`: 6, 8 or 20 octets as `aa:bb…`, `aa-bb…` or `aabb.ccdd…`.
fn is_mac(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < 14 {
        return false;
    }
    let octets_allowed = |count: usize| matches!(count, 6 | 8 | 20);
    if bytes[2] == b':' || bytes[2] == b'-' {
        if !(bytes.len() + 1).is_multiple_of(3) || !octets_allowed((bytes.len() + 1) / 3) {
            return false;
        }
        let separator = bytes[2];
        bytes.chunks(3).all(|chunk| {
            chunk[0].is_ascii_hexdigit()
                && chunk[1].is_ascii_hexdigit()
                && (chunk.len() == 2 || chunk[2] == separator)
        })
    } else if bytes[4] == b'.' {
        if !(bytes.len() + 1).is_multiple_of(5) || !octets_allowed(2 * (bytes.len() + 1) / 5) {
            return false;
        }
        bytes.chunks(5).all(|chunk| {
            chunk[..4].iter().all(u8::is_ascii_hexdigit) && (chunk.len() == 4 || chunk[4] == b'.')
        })
    } else {
        false
    }
}

/// Go's `time.Parse("2006-01-02", text)`.
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &bytes[range];
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |sum, b| sum * 10 + u32::from(b - b'0')))
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    if !(1..=12).contains(&month) || day == 0 {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= days
}

/// strfmt's `IsDateTime`: the text lower-cased and split at every `t`; the first part a date,
/// the second `hh:mm:ss`, an optional fraction and `z` or an offset.
fn is_date_time(text: &str) -> bool {
    if text.len() < 4 {
        return false;
    }
    // Lower-casing matters only to `T` and `Z`; the rest is digits and punctuation.
    let mut parts = text.split(['t', 'T']);
    let (Some(date), Some(time)) = (parts.next(), parts.next()) else {
        return false;
    };
    if !is_date(date) {
        return false;
    }
    // `^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$`
    let bytes = time.as_bytes();
    let two_digits = |at: usize| {
        bytes
            .get(at..at + 2)
            .filter(|pair| pair.iter().all(u8::is_ascii_digit))
    };
    let (Some(hour), Some(minute), Some(second)) = (two_digits(0), two_digits(3), two_digits(6))
    else {
        return false;
    };
    if bytes.get(2) != Some(&b':') || bytes.get(5) != Some(&b':') {
        return false;
    }
    let zone = |rest: &str| {
        let rest = rest.as_bytes();
        matches!(rest, [b'z' | b'Z'])
            || (rest.len() == 6
                && matches!(rest[0], b'+' | b'-')
                && rest[1].is_ascii_digit()
                && rest[2].is_ascii_digit()
                && rest[3] == b':'
                && rest[4].is_ascii_digit()
                && rest[5].is_ascii_digit())
    };
    let rest = &time[8..];
    let fraction_then_zone = || {
        let mut chars = rest.chars();
        let Some(first) = chars.next().filter(|first| *first != '\n') else {
            return false;
        };
        let after = &rest[first.len_utf8()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && zone(&after[digits..])
    };
    (zone(rest) || fraction_then_zone())
        && hour <= b"23".as_slice()
        && minute <= b"59".as_slice()
        && second <= b"59".as_slice()
}

/// strfmt's `ParseDuration`: Go's `time.ParseDuration`, or else any `<digits> <unit>` in the
/// text with a unit strfmt knows (`5 days`, `3 wk`).
fn is_duration(text: &str) -> bool {
    if go_parse_duration(text) {
        return true;
    }
    let bytes = text.as_bytes();
    let mut index = 0;
    let mut matched = false;
    while index < bytes.len() {
        if !bytes[index].is_ascii_digit() {
            index += text[index..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let digits_start = index;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            index += 1;
        }
        let digits = &text[digits_start..index];
        let mut unit_start = index;
        while unit_start < bytes.len()
            && matches!(bytes[unit_start], b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
        {
            unit_start += 1;
        }
        let unit_end = text[unit_start..]
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphabetic() || *c == '\u{b5}'))
            .map_or(text.len(), |(offset, _)| unit_start + offset);
        if unit_end == unit_start {
            // No unit: the regexp would retry from the next digit.
            index = digits_start + 1;
            continue;
        }
        if digits.parse::<i64>().is_err() {
            return false;
        }
        let unit = text[unit_start..unit_end].to_lowercase();
        const UNITS: [&[&str]; 8] = [
            &["ns", "nano"],
            &["us", "\u{b5}s", "micro"],
            &["ms", "milli"],
            &["s", "sec"],
            &["m", "min"],
            &["h", "hr", "hour"],
            &["d", "day"],
            &["w", "wk", "week"],
        ];
        for variants in UNITS {
            let last = variants.len() - 1;
            for (position, variant) in variants.iter().enumerate() {
                if (position == last && unit.starts_with(variant)) || unit == *variant {
                    matched = true;
                }
            }
        }
        index = unit_end;
    }
    matched
}

/// Go's `time.ParseDuration` succeeds: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with Go's units and
/// overflow checks, or `0`.
fn go_parse_duration(text: &str) -> bool {
    let mut rest = text;
    let negative = rest.starts_with('-');
    if rest.starts_with('-') || rest.starts_with('+') {
        rest = &rest[1..];
    }
    if rest == "0" {
        return true;
    }
    if rest.is_empty() {
        return false;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let bytes = rest.as_bytes();
        if !(bytes[0] == b'.' || bytes[0].is_ascii_digit()) {
            return false;
        }
        let integer_end = bytes
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(bytes.len());
        let mut value: u64 = 0;
        for digit in &bytes[..integer_end] {
            if value > (1 << 63) / 10 {
                return false;
            }
            value = value * 10 + u64::from(digit - b'0');
            if value > 1 << 63 {
                return false;
            }
        }
        let mut position = integer_end;
        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut has_fraction = false;
        if position < bytes.len() && bytes[position] == b'.' {
            position += 1;
            let fraction_start = position;
            let mut overflow = false;
            while position < bytes.len() && bytes[position].is_ascii_digit() {
                if !overflow {
                    if fraction > ((1u64 << 63) - 1) / 10 {
                        overflow = true;
                    } else {
                        let next = fraction * 10 + u64::from(bytes[position] - b'0');
                        if next > 1 << 63 {
                            overflow = true;
                        } else {
                            fraction = next;
                            scale *= 10.0;
                        }
                    }
                }
                position += 1;
            }
            has_fraction = position > fraction_start;
        }
        if integer_end == 0 && !has_fraction {
            return false;
        }
        let unit_end = rest[position..]
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(offset, _)| position + offset);
        let unit: u64 = match &rest[position..unit_end] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return false,
        };
        if value > (1 << 63) / unit {
            return false;
        }
        value *= unit;
        if fraction > 0 {
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > 1 << 63 {
                return false;
            }
        }
        total = match total.checked_add(value) {
            Some(sum) if sum <= 1 << 63 => sum,
            _ => return false,
        };
        rest = &rest[unit_end..];
    }
    negative || total < 1 << 63
}

/// Go's `net/url.ParseRequestURI` succeeds: `*`, an absolute URI or an absolute path; no control
/// characters, `%` escapes well formed, the authority's user information, host and port valid.
fn is_request_uri(text: &str) -> bool {
    if text.is_empty() || text.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return false;
    }
    if text == "*" {
        return true;
    }
    let (scheme, mut rest) = match url_scheme(text) {
        Ok(parts) => parts,
        Err(()) => return false,
    };
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        rest = &rest[..rest.len() - 1];
    } else if let Some((before, _query)) = rest.split_once('?') {
        rest = before;
    }
    if !rest.starts_with('/') {
        return !scheme.is_empty();
    }
    if !scheme.is_empty() && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, path) = match after.find('/') {
            Some(index) => after.split_at(index),
            None => (after, ""),
        };
        if !valid_authority(authority) {
            return false;
        }
        rest = path;
    }
    unescapes(rest, Escape::Path)
}

fn url_scheme(text: &str) -> Result<(&str, &str), ()> {
    for (index, byte) in text.bytes().enumerate() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if index > 0 => {}
            b':' if index == 0 => return Err(()),
            b':' => return Ok((&text[..index], &text[index + 1..])),
            _ => return Ok(("", text)),
        }
    }
    Ok(("", text))
}

fn valid_authority(authority: &str) -> bool {
    let (userinfo, host) = match authority.rfind('@') {
        Some(index) => (Some(&authority[..index]), &authority[index + 1..]),
        None => (None, authority),
    };
    if !valid_host(host) {
        return false;
    }
    let Some(userinfo) = userinfo else {
        return true;
    };
    let allowed = |byte: u8| {
        byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'.'
                    | b'_'
                    | b':'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
                    | b'@'
            )
    };
    userinfo.bytes().all(allowed)
        && userinfo
            .split(':')
            .take(2)
            .all(|part| unescapes(part, Escape::UserPassword))
}

fn valid_optional_port(port: &str) -> bool {
    port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_host(host: &str) -> bool {
    if host.starts_with('[') {
        let Some(close) = host.rfind(']') else {
            return false;
        };
        if !valid_optional_port(&host[close + 1..]) {
            return false;
        }
        return match host[..close].find("%25") {
            Some(zone) => {
                unescapes(&host[..zone], Escape::Host)
                    && unescapes(&host[zone..close], Escape::Zone)
                    && unescapes(&host[close..], Escape::Host)
            }
            None => unescapes(host, Escape::Host),
        };
    }
    if let Some(colon) = host.rfind(':') {
        if !valid_optional_port(&host[colon..]) {
            return false;
        }
    }
    unescapes(host, Escape::Host)
}

#[derive(Clone, Copy, PartialEq)]
enum Escape {
    Path,
    Host,
    Zone,
    UserPassword,
}

/// Go's `url.unescape` succeeds in `mode`.
fn unescapes(text: &str, mode: Escape) -> bool {
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'%' {
            if index + 2 >= bytes.len()
                || !bytes[index + 1].is_ascii_hexdigit()
                || !bytes[index + 2].is_ascii_hexdigit()
            {
                return false;
            }
            let escape = &text[index..index + 3];
            // A host escapes only non-ASCII bytes (and `%25` in an IPv6 zone).
            if mode == Escape::Host && hex_value(bytes[index + 1]) < 8 && escape != "%25" {
                return false;
            }
            let decoded = hex_value(bytes[index + 1]) << 4 | hex_value(bytes[index + 2]);
            if mode == Escape::Zone
                && escape != "%25"
                && decoded != b' '
                && should_escape(decoded, Escape::Host)
            {
                return false;
            }
            index += 3;
            continue;
        }
        if matches!(mode, Escape::Host | Escape::Zone) && byte < 0x80 && should_escape(byte, mode) {
            return false;
        }
        index += 1;
    }
    true
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

/// Go's `shouldEscape` for hosts and zones (the only modes `unescape` consults it in).
fn should_escape(byte: u8, mode: Escape) -> bool {
    if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
        return false;
    }
    if matches!(mode, Escape::Host | Escape::Zone)
        && matches!(
            byte,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    true
}

/// A close reading of Go's `net/mail.ParseAddress`: `local@domain` or `Name <local@domain>`,
/// the local part a dot-atom or a quoted string, the domain a dot-atom or a `[literal]`.
fn is_email(text: &str) -> bool {
    let text = text.trim_matches(|c| c == ' ' || c == '\t');
    if let Some(open) = text.rfind('<') {
        let Some(inner) = text[open + 1..].strip_suffix('>') else {
            return false;
        };
        let name = text[..open].trim_matches(|c| c == ' ' || c == '\t');
        return valid_display_name(name) && valid_addr_spec(inner);
    }
    valid_addr_spec(text)
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn valid_dot_atom(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

fn valid_quoted_string(text: &str) -> bool {
    let Some(inner) = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' || (c.is_ascii_control() && c != '\t') {
            return false;
        }
    }
    !escaped
}

fn valid_display_name(name: &str) -> bool {
    if name.is_empty() {
        return true;
    }
    if name.starts_with('"') {
        return valid_quoted_string(name);
    }
    name.split([' ', '\t'])
        .filter(|word| !word.is_empty())
        .all(|word| word.chars().all(|c| is_atext(c) || c == '.'))
}

fn valid_addr_spec(text: &str) -> bool {
    let Some(at) = text.rfind('@') else {
        return false;
    };
    let (local, domain) = (&text[..at], &text[at + 1..]);
    let local_ok = if local.starts_with('"') {
        valid_quoted_string(local)
    } else {
        valid_dot_atom(local)
    };
    let domain_ok = if let Some(literal) = domain.strip_prefix('[') {
        literal
            .strip_suffix(']')
            .is_some_and(|inner| !inner.contains(['[', ']', '\\']))
    } else {
        valid_dot_atom(domain)
    };
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_accept_and_refuse_as_strfmt_does() {
        let cases: &[(&str, &str, bool)] = &[
            ("date-time", "2024-02-29T10:00:00Z", true),
            ("date-time", "2024-02-29t10:00:00.5+02:00", true),
            ("date-time", "2023-02-29T10:00:00Z", false),
            ("date-time", "2024-01-01T24:00:00Z", false),
            ("date-time", "2024-01-01 10:00:00Z", false),
            ("date-time", "yesterday", false),
            ("date-time", "2024-01-01T10:00:00.123456789Z", true),
            ("date-time", "2024-01-01T10:00:00,5Z", true),
            ("date-time", "2024-01-01T10:00:00+0200", false),
            ("date-time", "2024-01-01T10:00:00", false),
            ("date-time", "2024-01-01T10:60:00Z", false),
            ("date", "2024-12-31", true),
            ("date", "2024-13-01", false),
            ("date", "2024-1-01", false),
            ("byte", "aGVsbG8=", true),
            ("byte", "aGVsbG8", false),
            ("byte", "", false),
            ("byte", "aGVs bG8=", false),
            ("duration", "1h30m", true),
            ("duration", "1.5s", true),
            ("duration", "5 days", true),
            ("duration", "3 wk", true),
            ("duration", "soon", false),
            ("duration", "3 parsecs", false),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", true),
            ("uuid", "123E4567E89B12D3A456426614174000", true),
            ("uuid", "123e4567-e89b", false),
            ("uuid4", "123e4567-e89b-42d3-a456-426614174000", true),
            ("uuid4", "123e4567-e89b-12d3-a456-426614174000", false),
            ("ipv4", "10.0.0.1", true),
            ("ipv4", "010.0.0.1", true),
            ("ipv4", "10.0.0", false),
            ("ipv4", "::1", false),
            ("ipv6", "::1", true),
            ("ipv6", "10.0.0.1", false),
            ("cidr", "10.0.0.0/8", true),
            ("cidr", "fd00::/64", true),
            ("cidr", "10.0.0.0/33", false),
            ("cidr", "10.0.0.0", false),
            ("mac", "01:23:45:67:89:ab", true),
            ("mac", "0123.4567.89ab", true),
            ("mac", "01:23:45:67:89", false),
            ("hostname", "example.com", true),
            ("hostname", "x-1", true),
            // strfmt's pattern allows a dash in a single label only after its first character.
            ("hostname", "my-host", false),
            ("hostname", "-bad", false),
            ("hostname", "under_score.com", false),
            ("uri", "https://example.com/path?q=1", true),
            ("uri", "/relative/path", true),
            ("uri", "mailto:someone@example.com", true),
            ("uri", "example.com/path", false),
            ("uri", "https://exa mple.com/", false),
            ("uri", "https://example.com:80a/", false),
            ("uri", "/bad%zzescape", false),
            ("uri", "", false),
            ("email", "someone@example.com", true),
            ("email", "Some One <someone@example.com>", true),
            ("email", "someone", false),
            ("email", "someone@", false),
            ("isbn10", "0321751043", true),
            ("isbn13", "978-0321751041", true),
            ("isbn", "0321751044", false),
            ("creditcard", "4111 1111 1111 1111", true),
            ("creditcard", "4111 1111 1111 1112", false),
            ("ssn", "123-45-6789", true),
            ("ssn", "123456789", false),
            ("hexcolor", "#ffffff", true),
            ("hexcolor", "#fffff", false),
            ("rgbcolor", "rgb(255, 0, 10)", true),
            ("rgbcolor", "rgb(256,0,0)", false),
            ("bsonobjectid", "507f1f77bcf86cd799439011", true),
            ("bsonobjectid", "507f1f77bcf86cd79943901", false),
            ("password", "anything", true),
        ];
        for (name, text, expected) in cases {
            let format = known(name).unwrap_or_else(|| panic!("{name} is known"));
            assert_eq!(validates(format, text), *expected, "{name} {text:?}");
        }
    }

    #[test]
    fn only_the_formats_kube_keeps_are_known() {
        for name in [
            "int32",
            "int64",
            "float",
            "double",
            "uri-reference",
            "Date-Time",
            "",
        ] {
            assert_eq!(known(name), None, "{name}");
        }
        assert_eq!(known("date-time"), Some(Format::DateTime));
        assert_eq!(known("datetime"), Some(Format::DateTime));
    }
}
