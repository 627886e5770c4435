//! Inline reads (core/src/inline.rs, docs/architecture.md "Inline reads"): which calls a host may
//! run on a thread that cannot wait, that they see committed writes at once, and that a writer
//! holding the lock does not stop them (WAL readers never wait). Busy connections making an inline
//! read give up: the unit test in core/src/store/sqlite.rs.
mod common;
use accounts_core::callbacks::Callbacks;
use accounts_core::inline::without_waiting;
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
    for op in input::INLINE_READS {
        assert!(s.may_run_inline(op), "{op} on SQLite with no hooks");
    }
    for op in ["refreshTokens", "logout", "loginWithService", "createUser", "revokeSession", "nonsense"] {
        assert!(!s.may_run_inline(op), "{op} is not an inline read");
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
fn a_writer_holding_the_lock_does_not_stop_inline_reads() {
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
    // A write from the library meanwhile would wait for that lock: it is never run inline.
    assert!(!s.may_run_inline("deactivateUser"));
    other.execute_batch("COMMIT").unwrap();
    let user = without_waiting(|| s.find_user_by_id(&id)).expect("ran inline").unwrap().unwrap();
    assert_eq!(user.username.as_deref(), Some("changed"), "committed writes are seen at once");
}
