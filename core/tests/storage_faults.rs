//! A database that goes wrong under the server (docs/reliability.md, "Storage faults"): a full
//! disk, a read-only file, a corrupted file, a PostgreSQL server stopped and started again. Each
//! gives coded `StorageError`s — never a panic, never another code — and the server works again
//! once the database is back.
//!
//! The disk tests mount a small tmpfs, so they run in a child process (this binary again, test
//! `disk_child`) inside a private mount namespace (`unshare -m`, or `unshare -rm` without root):
//! nothing is mounted on the host.
mod common;
use accounts_core::*;
use common::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn mount(args: &[&str]) {
    let status = Command::new("mount").args(args).status().unwrap();
    assert!(status.success(), "mount {args:?}");
}

/// Ok, or exactly `StorageError`.
fn storage_error_or_ok<T: std::fmt::Debug>(r: Result<T>, what: &str) -> bool {
    match r {
        Ok(_) => true,
        Err(e) if e.code == ErrorCode::StorageError => false,
        Err(e) => panic!("{what}: expected Ok or StorageError, got {e:?}"),
    }
}

fn bulky_user(n: usize) -> serde_json::Value {
    // 16 KiB of profile per user: the disk fills in a few hundred users.
    json!({"username": format!("user{n}"), "password": "a password", "profile": {"notes": "x".repeat(16 * 1024)}})
}

/// The half that runs inside the mount namespace. Does nothing unless started by `disk_full_and_read_only`.
#[test]
fn disk_child() {
    let Ok(dir) = std::env::var("ACCOUNTS_DISK_DIR") else { return };
    let dir = Path::new(&dir);
    mount(&["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir.to_str().unwrap()]);
    // A filler file takes part of the disk; deleting it later is "the disk has room again".
    std::fs::write(dir.join("filler"), vec![0u8; 1536 * 1024]).unwrap();
    let db = format!("sqlite:{}", dir.join("accounts.db").display());
    let s = AccountsServer::new(config(&db, json!({})), Callbacks::default()).unwrap();

    // Full disk: writes fail with StorageError; what was written stays readable.
    let mut stored = 0;
    let full = loop {
        match s.password().create_user(&bulky_user(stored)) {
            Ok(_) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 10_000, "the disk never filled");
    };
    assert_eq!(full.code, ErrorCode::StorageError, "{full:?}");
    assert!(stored > 0);
    let first = s.password().find_user_by_username("user0");
    assert!(storage_error_or_ok(first.as_ref().map(|_| ()).map_err(|e| e.clone()), "read on a full disk"));
    if let Ok(found) = first {
        assert!(found.is_some(), "a user written before the disk filled is gone");
    }
    for _ in 0..20 {
        // Logins and refreshes on a full disk: coded errors or success, nothing else.
        storage_error_or_ok(s.login_with_service("password", &json!({"user": "user0", "password": "a password"}), &no_info()), "login");
    }
    // Room again: the same server writes again, and nothing acknowledged was lost.
    std::fs::remove_file(dir.join("filler")).unwrap();
    s.password().create_user(&json!({"username": "after", "password": "a password"})).expect("writes work once the disk has room");
    assert_eq!(
        s.password().find_user_by_username(&format!("user{}", stored - 1)).unwrap().map(|u| u.username),
        Some(Some(format!("user{}", stored - 1)))
    );
    drop(s);
    let c = rusqlite::Connection::open(dir.join("accounts.db")).unwrap();
    assert_eq!(c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).unwrap(), "ok");
    drop(c);

    // Read-only: the same file seen through a read-only bind mount cannot be opened for writing.
    let ro = dir.join("ro");
    std::fs::create_dir(&ro).unwrap();
    mount(&["--bind", dir.to_str().unwrap(), ro.to_str().unwrap()]);
    mount(&["-o", "remount,bind,ro", ro.to_str().unwrap()]);
    let ro_db = format!("sqlite:{}", ro.join("accounts.db").display());
    match AccountsServer::new(config(&ro_db, json!({})), Callbacks::default()) {
        Ok(s) => assert!(!storage_error_or_ok(s.password().create_user(&json!({"username": "ro"})), "write to a read-only file")),
        Err(e) => assert_eq!(e.code, ErrorCode::StorageError, "{e:?}"),
    }
    // And a new file on a read-only mount.
    let missing = format!("sqlite:{}", ro.join("new.db").display());
    let e = AccountsServer::new(config(&missing, json!({})), Callbacks::default()).err().expect("no database on a read-only mount");
    assert_eq!(e.code, ErrorCode::StorageError);
    // Back to the writable path: it works.
    let s = AccountsServer::new(config(&db, json!({})), Callbacks::default()).unwrap();
    assert!(s.password().find_user_by_username("after").unwrap().is_some());
    println!("DISK-CHILD-OK {stored}");
}

#[test]
fn disk_full_and_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = unsafe_is_root();
    let mut cmd = Command::new("unshare");
    cmd.args(if root { vec!["-m"] } else { vec!["-r", "-m"] });
    cmd.arg(std::env::current_exe().unwrap()).args(["--exact", "disk_child", "--nocapture", "--test-threads=1"]);
    let out = cmd.env("ACCOUNTS_DISK_DIR", dir.path()).output().expect("unshare (util-linux) runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("DISK-CHILD-OK"), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

fn unsafe_is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

#[test]
fn a_corrupted_file_gives_storage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.db");
    let db = format!("sqlite:{}", path.display());
    {
        let s = AccountsServer::new(config(&db, json!({})), Callbacks::default()).unwrap();
        for n in 0..50 {
            s.password().create_user(&bulky_user(n)).unwrap();
        }
    }
    let clean = std::fs::read(&path).unwrap();
    // Garbage over the header, over the schema page, over data pages in the middle.
    for (at, len) in [(0, 100), (100, 4000), (4096, 4096), (clean.len() / 2, 8192), (clean.len() - 4096, 4096)] {
        let mut bytes = clean.clone();
        for (i, b) in bytes.iter_mut().skip(at).take(len).enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
        std::fs::write(&path, &bytes).unwrap();
        let _ = std::fs::remove_file(dir.path().join("accounts.db-wal"));
        let _ = std::fs::remove_file(dir.path().join("accounts.db-shm"));
        match AccountsServer::new(config(&db, json!({})), Callbacks::default()) {
            Err(e) => assert_eq!(e.code, ErrorCode::StorageError, "open after corrupting {at}+{len}: {e:?}"),
            Ok(s) => {
                for n in [0, 25, 49] {
                    storage_error_or_ok(s.password().find_user_by_username(&format!("user{n}")), "read");
                }
                storage_error_or_ok(s.password().create_user(&json!({"username": "new"})), "write");
                // A page of garbage that still parses reads as rows that are not there: the user is
                // then unknown, which is what destroyed data looks like (integrity_check finds it).
                match s.login_with_service("password", &json!({"user": "user1", "password": "a password"}), &no_info()) {
                    Ok(_) => {}
                    Err(e) => assert!(matches!(e.code, ErrorCode::StorageError | ErrorCode::InvalidCredentials), "login: {e:?}"),
                }
            }
        }
    }
}

#[test]
fn postgres_stopped_and_started_again() {
    let (Some(url), Ok(pgctl)) = (pg_database(), std::env::var("ACCOUNTS_TEST_PG_CTL")) else { return };
    let s = AccountsServer::new(config(&url, json!({})), Callbacks::default()).unwrap();
    let id = s.password().create_user(&json!({"username": "before", "password": "a password"})).unwrap();
    let login = s.login_with_user(&id, &no_info()).unwrap();
    assert!(Command::new(&pgctl).arg("stop").status().unwrap().success());
    let down = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(!storage_error_or_ok(s.password().create_user(&json!({"username": "during"})), "write while down"));
        assert!(!storage_error_or_ok(s.resume_session(&login.tokens.access_token), "resume while down"));
        assert!(!storage_error_or_ok(s.password().find_user_by_username("before"), "read while down"));
    }));
    // Started again whatever happened, so the other suites keep their server.
    assert!(Command::new(&pgctl).arg("start").status().unwrap().success());
    if let Err(p) = down {
        std::panic::resume_unwind(p);
    }
    // The same server object recovers: its pool drops the dead connections.
    s.password().create_user(&json!({"username": "after", "password": "a password"})).expect("writes after the restart");
    assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().id, id);
    let refreshed = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
    assert_eq!(s.resume_session(&refreshed.tokens.access_token).unwrap().id, id);
}
