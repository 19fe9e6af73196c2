//! The handlers an `HTMLRewriter`'s `transform()` was given ([`Handlers`]), and
//! running one on a token: lol_html's own, lent to the handler's object for its run
//! ([`run`]), or a parser thread's snapshot, whose edits go back when the handler
//! (maybe `async`) has finished ([`run_kept`]).

use crate::convert::{arg, type_error};
use crate::rewriter::Target;
use crate::token_objects::{self, EndTags, KeptToken, Kind};
use crate::tokens::{Op, Token, Unit};
use boa_engine::builtins::promise::PromiseState;
use boa_engine::object::FunctionObjectBuilder;
use boa_engine::object::builtins::JsPromise;
use boa_engine::{
    Context, Finalize, JsError, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace,
    js_string,
};
use std::cell::RefCell;
use std::rc::Rc;

/// The handlers of one `transform()`: per `on(selector, …)` the handlers object with
/// its `element`, `comments` and `text` functions, per `onDocument(…)` the object with
/// its `doctype`, `comments`, `text` and `end`, and the end-tag handlers registered
/// so far.
pub(crate) struct Handlers {
    elements: Vec<(JsObject, [Option<JsObject>; 3])>,
    documents: Vec<(JsObject, [Option<JsObject>; 4])>,
    end_tags: Rc<EndTags>,
}

impl Handlers {
    /// From `[[elementHandlers…], [documentHandlers…]]`, as `transform()` got them.
    pub(crate) fn from_js(value: &JsValue, ctx: &mut Context) -> JsResult<Handlers> {
        let lists = value
            .as_object()
            .ok_or_else(|| type_error("bad rewriter handlers"))?;
        let objects = |v: JsValue, ctx: &mut Context| -> JsResult<Vec<JsObject>> {
            crate::convert::elements(&v, "rewriter handlers", ctx)?
                .into_iter()
                .map(|h| {
                    h.as_object()
                        .ok_or_else(|| type_error("bad rewriter handlers"))
                })
                .collect()
        };
        fn functions<const N: usize>(
            o: JsObject,
            names: [&str; N],
            ctx: &mut Context,
        ) -> JsResult<(JsObject, [Option<JsObject>; N])> {
            let mut fs: [Option<JsObject>; N] = std::array::from_fn(|_| None);
            for (slot, name) in fs.iter_mut().zip(names) {
                *slot = o
                    .get(JsString::from(name), ctx)?
                    .as_object()
                    .filter(JsObject::is_callable);
            }
            Ok((o, fs))
        }
        let elements = objects(lists.get(0, ctx)?, ctx)?
            .into_iter()
            .map(|o| functions(o, ["element", "comments", "text"], ctx))
            .collect::<JsResult<_>>()?;
        let documents = objects(lists.get(1, ctx)?, ctx)?
            .into_iter()
            .map(|o| functions(o, ["doctype", "comments", "text", "end"], ctx))
            .collect::<JsResult<_>>()?;
        Ok(Handlers {
            elements,
            documents,
            end_tags: Rc::default(),
        })
    }

    /// The function for `target`, what it is called on, and the kind of token object
    /// it gets.
    fn for_target(&self, target: Target) -> Option<(JsValue, JsObject, Kind)> {
        let element = |i: usize, slot: usize, kind| {
            let (this, fs) = self.elements.get(i)?;
            Some((this.clone().into(), fs[slot].clone()?, kind))
        };
        let document = |i: usize, slot: usize, kind| {
            let (this, fs) = self.documents.get(i)?;
            Some((this.clone().into(), fs[slot].clone()?, kind))
        };
        match target {
            Target::Element(i) => element(i, 0, Kind::Element),
            Target::Comments(i) => element(i, 1, Kind::Comment),
            Target::Text(i) => element(i, 2, Kind::Text),
            Target::Doctype(i) => document(i, 0, Kind::Doctype),
            Target::DocComments(i) => document(i, 1, Kind::Comment),
            Target::DocText(i) => document(i, 2, Kind::Text),
            Target::DocEnd(i) => document(i, 3, Kind::DocumentEnd),
            Target::EndTag(t) => Some((JsValue::undefined(), self.end_tags.take(t)?, Kind::EndTag)),
        }
    }
}

/// Runs `target`'s handler of `handlers` on `token`: the token is lent to the
/// handler's object while the handler runs and, if it returned a promise, while the
/// microtasks run that may settle it. `Ok(false)`: the promise still waits (on I/O),
/// which a token cannot.
pub(crate) fn run(
    handlers: &Handlers,
    target: Target,
    token: &mut dyn Token,
    ctx: &mut Context,
) -> JsResult<bool> {
    let Some((this, f, kind)) = handlers.for_target(target) else {
        return Ok(true);
    };
    let promise = token_objects::lend(kind, token, &handlers.end_tags, ctx, |object, ctx| {
        let value = f.call(&this, &[object], ctx)?;
        let Some(promise) = promise_of(value, ctx)? else {
            return Ok(None);
        };
        ctx.run_jobs()?;
        Ok(Some(promise))
    })?;
    match promise.map(|p| p.state()) {
        // (Microtasks a plain handler queued run once its token is gone, as before.)
        None => ctx.run_jobs().map(|()| true),
        Some(PromiseState::Fulfilled(_)) => Ok(true),
        Some(PromiseState::Rejected(e)) => Err(JsError::from_opaque(e)),
        Some(PromiseState::Pending) => Ok(false),
    }
}

/// Where a parser thread's token's edits (or its handler's error) go once the handler
/// has finished; called once.
pub(crate) type Finished = Box<dyn FnOnce(std::result::Result<Vec<Op>, String>)>;

/// Runs `target`'s handler of `handlers` on `unit`, a parser thread's snapshot of its
/// token. The handler may be `async`: its edits go to `finished` when it (or its
/// promise) is done, and the token stops working then. `Err` only for what stops the
/// script (a limit), which the handler cannot catch.
pub(crate) fn run_kept(
    handlers: &Rc<Handlers>,
    target: Target,
    unit: Unit,
    finished: Finished,
    ctx: &mut Context,
) -> JsResult<()> {
    let Some((this, f, kind)) = handlers.for_target(target) else {
        finished(Ok(Vec::new()));
        return Ok(());
    };
    let (object, kept) = token_objects::keep(kind, unit, Rc::downgrade(&handlers.end_tags), ctx)?;
    let outcome = Outcome {
        kept,
        finished: Rc::new(RefCell::new(Some(finished))),
    };
    let value = match f.call(&this, &[object], ctx) {
        Ok(v) => v,
        Err(e) => return outcome.failed(e, ctx),
    };
    let Some(promise) = promise_of(value, ctx)? else {
        outcome.done(Ok(()));
        return Ok(());
    };
    let on_ok = NativeFunction::from_copy_closure_with_captures(
        |_, _, o: &Outcome, _| {
            o.done(Ok(()));
            Ok(JsValue::undefined())
        },
        outcome.clone(),
    );
    let on_err = NativeFunction::from_copy_closure_with_captures(
        |_, args, o: &Outcome, ctx| {
            o.failed(JsError::from_opaque(arg(args, 0)), ctx)?;
            Ok(JsValue::undefined())
        },
        outcome,
    );
    let on_ok = FunctionObjectBuilder::new(ctx.realm(), on_ok).build();
    let on_err = FunctionObjectBuilder::new(ctx.realm(), on_err).build();
    // (No derived promise: nothing waits on one, and `then` would look up the species
    // constructor and build a promise per match.)
    promise.when_settled(Some(on_ok), Some(on_err), ctx);
    Ok(())
}

/// What a handler returned, as a promise if it is one or a thenable (which a promise
/// then follows); `None` for anything else.
fn promise_of(value: JsValue, ctx: &mut Context) -> JsResult<Option<JsPromise>> {
    let Some(o) = value.as_object() else {
        return Ok(None);
    };
    match JsPromise::from_object(o.clone()) {
        Ok(p) => Ok(Some(p)),
        Err(_) if o.get(js_string!("then"), ctx)?.is_callable() => {
            Ok(Some(JsPromise::resolve(value, ctx)?))
        }
        Err(_) => Ok(None),
    }
}

/// A kept token's handler and where its outcome goes.
#[derive(Clone, Trace, Finalize)]
struct Outcome {
    #[unsafe_ignore_trace]
    kept: KeptToken,
    #[unsafe_ignore_trace]
    finished: Rc<RefCell<Option<Finished>>>,
}

impl Outcome {
    /// The handler finished (`Err`: it threw): the token stops working and its edits
    /// go to the parser.
    fn done(&self, result: std::result::Result<(), String>) {
        let Some(ops) = self.kept.finish() else {
            return;
        };
        if let Some(finished) = self.finished.borrow_mut().take() {
            finished(result.map(|()| ops));
        }
    }

    /// The handler threw `e`: the rewrite fails with it, unless it is a limit
    /// stopping the script, which goes on up.
    fn failed(&self, e: JsError, ctx: &mut Context) -> JsResult<()> {
        let text = crate::convert::error_text(&e, ctx);
        if crate::budget::exceeded().is_some() || text.starts_with("RuntimeLimit") {
            return Err(e);
        }
        self.done(Err(text));
        Ok(())
    }
}
