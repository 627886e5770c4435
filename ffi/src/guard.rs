//! The panic boundary and argument conversion shared by every exported function.

use crate::error::{accounts_error, accounts_result};
use accounts_core::host::input;
use accounts_core::{AccountsError, ErrorCode, Result};
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into())
}

/// Runs `f`, turning its error or a panic into an `accounts_result` and an optional error object.
pub(crate) fn guard(error_out: *mut *mut accounts_error, f: impl FnOnce() -> Result<()>) -> accounts_result {
    let outcome = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(AccountsError::new(ErrorCode::InternalError, format!("internal panic: {}", panic_message(&*p)))),
    };
    match outcome {
        Ok(()) => accounts_result::AccountsOk,
        Err(e) => {
            let r = accounts_result::from_code(e.code);
            if !error_out.is_null() {
                // SAFETY: the caller passed a writable `accounts_error **` (documented).
                unsafe { *error_out = Box::into_raw(Box::new(accounts_error::from(e))) };
            }
            r
        }
    }
}

fn null(what: &str) -> AccountsError {
    AccountsError::new(ErrorCode::InvalidArgument, format!("{what} must not be NULL"))
}

/// A required NUL-terminated UTF-8 string argument.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-NULL and NUL-terminated per the documented contract.
    let s =
        unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| AccountsError::new(ErrorCode::InvalidArgument, format!("{what} is not valid UTF-8")))?;
    input::check_size(what, s)?;
    Ok(s)
}

/// An optional string argument (NULL = absent).
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() { Ok(None) } else { unsafe { str_arg(p, what) }.map(Some) }
}

/// A required JSON argument parsed into `T`.
pub(crate) unsafe fn json_arg<T: serde::de::DeserializeOwned>(p: *const c_char, what: &str) -> Result<T> {
    input::parse_json(what, unsafe { str_arg(p, what) }?)
}

/// An optional JSON argument (NULL = `T::default()`).
pub(crate) unsafe fn opt_json_arg<T: serde::de::DeserializeOwned + Default>(p: *const c_char, what: &str) -> Result<T> {
    match unsafe { opt_str_arg(p, what) }? {
        None => Ok(T::default()),
        Some(s) => input::parse_json(what, s),
    }
}

/// Checks that an out-parameter can be written, before any work is done.
pub(crate) fn out_arg<T>(p: *mut T, what: &str) -> Result<()> {
    if p.is_null() { Err(null(what)) } else { Ok(()) }
}

/// Writes an owned C string into `out` (already checked non-NULL).
pub(crate) unsafe fn write_string(out: *mut *mut c_char, s: String) -> Result<()> {
    let c = CString::new(s).map_err(|_| AccountsError::new(ErrorCode::InternalError, "output contains NUL"))?;
    // SAFETY: `out` was checked by out_arg and is writable per the contract.
    unsafe { *out = c.into_raw() };
    Ok(())
}

/// Serialises `value` as JSON into `out`.
pub(crate) unsafe fn write_json<T: serde::Serialize>(out: *mut *mut c_char, value: &T) -> Result<()> {
    let text = serde_json::to_string(value).map_err(|e| AccountsError::new(ErrorCode::InternalError, e.to_string()))?;
    unsafe { write_string(out, text) }
}

/// Writes a plain value into `out` (already checked non-NULL).
pub(crate) unsafe fn write_value<T>(out: *mut T, v: T) {
    // SAFETY: checked by out_arg, writable per the contract.
    unsafe { *out = v };
}
