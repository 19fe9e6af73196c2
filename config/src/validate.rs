//! Turns the wire schema into the validated model, collecting every problem: each
//! section validates itself (its module), this walks them and checks across them.

use crate::error::{ConfigError, Result};
use crate::locate::Seg;
use crate::model::*;
use crate::raw;
use crate::validator::Validator;
use std::collections::HashMap;
use std::path::Path;

/// Validates `raw`, read from `file` whose text is `text`.
pub(crate) fn validate(raw: raw::Root, text: &str, file: &Path) -> Result<Config> {
    let mut v = Validator::new(text, file);
    v.files.push(file.to_path_buf());

    use Seg::{Index, Key};
    let listen = crate::server::listen(&mut v, &raw.listen);
    let cluster = raw
        .cluster
        .as_ref()
        .map(|c| crate::cluster::validate(&mut v, c, listen.http));
    let kv_shared = crate::kv::validate(&mut v, &raw.kv, cluster.is_some());
    let resolver = crate::resolver::validate(&mut v, &raw.resolver);
    let tls = crate::tls::validate(&mut v, &raw.tls);
    let server = crate::server::validate(&mut v, &raw.server);
    let cache = crate::cache::validate(&mut v, &raw.cache);
    let admin = raw
        .admin
        .as_ref()
        .and_then(|a| crate::admin::validate(&mut v, a));
    let log = crate::log::validate(&mut v, &raw.log);

    if raw.sites.is_empty() {
        v.report(
            &[Key("sites")],
            "no sites configured (expected at least one entry under sites)",
        );
    }
    let mut seen_hosts: HashMap<HostPattern, usize> = HashMap::new();
    let mut default_site: Option<usize> = None;
    let mut sites = Vec::new();
    for (i, s) in raw.sites.iter().enumerate() {
        sites.push(crate::site::validate(
            &mut v,
            s,
            i,
            &mut seen_hosts,
            &mut default_site,
            &tls.acme,
        ));
    }
    let acme_sites: Vec<usize> = (0..sites.len())
        .filter(|&i| sites[i].acme.is_some())
        .collect();
    if raw.listen.http3.is_some() && tls.certificates.is_empty() && acme_sites.is_empty() {
        v.report(
            &[Key("listen"), Key("http3")],
            "an HTTP/3 listener needs at least one certificate in tls.certificates or a site with tls.acme (QUIC is always encrypted)",
        );
    }
    if raw.listen.https.is_some() && tls.certificates.is_empty() && acme_sites.is_empty() {
        v.report(
            &[Key("listen"), Key("https")],
            "an HTTPS listener needs at least one certificate in tls.certificates or a site with tls.acme (try `outpost cert self-signed HOST`)",
        );
    }
    for &i in &acme_sites {
        let at = [Key("sites"), Index(i), Key("tls"), Key("acme")];
        if raw.listen.https.is_none() {
            v.report(
                &at,
                "an ACME certificate needs an HTTPS listener (listen.https) to serve it",
            );
        }
        if sites[i]
            .acme
            .as_ref()
            .is_some_and(|a| a.challenge == crate::AcmeChallenge::Http01)
            && raw.listen.http.is_none()
        {
            v.report(
                &at,
                "the http-01 challenge needs the plain HTTP listener (listen.http, port 80 in production); or use challenge: tls-alpn-01",
            );
        }
    }

    // `outpost push` carries secret files through Redis: only ever encrypted.
    if let (Some(c), Some(at)) = (&cluster, v.first_secret_at.clone())
        && c.secret_key.is_none()
    {
        v.report(
            &[Key("cluster")],
            format!(
                "this config reads a secret from a file ({at}) and cluster mode pushes such files through Redis: \
                 set cluster.secret_key_file to a file of 64 hex digits shared by the nodes \
                 (`openssl rand -hex 32 > cluster.key`), so they are encrypted"
            ),
        );
    }

    if v.problems.is_empty() {
        Ok(Config {
            source: file.to_path_buf(),
            listen,
            tls,
            server,
            cache,
            admin,
            log,
            kv_path: v.resolve(raw.kv.path.as_deref().unwrap_or("kv.redb")),
            kv_shared,
            cluster,
            resolver,
            sites,
            warnings: v.warnings,
            files: v.files,
            secret_files: v.secret_files,
        })
    } else {
        Err(ConfigError::Invalid(v.problems))
    }
}
