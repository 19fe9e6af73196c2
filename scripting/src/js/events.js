// DOM pieces the Web APIs build on, written from the DOM and WebIDL standards:
// DOMException, Event, EventTarget, AbortController / AbortSignal, queueMicrotask.
// Runs first in every script's context (the streams and the prelude use them).
(() => {
  "use strict";
  const method = (value) => ({ value, writable: true, enumerable: true, configurable: true });

  // WebIDL's DOMException: legacy codes for the legacy names.
  const CODES = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
    NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
    SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
    QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
  };
  const exceptions = new WeakMap();
  class DOMException extends Error {
    constructor(message = "", name = "Error") {
      super();
      exceptions.set(this, { message: String(message), name: String(name) });
      // The stack stays an own property, as engines give Error instances.
      delete this.message;
    }
    get name() { return slot(this).name; }
    get message() { return slot(this).message; }
    get code() { return CODES[slot(this).name] ?? 0; }
  }
  function slot(e) {
    const s = exceptions.get(e);
    if (s === undefined) throw new TypeError("Illegal invocation");
    return s;
  }
  for (const [name, code] of Object.entries(CODES)) {
    const constant = name.replace(/Error$/, "").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase() + "_ERR";
    const d = { value: code, enumerable: true };
    Object.defineProperty(DOMException, constant, d);
    Object.defineProperty(DOMException.prototype, constant, d);
  }
  Object.defineProperty(DOMException.prototype, Symbol.toStringTag, { value: "DOMException", configurable: true });

  // DOM Event and EventTarget (no tree, so no capture or bubbling phases).
  const events = new WeakMap();
  class Event {
    constructor(type, init = undefined) {
      if (arguments.length === 0) throw new TypeError("Event constructor: 1 argument required");
      init = init ?? {};
      events.set(this, {
        type: String(type), bubbles: Boolean(init.bubbles), cancelable: Boolean(init.cancelable),
        composed: Boolean(init.composed), target: null, current: null, canceled: false,
        stop: false, stopNow: false, dispatching: false, timeStamp: Date.now(), trusted: false,
      });
    }
    get type() { return ev(this).type; }
    get target() { return ev(this).target; }
    get srcElement() { return ev(this).target; }
    get currentTarget() { return ev(this).current; }
    get eventPhase() { return ev(this).dispatching ? 2 : 0; }
    get bubbles() { return ev(this).bubbles; }
    get cancelable() { return ev(this).cancelable; }
    get composed() { return ev(this).composed; }
    get defaultPrevented() { return ev(this).canceled; }
    get returnValue() { return !ev(this).canceled; }
    get isTrusted() { return ev(this).trusted; }
    get timeStamp() { return ev(this).timeStamp; }
    get cancelBubble() { return ev(this).stop; }
    set cancelBubble(v) { if (v) ev(this).stop = true; }
    composedPath() { const t = ev(this).current; return t === null ? [] : [t]; }
    preventDefault() { const e = ev(this); if (e.cancelable) e.canceled = true; }
    stopPropagation() { ev(this).stop = true; }
    stopImmediatePropagation() { const e = ev(this); e.stop = true; e.stopNow = true; }
  }
  function ev(e) {
    const s = events.get(e);
    if (s === undefined) throw new TypeError("Illegal invocation");
    return s;
  }
  for (const [k, v] of Object.entries({ NONE: 0, CAPTURING_PHASE: 1, AT_TARGET: 2, BUBBLING_PHASE: 3 })) {
    Object.defineProperty(Event, k, { value: v, enumerable: true });
    Object.defineProperty(Event.prototype, k, { value: v, enumerable: true });
  }

  const listeners = new WeakMap();
  function listOf(target) {
    let l = listeners.get(target);
    if (l === undefined) {
      l = [];
      listeners.set(target, l);
    }
    return l;
  }
  function flags(options) {
    if (typeof options === "boolean") return { capture: options, once: false, signal: undefined };
    if (options === null || typeof options !== "object") return { capture: false, once: false, signal: undefined };
    return { capture: Boolean(options.capture), once: Boolean(options.once), signal: options.signal };
  }
  class EventTarget {
    constructor() { listeners.set(this, []); }
    addEventListener(type, callback, options = undefined) {
      if (callback === null || callback === undefined) return;
      const { capture, once, signal } = flags(options);
      if (signal !== undefined && signal.aborted) return;
      const list = listOf(this);
      type = String(type);
      if (list.some((l) => l.type === type && l.callback === callback && l.capture === capture)) return;
      const entry = { type, callback, capture, once, removed: false };
      list.push(entry);
      if (signal !== undefined) {
        signal.addEventListener("abort", () => this.removeEventListener(type, callback, { capture }));
      }
    }
    removeEventListener(type, callback, options = undefined) {
      const capture = typeof options === "boolean" ? options : Boolean(options?.capture);
      const list = listOf(this);
      type = String(type);
      const i = list.findIndex((l) => l.type === type && l.callback === callback && l.capture === capture);
      if (i >= 0) {
        list[i].removed = true;
        list.splice(i, 1);
      }
    }
    dispatchEvent(event) {
      const e = ev(event);
      if (e.dispatching) throw new DOMException("The event is already being dispatched.", "InvalidStateError");
      e.dispatching = true;
      e.target = this;
      e.current = this;
      for (const l of listOf(this).slice()) {
        if (l.removed || l.type !== e.type) continue;
        if (l.once) this.removeEventListener(l.type, l.callback, { capture: l.capture });
        try {
          if (typeof l.callback === "function") l.callback.call(this, event);
          else if (l.callback !== null && typeof l.callback.handleEvent === "function") l.callback.handleEvent(event);
        } catch (err) {
          logUncaught(err);
        }
        if (e.stopNow) break;
      }
      e.dispatching = false;
      e.current = null;
      e.stop = false;
      e.stopNow = false;
      return !e.canceled;
    }
  }
  // An exception in a listener or a microtask does not stop the rest; it is reported
  // (to the log: there is no window to show it in). Also the global `reportError`.
  function logUncaught(err) {
    try { console.error("Uncaught", err instanceof Error ? `${err.name}: ${err.message}` : String(err)); } catch {}
  }
  // DOM CustomEvent: an Event that carries `detail`.
  class CustomEvent extends Event {
    #detail;
    constructor(type, init = undefined) {
      super(type, init);
      this.#detail = init?.detail ?? null;
    }
    get detail() { return this.#detail; }
  }

  // DOM AbortController / AbortSignal. Algorithms added by other standards (streams'
  // pipeTo, fetch) run before the "abort" event's listeners, as the DOM says.
  const signals = new WeakMap();
  const TOKEN = Symbol("internal");
  class AbortSignal extends EventTarget {
    constructor(token) {
      if (token !== TOKEN) throw new TypeError("Illegal constructor");
      super();
      signals.set(this, { aborted: false, reason: undefined, algorithms: new Set(), onabort: null, dependents: [] });
    }
    static abort(reason = undefined) {
      const s = newSignal();
      const st = signals.get(s);
      st.aborted = true;
      st.reason = reason === undefined ? new DOMException("signal is aborted without reason", "AbortError") : reason;
      return s;
    }
    static timeout(ms) {
      ms = Number(ms);
      if (!Number.isFinite(ms) || ms < 0) throw new TypeError("AbortSignal.timeout: the delay must be a non-negative number");
      const s = newSignal();
      setTimeout(() => signalAbort(s, new DOMException("The operation timed out.", "TimeoutError")), ms);
      return s;
    }
    static any(list) {
      const s = newSignal();
      for (const other of list) {
        if (other.aborted) {
          signalAbort(s, other.reason);
          return s;
        }
      }
      for (const other of list) signals.get(other)?.dependents.push(s);
      return s;
    }
    get aborted() { return sig(this).aborted; }
    get reason() { return sig(this).reason; }
    throwIfAborted() { const s = sig(this); if (s.aborted) throw s.reason; }
    get onabort() { return sig(this).onabort; }
    set onabort(f) {
      const s = sig(this);
      if (s.onabort !== null) this.removeEventListener("abort", s.onabort);
      s.onabort = typeof f === "function" ? f : null;
      if (s.onabort !== null) this.addEventListener("abort", s.onabort);
    }
  }
  function sig(s) {
    const st = signals.get(s);
    if (st === undefined) throw new TypeError("Illegal invocation");
    return st;
  }
  function newSignal() { return new AbortSignal(TOKEN); }
  function signalAbort(signal, reason) {
    const st = signals.get(signal);
    if (st.aborted) return;
    st.aborted = true;
    st.reason = reason === undefined ? new DOMException("signal is aborted without reason", "AbortError") : reason;
    for (const a of [...st.algorithms]) a();
    st.algorithms.clear();
    signal.dispatchEvent(new Event("abort"));
    for (const d of st.dependents) signalAbort(d, st.reason);
  }
  class AbortController {
    #signal;
    constructor() { this.#signal = newSignal(); }
    get signal() { return this.#signal; }
    abort(reason = undefined) { signalAbort(this.#signal, reason); }
  }
  // For other parts of the runtime: run `algorithm` when `signal` aborts (returns a
  // function that removes it).
  Object.defineProperty(globalThis, "__outpostSignals", {
    configurable: true,
    value: {
      onAbort(signal, algorithm) {
        const st = sig(signal);
        st.algorithms.add(algorithm);
        return () => st.algorithms.delete(algorithm);
      },
      isSignal(x) { return typeof x === "object" && x !== null && signals.has(x); },
    },
  });

  for (const C of [Event, CustomEvent, EventTarget, AbortSignal, AbortController]) {
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: C.name, configurable: true });
  }
  // WebIDL operations and attributes are enumerable.
  for (const C of [DOMException, Event, CustomEvent, EventTarget, AbortSignal, AbortController]) {
    for (const key of Object.getOwnPropertyNames(C.prototype)) {
      if (key === "constructor") continue;
      const d = Object.getOwnPropertyDescriptor(C.prototype, key);
      if (d.configurable) Object.defineProperty(C.prototype, key, { ...d, enumerable: true });
    }
  }
  const install = (name, value) => Object.defineProperty(globalThis, name, method(value));
  install("DOMException", DOMException);
  install("Event", Event);
  install("CustomEvent", CustomEvent);
  install("EventTarget", EventTarget);
  install("AbortSignal", AbortSignal);
  install("AbortController", AbortController);
  const resolved = Promise.resolve();
  const then = Promise.prototype.then;
  install("queueMicrotask", function queueMicrotask(callback) {
    if (typeof callback !== "function") throw new TypeError("queueMicrotask: the callback must be a function");
    then.call(resolved, () => {
      try { callback(); } catch (e) { logUncaught(e); }
    });
  });
  install("reportError", function reportError(err) {
    if (arguments.length === 0) throw new TypeError("reportError: 1 argument required");
    logUncaught(err);
  });
  for (const name of ["DOMException", "Event", "CustomEvent", "EventTarget", "AbortSignal", "AbortController", "queueMicrotask", "reportError"]) {
    Object.defineProperty(globalThis, name, { enumerable: false });
  }
})();
