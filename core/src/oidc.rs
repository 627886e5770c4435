//! The OpenID Connect relying party (docs/oauth.md, "OpenID Connect"): discovery, the provider's
//! JWKS, the token request and the ID-token checks. The flow itself (`state`, PKCE, `nonce`, linking)
//! is the OAuth service's; this module only talks to providers.
//!
//! Every request goes to an `https://` URL (or `http://` on loopback), follows no redirect, gives
//! up after 10 s in any phase (connect, send, receive) and reads at most 1 MiB. Discovery is cached per provider for the life of the
//! server; the JWKS is cached and fetched again when a token names a key it lacks (at most once per
//! `JWKS_REFRESH` per provider, so forged `kid`s cannot make the server hammer the provider).

use crate::config::{OidcProvider, TokenEndpointAuthMethod, provider_url};
use crate::error::{AccountsError, ErrorCode, Result};
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BODY: u64 = 1 << 20;
const JWKS_REFRESH: Duration = Duration::from_secs(10);
/// Clock skew tolerated on `exp`, `iat` and `nbf` (seconds).
pub const LEEWAY_SECS: i64 = 30;

/// The parts of a provider's discovery document the flow uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// Must equal the configured issuer.
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// The provider's signing keys.
    pub jwks_uri: String,
    /// Where claims about the user are read with the access token (OpenID Connect Core §5.3).
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// RFC 9207: the provider puts `iss` in every authorization response, so one without it is refused.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// The claims read from the UserInfo response (when it is used) instead of the ID token's: the
/// address with its verification (always as a pair, never one from each), and the profile.
const USERINFO_CLAIMS: [&str; 7] = ["email", "email_verified", "name", "given_name", "family_name", "picture", "locale"];

/// The ID token's claims with the UserInfo response's email, `email_verified` and profile claims in
/// their place (OpenID Connect Core §5.3.2; the caller has checked that both name the same `sub`).
pub fn merged_claims(id_token: &Map<String, Value>, userinfo: &Map<String, Value>) -> Map<String, Value> {
    let mut claims = id_token.clone();
    for key in USERINFO_CLAIMS {
        claims.remove(key);
        if let Some(value) = userinfo.get(key) {
            claims.insert(key.to_string(), value.clone());
        }
    }
    claims
}

/// What the token endpoint answered: the ID token, and the provider's own tokens.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// The ID token, not yet verified.
    pub id_token: String,
    /// The access token for the provider's APIs, if any.
    pub access_token: Option<String>,
    /// A refresh token, if the provider gave one.
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires, if said.
    pub expires_in: Option<i64>,
    /// The scopes granted, if said.
    pub scope: Option<String>,
}

struct Keys {
    set: JwkSet,
    fetched: Instant,
}

/// Talks to OpenID providers for one server; caches their discovery documents and keys.
pub struct Client {
    agent: ureq::Agent,
    discovered: Mutex<HashMap<String, Arc<Discovery>>>,
    keys: Mutex<HashMap<String, Arc<Keys>>>,
}

impl Default for Client {
    fn default() -> Self {
        // Timeouts per phase, not one global deadline: with a deadline on name resolution ureq
        // resolves on a thread of its own, and the library starts no threads (docs/reliability.md,
        // "Fork"). Resolution keeps the system resolver's own timeouts.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(TIMEOUT))
            .timeout_send_request(Some(TIMEOUT))
            .timeout_send_body(Some(TIMEOUT))
            .timeout_recv_response(Some(TIMEOUT))
            .timeout_recv_body(Some(TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Client { agent, discovered: Mutex::new(HashMap::new()), keys: Mutex::new(HashMap::new()) }
    }
}

fn provider_error(message: impl Into<String>) -> AccountsError {
    AccountsError::new(ErrorCode::ProviderError, message)
}

fn invalid_token(why: &str) -> AccountsError {
    AccountsError::new(ErrorCode::InvalidIdToken, format!("ID token: {why}"))
}

/// The URL to request: parsed (config::provider_url) and serialized again, so the HTTP client
/// reads the same host the check did.
fn checked_url(url: &str) -> Result<String> {
    provider_url(url)
        .map(|u| u.to_string())
        .ok_or_else(|| provider_error(format!("refusing a provider URL that is not https (or http on loopback) or carries userinfo: {url}")))
}

/// The status and JSON body of a response, read within the size limit.
fn json_body(response: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>, what: &str) -> Result<(u16, Value)> {
    let mut response = response.map_err(|e| provider_error(format!("{what}: {e}")))?;
    let status = response.status().as_u16();
    let text = response.body_mut().with_config().limit(MAX_BODY).read_to_string().map_err(|e| provider_error(format!("{what}: {e}")))?;
    let value = serde_json::from_str(&text).map_err(|_| provider_error(format!("{what}: the answer is not JSON (HTTP {status})")))?;
    Ok((status, value))
}

impl Client {
    /// The provider's discovery document, fetched once.
    ///
    /// # Errors
    /// `ProviderError` when it cannot be fetched, is malformed, names another issuer or a
    /// non-https endpoint.
    pub fn discovery(&self, name: &str, provider: &OidcProvider) -> Result<Arc<Discovery>> {
        if let Some(d) = self.discovered.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
            return Ok(d.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", provider.issuer.trim_end_matches('/'));
        let (status, body) = json_body(self.agent.get(&checked_url(&url)?).header("accept", "application/json").call(), "discovery")?;
        if status != 200 {
            return Err(provider_error(format!("discovery: HTTP {status}")));
        }
        let d: Discovery = serde_json::from_value(body).map_err(|e| provider_error(format!("discovery: {e}")))?;
        if d.issuer != provider.issuer {
            return Err(provider_error(format!("discovery names issuer {:?}, not {:?}", d.issuer, provider.issuer)));
        }
        for endpoint in [&d.authorization_endpoint, &d.token_endpoint, &d.jwks_uri].into_iter().chain(&d.userinfo_endpoint) {
            checked_url(endpoint)?;
        }
        let d = Arc::new(d);
        self.discovered.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), d.clone());
        Ok(d)
    }

    /// Exchanges an authorization code for the ID token (RFC 6749 §4.1.3 with PKCE, RFC 7636).
    ///
    /// # Errors
    /// `ProviderError` (unreachable, or an OAuth error such as `invalid_grant` in `details.error`),
    /// `InvalidIdToken` when the answer carries no ID token.
    pub fn exchange_code(&self, d: &Discovery, provider: &OidcProvider, code: &str, verifier: &str, redirect_uri: &str) -> Result<TokenResponse> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_id", provider.client_id.as_str()),
        ];
        let mut request = self.agent.post(&checked_url(&d.token_endpoint)?).header("accept", "application/json");
        match (&provider.client_secret, provider.token_endpoint_auth_method) {
            (Some(secret), TokenEndpointAuthMethod::ClientSecretBasic) => {
                let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let pair = format!("{}:{}", encode(&provider.client_id), encode(secret));
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                request = request.header("authorization", format!("Basic {basic}"));
            }
            (Some(secret), TokenEndpointAuthMethod::ClientSecretPost) => form.push(("client_secret", secret.as_str())),
            (None, _) => {}
        }
        let (status, body) = json_body(request.send_form(form), "token request")?;
        if status != 200 {
            let error = body.get("error").and_then(Value::as_str).unwrap_or("unknown").to_string();
            let mut e = provider_error(format!("token request: HTTP {status} ({error})"));
            e.details = Some(json!({ "error": error }));
            return Err(e);
        }
        let text = |name: &str| body.get(name).and_then(Value::as_str).filter(|t| !t.is_empty()).map(String::from);
        let id_token = text("id_token").ok_or_else(|| invalid_token("the token response has none"))?;
        Ok(TokenResponse {
            id_token,
            access_token: text("access_token"),
            refresh_token: text("refresh_token"),
            expires_in: body.get("expires_in").and_then(Value::as_i64),
            scope: text("scope"),
        })
    }

    /// The UserInfo response for `access_token` (OpenID Connect Core §5.3): a JSON object whose
    /// `sub` must be `subject` (the ID token's), else its claims are not used.
    ///
    /// # Errors
    /// `ProviderError` when the provider has no UserInfo endpoint, answers an error, a signed or
    /// malformed response, or another subject (`details.error`: `"userinfo_subject_mismatch"`).
    pub fn userinfo(&self, d: &Discovery, access_token: &str, subject: &str) -> Result<Map<String, Value>> {
        let Some(endpoint) = &d.userinfo_endpoint else {
            return Err(provider_error("the provider's discovery names no userinfo_endpoint"));
        };
        let request =
            self.agent.get(&checked_url(endpoint)?).header("accept", "application/json").header("authorization", format!("Bearer {access_token}"));
        let (status, body) = json_body(request.call(), "userinfo")?;
        if status != 200 {
            let error = body.get("error").and_then(Value::as_str).unwrap_or("unknown").to_string();
            let mut e = provider_error(format!("userinfo: HTTP {status} ({error})"));
            e.details = Some(json!({ "error": error }));
            return Err(e);
        }
        let Value::Object(claims) = body else { return Err(provider_error("userinfo: the answer is not a JSON object")) };
        if claims.get("sub").and_then(Value::as_str) != Some(subject) {
            let mut e = provider_error("userinfo: the answer is about another subject than the ID token");
            e.details = Some(json!({ "error": "userinfo_subject_mismatch" }));
            return Err(e);
        }
        Ok(claims)
    }

    fn jwks(&self, name: &str, d: &Discovery, refresh: bool) -> Result<Arc<Keys>> {
        if let Some(k) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(name)
            && (!refresh || k.fetched.elapsed() < JWKS_REFRESH)
        {
            return Ok(k.clone());
        }
        let (status, body) = json_body(self.agent.get(&checked_url(&d.jwks_uri)?).header("accept", "application/json").call(), "jwks")?;
        if status != 200 {
            return Err(provider_error(format!("jwks: HTTP {status}")));
        }
        let set: JwkSet = serde_json::from_value(body).map_err(|e| provider_error(format!("jwks: {e}")))?;
        let keys = Arc::new(Keys { set, fetched: Instant::now() });
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), keys.clone());
        Ok(keys)
    }

    /// Fetches the provider's discovery document afresh (checking its issuer and endpoints) and its
    /// keys: what `checkProviders` runs for each provider at startup.
    ///
    /// # Errors
    /// `ProviderError` as [`Client::discovery`], or when the keys cannot be fetched or parsed.
    pub fn check(&self, name: &str, provider: &OidcProvider) -> Result<()> {
        self.discovered.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
        let d = self.discovery(name, provider)?;
        self.jwks(name, &d, true).map(|_| ())
    }

    /// Verifies an ID token's signature with the provider's key under an algorithm the provider
    /// config allows, then `iss`, `aud` (and `azp` with several audiences), `exp` and `iat` against
    /// `now_secs`. The caller checks `nonce`. Returns the claims.
    ///
    /// # Errors
    /// `InvalidIdToken`, or `ProviderError` when the keys cannot be fetched.
    pub fn verify_id_token(&self, name: &str, provider: &OidcProvider, d: &Discovery, token: &str, now_secs: i64) -> Result<Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid_token("malformed"))?;
        let algorithm = header.alg;
        let allowed = provider.algorithms.iter().filter_map(|a| a.parse::<Algorithm>().ok()).any(|a| a == algorithm);
        if !allowed {
            return Err(invalid_token(&format!("algorithm {algorithm:?} is not accepted for this provider")));
        }
        let find = |keys: &Keys| -> Option<DecodingKey> {
            let jwk = match &header.kid {
                Some(kid) => keys.set.find(kid),
                None => match keys.set.keys.as_slice() {
                    [only] => Some(only),
                    _ => None,
                },
            }?;
            // A key bound to another algorithm never verifies this one.
            if jwk.common.key_algorithm.is_some_and(|a| a.to_string().parse::<Algorithm>().ok() != Some(algorithm)) {
                return None;
            }
            DecodingKey::from_jwk(jwk).ok()
        };
        let key = match find(&*self.jwks(name, d, false)?) {
            Some(k) => k,
            None => find(&*self.jwks(name, d, true)?).ok_or_else(|| invalid_token("no key of the provider verifies it"))?,
        };
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|_| invalid_token("bad signature"))?.claims;
        if claims.get("iss").and_then(Value::as_str) != Some(d.issuer.as_str()) {
            return Err(invalid_token("issued by someone else"));
        }
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audiences.contains(&provider.client_id.as_str()) {
            return Err(invalid_token("issued for another client"));
        }
        if audiences.len() > 1 && claims.get("azp").and_then(Value::as_str) != Some(provider.client_id.as_str()) {
            return Err(invalid_token("several audiences and another authorized party"));
        }
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if now_secs < exp + LEEWAY_SECS => {}
            _ => return Err(invalid_token("expired")),
        }
        if claims.get("iat").and_then(Value::as_i64).is_some_and(|iat| iat > now_secs + LEEWAY_SECS) {
            return Err(invalid_token("issued in the future"));
        }
        if claims.get("nbf").and_then(Value::as_i64).is_some_and(|nbf| nbf > now_secs + LEEWAY_SECS) {
            return Err(invalid_token("not valid yet (nbf)"));
        }
        match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => Ok(claims),
            _ => Err(invalid_token("no subject")),
        }
    }
}
