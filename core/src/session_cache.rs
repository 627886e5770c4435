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
//! read, and expire with the token. Failures are never cached. Stores without a change counter
//! (PostgreSQL) cache nothing.

use crate::tokens::AccessData;
use crate::types::{Session, User};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// At most this many tokens are remembered; a full cache starts over (a resume is then read again).
const CAPACITY: usize = 8192;

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

struct Entry {
    stamp: Stamp,
    /// The token's `exp`, in ms.
    expires_ms: i64,
    resumed: Resumed,
}

/// The cache's key for a token: its SHA-256.
pub(crate) type Key = [u8; 32];

/// The key of `token`.
pub(crate) fn key(token: &str) -> Key {
    Sha256::digest(token.as_bytes()).into()
}

/// Resumed sessions by token digest.
#[derive(Default)]
pub(crate) struct SessionCache {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl SessionCache {
    /// What a resume of this token read, if it was read under `stamp` and the token is not expired at `now_ms`.
    pub(crate) fn get(&self, key: &Key, stamp: Stamp, now_ms: i64) -> Option<Resumed> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(key)?;
        (entry.stamp == stamp && now_ms < entry.expires_ms).then(|| entry.resumed.clone())
    }

    /// Remembers a successful resume, read after `stamp` was taken.
    pub(crate) fn put(&self, key: Key, stamp: Stamp, expires_ms: i64, resumed: Resumed) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            // Drop what an older stamp read first (it can never serve again), else start over.
            entries.retain(|_, e| e.stamp == stamp);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, Entry { stamp, expires_ms, resumed });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resumed(id: &str) -> Resumed {
        let user: User = serde_json::from_value(serde_json::json!({"id": id, "emails": [], "deactivated": false, "createdAt": 0, "updatedAt": 0}))
            .expect("a user");
        Resumed {
            data: AccessData { user_id: id.into(), is_impersonated: false, session_id: "s".into(), impersonator_user_id: None },
            session: None,
            user,
        }
    }

    #[test]
    fn an_entry_serves_only_under_its_stamp_and_before_expiry() {
        let cache = SessionCache::default();
        let stamp = Stamp { changes: 7, ring: 0 };
        cache.put(key("token"), stamp, 1_000, resumed("u1"));
        assert_eq!(cache.get(&key("token"), stamp, 999).map(|r| r.user.id), Some("u1".to_string()));
        assert!(cache.get(&key("token"), stamp, 1_000).is_none(), "expired");
        assert!(cache.get(&key("token"), Stamp { changes: 8, ring: 0 }, 0).is_none(), "a commit since");
        assert!(cache.get(&key("token"), Stamp { changes: 7, ring: 1 }, 0).is_none(), "a new key ring since");
        assert!(cache.get(&key("other"), stamp, 0).is_none());
    }

    #[test]
    fn a_full_cache_keeps_only_current_entries() {
        let cache = SessionCache::default();
        let old = Stamp { changes: 1, ring: 0 };
        let now = Stamp { changes: 2, ring: 0 };
        for i in 0..CAPACITY {
            cache.put(key(&i.to_string()), if i == 0 { now } else { old }, i64::MAX, resumed("u"));
        }
        cache.put(key("new"), now, i64::MAX, resumed("u"));
        let entries = cache.entries.lock().unwrap();
        assert_eq!(entries.len(), 2, "stale entries dropped, current ones kept");
    }
}
