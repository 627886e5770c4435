//! JWT access and refresh tokens (docs/tokens.md).
//!
//! Access: `{...createJwtPayload, data: {userId, isImpersonated, sessionId, impersonatorUserId?}, sub, iat, exp, typ: "access"}`.
//! Refresh: `{sub, sid, ctr, typ: "refresh", iat, exp}`, bound to one session and rotation counter.
//! Signing uses the ring's current key and puts its `kid` in the header; verification picks the key
//! by `kid` (a token without one: the keys of its header's algorithm), each key pinned to its own
//! algorithm, then checks `typ`, `exp` (against the server clock) and `iss`/`aud` when configured, so
//! a refresh token is never accepted as an access token. The ring can be swapped at run time
//! (`set_keys`): docs/tokens.md, "Key rotation".

use crate::config::{Config, TokenKey, TokenKeys, TokenSecret};
use crate::error::{AccountsError, ErrorCode, Result};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The `data` claim of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessData {
    /// The user id.
    pub user_id: String,
    /// Whether the session is an impersonation.
    pub is_impersonated: bool,
    /// The session id.
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Who impersonates, for an impersonation session.
    pub impersonator_user_id: Option<String>,
}

/// The claims of a refresh token. Field order is fixed so re-signing is deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    /// The user id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// The rotation counter.
    pub ctr: i64,
    /// `refresh`.
    pub typ: String,
    /// Issued at (s).
    pub iat: i64,
    /// Expires at (s).
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The issuer, when configured.
    pub iss: Option<String>,
    /// Carried like `iss`, so a refresh token verifies under the same `iss`/`aud` checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

const ACCESS: &str = "access";
const REFRESH: &str = "refresh";

/// One key of the ring, pinned to its algorithm.
struct RingKey {
    /// The header `kid` (none for a plain `tokenSecret` string, as before key rings).
    kid: Option<String>,
    algorithm: Algorithm,
    /// `None` for a verify-only key.
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    validation: Validation,
    /// The public JWK of an asymmetric key (published by `jwks`).
    public_jwk: Option<Jwk>,
}

/// The keys in use: `keys[current]` signs.
struct Ring {
    keys: Vec<RingKey>,
    current: usize,
}

/// Signs and verifies the tokens of one server with its key ring.
pub(crate) struct TokenManager {
    ring: RwLock<Arc<Ring>>,
    /// Bumped by every `set_keys` (what a cached verification was made under: session_cache.rs).
    ring_epoch: AtomicU64,
    access_ttl_s: i64,
    refresh_ttl_s: i64,
    issuer: Option<String>,
    audience: Option<String>,
}

/// accounts-js's message; why it failed goes to `details.reason` (for logs, not for matching).
pub(crate) fn verification_failed(why: impl std::fmt::Display) -> AccountsError {
    AccountsError::code(ErrorCode::TokenVerificationFailed).with_details(serde_json::json!({ "reason": why.to_string() }))
}

/// The signing and verifying keys: the raw bytes of a shared secret (so other services can verify
/// with it), or the PEM key pair for the algorithm's family.
fn keys(secret: &TokenSecret, algorithm: Algorithm) -> Result<(EncodingKey, DecodingKey)> {
    let bad = |what: &str, e: jsonwebtoken::errors::Error| {
        AccountsError::new(ErrorCode::InvalidConfig, format!("tokenSecret.{what} is not a PEM key for {algorithm:?}: {e}"))
    };
    match secret {
        TokenSecret::Shared(s) => Ok((EncodingKey::from_secret(s.as_bytes()), DecodingKey::from_secret(s.as_bytes()))),
        TokenSecret::KeyPair { public_key, private_key } => {
            let private = private_key.as_bytes();
            use Algorithm::*;
            let encoding = match algorithm {
                RS256 | RS384 | RS512 => EncodingKey::from_rsa_pem(private),
                ES256 | ES384 => EncodingKey::from_ec_pem(private),
                EdDSA => EncodingKey::from_ed_pem(private),
                _ => return Err(AccountsError::new(ErrorCode::InvalidConfig, "a key pair needs an asymmetric algorithm")),
            }
            .map_err(|e| bad("privateKey", e))?;
            // The public half is read as verifyAccessToken reads a publicKey option.
            let decoding = public_decoding_key(public_key, algorithm)
                .map_err(|e| AccountsError::new(ErrorCode::InvalidConfig, format!("tokenSecret.publicKey: {}", e.message)))?;
            Ok((encoding, decoding))
        }
    }
}

/// The public half of a key pair as a JWK: `use: sig`, its algorithm, `kid` = RFC 7638 thumbprint.
fn public_jwk(encoding: &EncodingKey, algorithm: Algorithm) -> Result<Jwk> {
    let internal = |e: jsonwebtoken::errors::Error| AccountsError::new(ErrorCode::InvalidConfig, format!("tokenSecret: {e}"));
    let mut jwk = Jwk::from_encoding_key(encoding, algorithm).map_err(internal)?;
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_id = Some(jwk.thumbprint(ThumbprintHash::SHA256).map_err(internal)?);
    Ok(jwk)
}

/// Only signature and algorithm: exp/iss/aud are checked by `check_claims` against the server clock.
fn pinned_validation(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation
}

fn parse_algorithm(name: &str) -> Result<Algorithm> {
    name.parse().map_err(|_| AccountsError::new(ErrorCode::InvalidConfig, format!("unsupported algorithm {name}")))
}

impl RingKey {
    /// The single key of `tokenSecret`: no `kid` for a shared secret (tokens stay as they were),
    /// the RFC 7638 thumbprint for a key pair.
    fn from_secret(secret: &TokenSecret, algorithm: Algorithm) -> Result<RingKey> {
        let (encoding, decoding) = keys(secret, algorithm)?;
        let public_jwk = match secret {
            TokenSecret::Shared(_) => None,
            TokenSecret::KeyPair { .. } => Some(public_jwk(&encoding, algorithm)?),
        };
        let kid = public_jwk.as_ref().and_then(|j| j.common.key_id.clone());
        let key = RingKey { kid, algorithm, encoding: Some(encoding), decoding, validation: pinned_validation(algorithm), public_jwk };
        key.check_halves_match("tokenSecret")?;
        Ok(key)
    }

    /// A key that signs must verify its own signature: a PEM or JWK pair whose public half belongs
    /// to another private key would refuse the server's own tokens and accept those of the other
    /// key's holder, and publish the wrong key (docs/security.md, "Keys").
    fn check_halves_match(&self, name: &str) -> Result<()> {
        let Some(encoding) = &self.encoding else { return Ok(()) };
        let mismatch = || AccountsError::new(ErrorCode::InvalidConfig, format!("{name}: the public key does not match the private key"));
        let probe = serde_json::json!({ "probe": "accounts-rs key check" });
        let signed = jsonwebtoken::encode(&Header::new(self.algorithm), &probe, encoding).map_err(|_| mismatch())?;
        jsonwebtoken::decode::<Value>(&signed, &self.decoding, &self.validation).map_err(|_| mismatch())?;
        Ok(())
    }

    /// A key of `tokenKeys` (shape already checked by [`TokenKeys::validate`]).
    fn from_config(key: &TokenKey) -> Result<RingKey> {
        let algorithm = parse_algorithm(&key.algorithm)?;
        let bad = |e: String| AccountsError::new(ErrorCode::InvalidConfig, format!("tokenKeys {}: {e}", key.kid));
        let (encoding, decoding) = match (&key.secret, &key.private_key, &key.public_key, &key.jwk) {
            (Some(secret), ..) => {
                let (e, d) = keys(&TokenSecret::Shared(secret.clone()), algorithm)?;
                (Some(e), d)
            }
            (None, Some(private_key), Some(public_key), _) => {
                let pair = TokenSecret::KeyPair { public_key: public_key.clone(), private_key: private_key.clone() };
                let (e, d) = keys(&pair, algorithm)?;
                (Some(e), d)
            }
            (None, None, Some(public_key), _) => (None, public_decoding_key(public_key, algorithm).map_err(|e| bad(e.message))?),
            (None, None, None, Some(value)) => {
                // A symmetric key is a shared secret: it is given as `secret`, never as a JWK that
                // the JWKS would publish (docs/security.md, "Keys").
                if !matches!(value.get("kty").and_then(Value::as_str), Some("RSA" | "EC" | "OKP")) {
                    return Err(bad("a jwk must be an RSA, EC or OKP (asymmetric) key; give an HMAC key as secret".into()));
                }
                let encoding = if value.get("d").is_some() { Some(private_jwk_encoding(value, algorithm)?) } else { None };
                let jwk: Jwk = serde_json::from_value(value.clone()).map_err(|e| bad(format!("jwk: {e}")))?;
                (encoding, DecodingKey::from_jwk(&jwk).map_err(|e| bad(format!("jwk: {e}")))?)
            }
            _ => return Err(bad("no key material".into())),
        };
        let public_jwk = match (&encoding, &key.jwk, key.secret.is_some()) {
            (_, _, true) => None, // an HMAC secret is never published
            (Some(e), _, false) => Some(public_jwk(e, algorithm)?),
            (None, Some(jwk), false) => Some(serde_json::from_value(jwk.clone()).map_err(|e| bad(format!("jwk: {e}")))?),
            (None, None, false) => None, // a PEM public key alone: verifies, JWK not derivable without the private half
        };
        let public_jwk = public_jwk.map(|mut jwk: Jwk| {
            jwk.common.key_id = Some(key.kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            jwk
        });
        let ring_key = RingKey { kid: Some(key.kid.clone()), algorithm, encoding, decoding, validation: pinned_validation(algorithm), public_jwk };
        ring_key.check_halves_match(&format!("tokenKeys {}", key.kid))?;
        Ok(ring_key)
    }
}

/// The signing key of a private JWK (`d` present): converted to the DER form jsonwebtoken reads by
/// the key crates (RustCrypto's `ed25519-dalek`, `p256`, `p384`, `rsa`), never by hand.
fn private_jwk_encoding(jwk: &Value, algorithm: Algorithm) -> Result<EncodingKey> {
    use base64::Engine;
    let bad = |m: String| AccountsError::new(ErrorCode::InvalidConfig, format!("jwk: {m}"));
    let field = |name: &str| -> Result<Vec<u8>> {
        let text = jwk.get(name).and_then(Value::as_str).ok_or_else(|| bad(format!("no {name}")))?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).map_err(|e| bad(format!("{name}: {e}")))
    };
    use Algorithm::*;
    match algorithm {
        EdDSA => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            let seed: [u8; 32] = field("d")?.try_into().map_err(|_| bad("d must be 32 bytes".into()))?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            if key.verifying_key().as_bytes().as_slice() != field("x")?.as_slice() {
                return Err(bad("x is not the public key of d".into()));
            }
            // PKCS#8 v1 (the seed alone), the form jsonwebtoken reads Ed25519 keys in.
            let der = ed25519_dalek::pkcs8::KeypairBytes { secret_key: seed, public_key: None }.to_pkcs8_der().map_err(|e| bad(e.to_string()))?;
            Ok(EncodingKey::from_ed_der(der.as_bytes()))
        }
        ES256 => {
            use p256::pkcs8::EncodePrivateKey;
            let key = p256::SecretKey::from_jwk_str(&jwk.to_string()).map_err(|e| bad(e.to_string()))?;
            Ok(EncodingKey::from_ec_der(key.to_pkcs8_der().map_err(|e| bad(e.to_string()))?.as_bytes()))
        }
        ES384 => {
            use p384::pkcs8::EncodePrivateKey;
            let key = p384::SecretKey::from_jwk_str(&jwk.to_string()).map_err(|e| bad(e.to_string()))?;
            Ok(EncodingKey::from_ec_der(key.to_pkcs8_der().map_err(|e| bad(e.to_string()))?.as_bytes()))
        }
        RS256 | RS384 | RS512 => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let int = |name: &str| field(name).map(|b| rsa::BigUint::from_bytes_be(&b));
            let key =
                rsa::RsaPrivateKey::from_components(int("n")?, int("e")?, int("d")?, vec![int("p")?, int("q")?]).map_err(|e| bad(e.to_string()))?;
            key.validate().map_err(|e| bad(e.to_string()))?;
            Ok(EncodingKey::from_rsa_der(key.to_pkcs1_der().map_err(|e| bad(e.to_string()))?.as_bytes()))
        }
        _ => Err(bad("an HMAC key is a secret, not a jwk".into())),
    }
}

/// A PEM public key for `algorithm`.
fn public_decoding_key(pem: &str, algorithm: Algorithm) -> Result<DecodingKey> {
    let invalid = |m: String| AccountsError::new(ErrorCode::InvalidArgument, m);
    let pem = pem.as_bytes();
    use Algorithm::*;
    match algorithm {
        RS256 | RS384 | RS512 => DecodingKey::from_rsa_pem(pem),
        ES256 | ES384 => DecodingKey::from_ec_pem(pem),
        EdDSA => DecodingKey::from_ed_pem(pem),
        _ => return Err(invalid("publicKey needs RS256/384/512, ES256/384 or EdDSA".into())),
    }
    .map_err(|e| invalid(format!("publicKey: {e}")))
}

impl Ring {
    fn from_config(cfg: &Config) -> Result<Ring> {
        match (&cfg.token_secret, &cfg.token_keys) {
            (_, Some(ring)) => Ring::from_keys(ring),
            (Some(secret), None) => {
                let algorithm = parse_algorithm(&cfg.token_configs.access_token.algorithm)?;
                Ok(Ring { keys: vec![RingKey::from_secret(secret, algorithm)?], current: 0 })
            }
            (None, None) => Err(AccountsError::new(ErrorCode::InvalidConfig, "tokenSecret (or a tokenKeys ring) is required")),
        }
    }

    fn from_keys(ring: &TokenKeys) -> Result<Ring> {
        ring.validate()?;
        let keys = ring.keys.iter().map(RingKey::from_config).collect::<Result<Vec<_>>>()?;
        let current = ring.keys.iter().position(|k| k.kid == ring.current).unwrap_or_default();
        Ok(Ring { keys, current })
    }

    fn signing(&self) -> Result<(&RingKey, &EncodingKey)> {
        let key = &self.keys[self.current];
        let encoding = key.encoding.as_ref().ok_or_else(|| AccountsError::new(ErrorCode::InternalError, "the current key cannot sign"))?;
        Ok((key, encoding))
    }
}

/// How `verify_access_token` finds its key: a JWKS (by the token's `kid`), a PEM public key, or a
/// shared secret — each with the algorithm it is pinned to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyOptions {
    /// A JWKS document (`{keys: [...]}`), as `getJwks` returns it.
    #[serde(default)]
    pub jwks: Option<Value>,
    /// A PEM public key (needs `algorithm`).
    #[serde(default)]
    pub public_key: Option<String>,
    /// A shared HMAC secret (needs `algorithm`).
    #[serde(default)]
    pub secret: Option<String>,
    /// The algorithm of `publicKey` or `secret` (a JWK names its own).
    #[serde(default)]
    pub algorithm: Option<String>,
    #[serde(default)]
    /// The `iss` to require.
    pub issuer: Option<String>,
    #[serde(default)]
    /// The `aud` to require.
    pub audience: Option<String>,
}

/// Verifies an access token without a database (for other services): the signature under the key
/// the options name (the algorithm is the key's, never the token's), `typ`, `exp` against the system
/// clock, and `iss`/`aud` when given; returns the token's claims. A session revoked since is not
/// seen here: that takes `resumeSession`.
///
/// # Errors
/// `InvalidToken` (empty), `InvalidArgument` (no usable key in the options),
/// `TokenVerificationFailed`.
pub fn verify_access_token(token: &str, options: &VerifyOptions) -> Result<Map<String, Value>> {
    if token.is_empty() {
        return Err(AccountsError::new(ErrorCode::InvalidToken, "An accessToken is required"));
    }
    let invalid = |m: &str| AccountsError::new(ErrorCode::InvalidArgument, m.to_string());
    let named = |name: &Option<String>| -> Result<Algorithm> {
        name.as_deref().ok_or_else(|| invalid("algorithm is required with publicKey or secret"))?.parse().map_err(|_| invalid("unknown algorithm"))
    };
    let (key, algorithm) = match (&options.jwks, &options.public_key, &options.secret) {
        (Some(jwks), None, None) => {
            let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| invalid(&format!("jwks: {e}")))?;
            let header = jsonwebtoken::decode_header(token).map_err(verification_failed)?;
            let jwk = match (&header.kid, set.keys.as_slice()) {
                (Some(kid), _) => set.find(kid),
                (None, [only]) => Some(only),
                (None, _) => None,
            }
            .ok_or_else(|| verification_failed("no key in the JWKS for this token"))?;
            let algorithm =
                jwk.common.key_algorithm.and_then(|a| a.to_string().parse::<Algorithm>().ok()).ok_or_else(|| invalid("every JWK needs its alg"))?;
            // A JWKS is public: a symmetric key in it is a secret anyone can sign with.
            if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_))
                || matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
            {
                return Err(invalid("a JWKS carries public keys only; a symmetric (oct/HS*) key is refused"));
            }
            (DecodingKey::from_jwk(jwk).map_err(|e| invalid(&format!("jwk: {e}")))?, algorithm)
        }
        (None, Some(pem), None) => {
            let algorithm = named(&options.algorithm)?;
            (public_decoding_key(pem, algorithm)?, algorithm)
        }
        (None, None, Some(secret)) => {
            let algorithm = named(&options.algorithm)?;
            if !matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                return Err(invalid("secret needs HS256, HS384 or HS512"));
            }
            (DecodingKey::from_secret(secret.as_bytes()), algorithm)
        }
        _ => return Err(invalid("give exactly one of jwks, publicKey, secret")),
    };
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &pinned_validation(algorithm)).map_err(verification_failed)?.claims;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    check_claims(&claims, ACCESS, now_ms, true, options.issuer.as_deref(), options.audience.as_deref())?;
    Ok(claims)
}

/// `typ`, `exp` and, when given, `iss` and `aud` of a verified token's claims.
fn check_claims(claims: &Map<String, Value>, typ: &str, now_ms: i64, check_exp: bool, issuer: Option<&str>, audience: Option<&str>) -> Result<()> {
    let common = Common { typ: claims.get("typ"), exp: claims.get("exp"), iss: claims.get("iss"), aud: claims.get("aud") };
    common.check(typ, now_ms, check_exp, issuer, audience)
}

/// The registered claims every token of ours is checked on, as they came.
struct Common<'a> {
    typ: Option<&'a Value>,
    exp: Option<&'a Value>,
    iss: Option<&'a Value>,
    aud: Option<&'a Value>,
}

/// A token's claims as the server reads them, before they are checked: the registered ones, the
/// access token's `data` and the refresh token's own; any other claim (`createJwtPayload`'s) is
/// skipped unparsed. One struct for both kinds: `typ` tells them apart when checked.
#[derive(Deserialize)]
struct IncomingClaims {
    #[serde(default)]
    typ: Option<Value>,
    #[serde(default)]
    exp: Option<Value>,
    #[serde(default)]
    iss: Option<Value>,
    #[serde(default)]
    aud: Option<Value>,
    /// Malformed, it fails the decoding (`TokenVerificationFailed` as any bad claim).
    #[serde(default)]
    data: Option<AccessData>,
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    sid: Option<Value>,
    #[serde(default)]
    ctr: Option<Value>,
    #[serde(default)]
    iat: Option<Value>,
}

impl IncomingClaims {
    fn common(&self) -> Common<'_> {
        Common { typ: self.typ.as_ref(), exp: self.exp.as_ref(), iss: self.iss.as_ref(), aud: self.aud.as_ref() }
    }
}

/// An access token's claims without host claims, in the order a `Map` of them serializes
/// (alphabetical), so both ways sign the same JSON.
#[derive(Serialize)]
struct AccessClaimsOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    data: AccessDataOut<'a>,
    exp: i64,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    sub: &'a str,
    typ: &'a str,
}

/// [`AccessData`] with its keys in a map's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessDataOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    impersonator_user_id: Option<&'a str>,
    is_impersonated: bool,
    session_id: &'a str,
    user_id: &'a str,
}

impl Common<'_> {
    fn check(&self, typ: &str, now_ms: i64, check_exp: bool, issuer: Option<&str>, audience: Option<&str>) -> Result<()> {
        if self.typ.and_then(Value::as_str) != Some(typ) {
            return Err(verification_failed(format!("not an {typ} token")));
        }
        let exp = self.exp.and_then(Value::as_i64).ok_or_else(|| verification_failed("no exp"))?;
        if check_exp && exp.saturating_mul(1000) <= now_ms {
            return Err(verification_failed("expired"));
        }
        if let Some(iss) = issuer
            && self.iss.and_then(Value::as_str) != Some(iss)
        {
            return Err(verification_failed("wrong issuer"));
        }
        if let Some(aud) = audience {
            let ok = match self.aud {
                Some(Value::String(a)) => a == aud,
                Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(aud)),
                _ => false,
            };
            if !ok {
                return Err(verification_failed("wrong audience"));
            }
        }
        Ok(())
    }
}

impl TokenManager {
    /// The manager of `cfg`'s keys and token options.
    ///
    /// # Errors
    /// `InvalidConfig` for a key that does not parse for its algorithm.
    pub fn new(cfg: &Config) -> Result<TokenManager> {
        let access = &cfg.token_configs.access_token;
        Ok(TokenManager {
            ring: RwLock::new(Arc::new(Ring::from_config(cfg)?)),
            ring_epoch: AtomicU64::new(0),
            access_ttl_s: access.expires_in.as_secs() as i64,
            refresh_ttl_s: cfg.token_configs.refresh_token.expires_in.as_secs() as i64,
            issuer: access.issuer.clone(),
            audience: access.audience.clone(),
        })
    }

    fn ring(&self) -> Arc<Ring> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the key ring (tokens signed from now on use its `current` key; tokens of keys it no
    /// longer holds stop verifying).
    ///
    /// # Errors
    /// `InvalidConfig` for a ring that does not validate or a key that does not parse.
    pub fn set_keys(&self, keys: &TokenKeys) -> Result<()> {
        let ring = Arc::new(Ring::from_keys(keys)?);
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = ring;
        self.ring_epoch.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Changes whenever the key ring is replaced (read it before verifying: a verification made
    /// after a change counts under the new epoch or a later one).
    pub fn ring_epoch(&self) -> u64 {
        self.ring_epoch.load(Ordering::SeqCst)
    }

    /// The JWKS document of the ring's public keys (HMAC keys never appear).
    pub fn jwks(&self) -> Value {
        let ring = self.ring();
        serde_json::json!({ "keys": ring.keys.iter().filter_map(|k| k.public_jwk.as_ref()).collect::<Vec<_>>() })
    }

    fn sign_with<T: Serialize>(key: &RingKey, encoding: &EncodingKey, claims: &T) -> Result<String> {
        let mut header = Header::new(key.algorithm);
        header.kid = key.kid.clone();
        jsonwebtoken::encode(&header, claims, encoding).map_err(|e| AccountsError::new(ErrorCode::InternalError, format!("jwt encode: {e}")))
    }

    fn sign<T: Serialize>(&self, claims: &T) -> Result<String> {
        let ring = self.ring();
        let (key, encoding) = ring.signing()?;
        TokenManager::sign_with(key, encoding, claims)
    }

    /// Signs an access token. `extra` (from createJwtPayload) never overrides the reserved claims.
    pub fn access_token(&self, extra: Map<String, Value>, data: &AccessData, now_ms: i64) -> Result<String> {
        let iat = now_ms / 1000;
        if extra.is_empty() {
            // No host claims: straight from a struct, the same JSON as the map's (keys in order).
            let claims = AccessClaimsOut {
                aud: self.audience.as_deref(),
                data: AccessDataOut {
                    impersonator_user_id: data.impersonator_user_id.as_deref(),
                    is_impersonated: data.is_impersonated,
                    session_id: &data.session_id,
                    user_id: &data.user_id,
                },
                exp: iat + self.access_ttl_s,
                iat,
                iss: self.issuer.as_deref(),
                sub: &data.user_id,
                typ: ACCESS,
            };
            return self.sign(&claims);
        }
        let mut claims = extra;
        claims.insert("data".into(), serde_json::to_value(data)?);
        claims.insert("sub".into(), Value::String(data.user_id.clone()));
        claims.insert("iat".into(), iat.into());
        claims.insert("exp".into(), (iat + self.access_ttl_s).into());
        claims.insert("typ".into(), ACCESS.into());
        for (k, v) in [("iss", &self.issuer), ("aud", &self.audience)] {
            match v {
                Some(v) => claims.insert(k.into(), Value::String(v.clone())),
                None => claims.remove(k),
            };
        }
        self.sign(&claims)
    }

    fn refresh_claims(&self, user_id: &str, session_id: &str, ctr: i64, issued_ms: i64) -> RefreshClaims {
        let iat = issued_ms / 1000;
        RefreshClaims {
            sub: user_id.into(),
            sid: session_id.into(),
            ctr,
            typ: REFRESH.into(),
            iat,
            exp: iat + self.refresh_ttl_s,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        }
    }

    /// The refresh token for `session_id` at rotation `ctr`, issued at `issued_ms`, signed with the
    /// current key. Deterministic: the same inputs and key always give the same token (every offered
    /// algorithm signs deterministically).
    pub fn refresh_token(&self, user_id: &str, session_id: &str, ctr: i64, issued_ms: i64) -> Result<String> {
        self.sign(&self.refresh_claims(user_id, session_id, ctr, issued_ms))
    }

    /// The same refresh token as signed by each key of the ring that can sign, current first: the
    /// grace window re-derives a successor that may predate a key rotation.
    pub fn refresh_token_candidates(&self, user_id: &str, session_id: &str, ctr: i64, issued_ms: i64) -> Result<Vec<String>> {
        let ring = self.ring();
        let claims = self.refresh_claims(user_id, session_id, ctr, issued_ms);
        let current = std::iter::once(&ring.keys[ring.current]);
        let others = ring.keys.iter().enumerate().filter(|(i, _)| *i != ring.current).map(|(_, k)| k);
        current.chain(others).filter_map(|k| k.encoding.as_ref().map(|e| (k, e))).map(|(k, e)| TokenManager::sign_with(k, e, &claims)).collect()
    }

    /// The claims of a token signed by a key of the ring: the key its `kid` names (or, without a
    /// `kid`, a key of its header's algorithm), with that key's algorithm only.
    fn decode<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T> {
        let header = jsonwebtoken::decode_header(token).map_err(verification_failed)?;
        let ring = self.ring();
        let mut candidates = ring.keys.iter().filter(|k| match &header.kid {
            Some(kid) => k.kid.as_deref() == Some(kid.as_str()),
            None => k.algorithm == header.alg,
        });
        let mut last = verification_failed("no key of the ring signed this token");
        for key in &mut candidates {
            match jsonwebtoken::decode::<T>(token, &key.decoding, &key.validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => last = verification_failed(e),
            }
        }
        Err(last)
    }

    /// Verifies an access token and returns its `data` claim and full claims.
    ///
    /// # Errors
    /// `InvalidToken` for an empty token; `TokenVerificationFailed` for a bad signature, algorithm,
    /// type, expiry, issuer or audience.
    pub fn verify_access(&self, token: &str, now_ms: i64, check_exp: bool) -> Result<AccessData> {
        self.verify_access_until(token, now_ms, check_exp).map(|(data, _)| data)
    }

    /// As [`TokenManager::verify_access`], with the token's expiry (ms).
    ///
    /// # Errors
    /// As [`TokenManager::verify_access`].
    pub fn verify_access_until(&self, token: &str, now_ms: i64, check_exp: bool) -> Result<(AccessData, i64)> {
        if token.is_empty() {
            return Err(AccountsError::new(ErrorCode::InvalidToken, "An accessToken is required"));
        }
        // Straight into the claims it checks: no map of every claim (bench/RESULTS.md, run 9).
        let claims: IncomingClaims = self.decode(token)?;
        claims.common().check(ACCESS, now_ms, check_exp, self.issuer.as_deref(), self.audience.as_deref())?;
        let expires_ms = claims.exp.as_ref().and_then(Value::as_i64).unwrap_or(0).saturating_mul(1000);
        let data = claims.data.ok_or_else(|| verification_failed("no data claim"))?;
        Ok((data, expires_ms))
    }

    /// Verifies a refresh token (always checking expiry).
    ///
    /// # Errors
    /// As [`TokenManager::verify_access`].
    pub fn verify_refresh(&self, token: &str, now_ms: i64) -> Result<RefreshClaims> {
        if token.is_empty() {
            return Err(AccountsError::code(ErrorCode::InvalidTokens));
        }
        let raw: IncomingClaims = self.decode(token)?;
        raw.common().check(REFRESH, now_ms, true, self.issuer.as_deref(), self.audience.as_deref())?;
        let malformed = || verification_failed("malformed refresh claims");
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) => Ok(s),
            _ => Err(malformed()),
        };
        let optional_text = |v: Option<Value>| match v {
            None | Some(Value::Null) => Ok(None),
            v => text(v).map(Some),
        };
        let int = |v: Option<&Value>| v.and_then(Value::as_i64).ok_or_else(malformed);
        Ok(RefreshClaims {
            ctr: int(raw.ctr.as_ref())?,
            iat: int(raw.iat.as_ref())?,
            exp: int(raw.exp.as_ref())?,
            sub: text(raw.sub)?,
            sid: text(raw.sid)?,
            typ: text(raw.typ)?,
            iss: optional_text(raw.iss)?,
            aud: optional_text(raw.aud)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::Callbacks;
    use crate::context::testing;
    use base64::Engine;
    use serde_json::json;

    fn payload(token: &str) -> String {
        let part = token.split('.').nth(1).unwrap();
        String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn access_claims_from_the_struct_are_the_maps_json() {
        for extra in [json!({}), json!({"tokenConfigs": {"accessToken": {"issuer": "https://id.example", "audience": "app"}}})] {
            let (ctx, _) = testing::context(extra, Callbacks::default());
            let tokens = ctx.tokens();
            let data =
                AccessData { user_id: "u1".into(), is_impersonated: true, session_id: "s1".into(), impersonator_user_id: Some("admin".into()) };
            let now = 1_800_000_000_123;
            let plain = tokens.access_token(Map::new(), &data, now).unwrap();
            let mut host = Map::new();
            host.insert("x".into(), json!(1));
            let with_host = tokens.access_token(host, &data, now).unwrap();
            // The struct's JSON is byte for byte what the map (the path with host claims) writes.
            let mut expected: Map<String, Value> = serde_json::from_str(&payload(&with_host)).unwrap();
            assert_eq!(expected.remove("x"), Some(json!(1)));
            assert_eq!(payload(&plain), serde_json::to_string(&expected).unwrap());
            assert_eq!(tokens.verify_access(&plain, now, true).unwrap(), data);
        }
    }
}
