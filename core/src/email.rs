//! Email addresses and the mailed one-time links of the password service: verification, reset,
//! enrollment; plus change/reset password.
//!
//! Every link token is 256 random bits, stored only as its SHA-256 digest, expires, and is
//! deleted when used (single use even under concurrent presentation).

use crate::attempts::{Guess, Guesser};
use crate::callbacks::events;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::hashing::Verified;
use crate::identifiers::normalize_email;
use crate::mail::MailKind;
use crate::password::Password;
use crate::secret::{digest, random_hex};
use crate::server::AccountsServer;
use crate::store::{self, TokenRecord, TokenScope, Writes};
use crate::types::{ConnectionInfo, LoginResult, User};
use serde_json::json;
use std::time::Duration;

/// Token kinds as stored in the `tokens` table.
pub(crate) mod kinds {
    pub const VERIFY_EMAIL: &str = "verifyEmail";
    pub const RESET_PASSWORD: &str = "resetPassword";
    pub const ENROLL_ACCOUNT: &str = "enrollAccount";
    pub const MAGIC_LINK: &str = "magicLink";
}

fn err(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

/// Normalizes and checks an address given by a caller (see `identifiers::normalize_email`).
pub(crate) fn normalize_address(address: &str) -> Result<String> {
    normalize_email(address)
}

fn ttl_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl AccountsServer {
    /// Creates a one-time token for `user_id`, stores its digest (replacing the older tokens in
    /// `scope`) and returns the token.
    pub(crate) fn issue_link_token(&self, user_id: &str, kind: &str, address: &str, ttl: Duration, scope: TokenScope) -> Result<String> {
        let (token, record) = self.new_link_token(user_id, kind, address, ttl)?;
        self.store.insert_token(&record, scope)?;
        Ok(token)
    }

    /// A new one-time token and the row that stores its digest (not stored yet).
    pub(crate) fn new_link_token(&self, user_id: &str, kind: &str, address: &str, ttl: Duration) -> Result<(String, TokenRecord)> {
        let token = random_hex(32)?;
        let now = self.now();
        let record = TokenRecord {
            digest: digest(&token),
            user_id: user_id.to_string(),
            kind: kind.to_string(),
            address: Some(address.to_string()),
            expires_at: now.saturating_add(ttl_ms(ttl)),
            created_at: now,
        };
        Ok((token, record))
    }

    /// A live token of one of `kinds`, left in place (a flow that may still fail uses it up only at
    /// the end). Unknown, used and expired tokens give `expired` and count against the link-token
    /// limits of the caller's IP.
    pub(crate) fn peek_link_token(&self, token: &str, kinds: &[&str], ip: Option<&str>, expired: ErrorCode) -> Result<TokenRecord> {
        check_token(token)?;
        self.guarded(Guess::LinkToken, &Guesser { account: None, ip }, || {
            let found = self.store.find_token(&digest(token))?;
            found.filter(|r| kinds.contains(&r.kind.as_str()) && r.expires_at > self.now()).ok_or_else(|| err(expired))
        })
    }

    /// Consumes, within a flow's transaction, a live token of one of `kinds`; `expired` when it is
    /// unknown, used or expired (the transaction then rolls back and changes nothing).
    pub(crate) fn take_link_token(&self, w: &mut dyn Writes, token: &str, kinds: &[&str], expired: ErrorCode) -> Result<TokenRecord> {
        take_live_token(w, token, kinds, self.now(), expired)
    }

    /// What an unknown address costs in ambiguous mode: the same token work, a write transaction that
    /// leaves nothing behind, and a mail prepared but not sent. A slow `sendMail` still shows in the
    /// timing of known addresses: hosts should enqueue mail, not send it inline.
    pub(crate) fn silent_unknown_address(&self, kind: MailKind, address: &str) -> Result<()> {
        let token = random_hex(32)?;
        self.store.decoy_write(&digest(&token), self.now())?;
        let _ = crate::mail::prepare(&self.config.email_templates, &self.config.site_url, kind, address, Some(&token));
        Ok(())
    }
}

/// [`AccountsServer::take_link_token`] at a given time (for writes that run after the call that
/// prepared them, e.g. a login's completion).
pub(crate) fn take_live_token(w: &mut dyn Writes, token: &str, kinds: &[&str], now: i64, expired: ErrorCode) -> Result<TokenRecord> {
    let record = w.take_token(&digest(token), kinds)?;
    record.filter(|r| r.expires_at > now).ok_or_else(|| err(expired))
}

/// `user` as they are once the link mailed to `address` has been followed: that address is verified.
pub(crate) fn verified_by_link(user: &mut User, address: &str) {
    user.emails.iter_mut().filter(|e| e.address == address).for_each(|e| e.verified = true);
}

/// A token argument: a non-empty string of sane length.
pub(crate) fn check_token(token: &str) -> Result<()> {
    if token.is_empty() || token.len() > 256 {
        return Err(err(ErrorCode::InvalidToken));
    }
    Ok(())
}

impl Password<'_> {
    /// Finds the user of an address for a "send me a link" request. In ambiguous mode an unknown
    /// address is `Ok(None)` (the caller returns success silently); otherwise `UserNotFound`.
    fn user_for_link(&self, address: &str, kind: MailKind, always_report: bool) -> Result<Option<(User, String)>> {
        let s = self.server;
        let address = normalize_address(address)?;
        match s.store.find_user_by_email(&address)? {
            Some(u) => Ok(Some((u, address))),
            None if s.config.ambiguous_error_messages && !always_report => {
                s.silent_unknown_address(kind, &address)?;
                Ok(None)
            }
            None => Err(err(ErrorCode::UserNotFound)),
        }
    }

    /// Adds an email address to a user (accounts-js `addEmail`).
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound`, `EmailAlreadyExists`.
    pub fn add_email(&self, user_id: &str, email: &str, verified: bool) -> Result<()> {
        self.server.localize((|| {
            let address = self.check_email(&serde_json::Value::String(email.to_string()))?;
            self.server.store.add_email(user_id, &address, verified, self.server.now())
        })())
    }

    /// Removes an email address from a user (accounts-js `removeEmail`); links mailed to it die with it.
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound`, `EmailNotFound`, `NoEmailSet` (it is the last address of a user
    /// without username).
    pub fn remove_email(&self, user_id: &str, email: &str) -> Result<()> {
        self.server.localize((|| {
            let address = normalize_address(email)?;
            let user = self.server.user_or_not_found(user_id)?;
            // A user must keep a way to be found: without username, the last address stays.
            if user.username.is_none() && user.emails.len() == 1 && user.emails[0].address == address {
                return Err(err(ErrorCode::NoEmailSet));
            }
            if self.server.store.remove_email(user_id, &address, self.server.now())? { Ok(()) } else { Err(err(ErrorCode::EmailNotFound)) }
        })())
    }

    /// Mails a verification link to `address` (accounts-js `sendVerificationEmail`). An address
    /// that is already verified gets no mail. In ambiguous mode an unknown address succeeds silently.
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound` (not ambiguous), the `sendMail` callback's error.
    pub fn send_verification_email(&self, address: &str) -> Result<()> {
        self.server.localize((|| {
            let s = self.server;
            let Some((user, address)) = self.user_for_link(address, MailKind::VerifyEmail, false)? else { return Ok(()) };
            if user.emails.iter().any(|e| e.address == address && e.verified) {
                // No mail, but the same work as an unverified address, so timing does not tell them apart.
                return s.silent_unknown_address(MailKind::VerifyEmail, &address);
            }
            let ttl = s.config.services.password.verify_email_token_expiration;
            let token = s.issue_link_token(&user.id, kinds::VERIFY_EMAIL, &address, ttl, TokenScope::KindAndAddress)?;
            s.send_mail(MailKind::VerifyEmail, &user, &address, Some(&token))
        })())
    }

    /// Marks the address of a verification link verified (accounts-js `verifyEmail`).
    ///
    /// # Errors
    /// `InvalidToken` (empty), `VerifyEmailLinkExpired` (unknown, used or expired),
    /// `VerifyEmailLinkUnknownAddress` (the address was removed since).
    pub fn verify_email(&self, token: &str) -> Result<()> {
        self.server.localize((|| {
            let s = self.server;
            check_token(token)?;
            // Link used and address verified together, or neither (docs/reliability.md, "Atomic flows").
            store::transaction(s.store(), |w| {
                let record = s.take_link_token(w, token, &[kinds::VERIFY_EMAIL], ErrorCode::VerifyEmailLinkExpired)?;
                let address = record.address.unwrap_or_default();
                if !w.verify_email(&record.user_id, &address, s.now())? {
                    return Err(err(ErrorCode::VerifyEmailLinkUnknownAddress));
                }
                Ok(())
            })
        })())
    }

    /// Mails a password reset link (accounts-js `sendResetPasswordEmail`); older reset links of the
    /// user stop working. In ambiguous mode an unknown address succeeds silently.
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound` (not ambiguous), the `sendMail` callback's error.
    pub fn send_reset_password_email(&self, address: &str) -> Result<()> {
        self.server.localize((|| {
            let s = self.server;
            let Some((user, address)) = self.user_for_link(address, MailKind::ResetPassword, false)? else { return Ok(()) };
            let ttl = s.config.services.password.password_reset_token_expiration;
            let token = s.issue_link_token(&user.id, kinds::RESET_PASSWORD, &address, ttl, TokenScope::Kind)?;
            s.send_mail(MailKind::ResetPassword, &user, &address, Some(&token))
        })())
    }

    /// Mails an enrollment link, with which a user created without password sets one (accounts-js
    /// `sendEnrollmentEmail`; an administrator's call, so an unknown address is always reported).
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound`, the `sendMail` callback's error.
    pub fn send_enrollment_email(&self, address: &str) -> Result<()> {
        self.server.localize((|| {
            let s = self.server;
            let Some((user, address)) = self.user_for_link(address, MailKind::EnrollAccount, true)? else { return Ok(()) };
            let ttl = s.config.services.password.password_enroll_token_expiration;
            let token = s.issue_link_token(&user.id, kinds::ENROLL_ACCOUNT, &address, ttl, TokenScope::Kind)?;
            s.send_mail(MailKind::EnrollAccount, &user, &address, Some(&token))
        })())
    }

    /// Sets a new password with a reset or enrollment link (accounts-js `resetPassword`). The
    /// address the link went to becomes verified, other reset links die, sessions are revoked
    /// (`invalidateAllSessionsAfterPasswordReset`), and with `returnTokensAfterResetPassword` the
    /// user is logged in — if they have two-factor on, only when `code` is a valid second factor
    /// (without one the password still changes and no session is returned: a mailbox alone never
    /// opens a session).
    ///
    /// # Errors
    /// `InvalidToken`, `InvalidNewPassword` (checked before the link is used up),
    /// `ResetPasswordLinkExpired`, `ResetPasswordLinkUnknownAddress`, `TwoFactorCodeDidNotMatch`
    /// (a wrong `code`: nothing changes, the link stays), `TooManyAttempts`, `UserDeactivated` (when
    /// returning tokens), the `sendMail` callback's error.
    pub fn reset_password(&self, token: &str, new_password: &str, code: Option<&str>, infos: &ConnectionInfo) -> Result<Option<LoginResult>> {
        self.server.localize((|| {
            let s = self.server;
            let opts = &s.config.services.password;
            check_token(token)?;
            let password = self.check_new_password(&json!(new_password)).map_err(|_| err(ErrorCode::InvalidNewPassword))?;
            let ip = infos.ip.as_deref();
            let link_kinds = [kinds::RESET_PASSWORD, kinds::ENROLL_ACCOUNT];
            let peeked = s.peek_link_token(token, &link_kinds, ip, ErrorCode::ResetPasswordLinkExpired)?;
            let user = s.user_or_not_found(&peeked.user_id)?;
            let address = peeked.address.clone().unwrap_or_default();
            if !user.emails.iter().any(|e| e.address == address) {
                return Err(err(ErrorCode::ResetPasswordLinkUnknownAddress));
            }
            // The second factor is checked before anything changes, so a wrong code changes nothing;
            // it is used up in the transaction below. One read of the two-factor document either way.
            let second_factor = match (opts.return_tokens_after_reset_password, code) {
                (true, Some(c)) => Some(self.two_factor().plan_login(&user, &json!({ "code": c }), ip)?),
                _ => None,
            };
            let session_allowed = opts.return_tokens_after_reset_password
                && match &second_factor {
                    Some(_) => true,
                    None => !self.two_factor().is_set(&user.id)?,
                };
            let hash = s.hasher.hash(&password)?;
            // The user as they will be: the address the link went to is verified by following it.
            let mut after = user.clone();
            verified_by_link(&mut after, &address);
            let session = if session_allowed { Some(s.prepare_session(&after, infos, None)?) } else { None };
            // Link used, password set, address verified, other links removed, sessions ended, the
            // code used up and the new session stored: all or nothing (docs/reliability.md).
            let kind = store::transaction(s.store(), |w| {
                let record = s.take_link_token(w, token, &link_kinds, ErrorCode::ResetPasswordLinkExpired)?;
                if record.user_id != user.id || record.address.as_deref() != Some(address.as_str()) {
                    return Err(err(ErrorCode::ResetPasswordLinkExpired)); // replaced since the peek
                }
                if let Some(Some(used)) = &second_factor {
                    used.apply(w)?;
                }
                let now = s.now();
                w.set_password_hash(&user.id, &hash, now)?;
                w.verify_email(&user.id, &address, now)?;
                w.delete_tokens(&user.id, kinds::RESET_PASSWORD)?;
                w.delete_tokens(&user.id, kinds::ENROLL_ACCOUNT)?;
                if opts.invalidate_all_sessions_after_password_reset {
                    w.invalidate_all_sessions(&user.id, &[], now)?;
                }
                if let Some((record, _)) = &session {
                    w.create_session(record)?;
                }
                Ok(record.kind)
            })?;
            if opts.notify_user_after_password_changed && kind == kinds::RESET_PASSWORD {
                s.send_mail(MailKind::PasswordChanged, &user, &address, None)?;
            }
            if let Some(shown) = s.shown_user(&user, &[events::RESET_PASSWORD_SUCCESS])? {
                s.events.emit(events::RESET_PASSWORD_SUCCESS, || shown)?;
            }
            Ok(session.map(|(_, login)| login))
        })())
    }

    /// Changes a user's password after checking the old one (accounts-js `changePassword`).
    ///
    /// # Errors
    /// `InvalidNewPassword`, `UserNotFound`, `InvalidCredentials` (ambiguous) or
    /// `IncorrectPassword` / `NoPasswordSet`, `TooManyAttempts` (wrong old passwords count against
    /// the per-account password limit), the `sendMail` callback's error.
    pub fn change_password(&self, user_id: &str, old_password: &str, new_password: &str) -> Result<()> {
        self.server.localize((|| {
            let s = self.server;
            let opts = &s.config.services.password;
            let password = self.check_new_password(&json!(new_password))?; // accounts-js: InvalidPassword here
            let user = self.server.user_or_not_found(user_id)?;
            let ambiguous = |c: ErrorCode| err(if s.config.ambiguous_error_messages { ErrorCode::InvalidCredentials } else { c });
            // Guessing the old password through a stolen session counts like guessing it at login.
            s.guarded(Guess::Password, &Guesser { account: Some(&user.id), ip: None }, || {
                match s.hasher.verify(old_password, s.store.find_password_hash(user_id)?.as_deref())? {
                    Verified::Match { .. } => Ok(()),
                    Verified::Mismatch => Err(ambiguous(ErrorCode::IncorrectPassword)),
                    Verified::NoHash => Err(ambiguous(ErrorCode::NoPasswordSet)),
                }
            })?;
            let hash = s.hasher.hash(&password)?;
            // Password, sessions and reset links change together (docs/reliability.md, "Atomic flows").
            store::transaction(s.store(), |w| {
                let now = s.now();
                w.set_password_hash(user_id, &hash, now)?;
                if opts.invalidate_all_sessions_after_password_changed {
                    w.invalidate_all_sessions(user_id, &[], now)?;
                }
                if opts.remove_all_reset_password_tokens_after_password_changed {
                    w.delete_tokens(user_id, kinds::RESET_PASSWORD)?;
                }
                Ok(())
            })?;
            if opts.notify_user_after_password_changed {
                if let Some(first) = user.emails.first() {
                    s.send_mail(MailKind::PasswordChanged, &user, &first.address, None)?;
                }
            }
            match s.shown_user(&user, &[events::CHANGE_PASSWORD_SUCCESS])? {
                Some(shown) => s.events.emit(events::CHANGE_PASSWORD_SUCCESS, || shown),
                None => Ok(()),
            }
        })())
    }
}
