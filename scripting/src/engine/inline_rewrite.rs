//! `HTMLRewriter` pages the JS thread parses itself: when no handler is `async`, each
//! chunk of the page goes through lol_html on this thread and every match calls its
//! handler directly, without the parser thread's two hand-offs per match.
//!
//! A handler runs while lol_html holds the matched token, so it needs the script's
//! context in the middle of a `write`: the worker lends it for that one call
//! ([`feed`], [`finish`]) through a scoped thread-local borrow. A handler may still
//! return a promise (a plain function returning one, or an `onEndTag` handler declared
//! `async`): it is awaited through the microtask queue, which a handler that does not
//! wait on I/O settles at once; one that waits on I/O stops the rewrite with an error
//! saying so, since the page cannot wait mid-token here (declared `async` on the
//! handlers object, it runs on a parser thread instead).

use crate::error::Result;
use crate::host;
use crate::instance::Instance;
use crate::rewriter::{Ask, Boxed, Document, Op, Plan, Target, Unit};
use std::rc::Rc;

scoped_tls_hkt::scoped_thread_local!(static mut RUNNING: Instance);

/// What a handler that waited on I/O is told.
const WAITED: &str = "an HTMLRewriter handler returned a promise that waits on I/O, which a \
    page parsed on the JS thread cannot wait for; declare the handler `async` on the \
    handlers object passed to on() or onDocument() (its page is then parsed on a thread of its own)";

/// A document for rewriter `rewriter` of `request` whose handlers run here.
pub(super) fn document(
    request: u64,
    rewriter: u32,
    plan: &Plan,
    coding: Option<crate::codec::Coding>,
) -> Result<Document> {
    let ask: Ask = Rc::new(move |target, unit| ask(request, rewriter, target, unit));
    Document::new(plan, coding, ask)
}

/// Rewrites the next chunk of `doc` with `inst` lent to its handlers; returns the
/// output. (The worker runs this under the request's budget, which each handler
/// checks first.)
pub(super) fn feed(inst: &mut Instance, doc: &mut Document, chunk: &[u8]) -> Result<Vec<u8>> {
    RUNNING.set(inst, || doc.write(chunk))
}

/// Ends `doc` (its document `end` handlers run) with `inst` lent to its handlers.
pub(super) fn finish(inst: &mut Instance, doc: Document) -> Result<Vec<u8>> {
    RUNNING.set(inst, || doc.end())
}

/// Runs one handler in the lent context and takes its edits.
fn ask(
    request: u64,
    rewriter: u32,
    target: Target,
    unit: Unit,
) -> std::result::Result<Vec<Op>, Boxed> {
    if let Some(why) = crate::budget::exceeded() {
        return Err(why.into());
    }
    if !RUNNING.is_set() {
        return Err("the script's context is not available to the rewriter".into());
    }
    RUNNING.with(|inst| {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let token = host::store_reply(request, reply);
        if let Err(e) = inst.rewrite(rewriter, token, Some((target, unit))) {
            host::fail_reply(token, String::new());
            // (A loop stopped for the limits says which.)
            return Err(crate::budget::exceeded()
                .unwrap_or_else(|| e.to_string())
                .into());
        }
        match answer.try_recv() {
            Ok(Ok(ops)) => Ok(ops),
            Ok(Err(message)) => Err(message.into()),
            Err(_) => {
                // (Its late edits go nowhere.)
                host::fail_reply(token, String::new());
                Err(WAITED.into())
            }
        }
    })
}
