//! The passkey routes of the web edge (docs/passkeys.md, "REST routes"): routing, signed-in
//! routes, CSRF in cookie mode, the sign-in through `/webauthn/authenticate`, and ambiguous mode.
#[path = "common/authenticator.rs"]
mod authenticator;
mod common;
#[path = "common/http.rs"]
mod http;

use accounts_core::web::HttpResponse;
use accounts_core::*;
use authenticator::{Client, Key};
use common::*;
use http::{body, code_of, request};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SITE: &str = "https://app.example";

fn server(cookies: bool, ambiguous: bool) -> AccountsServer {
    with(
        json!({"siteUrl": SITE, "web": {"cookies": cookies}, "ambiguousErrorMessages": ambiguous,
               "services": {"webauthn": {"rpId": "app.example", "rpName": "App", "origins": [SITE]}}}),
        Callbacks::default(),
    )
}

fn browser() -> Client {
    Client::new(SITE, "app.example")
}

#[test]
fn bearer_mode_ceremonies_and_management() {
    let s = server(false, false);
    let (uid, login) = alice(&s);
    let bearer = format!("Bearer {}", login.tokens.access_token);
    let auth = [("authorization", bearer.as_str())];
    let call = |m: &str, p: &str, h: &[(&str, &str)], b: &str| s.handle_http(&request(m, p, h, b));
    // Signed-in routes answer 401 without a user.
    for (method, path) in [
        ("POST", "/webauthn/registrationOptions"),
        ("POST", "/webauthn/register"),
        ("GET", "/webauthn/passkeys"),
        ("POST", "/webauthn/passkeys/rename"),
        ("POST", "/webauthn/passkeys/remove"),
    ] {
        let r = call(method, path, &[], "");
        assert_eq!((r.status, body(&r)), (401, json!({"message": "Unauthorized"})), "{path}");
    }
    assert_eq!(call("GET", "/webauthn/registrationOptions", &auth, "").status, 405);
    assert_eq!(call("POST", "/webauthn/passkeys", &auth, "").status, 405);
    let options = body(&call("POST", "/webauthn/registrationOptions", &auth, ""));
    let (response, mut cred) = browser().create(&options, Key::es256());
    let registered = call("POST", "/webauthn/register", &auth, &json!({"response": response, "name": "Phone"}).to_string());
    assert_eq!(registered.status, 200);
    let passkey = body(&registered);
    assert_eq!(passkey["name"], "Phone");
    assert!(passkey["createdAt"].is_i64() && passkey["lastUsedAt"].is_null() && passkey.get("publicKey").is_none());
    assert_eq!(body(&call("GET", "/webauthn/passkeys", &auth, "")), json!([passkey]));
    // A replayed registration is a coded 400.
    let again = call("POST", "/webauthn/register", &auth, &json!({"response": response}).to_string());
    assert_eq!((again.status, code_of(&again).as_str()), (400, "InvalidWebAuthnChallenge"));
    // Sign-in: options for a named user list the passkey; the generic authenticate route logs in.
    let request_options = body(&call("POST", "/webauthn/authenticationOptions", &[], r#"{"email": "alice@example.com"}"#));
    assert_eq!(request_options["allowCredentials"][0]["id"], passkey["id"]);
    let assertion = browser().get(&request_options, &mut cred);
    let signed_in = call("POST", "/webauthn/authenticate", &[], &json!({"response": assertion}).to_string());
    assert_eq!(signed_in.status, 200);
    assert_eq!(body(&signed_in)["user"]["id"], json!(uid));
    assert!(body(&signed_in)["tokens"]["accessToken"].is_string());
    let unknown = call("POST", "/webauthn/authenticationOptions", &[], r#"{"username": "ghost"}"#);
    assert_eq!((unknown.status, code_of(&unknown).as_str()), (400, "UserNotFound"));
    let renamed = call("POST", "/webauthn/passkeys/rename", &auth, &json!({"id": passkey["id"], "name": "Work phone"}).to_string());
    assert_eq!(body(&renamed)["name"], "Work phone");
    let removed = call("POST", "/webauthn/passkeys/remove", &auth, &json!({"id": passkey["id"]}).to_string());
    assert_eq!((removed.status, body(&removed)), (200, Value::Null));
    let gone = call("POST", "/webauthn/passkeys/remove", &auth, &json!({"id": passkey["id"]}).to_string());
    assert_eq!((gone.status, code_of(&gone).as_str()), (400, "PasskeyNotFound"));
}

/// A browser in cookie mode: keeps cookies and echoes the CSRF token on same-origin POSTs.
struct Browser<'a> {
    server: &'a AccountsServer,
    jar: BTreeMap<String, String>,
}

impl Browser<'_> {
    fn send(&mut self, method: &str, path: &str, extra: &[(&str, &str)], body: &str) -> HttpResponse {
        let cookie = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let mut headers = extra.to_vec();
        if !cookie.is_empty() {
            headers.push(("cookie", &cookie));
        }
        let response = self.server.handle_http(&request(method, path, &headers, body));
        for (_, line) in response.headers.iter().filter(|(n, _)| n == "set-cookie") {
            let (name, value) = line.split(';').next().unwrap().split_once('=').unwrap();
            if line.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.into(), value.into());
            }
        }
        response
    }

    fn post(&mut self, path: &str, body: &str) -> HttpResponse {
        let csrf = self.jar.get("__Host-accounts_csrf").cloned().unwrap_or_default();
        self.send("POST", path, &[("origin", SITE), ("sec-fetch-site", "same-origin"), ("x-csrf-token", &csrf)], body)
    }
}

#[test]
fn cookie_mode_csrf_and_session_cookies() {
    let s = server(true, true);
    let (uid, _) = alice(&s);
    let mut b = Browser { server: &s, jar: BTreeMap::new() };
    assert_eq!(b.post("/password/authenticate", r#"{"user": {"email": "alice@example.com"}, "password": "correct horse"}"#).status, 200);
    // State-changing passkey routes need the CSRF token of the session, and a same-site request.
    let forged = b.send("POST", "/webauthn/registrationOptions", &[("origin", SITE), ("x-csrf-token", "forged")], "");
    assert_eq!((forged.status, code_of(&forged).as_str()), (403, "CsrfRefused"));
    let cross = b.send("POST", "/webauthn/authenticationOptions", &[("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")], "{}");
    assert_eq!((cross.status, code_of(&cross).as_str()), (403, "CsrfRefused"));
    let options = body(&b.post("/webauthn/registrationOptions", ""));
    let (response, mut cred) = browser().create(&options, Key::ed25519());
    let forged = b.send("POST", "/webauthn/register", &[("origin", SITE)], &json!({"response": response}).to_string());
    assert_eq!((forged.status, code_of(&forged).as_str()), (403, "CsrfRefused"));
    assert!(s.webauthn().list_passkeys(&uid).unwrap().is_empty());
    let passkey = body(&b.post("/webauthn/register", &json!({"response": response}).to_string()));
    assert_eq!(passkey["name"], "Passkey");
    assert_eq!(body(&b.send("GET", "/webauthn/passkeys", &[], ""))[0]["id"], passkey["id"]);
    // Out, then in again with the passkey: the session lives in the cookies.
    assert_eq!(b.post("/logout", "").status, 200);
    assert_eq!(b.send("GET", "/webauthn/passkeys", &[], "").status, 401);
    // Ambiguous mode: a named unknown user gets options shaped as a known one's.
    let known = body(&b.post("/webauthn/authenticationOptions", r#"{"username": "alice"}"#));
    let unknown = b.post("/webauthn/authenticationOptions", r#"{"username": "ghost"}"#);
    assert_eq!(unknown.status, 200);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&known), keys(&body(&unknown)));
    let assertion = browser().get(&known, &mut cred);
    let signed_in = b.post("/webauthn/authenticate", &json!({"response": assertion}).to_string());
    assert_eq!(signed_in.status, 200);
    assert!(body(&signed_in).get("tokens").is_none(), "the tokens live in cookies only");
    assert!(b.jar.contains_key("__Host-accounts_access"));
    assert_eq!(body(&b.send("GET", "/user", &[], ""))["id"], json!(uid));
    // Login CSRF: a cross-site sign-in is refused.
    let mut other = Browser { server: &s, jar: BTreeMap::new() };
    let request_options = s.webauthn().authentication_options(&json!({}), &no_info()).unwrap();
    let assertion = browser().get(&request_options, &mut cred);
    let cross = other.send(
        "POST",
        "/webauthn/authenticate",
        &[("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")],
        &json!({"response": assertion}).to_string(),
    );
    assert_eq!((cross.status, code_of(&cross).as_str()), (403, "CsrfRefused"));
}

#[test]
fn a_null_user_handle_over_rest_is_a_coded_400_and_the_genuine_passkey_still_signs_in() {
    // F5 through the web edge: a coded 400 (no panic, no 500), and forged assertions for a listed
    // credential id do not lock its owner out (F1).
    let s = server(false, false);
    let (uid, login) = alice(&s);
    let bearer = format!("Bearer {}", login.tokens.access_token);
    let auth = [("authorization", bearer.as_str())];
    let call = |m: &str, p: &str, h: &[(&str, &str)], b: &str| s.handle_http(&request(m, p, h, b));
    let options = body(&call("POST", "/webauthn/registrationOptions", &auth, ""));
    let (response, mut cred) = browser().create(&options, Key::es256());
    assert_eq!(call("POST", "/webauthn/register", &auth, &json!({"response": response}).to_string()).status, 200);
    for _ in 0..12 {
        let listed = body(&call("POST", "/webauthn/authenticationOptions", &[], r#"{"username": "alice"}"#));
        let mut forged = authenticator::Credential { id: cred.id.clone(), key: Key::es256(), user_handle: cred.user_handle.clone(), counter: 0 };
        let mut assertion = browser().get(&listed, &mut forged);
        assertion["response"]["userHandle"] = Value::Null;
        let r = call("POST", "/webauthn/authenticate", &[], &json!({"response": assertion}).to_string());
        assert_eq!((r.status, code_of(&r).as_str()), (400, "WebAuthnVerificationFailed"));
    }
    // The owner signs in from another address.
    let request_options = body(&call("POST", "/webauthn/authenticationOptions", &[], "{}"));
    let assertion = browser().get(&request_options, &mut cred);
    let mut home = request("POST", "/webauthn/authenticate", &[], &json!({"response": assertion}).to_string());
    home.peer = Some("198.51.100.1".parse().unwrap());
    let signed_in = s.handle_http(&home);
    assert_eq!((signed_in.status, body(&signed_in)["user"]["id"].clone()), (200, json!(uid)));
}
