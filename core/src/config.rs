//! Server configuration: the camelCase JSON object of docs/configuration.md, with accounts-js defaults.

use crate::error::{AccountsError, ErrorCode, Result};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Minimum length in bytes of `tokenSecret`.
pub const MIN_TOKEN_SECRET_BYTES: usize = 32;

/// The whole server configuration. Unknown keys are rejected so typos do not pass silently.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// `sqlite:<path>`, `sqlite::memory:` or `postgres://user:password@host:port/db?sslmode=...`.
    /// Serialised (in `options`) with the password replaced by `[redacted]`.
    #[serde(serialize_with = "redacted_url")]
    pub db: String,
    /// Connections in the PostgreSQL pool (per process).
    #[serde(default = "default_pool_size")]
    pub db_pool_size: u32,
    /// The JWT key: an HMAC secret of at least 32 bytes, or accounts-js's `{publicKey, privateKey}`
    /// (PEM) for RS*/ES256/ES384/EdDSA. Shown in `options` without its secret part. Exactly one of
    /// `tokenSecret` and `tokenKeys` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<TokenSecret>,
    /// A key ring (docs/tokens.md, "Key rotation"): `current` signs, every key verifies the tokens
    /// that name its `kid`. Needs `sealingSecret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_keys: Option<TokenKeys>,
    /// The secret data sealed at rest (two-factor secrets) is encrypted under (at least 32 bytes).
    /// Without it the key derives from `tokenSecret`, so changing that turns two-factor off.
    #[serde(default, serialize_with = "redacted_opt", skip_serializing_if = "Option::is_none")]
    pub sealing_secret: Option<String>,
    /// Earlier `sealingSecret`s: values sealed under them still open (and are sealed again under
    /// the current one when next written, or by `resealAll`).
    #[serde(default, serialize_with = "redacted_list", skip_serializing_if = "Vec::is_empty")]
    pub previous_sealing_secrets: Vec<String>,
    #[serde(default)]
    /// `tokenConfigs`: access and refresh token lifetimes and claims.
    pub token_configs: TokenConfigs,
    #[serde(default = "yes")]
    /// `ambiguousErrorMessages`: hide whether an account exists (default true).
    pub ambiguous_error_messages: bool,
    #[serde(default)]
    /// `useStatelessSession`: resumeSession trusts the access token without reading the session.
    pub use_stateless_session: bool,
    #[serde(default = "default_site_url")]
    /// `siteUrl`: the base of mailed links.
    pub site_url: String,
    /// Mail sender and per-field template overrides (see [`crate::mail`]).
    #[serde(default)]
    pub email_templates: EmailTemplates,
    #[serde(default)]
    /// `enableAutologin`: createUser also logs the user in (needs ambiguousErrorMessages off).
    pub enable_autologin: bool,
    /// Seconds during which the refresh token just rotated away still yields the same successor.
    #[serde(default = "default_grace")]
    pub refresh_token_reuse_grace_seconds: u64,
    #[serde(default)]
    /// `services`: the password and magic-link services' options.
    pub services: ServicesConfig,
    /// Failed-attempt limits shared by every process on the database (docs/security.md).
    #[serde(default)]
    pub attempt_limits: AttemptLimits,
    /// How long a binding whose callbacks run on another thread (Node) waits for one to answer.
    #[serde(default = "default_callback_timeout", deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub host_callback_timeout: Duration,
    /// The HTTP edge (`handleHttp`, docs/web.md): cookie sessions, trusted origins and proxies.
    #[serde(default)]
    pub web: WebConfig,
}

/// `web`: the accounts-js REST API served by core (docs/web.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebConfig {
    /// `false` (default): bearer mode, tokens in bodies. `true` or an object: cookie sessions (bearer
    /// tokens keep working beside them).
    #[serde(default, deserialize_with = "de_cookies")]
    pub cookies: Option<CookieConfig>,
    /// Origins (`scheme://host[:port]`) besides the site's allowed to send state-changing requests.
    #[serde(default)]
    pub trusted_origins: Vec<String>,
    /// Proxies (CIDR, e.g. `10.0.0.0/8`, or single addresses) whose forwarding header is believed.
    /// Empty (default): the peer address is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// The header trusted proxies write the client's address into: `"x-forwarded-for"` (default) or
    /// `"forwarded"` (RFC 7239). The other is never read.
    #[serde(default = "default_proxy_header")]
    pub proxy_header: String,
    /// Largest request body accepted, in bytes (default 64 KiB); larger is `413 PayloadTooLarge`.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// The site's origin (`scheme://host[:port]`); default: the origin of `siteUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_origin: Option<String>,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            cookies: None,
            trusted_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            proxy_header: default_proxy_header(),
            max_body_bytes: default_max_body(),
            site_origin: None,
        }
    }
}

impl WebConfig {
    /// The site's origin: `siteOrigin`, else the origin of `site_url`.
    ///
    /// # Errors
    /// `InvalidConfig` when neither is an `http(s)://host[:port]` URL.
    pub fn origin(&self, site_url: &str) -> Result<String> {
        let given = self.site_origin.as_deref().unwrap_or(site_url);
        parse_origin(given).ok_or_else(|| AccountsError::new(ErrorCode::InvalidConfig, format!("web.siteOrigin: {given:?} is not an http(s) origin")))
    }

    /// The trusted proxies as `(network, prefix length)`.
    pub fn proxies(&self) -> Vec<(std::net::IpAddr, u8)> {
        self.trusted_proxies.iter().filter_map(|c| parse_cidr(c)).collect()
    }

    fn validate(&self, site_url: &str) -> Result<()> {
        let bad = |m: String| Err(AccountsError::new(ErrorCode::InvalidConfig, m));
        self.origin(site_url)?;
        for o in &self.trusted_origins {
            if parse_origin(o).is_none() {
                return bad(format!("web.trustedOrigins: {o:?} is not an http(s) origin"));
            }
        }
        for c in &self.trusted_proxies {
            if parse_cidr(c).is_none() {
                return bad(format!("web.trustedProxies: {c:?} is not an address or CIDR block"));
            }
        }
        if !matches!(self.proxy_header.as_str(), "x-forwarded-for" | "forwarded") {
            return bad("web.proxyHeader must be \"x-forwarded-for\" or \"forwarded\"".into());
        }
        if self.max_body_bytes == 0 {
            return bad("web.maxBodyBytes must be positive".into());
        }
        if let Some(c) = &self.cookies {
            if !matches!(c.same_site.as_str(), "lax" | "strict" | "none") {
                return bad("web.cookies.sameSite must be \"lax\", \"strict\" or \"none\"".into());
            }
            if c.same_site == "none" && !c.secure {
                return bad("web.cookies.sameSite \"none\" needs secure cookies".into());
            }
            let n = &c.names;
            let names = [&n.access, &n.refresh, &n.csrf, &n.oauth_state];
            if names.iter().any(|name| name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')) {
                return bad("web.cookies.names: letters, digits, '_' and '-' only".into());
            }
            if names.iter().enumerate().any(|(i, a)| names[i + 1..].contains(a)) {
                return bad("web.cookies.names must differ".into());
            }
            if c.domain.as_deref().is_some_and(|d| d.is_empty() || d.bytes().any(|b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))) {
                return bad("web.cookies.domain is not a host name".into());
            }
        }
        Ok(())
    }
}

/// `scheme://host[:port]` of an http(s) URL, lowercased, default port dropped; `None` otherwise
/// (also for `null` and URLs with user info).
pub fn parse_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') || !authority.is_ascii() {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        addr.parse::<std::net::Ipv6Addr>().ok()?;
        (format!("[{addr}]"), after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.clone(), None),
        }
    };
    if host.is_empty() || (!host.starts_with('[') && !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')) {
        return None;
    }
    match port {
        None => Some(format!("{scheme}://{host}")),
        Some(p) if p.is_empty() || p == default_port => Some(format!("{scheme}://{host}")),
        Some(p) => {
            let n: u16 = p.parse().ok()?;
            Some(format!("{scheme}://{host}:{n}"))
        }
    }
}

/// `addr` or `addr/len` as `(network address, prefix length)`.
pub fn parse_cidr(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a.parse::<std::net::IpAddr>().ok()?, Some(l.parse::<u8>().ok()?)),
        None => (text.parse::<std::net::IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    if len > max {
        return None;
    }
    // An IPv4-mapped network (`::ffff:10.0.0.0/104`, what dual-stack sockets report) is the IPv4
    // network it maps: client addresses are compared as IPv4 too.
    match addr {
        std::net::IpAddr::V6(v6) if len >= 96 => Some(v6.to_ipv4_mapped().map_or((addr, len), |v4| (std::net::IpAddr::V4(v4), len - 96))),
        _ => Some((addr, len)),
    }
}

/// `web.cookies` as an object: the cookies' attributes and names.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CookieConfig {
    /// `Secure` cookies with the `__Host-` prefix (default true; false only for plain-http development).
    #[serde(default = "yes")]
    pub secure: bool,
    /// `SameSite` of the access and CSRF cookies: `"lax"` (default), `"strict"` or `"none"`.
    #[serde(default = "default_same_site")]
    pub same_site: String,
    /// A `Domain` attribute (the prefix is then `__Secure-`, since `__Host-` forbids it). Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The cookie names (before the prefix).
    #[serde(default)]
    pub names: CookieNames,
}

impl Default for CookieConfig {
    fn default() -> CookieConfig {
        CookieConfig { secure: true, same_site: default_same_site(), domain: None, names: CookieNames::default() }
    }
}

/// `web.cookies.names`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CookieNames {
    /// The access token (`HttpOnly`); default `accounts_access`.
    #[serde(default = "name_access")]
    pub access: String,
    /// The refresh token (`HttpOnly`, `SameSite=Strict`); default `accounts_refresh`.
    #[serde(default = "name_refresh")]
    pub refresh: String,
    /// The CSRF token the page reads and echoes in `X-CSRF-Token`; default `accounts_csrf`.
    #[serde(default = "name_csrf")]
    pub csrf: String,
    /// The OpenID state of a sign-in in progress (`HttpOnly`); default `accounts_oauth_state`.
    #[serde(default = "name_oauth_state")]
    pub oauth_state: String,
}

impl Default for CookieNames {
    fn default() -> CookieNames {
        CookieNames { access: name_access(), refresh: name_refresh(), csrf: name_csrf(), oauth_state: name_oauth_state() }
    }
}

fn name_access() -> String {
    "accounts_access".into()
}
fn name_refresh() -> String {
    "accounts_refresh".into()
}
fn name_csrf() -> String {
    "accounts_csrf".into()
}
fn name_oauth_state() -> String {
    "accounts_oauth_state".into()
}
fn default_same_site() -> String {
    "lax".into()
}
fn default_proxy_header() -> String {
    "x-forwarded-for".into()
}
fn default_max_body() -> usize {
    64 * 1024
}

/// `cookies: bool | {...}`.
fn de_cookies<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<CookieConfig>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Flag(bool),
        Options(CookieConfig),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        None | Some(Either::Flag(false)) => None,
        Some(Either::Flag(true)) => Some(CookieConfig::default()),
        Some(Either::Options(c)) => Some(c),
    })
}

/// One limit: at most `max` failures within `window` (a fixed window from the first failure).
/// `max: 0` turns the limit off.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Limit {
    /// Failures allowed within the window (0 turns the limit off).
    pub max: u32,
    #[serde(default, deserialize_with = "de_duration", serialize_with = "ser_duration")]
    /// The window, from the first failure (may be left out of a limit that is off, `{max: 0}`).
    pub window: Duration,
}

impl Limit {
    const fn new(max: u32, window_secs: u64) -> Limit {
        Limit { max, window: Duration::from_secs(window_secs) }
    }
}

/// The limits of one kind of guess, per account + client IP (strict: one attacker on one
/// account), per account (looser: a stranger must not lock the owner out for long) and per
/// client IP (credential stuffing across many accounts).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct LimitSet {
    /// Per account and client IP.
    pub account_ip: Limit,
    /// Per account.
    pub account: Limit,
    /// Per client IP.
    pub ip: Limit,
}

/// A `LimitSet` as written in a config: each limit may be left out and keeps its default.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PartialLimitSet {
    account_ip: Option<Limit>,
    account: Option<Limit>,
    ip: Option<Limit>,
}

impl PartialLimitSet {
    fn over(self, defaults: LimitSet) -> LimitSet {
        LimitSet {
            account_ip: self.account_ip.unwrap_or(defaults.account_ip),
            account: self.account.unwrap_or(defaults.account),
            ip: self.ip.unwrap_or(defaults.ip),
        }
    }
}

fn de_password<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<LimitSet, D::Error> {
    PartialLimitSet::deserialize(d).map(|p| p.over(AttemptLimits::default_password()))
}
fn de_second_factor<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<LimitSet, D::Error> {
    PartialLimitSet::deserialize(d).map(|p| p.over(AttemptLimits::default_second_factor()))
}
fn de_link_token<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<LimitSet, D::Error> {
    PartialLimitSet::deserialize(d).map(|p| p.over(AttemptLimits::default_link_token()))
}

/// `attemptLimits`: password guesses, second-factor guesses (TOTP and recovery codes) and link
/// tokens (reset, enrollment, magic link) are limited separately. Each limit given replaces its
/// default; the others keep theirs (`{"password": {"account": {...}}}` changes one limit).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct AttemptLimits {
    #[serde(default = "AttemptLimits::default_password", deserialize_with = "de_password")]
    /// Password guesses.
    pub password: LimitSet,
    #[serde(default = "AttemptLimits::default_second_factor", deserialize_with = "de_second_factor")]
    /// Second-factor guesses (TOTP and recovery codes).
    pub second_factor: LimitSet,
    #[serde(default = "AttemptLimits::default_link_token", deserialize_with = "de_link_token")]
    /// Link-token guesses (reset, enrollment, magic link).
    pub link_token: LimitSet,
}

impl AttemptLimits {
    const fn default_password() -> LimitSet {
        LimitSet { account_ip: Limit::new(5, 900), account: Limit::new(50, 900), ip: Limit::new(200, 900) }
    }
    const fn default_second_factor() -> LimitSet {
        LimitSet { account_ip: Limit::new(5, 900), account: Limit::new(10, 900), ip: Limit::new(100, 900) }
    }
    const fn default_link_token() -> LimitSet {
        LimitSet { account_ip: Limit::new(0, 900), account: Limit::new(0, 900), ip: Limit::new(50, 900) }
    }
}

impl Default for AttemptLimits {
    fn default() -> Self {
        AttemptLimits {
            password: AttemptLimits::default_password(),
            second_factor: AttemptLimits::default_second_factor(),
            link_token: AttemptLimits::default_link_token(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
/// `tokenConfigs`.
#[derive(Default)]
#[non_exhaustive]
pub struct TokenConfigs {
    #[serde(default = "AccessTokenConfig::default")]
    /// `accessToken`: lifetime, algorithm and claims.
    pub access_token: AccessTokenConfig,
    #[serde(default = "RefreshTokenConfig::default")]
    /// `refreshToken`: lifetime.
    pub refresh_token: RefreshTokenConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
/// `tokenConfigs.accessToken`.
#[non_exhaustive]
pub struct AccessTokenConfig {
    #[serde(default = "default_access_ttl", deserialize_with = "de_duration", serialize_with = "ser_duration")]
    /// `expiresIn` (default 90 min).
    pub expires_in: Duration,
    #[serde(default = "default_algorithm")]
    /// `algorithm` (HS256 for a secret; the key pair's otherwise).
    pub algorithm: String,
    #[serde(default)]
    /// `issuer`: the `iss` claim, checked when set.
    pub issuer: Option<String>,
    #[serde(default)]
    /// `audience`: the `aud` claim, checked when set.
    pub audience: Option<String>,
}

impl Default for AccessTokenConfig {
    fn default() -> Self {
        AccessTokenConfig { expires_in: default_access_ttl(), algorithm: default_algorithm(), issuer: None, audience: None }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
/// `tokenConfigs.refreshToken`. accounts-js passes this object to jsonwebtoken's `sign`, so its
/// configs name `algorithm`, `issuer` and `audience` here too: they are accepted when they agree
/// with the access token's (one key signs both tokens, and refresh tokens carry the access token's
/// `iss` and `aud`), and `InvalidConfig` when they contradict them.
#[non_exhaustive]
pub struct RefreshTokenConfig {
    #[serde(default = "default_refresh_ttl", deserialize_with = "de_duration", serialize_with = "ser_duration")]
    /// `expiresIn` (default 7 days).
    pub expires_in: Duration,
    /// `algorithm`: must be the signing key's (`accessToken.algorithm`, or the current ring key's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// `issuer`: must equal `accessToken.issuer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `audience`: must equal `accessToken.audience`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

impl Default for RefreshTokenConfig {
    fn default() -> Self {
        RefreshTokenConfig { expires_in: default_refresh_ttl(), algorithm: None, issuer: None, audience: None }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
/// `services`.
#[non_exhaustive]
pub struct ServicesConfig {
    #[serde(default)]
    /// `services.password`.
    pub password: PasswordConfig,
    #[serde(default)]
    /// `services.magicLink`.
    pub magic_link: MagicLinkConfig,
    #[serde(default)]
    /// `services.oauth` (docs/oauth.md).
    pub oauth: OAuthConfig,
    #[serde(default)]
    /// `services.webauthn` (docs/passkeys.md): passkeys; absent, the service is off.
    pub webauthn: Option<WebAuthnConfig>,
}

/// `services.webauthn`: sign-in with passkeys (docs/passkeys.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct WebAuthnConfig {
    /// The relying party id: the registrable domain the passkeys belong to (`example.com`), no
    /// scheme, port or path.
    pub rp_id: String,
    /// The name the browser shows for the relying party.
    pub rp_name: String,
    /// The origins the browser may run the ceremonies on (`https://example.com`,
    /// `https://app.example.com`): each must be `rpId` or a subdomain of it, https (http only on
    /// `localhost`).
    pub origins: Vec<String>,
    /// `"required"` (default), `"preferred"` or `"discouraged"`: whether a sign-in needs the
    /// authenticator to verify the user (PIN, biometrics). With `"required"` a passkey is both
    /// factors: no TOTP code is asked (docs/passkeys.md, "Security model").
    #[serde(default)]
    pub user_verification: UserVerification,
    /// `"none"` (default and only value): no attestation statement is asked for or kept.
    #[serde(default)]
    pub attestation: AttestationPreference,
    /// How long a ceremony started by `registrationOptions` / `authenticationOptions` may be
    /// finished (default 5 minutes; between 10 s and 10 minutes).
    #[serde(default = "default_webauthn_timeout", deserialize_with = "de_duration_ms", serialize_with = "ser_duration_ms")]
    pub timeout: Duration,
}

/// `services.webauthn.userVerification`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum UserVerification {
    /// Every sign-in and registration needs user verification.
    #[default]
    Required,
    /// Asked for, not required.
    Preferred,
    /// Not asked for.
    Discouraged,
}

/// `services.webauthn.attestation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttestationPreference {
    /// No attestation.
    #[default]
    None,
}

fn default_webauthn_timeout() -> Duration {
    Duration::from_secs(5 * 60)
}

/// The bounds of `services.webauthn.timeout`.
pub const WEBAUTHN_TIMEOUT_BOUNDS: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(10 * 60));

impl WebAuthnConfig {
    /// Checks `rpId` and that every origin belongs to it.
    ///
    /// # Errors
    /// `InvalidConfig`.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(AccountsError::new(ErrorCode::InvalidConfig, m));
        let rp_id = self.rp_id.as_str();
        let label_ok = |l: &str| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if rp_id.is_empty() || rp_id.len() > 253 || !rp_id.split('.').all(label_ok) {
            return bad(format!("services.webauthn.rpId must be a lowercase domain name without scheme, port or path (got {rp_id:?})"));
        }
        // An IP address is no rpId (WebAuthn needs a domain), nor is a bare top-level domain
        // (`com`): a passkey of it would belong to every site under it. `localhost` is the
        // one single-label rpId browsers accept. (Public suffixes such as `co.uk` are not
        // known here: docs/passkeys.md, "Setup".)
        let last_numeric = rp_id.rsplit('.').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
        if last_numeric || (!rp_id.contains('.') && rp_id != "localhost") {
            return bad(format!("services.webauthn.rpId must be a registrable domain name, not an IP address or a top-level domain (got {rp_id:?})"));
        }
        if self.rp_name.trim().is_empty() {
            return bad("services.webauthn.rpName must not be empty".into());
        }
        if self.origins.is_empty() {
            return bad("services.webauthn.origins must name at least one origin".into());
        }
        for origin in &self.origins {
            let parsed = url::Url::parse(origin).ok();
            let host = parsed.as_ref().and_then(|u| u.host_str()).map(str::to_string);
            let Some((parsed, host)) = parsed.zip(host) else {
                return bad(format!("services.webauthn.origins: {origin:?} is not an origin"));
            };
            let is_origin = parsed.path() == "/"
                && parsed.query().is_none()
                && parsed.fragment().is_none()
                && parsed.username().is_empty()
                && !origin.ends_with('/');
            let secure = parsed.scheme() == "https" || (parsed.scheme() == "http" && host == "localhost");
            let belongs = host == rp_id || host.ends_with(&format!(".{rp_id}"));
            // The browser sends the origin in its one serialization (lowercase scheme and host, no
            // default port) and webauthn_rp compares it byte for byte: any other spelling (and a
            // wildcard, which no browser sends) would never match, so it is refused here.
            let canonical = parsed.origin().ascii_serialization() == *origin && host.split('.').all(label_ok);
            if !is_origin || !secure || !belongs || !canonical {
                return bad(format!(
                    "services.webauthn.origins: {origin:?} must be https://{rp_id} or a subdomain of it (scheme, host, optional port, nothing else; http only for localhost)"
                ));
            }
        }
        let (min, max) = WEBAUTHN_TIMEOUT_BOUNDS;
        if self.timeout < min || self.timeout > max {
            return bad("services.webauthn.timeout must be between 10000 and 600000 ms".into());
        }
        Ok(())
    }
}

/// `services.oauth`: login with other identity providers (docs/oauth.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct OAuthConfig {
    /// The providers by name (the `provider` of `loginWithService('oauth', ...)`).
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// A first login whose provider email matches an account when the provider or the account has
    /// not verified that address: `"refuse"` (default: `AccountLinkRefused`) or `"createAccount"`
    /// (a new account without that address).
    #[serde(default)]
    pub unverified_email_match: UnverifiedEmailMatch,
    /// How long an authorization started by `authorizationUrl` may be finished (default 10 minutes,
    /// at least [`MIN_OAUTH_FLOW_EXPIRATION`]).
    #[serde(default = "default_oauth_flow_ttl", deserialize_with = "de_duration_ms", serialize_with = "ser_duration_ms")]
    pub flow_expiration: Duration,
}

impl ProviderConfig {
    /// Whether the provider's own tokens are kept (sealed).
    pub fn stores_tokens(&self) -> bool {
        match self {
            ProviderConfig::Host { store_tokens } => *store_tokens,
            ProviderConfig::Oidc(p) => p.store_tokens,
        }
    }
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig { providers: BTreeMap::new(), unverified_email_match: UnverifiedEmailMatch::default(), flow_expiration: default_oauth_flow_ttl() }
    }
}

/// The shortest `services.oauth.flowExpiration`: a user needs time to sign in at the provider.
pub const MIN_OAUTH_FLOW_EXPIRATION: Duration = Duration::from_secs(60);

fn default_oauth_flow_ttl() -> Duration {
    Duration::from_secs(10 * 60)
}

/// One provider of `services.oauth.providers`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum ProviderConfig {
    /// The host's `oauthAuthenticate(provider, params)` callback talks to the provider and returns
    /// `{id, email?, emailVerified?, profile?}` (GitHub-style OAuth 2.0; accounts-js's `authenticate`).
    #[serde(rename_all = "camelCase")]
    Host {
        /// Keep the provider tokens the callback returns (`tokens`), sealed, for
        /// `providerTokens` (default false: nothing of the provider's is stored).
        #[serde(default)]
        store_tokens: bool,
    },
    /// An OpenID Connect provider: the library runs the authorization-code flow with PKCE, `state`
    /// and `nonce`, and verifies the ID token (docs/oauth.md, "OpenID Connect").
    Oidc(OidcProvider),
}

/// `{"type": "oidc", ...}` in `services.oauth.providers`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct OidcProvider {
    /// The issuer URL; discovery is read from `<issuer>/.well-known/openid-configuration`, whose
    /// `issuer` must equal it. `https://`, or `http://` on a loopback address (tests, development).
    pub issuer: String,
    /// The client id registered at the provider (the ID token's `aud`).
    pub client_id: String,
    /// The client secret, sent as HTTP Basic (or in the form, see `tokenEndpointAuthMethod`).
    /// Absent for a public client (PKCE alone).
    #[serde(default, serialize_with = "redacted_opt", skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Where the provider sends the browser back with `code` and `state`.
    pub redirect_uri: String,
    /// Scopes requested (default `openid email profile`; `openid` is always sent).
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// ID-token signature algorithms accepted (default `["RS256"]`); the token's header never
    /// chooses beyond this list.
    #[serde(default = "default_oidc_algorithms")]
    pub algorithms: Vec<String>,
    /// `"clientSecretBasic"` (default) or `"clientSecretPost"`.
    #[serde(default)]
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// Keep the provider's access and refresh tokens, sealed, for `providerTokens` (default false:
    /// nothing of the provider's is stored).
    #[serde(default)]
    pub store_tokens: bool,
    /// Always read the address and profile from the UserInfo endpoint (default false: only when
    /// the ID token carries no `email`, as providers following OpenID Connect Core §5.4 do).
    #[serde(default)]
    pub userinfo: bool,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with the form-encoded id and secret.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form.
    ClientSecretPost,
}

fn default_oidc_scopes() -> Vec<String> {
    vec!["openid".into(), "email".into(), "profile".into()]
}
fn default_oidc_algorithms() -> Vec<String> {
    vec!["RS256".into()]
}

/// `url` parsed as a provider URL may be fetched or redirected to: `https://`, or `http://` on a
/// loopback host; never with userinfo (`http://localhost:80@evil.example` names `evil.example`),
/// backslashes, whitespace or control characters (which parsers disagree on). Returns the parsed
/// URL, whose serialization is what gets requested.
pub fn provider_url(raw: &str) -> Option<url::Url> {
    if raw.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) {
        return None;
    }
    let parsed = url::Url::parse(raw).ok()?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return None;
    }
    let allowed = match (parsed.scheme(), parsed.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Domain(name))) => name.eq_ignore_ascii_case("localhost"),
        ("http", Some(url::Host::Ipv4(a))) => a.is_loopback(),
        ("http", Some(url::Host::Ipv6(a))) => a.is_loopback(),
        _ => false,
    };
    allowed.then_some(parsed)
}

/// Whether `url` may be fetched or redirected to (see [`provider_url`]).
pub fn allowed_provider_url(url: &str) -> bool {
    provider_url(url).is_some()
}

/// `services.oauth.unverifiedEmailMatch`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum UnverifiedEmailMatch {
    /// Fail with `AccountLinkRefused`.
    #[default]
    Refuse,
    /// Create a new account that does not hold the address.
    CreateAccount,
}

/// `emailTemplates`: the sender and, per mail, any of `subject`, `text`, `html`. `{{url}}` and
/// `{{email}}` are replaced (HTML-escaped in `html`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct EmailTemplates {
    #[serde(default)]
    /// The `from` of every mail.
    pub from: Option<String>,
    #[serde(default)]
    /// The verification mail.
    pub verify_email: TemplateOverride,
    #[serde(default)]
    /// The reset mail.
    pub reset_password: TemplateOverride,
    #[serde(default)]
    /// The enrollment mail.
    pub enroll_account: TemplateOverride,
    #[serde(default)]
    /// The password-changed notice.
    pub password_changed: TemplateOverride,
    #[serde(default)]
    /// The magic-link mail.
    pub magic_link: TemplateOverride,
}

/// Fields of one mail template; a missing field keeps the default.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct TemplateOverride {
    #[serde(default)]
    /// The subject.
    pub subject: Option<String>,
    #[serde(default)]
    /// The plain-text body.
    pub text: Option<String>,
    #[serde(default)]
    /// The HTML body (`{{url}}` and `{{email}}` HTML-escaped).
    pub html: Option<String>,
}

/// `services.magicLink`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct MagicLinkConfig {
    /// How long a magic link stays usable (default 15 minutes).
    #[serde(default = "default_magic_link_ttl", deserialize_with = "de_duration_ms", serialize_with = "ser_duration_ms")]
    pub login_token_expiration: Duration,
    /// accounts-js `errors`: message texts by key (`loginTokenExpired`, ...; see `messages`).
    #[serde(default)]
    pub errors: BTreeMap<String, String>,
}

impl Default for MagicLinkConfig {
    fn default() -> Self {
        MagicLinkConfig { login_token_expiration: default_magic_link_ttl(), errors: BTreeMap::new() }
    }
}

/// `services.password.twoFactor`: RFC 6238 with SHA-1, 6 digits and 30 s steps (what authenticator apps support).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct TwoFactorConfig {
    /// Issuer shown by authenticator apps and put in the otpauth URL.
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// Steps of clock drift accepted on either side of now.
    #[serde(default = "default_window")]
    pub window: u16,
    /// Single-use recovery codes generated by `set` and `regenerateRecoveryCodes`.
    #[serde(default = "default_recovery_codes")]
    pub recovery_codes: usize,
    /// accounts-js `errors`: message texts by key (`codeDidNotMatch`, ...; see `messages`).
    #[serde(default)]
    pub errors: BTreeMap<String, String>,
}

impl Default for TwoFactorConfig {
    fn default() -> Self {
        TwoFactorConfig { app_name: default_app_name(), window: default_window(), recovery_codes: default_recovery_codes(), errors: BTreeMap::new() }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
/// `services.password`.
#[non_exhaustive]
pub struct PasswordConfig {
    #[serde(default = "default_min_password_length")]
    /// `minPasswordLength` (default 8; the host's validatePassword replaces it).
    pub min_password_length: usize,
    #[serde(default)]
    /// `requireEmailVerification`: login needs a verified address.
    pub require_email_verification: bool,
    #[serde(default)]
    /// `twoFactor`: TOTP options.
    pub two_factor: TwoFactorConfig,
    #[serde(default)]
    /// `hashing`: argon2id parameters.
    pub hashing: HashingConfig,
    /// How many argon2 hashes may run at once (each takes `memoryKib` of RAM). 0 = number of CPUs.
    #[serde(default)]
    pub max_concurrent_hashes: usize,
    #[serde(default = "default_verify_ttl", deserialize_with = "de_duration_ms", serialize_with = "ser_duration_ms")]
    /// `verifyEmailTokenExpiration` (default 3 days).
    pub verify_email_token_expiration: Duration,
    #[serde(default = "default_verify_ttl", deserialize_with = "de_duration_ms", serialize_with = "ser_duration_ms")]
    /// `passwordResetTokenExpiration` (default 3 days).
    pub password_reset_token_expiration: Duration,
    #[serde(default = "default_enroll_ttl", deserialize_with = "de_duration_ms", serialize_with = "ser_duration_ms")]
    /// `passwordEnrollTokenExpiration` (default 30 days).
    pub password_enroll_token_expiration: Duration,
    /// `resetPassword` logs the user in and returns a LoginResult.
    #[serde(default)]
    pub return_tokens_after_reset_password: bool,
    #[serde(default = "yes")]
    /// `invalidateAllSessionsAfterPasswordReset` (default true).
    pub invalidate_all_sessions_after_password_reset: bool,
    #[serde(default)]
    /// `invalidateAllSessionsAfterPasswordChanged` (default false).
    pub invalidate_all_sessions_after_password_changed: bool,
    /// `changePassword` and `setPassword` kill the user's unused reset links.
    #[serde(default = "yes")]
    pub remove_all_reset_password_tokens_after_password_changed: bool,
    #[serde(default = "yes")]
    /// `notifyUserAfterPasswordChanged` (default true).
    pub notify_user_after_password_changed: bool,
    #[serde(default)]
    /// `sendVerificationEmailAfterSignup` (default false).
    pub send_verification_email_after_signup: bool,
    /// accounts-js `errors`: message texts by key (`invalidCredentials`, ...; see `messages`).
    #[serde(default)]
    pub errors: BTreeMap<String, String>,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            min_password_length: default_min_password_length(),
            require_email_verification: false,
            two_factor: TwoFactorConfig::default(),
            hashing: HashingConfig::default(),
            max_concurrent_hashes: 0,
            verify_email_token_expiration: default_verify_ttl(),
            password_reset_token_expiration: default_verify_ttl(),
            password_enroll_token_expiration: default_enroll_ttl(),
            return_tokens_after_reset_password: false,
            invalidate_all_sessions_after_password_reset: true,
            invalidate_all_sessions_after_password_changed: false,
            remove_all_reset_password_tokens_after_password_changed: true,
            notify_user_after_password_changed: true,
            send_verification_email_after_signup: false,
            errors: BTreeMap::new(),
        }
    }
}

/// argon2id parameters; the defaults are OWASP's (m = 19456 KiB, t = 2, p = 1).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct HashingConfig {
    #[serde(default = "default_memory_kib")]
    /// `memoryKib` (default 19456).
    pub memory_kib: u32,
    #[serde(default = "default_iterations")]
    /// `iterations` (default 2).
    pub iterations: u32,
    #[serde(default = "default_parallelism")]
    /// `parallelism` (default 1).
    pub parallelism: u32,
}

impl Default for HashingConfig {
    fn default() -> Self {
        HashingConfig { memory_kib: default_memory_kib(), iterations: default_iterations(), parallelism: default_parallelism() }
    }
}

fn yes() -> bool {
    true
}
fn default_callback_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_pool_size() -> u32 {
    8
}
fn default_site_url() -> String {
    "http://localhost:3000".into()
}
fn default_grace() -> u64 {
    10
}
fn default_access_ttl() -> Duration {
    Duration::from_secs(90 * 60)
}
fn default_refresh_ttl() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
fn default_algorithm() -> String {
    "HS256".into()
}
fn default_verify_ttl() -> Duration {
    Duration::from_secs(3 * 86_400)
}
fn default_enroll_ttl() -> Duration {
    Duration::from_secs(30 * 86_400)
}
fn default_magic_link_ttl() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_app_name() -> String {
    "accounts-rs".into()
}
fn default_window() -> u16 {
    1
}
fn default_recovery_codes() -> usize {
    10
}
fn default_min_password_length() -> usize {
    8
}
fn default_memory_kib() -> u32 {
    19456
}
fn default_iterations() -> u32 {
    2
}
fn default_parallelism() -> u32 {
    1
}

fn redacted<S: serde::Serializer>(_: &str, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}

/// A JWK with its private members (`d`, and RSA's `p`, `q`, `dp`, `dq`, `qi`, `oth`) redacted.
fn redacted_jwk<S: serde::Serializer>(v: &Option<serde_json::Value>, s: S) -> std::result::Result<S::Ok, S::Error> {
    let mut shown = v.clone();
    if let Some(serde_json::Value::Object(members)) = &mut shown {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
            if let Some(m) = members.get_mut(private) {
                *m = serde_json::Value::String("[redacted]".into());
            }
        }
    }
    shown.serialize(s)
}

fn redacted_list<S: serde::Serializer>(v: &[String], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|_| "[redacted]"))
}

fn redacted_opt<S: serde::Serializer>(_: &Option<String>, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}

/// `tokenKeys`: the key ring. `current` names the signing key; all keys verify.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct TokenKeys {
    /// The `kid` of the signing key.
    pub current: String,
    /// Every key tokens may carry, current or kept for verification.
    pub keys: Vec<TokenKey>,
}

/// One key of the ring: an HMAC `secret`, a PEM key pair, a private `jwk`, or — verify only, e.g. a
/// retired key whose private half is gone — a PEM `publicKey` or a public `jwk`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct TokenKey {
    /// The key id tokens carry in their header.
    pub kid: String,
    /// The algorithm the key is pinned to.
    pub algorithm: String,
    /// An HMAC secret (HS256/384/512; at least 32 bytes).
    #[serde(default, serialize_with = "redacted_opt", skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// A PEM private key (PKCS#8, or PKCS#1 for RSA).
    #[serde(default, serialize_with = "redacted_opt", skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    /// The PEM public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// A JWK: private (with `d`; signs and verifies) or public (verifies only). Its private members
    /// are redacted in `options`.
    #[serde(default, serialize_with = "redacted_jwk", skip_serializing_if = "Option::is_none")]
    pub jwk: Option<serde_json::Value>,
}

/// `tokenSecret`: a shared HMAC secret, or accounts-js's key pair for asymmetric algorithms.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum TokenSecret {
    /// The raw bytes sign and verify (HS256/384/512); other services verify with the same secret.
    Shared(#[serde(serialize_with = "redacted")] String),
    /// PEM keys (PKCS#8, or PKCS#1 for RSA); other services verify with the public key.
    #[serde(rename_all = "camelCase")]
    KeyPair {
        /// The PEM public key.
        public_key: String,
        #[serde(serialize_with = "redacted")]
        /// The PEM private key.
        private_key: String,
    },
}

impl TokenKeys {
    /// The shape rules (the keys themselves are parsed by the token manager).
    ///
    /// # Errors
    /// `InvalidConfig`: no keys, duplicate or empty `kid`s, `current` naming no key that can sign,
    /// an unknown algorithm, a key material that does not fit its algorithm, a short secret.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(AccountsError::new(ErrorCode::InvalidConfig, m));
        if self.keys.is_empty() {
            return bad("tokenKeys.keys is empty".into());
        }
        for (i, key) in self.keys.iter().enumerate() {
            let at = format!("tokenKeys.keys[{i}]");
            if key.kid.is_empty() || self.keys[..i].iter().any(|k| k.kid == key.kid) {
                return bad(format!("{at}: kid must be non-empty and unique"));
            }
            let Some((_, shared)) = ALGORITHMS.iter().find(|(name, _)| *name == key.algorithm) else {
                return bad(format!("{at}: algorithm must be HS256/384/512, RS256/384/512, ES256/384 or EdDSA"));
            };
            let material = (key.secret.is_some(), key.private_key.is_some(), key.public_key.is_some(), key.jwk.is_some());
            match (shared, material) {
                (true, (true, false, false, false)) => {
                    if key.secret.as_ref().is_some_and(|s| s.len() < MIN_TOKEN_SECRET_BYTES) {
                        return bad(format!("{at}: secret must be at least 32 bytes"));
                    }
                }
                (false, (false, true, true, false) | (false, false, true, false) | (false, false, false, true)) => {}
                (true, _) => return bad(format!("{at}: an HMAC key is a secret")),
                (false, _) => return bad(format!("{at}: give privateKey + publicKey (PEM), a jwk, or publicKey alone")),
            }
        }
        let signs = |k: &TokenKey| k.secret.is_some() || k.private_key.is_some() || k.jwk.as_ref().is_some_and(|j| j.get("d").is_some());
        match self.keys.iter().find(|k| k.kid == self.current) {
            Some(k) if signs(k) => Ok(()),
            Some(_) => bad("tokenKeys.current names a verify-only key".into()),
            None => bad("tokenKeys.current names no key".into()),
        }
    }
}

impl TokenSecret {
    /// The bytes other at-rest keys are derived from (the secret, or the private key).
    pub(crate) fn secret_bytes(&self) -> &[u8] {
        match self {
            TokenSecret::Shared(s) => s.as_bytes(),
            TokenSecret::KeyPair { private_key, .. } => private_key.as_bytes(),
        }
    }
}

/// The JWT algorithms accepted in `tokenConfigs.accessToken.algorithm`, and whether each signs with
/// a shared secret (HMAC) or a key pair. All sign deterministically, which the refresh grace window
/// relies on (it re-derives the successor token); so RSA-PSS (randomized) is not offered.
pub(crate) const ALGORITHMS: &[(&str, bool)] = &[
    ("HS256", true),
    ("HS384", true),
    ("HS512", true),
    ("RS256", false),
    ("RS384", false),
    ("RS512", false),
    ("ES256", false),
    ("ES384", false),
    ("EdDSA", false),
];

/// `postgres://user:secret@host/db?password=x` → `postgres://user:[redacted]@host/db?password=[redacted]`.
pub fn redact_db_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}"),
                None => head.to_string(),
            },
            None => head.to_string(),
        },
        None => head.to_string(),
    };
    if let Some(q) = query {
        let params: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword") => format!("{k}=[redacted]"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

fn redacted_url<S: serde::Serializer>(url: &str, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&redact_db_url(url))
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// accounts-js's link-token lifetimes: a number is milliseconds (as there), a string as everywhere.
fn ser_duration_ms<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn de_duration_ms<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    de_number_or_text(d, Duration::from_millis)
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    de_number_or_text(d, Duration::from_secs)
}

/// A duration given as a number (in the unit `from_number` reads) or as text like `"15m"`.
fn de_number_or_text<'de, D: Deserializer<'de>>(d: D, from_number: fn(u64) -> Duration) -> std::result::Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Number(n) => Ok(from_number(n)),
        Raw::Text(t) => parse_duration(&t).map_err(|e| serde::de::Error::custom(e.message)),
    }
}

/// Parses `"90m"`, `"7d"`, `"3600s"`, `"2h"`, `"1w"` or plain seconds (`"45"`).
///
/// # Errors
/// `InvalidConfig` when the text is not a number with an optional unit, or overflows.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || AccountsError::new(ErrorCode::InvalidConfig, format!("invalid duration {text:?}: use e.g. 90m, 7d, 3600s"));
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit.trim() {
        "" | "s" | "sec" | "secs" | "seconds" => 1,
        "m" | "min" | "mins" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).map(Duration::from_secs).ok_or_else(bad)
}

impl Config {
    /// Parses and validates a JSON configuration.
    ///
    /// # Errors
    /// `InvalidConfig` for malformed JSON, unknown keys, wrong types or a failed [`Config::validate`].
    pub fn from_json(json: &str) -> Result<Config> {
        let cfg: Config = serde_json::from_str(json).map_err(|e| AccountsError::new(ErrorCode::InvalidConfig, format!("config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Builds a configuration from a JSON value (what the bindings hold).
    ///
    /// # Errors
    /// As [`Config::from_json`].
    pub fn from_value(value: serde_json::Value) -> Result<Config> {
        let cfg: Config = serde_json::from_value(value).map_err(|e| AccountsError::new(ErrorCode::InvalidConfig, format!("config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The message texts of the services' `errors` options.
    ///
    /// # Errors
    /// `InvalidConfig` naming an `errors` key the service does not have.
    pub(crate) fn messages(&self) -> Result<crate::messages::Messages> {
        let s = &self.services;
        crate::messages::Messages::new(&s.password.errors, &s.password.two_factor.errors, &s.magic_link.errors)
    }

    /// `tokenConfigs.refreshToken`'s jsonwebtoken options, when given, agree with what actually
    /// signs refresh tokens.
    fn check_refresh_token_config(&self) -> Result<()> {
        let (access, refresh) = (&self.token_configs.access_token, &self.token_configs.refresh_token);
        let contradiction = |m: String| Err(AccountsError::new(ErrorCode::InvalidConfig, m));
        if let Some(algorithm) = &refresh.algorithm {
            let signing = match &self.token_keys {
                Some(ring) => ring.keys.iter().find(|k| k.kid == ring.current).map(|k| k.algorithm.as_str()),
                None => Some(access.algorithm.as_str()),
            };
            if signing.is_some_and(|s| s != algorithm) {
                return contradiction(format!(
                    "tokenConfigs.refreshToken.algorithm is {algorithm} but the signing key's is {}: one key signs both tokens",
                    signing.unwrap_or_default()
                ));
            }
        }
        for (name, given, used) in [("issuer", &refresh.issuer, &access.issuer), ("audience", &refresh.audience, &access.audience)] {
            if given.is_some() && given != used {
                return contradiction(format!(
                    "tokenConfigs.refreshToken.{name} must equal tokenConfigs.accessToken.{name}: refresh tokens carry the access token's"
                ));
            }
        }
        Ok(())
    }

    /// Checks the rules serde cannot express.
    ///
    /// # Errors
    /// `InvalidConfig` for a short secret, an unsupported algorithm, zero lifetimes or bad hash parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(AccountsError::new(ErrorCode::InvalidConfig, m.to_string()));
        let algorithm = self.token_configs.access_token.algorithm.as_str();
        let Some((_, shared)) = ALGORITHMS.iter().find(|(name, _)| *name == algorithm) else {
            return bad("tokenConfigs.accessToken.algorithm must be HS256/384/512, RS256/384/512, ES256/384 or EdDSA");
        };
        match (&self.token_secret, &self.token_keys) {
            (None, None) => return bad("tokenSecret (or a tokenKeys ring) is required"),
            (Some(_), Some(_)) => return bad("give tokenSecret or tokenKeys, not both"),
            (Some(TokenSecret::Shared(_)), None) if !shared => {
                return bad("an asymmetric algorithm needs tokenSecret: {publicKey, privateKey}");
            }
            (Some(TokenSecret::Shared(secret)), None) if secret.len() < MIN_TOKEN_SECRET_BYTES => {
                return bad("tokenSecret must be at least 32 bytes");
            }
            (Some(TokenSecret::KeyPair { .. }), None) if *shared => {
                return bad("tokenSecret {publicKey, privateKey} needs an asymmetric algorithm (e.g. RS256, ES256, EdDSA)");
            }
            (None, Some(ring)) => {
                ring.validate()?;
                if self.sealing_secret.is_none() {
                    // The JWT keys change by design: sealed secrets must not hang on them.
                    return bad("tokenKeys needs sealingSecret (the key two-factor secrets are sealed under)");
                }
            }
            _ => {}
        }
        if self.token_configs.access_token.expires_in.is_zero() || self.token_configs.refresh_token.expires_in.is_zero() {
            return bad("token lifetimes must be positive");
        }
        self.check_refresh_token_config()?;
        let h = self.services.password.hashing;
        if argon2::Params::new(h.memory_kib, h.iterations, h.parallelism, None).is_err() {
            return bad("services.password.hashing has invalid argon2 parameters");
        }
        if !self.db.starts_with("sqlite:") && !self.db.starts_with("postgres://") && !self.db.starts_with("postgresql://") {
            return bad("db must be sqlite:<path>, sqlite::memory: or postgres://...");
        }
        if let Some(webauthn) = &self.services.webauthn {
            webauthn.validate()?;
        }
        if self.services.oauth.flow_expiration < MIN_OAUTH_FLOW_EXPIRATION {
            return bad("services.oauth.flowExpiration must be at least 60000 ms (60 s): users need time to sign in at the provider");
        }
        for (name, provider) in &self.services.oauth.providers {
            let ProviderConfig::Oidc(p) = provider else { continue };
            if !allowed_provider_url(&p.issuer) {
                return bad(&format!("services.oauth.providers.{name}.issuer must be https:// (http:// only on a loopback address)"));
            }
            if p.client_id.is_empty() || p.redirect_uri.is_empty() {
                return bad(&format!("services.oauth.providers.{name} needs clientId and redirectUri"));
            }
            if p.algorithms.is_empty() || p.algorithms.iter().any(|a| !ALGORITHMS.iter().any(|(n, shared)| n == a && !shared)) {
                return bad(&format!("services.oauth.providers.{name}.algorithms: RS256/384/512, ES256/384 or EdDSA"));
            }
        }
        if self.db_pool_size == 0 || self.db_pool_size > 1000 {
            return bad("dbPoolSize must be between 1 and 1000");
        }
        let tf = &self.services.password.two_factor;
        if tf.app_name.is_empty() || tf.app_name.contains(':') || tf.window > 10 || tf.recovery_codes > 100 {
            return bad("services.password.twoFactor: appName must be non-empty without ':', window <= 10, recoveryCodes <= 100");
        }
        for (name, set) in [
            ("password", &self.attempt_limits.password),
            ("secondFactor", &self.attempt_limits.second_factor),
            ("linkToken", &self.attempt_limits.link_token),
        ] {
            if [set.account_ip, set.account, set.ip].iter().any(|l| l.max > 0 && l.window.is_zero()) {
                return Err(AccountsError::new(ErrorCode::InvalidConfig, format!("attemptLimits.{name}: a window must be positive")));
            }
        }
        if self.enable_autologin && self.ambiguous_error_messages {
            // accounts-js's own refusal: autologin after signup tells taken addresses from new ones.
            return bad("Can't enable autologin when ambiguous error messages are enabled \
                        (https://www.accountsjs.com/docs/api/server/globals#ambiguouserrormessages).\n\
                        Please set ambiguousErrorMessages to false to be able to use autologin.");
        }
        if self.enable_autologin && self.services.password.require_email_verification {
            return bad("Can't enable autologin when requireEmailVerification is on: the new user could not log in.");
        }
        self.messages()?;
        self.web.validate(&self.site_url)?;
        if self.sealing_secret.iter().chain(&self.previous_sealing_secrets).any(|s| s.len() < MIN_TOKEN_SECRET_BYTES) {
            return bad("sealingSecret and previousSealingSecrets must be at least 32 bytes");
        }
        if !self.previous_sealing_secrets.is_empty() && self.sealing_secret.is_none() {
            return bad("previousSealingSecrets needs a current sealingSecret");
        }
        if self.host_callback_timeout.is_zero() {
            return bad("hostCallbackTimeout must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("3600s").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        for bad in ["", "m", "5y", "-3s", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad).unwrap_err().code, ErrorCode::InvalidConfig, "{bad}");
        }
    }

    #[test]
    fn one_attempt_limit_given_keeps_the_other_defaults() {
        let c = Config::from_json(
            r#"{"db":"sqlite::memory:","tokenSecret":"0123456789abcdef0123456789abcdef",
                "attemptLimits":{"password":{"account":{"max":0,"window":900}},"linkToken":{}}}"#,
        )
        .unwrap();
        let limits = &c.attempt_limits;
        assert_eq!(limits.password.account.max, 0, "the limit given");
        assert_eq!(limits.password.account_ip, AttemptLimits::default_password().account_ip, "the others keep their defaults");
        assert_eq!(limits.password.ip, AttemptLimits::default_password().ip);
        assert_eq!(limits.link_token, AttemptLimits::default_link_token(), "an empty set is all defaults");
        assert_eq!(limits.second_factor, AttemptLimits::default_second_factor());
        // `{max: 0}` alone turns a limit off; a limit that is on still needs its window.
        let off = r#"{"db":"sqlite::memory:","tokenSecret":"0123456789abcdef0123456789abcdef","attemptLimits":{"password":{"ip":{"max":0}}}}"#;
        assert_eq!(Config::from_json(off).unwrap().attempt_limits.password.ip.max, 0);
        let on = r#"{"db":"sqlite::memory:","tokenSecret":"0123456789abcdef0123456789abcdef","attemptLimits":{"password":{"ip":{"max":3}}}}"#;
        assert_eq!(Config::from_json(on).unwrap_err().code, ErrorCode::InvalidConfig);
        let unknown = r#"{"db":"sqlite::memory:","tokenSecret":"0123456789abcdef0123456789abcdef","attemptLimits":{"password":{"acount":{"max":1,"window":9}}}}"#;
        assert_eq!(Config::from_json(unknown).unwrap_err().code, ErrorCode::InvalidConfig, "a misspelt limit is refused");
    }

    /// accounts-js hands both `tokenConfigs` entries to jsonwebtoken's `sign`: its configs name the
    /// algorithm, issuer and audience for the refresh token too.
    #[test]
    fn refresh_token_configs_as_accounts_js_writes_them() {
        let with = |configs: &str| {
            Config::from_json(&format!(r#"{{"db":"sqlite::memory:","tokenSecret":"0123456789abcdef0123456789abcdef","tokenConfigs":{configs}}}"#))
        };
        let c = with(
            r#"{"accessToken":{"algorithm":"HS512","expiresIn":"15m","issuer":"app","audience":"api"},
                "refreshToken":{"algorithm":"HS512","expiresIn":"30d","issuer":"app","audience":"api"}}"#,
        )
        .unwrap();
        assert_eq!(c.token_configs.refresh_token.expires_in, Duration::from_secs(30 * 86_400));
        assert_eq!(c.token_configs.refresh_token.algorithm.as_deref(), Some("HS512"));
        assert!(with(r#"{"refreshToken":{"algorithm":"HS256"}}"#).is_ok(), "the default algorithm named");
        for contradiction in [
            r#"{"accessToken":{"algorithm":"HS512"},"refreshToken":{"algorithm":"HS256"}}"#,
            r#"{"refreshToken":{"algorithm":"RS256"}}"#,
            r#"{"accessToken":{"issuer":"app"},"refreshToken":{"issuer":"other"}}"#,
            r#"{"refreshToken":{"audience":"api"}}"#,
            r#"{"refreshToken":{"subject":"x"}}"#,
        ] {
            assert_eq!(with(contradiction).unwrap_err().code, ErrorCode::InvalidConfig, "{contradiction}");
        }
    }

    #[test]
    fn defaults_and_validation() {
        let c = Config::from_json(r#"{"db":"sqlite::memory:","tokenSecret":"0123456789abcdef0123456789abcdef"}"#).unwrap();
        assert!(c.ambiguous_error_messages);
        assert_eq!(c.site_url, "http://localhost:3000");
        assert_eq!(c.token_configs.access_token.expires_in, Duration::from_secs(5400));
        assert_eq!(c.token_configs.refresh_token.expires_in, Duration::from_secs(604_800));
        assert_eq!(c.services.password.min_password_length, 8);
        let with = |extra: &str| Config::from_json(&format!(r#"{{"db":"sqlite::memory:","tokenSecret":"0123456789abcdef0123456789abcdef"{extra}}}"#));
        assert_eq!(with(r#","tokenConfigs":{"accessToken":{"expiresIn":3600}}"#).unwrap().token_configs.access_token.expires_in.as_secs(), 3600);
        // accounts-js units: link-token lifetimes given as numbers are milliseconds.
        let c = with(r#","services":{"password":{"passwordResetTokenExpiration":3600000,"verifyEmailTokenExpiration":"2h"},"magicLink":{"loginTokenExpiration":600000}}"#).unwrap();
        assert_eq!(c.services.password.password_reset_token_expiration, Duration::from_secs(3600));
        assert_eq!(c.services.password.verify_email_token_expiration, Duration::from_secs(7200));
        assert_eq!(c.services.magic_link.login_token_expiration, Duration::from_secs(600));
        assert_eq!(serde_json::to_value(&c).unwrap()["services"]["magicLink"]["loginTokenExpiration"], 600_000, "shown in the unit given");
        assert_eq!(with(r#","enableAutologin":true"#).unwrap_err().code, ErrorCode::InvalidConfig, "autologin reveals accounts");
        assert!(with(r#","services":{"password":{"errors":{"invalidCredentials":"Nope"}}}"#).is_ok());
        let e = with(r#","services":{"password":{"twoFactor":{"errors":{"invalidCredentials":"Nope"}}}}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert!(e.message.contains("services.password.twoFactor.errors"), "{}", e.message);
        assert!(with(r#","enableAutologin":true,"ambiguousErrorMessages":false"#).is_ok());
        assert_eq!(
            with(r#","enableAutologin":true,"ambiguousErrorMessages":false,"services":{"password":{"requireEmailVerification":true}}"#)
                .unwrap_err()
                .code,
            ErrorCode::InvalidConfig
        );
        for bad in [
            r#","tokenConfigs":{"accessToken":{"algorithm":"none"}}"#,
            r#","tokenConfigs":{"accessToken":{"expiresIn":"soon"}}"#,
            r#","tokenSecrett":"typo""#,
            r#","ambiguousErrorMessages":"yes""#,
        ] {
            assert_eq!(with(bad).unwrap_err().code, ErrorCode::InvalidConfig, "{bad}");
        }
        assert_eq!(Config::from_json(r#"{"db":"sqlite::memory:","tokenSecret":"short"}"#).unwrap_err().code, ErrorCode::InvalidConfig);
        assert_eq!(Config::from_json(r#"{"tokenSecret":"0123456789abcdef0123456789abcdef"}"#).unwrap_err().code, ErrorCode::InvalidConfig);
        assert_eq!(Config::from_json("not json").unwrap_err().code, ErrorCode::InvalidConfig);
        let shown = serde_json::to_string(&c).unwrap();
        assert!(!shown.contains("0123456789abcdef"), "secret never serialised");
    }

    #[test]
    fn database_credentials_are_redacted() {
        assert_eq!(redact_db_url("postgres://app:s3cret@db:5432/x?sslmode=require"), "postgres://app:[redacted]@db:5432/x?sslmode=require");
        assert_eq!(
            redact_db_url("postgresql://app@db/x?password=s3cret&sslmode=disable"),
            "postgresql://app@db/x?password=[redacted]&sslmode=disable"
        );
        assert_eq!(redact_db_url("sqlite:app.db"), "sqlite:app.db");
        let c = Config::from_json(r#"{"db":"postgres://app:s3cret@db/x","tokenSecret":"0123456789abcdef0123456789abcdef"}"#).unwrap();
        let shown = serde_json::to_string(&c).unwrap();
        assert!(!shown.contains("s3cret") && shown.contains("[redacted]"), "{shown}");
        assert_eq!(c.db, "postgres://app:s3cret@db/x", "the real URL is still used to connect");
    }
}
