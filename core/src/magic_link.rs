//! Magic links (accounts-js `@accounts/magic-link`): a mailed single-use login link.
//!
//! `requestMagicLinkEmail(email)` mails `${siteUrl}/magiclink/<token>`; `loginWithService("magicLink",
//! {token})` logs in with it once, within `services.magicLink.loginTokenExpiration` (15 min), and
//! marks the address verified. A user with two-factor on must also pass `code`.

use crate::auth::{Authenticated, Completion};
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::identifiers::normalize_email;
use crate::links::{Links, kinds, take_live_token, verified_by_link};
use crate::mail::MailKind;
use crate::store::TokenScope;
use crate::two_factor::TwoFactor;
use crate::types::ConnectionInfo;
use serde_json::Value;

/// The service name for `loginWithService`.
pub const SERVICE_NAME: &str = "magicLink";

/// The magic link service of one server; get it with [`AccountsServer::magic_link`](crate::AccountsServer::magic_link).
pub struct MagicLink<'a> {
    ctx: &'a Context,
}

impl<'a> MagicLink<'a> {
    pub(crate) fn new(ctx: &'a Context) -> MagicLink<'a> {
        MagicLink { ctx }
    }

    /// Mails a login link to `email`; an older unused link of the user stops working. In ambiguous
    /// mode an unknown address succeeds silently.
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound` (not ambiguous), the `sendMail` callback's error.
    pub fn request_magic_link_email(&self, email: &str) -> Result<()> {
        self.ctx.localize((|| {
            let s = self.ctx;
            let address = normalize_email(email)?;
            let links = Links::new(s);
            let Some(user) = s.store().find_user_by_email(&address)? else {
                if s.config().ambiguous_error_messages {
                    return links.decoy(MailKind::MagicLink, &address);
                }
                return Err(AccountsError::code(ErrorCode::UserNotFound));
            };
            let ttl = s.config().services.magic_link.login_token_expiration;
            let token = links.issue(&user.id, kinds::MAGIC_LINK, &address, ttl, TokenScope::Kind)?;
            s.send_mail(MailKind::MagicLink, &user, &address, Some(&token))
        })())
    }

    /// Nothing is written until the login goes ahead: a missing or wrong second factor, a
    /// deactivated user or a refusing `ValidateLogin` listener leaves the link valid until it
    /// expires. Then link, code and the address's verification are written with the session.
    ///
    /// # Errors
    /// `UnrecognizedOptionsForLogin` (no token), `MatchFailed` (not a string), `InvalidToken`,
    /// `LoginTokenExpired`, `TooManyAttempts`, `UserDeactivated`, the two-factor codes.
    pub(crate) fn authenticate_pending(&self, params: &Value, infos: &ConnectionInfo) -> Result<Authenticated> {
        let s = self.ctx;
        // accounts-js: a missing (falsy) token is UnrecognizedOptionsForLogin, a non-string MatchFailed.
        let token = match params.get("token") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => return Err(AccountsError::code(ErrorCode::UnrecognizedOptionsForLogin)),
            Some(Value::String(t)) if t.is_empty() => return Err(AccountsError::code(ErrorCode::UnrecognizedOptionsForLogin)),
            Some(Value::String(t)) => t.clone(),
            Some(_) => return Err(AccountsError::code(ErrorCode::MatchFailed)),
        };
        let ip = infos.ip.as_deref();
        let peeked = Links::new(s).peek(&token, &[kinds::MAGIC_LINK], ip, ErrorCode::LoginTokenExpired)?;
        let mut user = s.user_or_not_found(&peeked.user_id)?;
        if user.deactivated {
            return Err(AccountsError::code(ErrorCode::UserDeactivated));
        }
        let second_factor = TwoFactor::new(s).plan_login(&user, params, ip)?;
        let address = peeked.address.unwrap_or_default();
        // The user as they will be: following the link proves the address.
        verified_by_link(&mut user, &address);
        let (user_id, now) = (user.id.clone(), s.now());
        let complete: Completion = Box::new(move |w| {
            let taken = take_live_token(w, &token, &[kinds::MAGIC_LINK], now, ErrorCode::LoginTokenExpired)?;
            if taken.user_id != user_id {
                return Err(AccountsError::code(ErrorCode::LoginTokenExpired)); // replaced meanwhile
            }
            if let Some(used) = &second_factor {
                used.apply(w)?;
            }
            // The address may have been removed since the link was sent; then the link is dead.
            if !w.verify_email(&user_id, &address, now)? {
                return Err(AccountsError::code(ErrorCode::LoginTokenExpired));
            }
            Ok(())
        });
        Ok(Authenticated { user, complete: Some(complete) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::testing;
    use crate::store::transaction;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    fn setup() -> (Context, Arc<Mutex<Vec<Value>>>) {
        let (ctx, sent) = testing::mailing(json!({}));
        testing::stored_user(&ctx, "u1", None, &["a@b.co"]);
        (ctx, sent)
    }

    fn token(sent: &Mutex<Vec<Value>>) -> String {
        let mail = sent.lock().unwrap().pop().expect("a mail");
        assert_eq!(mail["type"], "magicLink");
        mail["text"].as_str().unwrap().rsplit('/').next().unwrap().to_string()
    }

    #[test]
    fn nothing_is_used_until_the_login_completes() {
        let (ctx, sent) = setup();
        let ml = MagicLink::new(&ctx);
        ml.request_magic_link_email("A@B.co").unwrap();
        let token = token(&sent);
        let found = ml.authenticate_pending(&json!({ "token": token }), &ConnectionInfo::default()).unwrap();
        assert!(found.user.emails[0].verified, "the user as they will be");
        assert!(!ctx.user_or_not_found("u1").unwrap().emails[0].verified, "but nothing written yet");
        let complete = found.complete.expect("the link is used up by the completion");
        transaction(ctx.store(), |w| complete(w)).unwrap();
        assert!(ctx.user_or_not_found("u1").unwrap().emails[0].verified);
        let again = ml.authenticate_pending(&json!({ "token": token }), &ConnectionInfo::default());
        assert_eq!(again.err().map(|e| e.code), Some(ErrorCode::LoginTokenExpired));
    }

    #[test]
    fn token_shapes_and_unknown_addresses() {
        let (ctx, sent) = setup();
        let ml = MagicLink::new(&ctx);
        let code_of = |params: Value| ml.authenticate_pending(&params, &ConnectionInfo::default()).err().map(|e| e.code);
        assert_eq!(code_of(json!({})), Some(ErrorCode::UnrecognizedOptionsForLogin));
        assert_eq!(code_of(json!({"token": ""})), Some(ErrorCode::UnrecognizedOptionsForLogin));
        assert_eq!(code_of(json!({"token": 5})), Some(ErrorCode::MatchFailed));
        assert_eq!(code_of(json!({"token": "f".repeat(64)})), Some(ErrorCode::LoginTokenExpired));
        ml.request_magic_link_email("nobody@b.co").unwrap();
        assert!(sent.lock().unwrap().is_empty(), "ambiguous: silent");
    }
}
