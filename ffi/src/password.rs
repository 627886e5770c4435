//! `accounts_password_*`: the password service.

use crate::error::{accounts_error, accounts_result};
use crate::guard::*;
use crate::server::{accounts_server, server_ref};
use accounts_core::ConnectionInfo;
use serde_json::Value;
use std::ffi::c_char;

/// Creates a user from `{"username"?, "email"?, "password"?, ...profile}`; the new id (a plain
/// string, not JSON) goes to `*user_id_out`. Results: `ACCOUNTS_OK`, `ACCOUNTS_USERNAME_OR_EMAIL_REQUIRED`,
/// `ACCOUNTS_INVALID_USERNAME`, `ACCOUNTS_INVALID_EMAIL`, `ACCOUNTS_INVALID_PASSWORD`,
/// `ACCOUNTS_EMAIL_ALREADY_EXISTS`, `ACCOUNTS_USERNAME_ALREADY_EXISTS`, `ACCOUNTS_CALLBACK_ERROR`,
/// `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function: `server` live, strings NUL-terminated, out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_create_user(
    server: *const accounts_server,
    user_json: *const c_char,
    user_id_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(user_id_out, "user_id_out")?;
        let user: Value = unsafe { json_arg(user_json, "user_json") }?;
        let id = s.password().create_user(&user)?;
        unsafe { write_string(user_id_out, id) }
    })
}

/// Checks `{"user": {"email"|"username"|"id"} | "name-or-email", "password"}` without creating a
/// session; the user JSON goes to `*user_json_out`. Results: `ACCOUNTS_OK`,
/// `ACCOUNTS_UNRECOGNIZED_OPTIONS_FOR_LOGIN`, `ACCOUNTS_MATCH_FAILED`, `ACCOUNTS_INVALID_CREDENTIALS`
/// (or, not ambiguous, `ACCOUNTS_USER_NOT_FOUND` / `ACCOUNTS_NO_PASSWORD_SET` / `ACCOUNTS_INCORRECT_PASSWORD`),
/// `ACCOUNTS_EMAIL_NOT_VERIFIED`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_authenticate(
    server: *const accounts_server,
    params_json: *const c_char,
    user_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(user_json_out, "user_json_out")?;
        let params: Value = unsafe { json_arg(params_json, "params_json") }?;
        let user = s.password().authenticate(&params)?;
        unsafe { write_json(user_json_out, &user) }
    })
}

/// Finds a user by email (case-insensitive); user JSON or `null` in `*user_json_out`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_find_user_by_email(
    server: *const accounts_server,
    email: *const c_char,
    user_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(user_json_out, "user_json_out")?;
        let u = s.password().find_user_by_email(unsafe { str_arg(email, "email") }?)?;
        unsafe { write_json(user_json_out, &u) }
    })
}

/// Finds a user by username (exact); user JSON or `null` in `*user_json_out`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_find_user_by_username(
    server: *const accounts_server,
    username: *const c_char,
    user_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(user_json_out, "user_json_out")?;
        let u = s.password().find_user_by_username(unsafe { str_arg(username, "username") }?)?;
        unsafe { write_json(user_json_out, &u) }
    })
}

/// Sets a user's password (admin operation). Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_PASSWORD`,
/// `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_set_password(
    server: *const accounts_server,
    user_id: *const c_char,
    password: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        let id = unsafe { str_arg(user_id, "user_id") }?;
        let pw = unsafe { str_arg(password, "password") }?;
        s.password().set_password(id, pw)
    })
}

/// Adds an email address to a user (`verified` marks it verified right away). Results:
/// `ACCOUNTS_OK`, `ACCOUNTS_INVALID_EMAIL`, `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_EMAIL_ALREADY_EXISTS`,
/// `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_add_email(
    server: *const accounts_server,
    user_id: *const c_char,
    email: *const c_char,
    verified: bool,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        let id = unsafe { str_arg(user_id, "user_id") }?;
        s.password().add_email(id, unsafe { str_arg(email, "email") }?, verified)
    })
}

/// Removes an email address from a user; links mailed to it stop working. Results: `ACCOUNTS_OK`,
/// `ACCOUNTS_INVALID_EMAIL`, `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_EMAIL_NOT_FOUND`,
/// `ACCOUNTS_NO_EMAIL_SET` (the last address of a user without username), `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_remove_email(
    server: *const accounts_server,
    user_id: *const c_char,
    email: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        let id = unsafe { str_arg(user_id, "user_id") }?;
        s.password().remove_email(id, unsafe { str_arg(email, "email") }?)
    })
}

/// Mails a verification link to `address` through the `sendMail` callback. Already verified: no
/// mail. Unknown address: `ACCOUNTS_OK` in ambiguous mode, else `ACCOUNTS_USER_NOT_FOUND`. Other
/// results: `ACCOUNTS_INVALID_EMAIL`, `ACCOUNTS_CALLBACK_ERROR`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_send_verification_email(
    server: *const accounts_server,
    address: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || server_ref(server)?.password().send_verification_email(unsafe { str_arg(address, "address") }?))
}

/// Marks the address of a verification link verified. Results: `ACCOUNTS_OK`,
/// `ACCOUNTS_INVALID_TOKEN`, `ACCOUNTS_VERIFY_EMAIL_LINK_EXPIRED` (unknown, used or expired),
/// `ACCOUNTS_VERIFY_EMAIL_LINK_UNKNOWN_ADDRESS`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_verify_email(
    server: *const accounts_server,
    token: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || server_ref(server)?.password().verify_email(unsafe { str_arg(token, "token") }?))
}

/// Mails a password reset link; older reset links of the user stop working. Unknown address:
/// `ACCOUNTS_OK` in ambiguous mode, else `ACCOUNTS_USER_NOT_FOUND`. Other results:
/// `ACCOUNTS_INVALID_EMAIL`, `ACCOUNTS_CALLBACK_ERROR`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_send_reset_password_email(
    server: *const accounts_server,
    address: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || server_ref(server)?.password().send_reset_password_email(unsafe { str_arg(address, "address") }?))
}

/// Mails an enrollment link (set a first password). Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_EMAIL`,
/// `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_CALLBACK_ERROR`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_send_enrollment_email(
    server: *const accounts_server,
    address: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || server_ref(server)?.password().send_enrollment_email(unsafe { str_arg(address, "address") }?))
}

/// Sets a new password with a reset or enrollment link token. `*login_result_json_out` receives
/// a LoginResult when `returnTokensAfterResetPassword` is on, else `null`; for a user with
/// two-factor on only when `code` (may be NULL) is a valid code — without one the password still
/// changes and the result is `null`. `infos_json` may be NULL. Results: `ACCOUNTS_OK`,
/// `ACCOUNTS_INVALID_TOKEN`, `ACCOUNTS_INVALID_NEW_PASSWORD`, `ACCOUNTS_RESET_PASSWORD_LINK_EXPIRED`,
/// `ACCOUNTS_RESET_PASSWORD_LINK_UNKNOWN_ADDRESS`, `ACCOUNTS_TWO_FACTOR_CODE_DID_NOT_MATCH` (nothing
/// changed), `ACCOUNTS_TOO_MANY_ATTEMPTS`, `ACCOUNTS_USER_DEACTIVATED`, `ACCOUNTS_CALLBACK_ERROR`,
/// `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_reset_password(
    server: *const accounts_server,
    token: *const c_char,
    new_password: *const c_char,
    code: *const c_char,
    infos_json: *const c_char,
    login_result_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(login_result_json_out, "login_result_json_out")?;
        let token = unsafe { str_arg(token, "token") }?;
        let pw = unsafe { str_arg(new_password, "new_password") }?;
        let code = unsafe { opt_str_arg(code, "code") }?;
        let infos: ConnectionInfo = unsafe { opt_json_arg(infos_json, "infos_json") }?;
        let r = s.password().reset_password(token, pw, code, &infos)?;
        unsafe { write_json(login_result_json_out, &r) }
    })
}

/// Changes a user's password after checking the old one. Results: `ACCOUNTS_OK`,
/// `ACCOUNTS_INVALID_NEW_PASSWORD`, `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_INVALID_CREDENTIALS` (or,
/// not ambiguous, `ACCOUNTS_INCORRECT_PASSWORD` / `ACCOUNTS_NO_PASSWORD_SET`),
/// `ACCOUNTS_CALLBACK_ERROR`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_change_password(
    server: *const accounts_server,
    user_id: *const c_char,
    old_password: *const c_char,
    new_password: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        let id = unsafe { str_arg(user_id, "user_id") }?;
        let old = unsafe { str_arg(old_password, "old_password") }?;
        s.password().change_password(id, old, unsafe { str_arg(new_password, "new_password") }?)
    })
}

/// A new TOTP secret in speakeasy's shape: `{"ascii", "hex", "base32", "otpauthUrl", "otpauth_url"}` (the same URL twice: accounts-js reads `otpauth_url`) in `*secret_json_out` (show the URL as a QR code).
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INTERNAL_ERROR`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_two_factor_get_new_auth_secret(
    server: *const accounts_server,
    secret_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    unsafe { crate::server::server_json(server, secret_json_out, error_out, |s| s.password().two_factor().get_new_auth_secret()) }
}

/// Turns two-factor on once `code` proves the user holds `secret_base32`; the recovery codes (a
/// JSON array of strings, shown once) go to `*recovery_codes_json_out`. Results: `ACCOUNTS_OK`,
/// `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_TWO_FACTOR_ALREADY_SET`, `ACCOUNTS_TWO_FACTOR_CODE_DID_NOT_MATCH`,
/// `ACCOUNTS_INVALID_ARGUMENT` (also for a secret that is not base32).
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_two_factor_set(
    server: *const accounts_server,
    user_id: *const c_char,
    secret_base32: *const c_char,
    code: *const c_char,
    recovery_codes_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(recovery_codes_json_out, "recovery_codes_json_out")?;
        let id = unsafe { str_arg(user_id, "user_id") }?;
        let secret = unsafe { str_arg(secret_base32, "secret_base32") }?;
        let codes = s.password().two_factor().set(id, secret, unsafe { str_arg(code, "code") }?)?;
        unsafe { write_json(recovery_codes_json_out, &codes) }
    })
}

/// Turns two-factor off; `code` is a current TOTP code or a recovery code. Results: `ACCOUNTS_OK`,
/// `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_TWO_FACTOR_NOT_SET`, `ACCOUNTS_TWO_FACTOR_CODE_DID_NOT_MATCH`,
/// `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_two_factor_unset(
    server: *const accounts_server,
    user_id: *const c_char,
    code: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        let id = unsafe { str_arg(user_id, "user_id") }?;
        s.password().two_factor().unset(id, unsafe { str_arg(code, "code") }?)
    })
}

/// Replaces the recovery codes (needs a current TOTP code or a recovery code); the new ones go to
/// `*recovery_codes_json_out`. Results as `accounts_password_two_factor_unset`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_two_factor_regenerate_recovery_codes(
    server: *const accounts_server,
    user_id: *const c_char,
    code: *const c_char,
    recovery_codes_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(recovery_codes_json_out, "recovery_codes_json_out")?;
        let id = unsafe { str_arg(user_id, "user_id") }?;
        let codes = s.password().two_factor().regenerate_recovery_codes(id, unsafe { str_arg(code, "code") }?)?;
        unsafe { write_json(recovery_codes_json_out, &codes) }
    })
}

/// Whether the user has two-factor on (`*is_set_out`). Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_password_two_factor_is_set(
    server: *const accounts_server,
    user_id: *const c_char,
    is_set_out: *mut bool,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(is_set_out, "is_set_out")?;
        let v = s.password().two_factor().is_set(unsafe { str_arg(user_id, "user_id") }?)?;
        unsafe { write_value(is_set_out, v) };
        Ok(())
    })
}

/// Mails a single-use login link (log in with `accounts_server_login_with_service(s, "magicLink",
/// "{\"token\": ...}", ...)`). Unknown address: `ACCOUNTS_OK` in ambiguous mode, else
/// `ACCOUNTS_USER_NOT_FOUND`. Other results: `ACCOUNTS_INVALID_EMAIL`, `ACCOUNTS_CALLBACK_ERROR`,
/// `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_magic_link_request_magic_link_email(
    server: *const accounts_server,
    email: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || server_ref(server)?.magic_link().request_magic_link_email(unsafe { str_arg(email, "email") }?))
}
