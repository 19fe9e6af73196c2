//! TLS-ALPN-01 (RFC 8737) on the HTTPS listener: while an ACME order with that
//! challenge is open, each new connection's ClientHello is read before pingora's
//! handshake; one that offers `acme-tls/1` (the CA's validation connection) gets a
//! handshake with the validation certificate and is closed, every other one is
//! handed on untouched (the bytes read are put back).
//!
//! pingora's listener offers a fixed ALPN list (h2, http/1.1), and rustls refuses a
//! hello whose protocols it does not list, so this cannot be done in the
//! certificate resolver alone.

use outpost_tls::acme::{AcmeChallenges, offers_acme_alpn};
use pingora::listeners::PreTlsProcess;
use pingora::protocols::l4::stream::Stream as L4Stream;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A ClientHello larger than this is not an ACME validation (they are small).
const MAX_HELLO: usize = 16 * 1024;
/// How long a validation connection may take to send its hello or finish.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The pre-TLS step that answers TLS-ALPN-01 validation connections.
pub struct AlpnChallengeResponder {
    challenges: Arc<AcmeChallenges>,
    config: Arc<rustls::ServerConfig>,
}

impl AlpnChallengeResponder {
    /// A responder serving the validation certificates in `challenges`.
    pub fn new(challenges: Arc<AcmeChallenges>) -> Self {
        let config = challenges.alpn_server_config();
        AlpnChallengeResponder { challenges, config }
    }
}

#[async_trait::async_trait]
impl PreTlsProcess for AlpnChallengeResponder {
    async fn process(&self, stream: &mut L4Stream) -> pingora::Result<()> {
        if !self.challenges.alpn_pending() {
            return Ok(());
        }
        let mut hello = Vec::with_capacity(1024);
        let mut chunk = [0u8; 2048];
        let verdict = loop {
            let n = match tokio::time::timeout(TIMEOUT, stream.read(&mut chunk)).await {
                Ok(Ok(n)) => n,
                _ => 0,
            };
            if n == 0 {
                break false;
            }
            hello.extend_from_slice(&chunk[..n]);
            match offers_acme_alpn(&hello) {
                Some(v) => break v,
                None if hello.len() < MAX_HELLO => continue,
                None => break false,
            }
        };
        if !hello.is_empty() {
            stream.rewind(&hello);
        }
        if !verdict {
            return Ok(());
        }
        let acceptor = tokio_rustls::TlsAcceptor::from(self.config.clone());
        match tokio::time::timeout(TIMEOUT, acceptor.accept(&mut *stream)).await {
            Ok(Ok(mut tls)) => {
                let _ = tls.shutdown().await;
                tracing::info!("answered an ACME tls-alpn-01 validation handshake");
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "ACME tls-alpn-01 validation handshake failed")
            }
            Err(_) => tracing::warn!("ACME tls-alpn-01 validation handshake timed out"),
        }
        // The validation connection carries no HTTP: pingora drops it here.
        pingora::Error::e_explain(
            pingora::ErrorType::HandshakeError,
            "ACME tls-alpn-01 validation connection, answered",
        )
    }
}
