//! Config distribution: `outpost push` publishes a bundle — the rules files and
//! scripts a config names, paths relative to its directory — versioned by its
//! SHA-256; nodes (all, or a named subset for a staged rollout) verify the checksum,
//! apply it, and keep their previous files when it does not load.
//!
//! In Redis: the bundle itself at `outpost:bundle:VERSION` (kept 7 days), an entry on
//! the stream `outpost:bundles` naming the version and the target nodes, and each
//! node's outcome in the hash `outpost:bundle:VERSION:results`.
//!
//! Secret files (`env` bindings read from files) travel sealed with the cluster's key
//! (`cluster.secret_key_file`, ChaCha20-Poly1305 with the file's path as associated
//! data), and a bundle carrying any is kept only for its rollout: deleted once every
//! target node has applied it, and at most [`SECRET_BUNDLE_TTL_SECS`] in any case.

use crate::error::{ClusterError, Result};
use outpost_config::SecretKey;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The stream announcing bundles.
pub(crate) const STREAM: &str = "outpost:bundles";

/// How long a published bundle is kept.
const BUNDLE_TTL_SECS: u64 = 7 * 86_400;

/// How long a bundle with secrets is kept when some target node does not apply it
/// during the push (a node that comes back later than this needs a new push).
pub const SECRET_BUNDLE_TTL_SECS: u64 = 3_600;

fn bundle_key(version: &str) -> String {
    format!("outpost:bundle:{version}")
}

fn results_key(version: &str) -> String {
    format!("outpost:bundle:{version}:results")
}

/// Where a node's position on the bundle stream is kept.
pub(crate) fn cursor_key(node: &str) -> String {
    format!("outpost:bundle-cursor:{node}")
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// Relative to the config's directory, `/`-separated, no `..`.
    pub path: String,
    /// The file's text; for a secret file in Redis, its sealed form (hex of nonce,
    /// ciphertext and tag).
    pub content: String,
    /// A secret: sealed in Redis, written with mode 0600 on nodes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// A set of files pushed to the cluster as one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// SHA-256 (hex) over the files, in path order.
    pub version: String,
    /// The files.
    pub files: Vec<BundleFile>,
    /// Who or why (`outpost push --message`).
    pub message: String,
    /// Unix seconds when pushed.
    pub created: u64,
}

impl Bundle {
    /// A bundle of `files` as it goes to Redis: secret files sealed with `key` (which
    /// they need), versioned by the result. A bundle with secrets therefore gets a new
    /// version at every push (fresh nonces), and its version says nothing about them.
    pub fn new(
        mut files: Vec<BundleFile>,
        message: String,
        key: Option<&SecretKey>,
    ) -> Result<Bundle> {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        for f in files.iter_mut().filter(|f| f.secret) {
            let key = key.ok_or_else(|| ClusterError::NoSecretKey(f.path.clone()))?;
            f.content = seal(key, &f.path, &f.content)?;
        }
        Ok(Bundle {
            version: checksum(&files),
            files,
            message,
            created: crate::registry::unix_now(),
        })
    }

    /// Whether the version is the checksum of the files (nothing was altered or cut).
    pub fn verify(&self) -> bool {
        checksum(&self.files) == self.version
    }

    /// Whether any file is a secret.
    pub fn has_secrets(&self) -> bool {
        self.files.iter().any(|f| f.secret)
    }

    /// The bundle with its secret files opened with `key`.
    fn open(mut self, key: Option<&SecretKey>) -> std::result::Result<Bundle, BundleRejected> {
        for f in self.files.iter_mut().filter(|f| f.secret) {
            let key = key.ok_or_else(|| {
                BundleRejected(format!(
                    "{} is a sealed secret and this node has no cluster.secret_key_file",
                    f.path
                ))
            })?;
            f.content = open(key, &f.path, &f.content).ok_or_else(|| {
                BundleRejected(format!(
                    "{} does not open with this node's cluster key (a different key, or altered)",
                    f.path
                ))
            })?;
        }
        Ok(self)
    }
}

fn checksum(files: &[BundleFile]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for f in files {
        // Lengths first, so no two different file sets hash alike.
        ctx.update(&(f.path.len() as u64).to_le_bytes());
        ctx.update(f.path.as_bytes());
        ctx.update(&(f.content.len() as u64).to_le_bytes());
        ctx.update(f.content.as_bytes());
        ctx.update(&[u8::from(f.secret)]);
    }
    hex::encode(ctx.finish().as_ref())
}

fn aead_key(key: &SecretKey) -> ring::aead::LessSafeKey {
    let unbound = ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &key.0)
        .unwrap_or_else(|_| unreachable!("a 32-byte key fits ChaCha20-Poly1305"));
    ring::aead::LessSafeKey::new(unbound)
}

/// Hex of a random nonce, then the ciphertext and tag; the path is bound in as
/// associated data, so a sealed file cannot be moved to another path.
fn seal(key: &SecretKey, path: &str, text: &str) -> Result<String> {
    use ring::rand::SecureRandom;
    let mut nonce = [0u8; ring::aead::NONCE_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| ClusterError::Crypto("no system randomness"))?;
    let mut sealed = text.as_bytes().to_vec();
    aead_key(key)
        .seal_in_place_append_tag(
            ring::aead::Nonce::assume_unique_for_key(nonce),
            ring::aead::Aad::from(path.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| ClusterError::Crypto("sealing failed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(hex::encode(out))
}

fn open(key: &SecretKey, path: &str, sealed: &str) -> Option<String> {
    let bytes = hex::decode(sealed).ok()?;
    if bytes.len() < ring::aead::NONCE_LEN {
        return None;
    }
    let (nonce, rest) = bytes.split_at(ring::aead::NONCE_LEN);
    let mut rest = rest.to_vec();
    let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
    let plain = aead_key(key)
        .open_in_place(nonce, ring::aead::Aad::from(path.as_bytes()), &mut rest)
        .ok()?;
    String::from_utf8(plain.to_vec()).ok()
}

/// Why a node did not apply a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BundleRejected(pub String);

/// Applies bundles on a node (implemented by the proxy).
#[async_trait::async_trait]
pub trait BundleSink: Send + Sync + 'static {
    /// Installs `bundle` and reloads; on any failure leaves the node as it was.
    async fn apply(&self, bundle: &Bundle) -> std::result::Result<(), BundleRejected>;
}

/// One node's answer to a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushResult {
    /// The node.
    pub node: String,
    /// `applied`, or `rejected: WHY`; `no answer` if it did not answer in time.
    pub outcome: String,
}

/// Publishes `bundle` to `targets` (`None`: every node) through the Redis at `url`,
/// then waits up to `wait` for each expected node's outcome.
pub async fn push(
    url: &str,
    bundle: &Bundle,
    targets: Option<&[String]>,
    wait: Duration,
) -> Result<Vec<PushResult>> {
    let client = redis::Client::open(url)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let json = serde_json::to_string(bundle).map_err(|e| ClusterError::Malformed {
        key: bundle_key(&bundle.version),
        reason: e.to_string(),
    })?;
    let expected: Vec<String> = match targets {
        Some(t) => t.to_vec(),
        None => crate::registry::list(&mut conn)
            .await?
            .into_iter()
            .map(|n| n.id)
            .collect(),
    };
    let ttl = if bundle.has_secrets() {
        SECRET_BUNDLE_TTL_SECS
    } else {
        BUNDLE_TTL_SECS
    };
    redis::pipe()
        .cmd("SET")
        .arg(bundle_key(&bundle.version))
        .arg(json)
        .arg("EX")
        .arg(ttl)
        .ignore()
        .cmd("DEL")
        .arg(results_key(&bundle.version))
        .ignore()
        .cmd("XADD")
        .arg(STREAM)
        .arg("MAXLEN")
        .arg("~")
        .arg(1000)
        .arg("*")
        .arg("version")
        .arg(&bundle.version)
        .arg("targets")
        .arg(targets.map_or_else(|| "*".to_string(), |t| t.join(",")))
        .ignore()
        .query_async::<()>(&mut conn)
        .await?;
    let deadline = Instant::now() + wait;
    loop {
        let results: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(results_key(&bundle.version))
            .query_async(&mut conn)
            .await?;
        let all_answered = expected.iter().all(|n| results.contains_key(n));
        if all_answered || Instant::now() >= deadline {
            // Secrets stay in Redis no longer than the rollout needs them.
            if bundle.has_secrets()
                && all_answered
                && expected
                    .iter()
                    .all(|n| results.get(n).is_some_and(|r| r == "applied"))
            {
                redis::cmd("DEL")
                    .arg(bundle_key(&bundle.version))
                    .query_async::<()>(&mut conn)
                    .await?;
            }
            return Ok(expected
                .iter()
                .map(|n| PushResult {
                    node: n.clone(),
                    outcome: results
                        .get(n)
                        .cloned()
                        .unwrap_or_else(|| "no answer".into()),
                })
                .collect());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fetches and applies the bundle a stream entry announces, if it is for `me`;
/// records the outcome. Returns the version and outcome when it was for `me`.
pub(crate) async fn receive<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    me: &str,
    version: &str,
    targets: &str,
    key: Option<&SecretKey>,
    sink: &dyn BundleSink,
) -> Result<Option<(String, std::result::Result<(), BundleRejected>)>> {
    if targets != "*" && !targets.split(',').any(|t| t == me) {
        return Ok(None);
    }
    let json: Option<String> = redis::cmd("GET")
        .arg(bundle_key(version))
        .query_async(conn)
        .await?;
    let outcome = match json.map(|j| serde_json::from_str::<Bundle>(&j)) {
        None => Err(BundleRejected("the bundle is gone from Redis".into())),
        Some(Err(e)) => Err(BundleRejected(format!("unreadable bundle: {e}"))),
        Some(Ok(b)) if b.version != version || !b.verify() => Err(BundleRejected(
            "checksum mismatch: the bundle is not the one announced".into(),
        )),
        Some(Ok(b)) => match b.open(key) {
            Ok(b) => sink.apply(&b).await,
            Err(e) => Err(e),
        },
    };
    let text = match &outcome {
        Ok(()) => "applied".to_string(),
        Err(e) => format!("rejected: {e}"),
    };
    redis::cmd("HSET")
        .arg(results_key(version))
        .arg(me)
        .arg(text)
        .query_async::<()>(conn)
        .await?;
    Ok(Some((version.to_string(), outcome)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_content_and_catch_tampering() {
        let f = |p: &str, c: &str| BundleFile {
            path: p.into(),
            content: c.into(),
            secret: false,
        };
        let new = |files, message: &str| Bundle::new(files, message.into(), None).expect("bundle");
        let a = new(vec![f("rules.yaml", "x"), f("a.js", "y")], "");
        let b = new(vec![f("a.js", "y"), f("rules.yaml", "x")], "again");
        assert_eq!(a.version, b.version, "order and message do not matter");
        assert!(a.verify());
        let c = new(vec![f("rules.yaml", "xa.js"), f("", "y")], "");
        assert_ne!(a.version, c.version);
        let mut tampered = a.clone();
        tampered.files[0].content.push(' ');
        assert!(!tampered.verify());
    }

    #[test]
    fn secrets_travel_sealed_and_open_only_with_the_key_at_their_path() {
        let key = SecretKey([7; 32]);
        let secret = BundleFile {
            path: "secrets/api.token".into(),
            content: "hunter2-very-secret".into(),
            secret: true,
        };
        assert!(matches!(
            Bundle::new(vec![secret.clone()], String::new(), None),
            Err(ClusterError::NoSecretKey(_))
        ));
        let sealed = Bundle::new(vec![secret.clone()], String::new(), Some(&key)).expect("seal");
        let json = serde_json::to_string(&sealed).expect("json");
        assert!(
            !json.contains("hunter2"),
            "plaintext in what goes to Redis: {json}"
        );
        assert!(sealed.verify());
        let again = Bundle::new(vec![secret], String::new(), Some(&key)).expect("seal");
        assert_ne!(
            sealed.files[0].content, again.files[0].content,
            "fresh nonce"
        );

        let opened = sealed.clone().open(Some(&key)).expect("open");
        assert_eq!(opened.files[0].content, "hunter2-very-secret");
        assert!(sealed.clone().open(None).is_err(), "no key");
        assert!(
            sealed.clone().open(Some(&SecretKey([8; 32]))).is_err(),
            "other key"
        );
        let mut moved = sealed.clone();
        moved.files[0].path = "rules.yaml".into();
        assert!(moved.open(Some(&key)).is_err(), "bound to its path");
        let mut flipped = sealed;
        let last = flipped.files[0].content.pop().expect("hex");
        flipped.files[0]
            .content
            .push(if last == '0' { '1' } else { '0' });
        assert!(flipped.open(Some(&key)).is_err(), "authenticated");
    }
}
