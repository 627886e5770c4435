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

/// The key CSRF tokens are derived under.
pub(crate) struct CsrfKey {
    prk: hkdf::Hkdf<Sha256>,
}

impl CsrfKey {
    pub(crate) fn new(config: &Config) -> CsrfKey {
        let secret: &[u8] = match (&config.sealing_secret, &config.token_secret) {
            (Some(s), _) => s.as_bytes(),
            (None, Some(t)) => t.secret_bytes(),
            (None, None) => &[],
        };
        CsrfKey { prk: hkdf::Hkdf::<Sha256>::new(Some(b"accounts-rs csrf v1"), secret) }
    }

    /// The token of a session (HKDF-Expand, i.e. HMAC-SHA-256, keyed by the derived key).
    pub(crate) fn token(&self, session_id: &str) -> String {
        let mut out = [0u8; 32];
        // 32 bytes is a valid HKDF-SHA-256 output length.
        let _ = self.prk.expand(format!("csrf\0{session_id}").as_bytes(), &mut out);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
    }

    /// Whether `presented` is the token of `session_id` (constant time; missing is never equal).
    pub(crate) fn verify(&self, session_id: &str, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| !p.is_empty() && ct_eq(p, &self.token(session_id)))
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
