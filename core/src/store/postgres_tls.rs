//! TLS for PostgreSQL connections: rustls (ring) with the system's root certificates.
//!
//! The URL's `sslmode` decides whether it is used: `disable` never, `prefer` (the default) when the
//! server offers it, `require` always. Whenever TLS is used, the server certificate and host name
//! are verified against the system roots (rustls does not connect to unverified servers).

use crate::error::{AccountsError, ErrorCode, Result};
use std::sync::Arc;

pub(crate) type Tls = tokio_postgres_rustls::MakeRustlsConnect;

pub(crate) fn connector() -> Result<Tls> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates only limit which servers verify; they are not fatal here.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AccountsError::new(ErrorCode::InternalError, format!("tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
