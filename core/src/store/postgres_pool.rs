//! The PostgreSQL connection pool: connections open on the calling thread, and the pool starts no
//! thread of its own.
//!
//! That is what makes a server safe to `fork()` (docs/reliability.md, "Fork"): a pool with worker
//! threads (r2d2's) keeps them parked in `parking_lot`'s process-wide table, and a child, where those
//! threads do not exist, corrupts that table as soon as it starts threads itself (a forked child spun
//! forever in `parking_lot_core::rehash_bucket_into`). Here idle connections wait in a `Vec` behind
//! a `std` mutex, which belongs to this pool alone.
//!
//! Each connection keeps the statements prepared on it ([`Db`]): PostgreSQL parses and plans a
//! statement once per connection instead of once per call, and a call sends one round trip
//! (Bind/Execute) instead of two (Parse/Describe, then Bind/Execute). They live and die with their
//! connection, so a reconnect starts with none.

use super::postgres_tls::Tls;
use crate::error::{AccountsError, ErrorCode, Result};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{GenericClient, Row, Statement};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a caller waits for a free connection (and for a connect) before `StorageError`.
const WAIT: Duration = Duration::from_secs(10);
/// A connection idle for longer is checked with an empty query before it is handed out: the
/// server (or a firewall) may have closed it meanwhile.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(30);

/// The statements prepared on one connection, by their SQL text.
pub(crate) type Statements = HashMap<String, Statement>;

/// A connection and the statements prepared on it.
struct Pooled {
    client: postgres::Client,
    statements: Statements,
}

struct Idle {
    conn: Pooled,
    since: Instant,
}

struct State {
    idle: Vec<Idle>,
    /// Connections that exist: idle, lent out, or being opened.
    open: u32,
}

pub(crate) struct Pool {
    config: postgres::Config,
    tls: Tls,
    max: u32,
    state: Mutex<State>,
    returned: Condvar,
    /// Connections opened so far: a server restart or a failover (which can reuse transaction ids
    /// whose commits were lost) only reaches this process through new connections (the fence in
    /// store/postgres_fence.rs counts them into its text).
    opened: AtomicU64,
}

/// A connection lent to one caller; back in the pool when dropped (or closed, if it broke).
pub(crate) struct Conn<'a> {
    pool: &'a Pool,
    conn: Option<Pooled>,
}

impl Pool {
    pub(crate) fn new(mut config: postgres::Config, tls: Tls, max: u32) -> Pool {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(WAIT);
        }
        Pool {
            config,
            tls,
            max: max.max(1),
            state: Mutex::new(State { idle: Vec::new(), open: 0 }),
            returned: Condvar::new(),
            opened: AtomicU64::new(0),
        }
    }

    /// Opens one connection outside the pool (migrations).
    ///
    /// # Errors
    /// `StorageError` when the server cannot be reached.
    pub(crate) fn connect(&self) -> Result<postgres::Client> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        Ok(self.config.connect(self.tls.clone())?)
    }

    /// How many connections were opened (or attempted) so far.
    pub(crate) fn opened(&self) -> u64 {
        self.opened.load(Ordering::SeqCst)
    }

    /// Keeps a connection opened by [`Pool::connect`] as the pool's first idle one.
    pub(crate) fn adopt(&self, client: postgres::Client) {
        self.state().open += 1;
        self.give_back(Pooled { client, statements: Statements::new() });
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection: an idle one, else a new one while fewer than `max` exist, else the first one
    /// returned within 10 s.
    ///
    /// # Errors
    /// `StorageError` when the server cannot be reached or no connection came free in time.
    pub(crate) fn get(&self) -> Result<Conn<'_>> {
        let deadline = Instant::now() + WAIT;
        let mut state = self.state();
        loop {
            if let Some(idle) = state.idle.pop() {
                drop(state);
                if let Some(conn) = self.usable(idle) {
                    return Ok(Conn { pool: self, conn: Some(conn) });
                }
                state = self.state();
                continue;
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(client) => Ok(Conn { pool: self, conn: Some(Pooled { client, statements: Statements::new() }) }),
                    Err(e) => {
                        self.forget_one();
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(AccountsError::new(ErrorCode::StorageError, format!("postgres pool: no connection free within {} s", WAIT.as_secs())));
            }
            state = self.returned.wait_timeout(state, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// The idle connection if it still works; a dead one is dropped (and, since a server restart
    /// kills them all, so are the other idle ones).
    fn usable(&self, idle: Idle) -> Option<Pooled> {
        let Idle { mut conn, since } = idle;
        let alive = !conn.client.is_closed() && (since.elapsed() < CHECK_AFTER_IDLE || conn.client.is_valid(WAIT).is_ok());
        if alive {
            return Some(conn);
        }
        drop(conn);
        let stale = {
            let mut state = self.state();
            let stale = std::mem::take(&mut state.idle);
            state.open -= 1 + stale.len() as u32;
            stale
        };
        drop(stale);
        self.returned.notify_all();
        None
    }

    fn forget_one(&self) {
        self.state().open -= 1;
        self.returned.notify_one();
    }

    fn give_back(&self, conn: Pooled) {
        if conn.client.is_closed() {
            drop(conn);
            self.forget_one();
            return;
        }
        self.state().idle.push(Idle { conn, since: Instant::now() });
        self.returned.notify_one();
    }
}

impl Conn<'_> {
    fn pooled(&mut self) -> &mut Pooled {
        self.conn.as_mut().expect("a lent connection is present until dropped")
    }

    /// Runs single statements on this connection, outside a transaction.
    pub(crate) fn db(&mut self) -> Db<'_, postgres::Client> {
        let Pooled { client, statements } = self.pooled();
        Db { c: client, statements, in_transaction: false, stale: false }
    }

    /// Runs `f` in one transaction on this connection: committed when it returns `Ok`. When it
    /// failed because the connection had lost its prepared statements (see [`Db`]), it runs once
    /// more, with them prepared again.
    ///
    /// # Errors
    /// `f`'s error, or `StorageError` when the transaction cannot begin or commit.
    pub(crate) fn transaction<T>(&mut self, mut f: impl FnMut(&mut Db<'_, postgres::Transaction<'_>>) -> Result<T>) -> Result<T> {
        let Pooled { client, statements } = self.pooled();
        let mut again = true;
        loop {
            let mut tx = client.transaction()?;
            let mut db = Db { c: &mut tx, statements: &mut *statements, in_transaction: true, stale: false };
            let out = f(&mut db);
            let stale = db.stale;
            match out {
                Ok(out) => {
                    tx.commit()?;
                    return Ok(out);
                }
                Err(_) if stale && std::mem::take(&mut again) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The raw connection (tests: to look at its session, or to end it).
    #[cfg(feature = "fault-injection")]
    pub(crate) fn client(&mut self) -> &mut postgres::Client {
        &mut self.pooled().client
    }
}

/// Statements on one connection (a [`postgres::Client`], or a [`postgres::Transaction`] on it),
/// each prepared on the connection's first use of its SQL text and kept for the next ones.
///
/// A session may lose its prepared statements without its connection closing (`DISCARD ALL`, a
/// pooler in between); and a statement whose result columns changed under it (a schema change by
/// another process) is refused. On either error the connection forgets them all and a single
/// statement runs again, prepared anew; in a transaction, which that error has aborted,
/// [`Conn::transaction`] runs the transaction again.
pub(crate) struct Db<'a, C: GenericClient> {
    c: &'a mut C,
    statements: &'a mut Statements,
    in_transaction: bool,
    /// A statement failed because the session had lost it.
    stale: bool,
}

type Params<'p> = [&'p (dyn ToSql + Sync)];

/// `prepared statement "s1" does not exist`, or `cached plan must not change result type`.
fn lost_statement(e: &postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::INVALID_SQL_STATEMENT_NAME || *c == SqlState::FEATURE_NOT_SUPPORTED)
}

impl<C: GenericClient> Db<'_, C> {
    fn statement(&mut self, sql: &str) -> std::result::Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.c.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn run<T>(
        &mut self,
        sql: &str,
        f: impl Fn(&mut C, &Statement) -> std::result::Result<T, postgres::Error>,
    ) -> std::result::Result<T, postgres::Error> {
        let statement = self.statement(sql)?;
        match f(self.c, &statement) {
            Err(e) if lost_statement(&e) => {
                self.statements.clear();
                self.stale = true;
                if self.in_transaction {
                    return Err(e);
                }
                let statement = self.statement(sql)?;
                f(self.c, &statement)
            }
            result => result,
        }
    }

    pub(crate) fn execute(&mut self, sql: &str, params: &Params<'_>) -> std::result::Result<u64, postgres::Error> {
        self.run(sql, |c, s| c.execute(s, params))
    }

    pub(crate) fn query(&mut self, sql: &str, params: &Params<'_>) -> std::result::Result<Vec<Row>, postgres::Error> {
        self.run(sql, |c, s| c.query(s, params))
    }

    pub(crate) fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> std::result::Result<Option<Row>, postgres::Error> {
        self.run(sql, |c, s| c.query_opt(s, params))
    }

    pub(crate) fn query_one(&mut self, sql: &str, params: &Params<'_>) -> std::result::Result<Row, postgres::Error> {
        self.run(sql, |c, s| c.query_one(s, params))
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }
}
