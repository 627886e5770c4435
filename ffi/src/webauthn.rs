//! `accounts_webauthn_*`: passkeys (docs/passkeys.md). Signing in with a passkey is
//! `accounts_server_login_with_service(s, "webauthn", "{\"response\": ...}", ...)`, the response
//! being the browser's `credential.toJSON()`.

use crate::error::{accounts_error, accounts_result};
use crate::guard::*;
use crate::server::{accounts_server, server_ref};
use accounts_core::ConnectionInfo;
use serde_json::Value;
use std::ffi::c_char;

/// Starts adding a passkey to the signed-in user `user_id`: `*options_json_out` receives the
/// `PublicKeyCredentialCreationOptionsJSON` to pass to `PublicKeyCredential.parseCreationOptionsFromJSON`
/// and `navigator.credentials.create`. Finish with [`accounts_webauthn_register`] before the
/// configured `timeout`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_SERVICE_NOT_FOUND` (no `services.webauthn`),
/// `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_USER_DEACTIVATED`, `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function: `server` live, strings NUL-terminated, out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_webauthn_registration_options(
    server: *const accounts_server,
    user_id: *const c_char,
    options_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(options_json_out, "options_json_out")?;
        let user_id = unsafe { str_arg(user_id, "user_id") }?;
        let options = s.webauthn().registration_options(user_id)?;
        unsafe { write_json(options_json_out, &options) }
    })
}

/// Verifies the browser's answer to [`accounts_webauthn_registration_options`] (`response_json`:
/// the `RegistrationResponseJSON` of `credential.toJSON()`) and stores the passkey;
/// `options_json` (`{"name"?}`) may be NULL. On success `*passkey_json_out` receives `{id, name,
/// createdAt, lastUsedAt, backupEligible, backupState, transports, aaguid}`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_SERVICE_NOT_FOUND`, `ACCOUNTS_USER_NOT_FOUND`,
/// `ACCOUNTS_INVALID_WEB_AUTHN_CHALLENGE`, `ACCOUNTS_WEB_AUTHN_VERIFICATION_FAILED` (details.reason),
/// `ACCOUNTS_PASSKEY_ALREADY_REGISTERED`, `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_webauthn_register(
    server: *const accounts_server,
    user_id: *const c_char,
    response_json: *const c_char,
    options_json: *const c_char,
    passkey_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(passkey_json_out, "passkey_json_out")?;
        let user_id = unsafe { str_arg(user_id, "user_id") }?;
        let response: Value = unsafe { json_arg(response_json, "response_json") }?;
        let options: Value = unsafe { opt_json_arg(options_json, "options_json") }?;
        let passkey = s.webauthn().register(user_id, &response, &options)?;
        unsafe { write_json(passkey_json_out, &passkey) }
    })
}

/// Starts a passkey sign-in: `*options_json_out` receives the `PublicKeyCredentialRequestOptionsJSON`
/// for `navigator.credentials.get`. `options_json` may be NULL or `{}` (usernameless sign-in,
/// conditional mediation), or name one user: `{"userId"}`, `{"username"}` or `{"email"}`.
/// `infos_json` (`{"ip"?, "userAgent"?}`, may be NULL): the client's address bounds its pending sign-ins.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_SERVICE_NOT_FOUND`, `ACCOUNTS_USER_NOT_FOUND` (only when
/// `ambiguousErrorMessages` is false), `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_webauthn_authentication_options(
    server: *const accounts_server,
    options_json: *const c_char,
    infos_json: *const c_char,
    options_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(options_json_out, "options_json_out")?;
        let options: Value = unsafe { opt_json_arg(options_json, "options_json") }?;
        let infos: ConnectionInfo = unsafe { opt_json_arg(infos_json, "infos_json") }?;
        let request = s.webauthn().authentication_options(&options, &infos)?;
        unsafe { write_json(options_json_out, &request) }
    })
}

/// The user's passkeys as a JSON array in `*passkeys_json_out`, oldest first.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_SERVICE_NOT_FOUND`, `ACCOUNTS_USER_NOT_FOUND`,
/// `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_webauthn_list_passkeys(
    server: *const accounts_server,
    user_id: *const c_char,
    passkeys_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(passkeys_json_out, "passkeys_json_out")?;
        let passkeys = s.webauthn().list_passkeys(unsafe { str_arg(user_id, "user_id") }?)?;
        unsafe { write_json(passkeys_json_out, &passkeys) }
    })
}

/// Renames one of the user's passkeys; `*passkey_json_out` receives it.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_SERVICE_NOT_FOUND`, `ACCOUNTS_USER_NOT_FOUND`,
/// `ACCOUNTS_PASSKEY_NOT_FOUND`, `ACCOUNTS_INVALID_ARGUMENT` (an empty name, over 100 characters),
/// `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_webauthn_rename_passkey(
    server: *const accounts_server,
    user_id: *const c_char,
    passkey_id: *const c_char,
    name: *const c_char,
    passkey_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(passkey_json_out, "passkey_json_out")?;
        let user_id = unsafe { str_arg(user_id, "user_id") }?;
        let passkey_id = unsafe { str_arg(passkey_id, "passkey_id") }?;
        let name = unsafe { str_arg(name, "name") }?;
        let passkey = s.webauthn().rename_passkey(user_id, passkey_id, name)?;
        unsafe { write_json(passkey_json_out, &passkey) }
    })
}

/// Removes one of the user's passkeys.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_SERVICE_NOT_FOUND`, `ACCOUNTS_USER_NOT_FOUND`,
/// `ACCOUNTS_PASSKEY_NOT_FOUND`, `ACCOUNTS_LAST_LOGIN_METHOD` (no password, no linked identity, no
/// other passkey), `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_webauthn_remove_passkey(
    server: *const accounts_server,
    user_id: *const c_char,
    passkey_id: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        s.webauthn().remove_passkey(unsafe { str_arg(user_id, "user_id") }?, unsafe { str_arg(passkey_id, "passkey_id") }?)
    })
}
