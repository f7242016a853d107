//! Sender handles and their normalization (E.164 phones, lowercased emails).

use std::fmt;

use crate::prefix::js_trim;
use crate::region::Region;

/// What a normalized handle turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HandleKind {
    /// A phone number in E.164 form (`+14155552671`), or a short code
    /// that only contained digits.
    Phone,
    /// An email address, lowercased.
    Email,
    /// Anything else, kept exactly as written apart from trimming.
    Other,
}

/// A normalized sender handle.
///
/// Two handles are equal exactly when they name the same sender after
/// normalization: phone numbers in any national or international spelling
/// meet in E.164, emails compare case-insensitively, and everything else
/// compares as written. Letters are never dropped, so `bob` and `alice`
/// stay distinct.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle {
    /// The normalized text.
    value: String,
    /// Derived from `value` at construction; kept so callers need not re-classify.
    kind: HandleKind,
}

impl Handle {
    /// Normalizes a raw handle as typed in config or reported by `imsg`.
    ///
    /// Returns `None` for input that contains no letter or digit at all
    /// (empty, blank, `+`, `()`), because such text names nobody.
    pub fn normalize(raw: &str, region: &Region) -> Option<Handle> {
        let trimmed = js_trim(raw);
        if !trimmed.chars().any(char::is_alphanumeric) {
            return None;
        }
        if trimmed.contains('@') {
            return Some(Handle {
                value: lowercase(trimmed),
                kind: HandleKind::Email,
            });
        }
        if let Some(phone) = normalize_phone(trimmed, region) {
            return Some(Handle {
                value: phone,
                kind: HandleKind::Phone,
            });
        }
        Some(Handle {
            value: trimmed.to_owned(),
            kind: HandleKind::Other,
        })
    }

    /// The normalized text, such as `+14155552671` or `bob@example.com`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Whether this is a phone number, an email or something else.
    pub fn kind(&self) -> HandleKind {
        self.kind
    }

    /// For a handle of kind [`HandleKind::Other`], the first full phone number written inside it, in E.164.
    ///
    /// Such a handle (`whatsapp:+15551234567`, `Mom (415) 555-2671`) matches only a sender whose handle is
    /// exactly that text, which no iMessage sender has; the number inside is almost certainly what was
    /// meant. A full number is a `+` and 8 to 15 digits, or 10 to 15 digits without the `+` (read with
    /// `region`); shorter runs are local numbers or short codes and longer ones identifiers. Phone and email
    /// handles give `None`.
    pub fn embedded_phone(&self, region: &Region) -> Option<String> {
        if self.kind != HandleKind::Other {
            return None;
        }
        let text = self.value.as_str();
        let mut start = 0;
        while let Some(offset) = text
            .get(start..)
            .and_then(|rest| rest.find(|c: char| c.is_ascii_digit() || c == '+'))
        {
            let run_start = start + offset;
            let run = phone_run(text.get(run_start..).unwrap_or(""));
            let digits = run.bytes().filter(u8::is_ascii_digit).count();
            let enough = if run.starts_with('+') {
                (8..=15).contains(&digits)
            } else {
                (10..=15).contains(&digits)
            };
            // The run must stand alone: a digit glued to a letter (`chat123…`) is part of a word.
            let glued = text
                .get(..run_start)
                .and_then(|before| before.chars().next_back())
                .is_some_and(char::is_alphanumeric);
            if enough
                && !glued
                && let Some(phone) = normalize_phone(run, region)
                && phone.starts_with('+')
            {
                return Some(phone);
            }
            start = run_start + run.len().max(1);
        }
        None
    }

    /// Consumes the handle and returns its normalized text.
    pub fn into_string(self) -> String {
        self.value
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl AsRef<str> for Handle {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

/// Lowercases an email with a single allocation for the common ASCII case.
///
/// Outside ASCII, a character is lowercased only when it is the uppercase partner of its lowercase letter
/// (`É` and `é`, `Σ` and `σ`). Full Unicode lowercasing also folds look-alike signs into letters: the Kelvin
/// sign `K` (U+212A) would become `k`, so `\u{212a}im@x.com` would equal `kim@x.com`, a different address.
/// Such characters, and those whose lowercase is longer than one character (`İ`), are kept as written,
/// which errs toward not matching.
fn lowercase(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars().map(lowercase_partner).collect()
}

/// The lowercase partner of `c`, or `c` itself when it has none (see [`lowercase`]).
fn lowercase_partner(c: char) -> char {
    let mut lower = c.to_lowercase();
    let (Some(l), None) = (lower.next(), lower.next()) else {
        return c;
    };
    let mut upper = l.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) if u == c => l,
        _ => c,
    }
}

/// The fewest digits we hand to the phone-number parser. Shorter digit runs
/// are SMS short codes or emergency numbers (`72975`, `911`); the parser would
/// invent a country code for them (`911` would become `+1911`), so they are
/// kept as digits.
const MIN_PARSED_DIGITS: usize = 7;

/// The most digits a phone number may have; E.164 allows 15, and an
/// international dialling prefix adds a few more. Longer digit runs are
/// identifiers, not phone numbers.
const MAX_PARSED_DIGITS: usize = 20;

/// Normalizes phone-shaped input to E.164 using `region` for national numbers.
///
/// Phone-shaped means: an optional leading `+`, then only ASCII digits and the
/// separators people type (spaces, `(`, `)`, `-`, `.`, `/`), with at least one
/// digit. Anything else (letters, `@`, a second `+`) is not a phone number and
/// yields `None`, so `1800FLOWERS` and hex chat identifiers are never mangled.
///
/// The result is never gated on validity: `+15551234567` is not a valid
/// number by the metadata, yet tests and users rely on 555 numbers, so it is
/// kept. Input that is already `+` followed by digits is returned as is without
/// consulting the parser. Fewer than 7 digits, or input the parser rejects,
/// keep their digits without separators, with the leading `+` if there was
/// one: `911` stays `911`, `+1 555` becomes `+1555`. More than 20 digits are
/// not a phone number (`None`).
///
/// This is the only function in the workspace that calls the `phonenumber`
/// crate.
pub fn normalize_phone(raw: &str, region: &Region) -> Option<String> {
    let trimmed = js_trim(raw);
    let (plus, body) = match trimmed.strip_prefix('+') {
        Some(body) => (true, body),
        None => (false, trimmed),
    };
    // Fast path: already E.164-like, which is what chat.db reports for
    // phone senders. One allocation for the result, no parser call.
    if plus
        && (1..=MAX_PARSED_DIGITS).contains(&body.len())
        && body.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(trimmed.to_owned());
    }
    let mut digits = 0usize;
    for c in body.chars() {
        if c.is_ascii_digit() {
            digits += 1;
        } else if !is_phone_separator(c) {
            return None;
        }
    }
    // More digits than any dialled number has: an identifier (a 32-digit hex
    // chat id, a serial), not a phone number.
    if digits == 0 || digits > MAX_PARSED_DIGITS {
        return None;
    }
    if digits >= MIN_PARSED_DIGITS
        && let Some(e164) = parse_e164(trimmed, region)
    {
        return Some(e164);
    }
    let mut out = String::with_capacity(digits + 1);
    if plus {
        out.push('+');
    }
    out.extend(body.chars().filter(char::is_ascii_digit));
    Some(out)
}

/// The phone-shaped run at the start of `s`: an optional `+`, then digits and separators, ending on a digit.
fn phone_run(s: &str) -> &str {
    let body_start = usize::from(s.starts_with('+'));
    let mut end = body_start;
    for (i, c) in s.char_indices().skip(body_start) {
        if c.is_ascii_digit() {
            end = i + 1;
        } else if !is_phone_separator(c) {
            break;
        }
    }
    s.get(..end).unwrap_or("")
}

/// Characters people put between the digits of a phone number.
fn is_phone_separator(c: char) -> bool {
    matches!(c, '(' | ')' | '-' | '.' | '/') || c.is_whitespace()
}

/// Parses with the `phonenumber` crate and formats as E.164.
///
/// Returns `None` when the crate rejects the input or formats something
/// that is not `+` and digits, so callers can fall back.
fn parse_e164(text: &str, region: &Region) -> Option<String> {
    let country = country_id(region)?;
    let number = phonenumber::parse(Some(country), text).ok()?;
    let formatted = number.format().mode(phonenumber::Mode::E164).to_string();
    let rest = formatted.strip_prefix('+')?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(formatted)
}

/// The `phonenumber` country for a region, if its metadata has one.
pub(crate) fn country_id(region: &Region) -> Option<phonenumber::country::Id> {
    region.as_str().parse().ok()
}
