//! `HTMLRewriter` pages the JS thread parses itself: when no handler is `async`, each
//! chunk of the page goes through lol_html on this thread and every match calls its
//! handler directly, with lol_html's token behind the handler's object
//! (`token_objects`, `rewriter_handlers`), without the parser thread's two hand-offs per match.
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
use crate::instance::Instance;
use crate::rewriter::{Ask, Boxed, Document, Plan, Target};
use crate::rewriter_handlers::Handlers;
use crate::tokens::Token;
use std::rc::Rc;

scoped_tls_hkt::scoped_thread_local!(static mut RUNNING: Instance);

/// What a handler that waited on I/O is told.
const WAITED: &str = "an HTMLRewriter handler returned a promise that waits on I/O, which a \
    page parsed on the JS thread cannot wait for; declare the handler `async` on the \
    handlers object passed to on() or onDocument() (its page is then parsed on a thread of its own)";

/// A document whose `handlers` run here.
pub(super) fn document(
    handlers: Handlers,
    plan: &Plan,
    coding: Option<crate::codec::Coding>,
) -> Result<Document> {
    let ask: Ask = Rc::new(move |target, token| ask(&handlers, target, token));
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

/// Runs one handler on `token` in the lent context.
fn ask(
    handlers: &Handlers,
    target: Target,
    token: &mut dyn Token,
) -> std::result::Result<(), Boxed> {
    if let Some(why) = crate::budget::exceeded() {
        return Err(why.into());
    }
    if !RUNNING.is_set() {
        return Err("the script's context is not available to the rewriter".into());
    }
    RUNNING.with(|inst| {
        let ctx = inst.context();
        match crate::rewriter_handlers::run(handlers, target, token, ctx) {
            Ok(true) => Ok(()),
            Ok(false) => Err(WAITED.into()),
            // (A loop stopped for the limits says which.)
            Err(e) => Err(crate::budget::exceeded()
                .unwrap_or_else(|| crate::convert::error_text(&e, ctx))
                .into()),
        }
    })
}
