//! `tls.acme` and `sites[].tls.acme`: automatic certificates from an ACME CA
//! (RFC 8555). The global section holds the defaults and where issued certificates
//! live; a site opts in with `tls: { acme: {} }` and may override the CA, contact
//! and challenge for its names.

use crate::locate::Seg::{self, Index, Key};
use crate::validator::Validator;
use serde::Deserialize;
use std::path::PathBuf;

/// Let's Encrypt's production directory (the default).
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (untrusted certificates, generous rate limits).
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// How the CA checks that we control a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcmeChallenge {
    /// `http-01`: the CA fetches `http://NAME/.well-known/acme-challenge/TOKEN` on
    /// port 80 (Outpost's HTTP listener answers it).
    Http01,
    /// `tls-alpn-01`: the CA opens TLS to NAME:443 offering ALPN `acme-tls/1`
    /// (Outpost's HTTPS listener answers it with a validation certificate).
    TlsAlpn01,
}

impl AcmeChallenge {
    /// The name in config and logs.
    pub fn name(self) -> &'static str {
        match self {
            AcmeChallenge::Http01 => "http-01",
            AcmeChallenge::TlsAlpn01 => "tls-alpn-01",
        }
    }
}

/// The key type of issued certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcmeKeyType {
    /// ECDSA P-256 with SHA-256 (the default: small and fast handshakes).
    EcdsaP256,
    /// ECDSA P-384 with SHA-384.
    EcdsaP384,
    /// RSA 2048 with SHA-256, for old clients that cannot do ECDSA.
    Rsa2048,
}

/// What clients get for an ACME name before its first certificate exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmePlaceholder {
    /// A self-signed certificate for the name (browsers warn; HTTP-01 still works).
    SelfSigned,
    /// No certificate: the handshake fails with an alert.
    Refuse,
}

/// `tls.acme`: process-wide ACME settings and the defaults sites inherit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSettings {
    /// The CA's directory URL.
    pub directory_url: String,
    /// Contact address given to the CA (expiry warnings, account recovery).
    pub email: Option<String>,
    /// Where accounts, keys and certificates are kept (0700; files 0600).
    pub storage: PathBuf,
    /// Extra root (PEM) trusted for the CA's own HTTPS API, for private or test CAs.
    pub ca_root: Option<PathBuf>,
    /// Default challenge.
    pub challenge: AcmeChallenge,
    /// Default key type.
    pub key_type: AcmeKeyType,
    /// What to serve before the first certificate exists.
    pub placeholder: AcmePlaceholder,
}

/// `sites[].tls.acme`, with the global defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteAcme {
    /// The names on the certificate: the site's exact hosts, in file order.
    pub names: Vec<String>,
    /// The CA's directory URL.
    pub directory_url: String,
    /// Contact address.
    pub email: Option<String>,
    /// Challenge used to prove control of `names`.
    pub challenge: AcmeChallenge,
    /// Key type of the certificate.
    pub key_type: AcmeKeyType,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAcmeGlobal {
    pub directory_url: Option<String>,
    pub email: Option<String>,
    pub storage: Option<String>,
    pub ca_root: Option<String>,
    pub challenge: Option<String>,
    pub key_type: Option<String>,
    pub placeholder: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSiteTls {
    pub acme: Option<RawSiteAcme>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSiteAcme {
    pub directory_url: Option<String>,
    pub email: Option<String>,
    pub challenge: Option<String>,
    pub key_type: Option<String>,
}

const CHALLENGES: &[(&str, AcmeChallenge)] = &[
    ("http-01", AcmeChallenge::Http01),
    ("tls-alpn-01", AcmeChallenge::TlsAlpn01),
];
const KEY_TYPES: &[(&str, AcmeKeyType)] = &[
    ("ecdsa-p256", AcmeKeyType::EcdsaP256),
    ("ecdsa-p384", AcmeKeyType::EcdsaP384),
    ("rsa-2048", AcmeKeyType::Rsa2048),
];

fn directory(v: &mut Validator<'_>, raw: Option<&str>, path: &[Seg]) -> Option<String> {
    let url = match raw? {
        "letsencrypt" => return Some(LETS_ENCRYPT.into()),
        "letsencrypt-staging" => return Some(LETS_ENCRYPT_STAGING.into()),
        u => u,
    };
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => Some(url.to_string()),
        _ => {
            v.report(
                path,
                format!("{url:?} is not an ACME directory URL (expected https://…, \"letsencrypt\" or \"letsencrypt-staging\")"),
            );
            None
        }
    }
}

fn email(v: &mut Validator<'_>, raw: Option<&str>, path: &[Seg]) -> Option<String> {
    let e = raw?;
    if e.split_once('@')
        .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'))
        && !e.contains(char::is_whitespace)
    {
        Some(e.to_string())
    } else {
        v.report(path, format!("{e:?} is not an email address"));
        None
    }
}

/// Validates `tls.acme` (defaults when absent).
pub(crate) fn global(v: &mut Validator<'_>, raw: Option<&RawAcmeGlobal>) -> AcmeSettings {
    let empty = RawAcmeGlobal::default();
    let raw = raw.unwrap_or(&empty);
    let at = |k: &'static str| [Key("tls"), Key("acme"), Key(k)];
    AcmeSettings {
        directory_url: directory(v, raw.directory_url.as_deref(), &at("directory_url"))
            .unwrap_or_else(|| LETS_ENCRYPT.into()),
        email: email(v, raw.email.as_deref(), &at("email")),
        storage: v.resolve(raw.storage.as_deref().unwrap_or("acme")),
        ca_root: raw
            .ca_root
            .as_deref()
            .map(|p| v.existing_file(p, &at("ca_root"), "CA root")),
        challenge: v.choice(
            raw.challenge.as_deref(),
            &at("challenge"),
            CHALLENGES,
            "an ACME challenge",
        ),
        key_type: v.choice(
            raw.key_type.as_deref(),
            &at("key_type"),
            KEY_TYPES,
            "a key type",
        ),
        placeholder: v.choice(
            raw.placeholder.as_deref(),
            &at("placeholder"),
            &[
                ("self-signed", AcmePlaceholder::SelfSigned),
                ("refuse", AcmePlaceholder::Refuse),
            ],
            "a placeholder policy",
        ),
    }
}

/// Validates `sites[i].tls` against the global settings; `hosts` are the site's
/// host patterns as written.
pub(crate) fn site(
    v: &mut Validator<'_>,
    raw: Option<&RawSiteTls>,
    i: usize,
    hosts: &[crate::HostPattern],
    global: &AcmeSettings,
) -> Option<SiteAcme> {
    let raw = raw?.acme.as_ref()?;
    let at = |k: &'static str| vec![Key("sites"), Index(i), Key("tls"), Key("acme"), Key(k)];
    let mut names = Vec::new();
    for h in hosts {
        match h {
            crate::HostPattern::Exact(n) => names.push(n.clone()),
            crate::HostPattern::Wildcard(p) => v.report(
                &[Key("sites"), Index(i), Key("tls"), Key("acme")],
                format!("*.{p} cannot get an ACME certificate by http-01 or tls-alpn-01 (wildcards need dns-01): list the names, or give the site a certificate in tls.certificates"),
            ),
        }
    }
    if names.is_empty() && hosts.is_empty() {
        v.report(
            &[Key("sites"), Index(i), Key("tls"), Key("acme")],
            "an ACME site needs at least one name in hosts",
        );
    }
    Some(SiteAcme {
        names,
        directory_url: directory(v, raw.directory_url.as_deref(), &at("directory_url"))
            .unwrap_or_else(|| global.directory_url.clone()),
        email: email(v, raw.email.as_deref(), &at("email")).or_else(|| global.email.clone()),
        challenge: match raw.challenge.as_deref() {
            None => global.challenge,
            c => v.choice(c, &at("challenge"), CHALLENGES, "an ACME challenge"),
        },
        key_type: match raw.key_type.as_deref() {
            None => global.key_type,
            k => v.choice(k, &at("key_type"), KEY_TYPES, "a key type"),
        },
    })
}
