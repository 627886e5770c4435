mod common;
use accounts_core::*;
use common::*;
use serde_json::json;
use std::sync::{Arc, Mutex};

#[test]
fn login_resume_refresh_logout() {
    let s = memory();
    let (id, login) = alice(&s);
    assert_eq!(login.user.id, id);
    let c = claims(&login.tokens.access_token);
    assert_eq!(c["data"]["userId"], json!(id));
    assert_eq!(c["data"]["sessionId"], json!(login.session_id));
    assert_eq!(c["data"]["isImpersonated"], json!(false));
    assert_eq!(c["sub"], json!(id));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 90 * 60);
    let r = claims(&login.tokens.refresh_token);
    assert_eq!(r["exp"].as_i64().unwrap() - r["iat"].as_i64().unwrap(), 7 * 86400);
    assert_eq!(r["sid"], json!(login.session_id));

    assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().id, id);
    let session = s.find_session_by_access_token(&login.tokens.access_token).unwrap();
    assert_eq!((session.user_id.as_str(), session.valid), (id.as_str(), true));

    let info = ConnectionInfo { ip: Some("10.0.0.1".into()), user_agent: Some("test/1".into()) };
    let r1 = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &info).unwrap();
    assert_eq!(r1.session_id, login.session_id);
    assert_ne!(r1.tokens.refresh_token, login.tokens.refresh_token);
    assert_eq!(claims(&r1.tokens.refresh_token)["ctr"], json!(1));
    let listed = s.list_sessions(&id).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].refresh_count, listed[0].ip.as_deref()), (1, Some("10.0.0.1")));

    s.logout(&r1.tokens.access_token).unwrap();
    assert_eq!(code(s.resume_session(&r1.tokens.access_token)), ErrorCode::InvalidSession);
    assert_eq!(code(s.logout(&r1.tokens.access_token)), ErrorCode::InvalidSession);
    assert_eq!(code(s.refresh_tokens(&r1.tokens.access_token, &r1.tokens.refresh_token, &no_info())), ErrorCode::InvalidSession);
    assert!(!s.find_session_by_access_token(&r1.tokens.access_token).unwrap().valid);
}

#[test]
fn login_errors_and_services() {
    let s = memory();
    alice(&s);
    assert_eq!(code(s.login_with_service("oauth", &json!({}), &no_info())), ErrorCode::ServiceNotFound);
    assert_eq!(s.service_names(), vec!["magicLink".to_string(), "password".to_string()]);
    assert!(s.authenticate_with_service("password", &json!({"user": "alice", "password": "correct horse"}), &no_info()).unwrap());
    assert_eq!(
        code(s.authenticate_with_service("password", &json!({"user": "alice", "password": "bad"}), &no_info())),
        ErrorCode::InvalidCredentials
    );
    assert_eq!(code(s.login_with_user("nobody", &no_info())), ErrorCode::UserNotFound);
}

struct ApiKeys;
impl AuthService for ApiKeys {
    fn authenticate(&self, server: &AccountsServer, params: &serde_json::Value, _infos: &ConnectionInfo) -> Result<Option<User>> {
        match params.get("key").and_then(|k| k.as_str()) {
            Some("k-alice") => server.password().find_user_by_username("alice"),
            _ => Ok(None),
        }
    }
}

#[test]
fn custom_service_can_be_registered() {
    let s = memory();
    let (id, _) = alice(&s);
    s.register_service("apiKey", Arc::new(ApiKeys));
    assert_eq!(s.service_names(), vec!["apiKey".to_string(), "magicLink".to_string(), "password".to_string()]);
    assert_eq!(s.login_with_service("apiKey", &json!({"key": "k-alice"}), &no_info()).unwrap().user.id, id);
    assert_eq!(code(s.login_with_service("apiKey", &json!({"key": "bad"}), &no_info())), ErrorCode::AuthenticationFailed);
}

#[test]
fn deactivation_takes_effect_at_next_resume_and_refresh() {
    let s = memory();
    let (id, login) = alice(&s);
    s.deactivate_user(&id).unwrap();
    assert!(s.find_user_by_id(&id).unwrap().unwrap().deactivated);
    assert_eq!(code(s.resume_session(&login.tokens.access_token)), ErrorCode::UserDeactivated);
    assert_eq!(code(s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info())), ErrorCode::UserDeactivated);
    assert_eq!(
        code(s.login_with_service("password", &json!({"user": "alice", "password": "correct horse"}), &no_info())),
        ErrorCode::UserDeactivated
    );
    assert_eq!(code(s.login_with_user(&id, &no_info())), ErrorCode::UserDeactivated);
    s.activate_user(&id).unwrap();
    assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().id, id);
    assert_eq!(code(s.deactivate_user("ghost")), ErrorCode::UserNotFound);
    assert_eq!(code(s.activate_user("ghost")), ErrorCode::UserNotFound);
}

#[test]
fn refresh_rotation_and_reuse_revokes_the_session() {
    let (s, clock) = clocked(json!({"refreshTokenReuseGraceSeconds": 5}));
    let (_, login) = alice(&s);
    let r1 = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
    // Inside the grace window the old token yields the same successor (no fork).
    let again = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
    assert_eq!(again.tokens.refresh_token, r1.tokens.refresh_token);
    clock.advance_secs(6);
    let r2 = s.refresh_tokens(&r1.tokens.access_token, &r1.tokens.refresh_token, &no_info()).unwrap();
    assert_eq!(claims(&r2.tokens.refresh_token)["ctr"], json!(2));
    let reused = Arc::new(Mutex::new(Vec::new()));
    let seen = reused.clone();
    s.on(
        events::REFRESH_TOKEN_REUSED,
        Arc::new(move |_, p| {
            seen.lock().unwrap().push(p.clone());
            Ok(())
        }),
    );
    clock.advance_secs(6);
    // r1's refresh token is two rotations old and outside the window: reuse.
    let e = s.refresh_tokens(&r1.tokens.access_token, &r1.tokens.refresh_token, &no_info()).unwrap_err();
    assert_eq!(e.code, ErrorCode::RefreshTokenReused);
    assert_eq!(reused.lock().unwrap().len(), 1);
    assert_eq!(reused.lock().unwrap()[0]["sessionId"], json!(login.session_id));
    // The whole session is gone, including the newest pair.
    assert_eq!(code(s.resume_session(&r2.tokens.access_token)), ErrorCode::InvalidSession);
    assert_eq!(code(s.refresh_tokens(&r2.tokens.access_token, &r2.tokens.refresh_token, &no_info())), ErrorCode::InvalidSession);
}

#[test]
fn zero_grace_means_any_replay_is_reuse() {
    let (s, _clock) = clocked(json!({"refreshTokenReuseGraceSeconds": 0}));
    let (_, login) = alice(&s);
    s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
    assert_eq!(code(s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info())), ErrorCode::RefreshTokenReused);
}

#[test]
fn refresh_accepts_expired_access_token_but_not_expired_refresh_token() {
    let (s, clock) = clocked(json!({"tokenConfigs": {"accessToken": {"expiresIn": "1m"}, "refreshToken": {"expiresIn": "1h"}}}));
    let (_, login) = alice(&s);
    clock.advance_secs(120);
    assert_eq!(code(s.resume_session(&login.tokens.access_token)), ErrorCode::TokenVerificationFailed);
    let r = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
    s.resume_session(&r.tokens.access_token).unwrap();
    clock.advance_secs(3700);
    assert_eq!(code(s.refresh_tokens(&r.tokens.access_token, &r.tokens.refresh_token, &no_info())), ErrorCode::TokenVerificationFailed);
    assert_eq!(code(s.refresh_tokens("", &r.tokens.refresh_token, &no_info())), ErrorCode::InvalidTokens);
    assert_eq!(code(s.refresh_tokens(&r.tokens.access_token, "", &no_info())), ErrorCode::InvalidTokens);
}

#[test]
fn tokens_of_different_sessions_do_not_pair() {
    let s = memory();
    let (_, a) = alice(&s);
    let b = s.login_with_service("password", &json!({"user": "alice", "password": "correct horse"}), &no_info()).unwrap();
    assert_eq!(code(s.refresh_tokens(&a.tokens.access_token, &b.tokens.refresh_token, &no_info())), ErrorCode::TokenVerificationFailed);
}

#[test]
fn sessions_list_and_revoke() {
    let s = memory();
    let (id, a) = alice(&s);
    let b = s.login_with_user(&id, &no_info()).unwrap();
    let c = s.login_with_user(&id, &no_info()).unwrap();
    assert_eq!(s.list_sessions(&id).unwrap().len(), 3);
    assert!(s.revoke_session(&b.session_id).unwrap());
    assert!(!s.revoke_session(&b.session_id).unwrap());
    assert_eq!(code(s.revoke_session("nope")), ErrorCode::SessionNotFound);
    assert_eq!(code(s.resume_session(&b.tokens.access_token)), ErrorCode::InvalidSession);
    assert_eq!(s.revoke_all_sessions(&id, &RevokeAllOptions { except: vec![c.session_id.clone()] }).unwrap(), 1);
    assert_eq!(code(s.resume_session(&a.tokens.access_token)), ErrorCode::InvalidSession);
    s.resume_session(&c.tokens.access_token).unwrap();
    assert_eq!(s.revoke_all_sessions(&id, &RevokeAllOptions::default()).unwrap(), 1);
    assert!(s.list_sessions(&id).unwrap().iter().all(|x| !x.valid));
    assert!(s.list_sessions("ghost").unwrap().is_empty());
}

#[test]
fn impersonation() {
    let cb = Callbacks {
        impersonation_authorize: Some(Arc::new(|user: &User, target: &User| {
            Ok(user.username.as_deref() == Some("alice") && target.username.as_deref() != Some("root"))
        })),
        ..Default::default()
    };
    for ambiguous in [true, false] {
        let s = with(json!({"ambiguousErrorMessages": ambiguous}), cb.clone());
        let (alice_id, login) = alice(&s);
        let bob = s.password().create_user(&json!({"username": "bob", "email": "bob@example.com"})).unwrap();
        s.password().create_user(&json!({"username": "root"})).unwrap();
        let at = &login.tokens.access_token;
        for target in [
            ImpersonationTarget { user_id: Some(bob.clone()), ..Default::default() },
            ImpersonationTarget { username: Some("bob".into()), ..Default::default() },
            ImpersonationTarget { email: Some("BOB@example.com".into()), ..Default::default() },
        ] {
            let r = s.impersonate(at, &target, &no_info()).unwrap();
            assert!(r.authorized);
            assert_eq!(r.user.unwrap().id, bob);
            let tokens = r.tokens.unwrap();
            let c = claims(&tokens.access_token);
            assert_eq!(c["data"]["userId"], json!(bob));
            assert_eq!(c["data"]["isImpersonated"], json!(true));
            assert_eq!(c["data"]["impersonatorUserId"], json!(alice_id));
            assert_eq!(s.resume_session(&tokens.access_token).unwrap().id, bob);
            let sess = s.find_session_by_access_token(&tokens.access_token).unwrap();
            assert_eq!(sess.impersonator_user_id.as_deref(), Some(alice_id.as_str()));
            // Refreshing keeps the impersonation marks.
            let rr = s.refresh_tokens(&tokens.access_token, &tokens.refresh_token, &no_info()).unwrap();
            assert_eq!(claims(&rr.tokens.access_token)["data"]["impersonatorUserId"], json!(alice_id));
            // No chains: an impersonated session cannot impersonate.
            assert!(
                !s.impersonate(&tokens.access_token, &ImpersonationTarget { username: Some("alice".into()), ..Default::default() }, &no_info())
                    .unwrap()
                    .authorized
            );
        }
        let denied = s.impersonate(at, &ImpersonationTarget { username: Some("root".into()), ..Default::default() }, &no_info()).unwrap();
        assert!(!denied.authorized && denied.tokens.is_none());
        let missing = s.impersonate(at, &ImpersonationTarget { username: Some("ghost".into()), ..Default::default() }, &no_info());
        if ambiguous {
            assert!(!missing.unwrap().authorized);
        } else {
            assert_eq!(code(missing), ErrorCode::ImpersonatedUserNotFound);
        }
        // As accounts-js: no field names nobody; userId wins over username over email.
        let nobody = s.impersonate(at, &ImpersonationTarget::default(), &no_info());
        if ambiguous {
            assert!(!nobody.unwrap().authorized);
        } else {
            assert_eq!(code(nobody), ErrorCode::ImpersonatedUserNotFound);
        }
        let both = ImpersonationTarget { user_id: Some(bob.clone()), username: Some("root".into()), ..Default::default() };
        assert_eq!(s.impersonate(at, &both, &no_info()).unwrap().user.unwrap().id, bob);
    }
    // Without an authorize callback nobody may impersonate.
    let s = memory();
    let (_, login) = alice(&s);
    let bob = s.password().create_user(&json!({"username": "bob"})).unwrap();
    assert!(
        !s.impersonate(&login.tokens.access_token, &ImpersonationTarget { user_id: Some(bob), ..Default::default() }, &no_info()).unwrap().authorized
    );
}

#[test]
fn stateless_sessions_skip_the_row_but_not_the_user() {
    let s = with(json!({"useStatelessSession": true}), Callbacks::default());
    let (id, login) = alice(&s);
    s.revoke_session(&login.session_id).unwrap();
    assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().id, id);
    s.deactivate_user(&id).unwrap();
    assert_eq!(code(s.resume_session(&login.tokens.access_token)), ErrorCode::UserDeactivated);
}

#[test]
fn callbacks_shape_tokens_and_users_and_can_abort() {
    let cb = Callbacks {
        create_jwt_payload: Some(Arc::new(|data: &serde_json::Value, user: &User| {
            let mut m = serde_json::Map::new();
            m.insert("role".into(), json!("admin"));
            m.insert("data".into(), json!("attempt to override"));
            m.insert("uname".into(), json!(user.username));
            m.insert("sawSession".into(), data["sessionId"].clone());
            Ok(m)
        })),
        user_object_sanitizer: Some(Arc::new(|mut u: User| {
            u.profile.insert("sanitized".into(), json!(true));
            u.profile.remove("profile");
            Ok(u)
        })),
        resume_session_validator: Some(Arc::new(|_u: &User, s: &Session| {
            if s.user_agent.as_deref() == Some("blocked") { Err(AccountsError::new(ErrorCode::CallbackError, "blocked agent")) } else { Ok(()) }
        })),
        ..Default::default()
    };
    let s = with(json!({}), cb);
    let (id, login) = alice(&s);
    let c = claims(&login.tokens.access_token);
    assert_eq!(c["role"], json!("admin"));
    assert_eq!(c["uname"], json!("alice"));
    assert_eq!(c["data"]["userId"], json!(id), "data always wins");
    assert_eq!(c["sawSession"], json!(login.session_id));
    assert_eq!(login.user.profile.get("sanitized"), Some(&json!(true)));
    assert!(login.user.profile.get("profile").is_none());
    assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().profile["sanitized"], json!(true));
    assert_eq!(s.find_user_by_id(&id).unwrap().unwrap().profile["sanitized"], json!(true));
    let blocked = s.login_with_user(&id, &ConnectionInfo { ip: None, user_agent: Some("blocked".into()) }).unwrap();
    assert_eq!(code(s.resume_session(&blocked.tokens.access_token)), ErrorCode::CallbackError);
}

#[test]
fn events_fire_and_listener_errors_abort() {
    let s = memory();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    for ev in events::ALL {
        let log = log.clone();
        s.on(
            ev,
            Arc::new(move |name, _| {
                log.lock().unwrap().push(name.to_string());
                Ok(())
            }),
        );
    }
    let (_, login) = alice(&s);
    let _ = s.login_with_service("password", &json!({"user": "alice", "password": "bad"}), &no_info());
    s.resume_session(&login.tokens.access_token).unwrap();
    let _ = s.resume_session("garbage");
    let r = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
    s.authenticate_with_service("password", &json!({"user": "alice", "password": "correct horse"}), &no_info()).unwrap();
    let _ = s.authenticate_with_service("password", &json!({"user": "alice", "password": "nope"}), &no_info());
    let _ = s.password().create_user(&json!({"username": "alice"}));
    s.logout(&r.tokens.access_token).unwrap();
    let _ = s.logout(&r.tokens.access_token);
    let _ = s.refresh_tokens("x", "y", &no_info());
    let _ = s.impersonate("x", &ImpersonationTarget::default(), &no_info());
    let got = log.lock().unwrap().clone();
    for ev in [
        "CreateUserSuccess",
        "ValidateLogin",
        "LoginSuccess",
        "LoginError",
        "ResumeSessionSuccess",
        "ResumeSessionError",
        "RefreshTokensSuccess",
        "AuthenticateSuccess",
        "AuthenticateError",
        "LogoutSuccess",
        "LogoutError",
        "RefreshTokensError",
        "ImpersonationError",
    ] {
        assert!(got.iter().any(|g| g == ev), "{ev} not emitted: {got:?}");
    }

    assert!(!got.iter().any(|g| g == "CreateUserError"), "as accounts-js: a validation failure emits no CreateUserError");

    // CreateUserError is about storing: validateNewUser hands back a taken name, the insert fails.
    let cb = Callbacks { validate_new_user: Some(Arc::new(|_| Ok(json!({"username": "alice"})))), ..Callbacks::default() };
    let s = with(json!({}), cb);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    s.on(
        events::CREATE_USER_ERROR,
        Arc::new(move |_, p| {
            log.lock().unwrap().push(p.clone());
            Ok(())
        }),
    );
    s.password().create_user(&json!({"username": "first", "password": "long enough"})).unwrap();
    assert_eq!(code(s.password().create_user(&json!({"username": "second", "password": "long enough"}))), ErrorCode::UsernameAlreadyExists);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0]["user"]["username"].as_str(), seen[0]["error"]["code"].as_str()), (Some("second"), Some("UsernameAlreadyExists")));
    assert!(seen[0]["user"].get("password").is_none(), "never the password");

    // A ValidateLogin listener that fails aborts the login with its code; off() removes it.
    let s = memory();
    alice(&s);
    let id = s.on(
        events::VALIDATE_LOGIN,
        Arc::new(|_, p| {
            assert!(p["user"]["id"].is_string());
            assert_eq!((p["service"].as_str(), p["params"]["user"].as_str()), (Some("password"), Some("alice")));
            assert!(p["params"].get("password").is_none(), "never the password");
            Err(AccountsError::new(ErrorCode::Unauthorized, "not today"))
        }),
    );
    let params = json!({"user": "alice", "password": "correct horse"});
    assert_eq!(code(s.login_with_service("password", &params, &no_info())), ErrorCode::Unauthorized);
    assert!(s.off(id));
    assert!(!s.off(id));
    s.login_with_service("password", &params, &no_info()).unwrap();
}
