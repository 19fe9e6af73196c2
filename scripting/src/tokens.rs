//! What an `HTMLRewriter` handler can read of a content token and do to it ([`Token`]):
//! lol_html's own token while a page is parsed on the JS thread, or a snapshot of one
//! ([`Unit`]) sent from a parser thread, whose edits go back as [`Op`]s ([`Recorded`]).

/// What a handler sees of the token it was called for.
#[derive(Debug, Clone)]
pub(crate) enum Unit {
    /// Tag name, attributes, namespace, self-closing, can have content.
    Element {
        tag: String,
        attributes: Vec<(String, String)>,
        namespace: &'static str,
        self_closing: bool,
        can_have_content: bool,
    },
    /// A text chunk and whether it ends its text node.
    Text { text: String, last: bool },
    /// A comment's text.
    Comment { text: String },
    /// The doctype's name, public id and system id.
    Doctype {
        name: Option<String>,
        public_id: Option<String>,
        system_id: Option<String>,
    },
    /// The end of the document.
    End,
    /// An end tag's name.
    EndTag { name: String },
}

/// An edit a handler made.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    SetAttribute(String, String),
    RemoveAttribute(String),
    TagName(String),
    Before(String, bool),
    After(String, bool),
    Prepend(String, bool),
    Append(String, bool),
    SetInnerContent(String, bool),
    Replace(String, bool),
    Remove,
    RemoveAndKeepContent,
    /// `onEndTag(handler)`: the handler's number among the rewriter's end-tag handlers.
    OnEndTag(u32),
    /// A comment's new text.
    Text(String),
}

/// What a handler reads of a token (attribute names already lower-cased).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field<'a> {
    TagName,
    Attribute(&'a str),
    HasAttribute(&'a str),
    Attributes,
    Namespace,
    SelfClosing,
    CanHaveContent,
    Removed,
    Text,
    LastInTextNode,
    DoctypeName,
    PublicId,
    SystemId,
}

/// A [`Field`]'s value.
#[derive(Debug)]
pub(crate) enum Value {
    Str(String),
    Maybe(Option<String>),
    Bool(bool),
    Pairs(Vec<(String, String)>),
}

/// A content token a handler works on. A field the token's kind does not have reads
/// as `Maybe(None)`; an edit it does not take is ignored (the classes only offer
/// their own kind's, but a method can be called on another kind's object).
pub(crate) trait Token {
    fn read(&self, field: Field<'_>) -> Value;
    /// Applies (or records) `op`; `Err` says why lol_html refused it.
    fn edit(&mut self, op: Op) -> Result<(), String>;
    /// The token as a parser thread sends it to the JS thread.
    fn unit(&self) -> Unit;
}

/// A snapshot of a token on the JS thread, for a page parsed on a thread of its own:
/// reads see the edits made so far, which are kept for the parser to apply.
#[derive(Debug)]
pub(crate) struct Recorded {
    unit: Unit,
    ops: Vec<Op>,
    removed: bool,
}

impl Recorded {
    pub(crate) fn new(unit: Unit) -> Self {
        Recorded {
            unit,
            ops: Vec::new(),
            removed: false,
        }
    }

    /// The edits, in the order the handler made them.
    pub(crate) fn into_ops(self) -> Vec<Op> {
        self.ops
    }
}

impl Token for Recorded {
    fn read(&self, field: Field<'_>) -> Value {
        let s = |v: &str| Value::Str(v.to_owned());
        match (&self.unit, field) {
            (_, Field::Removed) => Value::Bool(self.removed),
            (Unit::Element { tag, .. }, Field::TagName) => s(tag),
            (Unit::Element { attributes, .. }, Field::Attribute(name)) => Value::Maybe(
                attributes
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone()),
            ),
            (Unit::Element { attributes, .. }, Field::HasAttribute(name)) => {
                Value::Bool(attributes.iter().any(|(n, _)| n == name))
            }
            (Unit::Element { attributes, .. }, Field::Attributes) => {
                Value::Pairs(attributes.clone())
            }
            (Unit::Element { namespace, .. }, Field::Namespace) => s(namespace),
            (Unit::Element { self_closing, .. }, Field::SelfClosing) => Value::Bool(*self_closing),
            (
                Unit::Element {
                    can_have_content, ..
                },
                Field::CanHaveContent,
            ) => Value::Bool(*can_have_content),
            (Unit::Text { text, .. } | Unit::Comment { text }, Field::Text) => s(text),
            (Unit::Text { last, .. }, Field::LastInTextNode) => Value::Bool(*last),
            (Unit::EndTag { name }, Field::TagName) => s(name),
            (Unit::Doctype { name, .. }, Field::DoctypeName) => Value::Maybe(name.clone()),
            (Unit::Doctype { public_id, .. }, Field::PublicId) => Value::Maybe(public_id.clone()),
            (Unit::Doctype { system_id, .. }, Field::SystemId) => Value::Maybe(system_id.clone()),
            _ => Value::Maybe(None),
        }
    }

    fn edit(&mut self, op: Op) -> Result<(), String> {
        match (&mut self.unit, &op) {
            (Unit::Element { attributes, .. }, Op::SetAttribute(name, value)) => {
                match attributes.iter_mut().find(|(n, _)| n == name) {
                    Some((_, v)) => v.clone_from(value),
                    None => attributes.push((name.clone(), value.clone())),
                }
            }
            (Unit::Element { attributes, .. }, Op::RemoveAttribute(name)) => {
                attributes.retain(|(n, _)| n != name);
            }
            (Unit::Element { tag: name, .. } | Unit::EndTag { name }, Op::TagName(new)) => {
                name.clone_from(new);
            }
            (Unit::Comment { text }, Op::Text(new)) => text.clone_from(new),
            (_, Op::Replace(..) | Op::Remove | Op::RemoveAndKeepContent) => self.removed = true,
            _ => {}
        }
        self.ops.push(op);
        Ok(())
    }

    fn unit(&self) -> Unit {
        self.unit.clone()
    }
}
