//! `accounts_server_*`: the server handle and the accounts-js server methods.

use crate::callbacks::{CCallback, accounts_callback_fn, accounts_callbacks, listener};
use crate::error::{accounts_error, accounts_result};
use crate::guard::*;
use accounts_core::{AccountsError, AccountsServer, ConnectionInfo, ErrorCode, ImpersonationTarget, Result, RevokeAllOptions};
use serde_json::Value;
use std::ffi::{c_char, c_void};

/// A server. Thread-safe: one handle may be used from many threads at once.
pub struct accounts_server {
    inner: AccountsServer,
}

pub(crate) fn server_ref<'a>(server: *const accounts_server) -> Result<&'a AccountsServer> {
    // SAFETY: NULL or a live handle from accounts_server_new, per the contract.
    unsafe { server.as_ref() }.map(|s| &s.inner).ok_or_else(|| AccountsError::new(ErrorCode::InvalidArgument, "server must not be NULL"))
}

/// Creates a server from a JSON config (docs/configuration.md: `db`, `tokenSecret`, ...), opening and migrating
/// the database. `callbacks` may be NULL; the server copies it.
///
/// On success writes a new handle to `*server_out` (free it with `accounts_server_free`).
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_CONFIG`, `ACCOUNTS_INVALID_ARGUMENT` (NULL, non-UTF-8),
/// `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// Strings NUL-terminated; pointers NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_new(
    config_json: *const c_char,
    callbacks: *const accounts_callbacks,
    server_out: *mut *mut accounts_server,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        out_arg(server_out, "server_out")?;
        let text = unsafe { str_arg(config_json, "config_json") }?;
        let cbs = unsafe { callbacks.as_ref() }.map(|c| c.inner.clone()).unwrap_or_default();
        let inner = AccountsServer::from_json(text, cbs)?;
        unsafe { write_value(server_out, Box::into_raw(Box::new(accounts_server { inner }))) };
        Ok(())
    })
}

/// Frees a server and closes its database. NULL is a no-op. No other thread may be using it.
///
/// # Safety
/// `server` must be NULL or a handle from `accounts_server_new`, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_free(server: *mut accounts_server) {
    if !server.is_null() {
        let _ = guard(std::ptr::null_mut(), || {
            drop(unsafe { Box::from_raw(server) });
            Ok(())
        });
    }
}

/// Logs in with a service (e.g. "password" with `{"user": {"email": ...}, "password": ...}`).
/// `infos_json` (`{"ip", "userAgent"}`) may be NULL. On success `*result_json_out` receives a
/// LoginResult JSON `{sessionId, tokens: {accessToken, refreshToken}, user}`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_SERVICE_NOT_FOUND`, `ACCOUNTS_INVALID_CREDENTIALS`,
/// `ACCOUNTS_UNRECOGNIZED_OPTIONS_FOR_LOGIN`, `ACCOUNTS_MATCH_FAILED`, `ACCOUNTS_USER_DEACTIVATED`,
/// `ACCOUNTS_EMAIL_NOT_VERIFIED`, `ACCOUNTS_AUTHENTICATION_FAILED`, `ACCOUNTS_CALLBACK_ERROR`,
/// `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function: `server` live, strings NUL-terminated, out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_login_with_service(
    server: *const accounts_server,
    service: *const c_char,
    params_json: *const c_char,
    infos_json: *const c_char,
    result_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(result_json_out, "result_json_out")?;
        let service = unsafe { str_arg(service, "service") }?;
        let params: Value = unsafe { json_arg(params_json, "params_json") }?;
        let infos: ConnectionInfo = unsafe { opt_json_arg(infos_json, "infos_json") }?;
        let r = s.login_with_service(service, &params, &infos)?;
        unsafe { write_json(result_json_out, &r) }
    })
}

/// Checks credentials with a service without creating a session; `*authenticated_out` is set to true.
/// Results: as `accounts_server_login_with_service`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_authenticate_with_service(
    server: *const accounts_server,
    service: *const c_char,
    params_json: *const c_char,
    infos_json: *const c_char,
    authenticated_out: *mut bool,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(authenticated_out, "authenticated_out")?;
        let service = unsafe { str_arg(service, "service") }?;
        let params: Value = unsafe { json_arg(params_json, "params_json") }?;
        let infos: ConnectionInfo = unsafe { opt_json_arg(infos_json, "infos_json") }?;
        let ok = s.authenticate_with_service(service, &params, &infos)?;
        unsafe { write_value(authenticated_out, ok) };
        Ok(())
    })
}

/// Creates a session for a user without credentials; LoginResult JSON in `*result_json_out`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_USER_DEACTIVATED`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_login_with_user(
    server: *const accounts_server,
    user_id: *const c_char,
    infos_json: *const c_char,
    result_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(result_json_out, "result_json_out")?;
        let user_id = unsafe { str_arg(user_id, "user_id") }?;
        let infos: ConnectionInfo = unsafe { opt_json_arg(infos_json, "infos_json") }?;
        let r = s.login_with_user(user_id, &infos)?;
        unsafe { write_json(result_json_out, &r) }
    })
}

/// Checks an access token, its session and its user; the user JSON goes to `*user_json_out`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_TOKEN`, `ACCOUNTS_TOKEN_VERIFICATION_FAILED`,
/// `ACCOUNTS_SESSION_NOT_FOUND`, `ACCOUNTS_INVALID_SESSION`, `ACCOUNTS_USER_NOT_FOUND`,
/// `ACCOUNTS_USER_DEACTIVATED`, `ACCOUNTS_CALLBACK_ERROR`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_resume_session(
    server: *const accounts_server,
    access_token: *const c_char,
    user_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(user_json_out, "user_json_out")?;
        let token = unsafe { str_arg(access_token, "access_token") }?;
        let user = s.resume_session(token)?;
        unsafe { write_json(user_json_out, &user) }
    })
}

/// Rotates the session's refresh token; a new LoginResult JSON goes to `*result_json_out`. The
/// access token may be expired. Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_TOKENS`,
/// `ACCOUNTS_TOKEN_VERIFICATION_FAILED`, `ACCOUNTS_SESSION_NOT_FOUND`, `ACCOUNTS_INVALID_SESSION`,
/// `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_USER_DEACTIVATED`, `ACCOUNTS_REFRESH_TOKEN_REUSED` (the
/// session is then revoked), `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_refresh_tokens(
    server: *const accounts_server,
    access_token: *const c_char,
    refresh_token: *const c_char,
    infos_json: *const c_char,
    result_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(result_json_out, "result_json_out")?;
        let at = unsafe { str_arg(access_token, "access_token") }?;
        let rt = unsafe { str_arg(refresh_token, "refresh_token") }?;
        let infos: ConnectionInfo = unsafe { opt_json_arg(infos_json, "infos_json") }?;
        let r = s.refresh_tokens(at, rt, &infos)?;
        unsafe { write_json(result_json_out, &r) }
    })
}

/// Ends the session of an access token. Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_TOKEN`,
/// `ACCOUNTS_TOKEN_VERIFICATION_FAILED`, `ACCOUNTS_SESSION_NOT_FOUND`, `ACCOUNTS_INVALID_SESSION`,
/// `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_logout(
    server: *const accounts_server,
    access_token: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        let at = unsafe { str_arg(access_token, "access_token") }?;
        s.logout(at)
    })
}

/// Impersonates the user named by `target_json` (`{"userId"}`, `{"username"}` or `{"email"}`) if the
/// "impersonationAuthorize" callback allows it; ImpersonationResult JSON `{authorized, tokens?, user?}`
/// goes to `*result_json_out`. Results: `ACCOUNTS_OK` (also when not authorized), the token and session
/// results of `accounts_server_resume_session`, `ACCOUNTS_IMPERSONATED_USER_NOT_FOUND` (not ambiguous mode).
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_impersonate(
    server: *const accounts_server,
    access_token: *const c_char,
    target_json: *const c_char,
    infos_json: *const c_char,
    result_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(result_json_out, "result_json_out")?;
        let at = unsafe { str_arg(access_token, "access_token") }?;
        let target: ImpersonationTarget = unsafe { json_arg(target_json, "target_json") }?;
        let infos: ConnectionInfo = unsafe { opt_json_arg(infos_json, "infos_json") }?;
        let r = s.impersonate(at, &target, &infos)?;
        unsafe { write_json(result_json_out, &r) }
    })
}

/// Finds a user by id; `*user_json_out` receives the user JSON or the text `null`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_find_user_by_id(
    server: *const accounts_server,
    user_id: *const c_char,
    user_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(user_json_out, "user_json_out")?;
        let id = unsafe { str_arg(user_id, "user_id") }?;
        let u = s.find_user_by_id(id)?;
        unsafe { write_json(user_json_out, &u) }
    })
}

/// The session of an access token (valid or not) as JSON in `*session_json_out`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_TOKEN`, `ACCOUNTS_TOKEN_VERIFICATION_FAILED`,
/// `ACCOUNTS_SESSION_NOT_FOUND`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_find_session_by_access_token(
    server: *const accounts_server,
    access_token: *const c_char,
    session_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(session_json_out, "session_json_out")?;
        let at = unsafe { str_arg(access_token, "access_token") }?;
        let session = s.find_session_by_access_token(at)?;
        unsafe { write_json(session_json_out, &session) }
    })
}

/// Deactivates a user (their next resume, refresh and login fail with `ACCOUNTS_USER_DEACTIVATED`).
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_deactivate_user(
    server: *const accounts_server,
    user_id: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || server_ref(server)?.deactivate_user(unsafe { str_arg(user_id, "user_id") }?))
}

/// Reactivates a user. Results: `ACCOUNTS_OK`, `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_activate_user(
    server: *const accounts_server,
    user_id: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || server_ref(server)?.activate_user(unsafe { str_arg(user_id, "user_id") }?))
}

/// Every session of a user, newest first, as a JSON array in `*sessions_json_out`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_list_sessions(
    server: *const accounts_server,
    user_id: *const c_char,
    sessions_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(sessions_json_out, "sessions_json_out")?;
        let list = s.list_sessions(unsafe { str_arg(user_id, "user_id") }?)?;
        unsafe { write_json(sessions_json_out, &list) }
    })
}

/// Revokes one session; `*was_valid_out` says whether it was still valid.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_SESSION_NOT_FOUND`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_revoke_session(
    server: *const accounts_server,
    session_id: *const c_char,
    was_valid_out: *mut bool,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(was_valid_out, "was_valid_out")?;
        let v = s.revoke_session(unsafe { str_arg(session_id, "session_id") }?)?;
        unsafe { write_value(was_valid_out, v) };
        Ok(())
    })
}

/// Revokes every valid session of a user except `{"except": sessionId}` (`options_json` may be NULL);
/// `*revoked_out` receives the count. Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_revoke_all_sessions(
    server: *const accounts_server,
    user_id: *const c_char,
    options_json: *const c_char,
    revoked_out: *mut u64,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(revoked_out, "revoked_out")?;
        let user_id = unsafe { str_arg(user_id, "user_id") }?;
        let options: RevokeAllOptions = unsafe { opt_json_arg(options_json, "options_json") }?;
        let n = s.revoke_all_sessions(user_id, &options)?;
        unsafe { write_value(revoked_out, n) };
        Ok(())
    })
}

/// Imports users stored by accounts-js: `records_json` is a JSON array of `@accounts/mongo`
/// documents or `@accounts/typeorm` user rows (at most 1 MiB of JSON per call: import in batches).
/// `*report_json_out` receives `{"imported": n, "skipped": n, "failed": [{"index", "code",
/// "message"}]}`; a bad record is reported there and does not stop the others. Results:
/// `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT` (not a JSON array), `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_import_users(
    server: *const accounts_server,
    records_json: *const c_char,
    report_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(report_json_out, "report_json_out")?;
        let records: Vec<Value> = unsafe { json_arg(records_json, "records_json") }?;
        unsafe { write_json(report_json_out, &s.import_users(&records)?) }
    })
}

/// The shape of the functions that hand back one JSON value of a server: check the handle and the
/// output pointer, compute, write.
///
/// # Safety
/// As for every function.
pub(crate) unsafe fn server_json<T: serde::Serialize>(
    server: *const accounts_server,
    json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
    value: impl FnOnce(&AccountsServer) -> Result<T>,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(json_out, "json_out")?;
        unsafe { write_json(json_out, &value(s)?) }
    })
}

/// The JWKS document of the token signing key: `{"keys": [...]}` with the public key of a key-pair
/// `tokenSecret` (empty for an HMAC secret, which is never published). Serve it at
/// `/.well-known/jwks.json` for other services. Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_jwks(
    server: *const accounts_server,
    jwks_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    unsafe { server_json(server, jwks_json_out, error_out, |s| Ok(s.jwks())) }
}

/// Verifies an access token without a server or database (for other services):
/// `options_json` is `{"jwks": {...}}`, `{"publicKey": "<PEM>", "algorithm": "RS256"}` or
/// `{"secret": "...", "algorithm": "HS256"}`, plus optional `"issuer"` and `"audience"`.
/// `*claims_json_out` receives the token's claims. A session revoked since is not seen here.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_TOKEN`, `ACCOUNTS_TOKEN_VERIFICATION_FAILED`,
/// `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_verify_access_token(
    token: *const c_char,
    options_json: *const c_char,
    claims_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        out_arg(claims_json_out, "claims_json_out")?;
        let token = unsafe { str_arg(token, "token") }?;
        let options: accounts_core::VerifyOptions = unsafe { json_arg(options_json, "options_json") }?;
        unsafe { write_json(claims_json_out, &accounts_core::verify_access_token(token, &options)?) }
    })
}

/// Replaces the JWT key ring without a restart: `keys_json` is a `tokenKeys` object
/// (`{"current": kid, "keys": [{"kid", "algorithm", "secret" | "privateKey" + "publicKey" |
/// "publicKey" | "jwk"}]}`; docs/tokens.md, "Key rotation"). New tokens are signed with `current`;
/// tokens of keys still in the ring keep verifying. A ring that does not validate changes nothing.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_CONFIG`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_set_keys(
    server: *const accounts_server,
    keys_json: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        let keys: Value = unsafe { json_arg(keys_json, "keys_json") }?;
        s.set_keys(&keys)
    })
}

/// Seals every stored two-factor secret still under an earlier sealing key with the current
/// `sealingSecret` (after a rotation); `*resealed_out` receives how many. Results: `ACCOUNTS_OK`,
/// `ACCOUNTS_INTERNAL_ERROR` (a secret no configured key opens), `ACCOUNTS_STORAGE_ERROR`,
/// `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_reseal_all(
    server: *const accounts_server,
    resealed_out: *mut u64,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(resealed_out, "resealed_out")?;
        let n = s.reseal_all()?;
        unsafe { write_value(resealed_out, n) };
        Ok(())
    })
}

/// Deletes expired link tokens and failed-attempt counters; `*report_json_out` receives
/// `{"tokens": n, "attempts": n}`. Results: `ACCOUNTS_OK`, `ACCOUNTS_STORAGE_ERROR`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_purge_expired(
    server: *const accounts_server,
    report_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    unsafe { server_json(server, report_json_out, error_out, |s| s.purge_expired()) }
}

/// The names of the registered services as a JSON array (e.g. `["password"]`).
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_get_services(
    server: *const accounts_server,
    names_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    unsafe { server_json(server, names_json_out, error_out, |s| Ok(s.service_names())) }
}

/// The effective options as JSON (defaults filled in; `tokenSecret` and the password in `db` shown
/// as `[redacted]`).
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_options(
    server: *const accounts_server,
    options_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    unsafe { server_json(server, options_json_out, error_out, |s| Ok(s.options().clone())) }
}

/// Adds an event listener ("LoginSuccess", "RefreshTokenReused", ...). It receives
/// `{"event", "payload"}`; setting an error aborts the operation that emitted the event (for
/// "...Error" events the original error is kept). `*listener_id_out` identifies it for `accounts_server_off`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function; `user_data` must be usable from any thread while the listener is registered.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_on(
    server: *const accounts_server,
    event: *const c_char,
    callback: accounts_callback_fn,
    user_data: *mut c_void,
    listener_id_out: *mut u64,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(listener_id_out, "listener_id_out")?;
        let event = unsafe { str_arg(event, "event") }?;
        let id = s.on(event, listener(CCallback::new(callback, user_data)?));
        unsafe { write_value(listener_id_out, id) };
        Ok(())
    })
}

/// Removes a listener; `*removed_out` (may be NULL) says whether it was registered.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_off(
    server: *const accounts_server,
    listener_id: u64,
    removed_out: *mut bool,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let removed = server_ref(server)?.off(listener_id);
        if !removed_out.is_null() {
            unsafe { write_value(removed_out, removed) };
        }
        Ok(())
    })
}
