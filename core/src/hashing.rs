//! Password hashing: argon2id (PHC strings) for new hashes, bcrypt verification for accounts-js
//! databases, a bounded number of hashes in flight, and a dummy hash so "no such user" costs the
//! same as "wrong password".

use crate::config::HashingConfig;
use crate::error::{AccountsError, ErrorCode, Result};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The password matches; `rehash` when the stored hash is bcrypt or has other argon2 parameters.
    Match {
        rehash: bool,
    },
    Mismatch,
    /// There was no hash; a dummy verification ran so the time is the same.
    NoHash,
}

/// The argon2 working memory (`memoryKib` each), at most `max` of them, reused from hash to hash.
/// Holding one is the permit to hash: it bounds both the RAM and the CPU a login burst can take,
/// and reusing the blocks saves the page faults of a fresh 19 MiB allocation per hash.
struct MemoryPool {
    max: usize,
    blocks: usize,
    state: Mutex<PoolState>,
    freed: Condvar,
}

struct PoolState {
    free: Vec<Vec<Block>>,
    created: usize,
}

/// One lent working memory; returned to the pool on drop.
struct Lease<'a> {
    pool: &'a MemoryPool,
    memory: Vec<Block>,
}

impl MemoryPool {
    fn acquire(&self) -> Lease<'_> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(memory) = st.free.pop() {
                return Lease { pool: self, memory };
            }
            if st.created < self.max {
                st.created += 1;
                drop(st);
                return Lease { pool: self, memory: vec![Block::default(); self.blocks] };
            }
            st = self.freed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let memory = std::mem::take(&mut self.memory);
        let mut st = self.pool.state.lock().unwrap_or_else(|p| p.into_inner());
        st.free.push(memory);
        self.pool.freed.notify_one();
    }
}

/// bcrypt uses at most this many bytes of a password.
const BCRYPT_MAX_BYTES: usize = 72;

/// The bcrypt costs accepted from an accounts-js database (docs/security.md, "Import"): accounts-js
/// hashed at 10; 15 already takes ~2 s a login, and a cost of 31 would hold a hashing slot for hours.
pub(crate) const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=15;

/// Checks a whole bcrypt hash as accounts-js stored it: `$2a$`/`$2b$`/`$2y$`, a cost in
/// [`BCRYPT_COSTS`], a well-formed salt and digest (the bcrypt crate parses them). Returns the cost.
pub(crate) fn check_bcrypt(hash: &str) -> std::result::Result<u32, String> {
    if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
        return Err("not a bcrypt hash ($2a$, $2b$ or $2y$)".into());
    }
    // Two ASCII digits of cost, as every bcrypt writes them (`"+9"` would parse as 9 but hide the
    // hash from the store's scan for the timing floor).
    if !hash.as_bytes().get(4..6).is_some_and(|d| d.iter().all(u8::is_ascii_digit)) {
        return Err("the cost must be two digits".into());
    }
    let parts: bcrypt::HashParts = hash.parse().map_err(|e| format!("malformed bcrypt hash: {e}"))?;
    let cost = parts.get_cost();
    if !BCRYPT_COSTS.contains(&cost) {
        return Err(format!("bcrypt cost {cost} is outside {}..={}", BCRYPT_COSTS.start(), BCRYPT_COSTS.end()));
    }
    Ok(cost)
}

pub(crate) struct Hasher {
    argon: Argon2<'static>,
    params: Params,
    /// `$argon2id$v=19$m=..,t=..,p=..$`: a stored hash without it gets rehashed.
    current_prefix: String,
    pool: MemoryPool,
    dummy: OnceLock<String>,
    /// The highest bcrypt cost among stored hashes (0: none). While there is one, every password
    /// check lasts at least one bcrypt verification at that cost, so imported users cannot be told
    /// from native or unknown ones by timing (docs/security.md, "Timing").
    legacy_cost: AtomicU32,
    /// How long one bcrypt verification takes on this machine, per cost (measured once each).
    bcrypt_times: Mutex<HashMap<u32, Duration>>,
}

fn internal(e: impl std::fmt::Display) -> AccountsError {
    AccountsError::new(ErrorCode::InternalError, format!("password hashing: {e}"))
}

impl Hasher {
    pub fn new(cfg: HashingConfig, max_concurrent: usize) -> Result<Hasher> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| AccountsError::new(ErrorCode::InvalidConfig, format!("argon2 parameters: {e}")))?;
        let max = if max_concurrent == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) } else { max_concurrent };
        Ok(Hasher {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
            current_prefix: format!("$argon2id$v=19$m={},t={},p={}$", cfg.memory_kib, cfg.iterations, cfg.parallelism),
            pool: MemoryPool {
                max,
                blocks: params.block_count(),
                state: Mutex::new(PoolState { free: Vec::new(), created: 0 }),
                freed: Condvar::new(),
            },
            params,
            dummy: OnceLock::new(),
            legacy_cost: AtomicU32::new(0),
            bcrypt_times: Mutex::new(HashMap::new()),
        })
    }

    /// How many hashes may run at once (`maxConcurrentHashes`, or the number of CPUs for 0).
    pub fn max_concurrent(&self) -> usize {
        self.pool.max
    }

    /// Hashes a password into an argon2id PHC string with a fresh random 128-bit salt.
    pub fn hash(&self, password: &str) -> Result<String> {
        let mut lease = self.pool.acquire();
        self.hash_with(password, &mut lease.memory)
    }

    fn hash_with(&self, password: &str, memory: &mut [Block]) -> Result<String> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(internal)?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory).map_err(internal)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(internal)?,
            salt: Some(Salt::new(&salt).map_err(internal)?),
            hash: Some(Output::new(&out).map_err(internal)?),
        };
        Ok(phc.to_string())
    }

    /// Recomputes an argon2 PHC hash for `password` with the stored salt and parameters and
    /// compares in constant time (what `PasswordVerifier` does, on pooled memory).
    fn verify_argon2(&self, password: &str, stored: &str, memory: &mut Vec<Block>) -> Result<bool> {
        let unreadable = |e: &dyn std::fmt::Display| internal(format!("stored argon2 hash is unreadable: {e}"));
        let parsed = PasswordHash::new(stored).map_err(|e| unreadable(&e))?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| unreadable(&e))?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).map_err(|e| unreadable(&e))?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).map_err(|e| unreadable(&e))?;
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return Err(internal("stored argon2 hash has no salt or output"));
        };
        let mut out = vec![0u8; expected.len()];
        let argon = Argon2::new(algorithm, version, params.clone());
        if params.block_count() == memory.len() {
            argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory.as_mut_slice())
        } else {
            // Other parameters (an older configuration): a one-off buffer, still under the permit.
            argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, vec![Block::default(); params.block_count()])
        }
        .map_err(|e| unreadable(&e))?;
        Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    }

    fn dummy_hash(&self, memory: &mut [Block]) -> Result<&str> {
        if let Some(h) = self.dummy.get() {
            return Ok(h);
        }
        let h = self.hash_with("accounts-rs timing equaliser", memory)?;
        Ok(self.dummy.get_or_init(|| h))
    }

    /// Checks `password` against `stored` (argon2 PHC or bcrypt `$2a$/$2b$/$2y$`). While bcrypt
    /// hashes are stored, takes at least one bcrypt verification at their highest cost.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verified> {
        let started = Instant::now();
        let verified = self.verify_now(password, stored);
        let cost = self.legacy_cost.load(Ordering::Relaxed);
        if cost > 0 {
            let floor = self.bcrypt_time(cost);
            if let Some(rest) = floor.checked_sub(started.elapsed()) {
                // The hashing permit is already returned: the wait holds no memory and no slot.
                std::thread::sleep(rest);
            }
        }
        verified
    }

    fn verify_now(&self, password: &str, stored: Option<&str>) -> Result<Verified> {
        let mut lease = self.pool.acquire();
        let Some(stored) = stored else {
            let dummy = self.dummy_hash(&mut lease.memory)?.to_string();
            let _ = self.verify_argon2(password, &dummy, &mut lease.memory);
            return Ok(Verified::NoHash);
        };
        if stored.starts_with("$2") {
            // A stored hash outside the accepted costs (written before import checked them) is
            // refused rather than run for hours.
            let cost = check_bcrypt(stored).map_err(|e| internal(format!("stored bcrypt hash: {e}")))?;
            self.note_legacy_cost(cost);
            return match bcrypt::verify(password, stored) {
                // bcrypt ignores bytes past 72: rehashing from a longer password would store one
                // the owner never typed in full and lock them out, so such logins keep bcrypt.
                Ok(true) => Ok(Verified::Match { rehash: password.len() <= BCRYPT_MAX_BYTES }),
                Ok(false) => Ok(Verified::Mismatch),
                Err(e) => Err(internal(format!("stored bcrypt hash is unreadable: {e}"))),
            };
        }
        if !stored.starts_with("$argon2") {
            return Err(internal("stored hash has an unknown format"));
        }
        if self.verify_argon2(password, stored, &mut lease.memory)? {
            Ok(Verified::Match { rehash: !stored.starts_with(&self.current_prefix) })
        } else {
            Ok(Verified::Mismatch)
        }
    }

    /// Records that a bcrypt hash of `cost` is stored (at startup from the store, at import, at a
    /// login that met one): password checks now last at least as long as one of those.
    /// Whether logins take the bcrypt timing floor (bcrypt hashes are stored): then a login waits
    /// about as long again with no permit held.
    pub fn floor_active(&self) -> bool {
        self.legacy_cost.load(Ordering::Relaxed) > 0
    }

    pub fn note_legacy_cost(&self, cost: u32) {
        self.legacy_cost.fetch_max(cost, Ordering::Relaxed);
    }

    /// Sets the highest stored bcrypt cost as the store reports it (`None`: no bcrypt hash left),
    /// which may lower the floor once every imported user has logged in and been rehashed.
    pub fn set_legacy_cost(&self, cost: Option<u32>) {
        self.legacy_cost.store(cost.filter(|c| BCRYPT_COSTS.contains(c)).unwrap_or(0), Ordering::Relaxed);
    }

    /// How long one bcrypt verification of `cost` takes here: the faster of two runs, measured once
    /// (under the lock, so concurrent first logins wait for one measurement instead of each running
    /// their own).
    fn bcrypt_time(&self, cost: u32) -> Duration {
        let mut times = self.bcrypt_times.lock().unwrap_or_else(|p| p.into_inner());
        *times.entry(cost).or_insert_with(|| {
            let run = || {
                let started = Instant::now();
                let _ = bcrypt::hash_with_salt("accounts-rs timing floor", cost, [7u8; 16]);
                started.elapsed()
            };
            run().min(run())
        })
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
        let long = "x".repeat(80);
        let b_long = bcrypt::hash(&long, 4).unwrap();
        assert_eq!(h.verify(&long, Some(&b_long)).unwrap(), Verified::Match { rehash: false }, "over 72 bytes: keep bcrypt");
        let other_params = Hasher::new(HashingConfig { memory_kib: 512, iterations: 1, parallelism: 1 }, 1).unwrap();
        let old = other_params.hash("pw").unwrap();
        assert_eq!(h.verify("pw", Some(&old)).unwrap(), Verified::Match { rehash: true });
    }

    #[test]
    fn the_memory_pool_bounds_concurrent_hashes() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let pool = Arc::new(MemoryPool { max: 2, blocks: 8, state: Mutex::new(PoolState { free: Vec::new(), created: 0 }), freed: Condvar::new() });
        let peak = Arc::new(AtomicUsize::new(0));
        let cur = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (pool, peak, cur) = (pool.clone(), peak.clone(), cur.clone());
                std::thread::spawn(move || {
                    let lease = pool.acquire();
                    assert_eq!(lease.memory.len(), 8);
                    let now = cur.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    cur.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 2);
        assert_eq!(pool.state.lock().unwrap().created, 2, "memory is reused, never more than max buffers");
    }

    #[test]
    fn hashes_interoperate_with_the_standard_argon2_phc_code() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let h = fast();
        let ours = h.hash("correct horse").unwrap();
        let standard = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(256, 1, 1, None).unwrap());
        standard.verify_password(b"correct horse", ours.as_str()).unwrap();
        assert!(standard.verify_password(b"wrong", ours.as_str()).is_err());
        let theirs: PasswordHash = standard.hash_password(b"correct horse").unwrap();
        assert_eq!(h.verify("correct horse", Some(&theirs.to_string())).unwrap(), Verified::Match { rehash: false });
        assert_eq!(h.verify("wrong", Some(&theirs.to_string())).unwrap(), Verified::Mismatch);
        // argon2i/argon2d and other parameters verify too (and ask for a rehash).
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::new(128, 2, 1, None).unwrap());
        let old: PasswordHash = argon2i.hash_password(b"pw").unwrap();
        assert_eq!(h.verify("pw", Some(&old.to_string())).unwrap(), Verified::Match { rehash: true });
        assert_eq!(h.verify("pw", Some("$argon2id$v=19$m=256,t=1,p=1$bm9zYWx0$")).unwrap_err().code, ErrorCode::InternalError);
    }
}
