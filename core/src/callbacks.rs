//! Host callbacks and event listeners. Every callback may fail; a failure aborts the operation.

use crate::error::Result;
use crate::types::{Session, User};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// `createJwtPayload(data, user)`: extra claims for the access token (`data` always wins).
pub type CreateJwtPayloadFn = dyn Fn(&Value, &User) -> Result<Map<String, Value>> + Send + Sync;
/// `userObjectSanitizer(user)`: the user as callers will see it.
pub type UserObjectSanitizerFn = dyn Fn(User) -> Result<User> + Send + Sync;
/// `impersonationAuthorize(user, target)`: may `user` impersonate `target`? Default: no.
pub type ImpersonationAuthorizeFn = dyn Fn(&User, &User) -> Result<bool> + Send + Sync;
/// `resumeSessionValidator(user, session)`: an error rejects the resume.
pub type ResumeSessionValidatorFn = dyn Fn(&User, &Session) -> Result<()> + Send + Sync;
/// `validateNewUser(user)`: the user about to be created (no password); returns it, possibly changed.
pub type ValidateNewUserFn = dyn Fn(Value) -> Result<Value> + Send + Sync;
/// `sendMail(mail)`: delivers `{from, to, subject, text, html}`.
pub type SendMailFn = dyn Fn(&Value) -> Result<()> + Send + Sync;
/// An event listener: `(eventName, payload)`.
pub type ListenerFn = dyn Fn(&str, &Value) -> Result<()> + Send + Sync;

/// The optional host callbacks, fixed at construction.
#[derive(Clone, Default)]
pub struct Callbacks {
    pub create_jwt_payload: Option<Arc<CreateJwtPayloadFn>>,
    pub user_object_sanitizer: Option<Arc<UserObjectSanitizerFn>>,
    pub impersonation_authorize: Option<Arc<ImpersonationAuthorizeFn>>,
    pub resume_session_validator: Option<Arc<ResumeSessionValidatorFn>>,
    pub validate_new_user: Option<Arc<ValidateNewUserFn>>,
    pub send_mail: Option<Arc<SendMailFn>>,
}

/// The accounts-js server events, plus `RefreshTokenReused`.
pub mod events {
    pub const VALIDATE_LOGIN: &str = "ValidateLogin";
    pub const LOGIN_SUCCESS: &str = "LoginSuccess";
    pub const LOGIN_ERROR: &str = "LoginError";
    pub const AUTHENTICATE_SUCCESS: &str = "AuthenticateSuccess";
    pub const AUTHENTICATE_ERROR: &str = "AuthenticateError";
    pub const LOGOUT_SUCCESS: &str = "LogoutSuccess";
    pub const LOGOUT_ERROR: &str = "LogoutError";
    pub const RESUME_SESSION_SUCCESS: &str = "ResumeSessionSuccess";
    pub const RESUME_SESSION_ERROR: &str = "ResumeSessionError";
    pub const REFRESH_TOKENS_SUCCESS: &str = "RefreshTokensSuccess";
    pub const REFRESH_TOKENS_ERROR: &str = "RefreshTokensError";
    pub const IMPERSONATION_SUCCESS: &str = "ImpersonationSuccess";
    pub const IMPERSONATION_ERROR: &str = "ImpersonationError";
    pub const CREATE_USER_SUCCESS: &str = "CreateUserSuccess";
    pub const CREATE_USER_ERROR: &str = "CreateUserError";
    pub const REFRESH_TOKEN_REUSED: &str = "RefreshTokenReused";

    pub const ALL: &[&str] = &[
        VALIDATE_LOGIN,
        LOGIN_SUCCESS,
        LOGIN_ERROR,
        AUTHENTICATE_SUCCESS,
        AUTHENTICATE_ERROR,
        LOGOUT_SUCCESS,
        LOGOUT_ERROR,
        RESUME_SESSION_SUCCESS,
        RESUME_SESSION_ERROR,
        REFRESH_TOKENS_SUCCESS,
        REFRESH_TOKENS_ERROR,
        IMPERSONATION_SUCCESS,
        IMPERSONATION_ERROR,
        CREATE_USER_SUCCESS,
        CREATE_USER_ERROR,
        REFRESH_TOKEN_REUSED,
    ];
}

/// Identifies one registered listener, for [`EventBus::off`].
pub type ListenerId = u64;

/// Listeners by event name. Emitting with no listener costs one read lock and builds no payload.
#[derive(Default)]
pub(crate) struct EventBus {
    listeners: RwLock<Vec<(ListenerId, String, Arc<ListenerFn>)>>,
    next: AtomicU64,
}

impl EventBus {
    pub fn on(&self, event: &str, listener: Arc<ListenerFn>) -> ListenerId {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.listeners.write().unwrap_or_else(|p| p.into_inner()).push((id, event.to_string(), listener));
        id
    }

    pub fn off(&self, id: ListenerId) -> bool {
        let mut l = self.listeners.write().unwrap_or_else(|p| p.into_inner());
        let before = l.len();
        l.retain(|(i, _, _)| *i != id);
        l.len() != before
    }

    pub fn has(&self, event: &str) -> bool {
        self.listeners.read().unwrap_or_else(|p| p.into_inner()).iter().any(|(_, e, _)| e == event)
    }

    /// Calls every listener of `event` in registration order; the first failure is returned.
    pub fn emit(&self, event: &str, payload: impl FnOnce() -> Value) -> Result<()> {
        let targets: Vec<Arc<ListenerFn>> = {
            let l = self.listeners.read().unwrap_or_else(|p| p.into_inner());
            l.iter().filter(|(_, e, _)| e == event).map(|(_, _, f)| f.clone()).collect()
        };
        if targets.is_empty() {
            return Ok(());
        }
        let payload = payload();
        for f in targets {
            f(event, &payload)?;
        }
        Ok(())
    }
}
