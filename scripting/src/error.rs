//! The one error type of this crate.

/// Result alias for running scripts.
pub type Result<T> = std::result::Result<T, ScriptError>;

/// Why a script could not produce a response.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// The script does not parse or its top level throws. Shown as
    /// `FILE:LINE:COL: message` when the engine gave a position.
    #[error("{}", compile_message(script, message))]
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
    /// The request's JavaScript allocated more memory than allowed.
    #[error("script {script}: exceeded its memory limit of {limit_mb} MiB")]
    MemoryLimit {
        /// The script's name.
        script: String,
        /// The limit.
        limit_mb: u64,
    },
    /// A loop ran more iterations, or calls nested deeper, than allowed.
    #[error("script {script}: {message}")]
    RuntimeLimit {
        /// The script's name.
        script: String,
        /// Which limit.
        message: String,
    },
    /// A `fetch()` subrequest failed (no response from Outpost's pipeline).
    #[error("subrequest failed: {message}")]
    Subrequest {
        /// What went wrong.
        message: String,
    },
    /// An `HTMLRewriter` transform stopped: a handler threw or hit a limit, or the
    /// source body failed. The rewritten response is cut short.
    #[error("HTMLRewriter: {message}")]
    Rewriter {
        /// What went wrong.
        message: String,
    },
    /// A body a script was writing as a stream failed: the stream errored, or the
    /// request ended before the script closed it. The body is cut short.
    #[error("streamed body: {message}")]
    Stream {
        /// What went wrong.
        message: String,
    },
    /// A KV operation failed.
    #[error("KV: {message}")]
    Kv {
        /// What went wrong.
        message: String,
    },
    /// A body was larger than a hook may read into memory.
    #[error("body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The JS threads are gone (the engine is shutting down).
    #[error("the JavaScript runtime is not running")]
    Unavailable,
    /// Too much work waits for the JS threads: refused without running.
    #[error("script {script}: overloaded: {reason}")]
    Overloaded {
        /// The script's name.
        script: String,
        /// Which bound.
        reason: String,
    },
}

impl ScriptError {
    /// A failed `fetch()` (or Cache API operation), with what went wrong.
    pub fn subrequest(message: impl Into<String>) -> Self {
        ScriptError::Subrequest {
            message: message.into(),
        }
    }

    /// A short machine-readable kind, for the `Outpost-Error` header and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ScriptError::Compile { .. } => "script-compile",
            ScriptError::NoHandler { .. } => "script-no-handler",
            ScriptError::Exception { .. } => "script-exception",
            ScriptError::NotAResponse { .. } => "script-bad-response",
            ScriptError::CpuLimit { .. } => "cpu-limit",
            ScriptError::MemoryLimit { .. } => "memory-limit",
            ScriptError::RuntimeLimit { .. } => "runtime-limit",
            ScriptError::Subrequest { .. } => "subrequest",
            ScriptError::Kv { .. } => "kv",
            ScriptError::Stream { .. } => "script-stream",
            ScriptError::Rewriter { .. } => "html-rewriter",
            ScriptError::BodyTooLarge { .. } => "body-too-large",
            ScriptError::Unavailable => "script-unavailable",
            ScriptError::Overloaded { .. } => "script-overloaded",
        }
    }
}

/// `path:line:col: message` from boa's "... at line L, col C (native)" form.
fn compile_message(script: &str, message: &str) -> String {
    let found = message.rfind(" at line ").and_then(|at| {
        let tail = &message[at + " at line ".len()..];
        let (line, rest) = tail.split_once(", col ")?;
        let col: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let line: usize = line.parse().ok()?;
        let col: usize = col.parse().ok()?;
        Some((line, col, &message[..at]))
    });
    match found {
        Some((line, col, what)) => format!("{script}:{line}:{col}: {what}"),
        None => format!("script {script}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_errors_lead_with_the_position() {
        assert_eq!(
            compile_message(
                "a.js",
                "SyntaxError: expected ')' at line 4, col 3 (native)"
            ),
            "a.js:4:3: SyntaxError: expected ')'"
        );
        assert_eq!(
            compile_message("a.js", "Error: boom"),
            "script a.js: Error: boom"
        );
    }
}
