//! `AccountsServer`: the facade of the accounts-js server methods. It owns the shared
//! `Context` and the registry of authentication services, and hands each call to the service
//! that implements it (docs/architecture.md). The login orchestration — which service, the second
//! factor, accounts-js's hooks, the session written with what the service used up — lives here
//! because custom services receive the server itself, as in accounts-js.

use crate::auth::{Authenticated, Completion};
use crate::callbacks::{Callbacks, ListenerFn, ListenerId, events};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::import::{self, ImportReport};
use crate::magic_link::{self, MagicLink};
use crate::oauth::{self, OAuth};
use crate::password::{self, Password};
use crate::sessions::{Sessions, connection_json};
use crate::store::{self, Store};
use crate::two_factor::TwoFactor;
use crate::types::{ConnectionInfo, ImpersonationResult, ImpersonationTarget, LoginResult, PurgeReport, RevokeAllOptions, Session, User};
use crate::webauthn::{self, WebAuthn};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A way to find out who a caller is from `params` (e.g. OAuth, API keys): accounts-js's
/// `AuthenticationService`. `password` and `magicLink` are built in; register more with
/// [`AccountsServer::register_service`].
///
/// Whatever the service, a login that ends in a session requires the user's second factor when
/// they have one: unless [`AuthService::checks_second_factor`] says the service did it itself, the
/// server checks `params.code` after `authenticate` (docs/security.md, "No second-factor bypass").
pub trait AuthService: Send + Sync {
    /// Returns the authenticated user, `None` when nobody matches (reported as `AuthenticationFailed`),
    /// or a coded error. `infos` is the caller's connection (its `ip` feeds the attempt limits).
    ///
    /// # Errors
    /// Whatever the service wants the caller to see; it is passed through unchanged.
    fn authenticate(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<User>>;

    /// As [`AuthService::authenticate`], but a service whose login uses something up (a one-time
    /// link, a code) leaves that to the returned [`Authenticated::complete`], which the server runs
    /// in the transaction that creates the session: the login happens wholly or not at all
    /// (docs/reliability.md, "Atomic flows"). The default completes nothing.
    ///
    /// # Errors
    /// As [`AuthService::authenticate`].
    fn authenticate_pending(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<Authenticated>> {
        Ok(self.authenticate(server, params, infos)?.map(|user| Authenticated { user, complete: None }))
    }

    /// Whether `authenticate` already checked the second factor (only the built-in services do).
    fn checks_second_factor(&self) -> bool {
        false
    }

    /// The login parameter that carries the second-factor code (accounts-js's `code`; a service
    /// whose own parameters use that name picks another).
    fn second_factor_field(&self) -> &'static str {
        "code"
    }
}

/// The built-in `password` service: `params` as accepted by [`Password::authenticate`].
struct PasswordService;

impl AuthService for PasswordService {
    fn authenticate(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<User>> {
        server.password().authenticate_unsanitized(params, infos).map(Some)
    }

    fn authenticate_pending(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<Authenticated>> {
        server.password().authenticate_pending(params, infos).map(Some)
    }

    fn checks_second_factor(&self) -> bool {
        true
    }
}

/// The built-in `magicLink` service: `params` is `{token, code?}`.
struct MagicLinkService;

impl AuthService for MagicLinkService {
    fn authenticate(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<User>> {
        let found = server.magic_link().authenticate_pending(params, infos)?;
        if let Some(complete) = &found.complete {
            store::transaction(server.store(), |w| complete(w))?;
        }
        Ok(Some(found.user))
    }

    fn authenticate_pending(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<Authenticated>> {
        server.magic_link().authenticate_pending(params, infos).map(Some)
    }

    fn checks_second_factor(&self) -> bool {
        true
    }
}

/// The built-in `oauth` service: `params` is `{provider, ...}`, the rest for the provider (docs/oauth.md).
struct OAuthService;

impl AuthService for OAuthService {
    fn authenticate(&self, server: &AccountsServer, params: &Value, _infos: &ConnectionInfo) -> Result<Option<User>> {
        let found = server.oauth().authenticate_pending(params)?;
        if let Some(complete) = &found.complete {
            store::transaction(server.store(), |w| complete(w))?;
        }
        Ok(Some(found.user))
    }

    fn authenticate_pending(&self, server: &AccountsServer, params: &Value, _infos: &ConnectionInfo) -> Result<Option<Authenticated>> {
        server.oauth().authenticate_pending(params).map(Some)
    }

    /// `code` is the provider's authorization code.
    fn second_factor_field(&self) -> &'static str {
        "twoFactorCode"
    }
}

/// The built-in `webauthn` service (when `services.webauthn` is configured): `params` is
/// `{response}`, a passkey assertion (docs/passkeys.md). It checks the second factor itself: a
/// passkey with user verification is both factors; without, a user with two-factor on gives `code`.
struct WebAuthnService;

impl AuthService for WebAuthnService {
    fn authenticate(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<User>> {
        let found = server.webauthn().authenticate_pending(params, infos)?;
        if let Some(complete) = &found.complete {
            store::transaction(server.store(), |w| complete(w))?;
        }
        Ok(Some(found.user))
    }

    fn authenticate_pending(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<Authenticated>> {
        server.webauthn().authenticate_pending(params, infos).map(Some)
    }

    fn checks_second_factor(&self) -> bool {
        true
    }
}

/// Threads per concurrent hash, while the login timing floor is on, for hosts that run `Hashing`
/// calls on a pool of their own (`AccountsServer::hashing_threads`). With bcrypt hashes stored a
/// login takes about as long as a bcrypt-10 verification (~60 ms), of which argon2id is ~15-20 ms
/// of CPU: a thread hashes a quarter of the time.
const HASHING_THREADS_PER_HASH: usize = 4;

/// The server. `Send + Sync`: share it between threads with an `Arc`.
pub struct AccountsServer {
    ctx: Context,
    services: RwLock<HashMap<String, Arc<dyn AuthService>>>,
}

/// accounts-js's `hooksInfo` of a login or authentication: `{service, connection, params, user?}`,
/// with the password taken out of `params`.
fn hooks_info(service: &str, params: &Value, infos: &ConnectionInfo, user: Option<&Value>) -> Value {
    let mut params = params.clone();
    if let Some(p) = params.as_object_mut() {
        p.remove("password");
    }
    let mut info = json!({ "service": service, "connection": connection_json(infos), "params": params });
    if let Some(u) = user {
        info["user"] = u.clone();
    }
    info
}

impl AccountsServer {
    /// Opens the database named by `config.db` (running migrations) and builds the server.
    ///
    /// # Errors
    /// `InvalidConfig` for a config that does not validate, `StorageError` when the database cannot be opened.
    pub fn new(config: Config, callbacks: Callbacks) -> Result<AccountsServer> {
        AccountsServer::with_clock(config, callbacks, Arc::new(SystemClock))
    }

    /// As [`AccountsServer::new`], with a JSON config.
    ///
    /// # Errors
    /// As [`Config::from_json`] and [`AccountsServer::new`].
    pub fn from_json(config_json: &str, callbacks: Callbacks) -> Result<AccountsServer> {
        AccountsServer::new(Config::from_json(config_json)?, callbacks)
    }

    /// As [`AccountsServer::new`], with an injected clock (tests of expiry).
    ///
    /// # Errors
    /// As [`AccountsServer::new`].
    pub fn with_clock(config: Config, callbacks: Callbacks, clock: Arc<dyn Clock>) -> Result<AccountsServer> {
        config.validate()?;
        let store = store::open(&config.db, config.db_pool_size)?;
        AccountsServer::build(config, callbacks, clock, store)
    }

    /// As [`AccountsServer::with_clock`], with every store call going through a
    /// [`store::faults::FaultyStore`] that fails where `plan` says (atomicity tests only).
    ///
    /// # Errors
    /// As [`AccountsServer::new`].
    #[cfg(feature = "fault-injection")]
    pub fn with_faults(config: Config, callbacks: Callbacks, clock: Arc<dyn Clock>, plan: Arc<store::faults::FaultPlan>) -> Result<AccountsServer> {
        config.validate()?;
        let store = store::open(&config.db, config.db_pool_size)?;
        AccountsServer::build(config, callbacks, clock, Box::new(store::faults::FaultyStore::new(store, plan)))
    }

    fn build(config: Config, callbacks: Callbacks, clock: Arc<dyn Clock>, store: Box<dyn Store>) -> Result<AccountsServer> {
        let mut services: HashMap<String, Arc<dyn AuthService>> = HashMap::new();
        services.insert(password::SERVICE_NAME.into(), Arc::new(PasswordService));
        services.insert(magic_link::SERVICE_NAME.into(), Arc::new(MagicLinkService));
        // As accounts-js lists only the services it was given, `oauth` exists once a provider is configured.
        if !config.services.oauth.providers.is_empty() {
            services.insert(oauth::SERVICE_NAME.into(), Arc::new(OAuthService));
        }
        if config.services.webauthn.is_some() {
            services.insert(webauthn::SERVICE_NAME.into(), Arc::new(WebAuthnService));
        }
        Ok(AccountsServer { ctx: Context::new(config, callbacks, clock, store)?, services: RwLock::new(services) })
    }

    /// The JWKS document of the token signing key (`{keys: [...]}`; empty for an HMAC secret, which
    /// is never published), for other services to verify tokens with `verify_access_token`.
    pub fn jwks(&self) -> Value {
        self.ctx.tokens().jwks()
    }

    /// Replaces the JWT key ring without a restart (docs/tokens.md, "Key rotation"): `keys` is a
    /// `tokenKeys` object. Tokens are signed with its `current` key from now on; tokens of keys it
    /// still holds keep verifying, tokens of keys it dropped stop. `options()` keeps showing the
    /// keys given at construction.
    ///
    /// # Errors
    /// `InvalidConfig` for a ring that does not parse or validate (the old ring stays).
    pub fn set_keys(&self, keys: &Value) -> Result<()> {
        let keys: crate::config::TokenKeys =
            serde_json::from_value(keys.clone()).map_err(|e| AccountsError::new(ErrorCode::InvalidConfig, format!("tokenKeys: {e}")))?;
        self.ctx.set_keys(&keys)
    }

    /// Seals every value in the store still under an earlier sealing key with the current one
    /// (after rotating `sealingSecret`): two-factor secrets ([`TwoFactor::reseal_all`]), OAuth
    /// provider tokens and pending flows' PKCE verifiers (`store::SEALED_COLUMNS` lists them all);
    /// returns how many.
    ///
    /// # Errors
    /// `InternalError` for a secret no configured sealing key opens, `StorageError`.
    pub fn reseal_all(&self) -> Result<u64> {
        Ok(self.two_factor().reseal_all()? + self.oauth().reseal_all()?)
    }

    /// The effective options (the secret serialises as `[redacted]`).
    pub fn options(&self) -> &Config {
        self.ctx.config()
    }

    /// The store (the workspace's tests reach it through `host::store_of`).
    pub(crate) fn store(&self) -> &dyn Store {
        self.ctx.store()
    }

    /// The callbacks given at construction.
    pub fn callbacks(&self) -> &Callbacks {
        self.ctx.callbacks()
    }

    /// The password service.
    pub fn password(&self) -> Password<'_> {
        Password::new(&self.ctx)
    }

    fn two_factor(&self) -> TwoFactor<'_> {
        TwoFactor::new(&self.ctx)
    }

    /// The magic link service.
    pub fn magic_link(&self) -> MagicLink<'_> {
        MagicLink::new(&self.ctx)
    }

    /// The OAuth service: links between provider identities and users (docs/oauth.md).
    pub fn oauth(&self) -> OAuth<'_> {
        OAuth::new(&self.ctx)
    }

    /// The passkey service (docs/passkeys.md). Its methods fail with `ServiceNotFound` when
    /// `services.webauthn` is not configured.
    pub fn webauthn(&self) -> WebAuthn<'_> {
        WebAuthn::new(&self.ctx)
    }

    fn sessions(&self) -> Sessions<'_> {
        Sessions::new(&self.ctx)
    }

    /// Registers (or replaces) an authentication service under `name`.
    pub fn register_service(&self, name: &str, service: Arc<dyn AuthService>) {
        self.services.write().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), service);
    }

    /// Names of the registered services (accounts-js `getServices()` keys), sorted.
    pub fn service_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.services.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        v.sort();
        v
    }

    fn service(&self, name: &str) -> Result<Arc<dyn AuthService>> {
        self.services
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| AccountsError::new(ErrorCode::ServiceNotFound, format!("No service with the name {name} was registered.")))
    }

    /// Adds an event listener (accounts-js `on`); see [`events`] for the names.
    pub fn on(&self, event: &str, listener: Arc<ListenerFn>) -> ListenerId {
        self.ctx.events().on(event, listener)
    }

    /// Removes a listener; returns whether it was registered.
    pub fn off(&self, id: ListenerId) -> bool {
        self.ctx.events().off(id)
    }

    /// Names of the callbacks and listeners a `resumeSession` may run right now (a host that cannot
    /// run callbacks on the calling thread refuses its synchronous resume while this is not empty).
    pub fn resume_session_hooks(&self) -> Vec<&'static str> {
        let callbacks = self.ctx.callbacks();
        let mut hooks = Vec::new();
        if callbacks.resume_session_validator.is_some() {
            hooks.push("resumeSessionValidator");
        }
        if callbacks.user_object_sanitizer.is_some() {
            hooks.push("userObjectSanitizer");
        }
        for event in [events::RESUME_SESSION_SUCCESS, events::RESUME_SESSION_ERROR] {
            if self.ctx.events().has(event) {
                hooks.push(event);
            }
        }
        hooks
    }

    /// How many password hashes this server runs at once (`maxConcurrentHashes`, or the number of
    /// CPUs when it is 0): a binding with a pool for the [hashing](crate::operations::Class::Hashing)
    /// operations gives it this many threads, so no thread waits for a hashing permit.
    pub fn max_concurrent_hashes(&self) -> usize {
        self.ctx.hasher().max_concurrent()
    }

    /// How many threads a host with a pool of its own should give the calls of class `Hashing`
    /// (core/src/operations.rs) now: one per [`Self::max_concurrent_hashes`], four while the login
    /// timing floor is on (bcrypt hashes stored: docs/security.md, "Timing").
    /// More threads than hashes because such a call also waits holding no hashing permit — the
    /// floor's wait, about as long as the hash again; a host callback — and a thread waiting there
    /// must not keep the next login from hashing. Not more than one otherwise: on 2 cores, a third
    /// thread for two hashes cost 20-25 % of login throughput, four per hash 10-15 % (argon2 is
    /// memory-hard; more runnable threads preempt it). The permits, not the threads, bound the hashing memory and CPU. May grow
    /// (an import brings bcrypt hashes): a host asks again before it queues a hashing call.
    pub fn hashing_threads(&self) -> usize {
        let per_hash = if self.ctx.hasher().floor_active() { HASHING_THREADS_PER_HASH } else { 1 };
        self.max_concurrent_hashes().saturating_mul(per_hash)
    }

    /// Whether upkeep is due after calls ran inline (a SQLite WAL checkpoint: inline writes never
    /// checkpoint). A host that runs calls inline asks after them and, when true, runs
    /// [`AccountsServer::run_maintenance`] on its pool, without waiting for it (docs/architecture.md,
    /// "Inline calls"). It never waits nor opens anything: false for a store a forked child has
    /// not reopened yet (docs/reliability.md, "Fork").
    pub fn maintenance_due(&self) -> bool {
        self.store().maintenance_due().unwrap_or(false)
    }

    /// Runs due upkeep (a PASSIVE WAL checkpoint on a connection of its own: no call waits for it).
    /// Never inside [`crate::inline::without_waiting`].
    ///
    /// # Errors
    /// `StorageError`.
    pub fn run_maintenance(&self) -> Result<()> {
        self.store().run_maintenance()
    }

    /// Waits, where waiting is fine, until a call refused inside [`crate::inline::without_waiting`]
    /// would probably find the store free (SQLite: the writer released, no group commit open, an
    /// overdue WAL checkpoint run), so the host can try it inline once more instead of running it
    /// on its pool. Why (docs/architecture.md, "Inline calls"): a refused call run on the pool holds
    /// the writer there, which refuses the next inline calls, which go to the pool too — under 64
    /// calls in flight most writes ended up on the pool, a thread hop and a group-commit wait each.
    /// Bounded; returning promises nothing (the retry may be refused again: then the pool).
    ///
    /// # Errors
    /// `StorageError`.
    pub fn wait_for_inline(&self) -> Result<()> {
        self.store().wait_for_inline()
    }

    /// Whether the host may run `operation` (an accounts-js method name) on a thread that cannot
    /// wait, inside [`crate::inline::without_waiting`]: one of [`crate::input::INLINE_OPERATIONS`],
    /// on an embedded SQLite database, with no host callback or listener the operation would run
    /// (docs/architecture.md, "Inline calls"). Such an operation is abandoned only while it has changed
    /// nothing: reads change nothing; `refreshTokens` makes one write, last; `logout` one write, then
    /// (when it matched nothing) a read.
    pub fn may_run_inline(&self, operation: &str) -> bool {
        if !self.ctx.config().db.starts_with("sqlite:") || !crate::input::INLINE_OPERATIONS.contains(&operation) {
            return false;
        }
        let callbacks = self.ctx.callbacks();
        let listened = |names: &[&str]| names.iter().any(|e| self.ctx.events().has(e));
        match operation {
            "resumeSession" => self.resume_session_hooks().is_empty(),
            "findUserById" | "findUserByEmail" | "findUserByUsername" => callbacks.user_object_sanitizer.is_none(),
            "refreshTokens" => {
                callbacks.create_jwt_payload.is_none()
                    && callbacks.user_object_sanitizer.is_none()
                    && !listened(&[events::REFRESH_TOKENS_SUCCESS, events::REFRESH_TOKENS_ERROR, events::REFRESH_TOKEN_REUSED])
            }
            "logout" => !listened(&[events::LOGOUT_SUCCESS, events::LOGOUT_ERROR]),
            _ => true, // findSessionByAccessToken, listSessions: no hooks
        }
    }

    /// Authenticates with `service` and, on success, creates a session (accounts-js `loginWithService`).
    ///
    /// # Errors
    /// `ServiceNotFound`, the service's own errors (e.g. `InvalidCredentials`), `AuthenticationFailed`,
    /// `UserDeactivated`, or a `ValidateLogin` listener's error.
    pub fn login_with_service(&self, service: &str, params: &Value, infos: &ConnectionInfo) -> Result<LoginResult> {
        let watched = [events::VALIDATE_LOGIN, events::LOGIN_SUCCESS, events::LOGIN_ERROR];
        let events = self.ctx.events();
        self.authenticated(service, params, infos, &watched, events::LOGIN_ERROR, |user, shown, completions| {
            events.emit(events::VALIDATE_LOGIN, || hooks_info(service, params, infos, shown))?;
            let (record, result) = self.sessions().prepare(user, infos, None)?;
            // What the service used up (a link, a code) is written with the session, or neither is.
            store::transaction(self.store(), |w| {
                completions.iter().try_for_each(|complete| complete(w))?;
                w.create_session(&record)
            })?;
            events.emit(events::LOGIN_SUCCESS, || hooks_info(service, params, infos, shown))?;
            Ok(result)
        })
    }

    /// Checks credentials with `service` without creating a session (accounts-js `authenticateWithService`).
    ///
    /// # Errors
    /// As [`AccountsServer::login_with_service`], minus session creation.
    pub fn authenticate_with_service(&self, service: &str, params: &Value, infos: &ConnectionInfo) -> Result<bool> {
        let watched = [events::AUTHENTICATE_SUCCESS, events::AUTHENTICATE_ERROR];
        self.authenticated(service, params, infos, &watched, events::AUTHENTICATE_ERROR, |_, shown, completions| {
            if !completions.is_empty() {
                store::transaction(self.store(), |w| completions.iter().try_for_each(|complete| complete(w)))?;
            }
            self.ctx.events().emit(events::AUTHENTICATE_SUCCESS, || hooks_info(service, params, infos, shown))?;
            Ok(true)
        })
    }

    /// Authenticates with `service`, refuses a deactivated user, then runs `then` — under
    /// accounts-js's hooks: the events get its hooksInfo (`user` once a service named one, sanitized,
    /// built only when one of `watched` has a listener) and `fail_event` the error too.
    fn authenticated<T>(
        &self,
        service: &str,
        params: &Value,
        infos: &ConnectionInfo,
        watched: &[&str],
        fail_event: &str,
        then: impl FnOnce(&User, Option<&Value>, Vec<Completion>) -> Result<T>,
    ) -> Result<T> {
        let mut shown = None;
        let result = (|| {
            let (user, completions) = self.authenticate_user(service, params, infos)?;
            shown = self.ctx.shown_user(&user, watched)?;
            if user.deactivated {
                return Err(AccountsError::code(ErrorCode::UserDeactivated));
            }
            then(&user, shown.as_ref(), completions)
        })();
        if let Err(e) = &result {
            let _ = self.ctx.events().emit(fail_event, || {
                let mut info = hooks_info(service, params, infos, shown.as_ref());
                info["error"] = e.to_json();
                info
            });
        }
        self.ctx.localize(result)
    }

    /// Runs a service and, unless it checked it itself, the user's second factor: no service
    /// can log a user with two-factor on in without their code.
    /// Returns the user and the writes that complete the login (see [`AuthService::authenticate_pending`]).
    fn authenticate_user(&self, service: &str, params: &Value, infos: &ConnectionInfo) -> Result<(User, Vec<Completion>)> {
        let svc = self.service(service)?;
        let found = svc
            .authenticate_pending(self, params, infos)?
            .ok_or_else(|| AccountsError::new(ErrorCode::AuthenticationFailed, format!("Service {service} was not able to authenticate user")))?;
        let mut completions: Vec<Completion> = found.complete.into_iter().collect();
        let renamed;
        let factor_params = match svc.second_factor_field() {
            "code" => params,
            field => {
                renamed = serde_json::json!({ "code": params.get(field).cloned().unwrap_or(Value::Null) });
                &renamed
            }
        };
        if !svc.checks_second_factor()
            && let Some(used) = self.two_factor().plan_login(&found.user, factor_params, infos.ip.as_deref())?
        {
            completions.push(Box::new(move |w| used.apply(w)));
        }
        Ok((found.user, completions))
    }

    /// Creates a session for an existing user without credentials (accounts-js `loginWithUser`).
    ///
    /// # Errors
    /// `UserNotFound`, `UserDeactivated`.
    pub fn login_with_user(&self, user_id: &str, infos: &ConnectionInfo) -> Result<LoginResult> {
        let user = self.ctx.user_or_not_found(user_id)?;
        self.sessions().start(&user, infos, None)
    }

    /// Checks an access token, its session and its user; returns the user (accounts-js `resumeSession`).
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`, `InvalidSession`, `UserNotFound`,
    /// `UserDeactivated`, or the `resumeSessionValidator`'s error.
    pub fn resume_session(&self, access_token: &str) -> Result<User> {
        self.sessions().resume(access_token)
    }

    /// Rotates the refresh token of a session and signs a new access token (accounts-js `refreshTokens`).
    ///
    /// The access token may be expired but must be genuine and of the same session. Presenting a
    /// refresh token that was already rotated away, outside `refreshTokenReuseGraceSeconds`, revokes
    /// the session. Inside the grace window every presenter gets the same successor, so concurrent
    /// refreshes never fork the session.
    ///
    /// # Errors
    /// `InvalidTokens`, `TokenVerificationFailed`, `SessionNotFound`, `InvalidSession`, `UserNotFound`,
    /// `UserDeactivated`, `RefreshTokenReused`.
    pub fn refresh_tokens(&self, access_token: &str, refresh_token: &str, infos: &ConnectionInfo) -> Result<LoginResult> {
        self.sessions().refresh(access_token, refresh_token, infos)
    }

    /// Ends the session of an access token (accounts-js `logout`). A genuine token of an existing
    /// session ends it even once expired: logout always works (accounts-js refuses an expired token).
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`, `InvalidSession`.
    pub fn logout(&self, access_token: &str) -> Result<()> {
        self.sessions().logout(access_token)
    }

    /// The session id of a genuine access token, whatever its age (the web edge binds CSRF tokens to it).
    pub(crate) fn session_id_of(&self, access_token: &str) -> Option<String> {
        self.ctx.tokens().verify_access(access_token, self.ctx.now(), false).ok().map(|d| d.session_id)
    }

    /// Starts a session as another user, if `impersonationAuthorize` allows it (accounts-js `impersonate`).
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`, `InvalidSession`, `UserNotFound`,
    /// `ImpersonatedUserNotFound` (only when `ambiguousErrorMessages` is false; also when the target
    /// names no field), `UserDeactivated`.
    pub fn impersonate(&self, access_token: &str, target: &ImpersonationTarget, infos: &ConnectionInfo) -> Result<ImpersonationResult> {
        self.sessions().impersonate(access_token, target, infos)
    }

    /// The user with this id, or `None`.
    ///
    /// # Errors
    /// `StorageError`, or the sanitizer's error.
    pub fn find_user_by_id(&self, id: &str) -> Result<Option<User>> {
        self.store().find_user_by_id(id)?.map(|u| self.ctx.sanitize(u)).transpose()
    }

    /// The session an access token belongs to (valid or not).
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`.
    pub fn find_session_by_access_token(&self, access_token: &str) -> Result<Session> {
        self.sessions().find_by_access_token(access_token)
    }

    /// Deactivates a user: their next `resumeSession`, `refreshTokens` and login fail with `UserDeactivated`.
    ///
    /// # Errors
    /// `UserNotFound`.
    pub fn deactivate_user(&self, user_id: &str) -> Result<()> {
        self.store().set_deactivated(user_id, true, self.ctx.now())
    }

    /// Reactivates a user.
    ///
    /// # Errors
    /// `UserNotFound`.
    pub fn activate_user(&self, user_id: &str) -> Result<()> {
        self.store().set_deactivated(user_id, false, self.ctx.now())
    }

    /// Every session of a user (valid and revoked), newest first.
    ///
    /// # Errors
    /// `StorageError`.
    pub fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>> {
        self.store().list_sessions(user_id)
    }

    /// Revokes one session; returns whether it was still valid.
    ///
    /// # Errors
    /// `SessionNotFound`.
    pub fn revoke_session(&self, session_id: &str) -> Result<bool> {
        self.sessions().revoke(session_id)
    }

    /// Revokes every valid session of a user except `options.except`, and every session in which
    /// the user impersonates someone; returns how many.
    ///
    /// # Errors
    /// `StorageError`.
    pub fn revoke_all_sessions(&self, user_id: &str, options: &RevokeAllOptions) -> Result<u64> {
        self.store().invalidate_all_sessions(user_id, &options.except, self.ctx.now())
    }

    /// Deletes expired link tokens and attempt counters (they are also purged as new ones are
    /// written); call it from a periodic job on a quiet database.
    ///
    /// # Errors
    /// `StorageError`.
    pub fn purge_expired(&self) -> Result<PurgeReport> {
        let report = self.store().purge_expired(self.ctx.now())?;
        // Imported users rehashed since: the login timing floor may come down (docs/security.md, "Timing").
        self.ctx.hasher().set_legacy_cost(self.store().max_bcrypt_cost()?);
        Ok(report)
    }

    /// Imports users stored by accounts-js (see [`crate::import`] for what moves). Each record is
    /// stored in its own transaction, so a failure leaves nothing half-imported.
    ///
    /// # Errors
    /// Only for failures of the whole call; bad records are listed in [`ImportReport::failed`]
    /// with their index.
    pub fn import_users(&self, records: &[Value]) -> Result<ImportReport> {
        import::import_users(&self.ctx, records)
    }
}
