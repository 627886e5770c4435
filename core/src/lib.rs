//! accounts-core: the accounts-js server (`@accounts/server` + `@accounts/password`, two-factor
//! and magic links) in Rust.
//!
//! All behaviour lives here; the C, Python and Node faces only convert, schedule and map errors.
//! Start with [`AccountsServer::new`] and a [`Config`]. The module tree, from the bottom up
//! (docs/architecture.md):
//!
//! - foundations: [`error`], [`types`], [`config`], [`clock`], `secret`, `identifiers`, `input`,
//!   [`operations`] (the table of public operations the bindings and codegen read), [`callbacks`]
//!   (host callbacks and the event bus), `store`, [`tokens`], `oidc` (the OpenID Connect relying
//!   party), `inline` (calls that never wait), `hashing`, `messages`, [`mail`] — the plumbing ones
//!   (unlinked) private, shared with the bindings and tests under the hidden `host` module;
//! - `context`: what every service shares; `auth`: what an authentication hands the login;
//! - services, each depending only on the context and the services below it: `attempts`,
//!   `links`, `sessions` (with `session_cache`), [`two_factor`], [`password`], [`magic_link`], [`oauth`], [`import`];
//! - [`server`]: the [`AccountsServer`] facade, the service registry and the login orchestration;
//! - [`web`]: the HTTP edge over the facade (the accounts-js REST API, cookie sessions, CSRF).
// No unsafe code, but for one registration of a fork handler (store/per_process.rs).
#![deny(unsafe_code)]
#![warn(missing_docs)]
// Errors are coded, never a panic: no `unwrap` outside tests (docs/architecture.md, "Gates").
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod attempts;
mod auth;
pub mod callbacks;
pub mod clock;
pub mod config;
mod context;
pub mod error;
mod hashing;
mod identifiers;
pub mod import;
mod inline;
mod input;
mod links;
pub mod magic_link;
pub mod mail;
mod messages;
pub mod oauth;
mod oidc;
pub mod operations;
pub mod password;
mod secret;
pub mod server;
mod session_cache;
mod sessions;
mod store;
pub mod tokens;
pub mod two_factor;
pub mod types;
pub mod web;
pub mod webauthn;

pub use auth::{Authenticated, Completion};
pub use callbacks::{Callbacks, ListenerId, events};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use error::{AccountsError, ErrorCode, Result};
pub use import::{ImportFailure, ImportReport};
pub use magic_link::MagicLink;
pub use password::Password;
pub use server::{AccountsServer, AuthService};
pub use tokens::{VerifyOptions, verify_access_token};
pub use two_factor::{AuthSecret, TwoFactor};
pub use types::*;
pub use webauthn::{Passkey, WebAuthn};

/// Plumbing the C library, the bindings, codegen and the tests of this workspace share — input
/// bounds and argument shapes, inline calls, the store, sealing, identifier rules, the OpenID
/// relying party. Not a public API: no stability promise, not documented (docs/architecture.md,
/// "Public surface").
#[doc(hidden)]
pub mod host {
    /// Each plumbing module under its own name: `host::store::Store` is `crate::store::Store`.
    macro_rules! reexport {
        ($($(#[$doc:meta])* $name:ident;)*) => {
            $($(#[$doc])* pub mod $name { pub use crate::$name::*; })*
        };
    }
    reexport! {
        /// The store (see `store_of`).
        store;
        /// Input bounds and argument shapes.
        input;
        /// Calls that never wait.
        inline;
        /// Sealing and digests.
        secret;
        /// Username and email rules.
        identifiers;
        /// The OpenID Connect relying party.
        oidc;
    }

    /// The store of a server (tests and tools of this workspace; custom services use the
    /// server's methods).
    pub fn store_of(server: &crate::AccountsServer) -> &dyn crate::store::Store {
        server.store()
    }
}

/// The library version (same for every crate and package).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
