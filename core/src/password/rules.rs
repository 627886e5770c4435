//! The rules a new user's fields pass: accounts-js's defaults (or the host's validators), then the
//! library's identifier and password rules, which no host rule switches off (docs/security.md).

use crate::callbacks::{ValidateFn, truthy};
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::identifiers::{normalize_email, normalize_username};
use crate::types::profile_fields;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Longest accepted password in bytes; longer input is refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 4096;

fn err(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

/// A field as accounts-js reads it: missing, null, `""`, `false` and `0` all count as absent.
pub(super) fn present<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).filter(|v| truthy(v))
}

/// accounts-js's default username rule: a letter, then letters and digits.
fn default_username_rule(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric())
}

/// accounts-js's default email rule (its `isEmail` regular expression, written out): a dot-atom
/// or quoted local part, `@`, then an IPv4 literal or dotted labels ending in 2+ letters.
fn default_email_rule(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else { return false };
    let atom_char = |c: char| !c.is_whitespace() && !"<>()[]\\.,;:@\"".contains(c);
    let quoted = local.len() >= 3 && local.starts_with('"') && local.ends_with('"');
    let dot_atoms = !local.is_empty() && local.split('.').all(|a| !a.is_empty() && a.chars().all(atom_char));
    let ipv4 = domain
        .strip_prefix('[')
        .and_then(|d| d.strip_suffix(']'))
        .is_some_and(|d| d.split('.').count() == 4 && d.split('.').all(|g| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit())));
    let labels: Vec<&str> = domain.split('.').collect();
    let named = labels.len() >= 2
        && labels[..labels.len() - 1].iter().all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && labels.last().is_some_and(|t| t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphabetic()));
    (quoted || dot_atoms) && (ipv4 || named)
}

/// A new password: the host's `validatePassword`, or our policy (`minPasswordLength`, at most
/// 4096 bytes; accounts-js only asks for a non-empty string).
///
/// # Errors
/// `InvalidPassword`, or the validator's error.
pub(super) fn check_new_password(ctx: &Context, password: &Value) -> Result<String> {
    let Value::String(p) = password else { return Err(err(ErrorCode::InvalidPassword)) };
    let ok = p.len() <= MAX_PASSWORD_BYTES
        && match &ctx.callbacks().validate_password {
            Some(validate) => validate(p)?,
            None => p.chars().count() >= ctx.config().services.password.min_password_length,
        };
    if ok { Ok(p.clone()) } else { Err(err(ErrorCode::InvalidPassword)) }
}

/// An identifier field: a string that passes the host's validator (or accounts-js's default
/// rule), then the library's identifier rules.
fn check_identifier(
    value: &Value,
    host: Option<&Arc<ValidateFn>>,
    default_rule: fn(&str) -> bool,
    normalize: fn(&str) -> Result<String>,
    invalid: ErrorCode,
) -> Result<String> {
    let Value::String(text) = value else { return Err(err(invalid)) };
    let ok = match host {
        Some(validate) => validate(text)?,
        None => default_rule(text),
    };
    if !ok {
        return Err(err(invalid));
    }
    normalize(text)
}

/// The username rule: `validateUsername` or a letter then letters and digits; NFC, no look-alikes.
///
/// # Errors
/// `InvalidUsername`, or the validator's error.
pub(super) fn check_username(ctx: &Context, value: &Value) -> Result<String> {
    let host = ctx.callbacks().validate_username.as_ref();
    check_identifier(value, host, default_username_rule, normalize_username, ErrorCode::InvalidUsername)
}

/// The email rule: `validateEmail` or accounts-js's `isEmail`; trimmed, NFC, lowercased.
///
/// # Errors
/// `InvalidEmail`, or the validator's error.
pub(super) fn check_email(ctx: &Context, value: &Value) -> Result<String> {
    let host = ctx.callbacks().validate_email.as_ref();
    check_identifier(value, host, default_email_rule, normalize_email, ErrorCode::InvalidEmail)
}

/// The fields of a createUser input, validated.
pub(super) struct Draft {
    pub(super) username: Option<String>,
    pub(super) email: Option<String>,
    pub(super) profile: Map<String, Value>,
}

/// The identifiers of a createUser input, checked, and the other fields it carries (kept only when
/// `validateNewUser` returns them: a client posting `roles` to a signup route gets nothing stored).
///
/// # Errors
/// `UsernameOrEmailRequired`, `InvalidUsername`, `InvalidEmail`, or a validator's error.
pub(super) fn draft(ctx: &Context, obj: &Map<String, Value>) -> Result<Draft> {
    let username = present(obj, "username").map(|v| check_username(ctx, v)).transpose()?;
    let email = present(obj, "email").map(|v| check_email(ctx, v)).transpose()?;
    if username.is_none() && email.is_none() {
        return Err(err(ErrorCode::UsernameOrEmailRequired));
    }
    let profile = profile_fields(obj);
    Ok(Draft { username, email, profile })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::Callbacks;
    use crate::context::testing;
    use serde_json::json;

    #[test]
    fn accounts_js_default_rules() {
        for ok in ["a@b.co", "first.last+tag@example.org", "x@sub.domain.io", "\"a b\"@example.com", "a@[10.0.0.1]"] {
            assert!(default_email_rule(ok), "{ok}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a b@c.de", "a@.com", "a@com.", "a@@b.com", "a..b@c.de", "a@b.c", "a@b.c0", "иван@почта.рф"] {
            assert!(!default_email_rule(bad), "{bad}");
        }
        for ok in ["alice", "Alice2", "b"] {
            assert!(default_username_rule(ok), "{ok}");
        }
        for bad in ["", "1abc", "a_b", "a-b", "a b", "jürgen"] {
            assert!(!default_username_rule(bad), "{bad}");
        }
    }

    #[test]
    fn a_host_validator_replaces_the_default_but_not_the_identifier_rules() {
        let callbacks = Callbacks { validate_username: Some(Arc::new(|_: &str| Ok(true))), ..Default::default() };
        let (ctx, _) = testing::context(json!({}), callbacks);
        assert_eq!(check_username(&ctx, &json!("a_b")).unwrap(), "a_b", "the host allows underscores");
        assert_eq!(check_username(&ctx, &json!("pаypal")).unwrap_err().code, ErrorCode::InvalidUsername, "mixed scripts stay refused");
        assert_eq!(check_username(&ctx, &json!(5)).unwrap_err().code, ErrorCode::InvalidUsername);
    }

    #[test]
    fn passwords_and_drafts() {
        let (ctx, _) = testing::context(json!({"services": {"password": {"minPasswordLength": 8}}}), Callbacks::default());
        assert_eq!(check_new_password(&ctx, &json!("short")).unwrap_err().code, ErrorCode::InvalidPassword);
        assert_eq!(check_new_password(&ctx, &json!("x".repeat(MAX_PASSWORD_BYTES + 1))).unwrap_err().code, ErrorCode::InvalidPassword);
        assert_eq!(check_new_password(&ctx, &json!("long enough")).unwrap(), "long enough");
        let d = draft(&ctx, json!({"email": "A@B.co", "username": "", "roles": ["admin"]}).as_object().unwrap()).unwrap();
        assert_eq!((d.username, d.email.as_deref()), (None, Some("a@b.co")));
        assert!(d.profile.contains_key("roles"), "kept for validateNewUser to judge");
        let none = draft(&ctx, json!({"username": false, "email": 0}).as_object().unwrap());
        assert_eq!(none.err().map(|e| e.code), Some(ErrorCode::UsernameOrEmailRequired));
    }
}
