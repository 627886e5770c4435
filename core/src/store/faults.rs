//! A [`Store`] that fails on purpose at a chosen step (feature `fault-injection`, tests only).
//!
//! Every call into the store is a step: each [`Store`] method, each [`Writes`] operation inside a
//! transaction, and the commit of each transaction. The atomicity test (core/tests/atomic_flows.rs)
//! runs a flow once to count its steps, then once per step with that step failing, and checks the
//! data is wholly as before or wholly as after (docs/reliability.md, "Atomic flows").

use super::{AttemptCount, NewUser, SessionRecord, Store, TokenRecord, TokenScope, Writes};
use crate::error::{AccountsError, ErrorCode, Result};
use crate::types::{ConnectionInfo, PurgeReport, Session, User};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which step fails next, and how many steps have run.
#[derive(Debug)]
pub struct FaultPlan {
    fail_at: AtomicU64,
    steps: AtomicU64,
}

impl FaultPlan {
    /// A plan that fails nothing.
    pub fn new() -> Arc<FaultPlan> {
        Arc::new(FaultPlan { fail_at: AtomicU64::new(u64::MAX), steps: AtomicU64::new(0) })
    }

    /// Restarts the step count; the step numbered `step` (from 0) will fail, or none for `None`.
    pub fn arm(&self, step: Option<u64>) {
        self.steps.store(0, Ordering::SeqCst);
        self.fail_at.store(step.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// How many steps ran since the last [`FaultPlan::arm`].
    pub fn steps(&self) -> u64 {
        self.steps.load(Ordering::SeqCst)
    }

    fn step(&self, what: &str) -> Result<()> {
        let n = self.steps.fetch_add(1, Ordering::SeqCst);
        if n == self.fail_at.load(Ordering::SeqCst) {
            return Err(AccountsError::new(ErrorCode::StorageError, format!("injected fault at step {n} ({what})")));
        }
        Ok(())
    }
}

/// Wraps a store; fails where its [`FaultPlan`] says.
pub struct FaultyStore {
    inner: Box<dyn Store>,
    plan: Arc<FaultPlan>,
}

impl FaultyStore {
    /// `inner` with faults from `plan`.
    pub fn new(inner: Box<dyn Store>, plan: Arc<FaultPlan>) -> FaultyStore {
        FaultyStore { inner, plan }
    }
}

struct FaultyWrites<'a> {
    inner: &'a mut dyn Writes,
    plan: &'a FaultPlan,
}

impl Writes for FaultyWrites<'_> {
    fn create_user(&mut self, user: &NewUser) -> Result<()> {
        self.plan.step("tx create_user")?;
        self.inner.create_user(user)
    }
    fn set_password_hash(&mut self, user_id: &str, hash: &str, now: i64) -> Result<()> {
        self.plan.step("tx set_password_hash")?;
        self.inner.set_password_hash(user_id, hash, now)
    }
    fn create_session(&mut self, record: &SessionRecord) -> Result<()> {
        self.plan.step("tx create_session")?;
        self.inner.create_session(record)
    }
    fn invalidate_all_sessions(&mut self, user_id: &str, except: &[String], now: i64) -> Result<u64> {
        self.plan.step("tx invalidate_all_sessions")?;
        self.inner.invalidate_all_sessions(user_id, except, now)
    }
    fn verify_email(&mut self, user_id: &str, address: &str, now: i64) -> Result<bool> {
        self.plan.step("tx verify_email")?;
        self.inner.verify_email(user_id, address, now)
    }
    fn insert_token(&mut self, record: &TokenRecord, scope: TokenScope) -> Result<()> {
        self.plan.step("tx insert_token")?;
        self.inner.insert_token(record, scope)
    }
    fn take_token(&mut self, digest: &str, kinds: &[&str]) -> Result<Option<TokenRecord>> {
        self.plan.step("tx take_token")?;
        self.inner.take_token(digest, kinds)
    }
    fn delete_tokens(&mut self, user_id: &str, kind: &str) -> Result<u64> {
        self.plan.step("tx delete_tokens")?;
        self.inner.delete_tokens(user_id, kind)
    }
    fn swap_service(&mut self, user_id: &str, name: &str, expected: Option<&str>, new: Option<&str>, now: i64) -> Result<bool> {
        self.plan.step("tx swap_service")?;
        self.inner.swap_service(user_id, name, expected, new, now)
    }
}

impl Store for FaultyStore {
    fn atomically(&self, work: &mut dyn FnMut(&mut dyn Writes) -> Result<()>) -> Result<()> {
        let plan = &self.plan;
        self.inner.atomically(&mut |w| {
            work(&mut FaultyWrites { inner: w, plan })?;
            plan.step("commit") // a failing commit: everything above rolls back
        })
    }
    fn create_user(&self, user: &NewUser) -> Result<()> {
        self.plan.step("create_user")?;
        self.inner.create_user(user)
    }
    fn find_user_by_id(&self, id: &str) -> Result<Option<User>> {
        self.plan.step("find_user_by_id")?;
        self.inner.find_user_by_id(id)
    }
    fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.plan.step("find_user_by_email")?;
        self.inner.find_user_by_email(email)
    }
    fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.plan.step("find_user_by_username")?;
        self.inner.find_user_by_username(username)
    }
    fn find_password_hash(&self, user_id: &str) -> Result<Option<String>> {
        self.plan.step("find_password_hash")?;
        self.inner.find_password_hash(user_id)
    }
    fn set_password_hash(&self, user_id: &str, hash: &str, now: i64) -> Result<()> {
        self.plan.step("set_password_hash")?;
        self.inner.set_password_hash(user_id, hash, now)
    }
    fn set_deactivated(&self, user_id: &str, deactivated: bool, now: i64) -> Result<()> {
        self.plan.step("set_deactivated")?;
        self.inner.set_deactivated(user_id, deactivated, now)
    }
    fn create_session(&self, record: &SessionRecord) -> Result<()> {
        self.plan.step("create_session")?;
        self.inner.create_session(record)
    }
    fn find_session(&self, id: &str) -> Result<Option<SessionRecord>> {
        self.plan.step("find_session")?;
        self.inner.find_session(id)
    }
    fn rotate_session(&self, id: &str, expected_digest: &str, new_digest: &str, now: i64, info: &ConnectionInfo) -> Result<bool> {
        self.plan.step("rotate_session")?;
        self.inner.rotate_session(id, expected_digest, new_digest, now, info)
    }
    fn invalidate_session(&self, id: &str, now: i64) -> Result<bool> {
        self.plan.step("invalidate_session")?;
        self.inner.invalidate_session(id, now)
    }
    fn invalidate_all_sessions(&self, user_id: &str, except: &[String], now: i64) -> Result<u64> {
        self.plan.step("invalidate_all_sessions")?;
        self.inner.invalidate_all_sessions(user_id, except, now)
    }
    fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>> {
        self.plan.step("list_sessions")?;
        self.inner.list_sessions(user_id)
    }
    fn add_email(&self, user_id: &str, address: &str, verified: bool, now: i64) -> Result<()> {
        self.plan.step("add_email")?;
        self.inner.add_email(user_id, address, verified, now)
    }
    fn remove_email(&self, user_id: &str, address: &str, now: i64) -> Result<bool> {
        self.plan.step("remove_email")?;
        self.inner.remove_email(user_id, address, now)
    }
    fn verify_email(&self, user_id: &str, address: &str, now: i64) -> Result<bool> {
        self.plan.step("verify_email")?;
        self.inner.verify_email(user_id, address, now)
    }
    fn insert_token(&self, record: &TokenRecord, scope: TokenScope) -> Result<()> {
        self.plan.step("insert_token")?;
        self.inner.insert_token(record, scope)
    }
    fn find_token(&self, digest: &str) -> Result<Option<TokenRecord>> {
        self.plan.step("find_token")?;
        self.inner.find_token(digest)
    }
    fn take_token(&self, digest: &str, kinds: &[&str]) -> Result<Option<TokenRecord>> {
        self.plan.step("take_token")?;
        self.inner.take_token(digest, kinds)
    }
    fn delete_tokens(&self, user_id: &str, kind: &str) -> Result<u64> {
        self.plan.step("delete_tokens")?;
        self.inner.delete_tokens(user_id, kind)
    }
    fn decoy_write(&self, digest: &str, now: i64) -> Result<()> {
        self.plan.step("decoy_write")?;
        self.inner.decoy_write(digest, now)
    }
    fn read_attempts(&self, keys: &[String], now: i64) -> Result<Vec<AttemptCount>> {
        self.plan.step("read_attempts")?;
        self.inner.read_attempts(keys, now)
    }
    fn hit_attempts(&self, hits: &[(String, i64)], now: i64) -> Result<Vec<AttemptCount>> {
        self.plan.step("hit_attempts")?;
        self.inner.hit_attempts(hits, now)
    }
    fn release_attempts(&self, release: &[String], clear: &[String]) -> Result<()> {
        self.plan.step("release_attempts")?;
        self.inner.release_attempts(release, clear)
    }
    fn purge_expired(&self, now: i64) -> Result<PurgeReport> {
        self.plan.step("purge_expired")?;
        self.inner.purge_expired(now)
    }
    fn find_service(&self, user_id: &str, name: &str) -> Result<Option<String>> {
        self.plan.step("find_service")?;
        self.inner.find_service(user_id, name)
    }
    fn swap_service(&self, user_id: &str, name: &str, expected: Option<&str>, new: Option<&str>, now: i64) -> Result<bool> {
        self.plan.step("swap_service")?;
        self.inner.swap_service(user_id, name, expected, new, now)
    }
}
