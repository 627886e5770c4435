//! Serde types shared by every language: the same camelCase fields in C JSON, Python dicts and JS objects.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One email address of a user. Addresses are stored lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailRecord {
    /// The address, normalized.
    pub address: String,
    #[serde(default)]
    /// Whether it was verified.
    pub verified: bool,
}

/// A user as returned to callers: never a hash, token or secret. Extra profile fields are flattened in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The username, if any.
    pub username: Option<String>,
    #[serde(default)]
    /// The addresses.
    pub emails: Vec<EmailRecord>,
    #[serde(default)]
    /// Whether the user is deactivated.
    pub deactivated: bool,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_at: i64,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub updated_at: i64,
    #[serde(flatten)]
    /// Every other field.
    pub profile: Map<String, Value>,
}

/// Keys of a user object that the library owns; a profile may not set them.
pub const RESERVED_USER_KEYS: &[&str] =
    &["id", "_id", "username", "email", "emails", "password", "services", "deactivated", "createdAt", "updatedAt"];

/// The profile part of `fields`: every key but the reserved ones. The one rule for every way a
/// profile arrives — signup, import, a provider's profile — and for every user read back from the
/// store, so a profile can never stand in for the user's own fields when the user is flattened
/// into one object (docs/security.md, "Profiles").
pub fn profile_fields<'a>(fields: impl IntoIterator<Item = (&'a String, &'a Value)>) -> Map<String, Value> {
    fields.into_iter().filter(|(k, _)| !RESERVED_USER_KEYS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Who is calling: recorded on the session and passed to events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The client IP.
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The client's user agent.
    pub user_agent: Option<String>,
}

impl ConnectionInfo {
    /// Longest `ip` / `userAgent` kept on a session, in bytes.
    pub const MAX_FIELD_BYTES: usize = 512;

    /// The info as recorded: control characters (NUL included) removed and each field cut to
    /// [`ConnectionInfo::MAX_FIELD_BYTES`], since both come from request headers an attacker writes.
    pub fn sanitized(&self) -> ConnectionInfo {
        fn clean(v: &Option<String>) -> Option<String> {
            v.as_ref().map(|s| {
                let mut out = String::new();
                for c in s.chars().filter(|c| !c.is_control()) {
                    if out.len() + c.len_utf8() > ConnectionInfo::MAX_FIELD_BYTES {
                        break;
                    }
                    out.push(c);
                }
                out
            })
        }
        ConnectionInfo { ip: clean(&self.ip), user_agent: clean(&self.user_agent) }
    }
}

/// An access/refresh token pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    /// The signed access token (JWT).
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
}

/// What a login or refresh returns (accounts-js `LoginResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResult {
    /// The new session's id.
    pub session_id: String,
    /// Its tokens.
    pub tokens: Tokens,
    /// The user, sanitized.
    pub user: User,
}

/// What `impersonate` returns (accounts-js `ImpersonationResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpersonationResult {
    /// Whether `impersonationAuthorize` allowed it.
    pub authorized: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The impersonation session's tokens.
    pub tokens: Option<Tokens>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The impersonated user, sanitized.
    pub user: Option<User>,
}

/// Whom to impersonate: exactly one of the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImpersonationTarget {
    #[serde(default)]
    /// By id.
    pub user_id: Option<String>,
    #[serde(default)]
    /// By username.
    pub username: Option<String>,
    #[serde(default)]
    /// By email.
    pub email: Option<String>,
}

/// A provider identity linked to a user (docs/oauth.md): one per provider and user, and one user
/// per `(provider, id)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkedAccount {
    /// The provider's name in `services.oauth.providers`.
    pub provider: String,
    /// The user's id at the provider (OpenID Connect's `sub`).
    pub id: String,
    /// The local user.
    pub user_id: String,
    /// The address the provider gave when the identity was linked, if any.
    pub email: Option<String>,
    /// When it was linked (ms).
    pub created_at: i64,
    /// The provider's tokens, sealed, when the provider is configured to store them; never shown.
    #[serde(skip)]
    pub tokens: Option<String>,
}

/// The provider's own tokens from the last login or link (`providerTokens`, docs/oauth.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderTokens {
    /// For the provider's APIs.
    pub access_token: String,
    /// To get a new access token, when the provider gave one.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// When the access token expires (ms), when the provider said.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// The scopes granted, when the provider said.
    #[serde(default)]
    pub scope: Option<String>,
}

/// A server-side session as callers see it (no secret digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The session id.
    pub id: String,
    /// Whose session it is.
    pub user_id: String,
    /// Whether it is still valid.
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The client IP at creation or last refresh.
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The user agent.
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Who impersonates, for an impersonation session.
    pub impersonator_user_id: Option<String>,
    /// How many times the refresh token has been rotated.
    pub refresh_count: i64,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last update (ms).
    pub updated_at: i64,
}

/// What `purgeExpired` deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeReport {
    /// Expired verification, reset, enrollment and magic-link tokens, and OAuth authorizations
    /// never finished.
    pub tokens: u64,
    /// Failed-attempt counters whose window had ended.
    pub attempts: u64,
}

/// Options of `revokeAllSessions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeAllOptions {
    /// Sessions to keep (typically the caller's own): a list of ids, or one id.
    #[serde(default, deserialize_with = "one_or_many")]
    pub except: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(id)) => vec![id],
        Some(OneOrMany::Many(ids)) => ids,
    })
}
