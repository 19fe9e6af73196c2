//! The one error type of this crate.

use std::path::PathBuf;

/// Result alias for TLS operations.
pub type Result<T> = std::result::Result<T, TlsError>;

/// Everything that can go wrong loading or generating certificates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A PEM file held no usable certificate.
    #[error("{}: no PEM certificate found (expected \"-----BEGIN CERTIFICATE-----\")", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A PEM file held no usable private key.
    #[error("{}: no private key found (expected PKCS#8, PKCS#1 RSA or SEC1 EC key in PEM)", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key type is not supported or the key is malformed.
    #[error("{}: unsupported or malformed private key: {reason}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// Why rustls refused it.
        reason: String,
    },
    /// The leaf certificate could not be parsed.
    #[error("{}: malformed certificate: {reason}", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The private key does not belong to the certificate.
    #[error("{}: private key {} does not match the certificate", cert.display(), key.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// An OCSP response file cannot be stapled to its certificate.
    #[error("{}: OCSP response not usable: {reason}", path.display())]
    BadOcsp {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Generating a certificate failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// The ACME CA refused or failed a request, or could not be reached.
    #[error("ACME order for {names}: {source}")]
    Acme {
        /// The names ordered, comma-separated.
        names: String,
        /// What instant-acme reported (a CA problem document, HTTP or timeout).
        source: instant_acme::Error,
    },
    /// An ACME order ended in a state we cannot use (invalid authorization, …).
    #[error("ACME order for {names}: {reason}")]
    AcmeOrder {
        /// The names ordered, comma-separated.
        names: String,
        /// What went wrong.
        reason: String,
    },
    /// Stored ACME account data could not be read back.
    #[error("{}: unusable ACME account data: {source}", path.display())]
    AcmeAccount {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
}
