//! SQLite store: WAL, busy timeout, foreign keys, versioned migrations run on open.
//!
//! One writer connection behind a mutex (SQLite has one writer anyway, and in-process
//! serialisation means no caller ever sees "database is locked"), plus a few reader
//! connections for file databases so reads run in parallel with writes.

use super::group_commit::{Batch, MAX_BATCH, Outcome, Ticket};
use super::{
    AttemptCount, MAX_PENDING_FLOWS_PER_CLIENT, MAX_PENDING_FLOWS_WITHOUT_ADDRESS, NewUser, OAuthFlow, PasskeyRecord, SealedColumn, SealedValue,
    SessionChange, SessionRecord, SessionView, Store, TokenRecord, TokenScope, Unlinked, WebAuthnChallenge, Writes,
};
use crate::error::{AccountsError, ErrorCode, Result};
use crate::identifiers::{email_key, lookalikes};
use crate::inline;
use crate::types::{ConnectionInfo, EmailRecord, LinkedAccount, PurgeReport, Session, User, profile_fields};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

/// Versioned migrations; index + 1 is the schema version stored in `PRAGMA user_version`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    username    TEXT UNIQUE,
    emails      TEXT NOT NULL DEFAULT '[]',   -- denormalised copy of the emails rows, for one-read user loads
    profile     TEXT NOT NULL DEFAULT '{}',
    deactivated INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE emails (
    address    TEXT PRIMARY KEY,              -- lowercased; uniqueness across all users
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    verified   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX emails_user ON emails(user_id);
CREATE TABLE passwords (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE services (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    data       TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, name)
);
CREATE TABLE tokens (
    digest     TEXT PRIMARY KEY,              -- SHA-256 of the token; the token itself is never stored
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    address    TEXT,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX tokens_user ON tokens(user_id, kind);
CREATE TABLE sessions (
    id                   TEXT PRIMARY KEY,
    user_id              TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    refresh_digest       TEXT NOT NULL,
    prev_refresh_digest  TEXT,
    refresh_counter      INTEGER NOT NULL DEFAULT 0,
    rotated_at           INTEGER NOT NULL,
    valid                INTEGER NOT NULL DEFAULT 1,
    ip                   TEXT,
    user_agent           TEXT,
    impersonator_user_id TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
"#,
    r#"
-- Written and emptied by requests for unknown addresses, so they cost a real write like known ones.
CREATE TABLE decoys (id INTEGER PRIMARY KEY, digest TEXT NOT NULL, created_at INTEGER NOT NULL);
"#,
    r#"
-- Usernames are unique by a case-folded confusable skeleton (docs/security.md, "Identifiers").
-- Rows from before this version keep a NULL key (exact-match uniqueness only).
ALTER TABLE users ADD COLUMN username_key TEXT;
CREATE UNIQUE INDEX users_username_key ON users(username_key);
CREATE INDEX tokens_expiry ON tokens(expires_at);
CREATE INDEX sessions_impersonator ON sessions(impersonator_user_id);
-- Failed-attempt counters shared by every process on this file; keys are digests.
CREATE TABLE attempts (digest TEXT PRIMARY KEY, failures INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX attempts_expiry ON attempts(expires_at);
-- Decoys take the shape and indexes of tokens, so a decoy write costs what a token write does.
DROP TABLE decoys;
CREATE TABLE decoys (
    digest TEXT PRIMARY KEY, user_id TEXT, kind TEXT NOT NULL, address TEXT, expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL
);
CREATE INDEX decoys_user ON decoys(user_id, kind);
CREATE INDEX decoys_expiry ON decoys(expires_at);
"#,
    r#"
CREATE TABLE linked_accounts (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,                 -- the user's id at the provider
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email      TEXT,
    tokens     TEXT,                          -- the provider's tokens, sealed, when configured
    created_at INTEGER NOT NULL,
    PRIMARY KEY (provider, subject),
    UNIQUE (user_id, provider)
);
CREATE TABLE oauth_flows (
    digest       TEXT PRIMARY KEY,            -- SHA-256 of the state; the state itself is never stored
    provider     TEXT NOT NULL,
    verifier     TEXT NOT NULL,               -- the PKCE verifier, sealed
    nonce_digest TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX oauth_flows_expiry ON oauth_flows(expires_at);
"#,
    r#"
-- Each address's lookalike key (its local part's confusable skeleton): a new address may not imitate
-- one already held (docs/security.md, "Identifiers"); rows from before this version keep a NULL key.
ALTER TABLE emails ADD COLUMN address_key TEXT;
CREATE INDEX emails_address_key ON emails(address_key);
-- Pending authorizations are counted per client address (docs/security.md, "OAuth").
ALTER TABLE oauth_flows ADD COLUMN client TEXT;
CREATE INDEX oauth_flows_client ON oauth_flows(client);
"#,
    r#"
-- Passkeys (docs/passkeys.md): public keys only, the private key stays on the authenticator.
CREATE TABLE passkeys (
    id           TEXT PRIMARY KEY,            -- the credential id, base64url
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_handle  TEXT NOT NULL,               -- the random WebAuthn user handle, base64url
    name         TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    state        TEXT NOT NULL,               -- flags and signature counter
    transports   TEXT NOT NULL,
    aaguid       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX passkeys_user ON passkeys(user_id);
-- Started ceremonies: the challenge's digest, the server state sealed.
CREATE TABLE webauthn_challenges (
    digest     TEXT PRIMARY KEY,
    ceremony   TEXT NOT NULL,
    user_id    TEXT,
    state      TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    client     TEXT
);
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges(expires_at);
CREATE INDEX webauthn_challenges_client ON webauthn_challenges(client);
"#,
    r#"
-- The bcrypt hashes imported from accounts-js and not yet rehashed, by cost: opening a server reads the
-- highest (the login timing floor, docs/security.md "Timing") from here instead of scanning every password.
CREATE INDEX passwords_bcrypt_cost ON passwords(substr(hash, 5, 2)) WHERE hash GLOB '$2[aby]$[0-9][0-9]$*';
"#,
];

const READERS: usize = 2;
/// A WAL checkpoint after this many commits (a session write is a few pages; SQLite's automatic
/// checkpoint comes at 1000 pages).
const CHECKPOINT_COMMITS: usize = 256;
/// Inline writes give up once this many commits wait for a checkpoint (a host that never runs
/// `run_maintenance` then has its next pool write checkpoint).
const CHECKPOINT_BACKLOG: usize = 4 * CHECKPOINT_COMMITS;

/// Extra checkpoint passes over the frames written during the previous one (store/sqlite.rs, `checkpoint`).
const CATCH_UP_PASSES: usize = 3;

/// WAL frames (page-sized) past which a checkpoint holds the writer for its last pass: ~16 MB.
const WAL_HOLD_FRAMES: i64 = 4000;

/// How many open group commits the holding pass of a checkpoint waits out before it gives up (the
/// next checkpoint tries again).
const HOLD_ATTEMPTS: usize = 8;

/// The longest `wait_for_inline` waits for the pool's writes to end.
const INLINE_WAIT: Duration = Duration::from_millis(20);

/// A write under way, from before its transaction begins until after it ended (or, in a group
/// commit, until its batch committed): counted so a checkpoint knows whether frames were appended
/// while it ran (`SqliteStore::checkpoint`).
struct Writing<'a>(&'a SqliteStore);

impl<'a> Writing<'a> {
    fn new(store: &'a SqliteStore) -> Self {
        store.writes_begun.fetch_add(1, Ordering::SeqCst);
        Writing(store)
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.writes_ended.fetch_add(1, Ordering::SeqCst);
    }
}

/// A `BEGIN IMMEDIATE` transaction on a connection, rolled back when dropped uncommitted (an
/// error or a panic in the write). Both statements come from the statement cache: parsing them
/// on every write cost a few percent of a logout.
struct Immediate<'a>(Ended<'a>);

impl<'a> Immediate<'a> {
    fn begin(conn: &'a Connection) -> rusqlite::Result<Immediate<'a>> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Immediate(Ended(conn)))
    }

    fn commit(self) -> rusqlite::Result<()> {
        self.0.0.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }
}

/// Decrements a counter when dropped (also when the write panics).
struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Page cache per connection (KiB, as SQLite's negative `cache_size`): with a million users the
/// lookups otherwise fall out of SQLite's default 2 MiB cache. No memory-mapped I/O: a reader unmaps
/// the whole file whenever another connection has written (SQLite's change check), which cost a
/// refresh ~30% (munmap and TLB flushes in the profile, bench/RESULTS.md).
const CACHE_KIB: i64 = 16 * 1024;

fn tune_reads(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The SQLite store: one writer connection and a pool of readers (docs/architecture.md, "Storage").
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Commits since the last WAL checkpoint. The writer's automatic checkpoint is off: it would
    /// run in whichever call commits, and an inline one runs on a thread that cannot wait. Every
    /// `CHECKPOINT_COMMITS` commits a pool write, or the host's `run_maintenance` after inline
    /// writes, checkpoints on `checkpointer`, a connection of its own: the writer is not held.
    commits: AtomicUsize,
    /// The checkpoint's connection (file databases only).
    checkpointer: Option<Mutex<Connection>>,
    /// A checkpoint is running.
    checkpointing: AtomicBool,
    /// A checkpoint holds the writer for its last pass.
    holding: AtomicBool,
    /// Pool writers waiting for the writer: while there are some, a write leaves its transaction
    /// open for them (group commit, store/group_commit.rs).
    queued: AtomicUsize,
    /// Pool writes under way (queued, writing or waiting for their batch's commit): while there
    /// are some, an inline write would likely be refused (`wait_for_inline` waits for none).
    pool_writes: AtomicUsize,
    /// Writes of this process begun and ended (`Writing`): a checkpoint pass during which none
    /// was under way appended no frame behind it.
    writes_begun: AtomicU64,
    writes_ended: AtomicU64,
    batch: Mutex<Batch>,
    /// The change counter ([`Store::change_counter`]): bumped by every commit here and whenever a
    /// connection's `PRAGMA data_version` shows a commit by another connection (of any process).
    changes: AtomicU64,
    /// The `data_version` each connection showed last: the readers', then the writer's.
    seen_versions: Vec<AtomicI64>,
    #[cfg(test)]
    total_commits: AtomicUsize,
    /// Checkpoint passes that held the writer.
    #[cfg(test)]
    holds: AtomicUsize,
}

/// Runs one write of a batch: the first write of a transaction as it is (on failure the caller
/// rolls the whole transaction back), any later one inside a savepoint of its own.
fn run_in_batch<T>(conn: &Connection, first: bool, f: impl FnOnce(&Connection) -> Result<T>) -> Outcome<T> {
    if !first && let Err(e) = conn.execute_batch("SAVEPOINT write") {
        return Outcome::Lost(e.into());
    }
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)));
    if conn.is_autocommit() {
        // SQLite rolled the transaction back on its own (an I/O or disk-full error): the batch is gone.
        return Outcome::Lost(match out {
            Ok(Err(e)) => e,
            _ => AccountsError::new(ErrorCode::StorageError, "sqlite: the transaction was rolled back"),
        });
    }
    if first {
        return match out {
            Ok(result) => Outcome::Ran(result),
            Err(p) => Outcome::Panicked(p),
        };
    }
    let settled = match &out {
        Ok(Ok(_)) => conn.execute_batch("RELEASE write"),
        _ => conn.execute_batch("ROLLBACK TO write; RELEASE write"),
    };
    match (settled, out) {
        (Err(e), _) => Outcome::Lost(e.into()),
        (Ok(()), Ok(result)) => Outcome::Ran(result),
        (Ok(()), Err(p)) => Outcome::Panicked(p),
    }
}

/// A busy or locked database inside an inline call abandons it (core/src/inline.rs); any other
/// SQLite error is the call's error.
fn busy_or(e: rusqlite::Error) -> AccountsError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if inline::no_wait() && matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            inline::would_wait("a busy database")
        }
        _ => e.into(),
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves the connection usable (an open transaction rolls back on drop).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The connection if nobody holds it now (recovered from a panic as `lock` does), else `None`.
fn try_lock(m: &Mutex<Connection>) -> Option<MutexGuard<'_, Connection>> {
    match m.try_lock() {
        Ok(conn) => Some(conn),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// Runs `f` with SQLite's busy handler off (an inline call gives up rather than wait for a lock
/// another connection holds), then turns it back on.
fn at_once<T>(conn: &mut Connection, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
    conn.busy_timeout(Duration::ZERO)?;
    // Turned back on also after a panic in `f`: the connection would otherwise fail at once on a
    // lock held by another process for every call that may wait.
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)));
    let restored = conn.busy_timeout(BUSY_TIMEOUT);
    let out = out.unwrap_or_else(|p| std::panic::resume_unwind(p));
    restored?;
    out
}

fn configure(conn: &Connection, file: bool) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if file {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    // NORMAL keeps every committed transaction across a process crash in WAL mode.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    tune_reads(conn)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if version > MIGRATIONS.len() {
        return Err(AccountsError::new(
            ErrorCode::StorageError,
            format!("database schema version {version} is newer than this library ({})", MIGRATIONS.len()),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)?;
        if i + 1 == ADDRESS_KEYS_VERSION {
            // The lookalike key needs the UTS #39 skeleton, which SQL cannot compute: addresses
            // stored before this version get theirs here, in the migration's transaction.
            let addresses: Vec<String> =
                tx.prepare("SELECT address FROM emails WHERE address_key IS NULL")?.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            let mut set = tx.prepare("UPDATE emails SET address_key = ?2 WHERE address = ?1")?;
            for address in &addresses {
                set.execute(params![address, email_key(address)])?;
            }
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

/// The schema version that added `emails.address_key` (filled in for older rows as it migrates).
const ADDRESS_KEYS_VERSION: usize = 5;

/// Creates the database file readable by its owner only (0600) if it does not exist yet. SQLite
/// gives the `-wal` and `-shm` files the mode of the database file, so they are private too.
fn create_private(path: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(AccountsError::new(ErrorCode::StorageError, format!("sqlite: cannot create {path}: {e}"))),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, or a private in-memory one for `:memory:`.
    ///
    /// # Errors
    /// `StorageError` when the file cannot be opened or the schema cannot be migrated.
    pub fn open(path: &str) -> Result<SqliteStore> {
        let memory = path == ":memory:";
        if path.is_empty() {
            return Err(AccountsError::new(ErrorCode::InvalidConfig, "sqlite: needs a path or :memory:"));
        }
        if !memory {
            create_private(path)?;
        }
        let mut writer = if memory { Connection::open_in_memory()? } else { Connection::open(path)? };
        configure(&writer, !memory)?;
        migrate(&mut writer)?;
        let mut readers = Vec::new();
        let mut checkpointer = None;
        if !memory {
            writer.pragma_update(None, "wal_autocheckpoint", 0)?;
            let c = Connection::open(path)?;
            c.busy_timeout(BUSY_TIMEOUT)?;
            c.pragma_update(None, "synchronous", "NORMAL")?;
            c.pragma_update(None, "wal_autocheckpoint", 0)?;
            checkpointer = Some(Mutex::new(c));
            for _ in 0..READERS {
                let r = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
                r.busy_timeout(BUSY_TIMEOUT)?;
                tune_reads(&r)?;
                readers.push(Mutex::new(r));
            }
        }
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
            checkpointer,
            checkpointing: AtomicBool::new(false),
            holding: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
            pool_writes: AtomicUsize::new(0),
            writes_begun: AtomicU64::new(0),
            writes_ended: AtomicU64::new(0),
            batch: Mutex::new(Batch::default()),
            changes: AtomicU64::new(super::counter_base()),
            seen_versions: (0..=READERS).map(|_| AtomicI64::new(i64::MIN)).collect(),
            #[cfg(test)]
            total_commits: AtomicUsize::new(0),
            #[cfg(test)]
            holds: AtomicUsize::new(0),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        self.read_on(|c, _| f(c))
    }

    /// A read on one connection; `f` also gets the connection's index in `seen_versions`.
    fn read_on<T>(&self, f: impl FnOnce(&Connection, usize) -> rusqlite::Result<T>) -> Result<T> {
        self.read_on_from(self.next_reader.fetch_add(1, Ordering::Relaxed), f)
    }

    /// A read on the first free connection from reader `start` on (round the pool).
    fn read_on_from<T>(&self, start: usize, f: impl FnOnce(&Connection, usize) -> rusqlite::Result<T>) -> Result<T> {
        if inline::no_wait() {
            return self.read_now(f);
        }
        if self.readers.is_empty() {
            // In memory, reads share the writer: counted as a pool write (`wait_for_inline`).
            self.pool_writes.fetch_add(1, Ordering::SeqCst);
            let _under_way = Decrement(&self.pool_writes);
            return Ok(f(&lock(&self.writer), READERS)?);
        }
        for i in 0..self.readers.len() {
            let at = (start + i) % self.readers.len();
            if let Some(conn) = try_lock(&self.readers[at]) {
                return Ok(f(&conn, at)?);
            }
        }
        let at = start % self.readers.len();
        Ok(f(&lock(&self.readers[at]), at)?)
    }

    /// A read on a thread that cannot wait (core/src/inline.rs): a connection that is free now and
    /// no busy handler; otherwise the call is abandoned before it did anything.
    fn read_now<T>(&self, f: impl FnOnce(&Connection, usize) -> rusqlite::Result<T>) -> Result<T> {
        let (pool, writer) = if self.readers.is_empty() { (std::slice::from_ref(&self.writer), true) } else { (&self.readers[..], false) };
        match pool.iter().enumerate().find_map(|(i, m)| try_lock(m).map(|c| (i, c))) {
            Some((i, mut conn)) => at_once(&mut conn, |c| f(c, if writer { READERS } else { i }).map_err(busy_or)),
            None => Err(inline::would_wait("a free connection")),
        }
    }

    /// Counts a commit made here (under the writer's lock, so a read of the in-memory database,
    /// which shares that connection, never sees the change before the counter).
    fn note_commit(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// A write in its own transaction, or in the open batch of a group commit (store/group_commit.rs)
    /// on a file database, where queued writers share one commit.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if inline::no_wait() {
            return self.write_now(f);
        }
        self.pool_writes.fetch_add(1, Ordering::SeqCst);
        let under_way = Decrement(&self.pool_writes);
        let writing = Writing::new(self);
        if self.readers.is_empty() {
            // In memory: no disk write to share, and reads use this connection (they must not see a batch).
            let mut conn = lock(&self.writer);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            self.note_commit();
            return Ok(out);
        }
        self.queued.fetch_add(1, Ordering::SeqCst);
        let conn = lock(&self.writer);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        let mut batch = self.batch.lock().unwrap_or_else(|p| p.into_inner());
        if batch.ticket.is_none() {
            conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
            batch.ticket = Some(Arc::new(Ticket::default()));
        }
        let first = batch.writes == 0;
        batch.writes += 1;
        let out = run_in_batch(&conn, first, f);
        if let Outcome::Lost(e) = &out {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            batch.finish(Err(e.clone()));
        } else if first && !matches!(out, Outcome::Ran(Ok(_))) {
            // The batch's only write failed: nothing else to keep.
            let _ = conn.execute_batch("ROLLBACK");
            batch.finish(Ok(()));
        } else if self.queued.load(Ordering::SeqCst) > 0 && batch.writes < MAX_BATCH {
            // Another writer is queued: it runs in this transaction and commits it (or hands it on).
            // A write that succeeded returns once that commit has; a failed one has nothing to wait for.
            let ticket = batch.ticket.clone();
            drop(batch);
            drop(conn);
            if let (Outcome::Ran(Ok(_)), Some(ticket)) = (&out, ticket) {
                ticket.wait()?;
            }
        } else {
            let committed = conn.prepare_cached("COMMIT").and_then(|mut c| c.execute([])).map(|_| ()).map_err(AccountsError::from);
            if committed.is_err() && !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            if committed.is_ok() {
                self.note_commit();
            }
            batch.finish(committed.clone());
            let due = committed.is_ok() && self.count_commit();
            drop(batch);
            drop(conn);
            drop((writing, under_way)); // the checkpoint does not hold the writer: nobody need wait for it
            if due {
                // With the writer released: other writes go on meanwhile. A failure only delays it.
                let _ = self.checkpoint();
            }
            committed?;
        }
        out.into_result()
    }

    /// A write on a thread that cannot wait (core/src/inline.rs): only with the writer free, no
    /// batch open on it, SQLite's write lock available at once, and never the checkpoint (a due one
    /// is left to the pool). Whatever would wait, or a busy database, rolls the transaction back:
    /// nothing changed.
    fn write_now<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.commits.load(Ordering::Relaxed) >= CHECKPOINT_BACKLOG {
            return Err(inline::would_wait("a WAL checkpoint"));
        }
        let Some(mut conn) = try_lock(&self.writer) else { return Err(inline::would_wait("the writer")) };
        if !conn.is_autocommit() {
            // Joining would make this write wait for the batch's commit.
            return Err(inline::would_wait("a group commit"));
        }
        let _writing = Writing::new(self);
        let out = at_once(&mut conn, |c| {
            let tx = Immediate::begin(c).map_err(busy_or)?;
            let out = f(c)?;
            tx.commit().map_err(busy_or)?;
            self.note_commit();
            inline::committed();
            Ok(out)
        })?;
        // A due checkpoint is left to the host's `run_maintenance` or the next pool write.
        let _ = self.count_commit();
        Ok(out)
    }

    /// A PASSIVE WAL checkpoint on the checkpointer's connection: copies what no reader still
    /// needs into the database file and never waits for readers or the writer. One at a time; a
    /// call finding one running leaves it be.
    fn checkpoint(&self) -> Result<()> {
        let Some(checkpointer) = &self.checkpointer else { return Ok(()) };
        if inline::no_wait() {
            return Err(inline::would_wait("a WAL checkpoint"));
        }
        if self.checkpointing.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.commits.store(0, Ordering::Relaxed);
        // `(frames in the WAL, frames copied)`.
        let passive = |c: &Connection| c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
        // The WAL starts over at the first write after a pass that copied all of it with no commit
        // meanwhile. Writes go on during a pass, so pass again over what they added (fewer frames
        // each time), without holding the writer: inline writes never notice.
        // (Writes of other processes are not seen here: their own checkpoints bound the WAL too.)
        let (mut out, mut caught_up) = (Ok((0, 0)), false);
        for _ in 0..=CATCH_UP_PASSES {
            // No write under way when the pass starts, and none begun by its end: no frame was
            // appended behind it (a commit counter would miss a write that began before).
            let begun = self.writes_begun.load(Ordering::SeqCst);
            let idle = self.writes_ended.load(Ordering::SeqCst) == begun;
            out = passive(&lock(checkpointer));
            caught_up = idle && matches!(out, Ok((log, copied)) if log == copied) && self.writes_begun.load(Ordering::SeqCst) == begun;
            if out.is_err() || caught_up {
                break;
            }
        }
        // Writes that never pause would let the WAL grow without end: past a bound, one pass while
        // holding the writer (inline writes meanwhile wait on the pool and run again inline:
        // docs/architecture.md, "Inline calls").
        if !caught_up && matches!(out, Ok((log, _)) if log >= WAL_HOLD_FRAMES) {
            self.holding.store(true, Ordering::SeqCst);
            #[cfg(test)]
            self.holds.fetch_add(1, Ordering::Relaxed);
            // Between writes, not inside a group commit's open transaction (its commit would add
            // frames after this pass): wait for that batch's commit first.
            for _ in 0..HOLD_ATTEMPTS {
                let writer = lock(&self.writer);
                if writer.is_autocommit() {
                    out = passive(&lock(checkpointer));
                    break;
                }
                let ticket = self.batch.lock().unwrap_or_else(|p| p.into_inner()).ticket.clone();
                drop(writer);
                if let Some(ticket) = ticket {
                    let _ = ticket.wait();
                }
            }
            self.holding.store(false, Ordering::SeqCst);
        }
        self.checkpointing.store(false, Ordering::SeqCst);
        out.map(|_| ()).map_err(Into::into)
    }

    /// Commits of whole transactions on the writer so far (a batch counts once), for the tests.
    #[cfg(test)]
    fn total_commits(&self) -> usize {
        self.total_commits.load(Ordering::Relaxed)
    }

    /// Counts a commit to a file database; whether a WAL checkpoint is due.
    fn count_commit(&self) -> bool {
        #[cfg(test)]
        self.total_commits.fetch_add(1, Ordering::Relaxed);
        !self.readers.is_empty() && self.commits.fetch_add(1, Ordering::Relaxed) + 1 >= CHECKPOINT_COMMITS
    }
}

/// Deletes a user's identity of a provider only while the user keeps another way to log in.
const UNLINK_UNLESS_LAST: &str = "DELETE FROM linked_accounts WHERE user_id = ?1 AND provider = ?2 AND \
     (EXISTS (SELECT 1 FROM passwords WHERE user_id = ?1) OR EXISTS (SELECT 1 FROM passkeys WHERE user_id = ?1) \
      OR (SELECT COUNT(*) FROM linked_accounts WHERE user_id = ?1) > 1)";

/// Deletes a user's passkey only while the user keeps another way to log in.
const REMOVE_PASSKEY_UNLESS_LAST: &str = "DELETE FROM passkeys WHERE user_id = ?1 AND id = ?2 AND \
     (EXISTS (SELECT 1 FROM passwords WHERE user_id = ?1) OR EXISTS (SELECT 1 FROM linked_accounts WHERE user_id = ?1) \
      OR (SELECT COUNT(*) FROM passkeys WHERE user_id = ?1) > 1)";

const PASSKEY_COLUMNS: &str = "id, user_id, user_handle, name, public_key, state, transports, aaguid, created_at, last_used_at";

fn passkey_from_row(r: &Row<'_>) -> rusqlite::Result<PasskeyRecord> {
    Ok(PasskeyRecord {
        id: r.get(0)?,
        user_id: r.get(1)?,
        user_handle: r.get(2)?,
        name: r.get(3)?,
        public_key: r.get(4)?,
        state: r.get(5)?,
        transports: r.get(6)?,
        aaguid: r.get(7)?,
        created_at: r.get(8)?,
        last_used_at: r.get(9)?,
    })
}

const USER_COLUMNS: &str = "u.id, u.username, u.emails, u.profile, u.deactivated, u.created_at, u.updated_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    let json_col = |i: usize| -> rusqlite::Result<String> { row.get(i) };
    let emails: Vec<EmailRecord> =
        serde_json::from_str(&json_col(2)?).map_err(|e| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e)))?;
    let profile: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&json_col(3)?).map_err(|e| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e)))?;
    // Rows written before profiles were filtered everywhere (docs/security.md, "Profiles").
    let profile = profile_fields(&profile);
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        emails,
        profile,
        deactivated: row.get::<_, i64>(4)? != 0,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

const SESSION_COLUMNS: &str = "id, user_id, valid, ip, user_agent, impersonator_user_id, refresh_counter, \
                               created_at, updated_at, refresh_digest, prev_refresh_digest, rotated_at";

/// The session `id` with the users it names, read on `c` (in the caller's transaction).
fn session_view_on(c: &Connection, id: &str) -> rusqlite::Result<Option<SessionView>> {
    let Some(record) =
        c.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"))?.query_row([id], session_from_row).optional()?
    else {
        return Ok(None);
    };
    let mut users = c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"))?;
    let user = users.query_row([&record.session.user_id], user_from_row).optional()?;
    let impersonator = match &record.session.impersonator_user_id {
        Some(by) => users.query_row([by], user_from_row).optional()?,
        None => None,
    };
    Ok(Some(SessionView { record, user, impersonator }))
}

/// Runs `f` in a read transaction of its own on `c`: one snapshot and one round of SQLite's locks
/// for several statements (each statement alone would take and drop them).
fn in_read_transaction<T>(c: &Connection, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    c.prepare_cached("BEGIN")?.execute([])?;
    // Ended when dropped, also by a panic in `f`: a reader left inside a transaction would keep its
    // snapshot (and the change counter would stop seeing other processes' commits).
    let open = Ended(c);
    let out = f(c)?;
    c.prepare_cached("COMMIT")?.execute([])?;
    drop(open);
    Ok(out)
}

/// Rolls back whatever transaction is still open on a connection when dropped.
struct Ended<'a>(&'a Connection);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

fn rotate_on(c: &Connection, id: &str, expected: &str, new_digest: &str, now: i64, info: &ConnectionInfo) -> rusqlite::Result<bool> {
    let n = c
        .prepare_cached(
            "UPDATE sessions SET prev_refresh_digest = refresh_digest, refresh_digest = ?3, \
             refresh_counter = refresh_counter + 1, rotated_at = ?4, updated_at = ?4, \
             ip = COALESCE(?5, ip), user_agent = COALESCE(?6, user_agent) \
             WHERE id = ?1 AND valid = 1 AND refresh_digest = ?2",
        )?
        .execute(params![id, expected, new_digest, now, info.ip, info.user_agent])?;
    Ok(n == 1)
}

fn invalidate_on(c: &Connection, id: &str, now: i64) -> rusqlite::Result<bool> {
    let n = c.prepare_cached("UPDATE sessions SET valid = 0, updated_at = ?2 WHERE id = ?1 AND valid = 1")?.execute(params![id, now])?;
    Ok(n == 1)
}

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        session: Session {
            id: row.get(0)?,
            user_id: row.get(1)?,
            valid: row.get::<_, i64>(2)? != 0,
            ip: row.get(3)?,
            user_agent: row.get(4)?,
            impersonator_user_id: row.get(5)?,
            refresh_count: row.get(6)?,
            created_at: row.get(7)?,
            updated_at: row.get(8)?,
        },
        refresh_digest: row.get(9)?,
        prev_refresh_digest: row.get(10)?,
        rotated_at: row.get(11)?,
    })
}

fn unique_violation(e: rusqlite::Error) -> AccountsError {
    let text = e.to_string();
    if text.contains("UNIQUE") && text.contains("emails.address") {
        AccountsError::code(ErrorCode::EmailAlreadyExists)
    } else if text.contains("UNIQUE") && text.contains("users.username") {
        AccountsError::code(ErrorCode::UsernameAlreadyExists)
    } else {
        e.into()
    }
}

/// `EmailAlreadyExists` when an address held already is one a person could take `address` for
/// (docs/security.md, "Identifiers"); checked in the inserting transaction.
fn refuse_lookalike(tx: &Connection, address: &str) -> Result<()> {
    let held: Vec<String> = tx
        .prepare_cached("SELECT address FROM emails WHERE address_key = ?1")?
        .query_map([email_key(address)], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if held.iter().any(|h| lookalikes(address, h)) {
        return Err(AccountsError::code(ErrorCode::EmailAlreadyExists));
    }
    Ok(())
}

fn passkey_cap(max: usize) -> AccountsError {
    AccountsError::new(ErrorCode::InvalidArgument, format!("a user has at most {max} passkeys"))
}

fn user_not_found() -> AccountsError {
    AccountsError::code(ErrorCode::UserNotFound)
}

/// A row that references `users(id)` failed its foreign key: the user does not exist.
fn missing_user(e: rusqlite::Error) -> AccountsError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => user_not_found(),
        _ => e.into(),
    }
}

/// Rewrites the denormalised `users.emails` copy from the `emails` rows (in insertion order).
fn sync_emails(tx: &Connection, user_id: &str, now: i64) -> Result<()> {
    let emails: Vec<EmailRecord> = tx
        .prepare_cached("SELECT address, verified FROM emails WHERE user_id = ?1 ORDER BY created_at, rowid")?
        .query_map([user_id], |r| Ok(EmailRecord { address: r.get(0)?, verified: r.get::<_, i64>(1)? != 0 }))?
        .collect::<rusqlite::Result<_>>()?;
    tx.prepare_cached("UPDATE users SET emails = ?2, updated_at = ?3 WHERE id = ?1")?.execute(params![
        user_id,
        serde_json::to_string(&emails)?,
        now
    ])?;
    Ok(())
}

fn service_data(c: &Connection, user_id: &str, name: &str) -> rusqlite::Result<Option<String>> {
    c.prepare_cached("SELECT data FROM services WHERE user_id = ?1 AND name = ?2")?.query_row([user_id, name], |r| r.get(0)).optional()
}

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        digest: row.get(0)?,
        user_id: row.get(1)?,
        kind: row.get(2)?,
        address: row.get(3)?,
        expires_at: row.get(4)?,
        created_at: row.get(5)?,
    })
}

/// The writes of one transaction (see [`Store::atomically`]).
struct SqliteWrites<'a> {
    tx: &'a Connection,
}

impl Writes for SqliteWrites<'_> {
    fn create_user(&mut self, user: &NewUser) -> Result<()> {
        let emails_json = serde_json::to_string(&user.emails)?;
        let profile_json = serde_json::to_string(&user.profile)?;
        {
            let tx = self.tx;
            tx.prepare_cached(
                "INSERT INTO users (id, username, username_key, emails, profile, deactivated, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                user.id,
                user.username,
                user.username_key,
                emails_json,
                profile_json,
                user.deactivated as i64,
                user.created_at,
                user.updated_at
            ])
            .map_err(unique_violation)?;
            for email in &user.emails {
                refuse_lookalike(tx, &email.address)?;
                tx.prepare_cached("INSERT INTO emails (address, user_id, verified, created_at, address_key) VALUES (?1, ?2, ?3, ?4, ?5)")?
                    .execute(params![email.address, user.id, email.verified as i64, user.created_at, email_key(&email.address)])
                    .map_err(unique_violation)?;
            }
            if let Some(hash) = &user.password_hash {
                tx.prepare_cached("INSERT INTO passwords (user_id, hash, updated_at) VALUES (?1, ?2, ?3)")?.execute(params![
                    user.id,
                    hash,
                    user.updated_at
                ])?;
            }
            for (name, data) in &user.services {
                tx.prepare_cached("INSERT INTO services (user_id, name, data, updated_at) VALUES (?1, ?2, ?3, ?4)")?.execute(params![
                    user.id,
                    name,
                    data,
                    user.updated_at
                ])?;
            }
            Ok(())
        }
    }

    fn set_password_hash(&mut self, user_id: &str, hash: &str, now: i64) -> Result<()> {
        {
            let tx = self.tx;
            if tx.prepare_cached("UPDATE users SET updated_at = ?2 WHERE id = ?1")?.execute(params![user_id, now])? == 0 {
                return Err(user_not_found());
            }
            tx.prepare_cached(
                "INSERT INTO passwords (user_id, hash, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
            )?
            .execute(params![user_id, hash, now])?;
            Ok(())
        }
    }

    fn create_session(&mut self, r: &SessionRecord) -> Result<()> {
        let s = &r.session;
        {
            let tx = self.tx;
            tx.prepare_cached(
                "INSERT INTO sessions (id, user_id, refresh_digest, prev_refresh_digest, refresh_counter, rotated_at, valid, \
                 ip, user_agent, impersonator_user_id, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                s.id,
                s.user_id,
                r.refresh_digest,
                r.prev_refresh_digest,
                s.refresh_count,
                r.rotated_at,
                s.valid as i64,
                s.ip,
                s.user_agent,
                s.impersonator_user_id,
                s.created_at,
                s.updated_at
            ])
            .map_err(missing_user)?;
            Ok(())
        }
    }

    fn invalidate_all_sessions(&mut self, user_id: &str, except: &[String], now: i64) -> Result<u64> {
        let except = serde_json::to_string(except)?;
        {
            let tx = self.tx;
            let n = tx
                .prepare_cached(
                    "UPDATE sessions SET valid = 0, updated_at = ?3 \
                     WHERE (user_id = ?1 OR impersonator_user_id = ?1) AND valid = 1 \
                     AND id NOT IN (SELECT value FROM json_each(?2))",
                )?
                .execute(params![user_id, except, now])?;
            Ok(n as u64)
        }
    }

    fn verify_email(&mut self, user_id: &str, address: &str, now: i64) -> Result<bool> {
        {
            let tx = self.tx;
            let n = tx.prepare_cached("UPDATE emails SET verified = 1 WHERE user_id = ?1 AND address = ?2")?.execute(params![user_id, address])?;
            if n == 0 {
                return Ok(false);
            }
            sync_emails(tx, user_id, now)?;
            Ok(true)
        }
    }

    fn insert_token(&mut self, t: &TokenRecord, scope: TokenScope) -> Result<()> {
        {
            let tx = self.tx;
            match scope {
                TokenScope::Kind => tx.prepare_cached("DELETE FROM tokens WHERE user_id = ?1 AND kind = ?2")?.execute(params![t.user_id, t.kind])?,
                TokenScope::KindAndAddress => tx
                    .prepare_cached("DELETE FROM tokens WHERE user_id = ?1 AND kind = ?2 AND address IS ?3")?
                    .execute(params![t.user_id, t.kind, t.address])?,
            };
            tx.prepare_cached("DELETE FROM tokens WHERE expires_at <= ?1")?.execute([t.created_at])?;
            tx.prepare_cached("INSERT INTO tokens (digest, user_id, kind, address, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                .execute(params![t.digest, t.user_id, t.kind, t.address, t.expires_at, t.created_at])
                .map_err(missing_user)?;
            Ok(())
        }
    }

    fn take_token(&mut self, digest: &str, kinds: &[&str]) -> Result<Option<TokenRecord>> {
        {
            let tx = self.tx;
            let found = tx
                .prepare_cached("SELECT digest, user_id, kind, address, expires_at, created_at FROM tokens WHERE digest = ?1")?
                .query_row([digest], token_from_row)
                .optional()?;
            match found {
                Some(t) if kinds.contains(&t.kind.as_str()) => {
                    tx.prepare_cached("DELETE FROM tokens WHERE digest = ?1")?.execute([digest])?;
                    Ok(Some(t))
                }
                _ => Ok(None),
            }
        }
    }

    fn delete_tokens(&mut self, user_id: &str, kind: &str) -> Result<u64> {
        {
            let tx = self.tx;
            Ok(tx.prepare_cached("DELETE FROM tokens WHERE user_id = ?1 AND kind = ?2")?.execute(params![user_id, kind])? as u64)
        }
    }

    fn swap_service(&mut self, user_id: &str, name: &str, expected: Option<&str>, new: Option<&str>, now: i64) -> Result<bool> {
        {
            let tx = self.tx;
            let current = service_data(tx, user_id, name)?;
            if current.as_deref() != expected {
                return Ok(false);
            }
            match (current.is_some(), new) {
                (_, None) => {
                    tx.prepare_cached("DELETE FROM services WHERE user_id = ?1 AND name = ?2")?.execute([user_id, name])?;
                }
                (true, Some(data)) => {
                    tx.prepare_cached("UPDATE services SET data = ?3, updated_at = ?4 WHERE user_id = ?1 AND name = ?2")?
                        .execute(params![user_id, name, data, now])?;
                }
                (false, Some(data)) => {
                    tx.prepare_cached("INSERT INTO services (user_id, name, data, updated_at) VALUES (?1, ?2, ?3, ?4)")?
                        .execute(params![user_id, name, data, now])
                        .map_err(missing_user)?;
                }
            }
            Ok(true)
        }
    }

    fn link_account(&mut self, a: &LinkedAccount) -> Result<()> {
        self.tx
            .prepare_cached("INSERT INTO linked_accounts (provider, subject, user_id, email, created_at, tokens) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![a.provider, a.id, a.user_id, a.email, a.created_at, a.tokens])
            .map_err(|e| match e.sqlite_error().map(|f| f.extended_code) {
                Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => user_not_found(),
                Some(rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE) => {
                    AccountsError::code(ErrorCode::AccountAlreadyLinked)
                }
                _ => e.into(),
            })?;
        Ok(())
    }

    fn drop_unproven_holds(&mut self, user_id: &str, keep: &str, now: i64) -> Result<()> {
        let tx = self.tx;
        tx.prepare_cached("DELETE FROM linked_accounts WHERE user_id = ?1")?.execute([user_id])?;
        tx.prepare_cached("DELETE FROM passkeys WHERE user_id = ?1")?.execute([user_id])?;
        tx.prepare_cached(
            "DELETE FROM tokens WHERE user_id = ?1 AND address IN (SELECT address FROM emails WHERE user_id = ?1 AND verified = 0 AND address <> ?2)",
        )?
        .execute([user_id, keep])?;
        tx.prepare_cached("DELETE FROM emails WHERE user_id = ?1 AND verified = 0 AND address <> ?2")?.execute([user_id, keep])?;
        sync_emails(tx, user_id, now)
    }

    fn set_linked_tokens(&mut self, provider: &str, id: &str, tokens: Option<&str>) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached("UPDATE linked_accounts SET tokens = ?3 WHERE provider = ?1 AND subject = ?2")?
            .execute(params![provider, id, tokens])?
            == 1)
    }

    fn delete_passkeys(&mut self, user_id: &str) -> Result<Vec<String>> {
        let mut stmt = self.tx.prepare_cached("DELETE FROM passkeys WHERE user_id = ?1 RETURNING id")?;
        let ids = stmt.query_map([user_id], |r| r.get::<_, String>(0))?.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    fn create_passkey(&mut self, p: &PasskeyRecord, max: usize) -> Result<()> {
        // The write transaction holds the database's write lock: the count cannot change under it.
        let held: i64 = self.tx.prepare_cached("SELECT COUNT(*) FROM passkeys WHERE user_id = ?1")?.query_row([&p.user_id], |r| r.get(0))?;
        if usize::try_from(held).unwrap_or(usize::MAX) >= max {
            return Err(passkey_cap(max));
        }
        self.tx
            .prepare_cached(
                "INSERT INTO passkeys (id, user_id, user_handle, name, public_key, state, transports, aaguid, created_at, last_used_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![p.id, p.user_id, p.user_handle, p.name, p.public_key, p.state, p.transports, p.aaguid, p.created_at, p.last_used_at])
            .map_err(|e| match e.sqlite_error().map(|f| f.extended_code) {
                Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => user_not_found(),
                Some(rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE) => {
                    AccountsError::code(ErrorCode::PasskeyAlreadyRegistered)
                }
                _ => e.into(),
            })?;
        Ok(())
    }

    fn swap_passkey_state(&mut self, id: &str, expected: &str, new: &str, now: i64) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached("UPDATE passkeys SET state = ?3, last_used_at = ?4 WHERE id = ?1 AND state = ?2")?
            .execute(params![id, expected, new, now])?
            == 1)
    }
}

fn linked_account_from_row(row: &Row<'_>) -> rusqlite::Result<LinkedAccount> {
    Ok(LinkedAccount {
        provider: row.get(0)?,
        id: row.get(1)?,
        user_id: row.get(2)?,
        email: row.get(3)?,
        created_at: row.get(4)?,
        tokens: row.get(5)?,
    })
}

impl Store for SqliteStore {
    fn atomically(&self, work: &mut dyn FnMut(&mut dyn Writes) -> Result<()>) -> Result<()> {
        self.write(|tx| work(&mut SqliteWrites { tx }))
    }

    fn create_user(&self, user: &NewUser) -> Result<()> {
        self.write(|tx| SqliteWrites { tx }.create_user(user))
    }

    fn find_user_by_id(&self, id: &str) -> Result<Option<User>> {
        self.read(|c| c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"))?.query_row([id], user_from_row).optional())
    }

    fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM emails e JOIN users u ON u.id = e.user_id WHERE e.address = ?1"))?
                .query_row([email], user_from_row)
                .optional()
        })
    }

    fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = ?1"))?.query_row([username], user_from_row).optional()
        })
    }

    fn max_bcrypt_cost(&self) -> Result<Option<u32>> {
        self.read(|c| {
            // The predicate and expression of the index `passwords_bcrypt_cost`: one index lookup
            // (two digits compare as text as they do as numbers).
            c.prepare_cached(
                "SELECT substr(hash, 5, 2) FROM passwords WHERE hash GLOB '$2[aby]$[0-9][0-9]$*' \
                 AND substr(hash, 5, 2) BETWEEN '04' AND '15' ORDER BY substr(hash, 5, 2) DESC LIMIT 1",
            )?
            .query_row([], |r| r.get::<_, String>(0))
            .optional()
            .map(|cost| cost.and_then(|c| c.parse().ok()))
        })
    }

    fn find_password_hash(&self, user_id: &str) -> Result<Option<String>> {
        self.read(|c| c.prepare_cached("SELECT hash FROM passwords WHERE user_id = ?1")?.query_row([user_id], |r| r.get(0)).optional())
    }

    fn set_password_hash(&self, user_id: &str, hash: &str, now: i64) -> Result<()> {
        self.write(|tx| SqliteWrites { tx }.set_password_hash(user_id, hash, now))
    }

    fn set_deactivated(&self, user_id: &str, deactivated: bool, now: i64) -> Result<()> {
        self.write(|tx| {
            let n = tx.prepare_cached("UPDATE users SET deactivated = ?2, updated_at = ?3 WHERE id = ?1")?.execute(params![
                user_id,
                deactivated as i64,
                now
            ])?;
            if n == 0 { Err(user_not_found()) } else { Ok(()) }
        })
    }

    fn create_session(&self, r: &SessionRecord) -> Result<()> {
        self.write(|tx| SqliteWrites { tx }.create_session(r))
    }

    fn maintenance_due(&self) -> Result<bool> {
        Ok(self.checkpointer.is_some() && !self.checkpointing.load(Ordering::SeqCst) && self.commits.load(Ordering::Relaxed) >= CHECKPOINT_COMMITS)
    }

    fn run_maintenance(&self) -> Result<()> {
        if self.commits.load(Ordering::Relaxed) >= CHECKPOINT_COMMITS { self.checkpoint() } else { Ok(()) }
    }

    fn wait_for_inline(&self) -> Result<()> {
        if inline::no_wait() {
            return Err(inline::would_wait("the writer"));
        }
        // Inline writes refuse past the checkpoint backlog: that one is on us, here.
        if self.commits.load(Ordering::Relaxed) >= CHECKPOINT_BACKLOG {
            let _ = self.checkpoint();
        }
        // Until no pool write is under way (they hold the writer, and a batch they leave open
        // refuses inline writes) and no checkpoint holds the writer. Polling: the writer itself is
        // not taken here, not even for a moment — a waiter holding it (or preempted while holding
        // it) would refuse the very inline calls it waits for. Bounded: writes may keep coming.
        let deadline = std::time::Instant::now() + INLINE_WAIT;
        while (self.pool_writes.load(Ordering::SeqCst) > 0 || self.holding.load(Ordering::SeqCst)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(50));
        }
        Ok(())
    }

    fn change_counter(&self) -> Result<Option<u64>> {
        // `data_version` changes on a connection when another connection (here or in another
        // process) has committed since that connection last asked; this process's own commits are
        // also counted by `note_commit`. A change seen bumps the counter before it is returned.
        // Asked on the first free reader, not the next in turn: a reader that has not asked since
        // a commit reports it once, so asking on each in turn would cost cache misses.
        self.read_on_from(0, |c, at| {
            let version: i64 = c.prepare_cached("PRAGMA data_version")?.query_row([], |r| r.get(0))?;
            if self.seen_versions[at].swap(version, Ordering::SeqCst) != version {
                self.changes.fetch_add(1, Ordering::SeqCst);
            }
            Ok(Some(self.changes.load(Ordering::SeqCst)))
        })
    }

    fn find_session(&self, id: &str) -> Result<Option<SessionRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"))?.query_row([id], session_from_row).optional()
        })
    }

    fn rotate_session(&self, id: &str, expected: &str, new_digest: &str, now: i64, info: &ConnectionInfo) -> Result<bool> {
        self.write(|tx| Ok(rotate_on(tx, id, expected, new_digest, now, info)?))
    }

    fn invalidate_session(&self, id: &str, now: i64) -> Result<bool> {
        self.write(|tx| Ok(invalidate_on(tx, id, now)?))
    }

    fn session_view(&self, id: &str) -> Result<Option<SessionView>> {
        self.read(|c| in_read_transaction(c, |c| session_view_on(c, id)))
    }

    fn change_session(&self, id: &str, decide: &mut dyn FnMut(&SessionView) -> Result<SessionChange>) -> Result<Option<bool>> {
        // Read, decide and write in one write transaction on the writer: nothing comes in between,
        // and the writer's page cache is warm (a reader's is dropped after every commit it did not
        // make): a refresh is one transaction instead of three (docs/architecture.md, "Per-request calls").
        self.write(|tx| {
            let Some(view) = session_view_on(tx, id)? else { return Ok(None) };
            Ok(Some(match decide(&view)? {
                SessionChange::Keep => true,
                SessionChange::Rotate { new_digest, now, info } => rotate_on(tx, id, &view.record.refresh_digest, &new_digest, now, &info)?,
                SessionChange::Invalidate { now } => {
                    invalidate_on(tx, id, now)?;
                    true
                }
            }))
        })
    }

    fn invalidate_all_sessions(&self, user_id: &str, except: &[String], now: i64) -> Result<u64> {
        self.write(|tx| SqliteWrites { tx }.invalidate_all_sessions(user_id, except, now))
    }

    fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ?1 ORDER BY created_at DESC, id"))?;
            let rows = stmt.query_map([user_id], session_from_row)?;
            rows.map(|r| r.map(|s| s.session)).collect()
        })
    }

    fn add_email(&self, user_id: &str, address: &str, verified: bool, now: i64) -> Result<()> {
        self.write(|tx| {
            if tx.prepare_cached("SELECT 1 FROM users WHERE id = ?1")?.query_row([user_id], |_| Ok(())).optional()?.is_none() {
                return Err(user_not_found());
            }
            refuse_lookalike(tx, address)?;
            tx.prepare_cached("INSERT INTO emails (address, user_id, verified, created_at, address_key) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![address, user_id, verified as i64, now, email_key(address)])
                .map_err(unique_violation)?;
            sync_emails(tx, user_id, now)
        })
    }

    fn remove_email(&self, user_id: &str, address: &str, now: i64) -> Result<bool> {
        self.write(|tx| {
            let n = tx.prepare_cached("DELETE FROM emails WHERE user_id = ?1 AND address = ?2")?.execute(params![user_id, address])?;
            if n == 0 {
                return Ok(false);
            }
            tx.prepare_cached("DELETE FROM tokens WHERE user_id = ?1 AND address = ?2")?.execute(params![user_id, address])?;
            sync_emails(tx, user_id, now)?;
            Ok(true)
        })
    }

    fn verify_email(&self, user_id: &str, address: &str, now: i64) -> Result<bool> {
        self.write(|tx| SqliteWrites { tx }.verify_email(user_id, address, now))
    }

    fn insert_token(&self, t: &TokenRecord, scope: TokenScope) -> Result<()> {
        self.write(|tx| SqliteWrites { tx }.insert_token(t, scope))
    }

    fn find_token(&self, digest: &str) -> Result<Option<TokenRecord>> {
        self.read(|c| {
            c.prepare_cached("SELECT digest, user_id, kind, address, expires_at, created_at FROM tokens WHERE digest = ?1")?
                .query_row([digest], token_from_row)
                .optional()
        })
    }

    fn take_token(&self, digest: &str, kinds: &[&str]) -> Result<Option<TokenRecord>> {
        self.write(|tx| SqliteWrites { tx }.take_token(digest, kinds))
    }

    fn delete_tokens(&self, user_id: &str, kind: &str) -> Result<u64> {
        self.write(|tx| SqliteWrites { tx }.delete_tokens(user_id, kind))
    }

    fn decoy_write(&self, digest: &str, now: i64) -> Result<()> {
        // The statements of `insert_token`, on a table that is emptied again in the same transaction,
        // plus the read and decoding of a user row that a known address costs (docs/security.md, "Timing").
        self.write(|tx| {
            tx.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM emails e JOIN users u ON u.id = e.user_id LIMIT 1"))?
                .query_row([], user_from_row)
                .optional()?;
            tx.prepare_cached("DELETE FROM decoys WHERE user_id = ?1 AND kind = ?2 AND address IS ?3")?.execute(params![digest, "decoy", digest])?;
            tx.prepare_cached("DELETE FROM decoys WHERE expires_at <= ?1")?.execute([now])?;
            tx.prepare_cached("INSERT INTO decoys (digest, user_id, kind, address, expires_at, created_at) VALUES (?1, ?1, 'decoy', ?1, ?2, ?2)")?
                .execute(params![digest, now])?;
            tx.prepare_cached("DELETE FROM decoys")?.execute([])?;
            Ok(())
        })
    }

    fn read_attempts(&self, keys: &[String], now: i64) -> Result<Vec<AttemptCount>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT failures, expires_at FROM attempts WHERE digest = ?1 AND expires_at > ?2")?;
            let mut out = Vec::new();
            for key in keys {
                if let Some((failures, expires_at)) = stmt.query_row(params![key, now], |r| Ok((r.get(0)?, r.get(1)?))).optional()? {
                    out.push(AttemptCount { key: key.clone(), failures, expires_at });
                }
            }
            Ok(out)
        })
    }

    fn hit_attempts(&self, hits: &[(String, i64)], now: i64) -> Result<Vec<AttemptCount>> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM attempts WHERE expires_at <= ?1")?.execute([now])?;
            let mut stmt = tx.prepare_cached(
                "INSERT INTO attempts (digest, failures, expires_at) VALUES (?1, 1, ?2 + ?3) \
                 ON CONFLICT(digest) DO UPDATE SET \
                   failures = CASE WHEN attempts.expires_at <= ?2 THEN 1 ELSE attempts.failures + 1 END, \
                   expires_at = CASE WHEN attempts.expires_at <= ?2 THEN ?2 + ?3 ELSE attempts.expires_at END \
                 RETURNING failures, expires_at",
            )?;
            let mut out = Vec::with_capacity(hits.len());
            for (key, window_ms) in hits {
                let (failures, expires_at) = stmt.query_row(params![key, now, window_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
                out.push(AttemptCount { key: key.clone(), failures, expires_at });
            }
            Ok(out)
        })
    }

    fn release_attempts(&self, release: &[String], clear: &[String]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached("UPDATE attempts SET failures = failures - 1 WHERE digest = ?1 AND failures > 0")?;
            for key in release {
                stmt.execute([key])?;
            }
            let mut stmt = tx.prepare_cached("DELETE FROM attempts WHERE digest = ?1")?;
            for key in clear {
                stmt.execute([key])?;
            }
            Ok(())
        })
    }

    fn purge_expired(&self, now: i64) -> Result<PurgeReport> {
        self.write(|tx| {
            let tokens = tx.prepare_cached("DELETE FROM tokens WHERE expires_at <= ?1")?.execute([now])? as u64;
            let flows = tx.prepare_cached("DELETE FROM oauth_flows WHERE expires_at <= ?1")?.execute([now])? as u64
                + tx.prepare_cached("DELETE FROM webauthn_challenges WHERE expires_at <= ?1")?.execute([now])? as u64;
            let attempts = tx.prepare_cached("DELETE FROM attempts WHERE expires_at <= ?1")?.execute([now])? as u64;
            tx.prepare_cached("DELETE FROM decoys")?.execute([])?;
            Ok(PurgeReport { tokens: tokens + flows, attempts })
        })
    }

    fn find_service(&self, user_id: &str, name: &str) -> Result<Option<String>> {
        self.read(|c| service_data(c, user_id, name))
    }

    fn swap_service(&self, user_id: &str, name: &str, expected: Option<&str>, new: Option<&str>, now: i64) -> Result<bool> {
        self.write(|tx| SqliteWrites { tx }.swap_service(user_id, name, expected, new, now))
    }

    fn find_linked_account(&self, provider: &str, id: &str) -> Result<Option<LinkedAccount>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT provider, subject, user_id, email, created_at, tokens FROM linked_accounts WHERE provider = ?1 AND subject = ?2",
            )?
            .query_row([provider, id], linked_account_from_row)
            .optional()
        })
    }

    fn list_linked_accounts(&self, user_id: &str) -> Result<Vec<LinkedAccount>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT provider, subject, user_id, email, created_at, tokens FROM linked_accounts WHERE user_id = ?1 ORDER BY provider",
            )?
            .query_map([user_id], linked_account_from_row)?
            .collect()
        })
    }

    fn unlink_account(&self, user_id: &str, provider: &str) -> Result<Unlinked> {
        self.write(|c| {
            let removed = c.prepare_cached(UNLINK_UNLESS_LAST)?.execute([user_id, provider])?;
            if removed == 1 {
                return Ok(Unlinked::Removed);
            }
            let linked = c.prepare_cached("SELECT 1 FROM linked_accounts WHERE user_id = ?1 AND provider = ?2")?.exists([user_id, provider])?;
            Ok(if linked { Unlinked::LastLoginMethod } else { Unlinked::NotLinked })
        })
    }

    fn insert_oauth_flow(&self, f: &OAuthFlow) -> Result<()> {
        let keep = f.client.as_ref().map_or(MAX_PENDING_FLOWS_WITHOUT_ADDRESS, |_| MAX_PENDING_FLOWS_PER_CLIENT) - 1;
        self.write(|c| {
            c.prepare_cached("DELETE FROM oauth_flows WHERE expires_at <= ?1")?.execute([f.created_at])?;
            c.prepare_cached(
                "DELETE FROM oauth_flows WHERE digest IN (SELECT digest FROM oauth_flows WHERE client IS ?1 \
                 ORDER BY rowid DESC LIMIT -1 OFFSET ?2)",
            )?
            .execute(params![f.client, keep])?;
            c.prepare_cached(
                "INSERT INTO oauth_flows (digest, provider, verifier, nonce_digest, redirect_uri, expires_at, created_at, client) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![f.digest, f.provider, f.verifier, f.nonce_digest, f.redirect_uri, f.expires_at, f.created_at, f.client])?;
            Ok(())
        })
    }

    fn take_oauth_flow(&self, digest: &str) -> Result<Option<OAuthFlow>> {
        self.write(|c| {
            Ok(c.prepare_cached(
                "DELETE FROM oauth_flows WHERE digest = ?1 \
                 RETURNING digest, provider, verifier, nonce_digest, redirect_uri, expires_at, created_at, client",
            )?
            .query_row([digest], |r| {
                Ok(OAuthFlow {
                    digest: r.get(0)?,
                    provider: r.get(1)?,
                    verifier: r.get(2)?,
                    nonce_digest: r.get(3)?,
                    redirect_uri: r.get(4)?,
                    expires_at: r.get(5)?,
                    created_at: r.get(6)?,
                    client: r.get(7)?,
                })
            })
            .optional()?)
        })
    }

    fn insert_webauthn_challenge(&self, ch: &WebAuthnChallenge) -> Result<()> {
        let keep = ch.client.as_ref().map_or(MAX_PENDING_FLOWS_WITHOUT_ADDRESS, |_| MAX_PENDING_FLOWS_PER_CLIENT) - 1;
        self.write(|c| {
            c.prepare_cached("DELETE FROM webauthn_challenges WHERE expires_at <= ?1")?.execute([ch.created_at])?;
            c.prepare_cached(
                "DELETE FROM webauthn_challenges WHERE digest IN (SELECT digest FROM webauthn_challenges WHERE client IS ?1 \
                 ORDER BY rowid DESC LIMIT -1 OFFSET ?2)",
            )?
            .execute(params![ch.client, keep])?;
            c.prepare_cached(
                "INSERT INTO webauthn_challenges (digest, ceremony, user_id, state, expires_at, created_at, client) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![ch.digest, ch.ceremony, ch.user_id, ch.state, ch.expires_at, ch.created_at, ch.client])?;
            Ok(())
        })
    }

    fn take_webauthn_challenge(&self, digest: &str, ceremony: &str, user_id: Option<&str>) -> Result<Option<WebAuthnChallenge>> {
        self.write(|c| {
            Ok(c.prepare_cached(
                "DELETE FROM webauthn_challenges WHERE digest = ?1 AND ceremony = ?2 AND (?3 IS NULL OR user_id = ?3) \
                 RETURNING digest, ceremony, user_id, state, expires_at, created_at, client",
            )?
            .query_row(params![digest, ceremony, user_id], |r| {
                Ok(WebAuthnChallenge {
                    digest: r.get(0)?,
                    ceremony: r.get(1)?,
                    user_id: r.get(2)?,
                    state: r.get(3)?,
                    expires_at: r.get(4)?,
                    created_at: r.get(5)?,
                    client: r.get(6)?,
                })
            })
            .optional()?)
        })
    }

    fn find_passkey(&self, id: &str) -> Result<Option<PasskeyRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE id = ?1"))?.query_row([id], passkey_from_row).optional()
        })
    }

    fn list_passkeys(&self, user_id: &str) -> Result<Vec<PasskeyRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id"))?
                .query_map([user_id], passkey_from_row)?
                .collect()
        })
    }

    fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> Result<bool> {
        self.write(|c| Ok(c.prepare_cached("UPDATE passkeys SET name = ?3 WHERE user_id = ?1 AND id = ?2")?.execute([user_id, id, name])? == 1))
    }

    fn remove_passkey(&self, user_id: &str, id: &str) -> Result<Unlinked> {
        self.write(|c| {
            if c.prepare_cached(REMOVE_PASSKEY_UNLESS_LAST)?.execute([user_id, id])? == 1 {
                return Ok(Unlinked::Removed);
            }
            let held = c.prepare_cached("SELECT 1 FROM passkeys WHERE user_id = ?1 AND id = ?2")?.exists([user_id, id])?;
            Ok(if held { Unlinked::LastLoginMethod } else { Unlinked::NotLinked })
        })
    }

    fn list_sealed(&self, column: SealedColumn, after: (&str, &str), limit: u32) -> Result<Vec<SealedValue>> {
        let row = |r: &Row<'_>| Ok(SealedValue { key: r.get(0)?, sub_key: r.get(1)?, sealed: r.get(2)? });
        self.read(|c| match column {
            SealedColumn::LinkedTokens => c
                .prepare_cached(
                    "SELECT provider, subject, tokens FROM linked_accounts WHERE tokens IS NOT NULL AND (provider, subject) > (?1, ?2) \
                     ORDER BY provider, subject LIMIT ?3",
                )?
                .query_map(params![after.0, after.1, limit], row)?
                .collect(),
            SealedColumn::FlowVerifier => c
                .prepare_cached("SELECT digest, '', verifier FROM oauth_flows WHERE digest > ?1 ORDER BY digest LIMIT ?2")?
                .query_map(params![after.0, limit], row)?
                .collect(),
            SealedColumn::WebAuthnState => c
                .prepare_cached("SELECT digest, '', state FROM webauthn_challenges WHERE digest > ?1 ORDER BY digest LIMIT ?2")?
                .query_map(params![after.0, limit], row)?
                .collect(),
        })
    }

    fn swap_sealed(&self, column: SealedColumn, key: (&str, &str), expected: &str, new: &str) -> Result<bool> {
        self.write(|c| {
            let changed = match column {
                SealedColumn::LinkedTokens => c
                    .prepare_cached("UPDATE linked_accounts SET tokens = ?4 WHERE provider = ?1 AND subject = ?2 AND tokens = ?3")?
                    .execute(params![key.0, key.1, expected, new])?,
                SealedColumn::FlowVerifier => c
                    .prepare_cached("UPDATE oauth_flows SET verifier = ?3 WHERE digest = ?1 AND verifier = ?2")?
                    .execute(params![key.0, expected, new])?,
                SealedColumn::WebAuthnState => c
                    .prepare_cached("UPDATE webauthn_challenges SET state = ?3 WHERE digest = ?1 AND state = ?2")?
                    .execute(params![key.0, expected, new])?,
            };
            Ok(changed == 1)
        })
    }

    fn list_services(&self, name: &str, after: &str, limit: u32) -> Result<Vec<(String, String)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT user_id, data FROM services WHERE name = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3")?;
            let rows = stmt.query_map(rusqlite::params![name, after, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_an_inline_write_leaves_the_busy_handler_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("t.db").display().to_string()).expect("open");
        let out = inline::without_waiting(|| {
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.write(|_| -> Result<()> { panic!("a bug in a write") })));
            Ok(panicked.is_err())
        });
        assert_eq!(out.map(|r| r.ok()), Some(Some(true)));
        let writer = lock(&store.writer);
        assert!(writer.is_autocommit(), "rolled back");
        let ms: i64 = writer.query_row("PRAGMA busy_timeout", [], |r| r.get(0)).expect("pragma");
        assert_eq!(ms, BUSY_TIMEOUT.as_millis() as i64, "calls that may wait still wait for other processes");
    }

    #[test]
    fn a_panic_inside_a_read_transaction_leaves_no_reader_inside_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.db").display().to_string();
        let store = SqliteStore::open(&path).expect("open");
        for _ in 0..READERS {
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = store.read(|c| in_read_transaction(c, |_| -> rusqlite::Result<()> { panic!("a row that does not map") }));
            }));
            assert!(panicked.is_err());
        }
        assert!(store.readers.iter().all(|r| lock(r).is_autocommit()), "every reader is out of its transaction");
        // So the change counter still sees another process's commit.
        let before = store.change_counter().unwrap();
        let other = Connection::open(&path).expect("open again");
        other.execute("INSERT INTO attempts (digest, failures, expires_at) VALUES ('d', 1, 0)", []).unwrap();
        assert_ne!(store.change_counter().unwrap(), before);
    }
    #[test]
    fn an_inline_read_takes_a_free_reader_or_gives_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("a.db").display().to_string()).expect("open");
        assert_eq!(inline::without_waiting(|| store.find_user_by_id("nobody")).map(|r| r.ok()), Some(Some(None)));
        // Both readers busy (another thread's reads): the inline read gives up instead of waiting.
        let held: Vec<_> = store.readers.iter().map(lock).collect();
        assert!(inline::without_waiting(|| store.find_user_by_id("nobody")).is_none());
        drop(held);
        // One free again: it runs.
        let _one = lock(&store.readers[0]);
        assert!(inline::without_waiting(|| store.find_user_by_id("nobody")).is_some());
        // A write runs inline when the writer is free, and gives up when it is not.
        assert!(inline::without_waiting(|| store.invalidate_session("nobody", 0)).is_some());
        let writer = lock(&store.writer);
        assert!(inline::without_waiting(|| store.invalidate_session("nobody", 0)).is_none());
        drop(writer);
        // A group commit's batch open on the writer: an inline write would wait for its commit.
        lock(&store.writer).execute_batch("BEGIN IMMEDIATE").expect("begin");
        assert!(inline::without_waiting(|| store.invalidate_session("nobody", 0)).is_none());
        lock(&store.writer).execute_batch("ROLLBACK").expect("rollback");
        // A due checkpoint never runs inline: the host is told, and runs it where it may wait.
        store.commits.store(CHECKPOINT_COMMITS, Ordering::Relaxed);
        assert!(inline::without_waiting(|| store.invalidate_session("nobody", 0)).is_some(), "writes go on meanwhile");
        assert!(store.maintenance_due().expect("due"));
        assert!(inline::without_waiting(|| store.run_maintenance()).is_none());
        store.run_maintenance().expect("a checkpoint");
        assert_eq!(store.commits.load(Ordering::Relaxed), 0, "it checkpointed");
        assert!(!store.maintenance_due().expect("not due"));
        // A host that never runs it: past the backlog inline writes give up, and a pool write checkpoints.
        store.commits.store(CHECKPOINT_BACKLOG, Ordering::Relaxed);
        assert!(inline::without_waiting(|| store.invalidate_session("nobody", 0)).is_none());
        store.invalidate_session("nobody", 0).expect("a pool write");
        assert_eq!(store.commits.load(Ordering::Relaxed), 0, "it checkpointed");
        // Outside, the same calls wait as before.
        assert!(store.find_user_by_id("nobody").expect("a read").is_none());
    }

    #[test]
    fn waiting_for_inline_waits_for_pool_writes_and_never_takes_the_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("w.db").display().to_string()).expect("open");
        // Nothing under way: at once, even while somebody holds the writer (it is never taken).
        let held = lock(&store.writer);
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            let store = &store;
            scope.spawn(move || tx.send(store.wait_for_inline()).expect("send"));
            let answer = rx.recv_timeout(Duration::from_secs(5)).expect("it did not take the writer");
            assert!(answer.is_ok());
        });
        drop(held);
        // A pool write under way: waited for, until it ends.
        std::thread::scope(|scope| {
            let (release, blocked) = std::sync::mpsc::channel::<()>();
            let store = &store;
            let writer = scope.spawn(move || {
                store.write(|_| {
                    blocked.recv().expect("released");
                    Ok(())
                })
            });
            while store.pool_writes.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            let (started, start) = std::sync::mpsc::channel();
            let waiter = scope.spawn(move || {
                let at = std::time::Instant::now();
                started.send(()).expect("send");
                store.wait_for_inline().expect("wait");
                at.elapsed()
            });
            start.recv().expect("started");
            std::thread::sleep(Duration::from_millis(5));
            release.send(()).expect("release");
            writer.join().expect("no panic").expect("the write");
            assert!(waiter.join().expect("no panic") >= Duration::from_millis(5), "it returned while the write was under way");
        });
        assert_eq!(store.pool_writes.load(Ordering::SeqCst), 0);
        // Inside `without_waiting` it refuses rather than wait.
        assert!(inline::without_waiting(|| store.wait_for_inline()).is_none());
    }

    /// A store whose WAL holds more than `WAL_HOLD_FRAMES` frames, written inline (inline writes
    /// never checkpoint); with the number of users written.
    fn store_past_the_wal_bound(dir: &std::path::Path) -> (SqliteStore, usize) {
        let path = dir.join("c.db").display().to_string();
        let store = SqliteStore::open(&path).expect("open");
        let mut n = 0;
        while std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len()) < (WAL_HOLD_FRAMES as u64 + 200) * 4120 {
            store.commits.store(0, Ordering::Relaxed); // no checkpoint falls due
            inline::without_waiting(|| store.create_user(&new_user(&format!("id{n}"), &format!("user{n}")))).expect("free").expect("create");
            n += 1;
        }
        (store, n)
    }

    /// Frames in the WAL since it last started over (a PASSIVE checkpoint reports them).
    fn wal_frames(store: &SqliteStore) -> i64 {
        lock(store.checkpointer.as_ref().expect("a file database")).query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1)).expect("frames")
    }

    #[test]
    fn a_checkpoint_with_no_write_meanwhile_catches_up_without_holding_the_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, _) = store_past_the_wal_bound(dir.path());
        store.commits.store(CHECKPOINT_COMMITS, Ordering::Relaxed);
        store.run_maintenance().expect("a checkpoint");
        // Nothing was written during its pass, so it caught up: no pass held the writer, although
        // the WAL is past the bound, and the next write starts the WAL over.
        assert_eq!(store.holds.load(Ordering::Relaxed), 0, "the writer was held");
        assert!(inline::without_waiting(|| store.create_user(&new_user("next", "next"))).is_some());
        let after = wal_frames(&store);
        assert!(after <= 8, "{after} frames in the WAL after a caught-up checkpoint: it did not start over");
    }

    #[test]
    fn writes_that_never_pause_still_let_the_wal_start_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, n) = store_past_the_wal_bound(dir.path());
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let (store, stop) = (&store, &stop);
            // Inline writes all along: the checkpoint's passes never catch up with them.
            let writer = scope.spawn(move || {
                let mut i = n;
                while !stop.load(Ordering::SeqCst) {
                    if let Some(created) = inline::without_waiting(|| store.create_user(&new_user(&format!("id{i}"), &format!("user{i}")))) {
                        created.expect("create");
                        i += 1;
                    }
                }
            });
            store.checkpoint().expect("a checkpoint");
            stop.store(true, Ordering::SeqCst);
            writer.join().expect("no panic");
        });
        assert!(store.holds.load(Ordering::Relaxed) <= 1);
        // Caught up by luck or by its pass holding the writer: either way the WAL starts over at
        // the first write after it (a checkpoint that never completes would leave > 4 000 frames).
        // (The inline writer may have stopped at the checkpoint backlog: one more write.)
        store.create_user(&new_user("last", "last")).expect("create");
        let after = wal_frames(&store);
        assert!(after < WAL_HOLD_FRAMES / 2, "{after} frames in the WAL: it did not start over");
    }

    fn new_user(id: &str, username: &str) -> NewUser {
        NewUser {
            id: id.into(),
            username: Some(username.into()),
            username_key: Some(username.into()),
            emails: vec![],
            profile: Default::default(),
            password_hash: None,
            services: vec![],
            deactivated: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn queued_writes_share_a_commit_and_each_get_their_own_outcome() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("g.db").display().to_string()).expect("open");
        let writers = 12;
        let commits_before = store.total_commits();
        let held = lock(&store.writer);
        let outcomes: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..writers)
                .map(|i| {
                    let store = &store;
                    scope.spawn(move || {
                        // Every third writer takes a username another one also takes: one of each pair fails.
                        let name = if i % 3 == 0 { "taken".to_string() } else { format!("user{i}") };
                        let created = store.create_user(&new_user(&format!("id{i}"), &name));
                        // A write that returned is committed: a reader connection sees it at once.
                        let seen = store.find_user_by_id(&format!("id{i}")).expect("read").is_some();
                        (created.map_err(|e| e.code), seen)
                    })
                })
                .collect();
            while store.queued.load(Ordering::SeqCst) < writers {
                std::thread::yield_now();
            }
            drop(held);
            handles.into_iter().map(|h| h.join().expect("no panic")).collect()
        });
        let created = outcomes.iter().filter(|(r, _)| r.is_ok()).count();
        let refused: Vec<_> = outcomes.iter().filter_map(|(r, _)| r.err()).collect();
        // Four writers wanted "taken": one got it, the other three failed on their own.
        assert_eq!(created, writers - 3);
        assert_eq!(refused, vec![ErrorCode::UsernameAlreadyExists; 3]);
        for (result, seen) in &outcomes {
            assert_eq!(result.is_ok(), *seen, "a created user is visible, a refused one is not");
        }
        let commits = store.total_commits() - commits_before;
        assert!(commits < writers - 3, "{commits} commits for {} writes: they were not grouped", writers - 3);
        // A write that comes alone commits by itself, as before.
        store.create_user(&new_user("alone", "alone")).expect("create");
        assert_eq!(store.total_commits() - commits_before, commits + 1);
        assert!(store.batch.lock().expect("batch").ticket.is_none(), "no batch left open");
    }

    #[test]
    fn a_panicking_write_in_a_batch_leaves_the_others_committed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("p.db").display().to_string()).expect("open");
        let held = lock(&store.writer);
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..6)
                .map(|i| {
                    let store = &store;
                    scope.spawn(move || {
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            store
                                .write(|c| {
                                    SqliteWrites { tx: c }.create_user(&new_user(&format!("id{i}"), &format!("u{i}")))?;
                                    if i == 2 {
                                        panic!("a bug in one write");
                                    }
                                    Ok(())
                                })
                                .is_ok()
                        }))
                        .ok()
                    })
                })
                .collect();
            while store.queued.load(Ordering::SeqCst) < 6 {
                std::thread::yield_now();
            }
            drop(held);
            handles.into_iter().map(|h| h.join().expect("caught")).collect()
        });
        for (i, result) in results.iter().enumerate() {
            let stored = store.find_user_by_id(&format!("id{i}")).expect("read").is_some();
            if i == 2 {
                assert_eq!((*result, stored), (None, false), "the panic reached its caller, its write rolled back");
            } else {
                assert_eq!((*result, stored), (Some(true), true));
            }
        }
    }
}
