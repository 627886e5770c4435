//! The PostgreSQL store's change counter ([`crate::store::Store::change_counter`]): a fence on the
//! server's current snapshot, shared by the calls of a process that ask at once
//! (docs/reliability.md, "Caches and other processes").
//!
//! `SELECT pg_current_snapshot()::text` gives `xmin:xmax:xip-list`. Its text changes whenever a
//! transaction that had a transaction id ends, committed or aborted, in any database of the
//! cluster: `xmax` is one past the latest completed id, and a running id leaves the list. Read-only
//! transactions have no id and change nothing. Snapshots only move forward (an id that left the
//! list never comes back, new ids are at least `xmax`), so two equal texts, read one after the
//! other, mean nothing was committed in between; and a read made between them saw exactly what was
//! committed at both. The fence keeps the last text it saw and a number, bumped when the text
//! differs: that number is the change counter.
//!
//! **Batching.** Concurrent calls share one query: one of them (the leader) sends it, the others
//! wait for its answer. But a call may only use an answer to a query *sent after it arrived*:
//! otherwise a commit that ended just before the call (a logout it was told of) could be missing
//! from a snapshot taken earlier. So the queries are numbered (generations): a call arriving while
//! generation `n` is in flight waits for `n` and then takes `n + 1`, which it leads itself unless
//! another waiter did first. At most one query is in flight, so answers come in order.
//!
//! An error (no connection, the server down) reaches the callers of its generation: they read
//! without the cache (`cache_stamp` in sessions.rs), and the next call sends a new query.

use crate::error::{AccountsError, ErrorCode, Result};
use std::sync::{Condvar, Mutex, MutexGuard};

struct State {
    /// The generation of the last query begun (0: none yet).
    started: u64,
    /// The generation of the last query answered.
    finished: u64,
    /// A query is under way (generation `started`).
    in_flight: bool,
    /// The outcome of generation `finished`: the change counter, or the error.
    outcome: Result<u64>,
    /// The last snapshot text seen (in generation order), and the counter that stands for it.
    text: Option<String>,
    counter: u64,
    /// Calls waiting for an answer (tests: to know a call has arrived).
    #[cfg(test)]
    waiting: usize,
}

/// Fresh snapshot reads, shared by the calls that arrive while one is under way.
pub(crate) struct Fence {
    state: Mutex<State>,
    answered: Condvar,
}

impl Fence {
    /// A fence whose counter starts above `base` (never the number of another store).
    pub(crate) fn new(base: u64) -> Fence {
        Fence {
            state: Mutex::new(State {
                started: 0,
                finished: 0,
                in_flight: false,
                outcome: Ok(base),
                text: None,
                counter: base,
                #[cfg(test)]
                waiting: 0,
            }),
            answered: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The change counter as of a snapshot taken after this call began: `query` reads the
    /// snapshot's text, and is run by this call if it leads a generation (else dropped unused).
    ///
    /// # Errors
    /// The error of the query of the generation this call takes.
    pub(crate) fn run(&self, query: impl FnOnce() -> Result<String>) -> Result<u64> {
        let mut query = Some(query);
        let mut state = self.state();
        // Any query begun from here on was sent after this call arrived.
        let needed = state.started + 1;
        loop {
            if state.finished >= needed {
                return state.outcome.clone();
            }
            if !state.in_flight {
                state.started += 1;
                let generation = state.started;
                debug_assert!(generation >= needed);
                state.in_flight = true;
                drop(state);
                let query = query.take().expect("a call leads at most once: it returns after");
                let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(query));
                let mut state = self.state();
                let outcome = match &answer {
                    Ok(Ok(text)) => {
                        if state.text.as_deref() != Some(text.as_str()) {
                            state.counter += 1;
                            state.text = Some(text.clone());
                        }
                        Ok(state.counter)
                    }
                    Ok(Err(e)) => Err(e.clone()),
                    Err(_) => Err(AccountsError::new(ErrorCode::InternalError, "postgres: the snapshot read panicked")),
                };
                state.outcome = outcome.clone();
                state.finished = generation;
                state.in_flight = false;
                drop(state);
                self.answered.notify_all();
                if let Err(panic) = answer {
                    std::panic::resume_unwind(panic);
                }
                return outcome;
            }
            #[cfg(test)]
            {
                state.waiting += 1;
            }
            state = self.answered.wait(state).unwrap_or_else(|p| p.into_inner());
            #[cfg(test)]
            {
                state.waiting -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    /// Waits until `fence` has a query in flight (of generation `generation`).
    fn wait_in_flight(fence: &Fence, generation: u64) {
        for _ in 0..10_000 {
            {
                let s = fence.state();
                if s.in_flight && s.started == generation {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("generation {generation} never started");
    }

    /// Waits until `n` calls are waiting on `fence` for an answer.
    fn wait_waiting(fence: &Fence, n: usize) {
        for _ in 0..10_000 {
            if fence.state().waiting == n {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("{n} calls never waited");
    }

    #[test]
    fn a_call_arriving_while_a_query_is_in_flight_takes_the_next_one() {
        let fence = Fence::new(0);
        let (release_first, first_released) = mpsc::channel::<String>();
        let first_released = Mutex::new(first_released);
        let queries = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            // The leader of generation 1: its query sees the snapshot before a commit ("a").
            let leader = scope.spawn(|| {
                fence.run(|| {
                    queries.fetch_add(1, Ordering::SeqCst);
                    Ok(first_released.lock().unwrap().recv().unwrap())
                })
            });
            wait_in_flight(&fence, 1);
            // A call arriving now (after a commit the first query may have missed) must not take
            // generation 1's answer: it runs generation 2, which sees "b".
            let late = scope.spawn(|| {
                fence.run(|| {
                    queries.fetch_add(1, Ordering::SeqCst);
                    Ok("b".to_string())
                })
            });
            wait_waiting(&fence, 1);
            assert_eq!(queries.load(Ordering::SeqCst), 1, "the late call waits for the query in flight to end");
            release_first.send("a".to_string()).unwrap();
            let first = leader.join().unwrap().unwrap();
            let second = late.join().unwrap().unwrap();
            assert_eq!(queries.load(Ordering::SeqCst), 2, "the late call sent a query of its own");
            assert_eq!(first, 1);
            assert_eq!(second, 2, "the late call got the answer of a query sent after it arrived");
        });
    }

    #[test]
    fn calls_arriving_together_share_one_query() {
        let fence = Fence::new(100);
        let (release_first, first_released) = mpsc::channel::<String>();
        let first_released = Mutex::new(first_released);
        let (release_second, second_released) = mpsc::channel::<String>();
        let second_released = Mutex::new(second_released);
        let queries = AtomicUsize::new(0);
        const WAITERS: usize = 8;
        std::thread::scope(|scope| {
            let blocker = scope.spawn(|| fence.run(|| Ok(first_released.lock().unwrap().recv().unwrap())));
            wait_in_flight(&fence, 1);
            // These all arrive while generation 1 is in flight: they need generation 2, and one of
            // them sends it for all.
            let waiters: Vec<_> = (0..WAITERS)
                .map(|_| {
                    let (fence, queries, second_released) = (&fence, &queries, &second_released);
                    scope.spawn(move || {
                        fence.run(|| {
                            queries.fetch_add(1, Ordering::SeqCst);
                            Ok(second_released.lock().unwrap().recv().unwrap())
                        })
                    })
                })
                .collect();
            wait_waiting(&fence, WAITERS);
            release_first.send("a".into()).unwrap();
            assert_eq!(blocker.join().unwrap().unwrap(), 101);
            wait_in_flight(&fence, 2);
            release_second.send("b".into()).unwrap();
            for w in waiters {
                assert_eq!(w.join().unwrap().unwrap(), 102);
            }
            assert_eq!(queries.load(Ordering::SeqCst), 1, "one query for all the calls that arrived during generation 1");
            assert_eq!(fence.state().started, 2);
        });
    }

    #[test]
    fn an_error_reaches_the_callers_of_its_generation_and_the_next_call_queries_again() {
        let fence = Fence::new(0);
        let (release_first, first_released) = mpsc::channel::<Result<String>>();
        let first_released = Mutex::new(first_released);
        let (release_second, second_released) = mpsc::channel::<Result<String>>();
        let second_released = Mutex::new(second_released);
        std::thread::scope(|scope| {
            let blocker = scope.spawn(|| fence.run(|| first_released.lock().unwrap().recv().unwrap()));
            wait_in_flight(&fence, 1);
            let waiters: Vec<_> = (0..4)
                .map(|_| {
                    let (fence, second_released) = (&fence, &second_released);
                    scope.spawn(move || fence.run(|| second_released.lock().unwrap().recv().unwrap()))
                })
                .collect();
            wait_waiting(&fence, 4);
            release_first.send(Ok("a".into())).unwrap();
            assert_eq!(blocker.join().unwrap().unwrap(), 1);
            wait_in_flight(&fence, 2);
            release_second.send(Err(AccountsError::new(ErrorCode::StorageError, "postgres: down"))).unwrap();
            for w in waiters {
                assert_eq!(w.join().unwrap().unwrap_err().code, ErrorCode::StorageError, "every caller of the failed generation");
            }
        });
        // The next call does not take the error: it queries again.
        let queried = AtomicUsize::new(0);
        let next = fence.run(|| {
            queried.fetch_add(1, Ordering::SeqCst);
            Ok("a".into())
        });
        assert_eq!((next.unwrap(), queried.load(Ordering::SeqCst)), (1, 1), "a new query; the text is unchanged since before the error");
    }

    #[test]
    fn a_changed_text_bumps_the_counter_and_an_unchanged_one_does_not() {
        let fence = Fence::new(1 << 40);
        let base = 1 << 40;
        assert_eq!(fence.run(|| Ok("10:10:".into())).unwrap(), base + 1, "the first text");
        assert_eq!(fence.run(|| Ok("10:10:".into())).unwrap(), base + 1, "nothing committed");
        assert_eq!(fence.run(|| Ok("10:12:11".into())).unwrap(), base + 2, "a commit (xmax moved)");
        assert_eq!(fence.run(|| Ok("10:12:".into())).unwrap(), base + 3, "a commit (11 left the list)");
        assert_eq!(fence.run(|| Ok("10:12:".into())).unwrap(), base + 3);
        let (sent, queries) = (AtomicUsize::new(0), 3);
        for _ in 0..queries {
            fence
                .run(|| {
                    sent.fetch_add(1, Ordering::SeqCst);
                    Ok("10:12:".into())
                })
                .unwrap();
        }
        assert_eq!(sent.load(Ordering::SeqCst), queries, "each call alone sends its own query");
    }

    #[test]
    fn a_panicking_query_leaves_the_fence_usable() {
        let fence = Fence::new(0);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fence.run(|| panic!("boom"))));
        assert!(panicked.is_err());
        assert!(!fence.state().in_flight);
        assert_eq!(fence.run(|| Ok("1:1:".into())).unwrap(), 1);
    }
}
