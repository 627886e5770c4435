//! `accounts_result` (the error table as a C enum) and the owned `accounts_error` object.

use crate::guard::guard;
use accounts_core::{AccountsError, ErrorCode};
use std::ffi::{CString, c_char, c_int};
use std::sync::OnceLock;

/// The result of every fallible function: `ACCOUNTS_OK` (0) or the frozen number of an error code.
/// The names after `ACCOUNTS_` are the accounts-js codes (`ACCOUNTS_INVALID_CREDENTIALS` is
/// "InvalidCredentials"); `accounts_result_name` gives the code string.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum accounts_result {
    /// Success.
    AccountsOk = 0,
    /// The configuration is invalid (missing or short `tokenSecret`, bad duration, unknown key, ...).
    AccountsInvalidConfig = 1,
    /// An argument has the wrong type or shape, is NULL, not UTF-8, or too large.
    AccountsInvalidArgument = 2,
    /// A bug or an unexpected state inside the library (a caught panic, a poisoned lock).
    AccountsInternalError = 3,
    /// The database failed (I/O, corruption, constraint the library did not expect).
    AccountsStorageError = 4,
    /// A host callback or event listener failed; the operation was aborted.
    AccountsCallbackError = 5,
    /// No authentication service is registered under that name.
    AccountsServiceNotFound = 6,
    /// The service did not authenticate anybody.
    AccountsAuthenticationFailed = 7,
    /// The user is deactivated.
    AccountsUserDeactivated = 8,
    /// The token is missing or not a string.
    AccountsInvalidToken = 9,
    /// The token's signature, algorithm, type or expiry did not verify.
    AccountsTokenVerificationFailed = 10,
    /// The session the token names does not exist.
    AccountsSessionNotFound = 11,
    /// Retired: no longer raised (a dead session is `InvalidSession`, accounts-js's code); kept so
    /// the number is never reused.
    AccountsSessionNotValid = 12,
    /// No such user.
    AccountsUserNotFound = 13,
    /// The user to impersonate does not exist.
    AccountsImpersonatedUserNotFound = 14,
    /// The access/refresh token pair is missing or malformed.
    AccountsInvalidTokens = 15,
    /// A refresh token was presented again after it had been rotated; the session is revoked.
    AccountsRefreshTokenReused = 16,
    /// createUser needs a username or an email.
    AccountsUsernameOrEmailRequired = 17,
    /// The username is empty or not a string.
    AccountsInvalidUsername = 18,
    /// The email address is malformed.
    AccountsInvalidEmail = 19,
    /// The password is not a string or is shorter than `minPasswordLength`.
    AccountsInvalidPassword = 20,
    /// Another user already has that email address.
    AccountsEmailAlreadyExists = 21,
    /// Another user already has that username.
    AccountsUsernameAlreadyExists = 22,
    /// The login parameters are missing `user` or `password`.
    AccountsUnrecognizedOptionsForLogin = 23,
    /// The login parameters have the wrong types.
    AccountsMatchFailed = 24,
    /// Wrong user or password (ambiguous mode hides which).
    AccountsInvalidCredentials = 25,
    /// The password is wrong (only when `ambiguousErrorMessages` is false).
    AccountsIncorrectPassword = 26,
    /// The user has no password (only when `ambiguousErrorMessages` is false).
    AccountsNoPasswordSet = 27,
    /// The email address must be verified before logging in.
    AccountsEmailNotVerified = 28,
    /// The caller may not do this (e.g. impersonate from an impersonated session).
    AccountsUnauthorized = 29,
    /// The email verification link is unknown, already used or expired.
    AccountsVerifyEmailLinkExpired = 30,
    /// The email verification link names an address the user no longer has.
    AccountsVerifyEmailLinkUnknownAddress = 31,
    /// The password reset (or enrollment) link is unknown, already used or expired.
    AccountsResetPasswordLinkExpired = 32,
    /// The password reset link names an address the user no longer has.
    AccountsResetPasswordLinkUnknownAddress = 33,
    /// The new password does not meet the password policy.
    AccountsInvalidNewPassword = 34,
    /// The user has no email address to send to.
    AccountsNoEmailSet = 35,
    /// The user does not have that email address.
    AccountsEmailNotFound = 36,
    /// Two-factor authentication is on for this user: the login needs a `code`.
    AccountsTwoFactorCodeRequired = 37,
    /// The two-factor code (or recovery code) is wrong or was already used.
    AccountsTwoFactorCodeDidNotMatch = 38,
    /// Two-factor authentication is not set for this user.
    AccountsTwoFactorNotSet = 39,
    /// Two-factor authentication is already set for this user.
    AccountsTwoFactorAlreadySet = 40,
    /// The magic link token is unknown, already used or expired.
    AccountsLoginTokenExpired = 41,
    /// Too many failed attempts (password, second factor or link token) for this account or client;
    /// the error's details hold `retryAfter` (seconds).
    AccountsTooManyAttempts = 42,
    /// The session has been logged out or revoked (accounts-js's code).
    AccountsInvalidSession = 43,
}

impl accounts_result {
    pub(crate) fn from_code(code: ErrorCode) -> accounts_result {
        match code {
            ErrorCode::InvalidConfig => accounts_result::AccountsInvalidConfig,
            ErrorCode::InvalidArgument => accounts_result::AccountsInvalidArgument,
            ErrorCode::InternalError => accounts_result::AccountsInternalError,
            ErrorCode::StorageError => accounts_result::AccountsStorageError,
            ErrorCode::CallbackError => accounts_result::AccountsCallbackError,
            ErrorCode::ServiceNotFound => accounts_result::AccountsServiceNotFound,
            ErrorCode::AuthenticationFailed => accounts_result::AccountsAuthenticationFailed,
            ErrorCode::UserDeactivated => accounts_result::AccountsUserDeactivated,
            ErrorCode::InvalidToken => accounts_result::AccountsInvalidToken,
            ErrorCode::TokenVerificationFailed => accounts_result::AccountsTokenVerificationFailed,
            ErrorCode::SessionNotFound => accounts_result::AccountsSessionNotFound,
            ErrorCode::SessionNotValid => accounts_result::AccountsSessionNotValid,
            ErrorCode::UserNotFound => accounts_result::AccountsUserNotFound,
            ErrorCode::ImpersonatedUserNotFound => accounts_result::AccountsImpersonatedUserNotFound,
            ErrorCode::InvalidTokens => accounts_result::AccountsInvalidTokens,
            ErrorCode::RefreshTokenReused => accounts_result::AccountsRefreshTokenReused,
            ErrorCode::UsernameOrEmailRequired => accounts_result::AccountsUsernameOrEmailRequired,
            ErrorCode::InvalidUsername => accounts_result::AccountsInvalidUsername,
            ErrorCode::InvalidEmail => accounts_result::AccountsInvalidEmail,
            ErrorCode::InvalidPassword => accounts_result::AccountsInvalidPassword,
            ErrorCode::EmailAlreadyExists => accounts_result::AccountsEmailAlreadyExists,
            ErrorCode::UsernameAlreadyExists => accounts_result::AccountsUsernameAlreadyExists,
            ErrorCode::UnrecognizedOptionsForLogin => accounts_result::AccountsUnrecognizedOptionsForLogin,
            ErrorCode::MatchFailed => accounts_result::AccountsMatchFailed,
            ErrorCode::InvalidCredentials => accounts_result::AccountsInvalidCredentials,
            ErrorCode::IncorrectPassword => accounts_result::AccountsIncorrectPassword,
            ErrorCode::NoPasswordSet => accounts_result::AccountsNoPasswordSet,
            ErrorCode::EmailNotVerified => accounts_result::AccountsEmailNotVerified,
            ErrorCode::Unauthorized => accounts_result::AccountsUnauthorized,
            ErrorCode::VerifyEmailLinkExpired => accounts_result::AccountsVerifyEmailLinkExpired,
            ErrorCode::VerifyEmailLinkUnknownAddress => accounts_result::AccountsVerifyEmailLinkUnknownAddress,
            ErrorCode::ResetPasswordLinkExpired => accounts_result::AccountsResetPasswordLinkExpired,
            ErrorCode::ResetPasswordLinkUnknownAddress => accounts_result::AccountsResetPasswordLinkUnknownAddress,
            ErrorCode::InvalidNewPassword => accounts_result::AccountsInvalidNewPassword,
            ErrorCode::NoEmailSet => accounts_result::AccountsNoEmailSet,
            ErrorCode::EmailNotFound => accounts_result::AccountsEmailNotFound,
            ErrorCode::TwoFactorCodeRequired => accounts_result::AccountsTwoFactorCodeRequired,
            ErrorCode::TwoFactorCodeDidNotMatch => accounts_result::AccountsTwoFactorCodeDidNotMatch,
            ErrorCode::TwoFactorNotSet => accounts_result::AccountsTwoFactorNotSet,
            ErrorCode::TwoFactorAlreadySet => accounts_result::AccountsTwoFactorAlreadySet,
            ErrorCode::LoginTokenExpired => accounts_result::AccountsLoginTokenExpired,
            ErrorCode::TooManyAttempts => accounts_result::AccountsTooManyAttempts,
            ErrorCode::InvalidSession => accounts_result::AccountsInvalidSession,
        }
    }
}

/// The code string of a result value ("OK", "InvalidCredentials", ...) as a static string.
/// Takes a plain integer so a host built against a newer header can pass any value: one outside
/// the table gives "Unknown". Never NULL; do not free. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn accounts_result_name(result: c_int) -> *const c_char {
    static NAMES: OnceLock<Vec<(c_int, CString)>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let table = ErrorCode::ALL.iter().map(|c| (c.number() as c_int, c.as_str()));
        std::iter::once((0, "OK")).chain(table).map(|(n, name)| (n, CString::new(name).unwrap_or_default())).collect()
    });
    names.iter().find(|(n, _)| *n == result).map_or(c"Unknown".as_ptr(), |(_, name)| name.as_ptr())
}

/// An error: a code, a message and optional JSON details. Owned by the caller; free with
/// `accounts_error_free`.
pub struct accounts_error {
    code: ErrorCode,
    code_name: CString,
    message: CString,
    details: Option<CString>,
}

impl From<AccountsError> for accounts_error {
    fn from(e: AccountsError) -> Self {
        let clean = |s: String| CString::new(s.replace('\0', " ")).unwrap_or_default();
        accounts_error {
            code: e.code,
            code_name: clean(e.code_name().to_string()),
            message: clean(e.message),
            details: e.details.map(|d| clean(d.to_string())),
        }
    }
}

/// The error's result code. A NULL `error` gives `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// `error` must be NULL or a live `accounts_error` from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_error_code(error: *const accounts_error) -> accounts_result {
    match unsafe { error.as_ref() } {
        Some(e) => accounts_result::from_code(e.code),
        None => accounts_result::AccountsInvalidArgument,
    }
}

/// The error's code string, borrowed like the message: the table's name ("InvalidCredentials"), or
/// for an error a host callback set, the code string it set (any string). NULL for a NULL `error`.
///
/// # Safety
/// `error` must be NULL or a live `accounts_error` from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_error_code_name(error: *const accounts_error) -> *const c_char {
    match unsafe { error.as_ref() } {
        Some(e) => e.code_name.as_ptr(),
        None => std::ptr::null(),
    }
}

/// The error's message, borrowed: valid until `accounts_error_free(error)`. NULL for a NULL `error`.
///
/// # Safety
/// `error` must be NULL or a live `accounts_error` from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_error_message(error: *const accounts_error) -> *const c_char {
    match unsafe { error.as_ref() } {
        Some(e) => e.message.as_ptr(),
        None => std::ptr::null(),
    }
}

/// The error's details as JSON, borrowed like the message; NULL when there are none.
///
/// # Safety
/// `error` must be NULL or a live `accounts_error` from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_error_details_json(error: *const accounts_error) -> *const c_char {
    match unsafe { error.as_ref() }.and_then(|e| e.details.as_ref()) {
        Some(d) => d.as_ptr(),
        None => std::ptr::null(),
    }
}

/// Frees an error. NULL is a no-op.
///
/// # Safety
/// `error` must be NULL or an `accounts_error` from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_error_free(error: *mut accounts_error) {
    if !error.is_null() {
        let _ = guard(std::ptr::null_mut(), || {
            drop(unsafe { Box::from_raw(error) });
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn the_c_enum_matches_the_core_table() {
        for code in ErrorCode::ALL {
            let r = accounts_result::from_code(*code);
            assert_eq!(r as u32, code.number(), "{code:?}");
            let name = unsafe { CStr::from_ptr(accounts_result_name(r as c_int)) }.to_str().unwrap();
            assert_eq!(name, code.as_str());
        }
        let name = |v: c_int| unsafe { CStr::from_ptr(accounts_result_name(v)) }.to_str().unwrap();
        assert_eq!(name(0), "OK");
        for outside in [-1, ErrorCode::ALL.len() as c_int + 1, 9999, c_int::MIN, c_int::MAX] {
            assert_eq!(name(outside), "Unknown", "{outside}");
        }
    }
}
