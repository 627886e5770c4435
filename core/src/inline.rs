//! Running a call where the caller cannot wait (docs/architecture.md, "Inline calls").
//!
//! A Node host's event-loop thread must never block, so every call used to go through a thread
//! pool, paying a round trip (~55–75 µs) for ~10 µs of work. On an embedded SQLite database a read
//! need not wait for anybody (WAL readers never wait for the writer) and a write usually finds the
//! writer free, so the host may run such a call itself inside [`without_waiting`]: there the store
//! takes a connection or the write lock only if it is free at once, with SQLite's busy handler off,
//! and anything that would wait abandons the call instead. The calls allowed here
//! ([`crate::AccountsServer::may_run_inline`]) change nothing before their one write, which is
//! rolled back when abandoned, so the host then runs the call again on its pool.

use crate::error::{AccountsError, ErrorCode, Result};
use std::cell::Cell;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Ordinary call: waiting is fine.
    Wait,
    /// Inside `without_waiting`.
    NoWait,
    /// Inside `without_waiting`, and something would have waited.
    WouldWait,
    /// Inside `without_waiting`, after the call's write committed: it is no longer abandoned (that
    /// would run it, and its write, twice); what is left of it may wait.
    Committed,
}

thread_local! {
    static MODE: Cell<Mode> = const { Cell::new(Mode::Wait) };
}

/// Runs `f` on this thread without waiting for a lock, a connection or a busy database. `None`
/// when it would have waited (then `f` stopped before changing anything: run it again where
/// waiting is fine); else its result.
pub fn without_waiting<T>(f: impl FnOnce() -> Result<T>) -> Option<Result<T>> {
    let outer = MODE.with(|m| m.replace(Mode::NoWait));
    let out = f();
    let waited = MODE.with(|m| m.replace(outer)) == Mode::WouldWait;
    if waited { None } else { Some(out) }
}

/// Whether the current call must not wait.
pub(crate) fn no_wait() -> bool {
    MODE.with(|m| matches!(m.get(), Mode::NoWait | Mode::WouldWait))
}

/// Marks that the current call's write committed (store/sqlite.rs, `write_now`): from here on it
/// finishes where it is, waiting if it must, instead of being abandoned and run again.
pub(crate) fn committed() {
    MODE.with(|m| {
        if m.get() == Mode::NoWait {
            m.set(Mode::Committed);
        }
    });
}

/// Marks the current call as abandoned because it would wait for `what`; the error only unwinds
/// the call (the host never sees it: [`without_waiting`] answers `None`).
pub(crate) fn would_wait(what: &str) -> AccountsError {
    MODE.with(|m| {
        if m.get() == Mode::NoWait {
            m.set(Mode::WouldWait);
        }
    });
    AccountsError::new(ErrorCode::StorageError, format!("would wait for {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_would_wait_answers_none_and_the_mode_is_restored() {
        assert!(!no_wait());
        assert!(without_waiting(|| Ok(no_wait())).unwrap().unwrap());
        assert!(without_waiting::<()>(|| Err(would_wait("a lock"))).is_none());
        assert!(!no_wait(), "restored after the call");
        // An ordinary error is the call's answer.
        let e = without_waiting::<()>(|| Err(AccountsError::code(ErrorCode::UserNotFound))).unwrap().unwrap_err();
        assert_eq!(e.code, ErrorCode::UserNotFound);
        // Outside without_waiting, would_wait is just an error: nothing is marked.
        let _ = would_wait("x");
        assert!(without_waiting(|| Ok(1)).is_some());
    }

    #[test]
    fn after_its_write_committed_a_call_is_never_abandoned() {
        let out = without_waiting::<()>(|| {
            committed();
            assert!(!no_wait(), "what is left may wait");
            Err(would_wait("a connection"))
        });
        assert_eq!(out.expect("answered, not abandoned").unwrap_err().code, ErrorCode::StorageError);
        assert!(!no_wait(), "restored after the call");
        assert!(without_waiting(|| Ok(no_wait())).unwrap().unwrap(), "the next call starts in no-wait mode");
    }
}
