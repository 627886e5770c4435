//! Authentication services (accounts-js `AuthenticationService`): `password` and `magicLink` are
//! built in; a host can register its own from Rust.

use crate::error::Result;
use crate::server::AccountsServer;
use crate::store::Writes;
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

    /// As [`AuthService::authenticate`], but a service whose login uses something up (a one-time
    /// link, a code) leaves that to the returned [`Authenticated::complete`], which the server runs
    /// in the transaction that creates the session: the login happens wholly or not at all
    /// (docs/reliability.md, "Atomic flows"). The default completes nothing.
    ///
    /// # Errors
    /// As [`AuthService::authenticate`].
    fn authenticate_pending(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<Authenticated>> {
        Ok(self.authenticate(server, params, infos)?.map(|user| Authenticated { user, complete: None }))
    }

    /// Whether `authenticate` already checked the second factor (only the built-in services do).
    fn checks_second_factor(&self) -> bool {
        false
    }
}

/// Writes that complete a login, run inside the session's transaction.
pub type Completion = Box<dyn Fn(&mut dyn Writes) -> Result<()> + Send + Sync>;

/// Who a service authenticated, and what is left to write when the login goes ahead.
pub struct Authenticated {
    /// The user as they will be once `complete` has run.
    pub user: User,
    pub complete: Option<Completion>,
}

/// The built-in `password` service: `params` as accepted by [`crate::password::Password::authenticate`].
pub(crate) struct PasswordAuthService;

impl AuthService for PasswordAuthService {
    fn authenticate(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<User>> {
        server.password().authenticate_unsanitized(params, infos).map(Some)
    }

    /// The second factor's code is used up with the session.
    fn authenticate_pending(&self, server: &AccountsServer, params: &Value, infos: &ConnectionInfo) -> Result<Option<Authenticated>> {
        let (user, second_factor) = server.password().authenticate_pending(params, infos)?;
        let complete = second_factor.map(|used| Box::new(move |w: &mut dyn Writes| used.apply(w)) as Completion);
        Ok(Some(Authenticated { user, complete }))
    }

    fn checks_second_factor(&self) -> bool {
        true
    }
}
