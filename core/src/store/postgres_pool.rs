//! The PostgreSQL connection pool: connections open on the calling thread, and the pool starts no
//! thread of its own.
//!
//! That is what makes a server safe to `fork()` (docs/reliability.md, "Fork"): a pool with worker
//! threads (r2d2's) keeps them parked in `parking_lot`'s process-wide table, and a child, where those
//! threads do not exist, corrupts that table as soon as it starts threads itself (a forked child spun
//! forever in `parking_lot_core::rehash_bucket_into`). Here idle connections wait in a `Vec` behind
//! a `std` mutex, which belongs to this pool alone.

use super::postgres_tls::Tls;
use crate::error::{AccountsError, ErrorCode, Result};
use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a caller waits for a free connection (and for a connect) before `StorageError`.
const WAIT: Duration = Duration::from_secs(10);
/// A connection idle for longer is checked with an empty query before it is handed out: the
/// server (or a firewall) may have closed it meanwhile.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(30);

struct Idle {
    client: postgres::Client,
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
}

/// A connection lent to one caller; back in the pool when dropped (or closed, if it broke).
pub(crate) struct Conn<'a> {
    pool: &'a Pool,
    client: Option<postgres::Client>,
}

impl Pool {
    pub(crate) fn new(mut config: postgres::Config, tls: Tls, max: u32) -> Pool {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(WAIT);
        }
        Pool { config, tls, max: max.max(1), state: Mutex::new(State { idle: Vec::new(), open: 0 }), returned: Condvar::new() }
    }

    /// Opens one connection outside the pool (migrations).
    ///
    /// # Errors
    /// `StorageError` when the server cannot be reached.
    pub(crate) fn connect(&self) -> Result<postgres::Client> {
        Ok(self.config.connect(self.tls.clone())?)
    }

    /// Keeps a connection opened by [`Pool::connect`] as the pool's first idle one.
    pub(crate) fn adopt(&self, client: postgres::Client) {
        self.state().open += 1;
        self.give_back(client);
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
                if let Some(client) = self.usable(idle) {
                    return Ok(Conn { pool: self, client: Some(client) });
                }
                state = self.state();
                continue;
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(client) => Ok(Conn { pool: self, client: Some(client) }),
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
    fn usable(&self, idle: Idle) -> Option<postgres::Client> {
        let Idle { mut client, since } = idle;
        let alive = !client.is_closed() && (since.elapsed() < CHECK_AFTER_IDLE || client.is_valid(WAIT).is_ok());
        if alive {
            return Some(client);
        }
        drop(client);
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

    fn give_back(&self, client: postgres::Client) {
        if client.is_closed() {
            drop(client);
            self.forget_one();
            return;
        }
        self.state().idle.push(Idle { client, since: Instant::now() });
        self.returned.notify_one();
    }
}

impl Deref for Conn<'_> {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        self.client.as_ref().expect("a lent connection is present until dropped")
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.client.as_mut().expect("a lent connection is present until dropped")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.pool.give_back(client);
        }
    }
}
