//! The password service (accounts-js `@accounts/password` basics): users, login, password changes.

use crate::attempts::{Guess, Guesser};
use crate::callbacks::events;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::hashing::Verified;
use crate::identifiers::{lookup_email, lookup_username, normalize_email, normalize_username, username_key};
use crate::secret::new_id;
use crate::server::AccountsServer;
use crate::store::NewUser;
use crate::two_factor::TwoFactor;
use crate::types::{ConnectionInfo, RESERVED_USER_KEYS, User};
use serde_json::{Map, Value, json};

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

fn parse_draft(input: &Value) -> Result<Draft> {
    let obj = input.as_object().ok_or_else(|| AccountsError::new(ErrorCode::InvalidArgument, "user must be an object"))?;
    let username = match obj.get("username") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(normalize_username(s)?),
        Some(_) => return Err(err(ErrorCode::InvalidUsername)),
    };
    let email = match obj.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(normalize_email(s)?),
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
            // Hash before the uniqueness checks: a taken address or name must cost as much as a
            // new one, or signup timing tells which accounts exist (docs/security.md, "Timing").
            let password_hash = password.map(|p| s.hasher.hash(&p)).transpose()?;
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
            let id = new_id()?;
            s.store.create_user(&NewUser {
                id: id.clone(),
                username_key: draft.username.as_deref().map(username_key),
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
        let user = self.authenticate_unsanitized(params, &ConnectionInfo::default())?;
        self.server.sanitize(user)
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
        self.two_factor().check_login(&user, params, infos.ip.as_deref())?;
        Ok(user)
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
        let s = self.server;
        let password = self.check_new_password(&Value::String(password.to_string()))?;
        s.user_or_not_found(user_id)?;
        let hash = s.hasher.hash(&password)?;
        s.store.set_password_hash(user_id, &hash, s.now())
    }
}
