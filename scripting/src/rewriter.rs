//! The native half of `HTMLRewriter`: a page's lol_html run ([`Document`]), whose
//! handlers ask the script for their edits, and the parser thread that drives it when
//! a handler is `async`.
//!
//! lol_html calls handlers synchronously, while a Workers handler may be `async`.
//! Each match becomes a snapshot of its token ([`Unit`]) handed to the script, which
//! runs the handler and gives back the edits it made ([`Op`]s); lol_html applies them
//! before it goes on. When no handler is `async`, the JS thread drives the
//! [`Document`] itself and calls each handler directly (`engine::inline_rewrite`).
//! Otherwise the page is parsed on a blocking thread of its own ([`start`]): every
//! match becomes a [`HandlerCall`] sent to the JS thread's event loop, and the parser
//! thread waits for the edits, so the JS thread never blocks and async handlers are
//! awaited like any other promise. Either way handler time counts against the
//! request's CPU limit. Element and text objects in JS stop working once their
//! handler has finished, as in Workers.

use crate::codec::{Codec, Coding};
use crate::error::{Result, ScriptError};
use crate::exchange::{Body, BodyStream};
use crate::limits::ASYNC_TIMEOUT;
use crate::tokens::{Field, Op, Token, Unit, Value};
use bytes::Bytes;
use lol_html::html_content::{ContentType, EndTag};
use lol_html::{DocumentContentHandlers, ElementContentHandlers, HtmlRewriter, Settings};
use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::str::FromStr;
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc;

/// Which handlers one `on(selector, handlers)` or `onDocument(handlers)` has.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// Selector and whether it has `element`, `comments`, `text` handlers.
    pub selectors: Vec<(String, [bool; 3])>,
    /// Whether each document handler set has `doctype`, `comments`, `text`, `end`.
    pub documents: Vec<[bool; 4]>,
}

/// The handler a call is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Element(usize),
    Comments(usize),
    Text(usize),
    Doctype(usize),
    DocComments(usize),
    DocText(usize),
    DocEnd(usize),
    EndTag(u32),
}

/// One handler to run on the JS thread; the edits (or the handler's error) go back
/// through `reply`.
pub(crate) struct HandlerCall {
    pub target: Target,
    pub unit: Unit,
    pub reply: std_mpsc::SyncSender<std::result::Result<Vec<Op>, String>>,
}

/// Checks a selector as `HTMLRewriter.on()` gets it.
pub(crate) fn check_selector(s: &str) -> std::result::Result<(), String> {
    lol_html::Selector::from_str(s)
        .map(|_| ())
        .map_err(|e| format!("invalid selector {s:?}: {e}"))
}

/// Output chunks buffered between the parser and the client.
pub(crate) const OUT_CHANNEL: usize = 8;

/// Starts rewriting `source` per `plan` on a parser thread of its own; returns the
/// rewritten body. Handler calls arrive on `calls`; the stream ends when the rewrite
/// does (or errs if it failed).
pub(crate) fn start(
    source: Body,
    coding: Option<Coding>,
    plan: Plan,
    calls: mpsc::UnboundedSender<HandlerCall>,
) -> Result<BodyStream> {
    check_plan(&plan)?;
    let (out_tx, mut out_rx) = mpsc::channel::<Result<Bytes>>(OUT_CHANNEL);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let result = run(&handle, source, coding, &plan, calls, &out_tx);
        if let Err(e) = result {
            tracing::warn!(error = %e, "HTMLRewriter stopped; the response is cut short");
            let _ = handle.block_on(out_tx.send(Err(e)));
        }
    });
    Ok(BodyStream::new(futures_util::stream::poll_fn(move |cx| {
        out_rx.poll_recv(cx)
    })))
}

/// The output side of a rewrite the JS thread runs itself: chunks go in on the sender,
/// an empty chunk marks the page's end, and the stream errs if the sender goes away
/// without that mark (the script stopped mid-page: the client must not take a cut
/// page for a whole one).
pub(crate) fn output() -> (mpsc::Sender<Result<Bytes>>, BodyStream) {
    let (tx, mut rx) = mpsc::channel::<Result<Bytes>>(OUT_CHANNEL);
    let mut ended = false;
    let stream = futures_util::stream::poll_fn(move |cx| {
        if ended {
            return std::task::Poll::Ready(None);
        }
        match std::task::ready!(rx.poll_recv(cx)) {
            Some(Ok(b)) if b.is_empty() => {
                ended = true;
                std::task::Poll::Ready(None)
            }
            Some(Err(e)) => {
                ended = true;
                std::task::Poll::Ready(Some(Err(e)))
            }
            Some(chunk) => std::task::Poll::Ready(Some(chunk)),
            None => {
                ended = true;
                std::task::Poll::Ready(Some(Err(failed(
                    "the script stopped before the page's end",
                ))))
            }
        }
    });
    (tx, BodyStream::new(stream))
}

/// Checks that every selector of `plan` parses (they were checked by `on()`).
pub(crate) fn check_plan(plan: &Plan) -> Result<()> {
    for (s, _) in &plan.selectors {
        check_selector(s).map_err(|message| ScriptError::Rewriter { message })?;
    }
    Ok(())
}

pub(crate) fn failed(message: impl Into<String>) -> ScriptError {
    ScriptError::Rewriter {
        message: message.into(),
    }
}

/// A handler's failure, as lol_html takes it from a handler.
pub(crate) type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// How a document's handlers reach the script: runs handler `target` on `token`, which
/// the handler reads and edits.
pub(crate) type Ask = Rc<dyn Fn(Target, &mut dyn Token) -> std::result::Result<(), Boxed>>;

/// Runs handler `target` on the JS thread with a snapshot of `token`, waits for its
/// edits and applies them.
fn ask_thread(
    calls: &mpsc::UnboundedSender<HandlerCall>,
    target: Target,
    token: &mut dyn Token,
) -> std::result::Result<(), Boxed> {
    let unit = token.unit();
    let (reply, answer) = std_mpsc::sync_channel(1);
    calls
        .send(HandlerCall {
            target,
            unit,
            reply,
        })
        .map_err(|_| Boxed::from("the script is gone"))?;
    // Most handlers answer within microseconds: poll briefly before sleeping.
    let until = std::time::Instant::now() + spin();
    let answer = loop {
        match answer.try_recv() {
            Ok(a) => break Ok(a),
            Err(std_mpsc::TryRecvError::Disconnected) => {
                break Err(std_mpsc::RecvTimeoutError::Disconnected);
            }
            Err(std_mpsc::TryRecvError::Empty) if std::time::Instant::now() < until => {
                std::hint::spin_loop();
            }
            Err(std_mpsc::TryRecvError::Empty) => break answer.recv_timeout(ASYNC_TIMEOUT),
        }
    };
    match answer {
        Ok(Ok(ops)) => {
            for op in ops {
                token.edit(op)?;
            }
            Ok(())
        }
        Ok(Err(message)) => Err(message.into()),
        Err(std_mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "a handler did not finish within {} s",
            ASYNC_TIMEOUT.as_secs()
        )
        .into()),
        Err(std_mpsc::RecvTimeoutError::Disconnected) => {
            Err("the script stopped (an error, or a CPU or memory limit)".into())
        }
    }
}

fn kind(html: bool) -> ContentType {
    if html {
        ContentType::Html
    } else {
        ContentType::Text
    }
}

fn end_tag_handler(ask: Ask, token: u32) -> lol_html::EndTagHandler<'static> {
    Box::new(move |end: &mut EndTag<'_>| ask(Target::EndTag(token), end))
}

/// Where lol_html's output collects until the caller takes it.
struct Sink(Rc<RefCell<Vec<u8>>>);

impl lol_html::OutputSink for Sink {
    fn handle_chunk(&mut self, chunk: &[u8]) {
        self.0.borrow_mut().extend_from_slice(chunk);
    }
}

/// One page being rewritten: lol_html with the plan's handlers, each asking the
/// script through an [`Ask`], and the decoder of a compressed page. Fed chunk by chunk
/// by whichever side drives it (a parser thread, or the JS thread itself).
pub(crate) struct Document {
    rewriter: HtmlRewriter<'static, Sink>,
    out: Rc<RefCell<Vec<u8>>>,
    decoder: Option<Codec>,
}

impl Document {
    pub(crate) fn new(plan: &Plan, coding: Option<Coding>, ask: Ask) -> Result<Self> {
        let selectors = plan
            .selectors
            .iter()
            .map(|(s, _)| lol_html::Selector::from_str(s).map_err(|e| failed(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let mut settings = Settings::new();
        for (i, ((_, has), sel)) in plan.selectors.iter().zip(&selectors).enumerate() {
            let mut h = ElementContentHandlers::default();
            if has[0] {
                let ask = ask.clone();
                h = h.element(move |el: &mut lol_html::html_content::Element<'_, '_>| {
                    let mut token = ElementToken { el, ask: &ask };
                    ask(Target::Element(i), &mut token)
                });
            }
            if has[1] {
                let ask = ask.clone();
                h = h.comments(move |c: &mut lol_html::html_content::Comment<'_>| {
                    ask(Target::Comments(i), c)
                });
            }
            if has[2] {
                let ask = ask.clone();
                h = h.text(move |t: &mut lol_html::html_content::TextChunk<'_>| {
                    ask(Target::Text(i), t)
                });
            }
            settings = settings.append_element_content_handler((Cow::Borrowed(sel), h));
        }
        for (i, has) in plan.documents.iter().enumerate() {
            let mut h = DocumentContentHandlers::default();
            if has[0] {
                let ask = ask.clone();
                h = h.doctype(move |d: &mut lol_html::html_content::Doctype<'_>| {
                    ask(Target::Doctype(i), d)
                });
            }
            if has[1] {
                let ask = ask.clone();
                h = h.comments(move |c: &mut lol_html::html_content::Comment<'_>| {
                    ask(Target::DocComments(i), c)
                });
            }
            if has[2] {
                let ask = ask.clone();
                h = h.text(move |t: &mut lol_html::html_content::TextChunk<'_>| {
                    ask(Target::DocText(i), t)
                });
            }
            if has[3] {
                let ask = ask.clone();
                h = h.end(move |end: &mut lol_html::html_content::DocumentEnd<'_>| {
                    ask(Target::DocEnd(i), end)
                });
            }
            settings = settings.append_document_content_handler(h);
        }
        let out = Rc::new(RefCell::new(Vec::new()));
        // A compressed page is decoded first (fetch() hands bodies over as the origin
        // sent them); the rewritten page goes out uncompressed.
        let decoder = coding
            .map(Codec::decoder)
            .transpose()
            .map_err(|e| failed(e.to_string()))?;
        Ok(Document {
            rewriter: HtmlRewriter::new(settings, Sink(out.clone())),
            out,
            decoder,
        })
    }

    /// Rewrites the next chunk of the page; returns the output it made.
    pub(crate) fn write(&mut self, chunk: &[u8]) -> Result<Vec<u8>> {
        let decoded;
        let html = match &mut self.decoder {
            Some(d) => {
                decoded = d
                    .push(chunk)
                    .map_err(|e| failed(format!("the page does not decode: {e}")))?;
                &decoded[..]
            }
            None => chunk,
        };
        self.rewriter
            .write(html)
            .map_err(|e| failed(e.to_string()))?;
        Ok(std::mem::take(&mut *self.out.borrow_mut()))
    }

    /// Ends the page (running the document `end` handlers); returns the last output.
    pub(crate) fn end(mut self) -> Result<Vec<u8>> {
        if let Some(d) = self.decoder.take() {
            let rest = d
                .finish()
                .map_err(|e| failed(format!("the page does not decode: {e}")))?;
            self.rewriter
                .write(&rest)
                .map_err(|e| failed(e.to_string()))?;
        }
        self.rewriter.end().map_err(|e| failed(e.to_string()))?;
        Ok(std::mem::take(&mut *self.out.borrow_mut()))
    }
}

/// The parser thread's loop: reads `source`, rewrites it and sends the output on.
fn run(
    handle: &tokio::runtime::Handle,
    source: Body,
    coding: Option<Coding>,
    plan: &Plan,
    calls: mpsc::UnboundedSender<HandlerCall>,
    out_tx: &mpsc::Sender<Result<Bytes>>,
) -> Result<()> {
    let ask: Ask = Rc::new(move |target, token| ask_thread(&calls, target, token));
    let mut doc = Document::new(plan, coding, ask)?;
    let send = |bytes: Vec<u8>| -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        match handle.block_on(tokio::time::timeout(
            ASYNC_TIMEOUT,
            out_tx.send(Ok(Bytes::from(bytes))),
        )) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(failed("the response was dropped")),
            Err(_) => Err(failed("the rewritten body was not read")),
        }
    };
    match source {
        Body::Bytes(b) => send(doc.write(&b)?)?,
        Body::Stream(mut s) => loop {
            let next = handle
                .block_on(tokio::time::timeout(ASYNC_TIMEOUT, s.next()))
                .map_err(|_| failed("the source body stalled"))?;
            match next {
                None => break,
                Some(chunk) => send(doc.write(&chunk?)?)?,
            }
        },
    }
    send(doc.end()?)
}

/// An element as its handler sees it, with the ask that its `onEndTag` handlers go
/// through.
struct ElementToken<'a, 'r, 't> {
    el: &'a mut lol_html::html_content::Element<'r, 't>,
    ask: &'a Ask,
}

fn refused(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Token for ElementToken<'_, '_, '_> {
    fn read(&self, field: Field<'_>) -> Value {
        let el = &self.el;
        match field {
            Field::TagName => Value::Str(el.tag_name()),
            Field::Attribute(name) => Value::Maybe(el.get_attribute(name)),
            Field::HasAttribute(name) => Value::Bool(el.has_attribute(name)),
            Field::Attributes => Value::Pairs(
                el.attributes()
                    .iter()
                    .map(|a| (a.name(), a.value()))
                    .collect(),
            ),
            Field::Namespace => Value::Str(el.namespace_uri().to_owned()),
            Field::SelfClosing => Value::Bool(el.is_self_closing()),
            Field::CanHaveContent => Value::Bool(el.can_have_content()),
            Field::Removed => Value::Bool(el.removed()),
            _ => Value::Maybe(None),
        }
    }

    fn edit(&mut self, op: Op) -> std::result::Result<(), String> {
        let el = &mut self.el;
        match op {
            Op::SetAttribute(n, v) => el.set_attribute(&n, &v).map_err(refused)?,
            Op::RemoveAttribute(n) => el.remove_attribute(&n),
            Op::TagName(n) => el.set_tag_name(&n).map_err(refused)?,
            Op::Before(s, h) => el.before(&s, kind(h)),
            Op::After(s, h) => el.after(&s, kind(h)),
            Op::Prepend(s, h) => el.prepend(&s, kind(h)),
            Op::Append(s, h) => el.append(&s, kind(h)),
            Op::SetInnerContent(s, h) => el.set_inner_content(&s, kind(h)),
            Op::Replace(s, h) => el.replace(&s, kind(h)),
            Op::Remove => el.remove(),
            Op::RemoveAndKeepContent => el.remove_and_keep_content(),
            Op::OnEndTag(token) => {
                if let Some(handlers) = el.end_tag_handlers() {
                    handlers.push(end_tag_handler(self.ask.clone(), token));
                }
            }
            Op::Text(_) => {}
        }
        Ok(())
    }

    fn unit(&self) -> Unit {
        let el = &self.el;
        Unit::Element {
            tag: el.tag_name(),
            attributes: el
                .attributes()
                .iter()
                .map(|a| (a.name(), a.value()))
                .collect(),
            namespace: el.namespace_uri(),
            self_closing: el.is_self_closing(),
            can_have_content: el.can_have_content(),
        }
    }
}

impl Token for lol_html::html_content::Comment<'_> {
    fn read(&self, field: Field<'_>) -> Value {
        match field {
            Field::Text => Value::Str(self.text()),
            Field::Removed => Value::Bool(self.removed()),
            _ => Value::Maybe(None),
        }
    }

    fn edit(&mut self, op: Op) -> std::result::Result<(), String> {
        match op {
            Op::Text(t) => self.set_text(&t).map_err(refused)?,
            Op::Before(s, h) => self.before(&s, kind(h)),
            Op::After(s, h) => self.after(&s, kind(h)),
            Op::Replace(s, h) => self.replace(&s, kind(h)),
            Op::Remove => self.remove(),
            _ => {}
        }
        Ok(())
    }

    fn unit(&self) -> Unit {
        Unit::Comment { text: self.text() }
    }
}

impl Token for lol_html::html_content::TextChunk<'_> {
    fn read(&self, field: Field<'_>) -> Value {
        match field {
            Field::Text => Value::Str(self.as_str().to_owned()),
            Field::LastInTextNode => Value::Bool(self.last_in_text_node()),
            Field::Removed => Value::Bool(self.removed()),
            _ => Value::Maybe(None),
        }
    }

    fn edit(&mut self, op: Op) -> std::result::Result<(), String> {
        match op {
            Op::Before(s, h) => self.before(&s, kind(h)),
            Op::After(s, h) => self.after(&s, kind(h)),
            Op::Replace(s, h) => self.replace(&s, kind(h)),
            Op::Remove => self.remove(),
            _ => {}
        }
        Ok(())
    }

    fn unit(&self) -> Unit {
        Unit::Text {
            text: self.as_str().to_owned(),
            last: self.last_in_text_node(),
        }
    }
}

impl Token for EndTag<'_> {
    fn read(&self, field: Field<'_>) -> Value {
        match field {
            Field::TagName => Value::Str(self.name()),
            _ => Value::Maybe(None),
        }
    }

    fn edit(&mut self, op: Op) -> std::result::Result<(), String> {
        match op {
            Op::Before(s, h) => self.before(&s, kind(h)),
            Op::After(s, h) => self.after(&s, kind(h)),
            Op::Remove => self.remove(),
            Op::TagName(n) => self.set_name_str(n),
            _ => {}
        }
        Ok(())
    }

    fn unit(&self) -> Unit {
        Unit::EndTag { name: self.name() }
    }
}

impl Token for lol_html::html_content::Doctype<'_> {
    fn read(&self, field: Field<'_>) -> Value {
        match field {
            Field::DoctypeName => Value::Maybe(self.name()),
            Field::PublicId => Value::Maybe(self.public_id()),
            Field::SystemId => Value::Maybe(self.system_id()),
            _ => Value::Maybe(None),
        }
    }

    fn edit(&mut self, _: Op) -> std::result::Result<(), String> {
        Ok(())
    }

    fn unit(&self) -> Unit {
        Unit::Doctype {
            name: self.name(),
            public_id: self.public_id(),
            system_id: self.system_id(),
        }
    }
}

impl Token for lol_html::html_content::DocumentEnd<'_> {
    fn read(&self, _: Field<'_>) -> Value {
        Value::Maybe(None)
    }

    fn edit(&mut self, op: Op) -> std::result::Result<(), String> {
        if let Op::Append(s, h) = op {
            self.append(&s, kind(h));
        }
        Ok(())
    }

    fn unit(&self) -> Unit {
        Unit::End
    }
}

/// How long a thread polls for the other side of a rewriter hand-off before it
/// sleeps (a sleep and wake-up costs tens of microseconds). Zero when the process
/// has one CPU: polling would only keep the other side from running.
pub(crate) fn spin() -> std::time::Duration {
    static SPIN: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
    *SPIN.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        if cpus > 1 {
            std::time::Duration::from_micros(40)
        } else {
            std::time::Duration::ZERO
        }
    })
}
