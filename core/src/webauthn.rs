//! Passkeys: WebAuthn registration and sign-in (docs/passkeys.md).
//!
//! The ceremonies are verified by the `webauthn_rp` crate (pure Rust over RustCrypto): this module
//! keeps their server state and the credentials in the store. A ceremony's state lives in
//! `webauthn_challenges`, found by the digest of its challenge, sealed with the sealing key and
//! bound (its associated data) to the ceremony — registration or sign-in — and the user when there
//! is one, so any app server sharing the database finishes a ceremony another one started, once,
//! before it expires. A sign-in is `loginWithService('webauthn', {response})`: the server's login
//! orchestration adds the events, `ValidateLogin` and deactivation as for every service.

use crate::attempts::{self, Guess, Guesser};
use crate::auth::{Authenticated, Completion};
use crate::callbacks::events;
use crate::config::{UserVerification, WebAuthnConfig};
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::identifiers::{normalize_email, username_key};
use crate::secret::{digest, random_hex};
use crate::store::{self, PasskeyRecord, Unlinked, WebAuthnChallenge};
use crate::two_factor::TwoFactor;
use crate::types::ConnectionInfo;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Serialize;
use serde_json::{Value, json};
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::{AuthenticationVerificationOptions, DiscoverableCredentialRequestOptions, SignatureCounterEnforcement};
use webauthn_rp::request::register::{
    CredProtect, Nickname, PublicKeyCredentialCreationOptions, PublicKeyCredentialUserEntity, RegistrationVerificationOptions, UserHandle64, Username,
};
use webauthn_rp::request::{AsciiDomain, ExtensionInfo, PublicKeyCredentialDescriptor, RpId, UserVerificationRequirement};
use webauthn_rp::response::auth::AuthenticatorData;
use webauthn_rp::response::auth::error::AuthCeremonyErr;
use webauthn_rp::response::register::error::RegCeremonyErr;
use webauthn_rp::response::register::{DynamicState, StaticState};
use webauthn_rp::response::{AuthTransports, Backup, CredentialId};
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthentication64, DiscoverableAuthenticationServerState, Registration, RegistrationServerState,
};

/// The service name for `loginWithService`.
pub const SERVICE_NAME: &str = "webauthn";

/// Registration ceremony (`registrationOptions` → `register`).
const REGISTRATION: &str = "registration";
/// Sign-in ceremony (`authenticationOptions` → `loginWithService('webauthn', ...)`).
const AUTHENTICATION: &str = "authentication";
/// The longest passkey name.
const MAX_NAME_CHARS: usize = 100;
/// Passkeys one user may have.
pub const MAX_PASSKEYS_PER_USER: usize = 50;

/// A passkey as callers see it (never its public key or counter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Passkey {
    /// The credential id (base64url), as the browser names it.
    pub id: String,
    /// The user's name for it.
    pub name: String,
    /// When it was registered (ms).
    pub created_at: i64,
    /// When it last signed in (ms), if ever.
    pub last_used_at: Option<i64>,
    /// Whether the authenticator may back it up (synced passkey).
    pub backup_eligible: bool,
    /// Whether it is backed up (at registration or the last sign-in).
    pub backup_state: bool,
    /// How the browser may reach the authenticator (`internal`, `hybrid`, `usb`, ...).
    pub transports: Vec<String>,
    /// The authenticator model's AAGUID (`00000000-0000-0000-0000-000000000000` when not given).
    pub aaguid: String,
}

fn failed(reason: &str) -> AccountsError {
    AccountsError::code(ErrorCode::WebAuthnVerificationFailed).with_details(json!({ "reason": reason }))
}

fn bad_challenge() -> AccountsError {
    AccountsError::code(ErrorCode::InvalidWebAuthnChallenge)
}

fn internal(what: &str) -> AccountsError {
    AccountsError::new(ErrorCode::InternalError, what.to_string())
}

/// The `details.reason` of a refused registration.
fn reg_reason(e: &RegCeremonyErr) -> &'static str {
    match e {
        RegCeremonyErr::Timeout => "timeout",
        RegCeremonyErr::OriginMismatch | RegCeremonyErr::CrossOrigin | RegCeremonyErr::TopOriginMismatch => "origin",
        RegCeremonyErr::ChallengeMismatch => "challenge",
        RegCeremonyErr::RpIdHashMismatch => "rpId",
        RegCeremonyErr::UserNotPresent => "userPresence",
        RegCeremonyErr::UserNotVerified => "userVerification",
        RegCeremonyErr::PubKey(_) | RegCeremonyErr::PublicKeyAlgorithmMismatch => "algorithm",
        RegCeremonyErr::AttestationSignature => "signature",
        RegCeremonyErr::CollectedClientData(_) | RegCeremonyErr::CollectedClientDataRelaxed(_) => "clientData",
        RegCeremonyErr::AttestationObject(_) => "attestationObject",
        _ => "response",
    }
}

/// Algorithms `webauthn_rp` verifies: EdDSA, ES256, ES384, RS256.
const SUPPORTED_ALGORITHMS: [i64; 4] = [-8, -7, -35, -257];

/// Why a registration response does not parse: `webauthn_rp` refuses a key of an algorithm it does
/// not support while parsing, so the response's own `publicKeyAlgorithm` names the reason.
fn unreadable_registration(response: &Value) -> &'static str {
    let response = match response {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    match response["response"]["publicKeyAlgorithm"].as_i64() {
        Some(alg) if !SUPPORTED_ALGORITHMS.contains(&alg) => "algorithm",
        _ => "response",
    }
}

/// The `details.reason` of a refused assertion.
fn auth_reason(e: &AuthCeremonyErr) -> &'static str {
    match e {
        AuthCeremonyErr::Timeout => "timeout",
        AuthCeremonyErr::OriginMismatch | AuthCeremonyErr::CrossOrigin | AuthCeremonyErr::TopOriginMismatch => "origin",
        AuthCeremonyErr::ChallengeMismatch => "challenge",
        AuthCeremonyErr::RpIdHashMismatch => "rpId",
        AuthCeremonyErr::UserNotVerified => "userVerification",
        AuthCeremonyErr::AssertionSignature => "signature",
        AuthCeremonyErr::PubKey(_) => "algorithm",
        AuthCeremonyErr::UserHandleMismatch | AuthCeremonyErr::MissingUserHandle => "userHandle",
        AuthCeremonyErr::CredentialIdMismatch | AuthCeremonyErr::NoMatchingAllowedCredential => "credential",
        AuthCeremonyErr::CollectedClientData(_) | AuthCeremonyErr::CollectedClientDataRelaxed(_) => "clientData",
        AuthCeremonyErr::AuthenticatorData(_) => "authenticatorData",
        _ => "response",
    }
}

/// The associated data a ceremony's sealed state is bound to (`resealAll` rebuilds it from the key).
pub(crate) fn challenge_context(digest: &str) -> Vec<u8> {
    format!("webauthn challenge\0{digest}").into_bytes()
}

/// What is sealed: the ceremony and user the state is bound to, then the state.
fn sealed_payload(ceremony: &str, user_id: Option<&str>, state: &[u8]) -> Vec<u8> {
    let mut out = format!("{ceremony}\0{}\0", user_id.unwrap_or("")).into_bytes();
    out.extend_from_slice(state);
    out
}

/// The store key of a challenge: the digest of its 16 bytes in hex.
fn challenge_digest(challenge: u128) -> String {
    digest(&format!("{challenge:032x}"))
}

fn hex_aaguid(bytes: &[u8]) -> String {
    let h = hex::encode(bytes);
    if h.len() != 32 {
        return h;
    }
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Runs a call into `webauthn_rp` so that a panic inside it (a bug of the crate on some input) is a
/// coded refusal, never a panic through the library.
fn no_panic<T>(reason: &'static str, f: impl FnOnce() -> std::result::Result<T, AccountsError>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| Err(failed(reason)))
}

/// Whether an assertion names its user handle as a non-empty string. A usernameless sign-in always
/// does; `webauthn_rp` 0.3 panics on `"userHandle": null`, so anything else is refused first.
fn has_user_handle(response: &Value) -> bool {
    let parsed;
    let response = match response {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            &parsed
        }
        other => other,
    };
    response.get("response").and_then(|r| r.get("userHandle")).and_then(Value::as_str).is_some_and(|h| !h.is_empty())
}

/// The response JSON as text (a string is taken as JSON text, an object as is).
fn response_bytes(response: &Value) -> Result<Vec<u8>> {
    match response {
        Value::Object(_) => Ok(serde_json::to_vec(response)?),
        Value::String(s) if s.trim_start().starts_with('{') => Ok(s.as_bytes().to_vec()),
        _ => Err(AccountsError::new(ErrorCode::InvalidArgument, "response must be the credential's toJSON() object")),
    }
}

impl PasskeyRecord {
    fn dynamic_state(&self) -> Result<DynamicState> {
        let raw = hex::decode(&self.state).map_err(|_| internal("a stored passkey state is not hex"))?;
        let bytes: [u8; 7] = raw.try_into().map_err(|_| internal("a stored passkey state has the wrong length"))?;
        DynamicState::decode(bytes).map_err(|_| internal("a stored passkey state does not decode"))
    }

    /// What callers see.
    pub(crate) fn shown(&self) -> Result<Passkey> {
        let state = self.dynamic_state()?;
        Ok(Passkey {
            id: self.id.clone(),
            name: self.name.clone(),
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            backup_eligible: !matches!(state.backup, Backup::NotEligible),
            backup_state: matches!(state.backup, Backup::Exists),
            transports: serde_json::from_str(&self.transports).unwrap_or_default(),
            aaguid: self.aaguid.clone(),
        })
    }
}

/// The passkey service of one server; get it with [`AccountsServer::webauthn`](crate::AccountsServer::webauthn).
pub struct WebAuthn<'a> {
    ctx: &'a Context,
}

impl<'a> WebAuthn<'a> {
    pub(crate) fn new(ctx: &'a Context) -> WebAuthn<'a> {
        WebAuthn { ctx }
    }

    /// `services.webauthn`, or `ServiceNotFound` when the server has none.
    fn config(&self) -> Result<&'a WebAuthnConfig> {
        self.ctx
            .config()
            .services
            .webauthn
            .as_ref()
            .ok_or_else(|| AccountsError::new(ErrorCode::ServiceNotFound, "services.webauthn is not configured"))
    }

    fn rp_id(config: &WebAuthnConfig) -> Result<RpId> {
        AsciiDomain::try_from(config.rp_id.clone())
            .map(RpId::Domain)
            .map_err(|_| AccountsError::new(ErrorCode::InvalidConfig, "services.webauthn.rpId is not a domain"))
    }

    fn uv(config: &WebAuthnConfig) -> UserVerificationRequirement {
        match config.user_verification {
            UserVerification::Required => UserVerificationRequirement::Required,
            UserVerification::Preferred => UserVerificationRequirement::Preferred,
            UserVerification::Discouraged => UserVerificationRequirement::Discouraged,
        }
    }

    fn timeout_ms(config: &WebAuthnConfig) -> u32 {
        u32::try_from(config.timeout.as_millis()).unwrap_or(u32::MAX)
    }

    /// Stores a started ceremony's state, sealed and bound to the ceremony and user.
    fn keep(&self, challenge: u128, ceremony: &'static str, user_id: Option<&str>, state: &[u8], client: Option<String>) -> Result<()> {
        let config = self.config()?;
        let now = self.ctx.now();
        let digest = challenge_digest(challenge);
        let sealed = self.ctx.sealer().seal(&sealed_payload(ceremony, user_id, state), &challenge_context(&digest))?;
        self.ctx.store().insert_webauthn_challenge(&WebAuthnChallenge {
            digest,
            ceremony: ceremony.to_string(),
            user_id: user_id.map(str::to_string),
            state: sealed,
            expires_at: now + config.timeout.as_millis() as i64,
            created_at: now,
            client,
        })
    }

    /// Takes (single use) the pending ceremony `challenge` names, if it is of `ceremony`, unexpired,
    /// and (for a registration) of `user_id`; returns its opened state and the user it is bound to.
    fn take(&self, challenge: u128, ceremony: &str, user_id: Option<&str>) -> Result<(Vec<u8>, Option<String>)> {
        let digest = challenge_digest(challenge);
        // Taken only if it is of this ceremony and user: a wrong caller does not use it up.
        let Some(pending) = self.ctx.store().take_webauthn_challenge(&digest, ceremony, user_id)? else { return Err(bad_challenge()) };
        if pending.ceremony != ceremony || pending.expires_at <= self.ctx.now() {
            return Err(bad_challenge());
        }
        if let Some(expected) = user_id
            && pending.user_id.as_deref() != Some(expected)
        {
            return Err(bad_challenge());
        }
        let opened = self.ctx.sealer().open(&pending.state, &challenge_context(&digest)).map_err(|_| bad_challenge())?;
        // The binding is sealed with the state: a row whose columns were changed does not open here.
        let prefix = sealed_payload(&pending.ceremony, pending.user_id.as_deref(), &[]);
        let Some(state) = opened.strip_prefix(prefix.as_slice()) else { return Err(bad_challenge()) };
        Ok((state.to_vec(), pending.user_id))
    }

    /// The user handle of `user_id`'s passkeys (all of a user's passkeys share one), or a new random one.
    fn user_handle(&self, passkeys: &[PasskeyRecord]) -> Result<UserHandle64> {
        match passkeys.first() {
            Some(p) => decode_handle(&p.user_handle),
            None => Ok(UserHandle64::new()),
        }
    }

    /// Starts adding a passkey to `user_id`: the `PublicKeyCredentialCreationOptionsJSON` for
    /// `navigator.credentials.create` (`PublicKeyCredential.parseCreationOptionsFromJSON`). The
    /// credential is discoverable (resident key required), the user's passkeys are excluded, and the
    /// user handle is random (never the user id or an address).
    ///
    /// # Errors
    /// `ServiceNotFound` (no `services.webauthn`), `UserNotFound`, `UserDeactivated`.
    pub fn registration_options(&self, user_id: &str) -> Result<Value> {
        self.ctx.localize((|| {
            let config = self.config()?;
            let user = self.ctx.user_or_not_found(user_id)?;
            if user.deactivated {
                return Err(AccountsError::code(ErrorCode::UserDeactivated));
            }
            let passkeys = self.ctx.store().list_passkeys(&user.id)?;
            let handle = self.user_handle(&passkeys)?;
            let rp_id = Self::rp_id(config)?;
            let label = user.username.clone().or_else(|| user.emails.first().map(|e| e.address.clone())).unwrap_or_else(|| "user".into());
            let name = Username::try_from(label.as_str()).or_else(|_| Username::try_from("user")).map_err(|_| internal("no user name"))?;
            let display = Nickname::try_from(label.as_str()).ok();
            let mut exclude = Vec::with_capacity(passkeys.len());
            for p in &passkeys {
                let id = B64.decode(&p.id).map_err(|_| internal("a stored credential id is not base64url"))?;
                let id = CredentialId::<Vec<u8>>::decode(id).map_err(|_| internal("a stored credential id is invalid"))?;
                let transports: AuthTransports = serde_json::from_str(&p.transports).map_err(|_| internal("stored transports do not parse"))?;
                exclude.push(PublicKeyCredentialDescriptor { id, transports });
            }
            let mut options = PublicKeyCredentialCreationOptions::passkey(
                &rp_id,
                PublicKeyCredentialUserEntity { name, id: &handle, display_name: display },
                exclude,
            );
            options.authenticator_selection.user_verification = Self::uv(config);
            // Ask for credProtect without making the browser enforce it: an authenticator that
            // cannot apply the policy (Chromium's virtual one, many security keys) would fail the
            // whole registration, and sign-in checks user verification itself (docs/passkeys.md).
            options.extensions.cred_protect = if config.user_verification == UserVerification::Required {
                CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue)
            } else {
                CredProtect::None
            };
            options.timeout = std::num::NonZeroU32::new(Self::timeout_ms(config)).unwrap_or(options.timeout);
            let (server, client) = options.start_ceremony().map_err(|_| internal("webauthn creation options are inconsistent"))?;
            let challenge = client.options().challenge.as_data();
            let state = server.encode().map_err(|_| internal("a registration state does not encode"))?;
            let mut json = serde_json::to_value(&client)?;
            // The name the browser shows (webauthn_rp fills in the rpId).
            json["rp"]["name"] = Value::String(config.rp_name.clone());
            // Pending registrations are capped per user, as flows are per client.
            self.keep(challenge, REGISTRATION, Some(&user.id), &state, Some(digest(&format!("user\0{}", user.id))))?;
            Ok(json)
        })())
    }

    /// Verifies the browser's answer to [`WebAuthn::registration_options`] (its `toJSON()`) and
    /// stores the passkey. `options`: `{name?}` (default: "Passkey").
    ///
    /// # Errors
    /// `ServiceNotFound`, `InvalidArgument` (also a 51st passkey), `UserNotFound`, `UserDeactivated`,
    /// `InvalidWebAuthnChallenge`, `WebAuthnVerificationFailed`, `PasskeyAlreadyRegistered`.
    pub fn register(&self, user_id: &str, response: &Value, options: &Value) -> Result<Passkey> {
        self.ctx.localize((|| {
            let config = self.config()?;
            let name = match options.get("name") {
                None | Some(Value::Null) => "Passkey".to_string(),
                Some(Value::String(s)) => valid_name(s)?,
                Some(_) => return Err(AccountsError::new(ErrorCode::InvalidArgument, "name must be a string")),
            };
            if !matches!(options, Value::Null | Value::Object(_)) {
                return Err(AccountsError::new(ErrorCode::InvalidArgument, "options must be an object"));
            }
            let user = self.ctx.user_or_not_found(user_id)?;
            // Deactivated since the options were given: refused as registrationOptions refuses.
            if user.deactivated {
                return Err(AccountsError::code(ErrorCode::UserDeactivated));
            }
            let bytes = response_bytes(response)?;
            let registration =
                no_panic("response", || Registration::from_json_relaxed(&bytes).map_err(|_| failed(unreadable_registration(response))))?;
            let challenge = registration.challenge_relaxed().map_err(|_| failed("clientData"))?;
            let (state, _) = self.take(challenge.0, REGISTRATION, Some(&user.id))?;
            let server = RegistrationServerState::<64>::decode(state.as_slice()).map_err(|_| internal("a registration state does not decode"))?;
            let rp_id = Self::rp_id(config)?;
            let verify_options = RegistrationVerificationOptions::<'_, '_, String, String> {
                allowed_origins: &config.origins,
                error_on_unsolicited_extensions: false,
                ..RegistrationVerificationOptions::default()
            };
            let credential = no_panic("response", || server.verify(&rp_id, &registration, &verify_options).map_err(|e| failed(reg_reason(&e))))?;
            let (id, transports, handle, static_state, dynamic_state, metadata) = credential.into_parts();
            let now = self.ctx.now();
            let record = PasskeyRecord {
                id: B64.encode(id.as_ref()),
                user_id: user.id.clone(),
                user_handle: B64.encode(handle.encode().map_err(|_| internal("a user handle does not encode"))?),
                name,
                public_key: B64.encode(static_state.encode().map_err(|_| internal("a public key does not encode"))?),
                state: hex::encode(dynamic_state.encode().map_err(|_| internal("a passkey state does not encode"))?),
                transports: serde_json::to_string(&transports)?,
                aaguid: hex_aaguid(metadata.aaguid.data()),
                created_at: now,
                last_used_at: None,
            };
            // The cap is checked by the insert itself, in its transaction (no race between a count
            // and the insert).
            store::transaction(self.ctx.store(), |w| w.create_passkey(&record, MAX_PASSKEYS_PER_USER))?;
            let passkey = record.shown()?;
            self.ctx.events().emit(events::PASSKEY_REGISTERED, || json!({ "userId": user.id, "passkey": passkey }))?;
            Ok(passkey)
        })())
    }

    /// Starts a passkey sign-in: the `PublicKeyCredentialRequestOptionsJSON` for
    /// `navigator.credentials.get` (`parseRequestOptionsFromJSON`). `options`: `{}` (usernameless
    /// sign-in, conditional mediation) or one of `{userId}`, `{username}`, `{email}`: the ceremony is
    /// then bound to that user and lists their passkeys in `allowCredentials` — except in ambiguous
    /// mode, where the options look the same for an unknown user as for a known one (no list).
    /// `infos.ip` bounds how many sign-ins a client may have pending.
    ///
    /// # Errors
    /// `ServiceNotFound`, `InvalidArgument`, `UserNotFound` (not in ambiguous mode).
    pub fn authentication_options(&self, options: &Value, infos: &ConnectionInfo) -> Result<Value> {
        self.ctx.localize((|| {
            let config = self.config()?;
            let field = |name: &str| match options.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.as_str())),
                Some(_) => Err(AccountsError::new(ErrorCode::InvalidArgument, format!("{name} must be a non-empty string"))),
            };
            match options {
                Value::Null => {}
                Value::Object(given) => {
                    if let Some(unknown) = given.keys().find(|k| !["userId", "username", "email"].contains(&k.as_str())) {
                        return Err(AccountsError::new(ErrorCode::InvalidArgument, format!("unknown authenticationOptions option {unknown:?}")));
                    }
                }
                _ => return Err(AccountsError::new(ErrorCode::InvalidArgument, "options must be an object")),
            }
            let (by_id, by_name, by_email) = (field("userId")?, field("username")?, field("email")?);
            if [by_id, by_name, by_email].iter().filter(|f| f.is_some()).count() > 1 {
                return Err(AccountsError::new(ErrorCode::InvalidArgument, "give one of userId, username, email"));
            }
            let named = by_id.is_some() || by_name.is_some() || by_email.is_some();
            let store = self.ctx.store();
            let user = if let Some(id) = by_id {
                store.find_user_by_id(id)?
            } else if let Some(name) = by_name {
                store.find_user_by_username(&username_key(name))?
            } else if let Some(email) = by_email {
                match normalize_email(email) {
                    Ok(address) => store.find_user_by_email(&address)?,
                    Err(_) => None,
                }
            } else {
                None
            };
            let ambiguous = self.ctx.config().ambiguous_error_messages;
            if named && user.is_none() && !ambiguous {
                return Err(AccountsError::code(ErrorCode::UserNotFound));
            }
            let rp_id = Self::rp_id(config)?;
            let mut request = DiscoverableCredentialRequestOptions::passkey(&rp_id);
            request.0.user_verification = Self::uv(config);
            request.0.timeout = std::num::NonZeroU32::new(Self::timeout_ms(config)).unwrap_or(request.0.timeout);
            let (server, client) = request.start_ceremony().map_err(|_| internal("webauthn request options are inconsistent"))?;
            let challenge = client.options().0.challenge.as_data();
            let state = server.encode().map_err(|_| internal("an authentication state does not encode"))?;
            let mut json = serde_json::to_value(&client)?;
            // A ceremony for a named user is bound to them; an unknown name binds it to nobody
            // (no passkey can finish it), and the answer looks the same.
            let bound = match (&user, named) {
                (Some(u), _) => Some(u.id.clone()),
                // No user has this id (ids are hex or imported; this one is random and never stored
                // on a user), so no passkey finishes the ceremony.
                (None, true) => Some(format!("nobody:{}", random_hex(16)?)),
                (None, false) => None,
            };
            if let (Some(user), false) = (&user, ambiguous) {
                let allow: Vec<Value> = store
                    .list_passkeys(&user.id)?
                    .iter()
                    .map(|p| {
                        let transports: Value = serde_json::from_str(&p.transports).unwrap_or(json!([]));
                        json!({ "type": "public-key", "id": p.id, "transports": transports })
                    })
                    .collect();
                if let Some(o) = json.as_object_mut() {
                    o.insert("allowCredentials".into(), Value::Array(allow));
                }
            }
            let client_key = infos.sanitized().ip.as_deref().map(|ip| digest(&attempts::ip_subject(ip)));
            self.keep(challenge, AUTHENTICATION, bound.as_deref(), &state, client_key)?;
            Ok(json)
        })())
    }

    /// The user's passkeys, oldest first.
    ///
    /// # Errors
    /// `ServiceNotFound`, `UserNotFound`.
    pub fn list_passkeys(&self, user_id: &str) -> Result<Vec<Passkey>> {
        self.ctx.localize((|| {
            self.config()?;
            let user = self.ctx.user_or_not_found(user_id)?;
            self.ctx.store().list_passkeys(&user.id)?.iter().map(PasskeyRecord::shown).collect()
        })())
    }

    /// Renames one of the user's passkeys.
    ///
    /// # Errors
    /// `ServiceNotFound`, `InvalidArgument` (an empty or long name), `UserNotFound`, `PasskeyNotFound`.
    pub fn rename_passkey(&self, user_id: &str, passkey_id: &str, name: &str) -> Result<Passkey> {
        self.ctx.localize((|| {
            self.config()?;
            let name = valid_name(name)?;
            let user = self.ctx.user_or_not_found(user_id)?;
            if !self.ctx.store().rename_passkey(&user.id, passkey_id, &name)? {
                return Err(AccountsError::code(ErrorCode::PasskeyNotFound));
            }
            let record = self.ctx.store().find_passkey(passkey_id)?.ok_or_else(|| AccountsError::code(ErrorCode::PasskeyNotFound))?;
            let passkey = record.shown()?;
            self.ctx.events().emit(events::PASSKEY_RENAMED, || json!({ "userId": user.id, "passkey": passkey }))?;
            Ok(passkey)
        })())
    }

    /// Removes one of the user's passkeys, unless it is their last way to sign in (no password,
    /// no linked identity, no other passkey).
    ///
    /// # Errors
    /// `ServiceNotFound`, `UserNotFound`, `PasskeyNotFound`, `LastLoginMethod`.
    pub fn remove_passkey(&self, user_id: &str, passkey_id: &str) -> Result<()> {
        self.ctx.localize((|| {
            self.config()?;
            let user = self.ctx.user_or_not_found(user_id)?;
            match self.ctx.store().remove_passkey(&user.id, passkey_id)? {
                Unlinked::Removed => {
                    self.ctx.events().emit(events::PASSKEY_REMOVED, || json!({ "userId": user.id, "passkeyId": passkey_id }))?;
                    Ok(())
                }
                Unlinked::NotLinked => Err(AccountsError::code(ErrorCode::PasskeyNotFound)),
                Unlinked::LastLoginMethod => Err(AccountsError::code(ErrorCode::LastLoginMethod)),
            }
        })())
    }

    /// A sign-in: `params` is `{response}` (the assertion's `toJSON()`). Returns the passkey's user
    /// and the write that records the use (new counter, last use), done with the session. A failed
    /// assertion counts as a wrong second-factor guess (docs/security.md, "Attempt limits"); without
    /// user verification, a user with two-factor on also needs their `code`.
    pub(crate) fn authenticate_pending(&self, params: &Value, infos: &ConnectionInfo) -> Result<Authenticated> {
        let config = self.config()?;
        let response = match params.get("response") {
            None | Some(Value::Null) => return Err(AccountsError::code(ErrorCode::UnrecognizedOptionsForLogin)),
            Some(r) => r,
        };
        let bytes = response_bytes(response)?;
        let ip = infos.sanitized().ip;
        // Until the signature verifies, the assertion is anybody's: its failures count against
        // the client address only, never the account of the credential it names (a stranger
        // knowing a credential id must not lock its owner out). Failures found after the signature
        // verified (counter regression, user verification missing) count against the account too.
        let anonymous = Guesser { account: None, ip: ip.as_deref() };
        let (record, new_state, verified) = attempts::guarded(self.ctx, Guess::SecondFactor, &anonymous, || {
            if !has_user_handle(response) {
                return Err(failed("userHandle"));
            }
            let assertion = no_panic("response", || DiscoverableAuthentication64::from_json_relaxed(&bytes).map_err(|_| failed("response")))?;
            let credential_id = B64.encode(assertion.raw_id().as_ref());
            let record = self.ctx.store().find_passkey(&credential_id)?;
            let challenge = assertion.challenge_relaxed().map_err(|_| failed("clientData"))?;
            let (state, bound) = self.take(challenge.0, AUTHENTICATION, None)?;
            let Some(record) = record.clone() else { return Err(failed("unknownCredential")) };
            if bound.as_deref().is_some_and(|b| b != record.user_id) {
                return Err(failed("userHandle"));
            }
            let server =
                DiscoverableAuthenticationServerState::decode(state.as_slice()).map_err(|_| internal("an authentication state does not decode"))?;
            let handle = decode_handle(&record.user_handle)?;
            let key_raw = B64.decode(&record.public_key).map_err(|_| internal("a stored public key is not base64url"))?;
            let static_state = StaticState::decode(key_raw.as_slice()).map_err(|_| internal("a stored public key does not decode"))?;
            let stored_state = record.dynamic_state()?;
            let id_raw = B64.decode(&record.id).map_err(|_| internal("a stored credential id is not base64url"))?;
            let id = CredentialId::<&[u8]>::decode(id_raw.as_slice()).map_err(|_| internal("a stored credential id is invalid"))?;
            let mut credential =
                AuthenticatedCredential::new(id, &handle, static_state, stored_state).map_err(|_| internal("a stored passkey is inconsistent"))?;
            let rp_id = Self::rp_id(config)?;
            let verify_options = AuthenticationVerificationOptions::<'_, '_, String, String> {
                allowed_origins: &config.origins,
                error_on_unsolicited_extensions: false,
                sig_counter_enforcement: SignatureCounterEnforcement::Fail,
                update_uv: true,
                ..AuthenticationVerificationOptions::default()
            };
            let presented = AuthenticatorData::try_from(assertion.response().authenticator_data()).map(|d| d.flags().user_verified);
            let outcome = no_panic("response", || Ok(server.verify(&rp_id, &assertion, &mut credential, &verify_options)))?;
            // webauthn_rp verifies the signature first: these errors come from the key's holder.
            if matches!(outcome, Err(AuthCeremonyErr::SignatureCounter | AuthCeremonyErr::UserNotVerified)) {
                attempts::count_failure(self.ctx, Guess::SecondFactor, &Guesser { account: Some(&record.user_id), ip: ip.as_deref() })?;
            }
            match outcome {
                // The stored state keeps the best UV ever seen: this sign-in's own flag decides.
                Ok(_) => Ok((record, credential.dynamic_state(), presented.unwrap_or(false))),
                Err(AuthCeremonyErr::SignatureCounter) => {
                    let presented = AuthenticatorData::try_from(assertion.response().authenticator_data()).ok().map(|d| d.sign_count());
                    let _ = self.ctx.events().emit(events::PASSKEY_COUNTER_REGRESSION, || {
                        json!({ "userId": record.user_id, "passkeyId": record.id, "storedCount": stored_state.sign_count, "presentedCount": presented })
                    });
                    Err(AccountsError::code(ErrorCode::PasskeyCounterRegression))
                }
                Err(e) => Err(failed(auth_reason(&e))),
            }
        })?;
        let user = self.ctx.user_or_not_found(&record.user_id)?;
        let new_hex = hex::encode(new_state.encode().map_err(|_| internal("a passkey state does not encode"))?);
        let (id, expected, now) = (record.id.clone(), record.state.clone(), self.ctx.now());
        let mut completions: Vec<Completion> = vec![Box::new(move |w| {
            // Of two sign-ins with the same counter, one wins: the other's counter has gone stale.
            if w.swap_passkey_state(&id, &expected, &new_hex, now)? { Ok(()) } else { Err(AccountsError::code(ErrorCode::PasskeyCounterRegression)) }
        })];
        // Without user verification the passkey is one factor: a user with two-factor on gives
        // their code too (docs/passkeys.md, "Security model").
        if !verified && let Some(used) = TwoFactor::new(self.ctx).plan_login(&user, params, ip.as_deref())? {
            completions.push(Box::new(move |w| used.apply(w)));
        }
        let complete: Completion = Box::new(move |w| completions.iter().try_for_each(|c| c(w)));
        Ok(Authenticated { user, complete: Some(complete) })
    }
}

/// A stored user handle.
fn decode_handle(text: &str) -> Result<UserHandle64> {
    let raw = B64.decode(text).map_err(|_| internal("a stored user handle is not base64url"))?;
    let bytes: [u8; 64] = raw.try_into().map_err(|_| internal("a stored user handle has the wrong length"))?;
    UserHandle64::decode(bytes).map_err(|_| internal("a stored user handle does not decode"))
}

/// Whether `c` is a control or format character (Unicode Cc, Cf: bidirectional overrides such as
/// U+202E, zero-width characters, the BOM) or a line / paragraph separator: a name shown to the user
/// must look like what it is.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{180e}'
            | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
            | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{110bd}' | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}

/// A passkey name: trimmed, 1 to 100 characters, no control or format characters.
fn valid_name(name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NAME_CHARS || trimmed.chars().any(invisible) {
        return Err(AccountsError::new(
            ErrorCode::InvalidArgument,
            format!("a passkey name has 1 to {MAX_NAME_CHARS} characters, no control or format characters"),
        ));
    }
    Ok(trimmed.to_string())
}
