//! Group commit for the SQLite writer (docs/architecture.md, "Group commit").
//!
//! A write that finds other writers queued behind it leaves its transaction open and hands the
//! writer on; the next one runs in the same transaction, each write inside its own savepoint, and
//! the last writer of the batch commits once for all of them. A write's own failure rolls back its
//! savepoint only; a failed `COMMIT` fails every write of the batch (none of them landed).

use crate::error::{AccountsError, Result};
use std::sync::{Arc, Condvar, Mutex};

/// Writes in one transaction at most: a steady stream of writers still commits this often.
pub(super) const MAX_BATCH: usize = 64;

/// How a batch's transaction ended, for the writes that left it open and wait.
#[derive(Default)]
pub(super) struct Ticket {
    outcome: Mutex<Option<Result<()>>>,
    done: Condvar,
}

impl Ticket {
    /// Answers everyone waiting on this batch.
    pub(super) fn finish(&self, outcome: Result<()>) {
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        self.done.notify_all();
    }

    /// Blocks until the batch is committed or lost.
    pub(super) fn wait(&self) -> Result<()> {
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(o) = outcome.as_ref() {
                return o.clone();
            }
            outcome = self.done.wait(outcome).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The transaction open on the writer connection, if any; only touched with the writer held.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) ticket: Option<Arc<Ticket>>,
    pub(super) writes: usize,
}

impl Batch {
    /// Closes the batch and answers the writes waiting on it.
    pub(super) fn finish(&mut self, outcome: Result<()>) {
        if let Some(ticket) = self.ticket.take() {
            ticket.finish(outcome);
        }
        self.writes = 0;
    }
}

/// What became of one write run inside a batch.
pub(super) enum Outcome<T> {
    /// The write ran; its own error (if any) was rolled back with its savepoint.
    Ran(Result<T>),
    /// The write panicked; its savepoint was rolled back and the panic goes on after the batch is settled.
    Panicked(Box<dyn std::any::Any + Send>),
    /// The transaction itself is gone (SQLite rolled it back after an I/O error, or a savepoint
    /// could not be rolled back): every write of the batch failed with this error.
    Lost(AccountsError),
}

impl<T> Outcome<T> {
    /// What the write's caller gets, once the batch is settled: its result, its panic resumed, or
    /// the batch's error.
    pub(super) fn into_result(self) -> Result<T> {
        match self {
            Outcome::Ran(result) => result,
            Outcome::Panicked(p) => std::panic::resume_unwind(p),
            Outcome::Lost(e) => Err(e),
        }
    }
}
