//! Inline calls (core/src/inline.rs, docs/architecture.md "Inline calls"): which calls a host may
//! run on a thread that cannot wait, that they see committed writes at once, and that a writer
//! holding the lock from another connection does not stop reads (WAL readers never wait) and makes
//! writes give up having changed nothing. Busy connections: the unit test in core/src/store/sqlite.rs.
mod common;
use accounts_core::callbacks::Callbacks;
use accounts_core::host::inline::without_waiting;
use accounts_core::host::*;
use accounts_core::*;
use common::*;
use serde_json::json;
use std::sync::Arc;

fn file_server(dir: &tempfile::TempDir, callbacks: Callbacks) -> (AccountsServer, String) {
    let path = dir.path().join("accounts.db").display().to_string();
    (AccountsServer::new(config(&format!("sqlite:{path}"), json!({})), callbacks).unwrap(), path)
}

#[test]
fn which_calls_may_run_inline() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = file_server(&dir, Callbacks::default());
    for op in input::INLINE_OPERATIONS {
        assert!(s.may_run_inline(op), "{op} on SQLite with no hooks");
    }
    for op in ["loginWithService", "createUser", "revokeSession", "deactivateUser", "nonsense"] {
        assert!(!s.may_run_inline(op), "{op} does not run inline");
    }
    // A hook the read would run keeps it off the caller's thread.
    let validator = Callbacks { resume_session_validator: Some(Arc::new(|_: &User, _: &Session| Ok(()))), ..Default::default() };
    let dir2 = tempfile::tempdir().unwrap();
    let (hooked, _) = file_server(&dir2, validator);
    assert!(!hooked.may_run_inline("resumeSession"));
    assert!(hooked.may_run_inline("findUserById"));
    let id = hooked.on(events::RESUME_SESSION_SUCCESS, Arc::new(|_, _| Ok(())));
    assert!(!hooked.may_run_inline("resumeSession"));
    hooked.off(id);
    assert!(hooked.may_run_inline("refreshTokens"));
    let id = hooked.on(events::REFRESH_TOKEN_REUSED, Arc::new(|_, _| Ok(())));
    assert!(!hooked.may_run_inline("refreshTokens"), "a listener the write would run");
    hooked.off(id);
    let id = hooked.on(events::LOGOUT_SUCCESS, Arc::new(|_, _| Ok(())));
    assert!(!hooked.may_run_inline("logout"));
    hooked.off(id);
    let payload = Callbacks { create_jwt_payload: Some(Arc::new(|_, _| Ok(Default::default()))), ..Default::default() };
    let dir3 = tempfile::tempdir().unwrap();
    assert!(!file_server(&dir3, payload).0.may_run_inline("refreshTokens"));
    // PostgreSQL waits for the network: never inline.
    if let Some(url) = pg_database() {
        let pg = AccountsServer::new(config(&url, json!({})), Callbacks::default()).unwrap();
        assert!(!pg.may_run_inline("resumeSession"));
    }
}

#[test]
fn inline_reads_see_committed_writes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = file_server(&dir, Callbacks::default());
    for i in 0..50 {
        let id = s.password().create_user(&json!({"username": format!("u{i}"), "password": "a password"})).unwrap();
        let login = s.login_with_user(&id, &no_info()).unwrap();
        let user = without_waiting(|| s.resume_session(&login.tokens.access_token)).expect("ran inline").unwrap();
        assert_eq!(user.id, id);
        assert_eq!(without_waiting(|| s.find_user_by_id(&id)).expect("ran inline").unwrap().unwrap().id, id);
        assert_eq!(without_waiting(|| s.list_sessions(&id)).expect("ran inline").unwrap().len(), 1);
        s.logout(&login.tokens.access_token).unwrap();
        let after = without_waiting(|| s.resume_session(&login.tokens.access_token)).expect("ran inline");
        assert_eq!(after.unwrap_err().code, ErrorCode::InvalidSession, "the logout is seen at once");
    }
}

#[test]
fn a_writer_holding_the_lock_stops_inline_writes_not_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (s, path) = file_server(&dir, Callbacks::default());
    let id = s.password().create_user(&json!({"username": "ada"})).unwrap();
    // Another process holds the write lock with an uncommitted change: WAL readers do not wait.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE; UPDATE users SET username = 'changed';").unwrap();
    let started = std::time::Instant::now();
    let user = without_waiting(|| s.find_user_by_id(&id)).expect("ran inline").unwrap().unwrap();
    assert_eq!(user.username.as_deref(), Some("ada"), "the committed state, not the pending write");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // A write from the library meanwhile would wait for that lock: inline, it gives up having
    // changed nothing, and the same call then succeeds where it may wait.
    other.execute_batch("COMMIT").unwrap();
    let login = s.login_with_user(&id, &no_info()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE; UPDATE users SET updated_at = updated_at + 1;").unwrap();
    let (access, refresh) = (&login.tokens.access_token, &login.tokens.refresh_token);
    assert!(without_waiting(|| s.refresh_tokens(access, refresh, &no_info())).is_none(), "gave up on the held lock");
    assert!(without_waiting(|| s.logout(access)).is_none());
    other.execute_batch("COMMIT").unwrap();
    let refreshed = without_waiting(|| s.refresh_tokens(access, refresh, &no_info())).expect("ran inline").unwrap();
    assert_eq!(refreshed.user.id, id, "the abandoned refresh had not rotated the token");
    without_waiting(|| s.logout(&refreshed.tokens.access_token)).expect("ran inline").unwrap();
    let gone = without_waiting(|| s.resume_session(&refreshed.tokens.access_token)).expect("ran inline");
    assert_eq!(gone.unwrap_err().code, ErrorCode::InvalidSession);
    let user = without_waiting(|| s.find_user_by_id(&id)).expect("ran inline").unwrap().unwrap();
    assert_eq!(user.username.as_deref(), Some("changed"), "committed writes are seen at once");
}
