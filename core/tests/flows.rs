//! Account flows: emails, verification, reset, enrollment, change password, two-factor, magic links.
mod common;
use accounts_core::host::*;
use accounts_core::*;
use common::*;
use serde_json::{Value, json};
use std::sync::Arc;

const DAY: i64 = 86_400;

fn user_with_email(s: &AccountsServer) -> String {
    s.password().create_user(&json!({"email": "Dana@Example.com", "password": "first password"})).unwrap()
}

fn login(s: &AccountsServer, password: &str) -> Result<LoginResult> {
    s.login_with_service("password", &json!({"user": {"email": "dana@example.com"}, "password": password}), &no_info())
}

#[test]
fn add_and_remove_email() {
    let s = memory();
    let p = s.password();
    let id = user_with_email(&s);
    p.add_email(&id, "Second@Example.com", false).unwrap();
    p.add_email(&id, "third@example.com", true).unwrap();
    let u = s.find_user_by_id(&id).unwrap().unwrap();
    let shown: Vec<(&str, bool)> = u.emails.iter().map(|e| (e.address.as_str(), e.verified)).collect();
    assert_eq!(shown, vec![("dana@example.com", false), ("second@example.com", false), ("third@example.com", true)]);
    assert_eq!(p.find_user_by_email("SECOND@example.com").unwrap().unwrap().id, id);
    assert_eq!(code(p.add_email(&id, "second@example.com", false)), ErrorCode::EmailAlreadyExists);
    let other = p.create_user(&json!({"username": "other"})).unwrap();
    assert_eq!(code(p.add_email(&other, "DANA@example.com", false)), ErrorCode::EmailAlreadyExists);
    assert_eq!(code(p.add_email(&id, "nope", false)), ErrorCode::InvalidEmail);
    assert_eq!(code(p.add_email("missing", "x@y.co", false)), ErrorCode::UserNotFound);

    p.remove_email(&id, "Second@example.com").unwrap();
    assert!(p.find_user_by_email("second@example.com").unwrap().is_none());
    assert_eq!(code(p.remove_email(&id, "second@example.com")), ErrorCode::EmailNotFound);
    assert_eq!(code(p.remove_email("missing", "second@example.com")), ErrorCode::UserNotFound);
    p.remove_email(&id, "third@example.com").unwrap();
    // Dana has no username: her last address is her only way in.
    assert_eq!(code(p.remove_email(&id, "dana@example.com")), ErrorCode::NoEmailSet);
    assert_eq!(s.find_user_by_id(&id).unwrap().unwrap().emails.len(), 1);
    // The address is free again for somebody else.
    p.add_email(&other, "second@example.com", false).unwrap();
}

#[test]
fn verification_link_is_single_use_expires_and_dies_with_its_address() {
    let (s, clock, mails) = mailbox(json!({"siteUrl": "https://app.example"}));
    let p = s.password();
    let id = user_with_email(&s);
    p.send_verification_email("DANA@example.com").unwrap();
    let mail = mails.lock().unwrap().last().cloned().unwrap();
    assert_eq!(mail["to"], "dana@example.com");
    assert!(mail["text"].as_str().unwrap().contains("https://app.example/verify-email/"));
    let (kind, token) = last_link(&mails);
    assert_eq!(kind, "verifyEmail");
    assert!(token.len() >= 32, "at least 128 bits");
    p.verify_email(&token).unwrap();
    assert!(s.find_user_by_id(&id).unwrap().unwrap().emails[0].verified);
    assert_eq!(code(p.verify_email(&token)), ErrorCode::VerifyEmailLinkExpired, "single use");
    assert_eq!(code(p.verify_email("")), ErrorCode::InvalidToken);
    assert_eq!(code(p.verify_email("0123abcd")), ErrorCode::VerifyEmailLinkExpired);

    // Already verified: no new mail.
    let before = mails.lock().unwrap().len();
    p.send_verification_email("dana@example.com").unwrap();
    assert_eq!(mails.lock().unwrap().len(), before);

    // Expiry (3 days by default).
    p.add_email(&id, "late@example.com", false).unwrap();
    p.send_verification_email("late@example.com").unwrap();
    let (_, late) = last_link(&mails);
    clock.advance_secs(3 * DAY + 1);
    assert_eq!(code(p.verify_email(&late)), ErrorCode::VerifyEmailLinkExpired);

    // A link for a removed address.
    p.send_verification_email("late@example.com").unwrap();
    let (_, gone) = last_link(&mails);
    p.remove_email(&id, "late@example.com").unwrap();
    assert_eq!(code(p.verify_email(&gone)), ErrorCode::VerifyEmailLinkExpired, "removing an address drops its links");
}

#[test]
fn unknown_addresses_are_silent_only_in_ambiguous_mode() {
    let (s, _, mails) = mailbox(json!({}));
    let p = s.password();
    p.send_verification_email("nobody@example.com").unwrap();
    p.send_reset_password_email("nobody@example.com").unwrap();
    s.magic_link().request_magic_link_email("nobody@example.com").unwrap();
    assert!(mails.lock().unwrap().is_empty());
    assert_eq!(code(p.send_enrollment_email("nobody@example.com")), ErrorCode::UserNotFound, "an admin call reports");
    assert_eq!(code(p.send_reset_password_email("not an address")), ErrorCode::InvalidEmail);

    let (s, _, _) = mailbox(json!({"ambiguousErrorMessages": false}));
    let p = s.password();
    assert_eq!(code(p.send_verification_email("nobody@example.com")), ErrorCode::UserNotFound);
    assert_eq!(code(p.send_reset_password_email("nobody@example.com")), ErrorCode::UserNotFound);
    assert_eq!(code(s.magic_link().request_magic_link_email("nobody@example.com")), ErrorCode::UserNotFound);
}

#[test]
fn reset_password_flow() {
    let (s, clock, mails) = mailbox(json!({}));
    let p = s.password();
    let id = user_with_email(&s);
    let session = login(&s, "first password").unwrap();

    p.send_reset_password_email("dana@example.com").unwrap();
    let (kind, old) = last_link(&mails);
    assert_eq!(kind, "resetPassword");
    assert!(mails.lock().unwrap().last().unwrap()["text"].as_str().unwrap().contains("http://localhost:3000/reset-password/"));
    p.send_reset_password_email("dana@example.com").unwrap();
    let (_, token) = last_link(&mails);
    assert_eq!(
        code(p.reset_password(&old, "second password", None, &no_info())),
        ErrorCode::ResetPasswordLinkExpired,
        "a new request kills older links"
    );

    assert_eq!(code(p.reset_password(&token, "short", None, &no_info())), ErrorCode::InvalidNewPassword);
    assert_eq!(code(p.reset_password("", "second password", None, &no_info())), ErrorCode::InvalidToken);
    let mails_before = mails.lock().unwrap().len();
    assert_eq!(p.reset_password(&token, "second password", None, &no_info()).unwrap(), None, "the bad password did not use the link up");
    let notice = mails.lock().unwrap()[mails_before].clone();
    assert_eq!(notice["type"], "passwordChanged");

    assert_eq!(code(p.reset_password(&token, "third password", None, &no_info())), ErrorCode::ResetPasswordLinkExpired, "single use");
    assert_eq!(code(login(&s, "first password")), ErrorCode::InvalidCredentials);
    login(&s, "second password").unwrap();
    assert_eq!(code(s.resume_session(&session.tokens.access_token)), ErrorCode::InvalidSession, "sessions revoked");
    assert!(s.find_user_by_id(&id).unwrap().unwrap().emails[0].verified, "the link proved the address");

    p.send_reset_password_email("dana@example.com").unwrap();
    let (_, expiring) = last_link(&mails);
    clock.advance_secs(3 * DAY + 1);
    assert_eq!(code(p.reset_password(&expiring, "fourth password", None, &no_info())), ErrorCode::ResetPasswordLinkExpired);
}

#[test]
fn reset_password_can_log_in_and_keep_sessions() {
    let (s, _, mails) = mailbox(json!({"services": {"password": {
        "returnTokensAfterResetPassword": true, "invalidateAllSessionsAfterPasswordReset": false,
        "notifyUserAfterPasswordChanged": false}}}));
    let p = s.password();
    let id = user_with_email(&s);
    // Proven before (a reset proving the account's first address ends every session whatever the
    // option: docs/security.md, "Pre-account hijack").
    store_of(&s).verify_email(&id, "dana@example.com", 0).unwrap();
    let session = login(&s, "first password").unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    s.on(
        events::RESET_PASSWORD_SUCCESS,
        Arc::new(move |_, payload: &Value| {
            log.lock().unwrap().push(payload.clone());
            Ok(())
        }),
    );
    p.send_reset_password_email("dana@example.com").unwrap();
    let (_, token) = last_link(&mails);
    let result =
        p.reset_password(&token, "second password", None, &ConnectionInfo { ip: Some("10.0.0.1".into()), user_agent: None }).unwrap().unwrap();
    assert_eq!(result.user.id, id);
    assert_eq!(s.resume_session(&result.tokens.access_token).unwrap().id, id);
    s.resume_session(&session.tokens.access_token).unwrap();
    assert_eq!(mails.lock().unwrap().len(), 1, "no passwordChanged notice");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["id"], json!(id), "ResetPasswordSuccess carries the user, as in accounts-js");
}

#[test]
fn enrollment_sets_a_first_password() {
    let (s, clock, mails) = mailbox(json!({}));
    let p = s.password();
    let id = p.create_user(&json!({"email": "new@example.com"})).unwrap();
    p.send_enrollment_email("new@example.com").unwrap();
    let mail = mails.lock().unwrap().last().cloned().unwrap();
    assert!(mail["text"].as_str().unwrap().contains("/enroll-account/"));
    let (kind, token) = last_link(&mails);
    assert_eq!(kind, "enrollAccount");
    clock.advance_secs(29 * DAY);
    p.reset_password(&token, "my first password", None, &no_info()).unwrap();
    assert_eq!(s.password().authenticate(&json!({"user": "new@example.com", "password": "my first password"})).unwrap().id, id);
    p.send_enrollment_email("new@example.com").unwrap();
    let (_, late) = last_link(&mails);
    clock.advance_secs(30 * DAY + 1);
    assert_eq!(code(p.reset_password(&late, "another password", None, &no_info())), ErrorCode::ResetPasswordLinkExpired);
}

#[test]
fn change_password() {
    let (s, _, mails) = mailbox(json!({"ambiguousErrorMessages": false}));
    let p = s.password();
    let id = user_with_email(&s);
    let session = login(&s, "first password").unwrap();
    assert_eq!(code(p.change_password(&id, "wrong password", "second password")), ErrorCode::IncorrectPassword);
    assert_eq!(code(p.change_password(&id, "first password", "short")), ErrorCode::InvalidPassword, "accounts-js's code here");
    assert_eq!(code(p.change_password("missing", "first password", "second password")), ErrorCode::UserNotFound);
    p.change_password(&id, "first password", "second password").unwrap();
    assert_eq!(mails.lock().unwrap().last().unwrap()["type"], "passwordChanged");
    assert_eq!(code(login(&s, "first password")), ErrorCode::IncorrectPassword);
    login(&s, "second password").unwrap();
    s.resume_session(&session.tokens.access_token).unwrap(); // invalidateAllSessionsAfterPasswordChanged is off by default
    let nopass = p.create_user(&json!({"username": "nopass"})).unwrap();
    assert_eq!(code(p.change_password(&nopass, "anything at all", "second password")), ErrorCode::NoPasswordSet);

    let (s, _, _) = mailbox(json!({"services": {"password": {"invalidateAllSessionsAfterPasswordChanged": true}}}));
    let id = user_with_email(&s);
    let session = login(&s, "first password").unwrap();
    assert_eq!(code(s.password().change_password(&id, "wrong password", "second password")), ErrorCode::InvalidCredentials);
    s.password().change_password(&id, "first password", "second password").unwrap();
    assert_eq!(code(s.resume_session(&session.tokens.access_token)), ErrorCode::InvalidSession);
}

#[test]
fn email_verification_required_is_revealed_only_after_the_password() {
    let (s, _, mails) = mailbox(json!({"services": {"password": {"requireEmailVerification": true, "sendVerificationEmailAfterSignup": true}}}));
    user_with_email(&s);
    assert_eq!(last_link(&mails).0, "verifyEmail", "signup mails a verification link");
    assert_eq!(code(login(&s, "wrong password")), ErrorCode::InvalidCredentials);
    assert_eq!(code(login(&s, "first password")), ErrorCode::EmailNotVerified);
    let (_, token) = last_link(&mails);
    s.password().verify_email(&token).unwrap();
    login(&s, "first password").unwrap();
}

#[test]
fn mail_without_callback_and_templates() {
    let s =
        with(json!({"emailTemplates": {"from": "Team <t@app.example>", "resetPassword": {"subject": "Reset for {{email}}"}}}), Callbacks::default());
    user_with_email(&s);
    s.password().send_reset_password_email("dana@example.com").unwrap(); // logged, not an error
    let (s, _, mails) = mailbox(json!({"emailTemplates": {"from": "Team <t@app.example>", "resetPassword": {"subject": "Reset for {{email}}"}}}));
    user_with_email(&s);
    s.password().send_reset_password_email("dana@example.com").unwrap();
    let m = mails.lock().unwrap().last().cloned().unwrap();
    assert_eq!((m["from"].as_str(), m["subject"].as_str()), (Some("Team <t@app.example>"), Some("Reset for dana@example.com")));
    assert!(Config::from_value(json!({"db": "sqlite::memory:", "tokenSecret": SECRET, "emailTemplates": {"resetPasword": {}}})).is_err());
}

#[test]
fn a_failing_send_mail_fails_the_request() {
    let callbacks =
        Callbacks { send_mail: Some(Arc::new(|_: &Value| Err(AccountsError::new(ErrorCode::CallbackError, "smtp down")))), ..Callbacks::default() };
    let s = with(json!({}), callbacks);
    user_with_email(&s);
    assert_eq!(code(s.password().send_reset_password_email("dana@example.com")), ErrorCode::CallbackError);
}

#[test]
fn tokens_are_stored_only_as_digests() {
    let (s, _, mails) = mailbox(json!({}));
    let id = user_with_email(&s);
    s.password().send_reset_password_email("dana@example.com").unwrap();
    let (_, token) = last_link(&mails);
    // The store knows the digest, not the token.
    assert!(store_of(&s).take_token(&token, &["resetPassword"]).unwrap().is_none());
    let rec = store_of(&s).take_token(&secret::digest(&token), &["resetPassword"]).unwrap().unwrap();
    assert_eq!((rec.user_id.as_str(), rec.kind.as_str(), rec.address.as_deref()), (id.as_str(), "resetPassword", Some("dana@example.com")));
}

fn two_factor_on(s: &AccountsServer, clock: &ManualClock, id: &str) -> (String, Vec<String>) {
    let tf = s.password().two_factor();
    let secret = tf.get_new_auth_secret().unwrap();
    assert!(secret.otpauth_url.starts_with("otpauth://totp/"));
    assert!(secret.otpauth_url.contains(&format!("secret={}", secret.base32)));
    let now = (clock.now_ms() / 1000) as u64;
    let codes = tf.set(id, &secret.base32, &totp_code(&secret.base32, now)).unwrap();
    (secret.base32, codes)
}

#[test]
fn two_factor_login_replay_and_recovery_codes() {
    let (s, clock, _) = mailbox(json!({"ambiguousErrorMessages": false, "services": {"password": {"twoFactor": {"appName": "Acme"}}}}));
    let id = user_with_email(&s);
    let tf = s.password().two_factor();
    assert!(tf.get_new_auth_secret().unwrap().otpauth_url.contains("issuer=Acme"));
    assert_eq!(code(tf.unset(&id, "123456")), ErrorCode::TwoFactorNotSet);
    let fresh = tf.get_new_auth_secret().unwrap();
    assert_eq!(code(tf.set(&id, &fresh.base32, "000000")), ErrorCode::TwoFactorCodeDidNotMatch);
    assert_eq!(code(tf.set(&id, "not base32!", "000000")), ErrorCode::InvalidArgument);
    assert_eq!(code(tf.set("missing", &fresh.base32, "000000")), ErrorCode::UserNotFound);
    assert!(!tf.is_set(&id).unwrap());

    let (secret, recovery) = two_factor_on(&s, &clock, &id);
    assert_eq!(recovery.len(), 10);
    assert!(tf.is_set(&id).unwrap());
    assert_eq!(code(tf.set(&id, &secret, "123456")), ErrorCode::TwoFactorAlreadySet);

    let with_code = |c: Option<&str>| {
        let mut params = json!({"user": {"email": "dana@example.com"}, "password": "first password"});
        if let Some(c) = c {
            params["code"] = json!(c);
        }
        s.login_with_service("password", &params, &no_info())
    };
    assert_eq!(code(with_code(None)), ErrorCode::TwoFactorCodeRequired);
    assert_eq!(code(with_code(Some(""))), ErrorCode::TwoFactorCodeRequired);
    // The code used by `set` cannot log in: each step is accepted once.
    let now = (clock.now_ms() / 1000) as u64;
    assert_eq!(code(with_code(Some(&totp_code(&secret, now)))), ErrorCode::TwoFactorCodeDidNotMatch);
    clock.advance_secs(30);
    let next = totp_code(&secret, now + 30);
    with_code(Some(&next)).unwrap();
    assert_eq!(code(with_code(Some(&next))), ErrorCode::TwoFactorCodeDidNotMatch, "replay");
    // Wrong password with a right code is still just the password error.
    clock.advance_secs(30);
    let p = s.login_with_service(
        "password",
        &json!({"user": "dana@example.com", "password": "nope nope", "code": totp_code(&secret, now + 60)}),
        &no_info(),
    );
    assert_eq!(code(p), ErrorCode::IncorrectPassword);
    // Clock drift of one step is accepted (window 1), two is not.
    clock.advance_secs(30);
    with_code(Some(&totp_code(&secret, now + 60))).unwrap();
    assert_eq!(code(with_code(Some(&totp_code(&secret, now + 30)))), ErrorCode::TwoFactorCodeDidNotMatch);

    // Recovery codes: each once, any formatting.
    with_code(Some(&recovery[0].to_uppercase())).unwrap();
    assert_eq!(code(with_code(Some(&recovery[0]))), ErrorCode::TwoFactorCodeDidNotMatch);
    with_code(Some(&recovery[1].replace('-', " "))).unwrap();
    clock.advance_secs(30);
    let fresh_codes = tf.regenerate_recovery_codes(&id, &totp_code(&secret, now + 120)).unwrap();
    assert_eq!(code(with_code(Some(&recovery[2]))), ErrorCode::TwoFactorCodeDidNotMatch, "old codes are gone");
    with_code(Some(&fresh_codes[0])).unwrap();

    // Unset with a recovery code; then the login needs no code.
    assert_eq!(code(tf.unset(&id, "999999")), ErrorCode::TwoFactorCodeDidNotMatch);
    tf.unset(&id, &fresh_codes[1]).unwrap();
    assert!(!tf.is_set(&id).unwrap());
    with_code(None).unwrap();
}

#[test]
fn totp_matches_rfc_6238_and_the_secret_is_sealed() {
    // RFC 6238 appendix B, SHA-1 key "12345678901234567890", T = 1111111109 → 07081804 (6 digits: 081804).
    let clock = Arc::new(ManualClock::new(1_111_111_109_000));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let s = AccountsServer::with_clock(config(&format!("sqlite:{}", path.display()), json!({})), Callbacks::default(), clock).unwrap();
    let id = user_with_email(&s);
    let base32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let codes = s.password().two_factor().set(&id, base32, "081804").unwrap();
    let stored = store_of(&s).find_service(&id, "two-factor").unwrap().unwrap();
    assert!(!stored.contains(base32) && !stored.contains(&hex::encode("12345678901234567890")));
    assert!(!stored.contains(&codes[0]));
    {
        let user = s.find_user_by_id(&id).unwrap().unwrap();
        let text = serde_json::to_string(&user).unwrap();
        assert!(!text.contains("two-factor") && !text.contains(base32));
    }
    drop(s);
    let bytes = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_string();
    assert!(!bytes.contains(base32) && !bytes.contains("12345678901234567890"));
}

#[test]
fn magic_link_login() {
    let (s, clock, mails) = mailbox(json!({"siteUrl": "https://app.example"}));
    let id = user_with_email(&s);
    let ml = s.magic_link();
    ml.request_magic_link_email("Dana@example.com").unwrap();
    let (kind, token) = last_link(&mails);
    assert_eq!(kind, "magicLink");
    assert!(mails.lock().unwrap().last().unwrap()["text"].as_str().unwrap().contains("https://app.example/magiclink/"));
    let r = s.login_with_service("magicLink", &json!({"token": token}), &no_info()).unwrap();
    assert_eq!(r.user.id, id);
    assert!(r.user.emails[0].verified, "the link proved the address");
    assert_eq!(code(s.login_with_service("magicLink", &json!({"token": token}), &no_info())), ErrorCode::LoginTokenExpired);
    // accounts-js's codes: a missing token, a token of the wrong type.
    assert_eq!(code(s.login_with_service("magicLink", &json!({}), &no_info())), ErrorCode::UnrecognizedOptionsForLogin);
    assert_eq!(code(s.login_with_service("magicLink", &json!({"token": ""}), &no_info())), ErrorCode::UnrecognizedOptionsForLogin);
    assert_eq!(code(s.login_with_service("magicLink", &json!({"token": 5}), &no_info())), ErrorCode::MatchFailed);

    ml.request_magic_link_email("dana@example.com").unwrap();
    let (_, old) = last_link(&mails);
    ml.request_magic_link_email("dana@example.com").unwrap();
    let (_, expiring) = last_link(&mails);
    assert_eq!(code(s.login_with_service("magicLink", &json!({"token": old}), &no_info())), ErrorCode::LoginTokenExpired);
    clock.advance_secs(15 * 60 + 1);
    assert_eq!(code(s.login_with_service("magicLink", &json!({"token": expiring}), &no_info())), ErrorCode::LoginTokenExpired);

    // With two-factor on, the link alone is not enough.
    let (secret, _) = two_factor_on(&s, &clock, &id);
    ml.request_magic_link_email("dana@example.com").unwrap();
    let (_, token) = last_link(&mails);
    assert_eq!(code(s.login_with_service("magicLink", &json!({"token": token}), &no_info())), ErrorCode::TwoFactorCodeRequired);
    ml.request_magic_link_email("dana@example.com").unwrap();
    let (_, token) = last_link(&mails);
    clock.advance_secs(30);
    let c = totp_code(&secret, (clock.now_ms() / 1000) as u64);
    s.login_with_service("magicLink", &json!({"token": token, "code": c}), &no_info()).unwrap();
}

#[test]
fn concurrent_use_of_one_link_succeeds_once() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, mails) = mailbox_on(&format!("sqlite:{}", dir.path().join("a.db").display()), json!({}));
    let s = Arc::new(s);
    user_with_email(&s);
    s.magic_link().request_magic_link_email("dana@example.com").unwrap();
    let (_, token) = last_link(&mails);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            let t = token.clone();
            std::thread::spawn(move || s.login_with_service("magicLink", &json!({"token": t}), &no_info()).is_ok())
        })
        .collect();
    let wins = handles.into_iter().map(|h| h.join().unwrap()).filter(|ok| *ok).count();
    assert_eq!(wins, 1);
}

#[test]
fn reset_links_die_when_the_password_changes() {
    for remove in [true, false] {
        let (s, _, mails) = mailbox(json!({"services": {"password": {"removeAllResetPasswordTokensAfterPasswordChanged": remove}}}));
        let p = s.password();
        let id = user_with_email(&s);
        let use_link = |token: &str| p.reset_password(token, "a reset password", None, &no_info()).map(|_| ());
        p.send_reset_password_email("dana@example.com").unwrap();
        let (_, link) = last_link(&mails);
        p.change_password(&id, "first password", "second password").unwrap();
        if remove {
            assert_eq!(code(use_link(&link)), ErrorCode::ResetPasswordLinkExpired, "changePassword kills it");
        } else {
            use_link(&link).unwrap();
        }
        p.send_reset_password_email("dana@example.com").unwrap();
        let (_, link) = last_link(&mails);
        p.set_password(&id, "third password").unwrap();
        if remove {
            assert_eq!(code(use_link(&link)), ErrorCode::ResetPasswordLinkExpired, "setPassword too");
        } else {
            use_link(&link).unwrap();
        }
    }
}

/// Deliberate differences from accounts-js (docs/differences-from-accounts-js.md).
#[test]
fn listed_differences_short_secrets_site_url_slashes_and_audience_arrays() {
    // A siteUrl ending in `/` gives links with one slash.
    let (s, _, mails) = mailbox(json!({"siteUrl": "https://app.example/"}));
    let id = user_with_email(&s);
    s.password().send_reset_password_email("dana@example.com").unwrap();
    let text = mails.lock().unwrap().last().unwrap()["text"].as_str().unwrap().to_string();
    assert!(text.contains("https://app.example/reset-password/") && !text.contains("example//"), "{text}");
    // An 80-bit two-factor secret is refused, before the code is looked at.
    let short = s.password().two_factor().set(&id, "JBSWY3DPEHPK3PXP", "000000");
    assert_eq!(code(short), ErrorCode::InvalidArgument);
    // refreshTokens answers a LoginResult: no `infos` (the caller passed them in).
    let first = login(&s, "first password").unwrap();
    let again = s.refresh_tokens(&first.tokens.access_token, &first.tokens.refresh_token, &no_info()).unwrap();
    let shown = serde_json::to_value(&again).unwrap();
    assert_eq!(shown.as_object().unwrap().keys().collect::<Vec<_>>(), ["sessionId", "tokens", "user"]);
    // One audience per deployment.
    let cfg = json!({"db": "sqlite::memory:", "tokenSecret": SECRET, "tokenConfigs": {"accessToken": {"audience": ["a", "b"]}}});
    assert_eq!(code(Config::from_value(cfg)), ErrorCode::InvalidConfig);
}
