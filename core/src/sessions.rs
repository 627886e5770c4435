//! Sessions and their tokens: starting a session, resuming it from an access token, rotating its
//! refresh token, logging out, impersonating, listing and revoking (docs/tokens.md).

use crate::callbacks::{Listeners, events};
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::identifiers::{lookup_email, lookup_username};
use crate::inline;
use crate::secret::{ct_eq, digest, new_id};
use crate::session_cache::{self, Resumed, Stamp};
use crate::store::{SessionChange, SessionRecord, SessionView};
use crate::tokens::{AccessData, RefreshClaims, verification_failed};
use crate::types::{ConnectionInfo, ImpersonationResult, ImpersonationTarget, LoginResult, Session, Tokens, User};
use serde_json::{Value, json};
use std::sync::Arc;

/// How many times a refresh re-reads the session after losing a rotation race.
const ROTATION_ATTEMPTS: usize = 4;

fn code(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

/// The connection as events show it.
pub(crate) fn connection_json(infos: &ConnectionInfo) -> Value {
    serde_json::to_value(infos).unwrap_or(Value::Null)
}

/// The session service of one server.
pub(crate) struct Sessions<'a> {
    ctx: &'a Context,
}

/// What a refresh's store step found (`Sessions::rotate`).
enum Decided {
    /// The presented token was current: the session moved on to this.
    Rotated(Rotated),
    /// The presented token was the previous one, inside the grace window: the winner's successor
    /// is derived after the step (nothing was written).
    Grace(SessionRecord, User),
    /// An old token came back: the session was revoked.
    Reused(SessionRecord),
}

/// What a refresh hands out once the session's refresh token has moved on.
struct Rotated {
    record: SessionRecord,
    user: User,
    refresh_token: String,
}

impl<'a> Sessions<'a> {
    pub(crate) fn new(ctx: &'a Context) -> Sessions<'a> {
        Sessions { ctx }
    }

    /// Runs `op`, emitting `ok_event` with the payload it returns, or `err_event` with the error
    /// itself as the payload (`{code, number, message, details?}`, as accounts-js emits the error).
    ///
    /// The listeners of `ok_event`, `err_event` and `also` are taken once, at the start: those
    /// registered meanwhile do not run for this call. On a thread that must not wait (an inline
    /// call, core/src/inline.rs) any listener abandons the call before it does anything: a listener
    /// registered after the host's `may_run_inline` check must not run there, nor wait there.
    fn observed<T>(&self, ok_event: &str, err_event: &str, also: &[&str], op: impl FnOnce(&Listeners) -> Result<(T, Value)>) -> Result<T> {
        let events = &self.ctx.events().snapshot(&[&[ok_event, err_event], also].concat());
        if inline::no_wait() && !events.is_empty() {
            return Err(inline::would_wait("a listener"));
        }
        // A null payload emits nothing: no listener was there to build it for, or (a refused
        // impersonation) accounts-js emits no success event either.
        let emitted = |(out, payload): (T, Value)| if payload.is_null() { Ok(out) } else { events.emit(ok_event, || payload).map(|_| out) };
        match op(events).and_then(emitted) {
            Ok(out) => Ok(out),
            Err(e) => {
                // The operation already failed; a failing error listener must not mask its code.
                let _ = events.emit(err_event, || e.to_json());
                Err(e)
            }
        }
    }

    /// Signs an access token with the host's extra claims (`createJwtPayload`).
    fn access_token(&self, user: &User, data: &AccessData, now: i64) -> Result<String> {
        let extra = match &self.ctx.callbacks().create_jwt_payload {
            Some(f) => f(&serde_json::to_value(data)?, user)?,
            None => Default::default(),
        };
        self.ctx.tokens().access_token(extra, data, now)
    }

    /// Creates a session for `user` and signs its first token pair.
    ///
    /// # Errors
    /// `UserDeactivated`, `StorageError`, a callback's error.
    pub(crate) fn start(&self, user: &User, infos: &ConnectionInfo, impersonator: Option<&User>) -> Result<LoginResult> {
        let (record, login) = self.prepare(user, infos, impersonator)?;
        self.ctx.store().create_session(&record)?;
        Ok(login)
    }

    /// The session row and signed token pair of a new session for `user`, not stored yet: a flow
    /// stores the row in its own transaction ([`crate::store::Writes::create_session`]).
    ///
    /// # Errors
    /// `UserDeactivated`, a callback's error.
    pub(crate) fn prepare(&self, user: &User, infos: &ConnectionInfo, impersonator: Option<&User>) -> Result<(SessionRecord, LoginResult)> {
        if user.deactivated {
            return Err(code(ErrorCode::UserDeactivated));
        }
        let infos = &infos.sanitized();
        let now = self.ctx.now();
        let session_id = new_id()?;
        let refresh_token = self.ctx.tokens().refresh_token(&user.id, &session_id, 0, now)?;
        let impersonator_user_id = impersonator.map(|u| u.id.clone());
        let record = SessionRecord {
            session: Session {
                id: session_id.clone(),
                user_id: user.id.clone(),
                valid: true,
                ip: infos.ip.clone(),
                user_agent: infos.user_agent.clone(),
                impersonator_user_id: impersonator_user_id.clone(),
                refresh_count: 0,
                created_at: now,
                updated_at: now,
            },
            refresh_digest: digest(&refresh_token),
            prev_refresh_digest: None,
            rotated_at: now,
        };
        let data =
            AccessData { user_id: user.id.clone(), is_impersonated: impersonator.is_some(), session_id: session_id.clone(), impersonator_user_id };
        let access_token = self.access_token(user, &data, now)?;
        let login = LoginResult { session_id, tokens: Tokens { access_token, refresh_token }, user: self.ctx.sanitize(user.clone())? };
        Ok((record, login))
    }

    /// The stored session of a genuine access token.
    fn session_of(&self, access_token: &str) -> Result<(AccessData, SessionRecord)> {
        let data = self.ctx.tokens().verify_access(access_token, self.ctx.now(), true)?;
        let rec = self.ctx.store().find_session(&data.session_id)?.ok_or_else(|| code(ErrorCode::SessionNotFound))?;
        Ok((data, rec))
    }

    /// The stored user, refused when deactivated.
    fn active_user(&self, id: &str) -> Result<User> {
        active(self.ctx.store().find_user_by_id(id)?)
    }

    /// Checks an access token, its session and its user; returns the user (accounts-js `resumeSession`).
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`, `InvalidSession`, `UserNotFound`,
    /// `UserDeactivated`, or the `resumeSessionValidator`'s error.
    pub(crate) fn resume(&self, access_token: &str) -> Result<User> {
        self.observed(events::RESUME_SESSION_SUCCESS, events::RESUME_SESSION_ERROR, &[], |listeners| {
            // A copy of what the cache shares, made outside its lock.
            let Resumed { data, session, user } = Arc::unwrap_or_clone(self.resumed(access_token)?);
            if let Some(validate) = &self.ctx.callbacks().resume_session_validator {
                let session = session.clone().unwrap_or_else(|| stateless_session(&data));
                validate(&user, &session)?;
            }
            let user = self.ctx.sanitize(user)?;
            let payload = if listeners.has(events::RESUME_SESSION_SUCCESS) {
                let session = session.unwrap_or_else(|| stateless_session(&data));
                json!({ "user": user, "accessToken": access_token, "session": session })
            } else {
                Value::Null
            };
            Ok((user, payload))
        })
    }

    /// The checks of a resume (token, session, impersonator, user): from the cache of resumed
    /// sessions while nothing was committed anywhere since it was read (session_cache.rs), else read.
    fn resumed(&self, access_token: &str) -> Result<Arc<Resumed>> {
        let now = self.ctx.now();
        // A store that cannot tell whether anything changed (or fails to) gets no cache.
        let stamp = if access_token.is_empty() { None } else { self.cache_stamp().ok().flatten() };
        let Some(stamp) = stamp else { return Ok(Arc::new(self.read_resumed(access_token, now)?.0)) };
        let key = session_cache::key(access_token);
        let cache = self.ctx.session_cache();
        if let Some(hit) = cache.get(&key, stamp, now) {
            return Ok(hit);
        }
        let (resumed, expires_ms) = self.read_resumed(access_token, now)?;
        let resumed = Arc::new(resumed);
        cache.put(key, stamp, expires_ms, resumed.clone());
        Ok(resumed)
    }

    /// The store's change counter and the key ring's epoch, read before anything they vouch for.
    fn cache_stamp(&self) -> Result<Option<Stamp>> {
        let ring = self.ctx.tokens().ring_epoch();
        Ok(self.ctx.store().change_counter()?.map(|changes| Stamp { changes, ring }))
    }

    /// A resume's checks against the database; with the token's expiry (ms).
    fn read_resumed(&self, access_token: &str, now: i64) -> Result<(Resumed, i64)> {
        let (data, expires_ms) = self.ctx.tokens().verify_access_until(access_token, now, true)?;
        if self.ctx.config().use_stateless_session {
            self.check_impersonator(data.impersonator_user_id.as_deref())?;
            let user = self.active_user(&data.user_id)?;
            return Ok((Resumed { data, session: None, user }, expires_ms));
        }
        // The session and its users in one read (one transaction on SQLite).
        let view = self.ctx.store().session_view(&data.session_id)?.ok_or_else(|| code(ErrorCode::SessionNotFound))?;
        let SessionView { record, user, impersonator } = view;
        if !record.session.valid {
            return Err(AccountsError::new(ErrorCode::InvalidSession, "Invalid Session"));
        }
        if record.session.user_id != data.user_id {
            return Err(verification_failed("token does not match its session"));
        }
        check_impersonator_of(record.session.impersonator_user_id.as_deref(), impersonator.as_ref())?;
        let user = active(user)?;
        Ok((Resumed { data, session: Some(record.session), user }, expires_ms))
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
    pub(crate) fn refresh(&self, access_token: &str, refresh_token: &str, infos: &ConnectionInfo) -> Result<LoginResult> {
        self.observed(events::REFRESH_TOKENS_SUCCESS, events::REFRESH_TOKENS_ERROR, &[events::REFRESH_TOKEN_REUSED], |listeners| {
            let now = self.ctx.now();
            let claims = self.verified_pair(access_token, refresh_token, now)?;
            let rotated = self.rotate(&claims, refresh_token, infos, now, listeners)?;
            let result = self.signed(rotated, now)?;
            // Built only for a listener: the user's JSON is a good part of a refresh's cost.
            let payload = if listeners.has(events::REFRESH_TOKENS_SUCCESS) {
                json!({ "sessionId": result.session_id, "tokens": result.tokens, "user": result.user, "infos": connection_json(infos) })
            } else {
                Value::Null
            };
            Ok((result, payload))
        })
    }

    /// Step 1 of a refresh: both tokens genuine and of the same session (the access token may be expired).
    fn verified_pair(&self, access_token: &str, refresh_token: &str, now: i64) -> Result<RefreshClaims> {
        if access_token.is_empty() || refresh_token.is_empty() {
            return Err(code(ErrorCode::InvalidTokens));
        }
        let data = self.ctx.tokens().verify_access(access_token, now, false)?;
        let claims = self.ctx.tokens().verify_refresh(refresh_token, now)?;
        if claims.sid != data.session_id || claims.sub != data.user_id {
            return Err(verification_failed("tokens belong to different sessions"));
        }
        Ok(claims)
    }

    /// Step 2 of a refresh: moves the session's refresh token on (or, inside the grace window,
    /// re-derives the successor the winner of a race received); a reused token revokes the session.
    /// The session and its users are read and the change is made in one step of the store
    /// ([`crate::store::Store::change_session`]: one transaction on SQLite).
    fn rotate(&self, claims: &RefreshClaims, presented_token: &str, infos: &ConnectionInfo, now: i64, listeners: &Listeners) -> Result<Rotated> {
        let presented = digest(presented_token);
        let infos = infos.sanitized();
        let tokens = self.ctx.tokens();
        for _ in 0..ROTATION_ATTEMPTS {
            // The successor as it will be when the presented token is the session's current one
            // (its claims name the counter it was issued at): signed before the store's step, so
            // no signature (an RSA one takes a millisecond) runs while the store holds its writer.
            let mut successor = Some(tokens.refresh_token(&claims.sub, &claims.sid, claims.ctr + 1, now)?);
            let mut decided = None;
            let made = self.ctx.store().change_session(&claims.sid, &mut |view: &SessionView| {
                let rec = &view.record;
                if !rec.session.valid {
                    return Err(code(ErrorCode::InvalidSession));
                }
                let user = active(view.user.as_ref())?;
                check_impersonator_of(rec.session.impersonator_user_id.as_deref(), view.impersonator.as_ref())?;
                if ct_eq(&presented, &rec.refresh_digest) {
                    let next = match successor.take() {
                        Some(next) if rec.session.refresh_count == claims.ctr && rec.session.user_id == claims.sub => next,
                        _ => tokens.refresh_token(&user.id, &rec.session.id, rec.session.refresh_count + 1, now)?,
                    };
                    let new_digest = digest(&next);
                    decided = Some(Decided::Rotated(Rotated { record: rec.clone(), user: user.clone(), refresh_token: next }));
                    return Ok(SessionChange::Rotate { new_digest, now, info: infos.clone() });
                }
                if self.in_grace(rec, &presented, now) {
                    decided = Some(Decided::Grace(rec.clone(), user.clone()));
                    return Ok(SessionChange::Keep);
                }
                decided = Some(Decided::Reused(rec.clone()));
                Ok(SessionChange::Invalidate { now: self.ctx.now() })
            })?;
            match (made, decided) {
                (None, _) => return Err(code(ErrorCode::SessionNotFound)),
                (Some(true), Some(Decided::Rotated(rotated))) => return Ok(rotated),
                (Some(true), Some(Decided::Reused(revoked))) => return Err(self.reused(&revoked, listeners)),
                (Some(true), Some(Decided::Grace(record, user))) => {
                    // Signatures are deterministic: the same claims under the key that signed it give
                    // the winner's token (a key rotation may have come in between: try each key).
                    let candidates =
                        tokens.refresh_token_candidates(&user.id, &record.session.id, record.session.refresh_count, record.rotated_at)?;
                    if let Some(next) = candidates.into_iter().find(|t| ct_eq(&digest(t), &record.refresh_digest)) {
                        return Ok(Rotated { record, user, refresh_token: next });
                    }
                    self.ctx.store().invalidate_session(&record.session.id, self.ctx.now())?;
                    return Err(self.reused(&record, listeners));
                }
                // Another refresh rotated first: read again and take the grace path.
                _ => continue,
            }
        }
        Err(AccountsError::new(ErrorCode::StorageError, "refresh kept losing rotation races; try again"))
    }

    /// Step 3 of a refresh: the new access token beside the rotated refresh token.
    fn signed(&self, rotated: Rotated, now: i64) -> Result<LoginResult> {
        let Rotated { record, user, refresh_token } = rotated;
        let data = AccessData {
            user_id: user.id.clone(),
            is_impersonated: record.session.impersonator_user_id.is_some(),
            session_id: record.session.id.clone(),
            impersonator_user_id: record.session.impersonator_user_id.clone(),
        };
        let access_token = self.access_token(&user, &data, now)?;
        Ok(LoginResult { session_id: record.session.id, tokens: Tokens { access_token, refresh_token }, user: self.ctx.sanitize(user)? })
    }

    /// An impersonation session lives only while its impersonator is an active user (revoking
    /// all of the impersonator's sessions ends it too: the store revokes it with them).
    fn check_impersonator(&self, impersonator: Option<&str>) -> Result<()> {
        let Some(id) = impersonator else { return Ok(()) };
        check_impersonator_of(Some(id), self.ctx.store().find_user_by_id(id)?.as_ref())
    }

    fn in_grace(&self, rec: &SessionRecord, presented: &str, now: i64) -> bool {
        let grace_ms = (self.ctx.config().refresh_token_reuse_grace_seconds as i64).saturating_mul(1000);
        grace_ms > 0 && rec.prev_refresh_digest.as_deref().is_some_and(|prev| ct_eq(presented, prev)) && now - rec.rotated_at <= grace_ms
    }

    /// What a refresh with an old refresh token gets once its session is revoked; listeners hear of it.
    fn reused(&self, rec: &SessionRecord, listeners: &Listeners) -> AccountsError {
        let _ = listeners.emit(events::REFRESH_TOKEN_REUSED, || json!({ "userId": rec.session.user_id, "sessionId": rec.session.id }));
        AccountsError::new(ErrorCode::RefreshTokenReused, "refresh token reused; the session has been revoked")
            .with_details(json!({ "sessionId": rec.session.id }))
    }

    /// Ends the session of an access token (accounts-js `logout`): a genuine token of an existing
    /// session ends it even once expired.
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`, `InvalidSession`.
    pub(crate) fn logout(&self, access_token: &str) -> Result<()> {
        self.observed(events::LOGOUT_SUCCESS, events::LOGOUT_ERROR, &[], |listeners| {
            if listeners.has(events::LOGOUT_SUCCESS) {
                // The listener gets the session as it was: read it first.
                let data = self.ctx.tokens().verify_access(access_token, self.ctx.now(), false)?;
                let rec = self.ctx.store().find_session(&data.session_id)?.ok_or_else(|| code(ErrorCode::SessionNotFound))?;
                if !rec.session.valid || !self.ctx.store().invalidate_session(&rec.session.id, self.ctx.now())? {
                    return Err(code(ErrorCode::InvalidSession));
                }
                return Ok(((), json!({ "session": rec.session, "accessToken": access_token })));
            }
            // One statement when nobody listens; the read only tells the two failures apart.
            // Any age: logout always ends a session, and the token's expiry must not keep it alive.
            let data = self.ctx.tokens().verify_access(access_token, self.ctx.now(), false)?;
            if self.ctx.store().invalidate_session(&data.session_id, self.ctx.now())? {
                return Ok(((), Value::Null));
            }
            match self.ctx.store().find_session(&data.session_id)? {
                None => Err(code(ErrorCode::SessionNotFound)),
                Some(_) => Err(code(ErrorCode::InvalidSession)),
            }
        })
    }

    /// Starts a session as another user, if `impersonationAuthorize` allows it (accounts-js `impersonate`).
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`, `InvalidSession`, `UserNotFound`,
    /// `ImpersonatedUserNotFound` (only when `ambiguousErrorMessages` is false; also when the target
    /// names no field), `UserDeactivated`.
    pub(crate) fn impersonate(&self, access_token: &str, target: &ImpersonationTarget, infos: &ConnectionInfo) -> Result<ImpersonationResult> {
        self.observed(events::IMPERSONATION_SUCCESS, events::IMPERSONATION_ERROR, &[], |listeners| {
            let denied = || Ok((ImpersonationResult { authorized: false, tokens: None, user: None }, Value::Null));
            let Some(user) = self.impersonator(access_token)? else { return denied() };
            let Some(target_user) = self.impersonation_target(target)? else {
                if self.ctx.config().ambiguous_error_messages {
                    return denied();
                }
                return Err(code(ErrorCode::ImpersonatedUserNotFound));
            };
            if !self.impersonation_authorized(&user, &target_user)? {
                return denied();
            }
            let login = self.start(&target_user, infos, Some(&user))?;
            let result = ImpersonationResult { authorized: true, tokens: Some(login.tokens), user: Some(login.user) };
            let payload = if listeners.has(events::IMPERSONATION_SUCCESS) {
                json!({ "user": self.ctx.sanitize(user)?, "impersonationResult": result, "sessionId": login.session_id })
            } else {
                Value::Null
            };
            Ok((result, payload))
        })
    }

    /// Step 1 of an impersonation: the active user of a valid session, `None` when that session is
    /// itself an impersonation (no chains).
    fn impersonator(&self, access_token: &str) -> Result<Option<User>> {
        let (data, rec) = self.session_of(access_token)?;
        if !rec.session.valid {
            return Err(AccountsError::new(ErrorCode::InvalidSession, "Session is not valid for user"));
        }
        let user = self.active_user(&data.user_id)?; // a deactivated administrator impersonates nobody
        if data.is_impersonated || rec.session.impersonator_user_id.is_some() {
            return Ok(None);
        }
        Ok(Some(user))
    }

    /// Step 2: the target, as accounts-js looks it up: userId, else username, else email; none names nobody.
    fn impersonation_target(&self, target: &ImpersonationTarget) -> Result<Option<User>> {
        let store = self.ctx.store();
        Ok(match (&target.user_id, &target.username, &target.email) {
            (Some(id), _, _) => store.find_user_by_id(id)?,
            (None, Some(name), _) => lookup_username(name).map(|n| store.find_user_by_username(&n)).transpose()?.flatten(),
            (None, None, Some(email)) => lookup_email(email).map(|e| store.find_user_by_email(&e)).transpose()?.flatten(),
            (None, None, None) => None,
        })
    }

    /// Step 3: the host's `impersonationAuthorize` (no callback: nobody may impersonate).
    fn impersonation_authorized(&self, user: &User, target: &User) -> Result<bool> {
        match &self.ctx.callbacks().impersonation_authorize {
            Some(f) => f(&self.ctx.sanitize(user.clone())?, &self.ctx.sanitize(target.clone())?),
            None => Ok(false),
        }
    }

    /// The session an access token belongs to (valid or not).
    ///
    /// # Errors
    /// `InvalidToken`, `TokenVerificationFailed`, `SessionNotFound`.
    pub(crate) fn find_by_access_token(&self, access_token: &str) -> Result<Session> {
        Ok(self.session_of(access_token)?.1.session)
    }

    /// Revokes one session; returns whether it was still valid.
    ///
    /// # Errors
    /// `SessionNotFound`.
    pub(crate) fn revoke(&self, session_id: &str) -> Result<bool> {
        if self.ctx.store().invalidate_session(session_id, self.ctx.now())? {
            return Ok(true);
        }
        match self.ctx.store().find_session(session_id)? {
            Some(_) => Ok(false),
            None => Err(code(ErrorCode::SessionNotFound)),
        }
    }
}

/// The user a session names, if it is still there and active.
fn active<U: std::borrow::Borrow<User>>(user: Option<U>) -> Result<U> {
    match user {
        None => Err(code(ErrorCode::UserNotFound)),
        Some(u) if u.borrow().deactivated => Err(code(ErrorCode::UserDeactivated)),
        Some(u) => Ok(u),
    }
}

/// A session naming impersonator `id` (if any) lives only while `found`, that user, is active.
fn check_impersonator_of(id: Option<&str>, found: Option<&User>) -> Result<()> {
    match (id, found) {
        (None, _) => Ok(()),
        (Some(_), Some(u)) if !u.deactivated => Ok(()),
        (Some(_), _) => Err(AccountsError::new(ErrorCode::InvalidSession, "the impersonator is no longer active")),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::Callbacks;
    use crate::context::testing;
    use std::sync::Arc;

    #[test]
    fn a_prepared_session_is_not_stored_until_asked() {
        let ctx = testing::plain();
        let sessions = Sessions::new(&ctx);
        let user = testing::stored_user(&ctx, "u1", Some("u1"), &[]);
        let (record, login) = sessions.prepare(&user, &ConnectionInfo::default(), None).unwrap();
        assert!(ctx.store().find_session(&record.session.id).unwrap().is_none());
        assert_eq!(record.refresh_digest, digest(&login.tokens.refresh_token), "only the digest is kept");
        let started = sessions.start(&user, &ConnectionInfo::default(), None).unwrap();
        assert!(ctx.store().find_session(&started.session_id).unwrap().unwrap().session.valid);
        assert_eq!(sessions.resume(&started.tokens.access_token).unwrap().id, "u1");
    }

    #[test]
    fn logout_ends_a_session_once_with_or_without_a_listener() {
        let ctx = testing::plain();
        let sessions = Sessions::new(&ctx);
        let user = testing::stored_user(&ctx, "u1", Some("u1"), &[]);
        let check = |sessions: &Sessions<'_>| {
            let started = sessions.start(&user, &ConnectionInfo::default(), None).unwrap();
            sessions.logout(&started.tokens.access_token).unwrap();
            assert!(!ctx.store().find_session(&started.session_id).unwrap().unwrap().session.valid);
            assert_eq!(sessions.logout(&started.tokens.access_token).unwrap_err().code, ErrorCode::InvalidSession);
            // A genuine token whose session was never stored.
            let (_, unstored) = sessions.prepare(&user, &ConnectionInfo::default(), None).unwrap();
            assert_eq!(sessions.logout(&unstored.tokens.access_token).unwrap_err().code, ErrorCode::SessionNotFound);
            assert_eq!(sessions.logout("not a token").unwrap_err().code, ErrorCode::TokenVerificationFailed);
        };
        check(&sessions);
        // With a LogoutSuccess listener (which gets the session as it was): the same outcomes.
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        ctx.events().on(
            events::LOGOUT_SUCCESS,
            Arc::new(move |_, payload: &Value| {
                sink.lock().unwrap().push(payload["session"]["valid"].clone());
                Ok(())
            }),
        );
        check(&sessions);
        assert_eq!(*seen.lock().unwrap(), vec![json!(true)], "one success, with the session before it ended");
    }

    #[test]
    fn rotation_moves_on_and_a_replayed_token_revokes() {
        let (ctx, clock) = testing::context(json!({"refreshTokenReuseGraceSeconds": 0}), Callbacks::default());
        let sessions = Sessions::new(&ctx);
        let user = testing::stored_user(&ctx, "u1", Some("u1"), &[]);
        let first = sessions.start(&user, &ConnectionInfo::default(), None).unwrap();
        clock.advance_secs(1);
        let second = sessions.refresh(&first.tokens.access_token, &first.tokens.refresh_token, &ConnectionInfo::default()).unwrap();
        assert_ne!(second.tokens.refresh_token, first.tokens.refresh_token);
        assert_eq!(ctx.store().find_session(&first.session_id).unwrap().unwrap().session.refresh_count, 1);
        let replay = sessions.refresh(&first.tokens.access_token, &first.tokens.refresh_token, &ConnectionInfo::default());
        assert_eq!(replay.unwrap_err().code, ErrorCode::RefreshTokenReused);
        assert!(!ctx.store().find_session(&first.session_id).unwrap().unwrap().session.valid);
        let after = sessions.refresh(&second.tokens.access_token, &second.tokens.refresh_token, &ConnectionInfo::default());
        assert_eq!(after.unwrap_err().code, ErrorCode::InvalidSession);
    }

    #[test]
    fn tokens_of_two_sessions_do_not_pair() {
        let ctx = testing::plain();
        let sessions = Sessions::new(&ctx);
        let user = testing::stored_user(&ctx, "u1", Some("u1"), &[]);
        let a = sessions.start(&user, &ConnectionInfo::default(), None).unwrap();
        let b = sessions.start(&user, &ConnectionInfo::default(), None).unwrap();
        let mixed = sessions.refresh(&a.tokens.access_token, &b.tokens.refresh_token, &ConnectionInfo::default());
        assert_eq!(mixed.unwrap_err().code, ErrorCode::TokenVerificationFailed);
        assert_eq!(sessions.refresh("", "", &ConnectionInfo::default()).unwrap_err().code, ErrorCode::InvalidTokens);
    }

    #[test]
    fn impersonation_needs_the_callback_and_never_chains() {
        let callbacks = Callbacks { impersonation_authorize: Some(Arc::new(|user: &User, _: &User| Ok(user.id == "admin"))), ..Default::default() };
        let (ctx, _) = testing::context(json!({}), callbacks);
        let sessions = Sessions::new(&ctx);
        let admin = testing::stored_user(&ctx, "admin", Some("admin"), &[]);
        let bob = testing::stored_user(&ctx, "bob", Some("bob"), &[]);
        let own = sessions.start(&admin, &ConnectionInfo::default(), None).unwrap();
        let target = ImpersonationTarget { user_id: Some("bob".into()), ..Default::default() };
        let result = sessions.impersonate(&own.tokens.access_token, &target, &ConnectionInfo::default()).unwrap();
        assert!(result.authorized);
        let as_bob = result.tokens.unwrap();
        let data = ctx.tokens().verify_access(&as_bob.access_token, ctx.now(), true).unwrap();
        assert_eq!((data.user_id.as_str(), data.impersonator_user_id.as_deref()), ("bob", Some("admin")));
        let chained = sessions.impersonate(&as_bob.access_token, &target, &ConnectionInfo::default()).unwrap();
        assert!(!chained.authorized, "no impersonation chains");
        let by_bob = sessions.start(&bob, &ConnectionInfo::default(), None).unwrap();
        let target = ImpersonationTarget { user_id: Some("admin".into()), ..Default::default() };
        assert!(!sessions.impersonate(&by_bob.tokens.access_token, &target, &ConnectionInfo::default()).unwrap().authorized);
    }

    #[test]
    fn logout_and_revoke() {
        let ctx = testing::plain();
        let sessions = Sessions::new(&ctx);
        let user = testing::stored_user(&ctx, "u1", Some("u1"), &[]);
        let login = sessions.start(&user, &ConnectionInfo::default(), None).unwrap();
        sessions.logout(&login.tokens.access_token).unwrap();
        assert_eq!(sessions.logout(&login.tokens.access_token).unwrap_err().code, ErrorCode::InvalidSession);
        assert!(!sessions.find_by_access_token(&login.tokens.access_token).unwrap().valid);
        assert!(!sessions.revoke(&login.session_id).unwrap());
        assert_eq!(sessions.revoke("nope").unwrap_err().code, ErrorCode::SessionNotFound);
    }
}
