//! C ABI over accounts-core. Conventions (after rustls-ffi and SQLite), also in include/accounts.h:
//!
//! - Every fallible function returns an `accounts_result` (`ACCOUNTS_OK` = 0, otherwise the frozen
//!   number of an error code) and, when `error_out` is not NULL, stores an owned `accounts_error *`
//!   there on failure (free it with `accounts_error_free`). No thread-local "last error".
//! - Handle first, inputs, then `_out` parameters, then `error_out`. Outputs are written only on success.
//! - Strings the library returns are owned by the caller and freed with `accounts_string_free`.
//! - Inputs are NUL-terminated UTF-8; JSON inputs are at most 1 MiB.
//! - Every exported function catches panics; none unwinds into C.
#![warn(missing_docs)]
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // the safety contract of every function is in include/accounts.h

mod callbacks;
mod error;
mod guard;
mod oauth;
mod password;
mod result;
mod server;
mod web;
mod webauthn;

pub use callbacks::*;
pub use error::*;
pub use password::*;
pub use server::*;

use std::ffi::c_char;

/// The library version as a static NUL-terminated string, e.g. "0.1.0". Never NULL; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn accounts_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Frees a string returned by this library. NULL is a no-op.
///
/// # Safety
/// `s` must be NULL or a string this library returned that has not been freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accounts_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: per the contract, `s` came from CString::into_raw in this library.
        drop(unsafe { std::ffi::CString::from_raw(s) });
    }
}
