//! The one-time tokens of mailed links: email verification, password reset, enrollment and magic
//! link.
//!
//! Every link token is 256 random bits, stored only as its SHA-256 digest, expires, and is deleted
//! when used (single use even under concurrent presentation). A flow peeks at a token first and
//! takes it inside its own transaction, so a flow that fails later leaves the link valid
//! (docs/reliability.md, "Atomic flows").

use crate::attempts::{self, Guess, Guesser};
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::mail::MailKind;
use crate::secret::{digest, random_hex};
use crate::store::{TokenRecord, TokenScope, Writes};
use crate::types::User;
use std::time::Duration;

/// Token kinds as stored in the `tokens` table.
pub(crate) mod kinds {
    pub const VERIFY_EMAIL: &str = "verifyEmail";
    pub const RESET_PASSWORD: &str = "resetPassword";
    pub const ENROLL_ACCOUNT: &str = "enrollAccount";
    pub const MAGIC_LINK: &str = "magicLink";
}

/// Longest token a caller may present; longer input is refused before any lookup.
const MAX_TOKEN_BYTES: usize = 256;

fn err(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

fn ttl_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The link tokens of one server.
pub(crate) struct Links<'a> {
    ctx: &'a Context,
}

impl<'a> Links<'a> {
    pub(crate) fn new(ctx: &'a Context) -> Links<'a> {
        Links { ctx }
    }

    /// A new one-time token and the row that stores its digest (not stored yet).
    ///
    /// # Errors
    /// `InternalError` if the OS has no randomness.
    pub(crate) fn new_token(&self, user_id: &str, kind: &str, address: &str, ttl: Duration) -> Result<(String, TokenRecord)> {
        let token = random_hex(32)?;
        let now = self.ctx.now();
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

    /// Creates a token for `user_id`, stores its digest (replacing the older tokens in `scope`) and
    /// returns the token.
    ///
    /// # Errors
    /// `StorageError`.
    pub(crate) fn issue(&self, user_id: &str, kind: &str, address: &str, ttl: Duration, scope: TokenScope) -> Result<String> {
        let (token, record) = self.new_token(user_id, kind, address, ttl)?;
        self.ctx.store().insert_token(&record, scope)?;
        Ok(token)
    }

    /// A live token of one of `kinds`, left in place. Unknown, used and expired tokens give
    /// `expired` and count against the link-token limits of the caller's IP.
    ///
    /// # Errors
    /// `InvalidToken` (empty or oversized), `expired`, `TooManyAttempts`, `StorageError`.
    pub(crate) fn peek(&self, token: &str, kinds: &[&str], ip: Option<&str>, expired: ErrorCode) -> Result<TokenRecord> {
        check_token(token)?;
        attempts::guarded(self.ctx, Guess::LinkToken, &Guesser { account: None, ip }, || {
            let found = self.ctx.store().find_token(&digest(token))?;
            found.filter(|r| kinds.contains(&r.kind.as_str()) && r.expires_at > self.ctx.now()).ok_or_else(|| err(expired))
        })
    }

    /// Consumes, within a flow's transaction, a live token of one of `kinds`.
    ///
    /// # Errors
    /// `expired` when it is unknown, used or expired (the transaction then rolls back).
    pub(crate) fn take(&self, w: &mut dyn Writes, token: &str, kinds: &[&str], expired: ErrorCode) -> Result<TokenRecord> {
        take_live_token(w, token, kinds, self.ctx.now(), expired)
    }

    /// What an unknown address costs in ambiguous mode: the same token work, a write transaction
    /// that leaves nothing behind, and a mail prepared but not sent. A slow `sendMail` still shows
    /// in the timing of known addresses: hosts should enqueue mail, not send it inline
    /// (docs/security.md, "Timing").
    ///
    /// # Errors
    /// `StorageError`.
    pub(crate) fn decoy(&self, kind: MailKind, address: &str) -> Result<()> {
        let token = random_hex(32)?;
        self.ctx.store().decoy_write(&digest(&token), self.ctx.now())?;
        let _ = self.ctx.mailer().prepare(kind, address, Some(&token));
        Ok(())
    }
}

/// [`Links::take`] at a given time (for writes that run after the call that prepared them, e.g.
/// a login's completion).
///
/// # Errors
/// `expired` when the token is unknown, used or expired.
pub(crate) fn take_live_token(w: &mut dyn Writes, token: &str, kinds: &[&str], now: i64, expired: ErrorCode) -> Result<TokenRecord> {
    let record = w.take_token(&digest(token), kinds)?;
    record.filter(|r| r.expires_at > now).ok_or_else(|| err(expired))
}

/// `user` as they are once the link mailed to `address` has been followed: that address is verified.
pub(crate) fn verified_by_link(user: &mut User, address: &str) {
    user.emails.iter_mut().filter(|e| e.address == address).for_each(|e| e.verified = true);
}

/// A token argument: a non-empty string of sane length.
///
/// # Errors
/// `InvalidToken`.
pub(crate) fn check_token(token: &str) -> Result<()> {
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(err(ErrorCode::InvalidToken));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::testing;
    use crate::store::transaction;
    use serde_json::json;

    #[test]
    fn a_token_is_stored_as_its_digest_and_taken_once() {
        let (ctx, _) = testing::context(json!({}), Default::default());
        let links = Links::new(&ctx);
        let id = testing::stored_user(&ctx, "u1", None, &["a@b.co"]).id;
        let token = links.issue(&id, kinds::VERIFY_EMAIL, "a@b.co", Duration::from_secs(60), TokenScope::Kind).unwrap();
        assert_eq!(token.len(), 64);
        assert!(ctx.store().find_token(&token).unwrap().is_none(), "the token itself is not a key");
        assert_eq!(links.peek(&token, &[kinds::VERIFY_EMAIL], None, ErrorCode::VerifyEmailLinkExpired).unwrap().user_id, id);
        let wrong_kind = links.peek(&token, &[kinds::MAGIC_LINK], None, ErrorCode::LoginTokenExpired).unwrap_err();
        assert_eq!(wrong_kind.code, ErrorCode::LoginTokenExpired);
        let taken = transaction(ctx.store(), |w| links.take(w, &token, &[kinds::VERIFY_EMAIL], ErrorCode::VerifyEmailLinkExpired)).unwrap();
        assert_eq!(taken.address.as_deref(), Some("a@b.co"));
        let again = transaction(ctx.store(), |w| links.take(w, &token, &[kinds::VERIFY_EMAIL], ErrorCode::VerifyEmailLinkExpired));
        assert_eq!(again.unwrap_err().code, ErrorCode::VerifyEmailLinkExpired);
    }

    #[test]
    fn expiry_and_bad_tokens() {
        let (ctx, clock) = testing::context(json!({}), Default::default());
        let links = Links::new(&ctx);
        let id = testing::stored_user(&ctx, "u1", None, &["a@b.co"]).id;
        let token = links.issue(&id, kinds::RESET_PASSWORD, "a@b.co", Duration::from_secs(60), TokenScope::Kind).unwrap();
        clock.advance_secs(61);
        let expired = links.peek(&token, &[kinds::RESET_PASSWORD], None, ErrorCode::ResetPasswordLinkExpired).unwrap_err();
        assert_eq!(expired.code, ErrorCode::ResetPasswordLinkExpired);
        for bad in [String::new(), "x".repeat(MAX_TOKEN_BYTES + 1)] {
            assert_eq!(
                links.peek(&bad, &[kinds::RESET_PASSWORD], None, ErrorCode::ResetPasswordLinkExpired).unwrap_err().code,
                ErrorCode::InvalidToken
            );
        }
    }

    #[test]
    fn following_a_link_verifies_only_its_address() {
        let mut u: User = serde_json::from_value(json!({"id": "u", "emails": [{"address": "a@b.co"}, {"address": "c@d.co"}]})).unwrap();
        verified_by_link(&mut u, "c@d.co");
        assert_eq!(u.emails.iter().map(|e| e.verified).collect::<Vec<_>>(), [false, true]);
    }
}
