//! Host callbacks from C: a function pointer plus `void *user_data`, taking JSON text and
//! answering through an `accounts_callback_result` the library owns (so no memory changes hands).

use crate::error::{accounts_error, accounts_result};
use crate::guard::{guard, str_arg};
use accounts_core::callbacks::{Callbacks, HostCall};
use accounts_core::error::HostFailure;
use accounts_core::host::input;
use accounts_core::{AccountsError, ErrorCode, Result};
use serde_json::{Value, json};
use std::ffi::{CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Where a callback puts its answer. Owned by the library and valid only during the callback;
/// set it with `accounts_callback_result_set_json` or `accounts_callback_result_set_error`.
#[derive(Default)]
pub struct accounts_callback_result {
    json: Option<String>,
    error: Option<AccountsError>,
}

/// A host callback: `input_json` (borrowed, valid during the call) describes the call; the callback
/// answers through `result` or leaves it untouched for the default answer.
/// It is called on whichever thread called into the library, possibly on several at once.
pub type accounts_callback_fn =
    Option<unsafe extern "C-unwind" fn(user_data: *mut c_void, input_json: *const c_char, result: *mut accounts_callback_result)>;

/// Sets a callback's answer to a JSON document, copied before this returns.
///
/// # Safety
/// `result` must be the pointer the callback received; `json` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_callback_result_set_json(result: *mut accounts_callback_result, json: *const c_char) -> accounts_result {
    guard(std::ptr::null_mut(), || {
        let r = unsafe { result.as_mut() }.ok_or_else(|| AccountsError::new(ErrorCode::InvalidArgument, "result is NULL"))?;
        r.json = Some(unsafe { str_arg(json, "json") }?.to_string());
        Ok(())
    })
}

/// Makes the callback fail: the operation is aborted with `code` and `message` (each NULL allowed).
/// `code` is any string: the caller's error gets it back from `accounts_error_code_name`; its
/// `accounts_result` is that code's value when it is one of ours ("Unauthorized"), else
/// `ACCOUNTS_CALLBACK_ERROR`.
///
/// # Safety
/// `result` must be the pointer the callback received; strings NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_callback_result_set_error(
    result: *mut accounts_callback_result,
    code: *const c_char,
    message: *const c_char,
) -> accounts_result {
    guard(std::ptr::null_mut(), || {
        let r = unsafe { result.as_mut() }.ok_or_else(|| AccountsError::new(ErrorCode::InvalidArgument, "result is NULL"))?;
        let code = unsafe { crate::guard::opt_str_arg(code, "code") }?.map(|c| Value::String(c.to_string()));
        let message = unsafe { crate::guard::opt_str_arg(message, "message") }?.map(|m| Value::String(m.to_string()));
        r.error = Some(AccountsError::from_host_failure(HostFailure { code: code.as_ref(), message: message.as_ref(), text: None, handle: None }));
        Ok(())
    })
}

/// `user_data` travels to other threads; the caller promised (in the header) that this is safe.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

#[derive(Clone, Copy)]
pub(crate) struct CCallback {
    f: unsafe extern "C-unwind" fn(*mut c_void, *const c_char, *mut accounts_callback_result),
    data: UserData,
}

impl CCallback {
    pub(crate) fn new(f: accounts_callback_fn, user_data: *mut c_void) -> Result<CCallback> {
        let f = f.ok_or_else(|| AccountsError::new(ErrorCode::InvalidArgument, "callback function must not be NULL"))?;
        Ok(CCallback { f, data: UserData(user_data) })
    }

    /// Calls the host with `input`; `Ok(None)` when it gave no answer.
    pub(crate) fn call(&self, input: &Value) -> Result<Option<Value>> {
        let text = CString::new(input.to_string()).map_err(|_| AccountsError::new(ErrorCode::InternalError, "NUL in JSON"))?;
        let mut result = accounts_callback_result::default();
        let (f, data) = (self.f, self.data);
        let ran = catch_unwind(AssertUnwindSafe(|| unsafe { f(data.0, text.as_ptr(), &mut result) }));
        if ran.is_err() {
            return Err(AccountsError::new(ErrorCode::CallbackError, "callback panicked"));
        }
        if let Some(e) = result.error {
            return Err(e);
        }
        result
            .json
            .map(|t| input::parse_json("callback result", &t))
            .transpose()
            .map_err(|e| AccountsError::new(ErrorCode::CallbackError, format!("callback returned bad JSON: {}", e.message)))
    }
}

/// The set of callbacks a server is created with. Create with `accounts_callbacks_new`, fill with
/// `accounts_callbacks_set`, pass to `accounts_server_new`, then free with `accounts_callbacks_free`.
#[derive(Default)]
pub struct accounts_callbacks {
    pub(crate) inner: Callbacks,
}

/// A new, empty callback set. Never NULL; free with `accounts_callbacks_free`.
#[unsafe(no_mangle)]
pub extern "C" fn accounts_callbacks_new() -> *mut accounts_callbacks {
    Box::into_raw(Box::default())
}

/// Frees a callback set (servers created from it keep their own copy). NULL is a no-op.
///
/// # Safety
/// `callbacks` must be NULL or from `accounts_callbacks_new`, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_callbacks_free(callbacks: *mut accounts_callbacks) {
    if !callbacks.is_null() {
        drop(unsafe { Box::from_raw(callbacks) });
    }
}

/// Sets the callback called `name`, replacing any earlier one. Names, inputs (the JSON text the
/// callback receives: the argument itself, or an object of the arguments by name) and answers:
// BEGIN generated by accounts-codegen from CALLBACK_NAMES (core/src/callbacks.rs; make codegen)
/// - "createJwtPayload": `{"data", "user"}` → an object of extra access-token claims (none if unanswered).
/// - "userObjectSanitizer": the user → the user callers will see (unchanged if unanswered).
/// - "impersonationAuthorize": `{"user", "target"}` → `true` / `false` (false if unanswered).
/// - "resumeSessionValidator": `{"user", "session"}` → set an error to reject the resume.
/// - "validateNewUser": the user → the user to create, without its password (unchanged if unanswered).
/// - "sendMail": the mail → set an error if delivery failed.
/// - "validateUsername": the username → a truthy answer accepts the username (refused if unanswered).
/// - "validateEmail": the email → a truthy answer accepts the address (refused if unanswered).
/// - "validatePassword": the password → a truthy answer accepts the password (refused if unanswered).
/// - "prepareMail": `{"to", "token", "user", "pathFragment", "emailTemplate", "from", "type"}` → the mail object `{from, to, subject, text, html}` handed to sendMail.
/// - "oauthAuthenticate": `{"provider", "params"}` → `{id, email?, emailVerified?, profile?, tokens?}`: who the login is; an error refuses it.
// END generated
///
/// Results: `ACCOUNTS_OK`; `ACCOUNTS_INVALID_ARGUMENT` for a NULL set, name or function, or an unknown name.
///
/// # Safety
/// `callbacks` from `accounts_callbacks_new`; `name` NUL-terminated; `user_data` must be usable from
/// any thread for as long as any server created with this set lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_callbacks_set(
    callbacks: *mut accounts_callbacks,
    name: *const c_char,
    callback: accounts_callback_fn,
    user_data: *mut c_void,
    error_out: *mut *mut accounts_error,
) -> accounts_result {
    guard(error_out, || {
        let set = unsafe { callbacks.as_mut() }.ok_or_else(|| AccountsError::new(ErrorCode::InvalidArgument, "callbacks is NULL"))?;
        let name = unsafe { str_arg(name, "name") }?;
        let cb = CCallback::new(callback, user_data)?;
        // C callbacks take one JSON value: the argument itself, or an object of the named arguments.
        set.inner.set_host(name, Arc::new(move |call: &HostCall<'_>| cb.call(&call.as_object())))
    })
}

/// Wraps a C event listener (input `{"event", "payload"}`; set an error to abort the operation).
pub(crate) fn listener(cb: CCallback) -> Arc<accounts_core::callbacks::ListenerFn> {
    Arc::new(move |event: &str, payload: &Value| cb.call(&json!({ "event": event, "payload": payload })).map(|_| ()))
}

#[cfg(test)]
mod tests {
    use crate::*;
    use std::ffi::{CStr, CString, c_char, c_void};
    use std::ptr::null_mut;

    unsafe extern "C-unwind" fn panicking(_: *mut c_void, _: *const c_char, _: *mut accounts_callback_result) {
        panic!("host callback bug");
    }

    #[test]
    fn a_panic_in_a_callback_becomes_a_callback_error() {
        let config = CString::new(
            r#"{"db":"sqlite::memory:","tokenSecret":"0123456789abcdef0123456789abcdef","services":{"password":{"hashing":{"memoryKib":256,"iterations":1,"parallelism":1}}}}"#,
        )
        .unwrap();
        unsafe {
            let cbs = accounts_callbacks_new();
            let name = CString::new("createJwtPayload").unwrap();
            assert_eq!(accounts_callbacks_set(cbs, name.as_ptr(), Some(panicking), null_mut(), null_mut()), accounts_result::AccountsOk);
            let mut server = null_mut();
            assert_eq!(accounts_server_new(config.as_ptr(), cbs, &mut server, null_mut()), accounts_result::AccountsOk);
            accounts_callbacks_free(cbs);
            let user = CString::new(r#"{"username":"p"}"#).unwrap();
            let mut id = null_mut();
            assert_eq!(accounts_password_create_user(server, user.as_ptr(), &mut id, null_mut()), accounts_result::AccountsOk);
            let mut out = null_mut();
            let mut err = null_mut();
            let r = accounts_server_login_with_user(server, id, std::ptr::null(), &mut out, &mut err);
            assert_eq!(r, accounts_result::AccountsCallbackError);
            assert!(out.is_null(), "outputs are written only on success");
            let msg = CStr::from_ptr(accounts_error_message(err)).to_str().unwrap();
            assert!(msg.contains("panicked"), "{msg}");
            accounts_error_free(err);
            // The server is still usable afterwards.
            let mut found = null_mut();
            assert_eq!(accounts_server_find_user_by_id(server, id, &mut found, null_mut()), accounts_result::AccountsOk);
            accounts_string_free(found);
            accounts_string_free(id);
            accounts_server_free(server);
        }
    }
}
