//! Self-signed certificates for development (`outpost cert self-signed`).

use crate::error::{Result, TlsError};
use std::path::Path;

/// A generated certificate and key, both PEM.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// PEM certificate.
    pub cert_pem: String,
    /// PEM PKCS#8 private key (ECDSA P-256).
    pub key_pem: String,
}

/// Generates a self-signed ECDSA P-256 certificate valid for `hosts` (DNS names or IPs).
pub fn self_signed(hosts: &[&str]) -> Result<SelfSigned> {
    let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    let rcgen::CertifiedKey { cert, key_pair } = rcgen::generate_simple_self_signed(names)?;
    Ok(SelfSigned {
        cert_pem: cert.pem(),
        key_pem: key_pair.serialize_pem(),
    })
}

impl SelfSigned {
    /// Writes the pair, each atomically; the key file gets mode 0600.
    pub fn write(&self, cert_path: &Path, key_path: &Path) -> Result<()> {
        let write = |path: &Path, pem: &str, access| {
            outpost_files::write(path, pem.as_bytes(), access).map_err(|source| TlsError::Write {
                path: path.to_path_buf(),
                source,
            })
        };
        write(cert_path, &self.cert_pem, outpost_files::Access::Keep)?;
        write(key_path, &self.key_pem, outpost_files::Access::Private)
    }
}
