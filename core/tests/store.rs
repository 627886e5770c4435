//! One store suite, run against every backend: SQLite in memory, SQLite on a file, and PostgreSQL
//! when `ACCOUNTS_TEST_PG_URL` names a server (`make test` starts one; with
//! `ACCOUNTS_REQUIRE_PG=1` a missing server fails the suite instead of skipping PostgreSQL).
mod common;
use accounts_core::host::store::{NewUser, SessionRecord, Store, TokenRecord, TokenScope, postgres::PostgresStore, sqlite::SqliteStore};
use accounts_core::host::*;
use accounts_core::*;
use serde_json::{Map, json};
use std::sync::Arc;

/// A fresh, empty store of each available backend.
fn backends() -> Vec<(&'static str, Arc<dyn Store>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let file = SqliteStore::open(dir.path().join("s.db").to_str().unwrap()).unwrap();
    let mut v: Vec<(&'static str, Arc<dyn Store>, Option<tempfile::TempDir>)> =
        vec![("sqlite-memory", Arc::new(SqliteStore::open(":memory:").unwrap()), None), ("sqlite-file", Arc::new(file), Some(dir))];
    if let Some(url) = common::pg_database() {
        v.push(("postgres", Arc::new(PostgresStore::open(&url, 8).unwrap()), None));
    }
    v
}

fn new_user(id: &str, username: Option<&str>, email: Option<&str>, hash: Option<&str>) -> NewUser {
    NewUser {
        id: id.into(),
        username: username.map(String::from),
        username_key: username.map(|u| u.to_lowercase()),
        emails: email.map(|a| EmailRecord { address: a.into(), verified: false }).into_iter().collect(),
        profile: Map::from_iter([("plan".to_string(), json!("pro"))]),
        password_hash: hash.map(String::from),
        services: Vec::new(),
        deactivated: false,
        created_at: 1000,
        updated_at: 1000,
    }
}

fn session(id: &str, user: &str, created: i64) -> SessionRecord {
    SessionRecord {
        session: Session {
            id: id.into(),
            user_id: user.into(),
            valid: true,
            ip: Some("10.0.0.1".into()),
            user_agent: None,
            impersonator_user_id: None,
            refresh_count: 0,
            created_at: created,
            updated_at: created,
        },
        refresh_digest: format!("d0-{id}"),
        prev_refresh_digest: None,
        rotated_at: created,
    }
}

fn token(digest: &str, user: &str, kind: &str, address: &str) -> TokenRecord {
    TokenRecord { digest: digest.into(), user_id: user.into(), kind: kind.into(), address: Some(address.into()), expires_at: 5000, created_at: 1000 }
}

fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
    r.unwrap_err().code
}

#[test]
fn users_and_passwords() {
    for (name, s, _dir) in backends() {
        s.create_user(&new_user("u1", Some("ann"), Some("ann@example.com"), Some("$argon2id$h1"))).unwrap();
        s.create_user(&new_user("u2", Some("bob"), None, None)).unwrap();
        assert_eq!(code(s.create_user(&new_user("u3", None, Some("ann@example.com"), None))), ErrorCode::EmailAlreadyExists, "{name}");
        assert_eq!(code(s.create_user(&new_user("u3", Some("ann"), None, None))), ErrorCode::UsernameAlreadyExists, "{name}");
        assert!(s.find_user_by_id("u3").unwrap().is_none(), "{name}: a failed insert leaves nothing");

        let u = s.find_user_by_id("u1").unwrap().unwrap();
        assert_eq!(u.username.as_deref(), Some("ann"));
        assert_eq!(u.emails, vec![EmailRecord { address: "ann@example.com".into(), verified: false }]);
        assert_eq!(u.profile.get("plan"), Some(&json!("pro")), "{name}");
        assert_eq!((u.created_at, u.updated_at, u.deactivated), (1000, 1000, false));
        assert_eq!(s.find_user_by_email("ann@example.com").unwrap().unwrap().id, "u1");
        assert_eq!(s.find_user_by_username("bob").unwrap().unwrap().id, "u2");
        assert!(s.find_user_by_username("Bob").unwrap().is_none(), "{name}: exact usernames");
        assert!(s.find_user_by_email("nobody@example.com").unwrap().is_none());

        assert_eq!(s.find_password_hash("u1").unwrap().as_deref(), Some("$argon2id$h1"));
        assert_eq!(s.find_password_hash("u2").unwrap(), None);
        s.set_password_hash("u2", "$argon2id$h2", 2000).unwrap();
        s.set_password_hash("u1", "$argon2id$h3", 2000).unwrap();
        assert_eq!(s.find_password_hash("u2").unwrap().as_deref(), Some("$argon2id$h2"));
        assert_eq!(s.find_password_hash("u1").unwrap().as_deref(), Some("$argon2id$h3"));
        assert_eq!(s.find_user_by_id("u1").unwrap().unwrap().updated_at, 2000);
        assert_eq!(code(s.set_password_hash("nope", "h", 1)), ErrorCode::UserNotFound, "{name}");

        // The highest bcrypt cost stored (the login timing floor): costs 4-15 in two digits only.
        assert_eq!(s.max_bcrypt_cost().unwrap(), None, "{name}: argon2id only");
        let body = "LhayLxezLhK1LhWvKxCyLOj0j1u.Kj0jZ0pEmm134uzrQlFvQJLF6";
        for (i, hash) in [format!("$2b$31${body}"), format!("$2b$+9${body}"), format!("$2a$06${body}"), format!("$2y$04${body}")].iter().enumerate() {
            s.create_user(&new_user(&format!("b{i}"), None, None, Some(hash))).unwrap();
        }
        assert_eq!(s.max_bcrypt_cost().unwrap(), Some(6), "{name}");
        s.set_password_hash("b2", "$argon2id$h4", 3000).unwrap();
        assert_eq!(s.max_bcrypt_cost().unwrap(), Some(4), "{name}: the cost-6 hash was rehashed");
        s.set_password_hash("b3", &format!("$2b$12${body}"), 3000).unwrap();
        assert_eq!(s.max_bcrypt_cost().unwrap(), Some(12), "{name}");
        s.set_password_hash("b3", "$argon2id$h5", 3000).unwrap();
        assert_eq!(s.max_bcrypt_cost().unwrap(), None, "{name}: every bcrypt hash in range rehashed");

        s.set_deactivated("u1", true, 3000).unwrap();
        assert!(s.find_user_by_id("u1").unwrap().unwrap().deactivated);
        s.set_deactivated("u1", false, 3001).unwrap();
        assert!(!s.find_user_by_id("u1").unwrap().unwrap().deactivated);
        assert_eq!(code(s.set_deactivated("nope", true, 1)), ErrorCode::UserNotFound, "{name}");
    }
}

#[test]
fn sessions_rotate_by_compare_and_swap() {
    for (name, s, _dir) in backends() {
        s.create_user(&new_user("u1", Some("ann"), None, None)).unwrap();
        assert_eq!(code(s.create_session(&session("sx", "nobody", 1))), ErrorCode::UserNotFound, "{name}");
        s.create_session(&session("s1", "u1", 100)).unwrap();
        s.create_session(&session("s2", "u1", 200)).unwrap();
        s.create_session(&session("s3", "u1", 300)).unwrap();
        let r = s.find_session("s1").unwrap().unwrap();
        assert_eq!((r.refresh_digest.as_str(), r.session.ip.as_deref(), r.session.valid), ("d0-s1", Some("10.0.0.1"), true));
        assert!(s.find_session("nope").unwrap().is_none());

        let info = ConnectionInfo { ip: None, user_agent: Some("agent".into()) };
        assert!(s.rotate_session("s1", "d0-s1", "d1-s1", 150, &info).unwrap(), "{name}");
        assert!(!s.rotate_session("s1", "d0-s1", "d2-s1", 160, &info).unwrap(), "{name}: stale digest does not swap");
        let r = s.find_session("s1").unwrap().unwrap();
        assert_eq!(r.refresh_digest, "d1-s1");
        assert_eq!(r.prev_refresh_digest.as_deref(), Some("d0-s1"));
        assert_eq!((r.session.refresh_count, r.rotated_at, r.session.updated_at), (1, 150, 150));
        assert_eq!((r.session.ip.as_deref(), r.session.user_agent.as_deref()), (Some("10.0.0.1"), Some("agent")));

        assert!(s.invalidate_session("s1", 400).unwrap());
        assert!(!s.invalidate_session("s1", 401).unwrap(), "{name}: already invalid");
        assert!(!s.rotate_session("s1", "d1-s1", "d3", 402, &info).unwrap(), "{name}: invalid sessions never rotate");
        assert_eq!(s.invalidate_all_sessions("u1", &["s3".to_string()], 500).unwrap(), 1, "{name}: s2 only");
        let list = s.list_sessions("u1").unwrap();
        let shown: Vec<(&str, bool)> = list.iter().map(|x| (x.id.as_str(), x.valid)).collect();
        assert_eq!(shown, vec![("s3", true), ("s2", false), ("s1", false)], "{name}: newest first");
        assert_eq!(s.invalidate_all_sessions("u1", &[], 600).unwrap(), 1);
        assert!(s.list_sessions("nobody").unwrap().is_empty());
    }
}

#[test]
fn concurrent_rotations_and_token_takes_have_one_winner() {
    for (name, s, _dir) in backends() {
        s.create_user(&new_user("u1", Some("ann"), Some("ann@example.com"), None)).unwrap();
        s.create_session(&session("s1", "u1", 100)).unwrap();
        s.insert_token(&token("t1", "u1", "magicLink", "ann@example.com"), TokenScope::Kind).unwrap();
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let rotated = s.rotate_session("s1", "d0-s1", &format!("next-{i}"), 200, &ConnectionInfo::default()).unwrap();
                    let took = s.take_token("t1", &["magicLink"]).unwrap().is_some();
                    (rotated, took)
                })
            })
            .collect();
        let results: Vec<(bool, bool)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| r.0).count(), 1, "{name}: one rotation wins");
        assert_eq!(results.iter().filter(|r| r.1).count(), 1, "{name}: one take wins");
        assert_eq!(s.find_session("s1").unwrap().unwrap().session.refresh_count, 1);
    }
}

#[test]
fn emails_are_unique_ordered_and_verifiable() {
    for (name, s, _dir) in backends() {
        s.create_user(&new_user("u1", Some("ann"), Some("ann@example.com"), None)).unwrap();
        s.create_user(&new_user("u2", Some("bob"), None, None)).unwrap();
        s.add_email("u1", "second@example.com", false, 2000).unwrap();
        s.add_email("u1", "third@example.com", true, 2000).unwrap();
        assert_eq!(code(s.add_email("u2", "second@example.com", false, 1)), ErrorCode::EmailAlreadyExists, "{name}");
        assert_eq!(code(s.add_email("nobody", "x@example.com", false, 1)), ErrorCode::UserNotFound, "{name}");
        let shown = |id: &str| -> Vec<(String, bool)> {
            s.find_user_by_id(id).unwrap().unwrap().emails.into_iter().map(|e| (e.address, e.verified)).collect()
        };
        assert_eq!(
            shown("u1"),
            vec![("ann@example.com".into(), false), ("second@example.com".into(), false), ("third@example.com".into(), true)],
            "{name}"
        );
        assert!(s.verify_email("u1", "second@example.com", 3000).unwrap());
        assert!(!s.verify_email("u2", "second@example.com", 3000).unwrap(), "{name}: not bob's");
        assert!(shown("u1")[1].1);
        assert_eq!(s.find_user_by_email("second@example.com").unwrap().unwrap().id, "u1");

        s.insert_token(&token("t-second", "u1", "verifyEmail", "second@example.com"), TokenScope::KindAndAddress).unwrap();
        s.insert_token(&token("t-first", "u1", "verifyEmail", "ann@example.com"), TokenScope::KindAndAddress).unwrap();
        assert!(s.remove_email("u1", "second@example.com", 4000).unwrap());
        assert!(!s.remove_email("u1", "second@example.com", 4000).unwrap(), "{name}");
        assert!(s.take_token("t-second", &["verifyEmail"]).unwrap().is_none(), "{name}: tokens die with their address");
        assert!(s.take_token("t-first", &["verifyEmail"]).unwrap().is_some());
        assert_eq!(shown("u1").len(), 2);
        assert_eq!(s.find_user_by_id("u1").unwrap().unwrap().updated_at, 4000);
        s.add_email("u2", "second@example.com", false, 5000).unwrap();
    }
}

#[test]
fn expired_tokens_and_attempt_counters_are_purged() {
    for (name, s, _dir) in backends() {
        s.create_user(&new_user("u1", Some("ann"), Some("ann@example.com"), None)).unwrap();
        s.insert_token(&token("old", "u1", "resetPassword", "ann@example.com"), TokenScope::Kind).unwrap();
        // A token written after `old` expired removes it on the way (purge on write).
        let mut later = token("v1", "u1", "verifyEmail", "ann@example.com");
        later.created_at = 6000;
        later.expires_at = 9000;
        s.insert_token(&later, TokenScope::KindAndAddress).unwrap();
        assert!(s.find_token("old").unwrap().is_none(), "{name}");
        let hits = s.hit_attempts(&[("k1".into(), 1000), ("k2".into(), 5000)], 10_000).unwrap();
        assert_eq!(hits.iter().map(|h| (h.failures, h.expires_at)).collect::<Vec<_>>(), vec![(1, 11_000), (1, 15_000)], "{name}");
        let report = s.purge_expired(12_000).unwrap();
        assert_eq!((report.tokens, report.attempts), (1, 1), "{name}: v1 and k1 had expired");
        assert_eq!(s.read_attempts(&["k1".into(), "k2".into()], 12_000).unwrap().len(), 1, "{name}");
        assert_eq!(s.purge_expired(12_000).unwrap(), PurgeReport::default());
    }
}

#[test]
fn attempt_counters_count_within_their_window_and_clear() {
    for (name, s, _dir) in backends() {
        let keys = vec!["a".to_string(), "b".to_string()];
        for i in 1..=3 {
            let hits = s.hit_attempts(&[("a".into(), 1000), ("b".into(), 60_000)], 100 + i).unwrap();
            assert_eq!(hits[0].failures, i, "{name}");
            assert_eq!(hits[0].expires_at, 1101, "{name}: the window starts at the first failure");
        }
        // a's window ended: it starts again at 1, b keeps counting.
        let hits = s.hit_attempts(&[("a".into(), 1000), ("b".into(), 60_000)], 2000).unwrap();
        assert_eq!((hits[0].failures, hits[0].expires_at, hits[1].failures), (1, 3000, 4), "{name}");
        let live = s.read_attempts(&keys, 2500).unwrap();
        assert_eq!(live.len(), 2, "{name}");
        assert_eq!(s.read_attempts(&keys, 3000).unwrap().len(), 1, "{name}: expired counters are not read");
        s.release_attempts(&["a".to_string()], &["b".to_string()]).unwrap();
        assert!(s.read_attempts(&["b".to_string()], 2500).unwrap().is_empty(), "{name}: cleared");
        assert_eq!(s.read_attempts(&["a".to_string()], 2500).unwrap()[0].failures, 0, "{name}: one taken back");
        s.release_attempts(&["a".to_string()], &[]).unwrap();
        assert_eq!(s.read_attempts(&["a".to_string()], 2500).unwrap()[0].failures, 0, "{name}: never below 0");
        // Concurrent hits from many threads are all counted.
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        s.hit_attempts(&[("c".into(), 60_000)], 5000).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(s.read_attempts(&["c".to_string()], 5000).unwrap()[0].failures, 40, "{name}");
    }
}

#[test]
fn one_time_tokens() {
    for (name, s, _dir) in backends() {
        s.create_user(&new_user("u1", Some("ann"), Some("ann@example.com"), None)).unwrap();
        assert_eq!(code(s.insert_token(&token("tx", "nobody", "resetPassword", "a@b.co"), TokenScope::Kind)), ErrorCode::UserNotFound, "{name}");
        s.insert_token(&token("r1", "u1", "resetPassword", "ann@example.com"), TokenScope::Kind).unwrap();
        assert_eq!(s.find_token("r1").unwrap().unwrap().kind, "resetPassword", "{name}: a peek does not use it up");
        s.insert_token(&token("r2", "u1", "resetPassword", "ann@example.com"), TokenScope::Kind).unwrap();
        assert!(s.take_token("r1", &["resetPassword"]).unwrap().is_none(), "{name}: replaced");
        assert!(s.take_token("r2", &["verifyEmail"]).unwrap().is_none(), "{name}: wrong kind is not taken");
        let t = s.take_token("r2", &["resetPassword", "enrollAccount"]).unwrap().unwrap();
        assert_eq!(t, token("r2", "u1", "resetPassword", "ann@example.com"));
        assert!(s.take_token("r2", &["resetPassword"]).unwrap().is_none(), "{name}: single use");
        for d in ["m1", "m2", "m3"] {
            s.insert_token(&token(d, "u1", "magicLink", &format!("{d}@example.com")), TokenScope::KindAndAddress).unwrap();
        }
        s.insert_token(&token("v0", "u1", "verifyEmail", "ann@example.com"), TokenScope::KindAndAddress).unwrap();
        s.insert_token(&token("v1", "u1", "verifyEmail", "ann@example.com"), TokenScope::KindAndAddress).unwrap();
        assert!(s.find_token("v0").unwrap().is_none(), "{name}: one live verification link per address");
        assert_eq!(s.delete_tokens("u1", "magicLink").unwrap(), 3, "{name}");
        assert_eq!(s.delete_tokens("u1", "magicLink").unwrap(), 0);
        s.decoy_write("decoy-digest", 1000).unwrap();
        s.decoy_write("decoy-digest", 1001).unwrap(); // leaves nothing behind, so it can repeat
        assert!(s.take_token("decoy-digest", &["magicLink", "verifyEmail", "resetPassword"]).unwrap().is_none(), "{name}");
        assert!(s.take_token("v1", &["verifyEmail"]).unwrap().is_some());
    }
}

#[test]
fn service_documents_swap_atomically() {
    for (name, s, _dir) in backends() {
        s.create_user(&new_user("u1", Some("ann"), None, None)).unwrap();
        assert_eq!(s.find_service("u1", "two-factor").unwrap(), None);
        assert!(s.swap_service("u1", "two-factor", None, Some(r#"{"v":1}"#), 10).unwrap());
        assert!(!s.swap_service("u1", "two-factor", None, Some(r#"{"v":9}"#), 10).unwrap(), "{name}: exists already");
        assert!(!s.swap_service("u1", "two-factor", Some(r#"{"v":0}"#), Some(r#"{"v":2}"#), 10).unwrap(), "{name}: stale");
        assert!(s.swap_service("u1", "two-factor", Some(r#"{"v":1}"#), Some(r#"{"v":2}"#), 10).unwrap());
        assert_eq!(s.find_service("u1", "two-factor").unwrap().as_deref(), Some(r#"{"v":2}"#));
        assert_eq!(s.find_service("u1", "other").unwrap(), None);
        assert!(!s.swap_service("u1", "two-factor", Some(r#"{"v":1}"#), None, 10).unwrap());
        assert!(s.swap_service("u1", "two-factor", Some(r#"{"v":2}"#), None, 10).unwrap());
        assert_eq!(s.find_service("u1", "two-factor").unwrap(), None, "{name}");
        assert_eq!(code(s.swap_service("nobody", "two-factor", None, Some("{}"), 10)), ErrorCode::UserNotFound, "{name}");
    }
}

#[test]
fn linked_accounts_are_unique_and_the_last_login_method_stays() {
    use accounts_core::host::store::Unlinked;
    for (name, store, _dir) in backends() {
        let account = |provider: &str, id: &str, user: &str| LinkedAccount {
            provider: provider.into(),
            id: id.into(),
            user_id: user.into(),
            email: Some(format!("{id}@example.com")),
            created_at: 1000,
            tokens: None,
        };
        store.create_user(&new_user("with-password", None, None, Some("hash"))).unwrap();
        store.create_user(&new_user("no-password", None, None, None)).unwrap();
        let link = |a: &LinkedAccount| store::transaction(&*store, |w| w.link_account(a));
        link(&account("github", "1", "with-password")).unwrap();
        // One user per identity, one identity per provider and user, and only existing users.
        assert_eq!(code(link(&account("github", "1", "no-password"))), ErrorCode::AccountAlreadyLinked, "{name}");
        assert_eq!(code(link(&account("github", "2", "with-password"))), ErrorCode::AccountAlreadyLinked, "{name}");
        assert_eq!(code(link(&account("github", "3", "nobody"))), ErrorCode::UserNotFound, "{name}");
        link(&account("google", "g1", "with-password")).unwrap();
        link(&account("github", "2", "no-password")).unwrap();
        link(&account("google", "g2", "no-password")).unwrap();
        assert_eq!(store.find_linked_account("github", "1").unwrap(), Some(account("github", "1", "with-password")), "{name}");
        assert_eq!(store.find_linked_account("github", "nobody").unwrap(), None, "{name}");
        // Sealed provider tokens are replaced in place.
        assert!(store::transaction(&*store, |w| w.set_linked_tokens("github", "1", Some("sealed"))).unwrap(), "{name}");
        assert!(!store::transaction(&*store, |w| w.set_linked_tokens("github", "nobody", Some("x"))).unwrap(), "{name}");
        assert_eq!(store.find_linked_account("github", "1").unwrap().unwrap().tokens.as_deref(), Some("sealed"), "{name}");
        assert!(store::transaction(&*store, |w| w.set_linked_tokens("github", "1", None)).unwrap(), "{name}");
        let providers = |user: &str| store.list_linked_accounts(user).unwrap().into_iter().map(|a| a.provider).collect::<Vec<_>>();
        assert_eq!(providers("with-password"), ["github", "google"], "{name}");
        // With a password, every identity may go; without one, all but the last.
        assert_eq!(store.unlink_account("with-password", "github").unwrap(), Unlinked::Removed, "{name}");
        assert_eq!(store.unlink_account("with-password", "google").unwrap(), Unlinked::Removed, "{name}");
        assert_eq!(store.unlink_account("with-password", "google").unwrap(), Unlinked::NotLinked, "{name}");
        assert_eq!(store.unlink_account("no-password", "github").unwrap(), Unlinked::Removed, "{name}");
        assert_eq!(store.unlink_account("no-password", "google").unwrap(), Unlinked::LastLoginMethod, "{name}");
        assert_eq!(providers("no-password"), ["google"], "{name}");
        assert_eq!(store.find_linked_account("github", "1").unwrap(), None, "{name}: an unlinked identity is free again");
    }
}

#[test]
fn server_flows_on_every_backend() {
    let mut urls = vec!["sqlite::memory:".to_string()];
    urls.extend(common::pg_database());
    for url in urls {
        let (s, clock, mails) = common::mailbox_on(&url, json!({}));
        let id = s.password().create_user(&json!({"username": "dana", "email": "dana@example.com", "password": "first password"})).unwrap();
        let login = s.login_with_service("password", &json!({"user": "dana", "password": "first password"}), &common::no_info()).unwrap();
        assert_eq!(s.resume_session(&login.tokens.access_token).unwrap().id, id, "{url}");
        let r = s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &common::no_info()).unwrap();
        clock.advance_secs(11);
        assert_eq!(
            common::code(s.refresh_tokens(&login.tokens.access_token, &login.tokens.refresh_token, &common::no_info())),
            ErrorCode::RefreshTokenReused,
            "{url}"
        );
        assert_eq!(common::code(s.resume_session(&r.tokens.access_token)), ErrorCode::InvalidSession, "{url}");
        s.password().send_reset_password_email("dana@example.com").unwrap();
        let (_, t) = common::last_link(&mails);
        s.password().reset_password(&t, "second password", None, &common::no_info()).unwrap();
        let secret = s.password().two_factor().get_new_auth_secret().unwrap();
        let now = (clock.now_ms() / 1000) as u64;
        let codes = s.password().two_factor().set(&id, &secret.base32, &common::totp_code(&secret.base32, now)).unwrap();
        let p = json!({"user": "dana", "password": "second password", "code": codes[0]});
        let login = s.login_with_service("password", &p, &common::no_info()).unwrap();
        s.logout(&login.tokens.access_token).unwrap();
        assert_eq!(common::code(s.login_with_service("password", &p, &common::no_info())), ErrorCode::TwoFactorCodeDidNotMatch);
    }
}

#[test]
fn postgres_migrations_are_safe_when_many_start_at_once() {
    let Some(url) = common::pg_database() else { return };
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStore::open(&url, 1).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let version: i32 = client.query_one("SELECT version FROM accounts_schema", &[]).unwrap().get(0);
    assert_eq!(version, 7);
    assert_eq!(client.query_one("SELECT count(*) FROM accounts_schema", &[]).unwrap().get::<_, i64>(0), 1);
    // A database written by a newer library is refused rather than misread.
    client.execute("UPDATE accounts_schema SET version = 99", &[]).unwrap();
    assert_eq!(PostgresStore::open(&url, 1).err().unwrap().code, ErrorCode::StorageError);
    assert_eq!(PostgresStore::open("postgres://nobody@127.0.0.1:1/x", 1).err().unwrap().code, ErrorCode::StorageError);
    assert_eq!(PostgresStore::open("postgres://[bad", 1).err().unwrap().code, ErrorCode::InvalidConfig);
}

#[test]
fn lookalike_addresses_pending_flows_and_sealed_values_on_every_backend() {
    use accounts_core::host::store::{MAX_PENDING_FLOWS_PER_CLIENT, OAuthFlow, SealedColumn};
    for (name, s, _dir) in backends() {
        // An address imitating a held one (non-ASCII skeleton) is refused; ASCII neighbours are not.
        s.create_user(&new_user("u1", None, Some("alice@example.com"), None)).unwrap();
        assert_eq!(code(s.create_user(&new_user("u2", None, Some("аӏісе@example.com"), None))), ErrorCode::EmailAlreadyExists, "{name}");
        s.add_email("u1", "раураӏ@example.com", false, 1).unwrap();
        // The ASCII original arriving after its imitation meets it just the same.
        assert_eq!(code(s.create_user(&new_user("u4", None, Some("paypal@example.com"), None))), ErrorCode::EmailAlreadyExists, "{name}");
        s.create_user(&new_user("u5", None, Some("modem@example.com"), None)).unwrap();
        s.create_user(&new_user("u6", None, Some("modern@example.com"), None)).unwrap();

        // Pending flows: expired ones go at the next insert; a client keeps its newest 20.
        let flow = |i: i64, client: Option<&str>, expires_at: i64| OAuthFlow {
            digest: format!("{}-{i:05}", client.unwrap_or("none")),
            provider: "corp".into(),
            verifier: format!("sealed-{i}"),
            nonce_digest: "n".into(),
            redirect_uri: "https://app.example/cb".into(),
            expires_at,
            created_at: 1000 + i,
            client: client.map(String::from),
        };
        s.insert_oauth_flow(&flow(0, Some("a"), 1500)).unwrap();
        for i in 1..=50 {
            s.insert_oauth_flow(&flow(i, Some("b"), 1_000_000)).unwrap();
        }
        s.insert_oauth_flow(&flow(600, None, 1_000_000)).unwrap();
        assert!(s.take_oauth_flow("a-00000").unwrap().is_none(), "{name}: expired flow purged on insert");
        assert!(s.take_oauth_flow("b-00030").unwrap().is_none(), "{name}: beyond the client's cap");
        let kept = (31..=50).filter(|i| s.take_oauth_flow(&format!("b-{i:05}")).unwrap().is_some()).count() as i64;
        assert_eq!(kept, MAX_PENDING_FLOWS_PER_CLIENT, "{name}");
        assert_eq!(s.take_oauth_flow("none-00600").unwrap().unwrap().client, None, "{name}");

        // Sealed values page and swap only when unchanged.
        s.insert_oauth_flow(&flow(700, Some("c"), 1_000_000)).unwrap();
        let page = s.list_sealed(SealedColumn::FlowVerifier, ("", ""), 10).unwrap();
        assert_eq!(page.iter().map(|v| v.sealed.as_str()).collect::<Vec<_>>(), ["sealed-700"], "{name}");
        assert!(!s.swap_sealed(SealedColumn::FlowVerifier, ("c-00700", ""), "stale", "new").unwrap());
        assert!(s.swap_sealed(SealedColumn::FlowVerifier, ("c-00700", ""), "sealed-700", "new").unwrap());
        assert_eq!(s.take_oauth_flow("c-00700").unwrap().unwrap().verifier, "new");
        assert!(s.list_sealed(SealedColumn::LinkedTokens, ("", ""), 10).unwrap().is_empty(), "{name}");
    }
}

/// The name PostgreSQL knows each of `statements` by in the session of the pool's connection (its
/// prepared statements, `pg_prepared_statements`), `None` for one not prepared there; and the
/// session's backend pid.
#[cfg(feature = "fault-injection")]
fn prepared(s: &PostgresStore, statements: &[&str]) -> (Vec<Option<String>>, i32) {
    s.with_pooled_connection(|c| {
        let names = statements
            .iter()
            .map(|sql| {
                let rows = c.query("SELECT name FROM pg_prepared_statements WHERE statement = $1", &[sql]).unwrap();
                assert!(rows.len() <= 1, "{sql} prepared {} times", rows.len());
                rows.first().map(|r| r.get(0))
            })
            .collect();
        (names, c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0))
    })
    .unwrap()
}

#[cfg(feature = "fault-injection")]
#[test]
fn postgres_statements_are_prepared_once_per_connection() {
    let Some(url) = common::pg_database() else { return };
    // One connection, so every call below runs on the session the checks look at.
    let s = PostgresStore::open(&url, 1).unwrap();
    let find_user = "SELECT u.id, u.username, u.emails, u.profile, u.deactivated, u.created_at, u.updated_at FROM users u WHERE u.id = $1";
    let insert_session = "INSERT INTO sessions (id, user_id, refresh_digest, prev_refresh_digest, refresh_counter, rotated_at, valid, \
                          ip, user_agent, impersonator_user_id, created_at, updated_at) \
                          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    let lock_user = "SELECT 1 FROM users WHERE id = $1 FOR UPDATE";
    let statements = [find_user, insert_session, lock_user];
    assert_eq!(prepared(&s, &statements).0, vec![None, None, None], "nothing prepared before the first call");

    s.create_user(&new_user("u1", Some("ann"), Some("ann@example.com"), None)).unwrap();
    assert_eq!(s.find_user_by_id("u1").unwrap().unwrap().id, "u1");
    s.create_session(&session("s1", "u1", 1000)).unwrap();
    assert!(s.verify_email("u1", "ann@example.com", 2000).unwrap());
    let (first, pid) = prepared(&s, &statements);
    assert!(first.iter().all(Option::is_some), "single statements and statements in transactions stay prepared: {first:?}");

    // Used again: the same prepared statements, none added.
    let count = |s: &PostgresStore| {
        s.with_pooled_connection(|c| c.query_one("SELECT count(*) FROM pg_prepared_statements", &[]).unwrap().get::<_, i64>(0)).unwrap()
    };
    let before = count(&s);
    assert_eq!(s.find_user_by_id("u1").unwrap().unwrap().id, "u1");
    s.create_session(&session("s2", "u1", 1000)).unwrap();
    assert!(s.verify_email("u1", "ann@example.com", 3000).unwrap());
    assert_eq!(prepared(&s, &statements), (first.clone(), pid));
    assert_eq!(count(&s), before);
    // A failed statement stays prepared; so does one first prepared in a transaction rolled back.
    assert_eq!(code(s.create_session(&session("s2", "u1", 1000))), ErrorCode::StorageError);
    s.create_session(&session("s3", "u1", 1000)).unwrap();
    let touch_user = ["UPDATE users SET updated_at = $2 WHERE id = $1"];
    assert_eq!(code(s.set_password_hash("nobody", "$argon2id$h2", 5000)), ErrorCode::UserNotFound);
    let (kept, _) = prepared(&s, &touch_user);
    assert!(kept[0].is_some(), "prepared in the transaction that was rolled back");
    s.set_password_hash("u1", "$argon2id$h2", 5000).unwrap();
    assert_eq!(prepared(&s, &touch_user).0, kept);
    assert_eq!(s.find_password_hash("u1").unwrap().as_deref(), Some("$argon2id$h2"));

    // The session loses them (DISCARD ALL): the next calls, single statements and transactions,
    // prepare them again and succeed.
    let discard = || s.with_pooled_connection(|c| c.batch_execute("DISCARD ALL").unwrap()).unwrap();
    discard();
    assert_eq!(prepared(&s, &statements).0, vec![None, None, None]);
    assert!(s.verify_email("u1", "ann@example.com", 4000).unwrap(), "a transaction");
    assert_eq!(s.find_user_by_id("u1").unwrap().unwrap().id, "u1");
    discard();
    assert_eq!(s.find_user_by_id("u1").unwrap().unwrap().id, "u1", "a single statement");
    // The connection forgot them all at once: each is prepared again at its next use.
    s.create_session(&session("s4", "u1", 1000)).unwrap();
    assert!(s.verify_email("u1", "ann@example.com", 5000).unwrap());
    let (again, same_pid) = prepared(&s, &statements);
    assert_eq!(same_pid, pid, "the same connection");
    assert!(again.iter().all(Option::is_some), "{again:?}");

    // The connection is replaced: the new one prepares its own.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    assert!(admin.query_one("SELECT pg_terminate_backend($1)", &[&pid]).unwrap().get::<_, bool>(0));
    // The pool learns that its connection died when it is next used (docs/reliability.md).
    let _ = s.find_user_by_id("u1");
    assert_eq!(s.find_user_by_id("u1").unwrap().unwrap().id, "u1");
    s.create_session(&session("s5", "u1", 1000)).unwrap();
    let (renewed, new_pid) = prepared(&s, &statements);
    assert_ne!(new_pid, pid, "a new connection");
    assert_eq!(renewed[..2].iter().filter(|n| n.is_some()).count(), 2, "{renewed:?}");
    assert_eq!(renewed[2], None, "not used on the new connection yet");
    assert_eq!(s.find_session("s5").unwrap().unwrap().session.user_id, "u1");
}
