//! The one error type of this crate.

/// Result alias for cluster operations.
pub type Result<T> = std::result::Result<T, ClusterError>;

/// What can go wrong talking to the cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// Redis refused, failed or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A registry entry or purge message was not what this version writes.
    #[error("malformed cluster data in {key}: {reason}")]
    Malformed {
        /// The Redis key.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// A bundle has a secret file and no cluster key was configured to seal it.
    #[error(
        "{0} is a secret and cluster.secret_key_file is not set: secrets never go to Redis unencrypted"
    )]
    NoSecretKey(String),
    /// The system could not seal a secret.
    #[error("cannot encrypt a secret: {0}")]
    Crypto(&'static str),
    /// No answer from Redis in time.
    #[error("redis did not answer within {0:?}")]
    Timeout(std::time::Duration),
}
