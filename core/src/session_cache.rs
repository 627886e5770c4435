//! The per-process cache of resumed sessions (docs/reliability.md, "Caches and other processes").
//!
//! A `resumeSession` verifies the access token, then reads its session, its user and (for an
//! impersonation) the impersonator. When the same token comes back and **nothing was committed to
//! the database since** — by this process or any other, as the store's change counter
//! ([`crate::store::Store::change_counter`]) tells with one cheap read — those answers still hold,
//! and this cache gives them without the signature check and the reads. It is never trusted by
//! time: any commit anywhere (a logout, a revocation, a deactivation, a password change, but also
//! any other write) makes every entry stale for the next call. A key-ring change does too.
//!
//! Entries are keyed by the SHA-256 of the token (no token is kept), hold what a successful resume
//! read, and expire with the token. Failures are never cached. The counter is SQLite's
//! `data_version` (store/sqlite.rs) or PostgreSQL's current snapshot, one read shared by the
//! concurrent calls of a process (store/postgres_fence.rs); a store without one caches nothing.
//!
//! The cache is bounded by bytes, not only by entries: each entry's size is estimated when it is
//! put (the user's and session's JSON size), a user above [`MAX_ENTRY_BYTES`] is never cached, and
//! the total stays under [`MAX_BYTES`]. Entries are shared (`Arc`): a hit copies a pointer under the
//! lock. Only entries of the current stamp can ever serve, so a put under a new stamp drops the rest
//! (outside the lock).

use crate::tokens::AccessData;
use crate::types::{Session, User};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// At most this many tokens are remembered.
const CAPACITY: usize = 8192;
/// At most this many bytes (estimated) are remembered; a full cache starts over.
pub(crate) const MAX_BYTES: usize = 16 << 20;
/// A resume whose user and session weigh more than this (estimated) is not cached: it is read again.
pub(crate) const MAX_ENTRY_BYTES: usize = 4 << 10;
/// What an entry costs beyond its JSON: the key, the map slot, the `Arc`, the claims.
const ENTRY_OVERHEAD: usize = 256;

/// When an entry was read: the store's change counter and the key ring's epoch. An entry serves
/// a call only while both are unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) changes: u64,
    pub(crate) ring: u64,
}

/// What a successful resume read.
#[derive(Clone)]
pub(crate) struct Resumed {
    pub(crate) data: AccessData,
    /// `None` with `useStatelessSession`.
    pub(crate) session: Option<Session>,
    pub(crate) user: User,
}

impl Resumed {
    /// The estimated bytes this takes in the cache.
    fn weight(&self) -> usize {
        ENTRY_OVERHEAD + json_len(&self.user) + self.session.as_ref().map_or(0, json_len) + self.data.user_id.len() + self.data.session_id.len()
    }
}

/// The length of a value's JSON: an estimate of what it holds in memory.
fn json_len<T: serde::Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX / 4, |v| v.len())
}

struct Entry {
    /// The token's `exp`, in ms.
    expires_ms: i64,
    weight: usize,
    resumed: Arc<Resumed>,
}

/// The cache's key for a token: its SHA-256.
pub(crate) type Key = [u8; 32];

/// The key of `token`.
pub(crate) fn key(token: &str) -> Key {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Default)]
struct Entries {
    /// The stamp every entry was read under (`None` while empty).
    stamp: Option<Stamp>,
    bytes: usize,
    map: HashMap<Key, Entry>,
}

/// Resumed sessions by token digest.
#[derive(Default)]
pub(crate) struct SessionCache {
    entries: Mutex<Entries>,
}

impl SessionCache {
    /// What a resume of this token read, if it was read under `stamp` and the token is not expired at `now_ms`.
    pub(crate) fn get(&self, key: &Key, stamp: Stamp, now_ms: i64) -> Option<Arc<Resumed>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.stamp != Some(stamp) {
            return None;
        }
        let entry = entries.map.get(key)?;
        (now_ms < entry.expires_ms).then(|| entry.resumed.clone())
    }

    /// Remembers a successful resume, read after `stamp` was taken (unless it is too large).
    pub(crate) fn put(&self, key: Key, stamp: Stamp, expires_ms: i64, resumed: Arc<Resumed>) {
        let weight = resumed.weight();
        if weight > MAX_ENTRY_BYTES {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Entries of another stamp can never serve again; a full cache starts over. What is dropped
        // is freed after the lock is released.
        let full = entries.map.len() >= CAPACITY || entries.bytes + weight > MAX_BYTES;
        let dropped = if entries.stamp != Some(stamp) || (full && !entries.map.contains_key(&key)) {
            entries.bytes = 0;
            entries.stamp = Some(stamp);
            std::mem::take(&mut entries.map)
        } else {
            HashMap::new()
        };
        if let Some(old) = entries.map.insert(key, Entry { expires_ms, weight, resumed }) {
            entries.bytes -= old.weight;
        }
        entries.bytes += weight;
        drop(entries);
        drop(dropped);
    }

    /// The estimated bytes held (for tests).
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.entries.lock().unwrap().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resumed_with(id: &str, profile_bytes: usize) -> Arc<Resumed> {
        let user: User = serde_json::from_value(serde_json::json!({
            "id": id, "emails": [], "deactivated": false, "createdAt": 0, "updatedAt": 0, "profile": {"bio": "x".repeat(profile_bytes)}
        }))
        .expect("a user");
        Arc::new(Resumed {
            data: AccessData { user_id: id.into(), is_impersonated: false, session_id: "s".into(), impersonator_user_id: None },
            session: None,
            user,
        })
    }

    fn resumed(id: &str) -> Arc<Resumed> {
        resumed_with(id, 0)
    }

    /// What the cached users really hold, measured here (not the cache's own count).
    fn held_bytes(cache: &SessionCache) -> (usize, usize) {
        let entries = cache.entries.lock().unwrap();
        (entries.map.len(), entries.map.values().map(|e| serde_json::to_vec(&e.resumed.user).unwrap().len()).sum())
    }

    #[test]
    fn an_entry_serves_only_under_its_stamp_and_before_expiry() {
        let cache = SessionCache::default();
        let stamp = Stamp { changes: 7, ring: 0 };
        cache.put(key("token"), stamp, 1_000, resumed("u1"));
        assert_eq!(cache.get(&key("token"), stamp, 999).map(|r| r.user.id.clone()), Some("u1".to_string()));
        assert!(cache.get(&key("token"), stamp, 1_000).is_none(), "expired");
        assert!(cache.get(&key("token"), Stamp { changes: 8, ring: 0 }, 0).is_none(), "a commit since");
        assert!(cache.get(&key("token"), Stamp { changes: 7, ring: 1 }, 0).is_none(), "a new key ring since");
        assert!(cache.get(&key("other"), stamp, 0).is_none());
    }

    #[test]
    fn a_put_under_a_new_stamp_drops_what_older_stamps_read() {
        let cache = SessionCache::default();
        let old = Stamp { changes: 1, ring: 0 };
        let now = Stamp { changes: 2, ring: 0 };
        for i in 0..100 {
            cache.put(key(&i.to_string()), old, i64::MAX, resumed("u"));
        }
        cache.put(key("new"), now, i64::MAX, resumed("u"));
        assert_eq!(held_bytes(&cache).0, 1, "stale entries dropped, the current one kept");
        assert!(cache.get(&key("new"), now, 0).is_some());
    }

    #[test]
    fn the_cache_stays_under_its_byte_bound_with_large_profiles() {
        let cache = SessionCache::default();
        let stamp = Stamp { changes: 1, ring: 0 };
        // Users of ~3 KiB (cached), 8 192 tokens: 24 MiB if counted by entries only.
        for i in 0..CAPACITY {
            cache.put(key(&i.to_string()), stamp, i64::MAX, resumed_with("u", 3 << 10));
            assert!(cache.bytes() <= MAX_BYTES);
            if i % 1024 == 1023 {
                let (_, held) = held_bytes(&cache);
                assert!(held <= MAX_BYTES, "{held} bytes held after {i} puts");
            }
        }
        let (n, held) = held_bytes(&cache);
        assert!(n > 0 && held <= cache.bytes(), "the estimate covers what is held ({held} of {})", cache.bytes());
        // A 60 KiB profile is never cached: it is read again.
        let fat = SessionCache::default();
        for i in 0..100 {
            fat.put(key(&i.to_string()), stamp, i64::MAX, resumed_with("fat", 60 << 10));
        }
        assert_eq!(held_bytes(&fat), (0, 0));
        assert!(fat.get(&key("0"), stamp, 0).is_none());
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = SessionCache::default();
        let stamp = Stamp { changes: 1, ring: 0 };
        for i in 0..=CAPACITY {
            cache.put(key(&i.to_string()), stamp, i64::MAX, resumed("u"));
        }
        assert_eq!(held_bytes(&cache).0, 1, "started over at the entry bound");
        assert!(cache.get(&key(&CAPACITY.to_string()), stamp, 0).is_some());
    }
}
