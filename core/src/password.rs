//! The password service (accounts-js `@accounts/password` basics): users, login, password changes.

use crate::callbacks::events;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::hashing::Verified;
use crate::secret::new_id;
use crate::server::AccountsServer;
use crate::store::NewUser;
use crate::two_factor::TwoFactor;
use crate::types::{RESERVED_USER_KEYS, User};
use serde_json::{Map, Value, json};

/// Longest accepted password in bytes; longer input is refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 4096;
/// Longest accepted username or email in bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 320;

/// The password service of one server; get it with [`AccountsServer::password`].
pub struct Password<'a> {
    pub(crate) server: &'a AccountsServer,
}

fn err(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

/// accounts-js's rule: something, `@`, something with a dot after it; no spaces.
pub(crate) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else { return false };
    !local.is_empty()
        && !s.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// The fields of a createUser input, validated.
struct Draft {
    username: Option<String>,
    email: Option<String>,
    profile: Map<String, Value>,
}

fn parse_draft(input: &Value) -> Result<Draft> {
    let obj = input.as_object().ok_or_else(|| AccountsError::new(ErrorCode::InvalidArgument, "user must be an object"))?;
    let username = match obj.get("username") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= MAX_IDENTIFIER_BYTES => Some(s.clone()),
        Some(_) => return Err(err(ErrorCode::InvalidUsername)),
    };
    let email = match obj.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= MAX_IDENTIFIER_BYTES && is_email(s.trim()) => Some(s.trim().to_lowercase()),
        Some(_) => return Err(err(ErrorCode::InvalidEmail)),
    };
    if username.is_none() && email.is_none() {
        return Err(err(ErrorCode::UsernameOrEmailRequired));
    }
    let profile = obj.iter().filter(|(k, _)| !RESERVED_USER_KEYS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok(Draft { username, email, profile })
}

impl<'a> Password<'a> {
    /// The two-factor part of the service (accounts-js `password.twoFactor`).
    pub fn two_factor(&self) -> TwoFactor<'a> {
        TwoFactor { server: self.server }
    }
}

impl Password<'_> {
    pub(crate) fn check_new_password(&self, password: &Value) -> Result<String> {
        let min = self.server.config.services.password.min_password_length;
        match password {
            Value::String(p) if p.chars().count() >= min && p.len() <= MAX_PASSWORD_BYTES => Ok(p.clone()),
            _ => Err(err(ErrorCode::InvalidPassword)),
        }
    }

    /// Creates a user from `{username?, email?, password?, ...profile}`; returns the new id.
    ///
    /// # Errors
    /// `InvalidArgument` (not an object), `UsernameOrEmailRequired`, `InvalidUsername`, `InvalidEmail`,
    /// `InvalidPassword`, `EmailAlreadyExists`, `UsernameAlreadyExists`, or `validateNewUser`'s error.
    pub fn create_user(&self, input: &Value) -> Result<String> {
        let s = self.server;
        let result = (|| {
            let mut draft = parse_draft(input)?;
            let password = match input.get("password") {
                None | Some(Value::Null) => None,
                Some(p) => Some(self.check_new_password(p)?),
            };
            if let Some(validate) = &s.callbacks.validate_new_user {
                let mut shown = draft.profile.clone();
                if let Some(u) = &draft.username {
                    shown.insert("username".into(), u.clone().into());
                }
                if let Some(e) = &draft.email {
                    shown.insert("email".into(), e.clone().into());
                }
                // The callback may change fields; whatever it returns is validated again.
                draft = parse_draft(&validate(Value::Object(shown))?)?;
            }
            if let Some(e) = &draft.email {
                if s.store.find_user_by_email(e)?.is_some() {
                    return Err(err(ErrorCode::EmailAlreadyExists));
                }
            }
            if let Some(u) = &draft.username {
                if s.store.find_user_by_username(u)?.is_some() {
                    return Err(err(ErrorCode::UsernameAlreadyExists));
                }
            }
            let password_hash = password.map(|p| s.hasher.hash(&p)).transpose()?;
            let id = new_id()?;
            s.store.create_user(&NewUser {
                id: id.clone(),
                username: draft.username,
                email: draft.email,
                profile: draft.profile,
                password_hash,
                now: s.now(),
            })?;
            Ok(id)
        })();
        match result {
            Ok(id) => {
                s.events.emit(events::CREATE_USER_SUCCESS, || json!({ "userId": id }))?;
                if s.config.services.password.send_verification_email_after_signup {
                    let first = s.store.find_user_by_id(&id)?.and_then(|u| u.emails.into_iter().next());
                    if let Some(email) = first {
                        self.send_verification_email(&email.address)?;
                    }
                }
                Ok(id)
            }
            Err(e) => {
                let _ = s.events.emit(events::CREATE_USER_ERROR, || json!({ "error": e.to_json() }));
                Err(e)
            }
        }
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
        let user = self.authenticate_unsanitized(params)?;
        self.server.sanitize(user)
    }

    pub(crate) fn authenticate_unsanitized(&self, params: &Value) -> Result<User> {
        let s = self.server;
        let present = |k: &str| params.get(k).filter(|v| !v.is_null());
        let (Some(selector), Some(password)) = (present("user"), present("password")) else {
            return Err(err(ErrorCode::UnrecognizedOptionsForLogin));
        };
        let Value::String(password) = password else { return Err(err(ErrorCode::MatchFailed)) };
        let (user, by_email) = match selector {
            Value::String(name) if name.contains('@') => {
                let e = name.trim().to_lowercase();
                (s.store.find_user_by_email(&e)?, Some(e))
            }
            Value::String(name) => (s.store.find_user_by_username(name)?, None),
            Value::Object(o) => match (o.get("id"), o.get("email"), o.get("username")) {
                (Some(Value::String(id)), _, _) => (s.store.find_user_by_id(id)?, None),
                (_, Some(Value::String(e)), _) => {
                    let e = e.trim().to_lowercase();
                    (s.store.find_user_by_email(&e)?, Some(e))
                }
                (_, _, Some(Value::String(u))) => (s.store.find_user_by_username(u)?, None),
                _ => return Err(err(ErrorCode::MatchFailed)),
            },
            _ => return Err(err(ErrorCode::MatchFailed)),
        };
        let hash = match &user {
            Some(u) => s.store.find_password_hash(&u.id)?,
            None => None,
        };
        let verified = s.hasher.verify(password, hash.as_deref())?;
        let ambiguous = s.config.ambiguous_error_messages;
        let fail = |specific: ErrorCode| Err(err(if ambiguous { ErrorCode::InvalidCredentials } else { specific }));
        let Some(user) = user else { return fail(ErrorCode::UserNotFound) };
        match verified {
            Verified::NoHash => return fail(ErrorCode::NoPasswordSet),
            Verified::Mismatch => return fail(ErrorCode::IncorrectPassword),
            Verified::Match { rehash } => {
                if rehash {
                    // Upgrade legacy/weaker hashes; a failure here must not fail a correct login.
                    if let Ok(h) = s.hasher.hash(password) {
                        let _ = s.store.set_password_hash(&user.id, &h, s.now());
                    }
                }
            }
        }
        if s.config.services.password.require_email_verification {
            let verified_email = match &by_email {
                Some(e) => user.emails.iter().any(|m| &m.address == e && m.verified),
                None => user.emails.iter().any(|m| m.verified),
            };
            if !verified_email {
                return Err(err(ErrorCode::EmailNotVerified));
            }
        }
        self.two_factor().check_login(&user, params)?;
        Ok(user)
    }

    /// The user with this email (case-insensitive), or `None`.
    ///
    /// # Errors
    /// `StorageError`, or the sanitizer's error.
    pub fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let s = self.server;
        s.store.find_user_by_email(&email.trim().to_lowercase())?.map(|u| s.sanitize(u)).transpose()
    }

    /// The user with this username (exact match), or `None`.
    ///
    /// # Errors
    /// `StorageError`, or the sanitizer's error.
    pub fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        let s = self.server;
        s.store.find_user_by_username(username)?.map(|u| s.sanitize(u)).transpose()
    }

    /// Sets a user's password (an admin operation: no old password needed).
    ///
    /// # Errors
    /// `InvalidPassword`, `UserNotFound`.
    pub fn set_password(&self, user_id: &str, password: &str) -> Result<()> {
        let s = self.server;
        let password = self.check_new_password(&Value::String(password.to_string()))?;
        s.user_or_not_found(user_id)?;
        let hash = s.hasher.hash(&password)?;
        s.store.set_password_hash(user_id, &hash, s.now())
    }
}

#[cfg(test)]
mod tests {
    use super::is_email;

    #[test]
    fn email_shapes() {
        for ok in ["a@b.co", "first.last+tag@example.org", "x@sub.domain.io"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a b@c.de", "a@.com", "a@com."] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}
