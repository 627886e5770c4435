//! Random identifiers, digests and constant-time comparison. No crypto here, only calls into crates.

use crate::error::{AccountsError, ErrorCode, Result};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `n` bytes from the OS CSPRNG, hex encoded.
///
/// # Errors
/// `InternalError` if the OS has no randomness to give.
pub fn random_hex(n: usize) -> Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| AccountsError::new(ErrorCode::InternalError, format!("getrandom: {e}")))?;
    Ok(hex::encode(buf))
}

/// A new 128-bit identifier (users, sessions).
pub fn new_id() -> Result<String> {
    random_hex(16)
}

/// SHA-256 of `text`, hex encoded: how every token is stored.
pub fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Constant-time equality of two strings.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
