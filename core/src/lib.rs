//! accounts-core: the accounts-js server (`@accounts/server` + `@accounts/password`) in Rust.
//!
//! All behaviour lives here; the C, Python and Node faces only convert and map errors.
//! Start with [`AccountsServer::new`] and a [`Config`].
// No unsafe code, but for one registration of a fork handler (store/per_process.rs).
#![deny(unsafe_code)]

mod attempts;
pub mod callbacks;
pub mod clock;
pub mod config;
mod email;
pub mod error;
mod hashing;
pub mod identifiers;
pub mod import;
pub mod input;
pub mod magic_link;
pub mod mail;
mod messages;
pub mod password;
pub mod secret;
pub mod server;
pub mod services;
pub mod store;
pub mod tokens;
pub mod two_factor;
pub mod types;

pub use callbacks::{Callbacks, ListenerId, events};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use error::{AccountsError, ErrorCode, Result};
pub use import::{ImportFailure, ImportReport};
pub use magic_link::MagicLink;
pub use password::Password;
pub use two_factor::{AuthSecret, TwoFactor};
pub use server::AccountsServer;
pub use services::AuthService;
pub use tokens::{VerifyOptions, verify_access_token};
pub use types::*;

/// The library version (same for every crate and package).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
