//! Masking of handles and message bodies in logs: masked at info and above, shown at debug.
//!
//! A phone keeps its country code and first digits and its last four (`+1555•••0123`), an email its
//! first letter and domain (`a•••@example.com`), a body only its length (`<12 chars>`). Use
//! [`handle`] and [`body`] in every log line that names a person or quotes a message.

/// The mask character run.
const DOTS: &str = "•••";

/// `raw` masked, whatever the log level.
pub fn mask_handle(raw: &str) -> String {
    let raw = raw.trim();
    if let Some((local, domain)) = raw.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}{DOTS}@{domain}");
    }
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() <= 8 {
        // Too short to keep both ends without showing most of it.
        let last: String = chars.iter().rev().take(2).rev().collect();
        return format!("{DOTS}{last}");
    }
    let head: String = chars.iter().take(5).collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{DOTS}{tail}")
}

/// A body reduced to its length, whatever the log level.
pub fn mask_body(text: &str) -> String {
    format!("<{} chars>", text.chars().count())
}

/// Whether log lines may show handles and bodies in full (debug level or finer is on).
pub fn reveal() -> bool {
    tracing::enabled!(tracing::Level::DEBUG)
}

/// A handle for a log line: in full at debug, masked otherwise.
pub fn handle(raw: &str) -> String {
    if reveal() {
        raw.to_owned()
    } else {
        mask_handle(raw)
    }
}

/// A message body for a log line: in full at debug, its length otherwise.
pub fn body(text: &str) -> String {
    if reveal() {
        text.to_owned()
    } else {
        mask_body(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_keep_their_ends() {
        assert_eq!(mask_handle("+15550000123"), "+1555•••0123");
        assert_eq!(mask_handle("+442079460958"), "+4420•••0958");
    }

    #[test]
    fn emails_keep_the_first_letter_and_domain() {
        assert_eq!(mask_handle("alice@example.com"), "a•••@example.com");
    }

    #[test]
    fn short_handles_show_at_most_two_characters() {
        assert_eq!(mask_handle("12345"), "•••45");
        assert_eq!(mask_handle(""), "•••");
    }

    #[test]
    fn bodies_become_their_length() {
        assert_eq!(mask_body("hello wörld"), "<11 chars>");
    }

    #[test]
    fn without_a_subscriber_nothing_is_revealed() {
        assert!(!reveal());
        assert_eq!(handle("+15550000123"), "+1555•••0123");
        assert_eq!(body("secret"), "<6 chars>");
    }
}
