//! The HTTP edge, written once (docs/web.md): the accounts-js REST API of `@accounts/rest-express`
//! 0.33, with cookie sessions, CSRF checks and the client's address, as one handler over plain
//! values. Express, ASGI and C servers wrap [`AccountsServer::handle_http`] and translate; every rule
//! lives here.
//!
//! A request is its method, its path under the mount (`/password/register`), its headers, its body
//! and the peer's address; a response is a status, headers (each `Set-Cookie` its own) and a body.
//! Bad input — a malformed cookie of ours, header, percent-encoding, JSON or UTF-8 — is a coded 400,
//! never a panic or a 500.

mod client_addr;
mod cookies;
mod csrf;
mod routes;

use crate::config::{CookieConfig, WebConfig};
use crate::error::{AccountsError, ErrorCode, Result};
use crate::server::AccountsServer;
use crate::types::{ConnectionInfo, User};
use base64::Engine;
use cookies::{Cookies, Jar, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::net::IpAddr;

/// One HTTP request, as an adapter hands it over. JSON (C): `{"method", "path", "query"?, "headers":
/// [[name, value], ...], "body"?: text, "bodyBase64"?: base64, "peer"?: "ip"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "RequestJson", into = "RequestJson")]
pub struct HttpRequest {
    /// `GET`, `POST`, ... (any case).
    pub method: String,
    /// The path under the mount, e.g. `/password/register` (percent-encoded as received).
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
    /// Every header line, names in any case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The address of the connection's other end (the client, or a proxy).
    pub peer: Option<IpAddr>,
}

/// One HTTP response. JSON (C): `{"status", "headers": [[name, value], ...], "body": text}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ResponseJson", try_from = "ResponseJson")]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header lines; each `Set-Cookie` is its own.
    pub headers: Vec<(String, String)>,
    /// The body (JSON text).
    pub body: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RequestJson {
    method: String,
    path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    query: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    peer: Option<String>,
}

impl TryFrom<RequestJson> for HttpRequest {
    type Error = String;
    fn try_from(j: RequestJson) -> std::result::Result<HttpRequest, String> {
        let body = match (j.body, j.body_base64) {
            (Some(_), Some(_)) => return Err("give body or bodyBase64, not both".into()),
            (Some(text), None) => text.into_bytes(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| format!("bodyBase64: {e}"))?,
            (None, None) => Vec::new(),
        };
        let peer =
            j.peer.filter(|p| !p.is_empty()).map(|p| p.parse::<IpAddr>().map_err(|_| format!("peer {p:?} is not an IP address"))).transpose()?;
        Ok(HttpRequest { method: j.method, path: j.path, query: j.query, headers: j.headers, body, peer })
    }
}

impl From<HttpRequest> for RequestJson {
    fn from(r: HttpRequest) -> RequestJson {
        let (body, body_base64) = match String::from_utf8(r.body) {
            Ok(text) => (Some(text).filter(|t| !t.is_empty()), None),
            Err(e) => (None, Some(base64::engine::general_purpose::STANDARD.encode(e.into_bytes()))),
        };
        RequestJson { method: r.method, path: r.path, query: r.query, headers: r.headers, body, body_base64, peer: r.peer.map(|p| p.to_string()) }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseJson {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl From<HttpResponse> for ResponseJson {
    fn from(r: HttpResponse) -> ResponseJson {
        ResponseJson { status: r.status, headers: r.headers, body: String::from_utf8_lossy(&r.body).into_owned() }
    }
}

impl TryFrom<ResponseJson> for HttpResponse {
    type Error = String;
    fn try_from(r: ResponseJson) -> std::result::Result<HttpResponse, String> {
        Ok(HttpResponse { status: r.status, headers: r.headers, body: r.body.into_bytes() })
    }
}

impl HttpRequest {
    /// Reads the JSON form (C).
    ///
    /// # Errors
    /// `InvalidArgument` for JSON that is not a request.
    pub fn from_json(text: &str) -> Result<HttpRequest> {
        serde_json::from_str(text).map_err(|e| AccountsError::new(ErrorCode::InvalidArgument, format!("request: {e}")))
    }

    /// The peer address as a framework reports it: an IP address (IPv6 possibly in brackets);
    /// anything else (a Unix socket path, a test client's name) is unknown.
    pub fn peer_from(text: Option<&str>) -> Option<IpAddr> {
        let t = text?.trim();
        t.parse().ok().or_else(|| t.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

impl HttpResponse {
    /// The JSON form (C).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&ResponseJson::from(self.clone())).unwrap_or_else(|_| String::from("{\"status\":500,\"headers\":[],\"body\":\"\"}"))
    }

    /// A JSON response.
    fn json(status: u16, body: &Value, cookies: Vec<String>) -> HttpResponse {
        let mut headers = vec![("content-type".to_string(), "application/json; charset=utf-8".to_string())];
        headers.extend(cookies.into_iter().map(|c| ("set-cookie".to_string(), c)));
        HttpResponse { status, headers, body: serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec()) }
    }
}

/// The HTTP status an error is answered with: 403 for a refused cross-site request, 413 for a body
/// over the limit, 404/405 for a route that does not exist (for that method), 415 for a body that is
/// not JSON, 400 for the rest (as rest-express answers every error of the server).
pub fn status_of(error: &AccountsError) -> u16 {
    match error.code {
        ErrorCode::CsrfRefused => 403,
        ErrorCode::PayloadTooLarge => 413,
        ErrorCode::RouteNotFound => 404,
        ErrorCode::MethodNotAllowed => 405,
        ErrorCode::MalformedRequest if error.details.as_ref().and_then(|d| d.get("status")) == Some(&json!(415)) => 415,
        ErrorCode::InternalError | ErrorCode::StorageError => 500,
        _ => 400,
    }
}

/// `{message, code}` with [`status_of`] (rest-express's error shape).
pub fn error_response(error: &AccountsError, cookies: Vec<String>) -> HttpResponse {
    HttpResponse::json(status_of(error), &json!({ "message": error.message, "code": error.code_name() }), cookies)
}

pub(crate) fn malformed(what: impl Into<String>) -> AccountsError {
    AccountsError::new(ErrorCode::MalformedRequest, what.into())
}

/// Headers read as one value: sent twice they are ambiguous, so refused.
const SINGLE: [&str; 6] = ["authorization", "origin", "x-csrf-token", "sec-fetch-site", "content-type", "referer"];

/// What every request needs, read once: the headers checked, our cookies, the connection.
pub(crate) struct Exchange<'a> {
    pub server: &'a AccountsServer,
    pub req: &'a HttpRequest,
    pub web: &'a WebConfig,
    pub cookies: Option<Cookies<'a>>,
    pub jar: Jar,
    pub infos: ConnectionInfo,
    pub method: String,
}

impl<'a> Exchange<'a> {
    /// Checks the headers and reads the cookies and the client's address.
    ///
    /// # Errors
    /// `MalformedRequest`.
    pub(crate) fn new(server: &'a AccountsServer, req: &'a HttpRequest) -> Result<Exchange<'a>> {
        let web = &server.options().web;
        for (name, value) in &req.headers {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(malformed("a header name is not a token"));
            }
            // What HTTP forbids in a field value (C0 controls but tab, DEL). Adapters pass header
            // bytes as Latin-1, so UTF-8 in a foreign cookie (`O’Brien`) arrives as U+0080–U+009F:
            // not ours to refuse.
            if value.chars().any(|c| (c < ' ' && c != '\t') || c == '\u{7f}') {
                return Err(malformed(format!("header {name} holds control characters")));
            }
        }
        for name in SINGLE {
            if req.header_values(name).len() > 1 {
                return Err(malformed(format!("header {name} sent twice")));
            }
        }
        let method = req.method.to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(malformed("the method is not a token"));
        }
        let cookies = web.cookies.as_ref().map(Cookies::new);
        let jar = match &cookies {
            Some(c) => c.read(&req.header_values("cookie"))?,
            None => Jar::default(),
        };
        let forwarded = req.header_values(&web.proxy_header);
        let ip = client_addr::client_ip(req.peer, &forwarded, &web.proxy_header, &web.proxies());
        let user_agent = req.header_values("x-ucbrowser-ua").into_iter().next().or_else(|| req.header_values("user-agent").into_iter().next());
        let infos = ConnectionInfo { ip: ip.map(|i| i.to_string()), user_agent: user_agent.map(String::from) }.sanitized();
        Ok(Exchange { server, req, web, cookies, jar, infos, method })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&'a str> {
        self.req.header_values(name).into_iter().next()
    }

    /// The cookie configuration, in cookie mode.
    pub(crate) fn cookie_config(&self) -> Option<&'a CookieConfig> {
        self.web.cookies.as_ref()
    }

    pub(crate) fn safe_method(&self) -> bool {
        matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }

    /// The `Authorization: Bearer` token, if sent.
    pub(crate) fn bearer_header(&self) -> Option<String> {
        let h = self.header("authorization")?.trim();
        let token = match h.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            // Another scheme (`Basic` in front of the site) carries no token of ours.
            Some(_) => return None,
            // rest-express takes the header as the token when it has no scheme.
            None => h,
        };
        (!token.is_empty()).then(|| token.to_string())
    }

    /// The browser checks (Fetch Metadata and Origin) of a state-changing request in cookie mode that
    /// does not carry an `Authorization` header.
    ///
    /// # Errors
    /// `CsrfRefused`.
    pub(crate) fn check_browser(&self) -> Result<()> {
        // A request that carries a bearer token is not one a browser forges (a cross-site page
        // cannot set Authorization without a preflight); any other Authorization header is no
        // reason to skip the checks.
        if self.cookies.is_none() || self.safe_method() || self.bearer_header().is_some() {
            return Ok(());
        }
        let site = self.web.origin(&self.server.options().site_url)?;
        csrf::check_origin(&site, &self.web.trusted_origins, self.header("sec-fetch-site"), self.header("origin"), self.header("referer"))
    }

    /// The access cookie's token for a request that authenticates with it; on a state-changing
    /// request the CSRF token of its session must be echoed in `X-CSRF-Token` (a cookie whose token
    /// is not genuine proves nothing, so it is passed on to fail as a bad token).
    ///
    /// # Errors
    /// `CsrfRefused`.
    pub(crate) fn cookie_token(&self) -> Result<Option<String>> {
        let Some(token) = self.jar.get(Role::Access) else { return Ok(None) };
        if !self.safe_method() {
            self.check_browser()?;
            if let Some(session_id) = self.server.session_id_of(token)
                && !csrf::CsrfKey::new(self.server.options()).verify(&session_id, self.header("x-csrf-token"))
            {
                return Err(csrf::refused("the CSRF token is missing or wrong"));
            }
        }
        Ok(Some(token.to_string()))
    }

    /// The `Set-Cookie` lines of a new session (cookie mode): the access token lives as long as the
    /// refresh token, since the page refreshes from the cookies once the token inside expires.
    pub(crate) fn session_cookies(&self, session_id: &str, access: &str, refresh: &str) -> Vec<String> {
        let Some(c) = &self.cookies else { return Vec::new() };
        let life = self.server.options().token_configs.refresh_token.expires_in.as_secs();
        let csrf = csrf::CsrfKey::new(self.server.options()).token(session_id);
        vec![c.set(Role::Access, access, life), c.set(Role::Refresh, refresh, life), c.set(Role::Csrf, &csrf, life)]
    }

    /// The `Set-Cookie` lines that end a cookie session.
    pub(crate) fn cleared_cookies(&self) -> Vec<String> {
        let Some(c) = &self.cookies else { return Vec::new() };
        [Role::Access, Role::Refresh, Role::Csrf].iter().map(|r| c.clear(*r)).collect()
    }
}

impl AccountsServer {
    /// Serves one request of the accounts-js REST API (docs/web.md). Never panics; bad input is a
    /// coded 4xx answer, `{message, code}`.
    pub fn handle_http(&self, request: &HttpRequest) -> HttpResponse {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| routes::handle(self, request))) {
            Ok(response) => response,
            Err(_) => error_response(&AccountsError::new(ErrorCode::InternalError, "the request handler panicked"), Vec::new()),
        }
    }

    /// The user of a request to one of the app's own routes, and the access token that resumed their
    /// session: the `Authorization: Bearer` token, else (cookie mode) the access cookie — on a method
    /// other than GET/HEAD/OPTIONS only with the browser checks and the session's CSRF token. `None`
    /// without a valid session.
    ///
    /// # Errors
    /// `MalformedRequest`, `CsrfRefused` (their [`status_of`] is in `details.status`), `StorageError`.
    pub fn http_user(&self, request: &HttpRequest) -> Result<Option<(User, String)>> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.http_user_now(request))) {
            Ok(answer) => answer,
            Err(_) => Err(AccountsError::new(ErrorCode::InternalError, "the request handler panicked").with_details(json!({ "status": 500 }))),
        }
    }

    fn http_user_now(&self, request: &HttpRequest) -> Result<Option<(User, String)>> {
        let with_status = |mut e: AccountsError| {
            let status = status_of(&e);
            e.details = Some(json!({ "status": status }));
            e
        };
        let ex = Exchange::new(self, request).map_err(with_status)?;
        let token = match ex.bearer_header() {
            Some(t) => Some(t),
            None => ex.cookie_token().map_err(with_status)?,
        };
        let Some(token) = token else { return Ok(None) };
        match self.resume_session(&token) {
            Ok(user) => Ok(Some((user, token))),
            Err(e) if matches!(e.code, ErrorCode::StorageError | ErrorCode::InternalError) => Err(e),
            Err(_) => Ok(None),
        }
    }
}
