//! Password authentication: select the user, check the password under the attempt limits, check
//! the address's verification and the second factor.

use super::rules::MAX_PASSWORD_BYTES;
use crate::attempts::{self, Guess, Guesser};
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::hashing::Verified;
use crate::identifiers::{lookup_email, lookup_username};
use crate::two_factor::{SecondFactorUse, TwoFactor};
use crate::types::{ConnectionInfo, User};
use serde_json::Value;

fn err(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

/// Who a login selector names.
struct Selected {
    user: Option<User>,
    /// The address, when the selector named one.
    by_email: Option<String>,
    /// The account as given (normalized when it could be), for the attempt counters.
    account: String,
}

/// Checks the credentials and the second factor; the code is used up only when the caller
/// applies the returned [`SecondFactorUse`] (with the session, in a login).
pub(super) fn authenticate_pending(ctx: &Context, params: &Value, infos: &ConnectionInfo) -> Result<(User, Option<SecondFactorUse>)> {
    // An empty string is missing, as in accounts-js (`if (!user || !password)`): such a login
    // is malformed, not a wrong guess, so it is not counted.
    let present = |k: &str| params.get(k).filter(|v| !v.is_null() && v.as_str() != Some(""));
    let (Some(selector), Some(password)) = (present("user"), present("password")) else {
        return Err(err(ErrorCode::UnrecognizedOptionsForLogin));
    };
    let Value::String(password) = password else { return Err(err(ErrorCode::MatchFailed)) };
    let selected = select_user(ctx, selector)?;
    // Limits count per user when one is found and per identifier as given otherwise: the same
    // number of guesses is refused either way, so a refusal reveals nothing.
    let account = selected.user.as_ref().map_or(selected.account, |u| u.id.clone());
    let who = Guesser { account: Some(&account), ip: infos.ip.as_deref() };
    let user = attempts::guarded(ctx, Guess::Password, &who, || check_password(ctx, selected.user, password))?;
    check_verified(ctx, &user, selected.by_email.as_deref())?;
    let second_factor = TwoFactor::new(ctx).plan_login(&user, params, infos.ip.as_deref())?;
    Ok((user, second_factor))
}

/// The user a login selector (`{id|email|username}` or `"email-or-username"`) names. An identifier
/// that cannot name anybody (malformed, NUL bytes) is an unknown user, so it fails like one (same
/// hashing, same counting) and never reaches the database.
fn select_user(ctx: &Context, selector: &Value) -> Result<Selected> {
    let store = ctx.store();
    let by_email = |raw: &str| -> Result<Selected> {
        Ok(match lookup_email(raw) {
            Some(e) => Selected { user: store.find_user_by_email(&e)?, by_email: Some(e.clone()), account: e },
            None => Selected { user: None, by_email: None, account: raw.to_string() },
        })
    };
    let by_username = |raw: &str| -> Result<Selected> {
        Ok(match lookup_username(raw) {
            Some(n) => Selected { user: store.find_user_by_username(&n)?, by_email: None, account: n },
            None => Selected { user: None, by_email: None, account: raw.to_string() },
        })
    };
    match selector {
        Value::String(name) if name.contains('@') => by_email(name),
        Value::String(name) => by_username(name),
        Value::Object(o) => match (o.get("id"), o.get("email"), o.get("username")) {
            (Some(Value::String(id)), _, _) => Ok(Selected { user: store.find_user_by_id(id)?, by_email: None, account: id.clone() }),
            (_, Some(Value::String(e)), _) => by_email(e),
            (_, _, Some(Value::String(u))) => by_username(u),
            // `{}` names nobody: an unknown user, as in accounts-js (hashed and counted alike).
            (None, None, None) => Ok(Selected { user: None, by_email: None, account: String::new() }),
            _ => Err(err(ErrorCode::MatchFailed)),
        },
        _ => Err(err(ErrorCode::MatchFailed)),
    }
}

/// The password step. Unknown user, missing hash and wrong password each cost one hash
/// verification; an oversized password costs none and names nobody.
fn check_password(ctx: &Context, user: Option<User>, password: &str) -> Result<User> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(err(ErrorCode::InvalidCredentials));
    }
    let hash = match &user {
        Some(u) => ctx.store().find_password_hash(&u.id)?,
        None => None,
    };
    let verified = ctx.hasher().verify(password, hash.as_deref())?;
    let ambiguous = ctx.config().ambiguous_error_messages;
    let fail = |specific: ErrorCode| Err(err(if ambiguous { ErrorCode::InvalidCredentials } else { specific }));
    let Some(user) = user else { return fail(ErrorCode::UserNotFound) };
    match verified {
        Verified::NoHash => fail(ErrorCode::NoPasswordSet),
        Verified::Mismatch => fail(ErrorCode::IncorrectPassword),
        Verified::Match { rehash } => {
            if rehash {
                // Upgrade legacy/weaker hashes; a failure here must not fail a correct login.
                if let Ok(h) = ctx.hasher().hash(password) {
                    let _ = ctx.store().set_password_hash(&user.id, &h, ctx.now());
                }
            }
            Ok(user)
        }
    }
}

/// With `requireEmailVerification`, the address logged in with (or, by username, any address)
/// must be verified; reported only after the password matched.
fn check_verified(ctx: &Context, user: &User, by_email: Option<&str>) -> Result<()> {
    if !ctx.config().services.password.require_email_verification {
        return Ok(());
    }
    let verified = match by_email {
        Some(e) => user.emails.iter().any(|m| m.address == e && m.verified),
        None => user.emails.iter().any(|m| m.verified),
    };
    if verified { Ok(()) } else { Err(err(ErrorCode::EmailNotVerified)) }
}
