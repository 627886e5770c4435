//! `accounts_server_handle_http`, `accounts_server_http_user`: the accounts-js REST API as core
//! serves it (docs/web.md), for C and C++ HTTP servers. Requests and responses travel as JSON.

use crate::error::{accounts_error, accounts_result};
use crate::guard::*;
use crate::server::{accounts_server, server_ref};
use accounts_core::web::HttpRequest;
use std::ffi::c_char;

/// Serves one request of the accounts-js REST API. `request_json` is `{"method", "path" (under the
/// mount, e.g. "/password/register"), "query"?, "headers": [[name, value], ...], "body"?: text,
/// "bodyBase64"?: base64 (a body that is not UTF-8), "peer"?: "address of the connection"}`. On
/// `ACCOUNTS_OK`, `*response_json_out` receives `{"status", "headers": [[name, value], ...] (each
/// Set-Cookie its own), "body": text}` — every outcome of the request, errors included, is a
/// response (`{message, code}` with a 4xx status); free it with `accounts_string_free`.
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_INVALID_ARGUMENT` (`request_json` is not a request).
///
/// # Safety
/// As for every function: `server` live, strings NUL-terminated, out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_handle_http(
    server: *const accounts_server,
    request_json: *const c_char,
    response_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(response_json_out, "response_json_out")?;
        let request: HttpRequest = unsafe { json_arg(request_json, "request_json") }?;
        let response = s.handle_http(&request);
        unsafe { write_json(response_json_out, &response) }
    })
}

/// The user of a request to one of the app's own routes (a request JSON as for
/// `accounts_server_handle_http`): the bearer token, else in cookie mode the access cookie, with
/// the CSRF checks on methods other than GET/HEAD/OPTIONS. `*result_json_out` receives `{"user",
/// "accessToken"}`, or `null` without a valid session (answer 401).
/// Results: `ACCOUNTS_OK`, `ACCOUNTS_CSRF_REFUSED` (answer 403), `ACCOUNTS_MALFORMED_REQUEST`
/// (answer 400) — the error's details carry `{"status"}` —, `ACCOUNTS_INVALID_ARGUMENT`,
/// `ACCOUNTS_STORAGE_ERROR`.
///
/// # Safety
/// As for every function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_server_http_user(
    server: *const accounts_server,
    request_json: *const c_char,
    result_json_out: *mut *mut c_char,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let s = server_ref(server)?;
        out_arg(result_json_out, "result_json_out")?;
        let request: HttpRequest = unsafe { json_arg(request_json, "request_json") }?;
        let found = s.http_user(&request)?.map(|(user, token)| serde_json::json!({ "user": user, "accessToken": token }));
        unsafe { write_json(result_json_out, &found) }
    })
}
