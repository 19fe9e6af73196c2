//! Automatic certificates from an ACME CA (RFC 8555), with `instant-acme` as the
//! protocol client.
//!
//! [`AcmeManager`] owns one background task that, for every [`AcmeOrder`]: serves
//! the stored certificate if it checks out (else a placeholder, if allowed), orders
//! a new one when there is none or two thirds of its lifetime have passed, proves
//! control of the names by HTTP-01 or TLS-ALPN-01 through [`AcmeChallenges`], stores
//! the result atomically and swaps it into the [`CertStore`] for new handshakes.
//! Orders run one at a time (no burst against the CA when many sites renew
//! together); a failed order is retried with exponential back-off while the old
//! certificate keeps serving.

mod challenge;
mod storage;

pub use challenge::{ACME_TLS_ALPN, AcmeChallenges, HTTP01_PREFIX, offers_acme_alpn};
pub use storage::{StoredCert, load as load_stored, read as read_pair};

use crate::error::{Result, TlsError};
use crate::store::CertStore;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{Notify, watch};

/// How the CA checks control of the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Challenge {
    /// HTTP-01 on the plain-HTTP listener.
    Http01,
    /// TLS-ALPN-01 on the HTTPS listener.
    TlsAlpn01,
}

/// Key type of an issued certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// ECDSA P-256.
    EcdsaP256,
    /// ECDSA P-384.
    EcdsaP384,
    /// RSA 2048 (for clients that cannot do ECDSA).
    Rsa2048,
}

/// One certificate to keep issued: the names of one site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AcmeOrder {
    /// DNS names on the certificate; the first names its storage directory.
    pub names: Vec<String>,
    /// The CA's directory URL.
    pub directory_url: String,
    /// Contact address for the account.
    pub email: Option<String>,
    /// Challenge type.
    pub challenge: Challenge,
    /// Key type.
    pub key_type: KeyType,
}

/// Process-wide ACME settings.
#[derive(Debug, Clone)]
pub struct AcmeOptions {
    /// Storage directory.
    pub storage: PathBuf,
    /// Extra trusted root for the CA's HTTPS API (private or test CAs).
    pub ca_root: Option<PathBuf>,
    /// Serve a self-signed placeholder before the first certificate exists.
    pub placeholder: bool,
    /// First retry delay after a failed order (doubles up to `retry_max`).
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
}

/// What `/status`, metrics and logs show about one order.
#[derive(Debug, Clone)]
pub struct OrderStatusReport {
    /// The names.
    pub names: Vec<String>,
    /// The certificate served now, if a real one exists.
    pub current: Option<StoredCert>,
    /// When it will be renewed (or the next attempt after a failure).
    pub next_attempt: Option<SystemTime>,
    /// Failed attempts since the last success.
    pub failures: u32,
    /// The last failure's message.
    pub last_error: Option<String>,
}

/// Order outcomes since start, for metrics.
#[derive(Debug, Default)]
pub struct AcmeCounters {
    /// Certificates issued.
    pub issued: AtomicU64,
    /// Orders that failed.
    pub failed: AtomicU64,
    /// Certificates loaded from storage at start.
    pub loaded: AtomicU64,
}

/// Keeps ACME certificates issued and renewed; see the module docs.
pub struct AcmeManager {
    options: AcmeOptions,
    store: Arc<CertStore>,
    challenges: Arc<AcmeChallenges>,
    accounts: tokio::sync::Mutex<HashMap<String, Account>>,
    status: Mutex<HashMap<Vec<String>, OrderStatusReport>>,
    renew_now: Notify,
    /// Outcomes, for metrics.
    pub counters: AcmeCounters,
}

impl std::fmt::Debug for AcmeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeManager")
            .field("storage", &self.options.storage)
            .finish_non_exhaustive()
    }
}

/// Per-order scheduling state.
struct Slot {
    next: tokio::time::Instant,
    failures: u32,
}

impl AcmeManager {
    /// A manager that swaps certificates into `store` and answers challenges
    /// through `challenges`.
    pub fn new(
        options: AcmeOptions,
        store: Arc<CertStore>,
        challenges: Arc<AcmeChallenges>,
    ) -> Self {
        AcmeManager {
            options,
            store,
            challenges,
            accounts: tokio::sync::Mutex::new(HashMap::new()),
            status: Mutex::new(HashMap::new()),
            renew_now: Notify::new(),
            counters: AcmeCounters::default(),
        }
    }

    /// The challenge answers the listeners serve.
    pub fn challenges(&self) -> &Arc<AcmeChallenges> {
        &self.challenges
    }

    /// Renews every certificate now (admin `POST /certs/renew`).
    pub fn renew_all(&self) {
        self.renew_now.notify_one();
    }

    /// One report per current order, sorted by first name.
    pub fn status(&self) -> Vec<OrderStatusReport> {
        let mut out: Vec<_> = self
            .status
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        out.sort_by(|a, b| a.names.cmp(&b.names));
        out
    }

    fn report(&self, names: &[String], f: impl FnOnce(&mut OrderStatusReport)) {
        if let Ok(mut m) = self.status.lock() {
            let r = m
                .entry(names.to_vec())
                .or_insert_with(|| OrderStatusReport {
                    names: names.to_vec(),
                    current: None,
                    next_attempt: None,
                    failures: 0,
                    last_error: None,
                });
            f(r);
        }
    }

    /// Runs until `orders` closes: keeps every order in it issued. A new list
    /// (config reload) is picked up at once.
    pub async fn run(self: Arc<Self>, mut orders: watch::Receiver<Vec<AcmeOrder>>) {
        let mut slots: HashMap<AcmeOrder, Slot> = HashMap::new();
        loop {
            let current = orders.borrow_and_update().clone();
            // Orders that went away: stop serving their certificates, except for names
            // a current order still has (a site that gained a name keeps serving its
            // old certificate for the others until the new one arrives).
            let wanted: std::collections::HashSet<&String> =
                current.iter().flat_map(|o| &o.names).collect();
            slots.retain(|o, _| {
                let keep = current.contains(o);
                if !keep {
                    let gone: Vec<String> = o
                        .names
                        .iter()
                        .filter(|n| !wanted.contains(n))
                        .cloned()
                        .collect();
                    self.store.remove_managed(&gone);
                    if let Ok(mut m) = self.status.lock() {
                        m.remove(&o.names);
                    }
                }
                keep
            });
            for o in &current {
                if !slots.contains_key(o) {
                    let next = self.prepare(o);
                    slots.insert(o.clone(), Slot { next, failures: 0 });
                }
            }
            let now = tokio::time::Instant::now();
            let due = current
                .iter()
                .filter(|o| slots.get(*o).is_some_and(|s| s.next <= now))
                .min_by_key(|o| slots.get(*o).map(|s| s.next))
                .cloned();
            if let Some(order) = due {
                let outcome = self.issue(&order).await;
                let Some(slot) = slots.get_mut(&order) else {
                    continue;
                };
                match outcome {
                    Ok(cert) => {
                        self.counters.issued.fetch_add(1, Ordering::Relaxed);
                        slot.failures = 0;
                        slot.next = instant_at(cert.renew_at(spread(&order.names)));
                        let next = cert.renew_at(spread(&order.names));
                        tracing::info!(
                            names = ?order.names,
                            not_after = %humantime::format_rfc3339_seconds(cert.not_after),
                            renew_at = %humantime::format_rfc3339_seconds(next),
                            "ACME certificate issued and installed"
                        );
                        self.report(&order.names, |r| {
                            r.current = Some(cert);
                            r.failures = 0;
                            r.last_error = None;
                            r.next_attempt = Some(next);
                        });
                    }
                    Err(e) => {
                        self.counters.failed.fetch_add(1, Ordering::Relaxed);
                        slot.failures += 1;
                        let delay = backoff(&self.options, slot.failures, &order.names);
                        slot.next = tokio::time::Instant::now() + delay;
                        tracing::error!(
                            names = ?order.names,
                            error = %e,
                            failures = slot.failures,
                            retry_in = ?delay,
                            "ACME order failed; the current certificate (if any) keeps serving"
                        );
                        let failures = slot.failures;
                        self.report(&order.names, |r| {
                            r.failures = failures;
                            r.last_error = Some(e.to_string());
                            r.next_attempt = Some(SystemTime::now() + delay);
                        });
                    }
                }
                continue;
            }
            let wake = slots
                .values()
                .map(|s| s.next)
                .min()
                .unwrap_or_else(|| now + Duration::from_secs(86_400));
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                changed = orders.changed() => if changed.is_err() { return },
                _ = self.renew_now.notified() => {
                    let now = tokio::time::Instant::now();
                    for s in slots.values_mut() {
                        s.next = now;
                    }
                }
            }
        }
    }

    /// Installs the stored certificate for `order` (or a placeholder) and returns
    /// when to order next.
    fn prepare(&self, order: &AcmeOrder) -> tokio::time::Instant {
        match storage::load(&self.options.storage, &order.names) {
            Ok(Some(cert)) => {
                self.store.set_managed(&order.names, cert.key.clone());
                self.counters.loaded.fetch_add(1, Ordering::Relaxed);
                let next = cert.renew_at(spread(&order.names));
                tracing::info!(
                    names = ?order.names,
                    path = %cert.path.display(),
                    not_after = %humantime::format_rfc3339_seconds(cert.not_after),
                    "ACME certificate loaded from storage"
                );
                self.report(&order.names, |r| {
                    r.current = Some(cert);
                    r.next_attempt = Some(next);
                });
                return instant_at(next);
            }
            Ok(None) => {
                tracing::info!(names = ?order.names, "no ACME certificate stored yet: ordering one");
            }
            Err(e) => {
                tracing::warn!(names = ?order.names, error = %e, "stored ACME certificate is unusable: ordering a new one");
            }
        }
        // Names already served (by the certificate of a previous version of this
        // order) keep it until the new one arrives; the others get the placeholder.
        let bare: Vec<String> = order
            .names
            .iter()
            .filter(|n| !self.store.has_managed(n))
            .cloned()
            .collect();
        if bare.is_empty() {
            tracing::info!(names = ?order.names, "serving the previous certificate until the new one arrives");
        } else if self.options.placeholder {
            let names: Vec<&str> = bare.iter().map(String::as_str).collect();
            match crate::self_signed(&names).and_then(|p| placeholder_key(&p)) {
                Ok(key) => {
                    self.store.set_managed(&bare, key);
                    tracing::info!(names = ?order.names, "serving a self-signed placeholder until the ACME certificate arrives");
                }
                Err(e) => tracing::warn!(error = %e, "cannot make a placeholder certificate"),
            }
        } else {
            tracing::info!(names = ?order.names, "refusing TLS for these names until the ACME certificate arrives (placeholder: refuse)");
        }
        self.report(&order.names, |r| r.next_attempt = Some(SystemTime::now()));
        tokio::time::Instant::now()
    }

    /// The account for `order`'s CA: cached, else read from storage, else created.
    async fn account(&self, order: &AcmeOrder) -> Result<Account> {
        let mut accounts = self.accounts.lock().await;
        if let Some(a) = accounts.get(&order.directory_url) {
            return Ok(a.clone());
        }
        let names = order.names.join(",");
        let acme = |source| TlsError::Acme {
            names: names.clone(),
            source,
        };
        let builder = || match &self.options.ca_root {
            Some(root) => Account::builder_with_root(root),
            None => Account::builder(),
        };
        let path = storage::account_path(&self.options.storage, &order.directory_url);
        let account = match std::fs::read(&path) {
            Ok(bytes) => {
                let creds: AccountCredentials =
                    serde_json::from_slice(&bytes).map_err(|source| TlsError::AcmeAccount {
                        path: path.clone(),
                        source,
                    })?;
                builder()
                    .map_err(acme)?
                    .from_credentials(creds)
                    .await
                    .map_err(acme)?
            }
            Err(_) => {
                let contact = order.email.as_ref().map(|e| format!("mailto:{e}"));
                let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
                let (account, creds) = builder()
                    .map_err(acme)?
                    .create(
                        &NewAccount {
                            contact: &contacts,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        order.directory_url.clone(),
                        None,
                    )
                    .await
                    .map_err(acme)?;
                let json =
                    serde_json::to_vec_pretty(&creds).map_err(|source| TlsError::AcmeAccount {
                        path: path.clone(),
                        source,
                    })?;
                storage::write_atomic(&path, &json)?;
                tracing::info!(directory = %order.directory_url, id = %account.id(), "ACME account created");
                account
            }
        };
        accounts.insert(order.directory_url.clone(), account.clone());
        Ok(account)
    }

    /// Runs one order to the end: new order, challenges, CSR, certificate; stores it
    /// and swaps it in.
    async fn issue(&self, order: &AcmeOrder) -> Result<StoredCert> {
        let started = std::time::Instant::now();
        let account = match self.account(order).await {
            Ok(a) => a,
            Err(e) => return Err(e),
        };
        let result = self.order_with(&account, order).await;
        if let Err(TlsError::Acme {
            source: instant_acme::Error::Api(p),
            ..
        }) = &result
            && p.r#type.as_deref() == Some("urn:ietf:params:acme:error:accountDoesNotExist")
        {
            // The CA forgot the account (a test CA restarted, or it was deactivated):
            // make a new one next time.
            self.accounts.lock().await.remove(&order.directory_url);
            let _ = std::fs::remove_file(storage::account_path(
                &self.options.storage,
                &order.directory_url,
            ));
        }
        let cert = result?;
        tracing::debug!(names = ?order.names, elapsed = ?started.elapsed(), "ACME order done");
        Ok(cert)
    }

    async fn order_with(&self, account: &Account, order: &AcmeOrder) -> Result<StoredCert> {
        let names = order.names.join(",");
        let acme = |source| TlsError::Acme {
            names: names.clone(),
            source,
        };
        let identifiers: Vec<Identifier> = order
            .names
            .iter()
            .map(|n| Identifier::Dns(n.clone()))
            .collect();
        let mut new = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(acme)?;
        let kind = match order.challenge {
            Challenge::Http01 => ChallengeType::Http01,
            Challenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
        };
        // Answers to take down once the order is over, whatever its outcome.
        let mut tokens = Vec::new();
        let mut alpn_names = Vec::new();
        let outcome = async {
            let mut authorizations = new.authorizations();
            while let Some(authz) = authorizations.next().await {
                let mut authz = authz.map_err(acme)?;
                match authz.status {
                    AuthorizationStatus::Pending => {}
                    AuthorizationStatus::Valid => continue,
                    other => {
                        return Err(TlsError::AcmeOrder {
                            names: names.clone(),
                            reason: format!("authorization is {other:?}"),
                        });
                    }
                }
                let mut ch = authz
                    .challenge(kind.clone())
                    .ok_or_else(|| TlsError::AcmeOrder {
                        names: names.clone(),
                        reason: format!(
                            "the CA offers no {} challenge",
                            challenge_name(order.challenge)
                        ),
                    })?;
                let ka = ch.key_authorization();
                match order.challenge {
                    Challenge::Http01 => {
                        self.challenges.put_http(&ch.token, ka.as_str());
                        tokens.push(ch.token.clone());
                    }
                    Challenge::TlsAlpn01 => {
                        let name = ch.identifier().to_string();
                        self.challenges.put_alpn(&name, ka.digest().as_ref())?;
                        alpn_names.push(name);
                    }
                }
                ch.set_ready().await.map_err(acme)?;
            }
            let polls = RetryPolicy::new()
                .initial_delay(Duration::from_millis(250))
                .timeout(Duration::from_secs(90));
            let status = new.poll_ready(&polls).await.map_err(acme)?;
            if status != OrderStatus::Ready {
                let detail = new
                    .state()
                    .error
                    .as_ref()
                    .and_then(|p| p.detail.clone())
                    .unwrap_or_default();
                return Err(TlsError::AcmeOrder {
                    names: names.clone(),
                    reason: format!("order is {status:?}, not ready: {detail}"),
                });
            }
            let (csr, key_pem) = csr(&order.names, order.key_type)?;
            new.finalize_csr(&csr).await.map_err(acme)?;
            let chain = new.poll_certificate(&polls).await.map_err(acme)?;
            Ok((chain, key_pem))
        }
        .await;
        for t in &tokens {
            self.challenges.remove_http(t);
        }
        for n in &alpn_names {
            self.challenges.remove_alpn(n);
        }
        let (chain, key_pem) = outcome?;
        storage::save(&self.options.storage, &order.names, &chain, &key_pem)?;
        // Read back what was written: what we serve is what a restart will load.
        let cert = storage::load(&self.options.storage, &order.names)?.ok_or_else(|| {
            TlsError::AcmeOrder {
                names: names.clone(),
                reason: "the stored certificate vanished".into(),
            }
        })?;
        self.store.set_managed(&order.names, cert.key.clone());
        Ok(cert)
    }
}

fn challenge_name(c: Challenge) -> &'static str {
    match c {
        Challenge::Http01 => "http-01",
        Challenge::TlsAlpn01 => "tls-alpn-01",
    }
}

/// A fresh key and a CSR (DER) for `names`.
fn csr(names: &[String], key_type: KeyType) -> Result<(Vec<u8>, String)> {
    let key = match key_type {
        KeyType::EcdsaP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
        KeyType::EcdsaP384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)?,
        KeyType::Rsa2048 => {
            // ring signs with RSA keys but does not generate them.
            use rsa::pkcs8::EncodePrivateKey;
            let bad = |reason: String| TlsError::AcmeOrder {
                names: names.join(","),
                reason,
            };
            let rsa = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
                .map_err(|e| bad(format!("RSA key generation: {e}")))?;
            let der = rsa
                .to_pkcs8_der()
                .map_err(|e| bad(format!("RSA key encoding: {e}")))?;
            rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
                &rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes()),
                &rcgen::PKCS_RSA_SHA256,
            )?
        }
    };
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let request = params.serialize_request(&key)?;
    Ok((request.der().to_vec(), key.serialize_pem()))
}

fn placeholder_key(pair: &crate::SelfSigned) -> Result<Arc<rustls::sign::CertifiedKey>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |reason: String| TlsError::AcmeOrder {
        names: "placeholder".into(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes())
            .filter_map(|c| c.ok())
            .collect();
    let key =
        PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let signing =
        rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| bad(e.to_string()))?;
    Ok(Arc::new(rustls::sign::CertifiedKey::new(chain, signing)))
}

/// A stable per-certificate value in 0..1 (from its names) that spreads renewals.
fn spread(names: &[String]) -> f64 {
    let digest = ring::digest::digest(&ring::digest::SHA256, names.join(",").as_bytes());
    let b = digest.as_ref();
    f64::from(u16::from_be_bytes([b[0], b[1]])) / f64::from(u16::MAX)
}

/// Delay before retry number `failures`: `retry_min` doubling up to `retry_max`,
/// plus up to 10% spread so that sites failing together do not retry together.
fn backoff(options: &AcmeOptions, failures: u32, names: &[String]) -> Duration {
    let exp = options
        .retry_min
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let d = exp.min(options.retry_max);
    d + d.mul_f64(spread(names) / 10.0)
}

fn instant_at(t: SystemTime) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    match t.duration_since(SystemTime::now()) {
        Ok(d) => now + d,
        Err(_) => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let o = AcmeOptions {
            storage: PathBuf::new(),
            ca_root: None,
            placeholder: true,
            retry_min: Duration::from_secs(10),
            retry_max: Duration::from_secs(3600),
        };
        let n = vec!["a.test".to_string()];
        let d: Vec<Duration> = (1..=12).map(|f| backoff(&o, f, &n)).collect();
        assert!(d[0] >= Duration::from_secs(10) && d[0] <= Duration::from_secs(11));
        assert!(d[1] >= Duration::from_secs(20) && d[1] <= Duration::from_secs(22));
        assert!(d[11] >= Duration::from_secs(3600) && d[11] <= Duration::from_secs(3960));
    }

    #[test]
    fn csr_and_storage_round_trip() {
        crate::install_crypto_provider();
        let dir = tempfile::tempdir().expect("tempdir");
        let names = vec!["a.test".to_string(), "b.test".to_string()];
        assert!(storage::load(dir.path(), &names).expect("empty").is_none());
        for kind in [KeyType::EcdsaP256, KeyType::EcdsaP384, KeyType::Rsa2048] {
            let (der, key_pem) = csr(&names, kind).expect("csr");
            assert!(
                !der.is_empty() && key_pem.contains("PRIVATE KEY"),
                "{kind:?}"
            );
        }
        let pair = crate::self_signed(&["a.test", "b.test"]).expect("pair");
        storage::save(dir.path(), &names, &pair.cert_pem, &pair.key_pem).expect("save");
        let cert = storage::load(dir.path(), &names)
            .expect("load")
            .expect("stored");
        assert_eq!(cert.names, names);
        assert!(cert.renew_at(0.5) < cert.not_after && cert.renew_at(0.5) > cert.not_before);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&cert.path)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A truncated chain is unusable, not served.
        let text = std::fs::read_to_string(&cert.path).expect("read");
        std::fs::write(&cert.path, &text[..text.len() / 2]).expect("truncate");
        assert!(storage::load(dir.path(), &names).is_err());
        // A certificate that does not cover every name is unusable too.
        let other = crate::self_signed(&["a.test"]).expect("pair");
        storage::save(dir.path(), &names, &other.cert_pem, &other.key_pem).expect("save");
        assert!(storage::load(dir.path(), &names).is_err());
    }
}
