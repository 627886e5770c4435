//! Every flow that changes more than one thing commits once or not at all (docs/reliability.md,
//! "Atomic flows"). A [`FaultPlan`] makes the store fail at step 0, 1, 2, ... of a flow in turn;
//! after each failure the data must be exactly as before, or (a failure after the commit, e.g. in a
//! read that follows it) changed exactly as a run without faults changes it. No mail goes out for a
//! flow that changed nothing. Runs on a SQLite file and, when given, on PostgreSQL.
mod common;
use accounts_core::host::store::faults::FaultPlan;
use accounts_core::*;
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

type Mails = Arc<Mutex<Vec<Value>>>;
/// Rows per table, each row as text; volatile nothing (the clock is fixed).
type Snapshot = BTreeMap<&'static str, BTreeSet<String>>;
/// Per table: how many rows went away and how many appeared (a changed row counts in both).
type Change = BTreeMap<&'static str, (usize, usize)>;

const TABLES: &[(&str, &str)] = &[
    ("users", "SELECT id, username, emails, profile, deactivated, created_at, updated_at FROM users"),
    ("emails", "SELECT address, user_id, verified FROM emails"),
    ("passwords", "SELECT user_id, hash FROM passwords"),
    ("services", "SELECT user_id, name, data FROM services"),
    ("tokens", "SELECT digest, user_id, kind, address, expires_at FROM tokens"),
    ("sessions", "SELECT id, user_id, refresh_digest, prev_refresh_digest, refresh_counter, valid, impersonator_user_id FROM sessions"),
];

enum Db {
    /// The file, and its directory (kept for the test's lifetime).
    Sqlite {
        path: std::path::PathBuf,
        _dir: tempfile::TempDir,
    },
    Postgres(String),
}

impl Db {
    fn url(&self) -> String {
        match self {
            Db::Sqlite { path, .. } => format!("sqlite:{}", path.display()),
            Db::Postgres(url) => url.clone(),
        }
    }

    /// Every row of the tables that hold users' data (attempt counters and decoys are bookkeeping).
    fn snapshot(&self) -> Snapshot {
        let mut out = Snapshot::new();
        match self {
            Db::Sqlite { path, .. } => {
                let c = rusqlite::Connection::open(path).unwrap();
                for (table, sql) in TABLES {
                    let mut stmt = c.prepare(sql).unwrap();
                    let n = stmt.column_count();
                    let rows = stmt
                        .query_map([], |r| {
                            let cols: Vec<String> = (0..n).map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap())).collect();
                            Ok(cols.join("|"))
                        })
                        .unwrap();
                    out.insert(*table, rows.map(|r| r.unwrap()).collect());
                }
            }
            Db::Postgres(url) => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                for (table, sql) in TABLES {
                    // Every column as text, so one row type fits all tables.
                    let sql = format!("SELECT row(t.*)::text FROM ({sql}) t");
                    out.insert(*table, c.query(&sql, &[]).unwrap().iter().map(|r| r.get::<_, String>(0)).collect());
                }
            }
        }
        out
    }
}

fn change(before: &Snapshot, after: &Snapshot) -> Change {
    before
        .iter()
        .map(|(t, rows)| {
            let now = &after[t];
            (*t, (rows.difference(now).count(), now.difference(rows).count()))
        })
        .filter(|(_, c)| *c != (0, 0))
        .collect()
}

/// One flow: `setup` prepares what it needs for its `n`-th run (fresh users each run, so one
/// database serves all runs) and returns what `run` needs.
struct Flow {
    name: &'static str,
    setup: fn(&AccountsServer, &Mails, usize) -> Value,
    run: fn(&AccountsServer, &Value) -> Result<()>,
}

fn server(db: &Db, plan: &Arc<FaultPlan>) -> (AccountsServer, Mails) {
    let mails: Mails = Arc::default();
    let sink = mails.clone();
    let callbacks = Callbacks {
        send_mail: Some(Arc::new(move |m: &Value| {
            sink.lock().unwrap().push(m.clone());
            Ok(())
        })),
        impersonation_authorize: Some(Arc::new(|_: &User, _: &User| Ok(true))),
        ..Callbacks::default()
    };
    let extra = json!({
        "services": {"password": {
            "sendVerificationEmailAfterSignup": true,
            "returnTokensAfterResetPassword": true,
            "invalidateAllSessionsAfterPasswordReset": true,
            "invalidateAllSessionsAfterPasswordChanged": true,
            "removeAllResetPasswordTokensAfterPasswordChanged": true,
        }}
    });
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let s = AccountsServer::with_faults(config(&db.url(), extra), callbacks, clock, plan.clone()).unwrap();
    (s, mails)
}

fn email(n: usize) -> String {
    format!("user{n}@example.com")
}

/// A user with a password, a verified address and one session; returns `{id, access, refresh}`.
fn user(s: &AccountsServer, n: usize) -> Value {
    let id = s.password().create_user(&json!({"username": format!("user{n}"), "email": email(n), "password": "old password 1"})).unwrap();
    s.password().add_email(&id, &format!("second{n}@example.com"), false).unwrap();
    let login = s.login_with_user(&id, &no_info()).unwrap();
    json!({"id": id, "access": login.tokens.access_token, "refresh": login.tokens.refresh_token})
}

/// Turns two-factor on for `id`; returns one recovery code.
fn two_factor(s: &AccountsServer, id: &str) -> String {
    let secret = s.password().two_factor().get_new_auth_secret().unwrap();
    let code = totp_code(&secret.base32, 1_800_000_000);
    s.password().two_factor().set(id, &secret.base32, &code).unwrap()[0].clone()
}

fn str(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_string()
}

fn flows() -> Vec<Flow> {
    vec![
        Flow {
            name: "createUser (user, emails, password, verification link)",
            setup: |_, _, n| json!({"n": n}),
            run: |s, c| {
                let n = c["n"].as_u64().unwrap();
                s.password()
                    .create_user(&json!({"username": format!("new{n}"), "email": format!("new{n}@example.com"), "password": "a password"}))?;
                Ok(())
            },
        },
        Flow {
            name: "resetPassword with a second factor and a new session",
            setup: |s, mails, n| {
                let mut u = user(s, n);
                u["code"] = two_factor(s, &str(&u, "id")).into();
                s.password().send_reset_password_email(&email(n)).unwrap();
                u["token"] = last_link(mails).1.into();
                u
            },
            run: |s, c| {
                let login = s.password().reset_password(&str(c, "token"), "new password 1", Some(&str(c, "code")), &no_info())?;
                assert!(login.is_some());
                Ok(())
            },
        },
        Flow {
            name: "resetPassword with an enrollment link",
            setup: |s, mails, n| {
                let id = s.password().create_user(&json!({"email": email(n)})).unwrap();
                mails.lock().unwrap().clear();
                s.password().send_enrollment_email(&email(n)).unwrap();
                json!({"id": id, "token": last_link(mails).1})
            },
            run: |s, c| s.password().reset_password(&str(c, "token"), "first password", None, &no_info()).map(|_| ()),
        },
        Flow {
            name: "changePassword",
            setup: |s, _, n| {
                let u = user(s, n);
                s.password().send_reset_password_email(&email(n)).unwrap();
                u
            },
            run: |s, c| s.password().change_password(&str(c, "id"), "old password 1", "new password 2"),
        },
        Flow {
            name: "setPassword",
            setup: |s, _, n| {
                let u = user(s, n);
                s.password().send_reset_password_email(&email(n)).unwrap();
                u
            },
            run: |s, c| s.password().set_password(&str(c, "id"), "admin set it"),
        },
        Flow {
            name: "verifyEmail",
            setup: |s, mails, n| {
                let u = user(s, n);
                s.password().send_verification_email(&format!("second{n}@example.com")).unwrap();
                json!({"id": u["id"], "token": last_link(mails).1})
            },
            run: |s, c| s.password().verify_email(&str(c, "token")),
        },
        Flow {
            name: "magic-link login with a second factor",
            setup: |s, mails, n| {
                let mut u = user(s, n);
                u["code"] = two_factor(s, &str(&u, "id")).into();
                s.magic_link().request_magic_link_email(&format!("second{n}@example.com")).unwrap();
                u["token"] = last_link(mails).1.into();
                u
            },
            run: |s, c| {
                s.login_with_service("magicLink", &json!({"token": str(c, "token"), "code": str(c, "code")}), &no_info())?;
                Ok(())
            },
        },
        Flow {
            name: "twoFactor.set",
            setup: |s, _, n| {
                let mut u = user(s, n);
                let secret = s.password().two_factor().get_new_auth_secret().unwrap();
                u["code"] = totp_code(&secret.base32, 1_800_000_000).into();
                u["secret"] = secret.base32.into();
                u
            },
            run: |s, c| s.password().two_factor().set(&str(c, "id"), &str(c, "secret"), &str(c, "code")).map(|_| ()),
        },
        Flow {
            name: "twoFactor.unset",
            setup: |s, _, n| {
                let mut u = user(s, n);
                u["code"] = two_factor(s, &str(&u, "id")).into();
                u
            },
            run: |s, c| s.password().two_factor().unset(&str(c, "id"), &str(c, "code")),
        },
        Flow {
            name: "twoFactor.regenerateRecoveryCodes",
            setup: |s, _, n| {
                let mut u = user(s, n);
                u["code"] = two_factor(s, &str(&u, "id")).into();
                u
            },
            run: |s, c| s.password().two_factor().regenerate_recovery_codes(&str(c, "id"), &str(c, "code")).map(|_| ()),
        },
        Flow {
            name: "impersonate",
            setup: |s, _, n| {
                let admin = user(s, n);
                let target = s.password().create_user(&json!({"email": format!("target{n}@example.com")})).unwrap();
                json!({"access": admin["access"], "target": target})
            },
            run: |s, c| {
                let target = ImpersonationTarget { user_id: Some(str(c, "target")), ..Default::default() };
                assert!(s.impersonate(&str(c, "access"), &target, &no_info())?.authorized);
                Ok(())
            },
        },
        Flow {
            name: "refreshTokens",
            setup: |s, _, n| user(s, n),
            run: |s, c| s.refresh_tokens(&str(c, "access"), &str(c, "refresh"), &no_info()).map(|_| ()),
        },
        Flow {
            name: "importUsers (one record)",
            setup: |_, _, n| json!({"n": n, "bcrypt": bcrypt::hash("imported password", 4).unwrap()}),
            run: |s, c| {
                let n = c["n"].as_u64().unwrap();
                let record = json!({
                    "_id": format!("imported{n}"), "username": format!("imported{n}"),
                    "emails": [{"address": format!("imported{n}@example.com"), "verified": true}],
                    "services": {"password": {"bcrypt": c["bcrypt"]},
                                 "two-factor": {"secret": {"base32": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}}},
                });
                let report = s.import_users(&[record])?;
                match report.failed.first() {
                    Some(f) => Err(AccountsError::new(ErrorCode::from_name(&f.code).unwrap(), f.message.clone())),
                    None => Ok(()),
                }
            },
        },
    ]
}

fn check_flows(db: Db) {
    let plan = FaultPlan::new();
    let (s, mails) = server(&db, &plan);
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    for flow in flows() {
        // The change a run without faults makes, and how many store steps it takes.
        let ctx = (flow.setup)(&s, &mails, next());
        let before = db.snapshot();
        plan.arm(None);
        (flow.run)(&s, &ctx).unwrap_or_else(|e| panic!("{}: {e:?}", flow.name));
        let steps = plan.steps();
        let expected = change(&before, &db.snapshot());
        assert!(!expected.is_empty(), "{}: changes something", flow.name);
        let mut rolled_back = 0;
        for step in 0..steps {
            let ctx = (flow.setup)(&s, &mails, next());
            let before = db.snapshot();
            let mailed = mails.lock().unwrap().len();
            plan.arm(Some(step));
            let result = (flow.run)(&s, &ctx);
            plan.arm(None);
            let got = change(&before, &db.snapshot());
            match result {
                Ok(()) => assert_eq!(got, expected, "{} step {step}: succeeded, so wholly done", flow.name),
                Err(e) if e.code == ErrorCode::StorageError => {
                    if got.is_empty() {
                        rolled_back += 1;
                        assert_eq!(mails.lock().unwrap().len(), mailed, "{} step {step}: no mail for a flow that did not happen", flow.name);
                    } else {
                        assert_eq!(got, expected, "{} step {step}: failed after the commit, so wholly done", flow.name);
                    }
                }
                Err(e) => panic!("{} step {step}: a fault must surface as StorageError, got {e:?}", flow.name),
            }
        }
        assert!(rolled_back > 0, "{}: some fault came before the commit", flow.name);
        eprintln!("{}: {steps} steps, {rolled_back} rolled back, change {expected:?}", flow.name);
    }
}

#[test]
fn flows_are_atomic_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    check_flows(Db::Sqlite { path: dir.path().join("accounts.db"), _dir: dir });
}

#[test]
fn flows_are_atomic_on_postgres() {
    if let Some(url) = pg_database() {
        check_flows(Db::Postgres(url));
    }
}
