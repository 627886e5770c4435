//! Soak (docs/reliability.md, "Soak"): 64 threads of mixed createUser / login / resume / refresh /
//! logout / reset against one server, on a SQLite file and on PostgreSQL, for
//! `ACCOUNTS_SOAK_SECS` seconds (10 in `make test`, 60 in `make soak`). Then every acknowledged
//! user and session must be stored, every session's refresh count must equal the refreshes
//! acknowledged for it (a forked lineage would not), logged-out sessions must be invalid, and no
//! call may have failed — "database is locked" included. Prints p50/p99 per operation and RSS.
mod common;
use accounts_core::host::*;
use accounts_core::*;
use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const THREADS: usize = 64;

fn soak_secs() -> u64 {
    std::env::var("ACCOUNTS_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// What one thread had acknowledged.
#[derive(Default)]
struct Ledger {
    users: Vec<(String, String)>,
    /// session id → (refreshes acknowledged, last refresh token, logged out)
    sessions: HashMap<String, (i64, String, bool)>,
    latencies: HashMap<&'static str, Vec<Duration>>,
    errors: Vec<String>,
    ops: u64,
}

impl Ledger {
    fn time<T>(&mut self, op: &'static str, f: impl FnOnce() -> Result<T>) -> Option<T> {
        let start = Instant::now();
        let r = f();
        self.latencies.entry(op).or_default().push(start.elapsed());
        self.ops += 1;
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(format!("{op}: {e:?}"));
                None
            }
        }
    }
}

fn worker(s: &AccountsServer, links: &Mutex<HashMap<String, String>>, t: usize, until: Instant) -> Ledger {
    let mut l = Ledger::default();
    // Live sessions of this thread: (name, session id, access token, refresh token).
    let mut live: Vec<(String, String, String, String)> = Vec::new();
    let mut i = 0usize;
    while Instant::now() < until {
        i += 1;
        match i % 8 {
            // A new user now and then; every other step works on this thread's users and sessions.
            0 | 1 if l.users.len() < 8 || i.is_multiple_of(16) => {
                let name = format!("t{t}u{}", l.users.len());
                let user = json!({"username": name, "email": format!("{name}@example.com"), "password": "a password"});
                if let Some(id) = l.time("createUser", || s.password().create_user(&user)) {
                    l.users.push((name, id));
                }
            }
            0..=2 => {
                let Some((name, _)) = l.users.get(i % l.users.len().max(1)).cloned() else { continue };
                let params = json!({"user": name, "password": "a password"});
                if let Some(login) = l.time("login", || s.login_with_service("password", &params, &no_info())) {
                    l.sessions.insert(login.session_id.clone(), (0, login.tokens.refresh_token.clone(), false));
                    live.push((name, login.session_id, login.tokens.access_token, login.tokens.refresh_token));
                }
            }
            3 | 4 => {
                let Some((_, _, access, _)) = live.last().cloned() else { continue };
                l.time("resume", || s.resume_session(&access));
            }
            5 | 6 => {
                let Some((name, sid, access, refresh)) = live.pop() else { continue };
                if let Some(next) = l.time("refresh", || s.refresh_tokens(&access, &refresh, &no_info())) {
                    let entry = l.sessions.get_mut(&sid).unwrap();
                    entry.0 += 1;
                    entry.1 = next.tokens.refresh_token.clone();
                    live.push((name, sid, next.tokens.access_token, next.tokens.refresh_token));
                }
            }
            _ if i % 24 == 7 => {
                // A password reset ends every session of the user: forget them (their refresh counts stay checked).
                let Some((name, _)) = l.users.last().cloned() else { continue };
                let email = format!("{name}@example.com");
                l.time("sendResetPasswordEmail", || s.password().send_reset_password_email(&email));
                let token = links.lock().unwrap().get(&email).cloned().unwrap_or_default();
                l.time("resetPassword", || s.password().reset_password(&token, "a password", None, &no_info()));
                live.retain(|(n, ..)| n != &name);
            }
            _ => {
                let Some((_, sid, access, _)) = live.pop() else { continue };
                if l.time("logout", || s.logout(&access)).is_some() {
                    l.sessions.get_mut(&sid).unwrap().2 = true;
                }
            }
        }
    }
    l
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

fn soak(db: &str, label: &str) {
    let (callbacks, links) = link_sink();
    // Limits as in production, except per IP: 64 "clients" share this process's missing IP.
    let s = AccountsServer::new(config(db, json!({"dbPoolSize": 16})), callbacks).unwrap();
    let rss_start = rss_kib();
    let secs = soak_secs();
    let until = Instant::now() + Duration::from_secs(secs);
    let mut rss_warm = 0;
    let ledgers: Vec<Ledger> = std::thread::scope(|scope| {
        let warm = scope.spawn(move || {
            std::thread::sleep(Duration::from_secs(secs) / 4);
            rss_kib()
        });
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn({
                    let (s, links) = (&s, &links);
                    move || worker(s, links, t, until)
                })
            })
            .collect();
        rss_warm = warm.join().unwrap();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let rss_end = rss_kib();

    let errors: Vec<&String> = ledgers.iter().flat_map(|l| &l.errors).collect();
    let ops: u64 = ledgers.iter().map(|l| l.ops).sum();
    let mut report = format!(
        "soak {label}: {THREADS} threads, {secs} s, {ops} operations, {} errors, RSS {rss_start} → {rss_warm} (warm) → {rss_end} KiB\n",
        errors.len()
    );
    let mut by_op: HashMap<&str, Vec<Duration>> = HashMap::new();
    for l in &ledgers {
        for (op, d) in &l.latencies {
            by_op.entry(op).or_default().extend(d);
        }
    }
    let mut names: Vec<_> = by_op.keys().copied().collect();
    names.sort();
    for op in names {
        let d = by_op.get_mut(op).unwrap();
        d.sort();
        report += &format!("  {op:<24} n={:<7} p50={:>7.2} ms  p99={:>7.2} ms\n", d.len(), percentile(d, 0.5), percentile(d, 0.99));
    }
    eprint!("{report}");
    if let Ok(dir) = std::env::var("ACCOUNTS_SOAK_REPORT_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(format!("rust-{label}.txt")), &report).unwrap();
    }
    assert!(errors.is_empty(), "unexpected errors: {:?}", &errors[..errors.len().min(10)]);

    // Everything acknowledged is stored, exactly as acknowledged.
    let mut users = 0;
    let mut sessions = 0;
    for l in &ledgers {
        for (name, id) in &l.users {
            assert_eq!(&s.password().find_user_by_username(name).unwrap().unwrap_or_else(|| panic!("user {name} lost")).id, id);
            users += 1;
        }
        for (sid, (refreshes, last, logged_out)) in &l.sessions {
            let rec = store_of(&s).find_session(sid).unwrap().unwrap_or_else(|| panic!("session {sid} lost"));
            assert_eq!(rec.session.refresh_count, *refreshes, "session {sid}: refreshes stored vs acknowledged");
            assert_eq!(rec.refresh_digest, secret::digest(last), "session {sid}: the last refresh token handed out is the live one");
            if *logged_out {
                assert!(!rec.session.valid, "session {sid} was logged out");
            }
            sessions += 1;
        }
    }
    assert!(users >= THREADS && sessions > 0, "the soak did too little: {users} users, {sessions} sessions");
    // Memory: after warm-up (caches full, pools open) it must not keep growing.
    assert!(rss_end < rss_warm + 128 * 1024, "RSS grew from {rss_warm} to {rss_end} KiB after warm-up");
}

#[test]
fn soak_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    soak(&format!("sqlite:{}", dir.path().join("accounts.db").display()), "sqlite");
}

#[test]
fn soak_on_postgres() {
    if let Some(url) = pg_database() {
        soak(&url, "postgres");
    }
}
