//! accounts-js's `tokenSecret: {publicKey, privateKey}` with RS256, ES256 and EdDSA: sessions work,
//! refresh rotation (which re-derives successors, so signatures must be deterministic) keeps one
//! lineage, other services verify with the public key alone, and key/algorithm mix-ups are refused.
mod common;
use accounts_core::*;
use common::*;
use serde_json::{Value, json};

fn pem(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn pair(kind: &str) -> Value {
    json!({"publicKey": pem(&format!("{kind}.pub.pem")), "privateKey": pem(&format!("{kind}.pem"))})
}

fn server(kind: &str, algorithm: &str) -> (AccountsServer, std::sync::Arc<ManualClock>) {
    let mut cfg = json!({
        "db": "sqlite::memory:", "tokenSecret": pair(kind),
        "tokenConfigs": {"accessToken": {"algorithm": algorithm}},
        "services": {"password": {"hashing": {"memoryKib": 256, "iterations": 1, "parallelism": 1}}}
    });
    cfg["tokenSecret"] = pair(kind);
    let clock = std::sync::Arc::new(ManualClock::new(1_800_000_000_000));
    (AccountsServer::with_clock(Config::from_value(cfg).unwrap(), Callbacks::default(), clock.clone()).unwrap(), clock)
}

#[test]
fn asymmetric_algorithms_sign_sessions_verifiable_with_the_public_key() {
    for (kind, algorithm, jwt_alg) in [
        ("rsa", "RS256", jsonwebtoken::Algorithm::RS256),
        ("ec", "ES256", jsonwebtoken::Algorithm::ES256),
        ("ed", "EdDSA", jsonwebtoken::Algorithm::EdDSA),
    ] {
        let (s, clock) = server(kind, algorithm);
        let (id, login) = alice(&s);
        assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().id, id, "{algorithm}");
        // Two refreshes of one token inside the grace window get the same successor (deterministic signatures).
        let a = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
        clock.advance_secs(1);
        let b = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
        assert_eq!(a.tokens.refresh_token, b.tokens.refresh_token, "{algorithm}: one lineage");
        // Another service verifies with the public key alone.
        let public = pem(&format!("{kind}.pub.pem"));
        let key = match kind {
            "rsa" => jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()),
            "ec" => jsonwebtoken::DecodingKey::from_ec_pem(public.as_bytes()),
            _ => jsonwebtoken::DecodingKey::from_ed_pem(public.as_bytes()),
        }
        .unwrap();
        let mut v = jsonwebtoken::Validation::new(jwt_alg);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let d = jsonwebtoken::decode::<Value>(&a.tokens.access_token, &key, &v).unwrap();
        assert_eq!(d.claims["data"]["userId"], json!(id), "{algorithm}");
        // The private key never shows in options.
        let shown = serde_json::to_string(s.options()).unwrap();
        assert!(shown.contains("[redacted]") && !shown.contains("PRIVATE KEY"), "{algorithm}");
        assert!(shown.contains("PUBLIC KEY"), "the public key may be shown");
    }
}

#[test]
fn keys_and_algorithms_that_do_not_match_are_refused() {
    let config = |secret: Value, algorithm: &str| {
        Config::from_value(json!({"db": "sqlite::memory:", "tokenSecret": secret, "tokenConfigs": {"accessToken": {"algorithm": algorithm}}}))
            .and_then(|c| AccountsServer::new(c, Callbacks::default()))
    };
    for (secret, algorithm) in [
        (pair("rsa"), "HS256"),   // a key pair with an HMAC algorithm
        (json!(SECRET), "RS256"), // a shared secret with an asymmetric one
        (pair("ec"), "RS256"),    // an EC key for RSA
        (pair("rsa"), "EdDSA"),   // an RSA key for EdDSA
        (pair("rsa"), "PS256"),   // randomized signatures are not offered
        (json!({"publicKey": "nope", "privateKey": "nope"}), "ES256"),
    ] {
        assert_eq!(config(secret, algorithm).err().unwrap().code, ErrorCode::InvalidConfig, "{algorithm}");
    }
    // A token signed by one key pair does not verify under another, nor as HS256 with the public key.
    let (rsa, _) = server("rsa", "RS256");
    let (ec, _) = server("ec", "ES256");
    let (_, login) = alice(&rsa);
    assert_eq!(code(ec.resume_session(&login.tokens.access_token)), ErrorCode::TokenVerificationFailed);
    let payload = claims(&login.tokens.access_token);
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &payload,
        &jsonwebtoken::EncodingKey::from_secret(pem("rsa.pub.pem").as_bytes()),
    )
    .unwrap();
    assert_eq!(code(rsa.resume_session(&forged)), ErrorCode::TokenVerificationFailed, "HS/RS confusion with the public key");
}

#[test]
fn with_a_sealing_secret_the_jwt_key_can_change_without_turning_two_factor_off() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("a.db").display());
    let clock = std::sync::Arc::new(ManualClock::new(1_800_000_000_000));
    let open = |token_secret: &str, sealing: Option<&str>| {
        let mut cfg = json!({"db": db, "tokenSecret": token_secret,
            "services": {"password": {"hashing": {"memoryKib": 256, "iterations": 1, "parallelism": 1}}}});
        if let Some(s) = sealing {
            cfg["sealingSecret"] = json!(s);
        }
        AccountsServer::with_clock(Config::from_value(cfg).unwrap(), Callbacks::default(), clock.clone()).unwrap()
    };
    let sealing = "sealing-secret-0123456789abcdef-0123456789";
    let first = open(SECRET, Some(sealing));
    let (id, _) = alice(&first);
    let secret = first.password().two_factor().get_new_auth_secret().unwrap();
    let now = || (clock.now_ms() / 1000) as u64;
    first.password().two_factor().set(&id, &secret.base32, &totp_code(&secret.base32, now())).unwrap();
    assert!(!serde_json::to_string(first.options()).unwrap().contains(sealing), "redacted");
    drop(first);
    clock.advance_secs(30);
    let params = |c: String| json!({"user": "alice", "password": "correct horse", "code": c});
    // A new JWT key, the same sealing secret: two-factor still works.
    let rotated = open("a-brand-new-token-secret-0123456789abcdef", Some(sealing));
    rotated.login_with_service("password", &params(totp_code(&secret.base32, now())), &no_info()).unwrap();
    drop(rotated);
    clock.advance_secs(30);
    // Without it, the key derives from tokenSecret: changing that leaves the secret sealed for good.
    let without = open("a-brand-new-token-secret-0123456789abcdef", None);
    assert_eq!(code(without.login_with_service("password", &params(totp_code(&secret.base32, now())), &no_info())), ErrorCode::InternalError);
    assert_eq!(
        Config::from_value(json!({"db": "sqlite::memory:", "tokenSecret": SECRET, "sealingSecret": "short"})).err().unwrap().code,
        ErrorCode::InvalidConfig
    );
}

/// As [`server`], on the system clock (`verify_access_token` checks `exp` against real time).
fn live_server(kind: &str, algorithm: &str) -> AccountsServer {
    let cfg = json!({
        "db": "sqlite::memory:", "tokenSecret": pair(kind),
        "tokenConfigs": {"accessToken": {"algorithm": algorithm}},
        "services": {"password": {"hashing": {"memoryKib": 256, "iterations": 1, "parallelism": 1}}}
    });
    AccountsServer::new(Config::from_value(cfg).unwrap(), Callbacks::default()).unwrap()
}

#[test]
fn other_services_verify_tokens_from_the_jwks_without_a_database() {
    for (kind, algorithm) in [("rsa", "RS256"), ("ec", "ES256"), ("ed", "EdDSA")] {
        let s = live_server(kind, algorithm);
        let (id, login) = alice(&s);
        let jwks = s.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1, "{algorithm}");
        assert_eq!((keys[0]["alg"].as_str(), keys[0]["use"].as_str()), (Some(algorithm), Some("sig")));
        assert!(!jwks.to_string().contains("\"d\""), "{algorithm}: no private component");
        let kid = keys[0]["kid"].as_str().unwrap().to_string();
        // The tokens name the key.
        let header: Value = {
            use base64::Engine;
            let part = login.tokens.access_token.split('.').next().unwrap();
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
        };
        assert_eq!(header["kid"].as_str(), Some(kid.as_str()));
        let by_jwks = VerifyOptions { jwks: Some(jwks.clone()), ..Default::default() };
        let claims = verify_access_token(&login.tokens.access_token, &by_jwks).unwrap();
        assert_eq!(claims["data"]["userId"], json!(id), "{algorithm}");
        let by_pem = VerifyOptions { public_key: Some(pem(&format!("{kind}.pub.pem"))), algorithm: Some(algorithm.into()), ..Default::default() };
        verify_access_token(&login.tokens.access_token, &by_pem).unwrap();
        // Refused: a refresh token, a tampered token, another key's JWKS, a wrong audience.
        assert_eq!(code(verify_access_token(&login.tokens.refresh_token, &by_jwks)), ErrorCode::TokenVerificationFailed);
        let mut parts: Vec<String> = login.tokens.access_token.split('.').map(String::from).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert_eq!(code(verify_access_token(&parts.join("."), &by_jwks)), ErrorCode::TokenVerificationFailed);
        let other = if kind == "ec" { live_server("ed", "EdDSA") } else { live_server("ec", "ES256") };
        let foreign = VerifyOptions { jwks: Some(other.jwks()), ..Default::default() };
        assert_eq!(code(verify_access_token(&login.tokens.access_token, &foreign)), ErrorCode::TokenVerificationFailed, "{algorithm}");
        let with_aud = VerifyOptions { audience: Some("api".into()), ..by_jwks.clone() };
        assert_eq!(code(verify_access_token(&login.tokens.access_token, &with_aud)), ErrorCode::TokenVerificationFailed);
    }
    // HMAC: nothing is published; a service with the shared secret verifies with it.
    let s = memory();
    assert_eq!(s.jwks(), json!({"keys": []}));
    let (_, login) = alice(&s);
    let by_secret = VerifyOptions { secret: Some(SECRET.into()), algorithm: Some("HS256".into()), ..Default::default() };
    verify_access_token(&login.tokens.access_token, &by_secret).unwrap();
    // The algorithm is the key's: an HS256 token forged with the RSA public key as its secret fails.
    let rsa = live_server("rsa", "RS256");
    let (_, login) = alice(&rsa);
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(&login.tokens.access_token),
        &jsonwebtoken::EncodingKey::from_secret(pem("rsa.pub.pem").as_bytes()),
    )
    .unwrap();
    let by_jwks = VerifyOptions { jwks: Some(rsa.jwks()), ..Default::default() };
    assert_eq!(code(verify_access_token(&forged, &by_jwks)), ErrorCode::TokenVerificationFailed);
    assert_eq!(code(verify_access_token("", &by_jwks)), ErrorCode::InvalidToken);
    assert_eq!(code(verify_access_token(&login.tokens.access_token, &VerifyOptions::default())), ErrorCode::InvalidArgument);
}
