//! The web edge (core/src/web, docs/web.md): every route of rest-express 0.33 with its status and
//! shape in bearer and cookie mode, and every attack of issue #26 with its expected refusal.
mod common;
#[path = "common/http.rs"]
mod http;

use accounts_core::web::{HttpRequest, HttpResponse};
use accounts_core::*;
use common::*;
use http::{body, code_of, request};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SITE: &str = "https://app.example";

fn cookie_server(extra: Value) -> AccountsServer {
    let mut base = json!({"siteUrl": SITE, "web": {"cookies": true}});
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
    with(base, Callbacks::default())
}

fn set_cookies(r: &HttpResponse) -> Vec<String> {
    r.headers.iter().filter(|(n, _)| n == "set-cookie").map(|(_, v)| v.clone()).collect()
}

/// A browser: keeps cookies, sends them, and echoes the CSRF cookie when asked to.
struct Browser<'a> {
    server: &'a AccountsServer,
    jar: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(server: &'a AccountsServer) -> Browser<'a> {
        Browser { server, jar: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn send(&mut self, method: &str, path: &str, extra: &[(&str, &str)], body: &str) -> HttpResponse {
        let cookie = self.cookie_header();
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        if !cookie.is_empty() {
            headers.push(("cookie", &cookie));
        }
        let response = self.server.handle_http(&request(method, path, &headers, body));
        for line in set_cookies(&response) {
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if line.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.into(), value.into());
            }
        }
        response
    }

    fn csrf(&self) -> String {
        self.jar.get("__Host-accounts_csrf").cloned().unwrap_or_default()
    }

    /// A same-origin POST from the page, echoing the CSRF token.
    fn post(&mut self, path: &str, body: &str) -> HttpResponse {
        let csrf = self.csrf();
        self.send("POST", path, &[("origin", SITE), ("sec-fetch-site", "same-origin"), ("x-csrf-token", &csrf)], body)
    }
}

const ALICE: &str = r#"{"user": {"email": "alice@example.com"}, "password": "correct horse"}"#;

#[test]
fn bearer_mode_routes_and_shapes() {
    let s = memory();
    let (uid, login) = alice(&s);
    let call = |m: &str, p: &str, h: &[(&str, &str)], b: &str| s.handle_http(&request(m, p, h, b));
    let wrong = call("POST", "/password/authenticate", &[], r#"{"user": {"email": "alice@example.com"}, "password": "nope"}"#);
    assert_eq!((wrong.status, code_of(&wrong).as_str()), (400, "InvalidCredentials"));
    let unauth = call("POST", "/password/changePassword", &[], r#"{"oldPassword": "a", "newPassword": "b"}"#);
    assert_eq!((unauth.status, body(&unauth)), (401, json!({"message": "Unauthorized"})));
    let ok = call("POST", "/password/authenticate", &[("user-agent", "test-agent")], ALICE);
    assert_eq!(ok.status, 200);
    let ok = body(&ok);
    assert_eq!(ok["user"]["id"], json!(uid));
    assert!(ok["tokens"]["accessToken"].is_string() && ok["tokens"]["refreshToken"].is_string());
    let session = s.find_session_by_access_token(ok["tokens"]["accessToken"].as_str().unwrap()).unwrap();
    assert_eq!((session.ip.as_deref(), session.user_agent.as_deref()), (Some("192.0.2.1"), Some("test-agent")));
    let bearer = format!("Bearer {}", login.tokens.access_token);
    assert_eq!(body(&call("GET", "/user", &[("authorization", &bearer)], ""))["id"], json!(uid));
    assert_eq!(body(&call("GET", "/user", &[], "")), Value::Null);
    let via_body = json!({"accessToken": login.tokens.access_token}).to_string();
    assert_eq!(body(&call("POST", "/user", &[], &via_body))["id"], json!(uid));
    assert_eq!(body(&call("POST", "/password/sendResetPasswordEmail", &[], r#"{"email": "nobody@example.com"}"#)), Value::Null);
    assert_eq!(
        body(&call("POST", "/password/register", &[], r#"{"user": {"email": "alice@example.com", "password": "12345678"}}"#)),
        json!({}),
        "ambiguous: taken looks created"
    );
    assert_eq!(body(&call("POST", "/password/register", &[], r#"{"user": {"email": "bob@example.com", "password": "12345678"}}"#)), json!({}));
    assert!(s.password().find_user_by_email("bob@example.com").unwrap().is_some());
    let secret = body(&call("POST", "/password/twoFactorSecret", &[], ""));
    assert!(secret["secret"]["base32"].is_string());
    let refresh = json!({"accessToken": ok["tokens"]["accessToken"], "refreshToken": ok["tokens"]["refreshToken"]}).to_string();
    let refreshed = body(&call("POST", "/refreshTokens", &[], &refresh));
    assert_ne!(refreshed["tokens"]["refreshToken"], ok["tokens"]["refreshToken"]);
    let out = call("POST", "/logout", &[("authorization", &bearer)], "");
    assert_eq!((out.status, body(&out)), (200, Value::Null));
    let again = call("POST", "/logout", &[("authorization", &bearer)], "");
    assert_eq!((again.status, code_of(&again).as_str()), (400, "InvalidSession"));
    assert!(set_cookies(&again).is_empty(), "bearer mode sets no cookie");
    let missing = call("POST", "/nope", &[], "");
    assert_eq!((missing.status, code_of(&missing).as_str()), (404, "RouteNotFound"));
}

#[test]
fn not_ambiguous_register_reports_and_autologs_in() {
    let s = with(json!({"ambiguousErrorMessages": false, "enableAutologin": true}), Callbacks::default());
    let r = s.handle_http(&request("POST", "/password/register", &[], r#"{"user": {"email": "c@example.com", "password": "12345678"}}"#));
    let b = body(&r);
    assert!(b["userId"].is_string());
    assert!(b["loginResult"]["tokens"]["accessToken"].is_string());
    let taken = s.handle_http(&request("POST", "/password/register", &[], r#"{"user": {"email": "c@example.com", "password": "12345678"}}"#));
    assert_eq!(code_of(&taken), "EmailAlreadyExists");
    let link = s.handle_http(&request("POST", "/magiclink/requestMagicLinkEmail", &[], r#"{"email": "nobody@example.com"}"#));
    assert_eq!((link.status, code_of(&link).as_str()), (400, "UserNotFound"));
}

#[test]
fn cookie_mode_session_lifecycle() {
    let s = cookie_server(json!({}));
    let (uid, _) = alice(&s);
    let mut b = Browser::new(&s);
    let login = b.post("/password/authenticate", ALICE);
    assert_eq!(login.status, 200);
    assert!(body(&login).get("tokens").is_none(), "the tokens live in cookies only");
    assert_eq!(body(&login)["user"]["id"], json!(uid));
    let lines = set_cookies(&login);
    let life = s.options().token_configs.refresh_token.expires_in.as_secs();
    let access = lines.iter().find(|l| l.starts_with("__Host-accounts_access=")).unwrap();
    assert!(access.contains("HttpOnly") && access.contains("Secure") && access.contains("Path=/") && access.contains("SameSite=Lax"));
    assert!(access.contains(&format!("Max-Age={life}")), "the access cookie lives as long as the refresh token");
    assert!(!access.contains("Domain"));
    assert!(lines.iter().any(|l| l.starts_with("__Host-accounts_refresh=") && l.contains("SameSite=Strict") && l.contains("HttpOnly")));
    assert!(lines.iter().any(|l| l.starts_with("__Host-accounts_csrf=") && !l.contains("HttpOnly")));
    assert_eq!(body(&b.send("GET", "/user", &[], ""))["id"], json!(uid));

    let change = r#"{"oldPassword": "correct horse", "newPassword": "a new password"}"#;
    let forged = b.send("POST", "/password/changePassword", &[("origin", SITE), ("x-csrf-token", "forged")], change);
    assert_eq!((forged.status, code_of(&forged).as_str()), (403, "CsrfRefused"));
    assert_eq!(b.post("/password/changePassword", change).status, 200);

    let before = b.jar["__Host-accounts_refresh"].clone();
    let refreshed = b.post("/refreshTokens", "");
    assert_eq!(refreshed.status, 200);
    assert!(body(&refreshed).get("tokens").is_none());
    assert_ne!(b.jar["__Host-accounts_refresh"], before, "rotated");
    assert_eq!(body(&b.send("GET", "/user", &[], ""))["id"], json!(uid));

    // Bearer tokens keep working beside the cookies.
    let bearer = format!("Bearer {}", s.login_with_user(&uid, &no_info()).unwrap().tokens.access_token);
    assert_eq!(body(&s.handle_http(&request("GET", "/user", &[("authorization", &bearer)], "")))["id"], json!(uid));

    let session = s.find_session_by_access_token(&b.jar["__Host-accounts_access"]).unwrap();
    let out = b.post("/logout", "");
    assert_eq!(out.status, 200);
    assert!(b.jar.keys().all(|k| !k.contains("access") && !k.contains("refresh") && !k.contains("csrf")), "cleared: {:?}", b.jar);
    assert!(!s.list_sessions(&uid).unwrap().iter().find(|x| x.id == session.id).unwrap().valid);
    assert_eq!(body(&b.send("GET", "/user", &[], "")), Value::Null);
}

#[test]
fn the_csrf_token_is_bound_to_the_session() {
    let s = cookie_server(json!({}));
    alice(&s);
    let mut a = Browser::new(&s);
    a.post("/password/authenticate", ALICE);
    let mut b = Browser::new(&s);
    b.post("/password/authenticate", ALICE);
    assert_ne!(a.csrf(), b.csrf());
    // Another session's token (or one tossed into the cookie) does not pass.
    let other = b.csrf();
    let r = a.send("POST", "/password/twoFactorSecret", &[("origin", SITE), ("x-csrf-token", &other)], "");
    assert_eq!(r.status, 200, "a route that needs nobody does not look at the token");
    let r = a.send("POST", "/user", &[("origin", SITE), ("x-csrf-token", &other)], "");
    assert_eq!((r.status, code_of(&r).as_str()), (403, "CsrfRefused"));
}

#[test]
fn attack_malformed_cookie_is_ignored_or_a_coded_400() {
    let s = cookie_server(json!({}));
    let (uid, _) = alice(&s);
    let mut b = Browser::new(&s);
    b.post("/password/authenticate", ALICE);
    b.jar.insert("tracking".into(), "50%".into());
    let r = b.send("GET", "/user", &[], "");
    assert_eq!((r.status, body(&r)["id"].clone()), (200, json!(uid)), "a stray cookie is not ours to parse");
    // One of ours malformed counts as absent: the request goes on without it (no lock-out).
    b.jar.insert("__Host-accounts_access".into(), "50%".into());
    let r = b.send("GET", "/user", &[], "");
    assert_eq!((r.status, body(&r)), (200, Value::Null));
    let user = s.http_user(&request("GET", "/api", &[("cookie", "__Host-accounts_access=%E0%A4%A")], ""));
    assert_eq!(user.unwrap(), None);
    // UTF-8 in a foreign cookie arrives from the adapters as Latin-1 (U+0080-U+009F): not refused.
    let r = b.send("GET", "/user", &[("x-note", "O\u{e2}\u{80}\u{99}Brien")], "");
    assert_eq!(r.status, 200);
    let with_c1 = format!("{}; pref=O\u{e2}\u{80}\u{99}Brien", b.cookie_header());
    assert_eq!(s.handle_http(&request("GET", "/user", &[("cookie", &with_c1)], "")).status, 200);
    // What HTTP forbids in a field value still is.
    let r = s.handle_http(&request("GET", "/user", &[("x-note", "a\u{1}b")], ""));
    assert_eq!((r.status, code_of(&r).as_str()), (400, "MalformedRequest"));
}

#[test]
fn attack_missing_csrf_cookie_and_header() {
    let s = cookie_server(json!({}));
    alice(&s);
    let mut b = Browser::new(&s);
    b.post("/password/authenticate", ALICE);
    b.jar.remove("__Host-accounts_csrf");
    let change = r#"{"oldPassword": "correct horse", "newPassword": "a new password"}"#;
    let r = b.send("POST", "/password/changePassword", &[], change);
    assert_eq!((r.status, code_of(&r).as_str()), (403, "CsrfRefused"), "missing never equals missing");
    let r = b.send("POST", "/password/changePassword", &[("x-csrf-token", "")], change);
    assert_eq!(r.status, 403);
    let r = b.send("POST", "/logout", &[], "");
    assert_eq!(r.status, 403);
    assert!(b.jar.contains_key("__Host-accounts_access"), "a refused logout clears nothing");
}

#[test]
fn attack_get_with_side_effects() {
    let s = cookie_server(json!({}));
    alice(&s);
    let mut b = Browser::new(&s);
    b.post("/password/authenticate", ALICE);
    for path in [
        "/logout",
        "/password/authenticate",
        "/refreshTokens",
        "/password/changePassword",
        "/oauth/corp/callback",
        "/password/sendResetPasswordEmail",
    ] {
        let r = b.send("GET", path, &[], "");
        assert!(matches!(r.status, 404 | 405), "{path}: {}", r.status);
        assert!(set_cookies(&r).is_empty(), "{path} set a cookie on GET");
    }
    let r = b.send("GET", "/logout", &[], "");
    assert_eq!((r.status, code_of(&r).as_str()), (405, "MethodNotAllowed"));
    assert!(r.headers.iter().any(|(n, v)| n == "allow" && v == "POST"));
    assert!(body(&b.send("GET", "/user", &[], ""))["id"].is_string(), "still logged in");
}

#[test]
fn attack_put_patch_delete_with_the_cookie() {
    let s = cookie_server(json!({}));
    alice(&s);
    let mut b = Browser::new(&s);
    b.post("/password/authenticate", ALICE);
    let cookie = b.cookie_header();
    for method in ["PUT", "PATCH", "DELETE"] {
        let r = b.send(method, "/password/changePassword", &[], r#"{"oldPassword": "correct horse", "newPassword": "x"}"#);
        assert_eq!((r.status, code_of(&r).as_str()), (405, "MethodNotAllowed"), "{method}");
        // The app's own routes: the same rules through http_user.
        let refused = s.http_user(&request(method, "/api/thing", &[("cookie", &cookie)], "")).unwrap_err();
        assert_eq!((refused.code, refused.details.clone().unwrap()["status"].clone()), (ErrorCode::CsrfRefused, json!(403)), "{method}");
        let csrf = b.csrf();
        let ok = s.http_user(&request(method, "/api/thing", &[("cookie", &cookie), ("x-csrf-token", &csrf)], "")).unwrap();
        assert!(ok.is_some(), "{method} with the token");
    }
    let (user, token) = s.http_user(&request("GET", "/api/me", &[("cookie", &cookie)], "")).unwrap().unwrap();
    assert_eq!(token, b.jar["__Host-accounts_access"]);
    assert_eq!(user.emails[0].address, "alice@example.com");
    assert!(s.http_user(&request("GET", "/api/me", &[], "")).unwrap().is_none());
    assert!(s.http_user(&request("GET", "/api/me", &[("authorization", "Bearer nope")], "")).unwrap().is_none());
}

#[test]
fn attack_cross_site_text_plain_post() {
    let s = cookie_server(json!({}));
    alice(&s);
    let mut b = Browser::new(&s);
    b.post("/password/authenticate", ALICE);
    let form = r#"{"oldPassword": "correct horse", "newPassword": "pwned pwned"}"#;
    let r = b.send("POST", "/password/changePassword", &[("origin", "https://evil.example"), ("content-type", "text/plain")], form);
    assert_eq!((r.status, code_of(&r).as_str()), (403, "CsrfRefused"));
    // Without an Origin (an old browser), the body type is refused before any work.
    let r = b.send("POST", "/password/changePassword", &[("content-type", "text/plain")], form);
    assert_eq!((r.status, code_of(&r).as_str()), (415, "MalformedRequest"));
    let login = b.send("POST", "/password/authenticate", &[("origin", "https://evil.example")], ALICE);
    assert_eq!((login.status, code_of(&login).as_str()), (403, "CsrfRefused"), "login CSRF");
    assert!(set_cookies(&login).is_empty());
}

#[test]
fn attack_origin_null_fetch_metadata_and_scheme() {
    let s = cookie_server(json!({"web": {"cookies": true, "trustedOrigins": ["https://front.example"]}}));
    alice(&s);
    let login = |h: &[(&str, &str)]| s.handle_http(&request("POST", "/password/authenticate", h, ALICE));
    for (headers, expected) in [
        (vec![("origin", "null")], 403),
        (vec![("sec-fetch-site", "cross-site")], 403),
        (vec![("sec-fetch-site", "same-site"), ("origin", "https://sub.app.example")], 403),
        (vec![("origin", "http://app.example")], 403),
        (vec![("origin", "https://app.example:8443")], 403),
        (vec![("referer", "https://evil.example/x")], 403),
        (vec![("origin", "https://front.example"), ("sec-fetch-site", "cross-site")], 200),
        (vec![("origin", "https://app.example"), ("sec-fetch-site", "same-origin")], 200),
        (vec![("sec-fetch-site", "none")], 200),
        (vec![], 200),
    ] {
        let r = login(&headers);
        assert_eq!(r.status, expected, "{headers:?}");
        if expected == 403 {
            assert_eq!(code_of(&r), "CsrfRefused");
        }
    }
    // Bearer mode has no ambient credential: no Origin rules.
    let bearer = memory();
    alice(&bearer);
    assert_eq!(bearer.handle_http(&request("POST", "/password/authenticate", &[("origin", "null")], ALICE)).status, 200);
}

#[test]
fn attack_cookie_tossing() {
    let s = cookie_server(json!({}));
    let (uid, _) = alice(&s);
    // The attacker's own session, tossed from a sibling subdomain: it cannot set __Host- cookies.
    let attacker = s.login_with_user(&uid, &no_info()).unwrap();
    let tossed = format!("accounts_access={}", attacker.tokens.access_token);
    assert_eq!(body(&s.handle_http(&request("GET", "/user", &[("cookie", &tossed)], ""))), Value::Null);
    // A second cookie of the same name is ambiguous: neither is used (no lock-out, no fixation)...
    let mut b = Browser::new(&s);
    b.post("/password/authenticate", ALICE);
    let twice = format!("{}; __Host-accounts_access={}", b.cookie_header(), attacker.tokens.access_token);
    let r = s.handle_http(&request("GET", "/user", &[("cookie", &twice)], ""));
    assert_eq!((r.status, body(&r)), (200, Value::Null));
    // ... and logout still clears the cookies.
    let csrf = b.csrf();
    let headers = [("cookie", twice.as_str()), ("origin", SITE), ("sec-fetch-site", "same-origin"), ("x-csrf-token", csrf.as_str())];
    let out = s.handle_http(&request("POST", "/logout", &headers, "{}"));
    assert!(set_cookies(&out).iter().filter(|l| l.contains("Max-Age=0")).count() >= 3, "{:?}", set_cookies(&out));
    // Plain-http development cookies have no prefix.
    let dev = cookie_server(json!({"web": {"cookies": {"secure": false}}}));
    alice(&dev);
    let r = dev.handle_http(&request("POST", "/password/authenticate", &[], ALICE));
    assert!(set_cookies(&r).iter().any(|l| l.starts_with("accounts_access=") && !l.contains("Secure")));
}

#[test]
fn attack_forged_forwarding_headers() {
    let untrusted = memory();
    alice(&untrusted);
    let mut req = request("POST", "/password/authenticate", &[("x-forwarded-for", "6.6.6.6"), ("forwarded", "for=6.6.6.7")], ALICE);
    let r = untrusted.handle_http(&req);
    let token = body(&r)["tokens"]["accessToken"].as_str().unwrap().to_string();
    assert_eq!(untrusted.find_session_by_access_token(&token).unwrap().ip.as_deref(), Some("192.0.2.1"), "the peer, headers ignored");

    let proxied = with(json!({"web": {"trustedProxies": ["192.0.2.0/24", "10.0.0.0/8"]}}), Callbacks::default());
    alice(&proxied);
    req.headers = vec![("content-type".into(), "application/json".into()), ("x-forwarded-for".into(), "6.6.6.6, 203.0.113.9, 10.1.1.1".into())];
    let token = body(&proxied.handle_http(&req))["tokens"]["accessToken"].as_str().unwrap().to_string();
    assert_eq!(proxied.find_session_by_access_token(&token).unwrap().ip.as_deref(), Some("203.0.113.9"), "the first untrusted hop from the right");

    let rfc = with(json!({"web": {"trustedProxies": ["192.0.2.1"], "proxyHeader": "forwarded"}}), Callbacks::default());
    alice(&rfc);
    req.headers = vec![
        ("content-type".into(), "application/json".into()),
        ("forwarded".into(), "for=6.6.6.6, for=\"[2001:db8::5]:443\";proto=https".into()),
        ("x-forwarded-for".into(), "7.7.7.7".into()),
    ];
    let token = body(&rfc.handle_http(&req))["tokens"]["accessToken"].as_str().unwrap().to_string();
    assert_eq!(rfc.find_session_by_access_token(&token).unwrap().ip.as_deref(), Some("2001:db8::5"));
}

#[test]
fn attack_ipv6_rotation_within_a_64_is_one_client() {
    let s = with(
        json!({"attemptLimits": {"password": {"accountIp": {"max": 5, "window": "15m"}, "account": {"max": 50, "window": "15m"}, "ip": {"max": 10, "window": "15m"}}}}),
        Callbacks::default(),
    );
    alice(&s);
    let mut req = request("POST", "/password/authenticate", &[("content-type", "application/json")], "");
    for i in 0..10 {
        req.peer = Some(format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap());
        req.body = format!(r#"{{"user": {{"email": "user{i}@example.com"}}, "password": "guess"}}"#).into_bytes();
        assert_eq!(code_of(&s.handle_http(&req)), "InvalidCredentials");
    }
    req.peer = Some("2001:db8:1:2:ffff::9".parse().unwrap());
    req.body = ALICE.as_bytes().to_vec();
    assert_eq!(code_of(&s.handle_http(&req)), "TooManyAttempts", "the same /64");
    req.peer = Some("2001:db8:1:3::1".parse().unwrap());
    assert_eq!(s.handle_http(&req).status, 200, "another /64");
}

#[test]
fn attack_malformed_input_on_every_route_is_a_coded_400() {
    let s = cookie_server(json!({}));
    alice(&s);
    let routes = [
        "/impersonate",
        "/user",
        "/refreshTokens",
        "/logout",
        "/password/register",
        "/password/verifyEmail",
        "/password/resetPassword",
        "/password/sendVerificationEmail",
        "/password/sendResetPasswordEmail",
        "/password/addEmail",
        "/password/changePassword",
        "/password/twoFactorSecret",
        "/password/twoFactorSet",
        "/password/twoFactorUnset",
        "/magiclink/requestMagicLinkEmail",
        "/password/verifyAuthentication",
        "/password/authenticate",
        "/magicLink/authenticate",
        "/oauth/corp/authorizationUrl",
        "/oauth/corp/link",
    ];
    for path in routes {
        let cases: Vec<(HttpRequest, u16)> = vec![
            (request("POST", path, &[], "{"), 400),
            (request("POST", path, &[], "[1]"), 400),
            (HttpRequest { body: vec![b'"', 0xff, b'"'], ..request("POST", path, &[], "x") }, 400),
            (request("POST", path, &[("x-thing", "a\nb")], "{}"), 400),
            (request("POST", path, &[("origin", "a"), ("Origin", "b")], "{}"), 400),
            (request("POST", path, &[("x-thing", "a\u{7f}b")], "{}"), 400),
            (request("POST", &format!("{path}%"), &[], "{}"), 400),
            (request("POST", path, &[], &format!("{{\"pad\": \"{}\"}}", "x".repeat(70 * 1024))), 413),
        ];
        for (req, expected) in cases {
            let r = s.handle_http(&req);
            assert_eq!(r.status, expected, "{path}: {:?}", String::from_utf8_lossy(&r.body));
            let code = code_of(&r);
            assert!(["MalformedRequest", "PayloadTooLarge"].contains(&code.as_str()), "{path}: {code}");
        }
    }
    let huge = s.handle_http(&request("POST", "/password/authenticate", &[], &"x".repeat(65 * 1024)));
    assert_eq!((huge.status, code_of(&huge).as_str()), (413, "PayloadTooLarge"));
    // Wrong types inside valid JSON are the services' coded errors, never a 500.
    for b in [r#"{"token": 5}"#, r#"{"user": 5}"#, r#"{"email": []}"#, r#"{"impersonated": 3}"#, r#"{"secret": {}}"#] {
        for path in routes {
            assert!(s.handle_http(&request("POST", path, &[], b)).status < 500, "{path} {b}");
        }
    }
}

#[test]
fn the_json_forms_round_trip() {
    let req = HttpRequest::from_json(r#"{"method": "POST", "path": "/x", "headers": [["A", "b"]], "bodyBase64": "/w==", "peer": "::1"}"#).unwrap();
    assert_eq!((req.body.as_slice(), req.peer.unwrap().to_string().as_str()), (&[0xffu8][..], "::1"));
    assert_eq!(HttpRequest::from_json(r#"{"method": "GET", "path": "/", "peer": "nope"}"#).unwrap_err().code, ErrorCode::InvalidArgument);
    assert_eq!(
        HttpRequest::from_json(r#"{"method": "GET", "path": "/", "body": "a", "bodyBase64": "YQ=="}"#).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
    let s = memory();
    let r: Value = serde_json::from_str(&s.handle_http(&req).to_json()).unwrap();
    assert_eq!(r["status"], json!(404));
    assert_eq!(r["headers"][0], json!(["content-type", "application/json; charset=utf-8"]));
    assert_eq!(serde_json::from_str::<Value>(r["body"].as_str().unwrap()).unwrap()["code"], json!("RouteNotFound"));
}

#[test]
fn logout_with_an_expired_access_token_ends_the_session() {
    let (s, clock) = clocked(json!({"siteUrl": SITE, "web": {"cookies": true}}));
    let (uid, login) = alice(&s);
    clock.advance_secs(s.options().token_configs.access_token.expires_in.as_secs() as i64 + 60);
    assert_eq!(code(s.resume_session(&login.tokens.access_token)), ErrorCode::TokenVerificationFailed, "expired");
    s.logout(&login.tokens.access_token).unwrap();
    assert!(!s.list_sessions(&uid).unwrap().iter().find(|x| x.id == login.session_id).unwrap().valid);

    let mut b = Browser::new(&s);
    b.post("/password/authenticate", ALICE);
    let session = s.find_session_by_access_token(&b.jar["__Host-accounts_access"]).unwrap();
    clock.advance_secs(s.options().token_configs.access_token.expires_in.as_secs() as i64 + 60);
    let out = b.post("/logout", "");
    assert_eq!(out.status, 200);
    assert!(!b.jar.contains_key("__Host-accounts_access"), "cleared");
    assert!(!s.list_sessions(&uid).unwrap().iter().find(|x| x.id == session.id).unwrap().valid);
    // A cookie that is not a token at all: the session cannot be found, the cookies still go.
    let r = s.handle_http(&request("POST", "/logout", &[("cookie", "__Host-accounts_access=not.a.token")], ""));
    assert_eq!((r.status, code_of(&r).as_str()), (400, "TokenVerificationFailed"));
    assert_eq!(set_cookies(&r).iter().filter(|l| l.contains("Max-Age=0")).count(), 3);
}

#[test]
fn web_options_are_checked() {
    for bad in [
        json!({"trustedProxies": ["10.0.0.0/33"]}),
        json!({"trustedProxies": ["nope"]}),
        json!({"trustedOrigins": ["app.example"]}),
        json!({"proxyHeader": "x-real-ip"}),
        json!({"cookies": {"sameSite": "none", "secure": false}}),
        json!({"cookies": {"names": {"access": "a;b"}}}),
        json!({"cookies": {"names": {"access": "x", "csrf": "x"}}}),
        json!({"cookies": {"unknown": 1}}),
        json!({"unknown": 1}),
        json!({"maxBodyBytes": 0}),
        json!({"siteOrigin": "ftp://x"}),
    ] {
        let config = Config::from_value(json!({"db": "sqlite::memory:", "tokenSecret": SECRET, "web": bad.clone()}));
        let refused = config.and_then(|c| c.validate());
        assert_eq!(refused.unwrap_err().code, ErrorCode::InvalidConfig, "{bad}");
    }
}

#[test]
fn attack_a_mapped_trusted_proxy_entry_cannot_break_every_request() {
    // What a dual-stack Node socket reports for an IPv4 proxy: `::ffff:127.0.0.1`.
    for entry in ["::ffff:192.0.2.1", "::ffff:192.0.2.0/120", "::ffff:0.0.0.0/96"] {
        let s = with(json!({"web": {"trustedProxies": [entry]}}), Callbacks::default());
        alice(&s);
        let mut req = request("POST", "/password/authenticate", &[("x-forwarded-for", "203.0.113.9")], ALICE);
        let r = s.handle_http(&req);
        assert_eq!(r.status, 200, "{entry}");
        let token = body(&r)["tokens"]["accessToken"].as_str().unwrap().to_string();
        assert_eq!(s.find_session_by_access_token(&token).unwrap().ip.as_deref(), Some("203.0.113.9"), "{entry}");
        req.peer = Some("::ffff:192.0.2.1".parse().unwrap());
        assert_eq!(s.handle_http(&req).status, 200, "{entry}: a mapped peer");
        assert!(s.http_user(&request("GET", "/api", &[], "")).unwrap().is_none());
    }
}

#[test]
fn attack_register_does_not_tell_a_taken_address_by_its_password_error() {
    let s = cookie_server(json!({}));
    alice(&s);
    let post = |email: &str| {
        let body = json!({"user": {"email": email, "password": "short"}}).to_string();
        let r = s.handle_http(&request("POST", "/password/register", &[("origin", SITE), ("sec-fetch-site", "same-origin")], &body));
        (r.status, body_text(&r))
    };
    assert_eq!(post("alice@example.com"), post("nobody@example.com"));
}

fn body_text(r: &HttpResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

#[test]
fn attack_an_authorization_header_that_is_not_a_bearer_token_does_not_skip_the_browser_checks() {
    let s = cookie_server(json!({}));
    alice(&s);
    for authorization in ["", "Basic dXNlcjpwYXNz"] {
        let headers = [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site"), ("authorization", authorization)];
        let r = s.handle_http(&request("POST", "/password/authenticate", &headers, ALICE));
        assert_eq!((r.status, code_of(&r).as_str()), (403, "CsrfRefused"), "{authorization:?}");
        assert!(set_cookies(&r).is_empty());
    }
}
