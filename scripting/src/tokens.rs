//! What an `HTMLRewriter` handler can read of a content token and do to it ([`Token`],
//! implemented by lol_html's tokens), and the snapshot of one ([`Unit`]) a parser
//! thread sends to the JS thread, whose edits come back as [`Op`]s.

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
    /// Applies `op`; `Err` says why lol_html refused it.
    fn edit(&mut self, op: Op) -> Result<(), String>;
    /// The token as a parser thread sends it to the JS thread.
    fn unit(&self) -> Unit;
}
