//! The password service (accounts-js `@accounts/password`): users, password login, addresses and
//! their links, password changes. Each public method's steps live in a submodule: `rules` (field
//! rules), `signup`, `login`, `email` (addresses and links) and `change` (password changes).

mod change;
mod email;
mod login;
mod rules;
mod signup;

use crate::auth::{Authenticated, Completion};
use crate::context::Context;
use crate::error::Result;
use crate::identifiers::{lookup_email, lookup_username};
use crate::store::{self, Writes};
use crate::two_factor::TwoFactor;
use crate::types::{ConnectionInfo, LoginResult, User};
use serde_json::Value;

pub use crate::identifiers::MAX_IDENTIFIER_BYTES;
pub use rules::MAX_PASSWORD_BYTES;

/// The name of the password service for `loginWithService`.
pub const SERVICE_NAME: &str = "password";

/// The password service of one server; get it with [`crate::AccountsServer::password`].
pub struct Password<'a> {
    ctx: &'a Context,
}

impl<'a> Password<'a> {
    pub(crate) fn new(ctx: &'a Context) -> Password<'a> {
        Password { ctx }
    }

    /// The two-factor part of the service (accounts-js `password.twoFactor`).
    pub fn two_factor(&self) -> TwoFactor<'a> {
        TwoFactor::new(self.ctx)
    }

    /// Creates a user from `{username?, email?, password?, ...}`; returns the new id.
    ///
    /// Checks in accounts-js's order: `UsernameOrEmailRequired`, `InvalidUsername`, `InvalidEmail`,
    /// `UsernameAlreadyExists`, `EmailAlreadyExists`, `InvalidPassword` (the password is hashed
    /// before the uniqueness checks, so a taken identifier costs as much as a new one). Without a
    /// `validateNewUser` callback only `username`, `email` and `password` are kept; with one, what
    /// it returns is stored (its identifiers checked again).
    ///
    /// # Errors
    /// `InvalidArgument` (not an object), the codes above, or a callback's error.
    pub fn create_user(&self, input: &Value) -> Result<String> {
        self.ctx.localize(signup::create_user(self.ctx, input))
    }

    /// Checks `{user: {id|email|username} | "email-or-username", password, code?}`; returns the user.
    ///
    /// Unknown user, missing hash and wrong password cost one hash verification each and, with
    /// `ambiguousErrorMessages`, all give `InvalidCredentials`. `EmailNotVerified` is only reported
    /// after the password has matched. A user with two-factor on must pass `code` (used up here).
    ///
    /// # Errors
    /// `UnrecognizedOptionsForLogin`, `MatchFailed`, `InvalidCredentials`, or (not ambiguous)
    /// `UserNotFound` / `NoPasswordSet` / `IncorrectPassword`; `EmailNotVerified`, the two-factor codes.
    pub fn authenticate(&self, params: &Value) -> Result<User> {
        self.ctx.localize(self.authenticate_unsanitized(params, &ConnectionInfo::default()).and_then(|u| self.ctx.sanitize(u)))
    }

    /// As [`Password::authenticate`], the user unsanitized and `infos.ip` counted by the attempt limits.
    pub(crate) fn authenticate_unsanitized(&self, params: &Value, infos: &ConnectionInfo) -> Result<User> {
        let (user, second_factor) = login::authenticate_pending(self.ctx, params, infos)?;
        if let Some(used) = second_factor {
            store::transaction(self.ctx.store(), |w| used.apply(w))?;
        }
        Ok(user)
    }

    /// The `password` service of `loginWithService`: the second factor's code is used up with the session.
    pub(crate) fn authenticate_pending(&self, params: &Value, infos: &ConnectionInfo) -> Result<Authenticated> {
        let (user, second_factor) = login::authenticate_pending(self.ctx, params, infos)?;
        let complete = second_factor.map(|used| Box::new(move |w: &mut dyn Writes| used.apply(w)) as Completion);
        Ok(Authenticated { user, complete })
    }

    /// The user with this email (case-insensitive), or `None`.
    ///
    /// # Errors
    /// `StorageError`, or the sanitizer's error.
    pub fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let Some(address) = lookup_email(email) else { return Ok(None) };
        self.ctx.store().find_user_by_email(&address)?.map(|u| self.ctx.sanitize(u)).transpose()
    }

    /// The user with this username (exact match after NFC normalization), or `None`.
    ///
    /// # Errors
    /// `StorageError`, or the sanitizer's error.
    pub fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        let Some(name) = lookup_username(username) else { return Ok(None) };
        self.ctx.store().find_user_by_username(&name)?.map(|u| self.ctx.sanitize(u)).transpose()
    }

    /// Sets a user's password (an admin operation: no old password needed).
    ///
    /// # Errors
    /// `InvalidPassword`, `UserNotFound`.
    pub fn set_password(&self, user_id: &str, password: &str) -> Result<()> {
        self.ctx.localize(change::set_password(self.ctx, user_id, password))
    }

    /// Changes a user's password after checking the old one (accounts-js `changePassword`).
    ///
    /// # Errors
    /// `InvalidPassword`, `UserNotFound`, `InvalidCredentials` (ambiguous) or
    /// `IncorrectPassword` / `NoPasswordSet`, `TooManyAttempts` (wrong old passwords count against
    /// the per-account password limit), the `sendMail` callback's error.
    pub fn change_password(&self, user_id: &str, old_password: &str, new_password: &str) -> Result<()> {
        self.ctx.localize(change::change_password(self.ctx, user_id, old_password, new_password))
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
        self.ctx.localize(change::reset_password(self.ctx, token, new_password, code, infos))
    }

    /// Adds an email address to a user (accounts-js `addEmail`).
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound`, `EmailAlreadyExists`.
    pub fn add_email(&self, user_id: &str, email: &str, verified: bool) -> Result<()> {
        self.ctx.localize(email::add_email(self.ctx, user_id, email, verified))
    }

    /// Removes an email address from a user (accounts-js `removeEmail`); links mailed to it die with it.
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound`, `EmailNotFound`, `NoEmailSet` (it is the last address of a user
    /// without username).
    pub fn remove_email(&self, user_id: &str, email: &str) -> Result<()> {
        self.ctx.localize(email::remove_email(self.ctx, user_id, email))
    }

    /// Mails a verification link to `address` (accounts-js `sendVerificationEmail`). An address
    /// that is already verified gets no mail. In ambiguous mode an unknown address succeeds silently.
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound` (not ambiguous), the `sendMail` callback's error.
    pub fn send_verification_email(&self, address: &str) -> Result<()> {
        self.ctx.localize(email::send_verification_email(self.ctx, address))
    }

    /// Marks the address of a verification link verified (accounts-js `verifyEmail`).
    ///
    /// # Errors
    /// `InvalidToken` (empty), `VerifyEmailLinkExpired` (unknown, used or expired),
    /// `VerifyEmailLinkUnknownAddress` (the address was removed since).
    pub fn verify_email(&self, token: &str) -> Result<()> {
        self.ctx.localize(email::verify_email(self.ctx, token))
    }

    /// Mails a password reset link (accounts-js `sendResetPasswordEmail`); older reset links of the
    /// user stop working. In ambiguous mode an unknown address succeeds silently.
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound` (not ambiguous), the `sendMail` callback's error.
    pub fn send_reset_password_email(&self, address: &str) -> Result<()> {
        self.ctx.localize(email::send_reset_password_email(self.ctx, address))
    }

    /// Mails an enrollment link, with which a user created without password sets one (accounts-js
    /// `sendEnrollmentEmail`; an administrator's call, so an unknown address is always reported).
    ///
    /// # Errors
    /// `InvalidEmail`, `UserNotFound`, the `sendMail` callback's error.
    pub fn send_enrollment_email(&self, address: &str) -> Result<()> {
        self.ctx.localize(email::send_enrollment_email(self.ctx, address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::testing;
    use crate::error::ErrorCode;
    use serde_json::json;

    fn token_of(mail: &Value) -> String {
        mail["text"].as_str().unwrap().rsplit('/').next().unwrap().to_string()
    }

    #[test]
    fn signup_then_login_with_every_selector() {
        let ctx = testing::plain();
        let pw = Password::new(&ctx);
        let id = pw.create_user(&json!({"username": "alice", "email": "Alice@Example.com", "password": "correct horse"})).unwrap();
        assert!(ctx.store().find_password_hash(&id).unwrap().unwrap().starts_with("$argon2id$"), "stored hashed");
        for selector in
            [json!("alice"), json!("alice@example.com"), json!({"id": id}), json!({"email": "ALICE@example.com"}), json!({"username": "alice"})]
        {
            assert_eq!(pw.authenticate(&json!({"user": selector, "password": "correct horse"})).unwrap().id, id, "{selector}");
        }
        let wrong = pw.authenticate(&json!({"user": "alice", "password": "wrong"})).unwrap_err();
        assert_eq!(wrong.code, ErrorCode::InvalidCredentials);
        let unknown = pw.authenticate(&json!({"user": "bob", "password": "wrong"})).unwrap_err();
        assert_eq!(unknown.code, ErrorCode::InvalidCredentials, "ambiguous by default");
        assert_eq!(pw.authenticate(&json!({"user": 5, "password": "x"})).unwrap_err().code, ErrorCode::MatchFailed);
        assert_eq!(pw.authenticate(&json!({"password": "x"})).unwrap_err().code, ErrorCode::UnrecognizedOptionsForLogin);
        // Empty strings are missing, as in accounts-js.
        assert_eq!(pw.authenticate(&json!({"user": "alice", "password": ""})).unwrap_err().code, ErrorCode::UnrecognizedOptionsForLogin);
        assert_eq!(pw.authenticate(&json!({"user": "", "password": "x"})).unwrap_err().code, ErrorCode::UnrecognizedOptionsForLogin);
        let taken = pw.create_user(&json!({"username": "alice", "password": "another one"})).unwrap_err();
        assert_eq!(taken.code, ErrorCode::UsernameAlreadyExists);
    }

    #[test]
    fn a_verification_link_is_stored_with_the_user_and_mailed_after() {
        let (ctx, sent) = testing::mailing(json!({"services": {"password": {"sendVerificationEmailAfterSignup": true}}}));
        let pw = Password::new(&ctx);
        let id = pw.create_user(&json!({"email": "a@b.co"})).unwrap();
        let mail = sent.lock().unwrap().pop().expect("one mail");
        assert_eq!((mail["type"].as_str(), mail["to"].as_str()), (Some("verifyEmail"), Some("a@b.co")));
        pw.verify_email(&token_of(&mail)).unwrap();
        assert!(ctx.user_or_not_found(&id).unwrap().emails[0].verified);
        assert_eq!(pw.verify_email(&token_of(&mail)).unwrap_err().code, ErrorCode::VerifyEmailLinkExpired, "single use");
    }

    #[test]
    fn a_reset_link_sets_the_password_and_ends_sessions() {
        let (ctx, sent) = testing::mailing(json!({}));
        let pw = Password::new(&ctx);
        let id = pw.create_user(&json!({"email": "a@b.co", "password": "old password"})).unwrap();
        let user = ctx.user_or_not_found(&id).unwrap();
        let session = crate::sessions::Sessions::new(&ctx).start(&user, &ConnectionInfo::default(), None).unwrap();
        pw.send_reset_password_email("A@b.co").unwrap();
        let token = token_of(&sent.lock().unwrap().pop().unwrap());
        assert_eq!(pw.reset_password(&token, "", None, &ConnectionInfo::default()).unwrap_err().code, ErrorCode::InvalidNewPassword);
        assert!(pw.reset_password(&token, "new password", None, &ConnectionInfo::default()).unwrap().is_none());
        assert!(!ctx.store().find_session(&session.session_id).unwrap().unwrap().session.valid);
        assert!(ctx.user_or_not_found(&id).unwrap().emails[0].verified, "following the link proves the address");
        pw.authenticate(&json!({"user": {"id": id}, "password": "new password"})).unwrap();
        let again = pw.reset_password(&token, "third password", None, &ConnectionInfo::default()).unwrap_err();
        assert_eq!(again.code, ErrorCode::ResetPasswordLinkExpired);
    }

    #[test]
    fn an_unknown_address_is_silent_in_ambiguous_mode_only() {
        let (ctx, sent) = testing::mailing(json!({}));
        Password::new(&ctx).send_reset_password_email("nobody@b.co").unwrap();
        assert!(sent.lock().unwrap().is_empty());
        let (ctx, _) = testing::mailing(json!({"ambiguousErrorMessages": false}));
        assert_eq!(Password::new(&ctx).send_reset_password_email("nobody@b.co").unwrap_err().code, ErrorCode::UserNotFound);
    }

    #[test]
    fn change_password_checks_the_old_one() {
        let ctx = testing::plain();
        let pw = Password::new(&ctx);
        let id = pw.create_user(&json!({"username": "carol", "password": "first pass"})).unwrap();
        assert_eq!(pw.change_password(&id, "nope", "second pass").unwrap_err().code, ErrorCode::InvalidCredentials);
        pw.change_password(&id, "first pass", "second pass").unwrap();
        pw.authenticate(&json!({"user": "carol", "password": "second pass"})).unwrap();
        assert_eq!(pw.remove_email(&id, "x@y.co").unwrap_err().code, ErrorCode::EmailNotFound);
    }
}
