//! The single table of error codes shared by every language.
//!
//! Code strings are accounts-js's where accounts-js has one, so host code that checks
//! `err.code` keeps working. Numbers are frozen: never renumber, only append.

use serde::Serialize;
use std::fmt;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident = $num:literal, $input:literal; )*) => {
        /// Every error the library can report. `number()` is frozen and is the C `accounts_result`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum ErrorCode { $( $(#[$doc])* $name, )* }

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

            /// Looks a code up by its string.
            pub fn from_name(name: &str) -> Option<ErrorCode> {
                match name { $( stringify!($name) => Some(ErrorCode::$name), )* _ => None }
            }
        }
    };
}

error_codes! {
    /// The configuration is invalid (missing or short `tokenSecret`, bad duration, unknown key, ...).
    InvalidConfig = 1, true;
    /// An argument has the wrong type or shape, is NULL, not UTF-8, or too large.
    InvalidArgument = 2, true;
    /// A bug or an unexpected state inside the library (a caught panic, a poisoned lock).
    InternalError = 3, false;
    /// The database failed (I/O, corruption, constraint the library did not expect).
    StorageError = 4, false;
    /// A host callback or event listener failed; the operation was aborted.
    CallbackError = 5, false;
    /// No authentication service is registered under that name.
    ServiceNotFound = 6, true;
    /// The service did not authenticate anybody.
    AuthenticationFailed = 7, false;
    /// The user is deactivated.
    UserDeactivated = 8, false;
    /// The token is missing or not a string.
    InvalidToken = 9, true;
    /// The token's signature, algorithm, type or expiry did not verify.
    TokenVerificationFailed = 10, false;
    /// The session the token names does not exist.
    SessionNotFound = 11, false;
    /// The session has been logged out or revoked.
    SessionNotValid = 12, false;
    /// No such user.
    UserNotFound = 13, false;
    /// The user to impersonate does not exist.
    ImpersonatedUserNotFound = 14, false;
    /// The access/refresh token pair is missing or malformed.
    InvalidTokens = 15, true;
    /// A refresh token was presented again after it had been rotated; the session is revoked.
    RefreshTokenReused = 16, false;
    /// createUser needs a username or an email.
    UsernameOrEmailRequired = 17, true;
    /// The username is empty or not a string.
    InvalidUsername = 18, true;
    /// The email address is malformed.
    InvalidEmail = 19, true;
    /// The password is not a string or is shorter than `minPasswordLength`.
    InvalidPassword = 20, true;
    /// Another user already has that email address.
    EmailAlreadyExists = 21, false;
    /// Another user already has that username.
    UsernameAlreadyExists = 22, false;
    /// The login parameters are missing `user` or `password`.
    UnrecognizedOptionsForLogin = 23, true;
    /// The login parameters have the wrong types.
    MatchFailed = 24, true;
    /// Wrong user or password (ambiguous mode hides which).
    InvalidCredentials = 25, false;
    /// The password is wrong (only when `ambiguousErrorMessages` is false).
    IncorrectPassword = 26, false;
    /// The user has no password (only when `ambiguousErrorMessages` is false).
    NoPasswordSet = 27, false;
    /// The email address must be verified before logging in.
    EmailNotVerified = 28, false;
    /// The caller may not do this (e.g. impersonate from an impersonated session).
    Unauthorized = 29, false;
    /// The email verification link is unknown, already used or expired.
    VerifyEmailLinkExpired = 30, false;
    /// The email verification link names an address the user no longer has.
    VerifyEmailLinkUnknownAddress = 31, false;
    /// The password reset (or enrollment) link is unknown, already used or expired.
    ResetPasswordLinkExpired = 32, false;
    /// The password reset link names an address the user no longer has.
    ResetPasswordLinkUnknownAddress = 33, false;
    /// The new password does not meet the password policy.
    InvalidNewPassword = 34, true;
    /// The user has no email address to send to.
    NoEmailSet = 35, false;
    /// The user does not have that email address.
    EmailNotFound = 36, false;
    /// Two-factor authentication is on for this user: the login needs a `code`.
    TwoFactorCodeRequired = 37, false;
    /// The two-factor code (or recovery code) is wrong or was already used.
    TwoFactorCodeDidNotMatch = 38, false;
    /// Two-factor authentication is not set for this user.
    TwoFactorNotSet = 39, false;
    /// Two-factor authentication is already set for this user.
    TwoFactorAlreadySet = 40, false;
    /// The magic link token is unknown, already used or expired.
    LoginTokenExpired = 41, false;
    /// Too many failed attempts (password, second factor or link token) for this account or client;
    /// `details.retryAfter` says in how many seconds to try again.
    TooManyAttempts = 42, false;
}

/// An error with a code from the table, a human message and optional JSON details.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountsError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

/// Result alias used throughout the crate.
pub type Result<T, E = AccountsError> = std::result::Result<T, E>;

impl AccountsError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AccountsError { code, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// An error carrying only its code; the message is the code string.
    pub fn code(code: ErrorCode) -> Self {
        AccountsError::new(code, code.as_str())
    }

    /// The error as `{code, number, message, details?}` JSON, used by events and the C ABI.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "code": self.code.as_str(),
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

impl std::error::Error for AccountsError {}

impl From<rusqlite::Error> for AccountsError {
    fn from(e: rusqlite::Error) -> Self {
        AccountsError::new(ErrorCode::StorageError, format!("sqlite: {e}"))
    }
}

impl From<serde_json::Error> for AccountsError {
    fn from(e: serde_json::Error) -> Self {
        AccountsError::new(ErrorCode::InvalidArgument, format!("json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn numbers_are_unique_nonzero_and_names_round_trip() {
        let mut seen = HashSet::new();
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(c.number() as usize, i + 1, "numbers are dense and ordered");
            assert!(seen.insert(c.number()));
            assert_eq!(ErrorCode::from_name(c.as_str()), Some(*c));
        }
        assert_eq!(ErrorCode::InvalidCredentials.number(), 25);
        assert_eq!(ErrorCode::from_name("Nope"), None);
    }
}
