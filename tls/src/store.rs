//! The certificate store: an SNI index swapped atomically on reload.

use crate::error::{Result, TlsError};
use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where to load one certificate from.
#[derive(Debug, Clone)]
pub struct CertSource {
    /// PEM chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// Serve it when no other certificate matches the SNI (or there is no SNI).
    pub default: bool,
    /// A DER OCSP response to staple, checked by [`crate::ocsp::inspect`].
    pub ocsp: Option<PathBuf>,
}

/// An immutable index from server name to certificate.
#[derive(Debug, Default)]
pub struct CertIndex {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by the parent of the wildcard: `*.example.com` is stored as `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
    names: Vec<String>,
    /// A named host with no certificate gets no default (the handshake fails).
    refuse_unknown: bool,
}

impl CertIndex {
    /// Loads and indexes every certificate. Fails on the first unusable one, so a
    /// reload with a broken file leaves the previous index in place.
    pub fn load(sources: &[CertSource]) -> Result<Self> {
        let mut index = CertIndex::default();
        for (i, src) in sources.iter().enumerate() {
            let (mut key, names) = load_pair(&src.cert, &src.key)?;
            if let Some(path) = &src.ocsp {
                key.ocsp = staple(&key, path)?;
            }
            let key = Arc::new(key);
            for name in &names {
                let name = name.to_ascii_lowercase();
                // First certificate listed wins a name shared by several.
                match name.strip_prefix("*.") {
                    Some(parent) => index
                        .wildcard
                        .entry(parent.to_string())
                        .or_insert_with(|| key.clone()),
                    None => index
                        .exact
                        .entry(name.clone())
                        .or_insert_with(|| key.clone()),
                };
                index.names.push(name);
            }
            if src.default || (i == 0 && !sources.iter().any(|s| s.default)) {
                index.default = Some(key.clone());
            }
        }
        Ok(index)
    }

    /// Refuse handshakes whose SNI names no certificate instead of serving the
    /// default (clients that send no SNI still get it).
    pub fn refusing_unknown(mut self, refuse: bool) -> Self {
        self.refuse_unknown = refuse;
        self
    }

    /// The certificate for `server_name` (SNI), falling back to the default.
    pub fn select(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = server_name {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some(k) = self.exact.get(&name) {
                return Some(k.clone());
            }
            // A wildcard covers exactly one label (RFC 6125 6.4.3).
            if let Some((_, parent)) = name.split_once('.')
                && let Some(k) = self.wildcard.get(parent)
            {
                return Some(k.clone());
            }
            if self.refuse_unknown {
                return None;
            }
        }
        self.default.clone()
    }

    /// All names covered, as listed in the certificates (for logs and status).
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// The live certificate set; implements rustls' [`ResolvesServerCert`].
///
/// Cloning the `Arc<CertStore>` into the listener once and calling
/// [`CertStore::replace`] on reload is all hot reload takes: each handshake reads the
/// index current at that moment, and established connections are unaffected.
#[derive(Debug, Default)]
pub struct CertStore {
    current: ArcSwap<CertIndex>,
    /// Certificates the ACME manager obtained (or placeholders for them), by exact
    /// name. Kept apart from `current`, so a config reload does not drop them.
    managed: ArcSwap<HashMap<String, Arc<CertifiedKey>>>,
}

impl CertStore {
    /// A store serving `index`.
    pub fn new(index: CertIndex) -> Self {
        CertStore {
            current: ArcSwap::from_pointee(index),
            managed: ArcSwap::default(),
        }
    }

    /// Serves `key` for each of `names` from the next handshake on (the ACME
    /// manager's hot swap; open connections keep the certificate they got).
    pub fn set_managed(&self, names: &[String], key: Arc<CertifiedKey>) {
        self.managed.rcu(|m| {
            let mut m = HashMap::clone(m);
            for n in names {
                m.insert(n.to_ascii_lowercase(), key.clone());
            }
            m
        });
    }

    /// Whether a managed certificate (or placeholder) is served for `name`.
    pub fn has_managed(&self, name: &str) -> bool {
        self.managed.load().contains_key(&name.to_ascii_lowercase())
    }

    /// Stops serving managed certificates for `names`.
    pub fn remove_managed(&self, names: &[String]) {
        self.managed.rcu(|m| {
            let mut m = HashMap::clone(m);
            for n in names {
                m.remove(&n.to_ascii_lowercase());
            }
            m
        });
    }

    /// The certificate a handshake for `server_name` gets: a configured certificate
    /// for the exact name, then a managed (ACME) one, then a configured wildcard,
    /// then the default.
    pub fn select(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let index = self.current.load();
        if let Some(name) = server_name {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some(k) = index.exact.get(&name) {
                return Some(k.clone());
            }
            if let Some(k) = self.managed.load().get(&name) {
                return Some(k.clone());
            }
        }
        index.select(server_name)
    }

    /// Atomically replaces the certificate set for new handshakes.
    pub fn replace(&self, index: CertIndex) {
        self.current.store(Arc::new(index));
    }

    /// The index now in use.
    pub fn current(&self) -> Arc<CertIndex> {
        self.current.load_full()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let picked = self.select(hello.server_name());
        if picked.is_none() {
            tracing::debug!(sni = ?hello.server_name(), "no certificate for server name");
        }
        picked
    }
}

pub(crate) fn load_pair(cert_path: &Path, key_path: &Path) -> Result<(CertifiedKey, Vec<String>)> {
    let cert_pem = std::fs::read(cert_path).map_err(|source| TlsError::Read {
        path: cert_path.to_path_buf(),
        source,
    })?;
    // Strict: one malformed block (a file cut short mid-write) fails the whole file,
    // rather than serving the chain without it.
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| TlsError::BadCertificate {
            path: cert_path.to_path_buf(),
            reason: format!("malformed PEM: {e}"),
        })?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_path_buf(),
        });
    };
    let names = dns_names(leaf).map_err(|reason| TlsError::BadCertificate {
        path: cert_path.to_path_buf(),
        reason,
    })?;

    let key_pem = std::fs::read(key_path).map_err(|source| TlsError::Read {
        path: key_path.to_path_buf(),
        source,
    })?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoKey {
        path: key_path.to_path_buf(),
    })?;
    let signing_key =
        rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| TlsError::BadKey {
            path: key_path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    if certified.keys_match().is_err() {
        return Err(TlsError::KeyMismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
        });
    }
    Ok((certified, names))
}

/// The OCSP response at `path` if it is one to staple for `key`'s leaf: an error when
/// it is unusable or says the certificate is revoked; `None` (with a warning) when it
/// has expired, since some clients fail on an expired staple but accept none.
fn staple(key: &CertifiedKey, path: &Path) -> Result<Option<Vec<u8>>> {
    let summary = ocsp_for(key, path)?;
    match summary.next_update {
        Some(t) if t < std::time::SystemTime::now() => {
            tracing::warn!(
                file = %path.display(),
                expired = %humantime::format_rfc3339_seconds(t),
                "OCSP response has expired; serving the certificate without a staple until the file is refreshed"
            );
            Ok(None)
        }
        _ => std::fs::read(path)
            .map(Some)
            .map_err(|source| TlsError::Read {
                path: path.to_path_buf(),
                source,
            }),
    }
}

/// Reads and checks the OCSP response at `path` against `key`'s leaf certificate.
pub(crate) fn ocsp_for(key: &CertifiedKey, path: &Path) -> Result<crate::ocsp::OcspSummary> {
    use x509_parser::prelude::*;
    let bad = |reason: String| TlsError::BadOcsp {
        path: path.to_path_buf(),
        reason,
    };
    let der = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let leaf = key.end_entity_cert().map_err(|e| bad(e.to_string()))?;
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).map_err(|e| bad(e.to_string()))?;
    let summary = crate::ocsp::inspect(&der, cert.raw_serial()).map_err(bad)?;
    if summary.status == crate::ocsp::CertStatus::Revoked {
        return Err(bad("the certificate is revoked".into()));
    }
    Ok(summary)
}

/// Loads a certificate pair and checks its OCSP response, for `outpost check`.
pub fn check_ocsp(src: &CertSource) -> Result<Option<crate::ocsp::OcspSummary>> {
    let Some(path) = &src.ocsp else {
        return Ok(None);
    };
    let (key, _) = load_pair(&src.cert, &src.key)?;
    ocsp_for(&key, path).map(Some)
}

/// DNS names from the SAN extension, or the subject CN when there is no SAN.
fn dns_names(leaf: &CertificateDer<'_>) -> std::result::Result<Vec<String>, String> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for gn in &san.value.general_names {
            if let GeneralName::DNSName(d) = gn {
                names.push(d.to_string());
            }
        }
    }
    if names.is_empty() {
        for cn in cert.subject().iter_common_name() {
            if let Ok(s) = cn.as_str() {
                names.push(s.to_string());
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::self_signed;

    fn write_pair(dir: &Path, name: &str, hosts: &[&str]) -> CertSource {
        let pair = self_signed(hosts).expect("generate");
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        pair.write(&cert, &key).expect("write");
        CertSource {
            cert,
            key,
            default: false,
            ocsp: None,
        }
    }

    #[test]
    fn selects_exact_wildcard_and_default() {
        crate::install_crypto_provider();
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write_pair(dir.path(), "a", &["a.test"]);
        let w = write_pair(dir.path(), "w", &["*.w.test"]);
        let index = CertIndex::load(&[a, w]).expect("load");
        let ptr =
            |k: Option<Arc<CertifiedKey>>| k.map(|k| k.end_entity_cert().map(|c| c.to_vec()).ok());
        let a_cert = ptr(index.select(Some("a.test")));
        let w_cert = ptr(index.select(Some("x.w.test")));
        assert!(a_cert.is_some() && w_cert.is_some());
        assert_ne!(a_cert, w_cert);
        assert_eq!(ptr(index.select(Some("A.TEST."))), a_cert);
        // A wildcard covers one label only; deeper names fall back to the default (the first).
        assert_eq!(ptr(index.select(Some("y.x.w.test"))), a_cert);
        assert_eq!(ptr(index.select(None)), a_cert);

        // tls.unknown_sni: refuse — a named stranger gets no certificate (an alert),
        // a client without SNI still gets the default.
        let index = index.refusing_unknown(true);
        assert!(index.select(Some("unknown.test")).is_none());
        assert!(index.select(Some("y.x.w.test")).is_none());
        assert_eq!(ptr(index.select(None)), a_cert);
        assert_eq!(ptr(index.select(Some("a.test"))), a_cert);
    }

    #[test]
    fn rejects_mismatched_key_and_garbage() {
        crate::install_crypto_provider();
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write_pair(dir.path(), "a", &["a.test"]);
        let b = write_pair(dir.path(), "b", &["b.test"]);
        let mixed = CertSource {
            cert: a.cert.clone(),
            key: b.key.clone(),
            default: false,
            ocsp: None,
        };
        assert!(matches!(
            CertIndex::load(&[mixed]),
            Err(TlsError::KeyMismatch { .. })
        ));
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a pem").expect("write");
        let bad = CertSource {
            cert: junk,
            key: a.key.clone(),
            default: false,
            ocsp: None,
        };
        assert!(matches!(
            CertIndex::load(&[bad]),
            Err(TlsError::NoCertificate { .. })
        ));
    }
}
