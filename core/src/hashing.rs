//! Password hashing: argon2id (PHC strings) for new hashes, bcrypt verification for accounts-js
//! databases, a bounded number of hashes in flight, and a dummy hash so "no such user" costs the
//! same as "wrong password".

use crate::config::HashingConfig;
use crate::error::{AccountsError, ErrorCode, Result};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use std::sync::{Condvar, Mutex, OnceLock};

/// Outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The password matches; `rehash` when the stored hash is bcrypt or has other argon2 parameters.
    Match { rehash: bool },
    Mismatch,
    /// There was no hash; a dummy verification ran so the time is the same.
    NoHash,
}

/// A counting semaphore: at most `max` hashes run at once (each takes ~memoryKib of RAM).
struct Limiter {
    max: usize,
    in_flight: Mutex<usize>,
    freed: Condvar,
}

struct Permit<'a>(&'a Limiter);

impl Limiter {
    fn acquire(&self) -> Permit<'_> {
        let mut n = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        while *n >= self.max {
            n = self.freed.wait(n).unwrap_or_else(|p| p.into_inner());
        }
        *n += 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut n = self.0.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        *n -= 1;
        self.0.freed.notify_one();
    }
}

pub(crate) struct Hasher {
    argon: Argon2<'static>,
    /// `$argon2id$v=19$m=..,t=..,p=..$`: a stored hash without it gets rehashed.
    current_prefix: String,
    limiter: Limiter,
    dummy: OnceLock<String>,
}

fn internal(e: impl std::fmt::Display) -> AccountsError {
    AccountsError::new(ErrorCode::InternalError, format!("password hashing: {e}"))
}

impl Hasher {
    pub fn new(cfg: HashingConfig, max_concurrent: usize) -> Result<Hasher> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| AccountsError::new(ErrorCode::InvalidConfig, format!("argon2 parameters: {e}")))?;
        let max = if max_concurrent == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
        } else {
            max_concurrent
        };
        Ok(Hasher {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            current_prefix: format!("$argon2id$v=19$m={},t={},p={}$", cfg.memory_kib, cfg.iterations, cfg.parallelism),
            limiter: Limiter { max, in_flight: Mutex::new(0), freed: Condvar::new() },
            dummy: OnceLock::new(),
        })
    }

    /// Hashes a password into an argon2id PHC string with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String> {
        let _permit = self.limiter.acquire();
        self.hash_unlimited(password)
    }

    fn hash_unlimited(&self, password: &str) -> Result<String> {
        let h: argon2::password_hash::phc::PasswordHash = self.argon.hash_password(password.as_bytes()).map_err(internal)?;
        Ok(h.to_string())
    }

    fn dummy_hash(&self) -> Result<&str> {
        if let Some(h) = self.dummy.get() {
            return Ok(h);
        }
        let h = self.hash_unlimited("accounts-rs timing equaliser")?;
        Ok(self.dummy.get_or_init(|| h))
    }

    /// Checks `password` against `stored` (argon2 PHC or bcrypt `$2a$/$2b$/$2y$`).
    pub fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verified> {
        let _permit = self.limiter.acquire();
        let Some(stored) = stored else {
            let dummy = self.dummy_hash()?;
            let _ = self.argon.verify_password(password.as_bytes(), dummy);
            return Ok(Verified::NoHash);
        };
        if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
            return match bcrypt::verify(password, stored) {
                Ok(true) => Ok(Verified::Match { rehash: true }),
                Ok(false) => Ok(Verified::Mismatch),
                Err(e) => Err(internal(format!("stored bcrypt hash is unreadable: {e}"))),
            };
        }
        if !stored.starts_with("$argon2") {
            return Err(internal("stored hash has an unknown format"));
        }
        match self.argon.verify_password(password.as_bytes(), stored) {
            Ok(()) => Ok(Verified::Match { rehash: !stored.starts_with(&self.current_prefix) }),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(Verified::Mismatch),
            Err(e) => Err(internal(format!("stored argon2 hash is unreadable: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> Hasher {
        Hasher::new(HashingConfig { memory_kib: 256, iterations: 1, parallelism: 1 }, 2).unwrap()
    }

    #[test]
    fn argon2_round_trip_and_salt() {
        let h = fast();
        let a = h.hash("correct horse").unwrap();
        let b = h.hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        assert_ne!(a, b, "fresh salt per hash");
        assert_eq!(h.verify("correct horse", Some(&a)).unwrap(), Verified::Match { rehash: false });
        assert_eq!(h.verify("wrong", Some(&a)).unwrap(), Verified::Mismatch);
        assert_eq!(h.verify("x", None).unwrap(), Verified::NoHash);
        assert_eq!(h.verify("x", Some("plaintext")).unwrap_err().code, ErrorCode::InternalError);
    }

    #[test]
    fn default_parameters_are_owasp() {
        let h = Hasher::new(HashingConfig::default(), 1).unwrap();
        assert!(h.hash("pw").unwrap().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[test]
    fn bcrypt_hashes_verify_and_ask_for_rehash() {
        let h = fast();
        let b = bcrypt::hash("legacy-pass", 4).unwrap();
        assert_eq!(h.verify("legacy-pass", Some(&b)).unwrap(), Verified::Match { rehash: true });
        assert_eq!(h.verify("nope", Some(&b)).unwrap(), Verified::Mismatch);
        let other_params = Hasher::new(HashingConfig { memory_kib: 512, iterations: 1, parallelism: 1 }, 1).unwrap();
        let old = other_params.hash("pw").unwrap();
        assert_eq!(h.verify("pw", Some(&old)).unwrap(), Verified::Match { rehash: true });
    }

    #[test]
    fn limiter_bounds_concurrency() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let l = Arc::new(Limiter { max: 2, in_flight: Mutex::new(0), freed: Condvar::new() });
        let peak = Arc::new(AtomicUsize::new(0));
        let cur = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (l, peak, cur) = (l.clone(), peak.clone(), cur.clone());
                std::thread::spawn(move || {
                    let _p = l.acquire();
                    let now = cur.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    cur.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 2);
    }
}
