//! Authentication services (accounts-js `AuthenticationService`): `password` and `magicLink` are
//! built in; a host can register its own from Rust.

use crate::error::Result;
use crate::server::AccountsServer;
use crate::types::{ConnectionInfo, User};
use serde_json::Value;

/// A way to find out who a caller is from `params` (e.g. OAuth, API keys).
///
/// Whatever the service, a login that ends in a session requires the user's second factor when
/// they have one: unless [`AuthService::checks_second_factor`] says the service did it itself, the
/// server checks `params.code` after `authenticate` (docs/security.md, "No second-factor bypass").
pub trait AuthService: Send + Sync {
    /// Returns the authenticated user, `None` when nobody matches (reported as `AuthenticationFailed`),
    /// or a coded error. `infos` is the caller's connection (its `ip` feeds the attempt limits).
    ///
    /// # Errors
    /// Whatever the service wants the caller to see; it is passed through unchanged.
    fn authenticate(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<User>>;

    /// Whether `authenticate` already checked the second factor (only the built-in services do).
    fn checks_second_factor(&self) -> bool {
        false
    }
}

/// The built-in `password` service: `params` as accepted by [`crate::password::Password::authenticate`].
pub(crate) struct PasswordAuthService;

impl AuthService for PasswordAuthService {
    fn authenticate(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<User>> {
        server.password().authenticate_unsanitized(params, infos).map(Some)
    }

    fn checks_second_factor(&self) -> bool {
        true
    }
}
