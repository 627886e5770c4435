//! Cookie sessions: the names (with the `__Host-` prefix when secure), reading the request's cookies
//! and writing `Set-Cookie` lines.
//!
//! Only our own cookies are read. Anything else in the `Cookie` header (analytics, a sibling
//! subdomain's) is skipped unparsed, so a stray malformed cookie cannot break a route. One of ours
//! that is malformed, or sent twice (a sibling subdomain tossing a second one in `domain` mode), is
//! treated as absent: the request goes on unauthenticated (and logout still clears the cookies)
//! rather than locking the browser out. With `secure`, a cookie of ours without the prefix (what a
//! sibling subdomain or a plain-http page can set: cookie tossing) is ignored.

use crate::config::CookieConfig;
use crate::error::Result;

/// The four cookies of a cookie session, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Access,
    Refresh,
    Csrf,
    OAuthState,
}

const ROLES: [Role; 4] = [Role::Access, Role::Refresh, Role::Csrf, Role::OAuthState];

/// The names and attributes of the cookies of one configuration.
pub(crate) struct Cookies<'a> {
    config: &'a CookieConfig,
}

/// The values of our cookies in one request.
#[derive(Debug, Default)]
pub(crate) struct Jar {
    values: [Option<String>; 4],
}

impl Jar {
    pub(crate) fn get(&self, role: Role) -> Option<&str> {
        self.values[role as usize].as_deref()
    }
}

/// The characters our cookie values use (JWTs, base64url, hex).
fn is_value(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

impl<'a> Cookies<'a> {
    pub(crate) fn new(config: &'a CookieConfig) -> Cookies<'a> {
        Cookies { config }
    }

    /// `__Host-` when secure without a domain, `__Secure-` when secure with one, none otherwise.
    fn prefix(&self) -> &'static str {
        match (self.config.secure, &self.config.domain) {
            (true, None) => "__Host-",
            (true, Some(_)) => "__Secure-",
            (false, _) => "",
        }
    }

    /// The full name of a role's cookie.
    pub(crate) fn name(&self, role: Role) -> String {
        let n = &self.config.names;
        let base = match role {
            Role::Access => &n.access,
            Role::Refresh => &n.refresh,
            Role::Csrf => &n.csrf,
            Role::OAuthState => &n.oauth_state,
        };
        format!("{}{base}", self.prefix())
    }

    /// Our cookies among the `Cookie` header values.
    ///
    /// # Errors
    /// None so far: one of ours sent twice, or holding characters we never write, counts as absent.
    pub(crate) fn read(&self, headers: &[&str]) -> Result<Jar> {
        let names: Vec<String> = ROLES.iter().map(|r| self.name(*r)).collect();
        let mut jar = Jar::default();
        let mut spoiled = [false; ROLES.len()];
        for pair in headers.iter().flat_map(|h| h.split(';')) {
            let Some((name, value)) = pair.split_once('=') else { continue };
            let Some(i) = names.iter().position(|n| n == name.trim()) else { continue };
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            if !is_value(value) || jar.values[i].is_some() {
                spoiled[i] = true;
            }
            if !spoiled[i] {
                jar.values[i] = Some(value.to_string());
            }
        }
        for (value, spoiled) in jar.values.iter_mut().zip(spoiled) {
            if spoiled {
                *value = None;
            }
        }
        Ok(jar)
    }

    /// A `Set-Cookie` value: Path=/, the prefix's attributes, `HttpOnly` except for the CSRF cookie
    /// (the page echoes it), `SameSite=Strict` for the refresh token and the configured one for the
    /// others (Lax for the OpenID state, which must survive the provider's redirect back).
    pub(crate) fn set(&self, role: Role, value: &str, max_age_secs: u64) -> String {
        let same_site = match role {
            Role::Refresh => "Strict",
            Role::OAuthState => "Lax",
            _ => match self.config.same_site.as_str() {
                "strict" => "Strict",
                "none" => "None",
                _ => "Lax",
            },
        };
        let mut line = format!("{}={value}; Path=/; Max-Age={max_age_secs}", self.name(role));
        if let Some(domain) = &self.config.domain {
            line.push_str(&format!("; Domain={domain}"));
        }
        if self.config.secure {
            line.push_str("; Secure");
        }
        if role != Role::Csrf {
            line.push_str("; HttpOnly");
        }
        line.push_str(&format!("; SameSite={same_site}"));
        line
    }

    /// The `Set-Cookie` value that deletes a role's cookie.
    pub(crate) fn clear(&self, role: Role) -> String {
        self.set(role, "", 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_attributes_and_reading() {
        let secure = CookieConfig::default();
        let c = Cookies::new(&secure);
        assert_eq!(c.name(Role::Access), "__Host-accounts_access");
        let line = c.set(Role::Access, "abc", 60);
        assert_eq!(line, "__Host-accounts_access=abc; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax");
        assert!(!c.set(Role::Csrf, "x", 1).contains("HttpOnly"));
        assert!(c.set(Role::Refresh, "x", 1).contains("SameSite=Strict"));
        let jar = c.read(&["tracking=50%; __Host-accounts_access=a.b-c; accounts_refresh=tossed"]).unwrap();
        assert_eq!(jar.get(Role::Access), Some("a.b-c"));
        assert_eq!(jar.get(Role::Refresh), None, "an unprefixed cookie is not ours when secure");
        // One of ours twice (tossed by a sibling) or malformed: absent, whichever comes first.
        let jar = c.read(&["__Host-accounts_access=a; __Host-accounts_csrf=t", "__Host-accounts_access=b"]).unwrap();
        assert_eq!((jar.get(Role::Access), jar.get(Role::Csrf)), (None, Some("t")));
        assert_eq!(c.read(&["__Host-accounts_csrf=50%; __Host-accounts_csrf=ok"]).unwrap().get(Role::Csrf), None);
        let plain = CookieConfig { secure: false, domain: None, ..CookieConfig::default() };
        assert_eq!(Cookies::new(&plain).clear(Role::Csrf), "accounts_csrf=; Path=/; Max-Age=0; SameSite=Lax");
        let domain = CookieConfig { domain: Some("example.com".into()), ..CookieConfig::default() };
        assert!(Cookies::new(&domain).set(Role::Access, "a", 1).starts_with("__Secure-accounts_access=a; Path=/; Max-Age=1; Domain=example.com"));
    }
}
