//! The one error type of this crate.

/// Result alias for running scripts.
pub type Result<T> = std::result::Result<T, ScriptError>;

/// Why a script could not produce a response.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// The script does not parse or its top level throws.
    #[error("script {script}: {message}")]
    Compile {
        /// The script's name (its path).
        script: String,
        /// What the engine said, with the position when it has one.
        message: String,
    },
    /// The script has neither `export default { fetch }` nor a fetch listener.
    #[error(
        "script {script}: no fetch handler (use `export default {{ async fetch(request, env, ctx) {{ ... }} }}` or `addEventListener(\"fetch\", ...)`)"
    )]
    NoHandler {
        /// The script's name.
        script: String,
    },
    /// The handler threw, or its promise was rejected.
    #[error("script {script}: uncaught {message}")]
    Exception {
        /// The script's name.
        script: String,
        /// The exception, as JavaScript prints it.
        message: String,
    },
    /// The handler returned something that is not a `Response`.
    #[error("script {script}: the fetch handler returned {got}, not a Response")]
    NotAResponse {
        /// The script's name.
        script: String,
        /// What it returned (`undefined`, `a string`…).
        got: String,
    },
    /// The request used more CPU time than allowed.
    #[error("script {script}: exceeded its CPU time limit of {limit_ms} ms")]
    CpuLimit {
        /// The script's name.
        script: String,
        /// The limit.
        limit_ms: u64,
    },
    /// A loop ran more iterations, or calls nested deeper, than allowed.
    #[error("script {script}: {message}")]
    RuntimeLimit {
        /// The script's name.
        script: String,
        /// Which limit.
        message: String,
    },
    /// The JS threads are gone (the engine is shutting down).
    #[error("the JavaScript runtime is not running")]
    Unavailable,
}

impl ScriptError {
    /// A short machine-readable kind, for the `Outpost-Error` header and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ScriptError::Compile { .. } => "script-compile",
            ScriptError::NoHandler { .. } => "script-no-handler",
            ScriptError::Exception { .. } => "script-exception",
            ScriptError::NotAResponse { .. } => "script-bad-response",
            ScriptError::CpuLimit { .. } => "cpu-limit",
            ScriptError::RuntimeLimit { .. } => "runtime-limit",
            ScriptError::Unavailable => "script-unavailable",
        }
    }
}
