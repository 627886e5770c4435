//! The context every service receives: configuration, store, clock, hasher, token keys, the
//! two-factor sealing key, host callbacks, event bus, mailer and error texts.
//!
//! Services (sessions, password, links, two-factor, magic link) hold a `&Context` and depend only
//! on it and on the services below them; [`crate::AccountsServer`] owns one and wires the services
//! (docs/architecture.md).

use crate::callbacks::{Callbacks, EventBus};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::hashing::Hasher;
use crate::mail::{MailKind, Mailer};
use crate::messages::Messages;
use crate::oidc;
use crate::secret::{Sealer, SealingKey};
use crate::session_cache::SessionCache;
use crate::store::Store;
use crate::tokens::TokenManager;
use crate::types::User;
use serde_json::Value;
use std::sync::Arc;

/// What the services share; built once per server.
pub(crate) struct Context {
    config: Config,
    store: Box<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: Hasher,
    tokens: TokenManager,
    sealer: Sealer,
    callbacks: Callbacks,
    events: EventBus,
    mailer: Mailer,
    messages: Messages,
    oidc: oidc::Client,
    session_cache: SessionCache,
}

impl Context {
    /// Builds the context of a validated `config` over an opened `store`.
    ///
    /// # Errors
    /// `InvalidConfig` (token keys, hashing parameters, `errors` texts).
    pub(crate) fn new(config: Config, callbacks: Callbacks, clock: Arc<dyn Clock>, store: Box<dyn Store>) -> Result<Context> {
        let tokens = TokenManager::new(&config)?;
        let pw = &config.services.password;
        let hasher = Hasher::new(pw.hashing, pw.max_concurrent_hashes)?;
        hasher.set_legacy_cost(store.max_bcrypt_cost()?);
        let sealer = sealer(&config);
        let messages = config.messages()?;
        let mailer = Mailer::new(&config, &callbacks);
        Ok(Context {
            config,
            store,
            clock,
            hasher,
            tokens,
            sealer,
            callbacks,
            events: EventBus::default(),
            mailer,
            messages,
            oidc: oidc::Client::default(),
            session_cache: SessionCache::default(),
        })
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The OpenID Connect client, with its caches of provider documents and keys.
    pub(crate) fn oidc(&self) -> &oidc::Client {
        &self.oidc
    }

    /// Milliseconds since the epoch, from the injected clock.
    pub(crate) fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Resumed sessions, valid while nothing was committed (session_cache.rs).
    pub(crate) fn session_cache(&self) -> &SessionCache {
        &self.session_cache
    }

    pub(crate) fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    pub(crate) fn tokens(&self) -> &TokenManager {
        &self.tokens
    }

    /// Seals two-factor secrets at rest.
    pub(crate) fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// Replaces the JWT key ring (docs/tokens.md, "Key rotation").
    ///
    /// # Errors
    /// `InvalidConfig` for a ring that does not validate.
    pub(crate) fn set_keys(&self, keys: &crate::config::TokenKeys) -> Result<()> {
        self.tokens.set_keys(keys)
    }

    pub(crate) fn callbacks(&self) -> &Callbacks {
        &self.callbacks
    }

    pub(crate) fn events(&self) -> &EventBus {
        &self.events
    }

    /// A public method's result with the `errors` options' texts applied.
    pub(crate) fn localize<T>(&self, result: Result<T>) -> Result<T> {
        result.map_err(|e| self.messages.apply(e))
    }

    /// Applies `userObjectSanitizer` to a user about to leave the library.
    ///
    /// # Errors
    /// The sanitizer's error.
    pub(crate) fn sanitize(&self, user: User) -> Result<User> {
        match &self.callbacks.user_object_sanitizer {
            Some(f) => f(user),
            None => Ok(user),
        }
    }

    /// The sanitized user as event payloads show it, computed only when one of `watched` has a listener.
    ///
    /// # Errors
    /// The sanitizer's error.
    pub(crate) fn shown_user(&self, user: &User, watched: &[&str]) -> Result<Option<Value>> {
        if !watched.iter().any(|e| self.events.has(e)) {
            return Ok(None);
        }
        Ok(Some(serde_json::to_value(self.sanitize(user.clone())?)?))
    }

    /// The stored (unsanitized) user with this id.
    ///
    /// # Errors
    /// `UserNotFound`, `StorageError`.
    pub(crate) fn user_or_not_found(&self, id: &str) -> Result<User> {
        self.store.find_user_by_id(id)?.ok_or_else(|| AccountsError::code(ErrorCode::UserNotFound))
    }

    /// Prepares and delivers one mail to `user` (who `prepareMail` sees sanitized).
    ///
    /// # Errors
    /// The sanitizer's, `prepareMail`'s or `sendMail`'s error.
    pub(crate) fn send_mail(&self, kind: MailKind, user: &User, address: &str, token: Option<&str>) -> Result<()> {
        self.mailer.send(kind, || Ok(serde_json::to_value(self.sanitize(user.clone())?)?), address, token)
    }

    /// The mailer, for work that must look like sending (a decoy for an unknown address).
    pub(crate) fn mailer(&self) -> &Mailer {
        &self.mailer
    }
}

/// The sealing keys of `config`: `sealingSecret` seals when given — its own secret, so the JWT
/// keys can change without turning two-factor off —, else the key derived from `tokenSecret` (as
/// before `sealingSecret` existed). Earlier `previousSealingSecrets`, and the `tokenSecret`
/// derivation once a `sealingSecret` replaced it, still open what they sealed.
fn sealer(config: &Config) -> Sealer {
    const PURPOSE: &str = "two-factor secret";
    let from_token_secret = config.token_secret.as_ref().map(|t| SealingKey::derive(t.secret_bytes(), PURPOSE));
    match &config.sealing_secret {
        Some(current) => {
            let earlier = config.previous_sealing_secrets.iter().map(|s| SealingKey::derive(s.as_bytes(), PURPOSE)).chain(from_token_secret);
            Sealer::new(SealingKey::derive(current.as_bytes(), PURPOSE), earlier.collect())
        }
        // validate() refuses a config without either secret; a ring always comes with a sealingSecret.
        None => Sealer::new(from_token_secret.unwrap_or_else(|| SealingKey::derive(&[], PURPOSE)), Vec::new()),
    }
}

/// Contexts for the services' unit tests: an in-memory database, fast hashing, a manual clock.
#[cfg(test)]
pub(crate) mod testing {
    use super::Context;
    use crate::callbacks::Callbacks;
    use crate::clock::ManualClock;
    use crate::config::Config;
    use crate::store::NewUser;
    use crate::types::{EmailRecord, User};
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};

    include!("../tests/common/merge.rs");

    /// The clock's start: 2027-01-15.
    pub(crate) const START_MS: i64 = 1_800_000_000_000;

    /// A context over a fresh in-memory database with `extra` merged into a minimal config.
    pub(crate) fn context(extra: Value, callbacks: Callbacks) -> (Context, Arc<ManualClock>) {
        let mut config = json!({
            "db": "sqlite::memory:",
            "tokenSecret": "unit-test-secret-0123456789abcdef-0123",
            "services": {"password": {"hashing": {"memoryKib": 256, "iterations": 1, "parallelism": 1}}}
        });
        merge(&mut config, extra);
        let config = Config::from_value(config).expect("test config");
        let clock = Arc::new(ManualClock::new(START_MS));
        let store = crate::store::open(&config.db, config.db_pool_size).expect("in-memory store");
        let ctx = Context::new(config, callbacks, clock.clone(), store).expect("test context");
        (ctx, clock)
    }

    /// A context with the defaults.
    pub(crate) fn plain() -> Context {
        context(json!({}), Callbacks::default()).0
    }

    /// A context (with `extra` config) whose mails land in the returned list.
    pub(crate) fn mailing(extra: Value) -> (Context, Arc<Mutex<Vec<Value>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let sink = sent.clone();
        let send_mail = Arc::new(move |mail: &Value| {
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(mail.clone());
            Ok(())
        });
        (context(extra, Callbacks { send_mail: Some(send_mail), ..Default::default() }).0, sent)
    }

    /// Stores a user `id` (with `username` and unverified `emails`, no password) and reads it back.
    pub(crate) fn stored_user(ctx: &Context, id: &str, username: Option<&str>, emails: &[&str]) -> User {
        let now = ctx.now();
        let user = NewUser {
            id: id.into(),
            username_key: None,
            username: username.map(String::from),
            emails: emails.iter().map(|a| EmailRecord { address: a.to_string(), verified: false }).collect(),
            profile: Default::default(),
            password_hash: None,
            services: Vec::new(),
            deactivated: false,
            created_at: now,
            updated_at: now,
        };
        ctx.store().create_user(&user).expect("store the test user");
        ctx.user_or_not_found(id).expect("read the test user back")
    }
}
