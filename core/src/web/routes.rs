//! The routes of `@accounts/rest-express` 0.33 with its statuses and JSON shapes, plus the OpenID
//! routes (docs/web.md, "Routes"). Errors are `400 {message, code}`; routes that need a user answer
//! `401 {"message": "Unauthorized"}` without one; in ambiguous mode registering a taken identifier or
//! asking a link for an unknown address looks like a success. Only `GET /user` is served on GET: no
//! route changes state on a safe method.

use super::cookies::Role;
use super::{Exchange, HttpRequest, HttpResponse, error_response, malformed};
use crate::error::{AccountsError, ErrorCode, Result};
use crate::input::base32_secret_argument;
use crate::secret::ct_eq;
use crate::server::AccountsServer;
use crate::types::{ImpersonationTarget, LoginResult};
use serde_json::{Map, Value, json};

/// A route, by what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Impersonate,
    User,
    RefreshTokens,
    Logout,
    Register,
    VerifyEmail,
    ResetPassword,
    SendVerificationEmail,
    SendResetPasswordEmail,
    AddEmail,
    ChangePassword,
    TwoFactorSecret,
    TwoFactorSet,
    TwoFactorUnset,
    RequestMagicLinkEmail,
    AuthorizationUrl(String),
    LinkAccount(String),
    VerifyAuthentication(String),
    Authenticate(String),
    PasskeyRegistrationOptions,
    PasskeyRegister,
    PasskeyAuthenticationOptions,
    Passkeys,
    PasskeyRename,
    PasskeyRemove,
}

/// A route's answer before it becomes a response.
struct Reply {
    status: u16,
    body: Value,
    cookies: Vec<String>,
}

impl Reply {
    fn ok(body: Value) -> Result<Reply> {
        Ok(Reply { status: 200, body, cookies: Vec::new() })
    }
}

/// `%XX` decoding of one path segment.
fn decode_segment(segment: &str) -> Result<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| malformed("bad percent-encoding in the path"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| malformed("the path is not UTF-8"))
}

/// The route of a path and the methods it is served on (fixed names match case-insensitively, as
/// Express does).
fn route_of(path: &str) -> Result<(Route, &'static [&'static str])> {
    let trimmed = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    let Some(rest) = trimmed.strip_prefix('/') else { return Err(AccountsError::code(ErrorCode::RouteNotFound)) };
    let segments = rest.split('/').map(decode_segment).collect::<Result<Vec<String>>>()?;
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    const POST: &[&str] = &["POST"];
    let fixed = match lower.as_slice() {
        ["impersonate"] => Some((Route::Impersonate, POST)),
        ["user"] => Some((Route::User, &["GET", "POST"][..])),
        ["refreshtokens"] => Some((Route::RefreshTokens, POST)),
        ["logout"] => Some((Route::Logout, POST)),
        ["password", "register"] => Some((Route::Register, POST)),
        ["password", "verifyemail"] => Some((Route::VerifyEmail, POST)),
        ["password", "resetpassword"] => Some((Route::ResetPassword, POST)),
        ["password", "sendverificationemail"] => Some((Route::SendVerificationEmail, POST)),
        ["password", "sendresetpasswordemail"] => Some((Route::SendResetPasswordEmail, POST)),
        ["password", "addemail"] => Some((Route::AddEmail, POST)),
        ["password", "changepassword"] => Some((Route::ChangePassword, POST)),
        ["password", "twofactorsecret"] => Some((Route::TwoFactorSecret, POST)),
        ["password", "twofactorset"] => Some((Route::TwoFactorSet, POST)),
        ["password", "twofactorunset"] => Some((Route::TwoFactorUnset, POST)),
        ["magiclink", "requestmagiclinkemail"] => Some((Route::RequestMagicLinkEmail, POST)),
        ["oauth", _, "authorizationurl"] => Some((Route::AuthorizationUrl(segments[1].clone()), POST)),
        ["oauth", _, "link"] => Some((Route::LinkAccount(segments[1].clone()), POST)),
        ["webauthn", "registrationoptions"] => Some((Route::PasskeyRegistrationOptions, POST)),
        ["webauthn", "register"] => Some((Route::PasskeyRegister, POST)),
        ["webauthn", "authenticationoptions"] => Some((Route::PasskeyAuthenticationOptions, POST)),
        ["webauthn", "passkeys"] => Some((Route::Passkeys, &["GET"][..])),
        ["webauthn", "passkeys", "rename"] => Some((Route::PasskeyRename, POST)),
        ["webauthn", "passkeys", "remove"] => Some((Route::PasskeyRemove, POST)),
        [_, "verifyauthentication"] => Some((Route::VerifyAuthentication(segments[0].clone()), POST)),
        [_, "authenticate"] => Some((Route::Authenticate(segments[0].clone()), POST)),
        _ => None,
    };
    fixed.ok_or_else(|| AccountsError::code(ErrorCode::RouteNotFound))
}

/// The JSON object body of a POST: empty is `{}`; anything else must be `application/json`, UTF-8,
/// and an object.
fn body_of(ex: &Exchange<'_>) -> Result<Map<String, Value>> {
    let body = &ex.req.body;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let json_type = ex.header("content-type").is_some_and(|t| {
        let essence = t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
    });
    if !json_type {
        return Err(malformed("the body must be application/json").with_details(json!({ "status": 415 })));
    }
    let text = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(malformed("the body must be a JSON object")),
        Err(_) => Err(malformed("the body is not JSON")),
    }
}

/// A text field: missing or null is `""` (the service reports what is missing), another type is refused.
fn text<'b>(body: &'b Map<String, Value>, name: &str) -> Result<&'b str> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(AccountsError::new(ErrorCode::InvalidArgument, format!("{name} must be a string"))),
    }
}

fn optional_text<'b>(body: &'b Map<String, Value>, name: &str) -> Result<Option<&'b str>> {
    text(body, name).map(|t| (!t.is_empty()).then_some(t))
}

/// Serves one request.
pub(super) fn handle(server: &AccountsServer, req: &HttpRequest) -> HttpResponse {
    let ex = match Exchange::new(server, req) {
        Ok(ex) => ex,
        Err(e) => return error_response(&e, Vec::new()),
    };
    let mut cleanup = Vec::new();
    let outcome = (|| {
        if req.body.len() > ex.web.max_body_bytes {
            return Err(AccountsError::code(ErrorCode::PayloadTooLarge));
        }
        let (route, methods) = route_of(&req.path)?;
        if !methods.contains(&ex.method.as_str()) {
            return Err(AccountsError::code(ErrorCode::MethodNotAllowed).with_details(json!({ "allow": methods.join(", ") })));
        }
        // Every state-changing browser request in cookie mode: Fetch Metadata and Origin (login CSRF).
        ex.check_browser()?;
        let body = if ex.method == "GET" { Map::new() } else { body_of(&ex)? };
        serve(&ex, &route, &body, &mut cleanup)
    })();
    match outcome {
        Ok(reply) => {
            let mut cookies = reply.cookies;
            cookies.extend(cleanup);
            HttpResponse::json(reply.status, &reply.body, cookies)
        }
        Err(e) => {
            let mut response = error_response(&e, cleanup);
            if let Some(allow) = e.details.as_ref().and_then(|d| d.get("allow")).and_then(Value::as_str) {
                response.headers.push(("allow".into(), allow.into()));
            }
            response
        }
    }
}

/// The token of a request to a route that acts for a session: a bearer token (header, else the
/// body's `accessToken`, as rest-express reads it), else the access cookie with its CSRF token.
fn token_of(ex: &Exchange<'_>, body: &Map<String, Value>) -> Result<Option<String>> {
    if let Some(t) = ex.bearer_header() {
        return Ok(Some(t));
    }
    if let Some(Value::String(t)) = body.get("accessToken")
        && !t.is_empty()
    {
        return Ok(Some(t.clone()));
    }
    ex.cookie_token()
}

/// rest-express's userLoader: the user of a valid token, else nobody (no error).
fn user_of(ex: &Exchange<'_>, body: &Map<String, Value>) -> Result<Option<crate::types::User>> {
    let Some(token) = token_of(ex, body)? else { return Ok(None) };
    match ex.server.resume_session(&token) {
        Ok(user) => Ok(Some(user)),
        Err(e) if matches!(e.code, ErrorCode::StorageError | ErrorCode::InternalError) => Err(e),
        Err(_) => Ok(None),
    }
}

fn unauthorized() -> Result<Reply> {
    Ok(Reply { status: 401, body: json!({ "message": "Unauthorized" }), cookies: Vec::new() })
}

/// A login result: in the body (bearer mode), or with its tokens moved into the cookies.
fn login_reply(ex: &Exchange<'_>, login: &LoginResult) -> Result<Reply> {
    let mut body = serde_json::to_value(login)?;
    if ex.cookie_config().is_none() {
        return Reply::ok(body);
    }
    if let Some(o) = body.as_object_mut() {
        o.remove("tokens");
    }
    let cookies = ex.session_cookies(&login.session_id, &login.tokens.access_token, &login.tokens.refresh_token);
    Ok(Reply { status: 200, body, cookies })
}

/// Runs a link request, hiding `UserNotFound` in ambiguous mode.
fn quiet_link(ex: &Exchange<'_>, result: Result<()>) -> Result<Reply> {
    match result {
        Err(e) if e.code == ErrorCode::UserNotFound && ex.server.options().ambiguous_error_messages => Reply::ok(Value::Null),
        Err(e) => Err(e),
        Ok(()) => Reply::ok(Value::Null),
    }
}

fn serve(ex: &Exchange<'_>, route: &Route, body: &Map<String, Value>, cleanup: &mut Vec<String>) -> Result<Reply> {
    let server = ex.server;
    let infos = &ex.infos;
    let ambiguous = server.options().ambiguous_error_messages;
    match route {
        Route::User => Reply::ok(serde_json::to_value(user_of(ex, body)?)?),
        Route::Impersonate => {
            let token = token_of(ex, body)?.unwrap_or_default();
            let target: ImpersonationTarget = match body.get("impersonated") {
                None | Some(Value::Null) => ImpersonationTarget::default(),
                Some(v) => serde_json::from_value(v.clone())
                    .map_err(|_| AccountsError::new(ErrorCode::InvalidArgument, "impersonated must be {userId?, username?, email?}"))?,
            };
            Reply::ok(serde_json::to_value(server.impersonate(&token, &target, infos)?)?)
        }
        Route::RefreshTokens => {
            let (access, refresh) = (optional_text(body, "accessToken")?, optional_text(body, "refreshToken")?);
            let login = match (access, refresh, ex.cookie_config()) {
                (None, None, Some(_)) => {
                    let access = ex.cookie_token()?.unwrap_or_default();
                    let refresh = ex.jar.get(Role::Refresh).unwrap_or_default().to_string();
                    server.refresh_tokens(&access, &refresh, infos)?
                }
                (a, r, _) => server.refresh_tokens(a.unwrap_or_default(), r.unwrap_or_default(), infos)?,
            };
            login_reply(ex, &login)
        }
        Route::Logout => {
            let token = token_of(ex, body)?;
            // Past the CSRF check, the cookies go whatever happens to the session.
            if ex.cookie_config().is_some() && ex.bearer_header().is_none() {
                cleanup.extend(ex.cleared_cookies());
            }
            server.logout(&token.unwrap_or_default())?;
            Reply::ok(Value::Null)
        }
        Route::Authenticate(service) => {
            let params = Value::Object(body.clone());
            if service == crate::oauth::SERVICE_NAME
                && let Some(cookies) = &ex.cookies
            {
                // The OpenID state must be the one this browser started (the state cookie), once.
                cleanup.push(cookies.clear(Role::OAuthState));
                let presented = optional_text(body, "state")?;
                let bound = match (ex.jar.get(Role::OAuthState), presented) {
                    (Some(cookie), Some(state)) => ct_eq(cookie, state),
                    _ => false,
                };
                if !bound && optional_text(body, "provider")?.is_some_and(|p| is_oidc(server, p)) {
                    return Err(AccountsError::code(ErrorCode::InvalidAuthorizationState));
                }
            }
            login_reply(ex, &server.login_with_service(service, &params, infos)?)
        }
        Route::VerifyAuthentication(service) => Reply::ok(json!(server.authenticate_with_service(service, &Value::Object(body.clone()), infos)?)),
        Route::AuthorizationUrl(provider) => {
            let mut options = Map::new();
            for name in crate::oauth::AUTHORIZATION_OPTIONS {
                if let Some(v) = body.get(name) {
                    options.insert(name.into(), v.clone());
                }
            }
            let started = server.oauth().authorization_url(provider, &Value::Object(options), infos)?;
            let cookies = match &ex.cookies {
                Some(c) => vec![c.set(Role::OAuthState, &started.state, server.options().services.oauth.flow_expiration.as_secs().max(1))],
                None => Vec::new(),
            };
            Ok(Reply { status: 200, body: serde_json::to_value(&started)?, cookies })
        }
        Route::LinkAccount(provider) => {
            let Some(user) = user_of(ex, body)? else { return unauthorized() };
            if let Some(cookies) = &ex.cookies {
                cleanup.push(cookies.clear(Role::OAuthState));
                let bound = matches!((ex.jar.get(Role::OAuthState), optional_text(body, "state")?), (Some(c), Some(s)) if ct_eq(c, s));
                if !bound && is_oidc(server, provider) {
                    return Err(AccountsError::code(ErrorCode::InvalidAuthorizationState));
                }
            }
            let mut params = body.clone();
            params.remove("accessToken");
            Reply::ok(serde_json::to_value(server.oauth().link_account(&user.id, provider, &Value::Object(params))?)?)
        }
        Route::Register => {
            let created = match server.password().create_user(&json!(body.get("user").cloned().unwrap_or(Value::Null))) {
                Err(e) if ambiguous && matches!(e.code, ErrorCode::EmailAlreadyExists | ErrorCode::UsernameAlreadyExists) => {
                    return Reply::ok(json!({}));
                }
                other => other?,
            };
            if !server.options().enable_autologin {
                return Reply::ok(if ambiguous { json!({}) } else { json!({ "userId": created }) });
            }
            let login = server.login_with_user(&created, infos)?;
            let inner = login_reply(ex, &login)?;
            Ok(Reply { status: 200, body: json!({ "userId": created, "loginResult": inner.body }), cookies: inner.cookies })
        }
        Route::VerifyEmail => {
            server.password().verify_email(text(body, "token")?)?;
            Reply::ok(Value::Null)
        }
        Route::SendVerificationEmail => quiet_link(ex, server.password().send_verification_email(text(body, "email")?)),
        Route::SendResetPasswordEmail => quiet_link(ex, server.password().send_reset_password_email(text(body, "email")?)),
        Route::RequestMagicLinkEmail => quiet_link(ex, server.magic_link().request_magic_link_email(text(body, "email")?)),
        Route::ResetPassword => {
            let code = optional_text(body, "code")?;
            match server.password().reset_password(text(body, "token")?, text(body, "newPassword")?, code, infos)? {
                Some(login) => login_reply(ex, &login),
                None => Reply::ok(Value::Null),
            }
        }
        Route::AddEmail => {
            let Some(user) = user_of(ex, body)? else { return unauthorized() };
            server.password().add_email(&user.id, text(body, "newEmail")?, false)?;
            Reply::ok(Value::Null)
        }
        Route::ChangePassword => {
            let Some(user) = user_of(ex, body)? else { return unauthorized() };
            server.password().change_password(&user.id, text(body, "oldPassword")?, text(body, "newPassword")?)?;
            Reply::ok(Value::Null)
        }
        Route::TwoFactorSecret => Reply::ok(json!({ "secret": server.password().two_factor().get_new_auth_secret()? })),
        Route::TwoFactorSet => {
            let Some(user) = user_of(ex, body)? else { return unauthorized() };
            let secret = base32_secret_argument(body.get("secret").unwrap_or(&Value::Null))?;
            server.password().two_factor().set(&user.id, &secret, text(body, "code")?)?;
            Reply::ok(json!({}))
        }
        Route::TwoFactorUnset => {
            let Some(user) = user_of(ex, body)? else { return unauthorized() };
            server.password().two_factor().unset(&user.id, text(body, "code")?)?;
            Reply::ok(json!({}))
        }
        Route::PasskeyRegistrationOptions => {
            let Some(user) = user_of(ex, body)? else { return unauthorized() };
            Reply::ok(server.webauthn().registration_options(&user.id)?)
        }
        Route::PasskeyRegister => {
            let Some(user) = user_of(ex, body)? else { return unauthorized() };
            let options = match body.get("name") {
                None | Some(Value::Null) => json!({}),
                Some(name) => json!({ "name": name }),
            };
            let response = body.get("response").unwrap_or(&Value::Null);
            Reply::ok(serde_json::to_value(server.webauthn().register(&user.id, response, &options)?)?)
        }
        Route::PasskeyAuthenticationOptions => {
            let mut options = Map::new();
            for name in ["userId", "username", "email"] {
                if let Some(v) = body.get(name).filter(|v| !v.is_null()) {
                    options.insert(name.into(), v.clone());
                }
            }
            Reply::ok(server.webauthn().authentication_options(&Value::Object(options), infos)?)
        }
        Route::Passkeys => {
            let Some(user) = user_of(ex, body)? else { return unauthorized() };
            Reply::ok(serde_json::to_value(server.webauthn().list_passkeys(&user.id)?)?)
        }
        Route::PasskeyRename => {
            let Some(user) = user_of(ex, body)? else { return unauthorized() };
            Reply::ok(serde_json::to_value(server.webauthn().rename_passkey(&user.id, text(body, "id")?, text(body, "name")?)?)?)
        }
        Route::PasskeyRemove => {
            let Some(user) = user_of(ex, body)? else { return unauthorized() };
            server.webauthn().remove_passkey(&user.id, text(body, "id")?)?;
            Reply::ok(Value::Null)
        }
    }
}

/// Whether `provider` is an OpenID provider of this server (its flows are bound to the browser; a
/// host provider's parameters are the host's business).
fn is_oidc(server: &AccountsServer, provider: &str) -> bool {
    matches!(server.options().services.oauth.providers.get(provider), Some(crate::config::ProviderConfig::Oidc(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_segments() {
        assert_eq!(route_of("/password/register").unwrap().0, Route::Register);
        assert_eq!(route_of("/magicLink/RequestMagicLinkEmail/").unwrap().0, Route::RequestMagicLinkEmail);
        assert_eq!(route_of("/magicLink/authenticate").unwrap().0, Route::Authenticate("magicLink".into()));
        assert_eq!(route_of("/oauth/corp/authorizationUrl").unwrap().0, Route::AuthorizationUrl("corp".into()));
        assert_eq!(route_of("/my%20svc/authenticate").unwrap().0, Route::Authenticate("my svc".into()));
        assert_eq!(route_of("/%zz/authenticate").unwrap_err().code, ErrorCode::MalformedRequest);
        assert_eq!(route_of("/%ff/authenticate").unwrap_err().code, ErrorCode::MalformedRequest);
        assert_eq!(route_of("/webauthn/authenticate").unwrap().0, Route::Authenticate("webauthn".into()));
        assert_eq!(route_of("/webauthn/registrationOptions").unwrap().0, Route::PasskeyRegistrationOptions);
        assert_eq!(route_of("/webauthn/passkeys").unwrap(), (Route::Passkeys, &["GET"][..]));
        assert_eq!(route_of("/webauthn/passkeys/remove").unwrap().0, Route::PasskeyRemove);
        assert_eq!(route_of("/nope").unwrap_err().code, ErrorCode::RouteNotFound);
        assert_eq!(route_of("").unwrap_err().code, ErrorCode::RouteNotFound);
    }
}
