//! `accounts_password_*`: the password service.

use crate::error::{accounts_error, accounts_result};
use crate::guard::*;
use crate::server::{accounts_server, server_ref};
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
