//! `tls:`: the HTTPS listener's certificates and unknown-SNI policy (ACME in `acme`).

use crate::locate::Seg::{Index, Key};
use crate::raw;
use crate::validator::Validator;
use std::path::PathBuf;

/// Server certificates for the HTTPS listener.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// Certificates; SNI picks one by the names in its SAN extension.
    pub certificates: Vec<CertificateConfig>,
    /// ACME settings (`tls.acme`, defaults filled in); used by sites with `tls.acme`.
    pub acme: crate::AcmeSettings,
    /// Refuse the handshake (alert) when the client's SNI names no certificate,
    /// instead of serving the default one. Clients sending no SNI still get the default.
    pub refuse_unknown_sni: bool,
}

impl Default for crate::AcmeSettings {
    fn default() -> Self {
        crate::AcmeSettings {
            directory_url: crate::LETS_ENCRYPT.into(),
            email: None,
            storage: PathBuf::from("acme"),
            ca_root: None,
            challenge: crate::AcmeChallenge::Http01,
            key_type: crate::AcmeKeyType::EcdsaP256,
            placeholder: crate::AcmePlaceholder::SelfSigned,
        }
    }
}

/// One certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateConfig {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key: PathBuf,
    /// Served to clients that send no SNI or an unknown name.
    pub default: bool,
    /// DER OCSP response to staple (kept fresh by the operator's OCSP fetcher; a
    /// changed file is reloaded like the certificate).
    pub ocsp: Option<PathBuf>,
}

pub(crate) fn validate(v: &mut Validator<'_>, raw: &raw::Tls) -> TlsConfig {
    let mut certificates = Vec::new();
    let mut defaults = 0;
    for (i, c) in raw.certificates.iter().enumerate() {
        let at = |k| [Key("tls"), Key("certificates"), Index(i), Key(k)];
        let cert = v.existing_file(&c.cert, &at("cert"), "certificate");
        let key = v.existing_file(&c.key, &at("key"), "private key");
        if c.default {
            defaults += 1;
            if defaults > 1 {
                v.report(&at("default"), "only one certificate can be the default");
            }
        }
        let ocsp = c
            .ocsp
            .as_ref()
            .map(|o| v.existing_file(o, &at("ocsp"), "OCSP response"));
        certificates.push(CertificateConfig {
            cert,
            key,
            default: c.default,
            ocsp,
        });
    }
    let acme = crate::acme::global(v, raw.acme.as_ref());
    let refuse_unknown_sni = v.choice(
        raw.unknown_sni.as_deref(),
        &[Key("tls"), Key("unknown_sni")],
        &[("default", false), ("refuse", true)],
        "an unknown-SNI policy",
    );

    TlsConfig {
        certificates,
        acme,
        refuse_unknown_sni,
    }
}
