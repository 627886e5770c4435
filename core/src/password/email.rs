//! A user's addresses and the links mailed to them: add and remove addresses, send verification,
//! reset and enrollment links, verify an address.

use super::rules::check_email;
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::identifiers::normalize_email;
use crate::links::{Links, check_token, kinds};
use crate::mail::MailKind;
use crate::store::{self, TokenScope};
use crate::types::User;
use serde_json::Value;
use std::time::Duration;

fn err(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

/// Finds the user of an address for a "send me a link" request. In ambiguous mode an unknown
/// address is `Ok(None)` (the caller returns success silently, after a decoy of the same work);
/// otherwise `UserNotFound`.
fn user_for_link(ctx: &Context, address: &str, kind: MailKind, always_report: bool) -> Result<Option<(User, String)>> {
    let address = normalize_email(address)?;
    match ctx.store().find_user_by_email(&address)? {
        Some(u) => Ok(Some((u, address))),
        None if ctx.config().ambiguous_error_messages && !always_report => {
            Links::new(ctx).decoy(kind, &address)?;
            Ok(None)
        }
        None => Err(err(ErrorCode::UserNotFound)),
    }
}

/// Mails a fresh link of `kind` to the user of `address` (nothing, silently, in ambiguous mode
/// for an unknown address unless `always_report`).
fn mail_link(ctx: &Context, address: &str, kind: MailKind, link: (&str, Duration, TokenScope), always_report: bool) -> Result<()> {
    let Some((user, address)) = user_for_link(ctx, address, kind, always_report)? else { return Ok(()) };
    let (token_kind, ttl, scope) = link;
    let token = Links::new(ctx).issue(&user.id, token_kind, &address, ttl, scope)?;
    ctx.send_mail(kind, &user, &address, Some(&token))
}

pub(super) fn add_email(ctx: &Context, user_id: &str, email: &str, verified: bool) -> Result<()> {
    let address = check_email(ctx, &Value::String(email.to_string()))?;
    ctx.store().add_email(user_id, &address, verified, ctx.now())
}

pub(super) fn remove_email(ctx: &Context, user_id: &str, email: &str) -> Result<()> {
    let address = normalize_email(email)?;
    let user = ctx.user_or_not_found(user_id)?;
    // A user must keep a way to be found: without username, the last address stays.
    if user.username.is_none() && user.emails.len() == 1 && user.emails[0].address == address {
        return Err(err(ErrorCode::NoEmailSet));
    }
    if ctx.store().remove_email(user_id, &address, ctx.now())? { Ok(()) } else { Err(err(ErrorCode::EmailNotFound)) }
}

pub(super) fn send_verification_email(ctx: &Context, address: &str) -> Result<()> {
    let Some((user, address)) = user_for_link(ctx, address, MailKind::VerifyEmail, false)? else { return Ok(()) };
    let links = Links::new(ctx);
    if user.emails.iter().any(|e| e.address == address && e.verified) {
        // No mail, but the same work as an unverified address, so timing does not tell them apart.
        return links.decoy(MailKind::VerifyEmail, &address);
    }
    let ttl = ctx.config().services.password.verify_email_token_expiration;
    let token = links.issue(&user.id, kinds::VERIFY_EMAIL, &address, ttl, TokenScope::KindAndAddress)?;
    ctx.send_mail(MailKind::VerifyEmail, &user, &address, Some(&token))
}

pub(super) fn verify_email(ctx: &Context, token: &str) -> Result<()> {
    check_token(token)?;
    let links = Links::new(ctx);
    // Link used and address verified together, or neither (docs/reliability.md, "Atomic flows").
    store::transaction(ctx.store(), |w| {
        let record = links.take(w, token, &[kinds::VERIFY_EMAIL], ErrorCode::VerifyEmailLinkExpired)?;
        let address = record.address.unwrap_or_default();
        if !w.verify_email(&record.user_id, &address, ctx.now())? {
            return Err(err(ErrorCode::VerifyEmailLinkUnknownAddress));
        }
        Ok(())
    })
}

pub(super) fn send_reset_password_email(ctx: &Context, address: &str) -> Result<()> {
    let ttl = ctx.config().services.password.password_reset_token_expiration;
    mail_link(ctx, address, MailKind::ResetPassword, (kinds::RESET_PASSWORD, ttl, TokenScope::Kind), false)
}

/// An administrator's call, so an unknown address is always reported.
pub(super) fn send_enrollment_email(ctx: &Context, address: &str) -> Result<()> {
    let ttl = ctx.config().services.password.password_enroll_token_expiration;
    mail_link(ctx, address, MailKind::EnrollAccount, (kinds::ENROLL_ACCOUNT, ttl, TokenScope::Kind), true)
}
