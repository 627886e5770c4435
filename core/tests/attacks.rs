//! The attack suite (docs/security.md): one named test per attack, each asserting the refusal
//! and its code. Timing attacks are measured as ratios in `make bench`, not asserted here.
mod common;
use accounts_core::host::*;
use accounts_core::*;
use base64::Engine;
use common::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

fn from(ip: &str) -> ConnectionInfo {
    ConnectionInfo { ip: Some(ip.into()), user_agent: None }
}

fn login(s: &AccountsServer, user: &str, password: &str, ip: &str) -> Result<LoginResult> {
    s.login_with_service("password", &json!({"user": user, "password": password}), &from(ip))
}

fn retry_after(e: &AccountsError) -> i64 {
    assert_eq!(e.code, ErrorCode::TooManyAttempts);
    e.details.as_ref().and_then(|d| d["retryAfter"].as_i64()).expect("retryAfter in details")
}

/// A server with a manual clock, collected mails and an impersonation rule: alice may impersonate.
fn lab(extra: Value) -> (AccountsServer, Arc<ManualClock>, Arc<Mutex<Vec<Value>>>) {
    let mails = Arc::new(Mutex::new(Vec::new()));
    let sink = mails.clone();
    let callbacks = Callbacks {
        send_mail: Some(Arc::new(move |m: &Value| {
            sink.lock().unwrap().push(m.clone());
            Ok(())
        })),
        impersonation_authorize: Some(Arc::new(|u: &User, _t: &User| Ok(u.username.as_deref() == Some("alice")))),
        ..Callbacks::default()
    };
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let s = AccountsServer::with_clock(config("sqlite::memory:", extra), callbacks, clock.clone()).unwrap();
    (s, clock, mails)
}

fn now_secs(clock: &ManualClock) -> u64 {
    (clock.now_ms() / 1000) as u64
}

/// Turns two-factor on for `id`; returns the base32 secret.
fn two_factor_on(s: &AccountsServer, clock: &ManualClock, id: &str) -> String {
    let secret = s.password().two_factor().get_new_auth_secret().unwrap();
    s.password().two_factor().set(id, &secret.base32, &totp_code(&secret.base32, now_secs(clock))).unwrap();
    clock.advance_secs(30); // the enrolment code's step is used up
    secret.base32
}

/// A six-digit code that is not valid now (nor in the drift window).
fn wrong_code(secret: &str, clock: &ManualClock) -> String {
    let valid: Vec<String> = (-1..=1).map(|d| totp_code(secret, (now_secs(clock) as i64 + d * 30) as u64)).collect();
    (0..1_000_000).map(|n| format!("{n:06}")).find(|c| !valid.contains(c)).unwrap()
}

// ---- attempt limits ----

#[test]
fn two_factor_codes_cannot_be_guessed_without_limit_in_unset() {
    let (s, clock, _) = lab(json!({}));
    let (id, _) = alice(&s);
    let secret = two_factor_on(&s, &clock, &id);
    let tf = s.password().two_factor();
    for _ in 0..10 {
        assert_eq!(code(tf.unset(&id, &wrong_code(&secret, &clock))), ErrorCode::TwoFactorCodeDidNotMatch);
    }
    // The 11th guess is refused before it is checked, even when it is right.
    let e = tf.unset(&id, &totp_code(&secret, now_secs(&clock))).unwrap_err();
    assert!((1..=900).contains(&retry_after(&e)));
    assert_eq!(code(tf.regenerate_recovery_codes(&id, &wrong_code(&secret, &clock))), ErrorCode::TooManyAttempts);
    assert!(tf.is_set(&id).unwrap(), "two-factor stays on");
    clock.advance_secs(901);
    tf.unset(&id, &totp_code(&secret, now_secs(&clock))).unwrap();
    assert!(!tf.is_set(&id).unwrap());
}

#[test]
fn two_factor_codes_at_login_are_limited_per_account_and_ip() {
    let (s, clock, _) = lab(json!({}));
    let (id, _) = alice(&s);
    let secret = two_factor_on(&s, &clock, &id);
    let with_code =
        |c: &str, ip: &str| s.login_with_service("password", &json!({"user": "alice", "password": "correct horse", "code": c}), &from(ip));
    for _ in 0..5 {
        assert_eq!(code(with_code(&wrong_code(&secret, &clock), "198.51.100.7")), ErrorCode::TwoFactorCodeDidNotMatch);
    }
    assert_eq!(code(with_code(&totp_code(&secret, now_secs(&clock)), "198.51.100.7")), ErrorCode::TooManyAttempts);
    // Another address still may (per account + IP is the strict limit), until the account limit.
    with_code(&totp_code(&secret, now_secs(&clock)), "203.0.113.9").unwrap();
    clock.advance_secs(30);
    for _ in 0..5 {
        assert_eq!(code(with_code(&wrong_code(&secret, &clock), "203.0.113.10")), ErrorCode::TwoFactorCodeDidNotMatch);
    }
    assert_eq!(code(with_code(&totp_code(&secret, now_secs(&clock)), "203.0.113.11")), ErrorCode::TooManyAttempts, "10 per account");
}

#[test]
fn password_guesses_are_limited_per_account_and_ip_and_a_success_resets() {
    let (s, clock, _) = lab(json!({}));
    alice(&s);
    for _ in 0..4 {
        assert_eq!(code(login(&s, "alice", "wrong", "198.51.100.7")), ErrorCode::InvalidCredentials);
    }
    login(&s, "alice", "correct horse", "198.51.100.7").unwrap();
    // The success cleared this address's counter: five more wrong guesses are allowed again.
    for _ in 0..5 {
        assert_eq!(code(login(&s, "alice", "wrong", "198.51.100.7")), ErrorCode::InvalidCredentials);
    }
    let e = login(&s, "alice", "correct horse", "198.51.100.7").unwrap_err();
    assert!((1..=900).contains(&retry_after(&e)), "refused even with the right password");
    login(&s, "alice@example.com", "correct horse", "203.0.113.9").expect("the owner elsewhere is not locked out");
    clock.advance_secs(901);
    login(&s, "alice", "correct horse", "198.51.100.7").unwrap();
}

#[test]
fn an_empty_password_is_a_missing_one_and_is_not_counted() {
    let (s, _clock, _) = lab(json!({}));
    alice(&s);
    // accounts-js answers UnrecognizedOptionsForLogin for `password: ''`; not a guess, so any
    // number of them leaves the five allowed wrong guesses intact.
    for _ in 0..10 {
        assert_eq!(code(login(&s, "alice", "", "198.51.100.7")), ErrorCode::UnrecognizedOptionsForLogin);
    }
    for _ in 0..4 {
        assert_eq!(code(login(&s, "alice", "wrong", "198.51.100.7")), ErrorCode::InvalidCredentials);
    }
    login(&s, "alice", "correct horse", "198.51.100.7").expect("no empty password was counted");
}

#[test]
fn old_password_guesses_through_change_password_are_limited() {
    let (s, _, _) = lab(json!({}));
    let (id, _) = alice(&s);
    for _ in 0..50 {
        assert_eq!(code(s.password().change_password(&id, "guess", "new password!")), ErrorCode::InvalidCredentials);
    }
    assert_eq!(code(s.password().change_password(&id, "correct horse", "new password!")), ErrorCode::TooManyAttempts);
}

#[test]
fn a_burst_of_concurrent_guesses_cannot_slip_under_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = file(&dir, json!({}));
    alice(&s);
    let barrier = std::sync::Barrier::new(24);
    let codes: Vec<ErrorCode> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..24)
            .map(|_| {
                let (s, barrier) = (&s, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    code(login(s, "alice", "wrong", "198.51.100.7"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = codes.iter().filter(|c| **c == ErrorCode::InvalidCredentials).count();
    assert_eq!(checked, 5, "only the limit's worth of guesses is checked: {codes:?}");
    assert!(codes.iter().all(|c| matches!(c, ErrorCode::InvalidCredentials | ErrorCode::TooManyAttempts)));
    assert_eq!(code(login(&s, "alice", "correct horse", "198.51.100.7")), ErrorCode::TooManyAttempts);
}

#[test]
fn unknown_accounts_are_limited_exactly_like_known_ones() {
    let (s, _, _) = lab(json!({}));
    alice(&s);
    let run = |user: &str| -> Vec<ErrorCode> { (0..7).map(|_| code(login(&s, user, "wrong", "198.51.100.7"))).collect() };
    let known = run("alice");
    let unknown = run("nobody-here");
    assert_eq!(known, unknown, "the sequence of codes does not tell whether the account exists");
    assert_eq!(known[4], ErrorCode::InvalidCredentials);
    assert_eq!(known[5], ErrorCode::TooManyAttempts);
}

#[test]
fn credential_stuffing_from_one_ip_is_limited() {
    let (s, _, _) = lab(json!({"attemptLimits": {"password": {
        "accountIp": {"max": 5, "window": "15m"}, "account": {"max": 50, "window": "15m"}, "ip": {"max": 20, "window": "15m"}}}}));
    alice(&s);
    for i in 0..20 {
        assert_eq!(code(login(&s, &format!("user{i}@example.com"), "123456", "198.51.100.7")), ErrorCode::InvalidCredentials);
    }
    assert_eq!(code(login(&s, "alice", "correct horse", "198.51.100.7")), ErrorCode::TooManyAttempts);
    login(&s, "alice", "correct horse", "203.0.113.9").unwrap();
}

#[test]
fn a_stranger_cannot_lock_the_owner_out_for_long() {
    let (s, clock, _) = lab(json!({}));
    alice(&s);
    // 50 wrong guesses from 50 addresses fill the account counter ...
    for i in 0..50 {
        assert_eq!(code(login(&s, "alice", "wrong", &format!("10.0.{}.{}", i / 200, i % 200))), ErrorCode::InvalidCredentials);
    }
    let e = login(&s, "alice", "correct horse", "203.0.113.9").unwrap_err();
    // ... for at most the window (15 minutes), then the owner is back in.
    assert!(retry_after(&e) <= 900);
    clock.advance_secs(retry_after(&e));
    login(&s, "alice", "correct horse", "203.0.113.9").unwrap();
}

#[test]
fn refusals_carry_retry_after_and_emit_an_event() {
    let (s, _, _) = lab(json!({}));
    alice(&s);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    s.on(
        "TooManyAttempts",
        Arc::new(move |_e: &str, p: &Value| {
            log.lock().unwrap().push(p.clone());
            Ok(())
        }),
    );
    for _ in 0..5 {
        let _ = login(&s, "alice", "wrong", "198.51.100.7");
    }
    assert!(seen.lock().unwrap().is_empty());
    let e = login(&s, "alice", "wrong", "198.51.100.7").unwrap_err();
    assert_eq!(retry_after(&e), 900);
    let events = seen.lock().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["attempt"], json!("password"));
    assert_eq!(events[0]["limit"], json!("accountIp"));
    assert_eq!(events[0]["retryAfter"], json!(900));
}

#[test]
fn guessed_link_tokens_are_limited_per_ip() {
    let (s, _, mails) = lab(json!({"attemptLimits": {"linkToken": {
        "accountIp": {"max": 0, "window": "15m"}, "account": {"max": 0, "window": "15m"}, "ip": {"max": 3, "window": "15m"}}}}));
    alice(&s);
    s.password().send_reset_password_email("alice@example.com").unwrap();
    let (_, token) = last_link(&mails);
    for _ in 0..3 {
        let guess = secret::random_hex(32).unwrap();
        assert_eq!(code(s.password().reset_password(&guess, "new password!", None, &from("198.51.100.7"))), ErrorCode::ResetPasswordLinkExpired);
    }
    assert_eq!(code(s.password().reset_password(&token, "new password!", None, &from("198.51.100.7"))), ErrorCode::TooManyAttempts);
    s.magic_link().request_magic_link_email("alice@example.com").unwrap();
    let (_, magic) = last_link(&mails);
    assert_eq!(code(s.login_with_service("magicLink", &json!({"token": magic}), &from("198.51.100.7"))), ErrorCode::TooManyAttempts);
    s.password().reset_password(&token, "new password!", None, &from("203.0.113.9")).unwrap();
}

// ---- no second-factor bypass ----

#[test]
fn a_reset_link_alone_does_not_open_a_session_for_a_two_factor_user() {
    let (s, clock, mails) = lab(json!({"services": {"password": {"returnTokensAfterResetPassword": true}}}));
    let (id, _) = alice(&s);
    let secret = two_factor_on(&s, &clock, &id);
    let p = s.password();
    p.send_reset_password_email("alice@example.com").unwrap();
    let (_, token) = last_link(&mails);
    // A wrong code changes nothing and leaves the link usable.
    assert_eq!(
        code(p.reset_password(&token, "second password", Some(&wrong_code(&secret, &clock)), &no_info())),
        ErrorCode::TwoFactorCodeDidNotMatch
    );
    assert_eq!(code(login(&s, "alice", "second password", "203.0.113.9")), ErrorCode::InvalidCredentials);
    // Without a code: the password changes, no session comes back.
    assert_eq!(p.reset_password(&token, "second password", None, &no_info()).unwrap(), None);
    assert_eq!(code(login(&s, "alice", "second password", "203.0.113.9")), ErrorCode::TwoFactorCodeRequired, "the new password took");
    // With a valid code: a session.
    p.send_reset_password_email("alice@example.com").unwrap();
    let (_, token) = last_link(&mails);
    let r = p.reset_password(&token, "third password", Some(&totp_code(&secret, now_secs(&clock))), &no_info()).unwrap().unwrap();
    assert_eq!(s.resume_session(&r.tokens.access_token).unwrap().id, id);
}

#[test]
fn a_failed_magic_link_login_does_not_use_the_link_up() {
    let (s, clock, mails) = lab(json!({}));
    let (id, _) = alice(&s);
    let secret = two_factor_on(&s, &clock, &id);
    s.magic_link().request_magic_link_email("alice@example.com").unwrap();
    let (_, token) = last_link(&mails);
    assert_eq!(code(s.login_with_service("magicLink", &json!({"token": token}), &no_info())), ErrorCode::TwoFactorCodeRequired);
    assert_eq!(
        code(s.login_with_service("magicLink", &json!({"token": token, "code": wrong_code(&secret, &clock)}), &no_info())),
        ErrorCode::TwoFactorCodeDidNotMatch
    );
    let r = s.login_with_service("magicLink", &json!({"token": token, "code": totp_code(&secret, now_secs(&clock))}), &no_info()).unwrap();
    assert_eq!(r.user.id, id);
    assert_eq!(code(s.login_with_service("magicLink", &json!({"token": token}), &no_info())), ErrorCode::LoginTokenExpired, "used up by the success");
}

struct TrustedHeader;
impl AuthService for TrustedHeader {
    fn authenticate(&self, server: &AccountsServer, params: &Value, _infos: &ConnectionInfo) -> Result<Option<User>> {
        match params.get("user").and_then(Value::as_str) {
            Some(name) => server.password().find_user_by_username(name),
            None => Ok(None),
        }
    }
}

#[test]
fn a_custom_service_cannot_bypass_the_second_factor() {
    let (s, clock, _) = lab(json!({}));
    let (id, _) = alice(&s);
    s.register_service("sso", Arc::new(TrustedHeader));
    s.login_with_service("sso", &json!({"user": "alice"}), &no_info()).unwrap();
    let secret = two_factor_on(&s, &clock, &id);
    assert_eq!(code(s.login_with_service("sso", &json!({"user": "alice"}), &no_info())), ErrorCode::TwoFactorCodeRequired);
    assert_eq!(code(s.authenticate_with_service("sso", &json!({"user": "alice"}), &no_info())), ErrorCode::TwoFactorCodeRequired);
    s.login_with_service("sso", &json!({"user": "alice", "code": totp_code(&secret, now_secs(&clock))}), &no_info()).unwrap();
}

// ---- tokens ----

#[test]
fn refresh_works_with_issuer_and_audience_configured() {
    let (s, clock) = clocked(json!({"tokenConfigs": {"accessToken": {"issuer": "https://auth.example", "audience": "api"}}}));
    let (_, l) = alice(&s);
    assert_eq!(claims(&l.tokens.refresh_token)["aud"], json!("api"));
    clock.advance_secs(90 * 60 + 1); // the access token expired: the client refreshes now
    let r = s.refresh_tokens(&l.tokens.access_token, &l.tokens.refresh_token, &no_info()).unwrap();
    s.resume_session(&r.tokens.access_token).unwrap();
    s.refresh_tokens(&r.tokens.access_token, &r.tokens.refresh_token, &no_info()).unwrap();
    // Tokens of a server with another audience do not verify here.
    let (other, _) = clocked(json!({"tokenConfigs": {"accessToken": {"issuer": "https://auth.example", "audience": "admin"}}}));
    assert_eq!(code(other.resume_session(&r.tokens.access_token)), ErrorCode::TokenVerificationFailed);
}

#[test]
fn a_sealed_two_factor_secret_copied_to_another_user_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let path = dir.path().join("a.db");
    let s = AccountsServer::with_clock(config(&format!("sqlite:{}", path.display()), json!({})), Callbacks::default(), clock.clone()).unwrap();
    let (alice_id, _) = alice(&s);
    let secret = two_factor_on(&s, &clock, &alice_id);
    let mallory = s.password().create_user(&json!({"username": "mallory", "password": "mallory's pw"})).unwrap();
    // An attacker with write access to the table copies alice's document onto their own account.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "INSERT INTO services (user_id, name, data, updated_at) SELECT ?1, name, data, updated_at FROM services WHERE user_id = ?2",
        [&mallory, &alice_id],
    )
    .unwrap();
    let r = s.login_with_service(
        "password",
        &json!({"user": "mallory", "password": "mallory's pw", "code": totp_code(&secret, now_secs(&clock))}),
        &no_info(),
    );
    assert_eq!(code(r), ErrorCode::InternalError, "the copy does not open for another user");
    s.login_with_service(
        "password",
        &json!({"user": "alice", "password": "correct horse", "code": totp_code(&secret, now_secs(&clock))}),
        &no_info(),
    )
    .unwrap();
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[test]
fn jwt_hs_rs_algorithm_confusion_is_refused() {
    let s = memory();
    let (_, l) = alice(&s);
    let payload = claims(&l.tokens.access_token);
    // An RS256 header over an HMAC signature made with the shared secret (the classic confusion).
    for alg in ["RS256", "ES256", "EdDSA", "PS256", "none", "HS512"] {
        let header = b64(&json!({"alg": alg, "typ": "JWT"}));
        let body = b64(&payload);
        let sig = l.tokens.access_token.rsplit('.').next().unwrap();
        let forged = format!("{header}.{body}.{sig}");
        assert_eq!(code(s.resume_session(&forged)), ErrorCode::TokenVerificationFailed, "{alg}");
    }
}

#[test]
fn jwt_of_another_session_does_not_pair() {
    let s = memory();
    let (_, a) = alice(&s);
    let b = login(&s, "alice", "correct horse", "203.0.113.9").unwrap();
    assert_eq!(code(s.refresh_tokens(&a.tokens.access_token, &b.tokens.refresh_token, &no_info())), ErrorCode::TokenVerificationFailed);
    s.logout(&b.tokens.access_token).unwrap();
    assert_eq!(code(s.resume_session(&b.tokens.access_token)), ErrorCode::InvalidSession);
    s.resume_session(&a.tokens.access_token).expect("logging one session out leaves the other");
}

// ---- impersonation ----

#[test]
fn a_deactivated_administrator_cannot_impersonate_and_their_impersonations_end() {
    let (s, _, _) = lab(json!({}));
    let (alice_id, l) = alice(&s);
    let bob = s.password().create_user(&json!({"username": "bob"})).unwrap();
    let target = ImpersonationTarget { user_id: Some(bob.clone()), ..Default::default() };
    let imp = s.impersonate(&l.tokens.access_token, &target, &no_info()).unwrap();
    let t = imp.tokens.unwrap();
    assert_eq!(s.resume_session(&t.access_token).unwrap().id, bob);
    s.deactivate_user(&alice_id).unwrap();
    assert_eq!(code(s.resume_session(&t.access_token)), ErrorCode::InvalidSession, "the impersonation ends with its impersonator");
    assert_eq!(code(s.refresh_tokens(&t.access_token, &t.refresh_token, &no_info())), ErrorCode::InvalidSession);
    assert_eq!(code(s.impersonate(&l.tokens.access_token, &target, &no_info())), ErrorCode::UserDeactivated);
}

#[test]
fn revoking_all_sessions_of_the_impersonator_ends_their_impersonations() {
    let (s, _, _) = lab(json!({}));
    let (alice_id, l) = alice(&s);
    let bob = s.password().create_user(&json!({"username": "bob", "password": "bob's password"})).unwrap();
    let bob_own = login(&s, "bob", "bob's password", "203.0.113.9").unwrap();
    let imp = s.impersonate(&l.tokens.access_token, &ImpersonationTarget { user_id: Some(bob.clone()), ..Default::default() }, &no_info()).unwrap();
    let t = imp.tokens.unwrap();
    assert_eq!(s.revoke_all_sessions(&alice_id, &RevokeAllOptions::default()).unwrap(), 2, "her own and the impersonation");
    assert_eq!(code(s.resume_session(&t.access_token)), ErrorCode::InvalidSession);
    s.resume_session(&bob_own.tokens.access_token).expect("bob's own session is not alice's to end");
}

#[test]
fn impersonating_from_an_impersonation_session_is_refused() {
    let (s, _, _) = lab(json!({}));
    let (_, l) = alice(&s);
    let bob = s.password().create_user(&json!({"username": "bob"})).unwrap();
    let carol = s.password().create_user(&json!({"username": "carol"})).unwrap();
    let imp = s.impersonate(&l.tokens.access_token, &ImpersonationTarget { user_id: Some(bob), ..Default::default() }, &no_info()).unwrap();
    let chained =
        s.impersonate(&imp.tokens.unwrap().access_token, &ImpersonationTarget { user_id: Some(carol), ..Default::default() }, &no_info()).unwrap();
    assert!(!chained.authorized && chained.tokens.is_none());
}

// ---- identifiers ----

#[test]
fn identifiers_a_person_cannot_tell_apart_are_one_account() {
    // The rules hold whatever the host's own validation lets through (here: everything).
    let anything: Arc<callbacks::ValidateFn> = Arc::new(|_| Ok(true));
    let permissive = Callbacks { validate_username: Some(anything.clone()), validate_email: Some(anything), ..Callbacks::default() };
    for s in [memory(), with(json!({}), permissive)] {
        s.password().create_user(&json!({"username": "alice", "email": "alice@example.com", "password": "correct horse"})).unwrap();
        assert_eq!(code(s.password().create_user(&json!({"username": "Alice"}))), ErrorCode::UsernameAlreadyExists);
        assert_eq!(code(s.password().create_user(&json!({"username": "ALICE"}))), ErrorCode::UsernameAlreadyExists);
        for invalid in [" alice", "alice ", "alice\u{200b}", "al\u{00AD}ice", "al\u{0}ice", "alіce"] {
            assert_eq!(code(s.password().create_user(&json!({"username": invalid}))), ErrorCode::InvalidUsername, "{invalid:?}");
        }
        assert_eq!(code(s.password().create_user(&json!({"email": "ALICE@example.com"}))), ErrorCode::EmailAlreadyExists);
        assert_eq!(code(s.password().create_user(&json!({"email": "alіce@example.com"}))), ErrorCode::InvalidEmail);
        assert_eq!(code(s.password().create_user(&json!({"email": "alice\u{200b}@example.com"}))), ErrorCode::InvalidEmail);
    }
    let s = with(
        json!({}),
        Callbacks { validate_username: Some(Arc::new(|_| Ok(true))), validate_email: Some(Arc::new(|_| Ok(true))), ..Callbacks::default() },
    );
    s.password().create_user(&json!({"email": "alice@example.com"})).unwrap();
    assert_eq!(code(s.password().create_user(&json!({"email": " ALICE@example.com "}))), ErrorCode::EmailAlreadyExists, "trimmed");
    // NFC: a decomposed ü and a composed ü are one name and one address.
    s.password().create_user(&json!({"username": "jürgen", "email": "jürgen@example.de"})).unwrap();
    assert_eq!(code(s.password().create_user(&json!({"username": "ju\u{0308}rgen"}))), ErrorCode::UsernameAlreadyExists);
    assert_eq!(code(s.password().create_user(&json!({"email": "ju\u{0308}rgen@example.de"}))), ErrorCode::EmailAlreadyExists);
    assert!(s.password().find_user_by_username("ju\u{0308}rgen").unwrap().is_some());
}

#[test]
fn nul_bytes_are_input_errors_never_storage_errors() {
    let mut dbs = vec!["sqlite::memory:".to_string()];
    dbs.extend(pg_database());
    for db in dbs {
        let s = AccountsServer::new(config(&db, json!({})), Callbacks::default()).unwrap();
        alice(&s);
        assert_eq!(code(s.password().create_user(&json!({"username": "bo\u{0}b"}))), ErrorCode::InvalidUsername, "{db}");
        assert_eq!(code(s.password().create_user(&json!({"email": "bo\u{0}b@example.com"}))), ErrorCode::InvalidEmail, "{db}");
        for user in [json!("ali\u{0}ce"), json!("alice\u{0}@example.com"), json!({"id": "x\u{0}"}), json!({"username": "\u{0}"})] {
            assert_eq!(
                code(s.login_with_service("password", &json!({"user": user, "password": "x"}), &no_info())),
                ErrorCode::InvalidCredentials,
                "{db}"
            );
        }
        assert!(s.find_user_by_id("a\u{0}b").unwrap().is_none());
        assert!(s.password().find_user_by_email("a\u{0}@b.co").unwrap().is_none());
        assert!(s.list_sessions("a\u{0}").unwrap().is_empty());
        assert_eq!(code(s.deactivate_user("a\u{0}")), ErrorCode::UserNotFound);
        assert_eq!(code(s.revoke_session("a\u{0}")), ErrorCode::SessionNotFound);
        // Request headers an attacker writes are recorded without their control characters.
        let r = s.login_with_service(
            "password",
            &json!({"user": "alice", "password": "correct horse"}),
            &ConnectionInfo { ip: Some("10.0.0.1\u{0}".into()), user_agent: Some("evil\u{0}agent".into()) },
        );
        let session = s.find_session_by_access_token(&r.unwrap().tokens.access_token).unwrap();
        assert_eq!((session.ip.as_deref(), session.user_agent.as_deref()), (Some("10.0.0.1"), Some("evilagent")), "{db}");
    }
}

// ---- storage and secrets ----

#[cfg(unix)]
#[test]
fn the_database_file_and_its_wal_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (s, path) = file(&dir, json!({}));
    alice(&s);
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", path.display());
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{p}");
    }
}

#[test]
fn options_redact_database_credentials() {
    let mut cfg = config("sqlite::memory:", json!({}));
    cfg.db = "postgres://app:pg-s3cret@db.internal:5432/accounts?sslmode=require".into();
    let shown = serde_json::to_string(&cfg).unwrap();
    assert!(!shown.contains("pg-s3cret") && !shown.contains(SECRET), "{shown}");
    assert!(shown.contains("postgres://app:[redacted]@db.internal:5432/accounts"));
    let s = memory();
    let shown = serde_json::to_string(s.options()).unwrap();
    assert!(!shown.contains(SECRET));
}

fn count_rows(path: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(path).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn verification_tokens_are_bounded_per_address_and_expired_ones_purged() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let path = dir.path().join("a.db");
    let s = AccountsServer::with_clock(config(&format!("sqlite:{}", path.display()), json!({})), Callbacks::default(), clock.clone()).unwrap();
    let (id, _) = alice(&s);
    s.password().add_email(&id, "second@example.com", false).unwrap();
    for _ in 0..20 {
        s.password().send_verification_email("alice@example.com").unwrap();
    }
    s.password().send_verification_email("second@example.com").unwrap();
    assert_eq!(count_rows(&path, "SELECT COUNT(*) FROM tokens WHERE kind = 'verifyEmail'"), 2, "one live link per address");
    for _ in 0..6 {
        let _ = login(&s, "alice", "wrong", "198.51.100.7");
    }
    assert!(count_rows(&path, "SELECT COUNT(*) FROM attempts") > 0);
    clock.advance_secs(4 * 86_400);
    let report = s.purge_expired().unwrap();
    assert_eq!((report.tokens, report.attempts), (2, 3));
    assert_eq!(count_rows(&path, "SELECT COUNT(*) FROM tokens") + count_rows(&path, "SELECT COUNT(*) FROM attempts"), 0);
}

// ---- legacy hashes and sizes ----

#[test]
fn a_bcrypt_hash_is_upgraded_only_from_a_password_bcrypt_read_in_full() {
    let s = memory();
    let long = format!("{}-tail", "p".repeat(72));
    for (name, password, upgraded) in [("short", "legacy password", true), ("long", long.as_str(), false)] {
        let id = s.password().create_user(&json!({"username": name})).unwrap();
        store_of(&s).set_password_hash(&id, &bcrypt::hash(password, 4).unwrap(), 0).unwrap();
        login(&s, name, password, "203.0.113.9").unwrap();
        let stored = store_of(&s).find_password_hash(&id).unwrap().unwrap();
        assert_eq!(stored.starts_with("$argon2id$"), upgraded, "{name}");
        login(&s, name, password, "203.0.113.9").expect("the owner still logs in");
    }
}

#[test]
fn an_oversized_login_password_is_invalid_credentials_in_every_mode() {
    for ambiguous in [true, false] {
        let s = with(json!({"ambiguousErrorMessages": ambiguous}), Callbacks::default());
        alice(&s);
        let huge = "x".repeat(password::MAX_PASSWORD_BYTES + 1);
        assert_eq!(code(login(&s, "alice", &huge, "203.0.113.9")), ErrorCode::InvalidCredentials);
    }
}

// ---- second round (docs/security.md): provider profiles and addresses, imports, keys, sealing ----

/// A host provider `github` answering each authorization code with a fixed identity.
fn provider_lab(answers: Value, extra: Value) -> AccountsServer {
    let authenticate: Arc<callbacks::OAuthAuthenticateFn> =
        Arc::new(move |_: &str, params: &Value| Ok(answers[params["code"].as_str().unwrap_or_default()].clone()));
    let mut cfg = json!({"services": {"oauth": {"providers": {"github": {"type": "host", "storeTokens": true}}}}});
    if let (Value::Object(c), Value::Object(e)) = (&mut cfg, extra) {
        c.extend(e);
    }
    with(cfg, Callbacks { oauth_authenticate: Some(authenticate), ..Callbacks::default() })
}

fn oauth_login(s: &AccountsServer, code: &str) -> Result<LoginResult> {
    s.login_with_service("oauth", &json!({"provider": "github", "code": code}), &no_info())
}

#[test]
fn a_provider_profile_cannot_stand_in_for_the_users_own_fields() {
    let answers = json!({"evil": {"id": "666", "email": "mallory@example.com", "emailVerified": true, "profile": {
        "id": "VICTIM", "_id": "VICTIM", "username": "victim", "emails": [{"address": "victim@example.com", "verified": true}],
        "deactivated": false, "services": {"password": {}}, "createdAt": 1, "name": "Mallory"}}});
    let s = provider_lab(answers, json!({}));
    let (victim, _) = alice(&s);
    let login = oauth_login(&s, "evil").unwrap();
    assert_ne!(login.user.id, victim);
    assert_eq!(login.user.profile.get("name"), Some(&json!("Mallory")), "other profile fields are kept");
    for reserved in ["id", "_id", "username", "emails", "deactivated", "services", "createdAt"] {
        assert!(!login.user.profile.contains_key(reserved), "{reserved} kept in the profile");
    }
    // The user as every language sees it (flattened JSON) names the attacker's own account.
    let shown: Value = serde_json::to_value(s.resume_session(&login.tokens.access_token).unwrap()).unwrap();
    assert_eq!(shown["id"], json!(login.user.id));
    assert_eq!(shown["emails"], json!([{"address": "mallory@example.com", "verified": true}]));
    assert!(!serde_json::to_string(&shown).unwrap().contains("VICTIM"));
}

#[test]
fn a_profile_stored_before_the_rule_cannot_stand_in_for_the_user_either() {
    let dir = tempfile::tempdir().unwrap();
    let (s, path) = file(&dir, json!({}));
    let (id, login) = alice(&s);
    let poisoned = json!({"id": "VICTIM", "emails": [], "deactivated": false, "name": "old row"}).to_string();
    rusqlite::Connection::open(&path).unwrap().execute("UPDATE users SET profile = ?1 WHERE id = ?2", [&poisoned, &id]).unwrap();
    let shown = serde_json::to_value(s.resume_session(&login.tokens.access_token).unwrap()).unwrap();
    assert_eq!((shown["id"].clone(), shown["name"].clone()), (json!(id), json!("old row")));
    assert_eq!(shown["emails"][0]["address"], "alice@example.com");
}

#[test]
fn an_unverified_provider_address_never_claims_an_account_before_its_owner() {
    let answers = json!({"squatter": {"id": "7", "email": "victim@example.com", "emailVerified": false}});
    let s = provider_lab(answers, json!({}));
    // The attacker's identity arrives first with the victim's address, unverified by its provider.
    let squatter = oauth_login(&s, "squatter").unwrap().user;
    assert!(squatter.emails.is_empty(), "an unverified provider address is not put on the account");
    // The victim signs up with the address and proves it; the attacker's identity is not in there.
    let victim = s.password().create_user(&json!({"email": "victim@example.com", "password": "victim password"})).unwrap();
    assert_ne!(victim, squatter.id);
    assert!(s.oauth().list_linked_accounts(&victim).unwrap().is_empty());
    assert_eq!(oauth_login(&s, "squatter").unwrap().user.id, squatter.id, "the identity keeps its own account only");
}

#[test]
fn an_unverified_provider_address_does_not_tell_whether_an_account_holds_it() {
    for ambiguous in [true, false] {
        let answers = json!({"probe": {"id": "8", "email": "alice@example.com", "emailVerified": false}});
        let with_account = provider_lab(answers.clone(), json!({"ambiguousErrorMessages": ambiguous}));
        alice(&with_account);
        let without = provider_lab(answers, json!({"ambiguousErrorMessages": ambiguous}));
        let (a, b) = (oauth_login(&with_account, "probe").unwrap().user, oauth_login(&without, "probe").unwrap().user);
        // The same answer either way: a new account of the identity's own, without the address.
        assert_eq!((a.emails.len(), a.username.is_none()), (b.emails.len(), b.username.is_none()));
        assert!(a.emails.is_empty());
    }
}

#[test]
fn addresses_a_person_cannot_tell_apart_do_not_make_two_accounts() {
    let s = memory();
    s.password().create_user(&json!({"email": "alice@example.com", "password": "correct horse"})).unwrap();
    s.password().create_user(&json!({"email": "paypal@example.com", "password": "correct horse"})).unwrap();
    for lookalike in ["аӏісе@example.com", "раураӏ@example.com"] {
        let r = s.password().create_user(&json!({"email": lookalike, "password": "correct horse"}));
        assert_eq!(code(r), ErrorCode::EmailAlreadyExists, "{lookalike}");
    }
    let id = s.password().create_user(&json!({"username": "carol"})).unwrap();
    assert_eq!(code(s.password().add_email(&id, "ALICE@example.com", false)), ErrorCode::EmailAlreadyExists);
    assert_eq!(code(s.password().add_email(&id, "аӏісе@example.com", false)), ErrorCode::EmailAlreadyExists);
    assert_eq!(code(s.password().create_user(&json!({"email": "ali\u{307}ce@example.com"}))), ErrorCode::InvalidEmail);
    // What people type keeps working: other ASCII mailboxes, single-script non-ASCII ones.
    for fine in ["alicia@example.com", "иван@example.ru", "müller@example.de"] {
        s.password().create_user(&json!({"email": fine})).unwrap_or_else(|e| panic!("{fine}: {e:?}"));
    }
    // A provider's verified lookalike does not reach alice's account, nor take the lookalike.
    let answers = json!({"look": {"id": "9", "email": "аӏісе@example.com", "emailVerified": true}});
    let p = provider_lab(answers, json!({}));
    let (alice_id, _) = alice(&p);
    let other = oauth_login(&p, "look").unwrap().user;
    assert_ne!(other.id, alice_id);
    assert!(other.emails.is_empty());
}

#[test]
fn import_refuses_bcrypt_hashes_of_a_bad_cost_or_shape() {
    let s = memory();
    let good = bcrypt::hash("old password", 4).unwrap();
    let body = &good[7..];
    let record = |name: &str, hash: &str| json!({"_id": name, "username": name, "services": {"password": {"bcrypt": hash}}});
    let records = vec![
        record("ok", &good),
        record("cost31", &format!("$2b$31${body}")),
        record("cost3", &format!("$2b$03${body}")),
        record("short", &good[..50]),
        record("badsalt", &format!("$2b$04$!!!{}", &body[3..])),
        record("plain", "$2b$hunter2"),
    ];
    let report = s.import_users(&records).unwrap();
    assert_eq!(report.imported, 1);
    assert_eq!(report.failed.iter().map(|f| f.index).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert!(report.failed.iter().all(|f| f.code == "InvalidArgument"), "{:?}", report.failed);
    assert!(s.password().find_user_by_username("cost31").unwrap().is_none(), "a refused record leaves nothing");
    login(&s, "ok", "old password", "203.0.113.9").unwrap();
    // A hash stored before the check is refused at login, not run for 2^31 rounds.
    let id = s.password().create_user(&json!({"username": "legacy"})).unwrap();
    store_of(&s).set_password_hash(&id, &format!("$2b$31${body}"), 0).unwrap();
    assert_eq!(code(login(&s, "legacy", "old password", "203.0.113.9")), ErrorCode::InternalError);
}

fn key_pem(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn a_key_pair_whose_halves_do_not_match_is_refused() {
    for (kind, algorithm) in [("rsa", "RS256"), ("ec", "ES256"), ("ed", "EdDSA")] {
        let mismatched = json!({"privateKey": key_pem(&format!("{kind}.pem")), "publicKey": key_pem(&format!("{kind}-other.pub.pem"))});
        let cfg = json!({"db": "sqlite::memory:", "tokenSecret": mismatched, "tokenConfigs": {"accessToken": {"algorithm": algorithm}}});
        let refused = Config::from_value(cfg).and_then(|c| AccountsServer::new(c, Callbacks::default())).map(|_| ());
        assert_eq!(code(refused), ErrorCode::InvalidConfig, "{algorithm}");
        // The same in a key ring, at startup and in setKeys.
        let ring = json!({"current": "k", "keys": [{"kid": "k", "algorithm": algorithm,
            "privateKey": key_pem(&format!("{kind}.pem")), "publicKey": key_pem(&format!("{kind}-other.pub.pem"))}]});
        let s = with(json!({"sealingSecret": "attack-suite-sealing-secret-0123456789ab"}), Callbacks::default());
        assert_eq!(code(s.set_keys(&ring)), ErrorCode::InvalidConfig, "{algorithm} setKeys");
        let matched = json!({"current": "k", "keys": [{"kid": "k", "algorithm": algorithm,
            "privateKey": key_pem(&format!("{kind}-other.pem")), "publicKey": key_pem(&format!("{kind}-other.pub.pem"))}]});
        s.set_keys(&matched).unwrap();
    }
    // A private JWK whose public members belong to another key.
    let mut jwk: Value = serde_json::from_str(&key_pem("ec.jwk.json")).unwrap();
    jwk["x"] = json!("AAAA".repeat(10) + "AAA");
    let ring = json!({"current": "k", "keys": [{"kid": "k", "algorithm": "ES256", "jwk": jwk}]});
    let s = with(json!({"sealingSecret": "attack-suite-sealing-secret-0123456789ab"}), Callbacks::default());
    assert_eq!(code(s.set_keys(&ring)), ErrorCode::InvalidConfig);
}

#[test]
fn a_symmetric_key_is_never_a_public_key() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let shared = "a-shared-hmac-secret-that-must-stay-private";
    let oct = json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(shared), "alg": "HS256", "kid": "k"});
    // Not as a token key (it would be published in the JWKS and shown in options).
    for algorithm in ["RS256", "HS256"] {
        let ring = json!({"current": "k", "keys": [{"kid": "k", "algorithm": algorithm, "jwk": oct}]});
        let cfg = json!({"db": "sqlite::memory:", "tokenKeys": ring, "sealingSecret": "attack-suite-sealing-secret-0123456789ab"});
        assert_eq!(code(Config::from_value(cfg).and_then(|c| AccountsServer::new(c, Callbacks::default())).map(|_| ())), ErrorCode::InvalidConfig);
    }
    // Not from a JWKS: whoever holds the published set could sign.
    let claims = json!({"typ": "access", "sub": "x", "exp": 4_000_000_000u64, "data": {"userId": "x", "sessionId": "s"}});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k".into());
    let forged = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(shared.as_bytes())).unwrap();
    let options: VerifyOptions = serde_json::from_value(json!({"jwks": {"keys": [oct]}})).unwrap();
    assert_eq!(code(verify_access_token(&forged, &options)), ErrorCode::InvalidArgument);
    // And a server's own JWKS never carries one.
    let s = memory();
    assert!(s.jwks()["keys"].as_array().unwrap().iter().all(|k| k["kty"] != "oct"));
}

#[test]
fn reseal_all_covers_provider_tokens_so_the_old_sealing_secret_can_go() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("reseal.db").display());
    let answers = json!({"gh": {"id": "42", "tokens": {"accessToken": "gho_secret", "refreshToken": "ghr_secret"}}});
    let open = |sealing: &str, previous: &[&str]| {
        let mut extra = json!({"db": db, "sealingSecret": sealing});
        if !previous.is_empty() {
            extra["previousSealingSecrets"] = json!(previous);
        }
        let authenticate: Arc<callbacks::OAuthAuthenticateFn> = {
            let answers = answers.clone();
            Arc::new(move |_: &str, params: &Value| Ok(answers[params["code"].as_str().unwrap_or_default()].clone()))
        };
        let mut cfg = json!({"services": {"oauth": {"providers": {"github": {"type": "host", "storeTokens": true}}}}});
        cfg.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let cfg = config(&db, cfg);
        AccountsServer::new(cfg, Callbacks { oauth_authenticate: Some(authenticate), ..Callbacks::default() }).unwrap()
    };
    let first = "the-first-sealing-secret-0123456789abcdef";
    let second = "the-second-sealing-secret-0123456789abcde";
    let s = open(first, &[]);
    let user = oauth_login(&s, "gh").unwrap().user.id;
    drop(s);
    let s = open(second, &[first]);
    assert_eq!(s.reseal_all().unwrap(), 1, "the provider tokens were resealed");
    assert_eq!(s.reseal_all().unwrap(), 0);
    drop(s);
    let s = open(second, &[]);
    assert_eq!(s.oauth().provider_tokens(&user, "github").unwrap().unwrap().access_token, "gho_secret");
}

#[test]
fn every_sealed_column_is_resealed() {
    // Fill every kind of sealed value, then look for sealed text (`k1:<key id>:`) in every column
    // of every table: each column holding some must be one resealAll covers.
    let dir = tempfile::tempdir().unwrap();
    let answers = json!({"gh": {"id": "42", "tokens": {"accessToken": "gho_secret"}}});
    let authenticate: Arc<callbacks::OAuthAuthenticateFn> =
        Arc::new(move |_: &str, params: &Value| Ok(answers[params["code"].as_str().unwrap_or_default()].clone()));
    let path = dir.path().join("sealed.db");
    let extra = json!({"sealingSecret": "the-first-sealing-secret-0123456789abcdef",
        "services": {"oauth": {"providers": {"github": {"type": "host", "storeTokens": true}}}}});
    let s = AccountsServer::new(
        config(&format!("sqlite:{}", path.display()), extra),
        Callbacks { oauth_authenticate: Some(authenticate), ..Callbacks::default() },
    )
    .unwrap();
    let user = oauth_login(&s, "gh").unwrap().user.id;
    let secret = s.password().two_factor().get_new_auth_secret().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    s.password().two_factor().set(&user, &secret.base32, &totp_code(&secret.base32, now)).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut found = Vec::new();
    for table in &tables {
        let columns: Vec<String> =
            conn.prepare(&format!("PRAGMA table_info({table})")).unwrap().query_map([], |r| r.get(1)).unwrap().map(|r| r.unwrap()).collect();
        for column in &columns {
            let sql = format!(
                "SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) GLOB '*k1:[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]:*'"
            );
            if conn.query_row(&sql, [], |r| r.get::<_, i64>(0)).unwrap() > 0 {
                found.push((table.clone(), column.clone()));
            }
        }
        for (listed_table, listed_column) in store::SEALED_COLUMNS.iter().filter(|(t, _)| t == table) {
            assert!(columns.iter().any(|c| c == listed_column), "{listed_table}.{listed_column} is not a column");
        }
    }
    assert!(found.len() >= 2, "{found:?}");
    for (table, column) in &found {
        assert!(store::SEALED_COLUMNS.contains(&(table.as_str(), column.as_str())), "{table}.{column} holds sealed values resealAll does not cover");
    }
}

#[test]
fn a_reset_that_proves_the_first_address_ends_what_the_account_held_before() {
    // The attacker signs up with the victim's address (unverified), links a provider identity of
    // theirs and adds an address of theirs; the victim, refused at signup, resets the password.
    let answers = json!({"attacker-gh": {"id": "99"}, "owner-gh": {"id": "100"}});
    let (s, _clock, mails) = {
        let mails = Arc::new(Mutex::new(Vec::new()));
        let sink = mails.clone();
        let authenticate: Arc<callbacks::OAuthAuthenticateFn> =
            Arc::new(move |_: &str, params: &Value| Ok(answers[params["code"].as_str().unwrap_or_default()].clone()));
        let callbacks = Callbacks {
            send_mail: Some(Arc::new(move |m: &Value| {
                sink.lock().unwrap().push(m.clone());
                Ok(())
            })),
            oauth_authenticate: Some(authenticate),
            ..Callbacks::default()
        };
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let cfg = config("sqlite::memory:", json!({"services": {"oauth": {"providers": {"github": {"type": "host"}}}}}));
        (AccountsServer::with_clock(cfg, callbacks, clock.clone()).unwrap(), clock, mails)
    };
    let account = s.password().create_user(&json!({"email": "victim@example.com", "password": "attacker password"})).unwrap();
    s.oauth().link_account(&account, "github", &json!({"code": "attacker-gh"})).unwrap();
    s.password().add_email(&account, "attacker@example.com", false).unwrap();
    let attacker_session = login(&s, "victim@example.com", "attacker password", "203.0.113.66").unwrap();
    assert_eq!(code(s.password().create_user(&json!({"email": "victim@example.com", "password": "x-victim-pass"}))), ErrorCode::EmailAlreadyExists);
    s.password().send_reset_password_email("victim@example.com").unwrap();
    let (_, token) = last_link(&mails);
    s.password().reset_password(&token, "the victim's new password", None, &no_info()).unwrap();
    // The account is the victim's alone now.
    assert!(s.oauth().list_linked_accounts(&account).unwrap().is_empty(), "the attacker's identity is gone");
    let user = s.find_user_by_id(&account).unwrap().unwrap();
    assert_eq!(user.emails.iter().map(|e| (e.address.as_str(), e.verified)).collect::<Vec<_>>(), [("victim@example.com", true)]);
    assert_ne!(oauth_login(&s, "attacker-gh").unwrap().user.id, account, "the identity opens an account of its own only");
    assert!(s.resume_session(&attacker_session.tokens.access_token).is_err(), "the attacker's sessions ended");
    // Once an address is proven, a later reset keeps what the owner set up.
    s.oauth().link_account(&account, "github", &json!({"code": "owner-gh"})).unwrap();
    s.password().send_reset_password_email("victim@example.com").unwrap();
    let (_, token) = last_link(&mails);
    s.password().reset_password(&token, "another new password", None, &no_info()).unwrap();
    assert_eq!(s.oauth().list_linked_accounts(&account).unwrap().len(), 1);
}

#[test]
fn the_timing_floor_and_import_ignore_malformed_costs() {
    let s = memory();
    let good = bcrypt::hash("old password", 4).unwrap();
    let body = &good[7..];
    // "+9" parses as a number but is not two digits: refused at import.
    let report =
        s.import_users(&[json!({"_id": "plus", "username": "plus", "services": {"password": {"bcrypt": format!("$2b$+9${body}")}}})]).unwrap();
    assert_eq!((report.imported, report.failed[0].code.as_str()), (0, "InvalidArgument"));
    // An out-of-range hash stored earlier does not turn the floor off for the others: the store's
    // scan reports the highest cost in range.
    let legacy = s.password().create_user(&json!({"username": "legacy"})).unwrap();
    store_of(&s).set_password_hash(&legacy, &format!("$2b$31${body}"), 0).unwrap();
    let imported = s.password().create_user(&json!({"username": "imported"})).unwrap();
    store_of(&s).set_password_hash(&imported, &bcrypt::hash("pw", 6).unwrap(), 0).unwrap();
    assert_eq!(store_of(&s).max_bcrypt_cost().unwrap(), Some(6));
}

#[test]
fn addresses_stored_before_the_lookalike_rule_are_protected_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let (s, path) = file(&dir, json!({}));
    alice(&s);
    drop(s);
    // The file as schema version 4 left it: no lookalike keys.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP INDEX emails_address_key; ALTER TABLE emails DROP COLUMN address_key; \
         DROP INDEX oauth_flows_client; ALTER TABLE oauth_flows DROP COLUMN client; \
         DROP TABLE passkeys; DROP TABLE webauthn_challenges; DROP INDEX passwords_bcrypt_cost; PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(conn);
    let s = AccountsServer::new(config(&format!("sqlite:{}", path.display()), json!({})), Callbacks::default()).unwrap();
    assert_eq!(code(s.password().create_user(&json!({"email": "аӏісе@example.com"}))), ErrorCode::EmailAlreadyExists);
}
