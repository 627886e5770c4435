#![allow(dead_code)]
use accounts_core::host::*;
use accounts_core::*;
use serde_json::{Value, json};
use std::sync::Arc;

pub const SECRET: &str = "test-secret-0123456789abcdef-0123456789";

/// Fast argon2 parameters so tests spend their time on behaviour, not hashing.
pub fn config(db: &str, extra: Value) -> Config {
    let mut base = json!({
        "db": db,
        "tokenSecret": SECRET,
        "services": {"password": {"hashing": {"memoryKib": 256, "iterations": 1, "parallelism": 1}}}
    });
    merge(&mut base, extra);
    Config::from_value(base).unwrap()
}

include!("merge.rs");

pub fn memory() -> AccountsServer {
    AccountsServer::new(config("sqlite::memory:", json!({})), Callbacks::default()).unwrap()
}

pub fn with(extra: Value, callbacks: Callbacks) -> AccountsServer {
    AccountsServer::new(config("sqlite::memory:", extra), callbacks).unwrap()
}

pub fn file(dir: &tempfile::TempDir, extra: Value) -> (AccountsServer, std::path::PathBuf) {
    let path = dir.path().join("accounts.db");
    let s = AccountsServer::new(config(&format!("sqlite:{}", path.display()), extra), Callbacks::default()).unwrap();
    (s, path)
}

pub fn clocked(extra: Value) -> (AccountsServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let s = AccountsServer::with_clock(config("sqlite::memory:", extra), Callbacks::default(), clock.clone()).unwrap();
    (s, clock)
}

pub fn no_info() -> ConnectionInfo {
    ConnectionInfo::default()
}

/// Creates alice (email + username + password) and logs her in.
pub fn alice(s: &AccountsServer) -> (String, LoginResult) {
    let id = s
        .password()
        .create_user(&json!({"username": "alice", "email": "Alice@Example.com", "password": "correct horse", "profile": {"name": "Alice"}}))
        .unwrap();
    let login = s.login_with_service("password", &json!({"user": {"email": "alice@example.com"}, "password": "correct horse"}), &no_info()).unwrap();
    (id, login)
}

pub fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
    r.unwrap_err().code
}

/// Decodes a JWT payload without verifying (tests inspect contents).
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A server with a manual clock whose `sendMail` collects mails.
pub fn mailbox(extra: Value) -> (AccountsServer, Arc<ManualClock>, Arc<std::sync::Mutex<Vec<Value>>>) {
    mailbox_on("sqlite::memory:", extra)
}

/// As [`mailbox`], on the database `db`.
pub fn mailbox_on(db: &str, extra: Value) -> (AccountsServer, Arc<ManualClock>, Arc<std::sync::Mutex<Vec<Value>>>) {
    let mails = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = mails.clone();
    let callbacks = Callbacks {
        send_mail: Some(Arc::new(move |m: &Value| {
            sink.lock().unwrap().push(m.clone());
            Ok(())
        })),
        ..Callbacks::default()
    };
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let s = AccountsServer::with_clock(config(db, extra), callbacks, clock.clone()).unwrap();
    (s, clock, mails)
}

/// The token at the end of the link in the last mail (and that mail's type).
pub fn last_link(mails: &std::sync::Mutex<Vec<Value>>) -> (String, String) {
    let m = mails.lock().unwrap().last().cloned().expect("a mail was sent");
    let text = m["text"].as_str().unwrap();
    let token = text.rsplit('/').next().unwrap().to_string();
    (m["type"].as_str().unwrap().to_string(), token)
}

/// The TOTP code of a base32 secret at `unix_secs` (computed independently of the server).
pub fn totp_code(base32: &str, unix_secs: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(base32).unwrap();
    totp_rs::Builder::new().with_secret(secret.as_ref().to_vec()).build().unwrap().generate(unix_secs).to_string()
}

/// The URL of a fresh, empty PostgreSQL database on the server named by `ACCOUNTS_TEST_PG_URL`,
/// or `None` when no server is given (a failure instead when `ACCOUNTS_REQUIRE_PG=1`).
pub fn pg_database() -> Option<String> {
    let Ok(base) = std::env::var("ACCOUNTS_TEST_PG_URL") else {
        assert!(std::env::var("ACCOUNTS_REQUIRE_PG").as_deref() != Ok("1"), "ACCOUNTS_REQUIRE_PG=1 but ACCOUNTS_TEST_PG_URL is not set");
        return None;
    };
    let name = format!("accounts_test_{}", secret::random_hex(8).unwrap());
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("connect to ACCOUNTS_TEST_PG_URL");
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let (prefix, _) = base.rsplit_once('/').expect("ACCOUNTS_TEST_PG_URL ends with /<database>");
    Some(format!("{prefix}/{name}"))
}

/// Callbacks whose `sendMail` keeps the last link token mailed to each address (tests that mail
/// many users at once, from many threads).
pub fn link_sink() -> (Callbacks, Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>) {
    let links = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let sink = links.clone();
    let callbacks = Callbacks {
        send_mail: Some(Arc::new(move |m: &Value| {
            let token = m["text"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_string();
            sink.lock().unwrap().insert(m["to"].as_str().unwrap_or_default().to_string(), token);
            Ok(())
        })),
        ..Callbacks::default()
    };
    (callbacks, links)
}
