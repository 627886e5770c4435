//! Native baselines for `make bench`: core operations next to the limits they should approach.
//! A plain timed loop (no harness); prints one JSON object per row on stdout.
//!
//! `BENCH_SECONDS` (default 2) bounds each row; `BENCH_USERS_LARGE` (default 1000000) sets the
//! large-database size; `BENCH_PART=rss` runs only the peak-RSS row (a fresh process measures it), `BENCH_PART=timing`
//! only the timing-ratio rows, `BENCH_PART=import` only the import row (`BENCH_IMPORT_USERS`, default 100 000),
//! with `BENCH_RSS_LOGINS` (default 1000) logins at once.

use accounts_core::{AccountsServer, Callbacks, Config, ConnectionInfo};
use argon2::{PasswordHasher, PasswordVerifier};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "bench-secret-0123456789abcdef-0123456789abcdef";
const PASSWORD: &str = "correct horse battery";

fn seconds() -> f64 {
    std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0)
}

/// Runs `op` until the time budget is spent (at least `min` times); returns per-op latencies (µs).
fn timed(min: usize, mut op: impl FnMut()) -> Vec<f64> {
    let budget = Duration::from_secs_f64(seconds());
    let start = Instant::now();
    let mut lat = Vec::new();
    while lat.len() < min || start.elapsed() < budget {
        let t = Instant::now();
        op();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    lat
}

fn row(name: &str, mut lat: Vec<f64>, threads: usize, wall_s: f64, extra: Value) -> Value {
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let mut v = json!({
        "suite": "native", "row": name, "threads": threads, "n": lat.len(),
        "ops_per_s": lat.len() as f64 / wall_s, "p50_us": pct(0.50), "p99_us": pct(0.99),
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    println!("{v}");
    v
}

fn single(name: &str, min: usize, op: impl FnMut()) -> Value {
    let start = Instant::now();
    let lat = timed(min, op);
    row(name, lat, 1, start.elapsed().as_secs_f64(), json!({}))
}

/// Runs the cases round-robin until the time budget is spent (each at least `min` times), so
/// machine noise falls on every case alike; one row per case. For ratios between cases.
/// A named benchmark case.
type Case<'a, 'n> = (&'n str, Box<dyn FnMut() + 'a>);

fn interleaved<'a>(min: usize, mut cases: Vec<Case<'a, '_>>) -> Vec<Value> {
    let budget = Duration::from_secs_f64(seconds() * cases.len() as f64);
    let start = Instant::now();
    let mut lats: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    while lats[0].len() < min || start.elapsed() < budget {
        for (i, (_, op)) in cases.iter_mut().enumerate() {
            let t = Instant::now();
            op();
            lats[i].push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let wall = start.elapsed().as_secs_f64() / cases.len() as f64;
    cases.iter().zip(lats).map(|((name, _), lat)| row(name, lat, 1, wall, json!({"interleaved": true}))).collect()
}

fn server_on(path: &std::path::Path) -> AccountsServer {
    let cfg = Config::from_value(json!({"db": format!("sqlite:{}", path.display()), "tokenSecret": SECRET})).unwrap();
    AccountsServer::new(cfg, Callbacks::default()).unwrap()
}

fn login(s: &AccountsServer, user: &str) -> accounts_core::LoginResult {
    s.login_with_service("password", &json!({"user": user, "password": PASSWORD}), &ConnectionInfo::default()).unwrap()
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

/// Inserts `n` users (user0..) straight into the file, outside any timing; all share one hash.
fn fill_users(path: &std::path::Path, n: usize, hash: &str) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut u = tx
            .prepare("INSERT INTO users (id, username, emails, profile, deactivated, created_at, updated_at) VALUES (?1, ?2, ?3, '{}', 0, 0, 0)")
            .unwrap();
        let mut e = tx.prepare("INSERT INTO emails (address, user_id, verified, created_at) VALUES (?1, ?2, 0, 0)").unwrap();
        let mut p = tx.prepare("INSERT INTO passwords (user_id, hash, updated_at) VALUES (?1, ?2, 0)").unwrap();
        for i in 0..n {
            let id = format!("{i:032x}");
            let email = format!("user{i}@example.com");
            let emails = format!(r#"[{{"address":"{email}","verified":false}}]"#);
            u.execute(rusqlite::params![id, format!("user{i}"), emails]).unwrap();
            e.execute(rusqlite::params![email, id]).unwrap();
            p.execute(rusqlite::params![id, hash]).unwrap();
        }
    }
    tx.commit().unwrap();
}

fn rss_row() {
    // 1000 logins at once, each on its own thread: the hash pool bounds how many argon2 buffers exist.
    let dir = tempfile::tempdir().unwrap();
    // Attempt limits off: 1000 simultaneous guesses at one account are, by design, more than its
    // limit lets through at once (docs/security.md); this row measures the hashing memory.
    let cfg = Config::from_value(json!({
        "db": format!("sqlite:{}", dir.path().join("rss.db").display()), "tokenSecret": SECRET,
        "attemptLimits": {"password": {"account": {"max": 0, "window": 900}}},
    }))
    .unwrap();
    let s = Arc::new(AccountsServer::new(cfg, Callbacks::default()).unwrap());
    s.password().create_user(&json!({"username": "rss", "password": PASSWORD})).unwrap();
    let n: usize = std::env::var("BENCH_RSS_LOGINS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let before = peak_rss_kib();
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let s = s.clone();
            std::thread::Builder::new().stack_size(256 * 1024).spawn(move || login(&s, "rss")).unwrap()
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"suite": "native", "row": format!("peak RSS, {n} concurrent logins"), "threads": n,
               "peak_rss_mib": peak_rss_kib() as f64 / 1024.0, "rss_before_mib": before as f64 / 1024.0, "wall_s": wall})
    );
}

/// A password login of `user` with a wrong password (it must fail).
fn failed_login(s: &AccountsServer, user: &str) {
    let params = json!({"user": user, "password": "not the password"});
    drop(s.login_with_service("password", &params, &ConnectionInfo::default()).unwrap_err());
}

/// Timing of the answers that must not tell accounts apart (docs/security.md, "Timing"): the
/// cases of each question interleaved, then their p50 ratios.
fn timing_rows(dir: &std::path::Path) {
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap();
    // Attempt limits are off here: the rows repeat failures far past any limit.
    let timing = {
        let off = json!({"max": 0, "window": "15m"});
        let set = json!({"accountIp": off, "account": off, "ip": off});
        let cfg = Config::from_value(json!({
            "db": format!("sqlite:{}", dir.join("timing.db").display()), "tokenSecret": SECRET,
            "attemptLimits": {"password": set, "secondFactor": set, "linkToken": set},
        }))
        .unwrap();
        let callbacks = Callbacks { send_mail: Some(Arc::new(|_: &Value| Ok(()))), ..Callbacks::default() };
        AccountsServer::new(cfg, callbacks).unwrap()
    };
    let tp = timing.password();
    tp.create_user(&json!({"username": "taken", "email": "taken@example.com", "password": PASSWORD})).unwrap();
    tp.create_user(&json!({"username": "nopass", "email": "verified@example.com"})).unwrap();
    let verified_id = tp.find_user_by_email("verified@example.com").unwrap().unwrap().id;
    tp.add_email(&verified_id, "verified2@example.com", true).unwrap();
    tp.create_user(&json!({"email": "unverified@example.com"})).unwrap();
    let mut n = 0usize;
    let signup = interleaved(
        20,
        vec![
            (
                "createUser, new email",
                Box::new(|| {
                    n += 1;
                    tp.create_user(&json!({"email": format!("new{n}@example.com"), "password": PASSWORD})).unwrap();
                }),
            ),
            ("createUser, taken email", Box::new(|| drop(tp.create_user(&json!({"email": "taken@example.com", "password": PASSWORD})).unwrap_err()))),
        ],
    );
    let (signup_new, signup_taken) = (&signup[0], &signup[1]);
    let verify = interleaved(
        200,
        vec![
            ("sendVerificationEmail, unverified address", Box::new(|| tp.send_verification_email("unverified@example.com").unwrap())),
            ("sendVerificationEmail, verified address", Box::new(|| tp.send_verification_email("verified2@example.com").unwrap())),
            ("sendVerificationEmail, unknown address", Box::new(|| tp.send_verification_email("ghost@example.com").unwrap())),
        ],
    );
    let (verify_unverified, verify_verified, verify_unknown) = (&verify[0], &verify[1], &verify[2]);
    let attempt = |user: &str| failed_login(&timing, user);
    let logins = interleaved(
        20,
        vec![
            ("login, wrong password", Box::new(|| attempt("taken"))),
            ("login, unknown user", Box::new(|| attempt("ghost"))),
            ("login, user without password", Box::new(|| attempt("nopass"))),
        ],
    );
    let (login_wrong, login_unknown, login_nopass) = (&logins[0], &logins[1], &logins[2]);
    // Right after a migration: a user imported from accounts-js (bcrypt at its default cost 10,
    // not yet rehashed) beside a native one and an unknown name (docs/security.md, "Timing").
    let migrated = {
        let off = json!({"max": 0, "window": "15m"});
        let cfg = Config::from_value(json!({
            "db": format!("sqlite:{}", dir.join("migrated.db").display()), "tokenSecret": SECRET,
            "attemptLimits": {"password": {"accountIp": off, "account": off, "ip": off}},
        }))
        .unwrap();
        AccountsServer::new(cfg, Callbacks::default()).unwrap()
    };
    migrated.password().create_user(&json!({"username": "native", "password": PASSWORD})).unwrap();
    let imported = json!({"_id": "imported", "username": "imported", "services": {"password": {"bcrypt": bcrypt::hash(PASSWORD, 10).unwrap()}}});
    assert_eq!(migrated.import_users(&[imported]).unwrap().imported, 1);
    let attempt_migrated = |user: &str| failed_login(&migrated, user);
    let mixed = interleaved(
        10,
        vec![
            ("login after import, native user", Box::new(|| attempt_migrated("native"))),
            ("login after import, imported user (bcrypt 10)", Box::new(|| attempt_migrated("imported"))),
            ("login after import, unknown user", Box::new(|| attempt_migrated("ghost"))),
        ],
    );
    let (mixed_native, mixed_imported, mixed_unknown) = (&mixed[0], &mixed[1], &mixed[2]);
    let p50 = |v: &Value| f(v, "p50_us");
    println!(
        "{}",
        json!({"suite": "native", "row": "ratios: timing",
            "signup_taken_over_new_p50": p50(signup_taken) / p50(signup_new),
            "verify_verified_over_unverified_p50": p50(verify_verified) / p50(verify_unverified),
            "verify_unknown_over_unverified_p50": p50(verify_unknown) / p50(verify_unverified),
            "login_unknown_over_wrong_password_p50": p50(login_unknown) / p50(login_wrong),
            "login_no_password_over_wrong_password_p50": p50(login_nopass) / p50(login_wrong),
            "login_imported_over_native_p50": p50(mixed_imported) / p50(mixed_native),
            "login_unknown_over_imported_p50": p50(mixed_unknown) / p50(mixed_imported),
        })
    );
}

/// Import throughput: accounts-js mongo documents (bcrypt hash kept, so no hashing) in batches of
/// 1000 into a SQLite file; `BENCH_IMPORT_USERS` records (default 100 000).
fn import_row(dir: &std::path::Path) {
    let n: usize = std::env::var("BENCH_IMPORT_USERS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let s = server_on(&dir.join("import.db"));
    let hash = bcrypt::hash("imported password", 4).unwrap();
    let records: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "_id": {"$oid": format!("{i:024x}")}, "username": format!("imported{i}"),
                "emails": [{"address": format!("imported{i}@example.com"), "verified": i % 2 == 0}],
                "services": {"password": {"bcrypt": hash}}, "createdAt": {"$date": "2023-11-14T22:13:20.000Z"},
            })
        })
        .collect();
    let start = Instant::now();
    let mut lat = Vec::new();
    for batch in records.chunks(1000) {
        let t = Instant::now();
        let report = s.import_users(batch).unwrap();
        assert_eq!(report.imported as usize, batch.len());
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"suite": "native", "row": "importUsers (batches of 1000)", "users": n, "users_per_s": n as f64 / wall, "wall_s": wall,
               "batch_p50_us": lat[lat.len() / 2]})
    );
}

/// Many threads refreshing their own sessions at once: the writes that queue for SQLite's writer
/// share commits (group commit, docs/architecture.md).
fn concurrent_refresh_row(dir: &std::path::Path, threads: usize) {
    let s = server_on(&dir.join("concurrent.db"));
    let id = s.password().create_user(&json!({"username": "many"})).unwrap();
    let sessions: Vec<_> = (0..threads).map(|_| s.login_with_user(&id, &ConnectionInfo::default()).unwrap().tokens).collect();
    let start = Instant::now();
    let lats: Vec<Vec<f64>> = std::thread::scope(|scope| {
        let s = &s;
        let handles: Vec<_> = sessions
            .into_iter()
            .map(|mut tokens| {
                scope.spawn(move || {
                    timed(50, || {
                        tokens = s.refresh_tokens(&tokens.access_token, &tokens.refresh_token, &ConnectionInfo::default()).unwrap().tokens;
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    row(&format!("core refreshTokens, {threads} threads"), lats.concat(), threads, start.elapsed().as_secs_f64(), json!({}));
}

fn main() {
    if std::env::var("BENCH_PART").as_deref() == Ok("group") {
        return concurrent_refresh_row(tempfile::tempdir().unwrap().path(), 16);
    }
    if std::env::var("BENCH_PART").as_deref() == Ok("rss") {
        return rss_row();
    }
    if std::env::var("BENCH_PART").as_deref() == Ok("timing") {
        return timing_rows(tempfile::tempdir().unwrap().path());
    }
    if std::env::var("BENCH_PART").as_deref() == Ok("import") {
        return import_row(tempfile::tempdir().unwrap().path());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let s = Arc::new(server_on(&path));
    s.password().create_user(&json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD})).unwrap();
    s.password().create_user(&json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD})).unwrap();

    // ---- limits ----
    let first = login(&s, "alice");
    let key = jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes());
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = true;
    validation.required_spec_claims.clear();
    let verify = single("limit: one HS256 verify", 1000, || {
        jsonwebtoken::decode::<Value>(&first.tokens.access_token, &key, &validation).unwrap();
    });
    let read_conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let read = single("limit: one indexed SQLite point read", 1000, || {
        read_conn
            .prepare_cached("SELECT id, user_id, valid FROM sessions WHERE id = ?1")
            .unwrap()
            .query_row([&first.session_id], |r| r.get::<_, String>(0))
            .unwrap();
    });
    let argon = argon2::Argon2::default(); // argon2id m=19456 t=2 p=1: the configured parameters
    let hash: argon2::password_hash::phc::PasswordHash = argon.hash_password(PASSWORD.as_bytes()).unwrap();
    let hash_text = hash.to_string();
    let argon_verify = single("limit: one argon2id verify (m=19456 t=2 p=1)", 20, || {
        argon.verify_password(PASSWORD.as_bytes(), hash_text.as_str()).unwrap();
    });

    // ---- core ----
    let resume = single("core resumeSession", 1000, || {
        s.resume_session(&first.tokens.access_token).unwrap();
    });
    let mut tokens = first.tokens.clone();
    single("core refreshTokens (rotating)", 200, || {
        tokens = s.refresh_tokens(&tokens.access_token, &tokens.refresh_token, &ConnectionInfo::default()).unwrap().tokens;
    });
    let login_row = single("core loginWithService(password)", 20, || {
        login(&s, "bob");
    });

    // 2 threads of logins (the C and Rust case; Python measures its own).
    let start = Instant::now();
    let lats: Vec<Vec<f64>> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..2).map(|_| scope.spawn(|| timed(20, || drop(login(&s, "bob"))))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let two = row("core loginWithService(password), 2 threads", lats.concat(), 2, wall, json!({}));

    // The same two threads on bare argon2: what the hardware allows (memory bandwidth is shared).
    let start = Instant::now();
    let lats: Vec<Vec<f64>> = std::thread::scope(|scope| {
        let hs: Vec<_> =
            (0..2).map(|_| scope.spawn(|| timed(20, || argon.verify_password(PASSWORD.as_bytes(), hash_text.as_str()).unwrap()))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let argon_two = row("limit: argon2id verify, 2 threads", lats.concat(), 2, wall, json!({}));

    let f = |v: &Value, k: &str| v[k].as_f64().unwrap();
    println!(
        "{}",
        json!({
            "suite": "native", "row": "ratios",
            "login_over_argon2_verify": f(&login_row, "p50_us") / f(&argon_verify, "p50_us"),
            "resume_over_verify_plus_read": f(&resume, "p50_us") / (f(&verify, "p50_us") + f(&read, "p50_us")),
            "login_two_thread_scaling": f(&two, "ops_per_s") / f(&login_row, "ops_per_s"),
            "argon2_two_thread_scaling": f(&argon_two, "ops_per_s") / f(&argon_verify, "ops_per_s"),
            "hash": "argon2id m=19456 t=2 p=1",
        })
    );

    // ---- per algorithm: resume and refresh with each kind of signing key (a key ring of one) ----
    let pem = |name: &str| std::fs::read_to_string(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let keys = [
        ("HS256", json!({"secret": SECRET})),
        ("EdDSA", json!({"privateKey": pem("ed.pem"), "publicKey": pem("ed.pub.pem")})),
        ("ES256", json!({"privateKey": pem("ec.pem"), "publicKey": pem("ec.pub.pem")})),
        ("RS256", json!({"privateKey": pem("rsa.pem"), "publicKey": pem("rsa.pub.pem")})),
    ];
    for (algorithm, material) in keys {
        let mut key = material;
        key["kid"] = json!("k");
        key["algorithm"] = json!(algorithm);
        let db = format!("sqlite:{}", dir.path().join(format!("alg-{algorithm}.db")).display());
        let cfg = json!({"db": db, "tokenKeys": {"current": "k", "keys": [key]}, "sealingSecret": SECRET});
        let s = AccountsServer::new(Config::from_value(cfg).unwrap(), Callbacks::default()).unwrap();
        let id = s.password().create_user(&json!({"username": "alg"})).unwrap();
        let session = s.login_with_user(&id, &ConnectionInfo::default()).unwrap();
        single(&format!("core resumeSession ({algorithm})"), 20, || {
            s.resume_session(&session.tokens.access_token).unwrap();
        });
        let mut tokens = session.tokens.clone();
        single(&format!("core refreshTokens ({algorithm})"), 10, || {
            tokens = s.refresh_tokens(&tokens.access_token, &tokens.refresh_token, &ConnectionInfo::default()).unwrap().tokens;
        });
    }

    // ---- no enumeration: a reset request for a known and an unknown address (mail is a no-op) ----
    let silent = {
        let cfg = Config::from_value(json!({"db": format!("sqlite:{}", dir.path().join("mail.db").display()), "tokenSecret": SECRET})).unwrap();
        let callbacks = Callbacks { send_mail: Some(Arc::new(|_: &Value| Ok(()))), ..Callbacks::default() };
        AccountsServer::new(cfg, callbacks).unwrap()
    };
    silent.password().create_user(&json!({"email": "known@example.com"})).unwrap();
    // Interleaved, so machine noise falls on both alike (the ratio is the point of these rows).
    let enumeration = interleaved(
        200,
        vec![
            ("sendResetPasswordEmail, known address", Box::new(|| silent.password().send_reset_password_email("known@example.com").unwrap())),
            (
                "sendResetPasswordEmail, unknown address (ambiguous)",
                Box::new(|| silent.password().send_reset_password_email("nobody@example.com").unwrap()),
            ),
        ],
    );
    let (known, unknown) = (&enumeration[0], &enumeration[1]);
    println!("{}", json!({"suite": "native", "row": "ratios: enumeration", "unknown_over_known_p50": f(unknown, "p50_us") / f(known, "p50_us")}));

    concurrent_refresh_row(dir.path(), 16);
    timing_rows(dir.path());
    import_row(dir.path());

    // ---- scale: 1 k and 1 M users in the file ----
    let large: usize = std::env::var("BENCH_USERS_LARGE").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    for n in [1000, large] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scale.db");
        drop(server_on(&path)); // creates the schema
        let t = Instant::now();
        fill_users(&path, n, &hash_text);
        let fill_s = t.elapsed().as_secs_f64();
        let s = server_on(&path);
        let probe = format!("user{}", n / 2);
        let l = login(&s, &probe);
        let extra = json!({"users": n, "fill_s": fill_s});
        let start = Instant::now();
        let lat = timed(1000, || drop(s.resume_session(&l.tokens.access_token).unwrap()));
        row(&format!("scale: resumeSession, {n} users"), lat, 1, start.elapsed().as_secs_f64(), extra.clone());
        let mut i = 0usize;
        let start = Instant::now();
        let lat = timed(20, || {
            i += 7919;
            drop(login(&s, &format!("user{}", i % n)));
        });
        row(&format!("scale: loginWithService, {n} users"), lat, 1, start.elapsed().as_secs_f64(), extra);
    }
}
