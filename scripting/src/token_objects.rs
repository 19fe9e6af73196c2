//! The objects an `HTMLRewriter` handler gets (`Element`, `EndTag`, `Text`, `Comment`,
//! `Doctype`, `DocumentEnd`): native objects over a [`Token`].
//!
//! On a page the JS thread parses, lol_html's token is lent to its object for the
//! handler's run only ([`lend`]): the object carries a serial number, the lent token
//! the same one, and any call once the run is over throws, as in Workers. Reads and
//! edits go straight to lol_html's token, so a handler costs a native call per method
//! instead of a snapshot, a JS object per token and an edit list read back afterwards.
//! On a page a parser thread parses, the object holds the thread's snapshot until its
//! handler (maybe `async`) has finished ([`keep`]), which takes the edits.

use crate::convert::{arg, type_error};
use crate::native_class;
use crate::tokens::{Field, Op, Recorded, Token, Unit, Value};
use boa_engine::object::FunctionObjectBuilder;
use boa_engine::object::builtins::{JsArray, JsFunction};
use boa_engine::property::PropertyDescriptor;
use boa_engine::{
    Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace,
    js_string,
};
use foldhash::HashMap;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

/// What a token call after its handler's run throws (Workers' words).
const DEAD: &str = "This content token is no longer valid. Content tokens are only valid during the execution of the relevant content handler.";

/// The functions `onEndTag()` registered, by number, until their end tag comes.
#[derive(Default)]
pub(crate) struct EndTags {
    next: Cell<u32>,
    waiting: RefCell<HashMap<u32, JsObject>>,
}

impl EndTags {
    pub(crate) fn add(&self, f: JsObject) -> u32 {
        let n = self.next.get().wrapping_add(1);
        self.next.set(n);
        self.waiting.borrow_mut().insert(n, f);
        n
    }

    pub(crate) fn take(&self, n: u32) -> Option<JsObject> {
        self.waiting.borrow_mut().remove(&n)
    }
}

/// The token being handled, its serial, and where `onEndTag()` registers.
struct Loan<'a> {
    token: &'a mut (dyn Token + 'a),
    serial: u64,
    end_tags: &'a EndTags,
}

impl<'a, 'b: 'a> scoped_tls_hkt::ReborrowMut<'a> for Loan<'b> {
    type Result = Loan<'a>;
    fn reborrow_mut(&'a mut self) -> Loan<'a> {
        Loan {
            token: &mut *self.token,
            serial: self.serial,
            end_tags: self.end_tags,
        }
    }
}

scoped_tls_hkt::scoped_thread_local!(static mut LENT: for<'a> Loan<'a>);

thread_local! {
    static NEXT_SERIAL: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` with a new `kind` object over `token`, which the object may use until `f`
/// returns (`onEndTag()` adds to `end_tags`).
pub(crate) fn lend<R>(
    kind: Kind,
    token: &mut dyn Token,
    end_tags: &EndTags,
    ctx: &mut Context,
    f: impl FnOnce(JsValue, &mut Context) -> JsResult<R>,
) -> JsResult<R> {
    let serial = NEXT_SERIAL.with(|s| {
        s.set(s.get() + 1);
        s.get()
    });
    let backing = Backing::Live(serial);
    let object = native_class::object(prototype(kind, ctx)?, Lent { backing }, ctx);
    let loan = Loan {
        token,
        serial,
        end_tags,
    };
    LENT.set(loan, || f(object.into(), ctx))
}

/// A `kind` object over `unit`, a parser thread's snapshot, that records the
/// handler's edits until [`KeptToken::finish`] (`onEndTag()` adds to `end_tags` while
/// the rewrite lasts).
pub(crate) fn keep(
    kind: Kind,
    unit: Unit,
    end_tags: Weak<EndTags>,
    ctx: &mut Context,
) -> JsResult<(JsValue, KeptToken)> {
    let kept = Rc::new(RefCell::new(Some(Kept {
        token: Recorded::new(unit),
        end_tags,
    })));
    let backing = Backing::Kept(kept.clone());
    let object = native_class::object(prototype(kind, ctx)?, Lent { backing }, ctx);
    Ok((object.into(), KeptToken(kept)))
}

/// The edits side of a kept token's object.
#[derive(Clone)]
pub(crate) struct KeptToken(Rc<RefCell<Option<Kept>>>);

impl KeptToken {
    /// The handler has finished: the object stops working; its edits, the first time.
    pub(crate) fn finish(&self) -> Option<Vec<Op>> {
        Some(self.0.borrow_mut().take()?.token.into_ops())
    }
}

/// A token object's data: which token it is for.
#[derive(Trace, Finalize, JsData)]
struct Lent {
    #[unsafe_ignore_trace]
    backing: Backing,
}

enum Backing {
    /// lol_html's token, lent while the handler with this serial runs.
    Live(u64),
    /// A parser thread's snapshot, kept until the handler (maybe `async`) finishes.
    Kept(Rc<RefCell<Option<Kept>>>),
}

/// A snapshot of a token a parser thread sent and what the handler did to it, taken
/// when the handler finishes, and the rewriter's end-tag handlers, where `onEndTag()`
/// adds (weak: a token object the script keeps must not keep them, functions that may
/// hold the token object, beyond the rewrite).
struct Kept {
    token: Recorded,
    end_tags: Weak<EndTags>,
}

/// Runs `f` on the token `this` is for, if its handler is still running.
fn with_token<R>(
    this: &JsValue,
    f: impl FnOnce(&mut dyn Token, Option<&EndTags>) -> R,
) -> JsResult<R> {
    let lent = this
        .as_object()
        .and_then(|o| {
            o.downcast_ref::<Lent>().map(|l| match &l.backing {
                Backing::Live(serial) => Backing::Live(*serial),
                Backing::Kept(k) => Backing::Kept(k.clone()),
            })
        })
        .ok_or_else(|| type_error("Illegal invocation"))?;
    match lent {
        Backing::Live(serial) => {
            if !LENT.is_set() {
                return Err(type_error(DEAD));
            }
            LENT.with(|loan| {
                if loan.serial == serial {
                    Ok(f(loan.token, Some(loan.end_tags)))
                } else {
                    Err(type_error(DEAD))
                }
            })
        }
        Backing::Kept(kept) => match kept.borrow_mut().as_mut() {
            Some(k) => {
                let end_tags = k.end_tags.upgrade();
                Ok(f(&mut k.token, end_tags.as_deref()))
            }
            None => Err(type_error(DEAD)),
        },
    }
}

fn to_js(value: Value, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(match value {
        Value::Str(s) => JsString::from(s.as_str()).into(),
        Value::Maybe(s) => s.map_or_else(JsValue::null, |s| JsString::from(s.as_str()).into()),
        Value::Bool(b) => b.into(),
        Value::Pairs(pairs) => {
            let items: Vec<JsValue> = pairs
                .into_iter()
                .map(|(n, v)| {
                    let pair = [JsString::from(n.as_str()), JsString::from(v.as_str())];
                    JsArray::from_iter(pair.map(JsValue::from), ctx).into()
                })
                .collect();
            JsArray::from_iter(items, ctx).values(ctx)?
        }
    })
}

fn read(this: &JsValue, field: Field<'_>, ctx: &mut Context) -> JsResult<JsValue> {
    let value = with_token(this, |t, _| t.read(field))?;
    to_js(value, ctx)
}

fn edit(this: &JsValue, op: Op) -> JsResult<JsValue> {
    with_token(this, |t, _| t.edit(op))?.map_err(type_error)?;
    Ok(this.clone())
}

fn string(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<String> {
    let s = arg(args, i).to_string(ctx)?;
    // (Not `to_std_string_escaped`: it formats char by char, ~5 % of a rewrite, and
    // would put `\uD800`-style escapes into the page for a lone surrogate.)
    Ok(s.to_std_string()
        .unwrap_or_else(|_| s.to_std_string_lossy()))
}

fn lower(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<String> {
    Ok(string(args, i, ctx)?.to_lowercase())
}

/// `(content, options)` of the content methods: the text, and `options.html === true`.
fn content(args: &[JsValue], ctx: &mut Context) -> JsResult<(String, bool)> {
    let text = string(args, 0, ctx)?;
    let html = match arg(args, 1).as_object() {
        Some(o) => o.get(js_string!("html"), ctx)? == JsValue::from(true),
        None => false,
    };
    Ok((text, html))
}

/// The kinds of token object, in the order of [`Prototypes`].
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Element = 0,
    EndTag,
    Text,
    Comment,
    Doctype,
    DocumentEnd,
}

/// A reader of a token object, by name.
type Reader = (
    &'static str,
    fn(&JsValue, &[JsValue], &mut Context) -> JsResult<JsValue>,
);

type Method = (
    &'static str,
    usize,
    fn(&JsValue, &[JsValue], &mut Context) -> JsResult<JsValue>,
);

macro_rules! reader {
    ($field:expr) => {
        |this, _, ctx| read(this, $field, ctx)
    };
}

macro_rules! content_op {
    ($op:path) => {
        |this, args, ctx| {
            let (text, html) = content(args, ctx)?;
            edit(this, $op(text, html))
        }
    };
}

const ELEMENT_READERS: &[Reader] = &[
    ("tagName", reader!(Field::TagName)),
    ("namespaceURI", reader!(Field::Namespace)),
    ("selfClosing", reader!(Field::SelfClosing)),
    ("canHaveContent", reader!(Field::CanHaveContent)),
    ("removed", reader!(Field::Removed)),
    ("attributes", reader!(Field::Attributes)),
];

const ELEMENT_METHODS: &[Method] = &[
    ("getAttribute", 1, |this, args, ctx| {
        let name = lower(args, 0, ctx)?;
        read(this, Field::Attribute(&name), ctx)
    }),
    ("hasAttribute", 1, |this, args, ctx| {
        let name = lower(args, 0, ctx)?;
        read(this, Field::HasAttribute(&name), ctx)
    }),
    ("setAttribute", 2, |this, args, ctx| {
        let name = lower(args, 0, ctx)?;
        let value = string(args, 1, ctx)?;
        edit(this, Op::SetAttribute(name, value))
    }),
    ("removeAttribute", 1, |this, args, ctx| {
        let name = lower(args, 0, ctx)?;
        edit(this, Op::RemoveAttribute(name))
    }),
    ("before", 1, content_op!(Op::Before)),
    ("after", 1, content_op!(Op::After)),
    ("prepend", 1, content_op!(Op::Prepend)),
    ("append", 1, content_op!(Op::Append)),
    ("setInnerContent", 1, content_op!(Op::SetInnerContent)),
    ("replace", 1, content_op!(Op::Replace)),
    ("remove", 0, |this, _, _| edit(this, Op::Remove)),
    ("removeAndKeepContent", 0, |this, _, _| {
        edit(this, Op::RemoveAndKeepContent)
    }),
    ("onEndTag", 1, on_end_tag),
];

/// `element.onEndTag(handler)`.
fn on_end_tag(this: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let f = arg(args, 0)
        .as_object()
        .filter(JsObject::is_callable)
        .ok_or_else(|| type_error("onEndTag expects a function"))?;
    with_token(this, |t, end_tags| {
        if let Value::Bool(false) = t.read(Field::CanHaveContent) {
            let tag = match t.read(Field::TagName) {
                Value::Str(s) => s,
                _ => String::new(),
            };
            return Err(format!("<{tag}> has no end tag"));
        }
        let end_tags = end_tags.ok_or_else(|| "the rewrite has ended".to_owned())?;
        t.edit(Op::OnEndTag(end_tags.add(f)))
    })?
    .map_err(type_error)?;
    Ok(JsValue::undefined())
}

const TEXT_READERS: &[Reader] = &[
    ("text", reader!(Field::Text)),
    ("lastInTextNode", reader!(Field::LastInTextNode)),
    ("removed", reader!(Field::Removed)),
];

const COMMENT_READERS: &[Reader] = &[
    ("text", reader!(Field::Text)),
    ("removed", reader!(Field::Removed)),
];

const TEXT_METHODS: &[Method] = &[
    ("before", 1, content_op!(Op::Before)),
    ("after", 1, content_op!(Op::After)),
    ("replace", 1, content_op!(Op::Replace)),
    ("remove", 0, |this, _, _| edit(this, Op::Remove)),
];

const END_TAG_READERS: &[Reader] = &[("name", reader!(Field::TagName))];

const END_TAG_METHODS: &[Method] = &[
    ("before", 1, content_op!(Op::Before)),
    ("after", 1, content_op!(Op::After)),
    ("remove", 0, |this, _, _| edit(this, Op::Remove)),
];

const DOCTYPE_READERS: &[Reader] = &[
    ("name", reader!(Field::DoctypeName)),
    ("publicId", reader!(Field::PublicId)),
    ("systemId", reader!(Field::SystemId)),
];

const DOCUMENT_END_METHODS: &[Method] = &[("append", 1, content_op!(Op::Append))];

/// The writable readers: `element.tagName`, `endTag.name`, `comment.text`.
type Writer = (
    &'static str,
    fn(&JsValue, &[JsValue], &mut Context) -> JsResult<JsValue>,
);

const ELEMENT_WRITERS: &[Writer] = &[("tagName", |this, args, ctx| {
    let name = lower(args, 0, ctx)?;
    edit(this, Op::TagName(name)).map(|_| JsValue::undefined())
})];

const END_TAG_WRITERS: &[Writer] = &[("name", |this, args, ctx| {
    let name = string(args, 0, ctx)?;
    edit(this, Op::TagName(name)).map(|_| JsValue::undefined())
})];

const COMMENT_WRITERS: &[Writer] = &[("text", |this, args, ctx| {
    let text = string(args, 0, ctx)?;
    edit(this, Op::Text(text)).map(|_| JsValue::undefined())
})];

/// The six classes' prototypes, made once per realm on its first rewrite.
#[derive(Trace, Finalize, JsData)]
struct Prototypes([JsObject; 6]);

fn prototype(kind: Kind, ctx: &mut Context) -> JsResult<JsObject> {
    if let Some(p) = native_class::kept::<Prototypes, _>(ctx, |p| p.0[kind as usize].clone()) {
        return Ok(p);
    }
    let made = Prototypes([
        class(ctx, ELEMENT_READERS, ELEMENT_WRITERS, ELEMENT_METHODS)?,
        class(ctx, END_TAG_READERS, END_TAG_WRITERS, END_TAG_METHODS)?,
        class(ctx, TEXT_READERS, &[], TEXT_METHODS)?,
        class(ctx, COMMENT_READERS, COMMENT_WRITERS, TEXT_METHODS)?,
        class(ctx, DOCTYPE_READERS, &[], &[])?,
        class(ctx, &[], &[], DOCUMENT_END_METHODS)?,
    ]);
    let p = made.0[kind as usize].clone();
    ctx.realm().host_defined_mut().insert(made);
    Ok(p)
}

/// A prototype with `readers` (accessors, with a setter where `writers` has one) and
/// `methods`.
fn class(
    ctx: &mut Context,
    readers: &[Reader],
    writers: &[Writer],
    methods: &[Method],
) -> JsResult<JsObject> {
    let prototype = JsObject::with_object_proto(ctx.intrinsics());
    let function = |name: String, f, ctx: &mut Context| -> JsFunction {
        FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(f))
            .name(JsString::from(name.as_str()))
            .build()
    };
    for &(name, get) in readers {
        let getter = function(format!("get {name}"), get, ctx);
        let setter = writers
            .iter()
            .find(|(w, _)| *w == name)
            .map(|&(_, set)| function(format!("set {name}"), set, ctx));
        let mut descriptor = PropertyDescriptor::builder()
            .get(getter)
            .enumerable(true)
            .configurable(true);
        if let Some(setter) = setter {
            descriptor = descriptor.set(setter);
        }
        prototype.define_property_or_throw(JsString::from(name), descriptor, ctx)?;
    }
    for &(name, length, f) in methods {
        let method = FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(f))
            .name(JsString::from(name))
            .length(length)
            .build();
        prototype.define_property_or_throw(
            JsString::from(name),
            PropertyDescriptor::builder()
                .value(method)
                .writable(true)
                .enumerable(true)
                .configurable(true),
            ctx,
        )?;
    }
    Ok(prototype)
}
