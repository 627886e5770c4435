//! The bodies of the fuzz targets, shared by the libFuzzer binaries (`fuzz_targets/`) and the
//! corpus replay test (`tests/replay.rs`). Each must return normally for every input: a panic, an
//! abort or a sanitizer report is a finding (docs/reliability.md, "Fuzzing").
//!
//! Inputs are split at NUL bytes into arguments (C strings cannot hold NUL anyway). An argument
//! `$id`, `$access` or `$refresh` stands for a real user id, access token or refresh token of the
//! shared server, so the fuzzer reaches the code behind a valid token without guessing one.

use accounts_core::{AccountsServer, Callbacks, Config, ConnectionInfo, ImpersonationTarget, VerifyOptions};
use serde_json::{Value, json};
use std::sync::{Mutex, MutexGuard};

const SECRET: &str = "fuzz-secret-0123456789abcdef-0123456789";
/// The shared server starts over after this many runs, so its database does not grow without bound.
pub(crate) const RUNS_PER_SERVER: u64 = 20_000;

/// The server every run shares (in-memory SQLite, cheap argon2), with one logged-in user.
pub struct Fixture {
    pub server: AccountsServer,
    pub user_id: String,
    pub access: String,
    pub refresh: String,
    runs: u64,
}

/// The configuration of the shared server, also what the C target passes to `accounts_server_new`.
pub fn config_json() -> String {
    let off = json!({"accountIp": {"max": 0, "window": 900}, "account": {"max": 0, "window": 900}, "ip": {"max": 0, "window": 900}});
    json!({
        "db": "sqlite::memory:",
        "tokenSecret": SECRET,
        "siteUrl": "http://localhost",
        "services": {"password": {"hashing": {"memoryKib": 64, "iterations": 1, "parallelism": 1}}},
        // High limits: the fuzzer guesses a lot, and refusals would hide the code behind them.
        "attemptLimits": {"password": off, "secondFactor": off, "linkToken": off},
        // The web edge in cookie mode (bearer tokens work beside it), behind a loopback proxy.
        "web": {"cookies": true, "trustedProxies": ["127.0.0.0/8", "::1"]}
    })
    .to_string()
}

impl Fixture {
    fn new() -> Fixture {
        let config = Config::from_json(&config_json()).expect("fuzz config");
        let server = AccountsServer::new(config, Callbacks::default()).expect("fuzz server");
        let user_id =
            server.password().create_user(&json!({"username": "fuzz", "email": "fuzz@example.com", "password": "fuzz password"})).expect("fuzz user");
        let login = server.login_with_user(&user_id, &ConnectionInfo::default()).expect("fuzz login");
        Fixture { server, user_id, access: login.tokens.access_token, refresh: login.tokens.refresh_token, runs: 0 }
    }

    /// An argument with the placeholders replaced.
    pub fn arg(&self, raw: &str) -> String {
        placeholder(raw, &self.user_id, &self.access, &self.refresh)
    }
}

/// `raw`, or the value it stands for: `$id`, `$access`, `$refresh`.
pub(crate) fn placeholder(raw: &str, user_id: &str, access: &str, refresh: &str) -> String {
    match raw {
        "$id" => user_id,
        "$access" => access,
        "$refresh" => refresh,
        other => other,
    }
    .to_string()
}

static FIXTURE: Mutex<Option<Fixture>> = Mutex::new(None);

/// The shared fixture, fresh every [`RUNS_PER_SERVER`] runs.
pub fn fixture() -> MutexGuard<'static, Option<Fixture>> {
    let mut guard = FIXTURE.lock().unwrap_or_else(|p| p.into_inner());
    let stale = guard.as_ref().is_none_or(|f| f.runs >= RUNS_PER_SERVER);
    if stale {
        *guard = Some(Fixture::new());
    }
    if let Some(f) = guard.as_mut() {
        f.runs += 1;
    }
    guard
}

/// The first `n` NUL-separated parts of `data` as text (invalid UTF-8 replaced), missing ones empty.
pub fn parts(data: &[u8], n: usize) -> Vec<String> {
    let mut out: Vec<String> = data.split(|b| *b == 0).take(n).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
    out.resize(n, String::new());
    out
}

/// Config parsing and validation: any bytes, as JSON text and as a JSON value.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(config) = Config::from_json(text) {
            let _ = config.validate();
        }
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let _ = Config::from_value(value);
    }
}

/// Access and refresh token verification: stateless with fuzzed options, and by the server.
pub fn tokens(data: &[u8]) {
    let p = parts(data, 3);
    let guard = fixture();
    let Some(f) = guard.as_ref() else { return };
    let (a, b) = (f.arg(&p[0]), f.arg(&p[1]));
    let options: VerifyOptions = serde_json::from_str(&p[2]).unwrap_or_else(|_| VerifyOptions {
        secret: Some(SECRET.into()),
        algorithm: Some("HS256".into()),
        ..VerifyOptions::default()
    });
    let _ = accounts_core::verify_access_token(&a, &options);
    let _ = f.server.resume_session(&a);
    let _ = f.server.find_session_by_access_token(&a);
    let _ = f.server.refresh_tokens(&a, &b, &ConnectionInfo::default());
    let target: ImpersonationTarget = serde_json::from_str(&p[2]).unwrap_or_default();
    let _ = f.server.impersonate(&a, &target, &ConnectionInfo::default());
}

/// Link tokens (verification, reset, enrollment, magic link) and identifier parsing.
pub fn links_and_identifiers(data: &[u8]) {
    let p = parts(data, 3);
    let _ = accounts_core::host::identifiers::normalize_email(&p[0]);
    let _ = accounts_core::host::identifiers::normalize_username(&p[0]);
    let _ = accounts_core::host::identifiers::username_key(&p[0]);
    let guard = fixture();
    let Some(f) = guard.as_ref() else { return };
    let (a, b, c) = (f.arg(&p[0]), f.arg(&p[1]), f.arg(&p[2]));
    let pw = f.server.password();
    let _ = pw.find_user_by_email(&a);
    let _ = pw.find_user_by_username(&a);
    let _ = pw.verify_email(&a);
    let _ = pw.reset_password(&a, &b, Some(&c).filter(|c| !c.is_empty()).map(String::as_str), &ConnectionInfo::default());
    let _ = f.server.login_with_service("magicLink", &json!({"token": a, "code": b}), &ConnectionInfo::default());
    let _ = f.server.login_with_service("password", &json!({"user": a, "password": b, "code": c}), &ConnectionInfo::default());
    let _ = pw.two_factor().unset(&a, &b);
}

/// The web edge: method, path, header lines (`name: value`, `$access` / `$refresh` replaced by the
/// shared session's tokens), the raw body and the peer. Never a panic, never a 5xx.
pub fn web(data: &[u8]) {
    let mut raw = data.splitn(5, |b| *b == 0);
    let mut next = || raw.next().unwrap_or_default();
    let (method, path, headers, body, peer) = (next(), next(), next(), next().to_vec(), next());
    let guard = fixture();
    let Some(f) = guard.as_ref() else { return };
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace("$access", &f.access).replace("$refresh", &f.refresh);
    let headers = text(headers)
        .lines()
        .map(|l| match l.split_once(':') {
            Some((n, v)) => (n.to_string(), v.trim_start().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect();
    let peer = accounts_core::web::HttpRequest::peer_from(Some(&text(peer)));
    let request = accounts_core::web::HttpRequest { method: text(method), path: text(path), query: None, headers, body, peer };
    // Logging the shared session out would starve the other targets of a valid token.
    if request.path.to_ascii_lowercase().contains("logout") {
        return;
    }
    let response = f.server.handle_http(&request);
    assert!(response.status < 500, "{request:?} -> {response:?}");
    let _: serde_json::Value = serde_json::from_slice(&response.body).expect("a JSON body");
    match f.server.http_user(&request) {
        Ok(_) => {}
        Err(e) => assert!(e.details.is_some(), "{e:?}"),
    }
}

/// The accounts-js importer: any JSON, as one record or a list.
pub fn import(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let guard = fixture();
    let Some(f) = guard.as_ref() else { return };
    let records = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    let _ = f.server.import_users(&records);
}

mod c_api;
pub use c_api::c_api;
