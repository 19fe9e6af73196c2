//! `console.*` for scripts: every call becomes a `tracing` event carrying the script's
//! name and the request's id, so hook output lands in Outpost's log with everything else.

use boa_engine::{Context, Finalize, JsResult, Trace};
use boa_runtime::console::{ConsoleState, Logger};

/// Sends console output to `tracing` (target `outpost::script`).
#[derive(Debug, Clone, Trace, Finalize)]
pub(crate) struct TracingLogger {
    #[unsafe_ignore_trace]
    pub(crate) script: std::sync::Arc<str>,
}

impl Logger for TracingLogger {
    fn log(&self, msg: String, _: &ConsoleState, _: &mut Context) -> JsResult<()> {
        tracing::info!(target: "outpost::script", script = %self.script, request_id = %crate::host::current_id(), "{msg}");
        Ok(())
    }

    fn info(&self, msg: String, _: &ConsoleState, _: &mut Context) -> JsResult<()> {
        tracing::info!(target: "outpost::script", script = %self.script, request_id = %crate::host::current_id(), "{msg}");
        Ok(())
    }

    fn debug(&self, msg: String, _: &ConsoleState, _: &mut Context) -> JsResult<()> {
        tracing::debug!(target: "outpost::script", script = %self.script, request_id = %crate::host::current_id(), "{msg}");
        Ok(())
    }

    fn warn(&self, msg: String, _: &ConsoleState, _: &mut Context) -> JsResult<()> {
        tracing::warn!(target: "outpost::script", script = %self.script, request_id = %crate::host::current_id(), "{msg}");
        Ok(())
    }

    fn error(&self, msg: String, _: &ConsoleState, _: &mut Context) -> JsResult<()> {
        tracing::error!(target: "outpost::script", script = %self.script, request_id = %crate::host::current_id(), "{msg}");
        Ok(())
    }
}
