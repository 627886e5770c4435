mod common;
use accounts_core::*;
use common::*;
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Barrier};

#[test]
fn thirty_two_threads_refreshing_one_token_keep_one_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = file(&dir, json!({}));
    let s = Arc::new(s);
    let (_, login) = alice(&s);
    let barrier = Arc::new(Barrier::new(32));
    let handles: Vec<_> = (0..32)
        .map(|_| {
            let (s, b, t) = (s.clone(), barrier.clone(), login.tokens.clone());
            std::thread::spawn(move || {
                b.wait();
                s.refresh_tokens(&t.access_token, &t.refresh_token, &ConnectionInfo::default())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let successors: HashSet<String> = results.iter().map(|r| r.as_ref().unwrap().tokens.refresh_token.clone()).collect();
    assert_eq!(successors.len(), 1, "every concurrent refresh got the same successor");
    let sessions = s.list_sessions(&login.user.id).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!((sessions[0].refresh_count, sessions[0].valid), (1, true));
    let next = successors.into_iter().next().unwrap();
    let at = &results[0].as_ref().unwrap().tokens.access_token;
    let r2 = s.refresh_tokens(at, &next, &ConnectionInfo::default()).unwrap();
    s.resume_session(&r2.tokens.access_token).unwrap();
}

#[test]
fn eight_threads_of_mixed_operations_on_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = file(&dir, json!({}));
    let s = Arc::new(s);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || -> Result<()> {
                let name = format!("user{t}");
                let id = s.password().create_user(&json!({"username": name, "email": format!("{name}@example.com"), "password": "password-123"}))?;
                for i in 0..15 {
                    let login = s.login_with_service("password", &json!({"user": name, "password": "password-123"}), &ConnectionInfo::default())?;
                    assert_eq!(s.resume_session(&login.tokens.access_token)?.id, id);
                    let r = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &ConnectionInfo::default())?;
                    s.find_user_by_id(&id)?.unwrap();
                    s.list_sessions(&id)?;
                    if i % 3 == 0 {
                        s.deactivate_user(&id)?;
                        s.activate_user(&id)?;
                    }
                    s.logout(&r.tokens.access_token)?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    for t in 0..8 {
        let u = s.password().find_user_by_username(&format!("user{t}")).unwrap().unwrap();
        let sessions = s.list_sessions(&u.id).unwrap();
        assert_eq!(sessions.len(), 15);
        assert!(sessions.iter().all(|x| !x.valid && x.refresh_count == 1));
    }
}

#[test]
fn a_file_database_keeps_its_data_across_reopen_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (s, path) = file(&dir, json!({}));
    let (id, login) = alice(&s);
    drop(s);
    let s = AccountsServer::new(config(&format!("sqlite:{}", path.display()), json!({})), Callbacks::default()).unwrap();
    assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().id, id);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, 7);
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let e = AccountsServer::new(config(&format!("sqlite:{}", path.display()), json!({})), Callbacks::default()).err().unwrap();
    assert_eq!(e.code, ErrorCode::StorageError);
}
