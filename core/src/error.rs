//! The single table of error codes shared by every language.
//!
//! Code strings are accounts-js's where accounts-js has one, so host code that checks
//! `err.code` keeps working. Numbers are frozen: never renumber, only append; a code that is no
//! longer raised moves to [`RETIRED`] and its number is never given out again.
//!
//! This table is the only hand-written list of codes: `accounts-codegen` (bindings/codegen)
//! writes the C enum, the Python exception classes, the TypeScript unions and docs/errors.md from
//! it, and `make test` fails when those copies are stale.

use serde::Serialize;
use std::fmt;
use std::sync::Arc;

macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $name:ident = $num:literal, $input:literal, $message:literal; )*) => {
        /// Every error the library can report. `number()` is frozen and is the C `accounts_result`.
        /// Non-exhaustive: later versions add codes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[non_exhaustive]
        pub enum ErrorCode { $( $(#[doc = $doc])* $name, )* }

        impl ErrorCode {
            /// All codes, in number order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$name, )* ];

            /// The accounts-js style code string, e.g. `"InvalidCredentials"`.
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$name => stringify!($name), )* }
            }

            /// The frozen number (never 0: 0 is success in C).
            pub fn number(self) -> u32 {
                match self { $( ErrorCode::$name => $num, )* }
            }

            /// Whether the error means the caller passed bad input (Python also raises it as `ValueError`).
            pub fn is_input_error(self) -> bool {
                match self { $( ErrorCode::$name => $input, )* }
            }

            /// The default message (accounts-js's text where accounts-js has the code).
            pub fn default_message(self) -> &'static str {
                match self { $( ErrorCode::$name => $message, )* }
            }

            /// What the code means: its documentation in this table, one line of text per doc line
            /// (each with the doc comment's leading space).
            pub fn description(self) -> &'static str {
                match self { $( ErrorCode::$name => concat!($($doc, "\n"),*), )* }
            }

            /// Looks a code up by its string.
            pub fn from_name(name: &str) -> Option<ErrorCode> {
                match name { $( stringify!($name) => Some(ErrorCode::$name), )* _ => None }
            }
        }
    };
}

error_codes! {
    /// The configuration is invalid (missing or short `tokenSecret`, bad duration, unknown key, ...).
    InvalidConfig = 1, true, "Invalid configuration";
    /// An argument has the wrong type or shape, is NULL, not UTF-8, or too large.
    InvalidArgument = 2, true, "Invalid argument";
    /// A bug or an unexpected state inside the library (a caught panic, a poisoned lock).
    InternalError = 3, false, "Internal error";
    /// The database failed (I/O, corruption, constraint the library did not expect).
    StorageError = 4, false, "Storage error";
    /// A host callback or event listener failed; the operation was aborted.
    CallbackError = 5, false, "A callback failed";
    /// No authentication service is registered under that name.
    ServiceNotFound = 6, true, "No service with that name was registered.";
    /// The service did not authenticate anybody.
    AuthenticationFailed = 7, false, "Service was not able to authenticate user";
    /// The user is deactivated.
    UserDeactivated = 8, false, "Your account has been deactivated";
    /// The token is missing, not a string, or longer than any token the library issues.
    InvalidToken = 9, true, "Invalid token";
    /// The token's signature, algorithm, type or expiry did not verify.
    TokenVerificationFailed = 10, false, "Tokens are not valid";
    /// The session the token names does not exist.
    SessionNotFound = 11, false, "Session not found";
    /// No such user.
    UserNotFound = 13, false, "User not found";
    /// The user to impersonate does not exist.
    ImpersonatedUserNotFound = 14, false, "Impersonated user not found";
    /// The access/refresh token pair is missing or malformed.
    InvalidTokens = 15, true, "An accessToken and refreshToken are required";
    /// A refresh token was presented again after it had been rotated; the session is revoked.
    RefreshTokenReused = 16, false, "Refresh token reused; the session has been revoked";
    /// createUser needs a username or an email.
    UsernameOrEmailRequired = 17, true, "Username or Email is required";
    /// The username is empty or not a string.
    InvalidUsername = 18, true, "Invalid username";
    /// The email address is malformed.
    InvalidEmail = 19, true, "Invalid email";
    /// The password is not a string or is shorter than `minPasswordLength`.
    InvalidPassword = 20, true, "Invalid password";
    /// Another user already has that email address.
    EmailAlreadyExists = 21, false, "Email already exists";
    /// Another user already has that username.
    UsernameAlreadyExists = 22, false, "Username already exists";
    /// The login parameters are missing `user` or `password`.
    UnrecognizedOptionsForLogin = 23, true, "Unrecognized options for login request";
    /// The login parameters have the wrong types.
    MatchFailed = 24, true, "Match failed";
    /// Wrong user or password (ambiguous mode hides which).
    InvalidCredentials = 25, false, "Invalid credentials";
    /// The password is wrong (only when `ambiguousErrorMessages` is false).
    IncorrectPassword = 26, false, "Incorrect password";
    /// The user has no password (only when `ambiguousErrorMessages` is false).
    NoPasswordSet = 27, false, "User has no password set";
    /// The email address must be verified before logging in.
    EmailNotVerified = 28, false, "Email not verified";
    /// A host callback refused the call (the code hosts raise for a refusal, e.g. a
    /// `resumeSessionValidator` or `ValidateLogin` listener; the library itself does not raise it).
    Unauthorized = 29, false, "Unauthorized";
    /// The email verification link is unknown, already used or expired.
    VerifyEmailLinkExpired = 30, false, "Verify email link expired";
    /// The email verification link names an address the user no longer has.
    VerifyEmailLinkUnknownAddress = 31, false, "Verify email link is for unknown address";
    /// The password reset (or enrollment) link is unknown, already used or expired.
    ResetPasswordLinkExpired = 32, false, "Reset password link expired";
    /// The password reset link names an address the user no longer has.
    ResetPasswordLinkUnknownAddress = 33, false, "Reset password link is for unknown address";
    /// The new password does not meet the password policy.
    InvalidNewPassword = 34, true, "Invalid new password";
    /// The user has no email address to send to.
    NoEmailSet = 35, false, "User has no email set";
    /// The user does not have that email address.
    EmailNotFound = 36, false, "Email not found";
    /// Two-factor authentication is on for this user: the login needs a `code`.
    TwoFactorCodeRequired = 37, false, "2FA code required";
    /// The two-factor code (or recovery code) is wrong or was already used.
    TwoFactorCodeDidNotMatch = 38, false, "2FA code didn't match";
    /// Two-factor authentication is not set for this user.
    TwoFactorNotSet = 39, false, "2FA not set";
    /// Two-factor authentication is already set for this user.
    TwoFactorAlreadySet = 40, false, "2FA already set";
    /// The magic link token is unknown, already used or expired.
    LoginTokenExpired = 41, false, "Login token expired";
    /// Too many failed attempts (password, second factor or link token) for this account or client;
    /// `details.retryAfter` says in how many seconds to try again.
    TooManyAttempts = 42, false, "Too many attempts, try again later";
    /// The session has been logged out or revoked (accounts-js's code).
    InvalidSession = 43, false, "Session is no longer valid";
    /// No OAuth provider with that name is configured (`services.oauth.providers`).
    ProviderNotFound = 44, true, "No OAuth provider with that name is configured";
    /// The provider's email matches an account, but the provider or the account has not verified
    /// that address: linking could hand the account to whoever registered the address at the
    /// provider. Log in another way and link explicitly (docs/oauth.md, "Linking").
    AccountLinkRefused = 45, false, "An account with this email exists; log in to it and link the provider";
    /// The provider identity is already linked to another user, or the user already has one of
    /// that provider.
    AccountAlreadyLinked = 46, false, "This provider account is already linked";
    /// The user has no identity of that provider.
    LinkedAccountNotFound = 47, false, "No linked account of that provider";
    /// Unlinking would leave the user with no way to log in (no password, no other provider).
    LastLoginMethod = 48, false, "Cannot unlink the last way to log in";
    /// The OAuth `state` is missing, unknown, already used, expired, or from another provider's
    /// authorization.
    InvalidAuthorizationState = 49, false, "Invalid or expired OAuth state";
    /// The provider's ID token did not verify: signature, algorithm, issuer, audience, expiry or nonce.
    InvalidIdToken = 50, false, "The provider's ID token is not valid";
    /// The provider could not be reached or refused the request (`details.error` carries its
    /// OAuth error code, e.g. `invalid_grant` for a used or wrong code).
    ProviderError = 51, false, "The identity provider refused the request";
    /// An HTTP request the web edge cannot read: a malformed cookie of ours, header, percent-encoding,
    /// JSON or UTF-8 body, or a body that is not `application/json` (HTTP 400, or 415 for the type).
    MalformedRequest = 52, true, "Malformed request";
    /// A state-changing request the web edge refused as cross-site: its `Origin` or `Sec-Fetch-Site`
    /// names another site, or the CSRF token of the session is missing or wrong (HTTP 403).
    CsrfRefused = 53, false, "Cross-site request refused";
    /// The request body is larger than `web.maxBodyBytes` (HTTP 413).
    PayloadTooLarge = 54, true, "Request body too large";
    /// No route of the web edge has that path (HTTP 404).
    RouteNotFound = 55, true, "Not found";
    /// The route exists but not for that method, e.g. a GET of a route that changes state (HTTP 405).
    MethodNotAllowed = 56, true, "Method not allowed";
    /// The passkey ceremony's challenge is unknown, already used, expired, or was started for the
    /// other ceremony (registration vs sign-in) or another user (docs/passkeys.md).
    InvalidWebAuthnChallenge = 57, false, "Invalid or expired passkey challenge";
    /// The authenticator's response did not verify: origin, rpId, flags (user presence, user
    /// verification), algorithm, signature, or a credential or user handle that does not match;
    /// `details.reason` names which (docs/passkeys.md, "Errors").
    WebAuthnVerificationFailed = 58, false, "The passkey could not be verified";
    /// The passkey's signature counter went backwards or stood still: the authenticator may have
    /// been cloned. The sign-in is refused and `PasskeyCounterRegression` is emitted.
    PasskeyCounterRegression = 59, false, "The passkey's signature counter went backwards";
    /// The user has no passkey with that id.
    PasskeyNotFound = 60, false, "Passkey not found";
    /// That credential is registered already (to this user or another).
    PasskeyAlreadyRegistered = 61, false, "This passkey is already registered";
}

/// Codes no longer raised, with their frozen numbers: never reuse a number listed here.
pub const RETIRED: &[(u32, &str)] = &[
    // A dead session is `InvalidSession`, accounts-js's code.
    (12, "SessionNotValid"),
];

/// An error with a code from the table, a human message and optional JSON details.
#[derive(Debug, Clone)]
pub struct AccountsError {
    /// The table code.
    pub code: ErrorCode,
    /// The message (the code's default text unless more specific).
    pub message: String,
    /// Structured details (e.g. `retryAfter`).
    pub details: Option<serde_json::Value>,
    /// Set when a host callback raised this error: the core carries it unchanged, so the binding
    /// can give the caller the very error the callback raised.
    pub host: Option<HostError>,
    /// The lower-level error this one came from (a storage or JSON error), for
    /// [`std::error::Error::source`]; not part of equality.
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl PartialEq for AccountsError {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code && self.message == other.message && self.details == other.details && self.host == other.host
    }
}

/// What a host callback's error was, beyond its table code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    /// The host's own code string, any string (the table code is `CallbackError` when it is not one
    /// of ours).
    pub code: Option<String>,
    /// The binding's handle for the raised object (Node, Python), to hand that object back.
    pub handle: Option<u64>,
}

/// What a host callback failed with, as a binding found it: the thrown value's `code` and
/// `message` (any JSON), its text when it is not an object (a thrown string, `undefined`), and the
/// binding's handle for it. [`AccountsError::from_host_failure`] reads it by one set of rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostFailure<'a> {
    /// The thrown value's `code`.
    pub code: Option<&'a serde_json::Value>,
    /// The thrown value's `message`.
    pub message: Option<&'a serde_json::Value>,
    /// The thrown value as text, when it is not an object.
    pub text: Option<&'a str>,
    /// The binding's handle for the thrown value.
    pub handle: Option<u64>,
}

/// Result alias used throughout the crate.
pub type Result<T, E = AccountsError> = std::result::Result<T, E>;

impl AccountsError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AccountsError { code, message: message.into(), details: None, host: None, source: None }
    }

    /// The error a host callback raised: `code` is the host's code string (one of ours keeps its
    /// meaning; anything else is `CallbackError`), `handle` the binding's reference to the raised object.
    pub fn from_host(code: Option<&str>, message: impl Into<String>, handle: Option<u64>) -> Self {
        let table = code.and_then(ErrorCode::from_name).unwrap_or(ErrorCode::CallbackError);
        AccountsError {
            code: table,
            message: message.into(),
            details: None,
            host: Some(HostError { code: code.map(String::from), handle }),
            source: None,
        }
    }

    /// The error a host callback's failure becomes, for every binding alike: a string `code` is
    /// kept as the code string callers see (one of the table's keeps its meaning, any other is a
    /// `CallbackError`); the message is the failure's `message` when it is a non-empty string,
    /// else `callback failed: <text>`, else `callback failed`.
    pub fn from_host_failure(failure: HostFailure<'_>) -> Self {
        let code = failure.code.and_then(serde_json::Value::as_str);
        let message = match (failure.message.and_then(serde_json::Value::as_str), failure.text) {
            (Some(m), _) if !m.is_empty() => m.to_string(),
            (_, Some(text)) => format!("callback failed: {text}"),
            _ => "callback failed".to_string(),
        };
        AccountsError::from_host(code, message, failure.handle)
    }

    /// The code string callers see: the host's own code for a callback's error, else the table's.
    pub fn code_name(&self) -> &str {
        self.host.as_ref().and_then(|h| h.code.as_deref()).unwrap_or(self.code.as_str())
    }

    /// The error with the lower-level error it came from attached (its `source()`).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The error with `details` attached.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// An error with its code's default message (accounts-js's text, which apps show and match).
    pub fn code(code: ErrorCode) -> Self {
        AccountsError::new(code, code.default_message())
    }

    /// The error as `{code, number, message, details?}` JSON, used by events and the C ABI.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "code": self.code_name(),
            "number": self.code.number(),
            "message": self.message,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

impl fmt::Display for AccountsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for AccountsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<rusqlite::Error> for AccountsError {
    fn from(e: rusqlite::Error) -> Self {
        AccountsError::new(ErrorCode::StorageError, format!("sqlite: {e}")).with_source(e)
    }
}

impl From<serde_json::Error> for AccountsError {
    fn from(e: serde_json::Error) -> Self {
        AccountsError::new(ErrorCode::InvalidArgument, format!("json: {e}")).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::error::Error as _;

    #[test]
    fn the_lower_level_error_is_the_source() {
        let e = AccountsError::from(rusqlite::Error::InvalidQuery);
        assert_eq!(e.code, ErrorCode::StorageError);
        let source = e.source().and_then(|s| s.downcast_ref::<rusqlite::Error>());
        assert!(matches!(source, Some(rusqlite::Error::InvalidQuery)), "{source:?}");
        let json = AccountsError::from(serde_json::from_str::<u8>("x").unwrap_err());
        assert!(json.source().is_some_and(|s| s.is::<serde_json::Error>()));
        // Equality is the code, message, details and host error, not the source.
        assert_eq!(e.clone(), AccountsError::new(ErrorCode::StorageError, e.message.clone()));
        assert!(AccountsError::new(ErrorCode::InternalError, "x").source().is_none());
    }

    #[test]
    fn numbers_are_unique_nonzero_and_names_round_trip() {
        let mut seen: HashSet<u32> = RETIRED.iter().map(|(n, _)| *n).collect();
        let mut last = 0;
        for c in ErrorCode::ALL {
            assert!(c.number() > last, "numbers ascend: append new codes at the end");
            last = c.number();
            assert!(seen.insert(c.number()), "{c:?} reuses a number");
            assert_eq!(ErrorCode::from_name(c.as_str()), Some(*c));
            assert!(!c.description().is_empty(), "{c:?} is documented");
        }
        for (_, name) in RETIRED {
            assert_eq!(ErrorCode::from_name(name), None, "{name} is retired");
        }
        assert_eq!(ErrorCode::InvalidCredentials.number(), 25);
    }

    #[test]
    fn host_failures_read_by_one_rule() {
        use serde_json::json;
        let (ours, theirs, number) = (json!("Unauthorized"), json!("E_DENIED"), json!(5));
        let e = AccountsError::from_host_failure(HostFailure { code: Some(&ours), message: Some(&json!("no")), text: None, handle: Some(7) });
        assert_eq!((e.code, e.code_name(), e.message.as_str()), (ErrorCode::Unauthorized, "Unauthorized", "no"));
        assert_eq!(e.host.unwrap().handle, Some(7));
        let e = AccountsError::from_host_failure(HostFailure { code: Some(&theirs), message: Some(&json!("")), text: None, handle: None });
        assert_eq!((e.code, e.code_name(), e.message.as_str()), (ErrorCode::CallbackError, "E_DENIED", "callback failed"));
        let e = AccountsError::from_host_failure(HostFailure { code: Some(&number), message: None, text: Some("boom"), handle: None });
        assert_eq!((e.code, e.code_name(), e.message.as_str()), (ErrorCode::CallbackError, "CallbackError", "callback failed: boom"));
        assert_eq!(ErrorCode::from_name("Nope"), None);
    }
}
