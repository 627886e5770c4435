//! `AccountsServer`: the accounts-js server methods over a [`Store`], with rotating refresh tokens.

use crate::callbacks::{Callbacks, EventBus, ListenerFn, ListenerId, events};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::hashing::Hasher;
use crate::password::Password;
use crate::magic_link::{self, MagicLink, MagicLinkAuthService};
use crate::messages::Messages;
use crate::secret::{SealingKey, ct_eq, digest, new_id};
use crate::services::{AuthService, Completion, PasswordAuthService};
use crate::store::{self, SessionRecord, Store};
use crate::tokens::{AccessData, TokenManager};
use crate::identifiers::{lookup_email, lookup_username};
use crate::types::{
    ConnectionInfo, ImpersonationResult, ImpersonationTarget, LoginResult, PurgeReport, RevokeAllOptions, Session, Tokens, User,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The server. `Send + Sync`: share it between threads with an `Arc`.
pub struct AccountsServer {
    pub(crate) config: Config,
    pub(crate) store: Box<dyn Store>,
    pub(crate) tokens: TokenManager,
    pub(crate) hasher: Hasher,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) callbacks: Callbacks,
    pub(crate) events: EventBus,
    /// Seals two-factor secrets at rest.
    pub(crate) two_factor_key: SealingKey,
    /// Message texts from the services' `errors` options.
    messages: Messages,
    services: RwLock<HashMap<String, Arc<dyn AuthService>>>,
}

/// How many times a refresh re-reads the session after losing a rotation race.
const ROTATION_ATTEMPTS: usize = 4;

fn code(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

fn connection_json(infos: &ConnectionInfo) -> Value {
    serde_json::to_value(infos).unwrap_or(Value::Null)
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
        let tokens = TokenManager::new(&config)?;
        let pw = &config.services.password;
        let hasher = Hasher::new(pw.hashing, pw.max_concurrent_hashes)?;
        let mut services: HashMap<String, Arc<dyn AuthService>> = HashMap::new();
        services.insert("password".into(), Arc::new(PasswordAuthService));
        services.insert(magic_link::SERVICE_NAME.into(), Arc::new(MagicLinkAuthService));
        // Its own secret when given, so the JWT key can change without turning two-factor off.
        let sealing = config.sealing_secret.as_ref().map_or(config.token_secret.secret_bytes(), |s| s.as_bytes());
        let two_factor_key = SealingKey::derive(sealing, "two-factor secret");
        let messages = Messages::from_config(&config)?;
        Ok(AccountsServer {
            config,
            store,
            tokens,
            hasher,
            clock,
            callbacks,
            events: EventBus::default(),
            two_factor_key,
            messages,
            services: RwLock::new(services),
        })
    }

    /// The JWKS document of the token signing key (`{keys: [...]}`; empty for an HMAC secret, which
    /// is never published), for other services to verify tokens with `verify_access_token`.
    pub fn jwks(&self) -> Value {
        self.tokens.jwks()
    }

    /// The effective options (the secret serialises as `[redacted]`).
    pub fn options(&self) -> &Config {
        &self.config
    }

    /// The store, for custom [`AuthService`]s.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The password service.
    pub fn password(&self) -> Password<'_> {
        Password { server: self }
    }

    /// The magic link service.
    pub fn magic_link(&self) -> MagicLink<'_> {
        MagicLink { server: self }
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
        self.events.on(event, listener)
    }

    /// Removes a listener; returns whether it was registered.
    pub fn off(&self, id: ListenerId) -> bool {
        self.events.off(id)
    }

    /// Whether any listener is registered for `event` (bindings use it to pick a fast path).
    pub fn has_listeners(&self, event: &str) -> bool {
        self.events.has(event)
    }

    /// Names of the callbacks and listeners a `resumeSession` may run right now (a host that cannot
    /// run callbacks on the calling thread refuses its synchronous resume while this is not empty).
    pub fn resume_session_hooks(&self) -> Vec<&'static str> {
        let mut hooks = Vec::new();
        if self.callbacks.resume_session_validator.is_some() {
            hooks.push("resumeSessionValidator");
        }
        if self.callbacks.user_object_sanitizer.is_some() {
            hooks.push("userObjectSanitizer");
        }
        for event in [events::RESUME_SESSION_SUCCESS, events::RESUME_SESSION_ERROR] {
            if self.events.has(event) {
                hooks.push(event);
            }
        }
        hooks
    }

    /// The callbacks given at construction.
    pub fn callbacks(&self) -> &Callbacks {
        &self.callbacks
    }

    /// Applies `userObjectSanitizer` to a user about to leave the library.
    pub(crate) fn sanitize(&self, user: User) -> Result<User> {
        match &self.callbacks.user_object_sanitizer {
            Some(f) => f(user),
            None => Ok(user),
        }
    }

    /// Runs `op`, emitting `ok_event` with the payload it returns, or `err_event` with the error
    /// itself as the payload (`{code, number, message, details?}`, as accounts-js emits the error).
    fn observed<T>(&self, ok_event: &str, err_event: &str, op: impl FnOnce() -> Result<(T, Value)>) -> Result<T> {
        // A null payload emits nothing: no listener was there to build it for, or (a refused
        // impersonation) accounts-js emits no success event either.
        let emitted = |(out, payload): (T, Value)| if payload.is_null() { Ok(out) } else { self.events.emit(ok_event, || payload).map(|_| out) };
        match op().and_then(emitted) {
            Ok(out) => Ok(out),
            Err(e) => {
                // The operation already failed; a failing error listener must not mask its code.
                let _ = self.events.emit(err_event, || e.to_json());
                Err(e)
            }
        }
    }

    /// The sanitized user as event payloads show it, computed only when one of `events` has a listener.
    pub(crate) fn shown_user(&self, user: &User, watched: &[&str]) -> Result<Option<Value>> {
        if !watched.iter().any(|e| self.events.has(e)) {
            return Ok(None);
        }
        Ok(Some(serde_json::to_value(self.sanitize(user.clone())?)?))
    }

    /// A public method's result with the `errors` options' texts applied.
    pub(crate) fn localize<T>(&self, result: Result<T>) -> Result<T> {
        result.map_err(|e| self.messages.apply(e))
    }

    /// The stored (unsanitized) user with this id.
    ///
    /// # Errors
    /// `UserNotFound`, `StorageError`.
    pub(crate) fn user_or_not_found(&self, id: &str) -> Result<User> {
        self.store.find_user_by_id(id)?.ok_or_else(|| code(ErrorCode::UserNotFound))
    }

    fn access_token(&self, user: &User, data: &AccessData, now: i64) -> Result<String> {
        let extra = match &self.callbacks.create_jwt_payload {
            Some(f) => f(&serde_json::to_value(data)?, user)?,
            None => Default::default(),
        };
        self.tokens.access_token(extra, data, now)
    }

    /// Creates a session for `user` and signs its first token pair.
    pub(crate) fn start_session(&self, user: &User, infos: &ConnectionInfo, impersonator: Option<&User>) -> Result<LoginResult> {
        let (record, login) = self.prepare_session(user, infos, impersonator)?;
        self.store.create_session(&record)?;
        Ok(login)
    }

    /// The session row and signed token pair of a new session for `user`, not stored yet: a flow
    /// stores the row in its own transaction ([`crate::store::Writes::create_session`]).
    pub(crate) fn prepare_session(&self, user: &User, infos: &ConnectionInfo, impersonator: Option<&User>) -> Result<(SessionRecord, LoginResult)> {
        if user.deactivated {
            return Err(code(ErrorCode::UserDeactivated));
        }
        let infos = &infos.sanitized();
        let now = self.now();
        let session_id = new_id()?;
        let refresh_token = self.tokens.refresh_token(&user.id, &session_id, 0, now)?;
        let record = SessionRecord {
            session: Session {
                id: session_id.clone(),
                user_id: user.id.clone(),
                valid: true,
                ip: infos.ip.clone(),
                user_agent: infos.user_agent.clone(),
                impersonator_user_id: impersonator.map(|u| u.id.clone()),
                refresh_count: 0,
                created_at: now,
                updated_at: now,
            },
            refresh_digest: digest(&refresh_token),
            prev_refresh_digest: None,
            rotated_at: now,
        };
        let data = AccessData {
            user_id: user.id.clone(),
            is_impersonated: impersonator.is_some(),
            session_id: session_id.clone(),
            impersonator_user_id: impersonator.map(|u| u.id.clone()),
        };
        let access_token = self.access_token(user, &data, now)?;
        let login = LoginResult { session_id, tokens: Tokens { access_token, refresh_token }, user: self.sanitize(user.clone())? };
        Ok((record, login))
    }

    /// Authenticates with `service` and, on success, creates a session (accounts-js `loginWithService`).
    ///
    /// # Errors
    /// `ServiceNotFound`, the service's own errors (e.g. `InvalidCredentials`), `AuthenticationFailed`,
    /// `UserDeactivated`, or a `ValidateLogin` listener's error.
    pub fn login_with_service(&self, service: &str, params: &Value, infos: &ConnectionInfo) -> Result<LoginResult> {
        let watched = [events::VALIDATE_LOGIN, events::LOGIN_SUCCESS, events::LOGIN_ERROR];
        self.authenticated(service, params, infos, &watched, events::LOGIN_ERROR, |user, shown, completions| {
            self.events.emit(events::VALIDATE_LOGIN, || hooks_info(service, params, infos, shown))?;
            let (record, result) = self.prepare_session(user, infos, None)?;
            // What the service used up (a link, a code) is written with the session, or neither is.
            store::transaction(self.store(), |w| {
                completions.iter().try_for_each(|complete| complete(w))?;
                w.create_session(&record)
            })?;
            self.events.emit(events::LOGIN_SUCCESS, || hooks_info(service, params, infos, shown))?;
            Ok(result)
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
            shown = self.shown_user(&user, watched)?;
            if user.deactivated {
                return Err(code(ErrorCode::UserDeactivated));
            }
            then(&user, shown.as_ref(), completions)
        })();
        if let Err(e) = &result {
            let _ = self.events.emit(fail_event, || {
                let mut info = hooks_info(service, params, infos, shown.as_ref());
                info["error"] = e.to_json();
                info
            });
        }
        self.localize(result)
    }

    /// Runs a service and, unless it checked it itself, the user's second factor: no service
    /// can log a user with two-factor on in without their code.
    /// Returns the user and the writes that complete the login (see [`AuthService::authenticate_pending`]).
    fn authenticate_user(&self, service: &str, params: &Value, infos: &ConnectionInfo) -> Result<(User, Vec<Completion>)> {
        let svc = self.service(service)?;
        let found = svc.authenticate_pending(self, params, infos)?.ok_or_else(|| {
            AccountsError::new(ErrorCode::AuthenticationFailed, format!("Service {service} was not able to authenticate user"))
        })?;
        let mut completions: Vec<Completion> = found.complete.into_iter().collect();
        if !svc.checks_second_factor() {
            if let Some(used) = self.password().two_factor().plan_login(&found.user, params, infos.ip.as_deref())? {
                completions.push(Box::new(move |w| used.apply(w)));
            }
        }
        Ok((found.user, completions))
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
            self.events.emit(events::AUTHENTICATE_SUCCESS, || hooks_info(service, params, infos, shown))?;
            Ok(true)
        })
    }

    /// Creates a session for an existing user without credentials (accounts-js `loginWithUser`).
    ///
    /// # Errors
    /// `UserNotFound`, `UserDeactivated`.
    pub fn login_with_user(&self, user_id: &str, infos: &ConnectionInfo) -> Result<LoginResult> {
        let user = self.user_or_not_found(user_id)?;
        self.start_session(&user, infos, None)
    }

    /// Checks an access token, its session and its user; returns the user (accounts-js `resumeSession`).
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`, `InvalidSession`, `UserNotFound`,
    /// `UserDeactivated`, or the `resumeSessionValidator`'s error.
    pub fn resume_session(&self, access_token: &str) -> Result<User> {
        self.observed(events::RESUME_SESSION_SUCCESS, events::RESUME_SESSION_ERROR, || {
            let data = self.tokens.verify_access(access_token, self.now(), true)?;
            let session = if self.config.use_stateless_session {
                None
            } else {
                let rec = self.store.find_session(&data.session_id)?.ok_or_else(|| code(ErrorCode::SessionNotFound))?;
                if !rec.session.valid {
                    return Err(AccountsError::new(ErrorCode::InvalidSession, "Invalid Session"));
                }
                if rec.session.user_id != data.user_id {
                    return Err(crate::tokens::verification_failed("token does not match its session"));
                }
                Some(rec.session)
            };
            let impersonator = session.as_ref().map_or(data.impersonator_user_id.as_deref(), |s| s.impersonator_user_id.as_deref());
            self.check_impersonator(impersonator)?;
            let user = self.user_or_not_found(&data.user_id)?;
            if user.deactivated {
                return Err(code(ErrorCode::UserDeactivated));
            }
            if let Some(validate) = &self.callbacks.resume_session_validator {
                let session = session.clone().unwrap_or_else(|| stateless_session(&data));
                validate(&user, &session)?;
            }
            let user = self.sanitize(user)?;
            let payload = if self.events.has(events::RESUME_SESSION_SUCCESS) {
                let session = session.unwrap_or_else(|| stateless_session(&data));
                json!({ "user": user, "accessToken": access_token, "session": session })
            } else {
                Value::Null
            };
            Ok((user, payload))
        })
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
        self.observed(events::REFRESH_TOKENS_SUCCESS, events::REFRESH_TOKENS_ERROR, || {
            if access_token.is_empty() || refresh_token.is_empty() {
                return Err(code(ErrorCode::InvalidTokens));
            }
            let now = self.now();
            let data = self.tokens.verify_access(access_token, now, false)?;
            let claims = self.tokens.verify_refresh(refresh_token, now)?;
            if claims.sid != data.session_id || claims.sub != data.user_id {
                return Err(crate::tokens::verification_failed("tokens belong to different sessions"));
            }
            let presented = digest(refresh_token);
            for _ in 0..ROTATION_ATTEMPTS {
                let rec = self.store.find_session(&claims.sid)?.ok_or_else(|| code(ErrorCode::SessionNotFound))?;
                if !rec.session.valid {
                    return Err(code(ErrorCode::InvalidSession));
                }
                let user = self.user_or_not_found(&rec.session.user_id)?;
                if user.deactivated {
                    return Err(code(ErrorCode::UserDeactivated));
                }
                self.check_impersonator(rec.session.impersonator_user_id.as_deref())?;
                let next_refresh = if ct_eq(&presented, &rec.refresh_digest) {
                    let next = self.tokens.refresh_token(&user.id, &rec.session.id, rec.session.refresh_count + 1, now)?;
                    if !self.store.rotate_session(&rec.session.id, &rec.refresh_digest, &digest(&next), now, &infos.sanitized())? {
                        continue; // another refresh rotated first: re-read and take the grace path
                    }
                    next
                } else if self.in_grace(&rec, &presented, now) {
                    // Re-derive the successor the winner received (signatures are deterministic).
                    let next = self.tokens.refresh_token(&user.id, &rec.session.id, rec.session.refresh_count, rec.rotated_at)?;
                    if !ct_eq(&digest(&next), &rec.refresh_digest) {
                        return Err(self.revoke_reused(&rec));
                    }
                    next
                } else {
                    return Err(self.revoke_reused(&rec));
                };
                let data = AccessData {
                    user_id: user.id.clone(),
                    is_impersonated: rec.session.impersonator_user_id.is_some(),
                    session_id: rec.session.id.clone(),
                    impersonator_user_id: rec.session.impersonator_user_id.clone(),
                };
                let access = self.access_token(&user, &data, now)?;
                let result = LoginResult {
                    session_id: rec.session.id.clone(),
                    tokens: Tokens { access_token: access, refresh_token: next_refresh },
                    user: self.sanitize(user)?,
                };
                let payload = json!({
                    "sessionId": result.session_id, "tokens": result.tokens, "user": result.user, "infos": connection_json(infos),
                });
                return Ok((result, payload));
            }
            Err(AccountsError::new(ErrorCode::StorageError, "refresh kept losing rotation races; try again"))
        })
    }

    /// An impersonation session lives only while its impersonator is an active user (revoking
    /// all of the impersonator's sessions ends it too: the store revokes it with them).
    fn check_impersonator(&self, impersonator: Option<&str>) -> Result<()> {
        let Some(id) = impersonator else { return Ok(()) };
        match self.store.find_user_by_id(id)? {
            Some(u) if !u.deactivated => Ok(()),
            _ => Err(AccountsError::new(ErrorCode::InvalidSession, "the impersonator is no longer active")),
        }
    }

    fn in_grace(&self, rec: &SessionRecord, presented: &str, now: i64) -> bool {
        let grace_ms = (self.config.refresh_token_reuse_grace_seconds as i64).saturating_mul(1000);
        grace_ms > 0
            && rec.prev_refresh_digest.as_deref().is_some_and(|prev| ct_eq(presented, prev))
            && now - rec.rotated_at <= grace_ms
    }

    /// Revokes a session whose old refresh token came back, and says so.
    fn revoke_reused(&self, rec: &SessionRecord) -> AccountsError {
        if let Err(e) = self.store.invalidate_session(&rec.session.id, self.now()) {
            return e;
        }
        let _ = self.events.emit(events::REFRESH_TOKEN_REUSED, || {
            json!({ "userId": rec.session.user_id, "sessionId": rec.session.id })
        });
        AccountsError::new(ErrorCode::RefreshTokenReused, "refresh token reused; the session has been revoked")
            .with_details(json!({ "sessionId": rec.session.id }))
    }

    /// Ends the session of an access token (accounts-js `logout`).
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`, `InvalidSession`.
    pub fn logout(&self, access_token: &str) -> Result<()> {
        self.observed(events::LOGOUT_SUCCESS, events::LOGOUT_ERROR, || {
            let data = self.tokens.verify_access(access_token, self.now(), true)?;
            let rec = self.store.find_session(&data.session_id)?.ok_or_else(|| code(ErrorCode::SessionNotFound))?;
            if !rec.session.valid || !self.store.invalidate_session(&rec.session.id, self.now())? {
                return Err(code(ErrorCode::InvalidSession));
            }
            Ok(((), json!({ "session": rec.session, "accessToken": access_token })))
        })
    }

    /// Starts a session as another user, if `impersonationAuthorize` allows it (accounts-js `impersonate`).
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`, `InvalidSession`, `UserNotFound`,
    /// `ImpersonatedUserNotFound` (only when `ambiguousErrorMessages` is false; also when the target
    /// names no field), `UserDeactivated`.
    pub fn impersonate(&self, access_token: &str, target: &ImpersonationTarget, infos: &ConnectionInfo) -> Result<ImpersonationResult> {
        self.observed(events::IMPERSONATION_SUCCESS, events::IMPERSONATION_ERROR, || {
            let data = self.tokens.verify_access(access_token, self.now(), true)?;
            let rec = self.store.find_session(&data.session_id)?.ok_or_else(|| code(ErrorCode::SessionNotFound))?;
            if !rec.session.valid {
                return Err(AccountsError::new(ErrorCode::InvalidSession, "Session is not valid for user"));
            }
            let user = self.user_or_not_found(&data.user_id)?;
            if user.deactivated {
                return Err(code(ErrorCode::UserDeactivated)); // a deactivated administrator impersonates nobody
            }
            let denied = || Ok((ImpersonationResult { authorized: false, tokens: None, user: None }, Value::Null));
            if data.is_impersonated || rec.session.impersonator_user_id.is_some() {
                return denied(); // no impersonation chains
            }
            // As accounts-js: userId, else username, else email; none names nobody.
            let found = match (&target.user_id, &target.username, &target.email) {
                (Some(id), _, _) => self.store.find_user_by_id(id)?,
                (None, Some(name), _) => lookup_username(name).map(|n| self.store.find_user_by_username(&n)).transpose()?.flatten(),
                (None, None, Some(email)) => lookup_email(email).map(|e| self.store.find_user_by_email(&e)).transpose()?.flatten(),
                (None, None, None) => None,
            };
            let Some(target_user) = found else {
                if self.config.ambiguous_error_messages {
                    return denied();
                }
                return Err(code(ErrorCode::ImpersonatedUserNotFound));
            };
            let authorized = match &self.callbacks.impersonation_authorize {
                Some(f) => f(&self.sanitize(user.clone())?, &self.sanitize(target_user.clone())?)?,
                None => false,
            };
            if !authorized {
                return denied();
            }
            let login = self.start_session(&target_user, infos, Some(&user))?;
            let result = ImpersonationResult { authorized: true, tokens: Some(login.tokens), user: Some(login.user) };
            let payload = if self.events.has(events::IMPERSONATION_SUCCESS) {
                json!({ "user": self.sanitize(user)?, "impersonationResult": result, "sessionId": login.session_id })
            } else {
                Value::Null
            };
            Ok((result, payload))
        })
    }

    /// The user with this id, or `None`.
    ///
    /// # Errors
    /// `StorageError`, or the sanitizer's error.
    pub fn find_user_by_id(&self, id: &str) -> Result<Option<User>> {
        self.store.find_user_by_id(id)?.map(|u| self.sanitize(u)).transpose()
    }

    /// The session an access token belongs to (valid or not).
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`.
    pub fn find_session_by_access_token(&self, access_token: &str) -> Result<Session> {
        let data = self.tokens.verify_access(access_token, self.now(), true)?;
        let rec = self.store.find_session(&data.session_id)?.ok_or_else(|| code(ErrorCode::SessionNotFound))?;
        Ok(rec.session)
    }

    /// Deactivates a user: their next `resumeSession`, `refreshTokens` and login fail with `UserDeactivated`.
    ///
    /// # Errors
    /// `UserNotFound`.
    pub fn deactivate_user(&self, user_id: &str) -> Result<()> {
        self.store.set_deactivated(user_id, true, self.now())
    }

    /// Reactivates a user.
    ///
    /// # Errors
    /// `UserNotFound`.
    pub fn activate_user(&self, user_id: &str) -> Result<()> {
        self.store.set_deactivated(user_id, false, self.now())
    }

    /// Every session of a user (valid and revoked), newest first.
    ///
    /// # Errors
    /// `StorageError`.
    pub fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>> {
        self.store.list_sessions(user_id)
    }

    /// Revokes one session; returns whether it was still valid.
    ///
    /// # Errors
    /// `SessionNotFound`.
    pub fn revoke_session(&self, session_id: &str) -> Result<bool> {
        if self.store.invalidate_session(session_id, self.now())? {
            return Ok(true);
        }
        match self.store.find_session(session_id)? {
            Some(_) => Ok(false),
            None => Err(code(ErrorCode::SessionNotFound)),
        }
    }

    /// Deletes expired link tokens and attempt counters (they are also purged as new ones are
    /// written); call it from a periodic job on a quiet database.
    ///
    /// # Errors
    /// `StorageError`.
    pub fn purge_expired(&self) -> Result<PurgeReport> {
        self.store.purge_expired(self.now())
    }

    /// Revokes every valid session of a user except `options.except`, and every session in which
    /// the user impersonates someone; returns how many.
    ///
    /// # Errors
    /// `StorageError`.
    pub fn revoke_all_sessions(&self, user_id: &str, options: &RevokeAllOptions) -> Result<u64> {
        self.store.invalidate_all_sessions(user_id, &options.except, self.now())
    }
}

/// The session a stateless resume reports to `resumeSessionValidator`: what the token says.
fn stateless_session(data: &AccessData) -> Session {
    Session {
        id: data.session_id.clone(),
        user_id: data.user_id.clone(),
        valid: true,
        ip: None,
        user_agent: None,
        impersonator_user_id: data.impersonator_user_id.clone(),
        refresh_count: 0,
        created_at: 0,
        updated_at: 0,
    }
}
