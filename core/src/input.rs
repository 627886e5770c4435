//! Parsing of host-supplied JSON text (the C ABI speaks JSON), with a size bound.

use crate::error::{AccountsError, ErrorCode, Result};
use serde::de::DeserializeOwned;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_shapes() {
        assert_eq!(parse_json::<serde_json::Value>("x", "{").unwrap_err().code, ErrorCode::InvalidArgument);
        let big = format!("\"{}\"", "a".repeat(MAX_INPUT_BYTES));
        assert_eq!(parse_json::<String>("x", &big).unwrap_err().code, ErrorCode::InvalidArgument);
        assert_eq!(parse_json::<crate::types::ConnectionInfo>("x", r#"{"ip":5}"#).unwrap_err().code, ErrorCode::InvalidArgument);
        assert_eq!(parse_json::<crate::types::ConnectionInfo>("x", r#"{"ip":"1.2.3.4"}"#).unwrap().ip.as_deref(), Some("1.2.3.4"));
    }
}
