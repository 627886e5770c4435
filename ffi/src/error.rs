//! The owned `accounts_error` object and `accounts_result_name`; `accounts_result` itself is
//! generated from the core table into result.rs (`make codegen`).

use crate::guard::guard;
use crate::result::RESULT_NAMES;
pub use crate::result::accounts_result;
use accounts_core::{AccountsError, ErrorCode};
use std::ffi::{CString, c_char, c_int};
use std::sync::OnceLock;

/// The code string of a result value ("OK", "InvalidCredentials", ...) as a static string.
/// Takes a plain integer so a host built against a newer header can pass any value: one outside
/// the table gives "Unknown". Never NULL; do not free. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn accounts_result_name(result: c_int) -> *const c_char {
    static NAMES: OnceLock<Vec<(c_int, CString)>> = OnceLock::new();
    let names = NAMES.get_or_init(|| RESULT_NAMES.iter().map(|(n, name)| (*n as c_int, CString::new(*name).unwrap_or_default())).collect());
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
        for (number, retired) in accounts_core::error::RETIRED {
            assert_eq!(name(*number as c_int), *retired, "a retired number keeps its name");
        }
        let past_the_end = ErrorCode::ALL.iter().map(|c| c.number()).max().unwrap() as c_int + 1;
        for outside in [-1, past_the_end, 9999, c_int::MIN, c_int::MAX] {
            assert_eq!(name(outside), "Unknown", "{outside}");
        }
    }
}
