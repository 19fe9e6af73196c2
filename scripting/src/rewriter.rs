//! The native half of `HTMLRewriter`: a page's lol_html run ([`Document`]), whose
//! handlers hand each matched token to the script through an [`Ask`], and the
//! [`Token`] view of lol_html's token types.
//!
//! lol_html calls handlers synchronously, while a Workers handler may be `async`. When
//! no handler is `async`, the JS thread drives the [`Document`] itself and each handler
//! works on lol_html's token directly (`engine::inline_rewrite`). Otherwise the page
//! is parsed on a thread of its own (`rewriter_thread`), which sends a snapshot of
//! each token ([`Unit`]) to the JS thread and applies the edits ([`Op`]s) that come
//! back. Either way handler time counts against the request's CPU limit.

use crate::codec::{Codec, Coding};
use crate::error::{Result, ScriptError};
use crate::exchange::BodyStream;
use crate::tokens::{Field, Op, Token, Unit, Value};
use bytes::Bytes;
use lol_html::html_content::{ContentType, EndTag};
use lol_html::{DocumentContentHandlers, ElementContentHandlers, HtmlRewriter, Settings};
use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::str::FromStr;
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

/// Checks a selector as `HTMLRewriter.on()` gets it.
pub(crate) fn check_selector(s: &str) -> std::result::Result<(), String> {
    lol_html::Selector::from_str(s)
        .map(|_| ())
        .map_err(|e| format!("invalid selector {s:?}: {e}"))
}

/// Output chunks buffered between the parser and the client.
pub(crate) const OUT_CHANNEL: usize = 8;

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
