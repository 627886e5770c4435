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

/// A listener registered after the host's `may_run_inline` check (by another thread, while the
/// call runs) never runs inside an inline call: the call takes its listeners once, at its start,
/// and any listener there abandons it before it changes anything (the host runs it again where
/// waiting is fine, and the listener then runs once).
#[test]
fn a_listener_registered_after_the_check_abandons_the_inline_call_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = file_server(&dir, Callbacks::default());
    let id = s.password().create_user(&json!({"username": "ann", "password": "a password"})).unwrap();
    let login = s.login_with_user(&id, &no_info()).unwrap();
    let (access, refresh) = (login.tokens.access_token.clone(), login.tokens.refresh_token.clone());
    assert!(s.may_run_inline("logout") && s.may_run_inline("refreshTokens") && s.may_run_inline("resumeSession"));
    let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for event in [events::LOGOUT_SUCCESS, events::REFRESH_TOKENS_SUCCESS, events::REFRESH_TOKEN_REUSED, events::RESUME_SESSION_SUCCESS] {
        let ran = ran.clone();
        s.on(
            event,
            Arc::new(move |_, _| {
                ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }),
        );
    }
    assert!(without_waiting(|| s.resume_session(&access)).is_none(), "resume abandoned");
    assert!(without_waiting(|| s.refresh_tokens(&access, &refresh, &no_info())).is_none(), "refresh abandoned");
    assert!(without_waiting(|| s.logout(&access)).is_none(), "logout abandoned");
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 0, "no listener ran inline");
    let session = s.find_session_by_access_token(&access).unwrap();
    assert!(session.valid && session.refresh_count == 0, "nothing was written");
    // Run again where waiting is fine: once each.
    let refreshed = s.refresh_tokens(&access, &refresh, &no_info()).unwrap();
    s.logout(&refreshed.tokens.access_token).unwrap();
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// A listener registered while a call runs (here by the call's own validator) does not get that
/// call's event; the next call's it does.
#[test]
fn a_call_emits_to_the_listeners_it_started_with() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let server: Arc<std::sync::OnceLock<std::sync::Weak<AccountsServer>>> = Arc::default();
    let ran = Arc::new(AtomicUsize::new(0));
    let (srv, counter) = (server.clone(), ran.clone());
    let registered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let validator = Callbacks {
        resume_session_validator: Some(Arc::new(move |_: &User, _: &Session| {
            if !registered.swap(true, Ordering::SeqCst)
                && let Some(s) = srv.get().and_then(|w| w.upgrade())
            {
                let counter = counter.clone();
                s.on(
                    events::RESUME_SESSION_SUCCESS,
                    Arc::new(move |_, _| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }),
                );
            }
            Ok(())
        })),
        ..Default::default()
    };
    let s = Arc::new(file_server(&dir, validator).0);
    server.set(Arc::downgrade(&s)).unwrap();
    let id = s.password().create_user(&json!({"username": "bo", "password": "a password"})).unwrap();
    let login = s.login_with_user(&id, &no_info()).unwrap();
    s.resume_session(&login.tokens.access_token).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 0, "registered during the call: not its listener");
    s.resume_session(&login.tokens.access_token).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}
