//! The ACME storage directory: `accounts/<id>.json` (one account per CA directory)
//! and `certs/<first name>/{cert.pem,key.pem}`. Every file is written to a temporary
//! name, synced and renamed, with mode 0600, so a crash leaves the old file or the
//! new one, never half of one; a file that does not check out is re-issued, never
//! served.

use crate::error::{Result, TlsError};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A certificate read back from storage (or just issued), checked.
#[derive(Debug, Clone)]
pub struct StoredCert {
    /// Ready for the SNI resolver.
    pub key: std::sync::Arc<CertifiedKey>,
    /// DNS names it covers.
    pub names: Vec<String>,
    /// Validity window.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// Where the chain is.
    pub path: PathBuf,
}

impl StoredCert {
    /// When to renew: two thirds into the validity window, moved earlier by up to
    /// 1/30 of the window by `spread` (a per-certificate value in 0..1) so that
    /// certificates issued together do not all renew in the same instant.
    pub fn renew_at(&self, spread: f64) -> SystemTime {
        let life = self
            .not_after
            .duration_since(self.not_before)
            .unwrap_or(Duration::ZERO);
        let at = life.mul_f64(2.0 / 3.0) - life.mul_f64(spread.clamp(0.0, 1.0) / 30.0);
        self.not_before + at
    }
}

/// The directory for the certificate whose first name is `name`.
pub(crate) fn cert_dir(storage: &Path, name: &str) -> PathBuf {
    // Names are validated host names; keep anything else out of the path anyway.
    let safe: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '.' => c,
            _ => '_',
        })
        .collect();
    storage.join("certs").join(safe)
}

/// The account file for the CA at `directory_url`.
pub(crate) fn account_path(storage: &Path, directory_url: &str) -> PathBuf {
    let digest = ring::digest::digest(&ring::digest::SHA256, directory_url.as_bytes());
    let id: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    storage.join("accounts").join(format!("{id}.json"))
}

/// Writes `data` to `path` atomically with mode 0600, creating the directory (0700).
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    outpost_files::write(path, data, outpost_files::Access::Private).map_err(|source| {
        TlsError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Stores an issued chain and key for `names`.
pub(crate) fn save(storage: &Path, names: &[String], chain_pem: &str, key_pem: &str) -> Result<()> {
    let dir = cert_dir(storage, names.first().map_or("default", |n| n.as_str()));
    // Key first: a crash between the two leaves a new key with the old chain, which
    // fails the key check on load and is re-issued, never served.
    write_atomic(&dir.join("key.pem"), key_pem.as_bytes())?;
    write_atomic(&dir.join("cert.pem"), chain_pem.as_bytes())
}

/// Loads the stored certificate for `names`: `Ok(None)` if there is none, an error
/// if it is unusable (unreadable, malformed, key mismatch, missing a name, expired).
pub fn load(storage: &Path, names: &[String]) -> Result<Option<StoredCert>> {
    let dir = cert_dir(storage, names.first().map_or("default", |n| n.as_str()));
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if !cert.exists() && !key.exists() {
        return Ok(None);
    }
    let stored = read(&cert, &key)?;
    // A CA-issued leaf always comes with its intermediate: a chain cut after the
    // leaf would verify nowhere.
    if stored.key.cert.len() < 2
        && !stored
            .key
            .cert
            .first()
            .is_some_and(|c| self_issued(c.as_ref()))
    {
        return Err(TlsError::BadCertificate {
            path: cert,
            reason: "the chain holds the leaf but not its issuer (truncated?)".into(),
        });
    }
    if let Some(missing) = names
        .iter()
        .find(|n| !stored.names.iter().any(|s| s.eq_ignore_ascii_case(n)))
    {
        return Err(TlsError::BadCertificate {
            path: cert,
            reason: format!("does not cover {missing}"),
        });
    }
    if stored.not_after <= SystemTime::now() {
        return Err(TlsError::BadCertificate {
            path: cert,
            reason: "expired".into(),
        });
    }
    Ok(Some(stored))
}

/// Reads and checks a chain and key pair.
pub fn read(cert: &Path, key: &Path) -> Result<StoredCert> {
    let (certified, names) = crate::store::load_pair(cert, key)?;
    let leaf = certified
        .cert
        .first()
        .ok_or_else(|| TlsError::NoCertificate {
            path: cert.to_path_buf(),
        })?;
    let (not_before, not_after, issuer) =
        validity(leaf.as_ref()).map_err(|reason| TlsError::BadCertificate {
            path: cert.to_path_buf(),
            reason,
        })?;

    Ok(StoredCert {
        key: std::sync::Arc::new(certified),
        names,
        not_before,
        not_after,
        issuer,
        path: cert.to_path_buf(),
    })
}

fn self_issued(der: &[u8]) -> bool {
    use x509_parser::prelude::*;
    X509Certificate::from_der(der).is_ok_and(|(_, c)| c.issuer() == c.subject())
}

fn validity(der: &[u8]) -> std::result::Result<(SystemTime, SystemTime, String), String> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    let at = |t: ASN1Time| {
        let secs = t.timestamp();
        if secs >= 0 {
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
        } else {
            SystemTime::UNIX_EPOCH
        }
    };
    Ok((
        at(cert.validity().not_before),
        at(cert.validity().not_after),
        cert.issuer().to_string(),
    ))
}
