//! `accounts_oauth_*`: links between provider identities and users (docs/oauth.md). Logging in
//! with a provider is `accounts_server_login_with_service(s, "oauth", "{\"provider\": ...}", ...)`.

use crate::error::{accounts_error, accounts_result};
use crate::guard::*;
use crate::server::{accounts_server, server_ref};
use accounts_core::ConnectionInfo;
use serde_json::Value;
use std::ffi::c_char;

/// Starts an OpenID Connect login at `provider` (`"type": "oidc"`): `*request_json_out` receives
/// `{url, state}`, the URL to redirect the browser to and the `state` in it. `options_json`
/// (`{"loginHint"?, "prompt"?, "purpose"?: "login" | "link"}`; any other key is refused; a flow
/// finishes only as its purpose) may be NULL. `infos_json` (`{"ip"?, "userAgent"?}`, may be NULL):
/// the client's address bounds how many flows it may have pending (docs/security.md, "OAuth"). The
/// provider sends the browser back to the configured redirect URI with `code`, `state` (and `iss`):
/// log in with `accounts_server_login_with_service(s, "oauth", "{\"provider\": ..., \"code\": ...,
/// \"state\": ..., \"iss\": ...}", ...)`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_PROVIDER_NOT_FOUND`, `ACCOUNTS_PROVIDER_ERROR` (discovery
/// failed), `ACCOUNTS_INVALID_ARGUMENT` (a host provider, bad or unknown options), `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_oauth_authorization_url(
    server: *const accounts_server,
    provider: *const c_char,
    options_json: *const c_char,
    infos_json: *const c_char,
    request_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(request_json_out, "request_json_out")?;
        let provider = unsafe { str_arg(provider, "provider") }?;
        let options: Value = unsafe { opt_json_arg(options_json, "options_json") }?;
        let infos: ConnectionInfo = unsafe { opt_json_arg(infos_json, "infos_json") }?;
        let request = s.oauth().authorization_url(provider, &options, &infos)?;
        unsafe { write_json(request_json_out, &request) }
    })
}

/// Fetches every OpenID provider's discovery document afresh and its keys (docs/oauth.md): call it
/// at startup so a typo in an issuer fails the deploy, not the first login.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_PROVIDER_ERROR` (unreachable, another issuer in discovery, an
/// endpoint that is not https; the error's details name the `provider`).
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_oauth_check_providers(server: *const accounts_server, error_out: *mut *mut accounts_error) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        s.oauth().check_providers()
    })
}

/// Links the identity that `params_json` proves at `provider` (through the `oauthAuthenticate`
/// callback) to the logged-in user `user_id`; linking the same identity again is a no-op. On
/// success `*account_json_out` receives `{provider, id, userId, email, createdAt}`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_PROVIDER_NOT_FOUND`,
/// `ACCOUNTS_ACCOUNT_ALREADY_LINKED`, `ACCOUNTS_CALLBACK_ERROR` (or the code the callback set),
/// `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function: `server` live, strings NUL-terminated, out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_oauth_link_account(
    server: *const accounts_server,
    user_id: *const c_char,
    provider: *const c_char,
    params_json: *const c_char,
    account_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(account_json_out, "account_json_out")?;
        let user_id = unsafe { str_arg(user_id, "user_id") }?;
        let provider = unsafe { str_arg(provider, "provider") }?;
        let params: Value = unsafe { json_arg(params_json, "params_json") }?;
        let account = s.oauth().link_account(user_id, provider, &params)?;
        unsafe { write_json(account_json_out, &account) }
    })
}

/// Removes the user's identity of `provider`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_LINKED_ACCOUNT_NOT_FOUND`,
/// `ACCOUNTS_LAST_LOGIN_METHOD` (the user has no password and no other identity),
/// `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_oauth_unlink_account(
    server: *const accounts_server,
    user_id: *const c_char,
    provider: *const c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        s.oauth().unlink_account(unsafe { str_arg(user_id, "user_id") }?, unsafe { str_arg(provider, "provider") }?)
    })
}

/// The user's linked identities as a JSON array in `*accounts_json_out`, by provider name.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_oauth_list_linked_accounts(
    server: *const accounts_server,
    user_id: *const c_char,
    accounts_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(accounts_json_out, "accounts_json_out")?;
        let list = s.oauth().list_linked_accounts(unsafe { str_arg(user_id, "user_id") }?)?;
        unsafe { write_json(accounts_json_out, &list) }
    })
}

/// The provider's own tokens from the user's last login or link with `provider`, as JSON
/// `{accessToken, refreshToken, expiresAt, scope}` in `*tokens_json_out`, or `null` when the provider
/// is not configured with `storeTokens` (or gave none).
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_USER_NOT_FOUND`, `ACCOUNTS_LINKED_ACCOUNT_NOT_FOUND`,
/// `ACCOUNTS_INVALID_ARGUMENT`, `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_oauth_provider_tokens(
    server: *const accounts_server,
    user_id: *const c_char,
    provider: *const c_char,
    tokens_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(tokens_json_out, "tokens_json_out")?;
        let tokens = s.oauth().provider_tokens(unsafe { str_arg(user_id, "user_id") }?, unsafe { str_arg(provider, "provider") }?)?;
        unsafe { write_json(tokens_json_out, &tokens) }
    })
}
