//! The key ring (docs/tokens.md, "Key rotation"): every algorithm signs and verifies by `kid`, each
//! key pinned to its algorithm; rotating twice with live sessions logs nobody out; `set_keys` swaps
//! the ring at run time; the JWKS carries the public keys only; changing the JWT key leaves
//! two-factor working; sealing keys rotate with `resealAll`.
mod common;
use accounts_core::host::*;
use accounts_core::*;
use base64::Engine;
use common::*;
use serde_json::{Value, json};
use std::sync::Arc;

fn pem(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

const SEALING: &str = "key-ring-test-sealing-secret-0123456789";

fn hmac(kid: &str, algorithm: &str, secret: &str) -> Value {
    json!({"kid": kid, "algorithm": algorithm, "secret": secret})
}

fn pair(kid: &str, algorithm: &str, kind: &str) -> Value {
    json!({"kid": kid, "algorithm": algorithm, "privateKey": pem(&format!("{kind}.pem")), "publicKey": pem(&format!("{kind}.pub.pem"))})
}

fn ring(current: &str, keys: &[Value]) -> Value {
    json!({"current": current, "keys": keys})
}

fn server_with(config: Value) -> (AccountsServer, Arc<ManualClock>) {
    let mut base = json!({
        "db": "sqlite::memory:",
        "services": {"password": {"hashing": {"memoryKib": 256, "iterations": 1, "parallelism": 1}}},
        "refreshTokenReuseGraceSeconds": 10,
    });
    for (k, v) in config.as_object().unwrap() {
        base[k] = v.clone();
    }
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    (AccountsServer::with_clock(Config::from_value(base).unwrap(), Callbacks::default(), clock.clone()).unwrap(), clock)
}

fn ringed(keys: Value) -> (AccountsServer, Arc<ManualClock>) {
    server_with(json!({"tokenKeys": keys, "sealingSecret": SEALING}))
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn every_algorithm_signs_with_its_kid_and_verifies() {
    for key in [
        hmac("h256", "HS256", "an-hmac-secret-of-at-least-32-bytes-0001"),
        hmac("h384", "HS384", "an-hmac-secret-of-at-least-32-bytes-0002"),
        hmac("h512", "HS512", "an-hmac-secret-of-at-least-32-bytes-0003"),
        pair("rsa", "RS256", "rsa"),
        pair("ec", "ES256", "ec"),
        pair("ed", "EdDSA", "ed"),
    ] {
        let kid = key["kid"].as_str().unwrap().to_string();
        let (s, _) = ringed(ring(&kid, std::slice::from_ref(&key)));
        let (id, login) = alice(&s);
        let h = header(&login.tokens.access_token);
        assert_eq!((h["kid"].as_str(), h["alg"].as_str()), (Some(kid.as_str()), key["algorithm"].as_str()));
        assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().id, id, "{kid}");
        s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
        let jwks = s.jwks();
        if key.get("secret").is_some() {
            assert_eq!(jwks["keys"].as_array().unwrap().len(), 0, "an HMAC key is never published");
        } else {
            assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
            assert!(jwks["keys"][0].get("d").is_none(), "public only");
            let options = VerifyOptions { jwks: Some(jwks.clone()), ..Default::default() };
            assert_eq!(verify_access_token(&login.tokens.access_token, &options).unwrap()["sub"], id.as_str(), "{kid} verifies elsewhere");
        }
    }
}

#[test]
fn a_kid_picks_its_key_and_the_key_its_algorithm() {
    let a = hmac("a", "HS256", "the-secret-of-key-a-at-least-32-bytes-00");
    let b = hmac("b", "HS256", "the-secret-of-key-b-at-least-32-bytes-00");
    let (s, _) = ringed(ring("a", &[a.clone(), b.clone()]));
    let (_, login) = alice(&s);
    // The same claims under key b's secret but naming kid "a": refused (a's key does not verify it).
    let claims: Value = {
        let part = login.tokens.access_token.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let sign = |kid: Option<&str>, alg: jsonwebtoken::Algorithm, secret: &str| {
        let mut h = jsonwebtoken::Header::new(alg);
        h.kid = kid.map(String::from);
        jsonwebtoken::encode(&h, &claims, &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())).unwrap()
    };
    let b_secret = b["secret"].as_str().unwrap();
    let a_secret = a["secret"].as_str().unwrap();
    assert_eq!(code(s.resume_session(&sign(Some("a"), jsonwebtoken::Algorithm::HS256, b_secret))), ErrorCode::TokenVerificationFailed);
    assert!(s.resume_session(&sign(Some("b"), jsonwebtoken::Algorithm::HS256, b_secret)).is_ok(), "b's own kid verifies");
    assert_eq!(
        code(s.resume_session(&sign(Some("a"), jsonwebtoken::Algorithm::HS512, a_secret))),
        ErrorCode::TokenVerificationFailed,
        "key a is pinned to HS256"
    );
    assert_eq!(code(s.resume_session(&sign(Some("zz"), jsonwebtoken::Algorithm::HS256, a_secret))), ErrorCode::TokenVerificationFailed);
    assert!(s.resume_session(&sign(None, jsonwebtoken::Algorithm::HS256, a_secret)).is_ok(), "no kid: the keys of its algorithm");
}

#[test]
fn rotating_twice_with_live_sessions_logs_nobody_out() {
    let k1 = hmac("k1", "HS256", "the-first-signing-secret-of-32-bytes-000");
    let k2 = pair("k2", "EdDSA", "ed");
    let k3 = pair("k3", "ES256", "ec");
    let (s, clock) = ringed(ring("k1", std::slice::from_ref(&k1)));
    let (id, first) = alice(&s);
    // Rotation 1: add k2 and make it current; k1 stays for verification.
    s.set_keys(&ring("k2", &[k1.clone(), k2.clone()])).unwrap();
    assert_eq!(s.resume_session(&first.tokens.access_token).unwrap().id, id, "a k1 token still verifies");
    clock.advance_secs(60);
    let second = s.refresh_tokens(&first.tokens.access_token, &first.tokens.refresh_token, &no_info()).unwrap();
    assert_eq!(header(&second.tokens.access_token)["kid"], "k2");
    assert_eq!(header(&second.tokens.refresh_token)["kid"], "k2");
    // A concurrent refresh with the same (k1-signed) token inside the grace window gets the same successor.
    let twin = s.refresh_tokens(&first.tokens.access_token, &first.tokens.refresh_token, &no_info()).unwrap();
    assert_eq!(twin.tokens.refresh_token, second.tokens.refresh_token);
    // Rotation 2: k3 current, k1 dropped (its tokens expired in real life), k2 kept.
    clock.advance_secs(60);
    s.set_keys(&ring("k3", &[k2.clone(), k3.clone()])).unwrap();
    assert_eq!(code(s.resume_session(&first.tokens.access_token)), ErrorCode::TokenVerificationFailed, "k1 tokens die with k1");
    let third = s.refresh_tokens(&second.tokens.access_token, &second.tokens.refresh_token, &no_info()).unwrap();
    assert_eq!(header(&third.tokens.access_token)["kid"], "k3");
    assert_eq!(s.resume_session(&third.tokens.access_token).unwrap().id, id);
    assert_eq!(s.list_sessions(&id).unwrap().iter().filter(|x| x.valid).count(), 1, "one session all along");
    let jwks = s.jwks();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["k2", "k3"]);
    // A ring that does not validate changes nothing.
    assert_eq!(code(s.set_keys(&ring("nope", std::slice::from_ref(&k3)))), ErrorCode::InvalidConfig);
    assert_eq!(code(s.set_keys(&json!({"current": "k3"}))), ErrorCode::InvalidConfig);
    assert_eq!(s.resume_session(&third.tokens.access_token).unwrap().id, id);
}

#[test]
fn ring_shapes_are_checked() {
    let base = |keys: Value| Config::from_value(json!({"db": "sqlite::memory:", "tokenKeys": keys, "sealingSecret": SEALING}));
    let bad = [
        ring("a", &[]),
        ring("a", &[hmac("a", "HS256", "short")]),
        ring("a", &[hmac("a", "RS256", "an-hmac-secret-of-at-least-32-bytes-0001")]),
        ring("a", &[hmac("a", "HS256", "an-hmac-secret-of-at-least-32-bytes-0001"), hmac("a", "HS256", "an-hmac-secret-of-at-least-32-bytes-0002")]),
        ring("pub", &[json!({"kid": "pub", "algorithm": "EdDSA", "publicKey": pem("ed.pub.pem")})]),
    ];
    for keys in bad {
        assert_eq!(base(keys.clone()).unwrap_err().code, ErrorCode::InvalidConfig, "{keys}");
    }
    let ok = ring("a", &[hmac("a", "HS256", "an-hmac-secret-of-at-least-32-bytes-0001")]);
    let no_sealing = Config::from_value(json!({"db": "sqlite::memory:", "tokenKeys": ok}));
    assert_eq!(no_sealing.unwrap_err().code, ErrorCode::InvalidConfig, "a ring needs its own sealing secret");
    let both = Config::from_value(json!({"db": "sqlite::memory:", "tokenKeys": ok, "tokenSecret": SECRET, "sealingSecret": SEALING}));
    assert_eq!(both.unwrap_err().code, ErrorCode::InvalidConfig);
    let shown = serde_json::to_string(&base(ok).unwrap()).unwrap();
    assert!(!shown.contains("an-hmac-secret") && !shown.contains(SEALING), "options redact the secrets: {shown}");
}

#[test]
fn a_verify_only_key_from_a_jwk_or_a_pem_verifies_but_never_signs() {
    let ed = pair("old", "EdDSA", "ed");
    let (s, _) = ringed(ring("old", std::slice::from_ref(&ed)));
    let (id, login) = alice(&s);
    let public_jwk = s.jwks()["keys"][0].clone();
    let new = hmac("new", "HS256", "the-new-signing-secret-of-32-bytes-0000");
    for retired in
        [json!({"kid": "old", "algorithm": "EdDSA", "jwk": public_jwk}), json!({"kid": "old", "algorithm": "EdDSA", "publicKey": pem("ed.pub.pem")})]
    {
        s.set_keys(&ring("new", &[new.clone(), retired])).unwrap();
        assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().id, id, "the retired key still verifies");
    }
}

/// A TOTP code for `secret` at the server clock (RFC 6238, SHA-1, 6 digits, 30 s).
fn totp(secret: &str, clock: &ManualClock) -> String {
    totp_code(secret, (clock.now_ms() / 1000) as u64)
}

#[test]
fn changing_the_jwt_key_leaves_two_factor_working_and_sealing_keys_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("ring.db").display());
    let k1 = hmac("k1", "HS256", "the-first-signing-secret-of-32-bytes-000");
    let k2 = hmac("k2", "HS512", "the-second-signing-secret-of-32-bytes-00");
    let open = |keys: Value, sealing: &str, previous: &[&str]| {
        let mut cfg = json!({"db": db, "tokenKeys": keys, "sealingSecret": sealing});
        if !previous.is_empty() {
            cfg["previousSealingSecrets"] = json!(previous);
        }
        server_with(cfg)
    };
    let (s, clock) = open(ring("k1", std::slice::from_ref(&k1)), SEALING, &[]);
    let (id, _) = alice(&s);
    let tf = s.password().two_factor();
    let secret = tf.get_new_auth_secret().unwrap().base32;
    tf.set(&id, &secret, &totp(&secret, &clock)).unwrap();
    drop(s);
    // A new JWT key (k1 gone altogether): two-factor logins still work.
    let (s, clock) = open(ring("k2", std::slice::from_ref(&k2)), SEALING, &[]);
    clock.advance_secs(60);
    let params = json!({"user": "alice", "password": "correct horse", "code": totp(&secret, &clock)});
    s.login_with_service("password", &params, &no_info()).unwrap();
    drop(s);
    // A new sealing secret, the old one kept as previous: secrets still open; resealAll moves them.
    let rotated = "the-rotated-sealing-secret-0123456789abc";
    let (s, clock) = open(ring("k2", std::slice::from_ref(&k2)), rotated, &[SEALING]);
    clock.advance_secs(120);
    let old_doc = store_of(&s).find_service(&id, "two-factor").unwrap().unwrap();
    assert_eq!(s.reseal_all().unwrap(), 1);
    assert_ne!(store_of(&s).find_service(&id, "two-factor").unwrap().unwrap(), old_doc);
    assert_eq!(s.reseal_all().unwrap(), 0, "nothing left under the old key");
    drop(s);
    // Now the old sealing secret can go.
    let (s, clock) = open(ring("k2", &[k2]), rotated, &[]);
    clock.advance_secs(180);
    let params = json!({"user": "alice", "password": "correct horse", "code": totp(&secret, &clock)});
    s.login_with_service("password", &params, &no_info()).unwrap();
}

#[test]
fn a_sealing_secret_added_later_keeps_the_old_derivation_opening() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("legacy.db").display());
    let (s, clock) = server_with(json!({"db": db, "tokenSecret": SECRET}));
    let (id, _) = alice(&s);
    let secret = s.password().two_factor().get_new_auth_secret().unwrap().base32;
    s.password().two_factor().set(&id, &secret, &totp(&secret, &clock)).unwrap();
    drop(s);
    let (s, clock) = server_with(json!({"db": db, "tokenSecret": SECRET, "sealingSecret": SEALING}));
    clock.advance_secs(60);
    let params = json!({"user": "alice", "password": "correct horse", "code": totp(&secret, &clock)});
    s.login_with_service("password", &params, &no_info()).unwrap();
    assert_eq!(s.reseal_all().unwrap(), 0, "the login resealed it under the sealing secret");
}

#[test]
fn a_private_jwk_signs_as_its_pem_twin() {
    for (kind, algorithm) in [("ed", "EdDSA"), ("ec", "ES256"), ("rsa", "RS256")] {
        let jwk: Value = serde_json::from_str(&pem(&format!("{kind}.jwk.json"))).unwrap();
        let (s, _) = ringed(ring("j", &[json!({"kid": "j", "algorithm": algorithm, "jwk": jwk})]));
        let (id, login) = alice(&s);
        assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().id, id, "{algorithm}");
        // The same key: the PEM public key verifies what the JWK signed.
        let options = VerifyOptions { public_key: Some(pem(&format!("{kind}.pub.pem"))), algorithm: Some(algorithm.into()), ..Default::default() };
        assert_eq!(verify_access_token(&login.tokens.access_token, &options).unwrap()["sub"], id.as_str());
        let published = s.jwks();
        assert!(published["keys"][0].get("d").is_none(), "the JWKS carries the public half only");
        let shown = serde_json::to_string(s.options()).unwrap();
        assert!(!shown.contains(jwk["d"].as_str().unwrap()), "options redact the private members");
    }
    // A JWK whose public half does not match its private half is refused.
    let mut bad: Value = serde_json::from_str(&pem("ed.jwk.json")).unwrap();
    bad["x"] = json!("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    let cfg =
        json!({"db": "sqlite::memory:", "tokenKeys": ring("j", &[json!({"kid": "j", "algorithm": "EdDSA", "jwk": bad})]), "sealingSecret": SEALING});
    let err = AccountsServer::new(Config::from_value(cfg).unwrap(), Callbacks::default()).err().map(|e| e.code);
    assert_eq!(err, Some(ErrorCode::InvalidConfig));
}
