//! Login with other identity providers, and the links between their identities and local users
//! (docs/oauth.md).
//!
//! `loginWithService("oauth", {provider, ...})` asks the provider who the parameters belong to,
//! then logs in the user linked to that identity. A first login links or creates an account by the
//! rules of docs/oauth.md, "Linking": an identity is linked to an existing account by email only
//! when the provider asserts the address is verified and the account has verified it too — never a
//! silent takeover. `linkAccount`, `unlinkAccount` and `listLinkedAccounts` manage the links of a
//! logged-in user.

use crate::auth::{Authenticated, Completion};
use crate::callbacks::events;
use crate::config::{OidcProvider, ProviderConfig, UnverifiedEmailMatch};
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::identifiers::normalize_email;
use crate::secret::{ct_eq, digest, new_id, random_hex};
use crate::store::{self, NewUser, OAuthFlow, SealedColumn, Unlinked};
use crate::types::{ConnectionInfo, EmailRecord, LinkedAccount, ProviderTokens, User, profile_fields};
use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The service name for `loginWithService`.
pub const SERVICE_NAME: &str = "oauth";

/// What a sealed token document is bound to: one identity of one provider.
fn token_context(provider: &str, id: &str) -> Vec<u8> {
    format!("oauth tokens\0{provider}\0{id}").into_bytes()
}

/// The options `authorizationUrl` takes (Python also takes their snake_case spelling).
pub(crate) const AUTHORIZATION_OPTIONS: [&str; 3] = ["loginHint", "prompt", "purpose"];

/// What a started authorization may finish as: a login, or a link to a logged-in user. The purpose
/// is bound into the flow (the sealed verifier's associated data), so a flow started for one cannot
/// finish as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `loginWithService('oauth', ...)` (the default).
    Login,
    /// `linkAccount`.
    Link,
}

/// The associated data a flow's verifier is sealed with: the state's digest, and for a link the
/// purpose (a login's is the digest alone, as before purposes existed).
fn flow_context(state_digest: &str, purpose: Purpose) -> Vec<u8> {
    match purpose {
        Purpose::Login => state_digest.as_bytes().to_vec(),
        Purpose::Link => format!("{state_digest}\0link").into_bytes(),
    }
}

/// Where to send the browser to log in with an OpenID provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationRequest {
    /// The provider's authorization URL with the request in its query.
    pub url: String,
    /// The `state` in that URL (to bind to the browser, e.g. in a cookie, as well).
    pub state: String,
}

/// What a provider says about the user it authenticated.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderIdentity {
    /// The user's id at the provider.
    pub id: String,
    /// Their address (normalized), if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider asserts it verified that address.
    pub email_verified: bool,
    /// Profile fields for an account created from this identity.
    pub profile: Map<String, Value>,
    /// The provider's own tokens, kept (sealed) only when the provider is configured to.
    pub tokens: Option<ProviderTokens>,
}

fn shape(what: &str) -> AccountsError {
    AccountsError::new(ErrorCode::CallbackError, format!("oauthAuthenticate returned the wrong shape: {what}"))
}

impl ProviderIdentity {
    /// Reads verified ID-token claims: `sub`, `email`, `email_verified` (a boolean, or the string
    /// `"true"` some providers send) and the standard profile claims.
    pub fn from_claims(claims: &Map<String, Value>) -> ProviderIdentity {
        let id = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_string();
        let email = claims.get("email").and_then(Value::as_str).and_then(|e| normalize_email(e).ok());
        let email_verified =
            matches!(claims.get("email_verified"), Some(Value::Bool(true))) || claims.get("email_verified").and_then(Value::as_str) == Some("true");
        let profile = ["name", "given_name", "family_name", "picture", "locale"]
            .iter()
            .filter_map(|k| claims.get(*k).filter(|v| v.is_string()).map(|v| (k.to_string(), v.clone())))
            .collect();
        ProviderIdentity { id, email, email_verified, profile, tokens: None }
    }

    /// Reads a host provider's answer `{id, email?, emailVerified?, profile?}`.
    ///
    /// # Errors
    /// `CallbackError` for a missing or empty `id`, a malformed `email`, or fields of the wrong type.
    pub fn from_answer(answer: &Value) -> Result<ProviderIdentity> {
        let id = match answer.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            // GitHub's ids are numbers.
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(shape("id must be a non-empty string or a number")),
        };
        let email = match answer.get("email") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(normalize_email(s).map_err(|_| shape("email is not an email address"))?),
            Some(_) => return Err(shape("email must be a string")),
        };
        let email_verified = match answer.get("emailVerified") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(shape("emailVerified must be a boolean")),
        };
        // A host that passes the provider's user object through must not set the user's own
        // fields with it (its `id`, `emails`, ...): only profile fields are kept.
        let profile = match answer.get("profile") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => profile_fields(m),
            Some(_) => return Err(shape("profile must be an object")),
        };
        let tokens = match answer.get("tokens") {
            None | Some(Value::Null) => None,
            Some(Value::Object(t)) => {
                let text = |name: &str| t.get(name).and_then(Value::as_str).map(String::from);
                let access_token = text("accessToken").ok_or_else(|| shape("tokens.accessToken must be a string"))?;
                Some(ProviderTokens {
                    access_token,
                    refresh_token: text("refreshToken"),
                    expires_at: t.get("expiresAt").and_then(Value::as_i64),
                    scope: text("scope"),
                })
            }
            Some(_) => return Err(shape("tokens must be an object")),
        };
        Ok(ProviderIdentity { id, email, email_verified, profile, tokens })
    }
}

/// The OAuth service of one server; get it with [`AccountsServer::oauth`](crate::AccountsServer::oauth).
pub struct OAuth<'a> {
    ctx: &'a Context,
}

impl<'a> OAuth<'a> {
    pub(crate) fn new(ctx: &'a Context) -> OAuth<'a> {
        OAuth { ctx }
    }

    fn provider(&self, provider: &str) -> Result<&'a ProviderConfig> {
        self.ctx.config().services.oauth.providers.get(provider).ok_or_else(|| AccountsError::code(ErrorCode::ProviderNotFound))
    }

    /// Starts an OpenID Connect login: returns the provider URL to send the browser to, and the
    /// `state` in it. The `state`, the PKCE verifier and the `nonce` stay server-side (the state's
    /// digest, the verifier sealed, the nonce's digest), single use, for `services.oauth.flowExpiration`,
    /// so any app server sharing the database can finish the flow. `options`: `{loginHint?, prompt?,
    /// purpose?}`, `purpose` being `"login"` (default) or `"link"`: the flow finishes only as that.
    /// `infos.ip`, the client's address, bounds how many flows it may have pending (20; its oldest
    /// goes): give it wherever the caller is not trusted (docs/security.md, "OAuth").
    ///
    /// # Errors
    /// `ProviderNotFound`, `InvalidArgument` (a host provider, bad options), `ProviderError`
    /// (discovery failed).
    pub fn authorization_url(&self, provider: &str, options: &Value, infos: &ConnectionInfo) -> Result<AuthorizationRequest> {
        self.ctx.localize((|| {
            let ProviderConfig::Oidc(config) = self.provider(provider)? else {
                return Err(AccountsError::new(ErrorCode::InvalidArgument, "a host provider builds its own authorization URL"));
            };
            let option = |name: &str| match options.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(AccountsError::new(ErrorCode::InvalidArgument, format!("{name} must be a string"))),
            };
            match options {
                Value::Null => {}
                Value::Object(given) => {
                    // Unknown keys are errors, as in every configuration: a misspelt option must not
                    // silently drop out of the URL.
                    if let Some(unknown) = given.keys().find(|k| !AUTHORIZATION_OPTIONS.contains(&k.as_str())) {
                        return Err(AccountsError::new(
                            ErrorCode::InvalidArgument,
                            format!("unknown authorizationUrl option {unknown:?} (known: {})", AUTHORIZATION_OPTIONS.join(", ")),
                        ));
                    }
                }
                _ => return Err(AccountsError::new(ErrorCode::InvalidArgument, "options must be an object")),
            }
            let (login_hint, prompt) = (option("loginHint")?, option("prompt")?);
            let purpose = match option("purpose")?.as_deref() {
                None | Some("login") => Purpose::Login,
                Some("link") => Purpose::Link,
                Some(_) => return Err(AccountsError::new(ErrorCode::InvalidArgument, "purpose must be \"login\" or \"link\"")),
            };
            let discovery = self.ctx.oidc().discovery(provider, config)?;
            let (state, verifier, nonce) = (random_hex(32)?, random_hex(32)?, random_hex(16)?);
            let now = self.ctx.now();
            let state_digest = digest(&state);
            let flow = OAuthFlow {
                verifier: self.ctx.sealer().seal(verifier.as_bytes(), &flow_context(&state_digest, purpose))?,
                digest: state_digest,
                provider: provider.to_string(),
                nonce_digest: digest(&nonce),
                redirect_uri: config.redirect_uri.clone(),
                expires_at: now + self.ctx.config().services.oauth.flow_expiration.as_millis() as i64,
                created_at: now,
                // Pending flows are capped per client address (IPv6 by its /64), so one client
                // cannot grow the table or push out other clients' flows (docs/security.md, "OAuth").
                client: infos.sanitized().ip.as_deref().map(|ip| digest(&crate::attempts::ip_subject(ip))),
            };
            self.ctx.store().insert_oauth_flow(&flow)?;
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            let mut scopes = vec!["openid".to_string()];
            scopes.extend(config.scopes.iter().filter(|s| *s != "openid").cloned());
            let mut query = form_urlencoded::Serializer::new(String::new());
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &config.client_id)
                .append_pair("redirect_uri", &config.redirect_uri)
                .append_pair("scope", &scopes.join(" "))
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = &login_hint {
                query.append_pair("login_hint", hint);
            }
            if let Some(prompt) = &prompt {
                query.append_pair("prompt", prompt);
            }
            let separator = if discovery.authorization_endpoint.contains('?') { '&' } else { '?' };
            Ok(AuthorizationRequest { url: format!("{}{separator}{}", discovery.authorization_endpoint, query.finish()), state })
        })())
    }

    /// Fetches every OpenID provider's discovery document afresh (its `issuer` must be the
    /// configured one, its endpoints https) and its keys, so a typo in an issuer fails at deploy
    /// time instead of at the first user's login. Host providers have nothing to check.
    ///
    /// # Errors
    /// `ProviderError` naming the first provider that fails (`details.provider`).
    pub fn check_providers(&self) -> Result<()> {
        self.ctx.localize((|| {
            for (name, provider) in &self.ctx.config().services.oauth.providers {
                let ProviderConfig::Oidc(config) = provider else { continue };
                if let Err(mut e) = self.ctx.oidc().check(name, config) {
                    e.message = format!("provider {name:?}: {}", e.message);
                    let mut details = match e.details.take() {
                        Some(Value::Object(d)) => d,
                        _ => Map::new(),
                    };
                    details.insert("provider".into(), Value::String(name.clone()));
                    e.details = Some(Value::Object(details));
                    return Err(e);
                }
            }
            Ok(())
        })())
    }

    /// Finishes an OpenID Connect authorization: the `state` names a pending flow of this provider
    /// (taken, so it works once), the code is exchanged with the PKCE verifier, the ID token is
    /// verified and must carry the flow's `nonce`.
    fn finish_oidc(&self, provider: &str, config: &OidcProvider, params: &Value, purpose: Purpose) -> Result<ProviderIdentity> {
        if let Some(Value::String(error)) = params.get("error") {
            // The provider sent the browser back with an error (the user declined, ...).
            let mut e = AccountsError::new(ErrorCode::ProviderError, format!("the provider answered {error}"));
            e.details = Some(serde_json::json!({ "error": error }));
            return Err(e);
        }
        let state = match params.get("state") {
            Some(Value::String(s)) if !s.is_empty() => s.as_str(),
            _ => return Err(AccountsError::code(ErrorCode::InvalidAuthorizationState)),
        };
        let code = match params.get("code") {
            Some(Value::String(c)) if !c.is_empty() => c.as_str(),
            None | Some(Value::Null) | Some(Value::String(_)) => {
                return Err(AccountsError::new(ErrorCode::InvalidArgument, "code is required: the provider's authorization code"));
            }
            Some(_) => return Err(AccountsError::code(ErrorCode::MatchFailed)),
        };
        // RFC 9207: the authorization response names its issuer (mix-up attacks).
        let response_issuer = match params.get("iss") {
            None | Some(Value::Null) => None,
            Some(Value::String(i)) => Some(i.as_str()),
            Some(_) => return Err(AccountsError::code(ErrorCode::MatchFailed)),
        };
        let flow = self.ctx.store().take_oauth_flow(&digest(state))?;
        let flow = match flow {
            Some(f) if f.provider == provider && f.expires_at > self.ctx.now() => f,
            _ => return Err(AccountsError::code(ErrorCode::InvalidAuthorizationState)),
        };
        // A flow started for the other purpose does not open here.
        let opened = self.ctx.sealer().open(&flow.verifier, &flow_context(&flow.digest, purpose));
        let verifier = String::from_utf8(opened.map_err(|_| AccountsError::code(ErrorCode::InvalidAuthorizationState))?)
            .map_err(|_| AccountsError::new(ErrorCode::InternalError, "a sealed verifier is not text"))?;
        let oidc = self.ctx.oidc();
        let discovery = oidc.discovery(provider, config)?;
        // Checked before the code goes anywhere: a response from another issuer ends the flow.
        match response_issuer {
            Some(issuer) if issuer != discovery.issuer => {
                return Err(AccountsError::new(ErrorCode::InvalidAuthorizationState, "the authorization response names another issuer (iss)"));
            }
            None if discovery.authorization_response_iss_parameter_supported => {
                return Err(AccountsError::new(
                    ErrorCode::InvalidAuthorizationState,
                    "the provider sends iss in every authorization response (RFC 9207) and this one has none",
                ));
            }
            _ => {}
        }
        let answer = oidc.exchange_code(&discovery, config, code, &verifier, &flow.redirect_uri)?;
        let mut claims = oidc.verify_id_token(provider, config, &discovery, &answer.id_token, self.ctx.now() / 1000)?;
        match claims.get("nonce") {
            Some(Value::String(nonce)) if ct_eq(&digest(nonce), &flow.nonce_digest) => {}
            _ => return Err(AccountsError::new(ErrorCode::InvalidIdToken, "ID token: not the nonce of this authorization")),
        }
        // OpenID Connect Core §5.4: with the code flow, many providers put the address only in the
        // UserInfo response.
        if config.userinfo || !claims.contains_key("email") {
            match (&answer.access_token, &discovery.userinfo_endpoint) {
                (Some(access_token), Some(_)) => {
                    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_string();
                    claims = crate::oidc::merged_claims(&claims, &oidc.userinfo(&discovery, access_token, &subject)?);
                }
                _ if config.userinfo => {
                    return Err(AccountsError::new(ErrorCode::ProviderError, "userinfo: no access token or no userinfo_endpoint to read it with"));
                }
                // No way to ask: the identity has no address.
                _ => {}
            }
        }
        let mut identity = ProviderIdentity::from_claims(&claims);
        identity.tokens = answer.access_token.map(|access_token| ProviderTokens {
            access_token,
            refresh_token: answer.refresh_token,
            expires_at: answer.expires_in.map(|s| self.ctx.now() + s * 1000),
            scope: answer.scope,
        });
        Ok(identity)
    }

    /// Asks `provider` who `params` belong to.
    fn identify(&self, provider: &str, params: &Value, purpose: Purpose) -> Result<ProviderIdentity> {
        match self.provider(provider)? {
            ProviderConfig::Oidc(config) => self.finish_oidc(provider, config, params, purpose),
            ProviderConfig::Host { .. } => {
                let Some(authenticate) = &self.ctx.callbacks().oauth_authenticate else {
                    return Err(AccountsError::new(
                        ErrorCode::InvalidConfig,
                        format!("provider {provider:?} is a host provider: register the oauthAuthenticate callback"),
                    ));
                };
                ProviderIdentity::from_answer(&authenticate(provider, params)?)
            }
        }
    }

    fn account(&self, provider: &str, user_id: &str, identity: &ProviderIdentity) -> Result<LinkedAccount> {
        Ok(LinkedAccount {
            provider: provider.to_string(),
            id: identity.id.clone(),
            user_id: user_id.to_string(),
            email: identity.email.clone(),
            created_at: self.ctx.now(),
            tokens: self.sealed_tokens(provider, identity)?,
        })
    }

    /// The identity's provider tokens sealed for storage, when its provider keeps them.
    fn sealed_tokens(&self, provider: &str, identity: &ProviderIdentity) -> Result<Option<String>> {
        let keeps = self.provider(provider)?.stores_tokens();
        match (&identity.tokens, keeps) {
            (Some(tokens), true) => Ok(Some(self.ctx.sealer().seal(&serde_json::to_vec(tokens)?, &token_context(provider, &identity.id))?)),
            _ => Ok(None),
        }
    }

    /// The writes that refresh an existing link's stored tokens, if the provider keeps them.
    fn token_update(&self, provider: &str, identity: &ProviderIdentity) -> Result<Option<Completion>> {
        let Some(sealed) = self.sealed_tokens(provider, identity)? else { return Ok(None) };
        let (provider, id) = (provider.to_string(), identity.id.clone());
        Ok(Some(Box::new(move |w| w.set_linked_tokens(&provider, &id, Some(&sealed)).map(|_| ()))))
    }

    /// The provider tokens stored at the user's last login or link with `provider` (when the
    /// provider is configured with `storeTokens`), else `None`.
    ///
    /// # Errors
    /// `UserNotFound`, `LinkedAccountNotFound`.
    pub fn provider_tokens(&self, user_id: &str, provider: &str) -> Result<Option<ProviderTokens>> {
        self.ctx.localize((|| {
            let user = self.ctx.user_or_not_found(user_id)?;
            let linked = self.ctx.store().list_linked_accounts(&user.id)?.into_iter().find(|a| a.provider == provider);
            let Some(linked) = linked else { return Err(AccountsError::code(ErrorCode::LinkedAccountNotFound)) };
            let Some(sealed) = linked.tokens else { return Ok(None) };
            let opened = self.ctx.sealer().open(&sealed, &token_context(provider, &linked.id))?;
            Ok(Some(
                serde_json::from_slice(&opened).map_err(|_| AccountsError::new(ErrorCode::InternalError, "stored provider tokens are not valid"))?,
            ))
        })())
    }

    /// Seals every stored provider-token document and every pending flow's PKCE verifier that an
    /// earlier sealing key sealed under the current one; returns how many (part of `resealAll`,
    /// docs/security.md, "Key rotation"). Each value is swapped only if unchanged meanwhile.
    ///
    /// # Errors
    /// `InternalError` for a value no known key opens, `StorageError`.
    pub(crate) fn reseal_all(&self) -> Result<u64> {
        const PAGE: u32 = 500;
        let (store, sealer) = (self.ctx.store(), self.ctx.sealer());
        let mut resealed = 0u64;
        for column in [SealedColumn::LinkedTokens, SealedColumn::FlowVerifier, SealedColumn::WebAuthnState] {
            let mut after = (String::new(), String::new());
            loop {
                let page = store.list_sealed(column, (&after.0, &after.1), PAGE)?;
                for value in page.iter().filter(|v| !sealer.is_current(&v.sealed)) {
                    // A flow's purpose is only in its verifier's associated data: try each.
                    let contexts = match column {
                        SealedColumn::LinkedTokens => vec![token_context(&value.key, &value.sub_key)],
                        SealedColumn::FlowVerifier => [Purpose::Login, Purpose::Link].map(|p| flow_context(&value.key, p)).to_vec(),
                        SealedColumn::WebAuthnState => vec![crate::webauthn::challenge_context(&value.key)],
                    };
                    let (plain, context) =
                        contexts.iter().find_map(|context| sealer.open(&value.sealed, context).ok().map(|plain| (plain, context))).ok_or_else(
                            || AccountsError::new(ErrorCode::InternalError, "a sealed value cannot be opened (was its sealing secret removed?)"),
                        )?;
                    let again = sealer.seal(&plain, context)?;
                    if store.swap_sealed(column, (&value.key, &value.sub_key), &value.sealed, &again)? {
                        resealed += 1;
                    }
                }
                match page.last() {
                    Some(last) if page.len() == PAGE as usize => after = (last.key.clone(), last.sub_key.clone()),
                    _ => break,
                }
            }
        }
        Ok(resealed)
    }

    /// Links the identity that `params` prove at `provider` to a logged-in user (explicit linking:
    /// the user proved both sides, so no email rule applies). Linking the same identity again is a
    /// no-op.
    ///
    /// # Errors
    /// `UserNotFound`, `ProviderNotFound`, the provider's error, `AccountAlreadyLinked` when the
    /// identity belongs to another user or the user has another identity of that provider.
    pub fn link_account(&self, user_id: &str, provider: &str, params: &Value) -> Result<LinkedAccount> {
        self.ctx.localize((|| {
            let user = self.ctx.user_or_not_found(user_id)?;
            let identity = self.identify(provider, params, Purpose::Link)?;
            if let Some(existing) = self.ctx.store().find_linked_account(provider, &identity.id)? {
                if existing.user_id != user.id {
                    return Err(AccountsError::code(ErrorCode::AccountAlreadyLinked));
                }
                if let Some(update) = self.token_update(provider, &identity)? {
                    store::transaction(self.ctx.store(), |w| update(w))?;
                }
                return Ok(LinkedAccount { tokens: None, ..existing });
            }
            let account = self.account(provider, &user.id, &identity)?;
            store::transaction(self.ctx.store(), |w| w.link_account(&account))?;
            Ok(LinkedAccount { tokens: None, ..account })
        })())
    }

    /// Removes the user's identity of `provider`, unless it is their last way to log in.
    ///
    /// # Errors
    /// `UserNotFound`, `LinkedAccountNotFound`, `LastLoginMethod`.
    pub fn unlink_account(&self, user_id: &str, provider: &str) -> Result<()> {
        self.ctx.localize((|| {
            let user = self.ctx.user_or_not_found(user_id)?;
            match self.ctx.store().unlink_account(&user.id, provider)? {
                Unlinked::Removed => Ok(()),
                Unlinked::NotLinked => Err(AccountsError::code(ErrorCode::LinkedAccountNotFound)),
                Unlinked::LastLoginMethod => Err(AccountsError::code(ErrorCode::LastLoginMethod)),
            }
        })())
    }

    /// The user's linked identities, by provider name.
    ///
    /// # Errors
    /// `UserNotFound`.
    pub fn list_linked_accounts(&self, user_id: &str) -> Result<Vec<LinkedAccount>> {
        self.ctx.localize((|| {
            let user = self.ctx.user_or_not_found(user_id)?;
            self.ctx.store().list_linked_accounts(&user.id)
        })())
    }

    /// The user an OAuth login is for, and the link to write with the session when the identity is
    /// new to an existing account (docs/oauth.md, "Linking").
    ///
    /// # Errors
    /// `UnrecognizedOptionsForLogin` (no provider), `MatchFailed` (not a string),
    /// `ProviderNotFound`, the provider's error, `AccountLinkRefused`, `UserNotFound`.
    pub(crate) fn authenticate_pending(&self, params: &Value) -> Result<Authenticated> {
        let provider = match params.get("provider") {
            None | Some(Value::Null) => return Err(AccountsError::code(ErrorCode::UnrecognizedOptionsForLogin)),
            Some(Value::String(p)) if p.is_empty() => return Err(AccountsError::code(ErrorCode::UnrecognizedOptionsForLogin)),
            Some(Value::String(p)) => p.as_str(),
            Some(_) => return Err(AccountsError::code(ErrorCode::MatchFailed)),
        };
        let identity = self.identify(provider, params, Purpose::Login)?;
        if let Some(linked) = self.ctx.store().find_linked_account(provider, &identity.id)? {
            // Fresh provider tokens (when kept) are written with the session.
            return Ok(Authenticated { user: self.ctx.user_or_not_found(&linked.user_id)?, complete: self.token_update(provider, &identity)? });
        }
        // An address the provider did not verify proves nothing: it neither finds an account nor
        // goes on a new one, so an identity cannot claim (or probe for) an address it does not own
        // (docs/oauth.md, "Linking"; docs/security.md, "OAuth").
        let holder = match (&identity.email, identity.email_verified) {
            (Some(address), true) => self.ctx.store().find_user_by_email(address)?.map(|u| (address.clone(), u)),
            _ => None,
        };
        match holder {
            Some((address, user)) => {
                if user.emails.iter().any(|e| e.address == address && e.verified) {
                    let account = self.account(provider, &user.id, &identity)?;
                    let complete: Completion = Box::new(move |w| w.link_account(&account));
                    return Ok(Authenticated { user, complete: Some(complete) });
                }
                // The account never proved the address: whoever signed up with it may not be its owner.
                match self.ctx.config().services.oauth.unverified_email_match {
                    UnverifiedEmailMatch::Refuse => Err(AccountsError::code(ErrorCode::AccountLinkRefused)),
                    UnverifiedEmailMatch::CreateAccount => self.created(provider, &identity, false),
                }
            }
            None => self.created(provider, &identity, identity.email_verified),
        }
    }

    /// A new account for a new identity, stored with its link in one transaction. `with_email`:
    /// whether the account gets the provider's address (only ever one the provider verified).
    fn created(&self, provider: &str, identity: &ProviderIdentity, with_email: bool) -> Result<Authenticated> {
        let now = self.ctx.now();
        let id = new_id()?;
        let new_user = NewUser {
            id: id.clone(),
            username: None,
            username_key: None,
            emails: identity
                .email
                .iter()
                .filter(|_| with_email)
                .map(|address| EmailRecord { address: address.clone(), verified: identity.email_verified })
                .collect(),
            profile: identity.profile.clone(),
            password_hash: None,
            services: Vec::new(),
            deactivated: false,
            created_at: now,
            updated_at: now,
        };
        let account = self.account(provider, &id, identity)?;
        let stored = store::transaction(self.ctx.store(), |w| {
            w.create_user(&new_user)?;
            w.link_account(&account)
        });
        match stored {
            Ok(()) => {}
            // A concurrent first login of the same identity created the account (its link or its
            // address came first): log in to it.
            Err(e) if matches!(e.code, ErrorCode::AccountAlreadyLinked | ErrorCode::EmailAlreadyExists) => {
                if let Some(linked) = self.ctx.store().find_linked_account(provider, &identity.id)? {
                    return Ok(Authenticated { user: self.ctx.user_or_not_found(&linked.user_id)?, complete: None });
                }
                // Another account holds the address or one a person cannot tell from it (an
                // all-Cyrillic `аӏісе@` beside `alice@`): the new account goes without it.
                if e.code == ErrorCode::EmailAlreadyExists && with_email {
                    return self.created(provider, identity, false);
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        let user = self.ctx.user_or_not_found(&id)?;
        self.announced(&user)?;
        Ok(Authenticated { user, complete: None })
    }

    fn announced(&self, user: &User) -> Result<()> {
        if let Some(shown) = self.ctx.shown_user(user, &[events::CREATE_USER_SUCCESS])? {
            self.ctx.events().emit(events::CREATE_USER_SUCCESS, || shown)?;
        }
        Ok(())
    }
}
