//! Host callbacks and event listeners. Every callback may fail; a failure aborts the operation.

use crate::error::{AccountsError, ErrorCode, Result};
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
/// `validateUsername(name)`, `validateEmail(address)`, `validatePassword(password)`: replace
/// accounts-js's default rules; a falsy answer is `InvalidUsername` / `InvalidEmail` /
/// `InvalidPassword`. The library's own identifier rules (docs/security.md) still apply after them.
pub type ValidateFn = dyn Fn(&str) -> Result<bool> + Send + Sync;
/// `prepareMail(to, token, user, pathFragment, emailTemplate, from)` (accounts-js's arguments, plus
/// the mail's kind): returns the mail object handed to `sendMail`. `emailTemplate` is the rendered
/// `{from, subject, text, html}` of the library's templates.
pub type PrepareMailFn = dyn Fn(&[Value]) -> Result<Value> + Send + Sync;
/// `sendMail(mail)`: delivers `{from, to, subject, text, html}`.
pub type SendMailFn = dyn Fn(&Value) -> Result<()> + Send + Sync;
/// `oauthAuthenticate(provider, params)`: asks a host provider who the login parameters belong to;
/// answers `{id, email?, emailVerified?, profile?}` (docs/oauth.md).
pub type OAuthAuthenticateFn = dyn Fn(&str, &Value) -> Result<Value> + Send + Sync;
/// An event listener: `(eventName, payload)`.
pub type ListenerFn = dyn Fn(&str, &Value) -> Result<()> + Send + Sync;

/// The optional host callbacks, fixed at construction.
#[derive(Clone, Default)]
pub struct Callbacks {
    /// `createJwtPayload`: extra access-token claims.
    pub create_jwt_payload: Option<Arc<CreateJwtPayloadFn>>,
    /// `userObjectSanitizer`: the user as callers see it.
    pub user_object_sanitizer: Option<Arc<UserObjectSanitizerFn>>,
    /// `impersonationAuthorize`: may a user impersonate another (default: no).
    pub impersonation_authorize: Option<Arc<ImpersonationAuthorizeFn>>,
    /// `resumeSessionValidator`: an extra check on every resumeSession.
    pub resume_session_validator: Option<Arc<ResumeSessionValidatorFn>>,
    /// `validateNewUser`: shapes (or refuses) a user about to be created.
    pub validate_new_user: Option<Arc<ValidateNewUserFn>>,
    /// `sendMail`: delivers a prepared mail.
    pub send_mail: Option<Arc<SendMailFn>>,
    /// `validateUsername`: replaces the default username rule.
    pub validate_username: Option<Arc<ValidateFn>>,
    /// `validateEmail`: replaces the default email rule.
    pub validate_email: Option<Arc<ValidateFn>>,
    /// `validatePassword`: replaces the password policy.
    pub validate_password: Option<Arc<ValidateFn>>,
    /// `prepareMail`: builds the mail handed to `sendMail`.
    pub prepare_mail: Option<Arc<PrepareMailFn>>,
    /// `oauthAuthenticate`: identifies the user of a host OAuth provider.
    pub oauth_authenticate: Option<Arc<OAuthAuthenticateFn>>,
}

/// The callback names, as in accounts-js.
pub const CALLBACK_NAMES: &[&str] = &[
    "createJwtPayload",
    "userObjectSanitizer",
    "impersonationAuthorize",
    "resumeSessionValidator",
    "validateNewUser",
    "sendMail",
    "validateUsername",
    "validateEmail",
    "validatePassword",
    "prepareMail",
    "oauthAuthenticate",
];

/// What each callback of [`CALLBACK_NAMES`] answers, in the same order (its input is
/// [`HostCall::arg_names`]): the C header's documentation of `accounts_callbacks_set` is generated
/// from this by accounts-codegen.
pub const CALLBACK_ANSWERS: &[(&str, &str)] = &[
    ("createJwtPayload", "an object of extra access-token claims (none if unanswered)"),
    ("userObjectSanitizer", "the user callers will see (unchanged if unanswered)"),
    ("impersonationAuthorize", "`true` / `false` (false if unanswered)"),
    ("resumeSessionValidator", "set an error to reject the resume"),
    ("validateNewUser", "the user to create, without its password (unchanged if unanswered)"),
    ("sendMail", "set an error if delivery failed"),
    ("validateUsername", "a truthy answer accepts the username (refused if unanswered)"),
    ("validateEmail", "a truthy answer accepts the address (refused if unanswered)"),
    ("validatePassword", "a truthy answer accepts the password (refused if unanswered)"),
    ("prepareMail", "the mail object `{from, to, subject, text, html}` handed to sendMail"),
    ("oauthAuthenticate", "`{id, email?, emailVerified?, profile?, tokens?}`: who the login is; an error refuses it"),
];

/// One invocation of a host callback, as the bindings see it: JSON arguments in accounts-js order.
#[derive(Debug)]
pub struct HostCall<'a> {
    /// One of [`CALLBACK_NAMES`].
    pub name: &'static str,
    /// The positional arguments (`[data, user]` for createJwtPayload, `[user]` for userObjectSanitizer, ...).
    pub args: &'a [Value],
}

impl HostCall<'_> {
    /// The names of the arguments of the callback `name` (one of [`CALLBACK_NAMES`]).
    pub fn arg_names_of(name: &str) -> &'static [&'static str] {
        Self::names_for(name)
    }

    /// The names of the arguments, for hosts that pass one object (the C ABI).
    pub fn arg_names(&self) -> &'static [&'static str] {
        Self::names_for(self.name)
    }

    fn names_for(name: &str) -> &'static [&'static str] {
        match name {
            "createJwtPayload" => &["data", "user"],
            "impersonationAuthorize" => &["user", "target"],
            "resumeSessionValidator" => &["user", "session"],
            "sendMail" => &["mail"],
            "validateUsername" => &["username"],
            "validateEmail" => &["email"],
            "validatePassword" => &["password"],
            "prepareMail" => &["to", "token", "user", "pathFragment", "emailTemplate", "from", "type"],
            "oauthAuthenticate" => &["provider", "params"],
            _ => &["user"],
        }
    }

    /// The arguments as one JSON value: the argument itself when there is one, else an object by name.
    pub fn as_object(&self) -> Value {
        match self.args {
            [one] => one.clone(),
            many => Value::Object(self.arg_names().iter().map(|n| n.to_string()).zip(many.iter().cloned()).collect()),
        }
    }
}

/// A host function that runs one callback. `Ok(None)` means the host gave no answer (the C callback
/// left its result unset); `Ok(Some(Value::Null))` means it returned null/None/undefined.
pub type HostCallFn = dyn Fn(&HostCall<'_>) -> Result<Option<Value>> + Send + Sync;

fn shape(what: &str) -> AccountsError {
    AccountsError::new(ErrorCode::CallbackError, format!("callback returned the wrong shape: {what}"))
}

/// JavaScript truthiness: accounts-js tests validator answers and createUser fields with `!`.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn user_json(u: &User) -> Value {
    serde_json::to_value(u).unwrap_or(Value::Null)
}

impl Callbacks {
    /// Routes the callback `name` through a host function, reading its JSON answer by the
    /// accounts-js rules: no answer or null means "no extra claims" / "user unchanged" / "not
    /// authorized" where a default exists; anything else of the wrong shape is a `CallbackError`.
    ///
    /// # Errors
    /// `InvalidArgument` for a name not in [`CALLBACK_NAMES`].
    pub fn set_host(&mut self, name: &str, host: Arc<HostCallFn>) -> Result<()> {
        match name {
            "createJwtPayload" => {
                self.create_jwt_payload = Some(Arc::new(move |data: &Value, user: &User| {
                    match host(&HostCall { name: "createJwtPayload", args: &[data.clone(), user_json(user)] })? {
                        None | Some(Value::Null) => Ok(Map::new()),
                        Some(Value::Object(m)) => Ok(m),
                        Some(_) => Err(shape("createJwtPayload must return an object")),
                    }
                }))
            }
            "userObjectSanitizer" => {
                self.user_object_sanitizer =
                    Some(Arc::new(move |user: User| match host(&HostCall { name: "userObjectSanitizer", args: &[user_json(&user)] })? {
                        None => Ok(user),
                        Some(v) => serde_json::from_value(v).map_err(|_| shape("userObjectSanitizer must return a user with an id")),
                    }))
            }
            "impersonationAuthorize" => {
                self.impersonation_authorize = Some(Arc::new(move |user: &User, target: &User| {
                    match host(&HostCall { name: "impersonationAuthorize", args: &[user_json(user), user_json(target)] })? {
                        None => Ok(false),
                        Some(Value::Bool(b)) => Ok(b),
                        Some(_) => Err(shape("impersonationAuthorize must return a boolean")),
                    }
                }))
            }
            "resumeSessionValidator" => {
                self.resume_session_validator = Some(Arc::new(move |user: &User, session: &Session| {
                    let session = serde_json::to_value(session).unwrap_or(Value::Null);
                    host(&HostCall { name: "resumeSessionValidator", args: &[user_json(user), session] }).map(|_| ())
                }))
            }
            "validateNewUser" => {
                self.validate_new_user =
                    Some(Arc::new(move |user: Value| match host(&HostCall { name: "validateNewUser", args: std::slice::from_ref(&user) })? {
                        None | Some(Value::Null) => Ok(user),
                        Some(v) => Ok(v),
                    }))
            }
            "sendMail" => {
                self.send_mail =
                    Some(Arc::new(move |mail: &Value| host(&HostCall { name: "sendMail", args: std::slice::from_ref(mail) }).map(|_| ())))
            }
            "prepareMail" => {
                self.prepare_mail = Some(Arc::new(move |args: &[Value]| match host(&HostCall { name: "prepareMail", args })? {
                    Some(mail @ Value::Object(_)) => Ok(mail),
                    _ => Err(shape("prepareMail must return the mail object")),
                }))
            }
            "oauthAuthenticate" => {
                self.oauth_authenticate = Some(Arc::new(move |provider: &str, params: &Value| {
                    match host(&HostCall { name: "oauthAuthenticate", args: &[Value::String(provider.to_string()), params.clone()] })? {
                        Some(answer @ Value::Object(_)) => Ok(answer),
                        _ => Err(shape("oauthAuthenticate must return {id, email?, emailVerified?, profile?}")),
                    }
                }))
            }
            "validateUsername" | "validateEmail" | "validatePassword" => {
                let name: &'static str = CALLBACK_NAMES.iter().find(|n| **n == name).copied().unwrap_or("validateUsername");
                let f: Arc<ValidateFn> = Arc::new(move |text: &str| {
                    host(&HostCall { name, args: &[Value::String(text.to_string())] }).map(|answer| answer.as_ref().is_some_and(truthy))
                });
                match name {
                    "validateUsername" => self.validate_username = Some(f),
                    "validateEmail" => self.validate_email = Some(f),
                    _ => self.validate_password = Some(f),
                }
            }
            other => return Err(AccountsError::new(ErrorCode::InvalidArgument, format!("unknown callback {other:?}"))),
        }
        Ok(())
    }
}

/// The accounts-js server events, plus `RefreshTokenReused`.
pub mod events {
    /// Before a login creates its session; a listener's error refuses the login.
    pub const VALIDATE_LOGIN: &str = "ValidateLogin";
    /// A login created a session.
    pub const LOGIN_SUCCESS: &str = "LoginSuccess";
    /// A login failed.
    pub const LOGIN_ERROR: &str = "LoginError";
    /// authenticateWithService succeeded.
    pub const AUTHENTICATE_SUCCESS: &str = "AuthenticateSuccess";
    /// authenticateWithService failed.
    pub const AUTHENTICATE_ERROR: &str = "AuthenticateError";
    /// A session was logged out.
    pub const LOGOUT_SUCCESS: &str = "LogoutSuccess";
    /// A logout failed.
    pub const LOGOUT_ERROR: &str = "LogoutError";
    /// A session was resumed.
    pub const RESUME_SESSION_SUCCESS: &str = "ResumeSessionSuccess";
    /// A resume failed.
    pub const RESUME_SESSION_ERROR: &str = "ResumeSessionError";
    /// Tokens were refreshed.
    pub const REFRESH_TOKENS_SUCCESS: &str = "RefreshTokensSuccess";
    /// A refresh failed.
    pub const REFRESH_TOKENS_ERROR: &str = "RefreshTokensError";
    /// An impersonation was authorized.
    pub const IMPERSONATION_SUCCESS: &str = "ImpersonationSuccess";
    /// An impersonation failed.
    pub const IMPERSONATION_ERROR: &str = "ImpersonationError";
    /// A user was created.
    pub const CREATE_USER_SUCCESS: &str = "CreateUserSuccess";
    /// Storing a new user failed.
    pub const CREATE_USER_ERROR: &str = "CreateUserError";
    /// A rotated-away refresh token came back; its session was revoked.
    pub const REFRESH_TOKEN_REUSED: &str = "RefreshTokenReused";
    /// A password was reset with a link.
    pub const RESET_PASSWORD_SUCCESS: &str = "ResetPasswordSuccess";
    /// A password was changed.
    pub const CHANGE_PASSWORD_SUCCESS: &str = "ChangePasswordSuccess";
    /// A guess was refused by an attempt limit: `{attempt, limit, retryAfter, account, ip}`.
    pub const TOO_MANY_ATTEMPTS: &str = "TooManyAttempts";
    /// A user registered a passkey: `{userId, passkey}`.
    pub const PASSKEY_REGISTERED: &str = "PasskeyRegistered";
    /// A user renamed a passkey: `{userId, passkey}`.
    pub const PASSKEY_RENAMED: &str = "PasskeyRenamed";
    /// A user removed a passkey: `{userId, passkeyId}`.
    pub const PASSKEY_REMOVED: &str = "PasskeyRemoved";
    /// A sign-in presented a passkey whose signature counter went backwards (a cloned
    /// authenticator?); it was refused: `{userId, passkeyId, storedCount, presentedCount}`.
    pub const PASSKEY_COUNTER_REGRESSION: &str = "PasskeyCounterRegression";

    /// Every event name, for bindings and the generated lists.
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
        RESET_PASSWORD_SUCCESS,
        CHANGE_PASSWORD_SUCCESS,
        TOO_MANY_ATTEMPTS,
        PASSKEY_REGISTERED,
        PASSKEY_RENAMED,
        PASSKEY_REMOVED,
        PASSKEY_COUNTER_REGRESSION,
    ];
}

/// Identifies one registered listener, for [`AccountsServer::off`](crate::AccountsServer::off).
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

    /// The listeners of `names` registered now. An operation takes this at its start and emits to
    /// it, so a listener registered meanwhile (by another thread) never runs inside it — in
    /// particular not inside an inline call that found none (core/src/inline.rs).
    pub fn snapshot(&self, names: &[&str]) -> Listeners {
        let l = self.listeners.read().unwrap_or_else(|p| p.into_inner());
        Listeners { targets: l.iter().filter(|(_, e, _)| names.contains(&e.as_str())).map(|(_, e, f)| (e.clone(), f.clone())).collect() }
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

/// Some events' listeners as they were when an operation started ([`EventBus::snapshot`]).
pub(crate) struct Listeners {
    targets: Vec<(String, Arc<ListenerFn>)>,
}

impl Listeners {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    pub fn has(&self, event: &str) -> bool {
        self.targets.iter().any(|(e, _)| e == event)
    }

    /// As [`EventBus::emit`], to the listeners of the snapshot.
    pub fn emit(&self, event: &str, payload: impl FnOnce() -> Value) -> Result<()> {
        if !self.has(event) {
            return Ok(());
        }
        let payload = payload();
        for (_, f) in self.targets.iter().filter(|(e, _)| e == event) {
            f(event, &payload)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> User {
        serde_json::from_value(json!({"id": "u1", "username": "ann"})).unwrap()
    }

    #[test]
    fn host_answers_are_read_by_one_set_of_rules() {
        let mut c = Callbacks::default();
        let answer = |v: Option<Value>| -> Arc<HostCallFn> { Arc::new(move |_call: &HostCall<'_>| Ok(v.clone())) };
        for name in CALLBACK_NAMES {
            c.set_host(name, answer(None)).unwrap();
        }
        assert!((c.create_jwt_payload.as_ref().unwrap())(&json!({}), &user()).unwrap().is_empty());
        assert_eq!((c.user_object_sanitizer.as_ref().unwrap())(user()).unwrap().id, "u1");
        assert!(!(c.impersonation_authorize.as_ref().unwrap())(&user(), &user()).unwrap());
        assert_eq!((c.validate_new_user.as_ref().unwrap())(json!({"username": "x"})).unwrap(), json!({"username": "x"}));
        c.set_host("impersonationAuthorize", answer(Some(json!("yes")))).unwrap();
        assert_eq!((c.impersonation_authorize.as_ref().unwrap())(&user(), &user()).unwrap_err().code, ErrorCode::CallbackError);
        c.set_host("userObjectSanitizer", answer(Some(Value::Null))).unwrap();
        assert_eq!((c.user_object_sanitizer.as_ref().unwrap())(user()).unwrap_err().code, ErrorCode::CallbackError);
        c.set_host("createJwtPayload", answer(Some(json!([1])))).unwrap();
        assert_eq!((c.create_jwt_payload.as_ref().unwrap())(&json!({}), &user()).unwrap_err().code, ErrorCode::CallbackError);
        assert_eq!(c.set_host("nope", answer(None)).unwrap_err().code, ErrorCode::InvalidArgument);
    }

    #[test]
    fn every_callback_has_its_answer_documented() {
        let documented: Vec<&str> = CALLBACK_ANSWERS.iter().map(|(name, _)| *name).collect();
        assert_eq!(documented, CALLBACK_NAMES);
        assert_eq!(HostCall::arg_names_of("prepareMail").len(), 7);
        assert_eq!(HostCall::arg_names_of("validateEmail"), ["email"]);
    }

    #[test]
    fn calls_carry_positional_and_named_arguments() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let mut c = Callbacks::default();
        c.set_host(
            "impersonationAuthorize",
            Arc::new(move |call: &HostCall<'_>| {
                log.lock().unwrap().push((call.name, call.args.len(), call.as_object()));
                Ok(Some(json!(true)))
            }),
        )
        .unwrap();
        assert!((c.impersonation_authorize.as_ref().unwrap())(&user(), &user()).unwrap());
        let (name, n, obj) = seen.lock().unwrap()[0].clone();
        assert_eq!((name, n), ("impersonationAuthorize", 2));
        assert_eq!(obj["user"]["id"], json!("u1"));
        assert_eq!(obj["target"]["username"], json!("ann"));
        let single = HostCall { name: "sendMail", args: &[json!({"to": "a"})] };
        assert_eq!(single.as_object(), json!({"to": "a"}));
    }
}
