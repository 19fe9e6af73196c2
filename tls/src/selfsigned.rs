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
    /// Writes the pair; the key file gets mode 0600 on Unix.
    pub fn write(&self, cert_path: &Path, key_path: &Path) -> Result<()> {
        std::fs::write(cert_path, &self.cert_pem).map_err(|source| TlsError::Write {
            path: cert_path.to_path_buf(),
            source,
        })?;
        write_private(key_path, self.key_pem.as_bytes()).map_err(|source| TlsError::Write {
            path: key_path.to_path_buf(),
            source,
        })
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}
