//! The password service (accounts-js `@accounts/password` basics): users, login, password changes.

use crate::attempts::{Guess, Guesser};
use crate::callbacks::{ValidateFn, events, truthy};
use crate::error::{AccountsError, ErrorCode, Result};
use crate::hashing::Verified;
use crate::identifiers::{lookup_email, lookup_username, normalize_email, normalize_username, username_key};
use crate::secret::new_id;
use crate::server::AccountsServer;
use crate::email::kinds;
use crate::mail::MailKind;
use crate::store::{self, NewUser, TokenScope};
use crate::two_factor::{SecondFactorUse, TwoFactor};
use crate::types::{ConnectionInfo, EmailRecord, RESERVED_USER_KEYS, User};
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub use crate::identifiers::MAX_IDENTIFIER_BYTES;

/// Longest accepted password in bytes; longer input is refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// The password service of one server; get it with [`AccountsServer::password`].
pub struct Password<'a> {
    pub(crate) server: &'a AccountsServer,
}

fn err(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

/// The fields of a createUser input, validated.
struct Draft {
    username: Option<String>,
    email: Option<String>,
    profile: Map<String, Value>,
}

/// A field as accounts-js reads it: missing, null, `""`, `false` and `0` all count as absent.
fn present<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).filter(|v| truthy(v))
}

/// accounts-js's default username rule: a letter, then letters and digits.
fn default_username_rule(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric())
}

/// accounts-js's default email rule (its `isEmail` regular expression, written out): a dot-atom
/// or quoted local part, `@`, then an IPv4 literal or dotted labels ending in 2+ letters.
pub(crate) fn default_email_rule(email: &str) -> bool {
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

impl<'a> Password<'a> {
    /// The two-factor part of the service (accounts-js `password.twoFactor`).
    pub fn two_factor(&self) -> TwoFactor<'a> {
        TwoFactor { server: self.server }
    }
}

impl Password<'_> {
    /// A new password: the host's `validatePassword`, or our policy (`minPasswordLength`, at most
    /// 4096 bytes; accounts-js only asks for a non-empty string).
    pub(crate) fn check_new_password(&self, password: &Value) -> Result<String> {
        let Value::String(p) = password else { return Err(err(ErrorCode::InvalidPassword)) };
        let ok = p.len() <= MAX_PASSWORD_BYTES
            && match &self.server.callbacks.validate_password {
                Some(validate) => validate(p)?,
                None => p.chars().count() >= self.server.config.services.password.min_password_length,
            };
        if ok { Ok(p.clone()) } else { Err(err(ErrorCode::InvalidPassword)) }
    }

    /// An identifier field: a string that passes the host's validator (or accounts-js's default
    /// rule), then the library's identifier rules, which no host rule switches off.
    fn check_identifier(
        &self,
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
    fn check_username(&self, value: &Value) -> Result<String> {
        let host = self.server.callbacks.validate_username.as_ref();
        self.check_identifier(value, host, default_username_rule, normalize_username, ErrorCode::InvalidUsername)
    }

    /// The email rule: `validateEmail` or accounts-js's `isEmail`; trimmed, NFC, lowercased.
    pub(crate) fn check_email(&self, value: &Value) -> Result<String> {
        let host = self.server.callbacks.validate_email.as_ref();
        self.check_identifier(value, host, default_email_rule, normalize_email, ErrorCode::InvalidEmail)
    }

    /// The fields a new user keeps: without `validateNewUser` only `username` and `email` (a client
    /// posting `roles` or `isAdmin` to a signup route gets nothing stored); with it, what it returns.
    fn draft(&self, obj: &Map<String, Value>) -> Result<Draft> {
        let username = present(obj, "username").map(|v| self.check_username(v)).transpose()?;
        let email = present(obj, "email").map(|v| self.check_email(v)).transpose()?;
        if username.is_none() && email.is_none() {
            return Err(err(ErrorCode::UsernameOrEmailRequired));
        }
        let profile = obj
            .iter()
            .filter(|(k, _)| !RESERVED_USER_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Draft { username, email, profile })
    }

    /// Creates a user from `{username?, email?, password?, ...}`; returns the new id.
    ///
    /// Checks in accounts-js's order: `UsernameOrEmailRequired`, `InvalidUsername`, `InvalidEmail`,
    /// `UsernameAlreadyExists`, `EmailAlreadyExists`, `InvalidPassword` (the password is hashed
    /// before the uniqueness checks, so a taken identifier costs as much as a new one). Without a
    /// `validateNewUser` callback only `username`, `email` and `password` are kept; with one, what
    /// it returns is stored (its identifiers checked again).
    ///
    /// # Errors
    /// `InvalidArgument` (not an object), the codes above, or a callback's error.
    pub fn create_user(&self, input: &Value) -> Result<String> {
        self.server.localize((|| {
            let s = self.server;
            let result = (|| {
                let obj = input.as_object().ok_or_else(|| AccountsError::new(ErrorCode::InvalidArgument, "user must be an object"))?;
                let draft = self.draft(obj)?;
                let password = present(obj, "password").map(|p| self.check_new_password(p));
                // Hash before the uniqueness checks: a taken address or name must cost as much as a
                // new one, or signup timing tells which accounts exist (docs/security.md, "Timing").
                let password_hash = match &password {
                    Some(Ok(p)) => Some(s.hasher.hash(p)?),
                    _ => None,
                };
                if let Some(u) = &draft.username {
                    if s.store.find_user_by_username(u)?.is_some() {
                        return Err(err(ErrorCode::UsernameAlreadyExists));
                    }
                }
                if let Some(e) = &draft.email {
                    if s.store.find_user_by_email(e)?.is_some() {
                        return Err(err(ErrorCode::EmailAlreadyExists));
                    }
                }
                if let Some(Err(e)) = password {
                    return Err(e);
                }
                let draft = match &s.callbacks.validate_new_user {
                    Some(validate) => {
                        let mut shown = draft.profile.clone();
                        if let Some(u) = &draft.username {
                            shown.insert("username".into(), u.clone().into());
                        }
                        if let Some(e) = &draft.email {
                            shown.insert("email".into(), e.clone().into());
                        }
                        // What the host returns is stored; its identifiers pass the same rules again.
                        let returned = validate(Value::Object(shown))?;
                        let obj = returned.as_object().ok_or_else(|| {
                            AccountsError::new(ErrorCode::CallbackError, "validateNewUser must return the user object")
                        })?;
                        self.draft(obj)?
                    }
                    None => Draft { profile: Map::new(), ..draft },
                };
                let id = new_id()?;
                let now = s.now();
                // The verification link of the first address is stored with the user, and mailed
                // after the commit (docs/reliability.md, "Atomic flows").
                let link = match (&draft.email, s.config.services.password.send_verification_email_after_signup) {
                    (Some(address), true) => {
                        let ttl = s.config.services.password.verify_email_token_expiration;
                        Some((address.clone(), s.new_link_token(&id, kinds::VERIFY_EMAIL, address, ttl)?))
                    }
                    _ => None,
                };
                let new_user = NewUser {
                    id: id.clone(),
                    username_key: draft.username.as_deref().map(username_key),
                    username: draft.username,
                    emails: draft.email.into_iter().map(|address| EmailRecord { address, verified: false }).collect(),
                    profile: draft.profile,
                    password_hash,
                    services: Vec::new(),
                    deactivated: false,
                    created_at: now,
                    updated_at: now,
                };
                let stored = store::transaction(s.store(), |w| {
                    w.create_user(&new_user)?;
                    if let Some((_, (_, record))) = &link {
                        w.insert_token(record, TokenScope::KindAndAddress)?;
                    }
                    Ok(())
                });
                if let Err(e) = stored {
                    // As accounts-js: CreateUserError is about storing the user (validation
                    // failures emit nothing); it carries the user as given, never its password.
                    let _ = s.events.emit(events::CREATE_USER_ERROR, || {
                        let mut given = input.clone();
                        if let Some(o) = given.as_object_mut() {
                            o.remove("password");
                        }
                        json!({ "user": given, "error": e.to_json() })
                    });
                    return Err(e);
                }
                Ok((id, link))
            })();
            let (id, link) = result?;
            if link.is_some() || s.events.has(events::CREATE_USER_SUCCESS) {
                let stored = s.store.find_user_by_id(&id)?;
                // accounts-js passes the stored user (here sanitized) to CreateUserSuccess.
                if let Some(shown) = stored.as_ref().map(|u| s.shown_user(u, &[events::CREATE_USER_SUCCESS])).transpose()?.flatten() {
                    s.events.emit(events::CREATE_USER_SUCCESS, || shown)?;
                }
                if let (Some(user), Some((address, (token, _)))) = (&stored, &link) {
                    s.send_mail(MailKind::VerifyEmail, user, address, Some(token))?;
                }
            }
            Ok(id)
        })())
    }

    /// Checks `{user: {id|email|username} | "email-or-username", password}`; returns the user.
    ///
    /// Unknown user, missing hash and wrong password cost one hash verification each and, with
    /// `ambiguousErrorMessages`, all give `InvalidCredentials`. `EmailNotVerified` is only reported
    /// after the password has matched.
    ///
    /// # Errors
    /// `UnrecognizedOptionsForLogin`, `MatchFailed`, `InvalidCredentials`, or (not ambiguous)
    /// `UserNotFound` / `NoPasswordSet` / `IncorrectPassword`; `EmailNotVerified`.
    pub fn authenticate(&self, params: &Value) -> Result<User> {
        self.server.localize((|| {
            let user = self.authenticate_unsanitized(params, &ConnectionInfo::default())?;
            self.server.sanitize(user)
        })())
    }

    /// The user a login selector names: `(user, address when selected by email, account as given)`.
    /// An identifier that cannot name anybody (malformed, NUL bytes) is an unknown user, so it
    /// fails like one (same hashing, same counting) and never reaches the database.
    fn select_user(&self, selector: &Value) -> Result<(Option<User>, Option<String>, String)> {
        let s = self.server;
        let by_email = |raw: &str| -> Result<(Option<User>, Option<String>, String)> {
            match lookup_email(raw) {
                Some(e) => Ok((s.store.find_user_by_email(&e)?, Some(e.clone()), e)),
                None => Ok((None, None, raw.to_string())),
            }
        };
        let by_username = |raw: &str| -> Result<(Option<User>, Option<String>, String)> {
            match lookup_username(raw) {
                Some(n) => Ok((s.store.find_user_by_username(&n)?, None, n)),
                None => Ok((None, None, raw.to_string())),
            }
        };
        match selector {
            Value::String(name) if name.contains('@') => by_email(name),
            Value::String(name) => by_username(name),
            Value::Object(o) => match (o.get("id"), o.get("email"), o.get("username")) {
                (Some(Value::String(id)), _, _) => Ok((s.store.find_user_by_id(id)?, None, id.clone())),
                (_, Some(Value::String(e)), _) => by_email(e),
                (_, _, Some(Value::String(u))) => by_username(u),
                _ => Err(err(ErrorCode::MatchFailed)),
            },
            _ => Err(err(ErrorCode::MatchFailed)),
        }
    }

    pub(crate) fn authenticate_unsanitized(&self, params: &Value, infos: &ConnectionInfo) -> Result<User> {
        let (user, second_factor) = self.authenticate_pending(params, infos)?;
        if let Some(used) = second_factor {
            store::transaction(self.server.store(), |w| used.apply(w))?;
        }
        Ok(user)
    }

    /// Checks the credentials and the second factor; the code is used up only when the caller
    /// applies the returned [`SecondFactorUse`] (with the session, in a login).
    pub(crate) fn authenticate_pending(&self, params: &Value, infos: &ConnectionInfo) -> Result<(User, Option<SecondFactorUse>)> {
        let s = self.server;
        let present = |k: &str| params.get(k).filter(|v| !v.is_null());
        let (Some(selector), Some(password)) = (present("user"), present("password")) else {
            return Err(err(ErrorCode::UnrecognizedOptionsForLogin));
        };
        let Value::String(password) = password else { return Err(err(ErrorCode::MatchFailed)) };
        let (user, by_email, account) = self.select_user(selector)?;
        // Limits count per user when one is found and per identifier as given otherwise: the
        // same number of guesses is refused either way, so a refusal reveals nothing.
        let account = user.as_ref().map_or(account, |u| u.id.clone());
        let who = Guesser { account: Some(&account), ip: infos.ip.as_deref() };
        let user = s.guarded(Guess::Password, &who, || self.check_password(user, password))?;
        if s.config.services.password.require_email_verification {
            let verified_email = match &by_email {
                Some(e) => user.emails.iter().any(|m| &m.address == e && m.verified),
                None => user.emails.iter().any(|m| m.verified),
            };
            if !verified_email {
                return Err(err(ErrorCode::EmailNotVerified));
            }
        }
        let second_factor = self.two_factor().plan_login(&user, params, infos.ip.as_deref())?;
        Ok((user, second_factor))
    }

    /// The password step of a login. Unknown user, missing hash and wrong password each cost one
    /// hash verification; an oversized password costs none and names nobody.
    fn check_password(&self, user: Option<User>, password: &str) -> Result<User> {
        let s = self.server;
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(err(ErrorCode::InvalidCredentials));
        }
        let hash = match &user {
            Some(u) => s.store.find_password_hash(&u.id)?,
            None => None,
        };
        let verified = s.hasher.verify(password, hash.as_deref())?;
        let ambiguous = s.config.ambiguous_error_messages;
        let fail = |specific: ErrorCode| Err(err(if ambiguous { ErrorCode::InvalidCredentials } else { specific }));
        let Some(user) = user else { return fail(ErrorCode::UserNotFound) };
        match verified {
            Verified::NoHash => fail(ErrorCode::NoPasswordSet),
            Verified::Mismatch => fail(ErrorCode::IncorrectPassword),
            Verified::Match { rehash } => {
                if rehash {
                    // Upgrade legacy/weaker hashes; a failure here must not fail a correct login.
                    if let Ok(h) = s.hasher.hash(password) {
                        let _ = s.store.set_password_hash(&user.id, &h, s.now());
                    }
                }
                Ok(user)
            }
        }
    }

    /// The user with this email (case-insensitive), or `None`.
    ///
    /// # Errors
    /// `StorageError`, or the sanitizer's error.
    pub fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let s = self.server;
        let Some(address) = lookup_email(email) else { return Ok(None) };
        s.store.find_user_by_email(&address)?.map(|u| s.sanitize(u)).transpose()
    }

    /// The user with this username (exact match after NFC normalization), or `None`.
    ///
    /// # Errors
    /// `StorageError`, or the sanitizer's error.
    pub fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        let s = self.server;
        let Some(name) = lookup_username(username) else { return Ok(None) };
        s.store.find_user_by_username(&name)?.map(|u| s.sanitize(u)).transpose()
    }

    /// Sets a user's password (an admin operation: no old password needed).
    ///
    /// # Errors
    /// `InvalidPassword`, `UserNotFound`.
    pub fn set_password(&self, user_id: &str, password: &str) -> Result<()> {
        self.server.localize((|| {
            let s = self.server;
            let password = self.check_new_password(&Value::String(password.to_string()))?;
            s.user_or_not_found(user_id)?;
            let hash = s.hasher.hash(&password)?;
            store::transaction(s.store(), |w| {
                w.set_password_hash(user_id, &hash, s.now())?;
                if s.config.services.password.remove_all_reset_password_tokens_after_password_changed {
                    w.delete_tokens(user_id, kinds::RESET_PASSWORD)?;
                }
                Ok(())
            })
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::{default_email_rule, default_username_rule};

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
}
