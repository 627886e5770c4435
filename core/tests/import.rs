//! Importing accounts-js users (docs/migrating-from-accounts-js.md): mongo documents and typeorm
//! rows in, logins with the same passwords and TOTP codes out; idempotent, per-record failures.
mod common;
use accounts_core::host::*;
use accounts_core::*;
use common::*;
use serde_json::{Value, json};

const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn mongo_record(id: &str, username: &str, email: &str, password: &str) -> Value {
    json!({
        "_id": {"$oid": id},
        "username": username,
        "emails": [{"address": email, "verified": true}],
        "services": {
            "password": {"bcrypt": bcrypt::hash(password, 4).unwrap()},
            "resume": {"loginTokens": [{"when": 1, "hashedToken": "x"}]},
            "email": {"verificationTokens": [{"token": "t", "address": email, "when": 1}]},
            "github": {"id": 42, "login": username}
        },
        "profile": {"name": username},
        "createdAt": {"$date": "2023-11-14T22:13:20.000Z"},
        "updatedAt": 1_700_000_100_000i64,
        "deactivated": false
    })
}

#[test]
fn mongo_and_typeorm_records_log_in_with_their_passwords_and_codes() {
    let (s, clock) = clocked(json!({}));
    let mut ann = mongo_record("65a1f0000000000000000001", "ann", "Ann@Example.com", "ann's old password");
    ann["services"]["two-factor"] = json!({"secret": {"base32": TOTP_SECRET, "otpauth_url": "otpauth://totp/x"}});
    let bob_typeorm = json!({
        "id": 7, "username": "bob", "deactivated": true, "createdAt": "2024-01-02T03:04:05.678Z",
        "emails": [{"id": 1, "address": "bob@example.com", "verified": false, "userId": 7}],
        "allServices": [{"name": "password", "options": {"bcrypt": bcrypt::hash("bob's old password", 4).unwrap()}}],
    });
    let report = s.import_users(&[ann, bob_typeorm]).unwrap();
    assert_eq!((report.imported, report.skipped, report.failed.len()), (2, 0, 0), "{report:?}");

    let stored = s.find_user_by_id("65a1f0000000000000000001").unwrap().expect("the id is kept");
    assert_eq!(stored.emails, vec![EmailRecord { address: "ann@example.com".into(), verified: true }]);
    assert_eq!(stored.created_at, 1_700_000_000_000);
    assert_eq!(stored.updated_at, 1_700_000_100_000);
    assert_eq!(stored.profile["profile"], json!({"name": "ann"}));
    assert_eq!(store_of(&s).find_service(&stored.id, "github").unwrap().as_deref(), Some(r#"{"id":42,"login":"ann"}"#));
    assert!(store_of(&s).find_service(&stored.id, "resume").unwrap().is_none(), "sessions are not carried over");

    // Two-factor carried over: the password alone is not enough; the same TOTP code works.
    let login = |code: Option<String>| {
        let mut params = json!({"user": "ann", "password": "ann's old password"});
        if let Some(c) = code {
            params["code"] = json!(c);
        }
        s.login_with_service("password", &params, &no_info())
    };
    assert_eq!(code(login(None)), ErrorCode::TwoFactorCodeRequired);
    let now = (clock.now_ms() / 1000) as u64;
    let r = login(Some(totp_code(TOTP_SECRET, now))).unwrap();
    assert_eq!(r.user.id, "65a1f0000000000000000001");
    assert!(store_of(&s).find_password_hash(&r.user.id).unwrap().unwrap().starts_with("$argon2id$"), "bcrypt upgraded at login");
    assert!(!store_of(&s).find_service(&r.user.id, "two-factor").unwrap().unwrap().contains(TOTP_SECRET), "sealed");

    // bob: typeorm shape, numeric id, deactivated flag kept.
    let bob = s.find_user_by_id("7").unwrap().unwrap();
    assert!(bob.deactivated);
    assert_eq!(
        code(s.login_with_service("password", &json!({"user": "bob", "password": "bob's old password"}), &no_info())),
        ErrorCode::UserDeactivated
    );
    s.activate_user("7").unwrap();
    s.login_with_service("password", &json!({"user": "bob@example.com", "password": "bob's old password"}), &no_info()).unwrap();
}

#[test]
fn reruns_skip_and_bad_records_are_reported_without_stopping_the_rest() {
    let s = memory();
    let first = s.import_users(&[mongo_record("1", "ann", "ann@example.com", "pw-ann-123")]).unwrap();
    assert_eq!(first.imported, 1);
    let records = vec![
        mongo_record("1", "ann", "ann@example.com", "pw-ann-123"), // 0: already there
        json!("not an object"),                                    // 1
        mongo_record("2", "Ann", "other@example.com", "pw"),       // 2: a look-alike of ann
        mongo_record("3", "carl", "ANN@example.com", "pw"),        // 3: ann's address
        json!({"_id": "4", "emails": []}),                         // 4: nobody to log in as
        json!({"_id": "5", "username": "dora", "services": {"password": {"bcrypt": "plaintext!"}}}), // 5
        json!({"_id": "6", "username": "al\u{0456}ce"}),           // 6: mixed scripts
        mongo_record("7", "erin", "erin@example.com", "pw-erin-123"), // 7: fine
    ];
    let report = s.import_users(&records).unwrap();
    assert_eq!((report.imported, report.skipped), (1, 1));
    let failed: Vec<(usize, &str)> = report.failed.iter().map(|f| (f.index, f.code.as_str())).collect();
    assert_eq!(
        failed,
        vec![
            (1, "InvalidArgument"),
            (2, "UsernameAlreadyExists"),
            (3, "EmailAlreadyExists"),
            (4, "UsernameOrEmailRequired"),
            (5, "InvalidArgument"),
            (6, "InvalidUsername"),
        ]
    );
    // Nothing half-imported: the failed records left no rows.
    for id in ["2", "3", "4", "5", "6"] {
        assert!(s.find_user_by_id(id).unwrap().is_none(), "{id}");
    }
    s.login_with_service("password", &json!({"user": "erin", "password": "pw-erin-123"}), &no_info()).unwrap();
}

#[test]
fn hashing_threads_grow_while_imported_bcrypt_hashes_make_logins_wait() {
    // One thread per concurrent hash; once bcrypt hashes are stored, a login also waits out the
    // timing floor holding no permit, so a host's pool is asked for four per hash.
    let s = with(json!({"services": {"password": {"maxConcurrentHashes": 2}}}), Callbacks::default());
    assert_eq!(s.max_concurrent_hashes(), 2);
    assert_eq!(s.hashing_threads(), 2);
    let report = s.import_users(&[mongo_record("65b1", "imported", "imported@example.com", "old password")]).expect("import");
    assert_eq!(report.imported, 1);
    assert_eq!(s.hashing_threads(), 8);
}
