//! The operation table: one row per public operation of the library, in every language's spelling.
//!
//! Each row says what the operation is called in accounts-js (and so in Node), in Python and in C,
//! which object carries it, its arguments and result as the languages see them, how a binding
//! schedules it ([`Class`]), whether it takes connection infos, and its one-line doc. The bindings
//! take their scheduling from here (a row, never an operation name typed in a binding), core derives
//! [`crate::input::HASHING_OPERATIONS`] and [`crate::input::INLINE_OPERATIONS`] from it, and
//! `accounts-codegen` writes the method tables of the docs from it (docs/architecture.md,
//! "One table, generated copies"). Adding an operation: a core function and one row here.

/// How a binding runs an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// May hash a password (tens of milliseconds of CPU under the hashing bound): a binding with a
    /// shared worker pool runs it apart from the fast operations, so a login burst never queues
    /// `resumeSession` behind argon2.
    Hashing,
    /// May run on a thread that cannot wait (`inline::without_waiting`) when
    /// [`crate::AccountsServer::may_run_inline`] says so for the server; otherwise as [`Class::Pool`].
    Inline,
    /// Storage or network work: off the caller's event loop, on the binding's ordinary pool.
    Pool,
    /// No I/O and no hashing: runs on the calling thread in every language.
    Synchronous,
}

impl Class {
    /// The class's name in the docs.
    pub const fn name(self) -> &'static str {
        match self {
            Class::Hashing => "hashing",
            Class::Inline => "inline",
            Class::Pool => "pool",
            Class::Synchronous => "synchronous",
        }
    }

    const fn same(self, other: Class) -> bool {
        self as u8 == other as u8
    }
}

/// The object an operation belongs to, in each language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The server itself (`AccountsServer`; C `accounts_server_*`).
    Server,
    /// The password service (`getServices().password`, `server.password`, `accounts_password_*`).
    Password,
    /// Two-factor of the password service (`.twoFactor`, `.two_factor`, `accounts_password_two_factor_*`).
    TwoFactor,
    /// The magic link service (`getServices().magicLink`, `server.magic_link`, `accounts_magic_link_*`).
    MagicLink,
    /// The OAuth service (`getServices().oauth`, `server.oauth`, `accounts_oauth_*`).
    OAuth,
    /// The passkey service (`getServices().webauthn`, `server.webauthn`, `accounts_webauthn_*`).
    WebAuthn,
    /// A module-level function, no server needed (`accounts_*`).
    Module,
}

impl Service {
    /// How Node reaches the object (`server` is the `AccountsServer`).
    pub const fn node_path(self) -> &'static str {
        match self {
            Service::Server => "server",
            Service::Password => "server.getServices().password",
            Service::TwoFactor => "server.getServices().password.twoFactor",
            Service::MagicLink => "server.getServices().magicLink",
            Service::OAuth => "server.getServices().oauth",
            Service::WebAuthn => "server.getServices().webauthn",
            Service::Module => "require('accounts-rs')",
        }
    }

    /// How Python reaches the object.
    pub const fn python_path(self) -> &'static str {
        match self {
            Service::Server => "server",
            Service::Password => "server.password",
            Service::TwoFactor => "server.password.two_factor",
            Service::MagicLink => "server.magic_link",
            Service::OAuth => "server.oauth",
            Service::WebAuthn => "server.webauthn",
            Service::Module => "accounts",
        }
    }

    /// The JS class of the object (index.js, index.d.ts); empty for module functions.
    pub const fn node_class(self) -> &'static str {
        self.python_class()
    }

    /// The prefix of the native addon's method names for the object's operations
    /// (`passwordCreateUser`): the Node wrapper calls `<prefix><Name>` on the native server.
    pub const fn native_prefix(self) -> &'static str {
        match self {
            Service::Server | Service::Module => "",
            Service::Password => "password",
            Service::TwoFactor => "twoFactor",
            Service::MagicLink => "magicLink",
            Service::OAuth => "oauth",
            Service::WebAuthn => "webauthn",
        }
    }

    /// The Python class of the object (`_native.pyi`).
    pub const fn python_class(self) -> &'static str {
        match self {
            Service::Server => "AccountsServer",
            Service::Password => "PasswordService",
            Service::TwoFactor => "TwoFactor",
            Service::MagicLink => "MagicLinkService",
            Service::OAuth => "OAuthService",
            Service::WebAuthn => "WebAuthnService",
            Service::Module => "",
        }
    }
}

/// How an argument travels from a binding's wrapper to the native call (the conversion Node's
/// generated wrappers apply; C passes strings as UTF-8 and the rest as JSON text, docs/c-api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// A string, refused when it is not one (or larger than the input bound).
    Str,
    /// A token: absent (`undefined`/`null`/`None`) is the empty token, which core reports as
    /// accounts-js does for a missing token.
    Token,
    /// A boolean: anything but `true` is false.
    Bool,
    /// A JSON object, refused when it is not an object.
    Object,
    /// Any JSON value (core checks its shape: a user or an id, a secret string or object).
    Any,
    /// A JSON array.
    List,
    /// An HTTP request (Node: one object, docs/web.md; Python: its parts as arguments, which the
    /// type's Python spelling lists).
    Request,
}

/// A type as TypeScript (index.d.ts) and Python (`_native.pyi`) spell it, and how it travels. C
/// passes every structured value as JSON text and every string as NUL-terminated UTF-8 (docs/c-api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ty {
    /// TypeScript.
    pub ts: &'static str,
    /// Python.
    pub python: &'static str,
    /// How an argument of this type travels.
    pub wire: Wire,
}

/// A JSON object type.
const fn ty(ts: &'static str, python: &'static str) -> Ty {
    Ty { ts, python, wire: Wire::Object }
}

const fn wired(ts: &'static str, python: &'static str, wire: Wire) -> Ty {
    Ty { ts, python, wire }
}

/// The types the table uses.
pub mod types {
    use super::{Ty, Wire, ty, wired};
    /// A string.
    pub const STRING: Ty = wired("string", "str", Wire::Str);
    /// A token (an absent one is the empty token).
    pub const TOKEN: Ty = wired("string", "str", Wire::Token);
    /// A boolean.
    pub const BOOL: Ty = wired("boolean", "bool", Wire::Bool);
    /// A count.
    pub const COUNT: Ty = wired("number", "int", Wire::Any);
    /// No value.
    pub const VOID: Ty = wired("void", "None", Wire::Any);
    /// A user.
    pub const USER: Ty = ty("User", "_Json");
    /// A user or nothing.
    pub const USER_OR_NULL: Ty = ty("User | null", "Optional[_Json]");
    /// A user object or a user id.
    pub const USER_OR_ID: Ty = wired("User | string", "Union[str, _Json]", Wire::Any);
    /// A session.
    pub const SESSION: Ty = ty("Session", "_Json");
    /// Sessions.
    pub const SESSIONS: Ty = ty("Session[]", "List[_Json]");
    /// A login result.
    pub const LOGIN_RESULT: Ty = ty("LoginResult", "_Json");
    /// A login result or nothing.
    pub const LOGIN_RESULT_OR_NULL: Ty = ty("LoginResult | null", "Optional[_Json]");
    /// An impersonation result.
    pub const IMPERSONATION_RESULT: Ty = ty("ImpersonationResult", "_Json");
    /// Login parameters.
    pub const LOGIN_PARAMS: Ty = ty("LoginParams", "_Json");
    /// Connection infos.
    pub const INFOS: Ty = ty("ConnectionInfo", "_Json");
    /// A JSON object.
    pub const OBJECT: Ty = ty("Record<string, unknown>", "_Json");
    /// JSON objects.
    pub const OBJECTS: Ty = wired("Record<string, unknown>[]", "List[_Json]", Wire::List);
    /// Recovery codes.
    pub const STRINGS: Ty = ty("string[]", "List[str]");
    /// A linked account.
    pub const LINKED_ACCOUNT: Ty = ty("LinkedAccount", "_Json");
    /// Linked accounts.
    pub const LINKED_ACCOUNTS: Ty = ty("LinkedAccount[]", "List[_Json]");
    /// A passkey.
    pub const PASSKEY: Ty = ty("Passkey", "_Json");
    /// Passkeys.
    pub const PASSKEYS: Ty = ty("Passkey[]", "List[_Json]");
}

/// One argument of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    /// The accounts-js name (camelCase; Python spells it in snake_case).
    pub name: &'static str,
    /// Its type.
    pub ty: Ty,
    /// The Python default when the argument may be left out (`"None"`, `"False"`); TypeScript
    /// marks such an argument optional.
    pub default: Option<&'static str>,
    /// Python's name where it is not [`snake_case`] of `name`.
    pub python: Option<&'static str>,
}

impl Arg {
    /// The argument's Python name.
    pub fn python_name(&self) -> String {
        self.python.map_or_else(|| snake_case(self.name), str::to_string)
    }
}

const fn arg(name: &'static str, ty: Ty) -> Arg {
    Arg { name, ty, default: None, python: None }
}

const fn opt(name: &'static str, ty: Ty) -> Arg {
    Arg { name, ty, default: Some("None"), python: None }
}

/// One public operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The accounts-js method name (Node's).
    pub js: &'static str,
    /// The Python method name.
    pub python: &'static str,
    /// The exported C function.
    pub c: &'static str,
    /// The object carrying it.
    pub service: Service,
    /// Its arguments, in order.
    pub args: &'static [Arg],
    /// What it resolves with.
    pub result: Ty,
    /// How a binding runs it.
    pub class: Class,
    /// Whether it takes connection infos (`{ip, userAgent}`), the last optional argument but one
    /// for `resetPassword`, else the last.
    pub infos: bool,
    /// One line of documentation.
    pub doc: &'static str,
}

use types::*;

macro_rules! table {
    ($($id:ident = $js:literal, $py:literal, $c:literal, $service:ident, [$($arg:expr),*] -> $result:expr, $class:ident, infos: $infos:literal, $doc:literal;)*) => {
        $(
            #[doc = concat!("`", $js, "`: ", $doc)]
            pub const $id: Operation = Operation {
                js: $js,
                python: $py,
                c: $c,
                service: Service::$service,
                args: &[$($arg),*],
                result: $result,
                class: Class::$class,
                infos: $infos,
                doc: $doc,
            };
        )*
        /// Every public operation, in the order of the docs.
        pub const ALL: &[Operation] = &[$($id),*];
    };
}

table! {
    LOGIN_WITH_SERVICE = "loginWithService", "login_with_service", "accounts_server_login_with_service", Server,
        [arg("service", STRING), arg("params", LOGIN_PARAMS), opt("infos", INFOS)] -> LOGIN_RESULT, Hashing, infos: true,
        "Authenticates with a service (password, magicLink, oauth, webauthn, or a custom one) and starts a session.";
    AUTHENTICATE_WITH_SERVICE = "authenticateWithService", "authenticate_with_service", "accounts_server_authenticate_with_service", Server,
        [arg("service", STRING), arg("params", LOGIN_PARAMS), opt("infos", INFOS)] -> BOOL, Hashing, infos: true,
        "Authenticates with a service without starting a session.";
    LOGIN_WITH_USER = "loginWithUser", "login_with_user", "accounts_server_login_with_user", Server,
        [arg("user", USER_OR_ID), opt("infos", INFOS)] -> LOGIN_RESULT, Pool, infos: true,
        "Starts a session for a user the host has authenticated itself.";
    RESUME_SESSION = "resumeSession", "resume_session", "accounts_server_resume_session", Server,
        [arg("accessToken", TOKEN)] -> USER, Inline, infos: false,
        "The user of a valid access token (runs resumeSessionValidator).";
    REFRESH_TOKENS = "refreshTokens", "refresh_tokens", "accounts_server_refresh_tokens", Server,
        [arg("accessToken", TOKEN), arg("refreshToken", TOKEN), opt("infos", INFOS)] -> LOGIN_RESULT, Inline, infos: true,
        "Rotates the refresh token and signs a new access token.";
    LOGOUT = "logout", "logout", "accounts_server_logout", Server,
        [arg("accessToken", TOKEN)] -> VOID, Inline, infos: false,
        "Ends the session of an access token.";
    IMPERSONATE = "impersonate", "impersonate", "accounts_server_impersonate", Server,
        [arg("accessToken", TOKEN), arg("impersonated", ty("{ userId?: string; username?: string; email?: string }", "_Json")), opt("infos", INFOS)] -> IMPERSONATION_RESULT, Pool, infos: true,
        "Starts a session as another user when impersonationAuthorize allows it.";
    FIND_USER_BY_ID = "findUserById", "find_user_by_id", "accounts_server_find_user_by_id", Server,
        [arg("userId", STRING)] -> USER_OR_NULL, Inline, infos: false,
        "A user by id, or null.";
    FIND_SESSION_BY_ACCESS_TOKEN = "findSessionByAccessToken", "find_session_by_access_token", "accounts_server_find_session_by_access_token", Server,
        [arg("accessToken", TOKEN)] -> SESSION, Inline, infos: false,
        "The session of an access token.";
    DEACTIVATE_USER = "deactivateUser", "deactivate_user", "accounts_server_deactivate_user", Server,
        [arg("userId", STRING)] -> VOID, Pool, infos: false,
        "Refuses the user's logins and ends their sessions.";
    ACTIVATE_USER = "activateUser", "activate_user", "accounts_server_activate_user", Server,
        [arg("userId", STRING)] -> VOID, Pool, infos: false,
        "Lets a deactivated user log in again.";
    LIST_SESSIONS = "listSessions", "list_sessions", "accounts_server_list_sessions", Server,
        [arg("userId", STRING)] -> SESSIONS, Inline, infos: false,
        "Every session of a user, newest first.";
    REVOKE_SESSION = "revokeSession", "revoke_session", "accounts_server_revoke_session", Server,
        [arg("sessionId", STRING)] -> BOOL, Pool, infos: false,
        "Ends one session; says whether it was still valid.";
    REVOKE_ALL_SESSIONS = "revokeAllSessions", "revoke_all_sessions", "accounts_server_revoke_all_sessions", Server,
        [arg("userId", STRING), opt("options", ty("{ except?: string | string[] }", "_Json"))] -> COUNT, Pool, infos: false,
        "Ends every valid session of a user but `except`; the count.";
    IMPORT_USERS = "importUsers", "import_users", "accounts_server_import_users", Server,
        [arg("records", OBJECTS)] -> ty("{ imported: number; skipped: number; failed: { index: number; code: string; message: string }[] }", "_Json"), Pool, infos: false,
        "Imports users stored by accounts-js (mongo documents or typeorm rows).";
    PURGE_EXPIRED = "purgeExpired", "purge_expired", "accounts_server_purge_expired", Server,
        [] -> ty("{ tokens: number; attempts: number }", "_Json"), Pool, infos: false,
        "Deletes expired link tokens and attempt records.";
    RESEAL_ALL = "resealAll", "reseal_all", "accounts_server_reseal_all", Server,
        [] -> COUNT, Pool, infos: false,
        "Re-encrypts what older sealing secrets sealed with the current one; the count.";
    GET_JWKS = "getJwks", "get_jwks", "accounts_server_jwks", Server,
        [] -> ty("{ keys: Record<string, unknown>[] }", "_Json"), Synchronous, infos: false,
        "The JWKS document of the token signing key.";
    SET_KEYS = "setKeys", "set_keys", "accounts_server_set_keys", Server,
        [arg("tokenKeys", ty("TokenKeys", "_Json"))] -> VOID, Synchronous, infos: false,
        "Replaces the JWT key ring without a restart.";
    HANDLE_HTTP = "handleHttp", "handle_http", "accounts_server_handle_http", Server,
        [arg("request", wired("HttpRequest", "method: str, path: str, headers: List[Tuple[str, str]], body: bytes, peer: Optional[str] = None, query: Optional[str] = None", Wire::Request))] -> ty("HttpResponse", "Tuple[int, List[Tuple[str, str]], bytes]"), Hashing, infos: false,
        "Serves one request of the accounts-js REST API (a login route hashes; docs/web.md).";
    HTTP_USER = "httpUser", "http_user", "accounts_server_http_user", Server,
        [arg("request", wired("HttpRequest", "method: str, path: str, headers: List[Tuple[str, str]], peer: Optional[str] = None", Wire::Request))] -> ty("{ user: User; accessToken: string } | null", "Optional[Tuple[_Json, str]]"), Pool, infos: false,
        "The user of a request to an app's own route (bearer, or cookie with the CSRF checks), or null.";
    CREATE_USER = "createUser", "create_user", "accounts_password_create_user", Password,
        [arg("user", ty("{ username?: string; email?: string; password?: string; [field: string]: unknown }", "_Json"))] -> STRING, Hashing, infos: false,
        "Creates a user (username and/or email, password, profile fields); the new id.";
    AUTHENTICATE = "authenticate", "authenticate", "accounts_password_authenticate", Password,
        [arg("params", LOGIN_PARAMS)] -> USER, Hashing, infos: false,
        "Checks a user and password without starting a session.";
    FIND_USER_BY_EMAIL = "findUserByEmail", "find_user_by_email", "accounts_password_find_user_by_email", Password,
        [arg("email", STRING)] -> USER_OR_NULL, Inline, infos: false,
        "A user by email address (case-insensitive), or null.";
    FIND_USER_BY_USERNAME = "findUserByUsername", "find_user_by_username", "accounts_password_find_user_by_username", Password,
        [arg("username", STRING)] -> USER_OR_NULL, Inline, infos: false,
        "A user by username, or null.";
    SET_PASSWORD = "setPassword", "set_password", "accounts_password_set_password", Password,
        [arg("userId", STRING), arg("password", STRING)] -> VOID, Hashing, infos: false,
        "Sets a user's password (no old password needed).";
    ADD_EMAIL = "addEmail", "add_email", "accounts_password_add_email", Password,
        [arg("userId", STRING), Arg { python: Some("email"), ..arg("newEmail", STRING) }, Arg { default: Some("False"), ..arg("verified", BOOL) }] -> VOID, Pool, infos: false,
        "Adds an email address to a user.";
    REMOVE_EMAIL = "removeEmail", "remove_email", "accounts_password_remove_email", Password,
        [arg("userId", STRING), arg("email", STRING)] -> VOID, Pool, infos: false,
        "Removes an email address from a user.";
    SEND_VERIFICATION_EMAIL = "sendVerificationEmail", "send_verification_email", "accounts_password_send_verification_email", Password,
        [arg("address", STRING)] -> VOID, Pool, infos: false,
        "Mails a verification link for an address.";
    VERIFY_EMAIL = "verifyEmail", "verify_email", "accounts_password_verify_email", Password,
        [arg("token", STRING)] -> VOID, Pool, infos: false,
        "Marks the address of a verification link verified.";
    SEND_RESET_PASSWORD_EMAIL = "sendResetPasswordEmail", "send_reset_password_email", "accounts_password_send_reset_password_email", Password,
        [arg("address", STRING)] -> VOID, Pool, infos: false,
        "Mails a password reset link.";
    SEND_ENROLLMENT_EMAIL = "sendEnrollmentEmail", "send_enrollment_email", "accounts_password_send_enrollment_email", Password,
        [arg("address", STRING)] -> VOID, Pool, infos: false,
        "Mails an enrollment link (set a first password).";
    RESET_PASSWORD = "resetPassword", "reset_password", "accounts_password_reset_password", Password,
        [arg("token", STRING), arg("newPassword", STRING), opt("infos", INFOS), opt("code", STRING)] -> LOGIN_RESULT_OR_NULL, Hashing, infos: true,
        "Sets a new password with a reset or enrollment link; a session when autologin is on (with two-factor on, only with a valid `code`).";
    CHANGE_PASSWORD = "changePassword", "change_password", "accounts_password_change_password", Password,
        [arg("userId", STRING), arg("oldPassword", STRING), arg("newPassword", STRING)] -> VOID, Hashing, infos: false,
        "Changes a password given the old one.";
    GET_NEW_AUTH_SECRET = "getNewAuthSecret", "get_new_auth_secret", "accounts_password_two_factor_get_new_auth_secret", TwoFactor,
        [] -> ty("AuthSecret", "_Json"), Synchronous, infos: false,
        "A fresh TOTP secret (base32 and otpauth URL) to show the user.";
    SET_TWO_FACTOR = "set", "set", "accounts_password_two_factor_set", TwoFactor,
        [arg("userId", STRING), arg("secret", wired("string | { base32: string }", "Union[str, _Json]", Wire::Any)), arg("code", STRING)] -> STRINGS, Pool, infos: false,
        "Turns two-factor on with a secret and a current code; the recovery codes (shown once).";
    UNSET_TWO_FACTOR = "unset", "unset", "accounts_password_two_factor_unset", TwoFactor,
        [arg("userId", STRING), arg("code", STRING)] -> VOID, Pool, infos: false,
        "Turns two-factor off given a current code.";
    REGENERATE_RECOVERY_CODES = "regenerateRecoveryCodes", "regenerate_recovery_codes", "accounts_password_two_factor_regenerate_recovery_codes", TwoFactor,
        [arg("userId", STRING), arg("code", STRING)] -> STRINGS, Pool, infos: false,
        "Replaces the recovery codes given a current code.";
    IS_TWO_FACTOR_SET = "isSet", "is_set", "accounts_password_two_factor_is_set", TwoFactor,
        [arg("userId", STRING)] -> BOOL, Pool, infos: false,
        "Whether two-factor is on for a user.";
    REQUEST_MAGIC_LINK_EMAIL = "requestMagicLinkEmail", "request_magic_link_email", "accounts_magic_link_request_magic_link_email", MagicLink,
        [arg("email", STRING)] -> VOID, Pool, infos: false,
        "Mails a one-time login link.";
    AUTHORIZATION_URL = "authorizationUrl", "authorization_url", "accounts_oauth_authorization_url", OAuth,
        [arg("provider", STRING), opt("options", ty("{ loginHint?: string; prompt?: string; purpose?: 'login' | 'link' }", "_Json")), opt("infos", INFOS)] -> ty("{ url: string; state: string }", "_Json"), Pool, infos: true,
        "Starts an OpenID Connect login: the URL to redirect the browser to (the client's address bounds its pending flows).";
    CHECK_PROVIDERS = "checkProviders", "check_providers", "accounts_oauth_check_providers", OAuth,
        [] -> VOID, Pool, infos: false,
        "Fetches every OpenID provider's discovery and keys; fails naming the first that fails.";
    LINK_ACCOUNT = "linkAccount", "link_account", "accounts_oauth_link_account", OAuth,
        [arg("userId", STRING), arg("provider", STRING), arg("params", OBJECT)] -> LINKED_ACCOUNT, Pool, infos: false,
        "Links the provider identity the params prove to a user.";
    UNLINK_ACCOUNT = "unlinkAccount", "unlink_account", "accounts_oauth_unlink_account", OAuth,
        [arg("userId", STRING), arg("provider", STRING)] -> VOID, Pool, infos: false,
        "Removes a user's identity at a provider (not their last way in).";
    LIST_LINKED_ACCOUNTS = "listLinkedAccounts", "list_linked_accounts", "accounts_oauth_list_linked_accounts", OAuth,
        [arg("userId", STRING)] -> LINKED_ACCOUNTS, Pool, infos: false,
        "A user's provider identities.";
    PROVIDER_TOKENS = "providerTokens", "provider_tokens", "accounts_oauth_provider_tokens", OAuth,
        [arg("userId", STRING), arg("provider", STRING)] -> ty("ProviderTokens | null", "Optional[_Json]"), Pool, infos: false,
        "The provider's own tokens kept from the last login or link, or null.";
    REGISTRATION_OPTIONS = "registrationOptions", "registration_options", "accounts_webauthn_registration_options", WebAuthn,
        [arg("userId", STRING)] -> ty("PublicKeyCredentialCreationOptionsJSON", "_Json"), Pool, infos: false,
        "Starts adding a passkey to a user: the options for navigator.credentials.create (JSON form).";
    REGISTER = "register", "register", "accounts_webauthn_register", WebAuthn,
        [arg("userId", STRING), arg("response", ty("RegistrationResponseJSON", "_Json")), opt("options", ty("{ name?: string }", "_Json"))] -> PASSKEY, Pool, infos: false,
        "Verifies the browser's answer to registrationOptions and stores the passkey.";
    AUTHENTICATION_OPTIONS = "authenticationOptions", "authentication_options", "accounts_webauthn_authentication_options", WebAuthn,
        [opt("options", ty("{ userId?: string; username?: string; email?: string }", "_Json")), opt("infos", INFOS)] -> ty("PublicKeyCredentialRequestOptionsJSON", "_Json"), Pool, infos: true,
        "Starts a passkey sign-in (no user: usernameless and conditional mediation): the options for navigator.credentials.get.";
    LIST_PASSKEYS = "listPasskeys", "list_passkeys", "accounts_webauthn_list_passkeys", WebAuthn,
        [arg("userId", STRING)] -> PASSKEYS, Pool, infos: false,
        "A user's passkeys.";
    RENAME_PASSKEY = "renamePasskey", "rename_passkey", "accounts_webauthn_rename_passkey", WebAuthn,
        [arg("userId", STRING), arg("passkeyId", STRING), arg("name", STRING)] -> PASSKEY, Pool, infos: false,
        "Renames one of a user's passkeys.";
    REMOVE_PASSKEY = "removePasskey", "remove_passkey", "accounts_webauthn_remove_passkey", WebAuthn,
        [arg("userId", STRING), arg("passkeyId", STRING)] -> VOID, Pool, infos: false,
        "Removes one of a user's passkeys (not their last way in).";
    VERIFY_ACCESS_TOKEN = "verifyAccessToken", "verify_access_token", "accounts_verify_access_token", Module,
        [arg("token", TOKEN), arg("options", ty("VerifyOptions", "_Json"))] -> OBJECT, Synchronous, infos: false,
        "Verifies an access token without a server (another service holding the JWKS or key); its claims.";
}

/// How many rows have `class`.
const fn count(class: Class) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < ALL.len() {
        if ALL[i].class.same(class) {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The accounts-js names of the rows of `class`, in table order.
const fn names<const N: usize>(class: Class) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut j) = (0, 0);
    while i < ALL.len() {
        if ALL[i].class.same(class) {
            out[j] = ALL[i].js;
            j += 1;
        }
        i += 1;
    }
    out
}

pub(crate) const HASHING: [&str; count(Class::Hashing)] = names(Class::Hashing);
pub(crate) const INLINE: [&str; count(Class::Inline)] = names(Class::Inline);

/// Python's spelling of an accounts-js name: `findUserById` → `find_user_by_id`.
pub fn snake_case(js: &str) -> String {
    let mut out = String::new();
    for ch in js.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The row of the operation named `js` (its accounts-js name) on `service`.
pub fn find(service: Service, js: &str) -> Option<&'static Operation> {
    ALL.iter().find(|op| op.service == service && op.js == js)
}

/// The class of the operation named `js` (on any object); `None` for a name not in the table.
pub fn class_of(js: &str) -> Option<Class> {
    ALL.iter().find(|op| op.js == js).map(|op| op.class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_spelled_consistently() {
        let mut seen = std::collections::HashSet::new();
        for op in ALL {
            assert!(seen.insert((op.service as u8, op.js)), "{} twice", op.js);
            assert!(op.c.starts_with("accounts_"), "{}", op.c);
            assert_eq!(op.python, snake_case(op.js), "Python spells {} in snake_case", op.js);
            assert_eq!(op.infos, op.args.iter().any(|a| a.name == "infos"), "{}: infos flag and arguments agree", op.js);
            // An optional argument is never followed by a required one.
            let first_optional = op.args.iter().position(|a| a.default.is_some()).unwrap_or(op.args.len());
            assert!(op.args[first_optional..].iter().all(|a| a.default.is_some()), "{}", op.js);
            assert!(!op.doc.is_empty() && !op.doc.contains('\n'), "{}", op.js);
        }
        // The names in the global lookups are unique across services.
        let js: std::collections::HashSet<_> = ALL.iter().map(|op| op.js).collect();
        assert_eq!(js.len(), ALL.len());
    }

    #[test]
    fn derived_lists() {
        assert_eq!(HASHING.len(), ALL.iter().filter(|op| op.class == Class::Hashing).count());
        assert!(HASHING.contains(&"createUser") && HASHING.contains(&"resetPassword") && !HASHING.contains(&"addEmail"));
        assert!(INLINE.contains(&"resumeSession") && !INLINE.contains(&"createUser"));
        assert_eq!(class_of("resetPassword"), Some(Class::Hashing));
        assert_eq!(find(Service::TwoFactor, "set").map(|op| op.c), Some("accounts_password_two_factor_set"));
        assert_eq!(class_of("nope"), None);
    }
}
