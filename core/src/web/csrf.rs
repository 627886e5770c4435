//! Cross-site request checks (docs/security.md, "CSRF"): Fetch Metadata, the `Origin`, and a CSRF
//! token bound to the session.
//!
//! The token is an HMAC of the session id under a key derived (HKDF-SHA-256) from the server's
//! sealing secret, or its `tokenSecret` without one: a sibling subdomain that tosses a cookie cannot
//! forge the token of a session, and the server keeps no state for it.

use crate::config::{Config, parse_origin};
use crate::error::{AccountsError, ErrorCode, Result};
use crate::secret::ct_eq;
use base64::Engine;
use sha2::Sha256;

/// The keys CSRF tokens are derived under: the current one issues, the earlier ones (as the sealing
/// keys: `previousSealingSecrets`, and the `tokenSecret` derivation once a `sealingSecret` replaced
/// it) still verify, so rotating the secret does not strand the pages of open sessions.
pub(crate) struct CsrfKey {
    current: hkdf::Hkdf<Sha256>,
    earlier: Vec<hkdf::Hkdf<Sha256>>,
}

fn derive(secret: &[u8]) -> hkdf::Hkdf<Sha256> {
    hkdf::Hkdf::<Sha256>::new(Some(b"accounts-rs csrf v1"), secret)
}

fn token_under(key: &hkdf::Hkdf<Sha256>, session_id: &str) -> String {
    let mut out = [0u8; 32];
    // 32 bytes is a valid HKDF-SHA-256 output length.
    let _ = key.expand(format!("csrf\0{session_id}").as_bytes(), &mut out);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
}

impl CsrfKey {
    pub(crate) fn new(config: &Config) -> CsrfKey {
        let from_token_secret = config.token_secret.as_ref().map(|t| derive(t.secret_bytes()));
        match &config.sealing_secret {
            Some(current) => CsrfKey {
                current: derive(current.as_bytes()),
                earlier: config.previous_sealing_secrets.iter().map(|s| derive(s.as_bytes())).chain(from_token_secret).collect(),
            },
            // validate() refuses a config without either secret.
            None => CsrfKey { current: from_token_secret.unwrap_or_else(|| derive(&[])), earlier: Vec::new() },
        }
    }

    /// The token of a session (HKDF-Expand, i.e. HMAC-SHA-256, keyed by the derived key).
    pub(crate) fn token(&self, session_id: &str) -> String {
        token_under(&self.current, session_id)
    }

    /// Whether `presented` is the token of `session_id` under a known key (constant time; missing
    /// is never equal).
    pub(crate) fn verify(&self, session_id: &str, presented: Option<&str>) -> bool {
        let Some(p) = presented.filter(|p| !p.is_empty()) else { return false };
        std::iter::once(&self.current).chain(&self.earlier).any(|k| ct_eq(p, &token_under(k, session_id)))
    }
}

pub(crate) fn refused(why: &str) -> AccountsError {
    AccountsError::new(ErrorCode::CsrfRefused, why.to_string())
}

/// The browser checks of a state-changing request: `Sec-Fetch-Site`, when sent, is `same-origin`
/// or `none` (or names a trusted origin's site); `Origin`, else `Referer`, when sent, is the site's
/// origin (scheme, host and port) or a trusted one; `Origin: null` is refused. A request with
/// neither (not a browser: browsers send `Origin` on every POST) passes this check; the CSRF token
/// still guards what a cookie authenticates.
///
/// # Errors
/// `CsrfRefused`.
pub(crate) fn check_origin(site: &str, trusted: &[String], fetch_site: Option<&str>, origin: Option<&str>, referer: Option<&str>) -> Result<()> {
    let claimed = match (origin, referer) {
        (Some(o), _) => Some(o),
        (None, Some(r)) => Some(r),
        (None, None) => None,
    };
    let trusted_origin = match claimed {
        None => false,
        Some(text) => {
            let Some(o) = parse_origin(text.trim()) else { return Err(refused("the request's Origin is not a web origin")) };
            if o == site {
                false
            } else if trusted.iter().any(|t| parse_origin(t).as_deref() == Some(o.as_str())) {
                true
            } else {
                return Err(refused("cross-site request refused"));
            }
        }
    };
    match fetch_site.map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(()),
        Some(s) if s == "same-origin" || s == "none" => Ok(()),
        Some(_) if trusted_origin => Ok(()),
        Some(_) => Err(refused("cross-site request refused (Sec-Fetch-Site)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_survive_a_sealing_secret_rotation() {
        let config = |v: serde_json::Value| Config::from_value(v).unwrap();
        let (a, b) = ("sealing-a-0123456789abcdef-0123456789", "sealing-b-0123456789abcdef-0123456789");
        let secret = "token-secret-0123456789abcdef-01234567";
        let before = CsrfKey::new(&config(serde_json::json!({"db": "sqlite::memory:", "tokenSecret": secret, "sealingSecret": a})));
        let after = CsrfKey::new(&config(
            serde_json::json!({"db": "sqlite::memory:", "tokenSecret": secret, "sealingSecret": b, "previousSealingSecrets": [a]}),
        ));
        let dropped = CsrfKey::new(&config(serde_json::json!({"db": "sqlite::memory:", "tokenSecret": secret, "sealingSecret": b})));
        let old = before.token("s1");
        assert!(after.verify("s1", Some(&old)) && !dropped.verify("s1", Some(&old)));
        assert_ne!(after.token("s1"), old, "new tokens under the new key");
        assert!(!after.verify("s2", Some(&old)), "bound to the session");
        assert!(!after.verify("s1", None) && !after.verify("s1", Some("")));
    }

    #[test]
    fn origin_rules() {
        let site = "https://app.example";
        let trusted = vec!["https://front.example".to_string()];
        let ok = |f, o, r| check_origin(site, &trusted, f, o, r).is_ok();
        assert!(ok(None, None, None));
        assert!(ok(Some("same-origin"), Some("https://app.example"), None));
        assert!(ok(None, Some("https://APP.example:443"), None));
        assert!(!ok(None, Some("http://app.example"), None), "scheme mismatch");
        assert!(!ok(None, Some("https://app.example:8443"), None), "port mismatch");
        assert!(!ok(None, Some("null"), None));
        assert!(!ok(Some("cross-site"), None, None));
        assert!(!ok(Some("same-site"), Some("https://app.example"), None));
        assert!(ok(Some("cross-site"), Some("https://front.example"), None));
        assert!(!ok(None, None, Some("https://evil.example/page")));
        assert!(ok(None, None, Some("https://app.example/page")));
    }
}
