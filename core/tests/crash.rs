//! Crash safety (docs/reliability.md, "Kill -9"): a child process (this test binary again, running
//! `crash_child`) does acknowledged writes — createUser, login, refresh, password reset — from
//! several threads and is killed with SIGKILL at a random moment. It prints an ACK line only after
//! a call returned. After each kill every acknowledged write must be in the database, no refresh
//! lineage forked, and SQLite's `integrity_check` must say ok. 20 rounds per backend.
mod common;
use accounts_core::host::*;
use accounts_core::*;
use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 20;
const CHILD_THREADS: usize = 4;

fn random_below(n: u64) -> u64 {
    u64::from_str_radix(&secret::random_hex(8).unwrap(), 16).unwrap() % n
}

/// A server whose `sendMail` keeps the last link token per address.
fn server(db: &str) -> (AccountsServer, Arc<Mutex<HashMap<String, String>>>) {
    let (callbacks, links) = link_sink();
    (AccountsServer::new(config(db, json!({})), callbacks).unwrap(), links)
}

/// The child: writes until it is killed. Does nothing unless started by `kill_nine_rounds`.
#[test]
fn crash_child() {
    let (Ok(db), Ok(tag)) = (std::env::var("ACCOUNTS_CRASH_DB"), std::env::var("ACCOUNTS_CRASH_TAG")) else { return };
    let (s, links) = server(&db);
    std::thread::scope(|scope| {
        for t in 0..CHILD_THREADS {
            let (s, links, tag) = (&s, &links, &tag);
            scope.spawn(move || {
                for i in 0.. {
                    let name = format!("{tag}t{t}n{i}");
                    let email = format!("{name}@example.com");
                    let id = s.password().create_user(&json!({"username": name, "email": email, "password": "first password"})).unwrap();
                    println!("ACK user {name} {id} END");
                    let login = s.login_with_service("password", &json!({"user": name, "password": "first password"}), &no_info()).unwrap();
                    println!("ACK session {name} {} END", login.session_id);
                    let next = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info()).unwrap();
                    println!("ACK refresh {name} {} {} END", login.session_id, next.tokens.refresh_token);
                    s.password().send_reset_password_email(&email).unwrap();
                    let token = links.lock().unwrap()[&email].clone();
                    s.password().reset_password(&token, "second password", None, &no_info()).unwrap();
                    println!("ACK reset {name} END");
                }
            });
        }
    });
}

/// What the child acknowledged before it died.
#[derive(Default)]
struct Acked {
    users: Vec<(String, String)>,
    sessions: Vec<(String, String)>,
    refreshed: Vec<(String, String)>,
    resets: Vec<String>,
}

fn run_child(db: &str, tag: &str) -> Acked {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("ACCOUNTS_CRASH_DB", db)
        .env("ACCOUNTS_CRASH_TAG", tag)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(|l| l.ok()).collect::<Vec<_>>());
    // Killed somewhere between its start-up and well into its writes.
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(150 + random_below(600)));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut acked = Acked::default();
    for line in reader.join().unwrap() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["ACK", "user", name, id, "END"] => acked.users.push((name.to_string(), id.to_string())),
            ["ACK", "session", name, sid, "END"] => acked.sessions.push((name.to_string(), sid.to_string())),
            ["ACK", "refresh", _, sid, refresh, "END"] => acked.refreshed.push((sid.to_string(), refresh.to_string())),
            ["ACK", "reset", name, "END"] => acked.resets.push(name.to_string()),
            _ => {} // a line cut by the kill was never acknowledged
        }
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    acked
}

fn check_round(db: &str, acked: &Acked) {
    let (s, _) = server(db);
    for (name, id) in &acked.users {
        let user = s.password().find_user_by_username(name).unwrap().unwrap_or_else(|| panic!("acknowledged user {name} lost"));
        assert_eq!(&user.id, id);
    }
    for (name, sid) in &acked.sessions {
        let user = s.password().find_user_by_username(name).unwrap().unwrap();
        assert!(s.list_sessions(&user.id).unwrap().iter().any(|x| &x.id == sid), "acknowledged session of {name} lost");
    }
    for (sid, refresh) in &acked.refreshed {
        let session = store_of(&s).find_session(sid).unwrap().unwrap();
        // One rotation, and its token is the one the child was given: no fork, nothing lost.
        assert_eq!(session.session.refresh_count, 1, "lineage of {sid}");
        assert_eq!(session.refresh_digest, secret::digest(refresh), "refresh token of {sid}");
    }
    for name in &acked.resets {
        let ok = s.login_with_service("password", &json!({"user": name, "password": "second password"}), &no_info());
        assert!(ok.is_ok(), "acknowledged reset of {name} lost: {ok:?}");
    }
}

fn kill_nine_rounds(db: &str, sqlite_path: Option<&std::path::Path>) -> usize {
    let mut writes = 0;
    for round in 0..ROUNDS {
        let acked = run_child(db, &format!("r{round}"));
        writes += acked.users.len() + acked.sessions.len() + acked.refreshed.len() + acked.resets.len();
        if let Some(path) = sqlite_path {
            let c = rusqlite::Connection::open(path).unwrap();
            let verdict: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
            assert_eq!(verdict, "ok", "round {round}");
        }
        check_round(db, &acked);
    }
    eprintln!(
        "{ROUNDS} kill -9 rounds on {}: {writes} acknowledged writes, all present",
        if sqlite_path.is_some() { "SQLite" } else { "PostgreSQL" }
    );
    assert!(writes > 0, "the child acknowledged nothing: the rounds tested nothing");
    writes
}

#[test]
fn acknowledged_writes_survive_kill_nine_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.db");
    kill_nine_rounds(&format!("sqlite:{}", path.display()), Some(&path));
}

#[test]
fn acknowledged_writes_survive_kill_nine_on_postgres() {
    if let Some(url) = pg_database() {
        kill_nine_rounds(&url, None);
    }
}
