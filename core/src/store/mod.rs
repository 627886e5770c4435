//! Persistence: one [`Store`] trait, implemented by [`sqlite::SqliteStore`] and
//! [`postgres::PostgresStore`].
//!
//! Stores hold no business rules: they persist rows, enforce uniqueness and offer the
//! compare-and-swaps that rotation and single use need. Secrets arrive here already digested.
//! A flow that changes several things runs them through [`Store::atomically`], so it commits
//! once or not at all (docs/reliability.md, "Atomic flows").

/// Implements [`Store`] for a wrapper by forwarding every method (but `atomically`, given as
/// `atomically = |self, work| ...`) to `$inner`, an expression of `self` and the method's name
/// `$name` that yields the wrapped store (it may use `?`).
macro_rules! forward_store {
    ($ty:ty, |$s:ident, $name:ident| $inner:expr, atomically = |$as:ident, $work:ident| $atomically:expr) => {
        impl Store for $ty {
            fn atomically(&$as, $work: &mut dyn FnMut(&mut dyn Writes) -> Result<()>) -> Result<()> {
                $atomically
            }
            fn create_user(&$s, user: &NewUser) -> Result<()> {
                let $name = "create_user";
                $inner.create_user(user)
            }
            fn find_user_by_id(&$s, id: &str) -> Result<Option<User>> {
                let $name = "find_user_by_id";
                $inner.find_user_by_id(id)
            }
            fn find_user_by_email(&$s, email: &str) -> Result<Option<User>> {
                let $name = "find_user_by_email";
                $inner.find_user_by_email(email)
            }
            fn find_user_by_username(&$s, username: &str) -> Result<Option<User>> {
                let $name = "find_user_by_username";
                $inner.find_user_by_username(username)
            }
            fn max_bcrypt_cost(&$s) -> Result<Option<u32>> {
                let $name = "max_bcrypt_cost";
                $inner.max_bcrypt_cost()
            }
            fn find_password_hash(&$s, user_id: &str) -> Result<Option<String>> {
                let $name = "find_password_hash";
                $inner.find_password_hash(user_id)
            }
            fn set_password_hash(&$s, user_id: &str, hash: &str, now: i64) -> Result<()> {
                let $name = "set_password_hash";
                $inner.set_password_hash(user_id, hash, now)
            }
            fn set_deactivated(&$s, user_id: &str, deactivated: bool, now: i64) -> Result<()> {
                let $name = "set_deactivated";
                $inner.set_deactivated(user_id, deactivated, now)
            }
            fn create_session(&$s, record: &SessionRecord) -> Result<()> {
                let $name = "create_session";
                $inner.create_session(record)
            }
            fn find_session(&$s, id: &str) -> Result<Option<SessionRecord>> {
                let $name = "find_session";
                $inner.find_session(id)
            }
            fn rotate_session(&$s, id: &str, expected: &str, new_digest: &str, now: i64, info: &ConnectionInfo) -> Result<bool> {
                let $name = "rotate_session";
                $inner.rotate_session(id, expected, new_digest, now, info)
            }
            fn invalidate_session(&$s, id: &str, now: i64) -> Result<bool> {
                let $name = "invalidate_session";
                $inner.invalidate_session(id, now)
            }
            fn session_view(&$s, id: &str) -> Result<Option<$crate::store::SessionView>> {
                let $name = "session_view";
                $inner.session_view(id)
            }
            fn change_session(&$s, id: &str, decide: &mut dyn FnMut(&$crate::store::SessionView) -> Result<$crate::store::SessionChange>) -> Result<Option<bool>> {
                let $name = "change_session";
                $inner.change_session(id, decide)
            }
            fn invalidate_all_sessions(&$s, user_id: &str, except: &[String], now: i64) -> Result<u64> {
                let $name = "invalidate_all_sessions";
                $inner.invalidate_all_sessions(user_id, except, now)
            }
            fn list_sessions(&$s, user_id: &str) -> Result<Vec<Session>> {
                let $name = "list_sessions";
                $inner.list_sessions(user_id)
            }
            fn add_email(&$s, user_id: &str, address: &str, verified: bool, now: i64) -> Result<()> {
                let $name = "add_email";
                $inner.add_email(user_id, address, verified, now)
            }
            fn remove_email(&$s, user_id: &str, address: &str, now: i64) -> Result<bool> {
                let $name = "remove_email";
                $inner.remove_email(user_id, address, now)
            }
            fn verify_email(&$s, user_id: &str, address: &str, now: i64) -> Result<bool> {
                let $name = "verify_email";
                $inner.verify_email(user_id, address, now)
            }
            fn insert_token(&$s, record: &TokenRecord, scope: TokenScope) -> Result<()> {
                let $name = "insert_token";
                $inner.insert_token(record, scope)
            }
            fn find_token(&$s, digest: &str) -> Result<Option<TokenRecord>> {
                let $name = "find_token";
                $inner.find_token(digest)
            }
            fn take_token(&$s, digest: &str, kinds: &[&str]) -> Result<Option<TokenRecord>> {
                let $name = "take_token";
                $inner.take_token(digest, kinds)
            }
            fn delete_tokens(&$s, user_id: &str, kind: &str) -> Result<u64> {
                let $name = "delete_tokens";
                $inner.delete_tokens(user_id, kind)
            }
            fn decoy_write(&$s, digest: &str, now: i64) -> Result<()> {
                let $name = "decoy_write";
                $inner.decoy_write(digest, now)
            }
            fn read_attempts(&$s, keys: &[String], now: i64) -> Result<Vec<AttemptCount>> {
                let $name = "read_attempts";
                $inner.read_attempts(keys, now)
            }
            fn hit_attempts(&$s, hits: &[(String, i64)], now: i64) -> Result<Vec<AttemptCount>> {
                let $name = "hit_attempts";
                $inner.hit_attempts(hits, now)
            }
            fn release_attempts(&$s, release: &[String], clear: &[String]) -> Result<()> {
                let $name = "release_attempts";
                $inner.release_attempts(release, clear)
            }
            fn purge_expired(&$s, now: i64) -> Result<PurgeReport> {
                let $name = "purge_expired";
                $inner.purge_expired(now)
            }
            fn find_service(&$s, user_id: &str, name: &str) -> Result<Option<String>> {
                let $name = "find_service";
                $inner.find_service(user_id, name)
            }
            fn list_services(&$s, service: &str, after: &str, limit: u32) -> Result<Vec<(String, String)>> {
                let $name = "list_services";
                $inner.list_services(service, after, limit)
            }
            fn swap_service(&$s, user_id: &str, name: &str, expected: Option<&str>, new: Option<&str>, now: i64) -> Result<bool> {
                let $name = "swap_service";
                $inner.swap_service(user_id, name, expected, new, now)
            }
            fn find_linked_account(&$s, provider: &str, id: &str) -> Result<Option<LinkedAccount>> {
                let $name = "find_linked_account";
                $inner.find_linked_account(provider, id)
            }
            fn list_linked_accounts(&$s, user_id: &str) -> Result<Vec<LinkedAccount>> {
                let $name = "list_linked_accounts";
                $inner.list_linked_accounts(user_id)
            }
            fn unlink_account(&$s, user_id: &str, provider: &str) -> Result<Unlinked> {
                let $name = "unlink_account";
                $inner.unlink_account(user_id, provider)
            }
            fn insert_oauth_flow(&$s, flow: &OAuthFlow) -> Result<()> {
                let $name = "insert_oauth_flow";
                $inner.insert_oauth_flow(flow)
            }
            fn take_oauth_flow(&$s, digest: &str) -> Result<Option<OAuthFlow>> {
                let $name = "take_oauth_flow";
                $inner.take_oauth_flow(digest)
            }
            fn insert_webauthn_challenge(&$s, challenge: &WebAuthnChallenge) -> Result<()> {
                let $name = "insert_webauthn_challenge";
                $inner.insert_webauthn_challenge(challenge)
            }
            fn take_webauthn_challenge(&$s, digest: &str, ceremony: &str, user_id: Option<&str>) -> Result<Option<WebAuthnChallenge>> {
                let $name = "take_webauthn_challenge";
                $inner.take_webauthn_challenge(digest, ceremony, user_id)
            }
            fn find_passkey(&$s, id: &str) -> Result<Option<PasskeyRecord>> {
                let $name = "find_passkey";
                $inner.find_passkey(id)
            }
            fn list_passkeys(&$s, user_id: &str) -> Result<Vec<PasskeyRecord>> {
                let $name = "list_passkeys";
                $inner.list_passkeys(user_id)
            }
            fn rename_passkey(&$s, user_id: &str, id: &str, name: &str) -> Result<bool> {
                let $name = "rename_passkey";
                $inner.rename_passkey(user_id, id, name)
            }
            fn remove_passkey(&$s, user_id: &str, id: &str) -> Result<Unlinked> {
                let $name = "remove_passkey";
                $inner.remove_passkey(user_id, id)
            }
            fn list_sealed(&$s, column: SealedColumn, after: (&str, &str), limit: u32) -> Result<Vec<SealedValue>> {
                let $name = "list_sealed";
                $inner.list_sealed(column, after, limit)
            }
            fn swap_sealed(&$s, column: SealedColumn, key: (&str, &str), expected: &str, new: &str) -> Result<bool> {
                let $name = "swap_sealed";
                $inner.swap_sealed(column, key, expected, new)
            }
            fn change_counter(&$s) -> Result<Option<u64>> {
                let $name = "change_counter";
                $inner.change_counter()
            }
            fn maintenance_due(&$s) -> Result<bool> {
                let $name = "maintenance_due";
                $inner.maintenance_due()
            }
            fn run_maintenance(&$s) -> Result<()> {
                let $name = "run_maintenance";
                $inner.run_maintenance()
            }
            fn wait_for_inline(&$s) -> Result<()> {
                let $name = "wait_for_inline";
                $inner.wait_for_inline()
            }
        }
    };
}

#[cfg(feature = "fault-injection")]
pub mod faults;
mod group_commit;
mod per_process;
pub mod postgres;
mod postgres_fence;
mod postgres_pool;
mod postgres_tls;
pub mod sqlite;

use crate::error::Result;
use crate::types::{ConnectionInfo, EmailRecord, LinkedAccount, PurgeReport, Session, User};
use serde_json::{Map, Value};

/// A user to insert (a signup, or an imported accounts-js user). Addresses are already
/// normalized, `password_hash` already hashed, service documents already sealed where secret.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The user id.
    pub id: String,
    /// The username as given (NFC).
    pub username: Option<String>,
    /// The uniqueness key of `username` (case-folded skeleton, see `identifiers::username_key`).
    pub username_key: Option<String>,
    /// In the order the user should see them.
    pub emails: Vec<EmailRecord>,
    /// Profile fields.
    pub profile: Map<String, Value>,
    /// The password hash (argon2id or imported bcrypt).
    pub password_hash: Option<String>,
    /// `(name, JSON document)` per service (e.g. `two-factor`).
    pub services: Vec<(String, String)>,
    /// Whether the user is deactivated.
    pub deactivated: bool,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last update (ms).
    pub updated_at: i64,
}

/// A session row, including the digests that never leave core.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// The session as callers see it.
    pub session: Session,
    /// SHA-256 (hex) of the refresh token currently valid for this session.
    pub refresh_digest: String,
    /// SHA-256 (hex) of the refresh token it replaced, for the reuse grace window.
    pub prev_refresh_digest: Option<String>,
    /// When the refresh token was last issued (ms); the successor's `iat` derives from it.
    pub rotated_at: i64,
}

/// A session with the users it names ([`Store::session_view`]).
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The session row.
    pub record: SessionRecord,
    /// Its user (`None`: deleted meanwhile).
    pub user: Option<User>,
    /// The impersonator it names, if any (`None` also when that user is gone).
    pub impersonator: Option<User>,
}

/// What [`Store::change_session`] is asked to make of the session it read.
#[derive(Debug, Clone)]
pub enum SessionChange {
    /// Nothing.
    Keep,
    /// Rotate the refresh token: from the digest read to `new_digest` (as [`Store::rotate_session`]).
    Rotate {
        /// SHA-256 (hex) of the new refresh token.
        new_digest: String,
        /// When (ms).
        now: i64,
        /// Where the refresh came from.
        info: ConnectionInfo,
    },
    /// End the session (as [`Store::invalidate_session`]).
    Invalidate {
        /// When (ms).
        now: i64,
    },
}

/// A one-time token row (verification, reset, enrollment, magic link): only its digest is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// SHA-256 (hex) of the token.
    pub digest: String,
    /// Whose token it is.
    pub user_id: String,
    /// `verifyEmail`, `resetPassword`, `enrollAccount` or `magicLink`.
    pub kind: String,
    /// The address the token was mailed to.
    pub address: Option<String>,
    /// Expiry (ms).
    pub expires_at: i64,
    /// Creation time (ms).
    pub created_at: i64,
}

/// Which unused tokens of the same user a new token replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    /// Every token of the same kind (reset, enrollment, magic link: one live link per user).
    Kind,
    /// Tokens of the same kind mailed to the same address (verification: one live link per address).
    KindAndAddress,
}

/// A failed-attempt counter as stored: `key` is a digest naming what is counted (never an IP or
/// identifier in plaintext); the window ends at `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCount {
    /// The counter's key (a digest).
    pub key: String,
    /// Failures counted in the window.
    pub failures: i64,
    /// When the window ends (ms).
    pub expires_at: i64,
}

/// The writes a flow can group into one transaction ([`Store::atomically`]). Each behaves as the
/// [`Store`] method of the same name; none is visible to other callers before the commit.
pub trait Writes {
    /// As [`Store::create_user`].
    fn create_user(&mut self, user: &NewUser) -> Result<()>;
    /// As [`Store::set_password_hash`].
    fn set_password_hash(&mut self, user_id: &str, hash: &str, now: i64) -> Result<()>;
    /// As [`Store::create_session`].
    fn create_session(&mut self, record: &SessionRecord) -> Result<()>;
    /// As [`Store::invalidate_all_sessions`].
    fn invalidate_all_sessions(&mut self, user_id: &str, except: &[String], now: i64) -> Result<u64>;
    /// As [`Store::verify_email`].
    fn verify_email(&mut self, user_id: &str, address: &str, now: i64) -> Result<bool>;
    /// As [`Store::insert_token`].
    fn insert_token(&mut self, record: &TokenRecord, scope: TokenScope) -> Result<()>;
    /// As [`Store::take_token`].
    fn take_token(&mut self, digest: &str, kinds: &[&str]) -> Result<Option<TokenRecord>>;
    /// As [`Store::delete_tokens`].
    fn delete_tokens(&mut self, user_id: &str, kind: &str) -> Result<u64>;
    /// As [`Store::swap_service`].
    fn swap_service(&mut self, user_id: &str, name: &str, expected: Option<&str>, new: Option<&str>, now: i64) -> Result<bool>;
    /// Links a provider identity to `account.user_id`.
    ///
    /// # Errors
    /// `AccountAlreadyLinked` when the identity belongs to a user already, or the user has one of
    /// that provider; `UserNotFound`.
    fn link_account(&mut self, account: &LinkedAccount) -> Result<()>;
    /// Replaces the sealed provider tokens of a linked identity; whether it exists.
    fn set_linked_tokens(&mut self, provider: &str, id: &str, tokens: Option<&str>) -> Result<bool>;
    /// Removes what an account held while none of its addresses was proven — every linked
    /// identity and every unverified address but `keep` (with their link tokens) — when a reset
    /// through `keep` proves the first one (docs/security.md, "Pre-account hijack").
    fn drop_unproven_holds(&mut self, user_id: &str, keep: &str, now: i64) -> Result<()>;
    /// Stores a new passkey unless its user has `max` already (counted in this transaction, with
    /// the user's row locked on PostgreSQL, so concurrent registrations cannot pass the cap).
    ///
    /// # Errors
    /// `PasskeyAlreadyRegistered` when the credential id is stored already; `UserNotFound`;
    /// `InvalidArgument` when the user has `max` passkeys.
    fn create_passkey(&mut self, passkey: &PasskeyRecord, max: usize) -> Result<()>;
    /// Deletes all of a user's passkeys; the ids deleted.
    fn delete_passkeys(&mut self, user_id: &str) -> Result<Vec<String>>;
    /// Replaces a passkey's state (counter, flags) if, and only if, it is still `expected`, and
    /// records the use at `now`; whether it swapped.
    fn swap_passkey_state(&mut self, id: &str, expected: &str, new: &str, now: i64) -> Result<bool>;
}

/// A registered passkey (docs/passkeys.md). Nothing in it is secret: the private key never
/// leaves the authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The credential id, base64url (the primary key: unique across users).
    pub id: String,
    /// Whose passkey it is.
    pub user_id: String,
    /// The random WebAuthn user handle (base64url) the authenticator returns at sign-in; the same
    /// for all of a user's passkeys.
    pub user_handle: String,
    /// The user's name for it.
    pub name: String,
    /// The public key and its static extension state as `webauthn_rp` encodes them (base64url).
    pub public_key: String,
    /// The dynamic state (UV, backup flags, signature counter, attachment), `webauthn_rp`'s
    /// 7-byte encoding in hex.
    pub state: String,
    /// The transports, a JSON array of strings.
    pub transports: String,
    /// The AAGUID (UUID text).
    pub aaguid: String,
    /// Registration (ms).
    pub created_at: i64,
    /// Last sign-in (ms).
    pub last_used_at: Option<i64>,
}

/// A started passkey ceremony (`registrationOptions` / `authenticationOptions`), found by the
/// digest of its challenge; its `webauthn_rp` server state is sealed, bound to the ceremony and user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAuthnChallenge {
    /// SHA-256 (hex) of the challenge.
    pub digest: String,
    /// `registration` or `authentication`.
    pub ceremony: String,
    /// The user it is bound to, if any.
    pub user_id: Option<String>,
    /// The server state, sealed.
    pub state: String,
    /// Expiry (ms).
    pub expires_at: i64,
    /// Creation (ms).
    pub created_at: i64,
    /// Who started it (a digest of the client address, or of the user for a registration):
    /// pending ceremonies are capped per client as OAuth flows are.
    pub client: Option<String>,
}

/// A pending OpenID Connect authorization, between `authorizationUrl` and the login that ends it
/// (docs/oauth.md, "OpenID Connect"). Found by the digest of its `state`; nothing in it opens the
/// flow without the `state` the browser carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthFlow {
    /// SHA-256 of the `state` (hex).
    pub digest: String,
    /// The provider it was started for.
    pub provider: String,
    /// The PKCE code verifier, sealed with the sealing key.
    pub verifier: String,
    /// SHA-256 of the `nonce` the ID token must carry (hex).
    pub nonce_digest: String,
    /// The redirect URI sent with the authorization request (the token request repeats it).
    pub redirect_uri: String,
    /// Expiry (ms).
    pub expires_at: i64,
    /// Creation (ms).
    pub created_at: i64,
    /// The client that started it (a digest of its address, IPv6 by /64), or `None` when the
    /// caller gave no address: pending flows are capped per client.
    pub client: Option<String>,
}

/// Pending authorizations one client address may hold; starting another drops its oldest
/// (docs/security.md, "OAuth"). Flows of callers that gave no address share one larger bucket.
pub const MAX_PENDING_FLOWS_PER_CLIENT: i64 = 20;
/// The bucket of flows started without a client address.
pub const MAX_PENDING_FLOWS_WITHOUT_ADDRESS: i64 = 10_000;

/// What [`Store::unlink_account`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    /// The identity is gone.
    Removed,
    /// The user had no identity of that provider.
    NotLinked,
    /// Kept: it is the user's only way to log in (no password, no other identity).
    LastLoginMethod,
}

/// Runs `work` in one transaction of `store` and returns what it returns: committed when it
/// returns `Ok`, rolled back when it returns `Err` (or the commit fails).
///
/// # Errors
/// `work`'s error, or `StorageError` when the transaction cannot begin or commit.
pub fn transaction<T>(store: &dyn Store, mut work: impl FnMut(&mut dyn Writes) -> Result<T>) -> Result<T> {
    let mut out = None;
    store.atomically(&mut |w| {
        out = Some(work(w)?);
        Ok(())
    })?;
    out.ok_or_else(|| crate::error::AccountsError::new(crate::error::ErrorCode::InternalError, "transaction ran no work"))
}

/// Where each store's change counter ([`Store::change_counter`]) starts: far apart, so two stores
/// (one reopened after a fork) never give the same number.
pub(crate) fn counter_base() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1 << 40, std::sync::atomic::Ordering::Relaxed)
}

/// What the server needs from a database. Implementations must be safe to share between threads.
pub trait Store: Send + Sync {
    /// A number that changes whenever anything in the database may have changed, in this process
    /// or any other, read now: by a read begun after this call began, which concurrent calls may
    /// share (a cheap check, run on every call that uses a cache: docs/reliability.md, "Caches and
    /// other processes"). Two equal answers mean nothing was committed in between. It
    /// never repeats across store instances (a store reopened after `fork()` starts elsewhere).
    /// `None` when the store cannot tell: nothing is cached then.
    ///
    /// # Errors
    /// `StorageError`.
    fn change_counter(&self) -> Result<Option<u64>> {
        Ok(None)
    }

    /// Whether upkeep is due that no call has started (SQLite: a WAL checkpoint after writes made
    /// inline, which never checkpoint): a host that runs calls inline then runs
    /// [`Store::run_maintenance`] where waiting is fine (docs/architecture.md, "Inline calls").
    ///
    /// # Errors
    /// `StorageError`.
    fn maintenance_due(&self) -> Result<bool> {
        Ok(false)
    }

    /// Runs due upkeep, on a connection of its own: no call waits for it. Never inline.
    ///
    /// # Errors
    /// `StorageError`.
    fn run_maintenance(&self) -> Result<()> {
        Ok(())
    }

    /// Blocks until a call that was refused inline would probably find what it needs free (SQLite:
    /// the writer, no group commit open, the WAL checkpoint not overdue), so the host can run it
    /// inline again instead of on its pool (docs/architecture.md, "Inline calls"). A bounded wait:
    /// returning is no promise. Never inline.
    ///
    /// # Errors
    /// `StorageError`.
    fn wait_for_inline(&self) -> Result<()> {
        Ok(())
    }
    /// Runs `work` in one write transaction: everything it wrote commits when it returns `Ok`,
    /// nothing when it returns `Err`. Never nest it, nor call other [`Store`] methods inside it
    /// (on SQLite the writer is held for the duration).
    ///
    /// # Errors
    /// `work`'s error, or `StorageError` when the transaction cannot begin or commit.
    fn atomically(&self, work: &mut dyn FnMut(&mut dyn Writes) -> Result<()>) -> Result<()>;
    /// Inserts a user with its emails, password hash and service documents in one transaction.
    ///
    /// # Errors
    /// `EmailAlreadyExists` / `UsernameAlreadyExists` on a uniqueness conflict, `StorageError` otherwise.
    fn create_user(&self, user: &NewUser) -> Result<()>;
    /// The user with this id.
    fn find_user_by_id(&self, id: &str) -> Result<Option<User>>;
    /// `email` must already be lowercased.
    fn find_user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// The user with this username key.
    fn find_user_by_username(&self, username: &str) -> Result<Option<User>>;
    /// The user's password hash.
    fn find_password_hash(&self, user_id: &str) -> Result<Option<String>>;
    /// The highest cost among stored bcrypt hashes (imported from accounts-js, not yet rehashed),
    /// `None` when there is none. One lookup in an index of the bcrypt hashes (`passwords_bcrypt_cost`):
    /// called at startup and by `purgeExpired`.
    fn max_bcrypt_cost(&self) -> Result<Option<u32>>;
    /// # Errors
    /// `UserNotFound` when the user does not exist.
    fn set_password_hash(&self, user_id: &str, hash: &str, now: i64) -> Result<()>;
    /// # Errors
    /// `UserNotFound` when the user does not exist.
    fn set_deactivated(&self, user_id: &str, deactivated: bool, now: i64) -> Result<()>;
    /// Stores a new session.
    fn create_session(&self, record: &SessionRecord) -> Result<()>;
    /// The session with this id.
    fn find_session(&self, id: &str) -> Result<Option<SessionRecord>>;
    /// Replaces the refresh digest if, and only if, the session is valid and its current digest is
    /// `expected_digest`; bumps the counter and records `info`. Returns whether it swapped.
    fn rotate_session(&self, id: &str, expected_digest: &str, new_digest: &str, now: i64, info: &ConnectionInfo) -> Result<bool>;
    /// Marks one session invalid; returns whether it was valid before.
    fn invalidate_session(&self, id: &str, now: i64) -> Result<bool>;
    /// The session `id` with the users it names, read together: one read transaction where the
    /// store can (SQLite), so a resume that misses the cache reads once (docs/architecture.md,
    /// "Per-request calls").
    ///
    /// # Errors
    /// `StorageError`.
    fn session_view(&self, id: &str) -> Result<Option<SessionView>> {
        let Some(record) = self.find_session(id)? else { return Ok(None) };
        let user = self.find_user_by_id(&record.session.user_id)?;
        let impersonator = match &record.session.impersonator_user_id {
            Some(by) => self.find_user_by_id(by)?,
            None => None,
        };
        Ok(Some(SessionView { record, user, impersonator }))
    }
    /// Reads the session `id` with its users ([`Store::session_view`]), lets `decide` choose a
    /// change from what it read, and makes it. `None` when there is no such session; otherwise
    /// whether the change was made: a rotation is a compare-and-swap on the digest `decide` saw,
    /// which a concurrent rotation can win between the read and the write (read again then). A
    /// store that can (SQLite) reads and writes in one write transaction, where nothing can come
    /// in between; `decide`'s error leaves everything unchanged.
    ///
    /// # Errors
    /// `decide`'s error, `StorageError`.
    fn change_session(&self, id: &str, decide: &mut dyn FnMut(&SessionView) -> Result<SessionChange>) -> Result<Option<bool>> {
        let Some(view) = self.session_view(id)? else { return Ok(None) };
        Ok(Some(match decide(&view)? {
            SessionChange::Keep => true,
            SessionChange::Rotate { new_digest, now, info } => self.rotate_session(id, &view.record.refresh_digest, &new_digest, now, &info)?,
            SessionChange::Invalidate { now } => {
                self.invalidate_session(id, now)?;
                true
            }
        }))
    }
    /// Marks every valid session of a user invalid except `except`, and every session in which
    /// the user impersonates someone; returns how many.
    fn invalidate_all_sessions(&self, user_id: &str, except: &[String], now: i64) -> Result<u64>;
    /// All sessions of a user, newest first.
    fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>>;

    /// Adds an email address (already lowercased) to a user.
    ///
    /// # Errors
    /// `UserNotFound`, `EmailAlreadyExists`.
    fn add_email(&self, user_id: &str, address: &str, verified: bool, now: i64) -> Result<()>;
    /// Removes an address from a user (and the tokens mailed to it); returns whether it was there.
    fn remove_email(&self, user_id: &str, address: &str, now: i64) -> Result<bool>;
    /// Marks an address of a user verified; returns whether the user has that address.
    fn verify_email(&self, user_id: &str, address: &str, now: i64) -> Result<bool>;

    /// Stores a one-time token, first deleting the user's tokens it replaces (`scope`) and every
    /// expired token (so they do not pile up).
    fn insert_token(&self, record: &TokenRecord, scope: TokenScope) -> Result<()>;
    /// The token with this digest, without using it up.
    fn find_token(&self, digest: &str) -> Result<Option<TokenRecord>>;
    /// Deletes and returns the token with this digest if its kind is one of `kinds` (single use:
    /// of two concurrent takers, one gets it). Expired tokens are returned too; the caller decides.
    fn take_token(&self, digest: &str, kinds: &[&str]) -> Result<Option<TokenRecord>>;
    /// Deletes a user's tokens of one kind; returns how many.
    fn delete_tokens(&self, user_id: &str, kind: &str) -> Result<u64>;
    /// A write of the same shape as [`Store::insert_token`] that leaves nothing behind: what a link
    /// request for an unknown address costs, so timing does not tell known from unknown addresses.
    fn decoy_write(&self, digest: &str, now: i64) -> Result<()>;

    /// The live (unexpired at `now`) counters among `keys`.
    fn read_attempts(&self, keys: &[String], now: i64) -> Result<Vec<AttemptCount>>;
    /// Adds one failure to each `(key, window_ms)` in one transaction (a counter whose window has
    /// ended starts again at 1) and deletes expired counters; returns the new counts.
    fn hit_attempts(&self, hits: &[(String, i64)], now: i64) -> Result<Vec<AttemptCount>>;
    /// In one transaction: takes one back from each `release` counter (not below 0) and deletes
    /// the `clear` counters.
    fn release_attempts(&self, release: &[String], clear: &[String]) -> Result<()>;
    /// Deletes expired one-time tokens and attempt counters.
    fn purge_expired(&self, now: i64) -> Result<PurgeReport>;

    /// The JSON document a service keeps for a user (e.g. `two-factor`).
    fn find_service(&self, user_id: &str, name: &str) -> Result<Option<String>>;
    /// Every user's document of service `name`, as `(user_id, document)` in user id order, at most
    /// `limit` of them after `after` (a user id; maintenance jobs page through with it).
    fn list_services(&self, name: &str, after: &str, limit: u32) -> Result<Vec<(String, String)>>;
    /// Replaces a service document if, and only if, the stored one equals `expected` (`None` =
    /// absent); `new = None` deletes it. Returns whether it swapped.
    ///
    /// # Errors
    /// `UserNotFound` when inserting for a user that does not exist.
    fn swap_service(&self, user_id: &str, name: &str, expected: Option<&str>, new: Option<&str>, now: i64) -> Result<bool>;

    /// The link of a provider identity, if any.
    fn find_linked_account(&self, provider: &str, id: &str) -> Result<Option<LinkedAccount>>;
    /// A user's linked identities, by provider name.
    fn list_linked_accounts(&self, user_id: &str) -> Result<Vec<LinkedAccount>>;
    /// Removes the user's identity of `provider` unless it is their last way to log in, decided in
    /// the same transaction as the delete (two concurrent unlinks cannot both pass the check).
    fn unlink_account(&self, user_id: &str, provider: &str) -> Result<Unlinked>;

    /// Stores a pending authorization; in the same transaction deletes expired flows (at the new
    /// flow's `created_at`) and the client's oldest ones beyond [`MAX_PENDING_FLOWS_PER_CLIENT`]
    /// (or [`MAX_PENDING_FLOWS_WITHOUT_ADDRESS`] without a client), so unauthenticated callers
    /// cannot grow the table without bound.
    fn insert_oauth_flow(&self, flow: &OAuthFlow) -> Result<()>;
    /// Removes and returns the pending authorization with this `state` digest (single use: of two
    /// concurrent takes, one gets it), expired or not — the caller checks the expiry.
    fn take_oauth_flow(&self, digest: &str) -> Result<Option<OAuthFlow>>;

    /// Stores a started passkey ceremony; in the same transaction deletes expired ones and the
    /// client's oldest beyond [`MAX_PENDING_FLOWS_PER_CLIENT`] (or [`MAX_PENDING_FLOWS_WITHOUT_ADDRESS`]).
    fn insert_webauthn_challenge(&self, challenge: &WebAuthnChallenge) -> Result<()>;
    /// Removes and returns the ceremony with this challenge digest (single use), expired or not,
    /// if it is of `ceremony` and (when `user_id` is given) bound to that user: a response
    /// presented to the wrong ceremony or by another user leaves the ceremony pending.
    fn take_webauthn_challenge(&self, digest: &str, ceremony: &str, user_id: Option<&str>) -> Result<Option<WebAuthnChallenge>>;
    /// The passkey with this credential id.
    fn find_passkey(&self, id: &str) -> Result<Option<PasskeyRecord>>;
    /// A user's passkeys, oldest first.
    fn list_passkeys(&self, user_id: &str) -> Result<Vec<PasskeyRecord>>;
    /// Renames a passkey of the user; whether the user has it.
    fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> Result<bool>;
    /// Removes a passkey of the user unless it is their last way to log in (no password, no linked
    /// identity, no other passkey), decided in the same transaction as the delete.
    fn remove_passkey(&self, user_id: &str, id: &str) -> Result<Unlinked>;

    /// The sealed values of `column` (non-null), at most `limit` of them after the key `after`,
    /// in key order (`resealAll` pages through them).
    fn list_sealed(&self, column: SealedColumn, after: (&str, &str), limit: u32) -> Result<Vec<SealedValue>>;
    /// Replaces one sealed value if, and only if, it still equals `expected`; whether it swapped.
    fn swap_sealed(&self, column: SealedColumn, key: (&str, &str), expected: &str, new: &str) -> Result<bool>;
}

/// A column of sealed values kept outside the service documents (the two-factor secret lives in
/// its `services` document and is resealed by the two-factor service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    /// `linked_accounts.tokens`: a provider's tokens, keyed `(provider, subject)`.
    LinkedTokens,
    /// `oauth_flows.verifier`: a pending flow's PKCE verifier, keyed `(digest, "")`.
    FlowVerifier,
    /// `webauthn_challenges.state`: a started passkey ceremony's state, keyed `(digest, "")`.
    WebAuthnState,
}

/// Every `(table, column)` that holds sealed values: what `resealAll` covers
/// (docs/security.md, "Key rotation"); `core/tests/store.rs` scans a populated store for sealed
/// values and fails on any column not listed here.
pub const SEALED_COLUMNS: &[(&str, &str)] =
    &[("services", "data"), ("linked_accounts", "tokens"), ("oauth_flows", "verifier"), ("webauthn_challenges", "state")];

/// One sealed value and its key (see [`SealedColumn`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// The first part of the row's key.
    pub key: String,
    /// The second part of the row's key (empty for a one-part key).
    pub sub_key: String,
    /// The sealed text.
    pub sealed: String,
}

/// Opens the store named by a `db` URL: `sqlite:<path>`, `sqlite::memory:` or `postgres://...`
/// (with a pool of `pool_size` connections).
///
/// # Errors
/// `InvalidConfig` for an unknown scheme, `StorageError` when the database cannot be opened or migrated.
pub fn open(url: &str, pool_size: u32) -> Result<Box<dyn Store>> {
    if url == "sqlite::memory:" {
        // A forked child gets a copy of the memory, which is its own database: nothing to reopen.
        return open_here(url, pool_size);
    }
    Ok(Box::new(per_process::PerProcess::open(url, pool_size)?))
}

/// Opens the store for use in this process only (see [`per_process`]).
fn open_here(url: &str, pool_size: u32) -> Result<Box<dyn Store>> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        return Ok(Box::new(sqlite::SqliteStore::open(rest)?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Box::new(postgres::PostgresStore::open(url, pool_size)?));
    }
    Err(crate::error::AccountsError::new(crate::error::ErrorCode::InvalidConfig, "db must be sqlite:<path>, sqlite::memory: or postgres://..."))
}
