mod common;
use accounts_core::host::*;
use accounts_core::*;
use common::*;
use serde_json::json;

#[test]
fn create_user_validates_and_stores_lowercased_email() {
    let s = memory();
    let p = s.password();
    assert_eq!(code(p.create_user(&json!({"password": "long enough"}))), ErrorCode::UsernameOrEmailRequired);
    // As accounts-js: an empty string is a missing field; the default username rule is a letter
    // then letters and digits; checks run username, email, uniqueness, then password.
    assert_eq!(code(p.create_user(&json!({"username": "", "password": "long enough"}))), ErrorCode::UsernameOrEmailRequired);
    assert_eq!(code(p.create_user(&json!({"username": "1abc"}))), ErrorCode::InvalidUsername);
    assert_eq!(code(p.create_user(&json!({"username": "a_b", "email": "nope"}))), ErrorCode::InvalidUsername);
    assert_eq!(code(p.create_user(&json!({"email": "a@@b.com"}))), ErrorCode::InvalidEmail);
    assert_eq!(code(p.create_user(&json!({"username": 42}))), ErrorCode::InvalidUsername);
    assert_eq!(code(p.create_user(&json!({"email": "not-an-email"}))), ErrorCode::InvalidEmail);
    assert_eq!(code(p.create_user(&json!({"email": ["a@b.co"]}))), ErrorCode::InvalidEmail);
    assert_eq!(code(p.create_user(&json!({"email": "a@b.co", "password": "short"}))), ErrorCode::InvalidPassword);
    assert_eq!(code(p.create_user(&json!({"email": "a@b.co", "password": 12345678}))), ErrorCode::InvalidPassword);
    assert_eq!(code(p.create_user(&json!({"email": "a@b.co", "password": "x".repeat(5000)}))), ErrorCode::InvalidPassword);
    assert_eq!(code(p.create_user(&json!("a@b.co"))), ErrorCode::InvalidArgument);

    let id = p
        .create_user(&json!({"email": "Bob@Example.COM", "username": "bob", "password": "12345678", "profile": {"n": 1}, "services": {"evil": 1}}))
        .unwrap();
    let u = p.find_user_by_email("bob@example.com").unwrap().unwrap();
    assert_eq!(u.id, id);
    assert_eq!(u.emails, vec![EmailRecord { address: "bob@example.com".into(), verified: false }]);
    assert!(u.profile.is_empty(), "without validateNewUser only username, email and password are kept");
    assert_eq!(p.find_user_by_email("BOB@example.com").unwrap().unwrap().id, id);
    assert_eq!(p.find_user_by_username("bob").unwrap().unwrap().id, id);
    assert!(p.find_user_by_username("Bob").unwrap().is_none(), "usernames are exact");
    assert!(p.find_user_by_email("nobody@example.com").unwrap().is_none());
    assert_eq!(s.find_user_by_id(&id).unwrap().unwrap().username.as_deref(), Some("bob"));
    assert!(s.find_user_by_id("nope").unwrap().is_none());

    assert_eq!(code(p.create_user(&json!({"email": "BOB@example.com"}))), ErrorCode::EmailAlreadyExists);
    assert_eq!(code(p.create_user(&json!({"username": "bob"}))), ErrorCode::UsernameAlreadyExists);
    assert_eq!(code(p.create_user(&json!({"username": "bob", "email": "bob@example.com"}))), ErrorCode::UsernameAlreadyExists, "username first");
    // With ambiguous errors a bad password is reported first: a taken name's answer is hidden and a
    // new one's password error is not, so the other order would tell which names exist.
    assert_eq!(code(p.create_user(&json!({"username": "bob", "password": "short"}))), ErrorCode::InvalidPassword, "the password first");
    let explicit = with(json!({"ambiguousErrorMessages": false}), Callbacks::default());
    explicit.password().create_user(&json!({"username": "bob"})).unwrap();
    let taken = explicit.password().create_user(&json!({"username": "bob", "password": "short"}));
    assert_eq!(code(taken), ErrorCode::UsernameAlreadyExists, "explicit errors: then the password, as accounts-js");
    // A user without a password is fine (e.g. created for a magic link or OAuth).
    p.create_user(&json!({"username": "nopass"})).unwrap();
}

#[test]
fn authenticate_error_codes_ambiguous_and_not() {
    for ambiguous in [true, false] {
        let s = with(json!({"ambiguousErrorMessages": ambiguous}), Callbacks::default());
        let p = s.password();
        let id = p.create_user(&json!({"username": "carol", "email": "carol@example.com", "password": "right-password"})).unwrap();
        p.create_user(&json!({"username": "nopass"})).unwrap();
        let ok = p.authenticate(&json!({"user": "carol", "password": "right-password"})).unwrap();
        assert_eq!(ok.id, id);
        for sel in [json!({"id": id}), json!({"email": "CAROL@example.com"}), json!({"username": "carol"}), json!("carol@example.com")] {
            assert_eq!(p.authenticate(&json!({"user": sel, "password": "right-password"})).unwrap().id, id);
        }
        assert_eq!(code(p.authenticate(&json!({"password": "x"}))), ErrorCode::UnrecognizedOptionsForLogin);
        assert_eq!(code(p.authenticate(&json!({"user": "carol"}))), ErrorCode::UnrecognizedOptionsForLogin);
        assert_eq!(code(p.authenticate(&json!({"user": "carol", "password": 5}))), ErrorCode::MatchFailed);
        assert_eq!(code(p.authenticate(&json!({"user": 5, "password": "x"}))), ErrorCode::MatchFailed);
        let expect = |specific| if ambiguous { ErrorCode::InvalidCredentials } else { specific };
        // A selector naming no id, email or username names nobody (accounts-js: user not found).
        for nobody in [json!({}), json!({"phone": "1"})] {
            assert_eq!(code(p.authenticate(&json!({"user": nobody, "password": "x"}))), expect(ErrorCode::UserNotFound));
        }
        assert_eq!(code(p.authenticate(&json!({"user": "carol", "password": "wrong"}))), expect(ErrorCode::IncorrectPassword));
        // Password policy applies only when setting: a short wrong password at login is just a wrong password.
        assert_eq!(code(p.authenticate(&json!({"user": "carol", "password": "x"}))), expect(ErrorCode::IncorrectPassword));
        assert_eq!(code(p.authenticate(&json!({"user": "ghost", "password": "whatever1"}))), expect(ErrorCode::UserNotFound));
        assert_eq!(code(p.authenticate(&json!({"user": "nopass", "password": "whatever1"}))), expect(ErrorCode::NoPasswordSet));
        assert_eq!(
            code(s.login_with_service("password", &json!({"user": "ghost", "password": "whatever1"}), &no_info())),
            expect(ErrorCode::UserNotFound)
        );
    }
}

#[test]
fn require_email_verification_is_checked_after_the_password() {
    let s = with(json!({"services": {"password": {"requireEmailVerification": true}}}), Callbacks::default());
    let p = s.password();
    p.create_user(&json!({"email": "dan@example.com", "password": "password1"})).unwrap();
    assert_eq!(code(p.authenticate(&json!({"user": "dan@example.com", "password": "wrong-one"}))), ErrorCode::InvalidCredentials);
    assert_eq!(code(p.authenticate(&json!({"user": "dan@example.com", "password": "password1"}))), ErrorCode::EmailNotVerified);
}

#[test]
fn set_password_and_min_length() {
    let s = with(json!({"services": {"password": {"minPasswordLength": 12}}}), Callbacks::default());
    let p = s.password();
    assert_eq!(code(p.create_user(&json!({"username": "e", "password": "only11chars"}))), ErrorCode::InvalidPassword);
    let id = p.create_user(&json!({"username": "e", "password": "twelve chars"})).unwrap();
    assert_eq!(code(p.set_password(&id, "too short")), ErrorCode::InvalidPassword);
    assert_eq!(code(p.set_password("missing", "long enough password")), ErrorCode::UserNotFound);
    p.set_password(&id, "a brand new password").unwrap();
    assert_eq!(code(p.authenticate(&json!({"user": "e", "password": "twelve chars"}))), ErrorCode::InvalidCredentials);
    assert_eq!(p.authenticate(&json!({"user": "e", "password": "a brand new password"})).unwrap().id, id);
}

#[test]
fn bcrypt_hash_from_accounts_js_is_accepted_then_rehashed_to_argon2id() {
    let s = memory();
    let id = s.password().create_user(&json!({"username": "legacy"})).unwrap();
    let bcrypt_hash = bcrypt::hash("old-js-password", 4).unwrap().replace("$2b$", "$2a$");
    store_of(&s).set_password_hash(&id, &bcrypt_hash, 0).unwrap();
    assert_eq!(code(s.password().authenticate(&json!({"user": "legacy", "password": "nope-nope"}))), ErrorCode::InvalidCredentials);
    assert_eq!(store_of(&s).find_password_hash(&id).unwrap().unwrap(), bcrypt_hash, "a failed login does not rehash");
    s.login_with_service("password", &json!({"user": "legacy", "password": "old-js-password"}), &no_info()).unwrap();
    let stored = store_of(&s).find_password_hash(&id).unwrap().unwrap();
    assert!(stored.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{stored}");
    s.password().authenticate(&json!({"user": "legacy", "password": "old-js-password"})).unwrap();
}

#[test]
fn validate_new_user_can_change_and_reject() {
    let cb = Callbacks {
        validate_new_user: Some(std::sync::Arc::new(|mut u: serde_json::Value| {
            if u.get("username").and_then(|v| v.as_str()) == Some("root") {
                return Err(AccountsError::new(ErrorCode::CallbackError, "reserved name"));
            }
            u["role"] = json!("member");
            Ok(u)
        })),
        ..Default::default()
    };
    let s = with(json!({}), cb);
    assert_eq!(code(s.password().create_user(&json!({"username": "root"}))), ErrorCode::CallbackError);
    let id = s.password().create_user(&json!({"username": "okuser", "role": "admin", "plan": "pro", "services": {"x": 1}})).unwrap();
    let stored = s.find_user_by_id(&id).unwrap().unwrap();
    assert_eq!(stored.profile["role"], json!("member"), "what validateNewUser returns is stored");
    assert_eq!(stored.profile["plan"], json!("pro"));
    assert!(stored.profile.get("services").is_none(), "reserved keys are never stored");
}
