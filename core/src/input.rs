//! Host input: JSON text with a size bound (the C ABI speaks JSON), the argument shapes every
//! language accepts, and which operations hash a password. The bindings convert their values to
//! JSON and ask here, so each rule lives once (docs/architecture.md, "Bindings").

use crate::error::{AccountsError, ErrorCode, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Largest JSON document or string argument accepted from a host (1 MiB).
pub const MAX_INPUT_BYTES: usize = 1 << 20;

/// Refuses text longer than [`MAX_INPUT_BYTES`].
///
/// # Errors
/// `InvalidArgument` naming `what`.
pub fn check_size(what: &str, text: &str) -> Result<()> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(AccountsError::new(ErrorCode::InvalidArgument, format!("{what} is larger than {MAX_INPUT_BYTES} bytes")));
    }
    Ok(())
}

/// Parses `text` as JSON into `T`.
///
/// # Errors
/// `InvalidArgument` for oversized text, malformed JSON or the wrong shape.
pub fn parse_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    check_size(what, text)?;
    serde_json::from_str(text).map_err(|e| AccountsError::new(ErrorCode::InvalidArgument, format!("{what}: {e}")))
}

/// A text argument given as the text itself or as an object carrying it in `member` (the shape
/// the two arguments below share).
fn text_or_member(value: &Value, member: &str, no_member: &str, wrong: &str) -> Result<String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Object(o) => match o.get(member) {
            Some(Value::String(text)) => Ok(text.clone()),
            _ => Err(AccountsError::new(ErrorCode::InvalidArgument, no_member)),
        },
        _ => Err(AccountsError::new(ErrorCode::InvalidArgument, wrong)),
    }
}

/// A user argument (accounts-js `loginWithUser(user)`): a user object with a string `id`, or the id.
///
/// # Errors
/// `InvalidArgument` for anything else.
pub fn user_id_argument(user: &Value) -> Result<String> {
    text_or_member(user, "id", "user needs a string id", "user must be a user object or an id")
}

/// A two-factor secret argument: the base32 text, or the object `getNewAuthSecret` returned
/// (its `base32`).
///
/// # Errors
/// `InvalidArgument` for anything else.
pub fn base32_secret_argument(secret: &Value) -> Result<String> {
    text_or_member(secret, "base32", "secret needs a base32 string", "secret must be the base32 text or {base32}")
}

/// The operations that may hash a password (tens of milliseconds of CPU each, under the hashing
/// bound): a binding with a shared worker pool runs them apart from the fast ones, so a login
/// burst never queues `resumeSession` behind it. Names are accounts-js's method names.
pub const HASHING_OPERATIONS: &[&str] =
    &["createUser", "authenticate", "setPassword", "changePassword", "resetPassword", "loginWithService", "authenticateWithService", "handleHttp"];

/// The operations a host may run on a thread that cannot wait, through
/// [`inline::without_waiting`](crate::inline::without_waiting), when
/// [`AccountsServer::may_run_inline`](crate::AccountsServer::may_run_inline) says so for this server:
/// reads, and the two per-request writes whose single write is their last step.
pub const INLINE_OPERATIONS: &[&str] = &[
    "resumeSession",
    "findUserById",
    "findUserByEmail",
    "findUserByUsername",
    "findSessionByAccessToken",
    "listSessions",
    "refreshTokens",
    "logout",
];

/// Whether the operation named `operation` (an accounts-js method name) may hash a password.
pub fn may_hash(operation: &str) -> bool {
    HASHING_OPERATIONS.contains(&operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_shapes() {
        assert_eq!(parse_json::<Value>("x", "{").unwrap_err().code, ErrorCode::InvalidArgument);
        let big = format!("\"{}\"", "a".repeat(MAX_INPUT_BYTES));
        assert_eq!(parse_json::<String>("x", &big).unwrap_err().code, ErrorCode::InvalidArgument);
        assert_eq!(parse_json::<crate::types::ConnectionInfo>("x", r#"{"ip":5}"#).unwrap_err().code, ErrorCode::InvalidArgument);
        assert_eq!(parse_json::<crate::types::ConnectionInfo>("x", r#"{"ip":"1.2.3.4"}"#).unwrap().ip.as_deref(), Some("1.2.3.4"));
    }

    #[test]
    fn argument_shapes() {
        use serde_json::json;
        assert_eq!(user_id_argument(&json!("u1")).unwrap(), "u1");
        assert_eq!(user_id_argument(&json!({"id": "u1", "emails": []})).unwrap(), "u1");
        for bad in [json!({}), json!({"id": 5}), json!(5), json!(null), json!(["u1"])] {
            assert_eq!(user_id_argument(&bad).unwrap_err().code, ErrorCode::InvalidArgument, "{bad}");
        }
        assert_eq!(base32_secret_argument(&json!("JBSWY3DP")).unwrap(), "JBSWY3DP");
        assert_eq!(base32_secret_argument(&json!({"base32": "JBSWY3DP", "otpauthUrl": "x"})).unwrap(), "JBSWY3DP");
        for bad in [json!({}), json!({"base32": 1}), json!(true), json!(null)] {
            assert_eq!(base32_secret_argument(&bad).unwrap_err().code, ErrorCode::InvalidArgument, "{bad}");
        }
        assert!(may_hash("createUser") && may_hash("loginWithService") && !may_hash("resumeSession"));
    }
}
