// The handler side of HTMLRewriter (see the prelude's `HTMLRewriter`, which compiles
// this on a script's first `transform()`): the objects a handler gets for each match,
// which record its edits, and the dispatch that runs a handler and sends its edits (or
// its error) back to the parser with host.rewriteReply(token, ops, error). One function
// expression: it takes what it shares with the prelude and returns the dispatch.
(({ host, rewriters, errorText }) => {
  const DEAD = "This content token is no longer valid. Content tokens are only valid during the execution of the relevant content handler.";
  function contentArgs(content, options) {
    return [String(content), options !== undefined && options !== null && options.html === true];
  }
  // Each token is one record (`live`, its edits in `ops`, and what the handler sees)
  // behind one private field: boa adds private fields one by one per construction.
  function op(t, edit) {
    if (!t.live) throw new TypeError(DEAD);
    (t.ops ??= []).push(edit);
  }
  // An element's attributes stay the flat [name, value, name, value…] list the host
  // sent: a handler looks at one or two of a few, and a Map per element cost more.
  function attrIndex(pairs, name) {
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === name) return i;
    return -1;
  }
  class Element {
    #e;
    constructor(e) { this.#e = e; }
    get tagName() { return this.#e.data[0]; }
    set tagName(name) { name = String(name).toLowerCase(); op(this.#e, ["tagName", name]); this.#e.data[0] = name; }
    get namespaceURI() { return this.#e.data[2]; }
    get selfClosing() { return this.#e.data[3]; }
    get canHaveContent() { return this.#e.data[4]; }
    get removed() { return this.#e.removed; }
    get attributes() {
      const pairs = this.#e.data[1], list = [];
      for (let i = 0; i < pairs.length; i += 2) list.push([pairs[i], pairs[i + 1]]);
      return list[Symbol.iterator]();
    }
    getAttribute(name) {
      const pairs = this.#e.data[1], i = attrIndex(pairs, String(name).toLowerCase());
      return i < 0 ? null : pairs[i + 1];
    }
    hasAttribute(name) { return attrIndex(this.#e.data[1], String(name).toLowerCase()) >= 0; }
    setAttribute(name, value) {
      name = String(name).toLowerCase(); value = String(value);
      const e = this.#e;
      op(e, ["setAttribute", name, value]);
      const pairs = e.data[1], i = attrIndex(pairs, name);
      if (i < 0) pairs.push(name, value); else pairs[i + 1] = value;
      return this;
    }
    removeAttribute(name) {
      name = String(name).toLowerCase();
      const e = this.#e;
      op(e, ["removeAttribute", name]);
      const pairs = e.data[1], i = attrIndex(pairs, name);
      if (i >= 0) pairs.splice(i, 2);
      return this;
    }
    before(content, options) { op(this.#e, ["before", ...contentArgs(content, options)]); return this; }
    after(content, options) { op(this.#e, ["after", ...contentArgs(content, options)]); return this; }
    prepend(content, options) { op(this.#e, ["prepend", ...contentArgs(content, options)]); return this; }
    append(content, options) { op(this.#e, ["append", ...contentArgs(content, options)]); return this; }
    setInnerContent(content, options) { op(this.#e, ["setInnerContent", ...contentArgs(content, options)]); return this; }
    replace(content, options) { op(this.#e, ["replace", ...contentArgs(content, options)]); this.#e.removed = true; return this; }
    remove() { op(this.#e, ["remove"]); this.#e.removed = true; return this; }
    removeAndKeepContent() { op(this.#e, ["removeAndKeepContent"]); this.#e.removed = true; return this; }
    onEndTag(handler) {
      if (typeof handler !== "function") throw new TypeError("onEndTag expects a function");
      const e = this.#e;
      if (!e.data[4]) throw new TypeError(`<${e.data[0]}> has no end tag`);
      const t = e.rw.nextEndTag++;
      op(e, ["onEndTag", t]);
      e.rw.endTags.set(t, handler);
    }
  }
  class EndTag {
    #e;
    constructor(e) { this.#e = e; }
    get name() { return this.#e.data[0]; }
    set name(n) { n = String(n); op(this.#e, ["tagName", n]); this.#e.data[0] = n; }
    before(content, options) { op(this.#e, ["before", ...contentArgs(content, options)]); return this; }
    after(content, options) { op(this.#e, ["after", ...contentArgs(content, options)]); return this; }
    remove() { op(this.#e, ["remove"]); return this; }
  }
  class Text {
    #e;
    constructor(e) { this.#e = e; }
    get text() { return this.#e.data[0]; }
    get lastInTextNode() { return this.#e.data[1]; }
    get removed() { return this.#e.removed; }
    before(content, options) { op(this.#e, ["before", ...contentArgs(content, options)]); return this; }
    after(content, options) { op(this.#e, ["after", ...contentArgs(content, options)]); return this; }
    replace(content, options) { op(this.#e, ["replace", ...contentArgs(content, options)]); this.#e.removed = true; return this; }
    remove() { op(this.#e, ["remove"]); this.#e.removed = true; return this; }
  }
  class Comment {
    #e;
    constructor(e) { this.#e = e; }
    get text() { return this.#e.data[0]; }
    set text(t) { t = String(t); op(this.#e, ["text", t]); this.#e.data[0] = t; }
    get removed() { return this.#e.removed; }
    before(content, options) { op(this.#e, ["before", ...contentArgs(content, options)]); return this; }
    after(content, options) { op(this.#e, ["after", ...contentArgs(content, options)]); return this; }
    replace(content, options) { op(this.#e, ["replace", ...contentArgs(content, options)]); this.#e.removed = true; return this; }
    remove() { op(this.#e, ["remove"]); this.#e.removed = true; return this; }
  }
  class Doctype {
    #d;
    constructor(e) { this.#d = e.data; }
    get name() { return this.#d[0]; }
    get publicId() { return this.#d[1]; }
    get systemId() { return this.#d[2]; }
  }
  class DocumentEnd {
    #e;
    constructor(e) { this.#e = e; }
    append(content, options) { op(this.#e, ["append", ...contentArgs(content, options)]); return this; }
  }
  // A handler finished (or failed): its token stops working and its edits (or the
  // error) go back to the parser.
  function tokenDone(e, token) {
    e.live = false;
    host.rewriteReply(token, e.ops, null);
  }
  function tokenFailed(e, token, err) {
    e.live = false;
    host.rewriteReply(token, null, errorText(err));
  }
  // Runs the handler for one match (kind: see the host's `rewriter::Unit`).
  function dispatch(id, token, kind, index, data) {
    const rw = rewriters.get(id);
    if (rw === undefined) { host.rewriteReply(token, null, "unknown rewriter"); return; }
    const e = { live: true, ops: null, removed: false, data, rw };
    let handlers, method, unit;
    switch (kind) {
      case 0: handlers = rw.element[index][1]; method = "element"; unit = new Element(e); break;
      case 1: handlers = rw.element[index][1]; method = "comments"; unit = new Comment(e); break;
      case 2: handlers = rw.element[index][1]; method = "text"; unit = new Text(e); break;
      case 3: handlers = rw.document[index]; method = "doctype"; unit = new Doctype(e); break;
      case 4: handlers = rw.document[index]; method = "comments"; unit = new Comment(e); break;
      case 5: handlers = rw.document[index]; method = "text"; unit = new Text(e); break;
      case 6: handlers = rw.document[index]; method = "end"; unit = new DocumentEnd(e); break;
      default: {
        const f = rw.endTags.get(index);
        rw.endTags.delete(index);
        handlers = { f }; method = "f"; unit = new EndTag(e);
      }
    }
    let r;
    try {
      r = handlers[method](unit);
    } catch (err) {
      tokenFailed(e, token, err);
      return;
    }
    // Callbacks only for a handler that returned a promise: most return nothing.
    if (r !== null && typeof r === "object" && typeof r.then === "function") {
      r.then(() => tokenDone(e, token), (err) => tokenFailed(e, token, err));
    } else {
      tokenDone(e, token);
    }
  }
  return dispatch;
})
