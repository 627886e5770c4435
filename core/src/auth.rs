//! What an authentication hands to the login that follows it: the user, and the writes that
//! complete the login (a one-time link taken, a code used up), run in the transaction that
//! creates the session so the login happens wholly or not at all (docs/reliability.md, "Atomic flows").

use crate::error::Result;
use crate::store::Writes;
use crate::types::User;

/// Writes that complete a login, run inside the session's transaction.
pub type Completion = Box<dyn Fn(&mut dyn Writes) -> Result<()> + Send + Sync>;

/// Who a service authenticated, and what is left to write when the login goes ahead.
pub struct Authenticated {
    /// The user as they will be once `complete` has run.
    pub user: User,
    /// The writes that complete the login, if any.
    pub complete: Option<Completion>,
}
