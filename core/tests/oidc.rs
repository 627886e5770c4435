//! OpenID Connect logins against a provider on 127.0.0.1 (docs/oauth.md, "OpenID Connect"): the
//! authorization-code flow with PKCE, `state` and `nonce`, and the attacks on it. This provider is
//! a minimal one written for the test, so it can mint the broken ID tokens a real one never would;
//! the language suites run the same flow against the certified `oidc-provider` (tests/oidc).
mod common;
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
}

#[derive(Default)]
struct Provider {
    grants: HashMap<String, Grant>,
    token_requests: Vec<HashMap<String, String>>,
    basic_auth: Vec<String>,
    jwks_fetches: usize,
}

struct FakeOp {
    issuer: String,
    state: Arc<Mutex<Provider>>,
}

fn public_jwk() -> Value {
    let private: Value = serde_json::from_str(include_str!("keys/rsa.jwk.json")).unwrap();
    json!({"kty": "RSA", "n": private["n"], "e": private["e"], "kid": "k1", "alg": "RS256", "use": "sig"})
}

fn mint(issuer: &str, grant: &Grant) -> String {
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
                        &json!({"issuer": issuer2, "authorization_endpoint": format!("{issuer2}/auth"),
                                "token_endpoint": format!("{issuer2}/token"), "jwks_uri": format!("{issuer2}/jwks")}),
                    ),
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
        let query: HashMap<String, String> = form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
        let grant = Grant {
            nonce: query["nonce"].clone(),
            challenge: query["code_challenge"].clone(),
            claims: claims.as_object().cloned().unwrap_or_default(),
            signing,
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
    let op = FakeOp::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("oidc.db");
    let clock = Arc::new(ManualClock::new(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64));
    let mut corp = op.provider_config(CLIENT_ID);
    corp["storeTokens"] = json!(true);
    let extra = json!({"services": {"oauth": {"providers": {"corp": corp, "other": op.provider_config("other-client")}}}});
    let server = AccountsServer::with_clock(config(&format!("sqlite:{}", db.display()), extra), Callbacks::default(), clock.clone()).unwrap();
    Setup { op, server, clock, _dir: dir, db }
}

fn start(s: &Setup, provider: &str) -> (String, String) {
    let request = s.server.oauth().authorization_url(provider, &json!({})).unwrap();
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
        ("no expiry", json!({"exp": null}), "rs256"),
        ("another issuer", json!({"iss": "https://evil.example"}), "rs256"),
        ("alg swapped to HS256 keyed with the public key", json!({}), "hs256-with-public-key"),
        ("alg none", json!({}), "none"),
        ("a key the provider does not publish", json!({}), "unknown-kid"),
        ("no subject", json!({"sub": null}), "rs256"),
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
    assert_eq!(code(finish(&s, &state, "unverified")), ErrorCode::AccountLinkRefused);
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
    assert_eq!(code(host.oauth().authorization_url("github", &json!({}))), ErrorCode::InvalidArgument);
    assert_eq!(code(s.server.oauth().authorization_url("nope", &json!({}))), ErrorCode::ProviderNotFound);
    assert_eq!(code(s.server.oauth().authorization_url("corp", &json!({"loginHint": 3}))), ErrorCode::InvalidArgument);
    let hinted = s.server.oauth().authorization_url("corp", &json!({"loginHint": "a@b.example", "prompt": "login"})).unwrap();
    assert!(hinted.url.contains("login_hint=a%40b.example") && hinted.url.contains("prompt=login"));
}

fn with_host() -> AccountsServer {
    with(json!({"services": {"oauth": {"providers": {"github": {"type": "host"}}}}}), Callbacks::default())
}

#[test]
fn login_and_link_flows_cannot_be_swapped() {
    let s = setup();
    let (uid, _) = alice(&s.server);
    // A flow started to link an identity cannot log anybody in ...
    let link = s.server.oauth().authorization_url("corp", &json!({"purpose": "link"})).unwrap();
    s.op.authorize(&link.url, "code-1", json!({}), "rs256");
    assert_eq!(code(finish(&s, &link.state, "code-1")), ErrorCode::InvalidAuthorizationState);
    // ... and a login flow cannot link.
    let (url, state) = start(&s, "corp");
    s.op.authorize(&url, "code-2", json!({}), "rs256");
    let params = json!({"code": "code-2", "state": state});
    assert_eq!(code(s.server.oauth().link_account(&uid, "corp", &params)), ErrorCode::InvalidAuthorizationState);
    assert!(s.server.oauth().list_linked_accounts(&uid).unwrap().is_empty());
    // Each works for its own purpose.
    let link = s.server.oauth().authorization_url("corp", &json!({"purpose": "link"})).unwrap();
    s.op.authorize(&link.url, "code-3", json!({}), "rs256");
    s.server.oauth().link_account(&uid, "corp", &json!({"code": "code-3", "state": link.state})).unwrap();
    assert_eq!(s.server.oauth().list_linked_accounts(&uid).unwrap()[0].user_id, uid);
    assert_eq!(code(s.server.oauth().authorization_url("corp", &json!({"purpose": "other"}))), ErrorCode::InvalidArgument);
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
