//! Magic links (accounts-js `@accounts/magic-link`): a mailed single-use login link.
//!
//! `requestMagicLinkEmail(email)` mails `${siteUrl}/magiclink/<token>`; `loginWithService("magicLink",
//! {token})` logs in with it once, within `services.magicLink.loginTokenExpiration` (15 min), and
//! marks the address verified. A user with two-factor on must also pass `code`.

use crate::email::{kinds, normalize_address, take_live_token, verified_by_link};
use crate::error::{AccountsError, ErrorCode, Result};
use crate::mail::MailKind;
use crate::server::AccountsServer;
use crate::services::{AuthService, Authenticated, Completion};
use crate::store::{self, TokenScope};
use crate::types::{ConnectionInfo, User};
use serde_json::Value;

/// The service name for `loginWithService`.
pub const SERVICE_NAME: &str = "magicLink";

/// The magic link service of one server; get it with [`AccountsServer::magic_link`].
pub struct MagicLink<'a> {
    pub(crate) server: &'a AccountsServer,
}

impl MagicLink<'_> {
    /// Mails a login link to `email`; an older unused link of the user stops working. In ambiguous
    /// mode an unknown address succeeds silently.
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound` (not ambiguous), the `sendMail` callback's error.
    pub fn request_magic_link_email(&self, email: &str) -> Result<()> {
        self.server.localize((|| {
            let s = self.server;
            let address = normalize_address(email)?;
            let Some(user) = s.store.find_user_by_email(&address)? else {
                if s.config.ambiguous_error_messages {
                    return s.silent_unknown_address(MailKind::MagicLink, &address);
                }
                return Err(AccountsError::code(ErrorCode::UserNotFound));
            };
            let ttl = s.config.services.magic_link.login_token_expiration;
            let token = s.issue_link_token(&user.id, kinds::MAGIC_LINK, &address, ttl, TokenScope::Kind)?;
            s.send_mail(MailKind::MagicLink, &user, &address, Some(&token))
        })())
    }
}

/// The `magicLink` authentication service.
pub(crate) struct MagicLinkAuthService;

impl AuthService for MagicLinkAuthService {
    fn authenticate(&self, s: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<User>> {
        let Some(found) = self.authenticate_pending(s, params, infos)? else { return Ok(None) };
        if let Some(complete) = &found.complete {
            store::transaction(s.store(), |w| complete(w))?;
        }
        Ok(Some(found.user))
    }

    /// Nothing is written until the login goes ahead: a missing or wrong second factor, a
    /// deactivated user or a refusing `ValidateLogin` listener leaves the link valid until it
    /// expires. Then link, code and the address's verification are written with the session.
    fn authenticate_pending(&self, s: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<Authenticated>> {
        // accounts-js: a missing (falsy) token is UnrecognizedOptionsForLogin, a non-string MatchFailed.
        let token = match params.get("token") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => return Err(AccountsError::code(ErrorCode::UnrecognizedOptionsForLogin)),
            Some(Value::String(t)) if t.is_empty() => return Err(AccountsError::code(ErrorCode::UnrecognizedOptionsForLogin)),
            Some(Value::String(t)) => t.clone(),
            Some(_) => return Err(AccountsError::code(ErrorCode::MatchFailed)),
        };
        let ip = infos.ip.as_deref();
        let peeked = s.peek_link_token(&token, &[kinds::MAGIC_LINK], ip, ErrorCode::LoginTokenExpired)?;
        let mut user = s.user_or_not_found(&peeked.user_id)?;
        if user.deactivated {
            return Err(AccountsError::code(ErrorCode::UserDeactivated));
        }
        let second_factor = s.password().two_factor().plan_login(&user, params, ip)?;
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
        Ok(Some(Authenticated { user, complete: Some(complete) }))
    }

    fn checks_second_factor(&self) -> bool {
        true
    }
}
