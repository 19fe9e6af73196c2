//! The worker's side of `HTMLRewriter`: running the handlers a parser thread asks
//! for, and parsing pages itself when no handler is `async`.

use super::Worker;
use crate::clock::CpuClock;
use crate::engine::host_work::{self, RewriteIo};
use crate::engine::inline_rewrite;
use crate::error::Result;
use crate::host;
use crate::rewriter_handlers::{self, Finished};
use crate::rewriter_thread::HandlerCall;
use tokio::sync::mpsc;

impl Worker {
    /// Sets up a page this thread rewrites itself (`HostCall::RewriteHere`); the
    /// caller has counted its first step as outstanding work of `request`.
    pub(super) fn start_rewrite_here(&mut self, request: u64, page: host::RewriteHere) {
        let host::RewriteHere {
            rewriter,
            source,
            plan,
            handlers,
            coding,
            out,
        } = page;
        let io = RewriteIo {
            rewriter,
            source: Some(source),
            rest: None,
            out,
            ended: false,
        };
        let first = match inline_rewrite::document(handlers, &plan, coding) {
            Ok(doc) => {
                self.documents.insert((request, rewriter), doc);
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        };
        let failed = first.is_err();
        self.events
            .push(host_work::rewrite_step(request, io, first, failed));
    }

    /// Runs an `HTMLRewriter` handler for `request`, or forgets the rewriter once its
    /// parser thread is done.
    pub(super) fn rewrite_call(
        &mut self,
        request: u64,
        rewriter: u32,
        call: Option<HandlerCall>,
        calls: mpsc::UnboundedReceiver<HandlerCall>,
    ) {
        let Some(mut call) = call else {
            self.rewriters.remove(&(request, rewriter));
            return;
        };
        let mut calls = calls;
        // The rewrite is still going: it counts as outstanding work of the request
        // (so the request is not forgotten while its handlers run).
        match self.requests.get_mut(&request) {
            Some(r) => r.outstanding += 1,
            None => return,
        }
        loop {
            self.handler_call(request, rewriter, call);
            if !self.requests.contains_key(&request) {
                return;
            }
            // The parser thread usually asks again within microseconds: catching that
            // here saves two thread wake-ups per handler, most of a call's cost.
            match host_work::spin_recv(&mut calls) {
                Some(next) => call = next,
                None => break,
            }
        }
        self.events
            .push(host_work::next_handler_call(request, rewriter, calls));
    }

    fn handler_call(&mut self, request: u64, rewriter: u32, call: HandlerCall) {
        let Some(r) = self.requests.get(&request) else {
            return;
        };
        // Handlers run after the response has started, so the CPU limit is enforced
        // here: over it, the rewrite stops and the response is cut short.
        if r.cpu > self.limits.cpu_time {
            let _ = call.reply.send(Err(format!(
                "the script exceeded its CPU limit of {} ms",
                self.limits.cpu_time.as_millis()
            )));
            return;
        }
        let Some(handlers) = self.rewriters.get(&(request, rewriter)).cloned() else {
            let _ = call.reply.send(Err("unknown rewriter".to_owned()));
            return;
        };
        let token = host::store_reply(request, call.reply);
        let target = call.target;
        let unit = call.unit;
        self.run_js(request, CpuClock::wall_only, move |inst| {
            crate::clock::io_happened();
            let finished: Finished = Box::new(move |answer| host::reply(token, answer));
            let ran =
                rewriter_handlers::run_kept(&handlers, target, unit, finished, inst.context());
            let result = ran
                .map_err(|e| inst.error(&e))
                .and_then(|()| inst.run_jobs());
            if let Err(e) = &result {
                // (A loop stopped for the limits says which.)
                let why = crate::budget::exceeded().unwrap_or_else(|| e.to_string());
                host::reply(token, Err(why));
            }
            result
        });
    }

    /// Takes the next piece of a page this thread rewrites itself: feeds it to the
    /// page's parser (running the handlers it matches), ends the page, or, once the
    /// last output went out, forgets the rewriter.
    pub(super) fn rewrite_input(
        &mut self,
        request: u64,
        mut io: RewriteIo,
        input: Result<Option<bytes::Bytes>>,
    ) {
        let key = (request, io.rewriter);
        if io.ended {
            self.documents.remove(&key);
            return;
        }
        let Some(r) = self.requests.get_mut(&request) else {
            return;
        };
        // The step that follows is outstanding work from now: the handlers' run below
        // ends with a check that forgets a request with none.
        r.outstanding += 1;
        let (output, last) = match (input, self.documents.remove(&key)) {
            (_, None) => (
                Err(crate::rewriter::failed("the rewrite was stopped")),
                true,
            ),
            (Err(e), Some(_)) => (Err(e), true),
            (Ok(Some(chunk)), Some(mut doc)) => {
                let mut output = None;
                self.run_js(request, CpuClock::start, |inst| {
                    output = Some(inline_rewrite::feed(inst, &mut doc, &chunk));
                    Ok(())
                });
                let output =
                    output.unwrap_or_else(|| Err(crate::rewriter::failed("the script stopped")));
                // (A limit may have ended the request during the run: then the page
                // is dropped here, not kept for a request that is gone.)
                if output.is_ok() && self.requests.contains_key(&request) {
                    self.documents.insert(key, doc);
                }
                let failed = output.is_err();
                (output, failed)
            }
            (Ok(None), Some(doc)) => {
                let mut output = None;
                self.run_js(request, CpuClock::start, |inst| {
                    output = Some(inline_rewrite::finish(inst, doc));
                    Ok(())
                });
                (
                    output.unwrap_or_else(|| Err(crate::rewriter::failed("the script stopped"))),
                    true,
                )
            }
        };
        if let Err(e) = &output {
            tracing::warn!(error = %e, "HTMLRewriter stopped; the response is cut short");
        }
        if !self.requests.contains_key(&request) {
            // The script is gone (a limit): the page still ends, with the error.
            io.source = None;
            io.rest = None;
        }
        self.events
            .push(host_work::rewrite_step(request, io, output, last));
    }
}
