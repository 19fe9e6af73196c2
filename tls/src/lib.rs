//! Outpost's TLS termination: the certificate store and the rustls server config.
//!
//! This crate owns loading PEM certificate chains and private keys, indexing them by
//! the DNS names in their SAN extension, choosing one per handshake by SNI (exact
//! name, then `*.parent` wildcard, then the default certificate), and swapping the
//! whole set atomically on reload so that new handshakes see new certificates while
//! open connections keep theirs. It also writes self-signed development certificates, and obtains and renews
//! certificates from ACME CAs ([`acme`]), answering their challenges, and staples OCSP
//! responses the operator provides ([`ocsp`]).
//!
//! It must not know about HTTP, sites or pingora: `proxy` hands the resolver to its
//! listener. Only TLS 1.2 and 1.3 are offered.

pub mod acme;
mod error;
pub mod ocsp;
mod selfsigned;
mod store;

pub use error::{Result, TlsError};
pub use selfsigned::{SelfSigned, self_signed};
pub use store::{CertIndex, CertSource, CertStore, check_ocsp};

/// Installs the process-wide rustls crypto provider (ring), as pingora does.
///
/// Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
