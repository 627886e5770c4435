//! A server created before `fork()` (a prefork C server, gunicorn `--preload`) works in the
//! children: each opens its own connections on first use (docs/reliability.md, "Fork"). Children
//! write at the same time as the parent; everything they acknowledged is there afterwards.
mod common;
use accounts_core::host::inline;
use accounts_core::*;
use common::*;
use serde_json::json;

const CHILDREN: usize = 4;

fn exercise(s: &AccountsServer, who: &str) -> bool {
    let ok = (|| -> Result<()> {
        for i in 0..20 {
            let name = format!("{who}x{i}");
            s.password().create_user(&json!({"username": name, "password": "a password"}))?;
            let login = s.login_with_service("password", &json!({"user": name, "password": "a password"}), &no_info())?;
            s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &no_info())?;
            s.resume_session(&login.tokens.access_token)?;
        }
        Ok(())
    })();
    if let Err(e) = &ok {
        eprintln!("{who}: {e:?}");
    }
    ok.is_ok()
}

/// Waits for child `pid` until `deadline` (then kills it: it hung) and asserts it exited with 0.
fn assert_exits_cleanly(pid: libc::pid_t, deadline: std::time::Instant, who: &str) {
    let mut status = 0;
    loop {
        // SAFETY: waitpid/kill on our own child.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if std::time::Instant::now() > deadline {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{who} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{who} failed (status {status})");
}

fn forked_children_work(db: &str) {
    let s = AccountsServer::new(config(db, json!({})), Callbacks::default()).unwrap();
    s.password().create_user(&json!({"username": "parent", "password": "a password"})).unwrap();
    let mut pids = Vec::new();
    for c in 0..CHILDREN {
        // SAFETY: the child only uses the server (which reopens its connections) and then _exits
        // without running destructors or the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let ok = exercise(&s, &format!("child{c}"));
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        pids.push(pid);
    }
    assert!(exercise(&s, "parent"), "the parent keeps working while its children do");
    // A child stuck on a connection it shares with its parent would hang: give them 60 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for pid in pids {
        assert_exits_cleanly(pid, deadline, "a child (hung: a connection shared across fork?)");
    }
    for c in 0..CHILDREN {
        for i in 0..20 {
            let name = format!("child{c}x{i}");
            assert!(s.password().find_user_by_username(&name).unwrap().is_some(), "{name} written by a child is missing");
        }
    }
}

/// One test, both backends in turn: forking while another test's threads are inside the library
/// (holding a lock the child would inherit) is the unsupported case docs/reliability.md names.
#[test]
fn children_of_a_fork_reopen_their_connections() {
    let dir = tempfile::tempdir().unwrap();
    let mut databases = vec![format!("sqlite:{}", dir.path().join("accounts.db").display())];
    databases.extend(pg_database());
    for db in &databases {
        forked_children_work(db);
        fork_right_after_calls(db);
        maintenance_due_reopens_nothing_in_a_child(db);
        starts_no_threads(db);
    }
}

/// A fork right after a call returns: nothing of the library may still be running in the parent
/// (a pool thread finishing a connect would leave the child a lock no thread will release).
fn fork_right_after_calls(db: &str) {
    for round in 0..40 {
        let s = AccountsServer::new(config(db, json!({})), Callbacks::default()).unwrap();
        s.password().find_user_by_username("nobody").unwrap();
        // SAFETY: as in forked_children_work.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let ok = s.password().find_user_by_username("nobody").is_ok() && exercise_once(&s, &format!("quick{round}"));
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        assert_exits_cleanly(pid, deadline, &format!("round {round}: the child"));
    }
}

/// A host asks `maintenance_due` after every inline call, on a thread that must not wait (Python's
/// event loop, with the GIL held): in a child it must not reopen the parent's store there. The
/// store stays unopened (an inline call is still abandoned) until a call that may wait opens it.
fn maintenance_due_reopens_nothing_in_a_child(db: &str) {
    let s = AccountsServer::new(config(db, json!({})), Callbacks::default()).unwrap();
    s.find_user_by_id("nobody").unwrap();
    // SAFETY: as in forked_children_work.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let inline_read = || inline::without_waiting(|| s.find_user_by_id("nobody"));
        let due = s.maintenance_due();
        let still_unopened = inline_read().is_none();
        let opened_by_a_waiting_call = s.find_user_by_id("nobody").is_ok() && inline_read().is_some();
        let ok = !due && still_unopened && opened_by_a_waiting_call;
        if !ok {
            eprintln!("due {due}, still unopened {still_unopened}, opened later {opened_by_a_waiting_call}");
        }
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    assert_exits_cleanly(pid, deadline, "the child (maintenance_due reopened the store?)");
}

fn exercise_once(s: &AccountsServer, who: &str) -> bool {
    s.password().create_user(&json!({"username": who})).is_ok()
}

/// The library starts no threads of its own: none can be parked (or hold a lock) when the host
/// forks. Checked in a forked child, where the test harness's other threads do not exist.
fn starts_no_threads(db: &str) {
    // SAFETY: the child opens a server, counts its threads and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let threads = || std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0);
        let before = threads();
        let ok = (|| -> Result<bool> {
            let s = AccountsServer::new(config(db, json!({"dbPoolSize": 4})), Callbacks::default())?;
            std::thread::scope(|scope| {
                for t in 0..4 {
                    let s = &s;
                    scope.spawn(move || exercise_once(s, &format!("threads{t}")));
                }
            });
            s.password().find_user_by_username("threads0")?;
            // The test's own threads have finished their work but may not have left the kernel's
            // task list yet (scope() waits for the closures, not for the OS threads to exit): allow
            // them a moment. A thread of the library would stay.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while threads() > 1 && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let after = threads();
            if after != 1 {
                eprintln!("threads before: {before}, after: {after}");
            }
            Ok(before == 1 && after == 1)
        })();
        unsafe { libc::_exit(if matches!(ok, Ok(true)) { 0 } else { 1 }) };
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    assert_exits_cleanly(pid, deadline, "a child counting its threads (1 expected: did the library leave threads running?)");
}
