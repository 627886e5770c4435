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
    // Into a buffer at once (`hex::encode` collects the digits one char at a time): a refresh takes two.
    let mut out = vec![0u8; 64];
    match hex::encode_to_slice(Sha256::digest(text.as_bytes()), &mut out) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(), // unreachable: 32 bytes are 64 digits
    }
}

/// Constant-time equality of two strings.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A key for sealing secrets the library must read back (TOTP secrets), derived with HKDF-SHA-256
/// from a configured secret, so no configured secret is itself used for encryption. Its `id`
/// (derived alike, revealing nothing of the key) is written next to each value it seals.
#[derive(Clone)]
pub(crate) struct SealingKey {
    key: [u8; 32],
    id: String,
}

/// The prefix of values sealed with a key id (`k1:<id>:<nonce>:<ciphertext>`); older values are
/// `<nonce>:<ciphertext>` (sealed before key ids, under the key derived from `tokenSecret` or the
/// `sealingSecret` of the time).
const VERSION_TAG: &str = "k1";

impl SealingKey {
    pub(crate) fn derive(secret: &[u8], purpose: &str) -> SealingKey {
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(b"accounts-rs sealing v1"), secret);
        let mut key = [0u8; 32];
        let mut id = [0u8; 6];
        // 32 and 6 bytes are valid HKDF-SHA-256 output lengths, so expand cannot fail.
        let _ = hkdf.expand(purpose.as_bytes(), &mut key);
        let _ = hkdf.expand(format!("{purpose} key id").as_bytes(), &mut id);
        SealingKey { key, id: hex::encode(id) }
    }

    fn cipher(&self) -> chacha20poly1305::ChaCha20Poly1305 {
        use chacha20poly1305::aead::KeyInit;
        chacha20poly1305::ChaCha20Poly1305::new((&self.key).into())
    }

    /// Encrypts with ChaCha20-Poly1305 under a random nonce, bound to `context` (associated data:
    /// e.g. the owner's user id, so a sealed value copied to another row does not open there);
    /// returns `k1:<key id>:<nonce hex>:<ciphertext hex>`.
    ///
    /// # Errors
    /// `InternalError` if randomness or encryption fails.
    pub(crate) fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<String> {
        use chacha20poly1305::aead::{Aead, Payload};
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| AccountsError::new(ErrorCode::InternalError, format!("getrandom: {e}")))?;
        let sealed = self
            .cipher()
            .encrypt((&nonce).into(), Payload { msg: plaintext, aad: context })
            .map_err(|_| AccountsError::new(ErrorCode::InternalError, "encryption failed"))?;
        Ok(format!("{VERSION_TAG}:{}:{}:{}", self.id, hex::encode(nonce), hex::encode(sealed)))
    }

    /// Opens `nonce hex:ciphertext hex` sealed under this key for `context`.
    fn open_parts(&self, nonce: &str, ciphertext: &str, context: &[u8]) -> Option<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, Payload};
        let nonce: [u8; 12] = hex::decode(nonce).ok()?.try_into().ok()?;
        let ciphertext = hex::decode(ciphertext).ok()?;
        self.cipher().decrypt((&nonce).into(), Payload { msg: ciphertext.as_slice(), aad: context }).ok()
    }
}

/// The sealing keys of a server: the current one seals; it and the earlier ones open
/// (docs/security.md, "Key rotation").
#[derive(Clone)]
pub(crate) struct Sealer {
    current: SealingKey,
    earlier: Vec<SealingKey>,
}

impl Sealer {
    /// `current` seals; `earlier` (previous secrets, the pre-`sealingSecret` derivation) still open.
    pub(crate) fn new(current: SealingKey, earlier: Vec<SealingKey>) -> Sealer {
        Sealer { current, earlier }
    }

    /// Seals under the current key.
    ///
    /// # Errors
    /// As [`SealingKey::seal`].
    pub(crate) fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<String> {
        self.current.seal(plaintext, context)
    }

    /// Whether `sealed` is already under the current key (else it should be sealed again).
    pub(crate) fn is_current(&self, sealed: &str) -> bool {
        sealed
            .strip_prefix(VERSION_TAG)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|rest| rest.starts_with(&format!("{}:", self.current.id)))
    }

    /// Reverses [`Sealer::seal`] for the same `context`, under whichever known key sealed it (the
    /// key id says which; a value from before key ids tries each key, the AEAD tag telling).
    ///
    /// # Errors
    /// `InternalError` when the text is malformed, or was sealed under no key this server knows (a
    /// `sealingSecret` dropped from `previousSealingSecrets` too early) or for another context.
    pub(crate) fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>> {
        let bad = || AccountsError::new(ErrorCode::InternalError, "a sealed secret cannot be opened (was its sealing secret removed?)");
        let keys = || std::iter::once(&self.current).chain(&self.earlier);
        let parts: Vec<&str> = sealed.split(':').collect();
        match parts.as_slice() {
            [tag, id, nonce, ciphertext] if *tag == VERSION_TAG => {
                keys().find(|k| k.id == *id).and_then(|k| k.open_parts(nonce, ciphertext, context)).ok_or_else(bad)
            }
            [nonce, ciphertext] => keys().find_map(|k| k.open_parts(nonce, ciphertext, context)).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_lowercase_hex_sha256() {
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(digest(""), hex::encode(Sha256::digest(b"")));
    }

    #[test]
    fn sealing_round_trips_and_rejects_other_keys() {
        let k = Sealer::new(SealingKey::derive(b"0123456789abcdef0123456789abcdef", "totp"), Vec::new());
        let sealed = k.seal(b"secret bytes", b"user-1").unwrap();
        assert!(!sealed.contains(&hex::encode(b"secret bytes")));
        assert_eq!(k.open(&sealed, b"user-1").unwrap(), b"secret bytes");
        assert_ne!(k.seal(b"secret bytes", b"user-1").unwrap(), sealed, "fresh nonce each time");
        let other = Sealer::new(SealingKey::derive(b"another secret of at least 32 bytes!!", "totp"), Vec::new());
        assert_eq!(other.open(&sealed, b"user-1").unwrap_err().code, ErrorCode::InternalError);
        assert_eq!(k.open(&sealed, b"user-2").unwrap_err().code, ErrorCode::InternalError, "bound to its context");
        assert_eq!(k.open("zz:zz", b"user-1").unwrap_err().code, ErrorCode::InternalError);
    }

    #[test]
    fn rotation_keeps_old_values_opening_and_says_what_to_reseal() {
        let old = SealingKey::derive(b"the first sealing secret, 32+ bytes", "totp");
        let new = SealingKey::derive(b"the second sealing secret, 32+ bytes", "totp");
        assert_ne!(old.id, new.id);
        let before = Sealer::new(old.clone(), Vec::new());
        let sealed_old = before.seal(b"s", b"u").unwrap();
        assert!(sealed_old.starts_with(&format!("k1:{}:", old.id)));
        let after = Sealer::new(new.clone(), vec![old.clone()]);
        assert_eq!(after.open(&sealed_old, b"u").unwrap(), b"s");
        assert!(!after.is_current(&sealed_old) && before.is_current(&sealed_old));
        assert!(after.is_current(&after.seal(b"s", b"u").unwrap()));
        // A value from before key ids (`nonce:ciphertext`) opens under whichever key sealed it.
        let legacy = sealed_old.splitn(3, ':').nth(2).unwrap().to_string();
        assert_eq!(after.open(&legacy, b"u").unwrap(), b"s");
        assert!(!after.is_current(&legacy));
        // Once the old secret is dropped, its values no longer open.
        assert!(Sealer::new(new, Vec::new()).open(&sealed_old, b"u").is_err());
    }
}
