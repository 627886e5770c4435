//! OAuth logins through a host provider and the linking rules (docs/oauth.md).
mod common;
use accounts_core::*;
use common::*;
use serde_json::{Value, json};
use std::sync::Arc;

/// A host provider that knows a few authorization codes; an unknown code is refused.
fn provider(extra: Value) -> AccountsServer {
    let answers = json!({
        "new": {"id": 1001, "profile": {"name": "New"}},
        "new-verified": {"id": "1002", "email": "Fresh@Example.com", "emailVerified": true},
        "alice-verified": {"id": "2001", "email": "alice@example.com", "emailVerified": true},
        "alice-unverified": {"id": "2002", "email": "alice@example.com", "emailVerified": false},
        "alice-second": {"id": "2003", "tokens": {"accessToken": "gho_alice", "scope": "read:user"}},
        "no-id": {"email": "x@example.com"},
        "bad-email": {"id": "9", "email": "not an address"},
    });
    let authenticate: Arc<callbacks::OAuthAuthenticateFn> = Arc::new(move |provider: &str, params: &Value| {
        assert_eq!(provider, "github");
        let code = params["code"].as_str().unwrap_or_default();
        answers.get(code).cloned().ok_or_else(|| AccountsError::new(ErrorCode::InvalidCredentials, "unknown code"))
    });
    let mut config = json!({"services": {"oauth": {"providers": {"github": {"type": "host"}}}}});
    if let Value::Object(extra) = extra {
        config["services"]["oauth"].as_object_mut().unwrap().extend(extra);
    }
    with(config, Callbacks { oauth_authenticate: Some(authenticate), ..Callbacks::default() })
}

fn login(s: &AccountsServer, code: &str) -> Result<LoginResult> {
    s.login_with_service("oauth", &json!({"provider": "github", "code": code}), &no_info())
}

fn providers(s: &AccountsServer, user_id: &str) -> Vec<(String, String)> {
    s.oauth().list_linked_accounts(user_id).unwrap().into_iter().map(|a| (a.provider, a.id)).collect()
}

/// alice with a password, her address verified or not.
fn alice_account(s: &AccountsServer, verified: bool) -> String {
    let id = s.password().create_user(&json!({"username": "alice", "password": "correct horse"})).unwrap();
    s.password().add_email(&id, "alice@example.com", verified).unwrap();
    id
}

#[test]
fn a_new_identity_creates_an_account_and_logs_in_to_it_again() {
    let s = provider(json!({}));
    let first = login(&s, "new").unwrap();
    assert_eq!(first.user.profile["name"], "New");
    assert!(first.user.emails.is_empty());
    // A numeric provider id is kept as text; the same identity logs in to the same account.
    assert_eq!(providers(&s, &first.user.id), [("github".to_string(), "1001".to_string())]);
    let again = login(&s, "new").unwrap();
    assert_eq!(again.user.id, first.user.id);
    assert_eq!(s.resume_session(&again.tokens.access_token).unwrap().id, first.user.id);
    // An address the provider verified arrives verified.
    let fresh = login(&s, "new-verified").unwrap();
    assert_eq!(fresh.user.emails.len(), 1);
    assert_eq!((fresh.user.emails[0].address.as_str(), fresh.user.emails[0].verified), ("fresh@example.com", true));
}

#[test]
fn an_identity_links_to_an_existing_account_only_when_both_sides_verified_the_address() {
    // Verified here and at the provider: linked, and the login is alice's.
    let s = provider(json!({}));
    let alice = alice_account(&s, true);
    assert_eq!(login(&s, "alice-verified").unwrap().user.id, alice);
    assert_eq!(providers(&s, &alice), [("github".to_string(), "2001".to_string())]);

    // The provider did not verify it: the address proves nothing, so it neither reaches alice's
    // account nor goes on the identity's own new one (docs/oauth.md, "Linking").
    let s = provider(json!({}));
    let alice = alice_account(&s, true);
    let other = login(&s, "alice-unverified").unwrap().user;
    assert_ne!(other.id, alice);
    assert!(other.emails.is_empty());
    assert!(providers(&s, &alice).is_empty());
    assert!(s.oauth().list_linked_accounts(&alice).unwrap().is_empty());

    // Not verified here (anyone may have signed up with it): refused as well.
    let s = provider(json!({}));
    let alice = alice_account(&s, false);
    assert_eq!(code(login(&s, "alice-verified")), ErrorCode::AccountLinkRefused);
    assert!(providers(&s, &alice).is_empty());

    // Configured to create instead: a separate account, without the address alice holds.
    let s = provider(json!({"unverifiedEmailMatch": "createAccount"}));
    let alice = alice_account(&s, false);
    let other = login(&s, "alice-verified").unwrap();
    assert_ne!(other.user.id, alice);
    assert!(other.user.emails.is_empty());
    assert!(providers(&s, &alice).is_empty());
    assert_eq!(s.password().find_user_by_email("alice@example.com").unwrap().unwrap().id, alice);
}

#[test]
fn explicit_link_and_unlink_round_trip() {
    let s = provider(json!({}));
    let alice = alice_account(&s, false);
    // Logged in with her password, alice links the identity whose address she never verified here.
    let linked = s.oauth().link_account(&alice, "github", &json!({"code": "alice-unverified"})).unwrap();
    assert_eq!((linked.provider.as_str(), linked.id.as_str(), linked.user_id.as_str()), ("github", "2002", alice.as_str()));
    assert_eq!(s.oauth().link_account(&alice, "github", &json!({"code": "alice-unverified"})).unwrap(), linked, "again: a no-op");
    // Without storeTokens nothing of the provider's is kept.
    assert_eq!(s.oauth().provider_tokens(&alice, "github").unwrap(), None);
    assert_eq!(login(&s, "alice-unverified").unwrap().user.id, alice);
    // One identity per provider and user; one user per identity.
    assert_eq!(code(s.oauth().link_account(&alice, "github", &json!({"code": "alice-second"}))), ErrorCode::AccountAlreadyLinked);
    let bob = s.password().create_user(&json!({"username": "bob", "password": "correct horse"})).unwrap();
    assert_eq!(code(s.oauth().link_account(&bob, "github", &json!({"code": "alice-unverified"}))), ErrorCode::AccountAlreadyLinked);
    s.oauth().unlink_account(&alice, "github").unwrap();
    assert!(providers(&s, &alice).is_empty());
    assert_eq!(code(s.oauth().unlink_account(&alice, "github")), ErrorCode::LinkedAccountNotFound);
    // Unlinked, the identity no longer opens alice's account: its unverified address gets it an
    // account of its own, without the address.
    let own = login(&s, "alice-unverified").unwrap().user;
    assert_ne!(own.id, alice);
    assert!(own.emails.is_empty());
    // An account created by a provider has no other way in: its identity stays.
    let created = login(&s, "new").unwrap().user.id;
    assert_eq!(code(s.oauth().unlink_account(&created, "github")), ErrorCode::LastLoginMethod);
    assert_eq!(providers(&s, &created).len(), 1);
    assert_eq!(code(s.oauth().list_linked_accounts("nobody")), ErrorCode::UserNotFound);
    assert_eq!(code(s.oauth().link_account("nobody", "github", &json!({"code": "new"}))), ErrorCode::UserNotFound);
}

#[test]
fn bad_requests_and_provider_answers_get_codes() {
    let s = provider(json!({}));
    let with = |params: Value| s.login_with_service("oauth", &params, &no_info());
    assert_eq!(code(with(json!({"code": "new"}))), ErrorCode::UnrecognizedOptionsForLogin);
    assert_eq!(code(with(json!({"provider": 7, "code": "new"}))), ErrorCode::MatchFailed);
    assert_eq!(code(with(json!({"provider": "gitlab", "code": "new"}))), ErrorCode::ProviderNotFound);
    // The provider's own refusal reaches the caller unchanged.
    assert_eq!(code(login(&s, "forged")), ErrorCode::InvalidCredentials);
    assert_eq!(code(login(&s, "no-id")), ErrorCode::CallbackError);
    assert_eq!(code(login(&s, "bad-email")), ErrorCode::CallbackError);
    // A host provider without the callback is a configuration error.
    let bare = with_config_only();
    assert_eq!(code(bare.login_with_service("oauth", &json!({"provider": "github", "code": "new"}), &no_info())), ErrorCode::InvalidConfig);
    assert_eq!(
        code(Config::from_value(json!({"tokenSecret": SECRET, "services": {"oauth": {"providers": {"x": {"type": "saml"}}}}}))),
        ErrorCode::InvalidConfig
    );
}

fn with_config_only() -> AccountsServer {
    with(json!({"services": {"oauth": {"providers": {"github": {"type": "host"}}}}}), Callbacks::default())
}

#[test]
fn the_login_rules_of_every_service_apply() {
    let s = provider(json!({}));
    let alice = alice_account(&s, true);
    s.oauth().link_account(&alice, "github", &json!({"code": "alice-second"})).unwrap();
    // Two-factor on: the provider alone is not enough.
    let secret = s.password().two_factor().get_new_auth_secret().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    s.password().two_factor().set(&alice, &secret.base32, &totp_code(&secret.base32, now - 30)).unwrap();
    assert_eq!(code(login(&s, "alice-second")), ErrorCode::TwoFactorCodeRequired);
    let with_code = json!({"provider": "github", "code": "alice-second", "twoFactorCode": totp_code(&secret.base32, now)});
    // `code` is the provider's: the second factor travels as `twoFactorCode`.
    assert_eq!(s.login_with_service("oauth", &with_code, &no_info()).unwrap().user.id, alice);
    // A deactivated user cannot log in with a provider either.
    s.deactivate_user(&alice).unwrap();
    let next = json!({"provider": "github", "code": "alice-second", "twoFactorCode": totp_code(&secret.base32, now + 30)});
    assert_eq!(code(s.login_with_service("oauth", &next, &no_info())), ErrorCode::UserDeactivated);
}

#[test]
fn a_host_providers_tokens_are_kept_sealed_only_when_configured() {
    let answers = json!({"t1": {"id": "7", "tokens": {"accessToken": "gho_first", "refreshToken": "ghr_first", "expiresAt": 123}},
                         "t2": {"id": "7", "tokens": {"accessToken": "gho_second"}},
                         "bad": {"id": "8", "tokens": {"refreshToken": "no access token"}}});
    let authenticate: Arc<callbacks::OAuthAuthenticateFn> =
        Arc::new(move |_: &str, params: &Value| Ok(answers[params["code"].as_str().unwrap()].clone()));
    let s = with(
        json!({"services": {"oauth": {"providers": {"github": {"type": "host", "storeTokens": true}}}}}),
        Callbacks { oauth_authenticate: Some(authenticate), ..Callbacks::default() },
    );
    let user = login(&s, "t1").unwrap().user.id;
    let first = s.oauth().provider_tokens(&user, "github").unwrap().unwrap();
    assert_eq!((first.access_token.as_str(), first.refresh_token.as_deref(), first.expires_at), ("gho_first", Some("ghr_first"), Some(123)));
    login(&s, "t2").unwrap();
    assert_eq!(s.oauth().provider_tokens(&user, "github").unwrap().unwrap().access_token, "gho_second");
    // The link listing never shows them.
    assert!(!serde_json::to_string(&s.oauth().list_linked_accounts(&user).unwrap()).unwrap().contains("gho_"));
    assert_eq!(code(login(&s, "bad")), ErrorCode::CallbackError);
}
