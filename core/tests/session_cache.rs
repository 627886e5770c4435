//! The cache of resumed sessions (docs/reliability.md, "Caches and other processes") on each store:
//! a resume of a cached token asks the store one thing, its change counter, and nothing else; and
//! any commit — here through a connection of PostgreSQL's own, outside this library — is seen by
//! the very next resume. The store's steps are counted by a [`FaultPlan`] that fails nothing.
mod common;
use accounts_core::host::store::faults::FaultPlan;
use accounts_core::*;
use common::*;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The PostgreSQL tests here run one at a time: a commit anywhere in the cluster (another test's
/// database included) moves the snapshot, and these count cache hits.
fn pg_alone() -> MutexGuard<'static, ()> {
    static ALONE: Mutex<()> = Mutex::new(());
    ALONE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The start of a PostgreSQL test here (`None` without a server): a server whose store's steps
/// `plan` counts, run alone.
struct OnPostgres {
    url: String,
    plan: Arc<FaultPlan>,
    s: AccountsServer,
    _alone: MutexGuard<'static, ()>,
}

fn on_postgres() -> Option<OnPostgres> {
    let alone = pg_alone();
    let url = pg_database()?;
    let plan = FaultPlan::new();
    let s = server(&url, &plan);
    Some(OnPostgres { url, plan, s, _alone: alone })
}

impl OnPostgres {
    /// A connection of PostgreSQL's own, outside this library (as another process or an operator).
    fn raw(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }
}

fn server(url: &str, plan: &Arc<FaultPlan>) -> AccountsServer {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    AccountsServer::with_faults(config(url, json!({})), Callbacks::default(), clock, plan.clone()).unwrap()
}

/// A new user, logged in: `(user id, session id, access token)`.
fn logged_in(s: &AccountsServer, name: &str) -> (String, String, String) {
    let id = s.password().create_user(&json!({"username": name, "password": "a password"})).unwrap();
    let login = s.login_with_service("password", &json!({"user": name, "password": "a password"}), &no_info()).unwrap();
    (id, login.session_id, login.tokens.access_token)
}

/// How many store steps a resume of `token` takes, and its outcome.
fn resume_steps(s: &AccountsServer, plan: &FaultPlan, token: &str) -> (u64, Result<User>) {
    plan.arm(None);
    let out = s.resume_session(token);
    (plan.steps(), out)
}

/// Resumes `token` until a resume takes one store step (the change counter): how many it took.
/// (On SQLite each reader connection reports a commit once, so after a write the first resumes
/// may each see the counter move; on PostgreSQL the second one hits.)
fn resumes_until_cached(s: &AccountsServer, plan: &FaultPlan, token: &str) -> usize {
    for n in 1..=5 {
        if resume_steps(s, plan, token).0 == 1 {
            return n;
        }
    }
    panic!("never served from the cache");
}

fn a_cached_resume_asks_only_the_change_counter(url: &str, first_hit: impl Fn(usize) -> bool) {
    let plan = FaultPlan::new();
    let s = server(url, &plan);
    let (id, _, token) = logged_in(&s, "ann");
    let (first, user) = resume_steps(&s, &plan, &token);
    assert_eq!(user.unwrap().id, id);
    assert!(first >= 2, "{url}: the first resume also reads the session and its users ({first} steps)");
    let n = resumes_until_cached(&s, &plan, &token);
    assert!(first_hit(n), "{url}: served from the cache at resume {n} after the first");
    for _ in 0..3 {
        let (steps, user) = resume_steps(&s, &plan, &token);
        assert_eq!(user.unwrap().id, id);
        assert_eq!(steps, 1, "{url}: a resume of a cached token reads the change counter only");
    }
    // A write of this process (any write): the next resume reads again, then caches again.
    logged_in(&s, "bob");
    assert_eq!(resume_steps(&s, &plan, &token).0, first, "{url}: read again after a commit");
    let n = resumes_until_cached(&s, &plan, &token);
    assert!(first_hit(n), "{url}: and cached again at resume {n} after that");
}

#[test]
fn a_cached_resume_asks_only_the_change_counter_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_cached_resume_asks_only_the_change_counter(&format!("sqlite:{}", dir.path().join("accounts.db").display()), |_| true);
}

#[test]
fn a_cached_resume_asks_only_the_change_counter_on_postgres() {
    let _alone = pg_alone();
    if let Some(url) = pg_database() {
        a_cached_resume_asks_only_the_change_counter(&url, |n| n == 1);
    }
}

/// A session, resumed (and cached) here, then changed by a statement on another connection, as
/// another process or an operator would: the next resume here sees it.
#[test]
fn a_write_through_another_postgres_connection_is_seen_by_the_next_resume() {
    let Some(pg) = on_postgres() else { return };
    let (plan, s, mut raw) = (&pg.plan, &pg.s, pg.raw());
    let writes: [(&str, ErrorCode); 3] = [
        ("UPDATE sessions SET valid = FALSE WHERE id = $1", ErrorCode::InvalidSession),
        ("UPDATE users SET deactivated = TRUE WHERE id = (SELECT user_id FROM sessions WHERE id = $1)", ErrorCode::UserDeactivated),
        ("DELETE FROM sessions WHERE id = $1", ErrorCode::SessionNotFound),
    ];
    for (i, (sql, expected)) in writes.into_iter().enumerate() {
        let (id, session, token) = logged_in(&s, &format!("user{i}"));
        assert_eq!(s.resume_session(&token).unwrap().id, id);
        assert_eq!(resume_steps(&s, &plan, &token).0, 1, "cached before the write");
        assert_eq!(raw.execute(sql, &[&session]).unwrap(), 1, "{sql}");
        assert_eq!(code(s.resume_session(&token)), expected, "the next resume after {sql}");
        assert_eq!(code(s.resume_session(&token)), expected, "and the one after");
    }
    // A write in an explicit transaction, to a table a resume never reads: still a commit, still
    // seen (every entry is stale after any commit).
    let (id, _, token) = logged_in(&s, "carol");
    assert_eq!(s.resume_session(&token).unwrap().id, id);
    assert_eq!(resume_steps(&s, &plan, &token).0, 1);
    let mut tx = raw.transaction().unwrap();
    tx.execute("UPDATE users SET profile = '{}' WHERE id = $1", &[&id]).unwrap();
    assert_eq!(resume_steps(&s, &plan, &token).0, 1, "uncommitted: nothing changed yet");
    tx.commit().unwrap();
    assert!(resume_steps(&s, &plan, &token).0 > 1, "read again after the commit");
}

/// Many threads resume one cached token while another connection revokes its session: every resume
/// that began after the revocation committed is refused, however the calls of this process share
/// their snapshot reads (store/postgres_fence.rs: only a read sent after a call began serves it).
/// A fence that gave late calls the answer of a read already in flight fails here only sometimes
/// (the window is one round trip); its unit tests catch that every time.
#[test]
fn concurrent_resumes_begun_after_a_revocation_all_see_it() {
    let Some(pg) = on_postgres() else { return };
    let (s, mut raw) = (&pg.s, pg.raw());
    for round in 0..20 {
        let (id, session, token) = logged_in(&s, &format!("user{round}"));
        assert_eq!(s.resume_session(&token).unwrap().id, id);
        let revoked = AtomicBool::new(false);
        let refused_after = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..6 {
                scope.spawn(|| {
                    while refused_after.load(Ordering::SeqCst) < 200 {
                        let after = revoked.load(Ordering::SeqCst);
                        match s.resume_session(&token) {
                            Ok(user) => {
                                assert!(!after, "round {round}: a resume begun after the revocation succeeded");
                                assert_eq!(user.id, id);
                            }
                            Err(e) => {
                                assert_eq!(e.code, ErrorCode::InvalidSession);
                                if after {
                                    refused_after.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                        }
                    }
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(10 + 3 * round));
            raw.execute("UPDATE sessions SET valid = FALSE WHERE id = $1", &[&session]).unwrap();
            revoked.store(true, Ordering::SeqCst);
        });
    }
}

/// A restart or a failover reaches this process as broken connections, and may reuse transaction
/// ids whose commits were lost (the snapshot text could then repeat): once the pool had to open new
/// connections, nothing cached before serves (store/postgres.rs, the fence counts them).
#[test]
fn nothing_cached_serves_after_the_pools_connections_were_cut() {
    let Some(pg) = on_postgres() else { return };
    let (plan, s) = (&pg.plan, &pg.s);
    let (id, _, token) = logged_in(s, "dora");
    assert_eq!(s.resume_session(&token).unwrap().id, id);
    assert_eq!(resume_steps(&s, &plan, &token).0, 1, "cached");
    // Every other connection to the server ends, as in a restart (nothing is committed by this).
    let mut raw = pg.raw();
    raw.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()", &[])
        .unwrap();
    // The pool finds its connections dead (a call or two may fail with StorageError), then reconnects.
    let back = (0..5).find(|_| s.resume_session(&token).is_ok());
    assert!(back.is_some(), "resumes work again once the pool reconnected");
    assert!(resume_steps(&s, &plan, &token).0 > 1, "the entry cached before the cut is read again, not served");
}
