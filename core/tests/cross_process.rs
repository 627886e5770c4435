//! Two app servers in two processes on one database (PostgreSQL, and a SQLite file for the attempt
//! limits). The second process is this test binary again, running `peer_process` with
//! `ACCOUNTS_PEER_*` variables set.
mod common;
use accounts_core::*;
use common::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Barrier;

const THREADS: usize = 8;

fn server(url: &str) -> AccountsServer {
    // A password change ends the user's sessions (accounts-js's default keeps them).
    let extra = json!({"services": {"password": {"invalidateAllSessionsAfterPasswordChanged": true}}});
    AccountsServer::new(config(url, extra), Callbacks::default()).unwrap()
}

/// The peer half in another process: this test binary running `peer_process`.
/// The databases two processes share in these tests: a SQLite file in `dir`, and PostgreSQL when
/// the suite has one.
fn shared_databases(dir: &tempfile::TempDir) -> Vec<String> {
    let mut dbs = vec![format!("sqlite:{}", dir.path().join("shared.db").display())];
    dbs.extend(pg_database());
    dbs
}

fn peer_command(url: &str, vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "peer_process", "--nocapture", "--test-threads=1"]).env("ACCOUNTS_PEER_DB", url);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// The peer's `PEER ` lines.
fn peer_lines(stdout: &str) -> Vec<String> {
    stdout.lines().filter_map(|l| l.split_once("PEER ").map(|(_, rest)| rest.to_string())).collect()
}

/// Runs the peer half in another process and returns its stdout lines.
fn peer(url: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let out = peer_command(url, vars).output().unwrap();
    assert!(out.status.success(), "peer failed: {}", String::from_utf8_lossy(&out.stderr));
    peer_lines(&String::from_utf8(out.stdout).unwrap())
}

#[test]
fn sessions_and_refresh_lineage_are_shared_across_processes() {
    let Some(url) = pg_database() else { return };
    let a = server(&url);
    let id = a.password().create_user(&json!({"username": "dana", "password": "first password"})).unwrap();
    let login = a.login_with_service("password", &json!({"user": "dana", "password": "first password"}), &no_info()).unwrap();
    let t = &login.tokens;

    // Both processes refresh the same token at once, from several threads each: the peer says
    // when its threads are ready and starts them when told to, as this process starts its own.
    let vars =
        [("ACCOUNTS_PEER_MODE", "refresh"), ("ACCOUNTS_PEER_ACCESS", t.access_token.as_str()), ("ACCOUNTS_PEER_REFRESH", t.refresh_token.as_str())];
    let mut child = peer_command(&url, &vars).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    while !lines.iter().any(|l| l == "ready") {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "the peer ended before it was ready");
        lines.extend(peer_lines(&line));
    }
    let go = Barrier::new(THREADS + 1);
    let here = std::thread::scope(|scope| {
        let local: Vec<_> = (0..THREADS)
            .map(|_| {
                let (a, go) = (&a, &go);
                scope.spawn(move || {
                    go.wait();
                    a.refresh_tokens(&t.access_token, &t.refresh_token, &no_info()).unwrap().tokens.refresh_token
                })
            })
            .collect();
        writeln!(child.stdin.take().unwrap(), "go").unwrap();
        go.wait();
        let mut all: Vec<String> = local.into_iter().map(|h| h.join().unwrap()).collect();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        assert!(child.wait().unwrap().success(), "the peer failed");
        lines.extend(peer_lines(&rest));
        assert_eq!(lines[0], format!("resumed {id}"), "the peer resumed a session created here");
        all.extend(lines[2..].iter().map(|l| l.strip_prefix("refreshed ").unwrap().to_string()));
        all
    });
    assert_eq!(here.len(), 2 * THREADS);
    assert!(here.iter().all(|r| r == &here[0]), "every refresh, in both processes, got the same successor");
    let session = a.find_session_by_access_token(&t.access_token).unwrap();
    assert_eq!(session.refresh_count, 1, "one lineage: a single rotation");

    // A revocation in the other process takes effect here at the next resume.
    let lines = peer(&url, &[("ACCOUNTS_PEER_MODE", "revoke"), ("ACCOUNTS_PEER_SESSION", session.id.as_str())]);
    assert_eq!(lines, vec!["revoked true".to_string()]);
    assert_eq!(code(a.resume_session(&t.access_token)), ErrorCode::InvalidSession);
}

/// The invariant behind the cache of resumed sessions (docs/reliability.md, "Caches and other
/// processes"): a logout, a revocation, a deactivation or a password change made by another process
/// is seen by the very next resumeSession and refreshTokens here, however often this process
/// resumed the session just before. On a SQLite file and on PostgreSQL.
#[test]
fn a_write_in_another_process_is_seen_by_the_next_call_here() {
    let dir = tempfile::tempdir().unwrap();
    for url in shared_databases(&dir) {
        let a = server(&url);
        let cases = [
            ("logout", ErrorCode::InvalidSession),
            ("revoke", ErrorCode::InvalidSession),
            ("deactivate", ErrorCode::UserDeactivated),
            ("change-password", ErrorCode::InvalidSession),
        ];
        for (i, (write, expected)) in cases.into_iter().enumerate() {
            let name = format!("user{i}");
            let id = a.password().create_user(&json!({"username": name, "password": "first password"})).unwrap();
            let login = a.login_with_service("password", &json!({"user": name, "password": "first password"}), &no_info()).unwrap();
            let t = &login.tokens;
            // Resumed (and so cached) here, several times, right before the other process writes;
            // the refresh token is rotated once so refreshTokens has a live one to present.
            let t = a.refresh_tokens(&t.access_token, &t.refresh_token, &no_info()).unwrap().tokens;
            for _ in 0..3 {
                assert_eq!(a.resume_session(&t.access_token).unwrap().id, id, "{url} {write}");
            }
            let lines = peer(
                &url,
                &[
                    ("ACCOUNTS_PEER_MODE", write),
                    ("ACCOUNTS_PEER_ACCESS", t.access_token.as_str()),
                    ("ACCOUNTS_PEER_SESSION", login.session_id.as_str()),
                    ("ACCOUNTS_PEER_USER", id.as_str()),
                ],
            );
            assert_eq!(lines, vec![format!("{write} done")], "{url}");
            assert_eq!(code(a.resume_session(&t.access_token)), expected, "{url}: resumeSession after {write} in another process");
            assert_eq!(code(a.resume_session(&t.access_token)), expected, "{url}: and the one after");
            assert_eq!(code(a.refresh_tokens(&t.access_token, &t.refresh_token, &no_info())), expected, "{url}: refreshTokens after {write}");
        }
    }
}

fn wrong_login(s: &AccountsServer) -> ErrorCode {
    let infos = ConnectionInfo { ip: Some("198.51.100.7".into()), user_agent: None };
    code(s.login_with_service("password", &json!({"user": "erin", "password": "a wrong guess"}), &infos))
}

#[test]
fn attempt_limits_hold_in_total_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    for url in shared_databases(&dir) {
        let a = server(&url);
        a.password().create_user(&json!({"username": "erin", "password": "erin's password"})).unwrap();
        // 5 wrong guesses per account + IP are allowed in total: 3 here, 2 in the other process,
        // whose third guess is then refused; so is the next one here.
        for _ in 0..3 {
            assert_eq!(wrong_login(&a), ErrorCode::InvalidCredentials, "{url}");
        }
        let lines = peer(&url, &[("ACCOUNTS_PEER_MODE", "guess")]);
        assert_eq!(lines, vec!["InvalidCredentials", "InvalidCredentials", "TooManyAttempts"], "{url}");
        assert_eq!(wrong_login(&a), ErrorCode::TooManyAttempts, "{url}");
    }
}

/// The second process (does nothing unless started by a test above).
#[test]
fn peer_process() {
    let (Ok(url), Ok(mode)) = (std::env::var("ACCOUNTS_PEER_DB"), std::env::var("ACCOUNTS_PEER_MODE")) else { return };
    let b = server(&url);
    let var = |k: &str| std::env::var(k).unwrap();
    match mode.as_str() {
        "refresh" => {
            let (access, refresh) = (var("ACCOUNTS_PEER_ACCESS"), var("ACCOUNTS_PEER_REFRESH"));
            println!("PEER resumed {}", b.resume_session(&access).unwrap().id);
            // Ready, then wait for the other process's word: both start their threads at once.
            let go = Barrier::new(THREADS + 1);
            let results: Vec<String> = std::thread::scope(|scope| {
                let hs: Vec<_> = (0..THREADS)
                    .map(|_| {
                        let (b, access, refresh, go) = (&b, &access, &refresh, &go);
                        scope.spawn(move || {
                            go.wait();
                            b.refresh_tokens(access, refresh, &no_info()).unwrap().tokens.refresh_token
                        })
                    })
                    .collect();
                println!("PEER ready");
                let mut word = String::new();
                std::io::stdin().read_line(&mut word).unwrap();
                go.wait();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for r in results {
                println!("PEER refreshed {r}");
            }
        }
        "revoke" if std::env::var("ACCOUNTS_PEER_USER").is_ok() => {
            assert!(b.revoke_session(&var("ACCOUNTS_PEER_SESSION")).unwrap());
            println!("PEER revoke done");
        }
        "revoke" => println!("PEER revoked {}", b.revoke_session(&var("ACCOUNTS_PEER_SESSION")).unwrap()),
        "logout" => {
            b.logout(&var("ACCOUNTS_PEER_ACCESS")).unwrap();
            println!("PEER logout done");
        }
        "deactivate" => {
            b.deactivate_user(&var("ACCOUNTS_PEER_USER")).unwrap();
            println!("PEER deactivate done");
        }
        "change-password" => {
            b.password().change_password(&var("ACCOUNTS_PEER_USER"), "first password", "second password").unwrap();
            println!("PEER change-password done");
        }
        "guess" => {
            for _ in 0..3 {
                println!("PEER {}", wrong_login(&b).as_str());
            }
        }
        other => panic!("unknown peer mode {other}"),
    }
}
