//! Database connections belong to one process. A server created before `fork()` (gunicorn
//! `--preload`, Node cluster, a C prefork server) opens its own connections in each child the first
//! time the child uses it; the parent's, inherited with the memory, are never used nor closed there
//! (closing a SQLite connection in a child can break the parent's locks, and a PostgreSQL socket
//! shared by two processes interleaves their messages). See docs/reliability.md, "Fork".

use super::{
    AttemptCount, NewUser, OAuthFlow, PasskeyRecord, SealedColumn, SealedValue, SessionRecord, Store, TokenRecord, TokenScope, Unlinked,
    WebAuthnChallenge, Writes,
};
use crate::error::{AccountsError, ErrorCode, Result};
use crate::inline;
use crate::types::{ConnectionInfo, LinkedAccount, PurgeReport, Session, User};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once, RwLock, RwLockReadGuard, TryLockError};

/// Bumped in every child right after `fork()`: a store opened in an older generation is the parent's.
static GENERATION: AtomicU64 = AtomicU64::new(0);
static WATCH_FORKS: Once = Once::new();

extern "C" fn in_child_after_fork() {
    // Async-signal-safe: one atomic add.
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// A store that reopens itself in a forked child.
pub(crate) struct PerProcess {
    url: String,
    pool_size: u32,
    generation: AtomicU64,
    store: RwLock<Arc<dyn Store>>,
}

impl PerProcess {
    pub(crate) fn open(url: &str, pool_size: u32) -> Result<PerProcess> {
        #[allow(unsafe_code)]
        WATCH_FORKS.call_once(|| {
            // SAFETY: registers a handler that only touches an atomic; it never fails in practice
            // (ENOMEM), and then forks are simply not noticed, as before this existed.
            unsafe { libc::pthread_atfork(None, None, Some(in_child_after_fork)) };
        });
        let generation = GENERATION.load(Ordering::SeqCst);
        let store: Arc<dyn Store> = Arc::from(super::open_here(url, pool_size)?);
        Ok(PerProcess { url: url.to_string(), pool_size, generation: AtomicU64::new(generation), store: RwLock::new(store) })
    }

    /// This process's store, opened now if the one held came from the parent. The read guard is
    /// held for the call: no reference count to bump on the hot path.
    fn here(&self) -> Result<RwLockReadGuard<'_, Arc<dyn Store>>> {
        let now = GENERATION.load(Ordering::Acquire);
        if self.generation.load(Ordering::Acquire) != now {
            if inline::no_wait() {
                return Err(inline::would_wait("reopening the database after fork"));
            }
            let mut held = self.store.write().unwrap_or_else(|p| p.into_inner());
            if self.generation.load(Ordering::Acquire) != now {
                let fresh: Arc<dyn Store> = Arc::from(super::open_here(&self.url, self.pool_size)?);
                // The parent's connections: leaked on purpose, see the module comment.
                std::mem::forget(std::mem::replace(&mut *held, fresh));
                self.generation.store(now, Ordering::Release);
            }
        }
        if inline::no_wait() {
            return match self.store.try_read() {
                Ok(store) => Ok(store),
                Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
                Err(TryLockError::WouldBlock) => Err(inline::would_wait("the store being reopened")),
            };
        }
        Ok(self.store.read().unwrap_or_else(|p| p.into_inner()))
    }
}

impl PerProcess {
    /// The store for the call `name`: as [`PerProcess::here`], except that `maintenance_due` never
    /// reopens the store (a host asks it after every inline call, on a thread that must not wait):
    /// a store not yet opened in this process made no inline write here, so no upkeep is due.
    fn for_call(&self, name: &str) -> Result<RwLockReadGuard<'_, Arc<dyn Store>>> {
        if name == "maintenance_due" && self.generation.load(Ordering::Acquire) != GENERATION.load(Ordering::Acquire) {
            return Err(AccountsError::new(ErrorCode::StorageError, "not opened in this process yet"));
        }
        self.here()
    }
}

impl Drop for PerProcess {
    fn drop(&mut self) {
        // A server dropped in a forked child that never used it: its store is the parent's, so
        // one reference is leaked and the store is never dropped here.
        if self.generation.load(Ordering::Acquire) != GENERATION.load(Ordering::Acquire) {
            std::mem::forget(Arc::clone(self.store.get_mut().unwrap_or_else(|p| p.into_inner())));
        }
    }
}

forward_store!(PerProcess, |self, name| self.for_call(name)?, atomically = |self, work| self.here()?.atomically(work));
