//! A [`Store`] that fails on purpose at a chosen step (feature `fault-injection`, tests only).
//!
//! Every call into the store is a step: each [`Store`] method, each [`Writes`] operation inside a
//! transaction, and the commit of each transaction. The atomicity test (core/tests/atomic_flows.rs)
//! runs a flow once to count its steps, then once per step with that step failing, and checks the
//! data is wholly as before or wholly as after (docs/reliability.md, "Atomic flows").

use super::{
    AttemptCount, NewUser, OAuthFlow, PasskeyRecord, SealedColumn, SealedValue, SessionRecord, Store, TokenRecord, TokenScope, Unlinked,
    WebAuthnChallenge, Writes,
};
use crate::error::{AccountsError, ErrorCode, Result};
use crate::types::{ConnectionInfo, LinkedAccount, PurgeReport, Session, User};
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
    fn link_account(&mut self, account: &LinkedAccount) -> Result<()> {
        self.plan.step("tx link_account")?;
        self.inner.link_account(account)
    }
    fn drop_unproven_holds(&mut self, user_id: &str, keep: &str, now: i64) -> Result<()> {
        self.plan.step("tx drop_unproven_holds")?;
        self.inner.drop_unproven_holds(user_id, keep, now)
    }
    fn set_linked_tokens(&mut self, provider: &str, id: &str, tokens: Option<&str>) -> Result<bool> {
        self.plan.step("tx set_linked_tokens")?;
        self.inner.set_linked_tokens(provider, id, tokens)
    }
    fn delete_passkeys(&mut self, user_id: &str) -> Result<Vec<String>> {
        self.plan.step("tx delete_passkeys")?;
        self.inner.delete_passkeys(user_id)
    }
    fn create_passkey(&mut self, passkey: &PasskeyRecord, max: usize) -> Result<()> {
        self.plan.step("tx create_passkey")?;
        self.inner.create_passkey(passkey, max)
    }
    fn swap_passkey_state(&mut self, id: &str, expected: &str, new: &str, now: i64) -> Result<bool> {
        self.plan.step("tx swap_passkey_state")?;
        self.inner.swap_passkey_state(id, expected, new, now)
    }
}

forward_store!(
    FaultyStore,
    |self, name| {
        self.plan.step(name)?;
        &self.inner
    },
    atomically = |self, work| {
        let plan = &self.plan;
        self.inner.atomically(&mut |w| {
            work(&mut FaultyWrites { inner: w, plan })?;
            plan.step("commit") // a failing commit: everything above rolls back
        })
    }
);
