//! PostgreSQL store: the same relational schema as SQLite, for many app servers on one user base.
//!
//! A pool of synchronous `postgres` connections (`postgres_pool.rs`, no threads of its own). Migrations run on open under an advisory
//! lock, so several processes can start at once. Every operation that must be exact across
//! processes is one statement (compare-and-swap `UPDATE ... WHERE`, `DELETE ... RETURNING`) or a
//! transaction, and uniqueness is enforced by the database.

use super::postgres_fence::Fence;
use super::postgres_pool::{Conn, Db, Pool};
use super::postgres_tls::connector;
use super::{
    AttemptCount, MAX_PENDING_FLOWS_PER_CLIENT, MAX_PENDING_FLOWS_WITHOUT_ADDRESS, NewUser, OAuthFlow, PasskeyRecord, SealedColumn, SealedValue,
    SessionRecord, Store, TokenRecord, TokenScope, Unlinked, WebAuthnChallenge, Writes,
};
use crate::error::{AccountsError, ErrorCode, Result};
use crate::identifiers::{email_key, lookalikes};
use crate::types::{ConnectionInfo, EmailRecord, LinkedAccount, PurgeReport, Session, User, profile_fields};
use postgres::error::SqlState;
use postgres::{GenericClient, Row};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Versioned migrations; index + 1 is the version recorded in `accounts_schema`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    username    TEXT UNIQUE,
    emails      TEXT NOT NULL DEFAULT '[]',
    profile     TEXT NOT NULL DEFAULT '{}',
    deactivated BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE TABLE emails (
    address    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    verified   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    seq        BIGSERIAL
);
CREATE INDEX emails_user ON emails(user_id);
CREATE TABLE passwords (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE services (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    data       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, name)
);
CREATE TABLE tokens (
    digest     TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    address    TEXT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX tokens_user ON tokens(user_id, kind);
CREATE TABLE sessions (
    id                   TEXT PRIMARY KEY,
    user_id              TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    refresh_digest       TEXT NOT NULL,
    prev_refresh_digest  TEXT,
    refresh_counter      BIGINT NOT NULL DEFAULT 0,
    rotated_at           BIGINT NOT NULL,
    valid                BOOLEAN NOT NULL DEFAULT TRUE,
    ip                   TEXT,
    user_agent           TEXT,
    impersonator_user_id TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
"#,
    r#"
CREATE TABLE decoys (id BIGSERIAL PRIMARY KEY, digest TEXT NOT NULL, created_at BIGINT NOT NULL);
"#,
    r#"
ALTER TABLE users ADD COLUMN username_key TEXT;
CREATE UNIQUE INDEX users_username_fold_key ON users(username_key);
CREATE INDEX tokens_expiry ON tokens(expires_at);
CREATE INDEX sessions_impersonator ON sessions(impersonator_user_id);
CREATE TABLE attempts (digest TEXT PRIMARY KEY, failures BIGINT NOT NULL, expires_at BIGINT NOT NULL);
CREATE INDEX attempts_expiry ON attempts(expires_at);
DROP TABLE decoys;
CREATE TABLE decoys (
    digest TEXT PRIMARY KEY, user_id TEXT, kind TEXT NOT NULL, address TEXT, expires_at BIGINT NOT NULL, created_at BIGINT NOT NULL
);
CREATE INDEX decoys_user ON decoys(user_id, kind);
CREATE INDEX decoys_expiry ON decoys(expires_at);
"#,
    r#"
CREATE TABLE linked_accounts (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email      TEXT,
    tokens     TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject),
    UNIQUE (user_id, provider)
);
CREATE TABLE oauth_flows (
    digest       TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    verifier     TEXT NOT NULL,
    nonce_digest TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
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
-- Insertion order (flows started in one millisecond share created_at): the newest are kept.
ALTER TABLE oauth_flows ADD COLUMN seq BIGSERIAL;
CREATE INDEX oauth_flows_client ON oauth_flows(client, seq);
"#,
    r#"
-- Passkeys (docs/passkeys.md): public keys only, the private key stays on the authenticator.
CREATE TABLE passkeys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_handle  TEXT NOT NULL,
    name         TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    state        TEXT NOT NULL,
    transports   TEXT NOT NULL,
    aaguid       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys(user_id);
-- Started ceremonies: the challenge's digest, the server state sealed.
CREATE TABLE webauthn_challenges (
    digest     TEXT PRIMARY KEY,
    ceremony   TEXT NOT NULL,
    user_id    TEXT,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    client     TEXT,
    seq        BIGSERIAL
);
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges(expires_at);
CREATE INDEX webauthn_challenges_client ON webauthn_challenges(client, seq);
"#,
    r#"
-- The bcrypt hashes imported from accounts-js and not yet rehashed, by cost: opening a server reads the
-- highest (the login timing floor, docs/security.md "Timing") from here instead of scanning every password.
CREATE INDEX passwords_bcrypt_cost ON passwords ((substring(hash from 5 for 2))) WHERE hash ~ '^\$2[aby]\$(0[4-9]|1[0-5])\$';
"#,
];

/// The schema version that added `emails.address_key` (filled in for older rows as it migrates).
const ADDRESS_KEYS_VERSION: usize = 5;

/// Key of the advisory lock that serialises migrations across processes ("accounts" in ASCII).
const MIGRATION_LOCK: i64 = 0x6163_636f_756e_7473;

/// The snapshot read behind the change counter (store/postgres_fence.rs).
const FENCE_SQL: &str = "SELECT pg_current_snapshot()::text, pg_is_in_recovery(), pg_postmaster_start_time()::text";

/// Told apart on every read of a server in recovery (a hot standby): its snapshots do not list the
/// transactions running on the primary, so a commit there can leave the text unchanged — nothing
/// is cached through such a connection.
static STANDBY_READS: AtomicU64 = AtomicU64::new(0);

/// The PostgreSQL store: a pool of connections (docs/architecture.md, "Storage").
pub struct PostgresStore {
    pool: Pool,
    /// The change counter (store/postgres_fence.rs).
    fence: Fence,
    /// Whether the server's snapshots vouch for its commits: PostgreSQL 13 or later itself, not a
    /// server that only speaks its protocol (CockroachDB, YugabyteDB), where nothing is cached.
    fence_works: AtomicBool,
}

/// Whether a server whose `version()` is `version` is PostgreSQL itself, whose snapshots change
/// with every commit (store/postgres_fence.rs). YugabyteDB says `PostgreSQL 11.2-YB-...`, but its
/// tables commit outside PostgreSQL's transaction ids; CockroachDB says `CockroachDB ...`.
fn snapshots_vouch_for_commits(version: &str) -> bool {
    version.starts_with("PostgreSQL ") && !version.contains("-YB-")
}

impl From<postgres::Error> for AccountsError {
    fn from(e: postgres::Error) -> Self {
        let message = match e.as_db_error() {
            Some(db) => format!("postgres: {} ({})", db.message(), db.code().code()),
            None => format!("postgres: {e}"),
        };
        AccountsError::new(ErrorCode::StorageError, message).with_source(e)
    }
}

fn migrate(client: &mut postgres::Client) -> Result<()> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let result = (|| -> Result<()> {
        client.batch_execute("CREATE TABLE IF NOT EXISTS accounts_schema (version INTEGER NOT NULL)")?;
        let mut tx = client.transaction()?;
        let version: i32 = match tx.query_opt("SELECT version FROM accounts_schema", &[])? {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO accounts_schema (version) VALUES (0)", &[])?;
                0
            }
        };
        let version = version as usize;
        if version > MIGRATIONS.len() {
            return Err(AccountsError::new(
                ErrorCode::StorageError,
                format!("database schema version {version} is newer than this library ({})", MIGRATIONS.len()),
            ));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.batch_execute(sql)?;
            if i + 1 == ADDRESS_KEYS_VERSION {
                // The lookalike key needs the UTS #39 skeleton, which SQL cannot compute: addresses
                // stored before this version get theirs here, in the migration's transaction.
                let rows = tx.query("SELECT address FROM emails WHERE address_key IS NULL", &[])?;
                let set = tx.prepare("UPDATE emails SET address_key = $2 WHERE address = $1")?;
                for row in &rows {
                    let address: &str = row.get(0);
                    tx.execute(&set, &[&address, &email_key(address)])?;
                }
            }
            tx.execute("UPDATE accounts_schema SET version = $1", &[&((i + 1) as i32)])?;
        }
        tx.commit()?;
        Ok(())
    })();
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result?;
    unlocked?;
    Ok(())
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db?sslmode=...`) with a pool of
    /// `pool_size` connections and migrates the schema.
    ///
    /// # Errors
    /// `InvalidConfig` for a malformed URL, `StorageError` when the server cannot be reached or migrated.
    pub fn open(url: &str, pool_size: u32) -> Result<PostgresStore> {
        let config: postgres::Config =
            url.parse().map_err(|e| AccountsError::new(ErrorCode::InvalidConfig, format!("db: invalid postgres URL: {e}")))?;
        let pool = Pool::new(config, connector()?, pool_size);
        let mut first = pool.connect()?;
        migrate(&mut first)?;
        let version: String = first.query_one("SELECT version()", &[])?.get(0);
        pool.adopt(first);
        Ok(PostgresStore { pool, fence: Fence::new(super::counter_base()), fence_works: AtomicBool::new(snapshots_vouch_for_commits(&version)) })
    }

    fn conn(&self) -> Result<Conn<'_>> {
        self.pool.get()
    }

    /// Runs `f` on a connection of the pool, as the store lends them (tests: that session's prepared
    /// statements, its backend, `DISCARD ALL`).
    ///
    /// # Errors
    /// `StorageError` when no connection can be had.
    #[cfg(feature = "fault-injection")]
    pub fn with_pooled_connection<T>(&self, f: impl FnOnce(&mut postgres::Client) -> T) -> Result<T> {
        Ok(f(self.conn()?.client()))
    }

    fn tx<T>(&self, f: impl FnMut(&mut Db<'_, postgres::Transaction<'_>>) -> Result<T>) -> Result<T> {
        self.conn()?.transaction(f)
    }
}

const USER_COLUMNS: &str = "u.id, u.username, u.emails, u.profile, u.deactivated, u.created_at, u.updated_at";

fn user_from_row(row: &Row) -> Result<User> {
    let bad = |e: serde_json::Error| AccountsError::new(ErrorCode::StorageError, format!("stored user is not valid JSON: {e}"));
    let emails: Vec<EmailRecord> = serde_json::from_str(row.get::<_, &str>(2)).map_err(bad)?;
    let profile: serde_json::Map<String, serde_json::Value> = serde_json::from_str(row.get::<_, &str>(3)).map_err(bad)?;
    // Rows written before profiles were filtered everywhere (docs/security.md, "Profiles").
    let profile = profile_fields(&profile);
    Ok(User { id: row.get(0), username: row.get(1), emails, profile, deactivated: row.get(4), created_at: row.get(5), updated_at: row.get(6) })
}

const SESSION_COLUMNS: &str = "id, user_id, valid, ip, user_agent, impersonator_user_id, refresh_counter, \
                               created_at, updated_at, refresh_digest, prev_refresh_digest, rotated_at";

fn session_from_row(row: &Row) -> SessionRecord {
    SessionRecord {
        session: Session {
            id: row.get(0),
            user_id: row.get(1),
            valid: row.get(2),
            ip: row.get(3),
            user_agent: row.get(4),
            impersonator_user_id: row.get(5),
            refresh_count: row.get(6),
            created_at: row.get(7),
            updated_at: row.get(8),
        },
        refresh_digest: row.get(9),
        prev_refresh_digest: row.get(10),
        rotated_at: row.get(11),
    }
}

fn token_from_row(row: &Row) -> TokenRecord {
    TokenRecord { digest: row.get(0), user_id: row.get(1), kind: row.get(2), address: row.get(3), expires_at: row.get(4), created_at: row.get(5) }
}

/// Maps constraint violations to the codes callers expect.
fn constraint(e: postgres::Error) -> AccountsError {
    match e.as_db_error() {
        Some(db) if *db.code() == SqlState::UNIQUE_VIOLATION => match db.constraint() {
            Some("emails_pkey") => AccountsError::code(ErrorCode::EmailAlreadyExists),
            Some("users_username_key" | "users_username_fold_key") => AccountsError::code(ErrorCode::UsernameAlreadyExists),
            Some("linked_accounts_pkey" | "linked_accounts_user_id_provider_key") => AccountsError::code(ErrorCode::AccountAlreadyLinked),
            Some("passkeys_pkey") => AccountsError::code(ErrorCode::PasskeyAlreadyRegistered),
            _ => e.into(),
        },
        Some(db) if *db.code() == SqlState::FOREIGN_KEY_VIOLATION => AccountsError::code(ErrorCode::UserNotFound),
        _ => e.into(),
    }
}

/// PostgreSQL text cannot hold NUL: a key containing one names no row (instead of a storage error).
fn names_nothing(key: &str) -> bool {
    key.contains('\0')
}

fn user_not_found() -> AccountsError {
    AccountsError::code(ErrorCode::UserNotFound)
}

/// Locks the user's row for the rest of the transaction, so concurrent email changes of one user
/// apply one after the other; returns whether the user exists.
/// `EmailAlreadyExists` when an address held already is one a person could take `address` for
/// (docs/security.md, "Identifiers"); checked in the inserting transaction.
fn refuse_lookalike<C: GenericClient>(tx: &mut Db<'_, C>, address: &str) -> Result<()> {
    let rows = tx.query("SELECT address FROM emails WHERE address_key = $1", &[&email_key(address)])?;
    if rows.iter().any(|r| lookalikes(address, r.get::<_, &str>(0))) {
        return Err(AccountsError::code(ErrorCode::EmailAlreadyExists));
    }
    Ok(())
}

fn lock_user<C: GenericClient>(tx: &mut Db<'_, C>, user_id: &str) -> Result<bool> {
    Ok(tx.query_opt("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])?.is_some())
}

fn sync_emails<C: GenericClient>(tx: &mut Db<'_, C>, user_id: &str, now: i64) -> Result<()> {
    let rows = tx.query("SELECT address, verified FROM emails WHERE user_id = $1 ORDER BY created_at, seq", &[&user_id])?;
    let emails: Vec<EmailRecord> = rows.iter().map(|r| EmailRecord { address: r.get(0), verified: r.get(1) }).collect();
    let json = serde_json::to_string(&emails)?;
    tx.execute("UPDATE users SET emails = $2, updated_at = $3 WHERE id = $1", &[&user_id, &json, &now])?;
    Ok(())
}

/// The writes of one transaction (see [`Store::atomically`]), or of one statement on a pooled
/// connection when a [`Store`] method needs no transaction.
struct PgWrites<'a, 'c, C: GenericClient> {
    c: &'a mut Db<'c, C>,
}

impl<C: GenericClient> Writes for PgWrites<'_, '_, C> {
    fn create_user(&mut self, user: &NewUser) -> Result<()> {
        let emails_json = serde_json::to_string(&user.emails)?;
        let profile_json = serde_json::to_string(&user.profile)?;
        {
            self.c
                .execute(
                    "INSERT INTO users (id, username, username_key, emails, profile, deactivated, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &user.id,
                        &user.username,
                        &user.username_key,
                        &emails_json,
                        &profile_json,
                        &user.deactivated,
                        &user.created_at,
                        &user.updated_at,
                    ],
                )
                .map_err(constraint)?;
            for email in &user.emails {
                refuse_lookalike(self.c, &email.address)?;
                self.c
                    .execute(
                        "INSERT INTO emails (address, user_id, verified, created_at, address_key) VALUES ($1, $2, $3, $4, $5)",
                        &[&email.address, &user.id, &email.verified, &user.created_at, &email_key(&email.address)],
                    )
                    .map_err(constraint)?;
            }
            if let Some(hash) = &user.password_hash {
                self.c.execute("INSERT INTO passwords (user_id, hash, updated_at) VALUES ($1, $2, $3)", &[&user.id, hash, &user.updated_at])?;
            }
            for (name, data) in &user.services {
                self.c.execute(
                    "INSERT INTO services (user_id, name, data, updated_at) VALUES ($1, $2, $3, $4)",
                    &[&user.id, name, data, &user.updated_at],
                )?;
            }
            Ok(())
        }
    }

    fn set_password_hash(&mut self, user_id: &str, hash: &str, now: i64) -> Result<()> {
        {
            if self.c.execute("UPDATE users SET updated_at = $2 WHERE id = $1", &[&user_id, &now])? == 0 {
                return Err(user_not_found());
            }
            self.c.execute(
                "INSERT INTO passwords (user_id, hash, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET hash = EXCLUDED.hash, updated_at = EXCLUDED.updated_at",
                &[&user_id, &hash, &now],
            )?;
            Ok(())
        }
    }

    fn create_session(&mut self, r: &SessionRecord) -> Result<()> {
        let s = &r.session;
        self.c
            .execute(
                "INSERT INTO sessions (id, user_id, refresh_digest, prev_refresh_digest, refresh_counter, rotated_at, valid, \
                 ip, user_agent, impersonator_user_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &s.id,
                    &s.user_id,
                    &r.refresh_digest,
                    &r.prev_refresh_digest,
                    &s.refresh_count,
                    &r.rotated_at,
                    &s.valid,
                    &s.ip,
                    &s.user_agent,
                    &s.impersonator_user_id,
                    &s.created_at,
                    &s.updated_at,
                ],
            )
            .map_err(constraint)?;
        Ok(())
    }

    fn invalidate_all_sessions(&mut self, user_id: &str, except: &[String], now: i64) -> Result<u64> {
        if names_nothing(user_id) {
            return Ok(0);
        }
        // A NUL-containing id names no session, so it excludes nothing.
        let except: Vec<&str> = except.iter().map(String::as_str).filter(|id| !names_nothing(id)).collect();
        Ok(self.c.execute(
            "UPDATE sessions SET valid = FALSE, updated_at = $3 \
             WHERE (user_id = $1 OR impersonator_user_id = $1) AND valid AND NOT (id = ANY($2))",
            &[&user_id, &except, &now],
        )?)
    }

    fn verify_email(&mut self, user_id: &str, address: &str, now: i64) -> Result<bool> {
        if names_nothing(user_id) || names_nothing(address) {
            return Ok(false);
        }
        {
            lock_user(self.c, user_id)?;
            if self.c.execute("UPDATE emails SET verified = TRUE WHERE user_id = $1 AND address = $2", &[&user_id, &address])? == 0 {
                return Ok(false);
            }
            sync_emails(self.c, user_id, now)?;
            Ok(true)
        }
    }

    fn insert_token(&mut self, t: &TokenRecord, scope: TokenScope) -> Result<()> {
        {
            match scope {
                TokenScope::Kind => self.c.execute("DELETE FROM tokens WHERE user_id = $1 AND kind = $2", &[&t.user_id, &t.kind])?,
                TokenScope::KindAndAddress => self.c.execute(
                    "DELETE FROM tokens WHERE user_id = $1 AND kind = $2 AND address IS NOT DISTINCT FROM $3",
                    &[&t.user_id, &t.kind, &t.address],
                )?,
            };
            self.c.execute("DELETE FROM tokens WHERE expires_at <= $1", &[&t.created_at])?;
            self.c
                .execute(
                    "INSERT INTO tokens (digest, user_id, kind, address, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&t.digest, &t.user_id, &t.kind, &t.address, &t.expires_at, &t.created_at],
                )
                .map_err(constraint)?;
            Ok(())
        }
    }

    fn take_token(&mut self, digest: &str, kinds: &[&str]) -> Result<Option<TokenRecord>> {
        let kinds: Vec<&str> = kinds.to_vec();
        let row = self.c.query_opt(
            "DELETE FROM tokens WHERE digest = $1 AND kind = ANY($2) \
             RETURNING digest, user_id, kind, address, expires_at, created_at",
            &[&digest, &kinds],
        )?;
        Ok(row.as_ref().map(token_from_row))
    }

    fn delete_tokens(&mut self, user_id: &str, kind: &str) -> Result<u64> {
        Ok(self.c.execute("DELETE FROM tokens WHERE user_id = $1 AND kind = $2", &[&user_id, &kind])?)
    }

    fn swap_service(&mut self, user_id: &str, name: &str, expected: Option<&str>, new: Option<&str>, now: i64) -> Result<bool> {
        let n = match (expected, new) {
            (None, None) => return Ok(self.c.query_opt("SELECT 1 FROM services WHERE user_id = $1 AND name = $2", &[&user_id, &name])?.is_none()),
            (None, Some(data)) => self
                .c
                .execute(
                    "INSERT INTO services (user_id, name, data, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&user_id, &name, &data, &now],
                )
                .map_err(constraint)?,
            (Some(old), Some(data)) => self.c.execute(
                "UPDATE services SET data = $4, updated_at = $5 WHERE user_id = $1 AND name = $2 AND data = $3",
                &[&user_id, &name, &old, &data, &now],
            )?,
            (Some(old), None) => self.c.execute("DELETE FROM services WHERE user_id = $1 AND name = $2 AND data = $3", &[&user_id, &name, &old])?,
        };
        Ok(n == 1)
    }

    fn link_account(&mut self, a: &LinkedAccount) -> Result<()> {
        self.c
            .execute(
                "INSERT INTO linked_accounts (provider, subject, user_id, email, created_at, tokens) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&a.provider, &a.id, &a.user_id, &a.email, &a.created_at, &a.tokens],
            )
            .map_err(constraint)?;
        Ok(())
    }

    fn drop_unproven_holds(&mut self, user_id: &str, keep: &str, now: i64) -> Result<()> {
        self.c.execute("DELETE FROM linked_accounts WHERE user_id = $1", &[&user_id])?;
        self.c.execute("DELETE FROM passkeys WHERE user_id = $1", &[&user_id])?;
        self.c.execute(
            "DELETE FROM tokens WHERE user_id = $1 AND address IN (SELECT address FROM emails WHERE user_id = $1 AND NOT verified AND address <> $2)",
            &[&user_id, &keep],
        )?;
        self.c.execute("DELETE FROM emails WHERE user_id = $1 AND NOT verified AND address <> $2", &[&user_id, &keep])?;
        sync_emails(self.c, user_id, now)
    }

    fn set_linked_tokens(&mut self, provider: &str, id: &str, tokens: Option<&str>) -> Result<bool> {
        Ok(self.c.execute("UPDATE linked_accounts SET tokens = $3 WHERE provider = $1 AND subject = $2", &[&provider, &id, &tokens])? == 1)
    }

    fn delete_passkeys(&mut self, user_id: &str) -> Result<Vec<String>> {
        Ok(self.c.query("DELETE FROM passkeys WHERE user_id = $1 RETURNING id", &[&user_id])?.iter().map(|r| r.get(0)).collect())
    }

    fn create_passkey(&mut self, p: &PasskeyRecord, max: usize) -> Result<()> {
        // The user's row locked: concurrent registrations of one user count one after the other.
        if self.c.query_opt("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&p.user_id])?.is_none() {
            return Err(AccountsError::code(ErrorCode::UserNotFound));
        }
        let held: i64 = self.c.query_one("SELECT COUNT(*) FROM passkeys WHERE user_id = $1", &[&p.user_id])?.get(0);
        if usize::try_from(held).unwrap_or(usize::MAX) >= max {
            return Err(AccountsError::new(ErrorCode::InvalidArgument, format!("a user has at most {max} passkeys")));
        }
        self.c
            .execute(
                "INSERT INTO passkeys (id, user_id, user_handle, name, public_key, state, transports, aaguid, created_at, last_used_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[&p.id, &p.user_id, &p.user_handle, &p.name, &p.public_key, &p.state, &p.transports, &p.aaguid, &p.created_at, &p.last_used_at],
            )
            .map_err(constraint)?;
        Ok(())
    }

    fn swap_passkey_state(&mut self, id: &str, expected: &str, new: &str, now: i64) -> Result<bool> {
        Ok(self.c.execute("UPDATE passkeys SET state = $3, last_used_at = $4 WHERE id = $1 AND state = $2", &[&id, &expected, &new, &now])? == 1)
    }
}

const PASSKEY_COLUMNS: &str = "id, user_id, user_handle, name, public_key, state, transports, aaguid, created_at, last_used_at";

fn passkey_from_row(r: &Row) -> PasskeyRecord {
    PasskeyRecord {
        id: r.get(0),
        user_id: r.get(1),
        user_handle: r.get(2),
        name: r.get(3),
        public_key: r.get(4),
        state: r.get(5),
        transports: r.get(6),
        aaguid: r.get(7),
        created_at: r.get(8),
        last_used_at: r.get(9),
    }
}

const LINKED_ACCOUNT_COLUMNS: &str = "provider, subject, user_id, email, created_at, tokens";

fn linked_account_from_row(row: &Row) -> LinkedAccount {
    LinkedAccount { provider: row.get(0), id: row.get(1), user_id: row.get(2), email: row.get(3), created_at: row.get(4), tokens: row.get(5) }
}

impl Store for PostgresStore {
    fn change_counter(&self) -> Result<Option<u64>> {
        if !self.fence_works.load(Ordering::Relaxed) {
            return Ok(None);
        }
        // One round trip (a statement prepared on the connection), shared by the calls that ask
        // at once; only a snapshot read after this call began serves it (store/postgres_fence.rs).
        let counter = self.fence.run(|| {
            let row = self.conn()?.db().query_one(FENCE_SQL, &[]).map_err(|e| {
                if e.code() == Some(&SqlState::UNDEFINED_FUNCTION) {
                    // Before PostgreSQL 13: no cache, as before the fence existed.
                    self.fence_works.store(false, Ordering::Relaxed);
                }
                AccountsError::from(e)
            })?;
            let (snapshot, in_recovery, started): (String, bool, String) = (row.get(0), row.get(1), row.get(2));
            if in_recovery {
                return Ok(format!("standby {}", STANDBY_READS.fetch_add(1, Ordering::Relaxed)));
            }
            // Which server answered (a failover behind a pooler that keeps this connection reaches
            // another one), and how many connections the pool opened, counted after the read: one
            // opened for it after a restart is included.
            Ok(format!("{snapshot} {started} {}", self.pool.opened()))
        })?;
        Ok(Some(counter))
    }

    fn atomically(&self, work: &mut dyn FnMut(&mut dyn Writes) -> Result<()>) -> Result<()> {
        self.tx(|tx| work(&mut PgWrites { c: tx }))
    }

    fn create_user(&self, user: &NewUser) -> Result<()> {
        self.tx(|tx| PgWrites { c: tx }.create_user(user))
    }

    fn find_user_by_id(&self, id: &str) -> Result<Option<User>> {
        if names_nothing(id) {
            return Ok(None);
        }
        let row = self.conn()?.db().query_opt(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"), &[&id])?;
        row.as_ref().map(user_from_row).transpose()
    }

    fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        if names_nothing(email) {
            return Ok(None);
        }
        let row = self
            .conn()?
            .db()
            .query_opt(&format!("SELECT {USER_COLUMNS} FROM emails e JOIN users u ON u.id = e.user_id WHERE e.address = $1"), &[&email])?;
        row.as_ref().map(user_from_row).transpose()
    }

    fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        if names_nothing(username) {
            return Ok(None);
        }
        let row = self.conn()?.db().query_opt(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1"), &[&username])?;
        row.as_ref().map(user_from_row).transpose()
    }

    fn max_bcrypt_cost(&self) -> Result<Option<u32>> {
        // The predicate and expression of the index `passwords_bcrypt_cost`: one index lookup.
        let row = self
            .conn()?
            .db()
            .query_one("SELECT MAX(substring(hash from 5 for 2)) FROM passwords WHERE hash ~ '^\\$2[aby]\\$(0[4-9]|1[0-5])\\$'", &[])?;
        Ok(row.get::<_, Option<&str>>(0).and_then(|c| c.parse().ok()))
    }

    fn find_password_hash(&self, user_id: &str) -> Result<Option<String>> {
        if names_nothing(user_id) {
            return Ok(None);
        }
        Ok(self.conn()?.db().query_opt("SELECT hash FROM passwords WHERE user_id = $1", &[&user_id])?.map(|r| r.get(0)))
    }

    fn set_password_hash(&self, user_id: &str, hash: &str, now: i64) -> Result<()> {
        self.tx(|tx| PgWrites { c: tx }.set_password_hash(user_id, hash, now))
    }

    fn set_deactivated(&self, user_id: &str, deactivated: bool, now: i64) -> Result<()> {
        if names_nothing(user_id) {
            return Err(user_not_found());
        }
        let n = self.conn()?.db().execute("UPDATE users SET deactivated = $2, updated_at = $3 WHERE id = $1", &[&user_id, &deactivated, &now])?;
        if n == 0 { Err(user_not_found()) } else { Ok(()) }
    }

    fn create_session(&self, r: &SessionRecord) -> Result<()> {
        PgWrites { c: &mut self.conn()?.db() }.create_session(r)
    }

    fn find_session(&self, id: &str) -> Result<Option<SessionRecord>> {
        if names_nothing(id) {
            return Ok(None);
        }
        let row = self.conn()?.db().query_opt(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"), &[&id])?;
        Ok(row.as_ref().map(session_from_row))
    }

    fn rotate_session(&self, id: &str, expected: &str, new_digest: &str, now: i64, info: &ConnectionInfo) -> Result<bool> {
        // One statement: under concurrency the row lock makes the loser re-check the WHERE and match nothing.
        let n = self.conn()?.db().execute(
            "UPDATE sessions SET prev_refresh_digest = refresh_digest, refresh_digest = $3, \
             refresh_counter = refresh_counter + 1, rotated_at = $4, updated_at = $4, \
             ip = COALESCE($5, ip), user_agent = COALESCE($6, user_agent) \
             WHERE id = $1 AND valid AND refresh_digest = $2",
            &[&id, &expected, &new_digest, &now, &info.ip, &info.user_agent],
        )?;
        Ok(n == 1)
    }

    fn invalidate_session(&self, id: &str, now: i64) -> Result<bool> {
        if names_nothing(id) {
            return Ok(false);
        }
        let n = self.conn()?.db().execute("UPDATE sessions SET valid = FALSE, updated_at = $2 WHERE id = $1 AND valid", &[&id, &now])?;
        Ok(n == 1)
    }

    fn invalidate_all_sessions(&self, user_id: &str, except: &[String], now: i64) -> Result<u64> {
        PgWrites { c: &mut self.conn()?.db() }.invalidate_all_sessions(user_id, except, now)
    }

    fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>> {
        if names_nothing(user_id) {
            return Ok(Vec::new());
        }
        let rows = self
            .conn()?
            .db()
            .query(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id"), &[&user_id])?;
        Ok(rows.iter().map(|r| session_from_row(r).session).collect())
    }

    fn add_email(&self, user_id: &str, address: &str, verified: bool, now: i64) -> Result<()> {
        if names_nothing(user_id) {
            return Err(user_not_found());
        }
        self.tx(|tx| {
            if !lock_user(tx, user_id)? {
                return Err(user_not_found());
            }
            refuse_lookalike(tx, address)?;
            tx.execute(
                "INSERT INTO emails (address, user_id, verified, created_at, address_key) VALUES ($1, $2, $3, $4, $5)",
                &[&address, &user_id, &verified, &now, &email_key(address)],
            )
            .map_err(constraint)?;
            sync_emails(tx, user_id, now)
        })
    }

    fn remove_email(&self, user_id: &str, address: &str, now: i64) -> Result<bool> {
        if names_nothing(user_id) || names_nothing(address) {
            return Ok(false);
        }
        self.tx(|tx| {
            lock_user(tx, user_id)?;
            if tx.execute("DELETE FROM emails WHERE user_id = $1 AND address = $2", &[&user_id, &address])? == 0 {
                return Ok(false);
            }
            tx.execute("DELETE FROM tokens WHERE user_id = $1 AND address = $2", &[&user_id, &address])?;
            sync_emails(tx, user_id, now)?;
            Ok(true)
        })
    }

    fn verify_email(&self, user_id: &str, address: &str, now: i64) -> Result<bool> {
        self.tx(|tx| PgWrites { c: tx }.verify_email(user_id, address, now))
    }

    fn insert_token(&self, t: &TokenRecord, scope: TokenScope) -> Result<()> {
        self.tx(|tx| PgWrites { c: tx }.insert_token(t, scope))
    }

    fn find_token(&self, digest: &str) -> Result<Option<TokenRecord>> {
        if names_nothing(digest) {
            return Ok(None);
        }
        let row =
            self.conn()?.db().query_opt("SELECT digest, user_id, kind, address, expires_at, created_at FROM tokens WHERE digest = $1", &[&digest])?;
        Ok(row.as_ref().map(token_from_row))
    }

    fn take_token(&self, digest: &str, kinds: &[&str]) -> Result<Option<TokenRecord>> {
        PgWrites { c: &mut self.conn()?.db() }.take_token(digest, kinds)
    }

    fn delete_tokens(&self, user_id: &str, kind: &str) -> Result<u64> {
        PgWrites { c: &mut self.conn()?.db() }.delete_tokens(user_id, kind)
    }

    fn decoy_write(&self, digest: &str, now: i64) -> Result<()> {
        self.tx(|tx| {
            // The statements of `insert_token`, on a table that is emptied again in the same transaction.
            tx.execute("DELETE FROM decoys WHERE user_id = $1 AND kind = 'decoy' AND address IS NOT DISTINCT FROM $1", &[&digest])?;
            tx.execute("DELETE FROM decoys WHERE expires_at <= $1", &[&now])?;
            tx.execute(
                "INSERT INTO decoys (digest, user_id, kind, address, expires_at, created_at) VALUES ($1, $1, 'decoy', $1, $2, $2)",
                &[&digest, &now],
            )?;
            tx.execute("DELETE FROM decoys", &[])?;
            Ok(())
        })
    }

    fn read_attempts(&self, keys: &[String], now: i64) -> Result<Vec<AttemptCount>> {
        let rows = self
            .conn()?
            .db()
            .query("SELECT digest, failures, expires_at FROM attempts WHERE digest = ANY($1) AND expires_at > $2", &[&keys, &now])?;
        Ok(rows.iter().map(|r| AttemptCount { key: r.get(0), failures: r.get(1), expires_at: r.get(2) }).collect())
    }

    fn hit_attempts(&self, hits: &[(String, i64)], now: i64) -> Result<Vec<AttemptCount>> {
        self.tx(|tx| {
            tx.execute("DELETE FROM attempts WHERE expires_at <= $1", &[&now])?;
            let mut out = Vec::with_capacity(hits.len());
            for (key, window_ms) in hits {
                // One statement per counter: concurrent hits from other processes serialise on the row.
                let row = tx.query_one(
                    "INSERT INTO attempts (digest, failures, expires_at) VALUES ($1, 1, $2::BIGINT + $3::BIGINT) \
                     ON CONFLICT (digest) DO UPDATE SET \
                       failures = CASE WHEN attempts.expires_at <= $2 THEN 1 ELSE attempts.failures + 1 END, \
                       expires_at = CASE WHEN attempts.expires_at <= $2 THEN $2::BIGINT + $3::BIGINT ELSE attempts.expires_at END \
                     RETURNING failures, expires_at",
                    &[key, &now, window_ms],
                )?;
                out.push(AttemptCount { key: key.clone(), failures: row.get(0), expires_at: row.get(1) });
            }
            Ok(out)
        })
    }

    fn release_attempts(&self, release: &[String], clear: &[String]) -> Result<()> {
        self.tx(|tx| {
            tx.execute("UPDATE attempts SET failures = failures - 1 WHERE digest = ANY($1) AND failures > 0", &[&release])?;
            tx.execute("DELETE FROM attempts WHERE digest = ANY($1)", &[&clear])?;
            Ok(())
        })
    }

    fn purge_expired(&self, now: i64) -> Result<PurgeReport> {
        self.tx(|tx| {
            let tokens = tx.execute("DELETE FROM tokens WHERE expires_at <= $1", &[&now])?;
            let flows = tx.execute("DELETE FROM oauth_flows WHERE expires_at <= $1", &[&now])?
                + tx.execute("DELETE FROM webauthn_challenges WHERE expires_at <= $1", &[&now])?;
            let attempts = tx.execute("DELETE FROM attempts WHERE expires_at <= $1", &[&now])?;
            tx.execute("DELETE FROM decoys", &[])?;
            Ok(PurgeReport { tokens: tokens + flows, attempts })
        })
    }

    fn find_service(&self, user_id: &str, name: &str) -> Result<Option<String>> {
        if names_nothing(user_id) {
            return Ok(None);
        }
        Ok(self.conn()?.db().query_opt("SELECT data FROM services WHERE user_id = $1 AND name = $2", &[&user_id, &name])?.map(|r| r.get(0)))
    }

    fn swap_service(&self, user_id: &str, name: &str, expected: Option<&str>, new: Option<&str>, now: i64) -> Result<bool> {
        PgWrites { c: &mut self.conn()?.db() }.swap_service(user_id, name, expected, new, now)
    }

    fn find_linked_account(&self, provider: &str, id: &str) -> Result<Option<LinkedAccount>> {
        if names_nothing(provider) || names_nothing(id) {
            return Ok(None);
        }
        let row = self
            .conn()?
            .db()
            .query_opt(&format!("SELECT {LINKED_ACCOUNT_COLUMNS} FROM linked_accounts WHERE provider = $1 AND subject = $2"), &[&provider, &id])?;
        Ok(row.as_ref().map(linked_account_from_row))
    }

    fn list_linked_accounts(&self, user_id: &str) -> Result<Vec<LinkedAccount>> {
        if names_nothing(user_id) {
            return Ok(Vec::new());
        }
        let rows = self.conn()?.db().query(
            &format!("SELECT {LINKED_ACCOUNT_COLUMNS} FROM linked_accounts WHERE user_id = $1 ORDER BY provider COLLATE \"C\""),
            &[&user_id],
        )?;
        Ok(rows.iter().map(linked_account_from_row).collect())
    }

    fn unlink_account(&self, user_id: &str, provider: &str) -> Result<Unlinked> {
        if names_nothing(user_id) || names_nothing(provider) {
            return Ok(Unlinked::NotLinked);
        }
        self.tx(|tx| {
            // The user's row lock orders concurrent unlinks: the second sees the first's delete.
            lock_user(tx, user_id)?;
            let removed = tx.execute(
                "DELETE FROM linked_accounts WHERE user_id = $1 AND provider = $2 AND \
                 (EXISTS (SELECT 1 FROM passwords WHERE user_id = $1) OR EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1) \
                  OR (SELECT COUNT(*) FROM linked_accounts WHERE user_id = $1) > 1)",
                &[&user_id, &provider],
            )?;
            if removed == 1 {
                return Ok(Unlinked::Removed);
            }
            let linked = tx.query_opt("SELECT 1 FROM linked_accounts WHERE user_id = $1 AND provider = $2", &[&user_id, &provider])?.is_some();
            Ok(if linked { Unlinked::LastLoginMethod } else { Unlinked::NotLinked })
        })
    }

    fn insert_oauth_flow(&self, f: &OAuthFlow) -> Result<()> {
        let keep = f.client.as_ref().map_or(MAX_PENDING_FLOWS_WITHOUT_ADDRESS, |_| MAX_PENDING_FLOWS_PER_CLIENT) - 1;
        self.tx(|tx| {
            tx.execute("DELETE FROM oauth_flows WHERE expires_at <= $1", &[&f.created_at])?;
            tx.execute(
                "DELETE FROM oauth_flows WHERE digest IN (SELECT digest FROM oauth_flows WHERE client IS NOT DISTINCT FROM $1 \
                 ORDER BY seq DESC OFFSET $2)",
                &[&f.client, &keep],
            )?;
            tx.execute(
                "INSERT INTO oauth_flows (digest, provider, verifier, nonce_digest, redirect_uri, expires_at, created_at, client) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&f.digest, &f.provider, &f.verifier, &f.nonce_digest, &f.redirect_uri, &f.expires_at, &f.created_at, &f.client],
            )?;
            Ok(())
        })
    }

    fn take_oauth_flow(&self, digest: &str) -> Result<Option<OAuthFlow>> {
        if names_nothing(digest) {
            return Ok(None);
        }
        let row = self.conn()?.db().query_opt(
            "DELETE FROM oauth_flows WHERE digest = $1 \
             RETURNING digest, provider, verifier, nonce_digest, redirect_uri, expires_at, created_at, client",
            &[&digest],
        )?;
        Ok(row.map(|r| OAuthFlow {
            digest: r.get(0),
            provider: r.get(1),
            verifier: r.get(2),
            nonce_digest: r.get(3),
            redirect_uri: r.get(4),
            expires_at: r.get(5),
            created_at: r.get(6),
            client: r.get(7),
        }))
    }

    fn insert_webauthn_challenge(&self, ch: &WebAuthnChallenge) -> Result<()> {
        let keep = ch.client.as_ref().map_or(MAX_PENDING_FLOWS_WITHOUT_ADDRESS, |_| MAX_PENDING_FLOWS_PER_CLIENT) - 1;
        self.tx(|tx| {
            tx.execute("DELETE FROM webauthn_challenges WHERE expires_at <= $1", &[&ch.created_at])?;
            tx.execute(
                "DELETE FROM webauthn_challenges WHERE digest IN (SELECT digest FROM webauthn_challenges WHERE client IS NOT DISTINCT FROM $1 \
                 ORDER BY seq DESC OFFSET $2)",
                &[&ch.client, &keep],
            )?;
            tx.execute(
                "INSERT INTO webauthn_challenges (digest, ceremony, user_id, state, expires_at, created_at, client) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&ch.digest, &ch.ceremony, &ch.user_id, &ch.state, &ch.expires_at, &ch.created_at, &ch.client],
            )?;
            Ok(())
        })
    }

    fn take_webauthn_challenge(&self, digest: &str, ceremony: &str, user_id: Option<&str>) -> Result<Option<WebAuthnChallenge>> {
        if names_nothing(digest) || user_id.is_some_and(names_nothing) {
            return Ok(None);
        }
        let row = self.conn()?.db().query_opt(
            "DELETE FROM webauthn_challenges WHERE digest = $1 AND ceremony = $2 AND ($3::text IS NULL OR user_id = $3) \
             RETURNING digest, ceremony, user_id, state, expires_at, created_at, client",
            &[&digest, &ceremony, &user_id],
        )?;
        Ok(row.map(|r| WebAuthnChallenge {
            digest: r.get(0),
            ceremony: r.get(1),
            user_id: r.get(2),
            state: r.get(3),
            expires_at: r.get(4),
            created_at: r.get(5),
            client: r.get(6),
        }))
    }

    fn find_passkey(&self, id: &str) -> Result<Option<PasskeyRecord>> {
        if names_nothing(id) {
            return Ok(None);
        }
        let row = self.conn()?.db().query_opt(&format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE id = $1"), &[&id])?;
        Ok(row.as_ref().map(passkey_from_row))
    }

    fn list_passkeys(&self, user_id: &str) -> Result<Vec<PasskeyRecord>> {
        if names_nothing(user_id) {
            return Ok(Vec::new());
        }
        let rows = self
            .conn()?
            .db()
            .query(&format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id COLLATE \"C\""), &[&user_id])?;
        Ok(rows.iter().map(passkey_from_row).collect())
    }

    fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> Result<bool> {
        if names_nothing(user_id) || names_nothing(id) || names_nothing(name) {
            return Ok(false);
        }
        Ok(self.conn()?.db().execute("UPDATE passkeys SET name = $3 WHERE user_id = $1 AND id = $2", &[&user_id, &id, &name])? == 1)
    }

    fn remove_passkey(&self, user_id: &str, id: &str) -> Result<Unlinked> {
        if names_nothing(user_id) || names_nothing(id) {
            return Ok(Unlinked::NotLinked);
        }
        self.tx(|tx| {
            // The user's row lock orders concurrent removals: the second sees the first's delete.
            lock_user(tx, user_id)?;
            let removed = tx.execute(
                "DELETE FROM passkeys WHERE user_id = $1 AND id = $2 AND \
                 (EXISTS (SELECT 1 FROM passwords WHERE user_id = $1) OR EXISTS (SELECT 1 FROM linked_accounts WHERE user_id = $1) \
                  OR (SELECT COUNT(*) FROM passkeys WHERE user_id = $1) > 1)",
                &[&user_id, &id],
            )?;
            if removed == 1 {
                return Ok(Unlinked::Removed);
            }
            let held = tx.query_opt("SELECT 1 FROM passkeys WHERE user_id = $1 AND id = $2", &[&user_id, &id])?.is_some();
            Ok(if held { Unlinked::LastLoginMethod } else { Unlinked::NotLinked })
        })
    }

    fn list_sealed(&self, column: SealedColumn, after: (&str, &str), limit: u32) -> Result<Vec<SealedValue>> {
        let limit = i64::from(limit);
        let mut conn = self.conn()?;
        let mut c = conn.db();
        let rows = match column {
            SealedColumn::LinkedTokens => c.query(
                "SELECT provider, subject, tokens FROM linked_accounts WHERE tokens IS NOT NULL \
                 AND (provider COLLATE \"C\", subject COLLATE \"C\") > ($1, $2) \
                 ORDER BY provider COLLATE \"C\", subject COLLATE \"C\" LIMIT $3",
                &[&after.0, &after.1, &limit],
            )?,
            SealedColumn::FlowVerifier => c.query(
                "SELECT digest, '', verifier FROM oauth_flows WHERE digest COLLATE \"C\" > $1 ORDER BY digest COLLATE \"C\" LIMIT $2",
                &[&after.0, &limit],
            )?,
            SealedColumn::WebAuthnState => c.query(
                "SELECT digest, '', state FROM webauthn_challenges WHERE digest COLLATE \"C\" > $1 ORDER BY digest COLLATE \"C\" LIMIT $2",
                &[&after.0, &limit],
            )?,
        };
        Ok(rows.iter().map(|r| SealedValue { key: r.get(0), sub_key: r.get(1), sealed: r.get(2) }).collect())
    }

    fn swap_sealed(&self, column: SealedColumn, key: (&str, &str), expected: &str, new: &str) -> Result<bool> {
        let mut conn = self.conn()?;
        let mut c = conn.db();
        let changed = match column {
            SealedColumn::LinkedTokens => c.execute(
                "UPDATE linked_accounts SET tokens = $4 WHERE provider = $1 AND subject = $2 AND tokens = $3",
                &[&key.0, &key.1, &expected, &new],
            )?,
            SealedColumn::FlowVerifier => {
                c.execute("UPDATE oauth_flows SET verifier = $3 WHERE digest = $1 AND verifier = $2", &[&key.0, &expected, &new])?
            }
            SealedColumn::WebAuthnState => {
                c.execute("UPDATE webauthn_challenges SET state = $3 WHERE digest = $1 AND state = $2", &[&key.0, &expected, &new])?
            }
        };
        Ok(changed == 1)
    }

    fn list_services(&self, name: &str, after: &str, limit: u32) -> Result<Vec<(String, String)>> {
        let rows = self.conn()?.db().query(
            "SELECT user_id, data FROM services WHERE name = $1 AND user_id COLLATE \"C\" > $2 ORDER BY user_id COLLATE \"C\" LIMIT $3",
            &[&name, &after, &i64::from(limit)],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
