//! Importing users stored by accounts-js (docs/migrating-from-accounts-js.md).
//!
//! Takes the records as accounts-js's adapters keep them — the `@accounts/mongo` document
//! (`mongoexport` JSON, `$oid`/`$date` included) or a `@accounts/typeorm` user with its `emails`
//! and `allServices` rows — and stores each user in one transaction: id kept (the app's own
//! tables keep pointing at the right user), emails with their verified flags, the bcrypt hash as
//! is (upgraded to argon2id at the next login), the two-factor secret sealed like ours, the
//! deactivated flag, timestamps, other services and profile fields as data. Session and
//! one-time tokens are not imported: users sign in again.
//!
//! Idempotent: a record whose id exists is skipped (never updated). A bad record is reported
//! with its index and does not stop the others.

use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::hashing::check_bcrypt;
use crate::identifiers::{normalize_email, normalize_username, username_key};
use crate::secret::new_id;
use crate::store::NewUser;
use crate::two_factor::{self, TwoFactor};
use crate::types::{EmailRecord, profile_fields};
use serde::Serialize;
use serde_json::{Map, Value};

/// What [`AccountsServer::import_users`](crate::AccountsServer::import_users) did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Users stored.
    pub imported: u64,
    /// Records whose id already exists (a re-run): left as they are.
    pub skipped: u64,
    /// Records that could not be stored, with why.
    pub failed: Vec<ImportFailure>,
}

/// One record that was not imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportFailure {
    /// Its position in the input.
    pub index: usize,
    /// The error code (e.g. `EmailAlreadyExists`, `InvalidUsername`).
    pub code: String,
    /// Why it failed.
    pub message: String,
}

/// accounts-js services that hold session or one-time state, not carried over.
const TRANSIENT_SERVICES: &[&str] = &["resume", "email", "magicLink"];
/// Relations of a typeorm user row that are not profile fields.
const RELATIONS: &[&str] = &["allServices", "sessions"];

fn bad(message: impl Into<String>) -> AccountsError {
    AccountsError::new(ErrorCode::InvalidArgument, message)
}

/// An id as the adapters write it: a string, a number, or mongo's `{"$oid": "..."}`.
fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("$oid").and_then(Value::as_str).map(String::from),
        _ => None,
    }
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` (what `mongoexport` and `Date.toJSON` write) to ms since the epoch.
fn iso_ms(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<i64>().ok());
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if s.as_bytes().get(4) != Some(&b'-') || !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let rest = s.get(19..)?;
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let digits = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            let ms = format!("{:0<3}", &r[..digits.min(3)]).parse::<i64>().ok()?;
            (ms, &r[digits..])
        }
        None => (0, rest),
    };
    if zone != "Z" && zone != "+00:00" {
        return None;
    }
    Some(((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + se * 1000 + frac)
}

/// A timestamp as the adapters write it: ms, an ISO string, or mongo's `{"$date": ...}`.
fn time_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => iso_ms(s),
        Value::Object(o) => match o.get("$date")? {
            Value::Object(inner) => inner.get("$numberLong")?.as_str()?.parse().ok(),
            other => time_of(Some(other)),
        },
        _ => None,
    }
}

/// The services of a record: mongo's `services` object, or typeorm's `allServices` rows
/// (`{name, options}` — the password row keeps its hash in `options.bcrypt`).
fn services_of(record: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(Value::Object(s)) = record.get("services") {
        out.extend(s.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for key in ["allServices", "services"] {
        if let Some(Value::Array(rows)) = record.get(key) {
            for row in rows {
                if let (Some(name), Some(options)) = (row.get("name").and_then(Value::as_str), row.get("options")) {
                    out.insert(name.to_string(), options.clone());
                }
            }
        }
    }
    out
}

/// Imports users stored by accounts-js; see the module docs for what moves. Each record is
/// stored in its own transaction, so a failure leaves nothing half-imported.
///
/// # Errors
/// Only for failures of the whole call (`StorageError` of the database connection is reported
/// per record); bad records are listed in [`ImportReport::failed`] with their index.
pub(crate) fn import_users(ctx: &Context, records: &[Value]) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    for (index, record) in records.iter().enumerate() {
        match import_one(ctx, record) {
            Ok(true) => report.imported += 1,
            Ok(false) => report.skipped += 1,
            Err(e) => report.failed.push(ImportFailure { index, code: e.code.as_str().to_string(), message: e.message }),
        }
    }
    Ok(report)
}

/// Stores one record; `Ok(false)` when its id already exists.
fn import_one(ctx: &Context, record: &Value) -> Result<bool> {
    let obj = record.as_object().ok_or_else(|| bad("a user record must be an object"))?;
    let id = match obj.get("id").or_else(|| obj.get("_id")) {
        Some(v) => id_of(v).ok_or_else(|| bad("the record's id must be a string, a number or {$oid}"))?,
        None => new_id()?,
    };
    if ctx.store().find_user_by_id(&id)?.is_some() {
        return Ok(false);
    }
    let username = match obj.get("username") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(normalize_username(s)?),
        Some(_) => return Err(AccountsError::code(ErrorCode::InvalidUsername)),
    };
    let mut emails: Vec<EmailRecord> = Vec::new();
    for e in obj.get("emails").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let address = e.get("address").and_then(Value::as_str).ok_or_else(|| AccountsError::code(ErrorCode::InvalidEmail))?;
        let address = normalize_email(address)?;
        let verified = e.get("verified").and_then(Value::as_bool).unwrap_or(false);
        match emails.iter_mut().find(|known| known.address == address) {
            Some(known) => known.verified |= verified,
            None => emails.push(EmailRecord { address, verified }),
        }
    }
    if username.is_none() && emails.is_empty() {
        return Err(AccountsError::code(ErrorCode::UsernameOrEmailRequired));
    }
    let mut services = services_of(obj);
    let password_hash = match services.remove("password") {
        None => None,
        Some(p) => match p.get("bcrypt").and_then(Value::as_str) {
            Some(h) => {
                let cost = check_bcrypt(h).map_err(|e| bad(format!("services.password.bcrypt: {e}")))?;
                ctx.hasher().note_legacy_cost(cost);
                Some(h.to_string())
            }
            None => None,
        },
    };
    let mut documents = Vec::new();
    if let Some(tf) = services.remove(two_factor::SERVICE) {
        let base32 = match tf.get("secret") {
            Some(Value::String(s)) => s.as_str(),
            Some(secret) => secret.get("base32").and_then(Value::as_str).ok_or_else(|| bad("two-factor secret without base32"))?,
            None => return Err(bad("two-factor service without a secret")),
        };
        documents.push((two_factor::SERVICE.to_string(), TwoFactor::new(ctx).imported_document(&id, base32)?));
    }
    for (name, data) in services {
        if !TRANSIENT_SERVICES.contains(&name.as_str()) {
            documents.push((name, serde_json::to_string(&data)?));
        }
    }
    let now = ctx.now();
    let created_at = time_of(obj.get("createdAt")).unwrap_or(now);
    let profile = profile_fields(obj.iter().filter(|(k, _)| !RELATIONS.contains(&k.as_str())));
    ctx.store().create_user(&NewUser {
        id,
        username_key: username.as_deref().map(username_key),
        username,
        emails,
        profile,
        password_hash,
        services: documents,
        deactivated: obj.get("deactivated").and_then(Value::as_bool).unwrap_or(false),
        created_at,
        updated_at: time_of(obj.get("updatedAt")).unwrap_or(created_at),
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_adapter_form() {
        assert_eq!(time_of(Some(&serde_json::json!(1_700_000_000_123i64))), Some(1_700_000_000_123));
        assert_eq!(time_of(Some(&serde_json::json!("2023-11-14T22:13:20.123Z"))), Some(1_700_000_000_123));
        assert_eq!(time_of(Some(&serde_json::json!("1970-01-01T00:00:00Z"))), Some(0));
        assert_eq!(time_of(Some(&serde_json::json!({"$date": "2023-11-14T22:13:20Z"}))), Some(1_700_000_000_000));
        assert_eq!(time_of(Some(&serde_json::json!({"$date": {"$numberLong": "1700000000000"}}))), Some(1_700_000_000_000));
        assert_eq!(time_of(Some(&serde_json::json!("yesterday"))), None);
        assert_eq!(id_of(&serde_json::json!({"$oid": "65a1"})), Some("65a1".into()));
        assert_eq!(id_of(&serde_json::json!(42)), Some("42".into()));
    }

    #[test]
    fn records_are_stored_skipped_or_reported_one_by_one() {
        let ctx = crate::context::testing::plain();
        let bcrypt = bcrypt::hash("old password", 4).unwrap();
        let records = [
            serde_json::json!({
                "_id": {"$oid": "65a1"}, "username": "Alice", "emails": [{"address": "Alice@Example.com", "verified": true}],
                "services": {"password": {"bcrypt": bcrypt}, "two-factor": {"secret": {"base32": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}},
                             "resume": {"loginTokens": []}, "oauth": {"id": 7}},
                "createdAt": {"$date": "2023-11-14T22:13:20Z"}, "plan": "pro",
            }),
            serde_json::json!({"_id": {"$oid": "65a1"}, "username": "again"}),
            serde_json::json!({"id": "x", "services": {"password": {"bcrypt": "plaintext"}}, "username": "bob"}),
            serde_json::json!("not an object"),
        ];
        let report = import_users(&ctx, &records).unwrap();
        assert_eq!((report.imported, report.skipped), (1, 1));
        assert_eq!(report.failed.iter().map(|f| f.index).collect::<Vec<_>>(), [2, 3]);
        let user = ctx.user_or_not_found("65a1").unwrap();
        assert_eq!((user.username.as_deref(), user.emails[0].address.as_str(), user.emails[0].verified), (Some("Alice"), "alice@example.com", true));
        assert_eq!((user.created_at, user.profile.get("plan")), (1_700_000_000_000, Some(&serde_json::json!("pro"))));
        assert_eq!(ctx.store().find_password_hash("65a1").unwrap(), Some(bcrypt), "the hash moves as it was");
        let sealed = ctx.store().find_service("65a1", two_factor::SERVICE).unwrap().unwrap();
        assert!(!sealed.contains("JBSWY3DP"), "the two-factor secret is sealed");
        assert!(ctx.store().find_service("65a1", "oauth").unwrap().is_some(), "other services move");
        assert!(ctx.store().find_service("65a1", "resume").unwrap().is_none(), "login tokens do not");
    }
}
