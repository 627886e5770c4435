//! createUser: validate, hash, check uniqueness, let the host shape the user, store the user and
//! their verification link in one transaction, then announce and mail.

use super::rules::{Draft, check_new_password, draft, present};
use crate::callbacks::events;
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::identifiers::username_key;
use crate::links::{Links, kinds};
use crate::mail::MailKind;
use crate::secret::new_id;
use crate::store::{self, NewUser, TokenRecord, TokenScope};
use crate::types::EmailRecord;
use serde_json::{Map, Value, json};

fn err(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

/// A verification link stored with the new user: the address, the token to mail, its row.
type SignupLink = (String, String, TokenRecord);

/// Creates a user; see [`super::Password::create_user`] for the order of the checks.
pub(super) fn create_user(ctx: &Context, input: &Value) -> Result<String> {
    let obj = input.as_object().ok_or_else(|| AccountsError::new(ErrorCode::InvalidArgument, "user must be an object"))?;
    let draft = draft(ctx, obj)?;
    let password = present(obj, "password").map(|p| check_new_password(ctx, p));
    // Hash before the uniqueness checks: a taken address or name must cost as much as a new one,
    // or signup timing tells which accounts exist (docs/security.md, "Timing").
    let password_hash = match &password {
        Some(Ok(p)) => Some(ctx.hasher().hash(p)?),
        _ => None,
    };
    // accounts-js reports a taken identifier before a bad password; with ambiguous errors that
    // order would tell (a taken address's answer is hidden, a new one's password error is not), so
    // there the password is judged first (docs/security.md, "Timing").
    if ctx.config().ambiguous_error_messages
        && let Some(Err(e)) = &password
    {
        return Err(e.clone());
    }
    check_unique(ctx, &draft)?;
    if let Some(Err(e)) = password {
        return Err(e);
    }
    let draft = shaped_by_host(ctx, draft)?;
    let id = new_id()?;
    let link = verification_link(ctx, &id, &draft)?;
    let now = ctx.now();
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
    stored(ctx, input, &new_user, link.as_ref())?;
    announced(ctx, &id, link.as_ref())?;
    Ok(id)
}

/// `UsernameAlreadyExists` / `EmailAlreadyExists`, in accounts-js's order.
fn check_unique(ctx: &Context, draft: &Draft) -> Result<()> {
    if let Some(u) = &draft.username
        && ctx.store().find_user_by_username(u)?.is_some()
    {
        return Err(err(ErrorCode::UsernameAlreadyExists));
    }
    if let Some(e) = &draft.email
        && ctx.store().find_user_by_email(e)?.is_some()
    {
        return Err(err(ErrorCode::EmailAlreadyExists));
    }
    Ok(())
}

/// Without `validateNewUser` only the identifiers are kept; with it, what it returns is stored,
/// its identifiers passing the same rules again.
fn shaped_by_host(ctx: &Context, draft: Draft) -> Result<Draft> {
    let Some(validate) = &ctx.callbacks().validate_new_user else { return Ok(Draft { profile: Map::new(), ..draft }) };
    let mut shown = draft.profile.clone();
    if let Some(u) = &draft.username {
        shown.insert("username".into(), u.clone().into());
    }
    if let Some(e) = &draft.email {
        shown.insert("email".into(), e.clone().into());
    }
    let returned = validate(Value::Object(shown))?;
    let obj = returned.as_object().ok_or_else(|| AccountsError::new(ErrorCode::CallbackError, "validateNewUser must return the user object"))?;
    super::rules::draft(ctx, obj)
}

/// The verification link of the first address when `sendVerificationEmailAfterSignup` is on.
fn verification_link(ctx: &Context, id: &str, draft: &Draft) -> Result<Option<SignupLink>> {
    let opts = &ctx.config().services.password;
    match (&draft.email, opts.send_verification_email_after_signup) {
        (Some(address), true) => {
            let (token, record) = Links::new(ctx).new_token(id, kinds::VERIFY_EMAIL, address, opts.verify_email_token_expiration)?;
            Ok(Some((address.clone(), token, record)))
        }
        _ => Ok(None),
    }
}

/// The user and their link in one transaction (docs/reliability.md, "Atomic flows"). As
/// accounts-js, a failure here (not a validation failure) emits `CreateUserError` with the user as
/// given, never its password.
fn stored(ctx: &Context, input: &Value, new_user: &NewUser, link: Option<&SignupLink>) -> Result<()> {
    let result = store::transaction(ctx.store(), |w| {
        w.create_user(new_user)?;
        if let Some((_, _, record)) = link {
            w.insert_token(record, TokenScope::KindAndAddress)?;
        }
        Ok(())
    });
    if let Err(e) = &result {
        let _ = ctx.events().emit(events::CREATE_USER_ERROR, || {
            let mut given = input.clone();
            if let Some(o) = given.as_object_mut() {
                o.remove("password");
            }
            json!({ "user": given, "error": e.to_json() })
        });
    }
    result
}

/// After the commit: `CreateUserSuccess` with the stored (sanitized) user, and the verification mail.
fn announced(ctx: &Context, id: &str, link: Option<&SignupLink>) -> Result<()> {
    if link.is_none() && !ctx.events().has(events::CREATE_USER_SUCCESS) {
        return Ok(());
    }
    let stored = ctx.store().find_user_by_id(id)?;
    if let Some(shown) = stored.as_ref().map(|u| ctx.shown_user(u, &[events::CREATE_USER_SUCCESS])).transpose()?.flatten() {
        ctx.events().emit(events::CREATE_USER_SUCCESS, || shown)?;
    }
    if let (Some(user), Some((address, token, _))) = (&stored, link) {
        ctx.send_mail(MailKind::VerifyEmail, user, address, Some(token))?;
    }
    Ok(())
}
