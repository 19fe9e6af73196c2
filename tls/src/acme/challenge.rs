//! Answers to the CA's challenges while an order is open: HTTP-01 tokens (served by
//! the proxy's plain-HTTP listener) and TLS-ALPN-01 validation certificates (served
//! by a handshake on the HTTPS port that offers only `acme-tls/1`).

use crate::error::Result;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The path prefix of HTTP-01 requests.
pub const HTTP01_PREFIX: &str = "/.well-known/acme-challenge/";

/// Challenge answers for orders in progress. Shared by the ACME manager (which
/// fills it) and the listeners (which read it).
#[derive(Debug, Default)]
pub struct AcmeChallenges {
    /// HTTP-01: token → key authorization.
    http: RwLock<HashMap<String, String>>,
    /// TLS-ALPN-01: name → validation certificate.
    alpn: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl AcmeChallenges {
    /// The body to answer `GET /.well-known/acme-challenge/TOKEN` with, if `path`
    /// is such a request for a token of an open order.
    pub fn http_response(&self, path: &str) -> Option<String> {
        let token = path.strip_prefix(HTTP01_PREFIX)?;
        self.http.read().ok()?.get(token).cloned()
    }

    /// Whether any TLS-ALPN-01 challenge is open (the listener only looks at
    /// ClientHellos while one is).
    pub fn alpn_pending(&self) -> bool {
        self.alpn.read().is_ok_and(|m| !m.is_empty())
    }

    pub(crate) fn put_http(&self, token: &str, key_authorization: &str) {
        if let Ok(mut m) = self.http.write() {
            m.insert(token.to_string(), key_authorization.to_string());
        }
    }

    pub(crate) fn remove_http(&self, token: &str) {
        if let Ok(mut m) = self.http.write() {
            m.remove(token);
        }
    }

    /// Makes the TLS-ALPN-01 certificate for `name` proving `key_authorization`:
    /// self-signed, the name as its only SAN, and the SHA-256 of the key
    /// authorization in the critical `acmeIdentifier` extension.
    pub(crate) fn put_alpn(&self, name: &str, digest: &[u8]) -> Result<()> {
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()])?;
        params
            .custom_extensions
            .push(rcgen::CustomExtension::new_acme_identifier(digest));
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = params.self_signed(&key)?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = rustls::crypto::ring::sign::any_supported_type(&der).map_err(|e| {
            crate::TlsError::AcmeOrder {
                names: name.to_string(),
                reason: format!("rustls refused the validation key: {e}"),
            }
        })?;
        let certified = Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing));
        if let Ok(mut m) = self.alpn.write() {
            m.insert(name.to_ascii_lowercase(), certified);
        }
        Ok(())
    }

    pub(crate) fn remove_alpn(&self, name: &str) {
        if let Ok(mut m) = self.alpn.write() {
            m.remove(&name.to_ascii_lowercase());
        }
    }

    /// A rustls server config that answers TLS-ALPN-01 validation handshakes: ALPN
    /// `acme-tls/1` only, certificates from this set by SNI.
    pub fn alpn_server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let mut config = rustls::ServerConfig::builder_with_protocol_versions(&[
            &rustls::version::TLS13,
            &rustls::version::TLS12,
        ])
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(AlpnResolver(self.clone())));
        config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
        Arc::new(config)
    }
}

/// Whether a ClientHello that starts `bytes` offers `acme-tls/1`: `Some(true)` or
/// `Some(false)` once the hello is complete, `None` if more bytes are needed.
/// Malformed input is `Some(false)`: the real handshake will reject it.
pub fn offers_acme_alpn(bytes: &[u8]) -> Option<bool> {
    let mut acceptor = rustls::server::Acceptor::default();
    let mut rd = bytes;
    while !rd.is_empty() {
        if acceptor.read_tls(&mut rd).is_err() {
            return Some(false);
        }
    }
    match acceptor.accept() {
        Ok(None) => None,
        Ok(Some(accepted)) => Some(
            accepted
                .client_hello()
                .alpn()
                .is_some_and(|mut protos| protos.any(|p| p == ACME_TLS_ALPN)),
        ),
        Err(_) => Some(false),
    }
}

#[derive(Debug)]
struct AlpnResolver(Arc<AcmeChallenges>);

impl ResolvesServerCert for AlpnResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?.to_ascii_lowercase();
        self.0.alpn.read().ok()?.get(&name).cloned()
    }
}
