//! Password changes: with a reset or enrollment link, with the old password, or by an administrator.
//! Each writes everything it changes in one transaction (docs/reliability.md, "Atomic flows").

use super::rules::check_new_password;
use crate::attempts::{self, Guess, Guesser};
use crate::callbacks::events;
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::hashing::Verified;
use crate::links::{Links, check_token, kinds, verified_by_link};
use crate::mail::MailKind;
use crate::sessions::Sessions;
use crate::store::{self, SessionRecord};
use crate::two_factor::{SecondFactorUse, TwoFactor};
use crate::types::{ConnectionInfo, LoginResult, User};
use serde_json::json;

fn err(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

/// The kinds of link a reset accepts.
const RESET_KINDS: [&str; 2] = [kinds::RESET_PASSWORD, kinds::ENROLL_ACCOUNT];

/// A reset checked and ready to write.
struct Reset {
    user: User,
    /// The address the link went to.
    address: String,
    hash: String,
    /// The second factor, checked, to use up with the reset.
    second_factor: Option<SecondFactorUse>,
    /// The session to start, when the reset logs the user in.
    session: Option<(SessionRecord, LoginResult)>,
}

/// See [`super::Password::reset_password`].
pub(super) fn reset_password(
    ctx: &Context,
    token: &str,
    new_password: &str,
    code: Option<&str>,
    infos: &ConnectionInfo,
) -> Result<Option<LoginResult>> {
    check_token(token)?;
    let password = check_new_password(ctx, &json!(new_password)).map_err(|_| err(ErrorCode::InvalidNewPassword))?;
    let reset = prepare_reset(ctx, token, &password, code, infos)?;
    let (kind, removed_passkeys) = write_reset(ctx, token, &reset)?;
    for passkey_id in &removed_passkeys {
        ctx.events().emit(events::PASSKEY_REMOVED, || json!({ "userId": reset.user.id, "passkeyId": passkey_id }))?;
    }
    let opts = &ctx.config().services.password;
    if opts.notify_user_after_password_changed && kind == kinds::RESET_PASSWORD {
        ctx.send_mail(MailKind::PasswordChanged, &reset.user, &reset.address, None)?;
    }
    if let Some(shown) = ctx.shown_user(&reset.user, &[events::RESET_PASSWORD_SUCCESS])? {
        ctx.events().emit(events::RESET_PASSWORD_SUCCESS, || shown)?;
    }
    Ok(reset.session.map(|(_, login)| login))
}

/// Everything a reset checks before it writes: the link (left in place), its user and address,
/// the second factor (a wrong code changes nothing), the new hash and the session to start.
fn prepare_reset(ctx: &Context, token: &str, password: &str, code: Option<&str>, infos: &ConnectionInfo) -> Result<Reset> {
    let opts = &ctx.config().services.password;
    let ip = infos.ip.as_deref();
    let peeked = Links::new(ctx).peek(token, &RESET_KINDS, ip, ErrorCode::ResetPasswordLinkExpired)?;
    let user = ctx.user_or_not_found(&peeked.user_id)?;
    let address = peeked.address.clone().unwrap_or_default();
    if !user.emails.iter().any(|e| e.address == address) {
        return Err(err(ErrorCode::ResetPasswordLinkUnknownAddress));
    }
    // One read of the two-factor document either way. Without a valid code a user with two-factor
    // on gets the new password but no session: a mailbox alone never opens one.
    let two_factor = TwoFactor::new(ctx);
    let (second_factor, session_allowed) = match (opts.return_tokens_after_reset_password, code) {
        (true, Some(c)) => (two_factor.plan_login(&user, &json!({ "code": c }), ip)?, true),
        (true, None) => (None, !two_factor.is_set(&user.id)?),
        (false, _) => (None, false),
    };
    let hash = ctx.hasher().hash(password)?;
    // The user as they will be: the address the link went to is verified by following it.
    let mut after = user.clone();
    verified_by_link(&mut after, &address);
    let session = if session_allowed { Some(Sessions::new(ctx).prepare(&after, infos, None)?) } else { None };
    Ok(Reset { user, address, hash, second_factor, session })
}

/// Link used, password set, address verified, other links removed, sessions ended, the code used
/// up, the passkeys removed and the new session stored: all or nothing. Returns the kind of link
/// used and the ids of the passkeys removed.
fn write_reset(ctx: &Context, token: &str, reset: &Reset) -> Result<(String, Vec<String>)> {
    let opts = &ctx.config().services.password;
    let links = Links::new(ctx);
    let Reset { user, address, hash, second_factor, session } = reset;
    store::transaction(ctx.store(), |w| {
        let record = links.take(w, token, &RESET_KINDS, ErrorCode::ResetPasswordLinkExpired)?;
        if record.user_id != user.id || record.address.as_deref() != Some(address.as_str()) {
            return Err(err(ErrorCode::ResetPasswordLinkExpired)); // replaced since the peek
        }
        if let Some(used) = second_factor {
            used.apply(w)?;
        }
        let now = ctx.now();
        // The first address this account proves: whoever set it up may not be the address's
        // owner (an attacker signing up with a victim's address, then linking a provider or adding
        // an address of theirs). What it held before this proof goes, so the owner gets the
        // account alone (docs/security.md, "Pre-account hijack").
        let first_proof = !user.emails.iter().any(|e| e.verified);
        w.set_password_hash(&user.id, hash, now)?;
        w.verify_email(&user.id, address, now)?;
        // A reset is account recovery through the mailbox: whoever held the account before it
        // (a stolen session could have added a passkey) keeps no passkey. The owner registers
        // theirs again once signed in (docs/passkeys.md, "Account recovery").
        let removed_passkeys = w.delete_passkeys(&user.id)?;
        if first_proof {
            w.drop_unproven_holds(&user.id, address, now)?;
        }
        w.delete_tokens(&user.id, kinds::RESET_PASSWORD)?;
        w.delete_tokens(&user.id, kinds::ENROLL_ACCOUNT)?;
        if opts.invalidate_all_sessions_after_password_reset || first_proof {
            w.invalidate_all_sessions(&user.id, &[], now)?;
        }
        if let Some((record, _)) = session {
            w.create_session(record)?;
        }
        Ok((record.kind, removed_passkeys))
    })
}

/// See [`super::Password::change_password`].
pub(super) fn change_password(ctx: &Context, user_id: &str, old_password: &str, new_password: &str) -> Result<()> {
    let opts = &ctx.config().services.password;
    let password = check_new_password(ctx, &json!(new_password))?; // accounts-js: InvalidPassword here
    let user = ctx.user_or_not_found(user_id)?;
    check_old_password(ctx, user_id, old_password)?;
    let hash = ctx.hasher().hash(&password)?;
    store::transaction(ctx.store(), |w| {
        let now = ctx.now();
        w.set_password_hash(user_id, &hash, now)?;
        if opts.invalidate_all_sessions_after_password_changed {
            w.invalidate_all_sessions(user_id, &[], now)?;
        }
        if opts.remove_all_reset_password_tokens_after_password_changed {
            w.delete_tokens(user_id, kinds::RESET_PASSWORD)?;
        }
        Ok(())
    })?;
    if opts.notify_user_after_password_changed
        && let Some(first) = user.emails.first()
    {
        ctx.send_mail(MailKind::PasswordChanged, &user, &first.address, None)?;
    }
    match ctx.shown_user(&user, &[events::CHANGE_PASSWORD_SUCCESS])? {
        Some(shown) => ctx.events().emit(events::CHANGE_PASSWORD_SUCCESS, || shown),
        None => Ok(()),
    }
}

/// Guessing the old password through a stolen session counts like guessing it at login.
fn check_old_password(ctx: &Context, user_id: &str, old_password: &str) -> Result<()> {
    let ambiguous = |c: ErrorCode| err(if ctx.config().ambiguous_error_messages { ErrorCode::InvalidCredentials } else { c });
    attempts::guarded(ctx, Guess::Password, &Guesser { account: Some(user_id), ip: None }, || {
        match ctx.hasher().verify(old_password, ctx.store().find_password_hash(user_id)?.as_deref())? {
            Verified::Match { .. } => Ok(()),
            Verified::Mismatch => Err(ambiguous(ErrorCode::IncorrectPassword)),
            Verified::NoHash => Err(ambiguous(ErrorCode::NoPasswordSet)),
        }
    })
}

/// See [`super::Password::set_password`].
pub(super) fn set_password(ctx: &Context, user_id: &str, password: &str) -> Result<()> {
    let password = check_new_password(ctx, &json!(password))?;
    ctx.user_or_not_found(user_id)?;
    let hash = ctx.hasher().hash(&password)?;
    store::transaction(ctx.store(), |w| {
        w.set_password_hash(user_id, &hash, ctx.now())?;
        if ctx.config().services.password.remove_all_reset_password_tokens_after_password_changed {
            w.delete_tokens(user_id, kinds::RESET_PASSWORD)?;
        }
        Ok(())
    })
}
