//! Passkeys (docs/passkeys.md): registration and sign-in with a software authenticator (ES256 and
//! EdDSA), each refusal by its error code, and the stored state after each step.
#[path = "common/authenticator.rs"]
mod authenticator;
mod common;

use accounts_core::*;
use authenticator::{Client, Credential, Key, UP, UV};
use common::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const ORIGIN: &str = "https://example.com";

fn webauthn(extra: Value) -> Value {
    let mut w = json!({"rpId": "example.com", "rpName": "Example", "origins": [ORIGIN, "https://app.example.com"]});
    if let (Some(w), Value::Object(e)) = (w.as_object_mut(), extra) {
        w.extend(e);
    }
    json!({"services": {"webauthn": w}})
}

/// Not ambiguous: options for a named user list their passkeys.
fn server() -> AccountsServer {
    let mut config = webauthn(json!({}));
    config["ambiguousErrorMessages"] = json!(false);
    with(config, Callbacks::default())
}

fn browser() -> Client {
    Client::new(ORIGIN, "example.com")
}

fn user(s: &AccountsServer, name: &str) -> String {
    s.password().create_user(&json!({"username": name, "password": "correct horse"})).unwrap()
}

/// Registers a passkey of `key` for `user_id`.
fn enroll(s: &AccountsServer, user_id: &str, key: Key) -> (Passkey, Credential) {
    let options = s.webauthn().registration_options(user_id).unwrap();
    let (response, cred) = browser().create(&options, key);
    (s.webauthn().register(user_id, &response, &json!({"name": "Laptop"})).unwrap(), cred)
}

fn sign_in(s: &AccountsServer, client: &Client, cred: &mut Credential, options: &Value) -> Result<LoginResult> {
    let request = s.webauthn().authentication_options(options, &no_info()).unwrap();
    let response = client.get(&request, cred);
    s.login_with_service("webauthn", &json!({"response": response}), &no_info())
}

fn reason(e: &AccountsError) -> String {
    e.details.as_ref().and_then(|d| d["reason"].as_str()).unwrap_or_default().to_string()
}

fn ceremony_for(s: &AccountsServer, key: Key) {
    let id = user(s, "alice");
    let options = s.webauthn().registration_options(&id).unwrap();
    // The creation options: discoverable credential, the configured UV, a random user handle.
    assert_eq!(options["rp"]["id"], "example.com");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
    let handle = options["user"]["id"].as_str().unwrap();
    assert_ne!(handle, id);
    assert!(!handle.contains(&id));
    assert_eq!(options["excludeCredentials"], json!([]));
    let (response, mut cred) = browser().create(&options, key);
    let passkey = s.webauthn().register(&id, &response, &json!({"name": "Laptop"})).unwrap();
    assert_eq!(passkey.name, "Laptop");
    assert_eq!(passkey.aaguid, "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa");
    assert_eq!(
        passkey.transports,
        ["hybrid", "internal"].map(String::from).to_vec().into_iter().filter(|t| passkey.transports.contains(t)).collect::<Vec<_>>()
    );
    assert!(passkey.last_used_at.is_none() && !passkey.backup_eligible);
    assert_eq!(s.webauthn().list_passkeys(&id).unwrap(), vec![passkey.clone()]);
    // Usernameless sign-in.
    let login = sign_in(s, &browser(), &mut cred, &json!({})).unwrap();
    assert_eq!(login.user.id, id);
    assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().id, id);
    let after = &s.webauthn().list_passkeys(&id).unwrap()[0];
    assert!(after.last_used_at.is_some());
    // And again, naming the user: the counter moves on.
    let request = s.webauthn().authentication_options(&json!({"username": "alice"}), &no_info()).unwrap();
    assert_eq!(request["allowCredentials"][0]["id"], passkey.id);
    let response = browser().get(&request, &mut cred);
    assert_eq!(s.login_with_service("webauthn", &json!({"response": response}), &no_info()).unwrap().user.id, id);
    // A second registration excludes the first passkey.
    let again = s.webauthn().registration_options(&id).unwrap();
    assert_eq!(again["excludeCredentials"][0]["id"], passkey.id);
    assert_eq!(again["user"]["id"], options["user"]["id"], "one user handle per user");
}

#[test]
fn es256_registration_and_sign_in() {
    ceremony_for(&server(), Key::es256());
}

#[test]
fn eddsa_registration_and_sign_in() {
    ceremony_for(&server(), Key::ed25519());
}

#[test]
fn refused_another_origin() {
    let s = server();
    let id = user(&s, "alice");
    let options = s.webauthn().registration_options(&id).unwrap();
    let (response, _) = Client::new("https://evil.example", "example.com").create(&options, Key::es256());
    let e = s.webauthn().register(&id, &response, &Value::Null).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "origin"));
    assert!(s.webauthn().list_passkeys(&id).unwrap().is_empty());
    let (_, mut cred) = enroll(&s, &id, Key::es256());
    let e = sign_in(&s, &Client::new("https://example.com.evil.example", "example.com"), &mut cred, &json!({})).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "origin"));
    // The other configured origin is fine.
    assert_eq!(sign_in(&s, &Client::new("https://app.example.com", "example.com"), &mut cred, &json!({})).unwrap().user.id, id);
}

#[test]
fn refused_another_rp_id() {
    let s = server();
    let id = user(&s, "alice");
    let options = s.webauthn().registration_options(&id).unwrap();
    let (response, _) = Client::new(ORIGIN, "evil.example").create(&options, Key::es256());
    let e = s.webauthn().register(&id, &response, &Value::Null).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "rpId"));
    let (_, mut cred) = enroll(&s, &id, Key::ed25519());
    let e = sign_in(&s, &Client::new(ORIGIN, "evil.example"), &mut cred, &json!({})).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "rpId"));
}

#[test]
fn refused_a_replayed_challenge() {
    let s = server();
    let id = user(&s, "alice");
    let options = s.webauthn().registration_options(&id).unwrap();
    let (response, _) = browser().create(&options, Key::es256());
    s.webauthn().register(&id, &response, &Value::Null).unwrap();
    // The same registration again: its challenge is used up.
    assert_eq!(code(s.webauthn().register(&id, &response, &Value::Null)), ErrorCode::InvalidWebAuthnChallenge);
    let (_, mut cred) = enroll(&s, &id, Key::es256());
    let request = s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    let response = browser().get(&request, &mut cred);
    s.login_with_service("webauthn", &json!({"response": response}), &no_info()).unwrap();
    assert_eq!(code(s.login_with_service("webauthn", &json!({"response": response}), &no_info())), ErrorCode::InvalidWebAuthnChallenge);
    assert_eq!(s.list_sessions(&id).unwrap().len(), 1);
}

#[test]
fn refused_an_expired_challenge() {
    let (s, clock) = clocked(webauthn(json!({"timeout": 60000})));
    assert!(s.options().ambiguous_error_messages);
    let id = user(&s, "alice");
    let options = s.webauthn().registration_options(&id).unwrap();
    let (response, _) = browser().create(&options, Key::es256());
    clock.advance_secs(61);
    assert_eq!(code(s.webauthn().register(&id, &response, &Value::Null)), ErrorCode::InvalidWebAuthnChallenge);
    let (_, mut cred) = enroll(&s, &id, Key::es256());
    let request = s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    let response = browser().get(&request, &mut cred);
    clock.advance_secs(61);
    assert_eq!(code(s.login_with_service("webauthn", &json!({"response": response}), &no_info())), ErrorCode::InvalidWebAuthnChallenge);
    // Expired ceremonies are purged.
    s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    clock.advance_secs(61);
    assert!(s.purge_expired().unwrap().tokens >= 1);
}

#[test]
fn refused_a_challenge_from_the_other_ceremony() {
    let s = server();
    let id = user(&s, "alice");
    let (_, mut cred) = enroll(&s, &id, Key::es256());
    // A sign-in answering registration options.
    let creation = s.webauthn().registration_options(&id).unwrap();
    let response = browser().get(&creation, &mut cred);
    assert_eq!(code(s.login_with_service("webauthn", &json!({"response": response}), &no_info())), ErrorCode::InvalidWebAuthnChallenge);
    // A registration answering request options.
    let request = s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    let mut fake = request.clone();
    fake["user"] = json!({"id": creation["user"]["id"]});
    let (response, _) = browser().create(&fake, Key::es256());
    assert_eq!(code(s.webauthn().register(&id, &response, &Value::Null)), ErrorCode::InvalidWebAuthnChallenge);
    // A registration started for another user.
    let bob = user(&s, "bob");
    let for_bob = s.webauthn().registration_options(&bob).unwrap();
    let (response, _) = browser().create(&for_bob, Key::es256());
    assert_eq!(code(s.webauthn().register(&id, &response, &Value::Null)), ErrorCode::InvalidWebAuthnChallenge);
    assert_eq!(s.webauthn().list_passkeys(&id).unwrap().len(), 1);
    assert!(s.webauthn().list_passkeys(&bob).unwrap().is_empty());
}

#[test]
fn refused_uv_missing_when_required() {
    let s = server();
    let id = user(&s, "alice");
    let options = s.webauthn().registration_options(&id).unwrap();
    let mut present_only = browser();
    present_only.flags = UP;
    let (response, _) = present_only.create(&options, Key::es256());
    let e = s.webauthn().register(&id, &response, &Value::Null).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "userVerification"));
    let (_, mut cred) = enroll(&s, &id, Key::es256());
    let e = sign_in(&s, &present_only, &mut cred, &json!({})).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "userVerification"));
    assert!(s.list_sessions(&id).unwrap().is_empty());
}

#[test]
fn refused_a_counter_regression_and_reported() {
    let s = server();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    s.on(
        events::PASSKEY_COUNTER_REGRESSION,
        Arc::new(move |_: &str, e: &Value| {
            sink.lock().unwrap().push(e.clone());
            Ok(())
        }),
    );
    let id = user(&s, "alice");
    let (passkey, mut cred) = enroll(&s, &id, Key::es256());
    cred.counter = 10;
    sign_in(&s, &browser(), &mut cred, &json!({})).unwrap(); // counter 11
    let request = s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    let clone = browser().get_with_counter(&request, &cred, 5);
    assert_eq!(code(s.login_with_service("webauthn", &json!({"response": clone}), &no_info())), ErrorCode::PasskeyCounterRegression);
    let events = seen.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0]["userId"].as_str(), events[0]["passkeyId"].as_str()), (Some(id.as_str()), Some(passkey.id.as_str())));
    assert_eq!((events[0]["storedCount"].as_u64(), events[0]["presentedCount"].as_u64()), (Some(11), Some(5)));
    assert_eq!(s.list_sessions(&id).unwrap().len(), 1);
    // The genuine authenticator goes on.
    sign_in(&s, &browser(), &mut cred, &json!({})).unwrap();
}

#[test]
fn refused_a_credential_of_another_user() {
    let s = server();
    let alice = user(&s, "alice");
    let bob = user(&s, "bob");
    let (_, mut alice_cred) = enroll(&s, &alice, Key::es256());
    let (_, mut bob_cred) = enroll(&s, &bob, Key::es256());
    // A ceremony bound to alice, finished with bob's passkey.
    let e = sign_in(&s, &browser(), &mut bob_cred, &json!({"userId": alice})).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "userHandle"));
    // Bob's credential presented with alice's user handle.
    bob_cred.user_handle = alice_cred.user_handle.clone();
    let e = sign_in(&s, &browser(), &mut bob_cred, &json!({})).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "userHandle"));
    // An unknown credential.
    let mut stranger = browser().create(&s.webauthn().registration_options(&alice).unwrap(), Key::es256()).1;
    let e = sign_in(&s, &browser(), &mut stranger, &json!({})).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "unknownCredential"));
    // Alice's own passkey still works, and nobody got a session from the above.
    assert!(s.list_sessions(&bob).unwrap().is_empty());
    assert_eq!(sign_in(&s, &browser(), &mut alice_cred, &json!({"userId": alice})).unwrap().user.id, alice);
    // A credential id registered already (to alice) is refused for bob, and alice's stays hers.
    let options = s.webauthn().registration_options(&bob).unwrap();
    let (response, _) = browser().create_with_id(&options, Key::es256(), alice_cred.id.clone());
    assert_eq!(code(s.webauthn().register(&bob, &response, &Value::Null)), ErrorCode::PasskeyAlreadyRegistered);
    assert_eq!(s.webauthn().list_passkeys(&bob).unwrap().len(), 1);
    assert_eq!(sign_in(&s, &browser(), &mut alice_cred, &json!({})).unwrap().user.id, alice);
}

#[test]
fn refused_a_tampered_signature() {
    let s = server();
    let id = user(&s, "alice");
    let (_, mut cred) = enroll(&s, &id, Key::ed25519());
    let request = s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    let mut response = browser().get(&request, &mut cred);
    let sig = response["response"]["signature"].as_str().unwrap().to_string();
    let flipped = match sig.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &sig[1..]),
    };
    response["response"]["signature"] = json!(flipped);
    let e = s.login_with_service("webauthn", &json!({"response": response}), &no_info()).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "signature"));
    assert!(s.list_sessions(&id).unwrap().is_empty());
    assert!(s.webauthn().list_passkeys(&id).unwrap()[0].last_used_at.is_none());
}

#[test]
fn refused_an_unsupported_algorithm() {
    let s = server();
    let id = user(&s, "alice");
    let options = s.webauthn().registration_options(&id).unwrap();
    let (response, _) = browser().create(&options, Key::Es512);
    let e = s.webauthn().register(&id, &response, &Value::Null).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "algorithm"));
    assert!(s.webauthn().list_passkeys(&id).unwrap().is_empty());
}

#[test]
fn failed_assertions_count_toward_the_second_factor_limits() {
    // An assertion whose signature does not verify is anybody's: it counts against the client address.
    let limits = json!({"accountIp": {"max": 50, "window": "15m"}, "account": {"max": 50, "window": "15m"}, "ip": {"max": 2, "window": "15m"}});
    let mut config = webauthn(json!({}));
    config["attemptLimits"] = json!({"secondFactor": limits});
    let s = with(config, Callbacks::default());
    let id = user(&s, "alice");
    let (_, mut cred) = enroll(&s, &id, Key::es256());
    let infos = ConnectionInfo { ip: Some("192.0.2.7".into()), ..ConnectionInfo::default() };
    let attempt = |cred: &mut Credential, tamper: bool| {
        let request = s.webauthn().authentication_options(&json!({}), &infos).unwrap();
        let mut response = browser().get(&request, cred);
        if tamper {
            response["response"]["signature"] = json!("AAAA");
        }
        s.login_with_service("webauthn", &json!({"response": response}), &infos)
    };
    assert_eq!(code(attempt(&mut cred, true)), ErrorCode::WebAuthnVerificationFailed);
    assert_eq!(code(attempt(&mut cred, true)), ErrorCode::WebAuthnVerificationFailed);
    // Even the right passkey waits now.
    assert_eq!(code(attempt(&mut cred, false)), ErrorCode::TooManyAttempts);
}

#[test]
fn management_rename_remove_and_the_last_way_in() {
    let s = server();
    let seen = Arc::new(Mutex::new(Vec::new()));
    for event in [events::PASSKEY_REGISTERED, events::PASSKEY_RENAMED, events::PASSKEY_REMOVED] {
        let sink = seen.clone();
        s.on(
            event,
            Arc::new(move |_: &str, e: &Value| {
                sink.lock().unwrap().push((event, e.clone()));
                Ok(())
            }),
        );
    }
    // A passkey-only account: no password.
    let id = s.password().create_user(&json!({"email": "solo@example.com"})).unwrap();
    let (first, mut cred) = enroll(&s, &id, Key::es256());
    let (second, _) = enroll(&s, &id, Key::ed25519());
    let renamed = s.webauthn().rename_passkey(&id, &first.id, "  Phone ").unwrap();
    assert_eq!(renamed.name, "Phone");
    assert_eq!(code(s.webauthn().rename_passkey(&id, &first.id, " ")), ErrorCode::InvalidArgument);
    assert_eq!(code(s.webauthn().rename_passkey(&id, "nope", "x")), ErrorCode::PasskeyNotFound);
    s.webauthn().remove_passkey(&id, &second.id).unwrap();
    assert_eq!(code(s.webauthn().remove_passkey(&id, &second.id)), ErrorCode::PasskeyNotFound);
    // The last passkey of an account without password or linked identity stays.
    assert_eq!(code(s.webauthn().remove_passkey(&id, &first.id)), ErrorCode::LastLoginMethod);
    assert_eq!(s.webauthn().list_passkeys(&id).unwrap(), vec![renamed.clone()]);
    // Another user cannot touch it.
    let bob = user(&s, "bob");
    assert_eq!(code(s.webauthn().rename_passkey(&bob, &first.id, "mine")), ErrorCode::PasskeyNotFound);
    assert_eq!(code(s.webauthn().remove_passkey(&bob, &first.id)), ErrorCode::PasskeyNotFound);
    assert_eq!(sign_in(&s, &browser(), &mut cred, &json!({"email": "solo@example.com"})).unwrap().user.id, id);
    // With a password the last passkey may go.
    s.password().set_password(&id, "correct horse").unwrap();
    s.webauthn().remove_passkey(&id, &first.id).unwrap();
    assert!(s.webauthn().list_passkeys(&id).unwrap().is_empty());
    let names: Vec<&str> = seen.lock().unwrap().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["PasskeyRegistered", "PasskeyRegistered", "PasskeyRenamed", "PasskeyRemoved", "PasskeyRemoved"]);
    // Events never carry the public key.
    assert!(seen.lock().unwrap().iter().all(|(_, e)| !e.to_string().contains("publicKey")));
}

#[test]
fn a_verified_passkey_needs_no_totp_code_an_unverified_one_does() {
    for (uv, flags) in [("required", UP | UV), ("preferred", UP)] {
        let mut config = webauthn(json!({"userVerification": uv}));
        config["ambiguousErrorMessages"] = json!(false);
        let (s, clock) = clocked(config);
        let id = user(&s, "alice");
        let secret = s.password().two_factor().get_new_auth_secret().unwrap();
        let now = (clock.now_ms() / 1000) as u64;
        s.password().two_factor().set(&id, &secret.base32, &totp_code(&secret.base32, now)).unwrap();
        let (_, mut cred) = enroll(&s, &id, Key::es256());
        let mut client = browser();
        client.flags = flags;
        let result = sign_in(&s, &client, &mut cred, &json!({}));
        if uv == "required" {
            assert_eq!(result.unwrap().user.id, id);
        } else {
            assert_eq!(code(result), ErrorCode::TwoFactorCodeRequired);
            let request = s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
            let response = client.get(&request, &mut cred);
            let params = json!({"response": response, "code": totp_code(&secret.base32, now + 30)});
            assert_eq!(s.login_with_service("webauthn", &params, &no_info()).unwrap().user.id, id);
        }
    }
}

#[test]
fn a_deactivated_user_and_validate_login_are_refused() {
    let s = server();
    let id = user(&s, "alice");
    let (_, mut cred) = enroll(&s, &id, Key::es256());
    s.deactivate_user(&id).unwrap();
    assert_eq!(code(sign_in(&s, &browser(), &mut cred, &json!({}))), ErrorCode::UserDeactivated);
    s.activate_user(&id).unwrap();
    let listener = s.on(
        events::VALIDATE_LOGIN,
        Arc::new(|_: &str, info: &Value| {
            assert_eq!(info["service"], "webauthn");
            Err(AccountsError::code(ErrorCode::Unauthorized))
        }),
    );
    assert_eq!(code(sign_in(&s, &browser(), &mut cred, &json!({}))), ErrorCode::Unauthorized);
    s.off(listener);
    assert!(
        s.authenticate_with_service(
            "webauthn",
            &json!({"response": browser().get(&s.webauthn().authentication_options(&json!({}), &no_info()).unwrap(), &mut cred)}),
            &no_info()
        )
        .unwrap()
    );
}

#[test]
fn authentication_options_for_an_unknown_user() {
    let s = server();
    assert_eq!(code(s.webauthn().authentication_options(&json!({"username": "ghost"}), &no_info())), ErrorCode::UserNotFound);
    assert_eq!(code(s.webauthn().authentication_options(&json!({"user": "x"}), &no_info())), ErrorCode::InvalidArgument);
    // Ambiguous mode: an unknown user gets options shaped as a known user's.
    let a = with(webauthn(json!({})), Callbacks::default());
    assert!(a.options().ambiguous_error_messages, "the default");
    let id = user(&a, "alice");
    let (_, mut cred) = enroll(&a, &id, Key::es256());
    let known = a.webauthn().authentication_options(&json!({"username": "alice"}), &no_info()).unwrap();
    let unknown = a.webauthn().authentication_options(&json!({"username": "ghost"}), &no_info()).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&known), keys(&unknown));
    assert!(known.get("allowCredentials").is_none_or(|a| a == &json!([])));
    // The unknown name's ceremony is finished by no passkey; the known one's by alice's.
    let response = browser().get(&unknown, &mut cred);
    let e = a.login_with_service("webauthn", &json!({"response": response}), &no_info()).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "userHandle"));
    let response = browser().get(&known, &mut cred);
    assert_eq!(a.login_with_service("webauthn", &json!({"response": response}), &no_info()).unwrap().user.id, id);
}

#[test]
fn the_service_is_off_without_configuration_and_origins_must_belong_to_the_rp_id() {
    let s = memory();
    let id = user(&s, "alice");
    assert_eq!(code(s.webauthn().registration_options(&id)), ErrorCode::ServiceNotFound);
    assert_eq!(code(s.login_with_service("webauthn", &json!({"response": {}}), &no_info())), ErrorCode::ServiceNotFound);
    for origins in [
        json!(["https://evil.example"]),
        json!(["http://example.com"]),
        json!(["https://notexample.com"]),
        json!([]),
        json!(["https://example.com/path"]),
    ] {
        let c = Config::from_value(json!({"db": "sqlite::memory:", "tokenSecret": SECRET,
            "services": {"webauthn": {"rpId": "example.com", "rpName": "Example", "origins": origins}}}));
        let result = c.and_then(|c| AccountsServer::new(c, Callbacks::default()).map(|_| ()));
        assert_eq!(code(result), ErrorCode::InvalidConfig, "{origins}");
    }
    let localhost = Config::from_value(json!({"db": "sqlite::memory:", "tokenSecret": SECRET,
        "services": {"webauthn": {"rpId": "localhost", "rpName": "Dev", "origins": ["http://localhost:3000"]}}}));
    assert!(localhost.and_then(|c| AccountsServer::new(c, Callbacks::default())).is_ok());
}

#[test]
fn nothing_secret_at_rest_and_ceremonies_cross_servers() {
    let dir = tempfile::tempdir().unwrap();
    let (a, path) = file(&dir, webauthn(json!({})));
    let b = AccountsServer::new(config(&format!("sqlite:{}", path.display()), webauthn(json!({}))), Callbacks::default()).unwrap();
    let id = user(&a, "alice");
    // Started on one server, finished on another.
    let options = a.webauthn().registration_options(&id).unwrap();
    let (response, mut cred) = browser().create(&options, Key::es256());
    b.webauthn().register(&id, &response, &Value::Null).unwrap();
    let request = b.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    let pending = a.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    let response = browser().get(&request, &mut cred);
    assert_eq!(a.login_with_service("webauthn", &json!({"response": response}), &no_info()).unwrap().user.id, id);
    // The pending challenge is stored as a digest, its state sealed.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let challenge = pending["challenge"].as_str().unwrap();
    let rows: Vec<(String, String)> = conn
        .prepare("SELECT digest, state FROM webauthn_challenges")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].0.contains(challenge) && !rows[0].1.contains(challenge));
}

#[test]
fn a_reset_that_proves_the_first_address_removes_a_squatters_passkey() {
    // The attacker signs up with the victim's address (unverified) and registers a passkey; the
    // victim's reset — the account's first proof of an address — removes it (docs/security.md,
    // "Pre-account hijack").
    let (s, _clock, mails) = mailbox(webauthn(json!({})));
    let account = s.password().create_user(&json!({"email": "victim@example.com", "password": "attacker password"})).unwrap();
    let (_, mut cred) = enroll(&s, &account, Key::es256());
    s.password().send_reset_password_email("victim@example.com").unwrap();
    let (_, token) = last_link(&mails);
    s.password().reset_password(&token, "the victim's new password", None, &no_info()).unwrap();
    assert!(s.webauthn().list_passkeys(&account).unwrap().is_empty());
    let e = sign_in(&s, &browser(), &mut cred, &json!({})).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "unknownCredential"));
}

#[test]
fn reseal_all_moves_pending_ceremonies_to_the_new_key() {
    let old = "passkey-old-sealing-secret-0123456789abcdef";
    let new = "passkey-new-sealing-secret-0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("a.db").display());
    let mut first = webauthn(json!({}));
    first["sealingSecret"] = json!(old);
    let a = AccountsServer::new(config(&url, first), Callbacks::default()).unwrap();
    let id = user(&a, "alice");
    let options = a.webauthn().registration_options(&id).unwrap();
    drop(a);
    let mut second = webauthn(json!({}));
    second["sealingSecret"] = json!(new);
    second["previousSealingSecrets"] = json!([old]);
    let b = AccountsServer::new(config(&url, second), Callbacks::default()).unwrap();
    assert_eq!(b.reseal_all().unwrap(), 1);
    drop(b);
    // The old key is gone: the ceremony still finishes.
    let mut third = webauthn(json!({}));
    third["sealingSecret"] = json!(new);
    let c = AccountsServer::new(config(&url, third), Callbacks::default()).unwrap();
    let (response, _) = browser().create(&options, Key::es256());
    c.webauthn().register(&id, &response, &Value::Null).unwrap();
}

#[test]
fn postgres_ceremonies_and_management() {
    let Some(db) = pg_database() else { return };
    let mut extra = webauthn(json!({}));
    extra["ambiguousErrorMessages"] = json!(false);
    let s = AccountsServer::new(config(&db, extra.clone()), Callbacks::default()).unwrap();
    let other = AccountsServer::new(config(&db, extra), Callbacks::default()).unwrap();
    let id = user(&s, "alice");
    let (first, mut cred) = enroll(&s, &id, Key::es256());
    let (second, mut second_cred) = enroll(&other, &id, Key::ed25519());
    // Started on one server, finished on the other; the used challenge is gone for both.
    let request = s.webauthn().authentication_options(&json!({"userId": id}), &no_info()).unwrap();
    let response = browser().get(&request, &mut cred);
    assert_eq!(other.login_with_service("webauthn", &json!({"response": response}), &no_info()).unwrap().user.id, id);
    assert_eq!(code(s.login_with_service("webauthn", &json!({"response": response}), &no_info())), ErrorCode::InvalidWebAuthnChallenge);
    let clone = browser().get_with_counter(&s.webauthn().authentication_options(&json!({}), &no_info()).unwrap(), &cred, 1);
    assert_eq!(code(s.login_with_service("webauthn", &json!({"response": clone}), &no_info())), ErrorCode::PasskeyCounterRegression);
    let options = s.webauthn().registration_options(&id).unwrap();
    let (dup, _) = browser().create_with_id(&options, Key::es256(), cred.id.clone());
    assert_eq!(code(s.webauthn().register(&id, &dup, &Value::Null)), ErrorCode::PasskeyAlreadyRegistered);
    assert_eq!(s.webauthn().rename_passkey(&id, &second.id, "Key").unwrap().name, "Key");
    let solo = s.password().create_user(&json!({"email": "solo@example.com"})).unwrap();
    let (only, _) = enroll(&s, &solo, Key::es256());
    assert_eq!(code(s.webauthn().remove_passkey(&solo, &only.id)), ErrorCode::LastLoginMethod);
    s.webauthn().remove_passkey(&id, &first.id).unwrap();
    assert_eq!(s.webauthn().list_passkeys(&id).unwrap().iter().map(|p| p.id.clone()).collect::<Vec<_>>(), vec![second.id]);
    s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    assert_eq!(s.reseal_all().unwrap(), 0);
    // Ambiguous mode: a ceremony for an unknown name is stored, and no passkey finishes it.
    let mut ambiguous = webauthn(json!({}));
    ambiguous["ambiguousErrorMessages"] = json!(true);
    let a = AccountsServer::new(config(&db, ambiguous), Callbacks::default()).unwrap();
    let request = a.webauthn().authentication_options(&json!({"username": "ghost"}), &no_info()).unwrap();
    let response = browser().get(&request, &mut second_cred);
    let e = a.login_with_service("webauthn", &json!({"response": response}), &no_info()).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "userHandle"));
}

#[test]
fn minimal_and_extended_to_json_forms_are_accepted() {
    let s = server();
    let id = user(&s, "alice");
    // Without the optional members (authenticatorAttachment, clientExtensionResults, transports, ...).
    let options = s.webauthn().registration_options(&id).unwrap();
    let (mut response, mut cred) = browser().create(&options, Key::ed25519());
    for field in ["authenticatorAttachment", "clientExtensionResults"] {
        response.as_object_mut().unwrap().remove(field);
    }
    for field in ["transports", "publicKeyAlgorithm", "authenticatorData"] {
        response["response"].as_object_mut().unwrap().remove(field);
    }
    // As JSON text, too.
    let passkey = s.webauthn().register(&id, &json!(response.to_string()), &Value::Null).unwrap();
    assert!(passkey.transports.is_empty());
    let request = s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    let mut assertion = browser().get(&request, &mut cred);
    for field in ["authenticatorAttachment", "clientExtensionResults"] {
        assertion.as_object_mut().unwrap().remove(field);
    }
    assert_eq!(s.login_with_service("webauthn", &json!({"response": assertion}), &no_info()).unwrap().user.id, id);
}

#[test]
fn a_passkey_is_a_way_in_for_unlink_account() {
    let authenticate: Arc<callbacks::OAuthAuthenticateFn> = Arc::new(|_: &str, _: &Value| Ok(json!({"id": "42"})));
    let mut config = webauthn(json!({}));
    config["services"]["oauth"] = json!({"providers": {"github": {"type": "host"}}});
    let s = with(config, Callbacks { oauth_authenticate: Some(authenticate), ..Callbacks::default() });
    // An account created by a provider login: no password.
    let id = s.login_with_service("oauth", &json!({"provider": "github", "code": "x"}), &no_info()).unwrap().user.id;
    let (passkey, _) = enroll(&s, &id, Key::es256());
    // With a passkey the identity may go; then the passkey is the last way in.
    s.oauth().unlink_account(&id, "github").unwrap();
    assert_eq!(code(s.webauthn().remove_passkey(&id, &passkey.id)), ErrorCode::LastLoginMethod);
}

// ---- After the outside review (docs/passkeys.md, "Security model") ----

fn at(ip: &str) -> ConnectionInfo {
    ConnectionInfo { ip: Some(ip.into()), ..ConnectionInfo::default() }
}

/// A user with a password, TOTP on and a passkey; the TOTP secret.
fn alice_with_totp_and_passkey(s: &AccountsServer, now_secs: u64) -> (String, String, Credential) {
    let id = user(s, "alice");
    let secret = s.password().two_factor().get_new_auth_secret().unwrap();
    s.password().two_factor().set(&id, &secret.base32, &totp_code(&secret.base32, now_secs)).unwrap();
    let (_, cred) = enroll(s, &id, Key::es256());
    (id, secret.base32, cred)
}

#[test]
fn forged_assertions_for_a_known_credential_do_not_lock_its_owner_out() {
    // F1: the credential id is listed to anybody (non-ambiguous mode); forged assertions for it
    // count against the forger's address, never the owner's account.
    let small = json!({"accountIp": {"max": 3, "window": "15m"}, "account": {"max": 5, "window": "15m"}, "ip": {"max": 100, "window": "15m"}});
    let mut config = webauthn(json!({}));
    config["ambiguousErrorMessages"] = json!(false);
    config["attemptLimits"] = json!({"secondFactor": small});
    let (s, clock) = clocked(config);
    let now = (clock.now_ms() / 1000) as u64;
    let (id, totp, mut cred) = alice_with_totp_and_passkey(&s, now);
    let attacker = at("203.0.113.9");
    let listed = s.webauthn().authentication_options(&json!({"username": "alice"}), &attacker).unwrap();
    let victim_id = base64_url(listed["allowCredentials"][0]["id"].as_str().unwrap());
    let mut forged = Credential { id: victim_id, key: Key::es256(), user_handle: cred.user_handle.clone(), counter: 0 };
    for _ in 0..12 {
        let request = s.webauthn().authentication_options(&json!({}), &attacker).unwrap();
        let response = browser().get(&request, &mut forged);
        let e = s.login_with_service("webauthn", &json!({"response": response}), &attacker).unwrap_err();
        assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "signature"));
    }
    let home = at("198.51.100.1");
    let request = s.webauthn().authentication_options(&json!({}), &home).unwrap();
    let response = browser().get(&request, &mut cred);
    assert_eq!(s.login_with_service("webauthn", &json!({"response": response}), &home).unwrap().user.id, id);
    let password = json!({"user": {"username": "alice"}, "password": "correct horse", "code": totp_code(&totp, now + 30)});
    assert_eq!(s.login_with_service("password", &password, &home).unwrap().user.id, id);
    assert_eq!(s.list_sessions(&id).unwrap().len(), 2);
}

fn base64_url(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap()
}

#[test]
fn a_counter_regression_counts_against_the_account_yet_a_verified_passkey_still_signs_in() {
    // F1: failures after the signature verified come from the key's holder: they count against
    // the account (its TOTP waits), but a full account counter never refuses a passkey whose
    // signature and user verification verified.
    let small = json!({"accountIp": {"max": 2, "window": "15m"}, "account": {"max": 2, "window": "15m"}, "ip": {"max": 100, "window": "15m"}});
    let mut config = webauthn(json!({}));
    config["attemptLimits"] = json!({"secondFactor": small});
    let (s, clock) = clocked(config);
    let now = (clock.now_ms() / 1000) as u64;
    let (id, totp, mut cred) = alice_with_totp_and_passkey(&s, now);
    let home = at("198.51.100.1");
    cred.counter = 10;
    let request = s.webauthn().authentication_options(&json!({}), &home).unwrap();
    let response = browser().get(&request, &mut cred);
    s.login_with_service("webauthn", &json!({"response": response}), &home).unwrap();
    for _ in 0..2 {
        let request = s.webauthn().authentication_options(&json!({}), &home).unwrap();
        let clone = browser().get_with_counter(&request, &cred, 3);
        assert_eq!(code(s.login_with_service("webauthn", &json!({"response": clone}), &home)), ErrorCode::PasskeyCounterRegression);
    }
    let password = json!({"user": {"username": "alice"}, "password": "correct horse", "code": totp_code(&totp, now + 30)});
    assert_eq!(code(s.login_with_service("password", &password, &home)), ErrorCode::TooManyAttempts);
    let request = s.webauthn().authentication_options(&json!({}), &home).unwrap();
    let response = browser().get(&request, &mut cred);
    assert_eq!(s.login_with_service("webauthn", &json!({"response": response}), &home).unwrap().user.id, id);
}

#[test]
fn a_null_user_handle_is_a_coded_refusal_not_a_panic() {
    // F5: webauthn_rp 0.3 panics on `"userHandle": null`; it is refused before it gets there.
    let s = server();
    let id = user(&s, "alice");
    let (_, mut cred) = enroll(&s, &id, Key::es256());
    for handle in [Value::Null, json!(""), json!(5)] {
        let request = s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
        let mut response = browser().get(&request, &mut cred);
        response["response"]["userHandle"] = handle.clone();
        let got =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.login_with_service("webauthn", &json!({"response": response}), &no_info())));
        let e = got.expect("no panic").unwrap_err();
        assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "userHandle"), "{handle}");
        // The same as JSON text.
        let text = json!({"response": serde_json::to_string(&response).unwrap()});
        assert_eq!(code(s.login_with_service("webauthn", &text, &no_info())), ErrorCode::WebAuthnVerificationFailed);
    }
    assert!(s.list_sessions(&id).unwrap().is_empty());
    assert_eq!(s.webauthn().list_passkeys(&id).unwrap()[0].last_used_at, None);
}

#[test]
fn register_is_refused_once_the_user_is_deactivated() {
    // F4
    let s = server();
    let id = user(&s, "alice");
    let options = s.webauthn().registration_options(&id).unwrap();
    s.deactivate_user(&id).unwrap();
    let (response, _) = browser().create(&options, Key::es256());
    assert_eq!(code(s.webauthn().register(&id, &response, &Value::Null)), ErrorCode::UserDeactivated);
    assert!(s.webauthn().list_passkeys(&id).unwrap().is_empty());
}

#[test]
fn creation_options_carry_the_rp_name() {
    // F7
    let s = server();
    let id = user(&s, "alice");
    let options = s.webauthn().registration_options(&id).unwrap();
    assert_eq!((options["rp"]["id"].as_str(), options["rp"]["name"].as_str()), (Some("example.com"), Some("Example")));
}

#[test]
fn creation_options_ask_for_cred_protect_without_making_the_browser_enforce_it() {
    // Chromium refuses a registration whose authenticator cannot apply an enforced policy (its
    // virtual authenticator, many security keys); sign-in checks user verification itself.
    let s = server();
    let id = user(&s, "alice");
    let options = s.webauthn().registration_options(&id).unwrap();
    let extensions = &options["extensions"];
    assert_eq!(extensions["credentialProtectionPolicy"], json!("userVerificationRequired"), "{options}");
    assert_ne!(extensions["enforceCredentialProtectionPolicy"], json!(true), "{options}");
}

#[test]
fn origins_must_be_written_as_browsers_send_them_and_the_rp_id_must_be_a_domain() {
    // F8: webauthn_rp compares origins byte for byte; other spellings never match.
    for (rp_id, origin) in [
        ("example.com", "https://example.com:443"),
        ("example.com", "https://EXAMPLE.com"),
        ("example.com", "HTTPS://example.com"),
        ("example.com", "https://*.example.com"),
        ("com", "https://example.com"),
        ("127.0.0.1", "https://127.0.0.1"),
        ("Example.com", "https://example.com"),
    ] {
        let c = Config::from_value(json!({"db": "sqlite::memory:", "tokenSecret": SECRET,
            "services": {"webauthn": {"rpId": rp_id, "rpName": "Example", "origins": [origin]}}}));
        let result = c.and_then(|c| AccountsServer::new(c, Callbacks::default()).map(|_| ()));
        assert_eq!(code(result), ErrorCode::InvalidConfig, "{rp_id} {origin}");
    }
    for origin in ["https://example.com:8443", "https://app.example.com"] {
        let c = Config::from_value(json!({"db": "sqlite::memory:", "tokenSecret": SECRET,
            "services": {"webauthn": {"rpId": "example.com", "rpName": "Example", "origins": [origin]}}}));
        assert!(c.and_then(|c| AccountsServer::new(c, Callbacks::default())).is_ok(), "{origin}");
    }
}

#[test]
fn a_password_reset_removes_the_passkeys_a_stolen_session_planted() {
    // F6: an account that proved its address long ago; a stolen access token adds a passkey; the
    // owner's reset (recovery through the mailbox) removes it, with an event.
    let (s, _clock, mails) = mailbox(webauthn(json!({})));
    let removed = Arc::new(Mutex::new(Vec::new()));
    let sink = removed.clone();
    s.on(
        events::PASSKEY_REMOVED,
        Arc::new(move |_: &str, e: &Value| {
            sink.lock().unwrap().push(e.clone());
            Ok(())
        }),
    );
    let id = s.password().create_user(&json!({"email": "alice@example.com", "password": "correct horse"})).unwrap();
    s.password().send_reset_password_email("alice@example.com").unwrap();
    let (_, token) = last_link(&mails);
    s.password().reset_password(&token, "first real password", None, &no_info()).unwrap();
    let login =
        s.login_with_service("password", &json!({"user": {"email": "alice@example.com"}, "password": "first real password"}), &no_info()).unwrap();
    let stolen = s.resume_session(&login.tokens.access_token).unwrap();
    let (planted, mut cred) = enroll(&s, &stolen.id, Key::es256());
    s.password().send_reset_password_email("alice@example.com").unwrap();
    let (_, token) = last_link(&mails);
    s.password().reset_password(&token, "second real password", None, &no_info()).unwrap();
    assert!(s.webauthn().list_passkeys(&id).unwrap().is_empty());
    let e = sign_in(&s, &browser(), &mut cred, &json!({})).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "unknownCredential"));
    let events = removed.lock().unwrap().clone();
    assert_eq!(events, vec![json!({"userId": id, "passkeyId": planted.id})]);
}

#[test]
fn passkey_names_refuse_control_and_format_characters() {
    let s = server();
    let id = user(&s, "alice");
    let (passkey, _) = enroll(&s, &id, Key::es256());
    for name in ["\u{202e}evil", "a\u{0}b", "\u{200b}", "a\u{2066}b", "a\u{feff}"] {
        assert_eq!(code(s.webauthn().rename_passkey(&id, &passkey.id, name)), ErrorCode::InvalidArgument, "{name:?}");
    }
    assert_eq!(s.webauthn().list_passkeys(&id).unwrap()[0].name, "Laptop");
    assert_eq!(s.webauthn().rename_passkey(&id, &passkey.id, "Téléphone 📱").unwrap().name, "Téléphone 📱");
}

#[test]
fn the_fiftieth_passkey_is_the_last() {
    let s = server();
    let id = user(&s, "alice");
    for _ in 0..50 {
        enroll(&s, &id, Key::ed25519());
    }
    let options = s.webauthn().registration_options(&id).unwrap();
    let (response, _) = browser().create(&options, Key::ed25519());
    assert_eq!(code(s.webauthn().register(&id, &response, &Value::Null)), ErrorCode::InvalidArgument);
    assert_eq!(s.webauthn().list_passkeys(&id).unwrap().len(), 50);
}

/// Two registrations of a user with 49 passkeys at once: exactly one is stored.
fn two_registrations_race_for_the_last_place(s: &AccountsServer, id: &str) {
    for _ in 0..49 {
        enroll(s, id, Key::ed25519());
    }
    let responses: Vec<Value> = (0..2).map(|_| browser().create(&s.webauthn().registration_options(id).unwrap(), Key::ed25519()).0).collect();
    let barrier = std::sync::Barrier::new(2);
    let codes: Vec<Option<ErrorCode>> = std::thread::scope(|scope| {
        let handles: Vec<_> = responses
            .iter()
            .map(|r| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    s.webauthn().register(id, r, &Value::Null).err().map(|e| e.code)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut codes = codes;
    codes.sort_by_key(|c| c.is_some());
    assert_eq!(codes, vec![None, Some(ErrorCode::InvalidArgument)]);
    assert_eq!(s.webauthn().list_passkeys(id).unwrap().len(), 50);
}

#[test]
fn the_passkey_cap_holds_under_concurrent_registrations() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = file(&dir, webauthn(json!({})));
    let id = user(&s, "alice");
    two_registrations_race_for_the_last_place(&s, &id);
}

#[test]
fn postgres_reset_removes_passkeys_and_the_cap_holds() {
    let Some(db) = pg_database() else { return };
    let (s, _clock, mails) = mailbox_on(&db, webauthn(json!({})));
    let id = s.password().create_user(&json!({"email": "pk-reset@example.com", "password": "correct horse"})).unwrap();
    let (_, mut cred) = enroll(&s, &id, Key::es256());
    enroll(&s, &id, Key::ed25519());
    s.password().send_reset_password_email("pk-reset@example.com").unwrap();
    let (_, token) = last_link(&mails);
    s.password().reset_password(&token, "a new password", None, &no_info()).unwrap();
    assert!(s.webauthn().list_passkeys(&id).unwrap().is_empty());
    let e = sign_in(&s, &browser(), &mut cred, &json!({})).unwrap_err();
    assert_eq!((e.code, reason(&e).as_str()), (ErrorCode::WebAuthnVerificationFailed, "unknownCredential"));
    let other = user(&s, "bob");
    two_registrations_race_for_the_last_place(&s, &other);
}

#[test]
fn a_wrong_caller_does_not_use_up_a_ceremony() {
    // Review info item: another user's register, or a sign-in challenge given to register, is
    // refused and leaves the ceremony pending for its owner.
    let s = server();
    let alice = user(&s, "alice");
    let bob = user(&s, "bob");
    let options = s.webauthn().registration_options(&alice).unwrap();
    let (response, _) = browser().create(&options, Key::es256());
    assert_eq!(code(s.webauthn().register(&bob, &response, &Value::Null)), ErrorCode::InvalidWebAuthnChallenge);
    assert!(s.webauthn().list_passkeys(&bob).unwrap().is_empty());
    s.webauthn().register(&alice, &response, &Value::Null).unwrap();
    let (_, mut cred) = enroll(&s, &bob, Key::es256());
    let request = s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    let mut fake = request.clone();
    fake["user"] = json!({"id": "AAAA", "name": "x", "displayName": "x"});
    fake["rp"] = json!({"id": "example.com", "name": "Example"});
    let (registration, _) = browser().create(&fake, Key::es256());
    assert_eq!(code(s.webauthn().register(&bob, &registration, &Value::Null)), ErrorCode::InvalidWebAuthnChallenge);
    let response = browser().get(&request, &mut cred);
    assert_eq!(s.login_with_service("webauthn", &json!({"response": response}), &no_info()).unwrap().user.id, bob);
    assert_eq!(s.webauthn().list_passkeys(&bob).unwrap().len(), 1);
}
