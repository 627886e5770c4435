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

/// A key for sealing secrets the library must read back (TOTP secrets), derived from `tokenSecret`
/// with HKDF-SHA-256 so the JWT key itself is never used for encryption.
#[derive(Clone)]
pub(crate) struct SealingKey([u8; 32]);

impl SealingKey {
    pub(crate) fn derive(token_secret: &[u8], purpose: &str) -> SealingKey {
        let mut key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(b"accounts-rs sealing v1"), token_secret)
            .expand(purpose.as_bytes(), &mut key)
            .expect("32 bytes is a valid HKDF-SHA-256 output length");
        SealingKey(key)
    }

    /// Encrypts with ChaCha20-Poly1305 under a random nonce, bound to `context` (associated data:
    /// e.g. the owner's user id, so a sealed value copied to another row does not open there);
    /// returns `nonce_hex:ciphertext_hex`.
    ///
    /// # Errors
    /// `InternalError` if randomness or encryption fails.
    pub(crate) fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<String> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let cipher = chacha20poly1305::ChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| AccountsError::new(ErrorCode::InternalError, format!("getrandom: {e}")))?;
        let sealed = cipher
            .encrypt((&nonce).into(), Payload { msg: plaintext, aad: context })
            .map_err(|_| AccountsError::new(ErrorCode::InternalError, "encryption failed"))?;
        Ok(format!("{}:{}", hex::encode(nonce), hex::encode(sealed)))
    }

    /// Reverses [`SealingKey::seal`] for the same `context`.
    ///
    /// # Errors
    /// `InternalError` when the text is malformed, was sealed under another key (a changed
    /// `tokenSecret`) or for another context.
    pub(crate) fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let bad = || AccountsError::new(ErrorCode::InternalError, "a sealed secret cannot be opened (was tokenSecret changed?)");
        let (n, c) = sealed.split_once(':').ok_or_else(bad)?;
        let nonce: [u8; 12] = hex::decode(n).ok().and_then(|v| v.try_into().ok()).ok_or_else(bad)?;
        let ciphertext = hex::decode(c).map_err(|_| bad())?;
        let cipher = chacha20poly1305::ChaCha20Poly1305::new((&self.0).into());
        cipher.decrypt((&nonce).into(), Payload { msg: ciphertext.as_slice(), aad: context }).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_round_trips_and_rejects_other_keys() {
        let k = SealingKey::derive(b"0123456789abcdef0123456789abcdef", "totp");
        let sealed = k.seal(b"secret bytes", b"user-1").unwrap();
        assert!(!sealed.contains(&hex::encode(b"secret bytes")));
        assert_eq!(k.open(&sealed, b"user-1").unwrap(), b"secret bytes");
        assert_ne!(k.seal(b"secret bytes", b"user-1").unwrap(), sealed, "fresh nonce each time");
        let other = SealingKey::derive(b"another secret of at least 32 bytes!!", "totp");
        assert_eq!(other.open(&sealed, b"user-1").unwrap_err().code, ErrorCode::InternalError);
        assert_eq!(k.open(&sealed, b"user-2").unwrap_err().code, ErrorCode::InternalError, "bound to its context");
        assert_eq!(k.open("zz:zz", b"user-1").unwrap_err().code, ErrorCode::InternalError);
    }
}
