mod common;
use accounts_core::host::*;
use accounts_core::*;
use base64::Engine;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[test]
fn jwt_attack_set_is_rejected() {
    let (s, clock) = clocked(json!({}));
    let (_, login) = alice(&s);
    let at = &login.tokens.access_token;
    let payload = claims(at);

    // alg: none, with and without a signature part.
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&payload));
    assert_eq!(code(s.resume_session(&none)), ErrorCode::TokenVerificationFailed);
    assert_eq!(code(s.resume_session(none.trim_end_matches('.'))), ErrorCode::TokenVerificationFailed);
    // Tampered payload with the original signature.
    let mut evil = payload.clone();
    evil["data"]["userId"] = json!("someone-else");
    let parts: Vec<&str> = at.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64(&evil), parts[2]);
    assert_eq!(code(s.resume_session(&tampered)), ErrorCode::TokenVerificationFailed);
    // Right claims, wrong secret.
    let forged =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &payload, &EncodingKey::from_secret(b"another-secret-another-secret-xx")).unwrap();
    assert_eq!(code(s.resume_session(&forged)), ErrorCode::TokenVerificationFailed);
    // Right secret, other HMAC algorithm: the algorithm is pinned.
    let other_alg = jsonwebtoken::encode(&Header::new(Algorithm::HS512), &payload, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
    assert_eq!(code(s.resume_session(&other_alg)), ErrorCode::TokenVerificationFailed);
    // A refresh token is never an access token, and an access token is never a refresh token.
    assert_eq!(code(s.resume_session(&login.tokens.refresh_token)), ErrorCode::TokenVerificationFailed);
    assert_eq!(code(s.logout(&login.tokens.refresh_token)), ErrorCode::TokenVerificationFailed);
    assert_eq!(code(s.refresh_tokens(at, at, &no_info())), ErrorCode::TokenVerificationFailed);
    assert_eq!(code(s.refresh_tokens(&login.tokens.refresh_token, &login.tokens.refresh_token, &no_info())), ErrorCode::TokenVerificationFailed);
    // Garbage and empty.
    assert_eq!(code(s.resume_session("")), ErrorCode::InvalidToken);
    for junk in ["x", "a.b.c", "....", &"A".repeat(100_000)] {
        assert_eq!(code(s.resume_session(junk)), ErrorCode::TokenVerificationFailed);
    }
    // The genuine one still works, until it expires.
    s.resume_session(at).unwrap();
    clock.advance_secs(90 * 60 + 1);
    assert_eq!(code(s.resume_session(at)), ErrorCode::TokenVerificationFailed);
    assert_eq!(code(s.find_session_by_access_token(at)), ErrorCode::TokenVerificationFailed);
    // Logout alone takes a genuine expired token: it always ends the session (docs/security.md).
    s.logout(at).unwrap();
    assert_eq!(code(s.logout(at)), ErrorCode::InvalidSession);
}

#[test]
fn hs256_signs_with_the_raw_secret_so_other_services_can_verify() {
    let s = memory();
    let (id, login) = alice(&s);
    let mut v = jsonwebtoken::Validation::new(Algorithm::HS256);
    v.required_spec_claims.clear();
    let d = jsonwebtoken::decode::<Value>(&login.tokens.access_token, &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()), &v).unwrap();
    assert_eq!(d.claims["data"]["userId"], json!(id));
    assert_eq!(d.header.alg, Algorithm::HS256);
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let s = with(json!({"tokenConfigs": {"accessToken": {"issuer": "me", "audience": "api"}}}), Callbacks::default());
    let (_, login) = alice(&s);
    let c = claims(&login.tokens.access_token);
    assert_eq!((c["iss"].clone(), c["aud"].clone()), (json!("me"), json!("api")));
    s.resume_session(&login.tokens.access_token).unwrap();
    let mut other = c.clone();
    other["aud"] = json!("other-api");
    let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &other, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
    assert_eq!(code(s.resume_session(&t)), ErrorCode::TokenVerificationFailed);
    other["aud"] = json!("api");
    other["iss"] = json!("them");
    let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &other, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
    assert_eq!(code(s.resume_session(&t)), ErrorCode::TokenVerificationFailed);
}

#[test]
fn no_secret_in_any_returned_user() {
    let s = memory();
    let (id, login) = alice(&s);
    let r = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
    let users = vec![
        serde_json::to_string(&login.user).unwrap(),
        serde_json::to_string(&r.user).unwrap(),
        serde_json::to_string(&s.resume_session(&r.tokens.access_token).unwrap()).unwrap(),
        serde_json::to_string(&s.find_user_by_id(&id).unwrap().unwrap()).unwrap(),
        serde_json::to_string(&s.password().find_user_by_email("alice@example.com").unwrap().unwrap()).unwrap(),
        serde_json::to_string(&s.password().authenticate(&json!({"user": "alice", "password": "correct horse"})).unwrap()).unwrap(),
        serde_json::to_string(&s.list_sessions(&id).unwrap()).unwrap(),
    ];
    let hash = store_of(&s).find_password_hash(&id).unwrap().unwrap();
    for u in users {
        for secret in ["correct horse", "$argon2", hash.as_str(), "password", "services", "hash", "digest", &r.tokens.refresh_token] {
            assert!(!u.contains(secret), "{secret:?} leaked in {u}");
        }
    }
}

#[test]
fn no_plaintext_token_or_password_in_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let (s, path) = file(&dir, json!({}));
    let (_, login) = alice(&s);
    let r = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
    drop(s); // checkpoints the WAL into the main file
    let mut bytes = std::fs::read(&path).unwrap();
    for suffix in ["-wal", "-shm"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", path.display())) {
            bytes.extend(b);
        }
    }
    let hay = String::from_utf8_lossy(&bytes);
    assert!(hay.contains("alice@example.com"), "sanity: the scan sees real rows");
    for t in [&login.tokens.access_token, &login.tokens.refresh_token, &r.tokens.access_token, &r.tokens.refresh_token] {
        let sig = t.rsplit('.').next().unwrap();
        assert!(!hay.contains(t.as_str()) && !hay.contains(sig), "token stored in plaintext");
    }
    assert!(!hay.contains("correct horse"));
}

#[test]
fn short_or_missing_secret_is_refused() {
    let e = AccountsServer::from_json(r#"{"db":"sqlite::memory:","tokenSecret":"too-short"}"#, Callbacks::default()).err().unwrap();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    let e = AccountsServer::from_json(r#"{"db":"sqlite::memory:"}"#, Callbacks::default()).err().unwrap();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    let e = AccountsServer::from_json(&format!(r#"{{"db":"mysql://x","tokenSecret":"{SECRET}"}}"#), Callbacks::default()).err().unwrap();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
}
