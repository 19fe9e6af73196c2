// Outpost's Workers prelude: the parts of the Workers API written in JS over a few
// native host functions. It runs once in every script's context, before the script.
//
// Host functions (`__outpostHost`, removed from the global object below):
//   fetch(call, url, method, headers, body, handle)  start a subrequest
//   readBody(call, handle)                           read a host body to bytes
//   readChunk(call, handle) / dropBody(handle)       read a host body chunk by chunk / drop it
//   sink() -> [sink, handle]                         a host body the script writes:
//   sinkWrite(call, sink, bytes), sinkClose(sink), sinkError(sink, message)
//   tee(handle) -> [handle, handle]                  split a host body in two
//   timer(call, ms) / cancelTimer(call)              setTimeout support
//   passThrough()                                    passThroughOnException()
//   random(n) -> Uint8Array, uuid() -> string, digest(alg, bytes) -> ArrayBuffer
//   kv(call, ns, op, key, value, options)            KV namespaces
//   checkSelector(s), rewrite(id, handle, bytes, plan, coding, here, handlers) -> handle
//                                                    HTMLRewriter
//   requestClass(helpers), responseClass(helpers)    the native Request and Response classes
//                                                    (request.rs, response.rs)
// Results of asynchronous calls come back through `__outpostSettle(call, ok, value)`.
(() => {
  "use strict";
  const host = globalThis.__outpostHost;
  delete globalThis.__outpostHost;
  // boa_runtime's atob, btoa and structuredClone come without a name.
  for (const f of ["atob", "btoa", "structuredClone"]) Object.defineProperty(globalThis[f], "name", { value: f, configurable: true });
  // boa_runtime's Headers class, under the constructor scripts see (js/headers.js).
  const NativeHeaders = globalThis.__outpostNativeHeaders;
  delete globalThis.__outpostNativeHeaders;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  // Time as Workers give it: `Date.now()`, `new Date()` and `performance.now()` say
  // when the last I/O happened (a request arrived, a host call or timer settled, a
  // rewriter chunk came), and do not advance while the script computes, so code
  // cannot time itself (Workers' defence against timing side channels).
  // (The host keeps the time: clock.rs.)
  const RealDate = Date;
  const ioTime = host.ioTime;
  {
    const Date = function Date(...args) {
      if (new.target === undefined) return new RealDate(ioTime()).toString();
      return Reflect.construct(RealDate, args.length === 0 ? [ioTime()] : args, new.target);
    };
    Object.defineProperties(Date, {
      prototype: { value: RealDate.prototype, writable: false, enumerable: false, configurable: false },
      length: { value: 7, configurable: true },
      now: { value: function now() { return ioTime(); }, writable: true, configurable: true },
      parse: { value: RealDate.parse, writable: true, configurable: true },
      UTC: { value: RealDate.UTC, writable: true, configurable: true },
    });
    Object.defineProperty(RealDate.prototype, "constructor", { value: Date, writable: true, configurable: true });
    Object.defineProperty(globalThis, "Date", { value: Date, writable: true, enumerable: false, configurable: true });
  }

  // Asynchronous host calls: each gets an id; the host settles it later.
  // Ids below 2^31: native calls (fetch.rs) take the ids above.
  let nextCall = 1;
  const newCall = () => {
    const id = nextCall;
    nextCall = nextCall === 0x7fffffff ? 1 : nextCall + 1;
    return id;
  };
  const pending = new Map();
  const timers = new Map();
  function hostCall(start) {
    return new Promise((resolve, reject) => {
      const id = newCall();
      pending.set(id, { resolve, reject });
      start(id);
    });
  }
  Object.defineProperty(globalThis, "__outpostSettle", {
    value(id, ok, value) {
      const timer = timers.get(id);
      if (timer !== undefined) {
        timers.delete(id);
        timer();
        return;
      }
      const p = pending.get(id);
      if (p === undefined) return;
      pending.delete(id);
      if (ok) p.resolve(value);
      else p.reject(typeof value === "string" ? new Error(value) : value);
    },
  });

  // A body held by the host (a subrequest's response body): never copied into JS
  // unless the script reads it. `signal` is the fetch's AbortSignal: aborting it after
  // the head arrived errors the body's reads with the signal's reason, as in Workers.
  class HostBody {
    constructor(id, signal) { this.id = id; this.signal = signal; }
  }
  const blobParts = globalThis.__outpostBlobs.parts;
  delete globalThis.__outpostBlobs;
  const formData = globalThis.__outpostFormData;
  delete globalThis.__outpostFormData;
  // The Streams standard's internals, compiled on first use (js/streams-loader.js).
  const lazyStreams = globalThis.__outpostStreams;
  delete globalThis.__outpostStreams;
  const streams = lazyStreams.api;
  const isStream = lazyStreams.isStream;

  function toBytes(data) {
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (typeof data === "string") return encoder.encode(data);
    throw new TypeError("expected an ArrayBuffer, a typed array, a DataView or a string");
  }

  // The stream a host body is read through, chunk by chunk as the host receives it.
  // `body` of a fetched response is one; handing it on untouched (`new Response(r.body)`)
  // gives the host body back, so the bytes never enter JavaScript. Its HostBody is the
  // stream's tag; `id` becomes null once the host body has been read to its end.
  let makeHostStream = null;
  function hostStream(hb) {
    if (makeHostStream === null) {
      makeHostStream = streams().hostStreams(async (hb, controller) => {
        const chunk = hb.id === null ? null : await abortable(hb.signal, (id) => host.readChunk(id, hb.id));
        if (chunk === null) {
          hb.id = null;
          controller.close();
          const req = controller.byobRequest;
          if (req !== null) req.respond(0);
        } else {
          controller.enqueue(chunk);
        }
      }, (hb) => {
        if (hb.id !== null) host.dropBody(hb.id);
        hb.id = null;
      });
    }
    return makeHostStream(hb);
  }
  // What a stream a script hands over as a body becomes: the host body it wraps, if it
  // is an untouched host stream, or the stream itself.
  function streamSource(stream) {
    const hb = streams().handOn(stream);
    return hb === undefined ? stream : hb;
  }
  // Reads a script's stream to its end (Uint8Array).
  async function readAll(stream) {
    const reader = stream.getReader();
    const parts = [];
    let total = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const b = chunkBytes(value);
      parts.push(b);
      total += b.byteLength;
    }
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.byteLength; }
    return out;
  }
  function chunkBytes(value) {
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    throw new TypeError("This ReadableStream did not return bytes.");
  }
  // "Name: message" and the script's own frames (the prelude's have no file name).
  function errorText(e) {
    if (!(e instanceof Error)) return `Uncaught ${String(e)}`;
    const frames = String(e.stack ?? "").split("\n").filter((l) => l.trim().startsWith("at ") && !l.includes("unknown at"));
    return [`${e.name}: ${e.message}`, ...frames].join("\n");
  }
  // Hands a script's stream to the host as a body: a pump (running as the request's
  // own work) writes each chunk into a bounded channel the host reads, so a slow
  // client slows the script's writes instead of growing a buffer. Returns the host
  // body's id.
  function pumpToHost(stream) {
    const ids = host.sink();
    const sink = ids[0];
    const reader = stream.getReader();
    (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const bytes = chunkBytes(value);
          if (bytes.byteLength > 0) await hostCall((id) => host.sinkWrite(id, sink, bytes));
        }
        host.sinkClose(sink);
      } catch (e) {
        host.sinkError(sink, errorText(e));
        reader.cancel(e).catch(() => {});
      }
    })();
    return ids[1];
  }

  // What a Request or Response body can be built from: [source, default content type].
  // A source is null, a string, a Uint8Array, a HostBody or a ReadableStream.
  function extractBody(body) {
    if (body === null || body === undefined) return [null, null];
    if (body instanceof HostBody) return [body, null];
    if (typeof body === "string") return [body, "text/plain;charset=UTF-8"];
    if (isStream(body)) return [streamSource(body), null];
    if (body instanceof ArrayBuffer) return [new Uint8Array(body.slice(0)), null];
    if (ArrayBuffer.isView(body)) {
      return [new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)), null];
    }
    const blob = blobParts(body);
    if (blob !== undefined) return [blob[0].slice(), blob[1] === "" ? null : blob[1]];
    if (body instanceof URLSearchParams) {
      return [body.toString(), "application/x-www-form-urlencoded;charset=UTF-8"];
    }
    if (formData.is(body)) return formData.serialize(body);
    return [String(body), "text/plain;charset=UTF-8"];
  }

  // The body mixin of the Fetch spec, shared by Request and Response (native classes,
  // request.rs and response.rs, whose prototypes inherit from Body's). Each object
  // keeps its body's state in one record (`source`, `used` and `stream`): a Request's
  // is its whole record, a Response's is held by its native state.
  // (`bodyOf(o)`: the record of a Request or a Response, a TypeError for anything else.)
  let requestRecordOf, bodyOf;
  class Body {
    get bodyUsed() {
      const b = bodyOf(this);
      if (b.stream !== null) return streams().isDisturbed(b.stream);
      return b.used;
    }
    get body() {
      const b = bodyOf(this);
      if (b.stream === null) {
        const s = b.source;
        if (s === null) return null;
        if (s instanceof HostBody) b.stream = hostStream(s);
        else b.stream = streams().bytesStream(typeof s === "string" ? encoder.encode(s) : s);
        b.source = b.stream;
      }
      return b.stream;
    }
    // Takes the source out of `b` (marking it used), for a new Request or Response
    // built from it, or for the host.
    static take(o) {
      const b = bodyOf(o);
      if (b.stream !== null) {
        const s = streamSource(b.stream);
        b.source = null;
        return s;
      }
      if (b.used) throw new TypeError("Body has already been used");
      const s = b.source;
      if (s !== null) b.used = true;
      b.source = null;
      return s;
    }
    // A copy of the source for clone(); a host body is split in two, a stream teed.
    static tee(o) {
      if (o.bodyUsed) throw new TypeError("Body has already been used");
      const b = bodyOf(o);
      const s = b.source;
      if (s instanceof HostBody) {
        const [one, two] = host.tee(s.id);
        b.source = new HostBody(one, s.signal);
        return new HostBody(two, s.signal);
      }
      if (isStream(s)) {
        if (s.locked) throw new TypeError("Body has already been used");
        const [one, two] = s.tee();
        b.source = one;
        b.stream = one;
        return two;
      }
      return s;
    }
    async bytes() {
      const b = bodyOf(this);
      if (b.stream !== null) {
        if (streams().isLocked(b.stream) || streams().isDisturbed(b.stream)) throw new TypeError("Body has already been used");
        const s = b.source;
        const hb = isStream(s) ? streams().handOn(s) : undefined;
        if (hb !== undefined) {
          // Untouched host stream: read the host body in one go.
          streams().disturb(s);
          return abortable(hb.signal, (id) => host.readBody(id, hb.id));
        }
        return readAll(b.stream);
      }
      if (b.used) throw new TypeError("Body has already been used");
      const s = b.source;
      // A null body is never "used" (Fetch spec: only a body can be disturbed).
      if (s !== null) b.used = true;
      b.source = null;
      if (s === null) return new Uint8Array(0);
      if (typeof s === "string") return encoder.encode(s);
      if (s instanceof HostBody) return abortable(s.signal, (id) => host.readBody(id, s.id));
      return s;
    }
    async text() {
      const b = bodyOf(this);
      const s = b.source;
      if (typeof s === "string" && !b.used && b.stream === null) {
        b.used = true;
        b.source = null;
        return s;
      }
      return decoder.decode(await this.bytes());
    }
    async json() { return JSON.parse(await this.text()); }
    async formData() { return formData.parse(await this.bytes(), this.headers.get("content-type")); }
    async blob() {
      const type = this.headers.get("content-type");
      return new Blob([await this.bytes()], { type: type === null ? "" : type });
    }
    async arrayBuffer() {
      const b = await this.bytes();
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    }
  }

  // Fetch §2.2.1: a method is a token; these six are normalised to upper case (PATCH
  // is not: the standard leaves it as given); CONNECT, TRACE and TRACK are forbidden.
  const METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  function normalizeMethod(m) {
    if (!TOKEN.test(m)) throw new TypeError(`Failed to construct 'Request': '${m}' is not a valid HTTP method.`);
    const upper = m.toUpperCase();
    if (upper === "CONNECT" || upper === "TRACE" || upper === "TRACK") {
      throw new TypeError(`Failed to construct 'Request': '${m}' HTTP method is unsupported.`);
    }
    return METHODS.includes(upper) ? upper : m;
  }
  // The Fetch standard's `new Request(input, init)` steps: the native constructor
  // (request.rs) wraps the record this returns.
  function requestInit(input, init = {}) {
    init = init ?? {};
    let url, method = "GET", headers, redirect = "follow", cf, source = null, signal;
    const from = requestRecordOf(input);
    if (from !== undefined) {
      url = from.url;
      method = from.method;
      headers = new NativeHeaders(from.headers);
      redirect = from.redirect;
      cf = from.cf;
      signal = from.signal;
      if (init.body === undefined) source = Body.take(input);
    } else {
      url = new URL(String(input)).href;
      headers = new NativeHeaders();
    }
    if (init.method !== undefined) method = normalizeMethod(String(init.method));
    if (init.headers !== undefined) headers = new Headers(init.headers);
    if (init.redirect !== undefined) {
      redirect = String(init.redirect);
      if (redirect !== "follow" && redirect !== "manual" && redirect !== "error") {
        throw new TypeError(`Failed to construct 'Request': The provided value '${redirect}' is not a valid enum value of type RequestRedirect.`);
      }
    }
    if (init.cf !== undefined) cf = init.cf;
    if (init.signal !== undefined) {
      if (init.signal !== null && !(init.signal instanceof AbortSignal)) {
        throw new TypeError("Failed to construct 'Request': member signal is not of type AbortSignal.");
      }
      signal = init.signal ?? undefined;
    }
    if (init.body !== undefined && init.body !== null) {
      const [s, type] = extractBody(init.body);
      source = s;
      if (type !== null && !headers.has("content-type")) headers.set("content-type", type);
    }
    if ((method === "GET" || method === "HEAD") && source !== null) {
      throw new TypeError("Request with GET/HEAD method cannot have body");
    }
    // A Request's state (see Body), made by request.rs.
    const r = newRequestRecord(source, url, method, headers, redirect, cf, signal);
    if (isStream(source)) r.stream = source;
    return r;
  }
  const requests = host.requestClass({ init: requestInit });
  const Request = requests.Request;
  requestRecordOf = requests.recordOf;
  const newRequestRecord = requests.newRecord;
  Object.setPrototypeOf(Request.prototype, Body.prototype);
  const method = (value) => ({ value, writable: true, configurable: true });
  const getter = (o, name) => ({ get: Object.getOwnPropertyDescriptor(o, name).get, configurable: true });
  // The record of `this` in Request's own methods (a TypeError for anything else).
  const ownRecord = (o) => {
    const r = requestRecordOf(o);
    if (r === undefined) throw new TypeError("Illegal invocation: not a Request");
    return r;
  };
  Object.defineProperties(Request.prototype, {
    // Every request has a signal (one that never aborts unless the script gave one);
    // made on first read, so requests that no one asks do not pay for it.
    signal: getter({
      get signal() {
        const r = ownRecord(this);
        return (r.signal ??= new AbortController().signal);
      },
    }, "signal"),
    clone: method(function clone() {
      const r = ownRecord(this);
      return new Request(r.url, {
        method: r.method, headers: r.headers, redirect: r.redirect, cf: r.cf, signal: r.signal, body: Body.tee(this),
      });
    }),
  });
  // (For fetch(): the signal a script gave, without making one.)
  const givenSignal = (r) => requestRecordOf(r).signal;

  // Response is a native class (response.rs): its constructor asks this for what it
  // cannot decide alone (`extract`; a stream it hands to the Streams part itself) and
  // for `Headers` given as a record or sequence.
  // Its objects inherit the body methods from Body.
  const responses = host.responseClass({
    extract: extractBody,
    Headers: globalThis.Headers,
  });
  const Response = responses.Response;
  const makeResponse = responses.make;
  bodyOf = responses.bodyOf;
  Object.setPrototypeOf(Response.prototype, Body.prototype);
  // A response the host made (a fetch's or the cache's answer): its body stays with
  // the host until read.
  function fromHost(status, statusText, headers, handle, url, redirected, signal) {
    const source = handle === null ? null : new HostBody(handle, signal);
    return makeResponse(source, false, status, statusText, headers, url ?? "", redirected === true, false, null);
  }
  Object.defineProperties(Response, {
    // A network error: type "error", status 0, no headers, no body.
    error: method(function error() {
      return makeResponse(null, false, 0, "", new NativeHeaders(), "", false, true, null);
    }),
    redirect: method(function redirect(url, status = 302) {
      if (![301, 302, 303, 307, 308].includes(status)) {
        throw new RangeError(`redirect status ${status} is not one of 301, 302, 303, 307, 308`);
      }
      return new Response(null, { status, headers: { location: new URL(String(url)).href } });
    }),
    json: method(function json(data, init = {}) {
      init = init ?? {};
      const headers = new NativeHeaders(init.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new Response(JSON.stringify(data), { ...init, headers });
    }),
  });
  Object.defineProperty(Response.prototype, "clone", method(function clone() {
    const s = Body.tee(this);
    return responses.cloneOf(this, s, isStream(s));
  }));

  // HTMLRewriter (Workers API). lol_html runs in the host, which calls the handlers
  // with native token objects (token_objects.rs).
  let nextRewriter = 1;
  const AsyncFunctionPrototype = Object.getPrototypeOf(async function () {});
  class HTMLRewriter {
    #element; #document;
    constructor() { this.#element = []; this.#document = []; }
    on(selector, handlers) {
      selector = String(selector);
      host.checkSelector(selector);
      if (handlers === null || typeof handlers !== "object") throw new TypeError("on() expects a handlers object");
      this.#element.push([selector, handlers]);
      return this;
    }
    onDocument(handlers) {
      if (handlers === null || typeof handlers !== "object") throw new TypeError("onDocument() expects a handlers object");
      this.#document.push(handlers);
      return this;
    }
    transform(response) {
      if (!(response instanceof Response)) throw new TypeError("HTMLRewriter.transform() expects a Response");
      const headers = new NativeHeaders(response.headers);
      const init = { status: response.status, statusText: response.statusText, headers };
      const source = Body.take(response);
      if (source === null) return new Response(null, init);
      headers.delete("content-length");
      // fetch() hands bodies over as the origin sent them: a compressed page is
      // decoded for the rewrite and the result goes out uncompressed.
      const ce = (headers.get("content-encoding") ?? "").trim().toLowerCase();
      let coding = null;
      if (["gzip", "x-gzip", "deflate", "br", "zstd"].includes(ce)) {
        coding = ce;
        headers.delete("content-encoding");
      }
      const fn = (h, k) => typeof h[k] === "function";
      const plan = [
        this.#element.map(([s, h]) => [s, fn(h, "element"), fn(h, "comments"), fn(h, "text")]),
        this.#document.map((h) => [fn(h, "doctype"), fn(h, "comments"), fn(h, "text"), fn(h, "end")]),
      ];
      // With no `async` handler the JS thread parses the page itself and calls each
      // handler directly; an `async` one may wait on I/O mid-page, so the parser then
      // runs on a thread of its own and waits for it.
      const sync = (h, k) => typeof h[k] !== "function" || Object.getPrototypeOf(h[k]) !== AsyncFunctionPrototype;
      const here = this.#element.every(([, h]) => sync(h, "element") && sync(h, "comments") && sync(h, "text")) &&
        this.#document.every((h) => sync(h, "doctype") && sync(h, "comments") && sync(h, "text") && sync(h, "end"));
      const id = nextRewriter++;
      const handlers = [this.#element.map(([, h]) => h), this.#document.slice()];
      let body;
      if (isStream(source)) body = host.rewrite(id, pumpToHost(source), null, plan, coding, here, handlers);
      else if (source instanceof HostBody) body = host.rewrite(id, source.id, null, plan, coding, here, handlers);
      else body = host.rewrite(id, null, typeof source === "string" ? encoder.encode(source) : source, plan, coding, here, handlers);
      return new Response(new HostBody(body), init);
    }
  }
  globalThis.HTMLRewriter = HTMLRewriter;
  globalThis.Request = Request;
  globalThis.Response = Response;

  // A host call that an AbortSignal ends early: the promise rejects with the signal's
  // reason at once, and the host drops the call's answer when it comes.
  function abortable(signal, start) {
    if (signal === undefined || signal === null) return hostCall(start);
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let id;
      const onAbort = () => {
        if (pending.delete(id)) {
          host.cancelTimer(id);
          reject(signal.reason);
        }
      };
      hostCall((call) => { id = call; start(call); }).then(
        (v) => { signal.removeEventListener("abort", onAbort); resolve(v); },
        (e) => { signal.removeEventListener("abort", onAbort); reject(e); },
      );
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  // Workers' cache and image options among a request's `cf`, as JSON for the host (or null).
  function cacheOptions(cf) {
    if (cf === null || typeof cf !== "object") return null;
    const o = {};
    if (cf.cacheTtl !== undefined) o.cacheTtl = Math.trunc(Number(cf.cacheTtl));
    if (cf.cacheEverything !== undefined) o.cacheEverything = Boolean(cf.cacheEverything);
    if (cf.cacheKey !== undefined) o.cacheKey = String(cf.cacheKey);
    if (cf.cacheTtlByStatus !== undefined && cf.cacheTtlByStatus !== null) {
      o.cacheTtlByStatus = {};
      for (const [range, ttl] of Object.entries(cf.cacheTtlByStatus)) o.cacheTtlByStatus[range] = Math.trunc(Number(ttl));
    }
    if (cf.cacheTags !== undefined) o.cacheTags = Array.from(cf.cacheTags, String);
    // Image resizing: primitives as given, `gravity: { x, y }` as numbers.
    if (cf.image !== undefined && cf.image !== null && typeof cf.image === "object") {
      o.image = {};
      for (const [k, v] of Object.entries(cf.image)) {
        if (v === undefined || v === null) continue;
        o.image[k] = typeof v === "object" ? { x: Number(v.x), y: Number(v.y) }
          : typeof v === "number" || typeof v === "boolean" ? v : String(v);
      }
    }
    return Object.keys(o).length ? JSON.stringify(o) : null;
  }

  // Every fetch() but a Request sent on as it is (fetch.rs takes those).
  const slowFetch = async function fetch(input, init) {
    // fetch(request) sends that request as is (and uses up its body, as the spec says).
    const req = input instanceof Request && init === undefined ? input : new Request(input, init);
    const source = Body.take(req);
    let handle = source instanceof HostBody ? source.id : isStream(source) ? pumpToHost(source) : null;
    let bytes = source === null || handle !== null ? null : toBytes(source);
    let url = req.url;
    let method = req.method;
    let headers = req.headers;
    const signal = givenSignal(req);
    const cf = cacheOptions(req.cf);
    signal?.throwIfAborted();
    for (let hops = 0; ; hops++) {
      let parts;
      try {
        parts = await abortable(signal, (id) => host.fetch(id, url, method, headers, bytes, handle, null, cf));
      } catch (e) {
        if (signal?.aborted && e === signal.reason) throw e;
        // Workers reject failed fetches with a TypeError.
        throw new TypeError(e.message);
      }
      const status = parts[0], statusText = parts[1], responseHeaders = parts[2], body = parts[3];
      const location = status >= 301 && status <= 308 && status !== 304 && status !== 305 && status !== 306
        ? responseHeaders.get("location") : null;
      if (location === null || req.redirect === "manual") {
        return fromHost(status, statusText, responseHeaders, body, url, hops > 0, signal);
      }
      if (req.redirect === "error") throw new TypeError(`fetch: ${url} redirected and redirect is "error"`);
      if (hops === 20) throw new TypeError(`fetch: more than 20 redirects from ${req.url}`);
      url = new URL(location, url).href;
      // Fetch spec, HTTP-redirect fetch: 303 (and 301/302 after a POST) becomes a GET
      // without a body; other redirects resend the body, which a stream cannot be.
      if ((status === 303 && method !== "HEAD") || ((status === 301 || status === 302) && method === "POST")) {
        method = "GET";
        bytes = null;
        handle = null;
        headers = new NativeHeaders(headers);
        for (const h of ["content-type", "content-length", "content-encoding", "content-language", "content-location"]) headers.delete(h);
      } else if (handle !== null) {
        throw new TypeError(`fetch: cannot follow a ${status} redirect with a streamed request body`);
      }
    }
  };
  globalThis.fetch = host.fetchFunction({ fetch: slowFetch, HostBody, Response });

  // Turns the body of the Response a handler returned into what the host takes: null,
  // a string, a Uint8Array or a host body id (a number). The host reads the status and
  // headers from the Response's native state after this (a FixedLengthStream adds
  // its Content-Length here).
  Object.defineProperty(globalThis, "__outpostExport", {
    value(r) {
      const s = Body.take(r);
      if (s instanceof HostBody) return s.id;
      if (isStream(s)) {
        // A FixedLengthStream promises its length: the client gets it as Content-Length.
        const length = streams().fixedLength(s);
        if (length !== undefined && !r.headers.has("content-length")) r.headers.set("content-length", String(length));
        return pumpToHost(s);
      }
      return s;
    },
  });

  // The Service Worker entry point.
  globalThis.addEventListener = function addEventListener(type, listener) {
    if (type === "fetch") globalThis.__outpostListener = listener;
  };

  // Builds the request a handler receives and calls whichever entry point the script
  // has. Returns what the handler returned (a Response or a promise of one).
  // One ctx for every request: the host knows which request is running.
  const ctx = Object.freeze({
    waitUntil(promise) {
      Promise.resolve(promise).catch((e) => console.error("waitUntil promise rejected:", String(e)));
    },
    passThroughOnException() { host.passThrough(); },
  });
  Object.defineProperty(globalThis, "__outpostDispatch", {
    value(args) {
      // args: [the Request (request.rs made it), a cron trigger's [cron, time] or undefined]
      let result;
      if (args[1] !== undefined) {
        result = scheduled(args[1][0], args[1][1]);
      } else {
        result = call(args[0]);
      }
      // (The host watches a promise that is still pending after this run: instance.rs.)
      return result;
    },
  });
  // A cron trigger's run (Workers' ScheduledController); the host reads the 204 as
  // "the handler finished".
  function scheduled(cron, scheduledTime) {
    const handler = globalThis.__outpostHandler;
    if (!handler || typeof handler.scheduled !== "function") {
      throw new TypeError("this script has cron triggers but no scheduled handler (export default { async scheduled(controller, env, ctx) { … } })");
    }
    const controller = Object.freeze({ type: "scheduled", cron, scheduledTime, noRetry() {} });
    return Promise.resolve(handler.scheduled(controller, globalThis.__outpostEnv, ctx))
      .then(() => new Response(null, { status: 204 }));
  }
  function call(request) {
      const handler = globalThis.__outpostHandler;
      if (handler && typeof handler.fetch !== "function") {
        throw new TypeError("this script has no fetch handler (only scheduled): it cannot answer requests");
      }
      if (handler) return handler.fetch(request, globalThis.__outpostEnv, ctx);
      let response;
      const event = {
        type: "fetch",
        request,
        respondWith(r) { response = r; },
        waitUntil: ctx.waitUntil,
        passThroughOnException: ctx.passThroughOnException,
      };
      globalThis.__outpostListener(event);
      if (response === undefined) throw new TypeError("the fetch event listener did not call event.respondWith()");
      return response;
  }

  // What js/platform.js (run next: the Cache API, timers, scheduler, navigator,
  // performance, KV) needs from here. Timers share the host calls' ids: a timer's id
  // settles through __outpostSettle like a host call's.
  Object.defineProperty(globalThis, "__outpostPlatform", {
    configurable: true,
    value: Object.freeze({ host, hostCall, toBytes, encoder, decoder, timers, nextId: newCall, now: ioTime, fromHost }),
  });
})();
