//! OpenID Connect logins against a provider on 127.0.0.1 (docs/oauth.md, "OpenID Connect"): the
//! authorization-code flow with PKCE, `state` and `nonce`, and the attacks on it. This provider is
//! a minimal one written for the test, so it can mint the broken ID tokens a real one never would;
//! the language suites run the same flow against the certified `oidc-provider` (tests/oidc).
mod common;
use accounts_core::host::*;
use accounts_core::*;
use base64::Engine;
use common::*;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "accounts-rs-test";
const CLIENT_SECRET: &str = "client secret: with & odd=chars";
const REDIRECT: &str = "https://app.example/auth/callback";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the test has the provider put in (or do to) the ID token of one code.
#[derive(Clone, Default)]
struct Grant {
    nonce: String,
    challenge: String,
    claims: Map<String, Value>,
    /// "rs256" (default), "hs256-with-public-key", "none", "unknown-kid"
    signing: &'static str,
    /// What the UserInfo endpoint answers for this grant's access token (default: its ID token's
    /// subject and address claims).
    userinfo: Option<Value>,
}

#[derive(Default)]
struct Provider {
    grants: HashMap<String, Grant>,
    token_requests: Vec<HashMap<String, String>>,
    basic_auth: Vec<String>,
    jwks_fetches: usize,
    /// UserInfo answers by access token.
    userinfo: HashMap<String, Value>,
    userinfo_requests: usize,
    /// Discovery says `authorization_response_iss_parameter_supported` (RFC 9207).
    iss_supported: bool,
    /// Discovery names this issuer instead of the real one.
    discovery_issuer: Option<String>,
}

struct FakeOp {
    issuer: String,
    state: Arc<Mutex<Provider>>,
}

fn public_jwk() -> Value {
    let private: Value = serde_json::from_str(include_str!("keys/rsa.jwk.json")).unwrap();
    json!({"kty": "RSA", "n": private["n"], "e": private["e"], "kid": "k1", "alg": "RS256", "use": "sig"})
}

fn id_token_claims(issuer: &str, grant: &Grant) -> Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut claims = json!({
        "iss": issuer, "aud": CLIENT_ID, "sub": "user-1", "iat": now, "exp": now + 300, "nonce": grant.nonce,
        "email": "Person@Example.com", "email_verified": true, "name": "Person One",
    });
    for (k, v) in &grant.claims {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn mint(issuer: &str, grant: &Grant) -> String {
    let claims = id_token_claims(issuer, grant);
    let rsa = jsonwebtoken::EncodingKey::from_rsa_pem(include_bytes!("keys/rsa.pem")).unwrap();
    match grant.signing {
        "hs256-with-public-key" => {
            // The classic swap: an HMAC keyed with the provider's public key.
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            header.kid = Some("k1".into());
            jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(include_bytes!("keys/rsa.pub.pem"))).unwrap()
        }
        "none" => format!("{}.{}.", b64(br#"{"alg":"none","kid":"k1"}"#), b64(claims.to_string().as_bytes())),
        "unknown-kid" => {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
            header.kid = Some("k-rotated-away".into());
            jsonwebtoken::encode(&header, &claims, &rsa).unwrap()
        }
        _ => {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
            header.kid = Some("k1".into());
            jsonwebtoken::encode(&header, &claims, &rsa).unwrap()
        }
    }
}

fn respond(stream: &mut std::net::TcpStream, status: u16, body: &Value) {
    let text = body.to_string();
    let _ =
        write!(stream, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len());
}

impl FakeOp {
    fn start() -> FakeOp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(Provider::default()));
        let (issuer2, state2) = (issuer.clone(), state.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let (mut length, mut auth) = (0usize, String::new());
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap();
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap(),
                        "authorization" => auth = value.trim().to_string(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let path = request_line.split_whitespace().nth(1).unwrap_or("");
                let mut op = state2.lock().unwrap();
                match path {
                    "/.well-known/openid-configuration" => respond(
                        &mut stream,
                        200,
                        &json!({"issuer": op.discovery_issuer.clone().unwrap_or(issuer2.clone()), "authorization_endpoint": format!("{issuer2}/auth"),
                                "token_endpoint": format!("{issuer2}/token"), "jwks_uri": format!("{issuer2}/jwks"),
                                "userinfo_endpoint": format!("{issuer2}/userinfo"),
                                "authorization_response_iss_parameter_supported": op.iss_supported}),
                    ),
                    "/userinfo" => {
                        op.userinfo_requests += 1;
                        match op.userinfo.get(auth.strip_prefix("Bearer ").unwrap_or("")) {
                            Some(claims) => respond(&mut stream, 200, &claims.clone()),
                            None => respond(&mut stream, 401, &json!({"error": "invalid_token"})),
                        }
                    }
                    "/jwks" => {
                        op.jwks_fetches += 1;
                        respond(&mut stream, 200, &json!({"keys": [public_jwk()]}))
                    }
                    "/token" => {
                        let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
                        op.token_requests.push(form.clone());
                        op.basic_auth.push(auth);
                        let grant = op.grants.remove(form.get("code").map(String::as_str).unwrap_or(""));
                        // PKCE: the verifier must hash to the challenge of the authorization request.
                        let pkce_ok = |g: &Grant| form.get("code_verifier").is_some_and(|v| b64(&Sha256::digest(v.as_bytes())) == g.challenge);
                        match grant {
                            Some(g) if pkce_ok(&g) => {
                                let token = mint(&issuer2, &g);
                                let code = form["code"].clone();
                                let userinfo = g.userinfo.clone().unwrap_or_else(|| {
                                    let c = id_token_claims(&issuer2, &g);
                                    let keep = ["sub", "email", "email_verified", "name"];
                                    Value::Object(
                                        c.as_object()
                                            .unwrap()
                                            .iter()
                                            .filter(|(k, _)| keep.contains(&k.as_str()))
                                            .map(|(k, v)| (k.clone(), v.clone()))
                                            .collect(),
                                    )
                                });
                                op.userinfo.insert(format!("provider-access-{code}"), userinfo);
                                respond(
                                    &mut stream,
                                    200,
                                    &json!({"access_token": format!("provider-access-{code}"), "refresh_token": format!("provider-refresh-{code}"),
                                            "expires_in": 3600, "token_type": "Bearer", "id_token": token}),
                                )
                            }
                            _ => respond(&mut stream, 400, &json!({"error": "invalid_grant"})),
                        }
                    }
                    _ => respond(&mut stream, 404, &json!({"error": "not_found"})),
                }
            }
        });
        FakeOp { issuer, state }
    }

    fn provider_config(&self, client_id: &str) -> Value {
        json!({"type": "oidc", "issuer": self.issuer, "clientId": client_id, "clientSecret": CLIENT_SECRET, "redirectUri": REDIRECT})
    }

    /// The user consents: the provider issues `code` for the authorization request in `url`.
    fn authorize(&self, url: &str, code: &str, claims: Value, signing: &'static str) {
        self.authorize_with_userinfo(url, code, claims, signing, None);
    }

    /// As `authorize`, with what the UserInfo endpoint answers for the grant's access token.
    fn authorize_with_userinfo(&self, url: &str, code: &str, claims: Value, signing: &'static str, userinfo: Option<Value>) {
        let query: HashMap<String, String> = form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
        let grant = Grant {
            nonce: query["nonce"].clone(),
            challenge: query["code_challenge"].clone(),
            claims: claims.as_object().cloned().unwrap_or_default(),
            signing,
            userinfo,
        };
        self.state.lock().unwrap().grants.insert(code.to_string(), grant);
    }
}

struct Setup {
    op: FakeOp,
    server: AccountsServer,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
}

fn setup() -> Setup {
    setup_with(json!({}))
}

/// `setup`, with `corp`'s config extended by `corp_extra`.
fn setup_with(corp_extra: Value) -> Setup {
    let op = FakeOp::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("oidc.db");
    let clock = Arc::new(ManualClock::new(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64));
    let mut corp = op.provider_config(CLIENT_ID);
    corp["storeTokens"] = json!(true);
    for (k, v) in corp_extra.as_object().unwrap() {
        corp[k] = v.clone();
    }
    let extra = json!({"services": {"oauth": {"providers": {"corp": corp, "other": op.provider_config("other-client")}}}});
    let server = AccountsServer::with_clock(config(&format!("sqlite:{}", db.display()), extra), Callbacks::default(), clock.clone()).unwrap();
    Setup { op, server, clock, _dir: dir, db }
}

fn start(s: &Setup, provider: &str) -> (String, String) {
    let request = s.server.oauth().authorization_url(provider, &json!({}), &no_info()).unwrap();
    (request.url, request.state)
}

fn finish(s: &Setup, state: &str, code: &str) -> Result<LoginResult> {
    s.server.login_with_service("oauth", &json!({"provider": "corp", "code": code, "state": state}), &no_info())
}

#[test]
fn the_authorization_code_flow_with_pkce_logs_in() {
    let s = setup();
    let (url, state) = start(&s, "corp");
    let query: HashMap<String, String> = form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
    assert!(url.starts_with(&format!("{}/auth?", s.op.issuer)));
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], REDIRECT);
    assert_eq!(query["scope"], "openid email profile");
    assert_eq!(query["state"], state);
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["nonce"].len() >= 32 && state.len() >= 32);

    // Nothing that opens the flow is stored as it is: the state and nonce as digests, the verifier sealed.
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let row: Vec<String> = conn
        .query_row("SELECT digest, verifier, nonce_digest, provider FROM oauth_flows", [], |r| Ok(vec![r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))
        .unwrap();
    assert!(row.iter().all(|v| !v.contains(&state) && !v.contains(&query["nonce"])));
    assert_eq!(row[3], "corp");

    s.op.authorize(&url, "code-1", json!({}), "rs256");
    let login = finish(&s, &state, "code-1").unwrap();
    assert_eq!(login.user.emails.len(), 1);
    assert_eq!((login.user.emails[0].address.as_str(), login.user.emails[0].verified), ("person@example.com", true));
    assert_eq!(login.user.profile["name"], "Person One");
    assert_eq!(s.server.resume_session(&login.tokens.access_token).unwrap().id, login.user.id);
    let linked = s.server.oauth().list_linked_accounts(&login.user.id).unwrap();
    assert_eq!((linked[0].provider.as_str(), linked[0].id.as_str()), ("corp", "user-1"));

    // The token request carried the code, the redirect URI, the verifier, and the client's credentials.
    let op = s.op.state.lock().unwrap();
    let form = &op.token_requests[0];
    assert_eq!((form["grant_type"].as_str(), form["code"].as_str(), form["redirect_uri"].as_str()), ("authorization_code", "code-1", REDIRECT));
    let encode = |t: &str| form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", encode(CLIENT_ID), encode(CLIENT_SECRET)));
    assert_eq!(op.basic_auth[0], format!("Basic {basic}"));
    assert!(!form.contains_key("client_secret"));
    drop(op);

    // storeTokens: the provider's tokens are kept, sealed, and given back by providerTokens.
    let tokens = s.server.oauth().provider_tokens(&login.user.id, "corp").unwrap().unwrap();
    assert_eq!((tokens.access_token.as_str(), tokens.refresh_token.as_deref()), ("provider-access-code-1", Some("provider-refresh-code-1")));
    assert!(tokens.expires_at.unwrap() > s.clock.now_ms());
    let stored: String = conn.query_row("SELECT tokens FROM linked_accounts", [], |r| r.get(0)).unwrap();
    assert!(!stored.contains("provider-"), "sealed at rest");

    // The same identity logs in to the same account through a new authorization; its tokens are the new ones.
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "code-2", json!({}), "rs256");
    assert_eq!(finish(&s, &state, "code-2").unwrap().user.id, login.user.id);
    assert_eq!(s.op.state.lock().unwrap().jwks_fetches, 1, "the keys are cached");
    let tokens = s.server.oauth().provider_tokens(&login.user.id, "corp").unwrap().unwrap();
    assert_eq!(tokens.access_token, "provider-access-code-2");
    assert_eq!(code(s.server.oauth().provider_tokens(&login.user.id, "other")), ErrorCode::LinkedAccountNotFound);
}

#[test]
fn a_state_works_once_for_its_provider_and_not_after_it_expires() {
    let s = setup();
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "code-1", json!({}), "rs256");
    finish(&s, &state, "code-1").unwrap();
    // Replayed.
    s.op.authorize(&url, "code-2", json!({}), "rs256");
    assert_eq!(code(finish(&s, &state, "code-2")), ErrorCode::InvalidAuthorizationState);
    // Missing, empty, or never issued.
    let without = s.server.login_with_service("oauth", &json!({"provider": "corp", "code": "code-2"}), &no_info());
    assert_eq!(code(without), ErrorCode::InvalidAuthorizationState);
    assert_eq!(code(finish(&s, "", "code-2")), ErrorCode::InvalidAuthorizationState);
    assert_eq!(code(finish(&s, &"0".repeat(64), "code-2")), ErrorCode::InvalidAuthorizationState);
    // Issued for another provider (another client at the same issuer).
    let (other_url, other_state) = start(&s, "other");
    s.op.authorize(&other_url, "code-3", json!({"aud": "other-client"}), "rs256");
    assert_eq!(code(finish(&s, &other_state, "code-3")), ErrorCode::InvalidAuthorizationState);
    // Expired: flowExpiration is 10 minutes.
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "code-4", json!({}), "rs256");
    s.clock.advance_secs(10 * 60 + 1);
    assert_eq!(code(finish(&s, &state, "code-4")), ErrorCode::InvalidAuthorizationState);
    // None of these reached the token endpoint.
    assert_eq!(s.op.state.lock().unwrap().token_requests.len(), 1);
    // An abandoned authorization is purged with the expired tokens.
    start(&s, "corp");
    s.clock.advance_secs(11 * 60);
    assert!(s.server.purge_expired().unwrap().tokens >= 1);
}

#[test]
fn forged_or_misdirected_id_tokens_are_refused() {
    let s = setup();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let cases: Vec<(&str, Value, &'static str)> = vec![
        ("another nonce", json!({"nonce": "not-the-one-sent"}), "rs256"),
        ("no nonce", json!({"nonce": null}), "rs256"),
        ("another audience", json!({"aud": "someone-else"}), "rs256"),
        ("several audiences, another azp", json!({"aud": [CLIENT_ID, "someone-else"], "azp": "someone-else"}), "rs256"),
        ("expired", json!({"exp": now - 120, "iat": now - 420}), "rs256"),
        ("issued in the future", json!({"iat": now + 120, "exp": now + 600}), "rs256"),
        ("no expiry", json!({"exp": null}), "rs256"),
        ("another issuer", json!({"iss": "https://evil.example"}), "rs256"),
        ("alg swapped to HS256 keyed with the public key", json!({}), "hs256-with-public-key"),
        ("alg none", json!({}), "none"),
        ("a key the provider does not publish", json!({}), "unknown-kid"),
        ("no subject", json!({"sub": null}), "rs256"),
        ("not valid before a time beyond the skew", json!({"nbf": now + 120}), "rs256"),
    ];
    for (i, (what, claims, signing)) in cases.into_iter().enumerate() {
        let (url, state) = start(&s, "corp");
        let code_name = format!("code-{i}");
        s.op.authorize(&url, &code_name, claims, signing);
        assert_eq!(code(finish(&s, &state, &code_name)), ErrorCode::InvalidIdToken, "{what}");
    }
    assert_eq!(s.server.password().find_user_by_email("person@example.com").unwrap(), None, "nobody was created");
    // An unknown kid fetches the keys again, but not on every forged token.
    assert!(s.op.state.lock().unwrap().jwks_fetches <= 2);
}

#[test]
fn provider_refusals_and_unverified_addresses() {
    let s = setup();
    // The code is unknown to the provider (or used): its OAuth error comes back in the details.
    let (_, state) = start(&s, "corp");
    let e = finish(&s, &state, "never-issued").unwrap_err();
    assert_eq!((e.code, e.details), (ErrorCode::ProviderError, Some(json!({"error": "invalid_grant"}))));
    // The user declined at the provider.
    let (_, state) = start(&s, "corp");
    let declined = s.server.login_with_service("oauth", &json!({"provider": "corp", "error": "access_denied", "state": state}), &no_info());
    assert_eq!(code(declined), ErrorCode::ProviderError);
    // A provider account whose address is unverified cannot take over the local account holding it.
    let alice = s.server.password().create_user(&json!({"username": "alice", "password": "correct horse"})).unwrap();
    s.server.password().add_email(&alice, "person@example.com", true).unwrap();
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "unverified", json!({"email_verified": false, "sub": "mallory"}), "rs256");
    let mallory = finish(&s, &state, "unverified").unwrap().user;
    assert!(mallory.id != alice && mallory.emails.is_empty(), "an account of its own, without the address");
    // Verified on both sides (some providers send the claim as a string): linked to alice.
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "verified", json!({"email_verified": "true"}), "rs256");
    assert_eq!(finish(&s, &state, "verified").unwrap().user.id, alice);
}

#[test]
fn oidc_configuration_is_checked() {
    let bad = |provider: Value| {
        let cfg = json!({"tokenSecret": SECRET, "db": "sqlite::memory:", "services": {"oauth": {"providers": {"p": provider}}}});
        code(Config::from_value(cfg))
    };
    let base = json!({"type": "oidc", "issuer": "https://id.example", "clientId": "c", "redirectUri": "https://app/cb"});
    let with = |k: &str, v: Value| {
        let mut p = base.clone();
        p[k] = v;
        p
    };
    assert!(Config::from_value(json!({"tokenSecret": SECRET, "db": "sqlite::memory:", "services": {"oauth": {"providers": {"p": base}}}})).is_ok());
    assert_eq!(bad(with("issuer", json!("http://id.example"))), ErrorCode::InvalidConfig, "plain http off loopback");
    assert_eq!(bad(with("algorithms", json!(["HS256"]))), ErrorCode::InvalidConfig, "a shared-secret algorithm");
    assert_eq!(bad(with("algorithms", json!([]))), ErrorCode::InvalidConfig);
    assert_eq!(bad(with("clientId", json!(""))), ErrorCode::InvalidConfig);
    // A host provider has no authorization URL of ours; an unknown provider is named as such.
    let s = setup();
    let host = with_host();
    assert_eq!(code(host.oauth().authorization_url("github", &json!({}), &no_info())), ErrorCode::InvalidArgument);
    assert_eq!(code(s.server.oauth().authorization_url("nope", &json!({}), &no_info())), ErrorCode::ProviderNotFound);
    assert_eq!(code(s.server.oauth().authorization_url("corp", &json!({"loginHint": 3}), &no_info())), ErrorCode::InvalidArgument);
    let hinted = s.server.oauth().authorization_url("corp", &json!({"loginHint": "a@b.example", "prompt": "login"}), &no_info()).unwrap();
    assert!(hinted.url.contains("login_hint=a%40b.example") && hinted.url.contains("prompt=login"));
}

#[test]
fn an_id_token_not_valid_yet_is_refused_with_the_iat_skew() {
    let s = setup();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "early", json!({"nbf": now + 30 + 60}), "rs256");
    assert_eq!(code(finish(&s, &state, "early")), ErrorCode::InvalidIdToken);
    // Within the skew tolerated on iat: accepted.
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "skewed", json!({"nbf": now + 10}), "rs256");
    assert_eq!(finish(&s, &state, "skewed").unwrap().user.emails[0].address, "person@example.com");
}

#[test]
fn claims_come_from_userinfo_when_the_id_token_has_no_email() {
    let s = setup();
    // oidc-provider's default placement: the ID token carries `sub` only.
    let (url, state) = start(&s, "corp");
    let userinfo = json!({"sub": "user-1", "email": "Info@Example.com", "email_verified": true, "name": "From UserInfo"});
    s.op.authorize_with_userinfo(&url, "code-1", json!({"email": null, "email_verified": null, "name": null}), "rs256", Some(userinfo));
    let login = finish(&s, &state, "code-1").unwrap();
    assert_eq!((login.user.emails[0].address.as_str(), login.user.emails[0].verified), ("info@example.com", true));
    assert_eq!(login.user.profile["name"], "From UserInfo");
    assert_eq!(s.op.state.lock().unwrap().userinfo_requests, 1);
    // The address in the ID token: no UserInfo request.
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "code-2", json!({"sub": "user-2", "email": "two@example.com"}), "rs256");
    assert_eq!(finish(&s, &state, "code-2").unwrap().user.emails[0].address, "two@example.com");
    assert_eq!(s.op.state.lock().unwrap().userinfo_requests, 1);
    // Verification comes with the address it is about, never from the ID token for UserInfo's address.
    let (url, state) = start(&s, "corp");
    let userinfo = json!({"sub": "user-3", "email": "three@example.com"});
    s.op.authorize_with_userinfo(&url, "code-3", json!({"sub": "user-3", "email": null, "email_verified": true}), "rs256", Some(userinfo));
    let three = finish(&s, &state, "code-3").unwrap();
    // UserInfo did not say it verified three@: the address goes on no account (docs/oauth.md, "Linking").
    assert!(three.user.emails.is_empty());
    assert_eq!(s.server.password().find_user_by_email("three@example.com").unwrap(), None);
}

#[test]
fn a_userinfo_answer_about_another_subject_is_refused() {
    let s = setup();
    let (url, state) = start(&s, "corp");
    let userinfo = json!({"sub": "someone-else", "email": "victim@example.com", "email_verified": true});
    s.op.authorize_with_userinfo(&url, "code-1", json!({"email": null}), "rs256", Some(userinfo));
    let e = finish(&s, &state, "code-1").unwrap_err();
    assert_eq!((e.code, e.details), (ErrorCode::ProviderError, Some(json!({"error": "userinfo_subject_mismatch"}))));
    assert_eq!(s.server.password().find_user_by_email("victim@example.com").unwrap(), None, "nobody was created");
}

#[test]
fn a_provider_configured_with_userinfo_reads_it_even_with_an_email_in_the_id_token() {
    let s = setup_with(json!({"userinfo": true}));
    let (url, state) = start(&s, "corp");
    let userinfo = json!({"sub": "user-1", "email": "current@example.com", "email_verified": true, "name": "Current"});
    s.op.authorize_with_userinfo(&url, "code-1", json!({}), "rs256", Some(userinfo));
    let login = finish(&s, &state, "code-1").unwrap();
    assert_eq!(login.user.emails[0].address, "current@example.com");
    assert_eq!(login.user.profile["name"], "Current");
}

#[test]
fn the_iss_of_the_authorization_response_is_checked_rfc_9207() {
    let s = setup();
    let with_iss = |state: &str, code: &str, iss: Option<&str>| {
        let mut params = json!({"provider": "corp", "code": code, "state": state});
        if let Some(iss) = iss {
            params["iss"] = json!(iss);
        }
        s.server.login_with_service("oauth", &params, &no_info())
    };
    // A mix-up: the response names another issuer. The code is never sent anywhere.
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "code-1", json!({}), "rs256");
    assert_eq!(code(with_iss(&state, "code-1", Some("https://evil.example"))), ErrorCode::InvalidAuthorizationState);
    assert_eq!(s.op.state.lock().unwrap().token_requests.len(), 0);
    assert_eq!(code(with_iss(&state, "code-1", Some(&s.op.issuer))), ErrorCode::InvalidAuthorizationState, "that flow is over");
    // The right issuer, or none from a provider that does not promise it: accepted.
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "code-2", json!({}), "rs256");
    with_iss(&state, "code-2", Some(&s.op.issuer)).unwrap();
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "code-3", json!({}), "rs256");
    with_iss(&state, "code-3", None).unwrap();

    // A provider whose discovery promises iss: a response without it is refused.
    let s2 = setup();
    s2.op.state.lock().unwrap().iss_supported = true;
    let (url, state) = start(&s2, "corp");
    s2.op.authorize(&url, "code-1", json!({}), "rs256");
    assert_eq!(code(finish(&s2, &state, "code-1")), ErrorCode::InvalidAuthorizationState);
    let (url, state) = start(&s2, "corp");
    s2.op.authorize(&url, "code-2", json!({}), "rs256");
    let params = json!({"provider": "corp", "code": "code-2", "state": state, "iss": s2.op.issuer});
    s2.server.login_with_service("oauth", &params, &no_info()).unwrap();
}

#[test]
fn authorization_url_refuses_unknown_options_and_a_missing_code_is_an_argument_error() {
    let s = setup();
    for options in [json!({"foo": 1}), json!({"login_hint": "bob"}), json!({"loginHint": "bob", "extra": "x"})] {
        assert_eq!(code(s.server.oauth().authorization_url("corp", &options, &no_info())), ErrorCode::InvalidArgument, "{options}");
    }
    let (_, state) = start(&s, "corp");
    for params in [json!({"provider": "corp", "state": state}), json!({"provider": "corp", "state": state, "code": ""})] {
        let e = s.server.login_with_service("oauth", &params, &no_info()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument, "{params}");
        assert!(e.message.contains("code"), "the message names the field: {}", e.message);
    }
}

#[test]
fn flow_expiration_has_a_lower_bound() {
    let cfg = |ms: u64| json!({"tokenSecret": SECRET, "db": "sqlite::memory:", "services": {"oauth": {"flowExpiration": ms}}});
    for ms in [0, 1000, 59_999] {
        assert_eq!(code(Config::from_value(cfg(ms))), ErrorCode::InvalidConfig, "{ms} ms");
    }
    assert!(Config::from_value(cfg(60_000)).is_ok());
}

#[test]
fn provider_urls_are_parsed_userinfo_and_plain_http_off_loopback_are_refused() {
    let issuer = |url: &str| {
        let provider = json!({"type": "oidc", "issuer": url, "clientId": "c", "redirectUri": "https://app/cb"});
        Config::from_value(json!({"tokenSecret": SECRET, "db": "sqlite::memory:", "services": {"oauth": {"providers": {"p": provider}}}}))
    };
    for refused in [
        // The "loopback" is userinfo; the host is evil.example, and the client secret would go there in clear.
        "http://localhost:80@evil.example",
        "http://127.0.0.1@evil.example",
        "http://localhost:80@evil.example/realms/x",
        "https://user:pass@id.example",
        "https://user@id.example",
        "http://localhost\\@evil.example",
        "http://127.0.0.1.evil.example",
        "http://localhost.evil.example",
        "http://evil.example/127.0.0.1",
        "http://id.example",
        "ftp://127.0.0.1",
        "https:// id.example",
        "not a url",
    ] {
        assert_eq!(code(issuer(refused)), ErrorCode::InvalidConfig, "{refused}");
    }
    for allowed in [
        "https://id.example",
        "https://id.example/realms/x",
        "http://127.0.0.1:8080",
        "http://localhost:9000",
        "http://[::1]:9000",
        "http://127.0.0.2",
    ] {
        assert!(issuer(allowed).is_ok(), "{allowed}");
    }
}

#[test]
fn check_providers_fetches_discovery_and_fails_on_a_bad_issuer() {
    let s = setup();
    s.server.oauth().check_providers().unwrap();
    // The discovery document names another issuer (a typo in the configured one, or the wrong realm).
    s.op.state.lock().unwrap().discovery_issuer = Some("https://elsewhere.example".into());
    let e = s.server.oauth().check_providers().unwrap_err();
    assert_eq!(e.code, ErrorCode::ProviderError);
    assert!(e.details.unwrap()["provider"].is_string());
    // Nothing listens at the issuer.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let provider = json!({"type": "oidc", "issuer": dead, "clientId": "c", "redirectUri": REDIRECT});
    let server = with(json!({"services": {"oauth": {"providers": {"gone": provider, "github": {"type": "host"}}}}}), Callbacks::default());
    let e = server.oauth().check_providers().unwrap_err();
    assert_eq!((e.code, e.details.unwrap()["provider"].clone()), (ErrorCode::ProviderError, json!("gone")));
    // Only host providers: nothing to check.
    with_host().oauth().check_providers().unwrap();
}

fn with_host() -> AccountsServer {
    with(json!({"services": {"oauth": {"providers": {"github": {"type": "host"}}}}}), Callbacks::default())
}

#[test]
fn pending_flows_are_bounded_per_client_and_expired_ones_go() {
    let s = setup();
    let count = || -> i64 { rusqlite::Connection::open(&s.db).unwrap().query_row("SELECT COUNT(*) FROM oauth_flows", [], |r| r.get(0)).unwrap() };
    let from = |ip: &str| ConnectionInfo { ip: Some(ip.into()), user_agent: None };
    let start_from = |ip: &str| s.server.oauth().authorization_url("corp", &json!({}), &from(ip)).unwrap();
    // Another client's flow, started first.
    let (url, bystander) = {
        let r = start_from("198.51.100.1");
        (r.url, r.state)
    };
    // A burst from one client (rotating through its IPv6 /64) keeps only that client's newest 20.
    let burst: Vec<String> = (0..200).map(|i| start_from(&format!("2001:db8:1:2::{i:x}")).state).collect();
    assert_eq!(count(), 1 + store::MAX_PENDING_FLOWS_PER_CLIENT);
    let e = s.server.login_with_service("oauth", &json!({"provider": "corp", "code": "c", "state": burst[0]}), &no_info());
    assert_eq!(code(e), ErrorCode::InvalidAuthorizationState, "the client's oldest flow went");
    // The other client's flow is untouched and finishes.
    s.op.authorize(&url, "bystander", json!({}), "rs256");
    finish(&s, &bystander, "bystander").unwrap();
    // Expired flows are deleted by the next start, whoever starts it.
    s.clock.advance_secs(3600);
    start_from("203.0.113.5");
    assert_eq!(count(), 1);
}

#[test]
fn login_and_link_flows_cannot_be_swapped() {
    let s = setup();
    let (uid, _) = alice(&s.server);
    // A flow started to link an identity cannot log anybody in ...
    let link = s.server.oauth().authorization_url("corp", &json!({"purpose": "link"}), &no_info()).unwrap();
    s.op.authorize(&link.url, "code-1", json!({}), "rs256");
    assert_eq!(code(finish(&s, &link.state, "code-1")), ErrorCode::InvalidAuthorizationState);
    // ... and a login flow cannot link.
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "code-2", json!({}), "rs256");
    let params = json!({"code": "code-2", "state": state});
    assert_eq!(code(s.server.oauth().link_account(&uid, "corp", &params)), ErrorCode::InvalidAuthorizationState);
    assert!(s.server.oauth().list_linked_accounts(&uid).unwrap().is_empty());
    // Each works for its own purpose.
    let link = s.server.oauth().authorization_url("corp", &json!({"purpose": "link"}), &no_info()).unwrap();
    s.op.authorize(&link.url, "code-3", json!({}), "rs256");
    s.server.oauth().link_account(&uid, "corp", &json!({"code": "code-3", "state": link.state})).unwrap();
    assert_eq!(s.server.oauth().list_linked_accounts(&uid).unwrap()[0].user_id, uid);
    assert_eq!(code(s.server.oauth().authorization_url("corp", &json!({"purpose": "other"}), &no_info())), ErrorCode::InvalidArgument);
}

#[test]
fn the_web_flow_is_bound_to_the_browser_by_a_state_cookie() {
    use accounts_core::web::HttpRequest;
    let s = setup();
    let extra = json!({"siteUrl": "https://app.example", "web": {"cookies": true},
        "services": {"oauth": {"providers": {"corp": s.op.provider_config(CLIENT_ID)}}}});
    let dir = tempfile::tempdir().unwrap();
    let web =
        AccountsServer::with_clock(config(&format!("sqlite:{}", dir.path().join("w.db").display()), extra), Callbacks::default(), s.clock.clone())
            .unwrap();
    let post = |path: &str, cookie: Option<&str>, body: Value| {
        let mut headers =
            vec![("content-type".to_string(), "application/json".to_string()), ("origin".to_string(), "https://app.example".to_string())];
        if let Some(c) = cookie {
            headers.push(("cookie".into(), c.into()));
        }
        web.handle_http(&HttpRequest {
            method: "POST".into(),
            path: path.into(),
            query: None,
            headers,
            body: body.to_string().into_bytes(),
            peer: None,
        })
    };
    let started = post("/oauth/corp/authorizationUrl", None, json!({}));
    assert_eq!(started.status, 200);
    let started_body: Value = serde_json::from_slice(&started.body).unwrap();
    let (url, state) = (started_body["url"].as_str().unwrap().to_string(), started_body["state"].as_str().unwrap().to_string());
    let cookie_line = started.headers.iter().find(|(n, v)| n == "set-cookie" && v.starts_with("__Host-accounts_oauth_state=")).unwrap().1.clone();
    assert!(cookie_line.contains("HttpOnly") && cookie_line.contains("Max-Age=600"));
    s.op.authorize(&url, "code-1", json!({}), "rs256");
    let params = json!({"provider": "corp", "code": "code-1", "state": state});
    // The victim's browser has no state cookie, or another flow's: the attacker's callback is refused.
    for cookie in [None, Some("__Host-accounts_oauth_state=0123abcd")] {
        let r = post("/oauth/authenticate", cookie, params.clone());
        let b: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!((r.status, b["code"].as_str()), (400, Some("InvalidAuthorizationState")), "{cookie:?}");
        assert!(!r.headers.iter().any(|(n, v)| n == "set-cookie" && v.starts_with("__Host-accounts_access=")));
    }
    let own = format!("__Host-accounts_oauth_state={state}");
    let r = post("/oauth/authenticate", Some(&own), params);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.headers.iter().any(|(n, v)| n == "set-cookie" && v.starts_with("__Host-accounts_access=")));
    assert!(r.headers.iter().any(|(n, v)| n == "set-cookie" && v.starts_with("__Host-accounts_oauth_state=;")), "the state cookie is used up");
}
