//! Usernames and email addresses as people see them (docs/security.md, "Identifiers").
//!
//! Two identifiers a person cannot tell apart must not name two accounts: emails are trimmed,
//! NFC-normalized and lowercased; usernames are NFC-normalized, refused with surrounding
//! whitespace, control or invisible characters, or mixed scripts (`alіce` with a Cyrillic `і`),
//! and are unique by their [`username_key`] (case-folded UTS #39 skeleton). These rules hold
//! whatever validation callback the host adds on top.

use crate::error::{AccountsError, ErrorCode, Result};
use unicode_normalization::UnicodeNormalization;
use unicode_security::{GeneralSecurityProfile, MixedScript, skeleton};

/// Longest accepted username or email in bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 320;

fn err(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

/// Characters allowed in an identifier: printable ASCII, or what UTS #39 allows in identifiers
/// (letters and digits of living scripts; no controls, format or default-ignorable characters).
fn allowed_char(c: char) -> bool {
    c.is_ascii_graphic() || (!c.is_ascii() && c.identifier_allowed())
}

/// accounts-js's address rule: something, `@`, something with a dot after it; no spaces.
pub(crate) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else { return false };
    !local.is_empty() && !s.chars().any(char::is_whitespace) && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
}

/// An address as stored and compared: trimmed, NFC, lowercased, and checked.
///
/// # Errors
/// `InvalidEmail` for a malformed or oversized address, a control or invisible character, or a
/// local part or domain label that mixes scripts.
pub fn normalize_email(raw: &str) -> Result<String> {
    let address: String = raw.trim().nfc().collect::<String>().to_lowercase();
    if address.len() > MAX_IDENTIFIER_BYTES || !is_email(&address) || !address.chars().all(allowed_char) {
        return Err(err(ErrorCode::InvalidEmail));
    }
    let (local, domain) = address.rsplit_once('@').unwrap_or_default();
    if !local.is_single_script() || !domain.split('.').all(|label| label.is_single_script()) || hides_a_mark(local) {
        return Err(err(ErrorCode::InvalidEmail));
    }
    Ok(address)
}

/// Whether `s` holds a nonspacing mark that a reader cannot see (UTS #39 §5.4): a dot above on a
/// letter that already has one (`i̇` is `i` to the eye), or the same mark twice in a row.
fn hides_a_mark(s: &str) -> bool {
    use unicode_normalization::char::is_combining_mark;
    const DOT_ABOVE: char = '\u{307}';
    // Letters with a dot of their own, after NFD (which splits `ḭ`, `ị` into `i` and their marks).
    const SOFT_DOTTED: &[char] = &['i', 'j', '\u{456}', '\u{458}', '\u{268}', '\u{29d}'];
    let (mut base, mut previous) = (None, None);
    for c in s.nfd() {
        if is_combining_mark(c) {
            // The dot above hides on its base letter even after other marks (`i` + dot below + dot above).
            if (c == DOT_ABOVE && base.is_some_and(|b| SOFT_DOTTED.contains(&b))) || previous == Some(c) {
                return true;
            }
        } else {
            base = Some(c);
        }
        previous = Some(c);
    }
    false
}

/// The lookalike key of a (normalized) address: its local part's case-folded UTS #39 skeleton, then
/// the domain as is (its labels are already single-script). Addresses with the same key may look
/// alike; [`lookalikes`] says whether two of them must not name two accounts.
pub fn email_key(address: &str) -> String {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    format!("{}@{domain}", skeleton(local).collect::<String>().to_lowercase())
}

/// Whether a new address may not be added beside `existing`, an address with the same
/// [`email_key`]: a person could take one for the other. Two ASCII mailboxes stay apart (people
/// type them, and `modern@` and `modem@` are different mailboxes); a non-ASCII one meets any address
/// it imitates (an all-Cyrillic `аӏісе@` meets `alice@`).
pub fn lookalikes(new: &str, existing: &str) -> bool {
    new != existing && !(new.is_ascii() && existing.is_ascii())
}

/// A username as stored: NFC-normalized and checked (case is kept for display).
///
/// # Errors
/// `InvalidUsername` for an empty or oversized name, surrounding whitespace, a control, invisible
/// or space character, or a mix of scripts.
pub fn normalize_username(raw: &str) -> Result<String> {
    let name: String = raw.nfc().collect();
    if name.is_empty()
        || name.len() > MAX_IDENTIFIER_BYTES
        || !name.chars().all(allowed_char)
        || !name.as_str().is_single_script()
        || hides_a_mark(&name)
    {
        return Err(err(ErrorCode::InvalidUsername));
    }
    Ok(name)
}

/// The uniqueness key of a username: two names with the same key look alike (case, confusable
/// characters), so only one account may hold them.
pub fn username_key(name: &str) -> String {
    skeleton(&name.nfc().collect::<String>().to_lowercase()).collect::<String>().to_lowercase()
}

/// A login identifier in the form it was stored in, or `None` when it cannot name any account
/// (then the login fails like an unknown user, never with a storage error).
pub(crate) fn lookup_email(raw: &str) -> Option<String> {
    normalize_email(raw).ok()
}

/// As [`lookup_email`], for usernames (exact match after NFC, as accounts-js).
pub(crate) fn lookup_username(raw: &str) -> Option<String> {
    normalize_username(raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        for ok in ["a@b.co", "first.last+tag@example.org", "x@sub.domain.io", "иван@почта.рф", "müller@example.de"] {
            assert!(normalize_email(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a b@c.de", "a@.com", "a@com.", "a\0@b.co", "a\u{200b}b@c.de", "alіce@example.com", "a@exаmple.com"] {
            assert_eq!(normalize_email(bad).unwrap_err().code, ErrorCode::InvalidEmail, "{bad:?}");
        }
        assert_eq!(normalize_email("  Alice@Example.COM ").unwrap(), "alice@example.com");
        // Decomposed and composed forms are one address.
        assert_eq!(normalize_email("mu\u{0308}ller@example.de").unwrap(), normalize_email("müller@example.de").unwrap());
    }

    #[test]
    fn usernames_people_cannot_tell_apart_share_a_key() {
        for bad in ["", " alice", "alice ", "ali ce", "alice\u{200b}", "al\u{0000}ice", "alіce", "a\u{202e}lice"] {
            assert_eq!(normalize_username(bad).unwrap_err().code, ErrorCode::InvalidUsername, "{bad:?}");
        }
        for ok in ["alice", "Alice", "bob_the-builder.2", "jürgen", "иван", "山田太郎"] {
            assert!(normalize_username(ok).is_ok(), "{ok}");
        }
        assert_eq!(username_key("alice"), username_key("Alice"));
        assert_eq!(username_key("alice"), username_key("ALICE"));
        assert_eq!(username_key("jürgen"), username_key("ju\u{0308}rgen"));
        // Whole-script confusables: Cyrillic "раураl" looks like Latin "paypal".
        assert_eq!(username_key("paypal"), username_key("раураl"));
        assert_ne!(username_key("alice"), username_key("alicia"));
    }

    #[test]
    fn addresses_people_cannot_tell_apart_share_a_key() {
        let key = |a: &str| email_key(&normalize_email(a).unwrap());
        let clash = |a: &str, b: &str| key(a) == key(b) && lookalikes(&normalize_email(a).unwrap(), &normalize_email(b).unwrap());
        // All-Cyrillic imitations of ASCII mailboxes.
        assert!(clash("аӏісе@example.com", "alice@example.com"));
        assert!(clash("раураӏ@example.com", "paypal@example.com"));
        assert!(clash("мама@example.com", "mama@example.com") || key("мама@example.com") != key("mama@example.com"));
        // What people type keeps working and stays apart: ASCII mailboxes, single-script IDN.
        assert!(!clash("modern@example.com", "modem@example.com"));
        assert!(!clash("иван@почта.рф", "ivan@почта.рф"));
        assert!(!clash("müller@example.de", "muller@example.de"));
        // A dot above a letter that already has one, or a doubled mark, cannot be seen.
        for bad in [
            "ali\u{307}ce@example.com",
            "\u{456}\u{307}van@example.com",
            "mu\u{308}\u{308}ller@example.de",
            "ali\u{323}\u{307}ce@example.com",
            "al\u{12f}\u{307}ce@example.com",
        ] {
            assert_eq!(normalize_email(bad).unwrap_err().code, ErrorCode::InvalidEmail, "{bad:?}");
        }
        assert_eq!(normalize_username("ali\u{307}ce").unwrap_err().code, ErrorCode::InvalidUsername);
    }
}
