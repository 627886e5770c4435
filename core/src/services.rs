//! Authentication services (accounts-js `AuthenticationService`): `password` is built in; a host can
//! register its own from Rust.

use crate::error::Result;
use crate::server::AccountsServer;
use crate::types::User;
use serde_json::Value;

/// A way to find out who a caller is from `params` (e.g. OAuth, API keys).
pub trait AuthService: Send + Sync {
    /// Returns the authenticated user, `None` when nobody matches (reported as `AuthenticationFailed`),
    /// or a coded error.
    ///
    /// # Errors
    /// Whatever the service wants the caller to see; it is passed through unchanged.
    fn authenticate(&self, server: &AccountsServer, params: &Value) -> Result<Option<User>>;
}

/// The built-in `password` service: `params` as accepted by [`crate::password::Password::authenticate`].
pub(crate) struct PasswordAuthService;

impl AuthService for PasswordAuthService {
    fn authenticate(&self, server: &AccountsServer, params: &Value) -> Result<Option<User>> {
        server.password().authenticate_unsanitized(params).map(Some)
    }
}
